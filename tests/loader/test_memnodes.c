/* test_memnodes.c — memory nodes through the loader: host NUMA nodes,
 * device memories reported by a driver (fake_exec_nodes: vram0, vram1,
 * host), allocation on a node, attach modes by home, and the copy the
 * loader makes for an argument wired to another node than the memory's
 * home (accel_function_arg_mode says STAGED; the result is still right). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

typedef ts_fakes fixture;
/* The devices: fake_exec_nodes, and fake_exec_a (no memory nodes of its own). */
enum { NODES, PLAIN };

static int setup(void **state)
{
    *state = ts_fakes_create("memnodes", "exec_nodes", "exec_a", NULL);
    return 0;
}

static accel_memory_node *node_named(accel_instance *inst, const char *suffix)
{
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_memory_nodes(inst, &n, NULL), ACCEL_SUCCESS);
    accel_memory_node **nodes = calloc(n, sizeof(*nodes));
    assert_int_equal(accel_enumerate_memory_nodes(inst, &n, nodes), ACCEL_SUCCESS);
    accel_memory_node *found = NULL;
    for (uint32_t i = 0; i < n; i++) {
        accel_memory_node_info info = {.struct_size = sizeof(info)};
        assert_int_equal(accel_memory_node_get_info(nodes[i], &info), ACCEL_SUCCESS);
        size_t a = strlen(info.name), b = strlen(suffix);
        if (a >= b && strcmp(info.name + a - b, suffix) == 0)
            found = nodes[i];
    }
    free(nodes);
    return found;
}

static accel_memory *alloc_on(fixture *f, accel_memory_node *node, uint64_t size)
{
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = size, .numa_node = -1, .node = node};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &m), ACCEL_SUCCESS);
    return m;
}

static void test_nodes_listed(void **state)
{
    fixture *f = *state;
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_memory_nodes(f->inst, &n, NULL), ACCEL_SUCCESS);
    assert_true(n >= 3); /* at least one host node, vram0, vram1 */
    accel_memory_node **nodes = calloc(n, sizeof(*nodes));
    uint32_t got = n;
    assert_int_equal(accel_enumerate_memory_nodes(f->inst, &got, nodes), ACCEL_SUCCESS);
    assert_int_equal(got, n);
    uint32_t host_nodes = 0, device_nodes = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_memory_node_info info = {.struct_size = sizeof(info)};
        assert_int_equal(accel_memory_node_get_info(nodes[i], &info), ACCEL_SUCCESS);
        assert_int_equal(info.index, i);
        if (info.device) {
            device_nodes++;
            assert_ptr_equal(info.device, f->dev[NODES]);
            assert_int_equal(info.kind, ACCEL_MEMORY_KIND_DEVICE);
            assert_int_equal(info.numa_node, -1);
            assert_true(info.host_visible);
            assert_int_equal(info.capacity, 1u << 30);
        } else {
            host_nodes++;
            assert_int_equal(info.kind, ACCEL_MEMORY_KIND_DRAM);
            assert_true(info.numa_node >= 0);
        }
    }
    assert_int_equal(device_nodes, 2);
    assert_true(host_nodes >= 1);
    /* Too small an array: INCOMPLETE with what fits. */
    got = 1;
    assert_int_equal(accel_enumerate_memory_nodes(f->inst, &got, nodes), ACCEL_INCOMPLETE);
    assert_int_equal(got, 1);
    free(nodes);
    assert_non_null(node_named(f->inst, ":vram0"));
    assert_non_null(node_named(f->inst, ":vram1"));
}

static void test_device_reach(void **state)
{
    fixture *f = *state;
    uint32_t n = 0;
    assert_int_equal(accel_device_get_memory_nodes(f->dev[NODES], &n, NULL, NULL), ACCEL_SUCCESS);
    accel_memory_node **nodes = calloc(n, sizeof(*nodes));
    accel_attach_mode *modes = calloc(n, sizeof(*modes));
    assert_int_equal(accel_device_get_memory_nodes(f->dev[NODES], &n, nodes, modes), ACCEL_SUCCESS);
    uint32_t zero_copy = 0, pinned = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_memory_node_info info = {.struct_size = sizeof(info)};
        accel_memory_node_get_info(nodes[i], &info);
        if (info.device) {
            assert_int_equal(modes[i], ACCEL_ATTACH_ZERO_COPY);
            zero_copy++;
        } else {
            assert_int_equal(modes[i], ACCEL_ATTACH_PINNED); /* "host" maps to every host node */
            pinned++;
        }
    }
    assert_int_equal(zero_copy, 2);
    assert_true(pinned >= 1);
    free(nodes);
    free(modes);
    /* A driver without device_memory_nodes that attaches host memory: the
     * host nodes, PINNED. */
    assert_int_equal(accel_device_get_memory_nodes(f->dev[PLAIN], &n, NULL, NULL), ACCEL_SUCCESS);
    assert_true(n >= 1);
    accel_memory_node *one = NULL;
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    n = 1;
    accel_result r = accel_device_get_memory_nodes(f->dev[PLAIN], &n, &one, &mode);
    assert_true(r == ACCEL_SUCCESS || r == ACCEL_INCOMPLETE);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    accel_memory_node_info info = {.struct_size = sizeof(info)};
    accel_memory_node_get_info(one, &info);
    assert_null(info.device);
}

static void test_alloc_on_device_node(void **state)
{
    fixture *f = *state;
    accel_memory_node *vram0 = node_named(f->inst, ":vram0");
    accel_memory *m = alloc_on(f, vram0, 4096);
    assert_ptr_equal(accel_memory_get_node(m), vram0);
    unsigned char *p = ts_map(m);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(p[i], 0);
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    /* Its own device reaches it in place; another driver through the host
     * mapping. */
    assert_int_equal(accel_memory_attach(m, f->dev[NODES], &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(accel_memory_attach(m, f->dev[PLAIN], &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    accel_memory_free(m);

    /* Host memory on an explicit host node. */
    uint32_t n = 1;
    accel_memory_node *first = NULL;
    accel_result r = accel_enumerate_memory_nodes(f->inst, &n, &first);
    assert_true(r == ACCEL_SUCCESS || r == ACCEL_INCOMPLETE);
    accel_memory *h = alloc_on(f, first, 100);
    assert_ptr_equal(accel_memory_get_node(h), first);
    assert_int_equal(accel_memory_attach(h, f->dev[NODES], &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    accel_memory_free(h);
}

static void run_fn(fixture *f, const char *name, accel_memory *m, uint32_t add, accel_attach_mode expect_mode)
{
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(f->dev[NODES], NULL, name, &fn), ACCEL_SUCCESS);
    accel_memory_node *wired = NULL;
    assert_int_equal(accel_function_arg_node(fn, 0, &wired), ACCEL_SUCCESS);
    if (strcmp(name, "fake.add_vram1") == 0)
        assert_ptr_equal(wired, node_named(f->inst, ":vram1"));
    else
        assert_null(wired); /* host memory: any host node */
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    assert_int_equal(accel_memory_attach(m, f->dev[NODES], NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_function_arg_mode(fn, 0, m, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, expect_mode);
    unsigned char *p = ts_map(m);
    for (int i = 0; i < 1000; i++)
        p[i] = (unsigned char)i;
    accel_queue *q = NULL;
    assert_int_equal(accel_queue_create(f->dev[NODES], 0, &q), ACCEL_SUCCESS);
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY, .u.mem = {m, 10, 900}},
                         {.kind = ACCEL_ARG_U32, .u.u32 = add}};
    accel_submit_info info = {.struct_size = sizeof(info), .function = fn, .args = args, .arg_count = 2};
    accel_fence *fence = NULL;
    assert_int_equal(accel_queue_submit(q, &info, &fence), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&fence, 1, true, UINT64_MAX), ACCEL_SUCCESS);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(p[i], (unsigned char)(i >= 10 && i < 910 ? (uint32_t)i + add : (uint32_t)i));
    accel_fence_release(fence);
    accel_queue_destroy(q);
    accel_function_destroy(fn);
}

static void run_add(fixture *f, accel_memory *m, uint32_t add, accel_attach_mode expect_mode)
{
    run_fn(f, "fake.add_vram1", m, add, expect_mode);
}

/* A port wired to host memory: host memory reaches it as attached,
 * device memory is copied through host memory. */
static void test_host_wired_arg(void **state)
{
    fixture *f = *state;
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = 1000, .numa_node = -1};
    accel_memory *h = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &h), ACCEL_SUCCESS);
    run_fn(f, "fake.add_host", h, 9, ACCEL_ATTACH_PINNED);
    accel_memory_free(h);
    accel_memory *v = alloc_on(f, node_named(f->inst, ":vram0"), 1000);
    run_fn(f, "fake.add_host", v, 11, ACCEL_ATTACH_STAGED);
    accel_memory_free(v);
}

/* Indexes count only the listed nodes; with the device that owns the
 * memories not selected, its memories are not listed. */
static void test_nodes_follow_selection(void **state)
{
    fixture *f = *state;
    char *m[2] = {ts_write_fake_manifest(f->dir, "s1.json", "exec_nodes"),
                  ts_write_fake_manifest(f->dir, "s2.json", "exec_a")};
    const char *paths[] = {m[0], m[1], NULL};
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_DEVICE_SELECTOR", "fake_exec_a:*");
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    ts_env_pop_to(depth);
    free(m[0]);
    free(m[1]);
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_memory_nodes(inst, &n, NULL), ACCEL_SUCCESS);
    accel_memory_node **nodes = calloc(n, sizeof(*nodes));
    assert_int_equal(accel_enumerate_memory_nodes(inst, &n, nodes), ACCEL_SUCCESS);
    for (uint32_t i = 0; i < n; i++) {
        accel_memory_node_info info = {.struct_size = sizeof(info)};
        assert_int_equal(accel_memory_node_get_info(nodes[i], &info), ACCEL_SUCCESS);
        assert_int_equal(info.index, i);
        assert_null(info.device); /* only host nodes */
    }
    free(nodes);
    assert_null(node_named(inst, ":vram0"));
    accel_instance_destroy(inst);
}

static void test_wired_arg_zero_copy(void **state)
{
    fixture *f = *state;
    accel_memory *m = alloc_on(f, node_named(f->inst, ":vram1"), 1000);
    run_add(f, m, 3, ACCEL_ATTACH_ZERO_COPY);
    accel_memory_free(m);
}

static void test_wired_arg_copied_from_other_node(void **state)
{
    fixture *f = *state;
    accel_memory *m = alloc_on(f, node_named(f->inst, ":vram0"), 1000);
    run_add(f, m, 5, ACCEL_ATTACH_STAGED);
    accel_memory_free(m);
}

static void test_wired_arg_copied_from_host(void **state)
{
    fixture *f = *state;
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = 1000, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &m), ACCEL_SUCCESS);
    run_add(f, m, 7, ACCEL_ATTACH_STAGED);
    accel_memory_free(m);
}

static void test_arg_mode_errors(void **state)
{
    fixture *f = *state;
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(f->dev[NODES], NULL, "fake.add_vram1", &fn), ACCEL_SUCCESS);
    accel_memory *m = alloc_on(f, node_named(f->inst, ":vram1"), 64);
    accel_attach_mode mode;
    /* Not attached. */
    assert_int_equal(accel_function_arg_mode(fn, 0, m, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "not attached"));
    assert_int_equal(accel_memory_attach(m, f->dev[NODES], NULL), ACCEL_SUCCESS);
    /* Argument 1 is a scalar; 2 does not exist. */
    assert_int_equal(accel_function_arg_mode(fn, 1, m, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_function_arg_mode(fn, 2, m, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_function_arg_mode(NULL, 0, m, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_memory_node *node;
    assert_int_equal(accel_function_arg_node(fn, 1, &node), ACCEL_ERROR_INVALID_ARGUMENT);
    /* An unwired argument. */
    accel_function *add = NULL;
    assert_int_equal(accel_function_get(f->dev[NODES], NULL, "fake.add", &add), ACCEL_SUCCESS);
    assert_int_equal(accel_function_arg_node(add, 0, &node), ACCEL_SUCCESS);
    assert_null(node);
    assert_int_equal(accel_function_arg_mode(add, 0, m, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    accel_function_destroy(add);
    accel_function_destroy(fn);
    accel_memory_free(m);
}

static void test_alloc_errors(void **state)
{
    fixture *f = *state;
    /* A node of another instance. */
    char *m = ts_write_fake_manifest(f->dir, "other.json", "exec_nodes");
    accel_instance *other = ts_create_one(m);
    free(m);
    accel_memory_node *foreign = node_named(other, ":vram0");
    accel_memory_alloc_info info = {
        .struct_size = sizeof(info), .size = 64, .numa_node = -1, .node = foreign};
    accel_memory *mem = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &mem), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "another instance"));
    accel_instance_destroy(other);
    /* NULL arguments. */
    uint32_t n;
    assert_int_equal(accel_enumerate_memory_nodes(NULL, &n, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_enumerate_memory_nodes(f->inst, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_memory_node_get_info(NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_device_get_memory_nodes(NULL, &n, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(accel_memory_get_node(NULL));
    assert_string_equal(accel_memory_kind_string(ACCEL_MEMORY_KIND_DRAM), "dram");
    assert_string_equal(accel_memory_kind_string(ACCEL_MEMORY_KIND_FPGA_BANK), "fpga-bank");
    assert_string_equal(accel_memory_kind_string((accel_memory_kind)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nodes_listed, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_device_reach, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_on_device_node, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_wired_arg_zero_copy, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_wired_arg_copied_from_other_node, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_wired_arg_copied_from_host, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_arg_mode_errors, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_host_wired_arg, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_nodes_follow_selection, setup, ts_fakes_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_errors, setup, ts_fakes_teardown),
    };
    return cmocka_run_group_tests_name("memory nodes", tests, NULL, NULL);
}
