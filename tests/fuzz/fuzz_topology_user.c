/* fuzz_topology_user.c — libFuzzer target for the topology user file
 * (link values and function costs; docs/topology.md).
 *
 * The input is applied to a small hand-built graph whose node names the
 * corpus uses (cpuset0, cpuset1, node0, node1, d:0, d:1, d:0:m). Any byte
 * string must be applied or rejected with a message naming the source,
 * leaving a graph whose links join existing nodes, without crashing or
 * leaking. The same file is linked with replay.c into the normal test run. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static accel_topology *small_graph(void)
{
    accel_topology *t = accel__topology_new();
    if (!t)
        return NULL;
    static const struct {
        accel_topology_node_kind kind;
        const char *name;
        int32_t parent;
        int32_t numa;
        int32_t owner;
    } nodes[] = {
        {ACCEL_TOPOLOGY_NODE_CPUSET, "cpuset0", -1, -1, -1},
        {ACCEL_TOPOLOGY_NODE_CPUSET, "cpuset1", -1, -1, -1},
        {ACCEL_TOPOLOGY_NODE_MEMORY, "node0", 0, 0, -1},
        {ACCEL_TOPOLOGY_NODE_MEMORY, "node1", 1, 1, -1},
        {ACCEL_TOPOLOGY_NODE_DEVICE, "d:0", 0, -1, -1},
        {ACCEL_TOPOLOGY_NODE_DEVICE, "d:1", 4, -1, -1},
        {ACCEL_TOPOLOGY_NODE_MEMORY, "d:0:m", 4, -1, 4},
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        accel__topo_node n = {.kind = nodes[i].kind,
                              .name = (char *)nodes[i].name,
                              .parent = nodes[i].parent,
                              .cpuset = nodes[i].kind == ACCEL_TOPOLOGY_NODE_CPUSET ? "0" : NULL,
                              .numa_node = nodes[i].numa,
                              .owner_device = nodes[i].owner,
                              .locality = 0,
                              .driver_name = nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE ? "d" : NULL,
                              .memory_kind = ACCEL_MEMORY_KIND_DRAM};
        if (accel__topology_add_node(t, &n) < 0)
            goto fail;
    }
    static const uint32_t links[][2] = {{0, 2}, {0, 3}, {1, 2}, {1, 3}, {4, 2}, {4, 6}, {5, 6}, {4, 5}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        accel__topo_link l = {.from = links[i][0],
                              .to = links[i][1],
                              .kind = ACCEL_LINK_LOCAL,
                              .access = ACCEL_ATTACH_ZERO_COPY,
                              .bandwidth_mbps = 1000,
                              .latency_ns = 100,
                              .bandwidth_source = ACCEL_SOURCE_ESTIMATE,
                              .latency_source = ACCEL_SOURCE_ESTIMATE};
        if (accel__topology_add_link(t, &l) < 0)
            goto fail;
    }
    if (accel__topology_add_function(t, 4, "crc32c", 1000, 1000000, ACCEL_SOURCE_ESTIMATE) ||
        accel__topology_add_function(t, 5, "zlib.deflate", 1000, 1000000, ACCEL_SOURCE_ESTIMATE))
        goto fail;
    return t;
fail:
    accel_topology_destroy(t);
    return NULL;
}

static void check(accel_topology *t, const char *text, size_t size)
{
    accel_result r = accel__topology_apply_user(t, text, size, "/fuzz/user.json");
    if (!fuzz_topology_result_ok(r, "/fuzz/user.json: "))
        abort();
    for (uint32_t i = 0; i < t->link_count; i++) {
        const accel__topo_link *l = &t->links[i];
        if (l->from >= t->node_count || l->to >= t->node_count || l->from == l->to ||
            t->nodes[l->to].kind == ACCEL_TOPOLOGY_NODE_CPUSET ||
            t->nodes[l->from].kind == ACCEL_TOPOLOGY_NODE_MEMORY)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_topology_run(small_graph, check, data, size);
}
