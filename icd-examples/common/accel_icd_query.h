/*
 * accel_icd_query.h — answering device_get_info and device_query the way
 * accel_icd.h asks, for every example driver: the value copy of the
 * clGetDeviceInfo-style contract, the parameters that come straight
 * from a device's accel_icd_device_info, and the struct_size-bounded
 * copies of device_get_info and function_get.
 *
 * Nothing here allocates or locks, so device_query (hot, must not
 * allocate) may call any of it. Thread-safe.
 */
#ifndef ACCEL_ICD_QUERY_H
#define ACCEL_ICD_QUERY_H

#include <accel/accel_icd.h>

#include <stddef.h>
#include <stdint.h>

/*
 * device_query's contract for a value of n bytes at v: *size_ret (when not
 * NULL) gets n; with value NULL only the size is asked; a value shorter
 * than n bytes is ACCEL_ERROR_INVALID_ARGUMENT and is left untouched.
 */
accel_icd_result accel_query_put_bytes(const void *v, size_t n, void *value, size_t size, size_t *size_ret);
accel_icd_result accel_query_put_u32(uint32_t v, void *value, size_t size, size_t *size_ret);
accel_icd_result accel_query_put_i32(int32_t v, void *value, size_t size, size_t *size_ret);
accel_icd_result accel_query_put_u64(uint64_t v, void *value, size_t size, size_t *size_ret);
/* A NUL-terminated string with its NUL, at most max bytes of it read (the
 * NUL is then added: a fixed-size field need not hold one). */
accel_icd_result accel_query_put_string(const char *s, size_t max, void *value, size_t size,
                                        size_t *size_ret);

/*
 * enumerate_devices' two-call pattern over a driver's `total` devices,
 * device_at(handle, i) the i-th: with devices NULL, *count gets total;
 * else the first min(*count, total) go to devices, *count gets how many,
 * and the result is ACCEL_INCOMPLETE when that is fewer than total.
 * ACCEL_ERROR_INVALID_ARGUMENT for a NULL count.
 */
typedef void *(*accel_query_device_at_fn)(void *handle, uint32_t i);
accel_icd_result accel_query_enumerate(void *handle, uint32_t total, accel_query_device_at_fn device_at,
                                       uint32_t *count, void **devices);

/*
 * The parameters a device's static description answers: KIND,
 * AVAILABLE_INSTANCES, MAX_ADDRESS_SPACES, FLAGS and NUMA_NODE, from
 * *info. Every other parameter is ACCEL_ERROR_UNSUPPORTED, so a driver
 * answers its live and device-specific parameters in its own switch and
 * ends it with `default: return accel_query_device_info(...)`.
 */
accel_icd_result accel_query_device_info(const accel_icd_device_info *info, accel_device_param param,
                                         void *value, size_t size, size_t *size_ret);

/*
 * device_get_info's copy: the first min(out->struct_size, sizeof(*out))
 * bytes of *info into *out, out->struct_size kept (accel_icd.h,
 * "Structs").
 */
void accel_query_copy_device_info(const accel_icd_device_info *info, accel_icd_device_info *out);

/*
 * function_get's copy, the same way: the first min(out->struct_size,
 * sizeof(*out)) bytes of *info into *out, out->struct_size kept.
 */
void accel_query_copy_function_info(const accel_icd_function_info *info, accel_icd_function_info *out);

#endif
