/* test_standard.c — every standard function on every device of the
 * build tree's example drivers (cpu, opencl over PoCL, vulkan over
 * lavapipe, when present), through the loader, for inputs of 0 B, 1 B,
 * 4 KiB + 3 B and 64 MiB: the same bytes on every device, checked against
 * values this test computes itself (crc32c) or known vectors (sha256), and
 * every deflate output inflated back, on its own device and on the others,
 * and by zlib. */
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

/* The largest size is 4 MiB under the sanitizers (ACCEL_TEST_SANITIZED):
 * they look for memory errors, which do not need 64 MiB to show, and the
 * normal build runs the full size. */
static uint64_t sizes[] = {0, 1, 4096 + 3, 64ull << 20};

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
        /* Programmable devices offer every standard function; others
         * (an FPGA slot without an image that has them) are skipped. */
        accel_function *probe = NULL;
        if (accel_function_get(c->dev, NULL, "crc32c", &probe) == ACCEL_ERROR_NOT_FOUND) {
            bool programmable = strcmp(c->info.driver_name, "cpu") == 0 || strcmp(c->info.driver_name, "opencl") == 0 ||
                                strcmp(c->info.driver_name, "vulkan") == 0;
            if (programmable)
                fail_msg("%s (driver %s) offers no crc32c", c->info.name, c->info.driver_name);
            print_message("skipping %s: it offers no standard functions\n", c->info.name);
            continue;
        }
        accel_function_destroy(probe);
        if (accel_queue_create(c->dev, 0, &c->q) != ACCEL_SUCCESS) {
            print_message("skipping %s: %s\n", c->info.name, accel_last_error_message());
            continue;
        }
        f->n++;
    }
    free(devs);
    assert_true(f->n >= 1); /* the cpu driver at least */
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

static uint32_t crc32c_ref(const unsigned char *p, uint64_t n)
{
    static uint32_t table[256];
    if (!table[1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
    }
    uint32_t c = 0xFFFFFFFFu;
    for (uint64_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
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

static accel_arg marg(accel_memory *m, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.size = size;
    return a;
}

/* Run a built-in and return the fence's result. */
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
    return r;
}

static void fill_input(unsigned char *p, uint64_t n)
{
    /* Compressible but not trivial: text-like runs with noise. */
    uint32_t x = 12345;
    for (uint64_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (x >> 28) < 3 ? (unsigned char)(x >> 16) : (unsigned char)("accelerator "[i % 12]);
    }
}

static void test_standard_crc32c_and_sha256(void **state)
{
    fixture *f = *state;
    static const unsigned char abc_digest[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        accel_memory *in = mem(f, n), *out = mem(f, 32);
        fill_input(host(in), n);
        uint32_t want = crc32c_ref(host(in), n);
        unsigned char digest0[32];
        for (uint32_t d = 0; d < f->n; d++) {
            accel_arg args[2] = {marg(in, n), marg(out, 4)};
            memset(host(out), 0xee, 32);
            assert_int_equal(run(&f->d[d], "crc32c", args, 2), ACCEL_SUCCESS);
            uint32_t got;
            memcpy(&got, host(out), 4);
            if (got != want)
                fail_msg("crc32c of %llu bytes on %s: %08x, expected %08x", (unsigned long long)n, f->d[d].info.name,
                         got, want);
            args[1] = marg(out, 32);
            assert_int_equal(run(&f->d[d], "sha256", args, 2), ACCEL_SUCCESS);
            if (d == 0)
                memcpy(digest0, host(out), 32);
            else if (memcmp(digest0, host(out), 32) != 0)
                fail_msg("sha256 of %llu bytes differs between %s and %s", (unsigned long long)n,
                         f->d[0].info.name, f->d[d].info.name);
        }
        accel_memory_free(in);
        accel_memory_free(out);
    }
    /* Known vector, on every device. */
    accel_memory *in = mem(f, 3), *out = mem(f, 32);
    memcpy(host(in), "abc", 3);
    for (uint32_t d = 0; d < f->n; d++) {
        accel_arg args[2] = {marg(in, 3), marg(out, 32)};
        assert_int_equal(run(&f->d[d], "sha256", args, 2), ACCEL_SUCCESS);
        if (memcmp(host(out), abc_digest, 32) != 0)
            fail_msg("sha256(\"abc\") wrong on %s", f->d[d].info.name);
    }
    accel_memory_free(in);
    accel_memory_free(out);
}

static void test_standard_copy_and_fill(void **state)
{
    fixture *f = *state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        accel_memory *a = mem(f, n), *b = mem(f, n);
        fill_input(host(a), n);
        for (uint32_t d = 0; d < f->n; d++) {
            memset(host(b), 0, n);
            accel_arg args[2] = {marg(a, n), marg(b, n)};
            assert_int_equal(run(&f->d[d], "accel.copy", args, 2), ACCEL_SUCCESS);
            if (n && memcmp(host(a), host(b), n) != 0)
                fail_msg("accel.copy of %llu bytes wrong on %s", (unsigned long long)n, f->d[d].info.name);
            accel_arg fill[2] = {marg(b, n), {.kind = ACCEL_ARG_U32, .u.u32 = 0x04030201u}};
            assert_int_equal(run(&f->d[d], "accel.fill", fill, 2), ACCEL_SUCCESS);
            for (uint64_t i = 0; i < n; i++)
                if (host(b)[i] != (unsigned char)(1 + i % 4))
                    fail_msg("accel.fill byte %llu of %llu wrong on %s", (unsigned long long)i,
                             (unsigned long long)n, f->d[d].info.name);
        }
        accel_memory_free(a);
        accel_memory_free(b);
    }
}

static void test_standard_deflate_inflate(void **state)
{
    fixture *f = *state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        uint64_t bound = n + 5 * ((n + 65534) / 65535) + 11;
        accel_memory *in = mem(f, n), *z = mem(f, bound), *back = mem(f, n), *len = mem(f, 8);
        fill_input(host(in), n);
        for (uint32_t d = 0; d < f->n; d++) {
            accel_arg args[3] = {marg(in, n), marg(z, bound), marg(len, 8)};
            assert_int_equal(run(&f->d[d], "zlib.deflate", args, 3), ACCEL_SUCCESS);
            uint64_t zlen;
            memcpy(&zlen, host(len), 8);
            assert_true(zlen <= bound);
            /* zlib inflates it back... */
            unsigned char *check = malloc(n ? n : 1);
            uLongf got = (uLongf)n;
            assert_int_equal(uncompress(check, &got, host(z), (uLong)zlen), Z_OK);
            assert_int_equal(got, n);
            assert_true(n == 0 || memcmp(check, host(in), n) == 0);
            free(check);
            /* ...and so does every device. */
            for (uint32_t e = 0; e < f->n; e++) {
                memset(host(back), 0, n);
                accel_arg inf[3] = {marg(z, zlen), marg(back, n), marg(len, 8)};
                assert_int_equal(run(&f->d[e], "zlib.inflate", inf, 3), ACCEL_SUCCESS);
                uint64_t blen;
                memcpy(&blen, host(len), 8);
                if (blen != n || (n && memcmp(host(back), host(in), n) != 0))
                    fail_msg("%llu bytes deflated on %s do not inflate back on %s", (unsigned long long)n,
                             f->d[d].info.name, f->d[e].info.name);
            }
        }
        accel_memory_free(in);
        accel_memory_free(z);
        accel_memory_free(back);
        accel_memory_free(len);
    }
}

/* Real compression from zlib (dynamic Huffman blocks) inflates on every device. */
static void test_standard_inflate_zlib_stream(void **state)
{
    fixture *f = *state;
    uint64_t n = 4096 + 3;
    accel_memory *in = mem(f, n), *z = mem(f, compressBound(n)), *back = mem(f, n), *len = mem(f, 8);
    fill_input(host(in), n);
    uLongf zlen = compressBound(n);
    assert_int_equal(compress2(host(z), &zlen, host(in), n, 9), Z_OK);
    for (uint32_t d = 0; d < f->n; d++) {
        accel_arg inf[3] = {marg(z, zlen), marg(back, n), marg(len, 8)};
        assert_int_equal(run(&f->d[d], "zlib.inflate", inf, 3), ACCEL_SUCCESS);
        assert_memory_equal(host(back), host(in), n);
        /* A corrupt stream and a too-small output fail the fence, nothing else. */
        host(z)[zlen / 2] ^= 0x55;
        assert_int_equal(run(&f->d[d], "zlib.inflate", inf, 3), ACCEL_ERROR_INVALID_ARGUMENT);
        host(z)[zlen / 2] ^= 0x55;
        /* The queue is broken after a failure (the next submission would
         * fail with the same error whatever it did): use a fresh one. */
        accel_queue_destroy(f->d[d].q);
        assert_int_equal(accel_queue_create(f->d[d].dev, 0, &f->d[d].q), ACCEL_SUCCESS);
        accel_arg small[3] = {marg(z, zlen), marg(back, n - 1), marg(len, 8)};
        assert_int_equal(run(&f->d[d], "zlib.inflate", small, 3), ACCEL_ERROR_INVALID_ARGUMENT);
        accel_queue_destroy(f->d[d].q);
        assert_int_equal(accel_queue_create(f->d[d].dev, 0, &f->d[d].q), ACCEL_SUCCESS);
    }
    accel_memory_free(in);
    accel_memory_free(z);
    accel_memory_free(back);
    accel_memory_free(len);
}

/* A real compiler's log reaches the application: an OpenCL C program with
 * an error, on every OpenCL device. */
static void test_standard_build_log_from_opencl(void **state)
{
    fixture *f = *state;
    int tried = 0;
    const char src[] = "__kernel void broken(__global float *x) { x[0] = undeclared_name; }\n";
    for (uint32_t d = 0; d < f->n; d++) {
        if (f->d[d].info.interface != ACCEL_DEVICE_INTERFACE_OPENCL)
            continue;
        accel_program *p = NULL;
        assert_int_equal(accel_program_load(f->d[d].dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, src, sizeof(src) - 1, NULL, &p),
                         ACCEL_ERROR_INVALID_ARGUMENT);
        assert_null(p);
        const char *msg = accel_last_error_message();
        if (!strstr(msg, "build log:") || !strstr(msg, "undeclared_name"))
            fail_msg("the compiler log is not in the detail: %s", msg);
        tried++;
    }
    if (!tried)
        skip();
}

/* A fence of one driver gates a queue of another on one memory object:
 * crc32c on every other device waits for accel.fill on the first. */
static void test_standard_fence_gates_other_driver(void **state)
{
    fixture *f = *state;
    if (f->n < 2)
        skip();
    const uint64_t n = 1 << 20;
    accel_memory *buf = mem(f, n), *out = mem(f, 4);
    accel_function *fill = NULL;
    assert_int_equal(accel_function_get(f->d[0].dev, NULL, "accel.fill", &fill), ACCEL_SUCCESS);
    uint32_t want;
    {
        unsigned char *expect = malloc(n);
        for (uint64_t i = 0; i < n; i++)
            expect[i] = (unsigned char)(0x5a + i % 4);
        want = crc32c_ref(expect, n);
        free(expect);
    }
    for (uint32_t d = 1; d < f->n; d++) {
        memset(host(buf), 0, n);
        accel_arg fa[2] = {marg(buf, n), {.kind = ACCEL_ARG_U32, .u.u32 = 0x5d5c5b5au}};
        accel_submit_info s = {.struct_size = sizeof(s), .function = fill, .args = fa, .arg_count = 2};
        accel_fence *filled = NULL, *summed = NULL;
        assert_int_equal(accel_queue_submit(f->d[0].q, &s, &filled), ACCEL_SUCCESS);
        accel_function *crc = NULL;
        assert_int_equal(accel_function_get(f->d[d].dev, NULL, "crc32c", &crc), ACCEL_SUCCESS);
        accel_arg ca[2] = {marg(buf, n), marg(out, 4)};
        accel_submit_info c = {.struct_size = sizeof(c), .function = crc, .args = ca, .arg_count = 2,
                               .wait_fences = &filled, .wait_fence_count = 1};
        assert_int_equal(accel_queue_submit(f->d[d].q, &c, &summed), ACCEL_SUCCESS);
        assert_int_equal(accel_fence_wait(&summed, 1, true, UINT64_MAX), ACCEL_SUCCESS);
        assert_int_equal(accel_fence_status(filled), ACCEL_SUCCESS);
        uint32_t got;
        memcpy(&got, host(out), 4);
        if (got != want)
            fail_msg("crc32c on %s after accel.fill on %s: %08x, expected %08x", f->d[d].info.name,
                     f->d[0].info.name, got, want);
        accel_fence_release(filled);
        accel_fence_release(summed);
        accel_function_destroy(crc);
    }
    accel_function_destroy(fill);
    accel_memory_free(buf);
    accel_memory_free(out);
}

int main(void)
{
    const char *sanitized = getenv("ACCEL_TEST_SANITIZED");
    if (sanitized && *sanitized)
        sizes[3] = 4ull << 20;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_standard_crc32c_and_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_standard_copy_and_fill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_standard_deflate_inflate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_standard_inflate_zlib_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_standard_build_log_from_opencl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_standard_fence_gates_other_driver, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
