/*
 * bench_warpdrive.c — the warpdrive (uacce) driver on the emulated device
 * (accel-uacce-emulator, started here in a temporary root, SVA, busy-polling
 * its doorbells) next to the cpu driver, both loaded directly through their
 * function tables (tests/icd/icd_harness.h: dlopen + negotiate + init, no
 * loader in between):
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tests/icd/icd_harness.h"
#include "bench_util.h"

#define CRC_BYTES    4096u
#define CRC_CALLS    200
#define DEFLATE_MIB  64u
#define DEFLATE_RUNS 5

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

/* Median microseconds per 4 KiB crc32c. */
static double crc_latency_us(ih_driver *d, void *dev, void *q)
{
    static uint8_t in[CRC_BYTES], out[4];
    fill_data(in, sizeof(in));
    void *min, *mout;
    int staged;
    if (ih_attach(d, dev, in, sizeof(in), &min, &staged) || ih_attach(d, dev, out, 4, &mout, &staged)) {
        fprintf(stderr, "bench_warpdrive: attach failed\n");
        exit(1);
    }
    accel_icd_arg args[2] = {ih_mem(min, 0, CRC_BYTES), ih_mem(mout, 0, 4)};
    void *fn = function(d, dev, "crc32c");
    double v[BENCH_ROUNDS];
    for (int r = -BENCH_WARMUP_ROUNDS; r < BENCH_ROUNDS; r++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < CRC_CALLS; i++)
            if (ih_run(d, q, fn, args, 2, 0, 0) != ACCEL_SUCCESS) {
                fprintf(stderr, "bench_warpdrive: crc32c failed\n");
                exit(1);
            }
        if (r >= 0)
            v[r] = (double)(bench_now_ns() - t0) / 1000.0 / CRC_CALLS;
    }
    d->t->memory_detach(dev, min);
    d->t->memory_detach(dev, mout);
    return bench_median(v, BENCH_ROUNDS);
}

/* Median MiB/s of 64 MiB deflate. */
static double deflate_mibps(ih_driver *d, void *dev, void *q, uint8_t *src, uint8_t *dst, uint64_t bound)
{
    static uint8_t size[8];
    void *ms, *md, *mz;
    int staged;
    if (ih_attach(d, dev, src, (uint64_t)DEFLATE_MIB << 20, &ms, &staged) ||
        ih_attach(d, dev, dst, bound, &md, &staged) || ih_attach(d, dev, size, 8, &mz, &staged)) {
        fprintf(stderr, "bench_warpdrive: attach failed\n");
        exit(1);
    }
    accel_icd_arg args[3] = {ih_mem(ms, 0, (uint64_t)DEFLATE_MIB << 20), ih_mem(md, 0, bound), ih_mem(mz, 0, 8)};
    void *fn = function(d, dev, "zlib.deflate");
    double v[DEFLATE_RUNS];
    for (int r = 0; r < DEFLATE_RUNS; r++) {
        uint64_t t0 = bench_now_ns();
        if (ih_run(d, q, fn, args, 3, 0, 0) != ACCEL_SUCCESS) {
            fprintf(stderr, "bench_warpdrive: deflate failed\n");
            exit(1);
        }
        v[r] = DEFLATE_MIB / ((double)(bench_now_ns() - t0) / 1e9);
    }
    d->t->memory_detach(dev, ms);
    d->t->memory_detach(dev, md);
    d->t->memory_detach(dev, mz);
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
    void *wq, *cq;
    if (wd.t->queue_create(wd.devices[0], &wq) || cpu.t->queue_create(cpu.devices[0], &cq)) {
        fprintf(stderr, "bench_warpdrive: cannot create queues\n");
        goto out;
    }
    printf("warpdrive device: %s\ncpu device: %s\n", wd.info[0].name, cpu.info[0].name);
    double wl = crc_latency_us(&wd, wd.devices[0], wq);
    double cl = crc_latency_us(&cpu, cpu.devices[0], cq);
    printf("crc32c 4 KiB submit->complete, median: warpdrive (emulator) %.2f us, cpu driver %.2f us\n", wl, cl);

    uint64_t n = (uint64_t)DEFLATE_MIB << 20, bound = n + 5 * ((n + 65534) / 65535) + 11;
    uint8_t *src = malloc(n), *dst = malloc(bound);
    if (!src || !dst)
        goto out;
    fill_data(src, n);
    memset(dst, 0, bound);
    double wt = deflate_mibps(&wd, wd.devices[0], wq, src, dst, bound);
    double ct = deflate_mibps(&cpu, cpu.devices[0], cq, src, dst, bound);
    printf("zlib.deflate 64 MiB, median of %d: warpdrive (emulator) %.1f MiB/s, cpu driver %.1f MiB/s\n",
           DEFLATE_RUNS, wt, ct);
    free(src);
    free(dst);
    wd.t->queue_destroy(wq);
    cpu.t->queue_destroy(cq);
    rc = 0;
out:
    ih_close(&wd);
    ih_close(&cpu);
    kill(emu, SIGTERM);
    waitpid(emu, NULL, 0);
    rmdir(root);
    return rc;
}
