/* bench_util.h — timing helpers shared by the benchmarks (header-only, static functions). */
#ifndef ACCEL_BENCH_UTIL_H
#define ACCEL_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Number of measured batches per figure; the figure is their median. Odd, so the median is
 * one real batch and not an average of two. */
#define BENCH_ROUNDS 31
/* Unmeasured rounds first: page faults, lazy PLT binding, branch predictors and caches. */
#define BENCH_WARMUP_ROUNDS 3

/* Hide a value from the optimizer so that calls through it cannot be resolved, specialised
 * or hoisted at compile time. */
#define BENCH_OPAQUE(x) __asm__ volatile("" : "+r"(x))

static inline uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values; the input is left in its order. n must be at most BENCH_ROUNDS. */
static inline double bench_median(const double *v, size_t n)
{
    double tmp[BENCH_ROUNDS];
    if (n == 0 || n > BENCH_ROUNDS)
        return 0.0;
    memcpy(tmp, v, n * sizeof(*v));
    qsort(tmp, n, sizeof(*tmp), bench_cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
}

/* Read a whole file into a malloc'ed buffer. Returns 0 or -1. */
static inline int bench_read_file(const char *path, char **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    *data = malloc((size_t)n + 1);
    if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n) {
        free(*data);
        *data = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    *size = (size_t)n;
    return 0;
}

/* Create (or replace) a file with these bytes. Returns 0 or -1 with errno set. */
static inline int bench_write_file(const char *path, const void *data, size_t size, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        size -= (size_t)w;
    }
    return close(fd);
}

/* Make a private directory under $TMPDIR (or /tmp) into buf. Returns 0 or -1. */
static inline int bench_make_temp_dir(char *buf, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0] || strlen(tmp) + 32 > size)
        tmp = "/tmp";
    snprintf(buf, size, "%s/accel-bench-XXXXXX", tmp);
    if (!mkdtemp(buf)) {
        fprintf(stderr, "mkdtemp %s: %s\n", buf, strerror(errno));
        buf[0] = '\0';
        return -1;
    }
    return 0;
}

#endif
