/* crc32c.c — the "crc32c" example image (crc32c.json): the standard
 * function's convention (docs/standard-functions.md), CRC-32C of src as a
 * little-endian u32 at the start of result, with both ports able to reach
 * any bank or host memory. */
#include "accel_fpga_kernel.h"

#include <stddef.h>

ACCEL_FPGA_KERNEL_EXPORT accel_fpga_kernel_fn crc32c_kernel;

/* Reflected Castagnoli polynomial; the table is built when the image is
 * loaded, before any slot can run the kernel. */
static uint32_t table[256];

__attribute__((constructor)) static void build_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        table[i] = c;
    }
}

int crc32c_kernel(const accel_fpga_kernel_call *call)
{
    if (call->arg_count != 2 || call->args[1].size < 4)
        return ACCEL_FPGA_KERNEL_INVALID_ARGUMENT;
    const uint8_t *p = call->args[0].ptr;
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < call->args[0].size; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    crc = ~crc;
    uint8_t *out = call->args[1].ptr;
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(crc >> (8 * i));
    return ACCEL_FPGA_KERNEL_OK;
}
