/* bench_functions_crc.c — CRC-32C for bench_functions: a bytewise table
 * version (the reference) and the single-core figure the cpu driver is held
 * to, three interleaved SSE4.2 crc32 streams.
 *
 * Why three streams: the crc32 instruction has a latency of 3 cycles and a
 * throughput of 1 per cycle, so one dependent chain runs at a third of what
 * a core can do. Each block is cut into three equal parts, each part gets its
 * own chain, and the three CRCs are joined afterwards. Joining uses
 * linearity: the CRC register after A||B is reg(A) * x^(8|B|) + reg0(B) (mod
 * the polynomial), where reg0 starts from zero; multiplying a 32-bit CRC by a
 * fixed power of x is one carry-less multiply (PCLMULQDQ) followed by one
 * crc32 instruction that reduces the 64-bit product. */
#include "bench_functions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define BF_HAVE_X86 1
#endif

#define POLY 0x82f63b78u /* Castagnoli, reflected */

static uint32_t crc_table[256];
static bool crc_table_ready;

uint32_t bf_crc32c_bytewise(const void *data, size_t size)
{
    if (!crc_table_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
            crc_table[i] = c;
        }
        crc_table_ready = true;
    }
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < size; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#ifdef BF_HAVE_X86

/* Bytes per stream: long blocks for the bulk (the join costs ~10 cycles,
 * nothing next to 3 x 8 KiB), short ones so that medium inputs and the tail
 * of long ones still run three streams. */
#define LONG_PART  8192u
#define SHORT_PART 256u

/* x^n mod P in the reflected form, where bit 31 is x^0 and bit 0 is x^31:
 * multiplying by x is a right shift, and x^32 folds back to POLY. */
static uint32_t xpow_mod(uint64_t n)
{
    uint32_t v = 0x80000000u;
    while (n--)
        v = v & 1 ? (v >> 1) ^ POLY : v >> 1;
    return v;
}

/* The multiplier that shifts a CRC register over `bytes` zero bytes. The
 * carry-less product of two reflected 32-bit values is their product times
 * x^-1 when read as the 64 message bits crc32_u64 takes, and crc32_u64(0, m)
 * is m * x^32: so the constant is x^(8 * bytes - 33). */
static uint64_t shift_constant(size_t bytes)
{
    return xpow_mod(8 * (uint64_t)bytes - 33);
}

static uint64_t k_long, k_short;

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_shift(uint32_t crc, uint64_t k)
{
    __m128i prod = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)crc), _mm_cvtsi64_si128((long long)k), 0);
    return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(prod));
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Three streams over blocks of 3 * part bytes while they last; advances *p
 * and *n past what it consumed. part is a multiple of 8. */
__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_blocks(uint32_t crc, const uint8_t **pp,
                                                                    size_t *np, size_t part, uint64_t k)
{
    const uint8_t *p = *pp;
    size_t n = *np;
    while (n >= 3 * part) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        for (size_t i = 0; i < part; i += 8) {
            c0 = _mm_crc32_u64(c0, load64(p + i));
            c1 = _mm_crc32_u64(c1, load64(p + part + i));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * part + i));
        }
        crc = crc_shift((uint32_t)c0, k) ^ (uint32_t)c1;
        crc = crc_shift(crc, k) ^ (uint32_t)c2;
        p += 3 * part;
        n -= 3 * part;
    }
    *pp = p;
    *np = n;
    return crc;
}

bool bf_crc32c_3way_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
}

__attribute__((target("sse4.2,pclmul"))) uint32_t bf_crc32c_3way(const void *data, size_t size)
{
    if (!k_long) {
        k_long = shift_constant(LONG_PART);
        k_short = shift_constant(SHORT_PART);
    }
    const uint8_t *p = data;
    size_t n = size;
    uint32_t crc = 0xffffffffu;
    /* Aligned 8-byte loads in the streams. */
    while (n && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        n--;
    }
    crc = crc_blocks(crc, &p, &n, LONG_PART, k_long);
    crc = crc_blocks(crc, &p, &n, SHORT_PART, k_short);
    uint64_t c = crc;
    for (; n >= 8; p += 8, n -= 8)
        c = _mm_crc32_u64(c, load64(p));
    crc = (uint32_t)c;
    while (n--)
        crc = _mm_crc32_u8(crc, *p++);
    return ~crc;
}

#else

bool bf_crc32c_3way_available(void)
{
    return false;
}

uint32_t bf_crc32c_3way(const void *data, size_t size)
{
    return bf_crc32c_bytewise(data, size);
}

#endif

int bf_crc32c_self_test(char *why, size_t why_size)
{
    static const char check[] = "123456789";
    uint32_t want = 0xe3069283u;
    if (bf_crc32c_bytewise(check, 9) != want) {
        snprintf(why, why_size, "bytewise crc32c(\"123456789\") = %08x, not %08x",
                 bf_crc32c_bytewise(check, 9), want);
        return -1;
    }
    if (!bf_crc32c_3way_available())
        return 0;
    if (bf_crc32c_3way(check, 9) != want) {
        snprintf(why, why_size, "3-way crc32c(\"123456789\") = %08x, not %08x", bf_crc32c_3way(check, 9),
                 want);
        return -1;
    }
    /* Lengths around both block sizes and their multiples, at every
     * alignment of the start: each path (head, long blocks, short blocks,
     * 8-byte tail, byte tail) and the joins between them. */
    size_t max = 3 * 8192 * 2 + 3 * 256 * 3 + 40;
    uint8_t *buf = malloc(max + 8);
    if (!buf) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < max + 8; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    static const size_t lens[] = {0, 1, 7, 8, 9, 767, 768, 769, 1000, 24575, 24576, 24577, 49152 + 768 + 5};
    int rc = 0;
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]) && rc == 0; li++)
        for (size_t off = 0; off < 8 && rc == 0; off++) {
            uint32_t a = bf_crc32c_3way(buf + off, lens[li]), b = bf_crc32c_bytewise(buf + off, lens[li]);
            if (a != b) {
                snprintf(why, why_size, "3-way crc32c of %zu bytes at offset %zu: %08x, bytewise %08x",
                         lens[li], off, a, b);
                rc = -1;
            }
        }
    free(buf);
    return rc;
}
