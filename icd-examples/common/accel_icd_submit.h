/*
 * accel_icd_submit.h — what queue_submit (accel_icd.h) does first in every
 * example driver: read the caller's accel_icd_submit by its struct_size,
 * and check its arguments against the function's signature before a
 * worker or a device touches them (the loader checks too, but a bad call
 * must not crash the driver).
 *
 * No allocation, no lock; thread-safe.
 */
#ifndef ACCEL_ICD_SUBMIT_H
#define ACCEL_ICD_SUBMIT_H

#include <accel/accel_icd.h>

#include <stdint.h>

/* *out = the first min(in->struct_size, sizeof(*out)) bytes of *in, the
 * fields beyond them 0 (accel_icd.h, "Structs"). */
void accel_submit_read(const accel_icd_submit *in, accel_icd_submit *out);

/* A memory object's size in bytes, for accel_submit_check_args: the
 * driver's handle (never NULL) in, its size out. */
typedef uint64_t (*accel_submit_memory_size_fn)(const void *driver_memory);

/*
 * ACCEL_SUCCESS when s carries arg_count arguments of the kinds
 * arg_kinds[0..arg_count), each memory range inside its (non-NULL) memory
 * object, and wait fences wherever it counts some; else
 * ACCEL_ERROR_INVALID_ARGUMENT. work_dim and the function itself are the
 * driver's to check.
 */
accel_icd_result accel_submit_check_args(const accel_icd_submit *s, uint32_t arg_count,
                                         const accel_arg_kind *arg_kinds,
                                         accel_submit_memory_size_fn memory_size);

#endif
