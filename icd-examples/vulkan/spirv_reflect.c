/* spirv_reflect.c — see spirv_reflect.h. */
#include "spirv_reflect.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The few SPIR-V enumerants the reader needs (SPIR-V 1.6 specification). */
enum {
    SPV_MAGIC = 0x07230203u,
    OP_ENTRY_POINT = 15,
    OP_EXECUTION_MODE = 16,
    OP_TYPE_INT = 21,
    OP_TYPE_FLOAT = 22,
    OP_TYPE_STRUCT = 30,
    OP_TYPE_POINTER = 32,
    OP_CONSTANT = 43,
    OP_CONSTANT_COMPOSITE = 44,
    OP_SPEC_CONSTANT = 50,
    OP_SPEC_CONSTANT_COMPOSITE = 51,
    OP_FUNCTION = 54,
    OP_FUNCTION_END = 56,
    OP_VARIABLE = 59,
    OP_DECORATE = 71,
    OP_MEMBER_DECORATE = 72,
    OP_EXECUTION_MODE_ID = 331,
    DEC_BLOCK = 2,
    DEC_BUFFER_BLOCK = 3,
    DEC_BUILTIN = 11,
    DEC_BINDING = 33,
    DEC_DESCRIPTOR_SET = 34,
    DEC_OFFSET = 35,
    BUILTIN_WORKGROUP_SIZE = 25,
    MODE_LOCAL_SIZE = 17,
    MODE_LOCAL_SIZE_ID = 38,
    MODEL_GLCOMPUTE = 5,
    SC_UNIFORM_CONSTANT = 0,
    SC_UNIFORM = 2,
    SC_PUSH_CONSTANT = 9,
    SC_STORAGE_BUFFER = 12,
};

#define HAS_SET 1u
#define HAS_BINDING 2u
#define IS_BLOCK 4u
#define IS_BUFFER_BLOCK 8u
#define IS_WORKGROUP_SIZE 16u

typedef struct id_info {
    uint32_t def; /* word index of the defining instruction; 0 = undefined */
    uint32_t set;
    uint32_t binding;
    uint32_t flags;
} id_info;

typedef struct reader {
    uint32_t *w;  /* the module, host byte order */
    uint32_t n;   /* words */
    uint32_t bound;
    id_info *ids;
    uint32_t entry_fn[SPV_MAX_ENTRY_POINTS];
    char *msg;
    size_t msg_size;
} reader;

static accel_result fail(reader *r, accel_result code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static accel_result fail(reader *r, accel_result code, const char *fmt, ...)
{
    if (r->msg && r->msg_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, r->msg_size, fmt, ap);
        va_end(ap);
    }
    return code;
}

static uint32_t wc_of(const reader *r, uint32_t at)
{
    return r->w[at] >> 16;
}

static uint32_t op_of(const reader *r, uint32_t at)
{
    return r->w[at] & 0xffffu;
}

/* The id at word `at`, or 0 when it is outside the bound (id 0 is never valid). */
static uint32_t id_at(const reader *r, uint32_t at)
{
    uint32_t id = r->w[at];
    return id < r->bound ? id : 0;
}

/* A literal string starting at word `at` of the instruction at `ins`:
 * returns its length and sets *words to the words it occupies, or returns
 * -1 when it is not NUL-terminated inside the instruction. */
static long literal_string(const reader *r, uint32_t ins, uint32_t at, const char **s, uint32_t *words)
{
    uint32_t end = ins + wc_of(r, ins);
    if (at >= end)
        return -1;
    const char *p = (const char *)&r->w[at];
    size_t max = (size_t)(end - at) * 4;
    const char *nul = memchr(p, '\0', max);
    if (!nul)
        return -1;
    *s = p;
    *words = (uint32_t)((size_t)(nul - p) / 4 + 1);
    return (long)(nul - p);
}

/* The 32-bit value of a scalar OpConstant / OpSpecConstant, or -1. */
static int64_t constant_u32(const reader *r, uint32_t id)
{
    if (!id || !r->ids[id].def)
        return -1;
    uint32_t at = r->ids[id].def;
    uint32_t op = op_of(r, at);
    if ((op != OP_CONSTANT && op != OP_SPEC_CONSTANT) || wc_of(r, at) < 4)
        return -1;
    return r->w[at + 3];
}

static accel_result first_pass(reader *r, spv_reflection *out)
{
    uint32_t last = 0;
    for (uint32_t at = 5; at < r->n;) {
        uint32_t wc = wc_of(r, at), op = op_of(r, at);
        if (wc == 0 || wc > r->n - at)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "instruction at word %u overruns the module", at);
        /* Result ids, by the operand position each defining opcode uses. */
        uint32_t result_at = 0;
        switch (op) {
        case OP_TYPE_INT:
        case OP_TYPE_FLOAT:
        case OP_TYPE_STRUCT:
        case OP_TYPE_POINTER:
            if (wc < 2)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short type instruction at word %u", at);
            result_at = at + 1;
            break;
        case OP_CONSTANT:
        case OP_SPEC_CONSTANT:
        case OP_CONSTANT_COMPOSITE:
        case OP_SPEC_CONSTANT_COMPOSITE:
        case OP_FUNCTION:
        case OP_VARIABLE:
            if (wc < 3)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short instruction %u at word %u", op, at);
            result_at = at + 2;
            break;
        default: break;
        }
        if (result_at) {
            uint32_t id = id_at(r, result_at);
            if (!id)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "result id %u out of bound %u", r->w[result_at],
                            r->bound);
            if (r->ids[id].def)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "id %u defined twice", id);
            r->ids[id].def = at;
        }
        if (op == OP_DECORATE) {
            if (wc < 3)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short OpDecorate at word %u", at);
            uint32_t id = id_at(r, at + 1), dec = r->w[at + 2];
            if (!id)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "OpDecorate target out of bound");
            id_info *ii = &r->ids[id];
            if ((dec == DEC_BINDING || dec == DEC_DESCRIPTOR_SET || dec == DEC_BUILTIN) && wc < 4)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "OpDecorate at word %u lacks its operand", at);
            if (dec == DEC_BINDING) {
                ii->binding = r->w[at + 3];
                ii->flags |= HAS_BINDING;
            } else if (dec == DEC_DESCRIPTOR_SET) {
                ii->set = r->w[at + 3];
                ii->flags |= HAS_SET;
            } else if (dec == DEC_BLOCK) {
                ii->flags |= IS_BLOCK;
            } else if (dec == DEC_BUFFER_BLOCK) {
                ii->flags |= IS_BUFFER_BLOCK;
            } else if (dec == DEC_BUILTIN && r->w[at + 3] == BUILTIN_WORKGROUP_SIZE) {
                ii->flags |= IS_WORKGROUP_SIZE;
            }
        } else if (op == OP_ENTRY_POINT) {
            if (wc < 4)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short OpEntryPoint at word %u", at);
            const char *name;
            uint32_t words;
            long len = literal_string(r, at, at + 3, &name, &words);
            if (len < 0)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "OpEntryPoint name at word %u is not terminated", at);
            if (r->w[at + 1] == MODEL_GLCOMPUTE) {
                if (out->entry_count == SPV_MAX_ENTRY_POINTS)
                    return fail(r, ACCEL_ERROR_UNSUPPORTED, "more than %d compute entry points",
                                SPV_MAX_ENTRY_POINTS);
                if ((size_t)len >= ACCEL_MAX_FUNCTION_NAME || len == 0)
                    return fail(r, ACCEL_ERROR_UNSUPPORTED, "entry point name of %ld bytes", len);
                spv_entry_point *e = &out->entries[out->entry_count];
                memcpy(e->name, name, (size_t)len);
                e->name[len] = '\0';
                e->local_size[0] = e->local_size[1] = e->local_size[2] = 1;
                r->entry_fn[out->entry_count++] = r->w[at + 2];
            }
        }
        last = at;
        at += wc;
    }
    /* A module cut short still parses up to the cut; a whole one ends with
     * the end of its last function. */
    if (!last || op_of(r, last) != OP_FUNCTION_END)
        return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "the module does not end with OpFunctionEnd (truncated?)");
    for (uint32_t e = 0; e < out->entry_count; e++) {
        uint32_t fn = r->entry_fn[e] < r->bound ? r->entry_fn[e] : 0;
        if (!fn || !r->ids[fn].def || op_of(r, r->ids[fn].def) != OP_FUNCTION)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "entry point %s names no function", out->entries[e].name);
    }
    return ACCEL_SUCCESS;
}

/* Local sizes: execution modes, then the WorkgroupSize built-in. */
static accel_result local_sizes(reader *r, spv_reflection *out)
{
    for (uint32_t at = 5; at < r->n; at += wc_of(r, at)) {
        uint32_t wc = wc_of(r, at), op = op_of(r, at);
        if ((op != OP_EXECUTION_MODE && op != OP_EXECUTION_MODE_ID) || wc < 3)
            continue;
        uint32_t mode = r->w[at + 2];
        if (mode != MODE_LOCAL_SIZE && mode != MODE_LOCAL_SIZE_ID)
            continue;
        if (wc < 6)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short LocalSize at word %u", at);
        uint32_t size[3];
        for (int i = 0; i < 3; i++) {
            int64_t v = mode == MODE_LOCAL_SIZE ? (int64_t)r->w[at + 3 + i] : constant_u32(r, id_at(r, at + 3 + i));
            if (v <= 0)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "LocalSize at word %u is not a positive constant", at);
            size[i] = (uint32_t)v;
        }
        for (uint32_t e = 0; e < out->entry_count; e++)
            if (r->entry_fn[e] == r->w[at + 1])
                memcpy(out->entries[e].local_size, size, sizeof(size));
    }
    for (uint32_t id = 1; id < r->bound; id++) {
        if (!(r->ids[id].flags & IS_WORKGROUP_SIZE) || !r->ids[id].def)
            continue;
        uint32_t at = r->ids[id].def, op = op_of(r, at);
        if ((op != OP_CONSTANT_COMPOSITE && op != OP_SPEC_CONSTANT_COMPOSITE) || wc_of(r, at) != 6)
            return fail(r, ACCEL_ERROR_UNSUPPORTED, "WorkgroupSize is not a 3-component constant");
        uint32_t size[3];
        for (int i = 0; i < 3; i++) {
            int64_t v = constant_u32(r, id_at(r, at + 3 + i));
            if (v <= 0)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "WorkgroupSize component is not a positive constant");
            size[i] = (uint32_t)v;
        }
        for (uint32_t e = 0; e < out->entry_count; e++)
            memcpy(out->entries[e].local_size, size, sizeof(size));
    }
    return ACCEL_SUCCESS;
}

/* The struct a pointer type points at, or 0. */
static uint32_t pointee_struct(const reader *r, uint32_t ptr_type)
{
    if (!ptr_type || !r->ids[ptr_type].def)
        return 0;
    uint32_t at = r->ids[ptr_type].def;
    if (op_of(r, at) != OP_TYPE_POINTER || wc_of(r, at) < 4)
        return 0;
    uint32_t t = id_at(r, at + 3);
    if (!t || !r->ids[t].def || op_of(r, r->ids[t].def) != OP_TYPE_STRUCT)
        return 0;
    return t;
}

static accel_result push_block(reader *r, uint32_t st, spv_reflection *out)
{
    uint32_t at = r->ids[st].def;
    uint32_t members = wc_of(r, at) - 2;
    if (members > ACCEL_MAX_ARGS)
        return fail(r, ACCEL_ERROR_UNSUPPORTED, "push-constant block has %u members (at most %d)", members,
                    ACCEL_MAX_ARGS);
    uint32_t offset[ACCEL_MAX_ARGS];
    uint8_t have[ACCEL_MAX_ARGS] = {0};
    for (uint32_t d = 5; d < r->n; d += wc_of(r, d)) {
        if (op_of(r, d) != OP_MEMBER_DECORATE || wc_of(r, d) < 4 || r->w[d + 1] != st)
            continue;
        if (r->w[d + 3] != DEC_OFFSET)
            continue;
        if (wc_of(r, d) < 5 || r->w[d + 2] >= members)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "bad Offset decoration at word %u", d);
        offset[r->w[d + 2]] = r->w[d + 4];
        have[r->w[d + 2]] = 1;
    }
    uint32_t kinds[ACCEL_MAX_ARGS], sizes[ACCEL_MAX_ARGS];
    for (uint32_t m = 0; m < members; m++) {
        uint32_t t = id_at(r, at + 2 + m);
        uint32_t td = t ? r->ids[t].def : 0;
        if (!have[m])
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "push-constant member %u has no Offset", m);
        if (!td)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "push-constant member %u has an undefined type", m);
        uint32_t op = op_of(r, td), wc = wc_of(r, td);
        uint32_t width = wc >= 3 ? r->w[td + 2] : 0;
        if (op == OP_TYPE_INT && wc >= 4 && (width == 32 || width == 64)) {
            int sign = r->w[td + 3] != 0;
            kinds[m] = width == 32 ? (sign ? ACCEL_ARG_I32 : ACCEL_ARG_U32) : (sign ? ACCEL_ARG_I64 : ACCEL_ARG_U64);
        } else if (op == OP_TYPE_FLOAT && (width == 32 || width == 64)) {
            kinds[m] = width == 32 ? ACCEL_ARG_F32 : ACCEL_ARG_F64;
        } else {
            return fail(r, ACCEL_ERROR_UNSUPPORTED,
                        "push-constant member %u is not a 32- or 64-bit scalar int or float", m);
        }
        sizes[m] = width / 8;
        if (offset[m] % sizes[m] || offset[m] > 4096)
            return fail(r, ACCEL_ERROR_UNSUPPORTED, "push-constant member %u at offset %u", m, offset[m]);
    }
    /* Members in offset order (selection sort: at most ACCEL_MAX_ARGS). */
    uint8_t used[ACCEL_MAX_ARGS] = {0};
    uint32_t prev_end = 0;
    for (uint32_t i = 0; i < members; i++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t m = 0; m < members; m++)
            if (!used[m] && (best == UINT32_MAX || offset[m] < offset[best]))
                best = m;
        used[best] = 1;
        if (offset[best] < prev_end)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "push-constant members overlap");
        prev_end = offset[best] + sizes[best];
        out->scalar_kinds[i] = (accel_arg_kind)kinds[best];
        out->scalar_offsets[i] = offset[best];
        if (offset[best] + sizes[best] > out->push_size)
            out->push_size = offset[best] + sizes[best];
    }
    out->scalar_count = members;
    return ACCEL_SUCCESS;
}

static accel_result variables(reader *r, spv_reflection *out)
{
    uint64_t bindings = 0; /* bit b: binding b seen */
    int have_push = 0;
    for (uint32_t id = 1; id < r->bound; id++) {
        uint32_t at = r->ids[id].def;
        if (!at || op_of(r, at) != OP_VARIABLE)
            continue;
        if (wc_of(r, at) < 4)
            return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "short OpVariable at word %u", at);
        uint32_t sc = r->w[at + 3];
        uint32_t st = pointee_struct(r, id_at(r, at + 1));
        const id_info *vi = &r->ids[id];
        int storage = sc == SC_STORAGE_BUFFER || (sc == SC_UNIFORM && st && (r->ids[st].flags & IS_BUFFER_BLOCK));
        if (storage) {
            if ((vi->flags & (HAS_SET | HAS_BINDING)) != (HAS_SET | HAS_BINDING))
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "storage buffer %u lacks DescriptorSet/Binding", id);
            if (vi->set != 0)
                return fail(r, ACCEL_ERROR_UNSUPPORTED, "storage buffer in descriptor set %u (only set 0)", vi->set);
            if (vi->binding >= ACCEL_MAX_ARGS)
                return fail(r, ACCEL_ERROR_UNSUPPORTED, "binding %u (at most %d memory arguments)", vi->binding,
                            ACCEL_MAX_ARGS);
            if (bindings & (1ull << vi->binding))
                return fail(r, ACCEL_ERROR_UNSUPPORTED, "binding %u used twice", vi->binding);
            bindings |= 1ull << vi->binding;
        } else if (sc == SC_PUSH_CONSTANT) {
            if (have_push++)
                return fail(r, ACCEL_ERROR_UNSUPPORTED, "more than one push-constant block");
            if (!st)
                return fail(r, ACCEL_ERROR_INVALID_ARGUMENT, "push constant %u is not a struct", id);
            accel_result res = push_block(r, st, out);
            if (res)
                return res;
        } else if (sc == SC_UNIFORM || sc == SC_UNIFORM_CONSTANT) {
            if (vi->flags & (HAS_SET | HAS_BINDING))
                return fail(r, ACCEL_ERROR_UNSUPPORTED,
                            "descriptor %u is not a storage buffer (uniform buffers, images and samplers are "
                            "not part of the accel convention)",
                            id);
        }
    }
    uint32_t count = 0;
    while (count < 64 && (bindings >> count) & 1)
        count++;
    if (count < 64 && (bindings >> count))
        return fail(r, ACCEL_ERROR_UNSUPPORTED, "storage buffer bindings are not 0..N-1 (binding %u missing)",
                    count);
    out->buffer_count = count;
    if (count + out->scalar_count > ACCEL_MAX_ARGS)
        return fail(r, ACCEL_ERROR_UNSUPPORTED, "%u arguments (at most %d)", count + out->scalar_count,
                    ACCEL_MAX_ARGS);
    return ACCEL_SUCCESS;
}

accel_result spv_reflect(const void *data, size_t size, spv_reflection *out, char *msg, size_t msg_size)
{
    reader r = {.msg = msg, .msg_size = msg_size};
    accel_result res;
    memset(out, 0, sizeof(*out));
    if (msg && msg_size)
        msg[0] = '\0';
    if (!data || size < 20 || size % 4)
        return fail(&r, ACCEL_ERROR_INVALID_ARGUMENT, "not SPIR-V: %zu bytes is not a whole module", size);
    if (size / 4 > UINT32_MAX / 2)
        return fail(&r, ACCEL_ERROR_UNSUPPORTED, "module too large");
    r.n = (uint32_t)(size / 4);
    r.w = malloc(size);
    if (!r.w)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    memcpy(r.w, data, size);
    if (r.w[0] != SPV_MAGIC) {
        if (__builtin_bswap32(r.w[0]) != SPV_MAGIC) {
            res = fail(&r, ACCEL_ERROR_INVALID_ARGUMENT, "not SPIR-V: bad magic 0x%08x", r.w[0]);
            goto out;
        }
        for (uint32_t i = 0; i < r.n; i++)
            r.w[i] = __builtin_bswap32(r.w[i]);
    }
    r.bound = r.w[3];
    if (r.bound == 0 || r.bound > 0x3fffff || r.bound > 4 * (uint64_t)r.n + 64) {
        res = fail(&r, ACCEL_ERROR_INVALID_ARGUMENT, "implausible id bound %u for %u words", r.bound, r.n);
        goto out;
    }
    r.ids = calloc(r.bound, sizeof(*r.ids));
    if (!r.ids) {
        res = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    if ((res = first_pass(&r, out)) || (res = local_sizes(&r, out)) || (res = variables(&r, out)))
        goto out;
    if (out->entry_count == 0)
        res = fail(&r, ACCEL_ERROR_UNSUPPORTED, "no GLCompute entry point");
out:
    if (res) {
        memset(out, 0, sizeof(*out));
        if (msg && msg_size && !msg[0])
            snprintf(msg, msg_size, "%s", res == ACCEL_ERROR_OUT_OF_HOST_MEMORY ? "out of memory" : "error");
    }
    free(r.ids);
    free(r.w);
    return res;
}

const spv_entry_point *spv_find_entry(const spv_reflection *r, const char *name)
{
    for (uint32_t i = 0; i < r->entry_count; i++)
        if (strcmp(r->entries[i].name, name) == 0)
            return &r->entries[i];
    return NULL;
}
