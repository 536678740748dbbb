/* crc32c.c — the "crc32c" example image (crc32c.json): the standard
 * function's convention (docs/standard-functions.md), CRC-32C of src as a
 * little-endian u32 at the start of result, with both ports able to reach
 * any bank or host memory.
 *
 * The kernel is written the way the logic would be laid out: CRC_LANES
 * lanes, each summing its own contiguous segment of the source eight bytes
 * per step (slicing by 8), all lanes in the same step, so no lane waits for
 * another's result. The CRC is linear over GF(2): the register after A then
 * B is the register after A advanced over len(B) zero bytes, xor the
 * register B alone leaves from zero. So the lanes' registers are combined
 * at the end by multiplying with x^(8 * len) modulo the polynomial (the
 * idea of zlib's crc32_combine). Short sources take one lane. */
#include "accel_fpga_kernel.h"

#include <stddef.h>
#include <string.h>

ACCEL_FPGA_KERNEL_EXPORT accel_fpga_kernel_fn crc32c_kernel;

#define POLY 0x82f63b78u /* Castagnoli, reflected */

#define CRC_LANES    8u
#define CRC_LANE_MIN 256u /* a lane's segment is at least this long, a multiple of 8 */

/* slicing[k][b]: the register after byte b followed by k zero bytes. Built
 * when the image is loaded, before any slot can run the kernel. */
static uint32_t slicing[8][256];

/* x2n[k] = x^(2^k) mod P, for advancing a register over 2^k bits. */
static uint32_t x2n[64];

/* a * b mod P, both reflected (bit 31 is x^0). */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
    }
    return p;
}

__attribute__((constructor)) static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        slicing[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            slicing[k][i] = (slicing[k - 1][i] >> 8) ^ slicing[0][slicing[k - 1][i] & 0xff];
    uint32_t p = 1u << 30; /* x^1 */
    x2n[0] = p;
    for (int k = 1; k < 64; k++)
        x2n[k] = p = multmodp(p, p);
}

/* x^(8 * bytes) mod P: the factor that advances a register over that many
 * zero bytes. */
static uint32_t advance_factor(uint64_t bytes)
{
    uint32_t p = 1u << 31; /* x^0 */
    for (unsigned k = 3; bytes; bytes >>= 1, k++)
        if (bytes & 1)
            p = multmodp(x2n[k & 63], p);
    return p;
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* One slicing-by-8 step: the register after the 8 bytes whose little-endian
 * value is w. */
static inline uint32_t step8(uint32_t crc, uint64_t w)
{
    w ^= crc;
    return slicing[7][w & 0xff] ^ slicing[6][(w >> 8) & 0xff] ^ slicing[5][(w >> 16) & 0xff] ^
           slicing[4][(w >> 24) & 0xff] ^ slicing[3][(w >> 32) & 0xff] ^ slicing[2][(w >> 40) & 0xff] ^
           slicing[1][(w >> 48) & 0xff] ^ slicing[0][w >> 56];
}

/* One lane alone: the register after p[0, n) from crc. */
static uint32_t lane(uint32_t crc, const uint8_t *p, uint64_t n)
{
    for (; n >= 8; p += 8, n -= 8)
        crc = step8(crc, load_le64(p));
    while (n--)
        crc = slicing[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* The register after p[0, n) from 0xffffffff (no final xor). */
static uint32_t crc32c_register(const uint8_t *p, uint64_t n)
{
    uint64_t seg = n / CRC_LANES / 8 * 8; /* every lane's segment but the last, which takes the rest */
    if (seg < CRC_LANE_MIN)
        return lane(0xffffffffu, p, n);
    /* Lane 0 starts from the initial value, the others from zero: their
     * registers are what their segments add, to be advanced over the
     * segments after them. */
    uint32_t reg[CRC_LANES] = {0xffffffffu};
    for (uint64_t off = 0; off < seg; off += 8)
        for (unsigned l = 0; l < CRC_LANES; l++)
            reg[l] = step8(reg[l], load_le64(p + l * seg + off));
    uint64_t last = n - (CRC_LANES - 1) * seg; /* the last lane's whole segment */
    reg[CRC_LANES - 1] = lane(reg[CRC_LANES - 1], p + CRC_LANES * seg, last - seg);
    uint32_t over_seg = advance_factor(seg);
    uint32_t crc = reg[0];
    for (unsigned l = 1; l < CRC_LANES; l++)
        crc = multmodp(l == CRC_LANES - 1 ? advance_factor(last) : over_seg, crc) ^ reg[l];
    return crc;
}

int crc32c_kernel(const accel_fpga_kernel_call *call)
{
    if (call->arg_count != 2 || call->args[1].size < 4)
        return ACCEL_FPGA_KERNEL_INVALID_ARGUMENT;
    uint32_t crc = ~crc32c_register(call->args[0].ptr, call->args[0].size);
    uint8_t *out = call->args[1].ptr;
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(crc >> (8 * i));
    return ACCEL_FPGA_KERNEL_OK;
}
