/* test_placement_throughput.c — the throughput objective on small
 * hand-built topologies: devices of kind cpu share the host's cores (one
 * compute group), two drivers' devices at one PCI bus address share one
 * device while one driver's devices there stay apart, the bottleneck and the
 * rate in the summary, the text and the JSON, the options (an unknown
 * objective, callers that predate the field), the time limit and allocation
 * failures. test_placement_search.c compares the search with exhaustive
 * enumeration under this objective on recorded machines. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <json-c/json.h>

#include "unit_leaks.h"
#include "unit_util.h"

#include "alloc.h"
#include "placement.h"
#include "placement_support.h"

#define setup    ut_leak_setup
#define teardown ut_leak_teardown

static int32_t add_node(accel_topology *t, accel__topo_node n)
{
    int32_t i = accel__topology_add_node(t, &n);
    assert_true(i >= 0);
    return i;
}

/* One CPU set and one host memory, linked at 1000 MB/s and 100 ns. */
static accel_topology *host_topology(int32_t *host)
{
    accel_topology *t = accel__topology_new();
    assert_non_null(t);
    int32_t cpu = add_node(t, (accel__topo_node){.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                                                 .name = "cpuset0",
                                                 .cpuset = "0-3",
                                                 .parent = -1,
                                                 .numa_node = -1,
                                                 .owner_device = -1,
                                                 .locality = -1});
    *host = add_node(t, (accel__topo_node){.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                                           .name = "node0",
                                           .parent = -1,
                                           .memory_kind = ACCEL_MEMORY_KIND_DRAM,
                                           .capacity = 1ull << 34,
                                           .numa_node = 0,
                                           .owner_device = -1,
                                           .locality = -1});
    accel__topo_link l = {.from = (uint32_t)cpu,
                          .to = (uint32_t)*host,
                          .kind = ACCEL_LINK_NUMA,
                          .access = ACCEL_ATTACH_ZERO_COPY,
                          .bandwidth_mbps = 1000,
                          .latency_ns = 100,
                          .bandwidth_source = ACCEL_SOURCE_USER,
                          .latency_source = ACCEL_SOURCE_USER};
    assert_true(accel__topology_add_link(t, &l) >= 0);
    return t;
}

/* A device reaching host memory zero-copy at 100000 MB/s (0.01 ns a byte)
 * with crc32c at `bps` bytes per second and no fixed cost. */
static uint32_t add_device(accel_topology *t, int32_t host, const char *name, accel_device_kind kind,
                           const char *driver, const char *bus, uint64_t bps)
{
    uint32_t index = 0;
    for (uint32_t i = 0; i < t->node_count; i++)
        index +=
            t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE && strcmp(t->nodes[i].driver_name, driver) == 0;
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE,
                          .name = (char *)name,
                          .parent = -1,
                          .numa_node = -1,
                          .owner_device = -1,
                          .device_kind = kind,
                          .driver_name = (char *)driver,
                          .driver_index = index,
                          .bus_address = (char *)bus,
                          .available_instances = ACCEL_INSTANCES_UNLIMITED,
                          .locality = 0};
    for (size_t i = 0; i < strlen(name) && i < ACCEL_UUID_SIZE; i++)
        n.uuid[i] = (uint8_t)name[i];
    int32_t d = add_node(t, n);
    accel__topo_link l = {.from = (uint32_t)d,
                          .to = (uint32_t)host,
                          .kind = ACCEL_LINK_PCIE,
                          .access = ACCEL_ATTACH_ZERO_COPY,
                          .bandwidth_mbps = 100000,
                          .latency_ns = 0,
                          .bandwidth_source = ACCEL_SOURCE_USER,
                          .latency_source = ACCEL_SOURCE_USER};
    assert_true(accel__topology_add_link(t, &l) >= 0);
    assert_int_equal(accel__topology_add_function(t, (uint32_t)d, "crc32c", 0, bps, ACCEL_SOURCE_DRIVER), 0);
    return (uint32_t)d;
}

/* Two checksums of two inputs of 10^6 bytes each. */
#define TWO_CRC                                                                                              \
    "{\"pipeline_version\": 1, \"name\": \"two\", \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": "        \
    "1000000}, "                                                                                             \
    "\"b\": {\"file\": \"b\", \"bytes\": 1000000}, \"ca\": {\"bytes\": 4}, \"cb\": {\"bytes\": 4}}, "        \
    "\"stages\": [{\"name\": \"crc_a\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"a\"}, "          \
    "{\"buffer\": \"ca\"}]}, {\"name\": \"crc_b\", \"function\": \"crc32c\", \"args\": [{\"buffer\": "       \
    "\"b\"}, "                                                                                               \
    "{\"buffer\": \"cb\"}]}]}"

/* One stage on a device: 10^6 bytes at bps, then its two uses at 0.01 ns a
 * byte (the input, and the 4-byte checksum). */
#define STAGE_NS(bps) (1e6 * 1e9 / (bps) + 1e6 * 0.01 + 4 * 0.01)

static double stage_ns(double bps)
{
    return STAGE_NS(bps);
}

static void assert_contains(const char *text, const char *part, bool want)
{
    if ((strstr(text, part) != NULL) != want) {
        print_error("\"%s\" %s in:\n%s\n", part, want ? "not found" : "found", text);
        fail();
    }
}

static uint32_t device_of(const accel_plan *plan, uint32_t stage)
{
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, stage, &st), ACCEL_SUCCESS);
    return st.device_node;
}

/* The bottleneck the objective counts for an assignment. */
static double bottleneck_of(const accel_topology *t, const accel_pipeline *p, uint32_t d0, uint32_t d1)
{
    uint32_t devices[2] = {d0, d1};
    double cost, bottleneck;
    assert_int_equal(accel__place_evaluate2(t, p, NULL, devices, &cost, &bottleneck), ACCEL_SUCCESS);
    return bottleneck;
}

static const accel_place_options throughput = {.struct_size = sizeof(accel_place_options),
                                               .objective = ACCEL_PLACE_OBJECTIVE_THROUGHPUT};

/* The host topology with the cpu driver's device, an OpenCL CPU device
 * (both 10^9 B/s) and a GPU of its own (6 * 10^8 B/s), and TWO_CRC. */
static accel_topology *cpu_pocl_gpu(accel_pipeline **p)
{
    int32_t host;
    accel_topology *t = host_topology(&host);
    add_device(t, host, "cpu0", ACCEL_DEVICE_KIND_CPU, "cpu", NULL, 1000000000);
    add_device(t, host, "pocl0", ACCEL_DEVICE_KIND_CPU, "opencl", NULL, 1000000000);
    add_device(t, host, "gpu0", ACCEL_DEVICE_KIND_GPU, "opencl", NULL, 600000000);
    *p = pipeline(TWO_CRC);
    return t;
}

/* The plan's summary. */
static accel_plan_summary summary_of(const accel_plan *plan)
{
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    return s;
}

/* Sets of device nodes, for where a stage may go. */
static uint64_t node_bit(uint32_t node)
{
    assert_true(node < 64);
    return 1ull << node;
}

static bool stage_in(const accel_plan *plan, uint32_t stage, uint64_t nodes)
{
    return (node_bit(device_of(plan, stage)) & nodes) != 0;
}

/* The latency plan keeps both stages in one compute group (on devices of
 * `nodes`): its bottleneck (filled under latency too) is that group, both
 * stages. Returns its cost. */
static double latency_plan_in_one_group(const accel_topology *t, const accel_pipeline *p, uint64_t nodes,
                                        double bottleneck_ns, const char *group)
{
    accel_plan *lat = place_ok(t, p, NULL);
    accel_plan_summary s = summary_of(lat);
    assert_int_equal(s.objective, ACCEL_PLACE_OBJECTIVE_LATENCY);
    assert_true(stage_in(lat, 0, nodes) && stage_in(lat, 1, nodes));
    assert_near(s.bottleneck_ns, bottleneck_ns);
    assert_string_equal(s.bottleneck_group, group);
    accel_plan_destroy(lat);
    return s.cost_ns;
}

/* The throughput plan: one stage on a device of `a`, the other on one of
 * `b`, the bottleneck (bottleneck_ns) the slower of them, found optimal,
 * the rate the two inputs over it. Returns its summary (its strings the
 * plan's), and the plan in *out. */
static accel_plan_summary throughput_plan_splits(const accel_topology *t, const accel_pipeline *p, uint64_t a,
                                                 uint64_t b, double bottleneck_ns, accel_plan **out)
{
    accel_plan *plan = place_ok(t, p, &throughput);
    accel_plan_summary s = summary_of(plan);
    assert_int_equal(s.objective, ACCEL_PLACE_OBJECTIVE_THROUGHPUT);
    assert_true(s.optimal);
    assert_true((stage_in(plan, 0, a) && stage_in(plan, 1, b)) ||
                (stage_in(plan, 0, b) && stage_in(plan, 1, a)));
    assert_near(s.bottleneck_ns, bottleneck_ns);
    assert_near(s.lower_bound_ns, s.bottleneck_ns);
    /* Both inputs, 2 * 10^6 bytes, each pass. */
    assert_near(s.bytes_per_second, 2e6 * 1e9 / s.bottleneck_ns);
    *out = plan;
    return s;
}

static void test_placement_throughput_cpu_devices_share_the_host(void **state)
{
    (void)state;
    int32_t host;
    accel_topology *t = host_topology(&host);
    uint32_t cpu = add_device(t, host, "cpu0", ACCEL_DEVICE_KIND_CPU, "cpu", NULL, 1000000000);
    uint32_t pocl = add_device(t, host, "pocl0", ACCEL_DEVICE_KIND_CPU, "opencl", NULL, 1000000000);
    uint32_t lvp = add_device(t, host, "lvp0", ACCEL_DEVICE_KIND_CPU, "vulkan", NULL, 1000000000);
    uint32_t gpu = add_device(t, host, "gpu0", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:3b:00.0", 600000000);
    accel_pipeline *p = pipeline(TWO_CRC);

    /* Counted once: both on the host's cores add up, whichever devices. */
    assert_near(bottleneck_of(t, p, cpu, pocl), 2 * stage_ns(1e9));
    assert_near(bottleneck_of(t, p, pocl, lvp), 2 * stage_ns(1e9));
    assert_near(bottleneck_of(t, p, cpu, cpu), 2 * stage_ns(1e9));
    assert_near(bottleneck_of(t, p, lvp, gpu), stage_ns(6e8));

    uint64_t cpus = node_bit(cpu) | node_bit(pocl) | node_bit(lvp);
    double latency = latency_plan_in_one_group(t, p, cpus, 2 * stage_ns(1e9), "host");
    accel_plan *plan;
    accel_plan_summary s = throughput_plan_splits(t, p, node_bit(gpu), cpus, stage_ns(6e8), &plan);
    assert_string_equal(s.bottleneck_group, "gpu0");
    assert_int_equal(s.bottleneck_stage, device_of(plan, 0) == gpu ? 0 : 1);
    assert_true(s.cost_ns > latency);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* A device whose driver says an emulator on the host does its work
 * (ACCEL_DEVICE_FLAG_EMULATED: the in-tree FPGA cards, a uacce emulator)
 * takes the host's cores whatever its kind: it is in the host's group, so
 * the throughput plan prefers a GPU of its own to it. Without the flag the
 * same device is a group of its own and the plan splits onto it. */
static void test_placement_throughput_emulated_device_shares_the_host(void **state)
{
    (void)state;
    for (int emulated = 0; emulated < 2; emulated++) {
        int32_t host;
        accel_topology *t = host_topology(&host);
        uint32_t cpu = add_device(t, host, "cpu0", ACCEL_DEVICE_KIND_CPU, "cpu", NULL, 1000000000);
        uint32_t fpga = add_device(t, host, "fpga0", ACCEL_DEVICE_KIND_FPGA, "fpga", NULL, 1000000000);
        uint32_t gpu =
            add_device(t, host, "gpu0", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:3b:00.0", 600000000);
        if (emulated)
            t->nodes[fpga].device_flags |= ACCEL_DEVICE_FLAG_EMULATED;
        accel_pipeline *p = pipeline(TWO_CRC);
        assert_near(bottleneck_of(t, p, cpu, fpga), (emulated ? 2 : 1) * stage_ns(1e9));
        accel_plan *plan;
        accel_plan_summary s =
            emulated ? throughput_plan_splits(t, p, node_bit(gpu), node_bit(cpu) | node_bit(fpga),
                                              stage_ns(6e8), &plan)
                     : throughput_plan_splits(t, p, node_bit(cpu), node_bit(fpga), stage_ns(1e9), &plan);
        if (emulated)
            assert_string_equal(s.bottleneck_group, "gpu0");
        accel_plan_destroy(plan);
        accel_pipeline_destroy(p);
        accel_topology_destroy(t);
    }
}

/* Four devices, a first pair (0, 1) and a second (2, 3), and what the
 * objective makes of TWO_CRC on them: the bottleneck with both stages on
 * the first pair, both on the second, and one on each (devices 0 and 2);
 * the latency plan keeps both stages on the first pair, named
 * latency_group; the throughput plan puts one stage on each pair, its
 * bottleneck the one-on-each figure, in a group named by one of `groups`. */
typedef struct two_pairs {
    struct {
        const char *name;
        accel_device_kind kind;
        const char *driver, *bus;
        uint64_t bps;
    } dev[4];
    double first_ns, second_ns, apart_ns;
    const char *latency_group;
    const char *groups[2]; /* the second may be NULL */
} two_pairs;

static void check_two_pairs(void **state)
{
    const two_pairs *c = *state;
    int32_t host;
    accel_topology *t = host_topology(&host);
    uint32_t d[4];
    for (int i = 0; i < 4; i++)
        d[i] = add_device(t, host, c->dev[i].name, c->dev[i].kind, c->dev[i].driver, c->dev[i].bus,
                          c->dev[i].bps);
    accel_pipeline *p = pipeline(TWO_CRC);

    assert_near(bottleneck_of(t, p, d[0], d[1]), c->first_ns);
    assert_near(bottleneck_of(t, p, d[2], d[3]), c->second_ns);
    assert_near(bottleneck_of(t, p, d[0], d[2]), c->apart_ns);
    /* The same under the throughput options. */
    double cost, bottleneck;
    assert_int_equal(accel__place_evaluate2(t, p, &throughput, &d[2], &cost, &bottleneck), ACCEL_SUCCESS);
    assert_near(bottleneck, c->second_ns);

    uint64_t first = node_bit(d[0]) | node_bit(d[1]), second = node_bit(d[2]) | node_bit(d[3]);
    latency_plan_in_one_group(t, p, first, c->first_ns, c->latency_group);
    accel_plan *plan;
    accel_plan_summary s = throughput_plan_splits(t, p, first, second, c->apart_ns, &plan);
    if (strcmp(s.bottleneck_group, c->groups[0]) != 0 &&
        (!c->groups[1] || strcmp(s.bottleneck_group, c->groups[1]) != 0))
        fail_msg("bottleneck group \"%s\", expected \"%s\"%s%s", s.bottleneck_group, c->groups[0],
                 c->groups[1] ? " or " : "", c->groups[1] ? c->groups[1] : "");
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* Two drivers' devices at one PCI address are one GPU: two stages there add
 * up, and a slower GPU elsewhere takes one. One driver's devices at one
 * address (a simulated device's replicas) stay apart: without the fast GPU,
 * the replicas take one stage each. The bottleneck is a group of its own,
 * named by its device. */
static const two_pairs same_bus_address = {
    .dev = {{"gpu-cl", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:3b:00.0", 1000000000},
            {"gpu-vk", ACCEL_DEVICE_KIND_GPU, "vulkan", "0000:3b:00.0", 1000000000},
            {"slow", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:5e:00.0", 600000000},
            {"twin", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:5e:00.0", 600000000}},
    .first_ns = 2 * STAGE_NS(1e9),
    .second_ns = STAGE_NS(6e8),
    .apart_ns = STAGE_NS(6e8),
    .latency_group = "0000:3b:00.0",
    .groups = {"slow", "twin"},
};

/* One physical device however its drivers write its address ("3B:00.0" is
 * 0000:3b:00.0), and, without addresses, by a shared uuid (add_device
 * takes the uuid from the name): its two interfaces never run two stages
 * at once; the throughput plan puts one stage on it and one elsewhere. A
 * group joined by uuid is named by its first device. */
static const two_pairs one_physical_device = {
    .dev = {{"gpu-cl", ACCEL_DEVICE_KIND_GPU, "opencl", "0000:3B:00.0", 1000000000},
            {"gpu-vk", ACCEL_DEVICE_KIND_GPU, "vulkan", "3b:00.0", 1000000000},
            {"asic-same-uuid", ACCEL_DEVICE_KIND_ASIC, "uacce", "", 800000000},
            {"asic-same-uuid", ACCEL_DEVICE_KIND_ASIC, "native", "", 800000000}},
    .first_ns = 2 * STAGE_NS(1e9),
    .second_ns = 2 * STAGE_NS(8e8),
    .apart_ns = STAGE_NS(8e8),
    .latency_group = "0000:3B:00.0",
    .groups = {"asic-same-uuid", NULL},
};

/* The text and the JSON name the groups, the bottleneck and the rate under
 * throughput, and are as before under latency. */
static void test_placement_throughput_describe(void **state)
{
    (void)state;
    accel_pipeline *p;
    accel_topology *t = cpu_pocl_gpu(&p);
    for (int which = 0; which < 2; which++) {
        accel_plan *plan = place_ok(t, p, which ? &throughput : NULL);
        size_t need;
        assert_int_equal(accel_plan_describe(plan, false, NULL, 0, &need), ACCEL_SUCCESS);
        char *text = malloc(need);
        assert_non_null(text);
        assert_int_equal(accel_plan_describe(plan, false, text, need, NULL), ACCEL_SUCCESS);
        assert_contains(text, "per pass, streamed", which);
        assert_contains(text, "compute group", which);
        assert_contains(text, "bottleneck gpu0: 1.68 ms per pass (its longest stage: crc_", which);
        assert_contains(text, "expected 1.11 GiB/s of input", which);
        assert_contains(text, "overlap is not modeled", !which);
        free(text);

        assert_int_equal(accel_plan_export_json(plan, NULL, 0, &need), ACCEL_SUCCESS);
        char *js = malloc(need);
        assert_non_null(js);
        assert_int_equal(accel_plan_export_json(plan, js, need, NULL), ACCEL_SUCCESS);
        json_object *root = json_tokener_parse(js), *v, *tp;
        assert_non_null(root);
        assert_int_equal(json_object_object_get_ex(root, "objective", &v), which);
        assert_int_equal(json_object_object_get_ex(root, "throughput", &tp), which);
        if (which) {
            assert_string_equal(json_object_get_string(v), "throughput");
            assert_true(json_object_object_get_ex(tp, "bottleneck_group", &v));
            assert_string_equal(json_object_get_string(v), "gpu0");
            assert_true(json_object_object_get_ex(tp, "bytes_per_second", &v));
            assert_near(json_object_get_double(v), 2e6 * 1e9 / stage_ns(6e8));
            assert_true(json_object_object_get_ex(tp, "input_bytes", &v));
            assert_int_equal(json_object_get_int64(v), 2000000);
            /* Two groups run a stage each: the host and the GPU. */
            assert_true(json_object_object_get_ex(tp, "groups", &v));
            assert_int_equal(json_object_array_length(v), 2);
            json_object *g = json_object_array_get_idx(v, 0), *x;
            assert_true(json_object_object_get_ex(g, "name", &x));
            assert_string_equal(json_object_get_string(x), "host");
            assert_true(json_object_object_get_ex(g, "load_ns", &x));
            assert_near(json_object_get_double(x), stage_ns(1e9));
        }
        json_object_put(root);
        free(js);
        accel_plan_destroy(plan);
    }
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* An unknown objective is rejected naming the field; callers whose struct
 * ends before it get the latency objective, and a summary that ends before
 * the appended fields is not written past. */
static void test_placement_throughput_options(void **state)
{
    (void)state;
    int32_t host;
    accel_topology *t = host_topology(&host);
    add_device(t, host, "cpu0", ACCEL_DEVICE_KIND_CPU, "cpu", NULL, 1000000000);
    add_device(t, host, "gpu0", ACCEL_DEVICE_KIND_GPU, "opencl", NULL, 600000000);
    accel_pipeline *p = pipeline(TWO_CRC);
    accel_place_options o = throughput;
    o.objective = (accel_place_objective)7;
    accel_plan *plan = NULL;
    assert_int_equal(accel_place(t, p, &o, &plan), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(plan);
    assert_contains(accel_last_error_message(), "options->objective 7", true);

    o.objective = ACCEL_PLACE_OBJECTIVE_THROUGHPUT;
    o.struct_size = offsetof(accel_place_options, objective);
    plan = place_ok(t, p, &o);
    struct {
        accel_plan_summary s;
        unsigned char tail[64];
    } old;
    memset(&old, 0xa5, sizeof(old));
    old.s.struct_size = offsetof(accel_plan_summary, objective);
    assert_int_equal(accel_plan_get_summary(plan, &old.s), ACCEL_SUCCESS);
    assert_true(old.s.feasible);
    const unsigned char *after = (const unsigned char *)&old.s + offsetof(accel_plan_summary, objective);
    for (size_t i = 0; i < sizeof(old) - offsetof(accel_plan_summary, objective); i++)
        assert_int_equal(after[i], 0xa5);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_int_equal(s.objective, ACCEL_PLACE_OBJECTIVE_LATENCY);
    /* Both on the CPU: the latency plan. */
    assert_near(s.bottleneck_ns, 2 * stage_ns(1e9));
    accel_plan_destroy(plan);

    /* Infeasible: no bottleneck. */
    accel_pipeline *q =
        pipeline("{\"pipeline_version\": 1, \"buffers\": {\"a\": {\"file\": \"a\", \"bytes\": 8}, "
                 "\"d\": {\"bytes\": 32}}, \"stages\": [{\"name\": \"h\", \"function\": \"sha256\", "
                 "\"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"d\"}]}]}");
    assert_int_equal(accel_place(t, q, &throughput, &plan), ACCEL_ERROR_INFEASIBLE);
    assert_int_equal(accel_plan_get_summary(plan, &s), ACCEL_SUCCESS);
    assert_false(s.feasible);
    assert_int_equal(s.objective, ACCEL_PLACE_OBJECTIVE_THROUGHPUT);
    assert_int_equal(s.bottleneck_stage, -1);
    assert_string_equal(s.bottleneck_group, "");
    assert_true(s.bytes_per_second == 0);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(q);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* Cut short, the plan is the best found and the bound stays below it. */
static void test_placement_throughput_time_limit(void **state)
{
    (void)state;
    int32_t host;
    accel_topology *t = host_topology(&host);
    char name[32];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "gpu%d", i);
        add_device(t, host, name, ACCEL_DEVICE_KIND_GPU, "opencl", NULL, 500000000 + 100000000 * (uint64_t)i);
    }
    add_device(t, host, "cpu0", ACCEL_DEVICE_KIND_CPU, "cpu", NULL, 2000000000);
    /* Eight checksums of inputs of different sizes. */
    char text[4096] = "{\"pipeline_version\": 1, \"buffers\": {";
    for (int i = 0; i < 8; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text),
                 "%s\"in%d\": {\"file\": \"in%d\", \"bytes\": %d}, \"c%d\": {\"bytes\": 4}", i ? ", " : "", i,
                 i, 100000 * (i + 1), i);
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "}, \"stages\": [");
    for (int i = 0; i < 8; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text),
                 "%s{\"name\": \"s%d\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in%d\"}, "
                 "{\"buffer\": \"c%d\"}]}",
                 i ? ", " : "", i, i, i);
    snprintf(text + strlen(text), sizeof(text) - strlen(text), "]}");
    accel_pipeline *p = pipeline(text);
    accel_plan *full = place_ok(t, p, &throughput);
    accel_plan_summary sf = {.struct_size = sizeof(sf)};
    assert_int_equal(accel_plan_get_summary(full, &sf), ACCEL_SUCCESS);
    assert_true(sf.optimal);
    accel_place_options o = throughput;
    o.time_limit_ns = 1;
    accel_plan *cut = NULL;
    accel_result r = accel_place(t, p, &o, &cut);
    accel_plan_summary sc = {.struct_size = sizeof(sc)};
    assert_int_equal(accel_plan_get_summary(cut, &sc), ACCEL_SUCCESS);
    if (r == ACCEL_SUCCESS) {
        assert_false(sc.optimal);
        assert_true(sc.bottleneck_ns >= sf.bottleneck_ns * (1 - 1e-12));
        assert_true(sc.lower_bound_ns <= sf.bottleneck_ns * (1 + 1e-12));
    } else {
        assert_int_equal(r, ACCEL_ERROR_INFEASIBLE);
    }
    accel_plan_destroy(cut);
    accel_plan_destroy(full);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

/* Every allocation of a throughput placement may fail: the error says so
 * and nothing leaks. */
static void test_placement_throughput_allocation_failures(void **state)
{
    (void)state;
    accel_pipeline *p;
    accel_topology *t = cpu_pocl_gpu(&p);
    place_under_allocation_failures(t, p, &throughput, false);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_placement_throughput_cpu_devices_share_the_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_placement_throughput_emulated_device_shares_the_host, setup,
                                        teardown),
        {"test_placement_throughput_same_bus_address", check_two_pairs, setup, teardown,
         (void *)&same_bus_address},
        {"test_placement_throughput_one_physical_device", check_two_pairs, setup, teardown,
         (void *)&one_physical_device},
        cmocka_unit_test_setup_teardown(test_placement_throughput_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_throughput_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_throughput_time_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement_throughput_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
