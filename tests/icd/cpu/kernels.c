/* kernels.c — an ELF kernel library for the cpu driver's tests (the format
 * is described in docs/programs.md). */
#include <stdint.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT const char accel_kernel_metadata[] =
    "# kernels of the cpu driver's tests\n"
    "scale(memory, u32, f32)\n"
    "saxpy(memory, memory, f32)\n"
    "\n"
    "   kinds ( memory , u32, i32, u64, i64, f32, f64 )\r\n"
    "ids(memory)\n"
    "sleep_write(memory, u32, u32)   # sleep ms milliseconds, then write value\n"
    "nothing()";

/* x[i] *= factor for i < n. */
EXPORT void scale(uint64_t gid, void *x, uint32_t n, float factor);
EXPORT void scale(uint64_t gid, void *x, uint32_t n, float factor)
{
    if (gid < n)
        ((float *)x)[gid] *= factor;
}

/* y[i] += a * x[i] */
EXPORT void saxpy(uint64_t gid, void *x, void *y, float a);
EXPORT void saxpy(uint64_t gid, void *x, void *y, float a)
{
    ((float *)y)[gid] += a * ((const float *)x)[gid];
}

/* Records every argument, to check the calling convention of each kind:
 * one 48-byte record per work item. */
struct kinds_record {
    uint64_t gid;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    uint32_t pad;
    double f64;
};

EXPORT void kinds(uint64_t gid, void *out, uint32_t a, int32_t b, uint64_t c, int64_t d, float e, double f);
EXPORT void kinds(uint64_t gid, void *out, uint32_t a, int32_t b, uint64_t c, int64_t d, float e, double f)
{
    struct kinds_record r = {gid, a, b, c, d, e, 0, f};
    memcpy((char *)out + gid * sizeof(r), &r, sizeof(r));
}

/* out[gid] = gid, as u64. */
EXPORT void ids(uint64_t gid, void *out);
EXPORT void ids(uint64_t gid, void *out)
{
    ((uint64_t *)out)[gid] = gid;
}

/* Work item 0 sleeps ms milliseconds, then stores value (u32) at out. */
EXPORT void sleep_write(uint64_t gid, void *out, uint32_t ms, uint32_t value);
EXPORT void sleep_write(uint64_t gid, void *out, uint32_t ms, uint32_t value)
{
    if (gid != 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    __atomic_store_n((uint32_t *)out, value, __ATOMIC_RELEASE);
}

EXPORT void nothing(uint64_t gid);
EXPORT void nothing(uint64_t gid)
{
    (void)gid;
}
