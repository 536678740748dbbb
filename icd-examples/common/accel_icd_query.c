/* accel_icd_query.c — see accel_icd_query.h. */
#include "accel_icd_query.h"

#include <string.h>

accel_icd_result accel_query_put_bytes(const void *v, size_t n, void *value, size_t size, size_t *size_ret)
{
    if (size_ret)
        *size_ret = n;
    if (!value)
        return ACCEL_SUCCESS;
    if (size < n)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, v, n);
    return ACCEL_SUCCESS;
}

accel_icd_result accel_query_put_u32(uint32_t v, void *value, size_t size, size_t *size_ret)
{
    return accel_query_put_bytes(&v, sizeof(v), value, size, size_ret);
}

accel_icd_result accel_query_put_i32(int32_t v, void *value, size_t size, size_t *size_ret)
{
    return accel_query_put_bytes(&v, sizeof(v), value, size, size_ret);
}

accel_icd_result accel_query_put_u64(uint64_t v, void *value, size_t size, size_t *size_ret)
{
    return accel_query_put_bytes(&v, sizeof(v), value, size, size_ret);
}

accel_icd_result accel_query_put_string(const char *s, size_t max, void *value, size_t size, size_t *size_ret)
{
    size_t n = strnlen(s, max);
    if (size_ret)
        *size_ret = n + 1;
    if (!value)
        return ACCEL_SUCCESS;
    if (size < n + 1)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, s, n);
    ((char *)value)[n] = '\0';
    return ACCEL_SUCCESS;
}

accel_icd_result accel_query_enumerate(void *handle, uint32_t total, accel_query_device_at_fn device_at,
                                       uint32_t *count, void **devices)
{
    if (!count)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!devices) {
        *count = total;
        return ACCEL_SUCCESS;
    }
    uint32_t n = *count < total ? *count : total;
    for (uint32_t i = 0; i < n; i++)
        devices[i] = device_at(handle, i);
    *count = n;
    return n < total ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

accel_icd_result accel_query_device_info(const accel_icd_device_info *info, accel_device_param param,
                                         void *value, size_t size, size_t *size_ret)
{
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: return accel_query_put_u32((uint32_t)info->kind, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES:
        return accel_query_put_u32(info->available_instances, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES:
        return accel_query_put_u32(info->max_address_spaces, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_FLAGS: return accel_query_put_u32(info->flags, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_NUMA_NODE: return accel_query_put_i32(info->numa_node, value, size, size_ret);
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
}

/* The first min(*out's struct_size, size) bytes of in into out, out's
 * struct_size (its first member, accel_icd.h "Structs") kept. */
static void copy_sized(const void *in, void *out, size_t size)
{
    uint32_t keep;
    memcpy(&keep, out, sizeof(keep));
    memcpy(out, in, keep < size ? keep : size);
    memcpy(out, &keep, sizeof(keep));
}

void accel_query_copy_device_info(const accel_icd_device_info *info, accel_icd_device_info *out)
{
    copy_sized(info, out, sizeof(*out));
}

void accel_query_copy_function_info(const accel_icd_function_info *info, accel_icd_function_info *out)
{
    copy_sized(info, out, sizeof(*out));
}
