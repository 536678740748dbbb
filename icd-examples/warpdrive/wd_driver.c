/* wd_driver.c — accel driver for Linux WarpDrive (uacce) devices.
 *
 * Discovery follows what the kernel exposes (drivers/misc/uacce): every
 * directory <sysfs>/class/uacce/<dev>/ with the attributes api, flags
 * (bit 0 UACCE_DEV_SVA), available_instances, algorithms (one per line),
 * region_mmio_size, region_dus_size, isolate, isolate_strategy and the
 * parent's device/numa_node; the queue is opened through <dev-root>/<dev>.
 * The roots default to /sys and /dev; ACCEL_UACCE_SYSFS_ROOT and
 * ACCEL_UACCE_DEV_ROOT redirect them (read with secure_getenv: ignored in
 * setuid programs). Isolated devices, devices whose api names a queue
 * format this driver does not speak (it speaks "accel_wd_v1", wd_proto.h)
 * and devices whose node is neither a character device nor the emulator's
 * UNIX socket are skipped, each with a logged reason.
 *
 * One accel device per uacce device: kind ASIC, interface UACCE. Built-in
 * functions are the standard functions named by `algorithms`:
 *   zlib, deflate        -> zlib.deflate, zlib.inflate, zlib.deflate.stream,
 *                           zlib.inflate.stream
 *   crc32c               -> crc32c, crc32c.stream
 *   sha256               -> sha256, sha256.stream
 *   copy, memcpy         -> accel.copy
 *   fill, memset         -> accel.fill
 * plus accel.noop (an empty descriptor through the ring) on every device.
 *
 * Memory: with SVA the device reaches the process's pages by virtual
 * address (memory_attach: ZERO_COPY). On real hardware the IOMMU translates
 * those addresses and nothing more is needed. The emulator, a process of
 * its own, cannot walk this process's page tables; for memory that comes
 * with a file descriptor the driver also hands it the fd and the virtual
 * range, which it keeps in its model of the device's translation cache and
 * uses to reach the bytes in place (emu_memory.c; removed, synchronously,
 * at detach). Without SVA it reaches only memory
 * registered with it: memory_attach succeeds (PINNED) for memory that comes
 * with a file descriptor (a memfd), which is sent to the device; anything
 * else is ACCEL_ERROR_UNSUPPORTED and the loader stages it through
 * memory_alloc_device (a memfd registered with the device; memory_write and
 * memory_read are memcpy). Registration needs the emulator's socket: a real
 * non-SVA uacce device would need its static-shared region, which this
 * driver does not implement (attach and alloc report UNSUPPORTED there).
 */
#include "wd_internal.h"
#include "wd_msg.h"
#include "accel_host_memory.h"
#include "accel_icd_negotiate.h"
#include "accel_icd_query.h"
#include "accel_safe_file.h"
#include "accel_uuid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define WD_DRIVER_VERSION "0.1.0"
#define WD_PASID_BITS     20u /* the PASID width modelled for SVA devices (PCIe maximum) */
#define WD_CTL_TIMEOUT_MS 5000 /* the emulator answers control requests within this */

const accel_icd_loader_services *wd__services;
#define LOG WD_LOG

/* Entries of <sysfs>/class/uacce read at most (each a possible device). */
#define WD_MAX_NAMES 4096

typedef struct wd_driver {
    uint32_t count;
    wd_device *devices[WD_MAX_DEVICES];
} wd_driver;

/* ---- sysfs --------------------------------------------------------------------- */

/* Read a small attribute without allocating (device_query must not), and
 * without blocking: an attribute that is a FIFO, a device or a directory
 * (ACCEL_UACCE_SYSFS_ROOT may point anywhere) is refused before any read,
 * and logged with its path and kind; a missing one is not logged (some are
 * optional). */
static int read_attr(const char *dir, const char *attr, char *buf, size_t size)
{
    char path[PATH_MAX + 64], why[96];
    if (snprintf(path, sizeof(path), "%s/%s", dir, attr) >= (int)sizeof(path))
        return -1;
    int err = accel_safe_read_small(path, buf, size, NULL, why, sizeof(why));
    if (err && err != ENOENT)
        LOG(ACCEL_LOG_WARN, "uacce attribute %s: %s", path, why);
    return err ? -1 : 0;
}

static int read_first_line(const char *dir, const char *attr, char *buf, size_t size)
{
    if (read_attr(dir, attr, buf, size) != 0)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* A numeric attribute: -1 if missing or unreadable, -2 if it is not a
 * number in [min, max] (what the kernel prints never is: a value that
 * overflows is refused, not wrapped). */
static int read_num(const char *dir, const char *attr, long long min, long long max, long long *out)
{
    char buf[64], *end;
    if (read_first_line(dir, attr, buf, sizeof(buf)) != 0)
        return -1;
    errno = 0;
    long long v = strtoll(buf, &end, 0);
    if (errno || end == buf || *end || v < min || v > max)
        return -2;
    *out = v;
    return 0;
}

static int read_long(const char *dir, const char *attr, long long *out)
{
    return read_num(dir, attr, LLONG_MIN, LLONG_MAX, out) == 0 ? 0 : -1;
}

/* Stable across runs: a hash of the device name and its api. */
static void stable_uuid(const char *name, const char *api, uint8_t out[ACCEL_UUID_SIZE])
{
    const char *parts[] = {"accel-uacce", name, api};
    accel_uuid_from_parts(parts, 3, out);
}

#define WD_ZLIB_OPS                                                                                          \
    (1u << WD_OP_DEFLATE | 1u << WD_OP_INFLATE | 1u << WD_OP_DEFLATE_STREAM | 1u << WD_OP_INFLATE_STREAM)
static const struct {
    const char *algorithm;
    uint32_t ops;
} algorithm_map[] = {
    {"zlib", WD_ZLIB_OPS},
    {"deflate", WD_ZLIB_OPS},
    {"crc32c", 1u << WD_OP_CRC32C | 1u << WD_OP_CRC32C_STREAM},
    {"sha256", 1u << WD_OP_SHA256 | 1u << WD_OP_SHA256_STREAM},
    {"copy", 1u << WD_OP_COPY},
    {"memcpy", 1u << WD_OP_COPY},
    {"fill", 1u << WD_OP_FILL},
    {"memset", 1u << WD_OP_FILL},
};

static uint32_t ops_from_algorithms(char *list)
{
    uint32_t ops = 1u << WD_OP_NOOP;
    for (char *save = NULL, *tok = strtok_r(list, "\n \t", &save); tok; tok = strtok_r(NULL, "\n \t", &save))
        for (size_t i = 0; i < sizeof(algorithm_map) / sizeof(algorithm_map[0]); i++)
            if (strcmp(tok, algorithm_map[i].algorithm) == 0)
                ops |= algorithm_map[i].ops;
    return ops;
}

/* Examine one uacce device; NULL (with a logged reason) to skip it. */
static wd_device *probe(const char *sysfs_root, const char *dev_root, const char *name)
{
    char dir[PATH_MAX], api[64], algorithms[1024], isolate[16];
    long long flags, avail, mmio, dus, numa;
    if (snprintf(dir, sizeof(dir), "%s/class/uacce/%s", sysfs_root, name) >= (int)sizeof(dir))
        return NULL;
    if (read_first_line(dir, "api", api, sizeof(api)) != 0 ||
        read_attr(dir, "algorithms", algorithms, sizeof(algorithms)) != 0) {
        LOG(ACCEL_LOG_WARN, "uacce device %s: missing or unreadable attributes in %s; skipped", name, dir);
        return NULL;
    }
    /* The numbers, each in its range (docs/warpdrive.md, "Discovery"). */
    static const struct {
        const char *attr;
        long long max;
    } nums[] = {{"flags", UINT32_MAX},
                {"available_instances", UINT32_MAX},
                {"region_mmio_size", LLONG_MAX},
                {"region_dus_size", LLONG_MAX}};
    long long *vals[] = {&flags, &avail, &mmio, &dus};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        int e = read_num(dir, nums[i].attr, 0, nums[i].max, vals[i]);
        if (e) {
            LOG(ACCEL_LOG_WARN, "uacce device %s: %s/%s is %s; skipped", name, dir, nums[i].attr,
                e == -1 ? "missing or unreadable" : "not a number in its range");
            return NULL;
        }
    }
    if (read_first_line(dir, "isolate", isolate, sizeof(isolate)) == 0 && strcmp(isolate, "0") != 0) {
        char strategy[32] = "?";
        read_first_line(dir, "isolate_strategy", strategy, sizeof(strategy));
        LOG(ACCEL_LOG_WARN, "uacce device %s is isolated (isolate=%s, isolate_strategy=%s: too many hardware "
            "errors); skipped", name, isolate, strategy);
        return NULL;
    }
    if (strcmp(api, WD_API) != 0) {
        LOG(ACCEL_LOG_INFO, "uacce device %s: api \"%s\" is a queue format this driver does not speak (it "
            "speaks \"%s\"); skipped", name, api, WD_API);
        return NULL;
    }
    if (mmio < 4 || dus < (long long)WD_DUS_SIZE) {
        LOG(ACCEL_LOG_WARN, "uacce device %s: regions too small (mmio %lld, dus %lld); skipped", name, mmio, dus);
        return NULL;
    }
    if (read_num(dir, "device/numa_node", -1, INT32_MAX, &numa) != 0)
        numa = -1; /* unknown */

    wd_device *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    snprintf(d->name, sizeof(d->name), "%.127s", name);
    snprintf(d->class_path, sizeof(d->class_path), "%s", dir);
    if (snprintf(d->node, sizeof(d->node), "%s/%s", dev_root, name) >= (int)sizeof(d->node)) {
        free(d);
        return NULL;
    }
    struct stat st;
    if (stat(d->node, &st) != 0) {
        LOG(ACCEL_LOG_WARN, "uacce device %s: no device node %s (%s); skipped", name, d->node, strerror(errno));
        free(d);
        return NULL;
    }
    if (S_ISCHR(st.st_mode)) {
        d->emulated = false;
    } else if (S_ISSOCK(st.st_mode)) {
        d->emulated = true;
    } else {
        LOG(ACCEL_LOG_WARN, "uacce device %s: %s is neither a character device nor an emulator socket; skipped",
            name, d->node);
        free(d);
        return NULL;
    }
    d->sva = (flags & UACCE_DEV_SVA) != 0;
    d->ops = ops_from_algorithms(algorithms);
    d->mmio_size = (uint64_t)mmio;
    d->dus_size = (uint64_t)dus;
    d->ctl_fd = -1;
    atomic_init(&d->lost, false);
    pthread_mutex_init(&d->ctl_lock, NULL);

    accel_icd_device_info *info = &d->info;
    info->struct_size = sizeof(*info);
    snprintf(info->name, sizeof(info->name), "%.127s (uacce %.63s%s)", name, api, d->emulated ? ", emulated" : "");
    snprintf(info->vendor, sizeof(info->vendor), "uacce");
    info->kind = ACCEL_DEVICE_KIND_ASIC;
    info->interface = ACCEL_DEVICE_INTERFACE_UACCE;
    stable_uuid(name, api, info->uuid);
    info->numa_node = (int32_t)numa;
    if (numa >= 0)
        snprintf(info->numa_nodes, sizeof(info->numa_nodes), "%lld", numa);
    info->flags = (d->sva ? ACCEL_DEVICE_FLAG_SVA : 0) | (d->emulated ? ACCEL_DEVICE_FLAG_EMULATED : 0);
    /* Each queue may belong to another process: with SVA each needs the
     * process's PASID (one per process), without SVA an IOMMU context. */
    info->available_instances = (uint32_t)avail; /* in [0, UINT32_MAX]: checked above */
    info->max_address_spaces = info->available_instances;
    info->pasid_bits = d->sva ? WD_PASID_BITS : 0;
    info->parent_index = -1;
    info->driver_version = ACCEL_MAKE_VERSION(0, 1);
    if (snprintf(info->device_node, sizeof(info->device_node), "%s", d->node) >= (int)sizeof(info->device_node))
        LOG(ACCEL_LOG_WARN, "uacce device %s: device node path truncated in the device info", name);
    LOG(ACCEL_LOG_DEBUG, "uacce device %s: %s, %lld instances free, NUMA node %lld, functions 0x%x, node %s",
        name, d->sva ? "SVA" : "no SVA", avail, numa, d->ops, d->node);
    return d;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void device_free(wd_device *d)
{
    if (d->ctl_fd >= 0)
        close(d->ctl_fd);
    pthread_mutex_destroy(&d->ctl_lock);
    free(d);
}

/* A partition: one queue instance of `parent` (same device node and
 * regions), the k-th, parent at index parent_index. */
static wd_device *partition_of(const wd_device *parent, uint32_t k, int32_t parent_index)
{
    wd_device *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    memcpy(d->name, parent->name, sizeof(d->name));
    memcpy(d->class_path, parent->class_path, sizeof(d->class_path));
    memcpy(d->node, parent->node, sizeof(d->node));
    d->sva = parent->sva;
    d->emulated = parent->emulated;
    d->ops = parent->ops;
    d->mmio_size = parent->mmio_size;
    d->dus_size = parent->dus_size;
    d->ctl_fd = -1;
    atomic_init(&d->lost, false);
    pthread_mutex_init(&d->ctl_lock, NULL);
    d->partition = true;
    atomic_init(&d->open_queues, 0);
    d->info = parent->info;
    accel_icd_device_info *info = &d->info;
    snprintf(info->name, sizeof(info->name), "%.200s, instance %u", parent->info.name, k);
    snprintf(info->partition, sizeof(info->partition), "instance %u", k);
    info->flags |= ACCEL_DEVICE_FLAG_PARTITION;
    info->parent_index = parent_index;
    info->available_instances = 1;
    info->max_address_spaces = 1;
    /* A stable uuid of its own: the parent's with the instance mixed in. */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        h = (h ^ parent->info.uuid[i]) * 1099511628211ull;
    h = (h ^ (k + 1)) * 1099511628211ull;
    for (int i = 0; i < 8; i++)
        info->uuid[8 + i] ^= (uint8_t)(h >> (8 * i));
    return d;
}

/* ACCEL_WARPDRIVE_PARTITIONS: "instances" for one partition per free queue
 * instance, or N for at most N per device; unset or "0": none. */
static uint32_t partitions_wanted(void)
{
    const char *v = secure_getenv("ACCEL_WARPDRIVE_PARTITIONS");
    if (!v || !*v)
        return 0;
    if (strcmp(v, "instances") == 0)
        return WD_MAX_DEVICES;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || end == v) {
        LOG(ACCEL_LOG_WARN, "ACCEL_WARPDRIVE_PARTITIONS=\"%s\" is neither \"instances\" nor a number; ignored", v);
        return 0;
    }
    return n > WD_MAX_DEVICES ? WD_MAX_DEVICES : (uint32_t)n;
}

/* Insert each device's partitions right after it. */
static void add_partitions(wd_driver *drv)
{
    uint32_t want = partitions_wanted();
    if (!want)
        return;
    wd_device *whole[WD_MAX_DEVICES];
    uint32_t n = drv->count;
    memcpy(whole, drv->devices, n * sizeof(whole[0]));
    drv->count = 0;
    for (uint32_t i = 0; i < n; i++) {
        int32_t parent_index = (int32_t)drv->count;
        drv->devices[drv->count++] = whole[i];
        uint32_t parts = whole[i]->info.available_instances < want ? whole[i]->info.available_instances : want;
        for (uint32_t k = 0; k < parts; k++) {
            if (drv->count + (n - i - 1) >= WD_MAX_DEVICES) {
                LOG(ACCEL_LOG_WARN, "more than %d uacce devices and partitions; partitions of %s from %u on "
                    "left out", WD_MAX_DEVICES, whole[i]->name, k);
                break;
            }
            wd_device *p = partition_of(whole[i], k, parent_index);
            if (!p)
                break;
            drv->devices[drv->count++] = p;
        }
    }
}

static accel_icd_result wd_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    wd_driver *drv = calloc(1, sizeof(*drv));
    if (!drv)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    const char *sysfs_root = secure_getenv("ACCEL_UACCE_SYSFS_ROOT");
    const char *dev_root = secure_getenv("ACCEL_UACCE_DEV_ROOT");
    if (!sysfs_root || !*sysfs_root)
        sysfs_root = "/sys";
    if (!dev_root || !*dev_root)
        dev_root = "/dev";
    char class_dir[PATH_MAX];
    snprintf(class_dir, sizeof(class_dir), "%s/class/uacce", sysfs_root);
    DIR *dir = opendir(class_dir);
    if (!dir) {
        LOG(ACCEL_LOG_DEBUG, "no uacce devices: %s: %s", class_dir, strerror(errno));
    } else {
        /* The names first, sorted, so that which devices make the limit
         * does not depend on the directory's order: the first
         * WD_MAX_DEVICES usable ones in name order. Names longer than a
         * device name holds are skipped (never truncated: two of them
         * could then look the same). */
        char (*names)[sizeof(((wd_device *)0)->name)] = NULL;
        size_t n = 0, cap = 0, ignored = 0;
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.')
                continue;
            if (strlen(e->d_name) >= sizeof(names[0])) {
                LOG(ACCEL_LOG_WARN, "uacce device %.64s...: name longer than %zu bytes; skipped", e->d_name,
                    sizeof(names[0]) - 1);
                continue;
            }
            if (n == cap) {
                size_t grown = cap ? cap * 2 : 64;
                void *p = grown <= WD_MAX_NAMES ? realloc(names, grown * sizeof(names[0])) : NULL;
                if (!p) {
                    ignored++;
                    continue;
                }
                names = p;
                cap = grown;
            }
            snprintf(names[n++], sizeof(names[0]), "%.*s", (int)sizeof(names[0]) - 1, e->d_name);
        }
        closedir(dir);
        if (ignored)
            LOG(ACCEL_LOG_WARN, "more than %d entries in %s; %zu ignored", WD_MAX_NAMES, class_dir, ignored);
        qsort(names, n, sizeof(names[0]), by_string);
        size_t i = 0;
        for (; i < n && drv->count < WD_MAX_DEVICES; i++) {
            wd_device *d = probe(sysfs_root, dev_root, names[i]);
            if (d)
                drv->devices[drv->count++] = d;
        }
        if (i < n)
            LOG(ACCEL_LOG_WARN, "more than %d uacce devices: %s and %zu later in name order ignored", WD_MAX_DEVICES,
                names[i], n - i - 1);
        free(names);
    }
    add_partitions(drv);
    LOG(ACCEL_LOG_DEBUG, "%u uacce device(s) under %s", drv->count, class_dir);
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void wd_fini(void *handle)
{
    wd_driver *drv = handle;
    for (uint32_t i = 0; i < drv->count; i++)
        device_free(drv->devices[i]);
    free(drv);
}

static void *device_at(void *handle, uint32_t i)
{
    return ((wd_driver *)handle)->devices[i];
}

static accel_icd_result wd_enumerate(void *handle, uint32_t *count, void **devices)
{
    return accel_query_enumerate(handle, ((const wd_driver *)handle)->count, device_at, count, devices);
}

static accel_icd_result wd_get_info(void *device, accel_icd_device_info *info)
{
    const wd_device *d = device;
    if (!d || !info)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_query_copy_device_info(&d->info, info);
    return ACCEL_SUCCESS;
}

/* Live values come from sysfs each time (no allocation). */
static accel_icd_result wd_query(void *device, accel_device_param param, void *value, size_t size,
                                 size_t *size_ret)
{
    const wd_device *d = device;
    long long v;
    switch (param) {
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES:
        if (read_long(d->class_path, "available_instances", &v) != 0)
            v = 0; /* the device went away */
        if (d->partition && (atomic_load(&d->open_queues) || v > 1))
            v = atomic_load(&d->open_queues) ? 0 : 1; /* its one instance, when the device has one free */
        return accel_query_put_u32(v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_FLAGS: {
        uint32_t flags = d->info.flags;
        if (read_long(d->class_path, "isolate", &v) == 0 && v != 0)
            flags |= ACCEL_DEVICE_FLAG_ISOLATED;
        return accel_query_put_u32(flags, value, size, size_ret);
    }
    case ACCEL_DEVICE_PARAM_PROGRAM_FORMATS:
        /* Fixed-function engines: the algorithms of their sysfs attribute, no programs. */
        return accel_query_put_u32(0, value, size, size_ret);
    /* A partition is one queue instance (wd__queue_create). sysfs tells
     * only how many instances of the whole device are free, not how many
     * it has, and the depth of a queue's ring only in the queue's shared
     * region once it is started: neither is known here. The engines load
     * no programs, and uacce has no memory attribute (an SVA device works
     * in the process's memory). */
    case ACCEL_DEVICE_PARAM_MAX_QUEUES:
        if (!d->partition)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u32(1, value, size, size_ret);
    default: return accel_query_device_info(&d->info, param, value, size, size_ret);
    }
}

static const char *wd_version(void *handle)
{
    (void)handle;
    return WD_DRIVER_VERSION;
}

/* ---- the emulator's control socket ------------------------------------------------ */

/* Send m (with one fd when send_fd >= 0) and wait up to timeout_ms for the
 * reply into m (and up to max_fds fds). DEVICE_LOST when the emulator is
 * gone or does not answer. */
accel_icd_result wd__emu_request(wd_device *dev, int sock, wd_msg *m, int send_fd, int *recv_fds, int max_fds,
                                 int timeout_ms)
{
    uint32_t type = m->type;
    ssize_t n = wd_msg_send(sock, m, &send_fd, send_fd >= 0 ? 1 : 0);
    if (n != (ssize_t)sizeof(*m)) {
        LOG(ACCEL_LOG_ERROR, "uacce device %s: emulator does not take requests (%s)", dev->name, strerror(errno));
        return ACCEL_ERROR_DEVICE_LOST;
    }
    struct pollfd p = {sock, POLLIN, 0};
    int pr;
    do
        pr = poll(&p, 1, timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr <= 0) {
        LOG(ACCEL_LOG_ERROR, "uacce device %s: emulator did not answer within %d ms", dev->name, timeout_ms);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    int got;
    n = wd_msg_recv(sock, m, recv_fds, max_fds, &got);
    if (n != (ssize_t)sizeof(*m) || m->magic != WD_MSG_MAGIC || m->type != type) {
        for (int i = 0; i < got; i++)
            close(recv_fds[i]);
        LOG(ACCEL_LOG_ERROR, "uacce device %s: emulator connection lost", dev->name);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    for (int i = got; i < max_fds; i++)
        recv_fds[i] = -1;
    return ACCEL_SUCCESS;
}

static int emu_connect(const wd_device *dev)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(dev->node) >= sizeof(a.sun_path))
        return -1;
    if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", dev->node) >= (int)sizeof(a.sun_path))
        return -1;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/*
 * One request on the device's control connection, with fd attached when
 * >= 0. What is registered through a connection lives as long as it: the
 * emulator drops it when the connection ends. Requests that add something
 * pass expect_gen 0 (the connection is opened on first use) and get the
 * connection's generation in *gen; requests that remove something pass the
 * generation it was added under, and are not sent when that connection is
 * gone (ACCEL_ERROR_NOT_FOUND: so is the registration).
 *
 * A failed request closes the connection (the next one opens a new one).
 * When the emulator had not closed its side, it may still act on what was
 * sent, unseen: a translation could then outlive its memory. The device is
 * then lost for good: every later request and submission on it fails, so
 * nothing registered before can be used afterwards.
 */
static accel_result ctl_request(wd_device *dev, wd_msg *m, int fd, uint32_t expect_gen, uint32_t *gen)
{
    accel_result r = ACCEL_ERROR_DEVICE_LOST;
    pthread_mutex_lock(&dev->ctl_lock);
    if (atomic_load(&dev->lost)) {
        LOG(ACCEL_LOG_ERROR, "uacce device %s: the emulator stopped answering control requests earlier; request "
            "refused", dev->name);
        goto out;
    }
    if (expect_gen && (dev->ctl_fd < 0 || dev->ctl_gen != expect_gen)) {
        r = ACCEL_ERROR_NOT_FOUND;
        goto out;
    }
    if (dev->ctl_fd < 0) {
        if ((dev->ctl_fd = emu_connect(dev)) < 0) {
            LOG(ACCEL_LOG_ERROR, "uacce device %s: cannot reach %s: %s", dev->name, dev->node, strerror(errno));
            goto out;
        }
        if (++dev->ctl_gen == 0)
            dev->ctl_gen = 1;
    }
    if (gen)
        *gen = dev->ctl_gen;
    r = wd__emu_request(dev, dev->ctl_fd, m, fd, NULL, 0, WD_CTL_TIMEOUT_MS);
    if (r != ACCEL_SUCCESS) {
        struct pollfd p = {dev->ctl_fd, POLLRDHUP, 0};
        if (poll(&p, 1, 0) != 1 || !(p.revents & (POLLHUP | POLLRDHUP | POLLERR))) {
            atomic_store(&dev->lost, true);
            LOG(ACCEL_LOG_ERROR, "uacce device %s: the emulator did not answer a control request; the device is "
                "treated as lost", dev->name);
        }
        close(dev->ctl_fd);
        dev->ctl_fd = -1;
    }
out:
    pthread_mutex_unlock(&dev->ctl_lock);
    return r;
}

/* Register (fd, offset, size) with the device; the region id (and its
 * connection's generation in *gen), or 0 with *r set. */
static uint32_t region_register(wd_device *dev, int fd, uint64_t offset, uint64_t size, accel_result *r,
                                uint32_t *gen)
{
    wd_msg m = {.type = WD_MSG_REGISTER, .a = offset, .b = size};
    *r = ctl_request(dev, &m, fd, 0, gen);
    if (*r != ACCEL_SUCCESS)
        return 0;
    if (m.status != 0 || m.a == 0 || m.a > UINT32_MAX) {
        LOG(ACCEL_LOG_WARN, "uacce device %s: memory registration refused: %s", dev->name, strerror(m.status));
        *r = m.status == ENOMEM || m.status == ENOSPC ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : ACCEL_ERROR_UNSUPPORTED;
        return 0;
    }
    return (uint32_t)m.a;
}

static void region_unregister(wd_device *dev, uint32_t id, uint32_t gen)
{
    if (!id)
        return;
    wd_msg m = {.type = WD_MSG_UNREGISTER, .a = id};
    ctl_request(dev, &m, -1, gen, NULL);
}

/*
 * SVA on the emulator: describe memory [va, va + size), which is
 * [offset, offset + size) of fd, to the device's translation cache. Best
 * effort: without an entry the emulator reaches the bytes through this
 * process's address space, with the same results. Never used for a uacce
 * character device, where the IOMMU translates. The entry id (and its
 * connection's generation in *gen), or 0.
 */
static uint32_t translation_add(wd_device *dev, int fd, uint64_t offset, uint64_t size, const void *va,
                                uint32_t *gen)
{
    wd_msg m = {.type = WD_MSG_TRANSLATE_ADD, .a = offset, .b = size, .c = (uint64_t)(uintptr_t)va};
    if (ctl_request(dev, &m, fd, 0, gen) != ACCEL_SUCCESS)
        return 0;
    if (m.status != 0 || m.a == 0 || m.a > UINT32_MAX) {
        /* EEXIST: the range is already described (the same pages attached
         * twice); the other attachment's entry serves it. */
        LOG(m.status == EEXIST ? ACCEL_LOG_DEBUG : ACCEL_LOG_WARN,
            "uacce device %s: no translation entry for %llu bytes at %p (%s); the device reads them through the "
            "process's address space", dev->name, (unsigned long long)size, va, strerror(m.status));
        return 0;
    }
    return (uint32_t)m.a;
}

/* Remove a translation entry. Returns once the emulator confirmed that no
 * later request can use it, or the entry is gone with its connection, or
 * the device is lost (ctl_request). */
static void translation_remove(wd_device *dev, uint32_t id, uint32_t gen)
{
    if (!id)
        return;
    wd_msg m = {.type = WD_MSG_TRANSLATE_REMOVE, .a = id};
    if (ctl_request(dev, &m, -1, gen, NULL) == ACCEL_SUCCESS && m.status != 0)
        LOG(ACCEL_LOG_WARN, "uacce device %s: translation entry %u was already gone (%s)", dev->name, id,
            strerror(m.status));
}

/* ---- memory -------------------------------------------------------------------------- */

static accel_icd_result wd_memory_attach(void *device, const accel_icd_memory_desc *desc, void **driver_memory,
                                         accel_attach_mode *mode)
{
    wd_device *dev = device;
    if (!dev || !desc || !driver_memory || !mode || desc->struct_size < offsetof(accel_icd_memory_desc, fd))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!desc->host_ptr && desc->size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    int fd = desc->struct_size >= offsetof(accel_icd_memory_desc, reserved) ? desc->fd : -1;
    uint64_t fd_offset = desc->struct_size >= offsetof(accel_icd_memory_desc, numa_node) ? desc->fd_offset : 0;
    uint32_t region = 0, translation = 0, gen = 0;
    accel_attach_mode m = ACCEL_ATTACH_ZERO_COPY;
    if (dev->sva) {
        /* The device reaches the pages in place either way (ZERO_COPY). */
        if (dev->emulated && fd >= 0 && desc->size)
            translation = translation_add(dev, fd, fd_offset, desc->size, desc->host_ptr, &gen);
    } else {
        if (fd < 0 || !dev->emulated)
            return ACCEL_ERROR_UNSUPPORTED; /* no path: the loader stages */
        if (desc->size) {
            accel_result r;
            region = region_register(dev, fd, fd_offset, desc->size, &r, &gen);
            if (!region)
                return r;
        }
        m = ACCEL_ATTACH_PINNED;
    }
    wd_memory *mem = calloc(1, sizeof(*mem));
    if (!mem) {
        region_unregister(dev, region, gen);
        translation_remove(dev, translation, gen);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    *mem = (wd_memory){.base = desc->host_ptr, .size = desc->size, .region = region, .translation = translation,
                       .ctl_gen = gen, .fd = -1};
    *driver_memory = mem;
    *mode = m;
    return ACCEL_SUCCESS;
}

static void wd_memory_detach(void *device, void *driver_memory)
{
    wd_memory *m = driver_memory;
    if (!m)
        return;
    region_unregister(device, m->region, m->ctl_gen);
    translation_remove(device, m->translation, m->ctl_gen); /* before the loader unmaps the pages */
    free(m);
}

/* "Device" memory: a memfd mapped here, registered with a non-SVA device. */
static accel_icd_result wd_memory_alloc_device(void *device, uint64_t size, void **driver_memory)
{
    wd_device *dev = device;
    if (!dev || !driver_memory || size > SIZE_MAX / 2)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!dev->sva && !dev->emulated)
        return ACCEL_ERROR_UNSUPPORTED;
    long page = sysconf(_SC_PAGESIZE);
    size_t map_size = (size_t)((size ? size : 1) + (uint64_t)page - 1) / (size_t)page * (size_t)page;
    wd_memory *m = calloc(1, sizeof(*m));
    int fd = memfd_create("accel-uacce", MFD_CLOEXEC);
    if (!m || fd < 0 || ftruncate(fd, (off_t)map_size) != 0) {
        free(m);
        if (fd >= 0)
            close(fd);
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        free(m);
        close(fd);
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    *m = (wd_memory){.base = p, .size = size, .fd = fd, .map = p, .map_size = map_size};
    if (!dev->sva) {
        accel_result r;
        m->region = region_register(dev, fd, 0, map_size, &r, &m->ctl_gen);
        if (!m->region) {
            munmap(p, map_size);
            close(fd);
            free(m);
            return r;
        }
    } else if (dev->emulated) {
        m->translation = translation_add(dev, fd, 0, map_size, p, &m->ctl_gen);
    }
    *driver_memory = m;
    return ACCEL_SUCCESS;
}

static void wd_memory_free_device(void *device, void *driver_memory)
{
    wd_memory *m = driver_memory;
    if (!m)
        return;
    region_unregister(device, m->region, m->ctl_gen);
    translation_remove(device, m->translation, m->ctl_gen);
    if (m->map)
        munmap(m->map, m->map_size);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}

static accel_icd_result wd_memory_write(void *device, void *driver_memory, uint64_t offset, const void *src,
                                        uint64_t size)
{
    (void)device;
    wd_memory *m = driver_memory;
    return m ? accel_host_memory_write(m->base, m->size, offset, src, size) : ACCEL_ERROR_INVALID_ARGUMENT;
}

static accel_icd_result wd_memory_read(void *device, void *driver_memory, uint64_t offset, void *dst,
                                       uint64_t size)
{
    (void)device;
    const wd_memory *m = driver_memory;
    return m ? accel_host_memory_read(m->base, m->size, offset, dst, size) : ACCEL_ERROR_INVALID_ARGUMENT;
}

/* ---- functions ------------------------------------------------------------------------- */

#define MEM ACCEL_ARG_MEMORY
static const wd_function builtins[] = {
    {"accel.noop", WD_OP_NOOP, 0, {0}},
    {"accel.copy", WD_OP_COPY, 2, {MEM, MEM}},
    {"accel.fill", WD_OP_FILL, 2, {MEM, ACCEL_ARG_U32}},
    {"crc32c", WD_OP_CRC32C, 2, {MEM, MEM}},
    {"sha256", WD_OP_SHA256, 2, {MEM, MEM}},
    {"zlib.deflate", WD_OP_DEFLATE, 4, {MEM, MEM, MEM, ACCEL_ARG_I32}}, /* level: wd_queue.c */
    {"zlib.inflate", WD_OP_INFLATE, 3, {MEM, MEM, MEM}},
    {"crc32c.stream", WD_OP_CRC32C_STREAM, 2, {MEM, MEM}},
    {"sha256.stream", WD_OP_SHA256_STREAM, 4, {MEM, MEM, MEM, ACCEL_ARG_U32}}, /* final: the immediate */
    /* out_size through the completion entry, level and final in the immediate: wd_queue.c */
    {"zlib.deflate.stream", WD_OP_DEFLATE_STREAM, 6, {MEM, MEM, MEM, ACCEL_ARG_I32, MEM, ACCEL_ARG_U32}},
    /* progress through the completion entry: wd_queue.c */
    {"zlib.inflate.stream", WD_OP_INFLATE_STREAM, 4, {MEM, MEM, MEM, MEM}},
};
#undef MEM

static accel_icd_result wd_function_get(void *device, void *program, const char *name, void **function,
                                        accel_icd_function_info *info)
{
    const wd_device *dev = device;
    if (!dev || !name || !function)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (program)
        return ACCEL_ERROR_NOT_FOUND; /* no programs on fixed-function devices */
    const wd_function *fn = NULL;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0 && (dev->ops & (1u << builtins[i].op)))
            fn = &builtins[i];
    if (!fn)
        return ACCEL_ERROR_NOT_FOUND;
    if (info) {
        accel_icd_function_info out = {.arg_count = fn->arg_count};
        memcpy(out.arg_kinds, fn->arg_kinds, sizeof(out.arg_kinds));
        accel_query_copy_function_info(&out, info);
    }
    *function = (void *)fn;
    return ACCEL_SUCCESS;
}

static void wd_function_release(void *function)
{
    (void)function; /* static */
}

static const accel_icd_table wd_table = {
    .struct_size = sizeof(accel_icd_table),
    .flags = 0,
    .driver_init = wd_init,
    .driver_fini = wd_fini,
    .enumerate_devices = wd_enumerate,
    .device_get_info = wd_get_info,
    .device_query = wd_query,
    .driver_version_string = wd_version,
    .memory_attach = wd_memory_attach,
    .memory_detach = wd_memory_detach,
    .memory_alloc_device = wd_memory_alloc_device,
    .memory_free_device = wd_memory_free_device,
    .memory_write = wd_memory_write,
    .memory_read = wd_memory_read,
    .function_get = wd_function_get,
    .function_release = wd_function_release,
    .queue_create = wd__queue_create,
    .queue_destroy = wd__queue_destroy,
    .queue_submit = wd__queue_submit,
    .fence_status = wd__fence_status,
    .fence_wait = wd__fence_wait,
    .fence_release = wd__fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    return accel_icd_negotiate_answer(n, &wd_table, &wd__services);
}
