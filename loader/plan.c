/*
 * plan.c — the plan accel_place returns: its storage (the arrays of
 * placement.h and the string arena they point into) and how it is read
 * out: the accel_plan_* getters, accel_plan_describe (text) and
 * accel_plan_export_json. placement.c fills a plan; this file never looks
 * at the topology or the pipeline, only at what the plan copied of them.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* The plan                                                                  */

uint32_t accel__plan_arena_add(accel_plan *pl, const char *s)
{
    if (!s)
        return ACCEL__NO_STR;
    size_t n = strlen(s) + 1;
    if (pl->arena_len + n > pl->arena_cap) {
        size_t cap = pl->arena_cap ? pl->arena_cap * 2 : 4096;
        while (cap < pl->arena_len + n)
            cap *= 2;
        char *g = accel__realloc(pl->arena, cap);
        if (!g) {
            pl->oom = true;
            return ACCEL__NO_STR;
        }
        pl->arena = g;
        pl->arena_cap = cap;
    }
    memcpy(pl->arena + pl->arena_len, s, n);
    uint32_t off = (uint32_t)pl->arena_len;
    pl->arena_len += n;
    return off;
}

const char *accel__plan_str(const accel_plan *pl, uint32_t off)
{
    return off == ACCEL__NO_STR || !pl->arena ? "" : pl->arena + off;
}

accel_result accel_plan_destroy(accel_plan *plan)
{
    ACCEL__HANDLE_DESTROY(plan, ACCEL__HANDLE_PLAN, "accel_plan_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (!plan)
        return ACCEL_SUCCESS;
    accel__free(plan->stages);
    accel__free(plan->args);
    accel__free(plan->buffers);
    accel__free(plan->nodes);
    accel__free(plan->rejs);
    accel__free(plan->alts);
    accel__free(plan->groups);
    accel__free(plan->arena);
    accel__free(plan);
    return ACCEL_SUCCESS;
}

/* ---- a growing string ---- */

void accel__tx(accel__text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->s && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *g = accel__realloc(t->s, cap);
        if (!g) {
            t->oom = true;
            return;
        }
        t->s = g;
        t->cap = cap;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading the plan                                                          */

/* Streamed: the input bytes the busiest group lets through per second. */
static double bytes_per_second(const accel_plan *pl)
{
    if (!(pl->input_bytes > 0 && pl->bottleneck > 0 && isfinite(pl->bottleneck)))
        return 0;
    return pl->input_bytes * 1e9 / pl->bottleneck;
}

accel_result accel_plan_get_summary(const accel_plan *plan, accel_plan_summary *summary)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_get_summary", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_plan_get_summary", "plan", plan, summary);
    if (r)
        return r;
    accel_plan_summary full = {
        .struct_size = sizeof(full),
        .feasible = plan->feasible,
        .optimal = plan->optimal,
        .cost_ns = plan->cost,
        .lower_bound_ns = plan->lower_bound,
        .nodes_explored = plan->explored,
        .objective = plan->objective,
        .bottleneck_ns = plan->feasible ? plan->bottleneck : INFINITY,
        .bottleneck_stage = plan->feasible ? plan->bottleneck_stage : -1,
        .bottleneck_group = plan->feasible && plan->bottleneck_group < plan->group_count
                                ? accel__plan_str(plan, plan->groups[plan->bottleneck_group].name)
                                : "",
        .bytes_per_second = plan->feasible ? bytes_per_second(plan) : 0,
    };
    accel__copy_out(summary, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

static accel_result check_feasible(const char *fn, const accel_plan *plan)
{
    if (!plan->feasible)
        return accel__error(ACCEL_ERROR_INFEASIBLE, "%s: the plan is infeasible (%s); see accel_plan_get_conflict",
                            fn, accel_constraint_string(plan->constraint));
    return ACCEL_SUCCESS;
}

accel_result accel_plan_get_stage(const accel_plan *plan, uint32_t stage, accel_plan_stage *out)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_get_stage", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_plan_get_stage", "plan", plan, out);
    if (r || (r = check_feasible("accel_plan_get_stage", plan)))
        return r;
    if (stage >= plan->stage_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_plan_get_stage: the plan has %u stages, no stage %u",
                            plan->stage_count, stage);
    const accel__plan_stage *ps = &plan->stages[stage];
    accel_plan_stage full = {.struct_size = sizeof(full),
                             .device_node = ps->device_node,
                             .cost_ns = ps->cost,
                             .transfer_ns = ps->transfer};
    accel__copy_out(out, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_plan_get_buffer(const accel_plan *plan, uint32_t buffer, accel_plan_buffer *out)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_get_buffer", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_plan_get_buffer", "plan", plan, out);
    if (r || (r = check_feasible("accel_plan_get_buffer", plan)))
        return r;
    if (buffer >= plan->buffer_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_plan_get_buffer: the plan has %u buffers, no buffer %u", plan->buffer_count, buffer);
    accel_plan_buffer full = {.struct_size = sizeof(full),
                              .home_node = plan->buffers[buffer].home,
                              .cost_ns = plan->buffers[buffer].cost};
    accel__copy_out(out, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_plan_get_use(const accel_plan *plan, uint32_t stage, uint32_t arg, accel_attach_mode *mode)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_get_use", ACCEL_ERROR_INVALID_HANDLE);
    if (!plan || !mode)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_plan_get_use: %s is NULL", plan ? "mode" : "plan");
    accel_result r = check_feasible("accel_plan_get_use", plan);
    if (r)
        return r;
    if (stage >= plan->stage_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_plan_get_use: the plan has %u stages, no stage %u",
                            plan->stage_count, stage);
    const accel__plan_stage *ps = &plan->stages[stage];
    if (arg >= ps->arg_count || plan->args[ps->arg_begin + arg].buffer < 0)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_plan_get_use: argument %u of stage \"%s\" is not a buffer", arg,
                            accel__plan_str(plan, ps->name));
    *mode = plan->args[ps->arg_begin + arg].mode;
    return ACCEL_SUCCESS;
}

accel_result accel_plan_get_conflict(const accel_plan *plan, accel_plan_conflict *conflict)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_get_conflict", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_plan_get_conflict", "plan", plan, conflict);
    if (r)
        return r;
    accel_plan_conflict full = {.struct_size = sizeof(full),
                                .constraint = plan->feasible ? ACCEL_CONSTRAINT_NONE : plan->constraint,
                                .stage = plan->feasible ? -1 : plan->conflict_stage,
                                .detail = plan->feasible ? "" : accel__plan_str(plan, plan->detail)};
    accel__copy_out(conflict, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

/* ---- text ---- */

static void fmt_ns(char *buf, size_t size, double ns)
{
    if (!isfinite(ns))
        accel__fmt(buf, size, "-");
    else if (ns < 1e3)
        accel__fmt(buf, size, "%.0f ns", ns);
    else if (ns < 1e6)
        accel__fmt(buf, size, "%.1f us", ns / 1e3);
    else if (ns < 1e9)
        accel__fmt(buf, size, "%.2f ms", ns / 1e6);
    else
        accel__fmt(buf, size, "%.3f s", ns / 1e9);
}

static void fmt_bytes(char *buf, size_t size, uint64_t n)
{
    if (n >= (1ull << 30))
        accel__fmt(buf, size, "%.1f GiB", (double)n / (double)(1ull << 30));
    else if (n >= (1ull << 20))
        accel__fmt(buf, size, "%.1f MiB", (double)n / (double)(1ull << 20));
    else if (n >= (1ull << 10))
        accel__fmt(buf, size, "%.1f KiB", (double)n / 1024.0);
    else
        accel__fmt(buf, size, "%llu B", (unsigned long long)n);
}

static void fmt_rate(char *buf, size_t size, double bps)
{
    if (bps >= (double)(1ull << 30))
        accel__fmt(buf, size, "%.2f GiB/s", bps / (double)(1ull << 30));
    else if (bps >= (double)(1ull << 20))
        accel__fmt(buf, size, "%.1f MiB/s", bps / (double)(1ull << 20));
    else if (bps >= 1024)
        accel__fmt(buf, size, "%.1f KiB/s", bps / 1024.0);
    else
        accel__fmt(buf, size, "%.0f B/s", bps);
}

static bool throughput(const accel_plan *pl)
{
    return pl->objective == ACCEL_PLACE_OBJECTIVE_THROUGHPUT;
}

/* Streamed: the compute groups that run stages, their loads and stages, and
 * the bottleneck with the rate it allows. */
static void describe_groups(const accel_plan *pl, accel__text *t)
{
    char a[32], r[32];
    accel__tx(t, "\nstreamed: every stage busy at once; the busiest compute group sets the rate\n");
    accel__tx(t, "%-20s %12s  %s\n", "compute group", "per pass", "stages");
    for (uint32_t g = 0; g < pl->group_count; g++) {
        uint32_t n = 0;
        for (uint32_t s = 0; s < pl->stage_count; s++) {
            if (pl->stages[s].group != g)
                continue;
            if (!n++) {
                fmt_ns(a, sizeof(a), pl->groups[g].load);
                accel__tx(t, "%-20s %12s  ", accel__plan_str(pl, pl->groups[g].name), a);
            }
            accel__tx(t, "%s%s", n > 1 ? ", " : "", accel__plan_str(pl, pl->stages[s].name));
        }
        if (n)
            accel__tx(t, "%s\n", g == pl->bottleneck_group ? "  (bottleneck)" : "");
    }
    fmt_ns(a, sizeof(a), pl->bottleneck);
    accel__tx(t, "bottleneck %s: %s per pass", accel__plan_str(pl, pl->groups[pl->bottleneck_group].name), a);
    if (pl->bottleneck_stage >= 0)
        accel__tx(t, " (its longest stage: %s)", accel__plan_str(pl, pl->stages[pl->bottleneck_stage].name));
    double rate = bytes_per_second(pl);
    if (rate > 0) {
        fmt_rate(r, sizeof(r), rate);
        accel__tx(t, "; expected %s of input\n", r);
    } else {
        accel__tx(t, "; no input file to give a rate in bytes\n");
    }
}

static const char *source_string(accel_value_source s)
{
    switch (s) {
    case ACCEL_SOURCE_OS: return "os";
    case ACCEL_SOURCE_HMAT: return "hmat";
    case ACCEL_SOURCE_DRIVER: return "driver hint";
    case ACCEL_SOURCE_USER: return "user";
    case ACCEL_SOURCE_ESTIMATE: return "estimate";
    case ACCEL_SOURCE_MEASURED: return "measured";
    default: return "none";
    }
}

static const char *pnode(const accel_plan *pl, uint32_t node)
{
    return node < pl->node_count ? accel__plan_str(pl, pl->nodes[node].name) : "-";
}

/* Why a per-stage check ruled a device out, in words. */
static void rej_reason(accel__text *t, const accel_plan *pl, const accel__plan_stage *ps,
                       const accel__plan_rej *rj)
{
    const accel__plan_node *n = &pl->nodes[rj->node];
    switch (rj->why) {
    case ACCEL__WHY_FUNCTION: accel__tx(t, "does not offer %s", accel__plan_str(pl, ps->function)); break;
    case ACCEL__WHY_NO_STREAM_FORM:
        accel__tx(t, "does not offer %s.stream (the run streams)", accel__plan_str(pl, ps->function));
        break;
    case ACCEL__WHY_FORMAT:
        accel__tx(t, "does not take %s programs", accel__program_format_name(ps->format));
        break;
    case ACCEL__WHY_KIND:
        accel__tx(t, "is %s, the stage wants %s", accel_device_kind_string(n->device_kind),
                  accel_device_kind_string(ps->want_kind));
        break;
    case ACCEL__WHY_DRIVER:
        accel__tx(t, "driver \"%s\" does not match \"%s\"", accel__plan_str(pl, n->driver),
                  accel__plan_str(pl, ps->want_driver));
        break;
    case ACCEL__WHY_UUID:
        accel__tx(t, "uuid does not start with %s", accel__plan_str(pl, ps->want_uuid));
        break;
    case ACCEL__WHY_SELECTOR:
        accel__tx(t, "not selected by \"%s\"", accel__plan_str(pl, ps->want_device));
        break;
    case ACCEL__WHY_PASID:
        accel__tx(t, "PASID width %u bits is below the process's %u", n->pasid_bits, pl->pasid_bits);
        break;
    case ACCEL__WHY_NO_INSTANCES: accel__tx(t, "no available instance (it or its parent)"); break;
    case ACCEL__WHY_ISOLATED: accel__tx(t, "isolated"); break;
    case ACCEL__WHY_NO_MEMORY: accel__tx(t, "reaches no memory directly"); break;
    default: accel__tx(t, "ruled out"); break;
    }
}

static void describe(const accel_plan *pl, bool explain, accel__text *t)
{
    char a[32], b[32], c[32];
    if (!pl->feasible) {
        accel__tx(t, "pipeline %s: infeasible: %s constraint", accel__plan_str(pl, pl->pipeline_name),
                  accel_constraint_string(pl->constraint));
        if (pl->conflict_stage >= 0)
            accel__tx(t, " at stage %s", accel__plan_str(pl, pl->stages[pl->conflict_stage].name));
        accel__tx(t, "\n  %s\n", accel__plan_str(pl, pl->detail));
    } else {
        fmt_ns(a, sizeof(a), throughput(pl) ? pl->bottleneck : pl->cost);
        char early[96];
        snprintf(early, sizeof(early), "stopped early after %llu ms: best found so far",
                 (unsigned long long)(pl->search_ns / 1000000));
        accel__tx(t, "pipeline %s: estimated %s%s (%s; %llu search nodes", accel__plan_str(pl, pl->pipeline_name), a,
                  throughput(pl) ? " per pass, streamed" : "", pl->optimal ? "optimal" : early,
                  (unsigned long long)pl->explored);
        if (!pl->optimal) {
            fmt_ns(b, sizeof(b), pl->lower_bound);
            accel__tx(t, "; lower bound %s", b);
        }
        accel__tx(t, ")\n\n%-16s %-16s %-16s %12s %12s\n", "stage", "function", "device", "compute",
                  "transfers");
        for (uint32_t s = 0; s < pl->stage_count; s++) {
            const accel__plan_stage *ps = &pl->stages[s];
            fmt_ns(a, sizeof(a), ps->cost);
            fmt_ns(b, sizeof(b), ps->transfer);
            accel__tx(t, "%-16s %-16s %-16s %12s %12s  (%s)\n", accel__plan_str(pl, ps->name),
                      accel__plan_str(pl, ps->function), pnode(pl, ps->device_node), a, b,
                      source_string(ps->source));
            for (uint32_t i = 0; i < ps->arg_count; i++) {
                const accel__plan_arg *pa = &pl->args[ps->arg_begin + i];
                if (pa->buffer < 0)
                    continue;
                fmt_ns(a, sizeof(a), pa->cost);
                accel__tx(t, "    arg %-2u %-16s %-10s on %-14s %12s\n", i,
                          accel__plan_str(pl, pl->buffers[pa->buffer].name),
                          accel_attach_mode_string(pa->mode), pnode(pl, pl->buffers[pa->buffer].home), a);
            }
        }
        accel__tx(t, "\n%-16s %10s %-16s %12s %12s\n", "buffer", "size", "home", "transfers", "file i/o");
        for (uint32_t i = 0; i < pl->buffer_count; i++) {
            const accel__plan_buffer *pb = &pl->buffers[i];
            fmt_bytes(c, sizeof(c), pb->bytes);
            fmt_ns(a, sizeof(a), pb->cost);
            fmt_ns(b, sizeof(b), pb->io);
            accel__tx(t, "%-16s %10s %-16s %12s %12s", accel__plan_str(pl, pb->name), c, pnode(pl, pb->home), a,
                      pb->input || pb->output ? b : "");
            /* A zlib output is charged for what it is expected to hold. */
            if (pb->charged < (double)pb->bytes) {
                fmt_bytes(c, sizeof(c), (uint64_t)pb->charged);
                accel__tx(t, "  (charged for %s)", c);
            }
            accel__tx(t, "\n");
        }
        fmt_ns(a, sizeof(a), pl->cost);
        if (throughput(pl) || pl->streamed) {
            accel__tx(t, "\none pass alone %s (stages one after another)\n", a);
            describe_groups(pl, t);
        } else {
            accel__tx(t, "\ntotal %s (stages run one after another; overlap is not modeled)\n", a);
        }
    }
    if (!explain)
        return;
    accel__tx(t, "\ncandidates:\n");
    for (uint32_t s = 0; s < pl->stage_count; s++) {
        const accel__plan_stage *ps = &pl->stages[s];
        accel__tx(t, "  %s (%s):\n", accel__plan_str(pl, ps->name), accel__plan_str(pl, ps->function));
        if (ps->alt_count) {
            accel__tx(t, "    cheapest devices (compute + best memory access):");
            for (uint32_t i = 0; i < ps->alt_count; i++) {
                fmt_ns(a, sizeof(a), pl->alts[ps->alt_begin + i].estimate);
                accel__tx(t, "%s %s %s", i ? "," : "", pnode(pl, pl->alts[ps->alt_begin + i].node), a);
            }
            accel__tx(t, "\n");
        }
        for (uint32_t i = 0; i < ps->rej_count; i++) {
            const accel__plan_rej *rj = &pl->rejs[ps->rej_begin + i];
            accel__tx(t, "    rejected %-16s %-12s ", pnode(pl, rj->node),
                      accel_constraint_string(rj->constraint));
            rej_reason(t, pl, ps, rj);
            accel__tx(t, "\n");
        }
    }
}

static accel_result copy_text(const char *fn, accel__text *t, char *buffer, size_t size, size_t *size_ret)
{
    if (t->oom) {
        accel__free(t->s);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "%s: out of host memory", fn);
    }
    const char *s = t->s ? t->s : "";
    size_t need = strlen(s) + 1;
    accel_result r = ACCEL_SUCCESS;
    if (size_ret)
        *size_ret = need;
    if (buffer) {
        if (size < need) {
            if (size) {
                memcpy(buffer, s, size - 1);
                buffer[size - 1] = '\0';
            }
            r = ACCEL_INCOMPLETE;
        } else {
            memcpy(buffer, s, need);
        }
    }
    accel__free(t->s);
    return r;
}

accel_result accel_plan_describe(const accel_plan *plan, bool explain, char *buffer, size_t size,
                                 size_t *size_ret)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_describe", ACCEL_ERROR_INVALID_HANDLE);
    if (!plan || (!buffer && !size_ret))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_plan_describe: %s is NULL",
                            plan ? "size_ret (with a NULL buffer)" : "plan");
    accel__text t = {0};
    describe(plan, explain, &t);
    return copy_text("accel_plan_describe", &t, buffer, size, size_ret);
}

/* ---- JSON ---- */

static json_object *jnum(double v)
{
    return isfinite(v) ? json_object_new_double(v) : NULL;
}

static int jadd(json_object *o, const char *key, json_object *v, bool *bad)
{
    if (json_object_object_add(o, key, v)) {
        json_object_put(v);
        *bad = true;
        return -1;
    }
    return 0;
}

/* Streamed: the bottleneck, the rate, and every group that runs stages. */
static json_object *throughput_json(const accel_plan *pl)
{
    bool bad = false;
    json_object *o = json_object_new_object(), *groups = json_object_new_array();
    if (!o || !groups) {
        json_object_put(o);
        json_object_put(groups);
        return NULL;
    }
    jadd(o, "bottleneck_ns", jnum(pl->bottleneck), &bad);
    jadd(o, "bottleneck_group", json_object_new_string(accel__plan_str(pl, pl->groups[pl->bottleneck_group].name)),
         &bad);
    jadd(o, "bottleneck_stage",
         pl->bottleneck_stage >= 0 ? json_object_new_string(accel__plan_str(pl, pl->stages[pl->bottleneck_stage].name))
                                   : NULL,
         &bad);
    jadd(o, "input_bytes", json_object_new_uint64((uint64_t)pl->input_bytes), &bad);
    jadd(o, "bytes_per_second", jnum(bytes_per_second(pl)), &bad);
    for (uint32_t g = 0; g < pl->group_count && !bad; g++) {
        json_object *stages = NULL;
        for (uint32_t s = 0; s < pl->stage_count; s++) {
            if (pl->stages[s].group != g)
                continue;
            if (!stages && !(stages = json_object_new_array())) {
                bad = true;
                break;
            }
            json_object *name = json_object_new_string(accel__plan_str(pl, pl->stages[s].name));
            if (!name || json_object_array_add(stages, name)) {
                json_object_put(name);
                bad = true;
                break;
            }
        }
        if (!stages)
            continue;
        json_object *jg = json_object_new_object();
        if (!jg || json_object_array_add(groups, jg)) {
            json_object_put(jg);
            json_object_put(stages);
            bad = true;
            break;
        }
        jadd(jg, "name", json_object_new_string(accel__plan_str(pl, pl->groups[g].name)), &bad);
        jadd(jg, "load_ns", jnum(pl->groups[g].load), &bad);
        jadd(jg, "bottleneck", json_object_new_boolean(g == pl->bottleneck_group), &bad);
        jadd(jg, "stages", stages, &bad);
    }
    jadd(o, "groups", groups, &bad);
    if (bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

static json_object *plan_json(const accel_plan *pl)
{
    bool bad = false;
    json_object *root = json_object_new_object();
    if (!root)
        return NULL;
    jadd(root, "pipeline", json_object_new_string(accel__plan_str(pl, pl->pipeline_name)), &bad);
    jadd(root, "feasible", json_object_new_boolean(pl->feasible), &bad);
    jadd(root, "optimal", json_object_new_boolean(pl->optimal), &bad);
    jadd(root, "cost_ns", jnum(pl->cost), &bad);
    jadd(root, "lower_bound_ns", jnum(pl->lower_bound), &bad);
    jadd(root, "nodes_explored", json_object_new_uint64(pl->explored), &bad);
    if (throughput(pl)) {
        jadd(root, "objective", json_object_new_string("throughput"), &bad);
        json_object *tj = pl->feasible ? throughput_json(pl) : NULL;
        if (pl->feasible && !tj)
            bad = true;
        else if (tj)
            jadd(root, "throughput", tj, &bad);
    }
    if (pl->feasible) {
        jadd(root, "conflict", NULL, &bad);
    } else {
        json_object *cf = json_object_new_object();
        if (cf) {
            jadd(cf, "constraint", json_object_new_string(accel_constraint_string(pl->constraint)), &bad);
            jadd(cf, "stage",
                 pl->conflict_stage >= 0
                     ? json_object_new_string(accel__plan_str(pl, pl->stages[pl->conflict_stage].name))
                     : NULL,
                 &bad);
            jadd(cf, "stage_index", json_object_new_int(pl->conflict_stage), &bad);
            jadd(cf, "detail", json_object_new_string(accel__plan_str(pl, pl->detail)), &bad);
        }
        jadd(root, "conflict", cf, &bad);
    }
    json_object *stages = json_object_new_array();
    for (uint32_t s = 0; stages && s < pl->stage_count; s++) {
        const accel__plan_stage *ps = &pl->stages[s];
        json_object *js = json_object_new_object();
        if (!js || json_object_array_add(stages, js)) {
            json_object_put(js);
            bad = true;
            break;
        }
        jadd(js, "name", json_object_new_string(accel__plan_str(pl, ps->name)), &bad);
        jadd(js, "function", json_object_new_string(accel__plan_str(pl, ps->function)), &bad);
        if (pl->feasible) {
            jadd(js, "device", json_object_new_string(pnode(pl, ps->device_node)), &bad);
            jadd(js, "device_node", json_object_new_int64(ps->device_node), &bad);
            jadd(js, "cost_ns", jnum(ps->cost), &bad);
            jadd(js, "cost_source", json_object_new_string(source_string(ps->source)), &bad);
            jadd(js, "transfer_ns", jnum(ps->transfer), &bad);
            json_object *uses = json_object_new_array();
            for (uint32_t i = 0; uses && i < ps->arg_count; i++) {
                const accel__plan_arg *pa = &pl->args[ps->arg_begin + i];
                if (pa->buffer < 0)
                    continue;
                json_object *ju = json_object_new_object();
                if (!ju || json_object_array_add(uses, ju)) {
                    json_object_put(ju);
                    bad = true;
                    break;
                }
                jadd(ju, "arg", json_object_new_int64(i), &bad);
                jadd(ju, "buffer", json_object_new_string(accel__plan_str(pl, pl->buffers[pa->buffer].name)),
                     &bad);
                jadd(ju, "mode", json_object_new_string(accel_attach_mode_string(pa->mode)), &bad);
                jadd(ju, "cost_ns", jnum(pa->cost), &bad);
            }
            jadd(js, "uses", uses, &bad);
        }
        json_object *rejected = json_object_new_array();
        for (uint32_t i = 0; rejected && i < ps->rej_count; i++) {
            const accel__plan_rej *rj = &pl->rejs[ps->rej_begin + i];
            json_object *jr = json_object_new_object();
            if (!jr || json_object_array_add(rejected, jr)) {
                json_object_put(jr);
                bad = true;
                break;
            }
            accel__text t = {0};
            rej_reason(&t, pl, ps, rj);
            jadd(jr, "device", json_object_new_string(pnode(pl, rj->node)), &bad);
            jadd(jr, "constraint", json_object_new_string(accel_constraint_string(rj->constraint)), &bad);
            jadd(jr, "reason", json_object_new_string(t.s ? t.s : ""), &bad);
            bad |= t.oom;
            accel__free(t.s);
        }
        jadd(js, "rejected", rejected, &bad);
    }
    jadd(root, "stages", stages, &bad);
    json_object *buffers = json_object_new_array();
    for (uint32_t i = 0; buffers && i < pl->buffer_count; i++) {
        const accel__plan_buffer *pb = &pl->buffers[i];
        json_object *jb = json_object_new_object();
        if (!jb || json_object_array_add(buffers, jb)) {
            json_object_put(jb);
            bad = true;
            break;
        }
        jadd(jb, "name", json_object_new_string(accel__plan_str(pl, pb->name)), &bad);
        jadd(jb, "bytes", json_object_new_uint64(pb->bytes), &bad);
        if (pl->feasible) {
            jadd(jb, "home", json_object_new_string(pnode(pl, pb->home)), &bad);
            jadd(jb, "home_node", json_object_new_int64(pb->home), &bad);
            jadd(jb, "cost_ns", jnum(pb->cost), &bad);
            jadd(jb, "file_io_ns", jnum(pb->io), &bad);
            jadd(jb, "charged_bytes", json_object_new_uint64((uint64_t)pb->charged), &bad);
        }
    }
    jadd(root, "buffers", buffers, &bad);
    if (bad || !stages || !buffers) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

accel_result accel_plan_export_json(const accel_plan *plan, char *buffer, size_t size, size_t *size_ret)
{
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_plan_export_json", ACCEL_ERROR_INVALID_HANDLE);
    if (!plan || (!buffer && !size_ret))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_plan_export_json: %s is NULL",
                            plan ? "size_ret (with a NULL buffer)" : "plan");
    json_object *root = plan_json(plan);
    if (!root)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_plan_export_json: out of host memory");
    accel__text t = {0};
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s)
        accel__tx(&t, "%s\n", s);
    else
        t.oom = true;
    json_object_put(root);
    return copy_text("accel_plan_export_json", &t, buffer, size, size_ret);
}
