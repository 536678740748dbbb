/* bench_icd_vulkan.c — speed and compression of the vulkan driver's
 * crc32c, zlib.deflate and zlib.inflate, beside the cpu driver (the
 * reference, on the libraries of the field) and zlib itself.
 *
 *   bench_icd_vulkan [--corpus DIR] [--reps N] [--levels L,L..] [--mib N] [crc|deflate|ratio|inflate]...
 *
 * Both drivers are driven through their tables (icd_harness.h), on memory
 * each of them imports or stages as the loader would. Times are medians of
 * --reps runs (default 5) after one warm-up run; the machine may be shared,
 * so compare figures taken side by side. "ratio" prints the compressed
 * size of every text file of the corpus at levels 1, 6 and 9 (or those of
 * --levels) against zlib's at levels 1 and 6. "inflate" decodes zlib's streams
 * of --mib MiB of text (default 16) at levels 1, 6 and 9 (or those of
 * --levels). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "icd_harness.h"

#define MiB (1024u * 1024u)

typedef struct side {
    const char *name;
    ih_driver drv;
    void *dev, *queue;
} side;

typedef struct buf {
    uint8_t *host;
    size_t size;
    void *mem;
    int staged;
} buf;

static int reps = 5;
static int ratio_levels[10] = {1, 6, 9}, nratio_levels = 3; /* --levels */
static size_t inflate_mib = 16; /* --mib */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the whole process (the drivers' threads included): on a
 * shared machine, bytes per CPU second move less than bytes per second. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double last_cpu;  /* median CPU seconds of the last time_call */
static double least_cpu; /* and the least */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_icd_vulkan: %s\n", what);
    exit(1);
}

static buf buf_new(side *s, size_t size)
{
    buf b = {0};
    b.size = size < 4096 ? 4096 : (size + 4095) / 4096 * 4096;
    b.host = aligned_alloc(4096, b.size);
    if (!b.host)
        die("out of memory");
    memset(b.host, 0, b.size);
    if (ih_attach(&s->drv, s->dev, b.host, b.size, &b.mem, &b.staged) != ACCEL_SUCCESS)
        die("cannot attach memory");
    return b;
}

static void buf_push(side *s, buf *b, size_t n)
{
    if (b->staged && s->drv.t->memory_write(s->dev, b->mem, 0, b->host, n) != ACCEL_SUCCESS)
        die("memory_write failed");
}

static void buf_pull(side *s, buf *b, size_t n)
{
    if (b->staged && s->drv.t->memory_read(s->dev, b->mem, 0, b->host, n) != ACCEL_SUCCESS)
        die("memory_read failed");
}

static void buf_free(side *s, buf *b)
{
    if (b->staged)
        s->drv.t->memory_free_device(s->dev, b->mem);
    else
        s->drv.t->memory_detach(s->dev, b->mem);
    free(b->host);
}

static bool side_open(side *s, const char *name, const char *path)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    if (ih_open(&s->drv, path) != 0 || s->drv.device_count == 0)
        return false;
    s->dev = s->drv.devices[0];
    return s->drv.t->queue_create(s->dev, &s->queue) == ACCEL_SUCCESS;
}

static void *fn_get(side *s, const char *name)
{
    void *fn = NULL;
    if (s->drv.t->function_get(s->dev, NULL, name, &fn, NULL) != ACCEL_SUCCESS)
        die("function_get failed");
    return fn;
}

/* Median seconds of `reps` runs of one call (after a warm-up run). */
static double time_call(side *s, void *fn, const accel_icd_arg *args, uint32_t argc, accel_result *res)
{
    double t[64] = {0}, c[64] = {0};
    int n = reps < 64 ? reps : 64;
    *res = ih_run(&s->drv, s->queue, fn, args, argc, 0, 0);
    for (int i = 0; i < n && *res == ACCEL_SUCCESS; i++) {
        double t0 = now_s(), c0 = cpu_s();
        *res = ih_run(&s->drv, s->queue, fn, args, argc, 0, 0);
        t[i] = now_s() - t0;
        c[i] = cpu_s() - c0;
    }
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    qsort(c, (size_t)n, sizeof(double), cmp_double);
    last_cpu = c[n / 2];
    least_cpu = c[0];
    return t[n / 2];
}

static uint8_t *read_file(const char *dir, const char *name, size_t *n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *p = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            p = realloc(p, cap);
            if (!p)
                die("out of memory");
        }
        size_t got = fread(p + len, 1, cap - len, f);
        if (!got)
            break;
        len += got;
    }
    fclose(f);
    *n = len;
    return p;
}

static const char *const text_files[] = {"alice29.txt", "asyoulik.txt", "lcet10.txt", "plrabn12.txt", "html",
                                         "urls.10K"};
#define NTEXT (sizeof(text_files) / sizeof(text_files[0]))

/* n bytes of the corpus's text files, repeated. */
static uint8_t *corpus_text(const char *dir, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    size_t at = 0;
    while (at < n) {
        for (size_t i = 0; i < NTEXT && at < n; i++) {
            size_t len;
            uint8_t *f = read_file(dir, text_files[i], &len);
            if (!f)
                die("cannot read the corpus (--corpus DIR)");
            size_t k = len < n - at ? len : n - at;
            memcpy(p + at, f, k);
            at += k;
            free(f);
        }
    }
    return p;
}

/* One deflate call: the compressed size, or 0 when it failed. */
static uint64_t deflate_on(side *s, void *fn, const uint8_t *data, size_t n, int level, double *secs)
{
    size_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    buf src = buf_new(s, n), dst = buf_new(s, bound), out = buf_new(s, 8);
    memcpy(src.host, data, n);
    buf_push(s, &src, src.size);
    accel_icd_arg args[4] = {ih_mem(src.mem, 0, n), ih_mem(dst.mem, 0, bound), ih_mem(out.mem, 0, 8),
                             {.kind = ACCEL_ARG_I32, .u.i32 = level}};
    accel_result r;
    double t = time_call(s, fn, args, 4, &r);
    uint64_t len = 0;
    if (r == ACCEL_SUCCESS) {
        buf_pull(s, &out, out.size);
        buf_pull(s, &dst, dst.size);
        memcpy(&len, out.host, 8);
        if (getenv("DBG_STEPS")) { fprintf(stderr, "[steps %u] ", (unsigned)(len >> 32)); len &= 0xffffffffu; }
        uint8_t *back = malloc(n + 1);
        uLongf back_len = n + 1;
        if (uncompress(back, &back_len, dst.host, len) != Z_OK || back_len != n || memcmp(back, data, n) != 0)
            die("a deflate output does not inflate back to its input");
        free(back);
    }
    if (secs)
        *secs = t;
    buf_free(s, &src);
    buf_free(s, &dst);
    buf_free(s, &out);
    return r == ACCEL_SUCCESS ? len : 0;
}

static size_t zlib_size(const uint8_t *data, size_t n, int level)
{
    uLongf len = compressBound(n);
    uint8_t *z = malloc(len);
    if (compress2(z, &len, data, n, level) != Z_OK)
        die("zlib's compress2 failed");
    free(z);
    return len;
}

static void bench_ratio(side *vk, const char *dir)
{
    void *fn = fn_get(vk, "zlib.deflate");
    int saved = reps;
    reps = 1;
    printf("zlib.deflate on %s: compressed bytes, and the ratio to zlib's at levels 1 and 6\n", vk->name);
    printf("%-14s %9s %9s %9s", "file", "bytes", "zlib 1", "zlib 6");
    for (int l = 0; l < nratio_levels; l++)
        printf(" | %9s%d %6s%d %6s%d", "vk ", ratio_levels[l], "/z1 @", ratio_levels[l], "/z6 @", ratio_levels[l]);
    printf("\n");
    for (size_t i = 0; i < NTEXT; i++) {
        size_t n;
        uint8_t *data = read_file(dir, text_files[i], &n);
        if (!data)
            die("cannot read the corpus (--corpus DIR)");
        size_t z1 = zlib_size(data, n, 1), z6 = zlib_size(data, n, 6);
        printf("%-14s %9zu %9zu %9zu", text_files[i], n, z1, z6);
        for (int l = 0; l < nratio_levels; l++) {
            uint64_t v = deflate_on(vk, fn, data, n, ratio_levels[l], NULL);
            printf(" | %10llu %7.3f %7.3f", (unsigned long long)v, (double)v / z1, (double)v / z6);
        }
        printf("\n");
        free(data);
    }
    reps = saved;
}

static void bench_deflate(side *sides[], int nsides, const char *dir)
{
    size_t n = 16 * MiB;
    uint8_t *data = corpus_text(dir, n);
    printf("zlib.deflate of %zu MiB of corpus text (median of %d):\n", n / MiB, reps);
    static const int levels[] = {0, 1, 6, 9};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        for (int i = 0; i < nsides; i++) {
            double t;
            uint64_t len = deflate_on(sides[i], fn_get(sides[i], "zlib.deflate"), data, n, levels[l], &t);
            printf("  level %d %-8s %8.2f MB/s %8.2f MB/cpu-s -> %5.3f of the input\n", levels[l], sides[i]->name,
                   n / t / 1e6, n / last_cpu / 1e6, (double)len / n);
        }
        double t0 = now_s();
        size_t z = zlib_size(data, n, levels[l]);
        printf("  level %d %-8s %8.2f MB/s  -> %5.3f of the input (one thread)\n", levels[l], "zlib",
               n / (now_s() - t0) / 1e6, (double)z / n);
    }
    free(data);
}

static void bench_crc(side *sides[], int nsides)
{
    static const size_t sizes[] = {1 * MiB, 16 * MiB, 64 * MiB};
    printf("crc32c (median of %d):\n", reps);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint32_t first = 0;
        for (int i = 0; i < nsides; i++) {
            side *s = sides[i];
            buf src = buf_new(s, n + 16), res = buf_new(s, 16);
            for (size_t j = 0; j < n + 16; j++)
                src.host[j] = (uint8_t)(j * 2654435761u >> 13);
            buf_push(s, &src, src.size);
            accel_icd_arg args[2] = {ih_mem(src.mem, 3, n), ih_mem(res.mem, 0, 4)};
            accel_result r;
            double t = time_call(s, fn_get(s, "crc32c"), args, 2, &r);
            buf_pull(s, &res, res.size);
            uint32_t v;
            memcpy(&v, res.host, 4);
            if (i == 0)
                first = v;
            printf("  %3zu MiB %-8s %9.1f MB/s %9.1f MB/cpu-s%s\n", n / MiB, s->name, n / t / 1e6, n / last_cpu / 1e6,
                   r != ACCEL_SUCCESS ? "  (failed)" : v != first ? "  (differs)" : "");
            buf_free(s, &src);
            buf_free(s, &res);
        }
    }
}

static void bench_inflate(side *sides[], int nsides, const char *dir)
{
    size_t n = inflate_mib * MiB;
    uint8_t *data = corpus_text(dir, n);
    const int *levels = ratio_levels;
    printf("zlib.inflate of zlib's streams of %zu MiB of corpus text (median of %d):\n", n / MiB, reps);
    for (int l = 0; l < nratio_levels; l++) {
        uLongf zlen = compressBound(n);
        uint8_t *z = malloc(zlen);
        if (compress2(z, &zlen, data, n, levels[l]) != Z_OK)
            die("compress2 failed");
        for (int i = 0; i < nsides; i++) {
            side *s = sides[i];
            buf src = buf_new(s, zlen), dst = buf_new(s, n), out = buf_new(s, 8);
            memcpy(src.host, z, zlen);
            buf_push(s, &src, src.size);
            accel_icd_arg args[3] = {ih_mem(src.mem, 0, zlen), ih_mem(dst.mem, 0, n), ih_mem(out.mem, 0, 8)};
            accel_result r;
            double t = time_call(s, fn_get(s, "zlib.inflate"), args, 3, &r);
            buf_pull(s, &dst, dst.size);
            bool same = r == ACCEL_SUCCESS && memcmp(dst.host, data, n) == 0;
            printf("  level %d %-8s %8.2f MB/s %8.2f MB/cpu-s (best %.2f) (output)%s\n", levels[l], s->name,
                   n / t / 1e6, n / last_cpu / 1e6, n / least_cpu / 1e6, same ? "" : "  (wrong or failed)");
            buf_free(s, &src);
            buf_free(s, &dst);
            buf_free(s, &out);
        }
        uint8_t *back = malloc(n);
        double t0 = now_s();
        uLongf blen = n;
        uncompress(back, &blen, z, zlen);
        printf("  level %d %-8s %8.2f MB/s (output)\n", levels[l], "zlib", n / (now_s() - t0) / 1e6);
        free(back);
        free(z);
    }
    free(data);
}

int main(int argc, char **argv)
{
    const char *dir = CORPUS_DIR;
    const char *what[8];
    int nwhat = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--levels") == 0 && i + 1 < argc) {
            nratio_levels = 0;
            for (char *t = strtok(argv[++i], ","); t && nratio_levels < 10; t = strtok(NULL, ","))
                ratio_levels[nratio_levels++] = atoi(t);
        } else if (strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
            inflate_mib = atoi(argv[++i]) > 0 ? (size_t)atoi(argv[i]) : 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]) > 0 ? atoi(argv[i]) : 1;
        else if (nwhat < 8)
            what[nwhat++] = argv[i];
    }
    if (!nwhat) {
        static const char *all[] = {"ratio", "crc", "deflate", "inflate"};
        memcpy(what, all, sizeof(all));
        nwhat = 4;
    }
    side vk, cpu;
    if (!side_open(&vk, "vulkan", VULKAN_DRIVER_PATH)) {
        printf("no vulkan device: nothing to measure\n");
        return 0;
    }
    side *sides[2] = {&vk, &cpu};
    int nsides = side_open(&cpu, "cpu", CPU_DRIVER_PATH) ? 2 : 1;
    printf("vulkan device: %s\n", vk.drv.info[0].name);
    for (int i = 0; i < nwhat; i++) {
        if (strcmp(what[i], "ratio") == 0)
            bench_ratio(&vk, dir);
        else if (strcmp(what[i], "crc") == 0)
            bench_crc(sides, nsides);
        else if (strcmp(what[i], "deflate") == 0)
            bench_deflate(sides, nsides, dir);
        else if (strcmp(what[i], "inflate") == 0)
            bench_inflate(sides, nsides, dir);
        else
            die("usage: bench_icd_vulkan [--corpus DIR] [--reps N] [--levels L,L..] [--mib N] "
                "[crc|deflate|ratio|inflate]...");
    }
    return 0;
}
