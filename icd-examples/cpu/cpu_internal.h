/* cpu_internal.h — what the cpu driver's files share. Private to the driver
 * (icd-examples/cpu/); nothing here crosses the driver ABI except through
 * the function table in cpu_driver.c.
 *
 * Objects and their owners:
 *   cpu_driver   one per driver_init; owns the device and the fence pool.
 *   cpu_memory   one per memory_attach / memory_alloc_device.
 *   cpu_function a built-in (static, never freed) or a kernel of a program
 *                (lives in the program; function_get takes a reference on
 *                the program, function_release drops it).
 *   cpu_program  a dlopen()ed kernel library, reference-counted: the
 *                loader's handle, each function handle and each pending
 *                submission of one of its kernels hold one.
 *   cpu_queue    one worker thread and a ring of pending fences.
 *   cpu_fence    a submission and its completion state, reference-counted
 *                (the caller's handle, the queue until the work ran, and
 *                every later submission that waits on it) and recycled
 *                through the driver's pool: no malloc in steady state.
 */
#ifndef CPU_INTERNAL_H
#define CPU_INTERNAL_H

#include <accel/accel_icd.h>

#include "accel_icd_negotiate.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

extern const accel_icd_loader_services *cpu__services;

#define CPU_LOG(level, ...) ACCEL_ICD_LOG(cpu__services, (level), __VA_ARGS__)

typedef struct cpu_driver cpu_driver;
typedef struct cpu_fence cpu_fence;
typedef struct cpu_program cpu_program;

/* The most partitions ACCEL_CPU_PARTITIONS may ask for. */
#define CPU_MAX_PARTITIONS 64

/* Submissions a queue holds in flight (its ring); one more waits for the
 * oldest to complete (ACCEL_DEVICE_PARAM_QUEUE_DEPTH). */
#define CPU_RING_SIZE 1024u

typedef struct cpu_device {
    accel_icd_device_info info;
    cpu_driver *driver;
    /* Partitions only: the cores their queues' workers are bound to. */
    bool bound;
    cpu_set_t cores;
} cpu_device;

/* Host memory (attached, ZERO_COPY) or driver-allocated "device" memory
 * (the STAGED mirror; plain malloc on this device). */
typedef struct cpu_memory {
    uint8_t *base; /* may be NULL when size is 0 */
    uint64_t size;
    bool owned; /* base was allocated by memory_alloc_device */
} cpu_memory;

/* What the built-ins keep from one call to the next on a queue, because it
 * is costly to make: libdeflate's compressors (hundreds of KiB each, one
 * per zlib level used), its decompressor, OpenSSL's digest. Part of the
 * queue; only its worker touches it, creating each piece on first use;
 * cpu__scratch_free releases them after the worker has stopped. */
struct libdeflate_compressor;
struct libdeflate_decompressor;
struct evp_md_st;
struct evp_md_ctx_st;
typedef struct cpu_scratch {
    struct libdeflate_compressor *compressor[10]; /* by zlib level; [0] unused (stored blocks) */
    struct libdeflate_decompressor *decompressor;
    struct evp_md_st *sha256;
    struct evp_md_ctx_st *sha256_ctx;
} cpu_scratch;

/* Runs a built-in over its (already checked) arguments on the queue's
 * worker; the result goes to the fence. */
typedef accel_result (*cpu_builtin_fn)(cpu_scratch *scratch, const accel_icd_arg *args);

typedef struct cpu_function {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
    cpu_builtin_fn builtin; /* built-ins */
    cpu_program *program;   /* kernels: the program that holds this function */
    void *kernel;           /* kernels: cpu_program.c's per-kernel data */
} cpu_function;

struct cpu_driver {
    cpu_device device;
    cpu_device partitions[CPU_MAX_PARTITIONS]; /* ACCEL_CPU_PARTITIONS; parent: device */
    uint32_t partition_count;
    uint64_t fault_after;            /* ACCEL_CPU_FAULT_AFTER; 0 = never */
    uint64_t hang_after;             /* ACCEL_CPU_HANG_AFTER; 0 = never */
    _Atomic uint64_t submissions;    /* counted from driver_init */
    _Atomic(cpu_fence *) fence_pool; /* released fences, a push-only stack */
    pthread_mutex_t chunk_lock;      /* guards chunks (allocation path only) */
    struct cpu_fence_chunk *chunks;  /* every fence ever allocated */
};

/* Pointer to the first byte of a memory argument's range (checked). */
static inline uint8_t *cpu__arg_ptr(const accel_icd_arg *a)
{
    const cpu_memory *m = a->u.mem.memory;
    return m->base ? m->base + a->u.mem.offset : NULL;
}

/* Little-endian integers into results (docs/standard-functions.md). */
static inline void cpu__put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void cpu__put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* cpu_std.c: the standard functions of docs/standard-functions.md. */
const cpu_function *cpu__builtin_find(const char *name);
void cpu__scratch_free(cpu_scratch *scratch);

/* cpu_hash.c: checksums and digests. */
void cpu__crc32c_setup(bool allow_fast);
uint32_t cpu__crc32c(uint32_t crc, const void *data, size_t size);
accel_result cpu__sha256(cpu_scratch *scratch, const void *data, size_t size, uint8_t digest[32]);
void cpu__sha256_free(cpu_scratch *scratch);

/* cpu_zlib.c: zlib streams (zlib.deflate, zlib.inflate). */
accel_result cpu__zlib_deflate(cpu_scratch *scratch, const accel_icd_arg *args);
accel_result cpu__zlib_inflate(cpu_scratch *scratch, const accel_icd_arg *args);
void cpu__zlib_free(cpu_scratch *scratch);

/* cpu_stream.c: the stream forms (crc32c.stream, sha256.stream,
 * zlib.deflate.stream, zlib.inflate.stream). */
accel_result cpu__crc32c_stream(cpu_scratch *scratch, const accel_icd_arg *args);
accel_result cpu__sha256_stream(cpu_scratch *scratch, const accel_icd_arg *args);
accel_result cpu__zlib_deflate_stream(cpu_scratch *scratch, const accel_icd_arg *args);
accel_result cpu__zlib_inflate_stream(cpu_scratch *scratch, const accel_icd_arg *args);

/* cpu_program.c: ELF kernel libraries. */
accel_result cpu__program_load(void *device, accel_program_format format, const void *data, size_t size,
                               const char *options, void **program, char *log, size_t log_size);
void cpu__program_release(void *program);
void cpu__program_ref(cpu_program *p);
accel_result cpu__kernel_get(cpu_program *p, const char *name, const cpu_function **fn);
accel_result cpu__kernel_run(const cpu_function *fn, const accel_icd_arg *args, uint32_t work_dim,
                             const uint64_t work_size[3]);

/* cpu_queue.c: queues and fences. */
accel_icd_result cpu__queue_create(void *device, void **queue);
void cpu__queue_destroy(void *queue);
accel_icd_result cpu__queue_submit(void *queue, const accel_icd_submit *submit, void **fence);
accel_icd_result cpu__fence_status(void *fence);
accel_icd_result cpu__fence_wait(void *fence, uint64_t timeout_ns);
void cpu__fence_release(void *fence);
void cpu__fence_pool_init(cpu_driver *drv);
void cpu__fence_pool_fini(cpu_driver *drv);

#endif
