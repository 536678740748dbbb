/* accel_host_memory.c — see accel_host_memory.h. */
#include "accel_host_memory.h"

#include <stdbool.h>
#include <string.h>

static bool range_ok(uint64_t len, uint64_t offset, uint64_t size)
{
    return offset <= len && size <= len - offset;
}

accel_icd_result accel_host_memory_write(uint8_t *base, uint64_t len, uint64_t offset, const void *src,
                                         uint64_t size)
{
    if (!range_ok(len, offset, size) || (size && !src))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (size)
        memcpy(base + offset, src, (size_t)size);
    return ACCEL_SUCCESS;
}

accel_icd_result accel_host_memory_read(const uint8_t *base, uint64_t len, uint64_t offset, void *dst,
                                        uint64_t size)
{
    if (!range_ok(len, offset, size) || (size && !dst))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (size)
        memcpy(dst, base + offset, (size_t)size);
    return ACCEL_SUCCESS;
}
