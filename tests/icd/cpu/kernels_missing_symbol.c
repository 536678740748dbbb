/* A kernel library that declares a kernel it does not define. */
#include <stdint.h>

__attribute__((visibility("default"))) const char accel_kernel_metadata[] = "present(memory)\n"
                                                                            "absent(memory, u32)\n";

__attribute__((visibility("default"))) void present(uint64_t gid, void *p);
__attribute__((visibility("default"))) void present(uint64_t gid, void *p)
{
    (void)gid;
    (void)p;
}
