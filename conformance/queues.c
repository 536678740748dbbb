/* queues.c — group "queues": queues and fences. Order within a queue,
 * fence states and timeouts, waits on fences of another queue and of
 * another driver, what a failed submission does to its queue, the errors
 * the standard functions report through their fences, fences that outlive
 * their queue, and queue instances.
 *
 * Waits from the test thread always target the last fence of a chain: the
 * loader's own deferred-submission threads may be waiting on the earlier
 * ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "conformance.h"

#define GUARD 0xee

static uint32_t word_at(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A fixed-function device: a chain of steps of the one function it offers. */
static void in_order_chain(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    enum { N = 24 };
    conf_chain *ch = conf_chain_new(c, N, 44);
    conf_chain_attach(c, ch, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_fence *fences[N];
    for (uint32_t i = 0; i < N; i++) {
        accel_arg a[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&f, ch, i, a);
        fences[i] = conf_submit_ok(c, q, f.fn, a, n, NULL, 0);
    }
    conf_wait_ok(c, fences[N - 1]);
    for (int i = 0; i < N; i++) {
        accel_result r = accel_fence_status(fences[i]);
        CHECK(r == ACCEL_SUCCESS,
              "the last submission completed but submission %d of the same queue is %s (rule 20)", i,
              conf_rs(r));
    }
    char why[256];
    for (uint32_t i = 0; i < N; i++)
        CHECK(conf_chain_done(&f, ch, i, why, sizeof(why)),
              "%s: the queue ran submissions out of order (rule 20)", why);
}

static void test_queues_in_order(conf_ctx *c)
{
    accel_function *copy = conf_builtin(c, NULL, "accel.copy"), *fill = conf_builtin(c, NULL, "accel.fill");
    if (!copy || !fill) {
        in_order_chain(c);
        return;
    }
    enum { N = 24 };
    accel_memory *work = conf_alloc(c, 64 * 1024), *out = conf_alloc(c, 4 * N);
    unsigned char *o = conf_map(c, out);
    conf_attach(c, work, NULL);
    conf_attach(c, out, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_fence *fences[2 * N];
    /* fill(work, i + 1) then copy(work[0..4) -> out[i]): if two of these ran
     * out of order, a slot would hold another round's value. The fills are
     * 64 KiB, the copies 4 bytes, so that a reordering device would show. */
    for (uint32_t i = 0; i < N; i++) {
        accel_arg f[2] = {conf_mem_arg(work, 0, 64 * 1024), conf_u32_arg(0x01010101u * (i + 1))};
        accel_arg cp[2] = {conf_mem_arg(work, 0, 4), conf_mem_arg(out, 4 * i, 4)};
        fences[2 * i] = conf_submit_ok(c, q, fill, f, 2, NULL, 0);
        fences[2 * i + 1] = conf_submit_ok(c, q, copy, cp, 2, NULL, 0);
    }
    conf_wait_ok(c, fences[2 * N - 1]);
    for (int i = 0; i < 2 * N; i++) {
        accel_result r = accel_fence_status(fences[i]);
        CHECK(r == ACCEL_SUCCESS,
              "the last submission completed but submission %d of the same queue is %s (rule 20)", i,
              conf_rs(r));
    }
    for (uint32_t i = 0; i < N; i++)
        CHECK(word_at(o + 4 * i) == 0x01010101u * (i + 1),
              "slot %u holds 0x%08x, expected 0x%08x: the queue ran submissions out of order (rule 20)", i,
              word_at(o + 4 * i), 0x01010101u * (i + 1));
}

/* Every fence of a chain that reports success has its step's output. */
static void check_done_fences(conf_ctx *c, const conf_step_fn *f, const conf_chain *ch,
                              accel_fence *const *fences, uint32_t first, uint32_t count, const char *when)
{
    char why[256];
    for (uint32_t i = 0; i < count; i++) {
        accel_result s = accel_fence_status(fences[i]);
        CHECK(s == ACCEL_SUCCESS || s == ACCEL_NOT_READY, "%s, fence %u is %s (rule 20)", when, i,
              conf_rs(s));
        if (s == ACCEL_SUCCESS)
            CHECK(conf_chain_done(f, ch, first + i, why, sizeof(why)),
                  "%s, fence %u reports success but its work is not done: %s (rule 20)", when, i, why);
    }
}

static void test_queues_fence_states(conf_ctx *c)
{
    conf_step_fn fn = conf_need_step(c, NULL);
    accel_queue *q = conf_queue(c, NULL);
    enum { N = 9 };
    conf_chain *ch = conf_chain_new(c, N, 40);
    conf_chain_attach(c, ch, NULL);
    accel_arg args[CONF_CHAIN_MAX_ARGS];
    uint32_t argc = conf_chain_args(&fn, ch, 0, args);

    accel_fence *f = conf_submit_ok(c, q, fn.fn, args, argc, NULL, 0);
    accel_result s = accel_fence_status(f);
    CHECK(s == ACCEL_NOT_READY || s == ACCEL_SUCCESS,
          "a new fence is %s (expected NOT_READY or SUCCESS) (rule 20)", conf_rs(s));
    conf_wait_ok(c, f);
    EXPECT(accel_fence_status(f), ACCEL_SUCCESS);
    EXPECT(accel_fence_wait(&f, 1, true, 0), ACCEL_SUCCESS);
    EXPECT(accel_fence_wait(&f, 1, true, 1), ACCEL_SUCCESS);
    EXPECT(accel_fence_wait(&f, 1, false, 0), ACCEL_SUCCESS);
    check_done_fences(c, &fn, ch, &f, 0, 1, "after a wait for it");
    conf_release(c, f);

    /* A zero or short timeout returns at once, with TIMEOUT or SUCCESS,
     * never an error, and never reports work done that is not; the work
     * still completes. */
    accel_fence *chain[N - 1];
    for (uint32_t i = 0; i < N - 1; i++) {
        argc = conf_chain_args(&fn, ch, i + 1, args);
        chain[i] = conf_submit_ok(c, q, fn.fn, args, argc, NULL, 0);
    }
    /* Right away, while the first is likely pending: a driver's wait that
     * times out must say so. */
    accel_result r = conf_wait(c, chain, N - 1, false); /* any */
    CHECK(r == ACCEL_SUCCESS, "waiting for any of %d fences returned %s (rule 20)", N - 1, conf_rs(r));
    bool any = false;
    for (int i = 0; i < N - 1; i++)
        any |= accel_fence_status(chain[i]) == ACCEL_SUCCESS;
    CHECK(any, "waiting for any fence returned, yet none is complete (rule 20)");
    check_done_fences(c, &fn, ch, chain, 1, N - 1, "after a wait for any fence");
    r = accel_fence_wait(&chain[N - 2], 1, true, 0);
    CHECK(r == ACCEL_TIMEOUT || r == ACCEL_SUCCESS,
          "accel_fence_wait with a zero timeout returned %s (rule 20)", conf_rs(r));
    check_done_fences(c, &fn, ch, chain, 1, N - 1, "after a wait with a zero timeout");
    r = accel_fence_wait(&chain[N - 2], 1, true, 1000);
    CHECK(r == ACCEL_TIMEOUT || r == ACCEL_SUCCESS,
          "accel_fence_wait with a 1 us timeout returned %s (rule 20)", conf_rs(r));
    check_done_fences(c, &fn, ch, chain, 1, N - 1, "after a wait with a 1 us timeout");
    s = accel_fence_status(chain[N - 2]);
    CHECK(s == ACCEL_NOT_READY || s == ACCEL_SUCCESS, "a pending fence is %s (rule 20)", conf_rs(s));
    conf_wait_ok(c, chain[N - 2]);
    r = conf_wait(c, chain, N - 1, true);
    CHECK(r == ACCEL_SUCCESS, "waiting for all of %d completed fences returned %s (rule 20)", N - 1,
          conf_rs(r));
    check_done_fences(c, &fn, ch, chain, 1, N - 1, "after the last fence completed");
}

/* How many queues the device can hold at once now. */
static uint32_t queue_room(conf_ctx *c, accel_device *dev)
{
    uint32_t n = 0;
    OK(accel_device_query(dev ? dev : c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &n, sizeof(n), NULL));
    return n;
}

/* q1 runs steps 0 .. 2, q2 step 3 after q1's last fence. */
static void wait_same_device_chain(conf_ctx *c)
{
    conf_step_fn f = conf_need_step(c, NULL);
    accel_queue *q1 = conf_queue(c, NULL), *q2 = conf_queue(c, NULL);
    for (int round = 1; round <= 3; round++) {
        conf_chain *ch = conf_chain_new(c, 4, 50 + (uint64_t)round);
        conf_chain_attach(c, ch, NULL);
        accel_arg a[CONF_CHAIN_MAX_ARGS];
        accel_fence *produced = NULL;
        for (uint32_t i = 0; i < 3; i++) {
            uint32_t n = conf_chain_args(&f, ch, i, a);
            produced = conf_submit_ok(c, q1, f.fn, a, n, NULL, 0);
        }
        uint32_t n = conf_chain_args(&f, ch, 3, a);
        accel_fence *consumed = conf_submit_ok(c, q2, f.fn, a, n, &produced, 1);
        conf_wait_ok(c, consumed);
        EXPECT(accel_fence_status(produced), ACCEL_SUCCESS);
        char why[256];
        for (uint32_t i = 0; i < 4; i++)
            CHECK(conf_chain_done(&f, ch, i, why, sizeof(why)), "round %d: %s%s (rule 20)", round, why,
                  i == 3 ? ": the step waiting for another queue's fence ran before the fence it waited for"
                         : "");
    }
}

static void test_queues_wait_same_device(conf_ctx *c)
{
    uint32_t room = queue_room(c, NULL);
    if (room < 2)
        conf_skip(
            c,
            "unsupported: the device has %u free queue instance(s); a wait across two of its queues needs 2",
            room);
    accel_function *copy = conf_builtin(c, NULL, "accel.copy"), *fill = conf_builtin(c, NULL, "accel.fill");
    if (!copy || !fill) {
        wait_same_device_chain(c);
        return;
    }
    const uint64_t size = 1024 * 1024;
    accel_memory *big = conf_alloc(c, size), *big2 = conf_alloc(c, size), *buf = conf_alloc(c, 4096),
                 *out = conf_alloc(c, 4096);
    unsigned char *o = conf_map(c, out);
    conf_attach(c, big, NULL);
    conf_attach(c, big2, NULL);
    conf_attach(c, buf, NULL);
    conf_attach(c, out, NULL);
    accel_queue *q1 = conf_queue(c, NULL), *q2 = conf_queue(c, NULL);
    accel_arg slow[2] = {conf_mem_arg(big, 0, size), conf_mem_arg(big2, 0, size)};
    for (int round = 1; round <= 3; round++) {
        /* q1: busy work, then fill; q2: copy the filled bytes after q1's fence. */
        for (int i = 0; i < 3; i++)
            conf_submit_ok(c, q1, copy, slow, 2, NULL, 0);
        accel_arg f[2] = {conf_mem_arg(buf, 0, 4096), conf_u32_arg(0x11111111u * (uint32_t)round)};
        accel_fence *filled = conf_submit_ok(c, q1, fill, f, 2, NULL, 0);
        accel_arg cp[2] = {conf_mem_arg(buf, 0, 4096), conf_mem_arg(out, 0, 4096)};
        accel_fence *copied = conf_submit_ok(c, q2, copy, cp, 2, &filled, 1);
        conf_wait_ok(c, copied);
        EXPECT(accel_fence_status(filled), ACCEL_SUCCESS);
        for (int i = 0; i < 4096; i += 4)
            CHECK(word_at(o + i) == 0x11111111u * (uint32_t)round,
                  "round %d: the copy waiting for another queue's fill read 0x%08x at byte %d: it ran before "
                  "the "
                  "fence it waited for (rule 20)",
                  round, word_at(o + i), i);
    }
}

/* The producer runs steps 0 and 1 of a chain, the consumer step 2 after
 * the producer's fence, each with a function it offers. */
static void one_direction_chain(conf_ctx *c, accel_device *producer, accel_device *consumer, uint64_t seed)
{
    conf_step_fn fp, fc;
    if (!conf_step_find(c, producer, &fp) || !conf_step_find(c, consumer, &fc))
        conf_skip(c,
                  "not offered: a cross-driver wait needs accel.fill and accel.copy, or one of accel.copy, "
                  "crc32c, sha256 and zlib.deflate, on both devices");
    conf_chain *ch = conf_chain_new(c, 3, seed);
    conf_chain_attach(c, ch, producer);
    conf_chain_attach(c, ch, consumer);
    accel_queue *qp = conf_queue(c, producer), *qc = conf_queue(c, consumer);
    accel_arg a[CONF_CHAIN_MAX_ARGS];
    accel_fence *produced = NULL;
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t n = conf_chain_args(&fp, ch, i, a);
        produced = conf_submit_ok(c, qp, fp.fn, a, n, NULL, 0);
    }
    uint32_t n = conf_chain_args(&fc, ch, 2, a);
    accel_fence *consumed = conf_submit_ok(c, qc, fc.fn, a, n, &produced, 1);
    conf_wait_ok(c, consumed);
    EXPECT(accel_fence_status(produced), ACCEL_SUCCESS);
    char why[256];
    for (uint32_t i = 0; i < 3; i++)
        CHECK(conf_chain_done(i < 2 ? &fp : &fc, ch, i, why, sizeof(why)), "%s%s (rule 20)", why,
              i == 2 ? ": the consumer ran before the other driver's fence completed, or did not see that "
                       "driver's writes"
                     : "");
    conf_release(c, produced);
    conf_release(c, consumed);
    conf_release(c, qp);
    conf_release(c, qc);
}

static void one_direction(conf_ctx *c, accel_device *producer, accel_device *consumer, uint32_t value)
{
    accel_function *fill = conf_builtin(c, producer, "accel.fill");
    accel_function *copy_p = conf_builtin(c, producer, "accel.copy");
    accel_function *copy_c = conf_builtin(c, consumer, "accel.copy");
    if (!fill || !copy_p || !copy_c) {
        one_direction_chain(c, producer, consumer, value);
        return;
    }
    const uint64_t size = 1024 * 1024;
    accel_memory *big = conf_alloc(c, size), *big2 = conf_alloc(c, size), *buf = conf_alloc(c, 8192),
                 *out = conf_alloc(c, 8192);
    unsigned char *o = conf_map(c, out);
    memset(o, GUARD, 8192);
    conf_attach(c, big, producer);
    conf_attach(c, big2, producer);
    conf_attach(c, buf, producer);
    conf_attach(c, buf, consumer);
    conf_attach(c, out, consumer);
    accel_queue *qp = conf_queue(c, producer), *qc = conf_queue(c, consumer);
    accel_arg slow[2] = {conf_mem_arg(big, 0, size), conf_mem_arg(big2, 0, size)};
    for (int i = 0; i < 3; i++)
        conf_submit_ok(c, qp, copy_p, slow, 2, NULL, 0);
    accel_arg f[2] = {conf_mem_arg(buf, 0, 8192), conf_u32_arg(value)};
    accel_fence *filled = conf_submit_ok(c, qp, fill, f, 2, NULL, 0);
    accel_arg cp[2] = {conf_mem_arg(buf, 0, 8192), conf_mem_arg(out, 0, 8192)};
    accel_fence *copied = conf_submit_ok(c, qc, copy_c, cp, 2, &filled, 1);
    conf_wait_ok(c, copied);
    EXPECT(accel_fence_status(filled), ACCEL_SUCCESS);
    for (int i = 0; i < 8192; i += 4)
        CHECK(word_at(o + i) == value,
              "the consumer's copy read 0x%08x at byte %d, expected 0x%08x: it ran before the other driver's "
              "fence "
              "completed, or did not see that driver's writes (rule 20)",
              word_at(o + i), i, value);
    /* Devices with one queue instance need theirs back for the other way. */
    conf_release(c, filled);
    conf_release(c, copied);
    conf_release(c, qp);
    conf_release(c, qc);
}

static void test_queues_wait_across_drivers(conf_ctx *c)
{
    accel_device *peer = conf_other_driver_device(c);
    if (!peer)
        conf_skip(c, "no peer: no device of another driver is selected (--peer SELECTOR gives one)");
    accel_device_info pi = {.struct_size = sizeof(pi)};
    OK(accel_device_get_info(peer, &pi));
    conf_note(c, "peer %s:%u (%s)", pi.driver_name, pi.driver_index, pi.name);
    one_direction(c, c->dev, peer, 0x5a5a1234u);
    one_direction(c, peer, c->dev, 0x4321a5a5u);
}

/* A submission that fails on the device: accel.copy into a range that is
 * too small, or crc32c with a 3-byte result. */
typedef struct failing {
    accel_function *fn;
    accel_arg args[2];
    uint32_t argc;
    const char *what;
} failing;

static bool make_failing(conf_ctx *c, failing *fl)
{
    accel_function *copy = conf_builtin(c, NULL, "accel.copy");
    if (copy) {
        accel_memory *src = conf_alloc(c, 256), *dst = conf_alloc(c, 256);
        conf_attach(c, src, NULL);
        conf_attach(c, dst, NULL);
        *fl = (failing){copy,
                        {conf_mem_arg(src, 0, 200), conf_mem_arg(dst, 0, 100)},
                        2,
                        "accel.copy of 200 bytes into 100"};
        return true;
    }
    accel_function *crc = conf_builtin(c, NULL, "crc32c");
    if (crc) {
        accel_memory *src = conf_alloc(c, 256), *res = conf_alloc(c, 8);
        conf_attach(c, src, NULL);
        conf_attach(c, res, NULL);
        *fl = (failing){
            crc, {conf_mem_arg(src, 0, 256), conf_mem_arg(res, 0, 3)}, 2, "crc32c with a 3-byte result"};
        return true;
    }
    return false;
}

static void test_queues_failure_breaks_queue(conf_ctx *c)
{
    failing fl;
    if (!make_failing(c, &fl))
        conf_skip(c, "not offered: the test makes accel.copy or crc32c fail, and the device offers neither");
    /* The later work: one step of a chain (its output slot starts as GUARD). */
    conf_step_fn st = conf_need_step(c, NULL);
    conf_chain *ch = conf_chain_new(c, 1, 41);
    unsigned char *d = ch->p[1];
    memset(d, GUARD, CONF_CHAIN_STRIDE);
    conf_chain_attach(c, ch, NULL);
    accel_arg later[CONF_CHAIN_MAX_ARGS];
    uint32_t nl = conf_chain_args(&st, ch, 0, later);
    /* A second queue exists during the failure where the device has room. */
    accel_queue *q1 = conf_queue(c, NULL);
    accel_queue *q2 = queue_room(c, NULL) >= 1 ? conf_queue(c, NULL) : NULL;

    accel_fence *bad = conf_submit_ok(c, q1, fl.fn, fl.args, fl.argc, NULL, 0);
    accel_fence *after = conf_submit_ok(c, q1, st.fn, later, nl, NULL, 0);
    /* The later fence first: it carries the earlier failure. */
    accel_result r = conf_wait(c, &after, 1, true);
    CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT,
          "after %s failed, a later submission of the same queue ended %s, expected the same error "
          "ACCEL_ERROR_INVALID_ARGUMENT (rule 20)",
          fl.what, conf_rs(r));
    r = accel_fence_status(bad);
    CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT,
          "%s must fail its fence with ACCEL_ERROR_INVALID_ARGUMENT (docs/standard-functions.md), it is %s "
          "(rule 20)",
          fl.what, conf_rs(r));
    CHECK(conf_first_not(d, CONF_CHAIN_STRIDE, GUARD) < 0,
          "the submission after a failed one was run (its destination changed): a broken queue runs nothing "
          "more (rule 20)");
    EXPECT(conf_submit(c, q1, st.fn, later, nl, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(accel_queue_finish(q1), ACCEL_ERROR_INVALID_ARGUMENT);
    char why[256];
    if (q2) {
        /* Another queue of the device, alive during the failure, works. */
        accel_fence *fine = conf_submit_ok(c, q2, st.fn, later, nl, NULL, 0);
        r = conf_wait(c, &fine, 1, true);
        CHECK(r == ACCEL_SUCCESS, "after a failure on another queue of the device, %s ended %s (rule 20)",
              st.name, conf_rs(r));
        CHECK(conf_chain_done(&st, ch, 0, why, sizeof(why)), "after a failure on another queue: %s (rule 20)",
              why);
    }
    conf_release(c, q1);
    if (!q2)
        q2 = conf_queue(c, NULL);
    /* A submission waiting for the failed fence fails, on any queue. */
    accel_fence *waiter = NULL;
    r = conf_submit(c, q2, st.fn, later, nl, &bad, 1, &waiter);
    if (r == ACCEL_SUCCESS)
        r = conf_wait(c, &waiter, 1, true);
    CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT, "a submission waiting for a failed fence ended %s (rule 20)",
          conf_rs(r));
    conf_release(c, q2);
    /* A new queue works. */
    memset(d, GUARD, CONF_CHAIN_STRIDE);
    accel_queue *q3 = conf_queue(c, NULL);
    accel_fence *fine = conf_submit_ok(c, q3, st.fn, later, nl, NULL, 0);
    r = conf_wait(c, &fine, 1, true);
    CHECK(r == ACCEL_SUCCESS, "after a failure on the device, a new queue's %s ended %s (rule 20)", st.name,
          conf_rs(r));
    CHECK(conf_chain_done(&st, ch, 0, why, sizeof(why)), "after a failure on the device, a new queue: %s",
          why);
}

static void expect_refused(conf_ctx *c, const char *what, accel_function *fn, const accel_arg *args,
                           uint32_t argc, const unsigned char *watch, size_t watch_size, size_t from,
                           size_t to)
{
    accel_queue *q = conf_queue(c, NULL);
    accel_fence *f = NULL;
    accel_result r = conf_submit(c, q, fn, args, argc, NULL, 0, &f);
    if (r == ACCEL_SUCCESS)
        r = conf_wait(c, &f, 1, true);
    CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT, "%s ended %s, expected ACCEL_ERROR_INVALID_ARGUMENT (rule 20)",
          what, conf_rs(r));
    if (watch) {
        CHECK(conf_first_not(watch, from, GUARD) < 0 &&
                  conf_first_not(watch + to, watch_size - to, GUARD) < 0,
              "%s wrote outside its ranges (rule 20)", what);
    }
    conf_release(c, q);
}

static void test_queues_function_errors(conf_ctx *c)
{
    unsigned tried = 0;
    accel_memory *src = conf_alloc(c, 4096), *out = conf_alloc(c, 4096), *osz = conf_alloc(c, 64);
    unsigned char *s = conf_map(c, src), *o = conf_map(c, out), *z = conf_map(c, osz);
    conf_fill_random(s, 4096, 42);
    conf_attach(c, src, NULL);
    conf_attach(c, out, NULL);
    conf_attach(c, osz, NULL);
    accel_function *fn;
    if ((fn = conf_builtin(c, NULL, "accel.copy"))) {
        memset(o, GUARD, 4096);
        accel_arg a[2] = {conf_mem_arg(src, 0, 1000), conf_mem_arg(out, 100, 999)};
        expect_refused(c, "accel.copy of 1000 bytes into 999", fn, a, 2, o, 4096, 100, 1099);
        tried++;
    }
    if ((fn = conf_builtin(c, NULL, "crc32c"))) {
        memset(o, GUARD, 4096);
        accel_arg a[2] = {conf_mem_arg(src, 0, 1000), conf_mem_arg(out, 100, 3)};
        expect_refused(c, "crc32c with a 3-byte result", fn, a, 2, o, 4096, 100, 103);
        tried++;
    }
    if ((fn = conf_builtin(c, NULL, "sha256"))) {
        memset(o, GUARD, 4096);
        accel_arg a[2] = {conf_mem_arg(src, 0, 1000), conf_mem_arg(out, 100, 31)};
        expect_refused(c, "sha256 with a 31-byte result", fn, a, 2, o, 4096, 100, 131);
        tried++;
    }
    if ((fn = conf_builtin(c, NULL, "zlib.deflate"))) {
        memset(o, GUARD, 4096);
        memset(z, GUARD, 64);
        const accel_arg level6 = {.kind = ACCEL_ARG_I32, .u.i32 = 6};
        accel_arg a[4] = {conf_mem_arg(src, 0, 4096), conf_mem_arg(out, 100, 16), conf_mem_arg(osz, 0, 8),
                          level6};
        expect_refused(c, "zlib.deflate of 4096 random bytes into 16", fn, a, 4, o, 4096, 100, 116);
        memset(o, GUARD, 4096);
        accel_arg b[4] = {conf_mem_arg(src, 0, 100), conf_mem_arg(out, 0, 4096), conf_mem_arg(osz, 8, 7),
                          level6};
        expect_refused(c, "zlib.deflate with a 7-byte out_size", fn, b, 4, z, 64, 8, 15);
        /* Levels outside zlib's -1..9. */
        static const int32_t bad_levels[] = {-2, 10, INT32_MIN, INT32_MAX};
        for (size_t i = 0; i < sizeof(bad_levels) / sizeof(bad_levels[0]); i++) {
            char what[64];
            snprintf(what, sizeof(what), "zlib.deflate at level %d", (int)bad_levels[i]);
            memset(o, GUARD, 4096);
            memset(z, GUARD, 64);
            accel_arg l[4] = {conf_mem_arg(src, 0, 100),
                              conf_mem_arg(out, 100, 1000),
                              conf_mem_arg(osz, 0, 8),
                              {.kind = ACCEL_ARG_I32, .u.i32 = bad_levels[i]}};
            expect_refused(c, what, fn, l, 4, o, 4096, 100, 1100);
            CHECK(conf_first_not(z, 64, GUARD) < 0, "%s wrote its out_size", what);
        }
        tried++;
    }
    if ((fn = conf_builtin(c, NULL, "zlib.inflate"))) {
        accel_memory *zs = conf_alloc(c, 4096);
        unsigned char *zp = conf_map(c, zs);
        uLongf zlen = 4096;
        unsigned char plain[3000];
        memset(plain, 'a', sizeof(plain));
        CHECK(compress2(zp, &zlen, plain, sizeof(plain), 6) == Z_OK, "zlib's compress2 failed");
        conf_attach(c, zs, NULL);
        memset(o, GUARD, 4096);
        accel_arg small[3] = {conf_mem_arg(zs, 0, zlen), conf_mem_arg(out, 100, 2999),
                              conf_mem_arg(osz, 0, 8)};
        expect_refused(c, "zlib.inflate of 3000 bytes into 2999", fn, small, 3, o, 4096, 100, 3099);
        accel_arg empty[3] = {conf_mem_arg(zs, 0, 0), conf_mem_arg(out, 0, 4096), conf_mem_arg(osz, 0, 8)};
        expect_refused(c, "zlib.inflate of an empty input (not a zlib stream)", fn, empty, 3, NULL, 0, 0, 0);
        /* A valid header, then garbage; then a stream whose Adler-32 is wrong. */
        zp[2] ^= 0xff;
        zp[3] ^= 0x55;
        zp[4] = 0xff;
        accel_arg corrupt[3] = {conf_mem_arg(zs, 0, zlen), conf_mem_arg(out, 0, 4096),
                                conf_mem_arg(osz, 0, 8)};
        expect_refused(c, "zlib.inflate of a corrupt stream", fn, corrupt, 3, NULL, 0, 0, 0);
        zlen = 4096;
        CHECK(compress2(zp, &zlen, plain, sizeof(plain), 6) == Z_OK, "zlib's compress2 failed");
        zp[zlen - 1] ^= 0x01;
        expect_refused(c, "zlib.inflate of a stream with a wrong Adler-32", fn, corrupt, 3, NULL, 0, 0, 0);
        tried++;
    }
    if (!tried)
        conf_skip(c, "not offered: the device offers none of the standard functions that can fail");
}

static void test_queues_fence_outlives_queue(conf_ctx *c)
{
    conf_step_fn fn = conf_need_step(c, NULL);
    enum { N = 6 };
    conf_chain *ch = conf_chain_new(c, N, 43);
    conf_chain_attach(c, ch, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_fence *f = NULL;
    for (uint32_t i = 0; i < N; i++) {
        accel_arg a[CONF_CHAIN_MAX_ARGS];
        uint32_t n = conf_chain_args(&fn, ch, i, a);
        f = conf_submit_ok(c, q, fn.fn, a, n, NULL, 0);
    }
    conf_release(c, q); /* waits for the work */
    EXPECT(accel_fence_status(f), ACCEL_SUCCESS);
    EXPECT(accel_fence_wait(&f, 1, true, 0), ACCEL_SUCCESS);
    char why[256];
    for (uint32_t i = 0; i < N; i++)
        CHECK(conf_chain_done(&fn, ch, i, why, sizeof(why)),
              "the work of a destroyed queue is incomplete: %s (rule 20)", why);
}

static void test_queues_instances(conf_ctx *c)
{
    uint32_t before = 0, during = 0;
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &before, sizeof(before), NULL));
    if (before == 0)
        conf_skip(c, "unsupported: the device reports no free queue instance now");
    uint32_t want = before == ACCEL_INSTANCES_UNLIMITED || before > 3 ? 3 : before;
    accel_queue *q[3];
    for (uint32_t i = 0; i < want; i++)
        q[i] = conf_queue(c, NULL);
    OK(accel_device_query(c->dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &during, sizeof(during), NULL));
    if (before != ACCEL_INSTANCES_UNLIMITED)
        CHECK(during <= before, "with %u queues open, available_instances went up from %u to %u (rule 17)",
              want, before, during);
    accel_function *noop = conf_builtin(c, NULL, "accel.noop");
    for (uint32_t i = 0; noop && i < want; i++) {
        accel_result r = conf_run(c, q[i], noop, NULL, 0);
        CHECK(r == ACCEL_SUCCESS, "accel.noop on queue %u of %u failed: %s", i, want, conf_rs(r));
    }
}

static const conf_test_def queues_tests[] = {
    {"in_order", test_queues_in_order},
    {"fence_states", test_queues_fence_states},
    {"wait_same_device", test_queues_wait_same_device},
    {"wait_across_drivers", test_queues_wait_across_drivers},
    {"failure_breaks_queue", test_queues_failure_breaks_queue},
    {"function_errors", test_queues_function_errors},
    {"fence_outlives_queue", test_queues_fence_outlives_queue},
    {"instances", test_queues_instances},
};

const conf_group_def conf_group_queues = {
    .name = "queues",
    .title = "queues and fences",
    .tests = CONF_TESTS(queues),
};
