/* test_stream_functions.c — the stream forms of the standard functions
 * (docs/standard-functions.md, "Stream forms") through the loader, on
 * every device that offers them: a stream begun on one device goes on, in
 * the next chunk, on a device of another driver, its state passed as the
 * same memory object, and ends equal to the one-shot form (and to zlib and
 * OpenSSL). Which forms each in-tree driver must offer: required_forms
 * (the WarpDrive device is the emulator, started here like test_standard
 * starts it). zlib.inflate.stream's refusals on every device offering it;
 * the WarpDrive device's progress and state byte for byte the cpu's.
 * Also: pipelines may name the stream forms, with their argument
 * conventions checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define MAX_DEVICES 8

typedef struct device_ctx {
    accel_device *dev;
    accel_device_info info;
    accel_queue *q;
} device_ctx;

typedef struct fixture {
    accel_instance *inst;
    device_ctx d[MAX_DEVICES];
    uint32_t n;
} fixture;

static char wd_root[256];
static pid_t emulator;

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    ts_mkdirs(TEST_TMP_DIR);
    snprintf(wd_root, sizeof(wd_root), "%s/stream-XXXXXX", TEST_TMP_DIR);
    if (!mkdtemp(wd_root))
        return -1;
    char sysfs[300], devroot[300], sock[400];
    snprintf(sysfs, sizeof(sysfs), "%s/sys", wd_root);
    snprintf(devroot, sizeof(devroot), "%s/dev", wd_root);
    snprintf(sock, sizeof(sock), "%s/wd_stream-0", devroot);
    setenv("ACCEL_UACCE_SYSFS_ROOT", sysfs, 1);
    setenv("ACCEL_UACCE_DEV_ROOT", devroot, 1);
    const char *argv[] = {EMULATOR_PATH, "--root",      wd_root, "--name",       "wd_stream-0",
                          "--sva",       "--instances", "8",     "--algorithms", "zlib,crc32c,sha256",
                          NULL};
    emulator = ts_spawn_until_socket(argv, sock);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (emulator > 0) {
        kill(emulator, SIGKILL);
        waitpid(emulator, NULL, 0);
    }
    ts_rmtree(wd_root);
    return 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *paths[] = {BUILD_MANIFEST_DIR, NULL};
    assert_int_equal(ts_create_with_paths(&f->inst, 0, paths), ACCEL_SUCCESS);
    uint32_t n;
    accel_device **devs = ts_devices(f->inst, &n);
    for (uint32_t i = 0; i < n && f->n < MAX_DEVICES; i++) {
        device_ctx *c = &f->d[f->n];
        c->dev = devs[i];
        c->info = ts_device_info(devs[i]);
        if (accel_queue_create(c->dev, 0, &c->q) != ACCEL_SUCCESS) {
            print_message("skipping %s: %s\n", c->info.name, accel_last_error_message());
            continue;
        }
        f->n++;
    }
    free(devs);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (uint32_t i = 0; i < f->n; i++)
        accel_queue_destroy(f->d[i].q);
    accel_instance_destroy(f->inst);
    free(f);
    return 0;
}

static bool is_driver(const device_ctx *c, const char *driver)
{
    return strcmp(c->info.driver_name, driver) == 0;
}

/* The stream forms each in-tree driver must offer: one line per driver
 * and function. A driver not listed may offer them or not. */
static const struct {
    const char *driver, *function;
} required_forms[] = {
    {"cpu", "crc32c.stream"},
    {"cpu", "sha256.stream"},
    {"cpu", "zlib.deflate.stream"},
    {"cpu", "zlib.inflate.stream"},
    {"opencl", "crc32c.stream"},
    {"opencl", "sha256.stream"},
    {"opencl", "zlib.deflate.stream"},
    {"opencl", "zlib.inflate.stream"},
    {"vulkan", "crc32c.stream"},
    {"vulkan", "sha256.stream"},
    {"vulkan", "zlib.deflate.stream"},
    {"vulkan", "zlib.inflate.stream"},
    {"warpdrive", "crc32c.stream"},
    {"warpdrive", "sha256.stream"},
    {"warpdrive", "zlib.deflate.stream"},
    {"warpdrive", "zlib.inflate.stream"},
};

/* Does the device offer the function? It must where required_forms says so. */
static bool offers(const device_ctx *c, const char *name)
{
    accel_function *fn = NULL;
    accel_result r = accel_function_get(c->dev, NULL, name, &fn);
    bool required = false;
    for (size_t i = 0; i < sizeof(required_forms) / sizeof(required_forms[0]); i++)
        if (is_driver(c, required_forms[i].driver) && strcmp(name, required_forms[i].function) == 0)
            required = true;
    if (r == ACCEL_ERROR_NOT_FOUND && !required)
        return false;
    if (r)
        fail_msg("%s on %s (driver %s): %s", name, c->info.name, c->info.driver_name,
                 accel_last_error_message());
    accel_function_destroy(fn);
    return true;
}

/* The devices that offer name, into idx; their count. */
static uint32_t offering(fixture *f, const char *name, uint32_t *idx)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < f->n; i++)
        if (offers(&f->d[i], name))
            idx[k++] = i;
    return k;
}

static accel_memory *mem(fixture *f, uint64_t size)
{
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = size ? size : 1, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(f->inst, &info, &m), ACCEL_SUCCESS);
    for (uint32_t i = 0; i < f->n; i++)
        assert_int_equal(accel_memory_attach(m, f->d[i].dev, NULL), ACCEL_SUCCESS);
    return m;
}

static unsigned char *host(accel_memory *m)
{
    void *p;
    accel_memory_map(m, &p);
    return p;
}

static accel_arg marg(accel_memory *m, uint64_t offset, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

static accel_arg u32arg(uint32_t v)
{
    return (accel_arg){.kind = ACCEL_ARG_U32, .u.u32 = v};
}

static accel_arg i32arg(int32_t v)
{
    return (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = v};
}

/* Runs a built-in; the fence's result. A failure replaces the queue it
 * broke. */
static accel_result run(device_ctx *c, const char *name, const accel_arg *args, uint32_t argc)
{
    accel_function *fn = NULL;
    accel_result r = accel_function_get(c->dev, NULL, name, &fn);
    if (r)
        fail_msg("%s on %s: %s", name, c->info.name, accel_last_error_message());
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = argc};
    accel_fence *fence = NULL;
    r = accel_queue_submit(c->q, &s, &fence);
    if (r == ACCEL_SUCCESS) {
        r = accel_fence_wait(&fence, 1, true, UINT64_MAX);
        accel_fence_release(fence);
    }
    accel_function_destroy(fn);
    if (r != ACCEL_SUCCESS) {
        accel_queue_destroy(c->q);
        c->q = NULL;
        assert_int_equal(accel_queue_create(c->dev, 0, &c->q), ACCEL_SUCCESS);
    }
    return r;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t crc32c_ref(const unsigned char *p, uint64_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

static void fill_input(unsigned char *p, uint64_t n)
{
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (x >> 28) < 3 ? (unsigned char)(x >> 16) : (unsigned char)("accelerator "[i % 12]);
    }
}

/* Chunk boundaries: sizes that do not divide the input, one chunk that
 * crosses the 64 KiB segments of the devices' parallel loops, and some
 * empty chunks. */
static const uint64_t chunk_sizes[] = {1, 63, 1000, 70001, 0};
#define INPUT_SIZE (300000u)

/* The chunks of n bytes at `chunk` (0: empty chunks between 5000-byte
 * ones), each on the next device of idx in turn, starting at `first`. */
typedef void (*chunk_fn)(fixture *f, device_ctx *c, uint64_t off, uint64_t len, bool last, void *ctx);

static void in_chunks(fixture *f, const uint32_t *idx, uint32_t count, uint32_t first, uint64_t n,
                      uint64_t chunk, chunk_fn fn, void *ctx)
{
    uint64_t off = 0;
    uint32_t turn = first;
    do {
        uint64_t len = chunk ? chunk : (turn % 2 ? 0 : 5000);
        if (len > n - off)
            len = n - off;
        bool last = off + len == n;
        fn(f, &f->d[idx[turn % count]], off, len, last, ctx);
        off += len;
        turn++;
    } while (off < n);
}

/* ---- crc32c.stream ------------------------------------------------------ */

typedef struct crc_ctx {
    accel_memory *in, *st;
} crc_ctx;

static void crc_chunk(fixture *f, device_ctx *c, uint64_t off, uint64_t len, bool last, void *p)
{
    (void)f;
    (void)last;
    crc_ctx *x = p;
    accel_arg a[] = {marg(x->in, off, len), marg(x->st, 0, 4)};
    if (run(c, "crc32c.stream", a, 2) != ACCEL_SUCCESS)
        fail_msg("crc32c.stream on %s at %llu: %s", c->info.name, (unsigned long long)off,
                 accel_last_error_message());
}

static void test_stream_crc32c_across_devices(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering(f, "crc32c.stream", idx);
    assert_true(count >= 1);
    for (uint32_t i = 0; i < count; i++)
        print_message("crc32c.stream on %s (%s)\n", f->d[idx[i]].info.name, f->d[idx[i]].info.driver_name);
    crc_ctx x = {mem(f, INPUT_SIZE), mem(f, 4)};
    fill_input(host(x.in), INPUT_SIZE);
    uint32_t want = crc32c_ref(host(x.in), INPUT_SIZE);
    /* The one-shot form on the first device. */
    accel_memory *res = mem(f, 4);
    accel_arg one[] = {marg(x.in, 0, INPUT_SIZE), marg(res, 0, 4)};
    assert_int_equal(run(&f->d[idx[0]], "crc32c", one, 2), ACCEL_SUCCESS);
    assert_int_equal(le32(host(res)), want);
    for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
        uint64_t n = chunk_sizes[k] == 1 ? 2000 : INPUT_SIZE;
        uint32_t want_n = n == INPUT_SIZE ? want : crc32c_ref(host(x.in), n);
        for (uint32_t first = 0; first < count; first++) {
            memset(host(x.st), 0, 4);
            in_chunks(f, idx, count, first, n, chunk_sizes[k], crc_chunk, &x);
            if (le32(host(x.st)) != want_n)
                fail_msg("crc32c.stream over %llu bytes in chunks of %llu from %s: %08x, expected %08x",
                         (unsigned long long)n, (unsigned long long)chunk_sizes[k],
                         f->d[idx[first]].info.name, le32(host(x.st)), want_n);
        }
    }
    accel_memory_free(res);
    accel_memory_free(x.st);
    accel_memory_free(x.in);
}

/* ---- sha256.stream ------------------------------------------------------- */

typedef struct sha_ctx {
    accel_memory *in, *st, *res;
} sha_ctx;

static void sha_chunk(fixture *f, device_ctx *c, uint64_t off, uint64_t len, bool last, void *p)
{
    (void)f;
    sha_ctx *x = p;
    accel_arg a[] = {marg(x->in, off, len), marg(x->st, 0, 112), marg(x->res, 0, last ? 32 : 0),
                     u32arg(last)};
    if (run(c, "sha256.stream", a, 4) != ACCEL_SUCCESS)
        fail_msg("sha256.stream on %s at %llu: %s", c->info.name, (unsigned long long)off,
                 accel_last_error_message());
}

static void test_stream_sha256_across_devices(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering(f, "sha256.stream", idx);
    assert_true(count >= 1);
    for (uint32_t i = 0; i < count; i++)
        print_message("sha256.stream on %s (%s)\n", f->d[idx[i]].info.name, f->d[idx[i]].info.driver_name);
    sha_ctx x = {mem(f, INPUT_SIZE), mem(f, 112), mem(f, 32)};
    fill_input(host(x.in), INPUT_SIZE);
    unsigned char want[32];
    SHA256(host(x.in), INPUT_SIZE, want);
    accel_arg one[] = {marg(x.in, 0, INPUT_SIZE), marg(x.res, 0, 32)};
    assert_int_equal(run(&f->d[idx[0]], "sha256", one, 2), ACCEL_SUCCESS);
    assert_memory_equal(host(x.res), want, 32);
    for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
        uint64_t n = chunk_sizes[k] == 1 ? 300 : INPUT_SIZE;
        unsigned char want_n[32];
        SHA256(host(x.in), n, want_n);
        for (uint32_t first = 0; first < count; first++) {
            memset(host(x.st), 0, 112);
            memset(host(x.res), 0, 32);
            in_chunks(f, idx, count, first, n, chunk_sizes[k], sha_chunk, &x);
            if (memcmp(host(x.res), want_n, 32) != 0)
                fail_msg("sha256.stream over %llu bytes in chunks of %llu from %s: wrong digest",
                         (unsigned long long)n, (unsigned long long)chunk_sizes[k],
                         f->d[idx[first]].info.name);
            for (int i = 0; i < 112; i++)
                assert_int_equal(host(x.st)[i], 0);
        }
    }
    /* A state no sha256.stream wrote fails on every device. */
    for (uint32_t i = 0; i < count; i++) {
        memset(host(x.st), 0, 112);
        host(x.st)[104] = 7;
        accel_arg a[] = {marg(x.in, 0, 100), marg(x.st, 0, 112), marg(x.res, 0, 32), u32arg(0)};
        assert_int_equal(run(&f->d[idx[i]], "sha256.stream", a, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    }
    accel_memory_free(x.res);
    accel_memory_free(x.st);
    accel_memory_free(x.in);
}

/* ---- zlib.deflate.stream and zlib.inflate.stream -------------------------- */

typedef struct deflate_ctx {
    accel_memory *in, *dst, *size, *st;
    unsigned char *z;
    uint64_t zlen;
    int level;
} deflate_ctx;

static uint64_t bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 16;
}

static void deflate_chunk(fixture *f, device_ctx *c, uint64_t off, uint64_t len, bool last, void *p)
{
    (void)f;
    deflate_ctx *x = p;
    accel_arg a[] = {marg(x->in, off, len), marg(x->dst, 0, bound(len)), marg(x->size, 0, 8),
                     i32arg(x->level),      marg(x->st, 0, 32800),       u32arg(last)};
    if (run(c, "zlib.deflate.stream", a, 6) != ACCEL_SUCCESS)
        fail_msg("zlib.deflate.stream on %s at %llu: %s", c->info.name, (unsigned long long)off,
                 accel_last_error_message());
    uint64_t piece = le64(host(x->size));
    assert_true(piece <= bound(len));
    memcpy(x->z + x->zlen, host(x->dst), piece);
    x->zlen += piece;
}

typedef struct inflate_ctx {
    accel_memory *z, *out, *prog, *st;
    uint64_t written, room, n;
    int status;
} inflate_ctx;

/* One chunk of the compressed stream, called again while dst is full. */
static void inflate_chunk(fixture *f, device_ctx *c, uint64_t off, uint64_t len, bool last, void *p)
{
    (void)f;
    (void)last;
    inflate_ctx *x = p;
    for (;;) {
        uint64_t room = x->n - x->written < x->room ? x->n - x->written : x->room;
        accel_arg a[] = {marg(x->z, off, len), marg(x->out, x->written, room), marg(x->prog, 0, 24),
                         marg(x->st, 0, 33984)};
        if (run(c, "zlib.inflate.stream", a, 4) != ACCEL_SUCCESS)
            fail_msg("zlib.inflate.stream on %s at %llu: %s", c->info.name, (unsigned long long)off,
                     accel_last_error_message());
        const unsigned char *pr = host(x->prog);
        uint64_t used = le64(pr);
        x->written += le64(pr + 8);
        x->status = (int)le32(pr + 16);
        off += used;
        len -= used;
        if (x->status != 2)
            break;
        x->room = x->room * 2 + 1; /* more room, on whatever device comes next */
    }
}

static void test_stream_zlib_across_devices(void **state)
{
    fixture *f = *state;
    uint32_t didx[MAX_DEVICES], dcount = offering(f, "zlib.deflate.stream", didx);
    uint32_t iidx[MAX_DEVICES], icount = offering(f, "zlib.inflate.stream", iidx);
    assert_true(dcount >= 1 && icount >= 1);
    for (uint32_t i = 0; i < dcount; i++)
        print_message("zlib.deflate.stream on %s (%s)\n", f->d[didx[i]].info.name,
                      f->d[didx[i]].info.driver_name);
    for (uint32_t i = 0; i < icount; i++)
        print_message("zlib.inflate.stream on %s (%s)\n", f->d[iidx[i]].info.name,
                      f->d[iidx[i]].info.driver_name);
    deflate_ctx x = {
        .in = mem(f, INPUT_SIZE), .dst = mem(f, bound(INPUT_SIZE)), .size = mem(f, 8), .st = mem(f, 32800)};
    fill_input(host(x.in), INPUT_SIZE);
    x.z = malloc(2 * INPUT_SIZE);
    static const int levels[] = {0, 1, 6, 9};
    static const uint64_t dchunks[] = {70001, 4096, 0};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++)
        for (size_t k = 0; k < sizeof(dchunks) / sizeof(dchunks[0]); k++)
            for (uint32_t first = 0; first < dcount; first++) {
                x.level = levels[l];
                x.zlen = 0;
                memset(host(x.st), 0, 32800);
                in_chunks(f, didx, dcount, first, INPUT_SIZE, dchunks[k], deflate_chunk, &x);
                /* zlib takes the pieces as one stream. */
                uLongf n = INPUT_SIZE;
                unsigned char *back = malloc(INPUT_SIZE);
                assert_int_equal(uncompress(back, &n, x.z, (uLong)x.zlen), Z_OK);
                assert_int_equal(n, INPUT_SIZE);
                assert_memory_equal(back, host(x.in), INPUT_SIZE);
                free(back);
                /* The stream form, on the inflating devices in turn, with small dst. */
                inflate_ctx y = {
                    .z = mem(f, x.zlen), .out = mem(f, INPUT_SIZE), .prog = mem(f, 24), .st = mem(f, 33984)};
                memcpy(host(y.z), x.z, x.zlen);
                y.room = 777;
                y.n = INPUT_SIZE;
                in_chunks(f, iidx, icount, first, x.zlen, 3001, inflate_chunk, &y);
                assert_int_equal(y.status, 1);
                assert_int_equal(y.written, INPUT_SIZE);
                assert_memory_equal(host(y.out), host(x.in), INPUT_SIZE);
                /* And the one-shot form. */
                accel_arg a[] = {marg(y.z, 0, x.zlen), marg(y.out, 0, INPUT_SIZE), marg(y.prog, 0, 8)};
                memset(host(y.out), 0, INPUT_SIZE);
                assert_int_equal(run(&f->d[iidx[0]], "zlib.inflate", a, 3), ACCEL_SUCCESS);
                assert_int_equal(le64(host(y.prog)), INPUT_SIZE);
                assert_memory_equal(host(y.out), host(x.in), INPUT_SIZE);
                accel_memory_free(y.st);
                accel_memory_free(y.prog);
                accel_memory_free(y.out);
                accel_memory_free(y.z);
            }
    free(x.z);
    accel_memory_free(x.st);
    accel_memory_free(x.size);
    accel_memory_free(x.dst);
    accel_memory_free(x.in);
}

/* Failures of zlib.deflate.stream on every device that offers it: an
 * out_size under 8 bytes, a level outside -1..9, a dst too small for
 * incompressible input; the state stays as it was. */
static void test_stream_deflate_failures(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering(f, "zlib.deflate.stream", idx);
    accel_memory *in = mem(f, 5000), *dst = mem(f, bound(5000)), *size = mem(f, 8), *st = mem(f, 32800);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        host(in)[i] = (unsigned char)x;
    }
    for (uint32_t i = 0; i < count; i++) {
        device_ctx *c = &f->d[idx[i]];
        memset(host(st), 0, 32800);
        accel_arg first[] = {marg(in, 0, 1000), marg(dst, 0, bound(1000)), marg(size, 0, 8),
                             i32arg(6),         marg(st, 0, 32800),        u32arg(0)};
        assert_int_equal(run(c, "zlib.deflate.stream", first, 6), ACCEL_SUCCESS);
        unsigned char *before = malloc(32800);
        memcpy(before, host(st), 32800);
        struct {
            uint64_t dst_size, size_size;
            int32_t level;
        } bad[] = {{bound(4000), 7, 6}, {bound(4000), 8, 10}, {bound(4000), 8, -2}, {3000, 8, 6}};
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            accel_arg a[] = {marg(in, 1000, 4000),
                             marg(dst, 0, bad[k].dst_size),
                             marg(size, 0, bad[k].size_size),
                             i32arg(bad[k].level),
                             marg(st, 0, 32800),
                             u32arg(0)};
            accel_result r = run(c, "zlib.deflate.stream", a, 6);
            if (r != ACCEL_ERROR_INVALID_ARGUMENT)
                fail_msg("zlib.deflate.stream case %zu on %s: %s, expected ACCEL_ERROR_INVALID_ARGUMENT", k,
                         c->info.name, accel_result_string(r));
            if (memcmp(host(st), before, 32800) != 0)
                fail_msg("zlib.deflate.stream case %zu on %s changed the state of a failed call", k,
                         c->info.name);
        }
        free(before);
    }
    accel_memory_free(st);
    accel_memory_free(size);
    accel_memory_free(dst);
    accel_memory_free(in);
}

/* ---- pipelines ------------------------------------------------------------- */

static void test_stream_pipeline_names(void **state)
{
    (void)state;
    static const char ok[] =
        "{\"pipeline_version\": 1, \"buffers\": {\"in\": {\"bytes\": 4096, \"zero\": true}, \"crc\": "
        "{\"bytes\": 4},"
        " \"sha\": {\"bytes\": 112}, \"digest\": {\"bytes\": 32}, \"z\": {\"bytes\": 4200},"
        " \"zn\": {\"bytes\": 8}, \"zs\": {\"bytes\": 32800}, \"out\": {\"bytes\": 4096},"
        " \"prog\": {\"bytes\": 24}, \"is\": {\"bytes\": 33984}},"
        " \"stages\": ["
        "{\"name\": \"c\", \"function\": \"crc32c.stream\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": "
        "\"crc\"}]},"
        "{\"name\": \"s\", \"function\": \"sha256.stream\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": "
        "\"sha\"},"
        " {\"buffer\": \"digest\"}, {\"u32\": 1}]},"
        "{\"name\": \"d\", \"function\": \"zlib.deflate.stream\", \"args\": [{\"buffer\": \"in\"}, "
        "{\"buffer\": "
        "\"z\"}, {\"buffer\": \"zn\"}, {\"i32\": 6}, {\"buffer\": \"zs\"}, {\"u32\": 1}]},"
        "{\"name\": \"i\", \"function\": \"zlib.inflate.stream\", \"args\": [{\"buffer\": \"z\"}, "
        "{\"buffer\": "
        "\"out\"}, {\"buffer\": \"prog\"}, {\"buffer\": \"is\"}]}]}";
    accel_pipeline *p = NULL;
    accel_result r = accel_pipeline_parse(ok, sizeof(ok) - 1, "streams.json", &p);
    if (r != ACCEL_SUCCESS)
        fail_msg("%s", accel_last_error_message());
    accel_pipeline_destroy(p);

    static const struct {
        const char *stages, *message;
    } bad[] = {
        {"{\"name\": \"d\", \"function\": \"zlib.deflate.stream\", \"args\": [{\"buffer\": \"in\"}, "
         "{\"buffer\": "
         "\"z\"}, {\"buffer\": \"zn\"}, {\"i32\": 6}]}",
         "zlib.deflate.stream takes 6 arguments (src, dst, out_size, level, state, final), not 4"},
        {"{\"name\": \"d\", \"function\": \"zlib.deflate.stream\", \"args\": [{\"buffer\": \"in\"}, "
         "{\"buffer\": "
         "\"z\"}, {\"buffer\": \"zn\"}, {\"i32\": 10}, {\"buffer\": \"zs\"}, {\"u32\": 0}]}",
         "zlib.deflate.stream's level must be -1 (the default, 6) or 0 to 9, not 10"},
        {"{\"name\": \"i\", \"function\": \"zlib.inflate.stream\", \"args\": [{\"buffer\": \"z\"}, "
         "{\"buffer\": "
         "\"out\"}, {\"buffer\": \"prog\"}, {\"buffer\": \"small\"}]}",
         "zlib.inflate.stream writes 33984 bytes to state, but buffer \"small\" has 100"},
        {"{\"name\": \"s\", \"function\": \"sha256.stream\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": "
         "\"zs\"}, {\"buffer\": \"digest\"}, {\"buffer\": \"zn\"}]}",
         "sha256.stream's argument final must be {\"u32\": N}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *json =
            ts_printf("{\"pipeline_version\": 1, \"buffers\": {\"in\": {\"bytes\": 4096, \"zero\": true}, "
                      "\"z\": {\"bytes\": "
                      "4200}, \"zn\": {\"bytes\": 8}, \"zs\": {\"bytes\": 32800}, \"out\": {\"bytes\": 4096},"
                      " \"prog\": {\"bytes\": 24}, \"small\": {\"bytes\": 100}, \"digest\": {\"bytes\": 32}},"
                      " \"stages\": [%s]}",
                      bad[i].stages);
        p = NULL;
        assert_int_equal(accel_pipeline_parse(json, strlen(json), "bad.json", &p),
                         ACCEL_ERROR_INVALID_ARGUMENT);
        const char *msg = accel_last_error_message();
        if (!strstr(msg, bad[i].message))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, msg, bad[i].message);
        free(json);
    }
}

/* ---- zlib.inflate.stream on the WarpDrive device ---------------------------- */

/* The warpdrive driver returns the progress through the completion entry
 * and checks the arguments the device cannot see; the same calls must
 * give the same bytes there as on the cpu device, and the same refusals,
 * named in the log with the function and the argument. */

static ts_log wd_log;

static int setup_logged(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    const char *paths[] = {BUILD_MANIFEST_DIR, NULL};
    ts_log_init(&wd_log);
    accel_instance_options o = {
        .struct_size = sizeof(o),
        .manifest_paths = paths,
        .manifest_path_count = 1,
        .log_callback = ts_log_callback,
        .log_user_data = &wd_log,
        .log_mask = ACCEL_LOG_ALL,
    };
    assert_int_equal(accel_instance_create(&o, &f->inst), ACCEL_SUCCESS);
    uint32_t n;
    accel_device **devs = ts_devices(f->inst, &n);
    for (uint32_t i = 0; i < n && f->n < MAX_DEVICES; i++) {
        device_ctx *c = &f->d[f->n];
        c->dev = devs[i];
        c->info = ts_device_info(devs[i]);
        if (accel_queue_create(c->dev, 0, &c->q) == 0)
            f->n++;
    }
    free(devs);
    *state = f;
    return 0;
}

static int teardown_logged(void **state)
{
    teardown(state);
    ts_log_free(&wd_log);
    return 0;
}

static device_ctx *device_of(fixture *f, const char *driver)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (is_driver(&f->d[i], driver))
            return &f->d[i];
    fail_msg("no %s device", driver);
    return NULL;
}

/* The same chunks and rooms on the cpu and the WarpDrive device, each call
 * on both: progress and state must be the same bytes after every call. */
static void test_stream_inflate_warpdrive_same_bytes(void **state)
{
    fixture *f = *state;
    device_ctx *dev[2] = {device_of(f, "cpu"), device_of(f, "warpdrive")};
    const uint64_t n = 200000;
    unsigned char *plain = malloc(n);
    fill_input(plain, n);
    uLongf zlen = compressBound((uLong)n);
    accel_memory *z = mem(f, zlen), *out[2], *prog[2], *st[2];
    assert_int_equal(compress2(host(z), &zlen, plain, (uLong)n, 6), Z_OK);
    for (int d = 0; d < 2; d++) {
        out[d] = mem(f, n);
        prog[d] = mem(f, 24);
        st[d] = mem(f, 33984);
        memset(host(st[d]), 0, 33984);
    }
    static const uint64_t chunks[] = {1, 7, 290, 3001, 40000}, rooms[] = {1, 100, 5000, 70000};
    uint64_t in = 0, wrote = 0, status = 0;
    for (unsigned k = 0; status != 1; k++) {
        assert_true(k < 100000);
        uint64_t len = chunks[k % 5] < zlen - in ? chunks[k % 5] : zlen - in;
        uint64_t room = rooms[k % 4] < n - wrote ? rooms[k % 4] : n - wrote;
        for (int d = 0; d < 2; d++) {
            accel_arg a[] = {marg(z, in, len), marg(out[d], wrote, room), marg(prog[d], 0, 24),
                             marg(st[d], 0, 33984)};
            if (run(dev[d], "zlib.inflate.stream", a, 4) != ACCEL_SUCCESS)
                fail_msg("zlib.inflate.stream on %s, call %u: %s", dev[d]->info.name, k,
                         accel_last_error_message());
        }
        if (memcmp(host(prog[0]), host(prog[1]), 24) != 0 || memcmp(host(st[0]), host(st[1]), 33984) != 0)
            fail_msg(
                "call %u (%llu bytes at %llu, room %llu): the progress or state differs between %s and %s", k,
                (unsigned long long)len, (unsigned long long)in, (unsigned long long)room, dev[0]->info.name,
                dev[1]->info.name);
        in += le64(host(prog[0]));
        wrote += le64(host(prog[0]) + 8);
        status = le32(host(prog[0]) + 16);
        assert_int_equal(le32(host(prog[0]) + 20), 0);
    }
    assert_int_equal(in, zlen);
    assert_int_equal(wrote, n);
    assert_memory_equal(host(out[0]), plain, n);
    assert_memory_equal(host(out[1]), plain, n);
    for (int d = 0; d < 2; d++) {
        accel_memory_free(st[d]);
        accel_memory_free(prog[d]);
        accel_memory_free(out[d]);
    }
    accel_memory_free(z);
    free(plain);
}

/* Refusals: each fails the call with ACCEL_ERROR_INVALID_ARGUMENT on every
 * device that offers zlib.inflate.stream, and the WarpDrive driver's log
 * names the function and argument. */
static void test_stream_inflate_refusals(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering(f, "zlib.inflate.stream", idx);
    assert_true(count >= 2);
    /* One object holding a valid stream, room, progress and state, so that
     * the cases can make the state overlap the others. */
    enum { Z = 0, OUT = 4096, PROG = 8192, ST = 8192 + 64, END = ST + 33984 + 64 };
    accel_memory *m = mem(f, END);
    uLongf zlen = 4096;
    unsigned char text[3000];
    fill_input(text, sizeof(text));
    assert_int_equal(compress2(host(m) + Z, &zlen, text, sizeof(text), 6), Z_OK);
    static const unsigned char corrupt[] = {0x78, 0x9c, 0xff, 0xff, 0xff, 0xff}; /* block type 3 */
    static const struct {
        const char *what;
        uint64_t src, src_size, dst, dst_size, prog, prog_size, st, st_size;
        int corrupt, bad_state;
        const char *logged;
    } cases[] = {
        {"progress of 23 bytes", Z, 100, OUT, 4096, PROG, 23, ST, 33984, 0, 0,
         "argument progress has 23 bytes"},
        {"state of 33983 bytes", Z, 100, OUT, 4096, PROG, 24, ST, 33983, 0, 0,
         "argument state has 33983 bytes"},
        {"state overlapping src", ST + 33000, 100, OUT, 4096, PROG, 24, ST, 33984, 0, 0,
         "argument state overlaps argument src"},
        {"state overlapping dst", Z, 100, ST + 33983, 1, PROG, 24, ST, 33984, 0, 0,
         "argument state overlaps argument dst"},
        {"state overlapping progress", Z, 100, OUT, 4096, ST - 23, 24, ST, 33984, 0, 0,
         "argument state overlaps argument progress"},
        {"a corrupt stream", Z, sizeof(corrupt), OUT, 4096, PROG, 24, ST, 33984, 1, 0,
         "argument src is not a valid zlib stream"},
        {"a state no device wrote", Z, 100, OUT, 4096, PROG, 24, ST, 33984, 0, 1,
         "argument state is not a zlib.inflate.stream state"},
        {"src overlapping dst", Z, 100, Z + 99, 4096, PROG, 24, ST, 33984, 0, 0,
         "argument src overlaps argument dst"},
        {"progress overlapping src", Z, 100, OUT, 4096, Z + 10, 24, ST, 33984, 0, 0,
         "argument src overlaps argument progress"},
        {"progress overlapping dst", Z, 100, OUT, 4096, OUT + 4095, 24, ST, 33984, 0, 0,
         "argument dst overlaps argument progress"},
    };
    unsigned char *saved = malloc(zlen);
    memcpy(saved, host(m) + Z, zlen);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (uint32_t d = 0; d < count; d++) {
            device_ctx *dev = &f->d[idx[d]];
            memset(host(m) + PROG, 0, END - PROG);
            memcpy(host(m) + Z, saved, zlen);
            if (cases[i].corrupt)
                memcpy(host(m) + Z, corrupt, sizeof(corrupt));
            if (cases[i].bad_state)
                host(m)[ST] = 9; /* phase 9 */
            size_t logged = ts_log_count(&wd_log, "zlib.inflate.stream", cases[i].logged, NULL);
            accel_arg a[] = {
                marg(m, cases[i].src, cases[i].src_size), marg(m, cases[i].dst, cases[i].dst_size),
                marg(m, cases[i].prog, cases[i].prog_size), marg(m, cases[i].st, cases[i].st_size)};
            accel_result r = run(dev, "zlib.inflate.stream", a, 4);
            if (r != ACCEL_ERROR_INVALID_ARGUMENT)
                fail_msg("zlib.inflate.stream with %s on %s: %s, expected ACCEL_ERROR_INVALID_ARGUMENT",
                         cases[i].what, dev->info.name, accel_result_string(r));
            if (is_driver(dev, "warpdrive") &&
                ts_log_count(&wd_log, "zlib.inflate.stream", cases[i].logged, NULL) != logged + 1)
                fail_msg("zlib.inflate.stream with %s on %s: no log line saying \"%s\"", cases[i].what,
                         dev->info.name, cases[i].logged);
        }
    }
    /* And the valid call, on the queues the failures replaced. */
    for (uint32_t k = 0; k < count; k++) {
        device_ctx *dev = &f->d[idx[k]];
        memset(host(m) + PROG, 0, END - PROG);
        memcpy(host(m) + Z, saved, zlen);
        accel_arg a[] = {marg(m, Z, zlen), marg(m, OUT, 4096), marg(m, PROG, 24), marg(m, ST, 33984)};
        assert_int_equal(run(dev, "zlib.inflate.stream", a, 4), ACCEL_SUCCESS);
        assert_int_equal(le64(host(m) + PROG), zlen);
        assert_int_equal(le64(host(m) + PROG + 8), sizeof(text));
        assert_int_equal(le32(host(m) + PROG + 16), 1);
        assert_memory_equal(host(m) + OUT, text, sizeof(text));
    }
    free(saved);
    accel_memory_free(m);
}

/* Every device offering a stream form refuses a state that overlaps src,
 * the WarpDrive driver with the function and the arguments in its log. */
static void test_stream_state_overlap(void **state)
{
    fixture *f = *state;
    accel_memory *m = mem(f, 70000), *out = mem(f, 8192), *small = mem(f, 64);
    memset(host(m), 0, 70000);
    accel_arg crc[] = {marg(m, 0, 100), marg(m, 96, 4)};
    accel_arg sha[] = {marg(m, 0, 100), marg(m, 50, 112), marg(small, 0, 32), u32arg(1)};
    accel_arg def[] = {marg(m, 0, 100), marg(out, 0, 8192), marg(small, 0, 8),
                       i32arg(6),       marg(m, 99, 32800), u32arg(1)};
    static const char *const names[] = {"crc32c.stream", "sha256.stream", "zlib.deflate.stream"};
    const accel_arg *args[] = {crc, sha, def};
    const uint32_t counts[] = {2, 4, 6};
    for (int k = 0; k < 3; k++) {
        uint32_t idx[MAX_DEVICES], count = offering(f, names[k], idx);
        assert_true(count >= 2);
        for (uint32_t d = 0; d < count; d++) {
            device_ctx *dev = &f->d[idx[d]];
            size_t logged = ts_log_count(&wd_log, names[k], "argument state overlaps argument src", NULL);
            accel_result r = run(dev, names[k], args[k], counts[k]);
            if (r != ACCEL_ERROR_INVALID_ARGUMENT)
                fail_msg("%s with the state overlapping src on %s: %s, expected ACCEL_ERROR_INVALID_ARGUMENT",
                         names[k], dev->info.name, accel_result_string(r));
            if (is_driver(dev, "warpdrive") &&
                ts_log_count(&wd_log, names[k], "argument state overlaps argument src", NULL) != logged + 1)
                fail_msg("%s on %s: no log line naming the state and src", names[k], dev->info.name);
        }
    }
    accel_memory_free(small);
    accel_memory_free(out);
    accel_memory_free(m);
}

/* And src overlapping an argument the call writes (docs/standard-functions.md),
 * the WarpDrive driver logging both arguments. */
static void test_stream_src_overlap(void **state)
{
    fixture *f = *state;
    accel_memory *m = mem(f, 20000), *st = mem(f, 32800);
    memset(host(m), 0, 20000);
    memset(host(st), 0, 32800);
    accel_arg sha[] = {marg(m, 0, 100), marg(st, 0, 112), marg(m, 90, 32), u32arg(1)};
    accel_arg def_dst[] = {marg(m, 0, 100), marg(m, 50, 8192),  marg(m, 10000, 8),
                           i32arg(6),       marg(st, 0, 32800), u32arg(1)};
    accel_arg def_size[] = {marg(m, 0, 100), marg(m, 200, 8192), marg(m, 92, 8),
                            i32arg(6),       marg(st, 0, 32800), u32arg(1)};
    static const struct {
        const char *function, *logged;
        uint32_t count;
    } cases[] = {
        {"sha256.stream", "argument src overlaps argument result", 4},
        {"zlib.deflate.stream", "argument src overlaps argument dst", 6},
        {"zlib.deflate.stream", "argument src overlaps argument out_size", 6},
    };
    const accel_arg *args[] = {sha, def_dst, def_size};
    for (int k = 0; k < 3; k++) {
        uint32_t idx[MAX_DEVICES], count = offering(f, cases[k].function, idx);
        assert_true(count >= 2);
        for (uint32_t d = 0; d < count; d++) {
            device_ctx *c = &f->d[idx[d]];
            size_t logged = ts_log_count(&wd_log, cases[k].function, cases[k].logged, NULL);
            accel_result r = run(c, cases[k].function, args[k], cases[k].count);
            if (r != ACCEL_ERROR_INVALID_ARGUMENT)
                fail_msg("%s (%s) on %s: %s, expected ACCEL_ERROR_INVALID_ARGUMENT", cases[k].function,
                         cases[k].logged, c->info.name, accel_result_string(r));
            if (is_driver(c, "warpdrive") &&
                ts_log_count(&wd_log, cases[k].function, cases[k].logged, NULL) != logged + 1)
                fail_msg("%s on %s: no log line saying \"%s\"", cases[k].function, c->info.name,
                         cases[k].logged);
        }
    }
    accel_memory_free(st);
    accel_memory_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_crc32c_across_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_sha256_across_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_zlib_across_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_deflate_failures, setup, teardown),
        cmocka_unit_test(test_stream_pipeline_names),
        cmocka_unit_test_setup_teardown(test_stream_inflate_warpdrive_same_bytes, setup_logged,
                                        teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_inflate_refusals, setup_logged,
                                        teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_state_overlap, setup_logged, teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_src_overlap, setup_logged, teardown_logged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
