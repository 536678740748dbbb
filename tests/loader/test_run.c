/* test_run.c — accel_run_* (running a plan) on the cpu driver: streamed
 * pipelines of stream forms give the bytes the one-shot functions give, at
 * chunk sizes of 1 byte, sizes that do not divide the input, one chunk, an
 * empty input; memory stays bounded by the chunks; whole-buffer mode (asked
 * for) agrees; a corrupt or cut-short stream names the stage and the chunk
 * and leaves no output, and so does a device lost on chunk k (a fake
 * driver); cancellation from another thread; inputs and
 * outputs bound to descriptors and callbacks; usage errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <zlib.h>

#include "support.h"

static char *dir;
static accel_instance *inst;
static const accel_topology *topo;

/* inflate -> crc, sha and deflate of what it inflates. */
static const char *const zlib_pipeline =
    "{\"pipeline_version\": 1, \"name\": \"rezip\", \"buffers\": {"
    " \"in\": {\"file\": \"in.zz\"},"
    " \"plain\": {\"bytes\": 1048576},"
    " \"plain_size\": {\"bytes\": 8},"
    " \"crc\": {\"bytes\": 4, \"output\": \"crc.bin\"},"
    " \"digest\": {\"bytes\": 32, \"output\": \"digest.bin\"},"
    " \"packed\": {\"bytes_from\": \"plain\", \"scale\": 1.0001, \"add\": 16, \"output\": \"out.zz\","
    "   \"output_size_from\": \"packed_size\"},"
    " \"packed_size\": {\"bytes\": 8}},"
    " \"stages\": ["
    "  {\"name\": \"inflate\", \"function\": \"zlib.inflate\","
    "   \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"plain\"}, {\"buffer\": \"plain_size\"}]},"
    "  {\"name\": \"crc\", \"function\": \"crc32c\","
    "   \"args\": [{\"buffer\": \"plain\", \"size_from\": \"plain_size\"}, {\"buffer\": \"crc\"}]},"
    "  {\"name\": \"sha\", \"function\": \"sha256\","
    "   \"args\": [{\"buffer\": \"plain\", \"size_from\": \"plain_size\"}, {\"buffer\": \"digest\"}]},"
    "  {\"name\": \"deflate\", \"function\": \"zlib.deflate\","
    "   \"args\": [{\"buffer\": \"plain\", \"size_from\": \"plain_size\"}, {\"buffer\": \"packed\"},"
    "            {\"buffer\": \"packed_size\"}, {\"i32\": 6}]}]}";

/* crc, sha and deflate of a plain input. */
static const char *const plain_pipeline =
    "{\"pipeline_version\": 1, \"name\": \"plain\", \"buffers\": {"
    " \"data\": {\"file\": \"data.bin\"},"
    " \"crc\": {\"bytes\": 4, \"output\": \"crc.bin\"},"
    " \"digest\": {\"bytes\": 32, \"output\": \"digest.bin\"},"
    " \"packed\": {\"bytes_from\": \"data\", \"scale\": 1.0001, \"add\": 16, \"output\": \"out.zz\","
    "   \"output_size_from\": \"packed_size\"},"
    " \"packed_size\": {\"bytes\": 8, \"output\": \"packed_size.bin\"}},"
    " \"stages\": ["
    "  {\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"data\"}, {\"buffer\": "
    "\"crc\"}]},"
    "  {\"name\": \"sha\", \"function\": \"sha256\", \"args\": [{\"buffer\": \"data\"}, {\"buffer\": "
    "\"digest\"}]},"
    "  {\"name\": \"deflate\", \"function\": \"zlib.deflate\","
    "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"packed\"}, {\"buffer\": \"packed_size\"}, "
    "{\"i32\": 1}]}]}";

static uint32_t crc32c_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Text-like bytes that compress. */
static unsigned char *make_data(size_t n, unsigned seed)
{
    static const char *const words[] = {"stream ", "chunk ", "ring ", "fence ", "stage ", "plan ", "zlib "};
    unsigned char *p = malloc(n + 1);
    size_t k = 0;
    while (k < n) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 7];
        for (size_t i = 0; w[i] && k < n; i++)
            p[k++] = (unsigned char)w[i];
    }
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *p = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            p = realloc(p, cap);
        }
        got = fread(p + len, 1, cap - len, f);
        len += got;
    } while (got);
    fclose(f);
    *size = len;
    return p;
}

/* Files in d whose names start with "." (temporary outputs) or are in the
 * NULL-terminated list: how many. */
static int count_files(const char *d, ...)
{
    DIR *dd = opendir(d);
    assert_non_null(dd);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.') {
            n++;
            continue;
        }
        va_list ap;
        va_start(ap, d);
        for (const char *s; (s = va_arg(ap, const char *));)
            n += strcmp(s, e->d_name) == 0;
        va_end(ap);
    }
    closedir(dd);
    return n;
}

typedef struct ctx {
    char *sub;
    accel_pipeline *pipeline;
    accel_plan *plan;
    accel_run *run;
} ctx;

static uint32_t buffer_index(const accel_pipeline *p, const char *name)
{
    for (uint32_t b = 0; b < accel_pipeline_buffer_count(p); b++) {
        accel_pipeline_buffer buf = {.struct_size = sizeof(buf)};
        assert_int_equal(accel_pipeline_get_buffer(p, b, &buf), ACCEL_SUCCESS);
        if (strcmp(buf.name, name) == 0)
            return b;
    }
    fail_msg("no buffer %s", name);
    return 0;
}

/* A fresh directory holding `input` as `input_name`, the pipeline placed
 * on the cpu device, and a run of it prepared with `o`. */
static void prepare(ctx *c, const char *tag, const char *json, const char *input_name, const void *input,
                    size_t n, accel_run_options *o)
{
    c->sub = ts_printf("%s/%s", dir, tag);
    ts_mkdirs(c->sub);
    char *in = ts_printf("%s/%s", c->sub, input_name);
    write_file(in, input, n);
    free(in);
    assert_int_equal(accel_pipeline_parse(json, strlen(json), tag, &c->pipeline), ACCEL_SUCCESS);
    assert_int_equal(
        accel_pipeline_set_buffer_bytes(
            c->pipeline, buffer_index(c->pipeline, strcmp(input_name, "in.zz") ? "data" : "in"), n),
        ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    assert_int_equal(accel_place(topo, c->pipeline, &po, &c->plan), ACCEL_SUCCESS);
    o->input_dir = c->sub;
    accel_result r = accel_run_create(inst, topo, c->pipeline, c->plan, o, &c->run);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_run_create: %s", accel_last_error_message());
}

static void release(ctx *c)
{
    accel_run_destroy(c->run);
    accel_plan_destroy(c->plan);
    accel_pipeline_destroy(c->pipeline);
    free(c->sub);
}

/* crc.bin, digest.bin and out.zz in d are those of data. */
static void check_outputs(const char *d, const unsigned char *data, size_t n)
{
    char *p = ts_printf("%s/crc.bin", d);
    size_t len;
    unsigned char *crc = read_file(p, &len);
    if (!crc)
        fail_msg("%s: %s", p, strerror(errno));
    assert_int_equal(len, 4);
    uint32_t got = (uint32_t)crc[0] | (uint32_t)crc[1] << 8 | (uint32_t)crc[2] << 16 | (uint32_t)crc[3] << 24;
    assert_int_equal(got, crc32c_ref(data, n));
    free(crc);
    free(p);
    p = ts_printf("%s/digest.bin", d);
    unsigned char *digest = read_file(p, &len), want[32];
    assert_non_null(digest);
    assert_int_equal(len, 32);
    SHA256(data, n, want);
    assert_memory_equal(digest, want, 32);
    free(digest);
    free(p);
    p = ts_printf("%s/out.zz", d);
    unsigned char *zz = read_file(p, &len);
    assert_non_null(zz);
    uLongf back_len = n + 1;
    unsigned char *back = malloc(n + 1);
    int zr = uncompress(back, &back_len, zz, len);
    if (zr != Z_OK)
        fail_msg("%s (%zu bytes) does not inflate: zlib %d", p, len, zr);
    assert_int_equal(back_len, n);
    if (n)
        assert_memory_equal(back, data, n);
    free(back);
    free(zz);
    free(p);
}

/* The chunk size docs/pipelines.md ("Chunk size") says a plan of the zlib
 * pipeline chooses for an input of `total` bytes, from the costs of the
 * topology's functions on the devices of the plan's stages. */
static uint64_t plan_chunk(const accel_plan *plan, uint64_t total)
{
    static const char *const fns[] = {"zlib.inflate", "crc32c", "sha256", "zlib.deflate"};
    double slowest = 0, fixed = 0;
    for (uint32_t s = 0; s < 4; s++) {
        accel_plan_stage ps = {.struct_size = sizeof(ps)};
        assert_int_equal(accel_plan_get_stage(plan, s, &ps), ACCEL_SUCCESS);
        accel_topology_node node = {.struct_size = sizeof(node)};
        assert_int_equal(accel_topology_get_node(topo, ps.device_node, &node), ACCEL_SUCCESS);
        for (uint32_t i = 0; i < node.function_count; i++) {
            accel_topology_function f = {.struct_size = sizeof(f)};
            assert_int_equal(accel_topology_get_function(topo, ps.device_node, i, &f), ACCEL_SUCCESS);
            if (strcmp(f.name, fns[s]) != 0 || !f.bytes_per_second)
                continue;
            if (slowest == 0 || (double)f.bytes_per_second < slowest)
                slowest = (double)f.bytes_per_second;
            fixed = (double)f.fixed_ns > fixed ? (double)f.fixed_ns : fixed;
        }
    }
    uint64_t chunk = ACCEL_RUN_DEFAULT_CHUNK_SIZE;
    while (chunk < (16u << 20) && (double)chunk < 16.0 * fixed * slowest / 1e9)
        chunk <<= 1;
    while (total && chunk > (64 << 10) && chunk * 8 > total)
        chunk >>= 1;
    return chunk;
}

/* The zlib pipeline over n bytes of data at one chunk size (0: the plan's):
 * streamed, the chunks counted, the outputs right, nothing else left in the
 * directory. */
static void run_zlib(const char *tag, size_t n, uint64_t chunk, uint32_t flags)
{
    unsigned char *data = make_data(n, (unsigned)n);
    uLongf zlen = compressBound(n);
    unsigned char *z = malloc(zlen);
    assert_int_equal(compress2(z, &zlen, data, n, 6), Z_OK);
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = chunk, .flags = flags};
    ctx c = {0};
    prepare(&c, tag, zlib_pipeline, "in.zz", z, zlen, &o);
    accel_run_result res = {.struct_size = sizeof(res)};
    accel_result r = accel_run_execute(c.run, &res);
    if (r != ACCEL_SUCCESS)
        fail_msg("%s: %s", tag, accel_last_error_message());
    assert_int_equal(res.result, ACCEL_SUCCESS);
    assert_null(res.message);
    assert_int_equal(res.failed_stage, -1);
    if (flags & ACCEL_RUN_WHOLE_BUFFER) {
        assert_false(res.streamed);
        assert_non_null(res.mode_reason);
    } else {
        assert_true(res.streamed);
        assert_null(res.mode_reason);
        if (chunk == 0) {
            chunk = plan_chunk(c.plan, zlen);
            print_message("%s: the plan chose chunks of %llu bytes for %llu\n", tag, (unsigned long long)chunk,
                          (unsigned long long)zlen);
            assert_true(chunk >= (64 << 10) && chunk <= (16 << 20) && (chunk & (chunk - 1)) == 0);
        }
        assert_int_equal(res.chunk_size, chunk);
        assert_int_equal(res.chunks, (zlen + chunk - 1) / chunk);
    }
    assert_int_equal(res.input_bytes, zlen);
    check_outputs(c.sub, data, n);
    assert_int_equal(count_files(c.sub, "in.zz", "crc.bin", "digest.bin", "out.zz", NULL), 4);
    release(&c);
    free(z);
    free(data);
}

static void test_run_chunk_one_byte(void **state)
{
    (void)state;
    run_zlib("one-byte", 3000, 1, 0);
}

static void test_run_chunk_not_dividing(void **state)
{
    (void)state;
    run_zlib("not-dividing", 300007, 4099, 0);
    run_zlib("not-dividing-2", 100000, 1000, 0); /* the compressed size is not a multiple of 1000 */
}

static void test_run_one_chunk(void **state)
{
    (void)state;
    run_zlib("one-chunk", 50000, 1 << 20, 0);
}

/* Chunk size 0: the plan chooses it, for a small input (halved down to
 * 64 KiB so that it makes chunks to overlap) and a larger one. */
static void test_run_chunk_from_plan(void **state)
{
    (void)state;
    run_zlib("plan-chunk-small", 300007, 0, 0);
    run_zlib("plan-chunk-large", 24u << 20, 0, 0);
}

static void test_run_whole_buffer(void **state)
{
    (void)state;
    run_zlib("whole", 300007, 0, ACCEL_RUN_WHOLE_BUFFER);
}

/* Bounded memory: 4 MiB through 16 KiB chunks allocates rings, states
 * and the small buffers only: far less than the input. */
static void test_run_memory_bounded(void **state)
{
    (void)state;
    size_t n = 4u << 20;
    unsigned char *data = make_data(n, 3);
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 16384};
    ctx c = {0};
    prepare(&c, "bounded", plain_pipeline, "data.bin", data, n, &o);
    accel_run_result res = {.struct_size = sizeof(res)};
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_SUCCESS);
    assert_true(res.streamed);
    assert_int_equal(res.chunks, n / 16384);
    if (res.buffer_bytes > 512 * 1024)
        fail_msg("%llu bytes of buffers for 16 KiB chunks", (unsigned long long)res.buffer_bytes);
    check_outputs(c.sub, data, n);
    /* The total size of the deflate stream is its out_size. */
    char *p = ts_printf("%s/packed_size.bin", c.sub), *zp = ts_printf("%s/out.zz", c.sub);
    size_t len, zlen;
    unsigned char *sz = read_file(p, &len), *zz = read_file(zp, &zlen);
    assert_int_equal(len, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | sz[i];
    assert_int_equal(v, zlen);
    free(sz);
    free(zz);
    free(p);
    free(zp);
    release(&c);
    free(data);
}

static void test_run_empty_input(void **state)
{
    (void)state;
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 64};
    ctx c = {0};
    prepare(&c, "empty", plain_pipeline, "data.bin", "", 0, &o);
    accel_run_result res = {.struct_size = sizeof(res)};
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_SUCCESS);
    assert_true(res.streamed);
    assert_int_equal(res.chunks, 0);
    check_outputs(c.sub, (const unsigned char *)"", 0);
    release(&c);
    /* An empty zlib input is no zlib stream: inflate fails, by name. */
    ctx d = {0};
    prepare(&d, "empty-zz", zlib_pipeline, "in.zz", "", 0, &o);
    assert_int_equal(accel_run_execute(d.run, &res), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(res.failed_stage, 0);
    assert_non_null(strstr(res.message, "stage inflate failed"));
    assert_int_equal(count_files(d.sub, "crc.bin", "digest.bin", "out.zz", NULL), 0);
    release(&d);
}

/* A stream of a stream: deflate of incompressible bytes (each piece larger
 * than its chunk) deflated again; the second stage's slots hold the bound
 * of the first's. Inflating twice gives the bytes back. */
static void test_run_deflate_twice(void **state)
{
    (void)state;
    static const char json[] =
        "{\"pipeline_version\": 1, \"buffers\": {\"data\": {\"file\": \"data.bin\"},"
        " \"a\": {\"bytes_from\": \"data\", \"scale\": 1.01, \"add\": 64}, \"a_size\": {\"bytes\": 8},"
        " \"b\": {\"bytes_from\": \"a\", \"scale\": 1.01, \"add\": 64, \"output\": \"twice.zz\"},"
        " \"b_size\": {\"bytes\": 8}}, \"stages\": ["
        " {\"name\": \"first\", \"function\": \"zlib.deflate\", \"args\": [{\"buffer\": \"data\"},"
        "  {\"buffer\": \"a\"}, {\"buffer\": \"a_size\"}, {\"i32\": 9}]},"
        " {\"name\": \"second\", \"function\": \"zlib.deflate\", \"args\": [{\"buffer\": \"a\", "
        "  \"size_from\": \"a_size\"}, {\"buffer\": \"b\"}, {\"buffer\": \"b_size\"}, {\"i32\": 0}]}]}";
    size_t n = 50000;
    unsigned char *data = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 4096};
    ctx c = {0};
    prepare(&c, "twice", json, "data.bin", data, n, &o);
    accel_run_result res = {.struct_size = sizeof(res)};
    if (accel_run_execute(c.run, &res) != ACCEL_SUCCESS)
        fail_msg("%s", accel_last_error_message());
    assert_true(res.streamed);
    char *path = ts_printf("%s/twice.zz", c.sub);
    size_t len;
    unsigned char *b = read_file(path, &len);
    assert_non_null(b);
    uLongf alen = 2 * n + 1000, back_len = n + 1;
    unsigned char *a = malloc(alen), *back = malloc(n + 1);
    assert_int_equal(uncompress(a, &alen, b, len), Z_OK);
    assert_int_equal(uncompress(back, &back_len, a, alen), Z_OK);
    assert_int_equal(back_len, n);
    assert_memory_equal(back, data, n);
    free(a);
    free(back);
    free(b);
    free(path);
    release(&c);
    free(data);
}

/* A zlib stream of stored blocks of 1000 bytes each, written by hand, so
 * that the offset of every block header is known. */
static unsigned char *stored_stream(const unsigned char *data, size_t n, size_t *size)
{
    size_t blocks = (n + 999) / 1000;
    unsigned char *z = malloc(2 + blocks * 1005 + 4 + 5);
    size_t k = 0;
    z[k++] = 0x78;
    z[k++] = 0x01;
    for (size_t b = 0; b < blocks; b++) {
        size_t len = n - b * 1000 < 1000 ? n - b * 1000 : 1000;
        z[k++] = b + 1 == blocks ? 1 : 0;
        z[k++] = (unsigned char)len;
        z[k++] = (unsigned char)(len >> 8);
        z[k++] = (unsigned char)~len;
        z[k++] = (unsigned char)(~len >> 8);
        memcpy(z + k, data + b * 1000, len);
        k += len;
    }
    uint32_t a = (uint32_t)adler32(adler32(0, NULL, 0), data, (uInt)n);
    z[k++] = (unsigned char)(a >> 24);
    z[k++] = (unsigned char)(a >> 16);
    z[k++] = (unsigned char)(a >> 8);
    z[k++] = (unsigned char)a;
    *size = k;
    return z;
}

/* A corrupt stream: the stored block header of block 7 has a bad NLEN.
 * The run fails on inflate, on the chunk that holds it; no output is left
 * (not even a temporary file) and every queue is drained (the run returns
 * and the instance can run again). */
static void test_run_corrupt_chunk(void **state)
{
    (void)state;
    size_t n = 20000, zlen;
    unsigned char *data = make_data(n, 11);
    unsigned char *z = stored_stream(data, n, &zlen);
    assert_int_equal(uncompress((unsigned char[20001]){0}, &(uLongf){20001}, z, zlen), Z_OK);
    size_t nlen_at = 2 + 7 * 1005 + 3; /* NLEN of block 7 */
    z[nlen_at] ^= 0x55;
    static const uint64_t chunks[] = {1, 512, 1000, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        char *tag = ts_printf("corrupt-%llu", (unsigned long long)chunks[i]);
        accel_run_options o = {.struct_size = sizeof(o), .chunk_size = chunks[i]};
        ctx c = {0};
        prepare(&c, tag, zlib_pipeline, "in.zz", z, zlen, &o);
        accel_run_result res = {.struct_size = sizeof(res)};
        accel_result r = accel_run_execute(c.run, &res);
        assert_int_equal(r, ACCEL_ERROR_INVALID_ARGUMENT);
        assert_int_equal(res.result, r);
        assert_int_equal(res.failed_stage, 0);
        /* The header is complete with its last NLEN byte. */
        int64_t want = (int64_t)((nlen_at + 1) / chunks[i]);
        if (res.failed_chunk != want)
            fail_msg("chunk size %llu: failed on chunk %lld, not %lld: %s", (unsigned long long)chunks[i],
                     (long long)res.failed_chunk, (long long)want, res.message);
        char *needle = ts_printf("stage inflate failed on chunk %lld", (long long)want);
        assert_non_null(strstr(res.message, needle));
        assert_non_null(strstr(accel_last_error_message(), needle));
        free(needle);
        assert_int_equal(count_files(c.sub, "crc.bin", "digest.bin", "out.zz", NULL), 0);
        release(&c);
        free(tag);
    }
    /* Cut short: the last chunk is named. */
    z[nlen_at] ^= 0x55;
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 4096};
    ctx c = {0};
    prepare(&c, "cut-short", zlib_pipeline, "in.zz", z, 10000, &o);
    accel_run_result res = {.struct_size = sizeof(res)};
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(res.failed_stage, 0);
    assert_int_equal(res.failed_chunk, 2);
    assert_non_null(strstr(res.message, "cut short"));
    assert_int_equal(count_files(c.sub, "crc.bin", "digest.bin", "out.zz", NULL), 0);
    release(&c);
    /* The same data whole runs fine afterwards. */
    ctx d = {0};
    prepare(&d, "after", zlib_pipeline, "in.zz", z, zlen, &o);
    assert_int_equal(accel_run_execute(d.run, &res), ACCEL_SUCCESS);
    check_outputs(d.sub, data, n);
    release(&d);
    free(z);
    free(data);
}

/* Device loss on chunk k: a fake device that offers crc32c.stream and
 * loses itself at its 4th submission. The run names the stage and chunk 3,
 * returns ACCEL_ERROR_DEVICE_LOST, leaves no output, and its queue is
 * drained (the run returns; nothing is in flight). */
static void test_run_device_lost(void **state)
{
    (void)state;
    char *sub = ts_printf("%s/lost", dir);
    ts_mkdirs(sub);
    char *manifest = ts_write_fake_manifest(sub, "fake.json", "exec_stream");
    static const char json[] = "{\"pipeline_version\": 1, \"buffers\": {\"data\": {\"file\": \"data.bin\"},"
                               " \"crc\": {\"bytes\": 4, \"output\": \"crc.bin\"}},"
                               " \"stages\": [{\"name\": \"check\", \"function\": \"crc32c\","
                               " \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"crc\"}]}]}";
    unsigned char *data = make_data(1000, 17);
    char *in = ts_printf("%s/data.bin", sub);
    write_file(in, data, 1000);
    for (int lose = 0; lose < 2; lose++) {
        size_t depth = ts_env_depth();
        ts_env_push("FAKE_EXEC_LOSE_AFTER", lose ? "4" : NULL);
        const char *paths[] = {manifest, NULL};
        accel_instance *fi = NULL;
        assert_int_equal(ts_create_with_paths(&fi, ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION, paths),
                         ACCEL_SUCCESS);
        ts_env_pop_to(depth);
        const accel_topology *ft = NULL;
        assert_int_equal(accel_instance_get_topology(fi, &ft), ACCEL_SUCCESS);
        accel_pipeline *p = NULL;
        accel_plan *plan = NULL;
        assert_int_equal(accel_pipeline_parse(json, strlen(json), "lost.json", &p), ACCEL_SUCCESS);
        accel_place_options po = {.struct_size = sizeof(po)};
        if (accel_place(ft, p, &po, &plan) != ACCEL_SUCCESS)
            fail_msg("placement on the fake device: %s", accel_last_error_message());
        accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 100, .input_dir = sub};
        accel_run *run = NULL;
        assert_int_equal(accel_run_create(fi, ft, p, plan, &o, &run), ACCEL_SUCCESS);
        accel_run_result res = {.struct_size = sizeof(res)};
        accel_result r = accel_run_execute(run, &res);
        if (!lose) {
            /* Without the loss: streamed, and the CRC is right. */
            if (r != ACCEL_SUCCESS)
                fail_msg("%s", accel_last_error_message());
            assert_true(res.streamed);
            assert_int_equal(res.chunks, 10);
            size_t len;
            char *crc_path = ts_printf("%s/crc.bin", sub);
            unsigned char *crc = read_file(crc_path, &len);
            assert_int_equal(len, 4);
            uint32_t got =
                (uint32_t)crc[0] | (uint32_t)crc[1] << 8 | (uint32_t)crc[2] << 16 | (uint32_t)crc[3] << 24;
            assert_int_equal(got, crc32c_ref(data, 1000));
            assert_int_equal(unlink(crc_path), 0);
            free(crc);
            free(crc_path);
        } else {
            assert_int_equal(r, ACCEL_ERROR_DEVICE_LOST);
            assert_int_equal(res.failed_stage, 0);
            assert_int_equal(res.failed_chunk, 3);
            assert_non_null(strstr(res.message, "stage check failed on chunk 3 (crc32c.stream)"));
            assert_non_null(strstr(res.message, accel_result_string(ACCEL_ERROR_DEVICE_LOST)));
            assert_int_equal(count_files(sub, "crc.bin", NULL), 0);
        }
        accel_run_destroy(run);
        accel_plan_destroy(plan);
        accel_pipeline_destroy(p);
        accel_instance_destroy(fi);
    }
    free(in);
    free(data);
    free(manifest);
    free(sub);
}

/* An endless input from a callback; another thread cancels. */
typedef struct endless {
    uint64_t served;
} endless;

static int64_t endless_read(void *user_data, void *buf, uint64_t size)
{
    endless *e = user_data;
    unsigned char *p = buf;
    for (uint64_t i = 0; i < size; i++)
        p[i] = (unsigned char)("abcdefgh"[(e->served + i) % 8] ^ ((e->served + i) >> 12));
    e->served += size;
    return (int64_t)size;
}

static void *cancel_later(void *arg)
{
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    accel_run_cancel(arg);
    return NULL;
}

static void test_run_cancel(void **state)
{
    (void)state;
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 65536};
    ctx c = {0};
    prepare(&c, "cancel", plain_pipeline, "data.bin", "x", 1, &o);
    endless e = {0};
    accel_run_io io = {
        .struct_size = sizeof(io), .kind = ACCEL_RUN_IO_CALLBACK, .read = endless_read, .user_data = &e};
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "data"), &io), ACCEL_SUCCESS);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, c.run), 0);
    accel_run_result res = {.struct_size = sizeof(res)};
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_ERROR_CANCELED);
    pthread_join(t, NULL);
    assert_int_equal(res.result, ACCEL_ERROR_CANCELED);
    assert_true(e.served > 0);
    assert_non_null(strstr(res.message, "cancelled"));
    assert_int_equal(count_files(c.sub, "crc.bin", "digest.bin", "out.zz", "packed_size.bin", NULL), 0);
    /* A run executes once. */
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_ERROR_INVALID_ARGUMENT);
    release(&c);
}

/* Inputs from a pipe (size unknown), outputs to a callback and to another
 * path; whole-buffer mode reads the pipe whole. */
typedef struct collect {
    unsigned char *p;
    size_t len;
} collect;

static int collect_write(void *user_data, const void *data, uint64_t size)
{
    collect *c = user_data;
    c->p = realloc(c->p, c->len + size + 1);
    memcpy(c->p + c->len, data, size);
    c->len += size;
    return 0;
}

static void run_bound(uint32_t flags)
{
    size_t n = 100000;
    unsigned char *data = make_data(n, 5);
    accel_run_options o = {.struct_size = sizeof(o), .chunk_size = 8192, .flags = flags};
    ctx c = {0};
    prepare(&c, flags ? "bound-whole" : "bound", plain_pipeline, "data.bin", "", 0, &o);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    /* The pipe holds 64 KiB: a writer thread would be needed for more; the
     * test writes a 60000-byte prefix. */
    size_t m = 60000;
    assert_int_equal(write(fds[1], data, m), (ssize_t)m);
    close(fds[1]);
    accel_run_io in = {.struct_size = sizeof(in), .kind = ACCEL_RUN_IO_FD, .fd = fds[0]};
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "data"), &in), ACCEL_SUCCESS);
    collect col = {0};
    accel_run_io out = {
        .struct_size = sizeof(out), .kind = ACCEL_RUN_IO_CALLBACK, .write = collect_write, .user_data = &col};
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "packed"), &out), ACCEL_SUCCESS);
    char *crc_path = ts_printf("%s/elsewhere.crc", c.sub);
    accel_run_io crc = {.struct_size = sizeof(crc), .kind = ACCEL_RUN_IO_PATH, .path = crc_path};
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "crc"), &crc), ACCEL_SUCCESS);
    accel_run_result res = {.struct_size = sizeof(res)};
    accel_result r = accel_run_execute(c.run, &res);
    if (r != ACCEL_SUCCESS)
        fail_msg("%s", accel_last_error_message());
    close(fds[0]);
    assert_int_equal(res.streamed, flags == 0);
    assert_int_equal(res.input_bytes, m);
    uLongf back_len = m + 1;
    unsigned char *back = malloc(m + 1);
    assert_int_equal(uncompress(back, &back_len, col.p, col.len), Z_OK);
    assert_int_equal(back_len, m);
    assert_memory_equal(back, data, m);
    size_t len;
    unsigned char *crcb = read_file(crc_path, &len);
    assert_non_null(crcb);
    assert_int_equal(len, 4);
    uint32_t got =
        (uint32_t)crcb[0] | (uint32_t)crcb[1] << 8 | (uint32_t)crcb[2] << 16 | (uint32_t)crcb[3] << 24;
    assert_int_equal(got, crc32c_ref(data, m));
    assert_int_equal(count_files(c.sub, "crc.bin", "out.zz", NULL), 0);
    free(crcb);
    free(back);
    free(col.p);
    free(crc_path);
    release(&c);
    free(data);
}

static void test_run_bindings(void **state)
{
    (void)state;
    run_bound(0);
    run_bound(ACCEL_RUN_WHOLE_BUFFER);
}

/* Progress reports: bytes in, a stage's calls and busy time. */
typedef struct seen {
    int calls;
    uint64_t last_in, calls_crc;
    bool streaming;
} seen;

static void on_progress(void *user_data, const accel_run_progress *p)
{
    seen *s = user_data;
    s->calls++;
    s->last_in = p->input_bytes;
    s->streaming = p->streaming;
    assert_int_equal(p->stage_count, 3);
    s->calls_crc = p->stages[0].calls;
}

static void test_run_progress_and_errors(void **state)
{
    (void)state;
    size_t n = 200000;
    unsigned char *data = make_data(n, 9);
    seen s = {0};
    accel_run_options o = {.struct_size = sizeof(o),
                           .chunk_size = 10000,
                           .progress = on_progress,
                           .progress_user_data = &s,
                           .progress_interval_ns = 1};
    ctx c = {0};
    prepare(&c, "progress", plain_pipeline, "data.bin", data, n, &o);
    /* Usage errors: not an input or output, a bad fd, a missing callback. */
    accel_run_io io = {.struct_size = sizeof(io), .kind = ACCEL_RUN_IO_FD, .fd = -1};
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "data"), &io),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    io.kind = ACCEL_RUN_IO_CALLBACK;
    assert_int_equal(accel_run_bind(c.run, buffer_index(c.pipeline, "data"), &io),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "data"));
    accel_run_result res = {.struct_size = sizeof(res)};
    assert_int_equal(accel_run_execute(c.run, &res), ACCEL_SUCCESS);
    assert_true(s.calls >= 2);
    assert_true(s.streaming);
    assert_int_equal(s.last_in, n);
    assert_int_equal(s.calls_crc, n / 10000);
    release(&c);
    /* Options out of range. */
    accel_pipeline *p = NULL;
    accel_plan *plan = NULL;
    assert_int_equal(accel_pipeline_parse(plain_pipeline, strlen(plain_pipeline), "x", &p), ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    assert_int_equal(accel_place(topo, p, &po, &plan), ACCEL_SUCCESS);
    accel_run *run = NULL;
    accel_run_options bad = {.struct_size = sizeof(bad), .ring_depth = 1};
    assert_int_equal(accel_run_create(inst, topo, p, plan, &bad, &run), ACCEL_ERROR_INVALID_ARGUMENT);
    bad = (accel_run_options){.struct_size = sizeof(bad), .flags = 0x80};
    assert_int_equal(accel_run_create(inst, topo, p, plan, &bad, &run), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_run_create(inst, topo, p, NULL, NULL, &run), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(run);
    /* A missing input names its file. */
    bad = (accel_run_options){.struct_size = sizeof(bad), .input_dir = "/nonexistent-dir"};
    assert_int_equal(accel_run_create(inst, topo, p, plan, &bad, &run), ACCEL_SUCCESS);
    assert_int_equal(accel_run_execute(run, NULL), ACCEL_ERROR_IO);
    assert_non_null(strstr(accel_last_error_message(), "/nonexistent-dir/data.bin"));
    accel_run_destroy(run);
    accel_run_cancel(NULL);
    accel_run_destroy(NULL);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    free(data);
}

/* A plan whose buffers need more memory than the machine has fails before
 * anything is allocated, naming the largest buffer (docs/limits.md). */
static void test_run_memory_over_machine(void **state)
{
    (void)state;
    char *sub = ts_printf("%s/over", dir);
    ts_mkdirs(sub);
    char *in = ts_printf("%s/in.zz", sub);
    write_file(in, "x", 1);
    accel_pipeline *p = NULL;
    assert_int_equal(accel_pipeline_parse(zlib_pipeline, strlen(zlib_pipeline), "over", &p), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_set_buffer_bytes(p, buffer_index(p, "plain"), 1ull << 50), ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    accel_plan *plan = NULL;
    assert_int_equal(accel_place(topo, p, &po, &plan), ACCEL_SUCCESS);
    accel_run_options o = {.struct_size = sizeof(o), .flags = ACCEL_RUN_WHOLE_BUFFER, .input_dir = sub};
    accel_run *run = NULL;
    assert_int_equal(accel_run_create(inst, topo, p, plan, &o, &run), ACCEL_SUCCESS);
    accel_run_result res = {.struct_size = sizeof(res)};
    accel_result r = accel_run_execute(run, &res);
    assert_true(r == ACCEL_ERROR_OUT_OF_HOST_MEMORY || r == ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    const char *msg = accel_last_error_message();
    /* packed is plain's size and a little more: the largest. */
    if (!strstr(msg, "the largest is buffer packed (1126012496833325 bytes); nothing was allocated") ||
        (!strstr(msg, "bytes of buffers on ") && !strstr(msg, "more than this machine's")))
        fail_msg("message: %s", msg);
    assert_int_equal(res.buffer_bytes, 0);
    accel_run_destroy(run);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(p);
    free(in);
    free(sub);
    /* A program source over ACCEL_PROGRAM_MAX_SIZE is refused before the
     * driver sees a byte of it. */
    uint32_t count = 1;
    accel_device *dev = NULL;
    assert_int_equal(accel_enumerate_devices(inst, &count, &dev), ACCEL_SUCCESS);
    accel_program *prog = NULL;
    assert_int_equal(accel_program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, "x", (size_t)ACCEL_PROGRAM_MAX_SIZE + 1,
                                        NULL, &prog),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(prog);
    if (!strstr(accel_last_error_message(), "the limit is 67108864 (ACCEL_PROGRAM_MAX_SIZE)"))
        fail_msg("message: %s", accel_last_error_message());
}

static int group_setup(void **state)
{
    (void)state;
    dir = ts_mkdtemp("run");
    ts_env_push("ACCEL_DRIVER_FILES", BUILD_MANIFEST_DIR);
    ts_env_push("ACCEL_DRIVERS_SELECT", "cpu");
    accel_instance_options io = {.struct_size = sizeof(io)};
    if (accel_instance_create(&io, &inst) != ACCEL_SUCCESS)
        return -1;
    return accel_instance_get_topology(inst, &topo) == ACCEL_SUCCESS ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    accel_instance_destroy(inst);
    ts_rmtree(dir);
    free(dir);
    ts_env_pop();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_chunk_one_byte), cmocka_unit_test(test_run_chunk_not_dividing),
        cmocka_unit_test(test_run_one_chunk),      cmocka_unit_test(test_run_chunk_from_plan),
        cmocka_unit_test(test_run_whole_buffer),
        cmocka_unit_test(test_run_memory_bounded), cmocka_unit_test(test_run_empty_input),
        cmocka_unit_test(test_run_corrupt_chunk),
        cmocka_unit_test_setup_teardown(test_run_device_lost, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_run_deflate_twice),  cmocka_unit_test(test_run_cancel),
        cmocka_unit_test(test_run_bindings),       cmocka_unit_test(test_run_progress_and_errors),
        cmocka_unit_test(test_run_memory_over_machine),
    };
    return cmocka_run_group_tests_name("run", tests, group_setup, group_teardown);
}
