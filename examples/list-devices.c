/*
 * list-devices.c — list the accelerator devices accel-loader finds.
 *
 * A complete program that uses only the public API. Build it against an
 * installed loader with
 *
 *     cc list-devices.c $(pkg-config --cflags --libs accel-loader) -o list-devices
 *
 * It honours the usual environment (ACCEL_DRIVER_FILES, ACCEL_DEVICE_SELECTOR,
 * ACCEL_LOADER_DEBUG, ...; see docs/environment.md). Exit status: 0 on success,
 * also when there are no devices; 1 if the loader could not be used.
 */
#include <accel/accel.h>

#include <stdio.h>
#include <stdlib.h>

/* Say why each driver that was found is not in use. */
static void explain_manifests(accel_instance *inst)
{
    uint32_t count = 0;
    if (accel_enumerate_manifests(inst, &count, NULL) != ACCEL_SUCCESS || count == 0) {
        printf("No driver manifests were found.\n");
        return;
    }
    accel_manifest **manifests = calloc(count, sizeof(*manifests));
    if (!manifests)
        return;
    /* ACCEL_INCOMPLETE would only mean fewer entries than asked for. */
    if (accel_enumerate_manifests(inst, &count, manifests) >= 0) {
        for (uint32_t i = 0; i < count; i++) {
            accel_manifest_info mi = {.struct_size = sizeof(mi)};
            if (accel_manifest_get_info(manifests[i], &mi) != ACCEL_SUCCESS ||
                mi.status == ACCEL_MANIFEST_LOADED)
                continue;
            printf("%s: %s: %s\n", mi.path, accel_manifest_status_string(mi.status), mi.reason);
        }
    }
    free(manifests);
}

static void print_device(const accel_device *dev)
{
    accel_device_info info = {.struct_size = sizeof(info)};
    accel_result r = accel_device_get_info(dev, &info);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "accel_device_get_info: %s\n", accel_last_error_message());
        return;
    }
    char uuid[33];
    accel_uuid_to_string(info.uuid, uuid);
    printf("%u: %s (%s, %s) from driver %s, device %u\n", info.index, info.name,
           accel_device_kind_string(info.kind), accel_device_interface_string(info.interface),
           info.driver_name, info.driver_index);
    printf("   uuid %s, vendor %s\n", uuid, info.vendor[0] ? info.vendor : "unknown");

    /* A live value, read from the driver now rather than from the cache. */
    uint32_t free_instances = 0;
    r = accel_device_query(dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &free_instances,
                           sizeof(free_instances), NULL);
    if (r == ACCEL_SUCCESS && free_instances == ACCEL_INSTANCES_UNLIMITED)
        printf("   queue instances: unlimited\n");
    else if (r == ACCEL_SUCCESS)
        printf("   queue instances: %u free\n", free_instances);
    else
        printf("   queue instances: %s\n", accel_result_string(r));
}

int main(void)
{
    accel_instance *inst = NULL;
    accel_device **devices = NULL;
    uint32_t count = 0;
    int status = 1;

    /* NULL options: normal discovery, selection from the environment. */
    accel_result r = accel_instance_create(NULL, &inst);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "list-devices: %s: %s\n", accel_result_name(r), accel_last_error_message());
        return 1;
    }

    /* Two-call pattern: ask for the count, then fill an array that size. */
    r = accel_enumerate_devices(inst, &count, NULL);
    if (r != ACCEL_SUCCESS)
        goto fail;
    if (count == 0) {
        printf("No devices.\n");
        explain_manifests(inst);
        status = 0;
        goto out;
    }
    devices = calloc(count, sizeof(*devices));
    if (!devices) {
        fprintf(stderr, "list-devices: out of memory\n");
        goto out;
    }
    r = accel_enumerate_devices(inst, &count, devices);
    if (r != ACCEL_SUCCESS && r != ACCEL_INCOMPLETE)
        goto fail;
    for (uint32_t i = 0; i < count; i++)
        print_device(devices[i]);
    status = 0;
    goto out;

fail:
    fprintf(stderr, "list-devices: %s: %s\n", accel_result_name(r), accel_last_error_message());
out:
    free(devices);
    /* Also releases every driver, device and manifest handle. */
    accel_instance_destroy(inst);
    return status;
}
