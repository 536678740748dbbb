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

#include "all_devices.h"
#include "support.h"

#define MAX_DEVICES AD_MAX_DEVICES
typedef ad_set fixture;
typedef ad_device device_ctx;

static int group_setup(void **state)
{
    (void)state;
    return ad_emulator_start(EMULATOR_PATH, "wd_stream-0");
}

static int group_teardown(void **state)
{
    (void)state;
    ad_emulator_stop();
    return 0;
}

static int setup(void **state)
{
    *state = ad_set_create(NULL, NULL);
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

/* offering(), with at least `least` devices, each named in the output. */
static uint32_t offering_at_least(fixture *f, const char *name, uint32_t *idx, uint32_t least)
{
    uint32_t k = offering(f, name, idx);
    if (k < least)
        fail_msg("%s: %u device(s) offer it, expected at least %u", name, k, least);
    for (uint32_t i = 0; i < k; i++)
        print_message("%s on %s (%s)\n", name, f->d[idx[i]].info.name, f->d[idx[i]].info.driver_name);
    return k;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
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

/* Run one chunk's call of a stream form; a failure names the device and
 * the chunk's offset. */
static void run_chunk(device_ctx *c, const char *name, const accel_arg *args, uint32_t argc, uint64_t off)
{
    if (ad_run(c, name, args, argc) != ACCEL_SUCCESS)
        fail_msg("%s on %s at %llu: %s", name, c->info.name, (unsigned long long)off,
                 accel_last_error_message());
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
    accel_arg a[] = {ts_mem_arg(x->in, off, len), ts_mem_arg(x->st, 0, 4)};
    run_chunk(c, "crc32c.stream", a, 2, off);
}

static void test_stream_crc32c_across_devices(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering_at_least(f, "crc32c.stream", idx, 1);
    crc_ctx x = {ad_mem(f, INPUT_SIZE), ad_mem(f, 4)};
    fill_input(ts_map(x.in), INPUT_SIZE);
    uint32_t want = ad_crc32c_ref(ts_map(x.in), INPUT_SIZE);
    /* The one-shot form on the first device. */
    accel_memory *res = ad_mem(f, 4);
    accel_arg one[] = {ts_mem_arg(x.in, 0, INPUT_SIZE), ts_mem_arg(res, 0, 4)};
    assert_int_equal(ad_run(&f->d[idx[0]], "crc32c", one, 2), ACCEL_SUCCESS);
    assert_int_equal(le32(ts_map(res)), want);
    for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
        uint64_t n = chunk_sizes[k] == 1 ? 2000 : INPUT_SIZE;
        uint32_t want_n = n == INPUT_SIZE ? want : ad_crc32c_ref(ts_map(x.in), n);
        for (uint32_t first = 0; first < count; first++) {
            memset(ts_map(x.st), 0, 4);
            in_chunks(f, idx, count, first, n, chunk_sizes[k], crc_chunk, &x);
            if (le32(ts_map(x.st)) != want_n)
                fail_msg("crc32c.stream over %llu bytes in chunks of %llu from %s: %08x, expected %08x",
                         (unsigned long long)n, (unsigned long long)chunk_sizes[k],
                         f->d[idx[first]].info.name, le32(ts_map(x.st)), want_n);
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
    accel_arg a[] = {ts_mem_arg(x->in, off, len), ts_mem_arg(x->st, 0, 112),
                     ts_mem_arg(x->res, 0, last ? 32 : 0), ts_u32_arg(last)};
    run_chunk(c, "sha256.stream", a, 4, off);
}

static void test_stream_sha256_across_devices(void **state)
{
    fixture *f = *state;
    uint32_t idx[MAX_DEVICES], count = offering_at_least(f, "sha256.stream", idx, 1);
    sha_ctx x = {ad_mem(f, INPUT_SIZE), ad_mem(f, 112), ad_mem(f, 32)};
    fill_input(ts_map(x.in), INPUT_SIZE);
    unsigned char want[32];
    SHA256(ts_map(x.in), INPUT_SIZE, want);
    accel_arg one[] = {ts_mem_arg(x.in, 0, INPUT_SIZE), ts_mem_arg(x.res, 0, 32)};
    assert_int_equal(ad_run(&f->d[idx[0]], "sha256", one, 2), ACCEL_SUCCESS);
    assert_memory_equal(ts_map(x.res), want, 32);
    for (size_t k = 0; k < sizeof(chunk_sizes) / sizeof(chunk_sizes[0]); k++) {
        uint64_t n = chunk_sizes[k] == 1 ? 300 : INPUT_SIZE;
        unsigned char want_n[32];
        SHA256(ts_map(x.in), n, want_n);
        for (uint32_t first = 0; first < count; first++) {
            memset(ts_map(x.st), 0, 112);
            memset(ts_map(x.res), 0, 32);
            in_chunks(f, idx, count, first, n, chunk_sizes[k], sha_chunk, &x);
            if (memcmp(ts_map(x.res), want_n, 32) != 0)
                fail_msg("sha256.stream over %llu bytes in chunks of %llu from %s: wrong digest",
                         (unsigned long long)n, (unsigned long long)chunk_sizes[k],
                         f->d[idx[first]].info.name);
            for (int i = 0; i < 112; i++)
                assert_int_equal(ts_map(x.st)[i], 0);
        }
    }
    /* A state no sha256.stream wrote fails on every device. */
    for (uint32_t i = 0; i < count; i++) {
        memset(ts_map(x.st), 0, 112);
        ts_map(x.st)[104] = 7;
        accel_arg a[] = {ts_mem_arg(x.in, 0, 100), ts_mem_arg(x.st, 0, 112), ts_mem_arg(x.res, 0, 32),
                         ts_u32_arg(0)};
        assert_int_equal(ad_run(&f->d[idx[i]], "sha256.stream", a, 4), ACCEL_ERROR_INVALID_ARGUMENT);
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
    accel_arg a[] = {ts_mem_arg(x->in, off, len), ts_mem_arg(x->dst, 0, bound(len)),
                     ts_mem_arg(x->size, 0, 8),   ts_i32_arg(x->level),
                     ts_mem_arg(x->st, 0, 32800), ts_u32_arg(last)};
    run_chunk(c, "zlib.deflate.stream", a, 6, off);
    uint64_t piece = le64(ts_map(x->size));
    assert_true(piece <= bound(len));
    memcpy(x->z + x->zlen, ts_map(x->dst), piece);
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
        accel_arg a[] = {ts_mem_arg(x->z, off, len), ts_mem_arg(x->out, x->written, room),
                         ts_mem_arg(x->prog, 0, 24), ts_mem_arg(x->st, 0, 33984)};
        run_chunk(c, "zlib.inflate.stream", a, 4, off);
        const unsigned char *pr = ts_map(x->prog);
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
    uint32_t didx[MAX_DEVICES], dcount = offering_at_least(f, "zlib.deflate.stream", didx, 1);
    uint32_t iidx[MAX_DEVICES], icount = offering_at_least(f, "zlib.inflate.stream", iidx, 1);
    deflate_ctx x = {.in = ad_mem(f, INPUT_SIZE),
                     .dst = ad_mem(f, bound(INPUT_SIZE)),
                     .size = ad_mem(f, 8),
                     .st = ad_mem(f, 32800)};
    fill_input(ts_map(x.in), INPUT_SIZE);
    x.z = malloc(2 * INPUT_SIZE);
    static const int levels[] = {0, 1, 6, 9};
    static const uint64_t dchunks[] = {70001, 4096, 0};
    for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++)
        for (size_t k = 0; k < sizeof(dchunks) / sizeof(dchunks[0]); k++)
            for (uint32_t first = 0; first < dcount; first++) {
                x.level = levels[l];
                x.zlen = 0;
                memset(ts_map(x.st), 0, 32800);
                in_chunks(f, didx, dcount, first, INPUT_SIZE, dchunks[k], deflate_chunk, &x);
                /* zlib takes the pieces as one stream. */
                uLongf n = INPUT_SIZE;
                unsigned char *back = malloc(INPUT_SIZE);
                assert_int_equal(uncompress(back, &n, x.z, (uLong)x.zlen), Z_OK);
                assert_int_equal(n, INPUT_SIZE);
                assert_memory_equal(back, ts_map(x.in), INPUT_SIZE);
                free(back);
                /* The stream form, on the inflating devices in turn, with small dst. */
                inflate_ctx y = {.z = ad_mem(f, x.zlen),
                                 .out = ad_mem(f, INPUT_SIZE),
                                 .prog = ad_mem(f, 24),
                                 .st = ad_mem(f, 33984)};
                memcpy(ts_map(y.z), x.z, x.zlen);
                y.room = 777;
                y.n = INPUT_SIZE;
                in_chunks(f, iidx, icount, first, x.zlen, 3001, inflate_chunk, &y);
                assert_int_equal(y.status, 1);
                assert_int_equal(y.written, INPUT_SIZE);
                assert_memory_equal(ts_map(y.out), ts_map(x.in), INPUT_SIZE);
                /* And the one-shot form. */
                accel_arg a[] = {ts_mem_arg(y.z, 0, x.zlen), ts_mem_arg(y.out, 0, INPUT_SIZE),
                                 ts_mem_arg(y.prog, 0, 8)};
                memset(ts_map(y.out), 0, INPUT_SIZE);
                assert_int_equal(ad_run(&f->d[iidx[0]], "zlib.inflate", a, 3), ACCEL_SUCCESS);
                assert_int_equal(le64(ts_map(y.prog)), INPUT_SIZE);
                assert_memory_equal(ts_map(y.out), ts_map(x.in), INPUT_SIZE);
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
    accel_memory *in = ad_mem(f, 5000), *dst = ad_mem(f, bound(5000)), *size = ad_mem(f, 8),
                 *st = ad_mem(f, 32800);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 5000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ts_map(in)[i] = (unsigned char)x;
    }
    for (uint32_t i = 0; i < count; i++) {
        device_ctx *c = &f->d[idx[i]];
        memset(ts_map(st), 0, 32800);
        accel_arg first[] = {ts_mem_arg(in, 0, 1000), ts_mem_arg(dst, 0, bound(1000)), ts_mem_arg(size, 0, 8),
                             ts_i32_arg(6),           ts_mem_arg(st, 0, 32800),        ts_u32_arg(0)};
        assert_int_equal(ad_run(c, "zlib.deflate.stream", first, 6), ACCEL_SUCCESS);
        unsigned char *before = malloc(32800);
        memcpy(before, ts_map(st), 32800);
        struct {
            uint64_t dst_size, size_size;
            int32_t level;
        } bad[] = {{bound(4000), 7, 6}, {bound(4000), 8, 10}, {bound(4000), 8, -2}, {3000, 8, 6}};
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
            accel_arg a[] = {ts_mem_arg(in, 1000, 4000),
                             ts_mem_arg(dst, 0, bad[k].dst_size),
                             ts_mem_arg(size, 0, bad[k].size_size),
                             ts_i32_arg(bad[k].level),
                             ts_mem_arg(st, 0, 32800),
                             ts_u32_arg(0)};
            accel_result r = ad_run(c, "zlib.deflate.stream", a, 6);
            if (r != ACCEL_ERROR_INVALID_ARGUMENT)
                fail_msg("zlib.deflate.stream case %zu on %s: %s, expected ACCEL_ERROR_INVALID_ARGUMENT", k,
                         c->info.name, accel_result_string(r));
            if (memcmp(ts_map(st), before, 32800) != 0)
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
    ts_log_init(&wd_log);
    *state = ad_set_create(NULL, &wd_log);
    return 0;
}

static int teardown_logged(void **state)
{
    ad_set_teardown(state);
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
    accel_memory *z = ad_mem(f, zlen), *out[2], *prog[2], *st[2];
    assert_int_equal(compress2(ts_map(z), &zlen, plain, (uLong)n, 6), Z_OK);
    for (int d = 0; d < 2; d++) {
        out[d] = ad_mem(f, n);
        prog[d] = ad_mem(f, 24);
        st[d] = ad_mem(f, 33984);
        memset(ts_map(st[d]), 0, 33984);
    }
    static const uint64_t chunks[] = {1, 7, 290, 3001, 40000}, rooms[] = {1, 100, 5000, 70000};
    uint64_t in = 0, wrote = 0, status = 0;
    for (unsigned k = 0; status != 1; k++) {
        assert_true(k < 100000);
        uint64_t len = chunks[k % 5] < zlen - in ? chunks[k % 5] : zlen - in;
        uint64_t room = rooms[k % 4] < n - wrote ? rooms[k % 4] : n - wrote;
        for (int d = 0; d < 2; d++) {
            accel_arg a[] = {ts_mem_arg(z, in, len), ts_mem_arg(out[d], wrote, room),
                             ts_mem_arg(prog[d], 0, 24), ts_mem_arg(st[d], 0, 33984)};
            if (ad_run(dev[d], "zlib.inflate.stream", a, 4) != ACCEL_SUCCESS)
                fail_msg("zlib.inflate.stream on %s, call %u: %s", dev[d]->info.name, k,
                         accel_last_error_message());
        }
        if (memcmp(ts_map(prog[0]), ts_map(prog[1]), 24) != 0 ||
            memcmp(ts_map(st[0]), ts_map(st[1]), 33984) != 0)
            fail_msg(
                "call %u (%llu bytes at %llu, room %llu): the progress or state differs between %s and %s", k,
                (unsigned long long)len, (unsigned long long)in, (unsigned long long)room, dev[0]->info.name,
                dev[1]->info.name);
        in += le64(ts_map(prog[0]));
        wrote += le64(ts_map(prog[0]) + 8);
        status = le32(ts_map(prog[0]) + 16);
        assert_int_equal(le32(ts_map(prog[0]) + 20), 0);
    }
    assert_int_equal(in, zlen);
    assert_int_equal(wrote, n);
    assert_memory_equal(ts_map(out[0]), plain, n);
    assert_memory_equal(ts_map(out[1]), plain, n);
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
    uint32_t idx[MAX_DEVICES], count = offering_at_least(f, "zlib.inflate.stream", idx, 2);
    /* One object holding a valid stream, room, progress and state, so that
     * the cases can make the state overlap the others. */
    enum { Z = 0, OUT = 4096, PROG = 8192, ST = 8192 + 64, END = ST + 33984 + 64 };
    accel_memory *m = ad_mem(f, END);
    uLongf zlen = 4096;
    unsigned char text[3000];
    fill_input(text, sizeof(text));
    assert_int_equal(compress2(ts_map(m) + Z, &zlen, text, sizeof(text), 6), Z_OK);
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
    memcpy(saved, ts_map(m) + Z, zlen);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (uint32_t d = 0; d < count; d++) {
            device_ctx *dev = &f->d[idx[d]];
            memset(ts_map(m) + PROG, 0, END - PROG);
            memcpy(ts_map(m) + Z, saved, zlen);
            if (cases[i].corrupt)
                memcpy(ts_map(m) + Z, corrupt, sizeof(corrupt));
            if (cases[i].bad_state)
                ts_map(m)[ST] = 9; /* phase 9 */
            size_t logged = ts_log_count(&wd_log, "zlib.inflate.stream", cases[i].logged, NULL);
            accel_arg a[] = {ts_mem_arg(m, cases[i].src, cases[i].src_size),
                             ts_mem_arg(m, cases[i].dst, cases[i].dst_size),
                             ts_mem_arg(m, cases[i].prog, cases[i].prog_size),
                             ts_mem_arg(m, cases[i].st, cases[i].st_size)};
            accel_result r = ad_run(dev, "zlib.inflate.stream", a, 4);
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
        memset(ts_map(m) + PROG, 0, END - PROG);
        memcpy(ts_map(m) + Z, saved, zlen);
        accel_arg a[] = {ts_mem_arg(m, Z, zlen), ts_mem_arg(m, OUT, 4096), ts_mem_arg(m, PROG, 24),
                         ts_mem_arg(m, ST, 33984)};
        assert_int_equal(ad_run(dev, "zlib.inflate.stream", a, 4), ACCEL_SUCCESS);
        assert_int_equal(le64(ts_map(m) + PROG), zlen);
        assert_int_equal(le64(ts_map(m) + PROG + 8), sizeof(text));
        assert_int_equal(le32(ts_map(m) + PROG + 16), 1);
        assert_memory_equal(ts_map(m) + OUT, text, sizeof(text));
    }
    free(saved);
    accel_memory_free(m);
}

/* Every device offering a stream form refuses a state that overlaps src,
 * the WarpDrive driver with the function and the arguments in its log. */
static void test_stream_state_overlap(void **state)
{
    fixture *f = *state;
    accel_memory *m = ad_mem(f, 70000), *out = ad_mem(f, 8192), *small = ad_mem(f, 64);
    memset(ts_map(m), 0, 70000);
    accel_arg crc[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(m, 96, 4)};
    accel_arg sha[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(m, 50, 112), ts_mem_arg(small, 0, 32),
                       ts_u32_arg(1)};
    accel_arg def[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(out, 0, 8192), ts_mem_arg(small, 0, 8),
                       ts_i32_arg(6),         ts_mem_arg(m, 99, 32800), ts_u32_arg(1)};
    static const char *const names[] = {"crc32c.stream", "sha256.stream", "zlib.deflate.stream"};
    const accel_arg *args[] = {crc, sha, def};
    const uint32_t counts[] = {2, 4, 6};
    for (int k = 0; k < 3; k++) {
        uint32_t idx[MAX_DEVICES], count = offering_at_least(f, names[k], idx, 2);
        for (uint32_t d = 0; d < count; d++) {
            device_ctx *dev = &f->d[idx[d]];
            size_t logged = ts_log_count(&wd_log, names[k], "argument state overlaps argument src", NULL);
            accel_result r = ad_run(dev, names[k], args[k], counts[k]);
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
    accel_memory *m = ad_mem(f, 20000), *st = ad_mem(f, 32800);
    memset(ts_map(m), 0, 20000);
    memset(ts_map(st), 0, 32800);
    accel_arg sha[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(st, 0, 112), ts_mem_arg(m, 90, 32), ts_u32_arg(1)};
    accel_arg def_dst[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(m, 50, 8192),  ts_mem_arg(m, 10000, 8),
                           ts_i32_arg(6),         ts_mem_arg(st, 0, 32800), ts_u32_arg(1)};
    accel_arg def_size[] = {ts_mem_arg(m, 0, 100), ts_mem_arg(m, 200, 8192), ts_mem_arg(m, 92, 8),
                            ts_i32_arg(6),         ts_mem_arg(st, 0, 32800), ts_u32_arg(1)};
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
            accel_result r = ad_run(c, cases[k].function, args[k], cases[k].count);
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
        cmocka_unit_test_setup_teardown(test_stream_crc32c_across_devices, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_stream_sha256_across_devices, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_stream_zlib_across_devices, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_stream_deflate_failures, setup, ad_set_teardown),
        cmocka_unit_test(test_stream_pipeline_names),
        cmocka_unit_test_setup_teardown(test_stream_inflate_warpdrive_same_bytes, setup_logged,
                                        teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_inflate_refusals, setup_logged, teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_state_overlap, setup_logged, teardown_logged),
        cmocka_unit_test_setup_teardown(test_stream_src_overlap, setup_logged, teardown_logged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
