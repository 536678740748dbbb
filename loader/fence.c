/* fence.c — completion of submissions, across drivers.
 *
 * A queue keeps its fences in submission order until each is final (its
 * status known and its driver fence released) and released by the
 * application. Fences become final in order ("resolution"): a queue runs in
 * order, so when a fence is complete every older one is too, and the first
 * failure of a queue decides the status of every later fence (the queue is
 * broken from then on). Resolution happens wherever someone looks: fence
 * status and wait, submission, finish.
 */
#include <errno.h>
#include <time.h>

#include "alloc.h"
#include "fence.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* Make f final with the driver's answer `r`, applying the queue's error. */
void accel__fence_finalize(accel_queue *q, accel_fence *f, accel_result r)
{
    int qerr = atomic_load(&q->error);
    if (qerr != ACCEL_SUCCESS && f->seq > q->error_seq)
        r = (accel_result)qerr;
    else if (r < 0 && qerr == ACCEL_SUCCESS) {
        q->error_seq = f->seq;
        atomic_store(&q->error, r);
    }
    if (f->driver_fence && f->waiters == 0) {
        q->table->fence_release(f->driver_fence);
        f->driver_fence = NULL;
    }
    atomic_store(&f->status, r);
}

/* Resolve what can be resolved, oldest first; returns fences whose last
 * reference was the list's, to be unreferenced after unlocking. Lock held. */
static accel_fence *resolve_locked(accel_queue *q)
{
    accel_fence *drop = NULL;
    for (accel_fence *f = q->oldest, *next; f; f = next) {
        next = f->newer;
        int s = atomic_load(&f->status);
        if (s == ACCEL_NOT_READY) {
            if (f->deferred || !f->driver_fence)
                break;
            accel_result r = q->table->fence_status(f->driver_fence);
            if (r == ACCEL_NOT_READY)
                break;
            accel__fence_finalize(q, f, r);
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
        if (w->deferred || !w->driver_fence) {
            /* Completed by the deferred thread, which broadcasts. */
            if (deadline == UINT64_MAX) {
                pthread_cond_wait(&q->cond, &q->lock);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (deadline - now);
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
        accel_result r = q->table->fence_wait(df, deadline == UINT64_MAX ? UINT64_MAX : deadline - now);
        pthread_mutex_lock(&q->lock);
        w->waiters--;
        if (r != ACCEL_TIMEOUT && r != ACCEL_NOT_READY && atomic_load(&w->status) == ACCEL_NOT_READY &&
            w == q->oldest)
            accel__fence_finalize(q, w, r);
        pthread_mutex_unlock(&q->lock);
        accel__fence_unref(w);
        if (r == ACCEL_TIMEOUT)
            return ACCEL_TIMEOUT;
    }
}

accel_result accel__fence_wait_one(accel_fence *f, uint64_t timeout_ns)
{
    uint64_t deadline = timeout_ns == UINT64_MAX ? UINT64_MAX : now_ns() + timeout_ns;
    return wait_one(f, deadline);
}

accel_result accel_fence_wait(accel_fence *const *fences, uint32_t count, bool wait_all, uint64_t timeout_ns)
{
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
        for (uint32_t i = 0; i < count; i++) {
            accel_result r = wait_one(fences[i], deadline);
            if (r == ACCEL_TIMEOUT)
                return r;
            if (r < 0 && first_error == ACCEL_SUCCESS)
                first_error = r;
        }
        return first_error;
    }
    /* Any: poll every fence, then wait a short while on the first pending
     * one, doubling the slice up to 1 ms (fences of different drivers have
     * nothing in common to block on). */
    uint64_t slice = 20000;
    for (;;) {
        for (uint32_t i = 0; i < count; i++) {
            accel_result r = accel_fence_status(fences[i]);
            if (r != ACCEL_NOT_READY)
                return r;
        }
        uint64_t now = now_ns();
        if (deadline != UINT64_MAX && now >= deadline)
            return ACCEL_TIMEOUT;
        uint64_t until = now + slice;
        if (deadline != UINT64_MAX && until > deadline)
            until = deadline;
        accel_result r = wait_one(fences[0], until);
        if (r != ACCEL_TIMEOUT)
            return r;
        if (slice < 1000000)
            slice *= 2;
    }
}

void accel_fence_release(accel_fence *f)
{
    if (!f)
        return;
    accel_queue *q = f->queue;
    pthread_mutex_lock(&q->lock);
    f->app_released = true;
    pthread_mutex_unlock(&q->lock);
    accel__queue_resolve(q);
    accel__fence_unref(f);
}
