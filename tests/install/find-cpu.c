/* Built against an installed accel-loader with pkg-config only; succeeds if
 * the loader finds a cpu device with no environment variable set. */
#include <accel/accel.h>
#include <stdio.h>

int main(void)
{
    accel_instance *inst;
    accel_result r = accel_instance_create(NULL, &inst);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "accel_instance_create: %s: %s\n", accel_result_string(r), accel_last_error_message());
        return 1;
    }
    uint32_t n = 8;
    accel_device *devs[8];
    int found = 0;
    if (accel_enumerate_devices(inst, &n, devs) < 0)
        n = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        if (accel_device_get_info(devs[i], &info) == ACCEL_SUCCESS) {
            printf("device %u: %s (%s, driver %s)\n", info.index, info.name, accel_device_kind_string(info.kind),
                   info.driver_name);
            found |= info.kind == ACCEL_DEVICE_KIND_CPU;
        }
    }
    accel_instance_destroy(inst);
    if (!found)
        fprintf(stderr, "no cpu device found\n");
    return found ? 0 : 1;
}
