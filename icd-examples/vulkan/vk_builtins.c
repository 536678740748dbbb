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
 * ceil(dst / 8 KiB) + ceil(src / 4 KiB) + 16 dispatches, enough for any
 * stream zlib writes; a stream needing more fails as unsupported.
 *
 * Built-ins are created per device on first use and owned by the device;
 * function_release does nothing for them.
 */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

#include "copy_spv.h"
#include "crc32c_spv.h"
#include "deflate_copy_spv.h"
#include "deflate_finish_spv.h"
#include "fill_spv.h"
#include "inflate_spv.h"
#include "sha256_spv.h"

/* Bytes of the built-ins' push constants (shaders/common.glsl). */
#define BUILTIN_PUSH_SIZE 32

typedef struct builtin_pass {
    const uint32_t *code;
    size_t size;
    bool grid;
    uint32_t chunk; /* see vk_function.pass_chunk; must match the shader's CHUNK */
} builtin_pass;

typedef struct builtin_spec {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind kinds[3];
    uint32_t pass_count;
    builtin_pass passes[VK_MAX_PASSES];
} builtin_spec;

#define M ACCEL_ARG_MEMORY
static const builtin_spec specs[VK_BUILTIN_COUNT] = {
    [VK_BUILTIN_NOOP] = {"accel.noop", 0, {0}, 0, {{0}}},
    [VK_BUILTIN_COPY] = {"accel.copy", 2, {M, M}, 1, {{copy_spv, sizeof(copy_spv), true, 0}}},
    [VK_BUILTIN_FILL] = {"accel.fill", 2, {M, ACCEL_ARG_U32}, 1, {{fill_spv, sizeof(fill_spv), true, 0}}},
    [VK_BUILTIN_CRC32C] = {"crc32c", 2, {M, M}, 1, {{crc32c_spv, sizeof(crc32c_spv), false, 131072}}},
    [VK_BUILTIN_SHA256] = {"sha256", 2, {M, M}, 1, {{sha256_spv, sizeof(sha256_spv), false, 16384}}},
    [VK_BUILTIN_DEFLATE] = {"zlib.deflate",
                            3,
                            {M, M, M},
                            2,
                            {{deflate_copy_spv, sizeof(deflate_copy_spv), true, 0},
                             {deflate_finish_spv, sizeof(deflate_finish_spv), false, 131072}}},
    [VK_BUILTIN_INFLATE] = {"zlib.inflate", 3, {M, M, M}, 1, {{inflate_spv, sizeof(inflate_spv), false, VK_CHUNK_INFLATE}}},
};
#undef M

static accel_result create(vk_device *dev, int which, vk_function **out)
{
    const builtin_spec *s = &specs[which];
    vk_function *fn = calloc(1, sizeof(*fn));
    if (!fn)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    fn->dev = dev;
    fn->builtin = which;
    fn->arg_count = s->arg_count;
    fn->local_size[0] = fn->local_size[1] = fn->local_size[2] = 1;
    uint32_t memory = 0;
    for (uint32_t i = 0; i < s->arg_count; i++) {
        fn->arg_kinds[i] = s->kinds[i];
        memory += s->kinds[i] == ACCEL_ARG_MEMORY;
    }
    fn->pass_count = s->pass_count;
    fn->binding_count = s->pass_count ? memory + 1 : 0;
    fn->push_size = s->pass_count ? BUILTIN_PUSH_SIZE : 0;
    accel_result res = vk_make_layouts(dev, fn->binding_count, fn->push_size, &fn->set_layout, &fn->layout);
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
