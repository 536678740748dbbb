/* fence.c — completion of submissions, across drivers.
 *
 * A queue keeps its fences in submission order until each is final (its
 * status known and its driver fence released) and released by the
 * application. Fences become final in order ("resolution"): a queue runs in
 * order, so when a fence is complete every older one is too, and the first
 * failure of a queue decides the status of every later fence (the queue is
 * broken from then on). Resolution happens wherever someone looks: fence
 * status and wait, submission, finish.
 *
 * A submission whose wait fence failed does not run; its fence fails with
 * the wait fence's error but does not break its queue (see
 * accel__fence_finalize_dependency).
 *
 * Device timeout. A device that stops answering without reporting anything
 * (a stopped process behind it, hung firmware) must not hang its callers:
 * when the fence at the head of a queue stays pending for longer than the
 * queue's timeout (ACCEL_DEVICE_TIMEOUT_MS, read at queue creation), the
 * device is marked lost, and every pending and later fence of that device
 * fails with ACCEL_ERROR_DEVICE_LOST, as when the driver reports the loss.
 * The clock starts when the loader first sees the fence at the head of its
 * queue, so queued work does not count against it. Waiters sleep in slices
 * of at most ACCEL__LOST_POLL_NS so that a loss found by another thread
 * ends their wait too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "fence.h"
#include "os.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define ACCEL__LOST_POLL_NS 100000000u /* 100 ms */

/* "driver:index (name)" of the queue's device into f's detail, then the
 * formatted rest. */
static void set_detail(accel_queue *q, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_detail(accel_queue *q, char *buf, size_t size, const char *fmt, ...)
{
    const accel_device *d = q->device;
    int n = snprintf(buf, size, "%s:%u (%s): ", d->driver->manifest->data.driver_name, d->driver_index,
                     d->info ? d->info->name : "unnamed device");
    if (n < 0 || (size_t)n >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, size - (size_t)n, fmt, ap);
    va_end(ap);
}

void accel__queue_unref(accel_queue *q)
{
    if (atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    while (q->free_fences) {
        accel_fence *f = q->free_fences;
        q->free_fences = f->next_free;
        accel__free(f);
    }
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    accel__free(q);
}

accel_fence *accel__fence_new(accel_queue *q)
{
    accel_fence *f = q->free_fences;
    if (f)
        q->free_fences = f->next_free;
    else if (!(f = accel__malloc(sizeof(*f))))
        return NULL;
    *f = (accel_fence){0};
    /* Registered from birth (it may reach the application); retired when
     * its last reference goes, or by accel_fence_release. */
    if (accel__handle_add(f, ACCEL__HANDLE_FENCE)) {
        f->next_free = q->free_fences;
        q->free_fences = f;
        return NULL;
    }
    atomic_init(&f->refs, 1);
    atomic_init(&f->status, ACCEL_NOT_READY);
    f->queue = q;
    atomic_fetch_add(&q->refs, 1);
    return f;
}

void accel__fence_unref(accel_fence *f)
{
    if (atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    ACCEL__HANDLE_RETIRE(f, ACCEL__HANDLE_FENCE);
    accel_queue *q = f->queue;
    pthread_mutex_lock(&q->lock);
    f->next_free = q->free_fences;
    q->free_fences = f;
    pthread_mutex_unlock(&q->lock);
    accel__queue_unref(q);
}

void accel__fence_link(accel_queue *q, accel_fence *f)
{
    f->seq = ++q->next_seq;
    f->older = q->newest;
    f->newer = NULL;
    if (q->newest)
        q->newest->newer = f;
    else
        q->oldest = f;
    q->newest = f;
    atomic_fetch_add(&f->refs, 1); /* the list's reference */
}

static void unlink_fence(accel_queue *q, accel_fence *f)
{
    if (f->older)
        f->older->newer = f->newer;
    else
        q->oldest = f->newer;
    if (f->newer)
        f->newer->older = f->older;
    else
        q->newest = f->older;
    /* The list's reference is dropped by the caller after unlocking
     * (drop_list): recycling a fence takes q->lock. */
}

static void release_driver_fence(accel_queue *q, accel_fence *f)
{
    if (f->driver_fence && f->waiters == 0) {
        q->table->fence_release(f->driver_fence);
        f->driver_fence = NULL;
    }
}

/* Make f final with the driver's answer `r`, applying the queue's error.
 * A fence already final keeps its status (the deferred thread and a device
 * loss may both get to it). */
void accel__fence_finalize(accel_queue *q, accel_fence *f, accel_result r)
{
    if (atomic_load(&f->status) != ACCEL_NOT_READY) {
        release_driver_fence(q, f);
        return;
    }
    int qerr = atomic_load(&q->error);
    if (qerr != ACCEL_SUCCESS && f->seq > q->error_seq) {
        r = (accel_result)qerr;
        snprintf(f->detail, sizeof(f->detail), "%s", q->error_detail);
    } else if (r < 0) {
        if (!f->detail[0])
            set_detail(q, f->detail, sizeof(f->detail), "submission %llu failed: %s", (unsigned long long)f->seq,
                       accel_result_string(r));
        if (qerr == ACCEL_SUCCESS) {
            q->error_seq = f->seq;
            snprintf(q->error_detail, sizeof(q->error_detail), "%s", f->detail);
            atomic_store(&q->error, r);
        }
    }
    release_driver_fence(q, f);
    atomic_store(&f->status, r);
}

void accel__fence_finalize_dependency(accel_queue *q, accel_fence *f, accel_result r, const char *detail)
{
    if (atomic_load(&f->status) != ACCEL_NOT_READY) {
        release_driver_fence(q, f);
        return;
    }
    int qerr = atomic_load(&q->error);
    if (qerr != ACCEL_SUCCESS && f->seq > q->error_seq) {
        r = (accel_result)qerr;
        snprintf(f->detail, sizeof(f->detail), "%s", q->error_detail);
    } else {
        snprintf(f->detail, sizeof(f->detail), "a wait fence failed: %s", detail);
    }
    release_driver_fence(q, f);
    atomic_store(&f->status, r);
}

/* f, pending at the head of q, outlived the timeout: the device is lost.
 * Lock held. */
static void lose_device(accel_queue *q, accel_fence *f)
{
    atomic_store(&q->device->lost, true);
    set_detail(q, f->detail, sizeof(f->detail),
               "submission %llu did not complete within %llu ms (ACCEL_DEVICE_TIMEOUT_MS): the device is lost",
               (unsigned long long)f->seq, (unsigned long long)(q->timeout_ns / 1000000u));
    accel__log(&q->device->instance->logger, ACCEL_LOG_ERROR, "%s", f->detail);
    accel__fence_finalize(q, f, ACCEL_ERROR_DEVICE_LOST);
}

/* f pending on a device already lost. Lock held. */
static void fail_lost(accel_queue *q, accel_fence *f)
{
    set_detail(q, f->detail, sizeof(f->detail), "the device is lost (a submission did not complete in time)");
    accel__fence_finalize(q, f, ACCEL_ERROR_DEVICE_LOST);
}

accel_result accel__device_timeout_from_env(uint64_t *timeout_ns)
{
    const char *v = accel__getenv("ACCEL_DEVICE_TIMEOUT_MS");
    *timeout_ns = (uint64_t)ACCEL__DEVICE_TIMEOUT_DEFAULT_MS * 1000000u;
    if (!v || !*v)
        return ACCEL_SUCCESS;
    uint64_t ms;
    char why[96];
    if (!accel__parse_uint(v, 0, 0, UINT64_MAX / 1000000u, &ms, why, sizeof(why)))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "ACCEL_DEVICE_TIMEOUT_MS=%.64s is not a number of milliseconds (0: no timeout): %s", v,
                            why);
    /* Far beyond any useful value; keeps deadline sums from overflowing. */
    *timeout_ns = ms < UINT64_MAX / 4 / 1000000u ? (uint64_t)ms * 1000000u : UINT64_MAX / 4;
    return ACCEL_SUCCESS;
}

accel_result accel__driver_fence_wait(accel_queue *q, void *df, char *detail, size_t detail_size)
{
    if (!q->timeout_ns)
        return q->table->fence_wait(df, UINT64_MAX);
    uint64_t start = now_ns();
    for (;;) {
        uint64_t now = now_ns();
        bool lost = atomic_load(&q->device->lost);
        if (lost || now - start >= q->timeout_ns) {
            if (!lost) {
                atomic_store(&q->device->lost, true);
                set_detail(q, detail, detail_size,
                           "a submission did not complete within %llu ms (ACCEL_DEVICE_TIMEOUT_MS): the device is "
                           "lost",
                           (unsigned long long)(q->timeout_ns / 1000000u));
                accel__log(&q->device->instance->logger, ACCEL_LOG_ERROR, "%s", detail);
            } else
                set_detail(q, detail, detail_size, "the device is lost (a submission did not complete in time)");
            return ACCEL_ERROR_DEVICE_LOST;
        }
        uint64_t left = q->timeout_ns - (now - start);
        accel_result r = q->table->fence_wait(df, left < ACCEL__LOST_POLL_NS ? left : ACCEL__LOST_POLL_NS);
        if (r != ACCEL_TIMEOUT)
            return r;
    }
}

/* Resolve what can be resolved, oldest first; returns fences whose last
 * reference was the list's, to be unreferenced after unlocking. Lock held. */
static accel_fence *resolve_locked(accel_queue *q)
{
    accel_fence *drop = NULL;
    for (accel_fence *f = q->oldest, *next; f; f = next) {
        next = f->newer;
        int s = atomic_load(&f->status);
        if (s == ACCEL_NOT_READY && atomic_load(&q->device->lost)) {
            fail_lost(q, f);
        } else if (s == ACCEL_NOT_READY) {
            if (f->deferred || !f->driver_fence)
                break;
            accel_result r = q->table->fence_status(f->driver_fence);
            if (r == ACCEL_NOT_READY && q->timeout_ns) {
                uint64_t now = now_ns();
                if (!f->head_ns)
                    f->head_ns = now;
                else if (now - f->head_ns >= q->timeout_ns)
                    lose_device(q, f);
            }
            if (atomic_load(&f->status) == ACCEL_NOT_READY) {
                if (r == ACCEL_NOT_READY)
                    break;
                accel__fence_finalize(q, f, r);
            }
        } else if (f->driver_fence && f->waiters == 0) {
            q->table->fence_release(f->driver_fence);
            f->driver_fence = NULL;
        }
        if (f->app_released && !f->driver_fence) {
            unlink_fence(q, f);
            f->next_free = drop; /* reuse the link: not on the free list yet */
            drop = f;
        }
    }
    return drop;
}

static void drop_list(accel_fence *drop)
{
    while (drop) {
        accel_fence *f = drop;
        drop = f->next_free;
        accel__fence_unref(f);
    }
}

void accel__queue_resolve(accel_queue *q)
{
    pthread_mutex_lock(&q->lock);
    accel_fence *drop = resolve_locked(q);
    pthread_mutex_unlock(&q->lock);
    drop_list(drop);
}

accel_result accel_fence_status(accel_fence *f)
{
    ACCEL__HANDLE_USE(f, ACCEL__HANDLE_FENCE, "accel_fence_status", ACCEL_ERROR_INVALID_HANDLE);
    if (!f)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_fence_status: fence is NULL");
    int s = atomic_load(&f->status);
    if (s != ACCEL_NOT_READY)
        return (accel_result)s;
    accel__queue_resolve(f->queue);
    return (accel_result)atomic_load(&f->status);
}

/* Wait for one fence until `deadline` (UINT64_MAX: forever). */
static accel_result wait_one(accel_fence *f, uint64_t deadline)
{
    accel_queue *q = f->queue;
    for (;;) {
        int s = atomic_load(&f->status);
        if (s != ACCEL_NOT_READY)
            return (accel_result)s;
        pthread_mutex_lock(&q->lock);
        accel_fence *drop = resolve_locked(q);
        s = atomic_load(&f->status);
        /* Wait on the oldest unresolved fence: in order, f completes last. */
        accel_fence *w = q->oldest;
        while (w && atomic_load(&w->status) != ACCEL_NOT_READY)
            w = w->newer;
        if (s != ACCEL_NOT_READY || !w) {
            pthread_mutex_unlock(&q->lock);
            drop_list(drop);
            if (s == ACCEL_NOT_READY)
                return ACCEL_ERROR_DRIVER_INTERNAL; /* not in the list yet not final: cannot happen */
            return (accel_result)s;
        }
        uint64_t now = now_ns();
        if (deadline != UINT64_MAX && now >= deadline) {
            pthread_mutex_unlock(&q->lock);
            drop_list(drop);
            return ACCEL_TIMEOUT;
        }
        /* With a device timeout, wake up in slices: at the head fence's
         * timeout (resolve_locked then declares the loss), and often
         * enough to see a loss declared by another thread. */
        uint64_t until = deadline;
        if (q->timeout_ns) {
            uint64_t slice = now + ACCEL__LOST_POLL_NS;
            if (w->head_ns && !w->deferred && w->driver_fence && w->head_ns + q->timeout_ns < slice)
                slice = w->head_ns + q->timeout_ns > now ? w->head_ns + q->timeout_ns : now;
            if (slice < until)
                until = slice;
        }
        if (w->deferred || !w->driver_fence) {
            /* Completed by the deferred thread, which broadcasts. */
            if (until == UINT64_MAX) {
                pthread_cond_wait(&q->cond, &q->lock);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (until - now);
                ts.tv_sec = (time_t)(t / 1000000000u);
                ts.tv_nsec = (long)(t % 1000000000u);
                pthread_cond_timedwait(&q->cond, &q->lock, &ts);
            }
            pthread_mutex_unlock(&q->lock);
            drop_list(drop);
            continue;
        }
        void *df = w->driver_fence;
        w->waiters++;
        atomic_fetch_add(&w->refs, 1);
        pthread_mutex_unlock(&q->lock);
        drop_list(drop);
        accel_result r = q->table->fence_wait(df, until == UINT64_MAX ? UINT64_MAX : until - now);
        pthread_mutex_lock(&q->lock);
        w->waiters--;
        if (r != ACCEL_TIMEOUT && r != ACCEL_NOT_READY && atomic_load(&w->status) == ACCEL_NOT_READY &&
            w == q->oldest)
            accel__fence_finalize(q, w, r);
        pthread_mutex_unlock(&q->lock);
        accel__fence_unref(w);
        if (r == ACCEL_TIMEOUT && deadline != UINT64_MAX && now_ns() >= deadline)
            return ACCEL_TIMEOUT;
    }
}

accel_result accel__fence_wait_one(accel_fence *f, uint64_t timeout_ns)
{
    uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : now_ns() + timeout_ns;
    return wait_one(f, deadline);
}

/* The error of fences[i], final, with its detail in the last-error message. */
static accel_result fence_error(accel_fence *const *fences, uint32_t i, accel_result r)
{
    const accel_fence *f = fences[i];
    return accel__error(r, "accel_fence_wait: fences[%u]: %s", i,
                        f->detail[0] ? f->detail : accel_result_string(r));
}

accel_result accel_fence_wait(accel_fence *const *fences, uint32_t count, bool wait_all, uint64_t timeout_ns)
{
    if (accel__handle_check_array((const void *const *)fences, count, ACCEL__HANDLE_FENCE,
                                  "accel_fence_wait", "fences"))
        return ACCEL_ERROR_INVALID_HANDLE;
    if (!fences && count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_fence_wait: fences is NULL");
    for (uint32_t i = 0; i < count; i++)
        if (!fences[i])
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_fence_wait: fences[%u] is NULL", i);
    if (count == 0)
        return ACCEL_SUCCESS;
    uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : now_ns() + timeout_ns;
    if (wait_all) {
        accel_result first_error = ACCEL_SUCCESS;
        uint32_t failed = 0;
        for (uint32_t i = 0; i < count; i++) {
            accel_result r = wait_one(fences[i], deadline);
            if (r == ACCEL_TIMEOUT)
                return r;
            if (r < 0 && first_error == ACCEL_SUCCESS) {
                first_error = r;
                failed = i;
            }
        }
        return first_error == ACCEL_SUCCESS ? first_error : fence_error(fences, failed, first_error);
    }
    /* Any: poll every fence, then wait a short while on the first pending
     * one, doubling the slice up to 1 ms (fences of different drivers have
     * nothing in common to block on). */
    uint64_t slice = 20000;
    for (;;) {
        for (uint32_t i = 0; i < count; i++) {
            accel_result r = accel_fence_status(fences[i]);
            if (r != ACCEL_NOT_READY)
                return r < 0 ? fence_error(fences, i, r) : r;
        }
        uint64_t now = now_ns();
        if (deadline != UINT64_MAX && now >= deadline)
            return ACCEL_TIMEOUT;
        uint64_t until = now + slice;
        if (deadline != UINT64_MAX && until > deadline)
            until = deadline;
        accel_result r = wait_one(fences[0], until);
        if (r != ACCEL_TIMEOUT)
            return r < 0 ? fence_error(fences, 0, r) : r;
        if (slice < 1000000)
            slice *= 2;
    }
}

accel_result accel_fence_release(accel_fence *f)
{
    ACCEL__HANDLE_DESTROY(f, ACCEL__HANDLE_FENCE, "accel_fence_release", ACCEL_ERROR_INVALID_HANDLE);
    if (!f)
        return ACCEL_SUCCESS;
    accel_queue *q = f->queue;
    pthread_mutex_lock(&q->lock);
    f->app_released = true;
    pthread_mutex_unlock(&q->lock);
    accel__queue_resolve(q);
    accel__fence_unref(f);
    return ACCEL_SUCCESS;
}
