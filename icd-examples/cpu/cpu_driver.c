/* cpu_driver.c — the reference driver: the host CPU as one accel device.
 *
 * Built and loaded like any vendor's driver: it includes only
 * accel/accel_icd.h and is found through its manifest. */
#include <accel/accel_icd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_DRIVER_VERSION "0.1.0"

typedef struct cpu_device {
    accel_icd_device_info info;
} cpu_device;

typedef struct cpu_driver {
    cpu_device device;
} cpu_driver;

static const accel_icd_loader_services *services;

#define LOG(level, ...)                                                     \
    do {                                                                    \
        if (services && services->log)                                      \
            services->log(services->loader_context, (level), __VA_ARGS__);  \
    } while (0)

/* Read the first line of a small text file, without its newline. */
static int read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static void cpu_model(char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char line[512];
    snprintf(buf, size, "host CPU");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ' || *colon == '\t')
                    colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, size, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h ^ 0xff; /* separator, so "ab"+"c" differs from "a"+"bc" */
}

/* A uuid that is the same on every run on this machine: a hash of the
 * machine id and the processor model, shaped as an RFC 4122 version 5-like
 * (name-based) uuid. */
static void stable_uuid(const char *model, uint8_t out[ACCEL_UUID_SIZE])
{
    char machine_id[128] = "";
    if (read_line("/etc/machine-id", machine_id, sizeof(machine_id)) != 0)
        read_line("/var/lib/dbus/machine-id", machine_id, sizeof(machine_id));
    uint64_t a = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325ull, "accel-cpu"), machine_id), model);
    uint64_t b = fnv1a(fnv1a(fnv1a(0x84222325cbf29ce4ull, model), machine_id), "accel-cpu");
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

/* NUMA locality: every online node; a single node is also the numa_node. */
static void numa_locality(accel_icd_device_info *info)
{
    char nodes[64];
    info->numa_node = -1;
    if (read_line("/sys/devices/system/node/online", nodes, sizeof(nodes)) != 0)
        return;
    snprintf(info->numa_nodes, sizeof(info->numa_nodes), "%s", nodes);
    char *end;
    long n = strtol(nodes, &end, 10);
    if (end != nodes && *end == '\0' && n >= 0)
        info->numa_node = (int32_t)n;
}

static accel_icd_result cpu_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    cpu_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    accel_icd_device_info *info = &drv->device.info;
    char model[200];
    cpu_model(model, sizeof(model));
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(info->name, sizeof(info->name), "%s (%ld threads)", model, threads > 0 ? threads : 1);
    snprintf(info->vendor, sizeof(info->vendor), "accel-loader");
    info->kind = ACCEL_DEVICE_KIND_CPU;
    info->interface = ACCEL_DEVICE_INTERFACE_NATIVE;
    stable_uuid(model, info->uuid);
    numa_locality(info);
    /* The CPU shares the process's address space: no PASID, no limit. */
    info->flags = ACCEL_DEVICE_FLAG_SVA;
    info->max_address_spaces = 0;
    info->available_instances = ACCEL_INSTANCES_UNLIMITED;
    info->parent_index = -1;
    info->driver_version = ACCEL_MAKE_VERSION(0, 1);
    LOG(ACCEL_LOG_DEBUG, "one device: %s, NUMA nodes %s", info->name, info->numa_nodes);
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void cpu_fini(void *handle)
{
    free(handle);
}

static accel_icd_result cpu_enumerate(void *handle, uint32_t *count, void **devices)
{
    cpu_driver *drv = handle;
    if (!devices) {
        *count = 1;
        return ACCEL_SUCCESS;
    }
    if (*count == 0)
        return ACCEL_INCOMPLETE;
    devices[0] = &drv->device;
    *count = 1;
    return ACCEL_SUCCESS;
}

static accel_icd_result cpu_get_info(void *device, accel_icd_device_info *info)
{
    const cpu_device *dev = device;
    size_t n = info->struct_size < sizeof(*info) ? info->struct_size : sizeof(*info);
    uint32_t keep = info->struct_size;
    memcpy(info, &dev->info, n);
    info->struct_size = keep;
    return ACCEL_SUCCESS;
}

static accel_icd_result put_u32(uint32_t v, void *value, size_t size, size_t *size_ret)
{
    if (size_ret)
        *size_ret = sizeof(v);
    if (!value)
        return ACCEL_SUCCESS;
    if (size < sizeof(v))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, &v, sizeof(v));
    return ACCEL_SUCCESS;
}

static accel_icd_result cpu_query(void *device, accel_device_param param, void *value, size_t size,
                                  size_t *size_ret)
{
    const cpu_device *dev = device;
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: return put_u32((uint32_t)dev->info.kind, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES:
        return put_u32(dev->info.available_instances, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES:
        return put_u32(dev->info.max_address_spaces, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_FLAGS: return put_u32(dev->info.flags, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_NUMA_NODE: return put_u32((uint32_t)dev->info.numa_node, value, size, size_ret);
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
}

static const char *cpu_version(void *handle)
{
    (void)handle;
    return CPU_DRIVER_VERSION;
}

static const accel_icd_table cpu_table = {
    .struct_size = sizeof(accel_icd_table),
    .flags = 0,
    .driver_init = cpu_init,
    .driver_fini = cpu_fini,
    .enumerate_devices = cpu_enumerate,
    .device_get_info = cpu_get_info,
    .device_query = cpu_query,
    .driver_version_string = cpu_version,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    if (!n || n->struct_size < sizeof(*n))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (n->loader_version < ACCEL_ICD_INTERFACE_VERSION && n->loader_version < ACCEL_MAKE_VERSION(1, 0))
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    services = n->services;
    n->driver_version = ACCEL_ICD_INTERFACE_VERSION <= n->loader_version ? ACCEL_ICD_INTERFACE_VERSION
                                                                          : n->loader_version;
    n->table = &cpu_table;
    return ACCEL_SUCCESS;
}
