/* opencl_submit.c — queues, fences and submission.
 *
 * Coherence. Every submission brackets its kernels with map/unmap commands
 * on the attached (USE_HOST_PTR) ranges it reads
 * (CL_MAP_WRITE_INVALIDATE_REGION, unmap: the host's bytes become the
 * buffer's) and writes (CL_MAP_READ, unmap: the buffer's bytes reach
 * host_ptr), so results are in host memory when the fence completes. Where
 * the implementation works on host_ptr itself, as PoCL's CPU device does,
 * these cost about 0.1 ms for 64 MiB (no copy).
 *
 * Ranges at an offset. Built-in kernels take every range as (buffer,
 * offset, size), so any offset works. For user kernels a range at offset 0
 * passes the buffer itself; at an offset aligned to
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN a sub-buffer; at an unaligned offset of
 * attached memory a second USE_HOST_PTR buffer over host_ptr + offset; an
 * unaligned offset into device memory is ACCEL_ERROR_UNSUPPORTED.
 *
 * Fences. A fence is the cl_event of the submission's last command (the
 * queue is in order: it completes after all of them), plus what OpenCL
 * cannot express: the errors of its wait fences (kept referenced until the
 * fence resolves), and the status word of the built-ins that find their
 * arguments bad only as they run (zlib.inflate, sha256.stream,
 * zlib.inflate.stream), read back into the fence by the submission's last
 * command.
 *
 * Flushes and event queries. Submitting neither flushes the queue nor
 * asks OpenCL about any event: both cost more than enqueueing itself on
 * PoCL. A fence flushes its queue (once) when someone needs it to make
 * progress: fence_status and bounded waits (clWaitForEvents flushes by
 * itself), and a submission on another queue that waits on it (OpenCL
 * requires the flush before an event of one queue is waited on from
 * another). Events are queried only from fence_status and fence_wait.
 *
 * Failed queues. Once queue_submit knows that a submission of the queue
 * failed (its latest fence was resolved to an error by a wait or a status
 * query), it fails every later submission at once without enqueueing it.
 * Submissions enqueued before the failure was known still run and report
 * their own result.
 *
 * Scratch memory. crc32c and zlib.deflate keep per-segment results and
 * workspaces in a buffer of the queue (zlib.deflate.stream also its first
 * segment behind the state's window), grown as needed: the queue is in
 * order, so one submission's kernels are done with it before the next
 * one's start. */
#include "opencl_driver.h"
#include "accel_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Queues and fences.                                                         */

/* queue_submit is never called concurrently for one queue, so `last` and
 * `error` need no lock. The loader's handle and every fence that may still
 * flush the queue hold a reference: a fence can outlive queue_destroy. The
 * driver counts them itself because releasing a cl_command_queue flushes
 * it on PoCL, and a flush per fence is what submissions are meant not to
 * pay. */
typedef struct ocl_queue {
    atomic_int refs;
    ocl_device *dev;
    cl_context ctx;
    cl_command_queue q;
    struct ocl_fence *last; /* the latest submission's fence (a reference) */
    accel_result error;     /* the first failure known to queue_submit */
    cl_uint units;          /* CL_DEVICE_MAX_COMPUTE_UNITS */
    cl_mem scratch;         /* see "Scratch memory" above; NULL until needed */
    size_t scratch_size;
} ocl_queue;

static void fence_unref(struct ocl_fence *f);
static void queue_unref(struct ocl_queue *q);

accel_icd_result ocl__queue_create(void *device, void **queue)
{
    ocl_device *dev = device;
    cl_context ctx = ocl__device_context(dev);
    if (!ctx)
        return ACCEL_ERROR_DRIVER_INTERNAL;
    ocl_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    cl_int err;
    atomic_init(&q->refs, 1);
    q->dev = dev;
    q->ctx = ctx;
    q->q = CL(clCreateCommandQueue)(ctx, dev->id, 0, &err); /* in order */
    if (!q->q) {
        OCL_LOG(ACCEL_LOG_ERROR, "%s: clCreateCommandQueue failed (%d)", dev->info.name, err);
        free(q);
        return ocl__result(err);
    }
    if (CL(clGetDeviceInfo)(dev->id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(q->units), &q->units, NULL) !=
            CL_SUCCESS ||
        q->units == 0)
        q->units = 1;
    *queue = q;
    return ACCEL_SUCCESS;
}

static void queue_unref(ocl_queue *q)
{
    if (atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    if (q->scratch)
        CL(clReleaseMemObject)(q->scratch);
    CL(clReleaseCommandQueue)(q->q); /* flushes what was never flushed */
    free(q);
}

void ocl__queue_destroy(void *queue)
{
    ocl_queue *q = queue;
    if (!q)
        return;
    /* the latest fence first: it references the queue */
    if (q->last)
        fence_unref(q->last);
    q->last = NULL;
    queue_unref(q);
}

/* The queue's scratch buffer with at least `size` bytes. A smaller one is
 * released: OpenCL keeps it until the commands using it are done. */
static cl_mem queue_scratch(ocl_queue *q, size_t size, cl_int *err)
{
    if (q->scratch && q->scratch_size >= size)
        return q->scratch;
    if (q->scratch)
        CL(clReleaseMemObject)(q->scratch);
    q->scratch_size = 0;
    q->scratch = CL(clCreateBuffer)(q->ctx, CL_MEM_READ_WRITE, size, NULL, err);
    if (q->scratch)
        q->scratch_size = size;
    return q->scratch;
}

typedef struct ocl_fence {
    atomic_int refs;         /* the loader's, plus one per fence that waits on it */
    atomic_int result;       /* ACCEL_NOT_READY until known */
    cl_event ev;             /* NULL for a fence failed at submission */
    struct ocl_queue *queue; /* ev's queue (a reference), to flush; NULL without ev */
    atomic_int flushed;
    cl_context ctx;
    pthread_mutex_t lock; /* resolution */
    uint32_t ndeps;
    struct ocl_fence **deps; /* wait fences whose errors this fence carries */
    int has_status;
    fn_kind status_kind; /* the built-in that writes status */
    cl_uint status;      /* a kernel's verdict on its arguments, read back (status_begin); not 0: bad */
} ocl_fence;

static ocl_fence *fence_new(cl_context ctx)
{
    ocl_fence *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    atomic_init(&f->result, ACCEL_NOT_READY);
    f->ctx = ctx;
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void fence_unref(ocl_fence *f)
{
    /* Chains of dependencies are released iteratively through deps[0]. */
    while (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        if (f->ev) {
            /* The submission's last command may still be writing into
             * f->status. */
            if (f->has_status && atomic_load(&f->result) == ACCEL_NOT_READY)
                CL(clWaitForEvents)(1, &f->ev);
            CL(clReleaseEvent)(f->ev);
            queue_unref(f->queue);
        }
        ocl_fence *next = NULL;
        for (uint32_t i = 0; i < f->ndeps; i++) {
            if (i == 0)
                next = f->deps[0];
            else
                fence_unref(f->deps[i]);
        }
        free(f->deps);
        pthread_mutex_destroy(&f->lock);
        free(f);
        f = next;
    }
}

/* Make sure the fence's commands were handed to the device. */
static void fence_flush(ocl_fence *f)
{
    if (f->ev && !atomic_load_explicit(&f->flushed, memory_order_relaxed)) {
        CL(clFlush)(f->queue->q);
        atomic_store_explicit(&f->flushed, 1, memory_order_relaxed);
    }
}

/* What a built-in's status word says (see status_begin). */
static const char *status_message(fn_kind kind, cl_uint status)
{
    switch (kind) {
    case FN_INFLATE:
        return status == 1 ? "zlib.inflate: argument dst is too small for the stream's output"
                           : "zlib.inflate: argument src is not a valid zlib stream";
    case FN_SHA256_STREAM: return "sha256.stream: argument state is not a sha256.stream state";
    case FN_DEFLATE_STREAM: return "zlib.deflate.stream: argument state is not a zlib.deflate.stream state";
    case FN_INFLATE_STREAM:
        return status == 2 ? "zlib.inflate.stream: argument state is not a zlib.inflate.stream state"
                           : "zlib.inflate.stream: argument src is not a valid zlib stream (nor the rest of "
                             "the one in state)";
    default: return "a built-in found its arguments invalid";
    }
}

static accel_result fence_resolve(ocl_fence *f)
{
    int r = atomic_load(&f->result);
    if (r != ACCEL_NOT_READY)
        return r;
    fence_flush(f);
    cl_int st = CL_COMPLETE;
    cl_int err = CL(clGetEventInfo)(f->ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof(st), &st, NULL);
    if (err != CL_SUCCESS)
        st = err;
    if (st > CL_COMPLETE)
        return ACCEL_NOT_READY;
    atomic_thread_fence(memory_order_acquire);
    pthread_mutex_lock(&f->lock);
    r = atomic_load(&f->result);
    if (r == ACCEL_NOT_READY) {
        accel_result res = ACCEL_SUCCESS;
        for (uint32_t i = 0; i < f->ndeps; i++) {
            accel_result d = fence_resolve(f->deps[i]);
            if (d == ACCEL_NOT_READY) {
                pthread_mutex_unlock(&f->lock);
                return ACCEL_NOT_READY;
            }
            if (d < 0 && res == ACCEL_SUCCESS)
                res = d;
        }
        if (res == ACCEL_SUCCESS && st < 0) {
            OCL_LOG(ACCEL_LOG_ERROR, "a submission failed on the device (%d)", st);
            res = ocl__result(st);
        }
        if (res == ACCEL_SUCCESS && f->has_status && f->status != 0) {
            OCL_LOG(ACCEL_LOG_WARN, "%s: %s", f->queue->dev->info.name,
                    status_message(f->status_kind, f->status));
            res = ACCEL_ERROR_INVALID_ARGUMENT;
        }
        for (uint32_t i = 0; i < f->ndeps; i++)
            fence_unref(f->deps[i]);
        free(f->deps);
        f->deps = NULL;
        f->ndeps = 0;
        atomic_store(&f->result, res);
        r = res;
    }
    pthread_mutex_unlock(&f->lock);
    return r;
}

accel_icd_result ocl__fence_status(void *fence)
{
    return fence_resolve(fence);
}

accel_icd_result ocl__fence_wait(void *fence, uint64_t timeout_ns)
{
    ocl_fence *f = fence;
    accel_result r = fence_resolve(f);
    if (r != ACCEL_NOT_READY || timeout_ns == 0)
        return r;
    if (timeout_ns == UINT64_MAX) {
        CL(clWaitForEvents)(1, &f->ev); /* an error here shows in the event's status */
        if ((r = fence_resolve(f)) != ACCEL_NOT_READY)
            return r;
    }
    /* A bounded wait: OpenCL has no timed wait, so poll with short sleeps
     * growing from 20 us to 1 ms. */
    uint64_t start = accel_now_ns();
    uint64_t deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
    long sleep_ns = 20000;
    for (;;) {
        if ((r = fence_resolve(f)) != ACCEL_NOT_READY)
            return r;
        uint64_t t = accel_now_ns();
        if (t >= deadline)
            return ACCEL_TIMEOUT;
        uint64_t left = deadline - t;
        struct timespec ts = {0, (long)(left < (uint64_t)sleep_ns ? left : (uint64_t)sleep_ns)};
        nanosleep(&ts, NULL);
        if (sleep_ns < 1000000)
            sleep_ns *= 2;
    }
}

void ocl__fence_release(void *fence)
{
    fence_unref(fence);
}

/* ------------------------------------------------------------------------ */
/* Submission.                                                                */

/* The commands of one submission: the first waits on the wait list; the
 * queue is in order, so `last` completes after all of them. */
typedef struct batch {
    cl_command_queue q;
    cl_uint nwait;
    cl_event *wait;
    cl_event last;
    cl_int err;
} batch;

static const cl_event *batch_wait(batch *b, cl_uint *n)
{
    *n = b->nwait;
    b->nwait = 0;
    return *n ? b->wait : NULL;
}

static void batch_event(batch *b, cl_int err, cl_event ev)
{
    if (err != CL_SUCCESS) {
        if (b->err == CL_SUCCESS)
            b->err = err;
        return;
    }
    if (b->last)
        CL(clReleaseEvent)(b->last);
    b->last = ev;
}

/* Record err, a failure before a command (setting a kernel's arguments,
 * making a buffer), in the batch: the commands enqueued after it are
 * skipped. Whether there was one. */
static int batch_fail(batch *b, cl_int err)
{
    if (err)
        b->err = err;
    return err != CL_SUCCESS;
}

/* local: NULL lets the implementation choose. */
static void enqueue_kernel(batch *b, cl_kernel k, cl_uint dim, const size_t *global, const size_t *local)
{
    if (b->err)
        return;
    cl_uint n;
    const cl_event *w = batch_wait(b, &n);
    cl_event ev = NULL;
    cl_int err = CL(clEnqueueNDRangeKernel)(b->q, k, dim, NULL, global, local, n, w, &ev);
    batch_event(b, err, ev);
}

static void enqueue_marker(batch *b)
{
    if (b->err)
        return;
    cl_uint n;
    const cl_event *w = batch_wait(b, &n);
    cl_event ev = NULL;
    cl_int err = CL(clEnqueueMarkerWithWaitList)(b->q, n, w, &ev);
    batch_event(b, err, ev);
}

/* Host coherence of USE_HOST_PTR ranges (see the top of the file).
 * `in`: the kernel reads the range; `out`: it writes it. */
static void sync_range(batch *b, cl_mem buf, uint64_t off, uint64_t size, int out)
{
    if (b->err || size == 0)
        return;
    cl_uint n;
    const cl_event *w = batch_wait(b, &n);
    cl_int err;
    cl_map_flags flags = out ? CL_MAP_READ : CL_MAP_WRITE_INVALIDATE_REGION;
    void *p = CL(clEnqueueMapBuffer)(b->q, buf, CL_FALSE, flags, off, size, n, w, NULL, &err);
    if (!p) {
        batch_event(b, err, NULL);
        return;
    }
    cl_event ev = NULL;
    err = CL(clEnqueueUnmapMemObject)(b->q, buf, p, 0, NULL, &ev);
    batch_event(b, err, ev);
}

typedef struct range {
    ocl_mem *m;
    uint64_t off, size;
} range;

static range arg_range(const accel_icd_arg *a)
{
    range r = {a->u.mem.memory, a->u.mem.offset, a->u.mem.size};
    return r;
}

static void sync_arg(batch *b, range r, int out)
{
    if (r.m->host_ptr)
        sync_range(b, r.m->buf, r.off, r.size, out);
}

/* Built-in kernels take a range as (buffer, offset, size). */
static cl_int set_range(cl_kernel k, cl_uint first, range r, int with_size)
{
    cl_ulong off = r.off, size = r.size;
    cl_int err = CL(clSetKernelArg)(k, first, sizeof(cl_mem), &r.m->buf);
    if (!err)
        err = CL(clSetKernelArg)(k, first + 1, sizeof(off), &off);
    if (!err && with_size)
        err = CL(clSetKernelArg)(k, first + 2, sizeof(size), &size);
    return err;
}

static int overlaps(range a, range b)
{
    return a.m == b.m && a.off < b.off + b.size && b.off < a.off + a.size;
}

/* Whether two arguments of a stream form share bytes, by address where
 * both are attached host memory (two memory objects may map the same
 * pages: an import of another's pointer), else as ranges of one object:
 * docs/standard-functions.md forbids state to overlap any other argument,
 * and src any argument the call writes. */
static int clash(const accel_icd_arg *x, const accel_icd_arg *y)
{
    range a = arg_range(x), b = arg_range(y);
    if (!a.size || !b.size)
        return 0;
    if (a.m->host_ptr && b.m->host_ptr) {
        uintptr_t p = (uintptr_t)(a.m->host_ptr + a.off), q = (uintptr_t)(b.m->host_ptr + b.off);
        return p < q + b.size && q < p + a.size;
    }
    return overlaps(a, b);
}

/* The dst zlib.deflate needs: its segments' regions (builtins.cl), which is
 * what stored blocks take, 2 + 5 * ceil(n / 65535) + n + 4 (11 for n = 0),
 * 5 bytes less than the documented bound. zlib.deflate.stream's pieces
 * need as much (the 2 bytes of the header are kept whether or not the
 * piece has one), and one byte more when not final: an empty stored block
 * (5 bytes) where the Adler-32 (4) would be. */
static uint64_t deflate_need(uint64_t n)
{
    uint64_t blocks = n == 0 ? 1 : (n + 65534) / 65535;
    return 2 + 5 * blocks + n + 4;
}

/* What zlib.deflate.stream writes at most: the documented bound. */
static uint64_t deflate_stream_bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 16;
}

/* Why a built-in cannot run with these ranges (the fence fails with
 * ACCEL_ERROR_INVALID_ARGUMENT), or NULL. */
static const char *builtin_check(fn_kind kind, const accel_icd_arg *args)
{
    switch (kind) {
    case FN_COPY:
        return args[1].u.mem.size < args[0].u.mem.size ? "accel.copy: dst is smaller than src" : NULL;
    case FN_CRC32C: return args[1].u.mem.size < 4 ? "crc32c: result is smaller than 4 bytes" : NULL;
    case FN_SHA256: return args[1].u.mem.size < 32 ? "sha256: result is smaller than 32 bytes" : NULL;
    case FN_DEFLATE:
        if (args[3].u.i32 < -1 || args[3].u.i32 > 9)
            return "zlib.deflate: level is not -1 (the default) or 0 to 9";
        if (args[2].u.mem.size < 8)
            return "zlib.deflate: out_size is smaller than 8 bytes";
        if (args[0].u.mem.size / OCL_DEFLATE_SEGMENT >= UINT32_MAX)
            return "zlib.deflate: src is too large";
        return args[1].u.mem.size < deflate_need(args[0].u.mem.size) ? "zlib.deflate: dst is too small"
                                                                     : NULL;
    case FN_INFLATE: return args[2].u.mem.size < 8 ? "zlib.inflate: out_size is smaller than 8 bytes" : NULL;
    case FN_CRC32C_STREAM:
        if (args[1].u.mem.size < 4)
            return "crc32c.stream: state is smaller than 4 bytes";
        if (clash(&args[0], &args[1]))
            return "crc32c.stream: state overlaps src";
        return NULL;
    case FN_SHA256_STREAM:
        if (args[1].u.mem.size < 112)
            return "sha256.stream: state is smaller than 112 bytes";
        if ((args[2].u.mem.size && args[2].u.mem.size < 32) || (args[3].u.u32 && args[2].u.mem.size < 32))
            return "sha256.stream: result is neither empty nor 32 bytes or more (and final needs 32)";
        if (clash(&args[0], &args[1]) || clash(&args[2], &args[1]))
            return "sha256.stream: state overlaps src or result";
        if (clash(&args[0], &args[2]))
            return "sha256.stream: src overlaps result";
        return NULL;
    case FN_DEFLATE_STREAM:
        if (args[3].u.i32 < -1 || args[3].u.i32 > 9)
            return "zlib.deflate.stream: level is not -1 (the default) or 0 to 9";
        if (args[2].u.mem.size < 8)
            return "zlib.deflate.stream: out_size is smaller than 8 bytes";
        if (args[4].u.mem.size < 32800)
            return "zlib.deflate.stream: state is smaller than 32800 bytes";
        for (int i = 0; i < 3; i++)
            if (clash(&args[i], &args[4]))
                return i == 0   ? "zlib.deflate.stream: state overlaps src"
                       : i == 1 ? "zlib.deflate.stream: state overlaps dst"
                                : "zlib.deflate.stream: state overlaps out_size";
        if (clash(&args[0], &args[1]) || clash(&args[0], &args[2]))
            return "zlib.deflate.stream: src overlaps dst or out_size";
        if (args[0].u.mem.size / OCL_DEFLATE_SEGMENT >= UINT32_MAX)
            return "zlib.deflate.stream: src is too large";
        if (args[1].u.mem.size < deflate_need(args[0].u.mem.size) + (args[5].u.u32 ? 0 : 1))
            return "zlib.deflate.stream: dst is smaller than src.size + 5 * ceil(src.size / 65535) + 6 "
                   "(+ 1 for a piece that is not final; 5 more for an empty src)";
        return NULL;
    case FN_INFLATE_STREAM:
        if (args[2].u.mem.size < 24)
            return "zlib.inflate.stream: progress is smaller than 24 bytes";
        if (args[3].u.mem.size < 33984)
            return "zlib.inflate.stream: state is smaller than 33984 bytes";
        for (int i = 0; i < 3; i++)
            if (clash(&args[i], &args[3]))
                return i == 0   ? "zlib.inflate.stream: state overlaps src"
                       : i == 1 ? "zlib.inflate.stream: state overlaps dst"
                                : "zlib.inflate.stream: state overlaps progress";
        if (clash(&args[0], &args[1]) || clash(&args[0], &args[2]) || clash(&args[2], &args[1]))
            return "zlib.inflate.stream: src, dst and progress must not overlap";
        return NULL;
    default: return NULL;
    }
}

static cl_int set_ulong(cl_kernel k, cl_uint i, uint64_t v)
{
    cl_ulong u = v;
    return CL(clSetKernelArg)(k, i, sizeof(u), &u);
}

static cl_int set_uint(cl_kernel k, cl_uint i, cl_uint v)
{
    return CL(clSetKernelArg)(k, i, sizeof(v), &v);
}

/* crc32c: segments of at least 64 KiB, about four per compute unit, in
 * parallel, then one work-item combines them. A range of one segment takes
 * one kernel that also finishes the value: a second enqueue costs more on
 * PoCL than the combine does. */
static void submit_crc32c(batch *b, ocl_function *f, ocl_queue *q, range src, range res)
{
    if (f->kind == FN_CRC32C_STREAM)
        sync_arg(b, res, 0); /* crc32c.stream reads the state too */
    uint64_t n = src.size;
    uint64_t per = 4 * (uint64_t)q->units;
    uint64_t seglen = (n + per - 1) / per;
    if (seglen < 65536)
        seglen = 65536;
    size_t one = 1;
    cl_int err = CL_SUCCESS;
    if (n <= seglen) {
        if (!(err = set_range(f->kernel[2], 0, src, 1)))
            err = set_range(f->kernel[2], 3, res, 0);
        if (batch_fail(b, err))
            return;
        sync_arg(b, src, 0);
        enqueue_kernel(b, f->kernel[2], 1, &one, &one);
        sync_arg(b, res, 1);
        return;
    }
    size_t parts = (size_t)((n + seglen - 1) / seglen);
    cl_mem scratch = queue_scratch(q, parts * sizeof(cl_uint), &err);
    if (scratch && !(err = set_range(f->kernel[0], 0, src, 1)) &&
        !(err = set_ulong(f->kernel[0], 3, seglen)) &&
        !(err = CL(clSetKernelArg)(f->kernel[0], 4, sizeof(cl_mem), &scratch)) &&
        !(err = CL(clSetKernelArg)(f->kernel[1], 0, sizeof(cl_mem), &scratch)) &&
        !(err = set_uint(f->kernel[1], 1, (cl_uint)parts)) && !(err = set_ulong(f->kernel[1], 2, seglen)) &&
        !(err = set_ulong(f->kernel[1], 3, n)))
        err = set_range(f->kernel[1], 4, res, 0);
    if (batch_fail(b, err))
        return;
    sync_arg(b, src, 0);
    enqueue_kernel(b, f->kernel[0], 1, &parts, &one);
    enqueue_kernel(b, f->kernel[1], 1, &one, &one);
    sync_arg(b, res, 1);
}

/* zlib.deflate's and zlib.deflate.stream's n bytes of src in *nseg
 * segments, and how many of them run at a time: a few per compute unit,
 * 64 at most (each needs its workspace in the scratch buffer). */
static size_t deflate_split(const ocl_queue *q, uint64_t n, cl_uint *nseg)
{
    *nseg = n == 0 ? 1 : (cl_uint)((n + OCL_DEFLATE_SEGMENT - 1) / OCL_DEFLATE_SEGMENT);
    size_t slots = 4 * (size_t)q->units;
    if (slots > 64)
        slots = 64;
    if (slots > *nseg)
        slots = *nseg;
    return slots;
}

/* zlib.deflate: one work-item per segment at a time (deflate_split), then
 * one work-item joins the segments. */
static void submit_deflate(batch *b, ocl_function *f, ocl_queue *q, const accel_icd_arg *args)
{
    range src = arg_range(&args[0]), dst = arg_range(&args[1]), out = arg_range(&args[2]);
    cl_int level = args[3].u.i32 < 0 ? 6 : args[3].u.i32;
    uint64_t n = src.size;
    cl_uint nseg;
    size_t slots = deflate_split(q, n, &nseg);
    /* writes stay within the documented bound */
    uint64_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    if (dst.size > bound)
        dst.size = bound;
    out.size = 8;
    size_t one = 1;
    cl_int err = CL_SUCCESS;
    cl_mem scratch =
        queue_scratch(q, (4 * (size_t)nseg + slots * OCL_DEFLATE_SLOT_WORDS) * sizeof(cl_uint), &err);
    cl_kernel k0 = f->kernel[0], k1 = f->kernel[1];
    if (scratch && !(err = set_range(k0, 0, src, 1)) && !(err = set_range(k0, 3, dst, 1)) &&
        !(err = CL(clSetKernelArg)(k0, 6, sizeof(cl_mem), &scratch)) && !(err = set_uint(k0, 7, nseg)) &&
        !(err = CL(clSetKernelArg)(k0, 8, sizeof(level), &level)) && !(err = set_range(k1, 0, dst, 0)) &&
        !(err = CL(clSetKernelArg)(k1, 2, sizeof(cl_mem), &scratch)) && !(err = set_uint(k1, 3, nseg)) &&
        !(err = CL(clSetKernelArg)(k1, 4, sizeof(level), &level)))
        err = set_range(k1, 5, out, 0);
    if (batch_fail(b, err))
        return;
    sync_arg(b, src, 0);
    enqueue_kernel(b, k0, 1, &slots, &one);
    enqueue_kernel(b, k1, 1, &one, &one);
    sync_arg(b, dst, 1);
    sync_arg(b, out, 1);
}

/* Kernels that judge their arguments as they run (a corrupt stream, a
 * state no stream form wrote) write a status word, 0 when all was well,
 * into a buffer of its own; the submission's last command reads it back
 * into the fence, which fails with ACCEL_ERROR_INVALID_ARGUMENT when it is
 * not 0. status_begin makes the buffer (NULL, with b->err set, on
 * failure); status_end enqueues the read and drops the driver's reference
 * (OpenCL keeps the buffer until the commands using it are done). */
static cl_mem status_begin(batch *b, cl_context ctx)
{
    cl_int err = CL_SUCCESS;
    cl_mem status = CL(clCreateBuffer)(ctx, CL_MEM_READ_WRITE, sizeof(cl_uint), NULL, &err);
    if (!status)
        b->err = err;
    return status;
}

static void status_end(batch *b, cl_mem status, ocl_fence *fence, fn_kind kind)
{
    if (!b->err) {
        cl_event ev = NULL;
        cl_int err =
            CL(clEnqueueReadBuffer)(b->q, status, CL_FALSE, 0, sizeof(cl_uint), &fence->status, 0, NULL, &ev);
        batch_event(b, err, ev);
        if (!err) {
            fence->has_status = 1;
            fence->status_kind = kind;
        }
    }
    CL(clReleaseMemObject)(status);
}

/* zlib.inflate.stream: one work-item runs the portable inflater
 * (inflate_stream.cl) over the state, in place. */
static void submit_inflate_stream(batch *b, ocl_function *f, const accel_icd_arg *args, cl_mem status)
{
    range src = arg_range(&args[0]), dst = arg_range(&args[1]), prog = arg_range(&args[2]),
          st = arg_range(&args[3]);
    prog.size = 24;
    st.size = 33984;
    cl_kernel k = f->kernel[0];
    cl_int err;
    size_t one = 1;
    sync_arg(b, src, 0);
    sync_arg(b, st, 0);
    if (!(err = set_range(k, 0, src, 1)) && !(err = set_range(k, 3, dst, 1)) &&
        !(err = set_range(k, 6, prog, 0)) && !(err = set_range(k, 8, st, 0)))
        err = CL(clSetKernelArg)(k, 10, sizeof(cl_mem), &status);
    batch_fail(b, err);
    enqueue_kernel(b, k, 1, &one, &one);
    sync_arg(b, dst, 1);
    sync_arg(b, prog, 1);
    sync_arg(b, st, 1);
}

/* zlib.deflate.stream: zlib.deflate's segments, the first primed with the
 * state's window (staged after the workspaces in the scratch buffer), then
 * one work-item that joins them and updates the state (builtins.cl). A
 * state no zlib.deflate.stream wrote comes back through the status word. */
static void submit_deflate_stream(batch *b, ocl_function *f, ocl_queue *q, const accel_icd_arg *args,
                                  cl_mem status)
{
    range src = arg_range(&args[0]), dst = arg_range(&args[1]), out = arg_range(&args[2]),
          st = arg_range(&args[4]);
    cl_int level = args[3].u.i32 < 0 ? 6 : args[3].u.i32;
    cl_uint final = args[5].u.u32 != 0;
    uint64_t n = src.size;
    cl_uint nseg;
    size_t slots = deflate_split(q, n, &nseg);
    if (dst.size > deflate_stream_bound(n))
        dst.size = deflate_stream_bound(n);
    out.size = 8;
    st.size = 32800;
    size_t one = 1;
    size_t stage_words = (32768 + OCL_DEFLATE_SEGMENT + 3) / 4;
    cl_int err = CL_SUCCESS;
    cl_mem scratch = queue_scratch(
        q, (4 * (size_t)nseg + slots * OCL_DEFLATE_SLOT_WORDS + stage_words) * sizeof(cl_uint), &err);
    if (!scratch) {
        b->err = err;
        return;
    }
    cl_kernel k0 = f->kernel[0], k1 = f->kernel[1];
    if (!(err = set_range(k0, 0, src, 1)) && !(err = set_range(k0, 3, dst, 1)) &&
        !(err = CL(clSetKernelArg)(k0, 6, sizeof(cl_mem), &scratch)) && !(err = set_uint(k0, 7, nseg)) &&
        !(err = CL(clSetKernelArg)(k0, 8, sizeof(level), &level)) && !(err = set_range(k0, 9, st, 0)) &&
        !(err = set_uint(k0, 11, final)) && !(err = set_range(k1, 0, dst, 0)) &&
        !(err = CL(clSetKernelArg)(k1, 2, sizeof(cl_mem), &scratch)) && !(err = set_uint(k1, 3, nseg)) &&
        !(err = CL(clSetKernelArg)(k1, 4, sizeof(level), &level)) && !(err = set_range(k1, 5, out, 0)) &&
        !(err = set_range(k1, 7, st, 0)) && !(err = set_range(k1, 9, src, 1)) &&
        !(err = set_uint(k1, 12, final)))
        err = CL(clSetKernelArg)(k1, 13, sizeof(cl_mem), &status);
    batch_fail(b, err);
    sync_arg(b, src, 0);
    sync_arg(b, st, 0);
    enqueue_kernel(b, k0, 1, &slots, &one);
    enqueue_kernel(b, k1, 1, &one, &one);
    sync_arg(b, dst, 1);
    sync_arg(b, out, 1);
    sync_arg(b, st, 1);
}

/* The built-ins whose kernels judge their arguments as they run: they
 * write a status word (status_begin). */
static int writes_status(fn_kind kind)
{
    return kind == FN_INFLATE || kind == FN_SHA256_STREAM || kind == FN_DEFLATE_STREAM ||
           kind == FN_INFLATE_STREAM;
}

/* Enqueue a built-in; f->lock is held. */
static void submit_builtin(batch *b, ocl_function *f, const accel_icd_arg *args, ocl_fence *fence,
                           ocl_queue *q)
{
    cl_int err = CL_SUCCESS;
    size_t one = 1;
    cl_mem status = NULL;
    if (writes_status(f->kind) && !(status = status_begin(b, q->ctx)))
        return;
    switch (f->kind) {
    case FN_NOOP: enqueue_marker(b); break;
    case FN_COPY: {
        range src = arg_range(&args[0]), dst = arg_range(&args[1]);
        if (src.size == 0)
            break;
        sync_arg(b, src, 0);
        if (overlaps(src, dst)) {
            if (!(err = set_range(f->kernel[0], 0, src, 1)))
                err = set_range(f->kernel[0], 3, dst, 0);
            batch_fail(b, err);
            enqueue_kernel(b, f->kernel[0], 1, &one, NULL);
        } else if (!b->err) {
            cl_uint n;
            const cl_event *w = batch_wait(b, &n);
            cl_event ev = NULL;
            err =
                CL(clEnqueueCopyBuffer)(b->q, src.m->buf, dst.m->buf, src.off, dst.off, src.size, n, w, &ev);
            batch_event(b, err, ev);
        }
        dst.size = src.size;
        sync_arg(b, dst, 1);
        break;
    }
    case FN_FILL: {
        range dst = arg_range(&args[0]);
        if (dst.size == 0)
            break;
        size_t chunks = (size_t)((dst.size + 4095) / 4096);
        if (!(err = set_range(f->kernel[0], 0, dst, 1)))
            err = CL(clSetKernelArg)(f->kernel[0], 3, sizeof(cl_uint), &args[1].u.u32);
        batch_fail(b, err);
        enqueue_kernel(b, f->kernel[0], 1, &chunks, NULL);
        sync_arg(b, dst, 1);
        break;
    }
    case FN_CRC32C: {
        range res = arg_range(&args[1]);
        res.size = 4;
        submit_crc32c(b, f, q, arg_range(&args[0]), res);
        break;
    }
    case FN_SHA256: {
        range src = arg_range(&args[0]), res = arg_range(&args[1]);
        res.size = 32;
        sync_arg(b, src, 0);
        if (!(err = set_range(f->kernel[0], 0, src, 1)))
            err = set_range(f->kernel[0], 3, res, 0);
        batch_fail(b, err);
        enqueue_kernel(b, f->kernel[0], 1, &one, NULL);
        sync_arg(b, res, 1);
        break;
    }
    case FN_CRC32C_STREAM: {
        range st = arg_range(&args[1]);
        st.size = 4;
        submit_crc32c(b, f, q, arg_range(&args[0]), st);
        break;
    }
    case FN_SHA256_STREAM: {
        range src = arg_range(&args[0]), st = arg_range(&args[1]), res = arg_range(&args[2]);
        st.size = 112;
        res.size = args[3].u.u32 ? 32 : 0;
        cl_kernel k = f->kernel[0];
        sync_arg(b, src, 0);
        sync_arg(b, st, 0);
        if (!(err = set_range(k, 0, src, 1)) && !(err = set_range(k, 3, st, 0)) &&
            !(err = set_range(k, 5, res, 0)) && !(err = set_uint(k, 7, args[3].u.u32)))
            err = CL(clSetKernelArg)(k, 8, sizeof(cl_mem), &status);
        batch_fail(b, err);
        enqueue_kernel(b, k, 1, &one, NULL);
        sync_arg(b, st, 1);
        sync_arg(b, res, 1);
        break;
    }
    case FN_DEFLATE: submit_deflate(b, f, q, args); break;
    case FN_INFLATE: {
        range src = arg_range(&args[0]), dst = arg_range(&args[1]), out = arg_range(&args[2]);
        out.size = 8;
        cl_kernel k = f->kernel[0];
        cl_ulong dst_size = dst.size;
        sync_arg(b, src, 0);
        if (!(err = set_range(k, 0, src, 1)) && !(err = set_range(k, 3, dst, 0)) &&
            !(err = CL(clSetKernelArg)(k, 5, sizeof(dst_size), &dst_size)) &&
            !(err = set_range(k, 6, out, 0)))
            err = CL(clSetKernelArg)(k, 8, sizeof(cl_mem), &status);
        batch_fail(b, err);
        enqueue_kernel(b, k, 1, &one, NULL);
        sync_arg(b, dst, 1);
        sync_arg(b, out, 1);
        break;
    }
    case FN_DEFLATE_STREAM: submit_deflate_stream(b, f, q, args, status); break;
    case FN_INFLATE_STREAM: submit_inflate_stream(b, f, args, status); break;
    case FN_USER: break;
    }
    if (status)
        status_end(b, status, fence, f->kind);
}

/* Enqueue a user kernel; f->lock is held. Temporary buffers for ranges at
 * an offset go to tmp (released by the caller after enqueueing). */
static void submit_user(batch *b, ocl_function *f, const accel_icd_submit *s, ocl_queue *q, cl_mem *tmp,
                        uint32_t *ntmp)
{
    cl_kernel k = f->kernel[0];
    cl_mem used[ACCEL_MAX_ARGS];       /* host-backed ranges to keep coherent, */
    uint64_t used_off[ACCEL_MAX_ARGS]; /* at this offset in used[i] */
    cl_int err = CL_SUCCESS;
    for (uint32_t i = 0; i < f->argc && !err; i++) {
        const accel_icd_arg *a = &s->args[i];
        used[i] = NULL;
        used_off[i] = 0;
        switch (f->kinds[i]) {
        case ACCEL_ARG_MEMORY: {
            range r = arg_range(a);
            cl_mem buf = r.m->buf;
            uint64_t off = r.off;
            if (r.off != 0 && r.size != 0) {
                if (r.off % q->dev->base_align == 0) {
                    cl_buffer_region region = {r.off, r.size};
                    buf = CL(clCreateSubBuffer)(buf, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region,
                                                &err);
                } else if (r.m->host_ptr) {
                    buf = CL(clCreateBuffer)(q->ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, r.size,
                                             r.m->host_ptr + r.off, &err);
                } else {
                    OCL_LOG(ACCEL_LOG_WARN,
                            "argument %u: offset %llu of device memory is not a multiple of %u", i,
                            (unsigned long long)r.off, q->dev->base_align);
                    err = CL_MISALIGNED_SUB_BUFFER_OFFSET;
                    break;
                }
                if (!buf)
                    break;
                tmp[(*ntmp)++] = buf;
                off = 0;
            }
            if (r.m->host_ptr && r.size) {
                used[i] = buf;
                used_off[i] = off;
            }
            err = CL(clSetKernelArg)(k, i, sizeof(cl_mem), &buf);
            break;
        }
        case ACCEL_ARG_U32:
        case ACCEL_ARG_I32:
        case ACCEL_ARG_F32: err = CL(clSetKernelArg)(k, i, 4, &a->u.u32); break;
        case ACCEL_ARG_U64:
        case ACCEL_ARG_I64:
        case ACCEL_ARG_F64: err = CL(clSetKernelArg)(k, i, 8, &a->u.u64); break;
        default: err = CL_INVALID_ARG_VALUE; break;
        }
    }
    if (batch_fail(b, err))
        return;
    for (uint32_t i = 0; i < f->argc; i++)
        if (used[i])
            sync_range(b, used[i], used_off[i], s->args[i].u.mem.size, 0);
    cl_uint dim = s->work_dim ? s->work_dim : 1;
    size_t global[3] = {1, 1, 1};
    int empty = 0;
    for (cl_uint d = 0; d < dim && d < 3; d++) {
        global[d] = s->work_dim ? (size_t)s->work_size[d] : 1;
        empty |= global[d] == 0;
    }
    if (dim > 3) {
        b->err = CL_INVALID_WORK_DIMENSION;
        return;
    }
    if (empty)
        enqueue_marker(b);
    else
        enqueue_kernel(b, k, dim, global, NULL);
    for (uint32_t i = 0; i < f->argc; i++)
        if (used[i])
            sync_range(b, used[i], used_off[i], s->args[i].u.mem.size, 1);
}

/* Wait fences of another context (another device of this driver): a user
 * event of ours that completes when theirs does. */
static void CL_CALLBACK bridge_complete(cl_event ev, cl_int status, void *user)
{
    (void)ev;
    cl_event mine = user;
    CL(clSetUserEventStatus)(mine, status < 0 ? status : CL_COMPLETE);
    CL(clReleaseEvent)(mine);
}

static cl_event bridge(cl_context ctx, cl_event theirs, cl_int *err)
{
    cl_event mine = CL(clCreateUserEvent)(ctx, err);
    if (!mine)
        return NULL;
    CL(clRetainEvent)(mine); /* the callback's reference */
    if ((*err = CL(clSetEventCallback)(theirs, CL_COMPLETE, bridge_complete, mine)) != CL_SUCCESS) {
        CL(clReleaseEvent)(mine);
        CL(clReleaseEvent)(mine);
        return NULL;
    }
    return mine;
}

/* The queue's latest fence becomes f (the queue takes a reference). */
static void queue_track(ocl_queue *q, ocl_fence *f)
{
    atomic_fetch_add(&f->refs, 1);
    if (q->last)
        fence_unref(q->last);
    q->last = f;
}

static accel_result failed_fence(ocl_queue *q, accel_result why, void **out)
{
    ocl_fence *f = fence_new(q->ctx);
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    atomic_store(&f->result, why);
    if (q->error == ACCEL_SUCCESS)
        q->error = why;
    queue_track(q, f);
    *out = f;
    return ACCEL_SUCCESS;
}

accel_icd_result ocl__queue_submit(void *queue, const accel_icd_submit *s, void **out)
{
    ocl_queue *q = queue;
    ocl_function *f = s->function;
    if (!f || f->dev != q->dev || s->arg_count < f->argc || (s->wait_fence_count && !s->wait_fences))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < f->argc; i++) {
        if (s->args[i].kind != f->kinds[i])
            return ACCEL_ERROR_INVALID_ARGUMENT;
        if (f->kinds[i] == ACCEL_ARG_MEMORY) {
            const ocl_mem *m = s->args[i].u.mem.memory;
            if (!m || m->dev != q->dev || s->args[i].u.mem.offset > m->size ||
                s->args[i].u.mem.size > m->size - s->args[i].u.mem.offset)
                return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }

    /* After a failure the queue fails every later submission without
     * running it. A failure is known here once the latest fence was
     * resolved (by a wait or a status query: asking OpenCL here would cost
     * every submission an event query); submissions enqueued before that
     * still run and report their own result. */
    if (q->error == ACCEL_SUCCESS && q->last) {
        int lr = atomic_load(&q->last->result);
        if (lr < 0)
            q->error = lr;
    }
    if (q->error < 0)
        return failed_fence(q, q->error, out);

    accel_result r = ACCEL_SUCCESS;
    uint32_t nw = s->wait_fence_count;
    cl_event wait_small[8], *wait = nw <= 8 ? wait_small : calloc(nw, sizeof(*wait));
    int bridged_small[8], *bridged = nw <= 8 ? bridged_small : calloc(nw, sizeof(*bridged));
    uint32_t nlisted = 0;
    cl_mem tmp[ACCEL_MAX_ARGS];
    uint32_t ntmp = 0;
    ocl_fence *fence = fence_new(q->ctx);
    batch b = {.q = q->q};
    if (!wait || !bridged || !fence) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    if (nw && !(fence->deps = calloc(nw, sizeof(*fence->deps)))) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }

    /* Wait fences: those known to have completed drop out, those known
     * to have failed fail this submission at once, the others go on the
     * wait list (their errors reach this fence through deps). */
    for (uint32_t i = 0; i < nw; i++) {
        ocl_fence *wf = s->wait_fences[i];
        accel_result wr = atomic_load(&wf->result);
        if (wr < 0) {
            r = failed_fence(q, wr, out);
            fence_unref(fence);
            fence = NULL;
            goto out;
        }
        if (wr == ACCEL_SUCCESS)
            continue;
        cl_int err = CL_SUCCESS;
        if (wf->queue != q)
            fence_flush(wf);
        bridged[nlisted] = wf->ctx != q->ctx;
        cl_event ev = bridged[nlisted] ? bridge(q->ctx, wf->ev, &err) : wf->ev;
        if (!ev) {
            OCL_LOG(ACCEL_LOG_ERROR, "cannot wait on a fence of another device (%d)", err);
            r = ocl__result(err);
            goto out;
        }
        wait[nlisted++] = ev;
        atomic_fetch_add(&wf->refs, 1);
        fence->deps[fence->ndeps++] = wf;
    }
    b.nwait = nlisted;
    b.wait = wait;

    const char *why = f->kind == FN_USER ? NULL : builtin_check(f->kind, s->args);
    if (why) {
        OCL_LOG(ACCEL_LOG_DEBUG, "%s", why);
        atomic_store(&fence->result, ACCEL_ERROR_INVALID_ARGUMENT);
        q->error = ACCEL_ERROR_INVALID_ARGUMENT;
        queue_track(q, fence);
        *out = fence;
        fence = NULL;
        goto out;
    }

    pthread_mutex_lock(&f->lock);
    if (f->kind == FN_USER)
        submit_user(&b, f, s, q, tmp, &ntmp);
    else
        submit_builtin(&b, f, s->args, fence, q);
    pthread_mutex_unlock(&f->lock);
    if (!b.err && !b.last)
        enqueue_marker(&b); /* nothing to do (empty ranges): still ordered */
    if (b.err) {
        OCL_LOG(ACCEL_LOG_ERROR, "%s: enqueueing failed (%d)", q->dev->info.name, b.err);
        r = b.err == CL_MISALIGNED_SUB_BUFFER_OFFSET ? ACCEL_ERROR_UNSUPPORTED : ocl__result(b.err);
        if (b.last) {
            /* Part of it was enqueued: keep the fence's memory alive until
             * that part is done. */
            CL(clWaitForEvents)(1, &b.last);
            CL(clReleaseEvent)(b.last);
        }
        goto out;
    }
    atomic_fetch_add(&q->refs, 1);
    fence->queue = q;
    fence->ev = b.last;
    queue_track(q, fence);
    *out = fence;
    fence = NULL;

out:
    for (uint32_t i = 0; i < ntmp; i++)
        CL(clReleaseMemObject)(tmp[i]);
    if (wait && bridged)
        for (uint32_t i = 0; i < nlisted; i++)
            if (bridged[i])
                CL(clReleaseEvent)(wait[i]);
    if (fence)
        fence_unref(fence);
    if (wait != wait_small)
        free(wait);
    if (bridged != bridged_small)
        free(bridged);
    return r;
}
