/* arguments.c — group "arguments": bad arguments are refused with an
 * error (and a message), never a crash, and leave everything usable:
 * function names the device does not know, submissions the loader must
 * refuse before the driver sees them, programs that are not programs,
 * memory calls that make no sense. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"

static void test_arguments_unknown_function(conf_ctx *c)
{
    char long_name[ACCEL_MAX_FUNCTION_NAME];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    memcpy(long_name, "conformance.", 12);
    const char *const names[] = {
        "conformance.no-such-function",
        "accel.cop",   /* a prefix of a standard name */
        "accel.copyx", /* a standard name and more */
        "crc32c ",
        "CRC32C",
        "",
        long_name,
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        accel_function *fn = NULL;
        accel_result r = accel_function_get(c->dev, NULL, names[i], &fn);
        if (r == ACCEL_ERROR_UNSUPPORTED && i == 0)
            conf_skip(c, "unsupported: the device runs no functions (%s)", accel_last_error_message());
        if (r == ACCEL_SUCCESS)
            conf_track(c, CONF_OBJ_FUNCTION, fn);
        CHECK(r == ACCEL_ERROR_NOT_FOUND,
              "accel_function_get(\"%s\") returned %s, expected ACCEL_ERROR_NOT_FOUND: names match exactly (rule 19)",
              names[i], conf_rs(r));
        CHECK(!fn, "a failed accel_function_get changed its output");
    }
    accel_function *fn = NULL;
    char too_long[ACCEL_MAX_FUNCTION_NAME + 1];
    memset(too_long, 'y', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    EXPECT(accel_function_get(c->dev, NULL, too_long, &fn), ACCEL_ERROR_INVALID_ARGUMENT);
}

static void test_arguments_submissions(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_memory *a = conf_alloc(c, 64), *b = conf_alloc(c, 64), *loose = conf_alloc(c, 64);
    unsigned char *pb = conf_map(c, b);
    conf_fill_random(conf_map(c, a), 64, 50);
    conf_attach(c, a, NULL);
    conf_attach(c, b, NULL);
    accel_queue *q = conf_queue(c, NULL);
    accel_arg ok[2] = {conf_mem_arg(a, 0, 64), conf_mem_arg(b, 0, 64)};

    accel_arg one[1] = {conf_mem_arg(a, 0, 64)};
    EXPECT(conf_submit(c, q, copy, one, 1, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg kinds[2] = {conf_u32_arg(1), conf_mem_arg(b, 0, 64)};
    EXPECT(conf_submit(c, q, copy, kinds, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg outside[2] = {conf_mem_arg(a, 60, 5), conf_mem_arg(b, 0, 64)};
    EXPECT(conf_submit(c, q, copy, outside, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg huge[2] = {conf_mem_arg(a, UINT64_MAX - 1, 4), conf_mem_arg(b, 0, 64)};
    EXPECT(conf_submit(c, q, copy, huge, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg unattached[2] = {conf_mem_arg(loose, 0, 64), conf_mem_arg(b, 0, 64)};
    EXPECT(conf_submit(c, q, copy, unattached, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg null_mem[2] = {conf_mem_arg(NULL, 0, 64), conf_mem_arg(b, 0, 64)};
    EXPECT(conf_submit(c, q, copy, null_mem, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(conf_submit(c, q, copy, NULL, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(conf_submit(c, q, copy, ok, 2, NULL, 1, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_fence *null_fence = NULL;
    EXPECT(conf_submit(c, q, copy, ok, 2, &null_fence, 1, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_submit_info s = {
        .struct_size = sizeof(s), .flags = 1, .function = copy, .args = ok, .arg_count = 2};
    EXPECT(accel_queue_submit(q, &s, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    s.flags = 0;
    s.work_dim = 4;
    EXPECT(accel_queue_submit(q, &s, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(accel_queue_submit(q, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_device *peer = conf_other_driver_device(c);
    accel_function *foreign = peer ? conf_builtin(c, peer, "accel.copy") : NULL;
    if (foreign)
        EXPECT(conf_submit(c, q, foreign, ok, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_queue *bad_queue = NULL;
    EXPECT(accel_queue_create(c->dev, 0x80, &bad_queue), ACCEL_ERROR_INVALID_ARGUMENT);

    /* None of it reached the device or broke the queue. */
    CHECK(conf_first_not(pb, 64, 0) < 0, "a refused submission wrote its destination");
    accel_result r = conf_run(c, q, copy, ok, 2);
    CHECK(r == ACCEL_SUCCESS, "after refused submissions, a valid one ended %s", conf_rs(r));
    CHECK(conf_first_difference(pb, conf_map(c, a), 64) < 0,
          "after refused submissions, a valid copy is wrong");
}

static void test_arguments_programs(conf_ctx *c)
{
    char path[256];
    snprintf(path, sizeof(path), "/tmp/accel-conformance-%ld.so", (long)getpid());
    FILE *f = fopen(path, "we");
    CHECK(f, "cannot write %s", path);
    fputs("this is a text file, not a shared object\n", f);
    fclose(f);
    static const char not_c[] = "kernel void oops( { this is not OpenCL C @@@";
    static const uint32_t bad_magic[8] = {0x12345678u, 0x00010000u, 0, 10, 0, 0, 0, 0};
    static const uint32_t truncated[5] = {0x07230203u, 0x00010000u, 0, 100, 0};
    const struct {
        const char *what;
        accel_program_format format;
        const void *data;
        size_t size;
    } cases[] = {
        {"OpenCL C that does not compile", ACCEL_PROGRAM_FORMAT_OPENCL_C, not_c, sizeof(not_c)},
        {"SPIR-V with a wrong magic number", ACCEL_PROGRAM_FORMAT_SPIRV, bad_magic, sizeof(bad_magic)},
        {"SPIR-V cut after its header", ACCEL_PROGRAM_FORMAT_SPIRV, truncated, sizeof(truncated)},
        {"3 bytes of SPIR-V", ACCEL_PROGRAM_FORMAT_SPIRV, truncated, 3},
        {"an ELF program path that does not exist", ACCEL_PROGRAM_FORMAT_ELF,
         "/nonexistent/accel-conformance.so", sizeof("/nonexistent/accel-conformance.so")},
        {"an ELF program path to a text file", ACCEL_PROGRAM_FORMAT_ELF, path, strlen(path) + 1},
        {"an FPGA image description that does not exist", ACCEL_PROGRAM_FORMAT_FPGA_IMAGE,
         "/nonexistent/accel-conformance.json", sizeof("/nonexistent/accel-conformance.json")},
        {"an unknown format", (accel_program_format)99, not_c, sizeof(not_c)},
    };
    bool any_invalid = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        accel_program *p = NULL;
        accel_result r = accel_program_load(c->dev, cases[i].format, cases[i].data, cases[i].size, NULL, &p);
        if (r == ACCEL_SUCCESS) {
            conf_track(c, CONF_OBJ_PROGRAM, p);
            unlink(path);
            FAIL("accel_program_load of %s succeeded (rule 19)", cases[i].what);
        }
        CHECK(!p, "a failed accel_program_load of %s changed its output", cases[i].what);
        if (r != ACCEL_ERROR_INVALID_ARGUMENT && r != ACCEL_ERROR_UNSUPPORTED)
            unlink(path);
        CHECK(r == ACCEL_ERROR_INVALID_ARGUMENT || r == ACCEL_ERROR_UNSUPPORTED,
              "accel_program_load of %s returned %s, expected ACCEL_ERROR_INVALID_ARGUMENT (bad input) or "
              "ACCEL_ERROR_UNSUPPORTED (format not accepted) (rule 19)",
              cases[i].what, conf_rs(r));
        if (r == ACCEL_ERROR_INVALID_ARGUMENT) {
            any_invalid = true;
            const char *m = accel_last_error_message();
            CHECK(m && *m, "accel_program_load of %s failed without a message", cases[i].what);
            conf_note(c, "%s: %s", cases[i].what, m);
        }
    }
    unlink(path);
    if (!any_invalid)
        conf_skip(c, "unsupported: the device loads no programs in any format (ACCEL_ERROR_UNSUPPORTED)");
}

static void test_arguments_memory(conf_ctx *c)
{
    accel_memory *m = NULL;
    accel_memory_alloc_info zero = {.struct_size = sizeof(zero), .size = 0, .numa_node = -1};
    EXPECT(accel_memory_alloc(conf.instance, &zero, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_memory_alloc_info flags = {.struct_size = sizeof(flags), .flags = 1, .size = 16, .numa_node = -1};
    EXPECT(accel_memory_alloc(conf.instance, &flags, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    char buf[64];
    EXPECT(accel_memory_import_host(conf.instance, buf, 0, 0, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(accel_memory_import_fd(conf.instance, -1, 0, 16, 0, &m), ACCEL_ERROR_INVALID_ARGUMENT);
    CHECK(!m, "a failed call changed its output");
    accel_memory *h = NULL;
    OK(accel_memory_import_host(conf.instance, buf, sizeof(buf), 0, &h));
    conf_track(c, CONF_OBJ_MEMORY, h);
    int fd = -1;
    EXPECT(accel_memory_export_fd(h, &fd, NULL), ACCEL_ERROR_UNSUPPORTED);
    EXPECT(accel_memory_detach(h, c->dev), ACCEL_ERROR_INVALID_ARGUMENT);
    EXPECT(accel_memory_attach(h, NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    conf_attach(c, h, NULL);
    OK(accel_memory_detach(h, c->dev));
    EXPECT(accel_memory_detach(h, c->dev), ACCEL_ERROR_INVALID_ARGUMENT);
}

static const conf_test_def arguments_tests[] = {
    {"unknown_function", test_arguments_unknown_function},
    {"submissions", test_arguments_submissions},
    {"programs", test_arguments_programs},
    {"memory", test_arguments_memory},
};

const conf_group_def conf_group_arguments = {
    .name = "arguments",
    .title = "bad arguments",
    .tests = CONF_TESTS(arguments),
};
