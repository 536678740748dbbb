/*
 * placement_cost.c — the cost model of placement (docs/pipelines.md): what
 * a stage's function costs on a device, what reaching a buffer's bytes
 * costs from a device or the host (directly or STAGED through a copy),
 * where a buffer is best homed once its users are placed, and the per-stage
 * checks that rule a device out before any search. The search
 * (placement_search.c) and the plan (placement_explain.c) cost assignments
 * only through these functions.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"

double accel__pl_ns_per_byte(uint64_t mbps)
{
    return 1000.0 / (mbps ? (double)mbps : DEFAULT_BANDWIDTH_MBPS);
}

/* Copying n bytes between memories h and m: a CPU set that reaches both
 * directly copies them, limited by the slower of its two links. */
static double copy_cost(const pc *c, uint32_t h, uint32_t m, double n)
{
    double best = INF;
    for (uint32_t k = 0; k < c->C; k++) {
        size_t ih = (size_t)k * c->Mn + h, im = (size_t)k * c->Mn + m;
        if (!c->cpu_link_valid[ih] || !c->cpu_link_valid[im])
            continue;
        const reach_entry *a = &c->cpu_link[ih], *b = &c->cpu_link[im];
        double v = a->lat + b->lat + n * (a->ipb > b->ipb ? a->ipb : b->ipb);
        if (v < best)
            best = v;
    }
    return best;
}

/* One initiator's access to n bytes homed on h: directly over its link, or
 * STAGED through a mirror on a memory it reaches, filled by a copy. */
double accel__pl_access_cost(const pc *c, const reach_entry *r, uint32_t nr, uint32_t h, double n,
                             bool staged_ok, accel_attach_mode *mode)
{
    for (uint32_t i = 0; i < nr; i++) {
        if (r[i].mem == h) {
            if (mode)
                *mode = r[i].mode;
            return r[i].lat + n * r[i].ipb;
        }
    }
    double best = INF;
    if (staged_ok) {
        for (uint32_t i = 0; i < nr; i++) {
            double cp = copy_cost(c, h, r[i].mem, n);
            double v = cp + r[i].lat + n * r[i].ipb;
            if (v < best)
                best = v;
        }
    }
    if (mode)
        *mode = best < INF ? ACCEL_ATTACH_STAGED : ACCEL_ATTACH_NONE;
    return best;
}

/* The host reading a file of n bytes into h (or writing n bytes of h out
 * to one). */
double accel__pl_host_cost(pc *c, uint32_t b, uint32_t h, double n)
{
    buf_info *bi = &c->bufs[b];
    if (!bi->io || !c->C)
        return 0;
    double *key = &bi->io_cache[c->Mn + 1 + h];
    if (!isnan(bi->io_cache[h]) && *key == n)
        return bi->io_cache[h];
    double best = INF;
    for (uint32_t k = 0; k < c->C; k++) {
        double v = accel__pl_access_cost(c, c->cpu_reach[k], c->cpu_reach_count[k], h, n, true, NULL);
        if (v < best)
            best = v;
    }
    bi->io_cache[h] = best * bi->io;
    *key = n;
    return bi->io_cache[h];
}

/*
 * What a zlib stage on device d writes into its output b: its input times
 * d's measured output ratio, at most the buffer; the whole buffer when d
 * has no ratio (a declared size is all that is known then). Placement
 * charges these bytes, not the buffer's capacity, for moving b and writing
 * it out (docs/pipelines.md, the cost model).
 */
double accel__pl_produced_bytes(const pc *c, uint32_t b, uint32_t d)
{
    const buf_info *bi = &c->bufs[b];
    const accel__topo_function *f = NULL;
    const accel__topo_node *n = dnode(c, d);
    const char *name = c->p->stages[bi->producer].pub.function;
    for (uint32_t i = 0; i < n->function_count && !f; i++)
        if (n->functions[i].name && strcmp(n->functions[i].name, name) == 0)
            f = &n->functions[i];
    if (!f || !(f->output_ratio > 0))
        return bi->capacity;
    double v = ceil(bi->produced_in * f->output_ratio);
    return v < bi->capacity ? v : bi->capacity;
}

/* The bytes b carries with every stage on its stage_dev device. */
double accel__pl_buffer_bytes(const pc *c, uint32_t b, const int32_t *stage_dev)
{
    const buf_info *bi = &c->bufs[b];
    return bi->producer < 0 ? bi->bytes : accel__pl_produced_bytes(c, b, (uint32_t)stage_dev[bi->producer]);
}

static const reach_entry *dev_reach(const pc *c, uint32_t d, uint32_t *n)
{
    *n = c->devs[d].reach_count;
    return c->devs[d].reach;
}

/*
 * The best home of buffer b for the devices in stage_dev (all its users
 * placed): the lowest sum of host transfers and every use's access, over
 * host memories and the memories the users reach directly. INF when no
 * home serves every use (only direct ones with NO_STAGED).
 */
double accel__pl_buffer_cost(pc *c, uint32_t b, const int32_t *stage_dev, uint32_t *home)
{
    buf_info *bi = &c->bufs[b];
    double best = INF, n = accel__pl_buffer_bytes(c, b, stage_dev);
    uint32_t best_h = UINT32_MAX;
    if (++c->stamp == 0) {
        memset(c->mem_stamp, 0, c->Mn * sizeof(uint32_t));
        c->stamp = 1;
    }
    /* Candidates in a fixed order: host memories, then what each user
     * reaches, in use order; ties keep the first. */
    for (uint32_t pass = 0; pass <= bi->user_count; pass++) {
        uint32_t count = c->host_mem_count;
        const reach_entry *r = NULL;
        if (pass > 0)
            r = dev_reach(c, (uint32_t)stage_dev[c->uses[bi->users[pass - 1]].stage], &count);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t h = r ? r[i].mem : c->host_mems[i];
            if (c->mem_stamp[h] == c->stamp)
                continue;
            c->mem_stamp[h] = c->stamp;
            double total = accel__pl_host_cost(c, b, h, n);
            for (uint32_t u = 0; u < bi->user_count && total < best; u++) {
                uint32_t dn;
                const reach_entry *dr = dev_reach(c, (uint32_t)stage_dev[c->uses[bi->users[u]].stage], &dn);
                total += accel__pl_access_cost(c, dr, dn, h, n, c->staged_ok, NULL);
            }
            if (total < best) {
                best = total;
                best_h = h;
            }
        }
    }
    if (home)
        *home = best_h;
    return best;
}

/* ------------------------------------------------------------------------ */
/* Static checks of one stage on one device                                  */

static bool program_accepted(const accel__topo_node *n, accel_program_format f)
{
    const char *drv = n->driver_name ? n->driver_name : "";
    switch (f) {
    case ACCEL_PROGRAM_FORMAT_ELF: return fnmatch("cpu*", drv, 0) == 0;
    case ACCEL_PROGRAM_FORMAT_OPENCL_C: return fnmatch("opencl*", drv, 0) == 0;
    case ACCEL_PROGRAM_FORMAT_SPIRV:
        return fnmatch("vulkan*", drv, 0) == 0 || fnmatch("opencl*", drv, 0) == 0;
    case ACCEL_PROGRAM_FORMAT_FPGA_IMAGE:
        return fnmatch("fpga*", drv, 0) == 0 || n->device_kind == ACCEL_DEVICE_KIND_FPGA;
    default: return false;
    }
}

static const accel__topo_function *find_function(const accel__topo_node *n, const char *name)
{
    for (uint32_t i = 0; i < n->function_count; i++)
        if (n->functions[i].name && strcmp(n->functions[i].name, name) == 0)
            return &n->functions[i];
    return NULL;
}

static bool uuid_matches(const accel__pipe_stage *st, const uint8_t *uuid)
{
    for (uint32_t i = 0; i < st->uuid_len; i++) {
        uint8_t nib = (uint8_t)(i % 2 ? uuid[i / 2] & 0xf : uuid[i / 2] >> 4);
        if (nib != st->uuid_nibbles[i])
            return false;
    }
    return true;
}

/* Which per-stage check rules d out for s (0: none), with the sub-reason;
 * on success the function's cost. */
accel_constraint accel__pl_stage_check(const pc *c, uint32_t s, uint32_t d, uint8_t *why, double *cost,
                                       accel_value_source *source)
{
    const accel__pipe_stage *st = &c->p->stages[s];
    const accel__topo_node *n = dnode(c, d);
    const accel__topo_function *f = find_function(n, st->pub.function);
    if (f && !st->pub.program && (c->flags & ACCEL_PLACE_STREAMED)) {
        /* A streamed run calls the stream form: its cost, where known. */
        char stream_name[96];
        int len = snprintf(stream_name, sizeof(stream_name), "%s.stream", st->pub.function);
        const accel__topo_function *sf =
            len > 0 && (size_t)len < sizeof(stream_name) ? find_function(n, stream_name) : NULL;
        if (!sf && (c->flags & ACCEL__PLACE_STREAM_ONLY)) {
            *why = ACCEL__WHY_NO_STREAM_FORM;
            return ACCEL_CONSTRAINT_FUNCTION;
        }
        /* Only as well founded as the one-shot form's: a measured one-shot
         * cost says more than a stream form's estimate. */
        if (sf && sf->bytes_per_second &&
            (sf->source == ACCEL_SOURCE_MEASURED || f->source != ACCEL_SOURCE_MEASURED))
            f = sf;
    }
    if (st->pub.program ? !program_accepted(n, st->pub.program_format) : !f) {
        *why = st->pub.program ? ACCEL__WHY_FORMAT : ACCEL__WHY_FUNCTION;
        return ACCEL_CONSTRAINT_FUNCTION;
    }
    if (st->pub.kind && n->device_kind != st->pub.kind) {
        *why = ACCEL__WHY_KIND;
        return ACCEL_CONSTRAINT_USER;
    }
    if (st->pub.driver && fnmatch(st->pub.driver, n->driver_name ? n->driver_name : "", 0) != 0) {
        *why = ACCEL__WHY_DRIVER;
        return ACCEL_CONSTRAINT_USER;
    }
    if (st->uuid_len && !uuid_matches(st, n->uuid)) {
        *why = ACCEL__WHY_UUID;
        return ACCEL_CONSTRAINT_USER;
    }
    if (st->has_selector) {
        accel__selector_candidate sc = {n->driver_name ? n->driver_name : "", n->driver_index, n->device_kind,
                                        n->uuid, n->bus_address ? n->bus_address : ""};
        size_t order;
        if (accel__selector_apply(&st->selector, &sc, 1, &order) != 1) {
            *why = ACCEL__WHY_SELECTOR;
            return ACCEL_CONSTRAINT_USER;
        }
    }
    /* A CPU device runs in the process itself: it holds no PASID. */
    if ((n->device_flags & ACCEL_DEVICE_FLAG_SVA) && n->device_kind != ACCEL_DEVICE_KIND_CPU &&
        n->pasid_bits < c->pasid_bits) {
        *why = ACCEL__WHY_PASID;
        return ACCEL_CONSTRAINT_PASID;
    }
    if (n->device_flags & ACCEL_DEVICE_FLAG_ISOLATED) {
        *why = ACCEL__WHY_ISOLATED;
        return ACCEL_CONSTRAINT_INSTANCES;
    }
    for (int32_t x = (int32_t)d, steps = 0; x >= 0 && steps <= (int32_t)c->D;
         x = c->devs[x].parent, steps++) {
        if (dnode(c, (uint32_t)x)->available_instances == 0) {
            *why = ACCEL__WHY_NO_INSTANCES;
            return ACCEL_CONSTRAINT_INSTANCES;
        }
    }
    if (c->stages[s].use_count && c->devs[d].reach_count == 0) {
        *why = ACCEL__WHY_NO_MEMORY;
        return ACCEL_CONSTRAINT_REACHABILITY;
    }
    double fixed = f ? (double)f->fixed_ns : PROGRAM_FIXED_NS;
    double bps = f && f->bytes_per_second ? (double)f->bytes_per_second : DEFAULT_BYTES_PER_SECOND;
    *cost = fixed + c->stages[s].in_bytes * 1e9 / bps;
    *source = f ? f->source : ACCEL_SOURCE_ESTIMATE;
    *why = 0;
    return ACCEL_CONSTRAINT_NONE;
}

/* ------------------------------------------------------------------------ */
/* The cost of a complete assignment                                         */

/* Every constraint of a complete assignment, checked from scratch (not
 * with the search's counters), and its cost. */
accel_constraint accel__pl_full_check(pc *c, const int32_t *dev, double *cost)
{
    uint32_t *inst = c->chk_inst, *fam = c->chk_fam, *on = c->chk_on;
    *cost = INF;
    for (uint32_t s = 0; s < c->S; s++) {
        const stage_info *si = &c->stages[s];
        for (uint32_t i = 0; i < si->conflict_count; i++)
            if (dev[si->conflicts[i]] == dev[s])
                return ACCEL_CONSTRAINT_USER;
    }
    memset(inst, 0, c->D * sizeof(uint32_t));
    memset(fam, 0, c->D * sizeof(uint32_t));
    memset(on, 0, c->D * sizeof(uint32_t));
    uint32_t used_iommu = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        uint32_t d = (uint32_t)dev[s], steps = 0;
        bool first = on[d]++ == 0;
        used_iommu += first && c->devs[d].iommu;
        /* A stage takes an instance of its device and of every whole
         * device it is part of; a device used takes an address space of
         * each of them. */
        for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D; x = c->devs[x].parent, steps++) {
            inst[x]++;
            fam[x] += first;
        }
    }
    for (uint32_t x = 0; x < c->D; x++) {
        const accel__topo_node *n = dnode(c, x);
        if (n->available_instances != ACCEL_INSTANCES_UNLIMITED && inst[x] > n->available_instances)
            return ACCEL_CONSTRAINT_INSTANCES;
        if (n->max_address_spaces && fam[x] > n->max_address_spaces)
            return ACCEL_CONSTRAINT_IOMMU;
    }
    if (c->iommu_budget && used_iommu > c->iommu_budget)
        return ACCEL_CONSTRAINT_IOMMU;
    double total = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        const stage_info *si = &c->stages[s];
        const cand *found = NULL;
        for (uint32_t i = 0; i < si->cand_count && !found; i++)
            if ((int32_t)si->cands[i].dev == dev[s])
                found = &si->cands[i];
        if (!found)
            return ACCEL_CONSTRAINT_FUNCTION; /* not a candidate at all */
        total += found->stage_cost;
    }
    for (uint32_t b = 0; b < c->B; b++) {
        double h = accel__pl_buffer_cost(c, b, dev, NULL);
        if (h == INF)
            return ACCEL_CONSTRAINT_REACHABILITY;
        total += h;
    }
    *cost = total;
    return ACCEL_CONSTRAINT_NONE;
}

bool accel__pl_streamable(const accel_topology *t, const accel_pipeline *p)
{
    static const char *const streamed[] = {"crc32c", "sha256", "zlib.deflate", "zlib.inflate"};
    for (uint32_t s = 0; s < p->stage_count; s++) {
        const accel_pipeline_stage *st = &p->stages[s].pub;
        bool standard = false;
        for (size_t k = 0; k < sizeof(streamed) / sizeof(streamed[0]); k++)
            standard |= !st->program && strcmp(st->function, streamed[k]) == 0;
        if (!standard)
            return false;
        char name[32];
        snprintf(name, sizeof(name), "%s.stream", st->function);
        bool offered = false;
        for (uint32_t d = 0; d < t->node_count && !offered; d++)
            offered = t->nodes[d].kind == ACCEL_TOPOLOGY_NODE_DEVICE && find_function(&t->nodes[d], name);
        if (!offered)
            return false;
    }
    return p->stage_count > 0;
}
