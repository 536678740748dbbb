/* partitions.c — group "partitions": devices carved out of a device
 * (sub-devices, uacce instances, FPGA slots). A partition names its parent,
 * says which part of it it is, has its own uuid, and computes what its
 * parent computes. The group runs on partitions and on devices that have
 * a selected partition; other devices skip it. The parent is looked up in
 * a second instance that selects every device of the driver, so that the
 * checks do not depend on what the user selected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static uint32_t child_count(const conf_device *d)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < conf.all_count; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        if (accel_device_get_info(conf.all[i], &info) == ACCEL_SUCCESS && info.parent == d->device)
            n++;
    }
    return n;
}

static const char *partitions_prepare(conf_device *d, char *why, size_t size)
{
    if ((d->info.flags & ACCEL_DEVICE_FLAG_PARTITION) || child_count(d))
        return NULL;
    snprintf(
        why, size,
        "no partitions: the device is not a partition and has none among the selected devices (the driver "
        "offers none, or they are not selected)");
    return why;
}

/* Every device of the driver, in a second instance. */
static accel_instance *driver_instance(conf_ctx *c, accel_device ***devs, uint32_t *count)
{
    char selector[128];
    snprintf(selector, sizeof(selector), "%s:*", c->d->driver_name);
    accel_instance_options opts = {.struct_size = sizeof(opts), .device_selector = selector};
    accel_instance *inst = NULL;
    OK(accel_instance_create(&opts, &inst));
    conf_track(c, CONF_OBJ_INSTANCE, inst);
    OK(accel_enumerate_devices(inst, count, NULL));
    *devs = conf_malloc(c, (*count + 1) * sizeof(**devs));
    OK(accel_enumerate_devices(inst, count, *devs));
    return inst;
}

static accel_device *find_uuid(accel_device **devs, uint32_t n, const uint8_t *uuid)
{
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        if (accel_device_get_info(devs[i], &info) == ACCEL_SUCCESS &&
            memcmp(info.uuid, uuid, ACCEL_UUID_SIZE) == 0)
            return devs[i];
    }
    return NULL;
}

static accel_device_info info_of(conf_ctx *c, const accel_device *dev)
{
    accel_device_info info = {.struct_size = sizeof(info)};
    OK(accel_device_get_info(dev, &info));
    return info;
}

static void test_partitions_parent(conf_ctx *c)
{
    accel_device **devs;
    uint32_t n;
    driver_instance(c, &devs, &n);
    accel_device *me = find_uuid(devs, n, c->d->info.uuid);
    CHECK(me, "the device is missing from an instance that selects every device of %s", c->d->driver_name);
    accel_device_info mi = info_of(c, me);
    if (mi.flags & ACCEL_DEVICE_FLAG_PARTITION) {
        CHECK(mi.parent,
              "the device is a partition (\"%s\") but names no parent: set parent_index to the parent's "
              "index in the driver's enumeration (rule 22)",
              mi.partition);
        accel_device_info pi = info_of(c, mi.parent);
        CHECK(pi.kind == mi.kind, "the partition is a %s, its parent a %s (rule 22)",
              accel_device_kind_string(mi.kind), accel_device_kind_string(pi.kind));
        CHECK(*mi.partition, "the partition does not say which part of its parent it is (rule 22)");
    }
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info ci = info_of(c, devs[i]);
        if (ci.parent != me)
            continue;
        CHECK(ci.flags & ACCEL_DEVICE_FLAG_PARTITION,
              "%s:%u names this device as its parent without the PARTITION flag (rule 22)",
              ci.driver_name, ci.driver_index);
        CHECK(*ci.partition, "the partition %s:%u does not say which part of this device it is (rule 22)",
              ci.driver_name, ci.driver_index);
    }
}

static void test_partitions_uuids(conf_ctx *c)
{
    accel_device **devs;
    uint32_t n;
    driver_instance(c, &devs, &n);
    unsigned same = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info oi = info_of(c, devs[i]);
        same += memcmp(oi.uuid, c->d->info.uuid, ACCEL_UUID_SIZE) == 0;
    }
    CHECK(same == 1,
          "%u devices of the driver share this device's uuid %s: each partition has its own (rule 22)", same,
          c->d->uuid);
}

/* crc32c (or a copy) of the same bytes on two devices of one instance. */
static void compute(conf_ctx *c, accel_instance *inst, accel_device *dev, const unsigned char *data, size_t n,
                    unsigned char *out, size_t *out_size)
{
    accel_function *fn = conf_builtin(c, dev, "crc32c");
    bool crc = fn != NULL;
    if (!fn)
        fn = conf_need_builtin(c, dev, "accel.copy");
    accel_memory *src = conf_alloc_in(c, inst, n), *res = conf_alloc_in(c, inst, n);
    memcpy(conf_map(c, src), data, n);
    conf_attach(c, src, dev);
    conf_attach(c, res, dev);
    accel_queue *q = conf_queue(c, dev);
    accel_arg args[2] = {conf_mem_arg(src, 0, n), conf_mem_arg(res, 0, crc ? 4 : n)};
    accel_result r = conf_run(c, q, fn, args, 2);
    CHECK(r == ACCEL_SUCCESS, "%s failed: %s", crc ? "crc32c" : "accel.copy", conf_rs(r));
    *out_size = crc ? 4 : n;
    memcpy(out, conf_map(c, res), *out_size);
    /* Devices with one queue instance need it back for the next pair. */
    conf_release(c, q);
    conf_release(c, fn);
    conf_release(c, src);
    conf_release(c, res);
}

static void test_partitions_same_results(conf_ctx *c)
{
    accel_device **devs;
    uint32_t n;
    accel_instance *inst = driver_instance(c, &devs, &n);
    accel_device *me = find_uuid(devs, n, c->d->info.uuid);
    CHECK(me, "the device is missing from an instance that selects every device of %s", c->d->driver_name);
    accel_device_info mi = info_of(c, me);
    const size_t size = 65536 + 3;
    unsigned char *data = conf_malloc(c, size), *a = conf_malloc(c, size), *b = conf_malloc(c, size);
    conf_fill_random(data, size, 60);
    size_t na, nb;
    unsigned pairs = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info oi = info_of(c, devs[i]);
        bool related = (mi.parent && devs[i] == mi.parent) || oi.parent == me;
        if (!related)
            continue;
        compute(c, inst, me, data, size, a, &na);
        compute(c, inst, devs[i], data, size, b, &nb);
        CHECK(na == nb && memcmp(a, b, na) == 0,
              "this device and %s:%u (%s) computed different results from the same input (rule 22)",
              oi.driver_name, oi.driver_index, mi.parent == devs[i] ? "its parent" : "its partition");
        pairs++;
    }
    CHECK(pairs, "the device is a partition without a parent (rule 22)");
}

static const conf_test_def partitions_tests[] = {
    {"parent", test_partitions_parent},
    {"uuids", test_partitions_uuids},
    {"same_results", test_partitions_same_results},
};

const conf_group_def conf_group_partitions = {
    .name = "partitions",
    .title = "partitions",
    .tests = CONF_TESTS(partitions),
    .prepare = partitions_prepare,
};
