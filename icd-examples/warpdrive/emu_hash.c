/* emu_hash.c — the emulated device's checksum and digest engines: CRC-32C
 * (Castagnoli: the SSE4.2 crc32 instruction on three interleaved streams
 * where the CPU has it, checked at run time; otherwise slicing by 8,
 * icd-examples/common/accel_crc32c.c) and
 * SHA-256 (FIPS 180-4). Written for the
 * emulator only; the driver never computes anything itself. */
#include "emu_hash.h"

#include "accel_crc32c.h"
#include "accel_sha256_stream.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define EMU_CRC_HW 1
#endif

/* ---- CRC-32C ---------------------------------------------------------------- */

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
    accel_crc32c_init();
#ifdef EMU_CRC_HW
    /* The shift of each single register bit, then of every byte value. */
    const uint32_t *byte = accel_crc32c_byte_table();
    uint32_t bit[32];
    for (int b = 0; b < 32; b++) {
        uint32_t c = 1u << b;
        for (unsigned n = 0; n < CRC_LANE; n++)
            c = (c >> 8) ^ byte[c & 0xff];
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
    return accel_crc32c_sliced(crc, p, size);
}

/* ---- SHA-256 ---------------------------------------------------------------- */

/* The block function is sha256.stream's (icd-examples/common/
 * accel_sha256_stream.c); the emulator keeps its own buffering around it. */

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
        accel_sha256_blocks(s->h, s->block, 1);
        s->used = 0;
    }
    accel_sha256_blocks(s->h, p, size / 64);
    p += size / 64 * 64;
    size %= 64;
    memcpy(s->block, p, size);
    s->used = size;
}

void emu_sha256_final(emu_sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->length * 8;
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        accel_sha256_blocks(s->h, s->block, 1);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    for (int i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    accel_sha256_blocks(s->h, s->block, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}
