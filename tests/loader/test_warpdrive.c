/* test_warpdrive.c — a WarpDrive device through the loader: the uacce
 * emulator started as a child process, found through its sysfs tree, used
 * beside the cpu device on one memory object, listed by accelinfo --cdi,
 * and killed in the middle of a queue; allocated memory (reached through
 * the emulator's translation cache) and imported host memory (reached
 * through the process's address space) giving the cpu driver's results,
 * also after an address is freed and reused by other memory; zlib.deflate's
 * level, and fences polled for their status. */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

static char root[256], sysfs[300], devroot[300];
static pid_t emulator;

/* One emulator at a time: `name`, SVA, each request delayed latency_us. */
static void start_emulator_named(const char *name, const char *algorithms, const char *latency_us)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/%s", devroot, name);
    const char *argv[] = {EMULATOR_PATH, "--root", root, "--name", name, "--sva", "--instances", "4",
                          "--algorithms", algorithms, "--latency-us", latency_us, NULL};
    emulator = ts_spawn_until_socket(argv, sock);
}

static void start_emulator(void)
{
    start_emulator_named("wd_loader-0", "zlib,crc32c,sha256", "20000");
}

static void stop_emulator(int sig)
{
    if (emulator > 0) {
        kill(emulator, sig);
        waitpid(emulator, NULL, 0);
        emulator = 0;
    }
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(root, sizeof(root), "%s/wd-XXXXXX", TEST_TMP_DIR);
    ts_mkdirs(TEST_TMP_DIR);
    if (!mkdtemp(root))
        return -1;
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sysfs);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", devroot);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_emulator(SIGKILL);
    ts_rmtree(root);
    ts_env_pop();
    return 0;
}

static accel_instance *create(void)
{
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL};
    accel_instance *inst = NULL;
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    return inst;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static accel_result crc(accel_queue *q, accel_function *fn, accel_memory *in, uint64_t n, accel_memory *out,
                        uint64_t slot, accel_fence **fence)
{
    accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
    args[0].u.mem.memory = in;
    args[0].u.mem.size = n;
    args[1].u.mem.memory = out;
    args[1].u.mem.offset = slot * 4;
    args[1].u.mem.size = 4;
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = 2};
    return accel_queue_submit(q, &s, fence);
}

static void test_warpdrive_beside_cpu(void **state)
{
    (void)state;
    start_emulator();
    accel_instance *inst = create();
    accel_device *wd = ts_device_of(inst, "warpdrive"), *cpu = ts_device_of(inst, "cpu");
    assert_non_null(wd);
    assert_non_null(cpu);
    accel_device_info info = ts_device_info(wd);
    assert_int_equal(info.kind, ACCEL_DEVICE_KIND_ASIC);
    assert_int_equal(info.interface, ACCEL_DEVICE_INTERFACE_UACCE);
    assert_non_null(strstr(info.device_node, "wd_loader-0"));

    /* One buffer, both devices, same crc32c. */
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = 4096 + 3, .numa_node = -1};
    accel_memory *in = NULL, *out = NULL;
    assert_int_equal(accel_memory_alloc(inst, &mi, &in), ACCEL_SUCCESS);
    mi.size = 8;
    assert_int_equal(accel_memory_alloc(inst, &mi, &out), ACCEL_SUCCESS);
    unsigned char *p;
    accel_memory_map(in, (void **)&p);
    for (int i = 0; i < 4096 + 3; i++)
        p[i] = (unsigned char)(i * 7);
    accel_attach_mode mode;
    assert_int_equal(accel_memory_attach(in, wd, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY); /* SVA */
    assert_int_equal(accel_memory_attach(out, wd, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(in, cpu, NULL), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_attach(out, cpu, NULL), ACCEL_SUCCESS);
    accel_function *fw = NULL, *fc = NULL;
    assert_int_equal(accel_function_get(wd, NULL, "crc32c", &fw), ACCEL_SUCCESS);
    assert_int_equal(accel_function_get(cpu, NULL, "crc32c", &fc), ACCEL_SUCCESS);
    accel_queue *qw, *qc;
    assert_int_equal(accel_queue_create(wd, 0, &qw), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(cpu, 0, &qc), ACCEL_SUCCESS);
    accel_fence *a, *b;
    assert_int_equal(crc(qw, fw, in, 4096 + 3, out, 0, &a), ACCEL_SUCCESS);
    assert_int_equal(crc(qc, fc, in, 4096 + 3, out, 1, &b), ACCEL_SUCCESS);
    accel_fence *both[2] = {a, b};
    assert_int_equal(accel_fence_wait(both, 2, true, 10000000000ull), ACCEL_SUCCESS);
    uint32_t v[2];
    void *o;
    accel_memory_map(out, &o);
    memcpy(v, o, 8);
    assert_int_equal(v[0], v[1]);
    accel_fence_release(a);
    accel_fence_release(b);

    /* accelinfo --cdi gives the emulator's socket as a mount (it is no device
     * node) and selects nothing: the container sees the nodes it is given
     * (tests/tools/test_cdi.py checks the spec itself). */
    char *files = ts_printf("ACCEL_DRIVER_FILES=%s/accel_warpdrive.json", BUILD_MANIFEST_DIR);
    char *sys = ts_printf("ACCEL_UACCE_SYSFS_ROOT=%s", sysfs), *dev = ts_printf("ACCEL_UACCE_DEV_ROOT=%s", devroot);
    const char *env[] = {files, sys, dev, NULL};
    const char *argv[] = {ACCELINFO_PATH, "--cdi", NULL};
    char *cdi_out = NULL, *cdi_err = NULL;
    assert_int_equal(ts_run(argv, env, &cdi_out, &cdi_err), 0);
    assert_non_null(strstr(cdi_out, "\"cdiVersion\""));
    assert_non_null(strstr(cdi_out, "wd_loader-0"));
    assert_non_null(strstr(cdi_out, "\"containerPath\""));
    assert_null(strstr(cdi_out, "deviceNodes"));
    assert_null(strstr(cdi_out, "ACCEL_DEVICE_SELECTOR"));
    free(cdi_out);
    free(cdi_err);
    free(files);
    free(sys);
    free(dev);

    /* Kill the device with requests pending (20 ms each): they fail with
     * ACCEL_ERROR_DEVICE_LOST within a second, nothing hangs, and the cpu
     * queue keeps working. */
    accel_fence *pending[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(crc(qw, fw, in, 4096, out, 0, &pending[i]), ACCEL_SUCCESS);
    usleep(30000);
    uint64_t t0 = now_ms();
    stop_emulator(SIGKILL);
    accel_result r = accel_fence_wait(pending, 8, true, 5000000000ull);
    uint64_t waited = now_ms() - t0;
    assert_int_equal(r, ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(accel_fence_status(pending[7]), ACCEL_ERROR_DEVICE_LOST);
    if (waited > 1000)
        fail_msg("the pending fences took %llu ms to fail", (unsigned long long)waited);
    assert_int_equal(crc(qw, fw, in, 16, out, 0, NULL), ACCEL_ERROR_DEVICE_LOST);
    assert_int_equal(crc(qc, fc, in, 16, out, 1, &b), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&b, 1, true, 5000000000ull), ACCEL_SUCCESS);
    accel_fence_release(b);
    for (int i = 0; i < 8; i++)
        accel_fence_release(pending[i]);
    accel_queue_destroy(qw);
    accel_queue_destroy(qc);
    accel_function_destroy(fw);
    accel_function_destroy(fc);
    accel_memory_free(in);
    accel_memory_free(out);
    accel_instance_destroy(inst);

    /* After a restart, a new instance finds the device again. */
    start_emulator();
    inst = create();
    assert_non_null(ts_device_of(inst, "warpdrive"));
    accel_instance_destroy(inst);
    stop_emulator(SIGTERM);
}

/* ---- allocated versus imported memory -------------------------------------------- */

typedef struct tmem {
    accel_memory *m;
    uint8_t *p;
    void *own; /* import: the mapping this test made */
    size_t own_size;
} tmem;

/* size bytes of allocated (memfd) or imported host memory, attached to
 * both devices. */
static tmem tmem_new(accel_instance *inst, bool imported, size_t size, accel_device *wd, accel_device *cpu)
{
    tmem t = {0};
    if (imported) {
        t.own_size = (size + 4095) / 4096 * 4096;
        t.own = mmap(NULL, t.own_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(t.own != MAP_FAILED);
        t.p = t.own;
        assert_int_equal(accel_memory_import_host(inst, t.p, size, 0, &t.m), ACCEL_SUCCESS);
    } else {
        accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = size, .numa_node = -1};
        assert_int_equal(accel_memory_alloc(inst, &mi, &t.m), ACCEL_SUCCESS);
        assert_int_equal(accel_memory_map(t.m, (void **)&t.p), ACCEL_SUCCESS);
    }
    memset(t.p, 0xA5, size);
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    assert_int_equal(accel_memory_attach(t.m, wd, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(accel_memory_attach(t.m, cpu, NULL), ACCEL_SUCCESS);
    return t;
}

static void tmem_free(tmem *t)
{
    accel_memory_free(t->m);
    if (t->own)
        munmap(t->own, t->own_size);
}

static accel_arg mem_arg(accel_memory *m, uint64_t offset, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

static accel_arg i32_arg(int32_t v)
{
    accel_arg a = {.kind = ACCEL_ARG_I32};
    a.u.i32 = v;
    return a;
}

static void run(accel_device *dev, accel_queue *q, const char *name, const accel_arg *args, uint32_t n)
{
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(dev, NULL, name, &fn), ACCEL_SUCCESS);
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = n};
    accel_fence *f = NULL;
    assert_int_equal(accel_queue_submit(q, &s, &f), ACCEL_SUCCESS);
    assert_int_equal(accel_fence_wait(&f, 1, true, 10000000000ull), ACCEL_SUCCESS);
    accel_fence_release(f);
    accel_function_destroy(fn);
}

static void pattern_data(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (i & 32) ? (uint8_t)"warpdrive "[i % 10] : (uint8_t)(seed >> 24);
    }
}

/* Every function on the warpdrive device and on the cpu device, from the
 * same source, into outputs of the same kind: equal results. */
static void compare_functions(accel_instance *inst, accel_device *wd, accel_device *cpu, accel_queue *qw,
                              accel_queue *qc, bool imported)
{
    const size_t n = 3 * 4096 + 777;
    const uint64_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    tmem src = tmem_new(inst, imported, n, wd, cpu);
    pattern_data(src.p, n, imported ? 7 : 8);
    tmem ow = tmem_new(inst, imported, bound + 64, wd, cpu);
    tmem oc = tmem_new(inst, imported, bound + 64, wd, cpu);

    accel_arg a[3] = {mem_arg(src.m, 5, n - 5), mem_arg(ow.m, 0, 4)};
    run(wd, qw, "crc32c", a, 2);
    a[1] = mem_arg(oc.m, 0, 4);
    run(cpu, qc, "crc32c", a, 2);
    assert_memory_equal(ow.p, oc.p, 4);

    a[1] = mem_arg(ow.m, 0, 32);
    run(wd, qw, "sha256", a, 2);
    a[1] = mem_arg(oc.m, 0, 32);
    run(cpu, qc, "sha256", a, 2);
    assert_memory_equal(ow.p, oc.p, 32);

    /* deflate on each device, inflate on the other: the source again */
    accel_arg d[4] = {mem_arg(src.m, 0, n), mem_arg(ow.m, 0, bound), mem_arg(ow.m, bound, 8), i32_arg(-1)};
    run(wd, qw, "zlib.deflate", d, 4);
    uint64_t zlen;
    memcpy(&zlen, ow.p + bound, 8);
    assert_true(zlen > 8 && zlen <= bound);
    tmem back = tmem_new(inst, imported, n + 8, wd, cpu);
    accel_arg i[3] = {mem_arg(ow.m, 0, zlen), mem_arg(back.m, 0, n), mem_arg(oc.m, bound, 8)};
    run(cpu, qc, "zlib.inflate", i, 3);
    assert_memory_equal(back.p, src.p, n);
    d[1] = mem_arg(oc.m, 0, bound);
    d[2] = mem_arg(oc.m, bound, 8);
    run(cpu, qc, "zlib.deflate", d, 4);
    memcpy(&zlen, oc.p + bound, 8);
    memset(back.p, 0, n);
    i[0] = mem_arg(oc.m, 0, zlen);
    i[2] = mem_arg(ow.m, bound, 8);
    run(wd, qw, "zlib.inflate", i, 3);
    assert_memory_equal(back.p, src.p, n);
    uint64_t produced;
    memcpy(&produced, ow.p + bound, 8);
    assert_int_equal(produced, n);

    /* copy and fill, into the middle of a larger output */
    memset(ow.p, 0xA5, bound);
    memset(oc.p, 0xA5, bound);
    accel_arg c[2] = {mem_arg(src.m, 100, 9000), mem_arg(ow.m, 3, 9000)};
    run(wd, qw, "accel.copy", c, 2);
    c[1] = mem_arg(oc.m, 3, 9000);
    run(cpu, qc, "accel.copy", c, 2);
    assert_memory_equal(ow.p, oc.p, 9100);
    assert_memory_equal(ow.p + 3, src.p + 100, 9000);
    accel_arg f[2] = {mem_arg(ow.m, 4001, 5003), {.kind = ACCEL_ARG_U32}};
    f[1].u.u32 = 0x8badf00d;
    run(wd, qw, "accel.fill", f, 2);
    f[0] = mem_arg(oc.m, 4001, 5003);
    run(cpu, qc, "accel.fill", f, 2);
    assert_memory_equal(ow.p, oc.p, 9100);
    assert_int_equal(ow.p[4001], 0x0d);

    tmem_free(&back);
    tmem_free(&ow);
    tmem_free(&oc);
    tmem_free(&src);
}

static uint32_t crc_on(accel_device *dev, accel_queue *q, accel_memory *in, uint64_t n, accel_memory *out)
{
    accel_arg a[2] = {mem_arg(in, 0, n), mem_arg(out, 0, 4)};
    run(dev, q, "crc32c", a, 2);
    void *p;
    assert_int_equal(accel_memory_map(out, &p), ACCEL_SUCCESS);
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void test_warpdrive_translation(void **state)
{
    (void)state;
    start_emulator_named("wd_loader-1", "zlib,crc32c,sha256,copy,fill", "0");
    accel_instance *inst = create();
    accel_device *wd = ts_device_of(inst, "warpdrive"), *cpu = ts_device_of(inst, "cpu");
    assert_non_null(wd);
    assert_non_null(cpu);
    accel_queue *qw, *qc;
    assert_int_equal(accel_queue_create(wd, 0, &qw), ACCEL_SUCCESS);
    assert_int_equal(accel_queue_create(cpu, 0, &qc), ACCEL_SUCCESS);

    compare_functions(inst, wd, cpu, qw, qc, false); /* accel_memory_alloc: a memfd */
    compare_functions(inst, wd, cpu, qw, qc, true);  /* accel_memory_import_host */

    /* Free allocated memory, then import host memory at the very same
     * address: the device sees the new bytes, not the freed ones. */
    const size_t n = 4 * 4096;
    tmem out = tmem_new(inst, false, 8, wd, cpu);
    for (int round = 0; round < 3; round++) {
        tmem a = tmem_new(inst, false, n, wd, cpu);
        pattern_data(a.p, n, 100 + round);
        uint32_t want = crc_on(cpu, qc, a.m, n, out.m);
        assert_int_equal(crc_on(wd, qw, a.m, n, out.m), want);
        uint8_t *at = a.p;
        tmem_free(&a);
#ifdef MAP_FIXED_NOREPLACE
        int fixed = MAP_FIXED_NOREPLACE;
#else
        int fixed = MAP_FIXED; /* just unmapped, and this test runs no other thread */
#endif
        uint8_t *p = mmap(at, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
        assert_true(p == at);
        pattern_data(p, n, 200 + round);
        tmem b = {.p = p, .own = p, .own_size = n};
        assert_int_equal(accel_memory_import_host(inst, p, n, 0, &b.m), ACCEL_SUCCESS);
        assert_int_equal(accel_memory_attach(b.m, wd, NULL), ACCEL_SUCCESS);
        assert_int_equal(accel_memory_attach(b.m, cpu, NULL), ACCEL_SUCCESS);
        want = crc_on(cpu, qc, b.m, n, out.m);
        assert_int_equal(crc_on(wd, qw, b.m, n, out.m), want);
        tmem_free(&b);
    }
    tmem_free(&out);
    accel_queue_destroy(qw);
    accel_queue_destroy(qc);
    accel_instance_destroy(inst);
    stop_emulator(SIGTERM);
}

/* Submit one call and wait for its fence by polling its status (what an
 * application that must not block does); returns the fence's result. */
static accel_result run_polled(accel_device *dev, accel_queue *q, const char *name, const accel_arg *args,
                               uint32_t n)
{
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(dev, NULL, name, &fn), ACCEL_SUCCESS);
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = n};
    accel_fence *f = NULL;
    accel_result r = accel_queue_submit(q, &s, &f);
    if (r == ACCEL_SUCCESS) {
        uint64_t t0 = now_ms();
        while ((r = accel_fence_status(f)) == ACCEL_NOT_READY && now_ms() - t0 < 10000)
            ;
        accel_fence_release(f);
    }
    accel_function_destroy(fn);
    return r;
}

/* zlib.deflate's level through the loader: data that does not compress
 * into exactly the documented bound at the default, stored, fastest and
 * best levels, inflated back on the device; a level outside -1..9 fails its
 * fence and breaks the queue. */
static void test_warpdrive_deflate_levels(void **state)
{
    (void)state;
    start_emulator_named("wd_loader-3", "zlib,crc32c", "0");
    accel_instance *inst = create();
    accel_device *wd = ts_device_of(inst, "warpdrive");
    assert_non_null(wd);
    accel_queue *q;
    assert_int_equal(accel_queue_create(wd, 0, &q), ACCEL_SUCCESS);
    const size_t n = 65536;
    const uint64_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    accel_memory *src, *z, *back, *sz;
    uint8_t *ps, *pz, *pb, *psz;
    accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .numa_node = -1};
    mi.size = n;
    assert_int_equal(accel_memory_alloc(inst, &mi, &src), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_alloc(inst, &mi, &back), ACCEL_SUCCESS);
    mi.size = bound;
    assert_int_equal(accel_memory_alloc(inst, &mi, &z), ACCEL_SUCCESS);
    mi.size = 8;
    assert_int_equal(accel_memory_alloc(inst, &mi, &sz), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_map(src, (void **)&ps), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_map(z, (void **)&pz), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_map(back, (void **)&pb), ACCEL_SUCCESS);
    assert_int_equal(accel_memory_map(sz, (void **)&psz), ACCEL_SUCCESS);
    accel_memory *all[] = {src, z, back, sz};
    for (int i = 0; i < 4; i++)
        assert_int_equal(accel_memory_attach(all[i], wd, NULL), ACCEL_SUCCESS);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ps[i] = (uint8_t)(x >> 24);
    }
    static const int32_t levels[] = {-1, 0, 1, 9};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
        accel_arg d[4] = {mem_arg(src, 0, n), mem_arg(z, 0, bound), mem_arg(sz, 0, 8), i32_arg(levels[l])};
        assert_int_equal(run_polled(wd, q, "zlib.deflate", d, 4), ACCEL_SUCCESS);
        uint64_t zlen;
        memcpy(&zlen, psz, 8);
        assert_true(zlen > 8 && zlen <= bound);
        memset(pb, 0, n);
        accel_arg i[3] = {mem_arg(z, 0, zlen), mem_arg(back, 0, n), mem_arg(sz, 0, 8)};
        assert_int_equal(run_polled(wd, q, "zlib.inflate", i, 3), ACCEL_SUCCESS);
        assert_memory_equal(pb, ps, n);
    }
    accel_arg bad[4] = {mem_arg(src, 0, n), mem_arg(z, 0, bound), mem_arg(sz, 0, 8), i32_arg(10)};
    assert_int_equal(run_polled(wd, q, "zlib.deflate", bad, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    bad[3] = i32_arg(6);
    assert_int_equal(run_polled(wd, q, "zlib.deflate", bad, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_queue_destroy(q);
    accel_memory_free(src);
    accel_memory_free(z);
    accel_memory_free(back);
    accel_memory_free(sz);
    accel_instance_destroy(inst);
    stop_emulator(SIGTERM);
}

/* ACCEL_WARPDRIVE_PARTITIONS=instances: one partition per free queue
 * instance, each a device whose parent is the whole uacce device, holding
 * at most one queue. */
static void test_warpdrive_partitions(void **state)
{
    (void)state;
    start_emulator_named("wd_loader-2", "zlib,crc32c,sha256", "0");
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_WARPDRIVE_PARTITIONS", "instances");
    accel_instance *inst = create();
    ts_env_pop_to(depth);
    uint32_t n;
    accel_device **devs = ts_devices(inst, &n);
    accel_device *whole = NULL, *parts[8];
    uint32_t nparts = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = ts_device_info(devs[i]);
        if (strcmp(info.driver_name, "warpdrive") != 0)
            continue;
        if (info.flags & ACCEL_DEVICE_FLAG_PARTITION) {
            assert_true(nparts < 8);
            char want[32];
            snprintf(want, sizeof(want), "instance %u", nparts);
            assert_string_equal(info.partition, want);
            assert_int_equal(info.available_instances, 1);
            parts[nparts++] = devs[i];
        } else {
            whole = devs[i];
        }
    }
    free(devs);
    assert_non_null(whole);
    assert_int_equal(nparts, 4); /* the emulator offers 4 instances */
    accel_device_info wi = ts_device_info(whole);
    for (uint32_t i = 0; i < nparts; i++) {
        accel_device_info pi = ts_device_info(parts[i]);
        assert_ptr_equal(pi.parent, whole);
        assert_string_equal(pi.device_node, wi.device_node);
        assert_memory_not_equal(pi.uuid, wi.uuid, ACCEL_UUID_SIZE);
        for (uint32_t k = 0; k < i; k++) {
            accel_device_info pk = ts_device_info(parts[k]);
            assert_memory_not_equal(pi.uuid, pk.uuid, ACCEL_UUID_SIZE);
        }
    }
    /* One queue per partition, and the driver says so; a second is refused
     * while the first is open. */
    uint32_t max_queues = 0;
    assert_int_equal(
        accel_device_query(parts[0], ACCEL_DEVICE_PARAM_MAX_QUEUES, &max_queues, sizeof(max_queues), NULL),
        ACCEL_SUCCESS);
    assert_int_equal(max_queues, 1);
    assert_int_equal(
        accel_device_query(whole, ACCEL_DEVICE_PARAM_MAX_QUEUES, &max_queues, sizeof(max_queues), NULL),
        ACCEL_ERROR_UNSUPPORTED);
    accel_queue *q = NULL, *q2 = NULL;
    assert_int_equal(accel_queue_create(parts[1], 0, &q), ACCEL_SUCCESS);
    uint32_t avail = 9;
    assert_int_equal(accel_device_query(parts[1], ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &avail, sizeof(avail),
                                        NULL), ACCEL_SUCCESS);
    assert_int_equal(avail, 0);
    assert_int_equal(accel_queue_create(parts[1], 0, &q2), ACCEL_ERROR_BUSY);
    accel_device *cpu = ts_device_of(inst, "cpu");
    accel_queue *qc = NULL;
    assert_int_equal(accel_queue_create(cpu, 0, &qc), ACCEL_SUCCESS);
    const size_t size = 3 * 4096 + 5;
    tmem out = tmem_new(inst, false, 8, parts[1], cpu);
    tmem a = tmem_new(inst, false, size, parts[1], cpu);
    pattern_data(a.p, size, 7);
    assert_int_equal(crc_on(parts[1], q, a.m, size, out.m), crc_on(cpu, qc, a.m, size, out.m));
    tmem_free(&a);
    tmem_free(&out);
    accel_queue_destroy(q);
    /* Closed: the partition's instance is free again. */
    assert_int_equal(accel_device_query(parts[1], ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &avail, sizeof(avail),
                                        NULL), ACCEL_SUCCESS);
    assert_int_equal(avail, 1);
    assert_int_equal(accel_queue_create(parts[1], 0, &q2), ACCEL_SUCCESS);
    accel_queue_destroy(q2);
    accel_queue_destroy(qc);
    accel_instance_destroy(inst);
    stop_emulator(SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warpdrive_beside_cpu),
        cmocka_unit_test(test_warpdrive_translation),
        cmocka_unit_test_setup_teardown(test_warpdrive_partitions, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_warpdrive_deflate_levels),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
