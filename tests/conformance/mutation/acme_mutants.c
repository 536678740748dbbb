/* acme_mutants.c — the tutorial driver (conformance/tutorial/acme.c, the
 * guide's code, unchanged) with one planted bug each, to show that
 * accel-conformance catches them (tests/conformance/meson.build builds one
 * library per mutant, test_conformance.c's "mutant" mode runs the suite
 * over it and checks that the expected test fails for the planted reason).
 *
 * The tutorial's source is included as it is; this file replaces entries of
 * its function table (accel_icd_negotiate is renamed on the way in, and the
 * one below hands out a patched copy of the tutorial's table). Switches:
 *
 *   MUT_ASYNC           queues run on a worker thread, fences complete when
 *                       the work is done (a device that computes
 *                       asynchronously), with a fault hook ACME_FAULT_AFTER
 *                       (docs/conformance.md, "Fault hooks"). Without a bug
 *                       switch this is a conformant driver.
 *   MUT_ONLY_CRC32C     the device offers crc32c and nothing else (a
 *                       fixed-function device). Conformant on its own.
 *   MUT_<BUG>           one planted bug; the list, and the test of the suite
 *                       that catches each, is in docs/conformance.md
 *                       ("Mutation test") and test_conformance.c. */
#define accel_icd_negotiate acme_tutorial_negotiate
#include "acme.c"
#undef accel_icd_negotiate

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n);

/* ---- functions ---- */

static unsigned char *mut_bytes(const accel_icd_arg *a)
{
    const struct acme_memory *m = a->u.mem.memory;
#ifdef MUT_IGNORE_OFFSET
    return m->bytes; /* BUG: the argument's offset is dropped */
#else
    return m->bytes + a->u.mem.offset;
#endif
}

static accel_icd_result mut_copy(const accel_icd_arg *a)
{
#ifndef MUT_COPY_UNCHECKED
    if (a[1].u.mem.size < a[0].u.mem.size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
#endif
    /* BUG (MUT_COPY_UNCHECKED): a destination that is too small is
     * overrun instead of refused. */
    memmove(mut_bytes(&a[1]), mut_bytes(&a[0]), a[0].u.mem.size);
    return ACCEL_SUCCESS;
}

static accel_icd_result mut_fill(const accel_icd_arg *a)
{
    unsigned char *dst = mut_bytes(&a[0]);
    uint32_t pattern = a[1].u.u32;
    uint64_t n = a[0].u.mem.size;
#ifdef MUT_FILL_OVERRUN
    /* BUG: one byte past the end of the range (within the memory object) */
    if (a[0].u.mem.offset + n < ((const struct acme_memory *)a[0].u.mem.memory)->size)
        n++;
#endif
    for (uint64_t i = 0; i < n; i++)
        dst[i] = (unsigned char)(pattern >> (8 * (i % 4)));
    return ACCEL_SUCCESS;
}

static accel_icd_result mut_crc32c(const accel_icd_arg *a)
{
#ifdef MUT_CRASH
    /* BUG: a wild pointer; the process dies of SIGSEGV. */
    volatile const unsigned char *volatile wild = NULL;
    if (a[0].u.mem.size > 0)
        return wild[a[0].u.mem.size] ? ACCEL_SUCCESS : ACCEL_ERROR_DRIVER_INTERNAL;
#endif
#ifdef MUT_CRC_NO_FINAL_XOR
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    const unsigned char *src = mut_bytes(&a[0]);
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < a[0].u.mem.size; i++) {
        crc ^= src[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    /* BUG: the final XOR is left out */
    unsigned char *out = mut_bytes(&a[1]);
    for (int k = 0; k < 4; k++)
        out[k] = (unsigned char)(crc >> (8 * k));
    return ACCEL_SUCCESS;
#else
    return run_crc32c(a);
#endif
}

/* The tutorial's functions with the runs above. */
static struct acme_function mut_functions[sizeof(functions) / sizeof(functions[0])];

static void mut_functions_init(void)
{
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        mut_functions[i] = functions[i];
        if (strcmp(functions[i].name, "accel.copy") == 0)
            mut_functions[i].run = mut_copy;
        else if (strcmp(functions[i].name, "accel.fill") == 0)
            mut_functions[i].run = mut_fill;
        else if (strcmp(functions[i].name, "crc32c") == 0)
            mut_functions[i].run = mut_crc32c;
    }
}

static accel_icd_result mut_function_get(void *device, void *program, const char *name, void **function,
                                         accel_icd_function_info *info)
{
#ifdef MUT_ONLY_CRC32C
    if (strcmp(name, "crc32c") != 0)
        return ACCEL_ERROR_NOT_FOUND;
#endif
    accel_icd_result r = acme_function_get(device, program, name, function, info);
#ifdef MUT_ANY_NAME
    /* BUG: a name the device does not know gets accel.noop. */
    if (r == ACCEL_ERROR_NOT_FOUND && !program)
        r = acme_function_get(device, program, "accel.noop", function, info);
#endif
    if (r == ACCEL_SUCCESS)
        *function = &mut_functions[(const struct acme_function *)*function - functions];
    return r;
}

/* ---- devices ---- */

static accel_icd_result mut_enumerate(void *handle, uint32_t *count, void **devices)
{
#ifdef MUT_CRASH_ENUMERATE
    /* BUG: a wild pointer while the devices are listed. */
    volatile uint32_t *volatile wild = NULL;
    if (count)
        *count = *wild;
#endif
    return acme_enumerate(handle, count, devices);
}

/* ---- device description ---- */

static accel_icd_result mut_get_info(void *device, accel_icd_device_info *info)
{
#ifdef MUT_INFO_IGNORES_SIZE
    /* BUG: the driver's whole struct, whatever the loader's holds. */
    const struct acme_device *d = device;
    uint32_t size = info->struct_size;
    memcpy(info, &d->info, sizeof(*info));
    info->struct_size = size;
    return ACCEL_SUCCESS;
#else
    return acme_get_info(device, info);
#endif
}

static accel_icd_result mut_query(void *device, accel_device_param param, void *value, size_t size,
                                  size_t *size_ret)
{
#ifdef MUT_QUERY_NUMA
    /* BUG: the live NUMA node is not the one the device info gives (-1). */
    if (param == ACCEL_DEVICE_PARAM_NUMA_NODE) {
        int32_t node = 0;
        return put_value(&node, sizeof(node), value, size, size_ret);
    }
#endif
#ifdef MUT_QUERY_IGNORES_SIZE
    /* BUG: the value is written whatever room the caller gave. */
    if (value && param == ACCEL_DEVICE_PARAM_KIND) {
        uint32_t kind = (uint32_t)((const struct acme_device *)device)->info.kind;
        memcpy(value, &kind, sizeof(kind));
        if (size_ret)
            *size_ret = sizeof(kind);
        return ACCEL_SUCCESS;
    }
#endif
    return acme_query(device, param, value, size, size_ret);
}

/* ---- memory ---- */

static void mut_detach(void *device, void *memory)
{
    void *volatile again = memory;
    acme_detach(device, memory);
#ifdef MUT_DOUBLE_FREE
    free(again); /* BUG: freed twice; glibc aborts the process */
#else
    (void)again;
#endif
}

/* ---- queues: the tutorial's, or a worker thread (MUT_ASYNC) ---- */

/* The loader resolves every wait itself and passes no wait fences in
 * interface 1.x (accel_icd.h): a submission that carries some fails, so
 * that the bug-free variants, whose waits the suite tests, show it. */
static accel_icd_result check_no_wait_fences(const accel_icd_submit *s)
{
    if (s->wait_fence_count || s->wait_fences) {
        LOG(ACCEL_LOG_ERROR, "queue_submit got %u wait fences; interface 1.x passes none",
            s->wait_fence_count);
        return ACCEL_ERROR_DRIVER_INTERNAL;
    }
    return ACCEL_SUCCESS;
}

#ifndef MUT_ASYNC

static accel_icd_result mut_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    if (check_no_wait_fences(s) != ACCEL_SUCCESS)
        return ACCEL_ERROR_DRIVER_INTERNAL;
#ifdef MUT_FORGETS_FAILURE
    /* BUG: a failed submission does not break the queue. */
    accel_icd_result r = acme_submit(queue, s, fence);
    ((struct acme_queue *)queue)->error = ACCEL_SUCCESS;
    return r;
#else
    return acme_submit(queue, s, fence);
#endif
}

#else /* MUT_ASYNC */

#if defined(MUT_TWO_WORKERS)
#define WORKERS 2 /* BUG: two threads take work from one queue: no order */
#else
#define WORKERS 1
#endif

struct mut_fence {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    accel_icd_result result;
    atomic_int refs; /* the loader's and the queue's */
};

struct mut_job {
    struct mut_job *next;
    const struct acme_function *function;
    accel_icd_arg args[ACCEL_MAX_ARGS];
    struct mut_fence *fence;
    uint64_t number; /* of the process's submissions, from 1 */
    bool lost;
};

struct mut_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct mut_job *head, *tail;
    bool stop;
    accel_icd_result error; /* the first failure: the queue runs nothing more */
    uint64_t submissions;   /* MUT_LOSS_ONE_QUEUE counts per queue */
    pthread_t workers[WORKERS];
};

#ifdef MUT_LOSS_WRONG_ERROR
#define LOST_ERROR ACCEL_ERROR_DRIVER_INTERNAL /* BUG: the loss is reported as another error */
#else
#define LOST_ERROR ACCEL_ERROR_DEVICE_LOST
#endif

static uint64_t fault_after; /* ACME_FAULT_AFTER: the first lost submission */
static atomic_uint_fast64_t submissions;

static accel_icd_result mut_init(const accel_icd_init_info *init, void **handle)
{
    const char *v = getenv("ACME_FAULT_AFTER");
    fault_after = v ? strtoull(v, NULL, 10) : 0;
    atomic_store(&submissions, 0);
    return acme_init(init, handle);
}

static void fence_unref(struct mut_fence *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f);
    }
}

static void fence_complete(struct mut_fence *f, accel_icd_result r)
{
    pthread_mutex_lock(&f->lock);
    if (f->result == ACCEL_NOT_READY)
        f->result = r;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

/* Device time: a few hundred microseconds per submission, so that work
 * is still queued when the application looks. */
static void device_time(uint64_t number)
{
    struct timespec ts = {0, (long)(200000 + 300000 * (number % 3))};
    nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
    struct mut_queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cond, &q->lock);
        struct mut_job *j = q->head;
        if (!j) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        accel_icd_result r = q->error;
        pthread_mutex_unlock(&q->lock);
#ifdef MUT_EARLY_FENCE
        fence_complete(j->fence, ACCEL_SUCCESS); /* BUG: done before the work ran */
#endif
        device_time(j->number);
        if (r == ACCEL_SUCCESS)
            r = j->lost ? LOST_ERROR : j->function->run(j->args);
        pthread_mutex_lock(&q->lock);
        if (r != ACCEL_SUCCESS && q->error == ACCEL_SUCCESS)
            q->error = r;
        pthread_mutex_unlock(&q->lock);
        fence_complete(j->fence, r);
        fence_unref(j->fence);
        free(j);
    }
}

static accel_icd_result mut_queue_create(void *device, void **queue)
{
    (void)device;
    struct mut_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    int started = 0;
    while (started < WORKERS && pthread_create(&q->workers[started], NULL, worker, q) == 0)
        started++;
    if (started < WORKERS) {
        pthread_mutex_lock(&q->lock);
        q->stop = true;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        for (int i = 0; i < started; i++)
            pthread_join(q->workers[i], NULL);
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    *queue = q;
    return ACCEL_SUCCESS;
}

static void mut_queue_destroy(void *queue)
{
    struct mut_queue *q = queue;
    pthread_mutex_lock(&q->lock);
    q->stop = true; /* the workers finish what is queued, then end */
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(q->workers[i], NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}

static accel_icd_result mut_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    struct mut_queue *q = queue;
    if (check_no_wait_fences(s) != ACCEL_SUCCESS)
        return ACCEL_ERROR_DRIVER_INTERNAL;
    struct mut_fence *f = calloc(1, sizeof(*f));
    struct mut_job *j = calloc(1, sizeof(*j));
    if (!f || !j) {
        free(f);
        free(j);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&f->lock, NULL);
    f->result = ACCEL_NOT_READY;
    atomic_init(&f->refs, 2);
    j->function = s->function;
    if (s->arg_count)
        memcpy(j->args, s->args, s->arg_count * sizeof(*s->args));
    j->fence = f;
    j->number = atomic_fetch_add(&submissions, 1) + 1;
    pthread_mutex_lock(&q->lock);
#ifdef MUT_LOSS_ONE_QUEUE
    /* BUG: the loss is counted per queue: a new queue works again. */
    j->lost = fault_after && ++q->submissions >= fault_after;
#else
    j->lost = fault_after && j->number >= fault_after;
#endif
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    *fence = f;
    return ACCEL_SUCCESS;
}

static accel_icd_result mut_fence_status(void *fence)
{
    struct mut_fence *f = fence;
    pthread_mutex_lock(&f->lock);
    accel_icd_result r = f->result;
    pthread_mutex_unlock(&f->lock);
    return r;
}

static accel_icd_result mut_fence_wait(void *fence, uint64_t timeout_ns)
{
    struct mut_fence *f = fence;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ns != UINT64_MAX) {
        uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
        deadline.tv_sec += (time_t)(timeout_ns / 1000000000u + ns / 1000000000u);
        deadline.tv_nsec = (long)(ns % 1000000000u);
    }
    pthread_mutex_lock(&f->lock);
    while (f->result == ACCEL_NOT_READY && timeout_ns) {
        if (timeout_ns == UINT64_MAX)
            pthread_cond_wait(&f->cond, &f->lock);
        else if (pthread_cond_timedwait(&f->cond, &f->lock, &deadline) == ETIMEDOUT)
            break;
    }
    accel_icd_result r = f->result;
    pthread_mutex_unlock(&f->lock);
    if (r == ACCEL_NOT_READY) {
#ifdef MUT_TIMEOUT_SUCCEEDS
        return ACCEL_SUCCESS; /* BUG: a wait that timed out reports success */
#else
        return ACCEL_TIMEOUT;
#endif
    }
    return r;
}

static void mut_fence_release(void *fence)
{
    fence_unref(fence);
}

#endif /* MUT_ASYNC */

/* ---- the table ---- */

static accel_icd_table mut_table;

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    accel_icd_result r = acme_tutorial_negotiate(n);
    if (r != ACCEL_SUCCESS)
        return r;
    if (!mut_table.struct_size) {
        mut_functions_init();
        mut_table = acme_table;
        mut_table.enumerate_devices = mut_enumerate;
        mut_table.function_get = mut_function_get;
        mut_table.device_get_info = mut_get_info;
        mut_table.device_query = mut_query;
        mut_table.memory_detach = mut_detach;
        mut_table.queue_submit = mut_submit;
#ifdef MUT_ASYNC
        mut_table.driver_init = mut_init;
        mut_table.queue_create = mut_queue_create;
        mut_table.queue_destroy = mut_queue_destroy;
        mut_table.fence_status = mut_fence_status;
        mut_table.fence_wait = mut_fence_wait;
        mut_table.fence_release = mut_fence_release;
#endif
    }
    n->table = &mut_table;
    return ACCEL_SUCCESS;
}
