/* fuzz_pipeline.c — libFuzzer target for the pipeline parser, and for
 * placement of what it accepts.
 *
 * Any byte string must give either a pipeline or a rejection whose message
 * names the file, without crashing and without leaking. An accepted
 * pipeline is read back through every accessor and placed (with a short
 * time limit) on a small fixed topology of four devices, with and without
 * copies; the plan, or the conflict, must describe itself as text and as
 * JSON. The same file is linked with replay.c into the normal test run,
 * which replays the corpus in tests/corpus/pipeline/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static accel_topology *topology(void)
{
    accel_topology *t = accel__topology_new();
    if (!t)
        return NULL;
    accel__topo_node cpu = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET, .name = "cpuset0", .parent = -1, .numa_node = -1,
                            .owner_device = -1, .locality = -1};
    accel__topo_node host = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY, .name = "node0", .parent = 0, .numa_node = 0,
                             .memory_kind = ACCEL_MEMORY_KIND_DRAM, .owner_device = -1, .locality = -1};
    int32_t c = accel__topology_add_node(t, &cpu), h = accel__topology_add_node(t, &host);
    static const struct {
        const char *name, *driver;
        accel_device_kind kind;
        uint32_t flags, instances;
    } devs[] = {{"cpu:0", "cpu", ACCEL_DEVICE_KIND_CPU, 0, ACCEL_INSTANCES_UNLIMITED},
                {"opencl:0", "opencl", ACCEL_DEVICE_KIND_GPU, 0, ACCEL_INSTANCES_UNLIMITED},
                {"warpdrive:0", "warpdrive", ACCEL_DEVICE_KIND_ASIC, ACCEL_DEVICE_FLAG_SVA, 2},
                {"fpga:0", "fpga", ACCEL_DEVICE_KIND_FPGA, 0, 1}};
    static const char *const fns[] = {"crc32c", "sha256", "zlib.inflate", "zlib.deflate", "accel.copy", "accel.fill",
                                      "accel.noop", "scale"};
    if (c < 0 || h < 0)
        goto fail;
    accel__topo_link l = {.from = (uint32_t)c, .to = (uint32_t)h, .access = ACCEL_ATTACH_ZERO_COPY,
                          .bandwidth_mbps = 20000, .latency_ns = 90};
    if (accel__topology_add_link(t, &l) < 0)
        goto fail;
    for (uint32_t i = 0; i < 4; i++) {
        accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_DEVICE, .name = (char *)devs[i].name, .parent = c,
                              .numa_node = -1, .owner_device = -1, .device_kind = devs[i].kind,
                              .driver_name = (char *)devs[i].driver, .device_flags = devs[i].flags,
                              .pasid_bits = 20, .available_instances = devs[i].instances, .locality = c};
        n.uuid[0] = (uint8_t)(0xa0 + i);
        int32_t d = accel__topology_add_node(t, &n);
        if (d < 0)
            goto fail;
        accel__topo_link dl = {.from = (uint32_t)d, .to = (uint32_t)h,
                               .access = i == 1 ? ACCEL_ATTACH_PINNED : ACCEL_ATTACH_ZERO_COPY,
                               .bandwidth_mbps = 12000, .latency_ns = 800};
        if (i != 3 && accel__topology_add_link(t, &dl) < 0)
            goto fail;
        if (i == 3) {
            /* The FPGA reaches only its own bank, which the host maps. */
            accel__topo_node bank = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY, .name = "fpga:0:bank0", .parent = d,
                                     .numa_node = -1, .memory_kind = ACCEL_MEMORY_KIND_FPGA_BANK, .owner_device = d,
                                     .locality = -1};
            int32_t b = accel__topology_add_node(t, &bank);
            accel__topo_link bl = {.from = (uint32_t)d, .to = (uint32_t)b, .access = ACCEL_ATTACH_ZERO_COPY,
                                   .bandwidth_mbps = 19200, .latency_ns = 150};
            accel__topo_link hl = {.from = (uint32_t)c, .to = (uint32_t)b, .access = ACCEL_ATTACH_ZERO_COPY,
                                   .bandwidth_mbps = 6000, .latency_ns = 900};
            if (b < 0 || accel__topology_add_link(t, &bl) < 0 || accel__topology_add_link(t, &hl) < 0)
                goto fail;
        }
        for (uint32_t f = 0; f < sizeof(fns) / sizeof(fns[0]); f++)
            if ((f + i) % 3 != 2 && accel__topology_add_function(t, (uint32_t)d, fns[f], 1000 * (i + 1),
                                                                 (uint64_t)1000000000 * (f + 1), ACCEL_SOURCE_DRIVER))
                goto fail;
    }
    return t;
fail:
    accel_topology_destroy(t);
    return NULL;
}

static void exercise_text(const accel_plan *plan)
{
    size_t n = 0;
    for (int explain = 0; explain < 2; explain++) {
        if (accel_plan_describe(plan, explain, NULL, 0, &n) == ACCEL_SUCCESS) {
            char *text = malloc(n);
            if (text && (accel_plan_describe(plan, explain, text, n, NULL) != ACCEL_SUCCESS || strlen(text) + 1 != n))
                abort();
            free(text);
        }
    }
    if (accel_plan_export_json(plan, NULL, 0, &n) == ACCEL_SUCCESS) {
        char *text = malloc(n);
        if (text && accel_plan_export_json(plan, text, n, NULL) != ACCEL_SUCCESS)
            abort();
        free(text);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    long live = accel__alloc_live();
    accel_pipeline *p = NULL;

    /* libFuzzer hands out exact-size buffers: a read past the end is caught. */
    accel_result r = accel_pipeline_parse(size ? (const char *)data : empty, size, "fuzz.json", &p);
    if (r != ACCEL_SUCCESS) {
        if ((r != ACCEL_ERROR_INVALID_ARGUMENT && r != ACCEL_ERROR_OUT_OF_HOST_MEMORY) || p ||
            strncmp(accel_last_error_message(), "fuzz.json: ", 11) != 0)
            abort();
        if (accel__alloc_live() != live)
            abort();
        return 0;
    }
    uint32_t ns = accel_pipeline_stage_count(p), nb = accel_pipeline_buffer_count(p);
    if (!ns || !nb)
        abort();
    for (uint32_t b = 0; b < nb; b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        if (accel_pipeline_get_buffer(p, b, &buf) || !buf.name || buf.producer >= (int32_t)ns ||
            buf.output_size_from >= (int32_t)nb)
            abort();
    }
    for (uint32_t s = 0; s < ns; s++) {
        accel_pipeline_stage st = {.struct_size = sizeof(st)};
        if (accel_pipeline_get_stage(p, s, &st) || !st.name || !st.function || st.arg_count > ACCEL_MAX_ARGS)
            abort();
        for (uint32_t a = 0; a < st.arg_count; a++)
            if (st.args[a].kind == ACCEL_ARG_MEMORY && (st.args[a].buffer >= nb || st.args[a].size_from >= (int32_t)nb))
                abort();
        for (uint32_t k = 0; k < st.not_with_count; k++)
            if (st.not_with[k] >= ns || st.not_with[k] == s)
                abort();
    }
    accel_pipeline_set_buffer_bytes(p, 0, size * 1000);

    accel_topology *t = topology();
    /* Both objectives; throughput (its search has no components to split
     * into) on small pipelines only, to keep each input quick. */
    for (uint32_t k = 0; t && k < (ns <= 6 ? 3u : 2u); k++) {
        uint32_t flags = k & 1;
        bool throughput = k == 2;
        accel_place_options o = {.struct_size = sizeof(o), .flags = flags, .process_pasid_bits = (uint32_t)size % 24,
                                 .iommu_contexts = (uint32_t)size % 3,
                                 .time_limit_ns = throughput ? 5000000 : 20000000,
                                 .objective = throughput ? ACCEL_PLACE_OBJECTIVE_THROUGHPUT
                                                         : ACCEL_PLACE_OBJECTIVE_LATENCY};
        accel_plan *plan = NULL;
        r = accel_place(t, p, &o, &plan);
        if (r != ACCEL_SUCCESS && r != ACCEL_ERROR_INFEASIBLE && r != ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            abort();
        if (plan) {
            accel_plan_summary sum = {.struct_size = sizeof(sum)};
            accel_plan_conflict cf = {.struct_size = sizeof(cf)};
            if (accel_plan_get_summary(plan, &sum) || accel_plan_get_conflict(plan, &cf) ||
                sum.feasible != (r == ACCEL_SUCCESS) || (sum.feasible && sum.lower_bound_ns > sum.cost_ns * 1.000001))
                abort();
            /* A group's load is part of the one-pass total; throughput bounds the bottleneck. */
            if (sum.feasible && (sum.bottleneck_ns > sum.cost_ns * 1.000001 || sum.bottleneck_stage < 0 ||
                                 (throughput && sum.lower_bound_ns > sum.bottleneck_ns * 1.000001)))
                abort();
            for (uint32_t s = 0; sum.feasible && s < ns; s++) {
                accel_plan_stage ps = {.struct_size = sizeof(ps)};
                if (accel_plan_get_stage(plan, s, &ps) || ps.device_node >= t->node_count)
                    abort();
            }
            exercise_text(plan);
            accel_plan_destroy(plan);
        }
    }
    accel_topology_destroy(t);
    accel_pipeline_destroy(p);
    if (accel__alloc_live() != live)
        abort();
    return 0;
}
