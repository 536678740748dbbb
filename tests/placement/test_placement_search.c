/* test_placement_search.c — the branch and bound finds what exhaustive
 * enumeration finds. On every recorded machine (the hwloc XML files of
 * TOPOLOGY_XML_DIR), generated simulated devices (up to 16, with replicas,
 * partitions, own memories, SVA, instance and address space limits) run
 * generated pipelines (up to 8 stages, with not_with and kind constraints,
 * copies allowed or not, various PASID widths and IOMMU budgets), zlib
 * outputs charged by the measured output ratio of some devices. For each
 * case both searches must agree on feasibility and on the cost, and the
 * plan's devices must evaluate to that cost. Each case runs again under the
 * throughput objective, some devices of different drivers sharing a PCI bus
 * address (a compute group, as the cpu devices are): both searches must
 * agree on the bottleneck and, among plans that tie on it, on the latency.
 * The generator is a seeded PRNG: every run checks the same cases. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_leaks.h"
#include "unit_util.h"

#include "alloc.h"
#include "placement.h"

#ifndef TOPOLOGY_XML_DIR
#define TOPOLOGY_XML_DIR "tests/topology/data"
#endif

#define CASES_PER_TOPOLOGY 100
#define MAX_STAGES 8
#define MAX_DEVICES 16
/* Keep the enumeration small enough for a test: at most this many
 * assignments (the product of the devices offering each stage's function). */
#define MAX_ASSIGNMENTS 200000

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(uint32_t n)
{
    return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(double p)
{
    return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}

/* Log-uniform between 2^lo and 2^hi. */
static uint64_t log_uniform(unsigned lo, unsigned hi)
{
    unsigned e = lo + below(hi - lo + 1);
    return (1ull << e) + below(1u << (e > 20 ? 20 : e));
}

typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (b->s && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        assert_non_null(b->s);
    }
}

static const char *const functions[] = {"crc32c", "sha256", "zlib.inflate", "zlib.deflate", "accel.copy", "accel.fill"};
#define FUNCTION_COUNT 6
static const char *const kinds[] = {"cpu", "gpu", "fpga", "asic"};

/* Simulated devices: exactly `devices` device nodes (replicas and
 * partitions included). */
static void gen_devices(sbuf *b, uint32_t devices, const int32_t *numa, uint32_t numa_count)
{
    put(b, "{\"version\": 1, \"devices\": [");
    uint32_t total = 0, types = 0;
    while (total < devices) {
        uint32_t left = devices - total;
        uint32_t parts = left >= 3 && chance(0.2) ? 1 + below(left / 2 < 3 ? left / 2 : 3) : 0;
        if (1 + parts > left)
            parts = 0;
        uint32_t count = 1 + below(left / (1 + parts));
        if (chance(0.5))
            count = 1;
        total += count * (1 + parts);
        uint32_t k = below(4);
        put(b, "%s{\"driver\": \"sim%s\", \"kind\": \"%s\", \"count\": %u", types++ ? ", " : "", kinds[k], kinds[k],
            count);
        if (numa_count)
            put(b, ", \"numa_node\": %d", numa[below(numa_count)]);
        bool sva = k != 0 && chance(0.35);
        if (sva)
            put(b, ", \"flags\": [\"sva\"], \"pasid_bits\": %u", (uint32_t[]){8, 16, 20}[below(3)]);
        if (chance(0.5))
            put(b, ", \"available_instances\": %u", 1 + below(3));
        if (chance(0.3))
            put(b, ", \"max_address_spaces\": %u", 1 + below(2));
        bool memory = k != 0 && chance(0.5);
        if (memory) {
            static const char *const mk[] = {"device", "hbm", "fpga-bank"};
            put(b, ", \"memories\": [{\"name\": \"mem\", \"kind\": \"%s\", \"bandwidth_mbps\": %llu, \"latency_ns\": %u, "
                   "\"host_visible\": %s}]",
                mk[below(3)], (unsigned long long)log_uniform(13, 19), 10 + below(500), chance(0.5) ? "true" : "false");
            if (chance(0.3))
                put(b, ", \"host_access\": \"none\"");
        }
        if (!memory && !sva && k != 0 && chance(0.3))
            put(b, ", \"host_access\": \"%s\"", chance(0.5) ? "zero-copy" : "pinned");
        put(b, ", \"functions\": {");
        uint32_t nf = 0;
        for (uint32_t f = 0; f < FUNCTION_COUNT; f++) {
            if (!chance(devices > 8 ? 0.3 : 0.45))
                continue;
            if (chance(0.6))
                put(b, "%s\"%s\": {\"fixed_ns\": %u, \"bytes_per_second\": %llu}", nf++ ? ", " : "", functions[f],
                    below(50000), (unsigned long long)log_uniform(26, 34));
            else
                put(b, "%s\"%s\": {}", nf++ ? ", " : "", functions[f]);
        }
        put(b, "}");
        if (parts)
            put(b, ", \"partitions\": [{\"count\": %u%s}]", parts,
                chance(0.5) ? ", \"available_instances\": \"unlimited\"" : "");
        put(b, "}");
    }
    put(b, "]}");
}

/* How many devices offer each function. */
static void offers(const accel_topology *t, uint32_t counts[FUNCTION_COUNT])
{
    memset(counts, 0, FUNCTION_COUNT * sizeof(uint32_t));
    for (uint32_t i = 0; i < t->node_count; i++) {
        const accel__topo_node *n = &t->nodes[i];
        if (n->kind != ACCEL_TOPOLOGY_NODE_DEVICE)
            continue;
        for (uint32_t f = 0; f < FUNCTION_COUNT; f++)
            for (uint32_t j = 0; j < n->function_count; j++)
                counts[f] += strcmp(n->functions[j].name, functions[f]) == 0;
    }
}

/* A pipeline of `stages` stages whose functions' offers multiply to at most
 * MAX_ASSIGNMENTS. Returns false if the draw went over. */
static bool gen_pipeline(sbuf *b, uint32_t stages, const uint32_t counts[FUNCTION_COUNT])
{
    uint32_t readable[64], nread = 0, nbuf = 0;
    char buffers[4096] = "";
    sbuf st = {0};
    double product = 1;
    for (uint32_t s = 0; s < stages; s++) {
        /* Mostly functions someone offers, few enough devices for the
         * enumeration: at most the stage's share of what is left. */
        double share = pow(MAX_ASSIGNMENTS / product, 1.0 / (stages - s));
        uint32_t f = below(FUNCTION_COUNT), fits[FUNCTION_COUNT], nfits = 0, least = f;
        for (uint32_t k = 0; k < FUNCTION_COUNT; k++) {
            if (counts[k] && counts[k] <= share)
                fits[nfits++] = k;
            if (counts[k] && (!counts[least] || counts[k] < counts[least]))
                least = k;
        }
        if (chance(0.95))
            f = nfits ? fits[below(nfits)] : least;
        product *= counts[f] ? counts[f] : 1;
        put(&st, "%s{\"name\": \"s%u\", \"function\": \"%s\", \"args\": [", s ? ", " : "", s, functions[f]);
        uint32_t src = UINT32_MAX;
        if (strcmp(functions[f], "accel.fill") != 0) {
            if (nread && chance(0.75)) {
                src = readable[below(nread)];
            } else {
                src = nbuf++;
                accel__fmt(buffers + strlen(buffers), sizeof(buffers) - strlen(buffers),
                           "%s\"b%u\": {\"file\": \"in%u\", \"bytes\": %llu}", strlen(buffers) ? ", " : "", src, src,
                           (unsigned long long)log_uniform(10, 26));
                readable[nread++] = src;
            }
            put(&st, "{\"buffer\": \"b%u\"}, ", src);
        }
        uint32_t dst = nbuf++;
        uint64_t bytes = strcmp(functions[f], "crc32c") == 0   ? 4
                         : strcmp(functions[f], "sha256") == 0 ? 32
                                                               : log_uniform(10, 26);
        accel__fmt(buffers + strlen(buffers), sizeof(buffers) - strlen(buffers), "%s\"b%u\": {\"bytes\": %llu%s}",
                   strlen(buffers) ? ", " : "", dst, (unsigned long long)bytes, chance(0.2) ? ", \"output\": \"o\"" : "");
        readable[nread++] = dst;
        put(&st, "{\"buffer\": \"b%u\"}", dst);
        if (strncmp(functions[f], "zlib.", 5) == 0) {
            uint32_t size = nbuf++;
            accel__fmt(buffers + strlen(buffers), sizeof(buffers) - strlen(buffers), ", \"b%u\": {\"bytes\": 8}", size);
            put(&st, ", {\"buffer\": \"b%u\"}", size);
        }
        if (strcmp(functions[f], "accel.fill") == 0)
            put(&st, ", {\"u32\": %u}", below(1000));
        if (strcmp(functions[f], "zlib.deflate") == 0)
            put(&st, ", {\"i32\": %d}", (int[]){-1, 1, 6, 9}[below(4)]);
        put(&st, "]");
        bool nw = s > 0 && chance(0.2), kind = chance(0.08);
        if (nw || kind) {
            put(&st, ", \"constraints\": {");
            if (nw)
                put(&st, "\"not_with\": [\"s%u\"]%s", below(s), kind ? ", " : "");
            if (kind)
                put(&st, "\"kind\": \"%s\"", kinds[below(4)]);
            put(&st, "}");
        }
        put(&st, "}");
    }
    put(b, "{\"pipeline_version\": 1, \"buffers\": {%s}, \"stages\": [%s]}", buffers, st.s);
    free(st.s);
    return product <= MAX_ASSIGNMENTS;
}

typedef struct totals {
    unsigned cases, feasible, infeasible, staged, not_optimal_first;
    unsigned by_constraint[8];
    unsigned tp_faster; /* throughput plans with a smaller bottleneck than the latency plan's */
    unsigned tp_slower; /* ... and so a larger latency */
    unsigned tp_shared; /* throughput plans with two stages on devices of one shared group */
} totals;

/* Some devices other than CPUs at one of two PCI addresses (a separate
 * generator: the cases drawn above stay the same). */
static void share_bus_addresses(accel_topology *t, uint64_t seed)
{
    uint64_t saved = rng_state;
    rng_state = seed ^ 0x5bd1e995u;
    static const char *const addresses[] = {"0000:3b:00.0", "0000:5e:00.0"};
    for (uint32_t i = 0; i < t->node_count; i++) {
        accel__topo_node *n = &t->nodes[i];
        if (n->kind != ACCEL_TOPOLOGY_NODE_DEVICE || n->device_kind == ACCEL_DEVICE_KIND_CPU || !chance(0.4))
            continue;
        accel__free(n->bus_address);
        n->bus_address = accel__strdup(addresses[below(2)]);
        assert_non_null(n->bus_address);
    }
    rng_state = saved;
}

/* Whether two stages of the plan are on different devices that share a
 * bus address under different drivers, or are both of kind cpu. */
static bool shares_group(const accel_topology *t, const uint32_t *assign, uint32_t stages)
{
    for (uint32_t a = 0; a < stages; a++) {
        for (uint32_t b = a + 1; b < stages; b++) {
            const accel__topo_node *x = &t->nodes[assign[a]], *y = &t->nodes[assign[b]];
            if (assign[a] == assign[b])
                continue;
            if (x->device_kind == ACCEL_DEVICE_KIND_CPU && y->device_kind == ACCEL_DEVICE_KIND_CPU)
                return true;
            if (x->bus_address && y->bus_address && strcmp(x->bus_address, y->bus_address) == 0 &&
                strcmp(x->driver_name, y->driver_name) != 0)
                return true;
        }
    }
    return false;
}

/* The plan's devices, one per stage. */
static void plan_devices(const accel_plan *plan, uint32_t stages, uint32_t *assign)
{
    for (uint32_t s = 0; s < stages; s++) {
        accel_plan_stage ps = {.struct_size = sizeof(ps)};
        assert_int_equal(accel_plan_get_stage(plan, s, &ps), ACCEL_SUCCESS);
        assign[s] = ps.device_node;
    }
}

/* The case under the throughput objective: the branch and bound against
 * exhaustive enumeration, and both against the latency plan. */
static void check_throughput(const char *xml, const accel_topology *t, const accel_pipeline *p,
                             accel_place_options o, uint32_t stages, const accel_plan *latency, totals *tot,
                             const char *what)
{
    o.objective = ACCEL_PLACE_OBJECTIVE_THROUGHPUT;
    accel_plan *bb = NULL, *ex = NULL;
    accel_result rb = accel_place(t, p, &o, &bb);
    o.flags |= ACCEL_PLACE_EXHAUSTIVE;
    accel_result re = accel_place(t, p, &o, &ex);
    o.flags &= ~(uint32_t)ACCEL_PLACE_EXHAUSTIVE;
    accel_plan_summary sb = {.struct_size = sizeof(sb)}, se = {.struct_size = sizeof(se)},
                       sl = {.struct_size = sizeof(sl)};
    assert_int_equal(accel_plan_get_summary(bb, &sb), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_get_summary(ex, &se), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_get_summary(latency, &sl), ACCEL_SUCCESS);
    bool same = rb == re && sb.optimal && se.optimal &&
                (rb != ACCEL_SUCCESS ||
                 (fabs(sb.bottleneck_ns - se.bottleneck_ns) <= 1e-9 * fmax(1.0, se.bottleneck_ns) &&
                  fabs(sb.cost_ns - se.cost_ns) <= 1e-9 * fmax(1.0, se.cost_ns)));
    if (!same) {
        print_error("throughput: %s\n%s\nsearch: %s bottleneck %.17g latency %.17g\n"
                    "exhaustive: %s bottleneck %.17g latency %.17g\n",
                    xml, what, accel_result_name(rb), sb.bottleneck_ns, sb.cost_ns, accel_result_name(re),
                    se.bottleneck_ns, se.cost_ns);
        fail();
    }
    if (rb == ACCEL_SUCCESS) {
        assert_int_equal(sb.objective, ACCEL_PLACE_OBJECTIVE_THROUGHPUT);
        assert_true(sb.bottleneck_stage >= 0 && (uint32_t)sb.bottleneck_stage < stages);
        assert_true(strlen(sb.bottleneck_group) > 0);
        assert_true(sb.lower_bound_ns <= sb.bottleneck_ns * (1 + 1e-12));
        /* Never a worse bottleneck than the latency plan's; a better one
         * costs latency. */
        assert_true(sb.bottleneck_ns <= sl.bottleneck_ns * (1 + 1e-12));
        assert_true(sb.cost_ns >= sl.cost_ns * (1 - 1e-12));
        tot->tp_faster += sb.bottleneck_ns < sl.bottleneck_ns * (1 - 1e-9);
        tot->tp_slower += sb.cost_ns > sl.cost_ns * (1 + 1e-9);
        uint32_t assign[MAX_STAGES];
        plan_devices(bb, stages, assign);
        tot->tp_shared += shares_group(t, assign, stages);
        double cost, bottleneck;
        assert_int_equal(accel__place_evaluate2(t, p, &o, assign, &cost, &bottleneck), ACCEL_SUCCESS);
        assert_true(fabs(cost - sb.cost_ns) <= 1e-9 * fmax(1.0, cost));
        assert_true(fabs(bottleneck - sb.bottleneck_ns) <= 1e-9 * fmax(1.0, bottleneck));
    }
    accel_plan_destroy(bb);
    accel_plan_destroy(ex);
}

static void check_case(const char *xml, uint32_t stages, uint32_t devices, uint64_t seed, totals *tot)
{
    int32_t numa[64];
    uint32_t numa_count = 0;
    accel_topology_options to = {.struct_size = sizeof(to), .flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES,
                                 .hwloc_xml = xml};
    accel_topology *t = NULL;
    accel_result r;
    sbuf dev = {0}, pipe = {0};
    rng_state = seed;
    /* Draw devices and a pipeline until the enumeration is small enough
     * (replicas offering every function can make it too large). */
    for (int tries = 0;; tries++) {
        assert_true(tries < 200);
        r = accel_topology_create(NULL, &to, &t);
        if (r)
            print_error("%s: %s\n", xml, accel_last_error_message());
        assert_int_equal(r, ACCEL_SUCCESS);
        numa_count = 0;
        for (uint32_t i = 0; i < t->node_count && numa_count < 64; i++)
            if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_MEMORY && t->nodes[i].owner_device < 0 &&
                t->nodes[i].numa_node >= 0)
                numa[numa_count++] = t->nodes[i].numa_node;
        dev.len = 0;
        gen_devices(&dev, devices, numa, numa_count);
        r = accel__topology_add_simulated(t, dev.s, dev.len, "generated devices", NULL, NULL);
        if (r)
            print_error("%s\n%s\n", dev.s, accel_last_error_message());
        assert_int_equal(r, ACCEL_SUCCESS);
        /* Measured output ratios on some devices: a zlib stage's output is
         * then charged by its device, which the bounds must allow for. */
        for (uint32_t i = 0; i < t->node_count; i++) {
            for (uint32_t k = 0; k < t->nodes[i].function_count; k++) {
                accel__topo_function *fn = &t->nodes[i].functions[k];
                bool deflate = strcmp(fn->name, "zlib.deflate") == 0;
                if ((deflate || strcmp(fn->name, "zlib.inflate") == 0) && chance(0.5))
                    fn->output_ratio = deflate ? 0.05 + 1.2 * (double)below(1000) / 1000
                                               : 1 + 7 * (double)below(1000) / 1000;
            }
        }
        uint32_t counts[FUNCTION_COUNT];
        offers(t, counts);
        pipe.len = 0;
        if (gen_pipeline(&pipe, stages, counts))
            break;
        accel_topology_destroy(t);
        t = NULL;
    }
    share_bus_addresses(t, seed);
    accel_pipeline *p = NULL;
    r = accel_pipeline_parse(pipe.s, pipe.len, "generated.json", &p);
    if (r)
        print_error("%s\n%s\n", pipe.s, accel_last_error_message());
    assert_int_equal(r, ACCEL_SUCCESS);

    accel_place_options o = {.struct_size = sizeof(o)};
    if (chance(0.3))
        o.flags |= ACCEL_PLACE_NO_STAGED;
    o.process_pasid_bits = (uint32_t[]){0, 0, 12, 16}[below(4)];
    o.iommu_contexts = (uint32_t[]){0, 0, 2, 3}[below(4)];

    accel_plan *bb = NULL, *ex = NULL;
    accel_result rb = accel_place(t, p, &o, &bb);
    char bb_error[1024];
    snprintf(bb_error, sizeof(bb_error), "%s", accel_last_error_message());
    o.flags |= ACCEL_PLACE_EXHAUSTIVE;
    accel_result re = accel_place(t, p, &o, &ex);
    o.flags &= ~(uint32_t)ACCEL_PLACE_EXHAUSTIVE;
    accel_plan_summary sb = {.struct_size = sizeof(sb)}, se = {.struct_size = sizeof(se)};
    assert_int_equal(accel_plan_get_summary(bb, &sb), ACCEL_SUCCESS);
    assert_int_equal(accel_plan_get_summary(ex, &se), ACCEL_SUCCESS);
    bool same = rb == re && sb.optimal && se.optimal &&
                (rb != ACCEL_SUCCESS || fabs(sb.cost_ns - se.cost_ns) <= 1e-9 * fmax(1.0, se.cost_ns));
    if (!same) {
        print_error("%s, %u stages, %u devices, seed %llu, flags %u, pasid %u, iommu %u\n"
                    "devices: %s\npipeline: %s\nsearch: %s %.17g (%s)\nexhaustive: %s %.17g\n",
                    xml, stages, devices, (unsigned long long)seed, o.flags, o.process_pasid_bits, o.iommu_contexts,
                    dev.s, pipe.s, accel_result_name(rb), sb.cost_ns, bb_error, accel_result_name(re), se.cost_ns);
        fail();
    }
    tot->cases++;
    char what[256];
    snprintf(what, sizeof(what), "%u stages, %u devices, seed %llu, flags %u, pasid %u, iommu %u", stages, devices,
             (unsigned long long)seed, o.flags, o.process_pasid_bits, o.iommu_contexts);
    check_throughput(xml, t, p, o, stages, bb, tot, what);
    if (rb == ACCEL_SUCCESS) {
        tot->feasible++;
        uint32_t assign[MAX_STAGES];
        bool staged = false;
        for (uint32_t s = 0; s < stages; s++) {
            accel_plan_stage ps = {.struct_size = sizeof(ps)};
            assert_int_equal(accel_plan_get_stage(bb, s, &ps), ACCEL_SUCCESS);
            assign[s] = ps.device_node;
            for (uint32_t a = 0; a < p->stages[s].pub.arg_count; a++) {
                accel_attach_mode m;
                if (p->stages[s].args[a].kind == ACCEL_ARG_MEMORY) {
                    assert_int_equal(accel_plan_get_use(bb, s, a, &m), ACCEL_SUCCESS);
                    assert_true(m >= ACCEL_ATTACH_ZERO_COPY && m <= ACCEL_ATTACH_STAGED);
                    assert_false((o.flags & ACCEL_PLACE_NO_STAGED) && m == ACCEL_ATTACH_STAGED);
                    staged |= m == ACCEL_ATTACH_STAGED;
                }
            }
        }
        tot->staged += staged;
        double cost;
        r = accel__place_evaluate(t, p, &o, assign, &cost);
        assert_int_equal(r, ACCEL_SUCCESS);
        assert_true(fabs(cost - sb.cost_ns) <= 1e-9 * fmax(1.0, cost));
        assert_true(sb.lower_bound_ns <= sb.cost_ns * (1 + 1e-12));
    } else {
        tot->infeasible++;
        accel_plan_conflict c = {.struct_size = sizeof(c)};
        assert_int_equal(accel_plan_get_conflict(bb, &c), ACCEL_SUCCESS);
        assert_true(c.constraint > ACCEL_CONSTRAINT_NONE && c.constraint <= ACCEL_CONSTRAINT_USER);
        assert_true(c.stage >= 0 && (uint32_t)c.stage < stages);
        assert_true(strlen(c.detail) > 0);
        tot->by_constraint[c.constraint]++;
    }
    accel_plan_destroy(bb);
    accel_plan_destroy(ex);
    accel_pipeline_destroy(p);
    accel_topology_destroy(t);
    free(dev.s);
    free(pipe.s);
}

static void test_placement_search_equals_exhaustive(void **state)
{
    (void)state;
    char **names;
    long n = ut_list_names(TOPOLOGY_XML_DIR, "", &names);
    assert_true(n > 0);
    totals tot = {0};
    unsigned topologies = 0;
    for (long i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len < 4 || strcmp(names[i] + len - 4, ".xml") != 0)
            continue;
        char path[PATH_MAX];
        ut_path(path, "%s/%s", TOPOLOGY_XML_DIR, names[i]);
        topologies++;
        for (uint32_t k = 0; k < CASES_PER_TOPOLOGY; k++) {
            /* Every stage count and many device counts, the largest case
             * included on every machine. */
            uint32_t stages = k == 0 ? MAX_STAGES : 1 + k % MAX_STAGES;
            uint32_t devices = k == 0 ? MAX_DEVICES : 1 + (k * 7) % MAX_DEVICES;
            check_case(path, stages, devices, 0x9e3779b97f4a7c15ull * (topologies * 1000 + k + 1), &tot);
        }
    }
    ut_free_names(names, n);
    print_message("%u topologies, %u cases: %u feasible (%u with a STAGED use), %u infeasible "
                  "(function %u, instances %u, pasid %u, iommu %u, reachability %u, user %u)\n",
                  topologies, tot.cases, tot.feasible, tot.staged, tot.infeasible,
                  tot.by_constraint[ACCEL_CONSTRAINT_FUNCTION], tot.by_constraint[ACCEL_CONSTRAINT_INSTANCES],
                  tot.by_constraint[ACCEL_CONSTRAINT_PASID], tot.by_constraint[ACCEL_CONSTRAINT_IOMMU],
                  tot.by_constraint[ACCEL_CONSTRAINT_REACHABILITY], tot.by_constraint[ACCEL_CONSTRAINT_USER]);
    print_message("throughput: %u plans with a smaller bottleneck than the latency plan's (%u of them slower "
                  "end to end), %u with two stages in one shared compute group\n",
                  tot.tp_faster, tot.tp_slower, tot.tp_shared);
    /* The recorded machines are all there, and the cases are varied enough
     * to mean something. */
    assert_true(topologies >= 6);
    assert_true(tot.feasible >= tot.cases / 2);
    assert_true(tot.infeasible > 0);
    assert_true(tot.staged > 0);
    assert_true(tot.tp_faster > 0);
    assert_true(tot.tp_slower > 0);
    assert_true(tot.tp_shared > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_placement_search_equals_exhaustive, ut_leak_setup, ut_leak_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
