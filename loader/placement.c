/*
 * placement.c — place a pipeline's stages on a topology's devices and its
 * buffers on memory nodes, at the lowest estimated cost, under the
 * constraints of docs/pipelines.md; explain the result or the conflict.
 *
 * The search is a depth-first branch and bound over the stages. A
 * buffer's home is not a search variable: once every stage that uses a
 * buffer has a device, its best home is found among the few memory nodes
 * that can be best (host memory, and what the users reach directly). The
 * bound adds, for each stage still open, its cheapest compute plus memory
 * access, and for each buffer its exact cost once all its users are placed.
 * Stages that share no buffer form components, each solved alone first:
 * their optima bound the whole and often fit together as they are. Inside
 * a component, when the stages left fall apart into groups sharing no
 * buffer, each group's optimum alone (cached) bounds it the same way.
 * Identical devices (same links, functions and limits; the replicas of a
 * simulated device) are interchangeable: among those not yet used, only
 * the first is tried.
 *
 * This file holds the cost model and the search, and fills the plan with
 * the assignment found or with the conflict that explains why there is
 * none. plan.c holds the plan's storage and reads it out (getters, text
 * and JSON); placement.h has the plan's layout both use.
 */
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "loader.h"
#include "placement.h"

#define INF HUGE_VAL

/* Estimates where the topology has no value (docs/pipelines.md). */
#define DEFAULT_BANDWIDTH_MBPS 1000.0   /* a link without a bandwidth */
#define DEFAULT_BYTES_PER_SECOND 1e9    /* a function without a rate */
#define PROGRAM_FIXED_NS 10000.0        /* a program function without an entry */

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
    int32_t parent;        /* the whole device's index for partitions, -1 */
    bool has_children;
    bool iommu;            /* takes an IOMMU context: neither SVA nor a CPU */
    bool eligible;         /* may share a class with identical devices */
    uint32_t klass;
    uint32_t class_pos;
} dev_info;

typedef struct cand {
    uint32_t dev;
    double w;          /* stage cost + the cheapest access of each use */
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
    double *io_cache;   /* per memory: the cost, NAN until computed; then per memory the bytes it was for */
} buf_info;

typedef struct dead_reason {
    uint32_t dev;
    accel_constraint constraint;
    int32_t other_stage; /* the stage that blocks it, -1 */
} dead_reason;

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
    double *stage_cur;      /* per stage: the compute cost on its current device */
    double *buf_cur;        /* per buffer: its cost, once all its users are placed */
    uint32_t *uf;           /* scratch for splitting components */
    uint32_t *comp_end;     /* per component: one past its last position in order */
    bool relaxed;           /* ignore instances and address spaces (a relaxation) */
    uint32_t nest;          /* depth of nested group searches */
    struct group_cache *cache;
    int32_t *alone;         /* each component's best assignment on its own */
    uint32_t *class_first;  /* the class's members: class_member[class_first[k] + pos] */
    uint32_t *class_member;
    uint32_t *order;        /* the stages, one component after another */
    uint32_t comp_count;    /* components: stages linked by the buffers they share */
    uint32_t *comp_of;      /* per stage */
    uint32_t *depth_comp;   /* per position in order */
    uint32_t *comp_first;   /* per component: its first position in order */
    uint32_t *comp_len;
    double *comp_opt;       /* per component: a lower bound of its cost (its optimum alone) */
    double *comp_tail;      /* per component: the sum of comp_opt over the later ones */
    double *comp_base;      /* per component: its stages' wmin and its buffers' io bounds */
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
} pc;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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
/* The cost model                                                            */

static double ns_per_byte(uint64_t mbps)
{
    return 1000.0 / (mbps ? (double)mbps : DEFAULT_BANDWIDTH_MBPS);
}

static const accel__topo_node *dnode(const pc *c, uint32_t d)
{
    return &c->t->nodes[c->devs[d].node];
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
static double access_cost(const pc *c, const reach_entry *r, uint32_t nr, uint32_t h, double n, bool staged_ok,
                          accel_attach_mode *mode)
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

/* The cheapest access an initiator can have to any memory: a bound on
 * every access it makes (a STAGED access ends with a direct one). */
static double access_lb(const reach_entry *r, uint32_t nr, double n)
{
    double best = INF;
    for (uint32_t i = 0; i < nr; i++) {
        double v = r[i].lat + n * r[i].ipb;
        if (v < best)
            best = v;
    }
    return best;
}

/* The host reading a file of n bytes into h (or writing n bytes of h out
 * to one). */
static double host_cost(pc *c, uint32_t b, uint32_t h, double n)
{
    buf_info *bi = &c->bufs[b];
    if (!bi->io || !c->C)
        return 0;
    double *key = &bi->io_cache[c->Mn + 1 + h];
    if (!isnan(bi->io_cache[h]) && *key == n)
        return bi->io_cache[h];
    double best = INF;
    for (uint32_t k = 0; k < c->C; k++) {
        double v = access_cost(c, c->cpu_reach[k], c->cpu_reach_count[k], h, n, true, NULL);
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
static double produced_bytes(const pc *c, uint32_t b, uint32_t d)
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
static double buffer_bytes(const pc *c, uint32_t b, const int32_t *stage_dev)
{
    const buf_info *bi = &c->bufs[b];
    return bi->producer < 0 ? bi->bytes : produced_bytes(c, b, (uint32_t)stage_dev[bi->producer]);
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
static double buffer_cost(pc *c, uint32_t b, const int32_t *stage_dev, uint32_t *home)
{
    buf_info *bi = &c->bufs[b];
    double best = INF, n = buffer_bytes(c, b, stage_dev);
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
            double total = host_cost(c, b, h, n);
            for (uint32_t u = 0; u < bi->user_count && total < best; u++) {
                uint32_t dn;
                const reach_entry *dr = dev_reach(c, (uint32_t)stage_dev[c->uses[bi->users[u]].stage], &dn);
                total += access_cost(c, dr, dn, h, n, c->staged_ok, NULL);
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
    case ACCEL_PROGRAM_FORMAT_SPIRV: return fnmatch("vulkan*", drv, 0) == 0 || fnmatch("opencl*", drv, 0) == 0;
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
static accel_constraint stage_check(const pc *c, uint32_t s, uint32_t d, uint8_t *why, double *cost,
                                    accel_value_source *source)
{
    const accel__pipe_stage *st = &c->p->stages[s];
    const accel__topo_node *n = dnode(c, d);
    const accel__topo_function *f = find_function(n, st->pub.function);
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
                                        n->uuid};
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
    for (int32_t x = (int32_t)d, steps = 0; x >= 0 && steps <= (int32_t)c->D; x = c->devs[x].parent, steps++) {
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
/* Building the context                                                      */

struct group_cache;
static void cache_free(struct group_cache *gc);

static void pc_free(pc *c)
{
    for (uint32_t d = 0; c->devs && d < c->D; d++)
        accel__free(c->devs[d].reach);
    for (uint32_t k = 0; c->cpu_reach && k < c->C; k++)
        accel__free(c->cpu_reach[k]);
    for (uint32_t s = 0; c->stages && s < c->S; s++) {
        accel__free(c->stages[s].cands);
        accel__free(c->stages[s].conflicts);
        accel__free(c->stages[s].rejs);
    }
    for (uint32_t b = 0; c->bufs && b < c->B; b++) {
        accel__free(c->bufs[b].users);
        accel__free(c->bufs[b].io_cache);
    }
    cache_free(c->cache);
    void *arrays[] = {c->devs, c->node_dev, c->node_mem, c->mem_node, c->cpu_reach, c->cpu_reach_count,
                      c->cpu_node, c->cpu_link_valid, c->cpu_link, c->host_mems, c->mem_stamp, c->stages,
                      c->uses, c->bufs, c->class_size, c->stage_dev, c->dev_stages, c->fam_inst, c->fam_used,
                      c->buf_assigned, c->class_used, c->order, c->best_dev, c->dead, c->dead_assign,
                      c->class_first, c->class_member, c->comp_of, c->depth_comp, c->comp_first, c->comp_len,
                      c->comp_opt, c->comp_tail, c->comp_base, c->chk_inst, c->chk_fam, c->chk_on,
                      c->alone, c->stage_cur, c->buf_cur, c->uf, c->comp_end};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        accel__free(arrays[i]);
    memset(c, 0, sizeof(*c));
}

static bool direct_access(accel_attach_mode m)
{
    return m == ACCEL_ATTACH_ZERO_COPY || m == ACCEL_ATTACH_PINNED;
}

static int add_reach(reach_entry **list, uint32_t *count, uint32_t mem, accel_attach_mode mode, double lat,
                     double ipb)
{
    for (uint32_t i = 0; i < *count; i++) {
        if ((*list)[i].mem == mem) {
            /* Several links to one memory: the cheaper one counts. */
            if (ipb < (*list)[i].ipb || (ipb == (*list)[i].ipb && lat < (*list)[i].lat))
                (*list)[i] = (reach_entry){mem, mode, lat, ipb};
            return 0;
        }
    }
    reach_entry *grown = accel__realloc(*list, (*count + 1) * sizeof(**list));
    if (!grown)
        return -1;
    *list = grown;
    grown[(*count)++] = (reach_entry){mem, mode, lat, ipb};
    return 0;
}

static int cmp_reach(const void *a, const void *b)
{
    const reach_entry *x = a, *y = b;
    return (x->mem > y->mem) - (x->mem < y->mem);
}

/* Nodes, links and the reach of every initiator. */
static accel_result build_graph(pc *c)
{
    const accel_topology *t = c->t;
    uint32_t N = t->node_count;
    if (!(c->node_dev = accel__malloc((N ? N : 1) * sizeof(int32_t))) ||
        !(c->node_mem = accel__malloc((N ? N : 1) * sizeof(int32_t))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < N; i++) {
        c->node_dev[i] = c->node_mem[i] = -1;
        if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE)
            c->D++;
        else if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_MEMORY)
            c->Mn++;
        else if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_CPUSET)
            c->C++;
    }
    if (!(c->devs = accel__calloc(c->D + 1, sizeof(*c->devs))) ||
        !(c->mem_node = accel__calloc(c->Mn + 1, sizeof(uint32_t))) ||
        !(c->cpu_node = accel__calloc(c->C + 1, sizeof(uint32_t))) ||
        !(c->cpu_reach = accel__calloc(c->C + 1, sizeof(*c->cpu_reach))) ||
        !(c->cpu_reach_count = accel__calloc(c->C + 1, sizeof(uint32_t))) ||
        !(c->cpu_link_valid = accel__calloc((size_t)c->C * c->Mn + 1, 1)) ||
        !(c->cpu_link = accel__calloc((size_t)c->C * c->Mn + 1, sizeof(reach_entry))) ||
        !(c->host_mems = accel__calloc(c->Mn + 1, sizeof(uint32_t))) ||
        !(c->mem_stamp = accel__calloc(c->Mn + 1, sizeof(uint32_t))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    int32_t *node_cpu = accel__malloc((N ? N : 1) * sizeof(int32_t));
    if (!node_cpu)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    uint32_t d = 0, m = 0, k = 0;
    for (uint32_t i = 0; i < N; i++) {
        node_cpu[i] = -1;
        const accel__topo_node *n = &t->nodes[i];
        if (n->kind == ACCEL_TOPOLOGY_NODE_DEVICE) {
            c->devs[d].node = i;
            c->devs[d].parent = -1;
            c->devs[d].iommu = !(n->device_flags & ACCEL_DEVICE_FLAG_SVA) && n->device_kind != ACCEL_DEVICE_KIND_CPU;
            c->node_dev[i] = (int32_t)d++;
        } else if (n->kind == ACCEL_TOPOLOGY_NODE_MEMORY) {
            c->mem_node[m] = i;
            if (n->owner_device < 0)
                c->host_mems[c->host_mem_count++] = m;
            c->node_mem[i] = (int32_t)m++;
        } else if (n->kind == ACCEL_TOPOLOGY_NODE_CPUSET) {
            c->cpu_node[k] = i;
            node_cpu[i] = (int32_t)k++;
        }
    }
    for (d = 0; d < c->D; d++) {
        const accel__topo_node *n = dnode(c, d);
        if (n->parent >= 0 && (uint32_t)n->parent < N && c->node_dev[n->parent] >= 0 &&
            (uint32_t)n->parent != c->devs[d].node) {
            c->devs[d].parent = c->node_dev[n->parent];
            c->devs[c->devs[d].parent].has_children = true;
        }
        c->devs[d].eligible = !(n->device_flags & ACCEL_DEVICE_FLAG_PARTITION) && c->devs[d].parent < 0;
    }
    accel_result r = ACCEL_SUCCESS;
    /* Initiator -> memory links. */
    for (uint32_t l = 0; l < t->link_count; l++) {
        const accel__topo_link *lk = &t->links[l];
        if (lk->from >= N || lk->to >= N)
            continue;
        int32_t mem = c->node_mem[lk->to];
        double lat = (double)lk->latency_ns, ipb = ns_per_byte(lk->bandwidth_mbps);
        if (mem >= 0 && node_cpu[lk->from] >= 0) {
            /* CPUs load and store; only an explicit STAGED link is not direct. */
            if (lk->access == ACCEL_ATTACH_STAGED)
                continue;
            size_t ix = (size_t)node_cpu[lk->from] * c->Mn + (size_t)mem;
            if (!c->cpu_link_valid[ix] || ipb < c->cpu_link[ix].ipb ||
                (ipb == c->cpu_link[ix].ipb && lat < c->cpu_link[ix].lat)) {
                c->cpu_link_valid[ix] = 1;
                c->cpu_link[ix] = (reach_entry){(uint32_t)mem, ACCEL_ATTACH_ZERO_COPY, lat, ipb};
            }
        } else if (mem >= 0 && c->node_dev[lk->from] >= 0) {
            if (!direct_access(lk->access))
                continue;
            dev_info *di = &c->devs[c->node_dev[lk->from]];
            if (add_reach(&di->reach, &di->reach_count, (uint32_t)mem, lk->access, lat, ipb)) {
                r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
                goto out;
            }
        }
    }
    /* Device -> device links: the first reaches the other's own memories
     * (peer access) unless it has a link of its own to them. */
    for (uint32_t l = 0; l < t->link_count; l++) {
        const accel__topo_link *lk = &t->links[l];
        if (lk->from >= N || lk->to >= N || c->node_dev[lk->from] < 0 || c->node_dev[lk->to] < 0)
            continue;
        dev_info *a = &c->devs[c->node_dev[lk->from]];
        a->eligible = false;
        c->devs[c->node_dev[lk->to]].eligible = false;
        if (lk->access == ACCEL_ATTACH_STAGED)
            continue;
        accel_attach_mode mode = direct_access(lk->access) ? lk->access : ACCEL_ATTACH_PINNED;
        for (m = 0; m < c->Mn; m++) {
            if (t->nodes[c->mem_node[m]].owner_device != (int32_t)lk->to)
                continue;
            bool have = false;
            for (uint32_t i = 0; i < a->reach_count; i++)
                have |= a->reach[i].mem == m;
            if (!have && add_reach(&a->reach, &a->reach_count, m, mode, (double)lk->latency_ns,
                                   ns_per_byte(lk->bandwidth_mbps))) {
                r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
                goto out;
            }
        }
    }
    for (d = 0; d < c->D; d++)
        if (c->devs[d].reach_count > 1)
            qsort(c->devs[d].reach, c->devs[d].reach_count, sizeof(reach_entry), cmp_reach);
    for (k = 0; k < c->C; k++) {
        for (m = 0; m < c->Mn; m++) {
            size_t ix = (size_t)k * c->Mn + m;
            if (c->cpu_link_valid[ix] && add_reach(&c->cpu_reach[k], &c->cpu_reach_count[k], m,
                                                   ACCEL_ATTACH_ZERO_COPY, c->cpu_link[ix].lat, c->cpu_link[ix].ipb)) {
                r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
                goto out;
            }
        }
    }
    /* A device's own memory that other devices reach ties it to them. */
    for (uint32_t l = 0; l < t->link_count; l++) {
        const accel__topo_link *lk = &t->links[l];
        if (lk->from >= N || lk->to >= N || c->node_mem[lk->to] < 0)
            continue;
        int32_t owner = t->nodes[lk->to].owner_device;
        if (owner < 0 || (uint32_t)owner >= N || c->node_dev[owner] < 0 || (uint32_t)owner == lk->from ||
            node_cpu[lk->from] >= 0)
            continue;
        c->devs[c->node_dev[owner]].eligible = false;
        if (c->node_dev[lk->from] >= 0)
            c->devs[c->node_dev[lk->from]].eligible = false;
    }
out:
    accel__free(node_cpu);
    return r;
}

/* Uses, buffers, and the per-stage candidates with their costs. */
static accel_result build_stages(pc *c)
{
    const accel_pipeline *p = c->p;
    c->S = p->stage_count;
    c->B = p->buffer_count;
    for (uint32_t s = 0; s < c->S; s++)
        for (uint32_t i = 0; i < p->stages[s].pub.arg_count; i++)
            c->U += p->stages[s].args[i].kind == ACCEL_ARG_MEMORY;
    if (!(c->stages = accel__calloc(c->S + 1, sizeof(*c->stages))) ||
        !(c->uses = accel__calloc(c->U + 1, sizeof(*c->uses))) ||
        !(c->bufs = accel__calloc(c->B + 1, sizeof(*c->bufs))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t b = 0; b < c->B; b++) {
        const accel__pipe_buffer *pb = &p->buffers[b];
        c->bufs[b].bytes = c->bufs[b].capacity = (double)pb->pub.bytes;
        c->bufs[b].producer = -1;
        c->bufs[b].io = (pb->pub.input_file != NULL) + (pb->pub.output_file != NULL);
        if (c->bufs[b].io) {
            if (!(c->bufs[b].io_cache = accel__malloc(2 * (c->Mn + 1) * sizeof(double))))
                return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            for (uint32_t m = 0; m <= c->Mn; m++)
                c->bufs[b].io_cache[m] = NAN;
        }
    }
    uint32_t u = 0;
    for (uint32_t s = 0; s < c->S; s++) {
        const accel__pipe_stage *st = &p->stages[s];
        stage_info *si = &c->stages[s];
        si->use_begin = u;
        for (uint32_t i = 0; i < st->pub.arg_count; i++) {
            const accel_pipeline_stage_arg *a = &st->args[i];
            if (a->kind != ACCEL_ARG_MEMORY)
                continue;
            c->uses[u++] = (use_info){s, i, a->buffer};
            c->bufs[a->buffer].user_count++;
        }
        si->use_count = u - si->use_begin;
        /* A zlib stage's output holds what the data compresses (or
         * inflates) to, not the room the file gives it. A buffer read from
         * a file holds the file, whatever writes it later. */
        bool zlib = !st->pub.program && (strcmp(st->pub.function, "zlib.deflate") == 0 ||
                                         strcmp(st->pub.function, "zlib.inflate") == 0);
        if (zlib && st->pub.arg_count >= 2 && st->args[0].kind == ACCEL_ARG_MEMORY &&
            st->args[1].kind == ACCEL_ARG_MEMORY && st->args[1].writes &&
            !p->buffers[st->args[1].buffer].pub.input_file)
            c->bufs[st->args[1].buffer].producer = (int32_t)s;
    }
    for (uint32_t b = 0; b < c->B; b++) {
        if (!(c->bufs[b].users = accel__calloc(c->bufs[b].user_count + 1, sizeof(uint32_t))))
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        c->bufs[b].user_count = 0;
    }
    for (u = 0; u < c->U; u++) {
        buf_info *bi = &c->bufs[c->uses[u].buffer];
        bi->users[bi->user_count++] = u;
    }
    /* not_with goes both ways. */
    for (uint32_t s = 0; s < c->S; s++) {
        const accel__pipe_stage *st = &p->stages[s];
        for (uint32_t j = 0; j < st->pub.not_with_count; j++) {
            uint32_t other = st->not_with[j];
            if (other >= c->S)
                continue;
            uint32_t pair[2][2] = {{s, other}, {other, s}};
            for (int k = 0; k < 2; k++) {
                stage_info *si = &c->stages[pair[k][0]];
                bool have = false;
                for (uint32_t i = 0; i < si->conflict_count; i++)
                    have |= si->conflicts[i] == pair[k][1];
                if (have)
                    continue;
                uint32_t *grown = accel__realloc(si->conflicts, (si->conflict_count + 1) * sizeof(uint32_t));
                if (!grown)
                    return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
                si->conflicts = grown;
                grown[si->conflict_count++] = pair[k][1];
            }
        }
    }
    /* Candidates and rejections, each stage after the producers of what
     * it reads: its input bytes are theirs. */
    for (uint32_t k = 0; k < c->S; k++) {
        uint32_t s = p->order ? p->order[k] : k;
        const accel__pipe_stage *st = &p->stages[s];
        stage_info *si = &c->stages[s];
        double reads = 0, writes = 0;
        for (uint32_t i = 0; i < si->use_count; i++) {
            const use_info *us = &c->uses[si->use_begin + i];
            if (st->args[us->arg].writes)
                writes += c->bufs[us->buffer].bytes;
            else
                reads += c->bufs[us->buffer].bytes;
        }
        /* The rate applies to the input; a stage that reads nothing (a
         * fill) is charged for what it writes. */
        si->in_bytes = si->use_count && reads == 0 ? writes : reads;
        if (!(si->cands = accel__calloc(c->D + 1, sizeof(cand))) || !(si->rejs = accel__calloc(c->D + 1, sizeof(rej))))
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        for (uint32_t d = 0; d < c->D; d++) {
            uint8_t why;
            double cost = 0;
            accel_value_source source = ACCEL_SOURCE_NONE;
            accel_constraint r = stage_check(c, s, d, &why, &cost, &source);
            if (r)
                si->rejs[si->rej_count++] = (rej){d, (uint8_t)r, why};
            else
                si->cands[si->cand_count++] = (cand){d, cost, cost, source};
        }
        /* What the stage's output carries, for the later stages' compute
         * and for every bound: the least any candidate produces, so that
         * the exact cost (buffer_cost, with the device placed) is never
         * below what the search assumed. */
        if (st->pub.arg_count >= 2 && st->args[1].kind == ACCEL_ARG_MEMORY &&
            c->bufs[st->args[1].buffer].producer == (int32_t)s) {
            buf_info *out = &c->bufs[st->args[1].buffer];
            out->produced_in = c->bufs[st->args[0].buffer].bytes;
            for (uint32_t i = 0; i < si->cand_count; i++) {
                double v = produced_bytes(c, st->args[1].buffer, si->cands[i].dev);
                out->bytes = i == 0 || v < out->bytes ? v : out->bytes;
            }
        }
    }
    /* Weights: compute plus the cheapest access of every use. */
    for (uint32_t s = 0; s < c->S; s++) {
        stage_info *si = &c->stages[s];
        si->wmin = INF;
        for (uint32_t j = 0; j < si->cand_count; j++) {
            cand *cd = &si->cands[j];
            for (uint32_t i = 0; i < si->use_count; i++) {
                const use_info *us = &c->uses[si->use_begin + i];
                cd->w += access_lb(c->devs[cd->dev].reach, c->devs[cd->dev].reach_count, c->bufs[us->buffer].bytes);
            }
            if (cd->w < si->wmin)
                si->wmin = cd->w;
        }
    }
    for (uint32_t b = 0; b < c->B; b++) {
        buf_info *bi = &c->bufs[b];
        bi->io_lb = 0;
        if (bi->io && c->C) {
            double best = INF;
            for (uint32_t k = 0; k < c->C; k++) {
                double v = access_lb(c->cpu_reach[k], c->cpu_reach_count[k], bi->bytes);
                if (v < best)
                    best = v;
            }
            bi->io_lb = best < INF ? best * bi->io : 0;
        }
    }
    return ACCEL_SUCCESS;
}

/* ---- classes of interchangeable devices ---- */

typedef struct sigbuf {
    unsigned char *data;
    size_t len, cap;
    bool oom;
} sigbuf;

static void sig_put(sigbuf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *g = accel__realloc(b->data, cap);
        if (!g) {
            b->oom = true;
            return;
        }
        b->data = g;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void sig_u64(sigbuf *b, uint64_t v)
{
    sig_put(b, &v, sizeof(v));
}

static void sig_str(sigbuf *b, const char *s)
{
    s = s ? s : "";
    sig_put(b, s, strlen(s) + 1);
}

typedef struct sig_ref {
    uint32_t dev;
    size_t off, len;
} sig_ref;

/* qsort_r comparators: the context is the sort's own (several placements
 * may run at once). */
static int cmp_sig(const void *a, const void *b, void *ctx)
{
    const unsigned char *sig_data = ctx;
    const sig_ref *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int k = memcmp(sig_data + x->off, sig_data + y->off, x->len);
    if (k)
        return k;
    return (x->dev > y->dev) - (x->dev < y->dev);
}

static accel_result build_classes(pc *c)
{
    sigbuf b = {0};
    sig_ref *refs = accel__calloc(c->D + 1, sizeof(*refs));
    if (!refs || !(c->class_size = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->class_used = accel__calloc(c->D + 1, sizeof(uint32_t)))) {
        accel__free(refs);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    bool *cand_of = accel__calloc((size_t)c->S * c->D + 1, sizeof(bool));
    if (!cand_of) {
        accel__free(refs);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    for (uint32_t s = 0; s < c->S; s++)
        for (uint32_t i = 0; i < c->stages[s].cand_count; i++)
            cand_of[(size_t)s * c->D + c->stages[s].cands[i].dev] = true;
    for (uint32_t d = 0; d < c->D; d++) {
        const dev_info *di = &c->devs[d];
        const accel__topo_node *n = dnode(c, d);
        refs[d].dev = d;
        refs[d].off = b.len;
        if (!di->eligible || di->has_children) {
            /* Unique: the index makes the signature differ. */
            sig_u64(&b, 1);
            sig_u64(&b, d);
        } else {
            sig_u64(&b, 0);
            sig_u64(&b, n->device_kind);
            sig_str(&b, n->driver_name);
            sig_u64(&b, n->device_flags);
            sig_u64(&b, n->pasid_bits);
            sig_u64(&b, n->max_address_spaces);
            sig_u64(&b, n->available_instances);
            sig_u64(&b, (uint64_t)(int64_t)n->locality);
            sig_u64(&b, n->function_count);
            for (uint32_t f = 0; f < n->function_count; f++) {
                sig_str(&b, n->functions[f].name);
                sig_u64(&b, n->functions[f].fixed_ns);
                sig_u64(&b, n->functions[f].bytes_per_second);
                sig_u64(&b, n->functions[f].source);
                uint64_t ratio;
                memcpy(&ratio, &n->functions[f].output_ratio, sizeof(ratio));
                sig_u64(&b, ratio);
            }
            uint32_t own = 0;
            for (uint32_t i = 0; i < di->reach_count; i++) {
                const reach_entry *re = &di->reach[i];
                const accel__topo_node *mn = &c->t->nodes[c->mem_node[re->mem]];
                if (mn->owner_device == (int32_t)di->node) {
                    /* Its own memory: identical in kind and size, and reached
                     * the same way by the CPU sets. */
                    sig_u64(&b, 2);
                    sig_u64(&b, own++);
                    sig_u64(&b, mn->memory_kind);
                    sig_u64(&b, mn->capacity);
                    for (uint32_t k = 0; k < c->C; k++) {
                        size_t ix = (size_t)k * c->Mn + re->mem;
                        sig_u64(&b, c->cpu_link_valid[ix]);
                        if (c->cpu_link_valid[ix]) {
                            sig_put(&b, &c->cpu_link[ix].lat, sizeof(double));
                            sig_put(&b, &c->cpu_link[ix].ipb, sizeof(double));
                        }
                    }
                } else {
                    sig_u64(&b, 3);
                    sig_u64(&b, re->mem);
                }
                sig_u64(&b, re->mode);
                sig_put(&b, &re->lat, sizeof(double));
                sig_put(&b, &re->ipb, sizeof(double));
            }
            /* Own memories it does not reach directly still belong to it. */
            for (uint32_t m = 0; m < c->Mn; m++) {
                const accel__topo_node *mn = &c->t->nodes[c->mem_node[m]];
                bool reached = false;
                for (uint32_t i = 0; i < di->reach_count; i++)
                    reached |= di->reach[i].mem == m;
                if (mn->owner_device == (int32_t)di->node && !reached) {
                    sig_u64(&b, 4);
                    sig_u64(&b, mn->memory_kind);
                }
            }
            for (uint32_t s = 0; s < c->S; s++)
                sig_u64(&b, cand_of[(size_t)s * c->D + d]);
        }
        refs[d].len = b.len - refs[d].off;
    }
    accel__free(cand_of);
    if (b.oom) {
        accel__free(b.data);
        accel__free(refs);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    qsort_r(refs, c->D, sizeof(*refs), cmp_sig, b.data);
    c->class_count = 0;
    for (uint32_t i = 0; i < c->D; i++) {
        bool same = i > 0 && refs[i].len == refs[i - 1].len &&
                    memcmp(b.data + refs[i].off, b.data + refs[i - 1].off, refs[i].len) == 0;
        if (!same)
            c->class_count++;
        uint32_t k = c->class_count - 1;
        c->devs[refs[i].dev].klass = k;
        c->devs[refs[i].dev].class_pos = c->class_size[k]++;
    }
    accel__free(b.data);
    accel__free(refs);
    if (!(c->class_first = accel__calloc(c->class_count + 1, sizeof(uint32_t))) ||
        !(c->class_member = accel__calloc(c->D + 1, sizeof(uint32_t))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t k = 1; k <= c->class_count; k++)
        c->class_first[k] = c->class_first[k - 1] + c->class_size[k - 1];
    for (uint32_t d = 0; d < c->D; d++)
        c->class_member[c->class_first[c->devs[d].klass] + c->devs[d].class_pos] = d;
    return ACCEL_SUCCESS;
}

static int cmp_cand(const void *a, const void *b, void *ctx)
{
    const pc *sort_ctx = ctx;
    const cand *x = a, *y = b;
    if (x->w != y->w)
        return x->w < y->w ? -1 : 1;
    const dev_info *dx = &sort_ctx->devs[x->dev], *dy = &sort_ctx->devs[y->dev];
    if (dx->klass != dy->klass)
        return dx->klass < dy->klass ? -1 : 1;
    return (dx->class_pos > dy->class_pos) - (dx->class_pos < dy->class_pos);
}

static uint32_t find_root(uint32_t *up, uint32_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

/*
 * Components (stages linked through the buffers they share) one after
 * another, the one holding the most constrained stage first; inside each,
 * most constrained first, then the stages sharing buffers with those
 * already ordered, so that buffers complete (and bound exactly) early.
 */
static accel_result order_stages(pc *c)
{
    uint32_t S = c->S;
    uint32_t *up = accel__malloc((S + 1) * sizeof(uint32_t));
    bool *placed = accel__calloc(S + 1, sizeof(bool));
    accel_result r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    if (!up || !placed || !(c->comp_of = accel__calloc(S + 1, sizeof(uint32_t))) ||
        !(c->depth_comp = accel__calloc(S + 1, sizeof(uint32_t))) ||
        !(c->comp_first = accel__calloc(S + 1, sizeof(uint32_t))) ||
        !(c->comp_len = accel__calloc(S + 1, sizeof(uint32_t))) ||
        !(c->comp_opt = accel__calloc(S + 1, sizeof(double))) ||
        !(c->comp_tail = accel__calloc(S + 2, sizeof(double))) ||
        !(c->comp_base = accel__calloc(S + 1, sizeof(double))))
        goto out;
    for (uint32_t s = 0; s < S; s++)
        up[s] = s;
    for (uint32_t b = 0; b < c->B; b++) {
        const buf_info *bi = &c->bufs[b];
        for (uint32_t u = 1; u < bi->user_count; u++) {
            uint32_t x = find_root(up, c->uses[bi->users[0]].stage), y = find_root(up, c->uses[bi->users[u]].stage);
            if (x != y)
                up[x > y ? x : y] = x < y ? x : y;
        }
    }
    /* Number the components by their most constrained stage. */
    c->comp_count = 0;
    for (uint32_t done = 0; done < S;) {
        uint32_t best = UINT32_MAX;
        for (uint32_t s = 0; s < S; s++) {
            if (placed[s])
                continue;
            if (best == UINT32_MAX || c->stages[s].cand_count < c->stages[best].cand_count)
                best = s;
        }
        uint32_t root = find_root(up, best), id = c->comp_count++;
        for (uint32_t s = 0; s < S; s++) {
            if (!placed[s] && find_root(up, s) == root) {
                placed[s] = true;
                c->comp_of[s] = id;
                c->comp_len[id]++;
            }
        }
        done += c->comp_len[id];
    }
    memset(placed, 0, S * sizeof(bool));
    uint32_t pos = 0;
    for (uint32_t id = 0; id < c->comp_count; id++) {
        c->comp_first[id] = pos;
        for (uint32_t k = 0; k < c->comp_len[id]; k++) {
            uint32_t best = UINT32_MAX;
            long best_key[4] = {0};
            for (uint32_t s = 0; s < S; s++) {
                if (placed[s] || c->comp_of[s] != id)
                    continue;
                long links = 0;
                const stage_info *si = &c->stages[s];
                for (uint32_t i = 0; i < si->use_count; i++) {
                    const buf_info *bi = &c->bufs[c->uses[si->use_begin + i].buffer];
                    for (uint32_t j = 0; j < bi->user_count; j++)
                        links += placed[c->uses[bi->users[j]].stage];
                }
                long bucket = 0;
                for (uint32_t n = si->cand_count; n > 1; n >>= 1)
                    bucket++;
                long key[4] = {bucket, -links, (long)si->cand_count, (long)s};
                bool better = best == UINT32_MAX;
                for (int i = 0; i < 4 && !better; i++) {
                    if (key[i] != best_key[i]) {
                        better = key[i] < best_key[i];
                        break;
                    }
                }
                if (better) {
                    best = s;
                    memcpy(best_key, key, sizeof(key));
                }
            }
            placed[best] = true;
            c->depth_comp[pos] = id;
            c->order[pos++] = best;
        }
    }
    if (!(c->comp_end = accel__calloc(S + 1, sizeof(uint32_t))))
        goto out;
    for (uint32_t id = 0; id < c->comp_count; id++)
        c->comp_end[id] = c->comp_first[id] + c->comp_len[id];
    for (uint32_t s = 0; s < S; s++)
        c->comp_base[c->comp_of[s]] += c->stages[s].wmin;
    for (uint32_t b = 0; b < c->B; b++)
        if (c->bufs[b].user_count)
            c->comp_base[c->comp_of[c->uses[c->bufs[b].users[0]].stage]] += c->bufs[b].io_lb;
    r = ACCEL_SUCCESS;
out:
    accel__free(up);
    accel__free(placed);
    return r;
}

static accel_result pc_init(pc *c, const accel_topology *t, const accel_pipeline *p, const accel_place_options *o)
{
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->p = p;
    c->flags = o->flags;
    c->pasid_bits = o->process_pasid_bits ? o->process_pasid_bits : 1;
    c->iommu_budget = o->iommu_contexts;
    c->staged_ok = !(o->flags & ACCEL_PLACE_NO_STAGED);
    c->deadline = o->time_limit_ns ? now_ns() + o->time_limit_ns : 0;
    c->best = INF;
    c->open_lb = INF;
    c->dead_depth = -1;
    c->dead_stage = -1;
    accel_result r;
    if ((r = build_graph(c)) || (r = build_stages(c)) || (r = build_classes(c)))
        return r;
    if (!(c->stage_dev = accel__malloc((c->S + 1) * sizeof(int32_t))) ||
        !(c->best_dev = accel__malloc((c->S + 1) * sizeof(int32_t))) ||
        !(c->dead_assign = accel__malloc((c->S + 1) * sizeof(int32_t))) ||
        !(c->dev_stages = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->fam_inst = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->fam_used = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->buf_assigned = accel__calloc(c->B + 1, sizeof(uint32_t))) ||
        !(c->order = accel__calloc(c->S + 1, sizeof(uint32_t))) ||
        !(c->dead = accel__calloc(c->D + 1, sizeof(dead_reason))) ||
        !(c->chk_inst = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->chk_fam = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->chk_on = accel__calloc(c->D + 1, sizeof(uint32_t))) ||
        !(c->alone = accel__calloc(c->S + 1, sizeof(int32_t))) ||
        !(c->stage_cur = accel__calloc(c->S + 1, sizeof(double))) ||
        !(c->buf_cur = accel__calloc(c->B + 1, sizeof(double))) ||
        !(c->uf = accel__calloc(c->S + 1, sizeof(uint32_t))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t s = 0; s < c->S; s++)
        c->stage_dev[s] = c->best_dev[s] = -1;
    for (uint32_t s = 0; s < c->S; s++)
        qsort_r(c->stages[s].cands, c->stages[s].cand_count, sizeof(cand), cmp_cand, c);
    return order_stages(c);
}

/* ------------------------------------------------------------------------ */
/* Dynamic constraints                                                       */

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
static accel_constraint dyn_check(const pc *c, uint32_t s, uint32_t d, int32_t *other)
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

static void apply(pc *c, uint32_t s, uint32_t d)
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

static void undo(pc *c, uint32_t s, uint32_t d)
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
static double completion(pc *c, uint32_t s)
{
    const stage_info *si = &c->stages[s];
    double extra = 0;
    for (uint32_t i = 0; i < si->use_count; i++) {
        uint32_t b = c->uses[si->use_begin + i].buffer;
        buf_info *bi = &c->bufs[b];
        if (c->buf_assigned[b] != bi->user_count)
            continue;
        double h = buffer_cost(c, b, c->stage_dev, NULL);
        if (h == INF)
            return INF;
        c->buf_cur[b] = h;
        double lb = bi->io_lb;
        for (uint32_t u = 0; u < bi->user_count; u++) {
            uint32_t d = (uint32_t)c->stage_dev[c->uses[bi->users[u]].stage];
            lb += access_lb(c->devs[d].reach, c->devs[d].reach_count, bi->bytes);
        }
        extra += h - lb > 0 ? h - lb : 0;
    }
    return extra;
}

/* Whether d is one symmetry lets the search skip: an unused device of a
 * class whose first unused member is another. */
static bool symmetric_skip(const pc *c, uint32_t d)
{
    const dev_info *di = &c->devs[d];
    return c->class_size[di->klass] > 1 && di->class_pos > c->class_used[di->klass];
}

/* ------------------------------------------------------------------------ */
/* Search                                                                    */

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
        accel_constraint k = dyn_check(c, s, d, &other);
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
    double shift;          /* what the search's values leave out of the true cost */
} search;

/* What a bound must reach to be pruned: the incumbent, less a rounding
 * margin (sums taken in different orders differ in their last bits). */
static double cutoff(const pc *c)
{
    return c->best == INF ? INF : c->best * (1 - 1e-12);
}

static uint32_t comp_at(const search *sr, uint32_t depth)
{
    return sr->comp ? sr->comp[depth] : 0;
}

static double node_bound(const search *sr, uint32_t k, double done, double pb)
{
    return done + (pb > sr->opt[k] ? pb : sr->opt[k]) + sr->tail[k];
}

static void dfs(pc *c, const search *sr, uint32_t depth, double done, double pb, bool quiet);
static void greedy(pc *c, const search *sr);

/* ---- independent groups ---- */

typedef struct cache_entry {
    uint64_t hash;
    uint64_t *key; /* key[0]: its length in words, then the words */
    double value;
} cache_entry;

typedef struct group_cache {
    cache_entry *slots;
    uint32_t cap, count;
} group_cache;

#define CACHE_MAX (1u << 16)

static void cache_free(group_cache *gc)
{
    if (!gc)
        return;
    for (uint32_t i = 0; i < gc->cap; i++)
        accel__free(gc->slots[i].key);
    accel__free(gc->slots);
    accel__free(gc);
}

static uint64_t hash_words(const uint64_t *w, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ w[i]) * 1099511628211ull;
    return h;
}

static cache_entry *cache_slot(group_cache *gc, const uint64_t *key, uint64_t hash)
{
    for (uint32_t i = (uint32_t)hash & (gc->cap - 1);; i = (i + 1) & (gc->cap - 1)) {
        cache_entry *e = &gc->slots[i];
        if (!e->key || (e->hash == hash && e->key[0] == key[0] && memcmp(e->key, key, key[0] * sizeof(uint64_t)) == 0))
            return e;
    }
}

static bool cache_get(const pc *c, const uint64_t *key, double *value)
{
    group_cache *gc = c->cache;
    if (!gc || !gc->cap)
        return false;
    cache_entry *e = cache_slot(gc, key, hash_words(key, key[0]));
    if (!e->key)
        return false;
    *value = e->value;
    return true;
}

/* Remember a value; silently not when full or out of memory (it is only a
 * cache). */
static void cache_put(pc *c, const uint64_t *key, double value)
{
    if (!c->cache && !(c->cache = accel__calloc(1, sizeof(group_cache))))
        return;
    group_cache *gc = c->cache;
    if (gc->count + 1 > gc->cap / 2) {
        if (gc->cap >= CACHE_MAX)
            return;
        uint32_t cap = gc->cap ? gc->cap * 2 : 256;
        cache_entry *slots = accel__calloc(cap, sizeof(cache_entry));
        if (!slots)
            return;
        group_cache grown = {slots, cap, gc->count};
        for (uint32_t i = 0; i < gc->cap; i++)
            if (gc->slots[i].key)
                *cache_slot(&grown, gc->slots[i].key, gc->slots[i].hash) = gc->slots[i];
        accel__free(gc->slots);
        *gc = grown;
    }
    uint64_t hash = hash_words(key, key[0]);
    cache_entry *e = cache_slot(gc, key, hash);
    if (e->key)
        return;
    if (!(e->key = accel__malloc(key[0] * sizeof(uint64_t))))
        return;
    memcpy(e->key, key, key[0] * sizeof(uint64_t));
    e->hash = hash;
    e->value = value;
    gc->count++;
}

/*
 * The key of a group's relaxed optimum: its stages, and the devices of the
 * placed stages it depends on (those sharing its buffers, those it must not
 * share a device with). Interchangeable devices are named by class and
 * order of appearance, so that the same situation on other members of the
 * same classes finds the same entry. NULL when out of memory.
 */
static uint64_t *group_key(const pc *c, const uint32_t *stages, uint32_t n)
{
    uint32_t *rel = accel__malloc((2 * (size_t)c->S + 1) * sizeof(uint32_t));
    uint64_t *key = accel__malloc((3 + n + 2 * (size_t)c->S) * sizeof(uint64_t));
    if (!rel || !key) {
        accel__free(rel);
        accel__free(key);
        return NULL;
    }
    uint32_t nrel = 0;
    for (uint32_t i = 0; i < n; i++) {
        const stage_info *si = &c->stages[stages[i]];
        for (uint32_t j = 0; j < si->conflict_count; j++)
            if (c->stage_dev[si->conflicts[j]] >= 0)
                rel[nrel++] = si->conflicts[j];
        for (uint32_t u = 0; u < si->use_count; u++) {
            const buf_info *bi = &c->bufs[c->uses[si->use_begin + u].buffer];
            for (uint32_t j = 0; j < bi->user_count; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                if (c->stage_dev[t] >= 0)
                    rel[nrel++] = t;
            }
        }
    }
    /* Sort and drop repeats (the lists are short). */
    for (uint32_t i = 1; i < nrel; i++)
        for (uint32_t j = i; j > 0 && rel[j - 1] > rel[j]; j--) {
            uint32_t x = rel[j];
            rel[j] = rel[j - 1];
            rel[j - 1] = x;
        }
    uint32_t m = 0;
    for (uint32_t i = 0; i < nrel; i++)
        if (!m || rel[m - 1] != rel[i])
            rel[m++] = rel[i];
    size_t w = 1;
    key[w++] = n;
    size_t gstart = w;
    for (uint32_t i = 0; i < n; i++)
        key[w++] = stages[i];
    for (size_t i = gstart + 1; i < w; i++)
        for (size_t j = i; j > gstart && key[j - 1] > key[j]; j--) {
            uint64_t x = key[j];
            key[j] = key[j - 1];
            key[j - 1] = x;
        }
    key[w++] = m;
    size_t rstart = w;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t d = (uint32_t)c->stage_dev[rel[i]];
        uint32_t klass = c->devs[d].klass;
        uint64_t canon = d;
        if (c->class_size[klass] > 1) {
            /* The same device as an earlier entry gets its name; a new one
             * the next rank in its class. */
            uint64_t rank = 0;
            bool same = false;
            for (uint32_t j = 0; j < i && !same; j++) {
                uint32_t e = (uint32_t)c->stage_dev[rel[j]];
                if (e == d) {
                    canon = key[rstart + 2 * j + 1];
                    same = true;
                } else if (c->devs[e].klass == klass) {
                    bool repeat = false;
                    for (uint32_t q = 0; q < j && !repeat; q++)
                        repeat = c->stage_dev[rel[q]] == (int32_t)e;
                    rank += !repeat;
                }
            }
            if (!same)
                canon = (1ull << 63) | ((uint64_t)klass << 24) | rank;
        }
        key[w++] = rel[i];
        key[w++] = canon;
    }
    key[0] = w;
    accel__free(rel);
    return key;
}

/*
 * The least cost of a group of unplaced stages with the buffers they use,
 * given the stages placed so far, from a search of its own; with `relaxed`
 * instances and address spaces are ignored (a lower bound for the group in
 * any completion). INF if there is none. *exact is false when the time
 * limit cut the search short (the value is then a lower bound). With out,
 * the assignment found goes to out[i] for stages[i].
 */
static double solve_group(pc *c, const uint32_t *stages, uint32_t n, bool relaxed, int32_t *out, bool *exact)
{
    static const double zero = 0;
    double base = 0, offset = 0;
    *exact = false;
    /* The group's own bound, as a component's: its stages' wmin and its
     * buffers' io bounds; and what the placed users of its buffers add to
     * the search's values (their cheapest accesses), left out. */
    for (uint32_t i = 0; i < n; i++) {
        const stage_info *si = &c->stages[stages[i]];
        base += si->wmin;
        for (uint32_t u = 0; u < si->use_count; u++) {
            uint32_t b = c->uses[si->use_begin + u].buffer;
            buf_info *bi = &c->bufs[b];
            bool first = true; /* each buffer once */
            for (uint32_t j = 0; j < i && first; j++) {
                const stage_info *sj = &c->stages[stages[j]];
                for (uint32_t v = 0; v < sj->use_count && first; v++)
                    first = c->uses[sj->use_begin + v].buffer != b;
            }
            for (uint32_t v = 0; v < u && first; v++)
                first = c->uses[si->use_begin + v].buffer != b;
            if (!first)
                continue;
            base += bi->io_lb;
            for (uint32_t j = 0; j < bi->user_count; j++) {
                int32_t d = c->stage_dev[c->uses[bi->users[j]].stage];
                if (d >= 0)
                    offset += access_lb(c->devs[d].reach, c->devs[d].reach_count, bi->bytes);
            }
        }
    }
    int32_t *dev = accel__malloc((c->S + 1) * sizeof(int32_t));
    if (!dev) {
        c->oom = true;
        return base + offset; /* a valid bound, nothing more */
    }
    double saved_best = c->best, saved_open = c->open_lb;
    int32_t *saved_dev = c->best_dev, saved_dead = c->dead_depth;
    bool saved_relaxed = c->relaxed;
    c->best = INF;
    c->open_lb = INF;
    c->best_dev = dev;
    c->dead_depth = INT32_MAX; /* dead ends in here explain nothing */
    c->relaxed = relaxed || saved_relaxed;
    c->nest++;
    search sub = {stages, n, NULL, NULL, NULL, &zero, &zero, &base, offset};
    greedy(c, &sub);
    dfs(c, &sub, 0, 0, base, false);
    double value = c->best;
    *exact = !c->timed_out;
    if (c->timed_out && c->open_lb < value)
        value = c->open_lb;
    if (value == INF && c->timed_out)
        value = base;
    if (out && c->best < INF)
        for (uint32_t i = 0; i < n; i++)
            out[i] = dev[stages[i]];
    c->nest--;
    c->best = saved_best;
    c->open_lb = saved_open;
    c->best_dev = saved_dev;
    c->dead_depth = saved_dead;
    c->relaxed = saved_relaxed;
    accel__free(dev);
    if (out && *exact && value == INF)
        return INF;
    return value == INF ? INF : value + offset;
}

static uint32_t uf_find(uint32_t *up, uint32_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

/* Cost so far of the current component: compute of its placed stages and
 * its buffers whose users are all placed. */
static double placed_cost(pc *c, const search *sr, uint32_t start, uint32_t depth)
{
    double total = 0;
    for (uint32_t i = start; i < depth; i++) {
        uint32_t s = sr->order[i];
        const stage_info *si = &c->stages[s];
        total += c->stage_cur[s];
        for (uint32_t u = 0; u < si->use_count; u++) {
            uint32_t b = c->uses[si->use_begin + u].buffer;
            const buf_info *bi = &c->bufs[b];
            if (c->buf_assigned[b] != bi->user_count)
                continue;
            /* Count b at its last placed user in order. */
            bool later = false;
            for (uint32_t j = 0; j < bi->user_count && !later; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                for (uint32_t k = i + 1; k < depth && !later; k++)
                    later = sr->order[k] == t;
            }
            if (!later)
                total += c->buf_cur[b];
        }
    }
    return total;
}

static const cand *find_cand(const pc *c, uint32_t s, uint32_t d)
{
    const stage_info *si = &c->stages[s];
    for (uint32_t i = 0; i < si->cand_count; i++)
        if (si->cands[i].dev == d)
            return &si->cands[i];
    return NULL;
}

/*
 * When the unplaced stages of the current component fall into groups that
 * share no buffer, each group's optimum alone (given what is placed;
 * instances and address spaces relaxed) bounds it, and the sum bounds the
 * subtree. If that prunes, or if placing every group at its own optimum
 * (now with every constraint) reaches the bound, the subtree is done:
 * returns true. *failed says a completion was tried and did not reach it.
 */
static bool split(pc *c, const search *sr, uint32_t depth, uint32_t start, uint32_t end, double done, double pb,
                  uint32_t k, bool quiet, bool *failed)
{
    *failed = false;
    if (end - depth < 2 || depth == start || c->nest >= 6 || c->timed_out)
        return false;
    for (uint32_t i = depth; i < end; i++)
        c->uf[sr->order[i]] = sr->order[i];
    uint32_t groups = end - depth;
    for (uint32_t i = depth; i < end; i++) {
        uint32_t s = sr->order[i];
        const stage_info *si = &c->stages[s];
        for (uint32_t u = 0; u < si->use_count; u++) {
            const buf_info *bi = &c->bufs[c->uses[si->use_begin + u].buffer];
            for (uint32_t j = 0; j < bi->user_count; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                if (c->stage_dev[t] >= 0)
                    continue;
                uint32_t x = uf_find(c->uf, s), y = uf_find(c->uf, t);
                if (x != y) {
                    c->uf[x] = y;
                    groups--;
                }
            }
        }
    }
    if (groups < 2)
        return false;
    uint32_t n = end - depth;
    uint32_t *members = accel__malloc((n + groups + 2) * sizeof(uint32_t));
    int32_t *sol = accel__malloc((n + 1) * sizeof(int32_t));
    if (!members || !sol) {
        accel__free(members);
        accel__free(sol);
        return false;
    }
    uint32_t *gstart = members + n;
    /* Members of each group in search order. */
    uint32_t w = 0, g = 0;
    for (uint32_t i = depth; i < end; i++) {
        uint32_t root = uf_find(c->uf, sr->order[i]);
        bool seen = false;
        for (uint32_t j = depth; j < i && !seen; j++)
            seen = uf_find(c->uf, sr->order[j]) == root;
        if (seen)
            continue;
        gstart[g++] = w;
        for (uint32_t j = i; j < end; j++)
            if (uf_find(c->uf, sr->order[j]) == root)
                members[w++] = sr->order[j];
    }
    gstart[g] = w;

    bool handled = false;
    double bound = placed_cost(c, sr, start, depth);
    bool known = true;
    for (uint32_t q = 0; q < g && known; q++) {
        const uint32_t *gs = members + gstart[q];
        uint32_t gn = gstart[q + 1] - gstart[q];
        double v;
        uint64_t *key = group_key(c, gs, gn);
        if (!key || !cache_get(c, key, &v)) {
            bool exact;
            v = solve_group(c, gs, gn, true, NULL, &exact);
            if (key && exact)
                cache_put(c, key, v);
        }
        accel__free(key);
        /* An infeasible group: leave it to the search, which records the
         * dead end that explains it. */
        known = v < INF;
        bound += v;
    }
    if (!known)
        goto out;
    bound -= sr->shift;
    double lb = done + (bound > pb ? bound : pb) + sr->tail[k];
    if (lb >= cutoff(c)) {
        handled = true;
        goto out;
    }
    if (c->timed_out) {
        /* A group's bound may be partial; the node stays open at lb. */
        if (lb < c->open_lb)
            c->open_lb = lb;
        handled = true;
        goto out;
    }
    if (quiet)
        goto out;
    /* Each group at its best given the groups before it. */
    uint32_t applied = 0;
    bool ok = true;
    for (uint32_t q = 0; q < g && ok; q++) {
        const uint32_t *gs = members + gstart[q];
        uint32_t gn = gstart[q + 1] - gstart[q];
        bool exact;
        if (solve_group(c, gs, gn, false, sol, &exact) == INF || !exact) {
            ok = false;
            break;
        }
        for (uint32_t i = 0; i < gn; i++) {
            const cand *cd = find_cand(c, gs[i], (uint32_t)sol[i]);
            int32_t other;
            if (!cd || dyn_check(c, gs[i], cd->dev, &other)) {
                ok = false;
                break;
            }
            c->stage_cur[gs[i]] = cd->stage_cost;
            apply(c, gs[i], cd->dev);
            applied++; /* members[0 .. applied) are placed: groups go in order */
            if (completion(c, gs[i]) == INF) {
                ok = false;
                break;
            }
        }
    }
    if (ok) {
        double comp = placed_cost(c, sr, start, depth);
        for (uint32_t i = 0; i < applied; i++) {
            uint32_t s = members[i];
            const stage_info *si = &c->stages[s];
            comp += c->stage_cur[s];
            for (uint32_t u = 0; u < si->use_count; u++) {
                uint32_t b = c->uses[si->use_begin + u].buffer;
                bool later = false;
                for (uint32_t j = i + 1; j < applied && !later; j++) {
                    const stage_info *sj = &c->stages[members[j]];
                    for (uint32_t v = 0; v < sj->use_count && !later; v++)
                        later = c->uses[sj->use_begin + v].buffer == b;
                }
                for (uint32_t v = 0; v < u && !later; v++)
                    later = c->uses[si->use_begin + v].buffer == b;
                if (!later)
                    comp += c->buf_cur[b];
            }
        }
        double total = done + comp - sr->shift;
        if (end == sr->n) {
            if (total < c->best) {
                c->best = total;
                memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
            }
        } else if (total + sr->tail[k] < cutoff(c)) {
            dfs(c, sr, end, total, sr->base[comp_at(sr, end)], false);
        }
        double target = done + bound + sr->tail[k];
        handled = c->timed_out || c->best <= target * (1 + 1e-12);
        /* Cut short: what is left of this subtree costs at least its bound. */
        if (c->timed_out && lb < c->open_lb)
            c->open_lb = lb;
    }
    while (applied-- > 0)
        undo(c, members[applied], (uint32_t)c->stage_dev[members[applied]]);
    *failed = !handled;
out:
    accel__free(members);
    accel__free(sol);
    return handled;
}

static void dfs(pc *c, const search *sr, uint32_t depth, double done, double pb, bool quiet)
{
    if (depth == sr->n) {
        if (done < c->best) {
            c->best = done;
            memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
        }
        return;
    }
    uint32_t s = sr->order[depth], k = comp_at(sr, depth);
    bool last = depth + 1 == sr->n || comp_at(sr, depth + 1) != k;
    const stage_info *si = &c->stages[s];
    bool alive = false;
    uint32_t start = sr->first ? sr->first[k] : 0, end = sr->end ? sr->end[k] : sr->n;
    bool failed = false;
    if (split(c, sr, depth, start, end, done, pb, k, quiet, &failed))
        return;
    /* Once a completion fell short here, the children only bound. */
    quiet |= failed;
    for (uint32_t i = 0; i < si->cand_count; i++) {
        const cand *cd = &si->cands[i];
        double cpb = pb - si->wmin + cd->w;
        double lb = node_bound(sr, k, done, cpb);
        if (lb >= cutoff(c)) {
            alive = true; /* pruned by cost, not a dead end */
            break;
        }
        if (out_of_time(c)) {
            if (lb < c->open_lb)
                c->open_lb = lb;
            return;
        }
        if (symmetric_skip(c, cd->dev))
            continue;
        int32_t other;
        if (dyn_check(c, s, cd->dev, &other))
            continue;
        c->nodes++;
        c->stage_cur[s] = cd->stage_cost;
        apply(c, s, cd->dev);
        double extra = completion(c, s);
        if (extra < INF) {
            alive = true;
            double npb = cpb + extra;
            if (last) {
                double ndone = done + npb;
                if (ndone + sr->tail[k] < cutoff(c))
                    dfs(c, sr, depth + 1, ndone, depth + 1 < sr->n ? sr->base[comp_at(sr, depth + 1)] : 0, false);
            } else if (node_bound(sr, k, done, npb) < cutoff(c)) {
                dfs(c, sr, depth + 1, done, npb, quiet);
            }
        }
        undo(c, s, cd->dev);
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
static void greedy(pc *c, const search *sr)
{
    double done = 0, pb = sr->n ? sr->base[comp_at(sr, 0)] : 0;
    uint32_t depth = 0;
    for (; depth < sr->n; depth++) {
        uint32_t s = sr->order[depth], k = comp_at(sr, depth);
        const stage_info *si = &c->stages[s];
        double best = INF, best_pb = 0;
        int32_t best_d = -1;
        for (uint32_t i = 0; i < si->cand_count; i++) {
            const cand *cd = &si->cands[i];
            double cpb = pb - si->wmin + cd->w;
            if (cpb >= best)
                break;
            int32_t other;
            if (symmetric_skip(c, cd->dev) || dyn_check(c, s, cd->dev, &other))
                continue;
            apply(c, s, cd->dev);
            double v = cpb + completion(c, s);
            undo(c, s, cd->dev);
            if (v < best) {
                best = v;
                best_pb = v;
                best_d = (int32_t)cd->dev;
            }
        }
        if (best_d < 0)
            break;
        c->stage_cur[s] = find_cand(c, s, (uint32_t)best_d)->stage_cost;
        apply(c, s, (uint32_t)best_d);
        completion(c, s);
        pb = best_pb;
        if (depth + 1 == sr->n || comp_at(sr, depth + 1) != k) {
            done += pb;
            pb = depth + 1 < sr->n ? sr->base[comp_at(sr, depth + 1)] : 0;
        }
    }
    if (depth == sr->n && done < c->best) {
        c->best = done;
        memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
    }
    while (depth-- > 0) {
        uint32_t s = sr->order[depth];
        undo(c, s, (uint32_t)c->stage_dev[s]);
    }
}

static double root_bound(const pc *c)
{
    double lb = 0;
    for (uint32_t s = 0; s < c->S; s++)
        lb += c->stages[s].wmin;
    for (uint32_t b = 0; b < c->B; b++)
        lb += c->bufs[b].io_lb;
    return lb;
}

/* ---- the exhaustive reference ---- */

/* Every constraint of a complete assignment, checked from scratch (not
 * with the search's counters), and its cost. */
static accel_constraint full_check(pc *c, const int32_t *dev, double *cost)
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
        double h = buffer_cost(c, b, dev, NULL);
        if (h == INF)
            return ACCEL_CONSTRAINT_REACHABILITY;
        total += h;
    }
    *cost = total;
    return ACCEL_CONSTRAINT_NONE;
}

static void exhaustive(pc *c, uint32_t s, int32_t *dev)
{
    if (c->timed_out)
        return;
    if (s == c->S) {
        double cost;
        c->nodes++;
        if (c->deadline && (c->nodes & 1023) == 0 && now_ns() > c->deadline)
            c->timed_out = true;
        if (!full_check(c, dev, &cost) && cost < c->best) {
            c->best = cost;
            memcpy(c->best_dev, dev, c->S * sizeof(int32_t));
        }
        return;
    }
    for (uint32_t i = 0; i < c->stages[s].cand_count; i++) {
        dev[s] = (int32_t)c->stages[s].cands[i].dev;
        exhaustive(c, s + 1, dev);
    }
    dev[s] = -1;
}

/* ---- instances: enough of them for every stage at once? ---- */

static bool match_stage(const pc *c, uint32_t s, int32_t *match, uint32_t *load, bool *visited, uint32_t depth)
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
static int32_t instance_shortage(const pc *c, int32_t *match, uint32_t *load, bool *visited)
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
static accel_result plan_skeleton(const pc *c, accel_plan *pl)
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
        !(pl->alts = accel__calloc((size_t)c->S * 5 + 1, sizeof(*pl->alts))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    pl->pipeline_name = accel__plan_arena_add(pl, p->name);
    pl->source = accel__plan_arena_add(pl, p->source);
    for (uint32_t i = 0; i < pl->node_count; i++) {
        const accel__topo_node *n = &c->t->nodes[i];
        pl->nodes[i] = (accel__plan_node){accel__plan_arena_add(pl, n->name ? n->name : ""),
                                          accel__plan_arena_add(pl, n->driver_name), n->kind, n->device_kind,
                                          n->pasid_bits, n->available_instances, n->max_address_spaces,
                                          n->device_flags};
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
        pl->buffers[b] = (accel__plan_buffer){accel__plan_arena_add(pl, pb->pub.name), pb->pub.bytes,
                                              UINT32_MAX, 0, 0, pb->pub.input_file != NULL,
                                              pb->pub.output_file != NULL, (double)pb->pub.bytes};
    }
    return pl->oom ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_SUCCESS;
}

/* Fill devices, homes, modes and costs from an assignment. */
static void plan_fill(pc *c, accel_plan *pl, const int32_t *dev)
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
        double n = buffer_bytes(c, b, dev);
        pb->cost = buffer_cost(c, b, dev, &h);
        pb->home = h < c->Mn ? c->mem_node[h] : UINT32_MAX;
        pb->io = h < c->Mn ? host_cost(c, b, h, n) : 0;
        pb->charged = n;
        total += pb->cost;
        for (uint32_t u = 0; u < bi->user_count && h < c->Mn; u++) {
            const use_info *us = &c->uses[bi->users[u]];
            const dev_info *di = &c->devs[dev[us->stage]];
            accel__plan_arg *pa = &pl->args[pl->stages[us->stage].arg_begin + us->arg];
            pa->cost = access_cost(c, di->reach, di->reach_count, h, n, c->staged_ok, &pa->mode);
            pl->stages[us->stage].transfer += pa->cost;
        }
    }
    pl->cost = total;
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
static void static_conflict(pc *c, uint32_t s, accel_plan *pl)
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

static void instance_conflict(pc *c, uint32_t s, const int32_t *match, accel_plan *pl)
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
static void dead_end_conflict(pc *c, accel_plan *pl)
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
            apply(c, k, (uint32_t)c->dead_assign[k]);
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
                case ACCEL_CONSTRAINT_INSTANCES:
                    explain_instances(&t, c, dr->dev);
                    break;
                case ACCEL_CONSTRAINT_IOMMU:
                    if (c->iommu_budget && c->devs[dr->dev].iommu)
                        accel__tx(&t, " (the budget of %u IOMMU context%s is spent)", c->iommu_budget,
                                  c->iommu_budget == 1 ? "" : "s");
                    else
                        accel__tx(&t, " (no address space left)");
                    break;
                case ACCEL_CONSTRAINT_REACHABILITY:
                    if (dr->other_stage >= 0)
                        accel__tx(&t, " (no memory it reaches directly is reached directly by %s, the device of stage \"%s\")",
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
            undo(c, k, (uint32_t)c->dead_assign[k]);
    pl->constraint = order[top];
    pl->conflict_stage = (int32_t)s;
    pl->detail = accel__plan_arena_add(pl, t.oom || !t.s ? "out of host memory while explaining" : t.s);
    accel__free(t.s);
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
    if (o->flags & ~(uint32_t)(ACCEL_PLACE_NO_STAGED | ACCEL_PLACE_EXHAUSTIVE))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_place: unknown flags 0x%x in options->flags",
                            o->flags & ~(uint32_t)(ACCEL_PLACE_NO_STAGED | ACCEL_PLACE_EXHAUSTIVE));
    if (o->process_pasid_bits > 32)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_place: options->process_pasid_bits %u is more than 32", o->process_pasid_bits);
    return ACCEL_SUCCESS;
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
    if (ok && !full_check(c, comb, &cost) && cost < c->best) {
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
static bool run_search(pc *c)
{
    static const double zero = 0;
    for (uint32_t k = 0; k < c->comp_count; k++) {
        search sub = {c->order + c->comp_first[k], c->comp_len[k], NULL, NULL, NULL, &zero, &zero, &c->comp_base[k], 0};
        c->best = INF;
        c->open_lb = INF;
        greedy(c, &sub);
        dfs(c, &sub, 0, 0, c->comp_base[k], false);
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
    search whole = {c->order, c->S, c->depth_comp, c->comp_first, c->comp_end, c->comp_opt, c->comp_tail,
                    c->comp_base, 0};
    greedy(c, &whole);
    if (c->S)
        dfs(c, &whole, 0, 0, c->comp_base[c->depth_comp[0]], false);
    return true;
}

accel_result accel_place(const accel_topology *topology, const accel_pipeline *pipeline,
                         const accel_place_options *options, accel_plan **plan)
{
    if (!topology || !pipeline || !plan)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_place: %s is NULL",
                            !topology ? "topology" : !pipeline ? "pipeline" : "plan");
    accel_place_options o;
    accel_result r = read_options(options, &o);
    if (r)
        return r;
    pc c;
    accel_plan *pl = accel__calloc(1, sizeof(*pl));
    if (!pl)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_place: out of host memory");
    if ((r = pc_init(&c, topology, pipeline, &o)) || (r = plan_skeleton(&c, pl)))
        goto fail;

    int32_t empty = -1;
    for (uint32_t s = 0; s < c.S && empty < 0; s++)
        if (c.stages[s].cand_count == 0)
            empty = (int32_t)s;
    if (empty >= 0) {
        static_conflict(&c, (uint32_t)empty, pl);
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
    int32_t short_stage = instance_shortage(&c, match, load, visited);
    if (short_stage >= 0)
        instance_conflict(&c, (uint32_t)short_stage, match, pl);
    accel__free(match);
    accel__free(load);
    accel__free(visited);
    if (short_stage >= 0) {
        pl->optimal = true;
        goto infeasible;
    }

    if (o.flags & ACCEL_PLACE_EXHAUSTIVE) {
        int32_t *dev = accel__malloc((c.S + 1) * sizeof(int32_t));
        if (!dev) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        exhaustive(&c, 0, dev);
        accel__free(dev);
        pl->lower_bound = c.timed_out ? root_bound(&c) : c.best;
    } else {
        run_search(&c);
        if (c.oom) {
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            goto fail;
        }
        pl->lower_bound = c.timed_out ? (c.open_lb < c.best ? c.open_lb : c.best) : c.best;
    }
    pl->explored = c.nodes;
    pl->optimal = !c.timed_out;
    if (c.best == INF && c.timed_out) {
        pl->constraint = ACCEL_CONSTRAINT_NONE;
        pl->detail = accel__plan_arena_add(pl, "the search stopped at the time limit before it found a plan");
        goto infeasible;
    }
    if (c.best == INF) {
        if (o.flags & ACCEL_PLACE_EXHAUSTIVE) {
            /* Explain with the search's dead ends. */
            uint64_t nodes = c.nodes;
            c.timed_out = false;
            run_search(&c);
            c.nodes = nodes;
        }
        dead_end_conflict(&c, pl);
        goto infeasible;
    }
    plan_fill(&c, pl, c.best_dev);
    if (pl->lower_bound > pl->cost || !c.timed_out)
        pl->lower_bound = pl->cost;
    pl->feasible = true;
    if (pl->oom) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    pc_free(&c);
    *plan = pl;
    return ACCEL_SUCCESS;

infeasible:
    if (pl->oom) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto fail;
    }
    pl->lower_bound = INF;
    pl->cost = INF;
    pc_free(&c);
    *plan = pl;
    return accel__error(ACCEL_ERROR_INFEASIBLE, "%s: infeasible (%s): %s", accel__plan_str(pl, pl->source),
                        accel_constraint_string(pl->constraint), accel__plan_str(pl, pl->detail));
fail:
    pc_free(&c);
    accel_plan_destroy(pl);
    return accel__error(r, "accel_place: %s", r == ACCEL_ERROR_OUT_OF_HOST_MEMORY ? "out of host memory"
                                                                                  : accel_result_string(r));
}

accel_result accel__place_evaluate(const accel_topology *topology, const accel_pipeline *pipeline,
                                   const accel_place_options *options, const uint32_t *devices, double *cost_ns)
{
    accel_place_options o;
    accel_result r = read_options(options, &o);
    if (r)
        return r;
    pc c;
    int32_t *dev = NULL;
    if ((r = pc_init(&c, topology, pipeline, &o)) || !(dev = accel__malloc((c.S + 1) * sizeof(int32_t)))) {
        pc_free(&c);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel__place_evaluate: out of host memory");
    }
    for (uint32_t s = 0; s < c.S; s++) {
        if (devices[s] >= topology->node_count || c.node_dev[devices[s]] < 0) {
            r = accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "stage %u: node %u is not a device", s, devices[s]);
            goto out;
        }
        dev[s] = c.node_dev[devices[s]];
    }
    double cost;
    accel_constraint k = full_check(&c, dev, &cost);
    if (k) {
        r = accel__error(ACCEL_ERROR_INFEASIBLE, "the assignment violates the %s constraint",
                         accel_constraint_string(k));
        goto out;
    }
    *cost_ns = cost;
out:
    accel__free(dev);
    pc_free(&c);
    return r;
}
