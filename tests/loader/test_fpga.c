/* test_fpga.c — the emulated FPGA card through the loader: the card and its
 * slots as devices and partitions, its banks as memory nodes, a kernel whose
 * argument is wired to bank1 given a buffer in bank1 (zero-copy) and in
 * bank0 or host memory (copied by the loader, reported as staged), and busy
 * and forced reconfiguration of a slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

#ifndef FPGA_IMAGE_DIR
#error "FPGA_IMAGE_DIR must be defined"
#endif

#define VADD_JSON FPGA_IMAGE_DIR "/vadd.json"
#define CRC32C_JSON FPGA_IMAGE_DIR "/crc32c.json"
#define N 4096u

typedef struct card {
    accel_instance *inst;
    accel_device *whole, *slot[2];
    accel_memory_node *bank0, *bank1;
} card;

static void open_card(card *c)
{
    memset(c, 0, sizeof(*c));
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_fpga.json", NULL};
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_FPGA_EMULATOR_CONFIG", NULL);
    ts_env_push("ACCEL_FPGA_FAULT_AFTER", NULL);
    assert_int_equal(ts_create_with_paths(&c->inst, 0, paths), ACCEL_SUCCESS);
    ts_env_pop_to(depth);
    uint32_t n;
    accel_device **devs = ts_devices(c->inst, &n);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = ts_device_info(devs[i]);
        assert_string_equal(info.driver_name, "fpga");
        assert_int_equal(info.kind, ACCEL_DEVICE_KIND_FPGA);
        assert_int_equal(info.interface, ACCEL_DEVICE_INTERFACE_FPGA);
        if (!(info.flags & ACCEL_DEVICE_FLAG_PARTITION)) {
            c->whole = devs[i];
            continue;
        }
        if (strcmp(info.partition, "slot 0") == 0)
            c->slot[0] = devs[i];
        else if (strcmp(info.partition, "slot 1") == 0)
            c->slot[1] = devs[i];
    }
    free(devs);
    assert_non_null(c->whole);
    assert_non_null(c->slot[0]);
    assert_non_null(c->slot[1]);

    uint32_t count = 0;
    assert_int_equal(accel_enumerate_memory_nodes(c->inst, &count, NULL), ACCEL_SUCCESS);
    accel_memory_node **nodes = calloc(count ? count : 1, sizeof(*nodes));
    assert_non_null(nodes);
    assert_int_equal(accel_enumerate_memory_nodes(c->inst, &count, nodes), ACCEL_SUCCESS);
    for (uint32_t i = 0; i < count; i++) {
        accel_memory_node_info mi = {.struct_size = sizeof(mi)};
        assert_int_equal(accel_memory_node_get_info(nodes[i], &mi), ACCEL_SUCCESS);
        if (mi.kind != ACCEL_MEMORY_KIND_FPGA_BANK)
            continue;
        /* The banks belong to the whole card, not to a slot. */
        assert_ptr_equal(mi.device, c->whole);
        assert_true(mi.host_visible);
        assert_int_equal(mi.capacity, 256ull << 20);
        size_t len = strlen(mi.name);
        if (len >= 5 && strcmp(mi.name + len - 5, "bank0") == 0)
            c->bank0 = nodes[i];
        else if (len >= 5 && strcmp(mi.name + len - 5, "bank1") == 0)
            c->bank1 = nodes[i];
    }
    free(nodes);
    assert_non_null(c->bank0);
    assert_non_null(c->bank1);
}

static accel_memory *alloc_on(card *c, const accel_memory_node *node, uint64_t size)
{
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = size, .numa_node = -1, .node = node};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(c->inst, &mi, &m), ACCEL_SUCCESS);
    if (node)
        assert_ptr_equal(accel_memory_get_node(m), node);
    return m;
}

static uint8_t *map(accel_memory *m)
{
    void *p = NULL;
    assert_int_equal(accel_memory_map(m, &p), ACCEL_SUCCESS);
    return p;
}

static void fill_u32(accel_memory *m, uint32_t start, uint32_t step)
{
    uint8_t *p = map(m);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = start + i * step;
        memcpy(p + 4 * i, &v, 4);
    }
}

static void expect_sums(accel_memory *out)
{
    const uint8_t *p = map(out);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        if (v != (5 + i) + (3 * i))
            fail_msg("out[%u] = %u, expected %u", i, v, (5 + i) + (3 * i));
    }
}

static accel_result vadd(accel_queue *q, accel_function *fn, accel_memory *a, accel_memory *b, accel_memory *out)
{
    accel_arg args[4] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY},
                         {.kind = ACCEL_ARG_U32}};
    accel_memory *mems[3] = {a, b, out};
    for (int i = 0; i < 3; i++) {
        args[i].u.mem.memory = mems[i];
        args[i].u.mem.size = 4ull * N;
    }
    args[3].u.u32 = N;
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = 4, .work_dim = 1,
                           .work_size = {N, 1, 1}};
    accel_result r = accel_queue_submit(q, &s, NULL);
    return r ? r : accel_queue_finish(q);
}

static void test_fpga_devices_and_nodes(void **state)
{
    (void)state;
    card c;
    open_card(&c);
    accel_device_info whole = ts_device_info(c.whole);
    assert_null(whole.parent);
    assert_int_equal(whole.available_instances, 2);
    for (int s = 0; s < 2; s++) {
        accel_device_info info = ts_device_info(c.slot[s]);
        assert_ptr_equal(info.parent, c.whole);
        assert_memory_not_equal(info.uuid, whole.uuid, ACCEL_UUID_SIZE);
        uint64_t ns = 0;
        assert_int_equal(accel_device_query(c.slot[s], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, sizeof(ns), NULL),
                         ACCEL_SUCCESS);
        assert_int_equal(ns, 20000000ull);
    }
    /* A slot reaches both banks where they are and host memory pinned. */
    uint32_t count = 0;
    assert_int_equal(accel_device_get_memory_nodes(c.slot[1], &count, NULL, NULL), ACCEL_SUCCESS);
    accel_memory_node **nodes = calloc(count, sizeof(*nodes));
    accel_attach_mode *modes = calloc(count, sizeof(*modes));
    assert_int_equal(accel_device_get_memory_nodes(c.slot[1], &count, nodes, modes), ACCEL_SUCCESS);
    int banks = 0, host = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (nodes[i] == c.bank0 || nodes[i] == c.bank1) {
            assert_int_equal(modes[i], ACCEL_ATTACH_ZERO_COPY);
            banks++;
        } else {
            accel_memory_node_info mi = {.struct_size = sizeof(mi)};
            assert_int_equal(accel_memory_node_get_info(nodes[i], &mi), ACCEL_SUCCESS);
            assert_int_equal(modes[i], ACCEL_ATTACH_PINNED);
            assert_true(mi.numa_node >= 0);
            host++;
        }
    }
    assert_int_equal(banks, 2);
    assert_true(host >= 1);
    free(nodes);
    free(modes);

    /* One queue per slot. */
    accel_queue *q = NULL, *again = NULL;
    assert_int_equal(accel_queue_create(c.slot[0], 0, &q), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(c.slot[0], 0, &again), ACCEL_ERROR_BUSY);
    uint32_t avail = 9;
    assert_int_equal(accel_device_query(c.whole, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &avail, sizeof(avail), NULL),
                     ACCEL_SUCCESS);
    assert_int_equal(avail, 1);
    accel_queue_destroy(q);
    accel_instance_destroy(c.inst);
}

/* The kernel's argument b is wired to bank1. */
static void test_fpga_wired_argument(void **state)
{
    (void)state;
    card c;
    open_card(&c);
    accel_device *slot = c.slot[0];
    accel_program *prog = NULL;
    assert_int_equal(accel_program_load(slot, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, VADD_JSON, 0, NULL, &prog),
                     ACCEL_SUCCESS);
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(slot, prog, "vadd", &fn), ACCEL_SUCCESS);
    accel_memory_node *wired = NULL;
    assert_int_equal(accel_function_arg_node(fn, 1, &wired), ACCEL_SUCCESS);
    assert_ptr_equal(wired, c.bank1);
    assert_int_equal(accel_function_arg_node(fn, 0, &wired), ACCEL_SUCCESS);
    assert_ptr_equal(wired, c.bank0);
    assert_int_equal(accel_function_arg_node(fn, 3, &wired), ACCEL_ERROR_INVALID_ARGUMENT); /* a u32 */

    accel_memory *a = alloc_on(&c, c.bank0, 4 * N), *out = alloc_on(&c, c.bank0, 4 * N);
    accel_memory *b1 = alloc_on(&c, c.bank1, 4 * N), *b0 = alloc_on(&c, c.bank0, 4 * N);
    accel_memory *host_b = alloc_on(&c, NULL, 4 * N), *host_out = alloc_on(&c, NULL, 4 * N);
    accel_memory *all[] = {a, out, b1, b0, host_b, host_out};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        accel_attach_mode mode = ACCEL_ATTACH_NONE;
        assert_int_equal(accel_memory_attach(all[i], slot, &mode), ACCEL_SUCCESS);
        assert_int_equal(mode, i < 4 ? ACCEL_ATTACH_ZERO_COPY : ACCEL_ATTACH_PINNED);
    }
    fill_u32(a, 5, 1);
    fill_u32(b1, 0, 3);
    fill_u32(b0, 0, 3);
    fill_u32(host_b, 0, 3);

    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    assert_int_equal(accel_function_arg_mode(fn, 1, b1, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(accel_function_arg_mode(fn, 1, b0, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    assert_int_equal(accel_function_arg_mode(fn, 1, host_b, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    assert_int_equal(accel_function_arg_mode(fn, 2, host_out, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    assert_int_equal(accel_function_arg_mode(fn, 3, a, &mode), ACCEL_ERROR_INVALID_ARGUMENT);

    accel_queue *q = NULL;
    assert_int_equal(accel_queue_create(slot, 0, &q), ACCEL_SUCCESS);
    /* b in bank1: zero-copy. */
    assert_int_equal(vadd(q, fn, a, b1, out), ACCEL_SUCCESS);
    expect_sums(out);
    /* b in bank0: copied through bank1 around the submission. */
    memset(map(out), 0, 4 * N);
    assert_int_equal(vadd(q, fn, a, b0, out), ACCEL_SUCCESS);
    expect_sums(out);
    /* b in host memory, and the result to host memory (copied back). */
    assert_int_equal(vadd(q, fn, a, host_b, host_out), ACCEL_SUCCESS);
    expect_sums(host_out);
    /* The inputs are unchanged. */
    const uint8_t *pb = map(b0);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v;
        memcpy(&v, pb + 4 * i, 4);
        assert_int_equal(v, 3 * i);
    }

    accel_queue_destroy(q);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        accel_memory_free(all[i]);
    accel_function_destroy(fn);
    accel_program_destroy(prog);
    accel_instance_destroy(c.inst);
}

static void test_fpga_reconfiguration(void **state)
{
    (void)state;
    card c;
    open_card(&c);
    accel_device *slot = c.slot[1];
    accel_program *vadd_prog = NULL, *crc_prog = NULL, *other = NULL;
    assert_int_equal(accel_program_load(slot, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, VADD_JSON, 0, NULL, &vadd_prog),
                     ACCEL_SUCCESS);
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(slot, vadd_prog, "vadd", &fn), ACCEL_SUCCESS);

    /* Busy: the slot holds a program that was not released. */
    assert_int_equal(accel_program_load(slot, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, CRC32C_JSON, 0, NULL, &crc_prog),
                     ACCEL_ERROR_BUSY);
    assert_null(crc_prog);
    const char *msg = accel_last_error_message();
    if (!strstr(msg, "force") || !strstr(msg, "crc32c.json"))
        fail_msg("unexpected message: %s", msg);
    /* The whole card loads nothing. */
    assert_int_equal(accel_program_load(c.whole, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, CRC32C_JSON, 0, NULL, &other),
                     ACCEL_ERROR_UNSUPPORTED);

    /* Forced: it replaces the image. */
    assert_int_equal(accel_program_load(slot, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, CRC32C_JSON, 0, "force", &crc_prog),
                     ACCEL_SUCCESS);
    accel_function *crc = NULL;
    assert_int_equal(accel_function_get(slot, crc_prog, "crc32c", &crc), ACCEL_SUCCESS);
    accel_memory *in = alloc_on(&c, c.bank1, 4 * N), *res = alloc_on(&c, c.bank0, 4 * N);
    assert_int_equal(accel_memory_attach(in, slot, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(res, slot, NULL), ACCEL_SUCCESS);
    memcpy(map(in), "123456789", 9);
    accel_queue *q = NULL;
    assert_int_equal(accel_queue_create(slot, 0, &q), ACCEL_SUCCESS);
    accel_arg args[4] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
    args[0].u.mem.memory = in;
    args[0].u.mem.size = 9;
    args[1].u.mem.memory = res;
    args[1].u.mem.size = 4;
    accel_submit_info s = {.struct_size = sizeof(s), .function = crc, .args = args, .arg_count = 2};
    assert_int_equal(accel_queue_submit(q, &s, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_finish(q), ACCEL_SUCCESS);
    uint32_t v;
    memcpy(&v, map(res), 4);
    assert_int_equal(v, 0xE3069283u);
    accel_queue_destroy(q);

    /* The replaced image's kernel no longer runs. */
    assert_int_equal(accel_queue_create(slot, 0, &q), ACCEL_SUCCESS);
    accel_memory *b = alloc_on(&c, c.bank1, 4 * N);
    assert_int_equal(accel_memory_attach(b, slot, NULL), ACCEL_SUCCESS);
    assert_int_equal(vadd(q, fn, res, b, res), ACCEL_ERROR_INVALID_HANDLE);
    accel_queue_destroy(q);

    /* Released, the slot takes a new image without force. */
    accel_function_destroy(crc);
    accel_program_destroy(crc_prog);
    accel_function_destroy(fn);
    accel_program_destroy(vadd_prog);
    assert_int_equal(accel_program_load(slot, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, VADD_JSON, 0, NULL, &vadd_prog),
                     ACCEL_SUCCESS);
    accel_program_destroy(vadd_prog);
    accel_memory_free(in);
    accel_memory_free(res);
    accel_memory_free(b);
    accel_instance_destroy(c.inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fpga_devices_and_nodes, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_fpga_wired_argument, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_fpga_reconfiguration, ts_env_case_setup, ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
