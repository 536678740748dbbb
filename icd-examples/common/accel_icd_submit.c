/* accel_icd_submit.c — see accel_icd_submit.h. */
#include "accel_icd_submit.h"

#include <string.h>

void accel_submit_read(const accel_icd_submit *in, accel_icd_submit *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out, in, in->struct_size < sizeof(*out) ? in->struct_size : sizeof(*out));
}

accel_icd_result accel_submit_check_args(const accel_icd_submit *s, uint32_t arg_count,
                                         const accel_arg_kind *arg_kinds,
                                         accel_submit_memory_size_fn memory_size)
{
    if (s->arg_count != arg_count || (s->arg_count && !s->args))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < s->arg_count; i++) {
        const accel_icd_arg *a = &s->args[i];
        if (a->kind != arg_kinds[i])
            return ACCEL_ERROR_INVALID_ARGUMENT;
        if (a->kind == ACCEL_ARG_MEMORY) {
            if (!a->u.mem.memory)
                return ACCEL_ERROR_INVALID_ARGUMENT;
            uint64_t size = memory_size(a->u.mem.memory);
            if (a->u.mem.offset > size || a->u.mem.size > size - a->u.mem.offset)
                return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    if (s->wait_fence_count && !s->wait_fences)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    return ACCEL_SUCCESS;
}
