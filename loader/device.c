/* device.c — drivers and devices as the application sees them. */
#include <string.h>

#include "loader.h"

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
