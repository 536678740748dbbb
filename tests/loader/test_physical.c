/* test_physical.c — physical devices: the devices of different drivers that
 * are one piece of hardware (one PCI bus address, or one uuid where there is
 * none), listed together as its interfaces, and named by the selector's
 * bus= filter. The fake drivers play the hardware: ACCEL_FAKE_BUS_<variant>
 * moves a variant's bus addresses, ACCEL_FAKE_UUID_<variant> its uuids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

typedef struct fixture {
    char *dir;
    char *paths[2];
} fixture;

/* The variables the cases change. */
static const char *const case_variables[] = {
    "ACCEL_DEVICE_SELECTOR",  "ACCEL_FAKE_BUS_good_a",  "ACCEL_FAKE_BUS_good_b",
    "ACCEL_FAKE_UUID_good_a", "ACCEL_FAKE_UUID_good_b", "ACCEL_FAKE_EXEC_BUS",
};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->dir = ts_mkdtemp("physical");
    f->paths[0] = ts_write_fake_manifest(f->dir, "a.json", "good_a");
    f->paths[1] = ts_write_fake_manifest(f->dir, "b.json", "good_b");
    *state = f;
    /* Every case starts with the fake drivers at their own addresses and
     * uuids and no selector; what it pushes on top is put back after it. */
    ts_env_case_setup(NULL);
    for (size_t i = 0; i < sizeof(case_variables) / sizeof(case_variables[0]); i++)
        ts_env_push(case_variables[i], NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_env_case_teardown(NULL);
    ts_rmtree(f->dir);
    free(f->paths[0]);
    free(f->paths[1]);
    free(f->dir);
    free(f);
    return 0;
}

static accel_instance *create(const fixture *f)
{
    const char *paths[] = {f->paths[0], f->paths[1], NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    return inst;
}

static uint32_t physical_count(accel_instance *inst)
{
    uint32_t n = 0;
    assert_int_equal(accel_instance_get_physical_device_count(inst, &n), ACCEL_SUCCESS);
    return n;
}

/* "driver:index" of each interface of physical device p, ' '-separated. */
static char *interfaces(accel_instance *inst, uint32_t p)
{
    uint32_t n = 0;
    assert_int_equal(accel_physical_device_get_interfaces(inst, p, &n, NULL), ACCEL_SUCCESS);
    accel_device **devs = calloc(n ? n : 1, sizeof(*devs));
    assert_non_null(devs);
    assert_int_equal(accel_physical_device_get_interfaces(inst, p, &n, devs), ACCEL_SUCCESS);
    char *out = calloc(1, 1);
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = ts_device_info(devs[i]);
        uint32_t back = UINT32_MAX;
        assert_int_equal(accel_device_get_physical_index(devs[i], &back), ACCEL_SUCCESS);
        assert_int_equal(back, p);
        char *next = ts_printf("%s%s%s:%u", out, i ? " " : "", info.driver_name, info.driver_index);
        free(out);
        out = next;
    }
    free(devs);
    return out;
}

static void expect_interfaces(accel_instance *inst, uint32_t p, const char *want)
{
    char *got = interfaces(inst, p);
    if (strcmp(got, want) != 0)
        fail_msg("physical device %u: interfaces \"%s\", expected \"%s\"", p, got, want);
    free(got);
}

/* The fake drivers' default: device i of every variant at 0000:i:00.0, so
 * good_a's and good_b's devices pair up. */
static void test_physical_same_bus_address(void **state)
{
    fixture *f = *state;
    accel_instance *inst = create(f);
    assert_int_equal(physical_count(inst), 2);
    expect_interfaces(inst, 0, "fake_good_a:0 fake_good_b:0");
    expect_interfaces(inst, 1, "fake_good_a:1 fake_good_b:1");
    accel_instance_destroy(inst);
}

/* The comparison is of PCI addresses, not strings: "3B:00.0" is
 * 0000:3b:00.0. good_a at 3b, 3c; good_b at 3c, 3d: one device shared. */
static void test_physical_overlapping_addresses(void **state)
{
    fixture *f = *state;
    ts_env_push("ACCEL_FAKE_BUS_good_a", "3B");
    ts_env_push("ACCEL_FAKE_BUS_good_b", "3c");
    accel_instance *inst = create(f);
    assert_int_equal(physical_count(inst), 3);
    expect_interfaces(inst, 0, "fake_good_a:0");
    expect_interfaces(inst, 1, "fake_good_a:1 fake_good_b:0");
    expect_interfaces(inst, 2, "fake_good_b:1");
    accel_instance_destroy(inst);
}

static void test_physical_different_addresses(void **state)
{
    fixture *f = *state;
    ts_env_push("ACCEL_FAKE_BUS_good_a", "10");
    ts_env_push("ACCEL_FAKE_BUS_good_b", "20");
    /* One uuid seed, but bus addresses that differ: the addresses decide. */
    ts_env_push("ACCEL_FAKE_UUID_good_a", "shared");
    ts_env_push("ACCEL_FAKE_UUID_good_b", "shared");
    accel_instance *inst = create(f);
    assert_int_equal(physical_count(inst), 4);
    for (uint32_t p = 0; p < 4; p++) {
        uint32_t n = 0;
        assert_int_equal(accel_physical_device_get_interfaces(inst, p, &n, NULL), ACCEL_SUCCESS);
        assert_int_equal(n, 1);
    }
    accel_instance_destroy(inst);
}

/* No bus addresses: the uuid decides, and only a shared one joins. */
static void test_physical_shared_uuid(void **state)
{
    fixture *f = *state;
    ts_env_push("ACCEL_FAKE_BUS_good_a", "none");
    ts_env_push("ACCEL_FAKE_BUS_good_b", "none");
    ts_env_push("ACCEL_FAKE_UUID_good_a", "shared");
    ts_env_push("ACCEL_FAKE_UUID_good_b", "shared");
    accel_instance *inst = create(f);
    assert_int_equal(physical_count(inst), 2);
    expect_interfaces(inst, 0, "fake_good_a:0 fake_good_b:0");
    expect_interfaces(inst, 1, "fake_good_a:1 fake_good_b:1");
    accel_instance_destroy(inst);

    ts_env_push("ACCEL_FAKE_UUID_good_b", NULL);
    inst = create(f);
    assert_int_equal(physical_count(inst), 4);
    accel_instance_destroy(inst);
}

/* bus= names one physical device: both its interfaces, nothing else. */
static void test_physical_selector_bus(void **state)
{
    fixture *f = *state;
    ts_env_push("ACCEL_FAKE_BUS_good_a", "3b");
    ts_env_push("ACCEL_FAKE_BUS_good_b", "3b");
    ts_env_push("ACCEL_DEVICE_SELECTOR", "*:bus=0000:3B:00.0");
    accel_instance *inst = create(f);
    char *list = ts_device_list(inst);
    assert_string_equal(list, "fake_good_a:0 fake_good_b:0");
    free(list);
    assert_int_equal(physical_count(inst), 1);
    expect_interfaces(inst, 0, "fake_good_a:0 fake_good_b:0");
    accel_instance_destroy(inst);

    /* Physical devices are among the selected devices only. */
    ts_env_push("ACCEL_DEVICE_SELECTOR", "fake_good_b:1");
    inst = create(f);
    assert_int_equal(physical_count(inst), 1);
    expect_interfaces(inst, 0, "fake_good_b:1");
    accel_instance_destroy(inst);

    /* A malformed address is a selector error naming the column. */
    ts_env_push("ACCEL_DEVICE_SELECTOR", "*:bus=3b:00");
    const char *paths[] = {f->paths[0], f->paths[1], NULL};
    accel_instance *bad = NULL;
    assert_int_equal(ts_create_with_paths(&bad, 0, paths), ACCEL_ERROR_INVALID_SELECTOR);
    assert_non_null(strstr(accel_last_error_message(), "column 7"));
    assert_non_null(strstr(accel_last_error_message(), "not a PCI address"));
}

/* One driver's devices at one address stay apart; a partition belongs to
 * its parent's physical device. many_devices: 100 devices at 0000:i:00.0,
 * the last a partition of device 0. */
static void test_physical_partitions_and_one_driver(void **state)
{
    fixture *f = *state;
    char *many = ts_write_fake_manifest(f->dir, "many.json", "many_devices");
    const char *paths[] = {many, NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    assert_int_equal(physical_count(inst), 99);
    expect_interfaces(inst, 0, "fake_many_devices:0 fake_many_devices:99");
    expect_interfaces(inst, 98, "fake_many_devices:98");
    accel_instance_destroy(inst);

    /* Only the selected devices count. */
    ts_env_push("ACCEL_DEVICE_SELECTOR", "fake_many_devices:1,2");
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    assert_int_equal(physical_count(inst), 2);
    accel_instance_destroy(inst);
    free(many);
}

/* accelinfo lists the physical devices seen through several devices, each
 * with its devices; a device alone is not listed there. */
static void test_physical_accelinfo(void **state)
{
    fixture *f = *state;
    char *files = ts_printf("ACCEL_DRIVER_FILES=%s:%s", f->paths[0], f->paths[1]);
    const char *argv[] = {ACCELINFO_PATH, NULL};
    const char *env[] = {files, "ACCEL_DEVICE_SELECTOR", "ACCEL_FAKE_BUS_good_a=3b",
                         "ACCEL_FAKE_BUS_good_b=3c", NULL};
    char *out = NULL;
    assert_int_equal(ts_run(argv, env, &out, NULL), 0);
    const char *block = strstr(out, "\nPhysical devices with several interfaces:\n"
                                    "  1: bus 0000:3c:00.0\n"
                                    "     device 1: fake_good_a:1  native\n"
                                    "     device 2: fake_good_b:0  native\n\n");
    if (!block)
        fail_msg("accelinfo output lacks the physical device:\n%s", out);
    free(out);

    const char *apart[] = {files, "ACCEL_DEVICE_SELECTOR", "ACCEL_FAKE_BUS_good_a=10",
                           "ACCEL_FAKE_BUS_good_b=20", NULL};
    assert_int_equal(ts_run(argv, apart, &out, NULL), 0);
    assert_null(strstr(out, "Physical devices"));
    assert_non_null(strstr(out, "bus 0000:21:00.0"));
    free(out);
    free(files);

    /* An FPGA card and its slots are one piece of hardware under one
     * driver: partitions, not several interfaces. */
    const char *card[] = {"ACCEL_DRIVER_FILES=" BUILD_MANIFEST_DIR "/accel_fpga.json",
                          "ACCEL_DEVICE_SELECTOR", NULL};
    assert_int_equal(ts_run(argv, card, &out, NULL), 0);
    assert_non_null(strstr(out, "slot 1"));
    assert_null(strstr(out, "Physical devices"));
    free(out);
}

/* Two checksums of two inputs of 2^20 bytes each. */
static const char two_crc[] =
    "{\"pipeline_version\": 1, \"name\": \"two\", \"buffers\": {"
    "\"a\": {\"file\": \"a\", \"bytes\": 1048576}, \"b\": {\"file\": \"b\", \"bytes\": 1048576}, "
    "\"ca\": {\"bytes\": 4}, \"cb\": {\"bytes\": 4}}, \"stages\": ["
    "{\"name\": \"crc_a\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}]}, "
    "{\"name\": \"crc_b\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"b\"}, {\"buffer\": "
    "\"cb\"}]}]}";

/* The throughput plan of two_crc over fake_exec_stream and
 * fake_exec_stream_b (and nothing else); *group gets the bottleneck group's name (free it). */
static double streamed_bottleneck(const fixture *f, const char *bus, char **group)
{
    char *a = ts_write_fake_manifest(f->dir, "exec_a.json", "exec_stream");
    char *b = ts_write_fake_manifest(f->dir, "exec_b.json", "exec_stream_b");
    const char *paths[] = {a, b, NULL};
    ts_env_push("ACCEL_FAKE_EXEC_BUS", bus);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    const accel_topology *t = NULL;
    assert_int_equal(accel_instance_get_topology(inst, &t), ACCEL_SUCCESS);
    accel_pipeline *p = NULL;
    assert_int_equal(accel_pipeline_parse(two_crc, strlen(two_crc), "two.json", &p), ACCEL_SUCCESS);
    accel_place_options o = {.struct_size = sizeof(o), .objective = ACCEL_PLACE_OBJECTIVE_THROUGHPUT};
    accel_plan *plan = NULL;
    accel_result r = accel_place(t, p, &o, &plan);
    if (r)
        fail_msg("accel_place: %s", accel_last_error_message());
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    *group = ts_printf("%s", s.bottleneck_group ? s.bottleneck_group : "");
    double ns = s.bottleneck_ns;
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_instance_destroy(inst);
    free(a);
    free(b);
    return ns;
}

/* One device under two drivers: its interfaces take turns, so two stages
 * on them load it twice; on two devices each carries one. */
static void test_physical_placement_counts_hardware_once(void **state)
{
    fixture *f = *state;
    char *apart_group = NULL, *one_group = NULL;
    double apart = streamed_bottleneck(f, NULL, &apart_group);
    double one = streamed_bottleneck(f, "0000:3b:00.0", &one_group);
    assert_true(apart > 0);
    assert_string_equal(one_group, "0000:3b:00.0");
    assert_string_not_equal(apart_group, "0000:3b:00.0");
    /* Twice one stage's load, within rounding. */
    if (one < 1.99 * apart || one > 2.01 * apart)
        fail_msg("bottleneck on one device %.1f ns, on two %.1f ns: expected twice", one, apart);
    free(apart_group);
    free(one_group);
}

static void test_physical_errors(void **state)
{
    fixture *f = *state;
    accel_instance *inst = create(f);
    uint32_t n = 0;
    assert_int_equal(accel_instance_get_physical_device_count(NULL, &n), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_instance_get_physical_device_count(inst, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "count is NULL"));
    assert_int_equal(accel_physical_device_get_interfaces(inst, 2, &n, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "physical_index 2 is not below the count 2"));
    assert_int_equal(accel_physical_device_get_interfaces(inst, 0, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_device_get_physical_index(NULL, &n), ACCEL_ERROR_INVALID_ARGUMENT);
    uint32_t count = 0;
    accel_device **devs = ts_devices(inst, &count);
    assert_int_equal(accel_device_get_physical_index(devs[0], NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    /* Room for one of two: INCOMPLETE, and the first one. */
    accel_device *one = NULL;
    n = 1;
    assert_int_equal(accel_physical_device_get_interfaces(inst, 0, &n, &one), ACCEL_INCOMPLETE);
    assert_int_equal(n, 1);
    assert_ptr_equal(one, devs[0]);
    free(devs);
    accel_instance_destroy(inst);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_physical_same_bus_address),
        T(test_physical_overlapping_addresses),
        T(test_physical_different_addresses),
        T(test_physical_shared_uuid),
        T(test_physical_selector_bus),
        T(test_physical_partitions_and_one_driver),
        T(test_physical_accelinfo),
        T(test_physical_placement_counts_hardware_once),
        T(test_physical_errors),
    };
    return cmocka_run_group_tests_name("physical", tests, NULL, NULL);
}
