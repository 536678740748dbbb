/* pipeline.c — the pipeline file parser (docs/pipelines.md) and the
 * accel_pipeline_* calls. The format is strict: unknown keys, wrong types and
 * every inconsistency between stages and buffers are errors that name the
 * file and the JSON path of the offending value. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "os.h"
#include "placement.h"
#include "util.h"

#define M ACCEL_ARG_MEMORY
static const accel__standard_function standard_functions[] = {
    {"accel.noop", 0, {0}, {0}, {NULL}, {0}},
    {"accel.copy", 2, {M, M}, {false, true}, {"src", "dst"}, {0, 0}},
    {"accel.fill", 2, {M, ACCEL_ARG_U32}, {true, false}, {"dst", "pattern"}, {0, 0}},
    {"crc32c", 2, {M, M}, {false, true}, {"src", "result"}, {0, 4}},
    {"sha256", 2, {M, M}, {false, true}, {"src", "result"}, {0, 32}},
    {"zlib.deflate", 4, {M, M, M, ACCEL_ARG_I32}, {false, true, true, false}, {"src", "dst", "out_size", "level"}, {0, 0, 8, 0}},
    {"zlib.inflate", 3, {M, M, M}, {false, true, true}, {"src", "dst", "out_size"}, {0, 0, 8}},
    /* The stream forms: state is read and written (a stage writes it). */
    {"crc32c.stream", 2, {M, M}, {false, true}, {"src", "state"}, {0, 4}},
    {"sha256.stream", 4, {M, M, M, ACCEL_ARG_U32}, {false, true, true, false}, {"src", "state", "result", "final"},
     {0, 112, 0, 0}},
    {"zlib.deflate.stream", 6, {M, M, M, ACCEL_ARG_I32, M, ACCEL_ARG_U32}, {false, true, true, false, true, false},
     {"src", "dst", "out_size", "level", "state", "final"}, {0, 0, 8, 0, 32800, 0}},
    {"zlib.inflate.stream", 4, {M, M, M, M}, {false, true, true, true}, {"src", "dst", "progress", "state"},
     {0, 0, 24, 33984}},
};
#undef M

const accel__standard_function *accel__standard_function_find(const char *name)
{
    for (size_t i = 0; i < sizeof(standard_functions) / sizeof(standard_functions[0]); i++)
        if (strcmp(standard_functions[i].name, name) == 0)
            return &standard_functions[i];
    return NULL;
}

static const struct {
    const char *name;
    accel_program_format format;
} program_formats[] = {
    {"opencl-c", ACCEL_PROGRAM_FORMAT_OPENCL_C},
    {"spirv", ACCEL_PROGRAM_FORMAT_SPIRV},
    {"elf", ACCEL_PROGRAM_FORMAT_ELF},
    {"fpga-image", ACCEL_PROGRAM_FORMAT_FPGA_IMAGE},
};

const char *accel__program_format_name(accel_program_format format)
{
    for (size_t i = 0; i < sizeof(program_formats) / sizeof(program_formats[0]); i++)
        if (program_formats[i].format == format)
            return program_formats[i].name;
    return NULL;
}

static const char *const kind_names[] = {[ACCEL_DEVICE_KIND_CPU] = "cpu",
                                         [ACCEL_DEVICE_KIND_GPU] = "gpu",
                                         [ACCEL_DEVICE_KIND_FPGA] = "fpga",
                                         [ACCEL_DEVICE_KIND_ASIC] = "asic",
                                         [ACCEL_DEVICE_KIND_NETWORK] = "network"};

static const struct {
    const char *key;
    accel_arg_kind kind;
} scalar_keys[] = {
    {"u32", ACCEL_ARG_U32}, {"i32", ACCEL_ARG_I32}, {"u64", ACCEL_ARG_U64},
    {"i64", ACCEL_ARG_I64}, {"f32", ACCEL_ARG_F32}, {"f64", ACCEL_ARG_F64},
};

/* ------------------------------------------------------------------------ */
/* Names → indices                                                           */

typedef struct name_table {
    const char **keys;
    uint32_t *values;
    size_t mask; /* capacity - 1 (a power of two) */
} name_table;

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int name_table_init(name_table *t, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    t->keys = accel__calloc(cap, sizeof(*t->keys));
    t->values = accel__calloc(cap, sizeof(*t->values));
    t->mask = cap - 1;
    return t->keys && t->values ? 0 : ENOMEM;
}

static void name_table_free(name_table *t)
{
    accel__free(t->keys);
    accel__free(t->values);
    memset(t, 0, sizeof(*t));
}

/* The index stored for key, or -1. */
static int64_t name_table_get(const name_table *t, const char *key)
{
    for (size_t i = (size_t)hash_name(key) & t->mask;; i = (i + 1) & t->mask) {
        if (!t->keys[i])
            return -1;
        if (strcmp(t->keys[i], key) == 0)
            return t->values[i];
    }
}

/* Insert (key must stay valid; the table has room by construction).
 * Returns the index already stored under key, or -1 after inserting. */
static int64_t name_table_put(name_table *t, const char *key, uint32_t value)
{
    size_t i = (size_t)hash_name(key) & t->mask;
    for (; t->keys[i]; i = (i + 1) & t->mask)
        if (strcmp(t->keys[i], key) == 0)
            return t->values[i];
    t->keys[i] = key;
    t->values[i] = value;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Parser context: the source name, the JSON path and the error text         */

typedef struct pctx {
    const char *source;
    char path[256];
    size_t path_len;
    char *reason;
    size_t reason_size;
    accel_pipeline *p;
    name_table buffers;
    name_table stages;
    /* Per stage and argument while checking: whether "writes" was given. */
    bool (*writes_given)[ACCEL_MAX_ARGS];
    /* Per buffer: which argument of which stage writes it. */
    int32_t *writer_arg;
} pctx;

static size_t path_key(pctx *c, const char *key)
{
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);
    if (n > 0)
        c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static size_t path_index(pctx *c, size_t index)
{
    size_t old = c->path_len;
    int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", index);
    if (n > 0)
        c->path_len = old + (size_t)n < sizeof(c->path) ? old + (size_t)n : sizeof(c->path) - 1;
    return old;
}

static void path_set(pctx *c, size_t len)
{
    c->path_len = len;
    c->path[len] = '\0';
}

/* Record "SOURCE: PATH: message" and return INVALID_ARGUMENT. */
static accel_result fail(pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static accel_result fail(pctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->path_len)
        accel__fmt(c->reason, c->reason_size, "%s: %s: %s", c->source, c->path, msg);
    else
        accel__fmt(c->reason, c->reason_size, "%s: %s", c->source, msg);
    return ACCEL_ERROR_INVALID_ARGUMENT;
}

static accel_result oom(pctx *c)
{
    accel__fmt(c->reason, c->reason_size, "%s: out of host memory", c->source);
    return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
}

static const char *type_name(json_object *o)
{
    return json_type_to_name(json_object_get_type(o));
}

/* Reject members not in `allowed` (NULL-terminated). */
static accel_result check_keys(pctx *c, json_object *obj, const char *const *allowed, const char *expected)
{
    json_object_object_foreach(obj, key, val) {
        (void)val;
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            size_t old = path_key(c, key);
            accel_result r = fail(c, "unknown key (expected %s)", expected);
            path_set(c, old);
            return r;
        }
    }
    return ACCEL_SUCCESS;
}

/* A member as a string: present and a non-empty string without NUL. The
 * path must already name the member. */
static accel_result as_string(pctx *c, json_object *v, const char **out)
{
    if (!json_object_is_type(v, json_type_string))
        return fail(c, "must be a string, not %s", type_name(v));
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return fail(c, "contains a NUL character");
    if (!*s)
        return fail(c, "must not be empty");
    *out = s;
    return ACCEL_SUCCESS;
}

/* A non-negative integer that fits in 64 bits. */
static accel_result as_u64(pctx *c, json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return fail(c, "must be an integer, not %s", type_name(v));
    int64_t s = json_object_get_int64(v);
    if (s < 0)
        return fail(c, "must not be negative");
    *out = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
    return ACCEL_SUCCESS;
}

static accel_result as_i64(pctx *c, json_object *v, int64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return fail(c, "must be an integer, not %s", type_name(v));
    int64_t s = json_object_get_int64(v);
    if (s == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
        return fail(c, "is out of range for i64");
    *out = s;
    return ACCEL_SUCCESS;
}

static accel_result as_number(pctx *c, json_object *v, double *out)
{
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
        return fail(c, "must be a number, not %s", type_name(v));
    *out = json_object_get_double(v);
    if (!isfinite(*out))
        return fail(c, "must be a finite number");
    return ACCEL_SUCCESS;
}

static bool valid_name(const char *s)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return n > 0 && n <= ACCEL__PIPELINE_MAX_NAME;
}

static bool valid_function_name(const char *s)
{
    size_t n = 0;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++, n++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.' || ch == '-'))
            return false;
    }
    return n < ACCEL_MAX_FUNCTION_NAME;
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Freeing                                                                   */

static void stage_clear(accel__pipe_stage *s)
{
    accel__free((char *)s->pub.name);
    accel__free((char *)s->pub.function);
    accel__free((char *)s->pub.program);
    accel__free((char *)s->pub.device);
    accel__free((char *)s->pub.driver);
    accel__free((char *)s->pub.uuid);
    accel__free(s->args);
    accel__free(s->not_with);
    if (s->has_selector)
        accel__selector_free(&s->selector);
}

accel_result accel_pipeline_destroy(accel_pipeline *p)
{
    ACCEL__HANDLE_DESTROY(p, ACCEL__HANDLE_PIPELINE, "accel_pipeline_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (!p)
        return ACCEL_SUCCESS;
    for (uint32_t i = 0; i < p->stage_count; i++)
        stage_clear(&p->stages[i]);
    for (uint32_t i = 0; i < p->buffer_count; i++) {
        accel__free((char *)p->buffers[i].pub.name);
        accel__free((char *)p->buffers[i].pub.input_file);
        accel__free((char *)p->buffers[i].pub.output_file);
    }
    accel__free(p->stages);
    accel__free(p->buffers);
    accel__free(p->order);
    accel__free(p->source);
    accel__free(p->name);
    accel__free(p);
    return ACCEL_SUCCESS;
}

/* Strings kept by the pipeline: copied, or an allocation failure. */
static accel_result keep(pctx *c, const char *s, const char **out)
{
    char *copy = accel__strdup(s);
    if (!copy)
        return oom(c);
    *out = copy;
    return ACCEL_SUCCESS;
}

/* obj.key, when present, as a string the pipeline keeps in *out. */
static accel_result optional_string(pctx *c, json_object *obj, const char *key, const char **out)
{
    json_object *v;
    const char *s;
    accel_result r;
    if (!json_object_object_get_ex(obj, key, &v))
        return ACCEL_SUCCESS;
    size_t old = path_key(c, key);
    if ((r = as_string(c, v, &s)) || (r = keep(c, s, out)))
        return r;
    path_set(c, old);
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */

static accel_result buffer_ref(pctx *c, json_object *v, int32_t *out)
{
    const char *s;
    accel_result r = as_string(c, v, &s);
    if (r)
        return r;
    int64_t i = name_table_get(&c->buffers, s);
    if (i < 0)
        return fail(c, "unknown buffer \"%.64s\"", s);
    *out = (int32_t)i;
    return ACCEL_SUCCESS;
}

static accel_result parse_buffer(pctx *c, json_object *obj, accel__pipe_buffer *b)
{
    static const char *const keys[] = {"bytes", "file", "output", "bytes_from", "scale", "add", "zero",
                                       "output_size_from", NULL};
    accel_result r;
    json_object *v;
    size_t old;

    if (!json_object_is_type(obj, json_type_object))
        return fail(c, "must be an object, not %s", type_name(obj));
    if ((r = check_keys(c, obj, keys, "bytes, file, output, bytes_from, scale, add, zero, output_size_from")))
        return r;

    bool has_bytes = json_object_object_get_ex(obj, "bytes", &v);
    if (has_bytes) {
        old = path_key(c, "bytes");
        if ((r = as_u64(c, v, &b->pub.bytes)))
            return r;
        path_set(c, old);
    }
    if ((r = optional_string(c, obj, "file", &b->pub.input_file)))
        return r;
    if ((r = optional_string(c, obj, "output", &b->pub.output_file)))
        return r;
    bool has_from = json_object_object_get_ex(obj, "bytes_from", &v);
    if (has_from) {
        old = path_key(c, "bytes_from");
        if (has_bytes)
            return fail(c, "cannot be given together with \"bytes\"");
        if ((r = buffer_ref(c, v, &b->bytes_from)))
            return r;
        path_set(c, old);
    }
    b->scale = 1.0;
    if (json_object_object_get_ex(obj, "scale", &v)) {
        old = path_key(c, "scale");
        if (!has_from)
            return fail(c, "needs \"bytes_from\"");
        if ((r = as_number(c, v, &b->scale)))
            return r;
        if (b->scale < 0 || b->scale > 1e6)
            return fail(c, "must be between 0 and 1000000");
        path_set(c, old);
    }
    if (json_object_object_get_ex(obj, "add", &v)) {
        old = path_key(c, "add");
        if (!has_from)
            return fail(c, "needs \"bytes_from\"");
        if ((r = as_u64(c, v, &b->add)))
            return r;
        path_set(c, old);
    }
    if (json_object_object_get_ex(obj, "zero", &v)) {
        old = path_key(c, "zero");
        if (!json_object_is_type(v, json_type_boolean))
            return fail(c, "must be a boolean, not %s", type_name(v));
        b->zero = json_object_get_boolean(v);
        if (b->zero && b->pub.input_file)
            return fail(c, "cannot be true for a buffer read from a \"file\"");
        path_set(c, old);
    }
    if (json_object_object_get_ex(obj, "output_size_from", &v)) {
        old = path_key(c, "output_size_from");
        if (!b->pub.output_file)
            return fail(c, "needs \"output\"");
        if ((r = buffer_ref(c, v, &b->pub.output_size_from)))
            return r;
        path_set(c, old);
    }
    if (!has_bytes && !has_from && !b->pub.input_file)
        return fail(c, "needs a size: \"bytes\" or \"bytes_from\" (only buffers read from a \"file\" "
                       "may leave it to the run)");
    return ACCEL_SUCCESS;
}

static accel_result parse_buffers(pctx *c, json_object *obj)
{
    accel_pipeline *p = c->p;
    accel_result r;
    if (!json_object_is_type(obj, json_type_object))
        return fail(c, "must be an object, not %s", type_name(obj));
    size_t n = (size_t)json_object_object_length(obj);
    if (n == 0)
        return fail(c, "must name at least one buffer");
    if (n > ACCEL__PIPELINE_MAX_BUFFERS)
        return fail(c, "has %zu buffers; the limit is %u", n, ACCEL__PIPELINE_MAX_BUFFERS);
    if (!(p->buffers = accel__calloc(n, sizeof(*p->buffers))) || name_table_init(&c->buffers, n))
        return oom(c);

    /* Names first, so that bytes_from and output_size_from may refer to
     * buffers further down. */
    json_object_object_foreach(obj, key, val) {
        (void)val;
        accel__pipe_buffer *b = &p->buffers[p->buffer_count];
        size_t old = path_key(c, key);
        if (!valid_name(key))
            return fail(c, "buffer names are 1-%d characters of A-Z a-z 0-9 _ - .", ACCEL__PIPELINE_MAX_NAME);
        if ((r = keep(c, key, &b->pub.name)))
            return r;
        b->pub.struct_size = sizeof(b->pub);
        b->pub.producer = -1;
        b->pub.output_size_from = -1;
        b->bytes_from = -1;
        p->buffer_count++;
        if (name_table_put(&c->buffers, b->pub.name, p->buffer_count - 1) >= 0)
            return fail(c, "buffer named twice");
        path_set(c, old);
    }
    uint32_t i = 0;
    json_object_object_foreach(obj, key2, val2) {
        size_t old = path_key(c, key2);
        if ((r = parse_buffer(c, val2, &p->buffers[i++])))
            return r;
        path_set(c, old);
    }
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Stages                                                                    */

static accel_result parse_arg(pctx *c, json_object *obj, accel_pipeline_stage_arg *a, bool *writes_given)
{
    accel_result r;
    json_object *v;
    size_t old;
    memset(a, 0, sizeof(*a));
    a->size_from = -1;
    if (!json_object_is_type(obj, json_type_object))
        return fail(c, "must be an object ({\"buffer\": NAME} or a scalar such as {\"u32\": 5}), not %s",
                    type_name(obj));
    if (json_object_object_get_ex(obj, "buffer", &v)) {
        static const char *const keys[] = {"buffer", "writes", "size_from", NULL};
        if ((r = check_keys(c, obj, keys, "buffer, writes, size_from")))
            return r;
        int32_t b;
        old = path_key(c, "buffer");
        if ((r = buffer_ref(c, v, &b)))
            return r;
        path_set(c, old);
        a->kind = ACCEL_ARG_MEMORY;
        a->buffer = (uint32_t)b;
        a->value.kind = ACCEL_ARG_MEMORY;
        if (json_object_object_get_ex(obj, "writes", &v)) {
            old = path_key(c, "writes");
            if (!json_object_is_type(v, json_type_boolean))
                return fail(c, "must be a boolean, not %s", type_name(v));
            a->writes = json_object_get_boolean(v);
            *writes_given = true;
            path_set(c, old);
        }
        if (json_object_object_get_ex(obj, "size_from", &v)) {
            old = path_key(c, "size_from");
            if ((r = buffer_ref(c, v, &a->size_from)))
                return r;
            if ((uint32_t)a->size_from == a->buffer)
                return fail(c, "names the argument's own buffer");
            path_set(c, old);
        }
        return ACCEL_SUCCESS;
    }
    if (json_object_object_length(obj) != 1)
        return fail(c, "must have exactly one key: buffer, u32, i32, u64, i64, f32 or f64");
    json_object_object_foreach(obj, key, val) {
        size_t k = 0;
        for (; k < sizeof(scalar_keys) / sizeof(scalar_keys[0]); k++)
            if (strcmp(key, scalar_keys[k].key) == 0)
                break;
        old = path_key(c, key);
        if (k == sizeof(scalar_keys) / sizeof(scalar_keys[0]))
            return fail(c, "unknown key (expected buffer, u32, i32, u64, i64, f32 or f64)");
        a->kind = scalar_keys[k].kind;
        a->value.kind = a->kind;
        uint64_t u;
        int64_t s;
        double d;
        switch (a->kind) {
        case ACCEL_ARG_U32:
            if ((r = as_u64(c, val, &u)))
                return r;
            if (u > UINT32_MAX)
                return fail(c, "is out of range for u32");
            a->value.u.u32 = (uint32_t)u;
            break;
        case ACCEL_ARG_U64:
            if ((r = as_u64(c, val, &u)))
                return r;
            a->value.u.u64 = u;
            break;
        case ACCEL_ARG_I32:
            if ((r = as_i64(c, val, &s)))
                return r;
            if (s < INT32_MIN || s > INT32_MAX)
                return fail(c, "is out of range for i32");
            a->value.u.i32 = (int32_t)s;
            break;
        case ACCEL_ARG_I64:
            if ((r = as_i64(c, val, &s)))
                return r;
            a->value.u.i64 = s;
            break;
        case ACCEL_ARG_F32:
            if ((r = as_number(c, val, &d)))
                return r;
            if (fabs(d) > 3.4028234663852886e38)
                return fail(c, "is out of range for f32");
            a->value.u.f32 = (float)d;
            break;
        default:
            if ((r = as_number(c, val, &d)))
                return r;
            a->value.u.f64 = d;
            break;
        }
        path_set(c, old);
    }
    return ACCEL_SUCCESS;
}

static accel_result parse_constraints(pctx *c, json_object *obj, accel__pipe_stage *st, json_object **not_with)
{
    static const char *const keys[] = {"kind", "driver", "uuid", "device", "not_with", NULL};
    accel_result r;
    json_object *v;
    const char *s;
    size_t old;
    if (!json_object_is_type(obj, json_type_object))
        return fail(c, "must be an object, not %s", type_name(obj));
    if ((r = check_keys(c, obj, keys, "kind, driver, uuid, device, not_with")))
        return r;
    if (json_object_object_get_ex(obj, "kind", &v)) {
        old = path_key(c, "kind");
        if ((r = as_string(c, v, &s)))
            return r;
        for (unsigned k = ACCEL_DEVICE_KIND_CPU; k <= ACCEL_DEVICE_KIND_NETWORK; k++)
            if (strcmp(s, kind_names[k]) == 0)
                st->pub.kind = (accel_device_kind)k;
        if (!st->pub.kind)
            return fail(c, "\"%.40s\" is not one of cpu, gpu, fpga, asic, network", s);
        path_set(c, old);
    }
    if ((r = optional_string(c, obj, "driver", &st->pub.driver)))
        return r;
    if (json_object_object_get_ex(obj, "uuid", &v)) {
        old = path_key(c, "uuid");
        if ((r = as_string(c, v, &s)))
            return r;
        for (const char *q = s; *q; q++) {
            if (*q == '-')
                continue;
            int h = hex_digit(*q);
            if (h < 0)
                return fail(c, "'%c' is not a hexadecimal digit", *q);
            if (st->uuid_len == 2 * ACCEL_UUID_SIZE)
                return fail(c, "longer than %d hexadecimal digits", 2 * ACCEL_UUID_SIZE);
            st->uuid_nibbles[st->uuid_len++] = (uint8_t)h;
        }
        if (!st->uuid_len)
            return fail(c, "needs at least one hexadecimal digit");
        if ((r = keep(c, s, &st->pub.uuid)))
            return r;
        path_set(c, old);
    }
    if (json_object_object_get_ex(obj, "device", &v)) {
        old = path_key(c, "device");
        char err[256];
        if ((r = as_string(c, v, &s)))
            return r;
        r = accel__selector_parse(s, &st->selector, err, sizeof(err));
        st->has_selector = true;
        if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            return oom(c);
        if (r)
            return fail(c, "invalid device selector \"%.80s\": %s", s, err);
        if ((r = keep(c, s, &st->pub.device)))
            return r;
        path_set(c, old);
    }
    if (json_object_object_get_ex(obj, "not_with", &v)) {
        old = path_key(c, "not_with");
        if (!json_object_is_type(v, json_type_array))
            return fail(c, "must be an array of stage names, not %s", type_name(v));
        *not_with = v; /* resolved once every stage is known */
        path_set(c, old);
    }
    return ACCEL_SUCCESS;
}

static accel_result parse_stage(pctx *c, json_object *obj, uint32_t index, json_object **not_with)
{
    static const char *const keys[] = {"name", "function", "program", "format", "work_size", "args",
                                       "constraints", NULL};
    accel__pipe_stage *st = &c->p->stages[index];
    accel_result r;
    json_object *v;
    const char *s;
    size_t old;

    /* The name was checked in the first pass. */
    if ((r = check_keys(c, obj, keys, "name, function, program, format, work_size, args, constraints")))
        return r;
    old = path_key(c, "function");
    if (!json_object_object_get_ex(obj, "function", &v))
        return fail(c, "required key missing");
    if ((r = as_string(c, v, &s)))
        return r;
    if (!valid_function_name(s))
        return fail(c, "\"%.80s\" is not a function name (a letter or _ first, then letters, digits, _ . -; "
                       "at most %d characters)", s, ACCEL_MAX_FUNCTION_NAME - 1);
    if ((r = keep(c, s, &st->pub.function)))
        return r;
    path_set(c, old);

    if ((r = optional_string(c, obj, "program", &st->pub.program)))
        return r;
    if (json_object_object_get_ex(obj, "format", &v)) {
        old = path_key(c, "format");
        if (!st->pub.program)
            return fail(c, "needs \"program\"");
        if ((r = as_string(c, v, &s)))
            return r;
        for (size_t k = 0; k < sizeof(program_formats) / sizeof(program_formats[0]); k++)
            if (strcmp(s, program_formats[k].name) == 0)
                st->pub.program_format = program_formats[k].format;
        if (!st->pub.program_format)
            return fail(c, "\"%.40s\" is not one of opencl-c, spirv, elf, fpga-image", s);
        path_set(c, old);
    } else if (st->pub.program) {
        old = path_key(c, "format");
        return fail(c, "required with \"program\" (opencl-c, spirv, elf or fpga-image)");
    }

    if (json_object_object_get_ex(obj, "work_size", &v)) {
        old = path_key(c, "work_size");
        if (!st->pub.program)
            return fail(c, "needs \"program\" (built-in functions take no work size)");
        if (!json_object_is_type(v, json_type_array))
            return fail(c, "must be an array of 1 to 3 integers, not %s", type_name(v));
        size_t n = json_object_array_length(v);
        if (n < 1 || n > 3)
            return fail(c, "must have 1 to 3 dimensions, not %zu", n);
        for (size_t i = 0; i < n; i++) {
            size_t o2 = path_index(c, i);
            if ((r = as_u64(c, json_object_array_get_idx(v, i), &st->pub.work_size[i])))
                return r;
            if (st->pub.work_size[i] == 0)
                return fail(c, "must be at least 1");
            path_set(c, o2);
        }
        st->pub.work_dim = (uint32_t)n;
        path_set(c, old);
    }

    if (json_object_object_get_ex(obj, "args", &v)) {
        old = path_key(c, "args");
        if (!json_object_is_type(v, json_type_array))
            return fail(c, "must be an array, not %s", type_name(v));
        size_t n = json_object_array_length(v);
        if (n > ACCEL_MAX_ARGS)
            return fail(c, "has %zu arguments; the limit is %d", n, ACCEL_MAX_ARGS);
        if (n && !(st->args = accel__calloc(n, sizeof(*st->args))))
            return oom(c);
        for (size_t i = 0; i < n; i++) {
            size_t o2 = path_index(c, i);
            if ((r = parse_arg(c, json_object_array_get_idx(v, i), &st->args[i], &c->writes_given[index][i])))
                return r;
            st->pub.arg_count++;
            path_set(c, o2);
        }
        path_set(c, old);
    }
    st->pub.args = st->args;

    if (json_object_object_get_ex(obj, "constraints", &v)) {
        old = path_key(c, "constraints");
        if ((r = parse_constraints(c, v, st, not_with)))
            return r;
        path_set(c, old);
    }
    return ACCEL_SUCCESS;
}

static accel_result resolve_not_with(pctx *c, uint32_t index, json_object *arr)
{
    accel__pipe_stage *st = &c->p->stages[index];
    size_t n = json_object_array_length(arr);
    accel_result r;
    if (n > c->p->stage_count)
        return fail(c, "lists %zu stages; the pipeline has %u", n, c->p->stage_count);
    if (n && !(st->not_with = accel__calloc(n, sizeof(*st->not_with))))
        return oom(c);
    for (size_t i = 0; i < n; i++) {
        const char *s;
        size_t old = path_index(c, i);
        if ((r = as_string(c, json_object_array_get_idx(arr, i), &s)))
            return r;
        int64_t k = name_table_get(&c->stages, s);
        if (k < 0)
            return fail(c, "unknown stage \"%.64s\"", s);
        if ((uint32_t)k == index)
            return fail(c, "names the stage itself");
        for (uint32_t j = 0; j < st->pub.not_with_count; j++)
            if (st->not_with[j] == (uint32_t)k)
                return fail(c, "stage \"%s\" is listed twice", s);
        st->not_with[st->pub.not_with_count++] = (uint32_t)k;
        path_set(c, old);
    }
    st->pub.not_with = st->not_with;
    return ACCEL_SUCCESS;
}

static accel_result parse_stages(pctx *c, json_object *arr)
{
    accel_pipeline *p = c->p;
    accel_result r = ACCEL_SUCCESS;
    if (!json_object_is_type(arr, json_type_array))
        return fail(c, "must be an array, not %s", type_name(arr));
    size_t n = json_object_array_length(arr);
    if (n == 0)
        return fail(c, "must list at least one stage");
    if (n > ACCEL__PIPELINE_MAX_STAGES)
        return fail(c, "has %zu stages; the limit is %u", n, ACCEL__PIPELINE_MAX_STAGES);
    json_object **not_with = accel__calloc(n, sizeof(*not_with));
    if (!not_with || !(p->stages = accel__calloc(n, sizeof(*p->stages))) ||
        !(c->writes_given = accel__calloc(n, sizeof(*c->writes_given))) || name_table_init(&c->stages, n)) {
        accel__free(not_with);
        return oom(c);
    }

    /* Names first, so that not_with may name later stages. */
    for (size_t i = 0; i < n; i++) {
        json_object *obj = json_object_array_get_idx(arr, i), *v;
        accel__pipe_stage *st = &p->stages[i];
        const char *s;
        size_t old = path_index(c, i);
        st->pub.struct_size = sizeof(st->pub);
        p->stage_count++;
        if (!json_object_is_type(obj, json_type_object)) {
            r = fail(c, "must be an object, not %s", type_name(obj));
            goto out;
        }
        size_t o2 = path_key(c, "name");
        if (!json_object_object_get_ex(obj, "name", &v)) {
            r = fail(c, "required key missing");
            goto out;
        }
        if ((r = as_string(c, v, &s)))
            goto out;
        if (!valid_name(s)) {
            r = fail(c, "stage names are 1-%d characters of A-Z a-z 0-9 _ - .", ACCEL__PIPELINE_MAX_NAME);
            goto out;
        }
        if ((r = keep(c, s, &st->pub.name)))
            goto out;
        int64_t dup = name_table_put(&c->stages, st->pub.name, (uint32_t)i);
        if (dup >= 0) {
            r = fail(c, "stage \"%s\" is already stages[%lld]", s, (long long)dup);
            goto out;
        }
        path_set(c, o2);
        path_set(c, old);
    }
    for (size_t i = 0; i < n; i++) {
        size_t old = path_index(c, i);
        if ((r = parse_stage(c, json_object_array_get_idx(arr, i), (uint32_t)i, &not_with[i])))
            goto out;
        path_set(c, old);
    }
    for (size_t i = 0; i < n; i++) {
        if (!not_with[i])
            continue;
        size_t old = path_index(c, i);
        path_key(c, "constraints");
        path_key(c, "not_with");
        if ((r = resolve_not_with(c, (uint32_t)i, not_with[i])))
            goto out;
        path_set(c, old);
    }
out:
    accel__free(not_with);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Consistency of stages and buffers                                         */

static void set_arg_path(pctx *c, uint32_t stage, uint32_t arg)
{
    path_set(c, 0);
    path_key(c, "stages");
    path_index(c, stage);
    path_key(c, "args");
    path_index(c, arg);
}

static void set_buffer_path(pctx *c, uint32_t buffer, const char *key)
{
    path_set(c, 0);
    path_key(c, "buffers");
    path_key(c, c->p->buffers[buffer].pub.name);
    if (key)
        path_key(c, key);
}

/* Arguments against the standard functions' conventions; writers. */
static accel_result check_args(pctx *c)
{
    accel_pipeline *p = c->p;
    for (uint32_t s = 0; s < p->stage_count; s++) {
        accel__pipe_stage *st = &p->stages[s];
        const accel__standard_function *sf = st->pub.program ? NULL : accel__standard_function_find(st->pub.function);
        if (sf && st->pub.arg_count != sf->arg_count) {
            path_set(c, 0);
            path_key(c, "stages");
            path_index(c, s);
            path_key(c, "args");
            char list[128] = "";
            for (uint32_t k = 0; k < sf->arg_count; k++)
                accel__fmt(list + strlen(list), sizeof(list) - strlen(list), "%s%s", k ? ", " : "",
                           sf->arg_names[k]);
            return fail(c, "%s takes %u argument%s (%s), not %u", sf->name, sf->arg_count,
                        sf->arg_count == 1 ? "" : "s", sf->arg_count ? list : "none", st->pub.arg_count);
        }
        for (uint32_t i = 0; i < st->pub.arg_count; i++) {
            accel_pipeline_stage_arg *a = &st->args[i];
            set_arg_path(c, s, i);
            if (sf) {
                if (a->kind != sf->kinds[i])
                    return fail(c, "%s's argument %s must be %s", sf->name, sf->arg_names[i],
                                sf->kinds[i] == ACCEL_ARG_MEMORY ? "a buffer"
                                : sf->kinds[i] == ACCEL_ARG_I32 ? "{\"i32\": N}"
                                                                : "{\"u32\": N}");
                if (a->kind == ACCEL_ARG_MEMORY) {
                    if (c->writes_given[s][i] && a->writes != sf->writes[i])
                        return fail(c, "%s %s argument %s: \"writes\" must be %s", sf->name,
                                    sf->writes[i] ? "writes" : "only reads", sf->arg_names[i],
                                    sf->writes[i] ? "true" : "false");
                    a->writes = sf->writes[i];
                    const accel__pipe_buffer *b = &p->buffers[a->buffer];
                    if (sf->min_bytes[i] && b->bytes_from < 0 && !b->pub.input_file &&
                        b->pub.bytes < sf->min_bytes[i])
                        return fail(c, "%s writes %llu bytes to %s, but buffer \"%s\" has %llu", sf->name,
                                    (unsigned long long)sf->min_bytes[i], sf->arg_names[i], b->pub.name,
                                    (unsigned long long)b->pub.bytes);
                }
            }
            if (sf && strncmp(sf->name, "zlib.deflate", 12) == 0 && i == 3 &&
                (a->value.u.i32 < -1 || a->value.u.i32 > 9))
                return fail(c, "%s's level must be -1 (the default, 6) or 0 to 9, not %d", sf->name,
                            (int)a->value.u.i32);
            if (a->kind != ACCEL_ARG_MEMORY)
                continue;
            for (uint32_t j = 0; j < i; j++)
                if (st->args[j].kind == ACCEL_ARG_MEMORY && st->args[j].buffer == a->buffer)
                    return fail(c, "buffer \"%s\" is already argument %u of this stage (a buffer is passed "
                                   "to a stage once)", p->buffers[a->buffer].pub.name, j);
            if (!a->writes)
                continue;
            accel__pipe_buffer *b = &p->buffers[a->buffer];
            if (b->pub.producer >= 0)
                return fail(c, "buffer \"%s\" is already written by stage \"%s\" (stages[%d].args[%d]); a buffer "
                               "has one writer", b->pub.name, p->stages[b->pub.producer].pub.name,
                            b->pub.producer, c->writer_arg[a->buffer]);
            b->pub.producer = (int32_t)s;
            c->writer_arg[a->buffer] = (int32_t)i;
        }
    }
    return ACCEL_SUCCESS;
}

/* A buffer named by size_from or output_size_from: the u64 a stage wrote. */
static accel_result check_size_source(pctx *c, uint32_t src)
{
    const accel__pipe_buffer *b = &c->p->buffers[src];
    if (b->pub.producer < 0)
        return fail(c, "buffer \"%s\" is written by no stage, so it holds no size", b->pub.name);
    if (b->bytes_from < 0 && !b->pub.input_file && b->pub.bytes < 8)
        return fail(c, "buffer \"%s\" has %llu bytes; a size is a u64 (8 bytes)", b->pub.name,
                    (unsigned long long)b->pub.bytes);
    return ACCEL_SUCCESS;
}

static accel_result check_buffers(pctx *c)
{
    accel_pipeline *p = c->p;
    accel_result r;
    uint32_t *first_reader = accel__malloc(p->buffer_count * sizeof(uint32_t) * 2);
    if (!first_reader)
        return oom(c);
    uint32_t *first_arg = first_reader + p->buffer_count;
    for (uint32_t b = 0; b < p->buffer_count; b++)
        first_reader[b] = UINT32_MAX;
    for (uint32_t s = 0; s < p->stage_count; s++) {
        for (uint32_t i = 0; i < p->stages[s].pub.arg_count; i++) {
            const accel_pipeline_stage_arg *a = &p->stages[s].args[i];
            if (a->kind != ACCEL_ARG_MEMORY)
                continue;
            if (a->size_from >= 0) {
                set_arg_path(c, s, i);
                path_key(c, "size_from");
                if ((r = check_size_source(c, (uint32_t)a->size_from)))
                    goto out;
            }
            if (first_reader[a->buffer] == UINT32_MAX) {
                first_reader[a->buffer] = s;
                first_arg[a->buffer] = i;
            }
        }
    }
    for (uint32_t i = 0; i < p->buffer_count; i++) {
        accel__pipe_buffer *b = &p->buffers[i];
        if (first_reader[i] == UINT32_MAX) {
            set_buffer_path(c, i, NULL);
            r = fail(c, "not used by any stage");
            goto out;
        }
        if (b->pub.producer < 0 && !b->pub.input_file && !b->zero) {
            set_buffer_path(c, i, NULL);
            r = fail(c, "read by stage \"%s\" (stages[%u].args[%u]) but written by no stage: give it a \"file\" "
                        "to read, or \"zero\": true for zero-filled bytes",
                     p->stages[first_reader[i]].pub.name, first_reader[i], first_arg[i]);
            goto out;
        }
        if (b->pub.producer >= 0 && b->zero) {
            set_buffer_path(c, i, "zero");
            r = fail(c, "the buffer is written by stage \"%s\"; \"zero\" is for buffers no stage writes",
                     p->stages[b->pub.producer].pub.name);
            goto out;
        }
        if (b->pub.output_file && b->pub.producer < 0) {
            set_buffer_path(c, i, "output");
            r = fail(c, "no stage writes this buffer");
            goto out;
        }
        if (b->pub.output_size_from >= 0) {
            set_buffer_path(c, i, "output_size_from");
            if ((uint32_t)b->pub.output_size_from == i) {
                r = fail(c, "names the buffer itself");
                goto out;
            }
            if ((r = check_size_source(c, (uint32_t)b->pub.output_size_from)))
                goto out;
        }
        /* bytes_from chains end at a buffer with its own size. */
        if (b->bytes_from >= 0) {
            uint32_t k = i, steps = 0;
            while (p->buffers[k].bytes_from >= 0 && steps <= p->buffer_count) {
                k = (uint32_t)p->buffers[k].bytes_from;
                steps++;
            }
            if (steps > p->buffer_count) {
                set_buffer_path(c, i, "bytes_from");
                char chain[200] = "";
                k = i;
                for (uint32_t n = 0; n < 6; n++) {
                    accel__fmt(chain + strlen(chain), sizeof(chain) - strlen(chain), "%s%s", n ? " -> " : "",
                               p->buffers[k].pub.name);
                    k = (uint32_t)p->buffers[k].bytes_from;
                    if (k == i) {
                        accel__fmt(chain + strlen(chain), sizeof(chain) - strlen(chain), " -> %s",
                                   p->buffers[k].pub.name);
                        break;
                    }
                }
                r = fail(c, "sizes derive from each other in a cycle (%s)", chain);
                goto out;
            }
        }
    }
    r = ACCEL_SUCCESS;
out:
    accel__free(first_reader);
    return r;
}

/* The stages s must wait for: writers of what it reads, and of its sizes. */
static uint32_t stage_deps(const accel_pipeline *p, uint32_t s, uint32_t *deps)
{
    uint32_t n = 0;
    const accel__pipe_stage *st = &p->stages[s];
    for (uint32_t i = 0; i < st->pub.arg_count; i++) {
        const accel_pipeline_stage_arg *a = &st->args[i];
        if (a->kind != ACCEL_ARG_MEMORY)
            continue;
        int32_t w = a->writes ? -1 : p->buffers[a->buffer].pub.producer;
        if (w >= 0)
            deps[n++] = (uint32_t)w;
        if (a->size_from >= 0 && (w = p->buffers[a->size_from].pub.producer) >= 0)
            deps[n++] = (uint32_t)w;
    }
    return n;
}

/* Order the stages (Kahn, lowest index first among the ready ones) and
 * report a cycle by its stages and buffers. */
static accel_result order_stages(pctx *c)
{
    accel_pipeline *p = c->p;
    uint32_t S = p->stage_count;
    uint32_t deps[2 * ACCEL_MAX_ARGS];
    uint32_t *pending = accel__calloc(S, sizeof(uint32_t));
    bool *done = accel__calloc(S, sizeof(bool));
    if (!pending || !(p->order = accel__calloc(S, sizeof(uint32_t))) || !done) {
        accel__free(pending);
        accel__free(done);
        return oom(c);
    }
    for (uint32_t s = 0; s < S; s++) {
        uint32_t n = stage_deps(p, s, deps);
        for (uint32_t k = 0; k < n; k++)
            pending[s] += 1;
        (void)deps;
    }
    uint32_t placed = 0;
    while (placed < S) {
        uint32_t s = 0;
        while (s < S && (done[s] || pending[s]))
            s++;
        if (s == S)
            break;
        done[s] = true;
        p->order[placed++] = s;
        /* Release the stages waiting for s (once per edge). */
        for (uint32_t t = 0; t < S; t++) {
            if (done[t])
                continue;
            uint32_t n = stage_deps(p, t, deps);
            for (uint32_t k = 0; k < n; k++)
                if (deps[k] == s)
                    pending[t]--;
        }
    }
    accel_result r = ACCEL_SUCCESS;
    if (placed < S) {
        /* Every stage left waits for another one left: walk back from one
         * until a stage repeats, then print that loop. */
        uint32_t *seen = pending; /* reuse: step at which each stage was visited, +1 */
        memset(seen, 0, S * sizeof(uint32_t));
        uint32_t s = 0, step = 1;
        while (done[s])
            s++;
        while (!seen[s]) {
            seen[s] = step++;
            uint32_t n = stage_deps(p, s, deps), next = s;
            for (uint32_t k = 0; k < n; k++)
                if (!done[deps[k]]) {
                    next = deps[k];
                    break;
                }
            s = next;
        }
        char loop[320] = "";
        uint32_t start = s;
        for (uint32_t k = 0; k < 8; k++) {
            accel__fmt(loop + strlen(loop), sizeof(loop) - strlen(loop), "%s\"%s\"", k ? " <- " : "",
                       p->stages[s].pub.name);
            uint32_t n = stage_deps(p, s, deps), next = s;
            for (uint32_t j = 0; j < n; j++)
                if (!done[deps[j]]) {
                    next = deps[j];
                    break;
                }
            s = next;
            if (s == start) {
                accel__fmt(loop + strlen(loop), sizeof(loop) - strlen(loop), " <- \"%s\"", p->stages[s].pub.name);
                break;
            }
        }
        path_set(c, 0);
        path_key(c, "stages");
        path_index(c, start);
        r = fail(c, "the stages wait for each other in a cycle: %s (each reads a buffer, or takes a size, that "
                    "the next one writes)", loop);
    } else {
        /* Stages run in the order written: each after the stages it waits
         * for. */
        for (uint32_t s = 0; s < S && !r; s++) {
            const accel__pipe_stage *st = &p->stages[s];
            for (uint32_t i = 0; i < st->pub.arg_count && !r; i++) {
                const accel_pipeline_stage_arg *a = &st->args[i];
                if (a->kind != ACCEL_ARG_MEMORY)
                    continue;
                int32_t w = a->writes ? -1 : p->buffers[a->buffer].pub.producer;
                uint32_t b = a->buffer;
                if (w <= (int32_t)s && a->size_from >= 0) {
                    w = p->buffers[a->size_from].pub.producer;
                    b = (uint32_t)a->size_from;
                }
                if (w > (int32_t)s) {
                    set_arg_path(c, s, i);
                    r = fail(c, "buffer \"%s\" is written by stage \"%s\" (stages[%d]), which comes later: stages run "
                                "in the order written, each after the stages whose buffers it reads", p->buffers[b].pub.name,
                             p->stages[w].pub.name, w);
                }
            }
        }
        for (uint32_t k = 0; k < S; k++)
            p->order[k] = k;
    }
    accel__free(pending);
    accel__free(done);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Sizes                                                                     */

static uint64_t derived_bytes(const accel_pipeline *p, uint32_t b, uint32_t depth)
{
    const accel__pipe_buffer *x = &p->buffers[b];
    if (x->bytes_from < 0 || depth > p->buffer_count)
        return x->pub.bytes;
    double v = ceil((double)derived_bytes(p, (uint32_t)x->bytes_from, depth + 1) * x->scale);
    if (!(v < 18446744073709549568.0))
        return UINT64_MAX;
    uint64_t n = (uint64_t)v;
    return n > UINT64_MAX - x->add ? UINT64_MAX : n + x->add;
}

static void resolve_sizes(accel_pipeline *p)
{
    for (uint32_t b = 0; b < p->buffer_count; b++)
        if (p->buffers[b].bytes_from >= 0)
            p->buffers[b].pub.bytes = derived_bytes(p, b, 0);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

/* Line and column (from 1) of byte `off`. */
static void line_col(const char *data, size_t size, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < size; i++) {
        if (data[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

accel_result accel__pipeline_parse(const char *json, size_t size, const char *source, accel_pipeline **out,
                                   char *reason, size_t reason_size)
{
    pctx c = {.source = source ? source : "(pipeline)", .reason = reason, .reason_size = reason_size};
    accel_result r = ACCEL_ERROR_INVALID_ARGUMENT;
    json_object *root = NULL, *v;
    reason[0] = '\0';
    c.path[0] = '\0';

    if (!json && size) {
        accel__fmt(reason, reason_size, "%s: no data", c.source);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (size > ACCEL__PIPELINE_MAX_SIZE) {
        accel__fmt(reason, reason_size, "%s: file too large (%zu bytes; the limit is %u)", c.source, size,
                   ACCEL__PIPELINE_MAX_SIZE);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (size > 0 && memchr(json, '\0', size)) {
        accel__fmt(reason, reason_size, "%s: not JSON: the file contains a NUL byte", c.source);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    json_tokener *tok = json_tokener_new_ex(ACCEL__PIPELINE_MAX_DEPTH);
    if (!tok)
        return oom(&c);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, size ? json : "", (int)size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr != json_tokener_success) {
        size_t line, col;
        line_col(json, size, end, &line, &col);
        if (jerr == json_tokener_continue)
            accel__fmt(reason, reason_size, "%s: not JSON: unexpected end of file", c.source);
        else
            accel__fmt(reason, reason_size, "%s: not JSON: %s at line %zu, column %zu", c.source,
                       json_tokener_error_desc(jerr), line, col);
        goto out;
    }
    for (; end < size; end++) {
        char ch = json[end];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
            size_t line, col;
            line_col(json, size, end, &line, &col);
            accel__fmt(reason, reason_size, "%s: not JSON: trailing data at line %zu, column %zu", c.source, line,
                       col);
            goto out;
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        r = fail(&c, "the top level must be an object, not %s", type_name(root));
        goto out;
    }

    if ((c.p = accel__calloc(1, sizeof(*c.p))) && accel__handle_add(c.p, ACCEL__HANDLE_PIPELINE)) {
        accel__free(c.p);
        c.p = NULL;
    }
    if (!c.p || !(c.p->source = accel__strdup(c.source))) {
        r = oom(&c);
        goto out;
    }
    static const char *const keys[] = {"pipeline_version", "name", "description", "buffers", "stages", NULL};
    if ((r = check_keys(&c, root, keys, "pipeline_version, name, description, buffers, stages")))
        goto out;

    path_key(&c, "pipeline_version");
    if (!json_object_object_get_ex(root, "pipeline_version", &v)) {
        r = fail(&c, "required key missing");
        goto out;
    }
    uint64_t version;
    if ((r = as_u64(&c, v, &version)))
        goto out;
    if (version != 1) {
        r = fail(&c, "unsupported version %llu (this loader reads version 1)", (unsigned long long)version);
        goto out;
    }
    path_set(&c, 0);

    const char *s;
    if (json_object_object_get_ex(root, "name", &v)) {
        path_key(&c, "name");
        if ((r = as_string(&c, v, &s)))
            goto out;
        path_set(&c, 0);
    } else {
        s = c.source;
    }
    if (!(c.p->name = accel__strdup(s))) {
        r = oom(&c);
        goto out;
    }
    if (json_object_object_get_ex(root, "description", &v)) {
        path_key(&c, "description");
        if ((r = as_string(&c, v, &s)))
            goto out;
        path_set(&c, 0);
    }

    path_key(&c, "buffers");
    if (!json_object_object_get_ex(root, "buffers", &v)) {
        r = fail(&c, "required key missing");
        goto out;
    }
    if ((r = parse_buffers(&c, v)))
        goto out;
    path_set(&c, 0);

    path_key(&c, "stages");
    if (!json_object_object_get_ex(root, "stages", &v)) {
        r = fail(&c, "required key missing");
        goto out;
    }
    if ((r = parse_stages(&c, v)))
        goto out;
    path_set(&c, 0);

    if (!(c.writer_arg = accel__calloc(c.p->buffer_count, sizeof(int32_t)))) {
        r = oom(&c);
        goto out;
    }
    if ((r = check_args(&c)) || (r = check_buffers(&c)) || (r = order_stages(&c)))
        goto out;
    resolve_sizes(c.p);
    *out = c.p;
    c.p = NULL;
    r = ACCEL_SUCCESS;
out:
    accel_pipeline_destroy(c.p);
    name_table_free(&c.buffers);
    name_table_free(&c.stages);
    accel__free(c.writes_given);
    accel__free(c.writer_arg);
    json_object_put(root);
    return r;
}

accel_result accel_pipeline_parse(const char *json, size_t size, const char *source, accel_pipeline **pipeline)
{
    char reason[768];
    if (!pipeline)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_parse: pipeline is NULL");
    if (!json && size)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_parse: json is NULL");
    accel_result r = accel__pipeline_parse(json, size, source, pipeline, reason, sizeof(reason));
    if (r)
        accel__error(r, "%s", reason);
    return r;
}

accel_result accel_pipeline_load(const char *path, accel_pipeline **pipeline)
{
    if (!path || !pipeline)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_load: %s is NULL",
                            path ? "pipeline" : "path");
    char *data = NULL;
    size_t size = 0;
    int err = accel__read_file(path, ACCEL__PIPELINE_MAX_SIZE, &data, &size);
    if (err == ENOMEM)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", path);
    if (err == EFBIG)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: file too large (the limit is %u bytes)", path,
                            ACCEL__PIPELINE_MAX_SIZE);
    if (err)
        return accel__error(ACCEL_ERROR_IO, "%s: cannot read: %s", path, accel__file_strerror(err));
    accel_result r = accel_pipeline_parse(data, size, path, pipeline);
    accel__free(data);
    return r;
}

uint32_t accel_pipeline_stage_count(const accel_pipeline *pipeline)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_stage_count", 0);
    return pipeline ? pipeline->stage_count : 0;
}

uint32_t accel_pipeline_buffer_count(const accel_pipeline *pipeline)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_buffer_count", 0);
    return pipeline ? pipeline->buffer_count : 0;
}

accel_result accel_pipeline_get_stage(const accel_pipeline *pipeline, uint32_t index, accel_pipeline_stage *stage)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_get_stage",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!pipeline || !stage)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_get_stage: %s is NULL",
                            pipeline ? "stage" : "pipeline");
    if (stage->struct_size < 2 * sizeof(uint32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_get_stage: stage->struct_size %u is too small",
                            stage->struct_size);
    if (index >= pipeline->stage_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_get_stage: %s has %u stages, no stage %u",
                            pipeline->source, pipeline->stage_count, index);
    accel__copy_out(stage, &pipeline->stages[index].pub, sizeof(accel_pipeline_stage));
    return ACCEL_SUCCESS;
}

accel_result accel_pipeline_get_buffer(const accel_pipeline *pipeline, uint32_t index, accel_pipeline_buffer *buffer)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_get_buffer",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!pipeline || !buffer)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_get_buffer: %s is NULL",
                            pipeline ? "buffer" : "pipeline");
    if (buffer->struct_size < 2 * sizeof(uint32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_pipeline_get_buffer: buffer->struct_size %u is too small", buffer->struct_size);
    if (index >= pipeline->buffer_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_get_buffer: %s has %u buffers, no buffer %u",
                            pipeline->source, pipeline->buffer_count, index);
    accel__copy_out(buffer, &pipeline->buffers[index].pub, sizeof(accel_pipeline_buffer));
    return ACCEL_SUCCESS;
}

accel_result accel_pipeline_set_buffer_bytes(accel_pipeline *pipeline, uint32_t index, uint64_t bytes)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_set_buffer_bytes",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!pipeline)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_set_buffer_bytes: pipeline is NULL");
    if (index >= pipeline->buffer_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_pipeline_set_buffer_bytes: %s has %u buffers, no buffer %u", pipeline->source,
                            pipeline->buffer_count, index);
    /* An explicit size replaces a derived one; buffers derived from this
     * one follow. */
    pipeline->buffers[index].bytes_from = -1;
    pipeline->buffers[index].pub.bytes = bytes;
    resolve_sizes(pipeline);
    return ACCEL_SUCCESS;
}

accel_result accel_pipeline_constrain_stage(accel_pipeline *pipeline, const char *stage,
                                            const char *device_selector)
{
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_pipeline_constrain_stage",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!pipeline || !stage || !device_selector)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_pipeline_constrain_stage: %s is NULL",
                            !pipeline ? "pipeline" : !stage ? "stage" : "device_selector");
    accel__pipe_stage *st = NULL;
    for (uint32_t i = 0; i < pipeline->stage_count && !st; i++)
        if (strcmp(pipeline->stages[i].pub.name, stage) == 0)
            st = &pipeline->stages[i];
    if (!st)
        return accel__error(ACCEL_ERROR_NOT_FOUND, "accel_pipeline_constrain_stage: %s has no stage \"%.64s\"",
                            pipeline->source, stage);
    accel__selector sel;
    char err[256];
    accel_result r = accel__selector_parse(device_selector, &sel, err, sizeof(err));
    if (r) {
        accel__selector_free(&sel);
        if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            return accel__error(r, "accel_pipeline_constrain_stage: out of host memory");
        return accel__error(r, "accel_pipeline_constrain_stage: stage \"%s\": invalid device selector \"%.80s\": %s",
                            st->pub.name, device_selector, err);
    }
    char *copy = accel__strdup(device_selector);
    if (!copy) {
        accel__selector_free(&sel);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_pipeline_constrain_stage: out of host memory");
    }
    if (st->has_selector)
        accel__selector_free(&st->selector);
    accel__free((char *)st->pub.device);
    st->selector = sel;
    st->has_selector = true;
    st->pub.device = copy;
    return ACCEL_SUCCESS;
}
