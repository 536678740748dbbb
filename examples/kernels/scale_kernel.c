/* scale: data[i] *= factor for i < n, for the cpu driver: a shared object
 * with its kernel description (docs/programs.md). Signature (memory, u32, f32). */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT const char accel_kernel_metadata[] = "scale(memory, u32, f32)\n";

EXPORT void scale(uint64_t gid, void *data, uint32_t n, float factor);
EXPORT void scale(uint64_t gid, void *data, uint32_t n, float factor)
{
    if (gid < n)
        ((float *)data)[gid] *= factor;
}
