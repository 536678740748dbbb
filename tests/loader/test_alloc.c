/* test_alloc.c — accel_instance_create under allocation failure.
 *
 * Linked with the loader's objects (loader_internal_dep) for the test
 * hooks of alloc.h. For every allocation N that creation makes, make the
 * Nth one fail: creation must then fail with ACCEL_ERROR_OUT_OF_HOST_MEMORY
 * (or succeed with the same result as without failures), leave *instance
 * untouched, leak nothing and leave no driver mapped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "support.h"

typedef struct fixture {
    char *dir;
    char *libs[2];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = ts_mkdtemp("alloc");
    ts_env_save();
    /* Good drivers, one that fails negotiation, one filtered out, one
     * invalid manifest, a device selector and a log callback: every path
     * of instance creation that allocates. */
    free(ts_write_fake_manifest(f->dir, "1-a.json", "good_a"));
    free(ts_write_fake_manifest(f->dir, "2-b.json", "good_b"));
    free(ts_write_fake_manifest(f->dir, "3-refuse.json", "refuse"));
    free(ts_write_fake_manifest(f->dir, "4-filtered.json", "good_c"));
    free(ts_write_text(f->dir, "5-broken.json", "[1, 2"));
    free(ts_write_fake_manifest(f->dir, "6-many.json", "many_devices"));
    ts_setenv("ACCEL_DRIVER_FILES", f->dir);
    ts_setenv("ACCEL_DRIVERS_DISABLE", "fake_good_c");
    ts_setenv("ACCEL_DEVICE_SELECTOR",
              "fake_good_b:*;fake_good_a:0;fake_many_devices:fpga,asic;!fake_many_devices:asic");
    f->libs[0] = ts_fake_lib("good_a");
    f->libs[1] = ts_fake_lib("good_b");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    accel__alloc_fail_at(0);
    ts_env_restore();
    ts_rmtree(f->dir);
    free(f->dir);
    free(f->libs[0]);
    free(f->libs[1]);
    free(f);
    return 0;
}

static void quiet_log(void *user_data, accel_log_level level, const char *message)
{
    (void)level;
    (void)message;
    (*(unsigned *)user_data)++;
}

static unsigned log_lines;

static accel_result create(accel_instance **inst)
{
    accel_instance_options o = {
        .struct_size = sizeof(o),
        .log_callback = quiet_log,
        .log_user_data = &log_lines,
        .log_mask = ACCEL_LOG_ALL,
    };
    return accel_instance_create(&o, inst);
}

/* What an instance amounts to: manifest statuses and the device list. */
static char *describe(accel_instance *inst)
{
    uint32_t n;
    accel_manifest **m = ts_manifests(inst, &n);
    char *out = ts_device_list(inst);
    for (uint32_t i = 0; i < n; i++) {
        accel_manifest_info mi = {.struct_size = sizeof(mi)};
        assert_int_equal(accel_manifest_get_info(m[i], &mi), ACCEL_SUCCESS);
        char *next = ts_printf("%s | %s %s", out, accel_manifest_status_string(mi.status),
                               mi.reason ? mi.reason : "-");
        free(out);
        out = next;
    }
    free(m);
    return out;
}

/* How many allocations one successful creation makes: arm the countdown
 * far away, create, then count how many more allocations succeed before
 * the armed one fails. */
static long allocations_per_create(void)
{
    const long far = 200000;
    accel_instance *inst = NULL;
    accel__alloc_fail_at(far);
    assert_int_equal(create(&inst), ACCEL_SUCCESS);
    long more = 0;
    void *p;
    while ((p = accel__malloc(1)) != NULL) {
        accel__free(p);
        more++;
    }
    accel__alloc_fail_at(0);
    accel_instance_destroy(inst);
    /* `more` successes, then the (far)th allocation failed. */
    return far - more - 1;
}

static void test_alloc_every_failure_point(void **state)
{
    fixture *f = *state;
    long baseline = accel__alloc_live();

    accel_instance *inst = NULL;
    assert_int_equal(create(&inst), ACCEL_SUCCESS);
    char *reference = describe(inst);
    accel_instance_destroy(inst);
    assert_int_equal(accel__alloc_live(), baseline);
    /* The scenario is what it claims to be. */
    assert_non_null(strstr(reference, "fake_good_b:0 fake_good_b:1 fake_good_a:0 fake_many_devices:1"));
    assert_non_null(strstr(reference, "negotiation refused"));
    assert_non_null(strstr(reference, "ACCEL_DRIVERS_DISABLE"));
    assert_non_null(strstr(reference, "not JSON"));

    long total = allocations_per_create();
    assert_int_equal(accel__alloc_live(), baseline);
    assert_true(total > 0);

    long failures = 0, successes = 0;
    for (long n = 1; n <= total + 1; n++) {
        accel_instance *const untouched = (accel_instance *)(uintptr_t)0x5a5a;
        inst = untouched;
        accel__alloc_fail_at(n);
        accel_result r = create(&inst);
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS) {
            char *got = describe(inst);
            if (strcmp(got, reference) != 0)
                fail_msg("allocation %ld failed, creation succeeded but differs:\n  got  %s\n  want %s", n,
                         got, reference);
            free(got);
            accel_instance_destroy(inst);
            if (n <= total)
                print_message("allocation %ld failed, creation went on with the same result\n", n);
            successes++;
        } else {
            if (r != ACCEL_ERROR_OUT_OF_HOST_MEMORY)
                fail_msg("allocation %ld failed: %s (%s), expected ACCEL_ERROR_OUT_OF_HOST_MEMORY", n,
                         accel_result_name(r), accel_last_error_message());
            assert_ptr_equal(inst, untouched);
            assert_non_null(strstr(accel_last_error_message(), "out of host memory"));
            failures++;
        }
        long live = accel__alloc_live();
        if (live != baseline)
            fail_msg("allocation %ld failed: %ld allocation(s) leaked", n, live - baseline);
        for (size_t i = 0; i < 2; i++)
            if (ts_lib_mapped(f->libs[i]))
                fail_msg("allocation %ld failed: %s is still mapped", n, f->libs[i]);
    }
    print_message("%ld allocation points: %ld failed cleanly, %ld tolerated\n", total, failures,
                  successes - 1);
    /* The last round injected nothing. */
    assert_true(successes >= 1);
    assert_true(failures > 20);
    free(reference);
}

/* The same with a second instance alive: the shared drivers are already
 * loaded, so a failure must not disturb them. */
static void test_alloc_failure_beside_live_instance(void **state)
{
    fixture *f = *state;
    accel_instance *keep = NULL;
    assert_int_equal(create(&keep), ACCEL_SUCCESS);
    char *reference = describe(keep);
    long baseline = accel__alloc_live();

    long failures = 0;
    for (long n = 1; n < 100000; n++) {
        accel_instance *inst = NULL;
        accel__alloc_fail_at(n);
        accel_result r = create(&inst);
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS) {
            char *got = describe(inst);
            assert_string_equal(got, reference);
            free(got);
            accel_instance_destroy(inst);
            if (accel__alloc_live() != baseline)
                fail_msg("allocation %ld: leak", n);
            break;
        }
        assert_int_equal(r, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
        if (accel__alloc_live() != baseline)
            fail_msg("allocation %ld failed: %ld allocation(s) leaked", n, accel__alloc_live() - baseline);
        failures++;
    }
    assert_true(failures > 20);
    /* The surviving instance and its drivers are intact. */
    for (size_t i = 0; i < 2; i++)
        assert_true(ts_lib_mapped(f->libs[i]));
    char *still = describe(keep);
    assert_string_equal(still, reference);
    free(still);
    free(reference);
    accel_instance_destroy(keep);
    for (size_t i = 0; i < 2; i++)
        assert_false(ts_lib_mapped(f->libs[i]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alloc_every_failure_point, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failure_beside_live_instance, setup, teardown),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
