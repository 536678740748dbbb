/* accel-run — place a pipeline on the machine's devices and run it.
 *
 * Reads a pipeline file (docs/pipelines.md), builds the topology, asks the
 * loader for a plan, then allocates every buffer on its planned home node,
 * attaches it to the devices that use it, submits every stage with the
 * fences of the stages it depends on, waits, and writes the output files.
 * Uses only the public API (accel/accel.h). */
#include <accel/accel.h>

#include "accel-run-calibrate.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char *prog_name = "accel-run";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [OPTION]... PIPELINE.json\n"
            "       %s --calibrate [--corpus DIR] [--calibrate-sizes LIST] [--calibrate-budget S]\n"
            "Place a pipeline on the accelerators accel-loader finds, run it, and write its\n"
            "output files.\n"
            "\n"
            "  -p, --plan-only          print the plan and stop\n"
            "  -e, --explain            also say why each rejected device was rejected (with\n"
            "                           --calibrate: each size's time and the fit there)\n"
            "  -j, --json               print the plan as JSON (with --plan-only)\n"
            "  -f, --force STAGE=SEL    run STAGE on a device matching the selector term SEL\n"
            "                           (ACCEL_DEVICE_SELECTOR syntax, e.g. cpu:0, opencl:gpu);\n"
            "                           may be repeated\n"
            "      --no-copies          refuse plans that need a STAGED copy\n"
            "      --pasid-bits N       bits the process's PASID needs (default 1)\n"
            "      --iommu-contexts N   IOMMU contexts available to non-SVA devices (0: no limit)\n"
            "      --time-limit MS      stop the placement search after MS milliseconds\n"
            "      --topology FILE.xml  plan for the machine recorded in an hwloc XML file\n"
            "      --devices FILE.json  plan with simulated devices (docs/topology.md); with\n"
            "                           --topology or --devices only --plan-only is possible\n"
            "  -o, --output-dir DIR     write output files under DIR (default: next to the\n"
            "                           pipeline file)\n"
            "  -q, --quiet              no plan and no progress on stderr\n"
            "      --calibrate          time the standard functions on every device and cache\n"
            "                           the figures for placement (docs/accel-run.md)\n"
            "      --corpus DIR         with --calibrate: the data to time on (default: the\n"
            "                           installed compression corpus)\n"
            "      --calibrate-sizes LIST  with --calibrate: input sizes, e.g. 4K,64K,1M (at\n"
            "                           least 3; default 4K,64K,1M,4M,16M)\n"
            "      --calibrate-budget S with --calibrate: seconds per device and function\n"
            "                           (default 3; slow ones still get 3 calls at 3 sizes)\n"
            "  -h, --help               show this help and exit\n"
            "\n"
            "Exit status: 0 on success, 1 if the pipeline is infeasible or a stage failed,\n"
            "2 on invalid usage.\n",
            prog_name, prog_name);
}

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog_name, what, accel_last_error_message());
    return 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A path relative to `dir` unless absolute. */
static char *resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0])
        return strdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, path);
    return p;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static char *plan_text(const accel_plan *plan, bool explain, bool json)
{
    size_t size = 0;
    accel_result r = json ? accel_plan_export_json(plan, NULL, 0, &size) : accel_plan_describe(plan, explain, NULL, 0, &size);
    if (r != ACCEL_SUCCESS || size == 0)
        return NULL;
    char *buf = malloc(size);
    if (!buf)
        return NULL;
    r = json ? accel_plan_export_json(plan, buf, size, &size) : accel_plan_describe(plan, explain, buf, size, &size);
    if (r != ACCEL_SUCCESS) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Running a plan                                                             */

typedef struct run_state {
    accel_instance *inst;
    const accel_topology *topo;
    accel_pipeline *pipeline;
    const accel_plan *plan;
    const char *base_dir;   /* inputs */
    const char *output_dir; /* outputs */
    bool quiet, explain;
    uint32_t nb, ns;
    accel_memory **mem;
    uint64_t *bytes;
    accel_fence **fences;   /* per stage */
    accel_function **fns;
    accel_program **progs;
    accel_queue **queues;   /* per stage (shared between stages of one device) */
    accel_device **devs;
    double estimate_ns;     /* the plan's */
} run_state;

/* The host address of a buffer, or NULL with a message (memory on a
 * device node the host cannot map). */
static unsigned char *host_of(run_state *s, uint32_t b)
{
    void *p = NULL;
    if (accel_memory_map(s->mem[b], &p) != ACCEL_SUCCESS) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(s->pipeline, b, &buf);
        fprintf(stderr, "%s: buffer %s: %s\n", prog_name, buf.name, accel_last_error_message());
        return NULL;
    }
    return p;
}

/* The u64 at the start of buffer b (a size a stage wrote), or -1. */
static int read_size(run_state *s, uint32_t b, uint64_t *value)
{
    if (s->bytes[b] < 8) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(s->pipeline, b, &buf);
        fprintf(stderr, "%s: buffer %s holds %llu bytes, too few for a size (8)\n", prog_name, buf.name,
                (unsigned long long)s->bytes[b]);
        return -1;
    }
    const unsigned char *p = host_of(s, b);
    if (!p)
        return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    *value = v;
    return 0;
}

static int read_input(run_state *s, uint32_t b, const accel_pipeline_buffer *buf)
{
    char *path = resolve(s->base_dir, buf->input_file);
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        fprintf(stderr, "%s: input %s (buffer %s): %s\n", prog_name, path ? path : buf->input_file, buf->name,
                strerror(errno));
        free(path);
        return 1;
    }
    unsigned char *p = host_of(s, b);
    if (!p) {
        fclose(f);
        free(path);
        return 1;
    }
    size_t got = fread(p, 1, s->bytes[b], f);
    int err = ferror(f);
    fclose(f);
    if (err || got != s->bytes[b]) {
        fprintf(stderr, "%s: input %s (buffer %s): short read (%zu of %llu bytes)\n", prog_name, path, buf->name, got,
                (unsigned long long)s->bytes[b]);
        free(path);
        return 1;
    }
    free(path);
    return 0;
}

static int write_output(run_state *s, uint32_t b, const accel_pipeline_buffer *buf)
{
    uint64_t n = s->bytes[b];
    if (buf->output_size_from >= 0) {
        uint64_t v = 0;
        if (read_size(s, (uint32_t)buf->output_size_from, &v))
            return 1;
        if (v > n) {
            fprintf(stderr, "%s: output %s: size %llu from buffer %u is larger than the buffer (%llu bytes)\n",
                    prog_name, buf->output_file, (unsigned long long)v, buf->output_size_from, (unsigned long long)n);
            return 1;
        }
        n = v;
    }
    char *path = resolve(s->output_dir, buf->output_file);
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!f) {
        fprintf(stderr, "%s: output %s: %s\n", prog_name, path ? path : buf->output_file, strerror(errno));
        free(path);
        return 1;
    }
    const unsigned char *p = host_of(s, b);
    if (!p) {
        fclose(f);
        free(path);
        return 1;
    }
    int rc = (fwrite(p, 1, n, f) != n) | (fclose(f) != 0);
    if (rc)
        fprintf(stderr, "%s: output %s: %s\n", prog_name, path, strerror(errno));
    else if (!s->quiet)
        fprintf(stderr, "%s: wrote %s (%llu bytes)\n", prog_name, path, (unsigned long long)n);
    free(path);
    return rc;
}

static int alloc_buffers(run_state *s)
{
    for (uint32_t b = 0; b < s->nb; b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(s->pipeline, b, &buf);
        accel_plan_buffer pb = {.struct_size = sizeof(pb)};
        accel_plan_get_buffer(s->plan, b, &pb);
        accel_topology_node home = {.struct_size = sizeof(home)};
        accel_topology_get_node(s->topo, pb.home_node, &home);
        s->bytes[b] = buf.bytes;
        accel_memory_alloc_info ai = {
            .struct_size = sizeof(ai),
            .size = buf.bytes ? buf.bytes : 1,
            .numa_node = -1,
            .node = home.memory_node,
        };
        if (accel_memory_alloc(s->inst, &ai, &s->mem[b]) != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: buffer %s (%llu bytes) on %s: %s\n", prog_name, buf.name,
                    (unsigned long long)buf.bytes, home.name, accel_last_error_message());
            return 1;
        }
        if (buf.input_file && read_input(s, b, &buf))
            return 1;
    }
    return 0;
}

static int load_function(run_state *s, uint32_t i, const accel_pipeline_stage *st)
{
    accel_device *dev = s->devs[i];
    accel_program *prog = NULL;
    if (st->program) {
        char *path = resolve(s->base_dir, st->program);
        if (!path)
            return 1;
        /* ELF and FPGA images are loaded from their path; source and
         * SPIR-V from their bytes. */
        accel_result r;
        if (st->program_format == ACCEL_PROGRAM_FORMAT_ELF || st->program_format == ACCEL_PROGRAM_FORMAT_FPGA_IMAGE) {
            r = accel_program_load(dev, st->program_format, path, strlen(path) + 1, NULL, &prog);
        } else {
            FILE *f = fopen(path, "rb");
            if (!f) {
                fprintf(stderr, "%s: stage %s: program %s: %s\n", prog_name, st->name, path, strerror(errno));
                free(path);
                return 1;
            }
            char *data = NULL;
            size_t size = 0, cap = 0;
            for (;;) {
                if (size + 65536 > cap) {
                    cap = cap ? cap * 2 : 65536;
                    char *n = realloc(data, cap);
                    if (!n)
                        break;
                    data = n;
                }
                size_t got = fread(data + size, 1, cap - size - 1, f);
                if (got == 0)
                    break;
                size += got;
            }
            fclose(f);
            if (data)
                data[size] = '\0';
            r = data ? accel_program_load(dev, st->program_format, data, size, NULL, &prog) : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            free(data);
        }
        if (r != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: stage %s: program %s: %s\n", prog_name, st->name, path, accel_last_error_message());
            free(path);
            return 1;
        }
        free(path);
        s->progs[i] = prog;
    }
    if (accel_function_get(dev, prog, st->function, &s->fns[i]) != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: stage %s: %s\n", prog_name, st->name, accel_last_error_message());
        return 1;
    }
    return 0;
}

/* Fences the stage must wait for: the last writer of every buffer it uses
 * and, for the buffers it writes, the readers since that writer. */
static uint32_t dependencies(run_state *s, uint32_t i, const accel_pipeline_stage *st, accel_fence **waits)
{
    uint32_t n = 0;
    for (uint32_t j = 0; j < i; j++) {
        accel_pipeline_stage prev = {.struct_size = sizeof(prev)};
        accel_pipeline_get_stage(s->pipeline, j, &prev);
        bool depends = false;
        for (uint32_t a = 0; a < st->arg_count && !depends; a++) {
            if (st->args[a].kind != ACCEL_ARG_MEMORY)
                continue;
            for (uint32_t c = 0; c < prev.arg_count && !depends; c++) {
                if (prev.args[c].kind != ACCEL_ARG_MEMORY)
                    continue;
                bool same = prev.args[c].buffer == st->args[a].buffer ||
                            (st->args[a].size_from >= 0 && prev.args[c].buffer == (uint32_t)st->args[a].size_from);
                if (same && (prev.args[c].writes || st->args[a].writes))
                    depends = true;
            }
        }
        if (depends)
            waits[n++] = s->fences[j];
    }
    return n;
}

static int submit_stage(run_state *s, uint32_t i)
{
    accel_pipeline_stage st = {.struct_size = sizeof(st)};
    accel_pipeline_get_stage(s->pipeline, i, &st);
    if (load_function(s, i, &st))
        return 1;
    accel_arg args[ACCEL_MAX_ARGS];
    if (st.arg_count > ACCEL_MAX_ARGS)
        return 1;
    for (uint32_t a = 0; a < st.arg_count; a++) {
        const accel_pipeline_stage_arg *pa = &st.args[a];
        if (pa->kind != ACCEL_ARG_MEMORY) {
            args[a] = pa->value;
            continue;
        }
        accel_memory *m = s->mem[pa->buffer];
        accel_attach_mode mode = ACCEL_ATTACH_NONE, planned = ACCEL_ATTACH_NONE;
        if (accel_memory_attach(m, s->devs[i], NULL) != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: stage %s: %s\n", prog_name, st.name, accel_last_error_message());
            return 1;
        }
        accel_function_arg_mode(s->fns[i], a, m, &mode);
        accel_plan_get_use(s->plan, i, a, &planned);
        if (s->explain && !s->quiet)
            fprintf(stderr, "%s: stage %s argument %u: %s (planned %s)\n", prog_name, st.name, a,
                    accel_attach_mode_string(mode), accel_attach_mode_string(planned));
        uint64_t size = s->bytes[pa->buffer];
        if (pa->size_from >= 0) {
            /* The size is known only once its producer has finished. */
            accel_fence **w = calloc(i + 1, sizeof(*w));
            if (!w)
                return 1;
            uint32_t nw = dependencies(s, i, &st, w);
            accel_result wr = nw ? accel_fence_wait(w, nw, true, UINT64_MAX) : ACCEL_SUCCESS;
            free(w);
            if (wr != ACCEL_SUCCESS) {
                fprintf(stderr, "%s: stage %s: a stage it depends on failed: %s\n", prog_name, st.name,
                        accel_result_string(wr));
                return 1;
            }
            uint64_t v = 0;
            if (read_size(s, (uint32_t)pa->size_from, &v))
                return 1;
            if (v > size) {
                fprintf(stderr, "%s: stage %s argument %u: size %llu read from a buffer exceeds the buffer (%llu)\n",
                        prog_name, st.name, a, (unsigned long long)v, (unsigned long long)size);
                return 1;
            }
            size = v;
        }
        args[a] = (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {m, 0, size}};
    }
    accel_fence **waits = calloc(i + 1, sizeof(*waits));
    if (!waits)
        return 1;
    uint32_t nw = dependencies(s, i, &st, waits);
    accel_submit_info si = {
        .struct_size = sizeof(si),
        .function = s->fns[i],
        .args = args,
        .arg_count = st.arg_count,
        .wait_fences = waits,
        .wait_fence_count = nw,
        .work_dim = st.work_dim,
        .work_size = {st.work_size[0], st.work_size[1], st.work_size[2]},
    };
    accel_result r = accel_queue_submit(s->queues[i], &si, &s->fences[i]);
    free(waits);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: stage %s: %s\n", prog_name, st.name, accel_last_error_message());
        return 1;
    }
    return 0;
}

static int make_queues(run_state *s)
{
    for (uint32_t i = 0; i < s->ns; i++) {
        accel_plan_stage ps = {.struct_size = sizeof(ps)};
        accel_plan_get_stage(s->plan, i, &ps);
        accel_topology_node node = {.struct_size = sizeof(node)};
        accel_topology_get_node(s->topo, ps.device_node, &node);
        if (!node.device) {
            fprintf(stderr, "%s: stage %u is placed on %s, which is not a device of this machine\n", prog_name, i,
                    node.name);
            return 1;
        }
        s->devs[i] = node.device;
        for (uint32_t j = 0; j < i; j++)
            if (s->devs[j] == node.device)
                s->queues[i] = s->queues[j];
        if (!s->queues[i] && accel_queue_create(node.device, 0, &s->queues[i]) != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: queue on %s: %s\n", prog_name, node.name, accel_last_error_message());
            return 1;
        }
    }
    return 0;
}

static int wait_all(run_state *s, uint32_t submitted)
{
    double start = now_s(), last_report = start;
    for (;;) {
        accel_result r = accel_fence_wait(s->fences, submitted, true, 500000000ull);
        if (r != ACCEL_TIMEOUT)
            break;
        double t = now_s();
        if (!s->quiet && t - last_report >= 2.0) {
            uint32_t done = 0;
            for (uint32_t i = 0; i < submitted; i++)
                done += accel_fence_status(s->fences[i]) != ACCEL_NOT_READY;
            fprintf(stderr, "%s: %u of %u stages done, %.1f s\n", prog_name, done, submitted, t - start);
            last_report = t;
        }
    }
    int rc = 0;
    for (uint32_t i = 0; i < submitted; i++) {
        accel_result r = accel_fence_status(s->fences[i]);
        if (r != ACCEL_SUCCESS) {
            accel_pipeline_stage st = {.struct_size = sizeof(st)};
            accel_pipeline_get_stage(s->pipeline, i, &st);
            fprintf(stderr, "%s: stage %s failed: %s\n", prog_name, st.name, accel_result_string(r));
            rc = 1;
        }
    }
    if (!s->quiet && rc == 0)
        fprintf(stderr, "%s: %u stage(s) done in %.3f s\n", prog_name, submitted, now_s() - start);
    return rc;
}

static int run_plan(run_state *s)
{
    s->nb = accel_pipeline_buffer_count(s->pipeline);
    s->ns = accel_pipeline_stage_count(s->pipeline);
    s->mem = calloc(s->nb + 1, sizeof(*s->mem));
    s->bytes = calloc(s->nb + 1, sizeof(*s->bytes));
    s->fences = calloc(s->ns + 1, sizeof(*s->fences));
    s->fns = calloc(s->ns + 1, sizeof(*s->fns));
    s->progs = calloc(s->ns + 1, sizeof(*s->progs));
    s->queues = calloc(s->ns + 1, sizeof(*s->queues));
    s->devs = calloc(s->ns + 1, sizeof(*s->devs));
    int rc = 1;
    uint32_t submitted = 0;
    if (!s->mem || !s->bytes || !s->fences || !s->fns || !s->progs || !s->queues || !s->devs)
        goto out;
    if (make_queues(s))
        goto out;
    /* What the plan estimates: reading the inputs into their homes, the
     * stages with their transfers, writing the outputs (not the queues,
     * made above, nor the placement). */
    double t0 = now_s();
    if (alloc_buffers(s))
        goto out;
    double t1 = now_s();
    for (; submitted < s->ns; submitted++)
        if (submit_stage(s, submitted))
            break;
    rc = submitted < s->ns;
    if (submitted)
        rc |= wait_all(s, submitted);
    double t2 = now_s();
    for (uint32_t b = 0; rc == 0 && b < s->nb; b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(s->pipeline, b, &buf);
        if (buf.output_file)
            rc |= write_output(s, b, &buf);
    }
    double t3 = now_s();
    if (rc == 0 && !s->quiet)
        fprintf(stderr,
                "%s: estimate %.2f ms, measured %.2f ms (%.2fx the estimate): inputs and buffers %.2f ms, "
                "stages %.2f ms, outputs %.2f ms\n",
                prog_name, s->estimate_ns / 1e6, (t3 - t0) * 1e3, (t3 - t0) * 1e9 / s->estimate_ns,
                (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3);
out:
    for (uint32_t i = 0; s->queues && i < s->ns; i++) {
        bool shared = false;
        for (uint32_t j = i + 1; j < s->ns; j++)
            shared |= s->queues[j] == s->queues[i];
        if (!shared)
            accel_queue_destroy(s->queues[i]);
    }
    for (uint32_t i = 0; s->fences && i < s->ns; i++) {
        accel_fence_release(s->fences[i]);
        accel_function_destroy(s->fns[i]);
        accel_program_destroy(s->progs[i]);
    }
    for (uint32_t b = 0; s->mem && b < s->nb; b++)
        accel_memory_free(s->mem[b]);
    free(s->mem);
    free(s->bytes);
    free(s->fences);
    free(s->fns);
    free(s->progs);
    free(s->queues);
    free(s->devs);
    return rc;
}

/* ------------------------------------------------------------------------ */

static int parse_u32(const char *opt, const char *text, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || v > UINT32_MAX) {
        fprintf(stderr, "%s: %s: \"%s\" is not a number\n", prog_name, opt, text);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        OPT_NO_COPIES = 256,
        OPT_PASID,
        OPT_IOMMU,
        OPT_TIME,
        OPT_TOPOLOGY,
        OPT_DEVICES,
        OPT_CALIBRATE,
        OPT_CORPUS,
        OPT_CAL_SIZES,
        OPT_CAL_BUDGET,
    };
    static const struct option opts[] = {
        {"plan-only", no_argument, NULL, 'p'},
        {"explain", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"force", required_argument, NULL, 'f'},
        {"no-copies", no_argument, NULL, OPT_NO_COPIES},
        {"pasid-bits", required_argument, NULL, OPT_PASID},
        {"iommu-contexts", required_argument, NULL, OPT_IOMMU},
        {"time-limit", required_argument, NULL, OPT_TIME},
        {"topology", required_argument, NULL, OPT_TOPOLOGY},
        {"devices", required_argument, NULL, OPT_DEVICES},
        {"output-dir", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"calibrate", no_argument, NULL, OPT_CALIBRATE},
        {"corpus", required_argument, NULL, OPT_CORPUS},
        {"calibrate-sizes", required_argument, NULL, OPT_CAL_SIZES},
        {"calibrate-budget", required_argument, NULL, OPT_CAL_BUDGET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool plan_only = false, explain = false, json = false, quiet = false, calib = false;
    const char *topology_xml = NULL, *devices_json = NULL, *output_dir = NULL;
    const char **forces = calloc((size_t)argc + 1, sizeof(*forces));
    uint32_t force_count = 0, time_limit_ms = 0;
    accel_place_options po = {.struct_size = sizeof(po)};
    calib_options co = {0};
    bool calib_only = false; /* an option that goes with --calibrate */
    int c;
    if (!forces)
        return 1;
    while ((c = getopt_long(argc, argv, "pejf:o:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': plan_only = true; break;
        case 'e': explain = true; break;
        case 'j': json = true; break;
        case 'f': forces[force_count++] = optarg; break;
        case 'o': output_dir = optarg; break;
        case 'q': quiet = true; break;
        case OPT_NO_COPIES: po.flags |= ACCEL_PLACE_NO_STAGED; break;
        case OPT_PASID:
            if (parse_u32("--pasid-bits", optarg, &po.process_pasid_bits))
                return EXIT_USAGE;
            break;
        case OPT_IOMMU:
            if (parse_u32("--iommu-contexts", optarg, &po.iommu_contexts))
                return EXIT_USAGE;
            break;
        case OPT_TIME:
            if (parse_u32("--time-limit", optarg, &time_limit_ms))
                return EXIT_USAGE;
            po.time_limit_ns = (uint64_t)time_limit_ms * 1000000u;
            break;
        case OPT_TOPOLOGY: topology_xml = optarg; break;
        case OPT_DEVICES: devices_json = optarg; break;
        case OPT_CALIBRATE: calib = true; break;
        case OPT_CORPUS:
            co.corpus_dir = optarg;
            calib_only = true;
            break;
        case OPT_CAL_SIZES:
            calib_only = true;
            if (calib_parse_sizes(optarg, &co)) {
                free(forces);
                return EXIT_USAGE;
            }
            break;
        case OPT_CAL_BUDGET: {
            char *end;
            errno = 0;
            co.budget_s = strtod(optarg, &end);
            calib_only = true;
            if (errno || end == optarg || *end || !(co.budget_s > 0 && co.budget_s <= 3600)) {
                fprintf(stderr, "%s: --calibrate-budget: \"%s\" is not a number of seconds (0 to 3600)\n",
                        prog_name, optarg);
                free(forces);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h': usage(stdout); free(forces); return 0;
        default: usage(stderr); free(forces); return EXIT_USAGE;
        }
    }
    bool what_if = topology_xml || devices_json;
    if (calib_only && !calib) {
        fprintf(stderr, "%s: --corpus, --calibrate-sizes and --calibrate-budget go with --calibrate\n", prog_name);
        free(forces);
        return EXIT_USAGE;
    }
    if (calib) {
        if (optind != argc || what_if) {
            fprintf(stderr, "%s: --calibrate takes no pipeline and no simulated machine\n", prog_name);
            free(forces);
            return EXIT_USAGE;
        }
        accel_instance *inst = NULL;
        accel_instance_options io = {.struct_size = sizeof(io)};
        if (accel_instance_create(&io, &inst) != ACCEL_SUCCESS) {
            free(forces);
            return fail("cannot start the loader");
        }
        co.quiet = quiet;
        co.verbose = explain;
        int rc = calib_run(inst, &co);
        accel_instance_destroy(inst);
        free(forces);
        return rc;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "%s: expected one pipeline file (try --help)\n", prog_name);
        free(forces);
        return EXIT_USAGE;
    }
    if (what_if && !plan_only) {
        fprintf(stderr, "%s: --topology and --devices describe a machine that is not this one: add --plan-only\n",
                prog_name);
        free(forces);
        return EXIT_USAGE;
    }
    if (json && !plan_only) {
        fprintf(stderr, "%s: --json goes with --plan-only\n", prog_name);
        free(forces);
        return EXIT_USAGE;
    }
    const char *pipeline_path = argv[optind];
    int rc = 1;
    accel_pipeline *pipeline = NULL;
    accel_instance *inst = NULL;
    accel_topology *own_topo = NULL;
    const accel_topology *topo = NULL;
    accel_plan *plan = NULL;
    char *base_dir = dir_of(pipeline_path);

    if (accel_pipeline_load(pipeline_path, &pipeline) != ACCEL_SUCCESS) {
        rc = fail("cannot read the pipeline");
        goto out;
    }
    for (uint32_t i = 0; i < force_count; i++) {
        const char *eq = strchr(forces[i], '=');
        if (!eq || eq == forces[i] || !eq[1]) {
            fprintf(stderr, "%s: --force %s: expected STAGE=SELECTOR\n", prog_name, forces[i]);
            rc = EXIT_USAGE;
            goto out;
        }
        char *stage = strndup(forces[i], (size_t)(eq - forces[i]));
        accel_result r = stage ? accel_pipeline_constrain_stage(pipeline, stage, eq + 1) : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        free(stage);
        if (r != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: --force %s: %s\n", prog_name, forces[i], accel_last_error_message());
            rc = EXIT_USAGE;
            goto out;
        }
    }
    /* Input files give their buffers' sizes. */
    for (uint32_t b = 0; b < accel_pipeline_buffer_count(pipeline); b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(pipeline, b, &buf);
        if (!buf.input_file)
            continue;
        char *path = resolve(base_dir, buf.input_file);
        struct stat st;
        if (path && stat(path, &st) == 0) {
            accel_pipeline_set_buffer_bytes(pipeline, b, (uint64_t)st.st_size);
        } else if (!plan_only) {
            fprintf(stderr, "%s: input %s (buffer %s): %s\n", prog_name, path ? path : buf.input_file, buf.name,
                    strerror(errno));
            free(path);
            goto out;
        }
        free(path);
    }
    accel_instance_options io = {.struct_size = sizeof(io)};
    if (!what_if || !topology_xml) {
        if (accel_instance_create(&io, &inst) != ACCEL_SUCCESS) {
            rc = fail("cannot start the loader");
            goto out;
        }
    }
    if (what_if) {
        accel_topology_options to = {
            .struct_size = sizeof(to),
            .flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES,
            .hwloc_xml = topology_xml,
            .simulated_devices = devices_json,
        };
        if (accel_topology_create(inst, &to, &own_topo) != ACCEL_SUCCESS) {
            rc = fail("cannot build the topology");
            goto out;
        }
        topo = own_topo;
    } else if (accel_instance_get_topology(inst, &topo) != ACCEL_SUCCESS) {
        rc = fail("cannot build the topology");
        goto out;
    }

    accel_result pr = accel_place(topo, pipeline, &po, &plan);
    if (pr != ACCEL_SUCCESS && pr != ACCEL_ERROR_INFEASIBLE) {
        rc = fail("placement failed");
        goto out;
    }
    char *text = plan ? plan_text(plan, explain, json && plan_only) : NULL;
    if (pr == ACCEL_ERROR_INFEASIBLE) {
        accel_plan_conflict cf = {.struct_size = sizeof(cf)};
        accel_plan_get_conflict(plan, &cf);
        fprintf(stderr, "%s: %s: no placement fits (%s): %s\n", prog_name, pipeline_path,
                accel_constraint_string(cf.constraint), cf.detail ? cf.detail : "");
        if (text && (explain || plan_only))
            fputs(text, plan_only ? stdout : stderr);
        free(text);
        goto out;
    }
    if (plan_only) {
        if (text)
            fputs(text, stdout);
        free(text);
        rc = 0;
        goto out;
    }
    if (text && !quiet)
        fputs(text, stderr);
    free(text);
    run_state s = {
        .inst = inst,
        .topo = topo,
        .pipeline = pipeline,
        .plan = plan,
        .base_dir = base_dir,
        .output_dir = output_dir ? output_dir : base_dir,
        .quiet = quiet,
        .explain = explain,
    };
    accel_plan_summary sum = {.struct_size = sizeof(sum)};
    if (accel_plan_get_summary(plan, &sum) == ACCEL_SUCCESS)
        s.estimate_ns = sum.cost_ns;
    rc = run_plan(&s);
out:
    accel_plan_destroy(plan);
    accel_topology_destroy(own_topo);
    accel_pipeline_destroy(pipeline);
    accel_instance_destroy(inst);
    free(base_dir);
    free(forces);
    return rc;
}
