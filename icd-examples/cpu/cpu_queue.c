/* cpu_queue.c — in-order queues and fences.
 *
 * Each queue has one worker thread and a single-producer single-consumer
 * ring of pending fences (a fence carries its submission). queue_submit is
 * never called concurrently for one queue (driver ABI), so the producer side
 * needs no lock; the worker is the only consumer. Work runs on the worker,
 * in submission order, after the submission's wait fences complete.
 *
 * The hand-offs are built for latency, because a no-op round trip (submit,
 * wait, release) is the overhead every caller pays; it is bounded by how
 * often cache lines move between the submitting thread and the worker:
 *   - fences are recycled through a pool: no malloc in steady state;
 *   - the worker learns of a submission from one ring slot (fence pointer
 *     and sequence number together), reads the submission from the
 *     fence's first line, and completes it with one atomic operation on
 *     a word that holds both the state and the reference count;
 *   - what one side checks every time and the other writes rarely (the
 *     sleep flags, the worker's position) lives on lines of its own;
 *   - the worker spins for CPU_WORKER_SPIN_NS after its last job before
 *     sleeping on a futex, and the producer issues the wake-up system call
 *     only when the worker has announced that it sleeps;
 *   - fence_wait spins for CPU_WAIT_SPIN_NS before sleeping on the fence's
 *     state word, and the worker wakes sleepers only when there are any.
 * The "announce, then re-check" pairs use sequentially consistent atomics so
 * that one side always sees the other (no lost wake-up).
 *
 * Spinning pays only while the thread waited for runs on another CPU at
 * the same time. When both share one CPU (the process is allowed only one,
 * `taskset -c 0`, or the other CPUs are busy with other work), a spinner
 * keeps the other thread off the CPU until its spin ends or the scheduler
 * preempts it: with the worker and fence_wait spinning against each other,
 * a no-op round trip took about 40 us instead of 0.6. So no spin just
 * burns its CPU (spin_round): where the worker may run on one CPU only,
 * every round gives the CPU away (sched_yield), so that the thread waited
 * for, which then shares it, runs at once; where it may run on several,
 * the rounds pause, and give the CPU away once every CPU_SPIN_BURST rounds
 * (about half a microsecond: a no-op job completes within it when the two
 * threads do run at once), for when the thread waited for is waiting for
 * this CPU after all. sched_yield returns at once when nothing else wants
 * the CPU. The worker takes its allowed CPUs from the queue's creator (or
 * its partition) and reads them again each time it goes to sleep, so that
 * a changed affinity is seen; queue_submit passes the worker's answer on
 * to fence_wait in the fence.
 *
 * Failures. A failed submission (its function's error, a failed wait fence,
 * device loss) breaks its queue: every later submission on the queue fails
 * with the same error without running (the accel_queue_submit contract of
 * accel.h), and queue_submit still returns a fence for it. Fault injection
 * (ACCEL_CPU_FAULT_AFTER, see cpu_driver.c) marks the Nth and later
 * submissions of the driver as lost; ACCEL_CPU_HANG_AFTER makes the Nth
 * and later ones hang (a device that stops answering): a worker blocks on
 * the first of them in its queue until the queue is destroyed, then fails
 * it and every later one with ACCEL_ERROR_DEVICE_LOST. Fences may be released, and the queue
 * destroyed, while such work is pending (after the loader's device
 * timeout).
 *
 * Linux only (futex). */
#include "cpu_internal.h"
#include "accel_clock.h"
#include "accel_icd_submit.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CPU_WORKER_SPIN_NS     20000u /* worker: after its last job */
#define CPU_WAIT_SPIN_NS       10000u /* fence_wait: before sleeping */
#define CPU_SPIN_BURST         16u    /* pause rounds (about 0.5 us) between two sched_yield */
#define CPU_FENCE_INLINE_WAITS 4u
#define CPU_FENCE_CHUNK        64u

#define CPU_CACHE_LINE 64

/* The fence word: the state in the low 32 bits (also the futex word), the
 * reference count in the high 32. One word, so that the worker completes a
 * fence and drops its reference in one atomic operation: the line then
 * moves once to the waiter instead of back and forth. */
#define SR_STATE(w)          ((accel_result)(int32_t)(uint32_t)(w))
#define SR_REFS(w)           ((uint32_t)((w) >> 32))
#define SR_REF               ((uint64_t)1 << 32)
#define SR_MAKE(state, refs) ((uint64_t)(refs) << 32 | (uint32_t)(int32_t)(state))

struct cpu_fence {
    /* Line 0: what both sides touch on every submission. */
    _Alignas(CPU_CACHE_LINE) _Atomic uint64_t sr; /* state | refs << 32 */
    _Atomic uint32_t sleepers;                    /* threads in futex_wait on the state */
    uint32_t wait_count;
    const cpu_function *function;
    uint32_t arg_count;
    uint32_t work_dim;
    bool lost;       /* fault injection: fail with DEVICE_LOST */
    bool hang;       /* fault injection: block until the queue stops */
    bool pause;      /* spin_round's mode for fence_wait: the worker may use several CPUs */
    cpu_fence *next; /* in the pool */
    cpu_driver *driver;

    /* The rest of the submission, as needed: written by queue_submit
     * before the ring hand-off, read by the worker after it. References:
     * the caller's, the queue's until the work ran, one per submission
     * that waits on this fence. */
    cpu_fence **waits; /* wait_inline, or malloc()ed when there are more */
    cpu_fence *wait_inline[CPU_FENCE_INLINE_WAITS];
    uint64_t work_size[3]; /* kernels only */
    accel_icd_arg args[ACCEL_MAX_ARGS];
};

struct cpu_fence_chunk {
    struct cpu_fence_chunk *next;
    cpu_fence fences[CPU_FENCE_CHUNK];
};

/* A ring slot: the producer stores the fence, then seq = its position + 1;
 * the worker waits for that seq. No separate tail counter, so the worker
 * reads one line per submission. */
typedef struct cpu_slot {
    cpu_fence *fence;
    _Atomic uint32_t seq;
} cpu_slot;

typedef struct cpu_queue {
    cpu_device *device;
    pthread_t thread;

    /* Worker only (and read by a producer waiting for space). */
    _Alignas(CPU_CACHE_LINE) _Atomic uint32_t head; /* next position to run */
    accel_result error;                             /* the first failure; later jobs fail with it */
    cpu_scratch scratch;                            /* the built-ins' state */

    /* Producer only. */
    _Alignas(CPU_CACHE_LINE) uint32_t tail; /* next position to fill */
    uint32_t head_seen;                     /* a recent value of head */
    cpu_fence *cache;                       /* fences ready for reuse */

    /* Sleeping and waking; each flag on its own line, written only around
     * a sleep, so that the side that checks it every time hits its cache. */
    _Alignas(CPU_CACHE_LINE) _Atomic uint32_t worker_asleep;
    _Atomic uint32_t work_bell; /* futex word: rung for the worker */
    _Atomic bool several_cpus;  /* the worker may run on more than one CPU */
    _Atomic uint32_t stop;
    _Alignas(CPU_CACHE_LINE) _Atomic uint32_t producer_asleep;
    _Atomic uint32_t space_bell; /* futex word: rung for a producer waiting for space */

    _Alignas(CPU_CACHE_LINE) cpu_slot ring[CPU_RING_SIZE];
} cpu_queue;

/* ---- futex and clock ---------------------------------------------------- */

/* Sleep while *word == expected, until the absolute CLOCK_MONOTONIC
 * deadline (NULL: no deadline). Returns -1 with ETIMEDOUT on timeout;
 * spurious returns are possible, callers loop. */
static int futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
    return (int)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                        deadline, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(_Atomic uint32_t *word, int count)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, count, NULL, NULL, 0);
}

/* Whether the calling thread may run on more than one CPU (also when the
 * set is too large to read: then it surely may). */
static bool thread_has_several_cpus(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) > 1;
}

/* Round i (from 1) of a spin that ends at `until`: wait a little before the
 * caller checks again; false once the spin is over. `pause`: the thread
 * waited for may run on another CPU (see the top of the file). */
static inline bool spin_round(unsigned i, bool pause, uint64_t until)
{
    if (pause) {
        accel_cpu_relax();
        if (i % CPU_SPIN_BURST)
            return true;
    }
    if (accel_now_ns() >= until)
        return false;
    sched_yield();
    return true;
}

/* ---- the fence pool ----------------------------------------------------- */

void cpu__fence_pool_init(cpu_driver *drv)
{
    atomic_init(&drv->fence_pool, NULL);
    atomic_init(&drv->submissions, 0);
    pthread_mutex_init(&drv->chunk_lock, NULL);
    drv->chunks = NULL;
}

void cpu__fence_pool_fini(cpu_driver *drv)
{
    struct cpu_fence_chunk *c = drv->chunks;
    while (c) {
        struct cpu_fence_chunk *next = c->next;
        free(c);
        c = next;
    }
    drv->chunks = NULL;
    pthread_mutex_destroy(&drv->chunk_lock);
}

/* Push the chain first..last onto the pool. Push-only, and takers swap
 * the whole stack out, so the CAS has no ABA problem. */
static void pool_push(cpu_driver *drv, cpu_fence *first, cpu_fence *last)
{
    cpu_fence *head = atomic_load_explicit(&drv->fence_pool, memory_order_relaxed);
    do
        last->next = head;
    while (!atomic_compare_exchange_weak_explicit(&drv->fence_pool, &head, first, memory_order_release,
                                                  memory_order_relaxed));
}

/* A fence for the next submission of q (producer side only). */
static cpu_fence *fence_get(cpu_queue *q)
{
    cpu_fence *f = q->cache;
    if (!f) {
        cpu_driver *drv = q->device->driver;
        f = atomic_exchange_explicit(&drv->fence_pool, NULL, memory_order_acquire);
        if (!f) {
            struct cpu_fence_chunk *c = aligned_alloc(CPU_CACHE_LINE, sizeof(*c));
            if (!c)
                return NULL;
            memset(c, 0, sizeof(*c));
            for (unsigned i = 0; i < CPU_FENCE_CHUNK; i++) {
                c->fences[i].driver = drv;
                c->fences[i].next = i + 1 < CPU_FENCE_CHUNK ? &c->fences[i + 1] : NULL;
            }
            pthread_mutex_lock(&drv->chunk_lock);
            c->next = drv->chunks;
            drv->chunks = c;
            pthread_mutex_unlock(&drv->chunk_lock);
            f = &c->fences[0];
        }
    }
    q->cache = f->next;
    return f;
}

static void fence_recycle(cpu_fence *f)
{
    if (f->waits && f->waits != f->wait_inline)
        free(f->waits);
    f->waits = NULL;
    pool_push(f->driver, f, f);
}

static void fence_ref(cpu_fence *f)
{
    atomic_fetch_add_explicit(&f->sr, SR_REF, memory_order_relaxed);
}

static void fence_unref(cpu_fence *f)
{
    if (SR_REFS(atomic_fetch_sub_explicit(&f->sr, SR_REF, memory_order_acq_rel)) == 1)
        fence_recycle(f);
}

/* The futex word: the state half of sr. */
static _Atomic uint32_t *state_word(cpu_fence *f)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (_Atomic uint32_t *)((char *)&f->sr + 4);
#else
    return (_Atomic uint32_t *)&f->sr;
#endif
}

/* ---- fences -------------------------------------------------------------- */

/* Set the result and drop the queue's reference in one step. The state is
 * ACCEL_NOT_READY before (only the worker completes a fence, once), so
 * adding (result - NOT_READY) modulo 2^64 leaves the high half alone. */
static void fence_complete(cpu_fence *f, accel_result r)
{
    uint64_t delta = (uint64_t)(uint32_t)(int32_t)r - (uint64_t)(uint32_t)ACCEL_NOT_READY - SR_REF;
    uint64_t old = atomic_fetch_add_explicit(&f->sr, delta, memory_order_seq_cst);
    /* Sleepers announce themselves before they re-check the state (both
     * sequentially consistent): either this sees them, or they see the
     * result. If the caller released the fence meanwhile there is nobody
     * left to wake, and a wake-up on a recycled fence is harmless. */
    if (atomic_load_explicit(&f->sleepers, memory_order_seq_cst))
        futex_wake(state_word(f), INT_MAX);
    if (SR_REFS(old) == 1)
        fence_recycle(f);
}

accel_icd_result cpu__fence_status(void *fence)
{
    cpu_fence *f = fence;
    return SR_STATE(atomic_load_explicit(&f->sr, memory_order_acquire));
}

accel_icd_result cpu__fence_wait(void *fence, uint64_t timeout_ns)
{
    cpu_fence *f = fence;
    accel_result s = SR_STATE(atomic_load_explicit(&f->sr, memory_order_acquire));
    if (s != ACCEL_NOT_READY)
        return s;
    if (timeout_ns == 0)
        return ACCEL_TIMEOUT;

    uint64_t start = accel_now_ns();
    uint64_t deadline =
        timeout_ns == UINT64_MAX || timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
    uint64_t spin_until = deadline - start < CPU_WAIT_SPIN_NS ? deadline : start + CPU_WAIT_SPIN_NS;
    for (unsigned i = 1; spin_round(i, f->pause, spin_until); i++) {
        s = SR_STATE(atomic_load_explicit(&f->sr, memory_order_acquire));
        if (s != ACCEL_NOT_READY)
            return s;
    }

    struct timespec ts, *tsp = NULL;
    if (deadline != UINT64_MAX) {
        ts.tv_sec = (time_t)(deadline / 1000000000u);
        ts.tv_nsec = (long)(deadline % 1000000000u);
        tsp = &ts;
    }
    atomic_fetch_add_explicit(&f->sleepers, 1, memory_order_seq_cst);
    for (;;) {
        s = SR_STATE(atomic_load_explicit(&f->sr, memory_order_seq_cst));
        if (s != ACCEL_NOT_READY)
            break;
        if (futex_wait(state_word(f), (uint32_t)ACCEL_NOT_READY, tsp) != 0 && errno == ETIMEDOUT) {
            s = SR_STATE(atomic_load_explicit(&f->sr, memory_order_acquire));
            if (s == ACCEL_NOT_READY)
                s = ACCEL_TIMEOUT;
            break;
        }
    }
    atomic_fetch_sub_explicit(&f->sleepers, 1, memory_order_relaxed);
    return s;
}

void cpu__fence_release(void *fence)
{
    if (fence)
        fence_unref(fence);
}

/* ---- the worker ---------------------------------------------------------- */

static void run_job(cpu_queue *q, cpu_fence *f)
{
    accel_result r = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < f->wait_count; i++) {
        accel_result w = cpu__fence_wait(f->waits[i], UINT64_MAX);
        if (w != ACCEL_SUCCESS && r == ACCEL_SUCCESS)
            r = w;
        fence_unref(f->waits[i]);
    }
    if (f->hang) {
        /* A device that stopped answering: nothing completes until the
         * queue is destroyed (cpu__queue_destroy rings work_bell). */
        for (;;) {
            uint32_t bell = atomic_load_explicit(&q->work_bell, memory_order_seq_cst);
            if (atomic_load_explicit(&q->stop, memory_order_seq_cst))
                break;
            futex_wait(&q->work_bell, bell, NULL);
        }
        r = ACCEL_ERROR_DEVICE_LOST;
    } else if (f->lost)
        r = ACCEL_ERROR_DEVICE_LOST;
    else if (q->error != ACCEL_SUCCESS)
        r = q->error;
    const cpu_function *fn = f->function;
    if (r == ACCEL_SUCCESS)
        r = fn->builtin ? fn->builtin(&q->scratch, f->args)
                        : cpu__kernel_run(fn, f->args, f->work_dim, f->work_size);
    if (r != ACCEL_SUCCESS && q->error == ACCEL_SUCCESS)
        q->error = r;
    cpu_program *program = fn->program;
    fence_complete(f, r); /* f may be recycled from here on */
    if (program)
        cpu__program_release(program);
}

static bool slot_ready(cpu_queue *q, uint32_t head, memory_order order)
{
    return atomic_load_explicit(&q->ring[head % CPU_RING_SIZE].seq, order) == head + 1;
}

static void *worker_main(void *arg)
{
    cpu_queue *q = arg;
    uint32_t head = 0;
    for (;;) {
        if (slot_ready(q, head, memory_order_acquire)) {
            run_job(q, q->ring[head % CPU_RING_SIZE].fence);
            head++;
            atomic_store_explicit(&q->head, head, memory_order_seq_cst);
            if (atomic_load_explicit(&q->producer_asleep, memory_order_seq_cst)) {
                atomic_fetch_add_explicit(&q->space_bell, 1, memory_order_seq_cst);
                futex_wake(&q->space_bell, 1);
            }
            continue;
        }
        /* Nothing to do: spin a little, the next submission often follows
         * at once. */
        uint64_t spin_until = accel_now_ns() + CPU_WORKER_SPIN_NS;
        bool pause = atomic_load_explicit(&q->several_cpus, memory_order_relaxed), found = false;
        for (unsigned i = 1; !found && spin_round(i, pause, spin_until); i++)
            found = slot_ready(q, head, memory_order_relaxed);
        if (found)
            continue;
        /* About to sleep, a system call anyway: the time to see whether
         * the allowed CPUs changed. Written only when they did, so that
         * the line stays shared with the producer. */
        if (thread_has_several_cpus() != pause)
            atomic_store_explicit(&q->several_cpus, !pause, memory_order_relaxed);
        /* Sleep: announce it, then re-check, so that a producer either
         * sees the announcement or this thread sees its submission. Stop
         * only with the ring empty: every accepted submission completes. */
        atomic_store_explicit(&q->worker_asleep, 1, memory_order_seq_cst);
        uint32_t bell = atomic_load_explicit(&q->work_bell, memory_order_seq_cst);
        if (!slot_ready(q, head, memory_order_seq_cst)) {
            if (atomic_load_explicit(&q->stop, memory_order_seq_cst)) {
                atomic_store_explicit(&q->worker_asleep, 0, memory_order_relaxed);
                break;
            }
            futex_wait(&q->work_bell, bell, NULL);
        }
        atomic_store_explicit(&q->worker_asleep, 0, memory_order_relaxed);
    }
    return NULL;
}

/* ---- queues -------------------------------------------------------------- */

accel_icd_result cpu__queue_create(void *device, void **queue)
{
    if (!device || !queue)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cpu_queue *q = aligned_alloc(CPU_CACHE_LINE, sizeof(cpu_queue));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    memset(q, 0, sizeof(*q));
    q->device = device;
    q->error = ACCEL_SUCCESS;
    /* The worker inherits this thread's CPUs, or is bound to its
     * partition's. */
    atomic_init(&q->several_cpus,
                q->device->bound ? CPU_COUNT(&q->device->cores) > 1 : thread_has_several_cpus());
    int e = pthread_create(&q->thread, NULL, worker_main, q);
    if (e) {
        CPU_LOG(ACCEL_LOG_ERROR, "queue worker thread: %s", strerror(e));
        free(q);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    pthread_setname_np(q->thread, "accel-cpu-queue");
    /* A partition's work runs on its own cores only. */
    if (q->device->bound && (e = pthread_setaffinity_np(q->thread, sizeof(cpu_set_t), &q->device->cores)))
        CPU_LOG(ACCEL_LOG_WARN, "binding a queue of %s: %s", q->device->info.name, strerror(e));
    *queue = q;
    return ACCEL_SUCCESS;
}

void cpu__queue_destroy(void *queue)
{
    cpu_queue *q = queue;
    if (!q)
        return;
    atomic_store_explicit(&q->stop, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&q->work_bell, 1, memory_order_seq_cst);
    futex_wake(&q->work_bell, 1);
    pthread_join(q->thread, NULL);
    cpu__scratch_free(&q->scratch);
    if (q->cache) {
        cpu_fence *last = q->cache;
        while (last->next)
            last = last->next;
        pool_push(q->device->driver, q->cache, last);
    }
    free(q);
}

static uint64_t memory_size(const void *memory)
{
    return ((const cpu_memory *)memory)->size;
}

/* The submission's arguments against the function's signature and their
 * memory objects (accel_icd_submit.h), and a kernel's work_dim. */
static accel_result check_args(const cpu_function *fn, const accel_icd_submit *s)
{
    accel_result r = accel_submit_check_args(s, fn->arg_count, fn->arg_kinds, memory_size);
    if (r == ACCEL_SUCCESS && !fn->builtin && (s->work_dim < 1 || s->work_dim > 3))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    return r;
}

/* Wait until the ring has a free slot at q->tail. The producer reads head
 * only when its last copy says the ring is full (rare: CPU_RING_SIZE
 * submissions pending). */
static void wait_for_space(cpu_queue *q)
{
    while (q->tail - q->head_seen >= CPU_RING_SIZE) {
        q->head_seen = atomic_load_explicit(&q->head, memory_order_acquire);
        if (q->tail - q->head_seen < CPU_RING_SIZE)
            return;
        atomic_store_explicit(&q->producer_asleep, 1, memory_order_seq_cst);
        uint32_t bell = atomic_load_explicit(&q->space_bell, memory_order_seq_cst);
        if (q->tail - atomic_load_explicit(&q->head, memory_order_seq_cst) >= CPU_RING_SIZE)
            futex_wait(&q->space_bell, bell, NULL);
        atomic_store_explicit(&q->producer_asleep, 0, memory_order_relaxed);
    }
}

accel_icd_result cpu__queue_submit(void *queue, const accel_icd_submit *submit, void **fence)
{
    cpu_queue *q = queue;
    if (!q || !submit || !fence)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_icd_submit s;
    accel_submit_read(submit, &s);
    const cpu_function *fn = s.function;
    if (!fn)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result r = check_args(fn, &s);
    if (r != ACCEL_SUCCESS)
        return r;

    cpu_fence *f = fence_get(q);
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    f->wait_count = s.wait_fence_count;
    if (s.wait_fence_count) {
        f->waits = f->wait_inline;
        if (s.wait_fence_count > CPU_FENCE_INLINE_WAITS &&
            !(f->waits = malloc(s.wait_fence_count * sizeof(*f->waits)))) {
            f->next = q->cache; /* give it back unused */
            q->cache = f;
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        }
        for (uint32_t i = 0; i < s.wait_fence_count; i++) {
            f->waits[i] = s.wait_fences[i];
            fence_ref(f->waits[i]);
        }
    }
    atomic_store_explicit(&f->sr, SR_MAKE(ACCEL_NOT_READY, 2), memory_order_relaxed); /* caller + queue */
    f->function = fn;
    f->arg_count = s.arg_count;
    if (s.arg_count)
        memcpy(f->args, s.args, s.arg_count * sizeof(s.args[0]));
    if (!fn->builtin) {
        f->work_dim = s.work_dim;
        memcpy(f->work_size, s.work_size, sizeof(f->work_size));
        cpu__program_ref(fn->program);
    }
    cpu_driver *drv = q->device->driver;
    f->lost = false;
    f->hang = false;
    f->pause = atomic_load_explicit(&q->several_cpus, memory_order_relaxed);
    if (drv->fault_after || drv->hang_after) {
        uint64_t n = atomic_fetch_add_explicit(&drv->submissions, 1, memory_order_relaxed) + 1;
        f->lost = drv->fault_after && n >= drv->fault_after;
        f->hang = drv->hang_after && n >= drv->hang_after;
    }

    /* Hand over: the fence, then the slot's sequence number. */
    wait_for_space(q);
    cpu_slot *slot = &q->ring[q->tail % CPU_RING_SIZE];
    slot->fence = f;
    atomic_store_explicit(&slot->seq, q->tail + 1, memory_order_seq_cst);
    q->tail++;
    if (atomic_load_explicit(&q->worker_asleep, memory_order_seq_cst)) {
        atomic_fetch_add_explicit(&q->work_bell, 1, memory_order_seq_cst);
        futex_wake(&q->work_bell, 1);
    }
    *fence = f;
    return ACCEL_SUCCESS;
}
