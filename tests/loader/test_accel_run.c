/* test_accel_run.c — tools/accel-run over the real in-tree drivers (cpu,
 * opencl on PoCL, vulkan on lavapipe, warpdrive on its emulator, fpga):
 * pipelines/demo.json (zlib.inflate -> crc32c -> zlib.deflate) gives the
 * same CRC and a stream that inflates to the same bytes, smaller than them
 * (within 1.25x of zlib's level 6), whichever devices its stages are forced
 * onto; plan-only output; infeasible placements;
 * what-if planning; usage and input errors with their exit codes;
 * --calibrate: the cache's sizes, ratios and ceilings, --corpus. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <zlib.h>

#include "support.h"

static char *dir;      /* the pipeline, its input, and the outputs */
static char *pipeline; /* dir/demo.json */
static unsigned char *plain;
static size_t plain_size;
static uint32_t plain_crc;
static size_t plain_zlib6; /* zlib's level-6 stream of plain, bytes */
static char root[256], sysfs[300], devroot[300];
static pid_t emulator;

static uint32_t crc32c(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

static void start_emulator(void)
{
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/uacce_run-0", devroot);
    const char *argv[] = {EMULATOR_PATH, "--root",      root, "--name",       "uacce_run-0",
                          "--sva",       "--instances", "8",  "--algorithms", "zlib,crc32c,sha256",
                          NULL};
    emulator = ts_spawn_until_socket(argv, sock);
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    dir = ts_mkdtemp("accel-run");
    /* Text-like data that compresses, 256 KiB + 3. */
    plain_size = 256 * 1024 + 3;
    plain = malloc(plain_size);
    static const char *const words[] = {"accel ",  "loader ",   "queue ", "fence ",
                                        "memory ", "pipeline ", "zlib "};
    size_t k = 0;
    unsigned seed = 7;
    while (k < plain_size) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 7];
        for (size_t i = 0; w[i] && k < plain_size; i++)
            plain[k++] = (unsigned char)w[i];
    }
    plain_crc = crc32c(plain, plain_size);
    uLongf clen = compressBound(plain_size);
    unsigned char *z = malloc(clen);
    if (compress2(z, &clen, plain, plain_size, 6) != Z_OK)
        return -1;
    plain_zlib6 = clen;
    char *in = ts_printf("%s/input.zz", dir);
    FILE *f = fopen(in, "wb");
    fwrite(z, 1, clen, f);
    fclose(f);
    free(in);
    free(z);
    char *src = ts_printf("%s/pipelines/demo.json", getenv("ACCEL_TEST_SOURCE_ROOT"));
    char *text = ts_read_text(src);
    free(src);
    if (!text)
        return -1;
    pipeline = ts_write_text(dir, "demo.json", text);
    free(text);

    snprintf(root, sizeof(root), "%s/uacce-XXXXXX", TEST_TMP_DIR);
    if (!mkdtemp(root))
        return -1;
    snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
    snprintf(devroot, sizeof(devroot), "%s/dev", root);
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sysfs);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", devroot);
    ts_env_push("ACCEL_DRIVER_FILES", BUILD_MANIFEST_DIR);
    start_emulator();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (emulator > 0) {
        kill(emulator, SIGKILL);
        waitpid(emulator, NULL, 0);
    }
    ts_rmtree(root);
    ts_rmtree(dir);
    free(dir);
    free(pipeline);
    free(plain);
    ts_env_pop();
    return 0;
}

/* Run accel-run with up to 12 extra arguments (NULL-terminated). */
static int run(char **out, char **err, ...)
{
    const char *argv[32] = {ACCEL_RUN_PATH};
    int n = 1;
    va_list ap;
    va_start(ap, err);
    for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return ts_run(argv, NULL, out, err);
}

static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    *size = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

/* The outputs in outdir: crc.bin is the CRC-32C of the data, output.zz
 * inflates (with zlib) to the data. */
static void check_outputs(const char *outdir)
{
    char *crc_path = ts_printf("%s/crc.bin", outdir), *zz_path = ts_printf("%s/output.zz", outdir);
    size_t n = 0;
    unsigned char *crc = read_file(crc_path, &n);
    assert_non_null(crc);
    assert_int_equal(n, 4);
    uint32_t got = (uint32_t)crc[0] | (uint32_t)crc[1] << 8 | (uint32_t)crc[2] << 16 | (uint32_t)crc[3] << 24;
    assert_int_equal(got, plain_crc);
    unsigned char *zz = read_file(zz_path, &n);
    assert_non_null(zz);
    uLongf dlen = plain_size + 16;
    unsigned char *back = malloc(dlen);
    assert_int_equal(uncompress(back, &dlen, zz, n), Z_OK);
    assert_int_equal(dlen, plain_size);
    assert_memory_equal(back, plain, plain_size);
    /* It compresses, whichever device deflated: smaller than the data and
     * within 1.25x of zlib's level 6 (the level the demo asks for). */
    if (n >= plain_size || (double)n > 1.25 * (double)plain_zlib6)
        fail_msg("%s: %zu bytes from %zu (zlib level 6: %zu)", zz_path, n, plain_size, plain_zlib6);
    free(back);
    free(zz);
    free(crc);
    free(crc_path);
    free(zz_path);
}

static void run_forced(const char *tag, const char *inflate_dev, const char *crc_dev, const char *deflate_dev)
{
    char *outdir = ts_printf("%s/out-%s", dir, tag);
    ts_mkdirs(outdir);
    char *f1 = ts_printf("inflate=%s", inflate_dev), *f2 = ts_printf("crc=%s", crc_dev),
         *f3 = ts_printf("deflate=%s", deflate_dev);
    char *out = NULL, *err = NULL;
    int rc = run(&out, &err, "--quiet", "-o", outdir, "-f", f1, "-f", f2, "-f", f3, pipeline, NULL);
    if (rc != 0)
        fail_msg("accel-run (%s) exited %d: %s", tag, rc, err);
    check_outputs(outdir);
    /* The plan honoured the forcing. */
    free(out);
    free(err);
    rc = run(&out, &err, "--plan-only", "--json", "-f", f1, "-f", f2, "-f", f3, pipeline, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, inflate_dev));
    assert_non_null(strstr(out, crc_dev));
    assert_non_null(strstr(out, deflate_dev));
    free(out);
    free(err);
    free(f1);
    free(f2);
    free(f3);
    free(outdir);
}

static void test_default_placement(void **state)
{
    (void)state;
    char *outdir = ts_printf("%s/out-default", dir);
    ts_mkdirs(outdir);
    char *out = NULL, *err = NULL;
    int rc = run(&out, &err, "-o", outdir, pipeline, NULL);
    if (rc != 0)
        fail_msg("accel-run exited %d: %s", rc, err);
    /* The plan goes to stderr before the run. */
    assert_non_null(strstr(err, "inflate"));
    assert_non_null(strstr(err, "wrote"));
    /* The estimate and the measured time, side by side. */
    assert_non_null(strstr(err, "accel-run: estimate "));
    assert_non_null(strstr(err, "x the estimate"));
    check_outputs(outdir);
    free(out);
    free(err);
    free(outdir);
}

static void test_forced_everywhere(void **state)
{
    (void)state;
    run_forced("cpu", "cpu:0", "cpu:0", "cpu:0");
    run_forced("opencl", "opencl:0", "opencl:0", "opencl:0");
    run_forced("vulkan", "vulkan:0", "vulkan:0", "vulkan:0");
    run_forced("warpdrive", "warpdrive:0", "warpdrive:0", "warpdrive:0");
}

static void test_forced_mixed(void **state)
{
    (void)state;
    run_forced("mix1", "vulkan:0", "warpdrive:0", "cpu:0");
    run_forced("mix2", "warpdrive:0", "opencl:0", "vulkan:0");
    run_forced("mix3", "cpu:0", "vulkan:0", "warpdrive:0");
}

static void test_plan_only_json(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    int rc = run(&out, &err, "--plan-only", "--json", pipeline, NULL);
    assert_int_equal(rc, 0);
    json_object *j = json_tokener_parse(out);
    if (!j)
        fail_msg("not JSON: %s", out);
    json_object *stages = NULL;
    assert_true(json_object_object_get_ex(j, "stages", &stages));
    assert_int_equal(json_object_array_length(stages), 3);
    json_object_put(j);
    free(out);
    free(err);
    /* --throughput places for a stream: the plan says per pass. */
    rc = run(&out, &err, "--plan-only", "--throughput", pipeline, NULL);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "per pass"));
    free(out);
    free(err);
    /* Plan-only runs nothing: no outputs next to the pipeline. */
    char *crc = ts_printf("%s/crc.bin", dir);
    struct stat st;
    assert_int_not_equal(stat(crc, &st), 0);
    free(crc);
}

static void test_infeasible(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    /* The fpga slots offer no crc32c built-in. */
    int rc = run(&out, &err, "--plan-only", "-f", "crc=fpga:1", pipeline, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "crc"));
    assert_non_null(strstr(err, "no placement fits"));
    free(out);
    free(err);
    /* A selector that matches no device. */
    rc = run(&out, &err, "--plan-only", "-f", "deflate=nosuchdriver:0", pipeline, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "deflate"));
    free(out);
    free(err);
}

static void test_what_if(void **state)
{
    (void)state;
    char *devices = ts_write_text(
        dir, "sim.json",
        "{\"devices\": [{\"driver\": \"zipper\", \"kind\": \"asic\", \"count\": 2,"
        " \"flags\": [\"sva\"], \"pasid_bits\": 20, \"numa_node\": 1,"
        " \"functions\": {\"zlib.inflate\": {\"fixed_ns\": 1000, \"bytes_per_second\": 8000000000},"
        " \"zlib.deflate\": {\"fixed_ns\": 1000, \"bytes_per_second\": 8000000000},"
        " \"crc32c\": {\"fixed_ns\": 500, \"bytes_per_second\": 20000000000}}}]}");
    char *xml = ts_printf("%s/tests/topology/data/24em64t-2n6c2t-pci.xml", getenv("ACCEL_TEST_SOURCE_ROOT"));
    char *out = NULL, *err = NULL;
    int rc = run(&out, &err, "--plan-only", "--topology", xml, "--devices", devices, pipeline, NULL);
    if (rc != 0)
        fail_msg("accel-run exited %d: %s", rc, err);
    assert_non_null(strstr(out, "zipper:"));
    free(out);
    free(err);
    /* The PASID the process needs is wider than the devices': infeasible,
     * and the message says so. */
    rc = run(&out, &err, "--plan-only", "--pasid-bits", "21", "--topology", xml, "--devices", devices, "-f",
             "crc=zipper:*", pipeline, NULL);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err, "pasid"));
    free(out);
    free(err);
    /* Simulated devices cannot run. */
    rc = run(&out, &err, "--topology", xml, pipeline, NULL);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "--plan-only"));
    free(out);
    free(err);
    free(xml);
    free(devices);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, NULL), 2);
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "--json", pipeline, NULL), 2);
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "-f", "inflate", pipeline, NULL), 2);
    assert_non_null(strstr(err, "STAGE=SELECTOR"));
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "-f", "nostage=cpu:0", pipeline, NULL), 2);
    assert_non_null(strstr(err, "nostage"));
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "--pasid-bits", "many", pipeline, NULL), 2);
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "--bogus", pipeline, NULL), 2);
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "--help", NULL), 0);
    assert_non_null(strstr(out, "Usage"));
    free(out);
    free(err);
}

static void test_input_errors(void **state)
{
    (void)state;
    char *out = NULL, *err = NULL;
    char *missing = ts_printf("%s/nope.json", dir);
    assert_int_equal(run(&out, &err, missing, NULL), 1);
    assert_non_null(strstr(err, "nope.json"));
    free(out);
    free(err);
    free(missing);
    /* A pipeline whose input file is absent. */
    char *sub = ts_printf("%s/noinput", dir);
    ts_mkdirs(sub);
    char *text = ts_read_text(pipeline);
    char *p = ts_write_text(sub, "demo.json", text);
    assert_int_equal(run(&out, &err, p, NULL), 1);
    assert_non_null(strstr(err, "input.zz"));
    free(out);
    free(err);
    /* An input stream that is corrupt: the inflate stage fails, by name. */
    char *bad = ts_write_text(sub, "input.zz", "this is not a zlib stream at all");
    assert_int_equal(run(&out, &err, "-f", "inflate=cpu:0", p, NULL), 1);
    assert_non_null(strstr(err, "stage inflate failed"));
    free(out);
    free(err);
    free(bad);
    free(p);
    free(text);
    free(sub);
}

/* pipelines/checksum.json streamed with its stages on devices of two other
 * drivers (OpenCL, WarpDrive), each taking the chunks through its stream
 * form: the CRC and the digest equal the cpu device's, whole-buffer runs
 * included. */
static void test_streamed_across_drivers(void **state)
{
    (void)state;
    char *sub = ts_printf("%s/checksum", dir);
    ts_mkdirs(sub);
    char *src = ts_printf("%s/pipelines/checksum.json", getenv("ACCEL_TEST_SOURCE_ROOT"));
    char *text = ts_read_text(src);
    char *p = ts_write_text(sub, "checksum.json", text);
    char *data = ts_printf("%s/data.bin", sub);
    FILE *f = fopen(data, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(plain, 1, plain_size, f), plain_size);
    fclose(f);
    static const struct {
        const char *tag, *crc, *sha, *mode;
    } runs[] = {
        {"ref", "cpu:0", "warpdrive:0", "--whole-buffer"},
        {"cl-wd", "opencl:0", "warpdrive:0", "--chunk-size=65537"},
        {"wd-cl", "warpdrive:0", "opencl:0", "--chunk-size=4K"},
    };
    char *ref_crc = NULL, *ref_sha = NULL;
    size_t n_crc = 0, n_sha = 0;
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        char *outdir = ts_printf("%s/out-%s", sub, runs[i].tag);
        ts_mkdirs(outdir);
        char *f1 = ts_printf("crc=%s", runs[i].crc), *f2 = ts_printf("sha=%s", runs[i].sha);
        char *out = NULL, *err = NULL;
        int rc = run(&out, &err, "-o", outdir, "-f", f1, "-f", f2, runs[i].mode, p, NULL);
        if (rc != 0)
            fail_msg("%s: exit %d: %s", runs[i].tag, rc, err);
        assert_non_null(strstr(err, i ? "streamed " : "whole buffers"));
        char *crc_path = ts_printf("%s/data.crc32c", outdir), *sha_path = ts_printf("%s/data.sha256", outdir);
        size_t nc = 0, ns = 0;
        char *crc = (char *)read_file(crc_path, &nc), *sha = (char *)read_file(sha_path, &ns);
        assert_non_null(crc);
        assert_non_null(sha);
        assert_int_equal(nc, 4);
        assert_int_equal(ns, 32);
        uint32_t got = (uint32_t)(unsigned char)crc[0] | (uint32_t)(unsigned char)crc[1] << 8 |
                       (uint32_t)(unsigned char)crc[2] << 16 | (uint32_t)(unsigned char)crc[3] << 24;
        assert_int_equal(got, plain_crc);
        if (!ref_sha) {
            ref_crc = crc;
            ref_sha = sha;
            n_crc = nc;
            n_sha = ns;
        } else {
            assert_memory_equal(crc, ref_crc, n_crc);
            assert_memory_equal(sha, ref_sha, n_sha);
            free(crc);
            free(sha);
        }
        free(crc_path);
        free(sha_path);
        free(out);
        free(err);
        free(f1);
        free(f2);
        free(outdir);
    }
    free(ref_crc);
    free(ref_sha);
    free(data);
    free(p);
    free(text);
    free(src);
    free(sub);
}

/* "-" binds the pipeline's input to stdin and an output to stdout, so
 * accel-run composes with shell pipes; streamed in small chunks and in
 * whole buffers; the progress line on a stream that is not a terminal. */
static void run_piped(const char *tag, const char *mode)
{
    char *outdir = ts_printf("%s/out-%s", dir, tag);
    ts_mkdirs(outdir);
    char *cmd =
        ts_printf("'%s' -f inflate=cpu:0 -f crc=cpu:0 -f deflate=cpu:0 %s -o '%s' -i - --output packed=- "
                  "'%s' < '%s/input.zz' > '%s/piped.zz'",
                  ACCEL_RUN_PATH, mode, outdir, pipeline, dir, outdir);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, NULL, &out, &err);
    if (rc != 0)
        fail_msg("%s exited %d: %s", cmd, rc, err);
    assert_non_null(strstr(err, "wrote standard output"));
    assert_non_null(strstr(err, "busy: inflate "));
    assert_non_null(strstr(err, strstr(mode, "whole") ? "whole buffers" : "streamed "));
    /* packed went to stdout, not to output.zz; crc.bin as usual. */
    char *zz = ts_printf("%s/output.zz", outdir), *piped = ts_printf("%s/piped.zz", outdir);
    struct stat st;
    assert_int_not_equal(stat(zz, &st), 0);
    assert_int_equal(rename(piped, zz), 0);
    check_outputs(outdir);
    free(zz);
    free(piped);
    free(out);
    free(err);
    free(cmd);
    free(outdir);
}

/* A whole-buffer run reads a pipe into memory before it starts: at most
 * ACCEL_RUN_PIPE_MAX bytes, then it fails naming the buffer and the
 * variable, with no output left; a streamed run reads the pipe chunk by
 * chunk and is not bounded; the limit may end in K, M or G; a value that is
 * not a number is an error saying why. */
static void test_pipe_limit(void **state)
{
    (void)state;
    char *outdir = ts_printf("%s/out-pipe-max", dir);
    ts_mkdirs(outdir);
    static const struct {
        const char *limit, *mode;
        int rc;
        const char *says;
    } cases[] = {
        {"1000", "--whole-buffer", 1, "input buffer in: more than 1000 bytes from a pipe"},
        {"1000", "--chunk-size 64K", 0, "streamed "},
        {"12x", "--whole-buffer", 1, "ACCEL_RUN_PIPE_MAX=12x is not a number of bytes"},
        {"0", "--whole-buffer", 1, "ACCEL_RUN_PIPE_MAX=0 is not a number of bytes"},
        {"-1", "--whole-buffer", 1, "ACCEL_RUN_PIPE_MAX=-1 is not a number of bytes (1 or more; K, M or G for KiB, "
                                    "MiB or GiB): negative"},
        {"99999999999999999999", "--whole-buffer", 1, "more than 18446744073709551615"},
        {"1k", "--whole-buffer", 1, "\"k\" after the number"},
        {"1K", "--whole-buffer", 1, "input buffer in: more than 1024 bytes from a pipe"},
        {"1G", "--whole-buffer", 0, "whole buffers"},
        {"1000000000", "--whole-buffer", 0, "whole buffers"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *cmd = ts_printf("cat '%s/input.zz' | ACCEL_RUN_PIPE_MAX=%s '%s' -f inflate=cpu:0 -f crc=cpu:0 "
                              "-f deflate=cpu:0 %s -o '%s' -i - '%s'",
                              dir, cases[i].limit, ACCEL_RUN_PATH, cases[i].mode, outdir, pipeline);
        const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        char *out = NULL, *err = NULL;
        int rc = ts_run(argv, NULL, &out, &err);
        if (rc != cases[i].rc || !strstr(err, cases[i].says))
            fail_msg("%s: exit %d (want %d), stderr without \"%s\": %s", cmd, rc, cases[i].rc, cases[i].says, err);
        char *zz = ts_printf("%s/output.zz", outdir);
        struct stat st;
        if (cases[i].rc != 0)
            assert_int_not_equal(stat(zz, &st), 0); /* nothing left of a failed run */
        else
            assert_int_equal(unlink(zz), 0);
        free(zz);
        free(out);
        free(err);
        free(cmd);
    }
    free(outdir);
}

static void test_stdin_stdout(void **state)
{
    (void)state;
    run_piped("piped-4k", "--chunk-size 4K");
    run_piped("piped-odd", "--chunk-size 65537"); /* smaller chunks compress less (a flush each) */
    run_piped("piped-whole", "--whole-buffer");
    /* Usage: "-" for an output of a pipeline with two needs the buffer's
     * name; chunk sizes are 1 byte to 1G. */
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, "--output", "-", pipeline, NULL), 2);
    assert_non_null(strstr(err, "name one"));
    free(out);
    free(err);
    assert_int_equal(run(&out, &err, "--output", "nosuch=-", pipeline, NULL), 2);
    assert_non_null(strstr(err, "nosuch"));
    free(out);
    free(err);
    static const char *const bad[] = {"0", "2G", "12Q", "-4", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(run(&out, &err, "--chunk-size", bad[i], pipeline, NULL), 2);
        free(out);
        free(err);
    }
}

/* SIGTERM while the input pipe stays open and empty: the run is cancelled,
 * the exit status is 130 and no output file is left, temporary or not. */
static void test_interrupt(void **state)
{
    (void)state;
    char *outdir = ts_printf("%s/out-interrupt", dir);
    ts_mkdirs(outdir);
    char *cmd = ts_printf("sleep 20 2>/dev/null | '%s' --quiet -f inflate=cpu:0 -o '%s' -i - '%s' & pid=$!; "
                          "sleep 2; kill -TERM $pid; wait $pid; echo rc=$?",
                          ACCEL_RUN_PATH, outdir, pipeline);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    const char *env[] = {"ACCEL_DRIVERS_SELECT=cpu", NULL};
    char *out = NULL, *err = NULL;
    ts_run(argv, env, &out, &err);
    if (!strstr(out, "rc=130"))
        fail_msg("%s: %s %s", cmd, out, err);
    assert_non_null(strstr(err, "cancelled"));
    char *ls = ts_printf("ls -A '%s' | wc -l", outdir);
    const char *argv2[] = {"/bin/sh", "-c", ls, NULL};
    free(out);
    free(err);
    ts_run(argv2, NULL, &out, &err);
    assert_int_equal(atoi(out), 0);
    free(out);
    free(err);
    free(ls);
    free(cmd);
    free(outdir);
}

/* The most a function of `device` may be calibrated at: the topology's
 * bandwidth from it to host memory, else 100 GB/s (docs/accel-run.md). */
static double ceiling_of(accel_device *device)
{
    accel_instance *inst = NULL;
    accel_instance_options io = {.struct_size = sizeof(io)};
    const accel_topology *t = NULL;
    uint32_t node;
    uint64_t best = 0;
    assert_int_equal(accel_instance_create(&io, &inst), ACCEL_SUCCESS);
    assert_int_equal(accel_instance_get_topology(inst, &t), ACCEL_SUCCESS);
    accel_device **devs;
    uint32_t n;
    devs = ts_devices(inst, &n);
    accel_device_info want = ts_device_info(device), info;
    for (uint32_t i = 0; i < n; i++) {
        info = ts_device_info(devs[i]);
        if (memcmp(info.uuid, want.uuid, sizeof(info.uuid)) != 0 ||
            accel_topology_find_device(t, devs[i], &node) != ACCEL_SUCCESS)
            continue;
        for (uint32_t m = 0; m < accel_topology_node_count(t); m++) {
            accel_topology_node tn = {.struct_size = sizeof(tn)};
            accel_attach_mode mode;
            uint64_t bw = 0, lat;
            if (accel_topology_get_node(t, m, &tn) == ACCEL_SUCCESS &&
                tn.kind == ACCEL_TOPOLOGY_NODE_MEMORY && tn.numa_node >= 0 &&
                accel_topology_reach(t, node, m, &mode, &bw, &lat) == ACCEL_SUCCESS && bw > best)
                best = bw;
        }
    }
    free(devs);
    accel_instance_destroy(inst);
    return best ? (double)best * 1e6 : 100e9;
}

/* The figures of one function in a version 2 cache entry: several sizes,
 * a positive rate under the ceiling, an output ratio for the compressors. */
static void check_figures(json_object *fns, const char *name, uint32_t min_sizes, double ceiling)
{
    json_object *f, *v;
    if (!json_object_object_get_ex(fns, name, &f))
        fail_msg("no figures for %s", name);
    assert_true(json_object_object_get_ex(f, "fixed_ns", &v));
    assert_true(json_object_get_int64(v) >= 0);
    assert_true(json_object_object_get_ex(f, "bytes_per_second", &v));
    double bps = (double)json_object_get_int64(v);
    assert_true(bps > 0);
    if (bps > ceiling + 1)
        fail_msg("%s: %.0f B/s is above the ceiling %.0f B/s", name, bps, ceiling);
    assert_true(json_object_object_get_ex(f, "clamped", &v));
    assert_true(json_object_is_type(v, json_type_boolean));
    assert_true(json_object_object_get_ex(f, "sizes", &v));
    assert_true(json_object_array_length(v) >= min_sizes);
    for (size_t i = 1; i < json_object_array_length(v); i++)
        assert_true(json_object_get_int64(json_object_array_get_idx(v, i)) >
                    json_object_get_int64(json_object_array_get_idx(v, i - 1)));
    bool zlib = strncmp(name, "zlib.", 5) == 0;
    assert_int_equal(json_object_object_get_ex(f, "output_ratio", &v), zlib);
    if (strcmp(name, "zlib.deflate") == 0) {
        /* The corpus compresses; stored blocks would be just above 1. */
        assert_true(json_object_get_double(v) > 0.05 && json_object_get_double(v) < 1.0);
        assert_true(json_object_object_get_ex(f, "level", &v));
        assert_int_equal(json_object_get_int(v), 6);
    } else if (zlib) {
        assert_true(json_object_get_double(v) > 1.0);
    }
}

static json_object *cpu_figures(json_object *cache)
{
    json_object *devices = NULL, *v = NULL, *fns = NULL;
    assert_true(json_object_object_get_ex(cache, "version", &v));
    assert_int_equal(json_object_get_int(v), 2);
    assert_true(json_object_object_get_ex(cache, "devices", &devices));
    json_object_object_foreach(devices, uuid, entry)
    {
        if (strcmp(uuid, "0123456789abcdef0123456789abcdef") != 0)
            fns = entry;
    }
    assert_non_null(fns);
    return fns;
}

/* --calibrate writes measured costs that later plans use. Small sizes and
 * a small budget keep it quick; nothing here depends on timing. */
static void test_calibrate(void **state)
{
    (void)state;
    char *cache = ts_printf("%s/cache", dir);
    char *env_cache = ts_printf("XDG_CACHE_HOME=%s", cache);
    const char *env[] = {env_cache, "ACCEL_DRIVERS_SELECT=cpu", NULL};
    char *path = ts_printf("%s/accel/calibration.json", cache);
    /* A version 1 cache: its other devices' entries are kept. */
    char *cache_dir = ts_printf("%s/accel", cache);
    ts_mkdirs(cache_dir);
    free(ts_write_text(cache_dir, "calibration.json",
                       "{\"version\": 1, \"devices\": {\"0123456789abcdef0123456789abcdef\": "
                       "{\"crc32c\": {\"fixed_ns\": 1, \"bytes_per_second\": 2}}}}"));
    const char *argv[] = {
        ACCEL_RUN_PATH, "--calibrate", "--calibrate-sizes", "1K,4K,16K,64K", "--calibrate-budget",
        "0.05",         NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, env, &out, &err);
    if (rc != 0)
        fail_msg("accel-run --calibrate exited %d: %s", rc, err);
    assert_non_null(strstr(err, "crc32c"));
    assert_non_null(strstr(err, "input: the corpus in"));
    free(out);
    free(err);
    json_object *j = json_object_from_file(path);
    assert_non_null(j);
    json_object *devices = NULL, *v = NULL;
    assert_true(json_object_object_get_ex(j, "devices", &devices));
    assert_int_equal(json_object_object_length(devices), 2); /* the cpu device and the older one */
    assert_true(json_object_object_get_ex(j, "input", &v));
    assert_string_equal(json_object_get_string(v), "corpus");
    accel_instance *inst = NULL;
    accel_instance_options io = {.struct_size = sizeof(io)};
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_DRIVERS_SELECT", "cpu");
    assert_int_equal(accel_instance_create(&io, &inst), ACCEL_SUCCESS);
    uint32_t n;
    accel_device **devs = ts_devices(inst, &n);
    double ceiling = ceiling_of(devs[0]);
    free(devs);
    accel_instance_destroy(inst);
    ts_env_pop_to(depth);
    json_object *fns = cpu_figures(j);
    static const char *const names[] = {"accel.copy", "accel.fill",   "crc32c",
                                        "sha256",     "zlib.deflate", "zlib.inflate"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check_figures(fns, names[i], 3, ceiling);
    json_object_put(j);
    /* The plan now says its costs were measured, and charges the deflate
     * output for what the ratio says. */
    const char *argv2[] = {ACCEL_RUN_PATH, "--plan-only", "-f", "crc=cpu:0", pipeline, NULL};
    rc = ts_run(argv2, env, &out, &err);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "measured"));
    assert_non_null(strstr(out, "(charged for "));
    free(out);
    free(err);
    /* --calibrate takes no pipeline. */
    const char *argv3[] = {ACCEL_RUN_PATH, "--calibrate", pipeline, NULL};
    assert_int_equal(ts_run(argv3, env, &out, &err), 2);
    free(out);
    free(err);
    free(path);
    free(cache_dir);
    free(env_cache);
    free(cache);
}

/* --corpus: another directory of data, or an error naming the one that
 * cannot be read; the calibration options' usage errors. */
static void test_calibrate_corpus(void **state)
{
    (void)state;
    char *cache = ts_printf("%s/cache-corpus", dir);
    char *env_cache = ts_printf("XDG_CACHE_HOME=%s", cache);
    const char *env[] = {env_cache, "ACCEL_DRIVERS_SELECT=cpu", NULL};
    char *corpus = ts_printf("%s/corpus", dir);
    ts_mkdirs(corpus);
    free(ts_write_text(corpus, "README.md", "not data"));
    free(ts_write_text(corpus, "words.txt", "the quick brown fox jumps over the lazy dog\n"));
    char *out = NULL, *err = NULL;
    const char *argv[] = {ACCEL_RUN_PATH, "--calibrate",        "--corpus", corpus, "--calibrate-sizes",
                          "1K,2K,3K",     "--calibrate-budget", "0.05",     NULL};
    int rc = ts_run(argv, env, &out, &err);
    if (rc != 0)
        fail_msg("accel-run --calibrate --corpus exited %d: %s", rc, err);
    assert_non_null(strstr(err, "(1 files,"));
    free(out);
    free(err);
    char *path = ts_printf("%s/accel/calibration.json", cache);
    json_object *j = json_object_from_file(path);
    assert_non_null(j);
    json_object *fns = cpu_figures(j), *f, *v;
    /* One short line repeated compresses to almost nothing. */
    assert_true(json_object_object_get_ex(fns, "zlib.deflate", &f));
    assert_true(json_object_object_get_ex(f, "output_ratio", &v));
    assert_true(json_object_get_double(v) < 0.2);
    json_object_put(j);

    /* A directory that cannot be read is an error that names it. */
    char *missing = ts_printf("%s/no-such-corpus", dir);
    const char *argv2[] = {ACCEL_RUN_PATH, "--calibrate", "--corpus", missing, NULL};
    assert_int_equal(ts_run(argv2, env, &out, &err), 1);
    assert_non_null(strstr(err, missing));
    assert_non_null(strstr(err, "No such file or directory"));
    free(out);
    free(err);
    char *file = ts_printf("%s/words.txt", corpus);
    const char *argv3[] = {ACCEL_RUN_PATH, "--calibrate", "--corpus", file, NULL};
    assert_int_equal(ts_run(argv3, env, &out, &err), 1);
    assert_non_null(strstr(err, file));
    free(out);
    free(err);
    char *empty = ts_printf("%s/empty-corpus", dir);
    ts_mkdirs(empty);
    const char *argv4[] = {ACCEL_RUN_PATH, "--calibrate", "--corpus", empty, NULL};
    assert_int_equal(ts_run(argv4, env, &out, &err), 1);
    assert_non_null(strstr(err, "no data files"));
    free(out);
    free(err);

    /* Usage errors. */
    static const char *const bad[][4] = {
        {"--calibrate", "--calibrate-sizes", "4K,64K", NULL},   /* fewer than 3 */
        {"--calibrate", "--calibrate-sizes", "4K,4K,4K", NULL}, /* not distinct */
        {"--calibrate", "--calibrate-sizes", "4K,-1,8K", NULL},
        {"--calibrate", "--calibrate-sizes", "4K,2G,8K", NULL},
        {"--calibrate", "--calibrate-sizes", "4K,8K,16X", NULL},
        {"--calibrate", "--calibrate-budget", "0", NULL},
        {"--calibrate", "--calibrate-budget", "soon", NULL},
        {"--corpus", "/tmp", NULL, NULL}, /* without --calibrate */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *a[8] = {ACCEL_RUN_PATH};
        for (int k = 0; k < 4 && bad[i][k]; k++)
            a[k + 1] = bad[i][k];
        rc = ts_run(a, env, &out, &err);
        if (rc != 2)
            fail_msg("accel-run %s %s %s: exit %d, not 2: %s", bad[i][0], bad[i][1],
                     bad[i][2] ? bad[i][2] : "", rc, err);
        free(out);
        free(err);
    }
    free(empty);
    free(file);
    free(missing);
    free(path);
    free(corpus);
    free(env_cache);
    free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_placement), cmocka_unit_test(test_forced_everywhere),
        cmocka_unit_test(test_forced_mixed),      cmocka_unit_test(test_plan_only_json),
        cmocka_unit_test(test_infeasible),        cmocka_unit_test(test_what_if),
        cmocka_unit_test(test_usage_errors),      cmocka_unit_test(test_input_errors),
        cmocka_unit_test(test_stdin_stdout),      cmocka_unit_test(test_pipe_limit),
             cmocka_unit_test(test_streamed_across_drivers),
        cmocka_unit_test(test_interrupt),
        cmocka_unit_test_setup_teardown(test_calibrate, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_calibrate_corpus),
    };
    return cmocka_run_group_tests_name("accel-run", tests, group_setup, group_teardown);
}
