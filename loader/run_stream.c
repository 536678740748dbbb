/*
 * run_stream.c — the streaming executor of accel_run_execute.
 *
 * A pipeline streams when each stage is crc32c, sha256, zlib.deflate or
 * zlib.inflate and its device offers the stage's stream form
 * (docs/standard-functions.md, "Stream forms"). Every buffer a stage reads
 * as its src is an *edge*: a ring of `ring_depth` slots in one memory
 * object on the buffer's planned home. Inputs are read a chunk at a time
 * into free slots; a zlib stage writes its pieces into slots of its dst
 * edge; a slot is free again once every stage reading it (and the output
 * writer) has finished with it, which is the back-pressure. The state of
 * each stream lives in device memory in the documented layout; crc32c's is
 * the stage's 4-byte result itself.
 *
 * One host thread drives it all: it reads input chunks, submits calls
 * (several in flight per stage: a queue keeps them in order, so the stream
 * state passes from call to call on the device; zlib.inflate one at a
 * time, since what it consumed and whether its dst filled decide its next
 * call), reads each completed call's output size, hands the piece to the
 * stages downstream and writes output pieces as they complete. Stages on
 * different devices thus work on different chunks at once. Memory is the
 * rings, the states and the small buffers: bounded by chunk size and ring
 * depth, whatever the input size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "placement.h"
#include "run.h"

enum { K_CRC, K_SHA, K_DEFLATE, K_INFLATE };

static const struct {
    const char *name, *stream;
    uint64_t state_size;
} kinds[] = {
    [K_CRC] = {"crc32c", "crc32c.stream", 4},
    [K_SHA] = {"sha256", "sha256.stream", 112},
    [K_DEFLATE] = {"zlib.deflate", "zlib.deflate.stream", 32800},
    [K_INFLATE] = {"zlib.inflate", "zlib.inflate.stream", 33984},
};

#define META_SIZE 32u /* per call: deflate's out_size, inflate's progress */

typedef struct edge {
    uint32_t buffer;
    int32_t producer; /* stage, -1 for an input */
    uint32_t depth;
    uint64_t slot_size;
    accel_memory *mem;
    unsigned char *host;
    uint64_t *len;      /* per slot: bytes held */
    uint32_t *refs;     /* per slot: readers still to finish it */
    bool *busy;         /* per slot: held by the producer or readers */
    uint32_t *seq_slot; /* chunk seq % depth -> slot, for chunks not yet released */
    uint32_t readers;   /* stages reading it, plus 1 when it is an output */
    uint64_t published; /* chunks handed to the readers */
    uint64_t written;   /* chunks written out (outputs) */
    bool done;          /* no chunk will follow */
} edge;

typedef struct call {
    accel_fence *fence;
    uint64_t gseq;    /* submission order over the run */
    uint64_t chunk;   /* the input chunk it works on (for messages) */
    int32_t in_slot;  /* -1: none (a final call) */
    int32_t out_slot; /* -1: none */
    uint32_t meta;
    bool final;
} call;

typedef struct sstage {
    uint32_t index;
    int kind;
    accel_function *fn;
    edge *in, *out;
    accel_memory *state, *meta;
    uint64_t state_off;
    unsigned char *meta_host;
    accel_memory *result; /* sha256's result, crc32c's (also its state) */
    int32_t size_buffer;  /* a zlib stage's out_size buffer */
    int32_t level;
    call *calls; /* ring of max entries */
    uint32_t head, count, max, next_meta;
    uint64_t cursor;  /* next input chunk */
    uint64_t in_off;  /* inflate: bytes of the current chunk consumed */
    int32_t held_out; /* inflate: an out slot acquired and not yet filled */
    bool final_sent, ended, finished;
    uint64_t busy_since; /* since when a call has been in flight (count > 0) */
    uint64_t busy_done;  /* the time in flight before that */
    uint64_t total_out;
} sstage;

typedef struct stream {
    accel_run *run;
    edge *edges;
    uint32_t edge_count;
    int32_t *edge_of; /* per buffer: its edge, -1 */
    sstage *stages;
    accel_memory **small; /* per buffer that is not an edge */
    uint64_t gseq;
} stream;

static int kind_of(const char *fn)
{
    for (int k = 0; k < 4; k++)
        if (strcmp(fn, kinds[k].name) == 0)
            return k;
    return -1;
}

static char *reason(accel_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *reason(accel_run *run, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    accel__free(run->mode_reason);
    run->mode_reason = accel__strdup(buf);
    return run->mode_reason ? run->mode_reason : "out of memory";
}

const char *accel__run_stream_check(accel_run *run)
{
    const accel_pipeline *p = run->pipeline;
    for (uint32_t i = 0; i < run->ns; i++) {
        const accel_pipeline_stage *st = &p->stages[i].pub;
        int k = st->program ? -1 : kind_of(st->function);
        if (k < 0)
            return reason(run, "stage %s (%s) has no stream form", st->name, st->function);
        accel_function *f = NULL;
        if (accel_function_get(run->devs[i], NULL, kinds[k].stream, &f) != ACCEL_SUCCESS)
            return reason(run, "the device of stage %s does not offer %s", st->name, kinds[k].stream);
        accel_function_destroy(f);
        const accel_pipeline_stage_arg *src = &st->args[0];
        const accel__pipe_buffer *sb = &p->buffers[src->buffer];
        if (sb->pub.producer >= 0) {
            const accel_pipeline_stage *pr = &p->stages[sb->pub.producer].pub;
            int pk = kind_of(pr->function);
            if (pr->program || (pk != K_DEFLATE && pk != K_INFLATE) || pr->args[1].buffer != src->buffer)
                return reason(run, "stage %s reads buffer %s, which is not a stream", st->name, sb->pub.name);
            if (src->size_from >= 0 && (uint32_t)src->size_from != pr->args[2].buffer)
                return reason(run,
                              "stage %s takes the size of buffer %s from another buffer than its writer's "
                              "out_size",
                              st->name, sb->pub.name);
        } else if (!sb->pub.input_file) {
            return reason(run, "stage %s reads buffer %s, which is zero-filled, not a stream", st->name,
                          sb->pub.name);
        } else if (src->size_from >= 0) {
            return reason(run, "stage %s takes the size of input buffer %s from a buffer", st->name,
                          sb->pub.name);
        }
    }
    /* A stream buffer is only ever a src or a zlib dst, and a stream's
     * output is all of it. */
    for (uint32_t b = 0; b < run->nb; b++) {
        const accel__pipe_buffer *pb = &p->buffers[b];
        bool is_src = false, other = false;
        for (uint32_t i = 0; i < run->ns; i++) {
            const accel_pipeline_stage *st = &p->stages[i].pub;
            int k = kind_of(st->function);
            for (uint32_t a = 0; a < st->arg_count; a++) {
                if (st->args[a].kind != ACCEL_ARG_MEMORY || st->args[a].buffer != b)
                    continue;
                if (a == 0)
                    is_src = true;
                else if (!(a == 1 && (k == K_DEFLATE || k == K_INFLATE)))
                    other = true;
            }
        }
        bool stream_buf = is_src || (pb->pub.producer >= 0 && !other);
        if (is_src && other)
            return reason(run, "buffer %s is both a stream and a stage's result or size", pb->pub.name);
        if (pb->pub.input_file && pb->pub.producer >= 0)
            return reason(run, "buffer %s is an input file that stage %s updates in place", pb->pub.name,
                          p->stages[pb->pub.producer].pub.name);
        if (stream_buf && pb->pub.output_size_from >= 0 && pb->pub.producer >= 0 &&
            (uint32_t)pb->pub.output_size_from != p->stages[pb->pub.producer].pub.args[2].buffer)
            return reason(run, "output %s takes its size from a buffer other than its writer's out_size (%s)",
                          pb->pub.name, p->buffers[pb->pub.output_size_from].pub.name);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */

static int32_t acquire(edge *e)
{
    for (uint32_t s = 0; s < e->depth; s++)
        if (!e->busy[s]) {
            e->busy[s] = true;
            e->len[s] = 0;
            return (int32_t)s;
        }
    return -1;
}

static void publish(edge *e, int32_t slot, uint64_t len)
{
    if (len == 0 || e->readers == 0) {
        e->busy[slot] = false;
        return;
    }
    e->len[slot] = len;
    e->refs[slot] = e->readers;
    e->seq_slot[e->published % e->depth] = (uint32_t)slot;
    e->published++;
}

static void release(edge *e, int32_t slot)
{
    if (slot >= 0 && e->refs[slot] && --e->refs[slot] == 0)
        e->busy[slot] = false;
}

static accel_arg mem_arg(accel_memory *m, uint64_t off, uint64_t size)
{
    return (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {m, off, size}};
}

static accel_result alloc_on(stream *s, uint64_t size, uint32_t home_buffer, const accel_device *near,
                             accel_memory **out)
{
    accel_run *run = s->run;
    accel_memory_alloc_info ai = {.struct_size = sizeof(ai), .size = size ? size : 1, .numa_node = -1};
    accel_topology_node home = {.struct_size = sizeof(home)};
    if (home_buffer != UINT32_MAX &&
        accel_topology_get_node(run->topo, run->plan->buffers[home_buffer].home, &home) == ACCEL_SUCCESS)
        ai.node = home.memory_node;
    else
        ai.near_device = near;
    accel_result r = accel_memory_alloc(run->inst, &ai, out);
    if (r != ACCEL_SUCCESS)
        return accel__run_fail(run, r, -1, -1, "%llu bytes for buffer %s: %s", (unsigned long long)ai.size,
                               home_buffer != UINT32_MAX ? accel__run_buffer_name(run, home_buffer)
                                                         : "(state)",
                               accel_last_error_message());
    run->buffer_bytes += ai.size;
    return ACCEL_SUCCESS;
}

static accel_result attach(stream *s, accel_memory *m, uint32_t stage)
{
    accel_result r = accel_memory_attach(m, s->run->devs[stage], NULL);
    if (r != ACCEL_SUCCESS)
        return accel__run_fail(s->run, r, (int32_t)stage, -1, "stage %s: %s",
                               accel__run_stage_name(s->run, stage), accel_last_error_message());
    return ACCEL_SUCCESS;
}

static void *host(stream *s, accel_memory *m, uint32_t buffer)
{
    void *p = NULL;
    if (accel_memory_map(m, &p) != ACCEL_SUCCESS) {
        accel__run_fail(s->run, ACCEL_ERROR_UNSUPPORTED, -1, -1, "buffer %s: %s",
                        buffer != UINT32_MAX ? accel__run_buffer_name(s->run, buffer) : "(state)",
                        accel_last_error_message());
        return NULL;
    }
    return p;
}

/* Rings, states and the small buffers. */
static accel_result setup(stream *s)
{
    accel_run *run = s->run;
    const accel_pipeline *p = run->pipeline;
    uint32_t depth = run->opt.ring_depth;
    uint64_t chunk = run->opt.chunk_size;
    for (uint32_t b = 0; b < run->nb; b++)
        s->edge_of[b] = -1;
    /* The edges: every src and every zlib dst. */
    for (uint32_t i = 0; i < run->ns; i++) {
        const accel_pipeline_stage *st = &p->stages[i].pub;
        int k = kind_of(st->function);
        for (uint32_t a = 0; a < 2; a++) {
            if (a == 1 && k != K_DEFLATE && k != K_INFLATE)
                break;
            uint32_t b = st->args[a].buffer;
            if (s->edge_of[b] < 0) {
                edge *e = &s->edges[s->edge_count];
                s->edge_of[b] = (int32_t)s->edge_count++;
                e->buffer = b;
                e->producer = p->buffers[b].pub.producer;
                e->depth = depth;
            }
        }
    }
    for (uint32_t x = 0; x < s->edge_count; x++) {
        edge *e = &s->edges[x];
        e->slot_size = chunk;
        if (e->producer >= 0 && kind_of(p->stages[e->producer].pub.function) == K_DEFLATE) {
            /* The stream form's bound over what its src slots hold (edges
             * are made in stage order: the src's size is known). */
            uint64_t in = s->edges[s->edge_of[p->stages[e->producer].pub.args[0].buffer]].slot_size;
            e->slot_size = in + 5 * ((in + 65534) / 65535) + 16;
        }
        e->len = accel__calloc(depth, sizeof(*e->len));
        e->refs = accel__calloc(depth, sizeof(*e->refs));
        e->busy = accel__calloc(depth, sizeof(*e->busy));
        e->seq_slot = accel__calloc(depth, sizeof(*e->seq_slot));
        if (!e->len || !e->refs || !e->busy || !e->seq_slot)
            return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "out of memory");
        if (alloc_on(s, e->slot_size * depth, e->buffer, NULL, &e->mem) != ACCEL_SUCCESS)
            return run->err;
        /* The host reads inputs into their rings and writes outputs from
         * theirs; a ring between two stages may live where the host cannot
         * map it (a device's memory). */
        bool host_io = e->producer < 0 || p->buffers[e->buffer].pub.output_file;
        if (host_io && !(e->host = host(s, e->mem, e->buffer)))
            return run->err;
        e->readers = p->buffers[e->buffer].pub.output_file ? 1 : 0;
    }
    for (uint32_t b = 0; b < run->nb; b++) {
        if (s->edge_of[b] >= 0)
            continue;
        uint64_t n = p->buffers[b].pub.bytes;
        if (alloc_on(s, n, b, NULL, &s->small[b]) != ACCEL_SUCCESS)
            return run->err;
    }
    for (uint32_t i = 0; i < run->ns; i++) {
        const accel_pipeline_stage *st = &p->stages[i].pub;
        sstage *g = &s->stages[i];
        g->index = i;
        g->kind = kind_of(st->function);
        g->in = &s->edges[s->edge_of[st->args[0].buffer]];
        g->in->readers++;
        g->held_out = -1;
        g->size_buffer = -1;
        g->level = 6;
        accel_result r = accel_function_get(run->devs[i], NULL, kinds[g->kind].stream, &g->fn);
        if (r != ACCEL_SUCCESS)
            return accel__run_fail(run, r, (int32_t)i, -1, "stage %s: %s", st->name,
                                   accel_last_error_message());
        g->max = g->kind == K_INFLATE ? 1 : depth;
        g->calls = accel__calloc(g->max, sizeof(*g->calls));
        if (!g->calls)
            return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "out of memory");
        if (attach(s, g->in->mem, i))
            return run->err;
        if (g->kind == K_DEFLATE || g->kind == K_INFLATE) {
            g->out = &s->edges[s->edge_of[st->args[1].buffer]];
            g->size_buffer = (int32_t)st->args[2].buffer;
            if (attach(s, g->out->mem, i))
                return run->err;
            if (g->kind == K_DEFLATE && st->arg_count > 3)
                g->level = st->args[3].value.u.i32;
        } else {
            g->result = s->small[st->args[1].buffer];
            if (attach(s, g->result, i))
                return run->err;
        }
        if (g->kind == K_CRC) {
            g->state = g->result; /* its first 4 bytes: the CRC so far, 0 for none */
        } else if (alloc_on(s, kinds[g->kind].state_size, UINT32_MAX, run->devs[i], &g->state) !=
                       ACCEL_SUCCESS ||
                   attach(s, g->state, i)) {
            return run->err;
        }
        if (alloc_on(s, (uint64_t)META_SIZE * g->max, UINT32_MAX, run->devs[i], &g->meta) != ACCEL_SUCCESS ||
            attach(s, g->meta, i) || !(g->meta_host = host(s, g->meta, UINT32_MAX)))
            return run->err;
    }
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                      */

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool submit(stream *s, sstage *g, int32_t in_slot, uint64_t in_off, uint64_t in_len, int32_t out_slot,
                   bool final, uint64_t chunk)
{
    accel_run *run = s->run;
    uint32_t m = g->next_meta;
    g->next_meta = (g->next_meta + 1) % g->max;
    accel_memory *src_mem = g->in->mem;
    uint64_t src_off = (in_slot >= 0 ? (uint64_t)in_slot * g->in->slot_size : 0) + in_off;
    accel_arg args[6];
    uint32_t n = 0;
    args[n++] = mem_arg(src_mem, src_off, in_len);
    switch (g->kind) {
    case K_CRC: args[n++] = mem_arg(g->state, 0, 4); break;
    case K_SHA:
        args[n++] = mem_arg(g->state, 0, kinds[K_SHA].state_size);
        args[n++] = mem_arg(g->result, 0, final ? 32 : 0);
        args[n++] = (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = final};
        break;
    case K_DEFLATE:
        args[n++] = mem_arg(g->out->mem, (uint64_t)out_slot * g->out->slot_size, g->out->slot_size);
        args[n++] = mem_arg(g->meta, (uint64_t)m * META_SIZE, 8);
        args[n++] = (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = g->level};
        args[n++] = mem_arg(g->state, 0, kinds[K_DEFLATE].state_size);
        args[n++] = (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = final};
        break;
    case K_INFLATE:
        args[n++] = mem_arg(g->out->mem, (uint64_t)out_slot * g->out->slot_size, g->out->slot_size);
        args[n++] = mem_arg(g->meta, (uint64_t)m * META_SIZE, 24);
        args[n++] = mem_arg(g->state, 0, kinds[K_INFLATE].state_size);
        break;
    }
    accel_submit_info si = {.struct_size = sizeof(si), .function = g->fn, .args = args, .arg_count = n};
    call *c = &g->calls[(g->head + g->count) % g->max];
    *c = (call){.gseq = s->gseq++,
                .chunk = chunk,
                .in_slot = in_slot,
                .out_slot = out_slot,
                .meta = m,
                .final = final};
    accel_result r = accel_queue_submit(run->queues[g->index], &si, &c->fence);
    if (r != ACCEL_SUCCESS) {
        accel__run_fail(run, r, (int32_t)g->index, (int64_t)chunk, "stage %s failed on chunk %llu (%s): %s",
                        accel__run_stage_name(run, g->index), (unsigned long long)chunk,
                        kinds[g->kind].stream, accel_last_error_message());
        return false;
    }
    if (g->count++ == 0)
        g->busy_since = accel__run_now_ns();
    return true;
}

/* Submit what the stage can take now; true if it submitted anything. */
static bool step(stream *s, sstage *g)
{
    bool any = false;
    edge *in = g->in;
    if (g->finished)
        return false;
    if (g->kind == K_INFLATE) {
        if (g->count)
            return false;
        if (g->ended) {
            if (g->cursor < in->published) {
                accel__run_fail(s->run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)g->index, (int64_t)g->cursor,
                                "stage %s failed on chunk %llu (zlib.inflate.stream): bytes after the end of "
                                "the zlib stream",
                                accel__run_stage_name(s->run, g->index), (unsigned long long)g->cursor);
            } else if (in->done) {
                g->finished = true;
                g->out->done = true;
            }
            return false;
        }
        if (g->cursor < in->published) {
            uint32_t slot = in->seq_slot[g->cursor % in->depth];
            if (g->held_out < 0 && (g->held_out = acquire(g->out)) < 0)
                return false;
            return submit(s, g, (int32_t)slot, g->in_off, in->len[slot] - g->in_off, g->held_out, false,
                          g->cursor);
        }
        if (in->done)
            accel__run_fail(
                s->run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)g->index,
                in->published ? (int64_t)in->published - 1 : 0,
                "stage %s failed on chunk %llu (zlib.inflate.stream): the zlib stream is cut short (the "
                "input ends inside it)",
                accel__run_stage_name(s->run, g->index),
                (unsigned long long)(in->published ? in->published - 1 : 0));
        return false;
    }
    while (g->count < g->max && s->run->err == ACCEL_SUCCESS) {
        if (g->cursor < in->published) {
            uint32_t slot = in->seq_slot[g->cursor % in->depth];
            int32_t out = -1;
            if (g->kind == K_DEFLATE && (out = acquire(g->out)) < 0)
                break;
            if (!submit(s, g, (int32_t)slot, 0, in->len[slot], out, false, g->cursor))
                break;
            g->cursor++;
            any = true;
        } else if (in->done && !g->final_sent) {
            if (g->kind == K_CRC) {
                g->final_sent = true;
                continue;
            }
            int32_t out = -1;
            if (g->kind == K_DEFLATE && (out = acquire(g->out)) < 0)
                break;
            if (!submit(s, g, -1, 0, 0, out, true, g->cursor))
                break;
            g->final_sent = true;
            any = true;
        } else {
            break;
        }
    }
    if (g->kind == K_CRC && g->final_sent && g->count == 0)
        g->finished = true;
    return any;
}

/* One completed call (its fence succeeded). */
static void complete(stream *s, sstage *g, call *c)
{
    accel_run_stage_stats *st = &s->run->stats[g->index];
    const unsigned char *meta = g->meta_host + (uint64_t)c->meta * META_SIZE;
    st->calls++;
    switch (g->kind) {
    case K_CRC:
    case K_SHA:
        if (c->in_slot >= 0) {
            st->bytes_in += g->in->len[c->in_slot];
            release(g->in, c->in_slot);
        }
        if (c->final)
            g->finished = true;
        break;
    case K_DEFLATE: {
        uint64_t out = get_u64(meta);
        if (c->in_slot >= 0) {
            st->bytes_in += g->in->len[c->in_slot];
            release(g->in, c->in_slot);
        }
        st->bytes_out += out;
        g->total_out += out;
        publish(g->out, c->out_slot, out);
        if (c->final) {
            g->finished = true;
            g->out->done = true;
        }
        break;
    }
    case K_INFLATE: {
        uint64_t consumed = get_u64(meta), written = get_u64(meta + 8);
        uint32_t status = (uint32_t)meta[16] | (uint32_t)meta[17] << 8 | (uint32_t)meta[18] << 16 |
                          (uint32_t)meta[19] << 24;
        st->bytes_in += consumed;
        st->bytes_out += written;
        g->total_out += written;
        if (written) {
            publish(g->out, g->held_out, written);
            g->held_out = -1;
        }
        g->in_off += consumed;
        uint64_t len = g->in->len[c->in_slot];
        if (status == 1 && g->in_off < len) {
            accel__run_fail(
                s->run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)g->index, (int64_t)c->chunk,
                "stage %s failed on chunk %llu (zlib.inflate.stream): bytes after the end of the zlib stream",
                accel__run_stage_name(s->run, g->index), (unsigned long long)c->chunk);
            break;
        }
        if (status == 1)
            g->ended = true;
        if (status != 2) {
            release(g->in, c->in_slot);
            g->cursor++;
            g->in_off = 0;
        }
        if (status > 2)
            accel__run_fail(s->run, ACCEL_ERROR_DRIVER_INTERNAL, (int32_t)g->index, (int64_t)c->chunk,
                            "stage %s failed on chunk %llu (zlib.inflate.stream): status %u is not 0, 1 or 2",
                            accel__run_stage_name(s->run, g->index), (unsigned long long)c->chunk, status);
        break;
    }
    }
}

/* Take the completed calls of every stage, in order; a failed one stops
 * the run, naming the earliest failed submission's stage and chunk. */
static bool reap(stream *s)
{
    accel_run *run = s->run;
    bool any = false, failed = false, failed_final = false;
    uint64_t failed_gseq = 0, failed_chunk = 0;
    uint32_t failed_stage = 0;
    accel_result failed_r = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < run->ns; i++) {
        sstage *g = &s->stages[i];
        while (g->count) {
            call *c = &g->calls[g->head];
            accel_result r = accel_fence_status(c->fence);
            if (r == ACCEL_NOT_READY)
                break;
            if (r != ACCEL_SUCCESS && (!failed || c->gseq < failed_gseq)) {
                failed = true;
                failed_gseq = c->gseq;
                failed_chunk = c->chunk;
                failed_final = c->final;
                failed_stage = i;
                failed_r = r;
            }
            if (r == ACCEL_SUCCESS && run->err == ACCEL_SUCCESS && !failed)
                complete(s, g, c);
            accel_fence_release(c->fence);
            c->fence = NULL;
            g->head = (g->head + 1) % g->max;
            if (--g->count == 0)
                g->busy_done += accel__run_now_ns() - g->busy_since;
            any = true;
        }
    }
    if (failed) {
        const char *detail = accel_last_error_message();
        accel__run_fail(run, failed_r, (int32_t)failed_stage, (int64_t)failed_chunk,
                        "stage %s failed on chunk %llu (%s%s): %s%s%s",
                        accel__run_stage_name(run, failed_stage), (unsigned long long)failed_chunk,
                        kinds[s->stages[failed_stage].kind].stream, failed_final ? ", the final call" : "",
                        accel_result_string(failed_r), detail[0] ? ": " : "", detail);
    }
    return any;
}

/* Read one chunk into each input edge that has a free slot. */
static bool read_inputs(stream *s)
{
    bool any = false;
    for (uint32_t x = 0; x < s->edge_count && s->run->err == ACCEL_SUCCESS; x++) {
        edge *e = &s->edges[x];
        if (e->producer >= 0 || e->done)
            continue;
        int32_t slot = acquire(e);
        if (slot < 0)
            continue;
        int64_t got =
            accel__run_read(s->run, e->buffer, e->host + (uint64_t)slot * e->slot_size, e->slot_size);
        if (got < 0) {
            e->busy[slot] = false;
            return false;
        }
        if ((uint64_t)got < e->slot_size || s->run->sources[e->buffer].eof)
            e->done = true;
        if (got > 0)
            s->run->chunks++;
        publish(e, slot, (uint64_t)got);
        any = true;
    }
    return any;
}

/* Write what the output edges hold, in order. */
static bool write_outputs(stream *s)
{
    bool any = false;
    for (uint32_t x = 0; x < s->edge_count && s->run->err == ACCEL_SUCCESS; x++) {
        edge *e = &s->edges[x];
        if (!s->run->pipeline->buffers[e->buffer].pub.output_file)
            continue;
        while (e->written < e->published) {
            uint32_t slot = e->seq_slot[e->written % e->depth];
            if (accel__run_write(s->run, e->buffer, e->host + (uint64_t)slot * e->slot_size, e->len[slot]))
                return false;
            e->written++;
            release(e, (int32_t)slot);
            any = true;
        }
    }
    return any;
}

/* Each stage's busy time up to now, the current stretch included. */
static void update_busy(stream *s)
{
    uint64_t now = accel__run_now_ns();
    for (uint32_t i = 0; i < s->run->ns; i++) {
        sstage *g = &s->stages[i];
        s->run->stats[i].busy_ns = g->busy_done + (g->count ? now - g->busy_since : 0);
    }
}

static bool all_done(stream *s)
{
    for (uint32_t i = 0; i < s->run->ns; i++)
        if (!s->stages[i].finished)
            return false;
    for (uint32_t x = 0; x < s->edge_count; x++)
        if (s->run->pipeline->buffers[s->edges[x].buffer].pub.output_file &&
            s->edges[x].written < s->edges[x].published)
            return false;
    return true;
}

static uint32_t in_flight(stream *s, accel_fence **fences, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->run->ns; i++)
        for (uint32_t k = 0; k < s->stages[i].count && n < cap; k++)
            fences[n++] = s->stages[i].calls[(s->stages[i].head + k) % s->stages[i].max].fence;
    return n;
}

/* The small buffers at the end: the zlib stages' totals into their
 * out_size, then every output that is not a stream. */
static void finish(stream *s)
{
    accel_run *run = s->run;
    for (uint32_t i = 0; i < run->ns && run->err == ACCEL_SUCCESS; i++) {
        sstage *g = &s->stages[i];
        if (g->size_buffer < 0 || !s->small[g->size_buffer])
            continue;
        unsigned char *p = host(s, s->small[g->size_buffer], (uint32_t)g->size_buffer);
        if (!p)
            return;
        uint64_t v = g->total_out;
        for (int k = 0; k < 8; k++)
            p[k] = (unsigned char)(v >> (8 * k));
    }
    for (uint32_t b = 0; b < run->nb && run->err == ACCEL_SUCCESS; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        if (!pb->output_file || s->edge_of[b] >= 0)
            continue;
        unsigned char *p = host(s, s->small[b], b);
        if (p)
            accel__run_write(run, b, p, pb->bytes);
    }
}

accel_result accel__run_stream(accel_run *run)
{
    stream s = {.run = run};
    s.edges = accel__calloc(2 * run->ns + 1, sizeof(*s.edges));
    s.edge_of = accel__calloc(run->nb + 1, sizeof(*s.edge_of));
    s.stages = accel__calloc(run->ns + 1, sizeof(*s.stages));
    s.small = accel__calloc(run->nb + 1, sizeof(*s.small));
    uint32_t cap = run->ns * 16 + 1;
    accel_fence **fences = accel__calloc(cap, sizeof(*fences));
    if (!s.edges || !s.edge_of || !s.stages || !s.small || !fences) {
        accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "out of memory");
        goto out;
    }
    if (setup(&s) != ACCEL_SUCCESS)
        goto out;
    for (;;) {
        if (run->err == ACCEL_SUCCESS && accel__run_cancelled(run))
            accel__run_fail(run, ACCEL_ERROR_CANCELED, -1, -1, "the run was cancelled");
        bool moved = false;
        if (run->err == ACCEL_SUCCESS) {
            moved |= read_inputs(&s);
            for (uint32_t i = 0; i < run->ns && run->err == ACCEL_SUCCESS; i++)
                moved |= step(&s, &s.stages[i]);
        }
        moved |= reap(&s);
        if (run->err == ACCEL_SUCCESS)
            moved |= write_outputs(&s);
        uint32_t n = in_flight(&s, fences, cap);
        if (run->err != ACCEL_SUCCESS && n == 0)
            break; /* drained */
        if (run->err == ACCEL_SUCCESS && all_done(&s))
            break;
        update_busy(&s);
        accel__run_progress(run, false);
        if (moved)
            continue;
        if (n == 0) {
            accel__run_fail(run, ACCEL_ERROR_DRIVER_INTERNAL, -1, -1, "the streamed run of %s stalled",
                            run->pipeline->name);
            break;
        }
        accel_fence_wait(fences, n, false, 20000000u);
    }
    if (run->err == ACCEL_SUCCESS)
        finish(&s);
    if (s.stages)
        update_busy(&s);
out:
    for (uint32_t i = 0; s.stages && i < run->ns; i++) {
        sstage *g = &s.stages[i];
        for (uint32_t k = 0; g->calls && k < g->count; k++)
            accel_fence_release(g->calls[(g->head + k) % g->max].fence);
        accel__free(g->calls);
        accel_function_destroy(g->fn);
        if (g->kind != K_CRC)
            accel_memory_free(g->state);
        accel_memory_free(g->meta);
    }
    for (uint32_t x = 0; s.edges && x < s.edge_count; x++) {
        edge *e = &s.edges[x];
        accel_memory_free(e->mem);
        accel__free(e->len);
        accel__free(e->refs);
        accel__free(e->busy);
        accel__free(e->seq_slot);
    }
    for (uint32_t b = 0; s.small && b < run->nb; b++)
        accel_memory_free(s.small[b]);
    accel__free(s.edges);
    accel__free(s.edge_of);
    accel__free(s.stages);
    accel__free(s.small);
    accel__free(fences);
    return run->err;
}
