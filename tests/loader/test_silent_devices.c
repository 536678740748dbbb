/* test_silent_devices.c — devices that stop answering without closing
 * anything: the loader's device timeout (ACCEL_DEVICE_TIMEOUT_MS) turns a
 * submission that never completes into device loss. A cpu device hung by
 * fault injection (ACCEL_CPU_HANG_AFTER) and a uacce emulator stopped with
 * SIGSTOP; waiting, polling and "any" waits all end with
 * ACCEL_ERROR_DEVICE_LOST and a message naming the device and the timeout;
 * later calls fail fast; nothing hangs, destroying included. And the uacce
 * emulator forgets a client that died: its queue instance comes back and
 * its pending requests are dropped. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static accel_instance *cpu_instance(const char *hang_after, const char *timeout_ms)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    ts_env_push("ACCEL_CPU_HANG_AFTER", hang_after);
    ts_env_push("ACCEL_DEVICE_TIMEOUT_MS", timeout_ms);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    return inst; /* the caller pops the environment after creating its queues */
}

static accel_function *builtin(accel_device *dev, const char *name)
{
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(dev, NULL, name, &fn), ACCEL_SUCCESS);
    return fn;
}

static accel_result noop(accel_queue *q, accel_function *fn, accel_fence **fence)
{
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn};
    return accel_queue_submit(q, &s, fence);
}

/* The first submission hangs; waiting for it (and for the one queued
 * behind it) ends in device loss after the 200 ms timeout, with a message
 * naming the device, the time and the variable. The device stays lost:
 * later submissions and new queues fail at once, and destroying the queue
 * does not hang. */
static void test_silent_devices_cpu_hang_is_device_loss(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance("1", "200");
    accel_device *cpu = ts_device_of(inst, "cpu");
    assert_non_null(cpu);
    accel_queue *q;
    assert_int_equal(accel_queue_create(cpu, 0, &q), ACCEL_SUCCESS);
    ts_env_pop();
    accel_function *fn = builtin(cpu, "accel.noop");
    accel_fence *f[2];
    assert_int_equal(noop(q, fn, &f[0]), ACCEL_SUCCESS);
    assert_int_equal(noop(q, fn, &f[1]), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(f, 2, true, UINT64_MAX), ACCEL_ERROR_DEVICE_LOST);
    const char *msg = accel_last_error_message();
    assert_non_null(strstr(msg, "cpu:0"));
    assert_non_null(strstr(msg, "did not complete within 200 ms"));
    assert_non_null(strstr(msg, "ACCEL_DEVICE_TIMEOUT_MS"));
    assert_int_equal(accel_fence_status(f[0]), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_fence_status(f[1]), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(noop(q, fn, NULL), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_queue_finish(q), ACCEL_ERROR_DEVICE_LOST);
    accel_queue *again = NULL;
    assert_int_equal(accel_queue_create(cpu, 0, &again), ACCEL_ERROR_DEVICE_LOST);
    assert_null(again);
    assert_non_null(strstr(accel_last_error_message(), "is lost"));
    accel_fence_release(f[0]);
    accel_fence_release(f[1]);
    accel_queue_destroy(q);
    accel_function_destroy(fn);
    accel_instance_destroy(inst);
}

/* Polling accel_fence_status finds the loss too, and so does a second
 * queue of the device whose work was waiting behind nothing: every pending
 * fence of the device fails. "Any" waits end the same way. */
static void test_silent_devices_poll_and_any(void **state)
{
    (void)state;
    /* 1 s: the first submission must finish within it on a loaded machine. */
    accel_instance *inst = cpu_instance("2", "1000");
    accel_device *cpu = ts_device_of(inst, "cpu");
    accel_queue *q1, *q2;
    assert_int_equal(accel_queue_create(cpu, 0, &q1), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(cpu, 0, &q2), ACCEL_SUCCESS);
    ts_env_pop();
    accel_function *fn = builtin(cpu, "accel.noop");
    accel_fence *hung, *fine;
    assert_int_equal(noop(q2, fn, &fine), ACCEL_SUCCESS); /* the 1st submission runs */
    assert_int_equal(accel_fence_wait(&fine, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(noop(q1, fn, &hung), ACCEL_SUCCESS); /* the 2nd hangs */
    accel_result r;
    struct timespec nap = {0, 5000000};
    while ((r = accel_fence_status(hung)) == ACCEL_NOT_READY)
        nanosleep(&nap, NULL);
    assert_int_equal(r, ACCEL_ERROR_DEVICE_LOST);
    /* The device is lost for every queue. */
    assert_int_equal(noop(q2, fn, NULL), ACCEL_ERROR_DEVICE_LOST);
    accel_fence *both[2] = {hung, fine};
    assert_int_equal(accel_fence_wait(both, 2, false, UINT64_MAX), ACCEL_ERROR_DEVICE_LOST);
    assert_non_null(strstr(accel_last_error_message(), "ACCEL_DEVICE_TIMEOUT_MS"));
    accel_fence_release(hung);
    accel_fence_release(fine);
    accel_queue_destroy(q1);
    accel_queue_destroy(q2);
    accel_function_destroy(fn);
    accel_instance_destroy(inst);
}

/* ACCEL_DEVICE_TIMEOUT_MS=0: no timeout for that queue; its hung fence
 * stays pending. When another queue of the device, created with a
 * timeout, finds the device lost, the first queue's fences fail too. */
static void test_silent_devices_timeout_zero(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance("1", "0");
    accel_device *cpu = ts_device_of(inst, "cpu");
    accel_queue *never, *timed;
    assert_int_equal(accel_queue_create(cpu, 0, &never), ACCEL_SUCCESS);
    ts_env_push("ACCEL_DEVICE_TIMEOUT_MS", "200");
    assert_int_equal(accel_queue_create(cpu, 0, &timed), ACCEL_SUCCESS);
    ts_env_pop();
    accel_function *fn = builtin(cpu, "accel.noop");
    accel_fence *a, *b;
    assert_int_equal(noop(never, fn, &a), ACCEL_SUCCESS);
    /* Nothing with a timeout is pending: only the caller's timeout ends this. */
    assert_int_equal(accel_fence_wait(&a, 1, true, 300000000ull), ACCEL_TIMEOUT);
    assert_int_equal(accel_fence_status(a), ACCEL_NOT_READY);
    assert_int_equal(noop(timed, fn, &b), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&b, 1, true, UINT64_MAX), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_fence_status(a), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_fence_wait(&a, 1, true, UINT64_MAX), ACCEL_ERROR_DEVICE_LOST);
    assert_non_null(strstr(accel_last_error_message(), "the device is lost"));
    accel_fence_release(a);
    accel_fence_release(b);
    accel_queue_destroy(never);
    accel_queue_destroy(timed);
    accel_function_destroy(fn);
    accel_instance_destroy(inst);
}

/* A value that is not a number of milliseconds is an error naming the
 * variable and saying why; 0 (no timeout) is accepted. */
static void test_silent_devices_timeout_variable(void **state)
{
    (void)state;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    accel_device *cpu = ts_device_of(inst, "cpu");
    const char *bad[] = {"abc", "-5", "10ms", " 7", "99999999999999999999999", "18446744073710"};
    const char *why[] = {": not a decimal number", ": negative", ": \"ms\" after the number",
                         ": not a decimal number", ": more than 18446744073709", ": more than 18446744073709"};
    ts_env_push("ACCEL_DEVICE_TIMEOUT_MS", NULL); /* set below, put back by the pop */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ts_setenv("ACCEL_DEVICE_TIMEOUT_MS", bad[i]);
        accel_queue *q = NULL;
        assert_int_equal(accel_queue_create(cpu, 0, &q), ACCEL_ERROR_INVALID_ARGUMENT);
        assert_null(q);
        assert_non_null(strstr(accel_last_error_message(), "ACCEL_DEVICE_TIMEOUT_MS"));
        if (!strstr(accel_last_error_message(), why[i]))
            fail_msg("\"%s\": %s", bad[i], accel_last_error_message());
    }
    const char *good[] = {"0", "1", "60000", ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ts_setenv("ACCEL_DEVICE_TIMEOUT_MS", good[i]);
        accel_queue *q = NULL;
        assert_int_equal(accel_queue_create(cpu, 0, &q), ACCEL_SUCCESS);
        accel_queue_destroy(q);
    }
    ts_env_pop();
    accel_instance_destroy(inst);
}

/* ---- the uacce emulator ---- */

/* Each test has a tree of its own, so that it sees only its emulator. */
static char root[256], sysfs[300], devroot[300];
static pid_t emulator, client;

static int emulator_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof(root), "%s/silent-XXXXXX", TEST_TMP_DIR);
    ts_mkdirs(TEST_TMP_DIR);
    if (!mkdtemp(root))
        return -1;
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    return ts_env_case_setup(state);
}

static int emulator_teardown(void **state)
{
    (void)state;
    if (client > 0) {
        kill(client, SIGKILL);
        waitpid(client, NULL, 0);
        client = 0;
    }
    if (emulator > 0) {
        kill(emulator, SIGKILL); /* stopped or not */
        waitpid(emulator, NULL, 0);
        emulator = 0;
    }
    ts_rmtree(root);
    return ts_env_case_teardown(state);
}

/* Start the emulator `name` with its stderr in `log` (NULL: inherited). */
static pid_t start_emulator(const char *name, const char *latency_us, const char *log)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/%s", devroot, name);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (log) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || dup2(fd, 2) < 0)
                _exit(127);
        }
        execl(EMULATOR_PATH, EMULATOR_PATH, "--root", root, "--name", name, "--sva", "--instances", "4",
              "--algorithms", "crc32c", "--latency-us", latency_us, (char *)NULL);
        _exit(127);
    }
    struct timespec nap = {0, 10000000};
    for (int i = 0; i < 500; i++) {
        struct stat st;
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return pid;
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("the emulator did not create %s", sock);
    return -1;
}

static accel_instance *wd_instance(const char *timeout_ms)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL};
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sysfs);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", devroot);
    ts_env_push("ACCEL_DEVICE_TIMEOUT_MS", timeout_ms);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    return inst; /* the caller pops the environment after creating its queues */
}

static accel_result crc(accel_queue *q, accel_function *fn, accel_memory *in, accel_memory *out,
                        accel_fence **fence)
{
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
    args[0].u.mem.memory = in;
    args[0].u.mem.size = accel_memory_size(in);
    args[1].u.mem.memory = out;
    args[1].u.mem.size = 4;
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = 2};
    return accel_queue_submit(q, &s, fence);
}

static accel_memory *attached(accel_instance *inst, accel_device *dev, uint64_t size)
{
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = size, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(inst, &mi, &m), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(m, dev, NULL), ACCEL_SUCCESS);
    return m;
}

/* A stopped emulator (SIGSTOP: the socket stays open, nothing answers)
 * turns into device loss after the timeout. */
static void test_silent_devices_stopped_emulator(void **state)
{
    (void)state;
    pid_t emu = emulator = start_emulator("wd_silent-0", "0", NULL);
    accel_instance *inst = wd_instance("200");
    accel_device *wd = ts_device_of(inst, "warpdrive");
    assert_non_null(wd);
    accel_queue *q;
    assert_int_equal(accel_queue_create(wd, 0, &q), ACCEL_SUCCESS);
    ts_env_pop();
    accel_memory *in = attached(inst, wd, 4096), *out = attached(inst, wd, 4);
    accel_function *fn = builtin(wd, "crc32c");
    accel_fence *f;
    /* Alive first. */
    assert_int_equal(crc(q, fn, in, out, &f), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&f, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    accel_fence_release(f);
    assert_int_equal(kill(emu, SIGSTOP), 0);
    int status = 0;
    assert_int_equal(waitpid(emu, &status, WUNTRACED), emu); /* stopped for sure */
    assert_true(WIFSTOPPED(status));
    assert_int_equal(crc(q, fn, in, out, &f), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&f, 1, true, UINT64_MAX), ACCEL_ERROR_DEVICE_LOST);
    assert_non_null(strstr(accel_last_error_message(), "warpdrive:0"));
    assert_non_null(strstr(accel_last_error_message(), "ACCEL_DEVICE_TIMEOUT_MS"));
    assert_int_equal(crc(q, fn, in, out, NULL), ACCEL_ERROR_DEVICE_LOST);
    accel_fence_release(f);
    accel_queue_destroy(q); /* the stopped emulator is not asked */
    accel_function_destroy(fn);
    kill(emu, SIGKILL);
    waitpid(emu, NULL, 0);
    emulator = 0;
    accel_memory_free(in);
    accel_memory_free(out);
    accel_instance_destroy(inst);
}

static unsigned available_instances(const char *name)
{
    char *path = ts_printf("%s/class/uacce/%s/available_instances", sysfs, name);
    char *text = ts_read_text(path);
    unsigned n = text ? (unsigned)strtoul(text, NULL, 10) : 0;
    free(text);
    free(path);
    return n;
}

/* A client killed with its queue open and requests pending: the emulator
 * gives its queue instance back and drops the requests it had not run
 * (its log says how many). */
static void test_silent_devices_emulator_forgets_dead_client(void **state)
{
    (void)state;
    char *log = ts_printf("%s/emulator.log", root);
    /* 100 ms per request: 64 pending requests would keep it busy 6 s. */
    pid_t emu = emulator = start_emulator("wd_silent-1", "100000", log);
    assert_int_equal(available_instances("wd_silent-1"), 4);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    client = fork();
    assert_true(client >= 0);
    if (client == 0) {
        close(ready[0]);
        accel_instance *inst = wd_instance("0");
        accel_device *wd = ts_device_of(inst, "warpdrive");
        accel_queue *q;
        if (!wd || accel_queue_create(wd, 0, &q) != ACCEL_SUCCESS)
            _exit(1);
        accel_memory *in = attached(inst, wd, 4096), *out = attached(inst, wd, 4);
        accel_function *fn = builtin(wd, "crc32c");
        for (int i = 0; i < 64; i++)
            if (crc(q, fn, in, out, NULL) != ACCEL_SUCCESS)
                _exit(2);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(3);
        pause(); /* killed here, queue open, requests pending */
        _exit(4);
    }
    close(ready[1]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    assert_int_equal(available_instances("wd_silent-1"), 3);
    kill(client, SIGKILL);
    int status = 0;
    waitpid(client, &status, 0);
    client = 0;
    assert_true(WIFSIGNALED(status));
    /* The instance comes back once the emulator sees the hang-up. */
    struct timespec nap = {0, 10000000};
    for (int i = 0; i < 3000 && available_instances("wd_silent-1") != 4; i++)
        nanosleep(&nap, NULL);
    assert_int_equal(available_instances("wd_silent-1"), 4);
    kill(emu, SIGTERM);
    waitpid(emu, NULL, 0);
    emulator = 0;
    char *text = ts_read_text(log);
    assert_non_null(text);
    const char *hit = strstr(text, "pending request(s) dropped");
    if (!hit)
        fail_msg("the emulator's log does not report dropped requests:\n%s", text);
    free(text);
    free(log);
}

int main(void)
{
    const struct CMUnitTest cpu_tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_devices_cpu_hang_is_device_loss, ts_env_case_setup,
                                        ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_silent_devices_poll_and_any, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_silent_devices_timeout_zero, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_silent_devices_timeout_variable, ts_env_case_setup,
                                        ts_env_case_teardown),
    };
    const struct CMUnitTest emulator_tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_devices_stopped_emulator, emulator_setup,
                                        emulator_teardown),
        cmocka_unit_test_setup_teardown(test_silent_devices_emulator_forgets_dead_client, emulator_setup,
                                        emulator_teardown),
    };
    int failed = cmocka_run_group_tests(cpu_tests, NULL, NULL);
    failed += cmocka_run_group_tests(emulator_tests, NULL, NULL);
    return failed;
}
