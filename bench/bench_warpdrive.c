/*
 * bench_warpdrive.c — the warpdrive (uacce) driver on the emulated device
 * (accel-uacce-emulator, started here in a temporary root, SVA, busy-polling
 * its doorbells) next to the cpu driver, both loaded directly through their
 * function tables (tests/icd/icd_harness.h: dlopen + negotiate + init, no
 * loader in between). Three columns:
 *
 *   warpdrive, memfd memory   attached with its file descriptor, as the
 *                             loader's accel_memory_alloc memory is: the
 *                             emulator keeps a translation entry for it and
 *                             reaches the bytes in place (cache hit);
 *   warpdrive, host memory    attached without one, as imported host memory
 *                             is: the emulator reads it with
 *                             process_vm_readv (cache miss);
 *   cpu driver                the same request on the cpu driver.
 *
 * Buffers are page-aligned in every column (a 4 KiB source is one page).
 *
 *  1. crc32c of 4 KiB, submit -> completion -> release, one at a time:
 *     median latency per call (31 batches of 200 calls);
 *  2. zlib.deflate of 64 MiB (half pseudo-random, half text bytes):
 *     throughput in MiB/s of input (median of 5 runs).
 *
 * Paths of both drivers and of the emulator are compiled in.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tests/icd/icd_harness.h"
#include "bench_util.h"

#define CRC_BYTES    4096u
#define CRC_CALLS    200
#define DEFLATE_MIB  64u
#define DEFLATE_RUNS 5

/* Page-aligned bytes, with a memfd behind them or anonymous. */
typedef struct region {
    uint8_t *p;
    size_t map_size;
    int fd;
} region;

static void die(const char *what)
{
    fprintf(stderr, "bench_warpdrive: %s\n", what);
    exit(1);
}

static region region_new(size_t size, bool memfd)
{
    long page = sysconf(_SC_PAGESIZE);
    region r = {.fd = -1};
    r.map_size = (size + (size_t)page - 1) / (size_t)page * (size_t)page;
    if (memfd) {
        r.fd = memfd_create("bench-wd", MFD_CLOEXEC);
        if (r.fd < 0 || ftruncate(r.fd, (off_t)r.map_size) != 0)
            die("memfd_create failed");
        r.p = mmap(NULL, r.map_size, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
    } else {
        r.p = mmap(NULL, r.map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (r.p == MAP_FAILED)
        die("mmap failed");
    return r;
}

static void region_free(region *r)
{
    munmap(r->p, r->map_size);
    if (r->fd >= 0)
        close(r->fd);
}

/* Attach as the loader does: with the fd when there is one. */
static void *attach(ih_driver *d, void *dev, const region *r, uint64_t size)
{
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = r->p, .size = size, .fd = r->fd,
                                  .numa_node = -1};
    accel_attach_mode mode;
    void *mem = NULL;
    if (d->t->memory_attach(dev, &desc, &mem, &mode) != ACCEL_SUCCESS)
        die("attach failed");
    return mem;
}

static void fill_data(uint8_t *p, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i & 64) ? (uint8_t)"accel-uacce "[i % 12] : (uint8_t)(x >> 24);
    }
}

static void *function(ih_driver *d, void *dev, const char *name)
{
    void *fn = NULL;
    if (d->t->function_get(dev, NULL, name, &fn, NULL) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_warpdrive: no %s\n", name);
        exit(1);
    }
    return fn;
}

/* Median microseconds per 4 KiB crc32c; the checksum in *crc. */
static double crc_latency_us(ih_driver *d, void *dev, void *q, bool memfd, uint32_t *crc)
{
    region in = region_new(CRC_BYTES, memfd), out = region_new(4, memfd);
    fill_data(in.p, CRC_BYTES);
    void *min = attach(d, dev, &in, CRC_BYTES), *mout = attach(d, dev, &out, 4);
    accel_icd_arg args[2] = {ih_mem(min, 0, CRC_BYTES), ih_mem(mout, 0, 4)};
    void *fn = function(d, dev, "crc32c");
    double v[BENCH_ROUNDS];
    for (int r = -BENCH_WARMUP_ROUNDS; r < BENCH_ROUNDS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < CRC_CALLS; i++)
            if (ih_run(d, q, fn, args, 2, 0, 0) != ACCEL_SUCCESS)
                die("crc32c failed");
        if (r >= 0)
            v[r] = (double)(bench_now_ns() - t0) / 1000.0 / CRC_CALLS;
    }
    memcpy(crc, out.p, 4);
    d->t->memory_detach(dev, min);
    d->t->memory_detach(dev, mout);
    region_free(&in);
    region_free(&out);
    return bench_median(v, BENCH_ROUNDS);
}

/* Median MiB/s of 64 MiB deflate; the stream's length in *zlen. */
static double deflate_mibps(ih_driver *d, void *dev, void *q, bool memfd, uint64_t *zlen)
{
    uint64_t n = (uint64_t)DEFLATE_MIB << 20, bound = n + 5 * ((n + 65534) / 65535) + 11;
    region src = region_new(n, memfd), dst = region_new(bound, memfd), size = region_new(8, memfd);
    fill_data(src.p, n);
    memset(dst.p, 0, bound); /* fault the destination in before timing */
    void *ms = attach(d, dev, &src, n), *md = attach(d, dev, &dst, bound), *mz = attach(d, dev, &size, 8);
    accel_icd_arg args[4] = {ih_mem(ms, 0, n), ih_mem(md, 0, bound), ih_mem(mz, 0, 8),
                             {.kind = ACCEL_ARG_I32, .u.i32 = 6}};
    void *fn = function(d, dev, "zlib.deflate");
    double v[DEFLATE_RUNS];
    for (int r = 0; r < DEFLATE_RUNS; r++) {
        uint64_t t0 = bench_now_ns();
        if (ih_run(d, q, fn, args, 4, 0, 0) != ACCEL_SUCCESS)
            die("deflate failed");
        v[r] = DEFLATE_MIB / ((double)(bench_now_ns() - t0) / 1e9);
    }
    memcpy(zlen, size.p, 8);
    d->t->memory_detach(dev, ms);
    d->t->memory_detach(dev, md);
    d->t->memory_detach(dev, mz);
    region_free(&src);
    region_free(&dst);
    region_free(&size);
    return bench_median(v, DEFLATE_RUNS);
}

static pid_t start_emulator(const char *root)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(WD_EMULATOR_PATH, WD_EMULATOR_PATH, "--root", root, "--name", "bench_wd-0", "--sva", "--instances",
              "2", "--algorithms", "zlib,crc32c,sha256", (char *)NULL);
        _exit(127);
    }
    char sock[600];
    snprintf(sock, sizeof(sock), "%s/dev/bench_wd-0", root);
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(sock, &st) == 0)
            return pid;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

int main(void)
{
    char root[256], env[600];
    if (bench_make_temp_dir(root, sizeof(root)) != 0)
        return 1;
    pid_t emu = start_emulator(root);
    if (emu < 0) {
        fprintf(stderr, "bench_warpdrive: the emulator did not start\n");
        return 1;
    }
    snprintf(env, sizeof(env), "%s/sys", root);
    setenv("ACCEL_UACCE_SYSFS_ROOT", env, 1);
    snprintf(env, sizeof(env), "%s/dev", root);
    setenv("ACCEL_UACCE_DEV_ROOT", env, 1);

    static ih_driver wd, cpu;
    int rc = 1;
    if (ih_open(&wd, WD_DRIVER_PATH) != 0 || wd.device_count < 1 || ih_open(&cpu, CPU_DRIVER_PATH) != 0) {
        fprintf(stderr, "bench_warpdrive: cannot open the drivers\n");
        goto out;
    }
    void *wq, *cq, *wdev = wd.devices[0], *cdev = cpu.devices[0];
    printf("warpdrive device: %s\ncpu device: %s\n", wd.info[0].name, cpu.info[0].name);
    uint32_t crc[3];
    uint64_t zlen[3];
    double lat[3], thr[3];
    /* The emulator's queue thread polls its ring while the queue exists:
     * it is gone before the cpu driver is measured. */
    if (wd.t->queue_create(wdev, &wq)) {
        fprintf(stderr, "bench_warpdrive: cannot create a warpdrive queue\n");
        goto out;
    }
    lat[0] = crc_latency_us(&wd, wdev, wq, true, &crc[0]);
    lat[1] = crc_latency_us(&wd, wdev, wq, false, &crc[1]);
    thr[0] = deflate_mibps(&wd, wdev, wq, true, &zlen[0]);
    thr[1] = deflate_mibps(&wd, wdev, wq, false, &zlen[1]);
    wd.t->queue_destroy(wq);
    if (cpu.t->queue_create(cdev, &cq)) {
        fprintf(stderr, "bench_warpdrive: cannot create a cpu queue\n");
        goto out;
    }
    lat[2] = crc_latency_us(&cpu, cdev, cq, true, &crc[2]);
    thr[2] = deflate_mibps(&cpu, cdev, cq, true, &zlen[2]);
    cpu.t->queue_destroy(cq);
    /* Both paths of the emulator see the same bytes as the cpu driver. */
    rc = 0;
    if (crc[0] != crc[1] || crc[0] != crc[2]) {
        fprintf(stderr, "bench_warpdrive: crc32c results differ: %08x %08x %08x\n", crc[0], crc[1], crc[2]);
        rc = 1;
    }
    if (zlen[0] != zlen[1]) {
        fprintf(stderr, "bench_warpdrive: deflate lengths differ on the emulator: %llu %llu\n",
                (unsigned long long)zlen[0], (unsigned long long)zlen[1]);
        rc = 1;
    }

    printf("%-32s %-24s %-24s %s\n", "", "warpdrive SVA, memfd", "warpdrive SVA, host", "cpu driver");
    printf("%-32s %-24s %-24s %s\n", "", "(translation cache)", "(process_vm_readv)", "");
    printf("%-32s %-24.2f %-24.2f %.2f\n", "crc32c 4 KiB, median us", lat[0], lat[1], lat[2]);
    printf("%-32s %-24.1f %-24.1f %.1f\n", "zlib.deflate 64 MiB, MiB/s", thr[0], thr[1], thr[2]);
out:
    ih_close(&wd);
    ih_close(&cpu);
    kill(emu, SIGTERM);
    waitpid(emu, NULL, 0);
    rmdir(root);
    return rc;
}
