/* conf_fake.c — the drivers that prove accel-conformance catches faults.
 *
 * One source, built once per variant (see meson.build). Without a BREAK_*
 * define it is a complete, conformant driver that exercises every group of
 * the suite; each BREAK_* define breaks exactly one rule, so that exactly
 * one group of the suite must fail:
 *
 *   BREAK_ABI           enumerate_devices ignores the capacity it is given
 *                       (the loader always gives enough room, so it loads)
 *   BREAK_INFO          device 0's uuid is all zeros
 *   BREAK_MEMORY        memory imported from a file descriptor at an offset
 *                       is mapped from the start of the file (fd_offset
 *                       ignored)
 *   BREAK_FUNCTIONS     crc32c leaves out its final XOR
 *   BREAK_QUEUES        a function that fails reports success on its fence
 *   BREAK_ARGUMENTS     function_get finds any name (an unknown one gives a
 *                       function that does nothing)
 *   BREAK_PARTITIONS    the partition does not name its parent
 *   BREAK_CONCURRENCY   a fence can be waited for by one thread at a time; a
 *                       second waiter gets ACCEL_ERROR_DRIVER_INTERNAL at once
 *   BREAK_DEVICE_LOSS   the fault hook loses one submission's queue, not
 *                       the device: other queues go on working
 *
 * Devices: 0 "whole" (an asic that reaches host memory: ZERO_COPY for host
 * pointers, PINNED for file descriptors, which it maps itself), and 1
 * "half", a partition of device 0 that cannot reach host memory (the loader
 * stages through its device memory). Built-ins: every standard function.
 * Queues have a worker thread each; every submission takes about 200 us,
 * like a device with some latency. Fault hook: CONF_FAKE_FAULT_AFTER=N, read
 * in driver_init: the Nth submission since then (over all queues) and every
 * later one fail with ACCEL_ERROR_DEVICE_LOST.
 *
 * Like a vendor's driver it includes only accel/accel_icd.h (and libc,
 * zlib), and the queues and fences it shares with the loader's test driver
 * (tests/fake/fake_queue.h). */
#include <accel/accel_icd.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../fake/fake_queue.h"

#ifndef CONF_FAKE_NAME
#error "CONF_FAKE_NAME must name the variant"
#endif

#define DEVICES        2
#define JOB_LATENCY_US 200

static const accel_icd_loader_services *services;

#define LOG(level, ...)                                                                                      \
    do {                                                                                                     \
        if (services && services->log)                                                                       \
            services->log(services->loader_context, (level), __VA_ARGS__);                                   \
    } while (0)

typedef struct fk_device {
    accel_icd_device_info info;
    int index;
} fk_device;

typedef struct fk_driver {
    fk_device devices[DEVICES];
    long fault_after; /* 0: never */
    atomic_long submissions;
    atomic_bool lost;
} fk_driver;

/* One driver context per load; the loader never runs two loads at once. */
static fk_driver *driver;

/* ---- device description ---- */

static void describe(fk_device *d, int index)
{
    accel_icd_device_info *info = &d->info;
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    d->index = index;
    snprintf(info->name, sizeof(info->name), "conformance fake %s (%s)", CONF_FAKE_NAME,
             index ? "half" : "whole");
    snprintf(info->vendor, sizeof(info->vendor), "accel-loader tests");
    info->kind = ACCEL_DEVICE_KIND_ASIC;
    info->interface = ACCEL_DEVICE_INTERFACE_NATIVE;
    const char *seed = CONF_FAKE_NAME;
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        info->uuid[i] = (uint8_t)(seed[i % strlen(seed)] * 7 + i * 13 + index * 101 + 1);
#ifdef BREAK_INFO
    if (index == 0)
        memset(info->uuid, 0, sizeof(info->uuid));
#endif
    info->numa_node = -1;
    info->available_instances = ACCEL_INSTANCES_UNLIMITED;
    info->driver_version = ACCEL_MAKE_VERSION(1, 0);
    info->parent_index = -1;
    if (index == 1) {
        info->flags = ACCEL_DEVICE_FLAG_PARTITION;
        snprintf(info->partition, sizeof(info->partition), "half");
#ifndef BREAK_PARTITIONS
        info->parent_index = 0;
#endif
    }
}

static accel_icd_result fk_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    fk_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (int i = 0; i < DEVICES; i++)
        describe(&drv->devices[i], i);
    const char *v = getenv("CONF_FAKE_FAULT_AFTER");
    drv->fault_after = v ? atol(v) : 0;
    if (drv->fault_after > 0)
        LOG(ACCEL_LOG_WARN, "submission %ld and later will lose the device", drv->fault_after);
    atomic_init(&drv->submissions, 0);
    atomic_init(&drv->lost, false);
    driver = drv;
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void fk_fini(void *handle)
{
    free(handle);
    driver = NULL;
}

static accel_icd_result fk_enumerate(void *handle, uint32_t *count, void **devices)
{
    fk_driver *drv = handle;
    if (!devices) {
        *count = DEVICES;
        return ACCEL_SUCCESS;
    }
#ifdef BREAK_ABI
    for (uint32_t i = 0; i < DEVICES; i++)
        devices[i] = &drv->devices[i];
    *count = DEVICES;
    return ACCEL_SUCCESS;
#else
    uint32_t n = *count < DEVICES ? *count : DEVICES;
    for (uint32_t i = 0; i < n; i++)
        devices[i] = &drv->devices[i];
    *count = n;
    return n < DEVICES ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
#endif
}

static accel_icd_result fk_get_info(void *device, accel_icd_device_info *info)
{
    const fk_device *d = device;
    uint32_t size = info->struct_size;
    memcpy(info, &d->info, size < sizeof(*info) ? size : sizeof(*info));
    info->struct_size = size;
    return ACCEL_SUCCESS;
}

static accel_icd_result fk_query(void *device, accel_device_param param, void *value, size_t size,
                                 size_t *ret)
{
    const fk_device *d = device;
    uint32_t v;
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: v = (uint32_t)d->info.kind; break;
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES: v = d->info.available_instances; break;
    case ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES: v = d->info.max_address_spaces; break;
    case ACCEL_DEVICE_PARAM_FLAGS: v = d->info.flags; break;
    case ACCEL_DEVICE_PARAM_NUMA_NODE: v = (uint32_t)d->info.numa_node; break;
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
    if (ret)
        *ret = sizeof(v);
    if (!value)
        return ACCEL_SUCCESS;
    if (size < sizeof(v))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, &v, sizeof(v));
    return ACCEL_SUCCESS;
}

static const char *fk_version(void *handle)
{
    (void)handle;
    return "1.0.0-" CONF_FAKE_NAME;
}

/* ---- memory ---- */

typedef struct fk_mem {
    unsigned char *bytes;
    uint64_t size;
    void *map; /* our own mapping of an fd, or NULL */
    size_t map_length;
    bool owned; /* device memory: bytes are malloc()ed */
} fk_mem;

static accel_icd_result fk_attach(void *device, const accel_icd_memory_desc *desc, void **memory,
                                  accel_attach_mode *mode)
{
    const fk_device *d = device;
    if (d->index == 1)
        return ACCEL_ERROR_UNSUPPORTED; /* the partition cannot reach host memory */
    fk_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->size = desc->size;
    if (desc->fd >= 0) {
        /* Map the pages ourselves, as a device maps a dma-buf. */
        long page = sysconf(_SC_PAGESIZE);
        uint64_t offset = desc->fd_offset;
#ifdef BREAK_MEMORY
        offset = 0;
#endif
        uint64_t base = offset - offset % (uint64_t)page;
        m->map_length = (size_t)(offset - base + desc->size);
        m->map = mmap(NULL, m->map_length ? m->map_length : 1, PROT_READ | PROT_WRITE, MAP_SHARED, desc->fd,
                      (off_t)base);
        if (m->map == MAP_FAILED) {
            LOG(ACCEL_LOG_ERROR, "cannot map fd %d at %llu: %s", desc->fd, (unsigned long long)offset,
                strerror(errno));
            free(m);
            return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
        }
        m->bytes = (unsigned char *)m->map + (offset - base);
        *mode = ACCEL_ATTACH_PINNED;
    } else {
        m->bytes = desc->host_ptr;
        *mode = ACCEL_ATTACH_ZERO_COPY;
    }
    *memory = m;
    return ACCEL_SUCCESS;
}

static void fk_detach(void *device, void *memory)
{
    (void)device;
    fk_mem *m = memory;
    if (m->map)
        munmap(m->map, m->map_length ? m->map_length : 1);
    free(m);
}

static accel_icd_result fk_alloc_device(void *device, uint64_t size, void **memory)
{
    (void)device;
    fk_mem *m = calloc(1, sizeof(*m));
    if (!m || !(m->bytes = malloc(size ? size : 1))) {
        free(m);
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    memset(m->bytes, 0xa5, size); /* garbage: a missing copy must show */
    m->size = size;
    m->owned = true;
    *memory = m;
    return ACCEL_SUCCESS;
}

static void fk_free_device(void *device, void *memory)
{
    (void)device;
    fk_mem *m = memory;
    free(m->bytes);
    free(m);
}

static accel_icd_result fk_write(void *device, void *memory, uint64_t off, const void *src, uint64_t size)
{
    (void)device;
    fk_mem *m = memory;
    if (off > m->size || size > m->size - off)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(m->bytes + off, src, size);
    return ACCEL_SUCCESS;
}

static accel_icd_result fk_read(void *device, void *memory, uint64_t off, void *dst, uint64_t size)
{
    (void)device;
    fk_mem *m = memory;
    if (off > m->size || size > m->size - off)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(dst, m->bytes + off, size);
    return ACCEL_SUCCESS;
}

/* ---- the standard functions ---- */

static unsigned char *ptr(const accel_icd_arg *a)
{
    return ((fk_mem *)a->u.mem.memory)->bytes + a->u.mem.offset;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static accel_result run_noop(const accel_icd_arg *a)
{
    (void)a;
    return ACCEL_SUCCESS;
}

static accel_result run_copy(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < a[0].u.mem.size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memmove(ptr(&a[1]), ptr(&a[0]), a[0].u.mem.size);
    return ACCEL_SUCCESS;
}

static accel_result run_fill(const accel_icd_arg *a)
{
    unsigned char *p = ptr(&a[0]);
    for (uint64_t i = 0; i < a[0].u.mem.size; i++)
        p[i] = (unsigned char)(a[1].u.u32 >> (8 * (i % 4)));
    return ACCEL_SUCCESS;
}

static accel_result run_crc32c(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    const unsigned char *p = ptr(&a[0]);
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < a[0].u.mem.size; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
#ifndef BREAK_FUNCTIONS
    crc ^= 0xffffffffu;
#endif
    put_le(ptr(&a[1]), crc, 4);
    return ACCEL_SUCCESS;
}

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t h[8], const unsigned char *b)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 |
               b[4 * i + 3];
    for (int i = 16; i < 64; i++)
        w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 7] +
               (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
    memcpy(v, h, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha_k[i] + w[i];
        uint32_t t2 =
            (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(uint32_t));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
}

static accel_result run_sha256(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 32)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = ptr(&a[0]);
    uint64_t n = a[0].u.mem.size, done = 0;
    for (; n - done >= 64; done += 64)
        sha_block(h, p + done);
    unsigned char last[128] = {0};
    memcpy(last, p + done, n - done);
    last[n - done] = 0x80;
    size_t total = n - done + 9 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        last[total - 1 - i] = (unsigned char)((n * 8) >> (8 * i));
    sha_block(h, last);
    if (total == 128)
        sha_block(h, last + 64);
    unsigned char *out = ptr(&a[1]);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++)
            out[4 * i + k] = (unsigned char)(h[i] >> (24 - 8 * k));
    return ACCEL_SUCCESS;
}

/* A zlib stream of stored blocks: what a deflate writes when compression
 * would not fit the documented bound. */
static accel_result deflate_stored(const unsigned char *in, uint64_t n, unsigned char *out, uint64_t cap,
                                   uint64_t *produced)
{
    uint64_t blocks = n ? (n + 65534) / 65535 : 1;
    if (cap < n + 5 * blocks + 6)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    unsigned char *o = out;
    *o++ = 0x78;
    *o++ = 0x01;
    uint64_t done = 0;
    do {
        uint64_t len = n - done > 65535 ? 65535 : n - done;
        *o++ = done + len == n ? 1 : 0;
        put_le(o, len, 2);
        put_le(o + 2, ~len & 0xffff, 2);
        o += 4;
        if (len)
            memcpy(o, in + done, len);
        o += len;
        done += len;
    } while (done < n);
    uLong ad = adler32(1L, Z_NULL, 0);
    for (uint64_t k = 0; k < n; k += 1u << 30)
        ad = adler32(ad, in + k, (uInt)(n - k < (1u << 30) ? n - k : (1u << 30)));
    for (int k = 0; k < 4; k++)
        *o++ = (unsigned char)(ad >> (24 - 8 * k));
    *produced = (uint64_t)(o - out);
    return ACCEL_SUCCESS;
}

static accel_result run_deflate(const accel_icd_arg *a)
{
    int level = a[3].u.i32;
    if (a[2].u.mem.size < 8 || a[0].u.mem.size > UINT32_MAX || a[1].u.mem.size > UINT32_MAX || level < -1 ||
        level > 9)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit(&z, level) != Z_OK)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    z.next_in = ptr(&a[0]);
    z.avail_in = (uInt)a[0].u.mem.size;
    z.next_out = ptr(&a[1]);
    z.avail_out = (uInt)a[1].u.mem.size;
    int zr = deflate(&z, Z_FINISH);
    uint64_t produced = z.total_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        /* Did not fit: incompressible input, or dst too small. */
        accel_result r = deflate_stored(ptr(&a[0]), a[0].u.mem.size, ptr(&a[1]), a[1].u.mem.size, &produced);
        if (r != ACCEL_SUCCESS)
            return r;
    }
    put_le(ptr(&a[2]), produced, 8);
    return ACCEL_SUCCESS;
}

static accel_result run_inflate(const accel_icd_arg *a)
{
    if (a[2].u.mem.size < 8 || a[0].u.mem.size > UINT32_MAX || a[1].u.mem.size > UINT32_MAX)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    z.next_in = ptr(&a[0]);
    z.avail_in = (uInt)a[0].u.mem.size;
    z.next_out = ptr(&a[1]);
    z.avail_out = (uInt)a[1].u.mem.size;
    int zr = inflate(&z, Z_FINISH);
    uint64_t produced = z.total_out;
    bool whole = z.avail_in == 0;
    inflateEnd(&z);
    if (zr != Z_STREAM_END || !whole)
        return ACCEL_ERROR_INVALID_ARGUMENT; /* corrupt, truncated, or dst too small */
    put_le(ptr(&a[2]), produced, 8);
    return ACCEL_SUCCESS;
}

typedef struct fk_function {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind kinds[4];
    accel_result (*run)(const accel_icd_arg *a);
} fk_function;

#define M ACCEL_ARG_MEMORY
static const fk_function builtins[] = {
    {"accel.noop", 0, {0}, run_noop},
    {"accel.copy", 2, {M, M}, run_copy},
    {"accel.fill", 2, {M, ACCEL_ARG_U32}, run_fill},
    {"crc32c", 2, {M, M}, run_crc32c},
    {"sha256", 2, {M, M}, run_sha256},
    {"zlib.deflate", 4, {M, M, M, ACCEL_ARG_I32}, run_deflate},
    {"zlib.inflate", 3, {M, M, M}, run_inflate},
};
#undef M

static accel_icd_result fk_function_get(void *device, void *program, const char *name, void **function,
                                        accel_icd_function_info *info)
{
    (void)device;
    if (program)
        return ACCEL_ERROR_NOT_FOUND;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (strcmp(builtins[i].name, name) == 0) {
            info->arg_count = builtins[i].arg_count;
            memcpy(info->arg_kinds, builtins[i].kinds, builtins[i].arg_count * sizeof(accel_arg_kind));
            *function = (void *)&builtins[i];
            return ACCEL_SUCCESS;
        }
    }
#ifdef BREAK_ARGUMENTS
    info->arg_count = 0;
    *function = (void *)&builtins[0];
    return ACCEL_SUCCESS;
#else
    return ACCEL_ERROR_NOT_FOUND;
#endif
}

static void fk_function_release(void *function)
{
    (void)function;
}

/* ---- queues and fences ---- */

typedef struct fk_job {
    fq_job base; /* first: the queue's part */
    const fk_function *fn;
    accel_icd_arg args[4];
    fq_fence **waits;
    uint32_t wait_count;
    bool lost;
} fk_job;

/* After the fences it waits for: lost, or the function's result after
 * some latency. */
static accel_result run_job(fq_job *job, accel_result queue_error)
{
    fk_job *j = (fk_job *)job;
    accel_result r = queue_error;
    for (uint32_t i = 0; r == ACCEL_SUCCESS && i < j->wait_count; i++)
        r = fq_fence_result(j->waits[i]);
    if (r == ACCEL_SUCCESS) {
        if (j->lost) {
            r = ACCEL_ERROR_DEVICE_LOST;
        } else {
            struct timespec ts = {0, JOB_LATENCY_US * 1000};
            nanosleep(&ts, NULL);
            r = j->fn->run(j->args);
#ifdef BREAK_QUEUES
            if (r == ACCEL_ERROR_INVALID_ARGUMENT)
                r = ACCEL_SUCCESS;
#endif
        }
    }
    return r;
}

static void release_job(fq_job *job)
{
    fk_job *j = (fk_job *)job;
    for (uint32_t i = 0; i < j->wait_count; i++)
        fq_fence_unref(j->waits[i]);
    free(j->waits);
    free(j);
}

static accel_icd_result fk_queue_create(void *device, void **queue)
{
    (void)device;
    fq_queue *q = fq_queue_create(run_job, release_job);
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    *queue = q;
    return ACCEL_SUCCESS;
}

static void fk_queue_destroy(void *queue)
{
    fq_queue_destroy(queue);
}

/* The fault hook: is this submission (the nth) lost? */
static bool lose(long n)
{
    if (!driver || driver->fault_after <= 0)
        return false;
#ifdef BREAK_DEVICE_LOSS
    return n == driver->fault_after; /* only that submission, and its queue */
#else
    if (n >= driver->fault_after)
        atomic_store(&driver->lost, true);
    return atomic_load(&driver->lost);
#endif
}

static accel_icd_result fk_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    fk_job *j = calloc(1, sizeof(*j));
    fq_fence *f = NULL;
    if (!j || s->arg_count > 4 ||
        (s->wait_fence_count && !(j->waits = calloc(s->wait_fence_count, sizeof(*j->waits)))) ||
        !(f = fq_fence_new())) {
        free(j ? j->waits : NULL);
        free(j);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    j->fn = s->function;
    memcpy(j->args, s->args, s->arg_count * sizeof(*s->args));
    j->base.fence = f;
    for (uint32_t i = 0; i < s->wait_fence_count; i++) {
        j->waits[i] = s->wait_fences[i];
        atomic_fetch_add(&j->waits[i]->refs, 1);
    }
    j->wait_count = s->wait_fence_count;
    long n = driver ? atomic_fetch_add(&driver->submissions, 1) + 1 : 0;
    j->lost = lose(n);
    fq_queue_push(queue, &j->base);
    *fence = f;
    return ACCEL_SUCCESS;
}

static accel_icd_result fk_fence_status(void *fence)
{
    return fq_fence_status(fence);
}

static accel_icd_result fk_fence_wait(void *fence, uint64_t timeout_ns)
{
#ifdef BREAK_CONCURRENCY
    return fq_fence_wait(fence, timeout_ns, true); /* one waiter at a time */
#else
    return fq_fence_wait(fence, timeout_ns, false);
#endif
}

static void fk_fence_release(void *fence)
{
    fq_fence_unref(fence);
}

static const accel_icd_table table = {
    .struct_size = sizeof(accel_icd_table),
    .driver_init = fk_init,
    .driver_fini = fk_fini,
    .enumerate_devices = fk_enumerate,
    .device_get_info = fk_get_info,
    .device_query = fk_query,
    .driver_version_string = fk_version,
    .memory_attach = fk_attach,
    .memory_detach = fk_detach,
    .memory_alloc_device = fk_alloc_device,
    .memory_free_device = fk_free_device,
    .memory_write = fk_write,
    .memory_read = fk_read,
    .function_get = fk_function_get,
    .function_release = fk_function_release,
    .queue_create = fk_queue_create,
    .queue_destroy = fk_queue_destroy,
    .queue_submit = fk_submit,
    .fence_status = fk_fence_status,
    .fence_wait = fk_fence_wait,
    .fence_release = fk_fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    if (!n || n->struct_size < offsetof(accel_icd_negotiation, table) + sizeof(n->table))
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    if (n->loader_version < ACCEL_MAKE_VERSION(1, 0) || n->loader_min_version > ACCEL_MAKE_VERSION(1, 0))
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    services = n->services;
    n->driver_version = ACCEL_MAKE_VERSION(1, 0);
    n->table = &table;
    return ACCEL_SUCCESS;
}
