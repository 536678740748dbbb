/* emu_hash.c — the emulated device's checksum and digest engines: CRC-32C
 * (Castagnoli: the SSE4.2 crc32 instruction on three interleaved streams
 * where the CPU has it, checked at run time; slicing by 8 otherwise) and
 * SHA-256 (FIPS 180-4). Written for the
 * emulator only; the driver never computes anything itself. */
#include "emu_hash.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define EMU_CRC_HW 1
#endif

/* ---- CRC-32C ---------------------------------------------------------------- */

static uint32_t crc_table[8][256];

#ifdef EMU_CRC_HW
/* Three streams of CRC_LANE bytes each run side by side (the instruction's
 * latency is three times its issue interval) and are joined with
 * crc(A||B) = shift(crc(A)) ^ crc0(B), where shift() feeds CRC_LANE zero
 * bytes through the register: a linear map, tabulated per byte in
 * crc_shift. */
#define CRC_LANE 1360u /* 3 lanes = 4080 bytes, a multiple of 8 */
static uint32_t crc_shift[4][256];
static int crc_hw;

static uint32_t crc_shift_apply(uint32_t crc)
{
    return crc_shift[0][crc & 0xff] ^ crc_shift[1][(crc >> 8) & 0xff] ^ crc_shift[2][(crc >> 16) & 0xff] ^
           crc_shift[3][crc >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* x86: little endian, as the CRC wants */
    return v;
}

__attribute__((target("sse4.2"))) static uint32_t crc_update_hw(uint32_t crc, const uint8_t *p, size_t size)
{
    while (size && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        size--;
    }
    while (size >= 3 * CRC_LANE) {
        uint64_t a = crc, b = 0, c = 0;
        for (size_t i = 0; i < CRC_LANE; i += 8) {
            a = _mm_crc32_u64(a, load64(p + i));
            b = _mm_crc32_u64(b, load64(p + CRC_LANE + i));
            c = _mm_crc32_u64(c, load64(p + 2 * CRC_LANE + i));
        }
        crc = crc_shift_apply(crc_shift_apply((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
        p += 3 * CRC_LANE;
        size -= 3 * CRC_LANE;
    }
    uint64_t c64 = crc;
    while (size >= 8) {
        c64 = _mm_crc32_u64(c64, load64(p));
        p += 8;
        size -= 8;
    }
    crc = (uint32_t)c64;
    while (size--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

void emu_crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#ifdef EMU_CRC_HW
    /* The shift of each single register bit, then of every byte value. */
    uint32_t bit[32];
    for (int b = 0; b < 32; b++) {
        uint32_t c = 1u << b;
        for (unsigned n = 0; n < CRC_LANE; n++)
            c = (c >> 8) ^ crc_table[0][c & 0xff];
        bit[b] = c;
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t c = 0;
            for (int b = 0; b < 8; b++)
                if (v & (1u << b))
                    c ^= bit[8 * k + b];
            crc_shift[k][v] = c;
        }
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t emu_crc32c_update(uint32_t crc, const void *data, size_t size)
{
    const uint8_t *p = data;
#ifdef EMU_CRC_HW
    if (crc_hw)
        return crc_update_hw(crc, p, size);
#endif
    while (size && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
        size--;
    }
    while (size >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
              crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        size -= 8;
    }
    while (size--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

/* ---- SHA-256 ---------------------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha_block(uint32_t h[8], const uint8_t *b)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 |
               (uint32_t)b[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = bb;
        bb = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void emu_sha256_init(emu_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof(iv));
    s->length = 0;
    s->used = 0;
}

void emu_sha256_update(emu_sha256 *s, const void *data, size_t size)
{
    const uint8_t *p = data;
    s->length += size;
    if (s->used) {
        size_t take = 64 - s->used < size ? 64 - s->used : size;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        size -= take;
        if (s->used < 64)
            return;
        sha_block(s->h, s->block);
        s->used = 0;
    }
    while (size >= 64) {
        sha_block(s->h, p);
        p += 64;
        size -= 64;
    }
    memcpy(s->block, p, size);
    s->used = size;
}

void emu_sha256_final(emu_sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->length * 8;
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        sha_block(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    for (int i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha_block(s->h, s->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}
