/* fpga_json.h — strict JSON reading shared by the fpga driver's two parsers
 * (fpga_image.c: image descriptions; fpga_config.c: the emulator's card
 * file). Pure functions over a text and its name: no file access, no
 * environment, so that the fuzz target can link them alone.
 *
 * Every error message has the form "SOURCE: PATH: what", where PATH is a
 * JSONPath to the value at fault ("$.kernels[0].args[2].bank"), or
 * "SOURCE: not JSON: what" when the text does not parse. */
#ifndef FPGA_JSON_H
#define FPGA_JSON_H

#include <accel/accel_icd.h>

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most bytes a description or card file may have. */
#define FPGA_JSON_MAX_SIZE (1u << 20)

typedef struct fpga_json_ctx {
    const char *source; /* the file name, for messages */
    char *error;        /* receives the message */
    size_t error_size;
} fpga_json_ctx;

/* Write "SOURCE: PATH: message" into ctx->error; returns
 * ACCEL_ERROR_INVALID_ARGUMENT. */
accel_result fpga__json_fail(const fpga_json_ctx *ctx, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Parse a whole text strictly (RFC 8259: no comments, no trailing data, no
 * NUL byte, nesting at most 32 deep). The top level must be an object. On
 * success *root is a new reference. */
accel_result fpga__json_parse(const fpga_json_ctx *ctx, const char *text, size_t size, json_object **root);

/* Reject members of obj that are not listed in `known` (NULL-terminated). */
accel_result fpga__json_known_keys(const fpga_json_ctx *ctx, json_object *obj, const char *path,
                                   const char *const *known);

/* obj.key as an array of min..max elements (required). */
accel_result fpga__json_get_array(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                  size_t min, size_t max, json_object **out);
/* obj.key as a string or an integer. A missing member is an error when
 * `required`; otherwise the output is left as it was and the call succeeds
 * (*present, when not NULL, tells which).
 *
 * A string must be non-empty, without NUL bytes, at most max_len bytes. */
accel_result fpga__json_get_string(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                   bool required, size_t max_len, const char **out, bool *present);
/* An integer (no fraction, no exponent) in [min, max]. */
accel_result fpga__json_get_uint(const fpga_json_ctx *ctx, json_object *obj, const char *path, const char *key,
                                 bool required, uint64_t min, uint64_t max, uint64_t *out, bool *present);
/* An element of an array that must be an object. */
accel_result fpga__json_element_object(const fpga_json_ctx *ctx, json_object *array, size_t index,
                                       const char *path, json_object **out);

/* Whether s is 1..max characters of [A-Za-z0-9_.-]. */
bool fpga__json_plain_name(const char *s, size_t max);
/* Whether s is a C identifier of 1..max characters. */
bool fpga__json_identifier(const char *s, size_t max);

/* snprintf that never fails the caller: truncates. */
void fpga__json_fmt(char *buf, size_t size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
