/* abi.c — group "abi": the driver ABI and the negotiation.
 *
 * The only group that talks to the driver without the loader: it opens the
 * library named by the driver's manifest, calls accel_icd_negotiate as
 * loaders of other versions would (other version ranges, a larger
 * negotiation struct), and checks what the loader itself cannot see: the
 * two-call pattern with too small and too large arrays, writes beyond the
 * struct_size it was given, the size contract of device_query, and a
 * second driver_init in the same copy of the library. It runs before the
 * suite creates its instance, so that the loader does not hold the driver
 * at the same time (one load, one driver_init). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accel/accel_icd.h>

#include "conformance.h"

#define V1_0        ACCEL_MAKE_VERSION(1, 0)
#define MAX_DEVICES 4096

static struct {
    conf_device *d;
    void *dl;
    accel_icd_negotiate_fn negotiate;
    accel_icd_loader_services services;
    bool no_unload;
    char error[1024]; /* why the library cannot be used */
} abi;

static void abi_log(void *ctx, accel_log_level level, const char *fmt, ...) CONF_PRINTF(3, 4);
static void abi_log(void *ctx, accel_log_level level, const char *fmt, ...)
{
    (void)ctx;
    if (!conf.verbose && !(level & ACCEL_LOG_ERROR))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("    log: driver %s: %s\n", abi.d ? abi.d->driver_name : "?", msg);
}

/* Failures to open the library fail every test (need_library), rather
 * than skipping the group. */
static const char *abi_prepare(conf_device *d, char *why, size_t size)
{
    (void)why;
    (void)size;
    memset(&abi, 0, sizeof(abi));
    abi.d = d;
    abi.services = (accel_icd_loader_services){sizeof(abi.services), &abi, abi_log};
    dlerror();
    abi.dl = dlopen(d->library_path, RTLD_NOW | RTLD_LOCAL);
    if (!abi.dl) {
        const char *e = dlerror();
        snprintf(abi.error, sizeof(abi.error), "cannot load %s: %s (rule 1)", d->library_path,
                 e ? e : "dlopen failed");
        return NULL;
    }
    *(void **)&abi.negotiate = dlsym(abi.dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    if (!abi.negotiate)
        snprintf(abi.error, sizeof(abi.error), "%s does not export %s (rule 2)", d->library_path,
                 ACCEL_ICD_NEGOTIATE_SYMBOL);
    return NULL;
}

static void abi_finish(conf_device *d)
{
    (void)d;
    const char *keep = getenv("ACCEL_LOADER_NO_UNLOAD");
    if (abi.dl && !abi.no_unload && !(keep && strcmp(keep, "0") != 0))
        dlclose(abi.dl);
    memset(&abi, 0, sizeof(abi));
}

static void need_library(conf_ctx *c)
{
    if (!abi.negotiate)
        FAIL("%s", abi.error);
}

#define HAS(t, field)                                                                                        \
    ((t)->struct_size >= offsetof(accel_icd_table, field) + sizeof(void (*)(void)) && (t)->field != NULL)

static const char *version_text(uint32_t v, char buf[16])
{
    snprintf(buf, 16, "%u.%u", ACCEL_VERSION_MAJOR(v), ACCEL_VERSION_MINOR(v));
    return buf;
}

static const accel_icd_table *negotiate_1_0(conf_ctx *c)
{
    need_library(c);
    accel_icd_negotiation n = {.struct_size = sizeof(n),
                               .loader_version = V1_0,
                               .loader_min_version = V1_0,
                               .services = &abi.services};
    accel_result r = abi.negotiate(&n);
    CHECK(r == ACCEL_SUCCESS,
          "accel_icd_negotiate offered 1.0 to 1.0 returned %s, expected ACCEL_SUCCESS (rule 3)", conf_rs(r));
    CHECK(n.table, "accel_icd_negotiate returned no function table (rule 5)");
    return n.table;
}

/* A started driver: negotiated, initialized, enumerated. */
typedef struct abi_driver {
    const accel_icd_table *t;
    void *handle;
    bool started;
    uint32_t count;
    void **devices;
    void *device; /* the one under test */
} abi_driver;

static void stop_driver(void *p)
{
    abi_driver *drv = p;
    if (drv->started)
        drv->t->driver_fini(drv->handle);
    drv->started = false;
    free(drv->devices);
    drv->devices = NULL;
}

static void start_driver(conf_ctx *c, abi_driver *drv)
{
    memset(drv, 0, sizeof(*drv));
    drv->t = negotiate_1_0(c);
    abi.no_unload = (drv->t->flags & ACCEL_ICD_FLAG_NO_UNLOAD) != 0;
    accel_icd_init_info init = {
        .struct_size = sizeof(init), .manifest_path = c->d->manifest_path, .driver_name = c->d->driver_name};
    accel_result r = drv->t->driver_init(&init, &drv->handle);
    CHECK(r == ACCEL_SUCCESS, "driver_init returned %s (rule 8); it succeeded for the loader a moment ago",
          conf_rs(r));
    drv->started = true;
    conf_defer(c, stop_driver, drv);
    uint32_t n = 0;
    r = drv->t->enumerate_devices(drv->handle, &n, NULL);
    CHECK(r == ACCEL_SUCCESS, "enumerate_devices(count) returned %s (rule 9)", conf_rs(r));
    CHECK(n <= MAX_DEVICES, "enumerate_devices reported %u devices; the limit is %u (rule 9)", n,
          MAX_DEVICES);
    drv->count = n;
    drv->devices = calloc(n + 1, sizeof(void *));
    CHECK(drv->devices, "out of host memory in the suite");
    uint32_t got = n;
    r = drv->t->enumerate_devices(drv->handle, &got, drv->devices);
    CHECK(r == ACCEL_SUCCESS, "enumerate_devices with room for all %u devices returned %s (rule 9)", n,
          conf_rs(r));
    CHECK(got == n, "enumerate_devices wrote %u of %u devices", got, n);
    CHECK(
        c->d->info.driver_index < n,
        "the loader saw this device at index %u, but this load of the driver has %u devices: the device list "
        "must be the same on every load (rule 12)",
        c->d->info.driver_index, n);
    drv->device = drv->devices[c->d->info.driver_index];
}

/* ---- tests ---- */

static void test_abi_negotiate(conf_ctx *c)
{
    need_library(c);
    accel_icd_loader_services services = abi.services;
    accel_icd_negotiation n = {
        .struct_size = sizeof(n), .loader_version = V1_0, .loader_min_version = V1_0, .services = &services};
    accel_result r = abi.negotiate(&n);
    char a[16];
    CHECK(r == ACCEL_SUCCESS, "offered interface 1.0 to 1.0, accel_icd_negotiate returned %s (rule 3)",
          conf_rs(r));
    CHECK(n.driver_version == V1_0, "offered 1.0 to 1.0, the driver answered %s (rule 4)",
          version_text(n.driver_version, a));
    CHECK(n.table, "accel_icd_negotiate stored no function table (rule 5)");
    CHECK(
        n.struct_size == sizeof(n) && n.loader_version == V1_0 && n.loader_min_version == V1_0 &&
            n.services == &services,
        "accel_icd_negotiate changed the loader's input fields (it may write only driver_version and table)");
}

static void check_range(conf_ctx *c, uint32_t min, uint32_t max)
{
    accel_icd_negotiation n = {.struct_size = sizeof(n),
                               .loader_version = max,
                               .loader_min_version = min,
                               .services = &abi.services};
    accel_result r = abi.negotiate(&n);
    char a[16], b[16], v[16];
    if (r == ACCEL_SUCCESS) {
        CHECK(n.driver_version >= min && n.driver_version <= max,
              "offered interface %s to %s, the driver answered %s: a driver must answer a version in the offered "
              "range or return ACCEL_ERROR_INCOMPATIBLE_DRIVER (rule 4)",
              version_text(min, a), version_text(max, b), version_text(n.driver_version, v));
        CHECK(n.table, "offered %s to %s, the driver accepted but stored no function table (rule 5)",
              version_text(min, a), version_text(max, b));
    } else {
        CHECK(
            r == ACCEL_ERROR_INCOMPATIBLE_DRIVER,
            "offered interface %s to %s, accel_icd_negotiate returned %s; a driver that speaks no version in "
            "the range returns ACCEL_ERROR_INCOMPATIBLE_DRIVER (rule 3)",
            version_text(min, a), version_text(max, b), conf_rs(r));
    }
}

static void test_abi_negotiate_other_loaders(conf_ctx *c)
{
    need_library(c);
    char a[16];
    /* A newer loader that also accepts 1.0. */
    accel_icd_negotiation n = {.struct_size = sizeof(n),
                               .loader_version = ACCEL_MAKE_VERSION(1, 9),
                               .loader_min_version = V1_0,
                               .services = &abi.services};
    accel_result r = abi.negotiate(&n);
    CHECK(r == ACCEL_SUCCESS, "offered interface 1.0 to 1.9, accel_icd_negotiate returned %s (rule 3)",
          conf_rs(r));
    CHECK(n.driver_version >= V1_0 && n.driver_version <= ACCEL_MAKE_VERSION(1, 9),
          "offered 1.0 to 1.9, the driver answered %s (rule 4)", version_text(n.driver_version, a));
    /* Loaders that accept nothing this driver can speak, if it speaks 1.x. */
    check_range(c, ACCEL_MAKE_VERSION(2, 0), ACCEL_MAKE_VERSION(2, 5));
    check_range(c, ACCEL_MAKE_VERSION(0, 1), ACCEL_MAKE_VERSION(0, 9));
    /* A loader built against a longer negotiation struct: the driver reads
     * and writes only the fields it knows. */
    struct {
        accel_icd_negotiation n;
        unsigned char tail[64];
    } big;
    memset(&big, 0, sizeof(big));
    memset(big.tail, 0x5a, sizeof(big.tail));
    big.n.struct_size = sizeof(big);
    big.n.loader_version = V1_0;
    big.n.loader_min_version = V1_0;
    big.n.services = &abi.services;
    r = abi.negotiate(&big.n);
    CHECK(r == ACCEL_SUCCESS,
          "with a negotiation struct of %zu bytes (a newer loader's), accel_icd_negotiate returned %s: a larger "
          "struct_size must be accepted (rule 11)",
          sizeof(big), conf_rs(r));
    CHECK(conf_first_not(big.tail, sizeof(big.tail), 0x5a) < 0,
          "accel_icd_negotiate wrote beyond the fields of accel_icd_negotiation (rule 11)");
}

static void test_abi_function_table(conf_ctx *c)
{
    const accel_icd_table *t = negotiate_1_0(c);
    CHECK(t->struct_size >= ACCEL_ICD_TABLE_SIZE_1_0,
          "the function table is %u bytes; interface 1.0 needs at least %zu (rule 6)", t->struct_size,
          (size_t)ACCEL_ICD_TABLE_SIZE_1_0);
    CHECK(t->struct_size <= 65536, "the function table claims %u bytes: struct_size is not set (rule 6)",
          t->struct_size);
    CHECK(
        t->driver_init && t->driver_fini && t->enumerate_devices && t->device_get_info && t->device_query,
        "a required entry is NULL: driver_init %s, driver_fini %s, enumerate_devices %s, "
        "device_get_info %s, device_query %s (rule 7)",
        t->driver_init ? "set" : "NULL", t->driver_fini ? "set" : "NULL",
        t->enumerate_devices ? "set" : "NULL", t->device_get_info ? "set" : "NULL",
        t->device_query ? "set" : "NULL");
    CHECK((t->flags & ~ACCEL_ICD_FLAG_NO_UNLOAD) == 0, "the table has unknown flags 0x%x", t->flags);
    const accel_icd_table *again = negotiate_1_0(c);
    CHECK(again == t,
          "a second accel_icd_negotiate returned another table: it must be one static table (rule 13)");

    /* Optional entries come in sets that only make sense together. */
    CHECK(HAS(t, memory_attach) == HAS(t, memory_detach),
          "memory_attach and memory_detach must come together (rule 14)");
    int device_memory =
        HAS(t, memory_alloc_device) + HAS(t, memory_free_device) + HAS(t, memory_write) + HAS(t, memory_read);
    CHECK(
        device_memory == 0 || device_memory == 4,
        "memory_alloc_device, memory_free_device, memory_write and memory_read must come together (rule 14)");
    CHECK(HAS(t, program_load) == HAS(t, program_release),
          "program_load and program_release must come together (rule 14)");
    CHECK(HAS(t, function_get) == HAS(t, function_release),
          "function_get and function_release must come together (rule 14)");
    int queue = HAS(t, queue_create) + HAS(t, queue_destroy) + HAS(t, queue_submit) + HAS(t, fence_status) +
                HAS(t, fence_wait) + HAS(t, fence_release);
    CHECK(queue == 0 || queue == 6,
          "queue_create, queue_destroy, queue_submit, fence_status, fence_wait and "
          "fence_release must come together (rule 14)");
    if (queue) {
        CHECK(HAS(t, function_get), "the driver runs work (queue entries) but has no function_get (rule 14)");
        CHECK(HAS(t, memory_attach) || device_memory,
              "the driver runs work but offers no way to reach memory "
              "(memory_attach, or the device-memory entries) (rule 14)");
    }
    if (HAS(t, memory_alloc_node))
        CHECK(HAS(t, device_memory_nodes) && HAS(t, memory_free_device),
              "memory_alloc_node needs device_memory_nodes and memory_free_device (rule 14)");
    if (HAS(t, program_load))
        CHECK(HAS(t, function_get), "the driver loads programs but has no function_get (rule 14)");
}

static void test_abi_init_twice(conf_ctx *c)
{
    abi_driver *first = conf_malloc(c, sizeof(*first));
    start_driver(c, first);
    uint32_t count = first->count;
    uint8_t *uuids = conf_malloc(c, (size_t)count * ACCEL_UUID_SIZE + 1);
    for (uint32_t i = 0; i < count; i++) {
        accel_icd_device_info info = {.struct_size = sizeof(info), .numa_node = -1, .parent_index = -1};
        accel_result r = first->t->device_get_info(first->devices[i], &info);
        CHECK(r == ACCEL_SUCCESS, "device_get_info(device %u) returned %s (rule 10)", i, conf_rs(r));
        memcpy(uuids + (size_t)i * ACCEL_UUID_SIZE, info.uuid, ACCEL_UUID_SIZE);
    }
    if (HAS(first->t, driver_version_string)) {
        const char *v = first->t->driver_version_string(first->handle);
        if (v) {
            CHECK(memchr(v, '\0', 256) != NULL,
                  "driver_version_string returned a string of 256 bytes or more");
            CHECK(strcmp(v, c->d->driver_version) == 0 || strlen(c->d->driver_version) == 64,
                  "driver_version_string returned \"%s\"; for the loader it returned \"%s\"", v,
                  c->d->driver_version);
        }
    }
    stop_driver(first);

    /* Again, in the same copy of the library: static state must have been
     * reset by negotiation or driver_init (rule 12). */
    abi_driver *second = conf_malloc(c, sizeof(*second));
    start_driver(c, second);
    CHECK(second->count == count,
          "after driver_fini, a second driver_init enumerates %u devices instead of %u (rule 12)",
          second->count, count);
    for (uint32_t i = 0; i < count; i++) {
        accel_icd_device_info info = {.struct_size = sizeof(info), .numa_node = -1, .parent_index = -1};
        accel_result r = second->t->device_get_info(second->devices[i], &info);
        CHECK(r == ACCEL_SUCCESS, "after a second driver_init, device_get_info(device %u) returned %s", i,
              conf_rs(r));
        CHECK(memcmp(uuids + (size_t)i * ACCEL_UUID_SIZE, info.uuid, ACCEL_UUID_SIZE) == 0,
              "after a second driver_init, device %u has another uuid: uuids must be stable (rule 12)", i);
    }
    CHECK(memcmp(uuids + (size_t)c->d->info.driver_index * ACCEL_UUID_SIZE, c->d->info.uuid,
                 ACCEL_UUID_SIZE) == 0,
          "device %u has another uuid than when the loader loaded the driver (rule 12)",
          c->d->info.driver_index);
}

static void test_abi_enumerate(conf_ctx *c)
{
    abi_driver *drv = conf_malloc(c, sizeof(*drv));
    start_driver(c, drv);
    uint32_t n = drv->count;
    for (uint32_t i = 0; i < n; i++) {
        CHECK(drv->devices[i], "enumerate_devices returned a NULL handle for device %u (rule 9)", i);
        for (uint32_t k = 0; k < i; k++)
            CHECK(drv->devices[i] != drv->devices[k], "devices %u and %u have the same handle (rule 9)", k,
                  i);
    }
    /* More room than devices: SUCCESS, the count, nothing written beyond. */
    void **big = conf_malloc(c, (n + 3) * sizeof(void *));
    for (uint32_t i = 0; i < n + 3; i++)
        big[i] = (void *)&big;
    uint32_t got = n + 3;
    accel_result r = drv->t->enumerate_devices(drv->handle, &got, big);
    CHECK(r == ACCEL_SUCCESS, "enumerate_devices with room for %u handles (%u devices) returned %s (rule 9)",
          n + 3, n, conf_rs(r));
    CHECK(got == n,
          "enumerate_devices with room for %u handles set the count to %u; there are %u devices (rule 9)",
          n + 3, got, n);
    for (uint32_t i = 0; i < n; i++)
        CHECK(big[i] == drv->devices[i],
              "the second enumeration gave another handle for device %u: the list must "
              "not change until driver_fini (rule 9)",
              i);
    for (uint32_t i = n; i < n + 3; i++)
        CHECK(big[i] == (void *)&big, "enumerate_devices wrote beyond the %u devices it reported (rule 9)",
              n);
    /* Less room: ACCEL_INCOMPLETE, as many as fit, nothing beyond. */
    if (n >= 1) {
        for (uint32_t i = 0; i < n + 3; i++)
            big[i] = (void *)&big;
        got = n - 1;
        r = drv->t->enumerate_devices(drv->handle, &got, big);
        CHECK(r == ACCEL_INCOMPLETE,
              "enumerate_devices with room for %u of %u devices returned %s, expected ACCEL_INCOMPLETE (rule 9)",
              n - 1, n, conf_rs(r));
        CHECK(got == n - 1, "enumerate_devices with room for %u handles set the count to %u (rule 9)", n - 1,
              got);
        for (uint32_t i = 0; i < n - 1; i++)
            CHECK(big[i] == drv->devices[i],
                  "with less room, enumerate_devices gave another handle for device %u (rule 9)", i);
        CHECK(big[n - 1] == (void *)&big,
              "with room for %u handles, enumerate_devices wrote a handle beyond the array (rule 9)", n - 1);
    }
}

/* device_get_info with a struct of `size` bytes followed by a guard. */
static void info_with_size(conf_ctx *c, abi_driver *drv, uint32_t size, accel_icd_device_info *out)
{
    unsigned char *buf = conf_malloc(c, sizeof(accel_icd_device_info) + 256);
    memset(buf, 0, size);
    memset(buf + size, 0xa5, sizeof(accel_icd_device_info) + 256 - size);
    accel_icd_device_info *info = (accel_icd_device_info *)(void *)buf;
    info->struct_size = size;
    info->numa_node = -1;
    info->parent_index = -1;
    accel_result r = drv->t->device_get_info(drv->device, info);
    CHECK(r == ACCEL_SUCCESS, "device_get_info with struct_size %u returned %s (rule 10)", size, conf_rs(r));
    CHECK(info->struct_size == size, "device_get_info changed struct_size from %u to %u (rule 11)", size,
          info->struct_size);
    long bad = conf_first_not(buf + size, sizeof(accel_icd_device_info) + 256 - size, 0xa5);
    CHECK(
        bad < 0,
        "given struct_size %u, device_get_info wrote byte %ld past the end: write at most struct_size bytes (rule 11)",
        size, bad);
    memset(out, 0, sizeof(*out));
    memcpy(out, buf, size);
}

static void check_string(conf_ctx *c, const char *field, const char *s, size_t size)
{
    CHECK(memchr(s, '\0', size) != NULL,
          "device_get_info: %s is not NUL-terminated within its %zu bytes (rule 15)", field, size);
}

static void test_abi_device_info(conf_ctx *c)
{
    abi_driver *drv = conf_malloc(c, sizeof(*drv));
    start_driver(c, drv);
    accel_icd_device_info full, v1_0;
    info_with_size(c, drv, sizeof(accel_icd_device_info), &full);
    /* The struct of interface 1.0's first header: everything before
     * device_node. */
    info_with_size(c, drv, (uint32_t)offsetof(accel_icd_device_info, device_node), &v1_0);
    check_string(c, "name", full.name, sizeof(full.name));
    check_string(c, "vendor", full.vendor, sizeof(full.vendor));
    check_string(c, "bus_address", full.bus_address, sizeof(full.bus_address));
    check_string(c, "numa_nodes", full.numa_nodes, sizeof(full.numa_nodes));
    check_string(c, "device_node", full.device_node, sizeof(full.device_node));
    check_string(c, "partition", full.partition, sizeof(full.partition));
    CHECK(memcmp(full.uuid, c->d->info.uuid, ACCEL_UUID_SIZE) == 0,
          "device_get_info gives another uuid than it gave the loader (rule 12)");
    CHECK(memcmp(v1_0.uuid, full.uuid, ACCEL_UUID_SIZE) == 0 && strcmp(v1_0.name, full.name) == 0 &&
              v1_0.kind == full.kind,
          "device_get_info describes the device differently when struct_size is smaller (rule 11)");
    CHECK(strcmp(full.name, c->d->info.name) == 0,
          "device_get_info gives the name \"%s\"; the loader got \"%s\"", full.name, c->d->info.name);
}

static void test_abi_device_query(conf_ctx *c)
{
    abi_driver *drv = conf_malloc(c, sizeof(*drv));
    start_driver(c, drv);
    accel_icd_device_info info = {.struct_size = sizeof(info), .numa_node = -1, .parent_index = -1};
    CHECK(drv->t->device_get_info(drv->device, &info) == ACCEL_SUCCESS, "device_get_info failed (rule 10)");
    static const struct {
        accel_device_param param;
        const char *name;
        size_t size;
        bool required;
    } params[] = {
        {ACCEL_DEVICE_PARAM_KIND, "KIND", 4, true},
        {ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, "AVAILABLE_INSTANCES", 4, true},
        {ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES, "MAX_ADDRESS_SPACES", 4, false},
        {ACCEL_DEVICE_PARAM_FLAGS, "FLAGS", 4, false},
        {ACCEL_DEVICE_PARAM_NUMA_NODE, "NUMA_NODE", 4, false},
        {ACCEL_DEVICE_PARAM_RECONFIGURE_NS, "RECONFIGURE_NS", 8, false},
        {ACCEL_DEVICE_PARAM_MAX_QUEUES, "MAX_QUEUES", 4, false},
        {ACCEL_DEVICE_PARAM_QUEUE_DEPTH, "QUEUE_DEPTH", 4, false},
        {ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE, "MAX_PROGRAM_SIZE", 8, false},
        {ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS, "MAX_FUNCTION_ARGS", 4, false},
        {ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT, "ARG_OFFSET_ALIGNMENT", 8, false},
    };
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        size_t size = 12345;
        accel_result r = drv->t->device_query(drv->device, params[i].param, NULL, 0, &size);
        if (r == ACCEL_ERROR_UNSUPPORTED && !params[i].required)
            continue;
        CHECK(r == ACCEL_SUCCESS, "device_query(%s) asking only the size returned %s (rule 16)",
              params[i].name, conf_rs(r));
        CHECK(size == params[i].size,
              "device_query(%s) gives a size of %zu; the parameter is %zu bytes (rule 16)", params[i].name,
              size, params[i].size);
        unsigned char value[16];
        memset(value, 0xa5, sizeof(value));
        r = drv->t->device_query(drv->device, params[i].param, value, params[i].size - 1, NULL);
        CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT,
              "device_query(%s) with %zu bytes of room returned %s, expected ACCEL_ERROR_INVALID_ARGUMENT (rule 16)",
              params[i].name, params[i].size - 1, conf_rs(r));
        CHECK(conf_first_not(value, sizeof(value), 0xa5) < 0,
              "device_query(%s) wrote into a value that was too small (rule 16)", params[i].name);
        size = 0;
        r = drv->t->device_query(drv->device, params[i].param, value, sizeof(value), &size);
        CHECK(r == ACCEL_SUCCESS, "device_query(%s) returned %s (rule 16)", params[i].name, conf_rs(r));
        CHECK(size == params[i].size, "device_query(%s) set *size_ret to %zu (rule 16)", params[i].name,
              size);
        CHECK(conf_first_not(value + params[i].size, sizeof(value) - params[i].size, 0xa5) < 0,
              "device_query(%s) wrote more than %zu bytes (rule 16)", params[i].name, params[i].size);
        r = drv->t->device_query(drv->device, params[i].param, value, params[i].size, NULL);
        CHECK(r == ACCEL_SUCCESS, "device_query(%s) with size_ret NULL returned %s (rule 16)", params[i].name,
              conf_rs(r));
        if (params[i].param == ACCEL_DEVICE_PARAM_KIND) {
            uint32_t kind;
            memcpy(&kind, value, 4);
            CHECK(kind == (uint32_t)info.kind, "device_query(KIND) gives %u; device_get_info gives %u", kind,
                  (unsigned)info.kind);
        }
    }
    static const uint32_t unknown[] = {0, 0x7ffffffe, 1000};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        unsigned char value[16];
        size_t size = 0;
        accel_result r =
            drv->t->device_query(drv->device, (accel_device_param)unknown[i], value, sizeof(value), &size);
        CHECK(r == ACCEL_ERROR_UNSUPPORTED,
              "device_query of the unknown parameter %u returned %s, expected ACCEL_ERROR_UNSUPPORTED (rule 16)",
              unknown[i], conf_rs(r));
    }
}

static const conf_test_def abi_tests[] = {
    {"negotiate", test_abi_negotiate},
    {"negotiate_other_loaders", test_abi_negotiate_other_loaders},
    {"function_table", test_abi_function_table},
    {"init_twice", test_abi_init_twice},
    {"enumerate", test_abi_enumerate},
    {"device_info", test_abi_device_info},
    {"device_query", test_abi_device_query},
};

const conf_group_def conf_group_abi = {
    .name = "abi",
    .title = "driver ABI and negotiation",
    .tests = CONF_TESTS(abi),
    .prepare = abi_prepare,
    .finish = abi_finish,
    .before_instance = true,
};
