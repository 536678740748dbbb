/* test_standard.c — every standard function on every device of the
 * build tree's example drivers (cpu, opencl over PoCL, vulkan over
 * lavapipe when present, and a WarpDrive device on the uacce emulator this
 * test starts), through the loader:
 *   - crc32c and sha256: known answers, every length up to 300 at odd
 *     offsets, the corpus files, and 0 B .. 64 MiB inputs, the same on
 *     every device;
 *   - zlib.deflate at every level (-1..9) for 0, 1, 65535, 65536 and
 *     1 MiB + 7 bytes, and for every corpus file: zlib inflates the output
 *     to the input, it fits the documented bound (also for data that does
 *     not compress), and from level 1 on it compresses;
 *   - zlib.inflate of zlib's own streams at every level, and of every
 *     device's deflate output on every other device. */
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
#include <dirent.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "all_devices.h"
#include "support.h"

typedef ad_set fixture;
typedef ad_device device_ctx;

/* The largest size is 4 MiB under the sanitizers (ACCEL_TEST_SANITIZED):
 * they look for memory errors, which do not need 64 MiB to show, and the
 * normal build runs the full size. */
static uint64_t sizes[] = {0, 1, 4096 + 3, 64ull << 20};

/* One uacce device on the emulator, with every algorithm it has, so the
 * WarpDrive driver's standard functions are checked beside the others. */
static int group_setup(void **state)
{
    (void)state;
    return ad_emulator_start(EMULATOR_PATH, "wd_std-0");
}

static int group_teardown(void **state)
{
    (void)state;
    ad_emulator_stop();
    return 0;
}

static bool programmable(const device_ctx *c)
{
    return strcmp(c->info.driver_name, "cpu") == 0 || strcmp(c->info.driver_name, "opencl") == 0 ||
           strcmp(c->info.driver_name, "vulkan") == 0;
}

/* Programmable devices offer every standard function; the WarpDrive
 * device those of its algorithms; others (an FPGA slot without an image
 * that has them) are skipped. Partitions repeat their parent's functions:
 * one device each. */
static bool offers_standard_functions(const device_ctx *c)
{
    accel_function *probe = NULL;
    if (accel_function_get(c->dev, NULL, "crc32c", &probe) == ACCEL_ERROR_NOT_FOUND) {
        if (programmable(c))
            fail_msg("%s (driver %s) offers no crc32c", c->info.name, c->info.driver_name);
        print_message("skipping %s: it offers no standard functions\n", c->info.name);
        return false;
    }
    accel_function_destroy(probe);
    return !(c->info.partition && c->info.partition[0]);
}

static int setup(void **state)
{
    fixture *f = ad_set_create(offers_standard_functions, NULL);
    assert_true(f->n >= 1); /* the cpu driver at least */
    bool wd = false;
    for (uint32_t i = 0; i < f->n; i++)
        wd |= strcmp(f->d[i].info.driver_name, "warpdrive") == 0;
    if (!wd)
        fail_msg("the emulated WarpDrive device is not among the devices");
    *state = f;
    return 0;
}

/* Does the device offer this standard function? Programmable devices must
 * offer all of them. */
static bool offers(device_ctx *c, const char *name)
{
    accel_function *fn = NULL;
    accel_result r = accel_function_get(c->dev, NULL, name, &fn);
    if (r == ACCEL_ERROR_NOT_FOUND && !programmable(c))
        return false;
    if (r)
        fail_msg("%s on %s: %s", name, c->info.name, accel_last_error_message());
    accel_function_destroy(fn);
    return true;
}

static uint64_t deflate_bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 11;
}

/* The corpus: ten files of mixed kinds (tests/data/corpus/README.md). */
#define CORPUS_FILES 10
typedef struct corpus_file {
    char name[64];
    unsigned char *data;
    uint64_t size;
} corpus_file;
static corpus_file corpus[CORPUS_FILES];
static unsigned corpus_count;

static void corpus_load(void)
{
    if (corpus_count)
        return;
    static const char *const names[CORPUS_FILES] = {
        "alice29.txt", "asyoulik.txt", "fireworks.jpeg", "geo.protodata", "html",
        "kppkn.gtb",   "lcet10.txt",   "paper-100k.pdf", "plrabn12.txt",  "urls.10K"};
    for (unsigned i = 0; i < CORPUS_FILES; i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, names[i]);
        FILE *fp = fopen(path, "rb");
        if (!fp)
            fail_msg("cannot open the corpus file %s", path);
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        corpus_file *c = &corpus[corpus_count];
        snprintf(c->name, sizeof(c->name), "%s", names[i]);
        c->size = (uint64_t)size;
        c->data = malloc((size_t)size);
        assert_non_null(c->data);
        assert_int_equal(fread(c->data, 1, (size_t)size, fp), (size_t)size);
        fclose(fp);
        corpus_count++;
    }
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
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        accel_memory *in = ad_mem(f, n), *out = ad_mem(f, 32);
        fill_input(ts_map(in), n);
        uint32_t want = ad_crc32c_ref(ts_map(in), n);
        unsigned char digest[32];
        SHA256(ts_map(in), n, digest);
        for (uint32_t d = 0; d < f->n; d++) {
            accel_arg args[2] = {ts_mem_arg(in, 0, n), ts_mem_arg(out, 0, 4)};
            memset(ts_map(out), 0xee, 32);
            if (offers(&f->d[d], "crc32c")) {
                assert_int_equal(ad_run(&f->d[d], "crc32c", args, 2), ACCEL_SUCCESS);
                uint32_t got;
                memcpy(&got, ts_map(out), 4);
                if (got != want)
                    fail_msg("crc32c of %llu bytes on %s: %08x, expected %08x", (unsigned long long)n,
                             f->d[d].info.name, got, want);
            }
            if (offers(&f->d[d], "sha256")) {
                args[1] = ts_mem_arg(out, 0, 32);
                assert_int_equal(ad_run(&f->d[d], "sha256", args, 2), ACCEL_SUCCESS);
                if (memcmp(digest, ts_map(out), 32) != 0)
                    fail_msg("sha256 of %llu bytes wrong on %s", (unsigned long long)n, f->d[d].info.name);
            }
        }
        accel_memory_free(in);
        accel_memory_free(out);
    }
}

/* Known answers: the check value of CRC-32C and the FIPS 180-4 examples of
 * SHA-256, then every length up to 300 at every offset modulo 8 (which
 * the devices' word-wise and segmented loops must all get right). */
static void test_standard_known_answers(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *msg;
        uint64_t repeat;
        const char *sha256;
    } vectors[] = {
        {"", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmno"
         "pqrst"
         "nopqrstu",
         1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
        {"a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    };
    accel_memory *in = ad_mem(f, 1000000 + 16), *out = ad_mem(f, 32);
    for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
        size_t len = strlen(vectors[v].msg);
        uint64_t n = len * vectors[v].repeat;
        for (uint64_t k = 0; k < vectors[v].repeat; k++)
            memcpy(ts_map(in) + k * len, vectors[v].msg, len);
        unsigned char want[32];
        for (int i = 0; i < 32; i++) {
            unsigned x;
            sscanf(vectors[v].sha256 + 2 * i, "%2x", &x);
            want[i] = (unsigned char)x;
        }
        for (uint32_t d = 0; d < f->n; d++) {
            if (!offers(&f->d[d], "sha256"))
                continue;
            accel_arg args[2] = {ts_mem_arg(in, 0, n), ts_mem_arg(out, 0, 32)};
            assert_int_equal(ad_run(&f->d[d], "sha256", args, 2), ACCEL_SUCCESS);
            if (memcmp(ts_map(out), want, 32) != 0)
                fail_msg("sha256 of FIPS 180-4 example %zu (%llu bytes) wrong on %s", v,
                         (unsigned long long)n, f->d[d].info.name);
        }
    }
    memcpy(ts_map(in), "123456789", 9);
    for (uint32_t d = 0; d < f->n; d++) {
        if (!offers(&f->d[d], "crc32c"))
            continue;
        accel_arg args[2] = {ts_mem_arg(in, 0, 9), ts_mem_arg(out, 0, 4)};
        assert_int_equal(ad_run(&f->d[d], "crc32c", args, 2), ACCEL_SUCCESS);
        uint32_t got;
        memcpy(&got, ts_map(out), 4);
        if (got != 0xE3069283u)
            fail_msg("crc32c(\"123456789\") on %s: %08x, expected e3069283", f->d[d].info.name, got);
    }
    /* Every length up to 300 at offsets 0..7, each submitted without
     * waiting for the previous one, then checked. */
    fill_input(ts_map(in), 4096);
    enum { MAX_LEN = 300, OFFSETS = 8 };
    accel_memory *res = ad_mem(f, 4 * (MAX_LEN + 1) * OFFSETS);
    for (uint32_t d = 0; d < f->n; d++) {
        if (!offers(&f->d[d], "crc32c"))
            continue;
        accel_function *fn = NULL;
        assert_int_equal(accel_function_get(f->d[d].dev, NULL, "crc32c", &fn), ACCEL_SUCCESS);
        accel_fence *last = NULL;
        for (uint64_t len = 0; len <= MAX_LEN; len++)
            for (uint64_t off = 0; off < OFFSETS; off++) {
                uint64_t slot = (len * OFFSETS + off) * 4;
                accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY, .u.mem = {in, off * 37, len}},
                                     {.kind = ACCEL_ARG_MEMORY, .u.mem = {res, slot, 4}}};
                accel_submit_info si = {
                    .struct_size = sizeof(si), .function = fn, .args = args, .arg_count = 2};
                if (last)
                    accel_fence_release(last);
                last = NULL;
                assert_int_equal(accel_queue_submit(f->d[d].q, &si, &last), ACCEL_SUCCESS);
            }
        assert_int_equal(accel_fence_wait(&last, 1, true, UINT64_MAX), ACCEL_SUCCESS);
        accel_fence_release(last);
        accel_function_destroy(fn);
        for (uint64_t len = 0; len <= MAX_LEN; len++)
            for (uint64_t off = 0; off < OFFSETS; off++) {
                uint32_t got;
                memcpy(&got, ts_map(res) + (len * OFFSETS + off) * 4, 4);
                uint32_t want = ad_crc32c_ref(ts_map(in) + off * 37, len);
                if (got != want)
                    fail_msg("crc32c of %llu bytes at offset %llu on %s: %08x, expected %08x",
                             (unsigned long long)len, (unsigned long long)off * 37, f->d[d].info.name, got,
                             want);
            }
    }
    accel_memory_free(res);
    /* The corpus files, whole. */
    corpus_load();
    for (unsigned i = 0; i < corpus_count; i++) {
        accel_memory *cf = ad_mem(f, corpus[i].size);
        memcpy(ts_map(cf), corpus[i].data, corpus[i].size);
        unsigned char digest[32];
        SHA256(corpus[i].data, corpus[i].size, digest);
        uint32_t want = ad_crc32c_ref(corpus[i].data, corpus[i].size);
        for (uint32_t d = 0; d < f->n; d++) {
            accel_arg args[2] = {ts_mem_arg(cf, 0, corpus[i].size), ts_mem_arg(out, 0, 32)};
            if (offers(&f->d[d], "sha256")) {
                assert_int_equal(ad_run(&f->d[d], "sha256", args, 2), ACCEL_SUCCESS);
                if (memcmp(ts_map(out), digest, 32) != 0)
                    fail_msg("sha256 of %s wrong on %s", corpus[i].name, f->d[d].info.name);
            }
            if (offers(&f->d[d], "crc32c")) {
                assert_int_equal(ad_run(&f->d[d], "crc32c", args, 2), ACCEL_SUCCESS);
                uint32_t got;
                memcpy(&got, ts_map(out), 4);
                if (got != want)
                    fail_msg("crc32c of %s on %s: %08x, expected %08x", corpus[i].name, f->d[d].info.name,
                             got, want);
            }
        }
        accel_memory_free(cf);
    }
    accel_memory_free(in);
    accel_memory_free(out);
}

static void test_standard_copy_and_fill(void **state)
{
    fixture *f = *state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        accel_memory *a = ad_mem(f, n), *b = ad_mem(f, n);
        fill_input(ts_map(a), n);
        for (uint32_t d = 0; d < f->n; d++) {
            if (!offers(&f->d[d], "accel.copy") || !offers(&f->d[d], "accel.fill"))
                continue;
            memset(ts_map(b), 0, n);
            accel_arg args[2] = {ts_mem_arg(a, 0, n), ts_mem_arg(b, 0, n)};
            assert_int_equal(ad_run(&f->d[d], "accel.copy", args, 2), ACCEL_SUCCESS);
            if (n && memcmp(ts_map(a), ts_map(b), n) != 0)
                fail_msg("accel.copy of %llu bytes wrong on %s", (unsigned long long)n, f->d[d].info.name);
            accel_arg fill[2] = {ts_mem_arg(b, 0, n), {.kind = ACCEL_ARG_U32, .u.u32 = 0x04030201u}};
            assert_int_equal(ad_run(&f->d[d], "accel.fill", fill, 2), ACCEL_SUCCESS);
            for (uint64_t i = 0; i < n; i++)
                if (ts_map(b)[i] != (unsigned char)(1 + i % 4))
                    fail_msg("accel.fill byte %llu of %llu wrong on %s", (unsigned long long)i,
                             (unsigned long long)n, f->d[d].info.name);
        }
        accel_memory_free(a);
        accel_memory_free(b);
    }
}

/* zlib inflates `z` (zlen bytes) to exactly `want` (n bytes)? */
static bool zlib_inflates_to(const unsigned char *z, uint64_t zlen, const unsigned char *want, uint64_t n)
{
    unsigned char *check = malloc(n + 1);
    assert_non_null(check);
    uLongf got = (uLongf)n + 1;
    int zr = uncompress(check, &got, z, (uLong)zlen);
    bool ok = zr == Z_OK && got == n && (n == 0 || memcmp(check, want, n) == 0);
    free(check);
    return ok;
}

/* Deflate n bytes of `in` on device c at `level` into exactly the
 * documented bound; check with zlib; return the output size. */
static uint64_t deflate_checked(device_ctx *c, accel_memory *in, uint64_t n, accel_memory *z,
                                accel_memory *len, int32_t level, const char *what)
{
    uint64_t bound = deflate_bound(n);
    memset(ts_map(len), 0xee, 8);
    accel_arg args[4] = {ts_mem_arg(in, 0, n), ts_mem_arg(z, 0, bound), ts_mem_arg(len, 0, 8),
                         ts_i32_arg(level)};
    accel_result r = ad_run(c, "zlib.deflate", args, 4);
    if (r != ACCEL_SUCCESS)
        fail_msg("zlib.deflate of %s (%llu bytes) at level %d on %s: %s", what, (unsigned long long)n,
                 (int)level, c->info.name, accel_result_string(r));
    uint64_t zlen;
    memcpy(&zlen, ts_map(len), 8);
    if (zlen > bound || zlen < 8)
        fail_msg("zlib.deflate of %s at level %d on %s reports %llu bytes (bound %llu)", what, (int)level,
                 c->info.name, (unsigned long long)zlen, (unsigned long long)bound);
    if (!zlib_inflates_to(ts_map(z), zlen, ts_map(in), n))
        fail_msg("zlib.deflate of %s (%llu bytes) at level %d on %s: zlib does not inflate it to the input",
                 what, (unsigned long long)n, (int)level, c->info.name);
    return zlen;
}

static void fill_random(unsigned char *p, uint64_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* Every level on the sizes, compressible and random (the bound
 * case: incompressible input into exactly the documented bound). */
static void test_standard_deflate_levels(void **state)
{
    fixture *f = *state;
    static const uint64_t lens[] = {0, 1, 65535, 65536, (1u << 20) + 7};
    for (size_t s = 0; s < sizeof(lens) / sizeof(lens[0]); s++) {
        uint64_t n = lens[s];
        accel_memory *in = ad_mem(f, n), *z = ad_mem(f, deflate_bound(n)), *len = ad_mem(f, 8);
        for (int random = 0; random < 2; random++) {
            if (random)
                fill_random(ts_map(in), n, n);
            else
                fill_input(ts_map(in), n);
            for (uint32_t d = 0; d < f->n; d++) {
                if (!offers(&f->d[d], "zlib.deflate"))
                    continue;
                for (int32_t level = -1; level <= 9; level++) {
                    uint64_t zlen =
                        deflate_checked(&f->d[d], in, n, z, len, level, random ? "random bytes" : "text");
                    /* From level 1 on, a deflate compresses. */
                    if (!random && level != 0 && n >= 65535 && zlen >= n / 2)
                        fail_msg("zlib.deflate at level %d on %s: %llu bytes of text into %llu", (int)level,
                                 f->d[d].info.name, (unsigned long long)n, (unsigned long long)zlen);
                }
            }
        }
        /* Levels outside -1..9 are refused, and nothing is written. */
        for (uint32_t d = 0; d < f->n && n == 65536; d++) {
            if (!offers(&f->d[d], "zlib.deflate"))
                continue;
            static const int32_t bad[] = {-2, 10, 100};
            for (size_t b = 0; b < 3; b++) {
                memset(ts_map(len), 0xee, 8);
                accel_arg args[4] = {ts_mem_arg(in, 0, n), ts_mem_arg(z, 0, deflate_bound(n)),
                                     ts_mem_arg(len, 0, 8), ts_i32_arg(bad[b])};
                assert_int_equal(ad_run(&f->d[d], "zlib.deflate", args, 4), ACCEL_ERROR_INVALID_ARGUMENT);
                for (int k = 0; k < 8; k++)
                    assert_int_equal(ts_map(len)[k], 0xee);
            }
        }
        accel_memory_free(in);
        accel_memory_free(z);
        accel_memory_free(len);
    }
}

/* Every corpus file at every level on every device, with the ratio each
 * reaches printed beside zlib's at the same level. */
static void test_standard_deflate_corpus(void **state)
{
    fixture *f = *state;
    corpus_load();
    for (unsigned i = 0; i < corpus_count; i++) {
        uint64_t n = corpus[i].size;
        accel_memory *in = ad_mem(f, n), *z = ad_mem(f, deflate_bound(n)), *len = ad_mem(f, 8);
        memcpy(ts_map(in), corpus[i].data, n);
        for (uint32_t d = 0; d < f->n; d++) {
            if (!offers(&f->d[d], "zlib.deflate"))
                continue;
            char line[512];
            int at = snprintf(line, sizeof(line), "%-15s %-28.28s", corpus[i].name, f->d[d].info.name);
            for (int32_t level = 0; level <= 9; level++) {
                uint64_t zlen = deflate_checked(&f->d[d], in, n, z, len, level, corpus[i].name);
                uLongf zl = compressBound((uLong)n);
                unsigned char *ref = malloc(zl);
                assert_int_equal(compress2(ref, &zl, corpus[i].data, (uLong)n, level), Z_OK);
                free(ref);
                at += snprintf(line + at, sizeof(line) - (size_t)at, " %4.2f", (double)zlen / (double)zl);
                /* Everything but the JPEG compresses from level 1 on. */
                if (level > 0 && strcmp(corpus[i].name, "fireworks.jpeg") != 0 && zlen >= n)
                    fail_msg("zlib.deflate of %s at level %d on %s: %llu bytes into %llu", corpus[i].name,
                             (int)level, f->d[d].info.name, (unsigned long long)n, (unsigned long long)zlen);
            }
            print_message("%s  (size / zlib's, levels 0..9)\n", line);
        }
        accel_memory_free(in);
        accel_memory_free(z);
        accel_memory_free(len);
    }
}

/* zlib's streams at every level (stored, fixed and dynamic Huffman
 * blocks, every match length and distance zlib emits) inflate on every
 * device; the concatenated corpus and the sizes. */
static void test_standard_inflate_zlib_levels(void **state)
{
    fixture *f = *state;
    corpus_load();
    uint64_t total = 0;
    for (unsigned i = 0; i < corpus_count; i++)
        total += corpus[i].size;
    unsigned char *all = malloc(total);
    assert_non_null(all);
    for (unsigned i = 0, at = 0; i < corpus_count; at += (unsigned)corpus[i].size, i++)
        memcpy(all + at, corpus[i].data, corpus[i].size);
    const uint64_t lens[] = {0, 1, 65535, 65536, (1u << 20) + 7, total};
    for (size_t s = 0; s < sizeof(lens) / sizeof(lens[0]); s++) {
        uint64_t n = lens[s];
        uLongf cap = compressBound((uLong)n);
        accel_memory *z = ad_mem(f, cap), *back = ad_mem(f, n + 1), *len = ad_mem(f, 8);
        for (int level = 0; level <= 9; level++) {
            uLongf zlen = cap;
            assert_int_equal(compress2(ts_map(z), &zlen, all, (uLong)n, level), Z_OK);
            for (uint32_t d = 0; d < f->n; d++) {
                if (!offers(&f->d[d], "zlib.inflate"))
                    continue;
                memset(ts_map(len), 0, 8);
                accel_arg inf[3] = {ts_mem_arg(z, 0, zlen), ts_mem_arg(back, 0, n), ts_mem_arg(len, 0, 8)};
                accel_result r = ad_run(&f->d[d], "zlib.inflate", inf, 3);
                uint64_t blen;
                memcpy(&blen, ts_map(len), 8);
                if (r != ACCEL_SUCCESS || blen != n || (n && memcmp(ts_map(back), all, n) != 0))
                    fail_msg("zlib's level-%d stream of %llu bytes does not inflate on %s (%s, %llu bytes)",
                             level, (unsigned long long)n, f->d[d].info.name, accel_result_string(r),
                             (unsigned long long)blen);
            }
        }
        accel_memory_free(z);
        accel_memory_free(back);
        accel_memory_free(len);
    }
    free(all);
}

/* The largest sizes at the default level: each device's output inflates on
 * every device. */
static void test_standard_deflate_inflate(void **state)
{
    fixture *f = *state;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        uint64_t n = sizes[s];
        uint64_t bound = deflate_bound(n);
        accel_memory *in = ad_mem(f, n), *z = ad_mem(f, bound), *back = ad_mem(f, n), *len = ad_mem(f, 8);
        fill_input(ts_map(in), n);
        for (uint32_t d = 0; d < f->n; d++) {
            if (!offers(&f->d[d], "zlib.deflate"))
                continue;
            uint64_t zlen = deflate_checked(&f->d[d], in, n, z, len, -1, "text");
            for (uint32_t e = 0; e < f->n; e++) {
                if (!offers(&f->d[e], "zlib.inflate"))
                    continue;
                memset(ts_map(back), 0, n);
                accel_arg inf[3] = {ts_mem_arg(z, 0, zlen), ts_mem_arg(back, 0, n), ts_mem_arg(len, 0, 8)};
                assert_int_equal(ad_run(&f->d[e], "zlib.inflate", inf, 3), ACCEL_SUCCESS);
                uint64_t blen;
                memcpy(&blen, ts_map(len), 8);
                if (blen != n || (n && memcmp(ts_map(back), ts_map(in), n) != 0))
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

/* A corrupt stream and a too-small output fail the fence, nothing else. */
static void test_standard_inflate_errors(void **state)
{
    fixture *f = *state;
    uint64_t n = 4096 + 3;
    accel_memory *in = ad_mem(f, n), *z = ad_mem(f, compressBound(n)), *back = ad_mem(f, n),
                 *len = ad_mem(f, 8);
    fill_input(ts_map(in), n);
    uLongf zlen = compressBound(n);
    assert_int_equal(compress2(ts_map(z), &zlen, ts_map(in), n, 9), Z_OK);
    for (uint32_t d = 0; d < f->n; d++) {
        if (!offers(&f->d[d], "zlib.inflate"))
            continue;
        accel_arg inf[3] = {ts_mem_arg(z, 0, zlen), ts_mem_arg(back, 0, n), ts_mem_arg(len, 0, 8)};
        assert_int_equal(ad_run(&f->d[d], "zlib.inflate", inf, 3), ACCEL_SUCCESS);
        assert_memory_equal(ts_map(back), ts_map(in), n);
        ts_map(z)[zlen / 2] ^= 0x55;
        assert_int_equal(ad_run(&f->d[d], "zlib.inflate", inf, 3), ACCEL_ERROR_INVALID_ARGUMENT);
        ts_map(z)[zlen / 2] ^= 0x55;
        accel_arg small[3] = {ts_mem_arg(z, 0, zlen), ts_mem_arg(back, 0, n - 1), ts_mem_arg(len, 0, 8)};
        assert_int_equal(ad_run(&f->d[d], "zlib.inflate", small, 3), ACCEL_ERROR_INVALID_ARGUMENT);
        /* A stream with a byte after its end. */
        accel_arg extra[3] = {ts_mem_arg(z, 0, zlen + 1), ts_mem_arg(back, 0, n), ts_mem_arg(len, 0, 8)};
        assert_int_equal(ad_run(&f->d[d], "zlib.inflate", extra, 3), ACCEL_ERROR_INVALID_ARGUMENT);
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
        assert_int_equal(
            accel_program_load(f->d[d].dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, src, sizeof(src) - 1, NULL, &p),
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
    accel_memory *buf = ad_mem(f, n), *out = ad_mem(f, 4);
    accel_function *fill = NULL;
    assert_int_equal(accel_function_get(f->d[0].dev, NULL, "accel.fill", &fill), ACCEL_SUCCESS);
    uint32_t want;
    {
        unsigned char *expect = malloc(n);
        for (uint64_t i = 0; i < n; i++)
            expect[i] = (unsigned char)(0x5a + i % 4);
        want = ad_crc32c_ref(expect, n);
        free(expect);
    }
    for (uint32_t d = 1; d < f->n; d++) {
        memset(ts_map(buf), 0, n);
        accel_arg fa[2] = {ts_mem_arg(buf, 0, n), {.kind = ACCEL_ARG_U32, .u.u32 = 0x5d5c5b5au}};
        accel_submit_info s = {.struct_size = sizeof(s), .function = fill, .args = fa, .arg_count = 2};
        accel_fence *filled = NULL, *summed = NULL;
        assert_int_equal(accel_queue_submit(f->d[0].q, &s, &filled), ACCEL_SUCCESS);
        accel_function *crc = NULL;
        assert_int_equal(accel_function_get(f->d[d].dev, NULL, "crc32c", &crc), ACCEL_SUCCESS);
        accel_arg ca[2] = {ts_mem_arg(buf, 0, n), ts_mem_arg(out, 0, 4)};
        accel_submit_info c = {.struct_size = sizeof(c),
                               .function = crc,
                               .args = ca,
                               .arg_count = 2,
                               .wait_fences = &filled,
                               .wait_fence_count = 1};
        assert_int_equal(accel_queue_submit(f->d[d].q, &c, &summed), ACCEL_SUCCESS);
        assert_int_equal(accel_fence_wait(&summed, 1, true, UINT64_MAX), ACCEL_SUCCESS);
        assert_int_equal(accel_fence_status(filled), ACCEL_SUCCESS);
        uint32_t got;
        memcpy(&got, ts_map(out), 4);
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
        cmocka_unit_test_setup_teardown(test_standard_crc32c_and_sha256, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_known_answers, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_copy_and_fill, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_deflate_levels, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_deflate_corpus, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_inflate_zlib_levels, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_deflate_inflate, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_inflate_errors, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_build_log_from_opencl, setup, ad_set_teardown),
        cmocka_unit_test_setup_teardown(test_standard_fence_gates_other_driver, setup, ad_set_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
