/* test_placement.c — placement (loader/placement.c) on small hand-built
 * topologies: the cost model's units, attach modes and buffer homes, each
 * reason a pipeline can be infeasible with the stage and the devices it
 * names, symmetry between identical devices, the time limit, the plan's
 * text and JSON, zlib outputs charged by measured output ratios, and
 * allocation failures. test_placement_search.c compares
 * the search with exhaustive enumeration on recorded machines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "../loader/support_env.h"
#include "unit_leaks.h"
#include "unit_util.h"

#include "placement.h"
#include "placement_support.h"

#define setup ut_leak_setup
#define teardown ut_leak_teardown

/* The fixtures of a case that pushes environment variables: they are put
 * back before the leak check, also when an assertion ended the case. */
static int env_setup(void **state)
{
    ts_env_case_setup(state);
    return ut_leak_setup(state);
}

static int env_teardown(void **state)
{
    ts_env_case_teardown(state);
    return ut_leak_teardown(state);
}

/* ------------------------------------------------------------------------ */
/* Building topologies by hand                                               */

static int32_t add_cpuset(accel_topology *t, const char *name)
{
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET, .name = (char *)name, .cpuset = "0-3", .parent = -1,
                          .numa_node = -1, .owner_device = -1, .locality = -1};
    int32_t i = accel__topology_add_node(t, &n);
    assert_true(i >= 0);
    return i;
}

static int32_t add_memory(accel_topology *t, const char *name, int32_t owner, accel_memory_kind kind)
{
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY, .name = (char *)name, .parent = owner,
                          .memory_kind = kind, .capacity = 1ull << 34, .numa_node = owner < 0 ? 0 : -1,
                          .owner_device = owner, .locality = -1};
    int32_t i = accel__topology_add_node(t, &n);
    assert_true(i >= 0);
    return i;
}

typedef struct dev_spec {
    accel_device_kind kind;
    const char *driver;
    uint32_t flags;
    uint32_t pasid_bits;
    uint32_t instances; /* 0 means unlimited here */
    uint32_t max_address_spaces;
    int32_t parent;
} dev_spec;

static int32_t add_device(accel_topology *t, const char *name, dev_spec s)
{
    /* Its position among the devices of its driver, as a selector sees it. */
    uint32_t index = 0;
    for (uint32_t i = 0; i < t->node_count; i++)
        index += t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE && t->nodes[i].driver_name &&
                 strcmp(t->nodes[i].driver_name, s.driver ? s.driver : "sim") == 0;
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE, .name = (char *)name, .parent = s.parent,
                          .numa_node = -1, .owner_device = -1, .device_kind = s.kind,
                          .driver_name = (char *)(s.driver ? s.driver : "sim"), .driver_index = index,
                          .device_flags = s.flags, .pasid_bits = s.pasid_bits,
                          .max_address_spaces = s.max_address_spaces,
                          .available_instances = s.instances ? s.instances : ACCEL_INSTANCES_UNLIMITED,
                          .locality = 0};
    for (size_t i = 0; i < strlen(name) && i < ACCEL_UUID_SIZE; i++)
        n.uuid[i] = (uint8_t)name[i];
    int32_t i = accel__topology_add_node(t, &n);
    assert_true(i >= 0);
    return i;
}

static void add_link(accel_topology *t, int32_t from, int32_t to, accel_attach_mode access, uint64_t mbps,
                     uint64_t ns)
{
    accel__topo_link l = {.from = (uint32_t)from, .to = (uint32_t)to, .kind = ACCEL_LINK_PCIE, .access = access,
                          .bandwidth_mbps = mbps, .latency_ns = ns, .bandwidth_source = ACCEL_SOURCE_USER,
                          .latency_source = ACCEL_SOURCE_USER};
    assert_true(accel__topology_add_link(t, &l) >= 0);
}

static void add_fn(accel_topology *t, int32_t dev, const char *name, uint64_t fixed_ns, uint64_t bps)
{
    assert_int_equal(accel__topology_add_function(t, (uint32_t)dev, name, fixed_ns, bps, ACCEL_SOURCE_DRIVER), 0);
}

/* One CPU set with one host memory: cpu -> host at 1000 MB/s, 100 ns. */
static accel_topology *host_topology(int32_t *cpu, int32_t *host)
{
    accel_topology *t = accel__topology_new();
    assert_non_null(t);
    *cpu = add_cpuset(t, "cpuset0");
    *host = add_memory(t, "node0", -1, ACCEL_MEMORY_KIND_DRAM);
    add_link(t, *cpu, *host, ACCEL_ATTACH_ZERO_COPY, 1000, 100);
    return t;
}

/* crc32c of an input file of 1e6 bytes. */
#define CRC_PIPE                                                                                                 \
    "{\"pipeline_version\": 1, \"name\": \"crc\", \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": 1000000}, " \
    "\"crc\": {\"bytes\": 4}}, \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": "             \
    "[{\"buffer\": \"in\"}, {\"buffer\": \"crc\"}]}]}"

static accel_plan_conflict place_infeasible(const accel_topology *t, const accel_pipeline *p,
                                            const accel_place_options *o, accel_plan **plan)
{
    *plan = NULL;
    assert_int_equal(accel_place(t, p, o, plan), ACCEL_ERROR_INFEASIBLE);
    assert_non_null(*plan);
    assert_non_null(strstr(accel_last_error_message(), "t.json: infeasible"));
    accel_plan_conflict c = {.struct_size = sizeof(c)};
    assert_int_equal(accel_plan_get_conflict(*plan, &c), ACCEL_SUCCESS);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(*plan, &s), ACCEL_SUCCESS);
    assert_false(s.feasible);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(*plan, 0, &st), ACCEL_ERROR_INFEASIBLE);
    return c;
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part)) {
        print_error("\"%s\" not found in:\n%s\n", part, text);
        fail();
    }
}

/* ------------------------------------------------------------------------ */
/* The cost model                                                            */

/* Every unit by hand: MB/s is 10^6 bytes per second, latencies in ns. */
static void test_placement_units(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    add_link(t, g, host, ACCEL_ATTACH_PINNED, 2000, 50);
    add_fn(t, g, "crc32c", 1000, 1000000000);
    accel_pipeline *p = pipeline(CRC_PIPE);

    accel_plan *plan = place_ok(t, p, NULL);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_true(s.feasible);
    assert_true(s.optimal);
    /* compute: 1000 ns + 1e6 B / 1e9 B/s = 1001000 ns
     * in:  50 ns + 1e6 B / 2000 MB/s = 500050 ns; read from the file by the
     *      CPU set: 100 ns + 1e6 B / 1000 MB/s = 1000100 ns
     * crc: 50 ns + 4 B / 2000 MB/s = 52 ns */
    const double compute = 1001000, in_use = 500050, in_io = 1000100, crc_use = 52;
    assert_near(s.cost_ns, compute + in_use + in_io + crc_use);
    assert_near(s.lower_bound_ns, s.cost_ns);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)g);
    assert_near(st.cost_ns, compute);
    assert_near(st.transfer_ns, in_use + crc_use);
    accel_plan_buffer b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_plan_get_buffer(plan, 0, &b), ACCEL_SUCCESS);
    assert_int_equal(b.home_node, (uint32_t)host);
    assert_near(b.cost_ns, in_use + in_io);
    accel_attach_mode mode;
    assert_int_equal(accel_plan_get_use(plan, 0, 0, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    assert_int_equal(accel_plan_get_use(plan, 0, 2, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_plan_get_buffer(plan, 2, &b), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_plan_conflict c = {.struct_size = sizeof(c)};
    assert_int_equal(accel_plan_get_conflict(plan, &c), ACCEL_SUCCESS);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_NONE);
    assert_int_equal(c.stage, -1);
    accel_plan_destroy(plan);

    /* The evaluation hook agrees. */
    double cost;
    uint32_t devices[1] = {(uint32_t)g};
    assert_int_equal(accel__place_evaluate(t, p, NULL, devices, &cost), ACCEL_SUCCESS);
    assert_near(cost, compute + in_use + in_io + crc_use);
    devices[0] = (uint32_t)host;
    assert_int_equal(accel__place_evaluate(t, p, NULL, devices, &cost), ACCEL_ERROR_INVALID_ARGUMENT);

    /* Unknown values take the documented estimates: 1000 MB/s for a link,
     * 1e9 B/s for a function. */
    accel_topology *t2 = host_topology(&cpu, &host);
    g = add_device(t2, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    add_link(t2, g, host, ACCEL_ATTACH_ZERO_COPY, 0, 0);
    add_fn(t2, g, "crc32c", 0, 0);
    plan = place_ok(t2, p, NULL);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_near(s.cost_ns, 1e6 + 1e6 + 1000100 + 4);
    accel_plan_destroy(plan);
    accel_topology_destroy(t2);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* ACCEL_PLACE_STREAMED: a stage costs its function's stream form where the
 * device has one, unless only the one-shot form was measured, and goes only
 * to devices with the stream form while that leaves a plan (else anywhere,
 * for a run in whole buffers); without the flag, the one-shot form. */
static void test_placement_streamed_costs(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t a = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t b = add_device(t, "gpu1", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t c = add_device(t, "gpu2", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    add_link(t, a, host, ACCEL_ATTACH_ZERO_COPY, 2000, 50);
    add_link(t, b, host, ACCEL_ATTACH_ZERO_COPY, 2000, 50);
    add_link(t, c, host, ACCEL_ATTACH_ZERO_COPY, 2000, 50);
    /* gpu0: a fast one-shot form, a slow stream form; gpu1 in between;
     * gpu2 the fastest, without a stream form. */
    add_fn(t, a, "crc32c", 1000, 4000000000);
    add_fn(t, a, "crc32c.stream", 1000, 100000000);
    add_fn(t, b, "crc32c", 1000, 1000000000);
    add_fn(t, b, "crc32c.stream", 1000, 1000000000);
    add_fn(t, c, "crc32c", 1000, 8000000000);
    accel_pipeline *p = pipeline(CRC_PIPE);
    accel_plan_stage st = {.struct_size = sizeof(st)};

    accel_plan *plan = place_ok(t, p, NULL);
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)c);
    assert_near(st.cost_ns, 1000 + 1e6 / 8.0);
    accel_plan_destroy(plan);

    accel_place_options o = {.struct_size = sizeof(o), .flags = ACCEL_PLACE_STREAMED};
    plan = place_ok(t, p, &o);
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)b);
    assert_near(st.cost_ns, 1000 + 1e6);
    char text[8192];
    size_t len = 0;
    assert_int_equal(accel_plan_describe(plan, true, text, sizeof(text), &len), ACCEL_SUCCESS);
    if (!strstr(text, "gpu2") || !strstr(text, "does not offer crc32c.stream (the run streams)"))
        fail_msg("the plan does not say why gpu2 is out:\n%s", text);
    accel_plan_destroy(plan);

    /* A measured one-shot cost outweighs the stream form's driver hint. */
    t->nodes[a].functions[0].source = ACCEL_SOURCE_MEASURED;
    plan = place_ok(t, p, &o);
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)a);
    accel_plan_destroy(plan);
    t->nodes[a].functions[1].source = ACCEL_SOURCE_MEASURED;
    plan = place_ok(t, p, &o);
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)b);
    accel_plan_destroy(plan);

    /* Only gpu2 allowed: no device with the stream form, so the plan puts
     * the stage there anyway (the run will not stream). */
    assert_int_equal(accel_pipeline_constrain_stage(p, "crc", "sim:2"), ACCEL_SUCCESS);
    plan = place_ok(t, p, &o);
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)c);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* A device with only its own memory: the buffer goes there (zero-copy for
 * the device, the host writes the file over its link); when the host cannot
 * reach that memory, the use is STAGED through host memory. */
static void test_placement_homes_and_staging(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t vram = add_memory(t, "gpu0:vram", g, ACCEL_MEMORY_KIND_DEVICE);
    add_link(t, g, vram, ACCEL_ATTACH_ZERO_COPY, 100000, 10);
    add_link(t, cpu, vram, ACCEL_ATTACH_ZERO_COPY, 10000, 500);
    add_fn(t, g, "crc32c", 0, 1000000000);
    accel_pipeline *p = pipeline(CRC_PIPE);
    accel_plan *plan = place_ok(t, p, NULL);
    accel_plan_buffer b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_plan_get_buffer(plan, 0, &b), ACCEL_SUCCESS);
    assert_int_equal(b.home_node, (uint32_t)vram);
    /* device 10 + 1e6 * 0.01; host writes it: 500 + 1e6 * 0.1 */
    assert_near(b.cost_ns, 10 + 10000 + 500 + 100000);
    accel_attach_mode mode;
    assert_int_equal(accel_plan_get_use(plan, 0, 0, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);

    /* Host memory only for the ASIC, VRAM only for the GPU: the buffer
     * between them is reached by one of them through a copy. */
    t = host_topology(&cpu, &host);
    g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    vram = add_memory(t, "gpu0:vram", g, ACCEL_MEMORY_KIND_DEVICE);
    add_link(t, g, vram, ACCEL_ATTACH_ZERO_COPY, 100000, 10);
    add_link(t, cpu, vram, ACCEL_ATTACH_ZERO_COPY, 10000, 500);
    int32_t a = add_device(t, "asic0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC});
    add_link(t, a, host, ACCEL_ATTACH_PINNED, 5000, 200);
    add_fn(t, g, "accel.copy", 0, 1000000000);
    add_fn(t, a, "crc32c", 0, 1000000000);
    p = pipeline("{\"pipeline_version\": 1, \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": 1000}, "
                 "\"mid\": {\"bytes\": 1000}, \"crc\": {\"bytes\": 4}}, \"stages\": ["
                 "{\"name\": \"copy\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"mid\"}]},"
                 "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"mid\"}, {\"buffer\": \"crc\"}]}]}");
    plan = place_ok(t, p, NULL);
    accel_attach_mode m0, m1;
    assert_int_equal(accel_plan_get_use(plan, 0, 1, &m0), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_get_use(plan, 1, 0, &m1), ACCEL_SUCCESS);
    assert_true((m0 == ACCEL_ATTACH_STAGED) != (m1 == ACCEL_ATTACH_STAGED));
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    uint32_t devices[2] = {(uint32_t)g, (uint32_t)a};
    double cost;
    assert_int_equal(accel__place_evaluate(t, p, NULL, devices, &cost), ACCEL_SUCCESS);
    assert_near(cost, s.cost_ns);
    accel_plan_destroy(plan);

    /* Copies forbidden: the binding constraint is reachability, at the
     * second stage placed, naming both devices. */
    accel_place_options o = {.struct_size = sizeof(o), .flags = ACCEL_PLACE_NO_STAGED};
    accel_plan_conflict c = place_infeasible(t, p, &o, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_REACHABILITY);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "stage \"crc\"");
    assert_contains(c.detail, "asic0");
    assert_contains(c.detail, "gpu0");
    assert_contains(c.detail, "reachability ruled out asic0");
    accel_plan_destroy(plan);
    assert_int_equal(accel__place_evaluate(t, p, &o, devices, &cost), ACCEL_ERROR_INFEASIBLE);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* Infeasible pipelines: the binding constraint, its stage, the devices      */

/* Two SVA devices; only the one with an 8-bit PASID offers crc32c, and the
 * process's PASID needs 16 bits. */
static void test_placement_infeasible_pasid(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t wide = add_device(t, "wd-wide", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .driver = "warpdrive",
                                                        .flags = ACCEL_DEVICE_FLAG_SVA, .pasid_bits = 20});
    int32_t narrow = add_device(t, "wd-narrow", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .driver = "warpdrive",
                                                            .flags = ACCEL_DEVICE_FLAG_SVA, .pasid_bits = 8});
    int32_t c0 = add_device(t, "cpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_CPU, .driver = "cpu"});
    for (int32_t d = wide; d <= c0; d++)
        add_link(t, d, host, ACCEL_ATTACH_ZERO_COPY, 10000, 100);
    add_fn(t, wide, "zlib.deflate", 1000, 1000000000);
    add_fn(t, narrow, "crc32c", 1000, 1000000000);
    add_fn(t, c0, "sha256", 1000, 1000000000);
    accel_pipeline *p = pipeline(CRC_PIPE);
    accel_place_options o = {.struct_size = sizeof(o), .process_pasid_bits = 16};
    accel_plan *plan;
    accel_plan_conflict c = place_infeasible(t, p, &o, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_PASID);
    assert_int_equal(c.stage, 0);
    /* The binding constraint with the device it ruled out, then the others. */
    assert_contains(c.detail, "stage \"crc\" (crc32c): no device is left; pasid ruled out wd-narrow");
    assert_contains(c.detail, "wd-narrow has 8");
    assert_contains(c.detail, "function ruled out wd-wide, cpu0 (they do not offer crc32c)");
    size_t n;
    assert_int_equal(accel_plan_describe(plan, true, NULL, 0, &n), ACCEL_SUCCESS);
    char *text = malloc(n);
    assert_int_equal(accel_plan_describe(plan, true, text, n, NULL), ACCEL_SUCCESS);
    assert_contains(text, "infeasible: pasid constraint at stage crc");
    assert_contains(text, "rejected wd-narrow");
    assert_contains(text, "PASID width 8 bits is below the process's 16");
    free(text);
    accel_plan_destroy(plan);

    /* A process PASID of 8 bits fits. */
    o.process_pasid_bits = 8;
    plan = place_ok(t, p, &o);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)narrow);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

#define TWO_CRC_PIPE                                                                                             \
    "{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"b\": {\"file\": \"b\", " \
    "\"bytes\": 1000}, \"ca\": {\"bytes\": 4}, \"cb\": {\"bytes\": 4}}, \"stages\": ["                           \
    "{\"name\": \"first\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}]},"       \
    "{\"name\": \"second\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"b\"}, {\"buffer\": \"cb\"}]}]}"

/* One device offers crc32c, with one free instance, for two stages. */
static void test_placement_infeasible_instances(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t zip = add_device(t, "zip0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .instances = 1});
    int32_t other = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    add_link(t, zip, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_link(t, other, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_fn(t, zip, "crc32c", 1000, 1000000000);
    add_fn(t, other, "sha256", 1000, 1000000000);
    accel_pipeline *p = pipeline(TWO_CRC_PIPE);
    accel_plan *plan;
    accel_plan_conflict c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_INSTANCES);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "stage \"second\" (crc32c): no free instance");
    assert_contains(c.detail, "zip0 has 1 (taken by \"first\")");
    accel_plan_destroy(plan);
    accel_topology_destroy(t);

    /* Partitions with free instances of their own, whose parent has one:
     * found by the search, not by counting. */
    t = host_topology(&cpu, &host);
    int32_t whole = add_device(t, "zip0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .instances = 1});
    int32_t p0 = add_device(t, "zip0.0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .parent = whole,
                                                     .flags = ACCEL_DEVICE_FLAG_PARTITION});
    int32_t p1 = add_device(t, "zip0.1", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .parent = whole,
                                                     .flags = ACCEL_DEVICE_FLAG_PARTITION});
    for (int32_t d = p0; d <= p1; d++) {
        add_link(t, d, host, ACCEL_ATTACH_PINNED, 10000, 100);
        add_fn(t, d, "crc32c", 1000, 1000000000);
    }
    c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_INSTANCES);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "\"first\" is on zip0.0");
    assert_contains(c.detail, "instances ruled out zip0.0 (part of zip0 has 1 instance, taken by stage \"first\")");
    assert_contains(c.detail, "zip0.1");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* No device offers the function. */
static void test_placement_infeasible_function(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t a = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t b = add_device(t, "fpga0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA});
    add_link(t, a, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_link(t, b, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_fn(t, a, "sha256", 1000, 1000000000);
    add_fn(t, b, "zlib.inflate", 1000, 1000000000);
    accel_pipeline *p = pipeline(CRC_PIPE);
    accel_plan *plan;
    accel_plan_conflict c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_FUNCTION);
    assert_int_equal(c.stage, 0);
    assert_contains(c.detail, "function ruled out gpu0, fpga0 (they do not offer crc32c)");
    /* The JSON says the same. */
    size_t n;
    assert_int_equal(accel_plan_export_json(plan, NULL, 0, &n), ACCEL_SUCCESS);
    char *text = malloc(n);
    assert_int_equal(accel_plan_export_json(plan, text, n, NULL), ACCEL_SUCCESS);
    json_object *root = json_tokener_parse(text);
    assert_non_null(root);
    json_object *v, *cf;
    assert_true(json_object_object_get_ex(root, "feasible", &v) && !json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(root, "conflict", &cf));
    assert_true(json_object_object_get_ex(cf, "constraint", &v));
    assert_string_equal(json_object_get_string(v), "function");
    assert_true(json_object_object_get_ex(cf, "stage", &v));
    assert_string_equal(json_object_get_string(v), "crc");
    json_object_put(root);
    free(text);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* The budget of IOMMU contexts, and a device's own address space limit. */
static void test_placement_infeasible_iommu(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t f = add_device(t, "fpga0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA});
    int32_t s = add_device(t, "sva0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .flags = ACCEL_DEVICE_FLAG_SVA,
                                                  .pasid_bits = 20});
    for (int32_t d = g; d <= s; d++)
        add_link(t, d, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_fn(t, g, "crc32c", 1000, 1000000000);
    add_fn(t, f, "sha256", 1000, 1000000000);
    add_fn(t, s, "sha256", 1000000, 1000000);
    accel_pipeline *p = pipeline(
        "{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"ca\": {\"bytes\": 4}, "
        "\"sa\": {\"bytes\": 32}}, \"stages\": ["
        "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}]},"
        "{\"name\": \"sha\", \"function\": \"sha256\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"sa\"}],"
        " \"constraints\": {\"kind\": \"fpga\"}}]}");
    accel_place_options o = {.struct_size = sizeof(o), .iommu_contexts = 1};
    accel_plan *plan;
    accel_plan_conflict c = place_infeasible(t, p, &o, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_IOMMU);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "\"crc\" is on gpu0");
    assert_contains(c.detail, "iommu ruled out fpga0 (the budget of 1 IOMMU context is spent)");
    accel_plan_destroy(plan);
    /* Without the kind constraint the SVA device takes sha256: no context. */
    accel_pipeline_destroy(p);
    p = pipeline("{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"ca\": {\"bytes\": 4}, "
                 "\"sa\": {\"bytes\": 32}}, \"stages\": ["
                 "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}]},"
                 "{\"name\": \"sha\", \"function\": \"sha256\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"sa\"}]}]}");
    plan = place_ok(t, p, &o);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 1, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)s);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);

    /* Two partitions of a device that holds one address space. */
    t = host_topology(&cpu, &host);
    int32_t whole = add_device(t, "fpga0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA, .max_address_spaces = 1});
    int32_t p0 = add_device(t, "fpga0.0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA, .parent = whole,
                                                      .flags = ACCEL_DEVICE_FLAG_PARTITION});
    int32_t p1 = add_device(t, "fpga0.1", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA, .parent = whole,
                                                      .flags = ACCEL_DEVICE_FLAG_PARTITION});
    for (int32_t d = p0; d <= p1; d++)
        add_link(t, d, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_fn(t, p0, "crc32c", 1000, 1000000000);
    add_fn(t, p1, "crc32c", 1000, 1000000000);
    p = pipeline(TWO_CRC_PIPE);
    accel_plan_destroy(place_ok(t, p, NULL)); /* both on one partition */
    accel_pipeline_destroy(p);
    p = pipeline("{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"b\": {\"file\": "
                 "\"b\", \"bytes\": 1000}, \"ca\": {\"bytes\": 4}, \"cb\": {\"bytes\": 4}}, \"stages\": ["
                 "{\"name\": \"first\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}]},"
                 "{\"name\": \"second\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"b\"}, {\"buffer\": \"cb\"}],"
                 " \"constraints\": {\"not_with\": [\"first\"]}}]}");
    c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.stage, 1);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_IOMMU);
    assert_contains(c.detail, "(no address space left)");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* A program stage never lands on a whole FPGA card whose slots are its
 * partitions (the card loads no program), only on a slot; with no slot
 * free of constraints it is infeasible rather than placed on the card. */
static void test_placement_program_not_on_whole_card(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t whole = add_device(t, "fpga0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA, .driver = "fpga"});
    int32_t slot = add_device(t, "fpga0.0", (dev_spec){.kind = ACCEL_DEVICE_KIND_FPGA, .driver = "fpga",
                                                        .parent = whole, .flags = ACCEL_DEVICE_FLAG_PARTITION});
    add_link(t, whole, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_link(t, slot, host, ACCEL_ATTACH_PINNED, 10000, 100);
#define CARD_PIPE(extra)                                                                                       \
    "{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"ca\": {\"bytes\": 4}}, "   \
    "\"stages\": [{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.json\", \"format\": \"fpga-image\", "   \
    "\"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\", \"writes\": true}]" extra "}]}"
    accel_pipeline *p = pipeline(CARD_PIPE(""));
    accel_plan *plan = place_ok(t, p, NULL);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)slot);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    /* Asked for the card itself: infeasible, the card takes no program. */
    p = pipeline(CARD_PIPE(", \"constraints\": {\"device\": \"fpga:0\"}"));
    accel_plan_conflict c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.stage, 0);
    assert_contains(c.detail, "function ruled out fpga0 (they do not take fpga-image programs)");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
#undef CARD_PIPE
}

/* The stage's own constraints: static ones (kind, driver, uuid, device) and
 * not_with. */
static void test_placement_user_constraints(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t d[4];
    const char *names[] = {"gpu0", "gpu1", "asic0", "asic1"};
    for (int i = 0; i < 4; i++) {
        d[i] = add_device(t, names[i], (dev_spec){.kind = i < 2 ? ACCEL_DEVICE_KIND_GPU : ACCEL_DEVICE_KIND_ASIC,
                                                  .driver = i < 2 ? "opencl" : "warpdrive"});
        add_link(t, d[i], host, ACCEL_ATTACH_PINNED, 10000, 100);
        /* gpu0 is the cheapest, then gpu1, asic0, asic1 */
        add_fn(t, d[i], "crc32c", 1000u * (uint64_t)(i + 1), 1000000000);
    }
    accel_pipeline *p = pipeline(TWO_CRC_PIPE);
    accel_plan *plan = place_ok(t, p, NULL);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 1, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)d[0]);
    accel_plan_destroy(plan);

    struct {
        const char *selector;
        int expect;
    } cases[] = {{"warpdrive:*", 2}, {"*:asic", 2}, {"*:1", 1}, {"!opencl:0", 1},
                 {"*:uuid=6173696331", 3} /* "asic1" */};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(accel_pipeline_constrain_stage(p, "second", cases[i].selector), ACCEL_SUCCESS);
        plan = place_ok(t, p, NULL);
        assert_int_equal(accel_plan_get_stage(plan, 1, &st), ACCEL_SUCCESS);
        if (st.device_node != (uint32_t)d[cases[i].expect])
            print_error("selector %s\n", cases[i].selector);
        assert_int_equal(st.device_node, (uint32_t)d[cases[i].expect]);
        accel_plan_destroy(plan);
    }
    /* Nothing left: the user's constraint binds, naming the devices. */
    assert_int_equal(accel_pipeline_constrain_stage(p, "second", "vulkan:*"), ACCEL_SUCCESS);
    accel_plan_conflict c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_USER);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "user ruled out gpu0, gpu1, asic0, asic1 (the stage's device selector)");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);

    /* not_with on a topology of one device. */
    accel_topology_destroy(t);
    t = host_topology(&cpu, &host);
    d[0] = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    add_link(t, d[0], host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_fn(t, d[0], "crc32c", 1000, 1000000000);
    p = pipeline("{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 1000}, \"b\": {\"file\": "
                 "\"b\", \"bytes\": 1000}, \"ca\": {\"bytes\": 4}, \"cb\": {\"bytes\": 4}}, \"stages\": ["
                 "{\"name\": \"first\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"ca\"}],"
                 " \"constraints\": {\"not_with\": [\"second\"]}},"
                 "{\"name\": \"second\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"b\"}, {\"buffer\": \"cb\"}],"
                 " \"constraints\": {\"uuid\": \"6770\", \"driver\": \"s?m\", \"kind\": \"gpu\"}}]}");
    c = place_infeasible(t, p, NULL, &plan);
    assert_int_equal(c.constraint, ACCEL_CONSTRAINT_USER);
    assert_int_equal(c.stage, 1);
    assert_contains(c.detail, "user ruled out gpu0 (not_with stage \"first\", which is there)");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* Search behaviour                                                          */

/* Ten identical accelerators (like the replicas of a simulated device) are
 * interchangeable: the search looks at a few of the 10^5 assignments and
 * finds the optimum the exhaustive enumeration finds. */
static void test_placement_symmetry(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    char name[32];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "acc%d", i);
        int32_t d = add_device(t, name, (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC, .instances = 2});
        int32_t local = add_memory(t, strcat(name, ":sram"), d, ACCEL_MEMORY_KIND_DEVICE);
        add_link(t, d, local, ACCEL_ATTACH_ZERO_COPY, 50000, 20);
        add_link(t, d, host, ACCEL_ATTACH_PINNED, 8000, 700);
        add_fn(t, d, "crc32c", 3000, 2000000000);
        add_fn(t, d, "accel.copy", 3000, 8000000000);
    }
    accel_pipeline *p = pipeline(
        "{\"pipeline_version\": 1, \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": 4000000}, "
        "\"x\": {\"bytes\": 4000000}, \"y\": {\"bytes\": 4000000}, \"c1\": {\"bytes\": 4}, \"c2\": {\"bytes\": 4}, "
        "\"c3\": {\"bytes\": 4}}, \"stages\": ["
        "{\"name\": \"s1\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"x\"}]},"
        "{\"name\": \"s2\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"x\"}, {\"buffer\": \"y\"}]},"
        "{\"name\": \"s3\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"y\"}, {\"buffer\": \"c1\"}]},"
        "{\"name\": \"s4\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"x\"}, {\"buffer\": \"c2\"}]},"
        "{\"name\": \"s5\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"c3\"}],"
        " \"constraints\": {\"not_with\": [\"s1\"]}}]}");
    accel_plan *plan = place_ok(t, p, NULL);
    accel_place_options o = {.struct_size = sizeof(o), .flags = ACCEL_PLACE_EXHAUSTIVE};
    accel_plan *ref = place_ok(t, p, &o);
    accel_plan_summary a = {.struct_size = sizeof(a)}, b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_plan_get_summary(plan, &a), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_get_summary(ref, &b), ACCEL_SUCCESS);
    assert_near(a.cost_ns, b.cost_ns);
    assert_int_equal(b.nodes_explored, 10 * 10 * 10 * 10 * 10);
    assert_true(a.nodes_explored < 200);
    accel_plan_destroy(plan);
    accel_plan_destroy(ref);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* With a time limit the best plan found so far comes back, not optimal,
 * with a lower bound below its cost. Forty devices with fast memories of
 * their own and a chain of stages that must alternate between devices: the
 * bound (each access at its cheapest) is loose and the search is long. */
static void test_placement_time_limit(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        int32_t d = add_device(t, name, (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
        add_link(t, d, host, ACCEL_ATTACH_PINNED, 1000 + 37 * (uint64_t)i, 100 + (uint64_t)(i * 13 % 7));
        int32_t local = add_memory(t, strcat(name, ":vram"), d, ACCEL_MEMORY_KIND_DEVICE);
        add_link(t, d, local, ACCEL_ATTACH_ZERO_COPY, 100000 + 1000 * (uint64_t)i, 10);
        add_link(t, cpu, local, ACCEL_ATTACH_ZERO_COPY, 8000, 900);
        add_fn(t, d, "accel.copy", 1000 + (uint64_t)(i * 7919 % 1000), 1000000000 + (uint64_t)(i * 104729 % 1000));
    }
    char text[8192];
    int len = snprintf(text, sizeof(text), "{\"pipeline_version\": 1, \"buffers\": {\"b0\": {\"file\": \"f\", \"bytes\": 4096}");
    for (int i = 1; i <= 20; i++)
        len += snprintf(text + len, sizeof(text) - (size_t)len, ", \"b%d\": {\"bytes\": %d}", i, 4096 + i);
    len += snprintf(text + len, sizeof(text) - (size_t)len, "}, \"stages\": [");
    for (int i = 1; i <= 20; i++)
        len += snprintf(text + len, sizeof(text) - (size_t)len,
                        "%s{\"name\": \"s%d\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"b%d\"}, "
                        "{\"buffer\": \"b%d\"}], \"constraints\": {\"not_with\": [\"s%d\"]}}",
                        i > 1 ? ", " : "", i, i - 1, i, i > 1 ? i - 1 : 2);
    snprintf(text + len, sizeof(text) - (size_t)len, "]}");
    accel_pipeline *p = pipeline(text);
    accel_place_options o = {.struct_size = sizeof(o), .time_limit_ns = 1};
    accel_plan *plan = place_ok(t, p, &o);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_true(s.feasible);
    assert_false(s.optimal);
    assert_true(s.lower_bound_ns <= s.cost_ns);
    assert_true(s.lower_bound_ns > 0);
    size_t n;
    assert_int_equal(accel_plan_describe(plan, false, NULL, 0, &n), ACCEL_SUCCESS);
    char *d = malloc(n);
    assert_int_equal(accel_plan_describe(plan, false, d, n, NULL), ACCEL_SUCCESS);
    assert_contains(d, "stopped early after ");
    assert_contains(d, " ms: best found so far");
    free(d);
    accel_plan_destroy(plan);
    /* Without a limit in the options, ACCEL_PLACE_TIME_LIMIT_MS gives it
     * (else ACCEL_PLACE_DEFAULT_TIME_LIMIT_NS); a bad value is refused. */
    o.time_limit_ns = 0;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_PLACE_TIME_LIMIT_MS", "1");
    plan = place_ok(t, p, &o);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_true(s.feasible);
    assert_false(s.optimal);
    accel_plan_destroy(plan);
    ts_env_push("ACCEL_PLACE_TIME_LIMIT_MS", "1ms");
    plan = NULL;
    assert_int_equal(accel_place(t, p, &o, &plan), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_contains(accel_last_error_message(), "ACCEL_PLACE_TIME_LIMIT_MS=\"1ms\" is not a number of milliseconds");
    assert_contains(accel_last_error_message(), "): \"ms\" after the number");
    ts_env_push("ACCEL_PLACE_TIME_LIMIT_MS", "0");
    assert_int_equal(accel_place(t, p, &o, &plan), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_contains(accel_last_error_message(), "ACCEL_PLACE_TIME_LIMIT_MS=\"0\" is not a number of milliseconds "
                                                "(1 or more): less than 1");
    ts_env_pop_to(depth);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

static void test_placement_describe(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU, .driver = "opencl"});
    int32_t a = add_device(t, "asic0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC});
    add_link(t, g, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_link(t, a, host, ACCEL_ATTACH_ZERO_COPY, 10000, 100);
    add_fn(t, g, "zlib.inflate", 1000, 4000000000);
    add_fn(t, g, "zlib.deflate", 1000, 2000000000);
    add_fn(t, a, "crc32c", 1000, 8000000000);
    add_fn(t, a, "zlib.deflate", 1000, 1000000000);
    char path[PATH_MAX];
    accel_pipeline *p = NULL;
    assert_int_equal(accel_pipeline_load(ut_path(path, "%s/pipelines/demo.json", ut_source_root()), &p),
                     ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_set_buffer_bytes(p, 0, 20000000), ACCEL_SUCCESS);
    accel_plan *plan = place_ok(t, p, NULL);

    size_t n;
    assert_int_equal(accel_plan_describe(plan, true, NULL, 0, &n), ACCEL_SUCCESS);
    char *text = malloc(n);
    assert_int_equal(accel_plan_describe(plan, true, text, n, NULL), ACCEL_SUCCESS);
    assert_int_equal(strlen(text) + 1, n);
    assert_contains(text, "pipeline demo: estimated");
    assert_contains(text, "(optimal;");
    assert_contains(text, "inflate          zlib.inflate     gpu0");
    assert_contains(text, "crc              crc32c           asic0");
    assert_contains(text, "zero-copy");
    assert_contains(text, "pinned");
    assert_contains(text, "packed");
    assert_contains(text, "node0");
    assert_contains(text, "rejected asic0            function     does not offer zlib.inflate");
    /* Too small a buffer: what fits, and INCOMPLETE. */
    char small[16];
    size_t need = 0;
    assert_int_equal(accel_plan_describe(plan, true, small, sizeof(small), &need), ACCEL_INCOMPLETE);
    assert_int_equal(need, n);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(strncmp(small, text, sizeof(small) - 1), 0);
    free(text);

    assert_int_equal(accel_plan_export_json(plan, NULL, 0, &n), ACCEL_SUCCESS);
    text = malloc(n);
    assert_int_equal(accel_plan_export_json(plan, text, n, NULL), ACCEL_SUCCESS);
    json_object *root = json_tokener_parse(text), *v, *stages, *st, *uses, *u;
    assert_non_null(root);
    assert_true(json_object_object_get_ex(root, "feasible", &v) && json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(root, "cost_ns", &v));
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_near(json_object_get_double(v), s.cost_ns);
    assert_true(json_object_object_get_ex(root, "stages", &stages));
    assert_int_equal(json_object_array_length(stages), 3);
    st = json_object_array_get_idx(stages, 1);
    assert_true(json_object_object_get_ex(st, "device", &v));
    assert_string_equal(json_object_get_string(v), "asic0");
    assert_true(json_object_object_get_ex(st, "uses", &uses));
    assert_int_equal(json_object_array_length(uses), 2);
    u = json_object_array_get_idx(uses, 0);
    assert_true(json_object_object_get_ex(u, "mode", &v));
    assert_string_equal(json_object_get_string(v), "zero-copy");
    assert_true(json_object_object_get_ex(st, "rejected", &v));
    assert_int_equal(json_object_array_length(v), 1);
    assert_true(json_object_object_get_ex(root, "buffers", &v));
    assert_int_equal(json_object_array_length(v), 6);
    json_object_put(root);
    free(text);

    assert_int_equal(accel_plan_describe(plan, false, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_plan_describe(NULL, false, NULL, 0, &n), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_plan_destroy(plan);
    accel_plan_destroy(NULL);

    accel_place_options bad = {.struct_size = sizeof(bad), .flags = 1u << 7};
    assert_int_equal(accel_place(t, p, &bad, &plan), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_contains(accel_last_error_message(), "unknown flags 0x80");
    assert_int_equal(accel_place(NULL, p, NULL, &plan), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_string_equal(accel_constraint_string(ACCEL_CONSTRAINT_REACHABILITY), "reachability");
    assert_string_equal(accel_constraint_string((accel_constraint)99), "unknown");
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* A zlib stage's output is charged for what the stage's device is
 * measured to produce (input x output_ratio, at most the buffer), not for
 * the room the pipeline gives it; later stages read that many bytes. */
#define ZLIB_PIPE                                                                                                \
    "{\"pipeline_version\": 1, \"name\": \"z\", \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": 1000000}, "   \
    "\"plain\": {\"bytes\": 64000000}, \"plain_size\": {\"bytes\": 8}, \"packed\": {\"bytes_from\": \"plain\", "  \
    "\"scale\": 1.0001, \"add\": 16, \"output\": \"out\", \"output_size_from\": \"packed_size\"}, "               \
    "\"packed_size\": {\"bytes\": 8}}, \"stages\": [{\"name\": \"inflate\", \"function\": \"zlib.inflate\", "     \
    "\"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"plain\"}, {\"buffer\": \"plain_size\"}]}, {\"name\": "       \
    "\"deflate\", \"function\": \"zlib.deflate\", \"args\": [{\"buffer\": \"plain\", \"size_from\": "            \
    "\"plain_size\"}, {\"buffer\": \"packed\"}, {\"buffer\": \"packed_size\"}, {\"i32\": 6}]}]}"

static void set_ratio(accel_topology *t, int32_t dev, const char *name, double ratio)
{
    for (uint32_t i = 0; i < t->nodes[dev].function_count; i++)
        if (strcmp(t->nodes[dev].functions[i].name, name) == 0)
            t->nodes[dev].functions[i].output_ratio = ratio;
}

static void test_placement_zlib_output_ratio(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    /* 1 ns per byte everywhere; no latency on the device's link. */
    int32_t z = add_device(t, "zip0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC});
    add_link(t, z, host, ACCEL_ATTACH_ZERO_COPY, 1000, 0);
    add_fn(t, z, "zlib.inflate", 0, 1000000000);
    add_fn(t, z, "zlib.deflate", 0, 1000000000);
    accel_pipeline *p = pipeline(ZLIB_PIPE);

    /* Without ratios: the declared sizes. plain 64e6, packed
     * ceil(64e6 x 1.0001) + 16 = 64006416. */
    accel_plan *plan = place_ok(t, p, NULL);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    const double in = 2e6 + 100, sizes = 8 + 8, plain = 64e6, packed = 64006416;
    assert_near(s.cost_ns, 1e6 + plain + in + 2 * plain + sizes + 2 * packed + 100);
    accel_plan_destroy(plan);

    /* Measured: inflating gives 4 bytes per input byte, deflating 0.25:
     * plain carries 4e6 bytes, packed 1e6. */
    set_ratio(t, z, "zlib.inflate", 4.0);
    set_ratio(t, z, "zlib.deflate", 0.25);
    plan = place_ok(t, p, NULL);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_near(s.cost_ns, 1e6 + 4e6 + in + 2 * 4e6 + sizes + 2 * 1e6 + 100);
    assert_near(s.lower_bound_ns, s.cost_ns);
    accel_plan_buffer b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_plan_get_buffer(plan, 3, &b), ACCEL_SUCCESS);
    assert_near(b.cost_ns, 1e6 + 100 + 1e6); /* its use, its file */
    size_t n;
    assert_int_equal(accel_plan_describe(plan, false, NULL, 0, &n), ACCEL_SUCCESS);
    char *text = malloc(n);
    assert_int_equal(accel_plan_describe(plan, false, text, n, NULL), ACCEL_SUCCESS);
    assert_contains(text, "(charged for 976.6 KiB)");
    free(text);
    assert_int_equal(accel_plan_export_json(plan, NULL, 0, &n), ACCEL_SUCCESS);
    text = malloc(n);
    assert_int_equal(accel_plan_export_json(plan, text, n, NULL), ACCEL_SUCCESS);
    assert_contains(text, "\"bytes\":64006416"); /* the buffer is still that large */
    assert_contains(text, "\"charged_bytes\":1000000");
    free(text);
    accel_plan_destroy(plan);
    double cost;
    uint32_t devices[2] = {(uint32_t)z, (uint32_t)z};
    assert_int_equal(accel__place_evaluate(t, p, NULL, devices, &cost), ACCEL_SUCCESS);
    assert_near(cost, s.cost_ns);

    /* A ratio above what the buffer holds is capped by the buffer. */
    set_ratio(t, z, "zlib.deflate", 100.0);
    plan = place_ok(t, p, NULL);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_near(s.cost_ns, 1e6 + 4e6 + in + 2 * 4e6 + sizes + 2 * packed + 100);
    accel_plan_destroy(plan);

    /* Two devices that differ only in their deflate ratio are not
     * interchangeable: the one that writes less wins the deflate. */
    set_ratio(t, z, "zlib.deflate", 0.5);
    int32_t z2 = add_device(t, "zip1", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC});
    add_link(t, z2, host, ACCEL_ATTACH_ZERO_COPY, 1000, 0);
    add_fn(t, z2, "zlib.inflate", 0, 1000000000);
    add_fn(t, z2, "zlib.deflate", 0, 1000000000);
    set_ratio(t, z2, "zlib.inflate", 4.0);
    set_ratio(t, z2, "zlib.deflate", 0.25);
    plan = place_ok(t, p, NULL);
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 1, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, (uint32_t)z2);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_near(s.cost_ns, 1e6 + 4e6 + in + 2 * 4e6 + sizes + 2 * 1e6 + 100);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* Every allocation failure fails cleanly. */
static void test_placement_allocation_failures(void **state)
{
    (void)state;
    int32_t cpu, host;
    accel_topology *t = host_topology(&cpu, &host);
    int32_t g = add_device(t, "gpu0", (dev_spec){.kind = ACCEL_DEVICE_KIND_GPU});
    int32_t a = add_device(t, "asic0", (dev_spec){.kind = ACCEL_DEVICE_KIND_ASIC});
    add_link(t, g, host, ACCEL_ATTACH_PINNED, 10000, 100);
    add_link(t, a, host, ACCEL_ATTACH_ZERO_COPY, 10000, 100);
    add_fn(t, g, "crc32c", 1000, 4000000000);
    add_fn(t, a, "sha256", 1000, 1000000000);
    accel_pipeline *ok = pipeline(CRC_PIPE);
    accel_pipeline *bad = pipeline(TWO_CRC_PIPE);
    place_under_allocation_failures(t, ok, NULL, true);
    place_under_allocation_failures(t, bad, NULL, true);
    accel_pipeline_destroy(ok);
    accel_pipeline_destroy(bad);
    accel_topology_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_placement_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_homes_and_staging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_infeasible_pasid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_infeasible_instances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_infeasible_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_infeasible_iommu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_user_constraints, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_program_not_on_whole_card, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_symmetry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_time_limit, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_placement_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_zlib_output_ratio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_streamed_costs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
