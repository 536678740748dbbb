/* fake_queue.h — the fences and in-order queues the test drivers that run
 * work share (tests/fake/fake_exec.c, tests/conformance/conf_fake.c).
 * Header-only: each driver is one source built in several variants.
 *
 * A queue is served by one worker thread, in order. A driver's job starts
 * with an fq_job; the driver runs it (its run callback, given the error the
 * queue has already failed with, if any), the worker completes the job's
 * fence with the result and, after a failure, hands every later job of the
 * queue that first error. A fence is shared by the caller and the job
 * (two references); the last reference frees it. */
#ifndef ACCEL_FAKE_QUEUE_H
#define ACCEL_FAKE_QUEUE_H

#include <accel/accel_icd.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct fq_fence {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    accel_result result;
    int waiters;
    atomic_int refs;
} fq_fence;

typedef struct fq_job {
    struct fq_job *next;
    fq_fence *fence;
} fq_job;

typedef struct fq_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fq_job *head, *tail;
    bool stop;
    accel_result error;
    pthread_t thread;
    /* The job's result; queue_error is the queue's first failure (or
     * ACCEL_SUCCESS), which a driver normally returns without running. */
    accel_result (*run)(fq_job *job, accel_result queue_error);
    /* Frees the job (not its fence). */
    void (*release)(fq_job *job);
} fq_queue;

/* A fence not yet done, with the caller's and the job's references; NULL
 * when out of memory. */
static inline fq_fence *fq_fence_new(void)
{
    fq_fence *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    atomic_init(&f->refs, 2);
    return f;
}

static inline void fq_fence_unref(fq_fence *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1) {
        pthread_mutex_destroy(&f->lock);
        pthread_cond_destroy(&f->cond);
        free(f);
    }
}

static inline void fq_fence_complete(fq_fence *f, accel_result r)
{
    pthread_mutex_lock(&f->lock);
    f->done = true;
    f->result = r;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

static inline accel_result fq_fence_status(fq_fence *f)
{
    pthread_mutex_lock(&f->lock);
    accel_result r = f->done ? f->result : ACCEL_NOT_READY;
    pthread_mutex_unlock(&f->lock);
    return r;
}

/* Waits up to timeout_ns (UINT64_MAX: for ever). one_waiter_only makes a
 * second waiter of a fence not yet done fail at once with
 * ACCEL_ERROR_DRIVER_INTERNAL (a deliberately broken driver). */
static inline accel_result fq_fence_wait(fq_fence *f, uint64_t timeout_ns, bool one_waiter_only)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    pthread_mutex_lock(&f->lock);
    if (one_waiter_only && !f->done && f->waiters > 0) {
        pthread_mutex_unlock(&f->lock);
        return ACCEL_ERROR_DRIVER_INTERNAL;
    }
    f->waiters++;
    while (!f->done) {
        if (timeout_ns == UINT64_MAX)
            pthread_cond_wait(&f->cond, &f->lock);
        else if (pthread_cond_timedwait(&f->cond, &f->lock, &ts) == ETIMEDOUT)
            break;
    }
    f->waiters--;
    accel_result r = f->done ? f->result : ACCEL_TIMEOUT;
    pthread_mutex_unlock(&f->lock);
    return r;
}

/* The fence's result once done, however long that takes; not counted as a
 * waiter (for a job waiting on another's fence). */
static inline accel_result fq_fence_result(fq_fence *f)
{
    pthread_mutex_lock(&f->lock);
    while (!f->done)
        pthread_cond_wait(&f->cond, &f->lock);
    accel_result r = f->result;
    pthread_mutex_unlock(&f->lock);
    return r;
}

static inline void *fq_worker(void *arg)
{
    fq_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stop)
            pthread_cond_wait(&q->cond, &q->lock);
        fq_job *j = q->head;
        if (!j)
            break;
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        accel_result err = q->error;
        pthread_mutex_unlock(&q->lock);
        accel_result r = q->run(j, err);
        pthread_mutex_lock(&q->lock);
        if (r < 0 && q->error == ACCEL_SUCCESS)
            q->error = r; /* a failed queue runs nothing more */
        pthread_mutex_unlock(&q->lock);
        fq_fence *f = j->fence;
        fq_fence_complete(f, r);
        q->release(j);
        fq_fence_unref(f);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* A queue with its worker running; NULL when out of memory or threads. */
static inline fq_queue *fq_queue_create(accel_result (*run)(fq_job *, accel_result),
                                        void (*release)(fq_job *))
{
    fq_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->run = run;
    q->release = release;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->cond, NULL);
    if (pthread_create(&q->thread, NULL, fq_worker, q) != 0) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
        free(q);
        return NULL;
    }
    return q;
}

/* Stops the worker after the jobs already queued, and frees the queue. */
static inline void fq_queue_destroy(fq_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->stop = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->thread, NULL);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q);
}

/* Appends a job (its fence set) to the queue and wakes the worker. */
static inline void fq_queue_push(fq_queue *q, fq_job *j)
{
    pthread_mutex_lock(&q->lock);
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

#endif
