/* test_icd_cpu.c — the cpu driver through its function table, without the
 * loader (icd_harness.h): memory, the standard functions, ELF kernels,
 * queues and fences, device-loss injection. Also the kernel metadata
 * parser, compiled in from icd-examples/cpu/cpu_metadata.c.
 *
 * Reference values (SHA-256, CRC-32C of the generated data, the zlib
 * stream) were computed outside the driver (Python's hashlib and zlib, and
 * an independent bitwise CRC-32C). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../../loader/support_env.h"
#include "../icd_harness.h"
#include "../icd_support.h"
#include "cpu_metadata.h"

#define MIB        (1024u * 1024u)
#define BIG        (64u * MIB)
#define GUARD      64u
#define GUARD_BYTE 0xA5

static ih_driver D; /* the driver under test, opened once */
static void *DEV;   /* its device */
static void *Q;     /* a queue for submissions expected to succeed */

/* Further instances of the driver (environment variables are read at
 * driver_init). Static: the driver keeps a pointer to the services of the
 * last negotiation. */
static ih_driver D2;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- memory helpers ------------------------------------------------------ */

/* Host memory with GUARD bytes on each side, attached as a whole; the
 * range handed to functions is the middle. */
typedef struct hbuf {
    uint8_t *all;
    uint8_t *p;
    uint64_t size;
    void *mem;
} hbuf;

static hbuf hb_new(uint64_t size)
{
    hbuf b = {.size = size};
    b.all = malloc(size + 2 * GUARD);
    assert_non_null(b.all);
    b.p = b.all + GUARD;
    memset(b.all, GUARD_BYTE, GUARD);
    memset(b.p + size, GUARD_BYTE, GUARD);
    int staged = -1;
    assert_int_equal(ih_attach(&D, DEV, b.all, size + 2 * GUARD, &b.mem, &staged), ACCEL_SUCCESS);
    assert_int_equal(staged, 0);
    return b;
}

static accel_icd_arg hb_arg(const hbuf *b)
{
    return ih_mem(b->mem, GUARD, b->size);
}

static void hb_check_guards(const hbuf *b)
{
    for (uint32_t i = 0; i < GUARD; i++) {
        assert_int_equal(b->all[i], GUARD_BYTE);
        assert_int_equal(b->p[b->size + i], GUARD_BYTE);
    }
}

static void hb_free(hbuf *b)
{
    hb_check_guards(b);
    D.t->memory_detach(DEV, b->mem);
    free(b->all);
    memset(b, 0, sizeof(*b));
}

static void *builtin(const char *name)
{
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(D.t->function_get(DEV, NULL, name, &fn, &info), ACCEL_SUCCESS);
    assert_non_null(fn);
    return fn;
}

static accel_result run(void *fn, const accel_icd_arg *args, uint32_t n)
{
    return ih_run(&D, Q, fn, args, n, 0, 0);
}

/* For submissions expected to fail: a failure breaks its queue. */
static accel_result run_fresh(void *fn, const accel_icd_arg *args, uint32_t n)
{
    return run_on_fresh_queue(&D, DEV, fn, args, n);
}

static void *submit(void *q, void *fn, const accel_icd_arg *args, uint32_t n, uint32_t work_dim,
                    const uint64_t ws[3], void *const *waits, uint32_t wait_count)
{
    accel_icd_submit s = {.struct_size = sizeof(s),
                          .work_dim = work_dim,
                          .function = fn,
                          .args = args,
                          .arg_count = n,
                          .wait_fence_count = wait_count,
                          .wait_fences = waits};
    if (ws)
        memcpy(s.work_size, ws, sizeof(s.work_size));
    void *fence = NULL;
    assert_int_equal(D.t->queue_submit(q, &s, &fence), ACCEL_SUCCESS);
    assert_non_null(fence);
    return fence;
}

static accel_result wait_release(void *fence)
{
    accel_result r = D.t->fence_wait(fence, UINT64_MAX);
    D.t->fence_release(fence);
    return r;
}

/* Lines "record %08x: the accel loader test line\n", the counter times
 * 2654435761, cut at n bytes. Compresses about 7:1, and fast. */
static void make_data(uint8_t *p, size_t n)
{
    char line[64];
    size_t i = 0;
    for (uint32_t k = 0; i < n; k++) {
        int len = snprintf(line, sizeof(line), "record %08x: the accel loader test line\n", k * 2654435761u);
        size_t take = (size_t)len < n - i ? (size_t)len : n - i;
        memcpy(p + i, line, take);
        i += take;
    }
}

static const uint64_t sizes[] = {0, 1, 4096 + 3, BIG};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* ---- setup ----------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    ts_env_push("ACCEL_CPU_FAULT_AFTER", NULL);
    ts_env_push("ACCEL_CPU_DISABLE_SSE42", NULL);
    if (ih_open_queue(&D, DRIVER_PATH, &DEV, &Q) != 0)
        return -1;
    return D.device_count == 1 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    ih_close_queue(&D, Q);
    ts_env_pop();
    return 0;
}

/* ---- table and memory -------------------------------------------------------- */

static void test_icd_cpu_table(void **state)
{
    (void)state;
    const accel_icd_table *t = D.t;
    assert_true(t->struct_size >= sizeof(accel_icd_table));
    assert_non_null(t->memory_attach);
    assert_non_null(t->memory_detach);
    assert_non_null(t->memory_alloc_device);
    assert_non_null(t->memory_free_device);
    assert_non_null(t->memory_write);
    assert_non_null(t->memory_read);
    assert_non_null(t->program_load);
    assert_non_null(t->program_release);
    assert_non_null(t->function_get);
    assert_non_null(t->function_release);
    assert_non_null(t->queue_create);
    assert_non_null(t->queue_destroy);
    assert_non_null(t->queue_submit);
    assert_non_null(t->fence_status);
    assert_non_null(t->fence_wait);
    assert_non_null(t->fence_release);
    assert_int_equal(D.info[0].kind, ACCEL_DEVICE_KIND_CPU);

    static const struct {
        const char *name;
        uint32_t count;
        accel_arg_kind kinds[4];
    } expect[] = {
        {"accel.noop", 0, {0}},
        {"accel.copy", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
        {"accel.fill", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
        {"crc32c", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
        {"sha256", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
        {"zlib.deflate", 4, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_I32}},
        {"zlib.inflate", 3, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        void *fn = NULL;
        accel_icd_function_info info;
        memset(&info, 0xff, sizeof(info));
        info.struct_size = sizeof(info);
        assert_int_equal(t->function_get(DEV, NULL, expect[i].name, &fn, &info), ACCEL_SUCCESS);
        assert_int_equal(info.struct_size, sizeof(info));
        assert_int_equal(info.arg_count, expect[i].count);
        for (uint32_t a = 0; a < expect[i].count; a++)
            assert_int_equal(info.arg_kinds[a], expect[i].kinds[a]);
        t->function_release(fn);
    }
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(t->function_get(DEV, NULL, "accel.nope", &fn, &info), ACCEL_ERROR_NOT_FOUND);
    assert_int_equal(t->function_get(DEV, NULL, "", &fn, &info), ACCEL_ERROR_NOT_FOUND);
    /* A caller with an older, shorter info struct: nothing past it is written. */
    struct {
        accel_icd_function_info info;
        uint8_t canary[8];
    } small;
    memset(&small, 0x5c, sizeof(small));
    small.info.struct_size = offsetof(accel_icd_function_info, arg_kinds);
    assert_int_equal(t->function_get(DEV, NULL, "crc32c", &fn, &small.info), ACCEL_SUCCESS);
    assert_int_equal(small.info.arg_count, 2);
    assert_int_equal(((uint8_t *)small.info.arg_kinds)[0], 0x5c);
    t->function_release(fn);
}

static void test_icd_cpu_memory_attach(void **state)
{
    (void)state;
    uint8_t page[4096];
    accel_icd_memory_desc desc = {
        .struct_size = sizeof(desc), .host_ptr = page, .size = sizeof(page), .fd = -1, .numa_node = -1};
    void *mem = NULL;
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    assert_int_equal(D.t->memory_attach(DEV, &desc, &mem, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    assert_non_null(mem);
    D.t->memory_detach(DEV, mem);

    /* Zero bytes, no pointer: fine. A size without a pointer: not. */
    desc.host_ptr = NULL;
    desc.size = 0;
    assert_int_equal(D.t->memory_attach(DEV, &desc, &mem, &mode), ACCEL_SUCCESS);
    D.t->memory_detach(DEV, mem);
    desc.size = 16;
    assert_int_equal(D.t->memory_attach(DEV, &desc, &mem, &mode), ACCEL_ERROR_INVALID_ARGUMENT);
}

static void test_icd_cpu_memory_device(void **state)
{
    (void)state;
    void *mem = NULL;
    uint8_t in[100], out[100];
    for (int i = 0; i < 100; i++)
        in[i] = (uint8_t)(i * 7);
    assert_int_equal(D.t->memory_alloc_device(DEV, 100, &mem), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_write(DEV, mem, 0, in, 100), ACCEL_SUCCESS);
    memset(out, 0, sizeof(out));
    assert_int_equal(D.t->memory_read(DEV, mem, 0, out, 100), ACCEL_SUCCESS);
    assert_memory_equal(in, out, 100);
    assert_int_equal(D.t->memory_write(DEV, mem, 90, in, 10), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_read(DEV, mem, 95, out, 5), ACCEL_SUCCESS);
    assert_memory_equal(in + 5, out, 5);
    assert_int_equal(D.t->memory_write(DEV, mem, 0, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_write(DEV, mem, 100, in, 0), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_write(DEV, mem, 91, in, 10), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(D.t->memory_read(DEV, mem, 101, out, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(D.t->memory_read(DEV, mem, UINT64_MAX, out, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(D.t->memory_read(DEV, mem, 1, out, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    D.t->memory_free_device(DEV, mem);

    assert_int_equal(D.t->memory_alloc_device(DEV, 0, &mem), ACCEL_SUCCESS);
    D.t->memory_free_device(DEV, mem);
}

/* The STAGED path as the loader would drive it: device memory written in,
 * a function over it, the result read back. */
static void test_icd_cpu_staged(void **state)
{
    (void)state;
    void *src = NULL, *dst = NULL;
    assert_int_equal(D.t->memory_alloc_device(DEV, 9, &src), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_alloc_device(DEV, 40, &dst), ACCEL_SUCCESS);
    assert_int_equal(D.t->memory_write(DEV, src, 0, "123456789", 9), ACCEL_SUCCESS);
    accel_icd_arg args[2] = {ih_mem(src, 0, 9), ih_mem(dst, 4, 4)};
    assert_int_equal(run(builtin("crc32c"), args, 2), ACCEL_SUCCESS);
    uint8_t out[4];
    assert_int_equal(D.t->memory_read(DEV, dst, 4, out, 4), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(out), 0xE3069283u);
    args[1] = ih_mem(dst, 8, 32);
    assert_int_equal(run(builtin("sha256"), args, 2), ACCEL_SUCCESS);
    uint8_t digest[32];
    assert_int_equal(D.t->memory_read(DEV, dst, 8, digest, 32), ACCEL_SUCCESS);
    assert_int_equal(digest[0], 0x15); /* sha256("123456789") = 15e2b0d3... */
    assert_int_equal(digest[1], 0xe2);
    D.t->memory_free_device(DEV, src);
    D.t->memory_free_device(DEV, dst);
}

/* ---- the standard functions ------------------------------------------------- */

static void test_icd_cpu_noop(void **state)
{
    (void)state;
    void *noop = builtin("accel.noop");
    for (int i = 0; i < 100; i++)
        assert_int_equal(run(noop, NULL, 0), ACCEL_SUCCESS);
    /* work_dim and work_size are ignored by built-ins. */
    assert_int_equal(ih_run(&D, Q, noop, NULL, 0, 3, 1000), ACCEL_SUCCESS);
}

static uint32_t crc_of(const uint8_t *p, uint64_t n)
{
    hbuf src = hb_new(n), res = hb_new(4);
    if (n)
        memcpy(src.p, p, n);
    accel_icd_arg args[2] = {hb_arg(&src), hb_arg(&res)};
    assert_int_equal(run(builtin("crc32c"), args, 2), ACCEL_SUCCESS);
    uint32_t crc = ih_le32(res.p);
    hb_free(&src);
    hb_free(&res);
    return crc;
}

/* RFC 3720 B.4 and the check value of docs/standard-functions.md, at
 * every alignment. */
static void crc_vectors(void)
{
    uint8_t buf[32 + 8];
    for (unsigned shift = 0; shift < 8; shift++) {
        uint8_t *p = buf + shift;
        memset(p, 0, 32);
        assert_int_equal(crc_of(p, 32), 0x8A9136AAu);
        memset(p, 0xff, 32);
        assert_int_equal(crc_of(p, 32), 0x62A8AB43u);
        for (int i = 0; i < 32; i++)
            p[i] = (uint8_t)i;
        assert_int_equal(crc_of(p, 32), 0x46DD794Eu);
        for (int i = 0; i < 32; i++)
            p[i] = (uint8_t)(31 - i);
        assert_int_equal(crc_of(p, 32), 0x113FDB5Cu);
        memcpy(p, "123456789", 9);
        assert_int_equal(crc_of(p, 9), 0xE3069283u);
    }
    assert_int_equal(crc_of(NULL, 0), 0);
}

static const uint32_t crc_of_sizes[NSIZES] = {0x0, 0xc2de77ab, 0xbac2ec72, 0xcafef1d4};

static void crc_sizes(void)
{
    uint8_t *data = malloc(BIG);
    assert_non_null(data);
    make_data(data, BIG);
    for (size_t i = 0; i < NSIZES; i++) {
        hbuf src = hb_new(sizes[i]), res = hb_new(4);
        memcpy(src.p, data, sizes[i]);
        accel_icd_arg args[2] = {hb_arg(&src), hb_arg(&res)};
        assert_int_equal(run(builtin("crc32c"), args, 2), ACCEL_SUCCESS);
        assert_int_equal(ih_le32(res.p), crc_of_sizes[i]);
        hb_free(&src);
        hb_free(&res);
    }
    free(data);
}

/* Every length up to 300 at every offset modulo 8, then lengths around
 * the block sizes fast implementations split their input at (powers of
 * two, three streams of them), against the bitwise reference. */
static void crc_lengths(void)
{
    enum { MAX = 3 * 32768 + 64 };
    hbuf src = hb_new(MAX + 8), res = hb_new(4);
    uint64_t x = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < src.size; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        src.p[i] = (uint8_t)(x >> 56);
    }
    void *crc = builtin("crc32c");
    for (unsigned off = 0; off < 8; off++) {
        for (uint64_t n = 0; n <= 300; n++) {
            accel_icd_arg args[2] = {ih_mem(src.mem, GUARD + off, n), hb_arg(&res)};
            assert_int_equal(run(crc, args, 2), ACCEL_SUCCESS);
            assert_int_equal(ih_le32(res.p), ref_crc32c_bitwise(src.p + off, n));
        }
    }
    for (uint64_t block = 64; block <= 32768; block *= 2) {
        for (int k = 1; k <= 3; k++) {
            for (int d = -1; d <= 1; d++) {
                uint64_t n = k * block + d;
                for (unsigned off = 0; off < 8; off += 3) {
                    accel_icd_arg args[2] = {ih_mem(src.mem, GUARD + off, n), hb_arg(&res)};
                    assert_int_equal(run(crc, args, 2), ACCEL_SUCCESS);
                    assert_int_equal(ih_le32(res.p), ref_crc32c_bitwise(src.p + off, n));
                }
            }
        }
    }
    hb_free(&src);
    hb_free(&res);
}

static void test_icd_cpu_crc32c(void **state)
{
    (void)state;
    crc_vectors();
    crc_lengths();
    crc_sizes();
}

/* The table path (without SSE4.2) gives the same results. */
static void test_icd_cpu_crc32c_tables(void **state)
{
    (void)state;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_DISABLE_SSE42", "1");
    assert_int_equal(ih_open(&D2, DRIVER_PATH), 0);
    ts_env_pop_to(depth);
    /* The setting is process-wide: the driver under test D now uses the
     * tables too until the next driver_init. */
    crc_vectors();
    crc_lengths();
    crc_sizes();
    ih_close(&D2);
    /* Back to the instruction where there is one. */
    assert_int_equal(ih_open(&D2, DRIVER_PATH), 0);
    ih_close(&D2);
    crc_vectors();
}

static void sha_of(const void *p, uint64_t n, uint8_t digest[32])
{
    hbuf src = hb_new(n), res = hb_new(32);
    if (n)
        memcpy(src.p, p, n);
    accel_icd_arg args[2] = {hb_arg(&src), hb_arg(&res)};
    assert_int_equal(run(builtin("sha256"), args, 2), ACCEL_SUCCESS);
    memcpy(digest, res.p, 32);
    hb_free(&src);
    hb_free(&res);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void assert_sha(const void *p, uint64_t n, const char *expect)
{
    uint8_t d[32];
    char text[65];
    sha_of(p, n, d);
    hex(d, 32, text);
    assert_string_equal(text, expect);
}

static void test_icd_cpu_sha256(void **state)
{
    (void)state;
    /* FIPS 180-4 examples and the boundary lengths of the padding. */
    assert_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
               "qrsmnopqrs"
               "tnopqrstu",
               112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    static const struct {
        size_t n;
        const char *digest;
    } as[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
        {1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++)
        assert_sha(a, as[i].n, as[i].digest);
    free(a);

    static const char *const of_sizes[NSIZES] = {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "454349e422f05297191ead13e21d3db520e5abef52055e4964b82fb213f593a1",
        "6fe680023bd08d75518389ee0b269057d5e909c7bc3059bf23fc375d8f74281b",
        "8c73ac52d4b1ef426205a89ad43ef1f02143095c6cb2bf3366fb5068f489e599",
    };
    uint8_t *data = malloc(BIG);
    assert_non_null(data);
    make_data(data, BIG);
    for (size_t i = 0; i < NSIZES; i++)
        assert_sha(data, sizes[i], of_sizes[i]);
    free(data);
}

static uint64_t deflate_bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 11;
}

/* zlib.deflate then zlib.inflate; the stream also checked with zlib. */
static void test_icd_cpu_deflate_inflate(void **state)
{
    (void)state;
    uint8_t *data = malloc(BIG);
    assert_non_null(data);
    make_data(data, BIG);
    for (size_t i = 0; i < NSIZES; i++) {
        uint64_t n = sizes[i];
        hbuf src = hb_new(n), z = hb_new(deflate_bound(n)), zlen = hb_new(8), back = hb_new(n),
             blen = hb_new(8);
        memcpy(src.p, data, n);
        accel_icd_arg dargs[4] = {hb_arg(&src), hb_arg(&z), hb_arg(&zlen), ih_i32(-1)};
        assert_int_equal(run(builtin("zlib.deflate"), dargs, 4), ACCEL_SUCCESS);
        uint64_t zn = ih_le64(zlen.p);
        assert_true(zn >= 8 && zn <= z.size);
        assert_int_equal(z.p[0] & 0x0f, 8); /* CM = deflate */
        assert_int_equal(((unsigned)z.p[0] << 8 | z.p[1]) % 31, 0);
        if (n == BIG)
            assert_true(zn < n / 4);

        /* zlib itself reads the stream back. */
        uint8_t *check = malloc(n ? n : 1);
        uLongf check_n = (uLongf)n;
        assert_int_equal(uncompress(check, &check_n, z.p, (uLong)zn), Z_OK);
        assert_int_equal(check_n, n);
        assert_memory_equal(check, data, n);
        free(check);

        memset(back.p, 0, n);
        accel_icd_arg iargs[3] = {ih_mem(z.mem, GUARD, zn), hb_arg(&back), hb_arg(&blen)};
        assert_int_equal(run(builtin("zlib.inflate"), iargs, 3), ACCEL_SUCCESS);
        assert_int_equal(ih_le64(blen.p), n);
        assert_memory_equal(back.p, data, n);
        hb_free(&src);
        hb_free(&z);
        hb_free(&zlen);
        hb_free(&back);
        hb_free(&blen);
    }
    free(data);
}

/* The size of a stream of stored blocks of n bytes: what level 0 writes. */
static uint64_t stored_stream_size(uint64_t n)
{
    return n + 5 * (n ? (n + 65534) / 65535 : 1) + 6;
}

/* zlib, the interoperability reference, reads z back: exactly one stream
 * with a valid header, decoding to exactly want. */
static void assert_zlib_inflates_to(const uint8_t *z, uint64_t zn, const uint8_t *want, uint64_t n)
{
    assert_true(zn >= 8);
    assert_int_equal(z[0] & 0x0f, 8); /* CM = deflate */
    assert_true((z[0] >> 4) <= 7);    /* window of at most 32 KiB */
    assert_int_equal(z[1] & 0x20, 0); /* no preset dictionary */
    assert_int_equal(((unsigned)z[0] << 8 | z[1]) % 31, 0);
    z_stream s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(inflateInit(&s), Z_OK);
    uint8_t *out = malloc(n + 1); /* one byte more: too much output shows */
    assert_non_null(out);
    s.next_in = (Bytef *)z;
    s.avail_in = (uInt)zn;
    s.next_out = out;
    s.avail_out = (uInt)(n + 1);
    assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
    assert_int_equal(s.avail_in, 0);
    assert_int_equal(s.total_out, n);
    assert_memory_equal(out, want, n);
    inflateEnd(&s);
    free(out);
}

/* zlib.deflate of data at `level` into a dst of exactly cap bytes (with
 * guards on both sides). On success the stream is copied to *z (malloc()ed)
 * and its size to *zn; on failure out_size must be untouched. */
static accel_result deflate_cap(const uint8_t *data, uint64_t n, int32_t level, uint64_t cap, uint8_t **z,
                                uint64_t *zn, bool fresh)
{
    hbuf src = hb_new(n), dst = hb_new(cap), len = hb_new(8);
    if (n)
        memcpy(src.p, data, n);
    memset(len.p, 0xee, 8);
    accel_icd_arg args[4] = {hb_arg(&src), hb_arg(&dst), hb_arg(&len), ih_i32(level)};
    accel_result r =
        fresh ? run_fresh(builtin("zlib.deflate"), args, 4) : run(builtin("zlib.deflate"), args, 4);
    *z = NULL;
    *zn = 0;
    if (r == ACCEL_SUCCESS) {
        *zn = ih_le64(len.p);
        assert_true(*zn >= 8 && *zn <= cap);
        *z = malloc(*zn);
        assert_non_null(*z);
        memcpy(*z, dst.p, *zn);
    } else {
        for (int i = 0; i < 8; i++)
            assert_int_equal(len.p[i], 0xee);
    }
    hb_free(&src);
    hb_free(&dst);
    hb_free(&len);
    return r;
}

static accel_result inflate_into(const uint8_t *stream, size_t n, uint8_t *out, size_t cap, uint64_t *out_n,
                                 bool fresh);

/* The driver's own zlib.inflate reads z back to data. */
static void assert_cpu_inflates_to(const uint8_t *z, uint64_t zn, const uint8_t *data, uint64_t n)
{
    uint8_t *back = malloc(n ? n : 1);
    assert_non_null(back);
    uint64_t got = 0;
    assert_int_equal(inflate_into(z, zn, back, n, &got, false), ACCEL_SUCCESS);
    assert_int_equal(got, n);
    assert_memory_equal(back, data, n);
    free(back);
}

/* Every level, into exactly the documented bound: zlib and the driver read
 * the stream back; -1 is level 6; level 0 writes stored blocks; the levels
 * reach libdeflate (9 compresses more than 1). */
static void test_icd_cpu_deflate_levels(void **state)
{
    (void)state;
    static const uint64_t ns[] = {0, 1, 65535, 65536, MIB + 7};
    uint8_t *data = malloc(MIB + 7);
    assert_non_null(data);
    make_data(data, MIB + 7);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        uint64_t n = ns[i], zn, default_n = 0, size_of[10] = {0};
        uint8_t *z, *default_z = NULL;
        for (int32_t level = -1; level <= 9; level++) {
            assert_int_equal(deflate_cap(data, n, level, deflate_bound(n), &z, &zn, false), ACCEL_SUCCESS);
            assert_zlib_inflates_to(z, zn, data, n);
            assert_cpu_inflates_to(z, zn, data, n);
            if (level == 0)
                assert_int_equal(zn, stored_stream_size(n));
            if (level >= 1 && n == MIB + 7)
                assert_true(zn < n / 4);
            if (level == -1) {
                default_z = z;
                default_n = zn;
                continue;
            }
            if (level == 6) {
                assert_int_equal(zn, default_n);
                assert_memory_equal(z, default_z, zn);
            }
            size_of[level] = zn;
            free(z);
        }
        if (n == MIB + 7)
            assert_true(size_of[9] < size_of[1]);
        free(default_z);
    }
    free(data);
}

/* A level outside -1..9 fails the submission; nothing is written. */
static void test_icd_cpu_deflate_bad_levels(void **state)
{
    (void)state;
    static const int32_t bad[] = {-2, 10, 11, 12, 100, INT32_MIN, INT32_MAX};
    uint8_t data[4099];
    make_data(data, sizeof(data));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *z;
        uint64_t zn;
        assert_int_equal(deflate_cap(data, sizeof(data), bad[i], deflate_bound(sizeof(data)), &z, &zn, true),
                         ACCEL_ERROR_INVALID_ARGUMENT);
        assert_int_equal(deflate_cap(data, 0, bad[i], deflate_bound(0), &z, &zn, true),
                         ACCEL_ERROR_INVALID_ARGUMENT);
    }
}

static void random_bytes(uint8_t *p, uint64_t n, uint64_t seed)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ seed;
    for (uint64_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (uint8_t)x;
    }
}

/* Incompressible input fits exactly the documented bound at every level
 * (compressed, it would come out larger: the driver falls back to stored
 * blocks); one byte less than stored blocks need fails at level 0. */
static void test_icd_cpu_deflate_incompressible(void **state)
{
    (void)state;
    /* 4 MiB + 1: libdeflate's own stored blocks, cut where its blocks end,
     * come out larger than the bound there. */
    static const uint64_t ns[] = {0, 1, 65535, 65536, 70000, MIB + 7, 4 * MIB + 1};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        uint64_t n = ns[i], zn;
        uint8_t *src = malloc(n ? n : 1), *z;
        assert_non_null(src);
        random_bytes(src, n, n);
        for (int32_t level = -1; level <= 9; level++) {
            assert_int_equal(deflate_cap(src, n, level, deflate_bound(n), &z, &zn, false), ACCEL_SUCCESS);
            assert_true(zn <= deflate_bound(n));
            assert_zlib_inflates_to(z, zn, src, n);
            free(z);
            /* The bound holds whatever room dst has. */
            assert_int_equal(deflate_cap(src, n, level, 2 * deflate_bound(n), &z, &zn, false), ACCEL_SUCCESS);
            assert_true(zn <= deflate_bound(n));
            free(z);
        }
        assert_int_equal(deflate_cap(src, n, 0, stored_stream_size(n), &z, &zn, false), ACCEL_SUCCESS);
        assert_int_equal(zn, stored_stream_size(n));
        assert_zlib_inflates_to(z, zn, src, n);
        free(z);
        assert_int_equal(deflate_cap(src, n, 0, stored_stream_size(n) - 1, &z, &zn, true),
                         ACCEL_ERROR_INVALID_ARGUMENT);
        assert_int_equal(deflate_cap(src, n, 6, 7, &z, &zn, true), ACCEL_ERROR_INVALID_ARGUMENT);
        free(src);
    }
}

/* Read a whole regular file; NULL for anything else. */
static uint8_t *read_file(const char *path, uint64_t *size)
{
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    long n = 0;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc(n ? (size_t)n : 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (uint64_t)n;
    return buf;
}

/* Every file of the corpus (tests/data/corpus): the driver's stream at each
 * level reads back with zlib and with the driver; zlib's own streams at
 * each level read back with the driver. */
static void test_icd_cpu_zlib_corpus(void **state)
{
    (void)state;
    DIR *dir = opendir(CORPUS_DIR);
    assert_non_null(dir);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        uint64_t n, zn;
        uint8_t *data = read_file(path, &n), *z;
        assert_non_null(data);
        files++;
        for (int32_t level = -1; level <= 9; level++) {
            assert_int_equal(deflate_cap(data, n, level, deflate_bound(n), &z, &zn, false), ACCEL_SUCCESS);
            assert_zlib_inflates_to(z, zn, data, n);
            assert_cpu_inflates_to(z, zn, data, n);
            free(z);
        }
        uLongf cap = compressBound((uLong)n);
        z = malloc(cap);
        assert_non_null(z);
        for (int level = 0; level <= 9; level++) {
            uLongf zlib_n = cap;
            assert_int_equal(compress2(z, &zlib_n, data, (uLong)n, level), Z_OK);
            assert_cpu_inflates_to(z, zlib_n, data, n);
        }
        free(z);
        free(data);
    }
    closedir(dir);
    assert_true(files >= 10); /* the ten files of its README, the README, the licence */
}

/* zlib's compress2 at each level over the sizes around the stored-block
 * limit: the driver reads every stream back. */
static void test_icd_cpu_inflate_zlib_levels(void **state)
{
    (void)state;
    static const uint64_t ns[] = {0, 1, 65535, 65536, MIB + 7};
    uint8_t *data = malloc(MIB + 7), *noise = malloc(MIB + 7);
    assert_non_null(data);
    assert_non_null(noise);
    make_data(data, MIB + 7);
    random_bytes(noise, MIB + 7, 7);
    uLongf cap = compressBound(MIB + 7);
    uint8_t *z = malloc(cap);
    assert_non_null(z);
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        for (int level = 0; level <= 9; level++) {
            uLongf zn = cap;
            assert_int_equal(compress2(z, &zn, data, (uLong)ns[i], level), Z_OK);
            assert_cpu_inflates_to(z, zn, data, ns[i]);
            zn = cap;
            assert_int_equal(compress2(z, &zn, noise, (uLong)ns[i], level), Z_OK);
            assert_cpu_inflates_to(z, zn, noise, ns[i]);
        }
    }
    free(z);
    free(data);
    free(noise);
}

/* Hundreds of MiB in one call (a stream of many libdeflate blocks, an
 * Adler-32 over all of it). 8 MiB under the sanitizers. */
static void test_icd_cpu_deflate_large(void **state)
{
    (void)state;
    const char *sanitized = getenv("ACCEL_TEST_SANITIZED");
    uint64_t n = sanitized && *sanitized ? 8 * MIB : 320 * MIB + 3;
    hbuf src = hb_new(n), z = hb_new(n / 4), zlen = hb_new(8), back = hb_new(n), blen = hb_new(8),
         crc = hb_new(4), crc_back = hb_new(4);
    make_data(src.p, n);
    accel_icd_arg dargs[4] = {hb_arg(&src), hb_arg(&z), hb_arg(&zlen), ih_i32(1)};
    assert_int_equal(run(builtin("zlib.deflate"), dargs, 4), ACCEL_SUCCESS);
    uint64_t zn = ih_le64(zlen.p);
    assert_true(zn >= 8 && zn <= z.size);
    memset(back.p, 0, n);
    accel_icd_arg iargs[3] = {ih_mem(z.mem, GUARD, zn), hb_arg(&back), hb_arg(&blen)};
    assert_int_equal(run(builtin("zlib.inflate"), iargs, 3), ACCEL_SUCCESS);
    assert_int_equal(ih_le64(blen.p), n);
    accel_icd_arg c1[2] = {hb_arg(&src), hb_arg(&crc)}, c2[2] = {hb_arg(&back), hb_arg(&crc_back)};
    assert_int_equal(run(builtin("crc32c"), c1, 2), ACCEL_SUCCESS);
    assert_int_equal(run(builtin("crc32c"), c2, 2), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(crc.p), ih_le32(crc_back.p));
    assert_memory_equal(back.p, src.p, n);
    /* zlib agrees, streaming (its counters are 32-bit). */
    z_stream s;
    memset(&s, 0, sizeof(s));
    assert_int_equal(inflateInit(&s), Z_OK);
    s.next_in = z.p;
    s.avail_in = (uInt)zn;
    uint8_t window[1 << 16];
    uLong adler = adler32(0, NULL, 0);
    int zr;
    do {
        s.next_out = window;
        s.avail_out = sizeof(window);
        zr = inflate(&s, Z_NO_FLUSH);
        assert_true(zr == Z_OK || zr == Z_STREAM_END);
        adler = adler32(adler, window, (uInt)(sizeof(window) - s.avail_out));
    } while (zr != Z_STREAM_END);
    assert_int_equal(s.avail_in, 0);
    assert_int_equal(adler, adler32_z(adler32(0, NULL, 0), src.p, (size_t)n));
    inflateEnd(&s);
    hb_free(&src);
    hb_free(&z);
    hb_free(&zlen);
    hb_free(&back);
    hb_free(&blen);
    hb_free(&crc);
    hb_free(&crc_back);
}

/* More than 4 GiB in one call: sizes past 32 bits through libdeflate, ISA-L
 * (which counts in int: the driver feeds it pieces) and OpenSSL. Only when
 * ACCEL_TEST_HUGE_GIB gives the size in GiB: it needs about 2.3 times that
 * in memory, and minutes. */
static void test_icd_cpu_huge(void **state)
{
    (void)state;
    const char *v = getenv("ACCEL_TEST_HUGE_GIB");
    if (!v || atoi(v) <= 0)
        skip();
    uint64_t n = (uint64_t)atoi(v) * 1024 * MIB + 12345;
    hbuf src = hb_new(n), z = hb_new(n / 4), zlen = hb_new(8), back = hb_new(n), blen = hb_new(8),
         res = hb_new(4), digest = hb_new(32);
    make_data(src.p, MIB);
    for (uint64_t done = MIB; done < n; done += MIB)
        memcpy(src.p + done, src.p, n - done < MIB ? (size_t)(n - done) : MIB);
    accel_icd_arg dargs[4] = {hb_arg(&src), hb_arg(&z), hb_arg(&zlen), ih_i32(1)};
    assert_int_equal(run(builtin("zlib.deflate"), dargs, 4), ACCEL_SUCCESS);
    uint64_t zn = ih_le64(zlen.p);
    assert_true(zn >= 8 && zn <= z.size);
    accel_icd_arg iargs[3] = {ih_mem(z.mem, GUARD, zn), hb_arg(&back), hb_arg(&blen)};
    assert_int_equal(run(builtin("zlib.inflate"), iargs, 3), ACCEL_SUCCESS);
    assert_int_equal(ih_le64(blen.p), n);
    assert_true(memcmp(back.p, src.p, (size_t)n) == 0);

    accel_icd_arg c[2] = {hb_arg(&src), hb_arg(&res)}, h[2] = {hb_arg(&src), hb_arg(&digest)};
    assert_int_equal(run(builtin("crc32c"), c, 2), ACCEL_SUCCESS);
    uint32_t crc_fast = ih_le32(res.p);
    assert_int_equal(run(builtin("sha256"), h, 2), ACCEL_SUCCESS);
    uint8_t sha_src[32];
    memcpy(sha_src, digest.p, 32);
    /* The tables (process-wide from the next driver_init) agree. */
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_DISABLE_SSE42", "1");
    assert_int_equal(ih_open(&D2, DRIVER_PATH), 0);
    ts_env_pop_to(depth);
    assert_int_equal(run(builtin("crc32c"), c, 2), ACCEL_SUCCESS);
    ih_close(&D2);
    assert_int_equal(ih_open(&D2, DRIVER_PATH), 0);
    ih_close(&D2);
    assert_int_equal(ih_le32(res.p), crc_fast);
    /* What came back has the same digest. */
    h[0] = hb_arg(&back);
    assert_int_equal(run(builtin("sha256"), h, 2), ACCEL_SUCCESS);
    assert_memory_equal(digest.p, sha_src, 32);
    hb_free(&src);
    hb_free(&z);
    hb_free(&zlen);
    hb_free(&back);
    hb_free(&blen);
    hb_free(&res);
    hb_free(&digest);
}

/* zlib.compress(b'Hello, accel! ' * 20 + b'0123456789', 9) in Python. */
static const uint8_t python_stream[] = {0x78, 0xda, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51,
                                        0x48, 0x4c, 0x4e, 0x4e, 0xcd, 0x51, 0x54, 0xf0, 0x18,
                                        0xe5, 0x41, 0x79, 0x06, 0x86, 0x46, 0xc6, 0x26, 0xa6,
                                        0x66, 0xe6, 0x16, 0x96, 0x00, 0xd2, 0xa3, 0x5b, 0x82};
/* zlib.compress(b'', 9) */
static const uint8_t python_empty_stream[] = {0x78, 0xda, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};

static accel_result inflate_into(const uint8_t *stream, size_t n, uint8_t *out, size_t cap, uint64_t *out_n,
                                 bool fresh)
{
    hbuf src = hb_new(n), dst = hb_new(cap), len = hb_new(8);
    memcpy(src.p, stream, n);
    memset(dst.p, 0, cap);
    memset(len.p, 0xee, 8);
    accel_icd_arg args[3] = {hb_arg(&src), hb_arg(&dst), hb_arg(&len)};
    accel_result r =
        fresh ? run_fresh(builtin("zlib.inflate"), args, 3) : run(builtin("zlib.inflate"), args, 3);
    if (r == ACCEL_SUCCESS) {
        *out_n = ih_le64(len.p);
        memcpy(out, dst.p, cap);
    } else {
        for (int i = 0; i < 8; i++) /* the result is not written on failure */
            assert_int_equal(len.p[i], 0xee);
    }
    hb_free(&src);
    hb_free(&dst);
    hb_free(&len);
    return r;
}

static void test_icd_cpu_inflate_foreign_streams(void **state)
{
    (void)state;
    char expect[512] = "";
    for (int i = 0; i < 20; i++)
        strcat(expect, "Hello, accel! ");
    strcat(expect, "0123456789");
    uint8_t out[512];
    uint64_t n = 0;
    assert_int_equal(inflate_into(python_stream, sizeof(python_stream), out, strlen(expect), &n, false),
                     ACCEL_SUCCESS);
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(out, expect, n);
    /* A larger dst is fine. */
    assert_int_equal(inflate_into(python_stream, sizeof(python_stream), out, sizeof(out), &n, false),
                     ACCEL_SUCCESS);
    assert_int_equal(n, strlen(expect));
    assert_int_equal(inflate_into(python_empty_stream, sizeof(python_empty_stream), out, 0, &n, false),
                     ACCEL_SUCCESS);
    assert_int_equal(n, 0);

    /* zlib's own compress2 at each level, over 4 KiB + 3 B. */
    uint8_t data[4099], z[4200], back[4099];
    make_data(data, sizeof(data));
    for (int level = 0; level <= 9; level++) {
        uLongf zn = sizeof(z);
        assert_int_equal(compress2(z, &zn, data, sizeof(data), level), Z_OK);
        assert_int_equal(inflate_into(z, zn, back, sizeof(back), &n, false), ACCEL_SUCCESS);
        assert_int_equal(n, sizeof(data));
        assert_memory_equal(back, data, sizeof(data));
    }
}

static void test_icd_cpu_corrupt_streams(void **state)
{
    (void)state;
    uint8_t s[sizeof(python_stream) + 4], out[512];
    uint64_t n;
    const size_t len = sizeof(python_stream);
    const size_t plain = 290;
#define CORRUPT(what, size)                                                                                  \
    do {                                                                                                     \
        memcpy(s, python_stream, len);                                                                       \
        what;                                                                                                \
        assert_int_equal(inflate_into(s, (size), out, plain, &n, true), ACCEL_ERROR_INVALID_ARGUMENT);       \
    } while (0)
    CORRUPT(s[0] = 0x79, len);                    /* CM 9 */
    CORRUPT(s[1] ^= 0x01, len);                   /* header check */
    CORRUPT(s[1] = 0xbb, len);                    /* FDICT: a preset dictionary */
    CORRUPT(s[2] ^= 0x04, len);                   /* block type 3 */
    CORRUPT(s[len - 1] ^= 0x01, len);             /* Adler-32 */
    CORRUPT(s[len - 4] ^= 0x80, len);             /* Adler-32 */
    CORRUPT((void)0, len - 1);                    /* truncated trailer */
    CORRUPT((void)0, len - 10);                   /* truncated data */
    CORRUPT((void)0, 2);                          /* header only */
    CORRUPT((void)0, 1);                          /* half a header */
    CORRUPT((void)0, 0);                          /* nothing: not a stream */
    CORRUPT(memcpy(s + len, "junk", 4), len + 4); /* bytes after the stream */
    CORRUPT(memcpy(s + len, python_stream, 4), len + 4);
#undef CORRUPT
    /* Random bytes: an error, never a crash. */
    uint32_t x = 12345;
    for (int round = 0; round < 50; round++) {
        memcpy(s, python_stream, len);
        for (int k = 0; k < 3; k++) {
            x = x * 1664525u + 1013904223u;
            s[2 + (x >> 8) % (len - 2)] ^= (uint8_t)(1u << (x >> 29));
        }
        accel_result r = inflate_into(s, len, out, plain, &n, true);
        assert_true(r == ACCEL_SUCCESS || r == ACCEL_ERROR_INVALID_ARGUMENT);
    }
}

static void test_icd_cpu_outputs_too_small(void **state)
{
    (void)state;
    hbuf src = hb_new(4099), dst = hb_new(8192), len = hb_new(8);
    make_data(src.p, src.size);
    memset(dst.p, 0x11, dst.size);
    memset(len.p, 0x22, len.size);

    accel_icd_arg args[4] = {hb_arg(&src), ih_mem(dst.mem, GUARD, 3)};
    assert_int_equal(run_fresh(builtin("crc32c"), args, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(dst.mem, GUARD, 31);
    assert_int_equal(run_fresh(builtin("sha256"), args, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = ih_mem(dst.mem, GUARD, 4098);
    assert_int_equal(run_fresh(builtin("accel.copy"), args, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    for (size_t i = 0; i < dst.size; i++)
        assert_int_equal(dst.p[i], 0x11);

    /* deflate: dst too small (it may have written inside its range), and
     * out_size too small. */
    args[1] = ih_mem(dst.mem, GUARD, 100);
    args[2] = hb_arg(&len);
    for (int32_t level = -1; level <= 9; level++) {
        args[3] = ih_i32(level);
        assert_int_equal(run_fresh(builtin("zlib.deflate"), args, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    }
    args[3] = ih_i32(6);
    args[1] = ih_mem(dst.mem, GUARD, 0);
    assert_int_equal(run_fresh(builtin("zlib.deflate"), args, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    args[1] = hb_arg(&dst);
    args[2] = ih_mem(len.mem, GUARD, 7);
    assert_int_equal(run_fresh(builtin("zlib.deflate"), args, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    for (size_t i = 100; i < dst.size; i++)
        assert_int_equal(dst.p[i], 0x11);
    for (size_t i = 0; i < len.size; i++)
        assert_int_equal(len.p[i], 0x22);

    /* inflate: a good stream into a dst one byte short, or out_size short. */
    args[2] = hb_arg(&len);
    assert_int_equal(run(builtin("zlib.deflate"), args, 4), ACCEL_SUCCESS);
    uint64_t zn = ih_le64(len.p);
    hbuf back = hb_new(4099);
    accel_icd_arg iargs[3] = {ih_mem(dst.mem, GUARD, zn), ih_mem(back.mem, GUARD, 4098), hb_arg(&len)};
    assert_int_equal(run_fresh(builtin("zlib.inflate"), iargs, 3), ACCEL_ERROR_INVALID_ARGUMENT);
    iargs[1] = ih_mem(back.mem, GUARD, 0);
    assert_int_equal(run_fresh(builtin("zlib.inflate"), iargs, 3), ACCEL_ERROR_INVALID_ARGUMENT);
    iargs[1] = hb_arg(&back);
    iargs[2] = ih_mem(len.mem, GUARD, 7);
    assert_int_equal(run_fresh(builtin("zlib.inflate"), iargs, 3), ACCEL_ERROR_INVALID_ARGUMENT);
    iargs[2] = hb_arg(&len);
    assert_int_equal(run(builtin("zlib.inflate"), iargs, 3), ACCEL_SUCCESS);
    assert_memory_equal(back.p, src.p, 4099);
    hb_free(&back);
    hb_free(&src);
    hb_free(&dst);
    hb_free(&len);
}

static void test_icd_cpu_fill(void **state)
{
    (void)state;
    void *fill = builtin("accel.fill");
    const uint8_t pat[4] = {0x01, 0x02, 0x03, 0x04};
    uint64_t fill_sizes[] = {0, 1, 2, 3, 4, 5, 7, 4096 + 3, BIG, BIG - 1};
    for (size_t i = 0; i < sizeof(fill_sizes) / sizeof(fill_sizes[0]); i++) {
        uint64_t n = fill_sizes[i];
        hbuf dst = hb_new(n);
        accel_icd_arg args[2] = {hb_arg(&dst), ih_u32(0x04030201u)};
        assert_int_equal(run(fill, args, 2), ACCEL_SUCCESS);
        for (uint64_t k = 0; k < n; k++)
            if (dst.p[k] != pat[k % 4])
                fail_msg("size %llu: byte %llu is %02x", (unsigned long long)n, (unsigned long long)k,
                         dst.p[k]);
        hb_free(&dst);
    }
    /* At an odd offset inside a larger object: nothing else changes. */
    hbuf dst = hb_new(100);
    memset(dst.p, 0, 100);
    accel_icd_arg args[2] = {ih_mem(dst.mem, GUARD + 3, 10), ih_u32(0xddccbbaau)};
    assert_int_equal(run(fill, args, 2), ACCEL_SUCCESS);
    static const uint8_t expect[16] = {0,    0,    0,    0xaa, 0xbb, 0xcc, 0xdd, 0xaa,
                                       0xbb, 0xcc, 0xdd, 0xaa, 0xbb, 0,    0,    0};
    assert_memory_equal(dst.p, expect, sizeof(expect));
    for (int k = 16; k < 100; k++)
        assert_int_equal(dst.p[k], 0);
    hb_free(&dst);
}

static void test_icd_cpu_copy(void **state)
{
    (void)state;
    void *copy = builtin("accel.copy");
    uint8_t *data = malloc(BIG);
    assert_non_null(data);
    make_data(data, BIG);
    for (size_t i = 0; i < NSIZES; i++) {
        uint64_t n = sizes[i];
        hbuf src = hb_new(n), dst = hb_new(n + 5);
        memcpy(src.p, data, n);
        memset(dst.p, 0x77, n + 5);
        accel_icd_arg args[2] = {hb_arg(&src), hb_arg(&dst)};
        assert_int_equal(run(copy, args, 2), ACCEL_SUCCESS);
        assert_memory_equal(dst.p, data, n);
        for (int k = 0; k < 5; k++)
            assert_int_equal(dst.p[n + k], 0x77);
        hb_free(&src);
        hb_free(&dst);
    }
    free(data);
    /* Overlapping ranges of one object behave like memmove. */
    hbuf b = hb_new(64);
    for (int k = 0; k < 64; k++)
        b.p[k] = (uint8_t)k;
    accel_icd_arg args[2] = {ih_mem(b.mem, GUARD, 32), ih_mem(b.mem, GUARD + 8, 32)};
    assert_int_equal(run(copy, args, 2), ACCEL_SUCCESS);
    for (int k = 0; k < 32; k++)
        assert_int_equal(b.p[8 + k], k);
    hb_free(&b);
}

/* Bad submissions are refused by queue_submit, and nothing runs. */
static void test_icd_cpu_submit_checks(void **state)
{
    (void)state;
    hbuf b = hb_new(16);
    void *fence = (void *)1;
    accel_icd_arg args[3] = {hb_arg(&b), hb_arg(&b), ih_u32(1)};
    accel_icd_submit s = {
        .struct_size = sizeof(s), .function = builtin("crc32c"), .args = args, .arg_count = 1};
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT); /* count */
    s.arg_count = 3;
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    s.function = builtin("accel.fill");
    s.arg_count = 2;
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT); /* kind */
    args[1] = ih_u32(7);
    args[0] = ih_mem(b.mem, GUARD, 16 + GUARD + 1);
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT); /* past the end */
    args[0] = ih_mem(b.mem, UINT64_MAX, 2);
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    args[0] = ih_mem(NULL, 0, 0);
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    s.wait_fence_count = 1;
    args[0] = hb_arg(&b);
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT); /* no fence array */
    assert_ptr_equal(fence, (void *)1);
    /* The queue still works. */
    assert_int_equal(run(builtin("accel.noop"), NULL, 0), ACCEL_SUCCESS);
    hb_free(&b);
}

/* ---- kernels ------------------------------------------------------------------ */

static void *load(const char *path, accel_result expect, char *log, size_t log_size)
{
    void *prog = (void *)1;
    accel_result r = D.t->program_load(DEV, ACCEL_PROGRAM_FORMAT_ELF, path, 0, NULL, &prog, log, log_size);
    if (r != expect)
        fail_msg("%s: %d, expected %d: %s", path, r, expect, log);
    if (r != ACCEL_SUCCESS)
        assert_null(prog);
    return prog;
}

static void *kernel(void *prog, const char *name, accel_icd_function_info *info)
{
    void *fn = NULL;
    info->struct_size = sizeof(*info);
    assert_int_equal(D.t->function_get(DEV, prog, name, &fn, info), ACCEL_SUCCESS);
    return fn;
}

struct kinds_record {
    uint64_t gid;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    uint32_t pad;
    double f64;
};

static void test_icd_cpu_kernels(void **state)
{
    (void)state;
    char log[512] = "x";
    void *prog = load(KERNELS_PATH, ACCEL_SUCCESS, log, sizeof(log));
    assert_string_equal(log, "");
    accel_icd_function_info info;

    /* scale(memory, u32, f32) over 1024 items, the last 24 out of range. */
    void *scale = kernel(prog, "scale", &info);
    assert_int_equal(info.arg_count, 3);
    assert_int_equal(info.arg_kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(info.arg_kinds[1], ACCEL_ARG_U32);
    assert_int_equal(info.arg_kinds[2], ACCEL_ARG_F32);
    hbuf x = hb_new(1000 * sizeof(float));
    float *xf = (float *)x.p;
    for (int i = 0; i < 1000; i++)
        xf[i] = (float)i;
    accel_icd_arg sargs[3] = {hb_arg(&x), ih_u32(1000), {.kind = ACCEL_ARG_F32, .u.f32 = 2.5f}};
    assert_int_equal(ih_run(&D, Q, scale, sargs, 3, 1, 1024), ACCEL_SUCCESS);
    for (int i = 0; i < 1000; i++)
        assert_true(xf[i] == (float)i * 2.5f);

    /* saxpy(memory, memory, f32) */
    void *saxpy = kernel(prog, "saxpy", &info);
    assert_int_equal(info.arg_count, 3);
    hbuf y = hb_new(1000 * sizeof(float));
    float *yf = (float *)y.p;
    for (int i = 0; i < 1000; i++)
        yf[i] = 1.0f;
    accel_icd_arg aargs[3] = {hb_arg(&x), hb_arg(&y), {.kind = ACCEL_ARG_F32, .u.f32 = -2.0f}};
    assert_int_equal(ih_run(&D, Q, saxpy, aargs, 3, 1, 1000), ACCEL_SUCCESS);
    for (int i = 0; i < 1000; i++)
        assert_true(yf[i] == 1.0f - 2.0f * (float)i * 2.5f);

    /* Every argument kind arrives intact. */
    void *kinds = kernel(prog, "kinds", &info);
    assert_int_equal(info.arg_count, 7);
    static const accel_arg_kind expect_kinds[7] = {ACCEL_ARG_MEMORY, ACCEL_ARG_U32, ACCEL_ARG_I32,
                                                   ACCEL_ARG_U64,    ACCEL_ARG_I64, ACCEL_ARG_F32,
                                                   ACCEL_ARG_F64};
    for (int i = 0; i < 7; i++)
        assert_int_equal(info.arg_kinds[i], expect_kinds[i]);
    hbuf rec = hb_new(3 * sizeof(struct kinds_record));
    accel_icd_arg kargs[7] = {hb_arg(&rec)};
    kargs[1] = ih_u32(0xdeadbeefu);
    kargs[2] = (accel_icd_arg){.kind = ACCEL_ARG_I32, .u.i32 = -5};
    kargs[3] = (accel_icd_arg){.kind = ACCEL_ARG_U64, .u.u64 = 0x123456789abcdef0ull};
    kargs[4] = (accel_icd_arg){.kind = ACCEL_ARG_I64, .u.i64 = -1234567890123ll};
    kargs[5] = (accel_icd_arg){.kind = ACCEL_ARG_F32, .u.f32 = 1.5f};
    kargs[6] = (accel_icd_arg){.kind = ACCEL_ARG_F64, .u.f64 = -2.25};
    assert_int_equal(ih_run(&D, Q, kinds, kargs, 7, 1, 3), ACCEL_SUCCESS);
    for (int i = 0; i < 3; i++) {
        struct kinds_record r;
        memcpy(&r, rec.p + i * sizeof(r), sizeof(r));
        assert_int_equal(r.gid, i);
        assert_int_equal(r.u32, 0xdeadbeefu);
        assert_int_equal(r.i32, -5);
        assert_int_equal(r.u64, 0x123456789abcdef0ull);
        assert_int_equal(r.i64, -1234567890123ll);
        assert_true(r.f32 == 1.5f);
        assert_true(r.f64 == -2.25);
    }

    /* Three dimensions: 3 x 4 x 5 items, linear ids. */
    void *ids = kernel(prog, "ids", &info);
    hbuf out = hb_new(60 * 8);
    memset(out.p, 0xff, out.size);
    accel_icd_arg iarg = hb_arg(&out);
    const uint64_t ws[3] = {3, 4, 5};
    assert_int_equal(wait_release(submit(Q, ids, &iarg, 1, 3, ws, NULL, 0)), ACCEL_SUCCESS);
    for (uint64_t i = 0; i < 60; i++)
        assert_int_equal(ih_le64(out.p + 8 * i), i);
    /* Two dimensions ignore work_size[2]. */
    const uint64_t ws2[3] = {2, 3, 99};
    memset(out.p, 0xff, out.size);
    assert_int_equal(wait_release(submit(Q, ids, &iarg, 1, 2, ws2, NULL, 0)), ACCEL_SUCCESS);
    assert_int_equal(ih_le64(out.p + 8 * 5), 5);
    assert_int_equal(ih_le64(out.p + 8 * 6), UINT64_MAX);

    /* No arguments; zero work items. */
    void *nothing = kernel(prog, "nothing", &info);
    assert_int_equal(info.arg_count, 0);
    assert_int_equal(ih_run(&D, Q, nothing, NULL, 0, 1, 0), ACCEL_SUCCESS);
    assert_int_equal(ih_run(&D, Q, nothing, NULL, 0, 1, 5), ACCEL_SUCCESS);

    /* A kernel needs a work_dim of 1 to 3. */
    void *fence = NULL;
    accel_icd_submit s = {
        .struct_size = sizeof(s), .work_dim = 0, .function = nothing, .work_size = {1, 1, 1}};
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    s.work_dim = 4;
    assert_int_equal(D.t->queue_submit(Q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);

    void *missing = (void *)1;
    assert_int_equal(D.t->function_get(DEV, prog, "missing", &missing, &info), ACCEL_ERROR_NOT_FOUND);
    assert_int_equal(D.t->function_get(DEV, prog, "accel.noop", &missing, &info), ACCEL_ERROR_NOT_FOUND);

    /* The program may go first: its functions keep it loaded. */
    D.t->program_release(prog);
    for (int i = 0; i < 1000; i++)
        xf[i] = 1.0f;
    assert_int_equal(ih_run(&D, Q, scale, sargs, 3, 1, 1000), ACCEL_SUCCESS);
    assert_true(xf[999] == 2.5f);
    D.t->function_release(scale);
    D.t->function_release(saxpy);
    D.t->function_release(kinds);
    D.t->function_release(ids);
    D.t->function_release(nothing);
    hb_free(&x);
    hb_free(&y);
    hb_free(&rec);
    hb_free(&out);

    /* The same library again, with the size of the path given. */
    void *again = NULL;
    assert_int_equal(D.t->program_load(DEV, ACCEL_PROGRAM_FORMAT_ELF, KERNELS_PATH, strlen(KERNELS_PATH) + 1,
                                       "", &again, log, sizeof(log)),
                     ACCEL_SUCCESS);
    D.t->program_release(again);
}

static void test_icd_cpu_kernel_load_errors(void **state)
{
    (void)state;
    char log[512];
    load(KERNELS_BAD_METADATA_PATH, ACCEL_ERROR_INVALID_ARGUMENT, log, sizeof(log));
    assert_non_null(strstr(log, "line 3, column 19: expected ',' or ')'"));
    load(KERNELS_MISSING_SYMBOL_PATH, ACCEL_ERROR_INVALID_ARGUMENT, log, sizeof(log));
    assert_non_null(strstr(log, "kernel 'absent' (metadata line 2) is not exported"));
    load(KERNELS_NO_METADATA_PATH, ACCEL_ERROR_INVALID_ARGUMENT, log, sizeof(log));
    assert_non_null(strstr(log, "accel_kernel_metadata"));
    load("/nonexistent/kernels.so", ACCEL_ERROR_INVALID_ARGUMENT, log, sizeof(log));
    assert_non_null(strstr(log, "/nonexistent/kernels.so"));
    load("", ACCEL_ERROR_INVALID_ARGUMENT, log, sizeof(log));
    assert_true(log[0] != '\0');

    /* A short log is cut and still terminated. */
    memset(log, 'x', sizeof(log));
    load(KERNELS_BAD_METADATA_PATH, ACCEL_ERROR_INVALID_ARGUMENT, log, 8);
    assert_int_equal(strlen(log), 7);
    load(KERNELS_BAD_METADATA_PATH, ACCEL_ERROR_INVALID_ARGUMENT, NULL, 0);

    void *prog = (void *)1;
    assert_int_equal(D.t->program_load(DEV, ACCEL_PROGRAM_FORMAT_SPIRV, "\x03\x02\x23\x07", 4, NULL, &prog,
                                       log, sizeof(log)),
                     ACCEL_ERROR_UNSUPPORTED);
    assert_null(prog);
    assert_true(log[0] != '\0');
    assert_int_equal(D.t->program_load(DEV, ACCEL_PROGRAM_FORMAT_OPENCL_C, "kernel void k(){}", 0, NULL,
                                       &prog, log, sizeof(log)),
                     ACCEL_ERROR_UNSUPPORTED);
}

/* The parser alone (cpu_metadata.c). */
static void test_icd_cpu_metadata_parser(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t kernels;    /* expected count on success */
        const char *error; /* expected message, or NULL */
    } cases[] = {
        {"a()", 1, NULL},
        {"a()\n", 1, NULL},
        {"\n\n  # comment\n\tb ( memory,u32 ,i32, u64 , i64,f32,f64 )  \r\n# end", 1, NULL},
        {"a(memory)\nb(memory) # trailing comment\r\nc()", 3, NULL},
        {"_x9(f64)", 1, NULL},
        {"", 0, "line 1, column 1: no kernel declared"},
        {"# only a comment\n\n", 0, "line 3, column 1: no kernel declared"},
        {"9a()", 0, "line 1, column 1: expected a kernel name, found '9'"},
        {"a", 0, "line 1, column 2: expected '(' after the kernel name, found end of line"},
        {"a b()", 0, "line 1, column 3: expected '(' after the kernel name, found 'b'"},
        {"a(", 0, "line 1, column 3: expected an argument kind"},
        {"a(memory", 0, "line 1, column 9: expected ',' or ')' after an argument kind, found end of line"},
        {"a(memory,)", 0, "line 1, column 10: expected an argument kind"},
        {"a(u16)", 0, "line 1, column 3: unknown argument kind 'u16'"},
        {"a(Memory)", 0, "line 1, column 3: unknown argument kind 'Memory'"},
        {"a(u32 u32)", 0, "line 1, column 7: expected ',' or ')' after an argument kind, found 'u'"},
        {"a() b()", 0, "line 1, column 5: unexpected 'b' after the declaration"},
        {"a();", 0, "line 1, column 4: unexpected ';' after the declaration"},
        {"ok()\n  a-b()", 0, "line 2, column 4: expected '(' after the kernel name, found '-'"},
        {"a()\nb()\n  a(u32)", 0, "line 3, column 3: kernel 'a' declared again (first on line 1)"},
        {"a()\nb()\nb()\na()", 0, "line 3, column 1: kernel 'b' declared again (first on line 2)"},
        {"a(\xc3\xa9)", 0,
         "line 1, column 3: expected an argument kind (memory, u32, i32, u64, i64, f32 or f64), "
         "found 0xc3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cpu_kernel_sig *sigs = (void *)1;
        size_t count = 99;
        char err[256];
        accel_result r =
            cpu__metadata_parse(cases[i].text, strlen(cases[i].text), &sigs, &count, err, sizeof(err));
        if (cases[i].error) {
            if (r != ACCEL_ERROR_INVALID_ARGUMENT ||
                strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
                fail_msg("case %zu: %d \"%s\", expected \"%s\"", i, r, err, cases[i].error);
            assert_null(sigs);
            assert_int_equal(count, 0);
        } else {
            if (r != ACCEL_SUCCESS)
                fail_msg("case %zu: %s", i, err);
            assert_int_equal(count, cases[i].kernels);
            assert_string_equal(err, "");
            free(sigs);
        }
    }

    /* Signatures in detail. */
    const char *text = "x(memory, u32)\n\n y ( f64 )\nz()";
    cpu_kernel_sig *sigs;
    size_t count;
    char err[128];
    assert_int_equal(cpu__metadata_parse(text, strlen(text), &sigs, &count, err, sizeof(err)), ACCEL_SUCCESS);
    assert_int_equal(count, 3);
    assert_string_equal(sigs[0].name, "x");
    assert_int_equal(sigs[0].line, 1);
    assert_int_equal(sigs[0].arg_count, 2);
    assert_int_equal(sigs[0].arg_kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(sigs[0].arg_kinds[1], ACCEL_ARG_U32);
    assert_string_equal(sigs[1].name, "y");
    assert_int_equal(sigs[1].line, 3);
    assert_int_equal(sigs[1].arg_kinds[0], ACCEL_ARG_F64);
    assert_int_equal(sigs[2].arg_count, 0);
    free(sigs);

    /* Limits: 127-character names and 32 arguments pass, one more fails. */
    char big[2048];
    memset(big, 'n', 127);
    strcpy(big + 127, "()");
    assert_int_equal(cpu__metadata_parse(big, strlen(big), &sigs, &count, err, sizeof(err)), ACCEL_SUCCESS);
    free(sigs);
    memset(big, 'n', 128);
    strcpy(big + 128, "()");
    assert_int_equal(cpu__metadata_parse(big, strlen(big), &sigs, &count, err, sizeof(err)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "longer than 127"));
    strcpy(big, "k(u32");
    for (int i = 1; i < 32; i++)
        strcat(big, ", u32");
    strcat(big, ")");
    assert_int_equal(cpu__metadata_parse(big, strlen(big), &sigs, &count, err, sizeof(err)), ACCEL_SUCCESS);
    assert_int_equal(sigs[0].arg_count, 32);
    free(sigs);
    big[strlen(big) - 1] = '\0';
    strcat(big, ", u32)");
    assert_int_equal(cpu__metadata_parse(big, strlen(big), &sigs, &count, err, sizeof(err)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "more than 32 arguments"));

    /* A NUL inside the text; a tiny error buffer. */
    assert_int_equal(cpu__metadata_parse("a()\nb(\0)", 8, &sigs, &count, err, sizeof(err)),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_string_equal(err, "line 2, column 3: NUL byte in the metadata");
    assert_int_equal(cpu__metadata_parse("a(", 2, &sigs, &count, err, 5), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_string_equal(err, "line");
    assert_int_equal(cpu__metadata_parse("a(", 2, &sigs, &count, NULL, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_string_equal(cpu__metadata_kind_name(ACCEL_ARG_F32), "f32");
    assert_null(cpu__metadata_kind_name(ACCEL_ARG_NONE));
}

/* ---- queues and fences ----------------------------------------------------------- */

typedef struct slow {
    void *prog;
    void *sleep_write; /* sleep_write(memory, u32 ms, u32 value) */
} slow;

static slow slow_open(void)
{
    slow s;
    char log[256];
    accel_icd_function_info info;
    s.prog = load(KERNELS_PATH, ACCEL_SUCCESS, log, sizeof(log));
    s.sleep_write = kernel(s.prog, "sleep_write", &info);
    return s;
}

static void slow_close(slow *s)
{
    D.t->function_release(s->sleep_write);
    D.t->program_release(s->prog);
}

static void *submit_sleep_write(void *q, const slow *s, void *mem, uint64_t offset, uint32_t ms,
                                uint32_t value, void *const *waits, uint32_t wait_count)
{
    accel_icd_arg args[3] = {ih_mem(mem, offset, 4), ih_u32(ms), ih_u32(value)};
    const uint64_t ws[3] = {1, 1, 1};
    return submit(q, s->sleep_write, args, 3, 1, ws, waits, wait_count);
}

/* One queue runs its work in order. */
static void test_icd_cpu_in_order(void **state)
{
    (void)state;
    slow s = slow_open();
    hbuf val = hb_new(4), out = hb_new(4);
    memset(val.p, 0, 4);
    memset(out.p, 0, 4);
    void *f1 = submit_sleep_write(Q, &s, val.mem, GUARD, 50, 0xC0FFEE, NULL, 0);
    accel_icd_arg cargs[2] = {hb_arg(&val), hb_arg(&out)};
    void *f2 = submit(Q, builtin("accel.copy"), cargs, 2, 0, NULL, NULL, 0);
    assert_int_equal(D.t->fence_status(f2), ACCEL_NOT_READY);
    assert_int_equal(wait_release(f2), ACCEL_SUCCESS);
    assert_int_equal(D.t->fence_status(f1), ACCEL_SUCCESS); /* done before f2 */
    D.t->fence_release(f1);
    assert_int_equal(ih_le32(out.p), 0xC0FFEE);
    hb_free(&val);
    hb_free(&out);
    slow_close(&s);
}

/* Wait fences of other queues hold a submission back; a failed one fails
 * it. */
static void test_icd_cpu_wait_fences(void **state)
{
    (void)state;
    slow s = slow_open();
    void *qa, *qb;
    assert_int_equal(D.t->queue_create(DEV, &qa), ACCEL_SUCCESS);
    assert_int_equal(D.t->queue_create(DEV, &qb), ACCEL_SUCCESS);
    hbuf val = hb_new(4 * 8), out = hb_new(4 * 8);
    memset(val.p, 0, val.size);
    memset(out.p, 0, out.size);

    void *fa = submit_sleep_write(qa, &s, val.mem, GUARD, 80, 0xC0FFEE, NULL, 0);
    accel_icd_arg cargs[2] = {ih_mem(val.mem, GUARD, 4), hb_arg(&out)};
    void *fb = submit(qb, builtin("accel.copy"), cargs, 2, 0, NULL, &fa, 1);
    D.t->fence_release(fa); /* the waiting submission keeps it */
    assert_int_equal(D.t->fence_status(fb), ACCEL_NOT_READY);
    assert_int_equal(wait_release(fb), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(out.p), 0xC0FFEE);

    /* Six wait fences (more than the fence keeps inline), each from its own
     * queue, finishing in reverse order of submission. */
    void *qs[6], *fs[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(D.t->queue_create(DEV, &qs[i]), ACCEL_SUCCESS);
        fs[i] =
            submit_sleep_write(qs[i], &s, val.mem, GUARD + 4 * i, (uint32_t)(60 - 10 * i), 100u + i, NULL, 0);
    }
    cargs[0] = ih_mem(val.mem, GUARD, 24);
    void *fall = submit(qb, builtin("accel.copy"), cargs, 2, 0, NULL, fs, 6);
    assert_int_equal(wait_release(fall), ACCEL_SUCCESS);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ih_le32(out.p + 4 * i), 100u + i);
        assert_int_equal(D.t->fence_status(fs[i]), ACCEL_SUCCESS);
        D.t->fence_release(fs[i]);
        D.t->queue_destroy(qs[i]);
    }

    /* A failed wait fence fails the submission with its error, and the
     * work does not run. */
    hbuf tiny = hb_new(3);
    accel_icd_arg bad[2] = {hb_arg(&val), hb_arg(&tiny)};
    void *fbad = submit(qa, builtin("crc32c"), bad, 2, 0, NULL, NULL, 0);
    memset(out.p, 0, out.size);
    cargs[0] = ih_mem(val.mem, GUARD, 4);
    void *fc = submit(qb, builtin("accel.copy"), cargs, 2, 0, NULL, &fbad, 1);
    assert_int_equal(wait_release(fc), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(wait_release(fbad), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_le32(out.p), 0);

    D.t->queue_destroy(qa);
    D.t->queue_destroy(qb);
    hb_free(&tiny);
    hb_free(&val);
    hb_free(&out);
    slow_close(&s);
}

/* After a failure, the queue's later submissions fail with the same error;
 * other queues are not affected. */
static void test_icd_cpu_queue_broken(void **state)
{
    (void)state;
    void *q;
    assert_int_equal(D.t->queue_create(DEV, &q), ACCEL_SUCCESS);
    hbuf src = hb_new(10), tiny = hb_new(2);
    accel_icd_arg args[2] = {hb_arg(&src), hb_arg(&tiny)};
    void *f1 = submit(q, builtin("sha256"), args, 2, 0, NULL, NULL, 0);
    void *f2 = submit(q, builtin("accel.noop"), NULL, 0, 0, NULL, NULL, 0);
    assert_int_equal(wait_release(f2), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(wait_release(f1), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_run(&D, q, builtin("accel.noop"), NULL, 0, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    D.t->queue_destroy(q);
    assert_int_equal(run(builtin("accel.noop"), NULL, 0), ACCEL_SUCCESS);
    hb_free(&src);
    hb_free(&tiny);
}

static void test_icd_cpu_fence_timeout(void **state)
{
    (void)state;
    slow s = slow_open();
    void *q;
    assert_int_equal(D.t->queue_create(DEV, &q), ACCEL_SUCCESS);
    hbuf val = hb_new(4);
    void *f = submit_sleep_write(q, &s, val.mem, GUARD, 300, 1, NULL, 0);
    assert_int_equal(D.t->fence_status(f), ACCEL_NOT_READY);
    assert_int_equal(D.t->fence_wait(f, 0), ACCEL_TIMEOUT);
    uint64_t t0 = now_ns();
    assert_int_equal(D.t->fence_wait(f, 20 * 1000 * 1000), ACCEL_TIMEOUT);
    uint64_t dt = now_ns() - t0;
    assert_true(dt >= 20 * 1000 * 1000);
    assert_true(dt < 250 * 1000 * 1000);
    t0 = now_ns();
    assert_int_equal(D.t->fence_wait(f, 1000), ACCEL_TIMEOUT); /* 1 us: spins only */
    assert_true(now_ns() - t0 < 100 * 1000 * 1000);
    assert_int_equal(D.t->fence_wait(f, UINT64_MAX - 1), ACCEL_SUCCESS); /* no overflow */
    assert_int_equal(D.t->fence_wait(f, 0), ACCEL_SUCCESS);
    assert_int_equal(D.t->fence_status(f), ACCEL_SUCCESS);
    D.t->fence_release(f);
    D.t->queue_destroy(q);
    hb_free(&val);
    slow_close(&s);
}

/* ACCEL_CPU_FAULT_AFTER=3: submissions 3 and later fail with device lost,
 * on every queue, without hanging. */
static void test_icd_cpu_device_lost(void **state)
{
    (void)state;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_FAULT_AFTER", "3");
    int opened = ih_open(&D2, DRIVER_PATH);
    ts_env_pop_to(depth);
    assert_int_equal(opened, 0);
    const accel_icd_table *t = D2.t;
    void *dev = D2.devices[0], *q, *q2, *noop;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(t->function_get(dev, NULL, "accel.noop", &noop, &info), ACCEL_SUCCESS);
    assert_int_equal(t->queue_create(dev, &q), ACCEL_SUCCESS);
    assert_int_equal(t->queue_create(dev, &q2), ACCEL_SUCCESS);
    assert_int_equal(ih_run(&D2, q, noop, NULL, 0, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(ih_run(&D2, q2, noop, NULL, 0, 0, 0), ACCEL_SUCCESS);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ih_run(&D2, q, noop, NULL, 0, 0, 0), ACCEL_ERROR_DEVICE_LOST);
        assert_int_equal(ih_run(&D2, q2, noop, NULL, 0, 0, 0), ACCEL_ERROR_DEVICE_LOST);
    }
    /* Many at once, and a chain through wait fences. */
    void *fences[64];
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    for (int i = 0; i < 64; i++) {
        s.wait_fence_count = i ? 1 : 0;
        s.wait_fences = i ? &fences[i - 1] : NULL;
        assert_int_equal(t->queue_submit(i % 2 ? q : q2, &s, &fences[i]), ACCEL_SUCCESS);
    }
    for (int i = 63; i >= 0; i--) {
        assert_int_equal(t->fence_wait(fences[i], 10ull * 1000 * 1000 * 1000), ACCEL_ERROR_DEVICE_LOST);
        t->fence_release(fences[i]);
    }
    void *q3;
    assert_int_equal(t->queue_create(dev, &q3), ACCEL_SUCCESS);
    assert_int_equal(ih_run(&D2, q3, noop, NULL, 0, 0, 0), ACCEL_ERROR_DEVICE_LOST);
    t->queue_destroy(q);
    t->queue_destroy(q2);
    t->queue_destroy(q3);
    t->function_release(noop);
    ih_close(&D2);

    /* A value that is not a number is ignored. */
    ts_env_push("ACCEL_CPU_FAULT_AFTER", "soon");
    opened = ih_open(&D2, DRIVER_PATH);
    ts_env_pop_to(depth);
    assert_int_equal(opened, 0);
    assert_int_equal(D2.t->queue_create(D2.devices[0], &q), ACCEL_SUCCESS);
    assert_int_equal(D2.t->function_get(D2.devices[0], NULL, "accel.noop", &noop, &info), ACCEL_SUCCESS);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ih_run(&D2, q, noop, NULL, 0, 0, 0), ACCEL_SUCCESS);
    D2.t->queue_destroy(q);
    ih_close(&D2);
}

/* Many threads on the same fences. */
typedef struct waiter_arg {
    void **fences;
    int count;
    int seed;
    atomic_int *go;
    int failures;
} waiter_arg;

static void *waiter_main(void *p)
{
    waiter_arg *a = p;
    while (!atomic_load(a->go))
        sched_yield();
    for (int k = 0; k < a->count; k++) {
        int i = (k * 7 + a->seed) % a->count;
        accel_result r;
        switch ((k + a->seed) % 3) {
        case 0: r = D.t->fence_wait(a->fences[i], UINT64_MAX); break;
        case 1:
            while ((r = D.t->fence_wait(a->fences[i], 50 * 1000)) == ACCEL_TIMEOUT) {
            }
            break;
        default:
            while ((r = D.t->fence_status(a->fences[i])) == ACCEL_NOT_READY)
                sched_yield();
        }
        if (r != ACCEL_SUCCESS)
            a->failures++;
    }
    return NULL;
}

static void *round_trip_main(void *p)
{
    waiter_arg *a = p;
    void *q, *noop = builtin("accel.noop");
    if (D.t->queue_create(DEV, &q) != ACCEL_SUCCESS) {
        a->failures++;
        return NULL;
    }
    while (!atomic_load(a->go))
        sched_yield();
    for (int i = 0; i < a->count; i++)
        if (ih_run(&D, q, noop, NULL, 0, 0, 0) != ACCEL_SUCCESS)
            a->failures++;
    D.t->queue_destroy(q);
    return NULL;
}

static void test_icd_cpu_many_waiters(void **state)
{
    (void)state;
    enum { THREADS = 16, FENCES = 400 };
    slow s = slow_open();
    hbuf val = hb_new(4);
    void *q;
    assert_int_equal(D.t->queue_create(DEV, &q), ACCEL_SUCCESS);
    void *fences[FENCES];
    fences[0] = submit_sleep_write(q, &s, val.mem, GUARD, 30, 1, NULL, 0);
    void *noop = builtin("accel.noop");
    for (int i = 1; i < FENCES; i++)
        fences[i] = submit(q, noop, NULL, 0, 0, NULL, NULL, 0);

    pthread_t th[THREADS];
    waiter_arg args[THREADS];
    atomic_int go = 0;
    for (int i = 0; i < THREADS; i++) {
        args[i] = (waiter_arg){.fences = fences, .count = FENCES, .seed = i, .go = &go};
        assert_int_equal(pthread_create(&th[i], NULL, waiter_main, &args[i]), 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    for (int i = 0; i < FENCES; i++)
        D.t->fence_release(fences[i]);
    D.t->queue_destroy(q);

    /* Threads each with their own queue, round trips at once. */
    atomic_store(&go, 0);
    for (int i = 0; i < 4; i++) {
        args[i] = (waiter_arg){.count = 1000, .go = &go};
        assert_int_equal(pthread_create(&th[i], NULL, round_trip_main, &args[i]), 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    hb_free(&val);
    slow_close(&s);
}

/* A full ring: more pending submissions than the queue holds at once. */
static uint64_t query_u64(void *dev, accel_device_param param, accel_result want)
{
    uint64_t v = 0;
    size_t size = 0;
    assert_int_equal(D.t->device_query(dev, param, &v, sizeof(v), &size), want);
    if (want == ACCEL_SUCCESS)
        assert_int_equal(size, sizeof(v));
    return v;
}

static uint32_t query_u32(void *dev, accel_device_param param)
{
    uint32_t v = 0;
    size_t size = 0;
    assert_int_equal(D.t->device_query(dev, param, &v, sizeof(v), &size), ACCEL_SUCCESS);
    assert_int_equal(size, sizeof(v));
    return v;
}

/* "Node N MemTotal: K kB" of /sys/devices/system/node/nodeN/meminfo, read
 * here independently of the driver; 0 if there is none. */
static uint64_t node_mem_total(int node)
{
    char path[96], line[256];
    snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
    FILE *f = fopen(path, "r");
    uint64_t bytes = 0;
    while (f && fgets(line, sizeof(line), f)) {
        char *p = strstr(line, "MemTotal:");
        if (p) {
            bytes = strtoull(p + strlen("MemTotal:"), NULL, 10) * 1024;
            break;
        }
    }
    if (f)
        fclose(f);
    return bytes;
}

/* The limits the driver enforces and the memory it reports: the host's for
 * the whole CPU, the node's for a partition of one NUMA node. */
static void test_icd_cpu_limits(void **state)
{
    (void)state;
    assert_int_equal(query_u32(DEV, ACCEL_DEVICE_PARAM_MAX_QUEUES), ACCEL_INSTANCES_UNLIMITED);
    assert_int_equal(query_u32(DEV, ACCEL_DEVICE_PARAM_QUEUE_DEPTH), 1024);
    assert_int_equal(query_u32(DEV, ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS), ACCEL_MAX_ARGS);
    assert_int_equal(query_u64(DEV, ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT, ACCEL_SUCCESS), 1);
    query_u64(DEV, ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE, ACCEL_ERROR_UNSUPPORTED);
    query_u64(DEV, ACCEL_DEVICE_PARAM_MAX_ALLOCATION, ACCEL_ERROR_UNSUPPORTED);
    uint64_t host = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    assert_int_equal(query_u64(DEV, ACCEL_DEVICE_PARAM_MEMORY_SIZE, ACCEL_SUCCESS), host);
    /* The size contract: too small a value is refused untouched. */
    uint32_t small = 0x5c5c5c5c;
    assert_int_equal(D.t->device_query(DEV, ACCEL_DEVICE_PARAM_MEMORY_SIZE, &small, sizeof(small), NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(small, 0x5c5c5c5c);

    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_CPU_PARTITIONS", "numa");
    int opened = ih_open(&D2, DRIVER_PATH);
    ts_env_pop_to(depth);
    assert_int_equal(opened, 0);
    for (uint32_t i = 1; i < D2.device_count; i++) {
        int node = D2.info[i].numa_node;
        assert_true(node >= 0);
        uint64_t want = node_mem_total(node);
        uint64_t got = 0;
        assert_int_equal(
            D2.t->device_query(D2.devices[i], ACCEL_DEVICE_PARAM_MEMORY_SIZE, &got, sizeof(got), NULL),
            ACCEL_SUCCESS);
        assert_true(want > 0);
        assert_int_equal(got, want);
        printf("partition %s: %llu bytes of memory\n", D2.info[i].partition, (unsigned long long)got);
    }
    ih_close(&D2);
}

static void test_icd_cpu_deep_queue(void **state)
{
    (void)state;
    enum { N = 5000 };
    slow s = slow_open();
    hbuf val = hb_new(4);
    void *q;
    assert_int_equal(D.t->queue_create(DEV, &q), ACCEL_SUCCESS);
    void **fences = malloc(N * sizeof(*fences));
    assert_non_null(fences);
    fences[0] = submit_sleep_write(q, &s, val.mem, GUARD, 20, 1, NULL, 0);
    void *noop = builtin("accel.noop");
    for (int i = 1; i < N; i++)
        fences[i] = submit(q, noop, NULL, 0, 0, NULL, i > 1 ? &fences[i - 1] : NULL, i > 1);
    for (int i = N - 1; i >= 0; i--)
        assert_int_equal(wait_release(fences[i]), ACCEL_SUCCESS);
    free(fences);
    D.t->queue_destroy(q);
    hb_free(&val);
    slow_close(&s);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Not a pass/fail criterion: prints the no-op round trip (submit, wait,
 * release) from one thread. */
static void test_icd_cpu_noop_round_trip(void **state)
{
    (void)state;
    enum { WARM = 2000, N = 20000 };
    void *noop = builtin("accel.noop");
    void *q;
    assert_int_equal(D.t->queue_create(DEV, &q), ACCEL_SUCCESS);
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    uint64_t *t = malloc(N * sizeof(*t));
    assert_non_null(t);
    for (int i = 0; i < WARM + N; i++) {
        void *fence;
        uint64_t t0 = now_ns();
        accel_result r = D.t->queue_submit(q, &s, &fence);
        if (r == ACCEL_SUCCESS) {
            r = D.t->fence_wait(fence, UINT64_MAX);
            D.t->fence_release(fence);
        }
        uint64_t t1 = now_ns();
        assert_int_equal(r, ACCEL_SUCCESS);
        if (i >= WARM)
            t[i - WARM] = t1 - t0;
    }
    qsort(t, N, sizeof(*t), cmp_u64);
    printf("accel.noop round trip (submit + fence_wait + fence_release), %d samples: median %llu ns, "
           "p90 %llu ns, p99 %llu ns, min %llu ns\n",
           N, (unsigned long long)t[N / 2], (unsigned long long)t[N * 9 / 10],
           (unsigned long long)t[N * 99 / 100], (unsigned long long)t[0]);
    free(t);
    D.t->queue_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_icd_cpu_table),
        cmocka_unit_test_setup_teardown(test_icd_cpu_limits, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_icd_cpu_memory_attach),
        cmocka_unit_test(test_icd_cpu_memory_device),
        cmocka_unit_test(test_icd_cpu_staged),
        cmocka_unit_test(test_icd_cpu_noop),
        cmocka_unit_test(test_icd_cpu_crc32c),
        cmocka_unit_test_setup_teardown(test_icd_cpu_crc32c_tables, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_icd_cpu_sha256),
        cmocka_unit_test(test_icd_cpu_deflate_inflate),
        cmocka_unit_test(test_icd_cpu_deflate_levels),
        cmocka_unit_test(test_icd_cpu_deflate_bad_levels),
        cmocka_unit_test(test_icd_cpu_deflate_incompressible),
        cmocka_unit_test(test_icd_cpu_zlib_corpus),
        cmocka_unit_test(test_icd_cpu_inflate_zlib_levels),
        cmocka_unit_test(test_icd_cpu_deflate_large),
        cmocka_unit_test_setup_teardown(test_icd_cpu_huge, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_icd_cpu_inflate_foreign_streams),
        cmocka_unit_test(test_icd_cpu_corrupt_streams),
        cmocka_unit_test(test_icd_cpu_outputs_too_small),
        cmocka_unit_test(test_icd_cpu_fill),
        cmocka_unit_test(test_icd_cpu_copy),
        cmocka_unit_test(test_icd_cpu_submit_checks),
        cmocka_unit_test(test_icd_cpu_kernels),
        cmocka_unit_test(test_icd_cpu_kernel_load_errors),
        cmocka_unit_test(test_icd_cpu_metadata_parser),
        cmocka_unit_test(test_icd_cpu_in_order),
        cmocka_unit_test(test_icd_cpu_wait_fences),
        cmocka_unit_test(test_icd_cpu_queue_broken),
        cmocka_unit_test(test_icd_cpu_fence_timeout),
        cmocka_unit_test_setup_teardown(test_icd_cpu_device_lost, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_icd_cpu_many_waiters),
        cmocka_unit_test(test_icd_cpu_deep_queue),
        cmocka_unit_test(test_icd_cpu_noop_round_trip),
    };
    return cmocka_run_group_tests_name("icd-cpu", tests, group_setup, group_teardown);
}
