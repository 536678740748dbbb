/* fake_driver.c — the drivers the loader's tests load.
 *
 * One source, built once per variant (see meson.build). Each variant is a
 * well-behaved driver except for the ONE thing its FAKE_* define changes:
 *
 *   FAKE_VARIANT="name"    the variant's name: seeds the device uuids and
 *                          tags the trace lines (always set)
 *   FAKE_NO_NEGOTIATE      accel_icd_negotiate is not exported
 *   FAKE_ANSWER_VERSION=v  answer interface version v whatever the loader offers
 *   FAKE_REFUSE            negotiation returns ACCEL_ERROR_INCOMPATIBLE_DRIVER
 *   FAKE_NULL_QUERY        the required device_query entry is NULL
 *   FAKE_SHORT_TABLE       table struct_size stops before device_query
 *   FAKE_INIT_FAILS        driver_init logs why, then fails
 *   FAKE_DEVICE_COUNT=n    n devices instead of 2 (kinds cycle; with more than
 *                          2, the last one is a partition of device 0)
 *   FAKE_NO_UNLOAD         the table sets ACCEL_ICD_FLAG_NO_UNLOAD
 *   FAKE_ENUM_FAILS        enumerate_devices fails
 *
 * What tests can observe:
 *  - fake_negotiate_calls, fake_init_calls, fake_fini_calls: exported by
 *    name, read with dlsym() on a dlopen(RTLD_NOLOAD) handle while the
 *    library is mapped (they restart at 0 when it is mapped again);
 *  - the trace: when ACCEL_FAKE_TRACE names a file, every negotiate, init
 *    and fini appends "<variant> <event>\n" to it, which survives dlclose.
 *
 * What tests can set, read at driver_init (so that two variants can play
 * one piece of hardware under two drivers):
 *  - ACCEL_FAKE_BUS_<variant>: a hexadecimal PCI bus number B (at most
 *    ff): device i is at 0000:(B+i):00.0 instead of 0000:i:00.0; "none"
 *    leaves every bus address empty;
 *  - ACCEL_FAKE_UUID_<variant>: a word that seeds the device uuids in
 *    place of the variant's name (two variants with one seed report the
 *    same uuids).
 *
 * Like a real driver it includes only accel/accel_icd.h (and libc).
 */
#include <accel/accel_icd.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FAKE_VARIANT
#error "FAKE_VARIANT must name the variant"
#endif
#ifndef FAKE_DEVICE_COUNT
#define FAKE_DEVICE_COUNT 2
#endif

#define FAKE_EXPORT __attribute__((visibility("default")))
/* Some variants leave an entry out of their table on purpose. */
#define FAKE_MAYBE_UNUSED __attribute__((unused))

FAKE_EXPORT unsigned fake_negotiate_calls;
FAKE_EXPORT unsigned fake_init_calls;
FAKE_EXPORT unsigned fake_fini_calls;

typedef struct fake_device {
    accel_icd_device_info info;
} fake_device;

/* Devices live in static storage: the loader calls init and fini at most
 * once at a time per load, so there is nothing to share between callers. */
static fake_device devices[FAKE_DEVICE_COUNT > 0 ? FAKE_DEVICE_COUNT : 1];
static const uint32_t device_count = FAKE_DEVICE_COUNT;
static const accel_icd_loader_services *services;

#define LOG(level, ...)                                                                                      \
    do {                                                                                                     \
        if (services && services->log)                                                                       \
            services->log(services->loader_context, (level), __VA_ARGS__);                                   \
    } while (0)

static void trace(const char *event)
{
    const char *path = getenv("ACCEL_FAKE_TRACE");
    if (!path || !*path)
        return;
    char line[128];
    int n = snprintf(line, sizeof(line), "%s %s\n", FAKE_VARIANT, event);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write per line, so lines from several threads never interleave. */
    if (write(fd, line, (size_t)n) != n)
        n = -1;
    close(fd);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Deterministic and distinct per (variant, index): tests compare uuids
 * across runs and across variants. */
static void make_uuid(const char *seed, uint32_t index, uint8_t out[ACCEL_UUID_SIZE])
{
    uint64_t a = fnv1a(0xcbf29ce484222325ull, seed);
    uint64_t b = fnv1a(a ^ 0x5bd1e9955bd1e995ull, "fake-device");
    b ^= (uint64_t)index * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
}

static const accel_device_kind kind_cycle[] = {ACCEL_DEVICE_KIND_GPU, ACCEL_DEVICE_KIND_FPGA,
                                               ACCEL_DEVICE_KIND_ASIC, ACCEL_DEVICE_KIND_CPU};
static const char *const kind_names[] = {"gpu", "fpga", "asic", "cpu"};

/* ACCEL_FAKE_<what>_<variant>, or NULL. */
FAKE_MAYBE_UNUSED static const char *setting(const char *what)
{
    char name[96];
    snprintf(name, sizeof(name), "ACCEL_FAKE_%s_%s", what, FAKE_VARIANT);
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

FAKE_MAYBE_UNUSED static void fill_device(uint32_t i, accel_icd_device_info *info)
{
    const char *bus = setting("BUS");
    const char *seed = setting("UUID");
    unsigned long base = 0;
    if (bus && strcmp(bus, "none") != 0) {
        char *end;
        base = strtoul(bus, &end, 16);
        if (*end || base > 0xff)
            base = 0;
    }
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    info->kind = kind_cycle[i % 4];
    info->interface = ACCEL_DEVICE_INTERFACE_NATIVE;
    snprintf(info->name, sizeof(info->name), "%s %s%u", FAKE_VARIANT, kind_names[i % 4], i);
    snprintf(info->vendor, sizeof(info->vendor), "fake vendor");
    make_uuid(seed ? seed : FAKE_VARIANT, i, info->uuid);
    info->vendor_id = 0xfa4e;
    info->device_id = i;
    if (!bus || strcmp(bus, "none") != 0)
        snprintf(info->bus_address, sizeof(info->bus_address), "0000:%02lx:00.0", (base + i) & 0xff);
    info->numa_node = -1;
    info->max_address_spaces = 8;
    info->available_instances = 4 + i;
    info->parent_index = -1;
    if (device_count > 2 && i == device_count - 1) {
        info->parent_index = 0;
        info->flags |= ACCEL_DEVICE_FLAG_PARTITION;
    }
    info->driver_version = ACCEL_MAKE_VERSION(3, 4);
}

static accel_icd_result fake_init(const accel_icd_init_info *init, void **handle)
{
    fake_init_calls++;
    trace("init");
#ifdef FAKE_INIT_FAILS
    LOG(ACCEL_LOG_ERROR, "%s: cannot reach the simulated device (manifest %s)", FAKE_VARIANT,
        init && init->manifest_path ? init->manifest_path : "?");
    return ACCEL_ERROR_DEVICE_LOST;
#else
    (void)init;
    for (uint32_t i = 0; i < device_count; i++)
        fill_device(i, &devices[i].info);
    LOG(ACCEL_LOG_INFO, "%s: %u device(s) ready", FAKE_VARIANT, (unsigned)FAKE_DEVICE_COUNT);
    *handle = devices;
    return ACCEL_SUCCESS;
#endif
}

static void fake_fini(void *handle)
{
    (void)handle;
    fake_fini_calls++;
    trace("fini");
}

static accel_icd_result fake_enumerate(void *handle, uint32_t *count, void **out)
{
    (void)handle;
#ifdef FAKE_ENUM_FAILS
    (void)count;
    (void)out;
    LOG(ACCEL_LOG_WARN, "%s: device list unavailable", FAKE_VARIANT);
    return ACCEL_ERROR_DEVICE_LOST;
#else
    if (!out) {
        *count = device_count;
        return ACCEL_SUCCESS;
    }
    uint32_t n = *count < device_count ? *count : device_count;
    for (uint32_t i = 0; i < n; i++)
        out[i] = &devices[i];
    *count = n;
    return n < device_count ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
#endif
}

static accel_icd_result fake_get_info(void *device, accel_icd_device_info *info)
{
    const fake_device *d = device;
    uint32_t keep = info->struct_size;
    size_t n = keep < sizeof(*info) ? keep : sizeof(*info);
    memcpy(info, &d->info, n);
    info->struct_size = keep;
    return ACCEL_SUCCESS;
}

static accel_icd_result put(const void *v, size_t len, void *value, size_t size, size_t *size_ret)
{
    if (size_ret)
        *size_ret = len;
    if (!value)
        return ACCEL_SUCCESS;
    if (size < len)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, v, len);
    return ACCEL_SUCCESS;
}

FAKE_MAYBE_UNUSED static accel_icd_result fake_query(void *device, accel_device_param param, void *value,
                                                     size_t size, size_t *size_ret)
{
    const accel_icd_device_info *info = &((const fake_device *)device)->info;
    uint32_t u;
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: u = (uint32_t)info->kind; break;
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES: u = info->available_instances; break;
    case ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES: u = info->max_address_spaces; break;
    case ACCEL_DEVICE_PARAM_FLAGS: u = info->flags; break;
    case ACCEL_DEVICE_PARAM_NUMA_NODE:
        return put(&info->numa_node, sizeof(info->numa_node), value, size, size_ret);
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
    return put(&u, sizeof(u), value, size, size_ret);
}

static const char *fake_version(void *handle)
{
    (void)handle;
    return "3.4.5-" FAKE_VARIANT;
}

static const accel_icd_table fake_table = {
#ifdef FAKE_SHORT_TABLE
    .struct_size = offsetof(accel_icd_table, device_query),
#else
    .struct_size = sizeof(accel_icd_table),
#endif
#ifdef FAKE_NO_UNLOAD
    .flags = ACCEL_ICD_FLAG_NO_UNLOAD,
#endif
    .driver_init = fake_init,
    .driver_fini = fake_fini,
    .enumerate_devices = fake_enumerate,
    .device_get_info = fake_get_info,
#ifndef FAKE_NULL_QUERY
    .device_query = fake_query,
#endif
    .driver_version_string = fake_version,
};

#ifdef FAKE_NO_NEGOTIATE
/* Exported under a misspelled name: the loader must not find it. */
#define FAKE_NEGOTIATE accel_icd_negotiation_entry
ACCEL_ICD_EXPORT accel_icd_result FAKE_NEGOTIATE(accel_icd_negotiation *n);
#else
#define FAKE_NEGOTIATE accel_icd_negotiate
#endif

ACCEL_ICD_EXPORT accel_icd_result FAKE_NEGOTIATE(accel_icd_negotiation *n)
{
    fake_negotiate_calls++;
    trace("negotiate");
    if (!n || n->struct_size < offsetof(accel_icd_negotiation, table) + sizeof(n->table))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    services = n->services;
    n->table = &fake_table;
#if defined(FAKE_REFUSE)
    LOG(ACCEL_LOG_WARN, "%s: no interface version in common", FAKE_VARIANT);
    return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
#elif defined(FAKE_ANSWER_VERSION)
    n->driver_version = FAKE_ANSWER_VERSION;
    return ACCEL_SUCCESS;
#else
    if (n->loader_min_version > ACCEL_ICD_INTERFACE_VERSION)
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    n->driver_version =
        n->loader_version < ACCEL_ICD_INTERFACE_VERSION ? n->loader_version : ACCEL_ICD_INTERFACE_VERSION;
    return ACCEL_SUCCESS;
#endif
}
