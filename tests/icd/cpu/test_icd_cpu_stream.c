/* test_icd_cpu_stream.c — the cpu driver's stream forms of the standard
 * functions (docs/standard-functions.md, "Stream forms") through its
 * function table (icd_harness.h): crc32c.stream, sha256.stream,
 * zlib.deflate.stream and zlib.inflate.stream over chunkings down to one
 * byte, compared with the one-shot forms, with zlib and OpenSSL; corrupt
 * streams and states these functions did not write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "../icd_harness.h"
#include "../icd_support.h"

#define CRC_STATE     4u
#define SHA_STATE     112u
#define DEFLATE_STATE 32800u
#define INFLATE_STATE 33984u

static ih_driver D;
static void *DEV, *Q;
static void *F_CRC, *F_SHA, *F_DEF, *F_INF, *F_CRC1, *F_SHA1, *F_INF1;

/* ---- helpers --------------------------------------------------------------- */

typedef struct buf {
    uint8_t *p;
    uint64_t size;
    void *mem;
} buf;

static buf buf_new(uint64_t size)
{
    buf b = {.size = size};
    b.p = calloc(1, size ? size : 1);
    assert_non_null(b.p);
    int staged = -1;
    assert_int_equal(ih_attach(&D, DEV, b.p, size ? size : 1, &b.mem, &staged), ACCEL_SUCCESS);
    assert_int_equal(staged, 0);
    return b;
}

static void buf_free(buf *b)
{
    D.t->memory_detach(DEV, b->mem);
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static accel_icd_arg at(const buf *b, uint64_t off, uint64_t size)
{
    return ih_mem(b->mem, off, size);
}

static accel_icd_arg whole(const buf *b)
{
    return ih_mem(b->mem, 0, b->size);
}

static accel_icd_arg u32(uint32_t v)
{
    return ih_u32(v);
}

static void *builtin(const char *name, uint32_t count, const accel_arg_kind *kinds)
{
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(D.t->function_get(DEV, NULL, name, &fn, &info), ACCEL_SUCCESS);
    assert_non_null(fn);
    if (kinds) {
        assert_int_equal(info.arg_count, count);
        for (uint32_t i = 0; i < count; i++)
            assert_int_equal(info.arg_kinds[i], kinds[i]);
    }
    return fn;
}

static accel_result run(void *fn, const accel_icd_arg *args, uint32_t n)
{
    return ih_run(&D, Q, fn, args, n, 0, 0);
}

/* For calls expected to fail: a failure breaks its queue. */
static accel_result run_fresh(void *fn, const accel_icd_arg *args, uint32_t n)
{
    return run_on_fresh_queue(&D, DEV, fn, args, n);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Text-like data that compresses, with some random runs. */
static void make_data(uint8_t *p, size_t n)
{
    static const char *const words[] = {"stream ", "state ", "chunk ", "device ", "the ", "of ", "\n"};
    size_t i = 0;
    while (i < n) {
        if (rnd() % 16 == 0) {
            for (int k = 0; k < 20 && i < n; k++)
                p[i++] = (uint8_t)rnd();
            continue;
        }
        const char *w = words[rnd() % 7];
        for (size_t k = 0; w[k] && i < n; k++)
            p[i++] = (uint8_t)w[k];
    }
}

static void make_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return p;
}

/* Next chunk length for a chunking: 0 = one chunk, else that many bytes,
 * or random up to -c for negative c. */
static uint64_t chunk_len(int c, uint64_t left)
{
    uint64_t n = c == 0 ? left : c > 0 ? (uint64_t)c : 1 + rnd() % (uint32_t)(-c);
    return n < left ? n : left;
}

static const int chunkings[] = {0, 1, 7, 64, 1000, 65536 + 13, -5000};
#define NCHUNKINGS (sizeof(chunkings) / sizeof(chunkings[0]))

/* ---- setup -------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    return ih_open_queue(&D, DRIVER_PATH, &DEV, &Q);
}

static int group_teardown(void **state)
{
    (void)state;
    ih_close_queue(&D, Q);
    return 0;
}

static int test_setup(void **state)
{
    (void)state;
    static const accel_arg_kind k_crc[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY};
    static const accel_arg_kind k_sha[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY,
                                           ACCEL_ARG_U32};
    static const accel_arg_kind k_def[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY,
                                           ACCEL_ARG_I32,    ACCEL_ARG_MEMORY, ACCEL_ARG_U32};
    static const accel_arg_kind k_inf[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY,
                                           ACCEL_ARG_MEMORY};
    F_CRC = builtin("crc32c.stream", 2, k_crc);
    F_SHA = builtin("sha256.stream", 4, k_sha);
    F_DEF = builtin("zlib.deflate.stream", 6, k_def);
    F_INF = builtin("zlib.inflate.stream", 4, k_inf);
    F_CRC1 = builtin("crc32c", 0, NULL);
    F_SHA1 = builtin("sha256", 0, NULL);
    F_INF1 = builtin("zlib.inflate", 0, NULL);
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    void *fns[] = {F_CRC, F_SHA, F_DEF, F_INF, F_CRC1, F_SHA1, F_INF1};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
        D.t->function_release(fns[i]);
    return 0;
}

/* ---- crc32c.stream -------------------------------------------------------------- */

/* The stream's CRC over src in chunks; the state is moved to a fresh
 * memory object between chunks, as it would be between devices. */
static uint32_t crc_stream(const buf *src, int chunking)
{
    buf st = buf_new(CRC_STATE);
    uint64_t off = 0;
    do {
        uint64_t n = chunk_len(chunking, src->size - off);
        accel_icd_arg a[] = {at(src, off, n), whole(&st)};
        assert_int_equal(run(F_CRC, a, 2), ACCEL_SUCCESS);
        off += n;
        buf moved = buf_new(CRC_STATE);
        memcpy(moved.p, st.p, CRC_STATE);
        buf_free(&st);
        st = moved;
    } while (off < src->size);
    uint32_t crc = ih_le32(st.p);
    buf_free(&st);
    return crc;
}

static void test_crc32c_stream(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {0, 1, 9, 300, 100000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        buf src = buf_new(sizes[s]);
        make_data(src.p, (size_t)src.size);
        if (sizes[s] == 9)
            memcpy(src.p, "123456789", 9);
        buf res = buf_new(4);
        accel_icd_arg a[] = {whole(&src), whole(&res)};
        assert_int_equal(run(F_CRC1, a, 2), ACCEL_SUCCESS);
        uint32_t want = ref_crc32c_bitwise(src.p, (size_t)src.size);
        assert_int_equal(ih_le32(res.p), want);
        if (sizes[s] == 9)
            assert_int_equal(want, 0xE3069283u);
        for (size_t c = 0; c < NCHUNKINGS; c++) {
            if (chunkings[c] == 1 && src.size > 1000)
                continue;
            assert_int_equal(crc_stream(&src, chunkings[c]), want);
        }
        buf_free(&res);
        buf_free(&src);
    }
    /* The state carries the finished CRC: any u32 goes on from there. */
    buf src = buf_new(9), st = buf_new(CRC_STATE);
    memcpy(src.p, "123456789", 9);
    put_le32(st.p, ref_crc32c_bitwise((const uint8_t *)"abc", 3));
    accel_icd_arg a[] = {whole(&src), whole(&st)};
    assert_int_equal(run(F_CRC, a, 2), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(st.p), ref_crc32c_bitwise((const uint8_t *)"abc123456789", 12));
    /* A state of 3 bytes. */
    accel_icd_arg small[] = {whole(&src), at(&st, 0, 3)};
    assert_int_equal(run_fresh(F_CRC, small, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    /* State overlapping src. */
    accel_icd_arg lap[] = {whole(&src), at(&src, 4, 4)};
    assert_int_equal(run_fresh(F_CRC, lap, 2), ACCEL_ERROR_INVALID_ARGUMENT);
    buf_free(&st);
    buf_free(&src);
}

/* ---- sha256.stream -------------------------------------------------------------- */

static void sha_stream(const buf *src, int chunking, uint8_t digest[32])
{
    buf st = buf_new(SHA_STATE), res = buf_new(32), none = buf_new(0);
    uint64_t off = 0;
    for (;;) {
        uint64_t n = chunk_len(chunking, src->size - off);
        bool last = off + n == src->size;
        /* Not final: sometimes no result at all, sometimes one that stays untouched. */
        accel_icd_arg a[] = {at(src, off, n), whole(&st), last || (off & 1) ? whole(&res) : at(&none, 0, 0),
                             u32(last)};
        memset(res.p, 0x5a, 32);
        assert_int_equal(run(F_SHA, a, 4), ACCEL_SUCCESS);
        off += n;
        if (last)
            break;
        for (int i = 0; i < 32; i++)
            assert_int_equal(res.p[i], 0x5a);
        assert_int_equal(ih_le64(st.p + 32), off);
        assert_int_equal(ih_le32(st.p + 104), off >= 64);
    }
    memcpy(digest, res.p, 32);
    for (uint32_t i = 0; i < SHA_STATE; i++)
        assert_int_equal(st.p[i], 0); /* fresh again */
    buf_free(&none);
    buf_free(&res);
    buf_free(&st);
}

static void test_sha256_stream(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {0, 1, 3, 55, 56, 63, 64, 65, 127, 128, 1000, 200000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        buf src = buf_new(sizes[s]);
        make_data(src.p, (size_t)src.size);
        if (sizes[s] == 3)
            memcpy(src.p, "abc", 3);
        uint8_t want[32], got[32];
        SHA256(src.p, (size_t)src.size, want);
        buf res = buf_new(32);
        accel_icd_arg a[] = {whole(&src), whole(&res)};
        assert_int_equal(run(F_SHA1, a, 2), ACCEL_SUCCESS);
        assert_memory_equal(res.p, want, 32);
        if (sizes[s] == 3) {
            static const uint8_t abc[4] = {0xba, 0x78, 0x16, 0xbf};
            assert_memory_equal(want, abc, 4);
        }
        for (size_t c = 0; c < NCHUNKINGS; c++) {
            if (chunkings[c] == 1 && src.size > 2000)
                continue;
            sha_stream(&src, chunkings[c], got);
            assert_memory_equal(got, want, 32);
        }
        buf_free(&res);
        buf_free(&src);
    }
}

static void test_sha256_stream_bad(void **state)
{
    (void)state;
    buf src = buf_new(100), st = buf_new(SHA_STATE), res = buf_new(32), none = buf_new(0);
    make_data(src.p, 100);
    /* Final without room for the digest, a result of 1-31 bytes. */
    accel_icd_arg nores[] = {whole(&src), whole(&st), at(&none, 0, 0), u32(1)};
    assert_int_equal(run_fresh(F_SHA, nores, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg shortres[] = {whole(&src), whole(&st), at(&res, 0, 31), u32(0)};
    assert_int_equal(run_fresh(F_SHA, shortres, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg smallst[] = {whole(&src), at(&st, 0, SHA_STATE - 1), whole(&res), u32(0)};
    assert_int_equal(run_fresh(F_SHA, smallst, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    /* States no sha256.stream wrote: each is left untouched. */
    accel_icd_arg a[] = {whole(&src), whole(&st), whole(&res), u32(0)};
    struct {
        uint32_t offset, value;
    } bad[] = {{104, 2}, {108, 1}, {0, 1} /* H without started */, {32, 64} /* 64 bytes, not started */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(st.p, 0, SHA_STATE);
        put_le32(st.p + bad[i].offset, bad[i].value);
        uint8_t before[SHA_STATE];
        memcpy(before, st.p, SHA_STATE);
        assert_int_equal(run_fresh(F_SHA, a, 4), ACCEL_ERROR_INVALID_ARGUMENT);
        assert_memory_equal(st.p, before, SHA_STATE);
    }
    buf_free(&none);
    buf_free(&res);
    buf_free(&st);
    buf_free(&src);
}

/* ---- zlib.deflate.stream --------------------------------------------------------- */

static uint64_t bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 16;
}

/* The stream of src in chunks at level: the pieces laid end to end into
 * *out (allocated); its length. Each piece within the bound, dst given
 * exactly the bound. */
static uint64_t deflate_stream(const buf *src, int chunking, int level, uint8_t **out)
{
    buf st = buf_new(DEFLATE_STATE), size = buf_new(8);
    buf dst = buf_new(bound(chunking ? (uint64_t)(chunking > 0 ? chunking : -chunking) : src->size));
    uint64_t cap = 1024, len = 0, off = 0;
    uint8_t *o = malloc(cap);
    for (;;) {
        uint64_t n = chunk_len(chunking, src->size - off);
        bool last = off + n == src->size;
        accel_icd_arg a[] = {at(src, off, n), at(&dst, 0, bound(n)), whole(&size), ih_i32(level), whole(&st),
                             u32(last)};
        assert_int_equal(run(F_DEF, a, 6), ACCEL_SUCCESS);
        uint64_t piece = ih_le64(size.p);
        assert_true(piece <= bound(n));
        if (len + piece > cap) {
            cap = 2 * (len + piece);
            o = realloc(o, cap);
        }
        memcpy(o + len, dst.p, piece);
        len += piece;
        off += n;
        if (last)
            break;
        /* A sync flush: the piece ends with an empty stored block. */
        assert_true(piece >= 5);
        assert_memory_equal(dst.p + piece - 4, "\x00\x00\xff\xff", 4);
    }
    for (uint32_t i = 0; i < DEFLATE_STATE; i++)
        assert_int_equal(st.p[i], 0);
    buf_free(&dst);
    buf_free(&size);
    buf_free(&st);
    *out = o;
    return len;
}

static void check_zlib_stream(const uint8_t *z, uint64_t zlen, const buf *src)
{
    uLongf n = (uLongf)src->size + 1;
    uint8_t *back = malloc(n);
    assert_int_equal(uncompress(back, &n, z, (uLong)zlen), Z_OK);
    assert_int_equal(n, src->size);
    if (n)
        assert_memory_equal(back, src->p, (size_t)n);
    free(back);
}

static void test_deflate_stream(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {0, 1, 200, 70000, 300000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        buf src = buf_new(sizes[s]);
        make_data(src.p, (size_t)src.size);
        for (int level = -1; level <= 9; level++)
            for (size_t c = 0; c < NCHUNKINGS; c++) {
                if ((chunkings[c] == 1 && src.size > 300) || (src.size > 100000 && level != 6 && level != 1))
                    continue;
                uint8_t *z;
                uint64_t zlen = deflate_stream(&src, chunkings[c], level, &z);
                check_zlib_stream(z, zlen, &src);
                /* Chunks that compress: the stream is smaller than the input. */
                if (level > 0 && src.size >= 70000 && chunkings[c] != 7 && chunkings[c] != 64)
                    assert_true(zlen < src.size * 3 / 4);
                free(z);
            }
        buf_free(&src);
    }
    /* Incompressible input at every level into exactly the bound. */
    buf rnd_src = buf_new(200000);
    make_random(rnd_src.p, 200000);
    for (int level = 0; level <= 9; level++) {
        uint8_t *z;
        uint64_t zlen = deflate_stream(&rnd_src, 0, level, &z);
        check_zlib_stream(z, zlen, &rnd_src);
        free(z);
        zlen = deflate_stream(&rnd_src, 70001, level, &z);
        check_zlib_stream(z, zlen, &rnd_src);
        free(z);
    }
    buf_free(&rnd_src);
}

/* Chunks large enough for segments compressed side by side (on a machine
 * with several CPUs): 1 MiB + 7 whole and in chunks of 600001, compressible
 * and not, final and not; zlib takes the pieces as one stream, and the
 * ratio stays within 1% (plus a few bytes per segment) of zlib's own. */
static void test_deflate_stream_segments(void **state)
{
    (void)state;
    const uint64_t n = (1u << 20) + 7;
    buf src = buf_new(n), rnd = buf_new(n);
    make_data(src.p, (size_t)n);
    make_random(rnd.p, (size_t)n);
    static const int chunks[] = {0, 600001};
    for (size_t c = 0; c < 2; c++)
        for (int level = 1; level <= 9; level += 4) {
            uint8_t *z;
            uint64_t zlen = deflate_stream(&src, chunks[c], level, &z);
            check_zlib_stream(z, zlen, &src);
            uLongf ref = compressBound((uLong)n);
            uint8_t *r = malloc(ref);
            assert_int_equal(compress2(r, &ref, src.p, (uLong)n, level), Z_OK);
            if ((double)zlen > (double)ref * 1.01 + 64)
                fail_msg("level %d, chunks %d: %llu bytes, zlib %lu", level, chunks[c], (unsigned long long)zlen,
                         (unsigned long)ref);
            free(r);
            free(z);
            zlen = deflate_stream(&rnd, chunks[c], level, &z); /* into exactly the bound */
            check_zlib_stream(z, zlen, &rnd);
            free(z);
        }
    buf_free(&rnd);
    buf_free(&src);
}

static void test_deflate_stream_bad(void **state)
{
    (void)state;
    buf src = buf_new(5000), dst = buf_new(bound(5000)), size = buf_new(8), st = buf_new(DEFLATE_STATE);
    make_random(src.p, 5000);
    /* One good piece first, so that the state is not fresh. */
    accel_icd_arg first[] = {at(&src, 0, 1000), whole(&dst), whole(&size), ih_i32(6), whole(&st), u32(0)};
    assert_int_equal(run(F_DEF, first, 6), ACCEL_SUCCESS);
    uint8_t before[DEFLATE_STATE];
    memcpy(before, st.p, DEFLATE_STATE);
    /* dst too small for incompressible data: fails, state unchanged. */
    accel_icd_arg small[] = {
        at(&src, 1000, 4000), at(&dst, 0, 3000), whole(&size), ih_i32(6), whole(&st), u32(0)};
    assert_int_equal(run_fresh(F_DEF, small, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_memory_equal(st.p, before, DEFLATE_STATE);
    accel_icd_arg level[] = {at(&src, 1000, 4000), whole(&dst), whole(&size), ih_i32(10), whole(&st), u32(0)};
    assert_int_equal(run_fresh(F_DEF, level, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_memory_equal(st.p, before, DEFLATE_STATE);
    accel_icd_arg shortsize[] = {at(&src, 1000, 4000), whole(&dst), at(&size, 0, 7), ih_i32(6),
                                 whole(&st),           u32(0)};
    assert_int_equal(run_fresh(F_DEF, shortsize, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg shortst[] = {at(&src, 1000, 4000),          whole(&dst), whole(&size), ih_i32(6),
                               at(&st, 0, DEFLATE_STATE - 1), u32(0)};
    assert_int_equal(run_fresh(F_DEF, shortst, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    /* States no zlib.deflate.stream wrote. */
    accel_icd_arg a[] = {at(&src, 1000, 4000), whole(&dst), whole(&size), ih_i32(6), whole(&st), u32(0)};
    struct {
        uint32_t offset, value;
    } bad[] = {{4, 2}, {16, 40000}, {16, 999} /* held is not min(total, 32768) */, {20, 1}, {0, 0xffffffff}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(st.p, before, DEFLATE_STATE);
        put_le32(st.p + bad[i].offset, bad[i].value);
        assert_int_equal(run_fresh(F_DEF, a, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    }
    /* A fresh state with an Adler-32 in it. */
    memset(st.p, 0, DEFLATE_STATE);
    put_le32(st.p, 1);
    assert_int_equal(run_fresh(F_DEF, a, 6), ACCEL_ERROR_INVALID_ARGUMENT);
    buf_free(&st);
    buf_free(&size);
    buf_free(&dst);
    buf_free(&src);
}

/* ---- zlib.inflate.stream ----------------------------------------------------------- */

typedef struct inflated {
    int status;          /* the last call's status, or -1 when a call failed */
    uint64_t consumed;   /* of the input, in all */
    uint64_t written;    /* in all */
    accel_result result; /* of the failed call */
} inflated;

/* Inflates z in chunks (chunking as chunk_len) with dst room of at most
 * room bytes per call (0: all there is), into out (cap bytes); the state
 * moved to another memory object between calls. Stops at status 1, a
 * failure, or when the input is spent with status 0. */
static inflated inflate_stream(const uint8_t *z, uint64_t zlen, int chunking, int room, uint8_t *out,
                               uint64_t cap)
{
    buf src = buf_new(zlen), dst = buf_new(cap), prog = buf_new(24), st = buf_new(INFLATE_STATE);
    memcpy(src.p, z, zlen);
    inflated r = {0};
    uint64_t pending = 0; /* bytes of the current chunk not yet consumed */
    for (int spins = 0;; spins++) {
        assert_true(spins < 50000000);
        uint64_t n = pending ? pending : chunk_len(chunking, zlen - r.consumed);
        uint64_t space = cap - r.written;
        if (room > 0) {
            uint64_t most = rnd() % ((uint32_t)room + 1);
            if (space > most)
                space = most;
        }
        accel_icd_arg a[] = {at(&src, r.consumed, n), at(&dst, r.written, space), whole(&prog), whole(&st)};
        memset(prog.p, 0xee, 24);
        accel_result res = run(F_INF, a, 4);
        if (res != ACCEL_SUCCESS) {
            /* A failed call breaks its queue. */
            D.t->queue_destroy(Q);
            assert_int_equal(D.t->queue_create(DEV, &Q), ACCEL_SUCCESS);
            r.status = -1;
            r.result = res;
            break;
        }
        uint64_t used = ih_le64(prog.p), wrote = ih_le64(prog.p + 8);
        r.status = (int)ih_le32(prog.p + 16);
        assert_int_equal(ih_le32(prog.p + 20), 0);
        assert_true(used <= n);
        assert_true(wrote <= space);
        r.consumed += used;
        r.written += wrote;
        pending = n - used;
        if (r.status == 0)
            assert_int_equal(used, n);
        else if (r.status == 2)
            assert_true(r.written == cap || wrote == space);
        else
            assert_int_equal(r.status, 1);
        if (r.status == 1 || (r.status == 0 && r.consumed == zlen))
            break;
        buf moved = buf_new(INFLATE_STATE);
        memcpy(moved.p, st.p, INFLATE_STATE);
        buf_free(&st);
        st = moved;
    }
    memcpy(out, dst.p, r.written);
    buf_free(&st);
    buf_free(&prog);
    buf_free(&dst);
    buf_free(&src);
    return r;
}

static void expect_inflates_to(const uint8_t *z, uint64_t zlen, const uint8_t *want, uint64_t n, int chunking,
                               int room)
{
    uint8_t *out = malloc(n + 64);
    inflated r = inflate_stream(z, zlen, chunking, room, out, n + 64);
    assert_int_equal(r.status, 1);
    assert_int_equal(r.consumed, zlen);
    assert_int_equal(r.written, n);
    if (n)
        assert_memory_equal(out, want, n);
    free(out);
}

/* zlib's streams at levels 0-9 (stored, fixed and dynamic blocks). */
static void test_inflate_stream_levels(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {0, 1, 100, 3000, 150000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint8_t *p = malloc(sizes[s] + 1);
        make_data(p, (size_t)sizes[s]);
        for (int level = 0; level <= 9; level++) {
            size_t zlen;
            uint8_t *z = zlib_compress(p, sizes[s], level, Z_DEFAULT_STRATEGY, &zlen);
            for (size_t c = 0; c < NCHUNKINGS; c++) {
                if (chunkings[c] == 1 && zlen > 4000)
                    continue;
                expect_inflates_to(z, zlen, p, sizes[s], chunkings[c], 0);
            }
            /* One byte in, one byte of room per call. */
            if (sizes[s] <= 3000)
                expect_inflates_to(z, zlen, p, sizes[s], 1, 2);
            expect_inflates_to(z, zlen, p, sizes[s], -3000, 300);
            free(z);
        }
        free(p);
    }
}

/* The compression corpus, random chunk sizes and small dst sizes; and
 * what zlib.deflate.stream wrote. */
static void test_inflate_stream_corpus(void **state)
{
    (void)state;
    static const char *const files[] = {"alice29.txt", "fireworks.jpeg", "html",
                                        "kppkn.gtb",   "geo.protodata",  "paper-100k.pdf"};
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, files[f]);
        size_t n;
        uint8_t *p = read_file(path, &n);
        int levels[] = {1, 6, 9};
        for (size_t l = 0; l < 3; l++) {
            size_t zlen;
            uint8_t *z = zlib_compress(p, n, levels[l], Z_DEFAULT_STRATEGY, &zlen);
            expect_inflates_to(z, zlen, p, n, -20000, 0);
            expect_inflates_to(z, zlen, p, n, -700, 700);
            free(z);
        }
        /* zlib.deflate.stream's pieces, decoded by the stream and the one-shot form. */
        buf src = buf_new(n);
        memcpy(src.p, p, n);
        uint8_t *z;
        uint64_t zlen = deflate_stream(&src, -40000, 6, &z);
        expect_inflates_to(z, zlen, p, n, -3000, 5000);
        buf zb = buf_new(zlen), out = buf_new(n), size = buf_new(8);
        memcpy(zb.p, z, zlen);
        accel_icd_arg a[] = {whole(&zb), whole(&out), whole(&size)};
        assert_int_equal(run(F_INF1, a, 3), ACCEL_SUCCESS);
        assert_int_equal(ih_le64(size.p), n);
        assert_memory_equal(out.p, p, n);
        buf_free(&size);
        buf_free(&out);
        buf_free(&zb);
        buf_free(&src);
        free(z);
        free(p);
    }
}

/* Bytes after the stream are not consumed; an ended stream stays ended. */
static void test_inflate_stream_trailing(void **state)
{
    (void)state;
    uint8_t p[5000];
    make_data(p, sizeof(p));
    size_t zlen;
    uint8_t *z = zlib_compress(p, sizeof(p), 6, Z_DEFAULT_STRATEGY, &zlen);
    uint8_t *zz = malloc(zlen + 3);
    memcpy(zz, z, zlen);
    memcpy(zz + zlen, "XYZ", 3);
    uint8_t out[5100];
    for (int chunking = 1; chunking <= 2000; chunking = chunking * 3 + 1) {
        inflated r = inflate_stream(zz, zlen + 3, chunking, 0, out, sizeof(out));
        assert_int_equal(r.status, 1);
        assert_int_equal(r.consumed, zlen);
        assert_int_equal(r.written, sizeof(p));
    }
    /* dst exactly the output: the stream ends in the same call. */
    buf src = buf_new(zlen + 3), dst = buf_new(sizeof(p)), prog = buf_new(24), st = buf_new(INFLATE_STATE);
    memcpy(src.p, zz, zlen + 3);
    accel_icd_arg a[] = {whole(&src), whole(&dst), whole(&prog), whole(&st)};
    assert_int_equal(run(F_INF, a, 4), ACCEL_SUCCESS);
    assert_int_equal(ih_le64(prog.p), zlen);
    assert_int_equal(ih_le64(prog.p + 8), sizeof(p));
    assert_int_equal(ih_le32(prog.p + 16), 1);
    /* Again on the ended state: nothing consumed, status 1. */
    assert_int_equal(run(F_INF, a, 4), ACCEL_SUCCESS);
    assert_int_equal(ih_le64(prog.p), 0);
    assert_int_equal(ih_le64(prog.p + 8), 0);
    assert_int_equal(ih_le32(prog.p + 16), 1);
    buf_free(&st);
    buf_free(&prog);
    buf_free(&dst);
    buf_free(&src);
    free(zz);
    free(z);
}

static void expect_corrupt(const uint8_t *z, uint64_t zlen, int chunking)
{
    uint8_t *out = malloc(1 << 20);
    inflated r = inflate_stream(z, zlen, chunking, 0, out, 1 << 20);
    assert_int_equal(r.status, -1);
    assert_int_equal(r.result, ACCEL_ERROR_INVALID_ARGUMENT);
    free(out);
}

static void test_inflate_stream_corrupt(void **state)
{
    (void)state;
    uint8_t p[20000];
    make_data(p, sizeof(p));
    size_t zlen;
    uint8_t *z = zlib_compress(p, sizeof(p), 6, Z_DEFAULT_STRATEGY, &zlen);
    uint8_t *c = malloc(zlen);
    static const int chunks[] = {0, 1, 100};
    for (size_t k = 0; k < 3; k++) {
        int ch = chunks[k];
        /* The header: FCHECK, the method, the window, a preset dictionary. */
        memcpy(c, z, zlen);
        c[1] ^= 1;
        expect_corrupt(c, zlen, ch);
        static const uint8_t bad_headers[][2] = {{0x79, 0x9c - 0x1d}, {0x88, 0x1c}, {0x78, 0xbb}};
        for (size_t h = 0; h < 3; h++) {
            memcpy(c, z, zlen);
            memcpy(c, bad_headers[h], 2);
            if (((c[0] << 8) | c[1]) % 31)
                c[1] = (uint8_t)(c[1] + 31 - ((c[0] << 8) | c[1]) % 31);
            expect_corrupt(c, zlen, ch);
        }
        /* The Adler-32. */
        memcpy(c, z, zlen);
        c[zlen - 1] ^= 0x40;
        expect_corrupt(c, zlen, ch);
        /* Block type 3: the first block's header bits 1-2 set. */
        memcpy(c, z, zlen);
        c[2] |= 6;
        expect_corrupt(c, zlen, ch);
    }
    /* A stored block whose length's complement is wrong. */
    static const uint8_t stored[] = {0x78, 0x01, 0x01, 0x03, 0x00, 0xfc, 0xfe, 'a', 'b', 'c'};
    expect_corrupt(stored, sizeof(stored), 0);
    expect_corrupt(stored, sizeof(stored), 1);
    /* A distance further back than the output: fixed block, literal 'a',
     * then length 3 at distance 2. Built bit by bit. */
    {
        uint8_t s[16] = {0x78, 0x01};
        uint32_t bitpos = 16;
#define PUT(v, n)                                                                                            \
    for (int b_ = 0; b_ < (n); b_++, bitpos++)                                                               \
        s[bitpos / 8] |= (uint8_t)((((v) >> b_) & 1) << (bitpos % 8));
#define PUTCODE(code, n)                                                                                     \
    for (int b_ = (n)-1; b_ >= 0; b_--, bitpos++)                                                            \
        s[bitpos / 8] |= (uint8_t)((((code) >> b_) & 1) << (bitpos % 8));
        PUT(1, 1);              /* BFINAL */
        PUT(1, 2);              /* fixed */
        PUTCODE(0x30 + 'a', 8); /* literal 'a' */
        PUTCODE(1, 7);          /* 257: length 3 */
        PUTCODE(1, 5);          /* distance code 1: distance 2 */
        PUTCODE(0, 7);          /* 256 */
#undef PUT
#undef PUTCODE
        expect_corrupt(s, sizeof(s), 0);
        expect_corrupt(s, sizeof(s), 1);
    }
    /* Truncated: the input runs out with status 0, everything consumed. */
    uint8_t *out = malloc(sizeof(p));
    inflated r = inflate_stream(z, zlen - 3, 0, 0, out, sizeof(p));
    assert_int_equal(r.status, 0);
    assert_int_equal(r.consumed, zlen - 3);
    free(out);
    /* Random damage: never a crash; a success only with the right output. */
    for (int i = 0; i < 300; i++) {
        memcpy(c, z, zlen);
        for (int k = 0; k < 3; k++)
            c[2 + rnd() % (zlen - 2)] ^= (uint8_t)(1u << (rnd() % 8));
        uint8_t *o = malloc(sizeof(p) + 100);
        inflated rr = inflate_stream(c, zlen, i % 2 ? -50 : 0, 0, o, sizeof(p) + 100);
        if (rr.status == 1) {
            assert_int_equal(rr.written, sizeof(p));
            assert_memory_equal(o, p, sizeof(p));
        }
        free(o);
    }
    free(c);
    free(z);
}

static void test_inflate_stream_bad_state(void **state)
{
    (void)state;
    uint8_t p[3000];
    make_data(p, sizeof(p));
    size_t zlen;
    uint8_t *z = zlib_compress(p, sizeof(p), 6, Z_DEFAULT_STRATEGY, &zlen);
    buf src = buf_new(zlen), dst = buf_new(sizeof(p)), prog = buf_new(24), st = buf_new(INFLATE_STATE);
    memcpy(src.p, z, zlen);
    /* Half the stream into a state. */
    accel_icd_arg half[] = {at(&src, 0, zlen / 2), whole(&dst), whole(&prog), whole(&st)};
    assert_int_equal(run(F_INF, half, 4), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(prog.p + 16), 0);
    uint8_t good[INFLATE_STATE];
    memcpy(good, st.p, INFLATE_STATE);
    accel_icd_arg rest[] = {at(&src, zlen / 2, zlen - zlen / 2), at(&dst, ih_le64(prog.p + 8), sizeof(p)),
                            whole(&prog), whole(&st)};
    rest[1].u.mem.size = sizeof(p) - ih_le64(prog.p + 8);
    struct {
        uint32_t offset, value;
    } bad[] = {{0, 6},      {4, 4},  {16, 64},   {36, 513}, {48, 40000},
               {52, 32768}, {56, 1}, {33664, 1}, {40, 1},   {24, 259}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(st.p, good, INFLATE_STATE);
        put_le32(st.p + bad[i].offset, bad[i].value);
        assert_int_equal(run_fresh(F_INF, rest, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    }
    /* A fresh-looking state with output counted. */
    memset(st.p, 0, INFLATE_STATE);
    put_le32(st.p + 40, 5);
    assert_int_equal(run_fresh(F_INF, half, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    /* Small progress or state. */
    accel_icd_arg smallprog[] = {at(&src, 0, zlen), whole(&dst), at(&prog, 0, 23), whole(&st)};
    memset(st.p, 0, INFLATE_STATE);
    assert_int_equal(run_fresh(F_INF, smallprog, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_icd_arg smallst[] = {at(&src, 0, zlen), whole(&dst), whole(&prog), at(&st, 0, INFLATE_STATE - 1)};
    assert_int_equal(run_fresh(F_INF, smallst, 4), ACCEL_ERROR_INVALID_ARGUMENT);
    /* src overlapping dst or progress, progress overlapping dst. */
    buf big = buf_new(zlen + sizeof(p) + 24);
    memcpy(big.p, z, zlen);
    accel_icd_arg ovl[][4] = {
        {at(&big, 0, zlen), at(&big, zlen - 1, sizeof(p)), whole(&prog), whole(&st)},
        {at(&big, 0, zlen), whole(&dst), at(&big, 8, 24), whole(&st)},
        {at(&src, 0, zlen), at(&big, 0, sizeof(p)), at(&big, sizeof(p) - 1, 24), whole(&st)},
    };
    for (size_t i = 0; i < sizeof(ovl) / sizeof(ovl[0]); i++) {
        memset(st.p, 0, INFLATE_STATE);
        assert_int_equal(run_fresh(F_INF, ovl[i], 4), ACCEL_ERROR_INVALID_ARGUMENT);
    }
    buf_free(&big);
    /* The good state still finishes the stream. */
    memcpy(st.p, good, INFLATE_STATE);
    assert_int_equal(run(F_INF, rest, 4), ACCEL_SUCCESS);
    assert_int_equal(ih_le32(prog.p + 16), 1);
    assert_memory_equal(dst.p, p, sizeof(p));
    buf_free(&st);
    buf_free(&prog);
    buf_free(&dst);
    buf_free(&src);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crc32c_stream, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_sha256_stream, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_sha256_stream_bad, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_deflate_stream, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_deflate_stream_segments, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_deflate_stream_bad, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inflate_stream_levels, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inflate_stream_corpus, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inflate_stream_trailing, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inflate_stream_corrupt, test_setup, test_teardown),
        cmocka_unit_test_setup_teardown(test_inflate_stream_bad_state, test_setup, test_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
