/*
 * bench_stream.c — the demo pipeline (pipelines/demo.json: zlib.inflate ->
 * crc32c -> zlib.deflate) streamed by the library over large inputs, next
 * to its stages run alone, to the whole-buffer mode and to the shell
 * pipeline a user would write instead:
 *
 *   - the input: the compression corpus concatenated and repeated to each
 *     size (default 1 GiB and 4 GiB), written as one zlib stream to a
 *     temporary file a period at a time (bench_stream_data.c): never the
 *     plain data in memory;
 *   - every configuration runs in a child process (this program executed
 *     again with --child), so that its peak RSS (ru_maxrss from wait4: the
 *     whole process, drivers included) is its own; the baseline is a child
 *     that creates the instance and topology and places the pipeline but
 *     runs nothing;
 *   - stream: pipelines/demo.json as accel-run runs it (input bound to the
 *     generated file, outputs written to the temporary directory);
 *   - each stage alone: a one-stage pipeline generated here (inflate: the
 *     zlib input to a plain output checked in the child; crc32c and
 *     deflate: the plain bytes from a read callback that generates them);
 *     overlap = the sum of their run times / the stream's; the stream's
 *     time / the slowest stage's says how close it comes to that bound;
 *   - whole buffers: the demo with ACCEL_RUN_WHOLE_BUFFER and `plain` sized
 *     for the input, on the sizes up to --whole-buffer-max (it holds the
 *     input, the plain data and the output in memory at once);
 *   - shell: `pigz -dz | tee >(rhash --crc32c -) | pigz -6 -z` and the same
 *     with qpdf's zlib-flate, where the tools are installed (bash; its peak
 *     RSS is the largest single process of the pipeline);
 *   - every output is checked: it inflates (zlib, a piece at a time) to the
 *     input, and the CRC-32C written is the input's.
 *
 * The exit status is 1 when a check fails or the memory goal is missed
 * (the stream's peak RSS within 10% across the sizes and at most 256 MiB
 * above the baseline's), 2 on a usage or setup error. docs/benchmarks.md
 * describes the output.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <accel/accel.h>

#include "bench_stream.h"
#include "bench_util.h"

#define MIB           (1024.0 * 1024.0)
#define MAX_SIZES     8
#define MAX_FORCES    8
#define RSS_GOAL_MIB  256.0
#define RSS_SAME_FRAC 0.10

/* ---- options ---- */

typedef struct options {
    const char *corpus, *manifests, *selector, *tmpdir;
    const char *forces[MAX_FORCES];
    int force_count;
    uint64_t sizes[MAX_SIZES];
    int size_count;
    uint64_t chunk_size, whole_max;
    bool quick, no_shell, throughput;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_stream [--sizes LIST] [--quick] [--chunk-size N] [--whole-buffer-max N]\n"
            "                    [--device SELECTOR] [--force STAGE=SELECTOR]... [--throughput]\n"
            "                    [--no-shell] [--corpus DIR] [--manifests DIR] [--tmpdir DIR]\n"
            "  --sizes LIST          plain input sizes, e.g. 1G,4G (K, M, G suffixes; default 1G,4G)\n"
            "  --quick               sizes 16M,64M (a smoke test of every configuration, check and goal)\n"
            "  --chunk-size N        the streamed chunk size (default: the plan's choice)\n"
            "  --whole-buffer-max N  run the whole-buffer mode on sizes up to N (default 1G; 0: never)\n"
            "  --device SELECTOR     only these devices (ACCEL_DEVICE_SELECTOR grammar, e.g. 'cpu:*')\n"
            "  --force STAGE=SEL     place STAGE (inflate, crc, deflate) on a device matching SEL\n"
            "  --throughput          place with the throughput objective (default: latency, as accel-run)\n"
            "  --no-shell            skip the shell pipelines\n"
            "  --corpus DIR          the corpus (default %s)\n"
            "  --manifests DIR       driver manifests (default %s)\n"
            "  --tmpdir DIR          where the inputs and outputs go (default $TMPDIR, else /var/tmp)\n",
            ACCEL_BENCH_CORPUS_DIR, ACCEL_BENCH_MANIFEST_DIR);
}

/* N with an optional K, M or G (powers of 1024). */
static int parse_size(const char *text, uint64_t *out, bool zero_ok)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mul = 1;
    if (end != text && (*end == 'K' || *end == 'k'))
        mul = 1ull << 10, end++;
    else if (end != text && (*end == 'M' || *end == 'm'))
        mul = 1ull << 20, end++;
    else if (end != text && (*end == 'G' || *end == 'g'))
        mul = 1ull << 30, end++;
    if (errno || end == text || *end || text[0] == '-' || (v == 0 && !zero_ok) || v > (1ull << 40) / mul)
        return -1;
    *out = v * mul;
    return 0;
}

static int parse_sizes(const char *text, options *o)
{
    char *copy = strdup(text), *save = NULL;
    int rc = 0;
    o->size_count = 0;
    for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
        if (o->size_count == MAX_SIZES || parse_size(t, &o->sizes[o->size_count], false) != 0)
            rc = -1;
        else
            o->size_count++;
    }
    free(copy);
    return rc == 0 && o->size_count > 0 ? 0 : -1;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"sizes", required_argument, NULL, 's'},
        {"quick", no_argument, NULL, 'q'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"whole-buffer-max", required_argument, NULL, 'w'},
        {"device", required_argument, NULL, 'd'},
        {"force", required_argument, NULL, 'f'},
        {"throughput", no_argument, NULL, 't'},
        {"no-shell", no_argument, NULL, 'n'},
        {"corpus", required_argument, NULL, 'C'},
        {"manifests", required_argument, NULL, 'm'},
        {"tmpdir", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *tmp = getenv("TMPDIR");
    *o = (options){.corpus = ACCEL_BENCH_CORPUS_DIR,
                   .manifests = ACCEL_BENCH_MANIFEST_DIR,
                   .tmpdir = tmp && tmp[0] ? tmp : "/var/tmp",
                   .sizes = {1ull << 30, 4ull << 30},
                   .size_count = 2,
                   .whole_max = 1ull << 30};
    bool sizes_given = false;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 's':
            if (parse_sizes(optarg, o) != 0) {
                fprintf(stderr, "bench_stream: --sizes wants sizes such as 1G,4G (at most %d), not \"%s\"\n",
                        MAX_SIZES, optarg);
                return -1;
            }
            sizes_given = true;
            break;
        case 'q': o->quick = true; break;
        case 'c':
            if (parse_size(optarg, &o->chunk_size, false) != 0 || o->chunk_size > (1ull << 30)) {
                fprintf(stderr, "bench_stream: --chunk-size wants a size from 1 byte to 1G, not \"%s\"\n",
                        optarg);
                return -1;
            }
            break;
        case 'w':
            if (parse_size(optarg, &o->whole_max, true) != 0) {
                fprintf(stderr, "bench_stream: --whole-buffer-max wants a size, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'd': o->selector = optarg; break;
        case 'f':
            if (o->force_count == MAX_FORCES || !strchr(optarg, '=')) {
                fprintf(stderr, "bench_stream: --force wants STAGE=SELECTOR (at most %d), not \"%s\"\n",
                        MAX_FORCES, optarg);
                return -1;
            }
            o->forces[o->force_count++] = optarg;
            break;
        case 't': o->throughput = true; break;
        case 'n': o->no_shell = true; break;
        case 'C': o->corpus = optarg; break;
        case 'm': o->manifests = optarg; break;
        case 'T': o->tmpdir = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_stream: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (o->quick && !sizes_given) {
        o->sizes[0] = 16ull << 20;
        o->sizes[1] = 64ull << 20;
        o->size_count = 2;
    }
    return 0;
}

/* ---- the child: one configuration in a fresh process ---- */

/* The child reports on this descriptor, one "key value" a line (drivers may
 * print on stdout). */
#define REPORT_FD 3

typedef struct gen_source {
    const bs_corpus *corpus;
    uint64_t at, size;
} gen_source;

typedef struct check_sink {
    const bs_corpus *corpus;
    uint64_t at, size;
    uint8_t *want;
    size_t want_cap;
    char why[256];
} check_sink;

static int64_t gen_read(void *user_data, void *data, uint64_t size)
{
    gen_source *g = user_data;
    uint64_t n = g->size - g->at < size ? g->size - g->at : size;
    bs_fill(g->corpus, g->at, data, (size_t)n);
    g->at += n;
    return (int64_t)n;
}

/* Compares what the run writes with the plain data; a difference is
 * recorded, not an error of the run (the report says WRONG). */
static int check_write(void *user_data, const void *data, uint64_t size)
{
    check_sink *s = user_data;
    if (s->why[0])
        return 0;
    if (s->at + size > s->size) {
        snprintf(s->why, sizeof(s->why), "more than the input's %llu bytes", (unsigned long long)s->size);
        return 0;
    }
    const uint8_t *p = data;
    while (size) {
        size_t n = size < (1u << 20) ? (size_t)size : 1u << 20;
        if (s->want_cap < n) {
            free(s->want);
            s->want = malloc(n);
            s->want_cap = s->want ? n : 0;
            if (!s->want)
                return -1;
        }
        bs_fill(s->corpus, s->at, s->want, n);
        if (memcmp(p, s->want, n) != 0) {
            snprintf(s->why, sizeof(s->why), "other bytes than the input near byte %llu",
                     (unsigned long long)s->at);
            return 0;
        }
        p += n;
        size -= n;
        s->at += n;
    }
    return 0;
}

#define MAX_STAGES 8
static accel_run_stage_stats last_stats[MAX_STAGES];
static uint32_t last_stage_count;

static void on_progress(void *user_data, const accel_run_progress *p)
{
    (void)user_data;
    last_stage_count = p->stage_count < MAX_STAGES ? p->stage_count : MAX_STAGES;
    memcpy(last_stats, p->stages, last_stage_count * sizeof(*last_stats));
}

static void log_cb(void *user_data, accel_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    fprintf(stderr, "bench_stream (child): %s\n", message);
}

typedef struct child_bind {
    const char *buf;  /* buffer name */
    const char *path; /* --input / --output PATH */
    uint64_t n;       /* --gen / --check / --bytes N */
    char kind;        /* 'i', 'o', 'g', 'c', 'b' */
} child_bind;

static int find_buffer(const accel_pipeline *p, const char *name)
{
    for (uint32_t b = 0; b < accel_pipeline_buffer_count(p); b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        if (accel_pipeline_get_buffer(p, b, &buf) == ACCEL_SUCCESS && strcmp(buf.name, name) == 0)
            return (int)b;
    }
    return -1;
}

static bool has_stage(const accel_pipeline *p, const char *name, size_t len)
{
    for (uint32_t i = 0; i < accel_pipeline_stage_count(p); i++) {
        accel_pipeline_stage st = {.struct_size = sizeof(st)};
        if (accel_pipeline_get_stage(p, i, &st) == ACCEL_SUCCESS && strlen(st.name) == len &&
            strncmp(st.name, name, len) == 0)
            return true;
    }
    return false;
}

/* argv: --child baseline|run, then --manifests M --corpus C --pipeline P
 * [--device S] [--force ST=S]... [--throughput] [--whole] [--chunk-size N]
 * and the bindings --input B=PATH --output B=PATH --gen B=N --check B=N
 * --bytes B=N. */
static int child_main(int argc, char **argv)
{
    FILE *rep = fdopen(REPORT_FD, "w");
    if (!rep)
        return 3;
    const char *mode = argv[2], *manifests = NULL, *corpus_dir = NULL, *pipeline_path = NULL,
               *selector = NULL;
    const char *forces[MAX_FORCES];
    child_bind binds[16];
    int force_count = 0, bind_count = 0;
    bool whole = false, throughput = false;
    uint64_t chunk = 0;
    for (int i = 3; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--whole")) {
            whole = true;
            continue;
        }
        if (!strcmp(k, "--throughput")) {
            throughput = true;
            continue;
        }
        if (i + 1 == argc) {
            fprintf(stderr, "bench_stream --child: %s wants a value\n", k);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(k, "--manifests"))
            manifests = v;
        else if (!strcmp(k, "--corpus"))
            corpus_dir = v;
        else if (!strcmp(k, "--pipeline"))
            pipeline_path = v;
        else if (!strcmp(k, "--device"))
            selector = v;
        else if (!strcmp(k, "--chunk-size"))
            chunk = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--force") && force_count < MAX_FORCES)
            forces[force_count++] = v;
        else if (bind_count < 16 && strchr(v, '=') &&
                 (!strcmp(k, "--input") || !strcmp(k, "--output") || !strcmp(k, "--gen") ||
                  !strcmp(k, "--check") || !strcmp(k, "--bytes"))) {
            char *eq = strchr(v, '=');
            *eq = '\0';
            binds[bind_count++] = (child_bind){.buf = v,
                                               .path = eq + 1,
                                               .n = strtoull(eq + 1, NULL, 10),
                                               .kind = k[2] == 'i'   ? 'i'
                                                       : k[2] == 'o' ? 'o'
                                                       : k[2] == 'g' ? 'g'
                                                       : k[2] == 'c' ? 'c'
                                                                     : 'b'};
        } else {
            fprintf(stderr, "bench_stream --child: unknown argument %s\n", k);
            return 2;
        }
    }
    if (!manifests || !pipeline_path || !corpus_dir) {
        fprintf(stderr, "bench_stream --child: --manifests, --corpus and --pipeline are needed\n");
        return 2;
    }
    bs_corpus corpus = {0};
    char why[512];
    bool need_corpus = false;
    for (int i = 0; i < bind_count; i++)
        need_corpus |= binds[i].kind == 'g' || binds[i].kind == 'c';
    if (need_corpus && bs_corpus_load(corpus_dir, &corpus, why, sizeof(why)) != 0) {
        fprintf(stderr, "bench_stream --child: %s\n", why);
        return 2;
    }

    int rc = 1;
    accel_instance *inst = NULL;
    accel_pipeline *pipeline = NULL;
    accel_plan *plan = NULL;
    accel_run *run = NULL;
    const accel_topology *topo = NULL;
    gen_source gens[16];
    check_sink checks[16];
    memset(checks, 0, sizeof(checks));
    const char *paths[] = {manifests};
    accel_instance_options io = {
        .struct_size = sizeof(io),
        .flags = ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION,
        .manifest_paths = paths,
        .manifest_path_count = 1,
        .log_callback = log_cb,
        .log_mask = ACCEL_LOG_ERROR,
        .device_selector = selector,
    };
    if (accel_instance_create(&io, &inst) != ACCEL_SUCCESS ||
        accel_instance_get_topology(inst, &topo) != ACCEL_SUCCESS) {
        fprintf(rep, "error instance: %s\n", accel_last_error_message());
        goto out;
    }
    if (accel_pipeline_load(pipeline_path, &pipeline) != ACCEL_SUCCESS) {
        fprintf(rep, "error %s: %s\n", pipeline_path, accel_last_error_message());
        goto out;
    }
    for (int i = 0; i < force_count; i++) {
        const char *eq = strchr(forces[i], '=');
        char stage[64];
        snprintf(stage, sizeof(stage), "%.*s", (int)(eq - forces[i]), forces[i]);
        if (!has_stage(pipeline, forces[i], (size_t)(eq - forces[i])))
            continue; /* a one-stage pipeline has only its stage */
        if (accel_pipeline_constrain_stage(pipeline, stage, eq + 1) != ACCEL_SUCCESS) {
            fprintf(rep, "error --force %s: %s\n", forces[i], accel_last_error_message());
            goto out;
        }
    }
    /* Sizes first (placement reads them): input files as accel-run does,
     * generated inputs and --bytes as given. */
    for (int i = 0; i < bind_count; i++) {
        int b = find_buffer(pipeline, binds[i].buf);
        if (b < 0) {
            fprintf(rep, "error %s has no buffer %s\n", pipeline_path, binds[i].buf);
            goto out;
        }
        struct stat st;
        if (binds[i].kind == 'i' && stat(binds[i].path, &st) == 0)
            accel_pipeline_set_buffer_bytes(pipeline, (uint32_t)b, (uint64_t)st.st_size);
        else if (binds[i].kind == 'g' || binds[i].kind == 'b')
            accel_pipeline_set_buffer_bytes(pipeline, (uint32_t)b, binds[i].n);
    }
    accel_place_options po = {.struct_size = sizeof(po),
                              .flags = whole ? 0 : ACCEL_PLACE_STREAMED, /* as accel-run places */
                              .objective = throughput ? ACCEL_PLACE_OBJECTIVE_THROUGHPUT
                                                      : ACCEL_PLACE_OBJECTIVE_LATENCY};
    if (accel_place(topo, pipeline, &po, &plan) != ACCEL_SUCCESS) {
        accel_plan_conflict cf = {.struct_size = sizeof(cf)};
        if (plan && accel_plan_get_conflict(plan, &cf) == ACCEL_SUCCESS && cf.detail)
            fprintf(rep, "error no placement: %s\n", cf.detail);
        else
            fprintf(rep, "error placement: %s\n", accel_last_error_message());
        goto out;
    }
    for (uint32_t s = 0; s < accel_pipeline_stage_count(pipeline); s++) {
        accel_plan_stage ps = {.struct_size = sizeof(ps)};
        accel_topology_node node = {.struct_size = sizeof(node)};
        accel_pipeline_stage st = {.struct_size = sizeof(st)};
        if (accel_plan_get_stage(plan, s, &ps) == ACCEL_SUCCESS &&
            accel_topology_get_node(topo, ps.device_node, &node) == ACCEL_SUCCESS &&
            accel_pipeline_get_stage(pipeline, s, &st) == ACCEL_SUCCESS)
            fprintf(rep, "device %s %s:%u %s\n", st.name, node.driver_name ? node.driver_name : "?",
                    node.driver_index, node.name ? node.name : "?");
    }
    if (!strcmp(mode, "baseline")) {
        rc = 0;
        fprintf(rep, "result 0\n");
        goto out;
    }

    accel_run_options ro = {
        .struct_size = sizeof(ro),
        .flags = whole ? ACCEL_RUN_WHOLE_BUFFER : 0,
        .chunk_size = chunk,
        .progress = on_progress,
        .progress_interval_ns = 1000000000u,
    };
    char *dir = strdup(pipeline_path), *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    ro.input_dir = slash ? dir : ".";
    accel_result r = accel_run_create(inst, topo, pipeline, plan, &ro, &run);
    free(dir);
    if (r != ACCEL_SUCCESS) {
        fprintf(rep, "error accel_run_create: %s\n", accel_last_error_message());
        goto out;
    }
    for (int i = 0; i < bind_count; i++) {
        if (binds[i].kind == 'b')
            continue;
        accel_run_io rio = {
            .struct_size = sizeof(rio), .kind = ACCEL_RUN_IO_PATH, .path = binds[i].path, .fd = -1};
        if (binds[i].kind == 'g') {
            gens[i] = (gen_source){.corpus = &corpus, .size = binds[i].n};
            rio = (accel_run_io){.struct_size = sizeof(rio),
                                 .kind = ACCEL_RUN_IO_CALLBACK,
                                 .fd = -1,
                                 .read = gen_read,
                                 .user_data = &gens[i],
                                 .size_hint = binds[i].n};
        } else if (binds[i].kind == 'c') {
            checks[i] = (check_sink){.corpus = &corpus, .size = binds[i].n};
            rio = (accel_run_io){.struct_size = sizeof(rio),
                                 .kind = ACCEL_RUN_IO_CALLBACK,
                                 .fd = -1,
                                 .write = check_write,
                                 .user_data = &checks[i]};
        }
        if (accel_run_bind(run, (uint32_t)find_buffer(pipeline, binds[i].buf), &rio) != ACCEL_SUCCESS) {
            fprintf(rep, "error bind %s: %s\n", binds[i].buf, accel_last_error_message());
            goto out;
        }
    }
    accel_run_result res = {.struct_size = sizeof(res)};
    r = accel_run_execute(run, &res);
    fprintf(rep, "result %d\n", (int)r);
    if (r != ACCEL_SUCCESS)
        fprintf(rep, "error %s\n", res.message ? res.message : accel_result_string(r));
    fprintf(rep, "streamed %d\n", res.streamed ? 1 : 0);
    if (res.mode_reason)
        fprintf(rep, "reason %s\n", res.mode_reason);
    fprintf(rep, "run_ns %llu\n", (unsigned long long)res.elapsed_ns);
    fprintf(rep, "buffer_bytes %llu\n", (unsigned long long)res.buffer_bytes);
    fprintf(rep, "chunks %llu\n", (unsigned long long)res.chunks);
    fprintf(rep, "chunk_size %llu\n", (unsigned long long)res.chunk_size);
    for (uint32_t s = 0; s < last_stage_count; s++)
        fprintf(rep, "busy_ns %u %llu\n", s, (unsigned long long)last_stats[s].busy_ns);
    for (int i = 0; i < bind_count; i++) {
        if (binds[i].kind != 'c' || r != ACCEL_SUCCESS)
            continue;
        if (!checks[i].why[0] && checks[i].at != checks[i].size)
            snprintf(checks[i].why, sizeof(checks[i].why), "%llu bytes, not the input's %llu",
                     (unsigned long long)checks[i].at, (unsigned long long)checks[i].size);
        if (checks[i].why[0])
            fprintf(rep, "wrong output %s: %s\n", binds[i].buf, checks[i].why);
        else
            fprintf(rep, "checked output %s: the input's %llu bytes\n", binds[i].buf,
                    (unsigned long long)checks[i].size);
    }
    rc = r == ACCEL_SUCCESS ? 0 : 1;
out:
    fflush(rep);
    accel_run_destroy(run);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(pipeline);
    accel_instance_destroy(inst);
    for (int i = 0; i < 16; i++)
        free(checks[i].want);
    bs_corpus_free(&corpus);
    fclose(rep);
    return rc;
}

/* ---- the parent: configurations, checks, the table ---- */

typedef struct row {
    char config[32];
    uint64_t size;
    bool ran, wrong, failed;
    double wall_s, run_s, rss_mib;
    bool has_run_s;
    char ratio[64], check[1024];
    /* from the child */
    bool streamed;
    uint32_t nbusy;
    double busy_s[MAX_STAGES];
    uint64_t buffer_bytes, chunk_size;
    char stage[3][16], sel[3][48], device[3][96];
    uint32_t ndev;
    char reason[200], error[300], child_check[300];
} row;

#define MAX_ROWS 96
static row rows[MAX_ROWS];
static int row_count;
static char tmp_root[1024];
static volatile pid_t current_child;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    if (tmp_root[0])
        nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void on_signal(int sig)
{
    pid_t c = current_child;
    if (c > 0)
        kill(-c, SIGTERM);
    cleanup();
    _exit(128 + sig);
}

static row *new_row(const char *config, uint64_t size)
{
    if (row_count == MAX_ROWS) {
        fprintf(stderr, "bench_stream: too many rows\n");
        exit(2);
    }
    row *r = &rows[row_count++];
    memset(r, 0, sizeof(*r));
    snprintf(r->config, sizeof(r->config), "%s", config);
    r->size = size;
    return r;
}

static void parse_report(row *r, char *line)
{
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[--n] = '\0';
    char *sp = strchr(line, ' ');
    if (!sp)
        return;
    *sp = '\0';
    const char *k = line, *v = sp + 1;
    if (!strcmp(k, "device") && r->ndev < 3) {
        char st[16] = "", sel[48] = "";
        int used = 0;
        if (sscanf(v, "%15s %47s %n", st, sel, &used) >= 2) {
            snprintf(r->stage[r->ndev], sizeof(r->stage[0]), "%s", st);
            snprintf(r->sel[r->ndev], sizeof(r->sel[0]), "%s", sel);
            snprintf(r->device[r->ndev], sizeof(r->device[0]), "%s", v + used);
            r->ndev++;
        }
    } else if (!strcmp(k, "error")) {
        snprintf(r->error, sizeof(r->error), "%s", v);
    } else if (!strcmp(k, "streamed")) {
        r->streamed = atoi(v) != 0;
    } else if (!strcmp(k, "reason")) {
        snprintf(r->reason, sizeof(r->reason), "%s", v);
    } else if (!strcmp(k, "run_ns")) {
        r->run_s = (double)strtoull(v, NULL, 10) / 1e9;
        r->has_run_s = true;
    } else if (!strcmp(k, "buffer_bytes")) {
        r->buffer_bytes = strtoull(v, NULL, 10);
    } else if (!strcmp(k, "chunk_size")) {
        r->chunk_size = strtoull(v, NULL, 10);
    } else if (!strcmp(k, "busy_ns")) {
        unsigned s = 0;
        unsigned long long ns = 0;
        if (sscanf(v, "%u %llu", &s, &ns) == 2 && s < MAX_STAGES) {
            r->busy_s[s] = (double)ns / 1e9;
            if (s + 1 > r->nbusy)
                r->nbusy = s + 1;
        }
    } else if (!strcmp(k, "wrong")) {
        r->wrong = true;
        snprintf(r->child_check, sizeof(r->child_check), "WRONG: %s", v);
    } else if (!strcmp(k, "checked")) {
        snprintf(r->child_check, sizeof(r->child_check), "ok (%s)", v);
    }
}

/* Run argv (NULL-terminated) in a child; its report (REPORT_FD) parsed into
 * r, its wall time and peak RSS (the child and whatever it waited for). 0
 * when it exited 0. */
static int run_child(row *r, char *const *argv)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        close(p[0]);
        if (p[1] != REPORT_FD) {
            dup2(p[1], REPORT_FD);
            close(p[1]);
        }
        execv(argv[0], argv);
        fprintf(stderr, "bench_stream: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    current_child = pid;
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[1024];
    while (f && fgets(line, sizeof(line), f))
        parse_report(r, line);
    if (f)
        fclose(f);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    current_child = 0;
    r->wall_s = (double)(bench_now_ns() - t0) / 1e9;
    r->rss_mib = (double)ru.ru_maxrss * 1024.0 / MIB;
    r->ran = true;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        r->failed = true;
        if (!r->error[0])
            snprintf(r->error, sizeof(r->error), "%s %d",
                     WIFEXITED(status) ? "exit status" : "killed by signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    return ok ? 0 : -1;
}

typedef struct argv_builder {
    char *v[64];
    char store[64][1100];
    int n;
} argv_builder;

static void arg(argv_builder *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_builder *a, const char *fmt, ...)
{
    if (a->n >= 63)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->store[a->n], sizeof(a->store[0]), fmt, ap);
    va_end(ap);
    a->v[a->n] = a->store[a->n];
    a->v[++a->n] = NULL;
}

static char self_path[1024];

static void child_args(argv_builder *a, const options *o, const char *mode, const char *pipeline,
                       char *const *forces, int force_count)
{
    a->n = 0;
    arg(a, "%s", self_path);
    arg(a, "--child");
    arg(a, "%s", mode);
    arg(a, "--manifests");
    arg(a, "%s", o->manifests);
    arg(a, "--corpus");
    arg(a, "%s", o->corpus);
    arg(a, "--pipeline");
    arg(a, "%s", pipeline);
    if (o->selector) {
        arg(a, "--device");
        arg(a, "%s", o->selector);
    }
    for (int i = 0; i < force_count; i++) {
        arg(a, "--force");
        arg(a, "%s", forces[i]);
    }
    if (o->throughput)
        arg(a, "--throughput");
    if (o->chunk_size) {
        arg(a, "--chunk-size");
        arg(a, "%llu", (unsigned long long)o->chunk_size);
    }
}

static int write_text(const char *path, const char *text)
{
    return bench_write_file(path, text, strlen(text), 0644);
}

/* The one-stage pipelines: each stage of the demo with its own buffers. */
static int write_stage_pipelines(const char *dir, uint64_t size)
{
    char path[1100], text[2048];
    snprintf(path, sizeof(path), "%s/inflate.json", dir);
    snprintf(
        text, sizeof(text),
        "{\"pipeline_version\": 1, \"name\": \"inflate-alone\",\n"
        " \"buffers\": {\"in\": {\"file\": \"input.zz\"},\n"
        "   \"plain\": {\"bytes\": %llu, \"output\": \"plain.bin\", \"output_size_from\": \"plain_size\"},\n"
        "   \"plain_size\": {\"bytes\": 8}},\n"
        " \"stages\": [{\"name\": \"inflate\", \"function\": \"zlib.inflate\",\n"
        "   \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"plain\"}, {\"buffer\": \"plain_size\"}]}]}\n",
        (unsigned long long)size);
    if (write_text(path, text) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/crc.json", dir);
    snprintf(text, sizeof(text),
             "{\"pipeline_version\": 1, \"name\": \"crc-alone\",\n"
             " \"buffers\": {\"plain\": {\"file\": \"plain.bin\"}, \"crc\": {\"bytes\": 4, \"output\": "
             "\"crc.bin\"}},\n"
             " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\",\n"
             "   \"args\": [{\"buffer\": \"plain\"}, {\"buffer\": \"crc\"}]}]}\n");
    if (write_text(path, text) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/deflate.json", dir);
    snprintf(
        text, sizeof(text),
        "{\"pipeline_version\": 1, \"name\": \"deflate-alone\",\n"
        " \"buffers\": {\"plain\": {\"file\": \"plain.bin\"},\n"
        "   \"packed\": {\"bytes_from\": \"plain\", \"scale\": 1.0001, \"add\": 16, \"output\": "
        "\"packed.zz\",\n"
        "              \"output_size_from\": \"packed_size\"},\n"
        "   \"packed_size\": {\"bytes\": 8}},\n"
        " \"stages\": [{\"name\": \"deflate\", \"function\": \"zlib.deflate\",\n"
        "   \"args\": [{\"buffer\": \"plain\"}, {\"buffer\": \"packed\"}, {\"buffer\": \"packed_size\"},\n"
        "            {\"i32\": 6}]}]}\n");
    return write_text(path, text);
}

/* Checks of a run's outputs, into r->check: a zlib file that must inflate to
 * the input, a CRC-32C file that must hold the input's. */
static void check_outputs(row *r, const bs_corpus *c, uint64_t size, const char *zpath, const char *crc_path,
                          uint32_t want_crc)
{
    char why[512];
    if (r->failed) {
        snprintf(r->check, sizeof(r->check), "FAILED: %s", r->error);
        return;
    }
    if (r->wrong) {
        snprintf(r->check, sizeof(r->check), "%s", r->child_check);
        return;
    }
    char *at = r->check;
    size_t left = sizeof(r->check);
    int n;
    if (r->child_check[0]) {
        n = snprintf(at, left, "%s", r->child_check);
        at += n, left -= (size_t)n;
    }
    if (zpath) {
        if (bs_check_zlib_file(c, size, zpath, why, sizeof(why)) != 0) {
            r->wrong = true;
            snprintf(r->check, sizeof(r->check), "WRONG: %s", why);
            return;
        }
        struct stat st;
        n = snprintf(at, left, "%sinflates to the input (%.1f%%)", at == r->check ? "" : "; ",
                     stat(zpath, &st) == 0 && size ? 100.0 * (double)st.st_size / (double)size : 0.0);
        at += n, left -= (size_t)n;
        remove(zpath);
    }
    if (crc_path) {
        uint32_t got = 0;
        if (bs_read_crc_file(crc_path, &got) != 0 || got != want_crc) {
            r->wrong = true;
            snprintf(r->check, sizeof(r->check), "WRONG: crc32c %08x, the input's is %08x", got, want_crc);
            return;
        }
        snprintf(at, left, "%scrc32c %08x", at == r->check ? "" : "; ", got);
        remove(crc_path);
    }
}

/* ---- the shell pipelines ---- */

static bool have_tool(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char full[1024];
        snprintf(full, sizeof(full), "%s/%s", d, name);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

typedef struct shell_cmd {
    const char *config, *tool, *inflate, *deflate;
} shell_cmd;

static const shell_cmd shells[] = {
    {"shell pigz", "pigz", "pigz -dz", "pigz -6 -z"},
    {"shell zlib-flate", "zlib-flate", "zlib-flate -uncompress", "zlib-flate -compress=6"},
};

/* What a user would type: inflate | tee >(checksum) | deflate, in bash. The
 * checksum is rhash's CRC-32C where rhash is installed, else cksum's
 * CRC-32 (POSIX) as a stand-in, which is not compared. */
static void run_shell(const shell_cmd *sh, const bs_corpus *c, uint64_t size, const char *in,
                      uint32_t want_crc, bool rhash)
{
    row *r = new_row(sh->config, size);
    char script[1024], out[1100], crc[1100];
    snprintf(out, sizeof(out), "%s/shell.zz", tmp_root);
    snprintf(crc, sizeof(crc), "%s/shell.crc", tmp_root);
    snprintf(
        script, sizeof(script),
        "set -o pipefail; %s < \"$1\" | tee >(%s > \"$2\") | %s > \"$3\"; rc=$?; wait $! || rc=1; exit $rc",
        sh->inflate, rhash ? "rhash --crc32c -" : "cksum", sh->deflate);
    fprintf(stderr, "bench_stream: %s: %s\n", sh->config, script);
    char *argv[] = {"/bin/bash", "-c", script, "bash", (char *)in, crc, out, NULL};
    run_child(r, argv);
    check_outputs(r, c, size, out, NULL, 0);
    if (!r->wrong && !r->failed) {
        size_t len = strlen(r->check);
        unsigned got = 0;
        char *text = NULL;
        size_t n = 0;
        if (!rhash) {
            snprintf(r->check + len, sizeof(r->check) - len, "; cksum as the checksum, not compared");
        } else if (bench_read_file(crc, &text, &n) != 0 || sscanf(text, "%8x", &got) != 1 ||
                   got != want_crc) {
            r->wrong = true;
            snprintf(r->check, sizeof(r->check), "WRONG: rhash --crc32c says %08x, the input's is %08x", got,
                     want_crc);
        } else {
            snprintf(r->check + len, sizeof(r->check) - len, "; crc32c %08x", got);
        }
        free(text);
    }
    remove(crc);
    remove(out);
}

/* ---- one size ---- */

static void print_row_progress(const row *r)
{
    fprintf(stderr, "bench_stream: %-18s %6llu MiB  %7.2f s  %7.1f MiB RSS  %s\n", r->config,
            (unsigned long long)(r->size >> 20), r->wall_s, r->rss_mib, r->check);
}

static void run_size(const options *o, const bs_corpus *c, uint64_t size)
{
    char in[1100], out[1100], crc[1100], pipe_path[1100];
    uint32_t want_crc = 0;
    uint64_t zbytes = 0;
    char why[512];
    snprintf(in, sizeof(in), "%s/input.zz", tmp_root);
    uint64_t t0 = bench_now_ns();
    if (bs_generate(c, size, in, &want_crc, &zbytes, why, sizeof(why)) != 0) {
        row *r = new_row("input", size);
        r->failed = true;
        snprintf(r->check, sizeof(r->check), "FAILED: %s", why);
        return;
    }
    fprintf(stderr,
            "bench_stream: input %llu bytes -> %llu bytes of zlib stream (%.1f%%), crc32c %08x, %.1f s\n",
            (unsigned long long)size, (unsigned long long)zbytes, 100.0 * (double)zbytes / (double)size,
            want_crc, (double)(bench_now_ns() - t0) / 1e9);
    if (write_stage_pipelines(tmp_root, size) != 0) {
        fprintf(stderr, "bench_stream: cannot write the stage pipelines under %s\n", tmp_root);
        exit(2);
    }
    snprintf(out, sizeof(out), "%s/output.zz", tmp_root);
    snprintf(crc, sizeof(crc), "%s/crc.bin", tmp_root);
    argv_builder a;

    /* The demo, streamed. */
    row *s = new_row("stream", size);
    child_args(&a, o, "run", ACCEL_BENCH_DEMO_PIPELINE, (char *const *)o->forces, o->force_count);
    arg(&a, "--input");
    arg(&a, "in=%s", in);
    arg(&a, "--output");
    arg(&a, "crc=%s", crc);
    arg(&a, "--output");
    arg(&a, "packed=%s", out);
    run_child(s, a.v);
    check_outputs(s, c, size, out, crc, want_crc);
    if (!s->failed && !s->streamed) {
        s->wrong = true;
        snprintf(s->check, sizeof(s->check), "WRONG: not streamed (%s)", s->reason);
    }
    print_row_progress(s);

    /* Each stage alone, on the device the stream's plan gave it. */
    char force_store[3][80], *forces[MAX_FORCES + 3];
    int nf = 0;
    for (uint32_t i = 0; i < s->ndev; i++) {
        snprintf(force_store[i], sizeof(force_store[i]), "%s=%s", s->stage[i], s->sel[i]);
        forces[nf++] = force_store[i];
    }
    if (nf == 0)
        for (int i = 0; i < o->force_count; i++)
            forces[nf++] = (char *)o->forces[i];
    static const char *const stage_names[3] = {"inflate", "crc", "deflate"};
    row *alone[3];
    for (int k = 0; k < 3; k++) {
        char label[32];
        snprintf(label, sizeof(label), "%s alone", stage_names[k]);
        row *r = alone[k] = new_row(label, size);
        snprintf(pipe_path, sizeof(pipe_path), "%s/%s.json", tmp_root, stage_names[k]);
        child_args(&a, o, "run", pipe_path, forces, nf);
        if (k == 0) {
            arg(&a, "--input");
            arg(&a, "in=%s", in);
            arg(&a, "--check");
            arg(&a, "plain=%llu", (unsigned long long)size);
        } else {
            arg(&a, "--gen");
            arg(&a, "plain=%llu", (unsigned long long)size);
            arg(&a, "--output");
            if (k == 1)
                arg(&a, "crc=%s", crc);
            else
                arg(&a, "packed=%s", out);
        }
        run_child(r, a.v);
        check_outputs(r, c, size, k == 2 ? out : NULL, k == 1 ? crc : NULL, want_crc);
        print_row_progress(r);
    }

    /* The ratios: the stream's run time against its stages'. */
    double sum = 0, slowest = 0;
    bool all = s->has_run_s && !s->failed;
    for (int k = 0; k < 3; k++) {
        all = all && alone[k]->has_run_s && !alone[k]->failed;
        sum += alone[k]->run_s;
        if (alone[k]->run_s > slowest)
            slowest = alone[k]->run_s;
        if (s->has_run_s && s->run_s > 0 && (int)s->nbusy > k)
            snprintf(alone[k]->ratio, sizeof(alone[k]->ratio), "busy %.0f%% of the stream",
                     100.0 * s->busy_s[k] / s->run_s);
    }
    if (all && s->run_s > 0)
        snprintf(s->ratio, sizeof(s->ratio), "overlap %.2fx; %.2fx slowest", sum / s->run_s,
                 s->run_s / slowest);

    /* Whole buffers, where the input fits. */
    row *w = new_row("whole buffers", size);
    if (size <= o->whole_max) {
        child_args(&a, o, "run", ACCEL_BENCH_DEMO_PIPELINE, (char *const *)o->forces, o->force_count);
        arg(&a, "--whole");
        arg(&a, "--bytes");
        arg(&a, "plain=%llu", (unsigned long long)size);
        arg(&a, "--input");
        arg(&a, "in=%s", in);
        arg(&a, "--output");
        arg(&a, "crc=%s", crc);
        arg(&a, "--output");
        arg(&a, "packed=%s", out);
        run_child(w, a.v);
        check_outputs(w, c, size, out, crc, want_crc);
        if (!w->failed && s->wall_s > 0)
            snprintf(w->ratio, sizeof(w->ratio), "%.2fx the stream's wall", w->wall_s / s->wall_s);
        print_row_progress(w);
    } else {
        snprintf(w->check, sizeof(w->check), "not run: above --whole-buffer-max (%llu MiB)",
                 (unsigned long long)(o->whole_max >> 20));
    }

    /* The shell pipelines. */
    bool rhash = have_tool("rhash");
    for (size_t k = 0; k < sizeof(shells) / sizeof(shells[0]) && !o->no_shell; k++) {
        if (!have_tool(shells[k].tool) || !have_tool("tee") || access("/bin/bash", X_OK) != 0) {
            row *r = new_row(shells[k].config, size);
            snprintf(r->check, sizeof(r->check), "not run: %s is not installed", shells[k].tool);
            continue;
        }
        run_shell(&shells[k], c, size, in, want_crc, rhash);
        row *r = &rows[row_count - 1];
        if (!r->failed && !r->wrong && s->wall_s > 0)
            snprintf(r->ratio, sizeof(r->ratio), "%.2fx the stream's wall", r->wall_s / s->wall_s);
        print_row_progress(r);
    }
    remove(in);
}

/* ---- the report ---- */

static void load_average(char *buf, size_t size)
{
    double a = 0, b = 0, c = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(buf, size, "%.2f %.2f %.2f", a, b, c);
    else
        snprintf(buf, size, "unknown");
    if (f)
        fclose(f);
}

static int report(const options *o, const row *base, const char *load_start)
{
    struct utsname u;
    uname(&u);
    char load_end[64];
    load_average(load_end, sizeof(load_end));
    printf("== bench_stream: the demo pipeline (zlib.inflate -> crc32c -> zlib.deflate 6) ==\n");
    printf("%s %s, %ld CPU(s); load average %s at the start, %s at the end\n", u.sysname, u.release,
           sysconf(_SC_NPROCESSORS_ONLN), load_start, load_end);
    const row *plan = NULL;
    for (int i = 0; i < row_count && !plan; i++)
        if (!strcmp(rows[i].config, "stream") && rows[i].ndev)
            plan = &rows[i];
    if (plan) {
        printf("plan (%s objective):", o->throughput ? "throughput" : "latency");
        for (uint32_t k = 0; k < plan->ndev; k++)
            printf("%s %s on %s (%s)", k ? "," : "", plan->stage[k], plan->device[k], plan->sel[k]);
        printf("\nchunk size %llu bytes\n", (unsigned long long)plan->chunk_size);
    }
    printf("\n%-18s %9s %8s %8s %8s %9s %9s  %-30s %s\n", "configuration", "input MiB", "wall s", "run s",
           "MB/s", "peak RSS", "over base", "ratio", "check");
    printf("%-18s %9s %8.2f %8s %8s %9.1f %9s  %-30s %s\n", "baseline", "-", base->wall_s, "-", "-",
           base->rss_mib, "-", "", base->failed ? base->check : "instance, topology, placement; no run");
    for (int i = 0; i < row_count; i++) {
        const row *r = &rows[i];
        char run_s[16] = "-", rate[16] = "-", wall[16] = "-", rss[16] = "-", over[16] = "-";
        if (r->ran) {
            double t = r->has_run_s ? r->run_s : r->wall_s;
            snprintf(wall, sizeof(wall), "%.2f", r->wall_s);
            if (r->has_run_s)
                snprintf(run_s, sizeof(run_s), "%.2f", r->run_s);
            if (t > 0 && !r->failed)
                snprintf(rate, sizeof(rate), "%.1f", (double)r->size / 1e6 / t);
            snprintf(rss, sizeof(rss), "%.1f", r->rss_mib);
            snprintf(over, sizeof(over), "%+.1f", r->rss_mib - base->rss_mib);
        }
        printf("%-18s %9llu %8s %8s %8s %9s %9s  %-30s %s\n", r->config, (unsigned long long)(r->size >> 20),
               wall, run_s, rate, rss, over, r->ratio, r->check);
    }
    printf("\nwall: the process, fork to exit (driver loading included); run: accel_run_execute alone.\n"
           "MB/s: plain input bytes per second of run (wall for the shell). RSS in MiB: peak of the whole\n"
           "process (ru_maxrss); for the shell, the largest single process of the pipeline. overlap: the\n"
           "stages' run times alone added up over the stream's; slowest: the stream over its slowest stage.\n"
           "The stages alone run on the stream's devices; crc and deflate read the plain data from a\n"
           "callback that generates it, inflate's output is compared in the child as it comes.\n");
    for (int i = 0; i < row_count; i++)
        if (!strcmp(rows[i].config, "stream") && rows[i].ran)
            printf("stream at %llu MiB: %llu bytes of buffers, rings and states\n",
                   (unsigned long long)(rows[i].size >> 20), (unsigned long long)rows[i].buffer_bytes);

    int bad = base->failed ? 1 : 0;
    for (int i = 0; i < row_count; i++)
        bad += rows[i].wrong || rows[i].failed;
    printf("\n== goals ==\n");
    double lo = 0, hi = 0;
    int n = 0;
    for (int i = 0; i < row_count; i++) {
        const row *r = &rows[i];
        if (strcmp(r->config, "stream") != 0 || !r->ran || r->failed)
            continue;
        double over = r->rss_mib - base->rss_mib;
        printf("stream peak RSS <= baseline + %.0f MiB at %llu MiB: %+.1f MiB: ", RSS_GOAL_MIB,
               (unsigned long long)(r->size >> 20), over);
        if (over <= RSS_GOAL_MIB) {
            printf("met\n");
        } else {
            printf("missed by %.1f MiB\n", over - RSS_GOAL_MIB);
            bad++;
        }
        lo = n == 0 || r->rss_mib < lo ? r->rss_mib : lo;
        hi = n == 0 || r->rss_mib > hi ? r->rss_mib : hi;
        n++;
    }
    if (n >= 2) {
        printf("stream peak RSS the same for every size (within %.0f%%): %.1f to %.1f MiB: ",
               RSS_SAME_FRAC * 100, lo, hi);
        if (hi <= lo * (1 + RSS_SAME_FRAC)) {
            printf("met\n");
        } else {
            printf("missed by %.1f%%\n", 100.0 * (hi / lo - 1 - RSS_SAME_FRAC));
            bad++;
        }
    } else {
        printf("stream peak RSS the same for every size: not measured (%d size(s) streamed)\n", n);
        bad += o->size_count >= 2;
    }
    fflush(stdout);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "--child"))
        return child_main(argc, argv);
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
    if (n <= 0) {
        fprintf(stderr, "bench_stream: /proc/self/exe: %s\n", strerror(errno));
        return 2;
    }
    self_path[n] = '\0';
    bs_corpus corpus;
    char why[512];
    if (bs_corpus_load(o.corpus, &corpus, why, sizeof(why)) != 0) {
        fprintf(stderr, "bench_stream: %s\n", why);
        return 2;
    }
    snprintf(tmp_root, sizeof(tmp_root), "%s/bench_stream.XXXXXX", o.tmpdir);
    if (!mkdtemp(tmp_root)) {
        fprintf(stderr, "bench_stream: cannot create a directory under %s: %s\n", o.tmpdir, strerror(errno));
        tmp_root[0] = '\0';
        bs_corpus_free(&corpus);
        return 2;
    }
    atexit(cleanup);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char load_start[64];
    load_average(load_start, sizeof(load_start));

    /* The baseline: the loader, its drivers and a plan, nothing run. */
    static row base;
    argv_builder a;
    snprintf(base.config, sizeof(base.config), "baseline");
    child_args(&a, &o, "baseline", ACCEL_BENCH_DEMO_PIPELINE, (char *const *)o.forces, o.force_count);
    arg(&a, "--bytes");
    arg(&a, "in=%llu", (unsigned long long)o.sizes[0]);
    if (run_child(&base, a.v) != 0)
        snprintf(base.check, sizeof(base.check), "FAILED: %s", base.error);
    fprintf(stderr, "bench_stream: baseline %.2f s, %.1f MiB RSS\n", base.wall_s, base.rss_mib);

    for (int i = 0; i < o.size_count; i++)
        run_size(&o, &corpus, o.sizes[i]);
    int rc = report(&o, &base, load_start);
    bs_corpus_free(&corpus);
    return rc;
}
