/* fpga_json.c — strict JSON reading for the fpga driver's parsers
 * (fpga_json.h). */
#include "fpga_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FPGA_JSON_MAX_DEPTH 32

void fpga__json_fmt(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0)
        buf[0] = '\0';
}

accel_result fpga__json_fail(const fpga_json_ctx *ctx, const char *path, const char *fmt, ...)
{
    if (!ctx->error || !ctx->error_size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (n < 0)
        what[0] = '\0';
    fpga__json_fmt(ctx->error, ctx->error_size, "%s: %s: %s", ctx->source, path, what);
    return ACCEL_ERROR_INVALID_ARGUMENT;
}

static const char *type_name(json_object *o)
{
    return json_type_to_name(json_object_get_type(o));
}

accel_result fpga__json_parse(const fpga_json_ctx *ctx, const char *text, size_t size, json_object **root)
{
    *root = NULL;
    if (size > FPGA_JSON_MAX_SIZE)
        return fpga__json_fail(ctx, "$", "the file is %zu bytes; the limit is %u", size, FPGA_JSON_MAX_SIZE);
    if (size && memchr(text, '\0', size)) {
        fpga__json_fmt(ctx->error, ctx->error_size, "%s: not JSON: the text contains a NUL byte", ctx->source);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    json_tokener *tok = json_tokener_new_ex(FPGA_JSON_MAX_DEPTH);
    if (!tok)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex(tok, size ? text : "", (int)size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A number at the very end is complete only at the end of input. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof) {
        fpga__json_fmt(ctx->error, ctx->error_size, "%s: not JSON: unexpected end of the text", ctx->source);
        json_object_put(obj);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (jerr != json_tokener_success) {
        fpga__json_fmt(ctx->error, ctx->error_size, "%s: not JSON: %s near byte %zu", ctx->source,
                       json_tokener_error_desc(jerr), end);
        json_object_put(obj);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    for (; end < size; end++) {
        char c = text[end];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            fpga__json_fmt(ctx->error, ctx->error_size, "%s: not JSON: trailing data at byte %zu", ctx->source,
                           end);
            json_object_put(obj);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    if (!json_object_is_type(obj, json_type_object)) {
        accel_result r = fpga__json_fail(ctx, "$", "the top level must be an object, not %s", type_name(obj));
        json_object_put(obj);
        return r;
    }
    *root = obj;
    return ACCEL_SUCCESS;
}

accel_result fpga__json_known_keys(const fpga_json_ctx *ctx, json_object *obj, const char *path,
                                   const char *const *known)
{
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (!known[i]) {
            char list[256] = "";
            size_t n = 0;
            for (i = 0; known[i] && n < sizeof(list); i++)
                n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", known[i]);
            return fpga__json_fail(ctx, path, "unknown member \"%.64s\" (expected %s)", key, list);
        }
    }
    return ACCEL_SUCCESS;
}

/* obj's member `key`, of the given type (a_type names it in the message),
 * into *v, and its path into where (WHERE_SIZE bytes): ACCEL_SUCCESS with
 * *v NULL when it is absent and not required. *present (may be NULL)
 * becomes false; the caller sets it once the value passed its checks. */
#define WHERE_SIZE 256
static accel_result member(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                           bool required, json_type type, const char *a_type, char *where, json_object **v,
                           bool *present)
{
    if (present)
        *present = false;
    fpga__json_fmt(where, WHERE_SIZE, "%s.%s", path, key);
    if (!json_object_object_get_ex(obj, key, v)) {
        *v = NULL;
        return required ? fpga__json_fail(ctx, path, "\"%s\" is missing", key) : ACCEL_SUCCESS;
    }
    if (!json_object_is_type(*v, type))
        return fpga__json_fail(ctx, where, "must be %s, not %s", a_type, type_name(*v));
    return ACCEL_SUCCESS;
}

accel_result fpga__json_get_array(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                  size_t min, size_t max, json_object **out)
{
    char where[WHERE_SIZE];
    json_object *v;
    accel_result r = member(ctx, obj, path, key, true, json_type_array, "an array", where, &v, NULL);
    if (r != ACCEL_SUCCESS)
        return r;
    size_t n = json_object_array_length(v);
    if (n < min || n > max)
        return fpga__json_fail(ctx, where, "has %zu elements; expected %zu to %zu", n, min, max);
    *out = v;
    return ACCEL_SUCCESS;
}

accel_result fpga__json_get_string(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                   bool required, size_t max_len, const char **out, bool *present)
{
    char where[WHERE_SIZE];
    json_object *v;
    accel_result r = member(ctx, obj, path, key, required, json_type_string, "a string", where, &v, present);
    if (r != ACCEL_SUCCESS || !v)
        return r;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len)
        return fpga__json_fail(ctx, where, "contains a NUL character");
    if (len == 0)
        return fpga__json_fail(ctx, where, "is empty");
    if (len > max_len)
        return fpga__json_fail(ctx, where, "is %zu bytes long; the limit is %zu", len, max_len);
    *out = s;
    if (present)
        *present = true;
    return ACCEL_SUCCESS;
}

accel_result fpga__json_get_uint(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                 bool required, uint64_t min, uint64_t max, uint64_t *out, bool *present)
{
    char where[WHERE_SIZE];
    json_object *v;
    accel_result r = member(ctx, obj, path, key, required, json_type_int, "an integer", where, &v, present);
    if (r != ACCEL_SUCCESS || !v)
        return r;
    /* json-c keeps integers above INT64_MAX as unsigned; negative ones
     * read as 0 through get_uint64, so look at the signed value first. */
    int64_t sv = json_object_get_int64(v);
    uint64_t uv = json_object_get_uint64(v);
    if (sv < 0 || uv < min || uv > max)
        return fpga__json_fail(ctx, where, "must be between %llu and %llu", (unsigned long long)min,
                               (unsigned long long)max);
    *out = uv;
    if (present)
        *present = true;
    return ACCEL_SUCCESS;
}

accel_result fpga__json_element_object(const fpga_json_ctx *ctx, json_object *array, size_t index,
                                       const char *path, json_object **out)
{
    json_object *e = json_object_array_get_idx(array, index);
    if (!json_object_is_type(e, json_type_object))
        return fpga__json_fail(ctx, path, "must be an object, not %s", type_name(e));
    *out = e;
    return ACCEL_SUCCESS;
}

bool fpga__json_plain_name(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return false;
    }
    return n >= 1 && n <= max;
}

bool fpga__json_identifier(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(n > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return n >= 1 && n <= max;
}
