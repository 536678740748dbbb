/* info.c — group "info": what a device says about itself, through the
 * application API: identity, uuid, locality, flags, live values, and the
 * driver's own description. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

static void test_info_identity(conf_ctx *c)
{
    const accel_device_info *i = &c->d->info;
    CHECK(i->name && *i->name, "the device has no name (rule 17)");
    CHECK(i->vendor && *i->vendor, "the device has no vendor (rule 17)");
    CHECK(i->kind >= ACCEL_DEVICE_KIND_CPU && i->kind <= ACCEL_DEVICE_KIND_NETWORK,
          "kind %d is not cpu, gpu, fpga, asic or network: device selectors such as \"%s:gpu\" could not find it (rule 17)",
          (int)i->kind, c->d->driver_name);
    CHECK(i->interface >= ACCEL_DEVICE_INTERFACE_NATIVE && i->interface <= ACCEL_DEVICE_INTERFACE_FPGA,
          "interface %d is not one of accel_device_interface (rule 17)", (int)i->interface);
    for (const char *p = i->name; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f,
              "the name has a control character at byte %ld (rule 15)", (long)(p - i->name));
}

static bool uuid_is_zero(const uint8_t *u)
{
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        if (u[i])
            return false;
    return true;
}

static void test_info_uuid(conf_ctx *c)
{
    const accel_device_info *me = &c->d->info;
    CHECK(!uuid_is_zero(me->uuid), "the uuid is all zeros: users pin devices by uuid (rule 17)");
    for (uint32_t k = 0; k < conf.all_count; k++) {
        if (conf.all[k] == c->dev)
            continue;
        accel_device_info other = {.struct_size = sizeof(other)};
        OK(accel_device_get_info(conf.all[k], &other));
        CHECK(memcmp(other.uuid, me->uuid, ACCEL_UUID_SIZE) != 0, "%s:%u has the same uuid %s (rule 17)",
              other.driver_name, other.driver_index, c->d->uuid);
    }
    /* A selector by uuid finds this device, and only it. */
    char selector[128];
    snprintf(selector, sizeof(selector), "%s:uuid=%s", c->d->driver_name, c->d->uuid);
    accel_instance_options opts = {.struct_size = sizeof(opts), .device_selector = selector};
    accel_instance *inst = NULL;
    OK(accel_instance_create(&opts, &inst));
    conf_track(c, CONF_OBJ_INSTANCE, inst);
    uint32_t n = 0;
    OK(accel_enumerate_devices(inst, &n, NULL));
    CHECK(n == 1, "the selector \"%s\" selects %u devices, expected exactly this one (rule 17)", selector, n);
    accel_device *dev = NULL;
    EXPECT(accel_enumerate_devices(inst, &n, &dev), ACCEL_SUCCESS);
    accel_device_info found = {.struct_size = sizeof(found)};
    OK(accel_device_get_info(dev, &found));
    CHECK(found.driver_index == me->driver_index, "the selector \"%s\" selects %s:%u, not this device",
          selector, found.driver_name, found.driver_index);
}

/* A Linux list ("0-3,8"): digits, ',' and '-' in a sane order. */
static bool valid_list(const char *s)
{
    if (!*s)
        return true;
    for (;;) {
        char *end;
        if (!isdigit((unsigned char)*s))
            return false;
        long a = strtol(s, &end, 10);
        s = end;
        if (*s == '-') {
            s++;
            if (!isdigit((unsigned char)*s))
                return false;
            long b = strtol(s, &end, 10);
            if (b < a)
                return false;
            s = end;
        }
        if (!*s)
            return true;
        if (*s++ != ',')
            return false;
    }
}

static bool list_contains(const char *s, long n)
{
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        s = end;
        if (*s == '-')
            b = strtol(s + 1, &end, 10), s = end;
        if (n >= a && n <= b)
            return true;
        if (*s == ',')
            s++;
    }
    return false;
}

static bool valid_bus_address(const char *s)
{
    /* dddd:bb:dd.f (PCI) is what tools expect; other buses may write their
     * own, but without spaces or control characters. */
    if (!*s)
        return true;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return false;
    return true;
}

static void test_info_locality(conf_ctx *c)
{
    const accel_device_info *i = &c->d->info;
    CHECK(i->numa_node >= -1, "numa_node is %d; -1 means none or several (rule 17)", i->numa_node);
    CHECK(valid_list(i->numa_nodes),
          "numa_nodes \"%s\" is not in the Linux list format such as \"0-1,4\" (rule 17)", i->numa_nodes);
    if (i->numa_node >= 0 && *i->numa_nodes)
        CHECK(list_contains(i->numa_nodes, i->numa_node),
              "numa_node %d is not among numa_nodes \"%s\" (rule 17)", i->numa_node, i->numa_nodes);
    CHECK(valid_bus_address(i->bus_address), "bus_address \"%s\" has spaces or control characters (rule 17)",
          i->bus_address);
    CHECK(!*i->device_node || i->device_node[0] == '/',
          "device_node \"%s\" is not an absolute path (containers mount it) (rule 17)", i->device_node);
}

static void test_info_flags(conf_ctx *c)
{
    const accel_device_info *i = &c->d->info;
    uint32_t known = ACCEL_DEVICE_FLAG_SVA | ACCEL_DEVICE_FLAG_PARTITION | ACCEL_DEVICE_FLAG_ISOLATED |
                     ACCEL_DEVICE_FLAG_EMULATED;
    CHECK((i->flags & ~known) == 0, "unknown flags 0x%x (rule 17)", i->flags & ~known);
    /* An SVA device that uses PASIDs gives their width; one that needs none
     * (the host CPU itself) gives 0. A device without SVA has no PASID. */
    CHECK(i->pasid_bits <= 20, "pasid_bits is %u; PASIDs are at most 20 bits (rule 17)", i->pasid_bits);
    if (!(i->flags & ACCEL_DEVICE_FLAG_SVA))
        CHECK(i->pasid_bits == 0, "pasid_bits is %u on a device without the SVA flag (rule 17)",
              i->pasid_bits);
    if (i->flags & ACCEL_DEVICE_FLAG_PARTITION)
        CHECK(*i->partition,
              "a partition must say which part of its parent it is (partition is empty) (rule 17)");
    else
        CHECK(!*i->partition, "partition is \"%s\" but the PARTITION flag is not set (rule 17)",
              i->partition);
    CHECK(!(i->flags & ACCEL_DEVICE_FLAG_ISOLATED), "the device is isolated (not usable) from the start");
}

static void test_info_live_values(conf_ctx *c)
{
    const accel_device_info *i = &c->d->info;
    uint32_t v = 0;
    size_t size = 0;
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_KIND, &v, sizeof(v), &size));
    CHECK(v == (uint32_t)i->kind, "the live kind is %u, the device info says %u (rule 17)", v,
          (unsigned)i->kind);
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL));
    accel_result r = accel_device_query(c->dev, ACCEL_DEVICE_PARAM_FLAGS, &v, sizeof(v), NULL);
    if (r == ACCEL_SUCCESS)
        CHECK((v & ~ACCEL_DEVICE_FLAG_ISOLATED) == (i->flags & ~ACCEL_DEVICE_FLAG_ISOLATED),
              "the live flags 0x%x differ from the device info's 0x%x beyond ISOLATED (rule 17)", v,
              i->flags);
    else
        EXPECT(r, ACCEL_ERROR_UNSUPPORTED);
    r = accel_device_query(c->dev, ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES, &v, sizeof(v), NULL);
    if (r == ACCEL_SUCCESS)
        CHECK(v == i->max_address_spaces,
              "the live max_address_spaces %u differs from the device info's %u (rule 17)", v,
              i->max_address_spaces);
    else
        EXPECT(r, ACCEL_ERROR_UNSUPPORTED);
    int32_t node = 0;
    r = accel_device_query(c->dev, ACCEL_DEVICE_PARAM_NUMA_NODE, &node, sizeof(node), NULL);
    if (r == ACCEL_SUCCESS)
        CHECK(node == i->numa_node, "the live numa_node %d differs from the device info's %d (rule 17)", node,
              i->numa_node);
    else
        EXPECT(r, ACCEL_ERROR_UNSUPPORTED);
    uint64_t ns = 0;
    r = accel_device_query(c->dev, ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, sizeof(ns), NULL);
    CHECK(r == ACCEL_SUCCESS || r == ACCEL_ERROR_UNSUPPORTED,
          "device_query(RECONFIGURE_NS) returned %s (rule 16)", conf_rs(r));
}

static void test_info_driver(conf_ctx *c)
{
    accel_driver_info di = {.struct_size = sizeof(di)};
    OK(accel_driver_get_info(c->d->info.driver, &di));
    CHECK(di.name && strcmp(di.name, c->d->driver_name) == 0, "the driver's name changed");
    CHECK(di.interface_version == ACCEL_MAKE_VERSION(1, 0), "the negotiated interface is %u.%u, expected 1.0",
          ACCEL_VERSION_MAJOR(di.interface_version), ACCEL_VERSION_MINOR(di.interface_version));
    CHECK(di.device_count > c->d->info.driver_index,
          "the driver reports %u devices, yet this is its device %u", di.device_count,
          c->d->info.driver_index);
    CHECK(di.version && *di.version, "the driver gives no version string (driver_version_string): "
                                     "known-failure lists and bug reports need it (rule 17)");
    for (const char *p = di.version; *p; p++)
        CHECK((unsigned char)*p > 0x20 && *p != 0x7f,
              "the version string \"%s\" has spaces or control characters", di.version);
}

static const conf_test_def info_tests[] = {
    {"identity", test_info_identity},       {"uuid", test_info_uuid},
    {"locality", test_info_locality},       {"flags", test_info_flags},
    {"live_values", test_info_live_values}, {"driver", test_info_driver},
};

const conf_group_def conf_group_info = {
    .name = "info",
    .title = "device info invariants",
    .tests = CONF_TESTS(info),
};
