/* test_topology_hwloc_devices.c — the devices hwloc reports on recorded
 * machines (the XML files of data/): GPUs, co-processors and network adapters become
 * device nodes, one per PCI device, with their memory, PCI locality, PCI
 * link speed and the NVLinkBandwidth matrix; the recorded NUMALatency
 * matrix replaces the estimates; SR-IOV virtual functions are partitions of
 * their device; network adapters are of kind network; a simulated device
 * stands for one of them by bus address or by name ("stands_for"), and
 * placement never uses a device without functions. Public API only. */
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
#include "topology_support.h"

#ifndef TOPOLOGY_DATA_DIR
#error "TOPOLOGY_DATA_DIR must name tests/topology/data"
#endif
#ifndef TEST_TMP_DIR
#error "TEST_TMP_DIR must name a writable directory"
#endif

#define NVLINK_MACHINE "2n2gpu-nvlink.xml"
#define XGMI_MACHINE   "2n2gpu-xgmi.xml"
#define VF_MACHINE     "16intel64-manyVFs.xml"

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

/* Devices of a kind (UINT32_MAX: any) from hwloc, and links between devices. */
static uint32_t hwloc_devices_flagged(const accel_topology *t, uint32_t kind, uint32_t flags)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node d = node_at(t, i);
        if (d.kind == ACCEL_TOPOLOGY_NODE_DEVICE && strcmp(d.driver_name, "hwloc") == 0 &&
            (kind == UINT32_MAX || (uint32_t)d.device_kind == kind) && (d.device_flags & flags) == flags) {
            assert_null(d.device);
            assert_int_equal(d.function_count, 0);
            n++;
        }
    }
    return n;
}

static uint32_t hwloc_devices(const accel_topology *t, uint32_t kind)
{
    return hwloc_devices_flagged(t, kind, 0);
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

/* Every recorded machine: how many devices of which kind hwloc reports,
 * and how many of them are virtual functions. */
static void test_hwloc_devices_per_machine(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        uint32_t all, gpu, network, vfs;
    } cases[] = {
        {VF_MACHINE, 16, 0, 16, 10},                /* six adapters, ten virtual functions of three */
        {"24em64t-2n6c2t-pci.xml", 3, 0, 3, 0},     /* eth0, eth1, and eth2 + ib0 + mlx4_0 of one adapter */
        {"96em64t-4n4d3ca2co-pci.xml", 9, 1, 8, 0}, /* the card0 display GPU and eight Ethernet ports */
        {"64intel64-fakeKNL-SNC4-hybrid.xml", 0, 0, 0, 0},
        {"8intel64-4n2t-memattrs.xml", 0, 0, 0, 0},
        {"cxlmem+dax.v2.xml", 1, 0, 1, 0}, /* a network adapter; its CXL and DAX devices are memory */
        {XGMI_MACHINE, 2, 2, 0, 0},
        {NVLINK_MACHINE, 2, 2, 0, 0}, /* CUDA + OpenCL + NVML of each GPU: one device */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        accel_topology *t = load(cases[i].file);
        if (hwloc_devices(t, UINT32_MAX) != cases[i].all ||
            hwloc_devices(t, ACCEL_DEVICE_KIND_GPU) != cases[i].gpu ||
            hwloc_devices(t, ACCEL_DEVICE_KIND_NETWORK) != cases[i].network ||
            hwloc_devices_flagged(t, UINT32_MAX, ACCEL_DEVICE_FLAG_PARTITION) != cases[i].vfs)
            fail_msg("%s: %u devices, %u GPUs, %u network adapters, %u virtual functions", cases[i].file,
                     hwloc_devices(t, UINT32_MAX), hwloc_devices(t, ACCEL_DEVICE_KIND_GPU),
                     hwloc_devices(t, ACCEL_DEVICE_KIND_NETWORK),
                     hwloc_devices_flagged(t, UINT32_MAX, ACCEL_DEVICE_FLAG_PARTITION));
        assert_int_equal(hwloc_devices(t, ACCEL_DEVICE_KIND_UNKNOWN), 0);
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
    assert_int_equal(must_link(t, "cuda0", "cuda0:mem").kind, ACCEL_LINK_LOCAL);
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
    accel_topology_link l = must_link(t, "cuda0", "cuda1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 50000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    l = must_link(t, "cuda1", "cuda0");
    assert_int_equal(l.bandwidth_mbps, 50000);
    l = must_link(t, "cuda1", "node1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 25000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    l = must_link(t, "cuda1", "node0");
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.bandwidth_mbps, 10000); /* PCIe 15.75 GB/s, over the remote socket's 10000 */
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    l = must_link(t, "cuda0", "node0");
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
    accel_topology_link l = must_link(t, "rsmi0", "rsmi1");
    assert_int_equal(l.kind, ACCEL_LINK_FABRIC);
    assert_int_equal(l.bandwidth_mbps, 64000);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_OS);
    assert_int_equal(must_link(t, "rsmi1", "rsmi0").bandwidth_mbps, 64000);
    assert_int_equal(must_link(t, "rsmi1", "node1").kind, ACCEL_LINK_PCIE);
    accel_topology_destroy(t);
}

/* A PCI link slower than the host memory bounds the device's bandwidth. */
static void test_hwloc_pci_link_speed(void **state)
{
    (void)state;
    accel_topology *t = load("24em64t-2n6c2t-pci.xml");
    accel_topology_node n = node_at(t, node_named(t, "eth2"));
    assert_string_equal(n.bus_address, "0000:05:00.0");
    accel_topology_link l = must_link(t, "eth2", "node0");
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
    accel_topology_link l = must_link(t, "cpuset0", "node1");
    assert_int_equal(l.latency_ns, 189); /* 90 * 21 / 10 */
    assert_int_equal(l.latency_source, ACCEL_SOURCE_OS);
    assert_int_equal(l.bandwidth_source, ACCEL_SOURCE_ESTIMATE);
    l = must_link(t, "cpuset0", "node0");
    assert_int_equal(l.latency_ns, 90);
    assert_int_equal(l.latency_source, ACCEL_SOURCE_OS);
    accel_topology_destroy(t);
    /* Four nodes, 10 local and 26 remote. */
    t = load("96em64t-4n4d3ca2co-pci.xml");
    l = must_link(t, "cpuset0", "node3");
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
    accel_topology_link l = must_link(t, "sim_gpu:0", "node1");
    assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
    assert_int_equal(l.bandwidth_mbps, 25000);
    assert_int_equal(must_link(t, "cuda0", "sim_gpu:0").bandwidth_mbps, 50000);

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

/* ------------------------------------------------------------------------ */
/* SR-IOV virtual functions, the network kind, "stands_for"                  */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A recorded machine with `from` replaced by `to` (once or everywhere),
 * written to a scratch file named `path`. */
static void mutated_machine(const char *file, const char *from, const char *to, char *path, size_t size)
{
    char src[4096];
    snprintf(src, sizeof(src), "%s/%s", TOPOLOGY_DATA_DIR, file);
    char *text = read_text(src);
    char *at = strstr(text, from);
    assert_non_null(at);
    size_t out_size = strlen(text) + strlen(to) + 1;
    char *out = malloc(out_size);
    assert_non_null(out);
    snprintf(out, out_size, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    snprintf(path, size, "%s/hwloc-devices-%ld-%s", TEST_TMP_DIR, (long)getpid(), file);
    write_text(path, out);
    free(out);
    free(text);
}

/* A topology of a recorded machine (a file of data/, or a path) with these
 * simulated devices; the simulated devices file is `sim_path`. */
static accel_result with_simulated(const char *xml, const char *json, char *sim_path, size_t size,
                                   accel_topology **t)
{
    char path[4096];
    if (xml[0] == '/')
        snprintf(path, sizeof(path), "%s", xml);
    else
        snprintf(path, sizeof(path), "%s/%s", TOPOLOGY_DATA_DIR, xml);
    snprintf(sim_path, size, "%s/hwloc-devices-sim-%ld.json", TEST_TMP_DIR, (long)getpid());
    write_text(sim_path, json);
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = path, .simulated_devices = sim_path};
    *t = NULL;
    accel_result r = accel_topology_create(NULL, &o, t);
    remove(sim_path);
    return r;
}

static accel_topology *simulated_ok(const char *xml, const char *json)
{
    char sim[4096];
    accel_topology *t = NULL;
    accel_result r = with_simulated(xml, json, sim, sizeof(sim), &t);
    if (r != ACCEL_SUCCESS)
        fail_msg("%s: %s", accel_result_name(r), accel_last_error_message());
    return t;
}

/* The file fails with INVALID_ARGUMENT and a message that names it and
 * holds `want`. */
static void simulated_fails(const char *xml, const char *json, const char *want)
{
    char sim[4096];
    accel_topology *t = NULL;
    accel_result r = with_simulated(xml, json, sim, sizeof(sim), &t);
    if (r != ACCEL_ERROR_INVALID_ARGUMENT || t != NULL)
        fail_msg("%s: %s (%s)", json, accel_result_name(r), accel_last_error_message());
    const char *msg = accel_last_error_message();
    if (strncmp(msg, sim, strlen(sim)) != 0 || !strstr(msg, want))
        fail_msg("message \"%s\" does not name %s or hold \"%s\"", msg, sim, want);
}

static uint32_t children_of(const accel_topology *t, uint32_t parent)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node d = node_at(t, i);
        if (d.kind == ACCEL_TOPOLOGY_NODE_DEVICE && d.parent == (int32_t)parent)
            n++;
    }
    return n;
}

static char *export_text(const accel_topology *t, accel_topology_format format)
{
    size_t size = 0;
    assert_int_equal(accel_topology_export(t, format, NULL, 0, &size), ACCEL_SUCCESS);
    char *text = malloc(size);
    assert_non_null(text);
    assert_int_equal(accel_topology_export(t, format, text, size, NULL), ACCEL_SUCCESS);
    return text;
}

/* The virtual functions of the recorded Cisco VIC adapters: partitions of
 * their adapter, in bus order; the two functions of another vendor under
 * eth5 and the second port of the I350 (eth1, its own device id and OS
 * device) are none. */
static void test_hwloc_sriov_virtual_functions(void **state)
{
    (void)state;
    accel_topology *t = load(VF_MACHINE);
    static const struct {
        const char *pf;
        uint32_t vfs;
    } pfs[] = {{"eth0", 0}, {"eth1", 0}, {"eth4", 3}, {"eth5", 2}, {"eth6", 5}, {"eth7", 0}};
    for (size_t i = 0; i < sizeof(pfs) / sizeof(pfs[0]); i++) {
        uint32_t pf = node_named(t, pfs[i].pf);
        accel_topology_node n = node_at(t, pf);
        assert_int_equal(n.device_flags & ACCEL_DEVICE_FLAG_PARTITION, 0);
        assert_int_equal(node_at(t, (uint32_t)n.parent).kind, ACCEL_TOPOLOGY_NODE_CPUSET);
        if (children_of(t, pf) != pfs[i].vfs)
            fail_msg("%s: %u virtual functions, not %u", pfs[i].pf, children_of(t, pf), pfs[i].vfs);
        for (uint32_t k = 0; k < pfs[i].vfs; k++) {
            char name[64];
            snprintf(name, sizeof(name), "%s:vf%u", pfs[i].pf, k);
            accel_topology_node vf = node_at(t, node_named(t, name));
            assert_int_equal(vf.parent, (int32_t)pf);
            assert_int_equal(vf.device_flags, ACCEL_DEVICE_FLAG_PARTITION);
            assert_int_equal(vf.device_kind, ACCEL_DEVICE_KIND_NETWORK);
            assert_string_equal(vf.driver_name, "hwloc");
            assert_int_equal(vf.available_instances, 1);
            assert_int_equal(vf.function_count, 0);
            assert_null(vf.device);
        }
    }
    assert_string_equal(node_at(t, node_named(t, "eth4:vf0")).bus_address, "0000:0b:00.1");
    assert_string_equal(node_at(t, node_named(t, "eth5:vf1")).bus_address, "0000:0c:00.4");
    assert_string_equal(node_at(t, node_named(t, "eth6:vf4")).bus_address, "0000:88:00.5");
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node d = node_at(t, i);
        if (d.kind == ACCEL_TOPOLOGY_NODE_DEVICE && d.bus_address)
            assert_true(strcmp(d.bus_address, "0000:0c:00.2") != 0 &&
                        strcmp(d.bus_address, "0000:0c:00.3") != 0);
    }
    /* Host memory as the adapter reaches it: pinned, over PCIe. */
    accel_topology_link l = must_link(t, "eth6:vf4", "node1"), pl = must_link(t, "eth6", "node1");
    assert_int_equal(l.kind, ACCEL_LINK_PCIE);
    assert_int_equal(l.access, ACCEL_ATTACH_PINNED);
    assert_int_equal(l.bandwidth_mbps, pl.bandwidth_mbps);
    assert_int_equal(must_link(t, "eth6:vf4", "node0").access, ACCEL_ATTACH_PINNED);
    /* The exports draw them as parts of their adapter. */
    char *dot = export_text(t, ACCEL_TOPOLOGY_FORMAT_DOT);
    assert_non_null(strstr(dot, "\"eth4\" -> \"eth4:vf0\" [style=dotted"));
    assert_non_null(strstr(dot, "eth6:vf4 (hwloc)\\nSR-IOV virtual function\\nnetwork, 0 function(s)"));
    free(dot);
    char *json = export_text(t, ACCEL_TOPOLOGY_FORMAT_JSON);
    assert_non_null(strstr(json, "\"name\": \"eth5:vf1\""));
    assert_non_null(strstr(json, "\"device_kind\": \"network\""));
    free(json);
    accel_topology_destroy(t);
}

/* A simulated device at a virtual function's address stands for it; one
 * standing for the adapter has its virtual functions as parts. */
static void test_hwloc_sriov_stand_in(void **state)
{
    (void)state;
    accel_topology *t = simulated_ok(
        VF_MACHINE,
        "{\"devices\": [{\"driver\": \"sim_vf\", \"kind\": \"network\", \"stands_for\": \"eth6:vf3\", "
        "\"functions\": {\"crc32c\": {}}}, {\"driver\": \"sim_nic\", \"kind\": \"network\", "
        "\"bus_address\": \"0000:0b:00.0\"}]}");
    assert_int_equal(hwloc_devices(t, UINT32_MAX), 14);
    accel_topology_node vf = node_at(t, node_named(t, "sim_vf:0"));
    assert_string_equal(vf.bus_address, "0000:88:00.4");
    assert_int_equal(vf.parent, (int32_t)node_named(t, "cpuset1"));
    assert_int_equal(vf.function_count, 1);
    uint32_t nic = node_named(t, "sim_nic:0");
    assert_int_equal(children_of(t, nic), 3);
    assert_int_equal(node_at(t, node_named(t, "eth4:vf2")).parent, (int32_t)nic);
    assert_int_equal(children_of(t, node_named(t, "eth6")), 4);
    accel_topology_destroy(t);
}

/* "stands_for": each OS device name of a recorded GPU (CUDA, OpenCL, NVML)
 * gives its bus address; the simulated device takes the GPU's links. */
static void test_hwloc_stands_for_name(void **state)
{
    (void)state;
    static const char *const names[] = {"cuda0", "opencl0d0", "nvml0"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char json[512];
        snprintf(
            json, sizeof(json),
            "{\"version\": 1, \"devices\": [{\"driver\": \"sim_gpu\", \"kind\": \"gpu\", \"stands_for\": "
            "\"%s\", \"functions\": {\"crc32c\": {\"fixed_ns\": 1000, \"bytes_per_second\": 50000000000}}}]}",
            names[i]);
        accel_topology *t = simulated_ok(NVLINK_MACHINE, json);
        assert_int_equal(hwloc_devices(t, UINT32_MAX), 1);
        accel_topology_node g = node_at(t, node_named(t, "sim_gpu:0"));
        assert_string_equal(g.bus_address, "0000:04:00.0");
        assert_int_equal(g.parent, (int32_t)node_named(t, "cpuset0"));
        accel_topology_link l = must_link(t, "sim_gpu:0", "cuda1");
        assert_int_equal(l.kind, ACCEL_LINK_NVLINK);
        assert_int_equal(l.bandwidth_mbps, 50000);
        assert_int_equal(must_link(t, "sim_gpu:0", "node0").bandwidth_mbps, 20000);
        accel_topology_destroy(t);
    }
}

/* "stands_for" errors name the file and the entry. */
static void test_hwloc_stands_for_errors(void **state)
{
    (void)state;
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"cuda7\"}]}",
                    ": $.devices[0].stands_for: the host (");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"cuda7\"}]}",
                    "has no device named \"cuda7\"");
    /* A memory device, a CPU set and a node of the graph are no devices hwloc reports. */
    simulated_fails(
        "cxlmem+dax.v2.xml",
        "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\"}, {\"driver\": \"g\", \"kind\": \"gpu\", "
        "\"stands_for\": \"dax0.0\"}]}",
        ": $.devices[1].stands_for: the host (");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"cpuset0\"}]}",
                    "has no device named \"cpuset0\"");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"cuda1\", "
                    "\"bus_address\": \"0000:84:00.0\"}]}",
                    ": $.devices[0]: give only one of numa_node, bus_address and stands_for");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"cuda1\", "
                    "\"numa_node\": 1}]}",
                    "give only one of numa_node, bus_address and stands_for");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": 1}]}",
                    ": $.devices[0].stands_for: must be a string");
    simulated_fails(NVLINK_MACHINE,
                    "{\"devices\": [{\"driver\": \"g\", \"kind\": \"gpu\", \"stands_for\": \"\"}]}",
                    ": $.devices[0].stands_for: is empty");
    /* eth6 has five virtual functions, numbered without leading zeros. */
    static const char *const no_vf[] = {"eth6:vf5",  "eth6:vf03", "eth6:vf",
                                        "eth6:vf-1", "eth0:vf0",  "eth6:vf4x"};
    for (size_t i = 0; i < sizeof(no_vf) / sizeof(no_vf[0]); i++) {
        char json[256], want[64];
        snprintf(json, sizeof(json),
                 "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"%s\"}]}",
                 no_vf[i]);
        snprintf(want, sizeof(want), "has no device named \"%s\"", no_vf[i]);
        simulated_fails(VF_MACHINE, json, want);
    }
    accel_topology *vft = simulated_ok(
        VF_MACHINE,
        "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"eth6:vf4\"}]}");
    assert_string_equal(node_at(vft, node_named(vft, "n:0")).bus_address, "0000:88:00.5");
    accel_topology_destroy(vft);
    /* Two adapters named eth4 (eth5 renamed), so two eth4:vf0 too. */
    char xml[4096];
    mutated_machine(VF_MACHINE, "name=\"eth5\"", "name=\"eth4\"", xml, sizeof(xml));
    simulated_fails(xml,
                    "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"eth4\"}]}",
                    ": $.devices[0].stands_for: \"eth4\" names 2 devices of the host (");
    simulated_fails(xml,
                    "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"eth4\"}]}",
                    "): 0000:0b:00.0, 0000:0c:00.0; give the bus_address of one instead");
    simulated_fails(
        xml, "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"eth4:vf0\"}]}",
        "\"eth4:vf0\" names 2 devices of the host (");
    /* The name of one OS device is enough: usnic_1 is eth4's (the renamed eth5's) OpenFabrics device. */
    accel_topology *t = simulated_ok(
        xml, "{\"devices\": [{\"driver\": \"n\", \"kind\": \"network\", \"stands_for\": \"usnic_1\"}]}");
    assert_string_equal(node_at(t, node_named(t, "n:0")).bus_address, "0000:0c:00.0");
    accel_topology_destroy(t);
    remove(xml);
    /* A co-processor outside PCI has no bus address to stand for. */
    mutated_machine(
        VF_MACHINE, "      <object type=\"Bridge\" gp_index=\"45\"",
        "      <object type=\"OSDev\" gp_index=\"999\" name=\"mic0\" subtype=\"MIC\" osdev_type=\"5\"/>\n"
        "      <object type=\"Bridge\" gp_index=\"45\"",
        xml, sizeof(xml));
    simulated_fails(xml, "{\"devices\": [{\"driver\": \"m\", \"kind\": \"gpu\", \"stands_for\": \"mic0\"}]}",
                    ": $.devices[0].stands_for: the device \"mic0\" of the host (");
    simulated_fails(xml, "{\"devices\": [{\"driver\": \"m\", \"kind\": \"gpu\", \"stands_for\": \"mic0\"}]}",
                    ") has no PCI bus address to stand for");
    remove(xml);
}

/* Network adapters are of kind network (OpenFabrics devices too); a
 * pipeline stage bound to that kind is infeasible while none offers the
 * function, and goes to the simulated adapter that does. */
static void test_hwloc_network_kind_placement(void **state)
{
    (void)state;
    accel_topology *t = load("24em64t-2n6c2t-pci.xml");
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node d = node_at(t, i);
        if (d.kind == ACCEL_TOPOLOGY_NODE_DEVICE) {
            assert_int_equal(d.device_kind, ACCEL_DEVICE_KIND_NETWORK);
            assert_string_equal(accel_device_kind_string(d.device_kind), "network");
        }
    }
    assert_int_equal(hwloc_devices(t, ACCEL_DEVICE_KIND_NETWORK), 3); /* eth2, ib0, mlx4_0: one */
    accel_topology_destroy(t);

    static const char *const pipes[] = {
        "{\"pipeline_version\": 1, \"name\": \"crc\", \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": "
        "1000000}, \"crc\": {\"bytes\": 4}}, \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\", "
        "\"constraints\": {\"kind\": \"network\"}, \"args\": [{\"buffer\": \"in\"}, {\"buffer\": "
        "\"crc\"}]}]}",
        "{\"pipeline_version\": 1, \"name\": \"crc\", \"buffers\": {\"in\": {\"file\": \"in\", \"bytes\": "
        "1000000}, \"crc\": {\"bytes\": 4}}, \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\", "
        "\"constraints\": {\"device\": \"*:network\"}, \"args\": [{\"buffer\": \"in\"}, {\"buffer\": "
        "\"crc\"}]}]}",
    };
    for (size_t i = 0; i < sizeof(pipes) / sizeof(pipes[0]); i++) {
        accel_pipeline *p = NULL;
        assert_int_equal(accel_pipeline_parse(pipes[i], strlen(pipes[i]), "crc.json", &p), ACCEL_SUCCESS);
        /* Sixteen network adapters and virtual functions, none with a function. */
        t = load(VF_MACHINE);
        accel_plan *plan = NULL;
        assert_int_equal(accel_place(t, p, NULL, &plan), ACCEL_ERROR_INFEASIBLE);
        accel_plan_destroy(plan);
        accel_topology_destroy(t);
        /* A simulated one that offers it, for a virtual function; and a simulated
         * GPU that offers it too, which the constraint rules out. */
        t = simulated_ok(
            VF_MACHINE,
            "{\"devices\": [{\"driver\": \"gpu\", \"kind\": \"gpu\", \"functions\": {\"crc32c\": {}}}, "
            "{\"driver\": \"nic\", \"kind\": \"network\", \"stands_for\": \"eth5:vf1\", "
            "\"functions\": {\"crc32c\": {}}}]}");
        plan = NULL;
        accel_result r = accel_place(t, p, NULL, &plan);
        if (r != ACCEL_SUCCESS)
            fail_msg("accel_place: %s: %s", accel_result_name(r), accel_last_error_message());
        accel_plan_stage st = {.struct_size = sizeof(st)};
        assert_int_equal(accel_plan_get_stage(plan, 0, &st), ACCEL_SUCCESS);
        assert_int_equal(st.device_node, node_named(t, "nic:0"));
        accel_plan_destroy(plan);
        accel_topology_destroy(t);
        accel_pipeline_destroy(p);
    }
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
        cmocka_unit_test(test_hwloc_sriov_virtual_functions),
        cmocka_unit_test(test_hwloc_sriov_stand_in),
        cmocka_unit_test(test_hwloc_stands_for_name),
        cmocka_unit_test(test_hwloc_stands_for_errors),
        cmocka_unit_test(test_hwloc_network_kind_placement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
