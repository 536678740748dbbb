/* cpu_driver.c — the reference driver: the host CPU as one accel device.
 *
 * Built and loaded like any vendor's driver: it includes only
 * accel/accel_icd.h (and libc, libdeflate, zlib, OpenSSL's libcrypto, ISA-L,
 * libffi) and is found through its manifest. This file holds the
 * negotiation, the device, memory and the function table; the rest is in
 *   cpu_queue.c     queues (one worker thread each) and fences,
 *   cpu_std.c       the standard functions (docs/standard-functions.md),
 *   cpu_hash.c      CRC-32C and SHA-256,
 *   cpu_zlib.c      zlib streams (zlib.deflate, zlib.inflate),
 *   cpu_stream.c    the stream forms (crc32c.stream, ..., zlib.inflate.stream;
 *                   the shared helpers of icd-examples/common),
 *   cpu_program.c   ELF kernel libraries (docs/programs.md),
 *   cpu_metadata.c  the parser of their kernel metadata.
 *
 * Environment, read once in driver_init:
 *   ACCEL_CPU_FAULT_AFTER=N   fault injection for tests of device loss: the
 *                             Nth submission after driver_init (counting
 *                             from 1, over every queue) and every later one
 *                             fail with ACCEL_ERROR_DEVICE_LOST instead of
 *                             running. Unset, empty or 0: off.
 *   ACCEL_CPU_HANG_AFTER=N    fault injection for tests of the loader's
 *                             device timeout: the Nth submission after
 *                             driver_init (counting from 1, over every
 *                             queue) and every later one never complete:
 *                             a queue's worker blocks until the queue is
 *                             destroyed, then fails them with
 *                             ACCEL_ERROR_DEVICE_LOST.
 *                             Unset, empty or 0: off.
 *   ACCEL_CPU_DISABLE_SSE42=1 compute CRC-32C with the portable tables
 *                             instead of ISA-L or the SSE4.2 instruction
 *                             (tests compare both paths).
 */
#include "cpu_internal.h"
#include "accel_host_memory.h"
#include "accel_icd_negotiate.h"
#include "accel_icd_query.h"
#include "accel_safe_file.h"
#include "accel_uuid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CPU_DRIVER_VERSION "0.2.0"

const accel_icd_loader_services *cpu__services;
#define LOG CPU_LOG

/* Read the first line of a small text file, without its newline: never
 * blocking on a FIFO nor reading a device (accel_safe_read_small). */
static int read_line(const char *path, char *buf, size_t size)
{
    char why[96];
    int err = accel_safe_read_small(path, buf, size, NULL, why, sizeof(why));
    if (err && err != ENOENT)
        LOG(ACCEL_LOG_DEBUG, "%s: %s; ignored", path, why);
    if (err || !buf[0])
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

/* FNV-1a with the separator but without the multiply after it that
 * accel_uuid_hash_parts has: the cpu driver's uuids were hashed so before
 * the drivers shared that, and a device keeps its uuid. */
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
    uint64_t a = fnv1a(fnv1a(fnv1a(ACCEL_UUID_FNV_A, "accel-cpu"), machine_id), model);
    uint64_t b = fnv1a(fnv1a(fnv1a(ACCEL_UUID_FNV_B, model), machine_id), "accel-cpu");
    accel_uuid_from_hashes(a, b, out);
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

/* ACCEL_CPU_FAULT_AFTER, ACCEL_CPU_HANG_AFTER: a positive decimal number,
 * else off. */
static uint64_t fault_after_from_env(const char *name, const char *what)
{
    const char *v = secure_getenv(name);
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-') {
        LOG(ACCEL_LOG_WARN, "%s=%s is not a number; ignored", name, v);
        return 0;
    }
    if (n)
        LOG(ACCEL_LOG_WARN, "fault injection (%s): submission %llu %s", name, n, what);
    return n;
}

/* Append the cores of a Linux list ("0-3,8") to set; the number added. */
static int parse_cpu_list(const char *s, cpu_set_t *set)
{
    int added = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0)
            return -1;
        s = end;
        if (*s == '-') {
            b = strtol(s + 1, &end, 10);
            if (end == s + 1 || b < a)
                return -1;
            s = end;
        }
        for (long c = a; c <= b && c < CPU_SETSIZE; c++, added++)
            CPU_SET((int)c, set);
        if (*s == ',')
            s++;
        else if (*s && *s != '\n')
            return -1;
        else
            break;
    }
    return added;
}

/* Format a set as a Linux list. */
static void format_cpu_list(const cpu_set_t *set, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && n < size; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        n += (size_t)snprintf(buf + n, size - n, e > c ? "%s%d-%d" : "%s%d", n ? "," : "", c, e);
        c = e;
    }
}

static void add_partition(cpu_driver *drv, const cpu_set_t *cores, int32_t node, const char *model)
{
    cpu_device *p = &drv->partitions[drv->partition_count];
    char list[48];
    format_cpu_list(cores, list, sizeof(list));
    p->info = drv->device.info;
    p->driver = drv;
    p->bound = true;
    p->cores = *cores;
    snprintf(p->info.name, sizeof(p->info.name), "%s (cores %s)", model, list);
    snprintf(p->info.partition, sizeof(p->info.partition), "cores %s", list);
    p->info.parent_index = 0;
    p->info.flags |= ACCEL_DEVICE_FLAG_PARTITION;
    if (node >= 0) {
        p->info.numa_node = node;
        snprintf(p->info.numa_nodes, sizeof(p->info.numa_nodes), "%d", node);
    }
    char seed[280];
    snprintf(seed, sizeof(seed), "%s/cores %s", model, list);
    stable_uuid(seed, p->info.uuid);
    drv->partition_count++;
}

/*
 * ACCEL_CPU_PARTITIONS: "numa" for one partition per NUMA node, or a number
 * N for N partitions of consecutive online cores. Unset: none. Partitions
 * are devices whose parent is the whole CPU; their queues run on their
 * cores only.
 */
static void make_partitions(cpu_driver *drv, const char *model)
{
    const char *v = secure_getenv("ACCEL_CPU_PARTITIONS");
    if (!v || !*v)
        return;
    char path[96], list[4096];
    if (strcmp(v, "numa") == 0) {
        for (int node = 0; node < 1024 && drv->partition_count < CPU_MAX_PARTITIONS; node++) {
            snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
            cpu_set_t set;
            CPU_ZERO(&set);
            if (read_line(path, list, sizeof(list)) != 0)
                continue;
            if (parse_cpu_list(list, &set) > 0)
                add_partition(drv, &set, node, model);
        }
        return;
    }
    char *end;
    long parts = strtol(v, &end, 10);
    cpu_set_t online;
    CPU_ZERO(&online);
    if (*end || parts < 1 || parts > CPU_MAX_PARTITIONS ||
        read_line("/sys/devices/system/cpu/online", list, sizeof(list)) != 0 ||
        parse_cpu_list(list, &online) < 1) {
        LOG(ACCEL_LOG_WARN, "ACCEL_CPU_PARTITIONS=%s: expected \"numa\" or 1..%d; no partitions", v,
            CPU_MAX_PARTITIONS);
        return;
    }
    int total = CPU_COUNT(&online);
    if (parts > total)
        parts = total;
    int cpu = 0;
    for (long i = 0; i < parts; i++) {
        int want = total / (int)parts + (i < total % parts ? 1 : 0);
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int got = 0; got < want && cpu < CPU_SETSIZE; cpu++) {
            if (CPU_ISSET(cpu, &online)) {
                CPU_SET(cpu, &set);
                got++;
            }
        }
        add_partition(drv, &set, -1, model);
    }
}

static accel_icd_result cpu_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    cpu_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    drv->device.driver = drv;
    drv->fault_after = fault_after_from_env("ACCEL_CPU_FAULT_AFTER", "and later will fail with device lost");
    drv->hang_after = fault_after_from_env("ACCEL_CPU_HANG_AFTER", "and later will never complete");
    const char *no_sse = secure_getenv("ACCEL_CPU_DISABLE_SSE42");
    cpu__crc32c_setup(!(no_sse && *no_sse && strcmp(no_sse, "0") != 0));
    cpu__fence_pool_init(drv);
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
    info->driver_version = ACCEL_MAKE_VERSION(0, 2);
    make_partitions(drv, model);
    LOG(ACCEL_LOG_DEBUG, "%s, NUMA nodes %s, %u partition(s)", info->name, info->numa_nodes,
        drv->partition_count);
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void cpu_fini(void *handle)
{
    cpu__fence_pool_fini(handle);
    free(handle);
}

/* The whole CPU, then its partitions. */
static void *device_at(void *handle, uint32_t i)
{
    cpu_driver *drv = handle;
    return i == 0 ? &drv->device : &drv->partitions[i - 1];
}

static accel_icd_result cpu_enumerate(void *handle, uint32_t *count, void **devices)
{
    const cpu_driver *drv = handle;
    return accel_query_enumerate(handle, 1 + drv->partition_count, device_at, count, devices);
}

static accel_icd_result cpu_get_info(void *device, accel_icd_device_info *info)
{
    const cpu_device *dev = device;
    accel_query_copy_device_info(&dev->info, info);
    return ACCEL_SUCCESS;
}

/* "Node 0 MemTotal:  16314400 kB", the first line of a node's meminfo. */
static bool node_memory(int32_t node, uint64_t *bytes)
{
    char path[96], buf[256];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", (int)node);
    if (accel_safe_read_small(path, buf, sizeof(buf), NULL, NULL, 0) != 0)
        return false;
    int n;
    unsigned long long kib;
    if (sscanf(buf, "Node %d MemTotal: %llu kB", &n, &kib) != 2 || n != node || kib > UINT64_MAX / 1024)
        return false;
    *bytes = (uint64_t)kib * 1024;
    return true;
}

/* The memory the device's queues run next to: its NUMA node's for a
 * partition of one node (ACCEL_CPU_PARTITIONS=numa; unknown when the node
 * does not say), else the host's. Live, like the kernel's figures (memory
 * hot-plug). */
static bool device_memory(const cpu_device *dev, uint64_t *bytes)
{
    if ((dev->info.flags & ACCEL_DEVICE_FLAG_PARTITION) && dev->info.numa_node >= 0)
        return node_memory(dev->info.numa_node, bytes);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0 || (uint64_t)pages > UINT64_MAX / (uint64_t)page)
        return false;
    *bytes = (uint64_t)pages * (uint64_t)page;
    return true;
}

static accel_icd_result cpu_query(void *device, accel_device_param param, void *value, size_t size,
                                  size_t *size_ret)
{
    const cpu_device *dev = device;
    uint64_t bytes;
    switch (param) {
    case ACCEL_DEVICE_PARAM_PROGRAM_FORMATS:
        /* Host shared objects with their metadata (cpu_program.c). */
        return accel_query_put_u32(1u << ACCEL_PROGRAM_FORMAT_ELF, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MEMORY_SIZE:
        if (!device_memory(dev, &bytes))
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u64(bytes, value, size, size_ret);
    /* Each queue is a worker thread: as many as the host runs. */
    case ACCEL_DEVICE_PARAM_MAX_QUEUES:
        return accel_query_put_u32(ACCEL_INSTANCES_UNLIMITED, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_QUEUE_DEPTH: return accel_query_put_u32(CPU_RING_SIZE, value, size, size_ret);
    /* The kernel metadata parser's bound (cpu_metadata.c); a kernel takes
     * its ranges as pointers, at any offset. A program is a library path:
     * no size of the driver's. */
    case ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS:
        return accel_query_put_u32(ACCEL_MAX_ARGS, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT: return accel_query_put_u64(1, value, size, size_ret);
    default: return accel_query_device_info(&dev->info, param, value, size, size_ret);
    }
}

static const char *cpu_version(void *handle)
{
    (void)handle;
    return CPU_DRIVER_VERSION;
}

/* ---- memory ---------------------------------------------------------- */

/* The CPU reaches host memory where it is: the handle only records the
 * range, so that submissions can check theirs. */
static accel_icd_result cpu_memory_attach(void *device, const accel_icd_memory_desc *desc,
                                          void **driver_memory, accel_attach_mode *mode)
{
    (void)device;
    if (!desc || !driver_memory || !mode || desc->struct_size < offsetof(accel_icd_memory_desc, fd))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!desc->host_ptr && desc->size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu_memory *m = malloc(sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    *m = (cpu_memory){.base = desc->host_ptr, .size = desc->size, .owned = false};
    *driver_memory = m;
    *mode = ACCEL_ATTACH_ZERO_COPY;
    return ACCEL_SUCCESS;
}

static void cpu_memory_detach(void *device, void *driver_memory)
{
    (void)device;
    free(driver_memory);
}

/* "Device" memory is plain host memory too; it exists so that the loader's
 * STAGED path can be exercised on every machine. */
static accel_icd_result cpu_memory_alloc_device(void *device, uint64_t size, void **driver_memory)
{
    (void)device;
    if (!driver_memory || size > SIZE_MAX - 1)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu_memory *m = malloc(sizeof(*m));
    uint8_t *base = malloc(size ? (size_t)size : 1);
    if (!m || !base) {
        free(m);
        free(base);
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    *m = (cpu_memory){.base = base, .size = size, .owned = true};
    *driver_memory = m;
    return ACCEL_SUCCESS;
}

static void cpu_memory_free_device(void *device, void *driver_memory)
{
    (void)device;
    cpu_memory *m = driver_memory;
    if (!m)
        return;
    if (m->owned)
        free(m->base);
    free(m);
}

static accel_icd_result cpu_memory_write(void *device, void *driver_memory, uint64_t offset, const void *src,
                                         uint64_t size)
{
    (void)device;
    cpu_memory *m = driver_memory;
    return m ? accel_host_memory_write(m->base, m->size, offset, src, size) : ACCEL_ERROR_INVALID_ARGUMENT;
}

static accel_icd_result cpu_memory_read(void *device, void *driver_memory, uint64_t offset, void *dst,
                                        uint64_t size)
{
    (void)device;
    const cpu_memory *m = driver_memory;
    return m ? accel_host_memory_read(m->base, m->size, offset, dst, size) : ACCEL_ERROR_INVALID_ARGUMENT;
}

/* ---- functions --------------------------------------------------------- */

static accel_icd_result cpu_function_get(void *device, void *program, const char *name, void **function,
                                         accel_icd_function_info *info)
{
    (void)device;
    if (!name || !function)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    const cpu_function *fn;
    if (!program) {
        fn = cpu__builtin_find(name);
        if (!fn)
            return ACCEL_ERROR_NOT_FOUND;
    } else {
        accel_result r = cpu__kernel_get(program, name, &fn);
        if (r != ACCEL_SUCCESS)
            return r;
    }
    if (info) {
        accel_icd_function_info out = {.arg_count = fn->arg_count};
        memcpy(out.arg_kinds, fn->arg_kinds, sizeof(out.arg_kinds));
        accel_query_copy_function_info(&out, info);
    }
    if (fn->program)
        cpu__program_ref(fn->program); /* dropped by function_release */
    *function = (void *)fn;
    return ACCEL_SUCCESS;
}

static void cpu_function_release(void *function)
{
    const cpu_function *fn = function;
    if (fn && fn->program)
        cpu__program_release(fn->program);
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
    .memory_attach = cpu_memory_attach,
    .memory_detach = cpu_memory_detach,
    .memory_alloc_device = cpu_memory_alloc_device,
    .memory_free_device = cpu_memory_free_device,
    .memory_write = cpu_memory_write,
    .memory_read = cpu_memory_read,
    .program_load = cpu__program_load,
    .program_release = cpu__program_release,
    .function_get = cpu_function_get,
    .function_release = cpu_function_release,
    .queue_create = cpu__queue_create,
    .queue_destroy = cpu__queue_destroy,
    .queue_submit = cpu__queue_submit,
    .fence_status = cpu__fence_status,
    .fence_wait = cpu__fence_wait,
    .fence_release = cpu__fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    return accel_icd_negotiate_answer(n, &cpu_table, &cpu__services);
}
