/*
 * run.c — running a plan: accel_run_create / bind / execute / cancel /
 * destroy, progress, and the whole-buffer executor: every buffer allocated
 * at its size on its planned home, every stage one call, ordered by fences.
 * run_io.c opens, reads and writes the inputs and outputs; run_stream.c
 * streams the pipelines whose stages all have stream forms.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "handle.h"
#include "log.h"
#include "os.h"
#include "placement.h"
#include "run.h"

uint64_t accel__run_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

accel_result accel__run_fail(accel_run *run, accel_result result, int32_t stage, int64_t chunk,
                             const char *fmt, ...)
{
    if (run->err != ACCEL_SUCCESS)
        return run->err;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    run->err = result;
    run->failed_stage = stage;
    run->failed_chunk = chunk;
    accel__free(run->message);
    run->message = accel__strdup(msg);
    return accel__error(result, "%s", msg);
}

bool accel__run_cancelled(accel_run *run)
{
    return atomic_load(&run->cancel) != 0;
}

const char *accel__run_stage_name(const accel_run *run, uint32_t stage)
{
    return stage < run->ns ? run->pipeline->stages[stage].pub.name : "?";
}

const char *accel__run_buffer_name(const accel_run *run, uint32_t buffer)
{
    return buffer < run->nb ? run->pipeline->buffers[buffer].pub.name : "?";
}

/* ------------------------------------------------------------------------ */
/* The API                                                                    */

accel_result accel_run_create(accel_instance *instance, const accel_topology *topology,
                              const accel_pipeline *pipeline, const accel_plan *plan,
                              const accel_run_options *options, accel_run **run)
{
    ACCEL__HANDLE_USE(instance, ACCEL__HANDLE_INSTANCE, "accel_run_create", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(topology, ACCEL__HANDLE_TOPOLOGY, "accel_run_create", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(pipeline, ACCEL__HANDLE_PIPELINE, "accel_run_create", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(plan, ACCEL__HANDLE_PLAN, "accel_run_create", ACCEL_ERROR_INVALID_HANDLE);
    if (!instance || !topology || !pipeline || !plan || !run)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_run_create: instance, topology, pipeline, plan and "
                            "run must not be NULL");
    if (!plan->feasible)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_create: the plan of %s is infeasible",
                            pipeline->name);
    if (plan->stage_count != pipeline->stage_count || plan->buffer_count != pipeline->buffer_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_run_create: the plan is not a plan of pipeline %s", pipeline->name);
    accel_run_options o = {.struct_size = sizeof(o)};
    if (options) {
        if (options->struct_size < sizeof(uint32_t) * 2)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_run_create: options->struct_size %u is too small",
                                options->struct_size);
        memcpy(&o, options, options->struct_size < sizeof(o) ? options->struct_size : sizeof(o));
        o.struct_size = sizeof(o);
    }
    if (o.flags & ~(uint32_t)ACCEL_RUN_WHOLE_BUFFER)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_create: unknown flags 0x%x",
                            o.flags & ~(uint32_t)ACCEL_RUN_WHOLE_BUFFER);
    if (o.ring_depth == 0)
        o.ring_depth = 3;
    if (o.ring_depth < 2 || o.ring_depth > 16)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_create: ring_depth %u is not 2 to 16",
                            o.ring_depth);
    if (o.chunk_size > (1ull << 32))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_create: chunk_size %llu is above 4 GiB",
                            (unsigned long long)o.chunk_size);
    if (o.progress_interval_ns == 0)
        o.progress_interval_ns = 100000000u;
    accel_run *r = accel__calloc(1, sizeof(*r));
    if (r && accel__handle_add(r, ACCEL__HANDLE_RUN)) {
        accel__free(r);
        r = NULL;
    }
    if (!r)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_run_create: out of memory");
    r->inst = instance;
    r->topo = topology;
    r->pipeline = pipeline;
    r->plan = plan;
    r->opt = o;
    r->nb = pipeline->buffer_count;
    r->ns = pipeline->stage_count;
    r->input_dir = accel__strdup(o.input_dir ? o.input_dir : ".");
    r->output_dir = accel__strdup(o.output_dir ? o.output_dir : r->input_dir ? r->input_dir : ".");
    r->opt.input_dir = r->opt.output_dir = NULL;
    r->binds = accel__calloc(r->nb + 1, sizeof(*r->binds));
    r->failed_stage = -1;
    r->failed_chunk = -1;
    atomic_init(&r->cancel, 0);
    if (!r->input_dir || !r->output_dir || !r->binds) {
        accel_run_destroy(r);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_run_create: out of memory");
    }
    *run = r;
    return ACCEL_SUCCESS;
}

accel_result accel_run_bind(accel_run *run, uint32_t buffer, const accel_run_io *io)
{
    ACCEL__HANDLE_USE(run, ACCEL__HANDLE_RUN, "accel_run_bind", ACCEL_ERROR_INVALID_HANDLE);
    if (!run || !io)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: run and io must not be NULL");
    if (run->executed)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_run_bind: the run has already been executed");
    if (buffer >= run->nb)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: buffer %u of %u", buffer, run->nb);
    const accel_pipeline_buffer *pb = &run->pipeline->buffers[buffer].pub;
    bool input = pb->input_file && pb->producer < 0, output = pb->output_file != NULL;
    if (!input && !output)
        return accel__error(
            ACCEL_ERROR_INVALID_ARGUMENT,
            "accel_run_bind: buffer %s is neither an input (a file no stage writes) nor an output", pb->name);
    accel_run_io v = {.struct_size = sizeof(v), .fd = -1};
    if (io->struct_size < offsetof(accel_run_io, fd) + sizeof(int32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: io->struct_size %u is too small",
                            io->struct_size);
    memcpy(&v, io, io->struct_size < sizeof(v) ? io->struct_size : sizeof(v));
    switch (v.kind) {
    case ACCEL_RUN_IO_FILE: break;
    case ACCEL_RUN_IO_PATH:
        if (!v.path || !v.path[0])
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: buffer %s: an empty path",
                                pb->name);
        break;
    case ACCEL_RUN_IO_FD:
        if (v.fd < 0 || fcntl(v.fd, F_GETFL) < 0)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: buffer %s: fd %d is not open",
                                pb->name, v.fd);
        break;
    case ACCEL_RUN_IO_CALLBACK:
        if ((input && !v.read) || (!input && !v.write))
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: buffer %s: no %s callback",
                                pb->name, input ? "read" : "write");
        break;
    default:
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_bind: buffer %s: unknown kind %d",
                            pb->name, (int)v.kind);
    }
    char *path = v.kind == ACCEL_RUN_IO_PATH ? accel__strdup(v.path) : NULL;
    if (v.kind == ACCEL_RUN_IO_PATH && !path)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_run_bind: out of memory");
    accel__run_binding *b = &run->binds[buffer];
    accel__free(b->path);
    b->set = true;
    b->io = v;
    b->path = path;
    b->io.path = path;
    return ACCEL_SUCCESS;
}

void accel_run_cancel(accel_run *run)
{
    /* No pin: a signal handler may call this (accel__handle_peek blocks on nothing). */
    if (run && accel__handle_peek(run, ACCEL__HANDLE_RUN))
        atomic_store(&run->cancel, 1);
}

accel_result accel_run_destroy(accel_run *run)
{
    ACCEL__HANDLE_DESTROY(run, ACCEL__HANDLE_RUN, "accel_run_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (!run)
        return ACCEL_SUCCESS;
    for (uint32_t b = 0; run->binds && b < run->nb; b++)
        accel__free(run->binds[b].path);
    accel__free(run->binds);
    accel__free(run->input_dir);
    accel__free(run->output_dir);
    accel__free(run->message);
    accel__free(run->mode_reason);
    accel__free(run);
    return ACCEL_SUCCESS;
}

void accel__run_progress(accel_run *run, bool force)
{
    if (!run->opt.progress)
        return;
    uint64_t now = accel__run_now_ns();
    if (!force && now - run->last_progress_ns < run->opt.progress_interval_ns)
        return;
    run->last_progress_ns = now;
    accel_run_progress p = {
        .struct_size = sizeof(p),
        .streaming = run->streaming,
        .stage_count = run->ns,
        .stages = run->stats,
        .input_bytes = run->input_bytes,
        .input_total = run->input_total,
        .output_bytes = run->output_bytes,
        .elapsed_ns = now - run->t0_ns,
    };
    run->opt.progress(run->opt.progress_user_data, &p);
}

/* ------------------------------------------------------------------------ */
/* The whole-buffer executor                                                  */

typedef struct whole {
    accel_memory **mem;   /* per buffer */
    uint64_t *bytes;      /* per buffer: its size in this run */
    accel_fence **fences; /* per stage */
    uint64_t *submit_ns;  /* per stage */
    accel_function **fns;
    accel_program **progs;
} whole;

/* A buffer's size in this run: inputs are what their source holds, derived
 * sizes follow them (the pipeline's own figures may be estimates). */
static uint64_t size_of(accel_run *run, whole *w, uint32_t b, bool *done, uint32_t depth)
{
    if (done[b] || depth > run->nb)
        return w->bytes[b];
    const accel__pipe_buffer *pb = &run->pipeline->buffers[b];
    uint64_t n = pb->pub.bytes;
    if (pb->bytes_from >= 0) {
        double src = (double)size_of(run, w, (uint32_t)pb->bytes_from, done, depth + 1);
        double v = ceil(src * pb->scale) + (double)pb->add;
        n = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
    }
    w->bytes[b] = n;
    done[b] = true;
    return n;
}

/* The host address of a buffer, or NULL after recording why. */
static unsigned char *host_of(accel_run *run, whole *w, uint32_t b)
{
    void *p = NULL;
    if (accel_memory_map(w->mem[b], &p) != ACCEL_SUCCESS) {
        accel__run_fail(run, ACCEL_ERROR_UNSUPPORTED, -1, -1, "buffer %s: %s", accel__run_buffer_name(run, b),
                        accel_last_error_message());
        return NULL;
    }
    return p;
}

static int read_u64(accel_run *run, whole *w, uint32_t b, uint64_t *value)
{
    if (w->bytes[b] < 8) {
        accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                        "buffer %s holds %llu bytes, too few for a size (8)", accel__run_buffer_name(run, b),
                        (unsigned long long)w->bytes[b]);
        return -1;
    }
    const unsigned char *p = host_of(run, w, b);
    if (!p)
        return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    *value = v;
    return 0;
}

/* The most a whole-buffer run reads of one input of unknown size:
 * ACCEL_RUN_PIPE_MAX (bytes, or with a K, M or G suffix) when set, else
 * half the machine's physical memory (docs/limits.md). 0 after an error
 * (reported). */
static uint64_t pipe_max(accel_run *run)
{
    const char *v = accel__getenv("ACCEL_RUN_PIPE_MAX");
    if (v && *v) {
        uint64_t n;
        char why[96];
        if (!accel__parse_uint(v, ACCEL__UINT_SIZE_SUFFIX, 1, UINT64_MAX, &n, why, sizeof(why))) {
            accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                            "ACCEL_RUN_PIPE_MAX=%.64s is not a number of bytes (1 or more; K, M or G for KiB, "
                            "MiB or GiB): %s",
                            v, why);
            return 0;
        }
        return n;
    }
    uint64_t phys = accel__os_physical_memory();
    return phys ? phys / 2 : UINT64_MAX;
}

/* Inputs of unknown size (a pipe, a callback) are read whole into the host
 * first: their buffers' sizes, and those derived from them, follow. At most
 * pipe_max() bytes: a pipe that never ends must not take the machine's
 * memory (a streamed run reads it chunk by chunk instead). */
static int slurp(accel_run *run, uint32_t b, unsigned char **data, uint64_t *size)
{
    uint64_t max = pipe_max(run);
    if (!max)
        return -1;
    uint64_t cap = 1u << 16, len = 0;
    if (cap > max)
        cap = max + 1; /* one byte more than allowed tells a longer input */
    unsigned char *p = accel__malloc(cap);
    for (;;) {
        if (!p) {
            accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "input buffer %s: out of memory",
                            accel__run_buffer_name(run, b));
            return -1;
        }
        int64_t n = accel__run_read(run, b, p + len, cap - len);
        if (n < 0) {
            accel__free(p);
            return -1;
        }
        len += (uint64_t)n;
        if (len > max) {
            accel__free(p);
            accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1,
                            "input buffer %s: more than %llu bytes from a pipe, which a run in whole buffers "
                            "reads into memory first (ACCEL_RUN_PIPE_MAX, default half the machine's memory); "
                            "stream the run, or give a file",
                            accel__run_buffer_name(run, b), (unsigned long long)max);
            return -1;
        }
        if (len < cap)
            break;
        cap = cap > max / 2 ? max + 1 : cap * 2;
        unsigned char *g = accel__realloc(p, cap);
        if (!g)
            accel__free(p);
        p = g;
    }
    *data = p;
    *size = len;
    return 0;
}

/* Before anything is allocated: the buffers planned on one memory node must
 * fit its capacity (where the topology knows it), and those on host memory
 * the machine's physical memory. The error names the node and its largest
 * buffer (docs/limits.md). */
static int check_memory_request(accel_run *run, const whole *w)
{
    uint64_t phys = accel__os_physical_memory();
    uint64_t host_total = 0;
    int32_t host_largest = -1;
    for (uint32_t b = 0; b < run->nb; b++) {
        uint32_t node = run->plan->buffers[b].home;
        accel_topology_node home = {.struct_size = sizeof(home)};
        if (accel_topology_get_node(run->topo, node, &home) != ACCEL_SUCCESS)
            continue;
        bool host = home.memory_kind != ACCEL_MEMORY_KIND_DEVICE && home.memory_kind != ACCEL_MEMORY_KIND_FPGA_BANK;
        uint64_t need = 0;
        int32_t largest = -1;
        bool first = true;
        /* Each node once: at its first buffer, over all of its buffers. */
        for (uint32_t k = 0; k < run->nb && first; k++) {
            if (run->plan->buffers[k].home != node)
                continue;
            if (k < b) {
                first = false;
                break;
            }
            uint64_t n = w->bytes[k] ? w->bytes[k] : 1;
            need = need > UINT64_MAX - n ? UINT64_MAX : need + n;
            if (largest < 0 || n > w->bytes[largest])
                largest = (int32_t)k;
        }
        if (!first)
            continue;
        if (home.capacity && need > home.capacity) {
            accel__run_fail(run, host ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_OUT_OF_DEVICE_MEMORY, -1, -1,
                            "the plan puts %llu bytes of buffers on %s, which holds %llu; the largest is buffer %s "
                            "(%llu bytes); nothing was allocated",
                            (unsigned long long)need, home.name, (unsigned long long)home.capacity,
                            run->pipeline->buffers[largest].pub.name, (unsigned long long)w->bytes[largest]);
            return -1;
        }
        if (host) {
            host_total = host_total > UINT64_MAX - need ? UINT64_MAX : host_total + need;
            if (host_largest < 0 || w->bytes[largest] > w->bytes[host_largest])
                host_largest = largest;
        }
    }
    if (phys && host_total > phys) {
        accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1,
                        "the plan's buffers in host memory need %llu bytes, more than this machine's %llu; the "
                        "largest is buffer %s (%llu bytes); nothing was allocated",
                        (unsigned long long)host_total, (unsigned long long)phys,
                        run->pipeline->buffers[host_largest].pub.name, (unsigned long long)w->bytes[host_largest]);
        return -1;
    }
    return 0;
}

static int alloc_buffers(accel_run *run, whole *w)
{
    bool *done = accel__calloc(run->nb + 1, sizeof(*done));
    unsigned char **pre = accel__calloc(run->nb + 1, sizeof(*pre));
    int rc = -1;
    if (!done || !pre) {
        accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "out of memory");
        goto out;
    }
    for (uint32_t b = 0; b < run->nb; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        if (!pb->input_file)
            continue;
        accel__run_source *s = &run->sources[b];
        if (s->size_known) {
            w->bytes[b] = s->size;
        } else if (slurp(run, b, &pre[b], &w->bytes[b])) {
            goto out;
        }
        done[b] = true;
    }
    for (uint32_t b = 0; b < run->nb; b++)
        size_of(run, w, b, done, 0);
    if (check_memory_request(run, w))
        goto out;
    for (uint32_t b = 0; b < run->nb; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        accel_topology_node home = {.struct_size = sizeof(home)};
        accel_topology_get_node(run->topo, run->plan->buffers[b].home, &home);
        accel_memory_alloc_info ai = {
            .struct_size = sizeof(ai),
            .size = w->bytes[b] ? w->bytes[b] : 1,
            .numa_node = -1,
            .node = home.memory_node,
        };
        if (accel_memory_alloc(run->inst, &ai, &w->mem[b]) != ACCEL_SUCCESS) {
            accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "buffer %s (%llu bytes) on %s: %s",
                            pb->name, (unsigned long long)w->bytes[b], home.name, accel_last_error_message());
            goto out;
        }
        run->buffer_bytes += ai.size;
        if (!pb->input_file)
            continue;
        unsigned char *p = host_of(run, w, b);
        if (!p)
            goto out;
        if (pre[b]) {
            memcpy(p, pre[b], w->bytes[b]);
        } else {
            int64_t got = accel__run_read(run, b, p, w->bytes[b]);
            if (got < 0)
                goto out;
            if ((uint64_t)got != w->bytes[b]) {
                accel__run_fail(run, ACCEL_ERROR_IO, -1, -1,
                                "input %s (buffer %s): short read (%llu of %llu bytes)", run->sources[b].name,
                                pb->name, (unsigned long long)got, (unsigned long long)w->bytes[b]);
                goto out;
            }
        }
    }
    rc = 0;
out:
    for (uint32_t b = 0; pre && b < run->nb; b++)
        accel__free(pre[b]);
    accel__free(pre);
    accel__free(done);
    return rc;
}

/* A program's source or SPIR-V: a regular file (never a FIFO or a device:
 * accel__read_file), at most this large. */
#define PROGRAM_MAX_SIZE (64u << 20)

static int load_function(accel_run *run, whole *w, uint32_t i)
{
    const accel_pipeline_stage *st = &run->pipeline->stages[i].pub;
    accel_device *dev = run->devs[i];
    accel_program *prog = NULL;
    if (st->program) {
        char *path = accel__run_resolve(run->input_dir, st->program);
        if (!path)
            return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, (int32_t)i, -1, "out of memory"), -1;
        accel_result r;
        /* ELF and FPGA images load from their path, source and SPIR-V from their bytes. */
        if (st->program_format == ACCEL_PROGRAM_FORMAT_ELF ||
            st->program_format == ACCEL_PROGRAM_FORMAT_FPGA_IMAGE) {
            r = accel_program_load(dev, st->program_format, path, strlen(path) + 1, NULL, &prog);
        } else {
            size_t size = 0;
            char *data = NULL;
            int err = accel__read_file(path, PROGRAM_MAX_SIZE, &data, &size);
            if (err) {
                if (err == EFBIG)
                    accel__run_fail(run, ACCEL_ERROR_IO, (int32_t)i, -1,
                                    "stage %s: program %s: larger than %u bytes", st->name, path,
                                    PROGRAM_MAX_SIZE);
                else
                    accel__run_fail(run, err == ENOMEM ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_IO,
                                    (int32_t)i, -1, "stage %s: program %s: %s", st->name, path,
                                    accel__file_strerror(err));
                accel__free(path);
                return -1;
            }
            r = accel_program_load(dev, st->program_format, data, size, NULL, &prog);
            accel__free(data);
        }
        if (r != ACCEL_SUCCESS) {
            accel__run_fail(run, r, (int32_t)i, -1, "stage %s: program %s: %s", st->name, path,
                            accel_last_error_message());
            accel__free(path);
            return -1;
        }
        accel__free(path);
        w->progs[i] = prog;
    }
    accel_result r = accel_function_get(dev, prog, st->function, &w->fns[i]);
    if (r != ACCEL_SUCCESS)
        return accel__run_fail(run, r, (int32_t)i, -1, "stage %s: %s", st->name, accel_last_error_message()),
               -1;
    return 0;
}

/* The fences stage i waits for: the last writer of every buffer it uses
 * (or takes a size from) and, for the buffers it writes, their readers. */
static uint32_t dependencies(accel_run *run, whole *w, uint32_t i, accel_fence **waits)
{
    const accel_pipeline_stage *st = &run->pipeline->stages[i].pub;
    uint32_t n = 0;
    for (uint32_t j = 0; j < i; j++) {
        const accel_pipeline_stage *prev = &run->pipeline->stages[j].pub;
        bool depends = false;
        for (uint32_t a = 0; a < st->arg_count && !depends; a++) {
            if (st->args[a].kind != ACCEL_ARG_MEMORY)
                continue;
            for (uint32_t c = 0; c < prev->arg_count && !depends; c++) {
                if (prev->args[c].kind != ACCEL_ARG_MEMORY)
                    continue;
                bool same =
                    prev->args[c].buffer == st->args[a].buffer ||
                    (st->args[a].size_from >= 0 && prev->args[c].buffer == (uint32_t)st->args[a].size_from);
                if (same && (prev->args[c].writes || st->args[a].writes ||
                             prev->args[c].buffer == (uint32_t)st->args[a].size_from))
                    depends = true;
            }
        }
        if (depends && w->fences[j])
            waits[n++] = w->fences[j];
    }
    return n;
}

static int submit_stage(accel_run *run, whole *w, uint32_t i)
{
    const accel_pipeline_stage *st = &run->pipeline->stages[i].pub;
    if (load_function(run, w, i))
        return -1;
    accel_arg args[ACCEL_MAX_ARGS];
    accel_fence *waits[ACCEL__PIPELINE_MAX_STAGES];
    uint64_t in_bytes = 0;
    for (uint32_t a = 0; a < st->arg_count && a < ACCEL_MAX_ARGS; a++) {
        const accel_pipeline_stage_arg *pa = &st->args[a];
        if (pa->kind != ACCEL_ARG_MEMORY) {
            args[a] = pa->value;
            continue;
        }
        accel_memory *m = w->mem[pa->buffer];
        if (accel_memory_attach(m, run->devs[i], NULL) != ACCEL_SUCCESS)
            return accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)i, -1, "stage %s: %s",
                                   st->name, accel_last_error_message()),
                   -1;
        uint64_t size = w->bytes[pa->buffer];
        if (pa->size_from >= 0) {
            /* The size is known once its writer has finished. */
            uint32_t nw = dependencies(run, w, i, waits);
            accel_result wr = ACCEL_TIMEOUT;
            while (nw && wr == ACCEL_TIMEOUT)
                wr = accel_fence_wait(waits, nw, true, 50000000u);
            if (nw && wr != ACCEL_SUCCESS)
                return -1; /* the failed stage is named by wait_all */
            uint64_t v = 0;
            if (read_u64(run, w, (uint32_t)pa->size_from, &v))
                return -1;
            if (v > size)
                return accel__run_fail(
                           run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)i, -1,
                           "stage %s argument %u: size %llu read from buffer %s exceeds buffer %s (%llu)",
                           st->name, a, (unsigned long long)v,
                           accel__run_buffer_name(run, (uint32_t)pa->size_from),
                           accel__run_buffer_name(run, pa->buffer), (unsigned long long)size),
                       -1;
            size = v;
        }
        if (!pa->writes)
            in_bytes += size;
        args[a] = (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {m, 0, size}};
    }
    uint32_t nw = dependencies(run, w, i, waits);
    accel_submit_info si = {
        .struct_size = sizeof(si),
        .function = w->fns[i],
        .args = args,
        .arg_count = st->arg_count,
        .wait_fences = waits,
        .wait_fence_count = nw,
        .work_dim = st->work_dim,
        .work_size = {st->work_size[0], st->work_size[1], st->work_size[2]},
    };
    w->submit_ns[i] = accel__run_now_ns();
    accel_result r = accel_queue_submit(run->queues[i], &si, &w->fences[i]);
    if (r != ACCEL_SUCCESS)
        return accel__run_fail(run, r, (int32_t)i, -1, "stage %s (%s): %s", st->name, st->function,
                               accel_last_error_message()),
               -1;
    run->stats[i].bytes_in = in_bytes;
    return 0;
}

/* Wait for every submitted stage, reporting progress; name the first stage
 * that failed. */
static void wait_all(accel_run *run, whole *w, uint32_t submitted)
{
    /* A stage is busy from when it can start (submitted, and the stages
     * before it done: they usually feed it) to when it is done. */
    uint64_t *done = accel__calloc(submitted + 1, sizeof(*done));
    accel_fence **pending_fences = accel__calloc(submitted + 1, sizeof(*pending_fences));
    for (;;) {
        uint32_t pending = 0;
        bool before_pending = false;
        uint64_t now = accel__run_now_ns(), last_done = 0;
        for (uint32_t i = 0; i < submitted; i++) {
            uint64_t start = w->submit_ns[i] > last_done ? w->submit_ns[i] : last_done;
            if (done && done[i]) {
                run->stats[i].busy_ns = done[i] > start ? done[i] - start : 0;
            } else if (accel_fence_status(w->fences[i]) == ACCEL_NOT_READY) {
                run->stats[i].busy_ns = before_pending || now < start ? 0 : now - start;
                before_pending = true;
                if (pending_fences)
                    pending_fences[pending] = w->fences[i];
                pending++;
                continue;
            } else {
                if (done)
                    done[i] = now;
                run->stats[i].busy_ns = now > start ? now - start : 0;
                run->stats[i].calls = 1;
            }
            if (done && done[i] > last_done)
                last_done = done[i];
        }
        accel__run_progress(run, false);
        if (!pending)
            break;
        /* Only the pending ones: a wait for any returns at once on a done one. */
        if (pending_fences)
            accel_fence_wait(pending_fences, pending, false, 20000000u);
        else
            accel_fence_wait(w->fences, submitted, true, 20000000u);
    }
    accel__free(pending_fences);
    accel__free(done);
    for (uint32_t i = 0; i < submitted; i++) {
        accel_result r = accel_fence_status(w->fences[i]);
        if (r != ACCEL_SUCCESS) {
            const accel_pipeline_stage *st = &run->pipeline->stages[i].pub;
            accel__run_fail(run, r, (int32_t)i, -1, "stage %s failed (%s, whole buffers): %s", st->name,
                            st->function, accel_result_string(r));
            return;
        }
    }
}

static int write_output(accel_run *run, whole *w, uint32_t b)
{
    const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
    uint64_t n = w->bytes[b];
    if (pb->output_size_from >= 0) {
        uint64_t v = 0;
        if (read_u64(run, w, (uint32_t)pb->output_size_from, &v))
            return -1;
        if (v > n)
            return accel__run_fail(
                       run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                       "output %s: size %llu from buffer %s is larger than buffer %s (%llu bytes)",
                       pb->output_file, (unsigned long long)v,
                       accel__run_buffer_name(run, (uint32_t)pb->output_size_from), pb->name,
                       (unsigned long long)n),
                   -1;
        n = v;
    }
    const unsigned char *p = host_of(run, w, b);
    if (!p)
        return -1;
    if (pb->producer >= 0)
        run->stats[pb->producer].bytes_out += n;
    return accel__run_write(run, b, p, n);
}

static accel_result run_whole(accel_run *run)
{
    whole w = {0};
    w.mem = accel__calloc(run->nb + 1, sizeof(*w.mem));
    w.bytes = accel__calloc(run->nb + 1, sizeof(*w.bytes));
    w.fences = accel__calloc(run->ns + 1, sizeof(*w.fences));
    w.submit_ns = accel__calloc(run->ns + 1, sizeof(*w.submit_ns));
    w.fns = accel__calloc(run->ns + 1, sizeof(*w.fns));
    w.progs = accel__calloc(run->ns + 1, sizeof(*w.progs));
    uint32_t submitted = 0;
    if (!w.mem || !w.bytes || !w.fences || !w.submit_ns || !w.fns || !w.progs) {
        accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "out of memory");
        goto out;
    }
    if (alloc_buffers(run, &w))
        goto out;
    for (; submitted < run->ns && !accel__run_cancelled(run); submitted++)
        if (submit_stage(run, &w, submitted))
            break;
    if (submitted)
        wait_all(run, &w, submitted);
    if (accel__run_cancelled(run))
        accel__run_fail(run, ACCEL_ERROR_CANCELED, -1, -1, "the run was cancelled");
    for (uint32_t b = 0; run->err == ACCEL_SUCCESS && b < run->nb; b++)
        if (run->pipeline->buffers[b].pub.output_file)
            write_output(run, &w, b);
out:
    /* Every queue is drained (wait_all waited for what was submitted). */
    for (uint32_t i = 0; w.fences && i < run->ns; i++) {
        accel_fence_release(w.fences[i]);
        accel_function_destroy(w.fns[i]);
        accel_program_destroy(w.progs[i]);
    }
    for (uint32_t b = 0; w.mem && b < run->nb; b++)
        accel_memory_free(w.mem[b]);
    accel__free(w.mem);
    accel__free(w.bytes);
    accel__free(w.fences);
    accel__free(w.submit_ns);
    accel__free(w.fns);
    accel__free(w.progs);
    return run->err;
}

/* ------------------------------------------------------------------------ */
/* Execution                                                                  */

static accel_result make_queues(accel_run *run)
{
    for (uint32_t i = 0; i < run->ns; i++) {
        accel_topology_node node = {.struct_size = sizeof(node)};
        accel_topology_get_node(run->topo, run->plan->stages[i].device_node, &node);
        if (!node.device)
            return accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, (int32_t)i, -1,
                                   "stage %s is placed on %s, which is not a device of this instance",
                                   accel__run_stage_name(run, i), node.name ? node.name : "?");
        run->devs[i] = node.device;
        /* A queue per stage (placement counts an instance per stage): stages
         * on one device overlap as far as the device lets them. */
        if (accel_queue_create(node.device, 0, &run->queues[i]) != ACCEL_SUCCESS)
            return accel__run_fail(run, ACCEL_ERROR_INITIALIZATION_FAILED, (int32_t)i, -1,
                                   "stage %s: queue on %s: %s", accel__run_stage_name(run, i), node.name,
                                   accel_last_error_message());
    }
    return ACCEL_SUCCESS;
}

/* The cost entry of function `name` on topology node `node`, or NULL. */
static const accel__topo_function *node_function(const accel_topology *t, uint32_t node, const char *name)
{
    if (node >= t->node_count)
        return NULL;
    const accel__topo_node *n = &t->nodes[node];
    for (uint32_t i = 0; i < n->function_count; i++)
        if (strcmp(n->functions[i].name, name) == 0)
            return &n->functions[i];
    return NULL;
}

/*
 * The chunk size a streamed run uses when the options leave it to the plan
 * (docs/pipelines.md, "Chunk size"). The stages run at the pace of the
 * slowest, so a stage's fixed cost per call (submission, setup) matters
 * against the slowest stage's time on a chunk: the chunk is the smallest
 * power of two from CHUNK_BASE to CHUNK_MAX at which every stage's fixed
 * cost is at most 1/CHUNK_FIXED_SHARE of that time, by the costs placement
 * used (the one-shot function's line, calibrated or estimated: a stream
 * call pays the same fixed part); then, when the inputs' size is known,
 * halved (down to CHUNK_MIN) while they would make fewer than
 * CHUNK_MIN_COUNT chunks, so that the stages overlap.
 * CHUNK_BASE (ACCEL_RUN_DEFAULT_CHUNK_SIZE) when no stage has a cost.
 */
#define CHUNK_FIXED_SHARE 16.0
#define CHUNK_MIN (64u << 10)
#define CHUNK_BASE ACCEL_RUN_DEFAULT_CHUNK_SIZE
#define CHUNK_MAX (16u << 20)
#define CHUNK_MIN_COUNT 8u
uint64_t accel__run_choose_chunk(const accel_run *run)
{
    double slowest = 0, fixed = 0;
    for (uint32_t i = 0; i < run->ns; i++) {
        const char *fn = run->pipeline->stages[i].pub.function;
        const accel__topo_function *f = node_function(run->topo, run->plan->stages[i].device_node, fn);
        if (!f || !f->bytes_per_second)
            continue;
        if (slowest == 0 || (double)f->bytes_per_second < slowest)
            slowest = (double)f->bytes_per_second;
        if ((double)f->fixed_ns > fixed)
            fixed = (double)f->fixed_ns;
    }
    uint64_t chunk = CHUNK_BASE;
    double need = CHUNK_FIXED_SHARE * fixed * slowest / 1e9;
    while (chunk < CHUNK_MAX && (double)chunk < need)
        chunk <<= 1;
    while (run->input_total && chunk > CHUNK_MIN && chunk * CHUNK_MIN_COUNT > run->input_total)
        chunk >>= 1;
    return chunk;
}

accel_result accel_run_execute(accel_run *run, accel_run_result *result)
{
    ACCEL__HANDLE_USE(run, ACCEL__HANDLE_RUN, "accel_run_execute", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(run ? run->inst : NULL, ACCEL__HANDLE_INSTANCE, "accel_run_execute",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!run)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_execute: run is NULL");
    if (result && result->struct_size < offsetof(accel_run_result, result) + sizeof(accel_result))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_run_execute: result->struct_size %u is too small", result->struct_size);
    if (run->executed)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_run_execute: a run executes once");
    run->executed = true;
    run->t0_ns = run->last_progress_ns = accel__run_now_ns();
    run->devs = accel__calloc(run->ns + 1, sizeof(*run->devs));
    run->queues = accel__calloc(run->ns + 1, sizeof(*run->queues));
    run->stats = accel__calloc(run->ns + 1, sizeof(*run->stats));
    run->sources = accel__calloc(run->nb + 1, sizeof(*run->sources));
    run->sinks = accel__calloc(run->nb + 1, sizeof(*run->sinks));
    if (!run->devs || !run->queues || !run->stats || !run->sources || !run->sinks) {
        accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "accel_run_execute: out of memory");
        goto out;
    }
    if (accel__run_check_outputs(run) != ACCEL_SUCCESS || make_queues(run) != ACCEL_SUCCESS)
        goto out;
    const char *why = (run->opt.flags & ACCEL_RUN_WHOLE_BUFFER) ? "whole buffers were asked for"
                                                                : accel__run_stream_check(run);
    if (run->err != ACCEL_SUCCESS)
        goto out;
    if (why && !run->mode_reason)
        run->mode_reason = accel__strdup(why);
    run->streaming = why == NULL;
    if (accel__run_open_io(run) != ACCEL_SUCCESS)
        goto out;
    if (run->streaming && run->opt.chunk_size == 0)
        run->opt.chunk_size = accel__run_choose_chunk(run);
    if (run->streaming)
        accel__run_stream(run);
    else
        run_whole(run);
out:
    for (uint32_t i = 0; run->queues && i < run->ns; i++)
        accel_queue_destroy(run->queues[i]);
    if (run->sources && run->sinks)
        accel__run_close_io(run, run->err == ACCEL_SUCCESS);
    if (run->stats)
        accel__run_progress(run, true);
    if (result) {
        accel_run_result res = {
            .struct_size = result->struct_size,
            .result = run->err,
            .streamed = run->streaming,
            .mode_reason = run->mode_reason,
            .failed_stage = run->failed_stage,
            .failed_chunk = run->failed_chunk,
            .message = run->err != ACCEL_SUCCESS ? run->message : NULL,
            .chunk_size = run->streaming ? run->opt.chunk_size : 0,
            .chunks = run->chunks,
            .input_bytes = run->input_bytes,
            .output_bytes = run->output_bytes,
            .buffer_bytes = run->buffer_bytes,
            .elapsed_ns = accel__run_now_ns() - run->t0_ns,
        };
        memcpy(result, &res, result->struct_size < sizeof(res) ? result->struct_size : sizeof(res));
    }
    accel__free(run->devs);
    accel__free(run->queues);
    accel__free(run->stats);
    accel__free(run->sources);
    accel__free(run->sinks);
    run->devs = NULL;
    run->queues = NULL;
    run->stats = NULL;
    run->sources = NULL;
    run->sinks = NULL;
    if (run->err != ACCEL_SUCCESS)
        accel__error(run->err, "%s", run->message ? run->message : accel_result_string(run->err));
    return run->err;
}
