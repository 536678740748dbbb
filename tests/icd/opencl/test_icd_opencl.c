/* test_icd_opencl.c — the OpenCL driver through its table (icd_harness.h):
 * enumeration, the standard functions at 0 B, 1 B, 4 KiB + 3 B and 64 MiB
 * (4 MiB under the sanitizers, ACCEL_TEST_SANITIZED) against
 * straightforward C and zlib, zlib.deflate at every level on generated
 * data and on the text corpus (ACCEL_TEST_CORPUS), crc32c across its
 * segment boundaries, user kernels, build failures, fence ordering and
 * failures, and sub-devices as partitions (ACCEL_OPENCL_PARTITIONS).
 * Skips when no OpenCL device is reachable. */
#include "../../loader/support_env.h"
#include "../icd_harness.h"
#include "../icd_support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <time.h>
#include <zlib.h>

#define MIB (1024u * 1024u)

static size_t sizes[] = {0, 1, 4096 + 3, 64 * MIB};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static ih_driver drv;
static void *dev;
static void *queue;

/* ---- reference implementations (and icd_support.h) ---- */

/* Compressible test data: words from a small vocabulary with some noise. */
static void fill_data(uint8_t *p, size_t n, uint32_t seed)
{
    static const char *words[] = {"accel ", "loader ", "opencl ", "driver ", "fence ", "queue ", "zlib ", "\n"};
    uint32_t x = seed * 2654435761u + 1;
    size_t i = 0;
    while (i < n) {
        x = x * 1664525u + 1013904223u;
        if ((x >> 28) == 0) {
            p[i++] = (uint8_t)(x >> 8);
            continue;
        }
        const char *w = words[(x >> 16) & 7];
        for (; *w && i < n; w++)
            p[i++] = (uint8_t)*w;
    }
}

/* ---- harness helpers ---- */

typedef struct hbuf {
    uint8_t *p;
    size_t size;
    void *mem;
    int staged;
} hbuf;

/* Host memory with `guard` extra bytes after it (set to 0xA5), attached. */
static hbuf hb_new(size_t size, size_t guard)
{
    hbuf b = {0};
    size_t total = (size + guard + 4095) / 4096 * 4096;
    b.p = aligned_alloc(4096, total ? total : 4096);
    assert_non_null(b.p);
    memset(b.p + size, 0xa5, guard);
    b.size = size;
    assert_int_equal(ih_attach(&drv, dev, b.p, size + guard, &b.mem, &b.staged), ACCEL_SUCCESS);
    assert_false(b.staged);
    return b;
}

static void hb_free(hbuf *b)
{
    drv.t->memory_detach(dev, b->mem);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static accel_icd_arg arg_i32(int32_t v)
{
    accel_icd_arg a = {.kind = ACCEL_ARG_I32};
    a.u.i32 = v;
    return a;
}

static void *fn(const char *name)
{
    void *f = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(drv.t->function_get(dev, NULL, name, &f, &info), ACCEL_SUCCESS);
    return f;
}

/* Run a built-in on the shared queue. A failed submission fails every
 * later one of its queue, so after an (expected) failure the queue is
 * replaced. */
static accel_result run(void *f, const accel_icd_arg *args, uint32_t argc)
{
    accel_result r = ih_run(&drv, queue, f, args, argc, 0, 0);
    if (r != ACCEL_SUCCESS) {
        drv.t->queue_destroy(queue);
        queue = NULL;
        assert_int_equal(drv.t->queue_create(dev, &queue), ACCEL_SUCCESS);
    }
    return r;
}

static int group_setup(void **state)
{
    (void)state;
    if (ih_open(&drv, DRIVER_PATH) != 0)
        return -1;
    if (drv.device_count == 0)
        return 0;
    dev = drv.devices[0];
    return drv.t->queue_create(dev, &queue) == ACCEL_SUCCESS ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (queue)
        drv.t->queue_destroy(queue);
    ih_close(&drv);
    return 0;
}

#define NEED_DEVICE()                                                                                         \
    do {                                                                                                      \
        if (drv.device_count == 0) {                                                                          \
            print_message("no OpenCL device; skipped\n");                                                     \
            skip();                                                                                           \
        }                                                                                                     \
    } while (0)

/* ---- tests ---- */

static void test_icd_opencl_devices(void **state)
{
    (void)state;
    NEED_DEVICE();
    for (uint32_t i = 0; i < drv.device_count; i++) {
        const accel_icd_device_info *info = &drv.info[i];
        print_message("device %u: %s (vendor %s, 0x%x)\n", i, info->name, info->vendor, info->vendor_id);
        assert_int_equal(info->interface, ACCEL_DEVICE_INTERFACE_OPENCL);
        assert_non_null(strstr(info->name, ": "));
        assert_int_not_equal(info->kind, ACCEL_DEVICE_KIND_UNKNOWN);
        assert_int_equal(info->numa_node, -1);
        assert_int_equal(info->available_instances, ACCEL_INSTANCES_UNLIMITED);
        static const uint8_t zero[ACCEL_UUID_SIZE];
        assert_memory_not_equal(info->uuid, zero, ACCEL_UUID_SIZE);
        for (uint32_t j = 0; j < i; j++)
            assert_memory_not_equal(info->uuid, drv.info[j].uuid, ACCEL_UUID_SIZE);
        uint32_t v = 0;
        size_t size = 0;
        assert_int_equal(drv.t->device_query(drv.devices[i], ACCEL_DEVICE_PARAM_KIND, NULL, 0, &size), ACCEL_SUCCESS);
        assert_int_equal(size, sizeof(uint32_t));
        assert_int_equal(drv.t->device_query(drv.devices[i], ACCEL_DEVICE_PARAM_KIND, &v, sizeof(v), NULL),
                         ACCEL_SUCCESS);
        assert_int_equal(v, info->kind);
        assert_int_equal(drv.t->device_query(drv.devices[i], ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v),
                                             NULL),
                         ACCEL_SUCCESS);
        assert_int_equal(v, ACCEL_INSTANCES_UNLIMITED);
        assert_int_equal(drv.t->device_query(drv.devices[i], (accel_device_param)999, &v, sizeof(v), NULL),
                         ACCEL_ERROR_UNSUPPORTED);
    }
    /* The same uuids after the driver starts again. */
    ih_driver again;
    assert_int_equal(ih_open(&again, DRIVER_PATH), 0);
    assert_int_equal(again.device_count, drv.device_count);
    for (uint32_t i = 0; i < drv.device_count; i++)
        assert_memory_equal(again.info[i].uuid, drv.info[i].uuid, ACCEL_UUID_SIZE);
    again.dl = NULL; /* keep the library: drv still uses it */
    ih_close(&again);
    /* The driver keeps the services of the last negotiation: give it drv's
     * again (again's are gone). */
    accel_icd_negotiate_fn negotiate;
    *(void **)&negotiate = dlsym(drv.dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    accel_icd_negotiation n = {.struct_size = sizeof(n), .loader_version = ACCEL_ICD_INTERFACE_VERSION,
                               .loader_min_version = ACCEL_ICD_INTERFACE_VERSION, .services = &drv.services};
    assert_int_equal(negotiate(&n), ACCEL_SUCCESS);
}

static void test_icd_opencl_noop(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("accel.noop");
    assert_int_equal(run(f, NULL, 0), ACCEL_SUCCESS);
    void *missing = NULL;
    assert_int_equal(drv.t->function_get(dev, NULL, "no.such.function", &missing, NULL), ACCEL_ERROR_NOT_FOUND);
    drv.t->function_release(f);
}

static void test_icd_opencl_copy_fill(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *copy = fn("accel.copy"), *fill = fn("accel.fill");
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        hbuf src = hb_new(n, 0), dst = hb_new(n, 16);
        fill_data(src.p, n, (uint32_t)s);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(dst.mem, 0, n)};
        double t = now_s();
        assert_int_equal(run(copy, args, 2), ACCEL_SUCCESS);
        double tc = now_s() - t;
        assert_memory_equal(dst.p, src.p, n);
        for (int g = 0; g < 16; g++)
            assert_int_equal(dst.p[n + g], 0xa5);

        accel_icd_arg fargs[2] = {ih_mem(dst.mem, 0, n), ih_u32(0x44332211u)};
        t = now_s();
        assert_int_equal(run(fill, fargs, 2), ACCEL_SUCCESS);
        double tf = now_s() - t;
        for (size_t i = 0; i < n; i++)
            if (dst.p[i] != (uint8_t)(0x11 * ((i & 3) + 1)))
                fail_msg("fill: byte %zu is 0x%02x", i, dst.p[i]);
        for (int g = 0; g < 16; g++)
            assert_int_equal(dst.p[n + g], 0xa5);
        if (n >= MIB)
            print_message("%zu MiB: accel.copy %.3f s, accel.fill %.3f s\n", n / MIB, tc, tf);
        hb_free(&src);
        hb_free(&dst);
    }
    /* Overlapping ranges of one buffer copy like memmove, in both directions;
     * a partial pattern at the end. */
    hbuf b = hb_new(100, 0);
    uint8_t want[100];
    for (int i = 0; i < 100; i++)
        b.p[i] = (uint8_t)i;
    memcpy(want, b.p, 100);
    memmove(want + 10, want, 50);
    accel_icd_arg args[2] = {ih_mem(b.mem, 0, 50), ih_mem(b.mem, 10, 50)};
    assert_int_equal(run(copy, args, 2), ACCEL_SUCCESS);
    assert_memory_equal(b.p, want, 100);
    memmove(want + 3, want + 20, 60);
    accel_icd_arg back[2] = {ih_mem(b.mem, 20, 60), ih_mem(b.mem, 3, 60)};
    assert_int_equal(run(copy, back, 2), ACCEL_SUCCESS);
    assert_memory_equal(b.p, want, 100);
    accel_icd_arg fargs[2] = {ih_mem(b.mem, 7, 6), ih_u32(0x04030201u)};
    assert_int_equal(run(fill, fargs, 2), ACCEL_SUCCESS);
    const uint8_t pat[6] = {1, 2, 3, 4, 1, 2};
    assert_memory_equal(b.p + 7, pat, 6);
    assert_int_equal(b.p[13], want[13]);
    hb_free(&b);
    drv.t->function_release(copy);
    drv.t->function_release(fill);
}

static void test_icd_opencl_crc32c(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("crc32c");
    hbuf res = hb_new(4, 4);
    /* the check value of the definition */
    hbuf check = hb_new(9, 0);
    memcpy(check.p, "123456789", 9);
    accel_icd_arg cargs[2] = {ih_mem(check.mem, 0, 9), ih_mem(res.mem, 0, 4)};
    assert_int_equal(run(f, cargs, 2), ACCEL_SUCCESS);
    uint32_t got;
    memcpy(&got, res.p, 4);
    assert_int_equal(got, 0xe3069283u);
    hb_free(&check);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        hbuf src = hb_new(n, 0);
        fill_data(src.p, n, 7 + (uint32_t)s);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(res.mem, 0, 4)};
        double t = now_s();
        assert_int_equal(run(f, args, 2), ACCEL_SUCCESS);
        t = now_s() - t;
        memcpy(&got, res.p, 4);
        assert_int_equal(got, ref_crc32c(src.p, n));
        for (int g = 0; g < 4; g++)
            assert_int_equal(res.p[4 + g], 0xa5);
        if (n >= MIB)
            print_message("%zu MiB: crc32c %.3f s (%.0f MB/s)\n", n / MIB, t, n / t / 1e6);
        /* a range at an odd offset */
        if (n > 5) {
            accel_icd_arg off[2] = {ih_mem(src.mem, 5, n - 5), ih_mem(res.mem, 0, 4)};
            assert_int_equal(run(f, off, 2), ACCEL_SUCCESS);
            memcpy(&got, res.p, 4);
            assert_int_equal(got, ref_crc32c(src.p + 5, n - 5));
        }
        hb_free(&src);
    }
    hb_free(&res);
    drv.t->function_release(f);
}

/* Lengths 0..300 at offsets 0..7 (the bytes before the 8-byte steps and
 * after them), then lengths around the segment boundaries (segments are
 * at least 64 KiB, about four per compute unit). */
static void test_icd_opencl_crc32c_lengths(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("crc32c");
    size_t big = 3 * MIB + 64;
    hbuf src = hb_new(big, 0), res = hb_new(4, 4);
    for (size_t i = 0; i < big; i++)
        src.p[i] = (uint8_t)(i * 131 + (i >> 11) * 7 + (i >> 17));
    uint32_t got;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            memset(res.p, 0x5c, 4);
            accel_icd_arg a[2] = {ih_mem(src.mem, off, n), ih_mem(res.mem, 0, 4)};
            assert_int_equal(run(f, a, 2), ACCEL_SUCCESS);
            memcpy(&got, res.p, 4);
            if (got != ref_crc32c(src.p + off, n))
                fail_msg("crc32c of %zu bytes at offset %zu: %08x, want %08x", n, off, got,
                         ref_crc32c(src.p + off, n));
        }
    const size_t lens[] = {65535, 65536, 65537, 2 * 65536 + 1, 8 * 65536 - 1, 8 * 65536 + 9, MIB + 7,
                           3 * MIB + 61};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t off = k % 3;
        accel_icd_arg a[2] = {ih_mem(src.mem, off, lens[k]), ih_mem(res.mem, 0, 4)};
        assert_int_equal(run(f, a, 2), ACCEL_SUCCESS);
        memcpy(&got, res.p, 4);
        assert_int_equal(got, ref_crc32c(src.p + off, lens[k]));
        for (int g = 0; g < 4; g++)
            assert_int_equal(res.p[4 + g], 0xa5);
    }
    hb_free(&src);
    hb_free(&res);
    drv.t->function_release(f);
}

static void test_icd_opencl_sha256(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("sha256");
    hbuf res = hb_new(32, 8);
    uint8_t want[32];
    /* 55, 56 and 64 bytes: the padding's edge cases */
    const size_t extra[] = {55, 56, 64};
    for (size_t s = 0; s < NSIZES + 3; s++) {
        size_t n = s < NSIZES ? sizes[s] : extra[s - NSIZES];
        hbuf src = hb_new(n, 0);
        fill_data(src.p, n, 11 + (uint32_t)s);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(res.mem, 0, 32)};
        double t = now_s();
        assert_int_equal(run(f, args, 2), ACCEL_SUCCESS);
        t = now_s() - t;
        ref_sha256(src.p, n, want);
        assert_memory_equal(res.p, want, 32);
        for (int g = 0; g < 8; g++)
            assert_int_equal(res.p[32 + g], 0xa5);
        if (n >= MIB)
            print_message("%zu MiB: sha256 %.3f s (%.0f MB/s)\n", n / MIB, t, n / t / 1e6);
        hb_free(&src);
    }
    /* sha256("abc") */
    hbuf abc = hb_new(3, 0);
    memcpy(abc.p, "abc", 3);
    accel_icd_arg args[2] = {ih_mem(abc.mem, 0, 3), ih_mem(res.mem, 0, 32)};
    assert_int_equal(run(f, args, 2), ACCEL_SUCCESS);
    static const uint8_t abc_digest[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                           0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                           0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(res.p, abc_digest, 32);
    hb_free(&abc);
    hb_free(&res);
    drv.t->function_release(f);
}

static void test_icd_opencl_deflate(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("zlib.deflate");
    hbuf out_size = hb_new(8, 0);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        size_t bound = n + 5 * ((n + 65534) / 65535) + 11;
        hbuf src = hb_new(n, 0), dst = hb_new(bound, 16);
        fill_data(src.p, n, 23 + (uint32_t)s);
        accel_icd_arg args[4] = {ih_mem(src.mem, 0, n), ih_mem(dst.mem, 0, bound), ih_mem(out_size.mem, 0, 8),
                                 arg_i32(-1)};
        double t = now_s();
        assert_int_equal(run(f, args, 4), ACCEL_SUCCESS);
        t = now_s() - t;
        uint64_t produced;
        memcpy(&produced, out_size.p, 8);
        assert_true(produced <= bound);
        for (int g = 0; g < 16; g++)
            assert_int_equal(dst.p[bound + g], 0xa5);
        uint8_t *back = malloc(n + 1);
        uLongf back_len = n + 1;
        assert_int_equal(uncompress(back, &back_len, dst.p, produced), Z_OK);
        assert_int_equal(back_len, n);
        assert_memory_equal(back, src.p, n);
        free(back);
        if (n >= MIB)
            print_message("%zu MiB: zlib.deflate %.3f s\n", n / MIB, t);
        hb_free(&src);
        hb_free(&dst);
    }
    hb_free(&out_size);
    drv.t->function_release(f);
}

/* Deflate src[0, n) at `level` into a dst of exactly the documented bound
 * (ranges at offsets off, off + 1, off + 2 of their buffers), check the
 * bytes around it, inflate the result with zlib and compare; the
 * compressed size, or 0 after a failure of the submission (returned in
 * *r). */
static size_t deflate_check(void *f, const uint8_t *data, size_t n, int level, size_t off, accel_result *r)
{
    size_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    hbuf src = hb_new(off + n, 0), dst = hb_new(off + 1 + bound, 16), out = hb_new(off + 2 + 8, 8);
    memcpy(src.p + off, data, n);
    memset(dst.p, 0x3c, off + 1);
    memset(out.p, 0x3c, off + 2);
    accel_icd_arg args[4] = {ih_mem(src.mem, off, n), ih_mem(dst.mem, off + 1, bound), ih_mem(out.mem, off + 2, 8),
                             arg_i32(level)};
    *r = run(f, args, 4);
    size_t produced = 0;
    if (*r == ACCEL_SUCCESS) {
        uint64_t p64;
        memcpy(&p64, out.p + off + 2, 8);
        if (p64 > bound)
            fail_msg("level %d, %zu bytes: %llu bytes out, more than the bound %zu", level, n,
                     (unsigned long long)p64, bound);
        produced = (size_t)p64;
        uint8_t *back = malloc(n + 1);
        assert_non_null(back);
        uLongf back_len = n + 1;
        int zr = uncompress(back, &back_len, dst.p + off + 1, produced);
        if (zr != Z_OK || back_len != n || memcmp(back, data, n) != 0)
            fail_msg("level %d, %zu bytes: zlib's uncompress gives %d, %lu bytes%s", level, n, zr,
                     (unsigned long)back_len, zr == Z_OK && back_len == n ? ", different" : "");
        free(back);
    }
    for (size_t i = 0; i < off + 1; i++)
        assert_int_equal(dst.p[i], 0x3c);
    for (int g = 0; g < 16; g++)
        assert_int_equal(dst.p[off + 1 + bound + g], 0xa5);
    for (int g = 0; g < 8; g++)
        assert_int_equal(out.p[off + 2 + 8 + g], 0xa5);
    hb_free(&src);
    hb_free(&dst);
    hb_free(&out);
    return produced;
}

/* Every level at the sizes around a stored block and a segment. */
static void test_icd_opencl_deflate_levels(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("zlib.deflate");
    const size_t lens[] = {0, 1, 65535, 65536, MIB + 7};
    uint8_t *data = malloc(MIB + 7);
    assert_non_null(data);
    fill_data(data, MIB + 7, 41);
    for (int level = -1; level <= 9; level++) {
        for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
            size_t n = lens[k];
            accel_result r;
            size_t out = deflate_check(f, data, n, level, k % 4, &r);
            assert_int_equal(r, ACCEL_SUCCESS);
            if (level != 0 && n >= 65535)
                assert_true(out < n / 2);
            if (level == 0)
                assert_int_equal(out, n + 5 * (n == 0 ? 1 : (n + 65534) / 65535) + 6);
            if (n == MIB + 7)
                print_message("level %2d: %zu -> %zu bytes\n", level, n, out);
        }
    }
    /* levels outside -1..9 fail the submission */
    const int bad[] = {-2, 10, INT32_MIN, INT32_MAX};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        accel_result r;
        deflate_check(f, data, 1000, bad[k], 0, &r);
        assert_int_equal(r, ACCEL_ERROR_INVALID_ARGUMENT);
    }
    free(data);
    drv.t->function_release(f);
}

/* Random bytes do not shrink: the output must still fit the bound. */
static void test_icd_opencl_deflate_incompressible(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("zlib.deflate");
    const size_t lens[] = {64 * 1024, MIB};
    uint8_t *data = malloc(MIB);
    assert_non_null(data);
    uint32_t x = 12345;
    for (size_t i = 0; i < MIB; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (uint8_t)(x >> 11);
    }
    const int levels[] = {1, 6, 9};
    for (size_t k = 0; k < 2; k++)
        for (size_t l = 0; l < 3; l++) {
            accel_result r;
            size_t out = deflate_check(f, data, lens[k], levels[l], l, &r);
            assert_int_equal(r, ACCEL_SUCCESS);
            print_message("random %zu bytes, level %d: %zu bytes\n", lens[k], levels[l], out);
        }
    free(data);
    drv.t->function_release(f);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *p = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long size = ftell(fp);
        if (size >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (p = malloc((size_t)size + 1)) != NULL &&
            fread(p, 1, (size_t)size, fp) != (size_t)size) {
            free(p);
            p = NULL;
        }
        *n = (size_t)size;
    }
    fclose(fp);
    return p;
}

static size_t zlib_size(const uint8_t *data, size_t n, int level)
{
    uLongf len = compressBound(n);
    uint8_t *out = malloc(len);
    assert_non_null(out);
    assert_int_equal(compress2(out, &len, data, n, level), Z_OK);
    free(out);
    return len;
}

/* The corpus (tests/data/corpus, from ACCEL_TEST_CORPUS): every file
 * inflates back at levels 1, 6 and 9; text shrinks, and at level 6 stays
 * within 1.25 times zlib's own level 6. */
static void test_icd_opencl_deflate_corpus(void **state)
{
    (void)state;
    NEED_DEVICE();
    const char *dir = getenv("ACCEL_TEST_CORPUS");
    if (!dir || !*dir) {
        print_message("ACCEL_TEST_CORPUS is not set; skipped\n");
        skip();
    }
    static const struct {
        const char *name;
        int text;
    } files[] = {{"alice29.txt", 1}, {"asyoulik.txt", 1}, {"lcet10.txt", 1}, {"plrabn12.txt", 1},
                 {"html", 1}, {"urls.10K", 1}, {"fireworks.jpeg", 0}, {"geo.protodata", 0},
                 {"kppkn.gtb", 0}, {"paper-100k.pdf", 0}};
    const int levels[] = {1, 6, 9};
    void *f = fn("zlib.deflate");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        size_t n = 0;
        uint8_t *data = read_file(path, &n);
        if (!data)
            fail_msg("cannot read %s", path);
        size_t z1 = zlib_size(data, n, 1), z6 = zlib_size(data, n, 6);
        for (size_t l = 0; l < 3; l++) {
            accel_result r;
            size_t out = deflate_check(f, data, n, levels[l], l, &r);
            assert_int_equal(r, ACCEL_SUCCESS);
            print_message("%-15s level %d: %7zu -> %7zu bytes, %.3f of zlib level 1, %.3f of level 6\n",
                          files[i].name, levels[l], n, out, (double)out / z1, (double)out / z6);
            if (files[i].text)
                assert_true(out < n);
            if (files[i].text && levels[l] == 6 && out * 4 > z6 * 5)
                fail_msg("%s: %zu bytes at level 6, more than 1.25 times zlib's %zu", files[i].name, out, z6);
        }
        free(data);
    }
    drv.t->function_release(f);
}

static accel_result inflate_into(void *f, const uint8_t *stream, size_t len, hbuf *dst, size_t dst_size,
                                 uint64_t *produced)
{
    hbuf src = hb_new(len, 0), out_size = hb_new(8, 0);
    memcpy(src.p, stream, len);
    memset(out_size.p, 0xee, 8);
    accel_icd_arg args[3] = {ih_mem(src.mem, 0, len), ih_mem(dst->mem, 0, dst_size), ih_mem(out_size.mem, 0, 8)};
    accel_result r = run(f, args, 3);
    memcpy(produced, out_size.p, 8);
    hb_free(&src);
    hb_free(&out_size);
    return r;
}

static void test_icd_opencl_inflate(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("zlib.inflate");
    /* stored, fixed Huffman and dynamic Huffman blocks */
    const struct {
        int level, strategy;
        const char *what;
    } kinds[] = {{0, Z_DEFAULT_STRATEGY, "stored"}, {6, Z_FIXED, "fixed"}, {6, Z_DEFAULT_STRATEGY, "dynamic"},
                 {9, Z_DEFAULT_STRATEGY, "level 9"}, {1, Z_DEFAULT_STRATEGY, "level 1"},
                 {2, Z_DEFAULT_STRATEGY, "level 2"}, {3, Z_DEFAULT_STRATEGY, "level 3"},
                 {4, Z_DEFAULT_STRATEGY, "level 4"}, {5, Z_DEFAULT_STRATEGY, "level 5"},
                 {7, Z_DEFAULT_STRATEGY, "level 7"}, {8, Z_DEFAULT_STRATEGY, "level 8"}};
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        uint8_t *data = malloc(n + 1);
        fill_data(data, n, 31 + (uint32_t)s);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            if (n >= MIB && k != 2)
                continue; /* 64 MiB: real compression only */
            size_t len;
            uint8_t *stream = zlib_compress(data, n, kinds[k].level, kinds[k].strategy, &len);
            hbuf dst = hb_new(n, 16);
            uint64_t produced = 0;
            double t = now_s();
            accel_result r = inflate_into(f, stream, len, &dst, n, &produced);
            t = now_s() - t;
            if (r != ACCEL_SUCCESS)
                fail_msg("inflate (%s, %zu bytes): %d", kinds[k].what, n, r);
            assert_int_equal(produced, n);
            assert_memory_equal(dst.p, data, n);
            for (int g = 0; g < 16; g++)
                assert_int_equal(dst.p[n + g], 0xa5);
            if (n >= MIB)
                print_message("%zu MiB: zlib.inflate (%s, %zu bytes compressed) %.3f s\n", n / MIB, kinds[k].what,
                              len, t);
            /* one byte too small */
            if (n > 0) {
                accel_result small = inflate_into(f, stream, len, &dst, n - 1, &produced);
                assert_int_equal(small, ACCEL_ERROR_INVALID_ARGUMENT);
                for (int g = 0; g < 16; g++)
                    assert_int_equal(dst.p[n + g], 0xa5);
            }
            hb_free(&dst);
            free(stream);
        }
        free(data);
    }
    drv.t->function_release(f);
}

/* The driver's own deflate, every level, through its own inflate. */
static void test_icd_opencl_deflate_roundtrip(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *def = fn("zlib.deflate"), *inf = fn("zlib.inflate");
    size_t n = 300 * 1024 + 11;
    size_t bound = n + 5 * ((n + 65534) / 65535) + 11;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    fill_data(data, n, 57);
    hbuf src = hb_new(n, 0), z = hb_new(bound, 0), zs = hb_new(8, 0), back = hb_new(n, 16);
    memcpy(src.p, data, n);
    for (int level = 0; level <= 9; level++) {
        accel_icd_arg d[4] = {ih_mem(src.mem, 0, n), ih_mem(z.mem, 0, bound), ih_mem(zs.mem, 0, 8), arg_i32(level)};
        assert_int_equal(run(def, d, 4), ACCEL_SUCCESS);
        uint64_t zlen;
        memcpy(&zlen, zs.p, 8);
        uint64_t produced = 0;
        memset(back.p, 0, n);
        assert_int_equal(inflate_into(inf, z.p, (size_t)zlen, &back, n, &produced), ACCEL_SUCCESS);
        assert_int_equal(produced, n);
        assert_memory_equal(back.p, data, n);
    }
    free(data);
    hb_free(&src);
    hb_free(&z);
    hb_free(&zs);
    hb_free(&back);
    drv.t->function_release(def);
    drv.t->function_release(inf);
}

static void test_icd_opencl_inflate_corrupt(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *f = fn("zlib.inflate");
    uint8_t data[5000];
    fill_data(data, sizeof(data), 99);
    size_t len;
    uint8_t *stream = zlib_compress(data, sizeof(data), 6, Z_DEFAULT_STRATEGY, &len);
    hbuf dst = hb_new(sizeof(data), 0);
    uint64_t produced;
    uint8_t *bad = malloc(len + 1);

    memcpy(bad, stream, len);
    bad[len - 1] ^= 1; /* Adler-32 */
    assert_int_equal(inflate_into(f, bad, len, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    memcpy(bad, stream, len);
    bad[1] ^= 1; /* header check */
    assert_int_equal(inflate_into(f, bad, len, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(inflate_into(f, stream, len / 2, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    memcpy(bad, stream, len);
    bad[len] = 0; /* trailing garbage */
    assert_int_equal(inflate_into(f, bad, len + 1, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    memcpy(bad, stream, len);
    bad[2] |= 6; /* block type 3 */
    assert_int_equal(inflate_into(f, bad, len, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(inflate_into(f, stream, 0, &dst, sizeof(data), &produced), ACCEL_ERROR_INVALID_ARGUMENT);
    /* garbage in the middle: any error, never a hang or a crash */
    for (size_t i = 3; i < len - 4; i += len / 16) {
        memcpy(bad, stream, len);
        bad[i] ^= 0x5a;
        accel_result r = inflate_into(f, bad, len, &dst, sizeof(data), &produced);
        assert_true(r == ACCEL_ERROR_INVALID_ARGUMENT || r == ACCEL_SUCCESS);
    }
    /* and still working afterwards */
    assert_int_equal(inflate_into(f, stream, len, &dst, sizeof(data), &produced), ACCEL_SUCCESS);
    assert_memory_equal(dst.p, data, sizeof(data));
    free(bad);
    free(stream);
    hb_free(&dst);
    drv.t->function_release(f);
}

static void test_icd_opencl_too_small(void **state)
{
    (void)state;
    NEED_DEVICE();
    hbuf src = hb_new(1000, 0), small = hb_new(64, 0);
    fill_data(src.p, 1000, 5);
    void *crc = fn("crc32c"), *sha = fn("sha256"), *defl = fn("zlib.deflate"), *copy = fn("accel.copy");
    accel_icd_arg a1[2] = {ih_mem(src.mem, 0, 1000), ih_mem(small.mem, 0, 3)};
    assert_int_equal(run(crc, a1, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg a2[2] = {ih_mem(src.mem, 0, 1000), ih_mem(small.mem, 0, 31)};
    assert_int_equal(run(sha, a2, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg a3[4] = {ih_mem(src.mem, 0, 1000), ih_mem(small.mem, 0, 56), ih_mem(small.mem, 56, 8), arg_i32(6)};
    assert_int_equal(run(defl, a3, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg a4[4] = {ih_mem(src.mem, 0, 10), ih_mem(small.mem, 0, 56), ih_mem(small.mem, 56, 7), arg_i32(6)};
    assert_int_equal(run(defl, a4, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg a5[2] = {ih_mem(src.mem, 0, 65), ih_mem(small.mem, 0, 64)};
    assert_int_equal(run(copy, a5, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    drv.t->function_release(crc);
    drv.t->function_release(sha);
    drv.t->function_release(defl);
    drv.t->function_release(copy);
    hb_free(&src);
    hb_free(&small);
}

static const char scale_src[] = "__kernel void scale(__global float *x, uint n, float f)\n"
                                "{\n"
                                "    size_t i = get_global_id(0);\n"
                                "    if (i < n)\n"
                                "        x[i] *= f;\n"
                                "}\n"
                                "__kernel void scalars(__global long *out, int a, ulong b, long c, double d)\n"
                                "{\n"
                                "    out[0] = a + (long)b + c + (long)d;\n"
                                "}\n";

static void test_icd_opencl_user_kernel(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *prog = NULL;
    char log[4096];
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, scale_src, strlen(scale_src), "",
                                         &prog, log, sizeof(log)),
                     ACCEL_SUCCESS);
    void *scale = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(drv.t->function_get(dev, prog, "scale", &scale, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 3);
    assert_int_equal(info.arg_kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(info.arg_kinds[1], ACCEL_ARG_U32);
    assert_int_equal(info.arg_kinds[2], ACCEL_ARG_F32);
    void *missing = NULL;
    assert_int_equal(drv.t->function_get(dev, prog, "nope", &missing, &info), ACCEL_ERROR_NOT_FOUND);

    enum { N = 100000 };
    hbuf x = hb_new(N * sizeof(float), 0);
    float *v = (float *)x.p;
    for (int i = 0; i < N; i++)
        v[i] = (float)i;
    accel_icd_arg args[3] = {ih_mem(x.mem, 0, N * sizeof(float)), ih_u32(N), {.kind = ACCEL_ARG_F32}};
    args[2].u.f32 = 2.5f;
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = 1, .function = scale, .args = args, .arg_count = 3,
                          .work_size = {N, 1, 1}};
    void *fence;
    assert_int_equal(drv.t->queue_submit(queue, &s, &fence), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(fence, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_status(fence), ACCEL_SUCCESS);
    drv.t->fence_release(fence);
    for (int i = 0; i < N; i++)
        if (v[i] != (float)i * 2.5f)
            fail_msg("x[%d] = %f", i, v[i]);

    /* a range at an aligned offset (sub-buffer) and at an unaligned one */
    const size_t offs[] = {4096, 4 * 3};
    for (size_t k = 0; k < 2; k++) {
        size_t first = offs[k] / sizeof(float);
        for (int i = 0; i < N; i++)
            v[i] = 1.0f;
        args[0] = ih_mem(x.mem, offs[k], 10 * sizeof(float));
        args[1] = ih_u32(10);
        args[2].u.f32 = 3.0f;
        s.work_size[0] = 16;
        assert_int_equal(ih_run(&drv, queue, scale, args, 3, 1, 16), ACCEL_SUCCESS);
        for (int i = 0; i < N; i++)
            assert_true(v[i] == ((size_t)i >= first && (size_t)i < first + 10 ? 3.0f : 1.0f));
    }

    /* every scalar kind */
    void *mix = NULL;
    assert_int_equal(drv.t->function_get(dev, prog, "scalars", &mix, &info), ACCEL_SUCCESS);
    const accel_arg_kind want[5] = {ACCEL_ARG_MEMORY, ACCEL_ARG_I32, ACCEL_ARG_U64, ACCEL_ARG_I64, ACCEL_ARG_F64};
    assert_int_equal(info.arg_count, 5);
    assert_memory_equal(info.arg_kinds, want, sizeof(want));
    hbuf out = hb_new(8, 0);
    accel_icd_arg margs[5] = {ih_mem(out.mem, 0, 8), {.kind = ACCEL_ARG_I32}, {.kind = ACCEL_ARG_U64},
                              {.kind = ACCEL_ARG_I64}, {.kind = ACCEL_ARG_F64}};
    margs[1].u.i32 = -5;
    margs[2].u.u64 = 1ull << 40;
    margs[3].u.i64 = -(1ll << 33);
    margs[4].u.f64 = 1000.0;
    assert_int_equal(ih_run(&drv, queue, mix, margs, 5, 1, 1), ACCEL_SUCCESS);
    int64_t got;
    memcpy(&got, out.p, 8);
    assert_int_equal(got, -5 + (1ll << 40) - (1ll << 33) + 1000);
    hb_free(&out);

    drv.t->function_release(mix);
    drv.t->function_release(scale);
    drv.t->program_release(prog);
    hb_free(&x);
}

static void test_icd_opencl_build_failure(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const char bad[] = "__kernel void broken(__global int *x) { x[0] = undefined_thing; }\n";
    void *prog = NULL;
    char log[4096] = "";
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, bad, strlen(bad), NULL, &prog, log,
                                         sizeof(log)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    print_message("build log: %s\n", log);
    assert_non_null(strstr(log, "undefined_thing"));
    /* a tiny log buffer is truncated, still NUL-terminated */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, bad, strlen(bad), NULL, &prog, tiny,
                                         sizeof(tiny)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(memchr(tiny, '\0', sizeof(tiny)));
    /* bad options */
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, scale_src, 0, "-no-such-option", &prog,
                                         log, sizeof(log)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    /* formats it does not take */
    static const uint32_t spirv_magic[5] = {0x07230203u, 0x00010000u, 0, 1, 0};
    accel_result r = drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, spirv_magic, sizeof(spirv_magic), NULL,
                                         &prog, log, sizeof(log));
    assert_true(r == ACCEL_ERROR_UNSUPPORTED || r == ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_ELF, bad, sizeof(bad), NULL, &prog, log,
                                         sizeof(log)),
                     ACCEL_ERROR_UNSUPPORTED);
}

/* B on another queue waits for A's fence: B sees all of A's writes. */
static void test_icd_opencl_wait_fence_order(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *q2 = NULL;
    assert_int_equal(drv.t->queue_create(dev, &q2), ACCEL_SUCCESS);
    void *copy = fn("accel.copy"), *crc = fn("crc32c");
    size_t n = 32 * MIB;
    hbuf src = hb_new(n, 0), dst = hb_new(n, 0), res = hb_new(4, 0);
    fill_data(src.p, n, 77);
    memset(dst.p, 0, n);
    uint32_t want = ref_crc32c(src.p, n);
    for (int round = 0; round < 3; round++) {
        memset(dst.p, 0, n);
        accel_icd_arg ca[2] = {ih_mem(src.mem, 0, n), ih_mem(dst.mem, 0, n)};
        accel_icd_submit sa = {.struct_size = sizeof(sa), .function = copy, .args = ca, .arg_count = 2};
        void *fa = NULL, *fb = NULL;
        assert_int_equal(drv.t->queue_submit(queue, &sa, &fa), ACCEL_SUCCESS);
        accel_icd_arg cb[2] = {ih_mem(dst.mem, 0, n), ih_mem(res.mem, 0, 4)};
        accel_icd_submit sb = {.struct_size = sizeof(sb), .function = crc, .args = cb, .arg_count = 2,
                               .wait_fence_count = 1, .wait_fences = &fa};
        assert_int_equal(drv.t->queue_submit(q2, &sb, &fb), ACCEL_SUCCESS);
        drv.t->fence_release(fa); /* B keeps what it needs */
        accel_result r = drv.t->fence_wait(fb, 0);
        assert_true(r == ACCEL_NOT_READY || r == ACCEL_SUCCESS);
        assert_int_equal(drv.t->fence_wait(fb, UINT64_MAX), ACCEL_SUCCESS);
        uint32_t got;
        memcpy(&got, res.p, 4);
        assert_int_equal(got, want);
        drv.t->fence_release(fb);
    }
    /* A bounded wait that runs out, then completes. */
    void *sha = fn("sha256");
    hbuf digest = hb_new(32, 0);
    accel_icd_arg sa[2] = {ih_mem(src.mem, 0, n), ih_mem(digest.mem, 0, 32)};
    accel_icd_submit s = {.struct_size = sizeof(s), .function = sha, .args = sa, .arg_count = 2};
    void *fs = NULL;
    assert_int_equal(drv.t->queue_submit(queue, &s, &fs), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(fs, 1000), ACCEL_TIMEOUT);
    assert_int_equal(drv.t->fence_wait(fs, 60ull * 1000000000ull), ACCEL_SUCCESS);
    drv.t->fence_release(fs);
    drv.t->function_release(sha);
    hb_free(&digest);

    drv.t->function_release(copy);
    drv.t->function_release(crc);
    drv.t->queue_destroy(q2);
    hb_free(&src);
    hb_free(&dst);
    hb_free(&res);
}

/* A submission that waits on a failed fence fails with its error. */
static void test_icd_opencl_wait_fence_error(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *inf = fn("zlib.inflate"), *noop = fn("accel.noop");
    void *q = NULL, *q2 = NULL;
    assert_int_equal(drv.t->queue_create(dev, &q), ACCEL_SUCCESS);
    assert_int_equal(drv.t->queue_create(dev, &q2), ACCEL_SUCCESS);
    hbuf src = hb_new(16, 0), dst = hb_new(64, 0), out = hb_new(8, 0);
    memset(src.p, 0xff, 16); /* not a zlib stream */
    accel_icd_arg a[3] = {ih_mem(src.mem, 0, 16), ih_mem(dst.mem, 0, 64), ih_mem(out.mem, 0, 8)};
    accel_icd_submit s = {.struct_size = sizeof(s), .function = inf, .args = a, .arg_count = 3};
    void *bad = NULL, *after = NULL, *late = NULL, *next = NULL;
    assert_int_equal(drv.t->queue_submit(q, &s, &bad), ACCEL_SUCCESS);
    /* on another queue, waiting on the failing fence while it may be pending */
    accel_icd_submit w = {.struct_size = sizeof(w), .function = noop, .wait_fence_count = 1, .wait_fences = &bad};
    assert_int_equal(drv.t->queue_submit(q2, &w, &after), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(after, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(drv.t->fence_wait(bad, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    /* after it is known to have failed */
    void *q3 = NULL;
    assert_int_equal(drv.t->queue_create(dev, &q3), ACCEL_SUCCESS);
    assert_int_equal(drv.t->queue_submit(q3, &w, &late), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_status(late), ACCEL_ERROR_INVALID_ARGUMENT);
    /* the failed submission's queue fails what follows, without waits too */
    accel_icd_submit plain = {.struct_size = sizeof(plain), .function = noop};
    assert_int_equal(drv.t->queue_submit(q, &plain, &next), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(next, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    drv.t->fence_release(bad);
    drv.t->fence_release(after);
    drv.t->fence_release(late);
    drv.t->fence_release(next);
    drv.t->queue_destroy(q);
    drv.t->queue_destroy(q2);
    drv.t->queue_destroy(q3);
    drv.t->function_release(inf);
    drv.t->function_release(noop);
    hb_free(&src);
    hb_free(&dst);
    hb_free(&out);
}

static void test_icd_opencl_device_memory(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *mem = NULL, *res = NULL;
    uint8_t data[10000];
    fill_data(data, sizeof(data), 3);
    assert_int_equal(drv.t->memory_alloc_device(dev, sizeof(data), &mem), ACCEL_SUCCESS);
    assert_int_equal(drv.t->memory_alloc_device(dev, 4, &res), ACCEL_SUCCESS);
    assert_int_equal(drv.t->memory_write(dev, mem, 0, data, sizeof(data)), ACCEL_SUCCESS);
    void *crc = fn("crc32c");
    accel_icd_arg a[2] = {ih_mem(mem, 1, sizeof(data) - 1), ih_mem(res, 0, 4)};
    assert_int_equal(run(crc, a, 2), ACCEL_SUCCESS);
    uint32_t got = 0;
    assert_int_equal(drv.t->memory_read(dev, res, 0, &got, 4), ACCEL_SUCCESS);
    assert_int_equal(got, ref_crc32c(data + 1, sizeof(data) - 1));
    uint8_t back[100];
    assert_int_equal(drv.t->memory_read(dev, mem, 9900, back, 100), ACCEL_SUCCESS);
    assert_memory_equal(back, data + 9900, 100);
    assert_int_equal(drv.t->memory_read(dev, mem, 9950, back, 100), ACCEL_ERROR_INVALID_ARGUMENT);
    void *empty = NULL;
    assert_int_equal(drv.t->memory_alloc_device(dev, 0, &empty), ACCEL_SUCCESS);
    accel_icd_arg e[2] = {ih_mem(empty, 0, 0), ih_mem(res, 0, 4)};
    assert_int_equal(run(crc, e, 2), ACCEL_SUCCESS);
    assert_int_equal(drv.t->memory_read(dev, res, 0, &got, 4), ACCEL_SUCCESS);
    assert_int_equal(got, 0);
    drv.t->memory_free_device(dev, empty);
    drv.t->function_release(crc);
    drv.t->memory_free_device(dev, mem);
    drv.t->memory_free_device(dev, res);
}

/* ---- partitions (ACCEL_OPENCL_PARTITIONS) ---- */

/* Start a second instance of the driver with ACCEL_OPENCL_PARTITIONS=value
 * (NULL: unset); the variable is put back as it was once it is read. */
static void open_with_partitions(ih_driver *d, const char *value)
{
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_OPENCL_PARTITIONS", value);
    int r = ih_open(d, DRIVER_PATH);
    ts_env_pop_to(depth);
    assert_int_equal(r, 0);
}

/* Close a second instance; the driver keeps the services of the last
 * negotiation, so give it drv's again. */
static void close_second(ih_driver *d)
{
    d->dl = NULL; /* keep the library: drv still uses it */
    ih_close(d);
    accel_icd_negotiate_fn negotiate;
    *(void **)&negotiate = dlsym(drv.dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    accel_icd_negotiation n = {.struct_size = sizeof(n), .loader_version = ACCEL_ICD_INTERFACE_VERSION,
                               .loader_min_version = ACCEL_ICD_INTERFACE_VERSION, .services = &drv.services};
    assert_int_equal(negotiate(&n), ACCEL_SUCCESS);
}

static uint32_t root_count(const ih_driver *d)
{
    uint32_t n = 0;
    while (n < d->device_count && d->info[n].parent_index < 0)
        n++;
    return n;
}

/* PoCL's CPU device offers CL_DEVICE_PARTITION_EQUALLY; on it, partitions
 * are required rather than merely checked if present. */
static int is_pocl(const accel_icd_device_info *info)
{
    return strncmp(info->name, "Portable Computing Language: ", 29) == 0;
}

static void test_icd_opencl_partitions_enumerated(void **state)
{
    (void)state;
    NEED_DEVICE();
    ih_driver p, again;
    open_with_partitions(&p, "equally:1");
    uint32_t roots = root_count(&p);
    assert_int_equal(roots, drv.device_count);
    /* the root devices as without partitions, in the same order */
    for (uint32_t i = 0; i < roots; i++) {
        assert_string_equal(p.info[i].name, drv.info[i].name);
        assert_memory_equal(p.info[i].uuid, drv.info[i].uuid, ACCEL_UUID_SIZE);
        assert_false(p.info[i].flags & ACCEL_DEVICE_FLAG_PARTITION);
        assert_string_equal(p.info[i].partition, "");
    }
    uint32_t pocl_parts = 0;
    for (uint32_t i = roots; i < p.device_count; i++) {
        const accel_icd_device_info *info = &p.info[i];
        print_message("device %u: %s (parent %d, partition \"%s\")\n", i, info->name, info->parent_index,
                      info->partition);
        assert_true(info->parent_index >= 0 && (uint32_t)info->parent_index < roots);
        assert_true(info->flags & ACCEL_DEVICE_FLAG_PARTITION);
        const accel_icd_device_info *parent = &p.info[info->parent_index];
        /* equally:1: one compute unit each */
        assert_int_equal(strncmp(info->partition, "part ", 5), 0);
        assert_non_null(strstr(info->partition, ", 1 compute unit"));
        char want[sizeof(info->name) + sizeof(info->partition) + 4];
        snprintf(want, sizeof(want), "%s (%s)", parent->name, info->partition);
        assert_string_equal(info->name, want);
        assert_int_equal(info->kind, parent->kind);
        assert_int_equal(info->interface, ACCEL_DEVICE_INTERFACE_OPENCL);
        for (uint32_t j = 0; j < i; j++)
            assert_memory_not_equal(info->uuid, p.info[j].uuid, ACCEL_UUID_SIZE);
        uint32_t v = 0;
        assert_int_equal(p.t->device_query(p.devices[i], ACCEL_DEVICE_PARAM_FLAGS, &v, sizeof(v), NULL),
                         ACCEL_SUCCESS);
        assert_true(v & ACCEL_DEVICE_FLAG_PARTITION);
        if (is_pocl(parent))
            pocl_parts++;
    }
    for (uint32_t i = 0; i < roots; i++)
        if (is_pocl(&p.info[i]))
            assert_true(pocl_parts >= 2);
    /* stable across starts */
    open_with_partitions(&again, "equally:1");
    assert_int_equal(again.device_count, p.device_count);
    for (uint32_t i = 0; i < p.device_count; i++) {
        assert_string_equal(again.info[i].name, p.info[i].name);
        assert_memory_equal(again.info[i].uuid, p.info[i].uuid, ACCEL_UUID_SIZE);
        assert_int_equal(again.info[i].parent_index, p.info[i].parent_index);
    }
    close_second(&again);
    close_second(&p);
}

static void test_icd_opencl_partitions_invalid(void **state)
{
    (void)state;
    NEED_DEVICE();
    static const char *const bad[] = {"equally:0", "equally:", "equally:x", "equally:2x", "equally:-1",
                                      "equally", "numa:1", "bogus", "4"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        ih_driver p;
        print_message("ACCEL_OPENCL_PARTITIONS=%s (a warning is expected)\n", bad[k]);
        open_with_partitions(&p, bad[k]);
        assert_int_equal(p.device_count, drv.device_count);
        for (uint32_t i = 0; i < p.device_count; i++) {
            assert_int_equal(p.info[i].parent_index, -1);
            assert_false(p.info[i].flags & ACCEL_DEVICE_FLAG_PARTITION);
        }
        close_second(&p);
    }
    /* valid, but more compute units than any device has: no partitions */
    ih_driver p;
    open_with_partitions(&p, "equally:16000000");
    assert_int_equal(p.device_count, drv.device_count);
    close_second(&p);
    /* numa where supported; PoCL's pthread device has no affinity domains */
    open_with_partitions(&p, "numa");
    for (uint32_t i = root_count(&p); i < p.device_count; i++) {
        assert_int_equal(strncmp(p.info[i].partition, "numa domain ", 12), 0);
        assert_true(p.info[i].flags & ACCEL_DEVICE_FLAG_PARTITION);
    }
    close_second(&p);
}

/* crc32c and a user kernel on device `i` of d, with memory attached there. */
static void crc_and_scale(ih_driver *d, uint32_t i, uint32_t crc_out[2], float *scaled, size_t nf)
{
    void *device = d->devices[i];
    void *q = NULL;
    assert_int_equal(d->t->queue_create(device, &q), ACCEL_SUCCESS);
    void *crc = NULL;
    accel_icd_function_info finfo = {.struct_size = sizeof(finfo)};
    assert_int_equal(d->t->function_get(device, NULL, "crc32c", &crc, &finfo), ACCEL_SUCCESS);

    size_t sizes2[2] = {9, 1 * MIB + 3};
    for (int s = 0; s < 2; s++) {
        size_t n = sizes2[s];
        uint8_t *src = aligned_alloc(4096, (n + 4095) / 4096 * 4096);
        uint8_t *res = aligned_alloc(4096, 4096);
        assert_non_null(src);
        assert_non_null(res);
        if (s == 0)
            memcpy(src, "123456789", 9);
        else
            fill_data(src, n, 99);
        void *ms, *mr;
        int staged;
        assert_int_equal(ih_attach(d, device, src, n, &ms, &staged), ACCEL_SUCCESS);
        assert_int_equal(ih_attach(d, device, res, 4, &mr, &staged), ACCEL_SUCCESS);
        accel_icd_arg args[2] = {ih_mem(ms, 0, n), ih_mem(mr, 0, 4)};
        assert_int_equal(ih_run(d, q, crc, args, 2, 0, 0), ACCEL_SUCCESS);
        memcpy(&crc_out[s], res, 4);
        assert_int_equal(crc_out[s], ref_crc32c(src, n));
        d->t->memory_detach(device, ms);
        d->t->memory_detach(device, mr);
        free(src);
        free(res);
    }
    d->t->function_release(crc);

    void *prog = NULL, *scale = NULL;
    char log[4096];
    assert_int_equal(d->t->program_load(device, ACCEL_PROGRAM_FORMAT_OPENCL_C, scale_src, strlen(scale_src), "",
                                        &prog, log, sizeof(log)),
                     ACCEL_SUCCESS);
    assert_int_equal(d->t->function_get(device, prog, "scale", &scale, &finfo), ACCEL_SUCCESS);
    size_t bytes = nf * sizeof(float);
    float *x = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    assert_non_null(x);
    for (size_t k = 0; k < nf; k++)
        x[k] = (float)k * 0.25f;
    void *mx;
    int staged;
    assert_int_equal(ih_attach(d, device, x, bytes, &mx, &staged), ACCEL_SUCCESS);
    accel_icd_arg args[3] = {ih_mem(mx, 0, bytes), ih_u32((uint32_t)nf), {.kind = ACCEL_ARG_F32}};
    args[2].u.f32 = 1.5f;
    assert_int_equal(ih_run(d, q, scale, args, 3, 1, nf), ACCEL_SUCCESS);
    memcpy(scaled, x, bytes);
    d->t->memory_detach(device, mx);
    free(x);
    d->t->function_release(scale);
    d->t->program_release(prog);
    d->t->queue_destroy(q);
}

static void test_icd_opencl_partitions_run(void **state)
{
    (void)state;
    NEED_DEVICE();
    ih_driver p;
    open_with_partitions(&p, "equally:1");
    uint32_t roots = root_count(&p);
    if (p.device_count == roots) {
        close_second(&p);
        print_message("no OpenCL device offers sub-devices; skipped\n");
        skip();
    }
    enum { NF = 10000 };
    float *root_x = malloc(NF * sizeof(float)), *sub_x = malloc(NF * sizeof(float));
    assert_non_null(root_x);
    assert_non_null(sub_x);
    uint32_t root_crc[2], sub_crc[2];
    int32_t last_parent = -1;
    for (uint32_t i = roots; i < p.device_count; i++) {
        int32_t parent = p.info[i].parent_index;
        if (parent != last_parent) {
            crc_and_scale(&p, (uint32_t)parent, root_crc, root_x, NF);
            assert_int_equal(root_crc[0], 0xe3069283u);
            last_parent = parent;
        }
        crc_and_scale(&p, i, sub_crc, sub_x, NF);
        print_message("%s: crc32c %08x %08x\n", p.info[i].name, sub_crc[0], sub_crc[1]);
        assert_memory_equal(sub_crc, root_crc, sizeof(root_crc));
        assert_memory_equal(sub_x, root_x, NF * sizeof(float));
        for (int k = 0; k < NF; k++)
            assert_true(sub_x[k] == (float)k * 0.25f * 1.5f);
    }
    /* memory of one device is refused on another's queue */
    void *q = NULL, *crc = NULL, *ms, *mr;
    accel_icd_function_info finfo = {.struct_size = sizeof(finfo)};
    void *root = p.devices[p.info[roots].parent_index], *sub = p.devices[roots];
    assert_int_equal(p.t->queue_create(sub, &q), ACCEL_SUCCESS);
    assert_int_equal(p.t->function_get(sub, NULL, "crc32c", &crc, &finfo), ACCEL_SUCCESS);
    static uint8_t buf[64] __attribute__((aligned(64)));
    int staged;
    assert_int_equal(ih_attach(&p, root, buf, 16, &ms, &staged), ACCEL_SUCCESS);
    assert_int_equal(ih_attach(&p, sub, buf + 32, 4, &mr, &staged), ACCEL_SUCCESS);
    accel_icd_arg args[2] = {ih_mem(ms, 0, 16), ih_mem(mr, 0, 4)};
    assert_int_not_equal(ih_run(&p, q, crc, args, 2, 0, 0), ACCEL_SUCCESS);
    p.t->memory_detach(root, ms);
    p.t->memory_detach(sub, mr);
    p.t->function_release(crc);
    p.t->queue_destroy(q);
    free(root_x);
    free(sub_x);
    close_second(&p);
}

/* An argument is a cmocka test filter (meson runs the crc32c tests a second
 * time with ACCEL_OPENCL_CRC32C=portable, filtered to "*crc32c*"). */
int main(int argc, char **argv)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    const char *sanitized = getenv("ACCEL_TEST_SANITIZED");
    if (sanitized && *sanitized)
        sizes[NSIZES - 1] = 4 * MIB;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icd_opencl_devices),
        cmocka_unit_test(test_icd_opencl_noop),
        cmocka_unit_test(test_icd_opencl_copy_fill),
        cmocka_unit_test(test_icd_opencl_crc32c),
        cmocka_unit_test(test_icd_opencl_crc32c_lengths),
        cmocka_unit_test(test_icd_opencl_sha256),
        cmocka_unit_test(test_icd_opencl_deflate),
        cmocka_unit_test(test_icd_opencl_deflate_levels),
        cmocka_unit_test(test_icd_opencl_deflate_incompressible),
        cmocka_unit_test(test_icd_opencl_deflate_corpus),
        cmocka_unit_test(test_icd_opencl_deflate_roundtrip),
        cmocka_unit_test(test_icd_opencl_inflate),
        cmocka_unit_test(test_icd_opencl_inflate_corrupt),
        cmocka_unit_test(test_icd_opencl_too_small),
        cmocka_unit_test(test_icd_opencl_user_kernel),
        cmocka_unit_test(test_icd_opencl_build_failure),
        cmocka_unit_test(test_icd_opencl_wait_fence_order),
        cmocka_unit_test(test_icd_opencl_wait_fence_error),
        cmocka_unit_test(test_icd_opencl_device_memory),
        cmocka_unit_test_setup_teardown(test_icd_opencl_partitions_enumerated, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_icd_opencl_partitions_invalid, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_icd_opencl_partitions_run, ts_env_case_setup, ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
