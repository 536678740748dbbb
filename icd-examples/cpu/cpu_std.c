/* cpu_std.c — the standard functions (docs/standard-functions.md), the
 * reference every other device is compared with.
 *
 * Each runs on a queue's worker thread over arguments that queue_submit has
 * already checked (count, kinds, ranges inside their memory objects). A
 * function writes only inside its ranges, and returns
 * ACCEL_ERROR_INVALID_ARGUMENT, which fails the fence, for an output range
 * that is too small or a corrupt compressed stream. */
#include "cpu_internal.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

/* zlib wants a non-NULL pointer even for an empty buffer. */
static uint8_t empty_buffer[1];

static uint8_t *ptr_or_empty(const accel_icd_arg *a)
{
    uint8_t *p = cpu__arg_ptr(a);
    return p ? p : empty_buffer;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static accel_result run_noop(const accel_icd_arg *a)
{
    (void)a;
    return ACCEL_SUCCESS;
}

/* copy(src, dst): src.size bytes to the start of dst; the ranges may
 * overlap (the same object twice). */
static accel_result run_copy(const accel_icd_arg *a)
{
    uint64_t n = a[0].u.mem.size;
    if (a[1].u.mem.size < n)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (n)
        memmove(cpu__arg_ptr(&a[1]), cpu__arg_ptr(&a[0]), (size_t)n);
    return ACCEL_SUCCESS;
}

/* fill(dst, pattern): the pattern's 4 little-endian bytes over dst, the
 * last copy cut short. Doubling memcpy after the first 4 bytes. */
static accel_result run_fill(const accel_icd_arg *a)
{
    uint64_t n = a[0].u.mem.size;
    uint8_t *p = cpu__arg_ptr(&a[0]);
    uint8_t pat[4];
    put_le32(pat, a[1].u.u32);
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

static accel_result run_crc32c(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint32_t crc = ~cpu__crc32c(0xffffffffu, cpu__arg_ptr(&a[0]), (size_t)a[0].u.mem.size);
    put_le32(cpu__arg_ptr(&a[1]), crc);
    return ACCEL_SUCCESS;
}

static accel_result run_sha256(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 32)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu_sha256 s;
    cpu__sha256_init(&s);
    if (a[0].u.mem.size)
        cpu__sha256_update(&s, cpu__arg_ptr(&a[0]), (size_t)a[0].u.mem.size);
    uint8_t digest[32];
    cpu__sha256_final(&s, digest);
    memcpy(cpu__arg_ptr(&a[1]), digest, sizeof(digest));
    return ACCEL_SUCCESS;
}

/* zlib counts in uInt: feed ranges larger than that in pieces. */
static void refill(uInt *avail, uint64_t *left)
{
    if (*avail == 0 && *left) {
        uInt take = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
        *avail = take;
        *left -= take;
    }
}

/* One zlib stream of src at `level` into dst; INVALID_ARGUMENT if it does
 * not fit. */
static accel_result deflate_level(const accel_icd_arg *a, int level)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int zr = deflateInit(&z, level);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_DRIVER_INTERNAL;
    uint64_t in_left = a[0].u.mem.size, out_left = a[1].u.mem.size;
    z.next_in = ptr_or_empty(&a[0]);
    z.next_out = ptr_or_empty(&a[1]);
    accel_result r = ACCEL_SUCCESS;
    for (;;) {
        refill(&z.avail_in, &in_left);
        refill(&z.avail_out, &out_left);
        zr = deflate(&z, in_left == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            break;
        if (z.avail_out == 0 && out_left == 0) {
            r = ACCEL_ERROR_INVALID_ARGUMENT; /* dst too small: more to write */
            break;
        }
        if (zr != Z_OK) {
            r = ACCEL_ERROR_DRIVER_INTERNAL;
            break;
        }
    }
    uint64_t produced = a[1].u.mem.size - out_left - z.avail_out;
    deflateEnd(&z);
    if (r == ACCEL_SUCCESS)
        put_le64(cpu__arg_ptr(&a[2]), produced);
    return r;
}

/* deflate(src, dst, out_size): zlib format, level 6. Incompressible input
 * can come out a little larger than the bound docs/standard-functions.md
 * promises (the size of a stream of stored blocks); such input is then
 * written as stored blocks (level 0), which always fits that bound. */
static accel_result run_deflate(const accel_icd_arg *a)
{
    if (a[2].u.mem.size < 8)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result r = deflate_level(a, 6);
    if (r == ACCEL_ERROR_INVALID_ARGUMENT)
        r = deflate_level(a, 0);
    return r;
}

/* inflate(src, dst, out_size): exactly one zlib stream, all of src. */
static accel_result run_inflate(const accel_icd_arg *a)
{
    if (a[2].u.mem.size < 8)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    z_stream z;
    memset(&z, 0, sizeof(z));
    int zr = inflateInit(&z);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_DRIVER_INTERNAL;
    uint64_t in_left = a[0].u.mem.size, out_left = a[1].u.mem.size;
    z.next_in = ptr_or_empty(&a[0]);
    z.next_out = ptr_or_empty(&a[1]);
    accel_result r = ACCEL_SUCCESS;
    for (;;) {
        refill(&z.avail_in, &in_left);
        refill(&z.avail_out, &out_left);
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            if (z.avail_in || in_left)
                r = ACCEL_ERROR_INVALID_ARGUMENT; /* bytes after the stream */
            break;
        }
        if (zr == Z_MEM_ERROR) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            break;
        }
        if (zr != Z_OK) {
            /* Z_DATA_ERROR, Z_NEED_DICT; or Z_BUF_ERROR: no progress was
             * possible although the pieces were refilled, so either the
             * stream is truncated or dst is too small. */
            r = ACCEL_ERROR_INVALID_ARGUMENT;
            break;
        }
    }
    uint64_t produced = a[1].u.mem.size - out_left - z.avail_out;
    inflateEnd(&z);
    if (r == ACCEL_SUCCESS)
        put_le64(cpu__arg_ptr(&a[2]), produced);
    return r;
}

#define MEM ACCEL_ARG_MEMORY
static const cpu_function builtins[] = {
    {.name = "accel.noop", .arg_count = 0, .builtin = run_noop},
    {.name = "accel.copy", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_copy},
    {.name = "accel.fill", .arg_count = 2, .arg_kinds = {MEM, ACCEL_ARG_U32}, .builtin = run_fill},
    {.name = "crc32c", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_crc32c},
    {.name = "sha256", .arg_count = 2, .arg_kinds = {MEM, MEM}, .builtin = run_sha256},
    {.name = "zlib.deflate", .arg_count = 3, .arg_kinds = {MEM, MEM, MEM}, .builtin = run_deflate},
    {.name = "zlib.inflate", .arg_count = 3, .arg_kinds = {MEM, MEM, MEM}, .builtin = run_inflate},
};
#undef MEM

const cpu_function *cpu__builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}
