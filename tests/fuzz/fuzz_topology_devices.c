/* fuzz_topology_devices.c — libFuzzer target for the simulated devices file
 * (docs/topology.md), and for the export of what it builds.
 *
 * The host is a hand-built two-socket graph (cpuset0/node0, cpuset1/node1)
 * where bus address 0000:3b:00.0 hangs off cpuset1; the host's devices
 * named "gpu0" and "eth0:vf1" are at that address, "dup" names two devices,
 * "dma0" one without a bus address. Any byte string must
 * add its devices or be rejected with a message naming the source, leave
 * a graph whose links and parents point at existing nodes, export to DOT
 * and JSON, and neither crash nor leak. Linked with replay.c into the
 * normal test run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int32_t resolve(void *ctx, const char *bus)
{
    (void)ctx;
    return strcmp(bus, "0000:3b:00.0") == 0 ? 1 : -1;
}

static accel_result named(void *ctx, const char *name, uint32_t *count, char (*bus)[ACCEL__TOPO_BUS_LEN],
                          uint32_t max)
{
    (void)ctx;
    static const struct {
        const char *name, *bus;
    } host[] = {{"gpu0", "0000:3b:00.0"},
                {"eth0:vf1", "0000:3b:00.0"},
                {"dup", "0000:3b:00.0"},
                {"dup", "0000:5e:00.0"},
                {"dma0", ""}};
    *count = 0;
    for (size_t i = 0; i < sizeof(host) / sizeof(host[0]); i++) {
        if (strcmp(host[i].name, name) != 0)
            continue;
        if (*count < max)
            snprintf(bus[*count], ACCEL__TOPO_BUS_LEN, "%s", host[i].bus);
        ++*count;
    }
    return ACCEL_SUCCESS;
}

static accel_topology *two_sockets(void)
{
    accel_topology *t = accel__topology_new();
    if (!t)
        return NULL;
    for (int s = 0; s < 2; s++) {
        char cs[16];
        snprintf(cs, sizeof(cs), "cpuset%d", s);
        accel__topo_node c = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                              .name = cs,
                              .parent = -1,
                              .cpuset = s ? "1" : "0",
                              .numa_node = -1,
                              .owner_device = -1,
                              .locality = -1};
        if (accel__topology_add_node(t, &c) != s)
            goto fail;
    }
    for (int s = 0; s < 2; s++) {
        char name[16];
        snprintf(name, sizeof(name), "node%d", s);
        accel__topo_node m = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                              .name = name,
                              .parent = s,
                              .memory_kind = ACCEL_MEMORY_KIND_DRAM,
                              .capacity = 1u << 30,
                              .numa_node = s,
                              .owner_device = -1,
                              .locality = -1};
        if (accel__topology_add_node(t, &m) != 2 + s)
            goto fail;
        for (uint32_t c = 0; c < 2; c++) {
            accel__topo_link l = {.from = c,
                                  .to = (uint32_t)(2 + s),
                                  .kind = (int)c == s ? ACCEL_LINK_LOCAL : ACCEL_LINK_NUMA,
                                  .access = ACCEL_ATTACH_ZERO_COPY,
                                  .bandwidth_mbps = (int)c == s ? 20000 : 10000,
                                  .latency_ns = (int)c == s ? 90 : 150,
                                  .bandwidth_source = ACCEL_SOURCE_ESTIMATE,
                                  .latency_source = ACCEL_SOURCE_ESTIMATE};
            if (accel__topology_add_link(t, &l) < 0)
                goto fail;
        }
    }
    return t;
fail:
    accel_topology_destroy(t);
    return NULL;
}

static void check(accel_topology *t, const char *text, size_t size)
{
    static const accel__topo_host_lookup host = {.bus = resolve, .device = named};
    accel_result r = accel__topology_add_simulated2(t, text, size, "/fuzz/devices.json", &host);
    if (!fuzz_topology_result_ok(r, "/fuzz/devices.json: "))
        abort();
    for (uint32_t i = 0; i < t->node_count; i++) {
        const accel__topo_node *n = &t->nodes[i];
        if (!n->name || n->parent >= (int32_t)t->node_count || n->locality >= (int32_t)t->node_count ||
            n->owner_device >= (int32_t)t->node_count)
            abort();
        if (n->kind == ACCEL_TOPOLOGY_NODE_DEVICE &&
            (!n->driver_name || (n->function_count && !n->functions)))
            abort();
    }
    for (uint32_t i = 0; i < t->link_count; i++)
        if (t->links[i].from >= t->node_count || t->links[i].to >= t->node_count)
            abort();
    if (r == ACCEL_SUCCESS) {
        static const accel_topology_format formats[] = {ACCEL_TOPOLOGY_FORMAT_DOT,
                                                        ACCEL_TOPOLOGY_FORMAT_JSON};
        for (size_t f = 0; f < 2; f++) {
            size_t need = 0;
            char small[16];
            accel_result e = accel_topology_export(t, formats[f], small, sizeof(small), &need);
            if ((e != ACCEL_SUCCESS && e != ACCEL_INCOMPLETE && e != ACCEL_ERROR_OUT_OF_HOST_MEMORY) ||
                (e != ACCEL_ERROR_OUT_OF_HOST_MEMORY && (need < 2 || strlen(small) >= sizeof(small))))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_topology_run(two_sockets, check, data, size);
}
