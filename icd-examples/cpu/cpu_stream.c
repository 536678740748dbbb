/* cpu_stream.c — the stream forms of the standard functions
 * (docs/standard-functions.md, "Stream forms"): crc32c.stream,
 * sha256.stream, zlib.deflate.stream and zlib.inflate.stream, whose whole
 * running state is a memory argument in the layout that document fixes,
 * so that a stream can move to another device between two chunks.
 *
 * crc32c.stream runs this driver's CRC-32C (ISA-L's where the build has
 * it) from the finished CRC in state; the others are the shared helpers of
 * icd-examples/common: SHA-256 over the documented state, zlib's raw
 * deflate primed with the window in state, and a streaming inflater whose
 * state is the documented one. sha256.stream compresses its blocks with
 * OpenSSL's (SHA extensions or AVX2, about 7x the portable function here):
 * its low-level context is loaded with H from the state, given whole
 * blocks only, and H read back; EVP hides the chaining values, and the
 * low-level calls are deprecated in OpenSSL 3 but still the documented way
 * to reach them. Without them (OpenSSL built with no-deprecated), the
 * portable function. A state these functions did not write (nor zeros)
 * fails the call with ACCEL_ERROR_INVALID_ARGUMENT, logged with the
 * function and argument. */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init and SHA256_Update: see above */
#include "cpu_internal.h"

#include <string.h>

#include <openssl/sha.h>

#include <sched.h>

#include "accel_deflate_stream.h"
#include "accel_inflate_stream.h"
#include "accel_sha256_stream.h"

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Whether two memory arguments share bytes, by their addresses (two memory
 * objects may map the same pages: an import of another's pointer): state
 * must not, since it is read while the others are written. */
static bool overlap(const accel_icd_arg *a, const accel_icd_arg *b)
{
    uintptr_t x = (uintptr_t)cpu__arg_ptr(a), y = (uintptr_t)cpu__arg_ptr(b);
    return a->u.mem.size && b->u.mem.size && x < y + b->u.mem.size && y < x + a->u.mem.size;
}

/* src overlapping an argument the call writes (the mask's bits). */
static accel_result src_overlaps(const char *fn, const accel_icd_arg *a, uint32_t written)
{
    for (uint32_t i = 1; i < 32; i++)
        if ((written >> i & 1) && overlap(&a[0], &a[i])) {
            CPU_LOG(ACCEL_LOG_WARN, "%s: src overlaps argument %u, which the call writes", fn, i);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    return ACCEL_SUCCESS;
}

static accel_result state_overlaps(const char *fn, const accel_icd_arg *a, uint32_t count, uint32_t state)
{
    for (uint32_t i = 0; i < count; i++)
        if (i != state && a[i].kind == ACCEL_ARG_MEMORY && overlap(&a[i], &a[state])) {
            CPU_LOG(ACCEL_LOG_WARN, "%s: state overlaps argument %u", fn, i);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    return ACCEL_SUCCESS;
}

/* crc32c.stream(src, state): state's u32 is the finished CRC so far. */
accel_result cpu__crc32c_stream(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (state_overlaps("crc32c.stream", a, 2, 1))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint8_t *st = cpu__arg_ptr(&a[1]);
    uint32_t crc = ~cpu__crc32c(~get_le32(st), cpu__arg_ptr(&a[0]), (size_t)a[0].u.mem.size);
    cpu__put_le32(st, crc);
    return ACCEL_SUCCESS;
}

#ifndef OPENSSL_NO_DEPRECATED_3_0
/* The compression function over whole blocks, OpenSSL's: with no partial
 * block in the context (num 0) and only multiples of 64 bytes, Update runs
 * the block function on h directly; the bit counts it keeps are never
 * used (no Final). */
static void openssl_blocks(uint32_t h[8], const uint8_t *blocks, size_t nblocks)
{
    SHA256_CTX c;
    SHA256_Init(&c);
    for (int i = 0; i < 8; i++)
        c.h[i] = h[i];
    SHA256_Update(&c, blocks, nblocks * 64);
    for (int i = 0; i < 8; i++)
        h[i] = c.h[i];
}
#define SHA256_BLOCKS openssl_blocks
#else
#define SHA256_BLOCKS accel_sha256_blocks
#endif

/* sha256.stream(src, state, result, final). */
accel_result cpu__sha256_stream(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    uint64_t rsize = a[2].u.mem.size;
    bool final = a[3].u.u32 != 0;
    if (a[1].u.mem.size < ACCEL_SHA256_STREAM_STATE_SIZE || (rsize && rsize < 32) || (final && rsize < 32))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (state_overlaps("sha256.stream", a, 3, 1) || src_overlaps("sha256.stream", a, 1u << 2))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint8_t digest[32];
    if (!accel_sha256_stream_with(cpu__arg_ptr(&a[1]), cpu__arg_ptr(&a[0]), a[0].u.mem.size, final, digest,
                                  SHA256_BLOCKS)) {
        CPU_LOG(ACCEL_LOG_WARN, "sha256.stream: argument state is not a sha256.stream state");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (final)
        memcpy(cpu__arg_ptr(&a[2]), digest, sizeof(digest));
    return ACCEL_SUCCESS;
}

/* zlib.deflate.stream(src, dst, out_size, level, state, final). */
accel_result cpu__zlib_deflate_stream(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    if (a[2].u.mem.size < 8 || a[4].u.mem.size < ACCEL_DEFLATE_STREAM_STATE_SIZE)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (state_overlaps("zlib.deflate.stream", a, 6, 4) ||
        src_overlaps("zlib.deflate.stream", a, 1u << 1 | 1u << 2))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint64_t produced = 0;
    /* As many segments side by side as the worker may use CPUs (its
     * partition's, or the process's). */
    cpu_set_t cpus;
    unsigned threads = 1;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 1)
        threads = (unsigned)CPU_COUNT(&cpus);
    accel_deflate_stream_result r =
        accel_deflate_stream_mt(cpu__arg_ptr(&a[4]), cpu__arg_ptr(&a[0]), a[0].u.mem.size, cpu__arg_ptr(&a[1]),
                                a[1].u.mem.size, a[3].u.i32, a[5].u.u32 != 0, threads, &produced);
    switch (r) {
    case ACCEL_DEFLATE_STREAM_OK: cpu__put_le64(cpu__arg_ptr(&a[2]), produced); return ACCEL_SUCCESS;
    case ACCEL_DEFLATE_STREAM_BAD_STATE:
        CPU_LOG(ACCEL_LOG_WARN, "zlib.deflate.stream: argument state is not a zlib.deflate.stream state");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    case ACCEL_DEFLATE_STREAM_NO_MEMORY: return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    default: /* a bad level, dst too small */ return ACCEL_ERROR_INVALID_ARGUMENT;
    }
}

/* zlib.inflate.stream(src, dst, progress, state). */
accel_result cpu__zlib_inflate_stream(cpu_scratch *scratch, const accel_icd_arg *a)
{
    (void)scratch;
    if (a[2].u.mem.size < 24 || a[3].u.mem.size < ACCEL_INFLATE_STREAM_STATE_SIZE)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (state_overlaps("zlib.inflate.stream", a, 4, 3))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    /* dst is written while src is read, progress after both. */
    if (overlap(&a[0], &a[1]) || overlap(&a[2], &a[0]) || overlap(&a[2], &a[1])) {
        CPU_LOG(ACCEL_LOG_WARN, "zlib.inflate.stream: src, dst and progress must not overlap");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    uint64_t used = 0, produced = 0;
    accel_inflate_status s = accel_inflate_stream(cpu__arg_ptr(&a[3]), cpu__arg_ptr(&a[0]), a[0].u.mem.size,
                                                  cpu__arg_ptr(&a[1]), a[1].u.mem.size, &used, &produced);
    if (s == ACCEL_INFLATE_BAD_STATE) {
        CPU_LOG(ACCEL_LOG_WARN, "zlib.inflate.stream: argument state is not a zlib.inflate.stream state");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (s == ACCEL_INFLATE_CORRUPT)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint8_t *p = cpu__arg_ptr(&a[2]);
    cpu__put_le64(p, used);
    cpu__put_le64(p + 8, produced);
    cpu__put_le32(p + 16, (uint32_t)s);
    cpu__put_le32(p + 20, 0);
    return ACCEL_SUCCESS;
}
