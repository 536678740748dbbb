/* bench_icd_cpu.c — the cpu driver's speed next to the libraries it stands
 * on, through its function table (icd_harness.h), without the loader. Not a
 * test: speed is printed, never asserted.
 *
 *   bench_icd_cpu rtt [samples]   no-op round trip (submit, fence_wait,
 *                                 fence_release) from one thread: median,
 *                                 p90, p99. Run it under `taskset -c 0` too:
 *                                 the submitting thread and the queue's
 *                                 worker then share one CPU.
 *   bench_icd_cpu speed [dir]     crc32c, sha256, zlib.deflate (levels 1, 6,
 *                                 9) and zlib.inflate over the files of dir
 *                                 one after the other (default:
 *                                 tests/data/corpus), each next to
 *                                 the same work done by a direct call:
 *                                 a 3-stream crc32 instruction loop written
 *                                 here, OpenSSL's EVP digest, libdeflate.
 *
 * Speed figures are the fastest of several repetitions (the least
 * disturbed by other load), in GiB/s of input (for inflate: of output).
 * BENCH_ICD_CPU_DRIVER=path runs another build of the driver (to compare
 * two versions on the same machine, alternately). */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdeflate.h>
#include <openssl/evp.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#include <wmmintrin.h>
#define BENCH_HAVE_CRC_REFERENCE 1
#endif

#include "../icd_harness.h"

#define REPS 9

static ih_driver D;
static void *DEV, *Q;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *builtin(const char *name, uint32_t *arg_count)
{
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    if (D.t->function_get(DEV, NULL, name, &fn, &info) != ACCEL_SUCCESS) {
        fprintf(stderr, "no built-in %s\n", name);
        exit(1);
    }
    if (arg_count)
        *arg_count = info.arg_count;
    return fn;
}

static void *attach(void *p, size_t n)
{
    void *mem;
    int staged;
    if (ih_attach(&D, DEV, p, n, &mem, &staged) != ACCEL_SUCCESS || staged) {
        fprintf(stderr, "attach failed\n");
        exit(1);
    }
    return mem;
}

/* ---- rtt ------------------------------------------------------------------ */

static int rtt(int samples)
{
    void *noop = builtin("accel.noop", NULL);
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    uint64_t *t = malloc((size_t)samples * sizeof(*t));
    if (!t)
        return 1;
    for (int i = -samples / 10; i < samples; i++) { /* the first tenth warms up */
        void *fence;
        uint64_t t0 = now_ns();
        accel_result r = D.t->queue_submit(Q, &s, &fence);
        if (r == ACCEL_SUCCESS) {
            r = D.t->fence_wait(fence, UINT64_MAX);
            D.t->fence_release(fence);
        }
        uint64_t t1 = now_ns();
        if (r != ACCEL_SUCCESS) {
            fprintf(stderr, "noop failed: %d\n", r);
            return 1;
        }
        if (i >= 0)
            t[i] = t1 - t0;
    }
    qsort(t, (size_t)samples, sizeof(*t), cmp_u64);
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : -1;
    printf("noop round trip, %d CPU(s) allowed, %d samples: median %.2f us, p90 %.2f us, p99 %.2f us\n", cpus,
           samples, t[samples / 2] / 1e3, t[samples * 9 / 10] / 1e3, t[samples * 99 / 100] / 1e3);
    free(t);
    return 0;
}

/* ---- speed ---------------------------------------------------------------- */

/* The fastest of REPS runs of `run`, in seconds. */
#define BEST(seconds, run)                                                                                   \
    do {                                                                                                     \
        uint64_t best_ = UINT64_MAX;                                                                         \
        for (int rep_ = 0; rep_ < REPS; rep_++) {                                                            \
            uint64_t t0_ = now_ns();                                                                         \
            run;                                                                                             \
            uint64_t t_ = now_ns() - t0_;                                                                    \
            if (t_ < best_)                                                                                  \
                best_ = t_;                                                                                  \
        }                                                                                                    \
        (seconds) = best_ / 1e9;                                                                             \
    } while (0)

static void report(const char *what, double bytes, double driver_s, double ref_s, const char *ref)
{
    double gib = 1024.0 * 1024.0 * 1024.0;
    printf("%-22s driver %7.3f GiB/s   %-26s %7.3f GiB/s   ratio %.2f\n", what, bytes / driver_s / gib, ref,
           bytes / ref_s / gib, ref_s / driver_s);
}

static accel_result call(void *fn, const accel_icd_arg *args, uint32_t n)
{
    accel_result r = ih_run(&D, Q, fn, args, n, 0, 0);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "call failed: %d\n", r);
        exit(1);
    }
    return r;
}

#ifdef BENCH_HAVE_CRC_REFERENCE
/* The yardstick for crc32c: three independent crc32 instruction streams
 * over the thirds of each 3 x 4 KiB block, joined by shifting the first
 * two with a carry-less multiply (x^(8n-33) mod P, so that one more crc32
 * of the 64-bit product reduces it). */
#define REF_BLOCK 4096u
static uint32_t ref_k1, ref_k2;

static uint32_t ref_mulmod(uint32_t a, uint32_t b)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++) {
        if (a & (0x80000000u >> i))
            r ^= b;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return r;
}

static uint32_t ref_xpow(uint64_t n)
{
    uint32_t r = 0x80000000u, x = 0x40000000u;
    for (; n; n >>= 1, x = ref_mulmod(x, x))
        if (n & 1)
            r = ref_mulmod(r, x);
    return r;
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t ref_crc3(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n >= 3 * REF_BLOCK) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        for (const uint8_t *end = p + REF_BLOCK; p < end; p += 8) {
            uint64_t a, b, c;
            memcpy(&a, p, 8);
            memcpy(&b, p + REF_BLOCK, 8);
            memcpy(&c, p + 2 * REF_BLOCK, 8);
            c0 = _mm_crc32_u64(c0, a);
            c1 = _mm_crc32_u64(c1, b);
            c2 = _mm_crc32_u64(c2, c);
        }
        __m128i x = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c0), _mm_cvtsi32_si128((int)ref_k2), 0);
        __m128i y = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c1), _mm_cvtsi32_si128((int)ref_k1), 0);
        crc = (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(x, y))) ^ (uint32_t)c2;
        p += 2 * REF_BLOCK;
        n -= 3 * REF_BLOCK;
    }
    uint64_t c = crc;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
    }
    crc = (uint32_t)c;
    while (n--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

/* The files of dir (not its README or licence), one after the other:
 * docs/benchmarks.md's "concatenation". At most 64 MiB. */
static uint8_t *load_corpus(const char *dir, size_t *size)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return NULL;
    }
    size_t cap = 64u << 20, n = 0;
    uint8_t *buf = malloc(cap);
    struct dirent *e;
    while (buf && (e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0 ||
            strncmp(e->d_name, "LICENSE", 7) == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t got;
        while (n < cap && (got = fread(buf + n, 1, cap - n, f)) > 0)
            n += got;
        fclose(f);
    }
    closedir(d);
    if (!buf || !n) {
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

static int speed(const char *dir)
{
    size_t n;
    uint8_t *src = load_corpus(dir, &n);
    if (!src)
        return 1;
    size_t zcap = n + 5 * (n / 65535 + 1) + 11;
    uint8_t *z = malloc(zcap), *back = malloc(n), *small = malloc(64);
    void *msrc = attach(src, n), *mz = attach(z, zcap), *mback = attach(back, n), *msmall = attach(small, 64);
    double drv, ref;
    printf("input: %zu bytes from %s\n", n, dir);

    accel_icd_arg a2[2] = {ih_mem(msrc, 0, n), ih_mem(msmall, 0, 32)};
    void *crc = builtin("crc32c", NULL);
    BEST(drv, call(crc, a2, 2));
#ifdef BENCH_HAVE_CRC_REFERENCE
    ref_k1 = ref_xpow(8 * REF_BLOCK - 33);
    ref_k2 = ref_xpow(16 * REF_BLOCK - 33);
    volatile uint32_t sink;
    BEST(ref, sink = ~ref_crc3(~0u, src, n));
    if (sink != (uint32_t)(small[0] | small[1] << 8 | small[2] << 16 | (uint32_t)small[3] << 24))
        printf("crc32c: the driver and the reference disagree\n");
    report("crc32c", (double)n, drv, ref, "3-stream crc32 loop");
#endif

    void *sha = builtin("sha256", NULL);
    BEST(drv, call(sha, a2, 2));
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t digest[32];
    BEST(ref, (EVP_DigestInit_ex2(ctx, md, NULL), EVP_DigestUpdate(ctx, src, n),
               EVP_DigestFinal_ex(ctx, digest, NULL)));
    if (memcmp(digest, small, 32) != 0)
        printf("sha256: the driver and OpenSSL disagree\n");
    report("sha256", (double)n, drv, ref, "OpenSSL EVP");
    /* The cost of a call itself: 64 bytes, median of single calls. */
    enum { SMALL_CALLS = 5000 };
    static uint64_t t_drv[SMALL_CALLS], t_ref[SMALL_CALLS];
    accel_icd_arg s2[2] = {ih_mem(msrc, 0, 64), ih_mem(msmall, 0, 32)};
    for (int i = 0; i < SMALL_CALLS; i++) {
        uint64_t t0 = now_ns();
        call(sha, s2, 2);
        uint64_t t1 = now_ns();
        EVP_DigestInit_ex2(ctx, md, NULL);
        EVP_DigestUpdate(ctx, src, 64);
        EVP_DigestFinal_ex(ctx, digest, NULL);
        t_drv[i] = t1 - t0;
        t_ref[i] = now_ns() - t1;
    }
    qsort(t_drv, SMALL_CALLS, sizeof(t_drv[0]), cmp_u64);
    qsort(t_ref, SMALL_CALLS, sizeof(t_ref[0]), cmp_u64);
    printf("sha256 of 64 bytes, median: driver %.2f us per call (a round trip), OpenSSL EVP %.2f us\n",
           t_drv[SMALL_CALLS / 2] / 1e3, t_ref[SMALL_CALLS / 2] / 1e3);
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);

    uint32_t deflate_args;
    void *def = builtin("zlib.deflate", &deflate_args), *inf = builtin("zlib.inflate", NULL);
    static const int levels[] = {1, 6, 9};
    for (size_t li = 0; li < sizeof(levels) / sizeof(levels[0]); li++) {
        int level = levels[li];
        if (deflate_args < 4 && level != 6)
            continue; /* a driver from before the level argument: level 6 */
        accel_icd_arg a4[4] = {ih_mem(msrc, 0, n),
                               ih_mem(mz, 0, zcap),
                               ih_mem(msmall, 0, 8),
                               {.kind = ACCEL_ARG_I32, .u.i32 = level}};
        BEST(drv, call(def, a4, deflate_args));
        uint64_t zn = 0;
        memcpy(&zn, small, 8);
        struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
        size_t ref_n = 0;
        BEST(ref, ref_n = libdeflate_zlib_compress(c, src, n, z + zcap / 2, zcap - zcap / 2));
        libdeflate_free_compressor(c);
        char what[64], refname[64];
        snprintf(what, sizeof(what), "zlib.deflate level %d", level);
        snprintf(refname, sizeof(refname), "libdeflate level %d", level);
        report(what, (double)n, drv, ref, refname);
        printf("%-22s driver %zu bytes, libdeflate %zu bytes: size ratio %.4f\n", "", (size_t)zn, ref_n,
               (double)zn / (double)ref_n);

        accel_icd_arg i3[3] = {ih_mem(mz, 0, zn), ih_mem(mback, 0, n), ih_mem(msmall, 0, 8)};
        BEST(drv, call(inf, i3, 3));
        if (memcmp(back, src, n) != 0)
            printf("zlib.inflate: wrong output\n");
        struct libdeflate_decompressor *dd = libdeflate_alloc_decompressor();
        size_t out = 0;
        BEST(ref, libdeflate_zlib_decompress(dd, z, zn, back, n, &out));
        libdeflate_free_decompressor(dd);
        snprintf(what, sizeof(what), "zlib.inflate (from %d)", level);
        report(what, (double)n, drv, ref, "libdeflate");
    }
    D.t->memory_detach(DEV, msrc);
    D.t->memory_detach(DEV, mz);
    D.t->memory_detach(DEV, mback);
    D.t->memory_detach(DEV, msmall);
    free(src);
    free(z);
    free(back);
    free(small);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "rtt") != 0 && strcmp(argv[1], "speed") != 0)) {
        fprintf(stderr, "usage: %s rtt [samples] | speed [dir]\n", argv[0]);
        return 2;
    }
    const char *driver = secure_getenv("BENCH_ICD_CPU_DRIVER");
    if (ih_open_queue(&D, driver && *driver ? driver : DRIVER_PATH, &DEV, &Q) != 0)
        return 1;
    int rc;
    if (strcmp(argv[1], "rtt") == 0) {
        int samples = argc > 2 ? atoi(argv[2]) : 20000;
        rc = rtt(samples < 100 ? 100 : samples);
    } else
        rc = speed(argc > 2 ? argv[2] : CORPUS_DIR);
    ih_close_queue(&D, Q);
    return rc;
}
