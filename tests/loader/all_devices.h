/* all_devices.h — every device of the build tree's example drivers, each
 * with a queue of its own, and the uacce emulator that gives the WarpDrive
 * driver a device: what test_standard and test_stream_functions share.
 *
 * Helpers that cannot go on fail the running cmocka test. */
#ifndef ACCEL_TEST_ALL_DEVICES_H
#define ACCEL_TEST_ALL_DEVICES_H

#include <stdbool.h>
#include <stdint.h>

#include <accel/accel.h>

#include "support.h"

#define AD_MAX_DEVICES 8

typedef struct ad_device {
    accel_device *dev;
    accel_device_info info;
    accel_queue *q;
} ad_device;

typedef struct ad_set {
    accel_instance *inst;
    ad_device d[AD_MAX_DEVICES];
    uint32_t n;
} ad_set;

/*
 * Start the uacce emulator (emulator_path) with one device `name` offering
 * every algorithm it has (zlib, crc32c, sha256; SVA, 8 instances), in a
 * fresh directory under TEST_TMP_DIR, and point the WarpDrive driver at it
 * (ACCEL_UACCE_SYSFS_ROOT, ACCEL_UACCE_DEV_ROOT, pushed: support_env.h).
 * Returns 0, or -1 when the directory cannot be made. ad_emulator_stop
 * kills it, removes the directory and puts the two variables back as they
 * were (with whatever was pushed after them).
 */
int ad_emulator_start(const char *emulator_path, const char *name);
void ad_emulator_stop(void);

/*
 * An instance of every driver in BUILD_MANIFEST_DIR and its devices, at
 * most AD_MAX_DEVICES, each with a queue. `keep` (NULL: every device) says
 * which devices to take; a device whose queue cannot be made is left out
 * with a message. With a log, every level of the instance's log goes to
 * it. ad_set_teardown is a cmocka teardown for *state.
 */
ad_set *ad_set_create(bool (*keep)(const ad_device *c), ts_log *log);
int ad_set_teardown(void **state);

/* size bytes (at least 1) attached to every device of the set. */
accel_memory *ad_mem(ad_set *f, uint64_t size);

/* Run a built-in on the device and wait: the fence's result. A failed
 * submission breaks its queue: the queue is replaced, so that the next
 * call starts on a working one. */
accel_result ad_run(ad_device *c, const char *name, const accel_arg *args, uint32_t argc);

/* CRC-32C (Castagnoli) of n bytes, the reference for the devices' crc32c. */
uint32_t ad_crc32c_ref(const unsigned char *p, uint64_t n);

#endif
