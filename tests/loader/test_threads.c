/* test_threads.c — instances created, used and destroyed from many threads
 * at once over shared drivers. Meant to be run under TSan and ASan too.
 *
 * Worker threads never call cmocka: they record the first thing that went
 * wrong and the main thread reports it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

#define THREADS    8
#define ITERATIONS 50

typedef struct fixture {
    char *dir;
    char *trace;
    char *manifests[4];
    const char *paths[5];
    char *libs[3];
    char *expected[2]; /* the device list without and with the selector */
} fixture;

static const char *const selector = "*:fpga;fake_many_devices:0";

static atomic_uint log_calls;

static void count_log(void *user_data, accel_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    /* Touch the message: it must be valid during the call. */
    if (message[0] != '\0')
        atomic_fetch_add_explicit(&log_calls, 1, memory_order_relaxed);
}

static accel_result create(const fixture *f, int with_selector, accel_instance **inst)
{
    accel_instance_options o = {
        .struct_size = sizeof(o),
        .manifest_paths = f->paths,
        .manifest_path_count = 4,
        .log_callback = count_log,
        .log_mask = ACCEL_LOG_ALL,
        .device_selector = with_selector ? selector : NULL,
    };
    return accel_instance_create(&o, inst);
}

/* The device list as "driver:index" words, without cmocka (for workers). */
static char *list_devices(accel_instance *inst, char *err, size_t err_size)
{
    uint32_t n = 0;
    if (accel_enumerate_devices(inst, &n, NULL) != ACCEL_SUCCESS) {
        snprintf(err, err_size, "count: %s", accel_last_error_message());
        return NULL;
    }
    accel_device **d = calloc(n + 1, sizeof(*d));
    size_t cap = 16 * (size_t)n + 1;
    char *out = calloc(1, cap);
    uint32_t got = n;
    if (!d || !out || accel_enumerate_devices(inst, &got, d) != ACCEL_SUCCESS || got != n) {
        snprintf(err, err_size, "enumerate failed");
        free(d);
        free(out);
        return NULL;
    }
    size_t len = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        uint32_t kind = 0;
        if (accel_device_get_info(d[i], &info) != ACCEL_SUCCESS || info.index != i) {
            snprintf(err, err_size, "device %u: bad info", i);
            break;
        }
        /* Live queries race with other instances' creation and destruction. */
        if (accel_device_query(d[i], ACCEL_DEVICE_PARAM_KIND, &kind, sizeof(kind), NULL) != ACCEL_SUCCESS ||
            kind != (uint32_t)info.kind) {
            snprintf(err, err_size, "device %u: query disagrees with info", i);
            break;
        }
        len += (size_t)snprintf(out + len, cap - len, "%s%s:%u", i ? " " : "",
                                strncmp(info.driver_name, "fake_", 5) == 0 ? info.driver_name + 5 : "?",
                                info.driver_index);
    }
    free(d);
    if (err[0]) {
        free(out);
        return NULL;
    }
    return out;
}

typedef struct worker {
    pthread_t thread;
    const fixture *f;
    int id;
    char error[512];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int it = 0; it < ITERATIONS && !w->error[0]; it++) {
        int with_selector = (w->id + it) % 2;
        accel_instance *inst = NULL;
        accel_result r = create(w->f, with_selector, &inst);
        if (r != ACCEL_SUCCESS) {
            snprintf(w->error, sizeof(w->error), "iteration %d: create: %s: %s", it, accel_result_name(r),
                     accel_last_error_message());
            break;
        }
        char *got = list_devices(inst, w->error, sizeof(w->error));
        if (got && strcmp(got, w->f->expected[with_selector]) != 0)
            snprintf(w->error, sizeof(w->error), "iteration %d: devices \"%.200s\"", it, got);
        free(got);
        uint32_t drivers = 0;
        if (!w->error[0] && (accel_enumerate_drivers(inst, &drivers, NULL) != ACCEL_SUCCESS || drivers != 2))
            snprintf(w->error, sizeof(w->error), "iteration %d: %u drivers", it, drivers);
        accel_instance_destroy(inst);
    }
    return NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = ts_mkdtemp("threads");
    f->trace = ts_printf("%s/trace", f->dir);
    ts_env_save();
    ts_setenv("ACCEL_FAKE_TRACE", f->trace);
    f->manifests[0] = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    f->manifests[1] = ts_write_fake_manifest(f->dir, "b.json", "refuse");
    f->manifests[2] = ts_write_fake_manifest(f->dir, "c.json", "many_devices");
    f->manifests[3] = ts_write_text(f->dir, "d.json", "{\"broken\": ");
    for (size_t i = 0; i < 4; i++)
        f->paths[i] = f->manifests[i];
    f->libs[0] = ts_fake_lib("good_a");
    f->libs[1] = ts_fake_lib("refuse");
    f->libs[2] = ts_fake_lib("many_devices");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_env_restore();
    ts_rmtree(f->dir);
    for (size_t i = 0; i < 4; i++)
        free(f->manifests[i]);
    for (size_t i = 0; i < 3; i++)
        free(f->libs[i]);
    free(f->expected[0]);
    free(f->expected[1]);
    free(f->dir);
    free(f->trace);
    free(f);
    return 0;
}

/* The single-threaded answer every thread must get. */
static void reference(fixture *f)
{
    for (int s = 0; s < 2; s++) {
        accel_instance *inst = NULL;
        char err[256] = "";
        assert_int_equal(create(f, s, &inst), ACCEL_SUCCESS);
        f->expected[s] = list_devices(inst, err, sizeof(err));
        if (!f->expected[s])
            fail_msg("%s", err);
        accel_instance_destroy(inst);
    }
    assert_int_equal(strncmp(f->expected[0], "good_a:0 good_a:1 many_devices:0 many_devices:1", 47), 0);
    assert_int_equal(strncmp(f->expected[1], "good_a:1 many_devices:1 many_devices:5", 38), 0);
    char *tail = strstr(f->expected[1], " many_devices:0");
    assert_non_null(tail);
    assert_int_equal(tail[strlen(" many_devices:0")], '\0');
}

static void run_workers(fixture *f)
{
    worker w[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i].f = f;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].thread, NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(w[i].thread, NULL);
    for (int i = 0; i < THREADS; i++)
        if (w[i].error[0])
            fail_msg("thread %d: %s", i, w[i].error);
}

static size_t traced(const fixture *f, const char *line)
{
    char *text = ts_read_text(f->trace);
    size_t n = ts_count_lines(text, line, NULL);
    free(text);
    return n;
}

static void test_threads_create_enumerate_destroy(void **state)
{
    fixture *f = *state;
    reference(f);
    atomic_store(&log_calls, 0);
    run_workers(f);
    assert_true(atomic_load(&log_calls) > 0);

    /* Every load was matched by one unload, and nothing is left mapped. */
    for (size_t i = 0; i < 3; i++)
        assert_false(ts_lib_mapped(f->libs[i]));
    size_t inits = traced(f, "good_a init"), finis = traced(f, "good_a fini");
    assert_int_equal(inits, finis);
    assert_true(inits >= 2 && inits <= 2 + THREADS * ITERATIONS);
    assert_int_equal(traced(f, "refuse init"), 0);
    assert_int_equal(traced(f, "many_devices init"), traced(f, "many_devices fini"));
}

/* With one instance held throughout, the drivers are never reloaded. */
static void test_threads_shared_driver_initialized_once(void **state)
{
    fixture *f = *state;
    reference(f);
    size_t before = traced(f, "good_a init");
    accel_instance *keep = NULL;
    assert_int_equal(create(f, 0, &keep), ACCEL_SUCCESS);
    run_workers(f);
    assert_int_equal(traced(f, "good_a init"), before + 1);
    assert_int_equal(traced(f, "many_devices init"), before + 1);
    assert_int_equal(ts_fake_counter("good_a", "fake_init_calls"), 1);
    assert_int_equal(ts_fake_counter("good_a", "fake_fini_calls"), 0);
    /* The held instance was not disturbed. */
    char err[256] = "";
    char *still = list_devices(keep, err, sizeof(err));
    assert_non_null(still);
    assert_string_equal(still, f->expected[0]);
    free(still);
    accel_instance_destroy(keep);
    assert_false(ts_lib_mapped(f->libs[0]));
    assert_int_equal(traced(f, "good_a fini"), traced(f, "good_a init"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threads_create_enumerate_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_shared_driver_initialized_once, setup, teardown),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
