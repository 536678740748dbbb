/* cpu_metadata.c — parse kernel metadata text (see cpu_metadata.h and
 * docs/programs.md for the format).
 *
 * Grammar, one declaration per line:
 *   line   := ws* [ decl ws* ] [ '#' any* ]
 *   decl   := name ws* '(' ws* [ kind ws* ( ',' ws* kind ws* )* ] ')'
 *   name   := [A-Za-z_][A-Za-z0-9_]*        at most 127 characters
 *   kind   := memory | u32 | i32 | u64 | i64 | f32 | f64
 *   ws     := ' ' | '\t' | '\r'
 * Lines end with '\n'; the last one may end at the end of the text. */
#include "cpu_metadata.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *word;
    accel_arg_kind kind;
} kinds[] = {
    {"memory", ACCEL_ARG_MEMORY}, {"u32", ACCEL_ARG_U32}, {"i32", ACCEL_ARG_I32}, {"u64", ACCEL_ARG_U64},
    {"i64", ACCEL_ARG_I64},       {"f32", ACCEL_ARG_F32}, {"f64", ACCEL_ARG_F64},
};
#define KIND_COUNT (sizeof(kinds) / sizeof(kinds[0]))

const char *cpu__metadata_kind_name(accel_arg_kind kind)
{
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (kinds[i].kind == kind)
            return kinds[i].word;
    return NULL;
}

typedef struct parser {
    const char *p, *end;
    const char *line_start;
    uint32_t line;
    char *error;
    size_t error_size;
} parser;

static void fail(parser *ps, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(parser *ps, const char *at, const char *fmt, ...)
{
    if (!ps->error_size)
        return;
    int n = snprintf(ps->error, ps->error_size, "line %u, column %zu: ", ps->line,
                     (size_t)(at - ps->line_start) + 1);
    if (n < 0 || (size_t)n >= ps->error_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->error + n, ps->error_size - (size_t)n, fmt, ap);
    va_end(ap);
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static bool is_ident_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_ident(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void skip_ws(parser *ps, const char *eol)
{
    while (ps->p < eol && is_ws(*ps->p))
        ps->p++;
}

/* The text shown for an unexpected character: printable ASCII as is,
 * anything else as a hex byte. */
static const char *show(const char *at, const char *eol, char buf[8])
{
    if (at >= eol)
        return "end of line";
    unsigned char c = (unsigned char)*at;
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, 8, "'%c'", c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

/* Parse the declaration in [ps->p, eol) into *sig; false on an error. */
static bool parse_decl(parser *ps, const char *eol, cpu_kernel_sig *sig)
{
    char shown[8];
    const char *name = ps->p;
    if (!is_ident_start(*name)) {
        fail(ps, name, "expected a kernel name, found %s", show(name, eol, shown));
        return false;
    }
    while (ps->p < eol && is_ident(*ps->p))
        ps->p++;
    size_t len = (size_t)(ps->p - name);
    if (len >= sizeof(sig->name)) {
        fail(ps, name, "kernel name longer than %d characters", ACCEL_MAX_FUNCTION_NAME - 1);
        return false;
    }
    memcpy(sig->name, name, len);
    sig->name[len] = '\0';
    sig->line = ps->line;
    sig->arg_count = 0;
    skip_ws(ps, eol);
    if (ps->p >= eol || *ps->p != '(') {
        fail(ps, ps->p, "expected '(' after the kernel name, found %s", show(ps->p, eol, shown));
        return false;
    }
    ps->p++;
    skip_ws(ps, eol);
    if (ps->p < eol && *ps->p == ')') {
        ps->p++;
        return true;
    }
    for (;;) {
        const char *word = ps->p;
        while (ps->p < eol && is_ident(*ps->p))
            ps->p++;
        size_t wlen = (size_t)(ps->p - word);
        if (wlen == 0) {
            fail(ps, word, "expected an argument kind (memory, u32, i32, u64, i64, f32 or f64), found %s",
                 show(word, eol, shown));
            return false;
        }
        size_t k = 0;
        while (k < KIND_COUNT && !(strlen(kinds[k].word) == wlen && memcmp(kinds[k].word, word, wlen) == 0))
            k++;
        if (k == KIND_COUNT) {
            fail(ps, word, "unknown argument kind '%.*s' (memory, u32, i32, u64, i64, f32 or f64)",
                 wlen > 32 ? 32 : (int)wlen, word);
            return false;
        }
        if (sig->arg_count == ACCEL_MAX_ARGS) {
            fail(ps, word, "kernel '%s' has more than %d arguments", sig->name, ACCEL_MAX_ARGS);
            return false;
        }
        sig->arg_kinds[sig->arg_count++] = kinds[k].kind;
        skip_ws(ps, eol);
        if (ps->p < eol && *ps->p == ')') {
            ps->p++;
            return true;
        }
        if (ps->p >= eol || *ps->p != ',') {
            fail(ps, ps->p, "expected ',' or ')' after an argument kind, found %s", show(ps->p, eol, shown));
            return false;
        }
        ps->p++;
        skip_ws(ps, eol);
    }
}

/* Sort key for the duplicate check: by name, then by position. */
static int cmp_sig_ptr(const void *a, const void *b)
{
    const cpu_kernel_sig *x = *(const cpu_kernel_sig *const *)a, *y = *(const cpu_kernel_sig *const *)b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x < y ? -1 : x > y;
}

accel_result cpu__metadata_parse(const char *text, size_t size, cpu_kernel_sig **sigs, size_t *count,
                                 char *error, size_t error_size)
{
    parser ps = {.p = text,
                 .end = text + size,
                 .line_start = text,
                 .line = 1,
                 .error = error,
                 .error_size = error_size};
    cpu_kernel_sig *out = NULL;
    size_t n = 0, cap = 0;
    *sigs = NULL;
    *count = 0;
    if (error_size)
        error[0] = '\0';
    if (!text && size)
        return ACCEL_ERROR_INVALID_ARGUMENT;

    while (ps.p < ps.end) {
        const char *eol = memchr(ps.p, '\n', (size_t)(ps.end - ps.p));
        if (!eol)
            eol = ps.end;
        const char *nul = memchr(ps.p, '\0', (size_t)(eol - ps.p));
        if (nul) {
            fail(&ps, nul, "NUL byte in the metadata");
            goto invalid;
        }
        skip_ws(&ps, eol);
        if (ps.p < eol && *ps.p != '#') {
            if (n == CPU_METADATA_MAX_KERNELS) {
                fail(&ps, ps.p, "more than %d kernels", CPU_METADATA_MAX_KERNELS);
                goto invalid;
            }
            if (n == cap) {
                size_t grown = cap ? 2 * cap : 8;
                cpu_kernel_sig *bigger = realloc(out, grown * sizeof(*out));
                if (!bigger)
                    goto oom;
                out = bigger;
                cap = grown;
            }
            if (!parse_decl(&ps, eol, &out[n]))
                goto invalid;
            n++;
            skip_ws(&ps, eol);
            if (ps.p < eol && *ps.p != '#') {
                char shown[8];
                fail(&ps, ps.p, "unexpected %s after the declaration", show(ps.p, eol, shown));
                goto invalid;
            }
        }
        ps.p = eol < ps.end ? eol + 1 : eol;
        ps.line_start = ps.p;
        if (eol < ps.end)
            ps.line++;
    }
    if (n == 0) {
        fail(&ps, ps.p, "no kernel declared");
        goto invalid;
    }

    /* Names must be unique; report the second declaration of the name
     * that repeats first in the text. */
    if (n > 1) {
        const cpu_kernel_sig **order = malloc(n * sizeof(*order));
        if (!order)
            goto oom;
        for (size_t i = 0; i < n; i++)
            order[i] = &out[i];
        qsort(order, n, sizeof(*order), cmp_sig_ptr);
        const cpu_kernel_sig *dup = NULL, *first = NULL;
        for (size_t i = 1; i < n; i++)
            if (strcmp(order[i - 1]->name, order[i]->name) == 0 && (!dup || order[i] < dup)) {
                dup = order[i];
                first = order[i - 1];
            }
        free(order);
        if (dup) {
            /* Point at the repeated name. Leading whitespace is not
             * recorded, so find it again in its line. */
            ps.line = dup->line;
            const char *q = text;
            for (uint32_t l = 1; l < dup->line; l++)
                q = (const char *)memchr(q, '\n', (size_t)(ps.end - q)) + 1;
            ps.line_start = q;
            while (is_ws(*q))
                q++;
            fail(&ps, q, "kernel '%s' declared again (first on line %u)", dup->name, first->line);
            goto invalid;
        }
    }
    *sigs = out;
    *count = n;
    return ACCEL_SUCCESS;

oom:
    free(out);
    if (error_size)
        snprintf(error, error_size, "out of memory");
    return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
invalid:
    free(out);
    return ACCEL_ERROR_INVALID_ARGUMENT;
}
