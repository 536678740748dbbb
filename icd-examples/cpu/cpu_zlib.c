/* cpu_zlib.c — zlib.deflate and zlib.inflate (docs/standard-functions.md):
 * zlib streams (RFC 1950) over libdeflate.
 *
 * libdeflate works on whole buffers, which is what these functions are
 * given, and is the fastest of the libraries at hand: on the test corpus,
 * its inflate ran 1.0-1.25x as fast as ISA-L's igzip and about 2x zlib's,
 * and its level 6 compressed about 2.4x as fast as zlib's level 6, to 0.99x
 * its size. zlib levels 1 to 9 map to libdeflate's levels of the same
 * number (its 10 to 12 are slower than any zlib level and not offered);
 * level 0, and any stream that would not fit dst compressed or come out
 * larger than stored blocks, is written here as stored blocks, whose size
 * is within the bound docs/standard-functions.md promises: the output
 * never exceeds it, however large dst is.
 *
 * A compressor costs hundreds of KiB to allocate and set up (200 KiB at
 * level 1, 650 KiB at 2 to 9), so each queue keeps one per level it has
 * used (cpu_scratch), and one decompressor (11 KiB). */
#include "cpu_internal.h"

#include <string.h>

#include <libdeflate.h>

#define ZLIB_DEFAULT_LEVEL 6
#define STORED_MAX         65535u /* bytes in one stored block */

/* libdeflate wants a non-NULL pointer even for an empty buffer. */
static uint8_t empty_buffer[1];

static uint8_t *ptr_or_empty(const accel_icd_arg *a)
{
    uint8_t *p = cpu__arg_ptr(a);
    return p ? p : empty_buffer;
}

/* The size of src as a stream of stored blocks: header, one 5-byte block
 * header per STORED_MAX bytes (one empty block for empty input), Adler-32.
 * At most src.size + 5 * ceil(src.size / 65535) + 11. */
static uint64_t stored_size(uint64_t n)
{
    uint64_t blocks = n ? (n + STORED_MAX - 1) / STORED_MAX : 1;
    return 2 + 5 * blocks + n + 4;
}

/* src as a zlib stream of stored blocks into dst; its size, or 0 if dst
 * is too small (then nothing is written). */
static uint64_t write_stored(const uint8_t *src, uint64_t n, uint8_t *dst, uint64_t cap)
{
    uint64_t size = stored_size(n);
    if (cap < size)
        return 0;
    uint8_t *o = dst;
    *o++ = 0x78; /* deflate, 32 KiB window */
    *o++ = 0x01; /* FLEVEL 0 (fastest), no dictionary, FCHECK */
    uint64_t done = 0;
    do {
        uint32_t len = n - done < STORED_MAX ? (uint32_t)(n - done) : STORED_MAX;
        o[0] = done + len == n; /* BFINAL on the last, BTYPE 00 */
        o[1] = (uint8_t)len;
        o[2] = (uint8_t)(len >> 8);
        o[3] = (uint8_t)~len;
        o[4] = (uint8_t)(~len >> 8);
        memcpy(o + 5, src + done, len);
        o += 5 + len;
        done += len;
    } while (done < n);
    uint32_t adler = libdeflate_adler32(1, src, (size_t)n);
    for (int i = 0; i < 4; i++) /* big-endian, unlike the rest of this API */
        o[i] = (uint8_t)(adler >> (24 - 8 * i));
    return size;
}

/* deflate(src, dst, out_size, level). */
accel_result cpu__zlib_deflate(cpu_scratch *scratch, const accel_icd_arg *a)
{
    int32_t level = a[3].u.i32;
    if (a[2].u.mem.size < 8 || level < -1 || level > 9)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (level == -1)
        level = ZLIB_DEFAULT_LEVEL;
    const uint8_t *src = ptr_or_empty(&a[0]);
    uint8_t *dst = ptr_or_empty(&a[1]);
    uint64_t n = a[0].u.mem.size, cap = a[1].u.mem.size, produced = 0;
    if (level > 0) {
        struct libdeflate_compressor **c = &scratch->compressor[level];
        if (!*c && !(*c = libdeflate_alloc_compressor(level)))
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        /* Room for no more than stored blocks take: libdeflate's own
         * stored blocks, cut where its blocks end, can come out a little
         * larger than the bound (from about 4 MiB of incompressible data),
         * and an output as large is never better. 0 when the stream does
         * not fit. */
        uint64_t room = cap < stored_size(n) ? cap : stored_size(n);
        produced = libdeflate_zlib_compress(*c, src, (size_t)n, dst, (size_t)room);
    }
    if (!produced && !(produced = write_stored(src, n, dst, cap)))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu__put_le64(cpu__arg_ptr(&a[2]), produced);
    return ACCEL_SUCCESS;
}

/* inflate(src, dst, out_size): exactly one zlib stream, all of src.
 * libdeflate checks the header (method, window, FCHECK; a preset
 * dictionary is an error) and the Adler-32, and reports how much of src
 * the stream took. */
accel_result cpu__zlib_inflate(cpu_scratch *scratch, const accel_icd_arg *a)
{
    if (a[2].u.mem.size < 8)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!scratch->decompressor && !(scratch->decompressor = libdeflate_alloc_decompressor()))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    size_t n = (size_t)a[0].u.mem.size, used = 0, produced = 0;
    enum libdeflate_result r =
        libdeflate_zlib_decompress_ex(scratch->decompressor, ptr_or_empty(&a[0]), n, ptr_or_empty(&a[1]),
                                      (size_t)a[1].u.mem.size, &used, &produced);
    /* BAD_DATA (corrupt or truncated), INSUFFICIENT_SPACE (dst too small),
     * or bytes after the stream. */
    if (r != LIBDEFLATE_SUCCESS || used != n)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu__put_le64(cpu__arg_ptr(&a[2]), produced);
    return ACCEL_SUCCESS;
}

void cpu__zlib_free(cpu_scratch *scratch)
{
    for (size_t i = 0; i < sizeof(scratch->compressor) / sizeof(scratch->compressor[0]); i++) {
        libdeflate_free_compressor(scratch->compressor[i]);
        scratch->compressor[i] = NULL;
    }
    libdeflate_free_decompressor(scratch->decompressor);
    scratch->decompressor = NULL;
}
