/* result.c — result strings, version and enum names. */
#include <string.h>

#include "accel/accel.h"
#include "loader.h"

#ifndef ACCEL_VERSION_STRING
#define ACCEL_VERSION_STRING "0.0.0"
#endif

uint32_t accel_loader_version(void)
{
    return ACCEL_MAKE_VERSION(ACCEL_HEADER_VERSION_MAJOR, ACCEL_HEADER_VERSION_MINOR);
}

const char *accel_loader_version_string(void)
{
    return ACCEL_VERSION_STRING;
}

const char *accel_result_string(accel_result result)
{
    switch (result) {
#define X(name, value, text) \
    case ACCEL_##name: return text;
        ACCEL_RESULT_MAP(X)
#undef X
    default: return "unknown result";
    }
}

const char *accel_result_name(accel_result result)
{
    switch (result) {
#define X(name, value, text) \
    case ACCEL_##name: return "ACCEL_" #name;
        ACCEL_RESULT_MAP(X)
#undef X
    default: return "ACCEL_RESULT_UNKNOWN";
    }
}

const char *accel_manifest_status_string(accel_manifest_status status)
{
    switch (status) {
    case ACCEL_MANIFEST_LOADED: return "loaded";
    case ACCEL_MANIFEST_SKIPPED: return "skipped";
    case ACCEL_MANIFEST_FAILED: return "failed";
    default: return "unknown";
    }
}

const char *accel_device_kind_string(accel_device_kind kind)
{
    switch (kind) {
    case ACCEL_DEVICE_KIND_CPU: return "cpu";
    case ACCEL_DEVICE_KIND_GPU: return "gpu";
    case ACCEL_DEVICE_KIND_FPGA: return "fpga";
    case ACCEL_DEVICE_KIND_ASIC: return "asic";
    case ACCEL_DEVICE_KIND_NETWORK: return "network";
    default: return "unknown";
    }
}

const char *accel_device_interface_string(accel_device_interface interface)
{
    switch (interface) {
    case ACCEL_DEVICE_INTERFACE_NATIVE: return "native";
    case ACCEL_DEVICE_INTERFACE_OPENCL: return "opencl";
    case ACCEL_DEVICE_INTERFACE_VULKAN: return "vulkan";
    case ACCEL_DEVICE_INTERFACE_UACCE: return "uacce";
    case ACCEL_DEVICE_INTERFACE_CUDA: return "cuda";
    case ACCEL_DEVICE_INTERFACE_FPGA: return "fpga";
    default: return "unknown";
    }
}

void accel_uuid_to_string(const uint8_t uuid[ACCEL_UUID_SIZE], char buf[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < ACCEL_UUID_SIZE; i++) {
        buf[2 * i] = hex[uuid[i] >> 4];
        buf[2 * i + 1] = hex[uuid[i] & 0xf];
    }
    buf[32] = '\0';
}

accel_result accel__enumerate(const char *fn, const accel_instance *inst, const void *items, size_t n,
                              uint32_t *count, void *out)
{
    if (!inst || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, inst ? "count" : "instance");
    if (!out) {
        *count = (uint32_t)n;
        return ACCEL_SUCCESS;
    }
    /* Handle arrays of every type: memcpy keeps this free of aliasing
     * questions (all object pointers share one representation here). */
    uint32_t k = *count < n ? *count : (uint32_t)n;
    if (k)
        memcpy(out, items, k * sizeof(void *));
    *count = k;
    return k < n ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

accel_result accel__check_info_args(const char *fn, const char *what, const void *object, const void *info)
{
    if (!object || !info)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: %s is NULL", fn, object ? "info" : what);
    uint32_t size;
    memcpy(&size, info, sizeof(size));
    if (size < sizeof(uint32_t) * 2)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: info->struct_size %u is too small", fn, size);
    return ACCEL_SUCCESS;
}

void accel__copy_out(void *dst, const void *src, size_t full_size)
{
    uint32_t want;
    memcpy(&want, dst, sizeof(want));
    size_t n = want < full_size ? want : full_size;
    memcpy((char *)dst + sizeof(uint32_t), (const char *)src + sizeof(uint32_t), n - sizeof(uint32_t));
}
