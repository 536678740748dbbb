/* fuzz_topology_calibration.c — libFuzzer target for the calibration cache
 * ($XDG_CACHE_HOME/accel/calibration.json; docs/topology.md), versions 1
 * and 2.
 *
 * The input is applied to a graph with one device (uuid 00..01, functions
 * crc32c, sha256 and zlib.deflate, the last with an output ratio). Any byte
 * string must be applied or rejected whole: on a rejection no function
 * changes, its ratio included. An applied ratio is 0 (none) or within the
 * documented bounds. No crash, no leak. Linked with replay.c into the
 * normal test run. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_topology.h"

#define FUNCTIONS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    static const char *const names[FUNCTIONS] = {"crc32c", "sha256", "zlib.deflate"};
    long live = accel__alloc_live();
    accel_topology *t = accel__topology_new();
    accel__topo_node d = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE,
                          .name = "d:0",
                          .parent = -1,
                          .numa_node = -1,
                          .owner_device = -1,
                          .locality = -1,
                          .driver_name = "d"};
    d.uuid[15] = 1;
    if (!t || accel__topology_add_node(t, &d) != 0)
        abort();
    for (int i = 0; i < FUNCTIONS; i++)
        if (accel__topology_add_function(t, 0, names[i], 10, 20, ACCEL_SOURCE_ESTIMATE))
            abort();
    t->nodes[0].functions[2].output_ratio = 0.5;
    accel_result r =
        accel__topology_apply_calibration(t, size ? (const char *)data : empty, size, "/fuzz/cal.json");
    const accel__topo_node *n = &t->nodes[0];
    if (n->function_count != FUNCTIONS)
        abort();
    if (r != ACCEL_SUCCESS) {
        if (!fuzz_topology_result_ok(r, "/fuzz/cal.json: "))
            abort();
        for (uint32_t i = 0; i < FUNCTIONS; i++)
            if (n->functions[i].source != ACCEL_SOURCE_ESTIMATE || n->functions[i].fixed_ns != 10)
                abort();
        if (n->functions[2].output_ratio != 0.5 || n->functions[0].output_ratio != 0)
            abort();
    } else {
        for (uint32_t i = 0; i < FUNCTIONS; i++) {
            const accel__topo_function *f = &n->functions[i];
            if (f->source == ACCEL_SOURCE_MEASURED && f->bytes_per_second == 0)
                abort();
            if (f->output_ratio != 0 && !(f->output_ratio > 0 && f->output_ratio <= 1e6))
                abort();
        }
    }
    accel_topology_destroy(t);
    if (accel__alloc_live() != live)
        abort();
    return 0;
}
