/* functions.c — group "functions": the standard functions of
 * docs/standard-functions.md (names, signatures, results compared with the
 * suite's own CRC-32C and SHA-256 and with zlib), and a program the device
 * loads and runs. A device that does not offer a standard function
 * (ACCEL_ERROR_NOT_FOUND) skips its test. The stream forms (crc32c.stream
 * and so on) are checked inside the tests of their one-shot forms, where
 * the device offers them: they are optional. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "conformance.h"
#include "programs.h"

#define GUARD 0xee

typedef struct std_fn {
    const char *name;
    uint32_t count;
    accel_arg_kind kinds[6];
} std_fn;

static const std_fn standard[] = {
    {"accel.noop", 0, {0}},
    {"accel.copy", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"accel.fill", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"crc32c", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"sha256", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"zlib.deflate", 4, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_I32}},
    {"zlib.inflate", 3, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"crc32c.stream", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"sha256.stream", 4, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"zlib.deflate.stream",
     6,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_I32, ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"zlib.inflate.stream", 4, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
};

/* The chunks a stream form is fed: sizes that do not divide the input, an
 * empty one, one across 64 KiB. */
static const size_t stream_chunks[] = {1, 0, 1000, 31, 70001, 4099};
#define STREAM_CHUNKS (sizeof(stream_chunks) / sizeof(stream_chunks[0]))

static const char *kind_name(accel_arg_kind k)
{
    static const char *const names[] = {"none", "memory", "u32", "i32", "u64", "i64", "f32", "f64"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

static void test_functions_signatures(conf_ctx *c)
{
    unsigned offered = 0;
    for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++) {
        accel_function *fn = conf_builtin(c, NULL, standard[i].name);
        if (!fn)
            continue;
        offered++;
        uint32_t count = 99;
        OK(accel_function_get_signature(fn, &count, NULL));
        CHECK(count == standard[i].count, "%s takes %u arguments; the standard says %u (rule 19)",
              standard[i].name, count, standard[i].count);
        accel_arg_kind kinds[ACCEL_MAX_ARGS];
        OK(accel_function_get_signature(fn, &count, kinds));
        for (uint32_t k = 0; k < count; k++)
            CHECK(kinds[k] == standard[i].kinds[k], "%s argument %u is %s; the standard says %s (rule 19)",
                  standard[i].name, k, kind_name(kinds[k]), kind_name(standard[i].kinds[k]));
    }
    if (!offered)
        conf_skip(c, "not offered: the device offers none of the standard functions (ACCEL_ERROR_NOT_FOUND)");
    conf_note(c, "%u of %zu standard functions offered", offered, sizeof(standard) / sizeof(standard[0]));
}

static void test_functions_noop(conf_ctx *c)
{
    accel_function *noop = conf_need_builtin(c, NULL, "accel.noop");
    accel_queue *q = conf_queue(c, NULL);
    for (int i = 0; i < 3; i++) {
        accel_result r = conf_run(c, q, noop, NULL, 0);
        CHECK(r == ACCEL_SUCCESS, "accel.noop failed: %s (rule 19)", conf_rs(r));
    }
}

static void test_functions_copy(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_queue *q = conf_queue(c, NULL);
    const size_t size = 70000;
    accel_memory *src = conf_alloc(c, size), *dst = conf_alloc(c, size);
    unsigned char *s = conf_map(c, src), *d = conf_map(c, dst);
    conf_fill_random(s, size, 10);
    conf_attach(c, src, NULL);
    conf_attach(c, dst, NULL);
    static const size_t lengths[] = {0, 1, 3, 4096, 65537};
    static const size_t offsets[] = {0, 1, 7};
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        for (size_t oi = 0; oi < sizeof(offsets) / sizeof(offsets[0]); oi++) {
            size_t n = lengths[li], so = offsets[oi], dof = offsets[(oi + 1) % 3];
            memset(d, GUARD, size);
            /* dst is 5 bytes larger than src: only src.size bytes are copied. */
            accel_arg args[2] = {conf_mem_arg(src, so, n), conf_mem_arg(dst, dof, n + 5)};
            accel_result r = conf_run(c, q, copy, args, 2);
            CHECK(r == ACCEL_SUCCESS, "accel.copy of %zu bytes failed: %s (rule 19)", n, conf_rs(r));
            long bad = conf_first_difference(d + dof, s + so, n);
            CHECK(bad < 0, "accel.copy of %zu bytes (offsets %zu to %zu) differs at byte %ld (rule 19)", n,
                  so, dof, bad);
            bad = conf_first_not(d, dof, GUARD);
            CHECK(bad < 0, "accel.copy of %zu bytes wrote byte %ld before its destination (rule 19)", n, bad);
            bad = conf_first_not(d + dof + n, size - dof - n, GUARD);
            CHECK(bad < 0,
                  "accel.copy of %zu bytes into a range of %zu wrote beyond src.size bytes (rule 19)", n,
                  n + 5);
        }
    }
}

static void test_functions_fill(conf_ctx *c)
{
    accel_function *fill = conf_need_builtin(c, NULL, "accel.fill");
    accel_queue *q = conf_queue(c, NULL);
    const size_t size = 8192;
    accel_memory *m = conf_alloc(c, size);
    unsigned char *p = conf_map(c, m);
    conf_attach(c, m, NULL);
    static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 1023, 4097};
    const uint32_t pattern = 0xa1b2c3d4u;
    const unsigned char bytes[4] = {0xd4, 0xc3, 0xb2, 0xa1}; /* little-endian */
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        for (size_t off = 0; off < 4; off += 3) {
            size_t n = lengths[li];
            memset(p, GUARD, size);
            accel_arg args[2] = {conf_mem_arg(m, off, n), conf_u32_arg(pattern)};
            accel_result r = conf_run(c, q, fill, args, 2);
            CHECK(r == ACCEL_SUCCESS, "accel.fill of %zu bytes failed: %s (rule 19)", n, conf_rs(r));
            for (size_t i = 0; i < n; i++)
                CHECK(p[off + i] == bytes[i % 4],
                      "accel.fill of %zu bytes at offset %zu: byte %zu is 0x%02x, expected 0x%02x (the pattern is "
                      "little-endian, a partial last copy takes its first bytes) (rule 19)",
                      n, off, i, p[off + i], bytes[i % 4]);
            CHECK(conf_first_not(p, off, GUARD) < 0 && conf_first_not(p + off + n, size - off - n, GUARD) < 0,
                  "accel.fill of %zu bytes wrote outside its range (rule 19)", n);
        }
    }
}

/* Run a (src, result) function over n bytes of `in` at offset 1; the
 * result lands at offset 3 of a range of result_size bytes. */
static void digest(conf_ctx *c, accel_queue *q, accel_function *fn, const char *name, const void *in,
                   size_t n, size_t result_size, unsigned char *out)
{
    accel_memory *src = conf_alloc(c, n + 2), *res = conf_alloc(c, result_size + 8);
    unsigned char *s = conf_map(c, src), *r = conf_map(c, res);
    memset(s, GUARD, n + 2);
    memcpy(s + 1, in, n);
    memset(r, GUARD, result_size + 8);
    conf_attach(c, src, NULL);
    conf_attach(c, res, NULL);
    accel_arg args[2] = {conf_mem_arg(src, 1, n), conf_mem_arg(res, 3, result_size)};
    accel_result rr = conf_run(c, q, fn, args, 2);
    CHECK(rr == ACCEL_SUCCESS, "%s of %zu bytes failed: %s (rule 19)", name, n, conf_rs(rr));
    CHECK(conf_first_not(r, 3, GUARD) < 0 && conf_first_not(r + 3 + result_size, 5, GUARD) < 0,
          "%s wrote outside its result range (rule 19)", name);
    memcpy(out, r + 3, result_size);
    conf_release(c, src);
    conf_release(c, res);
}

static void test_functions_crc32c(conf_ctx *c)
{
    accel_function *crc = conf_need_builtin(c, NULL, "crc32c");
    accel_queue *q = conf_queue(c, NULL);
    unsigned char out[4];
    uint32_t v;
    digest(c, q, crc, "crc32c", "123456789", 9, 4, out);
    v = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 | (uint32_t)out[3] << 24;
    CHECK(v == 0xe3069283u,
          "crc32c(\"123456789\") is 0x%08x, expected 0xe3069283 (little-endian at the start of the result) (rule 19)",
          v);
    static const size_t lengths[] = {0, 1, 31, 4099, 200001};
    unsigned char *data = conf_malloc(c, 200001);
    conf_fill_random(data, 200001, 11);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        digest(c, q, crc, "crc32c", data, lengths[i], 4, out);
        v = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 | (uint32_t)out[3] << 24;
        uint32_t want = conf_crc32c(data, lengths[i]);
        CHECK(v == want, "crc32c of %zu bytes is 0x%08x, expected 0x%08x (rule 19)", lengths[i], v, want);
    }
    /* crc32c.stream, where offered: the chunks' running CRC in a 4-byte state. */
    accel_function *cs = conf_builtin(c, NULL, "crc32c.stream");
    if (!cs)
        return;
    accel_memory *src = conf_alloc(c, 200001), *st = conf_alloc(c, 4);
    memcpy(conf_map(c, src), data, 200001);
    unsigned char *sp = conf_map(c, st);
    conf_attach(c, src, NULL);
    conf_attach(c, st, NULL);
    size_t off = 0;
    for (size_t k = 0; off < 200001; k++) {
        size_t len =
            stream_chunks[k % STREAM_CHUNKS] < 200001 - off ? stream_chunks[k % STREAM_CHUNKS] : 200001 - off;
        accel_arg args[2] = {conf_mem_arg(src, off, len), conf_mem_arg(st, 0, 4)};
        accel_result r = conf_run(c, q, cs, args, 2);
        CHECK(r == ACCEL_SUCCESS, "crc32c.stream of %zu bytes at %zu failed: %s (rule 19)", len, off,
              conf_rs(r));
        off += len;
        v = (uint32_t)sp[0] | (uint32_t)sp[1] << 8 | (uint32_t)sp[2] << 16 | (uint32_t)sp[3] << 24;
        CHECK(v == conf_crc32c(data, off),
              "crc32c.stream's state after %zu bytes is 0x%08x, expected 0x%08x (rule 19)", off, v,
              conf_crc32c(data, off));
    }
}

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_functions_sha256(conf_ctx *c)
{
    accel_function *sha = conf_need_builtin(c, NULL, "sha256");
    accel_queue *q = conf_queue(c, NULL);
    static const size_t lengths[] = {0, 3, 55, 56, 63, 64, 65, 1000, 100003};
    unsigned char *data = conf_malloc(c, 100003);
    conf_fill_random(data, 100003, 12);
    memcpy(data, "abc", 3);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        unsigned char out[32], want[32];
        char got_hex[65], want_hex[65];
        digest(c, q, sha, "sha256", data, lengths[i], 32, out);
        conf_sha256(data, lengths[i], want);
        hex(out, 32, got_hex);
        hex(want, 32, want_hex);
        CHECK(memcmp(out, want, 32) == 0, "sha256 of %zu bytes is %s, expected %s (rule 19)", lengths[i],
              got_hex, want_hex);
    }
    /* sha256.stream, where offered: chunks into a 112-byte state, the digest with the final one. */
    accel_function *ss = conf_builtin(c, NULL, "sha256.stream");
    if (!ss)
        return;
    accel_memory *src = conf_alloc(c, 100003), *st = conf_alloc(c, 112), *res = conf_alloc(c, 32);
    memcpy(conf_map(c, src), data, 100003);
    unsigned char *stp = conf_map(c, st), *rp = conf_map(c, res);
    conf_attach(c, src, NULL);
    conf_attach(c, st, NULL);
    conf_attach(c, res, NULL);
    size_t off = 0;
    for (size_t k = 0;; k++) {
        size_t len =
            stream_chunks[k % STREAM_CHUNKS] < 100003 - off ? stream_chunks[k % STREAM_CHUNKS] : 100003 - off;
        uint32_t final = off + len == 100003;
        accel_arg args[4] = {conf_mem_arg(src, off, len), conf_mem_arg(st, 0, 112),
                             conf_mem_arg(res, 0, final ? 32 : 0), conf_u32_arg(final)};
        accel_result r = conf_run(c, q, ss, args, 4);
        CHECK(r == ACCEL_SUCCESS, "sha256.stream of %zu bytes at %zu failed: %s (rule 19)", len, off,
              conf_rs(r));
        off += len;
        if (final)
            break;
    }
    unsigned char want[32];
    conf_sha256(data, 100003, want);
    CHECK(memcmp(rp, want, 32) == 0,
          "sha256.stream over 100003 bytes in chunks gives another digest (rule 19)");
    CHECK(conf_first_not(stp, 112, 0) < 0,
          "sha256.stream leaves its state not fresh after the final chunk (rule 19)");
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Text that compresses: words from a small vocabulary. */
static void fill_text(unsigned char *p, size_t n, uint64_t seed)
{
    static const char *const words[] = {"accel ",  "loader ", "device ", "queue ", "fence ",
                                        "memory ", "driver ", "the ",    "of ",    "and\n"};
    unsigned char *r = malloc(n ? n : 1);
    if (r)
        conf_fill_random(r, n, seed);
    size_t i = 0;
    while (i < n) {
        const char *w = words[(r ? r[i] : i) % 10];
        for (; *w && i < n; w++)
            p[i++] = (unsigned char)*w;
    }
    free(r);
}

static void test_functions_deflate(conf_ctx *c)
{
    accel_function *deflate_fn = conf_need_builtin(c, NULL, "zlib.deflate");
    accel_queue *q = conf_queue(c, NULL);
    static const size_t lengths[] = {0, 1, 20000, 70000, 131072};
    /* Every level class: the default, stored, fastest, default by number,
     * best. */
    static const int32_t levels[] = {-1, 0, 1, 6, 9};
    for (size_t t = 0; t < sizeof(lengths) / sizeof(lengths[0]) * sizeof(levels) / sizeof(levels[0]); t++) {
        size_t i = t / (sizeof(levels) / sizeof(levels[0]));
        int32_t level = levels[t % (sizeof(levels) / sizeof(levels[0]))];
        size_t n = lengths[i];
        /* Exactly the bound of docs/standard-functions.md (a stream of
         * stored blocks): every level must fit in it, also on data that
         * does not compress. */
        size_t bound = n + 5 * ((n + 65534) / 65535) + 11;
        accel_memory *src = conf_alloc(c, n ? n : 1), *dst = conf_alloc(c, bound), *osz = conf_alloc(c, 16);
        unsigned char *s = conf_map(c, src), *d = conf_map(c, dst), *o = conf_map(c, osz);
        if (i == 3)
            conf_fill_random(s, n, 13); /* incompressible */
        else
            fill_text(s, n, 14 + i);
        memset(o, GUARD, 16);
        conf_attach(c, src, NULL);
        conf_attach(c, dst, NULL);
        conf_attach(c, osz, NULL);
        accel_arg args[4] = {conf_mem_arg(src, 0, n), conf_mem_arg(dst, 0, bound), conf_mem_arg(osz, 0, 8),
                             {.kind = ACCEL_ARG_I32, .u.i32 = level}};
        accel_result r = conf_run(c, q, deflate_fn, args, 4);
        CHECK(r == ACCEL_SUCCESS, "zlib.deflate of %zu bytes at level %d into %zu failed: %s (rule 19)", n,
              (int)level, bound, conf_rs(r));
        uint64_t out = le64(o);
        CHECK(conf_first_not(o + 8, 8, GUARD) < 0, "zlib.deflate wrote beyond its 8-byte out_size (rule 19)");
        CHECK(out >= 8 && out <= bound,
              "zlib.deflate of %zu bytes reports %llu output bytes (the bound is %zu) (rule 19)", n,
              (unsigned long long)out, bound);
        /* One complete zlib stream that inflates back to the input. */
        unsigned char *back = conf_malloc(c, n + 1);
        z_stream z;
        memset(&z, 0, sizeof(z));
        CHECK(inflateInit(&z) == Z_OK, "zlib's inflateInit failed");
        z.next_in = d;
        z.avail_in = (uInt)out;
        z.next_out = back;
        z.avail_out = (uInt)(n + 1);
        int zr = inflate(&z, Z_FINISH);
        size_t produced = n + 1 - z.avail_out, left = z.avail_in;
        inflateEnd(&z);
        CHECK(zr == Z_STREAM_END,
              "the output of zlib.deflate over %zu bytes is not a complete zlib stream: zlib says %d%s%s (rule 19)",
              n, zr, z.msg ? ": " : "", z.msg ? z.msg : "");
        CHECK(left == 0, "zlib.deflate reported %llu bytes, but its stream ends %zu bytes earlier (rule 19)",
              (unsigned long long)out, left);
        CHECK(produced == n && conf_first_difference(back, s, n) < 0,
              "the output of zlib.deflate over %zu bytes inflates to %zu other bytes (rule 19)", n, produced);
        /* A deflate compresses: at any level from 1, text shrinks well
         * (stored blocks alone would be larger than the input). */
        if (level != 0 && i != 3 && n >= 20000)
            CHECK(out < n / 2,
                  "zlib.deflate at level %d turns %zu bytes of text into %llu: it does not compress (rule 19)",
                  (int)level, n, (unsigned long long)out);
        conf_release(c, src);
        conf_release(c, dst);
        conf_release(c, osz);
    }
    /* zlib.deflate.stream, where offered: pieces within the bound that zlib takes as one stream. */
    accel_function *ds = conf_builtin(c, NULL, "zlib.deflate.stream");
    if (!ds)
        return;
    size_t n = 150000, zcap = 2 * n + 1000, zlen = 0;
    accel_memory *src = conf_alloc(c, n), *dst = conf_alloc(c, 80000), *osz = conf_alloc(c, 8),
                 *st = conf_alloc(c, 32800);
    unsigned char *s = conf_map(c, src), *d = conf_map(c, dst), *o = conf_map(c, osz);
    unsigned char *z = conf_malloc(c, zcap), *back = conf_malloc(c, n + 1);
    fill_text(s, n, 30);
    conf_attach(c, src, NULL);
    conf_attach(c, dst, NULL);
    conf_attach(c, osz, NULL);
    conf_attach(c, st, NULL);
    size_t off = 0;
    for (size_t k = 0;; k++) {
        size_t len = stream_chunks[k % STREAM_CHUNKS] < n - off ? stream_chunks[k % STREAM_CHUNKS] : n - off;
        uint32_t final = off + len == n;
        size_t bound = len + 5 * ((len + 65534) / 65535) + 16;
        accel_arg args[6] = {conf_mem_arg(src, off, len), conf_mem_arg(dst, 0, bound),
                             conf_mem_arg(osz, 0, 8),     {.kind = ACCEL_ARG_I32, .u.i32 = 6},
                             conf_mem_arg(st, 0, 32800),  conf_u32_arg(final)};
        accel_result r = conf_run(c, q, ds, args, 6);
        CHECK(r == ACCEL_SUCCESS, "zlib.deflate.stream of %zu bytes at %zu into %zu failed: %s (rule 19)",
              len, off, bound, conf_rs(r));
        uint64_t piece = le64(o);
        CHECK(piece <= bound && zlen + piece <= zcap,
              "zlib.deflate.stream reports a piece of %llu bytes for %zu (the bound is %zu) (rule 19)",
              (unsigned long long)piece, len, bound);
        memcpy(z + zlen, d, piece);
        zlen += piece;
        off += len;
        if (final)
            break;
    }
    uLongf got = (uLongf)n + 1;
    int zr = uncompress(back, &got, z, (uLong)zlen);
    CHECK(zr == Z_OK && got == n && conf_first_difference(back, s, n) < 0,
          "zlib.deflate.stream's pieces are not one zlib stream of the input: zlib says %d (rule 19)", zr);
}

static void test_functions_inflate(conf_ctx *c)
{
    accel_function *inflate_fn = conf_need_builtin(c, NULL, "zlib.inflate");
    accel_queue *q = conf_queue(c, NULL);
    static const struct {
        size_t n;
        int level;
        int random;
    } cases[] = {{0, 6, 0}, {50000, 0, 0}, {50000, 1, 0}, {50000, 6, 0}, {70000, 9, 1}, {140000, 0, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = cases[i].n;
        unsigned char *plain = conf_malloc(c, n + 1);
        if (cases[i].random)
            conf_fill_random(plain, n, 20 + i);
        else
            fill_text(plain, n, 20 + i);
        uLongf zlen = compressBound((uLong)n);
        unsigned char *z = conf_malloc(c, zlen);
        CHECK(compress2(z, &zlen, plain, (uLong)n, cases[i].level) == Z_OK, "zlib's compress2 failed");
        /* dst exactly as large as the output, then with room to spare. */
        for (int spare = 0; spare < 2; spare++) {
            size_t dsize = n + (spare ? 100 : 0);
            accel_memory *src = conf_alloc(c, zlen), *dst = conf_alloc(c, dsize + 8),
                         *osz = conf_alloc(c, 16);
            unsigned char *d = conf_map(c, dst), *o = conf_map(c, osz);
            memcpy(conf_map(c, src), z, zlen);
            memset(d, GUARD, dsize + 8);
            memset(o, GUARD, 16);
            conf_attach(c, src, NULL);
            conf_attach(c, dst, NULL);
            conf_attach(c, osz, NULL);
            accel_arg args[3] = {conf_mem_arg(src, 0, zlen), conf_mem_arg(dst, 0, dsize ? dsize : 0),
                                 conf_mem_arg(osz, 0, 8)};
            accel_result r = conf_run(c, q, inflate_fn, args, 3);
            CHECK(r == ACCEL_SUCCESS,
                  "zlib.inflate of a %lu-byte stream (zlib level %d, %zu bytes) into %zu failed: %s (rule 19)",
                  (unsigned long)zlen, cases[i].level, n, dsize, conf_rs(r));
            uint64_t out = le64(o);
            CHECK(out == n, "zlib.inflate reports %llu bytes; the stream holds %zu (rule 19)",
                  (unsigned long long)out, n);
            long bad = conf_first_difference(d, plain, n);
            CHECK(bad < 0, "zlib.inflate (zlib level %d, %zu bytes) differs at byte %ld (rule 19)",
                  cases[i].level, n, bad);
            CHECK(conf_first_not(d + n, dsize + 8 - n, GUARD) < 0 && conf_first_not(o + 8, 8, GUARD) < 0,
                  "zlib.inflate wrote beyond its output (rule 19)");
            conf_release(c, src);
            conf_release(c, dst);
            conf_release(c, osz);
        }
    }
    /* zlib.inflate.stream, where offered: zlib's stream in chunks into little room. */
    accel_function *is = conf_builtin(c, NULL, "zlib.inflate.stream");
    if (!is)
        return;
    size_t n = 100000;
    unsigned char *plain = conf_malloc(c, n);
    fill_text(plain, n, 40);
    uLongf zlen = compressBound((uLong)n);
    unsigned char *zz = conf_malloc(c, zlen);
    CHECK(compress2(zz, &zlen, plain, (uLong)n, 6) == Z_OK, "zlib's compress2 failed");
    accel_memory *src = conf_alloc(c, zlen), *dst = conf_alloc(c, n), *prog = conf_alloc(c, 24),
                 *st = conf_alloc(c, 33984);
    memcpy(conf_map(c, src), zz, zlen);
    unsigned char *d = conf_map(c, dst), *pp = conf_map(c, prog);
    conf_attach(c, src, NULL);
    conf_attach(c, dst, NULL);
    conf_attach(c, prog, NULL);
    conf_attach(c, st, NULL);
    size_t in = 0, out = 0, room = 777;
    uint32_t status = 0;
    for (size_t k = 0; k < 100000 && status != 1; k++) {
        size_t len =
            stream_chunks[k % STREAM_CHUNKS] < zlen - in ? stream_chunks[k % STREAM_CHUNKS] : zlen - in;
        size_t space = n - out < room ? n - out : room;
        accel_arg args[4] = {conf_mem_arg(src, in, len), conf_mem_arg(dst, out, space),
                             conf_mem_arg(prog, 0, 24), conf_mem_arg(st, 0, 33984)};
        accel_result r = conf_run(c, q, is, args, 4);
        CHECK(r == ACCEL_SUCCESS, "zlib.inflate.stream of %zu bytes at %zu failed: %s (rule 19)", len, in,
              conf_rs(r));
        uint64_t used = le64(pp), wrote = le64(pp + 8);
        status = (uint32_t)pp[16] | (uint32_t)pp[17] << 8 | (uint32_t)pp[18] << 16 | (uint32_t)pp[19] << 24;
        CHECK(used <= len && wrote <= space && status <= 2 && (status != 0 || used == len),
              "zlib.inflate.stream reports %llu of %zu bytes consumed, %llu of %zu written, status %u (rule "
              "19)",
              (unsigned long long)used, len, (unsigned long long)wrote, space, status);
        in += used;
        out += wrote;
        CHECK(status == 1 || in < zlen || status == 2,
              "zlib.inflate.stream took the whole stream but does not say it ended (rule 19)");
    }
    CHECK(status == 1 && in == zlen && out == n && conf_first_difference(d, plain, n) < 0,
          "zlib.inflate.stream of zlib's stream in chunks does not give back the input (rule 19)");
}

/* ---- programs ---- */

typedef struct program_blob {
    const char *format_name;
    accel_program_format format;
    const void *data;
    size_t size;
    const char *function;
} program_blob;

static void test_functions_program(conf_ctx *c)
{
    char kernels[4200];
    conf_kernels_path(kernels, sizeof(kernels));
    program_blob blobs[3];
    size_t nblobs = 0;
    blobs[nblobs++] = (program_blob){"OpenCL C", ACCEL_PROGRAM_FORMAT_OPENCL_C, conf_opencl_source,
                                     strlen(conf_opencl_source) + 1, "conf_add"};
    if (*kernels)
        blobs[nblobs++] =
            (program_blob){"ELF", ACCEL_PROGRAM_FORMAT_ELF, kernels, strlen(kernels) + 1, "conf_add"};
    if (conf_spirv_size)
        blobs[nblobs++] =
            (program_blob){"SPIR-V", ACCEL_PROGRAM_FORMAT_SPIRV, conf_spirv, conf_spirv_size, "main"};

    accel_program *prog = NULL;
    const program_blob *used = NULL;
    char tried[2048] = "";
    bool only_unsupported = true;
    for (size_t i = 0; i < nblobs && !prog; i++) {
        accel_result r =
            accel_program_load(c->dev, blobs[i].format, blobs[i].data, blobs[i].size, NULL, &prog);
        if (r == ACCEL_SUCCESS) {
            CHECK(prog, "accel_program_load succeeded without a program");
            conf_track(c, CONF_OBJ_PROGRAM, prog);
            used = &blobs[i];
            break;
        }
        CHECK(!prog, "a failed accel_program_load changed its output");
        if (r != ACCEL_ERROR_UNSUPPORTED)
            only_unsupported = false;
        size_t len = strlen(tried);
        snprintf(tried + len, sizeof(tried) - len, "%s%s: %s (%s)", len ? "; " : "", blobs[i].format_name,
                 accel_result_name(r), accel_last_error_message());
        CHECK(r == ACCEL_ERROR_UNSUPPORTED || r == ACCEL_ERROR_INVALID_ARGUMENT,
              "accel_program_load(%s) of a valid program returned %s (rule 19)", blobs[i].format_name,
              conf_rs(r));
    }
    if (!prog && only_unsupported)
        conf_skip(c, "unsupported: the device loads none of the suite's program formats: %s", tried);
    CHECK(prog, "the device accepts a format of the suite's programs but loads none of them: %s (rule 19)",
          tried);
    conf_note(c, "loaded the %s program", used->format_name);

    accel_function *fn = NULL;
    OK(accel_function_get(c->dev, prog, used->function, &fn));
    conf_track(c, CONF_OBJ_FUNCTION, fn);
    uint32_t count = 0;
    accel_arg_kind kinds[ACCEL_MAX_ARGS];
    count = ACCEL_MAX_ARGS;
    OK(accel_function_get_signature(fn, &count, kinds));
    CHECK(count == 3 && kinds[0] == ACCEL_ARG_MEMORY && kinds[1] == ACCEL_ARG_U32 &&
              kinds[2] == ACCEL_ARG_U32,
          "the %s program's function takes (%u arguments: %s, ...), expected (memory, u32, u32) (rule 19)",
          used->format_name, count, count ? kind_name(kinds[0]) : "-");
    accel_function *none = NULL;
    EXPECT(accel_function_get(c->dev, prog, "conformance_no_such_kernel", &none), ACCEL_ERROR_NOT_FOUND);

    const uint32_t n = 1000;
    accel_memory *m = conf_alloc(c, (n + 8) * 4);
    uint32_t *p = (uint32_t *)(void *)conf_map(c, m);
    uint32_t *want = conf_malloc(c, (n + 8) * 4);
    conf_fill_random(p, (n + 8) * 4, 30);
    for (uint32_t i = 0; i < n + 8; i++)
        want[i] = p[i] + (i < n ? 12345u : 0);
    conf_attach(c, m, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_arg args[3] = {conf_mem_arg(m, 0, (n + 8) * 4), conf_u32_arg(n), conf_u32_arg(12345)};
    accel_submit_info s = {.struct_size = sizeof(s),
                           .function = fn,
                           .args = args,
                           .arg_count = 3,
                           .work_dim = 1,
                           .work_size = {n, 1, 1}};
    accel_fence *f = NULL;
    OK(accel_queue_submit(q, &s, &f));
    conf_track(c, CONF_OBJ_FENCE, f);
    conf_wait_ok(c, f);
    for (uint32_t i = 0; i < n + 8; i++)
        CHECK(p[i] == want[i], "after conf_add over %u items, element %u is %u, expected %u (rule 19)", n, i,
              p[i], want[i]);
}

static const conf_test_def functions_tests[] = {
    {"signatures", test_functions_signatures},
    {"noop", test_functions_noop},
    {"copy", test_functions_copy},
    {"fill", test_functions_fill},
    {"crc32c", test_functions_crc32c},
    {"sha256", test_functions_sha256},
    {"deflate", test_functions_deflate},
    {"inflate", test_functions_inflate},
    {"program", test_functions_program},
};

const conf_group_def conf_group_functions = {
    .name = "functions",
    .title = "functions and programs",
    .tests = CONF_TESTS(functions),
};
