/* concurrency.c — group "concurrency": several threads on one device.
 * Submissions from several threads to one queue, one queue per thread,
 * several threads waiting for and polling the same fence, live queries
 * while work runs. Threads never stop the test themselves (cmocka's
 * verdicts belong to the test thread): they record what went wrong, and
 * the test thread reports it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conformance.h"

#define THREADS 4

typedef struct worker {
    pthread_t thread;
    int index;
    accel_queue *queue;
    conf_step_fn step;
    conf_chain *chain;
    accel_fence *fence; /* a fence to wait for, or the thread's last */
    accel_device *device;
    uint32_t kind;
    _Atomic int *stop;
    char error[512];
} worker;

static void set_error(worker *w, const char *fmt, ...) CONF_PRINTF(2, 3);
static void set_error(worker *w, const char *fmt, ...)
{
    if (w->error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof(w->error), fmt, ap);
    va_end(ap);
}

static void start(conf_ctx *c, worker *w, void *(*fn)(void *))
{
    CHECK(pthread_create(&w->thread, NULL, fn, w) == 0, "cannot start a thread");
}

static void join_all(conf_ctx *c, worker *w, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(w[i].thread, NULL);
    for (int i = 0; i < n; i++)
        CHECK(!w[i].error[0], "thread %d: %s", i, w[i].error);
}

/* Each thread submits the steps of its own chain to the shared queue: the
 * queue keeps each thread's order, whatever it does between threads. */
#define PER_THREAD 16

static void *submit_chain(void *p)
{
    worker *w = p;
    for (uint32_t k = 0; k < PER_THREAD; k++) {
        accel_arg args[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&w->step, w->chain, k, args);
        accel_submit_info s = {
            .struct_size = sizeof(s), .function = w->step.fn, .args = args, .arg_count = n};
        accel_result r = accel_queue_submit(w->queue, &s, NULL);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "submission %u returned %s: %s", k, conf_rs(r), accel_last_error_message());
            break;
        }
    }
    return NULL;
}

static void test_concurrency_one_queue(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    accel_queue *q = conf_queue(c, NULL);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){
            .index = i, .queue = q, .step = f, .chain = conf_chain_new(c, PER_THREAD, 70 + (uint64_t)i)};
        conf_chain_attach(c, w[i].chain, NULL);
    }
    for (int i = 0; i < THREADS; i++)
        start(c, &w[i], submit_chain);
    join_all(c, w, THREADS);
    /* Everything submitted before this one has completed when it has. */
    conf_chain *last = conf_chain_new(c, 1, 79);
    conf_chain_attach(c, last, NULL);
    accel_arg a[CONF_CHAIN_MAX_ARGS];
    uint32_t n = conf_chain_args(&f, last, 0, a);
    conf_wait_ok(c, conf_submit_ok(c, q, f.fn, a, n, NULL, 0));
    char why[256];
    for (int t = 0; t < THREADS; t++)
        for (uint32_t k = 0; k < PER_THREAD; k++)
            CHECK(conf_chain_done(&f, w[t].chain, k, why, sizeof(why)),
                  "thread %d: %s: submissions from several threads to one queue were lost, mixed up or "
                  "reordered (rule 20)",
                  t, why);
}

static void *ordered_rounds(void *p)
{
    worker *w = p;
    char why[256];
    for (uint32_t round = 0; round < 12 && !w->error[0]; round++) {
        accel_arg args[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&w->step, w->chain, round, args);
        accel_submit_info s = {
            .struct_size = sizeof(s), .function = w->step.fn, .args = args, .arg_count = n};
        accel_fence *fence = NULL;
        accel_result r = accel_queue_submit(w->queue, &s, &fence);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "round %u: accel_queue_submit returned %s", round, conf_rs(r));
            break;
        }
        r = accel_fence_wait(&fence, 1, true, conf.wait_ns);
        accel_fence_release(fence);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "round %u: the submission ended %s", round, conf_rs(r));
            break;
        }
        if (!conf_chain_done(&w->step, w->chain, round, why, sizeof(why)))
            set_error(w, "round %u: %s (queues running at once disturbed each other) (rule 20)", round, why);
    }
    return NULL;
}

static void test_concurrency_queue_per_thread(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    uint32_t available = 0;
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &available, sizeof(available),
                          NULL));
    int n = available == ACCEL_INSTANCES_UNLIMITED || available >= THREADS ? THREADS : (int)available;
    if (n < 2)
        conf_skip(c, "unsupported: the device has %u free queue instance(s); the test needs 2", available);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.index = i, .step = f, .chain = conf_chain_new(c, 12, 80 + (uint64_t)i)};
        w[i].queue = conf_queue(c, NULL);
        conf_chain_attach(c, w[i].chain, NULL);
    }
    for (int i = 0; i < n; i++)
        start(c, &w[i], ordered_rounds);
    join_all(c, w, n);
}

static void *wait_fence(void *p)
{
    worker *w = p;
    accel_result r = accel_fence_wait(&w->fence, 1, true, conf.wait_ns);
    if (r != ACCEL_SUCCESS)
        set_error(w,
                  "accel_fence_wait from this thread returned %s, expected ACCEL_SUCCESS: fences must allow "
                  "several waiters at once (rule 20)",
                  conf_rs(r));
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *poll_fence(void *p)
{
    worker *w = p;
    double deadline = now_s() + (double)conf.wait_ns / 1e9;
    for (;;) {
        accel_result r = accel_fence_status(w->fence);
        if (r == ACCEL_SUCCESS)
            return NULL;
        if (r != ACCEL_NOT_READY) {
            set_error(w, "accel_fence_status from this thread returned %s (rule 20)", conf_rs(r));
            return NULL;
        }
        if (now_s() > deadline) {
            set_error(w, "the fence stayed NOT_READY for %llu s (rule 20)",
                      (unsigned long long)(conf.wait_ns / 1000000000u));
            return NULL;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

static void test_concurrency_fence_waiters(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    conf_chain *ch = conf_chain_new(c, 32, 71);
    conf_chain_attach(c, ch, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_fence *last = NULL;
    for (uint32_t i = 0; i < 32; i++) {
        accel_arg a[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&f, ch, i, a);
        last = conf_submit_ok(c, q, f.fn, a, n, NULL, 0);
    }
    worker w[THREADS + 2];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS + 2; i++) {
        w[i] = (worker){.index = i, .fence = last};
        start(c, &w[i], i < THREADS ? wait_fence : poll_fence);
    }
    join_all(c, w, THREADS + 2);
    EXPECT(accel_fence_status(last), ACCEL_SUCCESS);
    char why[256];
    for (uint32_t i = 0; i < 32; i++)
        CHECK(conf_chain_done(&f, ch, i, why, sizeof(why)), "the waiters returned, but %s (rule 20)", why);
}

static void *query_loop(void *p)
{
    worker *w = p;
    for (int i = 0; i < 2000 && !atomic_load(w->stop); i++) {
        uint32_t kind = 0;
        size_t size = 0;
        accel_result r = accel_device_query(w->device, ACCEL_DEVICE_PARAM_KIND, &kind, sizeof(kind), &size);
        if (r != ACCEL_SUCCESS || kind != w->kind || size != sizeof(kind)) {
            set_error(w,
                      "query %d: device_query(KIND) returned %s, kind %u, size %zu while work ran (rule 16)",
                      i, conf_rs(r), kind, size);
            return NULL;
        }
    }
    return NULL;
}

static void test_concurrency_query_while_busy(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    conf_chain *ch = conf_chain_new(c, 32, 72);
    conf_chain_attach(c, ch, NULL);
    accel_queue *q = conf_queue(c, NULL);
    _Atomic int stop = 0;
    worker w[2];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){.index = i, .device = c->dev, .kind = (uint32_t)c->d->info.kind, .stop = &stop};
        start(c, &w[i], query_loop);
    }
    accel_fence *last = NULL;
    accel_result r = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < 32 && r == ACCEL_SUCCESS; i++) {
        accel_arg a[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&f, ch, i, a);
        last = NULL;
        r = conf_submit(c, q, f.fn, a, n, NULL, 0, &last);
    }
    if (r == ACCEL_SUCCESS)
        r = accel_fence_wait(&last, 1, true, conf.wait_ns);
    atomic_store(&stop, 1);
    join_all(c, w, 2);
    CHECK(r == ACCEL_SUCCESS, "the submissions ended %s while other threads queried the device", conf_rs(r));
}

static const conf_test_def concurrency_tests[] = {
    {"one_queue", test_concurrency_one_queue},
    {"queue_per_thread", test_concurrency_queue_per_thread},
    {"fence_waiters", test_concurrency_fence_waiters},
    {"query_while_busy", test_concurrency_query_while_busy},
};

const conf_group_def conf_group_concurrency = {
    .name = "concurrency",
    .title = "concurrency",
    .tests = CONF_TESTS(concurrency),
};
