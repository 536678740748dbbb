/* conf_kernels.c — the suite's ELF kernel library (docs/programs.md): the
 * program that devices loading ACCEL_PROGRAM_FORMAT_ELF run. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT const char accel_kernel_metadata[] = "conf_add(memory, u32, u32)\n";

EXPORT void conf_add(uint64_t gid, void *data, uint32_t n, uint32_t value);

void conf_add(uint64_t gid, void *data, uint32_t n, uint32_t value)
{
    if (gid < n)
        ((uint32_t *)data)[gid] += value;
}
