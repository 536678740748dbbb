/* A kernel library whose metadata has a syntax error (line 3: no comma). */
#include <stdint.h>

__attribute__((visibility("default"))) const char accel_kernel_metadata[] = "# bad\n"
                                                                            "ok(memory)\n"
                                                                            "scale(memory, u32 f32)\n";

__attribute__((visibility("default"))) void ok(uint64_t gid, void *p);
__attribute__((visibility("default"))) void ok(uint64_t gid, void *p)
{
    (void)gid;
    (void)p;
}
