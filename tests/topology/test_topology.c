/* test_topology.c — the topology graph: recorded machines (the XML files in data/),
 * simulated devices, user files, the calibration cache, the instance's own
 * topology with the build tree's drivers, queries and export.
 *
 * Linked with the loader's objects (loader_internal_dep) for the internal
 * graph helpers of topology.h, the instance's cached topology and the
 * allocation failure hooks. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>
#include <json-c/json.h>

#include "alloc.h"
#include "loader.h"
#include "support.h"
#include "topology.h"
#include "topology_support.h"

#ifndef TOPOLOGY_DATA_DIR
#error "TOPOLOGY_DATA_DIR must name tests/topology/data"
#endif
#ifndef BUILD_MANIFEST_DIR
#error "BUILD_MANIFEST_DIR must name the build tree's manifest directory"
#endif

#define KNL         "64intel64-fakeKNL-SNC4-hybrid.xml"
#define MEMATTRS    "8intel64-4n2t-memattrs.xml"
#define CXL         "cxlmem+dax.v2.xml"
#define TWO_SOCKETS "24em64t-2n6c2t-pci.xml"

static char *tmp_dir;

static int group_setup(void **state)
{
    (void)state;
    ts_env_save();
    tmp_dir = ts_mkdtemp("topology");
    /* No calibration cache unless a test writes one. */
    char *cache = ts_printf("%s/cache", tmp_dir);
    ts_env_push("XDG_CACHE_HOME", cache);
    free(cache);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ts_env_pop();
    ts_env_restore();
    ts_rmtree(tmp_dir);
    free(tmp_dir);
    return 0;
}

static char *data_path(const char *name)
{
    return ts_printf("%s/%s", TOPOLOGY_DATA_DIR, name);
}

/* A topology of a recorded machine, with optional simulated devices and
 * user file (both given as JSON text, written to files here). */
static accel_result create_xml(const char *xml, const char *devices_json, const char *user_json,
                               accel_topology **t)
{
    char *xml_path = xml ? data_path(xml) : NULL;
    char *dev_path = devices_json ? ts_write_text(tmp_dir, "devices.json", devices_json) : NULL;
    char *user_path = user_json ? ts_write_text(tmp_dir, "user.json", user_json) : NULL;
    accel_topology_options o = {
        .struct_size = sizeof(o),
        .hwloc_xml = xml_path,
        .user_file = user_path,
        .simulated_devices = dev_path,
    };
    accel_result r = accel_topology_create(NULL, &o, t);
    free(xml_path);
    free(dev_path);
    free(user_path);
    return r;
}

static accel_topology *must_create(const char *xml, const char *devices_json, const char *user_json)
{
    accel_topology *t = NULL;
    accel_result r = create_xml(xml, devices_json, user_json, &t);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_topology_create(%s): %s: %s", xml ? xml : "this machine", accel_result_name(r),
                 accel_last_error_message());
    return t;
}

static bool has_node(const accel_topology *t, const char *name)
{
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++)
        if (strcmp(node_at(t, i).name, name) == 0)
            return true;
    return false;
}

static uint32_t count_kind(const accel_topology *t, accel_topology_node_kind kind, accel_memory_kind mkind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node nd = node_at(t, i);
        if (nd.kind == kind && (kind != ACCEL_TOPOLOGY_NODE_MEMORY || !mkind || nd.memory_kind == mkind))
            n++;
    }
    return n;
}

/* The devices of drivers and simulated devices: not those hwloc reports. */
static uint32_t count_driver_devices(const accel_topology *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node nd = node_at(t, i);
        if (nd.kind == ACCEL_TOPOLOGY_NODE_DEVICE && !(nd.driver_name && strcmp(nd.driver_name, "hwloc") == 0))
            n++;
    }
    return n;
}

static char *export_text(const accel_topology *t, accel_topology_format format)
{
    size_t size = 0;
    assert_int_equal(accel_topology_export(t, format, NULL, 0, &size), ACCEL_SUCCESS);
    assert_true(size > 1);
    char *text = malloc(size);
    size_t again = 0;
    assert_int_equal(accel_topology_export(t, format, text, size, &again), ACCEL_SUCCESS);
    assert_int_equal(again, size);
    assert_int_equal(strlen(text) + 1, size);
    return text;
}

static accel_topology_function function_named(const accel_topology *t, uint32_t dev, const char *name)
{
    accel_topology_node n = node_at(t, dev);
    for (uint32_t i = 0; i < n.function_count; i++) {
        accel_topology_function f = {.struct_size = sizeof(f)};
        assert_int_equal(accel_topology_get_function(t, dev, i, &f), ACCEL_SUCCESS);
        if (strcmp(f.name, name) == 0)
            return f;
    }
    fail_msg("%s has no function %s", n.name, name);
    return (accel_topology_function){0};
}

/* The error of a failed creation names every needle. */
static void expect_error(accel_result got, accel_result want_r, const char *const *needles)
{
    const char *msg = accel_last_error_message();
    if (got != want_r)
        fail_msg("got %s, expected %s: %s", accel_result_name(got), accel_result_name(want_r), msg);
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(msg, needles[i]))
            fail_msg("error \"%s\" does not mention \"%s\"", msg, needles[i]);
}

/* ---- recorded machines ---- */

/* The graph has one memory node per NUMA node hwloc sees in the file, with
 * its capacity. */
static void check_against_hwloc(const accel_topology *t, const char *file)
{
    char *path = data_path(file);
    hwloc_topology_t hw;
    assert_int_equal(hwloc_topology_init(&hw), 0);
    assert_int_equal(hwloc_topology_set_xml(hw, path), 0);
    assert_int_equal(hwloc_topology_load(hw), 0);
    int numa = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    uint32_t host_nodes = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node n = node_at(t, i);
        if (n.kind == ACCEL_TOPOLOGY_NODE_MEMORY && n.numa_node >= 0)
            host_nodes++;
    }
    assert_int_equal(host_nodes, (uint32_t)numa);
    for (int i = 0; i < numa; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
        char name[32];
        snprintf(name, sizeof(name), "node%u", o->os_index);
        accel_topology_node n = node_at(t, node_named(t, name));
        assert_int_equal(n.numa_node, (int32_t)o->os_index);
        assert_int_equal(n.capacity, o->attr->numanode.local_memory);
    }
    hwloc_topology_destroy(hw);
    free(path);
}

/* Every recorded machine loads; the graph exports to DOT and to JSON that
 * json-c reads back with every node and link. */
static void test_topology_every_recorded_machine_loads(void **state)
{
    (void)state;
    DIR *d = opendir(TOPOLOGY_DATA_DIR);
    assert_non_null(d);
    struct dirent *e;
    unsigned files = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".xml") != 0)
            continue;
        accel_topology *t = must_create(e->d_name, NULL, NULL);
        check_against_hwloc(t, e->d_name);
        assert_true(count_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET, 0) >= 1);
        assert_true(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, 0) >= 1);
        assert_int_equal(count_driver_devices(t), 0);
        /* Every CPU set reaches every host NUMA node directly. */
        for (uint32_t c = 0; c < accel_topology_node_count(t); c++) {
            if (node_at(t, c).kind != ACCEL_TOPOLOGY_NODE_CPUSET)
                continue;
            for (uint32_t m = 0; m < accel_topology_node_count(t); m++) {
                accel_topology_node mn = node_at(t, m);
                if (mn.kind != ACCEL_TOPOLOGY_NODE_MEMORY || mn.numa_node < 0)
                    continue;
                accel_attach_mode mode;
                uint64_t bw = 0, lat = 0;
                assert_int_equal(accel_topology_reach(t, c, m, &mode, &bw, &lat), ACCEL_SUCCESS);
                assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
                assert_true(bw > 0 && lat > 0);
            }
        }
        char *dot = export_text(t, ACCEL_TOPOLOGY_FORMAT_DOT);
        assert_memory_equal(dot, "digraph topology {\n", 19);
        assert_string_equal(dot + strlen(dot) - 2, "}\n");
        free(dot);
        char *js = export_text(t, ACCEL_TOPOLOGY_FORMAT_JSON);
        json_object *root = json_tokener_parse(js);
        if (!root)
            fail_msg("%s: the JSON export does not parse:\n%s", e->d_name, js);
        json_object *nodes, *links;
        assert_true(json_object_object_get_ex(root, "nodes", &nodes));
        assert_true(json_object_object_get_ex(root, "links", &links));
        assert_int_equal(json_object_array_length(nodes), accel_topology_node_count(t));
        assert_int_equal(json_object_array_length(links), accel_topology_link_count(t));
        json_object_put(root);
        free(js);
        accel_topology_destroy(t);
        files++;
    }
    closedir(d);
    assert_true(files >= 6);
}

/* Xeon Phi in SNC-4 hybrid mode: four clusters, each with a DRAM and an
 * MCDRAM node, bandwidths from the firmware (HMAT) for local access. */
static void test_topology_knl_dram_and_hbm(void **state)
{
    (void)state;
    accel_topology *t = must_create(KNL, NULL, NULL);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET, 0), 4);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, ACCEL_MEMORY_KIND_DRAM), 4);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, ACCEL_MEMORY_KIND_HBM), 4);
    accel_topology_node n0 = node_at(t, node_named(t, "node0")), n7 = node_at(t, node_named(t, "node7"));
    assert_int_equal(n0.memory_kind, ACCEL_MEMORY_KIND_DRAM);
    assert_int_equal(n7.memory_kind, ACCEL_MEMORY_KIND_HBM);
    assert_int_equal(n0.capacity, 1ull << 30);
    assert_int_equal(n7.capacity, 2ull << 30);
    assert_int_equal(n7.numa_node, 7);
    assert_null(n7.memory_node);
    uint32_t c0 = node_named(t, "cpuset0");
    assert_int_equal(n0.parent, (int32_t)c0);
    assert_int_equal(n7.parent, (int32_t)c0);
    assert_string_equal(node_at(t, c0).cpuset, "0-3,16-19,32-35,48-51");

    accel_topology_link l = must_link(t, "cpuset0", "node7");
    assert_int_equal(l.kind, ACCEL_LINK_LOCAL);
    assert_int_equal(l.bandwidth_mbps, 90000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_HMAT);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_ESTIMATE);
    l = must_link(t, "cpuset0", "node0");
    assert_int_equal(l.bandwidth_mbps, 22500);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_HMAT);
    /* Another cluster's MCDRAM: no firmware value, the remote estimate. */
    l = must_link(t, "cpuset0", "node4");
    assert_int_equal(l.kind, ACCEL_LINK_NUMA);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    assert_int_equal(l.bandwidth_mbps, 40000);
    assert_int_equal(l.latency_ns, 190);

    uint32_t best, init[] = {c0};
    assert_int_equal(accel_topology_best_memory_node(t, init, 1, &best), ACCEL_SUCCESS);
    assert_int_equal(best, node_named(t, "node7"));
    accel_topology_destroy(t);
}

static void test_topology_memattrs_from_hmat(void **state)
{
    (void)state;
    accel_topology *t = must_create(MEMATTRS, NULL, NULL);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET, 0), 4);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, ACCEL_MEMORY_KIND_DRAM), 4);
    /* The file gives one bandwidth: node1 from all CPUs. */
    for (int c = 0; c < 4; c++) {
        char cs[16];
        snprintf(cs, sizeof(cs), "cpuset%d", c);
        accel_topology_link l = must_link(t, cs, "node1");
        assert_int_equal(l.bandwidth_mbps, 20);
        assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_HMAT);
        assert_int_equal(l.latency_source, ACCEL_SOURCE_ESTIMATE);
        assert_int_equal(l.kind, c == 1 ? ACCEL_LINK_LOCAL : ACCEL_LINK_NUMA);
    }
    accel_topology_link l = must_link(t, "cpuset0", "node0");
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    assert_int_equal(l.bandwidth_mbps, 20000);
    assert_int_equal(l.latency_ns, 90);
    l = must_link(t, "cpuset0", "node2");
    assert_int_equal(l.bandwidth_mbps, 10000);
    assert_int_equal(l.latency_ns, 150);
    accel_topology_destroy(t);
}

/* CXL expanders and a DAX device that are not NUMA nodes. */
static void test_topology_cxl_memories(void **state)
{
    (void)state;
    accel_topology *t = must_create(CXL, NULL, NULL);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET, 0), 1);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, ACCEL_MEMORY_KIND_DRAM), 1);
    assert_int_equal(count_kind(t, ACCEL_TOPOLOGY_NODE_MEMORY, ACCEL_MEMORY_KIND_CXL), 4);
    accel_topology_node mem1 = node_at(t, node_named(t, "mem1"));
    assert_int_equal(mem1.memory_kind, ACCEL_MEMORY_KIND_CXL);
    assert_int_equal(mem1.capacity, 512ull << 20);
    assert_int_equal(mem1.numa_node, -1);
    assert_int_equal(node_at(t, node_named(t, "mem2")).capacity, 256ull << 20);
    accel_topology_node dax = node_at(t, node_named(t, "dax0.0"));
    assert_int_equal(dax.capacity, 1ull << 30);
    assert_int_equal(must_link(t, "cpuset0", "mem2").kind, ACCEL_LINK_CXL);
    /* The host's DRAM is still the best place for its CPUs. */
    uint32_t best, init[] = {node_named(t, "cpuset0")};
    assert_int_equal(accel_topology_best_memory_node(t, init, 1, &best), ACCEL_SUCCESS);
    assert_int_equal(best, node_named(t, "node0"));
    accel_topology_destroy(t);
}

/* ---- simulated devices ---- */

static const char sim_devices[] =
    "{\"version\": 1, \"devices\": [\n"
    "  {\"driver\": \"sim_zip\", \"name\": \"ZIP engine\", \"kind\": \"asic\", \"count\": 2, \"numa_node\": "
    "1,\n"
    "   \"available_instances\": 4, \"max_address_spaces\": 8,\n"
    "   \"functions\": {\"zlib.deflate\": {\"fixed_ns\": 20000, \"bytes_per_second\": 2000000000},\n"
    "                 \"crc32c\": {}}},\n"
    "  {\"driver\": \"sim_gpu\", \"kind\": \"gpu\", \"bus_address\": \"0000:14:00.0\", \"flags\": "
    "[\"sva\"],\n"
    "   \"pasid_bits\": 20, \"functions\": {\"accel.copy\": {}},\n"
    "   \"memories\": [{\"name\": \"vram\", \"kind\": \"device\", \"capacity\": 17179869184,\n"
    "                   \"bandwidth_mbps\": 900000, \"host_visible\": true}],\n"
    "   \"partitions\": [{\"count\": 2, \"name\": \"half\", \"available_instances\": 1}]},\n"
    "  {\"driver\": \"sim_fpga\", \"kind\": \"fpga\", \"host_access\": \"none\",\n"
    "   \"memories\": [{\"name\": \"bank0\", \"kind\": \"fpga-bank\", \"capacity\": 4294967296}],\n"
    "   \"functions\": {\"sha256\": {}}}\n"
    "]}\n";

static void test_topology_simulated_devices(void **state)
{
    (void)state;
    accel_topology *t = must_create(TWO_SOCKETS, sim_devices, NULL);
    /* 2 zip + gpu + 2 partitions + fpga */
    assert_int_equal(count_driver_devices(t), 6);
    uint32_t zip1 = node_named(t, "sim_zip:1"), cs1 = node_named(t, "cpuset1");
    accel_topology_node z = node_at(t, zip1);
    assert_null(z.device);
    assert_int_equal(z.device_kind, ACCEL_DEVICE_KIND_ASIC);
    assert_string_equal(z.driver_name, "sim_zip");
    assert_int_equal(z.driver_index, 1);
    assert_int_equal(z.parent, (int32_t)cs1);
    assert_int_equal(z.available_instances, 4);
    assert_int_equal(z.max_address_spaces, 8);
    assert_int_equal(z.function_count, 2);
    accel_topology_function f = function_named(t, zip1, "zlib.deflate");
    assert_int_equal(f.fixed_ns, 20000);
    assert_int_equal(f.bytes_per_second, 2000000000);
    assert_int_equal(f.source, ACCEL_SOURCE_USER);
    assert_int_equal(function_named(t, zip1, "crc32c").source, ACCEL_SOURCE_ESTIMATE);
    /* Not SVA: host memory through the IOMMU, over PCIe, behind socket 1. */
    accel_topology_link l = must_link(t, "sim_zip:1", "node1");
    assert_int_equal(l.access, ACCEL_ATTACH_PINNED);
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.bandwidth_mbps, 12000);
    assert_int_equal(l.latency_ns, 800 + 90);
    l = must_link(t, "sim_zip:1", "node0");
    assert_int_equal(l.bandwidth_mbps, 10000);
    /* The recorded NUMALatency matrix (10 local, 20 remote): twice the local 90. */
    assert_int_equal(l.latency_ns, 800 + 180);

    /* The GPU hangs off the socket of its PCI address, with its memory. */
    uint32_t gpu = node_named(t, "sim_gpu:0"), vram = node_named(t, "sim_gpu:0:vram");
    accel_topology_node g = node_at(t, gpu);
    assert_int_equal(g.parent, (int32_t)cs1);
    assert_string_equal(g.bus_address, "0000:14:00.0");
    assert_true(g.device_flags & ACCEL_DEVICE_FLAG_SVA);
    assert_int_equal(g.pasid_bits, 20);
    accel_topology_node v = node_at(t, vram);
    assert_int_equal(v.memory_kind, ACCEL_MEMORY_KIND_DEVICE);
    assert_int_equal(v.parent, (int32_t)gpu);
    assert_int_equal(v.capacity, 16ull << 30);
    l = must_link(t, "sim_gpu:0", "sim_gpu:0:vram");
    assert_int_equal(l.kind, ACCEL_LINK_LOCAL);
    assert_int_equal(l.bandwidth_mbps, 900000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_USER);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_ESTIMATE);
    assert_int_equal(must_link(t, "sim_gpu:0", "node0").access, ACCEL_ATTACH_ZERO_COPY);
    /* Host-visible: the CPUs map it over the bus. */
    assert_int_equal(must_link(t, "cpuset1", "sim_gpu:0:vram").kind, ACCEL_LINK_PCIE);

    /* Partitions: parts of the GPU, sharing its memory and functions. */
    uint32_t p0 = node_named(t, "sim_gpu:1");
    assert_true(has_node(t, "sim_gpu:2"));
    accel_topology_node pn = node_at(t, p0);
    assert_int_equal(pn.parent, (int32_t)gpu);
    assert_true(pn.device_flags & ACCEL_DEVICE_FLAG_PARTITION);
    assert_int_equal(pn.available_instances, 1);
    assert_int_equal(function_named(t, p0, "accel.copy").source, ACCEL_SOURCE_ESTIMATE);
    assert_int_equal(must_link(t, "sim_gpu:1", "sim_gpu:0:vram").bandwidth_mbps, 900000);
    assert_int_equal(must_link(t, "sim_gpu:1", "sim_gpu:2").kind, ACCEL_LINK_ON_PACKAGE);
    assert_int_equal(must_link(t, "sim_gpu:0", "sim_gpu:2").kind, ACCEL_LINK_ON_PACKAGE);

    /* The FPGA reaches no host memory: a copy is needed, over its bus. */
    uint32_t fpga = node_named(t, "sim_fpga:0");
    accel_attach_mode mode;
    uint64_t bw = 0, lat = 0;
    assert_int_equal(accel_topology_reach(t, fpga, node_named(t, "node0"), &mode, &bw, &lat), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    assert_true(bw > 0 && lat > 0);
    assert_int_equal(accel_topology_reach(t, fpga, node_named(t, "sim_fpga:0:bank0"), &mode, &bw, NULL),
                     ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(bw, 19200);

    /* What a zip engine and the CPUs of its socket share best: node1. */
    uint32_t best, init[] = {cs1, zip1};
    assert_int_equal(accel_topology_best_memory_node(t, init, 2, &best), ACCEL_SUCCESS);
    assert_int_equal(best, node_named(t, "node1"));
    /* The GPU and the FPGA share nothing without a copy. */
    uint32_t apart[] = {gpu, fpga};
    assert_int_equal(accel_topology_best_memory_node(t, apart, 2, &best), ACCEL_ERROR_NOT_FOUND);
    /* Simulated devices are not devices of an instance. */
    uint32_t idx;
    assert_int_equal(accel_topology_find_device(t, (const accel_device *)&idx, &idx), ACCEL_ERROR_NOT_FOUND);

    char *dot = export_text(t, ACCEL_TOPOLOGY_FORMAT_DOT);
    assert_non_null(strstr(dot, "\"sim_gpu:0\" [shape=box"));
    assert_non_null(strstr(dot, "(simulated)"));
    assert_non_null(strstr(dot, "ZIP engine"));
    free(dot);
    accel_topology_destroy(t);
}

/* ---- the user file ---- */

static void test_topology_user_file_overrides(void **state)
{
    (void)state;
    static const char user[] =
        "{\"links\": [\n"
        "  {\"from\": \"cpuset0\", \"to\": \"node1\", \"bandwidth_mbps\": 9000, \"latency_ns\": 140},\n"
        "  {\"from\": \"sim_zip:0\", \"to\": \"node0\", \"access\": \"none\"},\n"
        "  {\"from\": \"sim_zip:0\", \"to\": \"sim_zip:1\", \"kind\": \"fabric\", \"bandwidth_mbps\": 5000}\n"
        " ],\n"
        " \"functions\": [{\"device\": \"sim_zip:1\", \"function\": \"crc32c\", \"bytes_per_second\": 7}]}\n";
    accel_topology *t = must_create(TWO_SOCKETS, sim_devices, user);
    accel_topology_link l = must_link(t, "cpuset0", "node1");
    assert_int_equal(l.bandwidth_mbps, 9000);
    assert_int_equal(l.latency_ns, 140);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_USER);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_USER);
    assert_int_equal(l.kind, ACCEL_LINK_NUMA);
    /* Removed: sim_zip:0 now needs a copy to reach node0. */
    uint32_t zip0 = node_named(t, "sim_zip:0");
    assert_false(link_between(t, zip0, node_named(t, "node0"), NULL));
    accel_attach_mode mode;
    assert_int_equal(accel_topology_reach(t, zip0, node_named(t, "node0"), &mode, NULL, NULL), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    /* Added. */
    l = must_link(t, "sim_zip:0", "sim_zip:1");
    assert_int_equal(l.kind, ACCEL_LINK_FABRIC);
    assert_int_equal(l.bandwidth_mbps, 5000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_USER);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_NONE);
    accel_topology_function f = function_named(t, node_named(t, "sim_zip:1"), "crc32c");
    assert_int_equal(f.bytes_per_second, 7);
    assert_int_equal(f.source, ACCEL_SOURCE_USER);
    accel_topology_destroy(t);

    /* ACCEL_TOPOLOGY_FILE is read when the options name no file. */
    char *path =
        ts_write_text(tmp_dir, "env-user.json",
                      "{\"links\": [{\"from\": \"cpuset1\", \"to\": \"node0\", \"latency_ns\": 333}]}");
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_TOPOLOGY_FILE", path);
    t = must_create(TWO_SOCKETS, NULL, NULL);
    ts_env_pop_to(depth);
    l = must_link(t, "cpuset1", "node0");
    assert_int_equal(l.latency_ns, 333);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_USER);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    accel_topology_destroy(t);
    free(path);
}

/* ---- bad input ---- */

typedef struct bad_case {
    const char *devices, *user;
    accel_result result;
    const char *needles[4];
} bad_case;

static void test_topology_bad_files_named_in_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {NULL, "{\"links\": [", ACCEL_ERROR_INVALID_ARGUMENT, {"user.json", "not JSON", NULL}},
        {NULL, "[]", ACCEL_ERROR_INVALID_ARGUMENT, {"user.json", "$", "must be an object, not array", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node1\", \"bogus\": 1}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"user.json", "$.links[0].bogus", "unknown key", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node1\", \"bandwidth_mbps\": \"fast\"}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.links[0].bandwidth_mbps", "must be a non-negative integer, not string", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node9\", \"latency_ns\": 1}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.links[0].to", "no node named \"node9\"", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"node0\", \"to\": \"node1\", \"latency_ns\": 1}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.links[0].from", "not a CPU set or a device", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node1\"}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.links[0]", "nothing to change", NULL}},
        {NULL, "{\"version\": 2}", ACCEL_ERROR_INVALID_ARGUMENT, {"$.version", "not supported", NULL}},
        {NULL,
         "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node1\", \"latency_ns\": -5}]}",
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.links[0].latency_ns", "negative", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"tpu\"}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"devices.json", "$.devices[0].kind", "\"tpu\" is not one of", NULL}},
        {"{\"devices\": [{\"driver\": \"x\"}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].kind", "missing", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"numa_node\": 9}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].numa_node", "no NUMA node 9", TWO_SOCKETS, NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"bus_address\": \"0000:99:00.0\"}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].bus_address", "no PCI device 0000:99:00.0", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"bus_address\": \"3b:00.0\"}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].bus_address", "not a PCI address", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"functions\": {\"zlib.deflate\": "
         "{\"fixed_ns\": 1}}}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].functions[\"zlib.deflate\"]", "both fixed_ns and bytes_per_second", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"memories\": [{\"name\": \"m\", \"kind\": "
         "\"dram\", \"speed\": 3}]}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].memories[0].speed", "unknown key", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"partitions\": [{\"count\": true}]}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].partitions[0].count", "not boolean", NULL}},
        {"{\"devices\": [{\"driver\": \"x\", \"kind\": \"asic\", \"count\": 5000}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].count", "at most 4096", NULL}},
        {"{\"devices\": {}}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices", "must be an array, not object", NULL}},
        {"{\"devices\": [{\"driver\": \"bad name\", \"kind\": \"cpu\"}]}",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"$.devices[0].driver", "must be 1-64 characters", NULL}},
        {"{\"devices\": []} x",
         NULL,
         ACCEL_ERROR_INVALID_ARGUMENT,
         {"devices.json", "not JSON", "at byte 16", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        accel_topology *t = (accel_topology *)&cases[i];
        accel_result r = create_xml(TWO_SOCKETS, cases[i].devices, cases[i].user, &t);
        if (r == ACCEL_SUCCESS)
            fail_msg("case %zu was accepted", i);
        assert_ptr_equal(t, (accel_topology *)&cases[i]);
        expect_error(r, cases[i].result, cases[i].needles);
    }

    /* Files that cannot be read, XML that is not a topology. */
    accel_topology *t = NULL;
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = "/nonexistent/machine.xml"};
    expect_error(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_IO,
                 (const char *const[]){"/nonexistent/machine.xml", "cannot read", NULL});
    char *bad =
        ts_write_text(tmp_dir, "bad.xml", "<?xml version=\"1.0\"?>\n<topology version=\"2.0\">\n<object");
    o.hwloc_xml = bad;
    expect_error(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_INVALID_ARGUMENT,
                 (const char *const[]){bad, "line 3: an element <object> without its end", NULL});
    char *empty = ts_write_text(tmp_dir, "empty.xml", "");
    o.hwloc_xml = empty;
    expect_error(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_INVALID_ARGUMENT,
                 (const char *const[]){empty, "empty file", NULL});
    o.hwloc_xml = NULL;
    o.user_file = "/nonexistent/user.json";
    expect_error(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_IO,
                 (const char *const[]){"/nonexistent/user.json", "cannot read", NULL});
    o.user_file = NULL;
    o.simulated_devices = "/nonexistent/devices.json";
    expect_error(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_IO,
                 (const char *const[]){"/nonexistent/devices.json", "cannot read", NULL});
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_TOPOLOGY_XML", bad);
    expect_error(accel_topology_create(NULL, NULL, &t), ACCEL_ERROR_INVALID_ARGUMENT,
                 (const char *const[]){bad, NULL});
    ts_env_pop_to(depth);
    assert_null(t);
    free(bad);
    free(empty);
}

static void test_topology_invalid_arguments(void **state)
{
    (void)state;
    accel_topology *t = NULL;
    accel_topology_options o = {.struct_size = 8};
    assert_int_equal(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "struct_size"));
    o = (accel_topology_options){.struct_size = sizeof(o), .flags = 0x80};
    assert_int_equal(accel_topology_create(NULL, &o, &t), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "flags"));
    assert_int_equal(accel_topology_create(NULL, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(t);

    t = must_create(TWO_SOCKETS, NULL, NULL);
    uint32_t n = accel_topology_node_count(t);
    accel_topology_node node = {.struct_size = sizeof(node)};
    assert_int_equal(accel_topology_get_node(t, n, &node), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_get_node(NULL, 0, &node), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_topology_link link = {.struct_size = sizeof(link)};
    assert_int_equal(accel_topology_get_link(t, accel_topology_link_count(t), &link),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    accel_topology_function fn = {.struct_size = sizeof(fn)};
    assert_int_equal(accel_topology_get_function(t, 0, 0, &fn), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_attach_mode mode;
    uint32_t c0 = node_named(t, "cpuset0"), n0 = node_named(t, "node0");
    assert_int_equal(accel_topology_reach(t, n0, n0, &mode, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_reach(t, c0, c0, &mode, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_reach(t, c0, n, &mode, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    uint32_t best;
    assert_int_equal(accel_topology_best_memory_node(t, &c0, 0, &best), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_best_memory_node(t, &n0, 1, &best), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_export(t, (accel_topology_format)7, NULL, 0, &(size_t){0}),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_export(t, ACCEL_TOPOLOGY_FORMAT_DOT, NULL, 0, NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_topology_node_count(NULL), 0);
    assert_int_equal(accel_topology_link_count(NULL), 0);
    accel_topology_destroy(t);
    accel_topology_destroy(NULL);
}

/* A buffer too small gets what fits, NUL-terminated, and the size needed. */
static void test_topology_export_two_call(void **state)
{
    (void)state;
    accel_topology *t = must_create(KNL, NULL, NULL);
    char *full = export_text(t, ACCEL_TOPOLOGY_FORMAT_DOT);
    char small[32];
    size_t need = 0;
    assert_int_equal(accel_topology_export(t, ACCEL_TOPOLOGY_FORMAT_DOT, small, sizeof(small), &need),
                     ACCEL_INCOMPLETE);
    assert_int_equal(need, strlen(full) + 1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, full, sizeof(small) - 1);
    /* Every node appears in the DOT text; quotes and braces balance. */
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        char *quoted = ts_printf("\"%s\" [", node_at(t, i).name);
        assert_non_null(strstr(full, quoted));
        free(quoted);
    }
    int depth = 0;
    size_t quotes = 0;
    for (const char *p = full; *p; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"')
            quotes++;
        else if (!(quotes % 2) && *p == '{')
            depth++;
        else if (!(quotes % 2) && *p == '}')
            depth--;
        assert_true(depth >= 0);
    }
    assert_int_equal(depth, 0);
    assert_int_equal(quotes % 2, 0);
    free(full);
    accel_topology_destroy(t);
}

/* ---- the internal graph helpers (placement builds graphs with them) ---- */

static void test_topology_hand_built_graph(void **state)
{
    (void)state;
    accel_topology *t = accel__topology_new();
    assert_non_null(t);
    accel__topo_node cs = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                           .name = "cpuset0",
                           .parent = -1,
                           .cpuset = "0-3",
                           .numa_node = -1,
                           .owner_device = -1,
                           .locality = -1};
    accel__topo_node mem = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                            .name = "node0",
                            .parent = 0,
                            .memory_kind = ACCEL_MEMORY_KIND_DRAM,
                            .numa_node = 0,
                            .owner_device = -1,
                            .locality = -1};
    accel__topo_node dev = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE,
                            .name = "x:0",
                            .parent = 0,
                            .numa_node = -1,
                            .owner_device = -1,
                            .device_kind = ACCEL_DEVICE_KIND_ASIC,
                            .driver_name = "x",
                            .locality = 0,
                            .available_instances = ACCEL_INSTANCES_UNLIMITED};
    assert_int_equal(accel__topology_add_node(t, &cs), 0);
    assert_int_equal(accel__topology_add_node(t, &mem), 1);
    /* Many devices: the arrays grow past their first size. */
    for (int i = 0; i < 40; i++)
        assert_int_equal(accel__topology_add_node(t, &dev), 2 + i);
    accel__topo_link l = {.from = 0,
                          .to = 1,
                          .kind = ACCEL_LINK_LOCAL,
                          .access = ACCEL_ATTACH_ZERO_COPY,
                          .bandwidth_mbps = 100,
                          .latency_ns = 10,
                          .bandwidth_source = ACCEL_SOURCE_USER};
    assert_int_equal(accel__topology_add_link(t, &l), 0);
    l.from = 2;
    l.access = ACCEL_ATTACH_PINNED;
    l.bandwidth_mbps = 50;
    assert_int_equal(accel__topology_add_link(t, &l), 1);
    l.from = 99;
    assert_int_equal(accel__topology_add_link(t, &l), -1);
    assert_int_equal(accel__topology_add_function(t, 2, "crc32c", 5, 6, ACCEL_SOURCE_USER), 0);
    assert_int_equal(accel__topology_add_function(t, 2, "crc32c", 7, 8, ACCEL_SOURCE_MEASURED), 0);
    assert_int_equal(accel__topology_add_function(t, 1, "crc32c", 7, 8, ACCEL_SOURCE_USER), -1);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        assert_int_equal(accel__topology_add_function(t, 3, name, 1, 1, ACCEL_SOURCE_USER), 0);
    }
    assert_int_equal(accel_topology_node_count(t), 42);
    assert_int_equal(node_at(t, 2).function_count, 1);
    assert_int_equal(node_at(t, 3).function_count, 20);
    accel_topology_function f = function_named(t, 2, "crc32c");
    assert_int_equal(f.fixed_ns, 7);
    assert_int_equal(f.source, ACCEL_SOURCE_MEASURED);
    const accel__topo_link *found = accel__topology_find_link(t, 2, 1);
    assert_non_null(found);
    assert_int_equal(found->bandwidth_mbps, 50);
    assert_null(accel__topology_find_link(t, 1, 2));
    accel_attach_mode mode;
    uint64_t bw;
    assert_int_equal(accel_topology_reach(t, 2, 1, &mode, &bw, NULL), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    assert_int_equal(bw, 50);
    uint32_t best, init[] = {0, 2};
    assert_int_equal(accel_topology_best_memory_node(t, init, 2, &best), ACCEL_SUCCESS);
    assert_int_equal(best, 1);
    /* Device 3 reaches nothing: the copy goes over its bus from the CPUs. */
    assert_int_equal(accel_topology_reach(t, 3, 1, &mode, &bw, NULL), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_STAGED);
    assert_int_equal(bw, 100);
    char *js = export_text(t, ACCEL_TOPOLOGY_FORMAT_JSON);
    json_object *root = json_tokener_parse(js);
    assert_non_null(root);
    json_object_put(root);
    free(js);
    accel_topology_destroy(t);
}

/* The parsers directly: a resolver decides what bus addresses exist. */
static int32_t resolve_to_zero(void *ctx, const char *bus)
{
    (*(int *)ctx)++;
    return strcmp(bus, "0000:01:00.0") == 0 ? 0 : -1;
}

static void test_topology_parsers_without_hwloc(void **state)
{
    (void)state;
    accel_topology *t = accel__topology_new();
    accel__topo_node cs = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                           .name = "cpuset0",
                           .parent = -1,
                           .cpuset = "0",
                           .numa_node = -1,
                           .owner_device = -1,
                           .locality = -1};
    assert_int_equal(accel__topology_add_node(t, &cs), 0);
    int calls = 0;
    static const char devs[] = "{\"devices\": [{\"driver\": \"d\", \"kind\": \"asic\", \"bus_address\": "
                               "\"0000:01:00.0\", \"functions\": {\"crc32c\": {}}}]}";
    assert_int_equal(accel__topology_add_simulated(t, devs, strlen(devs), "devs", resolve_to_zero, &calls),
                     ACCEL_SUCCESS);
    assert_int_equal(calls, 1);
    assert_int_equal(node_at(t, node_named(t, "d:0")).parent, 0);
    /* No resolver: every bus address is unknown. */
    assert_int_equal(accel__topology_add_simulated(t, devs, strlen(devs), "devs", NULL, NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "devs: $.devices[0].bus_address"));
    /* A calibration cache: measured values for the devices with the uuid. */
    static const char cal[] = "{\"version\": 1, \"devices\": {\"00000000000000000000000000000001\": "
                              "{\"crc32c\": {\"fixed_ns\": 3, \"bytes_per_second\": 4}}}}";
    t->nodes[node_named(t, "d:0")].uuid[15] = 1;
    assert_int_equal(accel__topology_apply_calibration(t, cal, strlen(cal), "cal"), ACCEL_SUCCESS);
    accel_topology_function f = function_named(t, node_named(t, "d:0"), "crc32c");
    assert_int_equal(f.fixed_ns, 3);
    assert_int_equal(f.bytes_per_second, 4);
    assert_int_equal(f.source, ACCEL_SOURCE_MEASURED);
    /* A bad one changes nothing, even where its first entries were good. */
    static const char bad_cal[] = "{\"version\": 1, \"devices\": {\"00000000000000000000000000000001\": "
                                  "{\"crc32c\": {\"fixed_ns\": 9, \"bytes_per_second\": 9}}, \"xyz\": {}}}";
    assert_int_equal(accel__topology_apply_calibration(t, bad_cal, strlen(bad_cal), "cal"),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "cal: $.devices.xyz"));
    assert_int_equal(function_named(t, node_named(t, "d:0"), "crc32c").fixed_ns, 3);
    assert_int_equal(accel__topology_apply_user(t, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "unexpected end"));
    accel_topology_destroy(t);
}

/* Every allocation the build makes may fail: the build then fails with
 * ACCEL_ERROR_OUT_OF_HOST_MEMORY, or succeeds, and leaks nothing. */
static void test_topology_allocation_failures(void **state)
{
    (void)state;
    static const char user[] =
        "{\"links\": [{\"from\": \"sim_zip:0\", \"to\": \"node0\", \"latency_ns\": 1}],"
        " \"functions\": [{\"device\": \"sim_zip:0\", \"function\": \"crc32c\", "
        "\"fixed_ns\": 1}]}";
    unsigned failures = 0;
    char *xml = data_path(TWO_SOCKETS);
    char *dev_path = ts_write_text(tmp_dir, "devices.json", sim_devices);
    char *user_path = ts_write_text(tmp_dir, "user.json", user);
    accel_topology_options o = {
        .struct_size = sizeof(o), .hwloc_xml = xml, .user_file = user_path, .simulated_devices = dev_path};
    for (long n = 1; n < 100000; n++) {
        long live = accel__alloc_live();
        accel_topology *t = NULL;
        accel__alloc_fail_at(n);
        accel_result r = accel_topology_create(NULL, &o, &t);
        char *dot = NULL;
        if (r == ACCEL_SUCCESS) {
            size_t size;
            if (accel_topology_export(t, ACCEL_TOPOLOGY_FORMAT_DOT, NULL, 0, &size) == ACCEL_SUCCESS)
                dot = malloc(size);
        }
        accel__alloc_fail_at(0);
        free(dot);
        if (r == ACCEL_SUCCESS) {
            accel_topology_destroy(t);
            assert_int_equal(accel__alloc_live(), live);
            if (failures > 0 || n > 1)
                break;
            continue;
        }
        if (r != ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            fail_msg("allocation %ld: %s: %s", n, accel_result_name(r), accel_last_error_message());
        assert_null(t);
        assert_int_equal(accel__alloc_live(), live);
        failures++;
    }
    free(xml);
    free(dev_path);
    free(user_path);
    assert_true(failures > 50);
}

/* ---- the instance's topology ---- */

static accel_instance *cpu_instance(void)
{
    char *manifest = ts_printf("%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    const char *paths[] = {manifest, NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION, paths), ACCEL_SUCCESS);
    free(manifest);
    return inst;
}

static void test_topology_not_built_by_enumeration(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance();
    uint32_t count = 0;
    assert_int_equal(accel_enumerate_devices(inst, &count, NULL), ACCEL_SUCCESS);
    accel_device *dev;
    count = 1;
    assert_int_equal(accel_enumerate_devices(inst, &count, &dev), ACCEL_SUCCESS);
    accel_device_info info = ts_device_info(dev);
    (void)info;
    assert_null(atomic_load(&inst->topology));
    /* Building it on first use leaves the last error alone. */
    assert_int_equal(accel_topology_get_node(NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    char *before = ts_printf("%s", accel_last_error_message());
    const accel_topology *t = NULL;
    assert_int_equal(accel_instance_get_topology(inst, &t), ACCEL_SUCCESS);
    assert_string_equal(accel_last_error_message(), before);
    free(before);
    assert_non_null(t);
    assert_ptr_equal(atomic_load(&inst->topology), t);
    const accel_topology *again = NULL;
    assert_int_equal(accel_instance_get_topology(inst, &again), ACCEL_SUCCESS);
    assert_ptr_equal(again, t);
    accel_instance_destroy(inst);
}

static void test_topology_instance_cpu_device(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance();
    const accel_topology *t = NULL;
    assert_int_equal(accel_instance_get_topology(inst, &t), ACCEL_SUCCESS);
    accel_device **devs;
    uint32_t n;
    devs = ts_devices(inst, &n);
    assert_true(n >= 1);
    uint32_t node;
    assert_int_equal(accel_topology_find_device(t, devs[0], &node), ACCEL_SUCCESS);
    accel_topology_node d = node_at(t, node);
    accel_device_info info = ts_device_info(devs[0]);
    assert_ptr_equal(d.device, devs[0]);
    assert_string_equal(d.name, "cpu:0");
    assert_int_equal(d.device_kind, ACCEL_DEVICE_KIND_CPU);
    assert_memory_equal(d.uuid, info.uuid, ACCEL_UUID_SIZE);
    assert_true(d.parent >= 0);
    assert_int_equal(node_at(t, (uint32_t)d.parent).kind, ACCEL_TOPOLOGY_NODE_CPUSET);
    /* The standard functions, every one, and their four stream forms. */
    assert_int_equal(d.function_count, 11);
    accel_topology_function sf = function_named(t, node, "zlib.deflate.stream");
    assert_true(sf.bytes_per_second > 0);
    accel_topology_function f = function_named(t, node, "zlib.deflate");
    assert_true(f.bytes_per_second > 0);
    assert_true(f.source == ACCEL_SOURCE_ESTIMATE || f.source == ACCEL_SOURCE_DRIVER);
    /* Host memory in place, at the speed of its CPU set. */
    for (uint32_t m = 0; m < accel_topology_node_count(t); m++) {
        accel_topology_node mn = node_at(t, m);
        if (mn.kind != ACCEL_TOPOLOGY_NODE_MEMORY || mn.numa_node < 0)
            continue;
        assert_non_null(mn.memory_node);
        accel_memory_node_info mi = {.struct_size = sizeof(mi)};
        assert_int_equal(accel_memory_node_get_info(mn.memory_node, &mi), ACCEL_SUCCESS);
        assert_int_equal(mi.numa_node, mn.numa_node);
        accel_topology_link dl, cl;
        assert_true(link_between(t, node, m, &dl));
        assert_true(link_between(t, (uint32_t)d.parent, m, &cl));
        assert_int_equal(dl.access, ACCEL_ATTACH_ZERO_COPY);
        assert_int_equal(dl.bandwidth_mbps, cl.bandwidth_mbps);
        assert_int_equal(dl.kind, cl.kind);
    }
    char *dot = export_text(t, ACCEL_TOPOLOGY_FORMAT_DOT);
    assert_non_null(strstr(dot, info.name));
    free(dot);
    free(devs);
    accel_instance_destroy(inst);
}

/* A driver that reports device memories (vram0, vram1) and reaches host
 * memory through its IOMMU; and the instance devices left out on request. */
static void test_topology_instance_device_memories(void **state)
{
    (void)state;
    char *dir = ts_mkdtemp("topology-nodes");
    char *manifest = ts_write_fake_manifest(dir, "nodes.json", "exec_nodes");
    const char *paths[] = {manifest, NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION, paths), ACCEL_SUCCESS);
    accel_topology *t = NULL;
    char *xml = data_path(TWO_SOCKETS);
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = xml};
    assert_int_equal(accel_topology_create(inst, &o, &t), ACCEL_SUCCESS);
    uint32_t dev = node_named(t, "fake_exec_nodes:0");
    uint32_t vram0 = node_named(t, "fake_exec_nodes:0:vram0");
    accel_topology_node v = node_at(t, vram0);
    assert_int_equal(v.memory_kind, ACCEL_MEMORY_KIND_DEVICE);
    assert_int_equal(v.parent, (int32_t)dev);
    assert_int_equal(v.capacity, 1u << 30);
    assert_non_null(v.memory_node);
    assert_true(has_node(t, "fake_exec_nodes:0:vram1"));
    accel_topology_link l = must_link(t, "fake_exec_nodes:0", "fake_exec_nodes:0:vram0");
    assert_int_equal(l.kind, ACCEL_LINK_LOCAL);
    assert_int_equal(l.access, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    l = must_link(t, "fake_exec_nodes:0", "node1");
    assert_int_equal(l.access, ACCEL_ATTACH_PINNED);
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    /* Host-visible: the CPUs reach it in place. */
    assert_int_equal(must_link(t, "cpuset0", "fake_exec_nodes:0:vram0").access, ACCEL_ATTACH_ZERO_COPY);
    /* Recorded host nodes are not this machine's: no live handle. */
    assert_null(node_at(t, node_named(t, "node0")).memory_node);
    accel_topology_destroy(t);

    o.flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES;
    assert_int_equal(accel_topology_create(inst, &o, &t), ACCEL_SUCCESS);
    assert_int_equal(count_driver_devices(t), 0);
    assert_false(has_node(t, "fake_exec_nodes:0:vram0"));
    accel_topology_destroy(t);
    accel_instance_destroy(inst);
    free(xml);
    free(manifest);
    ts_rmtree(dir);
    free(dir);
}

/* Version 2 of the calibration cache: output ratios (applied), sizes,
 * level, clamped and input (checked); version 1 still reads, without
 * them. Every error names the file and the JSON path. */
static void test_topology_calibration_v2(void **state)
{
    (void)state;
    accel_topology *t = accel__topology_new();
    assert_non_null(t);
    accel__topo_node d = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE, .name = "d:0", .parent = -1, .numa_node = -1,
                          .owner_device = -1, .locality = -1, .driver_name = "d"};
    d.uuid[15] = 1;
    assert_int_equal(accel__topology_add_node(t, &d), 0);
    static const char *const fns[] = {"zlib.deflate", "zlib.inflate", "crc32c"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(accel__topology_add_function(t, 0, fns[i], 10, 20, ACCEL_SOURCE_ESTIMATE), 0);
#define UUID1 "\"00000000000000000000000000000001\""
    static const char good[] =
        "{\"version\": 2, \"input\": \"corpus\", \"devices\": {" UUID1 ": {"
        "\"zlib.deflate\": {\"fixed_ns\": 5000, \"bytes_per_second\": 40000000, \"output_ratio\": 0.374, "
        "\"level\": 6, \"sizes\": [4096, 65536, 1048576], \"clamped\": false}, "
        "\"zlib.inflate\": {\"fixed_ns\": 3000, \"bytes_per_second\": 100000000, \"output_ratio\": 2.67}, "
        "\"crc32c\": {\"fixed_ns\": 900, \"bytes_per_second\": 20000000000, \"clamped\": true}}}}";
    assert_int_equal(accel__topology_apply_calibration(t, good, strlen(good), "cal.json"), ACCEL_SUCCESS);
    const accel__topo_function *f = t->nodes[0].functions;
    assert_int_equal(f[0].fixed_ns, 5000);
    assert_int_equal(f[0].bytes_per_second, 40000000);
    assert_int_equal(f[0].source, ACCEL_SOURCE_MEASURED);
    assert_true(f[0].output_ratio > 0.3739 && f[0].output_ratio < 0.3741);
    assert_true(f[1].output_ratio > 2.669 && f[1].output_ratio < 2.671);
    assert_true(f[2].output_ratio == 0);
    /* An integer ratio is a number too. */
    static const char whole[] = "{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.inflate\": {\"fixed_ns\": 1, "
                                "\"bytes_per_second\": 1, \"output_ratio\": 3}}}}";
    assert_int_equal(accel__topology_apply_calibration(t, whole, strlen(whole), "cal.json"), ACCEL_SUCCESS);
    assert_true(f[1].output_ratio == 3);

    /* Each bad file is named with the place at fault, and changes nothing. */
    static const struct {
        const char *json, *message;
    } bad[] = {
        {"{\"version\": 3, \"devices\": {}}", "cal.json: $.version: version 3 is not supported"},
        {"{\"devices\": {}}", "cal.json: $.version: missing"},
        {"{\"version\": \"2\", \"devices\": {}}", "cal.json: $.version: must be a non-negative integer"},
        {"{\"version\": 1, \"input\": \"corpus\", \"devices\": {}}", "cal.json: $.input: unknown key"},
        {"{\"version\": 2, \"input\": \"random\", \"devices\": {}}",
         "cal.json: $.input: \"random\" is not one of corpus, generated"},
        {"{\"version\": 2}", "cal.json: $.devices: missing"},
        {"{\"version\": 1, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"output_ratio\": 0.5}}}}",
         "cal.json: $.devices[\"00000000000000000000000000000001\"][\"zlib.deflate\"].output_ratio: unknown key"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"output_ratio\": 0}}}}",
         "[\"zlib.deflate\"].output_ratio: must be above 0 and at most 1e+06"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"output_ratio\": -0.5}}}}",
         "[\"zlib.deflate\"].output_ratio: must be above 0"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"output_ratio\": 2e6}}}}",
         "[\"zlib.deflate\"].output_ratio: must be above 0 and at most 1e+06"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"output_ratio\": \"0.5\"}}}}",
         "[\"zlib.deflate\"].output_ratio: must be a number, not string"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"level\": 10}}}}",
         "[\"zlib.deflate\"].level: must be an integer from -1 to 9"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"sizes\": []}}}}",
         ".crc32c.sizes: must hold 1 to 64 sizes"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"sizes\": [4096, 0]}}}}",
         ".crc32c.sizes[1]: must be positive"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"sizes\": [4096, \"1M\"]}}}}",
         ".crc32c.sizes[1]: must be a non-negative integer, not string"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"sizes\": 4096}}}}",
         ".crc32c.sizes: must be an array, not int"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"clamped\": 1}}}}",
         ".crc32c.clamped: must be a boolean, not int"},
        {"{\"version\": 2, \"devices\": {" UUID1 ": {\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 1, "
         "\"points\": []}}}}",
         ".crc32c.points: unknown key (known: fixed_ns, bytes_per_second, output_ratio, level, sizes, clamped)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        accel_result r = accel__topology_apply_calibration(t, bad[i].json, strlen(bad[i].json), "cal.json");
        if (r != ACCEL_ERROR_INVALID_ARGUMENT || !strstr(accel_last_error_message(), bad[i].message))
            fail_msg("%s: %s (wanted \"%s\")", bad[i].json, accel_last_error_message(), bad[i].message);
        assert_true(f[0].output_ratio > 0.3739 && f[0].output_ratio < 0.3741);
        assert_int_equal(f[0].fixed_ns, 5000);
    }
    /* A measurement without a ratio (version 1) drops the older one. */
    static const char v1[] = "{\"version\": 1, \"devices\": {" UUID1 ": {\"zlib.deflate\": {\"fixed_ns\": 7, "
                             "\"bytes_per_second\": 8}}}}";
    assert_int_equal(accel__topology_apply_calibration(t, v1, strlen(v1), "cal.json"), ACCEL_SUCCESS);
    assert_int_equal(f[0].fixed_ns, 7);
    assert_true(f[0].output_ratio == 0);
#undef UUID1
    accel_topology_destroy(t);
}

static void test_topology_calibration_cache(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance();
    accel_device **devs;
    uint32_t n;
    devs = ts_devices(inst, &n);
    accel_device_info info = ts_device_info(devs[0]);
    free(devs);
    char uuid[33];
    accel_uuid_to_string(info.uuid, uuid);
    char *cache = ts_printf("%s/cache/accel", tmp_dir);
    char *text =
        ts_printf("{\"version\": 1, \"devices\": {\"%s\": {\"crc32c\": {\"fixed_ns\": 1234, "
                  "\"bytes_per_second\": 5678}, \"not.offered\": {\"fixed_ns\": 1, \"bytes_per_second\": 1}},"
                  " \"0123456789abcdef0123456789abcdef\": {}}}",
                  uuid);
    free(ts_write_text(cache, "calibration.json", text));
    accel_topology *t = NULL;
    accel_topology_options o = {.struct_size = sizeof(o)};
    assert_int_equal(accel_topology_create(inst, &o, &t), ACCEL_SUCCESS);
    uint32_t dev = node_named(t, "cpu:0");
    accel_topology_function f = function_named(t, dev, "crc32c");
    assert_int_equal(f.fixed_ns, 1234);
    assert_int_equal(f.bytes_per_second, 5678);
    assert_int_equal(f.source, ACCEL_SOURCE_MEASURED);
    assert_int_not_equal(function_named(t, dev, "sha256").source, ACCEL_SOURCE_MEASURED);
    accel_topology_destroy(t);

    /* Version 2, as accel-run --calibrate writes it: the ratio reaches the
     * device's function. */
    free(text);
    text = ts_printf("{\"version\": 2, \"input\": \"corpus\", \"devices\": {\"%s\": {\"zlib.deflate\": "
                     "{\"fixed_ns\": 4321, \"bytes_per_second\": 50000000, \"output_ratio\": 0.375, \"level\": 6, "
                     "\"sizes\": [4096, 65536, 1048576, 4194304, 16777216], \"clamped\": false}}}}",
                     uuid);
    free(ts_write_text(cache, "calibration.json", text));
    assert_int_equal(accel_topology_create(inst, &o, &t), ACCEL_SUCCESS);
    dev = node_named(t, "cpu:0");
    f = function_named(t, dev, "zlib.deflate");
    assert_int_equal(f.fixed_ns, 4321);
    assert_int_equal(f.source, ACCEL_SOURCE_MEASURED);
    for (uint32_t i = 0; i < t->nodes[dev].function_count; i++)
        if (strcmp(t->nodes[dev].functions[i].name, "zlib.deflate") == 0)
            assert_true(t->nodes[dev].functions[i].output_ratio == 0.375);
    accel_topology_destroy(t);

    /* A broken cache is ignored, with a warning naming it. */
    free(ts_write_text(cache, "calibration.json", "{\"version\": 1, \"devices\": 3}"));
    ts_log log;
    ts_log_init(&log);
    accel_instance_destroy(inst);
    char *manifest = ts_printf("%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    const char *paths[] = {manifest};
    accel_instance_options io = {.struct_size = sizeof(io),
                                 .flags = ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION,
                                 .manifest_paths = paths,
                                 .manifest_path_count = 1,
                                 .log_callback = ts_log_callback,
                                 .log_user_data = &log,
                                 .log_mask = ACCEL_LOG_WARN};
    assert_int_equal(accel_instance_create(&io, &inst), ACCEL_SUCCESS);
    assert_int_equal(accel_topology_create(inst, &o, &t), ACCEL_SUCCESS);
    assert_int_not_equal(function_named(t, node_named(t, "cpu:0"), "crc32c").source, ACCEL_SOURCE_MEASURED);
    assert_int_equal(ts_log_count(&log, "calibration cache ignored", "calibration.json", "$.devices", NULL),
                     1);
    accel_topology_destroy(t);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    ts_rmtree(cache);
    free(manifest);
    free(cache);
    free(text);
}

static void *get_topology_thread(void *arg)
{
    const accel_topology *t = NULL;
    if (accel_instance_get_topology(arg, &t) != ACCEL_SUCCESS)
        return NULL;
    return (void *)t;
}

/* Threads asking at once all get the one topology. */
static void test_topology_instance_threads(void **state)
{
    (void)state;
    accel_instance *inst = cpu_instance();
    pthread_t th[4];
    void *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, get_topology_thread, inst), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], &got[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_non_null(got[i]);
        assert_ptr_equal(got[i], got[0]);
    }
    accel_instance_destroy(inst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_every_recorded_machine_loads),
        cmocka_unit_test(test_topology_knl_dram_and_hbm),
        cmocka_unit_test(test_topology_memattrs_from_hmat),
        cmocka_unit_test(test_topology_cxl_memories),
        cmocka_unit_test(test_topology_simulated_devices),
        cmocka_unit_test_setup_teardown(test_topology_user_file_overrides, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_topology_bad_files_named_in_errors, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_topology_invalid_arguments),
        cmocka_unit_test(test_topology_export_two_call),
        cmocka_unit_test(test_topology_hand_built_graph),
        cmocka_unit_test(test_topology_parsers_without_hwloc),
        cmocka_unit_test(test_topology_allocation_failures),
        cmocka_unit_test(test_topology_not_built_by_enumeration),
        cmocka_unit_test(test_topology_instance_cpu_device),
        cmocka_unit_test(test_topology_instance_device_memories),
        cmocka_unit_test(test_topology_calibration_cache),
        cmocka_unit_test(test_topology_calibration_v2),
        cmocka_unit_test(test_topology_instance_threads),
    };
    return cmocka_run_group_tests_name("topology", tests, group_setup, group_teardown);
}
