/*
 * placement.c — place a pipeline's stages on a topology's devices and its
 * buffers on memory nodes, at the lowest estimated cost, under the
 * constraints of docs/pipelines.md; explain the result or the conflict.
 *
 * The entry points: options, the checks that need no search, the search,
 * the plan. The work is in placement_cost.c (the cost model),
 * placement_build.c (the search's context), placement_search.c and
 * placement_groups.c (the branch and bound, and the exhaustive reference),
 * placement_explain.c (the plan and its conflicts); placement_internal.h
 * has what they share. plan.c holds the plan's storage and reads it out
 * (getters, text and JSON).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "os.h"
#include "placement_internal.h"

const char *accel_constraint_string(accel_constraint constraint)
{
    switch (constraint) {
    case ACCEL_CONSTRAINT_NONE: return "none";
    case ACCEL_CONSTRAINT_FUNCTION: return "function";
    case ACCEL_CONSTRAINT_INSTANCES: return "instances";
    case ACCEL_CONSTRAINT_PASID: return "pasid";
    case ACCEL_CONSTRAINT_IOMMU: return "iommu";
    case ACCEL_CONSTRAINT_REACHABILITY: return "reachability";
    case ACCEL_CONSTRAINT_USER: return "user";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

static accel_result read_options(const accel_place_options *options, accel_place_options *o)
{
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    if (!options)
        return ACCEL_SUCCESS;
    if (options->struct_size < 2 * sizeof(uint32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_place: options->struct_size %u is too small",
                            options->struct_size);
    size_t n = options->struct_size < sizeof(*o) ? options->struct_size : sizeof(*o);
    memcpy(o, options, n);
    if (o->flags & ~(uint32_t)(ACCEL_PLACE_NO_STAGED | ACCEL_PLACE_EXHAUSTIVE | ACCEL_PLACE_STREAMED))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_place: unknown flags 0x%x in options->flags",
                            o->flags & ~(uint32_t)(ACCEL_PLACE_NO_STAGED | ACCEL_PLACE_EXHAUSTIVE | ACCEL_PLACE_STREAMED));
    if (o->objective != ACCEL_PLACE_OBJECTIVE_LATENCY && o->objective != ACCEL_PLACE_OBJECTIVE_THROUGHPUT)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_place: options->objective %u is neither latency (0) nor throughput (1)",
                            (unsigned)o->objective);
    if (o->process_pasid_bits > 32)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_place: options->process_pasid_bits %u is more than 32",
                            o->process_pasid_bits);
    /* The search always has a time limit (docs/limits.md). */
    if (o->time_limit_ns == 0) {
        const char *env = accel__getenv("ACCEL_PLACE_TIME_LIMIT_MS");
        o->time_limit_ns = ACCEL_PLACE_DEFAULT_TIME_LIMIT_NS;
        if (env && *env) {
            uint64_t ms;
            char why[96];
            if (!accel__parse_uint(env, 0, 1, UINT64_MAX / 1000000, &ms, why, sizeof(why)))
                return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                    "accel_place: ACCEL_PLACE_TIME_LIMIT_MS=\"%.40s\" is not a number of "
                                    "milliseconds (1 or more): %s",
                                    env, why);
            o->time_limit_ns = ms * 1000000;
        }
    }
    return ACCEL_SUCCESS;
}

static accel_result place_once(const accel_topology *topology, const accel_pipeline *pipeline,
                               accel_place_options o, bool stream_only, accel_plan **plan);

/*
 * With ACCEL_PLACE_STREAMED the run can stream only if every stage's device
 * has its stream form: placement first keeps each stage to such devices
 * (where every stage is a standard function with a stream form somewhere,
 * else nothing can stream anyway); if that leaves no plan, it places again
 * without the restriction, for a run in whole buffers.
 */
accel_result accel_place(const accel_topology *topology, const accel_pipeline *pipeline,
                         const accel_place_options *options, accel_plan **plan)
{
    ACCEL__HANDLE_USE(topology, ACCEL__HANDLE_TOPOLOGY, "accel_place", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_place", ACCEL_ERROR_INVALID_HANDLE);
    if (!topology || !pipeline || !plan)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_place: %s is NULL",
                            !topology   ? "topology"
                            : !pipeline ? "pipeline"
                                        : "plan");
    accel_place_options o;
    accel_result r = read_options(options, &o);
    if (r)
        return r;
    if (!(o.flags & ACCEL_PLACE_STREAMED) || !accel__pl_streamable(topology, pipeline))
        return place_once(topology, pipeline, o, false, plan);
    r = place_once(topology, pipeline, o, true, plan);
    if (r != ACCEL_ERROR_INFEASIBLE)
        return r;
    accel_plan_destroy(*plan);
    *plan = NULL;
    return place_once(topology, pipeline, o, false, plan);
}

static accel_result place_once(const accel_topology *topology, const accel_pipeline *pipeline,
                               accel_place_options o, bool stream_only, accel_plan **plan)
{
    accel_result r;
    pc c;
    accel_plan *pl = accel__calloc(1, sizeof(*pl));
    if (pl && accel__handle_add(pl, ACCEL__HANDLE_PLAN)) {
        accel__free(pl);
        pl = NULL;
    }
    if (!pl)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_place: out of host memory");
    if (stream_only)
        o.flags |= ACCEL__PLACE_STREAM_ONLY;
    uint64_t started = now_ns();
    pl->time_limit_ns = o.time_limit_ns;
    if ((r = accel__pl_pc_init(&c, topology, pipeline, &o)) || (r = accel__pl_plan_skeleton(&c, pl)))
        goto fail;

    int32_t empty = -1;
    for (uint32_t s = 0; s < c.S && empty < 0; s++)
        if (c.stages[s].cand_count == 0)
            empty = (int32_t)s;
    if (empty >= 0) {
        accel__pl_static_conflict(&c, (uint32_t)empty, pl);
        pl->optimal = true;
        goto infeasible;
    }
    int32_t *match = accel__malloc((c.S + 1) * sizeof(int32_t));
    uint32_t *load = accel__malloc((c.D + 1) * sizeof(uint32_t));
    bool *visited = accel__malloc((c.D + 1) * sizeof(bool));
    if (!match || !load || !visited) {
        accel__free(match);
        accel__free(load);
        accel__free(visited);
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    int32_t short_stage = accel__pl_instance_shortage(&c, match, load, visited);
    if (short_stage >= 0)
        accel__pl_instance_conflict(&c, (uint32_t)short_stage, match, pl);
    accel__free(match);
    accel__free(load);
    accel__free(visited);
    if (short_stage >= 0) {
        pl->optimal = true;
        goto infeasible;
    }

    bool throughput = o.objective == ACCEL_PLACE_OBJECTIVE_THROUGHPUT;
    if (o.flags & ACCEL_PLACE_EXHAUSTIVE) {
        int32_t *dev = accel__malloc((c.S + 1) * sizeof(int32_t));
        if (!dev) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        accel__pl_exhaustive(&c, 0, dev);
        accel__free(dev);
        if (throughput)
            pl->lower_bound = c.timed_out ? accel__pl_throughput_bound(&c) : c.tp_best;
        else
            pl->lower_bound = c.timed_out ? accel__pl_root_bound(&c) : c.best;
    } else if (throughput) {
        accel__pl_run_throughput(&c);
        if (c.oom) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        /* At the time limit: the least bound of what is left open, or of
         * everything when the latency search took all the time. */
        double open = c.tp_open_lb < c.tp_best ? c.tp_open_lb : c.tp_best;
        pl->lower_bound = !c.timed_out ? c.tp_best : open < INF ? open : accel__pl_throughput_bound(&c);
    } else {
        accel__pl_run_search(&c);
        if (c.oom) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        pl->lower_bound = c.timed_out ? (c.open_lb < c.best ? c.open_lb : c.best) : c.best;
    }
    pl->explored = c.nodes;
    pl->optimal = !c.timed_out;
    pl->search_ns = now_ns() - started;
    if (c.best == INF && c.timed_out) {
        pl->constraint = ACCEL_CONSTRAINT_NONE;
        char why[128];
        snprintf(why, sizeof(why), "the search stopped early after %llu ms (time limit %llu ms) before it found a plan",
                 (unsigned long long)(pl->search_ns / 1000000), (unsigned long long)(o.time_limit_ns / 1000000));
        pl->detail = accel__plan_arena_add(pl, why);
        goto infeasible;
    }
    if (c.best == INF) {
        if (o.flags & ACCEL_PLACE_EXHAUSTIVE) {
            /* Explain with the search's dead ends. */
            uint64_t nodes = c.nodes;
            c.timed_out = false;
            accel__pl_run_search(&c);
            c.nodes = nodes;
        }
        accel__pl_dead_end_conflict(&c, pl);
        goto infeasible;
    }
    accel__pl_plan_fill(&c, pl, c.best_dev);
    double achieved = throughput ? pl->bottleneck : pl->cost;
    if (pl->lower_bound > achieved || !c.timed_out)
        pl->lower_bound = achieved;
    pl->feasible = true;
    if (pl->oom) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    accel__pl_pc_free(&c);
    *plan = pl;
    return ACCEL_SUCCESS;

infeasible:
    if (pl->oom) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    pl->lower_bound = INF;
    pl->cost = INF;
    accel__pl_pc_free(&c);
    *plan = pl;
    return accel__error(ACCEL_ERROR_INFEASIBLE, "%s: infeasible (%s): %s", accel__plan_str(pl, pl->source),
                        accel_constraint_string(pl->constraint), accel__plan_str(pl, pl->detail));
fail:
    accel__pl_pc_free(&c);
    accel_plan_destroy(pl);
    return accel__error(r, "accel_place: %s",
                        r == ACCEL_ERROR_OUT_OF_HOST_MEMORY ? "out of host memory" : accel_result_string(r));
}

accel_result accel__place_evaluate(const accel_topology *topology, const accel_pipeline *pipeline,
                                   const accel_place_options *options, const uint32_t *devices,
                                   double *cost_ns)
{
    return accel__place_evaluate2(topology, pipeline, options, devices, cost_ns, NULL);
}

accel_result accel__place_evaluate2(const accel_topology *topology, const accel_pipeline *pipeline,
                                    const accel_place_options *options, const uint32_t *devices,
                                    double *cost_ns, double *bottleneck_ns)
{
    accel_place_options o;
    accel_result r = read_options(options, &o);
    if (r)
        return r;
    pc c;
    int32_t *dev = NULL;
    if ((r = accel__pl_pc_init(&c, topology, pipeline, &o)) ||
        !(dev = accel__malloc((c.S + 1) * sizeof(int32_t)))) {
        accel__pl_pc_free(&c);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel__place_evaluate: out of host memory");
    }
    for (uint32_t s = 0; s < c.S; s++) {
        if (devices[s] >= topology->node_count || c.node_dev[devices[s]] < 0) {
            r = accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "stage %u: node %u is not a device", s,
                             devices[s]);
            goto out;
        }
        dev[s] = c.node_dev[devices[s]];
    }
    double cost;
    accel_constraint k = accel__pl_full_check(&c, dev, &cost);
    if (k) {
        r = accel__error(ACCEL_ERROR_INFEASIBLE, "the assignment violates the %s constraint",
                         accel_constraint_string(k));
        goto out;
    }
    *cost_ns = cost;
    if (bottleneck_ns)
        *bottleneck_ns = accel__pl_throughput(&c, dev, c.tp_scratch);
out:
    accel__free(dev);
    accel__pl_pc_free(&c);
    return r;
}
