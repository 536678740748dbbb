/*
 * bench_functions.c — every device's standard functions (crc32c, sha256,
 * zlib.deflate at levels 1, 6 and 9, zlib.inflate) next to the field's
 * libraries, on the compression corpus, in one run:
 *
 *   - an instance over the build tree's manifests (every in-tree driver),
 *     the uacce emulator started here for the warpdrive device, the FPGA
 *     example image crc32c.json loaded into each slot of the emulated card;
 *   - data sets: each corpus file, the ten concatenated, and that
 *     concatenation repeated to 64 MiB; every one in memory from
 *     accel_memory_alloc, attached to every device;
 *   - per cell: one warm-up call, then timed calls (submit to fence
 *     completion) until both at least 3 are done and the cell's time budget
 *     is spent (at most 31); the figure is their median;
 *   - anchors on the same bytes in the same run: zlib, libdeflate, OpenSSL,
 *     and a 3-way SSE4.2 crc32c (bench_functions_crc.c);
 *   - every result checked (crc and digest against the references, deflate
 *     output inflated by zlib, inflate output against the data): a cell that
 *     disagrees is WRONG, and that, or a call failing after the first one
 *     succeeded, makes the exit status 1 (a device refusing a function
 *     outright is reported, not an error).
 *
 * Cells on the 64 MiB set warm up on the concatenation instead (a 64 MiB
 * warm-up would only add the slowest calls once more), and the warm-up also
 * predicts what the timed calls will cost: a cell whose calls would take
 * longer than --cell-limit (--goal-cell-limit for the cells the goals are
 * read from) is skipped and says so, which keeps the whole run to minutes
 * with lavapipe and PoCL in it. docs/benchmarks.md describes the output.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <accel/accel.h>

#include "bench_functions.h"
#include "bench_util.h"

#define LARGE_SIZE      (64u << 20)
#define MAX_REPS        BENCH_ROUNDS /* bench_median's limit */
#define WAIT_TIMEOUT_NS (600ull * 1000000000ull)
#define RES_SIZE        64 /* result memory: crc/digest at 0, out_size at OUT_SIZE_AT */
#define OUT_SIZE_AT     32
#define POISON          0xa5

static const char *const function_names[BF_F_COUNT] = {"crc32c", "sha256", "zlib.deflate", "zlib.inflate"};

/* The text files of the corpus, for the opencl/vulkan ratio goal. */
static const char *const text_files[] = {"alice29.txt",  "asyoulik.txt", "lcet10.txt",
                                         "plrabn12.txt", "html",         "urls.10K"};

const char *bf_function_name(bf_function f)
{
    return function_names[f];
}

bf_function bf_row_function(bf_row r)
{
    switch (r) {
    case BF_R_CRC: return BF_F_CRC;
    case BF_R_SHA: return BF_F_SHA;
    case BF_R_INFL: return BF_F_INFLATE;
    default: return BF_F_DEFLATE;
    }
}

int bf_row_level(bf_row r)
{
    return r == BF_R_DEF1 ? 1 : r == BF_R_DEF6 ? 6 : r == BF_R_DEF9 ? 9 : 0;
}

/* libdeflate is the faster library at levels 1 and 6, so it is the bar; it
 * is not run at 9 here, where zlib is the reference. */
bf_anchor bf_row_anchor(bf_row r)
{
    static const bf_anchor a[BF_R_COUNT] = {BF_A_CRC3, BF_A_SHA,   BF_A_LD1,
                                            BF_A_LD6,  BF_A_ZLIB9, BF_A_LD_INFL};
    return a[r];
}

/* ---- error detail: the loader's message, else the last line logged ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[512];
static unsigned long log_seq;

static void log_cb(void *user_data, accel_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    pthread_mutex_lock(&log_lock);
    snprintf(last_log, sizeof(last_log), "%s", message);
    log_seq++;
    pthread_mutex_unlock(&log_lock);
}

static unsigned long log_mark(void)
{
    pthread_mutex_lock(&log_lock);
    unsigned long s = log_seq;
    pthread_mutex_unlock(&log_lock);
    return s;
}

/* "ACCEL_ERROR_X: detail" for a failure since log_mark() returned mark. */
static void describe_error(accel_result r, unsigned long mark, char *buf, size_t size)
{
    const char *detail = accel_last_error_message();
    char logged[512] = "";
    pthread_mutex_lock(&log_lock);
    if (log_seq != mark)
        snprintf(logged, sizeof(logged), "%s", last_log);
    pthread_mutex_unlock(&log_lock);
    if (!detail[0])
        detail = logged;
    snprintf(buf, size, "%s%s%s", accel_result_name(r), detail[0] ? ": " : "", detail);
}

/* ---- options ---- */

typedef struct options {
    const char *corpus, *manifests, *selector;
    bool fn[BF_F_COUNT], fn_given;
    bool quick, json;
    double budget_s, cell_limit_s, goal_limit_s;
    int min_reps;
} options;

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: bench_functions [--corpus DIR] [--manifests DIR] [--device SELECTOR] [--function NAME]...\n"
        "                       [--quick] [--json] [--budget SECONDS] [--cell-limit SECONDS]\n"
        "                       [--goal-cell-limit SECONDS]\n"
        "  --corpus DIR        the corpus files (default %s)\n"
        "  --manifests DIR     driver manifests (default %s)\n"
        "  --device SELECTOR   only these devices (ACCEL_DEVICE_SELECTOR grammar, e.g. 'cpu:*;opencl:0')\n"
        "  --function NAME     only this function: crc32c, sha256, zlib.deflate, zlib.inflate (repeatable,\n"
        "                      or comma-separated)\n"
        "  --quick             the concatenation only, one timed call per cell (a smoke test)\n"
        "  --json              one JSON document on stdout instead of the tables\n"
        "  --budget SECONDS    timed calls per cell go on until this is spent (default 0.25, quick 0.02)\n"
        "  --cell-limit SECONDS  skip a cell when its timed calls would take longer than this, as\n"
        "                      predicted from the warm-up (default 8; 0: never skip)\n"
        "  --goal-cell-limit SECONDS  the same for the cells the goals are read from (default 60)\n",
        ACCEL_BENCH_CORPUS_DIR, ACCEL_BENCH_MANIFEST_DIR);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 3600)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"corpus", required_argument, NULL, 'c'},
        {"manifests", required_argument, NULL, 'm'},
        {"device", required_argument, NULL, 'd'},
        {"function", required_argument, NULL, 'f'},
        {"quick", no_argument, NULL, 'q'},
        {"json", no_argument, NULL, 'j'},
        {"budget", required_argument, NULL, 'b'},
        {"cell-limit", required_argument, NULL, 'l'},
        {"goal-cell-limit", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double budget = -1;
    *o = (options){.corpus = ACCEL_BENCH_CORPUS_DIR,
                   .manifests = ACCEL_BENCH_MANIFEST_DIR,
                   .cell_limit_s = 8,
                   .goal_limit_s = 60};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->corpus = optarg; break;
        case 'm': o->manifests = optarg; break;
        case 'd': o->selector = optarg; break;
        case 'q': o->quick = true; break;
        case 'j': o->json = true; break;
        case 'f': {
            char *copy = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int k = 0;
                while (k < BF_F_COUNT && strcmp(t, function_names[k]) != 0)
                    k++;
                if (k == BF_F_COUNT) {
                    fprintf(stderr,
                            "bench_functions: unknown function \"%s\" (crc32c, sha256, zlib.deflate, "
                            "zlib.inflate)\n",
                            t);
                    free(copy);
                    return -1;
                }
                o->fn[k] = true;
            }
            free(copy);
            o->fn_given = true;
            break;
        }
        case 'b':
            if (parse_seconds(optarg, &budget) != 0) {
                fprintf(stderr, "bench_functions: --budget wants seconds, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'l':
            if (parse_seconds(optarg, &o->cell_limit_s) != 0) {
                fprintf(stderr, "bench_functions: --cell-limit wants seconds, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'g':
            if (parse_seconds(optarg, &o->goal_limit_s) != 0) {
                fprintf(stderr, "bench_functions: --goal-cell-limit wants seconds, not \"%s\"\n", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench_functions: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!o->fn_given)
        for (int k = 0; k < BF_F_COUNT; k++)
            o->fn[k] = true;
    o->budget_s = budget >= 0 ? budget : o->quick ? 0.02 : 0.25;
    /* A smoke test checks every cell once; figures need a median. */
    o->min_reps = o->quick ? 1 : 3;
    return 0;
}

/* ---- the corpus and the data sets ---- */

typedef struct data_set {
    uint8_t *host; /* malloc'ed copy until placed in `mem` */
    accel_memory *mem, *zmem;
    uint8_t *p, *z6; /* mapped: the data and zlib's level-6 stream of it */
    uint32_t crc;    /* references: bytewise crc32c, OpenSSL sha256 */
    uint8_t sha[32];
} data_set;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus files (every regular file but the README and the licences),
 * sorted by name, then the concatenation, then (unless quick) the 64 MiB
 * repetition; in quick mode the concatenation only. */
static int load_corpus(const options *o, bf_report *r, data_set **out)
{
    DIR *d = opendir(o->corpus);
    if (!d) {
        fprintf(stderr, "bench_functions: corpus %s: %s\n", o->corpus, strerror(errno));
        return -1;
    }
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0 ||
            strncmp(e->d_name, "LICENSE", 7) == 0)
            continue;
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", o->corpus, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "bench_functions: corpus %s: no files\n", o->corpus);
        return -1;
    }
    qsort(names, n, sizeof(*names), cmp_names);

    size_t count = o->quick ? 1 : n + 2;
    r->sets = calloc(count, sizeof(*r->sets));
    data_set *ds = calloc(count, sizeof(*ds));
    uint8_t **file_data = calloc(n, sizeof(*file_data));
    size_t *file_size = calloc(n, sizeof(*file_size));
    size_t total = 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", o->corpus, names[i]);
        if (bench_read_file(path, (char **)&file_data[i], &file_size[i]) != 0) {
            fprintf(stderr, "bench_functions: cannot read %s\n", path);
            rc = -1;
        }
        total += file_size[i];
    }
    if (rc == 0) {
        uint8_t *cat = malloc(total);
        for (size_t i = 0, at = 0; i < n; at += file_size[i], i++)
            memcpy(cat + at, file_data[i], file_size[i]);
        size_t k = 0;
        if (!o->quick)
            for (size_t i = 0; i < n; i++, k++) {
                snprintf(r->sets[k].name, sizeof(r->sets[k].name), "%s", names[i]);
                r->sets[k].size = file_size[i];
                for (size_t t = 0; t < sizeof(text_files) / sizeof(text_files[0]); t++)
                    r->sets[k].text |= strcmp(names[i], text_files[t]) == 0;
                ds[k].host = file_data[i];
                file_data[i] = NULL;
            }
        snprintf(r->sets[k].name, sizeof(r->sets[k].name), "concatenation");
        r->sets[k].size = total;
        ds[k++].host = cat;
        if (!o->quick) {
            uint8_t *big = malloc(LARGE_SIZE);
            for (size_t at = 0; at < LARGE_SIZE; at += total)
                memcpy(big + at, cat, at + total <= LARGE_SIZE ? total : LARGE_SIZE - at);
            snprintf(r->sets[k].name, sizeof(r->sets[k].name), "concatenation to 64 MiB");
            r->sets[k].size = LARGE_SIZE;
            r->sets[k].large = true;
            ds[k++].host = big;
        }
        r->set_count = k;
    }
    for (size_t i = 0; i < n; i++) {
        free(file_data[i]);
        free(names[i]);
    }
    free(file_data);
    free(file_size);
    *out = ds;
    return rc;
}

/* ---- the uacce emulator, for the warpdrive device ---- */

static char emu_root[256];
static pid_t emu_pid = -1;

/* Started with the algorithms the warpdrive driver maps to the standard
 * functions; polls its rings only while a queue is open, so it costs nothing
 * while other devices are measured. Returns 0 or -1 (a note says why). */
static int start_emulator(bf_report *r)
{
#ifdef ACCEL_BENCH_EMULATOR
    if (bench_make_temp_dir(emu_root, sizeof(emu_root)) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* Gone with us, even when we are killed; its "ready" line would
         * land in the middle of our tables. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execl(ACCEL_BENCH_EMULATOR, ACCEL_BENCH_EMULATOR, "--root", emu_root, "--name", "bench_fn-0", "--sva",
              "--instances", "2", "--algorithms", "zlib,crc32c,sha256", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    emu_pid = pid;
    char path[600];
    snprintf(path, sizeof(path), "%s/dev/bench_fn-0", emu_root);
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(path, &st) == 0) {
            snprintf(path, sizeof(path), "%s/sys", emu_root);
            setenv("ACCEL_UACCE_SYSFS_ROOT", path, 1);
            snprintf(path, sizeof(path), "%s/dev", emu_root);
            setenv("ACCEL_UACCE_DEV_ROOT", path, 1);
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            emu_pid = -1;
            break;
        }
        usleep(10000);
    }
    snprintf(r->notes[0], sizeof(r->notes[0]),
             "warpdrive: the uacce emulator did not start; no warpdrive device");
    return -1;
#else
    snprintf(r->notes[0], sizeof(r->notes[0]),
             "warpdrive: built without the uacce emulator; no warpdrive device");
    return -1;
#endif
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void stop_emulator(void)
{
    if (emu_pid > 0) {
        kill(emu_pid, SIGTERM);
        waitpid(emu_pid, NULL, 0);
        emu_pid = -1;
    }
    if (emu_root[0]) {
        nftw(emu_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        emu_root[0] = '\0';
    }
}

/* ---- devices ---- */

typedef struct device {
    accel_device *dev;
    accel_function *fn[BF_F_COUNT];
    accel_program *program; /* the FPGA image, when loaded */
    bool usable;            /* offers a selected function and the memory is attached */
    char attach_error[256];
} device;

/* crc32c on an FPGA slot comes from the example image, not from the card's
 * shell (docs/fpga.md). NULL when it cannot be loaded. */
static accel_function *fpga_image_crc(device *d, bf_dev *info, char *why, size_t why_size)
{
#ifdef ACCEL_BENCH_FPGA_IMAGE
    unsigned long mark = log_mark();
    accel_result res = accel_program_load(d->dev, ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, ACCEL_BENCH_FPGA_IMAGE, 0,
                                          NULL, &d->program);
    if (res != ACCEL_SUCCESS) {
        char err[240];
        describe_error(res, mark, err, sizeof(err));
        /* The whole card runs nothing: not worth a line per function. */
        snprintf(why, why_size, "%s", res == ACCEL_ERROR_UNSUPPORTED ? "not offered" : err);
        d->program = NULL;
        return NULL;
    }
    accel_function *fn = NULL;
    mark = log_mark();
    res = accel_function_get(d->dev, d->program, "crc32c", &fn);
    if (res != ACCEL_SUCCESS) {
        describe_error(res, mark, why, why_size);
        return NULL;
    }
    snprintf(info->fn_note[BF_F_CRC], sizeof(info->fn_note[BF_F_CRC]), "image crc32c.json");
    return fn;
#else
    (void)d;
    (void)info;
    snprintf(why, why_size, "not offered (built without the FPGA example images)");
    return NULL;
#endif
}

static int open_devices(accel_instance *inst, const options *o, bf_report *r, device **out)
{
    uint32_t n = 0;
    if (accel_enumerate_devices(inst, &n, NULL) != ACCEL_SUCCESS)
        return -1;
    accel_device **devs = calloc(n ? n : 1, sizeof(*devs));
    accel_enumerate_devices(inst, &n, devs);
    device *d = calloc(n ? n : 1, sizeof(*d));
    r->devs = calloc(n ? n : 1, sizeof(*r->devs));
    r->dev_count = n;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        accel_device_get_info(devs[i], &info);
        bf_dev *bd = &r->devs[i];
        d[i].dev = devs[i];
        snprintf(bd->label, sizeof(bd->label), "%s:%u", info.driver_name, info.driver_index);
        snprintf(bd->name, sizeof(bd->name), "%s", info.name);
        snprintf(bd->driver, sizeof(bd->driver), "%s", info.driver_name);
        for (int f = 0; f < BF_F_COUNT; f++) {
            if (!o->fn[f])
                continue;
            unsigned long mark = log_mark();
            accel_result res = accel_function_get(devs[i], NULL, function_names[f], &d[i].fn[f]);
            if (res == ACCEL_ERROR_NOT_FOUND && f == BF_F_CRC &&
                info.interface == ACCEL_DEVICE_INTERFACE_FPGA)
                d[i].fn[f] = fpga_image_crc(&d[i], bd, bd->fn_note[f], sizeof(bd->fn_note[f]));
            else if (res == ACCEL_ERROR_NOT_FOUND)
                snprintf(bd->fn_note[f], sizeof(bd->fn_note[f]), "not offered");
            else if (res != ACCEL_SUCCESS)
                describe_error(res, mark, bd->fn_note[f], sizeof(bd->fn_note[f]));
            bd->offered[f] = d[i].fn[f] != NULL;
            d[i].usable |= bd->offered[f];
        }
    }
    free(devs);
    *out = d;
    return 0;
}

/* ---- timing ---- */

/* One call; its duration in *ns. 0, or an accel_result (or -1 for a
 * library failure) with the reason in err. */
typedef int (*call_fn)(void *ctx, uint64_t *ns, char *err, size_t err_size);

typedef struct timing {
    double median_s;
    int reps;
} timing;

/* How one cell is timed. */
typedef struct plan {
    void *warm_ctx; /* the warm-up's call (other data), or NULL: the same call */
    double predict; /* one timed call takes this many warm-ups (the size ratio) */
    double limit;   /* skip when min_reps calls are predicted to take longer; 0: never */
    double budget;  /* keep timing until this is spent */
    int min_reps;
} plan;

/* The warm-up call, then at least p->min_reps timed calls, more while the
 * budget lasts (at most MAX_REPS). Sets *state: OK; REFUSED when the
 * warm-up fails; FAILED when a later call does; SKIPPED when the timed
 * calls are predicted to exceed the limit. The reason in err. */
static void measure(call_fn call, void *ctx, const plan *p, timing *t, bf_state *state, char *err,
                    size_t err_size)
{
    uint64_t ns, again;
    *t = (timing){0};
    if (call(p->warm_ctx ? p->warm_ctx : ctx, &ns, err, err_size) != 0) {
        *state = BF_REFUSED;
        return;
    }
    double predicted = (double)ns / 1e9 * p->predict * p->min_reps;
    /* The first call may have compiled or loaded something: judge by a
     * second one before giving up on the cell. */
    if (p->limit > 0 && predicted > p->limit &&
        call(p->warm_ctx ? p->warm_ctx : ctx, &again, err, err_size) == 0 && again < ns)
        predicted = (double)again / 1e9 * p->predict * p->min_reps;
    if (p->limit > 0 && predicted > p->limit) {
        *state = BF_SKIPPED;
        snprintf(err, err_size,
                 "skipped: %d call(s) would take about %.0f s (from the warm-up%s), over the %g s "
                 "limit per cell",
                 p->min_reps, predicted, p->warm_ctx ? " on the concatenation" : "", p->limit);
        return;
    }
    double v[MAX_REPS], spent = 0;
    int n = 0;
    while (n < p->min_reps || (n < MAX_REPS && spent < p->budget)) {
        if (call(ctx, &ns, err, err_size) != 0) {
            *state = BF_FAILED;
            t->reps = n;
            return;
        }
        v[n++] = (double)ns / 1e9;
        spent += (double)ns / 1e9;
    }
    t->median_s = bench_median(v, (size_t)n);
    t->reps = n;
    *state = BF_OK;
}

/* -- anchors -- */

typedef struct anchor_call {
    bf_anchors *x;
    bf_anchor a;
    const uint8_t *data, *z6;
    size_t size, z6_size;
} anchor_call;

static int anchor_run(void *ctx, uint64_t *ns, char *err, size_t err_size)
{
    anchor_call *c = ctx;
    bf_anchors_bind(c->x, c->data, c->size, c->z6, c->z6_size);
    uint64_t t0 = bench_now_ns();
    int rc = bf_anchors_run(c->x, c->a, err, err_size);
    *ns = bench_now_ns() - t0;
    return rc;
}

/* -- devices -- */

typedef struct device_call {
    accel_queue *queue;
    accel_function *fn;
    accel_arg args[4];
    uint32_t arg_count;
    uint8_t *res; /* mapped result memory, poisoned before each call */
} device_call;

static accel_arg mem_arg(accel_memory *m, uint64_t offset, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

static int device_run(void *ctx, uint64_t *ns, char *err, size_t err_size)
{
    device_call *c = ctx;
    memset(c->res, POISON, RES_SIZE);
    accel_submit_info s = {
        .struct_size = sizeof(s), .function = c->fn, .args = c->args, .arg_count = c->arg_count};
    accel_fence *f = NULL;
    unsigned long mark = log_mark();
    uint64_t t0 = bench_now_ns();
    accel_result res = accel_queue_submit(c->queue, &s, &f);
    if (res == ACCEL_SUCCESS)
        res = accel_fence_wait(&f, 1, true, WAIT_TIMEOUT_NS);
    *ns = bench_now_ns() - t0;
    accel_fence_release(f);
    if (res != ACCEL_SUCCESS) {
        describe_error(res, mark, err, err_size);
        return (int)res;
    }
    return 0;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- one data set ---- */

typedef struct bench {
    const options *o;
    bf_report *r;
    accel_instance *inst;
    device *devs;
    data_set *ds;
    size_t warm_set;         /* the concatenation: warm-up for the large set */
    accel_memory *dst, *res; /* shared outputs */
    uint8_t *dst_p, *res_p;
    uint64_t dst_size;
    bf_anchors *anchors;
    uint8_t *scratch; /* for inflating device output */
    int wrong;        /* cells WRONG or FAILED */
} bench;

/* Cells the goals are read from (bench_functions_report.c): they get the
 * goal limit instead of the cell limit. Speeds come from the 64 MiB set, or
 * from the concatenation where that was skipped or in quick runs; sizes of
 * the opencl and vulkan deflate from the text files. */
static bool anchor_needed(const bf_set *set, bf_anchor a)
{
    bool speed_set = set->large || strcmp(set->name, "concatenation") == 0;
    return speed_set && (a == BF_A_CRC3 || a == BF_A_SHA || a == BF_A_LD6 || a == BF_A_LD_INFL);
}

static bool row_needed(const bf_set *set, const char *driver, bf_row row)
{
    bool speed_set = set->large || strcmp(set->name, "concatenation") == 0;
    bool cl = strcmp(driver, "opencl") == 0, vk = strcmp(driver, "vulkan") == 0;
    if (set->text && (cl || vk))
        return row == BF_R_DEF6;
    if (!speed_set)
        return false;
    if (strcmp(driver, "cpu") == 0)
        return row == BF_R_CRC || row == BF_R_SHA || row == BF_R_DEF6 || row == BF_R_INFL;
    return row == BF_R_CRC || (vk && row == BF_R_INFL);
}

static plan cell_plan(const bench *b, size_t s, bool needed, void *warm_ctx)
{
    const bf_set *set = &b->r->sets[s];
    plan p = {.warm_ctx = set->large ? warm_ctx : NULL,
              .predict = 1,
              .budget = b->o->budget_s,
              .min_reps = b->o->min_reps,
              .limit = needed ? b->o->goal_limit_s : b->o->cell_limit_s};
    if (set->large)
        p.predict = (double)set->size / (double)b->r->sets[b->warm_set].size;
    return p;
}

static void fill_cell(bf_cell *cell, const timing *t, bf_state state, const char *err)
{
    cell->state = state;
    cell->seconds = t->median_s;
    cell->reps = t->reps;
    if (state == BF_REFUSED)
        snprintf(cell->note, sizeof(cell->note), "refused: %s", err);
    else if (state == BF_FAILED)
        snprintf(cell->note, sizeof(cell->note), "failed after %d good call(s): %s", t->reps + 1, err);
    else if (state == BF_SKIPPED)
        snprintf(cell->note, sizeof(cell->note), "%s", err);
}

static void run_anchors(bench *b, size_t s)
{
    bf_set *set = &b->r->sets[s];
    data_set *d = &b->ds[s], *w = &b->ds[b->warm_set];
    for (int a = 0; a < BF_A_COUNT; a++) {
        const char *fn = bf_anchor_function((bf_anchor)a);
        int f = 0;
        while (strcmp(function_names[f], fn) != 0)
            f++;
        if (!b->o->fn[f] || (a == BF_A_CRC3 && !b->r->crc3_available))
            continue;
        anchor_call c = {b->anchors, (bf_anchor)a, d->p, d->z6, set->size, set->z6_size};
        anchor_call warm = {b->anchors,
                            (bf_anchor)a,
                            w->p,
                            w->z6,
                            b->r->sets[b->warm_set].size,
                            b->r->sets[b->warm_set].z6_size};
        plan p = cell_plan(b, s, anchor_needed(set, (bf_anchor)a), &warm);
        timing t;
        bf_state st;
        char err[300] = "";
        measure(anchor_run, &c, &p, &t, &st, err, sizeof(err));
        bf_cell *cell = &set->anchor[a];
        fill_cell(cell, &t, st, err);
        if (st == BF_OK && bf_anchors_check(b->anchors, (bf_anchor)a, d->crc, d->sha, &cell->out_size, err,
                                            sizeof(err)) != 0) {
            cell->state = BF_WRONG;
            snprintf(cell->note, sizeof(cell->note), "WRONG: %s", err);
        }
        if (cell->state == BF_WRONG || cell->state == BF_FAILED || cell->state == BF_REFUSED)
            b->wrong++;
    }
}

/* Check what the last call of `row` left in dst/res. 0 or -1 (why in err). */
static int check_device_output(bench *b, size_t s, bf_row row, uint64_t *out_size, char *err, size_t err_size)
{
    data_set *d = &b->ds[s];
    uint64_t n = b->r->sets[s].size;
    uint32_t crc;
    switch (row) {
    case BF_R_CRC:
        crc = (uint32_t)b->res_p[0] | (uint32_t)b->res_p[1] << 8 | (uint32_t)b->res_p[2] << 16 |
              (uint32_t)b->res_p[3] << 24;
        if (crc != d->crc) {
            snprintf(err, err_size, "crc32c %08x, expected %08x", crc, d->crc);
            return -1;
        }
        return 0;
    case BF_R_SHA:
        if (memcmp(b->res_p, d->sha, 32) != 0) {
            snprintf(err, err_size, "the digest differs from OpenSSL's");
            return -1;
        }
        return 0;
    case BF_R_INFL:
        if (get_le64(b->res_p + OUT_SIZE_AT) != n) {
            snprintf(err, err_size, "out_size %llu, expected %llu",
                     (unsigned long long)get_le64(b->res_p + OUT_SIZE_AT), (unsigned long long)n);
            return -1;
        }
        if (memcmp(b->dst_p, d->p, n) != 0) {
            snprintf(err, err_size, "the output differs from the data");
            return -1;
        }
        return 0;
    default:
        *out_size = get_le64(b->res_p + OUT_SIZE_AT);
        if (*out_size > b->dst_size) {
            snprintf(err, err_size, "out_size %llu is larger than dst (%llu bytes)",
                     (unsigned long long)*out_size, (unsigned long long)b->dst_size);
            return -1;
        }
        return bf_check_zlib_stream(b->dst_p, *out_size, d->p, n, b->scratch, err, err_size);
    }
}

static void set_args(device_call *c, bench *b, size_t s, bf_row row)
{
    data_set *d = &b->ds[s];
    uint64_t n = b->r->sets[s].size;
    switch (row) {
    case BF_R_CRC:
        c->args[0] = mem_arg(d->mem, 0, n);
        c->args[1] = mem_arg(b->res, 0, 4);
        c->arg_count = 2;
        break;
    case BF_R_SHA:
        c->args[0] = mem_arg(d->mem, 0, n);
        c->args[1] = mem_arg(b->res, 0, 32);
        c->arg_count = 2;
        break;
    case BF_R_INFL:
        c->args[0] = mem_arg(d->zmem, 0, b->r->sets[s].z6_size);
        c->args[1] = mem_arg(b->dst, 0, n);
        c->args[2] = mem_arg(b->res, OUT_SIZE_AT, 8);
        c->arg_count = 3;
        break;
    default:
        c->args[0] = mem_arg(d->mem, 0, n);
        c->args[1] = mem_arg(b->dst, 0, n + 5 * ((n + 65534) / 65535) + 11);
        c->args[2] = mem_arg(b->res, OUT_SIZE_AT, 8);
        c->args[3] = (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = bf_row_level(row)};
        c->arg_count = 4;
        break;
    }
}

static void run_device(bench *b, size_t s, size_t di)
{
    device *dev = &b->devs[di];
    bf_dev *info = &b->r->devs[di];
    bf_set *set = &b->r->sets[s];
    if (!dev->usable)
        return;
    if (dev->attach_error[0]) {
        for (int row = 0; row < BF_R_COUNT; row++)
            if (info->offered[bf_row_function((bf_row)row)]) {
                bf_cell *cell = bf_cell_at(b->r, s, di, (bf_row)row);
                cell->state = BF_REFUSED;
                snprintf(cell->note, sizeof(cell->note), "refused: %s", dev->attach_error);
            }
        return;
    }
    /* A queue per device and data set: the warpdrive emulator polls while
     * its queue exists, and must not take a core from the others. */
    accel_queue *q = NULL;
    unsigned long mark = log_mark();
    accel_result qr = accel_queue_create(dev->dev, 0, &q);
    for (int row = 0; row < BF_R_COUNT; row++) {
        bf_function f = bf_row_function((bf_row)row);
        if (!info->offered[f])
            continue;
        bf_cell *cell = bf_cell_at(b->r, s, di, (bf_row)row);
        char err[300] = "";
        if (!q) {
            describe_error(qr, mark, err, sizeof(err));
            cell->state = BF_REFUSED;
            snprintf(cell->note, sizeof(cell->note), "refused: queue: %s", err);
            continue;
        }
        device_call c = {.queue = q, .fn = dev->fn[f], .res = b->res_p}, warm = c;
        set_args(&c, b, s, (bf_row)row);
        set_args(&warm, b, b->warm_set, (bf_row)row);
        /* Leftovers of another device must not pass for this one's output. */
        if (f == BF_F_DEFLATE || f == BF_F_INFLATE)
            memset(b->dst_p, POISON, c.args[1].u.mem.size);
        plan p = cell_plan(b, s, row_needed(set, info->driver, (bf_row)row), &warm);
        timing t;
        bf_state st;
        measure(device_run, &c, &p, &t, &st, err, sizeof(err));
        fill_cell(cell, &t, st, err);
        if (st == BF_OK && check_device_output(b, s, (bf_row)row, &cell->out_size, err, sizeof(err)) != 0) {
            cell->state = BF_WRONG;
            snprintf(cell->note, sizeof(cell->note), "WRONG: %s", err);
        }
        if (cell->state == BF_WRONG || cell->state == BF_FAILED)
            b->wrong++;
        if (st == BF_REFUSED || st == BF_FAILED) {
            /* A failed submission breaks its queue: start the next row
             * on a fresh one. */
            accel_queue_destroy(q);
            q = NULL;
            mark = log_mark();
            qr = accel_queue_create(dev->dev, 0, &q);
        }
    }
    accel_queue_destroy(q);
}

/* ---- setup ---- */

static accel_memory *alloc_mem(accel_instance *inst, uint64_t size, uint8_t **p)
{
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = size ? size : 1, .numa_node = -1};
    accel_memory *m = NULL;
    if (accel_memory_alloc(inst, &mi, &m) != ACCEL_SUCCESS ||
        accel_memory_map(m, (void **)p) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_functions: accel_memory_alloc of %llu bytes: %s\n", (unsigned long long)size,
                accel_last_error_message());
        accel_memory_free(m);
        return NULL;
    }
    return m;
}

/* Memory for every set and the shared outputs, with the references. */
static int prepare_data(bench *b)
{
    bf_report *r = b->r;
    uint64_t max = 0;
    for (size_t s = 0; s < r->set_count; s++) {
        bf_set *set = &r->sets[s];
        data_set *d = &b->ds[s];
        d->mem = alloc_mem(b->inst, set->size, &d->p);
        if (!d->mem)
            return -1;
        memcpy(d->p, d->host, set->size);
        free(d->host);
        d->host = NULL;
        size_t zn = 0;
        uint8_t *z = bf_zlib6(d->p, set->size, &zn);
        if (!z) {
            fprintf(stderr, "bench_functions: zlib failed on %s\n", set->name);
            return -1;
        }
        set->z6_size = zn;
        d->zmem = alloc_mem(b->inst, zn, &d->z6);
        if (!d->zmem) {
            free(z);
            return -1;
        }
        memcpy(d->z6, z, zn);
        free(z);
        d->crc = bf_crc32c_bytewise(d->p, set->size);
        bf_sha256(d->p, set->size, d->sha);
        if (set->size > max)
            max = set->size;
        if (strcmp(set->name, "concatenation") == 0)
            b->warm_set = s;
    }
    b->dst_size = max + 5 * ((max + 65534) / 65535) + 11;
    b->dst = alloc_mem(b->inst, b->dst_size, &b->dst_p);
    b->res = alloc_mem(b->inst, RES_SIZE, &b->res_p);
    b->scratch = malloc(max + 1);
    b->anchors = bf_anchors_create(max);
    if (!b->dst || !b->res || !b->scratch || !b->anchors)
        return -1;
    memset(b->dst_p, 0, b->dst_size);
    memset(b->scratch, 0, max + 1);
    return 0;
}

static void attach_all(bench *b)
{
    for (size_t i = 0; i < b->r->dev_count; i++) {
        device *d = &b->devs[i];
        if (!d->usable)
            continue;
        accel_attach_mode mode = ACCEL_ATTACH_NONE;
        for (size_t s = 0; s <= b->r->set_count && !d->attach_error[0]; s++) {
            accel_memory *ms[2] = {s < b->r->set_count ? b->ds[s].mem : b->dst,
                                   s < b->r->set_count ? b->ds[s].zmem : b->res};
            for (int k = 0; k < 2 && !d->attach_error[0]; k++) {
                unsigned long mark = log_mark();
                accel_attach_mode m;
                accel_result res = accel_memory_attach(ms[k], d->dev, &m);
                if (res != ACCEL_SUCCESS) {
                    char err[200];
                    describe_error(res, mark, err, sizeof(err));
                    snprintf(d->attach_error, sizeof(d->attach_error), "attach: %s", err);
                } else if (s == 0 && k == 0) {
                    mode = m;
                }
            }
        }
        snprintf(b->r->devs[i].attach, sizeof(b->r->devs[i].attach), "%s",
                 d->attach_error[0] ? "failed" : accel_attach_mode_string(mode));
    }
}

static void describe_machine(bf_report *r)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) {
                    v += 1 + (v[1] == ' ');
                    v[strcspn(v, "\n")] = '\0';
                    snprintf(model, sizeof(model), "%s", v);
                }
                break;
            }
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    snprintf(r->machine, sizeof(r->machine), "%s  %s %s %s  %ld CPU(s)  %s", date, u.sysname, u.release,
             u.machine, sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    uint64_t t_start = bench_now_ns();

    static bf_report r;
    r.quick = o.quick;
    r.json = o.json;
    r.budget_s = o.budget_s;
    r.cell_limit_s = o.cell_limit_s;
    r.goal_limit_s = o.goal_limit_s;
    r.min_reps = o.min_reps;
    memcpy(r.fn_selected, o.fn, sizeof(o.fn));
    snprintf(r.corpus, sizeof(r.corpus), "%s", o.corpus);
    describe_machine(&r);
    bf_library_versions(r.libraries, sizeof(r.libraries));

    char why[256];
    if (bf_crc32c_self_test(why, sizeof(why)) != 0) {
        fprintf(stderr, "bench_functions: the crc32c anchor is wrong: %s\n", why);
        return 1;
    }
    r.crc3_available = bf_crc32c_3way_available();

    bench b = {.o = &o, .r = &r};
    if (load_corpus(&o, &r, &b.ds) != 0)
        return 2;
    start_emulator(&r);

    const char *paths[] = {o.manifests};
    accel_instance_options io = {
        .struct_size = sizeof(io),
        .flags = ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION,
        .manifest_paths = paths,
        .manifest_path_count = 1,
        .log_callback = log_cb,
        .log_mask = ACCEL_LOG_ERROR | ACCEL_LOG_WARN,
        .device_selector = o.selector,
    };
    int rc = 2;
    if (accel_instance_create(&io, &b.inst) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_functions: accel_instance_create: %s\n", accel_last_error_message());
        goto out;
    }
    if (open_devices(b.inst, &o, &r, &b.devs) != 0 || prepare_data(&b) != 0)
        goto out;
    for (size_t s = 0; s < r.set_count; s++)
        r.sets[s].cells = calloc(r.dev_count * BF_R_COUNT + 1, sizeof(bf_cell));
    attach_all(&b);
#ifndef ACCEL_BENCH_FPGA_IMAGE
    snprintf(r.notes[1], sizeof(r.notes[1]),
             "fpga: built without the example images; no crc32c on the slots");
#endif

    for (size_t s = 0; s < r.set_count; s++) {
        uint64_t t0 = bench_now_ns();
        run_anchors(&b, s);
        for (size_t i = 0; i < r.dev_count; i++)
            run_device(&b, s, i);
        r.sets[s].wall_s = (double)(bench_now_ns() - t0) / 1e9;
        fprintf(stderr, "bench_functions: %-26s %10llu bytes  %6.1f s\n", r.sets[s].name,
                (unsigned long long)r.sets[s].size, r.sets[s].wall_s);
    }
    r.total_s = (double)(bench_now_ns() - t_start) / 1e9;
    if (o.json)
        bf_report_json(&r, stdout);
    else
        bf_report_text(&r, stdout);
    fflush(stdout);
    rc = b.wrong ? 1 : 0;
    if (b.wrong)
        fprintf(stderr, "bench_functions: %d cell(s) WRONG or failed\n", b.wrong);

out:
    if (b.inst) {
        for (size_t i = 0; i < r.dev_count && b.devs; i++)
            for (int f = 0; f < BF_F_COUNT; f++)
                accel_function_destroy(b.devs[i].fn[f]);
        for (size_t i = 0; i < r.dev_count && b.devs; i++)
            accel_program_destroy(b.devs[i].program);
        for (size_t s = 0; s < r.set_count; s++) {
            accel_memory_free(b.ds[s].mem);
            accel_memory_free(b.ds[s].zmem);
        }
        accel_memory_free(b.dst);
        accel_memory_free(b.res);
        accel_instance_destroy(b.inst);
    }
    stop_emulator();
    bf_anchors_destroy(b.anchors);
    free(b.scratch);
    for (size_t s = 0; s < r.set_count; s++) {
        free(b.ds[s].host);
        free(r.sets[s].cells);
    }
    free(b.ds);
    free(b.devs);
    free(r.devs);
    free(r.sets);
    return rc;
}
