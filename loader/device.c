/* device.c — drivers and devices as the application sees them, and the
 * physical devices they are interfaces of. */
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "select.h"

accel_result accel_enumerate_drivers(accel_instance *inst, uint32_t *count, accel_driver **drivers)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_enumerate_drivers", ACCEL_ERROR_INVALID_HANDLE);
    return accel__enumerate("accel_enumerate_drivers", inst, inst ? inst->drivers : NULL,
                            inst ? inst->driver_count : 0, count, drivers);
}

accel_result accel_driver_get_info(const accel_driver *drv, accel_driver_info *info)
{
    accel_result r = accel__check_info_args("accel_driver_get_info", "driver", drv, info);
    if (r)
        return r;
    const accel__loaded_driver *ld = drv->loaded;
    accel_driver_info full = {
        .struct_size = sizeof(full),
        .name = drv->manifest->data.driver_name,
        .manifest_path = drv->manifest->path,
        .library_path = ld->library,
        .version = ld->version_string ? ld->version_string : "",
        .interface_version = ld->version,
        .api_version = drv->manifest->data.api_version,
        .device_count = ld->device_count,
    };
    accel__copy_out(info, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_enumerate_devices(accel_instance *inst, uint32_t *count, accel_device **devices)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_enumerate_devices", ACCEL_ERROR_INVALID_HANDLE);
    return accel__enumerate("accel_enumerate_devices", inst, inst ? inst->devices : NULL,
                            inst ? inst->device_count : 0, count, devices);
}

accel_result accel_device_get_info(const accel_device *dev, accel_device_info *info)
{
    ACCEL__DEVICE_USE(dev, "accel_device_get_info", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_device_get_info", "device", dev, info);
    if (r)
        return r;
    const accel_icd_device_info *d = dev->info;
    accel_device_info full = {
        .struct_size = sizeof(full),
        .index = dev->index,
        .driver_index = dev->driver_index,
        .driver = dev->driver,
        .driver_name = dev->driver->manifest->data.driver_name,
        .name = d->name,
        .vendor = d->vendor,
        .kind = d->kind,
        .interface = d->interface,
        .vendor_id = d->vendor_id,
        .device_id = d->device_id,
        .bus_address = d->bus_address,
        .numa_node = d->numa_node,
        .numa_nodes = d->numa_nodes,
        .flags = d->flags,
        .max_address_spaces = d->max_address_spaces,
        .pasid_bits = d->pasid_bits,
        .available_instances = d->available_instances,
        .parent = (dev->parent && dev->parent->index != UINT32_MAX) ? dev->parent : NULL,
        .device_node = d->device_node,
        .partition = d->partition,
    };
    memcpy(full.uuid, d->uuid, sizeof(full.uuid));
    accel__copy_out(info, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_device_query(const accel_device *dev, accel_device_param param, void *value, size_t size,
                                size_t *size_ret)
{
    if (__builtin_expect(!dev, 0))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_device_query: device is NULL");
    /* The hot path: the tag only, no pin (a device lives as long as its
     * instance, and destroying an instance during a call on one of its
     * devices is the caller's race). A relaxed atomic load is a plain load. */
    if (__builtin_expect(__atomic_load_n(&dev->magic, __ATOMIC_RELAXED) != ACCEL__DEVICE_MAGIC, 0))
        return accel__device_invalid(dev, "accel_device_query");
    return dev->query(dev->icd_device, param, value, size, size_ret);
}

/* ------------------------------------------------------------------------ */
/* Physical devices                                                          */

/* The device whose hardware `d` is part of: its top parent. */
static const accel_device *hardware_root(const accel_device *d)
{
    /* Parent links come from the driver: bound the walk by the device
     * count in case a driver reports a loop. */
    for (size_t n = d->instance->all_device_count; d->parent && n; n--)
        d = d->parent;
    return d;
}

/* Whether two top-level devices are one piece of hardware. */
static bool same_hardware(const accel_device *a, const accel_device *b)
{
    return a == b || accel__same_hardware(a->driver->manifest->data.driver_name, a->info->bus_address,
                                          a->info->uuid, b->driver->manifest->data.driver_name,
                                          b->info->bus_address, b->info->uuid);
}

static size_t find_root(size_t *up, size_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

accel_result accel__group_physical_devices(accel_instance *inst)
{
    size_t n = inst->device_count;
    inst->physical_count = 0;
    if (!n)
        return ACCEL_SUCCESS;
    size_t *up = accel__calloc(n, sizeof(*up));
    uint32_t *id = accel__calloc(n, sizeof(*id));
    if (!up || !id) {
        accel__free(up);
        accel__free(id);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        up[i] = i;
        id[i] = UINT32_MAX;
        const accel_device *ri = hardware_root(inst->devices[i]);
        for (size_t j = 0; j < i; j++) {
            if (!same_hardware(ri, hardware_root(inst->devices[j])))
                continue;
            size_t x = find_root(up, i), y = find_root(up, j);
            if (x != y)
                up[x > y ? x : y] = x < y ? x : y;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = find_root(up, i);
        if (id[r] == UINT32_MAX)
            id[r] = inst->physical_count++;
        inst->devices[i]->physical = id[r];
    }
    accel__free(up);
    accel__free(id);
    return ACCEL_SUCCESS;
}

accel_result accel_instance_get_physical_device_count(accel_instance *inst, uint32_t *count)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_instance_get_physical_device_count",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_instance_get_physical_device_count: %s is NULL",
                            inst ? "count" : "instance");
    *count = inst->physical_count;
    return ACCEL_SUCCESS;
}

accel_result accel_device_get_physical_index(const accel_device *dev, uint32_t *physical_index)
{
    ACCEL__DEVICE_USE(dev, "accel_device_get_physical_index", ACCEL_ERROR_INVALID_HANDLE);
    if (!dev || !physical_index)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_device_get_physical_index: %s is NULL",
                            dev ? "physical_index" : "device");
    if (dev->index == UINT32_MAX)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_device_get_physical_index: device \"%s\" of driver %s is not selected",
                            dev->info->name, dev->driver->manifest->data.driver_name);
    *physical_index = dev->physical;
    return ACCEL_SUCCESS;
}

accel_result accel_physical_device_get_interfaces(accel_instance *inst, uint32_t physical_index,
                                                  uint32_t *count, accel_device **devices)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_physical_device_get_interfaces",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_physical_device_get_interfaces: %s is NULL",
                            inst ? "count" : "instance");
    if (physical_index >= inst->physical_count)
        return accel__error(
            ACCEL_ERROR_INVALID_ARGUMENT,
            "accel_physical_device_get_interfaces: physical_index %u is not below the count %u",
            physical_index, inst->physical_count);
    uint32_t n = 0, k = 0;
    for (size_t i = 0; i < inst->device_count; i++) {
        if (inst->devices[i]->physical != physical_index)
            continue;
        if (devices && k < *count)
            devices[k++] = inst->devices[i];
        n++;
    }
    if (!devices) {
        *count = n;
        return ACCEL_SUCCESS;
    }
    *count = k;
    return k < n ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}
