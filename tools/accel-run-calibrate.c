/* accel-run-calibrate.c — `accel-run --calibrate`: time the standard
 * functions on every selected device and write the calibration cache
 * ($XDG_CACHE_HOME/accel/calibration.json) that placement reads.
 *
 * The figures must hold from run to run and on real data, so each device
 * and function is timed at several sizes (4 KiB to 16 MiB by default),
 * each after an untimed warm-up call (kernels compile, pages fault), in
 * rounds over the sizes, in two passes over all devices and functions,
 * each size's time the median of 4 to 50 calls; a
 * line time = fixed + bytes / rate is fitted by weighted least squares,
 * dropping a size that sits far from the others; a rate above what the
 * device's path to host memory can deliver is clamped. Inputs are the
 * compression corpus (tests/data/corpus) repeated to the size, so that the
 * compressors run at their real speed and their output ratios can be
 * recorded. A time budget per device and function keeps slow devices from
 * taking minutes: they get fewer calls and fewer sizes, never fewer than 4
 * calls at 3. docs/accel-run.md describes the method, docs/topology.md the
 * cache. */
#include "accel-run-calibrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char prog_name[] = "accel-run";

#define KIB 1024ull
#define MIB (1024ull * 1024)
#define DEFAULT_BUDGET_S 3.0     /* per device and function */
#define MIN_SIZES 3
#define MIN_REPS 3       /* calls a size must have room for, after its warm-up, to be kept */
#define PASS_MIN_REPS 2  /* calls of each size in a pass, at the least */
#define MAX_REPS 25
#define DEFLATE_LEVEL 6          /* the pipelines' default (zlib's -1) */
#define HOST_CEILING_BPS 100e9   /* where the topology knows no bandwidth */
#define CORPUS_MAX (64 * MIB)    /* read at most this much corpus */
#define CORPUS_FILES_MAX 256
#define CACHE_MAX (16 * MIB)     /* what the loader reads of the cache */

static const uint64_t default_sizes[] = {4 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 16 * MIB};
/* A streamed run calls a stream form once per chunk, and its chunks are
 * ACCEL_RUN_DEFAULT_CHUNK_SIZE unless the plan's fixed costs ask for larger
 * ones: the stream forms are timed at the sizes up to that, where the
 * parallel ones split a call into few segments, not at 16 MiB, where they
 * split it into many. */
#define STREAM_MAX_SIZE ((uint64_t)ACCEL_RUN_DEFAULT_CHUNK_SIZE)
/* ... and past it, one size after another, while the largest so far took
 * less than this many times the smallest: a function so fast that a chunk's
 * bytes cost little beside the call's fixed cost has its rate measured on
 * sizes where the bytes dominate (crc32c on PoCL: a 1 MiB call is 2x a
 * 4 KiB one, and a line through those sizes has a slope that moves by 2x
 * between runs). */
#define STREAM_SLOPE_FACTOR 4.0

/* The one-shot functions, then the stream forms (docs/standard-functions.md,
 * "Stream forms"), which a streamed run calls instead where the device has
 * them (accel_place's ACCEL_PLACE_STREAMED). */
static const char *const calibrated[] = {"accel.copy",    "accel.fill",          "crc32c",
                                         "sha256",        "zlib.deflate",        "zlib.inflate",
                                         "crc32c.stream", "sha256.stream",       "zlib.deflate.stream",
                                         "zlib.inflate.stream"};

/* Calls take turns over this many sets of buffers, each allocated on its
 * own: how fast a memory-bound call runs depends on where the pages of its
 * buffers landed (16 MiB copies between two fresh mappings here run from
 * 6 to 8 GB/s, allocation to allocation), so one set would carry the luck
 * of its pages into the figures. */
#define BUFFER_SETS 5

/* Every device and function is timed in this many passes over all of them,
 * each on buffers of its own and with its share of the budget, and each
 * size's time is the median of the calls of every pass: a figure then
 * carries neither one moment's luck (what else the host ran then, where
 * the scheduler put the threads) nor one allocation's. */
#define PASSES 2

#define META_BYTES 64      /* aux: out_size, progress or a digest first */
#define STATE_BYTES 33984  /* then a stream form's state (zlib.inflate.stream's is the largest) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *fmt_size(char *buf, size_t n, uint64_t v)
{
    if (v >= MIB && v % MIB == 0)
        snprintf(buf, n, "%llu MiB", (unsigned long long)(v / MIB));
    else if (v >= KIB && v % KIB == 0)
        snprintf(buf, n, "%llu KiB", (unsigned long long)(v / KIB));
    else
        snprintf(buf, n, "%llu B", (unsigned long long)v);
    return buf;
}

int calib_parse_sizes(const char *text, calib_options *o)
{
    uint32_t n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || end == p || *p == '-' || *p == '+')
            goto bad;
        uint64_t unit = *end == 'K' ? KIB : *end == 'M' ? MIB : *end == 'G' ? 1024 * MIB : 1;
        if (unit > 1)
            end++;
        if ((*end && *end != ',') || v == 0 || v > 1024 * MIB / unit || n == CALIB_MAX_SIZES)
            goto bad;
        uint64_t size = v * unit, *s = o->sizes;
        /* Sorted as they come; a repeated size counts once. */
        uint32_t i = n;
        while (i > 0 && s[i - 1] > size)
            i--;
        if (!(i > 0 && s[i - 1] == size)) {
            memmove(s + i + 1, s + i, (n - i) * sizeof(*s));
            s[i] = size;
            n++;
        }
        p = *end ? end + 1 : end;
        if (*end && !*p)
            goto bad;
    }
    if (n < MIN_SIZES)
        goto bad;
    o->size_count = n;
    return 0;
bad:
    fprintf(stderr,
            "%s: --calibrate-sizes %s: expected at least %d distinct sizes of 1 byte to 1 GiB, "
            "separated by commas (4K,64K,1M)\n",
            prog_name, text, MIN_SIZES);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The input data                                                            */

typedef struct calib_data {
    unsigned char *plain;  /* the largest size's bytes; every size is a prefix */
    uint64_t size;
    bool corpus;
    uint32_t files;
    uint64_t corpus_bytes; /* one copy of the corpus */
    unsigned char *z[CALIB_MAX_SIZES]; /* zlib streams (level 6) of each prefix, made on first use */
    uint64_t zlen[CALIB_MAX_SIZES];
} calib_data;

/* A regular file of at most max bytes, read without blocking on FIFOs or
 * devices. NULL with errno (EINVAL: not a regular file, EFBIG: too large). */
static unsigned char *read_regular(const char *path, size_t max, size_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *p = NULL;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = EINVAL;
    else if ((uint64_t)st.st_size > max)
        err = EFBIG;
    else if (!(p = malloc((size_t)st.st_size + 1)))
        err = ENOMEM;
    size_t got = 0;
    while (!err && got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = errno;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (err) {
        free(p);
        errno = err;
        return NULL;
    }
    *size = got;
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The data files of a corpus directory (all regular files but README* and
 * LICENSE*), concatenated in strcmp order. 0, or an errno value with *what
 * naming what failed. */
static int corpus_read(const char *dir, unsigned char **cat, uint64_t *len, uint32_t *files, char *what,
                       size_t what_size, bool quiet)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(what, what_size, "%s", dir);
        return errno;
    }
    char *names[CORPUS_FILES_MAX];
    uint32_t n = 0;
    int err = 0;
    for (struct dirent *e; (e = readdir(d)) && n < CORPUS_FILES_MAX;) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0 || strncmp(e->d_name, "LICENSE", 7) == 0)
            continue;
        if (!(names[n] = strdup(e->d_name))) {
            err = ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    unsigned char *all = NULL;
    uint64_t total = 0;
    *files = 0;
    for (uint32_t i = 0; i < n && !err; i++) {
        char path[PATH_MAX];
        size_t size = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unsigned char *p = read_regular(path, CORPUS_MAX - total, &size);
        if (!p && errno == EINVAL) {
            /* A directory, FIFO or device in there is not data: named, never read. */
            struct stat st;
            if (!quiet && stat(path, &st) == 0)
                fprintf(stderr, "%s: --corpus: %s: %s, not a regular file; skipped\n", prog_name, path,
                        S_ISDIR(st.st_mode)    ? "a directory"
                        : S_ISFIFO(st.st_mode) ? "a FIFO"
                        : S_ISCHR(st.st_mode)  ? "a character device"
                        : S_ISBLK(st.st_mode)  ? "a block device"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                                               : "something else");
            continue;
        }
        if (!p) {
            err = errno;
            snprintf(what, what_size, "%s", path);
            break;
        }
        unsigned char *grown = realloc(all, total + size + 1);
        if (!grown) {
            free(p);
            err = ENOMEM;
            break;
        }
        all = grown;
        memcpy(all + total, p, size);
        total += size;
        (*files)++;
        free(p);
    }
    for (uint32_t i = 0; i < n; i++)
        free(names[i]);
    if (!err && total == 0) {
        err = ENOENT;
        snprintf(what, what_size, "%s (no data files)", dir);
    }
    if (err) {
        free(all);
        return err;
    }
    *cat = all;
    *len = total;
    return 0;
}

/* Text-like bytes when there is no corpus: words, sentences and lines,
 * deterministic. Compresses about like English text. */
static void generate_text(unsigned char *p, uint64_t n)
{
    static const char *const words[] = {
        "the",    "of",     "and",    "to",      "a",      "in",       "is",     "that",   "for",
        "it",     "as",     "was",    "with",    "be",     "by",       "on",     "not",    "he",
        "this",   "are",    "or",     "his",     "from",   "at",       "which",  "but",    "have",
        "an",     "had",    "they",   "you",     "were",   "their",    "one",    "all",    "we",
        "memory", "device", "queue",  "fence",   "buffer", "pipeline", "stream", "kernel", "placement",
        "window", "river",  "garden", "morning", "letter", "country",  "number", "system", "between"};
    const uint32_t count = sizeof(words) / sizeof(words[0]);
    uint32_t x = 2026, in_sentence = 0, column = 0;
    uint64_t k = 0;
    while (k < n) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % count];
        for (size_t i = 0; w[i] && k < n; i++, column++)
            p[k++] = (unsigned char)(i == 0 && in_sentence == 0 ? w[i] - 'a' + 'A' : w[i]);
        if (++in_sentence > 4 + (x >> 8) % 12) {
            in_sentence = 0;
            if (k < n)
                p[k++] = '.';
        }
        if (k < n)
            p[k++] = column > 70 ? '\n' : ' ';
        if (column > 70)
            column = 0;
    }
}

/* The installed corpus, else the source tree's (build-tree runs). */
static const char *default_corpus(void)
{
    static const char *const dirs[] = {
#ifdef ACCEL_RUN_CORPUS_DIR
        ACCEL_RUN_CORPUS_DIR,
#endif
#ifdef ACCEL_RUN_SOURCE_CORPUS_DIR
        ACCEL_RUN_SOURCE_CORPUS_DIR,
#endif
        NULL};
    struct stat st;
    for (size_t i = 0; dirs[i]; i++)
        if (stat(dirs[i], &st) == 0 && S_ISDIR(st.st_mode))
            return dirs[i];
    return dirs[0];
}

static int data_init(calib_data *d, const calib_options *o, uint64_t size)
{
    const char *dir = o->corpus_dir ? o->corpus_dir : default_corpus();
    unsigned char *cat = NULL;
    char what[PATH_MAX + 32] = "";
    int err = dir ? corpus_read(dir, &cat, &d->corpus_bytes, &d->files, what, sizeof(what), o->quiet) : ENOENT;
    if (err && o->corpus_dir) {
        fprintf(stderr, "%s: --corpus %s: cannot read %s: %s\n", prog_name, o->corpus_dir, what, strerror(err));
        return -1;
    }
    if (!(d->plain = malloc(size ? size : 1))) {
        free(cat);
        fprintf(stderr, "%s: --calibrate: out of memory for %llu bytes of input\n", prog_name,
                (unsigned long long)size);
        return -1;
    }
    d->size = size;
    d->corpus = !err;
    if (err) {
        generate_text(d->plain, size);
        if (!o->quiet)
            fprintf(stderr,
                    "%s: no corpus (%s: %s): timing generated text instead; the compressors' figures and "
                    "ratios will not match real data (give --corpus DIR)\n",
                    prog_name, dir ? what : "none built in", strerror(err));
        return 0;
    }
    for (uint64_t k = 0; k < size; k += d->corpus_bytes)
        memcpy(d->plain + k, cat, size - k < d->corpus_bytes ? size - k : d->corpus_bytes);
    free(cat);
    if (!o->quiet) {
        char a[32];
        fprintf(stderr, "%s: input: the corpus in %s (%u files, %.1f MiB), repeated up to %s\n", prog_name,
                dir, d->files, (double)d->corpus_bytes / (double)MIB, fmt_size(a, sizeof(a), size));
    }
    return 0;
}

/* The zlib stream of the first `size` bytes (sizes[i]), made once. */
static int data_stream(calib_data *d, uint32_t i, uint64_t size)
{
    if (d->z[i])
        return 0;
    uLongf len = compressBound((uLong)size);
    if (!(d->z[i] = malloc(len)) || compress2(d->z[i], &len, d->plain, (uLong)size, DEFLATE_LEVEL) != Z_OK) {
        free(d->z[i]);
        d->z[i] = NULL;
        return -1;
    }
    d->zlen[i] = len;
    return 0;
}

static void data_free(calib_data *d)
{
    free(d->plain);
    for (int i = 0; i < CALIB_MAX_SIZES; i++)
        free(d->z[i]);
}

/* ------------------------------------------------------------------------ */
/* Timing one function on one device                                         */

typedef struct bench {
    accel_instance *inst;
    accel_device *dev;
    accel_queue *q;
    accel_function *fn;
    const char *name;
    bool inflate, deflate, level; /* level: deflate takes the 4-argument form */
    bool stream;                  /* a stream form: its state after the META_BYTES in aux */
    const uint64_t *sizes;        /* plain bytes, ascending */
    uint32_t count;               /* sizes with buffers and inputs in place */
    uint32_t upto;                /* a stream form: the sizes up to STREAM_MAX_SIZE */
    uint64_t in[CALIB_MAX_SIZES]; /* each size's input: plain bytes, for inflate its stream */
    uint64_t off[CALIB_MAX_SIZES]; /* where that input starts in src (the streams lie side by side) */
    accel_memory *src, *dst, *aux; /* the set the next call uses */
    unsigned char *src_p, *dst_p, *aux_p;
    struct {
        accel_memory *src, *dst, *aux;
        unsigned char *src_p, *dst_p, *aux_p;
    } set[BUFFER_SETS];
    uint64_t dst_cap;
    char why[512];                /* what failed */
} bench;

typedef struct point {
    double bytes, ns;
} point;

/* The figures of one device and function. */
typedef struct entry {
    double fixed_ns, bps, ratio, ceiling;
    bool clamped;
    uint32_t count, dropped, reps;
    uint64_t sizes[CALIB_MAX_SIZES]; /* input bytes of each size measured */
    uint64_t largest;                /* the largest size measured (plain bytes) */
} entry;

/* The calls of one device and function, pass after pass. */
typedef struct timings {
    uint32_t count;                            /* sizes timed, chosen by the first pass */
    uint32_t calls;                            /* calls of each size so far */
    double t[CALIB_MAX_SIZES][PASSES * MAX_REPS]; /* their times, ns */
    double ratio;                              /* the compressors' output ratio (last pass) */
    bool failed;                               /* a pass failed: no figures */
    bool offered;                              /* the device has the function */
} timings;

static uint64_t deflate_bound(uint64_t n)
{
    return n + 5 * (n / 65535 + 1) + 64;
}

/* The next calls use buffer set s. */
static void bench_use(bench *b, uint32_t s)
{
    b->src = b->set[s].src;
    b->dst = b->set[s].dst;
    b->aux = b->set[s].aux;
    b->src_p = b->set[s].src_p;
    b->dst_p = b->set[s].dst_p;
    b->aux_p = b->set[s].aux_p;
}

/* BUFFER_SETS sets of buffers for the largest size, attached to the device,
 * with every size's input in place: the data's prefix, or for inflate each
 * prefix's stream. */
static int bench_setup(bench *b, calib_data *d)
{
    uint64_t max = b->sizes[b->count - 1], src_size = max;
    if (b->inflate) {
        src_size = 0;
        for (uint32_t i = 0; i < b->count; i++) {
            if (data_stream(d, i, b->sizes[i])) {
                snprintf(b->why, sizeof(b->why), "zlib could not compress the input");
                return -1;
            }
            b->off[i] = src_size;
            src_size += b->in[i] = d->zlen[i];
        }
    } else {
        for (uint32_t i = 0; i < b->count; i++)
            b->in[i] = b->sizes[i];
    }
    b->dst_cap = deflate_bound(max);
    for (uint32_t s = 0; s < BUFFER_SETS; s++) {
        accel_memory_alloc_info ai = {.struct_size = sizeof(ai), .numa_node = -1, .size = src_size};
        if (accel_memory_alloc(b->inst, &ai, &b->set[s].src) != ACCEL_SUCCESS)
            goto fail;
        ai.size = b->dst_cap;
        if (accel_memory_alloc(b->inst, &ai, &b->set[s].dst) != ACCEL_SUCCESS)
            goto fail;
        ai.size = META_BYTES + (b->stream ? STATE_BYTES : 0);
        if (accel_memory_alloc(b->inst, &ai, &b->set[s].aux) != ACCEL_SUCCESS)
            goto fail;
        if (accel_memory_map(b->set[s].src, (void **)&b->set[s].src_p) != ACCEL_SUCCESS ||
            accel_memory_map(b->set[s].dst, (void **)&b->set[s].dst_p) != ACCEL_SUCCESS ||
            accel_memory_map(b->set[s].aux, (void **)&b->set[s].aux_p) != ACCEL_SUCCESS)
            goto fail;
        unsigned char *src_p = b->set[s].src_p;
        for (uint32_t i = 0; i < b->count && b->inflate; i++)
            memcpy(src_p + b->off[i], d->z[i], b->in[i]);
        if (!b->inflate)
            memcpy(src_p, d->plain, max);
        /* Every page in place before the first call (the warm-up call is
         * made on one set only). */
        memset(b->set[s].dst_p, 0, b->dst_cap);
        accel_memory *mems[3] = {b->set[s].src, b->set[s].dst, b->set[s].aux};
        for (int i = 0; i < 3; i++)
            if (accel_memory_attach(mems[i], b->dev, NULL) != ACCEL_SUCCESS)
                goto fail;
    }
    bench_use(b, 0);
    return 0;
fail:
    snprintf(b->why, sizeof(b->why), "buffers: %s", accel_last_error_message());
    return -1;
}

static void bench_free(bench *b)
{
    for (uint32_t s = 0; s < BUFFER_SETS; s++) {
        accel_memory_free(b->set[s].src);
        accel_memory_free(b->set[s].dst);
        accel_memory_free(b->set[s].aux);
    }
}

/* One call at size i; its wall time from submission to completion in *ns. */
static int bench_call(bench *b, uint32_t i, double *ns)
{
    uint64_t plain = b->sizes[i];
    accel_arg args[6];
    uint32_t argc = 0;
    if (strcmp(b->name, "accel.fill") == 0) {
        args[argc++] = (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {b->dst, 0, plain}};
        args[argc++] = (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = 0x01020304};
    } else {
        args[argc++] = (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {b->src, b->off[i], b->in[i]}};
        if (strcmp(b->name, "accel.copy") == 0 || b->inflate || b->deflate)
            args[argc++] = (accel_arg){.kind = ACCEL_ARG_MEMORY,
                                       .u.mem = {b->dst, 0, b->inflate ? plain : deflate_bound(plain)}};
        if (strcmp(b->name, "accel.copy") != 0)
            args[argc++] =
                (accel_arg){.kind = ACCEL_ARG_MEMORY, .u.mem = {b->aux, 0, b->inflate || b->deflate ? 8 : 32}};
        if (b->level)
            args[argc++] = (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = DEFLATE_LEVEL};
    }
    if (b->stream) {
        /* One chunk of a stream, the call a streamed run makes: crc32c
         * and sha256 go on absorbing; a deflate call is a whole stream
         * (fresh state, final), so its output can be checked; an inflate
         * call decodes a whole stream from a fresh state. */
        accel_memory *aux = b->aux;
        uint32_t m = ACCEL_ARG_MEMORY;
        argc = 0;
        args[argc++] = (accel_arg){.kind = m, .u.mem = {b->src, b->off[i], b->in[i]}};
        if (b->deflate) {
            memset(b->aux_p + META_BYTES, 0, 32800);
            args[argc++] = (accel_arg){.kind = m, .u.mem = {b->dst, 0, deflate_bound(plain)}};
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, 0, 8}};
            args[argc++] = (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = DEFLATE_LEVEL};
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, META_BYTES, 32800}};
            args[argc++] = (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = 1};
        } else if (b->inflate) {
            memset(b->aux_p + META_BYTES, 0, STATE_BYTES);
            args[argc++] = (accel_arg){.kind = m, .u.mem = {b->dst, 0, plain}};
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, 0, 24}};
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, META_BYTES, STATE_BYTES}};
        } else if (strcmp(b->name, "sha256.stream") == 0) {
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, META_BYTES, 112}};
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, 0, 32}};
            args[argc++] = (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = 0};
        } else {
            args[argc++] = (accel_arg){.kind = m, .u.mem = {aux, META_BYTES, 4}};
        }
    }
    accel_submit_info si = {.struct_size = sizeof(si), .function = b->fn, .args = args, .arg_count = argc};
    accel_fence *fence = NULL;
    double t0 = now_s();
    if (accel_queue_submit(b->q, &si, &fence) != ACCEL_SUCCESS) {
        snprintf(b->why, sizeof(b->why), "%s", accel_last_error_message());
        return -1;
    }
    accel_result r = accel_fence_wait(&fence, 1, true, UINT64_MAX);
    *ns = (now_s() - t0) * 1e9;
    if (r == ACCEL_SUCCESS)
        r = accel_fence_status(fence);
    accel_fence_release(fence);
    if (r != ACCEL_SUCCESS) {
        snprintf(b->why, sizeof(b->why), "the call failed: %s", accel_result_string(r));
        return -1;
    }
    return 0;
}

static uint64_t read_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* After a zlib call at size i: its output ratio (output bytes per input
 * byte), checked: a deflate stream must inflate back to the input, an
 * inflate must give the input. */
static int bench_ratio(bench *b, const calib_data *d, uint32_t i, double *ratio)
{
    /* zlib.inflate.stream's progress: consumed, produced, status 1 (ended). */
    bool ended = !(b->inflate && b->stream) || (read_u64(b->aux_p + 16) & 0xffffffffu) == 1;
    uint64_t out = read_u64(b->aux_p + (b->inflate && b->stream ? 8 : 0)), plain = b->sizes[i], in = b->in[i];
    if (b->inflate) {
        if (!ended || out != plain || memcmp(b->dst_p, d->plain, plain) != 0) {
            snprintf(b->why, sizeof(b->why), "inflated %llu bytes to %llu, not to the %llu bytes compressed",
                     (unsigned long long)in, (unsigned long long)out, (unsigned long long)plain);
            return -1;
        }
        *ratio = (double)plain / (double)in;
        return 0;
    }
    unsigned char *back = malloc(plain + 1);
    uLongf back_len = (uLongf)plain + 1;
    int zr = back && out <= b->dst_cap ? uncompress(back, &back_len, b->dst_p, (uLong)out) : Z_MEM_ERROR;
    bool same = zr == Z_OK && back_len == plain && memcmp(back, d->plain, plain) == 0;
    free(back);
    if (!same) {
        snprintf(b->why, sizeof(b->why), "its %llu-byte stream does not inflate back to the input",
                 (unsigned long long)out);
        return -1;
    }
    *ratio = (double)out / (double)plain;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * One pass of timing the function within its share of the budget. First
 * each size, smallest first, gets an untimed warm-up call and one timed
 * call. In the first pass a size past the third is left out when a warm-up
 * and 3 calls of it (predicted from the size before, in proportion to the
 * bytes) would overrun the whole budget, and a stream form stops at
 * STREAM_MAX_SIZE, or past it where its calls are still mostly fixed cost
 * (STREAM_SLOPE_FACTOR); later passes time the sizes the first one kept.
 * Then rounds over the sizes, largest last, as many as the pass's share
 * of the budget allows (2 to MAX_REPS calls of each, taking turns over the
 * buffer sets): a burst of other work on the machine then slows one call
 * of several sizes, which the medians leave out, rather than every call
 * of one size.
 */
static int bench_pass(bench *b, const calib_data *d, double budget, timings *tm)
{
    double start = now_s(), round = 0, warm, best[CALIB_MAX_SIZES];
    uint32_t n = tm->calls, m = 0, last = tm->count ? tm->count : b->count;
    for (; m < last; m++) {
        if (!tm->count && m >= MIN_SIZES) {
            double predicted = tm->t[m - 1][n] * 1e-9 * (double)b->sizes[m] / (double)b->sizes[m - 1];
            if (now_s() - start + predicted * (1 + MIN_REPS) > budget)
                break;
            if (b->stream && m >= b->upto && best[m - 1] >= STREAM_SLOPE_FACTOR * best[0])
                break;
        }
        if (bench_call(b, m, &warm) || bench_call(b, m, &tm->t[m][n]))
            return -1;
        best[m] = warm < tm->t[m][n] ? warm : tm->t[m][n];
        round += tm->t[m][n] * 1e-9;
    }
    tm->count = m;
    double share = budget / PASSES, left = share - (now_s() - start);
    double fit = round > 0 ? 1 + left / round : MAX_REPS;
    uint32_t reps = fit < PASS_MIN_REPS ? PASS_MIN_REPS : fit > MAX_REPS ? MAX_REPS : (uint32_t)fit;
    for (uint32_t r = 1; r < reps; r++) {
        bench_use(b, r % BUFFER_SETS);
        for (uint32_t i = 0; i < m; i++)
            if (bench_call(b, i, &tm->t[i][n + r]))
                return -1;
    }
    tm->calls = n + reps;
    /* The last call was the largest size's: its output is still there. */
    if ((b->inflate || b->deflate) && bench_ratio(b, d, m - 1, &tm->ratio))
        return -1;
    return 0;
}

/* Each size's time: the median of its calls in every pass. */
static void points_of(timings *tm, const bench *b, point *pts, entry *e)
{
    for (uint32_t i = 0; i < tm->count; i++) {
        double *t = tm->t[i];
        uint32_t c = tm->calls;
        qsort(t, c, sizeof(t[0]), cmp_double);
        pts[i] = (point){(double)b->in[i], c % 2 ? t[c / 2] : (t[c / 2 - 1] + t[c / 2]) / 2};
        e->sizes[i] = b->in[i];
    }
    e->count = tm->count;
    e->largest = b->sizes[tm->count - 1];
    e->reps = tm->calls;
    e->ratio = tm->ratio;
}

/* ------------------------------------------------------------------------ */
/* The fit                                                                   */

/* time = a + b * bytes by weighted least squares, each point weighing
 * 1/time: a timing's spread grows with its length, so a point counts by
 * its relative error times its length. The large sizes, which pipelines
 * move, then set the rate, and the small ones the fixed cost. (Weighing
 * 1/time^2, relative errors alike, lets 4 KiB decide the rate as much as
 * 16 MiB, and small inputs run faster per byte than large ones: in cache,
 * and the corpus's first bytes are plain text.) A slope that is not
 * positive becomes 0 (no rate measurable); a negative fixed cost becomes
 * what the smallest size costs beyond its bytes at that slope. */
static void fit_line(const point *p, const bool *keep, uint32_t n, double *a, double *b)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        double w = 1 / p[i].ns;
        sw += w;
        sx += w * p[i].bytes;
        sy += w * p[i].ns;
        sxx += w * p[i].bytes * p[i].bytes;
        sxy += w * p[i].bytes * p[i].ns;
    }
    double det = sw * sxx - sx * sx;
    *b = det > 0 ? (sw * sxy - sx * sy) / det : 0;
    *a = (sy - *b * sx) / sw;
    if (*b <= 0) {
        *b = 0;
        *a = sy / sw;
    }
    if (*a < 0) {
        /* Time grows faster than in proportion to the bytes: the large
         * sizes miss the caches the small ones hit. The slope says how the
         * large sizes grow; the fixed cost is then what the smallest size
         * costs beyond its bytes, the call's own overhead. */
        uint32_t first = 0;
        while (!keep[first])
            first++;
        *a = p[first].ns - *b * p[first].bytes;
        if (*a < 0)
            *a = 0;
    }
}

/*
 * Fit, then drop the point farthest from the line, in residuals scaled as
 * the weights are (by the square root of the time), when that is above 4
 * times the median of them and the point is more than 10% off (a size
 * that a burst of other work slowed down as a whole), and fit again; at
 * least MIN_SIZES points stay. Then the rate is clamped at `ceiling`
 * (bytes/s), the fixed cost refitted under the clamped rate.
 */
static void fit(const point *p, uint32_t n, double ceiling, entry *e)
{
    bool keep[CALIB_MAX_SIZES];
    double a, b;
    for (uint32_t i = 0; i < n; i++)
        keep[i] = true;
    for (uint32_t kept = n;; kept--) {
        fit_line(p, keep, n, &a, &b);
        if (kept <= MIN_SIZES)
            break;
        double r[CALIB_MAX_SIZES], sorted[CALIB_MAX_SIZES];
        uint32_t m = 0, worst = 0;
        for (uint32_t i = 0; i < n; i++) {
            r[i] = keep[i] ? fabs(p[i].ns - (a + b * p[i].bytes)) / sqrt(p[i].ns) : -1;
            if (keep[i])
                sorted[m++] = r[i];
            if (r[i] > r[worst])
                worst = i;
        }
        qsort(sorted, m, sizeof(sorted[0]), cmp_double);
        double median = m % 2 ? sorted[m / 2] : (sorted[m / 2 - 1] + sorted[m / 2]) / 2;
        if (!(r[worst] > 4 * median && r[worst] > 0.10 * sqrt(p[worst].ns)))
            break;
        keep[worst] = false;
        e->dropped++;
    }
    e->ceiling = ceiling;
    if (b <= 0 || 1e9 / b > ceiling) {
        e->clamped = true;
        b = 1e9 / ceiling;
        double sw = 0, s = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (!keep[i])
                continue;
            double w = 1 / p[i].ns;
            sw += w;
            s += w * (p[i].ns - b * p[i].bytes);
        }
        a = s / sw > 0 ? s / sw : 0;
    }
    e->fixed_ns = a;
    e->bps = 1e9 / b;
}

/* The most a function on this device can read per second: the topology's
 * bandwidth from the device to host memory (where the inputs are), over a
 * copy path if it has to; HOST_CEILING_BPS where that is unknown. */
static double ceiling_of(const accel_topology *topo, accel_device *dev, const char **why)
{
    uint32_t node;
    uint64_t best = 0;
    *why = "no bandwidth known for the path to host memory";
    if (!topo || accel_topology_find_device(topo, dev, &node) != ACCEL_SUCCESS)
        return HOST_CEILING_BPS;
    for (uint32_t m = 0; m < accel_topology_node_count(topo); m++) {
        accel_topology_node tn = {.struct_size = sizeof(tn)};
        accel_attach_mode mode;
        uint64_t bw = 0, lat = 0;
        if (accel_topology_get_node(topo, m, &tn) != ACCEL_SUCCESS || tn.kind != ACCEL_TOPOLOGY_NODE_MEMORY ||
            tn.numa_node < 0 || accel_topology_reach(topo, node, m, &mode, &bw, &lat) != ACCEL_SUCCESS)
            continue;
        if (bw > best)
            best = bw;
    }
    if (!best)
        return HOST_CEILING_BPS;
    *why = "the topology's bandwidth to host memory";
    return (double)best * 1e6;
}

/* ------------------------------------------------------------------------ */
/* The cache                                                                 */

static char *cache_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof(dir), "%s/accel", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof(dir), "%s/.cache/accel", home);
    else
        return NULL;
    /* mkdir -p: XDG_CACHE_HOME itself may not exist yet. */
    for (char *s = strchr(dir + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        mkdir(dir, 0700);
        if (!s)
            break;
        *s = '/';
    }
    size_t n = strlen(dir) + sizeof("/calibration.json");
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/calibration.json", dir);
    return p;
}

/* A version 2 cache that keeps the device entries of the one there is
 * (every entry of version 1 is valid in version 2), for the devices not
 * timed now. */
static json_object *cache_load(const char *path, const char *input, bool quiet)
{
    size_t size = 0;
    unsigned char *text = read_regular(path, CACHE_MAX, &size);
    json_object *root = json_object_new_object(), *old = NULL, *devices = NULL;
    if (text) {
        text[size] = '\0';
        old = json_tokener_parse((const char *)text);
        if (!json_object_is_type(old, json_type_object) || !json_object_object_get_ex(old, "devices", &devices) ||
            !json_object_is_type(devices, json_type_object)) {
            if (!quiet)
                fprintf(stderr, "%s: %s is not a calibration cache: replaced\n", prog_name, path);
            devices = NULL;
        }
        free(text);
    } else if (errno != ENOENT && !quiet) {
        fprintf(stderr, "%s: %s: %s: replaced\n", prog_name, path, strerror(errno));
    }
    json_object_object_add(root, "version", json_object_new_int(2));
    json_object_object_add(root, "input", json_object_new_string(input));
    json_object_object_add(root, "devices", devices ? json_object_get(devices) : json_object_new_object());
    json_object_put(old);
    return root;
}

/* Before any timing: the cache's directory exists and what is at the
 * cache's name, if anything, is a regular file (a symbolic link, FIFO,
 * device or directory there is neither read, nor followed, nor replaced).
 * 0, or 1 after saying why. */
static int cache_check(const char *path)
{
    struct stat st;
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "%s: calibration cache directory %s: %s\n", prog_name, dir, strerror(errno));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: calibration cache directory %s: not a directory\n", prog_name, dir);
        return 1;
    }
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0;
    const char *kind = S_ISLNK(st.st_mode)    ? "a symbolic link"
                       : S_ISDIR(st.st_mode)  ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    fprintf(stderr, "%s: calibration cache %s: %s, not a regular file; not read, not replaced\n", prog_name, path,
            kind);
    return 1;
}

/* Written to a temporary file next to it (created with O_EXCL: never
 * through a link), flushed to the disk, then renamed over it: a failure
 * or a crash leaves the old cache or the new one, never a part. */
static int cache_write(const char *path, json_object *root)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC), rc = -1;
    if (fd >= 0) {
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
        size_t len = strlen(text), done = 0;
        while (done < len) {
            ssize_t w = write(fd, text + done, len - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        int saved = errno;
        bool ok = done == len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        if (close(fd) == 0 && ok && rename(tmp, path) == 0)
            rc = 0;
        else
            saved = errno ? errno : saved;
        if (rc)
            unlink(tmp);
        errno = saved;
    }
    free(tmp);
    return rc;
}

static json_object *entry_json(const entry *e, const bench *b)
{
    json_object *o = json_object_new_object();
    char num[32];
    json_object_object_add(o, "fixed_ns", json_object_new_int64((int64_t)llround(e->fixed_ns)));
    json_object_object_add(o, "bytes_per_second", json_object_new_int64(e->bps >= 1 ? (int64_t)llround(e->bps) : 1));
    if (b->inflate || b->deflate) {
        snprintf(num, sizeof(num), "%.4g", e->ratio);
        json_object_object_add(o, "output_ratio", json_object_new_double_s(e->ratio, num));
    }
    if (b->deflate)
        json_object_object_add(o, "level", json_object_new_int(DEFLATE_LEVEL));
    json_object *sizes = json_object_new_array();
    for (uint32_t i = 0; i < e->count; i++)
        json_object_array_add(sizes, json_object_new_int64((int64_t)e->sizes[i]));
    json_object_object_add(o, "sizes", sizes);
    json_object_object_add(o, "clamped", json_object_new_boolean(e->clamped));
    return o;
}

static void report(const char *dev, const bench *b, const entry *e, const char *ceiling_why)
{
    char fixed[32], c[32], extra[256] = "";
    if (e->fixed_ns >= 1e6)
        snprintf(fixed, sizeof(fixed), "%.2f ms", e->fixed_ns / 1e6);
    else
        snprintf(fixed, sizeof(fixed), "%.1f us", e->fixed_ns / 1e3);
    if (b->inflate || b->deflate)
        snprintf(extra, sizeof(extra), ", ratio %.3f", e->ratio);
    if (b->deflate && !b->level && !b->stream)
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " (3-argument form)");
    if (e->dropped)
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", %u size(s) dropped as outliers",
                 e->dropped);
    if (e->clamped)
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), ", clamped at %.0f MB/s (%s)",
                 e->ceiling / 1e6, ceiling_why);
    fprintf(stderr, "%s: %-13s %-19s fixed %10s %10.1f MB/s, %u sizes up to %s, %u calls each%s\n", prog_name,
            dev, b->name, fixed, e->bps / 1e6, e->count, fmt_size(c, sizeof(c), e->largest), e->reps, extra);
}

/* ------------------------------------------------------------------------ */

/* One pass of one function on one device, on its own queue and buffers (a
 * failure breaks that queue only); after the last pass (`last`), its
 * figures in *fig_out. 1: timed, 0: not offered, -1: failed (reported, in
 * the pass it failed; later passes skip it). */
static int calibrate_one(accel_instance *inst, accel_device *dev, const char *label, const char *name,
                         calib_data *d, const calib_options *o, double ceiling, const char *ceiling_why,
                         timings *tm, bool first, bool last, json_object **fig_out)
{
    if (tm->failed)
        return -1;
    if (!first && !tm->offered)
        return 0;
    bench b = {.inst = inst,
               .dev = dev,
               .name = name,
               .inflate = strncmp(name, "zlib.inflate", 12) == 0,
               .deflate = strncmp(name, "zlib.deflate", 12) == 0,
               .stream = strstr(name, ".stream") != NULL};
    if (accel_function_get(dev, NULL, name, &b.fn) != ACCEL_SUCCESS)
        return 0;
    tm->offered = true;
    uint32_t argc = 0;
    /* Drivers that still take deflate's 3-argument form compress at
     * their default level, which is 6 too. */
    b.level = b.deflate && !b.stream && accel_function_get_signature(b.fn, &argc, NULL) == ACCEL_SUCCESS &&
              argc == 4;
    b.sizes = o->size_count ? o->sizes : default_sizes;
    b.count = o->size_count ? o->size_count : sizeof(default_sizes) / sizeof(default_sizes[0]);
    if (b.stream) {
        uint32_t upto = 0;
        while (upto < b.count && b.sizes[upto] <= STREAM_MAX_SIZE)
            upto++;
        b.upto = upto;
    }
    if (tm->count)
        b.count = tm->count; /* buffers for the sizes the first pass kept */
    point pts[CALIB_MAX_SIZES];
    entry e = {0};
    int rc = -1;
    if (accel_queue_create(dev, 0, &b.q) != ACCEL_SUCCESS)
        snprintf(b.why, sizeof(b.why), "no queue: %s", accel_last_error_message());
    else if (bench_setup(&b, d) == 0 && bench_pass(&b, d, o->budget_s > 0 ? o->budget_s : DEFAULT_BUDGET_S, tm) == 0)
        rc = 1;
    accel_queue_destroy(b.q);
    bench_free(&b);
    accel_function_destroy(b.fn);
    if (rc < 0) {
        fprintf(stderr, "%s: %s %s: not calibrated: %s\n", prog_name, label, name, b.why);
        tm->failed = true;
        return -1;
    }
    if (!last)
        return 1;
    points_of(tm, &b, pts, &e);
    fit(pts, e.count, ceiling, &e);
    if (!o->quiet)
        report(label, &b, &e, ceiling_why);
    for (uint32_t i = 0; o->verbose && i < e.count; i++) {
        char a[32];
        double line = e.fixed_ns + pts[i].bytes * 1e9 / e.bps;
        fprintf(stderr, "%s:     %s input: %.3f ms (%.1f MB/s), the line %+.1f%%\n", prog_name,
                fmt_size(a, sizeof(a), e.sizes[i]), pts[i].ns / 1e6, pts[i].bytes * 1e3 / pts[i].ns,
                (line - pts[i].ns) * 100 / pts[i].ns);
    }
    *fig_out = entry_json(&e, &b);
    return 1;
}

/* Other work on the machine slows every call timed: say so when the load
 * average says there is some (Linux's /proc/loadavg; silent elsewhere). */
static void warn_if_busy(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double load = 0;
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = 0;
        fclose(f);
    }
    if (cpus > 0 && load > 0.75 * (double)cpus)
        fprintf(stderr,
                "%s: the machine is busy (load average %.2f on %ld CPUs): the figures will show it; "
                "calibrate on a quiet machine\n",
                prog_name, load, cpus);
}

int calib_run(accel_instance *inst, const calib_options *o)
{
    uint32_t n = 0;
    if (accel_enumerate_devices(inst, &n, NULL) != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: cannot list devices: %s\n", prog_name, accel_last_error_message());
        return 1;
    }
    accel_device **devs = calloc(n + 1, sizeof(*devs));
    if (!devs || accel_enumerate_devices(inst, &n, devs) < 0) {
        fprintf(stderr, "%s: cannot list devices: %s\n", prog_name, accel_last_error_message());
        free(devs);
        return 1;
    }
    char *path = cache_path();
    if (!path) {
        fprintf(stderr, "%s: --calibrate: neither XDG_CACHE_HOME nor HOME is an absolute path\n", prog_name);
        free(devs);
        return 1;
    }
    if (cache_check(path)) {
        free(path);
        free(devs);
        return 1;
    }
    if (!o->quiet)
        warn_if_busy();
    calib_data d = {0};
    uint64_t largest = o->size_count ? o->sizes[o->size_count - 1]
                                     : default_sizes[sizeof(default_sizes) / sizeof(default_sizes[0]) - 1];
    if (data_init(&d, o, largest)) {
        free(path);
        free(devs);
        return 1;
    }
    const accel_topology *topo = NULL;
    if (accel_instance_get_topology(inst, &topo) != ACCEL_SUCCESS && !o->quiet)
        fprintf(stderr, "%s: no topology (%s): rates are capped at %.0f GB/s\n", prog_name,
                accel_last_error_message(), HOST_CEILING_BPS / 1e9);
    const size_t fns = sizeof(calibrated) / sizeof(calibrated[0]);
    timings *tms = calloc((size_t)n * fns + 1, sizeof(*tms));
    if (!tms) {
        fprintf(stderr, "%s: --calibrate: out of memory\n", prog_name);
        data_free(&d);
        free(path);
        free(devs);
        return 1;
    }
    json_object *root = cache_load(path, d.corpus ? "corpus" : "generated", o->quiet), *devices = NULL;
    json_object_object_get_ex(root, "devices", &devices);
    for (uint32_t pass = 0; pass < PASSES; pass++) {
        for (uint32_t i = 0; i < n; i++) {
            accel_device_info info = {.struct_size = sizeof(info)};
            accel_device_get_info(devs[i], &info);
            char uuid[33], label[96];
            accel_uuid_to_string(info.uuid, uuid);
            snprintf(label, sizeof(label), "%s:%u", info.driver_name, info.driver_index);
            const char *why;
            double ceiling = ceiling_of(topo, devs[i], &why);
            json_object *figs = NULL;
            for (size_t k = 0; k < fns; k++) {
                json_object *fig = NULL;
                if (calibrate_one(inst, devs[i], label, calibrated[k], &d, o, ceiling, why, &tms[i * fns + k],
                                  pass == 0, pass == PASSES - 1, &fig) <= 0 ||
                    !fig)
                    continue;
                if (!figs)
                    figs = json_object_new_object();
                json_object_object_add(figs, calibrated[k], fig);
            }
            /* The device's figures are this run's: older ones of functions
             * that failed now are not kept. */
            if (figs)
                json_object_object_add(devices, uuid, figs);
        }
    }
    free(tms);
    int rc = 0;
    if (cache_write(path, root) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog_name, path, strerror(errno));
        rc = 1;
    } else if (!o->quiet) {
        fprintf(stderr, "%s: calibration written to %s\n", prog_name, path);
    }
    json_object_put(root);
    data_free(&d);
    free(path);
    free(devs);
    return rc;
}
