/* all_devices.c — every device of the build tree's example drivers and
 * the uacce emulator, for test_standard and test_stream_functions. */
#include "all_devices.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef BUILD_MANIFEST_DIR
#error "BUILD_MANIFEST_DIR must be defined"
#endif

static char emulator_root[256];
static pid_t emulator;
/* Whether ad_emulator_start pushed the uacce variables, and the depth of
 * the environment stack (support_env.h) before it did. */
static bool env_pushed;
static size_t env_depth;

int ad_emulator_start(const char *emulator_path, const char *name)
{
    signal(SIGPIPE, SIG_IGN);
    ts_mkdirs(TEST_TMP_DIR);
    snprintf(emulator_root, sizeof(emulator_root), "%s/%s-XXXXXX", TEST_TMP_DIR, name);
    if (!mkdtemp(emulator_root))
        return -1;
    char *sysfs = ts_printf("%s/sys", emulator_root), *devroot = ts_printf("%s/dev", emulator_root);
    char *sock = ts_printf("%s/%s", devroot, name);
    env_depth = ts_env_depth();
    env_pushed = true;
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sysfs);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", devroot);
    const char *argv[] = {emulator_path, "--root",      emulator_root, "--name",       name,
                          "--sva",       "--instances", "8",           "--algorithms", "zlib,crc32c,sha256",
                          NULL};
    emulator = ts_spawn_until_socket(argv, sock);
    free(sock);
    free(devroot);
    free(sysfs);
    return 0;
}

void ad_emulator_stop(void)
{
    if (emulator > 0) {
        kill(emulator, SIGKILL);
        waitpid(emulator, NULL, 0);
        emulator = 0;
    }
    if (emulator_root[0])
        ts_rmtree(emulator_root);
    emulator_root[0] = '\0';
    if (env_pushed)
        ts_env_pop_to(env_depth);
    env_pushed = false;
}

ad_set *ad_set_create(bool (*keep)(const ad_device *c), ts_log *log)
{
    ad_set *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *paths[] = {BUILD_MANIFEST_DIR, NULL};
    if (log)
        assert_int_equal(ts_create_logged(&f->inst, log, ACCEL_LOG_ALL, paths), ACCEL_SUCCESS);
    else
        assert_int_equal(ts_create_with_paths(&f->inst, 0, paths), ACCEL_SUCCESS);
    uint32_t n;
    accel_device **devs = ts_devices(f->inst, &n);
    for (uint32_t i = 0; i < n && f->n < AD_MAX_DEVICES; i++) {
        ad_device *c = &f->d[f->n];
        c->dev = devs[i];
        c->info = ts_device_info(devs[i]);
        if (keep && !keep(c))
            continue;
        if (accel_queue_create(c->dev, 0, &c->q) != ACCEL_SUCCESS) {
            print_message("skipping %s: %s\n", c->info.name, accel_last_error_message());
            continue;
        }
        f->n++;
    }
    free(devs);
    return f;
}

int ad_set_teardown(void **state)
{
    ad_set *f = *state;
    for (uint32_t i = 0; i < f->n; i++)
        accel_queue_destroy(f->d[i].q);
    accel_instance_destroy(f->inst);
    free(f);
    return 0;
}

accel_memory *ad_mem(ad_set *f, uint64_t size)
{
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = size ? size : 1, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &m), ACCEL_SUCCESS);
    for (uint32_t i = 0; i < f->n; i++)
        assert_int_equal(accel_memory_attach(m, f->d[i].dev, NULL), ACCEL_SUCCESS);
    return m;
}

accel_result ad_run(ad_device *c, const char *name, const accel_arg *args, uint32_t argc)
{
    accel_function *fn = NULL;
    accel_result r = accel_function_get(c->dev, NULL, name, &fn);
    if (r)
        fail_msg("%s on %s: %s", name, c->info.name, accel_last_error_message());
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = argc};
    accel_fence *fence = NULL;
    r = accel_queue_submit(c->q, &s, &fence);
    if (r == ACCEL_SUCCESS) {
        r = accel_fence_wait(&fence, 1, true, UINT64_MAX);
        accel_fence_release(fence);
    }
    accel_function_destroy(fn);
    if (r != ACCEL_SUCCESS) {
        accel_queue_destroy(c->q);
        c->q = NULL;
        assert_int_equal(accel_queue_create(c->dev, 0, &c->q), ACCEL_SUCCESS);
    }
    return r;
}

uint32_t ad_crc32c_ref(const unsigned char *p, uint64_t n)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
