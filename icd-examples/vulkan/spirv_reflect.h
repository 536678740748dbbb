/* spirv_reflect.h — a small, bounded SPIR-V reader for the vulkan driver.
 *
 * Reads what the driver needs to run a compute module through the accel
 * signature convention, and nothing else:
 *   - the GLCompute entry points and their LocalSize (OpExecutionMode
 *     LocalSize, or LocalSizeId naming OpConstant values; a constant
 *     decorated BuiltIn WorkgroupSize overrides both);
 *   - storage buffers (StorageBuffer class, or Uniform class with a
 *     BufferBlock struct) at descriptor set 0: binding b is memory
 *     argument b, and the bindings must be exactly 0..N-1;
 *   - the push-constant block: every member a 32- or 64-bit int or float
 *     with an Offset; members in offset order are the scalar arguments
 *     that follow the memory arguments.
 * Anything else a compute module could ask for through descriptors
 * (uniform buffers, images, samplers, other sets) is rejected with a
 * message, so that a module whose signature cannot be expressed never
 * loads.
 *
 * The input is untrusted: every read is bounded by the module's size, ids
 * are checked against the header's bound, and the bound itself must be
 * plausible for the module's size (at most 4 ids per word + 64), so a tiny
 * input cannot make the reader allocate much. Not thread-hostile: no
 * global state. Only libc and accel_types.h.
 */
#ifndef ACCEL_VK_SPIRV_REFLECT_H
#define ACCEL_VK_SPIRV_REFLECT_H

#include <accel/accel_types.h>

#include <stddef.h>
#include <stdint.h>

#define SPV_MAX_ENTRY_POINTS 64

typedef struct spv_entry_point {
    char name[ACCEL_MAX_FUNCTION_NAME];
    uint32_t local_size[3];
} spv_entry_point;

typedef struct spv_reflection {
    uint32_t entry_count;
    spv_entry_point entries[SPV_MAX_ENTRY_POINTS];
    uint32_t buffer_count; /* memory arguments: bindings 0..buffer_count-1 */
    uint32_t scalar_count; /* scalar arguments, after the memory arguments */
    accel_arg_kind scalar_kinds[ACCEL_MAX_ARGS];
    uint32_t scalar_offsets[ACCEL_MAX_ARGS]; /* byte offsets in the push-constant block */
    uint32_t push_size;                      /* bytes of push constants used */
} spv_reflection;

/*
 * Reflect `size` bytes of SPIR-V at `data` (any alignment; either byte
 * order). Returns ACCEL_SUCCESS and fills *out, or ACCEL_ERROR_INVALID_ARGUMENT
 * (malformed module) / ACCEL_ERROR_UNSUPPORTED (valid, but outside the
 * convention) with a NUL-terminated reason in msg (truncated to msg_size),
 * or ACCEL_ERROR_OUT_OF_HOST_MEMORY. *out is zeroed first in every case.
 */
accel_result spv_reflect(const void *data, size_t size, spv_reflection *out, char *msg, size_t msg_size);

/* The entry point called `name`, or NULL. */
const spv_entry_point *spv_find_entry(const spv_reflection *r, const char *name);

#endif
