/* vk_builtins.c — the standard functions (docs/standard-functions.md) as
 * compute shaders (the .comp files in shaders/, compiled at build time and embedded).
 *
 * Built-ins bind their memory arguments at offsets aligned down to
 * minStorageBufferOffsetAlignment and receive each range's offset inside
 * the binding and its size as push constants (shaders/common.glsl), so any
 * byte offset works. One more binding after the memory arguments is the
 * submission's status word: a shader that must fail the call (too-small
 * output, corrupt input) writes a code there and the driver turns it into
 * ACCEL_ERROR_INVALID_ARGUMENT when the fence completes.
 *
 * Sequential built-ins (crc32c, sha256, deflate's Adler-32, inflate) run as
 * a series of single-invocation dispatches that carry their state in the
 * rest of the status binding: llvmpipe ends every loop of an invocation
 * after 65535 iterations in total, so one invocation cannot walk 64 MiB.
 * crc32c, sha256 and deflate take a fixed number of bytes per dispatch;
 * inflate stops after a fixed amount of work and gets
 * ceil(dst / 16 KiB) + ceil(src / 4 KiB) + 16 dispatches, enough for any
 * stream zlib writes (a dispatch writes at least 18000 bytes of literals
 * and matches); a stream needing more fails as unsupported.
 *
 * The stream forms take their state as one more memory argument, in the
 * layout docs/standard-functions.md fixes: crc32c.stream is crc32c's passes
 * with the combine starting from the state's CRC; sha256.stream loads the
 * state in its first dispatch and writes it back in its last;
 * zlib.inflate.stream is the portable streaming inflater's call repeated
 * once per dispatch, each on what is left of src and dst (its dispatches
 * indirect like inflate's, about one per 512 bytes of dst and 256 of
 * src); zlib.deflate.stream is zlib.deflate's passes compiled with
 * DEFLATE_STREAM (shaders/deflate.glsl), after a pass that checks the
 * state and stages its window with the first segment. Sizes and
 * overlaps are checked here before anything is recorded
 * (vk_builtin_check); a state the shader finds invalid fails the fence
 * with ACCEL_ERROR_INVALID_ARGUMENT.
 *
 * Built-ins are created per device on first use and owned by the device;
 * function_release does nothing for them.
 */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

#include "shaders/scratch_layout.h"

#include "copy_spv.h"
#include "crc32c_combine_spv.h"
#include "crc32c_parts_spv.h"
#include "deflate_adler_spv.h"
#include "deflate_encode_spv.h"
#include "deflate_finish_spv.h"
#include "deflate_huff_spv.h"
#include "deflate_lz77_spv.h"
#include "deflate_place_spv.h"
#include "deflate_stored_spv.h"
#include "deflate_adler_stream_spv.h"
#include "deflate_encode_stream_spv.h"
#include "deflate_finish_stream_spv.h"
#include "deflate_huff_stream_spv.h"
#include "deflate_lz77_stream_spv.h"
#include "deflate_place_stream_spv.h"
#include "deflate_stage_spv.h"
#include "deflate_stored_stream_spv.h"
#include "fill_spv.h"
#include "inflate_spv.h"
#include "inflate_stream_spv.h"
#include "sha256_spv.h"
#include "sha256_stream_spv.h"

typedef struct builtin_pass {
    const uint32_t *code;
    size_t size;
    bool grid;
    uint32_t chunk; /* see vk_function.pass_chunk; must match the shader's CHUNK */
} builtin_pass;

typedef struct builtin_spec {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind kinds[6];
    uint32_t pass_count;
    builtin_pass passes[VK_MAX_PASSES];
    bool texel;   /* see vk_function.texel */
    bool scratch; /* see vk_function.scratch */
    void (*schedule)(vk_recorder *r, const vk_plan *p);
} builtin_spec;

/* ---- crc32c -------------------------------------------------------------- */

/* Bytes per part: enough parts from 1 MiB on to keep every core and SIMD
 * lane busy, and at most CRC32C_MAX_PARTS, which one invocation chains
 * within its loop budget (larger ranges get larger parts). */
#define CRC32C_PART 32768u
#define CRC32C_MAX_PARTS 32768u
#define CRC32C_POLY 0x82F63B78u

/* a * b modulo the CRC-32C polynomial, reflected (bit 31 is x^0). */
static uint32_t crc32c_mul(uint32_t a, uint32_t b)
{
    uint32_t p = 0;
    for (int i = 0; i < 32; i++) {
        if (a & 0x80000000u)
            p ^= b;
        a <<= 1;
        b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1;
    }
    return p;
}

/* x^(8 n) modulo the polynomial: what appending n zero bytes multiplies
 * a register by. */
static uint32_t crc32c_x8n(uint64_t n)
{
    uint32_t r = 0x80000000u, sq = 0x00800000u; /* x^0, x^8 */
    for (; n; n >>= 1) {
        if (n & 1)
            r = crc32c_mul(r, sq);
        sq = crc32c_mul(sq, sq);
    }
    return r;
}

/* Pass 0: one invocation per part; pass 1: one chains them. */
static void crc32c_schedule(vk_recorder *r, const vk_plan *p)
{
    uint32_t n = p->sizes[0], part = CRC32C_PART;
    if (n / CRC32C_MAX_PARTS >= part)
        part = (n / CRC32C_MAX_PARTS + 16) & ~15u;
    uint32_t parts = (uint32_t)(((uint64_t)n + part - 1) / part);
    r->push[VK_PUSH_TOTAL] = parts;
    r->push[VK_PUSH_AUX0] = part;
    vk_record_dispatch(r, 0, (parts + 7) / 8);
    r->push[VK_PUSH_AUX2] = r->fn->builtin == VK_BUILTIN_CRC32C_STREAM; /* start from the state's CRC */
    r->push[VK_PUSH_AUX0] = crc32c_x8n(part);
    r->push[VK_PUSH_AUX1] = crc32c_x8n(n - (parts ? parts - 1 : 0) * (uint64_t)part);
    vk_record_dispatch(r, 1, 1);
}

/* ---- zlib.deflate -------------------------------------------------------- */

/* Its passes, in specs[] order (shaders/deflate.glsl tells the story);
 * zlib.deflate.stream has DEFLATE_STAGE too. */
enum {
    DEFLATE_ADLER,
    DEFLATE_STORED,
    DEFLATE_LZ77,
    DEFLATE_HUFF,
    DEFLATE_PLACE,
    DEFLATE_ENCODE,
    DEFLATE_FINISH,
    DEFLATE_STAGE
};

/* Dispatches of deflate_lz77 per wave, by level: about 1.5 times what the
 * slowest text file of the corpus needs (a dispatch runs about 60000 loop
 * passes per segment; priming with the 32 KiB before the segment takes
 * half of one). A segment not done by the last dispatch is finished with
 * literals; the dispatches of a wave whose segments are all done return at
 * once. */
static const uint32_t lz77_dispatches[10] = {0, 6, 8, 10, 20, 20, 30, 48, 72, 100};
/* deflate_encode: one symbol or 4 stored bytes per loop pass. */
#define DEFLATE_ENCODE_DISPATCHES 2

static void deflate_schedule(vk_recorder *r, const vk_plan *p)
{
    uint32_t n = p->sizes[0], level = p->scalar;
    uint32_t segs = (uint32_t)(((uint64_t)n + DEFLATE_SEGMENT - 1) / DEFLATE_SEGMENT);
    vk_device *dev = r->fn->dev;
    r->push[VK_PUSH_TOTAL] = segs;
    if (r->fn->builtin == VK_BUILTIN_DEFLATE_STREAM) {
        /* The state's check, and its window staged before the first
         * segment (when there is a segment to match). */
        uint32_t groups = (WINDOW + DEFLATE_SEGMENT + 4 * 64 - 1) / (4 * 64);
        r->push[VK_PUSH_AUX0] = n && level;
        vk_record_dispatch(r, DEFLATE_STAGE, n && level ? groups : 1);
        r->push[VK_PUSH_AUX0] = 0;
    }
    if (n && level) {
        /* Empty hash heads, so that the output does not depend on earlier
         * calls (chains are checked anyway: stale entries only cost time). */
        uint32_t used = segs < DEFLATE_SLOTS ? segs : DEFLATE_SLOTS;
        for (uint32_t slot = 0; slot < used; slot++)
            vk_record_fill(r, dev->scratch, ((VkDeviceSize)SCRATCH_SLOT0 + slot * SLOT_WORDS + SLOT_HEAD) * 4,
                           (VkDeviceSize)(1u << HASH_BITS) * 4, 0);
    }
    if (segs)
        vk_record_dispatch(r, DEFLATE_ADLER, (segs + 7) / 8);
    if (!n || !level) {
        uint32_t groups = (uint32_t)(((uint64_t)n / 4 + 64 + 63) / 64);
        if (groups > 4096)
            groups = 4096;
        vk_record_dispatch(r, DEFLATE_STORED, groups);
        r->push[VK_PUSH_AUX0] = 1;
        vk_record_dispatch(r, DEFLATE_FINISH, 1);
        return;
    }
    for (uint32_t first = 0; first < segs; first += DEFLATE_SLOTS) {
        uint32_t count = segs - first < DEFLATE_SLOTS ? segs - first : DEFLATE_SLOTS, groups = (count + 7) / 8;
        r->push[VK_PUSH_FIRST] = first;
        r->push[VK_PUSH_COUNT] = count;
        r->push[VK_PUSH_AUX0] = lz77_dispatches[level];
        for (uint32_t step = 0; step < lz77_dispatches[level]; step++) {
            r->push[VK_PUSH_STEP] = step;
            vk_record_dispatch(r, DEFLATE_LZ77, groups);
        }
        r->push[VK_PUSH_STEP] = 0;
        vk_record_dispatch(r, DEFLATE_HUFF, groups);
        vk_record_dispatch(r, DEFLATE_PLACE, 1);
        r->push[VK_PUSH_AUX0] = DEFLATE_ENCODE_DISPATCHES;
        for (uint32_t step = 0; step < DEFLATE_ENCODE_DISPATCHES; step++) {
            r->push[VK_PUSH_STEP] = step;
            vk_record_dispatch(r, DEFLATE_ENCODE, groups);
        }
    }
    r->push[VK_PUSH_AUX0] = 0;
    vk_record_dispatch(r, DEFLATE_FINISH, 1);
}

#define M ACCEL_ARG_MEMORY
static const builtin_spec specs[VK_BUILTIN_COUNT] = {
    [VK_BUILTIN_NOOP] = {"accel.noop", 0, {0}, 0, {{0}}},
    [VK_BUILTIN_COPY] = {"accel.copy", 2, {M, M}, 1, {{copy_spv, sizeof(copy_spv), true, 0}}},
    [VK_BUILTIN_FILL] = {"accel.fill", 2, {M, ACCEL_ARG_U32}, 1, {{fill_spv, sizeof(fill_spv), true, 0}}},
    [VK_BUILTIN_CRC32C] = {"crc32c",
                           2,
                           {M, M},
                           2,
                           {{crc32c_parts_spv, sizeof(crc32c_parts_spv), false, 0},
                            {crc32c_combine_spv, sizeof(crc32c_combine_spv), false, 0}},
                           .texel = true,
                           .scratch = true,
                           .schedule = crc32c_schedule},
    [VK_BUILTIN_SHA256] = {"sha256", 2, {M, M}, 1, {{sha256_spv, sizeof(sha256_spv), false, 16384}}},
    [VK_BUILTIN_DEFLATE] = {"zlib.deflate",
                            4,
                            {M, M, M, ACCEL_ARG_I32},
                            7,
                            {[DEFLATE_ADLER] = {deflate_adler_spv, sizeof(deflate_adler_spv), false, 0},
                             [DEFLATE_STORED] = {deflate_stored_spv, sizeof(deflate_stored_spv), false, 0},
                             [DEFLATE_LZ77] = {deflate_lz77_spv, sizeof(deflate_lz77_spv), false, 0},
                             [DEFLATE_HUFF] = {deflate_huff_spv, sizeof(deflate_huff_spv), false, 0},
                             [DEFLATE_PLACE] = {deflate_place_spv, sizeof(deflate_place_spv), false, 0},
                             [DEFLATE_ENCODE] = {deflate_encode_spv, sizeof(deflate_encode_spv), false, 0},
                             [DEFLATE_FINISH] = {deflate_finish_spv, sizeof(deflate_finish_spv), false, 0}},
                            .texel = true,
                            .scratch = true,
                            .schedule = deflate_schedule},
    [VK_BUILTIN_INFLATE] = {"zlib.inflate",
                            3,
                            {M, M, M},
                            1,
                            {{inflate_spv, sizeof(inflate_spv), false, VK_CHUNK_INFLATE}},
                            .texel = true},
    /* The stream forms: the state is an argument like any other. */
    [VK_BUILTIN_CRC32C_STREAM] = {"crc32c.stream",
                                  2,
                                  {M, M},
                                  2,
                                  {{crc32c_parts_spv, sizeof(crc32c_parts_spv), false, 0},
                                   {crc32c_combine_spv, sizeof(crc32c_combine_spv), false, 0}},
                                  .texel = true,
                                  .scratch = true,
                                  .schedule = crc32c_schedule},
    [VK_BUILTIN_SHA256_STREAM] = {"sha256.stream",
                                  4,
                                  {M, M, M, ACCEL_ARG_U32},
                                  1,
                                  {{sha256_stream_spv, sizeof(sha256_stream_spv), false, 16384}}},
    [VK_BUILTIN_DEFLATE_STREAM] =
        {"zlib.deflate.stream",
         6,
         {M, M, M, ACCEL_ARG_I32, M, ACCEL_ARG_U32},
         8,
         {[DEFLATE_ADLER] = {deflate_adler_stream_spv, sizeof(deflate_adler_stream_spv), false, 0},
          [DEFLATE_STORED] = {deflate_stored_stream_spv, sizeof(deflate_stored_stream_spv), false, 0},
          [DEFLATE_LZ77] = {deflate_lz77_stream_spv, sizeof(deflate_lz77_stream_spv), false, 0},
          [DEFLATE_HUFF] = {deflate_huff_stream_spv, sizeof(deflate_huff_stream_spv), false, 0},
          [DEFLATE_PLACE] = {deflate_place_stream_spv, sizeof(deflate_place_stream_spv), false, 0},
          [DEFLATE_ENCODE] = {deflate_encode_stream_spv, sizeof(deflate_encode_stream_spv), false, 0},
          [DEFLATE_FINISH] = {deflate_finish_stream_spv, sizeof(deflate_finish_stream_spv), false, 0},
          [DEFLATE_STAGE] = {deflate_stage_spv, sizeof(deflate_stage_spv), false, 0}},
         .texel = true,
         .scratch = true,
         .schedule = deflate_schedule},
    [VK_BUILTIN_INFLATE_STREAM] = {"zlib.inflate.stream",
                                   4,
                                   {M, M, M, M},
                                   1,
                                   {{inflate_stream_spv, sizeof(inflate_stream_spv), false, VK_CHUNK_INFLATE_STREAM}},
                                   .texel = true},
};
#undef M

accel_result vk_builtin_scalar(int which, uint32_t value, vk_plan *p)
{
    p->scalar = value;
    if (which == VK_BUILTIN_DEFLATE || which == VK_BUILTIN_DEFLATE_STREAM) {
        int32_t level = (int32_t)value;
        if (level < -1 || level > 9)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        p->scalar = level == -1 ? 6 : (uint32_t)level;
    }
    return ACCEL_SUCCESS;
}

/* Whether memory arguments a and b share bytes, by their host addresses
 * (two memory objects may be over the same pages: an import of another's
 * pointer). */
static bool overlap(const accel_icd_arg *a, const accel_icd_arg *b)
{
    const vk_memory *x = a->u.mem.memory, *y = b->u.mem.memory;
    if (!a->u.mem.size || !b->u.mem.size || !x || !y)
        return false;
    uint64_t p = a->u.mem.offset, q = b->u.mem.offset;
    if (x->host && y->host) {
        p += (uintptr_t)x->host;
        q += (uintptr_t)y->host;
    } else if (x != y) {
        return false;
    }
    return p < q + b->u.mem.size && q < p + a->u.mem.size;
}

static accel_result refuse(const vk_device *dev, int which, const char *why)
{
    VK_LOG(ACCEL_LOG_WARN, "%s: %s: %s", dev->info.name, specs[which].name, why);
    return ACCEL_ERROR_INVALID_ARGUMENT;
}

/* The stream forms' sizes and overlaps (docs/standard-functions.md,
 * "Stream forms"): state is read while the other arguments are read or
 * written, so it must not share bytes with them, nor src with what the
 * call writes. */
accel_result vk_builtin_check(const vk_device *dev, int which, const accel_icd_arg *a)
{
    switch (which) {
    case VK_BUILTIN_CRC32C_STREAM:
        if (a[1].u.mem.size < 4)
            return refuse(dev, which, "argument state is smaller than 4 bytes");
        if (overlap(&a[0], &a[1]))
            return refuse(dev, which, "argument state overlaps argument src");
        return ACCEL_SUCCESS;
    case VK_BUILTIN_SHA256_STREAM:
        if (a[1].u.mem.size < 112)
            return refuse(dev, which, "argument state is smaller than 112 bytes");
        if ((a[2].u.mem.size && a[2].u.mem.size < 32) || (a[3].u.u32 && a[2].u.mem.size < 32))
            return refuse(dev, which, "argument result is neither empty nor 32 bytes or more (final needs 32)");
        if (overlap(&a[1], &a[0]))
            return refuse(dev, which, "argument state overlaps argument src");
        if (overlap(&a[1], &a[2]))
            return refuse(dev, which, "argument state overlaps argument result");
        if (overlap(&a[0], &a[2]))
            return refuse(dev, which, "argument src overlaps argument result");
        return ACCEL_SUCCESS;
    case VK_BUILTIN_INFLATE_STREAM:
        if (a[2].u.mem.size < 24)
            return refuse(dev, which, "argument progress is smaller than 24 bytes");
        if (a[3].u.mem.size < 33984)
            return refuse(dev, which, "argument state is smaller than 33984 bytes");
        if (overlap(&a[3], &a[0]))
            return refuse(dev, which, "argument state overlaps argument src");
        if (overlap(&a[3], &a[1]))
            return refuse(dev, which, "argument state overlaps argument dst");
        if (overlap(&a[3], &a[2]))
            return refuse(dev, which, "argument state overlaps argument progress");
        /* dst is written while src is read, progress after both. */
        if (overlap(&a[0], &a[1]))
            return refuse(dev, which, "argument src overlaps argument dst");
        if (overlap(&a[0], &a[2]))
            return refuse(dev, which, "argument src overlaps argument progress");
        if (overlap(&a[1], &a[2]))
            return refuse(dev, which, "argument dst overlaps argument progress");
        return ACCEL_SUCCESS;
    case VK_BUILTIN_DEFLATE_STREAM:
        /* dst too small fails on the device (deflate_place and
         * deflate_stored), before the state is written. */
        if (a[2].u.mem.size < 8)
            return refuse(dev, which, "argument out_size is smaller than 8 bytes");
        if (a[4].u.mem.size < 32800)
            return refuse(dev, which, "argument state is smaller than 32800 bytes");
        if (overlap(&a[4], &a[0]))
            return refuse(dev, which, "argument state overlaps argument src");
        if (overlap(&a[4], &a[1]))
            return refuse(dev, which, "argument state overlaps argument dst");
        if (overlap(&a[4], &a[2]))
            return refuse(dev, which, "argument state overlaps argument out_size");
        if (overlap(&a[0], &a[1]))
            return refuse(dev, which, "argument src overlaps argument dst");
        if (overlap(&a[0], &a[2]))
            return refuse(dev, which, "argument src overlaps argument out_size");
        if (overlap(&a[1], &a[2]))
            return refuse(dev, which, "argument dst overlaps argument out_size");
        return ACCEL_SUCCESS;
    default: return ACCEL_SUCCESS;
    }
}

#define SCRATCH_BYTES ((VkDeviceSize)SCRATCH_WORDS * 4)

static void vk_builtins_destroy_scratch(vk_device *dev);

/* The scratch buffer: SCRATCH_BYTES of device memory (any type if none is
 * device-local) and its R32_UINT view. Called under ready_lock. */
static accel_result scratch_ready(vk_device *dev)
{
    if (dev->scratch_view)
        return ACCEL_SUCCESS;
    const vk_fns *vk = vk_fn(dev);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = SCRATCH_BYTES;
    bci.usage = VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkResult vr = vk->vkCreateBuffer(dev->device, &bci, NULL, &dev->scratch);
    if (vr != VK_SUCCESS)
        goto fail;
    VkMemoryRequirements req;
    vk->vkGetBufferMemoryRequirements(dev->device, dev->scratch, &req);
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = vk_find_memory_type(dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (mai.memoryTypeIndex == UINT32_MAX)
        mai.memoryTypeIndex = vk_find_memory_type(dev, req.memoryTypeBits, 0);
    if (mai.memoryTypeIndex == UINT32_MAX) {
        vr = VK_ERROR_OUT_OF_DEVICE_MEMORY;
        goto fail;
    }
    if ((vr = vk->vkAllocateMemory(dev->device, &mai, NULL, &dev->scratch_mem)) != VK_SUCCESS ||
        (vr = vk->vkBindBufferMemory(dev->device, dev->scratch, dev->scratch_mem, 0)) != VK_SUCCESS)
        goto fail;
    VkBufferViewCreateInfo vci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    vci.buffer = dev->scratch;
    vci.format = VK_FORMAT_R32_UINT;
    vci.range = VK_WHOLE_SIZE;
    if ((vr = vk->vkCreateBufferView(dev->device, &vci, NULL, &dev->scratch_view)) != VK_SUCCESS)
        goto fail;
    return ACCEL_SUCCESS;
fail:
    VK_LOG(ACCEL_LOG_WARN, "%s: no scratch buffer of %u bytes for the built-ins: %s", dev->info.name,
           (unsigned)SCRATCH_BYTES, vk_result_name(vr));
    vk_builtins_destroy_scratch(dev);
    accel_result res = vk_to_accel(vr);
    return res == ACCEL_ERROR_DRIVER_INTERNAL ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : res;
}

static accel_result create(vk_device *dev, int which, vk_function **out)
{
    const builtin_spec *s = &specs[which];
    if (s->scratch) {
        accel_result res = scratch_ready(dev);
        if (res)
            return res;
    }
    vk_function *fn = calloc(1, sizeof(*fn));
    if (!fn)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    fn->dev = dev;
    fn->builtin = which;
    fn->arg_count = s->arg_count;
    fn->local_size[0] = fn->local_size[1] = fn->local_size[2] = 1;
    fn->texel = s->texel;
    fn->scratch = s->scratch;
    fn->schedule = s->schedule;
    uint32_t memory = 0;
    for (uint32_t i = 0; i < s->arg_count; i++) {
        fn->arg_kinds[i] = s->kinds[i];
        memory += s->kinds[i] == ACCEL_ARG_MEMORY;
    }
    VkDescriptorType types[ACCEL_MAX_ARGS + 2];
    for (uint32_t i = 0; i < memory; i++)
        types[i] = s->texel ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    types[memory] = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER; /* status */
    types[memory + 1] = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER; /* scratch */
    fn->pass_count = s->pass_count;
    fn->binding_count = s->pass_count ? memory + 1 + s->scratch : 0;
    fn->push_size = s->pass_count ? VK_BUILTIN_PUSH_WORDS * 4 : 0;
    accel_result res = vk_make_layouts(dev, fn->binding_count, types, fn->push_size, &fn->set_layout, &fn->layout);
    for (uint32_t p = 0; !res && p < s->pass_count; p++) {
        fn->pass_grid[p] = s->passes[p].grid;
        fn->pass_chunk[p] = s->passes[p].chunk;
        res = vk_make_pipeline(dev, s->passes[p].code, s->passes[p].size, "main", fn->layout, &fn->pipelines[p]);
    }
    if (res) {
        VK_LOG(ACCEL_LOG_ERROR, "%s: built-in %s could not be created", dev->info.name, s->name);
        vk_function_destroy(fn);
        return res == ACCEL_ERROR_INVALID_ARGUMENT ? ACCEL_ERROR_DRIVER_INTERNAL : res;
    }
    *out = fn;
    return ACCEL_SUCCESS;
}

accel_result vk_builtin_get(vk_device *dev, const char *name, vk_function **fn)
{
    int which = -1;
    for (int i = 0; i < VK_BUILTIN_COUNT; i++)
        if (strcmp(specs[i].name, name) == 0)
            which = i;
    if (which < 0)
        return ACCEL_ERROR_NOT_FOUND;
    accel_result res = ACCEL_SUCCESS;
    pthread_mutex_lock(&dev->ready_lock);
    if (!dev->builtins[which])
        res = create(dev, which, &dev->builtins[which]);
    *fn = dev->builtins[which];
    pthread_mutex_unlock(&dev->ready_lock);
    return res;
}

static void vk_builtins_destroy_scratch(vk_device *dev)
{
    const vk_fns *vk = vk_fn(dev);
    if (dev->scratch_view)
        vk->vkDestroyBufferView(dev->device, dev->scratch_view, NULL);
    if (dev->scratch)
        vk->vkDestroyBuffer(dev->device, dev->scratch, NULL);
    if (dev->scratch_mem)
        vk->vkFreeMemory(dev->device, dev->scratch_mem, NULL);
    dev->scratch_view = VK_NULL_HANDLE;
    dev->scratch = VK_NULL_HANDLE;
    dev->scratch_mem = VK_NULL_HANDLE;
}

void vk_builtins_destroy(vk_device *dev)
{
    for (int b = 0; b < VK_BUILTIN_COUNT; b++)
        if (dev->builtins[b]) {
            vk_function_destroy(dev->builtins[b]);
            dev->builtins[b] = NULL;
        }
    vk_builtins_destroy_scratch(dev);
}
