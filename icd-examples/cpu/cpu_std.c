/* cpu_std.c — the standard functions (docs/standard-functions.md), the
 * reference every other device is compared with.
 *
 * Each runs on a queue's worker thread over arguments that queue_submit has
 * already checked (count, kinds, ranges inside their memory objects). A
 * function writes only inside its ranges, and returns
 * ACCEL_ERROR_INVALID_ARGUMENT, which fails the fence, for an output range
 * that is too small or a corrupt compressed stream. The checksums and the
 * digest are computed in cpu_hash.c, the zlib streams in cpu_zlib.c; what
 * they keep between calls lives in the queue's cpu_scratch. */
#include "cpu_internal.h"

#include <string.h>

static accel_result run_noop(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    (void)a;
    return ACCEL_SUCCESS;
}

/* copy(src, dst): src.size bytes to the start of dst; the ranges may
 * overlap (the same object twice). */
static accel_result run_copy(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    uint64_t n = a[0].u.mem.size;
    if (a[1].u.mem.size < n)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (n)
        memmove(cpu__arg_ptr(&a[1]), cpu__arg_ptr(&a[0]), (size_t)n);
    return ACCEL_SUCCESS;
}

/* fill(dst, pattern): the pattern's 4 little-endian bytes over dst, the
 * last copy cut short. Doubling memcpy after the first 4 bytes. */
static accel_result run_fill(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    uint64_t n = a[0].u.mem.size;
    uint8_t *p = cpu__arg_ptr(&a[0]);
    uint8_t pat[4];
    cpu__put_le32(pat, a[1].u.u32);
    if (!n)
        return ACCEL_SUCCESS;
    size_t first = n < 4 ? (size_t)n : 4;
    memcpy(p, pat, first);
    size_t done = first;
    while (done < n) {
        size_t chunk = done;
        if (chunk > (1u << 20))
            chunk = 1u << 20; /* stay a multiple of 4 and cache-friendly */
        if (chunk > n - done)
            chunk = (size_t)(n - done);
        memcpy(p + done, p, chunk);
        done += chunk;
    }
    return ACCEL_SUCCESS;
}

static accel_result run_crc32c(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint32_t crc = ~cpu__crc32c(0xffffffffu, cpu__arg_ptr(&a[0]), (size_t)a[0].u.mem.size);
    cpu__put_le32(cpu__arg_ptr(&a[1]), crc);
    return ACCEL_SUCCESS;
}

static accel_result run_sha256(cpu_scratch *scratch, const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 32)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint8_t digest[32];
    accel_result r = cpu__sha256(scratch, cpu__arg_ptr(&a[0]), (size_t)a[0].u.mem.size, digest);
    if (r == ACCEL_SUCCESS)
        memcpy(cpu__arg_ptr(&a[1]), digest, sizeof(digest));
    return r;
}

#define MEM ACCEL_ARG_MEMORY
static const cpu_function builtins[] = {
    {.name = "accel.noop", .arg_count = 0, .builtin = run_noop},
    {.name = "accel.copy", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_copy},
    {.name = "accel.fill", .arg_count = 2, .arg_kinds = {MEM, ACCEL_ARG_U32}, .builtin = run_fill},
    {.name = "crc32c", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_crc32c},
    {.name = "sha256", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_sha256},
    {.name = "zlib.deflate",
     .arg_count = 4,
     .arg_kinds = {MEM, MEM, MEM, ACCEL_ARG_I32},
     .builtin = cpu__zlib_deflate},
    {.name = "zlib.inflate", .arg_count = 3, .arg_kinds = {MEM, MEM, MEM}, .builtin = cpu__zlib_inflate},
    /* The stream forms (cpu_stream.c). */
    {.name = "crc32c.stream", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = cpu__crc32c_stream},
    {.name = "sha256.stream",
     .arg_count = 4,
     .arg_kinds = {MEM, MEM, MEM, ACCEL_ARG_U32},
     .builtin = cpu__sha256_stream},
    {.name = "zlib.deflate.stream",
     .arg_count = 6,
     .arg_kinds = {MEM, MEM, MEM, ACCEL_ARG_I32, MEM, ACCEL_ARG_U32},
     .builtin = cpu__zlib_deflate_stream},
    {.name = "zlib.inflate.stream",
     .arg_count = 4,
     .arg_kinds = {MEM, MEM, MEM, MEM},
     .builtin = cpu__zlib_inflate_stream},
};
#undef MEM

const cpu_function *cpu__builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

void cpu__scratch_free(cpu_scratch *scratch)
{
    cpu__zlib_free(scratch);
    cpu__sha256_free(scratch);
}
