/* icd_harness.h — drive an example driver through its table, without the
 * loader: load the library, negotiate, initialize, enumerate, and small
 * helpers for memory, functions and submissions. Header-only; for tests of
 * the example drivers (tests/icd/<driver>/). */
#ifndef ACCEL_ICD_HARNESS_H
#define ACCEL_ICD_HARNESS_H

#include <accel/accel_icd.h>

#include <dlfcn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ih_driver {
    void *dl;
    const accel_icd_table *t;
    void *handle;
    uint32_t device_count;
    void *devices[64];
    accel_icd_device_info info[64];
    accel_icd_loader_services services;
} ih_driver;

static void ih_log(void *ctx, accel_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ih_log(void *ctx, accel_log_level level, const char *fmt, ...)
{
    (void)ctx;
    if (!getenv("IH_VERBOSE") && !(level & (ACCEL_LOG_ERROR | ACCEL_LOG_WARN)))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "driver: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Load `library`; 0 on success, -1 with a message on stderr. */
static inline int ih_open(ih_driver *d, const char *library)
{
    memset(d, 0, sizeof(*d));
    d->dl = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!d->dl) {
        fprintf(stderr, "ih_open: %s\n", dlerror());
        return -1;
    }
    accel_icd_negotiate_fn negotiate;
    *(void **)&negotiate = dlsym(d->dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    if (!negotiate)
        return -1;
    d->services = (accel_icd_loader_services){sizeof(d->services), d, ih_log};
    accel_icd_negotiation n = {.struct_size = sizeof(n),
                               .loader_version = ACCEL_ICD_INTERFACE_VERSION,
                               .loader_min_version = ACCEL_ICD_INTERFACE_VERSION,
                               .services = &d->services};
    if (negotiate(&n) != ACCEL_SUCCESS || !n.table)
        return -1;
    d->t = n.table;
    accel_icd_init_info init = {sizeof(init), "harness", "harness"};
    if (d->t->driver_init(&init, &d->handle) != ACCEL_SUCCESS)
        return -1;
    uint32_t count = 64;
    accel_result r = d->t->enumerate_devices(d->handle, &count, d->devices);
    if (r != ACCEL_SUCCESS && r != ACCEL_INCOMPLETE)
        return -1;
    d->device_count = count;
    for (uint32_t i = 0; i < count; i++) {
        d->info[i].struct_size = sizeof(d->info[i]);
        d->info[i].numa_node = -1;
        d->info[i].parent_index = -1;
        if (d->t->device_get_info(d->devices[i], &d->info[i]) != ACCEL_SUCCESS)
            return -1;
    }
    return 0;
}

static inline void ih_close(ih_driver *d)
{
    if (d->t && d->handle)
        d->t->driver_fini(d->handle);
    if (d->dl && !getenv("IH_NO_UNLOAD"))
        dlclose(d->dl);
    memset(d, 0, sizeof(*d));
}

/* ih_open, then a queue on the first device, which must exist; 0 on
 * success, -1 otherwise. */
static inline int ih_open_queue(ih_driver *d, const char *library, void **dev, void **queue)
{
    if (ih_open(d, library) != 0 || d->device_count < 1)
        return -1;
    *dev = d->devices[0];
    return d->t->queue_create(*dev, queue) == ACCEL_SUCCESS ? 0 : -1;
}

/* The queue of ih_open_queue destroyed, then the driver closed. */
static inline void ih_close_queue(ih_driver *d, void *queue)
{
    d->t->queue_destroy(queue);
    ih_close(d);
}

/* Attach host memory; falls back to device memory + write like the loader's
 * STAGED mode when the device cannot reach it. *staged tells which. */
static inline accel_result ih_attach(ih_driver *d, void *dev, void *ptr, uint64_t size, void **mem, int *staged)
{
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = ptr, .size = size, .fd = -1,
                                  .numa_node = -1};
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    accel_result r = d->t->memory_attach ? d->t->memory_attach(dev, &desc, mem, &mode) : ACCEL_ERROR_UNSUPPORTED;
    *staged = 0;
    if (r != ACCEL_ERROR_UNSUPPORTED)
        return r;
    *staged = 1;
    if ((r = d->t->memory_alloc_device(dev, size ? size : 1, mem)))
        return r;
    return size ? d->t->memory_write(dev, *mem, 0, ptr, size) : ACCEL_SUCCESS;
}

static inline accel_icd_arg ih_mem(void *mem, uint64_t offset, uint64_t size)
{
    accel_icd_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = mem;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

static inline accel_icd_arg ih_u32(uint32_t v)
{
    accel_icd_arg a = {.kind = ACCEL_ARG_U32};
    a.u.u32 = v;
    return a;
}

static inline accel_icd_arg ih_i32(int32_t v)
{
    accel_icd_arg a = {.kind = ACCEL_ARG_I32};
    a.u.i32 = v;
    return a;
}

/* The little-endian values functions write (crc32c's result, out_size). */
static inline uint32_t ih_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ih_le64(const uint8_t *p)
{
    return (uint64_t)ih_le32(p) | (uint64_t)ih_le32(p + 4) << 32;
}

/* Submit one call on `queue`, wait for it, release the fence; returns the
 * submission's result. */
static inline accel_result ih_run(ih_driver *d, void *queue, void *fn, const accel_icd_arg *args, uint32_t argc,
                                  uint32_t work_dim, uint64_t work_size)
{
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = work_dim, .function = fn, .args = args,
                          .arg_count = argc, .work_size = {work_size, 1, 1}};
    void *fence = NULL;
    accel_result r = d->t->queue_submit(queue, &s, &fence);
    if (r)
        return r;
    r = d->t->fence_wait(fence, UINT64_MAX);
    d->t->fence_release(fence);
    return r;
}

#endif
