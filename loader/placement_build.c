/*
 * placement_build.c — the search's context, built once per placement from
 * the topology and the pipeline: devices with the memories each reaches
 * (and how), CPU sets and host memories, the stages' candidates with their
 * costs and the rejections that explain the others, classes of identical
 * (interchangeable) devices, and the order the search takes the stages in.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"

void accel__pl_pc_free(pc *c)
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
    accel__pl_cache_free(c->cache);
    void *arrays[] = {
        c->devs,        c->node_dev,       c->node_mem,     c->mem_node,  c->cpu_reach,  c->cpu_reach_count,
        c->cpu_node,    c->cpu_link_valid, c->cpu_link,     c->host_mems, c->mem_stamp,  c->stages,
        c->uses,        c->bufs,           c->class_size,   c->stage_dev, c->dev_stages, c->fam_inst,
        c->fam_used,    c->buf_assigned,   c->class_used,   c->order,     c->best_dev,   c->dead,
        c->dead_assign, c->class_first,    c->class_member, c->comp_of,   c->depth_comp, c->comp_first,
        c->comp_len,    c->comp_opt,       c->comp_tail,    c->comp_base, c->chk_inst,   c->chk_fam,
        c->chk_on,      c->alone,          c->stage_cur,    c->buf_cur,   c->uf,         c->comp_end,
        c->dev_group,   c->group_size,     c->tp_load,      c->tp_tries,  c->tp_scratch};
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
            c->devs[d].iommu =
                !(n->device_flags & ACCEL_DEVICE_FLAG_SVA) && n->device_kind != ACCEL_DEVICE_KIND_CPU;
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
        double lat = (double)lk->latency_ns, ipb = accel__pl_ns_per_byte(lk->bandwidth_mbps);
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
                                   accel__pl_ns_per_byte(lk->bandwidth_mbps))) {
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
            if (c->cpu_link_valid[ix] &&
                add_reach(&c->cpu_reach[k], &c->cpu_reach_count[k], m, ACCEL_ATTACH_ZERO_COPY,
                          c->cpu_link[ix].lat, c->cpu_link[ix].ipb)) {
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
        if (!(si->cands = accel__calloc(c->D + 1, sizeof(cand))) ||
            !(si->rejs = accel__calloc(c->D + 1, sizeof(rej))))
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        for (uint32_t d = 0; d < c->D; d++) {
            uint8_t why;
            double cost = 0;
            accel_value_source source = ACCEL_SOURCE_NONE;
            accel_constraint r = accel__pl_stage_check(c, s, d, &why, &cost, &source);
            /* A whole FPGA card whose slots are its partitions loads no
             * program (docs/fpga.md): its slots do. */
            if (!r && st->pub.program && c->devs[d].has_children &&
                dnode(c, d)->device_kind == ACCEL_DEVICE_KIND_FPGA) {
                r = ACCEL_CONSTRAINT_FUNCTION;
                why = ACCEL__WHY_FORMAT;
            }
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
                double v = accel__pl_produced_bytes(c, st->args[1].buffer, si->cands[i].dev);
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
                cd->w += accel__pl_access_lb(c->devs[cd->dev].reach, c->devs[cd->dev].reach_count,
                                             c->bufs[us->buffer].bytes);
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
                double v = accel__pl_access_lb(c->cpu_reach[k], c->cpu_reach_count[k], bi->bytes);
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
            /* Under throughput, devices that share a compute group are
             * interchangeable only among themselves (devices of groups of
             * their own are, as before). */
            if (c->objective == ACCEL_PLACE_OBJECTIVE_THROUGHPUT && c->group_size[c->dev_group[d]] > 1) {
                sig_u64(&b, 5);
                sig_u64(&b, c->dev_group[d]);
            }
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
            uint32_t x = find_root(up, c->uses[bi->users[0]].stage),
                     y = find_root(up, c->uses[bi->users[u]].stage);
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

accel_result accel__pl_pc_init(pc *c, const accel_topology *t, const accel_pipeline *p,
                               const accel_place_options *o)
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
    c->objective = o->objective;
    c->tp_best = INF;
    c->tp_open_lb = INF;
    accel_result r;
    if ((r = build_graph(c)) || (r = accel__pl_build_groups(c)) || (r = build_stages(c)) ||
        (r = build_classes(c)))
        return r;
    if (!(c->tp_scratch = accel__calloc(c->G + 1, sizeof(double))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
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
