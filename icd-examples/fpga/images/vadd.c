/* vadd.c — the "vadd" example image (vadd.json): out = a + b over n
 * little-endian 32-bit unsigned integers, with a and out wired to bank0 and
 * b to bank1. On the emulated card this library is the programmed logic
 * (accel_fpga_kernel.h). */
#include "accel_fpga_kernel.h"

#include <string.h>

ACCEL_FPGA_KERNEL_EXPORT accel_fpga_kernel_fn vadd;

int vadd(const accel_fpga_kernel_call *call)
{
    if (call->arg_count != 4)
        return ACCEL_FPGA_KERNEL_INVALID_ARGUMENT;
    const accel_fpga_arg *a = &call->args[0], *b = &call->args[1], *out = &call->args[2];
    uint64_t n = call->args[3].value.u32;
    if (a->size / 4 < n || b->size / 4 < n || out->size / 4 < n)
        return ACCEL_FPGA_KERNEL_INVALID_ARGUMENT;
    const uint8_t *pa = a->ptr, *pb = b->ptr;
    uint8_t *po = out->ptr;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t x, y;
        memcpy(&x, pa + 4 * i, 4);
        memcpy(&y, pb + 4 * i, 4);
        x += y;
        memcpy(po + 4 * i, &x, 4);
    }
    return ACCEL_FPGA_KERNEL_OK;
}
