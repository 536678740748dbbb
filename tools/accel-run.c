/* accel-run — place a pipeline on the machine's devices and run it.
 *
 * Reads a pipeline file (docs/pipelines.md), builds the topology, asks the
 * loader for a plan and runs it with the library's accel_run_* (streamed in
 * chunks where every stage has a stream form), with a progress line,
 * stdin/stdout for an input or output ("-"), and Ctrl-C cancelling the run.
 * Uses only the public API (accel/accel.h). */
#include <accel/accel.h>

#include "accel-run-calibrate.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
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
            "  -i, --input [BUF=]FILE   read input buffer BUF (needed when the pipeline has\n"
            "                           several) from FILE instead of its file; - is stdin\n"
            "      --output [BUF=]FILE  write output buffer BUF to FILE; - is stdout\n"
            "      --chunk-size N       stream in chunks of N bytes (K, M, G suffixes;\n"
            "                           default: chosen from the plan's costs)\n"
            "      --whole-buffer       never stream: whole buffers, one call per stage\n"
            "      --throughput         place for a stream's throughput (its busiest device)\n"
            "                           rather than one pass's latency\n"
            "  -q, --quiet              no plan and no progress on stderr\n"
            "      --calibrate          time the standard functions on every device and cache\n"
            "                           the figures for placement (docs/accel-run.md)\n"
            "      --corpus DIR         with --calibrate: the data to time on (default: the\n"
            "                           installed compression corpus)\n"
            "      --calibrate-sizes LIST  with --calibrate: input sizes, e.g. 4K,64K,1M (at\n"
            "                           least 3; default 4K,64K,256K,1M,4M,16M)\n"
            "      --calibrate-budget S with --calibrate: seconds per device and function\n"
            "                           (default 3, over two passes; slow ones still get\n"
            "                           4 calls at 3 sizes)\n"
            "  -h, --help               show this help and exit\n"
            "  -V, --version            show the version of accel-run and of the loader\n"
            "                           library and exit\n"
            "\n"
            "See accel-run(1) and accel-loader(7).\n"
            "\n"
            "Exit status: 0 on success, 1 if the pipeline is infeasible or a stage failed,\n"
            "2 on invalid usage, 130 when interrupted (no output is kept).\n",
            prog_name, prog_name);
}

static int fail(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog_name, what, accel_last_error_message());
    return 1;
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
    accel_result r = json ? accel_plan_export_json(plan, NULL, 0, &size)
                          : accel_plan_describe(plan, explain, NULL, 0, &size);
    if (r != ACCEL_SUCCESS || size == 0)
        return NULL;
    char *buf = malloc(size);
    if (!buf)
        return NULL;
    r = json ? accel_plan_export_json(plan, buf, size, &size)
             : accel_plan_describe(plan, explain, buf, size, &size);
    if (r != ACCEL_SUCCESS) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Running a plan (the library's accel_run_*)                                 */

/* --input / --output: [BUFFER=]PATH, PATH "-" for stdin / stdout. */
typedef struct io_spec {
    const char *arg;
    const char *path;
    int32_t buffer;
    bool output;
} io_spec;

typedef struct progress_state {
    bool tty, quiet, line_open;
    uint32_t stage_count;
    const char **stage_names;
    uint64_t last_ns;
} progress_state;

typedef struct stdout_sink {
    uint64_t bytes;
} stdout_sink;

static int write_stdout(void *user_data, const void *data, uint64_t size)
{
    stdout_sink *s = user_data;
    const char *p = data;
    while (size) {
        ssize_t n = write(STDOUT_FILENO, p, size > (1u << 30) ? 1u << 30 : (size_t)size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        size -= (uint64_t)n;
        s->bytes += (uint64_t)n;
    }
    return 0;
}

static void human_bytes(char *buf, size_t size, double v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* A progress line: bytes in and out, the rate, the ETA when the input size
 * is known, each stage's share of the time busy. On a terminal one line
 * rewritten in place; otherwise a line each report. */
static void on_progress(void *user_data, const accel_run_progress *p)
{
    progress_state *ps = user_data;
    if (ps->quiet)
        return;
    double t = (double)p->elapsed_ns * 1e-9;
    char in[32], out[32], rate[32], line[1024];
    human_bytes(in, sizeof(in), (double)p->input_bytes);
    human_bytes(out, sizeof(out), (double)p->output_bytes);
    human_bytes(rate, sizeof(rate), t > 0 ? (double)p->input_bytes / t : 0);
    int n = snprintf(line, sizeof(line), "%s: %s in, %s out, %s/s", prog_name, in, out, rate);
    if (p->input_total && p->input_bytes <= p->input_total && n > 0 && (size_t)n < sizeof(line)) {
        double frac = (double)p->input_bytes / (double)p->input_total;
        if (frac > 0 && frac < 1)
            n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f%%, ETA %.0f s", frac * 100,
                          t / frac - t);
        else
            n += snprintf(line + n, sizeof(line) - (size_t)n, ", %.0f%%", frac * 100);
    }
    for (uint32_t i = 0; i < p->stage_count && n > 0 && (size_t)n < sizeof(line); i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s %.0f%%",
                      i ? ", " : "; busy: ", i < ps->stage_count ? ps->stage_names[i] : "?",
                      p->elapsed_ns ? 100.0 * (double)p->stages[i].busy_ns / (double)p->elapsed_ns : 0.0);
    if (ps->tty) {
        fprintf(stderr, "\r%s\033[K", line);
        ps->line_open = true;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

static accel_run *volatile active_run;
static volatile sig_atomic_t interrupted;

/* SIGINT and SIGTERM cancel the run (or, before it starts, keep it from
 * starting): what is in flight finishes and the outputs are removed. */
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
    accel_run *r = active_run;
    if (r)
        accel_run_cancel(r);
}

/* Which buffer a --input / --output names: BUFFER=PATH, or PATH alone when
 * the pipeline has a single input (output). */
static int resolve_spec(accel_pipeline *pipeline, io_spec *spec)
{
    const char *eq = strchr(spec->arg, '=');
    uint32_t nb = accel_pipeline_buffer_count(pipeline), found = 0;
    char names[512] = "";
    spec->buffer = -1;
    spec->path = eq ? eq + 1 : spec->arg;
    for (uint32_t b = 0; b < nb; b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(pipeline, b, &buf);
        bool fits = spec->output ? buf.output_file != NULL : (buf.input_file != NULL && buf.producer < 0);
        if (eq) {
            if (strlen(buf.name) == (size_t)(eq - spec->arg) &&
                strncmp(buf.name, spec->arg, (size_t)(eq - spec->arg)) == 0) {
                if (!fits) {
                    fprintf(stderr, "%s: %s %s: buffer %s is not an %s of the pipeline\n", prog_name,
                            spec->output ? "--output" : "--input", spec->arg, buf.name,
                            spec->output ? "output" : "input");
                    return -1;
                }
                spec->buffer = (int32_t)b;
                return 0;
            }
            continue;
        }
        if (fits) {
            found++;
            spec->buffer = (int32_t)b;
            size_t len = strlen(names);
            snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", buf.name);
        }
    }
    if (eq && spec->buffer < 0) {
        fprintf(stderr, "%s: %s %s: the pipeline has no buffer \"%.*s\"\n", prog_name,
                spec->output ? "--output" : "--input", spec->arg, (int)(eq - spec->arg), spec->arg);
        return -1;
    }
    if (!eq && found != 1) {
        fprintf(stderr, "%s: %s %s: the pipeline has %u %ss (%s): name one, as BUFFER=%s\n", prog_name,
                spec->output ? "--output" : "--input", spec->arg, found, spec->output ? "output" : "input",
                names, spec->path);
        return -1;
    }
    if (!spec->path[0]) {
        fprintf(stderr, "%s: %s %s: an empty path\n", prog_name, spec->output ? "--output" : "--input",
                spec->arg);
        return -1;
    }
    return 0;
}

/* mkdir DIR (not its parents); an existing directory is fine. 0, or -1
 * after saying why. */
static int make_output_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0)
        return 0;
    int err = errno;
    if (err == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    fprintf(stderr, "%s: output directory %s: %s\n", prog_name, dir,
            err == EEXIST ? "exists and is not a directory" : strerror(err));
    return -1;
}

typedef struct run_args {
    accel_instance *inst;
    const accel_topology *topo;
    accel_pipeline *pipeline;
    const accel_plan *plan;
    const char *base_dir, *output_dir;
    io_spec *specs;
    uint32_t spec_count;
    uint64_t chunk_size;
    bool whole, quiet, explain;
    double estimate_ns;        /* one pass, the stages one after another */
    double stream_estimate_ns; /* streamed: the busiest compute group's stages */
    const char *bottleneck;    /* that group */
} run_args;

static int run_plan(run_args *a)
{
    uint32_t ns = accel_pipeline_stage_count(a->pipeline);
    const char **names = calloc(ns + 1, sizeof(*names));
    if (!names)
        return 1;
    for (uint32_t i = 0; i < ns; i++) {
        accel_pipeline_stage st = {.struct_size = sizeof(st)};
        accel_pipeline_get_stage(a->pipeline, i, &st);
        names[i] = st.name;
    }
    progress_state ps = {
        .tty = isatty(STDERR_FILENO), .quiet = a->quiet, .stage_count = ns, .stage_names = names};
    accel_run_options ro = {
        .struct_size = sizeof(ro),
        .flags = a->whole ? ACCEL_RUN_WHOLE_BUFFER : 0,
        .chunk_size = a->chunk_size,
        .input_dir = a->base_dir,
        .output_dir = a->output_dir,
        .progress = on_progress,
        .progress_user_data = &ps,
        .progress_interval_ns = ps.tty ? 200000000u : 2000000000u,
    };
    accel_run *run = NULL;
    stdout_sink so = {0};
    int rc = 1;
    if (accel_run_create(a->inst, a->topo, a->pipeline, a->plan, &ro, &run) != ACCEL_SUCCESS) {
        free(names);
        return fail("cannot run the plan");
    }
    for (uint32_t k = 0; k < a->spec_count; k++) {
        io_spec *sp = &a->specs[k];
        accel_run_io io = {.struct_size = sizeof(io), .kind = ACCEL_RUN_IO_PATH, .path = sp->path, .fd = -1};
        if (strcmp(sp->path, "-") == 0 && sp->output) {
            io.kind = ACCEL_RUN_IO_CALLBACK;
            io.write = write_stdout;
            io.user_data = &so;
        } else if (strcmp(sp->path, "-") == 0) {
            io.kind = ACCEL_RUN_IO_FD;
            io.fd = STDIN_FILENO;
        }
        if (accel_run_bind(run, (uint32_t)sp->buffer, &io) != ACCEL_SUCCESS) {
            rc = fail(sp->arg);
            goto out;
        }
    }
    active_run = run;
    if (interrupted)
        accel_run_cancel(run);
    accel_run_result res = {.struct_size = sizeof(res)};
    accel_result r = accel_run_execute(run, &res);
    active_run = NULL;
    if (ps.line_open)
        fputc('\n', stderr);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog_name, res.message ? res.message : accel_result_string(r));
        if (r == ACCEL_ERROR_CANCELED)
            fprintf(stderr, "%s: cancelled; no output was kept\n", prog_name);
        rc = r == ACCEL_ERROR_CANCELED ? 130 : 1;
        goto out;
    }
    rc = 0;
    if (a->quiet)
        goto out;
    if (res.streamed) {
        char chunk[32];
        human_bytes(chunk, sizeof(chunk), (double)res.chunk_size);
        fprintf(stderr, "%s: streamed %llu chunk(s) of %s; %llu bytes of buffers\n", prog_name,
                (unsigned long long)res.chunks, chunk, (unsigned long long)res.buffer_bytes);
    } else {
        fprintf(stderr, "%s: whole buffers (%s); %llu bytes of buffers\n", prog_name,
                res.mode_reason ? res.mode_reason : "asked for", (unsigned long long)res.buffer_bytes);
    }
    for (uint32_t b = 0; b < accel_pipeline_buffer_count(a->pipeline); b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(a->pipeline, b, &buf);
        if (!buf.output_file)
            continue;
        const char *path = NULL;
        for (uint32_t k = 0; k < a->spec_count; k++)
            if (a->specs[k].output && a->specs[k].buffer == (int32_t)b)
                path = a->specs[k].path;
        if (path && strcmp(path, "-") == 0) {
            fprintf(stderr, "%s: wrote standard output (%llu bytes)\n", prog_name,
                    (unsigned long long)so.bytes);
            continue;
        }
        char *full = path ? strdup(path) : resolve(a->output_dir, buf.output_file);
        struct stat st;
        if (full && stat(full, &st) == 0)
            fprintf(stderr, "%s: wrote %s (%llu bytes)\n", prog_name, full, (unsigned long long)st.st_size);
        free(full);
    }
    double ms = (double)res.elapsed_ns / 1e6;
    /* Streamed, the stages overlap: the time is the busiest compute
     * group's (its stages take turns on it), plus filling and draining the
     * pipeline: the first chunk goes through the stages before that group
     * and the last through those after it while it waits, a chunk's share
     * of the other groups' time (the one pass's sum less the group's).
     * Else the stages' sum. */
    double est = a->estimate_ns;
    char how[200];
    if (res.streamed && a->stream_estimate_ns > 0) {
        double k = res.chunks > 0 ? (double)res.chunks : 1.0;
        double rest = a->estimate_ns > a->stream_estimate_ns ? a->estimate_ns - a->stream_estimate_ns : 0;
        est = a->stream_estimate_ns + rest / k;
        snprintf(how, sizeof(how),
                 "streamed (the estimate is the busiest compute group's time, %s, and a chunk's pass through the "
                 "others)",
                 a->bottleneck && a->bottleneck[0] ? a->bottleneck : "?");
    } else {
        snprintf(how, sizeof(how), "%s", res.streamed ? "streamed" : "whole buffers (the estimate adds the stages up)");
    }
    fprintf(stderr, "%s: estimate %.2f ms, measured %.2f ms (%.2fx the estimate), %s\n", prog_name, est / 1e6, ms,
            est > 0 ? ms * 1e6 / est : 0.0, how);
out:
    accel_run_destroy(run);
    free(names);
    return rc;
}
/* ------------------------------------------------------------------------ */

/* N with an optional K, M or G (powers of 1024), 1 byte to 1 GiB. */
static int parse_size(const char *opt, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mul = 1;
    if (end != text && (*end == 'K' || *end == 'k'))
        mul = 1024, end++;
    else if (end != text && (*end == 'M' || *end == 'm'))
        mul = 1024 * 1024, end++;
    else if (end != text && (*end == 'G' || *end == 'g'))
        mul = 1024 * 1024 * 1024, end++;
    if (errno || end == text || *end || text[0] == '-' || v == 0 || v > (1ull << 30) / mul) {
        fprintf(stderr, "%s: %s: \"%s\" is not a size from 1 byte to 1G (N, NK, NM, NG)\n", prog_name, opt,
                text);
        return -1;
    }
    *out = v * mul;
    return 0;
}

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
        OPT_OUTPUT,
        OPT_CHUNK,
        OPT_WHOLE,
        OPT_THROUGHPUT,
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
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"chunk-size", required_argument, NULL, OPT_CHUNK},
        {"whole-buffer", no_argument, NULL, OPT_WHOLE},
        {"throughput", no_argument, NULL, OPT_THROUGHPUT},
        {"calibrate", no_argument, NULL, OPT_CALIBRATE},
        {"corpus", required_argument, NULL, OPT_CORPUS},
        {"calibrate-sizes", required_argument, NULL, OPT_CAL_SIZES},
        {"calibrate-budget", required_argument, NULL, OPT_CAL_BUDGET},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    bool plan_only = false, explain = false, json = false, quiet = false, calib = false, whole = false;
    io_spec *specs = calloc((size_t)argc + 1, sizeof(*specs));
    uint32_t spec_count = 0;
    uint64_t chunk_size = 0;
    const char *topology_xml = NULL, *devices_json = NULL, *output_dir = NULL;
    const char **forces = calloc((size_t)argc + 1, sizeof(*forces));
    uint32_t force_count = 0, time_limit_ms = 0;
    accel_place_options po = {.struct_size = sizeof(po)};
    calib_options co = {0};
    bool calib_only = false; /* an option that goes with --calibrate */
    int c;
    if (!forces || !specs)
        return 1;
    while ((c = getopt_long(argc, argv, "pejf:o:i:qhV", opts, NULL)) != -1) {
        switch (c) {
        case 'p': plan_only = true; break;
        case 'e': explain = true; break;
        case 'j': json = true; break;
        case 'f': forces[force_count++] = optarg; break;
        case 'o': output_dir = optarg; break;
        case 'q': quiet = true; break;
        case 'i': specs[spec_count++] = (io_spec){.arg = optarg}; break;
        case OPT_OUTPUT: specs[spec_count++] = (io_spec){.arg = optarg, .output = true}; break;
        case OPT_WHOLE: whole = true; break;
        case OPT_THROUGHPUT: po.objective = ACCEL_PLACE_OBJECTIVE_THROUGHPUT; break;
        case OPT_CHUNK:
            if (parse_size("--chunk-size", optarg, &chunk_size)) {
                free(forces);
                free(specs);
                return EXIT_USAGE;
            }
            break;
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
                free(specs);
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
                free(specs);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h':
            usage(stdout);
            free(forces);
            free(specs);
            return 0;
        case 'V':
            printf("accel-run %s\nlibaccel-loader %s\n", ACCEL_HEADER_VERSION_STRING,
                   accel_loader_version_string());
            free(forces);
            free(specs);
            return 0;
        default:
            usage(stderr);
            free(forces);
            free(specs);
            return EXIT_USAGE;
        }
    }
    bool what_if = topology_xml || devices_json;
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a blocked read returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (calib_only && !calib) {
        fprintf(stderr, "%s: --corpus, --calibrate-sizes and --calibrate-budget go with --calibrate\n",
                prog_name);
        free(forces);
        free(specs);
        return EXIT_USAGE;
    }
    if (calib) {
        if (optind != argc || what_if) {
            fprintf(stderr, "%s: --calibrate takes no pipeline and no simulated machine\n", prog_name);
            free(forces);
            free(specs);
            return EXIT_USAGE;
        }
        accel_instance *inst = NULL;
        accel_instance_options io = {.struct_size = sizeof(io)};
        if (accel_instance_create(&io, &inst) != ACCEL_SUCCESS) {
            free(forces);
            free(specs);
            return fail("cannot start the loader");
        }
        co.quiet = quiet;
        co.verbose = explain;
        int rc = calib_run(inst, &co);
        accel_instance_destroy(inst);
        free(forces);
        free(specs);
        return rc;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "%s: expected one pipeline file (try --help)\n", prog_name);
        free(forces);
        free(specs);
        return EXIT_USAGE;
    }
    if (what_if && !plan_only) {
        fprintf(stderr,
                "%s: --topology and --devices describe a machine that is not this one: add --plan-only\n",
                prog_name);
        free(forces);
        free(specs);
        return EXIT_USAGE;
    }
    if (json && !plan_only) {
        fprintf(stderr, "%s: --json goes with --plan-only\n", prog_name);
        free(forces);
        free(specs);
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
    /* The output directory exists before any work starts: -o makes it
     * (one level, as mkdir does), or says why it cannot. */
    if (output_dir && !plan_only && make_output_dir(output_dir) != 0)
        goto out;
    for (uint32_t i = 0; i < force_count; i++) {
        const char *eq = strchr(forces[i], '=');
        if (!eq || eq == forces[i] || !eq[1]) {
            fprintf(stderr, "%s: --force %s: expected STAGE=SELECTOR\n", prog_name, forces[i]);
            rc = EXIT_USAGE;
            goto out;
        }
        char *stage = strndup(forces[i], (size_t)(eq - forces[i]));
        accel_result r =
            stage ? accel_pipeline_constrain_stage(pipeline, stage, eq + 1) : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        free(stage);
        if (r != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: --force %s: %s\n", prog_name, forces[i], accel_last_error_message());
            rc = EXIT_USAGE;
            goto out;
        }
    }
    for (uint32_t k = 0; k < spec_count; k++) {
        if (resolve_spec(pipeline, &specs[k])) {
            rc = EXIT_USAGE;
            goto out;
        }
        for (uint32_t j = 0; j < k; j++)
            if (specs[j].buffer == specs[k].buffer && specs[j].output == specs[k].output) {
                fprintf(stderr, "%s: %s: buffer bound twice\n", prog_name, specs[k].arg);
                rc = EXIT_USAGE;
                goto out;
            }
    }
    /* Input files give their buffers' sizes (stdin's is not known). */
    for (uint32_t b = 0; b < accel_pipeline_buffer_count(pipeline); b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        accel_pipeline_get_buffer(pipeline, b, &buf);
        if (!buf.input_file)
            continue;
        const char *bound = NULL;
        for (uint32_t k = 0; k < spec_count; k++)
            if (!specs[k].output && specs[k].buffer == (int32_t)b)
                bound = specs[k].path;
        if (bound && strcmp(bound, "-") == 0)
            continue;
        char *path = bound ? strdup(bound) : resolve(base_dir, buf.input_file);
        struct stat st;
        const char *kind = NULL;
        if (path && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            /* A pipeline's input is a regular file; -i may also name a
             * FIFO, read as a stream of unknown size. Nothing else. */
            if (S_ISFIFO(st.st_mode) && bound)
                kind = NULL;
            else
                kind = S_ISDIR(st.st_mode)    ? "a directory, not a regular file"
                       : S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file (name it with --input to read a pipe)"
                       : S_ISCHR(st.st_mode)  ? "a character device, not a regular file"
                       : S_ISBLK(st.st_mode)  ? "a block device, not a regular file"
                       : S_ISSOCK(st.st_mode) ? "a socket, not a regular file"
                                              : "not a regular file";
            if (kind && !plan_only) {
                fprintf(stderr, "%s: input %s (buffer %s): %s\n", prog_name, path, buf.name, kind);
                free(path);
                goto out;
            }
        } else if (path && stat(path, &st) == 0) {
            accel_pipeline_set_buffer_bytes(pipeline, b, (uint64_t)st.st_size);
        } else if (!plan_only) {
            fprintf(stderr, "%s: input %s (buffer %s): %s\n", prog_name, path ? path : buf.input_file,
                    buf.name, strerror(errno));
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

    /* A run streams where it can: cost the stream forms it will call. */
    if (!whole)
        po.flags |= ACCEL_PLACE_STREAMED;
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
    run_args ra = {
        .inst = inst,
        .topo = topo,
        .pipeline = pipeline,
        .plan = plan,
        .base_dir = base_dir,
        .output_dir = output_dir ? output_dir : base_dir,
        .specs = specs,
        .spec_count = spec_count,
        .chunk_size = chunk_size,
        .whole = whole,
        .quiet = quiet,
        .explain = explain,
    };
    accel_plan_summary sum = {.struct_size = sizeof(sum)};
    if (accel_plan_get_summary(plan, &sum) == ACCEL_SUCCESS) {
        ra.estimate_ns = sum.cost_ns;
        ra.stream_estimate_ns = sum.bottleneck_ns;
        ra.bottleneck = sum.bottleneck_group;
    }
    rc = run_plan(&ra);
out:
    accel_plan_destroy(plan);
    accel_topology_destroy(own_topo);
    accel_pipeline_destroy(pipeline);
    accel_instance_destroy(inst);
    free(base_dir);
    free(forces);
    free(specs);
    return rc;
}
