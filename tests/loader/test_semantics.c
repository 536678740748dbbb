/* test_semantics.c — behaviour users can rely on (docs/memory-and-queues.md,
 * "Guarantees"): a submission whose wait fence fails leaves its queue in
 * the same state whether the wait fence failed before the submission or
 * after it; a failed fence's detail is in accel_last_error_message() after
 * accel_fence_wait; NUMA nodes that do not exist are errors, and a
 * zero-initialised accel_memory_alloc_info asks for no node; uacce
 * attributes that overflow, device names at the length limit and more
 * uacce devices than the driver's limit (docs/warpdrive.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

typedef ts_fakes fixture;
/* The devices: fake_exec_a, fake_exec_b. */
enum { A, B };

static int setup(void **state)
{
    *state = ts_fakes_create("semantics", "exec_a", "exec_b", NULL);
    return 0;
}

/* What a queue whose submission waited for a failed fence must look like
 * afterwards: that submission's fence failed with the wait fence's error
 * and says so; the queue is not broken (finish succeeds, and a later
 * submission runs: it adds 1 to every byte of m). */
static void check_queue_after(accel_queue *q, accel_fence *dep, accel_result expect, accel_function *add,
                              accel_memory *m)
{
    assert_int_equal(accel_fence_wait(&dep, 1, true, UINT64_MAX), expect);
    assert_non_null(strstr(accel_last_error_message(), "a wait fence failed"));
    assert_int_equal(accel_fence_status(dep), expect);
    unsigned char *p = NULL;
    assert_int_equal(accel_memory_map(m, (void **)&p), ACCEL_SUCCESS);
    assert_int_equal(p[0], 0); /* the dependent submission (an add) did not run */
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_U32}};
    args[0].u.mem.memory = m;
    args[0].u.mem.size = accel_memory_size(m);
    args[1].u.u32 = 1;
    accel_fence *next;
    assert_int_equal(ts_submit(q, add, args, 2, NULL, 0, &next), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&next, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    assert_int_equal(p[0], 1);
    accel_fence_release(next);
}

/* A wait fence that failed before the submission (on another driver's
 * queue, broken by fake.fail) and one that fails after it (a cpu
 * submission that hangs until the device timeout turns it into device
 * loss: pending for certain when the dependent submission is made) leave
 * the waiting queue in the same state. */
static void test_semantics_failed_wait_fence_either_order(void **state)
{
    fixture *f = *state;
    accel_queue *qa, *qb;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &qa), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(f->dev[B], 0, &qb), ACCEL_SUCCESS);
    accel_function *failfn = ts_builtin(f->dev[A], "fake.fail"), *add = ts_builtin(f->dev[B], "fake.add");
    accel_memory *m = ts_alloc(f->inst, 16);
    assert_int_equal(accel_memory_attach(m, f->dev[B], NULL), ACCEL_SUCCESS);
    accel_arg add_args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_U32}};
    add_args[0].u.mem.memory = m;
    add_args[0].u.mem.size = 16;
    add_args[1].u.u32 = 100;

    /* Failed before. */
    accel_arg e = {.kind = ACCEL_ARG_I32};
    e.u.i32 = ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    accel_fence *bad, *dep;
    assert_int_equal(ts_submit(qa, failfn, &e, 1, NULL, 0, &bad), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&bad, 1, true, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_int_equal(ts_submit(qb, add, add_args, 2, &bad, 1, &dep), ACCEL_SUCCESS);
    check_queue_after(qb, dep, ACCEL_ERROR_OUT_OF_DEVICE_MEMORY, add, m);
    assert_non_null(strstr(accel_last_error_message(), "fake_exec_a:0"));
    accel_fence_release(dep);
    accel_fence_release(bad);

    /* Failing after. */
    const char *cpu_paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_HANG_AFTER", "1");
    ts_env_push("ACCEL_DEVICE_TIMEOUT_MS", "200");
    accel_instance *cpu_inst = NULL;
    assert_int_equal(ts_create_with_paths(&cpu_inst, 0, cpu_paths), ACCEL_SUCCESS);
    accel_device *cpu = ts_device_of(cpu_inst, "cpu");
    accel_queue *qc;
    assert_int_equal(accel_queue_create(cpu, 0, &qc), ACCEL_SUCCESS);
    ts_env_pop_to(depth); /* the 200 ms timeout is this queue's alone */
    accel_function *noop = ts_builtin(cpu, "accel.noop");
    accel_fence *hung;
    assert_int_equal(ts_submit(qc, noop, NULL, 0, NULL, 0, &hung), ACCEL_SUCCESS);
    /* The hung fence cannot be final before the device timeout, which
     * starts with this first look at it. */
    assert_int_equal(accel_fence_status(hung), ACCEL_NOT_READY);
    assert_int_equal(ts_submit(qb, add, add_args, 2, &hung, 1, &dep), ACCEL_SUCCESS);
    unsigned char *p = NULL;
    assert_int_equal(accel_memory_map(m, (void **)&p), ACCEL_SUCCESS);
    p[0] = 0;
    check_queue_after(qb, dep, ACCEL_ERROR_DEVICE_LOST, add, m);
    assert_non_null(strstr(accel_last_error_message(), "ACCEL_DEVICE_TIMEOUT_MS"));
    accel_fence_release(dep);
    accel_fence_release(hung);
    accel_function_destroy(noop);
    accel_queue_destroy(qc);
    accel_instance_destroy(cpu_inst);

    accel_function_destroy(failfn);
    accel_function_destroy(add);
    accel_queue_destroy(qa);
    accel_queue_destroy(qb);
    accel_memory_free(m);
}

/* accel_fence_wait's error comes with the failed fence's detail: the
 * device and the submission, and for a later fence of the broken queue
 * the first failure's. */
static void test_semantics_fence_detail_in_last_error(void **state)
{
    fixture *f = *state;
    accel_queue *q;
    assert_int_equal(accel_queue_create(f->dev[A], 0, &q), ACCEL_SUCCESS);
    accel_function *failfn = ts_builtin(f->dev[A], "fake.fail"), *noop = ts_builtin(f->dev[A], "accel.noop");
    accel_arg e = {.kind = ACCEL_ARG_I32};
    e.u.i32 = ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    accel_fence *fences[3];
    assert_int_equal(ts_submit(q, noop, NULL, 0, NULL, 0, &fences[0]), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(q, failfn, &e, 1, NULL, 0, &fences[1]), ACCEL_SUCCESS);
    assert_int_equal(ts_submit(q, noop, NULL, 0, NULL, 0, &fences[2]), ACCEL_SUCCESS);
    /* The later fence alone: it carries the earlier failure's detail. */
    assert_int_equal(accel_fence_wait(&fences[2], 1, true, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    const char *msg = accel_last_error_message();
    assert_non_null(strstr(msg, "accel_fence_wait: fences[0]: fake_exec_a:0"));
    assert_non_null(strstr(msg, "submission 2 failed"));
    assert_non_null(strstr(msg, accel_result_string(ACCEL_ERROR_OUT_OF_DEVICE_MEMORY)));
    /* All: the first failed one in array order is named. */
    assert_int_equal(accel_fence_wait(fences, 3, true, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_non_null(strstr(accel_last_error_message(), "fences[1]"));
    /* Any: the failed fence it returns for. */
    accel_fence *tail[2] = {fences[2], fences[0]};
    assert_int_equal(accel_fence_wait(tail, 2, false, UINT64_MAX), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_non_null(strstr(accel_last_error_message(), "submission 2 failed"));
    /* accel_queue_finish and a later submit name the first failure too. */
    assert_int_equal(accel_queue_finish(q), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_non_null(strstr(accel_last_error_message(), "the queue failed: fake_exec_a:0"));
    assert_non_null(strstr(accel_last_error_message(), "submission 2 failed"));
    assert_int_equal(ts_submit(q, noop, NULL, 0, NULL, 0, NULL), ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_non_null(strstr(accel_last_error_message(), "failed earlier: fake_exec_a:0"));
    for (int i = 0; i < 3; i++)
        accel_fence_release(fences[i]);
    accel_function_destroy(failfn);
    accel_function_destroy(noop);
    accel_queue_destroy(q);
}

/* NUMA nodes: one that does not exist is an error naming it (with the flag
 * or a positive number); a zero-initialised info (numa_node 0, no flag)
 * means no preference, like -1; the flag with node 0 asks for node 0,
 * which every machine has. */
static void test_semantics_numa_nodes(void **state)
{
    fixture *f = *state;
    accel_memory *m = NULL;
    accel_memory_alloc_info missing = {.struct_size = sizeof(missing), .size = 64, .numa_node = 4095};
    assert_int_equal(accel_memory_alloc(f->inst, &missing, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(m);
    assert_non_null(strstr(accel_last_error_message(), "NUMA node 4095 does not exist"));
    missing.flags = ACCEL_MEMORY_ALLOC_NUMA_NODE;
    assert_int_equal(accel_memory_alloc(f->inst, &missing, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_memory_alloc_info negative = {
        .struct_size = sizeof(negative), .flags = ACCEL_MEMORY_ALLOC_NUMA_NODE, .size = 64, .numa_node = -1};
    assert_int_equal(accel_memory_alloc(f->inst, &negative, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "ACCEL_MEMORY_ALLOC_NUMA_NODE with numa_node -1"));
    negative.flags = 0;
    negative.numa_node = -2;
    assert_int_equal(accel_memory_alloc(f->inst, &negative, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_memory_alloc_info unknown = {.struct_size = sizeof(unknown), .flags = 0x2, .size = 64};
    assert_int_equal(accel_memory_alloc(f->inst, &unknown, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "unknown flags 0x2"));
    assert_null(m);

    /* Zero-initialised: no preference. */
    accel_memory_alloc_info zero = {0};
    zero.struct_size = sizeof(zero);
    zero.size = 64;
    assert_int_equal(accel_memory_alloc(f->inst, &zero, &m), ACCEL_SUCCESS);
    assert_null(accel_memory_get_node(m)); /* no home node: not node 0 */
    accel_memory_free(m);
    /* The flag with node 0. */
    accel_memory_alloc_info node0 = {
        .struct_size = sizeof(node0), .flags = ACCEL_MEMORY_ALLOC_NUMA_NODE, .size = 64};
    assert_int_equal(accel_memory_alloc(f->inst, &node0, &m), ACCEL_SUCCESS);
    accel_memory_node *home = accel_memory_get_node(m);
    assert_non_null(home);
    accel_memory_node_info ni = {.struct_size = sizeof(ni)};
    assert_int_equal(accel_memory_node_get_info(home, &ni), ACCEL_SUCCESS);
    assert_int_equal(ni.numa_node, 0);
    accel_memory_free(m);
}

/* ---- uacce discovery on a hand-made sysfs tree ---- */

/* One uacce device `name` under root/sys with the attributes of a usable
 * device, available_instances and flags as given; its device node
 * root/dev/name is a symbolic link to root/dev.sock (a UNIX socket: what
 * the emulator's nodes are), so that long names fit. */
static void make_uacce(const char *root, const char *name, const char *instances, const char *flags)
{
    char *dir = ts_printf("%s/sys/class/uacce/%s", root, name);
    ts_mkdirs(dir);
    const struct {
        const char *attr, *value;
    } attrs[] = {{"api", "accel_wd_v1\n"},
                 {"flags", flags},
                 {"available_instances", instances},
                 {"algorithms", "crc32c\n"},
                 {"region_mmio_size", "4096\n"},
                 {"region_dus_size", "65536\n"},
                 {"isolate", "0\n"},
                 {"isolate_strategy", "0\n"}};
    for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        free(ts_write_text(dir, attrs[i].attr, attrs[i].value));
    char *devdir = ts_printf("%s/dev", root);
    ts_mkdirs(devdir);
    char *sock = ts_printf("%s/dev.sock", root), *node = ts_printf("%s/%s", devdir, name);
    struct stat st;
    if (stat(sock, &st) != 0) {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        assert_true(strlen(sock) < sizeof(a.sun_path));
        strcpy(a.sun_path, sock);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        close(fd); /* the inode stays: discovery only looks at its type */
    }
    assert_int_equal(symlink(sock, node), 0);
    free(sock);
    free(node);
    free(devdir);
    free(dir);
}

/* The names of the warpdrive devices an instance lists, one per line. */
static char *uacce_names(const char *root)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL};
    char *sys = ts_printf("%s/sys", root), *dev = ts_printf("%s/dev", root);
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sys);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", dev);
    ts_env_push("ACCEL_WARPDRIVE_PARTITIONS", NULL);
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    ts_env_pop_to(depth);
    uint32_t count = 0;
    accel_device **devs = ts_devices(inst, &count);
    size_t size = 1;
    char *out = calloc(1, 1);
    for (uint32_t i = 0; i < count; i++) {
        accel_device_info info = ts_device_info(devs[i]);
        size_t len = strcspn(info.name, " "); /* "<name> (uacce accel_wd_v1, emulated)" */
        size += len + 1;
        out = realloc(out, size);
        strncat(out, info.name, len);
        strcat(out, "\n");
    }
    free(devs);
    accel_instance_destroy(inst);
    free(sys);
    free(dev);
    return out;
}

/* Attributes that overflow their type make the device skipped (never
 * wrapped into a small number); a name of 127 bytes, the limit, works and
 * one of 128 is skipped (never truncated); of more devices than the
 * driver's limit (64) the first ones in name order are listed, whatever
 * the directory's order. */
static void test_semantics_uacce_attributes_and_limits(void **state)
{
    (void)state;
    char *root = ts_mkdtemp("uacce");
    make_uacce(root, "wd_ok", "4\n", "1\n");
    make_uacce(root, "wd_over_instances", "4294967297\n", "1\n"); /* 2^32 + 1: would wrap to 1 */
    make_uacce(root, "wd_over_flags", "4\n", "99999999999999999999\n");
    make_uacce(root, "wd_negative", "-1\n", "1\n");
    char long_name[129];
    memset(long_name, 'n', 128);
    long_name[128] = '\0';
    make_uacce(root, long_name, "4\n", "1\n"); /* 128 bytes: too long */
    long_name[127] = '\0';
    make_uacce(root, long_name, "4\n", "1\n"); /* 127 bytes: the limit */
    char *names = uacce_names(root);
    char *expect = ts_printf("%s\nwd_ok\n", long_name);
    assert_string_equal(names, expect);
    free(expect);
    free(names);
    ts_rmtree(root);
    free(root);

    /* 70 devices, made in reverse order: wd_00 .. wd_63 are listed. */
    root = ts_mkdtemp("uacce-many");
    for (int i = 69; i >= 0; i--) {
        char name[16];
        snprintf(name, sizeof(name), "wd_%02d", i);
        make_uacce(root, name, "1\n", "1\n");
    }
    names = uacce_names(root);
    char want[64 * 6 + 1] = "";
    for (int i = 0; i < 64; i++) {
        char line[8];
        snprintf(line, sizeof(line), "wd_%02d\n", i);
        strcat(want, line);
    }
    assert_string_equal(names, want);
    free(names);
    ts_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_semantics_failed_wait_fence_either_order, setup,
                                        ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_semantics_fence_detail_in_last_error, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_semantics_numa_nodes, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_semantics_uacce_attributes_and_limits, ts_env_case_setup,
                                        ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
