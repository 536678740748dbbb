/* fake_exec.c — a small driver that runs work, for the loader's tests of
 * memory, queues and fences. Built in variants (see meson.build):
 *   FAKE_EXEC_STAGED   memory_attach is refused: the loader must stage;
 *   FAKE_EXEC_NAME     its driver name in messages.
 * One device. Built-ins: accel.noop(), fake.add(memory, u32) adds the
 * scalar to every byte, fake.sleep(u32) sleeps that many microseconds,
 * fake.fail(u32) fails with the given (negative) result.
 *   FAKE_EXEC_NODES    the device reports memory nodes "vram0" and "vram1"
 *                      (host-visible, allocated with memory_alloc_node) and
 *                      host memory (PINNED); built-in fake.add_vram1(memory,
 *                      u32) has its memory argument wired to vram1 and
 *                      fails unless it is given vram1 memory; fake.add_host
 *                      has it wired to host memory and fails on vram memory.
 * ACCEL_FAKE_EXEC_BUS (read at init), when set, is the device's bus address
 * (every variant the same: one device under several drivers).
 * Fault injection: FAKE_EXEC_LOSE_AFTER=N (read at init) makes the Nth and
 * every later submission of the process report ACCEL_ERROR_DEVICE_LOST.
 * The queue is served by one worker thread, in order; after a failure the
 * worker fails every later submission of the queue with the same error. */
#include <accel/accel_icd.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_queue.h"

typedef struct fx_mem {
    unsigned char *ptr;
    uint64_t size;
    int device_owned;
    uint64_t node_id; /* FAKE_EXEC_NODES: 10 or 11 for vram0/vram1, 0 for host */
} fx_mem;

#define NODE_VRAM0 10u
#define NODE_VRAM1 11u
#define NODE_HOST 12u

typedef struct fx_job {
    fq_job base; /* first: the queue's part */
    int fn;
    int stream; /* the function's stream form */
    accel_icd_arg args[2];
} fx_job;

enum { FN_NOOP = 1, FN_ADD, FN_SLEEP, FN_FAIL, FN_ADD_VRAM1, FN_ADD_HOST, FN_CRC32C };

static accel_icd_device_info device_info;
static int device_token;
static const accel_icd_loader_services *services;
static atomic_long submissions;
static long lose_after;

static accel_icd_result fx_init(const accel_icd_init_info *info, void **handle)
{
    (void)info;
    memset(&device_info, 0, sizeof(device_info));
    strcpy(device_info.name, "fake exec " FAKE_EXEC_NAME);
    device_info.kind = ACCEL_DEVICE_KIND_ASIC;
    device_info.interface = ACCEL_DEVICE_INTERFACE_NATIVE;
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        device_info.uuid[i] = (uint8_t)(FAKE_EXEC_NAME[i % (sizeof(FAKE_EXEC_NAME) - 1)] + i);
    device_info.numa_node = -1;
    device_info.parent_index = -1;
    device_info.available_instances = 4;
    const char *bus = getenv("ACCEL_FAKE_EXEC_BUS");
    if (bus)
        strncpy(device_info.bus_address, bus, sizeof(device_info.bus_address) - 1);
    const char *v = getenv("FAKE_EXEC_LOSE_AFTER");
    lose_after = v ? atol(v) : 0;
    atomic_store(&submissions, 0);
    *handle = &device_token;
    return ACCEL_SUCCESS;
}

static void fx_fini(void *handle)
{
    (void)handle;
}

static accel_icd_result fx_enumerate(void *handle, uint32_t *count, void **devices)
{
    (void)handle;
    if (!devices) {
        *count = 1;
        return ACCEL_SUCCESS;
    }
    if (*count < 1)
        return ACCEL_INCOMPLETE;
    devices[0] = &device_token;
    *count = 1;
    return ACCEL_SUCCESS;
}

static accel_icd_result fx_get_info(void *device, accel_icd_device_info *info)
{
    (void)device;
    uint32_t size = info->struct_size;
    memcpy(info, &device_info, size < sizeof(device_info) ? size : sizeof(device_info));
    info->struct_size = size;
    return ACCEL_SUCCESS;
}

static accel_icd_result fx_query(void *device, accel_device_param param, void *value, size_t size, size_t *ret)
{
    (void)device;
    uint32_t v;
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: v = ACCEL_DEVICE_KIND_ASIC; break;
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES: v = 4; break;
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
    if (ret)
        *ret = sizeof(v);
    if (value) {
        if (size < sizeof(v))
            return ACCEL_ERROR_INVALID_ARGUMENT;
        memcpy(value, &v, sizeof(v));
    }
    return ACCEL_SUCCESS;
}

/* ---- memory ---- */

static accel_icd_result fx_attach(void *device, const accel_icd_memory_desc *desc, void **mem, accel_attach_mode *mode)
{
    (void)device;
#ifdef FAKE_EXEC_STAGED
    (void)desc;
    (void)mem;
    (void)mode;
    return ACCEL_ERROR_UNSUPPORTED;
#else
    fx_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->ptr = desc->host_ptr;
    m->size = desc->size;
    *mode = ACCEL_ATTACH_PINNED;
#ifdef FAKE_EXEC_NODES
    if (desc->struct_size >= sizeof(*desc) && desc->home_memory) {
        const fx_mem *home = desc->home_memory;
        if (home->node_id != desc->home_node_id || home->ptr != desc->host_ptr) {
            free(m);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        m->node_id = home->node_id;
        *mode = ACCEL_ATTACH_ZERO_COPY;
    }
#endif
    *mem = m;
    return ACCEL_SUCCESS;
#endif
}

static void fx_detach(void *device, void *mem)
{
    (void)device;
    free(mem);
}

static accel_icd_result fx_alloc_device(void *device, uint64_t size, void **mem)
{
    (void)device;
    fx_mem *m = calloc(1, sizeof(*m));
    if (!m || !(m->ptr = malloc(size ? size : 1))) {
        free(m);
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    }
    /* Garbage, not zeros: a missing copy-in must show. */
    memset(m->ptr, 0xa5, size);
    m->size = size;
    m->device_owned = 1;
    *mem = m;
    return ACCEL_SUCCESS;
}

static void fx_free_device(void *device, void *mem)
{
    (void)device;
    fx_mem *m = mem;
    free(m->ptr);
    free(m);
}

#ifdef FAKE_EXEC_NODES
static accel_icd_result fx_memory_nodes(void *device, uint32_t *count, accel_icd_memory_node_info *nodes)
{
    (void)device;
    static const struct {
        uint64_t id;
        const char *name;
        accel_memory_kind kind;
        accel_attach_mode access;
    } all[] = {
        {NODE_VRAM0, "vram0", ACCEL_MEMORY_KIND_DEVICE, ACCEL_ATTACH_ZERO_COPY},
        {NODE_VRAM1, "vram1", ACCEL_MEMORY_KIND_DEVICE, ACCEL_ATTACH_ZERO_COPY},
        {NODE_HOST, "host", ACCEL_MEMORY_KIND_HOST, ACCEL_ATTACH_PINNED},
    };
    uint32_t n = 3;
    if (!nodes) {
        *count = n;
        return ACCEL_SUCCESS;
    }
    uint32_t w = *count < n ? *count : n;
    for (uint32_t i = 0; i < w; i++) {
        nodes[i].id = all[i].id;
        strcpy(nodes[i].name, all[i].name);
        nodes[i].kind = all[i].kind;
        nodes[i].access = all[i].access;
        nodes[i].flags = all[i].kind == ACCEL_MEMORY_KIND_HOST ? 0 : ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE;
        nodes[i].capacity = all[i].kind == ACCEL_MEMORY_KIND_HOST ? 0 : 1u << 30;
    }
    *count = w;
    return w < n ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

static atomic_long node_allocations;

static accel_icd_result fx_alloc_node(void *device, uint64_t node_id, uint64_t size, void **mem, void **host_ptr,
                                      int *fd)
{
    if (node_id != NODE_VRAM0 && node_id != NODE_VRAM1 && node_id != NODE_HOST)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_icd_result r = fx_alloc_device(device, size, mem);
    if (r)
        return r;
    fx_mem *m = *mem;
    memset(m->ptr, 0, size);
    m->node_id = node_id == NODE_HOST ? 0 : node_id;
    *host_ptr = m->ptr;
    *fd = -1;
    atomic_fetch_add(&node_allocations, 1);
    return ACCEL_SUCCESS;
}
#endif

static accel_icd_result fx_write(void *device, void *mem, uint64_t off, const void *src, uint64_t size)
{
    (void)device;
    fx_mem *m = mem;
    if (off > m->size || size > m->size - off)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(m->ptr + off, src, size);
    return ACCEL_SUCCESS;
}

static accel_icd_result fx_read(void *device, void *mem, uint64_t off, void *dst, uint64_t size)
{
    (void)device;
    fx_mem *m = mem;
    if (off > m->size || size > m->size - off)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(dst, m->ptr + off, size);
    return ACCEL_SUCCESS;
}

/* ---- programs: built-ins only ---- */

static accel_icd_result fx_program_load(void *device, accel_program_format format, const void *data, size_t size,
                                        const char *options, void **program, char *log, size_t log_size)
{
    (void)device;
    (void)format;
    (void)data;
    (void)size;
    (void)options;
    (void)program;
    /* A compiler that always fails, with a log, for the error path. */
    strncpy(log, "fake.c:1:1: error: this device runs built-in functions only\n1 error generated.", log_size - 1);
    log[log_size - 1] = '\0';
    return ACCEL_ERROR_INVALID_ARGUMENT;
}

static void fx_program_release(void *program)
{
    (void)program;
}

typedef struct fx_builtin {
    const char *name;
    int fn;
    uint32_t argc;
    accel_arg_kind kinds[2];
} fx_builtin;

static const fx_builtin builtins[] = {
    {"accel.noop", FN_NOOP, 0, {0}},
    {"fake.add", FN_ADD, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"fake.sleep", FN_SLEEP, 1, {ACCEL_ARG_U32}},
    {"fake.fail", FN_FAIL, 1, {ACCEL_ARG_I32}},
#ifdef FAKE_EXEC_STREAM
    /* crc32c and its stream form (the state is the CRC so far): enough
     * for a streamed run, with FAKE_EXEC_LOSE_AFTER losing the device on a
     * chosen chunk. */
    {"crc32c", FN_CRC32C, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"crc32c.stream", FN_CRC32C, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
#endif
#ifdef FAKE_EXEC_NODES
    {"fake.add_vram1", FN_ADD_VRAM1, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"fake.add_host", FN_ADD_HOST, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
#endif
};

static accel_icd_result fx_function_get(void *device, void *program, const char *name, void **function,
                                        accel_icd_function_info *info)
{
    (void)device;
    if (program)
        return ACCEL_ERROR_NOT_FOUND;
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (strcmp(builtins[i].name, name) == 0) {
            *function = (void *)&builtins[i];
            info->arg_count = builtins[i].argc;
            for (uint32_t k = 0; k < builtins[i].argc; k++)
                info->arg_kinds[k] = builtins[i].kinds[k];
            if ((builtins[i].fn == FN_ADD_VRAM1 || builtins[i].fn == FN_ADD_HOST) &&
                info->struct_size >= sizeof(*info)) {
                info->arg_node_wired[0] = 1;
                info->arg_node_id[0] = builtins[i].fn == FN_ADD_VRAM1 ? NODE_VRAM1 : NODE_HOST;
            }
            return ACCEL_SUCCESS;
        }
    }
    return ACCEL_ERROR_NOT_FOUND;
}

static void fx_function_release(void *function)
{
    (void)function;
}

/* ---- queues and fences (fake_queue.h) ---- */

static accel_result run(const fx_job *j)
{
    switch (j->fn) {
    case FN_NOOP: return ACCEL_SUCCESS;
    case FN_CRC32C: {
        /* The one-shot form starts from 0 (result is written, not read);
         * the stream form continues the CRC in its state. */
        fx_mem *src = j->args[0].u.mem.memory, *res = j->args[1].u.mem.memory;
        const unsigned char *p = src->ptr + j->args[0].u.mem.offset;
        unsigned char *r = res->ptr + j->args[1].u.mem.offset;
        if (j->args[1].u.mem.size < 4)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        uint32_t c = j->stream ? (uint32_t)r[0] | (uint32_t)r[1] << 8 | (uint32_t)r[2] << 16 | (uint32_t)r[3] << 24
                               : 0;
        c = ~c;
        for (uint64_t i = 0; i < j->args[0].u.mem.size; i++) {
            c ^= p[i];
            for (int k = 0; k < 8; k++)
                c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
        }
        c = ~c;
        for (int k = 0; k < 4; k++)
            r[k] = (unsigned char)(c >> (8 * k));
        return ACCEL_SUCCESS;
    }
    case FN_ADD: {
        fx_mem *m = j->args[0].u.mem.memory;
        unsigned char *p = m->ptr + j->args[0].u.mem.offset;
        for (uint64_t i = 0; i < j->args[0].u.mem.size; i++)
            p[i] = (unsigned char)(p[i] + j->args[1].u.u32);
        return ACCEL_SUCCESS;
    }
    case FN_ADD_VRAM1:
    case FN_ADD_HOST: {
        fx_mem *m = j->args[0].u.mem.memory;
        if (m->node_id != (j->fn == FN_ADD_VRAM1 ? NODE_VRAM1 : 0))
            return ACCEL_ERROR_INVALID_ARGUMENT;
        unsigned char *p = m->ptr + j->args[0].u.mem.offset;
        for (uint64_t i = 0; i < j->args[0].u.mem.size; i++)
            p[i] = (unsigned char)(p[i] + j->args[1].u.u32);
        return ACCEL_SUCCESS;
    }
    case FN_SLEEP: usleep(j->args[0].u.u32); return ACCEL_SUCCESS;
    case FN_FAIL: return (accel_result)j->args[0].u.i32;
    }
    return ACCEL_ERROR_DRIVER_INTERNAL;
}

/* The queue's error if it has failed, else the fault injection's, else
 * the function's result; every job counts as a submission. */
static accel_result run_job(fq_job *job, accel_result queue_error)
{
    long n = atomic_fetch_add(&submissions, 1) + 1;
    return queue_error                           ? queue_error
           : (lose_after > 0 && n >= lose_after) ? ACCEL_ERROR_DEVICE_LOST
                                                 : run((const fx_job *)job);
}

static void release_job(fq_job *job)
{
    free(job);
}

static accel_icd_result fx_queue_create(void *device, void **queue)
{
    (void)device;
    fq_queue *q = fq_queue_create(run_job, release_job);
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    *queue = q;
    return ACCEL_SUCCESS;
}

static void fx_queue_destroy(void *queue)
{
    fq_queue_destroy(queue);
}

static accel_icd_result fx_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    if (s->wait_fence_count)
        return ACCEL_ERROR_UNSUPPORTED; /* the loader resolves waits itself for this driver */
    fx_job *j = calloc(1, sizeof(*j));
    fq_fence *f = j ? fq_fence_new() : NULL;
    if (!f) {
        free(j);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    j->fn = ((const fx_builtin *)s->function)->fn;
    j->stream = strstr(((const fx_builtin *)s->function)->name, ".stream") != NULL;
    memcpy(j->args, s->args, s->arg_count * sizeof(*s->args));
    j->base.fence = f;
    fq_queue_push(queue, &j->base);
    *fence = f;
    return ACCEL_SUCCESS;
}

static accel_icd_result fx_fence_status(void *fence)
{
    return fq_fence_status(fence);
}

static accel_icd_result fx_fence_wait(void *fence, uint64_t timeout_ns)
{
    return fq_fence_wait(fence, timeout_ns, false);
}

static void fx_fence_release(void *fence)
{
    fq_fence_unref(fence);
}

static const accel_icd_table table = {
    .struct_size = sizeof(accel_icd_table),
    .driver_init = fx_init,
    .driver_fini = fx_fini,
    .enumerate_devices = fx_enumerate,
    .device_get_info = fx_get_info,
    .device_query = fx_query,
    .memory_attach = fx_attach,
    .memory_detach = fx_detach,
    .memory_alloc_device = fx_alloc_device,
    .memory_free_device = fx_free_device,
    .memory_write = fx_write,
    .memory_read = fx_read,
    .program_load = fx_program_load,
    .program_release = fx_program_release,
    .function_get = fx_function_get,
    .function_release = fx_function_release,
    .queue_create = fx_queue_create,
    .queue_destroy = fx_queue_destroy,
    .queue_submit = fx_submit,
    .fence_status = fx_fence_status,
    .fence_wait = fx_fence_wait,
    .fence_release = fx_fence_release,
#ifdef FAKE_EXEC_NODES
    .device_memory_nodes = fx_memory_nodes,
    .memory_alloc_node = fx_alloc_node,
#endif
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    services = n->services;
    n->driver_version = ACCEL_ICD_INTERFACE_VERSION;
    n->table = &table;
    return ACCEL_SUCCESS;
}
