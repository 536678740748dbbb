/* test_partitions.c — the cpu driver's partitions (ACCEL_CPU_PARTITIONS):
 * devices whose parent is the whole CPU, which run work like it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

/* An instance of the cpu driver started with ACCEL_CPU_PARTITIONS=partitions
 * (NULL: unset); the variable is put back as it was once the driver has read
 * it, and by the case's teardown when an assertion ends the case first. */
static accel_instance *create_with(const char *partitions)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    accel_instance *inst = NULL;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_PARTITIONS", partitions);
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    ts_env_pop_to(depth);
    return inst;
}

static uint32_t crc_on(accel_instance *inst, accel_device *dev, const char *text)
{
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = 64, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(inst, &mi, &m), ACCEL_SUCCESS);
    void *p;
    accel_memory_map(m, &p);
    memcpy(p, text, strlen(text));
    assert_int_equal(accel_memory_attach(m, dev, NULL), ACCEL_SUCCESS);
    accel_function *crc = NULL;
    assert_int_equal(accel_function_get(dev, NULL, "crc32c", &crc), ACCEL_SUCCESS);
    accel_queue *q = NULL;
    assert_int_equal(accel_queue_create(dev, 0, &q), ACCEL_SUCCESS);
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
    args[0].u.mem.memory = m;
    args[0].u.mem.size = strlen(text);
    args[1].u.mem.memory = m;
    args[1].u.mem.offset = 60;
    args[1].u.mem.size = 4;
    accel_submit_info s = {.struct_size = sizeof(s), .function = crc, .args = args, .arg_count = 2};
    assert_int_equal(accel_queue_submit(q, &s, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    uint32_t v;
    memcpy(&v, (char *)p + 60, 4);
    accel_queue_destroy(q);
    accel_function_destroy(crc);
    accel_memory_free(m);
    return v;
}

static void test_partitions_by_count(void **state)
{
    (void)state;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    accel_instance *inst = create_with("2");
    uint32_t n;
    accel_device **devs = ts_devices(inst, &n);
    uint32_t want = online >= 2 ? 3 : 2;
    assert_int_equal(n, want);
    accel_device_info whole = ts_device_info(devs[0]);
    assert_null(whole.parent);
    assert_string_equal(whole.partition, "");
    for (uint32_t i = 1; i < n; i++) {
        accel_device_info p = ts_device_info(devs[i]);
        assert_ptr_equal(p.parent, devs[0]);
        assert_true(p.flags & ACCEL_DEVICE_FLAG_PARTITION);
        assert_int_equal(strncmp(p.partition, "cores ", 6), 0);
        assert_int_equal(p.kind, ACCEL_DEVICE_KIND_CPU);
        assert_memory_not_equal(p.uuid, whole.uuid, ACCEL_UUID_SIZE);
        /* A partition computes what the whole device computes: 0xE3069283 is
         * crc32c("123456789"). */
        assert_int_equal(crc_on(inst, devs[i], "123456789"), 0xE3069283u);
    }
    assert_int_equal(crc_on(inst, devs[0], "123456789"), 0xE3069283u);
    free(devs);
    accel_instance_destroy(inst);
}

static void test_partitions_numa_and_invalid(void **state)
{
    (void)state;
    accel_instance *inst = create_with("numa");
    uint32_t n;
    free(ts_devices(inst, &n));
    assert_true(n >= 2); /* at least one node */
    accel_instance_destroy(inst);

    inst = create_with("lots");
    free(ts_devices(inst, &n));
    assert_int_equal(n, 1); /* warned and ignored */
    accel_instance_destroy(inst);

    inst = create_with("");
    free(ts_devices(inst, &n));
    assert_int_equal(n, 1);
    accel_instance_destroy(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_partitions_by_count, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_partitions_numa_and_invalid, ts_env_case_setup,
                                        ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
