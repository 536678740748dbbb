/*
 * placement_search.c — the exact search: a depth-first branch and bound
 * over the stages. A buffer's home is not a search variable: once every
 * stage that uses a buffer has a device, its best home is found among the
 * few memory nodes that can be best (host memory, and what the users reach
 * directly). The bound adds, for each stage still open, its cheapest
 * compute plus memory access, and for each buffer its exact cost once all
 * its users are placed. Stages that share no buffer form components, each
 * solved alone first: their optima bound the whole and often fit together
 * as they are. Inside a component, when the stages left fall apart into
 * groups sharing no buffer, each group's optimum alone bounds it the same
 * way (placement_groups.c). Identical devices (same links, functions and
 * limits; the replicas of a simulated device) are interchangeable: among
 * those not yet used, only the first is tried. The dynamic constraints
 * (instances, address spaces, not_with, reachability without copies) are
 * checked as stages are placed.
 */
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"

/* ---- dynamic constraints ---- */

/* Whether d reaches directly a memory every placed user of b (other than
 * stage s) also reaches directly. */
static bool shares_memory(const pc *c, uint32_t s, uint32_t d, uint32_t b, int32_t *blocker)
{
    const buf_info *bi = &c->bufs[b];
    const dev_info *di = &c->devs[d];
    bool any_other = false;
    for (uint32_t u = 0; u < bi->user_count; u++) {
        uint32_t t = c->uses[bi->users[u]].stage;
        if (t != s && c->stage_dev[t] >= 0)
            any_other = true;
    }
    if (!any_other)
        return true;
    for (uint32_t i = 0; i < di->reach_count; i++) {
        uint32_t m = di->reach[i].mem;
        bool all = true;
        for (uint32_t u = 0; u < bi->user_count && all; u++) {
            uint32_t t = c->uses[bi->users[u]].stage;
            if (t == s || c->stage_dev[t] < 0)
                continue;
            const dev_info *dt = &c->devs[c->stage_dev[t]];
            bool hit = false;
            for (uint32_t j = 0; j < dt->reach_count && !hit; j++)
                hit = dt->reach[j].mem == m;
            if (!hit) {
                all = false;
                if (blocker)
                    *blocker = (int32_t)t;
            }
        }
        if (all)
            return true;
    }
    return false;
}

/* Can stage s go on device d, given the stages placed so far? *other names
 * a stage involved in the conflict where there is one. */
accel_constraint accel__pl_dyn_check(const pc *c, uint32_t s, uint32_t d, int32_t *other)
{
    const stage_info *si = &c->stages[s];
    *other = -1;
    for (uint32_t i = 0; i < si->conflict_count; i++) {
        if (c->stage_dev[si->conflicts[i]] == (int32_t)d) {
            *other = (int32_t)si->conflicts[i];
            return ACCEL_CONSTRAINT_USER;
        }
    }
    uint32_t steps = 0;
    for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D && !c->relaxed; x = c->devs[x].parent, steps++) {
        uint32_t avail = dnode(c, (uint32_t)x)->available_instances;
        if (avail != ACCEL_INSTANCES_UNLIMITED && c->fam_inst[x] + 1 > avail)
            return ACCEL_CONSTRAINT_INSTANCES;
    }
    if (c->dev_stages[d] == 0 && !c->relaxed) {
        if (c->devs[d].iommu && c->iommu_budget && c->iommu_used + 1 > c->iommu_budget)
            return ACCEL_CONSTRAINT_IOMMU;
        steps = 0;
        for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D; x = c->devs[x].parent, steps++) {
            uint32_t max = dnode(c, (uint32_t)x)->max_address_spaces;
            if (max && c->fam_used[x] + 1 > max)
                return ACCEL_CONSTRAINT_IOMMU;
        }
    }
    if (!c->staged_ok) {
        for (uint32_t i = 0; i < si->use_count; i++) {
            if (!shares_memory(c, s, d, c->uses[si->use_begin + i].buffer, other))
                return ACCEL_CONSTRAINT_REACHABILITY;
        }
    }
    return ACCEL_CONSTRAINT_NONE;
}

void accel__pl_apply(pc *c, uint32_t s, uint32_t d)
{
    bool fresh = c->dev_stages[d]++ == 0;
    uint32_t steps = 0;
    for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D; x = c->devs[x].parent, steps++) {
        c->fam_inst[x]++;
        if (fresh)
            c->fam_used[x]++;
    }
    if (fresh) {
        c->iommu_used += c->devs[d].iommu;
        c->class_used[c->devs[d].klass]++;
    }
    c->stage_dev[s] = (int32_t)d;
    const stage_info *si = &c->stages[s];
    for (uint32_t i = 0; i < si->use_count; i++)
        c->buf_assigned[c->uses[si->use_begin + i].buffer]++;
}

void accel__pl_undo(pc *c, uint32_t s, uint32_t d)
{
    bool last = --c->dev_stages[d] == 0;
    uint32_t steps = 0;
    for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D; x = c->devs[x].parent, steps++) {
        c->fam_inst[x]--;
        if (last)
            c->fam_used[x]--;
    }
    if (last) {
        c->iommu_used -= c->devs[d].iommu;
        c->class_used[c->devs[d].klass]--;
    }
    c->stage_dev[s] = -1;
    const stage_info *si = &c->stages[s];
    for (uint32_t i = 0; i < si->use_count; i++)
        c->buf_assigned[c->uses[si->use_begin + i].buffer]--;
}

/* What completing s's buffers adds to the bound (INF: no home serves them). */
double accel__pl_completion(pc *c, uint32_t s)
{
    const stage_info *si = &c->stages[s];
    double extra = 0;
    for (uint32_t i = 0; i < si->use_count; i++) {
        uint32_t b = c->uses[si->use_begin + i].buffer;
        buf_info *bi = &c->bufs[b];
        if (c->buf_assigned[b] != bi->user_count)
            continue;
        double h = accel__pl_buffer_cost(c, b, c->stage_dev, NULL);
        if (h == INF)
            return INF;
        c->buf_cur[b] = h;
        double lb = bi->io_lb;
        for (uint32_t u = 0; u < bi->user_count; u++) {
            uint32_t d = (uint32_t)c->stage_dev[c->uses[bi->users[u]].stage];
            lb += accel__pl_access_lb(c->devs[d].reach, c->devs[d].reach_count, bi->bytes);
        }
        extra += h - lb > 0 ? h - lb : 0;
    }
    return extra;
}

/* Whether d is one symmetry lets the search skip: an unused device of a
 * class whose first unused member is another. */
bool accel__pl_symmetric_skip(const pc *c, uint32_t d)
{
    const dev_info *di = &c->devs[d];
    return c->class_size[di->klass] > 1 && di->class_pos > c->class_used[di->klass];
}

/* ---- the search ---- */

static void record_dead_end(pc *c, uint32_t depth, uint32_t s)
{
    if ((int32_t)depth <= c->dead_depth)
        return;
    c->dead_depth = (int32_t)depth;
    c->dead_stage = (int32_t)s;
    memcpy(c->dead_assign, c->stage_dev, c->S * sizeof(int32_t));
    c->dead_count = 0;
    const stage_info *si = &c->stages[s];
    for (uint32_t i = 0; i < si->cand_count; i++) {
        uint32_t d = si->cands[i].dev;
        int32_t other;
        accel_constraint k = accel__pl_dyn_check(c, s, d, &other);
        if (!k) {
            /* Passed the checks but no buffer home serves it. */
            k = ACCEL_CONSTRAINT_REACHABILITY;
        }
        c->dead[c->dead_count++] = (dead_reason){d, k, other};
    }
}

static bool out_of_time(pc *c)
{
    if (c->timed_out)
        return true;
    if (c->deadline && (++c->ticks & 255) == 0 && now_ns() > c->deadline)
        c->timed_out = true;
    return c->timed_out;
}

/* What a bound must reach to be pruned: the incumbent, less a rounding
 * margin (sums taken in different orders differ in their last bits). */
double accel__pl_cutoff(const pc *c)
{
    return c->best == INF ? INF : c->best * (1 - 1e-12);
}

uint32_t accel__pl_comp_at(const search *sr, uint32_t depth)
{
    return sr->comp ? sr->comp[depth] : 0;
}

static double node_bound(const search *sr, uint32_t k, double done, double pb)
{
    return done + (pb > sr->opt[k] ? pb : sr->opt[k]) + sr->tail[k];
}

void accel__pl_dfs(pc *c, const search *sr, uint32_t depth, double done, double pb, bool quiet)
{
    if (depth == sr->n) {
        if (done < c->best) {
            c->best = done;
            memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
        }
        return;
    }
    uint32_t s = sr->order[depth], k = accel__pl_comp_at(sr, depth);
    bool last = depth + 1 == sr->n || accel__pl_comp_at(sr, depth + 1) != k;
    const stage_info *si = &c->stages[s];
    bool alive = false;
    uint32_t start = sr->first ? sr->first[k] : 0, end = sr->end ? sr->end[k] : sr->n;
    bool failed = false;
    if (accel__pl_split(c, sr, depth, start, end, done, pb, k, quiet, &failed))
        return;
    /* Once a completion fell short here, the children only bound. */
    quiet |= failed;
    for (uint32_t i = 0; i < si->cand_count; i++) {
        const cand *cd = &si->cands[i];
        double cpb = pb - si->wmin + cd->w;
        double lb = node_bound(sr, k, done, cpb);
        if (lb >= accel__pl_cutoff(c)) {
            alive = true; /* pruned by cost, not a dead end */
            break;
        }
        if (out_of_time(c)) {
            if (lb < c->open_lb)
                c->open_lb = lb;
            return;
        }
        if (accel__pl_symmetric_skip(c, cd->dev))
            continue;
        int32_t other;
        if (accel__pl_dyn_check(c, s, cd->dev, &other))
            continue;
        c->nodes++;
        c->stage_cur[s] = cd->stage_cost;
        accel__pl_apply(c, s, cd->dev);
        double extra = accel__pl_completion(c, s);
        if (extra < INF) {
            alive = true;
            double npb = cpb + extra;
            if (last) {
                double ndone = done + npb;
                if (ndone + sr->tail[k] < accel__pl_cutoff(c))
                    accel__pl_dfs(c, sr, depth + 1, ndone,
                                  depth + 1 < sr->n ? sr->base[accel__pl_comp_at(sr, depth + 1)] : 0, false);
            } else if (node_bound(sr, k, done, npb) < accel__pl_cutoff(c)) {
                accel__pl_dfs(c, sr, depth + 1, done, npb, quiet);
            }
        }
        accel__pl_undo(c, s, cd->dev);
        if (c->timed_out) {
            if (lb < c->open_lb)
                c->open_lb = lb;
            return;
        }
    }
    if (!alive)
        record_dead_end(c, depth, s);
}

/* A first plan: each stage in order on the device that adds least. */
void accel__pl_greedy(pc *c, const search *sr)
{
    double done = 0, pb = sr->n ? sr->base[accel__pl_comp_at(sr, 0)] : 0;
    uint32_t depth = 0;
    for (; depth < sr->n; depth++) {
        uint32_t s = sr->order[depth], k = accel__pl_comp_at(sr, depth);
        const stage_info *si = &c->stages[s];
        double best = INF, best_pb = 0;
        int32_t best_d = -1;
        for (uint32_t i = 0; i < si->cand_count; i++) {
            const cand *cd = &si->cands[i];
            double cpb = pb - si->wmin + cd->w;
            if (cpb >= best)
                break;
            int32_t other;
            if (accel__pl_symmetric_skip(c, cd->dev) || accel__pl_dyn_check(c, s, cd->dev, &other))
                continue;
            accel__pl_apply(c, s, cd->dev);
            double v = cpb + accel__pl_completion(c, s);
            accel__pl_undo(c, s, cd->dev);
            if (v < best) {
                best = v;
                best_pb = v;
                best_d = (int32_t)cd->dev;
            }
        }
        if (best_d < 0)
            break;
        c->stage_cur[s] = accel__pl_find_cand(c, s, (uint32_t)best_d)->stage_cost;
        accel__pl_apply(c, s, (uint32_t)best_d);
        accel__pl_completion(c, s);
        pb = best_pb;
        if (depth + 1 == sr->n || accel__pl_comp_at(sr, depth + 1) != k) {
            done += pb;
            pb = depth + 1 < sr->n ? sr->base[accel__pl_comp_at(sr, depth + 1)] : 0;
        }
    }
    if (depth == sr->n && done < c->best) {
        c->best = done;
        memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
    }
    while (depth-- > 0) {
        uint32_t s = sr->order[depth];
        accel__pl_undo(c, s, (uint32_t)c->stage_dev[s]);
    }
}

double accel__pl_root_bound(const pc *c)
{
    double lb = 0;
    for (uint32_t s = 0; s < c->S; s++)
        lb += c->stages[s].wmin;
    for (uint32_t b = 0; b < c->B; b++)
        lb += c->bufs[b].io_lb;
    return lb;
}

void accel__pl_exhaustive(pc *c, uint32_t s, int32_t *dev)
{
    if (c->timed_out)
        return;
    if (s == c->S) {
        double cost;
        c->nodes++;
        if (c->deadline && (c->nodes & 1023) == 0 && now_ns() > c->deadline)
            c->timed_out = true;
        if (c->objective == ACCEL_PLACE_OBJECTIVE_THROUGHPUT) {
            if (!accel__pl_full_check(c, dev, &cost))
                accel__pl_offer(c, dev, cost);
        } else if (!accel__pl_full_check(c, dev, &cost) && cost < c->best) {
            c->best = cost;
            memcpy(c->best_dev, dev, c->S * sizeof(int32_t));
        }
        return;
    }
    for (uint32_t i = 0; i < c->stages[s].cand_count; i++) {
        dev[s] = (int32_t)c->stages[s].cands[i].dev;
        accel__pl_exhaustive(c, s + 1, dev);
    }
    dev[s] = -1;
}

/* The components' optima side by side, each on devices of its own where
 * identical devices allow (a component's solution stays as good on other
 * members of the same classes): when that fits every constraint, it is
 * optimal, since each component costs at least its optimum alone. */
static void combine(pc *c)
{
    uint32_t *next = accel__calloc(c->class_count + 1, sizeof(uint32_t));
    uint32_t *span = accel__calloc(c->class_count + 1, sizeof(uint32_t));
    int32_t *comb = accel__malloc((c->S + 1) * sizeof(int32_t));
    bool ok = next && span && comb;
    for (uint32_t k = 0; ok && k < c->comp_count; k++) {
        memset(span, 0, c->class_count * sizeof(uint32_t));
        for (uint32_t i = 0; ok && i < c->comp_len[k]; i++) {
            uint32_t s = c->order[c->comp_first[k] + i], d = (uint32_t)c->alone[s];
            uint32_t K = c->devs[d].klass, pos = c->devs[d].class_pos;
            if (c->class_size[K] == 1) {
                comb[s] = (int32_t)d;
                continue;
            }
            if (pos + next[K] >= c->class_size[K]) {
                ok = false;
                break;
            }
            comb[s] = (int32_t)c->class_member[c->class_first[K] + pos + next[K]];
            if (pos + 1 > span[K])
                span[K] = pos + 1;
        }
        for (uint32_t K = 0; K < c->class_count; K++)
            next[K] += span[K];
    }
    double cost;
    if (ok && !accel__pl_full_check(c, comb, &cost) && cost < c->best) {
        c->best = cost;
        memcpy(c->best_dev, comb, c->S * sizeof(int32_t));
    }
    if (!next || !span || !comb)
        c->oom = true;
    accel__free(next);
    accel__free(span);
    accel__free(comb);
}

/*
 * Each component alone first (a relaxation: not_with, instances and
 * address spaces shared with other components are ignored), which bounds
 * it for the whole search; then the components' optima together; then the
 * whole search. Returns false if a component alone has no plan: the
 * pipeline is infeasible and the dead end recorded there explains it.
 */
bool accel__pl_run_search(pc *c)
{
    static const double zero = 0;
    for (uint32_t k = 0; k < c->comp_count; k++) {
        search sub = {
            c->order + c->comp_first[k], c->comp_len[k], NULL, NULL, NULL, &zero, &zero, &c->comp_base[k], 0};
        c->best = INF;
        c->open_lb = INF;
        accel__pl_greedy(c, &sub);
        accel__pl_dfs(c, &sub, 0, 0, c->comp_base[k], false);
        if (c->best == INF && !c->timed_out)
            return false;
        double opt = c->timed_out ? (c->open_lb < c->best ? c->open_lb : c->best) : c->best;
        c->comp_opt[k] = opt < INF ? opt : c->comp_base[k];
        for (uint32_t i = 0; i < c->comp_len[k]; i++) {
            uint32_t s = c->order[c->comp_first[k] + i];
            c->alone[s] = c->best_dev[s];
        }
    }
    c->comp_tail[c->comp_count] = 0;
    for (uint32_t k = c->comp_count; k-- > 0;)
        c->comp_tail[k] = c->comp_tail[k + 1] + (k + 1 < c->comp_count ? c->comp_opt[k + 1] : 0);
    c->best = INF;
    c->open_lb = INF;
    c->dead_depth = -1;
    bool all = true;
    for (uint32_t s = 0; s < c->S; s++)
        all &= c->alone[s] >= 0;
    if (all && !c->timed_out)
        combine(c);
    search whole = {c->order,     c->S, c->depth_comp, c->comp_first, c->comp_end, c->comp_opt, c->comp_tail,
                    c->comp_base, 0};
    accel__pl_greedy(c, &whole);
    if (c->S)
        accel__pl_dfs(c, &whole, 0, 0, c->comp_base[c->depth_comp[0]], false);
    return true;
}
