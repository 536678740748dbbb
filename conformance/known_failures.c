/* known_failures.c — parser and matcher of the known-failure list (see
 * known_failures.h for the format). */
#include "known_failures.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t size, const char *source, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void set_err(char *err, size_t size, const char *source, unsigned line, const char *fmt, ...)
{
    if (!err || !size)
        return;
    int n = snprintf(err, size, "%s:%u: ", source, line);
    if (n < 0 || (size_t)n >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, size - (size_t)n, fmt, ap);
    va_end(ap);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static void free_entry(conf_kf_entry *e)
{
    free(e->driver);
    free(e->version);
    free(e->device);
    free(e->test);
    free(e->reason);
}

void conf_kf_free(conf_kf_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free_entry(&list->entries[i]);
    free(list->entries);
    free(list->source);
    memset(list, 0, sizeof(*list));
}

/* Read one field at *pos of line[0..len). Returns a malloc()ed string, or
 * NULL with *why set (NULL why: out of memory). */
static char *read_field(const char *line, size_t len, size_t *pos, const char **why)
{
    size_t i = *pos;
    char *out = malloc(len + 1);
    size_t n = 0;
    *why = NULL;
    if (!out)
        return NULL;
    if (line[i] == '"') {
        i++;
        for (;;) {
            if (i >= len) {
                *why = "unterminated quoted field";
                free(out);
                return NULL;
            }
            char ch = line[i++];
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (i >= len || (line[i] != '"' && line[i] != '\\')) {
                    *why = "in a quoted field, '\\' must be followed by '\"' or '\\'";
                    free(out);
                    return NULL;
                }
                ch = line[i++];
            }
            out[n++] = ch;
        }
        if (i < len && !is_blank(line[i])) {
            *why = "a quoted field must be followed by a space or a tab";
            free(out);
            return NULL;
        }
    } else {
        while (i < len && !is_blank(line[i])) {
            if (line[i] == '"') {
                *why = "a '\"' inside an unquoted field";
                free(out);
                return NULL;
            }
            out[n++] = line[i++];
        }
    }
    out[n] = '\0';
    if (n == 0) {
        *why = "empty field";
        free(out);
        return NULL;
    }
    *pos = i;
    return out;
}

static const char *const field_names[] = {"driver", "version", "device", "test"};

/* Parse one non-comment line into *e. 0, -1 (error in err), -2 (memory). */
static int parse_line(const char *line, size_t len, unsigned number, const char *source, conf_kf_entry *e,
                      char *err, size_t err_size)
{
    size_t pos = 0;
    char **fields[4] = {&e->driver, &e->version, &e->device, &e->test};
    memset(e, 0, sizeof(*e));
    e->line = number;
    for (int f = 0; f < 4; f++) {
        while (pos < len && is_blank(line[pos]))
            pos++;
        if (pos >= len) {
            set_err(err, err_size, source, number,
                    "missing the %s field (expected DRIVER VERSION DEVICE TEST [REASON])", field_names[f]);
            free_entry(e);
            return -1;
        }
        const char *why;
        *fields[f] = read_field(line, len, &pos, &why);
        if (!*fields[f]) {
            free_entry(e);
            if (!why)
                return -2;
            set_err(err, err_size, source, number, "%s field: %s", field_names[f], why);
            return -1;
        }
    }
    while (pos < len && is_blank(line[pos]))
        pos++;
    size_t end = len;
    while (end > pos && is_blank(line[end - 1]))
        end--;
    e->reason = malloc(end - pos + 1);
    if (!e->reason) {
        free_entry(e);
        return -2;
    }
    memcpy(e->reason, line + pos, end - pos);
    e->reason[end - pos] = '\0';
    return 0;
}

int conf_kf_parse(const char *text, size_t size, const char *source, conf_kf_list *out, char *err,
                  size_t err_size)
{
    conf_kf_list list = {0};
    size_t capacity = 0;
    unsigned number = 0;
    int rc = 0;
    if (!source)
        source = "known-failures";
    memset(out, 0, sizeof(*out));
    if (err && err_size)
        err[0] = '\0';
    if (!text && size) {
        set_err(err, err_size, source, 0, "no text");
        return -1;
    }
    const char *nul = size ? memchr(text, '\0', size) : NULL;
    if (nul) {
        unsigned line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        set_err(err, err_size, source, line, "a NUL byte (this is not a text file)");
        return -1;
    }
    size_t start = 0;
    while (start < size) {
        const char *nl = memchr(text + start, '\n', size - start);
        size_t len = nl ? (size_t)(nl - (text + start)) : size - start;
        const char *line = text + start;
        start += len + (nl ? 1 : 0);
        number++;
        if (len > CONF_KF_MAX_LINE) {
            set_err(err, err_size, source, number, "line longer than %d bytes", CONF_KF_MAX_LINE);
            rc = -1;
            goto out;
        }
        size_t first = 0;
        while (first < len && is_blank(line[first]))
            first++;
        if (first == len || line[first] == '#')
            continue;
        if (list.count == capacity) {
            size_t grown = capacity ? capacity * 2 : 16;
            conf_kf_entry *bigger = realloc(list.entries, grown * sizeof(*bigger));
            if (!bigger) {
                rc = -2;
                goto out;
            }
            list.entries = bigger;
            capacity = grown;
        }
        rc = parse_line(line, len, number, source, &list.entries[list.count], err, err_size);
        if (rc)
            goto out;
        list.count++;
    }
    list.source = strdup(source);
    if (!list.source)
        rc = -2;
out:
    if (rc) {
        if (rc == -2)
            set_err(err, err_size, source, number, "out of memory");
        conf_kf_free(&list);
        return rc;
    }
    *out = list;
    return 0;
}

const conf_kf_entry *conf_kf_match(const conf_kf_list *list, const char *driver, const char *version,
                                   const char *device, const char *test)
{
    for (size_t i = 0; list && i < list->count; i++) {
        const conf_kf_entry *e = &list->entries[i];
        if (fnmatch(e->driver, driver, 0) == 0 && fnmatch(e->version, version, 0) == 0 &&
            fnmatch(e->device, device, 0) == 0 && fnmatch(e->test, test, 0) == 0)
            return e;
    }
    return NULL;
}
