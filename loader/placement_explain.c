/*
 * placement_explain.c — what the plan says: its skeleton (what it copies of
 * the topology and the pipeline, the candidates and the rejections), its
 * assignment with every cost, or the conflict that explains why there is
 * none (a stage no device passes, too few instances for every stage at
 * once, or the deepest dead end of the search). plan.c reads the plan out.
 */
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"

/* ---- instances: enough of them for every stage at once? ---- */

static bool match_stage(const pc *c, uint32_t s, int32_t *match, uint32_t *load, bool *visited,
                        uint32_t depth)
{
    const stage_info *si = &c->stages[s];
    if (depth > c->S)
        return false;
    for (uint32_t i = 0; i < si->cand_count; i++) {
        uint32_t d = si->cands[i].dev;
        uint32_t avail = dnode(c, d)->available_instances;
        if (visited[d])
            continue;
        visited[d] = true;
        if (avail == ACCEL_INSTANCES_UNLIMITED || load[d] < avail) {
            match[s] = (int32_t)d;
            load[d]++;
            return true;
        }
        for (uint32_t t = 0; t < c->S; t++) {
            if (match[t] != (int32_t)d)
                continue;
            match[t] = -1;
            if (match_stage(c, t, match, load, visited, depth + 1)) {
                match[s] = (int32_t)d;
                return true;
            }
            match[t] = (int32_t)d;
        }
    }
    return false;
}

/* The first stage (in search order) that cannot get an instance when every
 * stage needs one on one of its candidates, or -1. match[] keeps who holds
 * what. */
int32_t accel__pl_instance_shortage(const pc *c, int32_t *match, uint32_t *load, bool *visited)
{
    bool limited = false;
    for (uint32_t d = 0; d < c->D && !limited; d++)
        limited = dnode(c, d)->available_instances != ACCEL_INSTANCES_UNLIMITED;
    if (!limited)
        return -1;
    for (uint32_t s = 0; s < c->S; s++)
        match[s] = -1;
    memset(load, 0, c->D * sizeof(uint32_t));
    for (uint32_t k = 0; k < c->S; k++) {
        uint32_t s = c->order[k];
        memset(visited, 0, c->D * sizeof(bool));
        if (!match_stage(c, s, match, load, visited, 0))
            return (int32_t)s;
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The plan: its skeleton, its assignment and its conflicts                  */

/* Copy what the explanation needs from the topology and the pipeline. */
accel_result accel__pl_plan_skeleton(const pc *c, accel_plan *pl)
{
    const accel_pipeline *p = c->p;
    pl->stage_count = c->S;
    pl->buffer_count = c->B;
    pl->node_count = c->t->node_count;
    pl->pasid_bits = c->pasid_bits;
    pl->conflict_stage = -1;
    pl->detail = ACCEL__NO_STR;
    pl->cost = pl->lower_bound = INF;
    uint32_t args = 0, rejs = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        args += p->stages[s].pub.arg_count;
        rejs += c->stages[s].rej_count;
    }
    if (!(pl->stages = accel__calloc(c->S + 1, sizeof(*pl->stages))) ||
        !(pl->args = accel__calloc(args + 1, sizeof(*pl->args))) ||
        !(pl->buffers = accel__calloc(c->B + 1, sizeof(*pl->buffers))) ||
        !(pl->nodes = accel__calloc(pl->node_count + 1, sizeof(*pl->nodes))) ||
        !(pl->rejs = accel__calloc(rejs + 1, sizeof(*pl->rejs))) ||
        !(pl->alts = accel__calloc((size_t)c->S * 5 + 1, sizeof(*pl->alts))) ||
        !(pl->groups = accel__calloc(c->G + 1, sizeof(*pl->groups))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    pl->objective = c->objective;
    pl->streamed = (c->flags & ACCEL_PLACE_STREAMED) != 0;
    pl->group_count = c->G;
    pl->bottleneck = INF;
    pl->bottleneck_stage = -1;
    pl->bottleneck_group = UINT32_MAX;
    pl->pipeline_name = accel__plan_arena_add(pl, p->name);
    pl->source = accel__plan_arena_add(pl, p->source);
    for (uint32_t i = 0; i < pl->node_count; i++) {
        const accel__topo_node *n = &c->t->nodes[i];
        pl->nodes[i] = (accel__plan_node){accel__plan_arena_add(pl, n->name ? n->name : ""),
                                          accel__plan_arena_add(pl, n->driver_name),
                                          n->kind,
                                          n->device_kind,
                                          n->pasid_bits,
                                          n->available_instances,
                                          n->max_address_spaces,
                                          n->device_flags};
    }
    /* A group is named by its one device, by the bus address its devices
     * share (by its first device when they share a uuid instead), or as
     * the host's cores. */
    for (uint32_t g = 0; g < c->G; g++)
        pl->groups[g].name = ACCEL__NO_STR;
    for (uint32_t d = 0; d < c->D; d++) {
        uint32_t g = c->dev_group[d];
        if (pl->groups[g].name != ACCEL__NO_STR)
            continue;
        const accel__topo_node *n = dnode(c, d);
        if ((int32_t)g == c->host_group)
            pl->groups[g].name = accel__plan_arena_add(pl, "host");
        else if (c->group_size[g] > 1 && n->bus_address && n->bus_address[0])
            pl->groups[g].name = accel__plan_arena_add(pl, n->bus_address);
        else
            pl->groups[g].name = pl->nodes[c->devs[d].node].name;
    }
    for (uint32_t b = 0; b < c->B; b++) {
        const accel__pipe_buffer *pb = &p->buffers[b];
        if (pb->pub.producer < 0 && pb->pub.input_file && c->bufs[b].user_count)
            pl->input_bytes += (double)pb->pub.bytes;
    }
    args = rejs = 0;
    uint32_t alts = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        const accel__pipe_stage *st = &p->stages[s];
        const stage_info *si = &c->stages[s];
        accel__plan_stage *ps = &pl->stages[s];
        ps->name = accel__plan_arena_add(pl, st->pub.name);
        ps->function = accel__plan_arena_add(pl, st->pub.function);
        ps->program = accel__plan_arena_add(pl, st->pub.program);
        ps->format = st->pub.program_format;
        ps->want_kind = st->pub.kind;
        ps->want_driver = accel__plan_arena_add(pl, st->pub.driver);
        ps->want_uuid = accel__plan_arena_add(pl, st->pub.uuid);
        ps->want_device = accel__plan_arena_add(pl, st->pub.device);
        ps->device_node = UINT32_MAX;
        ps->arg_count = st->pub.arg_count;
        ps->arg_begin = args;
        for (uint32_t i = 0; i < st->pub.arg_count; i++)
            pl->args[args++] =
                (accel__plan_arg){st->args[i].kind == ACCEL_ARG_MEMORY ? (int32_t)st->args[i].buffer : -1,
                                  ACCEL_ATTACH_NONE, 0};
        ps->rej_begin = rejs;
        ps->rej_count = si->rej_count;
        for (uint32_t i = 0; i < si->rej_count; i++)
            pl->rejs[rejs++] =
                (accel__plan_rej){c->devs[si->rejs[i].dev].node, si->rejs[i].constraint, si->rejs[i].why};
        ps->alt_begin = alts;
        for (uint32_t i = 0; i < si->cand_count && ps->alt_count < 5; i++) {
            pl->alts[alts++] = (accel__plan_alt){c->devs[si->cands[i].dev].node, si->cands[i].w};
            ps->alt_count++;
        }
    }
    for (uint32_t b = 0; b < c->B; b++) {
        const accel__pipe_buffer *pb = &p->buffers[b];
        pl->buffers[b] = (accel__plan_buffer){accel__plan_arena_add(pl, pb->pub.name),
                                              pb->pub.bytes,
                                              UINT32_MAX,
                                              0,
                                              0,
                                              pb->pub.input_file != NULL,
                                              pb->pub.output_file != NULL,
                                              (double)pb->pub.bytes};
    }
    return pl->oom ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_SUCCESS;
}

/* Fill devices, homes, modes and costs from an assignment. */
void accel__pl_plan_fill(pc *c, accel_plan *pl, const int32_t *dev)
{
    double total = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        accel__plan_stage *ps = &pl->stages[s];
        const stage_info *si = &c->stages[s];
        ps->device_node = c->devs[dev[s]].node;
        for (uint32_t i = 0; i < si->cand_count; i++) {
            if ((int32_t)si->cands[i].dev == dev[s]) {
                ps->cost = si->cands[i].stage_cost;
                ps->source = si->cands[i].source;
            }
        }
        total += ps->cost;
    }
    for (uint32_t b = 0; b < c->B; b++) {
        accel__plan_buffer *pb = &pl->buffers[b];
        buf_info *bi = &c->bufs[b];
        uint32_t h;
        double n = accel__pl_buffer_bytes(c, b, dev);
        pb->cost = accel__pl_buffer_cost(c, b, dev, &h);
        pb->home = h < c->Mn ? c->mem_node[h] : UINT32_MAX;
        pb->io = h < c->Mn ? accel__pl_host_cost(c, b, h, n) : 0;
        pb->charged = n;
        total += pb->cost;
        for (uint32_t u = 0; u < bi->user_count && h < c->Mn; u++) {
            const use_info *us = &c->uses[bi->users[u]];
            const dev_info *di = &c->devs[dev[us->stage]];
            accel__plan_arg *pa = &pl->args[pl->stages[us->stage].arg_begin + us->arg];
            pa->cost = accel__pl_access_cost(c, di->reach, di->reach_count, h, n, c->staged_ok, &pa->mode);
            pl->stages[us->stage].transfer += pa->cost;
        }
    }
    pl->cost = total;
    /* Streamed: the groups' loads, computed as the search computed them. */
    pl->bottleneck = accel__pl_throughput(c, dev, c->tp_scratch);
    for (uint32_t g = 0; g < c->G; g++) {
        pl->groups[g].load = c->tp_scratch[g];
        if (pl->bottleneck_group == UINT32_MAX || c->tp_scratch[g] > c->tp_scratch[pl->bottleneck_group])
            pl->bottleneck_group = g;
    }
    double longest = -1;
    for (uint32_t s = 0; s < c->S; s++) {
        accel__plan_stage *ps = &pl->stages[s];
        ps->group = c->dev_group[dev[s]];
        if (ps->group == pl->bottleneck_group && ps->cost + ps->transfer > longest) {
            longest = ps->cost + ps->transfer;
            pl->bottleneck_stage = (int32_t)s;
        }
    }
}

/* ---- conflicts ---- */

static const char *node_name(const pc *c, uint32_t d)
{
    const char *n = dnode(c, d)->name;
    return n ? n : "?";
}

/* Device names, at most `limit` of them, then how many more. */
static void list_devices(accel__text *t, const pc *c, const uint32_t *devs, uint32_t n, uint32_t limit)
{
    for (uint32_t i = 0; i < n && i < limit; i++)
        accel__tx(t, "%s%s", i ? ", " : "", node_name(c, devs[i]));
    if (n > limit)
        accel__tx(t, " and %u more", n - limit);
}

static const char *stage_name(const pc *c, uint32_t s)
{
    return c->p->stages[s].pub.name;
}

/* A stage no device passes the per-stage checks for. */
void accel__pl_static_conflict(pc *c, uint32_t s, accel_plan *pl)
{
    const stage_info *si = &c->stages[s];
    const accel__pipe_stage *st = &c->p->stages[s];
    static const accel_constraint order[] = {ACCEL_CONSTRAINT_FUNCTION, ACCEL_CONSTRAINT_USER,
                                             ACCEL_CONSTRAINT_PASID, ACCEL_CONSTRAINT_INSTANCES,
                                             ACCEL_CONSTRAINT_REACHABILITY};
    uint32_t *devs = accel__calloc(c->D + 1, sizeof(uint32_t));
    accel__text t = {0};
    /* The checks run in this order; the last one that ruled anything out
     * took the last candidates. */
    accel_constraint binding = ACCEL_CONSTRAINT_FUNCTION;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (uint32_t i = 0; i < si->rej_count; i++)
            if (si->rejs[i].constraint == order[k])
                binding = order[k];
    if (c->D == 0)
        accel__tx(&t, "stage \"%s\" (%s): the topology has no devices", st->pub.name, st->pub.function);
    else
        accel__tx(&t, "stage \"%s\" (%s): no device is left", st->pub.name, st->pub.function);
    for (int pass = 0; pass < 2 && devs; pass++) {
        for (size_t k = sizeof(order) / sizeof(order[0]); k-- > 0;) {
            accel_constraint kc = order[k];
            if ((pass == 0) != (kc == binding))
                continue;
            uint32_t n = 0;
            uint8_t why = 0;
            for (uint32_t i = 0; i < si->rej_count; i++)
                if (si->rejs[i].constraint == kc) {
                    devs[n++] = si->rejs[i].dev;
                    why = si->rejs[i].why;
                }
            if (!n)
                continue;
            accel__tx(&t, "; %s ruled out ", accel_constraint_string(kc));
            list_devices(&t, c, devs, n, 16);
            switch (kc) {
            case ACCEL_CONSTRAINT_FUNCTION:
                if (st->pub.program)
                    accel__tx(&t, " (they do not take %s programs)",
                              accel__program_format_name(st->pub.program_format));
                else
                    accel__tx(&t, " (they do not offer %s)", st->pub.function);
                break;
            case ACCEL_CONSTRAINT_PASID:
                accel__tx(&t, " (SVA devices whose PASID width is below the process's %u bits)",
                          c->pasid_bits);
                if (n == 1)
                    accel__tx(&t, ": %s has %u", node_name(c, devs[0]), dnode(c, devs[0])->pasid_bits);
                break;
            case ACCEL_CONSTRAINT_INSTANCES: accel__tx(&t, " (no free instance, or isolated)"); break;
            case ACCEL_CONSTRAINT_REACHABILITY: accel__tx(&t, " (they reach no memory directly)"); break;
            case ACCEL_CONSTRAINT_USER:
                accel__tx(&t, " (the stage's %s)",
                          why == ACCEL__WHY_KIND     ? "kind"
                          : why == ACCEL__WHY_DRIVER ? "driver"
                          : why == ACCEL__WHY_UUID   ? "uuid"
                                                     : "device selector");
                break;
            default: break;
            }
        }
    }
    pl->constraint = binding;
    pl->conflict_stage = (int32_t)s;
    pl->detail = accel__plan_arena_add(pl, t.oom || !t.s ? "out of host memory while explaining" : t.s);
    accel__free(t.s);
    accel__free(devs);
}

void accel__pl_instance_conflict(pc *c, uint32_t s, const int32_t *match, accel_plan *pl)
{
    const stage_info *si = &c->stages[s];
    accel__text t = {0};
    accel__tx(&t, "stage \"%s\" (%s): no free instance on any device that can run it;", stage_name(c, s),
              c->p->stages[s].pub.function);
    for (uint32_t i = 0; i < si->cand_count && i < 16; i++) {
        uint32_t d = si->cands[i].dev;
        accel__tx(&t, "%s %s has %u", i ? "," : "", node_name(c, d), dnode(c, d)->available_instances);
        uint32_t n = 0;
        for (uint32_t k = 0; k < c->S; k++)
            if (match[k] == (int32_t)d)
                accel__tx(&t, "%s\"%s\"", n++ ? ", " : " (taken by ", stage_name(c, k));
        accel__tx(&t, "%s", n ? ")" : "");
    }
    if (si->cand_count > 16)
        accel__tx(&t, " and %u more devices", si->cand_count - 16);
    pl->constraint = ACCEL_CONSTRAINT_INSTANCES;
    pl->conflict_stage = (int32_t)s;
    pl->detail = accel__plan_arena_add(pl, t.oom || !t.s ? "out of host memory while explaining" : t.s);
    accel__free(t.s);
}

/* Which device (d or a whole device it is part of) has no instance left,
 * and which stages hold them. */
static void explain_instances(accel__text *t, const pc *c, uint32_t d)
{
    uint32_t steps = 0;
    for (int32_t x = (int32_t)d; x >= 0 && steps <= c->D; x = c->devs[x].parent, steps++) {
        uint32_t avail = dnode(c, (uint32_t)x)->available_instances;
        if (avail == ACCEL_INSTANCES_UNLIMITED || c->fam_inst[x] < avail)
            continue;
        accel__tx(t, " (%s%s has %u instance%s, taken by", (uint32_t)x == d ? "" : "part of ",
                  node_name(c, (uint32_t)x), avail, avail == 1 ? "" : "s");
        uint32_t n = 0;
        for (uint32_t s = 0; s < c->S; s++) {
            bool under = false;
            uint32_t k = 0;
            for (int32_t y = c->stage_dev[s]; y >= 0 && k <= c->D && !under; y = c->devs[y].parent, k++)
                under = y == x;
            if (under)
                accel__tx(t, "%s stage \"%s\"", n++ ? "," : "", c->p->stages[s].pub.name);
        }
        accel__tx(t, ")");
        return;
    }
}

/* The deepest point where the search found no device for a stage. */
void accel__pl_dead_end_conflict(pc *c, accel_plan *pl)
{
    static const accel_constraint order[] = {ACCEL_CONSTRAINT_INSTANCES, ACCEL_CONSTRAINT_IOMMU,
                                             ACCEL_CONSTRAINT_REACHABILITY, ACCEL_CONSTRAINT_USER};
    accel__text t = {0};
    if (c->dead_stage < 0) {
        pl->constraint = ACCEL_CONSTRAINT_NONE;
        accel__tx(&t, "the search stopped at the time limit before it found a plan");
        pl->detail = accel__plan_arena_add(pl, t.s ? t.s : "");
        accel__free(t.s);
        return;
    }
    uint32_t s = (uint32_t)c->dead_stage;
    uint32_t counts[4] = {0};
    for (uint32_t i = 0; i < c->dead_count; i++)
        for (int k = 0; k < 4; k++)
            counts[k] += c->dead[i].constraint == order[k];
    int top = 0;
    for (int k = 1; k < 4; k++)
        if (counts[k] > counts[top])
            top = k;
    /* Explain against the assignment the search had there. */
    for (uint32_t k = 0; k < c->S; k++)
        if (c->dead_assign[k] >= 0)
            accel__pl_apply(c, k, (uint32_t)c->dead_assign[k]);
    accel__tx(&t, "stage \"%s\" (%s): every device that can run it is ruled out once", stage_name(c, s),
              c->p->stages[s].pub.function);
    uint32_t n = 0;
    for (uint32_t k = 0; k < c->S; k++)
        if (c->dead_assign[k] >= 0 && k != s)
            accel__tx(&t, "%s\"%s\" is on %s", n++ ? ", " : " ", stage_name(c, k),
                      node_name(c, (uint32_t)c->dead_assign[k]));
    if (n > 0)
        accel__tx(&t, ":");
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < 4; k++) {
            if ((pass == 0) != (k == top) || !counts[k])
                continue;
            accel__tx(&t, " %s ruled out", accel_constraint_string(order[k]));
            uint32_t shown = 0;
            for (uint32_t i = 0; i < c->dead_count; i++) {
                const dead_reason *dr = &c->dead[i];
                if (dr->constraint != order[k])
                    continue;
                if (shown++ == 16) {
                    accel__tx(&t, " and more");
                    break;
                }
                accel__tx(&t, "%s %s", shown > 1 ? "," : "", node_name(c, dr->dev));
                switch (order[k]) {
                case ACCEL_CONSTRAINT_INSTANCES: explain_instances(&t, c, dr->dev); break;
                case ACCEL_CONSTRAINT_IOMMU:
                    if (c->iommu_budget && c->devs[dr->dev].iommu)
                        accel__tx(&t, " (the budget of %u IOMMU context%s is spent)", c->iommu_budget,
                                  c->iommu_budget == 1 ? "" : "s");
                    else
                        accel__tx(&t, " (no address space left)");
                    break;
                case ACCEL_CONSTRAINT_REACHABILITY:
                    if (dr->other_stage >= 0)
                        accel__tx(&t,
                                  " (no memory it reaches directly is reached directly by %s, the device of "
                                  "stage \"%s\")",
                                  node_name(c, (uint32_t)c->dead_assign[dr->other_stage]),
                                  stage_name(c, (uint32_t)dr->other_stage));
                    else
                        accel__tx(&t, " (no home for its buffers serves every use)");
                    break;
                case ACCEL_CONSTRAINT_USER:
                    if (dr->other_stage >= 0)
                        accel__tx(&t, " (not_with stage \"%s\", which is there)",
                                  stage_name(c, (uint32_t)dr->other_stage));
                    break;
                default: break;
                }
            }
            accel__tx(&t, ";");
        }
    }
    if (t.s && t.len && t.s[t.len - 1] == ';')
        t.s[--t.len] = '\0';
    for (uint32_t k = 0; k < c->S; k++)
        if (c->dead_assign[k] >= 0)
            accel__pl_undo(c, k, (uint32_t)c->dead_assign[k]);
    pl->constraint = order[top];
    pl->conflict_stage = (int32_t)s;
    pl->detail = accel__plan_arena_add(pl, t.oom || !t.s ? "out of host memory while explaining" : t.s);
    accel__free(t.s);
}
