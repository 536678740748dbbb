/*
 * placement_throughput.c — the throughput objective (docs/pipelines.md,
 * "Streams"): a stream of inputs runs every stage at once, so what
 * limits the rate is the busiest compute group, the hardware that devices
 * share. A plan's cost is the pair (bottleneck, latency), compared in that
 * order: the bottleneck is the largest, over the groups, sum of the times
 * of the stages placed on the group's devices (each stage's compute and the
 * transfers of its buffer arguments, to the homes the latency model
 * chooses); the latency is the objective of placement_search.c.
 *
 * Compute groups: every device of kind cpu shares the host's cores (the
 * cpu driver, an OpenCL CPU device and a software Vulkan device all run
 * there), and so does every device whose driver says an emulator on the
 * host does its work (ACCEL_DEVICE_FLAG_EMULATED); devices of different drivers at one PCI bus address are one
 * device seen twice; any other device is a group of its own. A group's
 * stages add up as if they took turns: the calibrated rates of a device
 * already use all of it (a CPU function its threads), so two stages on it
 * share that.
 *
 * The search is a branch and bound of its own: components do not separate
 * under this objective (two components on one group load it together).
 * The latency search runs first and its plan is the first incumbent. The
 * bound of a node is the pair (bottleneck bound, latency bound): a group's
 * load only grows as stages are added and buffers complete (a use's
 * cheapest access is charged until its buffer's home is known, then the
 * exact one), and every open stage adds at least its cheapest candidate's
 * weight to that candidate's group; the latency bound is the one of
 * placement_search.c.
 */
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"
#include "select.h"

/* ------------------------------------------------------------------------ */
/* Compute groups                                                            */

static uint32_t group_root(uint32_t *up, uint32_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

accel_result accel__pl_build_groups(pc *c)
{
    uint32_t *up = accel__malloc((c->D + 1) * sizeof(uint32_t));
    int32_t *id = accel__malloc((c->D + 1) * sizeof(int32_t));
    if (!up || !id || !(c->dev_group = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->group_size = accel__calloc(c->D + 1, sizeof(uint32_t)))) {
        accel__free(up);
        accel__free(id);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    int32_t host = -1;
    for (uint32_t d = 0; d < c->D; d++) {
        const accel__topo_node *n = dnode(c, d);
        up[d] = d;
        id[d] = -1;
        if (n->device_kind == ACCEL_DEVICE_KIND_CPU || (n->device_flags & ACCEL_DEVICE_FLAG_EMULATED)) {
            if (host < 0)
                host = (int32_t)d;
            else
                up[d] = (uint32_t)host;
            continue;
        }
        /* The same PCI function (or, without bus addresses, the same uuid)
         * under another driver: the same hardware, one physical device
         * (select.h). One driver's devices at one address (a simulated
         * device's replicas) stay apart. */
        for (uint32_t e = 0; e < d; e++) {
            const accel__topo_node *m = dnode(c, e);
            if (m->device_kind == ACCEL_DEVICE_KIND_CPU || (m->device_flags & ACCEL_DEVICE_FLAG_EMULATED) ||
                !accel__same_hardware(m->driver_name, m->bus_address, m->uuid, n->driver_name,
                                      n->bus_address, n->uuid))
                continue;
            uint32_t x = group_root(up, d), y = group_root(up, e);
            if (x != y)
                up[x > y ? x : y] = x < y ? x : y;
        }
    }
    c->G = 0;
    c->host_group = -1;
    for (uint32_t d = 0; d < c->D; d++) {
        uint32_t r = group_root(up, d);
        if (id[r] < 0)
            id[r] = (int32_t)c->G++;
        c->dev_group[d] = (uint32_t)id[r];
        c->group_size[id[r]]++;
        if (dnode(c, d)->device_kind == ACCEL_DEVICE_KIND_CPU ||
            (dnode(c, d)->device_flags & ACCEL_DEVICE_FLAG_EMULATED))
            c->host_group = id[r];
    }
    accel__free(up);
    accel__free(id);
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* The bottleneck of a complete assignment                                   */

double accel__pl_throughput(pc *c, const int32_t *dev, double *load)
{
    memset(load, 0, (c->G ? c->G : 1) * sizeof(double));
    for (uint32_t s = 0; s < c->S; s++) {
        const cand *cd = accel__pl_find_cand(c, s, (uint32_t)dev[s]);
        if (!cd)
            return INF;
        load[c->dev_group[dev[s]]] += cd->stage_cost;
    }
    for (uint32_t b = 0; b < c->B; b++) {
        const buf_info *bi = &c->bufs[b];
        if (!bi->user_count)
            continue;
        uint32_t h;
        if (accel__pl_buffer_cost(c, b, dev, &h) == INF)
            return INF;
        double n = accel__pl_buffer_bytes(c, b, dev);
        for (uint32_t u = 0; u < bi->user_count; u++) {
            uint32_t d = (uint32_t)dev[c->uses[bi->users[u]].stage];
            const dev_info *di = &c->devs[d];
            load[c->dev_group[d]] +=
                accel__pl_access_cost(c, di->reach, di->reach_count, h, n, c->staged_ok, NULL);
        }
    }
    double worst = 0;
    for (uint32_t g = 0; g < c->G; g++)
        if (load[g] > worst)
            worst = load[g];
    return worst;
}

/* Whether (tp, lat) beats the incumbent: a smaller bottleneck, or the same
 * with a smaller latency. Both sides are computed the same way
 * (accel__pl_throughput, accel__pl_full_check), so equal means equal. */
static bool better(const pc *c, double tp, double lat)
{
    return tp < c->tp_best || (tp == c->tp_best && lat < c->best);
}

void accel__pl_offer(pc *c, const int32_t *dev, double lat)
{
    double tp = accel__pl_throughput(c, dev, c->tp_scratch);
    if (tp < INF && better(c, tp, lat)) {
        c->tp_best = tp;
        c->best = lat;
        memcpy(c->best_dev, dev, c->S * sizeof(int32_t));
    }
}

/* ------------------------------------------------------------------------ */
/* The branch and bound                                                      */

/* Whether no completion of a node bounded by (tp_lb, lat_lb) can beat the
 * incumbent; with the rounding margin of accel__pl_cutoff. */
static bool pruned(const pc *c, double tp_lb, double lat_lb)
{
    if (c->tp_best == INF)
        return false;
    if (tp_lb > c->tp_best * (1 + 1e-12))
        return true;
    return tp_lb >= c->tp_best * (1 - 1e-12) && lat_lb >= c->best * (1 - 1e-12);
}

/*
 * Stage s placed: complete the buffers it was the last user of. Each use
 * of a completed buffer is charged its exact access (to the home the
 * latency model picks) in place of its cheapest one; *extra gets what
 * the latency bound gains. False when no home serves a buffer.
 */
static bool complete(pc *c, uint32_t s, double *load, double *extra)
{
    const stage_info *si = &c->stages[s];
    *extra = 0;
    for (uint32_t i = 0; i < si->use_count; i++) {
        uint32_t b = c->uses[si->use_begin + i].buffer;
        const buf_info *bi = &c->bufs[b];
        if (c->buf_assigned[b] != bi->user_count)
            continue;
        bool seen = false; /* each buffer once */
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = c->uses[si->use_begin + j].buffer == b;
        if (seen)
            continue;
        uint32_t h;
        double cost = accel__pl_buffer_cost(c, b, c->stage_dev, &h);
        if (cost == INF)
            return false;
        double n = accel__pl_buffer_bytes(c, b, c->stage_dev), lb = bi->io_lb;
        for (uint32_t u = 0; u < bi->user_count; u++) {
            uint32_t d = (uint32_t)c->stage_dev[c->uses[bi->users[u]].stage];
            const dev_info *di = &c->devs[d];
            double cheapest = accel__pl_access_lb(di->reach, di->reach_count, bi->bytes);
            lb += cheapest;
            load[c->dev_group[d]] +=
                accel__pl_access_cost(c, di->reach, di->reach_count, h, n, c->staged_ok, NULL) - cheapest;
        }
        *extra += cost - lb > 0 ? cost - lb : 0;
    }
    return true;
}

/* The bottleneck bound of a node at depth: the loads so far, and every open
 * stage on its best candidate given them. */
static double bound(const pc *c, uint32_t depth, const double *load)
{
    double lb = 0;
    for (uint32_t g = 0; g < c->G; g++)
        if (load[g] > lb)
            lb = load[g];
    for (uint32_t k = depth; k < c->S; k++) {
        const stage_info *si = &c->stages[c->order[k]];
        double best = INF;
        for (uint32_t i = 0; i < si->cand_count; i++) {
            double v = load[c->dev_group[si->cands[i].dev]] + si->cands[i].w;
            if (v < best)
                best = v;
        }
        if (best > lb)
            lb = best;
    }
    return lb;
}

static void open_node(pc *c, double tp_lb)
{
    if (tp_lb < c->tp_open_lb)
        c->tp_open_lb = tp_lb;
}

static bool tp_out_of_time(pc *c)
{
    if (c->timed_out)
        return true;
    if (c->deadline && (++c->ticks & 255) == 0 && now_ns() > c->deadline)
        c->timed_out = true;
    return c->timed_out;
}

typedef struct tp_try {
    uint32_t cand;
    double key; /* the load of the candidate's group with the stage on it */
} tp_try;

static void dfs(pc *c, uint32_t depth, double pb)
{
    if (depth == c->S) {
        double lat;
        if (!accel__pl_full_check(c, c->stage_dev, &lat))
            accel__pl_offer(c, c->stage_dev, lat);
        return;
    }
    uint32_t s = c->order[depth], G = c->G ? c->G : 1;
    const stage_info *si = &c->stages[s];
    const double *load = c->tp_load + (size_t)depth * G;
    double *child = c->tp_load + (size_t)(depth + 1) * G;
    tp_try *tries = c->tp_tries + (size_t)depth * (c->D + 1);
    double placed = 0;
    for (uint32_t g = 0; g < c->G; g++)
        if (load[g] > placed)
            placed = load[g];
    /* The candidates the constraints allow, least loaded group first. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < si->cand_count; i++) {
        const cand *cd = &si->cands[i];
        int32_t other;
        if (accel__pl_symmetric_skip(c, cd->dev) || accel__pl_dyn_check(c, s, cd->dev, &other))
            continue;
        tp_try t = {i, load[c->dev_group[cd->dev]] + cd->w};
        uint32_t j = n++;
        for (; j > 0 && (tries[j - 1].key > t.key ||
                         (tries[j - 1].key == t.key && si->cands[tries[j - 1].cand].w > cd->w));
             j--)
            tries[j] = tries[j - 1];
        tries[j] = t;
    }
    for (uint32_t i = 0; i < n; i++) {
        const cand *cd = &si->cands[tries[i].cand];
        double cpb = pb - si->wmin + cd->w, lb = tries[i].key > placed ? tries[i].key : placed;
        if (c->tp_best < INF && lb > c->tp_best * (1 + 1e-12))
            break; /* and every later one: the keys only grow */
        if (pruned(c, lb, cpb))
            continue;
        if (tp_out_of_time(c)) {
            open_node(c, lb);
            return;
        }
        c->nodes++;
        c->stage_cur[s] = cd->stage_cost;
        accel__pl_apply(c, s, cd->dev);
        memcpy(child, load, G * sizeof(double));
        child[c->dev_group[cd->dev]] += cd->w;
        double extra;
        if (complete(c, s, child, &extra)) {
            double npb = cpb + extra, nlb = bound(c, depth + 1, child);
            if (!pruned(c, nlb, npb))
                dfs(c, depth + 1, npb);
        }
        accel__pl_undo(c, s, cd->dev);
        if (c->timed_out) {
            open_node(c, lb);
            return;
        }
    }
}

double accel__pl_throughput_bound(pc *c)
{
    memset(c->tp_scratch, 0, (c->G ? c->G : 1) * sizeof(double));
    return bound(c, 0, c->tp_scratch);
}

bool accel__pl_run_throughput(pc *c)
{
    size_t G = c->G ? c->G : 1;
    if (!(c->tp_load = accel__calloc((c->S + 1) * G, sizeof(double))) ||
        !(c->tp_tries = accel__calloc((size_t)(c->S + 1) * (c->D + 1), sizeof(tp_try)))) {
        c->oom = true;
        return false;
    }
    /* The latency search decides feasibility, explains a conflict, and
     * gives the first incumbent. */
    if (!accel__pl_run_search(c))
        return false;
    c->tp_best = INF;
    c->tp_open_lb = INF;
    if (c->best < INF) {
        int32_t *first = accel__malloc((c->S + 1) * sizeof(int32_t));
        double lat;
        if (!first) {
            c->oom = true;
            return false;
        }
        memcpy(first, c->best_dev, c->S * sizeof(int32_t));
        c->best = INF;
        if (!accel__pl_full_check(c, first, &lat))
            accel__pl_offer(c, first, lat);
        accel__free(first);
    }
    dfs(c, 0, accel__pl_root_bound(c));
    return true;
}
