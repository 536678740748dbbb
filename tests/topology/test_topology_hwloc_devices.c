/* test_topology_hwloc_devices.c — the devices hwloc reports on recorded
 * machines (the XML files of data/): GPUs, co-processors and network adapters become
 * device nodes, one per PCI device, with their memory, PCI locality, PCI
 * link speed and the NVLinkBandwidth matrix; the recorded NUMALatency
 * matrix replaces the estimates. Public API only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "accel/accel.h"

#ifndef TOPOLOGY_DATA_DIR
#error "TOPOLOGY_DATA_DIR must name tests/topology/data"
#endif
#ifndef TEST_TMP_DIR
#error "TEST_TMP_DIR must name a writable directory"
#endif

#define NVLINK_MACHINE "2n2gpu-nvlink.xml"
#define XGMI_MACHINE   "2n2gpu-xgmi.xml"

static accel_topology *load(const char *file)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", TOPOLOGY_DATA_DIR, file);
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = path};
    accel_topology *t = NULL;
    accel_result r = accel_topology_create(NULL, &o, &t);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_topology_create(%s): %s: %s", file, accel_result_name(r), accel_last_error_message());
    return t;
}

static accel_topology_node node_at(const accel_topology *t, uint32_t i)
{
    accel_topology_node n = {.struct_size = sizeof(n)};
    assert_int_equal(accel_topology_get_node(t, i, &n), ACCEL_SUCCESS);
    return n;
}

static uint32_t node_named(const accel_topology *t, const char *name)
{
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++)
        if (strcmp(node_at(t, i).name, name) == 0)
            return i;
    fail_msg("no node %s", name);
    return UINT32_MAX;
}

static accel_topology_link link_of(const accel_topology *t, const char *from, const char *to)
{
    uint32_t f = node_named(t, from), d = node_named(t, to);
    for (uint32_t i = 0; i < accel_topology_link_count(t); i++) {
        accel_topology_link l = {.struct_size = sizeof(l)};
        assert_int_equal(accel_topology_get_link(t, i, &l), ACCEL_SUCCESS);
        if (l.from == f && l.to == d)
            return l;
    }
    fail_msg("no link %s -> %s", from, to);
    accel_topology_link none = {0};
    return none;
}

/* Devices of a kind (UINT32_MAX: any) from hwloc, and links between devices. */
static uint32_t hwloc_devices(const accel_topology *t, uint32_t kind)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node d = node_at(t, i);
        if (d.kind == ACCEL_TOPOLOGY_NODE_DEVICE && strcmp(d.driver_name, "hwloc") == 0 &&
            (kind == UINT32_MAX || (uint32_t)d.device_kind == kind)) {
            assert_null(d.device);
            assert_int_equal(d.function_count, 0);
            n++;
        }
    }
    return n;
}

static uint32_t device_links(const accel_topology *t)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_link_count(t); i++) {
        accel_topology_link l = {.struct_size = sizeof(l)};
        assert_int_equal(accel_topology_get_link(t, i, &l), ACCEL_SUCCESS);
        if (node_at(t, l.to).kind == ACCEL_TOPOLOGY_NODE_DEVICE)
            n++;
    }
    return n;
}

/* Every recorded machine: how many devices of which kind hwloc reports. */
static void test_hwloc_devices_per_machine(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        uint32_t all, gpu, unknown;
    } cases[] = {
        {"16intel64-manyVFs.xml", 6, 0, 6},      /* network adapters (their virtual functions have none) */
        {"24em64t-2n6c2t-pci.xml", 3, 0, 3},     /* eth0, eth1, and eth2 + ib0 + mlx4_0 of one adapter */
        {"96em64t-4n4d3ca2co-pci.xml", 9, 1, 8}, /* the card0 display GPU and eight Ethernet ports */
        {"64intel64-fakeKNL-SNC4-hybrid.xml", 0, 0, 0},
        {"8intel64-4n2t-memattrs.xml", 0, 0, 0},
        {"cxlmem+dax.v2.xml", 1, 0, 1}, /* a network adapter; its CXL and DAX devices are memory */
        {XGMI_MACHINE, 2, 2, 0},
        {NVLINK_MACHINE, 2, 2, 0}, /* CUDA + OpenCL + NVML of each GPU: one device */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        accel_topology *t = load(cases[i].file);
        if (hwloc_devices(t, UINT32_MAX) != cases[i].all ||
            hwloc_devices(t, ACCEL_DEVICE_KIND_GPU) != cases[i].gpu ||
            hwloc_devices(t, ACCEL_DEVICE_KIND_UNKNOWN) != cases[i].unknown)
            fail_msg("%s: %u devices, %u GPUs, %u of unknown kind", cases[i].file,
                     hwloc_devices(t, UINT32_MAX), hwloc_devices(t, ACCEL_DEVICE_KIND_GPU),
                     hwloc_devices(t, ACCEL_DEVICE_KIND_UNKNOWN));
        /* Only the NVLink and XGMI machines have links between devices. */
        assert_int_equal(
            device_links(t),
            strcmp(cases[i].file, NVLINK_MACHINE) == 0 || strcmp(cases[i].file, XGMI_MACHINE) == 0 ? 2 : 0);
        accel_topology_destroy(t);
    }
}

/* The GPUs: kind, name, model, memory, PCI locality and bus address. */
static void test_hwloc_gpus(void **state)
{
    (void)state;
    accel_topology *t = load(NVLINK_MACHINE);
    accel_topology_node g0 = node_at(t, node_named(t, "cuda0"));
    accel_topology_node g1 = node_at(t, node_named(t, "cuda1"));
    assert_int_equal(g0.device_kind, ACCEL_DEVICE_KIND_GPU);
    assert_string_equal(g0.bus_address, "0000:04:00.0");
    assert_string_equal(g1.bus_address, "0000:84:00.0");
    assert_int_equal(g0.parent, (int32_t)node_named(t, "cpuset0"));
    assert_int_equal(g1.parent, (int32_t)node_named(t, "cpuset1"));
    accel_topology_node m0 = node_at(t, node_named(t, "cuda0:mem"));
    accel_topology_node m1 = node_at(t, node_named(t, "cuda1:mem"));
    assert_int_equal(m0.memory_kind, ACCEL_MEMORY_KIND_DEVICE);
    assert_int_equal(m0.capacity, 40ull << 30); /* CUDAGlobalMemorySize, KiB */
    assert_int_equal(m1.capacity, 16ull << 30);
    assert_int_equal(m0.parent, (int32_t)node_named(t, "cuda0"));
    assert_int_equal(link_of(t, "cuda0", "cuda0:mem").kind, ACCEL_LINK_LOCAL);
    /* The exports say where it comes from. */
    char buf[65536];
    size_t size = 0;
    assert_int_equal(accel_topology_export(t, ACCEL_TOPOLOGY_FORMAT_DOT, buf, sizeof(buf), &size),
                     ACCEL_SUCCESS);
    assert_non_null(strstr(buf, "cuda0 (hwloc)\\nTest GPU A\\ngpu"));
    assert_int_equal(accel_topology_export(t, ACCEL_TOPOLOGY_FORMAT_JSON, buf, sizeof(buf), &size),
                     ACCEL_SUCCESS);
    assert_null(strstr(buf, "\"simulated\": true"));
    assert_non_null(strstr(buf, "\"simulated\": false"));
    accel_topology_destroy(t);
}

/* NVLinkBandwidth: GPU <-> GPU both ways, GPU 1 -> the memory of socket 1;
 * the other host links stay PCIe, bounded by the CPU set's bandwidth. */
static void test_hwloc_nvlink(void **state)
{
    (void)state;
    accel_topology *t = load(NVLINK_MACHINE);
    accel_topology_link l = link_of(t, "cuda0", "cuda1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 50000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    l = link_of(t, "cuda1", "cuda0");
    assert_int_equal(l.bandwidth_mbps, 50000);
    l = link_of(t, "cuda1", "node1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 25000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    l = link_of(t, "cuda1", "node0");
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.bandwidth_mbps, 10000); /* PCIe 15.75 GB/s, over the remote socket's 10000 */
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    l = link_of(t, "cuda0", "node0");
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.access, ACCEL_ATTACH_PINNED);
    assert_int_equal(l.bandwidth_mbps, 20000);
    accel_topology_destroy(t);
}

/* XGMIBandwidth between two AMD GPUs: a fabric link both ways; the RSMI
 * device names the GPU and the largest memory an OS device reports counts. */
static void test_hwloc_xgmi(void **state)
{
    (void)state;
    accel_topology *t = load(XGMI_MACHINE);
    assert_int_equal(node_at(t, node_named(t, "rsmi0")).device_kind, ACCEL_DEVICE_KIND_GPU);
    assert_int_equal(node_at(t, node_named(t, "rsmi0:mem")).capacity, 64ull << 30);
    accel_topology_link l = link_of(t, "rsmi0", "rsmi1");
    assert_int_equal(l.kind, ACCEL_LINK_FABRIC);
    assert_int_equal(l.bandwidth_mbps, 64000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    assert_int_equal(link_of(t, "rsmi1", "rsmi0").bandwidth_mbps, 64000);
    assert_int_equal(link_of(t, "rsmi1", "node1").kind, ACCEL_LINK_PCIE);
    accel_topology_destroy(t);
}

/* A PCI link slower than the host memory bounds the device's bandwidth. */
static void test_hwloc_pci_link_speed(void **state)
{
    (void)state;
    accel_topology *t = load("24em64t-2n6c2t-pci.xml");
    accel_topology_node n = node_at(t, node_named(t, "eth2"));
    assert_string_equal(n.bus_address, "0000:05:00.0");
    accel_topology_link l = link_of(t, "eth2", "node0");
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.bandwidth_mbps, 2000); /* pci_link_speed 2.0 GB/s */
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    accel_topology_destroy(t);
}

/* The NUMALatency matrix scales the local estimate (90 ns) and says so. */
static void test_hwloc_numa_latency(void **state)
{
    (void)state;
    accel_topology *t = load(NVLINK_MACHINE);
    accel_topology_link l = link_of(t, "cpuset0", "node1");
    assert_int_equal(l.latency_ns, 189); /* 90 * 21 / 10 */
    assert_int_equal(l.latency_source, ACCEL_SOURCE_OS);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    l = link_of(t, "cpuset0", "node0");
    assert_int_equal(l.latency_ns, 90);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_OS);
    accel_topology_destroy(t);
    /* Four nodes, 10 local and 26 remote. */
    t = load("96em64t-4n4d3ca2co-pci.xml");
    l = link_of(t, "cpuset0", "node3");
    assert_int_equal(l.latency_ns, 90 * 26 / 10);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_OS);
    accel_topology_destroy(t);
    /* HMAT values are kept where the machine has them. */
    t = load("8intel64-4n2t-memattrs.xml");
    for (uint32_t i = 0; i < accel_topology_link_count(t); i++) {
        accel_topology_link k = {.struct_size = sizeof(k)};
        assert_int_equal(accel_topology_get_link(t, i, &k), ACCEL_SUCCESS);
        assert_int_not_equal(k.latency_source, ACCEL_SOURCE_OS);
    }
    accel_topology_destroy(t);
}

/* What-if planning on a recorded GPU: a simulated device at its bus address
 * stands for it (its functions and costs, the recorded links), and a
 * pipeline places its stage there. */
static void test_hwloc_what_if_plan(void **state)
{
    (void)state;
    static const char sim[] = "{\"version\": 1, \"devices\": [{\"driver\": \"sim_gpu\", \"kind\": \"gpu\", "
                              "\"bus_address\": \"0000:84:00.0\", \"functions\": {\"crc32c\": "
                              "{\"fixed_ns\": 1000, \"bytes_per_second\": 50000000000}}}]}";
    static const char pipe[] =
        "{\"pipeline_version\": 1, \"name\": \"crc\", \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": "
        "1000000}, \"crc\": {\"bytes\": 4}}, \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\", "
        "\"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"crc\"}]}]}";
    char xml[4096], dev[4096];
    snprintf(xml, sizeof(xml), "%s/%s", TOPOLOGY_DATA_DIR, NVLINK_MACHINE);
    snprintf(dev, sizeof(dev), "%s/hwloc-devices-sim-%ld.json", TEST_TMP_DIR, (long)getpid());
    FILE *f = fopen(dev, "w");
    assert_non_null(f);
    assert_int_equal(fputs(sim, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = xml, .simulated_devices = dev};
    accel_topology *t = NULL;
    accel_result r = accel_topology_create(NULL, &o, &t);
    remove(dev);
    if (r != ACCEL_SUCCESS)
        fail_msg("%s: %s", accel_result_name(r), accel_last_error_message());
    assert_int_equal(hwloc_devices(t, UINT32_MAX), 1); /* cuda0; cuda1 is the simulated GPU */
    uint32_t gpu = node_named(t, "sim_gpu:0");
    assert_int_equal(node_at(t, gpu).parent, (int32_t)node_named(t, "cpuset1"));
    accel_topology_link l = link_of(t, "sim_gpu:0", "node1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 25000);
    assert_int_equal(link_of(t, "cuda0", "sim_gpu:0").bandwidth_mbps, 50000);

    accel_pipeline *p = NULL;
    assert_int_equal(accel_pipeline_parse(pipe, strlen(pipe), "crc.json", &p), ACCEL_SUCCESS);
    accel_plan *plan = NULL;
    r = accel_place(t, p, NULL, &plan);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_place: %s: %s", accel_result_name(r), accel_last_error_message());
    accel_plan_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
    assert_int_equal(st.device_node, gpu);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hwloc_devices_per_machine),
        cmocka_unit_test(test_hwloc_gpus),
        cmocka_unit_test(test_hwloc_nvlink),
        cmocka_unit_test(test_hwloc_pci_link_speed),
        cmocka_unit_test(test_hwloc_numa_latency),
        cmocka_unit_test(test_hwloc_what_if_plan),
        cmocka_unit_test(test_hwloc_xgmi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
