/*
 * accel_fpga_kernel.h — the calling convention of FPGA image kernels, for
 * image authors (docs/fpga.md).
 *
 * An FPGA image is a JSON description plus a shared object. On the emulated
 * card the shared object *is* the programmed logic: each kernel the
 * description lists is a C function of the library with this signature,
 *
 *     ACCEL_FPGA_KERNEL_EXPORT int my_kernel(const accel_fpga_kernel_call *call);
 *
 * called once per submission on the slot's worker thread, never
 * concurrently with another kernel of the same slot. The arguments arrive
 * in the order and with the kinds the description declares; memory
 * arguments come already checked (the range lies inside its buffer, and
 * the buffer is in the bank the argument is wired to). A kernel writes only
 * inside its memory ranges and returns one of the ACCEL_FPGA_KERNEL_*
 * codes.
 *
 * This header depends on nothing but <stdint.h>; an image does not link
 * with the loader or the driver.
 */
#ifndef ACCEL_FPGA_KERNEL_H
#define ACCEL_FPGA_KERNEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ACCEL_FPGA_KERNEL_EXPORT __attribute__((visibility("default")))
#else
#define ACCEL_FPGA_KERNEL_EXPORT
#endif

/* Results of a kernel. */
#define ACCEL_FPGA_KERNEL_OK 0               /* done */
#define ACCEL_FPGA_KERNEL_INVALID_ARGUMENT 1 /* the arguments do not fit (a range too small, a
                                                count out of range): the submission fails with
                                                ACCEL_ERROR_INVALID_ARGUMENT */
/* Any other value fails the submission with ACCEL_ERROR_DRIVER_INTERNAL. */

/* Argument kinds: the same values as accel_arg_kind (accel_types.h). */
#define ACCEL_FPGA_ARG_MEMORY 1u
#define ACCEL_FPGA_ARG_U32 2u
#define ACCEL_FPGA_ARG_I32 3u
#define ACCEL_FPGA_ARG_U64 4u
#define ACCEL_FPGA_ARG_I64 5u
#define ACCEL_FPGA_ARG_F32 6u
#define ACCEL_FPGA_ARG_F64 7u

/* The bank number of host memory reached over the bus. */
#define ACCEL_FPGA_BANK_HOST 0xffffu

/* A scalar argument's value: the member its kind names. */
typedef union accel_fpga_value {
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
} accel_fpga_value;

typedef struct accel_fpga_arg {
    uint32_t kind;          /* ACCEL_FPGA_ARG_* */
    uint32_t bank;          /* memory: the card's bank the range lies in (its position in
                               the card's bank list), or ACCEL_FPGA_BANK_HOST */
    void *ptr;              /* memory: the range's first byte (valid even when size is 0) */
    uint64_t size;          /* memory: the range's size in bytes */
    accel_fpga_value value; /* scalars */
} accel_fpga_arg;

typedef struct accel_fpga_kernel_call {
    uint32_t struct_size; /* sizeof(accel_fpga_kernel_call) of the driver's header */
    uint32_t arg_count;
    const accel_fpga_arg *args;
    uint32_t work_dim;     /* as submitted: 0..3 */
    uint32_t slot;         /* the slot running the kernel */
    uint64_t work_size[3]; /* as submitted */
} accel_fpga_kernel_call;

typedef int accel_fpga_kernel_fn(const accel_fpga_kernel_call *call);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_FPGA_KERNEL_H */
