/* test_icd_vulkan.c — the vulkan driver through its table (icd_harness.h).
 *
 * Skips when the machine has no Vulkan device with a compute queue. Every
 * standard function runs on 0 B, 1 B, 4 KiB + 3 B and 64 MiB at unaligned
 * offsets and is compared with values computed here (zlib for the
 * compressed streams); crc32c on every length to 300 at every alignment
 * and across its parts; zlib.deflate at every level, on sizes around its
 * segments, on random data into exactly the documented bound, and on the
 * compression corpus (ACCEL_TEST_CORPUS), every output inflated by zlib;
 * zlib.inflate on zlib's streams of every level; a user kernel compiled
 * from GLSL at build time; program and function errors; fence ordering
 * and fence errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "icd_harness.h"
#include "icd_support.h"
#include "scale_spv.h"

#define MiB (1024u * 1024u)
#define GUARD 64u /* bytes around every range, checked untouched */

static ih_driver drv;
static void *dev, *queue, *queue2;

/* ---- reference implementations (and icd_support.h) ------------------ */

/* Compressible bytes: words from a small vocabulary, with some noise. */
static void make_data(uint8_t *p, size_t n, uint32_t seed)
{
    static const char *words[] = {"accel ", "loader ", "vulkan ", "queue ", "fence ", "memory ", "the ", "a ",
                                  "device\n", "shader ", "0123456789 ", "zlib "};
    uint32_t x = seed * 2654435761u + 1;
    size_t i = 0;
    while (i < n) {
        x = x * 1664525u + 1013904223u;
        if ((x >> 24) < 16) {
            p[i++] = (uint8_t)(x >> 8);
            continue;
        }
        const char *w = words[(x >> 16) % 12];
        for (; *w && i < n; w++)
            p[i++] = (uint8_t)*w;
    }
}

/* ---- buffers ------------------------------------------------------------- */

/* Host memory of `size` bytes (page-aligned and rounded so that the
 * device can import it), attached or staged like the loader does. */
typedef struct tbuf {
    uint8_t *host;
    size_t size;
    void *mem;
    int staged;
} tbuf;

static tbuf tb_new(size_t size, int byte)
{
    tbuf b = {0};
    b.size = (size + 4095) / 4096 * 4096;
    if (!b.size)
        b.size = 4096;
    b.host = aligned_alloc(4096, b.size);
    assert_non_null(b.host);
    memset(b.host, byte, b.size);
    assert_int_equal(ih_attach(&drv, dev, b.host, b.size, &b.mem, &b.staged), ACCEL_SUCCESS);
    return b;
}

/* After host writes to b.host: push them to a staged mirror. */
static void tb_push(tbuf *b)
{
    if (b->staged)
        assert_int_equal(drv.t->memory_write(dev, b->mem, 0, b->host, b->size), ACCEL_SUCCESS);
}

/* After a submission: pull a staged mirror back into b.host. */
static void tb_pull(tbuf *b)
{
    if (b->staged)
        assert_int_equal(drv.t->memory_read(dev, b->mem, 0, b->host, b->size), ACCEL_SUCCESS);
}

static void tb_free(tbuf *b)
{
    if (b->staged)
        drv.t->memory_free_device(dev, b->mem);
    else
        drv.t->memory_detach(dev, b->mem);
    free(b->host);
    memset(b, 0, sizeof(*b));
}

static void *builtin(const char *name, uint32_t argc)
{
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(drv.t->function_get(dev, NULL, name, &fn, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, argc);
    return fn;
}

static void assert_bytes(const uint8_t *p, int byte, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)byte)
            fail_msg("byte %zu is 0x%02x, expected 0x%02x", i, p[i], byte & 0xff);
}

/* Every byte of b (made with 0xee) outside [off, off + n) is still 0xee. */
static void assert_untouched_around(const tbuf *b, size_t off, size_t n)
{
    assert_bytes(b->host, 0xee, off);
    assert_bytes(b->host + off + n, 0xee, b->size - off - n);
}

/* 4 MiB instead of 64 under the sanitizers (ACCEL_TEST_SANITIZED): they
 * look for memory errors; the normal build runs the full size. */
static size_t sizes[] = {0, 1, 4096 + 3, 64 * MiB};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void timed(const char *what, size_t n, double t0)
{
    if (n >= MiB)
        print_message("    %s of %zu MiB: %.2f s\n", what, n / MiB, now_s() - t0);
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
    (void)state;
    if (ih_open(&drv, DRIVER_PATH) != 0)
        return -1;
    if (drv.device_count == 0)
        return 0;
    dev = drv.devices[0];
    if (drv.t->queue_create(dev, &queue) || drv.t->queue_create(dev, &queue2))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (queue)
        drv.t->queue_destroy(queue);
    if (queue2)
        drv.t->queue_destroy(queue2);
    ih_close(&drv);
    return 0;
}

#define NEED_DEVICE()                                                                                              \
    do {                                                                                                           \
        if (!dev)                                                                                                  \
            skip();                                                                                                \
    } while (0)

/* ---- tests --------------------------------------------------------------- */

static void test_devices(void **state)
{
    (void)state;
    NEED_DEVICE();
    for (uint32_t i = 0; i < drv.device_count; i++) {
        const accel_icd_device_info *info = &drv.info[i];
        print_message("    device %u: %s (%s), kind %d, bus '%s'\n", i, info->name, info->vendor, info->kind,
                      info->bus_address);
        assert_int_equal(info->interface, ACCEL_DEVICE_INTERFACE_VULKAN);
        assert_true(info->kind == ACCEL_DEVICE_KIND_CPU || info->kind == ACCEL_DEVICE_KIND_GPU ||
                    info->kind == ACCEL_DEVICE_KIND_UNKNOWN);
        assert_int_equal(info->available_instances, ACCEL_INSTANCES_UNLIMITED);
        assert_int_equal(info->numa_node, -1);
        assert_non_null(memchr(info->name, '\0', sizeof(info->name)));
        uint32_t kind = 0;
        size_t ret = 0;
        assert_int_equal(drv.t->device_query(drv.devices[i], ACCEL_DEVICE_PARAM_KIND, &kind, sizeof(kind), &ret),
                         ACCEL_SUCCESS);
        assert_int_equal(kind, info->kind);
        assert_int_equal(ret, 4);
        assert_int_equal(drv.t->device_query(drv.devices[i], (accel_device_param)99, NULL, 0, NULL),
                         ACCEL_ERROR_UNSUPPORTED);
    }
    void *fn;
    assert_int_equal(drv.t->function_get(dev, NULL, "no.such.function", &fn, NULL), ACCEL_ERROR_NOT_FOUND);
}

static void test_memory(void **state)
{
    (void)state;
    NEED_DEVICE();
    uint8_t *page = aligned_alloc(4096, 8192);
    assert_non_null(page);
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = page, .size = 8192, .fd = -1,
                                  .numa_node = -1};
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    void *mem = NULL;
    accel_result r = drv.t->memory_attach(dev, &desc, &mem, &mode);
    print_message("    page-aligned host memory: %s\n", r == ACCEL_SUCCESS ? "zero-copy" : "staged");
    assert_true(r == ACCEL_SUCCESS || r == ACCEL_ERROR_UNSUPPORTED);
    if (r == ACCEL_SUCCESS) {
        assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
        drv.t->memory_detach(dev, mem);
    }
    /* Not aligned to minImportedHostPointerAlignment: the loader must stage. */
    desc.host_ptr = page + 1;
    desc.size = 100;
    assert_int_equal(drv.t->memory_attach(dev, &desc, &mem, &mode), ACCEL_ERROR_UNSUPPORTED);
    free(page);
    /* Device memory: 0 bytes is valid; writes and reads are bounded. */
    assert_int_equal(drv.t->memory_alloc_device(dev, 0, &mem), ACCEL_SUCCESS);
    assert_int_equal(drv.t->memory_write(dev, mem, 0, "x", 1), ACCEL_ERROR_INVALID_ARGUMENT);
    drv.t->memory_free_device(dev, mem);
    assert_int_equal(drv.t->memory_alloc_device(dev, 10, &mem), ACCEL_SUCCESS);
    assert_int_equal(drv.t->memory_write(dev, mem, 3, "abcdefg", 7), ACCEL_SUCCESS);
    char back[8] = {0};
    assert_int_equal(drv.t->memory_read(dev, mem, 3, back, 7), ACCEL_SUCCESS);
    assert_string_equal(back, "abcdefg");
    assert_int_equal(drv.t->memory_read(dev, mem, 4, back, 7), ACCEL_ERROR_INVALID_ARGUMENT);
    drv.t->memory_free_device(dev, mem);
}

static void test_noop(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("accel.noop", 0);
    double t0 = now_s();
    for (int i = 0; i < 1000; i++)
        assert_int_equal(ih_run(&drv, queue, fn, NULL, 0, 0, 0), ACCEL_SUCCESS);
    print_message("    1000 noop submissions: %.1f us each\n", (now_s() - t0) * 1e3);
    drv.t->function_release(fn);
}

static void test_copy(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("accel.copy", 2);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        tbuf src = tb_new(n + 2 * GUARD, 0), dst = tb_new(n + 2 * GUARD, 0xee);
        make_data(src.host + 3, n, (uint32_t)s);
        tb_push(&src);
        accel_icd_arg args[] = {ih_mem(src.mem, 3, n), ih_mem(dst.mem, GUARD + 1, n)};
        double t0 = now_s();
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        timed("accel.copy", n, t0);
        tb_pull(&dst);
        assert_memory_equal(dst.host + GUARD + 1, src.host + 3, n);
        assert_untouched_around(&dst, GUARD + 1, n);
        tb_free(&src);
        tb_free(&dst);
    }
    drv.t->function_release(fn);
}

static void test_fill(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("accel.fill", 2);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        tbuf dst = tb_new(n + 2 * GUARD, 0xee);
        accel_icd_arg args[] = {ih_mem(dst.mem, GUARD + 2, n), ih_u32(0x44332211u)};
        double t0 = now_s();
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        timed("accel.fill", n, t0);
        tb_pull(&dst);
        for (size_t i = 0; i < n; i++)
            if (dst.host[GUARD + 2 + i] != (uint8_t)(0x11 * (i % 4 + 1)))
                fail_msg("fill byte %zu is 0x%02x", i, dst.host[GUARD + 2 + i]);
        assert_untouched_around(&dst, GUARD + 2, n);
        tb_free(&dst);
    }
    drv.t->function_release(fn);
}

static void test_crc32c(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("crc32c", 2);
    {
        tbuf src = tb_new(9, 0), res = tb_new(8, 0);
        memcpy(src.host, "123456789", 9);
        tb_push(&src);
        accel_icd_arg args[] = {ih_mem(src.mem, 0, 9), ih_mem(res.mem, 0, 4)};
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        tb_pull(&res);
        uint32_t v;
        memcpy(&v, res.host, 4);
        assert_int_equal(v, 0xE3069283u);
        tb_free(&src);
        tb_free(&res);
    }
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        tbuf src = tb_new(n + 8, 0), res = tb_new(16, 0xee);
        make_data(src.host + 5, n, (uint32_t)s + 10);
        tb_push(&src);
        accel_icd_arg args[] = {ih_mem(src.mem, 5, n), ih_mem(res.mem, 3, 4)};
        double t0 = now_s();
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        timed("crc32c", n, t0);
        tb_pull(&res);
        uint32_t v, want = ref_crc32c(src.host + 5, n);
        memcpy(&v, res.host + 3, 4);
        assert_int_equal(v, want);
        assert_bytes(res.host, 0xee, 3);
        assert_bytes(res.host + 7, 0xee, 9);
        tb_free(&src);
        tb_free(&res);
    }
    drv.t->function_release(fn);
}

/* Every length to 300 at every offset modulo 16 (the parts' head and tail
 * loops), sizes around the driver's parts of 32 KiB, and no input. */
static void test_crc32c_lengths(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("crc32c", 2);
    size_t cap = 3 * 32768 + 64;
    tbuf src = tb_new(cap, 0), res = tb_new(16, 0);
    make_data(src.host, cap, 77);
    for (size_t i = 0; i < cap; i += 7)
        src.host[i] ^= (uint8_t)(i * 131);
    tb_push(&src);
    static const size_t around[] = {32767, 32768, 32769, 65535, 65536 + 3, 2 * 32768 + 17, 3 * 32768 + 5};
    size_t cases = 301 * 16 + sizeof(around) / sizeof(around[0]) * 3;
    for (size_t c = 0; c < cases; c++) {
        size_t n, off;
        if (c < 301 * 16) {
            n = c / 16;
            off = c % 16;
        } else {
            size_t k = c - 301 * 16;
            n = around[k / 3];
            off = (k % 3) * 5;
        }
        memset(res.host, 0xee, 16);
        tb_push(&res);
        accel_icd_arg args[] = {ih_mem(src.mem, off, n), ih_mem(res.mem, 1, 4)};
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        tb_pull(&res);
        uint32_t v;
        memcpy(&v, res.host + 1, 4);
        if (v != ref_crc32c(src.host + off, n))
            fail_msg("crc32c of %zu bytes at offset %zu: 0x%08x, expected 0x%08x", n, off, v,
                     ref_crc32c(src.host + off, n));
        assert_int_equal(res.host[0], 0xee);
        assert_bytes(res.host + 5, 0xee, 11);
    }
    /* No input: the initial value, inverted. */
    accel_icd_arg args[] = {ih_mem(src.mem, 3, 0), ih_mem(res.mem, 0, 4)};
    assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
    tb_pull(&res);
    uint32_t v;
    memcpy(&v, res.host, 4);
    assert_int_equal(v, 0);
    tb_free(&src);
    tb_free(&res);
    drv.t->function_release(fn);
}

static void test_sha256(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("sha256", 2);
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        tbuf src = tb_new(n + 8, 0), res = tb_new(64, 0xee);
        make_data(src.host + 1, n, (uint32_t)s + 20);
        tb_push(&src);
        accel_icd_arg args[] = {ih_mem(src.mem, 1, n), ih_mem(res.mem, 2, 32)};
        double t0 = now_s();
        assert_int_equal(ih_run(&drv, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        timed("sha256", n, t0);
        tb_pull(&res);
        uint8_t want[32];
        ref_sha256(src.host + 1, n, want);
        assert_memory_equal(res.host + 2, want, 32);
        assert_bytes(res.host, 0xee, 2);
        assert_bytes(res.host + 34, 0xee, 30);
        tb_free(&src);
        tb_free(&res);
    }
    /* FIPS 180-4 example: "abc". */
    uint8_t want[32];
    ref_sha256((const uint8_t *)"abc", 3, want);
    assert_int_equal(want[0], 0xba);
    assert_int_equal(want[31], 0xad);
    drv.t->function_release(fn);
}

/* Bytes of a stream of stored blocks: the documented dst bound. */
static size_t deflate_bound(size_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 11;
}

/* zlib.deflate of data[0..n) at `level` into a dst of dst_size bytes (at
 * offset 1 of its memory, guarded); the stream must inflate (zlib) back to
 * the input, and nothing past it nor out_size's 8 bytes may change.
 * Returns the compressed size, or 0 if the call failed with `expect`. */
static uint64_t deflate_check(void *fn, const uint8_t *data, size_t n, int32_t level, size_t dst_size,
                              accel_result expect)
{
    tbuf src = tb_new(n + 8, 0), dst = tb_new(dst_size + GUARD, 0xee), out = tb_new(16, 0xee);
    memcpy(src.host + 3, data, n);
    tb_push(&src);
    accel_icd_arg args[] = {ih_mem(src.mem, 3, n), ih_mem(dst.mem, 1, dst_size), ih_mem(out.mem, 4, 8),
                            {.kind = ACCEL_ARG_I32, .u.i32 = level}};
    double t0 = now_s();
    accel_result r = ih_run(&drv, queue, fn, args, 4, 0, 0);
    if (n >= MiB)
        print_message("    zlib.deflate of %zu bytes at level %d: %.2f s\n", n, (int)level, now_s() - t0);
    tb_pull(&dst);
    tb_pull(&out);
    uint64_t len = 0;
    if (r != expect)
        fail_msg("zlib.deflate of %zu bytes at level %d into %zu: %d, expected %d", n, (int)level, dst_size, r,
                 expect);
    if (r == ACCEL_SUCCESS) {
        memcpy(&len, out.host + 4, 8);
        assert_bytes(out.host, 0xee, 4);
        assert_bytes(out.host + 12, 0xee, 4);
        if (len < 8 || len > dst_size)
            fail_msg("zlib.deflate of %zu bytes at level %d reports %llu bytes into %zu", n, (int)level,
                     (unsigned long long)len, dst_size);
        assert_untouched_around(&dst, 1, len);
        uint8_t *back = malloc(n + 1);
        uLongf back_len = n + 1;
        int zr = uncompress(back, &back_len, dst.host + 1, (uLong)len);
        if (zr != Z_OK || back_len != n || memcmp(back, data, n) != 0)
            fail_msg("zlib.deflate of %zu bytes at level %d: zlib says %d, %lu bytes back", n, (int)level, zr,
                     (unsigned long)back_len);
        free(back);
    } else {
        /* A refused call writes nothing outside dst, and no out_size. */
        assert_untouched_around(&dst, 1, dst_size);
        assert_bytes(out.host, 0xee, 16);
    }
    tb_free(&src);
    tb_free(&dst);
    tb_free(&out);
    return len;
}

/* Every level, -1 (the default) included, on sizes around the driver's
 * segments of 65535 bytes: compressible data shrinks from level 1 on. */
static void test_deflate(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.deflate", 4);
    size_t cases[] = {0, 1, 4096 + 3, 65535, 65536, MiB + 7};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t n = cases[c];
        uint8_t *data = malloc(n + 1);
        make_data(data, n, (uint32_t)c + 30);
        for (int32_t level = -1; level <= 9; level++) {
            uint64_t len = deflate_check(fn, data, n, level, deflate_bound(n), ACCEL_SUCCESS);
            if (level != 0 && n >= 4096 && len >= n * 3 / 4)
                fail_msg("zlib.deflate at level %d: %zu bytes of text into %llu", (int)level, n,
                         (unsigned long long)len);
        }
        free(data);
    }
    drv.t->function_release(fn);
}

/* The largest of sizes[] (many waves of segments) at the fastest level,
 * and an eighth of it at the default one. */
static void test_deflate_large(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.deflate", 4);
    size_t n = sizes[3];
    uint8_t *data = malloc(n);
    make_data(data, n, 31);
    deflate_check(fn, data, n, 1, deflate_bound(n), ACCEL_SUCCESS);
    size_t m = n / 8;
    deflate_check(fn, data + 5, m, 6, deflate_bound(m), ACCEL_SUCCESS);
    free(data);
    drv.t->function_release(fn);
}

/* Random bytes do not compress: every level must still fit in exactly the
 * documented bound. */
static void test_deflate_incompressible(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.deflate", 4);
    size_t sz[] = {64 * 1024, MiB};
    for (size_t c = 0; c < 2; c++) {
        size_t n = sz[c];
        uint8_t *data = malloc(n);
        uint32_t x = 0x9e3779b9u + (uint32_t)c;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            data[i] = (uint8_t)(x >> 7);
        }
        static const int32_t levels[] = {0, 1, 6, 9};
        for (size_t l = 0; l < 4; l++)
            deflate_check(fn, data, n, levels[l], deflate_bound(n), ACCEL_SUCCESS);
        free(data);
    }
    drv.t->function_release(fn);
}

/* Levels outside -1..9 are refused and write nothing; so is a dst too
 * small for what a level produces, or an out_size under 8 bytes. */
static void test_deflate_errors(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.deflate", 4);
    uint8_t data[70000];
    make_data(data, sizeof(data), 5);
    static const int32_t bad[] = {-2, 10, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        deflate_check(fn, data, 1000, bad[i], deflate_bound(1000), ACCEL_ERROR_INVALID_ARGUMENT);
    /* Text at level 6 takes about a third: half the input fits, a tenth
     * does not; stored (level 0) needs the whole bound. */
    deflate_check(fn, data, sizeof(data), 6, sizeof(data) / 2, ACCEL_SUCCESS);
    deflate_check(fn, data, sizeof(data), 6, sizeof(data) / 10, ACCEL_ERROR_INVALID_ARGUMENT);
    deflate_check(fn, data, sizeof(data), 1, 100, ACCEL_ERROR_INVALID_ARGUMENT);
    size_t stored = 2 + 5 * ((sizeof(data) + 65534) / 65535) + sizeof(data) + 4;
    deflate_check(fn, data, sizeof(data), 0, stored, ACCEL_SUCCESS);
    deflate_check(fn, data, sizeof(data), 0, stored - 1, ACCEL_ERROR_INVALID_ARGUMENT);
    tbuf src = tb_new(1000, 0), dst = tb_new(2000, 0xee), out = tb_new(16, 0xee);
    accel_icd_arg args[] = {ih_mem(src.mem, 0, 1000), ih_mem(dst.mem, 0, 2000), ih_mem(out.mem, 0, 7),
                            {.kind = ACCEL_ARG_I32, .u.i32 = 6}};
    assert_int_equal(ih_run(&drv, queue, fn, args, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_pull(&dst);
    tb_pull(&out);
    assert_bytes(dst.host, 0xee, dst.size);
    assert_bytes(out.host, 0xee, 16);
    tb_free(&src);
    tb_free(&dst);
    tb_free(&out);
    drv.t->function_release(fn);
}

static const char *const corpus_files[] = {"alice29.txt", "asyoulik.txt",   "lcet10.txt",      "plrabn12.txt",
                                           "html",        "urls.10K",       "fireworks.jpeg",  "geo.protodata",
                                           "kppkn.gtb",   "paper-100k.pdf"};
#define NTEXT 6 /* the first NTEXT are text */

static uint8_t *corpus_read(const char *name, size_t *n)
{
    const char *dir = getenv("ACCEL_TEST_CORPUS");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    assert_int_equal(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* Every corpus file round-trips at levels 1 and 6 (and 9 for the text);
 * text shrinks to within a quarter of zlib's size at the same level. */
static void test_deflate_corpus(void **state)
{
    (void)state;
    NEED_DEVICE();
    if (!getenv("ACCEL_TEST_CORPUS"))
        skip();
    void *fn = builtin("zlib.deflate", 4);
    for (size_t i = 0; i < sizeof(corpus_files) / sizeof(corpus_files[0]); i++) {
        size_t n;
        uint8_t *data = corpus_read(corpus_files[i], &n);
        static const int32_t levels[] = {1, 6, 9};
        for (size_t l = 0; l < (i < NTEXT ? 3u : 2u); l++) {
            uint64_t len = deflate_check(fn, data, n, levels[l], deflate_bound(n), ACCEL_SUCCESS);
            uLongf zlen = compressBound(n);
            uint8_t *z = malloc(zlen);
            assert_int_equal(compress2(z, &zlen, data, n, levels[l]), Z_OK);
            free(z);
            if (i < NTEXT && (len >= n || (double)len > 1.25 * (double)zlen))
                fail_msg("%s at level %d: %llu bytes, zlib %lu", corpus_files[i], (int)levels[l],
                         (unsigned long long)len, (unsigned long)zlen);
        }
        free(data);
    }
    drv.t->function_release(fn);
}

static accel_result run_inflate(void *fn, const uint8_t *z, size_t zlen, size_t dst_size, tbuf *dst,
                                uint64_t *len)
{
    tbuf src = tb_new(zlen + 8, 0), out = tb_new(16, 0xee);
    *dst = tb_new(dst_size + GUARD, 0xee);
    memcpy(src.host + 2, z, zlen);
    tb_push(&src);
    accel_icd_arg args[] = {ih_mem(src.mem, 2, zlen), ih_mem(dst->mem, 3, dst_size), ih_mem(out.mem, 0, 8)};
    accel_result r = ih_run(&drv, queue, fn, args, 3, 0, 0);
    tb_pull(dst);
    tb_pull(&out);
    memcpy(len, out.host, 8);
    tb_free(&src);
    tb_free(&out);
    return r;
}

static void test_inflate(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.inflate", 3);
    static const struct {
        int level, strategy;
        const char *what;
    } kinds[] = {{6, Z_DEFAULT_STRATEGY, "dynamic"}, {1, Z_FIXED, "fixed"}, {0, Z_DEFAULT_STRATEGY, "stored"},
                 {9, Z_HUFFMAN_ONLY, "huffman-only"}};
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = sizes[s];
        uint8_t *data = malloc(n + 1);
        make_data(data, n, (uint32_t)s + 40);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            if (n >= MiB && k == 3)
                continue;
            size_t zlen;
            uint8_t *z = zlib_compress(data, n, kinds[k].level, kinds[k].strategy, &zlen);
            tbuf dst;
            uint64_t len = 0;
            double t0 = now_s();
            accel_result r = run_inflate(fn, z, zlen, n, &dst, &len);
            if (n >= MiB)
                print_message("    zlib.inflate (%s, %zu -> %zu bytes): %.2f s\n", kinds[k].what, zlen, n,
                              now_s() - t0);
            assert_int_equal(r, ACCEL_SUCCESS);
            assert_int_equal(len, n);
            assert_memory_equal(dst.host + 3, data, n);
            assert_untouched_around(&dst, 3, n);
            tb_free(&dst);
            free(z);
        }
        free(data);
    }
    drv.t->function_release(fn);
}

/* zlib's stream of data[0..n) at `level` inflates back to data; `what`
 * names the stream in a failure. */
static void check_inflates_zlib_stream(void *fn, const uint8_t *data, size_t n, int level, const char *what)
{
    size_t zlen;
    uint8_t *z = zlib_compress(data, n, level, Z_DEFAULT_STRATEGY, &zlen);
    tbuf dst;
    uint64_t len = 0;
    assert_int_equal(run_inflate(fn, z, zlen, n, &dst, &len), ACCEL_SUCCESS);
    assert_int_equal(len, n);
    if (memcmp(dst.host + 3, data, n) != 0)
        fail_msg("zlib.inflate of %s differs", what);
    tb_free(&dst);
    free(z);
}

/* zlib's streams of every level (and of the corpus at level 9) decode. */
static void test_inflate_levels(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.inflate", 3);
    size_t n = MiB + 5;
    uint8_t *data = malloc(n);
    make_data(data, n, 99);
    for (int level = 0; level <= 9; level++) {
        char what[32];
        snprintf(what, sizeof(what), "zlib's level %d stream", level);
        check_inflates_zlib_stream(fn, data, n, level, what);
    }
    free(data);
    for (size_t i = 0; getenv("ACCEL_TEST_CORPUS") && i < sizeof(corpus_files) / sizeof(corpus_files[0]); i++) {
        uint8_t *f = corpus_read(corpus_files[i], &n);
        check_inflates_zlib_stream(fn, f, n, 9, corpus_files[i]);
        free(f);
    }
    drv.t->function_release(fn);
}

/* The loader's standard test data (tests/loader/test_standard.c): text with
 * noise, so that zlib level 6 writes dynamic blocks full of short matches. */
static void fill_input(uint8_t *p, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (x >> 28) < 3 ? (uint8_t)(x >> 16) : (uint8_t)("accelerator "[i % 12]);
    }
}

/* 64 MiB of that (the largest of sizes[]: 4 MiB under the sanitizers),
 * compressed by zlib at level 6: millions of symbols, so inflate needs many
 * of its resumable dispatches; it must come back whole. */
static void test_inflate_many_symbols(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.inflate", 3);
    size_t n = sizes[3];
    uint8_t *data = malloc(n);
    fill_input(data, n);
    uLongf zlen = compressBound(n);
    uint8_t *z = malloc(zlen);
    assert_int_equal(compress2(z, &zlen, data, n, 6), Z_OK);
    tbuf dst;
    uint64_t len = 0;
    double t0 = now_s();
    accel_result r = run_inflate(fn, z, zlen, n, &dst, &len);
    print_message("    zlib.inflate (level 6, %lu -> %zu bytes): %.2f s\n", (unsigned long)zlen, n, now_s() - t0);
    assert_int_equal(r, ACCEL_SUCCESS);
    if (len != n || memcmp(dst.host + 3, data, n) != 0) {
        size_t i = 0;
        while (i < n && dst.host[3 + i] == data[i])
            i++;
        fail_msg("inflated %llu bytes (expected %zu); first wrong byte at %zu", (unsigned long long)len, n, i);
    }
    assert_untouched_around(&dst, 3, n);
    tb_free(&dst);
    free(z);
    free(data);
    drv.t->function_release(fn);
}

/* A valid stream with more work than the driver's dispatches allow (80000
 * empty fixed-Huffman blocks, 100 KB for no output) fails the call; it
 * must never report success with a partial result. */
static void test_inflate_over_budget(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.inflate", 3);
    const size_t blocks = 80000;
    size_t cap = 2 + blocks * 10 / 8 + 8;
    uint8_t *z = calloc(cap, 1);
    z[0] = 0x78;
    z[1] = 0x01;
    size_t bit = 16;
    for (size_t i = 0; i < blocks; i++) {
        /* BFINAL, BTYPE = 01 (LSB first), then end-of-block: 7 zero bits. */
        if (i + 1 == blocks)
            z[bit / 8] |= (uint8_t)(1u << (bit % 8));
        bit++;
        z[bit / 8] |= (uint8_t)(1u << (bit % 8));
        bit += 9;
    }
    size_t zlen = (bit + 7) / 8;
    z[zlen++] = 0; /* Adler-32 of nothing: 1 */
    z[zlen++] = 0;
    z[zlen++] = 0;
    z[zlen++] = 1;
    uint8_t check[16];
    uLongf got = sizeof(check);
    assert_int_equal(uncompress(check, &got, z, (uLong)zlen), Z_OK);
    assert_int_equal(got, 0);
    tbuf dst;
    uint64_t len = 0;
    assert_int_equal(run_inflate(fn, z, zlen, 16, &dst, &len), ACCEL_ERROR_UNSUPPORTED);
    tb_free(&dst);
    free(z);
    drv.t->function_release(fn);
}

static void test_inflate_errors(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *fn = builtin("zlib.inflate", 3);
    uint8_t data[5000];
    make_data(data, sizeof(data), 7);
    size_t zlen;
    uint8_t *z = zlib_compress(data, sizeof(data), 6, Z_DEFAULT_STRATEGY, &zlen);
    tbuf dst;
    uint64_t len;
    /* Output one byte too small. */
    assert_int_equal(run_inflate(fn, z, zlen, sizeof(data) - 1, &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_bytes(dst.host + 3 + sizeof(data) - 1, 0xee, GUARD);
    tb_free(&dst);
    /* Bad Adler-32, truncated stream, trailing garbage, bad header. */
    uint8_t *bad = malloc(zlen + 1);
    memcpy(bad, z, zlen);
    bad[zlen - 1] ^= 1;
    assert_int_equal(run_inflate(fn, bad, zlen, sizeof(data), &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&dst);
    assert_int_equal(run_inflate(fn, z, zlen - 5, sizeof(data), &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&dst);
    memcpy(bad, z, zlen);
    bad[zlen] = 0;
    assert_int_equal(run_inflate(fn, bad, zlen + 1, sizeof(data), &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&dst);
    memcpy(bad, z, zlen);
    bad[0] = 0x79;
    assert_int_equal(run_inflate(fn, bad, zlen, sizeof(data), &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&dst);
    /* Every single-byte corruption of the body: an error or (rarely) a
     * different stream that still checks out; never a hang or a crash. */
    for (size_t i = 2; i < zlen && i < 40; i++) {
        memcpy(bad, z, zlen);
        bad[i] ^= 0x55;
        accel_result r = run_inflate(fn, bad, zlen, sizeof(data), &dst, &len);
        assert_true(r == ACCEL_SUCCESS || r == ACCEL_ERROR_INVALID_ARGUMENT);
        tb_free(&dst);
    }
    assert_int_equal(run_inflate(fn, (const uint8_t *)"", 0, 16, &dst, &len), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&dst);
    free(bad);
    free(z);
    drv.t->function_release(fn);
}

static void test_too_small(void **state)
{
    (void)state;
    NEED_DEVICE();
    tbuf a = tb_new(4096, 0x5a), b = tb_new(4096, 0xee);
    void *copy = builtin("accel.copy", 2), *crc = builtin("crc32c", 2), *sha = builtin("sha256", 2),
         *def = builtin("zlib.deflate", 4);
    accel_icd_arg args[4] = {ih_mem(a.mem, 0, 100), ih_mem(b.mem, 0, 99)};
    args[3] = (accel_icd_arg){.kind = ACCEL_ARG_I32, .u.i32 = 6};
    assert_int_equal(ih_run(&drv, queue, copy, args, 2, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(b.mem, 0, 3);
    assert_int_equal(ih_run(&drv, queue, crc, args, 2, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(b.mem, 0, 31);
    assert_int_equal(ih_run(&drv, queue, sha, args, 2, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(b.mem, 0, 100);
    args[2] = ih_mem(b.mem, 200, 8);
    args[3].u.i32 = 0; /* stored: 100 bytes take 111 */
    assert_int_equal(ih_run(&drv, queue, def, args, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(b.mem, 0, 1000);
    args[2] = ih_mem(b.mem, 2000, 7);
    args[3].u.i32 = 6;
    assert_int_equal(ih_run(&drv, queue, def, args, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_pull(&b);
    assert_bytes(b.host, 0xee, b.size);
    /* The queue goes on working after a failed call. */
    args[1] = ih_mem(b.mem, 0, 100);
    assert_int_equal(ih_run(&drv, queue, copy, args, 2, 0, 0), ACCEL_SUCCESS);
    tb_pull(&b);
    assert_bytes(b.host, 0x5a, 100);
    /* A range outside its memory is refused at submission. */
    args[1] = ih_mem(b.mem, 4000, 100);
    void *fence = NULL;
    accel_icd_submit s = {.struct_size = sizeof(s), .function = copy, .args = args, .arg_count = 2};
    assert_int_equal(drv.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&a);
    tb_free(&b);
}

static void test_fence_order(void **state)
{
    (void)state;
    NEED_DEVICE();
    size_t n = 16 * MiB;
    tbuf a = tb_new(n, 0), b = tb_new(n, 0);
    void *fill = builtin("accel.fill", 2), *copy = builtin("accel.copy", 2), *crc = builtin("crc32c", 2);
    /* Queue 1 fills A; queue 2 copies A to B once the fill's fence is done. */
    accel_icd_arg fargs[] = {ih_mem(a.mem, 0, n), ih_u32(0xa5a5a5a5u)};
    accel_icd_submit s1 = {.struct_size = sizeof(s1), .function = fill, .args = fargs, .arg_count = 2};
    void *f1, *f2;
    assert_int_equal(drv.t->queue_submit(queue, &s1, &f1), ACCEL_SUCCESS);
    accel_icd_arg cargs[] = {ih_mem(a.mem, 0, n), ih_mem(b.mem, 0, n)};
    accel_icd_submit s2 = {.struct_size = sizeof(s2), .function = copy, .args = cargs, .arg_count = 2,
                           .wait_fence_count = 1, .wait_fences = &f1};
    assert_int_equal(drv.t->queue_submit(queue2, &s2, &f2), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(f2, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_status(f1), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_status(f2), ACCEL_SUCCESS);
    drv.t->fence_release(f1);
    drv.t->fence_release(f2);
    tb_pull(&b);
    assert_bytes(b.host, 0xa5, n);

    /* In order on one queue without wait fences: fill then crc. */
    tbuf r = tb_new(16, 0);
    accel_icd_arg fargs2[] = {ih_mem(a.mem, 0, n), ih_u32(0x01020304u)};
    accel_icd_arg crcargs[] = {ih_mem(a.mem, 0, n), ih_mem(r.mem, 0, 4)};
    s1.args = fargs2;
    accel_icd_submit s3 = {.struct_size = sizeof(s3), .function = crc, .args = crcargs, .arg_count = 2};
    assert_int_equal(drv.t->queue_submit(queue, &s1, &f1), ACCEL_SUCCESS);
    assert_int_equal(drv.t->queue_submit(queue, &s3, &f2), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(f2, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(f1, 0), ACCEL_SUCCESS);
    drv.t->fence_release(f2);
    drv.t->fence_release(f1);
    tb_pull(&r);
    uint8_t *expect = malloc(n);
    for (size_t i = 0; i < n; i++)
        expect[i] = (uint8_t)(4 - i % 4); /* 0x01020304, little-endian */
    uint32_t v;
    memcpy(&v, r.host, 4);
    assert_int_equal(v, ref_crc32c(expect, n));
    free(expect);

    /* A failed wait fence fails the submission that waits for it. */
    accel_icd_arg bad[] = {ih_mem(a.mem, 0, 100), ih_mem(b.mem, 0, 10)};
    accel_icd_submit s4 = {.struct_size = sizeof(s4), .function = copy, .args = bad, .arg_count = 2};
    assert_int_equal(drv.t->queue_submit(queue, &s4, &f1), ACCEL_SUCCESS);
    s2.wait_fences = &f1;
    assert_int_equal(drv.t->queue_submit(queue2, &s2, &f2), ACCEL_SUCCESS);
    assert_int_equal(drv.t->fence_wait(f2, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(drv.t->fence_status(f1), ACCEL_ERROR_INVALID_ARGUMENT);
    drv.t->fence_release(f1);
    drv.t->fence_release(f2);

    /* A fence released before it completes is recycled safely. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(drv.t->queue_submit(queue, &s1, &f1), ACCEL_SUCCESS);
        drv.t->fence_release(f1);
    }
    assert_int_equal(ih_run(&drv, queue, crc, crcargs, 2, 0, 0), ACCEL_SUCCESS);
    tb_free(&r);
    tb_free(&a);
    tb_free(&b);
}

static void test_user_kernel(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *prog = NULL, *fn = NULL;
    char log[256];
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, scale_spv, scale_spv_size, NULL, &prog,
                                         log, sizeof(log)),
                     ACCEL_SUCCESS);
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(drv.t->function_get(dev, prog, "main", &fn, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 3);
    assert_int_equal(info.arg_kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(info.arg_kinds[1], ACCEL_ARG_F32);
    assert_int_equal(info.arg_kinds[2], ACCEL_ARG_U32);
    void *missing = NULL;
    assert_int_equal(drv.t->function_get(dev, prog, "scale", &missing, &info), ACCEL_ERROR_NOT_FOUND);

    const uint32_t n = 1000; /* not a multiple of the local size, 64 */
    tbuf d = tb_new((n + 64) * sizeof(float), 0);
    float *v = (float *)d.host;
    for (uint32_t i = 0; i < n + 64; i++)
        v[i] = (float)i;
    tb_push(&d);
    accel_icd_arg args[3] = {ih_mem(d.mem, 0, (n + 64) * sizeof(float)), {.kind = ACCEL_ARG_F32}, ih_u32(n)};
    args[1].u.f32 = 2.5f;
    assert_int_equal(ih_run(&drv, queue, fn, args, 3, 1, n), ACCEL_SUCCESS);
    tb_pull(&d);
    for (uint32_t i = 0; i < n + 64; i++)
        assert_true(v[i] == (i < n ? (float)i * 2.5f : (float)i));
    /* Work size 0 runs nothing; an offset that breaks the descriptor
     * alignment is refused. */
    assert_int_equal(ih_run(&drv, queue, fn, args, 3, 1, 0), ACCEL_SUCCESS);
    args[0] = ih_mem(d.mem, 4, 64);
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = 1, .function = fn, .args = args, .arg_count = 3,
                          .work_size = {16, 1, 1}};
    void *fence = NULL;
    assert_int_equal(drv.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    tb_free(&d);
    drv.t->function_release(fn);
    drv.t->program_release(prog);
}

static void test_bad_programs(void **state)
{
    (void)state;
    NEED_DEVICE();
    void *prog = NULL;
    char log[256];
    static const uint32_t garbage[] = {0xdeadbeef, 1, 2, 3, 4, 5};
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, garbage, sizeof(garbage), NULL, &prog,
                                         log, sizeof(log)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_true(log[0] != '\0');
    print_message("    garbage: %s\n", log);
    /* The real module cut short. */
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, scale_spv, scale_spv_size / 2 + 2, NULL,
                                         &prog, log, sizeof(log)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    print_message("    truncated: %s\n", log);
    /* An instruction whose word count runs past the end. */
    uint32_t *copy = malloc(scale_spv_size);
    memcpy(copy, scale_spv, scale_spv_size);
    copy[5] = (copy[5] & 0xffff) | (0xffffu << 16);
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, copy, scale_spv_size, NULL, &prog, log,
                                         sizeof(log)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    free(copy);
    assert_int_equal(drv.t->program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, "kernel void k(){}", 18, NULL, &prog,
                                         log, sizeof(log)),
                     ACCEL_ERROR_UNSUPPORTED);
}

int main(void)
{
    const char *sanitized = getenv("ACCEL_TEST_SANITIZED");
    if (sanitized && *sanitized)
        sizes[3] = 4 * MiB;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_devices),     cmocka_unit_test(test_memory),        cmocka_unit_test(test_noop),          cmocka_unit_test(test_copy),
        cmocka_unit_test(test_fill),        cmocka_unit_test(test_crc32c),        cmocka_unit_test(test_crc32c_lengths),
        cmocka_unit_test(test_sha256),      cmocka_unit_test(test_deflate),       cmocka_unit_test(test_deflate_large),
        cmocka_unit_test(test_deflate_incompressible),                            cmocka_unit_test(test_deflate_errors),
        cmocka_unit_test(test_deflate_corpus),                                    cmocka_unit_test(test_inflate),
        cmocka_unit_test(test_inflate_levels),                                    cmocka_unit_test(test_inflate_many_symbols),
        cmocka_unit_test(test_inflate_over_budget),        cmocka_unit_test(test_inflate_errors),
        cmocka_unit_test(test_too_small),   cmocka_unit_test(test_fence_order),   cmocka_unit_test(test_user_kernel),
        cmocka_unit_test(test_bad_programs),
    };
    const char *only = getenv("ICD_VULKAN_TEST_FILTER"); /* e.g. test_inflate* */
    if (only && *only)
        cmocka_set_test_filter(only);
    return cmocka_run_group_tests_name("icd-vulkan", tests, setup, teardown);
}
