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
    accel_function *copy, *fill;
    accel_memory *src, *dst, *work;
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

#define SLOT       256
#define PER_THREAD 16

static void *submit_copies(void *p)
{
    worker *w = p;
    for (int k = 0; k < PER_THREAD; k++) {
        accel_arg args[2] = {
            conf_mem_arg(w->src, (uint64_t)w->index * SLOT, SLOT),
            conf_mem_arg(w->dst, ((uint64_t)w->index * PER_THREAD + (uint64_t)k) * SLOT, SLOT)};
        accel_submit_info s = {.struct_size = sizeof(s), .function = w->copy, .args = args, .arg_count = 2};
        accel_result r = accel_queue_submit(w->queue, &s, NULL);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "submission %d returned %s: %s", k, conf_rs(r), accel_last_error_message());
            break;
        }
    }
    return NULL;
}

static void test_concurrency_one_queue(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_memory *src = conf_alloc(c, THREADS * SLOT), *dst = conf_alloc(c, THREADS * PER_THREAD * SLOT);
    unsigned char *s = conf_map(c, src), *d = conf_map(c, dst);
    conf_fill_random(s, THREADS * SLOT, 70);
    conf_attach(c, src, NULL);
    conf_attach(c, dst, NULL);
    accel_queue *q = conf_queue(c, NULL);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.index = i, .queue = q, .copy = copy, .src = src, .dst = dst};
        start(c, &w[i], submit_copies);
    }
    join_all(c, w, THREADS);
    /* Everything submitted before this one has completed when it has. */
    accel_arg last[2] = {conf_mem_arg(src, 0, 1), conf_mem_arg(src, 0, 1)};
    conf_wait_ok(c, conf_submit_ok(c, q, copy, last, 2, NULL, 0));
    for (int t = 0; t < THREADS; t++)
        for (int k = 0; k < PER_THREAD; k++) {
            long bad = conf_first_difference(d + ((size_t)t * PER_THREAD + (size_t)k) * SLOT,
                                             s + (size_t)t * SLOT, SLOT);
            CHECK(bad < 0,
                  "thread %d's copy %d is wrong at byte %ld: submissions from several threads to one queue "
                  "were lost or mixed up (rule 20)",
                  t, k, bad);
        }
}

static void *ordered_rounds(void *p)
{
    worker *w = p;
    unsigned char *out = NULL;
    if (accel_memory_map(w->dst, (void **)&out) != ACCEL_SUCCESS) {
        set_error(w, "accel_memory_map failed");
        return NULL;
    }
    for (uint32_t round = 1; round <= 12 && !w->error[0]; round++) {
        uint32_t value = (uint32_t)w->index << 24 | round;
        accel_arg f[2] = {conf_mem_arg(w->work, 0, 16384), conf_u32_arg(value)};
        accel_arg cp[2] = {conf_mem_arg(w->work, 0, 4), conf_mem_arg(w->dst, 4 * round, 4)};
        accel_submit_info fs = {.struct_size = sizeof(fs), .function = w->fill, .args = f, .arg_count = 2};
        accel_submit_info cs = {.struct_size = sizeof(cs), .function = w->copy, .args = cp, .arg_count = 2};
        accel_fence *fence = NULL;
        accel_result r = accel_queue_submit(w->queue, &fs, NULL);
        if (r == ACCEL_SUCCESS)
            r = accel_queue_submit(w->queue, &cs, &fence);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "round %u: accel_queue_submit returned %s", round, conf_rs(r));
            break;
        }
        r = accel_fence_wait(&fence, 1, true, conf.wait_ns);
        accel_fence_release(fence);
        if (r != ACCEL_SUCCESS) {
            set_error(w, "round %u: the copy ended %s", round, conf_rs(r));
            break;
        }
        uint32_t got = (uint32_t)out[4 * round] | (uint32_t)out[4 * round + 1] << 8 |
                       (uint32_t)out[4 * round + 2] << 16 | (uint32_t)out[4 * round + 3] << 24;
        if (got != value)
            set_error(w,
                      "round %u: read 0x%08x, expected 0x%08x (queues running at once disturbed each other) (rule 20)",
                      round, got, value);
    }
    return NULL;
}

static void test_concurrency_queue_per_thread(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_function *fill = conf_need_builtin(c, NULL, "accel.fill");
    uint32_t available = 0;
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &available, sizeof(available),
                          NULL));
    int n = available == ACCEL_INSTANCES_UNLIMITED || available >= THREADS ? THREADS : (int)available;
    if (n < 2)
        conf_skip(c, "unsupported: the device has %u free queue instance(s); the test needs 2", available);
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.index = i, .copy = copy, .fill = fill};
        w[i].queue = conf_queue(c, NULL);
        w[i].work = conf_alloc(c, 16384);
        w[i].dst = conf_alloc(c, 4 * 13);
        conf_attach(c, w[i].work, NULL);
        conf_attach(c, w[i].dst, NULL);
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
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const uint64_t size = 64 * 1024;
    accel_memory *a = conf_alloc(c, size), *b = conf_alloc(c, size);
    conf_attach(c, a, NULL);
    conf_attach(c, b, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_arg args[2] = {conf_mem_arg(a, 0, size), conf_mem_arg(b, 0, size)};
    accel_fence *last = NULL;
    for (int i = 0; i < 32; i++)
        last = conf_submit_ok(c, q, copy, args, 2, NULL, 0);
    worker w[THREADS + 2];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS + 2; i++) {
        w[i] = (worker){.index = i, .fence = last};
        start(c, &w[i], i < THREADS ? wait_fence : poll_fence);
    }
    join_all(c, w, THREADS + 2);
    EXPECT(accel_fence_status(last), ACCEL_SUCCESS);
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
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const uint64_t size = 64 * 1024;
    accel_memory *a = conf_alloc(c, size), *b = conf_alloc(c, size);
    conf_attach(c, a, NULL);
    conf_attach(c, b, NULL);
    accel_queue *q = conf_queue(c, NULL);
    _Atomic int stop = 0;
    worker w[2];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){.index = i, .device = c->dev, .kind = (uint32_t)c->d->info.kind, .stop = &stop};
        start(c, &w[i], query_loop);
    }
    accel_arg args[2] = {conf_mem_arg(a, 0, size), conf_mem_arg(b, 0, size)};
    accel_fence *last = NULL;
    accel_result r = ACCEL_SUCCESS;
    for (int i = 0; i < 32 && r == ACCEL_SUCCESS; i++) {
        last = NULL;
        r = conf_submit(c, q, copy, args, 2, NULL, 0, &last);
    }
    if (r == ACCEL_SUCCESS)
        r = accel_fence_wait(&last, 1, true, conf.wait_ns);
    atomic_store(&stop, 1);
    join_all(c, w, 2);
    CHECK(r == ACCEL_SUCCESS, "the copies ended %s while other threads queried the device", conf_rs(r));
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
