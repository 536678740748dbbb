/* A shared object with a kernel-shaped function but no metadata. */
#include <stdint.h>

__attribute__((visibility("default"))) void lonely(uint64_t gid, void *p);
__attribute__((visibility("default"))) void lonely(uint64_t gid, void *p)
{
    (void)gid;
    (void)p;
}
