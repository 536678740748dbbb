/* fpga_image.c — the FPGA image description parser (fpga_image.h).
 *
 *   {
 *     "image_version": 1,
 *     "name": "vadd",
 *     "library": "libvadd_image.so",      (relative to this file's directory)
 *     "reconfigure_ms": 20,               (optional; else the card's time)
 *     "kernels": [
 *       {"name": "vadd", "symbol": "vadd",  (symbol optional: defaults to name)
 *        "args": [{"name": "a", "kind": "memory", "bank": "bank0"},
 *                 {"name": "n", "kind": "u32"}]}
 *     ]
 *   }
 *
 * Strict: unknown members are errors (a newer format raises image_version),
 * names are checked, bank names must be the card's, "host" or "any".
 */
#include "fpga_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpga_json.h"

static const struct {
    const char *name;
    accel_arg_kind kind;
} kinds[] = {
    {"memory", ACCEL_ARG_MEMORY}, {"u32", ACCEL_ARG_U32}, {"i32", ACCEL_ARG_I32}, {"u64", ACCEL_ARG_U64},
    {"i64", ACCEL_ARG_I64},       {"f32", ACCEL_ARG_F32}, {"f64", ACCEL_ARG_F64},
};

const char *fpga__image_kind_name(accel_arg_kind kind)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].kind == kind)
            return kinds[i].name;
    return NULL;
}

void fpga__image_free(fpga_image_desc *d)
{
    if (!d)
        return;
    free(d->library);
    free(d->library_path);
    free(d->kernels);
    free(d);
}

const fpga_image_kernel *fpga__image_find(const fpga_image_desc *d, const char *name, uint32_t *index)
{
    for (uint32_t i = 0; i < d->kernel_count; i++) {
        if (strcmp(d->kernels[i].name, name) == 0) {
            if (index)
                *index = i;
            return &d->kernels[i];
        }
    }
    return NULL;
}

/* dir(source)/library, or library when it is absolute. */
static char *resolve_library(const char *source, const char *library)
{
    if (library[0] == '/')
        return strdup(library);
    const char *slash = strrchr(source, '/');
    size_t dir_len = slash ? (size_t)(slash - source) : 1;
    const char *dir = slash ? source : ".";
    if (slash && dir_len == 0)
        dir_len = 1; /* "/x.json": the root */
    size_t len = dir_len + 1 + strlen(library) + 1;
    char *p = malloc(len);
    if (!p)
        return NULL;
    memcpy(p, dir, dir_len);
    p[dir_len] = '/';
    strcpy(p + dir_len + 1, library);
    return p;
}

typedef struct banks {
    const char *const *names;
    uint32_t count;
} banks;

static accel_result parse_arg(const fpga_json_ctx *ctx, json_object *obj, const char *path, const banks *b,
                              fpga_image_arg *arg)
{
    static const char *const known[] = {"name", "kind", "bank", NULL};
    accel_result r;
    const char *s;
    char where[256];
    if ((r = fpga__json_known_keys(ctx, obj, path, known)))
        return r;
    if ((r = fpga__json_get_string(ctx, obj, path, "name", true, FPGA_IMAGE_NAME_MAX, &s, NULL)))
        return r;
    fpga__json_fmt(where, sizeof(where), "%s.name", path);
    if (!fpga__json_identifier(s, FPGA_IMAGE_NAME_MAX))
        return fpga__json_fail(ctx, where, "\"%s\" is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", s);
    strcpy(arg->name, s);

    if ((r = fpga__json_get_string(ctx, obj, path, "kind", true, 16, &s, NULL)))
        return r;
    size_t k = 0;
    while (k < sizeof(kinds) / sizeof(kinds[0]) && strcmp(kinds[k].name, s) != 0)
        k++;
    if (k == sizeof(kinds) / sizeof(kinds[0])) {
        fpga__json_fmt(where, sizeof(where), "%s.kind", path);
        return fpga__json_fail(ctx, where, "unknown kind \"%s\" (memory, u32, i32, u64, i64, f32 or f64)", s);
    }
    arg->kind = kinds[k].kind;
    arg->wire = FPGA_WIRE_ANY;
    arg->bank = 0;

    bool present;
    if ((r = fpga__json_get_string(ctx, obj, path, "bank", false, 64, &s, &present)))
        return r;
    if (!present)
        return ACCEL_SUCCESS;
    fpga__json_fmt(where, sizeof(where), "%s.bank", path);
    if (arg->kind != ACCEL_ARG_MEMORY)
        return fpga__json_fail(ctx, where, "only memory arguments are wired to a bank");
    if (strcmp(s, "any") == 0)
        return ACCEL_SUCCESS;
    if (strcmp(s, "host") == 0) {
        arg->wire = FPGA_WIRE_HOST;
        return ACCEL_SUCCESS;
    }
    for (uint32_t i = 0; i < b->count; i++) {
        if (strcmp(b->names[i], s) == 0) {
            arg->wire = FPGA_WIRE_BANK;
            arg->bank = i;
            return ACCEL_SUCCESS;
        }
    }
    char list[512] = "";
    size_t n = 0;
    for (uint32_t i = 0; i < b->count && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s, ", b->names[i]);
    return fpga__json_fail(ctx, where, "unknown bank \"%s\" (the card has %shost; or any)", s, list);
}

static accel_result parse_kernel(const fpga_json_ctx *ctx, json_object *obj, const char *path, const banks *b,
                                 fpga_image_kernel *kernel)
{
    static const char *const known[] = {"name", "symbol", "args", NULL};
    accel_result r;
    const char *s;
    char where[256];
    if ((r = fpga__json_known_keys(ctx, obj, path, known)))
        return r;
    if ((r = fpga__json_get_string(ctx, obj, path, "name", true, ACCEL_MAX_FUNCTION_NAME - 1, &s, NULL)))
        return r;
    if (!fpga__json_plain_name(s, ACCEL_MAX_FUNCTION_NAME - 1)) {
        fpga__json_fmt(where, sizeof(where), "%s.name", path);
        return fpga__json_fail(ctx, where, "\"%s\" is not a function name (A-Z a-z 0-9 _ - .)", s);
    }
    strcpy(kernel->name, s);

    bool present;
    if ((r = fpga__json_get_string(ctx, obj, path, "symbol", false, FPGA_IMAGE_SYMBOL_MAX, &s, &present)))
        return r;
    if (!present) {
        if (!fpga__json_identifier(kernel->name, FPGA_IMAGE_SYMBOL_MAX))
            return fpga__json_fail(ctx, path, "\"symbol\" is missing, and the name \"%s\" is not a C identifier",
                                   kernel->name);
        s = kernel->name;
    } else if (!fpga__json_identifier(s, FPGA_IMAGE_SYMBOL_MAX)) {
        fpga__json_fmt(where, sizeof(where), "%s.symbol", path);
        return fpga__json_fail(ctx, where, "\"%s\" is not a C identifier", s);
    }
    strcpy(kernel->symbol, s);

    json_object *args;
    if ((r = fpga__json_get_array(ctx, obj, path, "args", 0, ACCEL_MAX_ARGS, &args)))
        return r;
    kernel->arg_count = (uint32_t)json_object_array_length(args);
    for (uint32_t i = 0; i < kernel->arg_count; i++) {
        json_object *a;
        fpga__json_fmt(where, sizeof(where), "%s.args[%u]", path, i);
        if ((r = fpga__json_element_object(ctx, args, i, where, &a)) ||
            (r = parse_arg(ctx, a, where, b, &kernel->args[i])))
            return r;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(kernel->args[j].name, kernel->args[i].name) == 0)
                return fpga__json_fail(ctx, where, "a second argument named \"%s\"", kernel->args[i].name);
    }
    return ACCEL_SUCCESS;
}

accel_result fpga__image_parse(const char *text, size_t size, const char *source, const char *const *bank_names,
                               uint32_t bank_count, fpga_image_desc **out, char *error, size_t error_size)
{
    static const char *const known[] = {"image_version", "name", "library", "reconfigure_ms", "kernels", NULL};
    fpga_json_ctx ctx = {source ? source : "(image)", error, error_size};
    banks b = {bank_names, bank_names ? bank_count : 0};
    json_object *root = NULL, *kernels;
    const char *s;
    uint64_t v;
    char where[128];
    if (error && error_size)
        error[0] = '\0';
    *out = NULL;

    accel_result r = fpga__json_parse(&ctx, text, size, &root);
    if (r)
        return r;
    fpga_image_desc *d = calloc(1, sizeof(*d));
    if (!d) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    if ((r = fpga__json_known_keys(&ctx, root, "$", known)))
        goto out;
    if ((r = fpga__json_get_uint(&ctx, root, "$", "image_version", true, 0, UINT32_MAX, &v, NULL)))
        goto out;
    if (v != FPGA_IMAGE_VERSION) {
        r = fpga__json_fail(&ctx, "$.image_version", "version %llu is not supported (this driver reads %d)",
                            (unsigned long long)v, FPGA_IMAGE_VERSION);
        goto out;
    }
    if ((r = fpga__json_get_string(&ctx, root, "$", "name", true, FPGA_IMAGE_NAME_MAX, &s, NULL)))
        goto out;
    if (!fpga__json_plain_name(s, FPGA_IMAGE_NAME_MAX)) {
        r = fpga__json_fail(&ctx, "$.name", "\"%s\" must be characters of A-Z a-z 0-9 _ - .", s);
        goto out;
    }
    strcpy(d->name, s);
    if ((r = fpga__json_get_string(&ctx, root, "$", "library", true, FPGA_IMAGE_LIBRARY_MAX, &s, NULL)))
        goto out;
    if (!(d->library = strdup(s)) || !(d->library_path = resolve_library(ctx.source, s))) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    if ((r = fpga__json_get_uint(&ctx, root, "$", "reconfigure_ms", false, 0, FPGA_IMAGE_MAX_RECONFIGURE_MS, &v,
                                 &d->has_reconfigure)))
        goto out;
    if (d->has_reconfigure)
        d->reconfigure_ns = v * 1000000u;

    if ((r = fpga__json_get_array(&ctx, root, "$", "kernels", 1, FPGA_IMAGE_MAX_KERNELS, &kernels)))
        goto out;
    d->kernel_count = (uint32_t)json_object_array_length(kernels);
    if (!(d->kernels = calloc(d->kernel_count, sizeof(*d->kernels)))) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    for (uint32_t i = 0; i < d->kernel_count; i++) {
        json_object *k;
        fpga__json_fmt(where, sizeof(where), "$.kernels[%u]", i);
        if ((r = fpga__json_element_object(&ctx, kernels, i, where, &k)) ||
            (r = parse_kernel(&ctx, k, where, &b, &d->kernels[i])))
            goto out;
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(d->kernels[j].name, d->kernels[i].name) == 0) {
                r = fpga__json_fail(&ctx, where, "a second kernel named \"%s\"", d->kernels[i].name);
                goto out;
            }
        }
    }
    r = ACCEL_SUCCESS;
out:
    json_object_put(root);
    if (r) {
        fpga__image_free(d);
        if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            fpga__json_fmt(error, error_size, "%s: out of host memory", ctx.source);
        return r;
    }
    *out = d;
    return ACCEL_SUCCESS;
}
