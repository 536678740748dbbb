/* test_loading.c — loading drivers: every way a fake driver can be wrong,
 * device enumeration, sharing and unloading, filtering before dlopen, log
 * delivery and struct_size handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

typedef ts_traced fixture;

static int setup(void **state)
{
    *state = ts_traced_create("loading");
    return 0;
}

static int teardown(void **state)
{
    ts_traced_destroy(*state);
    return 0;
}

/* ------------------------------------------------------------------------ */

static const struct bad_case {
    const char *variant;
    accel_result result;
    const char *reason; /* what the reason must name */
} bad_cases[] = {
    {"no_negotiate", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "does not export accel_icd_negotiate"},
    {"version_old", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "interface version 0.9"},
    {"version_new", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "interface version 2.0"},
    {"refuse", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "negotiation refused"},
    {"null_query", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "device_query"},
    {"short_table", ACCEL_ERROR_INCOMPATIBLE_DRIVER, "function table is"},
    {"init_fails", ACCEL_ERROR_INITIALIZATION_FAILED, "driver_init failed"},
    {"enum_fails", ACCEL_ERROR_DEVICE_LOST, "enumerate_devices failed"},
};
#define BAD_COUNT (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void test_loading_bad_variants_rejected(void **state)
{
    fixture *f = *state;
    const char *paths[BAD_COUNT + 6] = {0};
    char *owned[BAD_COUNT + 6] = {0};
    size_t n = 0;

    /* The good drivers first and last: the bad ones in between must not
     * disturb them. */
    owned[n] = ts_write_fake_manifest(f->dir, "00-good_a.json", "good_a");
    paths[n] = owned[n];
    n++;
    for (size_t i = 0; i < BAD_COUNT; i++, n++) {
        char *file = ts_printf("%02zu-%s.json", i + 1, bad_cases[i].variant);
        owned[n] = ts_write_fake_manifest(f->dir, file, bad_cases[i].variant);
        paths[n] = owned[n];
        free(file);
    }
    char *missing_lib = ts_printf("%s/libfake_does_not_exist.so", f->dir);
    char *missing = ts_write_manifest(f->dir, "50-missing.json", "fake_missing", missing_lib);
    char *broken = ts_write_text(f->dir, "51-broken.json", "{ \"file_format_version\": \"1.0.0\", ");
    char *good_b = ts_write_fake_manifest(f->dir, "99-good_b.json", "good_b");
    paths[n++] = missing;
    paths[n++] = broken;
    paths[n++] = good_b;

    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    assert_non_null(inst);

    uint32_t count;
    accel_manifest **all = ts_manifests(inst, &count);
    assert_int_equal(count, n);
    free(all);

    accel_manifest_info mi;
    for (size_t i = 0; i < BAD_COUNT; i++) {
        const struct bad_case *c = &bad_cases[i];
        assert_true(ts_manifest_info(inst, paths[i + 1], &mi));
        if (mi.status != ACCEL_MANIFEST_FAILED || mi.result != c->result || !mi.reason ||
            !strstr(mi.reason, c->reason))
            fail_msg("%s: status %s, result %s, reason \"%s\"; expected failed, %s, \"%s\"", c->variant,
                     accel_manifest_status_string(mi.status), accel_result_name(mi.result),
                     mi.reason ? mi.reason : "(null)", accel_result_name(c->result), c->reason);
        assert_null(mi.driver);
        char *name = ts_printf("fake_%s", c->variant);
        assert_string_equal(mi.driver_name, name);
        free(name);
        /* A rejected library is unloaded again. */
        char *lib = ts_fake_lib(c->variant);
        assert_false(ts_lib_mapped(lib));
        free(lib);
    }

    assert_true(ts_manifest_info(inst, missing, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_FAILED);
    assert_int_equal(mi.result, ACCEL_ERROR_DRIVER_LOAD_FAILED);
    assert_non_null(strstr(mi.reason, "cannot load library"));
    assert_non_null(strstr(mi.reason, "libfake_does_not_exist.so"));

    assert_true(ts_manifest_info(inst, broken, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_int_equal(mi.result, ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(mi.reason, "not JSON"));
    assert_null(mi.driver_name);

    const char *good[] = {paths[0], good_b};
    for (size_t i = 0; i < 2; i++) {
        assert_true(ts_manifest_info(inst, good[i], &mi));
        assert_int_equal(mi.status, ACCEL_MANIFEST_LOADED);
        assert_int_equal(mi.result, ACCEL_SUCCESS);
        assert_null(mi.reason);
        assert_non_null(mi.driver);
        accel_driver_info di = {.struct_size = sizeof(di)};
        assert_int_equal(accel_driver_get_info(mi.driver, &di), ACCEL_SUCCESS);
        assert_int_equal(di.device_count, 2);
        assert_int_equal(di.interface_version, ACCEL_MAKE_VERSION(1, 0));
        assert_string_equal(di.manifest_path, good[i]);
        assert_non_null(strstr(di.version, "3.4.5-good_"));
    }
    uint32_t drivers = 0;
    assert_int_equal(accel_enumerate_drivers(inst, &drivers, NULL), ACCEL_SUCCESS);
    assert_int_equal(drivers, 2);

    char *list = ts_device_list(inst);
    assert_string_equal(list, "fake_good_a:0 fake_good_a:1 fake_good_b:0 fake_good_b:1");
    free(list);

    /* What the loader called in each rejected driver. */
    assert_int_equal(ts_traced_count(f, "no_negotiate", "negotiate"), 0);
    assert_int_equal(ts_traced_count(f, "version_old", "negotiate"), 1);
    assert_int_equal(ts_traced_count(f, "version_old", "init"), 0);
    assert_int_equal(ts_traced_count(f, "null_query", "init"), 0);
    assert_int_equal(ts_traced_count(f, "short_table", "init"), 0);
    assert_int_equal(ts_traced_count(f, "init_fails", "init"), 1);
    assert_int_equal(ts_traced_count(f, "init_fails", "fini"), 0); /* fini never follows a failed init */
    assert_int_equal(ts_traced_count(f, "enum_fails", "init"), 1);
    assert_int_equal(ts_traced_count(f, "enum_fails", "fini"), 1); /* a started driver is finalized */

    accel_instance_destroy(inst);
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(missing_lib);
    free(missing);
    free(broken);
    free(good_b);
}

static void test_loading_zero_devices_ok(void **state)
{
    fixture *f = *state;
    char *m = ts_write_fake_manifest(f->dir, "zero.json", "zero_devices");
    accel_instance *inst = ts_create_one(m);

    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, m, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_LOADED);
    accel_driver_info di = {.struct_size = sizeof(di)};
    assert_int_equal(accel_driver_get_info(mi.driver, &di), ACCEL_SUCCESS);
    assert_int_equal(di.device_count, 0);

    uint32_t count = 77;
    assert_int_equal(accel_enumerate_devices(inst, &count, NULL), ACCEL_SUCCESS);
    assert_int_equal(count, 0);
    accel_device *one[1] = {NULL};
    count = 1;
    assert_int_equal(accel_enumerate_devices(inst, &count, one), ACCEL_SUCCESS);
    assert_int_equal(count, 0);
    assert_null(one[0]);

    accel_instance_destroy(inst);
    free(m);
}

static void test_loading_many_devices_two_call(void **state)
{
    fixture *f = *state;
    char *a = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    char *many = ts_write_fake_manifest(f->dir, "b.json", "many_devices");
    const char *paths[] = {a, many, NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);

    uint32_t total = 0;
    assert_int_equal(accel_enumerate_devices(inst, &total, NULL), ACCEL_SUCCESS);
    assert_int_equal(total, 102);
    accel_device **all = calloc(total, sizeof(*all));
    uint32_t count = total;
    assert_int_equal(accel_enumerate_devices(inst, &count, all), ACCEL_SUCCESS);
    assert_int_equal(count, total);

    /* Too small: fills what fits, says how many, ACCEL_INCOMPLETE. */
    accel_device *some[11];
    memset(some, 0, sizeof(some));
    count = 10;
    assert_int_equal(accel_enumerate_devices(inst, &count, some), ACCEL_INCOMPLETE);
    assert_int_equal(count, 10);
    for (uint32_t i = 0; i < 10; i++)
        assert_ptr_equal(some[i], all[i]);
    assert_null(some[10]);
    count = 0;
    assert_int_equal(accel_enumerate_devices(inst, &count, some), ACCEL_INCOMPLETE);
    assert_int_equal(count, 0);

    /* A larger array than needed: the count shrinks to the real number. */
    accel_device **big = calloc(total + 5, sizeof(*big));
    count = total + 5;
    assert_int_equal(accel_enumerate_devices(inst, &count, big), ACCEL_SUCCESS);
    assert_int_equal(count, total);
    assert_null(big[total]);
    free(big);

    static const accel_device_kind cycle[] = {ACCEL_DEVICE_KIND_GPU, ACCEL_DEVICE_KIND_FPGA,
                                              ACCEL_DEVICE_KIND_ASIC, ACCEL_DEVICE_KIND_CPU};
    for (uint32_t i = 0; i < total; i++) {
        accel_device_info di = ts_device_info(all[i]);
        assert_int_equal(di.index, i);
        if (i < 2) {
            assert_string_equal(di.driver_name, "fake_good_a");
            assert_int_equal(di.driver_index, i);
        } else {
            assert_string_equal(di.driver_name, "fake_many_devices");
            assert_int_equal(di.driver_index, i - 2);
            assert_int_equal(di.kind, cycle[(i - 2) % 4]);
            assert_int_equal(di.available_instances, 4 + (i - 2));
        }
        for (uint32_t j = 0; j < i; j++) {
            accel_device_info dj = ts_device_info(all[j]);
            if (memcmp(di.uuid, dj.uuid, ACCEL_UUID_SIZE) == 0)
                fail_msg("devices %u and %u share a uuid", j, i);
        }
    }

    /* The other arrays follow the same pattern. */
    uint32_t nm = 1;
    accel_manifest *m1[1];
    assert_int_equal(accel_enumerate_manifests(inst, &nm, m1), ACCEL_INCOMPLETE);
    assert_int_equal(nm, 1);
    uint32_t nd = 1;
    accel_driver *d1[1];
    assert_int_equal(accel_enumerate_drivers(inst, &nd, d1), ACCEL_INCOMPLETE);
    assert_int_equal(nd, 1);
    accel_driver_info di = {.struct_size = sizeof(di)};
    assert_int_equal(accel_driver_get_info(d1[0], &di), ACCEL_SUCCESS);
    assert_string_equal(di.name, "fake_good_a");

    free(all);
    accel_instance_destroy(inst);
    free(a);
    free(many);
}

/* The partition (device 99 of many_devices) points at device 0 of its
 * driver, but only when that parent is selected too. */
static void test_loading_partition_parent(void **state)
{
    fixture *f = *state;
    char *many = ts_write_fake_manifest(f->dir, "many.json", "many_devices");
    const char *paths[] = {many, NULL};
    accel_instance *inst = ts_create_one(many);
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    assert_int_equal(n, 100);
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info di = ts_device_info(d[i]);
        if (i == 99) {
            assert_ptr_equal(di.parent, d[0]);
            assert_true(di.flags & ACCEL_DEVICE_FLAG_PARTITION);
        } else {
            assert_null(di.parent);
            assert_false(di.flags & ACCEL_DEVICE_FLAG_PARTITION);
        }
    }
    free(d);
    accel_instance_destroy(inst);

    accel_instance_options o = {
        .struct_size = sizeof(o),
        .manifest_paths = paths,
        .manifest_path_count = 1,
        .device_selector = "fake_many_devices:99",
    };
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_SUCCESS);
    d = ts_devices(inst, &n);
    assert_int_equal(n, 1);
    accel_device_info di = ts_device_info(d[0]);
    assert_int_equal(di.driver_index, 99);
    assert_null(di.parent);
    free(d);
    accel_instance_destroy(inst);

    /* The parent selected after its partition: the pointer follows it. */
    o.device_selector = "fake_many_devices:99;fake_many_devices:0";
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_SUCCESS);
    d = ts_devices(inst, &n);
    assert_int_equal(n, 2);
    di = ts_device_info(d[0]);
    assert_int_equal(di.driver_index, 99);
    assert_ptr_equal(di.parent, d[1]);
    assert_int_equal(ts_device_info(di.parent).driver_index, 0);
    free(d);
    accel_instance_destroy(inst);
    free(many);
}

/* One load serves every instance; the last destroy unloads. */
static void test_loading_shared_driver_refcount(void **state)
{
    fixture *f = *state;
    char *lib = ts_fake_lib("good_a");
    char *m = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    assert_false(ts_lib_mapped(lib));

    accel_instance *one = ts_create_one(m);
    assert_true(ts_lib_mapped(lib));
    assert_int_equal(ts_fake_counter("good_a", "fake_negotiate_calls"), 1);
    assert_int_equal(ts_fake_counter("good_a", "fake_init_calls"), 1);

    accel_instance *two = ts_create_one(m);
    assert_int_equal(ts_fake_counter("good_a", "fake_negotiate_calls"), 1);
    assert_int_equal(ts_fake_counter("good_a", "fake_init_calls"), 1);

    /* Separate handles, same devices. */
    uint32_t n1, n2;
    accel_device **d1 = ts_devices(one, &n1), **d2 = ts_devices(two, &n2);
    assert_int_equal(n1, 2);
    assert_int_equal(n2, 2);
    assert_ptr_not_equal(d1[0], d2[0]);
    accel_device_info i1 = ts_device_info(d1[1]), i2 = ts_device_info(d2[1]);
    assert_memory_equal(i1.uuid, i2.uuid, ACCEL_UUID_SIZE);
    free(d1);
    free(d2);

    accel_instance_destroy(one);
    assert_true(ts_lib_mapped(lib));
    assert_int_equal(ts_fake_counter("good_a", "fake_fini_calls"), 0);
    /* The survivor still works. */
    uint32_t kind = 0;
    size_t size = 0;
    d2 = ts_devices(two, &n2);
    assert_int_equal(accel_device_query(d2[0], ACCEL_DEVICE_PARAM_KIND, &kind, sizeof(kind), &size),
                     ACCEL_SUCCESS);
    assert_int_equal(kind, ACCEL_DEVICE_KIND_GPU);
    free(d2);

    accel_instance_destroy(two);
    assert_false(ts_lib_mapped(lib));
    assert_int_equal(ts_traced_count(f, "good_a", "init"), 1);
    assert_int_equal(ts_traced_count(f, "good_a", "fini"), 1);

    /* Loading again after the unload starts from scratch. */
    one = ts_create_one(m);
    assert_int_equal(ts_fake_counter("good_a", "fake_init_calls"), 1);
    assert_int_equal(ts_traced_count(f, "good_a", "init"), 2);
    accel_instance_destroy(one);
    assert_false(ts_lib_mapped(lib));
    assert_int_equal(ts_traced_count(f, "good_a", "fini"), 2);
    free(m);
    free(lib);
}

static void test_loading_no_unload_env(void **state)
{
    fixture *f = *state;
    /* "0" means unload as usual. */
    char *lib_d = ts_fake_lib("good_d");
    char *md = ts_write_fake_manifest(f->dir, "d.json", "good_d");
    ts_setenv("ACCEL_LOADER_NO_UNLOAD", "0");
    accel_instance *inst = ts_create_one(md);
    assert_true(ts_lib_mapped(lib_d));
    accel_instance_destroy(inst);
    assert_false(ts_lib_mapped(lib_d));

    /* good_c stays mapped for the rest of this process. */
    char *lib_c = ts_fake_lib("good_c");
    char *mc = ts_write_fake_manifest(f->dir, "c.json", "good_c");
    ts_setenv("ACCEL_LOADER_NO_UNLOAD", "1");
    inst = ts_create_one(mc);
    accel_instance_destroy(inst);
    assert_true(ts_lib_mapped(lib_c));
    assert_int_equal(ts_fake_counter("good_c", "fake_fini_calls"), 1); /* finalized, not unmapped */

    free(lib_c);
    free(lib_d);
    free(mc);
    free(md);
}

/* An instance of the fake variant alone (manifest f->dir/k.json), made and
 * destroyed: it found `devices` devices, its driver was initialized once,
 * and its library stays mapped (ACCEL_ICD_FLAG_NO_UNLOAD). Returns the
 * manifest's path. */
static char *load_no_unload(const fixture *f, const char *variant, uint32_t devices)
{
    char *lib = ts_fake_lib(variant);
    char *m = ts_write_fake_manifest(f->dir, "k.json", variant);
    accel_instance *inst = ts_create_one(m);
    uint32_t n;
    free(ts_devices(inst, &n));
    assert_int_equal(n, devices);
    accel_instance_destroy(inst);
    assert_true(ts_lib_mapped(lib));
    assert_int_equal(ts_fake_counter(variant, "fake_init_calls"), 1);
    free(lib);
    return m;
}

static void test_loading_no_unload_flag(void **state)
{
    char *m = load_no_unload(*state, "no_unload", 2);
    assert_int_equal(ts_fake_counter("no_unload", "fake_fini_calls"), 1);

    /* The next instance initializes the (still mapped) driver again. */
    accel_instance *inst = ts_create_one(m);
    assert_int_equal(ts_fake_counter("no_unload", "fake_init_calls"), 2);
    accel_instance_destroy(inst);
    assert_int_equal(ts_fake_counter("no_unload", "fake_fini_calls"), 2);
    free(m);
}

/* ACCEL_ICD_FLAG_NO_UNLOAD also holds when driver_init fails: the driver
 * may have started threads or registered destructors before failing. */
static void test_loading_no_unload_flag_after_failed_init(void **state)
{
    free(load_no_unload(*state, "no_unload_init_fails", 0));
    assert_int_equal(ts_fake_counter("no_unload_init_fails", "fake_fini_calls"), 0);
}

/* Filtered drivers are never dlopen()ed, not even for a moment. */
static void test_loading_filtered_not_dlopened(void **state)
{
    fixture *f = *state;
    char *a = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    char *b = ts_write_fake_manifest(f->dir, "b.json", "good_b");
    char *lib_a = ts_fake_lib("good_a"), *lib_b = ts_fake_lib("good_b");
    const char *paths[] = {a, b, NULL};
    accel_manifest_info mi;

    ts_setenv("ACCEL_DRIVERS_DISABLE", "fake_good_b");
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    assert_true(ts_lib_mapped(lib_a));
    assert_false(ts_lib_mapped(lib_b));
    assert_true(ts_manifest_info(inst, b, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "ACCEL_DRIVERS_DISABLE"));
    accel_instance_destroy(inst);

    ts_setenv("ACCEL_DRIVERS_DISABLE", NULL);
    ts_setenv("ACCEL_DRIVERS_SELECT", "*_a");
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    assert_true(ts_lib_mapped(lib_a));
    assert_false(ts_lib_mapped(lib_b));
    assert_true(ts_manifest_info(inst, b, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "ACCEL_DRIVERS_SELECT"));
    accel_instance_destroy(inst);

    assert_int_equal(ts_traced_count(f, "good_b", "negotiate"), 0);
    assert_int_equal(ts_traced_count(f, "good_a", "negotiate"), 2);
    free(a);
    free(b);
    free(lib_a);
    free(lib_b);
}

/* Every skipped manifest gives one log line that names its file. */
static void test_loading_log_one_line_per_skipped(void **state)
{
    fixture *f = *state;
    char *good = ts_write_fake_manifest(f->dir, "1-good.json", "good_a");
    char *dup = ts_write_fake_manifest(f->dir, "2-dup.json", "good_a");
    char *broken = ts_write_text(f->dir, "3-broken.json", "not json at all");
    char *nodriver = ts_write_text(f->dir, "4-nodriver.json", "{\"file_format_version\": \"1.0.0\"}");
    char *filtered = ts_write_fake_manifest(f->dir, "5-filtered.json", "good_b");
    char *failing = ts_write_fake_manifest(f->dir, "6-failing.json", "refuse");
    char *absent = ts_printf("%s/7-absent.json", f->dir);
    const char *paths[] = {good, dup, broken, nodriver, filtered, failing, absent, NULL};
    ts_setenv("ACCEL_DRIVERS_DISABLE", "fake_good_b");

    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_logged(&inst, &log, ACCEL_LOG_ALL, paths), ACCEL_SUCCESS);

    const char *skipped[] = {dup, broken, nodriver, filtered, absent};
    const char *why[] = {"same driver name", "not JSON", "driver missing", "ACCEL_DRIVERS_DISABLE",
                         "No such file"};
    for (size_t i = 0; i < 5; i++) {
        accel_manifest_info mi;
        assert_true(ts_manifest_info(inst, skipped[i], &mi));
        assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
        size_t lines = ts_log_count(&log, skipped[i], NULL);
        if (lines != 1 || ts_log_count(&log, skipped[i], "skipped", why[i], NULL) != 1)
            fail_msg("%s: %zu line(s) name it; expected one saying skipped and \"%s\"", skipped[i], lines,
                     why[i]);
    }
    assert_int_equal(ts_log_count(&log, failing, "failed", "negotiation refused", NULL), 1);
    assert_int_equal(ts_log_count(&log, failing, NULL), 1);
    accel_instance_destroy(inst);

    /* Without a callback mask nothing is delivered. */
    size_t before = log.count;
    assert_int_equal(ts_create_logged(&inst, &log, 0, paths), ACCEL_SUCCESS);
    accel_instance_destroy(inst);
    assert_int_equal(log.count, before);

    ts_log_free(&log);
    free(good);
    free(dup);
    free(broken);
    free(nodriver);
    free(filtered);
    free(failing);
    free(absent);
}

/* What a driver logs through the loader services reaches the callback,
 * prefixed with the driver's name. */
static void test_loading_driver_log_reaches_callback(void **state)
{
    fixture *f = *state;
    char *m = ts_write_fake_manifest(f->dir, "fails.json", "init_fails");
    const char *paths[] = {m, NULL};
    static const struct {
        uint32_t mask;
        size_t lines;
        accel_log_level level;
    } cases[] = {
        {ACCEL_LOG_ALL, 1, ACCEL_LOG_DRIVER},
        {ACCEL_LOG_DRIVER, 1, ACCEL_LOG_DRIVER},
        {ACCEL_LOG_ERROR, 1, ACCEL_LOG_ERROR}, /* a driver's error is also an error */
        {ACCEL_LOG_INFO | ACCEL_LOG_DEBUG, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ts_log log;
        ts_log_init(&log);
        accel_instance *inst = NULL;
        assert_int_equal(ts_create_logged(&inst, &log, cases[i].mask, paths), ACCEL_SUCCESS);
        accel_instance_destroy(inst);
        size_t n =
            ts_log_count(&log, "driver fake_init_fails:", "cannot reach the simulated device", m, NULL);
        if (n != cases[i].lines)
            fail_msg("mask 0x%x: %zu driver line(s), expected %zu", cases[i].mask, n, cases[i].lines);
        for (size_t j = 0; n && j < log.count; j++)
            if (strstr(log.lines[j], "cannot reach the simulated device"))
                assert_int_equal(log.levels[j], cases[i].level);
        ts_log_free(&log);
    }

    /* A working driver's informational message, at init only. */
    char *good = ts_write_fake_manifest(f->dir, "good.json", "good_b");
    const char *gpaths[] = {good, NULL};
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_logged(&inst, &log, ACCEL_LOG_DRIVER, gpaths), ACCEL_SUCCESS);
    assert_int_equal(ts_log_count(&log, "driver fake_good_b:", "2 device(s) ready", NULL), 1);
    for (size_t j = 0; j < log.count; j++)
        assert_int_equal(log.levels[j], ACCEL_LOG_DRIVER);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(good);
    free(m);
}

#define SENTINEL 0xa5

static void assert_untouched(const void *p, size_t from, size_t to)
{
    const unsigned char *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i] != SENTINEL)
            fail_msg("byte %zu past struct_size %zu was written", i, from);
}

/* Callers built against older headers pass smaller structs: nothing past
 * their struct_size may be written. */
static void test_loading_struct_size_respected(void **state)
{
    fixture *f = *state;
    char *m = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    accel_instance *inst = ts_create_one(m);
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    assert_int_equal(n, 2);

    accel_device_info di;
    size_t cut = offsetof(accel_device_info, kind);
    memset(&di, SENTINEL, sizeof(di));
    di.struct_size = (uint32_t)cut;
    assert_int_equal(accel_device_get_info(d[1], &di), ACCEL_SUCCESS);
    assert_int_equal(di.struct_size, cut);
    assert_int_equal(di.index, 1);
    assert_string_equal(di.driver_name, "fake_good_a");
    assert_string_equal(di.name, "good_a fpga1");
    assert_untouched(&di, cut, sizeof(di));

    accel_manifest **ms = ts_manifests(inst, &n);
    accel_manifest_info mi;
    cut = offsetof(accel_manifest_info, status);
    memset(&mi, SENTINEL, sizeof(mi));
    mi.struct_size = (uint32_t)cut;
    assert_int_equal(accel_manifest_get_info(ms[0], &mi), ACCEL_SUCCESS);
    assert_string_equal(mi.path, m);
    assert_string_equal(mi.driver_name, "fake_good_a");
    assert_untouched(&mi, cut, sizeof(mi));

    accel_driver *drv = NULL;
    n = 1;
    assert_int_equal(accel_enumerate_drivers(inst, &n, &drv), ACCEL_SUCCESS);
    accel_driver_info dri;
    cut = offsetof(accel_driver_info, library_path);
    memset(&dri, SENTINEL, sizeof(dri));
    dri.struct_size = (uint32_t)cut;
    assert_int_equal(accel_driver_get_info(drv, &dri), ACCEL_SUCCESS);
    assert_string_equal(dri.name, "fake_good_a");
    assert_untouched(&dri, cut, sizeof(dri));

    /* Too small to hold anything: rejected, struct untouched. */
    memset(&di, SENTINEL, sizeof(di));
    di.struct_size = 4;
    assert_int_equal(accel_device_get_info(d[0], &di), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_untouched(&di, 4, sizeof(di));
    assert_non_null(strstr(accel_last_error_message(), "struct_size"));

    free(ms);
    free(d);
    accel_instance_destroy(inst);
    free(m);
}

/* accel_device_query goes to the driver (the clGetDeviceInfo contract). */
static void test_loading_device_query_live(void **state)
{
    fixture *f = *state;
    char *m = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    accel_instance *inst = ts_create_one(m);
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info di = ts_device_info(d[i]);
        uint32_t v = 0;
        size_t size = 0;
        assert_int_equal(accel_device_query(d[i], ACCEL_DEVICE_PARAM_KIND, NULL, 0, &size), ACCEL_SUCCESS);
        assert_int_equal(size, sizeof(uint32_t));
        assert_int_equal(accel_device_query(d[i], ACCEL_DEVICE_PARAM_KIND, &v, sizeof(v), NULL),
                         ACCEL_SUCCESS);
        assert_int_equal(v, di.kind);
        assert_int_equal(
            accel_device_query(d[i], ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL),
            ACCEL_SUCCESS);
        assert_int_equal(v, di.available_instances);
        uint8_t small = 0;
        assert_int_equal(accel_device_query(d[i], ACCEL_DEVICE_PARAM_FLAGS, &small, 1, &size),
                         ACCEL_ERROR_INVALID_ARGUMENT);
        assert_int_equal(accel_device_query(d[i], (accel_device_param)999, &v, sizeof(v), &size),
                         ACCEL_ERROR_UNSUPPORTED);
    }
    assert_int_equal(accel_device_query(NULL, ACCEL_DEVICE_PARAM_KIND, NULL, 0, NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    free(d);
    accel_instance_destroy(inst);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loading_bad_variants_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_zero_devices_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_many_devices_two_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_partition_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_shared_driver_refcount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_no_unload_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_no_unload_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_no_unload_flag_after_failed_init, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_filtered_not_dlopened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_log_one_line_per_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_driver_log_reaches_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_struct_size_respected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loading_device_query_live, setup, teardown),
    };
    return cmocka_run_group_tests_name("loading", tests, NULL, NULL);
}
