/* test_warpdrive.c — a WarpDrive device through the loader: the uacce
 * emulator started as a child process, found through its sysfs tree, used
 * beside the cpu device on one memory object, listed by accelinfo --cdi,
 * and killed in the middle of a queue. */
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

static char root[256], sysfs[300], devroot[300];
static pid_t emulator;

static void start_emulator(void)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/wd_loader-0", devroot);
    unlink(sock);
    emulator = fork();
    assert_true(emulator >= 0);
    if (emulator == 0) {
        execl(EMULATOR_PATH, EMULATOR_PATH, "--root", root, "--name", "wd_loader-0", "--sva", "--instances", "4",
              "--algorithms", "zlib,crc32c,sha256", "--latency-us", "20000", (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return;
        usleep(10000);
    }
    fail_msg("the emulator did not start");
}

static void stop_emulator(int sig)
{
    if (emulator > 0) {
        kill(emulator, sig);
        waitpid(emulator, NULL, 0);
        emulator = 0;
    }
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof(root), "%s/wd-XXXXXX", TEST_TMP_DIR);
    ts_mkdirs(TEST_TMP_DIR);
    if (!mkdtemp(root))
        return -1;
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    setenv("ACCEL_UACCE_SYSFS_ROOT", sysfs, 1);
    setenv("ACCEL_UACCE_DEV_ROOT", devroot, 1);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_emulator(SIGKILL);
    ts_rmtree(root);
    return 0;
}

static accel_instance *create(void)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    return inst;
}

static accel_device *find(accel_instance *inst, const char *driver)
{
    uint32_t n;
    accel_device **devs = ts_devices(inst, &n), *d = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ts_device_info(devs[i]).driver_name, driver) == 0)
            d = devs[i];
    free(devs);
    return d;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static accel_result crc(accel_queue *q, accel_function *fn, accel_memory *in, uint64_t n, accel_memory *out,
                        uint64_t slot, accel_fence **fence)
{
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
    args[0].u.mem.memory = in;
    args[0].u.mem.size = n;
    args[1].u.mem.memory = out;
    args[1].u.mem.offset = slot * 4;
    args[1].u.mem.size = 4;
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = 2};
    return accel_queue_submit(q, &s, fence);
}

static void test_warpdrive_beside_cpu(void **state)
{
    (void)state;
    start_emulator();
    accel_instance *inst = create();
    accel_device *wd = find(inst, "warpdrive"), *cpu = find(inst, "cpu");
    assert_non_null(wd);
    assert_non_null(cpu);
    accel_device_info info = ts_device_info(wd);
    assert_int_equal(info.kind, ACCEL_DEVICE_KIND_ASIC);
    assert_int_equal(info.interface, ACCEL_DEVICE_INTERFACE_UACCE);
    assert_non_null(strstr(info.device_node, "wd_loader-0"));

    /* One buffer, both devices, same crc32c. */
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = 4096 + 3, .numa_node = -1};
    accel_memory *in = NULL, *out = NULL;
    assert_int_equal(accel_memory_alloc(inst, &mi, &in), ACCEL_SUCCESS);
    mi.size = 8;
    assert_int_equal(accel_memory_alloc(inst, &mi, &out), ACCEL_SUCCESS);
    unsigned char *p;
    accel_memory_map(in, (void **)&p);
    for (int i = 0; i < 4096 + 3; i++)
        p[i] = (unsigned char)(i * 7);
    accel_attach_mode mode;
    assert_int_equal(accel_memory_attach(in, wd, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY); /* SVA */
    assert_int_equal(accel_memory_attach(out, wd, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(in, cpu, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(out, cpu, NULL), ACCEL_SUCCESS);
    accel_function *fw = NULL, *fc = NULL;
    assert_int_equal(accel_function_get(wd, NULL, "crc32c", &fw), ACCEL_SUCCESS);
    assert_int_equal(accel_function_get(cpu, NULL, "crc32c", &fc), ACCEL_SUCCESS);
    accel_queue *qw, *qc;
    assert_int_equal(accel_queue_create(wd, 0, &qw), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(cpu, 0, &qc), ACCEL_SUCCESS);
    accel_fence *a, *b;
    assert_int_equal(crc(qw, fw, in, 4096 + 3, out, 0, &a), ACCEL_SUCCESS);
    assert_int_equal(crc(qc, fc, in, 4096 + 3, out, 1, &b), ACCEL_SUCCESS);
    accel_fence *both[2] = {a, b};
    assert_int_equal(accel_fence_wait(both, 2, true, 10000000000ull), ACCEL_SUCCESS);
    uint32_t v[2];
    void *o;
    accel_memory_map(out, &o);
    memcpy(v, o, 8);
    assert_int_equal(v[0], v[1]);
    accel_fence_release(a);
    accel_fence_release(b);

    /* accelinfo --cdi lists the device node, and selects the device by uuid. */
    char *files = ts_printf("ACCEL_DRIVER_FILES=%s/accel_warpdrive.json", BUILD_MANIFEST_DIR);
    char *sys = ts_printf("ACCEL_UACCE_SYSFS_ROOT=%s", sysfs), *dev = ts_printf("ACCEL_UACCE_DEV_ROOT=%s", devroot);
    const char *env[] = {files, sys, dev, NULL};
    const char *argv[] = {ACCELINFO_PATH, "--cdi", NULL};
    char *cdi_out = NULL, *cdi_err = NULL;
    assert_int_equal(ts_run(argv, env, &cdi_out, &cdi_err), 0);
    assert_non_null(strstr(cdi_out, "\"cdiVersion\""));
    assert_non_null(strstr(cdi_out, "wd_loader-0"));
    assert_non_null(strstr(cdi_out, "ACCEL_DEVICE_SELECTOR=warpdrive:uuid="));
    free(cdi_out);
    free(cdi_err);
    free(files);
    free(sys);
    free(dev);

    /* Kill the device with requests pending (20 ms each): they fail with
     * ACCEL_ERROR_DEVICE_LOST within a second, nothing hangs, and the cpu
     * queue keeps working. */
    accel_fence *pending[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(crc(qw, fw, in, 4096, out, 0, &pending[i]), ACCEL_SUCCESS);
    usleep(30000);
    uint64_t t0 = now_ms();
    stop_emulator(SIGKILL);
    accel_result r = accel_fence_wait(pending, 8, true, 5000000000ull);
    uint64_t waited = now_ms() - t0;
    assert_int_equal(r, ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_fence_status(pending[7]), ACCEL_ERROR_DEVICE_LOST);
    if (waited > 1000)
        fail_msg("the pending fences took %llu ms to fail", (unsigned long long)waited);
    assert_int_equal(crc(qw, fw, in, 16, out, 0, NULL), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(crc(qc, fc, in, 16, out, 1, &b), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&b, 1, true, 5000000000ull), ACCEL_SUCCESS);
    accel_fence_release(b);
    for (int i = 0; i < 8; i++)
        accel_fence_release(pending[i]);
    accel_queue_destroy(qw);
    accel_queue_destroy(qc);
    accel_function_destroy(fw);
    accel_function_destroy(fc);
    accel_memory_free(in);
    accel_memory_free(out);
    accel_instance_destroy(inst);

    /* After a restart, a new instance finds the device again. */
    start_emulator();
    inst = create();
    assert_non_null(find(inst, "warpdrive"));
    accel_instance_destroy(inst);
    stop_emulator(SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warpdrive_beside_cpu),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
