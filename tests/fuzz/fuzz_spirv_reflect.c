/* fuzz_spirv_reflect.c — libFuzzer target for the vulkan driver's SPIR-V
 * reader (icd-examples/vulkan/spirv_reflect.c).
 *
 * Any byte string must give either a reflection that obeys the reader's
 * promises or a rejection with a reason, without crashing, reading outside
 * the input or leaking. The same file is linked with replay.c into the
 * normal test run, which replays tests/corpus/spirv/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spirv_reflect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t empty[1];
    spv_reflection r;
    char msg[128];
    memset(msg, 'x', sizeof(msg));
    accel_result res = spv_reflect(size ? data : empty, size, &r, msg, sizeof(msg));
    if (!memchr(msg, '\0', sizeof(msg)))
        abort();
    switch (res) {
    case ACCEL_SUCCESS:
        if (msg[0] || r.entry_count == 0 || r.entry_count > SPV_MAX_ENTRY_POINTS ||
            r.buffer_count + r.scalar_count > ACCEL_MAX_ARGS)
            abort();
        for (uint32_t i = 0; i < r.entry_count; i++) {
            const spv_entry_point *e = &r.entries[i];
            if (!memchr(e->name, '\0', sizeof(e->name)) || !e->name[0] || spv_find_entry(&r, e->name) == NULL)
                abort();
            if (!e->local_size[0] || !e->local_size[1] || !e->local_size[2])
                abort();
        }
        for (uint32_t i = 0; i < r.scalar_count; i++) {
            accel_arg_kind k = r.scalar_kinds[i];
            uint32_t width = k == ACCEL_ARG_U64 || k == ACCEL_ARG_I64 || k == ACCEL_ARG_F64 ? 8 : 4;
            if (k < ACCEL_ARG_U32 || k > ACCEL_ARG_F64 || r.scalar_offsets[i] % width ||
                r.scalar_offsets[i] + width > r.push_size || (i && r.scalar_offsets[i] <= r.scalar_offsets[i - 1]))
                abort();
        }
        break;
    case ACCEL_ERROR_INVALID_ARGUMENT:
    case ACCEL_ERROR_UNSUPPORTED:
        if (!msg[0] || r.entry_count || r.buffer_count || r.scalar_count)
            abort();
        break;
    case ACCEL_ERROR_OUT_OF_HOST_MEMORY: break;
    default: abort();
    }
    return 0;
}
