/*
 * bench_placement.c — how long placement takes, and how good the plan is.
 *
 * Two sizes, each a recorded machine (a hwloc XML of shared/topologies,
 * four NUMA nodes) with simulated devices (a JSON file written here) and a
 * generated pipeline of standard functions:
 *   16 stages x   64 devices   goal: median at most 10 ms, search finished
 *   32 stages x 1024 devices   goal: at most 1 s (time limit 1 s), with the
 *                              gap between the plan and the best lower bound
 * Devices come in replicas (as a simulated device's "count" makes them):
 * GPUs with their own memory, SVA compression ASICs with few instances,
 * FPGAs with a bank, CPU devices, spread over the NUMA nodes.
 *
 * Side by side, the anchor: what a per-function picker does (UADK chooses a
 * device that offers the algorithm, nearest first; here the device with the
 * fastest estimate for each stage alone). Its plan is costed by the same
 * model (each stage pinned with accel_pipeline_constrain_stage, buffers on
 * their best homes), so the difference is what whole-pipeline placement
 * gains.
 *
 * Then the small case under the throughput objective (time limit 1 s): the
 * bottleneck found against the latency plan's, and the gap to the bound.
 *
 * Usage: bench_placement [HWLOC_XML]
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accel/accel.h>

#include "bench_util.h"

#ifndef ACCEL_BENCH_TOPOLOGY_XML
#define ACCEL_BENCH_TOPOLOGY_XML "tests/topology/data/96em64t-4n4d3ca2co-pci.xml"
#endif

#define BIG_ROUNDS 5    /* each up to the time limit */
#define STREAM_ROUNDS 3 /* the throughput objective, each up to the time limit */

typedef struct gen {
    char *s;
    size_t len, cap;
} gen;

static void put(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(gen *g, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(g->s ? g->s + g->len : NULL, g->s ? g->cap - g->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            exit(1);
        if (g->s && (size_t)n < g->cap - g->len) {
            g->len += (size_t)n;
            return;
        }
        g->cap = (g->cap + (size_t)n + 1) * 2;
        if (!(g->s = realloc(g->s, g->cap))) {
            fprintf(stderr, "bench_placement: out of memory\n");
            exit(1);
        }
    }
}

/* `devices` simulated devices: 4 kinds x 4 NUMA nodes, in equal replicas. */
static void write_devices(gen *g, unsigned devices)
{
    unsigned per = devices / 16;
    put(g, "{\"version\": 1, \"devices\": [");
    for (unsigned numa = 0; numa < 4; numa++) {
        put(g, "%s{\"driver\": \"simgpu\", \"kind\": \"gpu\", \"count\": %u, \"numa_node\": %u, "
               "\"memories\": [{\"name\": \"hbm\", \"kind\": \"hbm\", \"bandwidth_mbps\": %u}], "
               "\"functions\": {\"zlib.inflate\": {\"fixed_ns\": 20000, \"bytes_per_second\": %u}, "
               "\"zlib.deflate\": {\"fixed_ns\": 20000, \"bytes_per_second\": 1500000000}, \"crc32c\": {}, "
               "\"sha256\": {}, \"accel.copy\": {}}}",
            numa ? ", " : "", per, numa, 400000 + 10000 * numa, 3000000000u + 100000000u * numa);
        put(g, ", {\"driver\": \"simzip\", \"kind\": \"asic\", \"count\": %u, \"numa_node\": %u, \"flags\": [\"sva\"], "
               "\"pasid_bits\": %u, \"available_instances\": 2, "
               "\"functions\": {\"zlib.inflate\": {\"fixed_ns\": 5000, \"bytes_per_second\": 2000000000}, "
               "\"zlib.deflate\": {\"fixed_ns\": 5000, \"bytes_per_second\": %u}, \"crc32c\": {}}}",
            per, numa, numa == 3 ? 8 : 20, 1000000000u + 50000000u * numa);
        put(g, ", {\"driver\": \"simfpga\", \"kind\": \"fpga\", \"count\": %u, \"numa_node\": %u, "
               "\"max_address_spaces\": 1, "
               "\"memories\": [{\"name\": \"bank0\", \"kind\": \"fpga-bank\", \"host_visible\": true}], "
               "\"functions\": {\"sha256\": {\"fixed_ns\": 30000, \"bytes_per_second\": 6000000000}, "
               "\"crc32c\": {}, \"accel.copy\": {}}}",
            per, numa);
        put(g, ", {\"driver\": \"simcpu\", \"kind\": \"cpu\", \"count\": %u, \"numa_node\": %u, "
               "\"functions\": {\"zlib.inflate\": {}, \"zlib.deflate\": {}, \"crc32c\": {}, \"sha256\": {}, "
               "\"accel.copy\": {}, \"accel.fill\": {}}}",
            per, numa);
    }
    put(g, "]}");
}

/* Chains of inflate -> crc32c (not on the inflate's device) -> deflate ->
 * sha256 of the packed bytes, two chains reading each input (of 1 to 16 MiB
 * compressed, 4 to 64 MiB plain), until `stages` stages. */
static void write_pipeline(gen *g, unsigned stages)
{
    gen b = {0}, s = {0};
    unsigned chain = 0;
    for (unsigned i = 0; i < stages; chain++) {
        /* Two chains share each input: 8 stages hang together. */
        unsigned mib = 4u << (chain / 2 % 5);
        if (chain % 2 == 0)
            put(&b, "%s\"in%u\": {\"file\": \"in%u.zz\", \"bytes\": %u}, ", chain ? ", " : "", chain / 2, chain / 2,
                mib << 18);
        else
            put(&b, ", ");
        put(&b, "\"plain%u\": {\"bytes\": %u}, \"n%u\": {\"bytes\": 8}", chain, mib << 20, chain);
        put(&s, "%s{\"name\": \"inflate%u\", \"function\": \"zlib.inflate\", \"args\": [{\"buffer\": \"in%u\"}, "
                "{\"buffer\": \"plain%u\"}, {\"buffer\": \"n%u\"}]}",
            i ? ", " : "", chain, chain / 2, chain, chain);
        if (++i == stages)
            break;
        put(&b, ", \"crc%u\": {\"bytes\": 4, \"output\": \"crc%u\"}", chain, chain);
        put(&s, ", {\"name\": \"crc%u\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"plain%u\"}, "
                "{\"buffer\": \"crc%u\"}], \"constraints\": {\"not_with\": [\"inflate%u\"]}}",
            chain, chain, chain, chain);
        if (++i == stages)
            break;
        put(&b, ", \"packed%u\": {\"bytes_from\": \"plain%u\", \"scale\": 1.0001, \"add\": 16}, "
                "\"m%u\": {\"bytes\": 8}",
            chain, chain, chain);
        put(&s, ", {\"name\": \"deflate%u\", \"function\": \"zlib.deflate\", \"args\": [{\"buffer\": \"plain%u\"}, "
                "{\"buffer\": \"packed%u\"}, {\"buffer\": \"m%u\"}, {\"i32\": 6}]}",
            chain, chain, chain, chain);
        if (++i == stages)
            break;
        put(&b, ", \"digest%u\": {\"bytes\": 32, \"output\": \"sha%u\"}", chain, chain);
        put(&s, ", {\"name\": \"sha%u\", \"function\": \"sha256\", \"args\": [{\"buffer\": \"packed%u\"}, "
                "{\"buffer\": \"digest%u\"}]}",
            chain, chain, chain);
        ++i;
    }
    put(g, "{\"pipeline_version\": 1, \"name\": \"bench%u\", \"buffers\": {%s}, \"stages\": [%s]}", stages, b.s, s.s);
    free(b.s);
    free(s.s);
}

typedef struct result {
    double median_ns;
    accel_plan_summary summary;
    double anchor_cost;
    int anchor_ok;
} result;

/* The anchor: each stage alone on the device with the fastest estimate for
 * its function and its input, then costed like any plan. */
static int anchor_cost(const accel_topology *t, const char *text, size_t size, const accel_place_options *o,
                       double *cost)
{
    accel_pipeline *p;
    if (accel_pipeline_parse(text, size, "bench.json", &p))
        return -1;
    uint32_t nodes = accel_topology_node_count(t);
    for (uint32_t s = 0; s < accel_pipeline_stage_count(p); s++) {
        accel_pipeline_stage st = {.struct_size = sizeof(st)};
        accel_pipeline_get_stage(p, s, &st);
        double in = 0, best = INFINITY;
        char selector[160] = "";
        for (uint32_t a = 0; a < st.arg_count; a++) {
            accel_pipeline_buffer b = {.struct_size = sizeof(b)};
            if (st.args[a].kind == ACCEL_ARG_MEMORY && !st.args[a].writes &&
                accel_pipeline_get_buffer(p, st.args[a].buffer, &b) == ACCEL_SUCCESS)
                in += (double)b.bytes;
        }
        for (uint32_t n = 0; n < nodes; n++) {
            accel_topology_node node = {.struct_size = sizeof(node)};
            if (accel_topology_get_node(t, n, &node) || node.kind != ACCEL_TOPOLOGY_NODE_DEVICE)
                continue;
            /* What a per-function picker checks: the device offers it and is usable. */
            if ((node.device_flags & ACCEL_DEVICE_FLAG_SVA) && node.pasid_bits < o->process_pasid_bits)
                continue;
            for (uint32_t f = 0; f < node.function_count; f++) {
                accel_topology_function fn = {.struct_size = sizeof(fn)};
                if (accel_topology_get_function(t, n, f, &fn) || strcmp(fn.name, st.function) != 0)
                    continue;
                double c = (double)fn.fixed_ns + in * 1e9 / (double)(fn.bytes_per_second ? fn.bytes_per_second : 1);
                if (c < best) {
                    best = c;
                    snprintf(selector, sizeof(selector), "%s:%u", node.driver_name, node.driver_index);
                }
            }
        }
        if (!selector[0] || accel_pipeline_constrain_stage(p, st.name, selector)) {
            accel_pipeline_destroy(p);
            return -1;
        }
    }
    accel_plan *plan = NULL;
    accel_result r = accel_place(t, p, o, &plan);
    accel_plan_summary s = {.struct_size = sizeof(s)};
    accel_plan_get_summary(plan, &s);
    *cost = s.cost_ns;
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    return r == ACCEL_SUCCESS ? 0 : 1;
}

static int run(const char *xml, const char *dir, unsigned stages, unsigned devices, unsigned rounds,
               uint64_t time_limit_ns, accel_place_objective objective, result *out)
{
    char path[4200];
    gen dev = {0}, pipe = {0};
    write_devices(&dev, devices);
    snprintf(path, sizeof(path), "%s/devices-%u.json", dir, devices);
    if (bench_write_file(path, dev.s, dev.len, 0600)) {
        fprintf(stderr, "bench_placement: cannot write %s\n", path);
        return -1;
    }
    accel_topology_options to = {.struct_size = sizeof(to), .flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES,
                                 .hwloc_xml = xml, .simulated_devices = path};
    accel_topology *t = NULL;
    if (accel_topology_create(NULL, &to, &t)) {
        fprintf(stderr, "bench_placement: accel_topology_create: %s\n", accel_last_error_message());
        return -1;
    }
    unlink(path);
    write_pipeline(&pipe, stages);
    accel_pipeline *p = NULL;
    if (accel_pipeline_parse(pipe.s, pipe.len, "bench.json", &p)) {
        fprintf(stderr, "bench_placement: %s\n", accel_last_error_message());
        return -1;
    }
    accel_place_options o = {.struct_size = sizeof(o), .process_pasid_bits = 16, .iommu_contexts = 0,
                             .time_limit_ns = time_limit_ns, .objective = objective};
    double times[BENCH_ROUNDS];
    for (unsigned r = 0; r < rounds + (rounds > 3 ? BENCH_WARMUP_ROUNDS : 0); r++) {
        accel_plan *plan = NULL;
        uint64_t t0 = bench_now_ns();
        accel_result res = accel_place(t, p, &o, &plan);
        uint64_t t1 = bench_now_ns();
        if (res != ACCEL_SUCCESS) {
            fprintf(stderr, "bench_placement: accel_place: %s\n", accel_last_error_message());
            accel_plan_destroy(plan);
            return -1;
        }
        if (r >= (rounds > 3 ? BENCH_WARMUP_ROUNDS : 0))
            times[r - (rounds > 3 ? BENCH_WARMUP_ROUNDS : 0)] = (double)(t1 - t0);
        out->summary.struct_size = sizeof(out->summary);
        accel_plan_get_summary(plan, &out->summary);
        accel_plan_destroy(plan);
    }
    out->median_ns = bench_median(times, rounds);
    out->anchor_ok = objective == ACCEL_PLACE_OBJECTIVE_LATENCY &&
                     anchor_cost(t, pipe.s, pipe.len, &o, &out->anchor_cost) == 0;
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
    free(dev.s);
    free(pipe.s);
    return 0;
}

static void print(const char *label, unsigned stages, unsigned devices, const result *r, const char *goal)
{
    const accel_plan_summary *s = &r->summary;
    double gap = s->cost_ns > 0 ? (s->cost_ns - s->lower_bound_ns) / s->cost_ns * 100 : 0;
    printf("place  %-6s %2u stages x %4u devices  %9.3f ms  (goal %s)  %s  nodes %llu  plan %.3f ms  "
           "lower bound %.3f ms  gap %.2f%%\n",
           label, stages, devices, r->median_ns / 1e6, goal, s->optimal ? "optimal" : "time limit",
           (unsigned long long)s->nodes_explored, s->cost_ns / 1e6, s->lower_bound_ns / 1e6, gap);
    if (r->anchor_ok)
        printf("place  %-6s anchor: fastest device per stage alone  plan %.3f ms  (%.2fx the placed plan)\n", label,
               r->anchor_cost / 1e6, r->anchor_cost / s->cost_ns);
    else
        printf("place  %-6s anchor: fastest device per stage alone: infeasible (instances or address spaces)\n",
               label);
}

/* The throughput objective on the small case: the plan's bottleneck against
 * the latency plan's, and the bound the search proved. */
static void print_stream(unsigned stages, unsigned devices, const result *r, const result *latency)
{
    const accel_plan_summary *s = &r->summary;
    double gap = s->bottleneck_ns > 0 ? (s->bottleneck_ns - s->lower_bound_ns) / s->bottleneck_ns * 100 : 0;
    printf("place  stream %2u stages x %4u devices  %9.3f ms  (time limit 1 s)  %s  nodes %llu  bottleneck %.3f ms "
           "(latency plan's %.3f ms)  lower bound %.3f ms  gap %.2f%%  one pass %.3f ms\n",
           stages, devices, r->median_ns / 1e6, s->optimal ? "optimal" : "time limit",
           (unsigned long long)s->nodes_explored, s->bottleneck_ns / 1e6, latency->summary.bottleneck_ns / 1e6,
           s->lower_bound_ns / 1e6, gap, s->cost_ns / 1e6);
}

int main(int argc, char **argv)
{
    const char *xml = argc > 1 ? argv[1] : ACCEL_BENCH_TOPOLOGY_XML;
    char dir[256];
    if (access(xml, R_OK) != 0) {
        fprintf(stderr, "bench_placement: cannot read %s\n", xml);
        return 1;
    }
    if (bench_make_temp_dir(dir, sizeof(dir)))
        return 1;
    result small = {0}, big = {0}, stream = {0};
    int rc = run(xml, dir, 16, 64, BENCH_ROUNDS, 0, ACCEL_PLACE_OBJECTIVE_LATENCY, &small) ||
             run(xml, dir, 32, 1024, BIG_ROUNDS, 1000000000, ACCEL_PLACE_OBJECTIVE_LATENCY, &big) ||
             run(xml, dir, 16, 64, STREAM_ROUNDS, 1000000000, ACCEL_PLACE_OBJECTIVE_THROUGHPUT, &stream);
    rmdir(dir);
    if (rc)
        return 1;
    const char *base = strrchr(xml, '/') ? strrchr(xml, '/') + 1 : xml;
    printf("bench_placement: accel_place on %s with simulated devices; median of %d runs (small), %d (large, "
           "time limit 1 s)\n",
           base, BENCH_ROUNDS, BIG_ROUNDS);
    print("small", 16, 64, &small, "<= 10 ms");
    print("large", 32, 1024, &big, "<= 1 s");
    print_stream(16, 64, &stream, &small);
    return 0;
}
