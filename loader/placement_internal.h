/*
 * placement_internal.h — what the files of placement share: the search's
 * context (the topology and pipeline reduced to devices, memories, stages,
 * uses and buffers, with the search state), the cost model's functions
 * (placement_cost.c), building the context (placement_build.c), the search
 * (placement_search.c, with the independent groups of placement_groups.c),
 * and filling the plan or its conflict (placement_explain.c). placement.c
 * holds the entry points. Loader-internal: nothing here is exported.
 */
#ifndef ACCEL_LOADER_PLACEMENT_INTERNAL_H
#define ACCEL_LOADER_PLACEMENT_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "placement.h"

#define INF HUGE_VAL

/* Estimates where the topology has no value (docs/pipelines.md). */
#define DEFAULT_BANDWIDTH_MBPS   1000.0  /* a link without a bandwidth */
#define DEFAULT_BYTES_PER_SECOND 1e9     /* a function without a rate */
#define PROGRAM_FIXED_NS         10000.0 /* a program function without an entry */

typedef struct reach_entry {
    uint32_t mem;
    accel_attach_mode mode;
    double lat; /* ns */
    double ipb; /* ns per byte */
} reach_entry;

typedef struct dev_info {
    uint32_t node;
    reach_entry *reach;
    uint32_t reach_count;
    int32_t parent; /* the whole device's index for partitions, -1 */
    bool has_children;
    bool iommu;    /* takes an IOMMU context: neither SVA nor a CPU */
    bool eligible; /* may share a class with identical devices */
    uint32_t klass;
    uint32_t class_pos;
} dev_info;

typedef struct cand {
    uint32_t dev;
    double w; /* stage cost + the cheapest access of each use */
    double stage_cost;
    accel_value_source source;
} cand;

typedef struct rej {
    uint32_t dev;
    uint8_t constraint;
    uint8_t why;
} rej;

typedef struct stage_info {
    double in_bytes;
    uint32_t use_begin, use_count;
    cand *cands;
    uint32_t cand_count;
    double wmin;
    uint32_t *conflicts; /* not_with, both directions */
    uint32_t conflict_count;
    rej *rejs;
    uint32_t rej_count;
} stage_info;

typedef struct use_info {
    uint32_t stage;
    uint32_t arg;
    uint32_t buffer;
} use_info;

typedef struct buf_info {
    double bytes;       /* what it carries; for a zlib output, the least over the producer's candidates */
    double capacity;    /* its declared size */
    int32_t producer;   /* the zlib stage writing it (its dst), or -1 */
    double produced_in; /* that stage's input bytes */
    uint32_t io;        /* host file transfers: input and output */
    uint32_t *users;    /* use indices */
    uint32_t user_count;
    double io_lb;
    double *io_cache; /* per memory: the cost, NAN until computed; then per memory the bytes it was for */
} buf_info;

typedef struct dead_reason {
    uint32_t dev;
    accel_constraint constraint;
    int32_t other_stage; /* the stage that blocks it, -1 */
} dead_reason;

/* Internal: keep each stage to devices with its function's stream form. */
#define ACCEL__PLACE_STREAM_ONLY (1u << 31)

/* Every stage a standard function with a stream form that some device of t
 * offers: a run of it can stream (placement.c). */
bool accel__pl_streamable(const accel_topology *t, const accel_pipeline *p);

typedef struct pc {
    const accel_topology *t;
    const accel_pipeline *p;
    uint32_t flags;
    uint32_t pasid_bits;
    uint32_t iommu_budget;
    uint64_t deadline; /* CLOCK_MONOTONIC ns, 0: none */
    bool staged_ok;

    uint32_t D, C, Mn, S, B, U;
    dev_info *devs;
    int32_t *node_dev; /* node -> device index, -1 */
    int32_t *node_mem; /* node -> memory index, -1 */
    uint32_t *mem_node;
    reach_entry **cpu_reach;
    uint32_t *cpu_reach_count;
    uint32_t *cpu_node;
    uint8_t *cpu_link_valid; /* C x Mn */
    reach_entry *cpu_link;   /* C x Mn */
    uint32_t *host_mems;
    uint32_t host_mem_count;
    uint32_t *mem_stamp;
    uint32_t stamp;

    stage_info *stages;
    use_info *uses;
    buf_info *bufs;
    uint32_t class_count;
    uint32_t *class_size;

    /* search state */
    int32_t *stage_dev;
    uint32_t *dev_stages;
    uint32_t *fam_inst;
    uint32_t *fam_used;
    uint32_t iommu_used;
    uint32_t *buf_assigned;
    uint32_t *class_used;
    uint32_t *chk_inst, *chk_fam, *chk_on; /* full_check's counters */
    double *stage_cur;                     /* per stage: the compute cost on its current device */
    double *buf_cur;                       /* per buffer: its cost, once all its users are placed */
    uint32_t *uf;                          /* scratch for splitting components */
    uint32_t *comp_end;                    /* per component: one past its last position in order */
    bool relaxed;                          /* ignore instances and address spaces (a relaxation) */
    uint32_t nest;                         /* depth of nested group searches */
    struct group_cache *cache;
    int32_t *alone;        /* each component's best assignment on its own */
    uint32_t *class_first; /* the class's members: class_member[class_first[k] + pos] */
    uint32_t *class_member;
    uint32_t *order;      /* the stages, one component after another */
    uint32_t comp_count;  /* components: stages linked by the buffers they share */
    uint32_t *comp_of;    /* per stage */
    uint32_t *depth_comp; /* per position in order */
    uint32_t *comp_first; /* per component: its first position in order */
    uint32_t *comp_len;
    double *comp_opt;  /* per component: a lower bound of its cost (its optimum alone) */
    double *comp_tail; /* per component: the sum of comp_opt over the later ones */
    double *comp_base; /* per component: its stages' wmin and its buffers' io bounds */
    double best;
    int32_t *best_dev;
    uint64_t nodes;
    uint64_t ticks;
    bool timed_out;
    double open_lb;

    /* the deepest dead end */
    int32_t dead_depth;
    int32_t dead_stage;
    dead_reason *dead;
    uint32_t dead_count;
    int32_t *dead_assign;
    bool oom;

    /* the throughput objective (placement_throughput.c) */
    accel_place_objective objective;
    uint32_t G;              /* compute groups */
    uint32_t *dev_group;     /* per device: its compute group */
    uint32_t *group_size;    /* per group: its devices */
    int32_t host_group;      /* the group of the cpu devices, -1 */
    double tp_best;          /* the incumbent's bottleneck (`best` is then its latency) */
    double tp_open_lb;       /* the least bottleneck bound of the nodes the time limit left open */
    double *tp_load;         /* (S + 1) x G: per depth, each group's load so far (a bound) */
    struct tp_try *tp_tries; /* (S + 1) x (D + 1): per depth, the candidates in the order tried */
    double *tp_scratch;      /* G loads */
} pc;

/*
 * One search: stages in `order`, grouped by component (comp[depth]; NULL:
 * all one). The bound of a node is what the finished components cost,
 * plus for the current one the larger of its own bound and its optimum
 * alone, plus the optima alone of the components after it (opt, tail).
 */
typedef struct search {
    const uint32_t *order;
    uint32_t n;
    const uint32_t *comp;  /* per position: component; NULL: one component */
    const uint32_t *first; /* per component: its first and one past its last */
    const uint32_t *end;   /* position (NULL: 0 and n) */
    const double *opt;
    const double *tail;
    const double *base;
    double shift; /* what the search's values leave out of the true cost */
} search;

struct group_cache;

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline const accel__topo_node *dnode(const pc *c, uint32_t d)
{
    return &c->t->nodes[c->devs[d].node];
}

/* ---- the cost model (placement_cost.c) ---- */

/* ns per byte over a link of mbps MB/s (DEFAULT_BANDWIDTH_MBPS for 0). */
double accel__pl_ns_per_byte(uint64_t mbps);
/* One initiator's access to n bytes homed on memory h: directly over its
 * link, or STAGED through a mirror filled by a copy (with staged_ok); INF
 * when neither. *mode (may be NULL) says which. */
double accel__pl_access_cost(const pc *c, const reach_entry *r, uint32_t nr, uint32_t h, double n,
                             bool staged_ok, accel_attach_mode *mode);
/* The cheapest access an initiator can have to n bytes anywhere: a bound
 * on every access it makes (a STAGED access ends with a direct one).
 * Inline: the search's bounds call it in their inner loops. */
static inline double accel__pl_access_lb(const reach_entry *r, uint32_t nr, double n)
{
    double best = INF;
    for (uint32_t i = 0; i < nr; i++) {
        double v = r[i].lat + n * r[i].ipb;
        if (v < best)
            best = v;
    }
    return best;
}
/* The host's file transfers of buffer b (n bytes) homed on h. */
double accel__pl_host_cost(pc *c, uint32_t b, uint32_t h, double n);
/* What the zlib stage producing b writes into it on device d. */
double accel__pl_produced_bytes(const pc *c, uint32_t b, uint32_t d);
/* The bytes b carries with every stage on its stage_dev device. */
double accel__pl_buffer_bytes(const pc *c, uint32_t b, const int32_t *stage_dev);
/* Buffer b's cost on its best home (*home, may be NULL) for the devices
 * of stage_dev (all its users placed); INF when no home serves them. */
double accel__pl_buffer_cost(pc *c, uint32_t b, const int32_t *stage_dev, uint32_t *home);
/* Which per-stage check rules d out for s (0: none), with the sub-reason;
 * on success the function's cost and where it comes from. */
accel_constraint accel__pl_stage_check(const pc *c, uint32_t s, uint32_t d, uint8_t *why, double *cost,
                                       accel_value_source *source);
/* Every constraint of a complete assignment, checked from scratch, and its
 * cost (INF with a violated constraint). */
accel_constraint accel__pl_full_check(pc *c, const int32_t *dev, double *cost);

/* ---- building the context (placement_build.c) ---- */

accel_result accel__pl_pc_init(pc *c, const accel_topology *t, const accel_pipeline *p,
                               const accel_place_options *o);
void accel__pl_pc_free(pc *c);

/* ---- the search (placement_search.c) ---- */

/* Whether stage s may go on device d given the stages placed so far (0) or
 * the constraint that forbids it; *other names a stage involved, or -1. */
accel_constraint accel__pl_dyn_check(const pc *c, uint32_t s, uint32_t d, int32_t *other);
/* Place s on d / take it off again (the search's counters follow). */
void accel__pl_apply(pc *c, uint32_t s, uint32_t d);
void accel__pl_undo(pc *c, uint32_t s, uint32_t d);
/* What completing s's buffers adds to the bound (INF: no home serves them). */
double accel__pl_completion(pc *c, uint32_t s);
/* What a bound must reach to be pruned. */
double accel__pl_cutoff(const pc *c);
uint32_t accel__pl_comp_at(const search *sr, uint32_t depth);
void accel__pl_dfs(pc *c, const search *sr, uint32_t depth, double done, double pb, bool quiet);
/* A first plan: each stage in order on the device that adds least. */
void accel__pl_greedy(pc *c, const search *sr);
/* The bound before anything is placed. */
double accel__pl_root_bound(const pc *c);
/* Every assignment of stages s.. (the reference for tests). */
void accel__pl_exhaustive(pc *c, uint32_t s, int32_t *dev);
/* The whole search; false when a component alone has no plan. */
bool accel__pl_run_search(pc *c);

/* ---- independent groups (placement_groups.c) ---- */

void accel__pl_cache_free(struct group_cache *gc);
const cand *accel__pl_find_cand(const pc *c, uint32_t s, uint32_t d);
/* Bound (and try to complete) the subtree at depth by the independent
 * groups of the unplaced stages; true when the subtree is done. */
bool accel__pl_split(pc *c, const search *sr, uint32_t depth, uint32_t start, uint32_t end, double done,
                     double pb, uint32_t k, bool quiet, bool *failed);

/* Whether the search skips d: an unused device of a class whose first
 * unused member is another. */
bool accel__pl_symmetric_skip(const pc *c, uint32_t d);

/* ---- the throughput objective (placement_throughput.c) ---- */

/* The compute groups of the devices (dev_group, group_size, host_group). */
accel_result accel__pl_build_groups(pc *c);
/* The bottleneck of a complete assignment: each group's load into load[]
 * (G entries), the largest returned; INF when a buffer has no home. */
double accel__pl_throughput(pc *c, const int32_t *dev, double *load);
/* A feasible complete assignment of latency lat: the incumbent (tp_best,
 * best, best_dev) if it beats it. */
void accel__pl_offer(pc *c, const int32_t *dev, double lat);
/* The bottleneck bound before anything is placed. */
double accel__pl_throughput_bound(pc *c);
/* The search under the throughput objective; false when the pipeline is
 * infeasible (the latency search's dead end explains it) or out of memory
 * (oom). */
bool accel__pl_run_throughput(pc *c);

/* ---- the plan and its conflicts (placement_explain.c) ---- */

/* The first stage that cannot get an instance, or -1 (match: who holds what). */
int32_t accel__pl_instance_shortage(const pc *c, int32_t *match, uint32_t *load, bool *visited);
/* Copy what the explanation needs from the topology and the pipeline. */
accel_result accel__pl_plan_skeleton(const pc *c, accel_plan *pl);
/* Fill devices, homes, modes and costs from an assignment. */
void accel__pl_plan_fill(pc *c, accel_plan *pl, const int32_t *dev);
void accel__pl_static_conflict(pc *c, uint32_t s, accel_plan *pl);
void accel__pl_instance_conflict(pc *c, uint32_t s, const int32_t *match, accel_plan *pl);
void accel__pl_dead_end_conflict(pc *c, accel_plan *pl);

#endif /* ACCEL_LOADER_PLACEMENT_INTERNAL_H */
