/* test_exec.c — memory, queues and fences through the loader, on the fake
 * execution drivers (tests/fake/fake_exec.c): attach modes, the STAGED
 * copies, argument checks, ordering, fences across drivers, failures that
 * break a queue (and only that queue), device loss, fences that outlive
 * their queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

typedef ts_fakes fixture;
/* The devices: fake_exec_a, fake_exec_b, fake_exec_staged. */
enum { A, B, STAGED };

static int setup(void **state)
{
    *state = ts_fakes_create("exec", "exec_a", "exec_b", "exec_staged", NULL);
    return 0;
}

/* Every attach mode gives the same bytes: PINNED on a, STAGED on staged. */
static void test_exec_attach_modes_same_result(void **state)
{
    fixture *f = *state;
    accel_device *devs[2] = {f->dev[A], f->dev[STAGED]};
    accel_attach_mode want[2] = {ACCEL_ATTACH_PINNED, ACCEL_ATTACH_STAGED};
    for (int d = 0; d < 2; d++) {
        accel_memory *m = ts_alloc(f->inst, 4099);
        unsigned char *p = ts_map(m);
        for (int i = 0; i < 4099; i++)
            p[i] = (unsigned char)i;
        accel_attach_mode mode;
        assert_int_equal(accel_memory_attach(m, devs[d], &mode), ACCEL_SUCCESS);
        assert_int_equal(mode, want[d]);
        /* Attaching again reports the same mode. */
        assert_int_equal(accel_memory_attach(m, devs[d], &mode), ACCEL_SUCCESS);
        assert_int_equal(mode, want[d]);
        accel_queue *q;
        assert_int_equal(accel_queue_create(devs[d], 0, &q), ACCEL_SUCCESS);
        accel_function *add = ts_builtin(devs[d], "fake.add");
        accel_arg args[2] = {ts_mem_arg(m, 3, 4000), ts_u32_arg(7)};
        accel_fence *fence;
        assert_int_equal(ts_submit(q, add, args, 2, NULL, 0, &fence), ACCEL_SUCCESS);
        assert_int_equal(accel_fence_wait(&fence, 1, true, UINT64_MAX), ACCEL_SUCCESS);
        for (int i = 0; i < 4099; i++) {
            unsigned char expect = (unsigned char)(i + (i >= 3 && i < 4003 ? 7 : 0));
            if (p[i] != expect)
                fail_msg("device %d byte %d: %u, expected %u", d, i, p[i], expect);
        }
        accel_fence_release(fence);
        accel_function_destroy(add);
        accel_queue_destroy(q);
        accel_memory_free(m);
    }
}

/* Submissions on one queue run in order: many adds, one result. STAGED
 * too, where every submission copies in and out. */
static void test_exec_in_order(void **state)
{
    fixture *f = *state;
    accel_device *devs[2] = {f->dev[A], f->dev[STAGED]};
    for (int d = 0; d < 2; d++) {
        accel_memory *m = ts_alloc(f->inst, 64);
        assert_int_equal(accel_memory_attach(m, devs[d], NULL), ACCEL_SUCCESS);
        accel_queue *q;
        assert_int_equal(accel_queue_create(devs[d], 0, &q), ACCEL_SUCCESS);
        accel_function *add = ts_builtin(devs[d], "fake.add");
        accel_arg args[2] = {ts_mem_arg(m, 0, 64), ts_u32_arg(1)};
        for (int i = 0; i < 100; i++)
            assert_int_equal(ts_submit(q, add, args, 2, NULL, 0, NULL), ACCEL_SUCCESS);
        assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
        for (int i = 0; i < 64; i++)
            assert_int_equal(ts_map(m)[i], 100);
        accel_function_destroy(add);
        accel_queue_destroy(q);
        accel_memory_free(m);
    }
}

/* A fence of driver a gates a queue of driver b; b's work sees a's result. */
static void test_exec_fence_across_drivers(void **state)
{
    fixture *f = *state;
    accel_memory *m = ts_alloc(f->inst, 16);
    assert_int_equal(accel_memory_attach(m, f->dev[A], NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(m, f->dev[STAGED], NULL), ACCEL_SUCCESS);
    accel_queue *qa, *qb;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &qa), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(f->dev[STAGED], 0, &qb), ACCEL_SUCCESS);
    accel_function *sleep_a = ts_builtin(f->dev[A], "fake.sleep"), *add_a = ts_builtin(f->dev[A], "fake.add");
    accel_function *add_b = ts_builtin(f->dev[STAGED], "fake.add");

    accel_arg s = ts_u32_arg(50000);
    accel_arg add1[2] = {ts_mem_arg(m, 0, 16), ts_u32_arg(1)};
    accel_arg add10[2] = {ts_mem_arg(m, 0, 16), ts_u32_arg(10)};
    accel_fence *fa, *fb;
    /* a: sleep 50 ms, then +1. b: waits for a, then +10 (staged: copies the
     * bytes in after a's +1). Without the wait b would copy in zeros. */
    assert_int_equal(ts_submit(qa, sleep_a, &s, 1, NULL, 0, NULL), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(qa, add_a, add1, 2, NULL, 0, &fa), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(qb, add_b, add10, 2, &fa, 1, &fb), ACCEL_SUCCESS);
    /* The submit did not block on a's sleep. */
    assert_int_equal(accel_fence_status(fb), ACCEL_NOT_READY);
    assert_int_equal(accel_fence_wait(&fb, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_status(fa), ACCEL_SUCCESS);
    for (int i = 0; i < 16; i++)
        assert_int_equal(ts_map(m)[i], 11);
    accel_fence_release(fa);
    accel_fence_release(fb);
    accel_function_destroy(sleep_a);
    accel_function_destroy(add_a);
    accel_function_destroy(add_b);
    accel_queue_destroy(qa);
    accel_queue_destroy(qb);
    accel_memory_free(m);
}

/* Bad arguments are refused before anything is enqueued, with a message. */
static void test_exec_bad_arguments(void **state)
{
    fixture *f = *state;
    accel_memory *m = ts_alloc(f->inst, 16), *unattached = ts_alloc(f->inst, 16);
    assert_int_equal(accel_memory_attach(m, f->dev[A], NULL), ACCEL_SUCCESS);
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &q), ACCEL_SUCCESS);
    accel_function *add = ts_builtin(f->dev[A], "fake.add");
    accel_function *other = ts_builtin(f->dev[B], "fake.add");

    accel_arg one[1] = {ts_mem_arg(m, 0, 16)};
    assert_int_equal(ts_submit(q, add, one, 1, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "takes 2 argument(s), 1 given"));

    accel_arg swapped[2] = {ts_u32_arg(1), ts_mem_arg(m, 0, 16)};
    assert_int_equal(ts_submit(q, add, swapped, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "argument 0 must be memory, not u32"));

    accel_arg outside[2] = {ts_mem_arg(m, 8, 9), ts_u32_arg(1)};
    assert_int_equal(ts_submit(q, add, outside, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "lies outside the 16-byte memory"));

    accel_arg loose[2] = {ts_mem_arg(unattached, 0, 16), ts_u32_arg(1)};
    assert_int_equal(ts_submit(q, add, loose, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "not attached"));

    accel_arg ok[2] = {ts_mem_arg(m, 0, 16), ts_u32_arg(1)};
    assert_int_equal(ts_submit(q, other, ok, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "another device"));

    accel_function *none = NULL;
    assert_int_equal(accel_function_get(f->dev[A], NULL, "no.such", &none), ACCEL_ERROR_NOT_FOUND);
    assert_non_null(strstr(accel_last_error_message(), "no.such"));

    /* None of that broke the queue. */
    assert_int_equal(ts_submit(q, add, ok, 2, NULL, 0, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    assert_int_equal(ts_map(m)[0], 1);
    uint32_t count = 0;
    assert_int_equal(accel_function_get_signature(add, &count, NULL), ACCEL_SUCCESS);
    assert_int_equal(count, 2);
    accel_arg_kind kinds[2];
    assert_int_equal(accel_function_get_signature(add, &count, kinds), ACCEL_SUCCESS);
    assert_int_equal(kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(kinds[1], ACCEL_ARG_U32);
    accel_function_destroy(add);
    accel_function_destroy(other);
    accel_queue_destroy(q);
    accel_memory_free(m);
    accel_memory_free(unattached);
}

/* A failed submission breaks its queue: later fences fail with its error,
 * later submits fail at once; another queue goes on. */
static void test_exec_failure_breaks_only_its_queue(void **state)
{
    fixture *f = *state;
    accel_queue *q1, *q2;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &q1), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(f->dev[A], 0, &q2), ACCEL_SUCCESS);
    accel_function *failfn = ts_builtin(f->dev[A], "fake.fail"), *noop = ts_builtin(f->dev[A], "accel.noop");
    accel_arg e = ts_i32_arg(ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    accel_fence *bad, *after;
    assert_int_equal(ts_submit(q1, failfn, &e, 1, NULL, 0, &bad), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(q1, noop, NULL, 0, NULL, 0, &after), ACCEL_SUCCESS);
    /* Look at the later fence first: it still carries the earlier failure. */
    assert_int_equal(accel_fence_wait(&after, 1, true, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_int_equal(accel_fence_status(bad), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_int_equal(ts_submit(q1, noop, NULL, 0, NULL, 0, NULL), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_non_null(strstr(accel_last_error_message(), "failed earlier"));
    assert_int_equal(accel_queue_finish(q1), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    /* A submission waiting on the failed fence fails too, on any queue,
     * through its fence; its queue goes on (test_semantics). */
    accel_fence *dep;
    assert_int_equal(ts_submit(q2, noop, NULL, 0, &bad, 1, &dep), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&dep, 1, true, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    accel_fence_release(dep);
    accel_fence *fine;
    assert_int_equal(ts_submit(q2, noop, NULL, 0, NULL, 0, &fine), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&fine, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    accel_fence_release(bad);
    accel_fence_release(after);
    accel_fence_release(fine);
    accel_function_destroy(failfn);
    accel_function_destroy(noop);
    accel_queue_destroy(q1);
    accel_queue_destroy(q2);
}

/* A fence outlives its queue and keeps its status. */
static void test_exec_fence_after_queue_destroyed(void **state)
{
    fixture *f = *state;
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[B], 0, &q), ACCEL_SUCCESS);
    accel_function *sleepfn = ts_builtin(f->dev[B], "fake.sleep");
    accel_arg s = ts_u32_arg(20000);
    accel_fence *fence;
    assert_int_equal(ts_submit(q, sleepfn, &s, 1, NULL, 0, &fence), ACCEL_SUCCESS);
    accel_queue_destroy(q); /* waits for the work */
    assert_int_equal(accel_fence_status(fence), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&fence, 1, true, 0), ACCEL_SUCCESS);
    accel_fence_release(fence);
    accel_function_destroy(sleepfn);
}

/* Timeouts, and waiting for any of several fences. */
static void test_exec_wait_timeout_and_any(void **state)
{
    fixture *f = *state;
    accel_queue *qa, *qb;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &qa), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(f->dev[B], 0, &qb), ACCEL_SUCCESS);
    accel_function *sa = ts_builtin(f->dev[A], "fake.sleep"), *sb = ts_builtin(f->dev[B], "fake.sleep");
    accel_arg slow = ts_u32_arg(300000), quick = ts_u32_arg(1000);
    accel_fence *fences[2];
    assert_int_equal(ts_submit(qa, sa, &slow, 1, NULL, 0, &fences[0]), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(qb, sb, &quick, 1, NULL, 0, &fences[1]), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(fences, 2, true, 1000000), ACCEL_TIMEOUT);
    assert_int_equal(accel_fence_wait(fences, 2, false, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_status(fences[1]), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(fences, 2, true, UINT64_MAX), ACCEL_SUCCESS);
    accel_fence_release(fences[0]);
    accel_fence_release(fences[1]);
    accel_function_destroy(sa);
    accel_function_destroy(sb);
    accel_queue_destroy(qa);
    accel_queue_destroy(qb);
}

/* A program that does not compile: the compiler log is in the detail. */
static void test_exec_build_log_in_last_error(void **state)
{
    fixture *f = *state;
    accel_program *p = NULL;
    const char src[] = "kernel void k() { oops }";
    assert_int_equal(accel_program_load(f->dev[A], ACCEL_PROGRAM_FORMAT_OPENCL_C, src, sizeof(src), NULL, &p),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(p);
    assert_non_null(strstr(accel_last_error_message(), "build log:"));
    assert_non_null(strstr(accel_last_error_message(), "this device runs built-in functions only"));
}

/* Memory import, export and their errors. */
static void test_exec_memory_import_export(void **state)
{
    fixture *f = *state;
    accel_memory *m = ts_alloc(f->inst, 100);
    memcpy(ts_map(m), "shared bytes", 12);
    int fd = -1;
    uint64_t off = 99;
    assert_int_equal(accel_memory_export_fd(m, &fd, &off), ACCEL_SUCCESS);
    assert_int_equal(off, 0);
    accel_memory *again = NULL;
    assert_int_equal(accel_memory_import_fd(f->inst, fd, 0, 100, 0, &again), ACCEL_SUCCESS);
    close(fd);
    assert_memory_equal(ts_map(again), "shared bytes", 12);
    ts_map(again)[0] = 'S';
    assert_int_equal(ts_map(m)[0], 'S');

    char buf[64] = "host";
    accel_memory *h = NULL;
    assert_int_equal(accel_memory_import_host(f->inst, buf, sizeof(buf), 0, &h), ACCEL_SUCCESS);
    assert_ptr_equal(ts_map(h), buf);
    assert_int_equal(accel_memory_size(h), sizeof(buf));
    assert_int_equal(accel_memory_export_fd(h, &fd, NULL), ACCEL_ERROR_UNSUPPORTED);
    /* The staged device works on imported host memory too. */
    assert_int_equal(accel_memory_attach(h, f->dev[STAGED], NULL), ACCEL_SUCCESS);
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[STAGED], 0, &q), ACCEL_SUCCESS);
    accel_function *add = ts_builtin(f->dev[STAGED], "fake.add");
    accel_arg args[2] = {ts_mem_arg(h, 0, 4), ts_u32_arg(1)};
    assert_int_equal(ts_submit(q, add, args, 2, NULL, 0, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    assert_memory_equal(buf, "ipt", 3);
    accel_function_destroy(add);
    accel_queue_destroy(q);

    accel_memory *bad = NULL;
    assert_int_equal(accel_memory_import_fd(f->inst, -1, 0, 10, 0, &bad), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_memory_import_host(f->inst, buf, 0, 0, &bad), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_memory_alloc_info zero = {.struct_size = sizeof(zero), .size = 0, .numa_node = -1};
    assert_int_equal(accel_memory_alloc(f->inst, &zero, &bad), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(bad);
    assert_int_equal(accel_memory_detach(m, f->dev[A]), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "not attached"));
    accel_memory_free(h);
    accel_memory_free(again);
    accel_memory_free(m);
}

/* Several threads submit to one queue; every submission runs once. */
typedef struct thread_arg {
    accel_queue *q;
    accel_function *add;
    accel_memory *m;
    int index;
} thread_arg;

static void *submit_thread(void *p)
{
    thread_arg *t = p;
    accel_arg args[2] = {ts_mem_arg(t->m, (uint64_t)t->index * 8, 8), ts_u32_arg(1)};
    for (int i = 0; i < 200; i++)
        if (ts_submit(t->q, t->add, args, 2, NULL, 0, NULL) != ACCEL_SUCCESS)
            return (void *)1;
    return NULL;
}

static void test_exec_submit_from_threads(void **state)
{
    fixture *f = *state;
    accel_memory *m = ts_alloc(f->inst, 32);
    assert_int_equal(accel_memory_attach(m, f->dev[A], NULL), ACCEL_SUCCESS);
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &q), ACCEL_SUCCESS);
    accel_function *add = ts_builtin(f->dev[A], "fake.add");
    pthread_t th[4];
    thread_arg ta[4];
    for (int i = 0; i < 4; i++) {
        ta[i] = (thread_arg){q, add, m, i};
        assert_int_equal(pthread_create(&th[i], NULL, submit_thread, &ta[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    for (int i = 0; i < 32; i++)
        assert_int_equal(ts_map(m)[i], 200);
    accel_function_destroy(add);
    accel_queue_destroy(q);
    accel_memory_free(m);
}

/* Objects left alive are cleaned up by accel_instance_destroy. */
static void test_exec_instance_destroy_cleans_up(void **state)
{
    fixture *f = *state;
    accel_memory *m = ts_alloc(f->inst, 4096);
    assert_int_equal(accel_memory_attach(m, f->dev[STAGED], NULL), ACCEL_SUCCESS);
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[STAGED], 0, &q), ACCEL_SUCCESS);
    accel_function *add = ts_builtin(f->dev[STAGED], "fake.add");
    accel_arg args[2] = {ts_mem_arg(m, 0, 4096), ts_u32_arg(3)};
    for (int i = 0; i < 10; i++)
        assert_int_equal(ts_submit(q, add, args, 2, NULL, 0, NULL), ACCEL_SUCCESS);
    accel_function_destroy(add); /* pending submissions keep it */
    /* teardown destroys the instance with the queue and memory alive */
}

/* The device is lost in the middle of a queue (fault injected after the
 * 3rd submission): those fences and every later one fail with
 * ACCEL_ERROR_DEVICE_LOST, nothing hangs, and a device of another driver
 * keeps working. */
static void test_exec_device_lost_mid_queue(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp("lost");
    char *ma = ts_write_fake_manifest(dir, "a.json", "exec_a");
    char *mb = ts_write_fake_manifest(dir, "b.json", "exec_b");
    size_t depth = ts_env_depth();
    ts_env_push("FAKE_EXEC_LOSE_AFTER", "3");
    accel_instance *lossy = ts_create_one(ma);
    ts_env_pop_to(depth);
    accel_instance *healthy = ts_create_one(mb);
    accel_device *da = ts_device_of(lossy, "fake_exec_a"), *db = ts_device_of(healthy, "fake_exec_b");
    accel_queue *qa, *qb;
    assert_int_equal(accel_queue_create(da, 0, &qa), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(db, 0, &qb), ACCEL_SUCCESS);
    accel_function *na = ts_builtin(da, "accel.noop"), *nb = ts_builtin(db, "accel.noop");
    accel_fence *fa[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(ts_submit(qa, na, NULL, 0, NULL, 0, &fa[i]), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(fa, 5, true, 5000000000ull), ACCEL_ERROR_DEVICE_LOST);
    for (int i = 0; i < 5; i++)
        assert_int_equal(accel_fence_status(fa[i]), i < 2 ? ACCEL_SUCCESS : ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(ts_submit(qa, na, NULL, 0, NULL, 0, NULL), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_queue_finish(qa), ACCEL_ERROR_DEVICE_LOST);
    accel_fence *fb;
    assert_int_equal(ts_submit(qb, nb, NULL, 0, NULL, 0, &fb), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&fb, 1, true, 5000000000ull), ACCEL_SUCCESS);
    for (int i = 0; i < 5; i++)
        accel_fence_release(fa[i]);
    accel_fence_release(fb);
    accel_function_destroy(na);
    accel_function_destroy(nb);
    accel_queue_destroy(qa);
    accel_queue_destroy(qb);
    accel_instance_destroy(lossy);
    accel_instance_destroy(healthy);
    ts_rmtree(dir);
    free(dir);
    free(ma);
    free(mb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_attach_modes_same_result, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_in_order, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_fence_across_drivers, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_bad_arguments, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_failure_breaks_only_its_queue, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_fence_after_queue_destroyed, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_wait_timeout_and_any, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_build_log_in_last_error, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_memory_import_export, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_submit_from_threads, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_instance_destroy_cleans_up, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_exec_device_lost_mid_queue, ts_env_case_setup,
                                        ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
