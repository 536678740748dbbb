/* test_pipeline.c — the pipeline file parser (loader/pipeline.c): what it
 * accepts (every file under pipelines/), the sizes it derives, and every
 * rejection, each of which must name the file and the JSON path at fault;
 * the accessors; allocation failures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_leaks.h"
#include "unit_util.h"

#include "placement.h"

#define setup ut_leak_setup
#define teardown ut_leak_teardown

/* A minimal valid pipeline to vary: a crc32c of an input file. */
#define BUFFERS "\"buffers\": {\"in\": {\"file\": \"in.bin\", \"bytes\": 100}, \"crc\": {\"bytes\": 4}}"
#define CRC_STAGE "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"crc\"}]}"
#define PIPE(buffers, stages) "{\"pipeline_version\": 1, " buffers ", \"stages\": [" stages "]}"

static accel_result parse(const char *text, accel_pipeline **p)
{
    *p = NULL;
    return accel_pipeline_parse(text, strlen(text), "t.json", p);
}

/* The text must be rejected with a message that starts with "t.json: "
 * followed by `path` and contains `what`. */
static void expect_error(const char *text, const char *path, const char *what)
{
    accel_pipeline *p;
    accel_result r = parse(text, &p);
    const char *msg = accel_last_error_message();
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "t.json: %s", path);
    if (r != ACCEL_ERROR_INVALID_ARGUMENT || strncmp(msg, prefix, strlen(prefix)) != 0 || !strstr(msg, what)) {
        print_error("text: %s\nresult: %s\nmessage: %s\nexpected: %s ... %s\n", text, accel_result_name(r), msg,
                    prefix, what);
        accel_pipeline_destroy(p);
        fail();
    }
    assert_null(p);
}

/* ------------------------------------------------------------------------ */

static void test_pipeline_demo(void **state)
{
    (void)state;
    char path[PATH_MAX];
    accel_pipeline *p = NULL;
    assert_int_equal(accel_pipeline_load(ut_path(path, "%s/pipelines/demo.json", ut_source_root()), &p),
                     ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_stage_count(p), 3);
    assert_int_equal(accel_pipeline_buffer_count(p), 6);

    const char *names[] = {"in", "plain", "plain_size", "crc", "packed", "packed_size"};
    const int32_t producers[] = {-1, 0, 0, 1, 2, 2};
    for (uint32_t i = 0; i < 6; i++) {
        accel_pipeline_buffer b = {.struct_size = sizeof(b)};
        assert_int_equal(accel_pipeline_get_buffer(p, i, &b), ACCEL_SUCCESS);
        assert_string_equal(b.name, names[i]);
        assert_int_equal(b.producer, producers[i]);
    }
    accel_pipeline_buffer b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_pipeline_get_buffer(p, 0, &b), ACCEL_SUCCESS);
    assert_string_equal(b.input_file, "input.zz");
    assert_null(b.output_file);
    assert_int_equal(b.bytes, 0); /* left to the run */
    assert_int_equal(accel_pipeline_get_buffer(p, 4, &b), ACCEL_SUCCESS);
    assert_string_equal(b.output_file, "output.zz");
    assert_int_equal(b.output_size_from, 5);
    /* The deflate bound: ceil(64 MiB * 1.0001) + 16 is above the size of a
     * stream of stored blocks, n + 5 * ceil(n / 65535) + 11. */
    uint64_t n = 67108864;
    assert_int_equal(b.bytes, (uint64_t)ceil((double)n * 1.0001) + 16);
    assert_true(b.bytes >= n + 5 * ((n + 65534) / 65535) + 11);
    assert_int_equal(accel_pipeline_get_buffer(p, 3, &b), ACCEL_SUCCESS);
    assert_string_equal(b.output_file, "crc.bin");
    assert_int_equal(b.output_size_from, -1);

    accel_pipeline_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_pipeline_get_stage(p, 0, &st), ACCEL_SUCCESS);
    assert_string_equal(st.name, "inflate");
    assert_string_equal(st.function, "zlib.inflate");
    assert_null(st.program);
    assert_int_equal(st.arg_count, 3);
    /* Writes come from the standard convention: src read, dst and out_size written. */
    assert_false(st.args[0].writes);
    assert_true(st.args[1].writes);
    assert_true(st.args[2].writes);
    assert_int_equal(st.args[1].buffer, 1);
    assert_int_equal(st.args[0].size_from, -1);
    assert_int_equal(accel_pipeline_get_stage(p, 1, &st), ACCEL_SUCCESS);
    assert_string_equal(st.function, "crc32c");
    assert_int_equal(st.args[0].kind, ACCEL_ARG_MEMORY);
    assert_int_equal(st.args[0].size_from, 2);
    assert_int_equal(st.kind, ACCEL_DEVICE_KIND_UNKNOWN);
    assert_null(st.device);
    assert_int_equal(st.not_with_count, 0);

    /* The size of the input sets it; derived sizes follow their source. */
    assert_int_equal(accel_pipeline_set_buffer_bytes(p, 1, 1000), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_get_buffer(p, 4, &b), ACCEL_SUCCESS);
    assert_int_equal(b.bytes, 1000 + 1 + 16);
    assert_int_equal(accel_pipeline_set_buffer_bytes(p, 0, 12345), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_get_buffer(p, 0, &b), ACCEL_SUCCESS);
    assert_int_equal(b.bytes, 12345);
    assert_int_equal(accel_pipeline_set_buffer_bytes(p, 6, 1), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "no buffer 6"));
    accel_pipeline_destroy(p);
}

/* Every pipeline file in the tree parses. */
static void test_pipeline_examples(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    char **names;
    ut_path(dir, "%s/pipelines", ut_source_root());
    long n = ut_list_names(dir, "", &names);
    assert_true(n >= 3);
    for (long i = 0; i < n; i++) {
        if (!strstr(names[i], ".json"))
            continue;
        accel_pipeline *p = NULL;
        accel_result r = accel_pipeline_load(ut_path(path, "%s/%s", dir, names[i]), &p);
        if (r)
            print_error("%s: %s\n", names[i], accel_last_error_message());
        assert_int_equal(r, ACCEL_SUCCESS);
        accel_pipeline_destroy(p);
    }
    ut_free_names(names, n);
}

static void test_pipeline_all_fields(void **state)
{
    (void)state;
    const char *text =
        "{\"pipeline_version\": 1, \"name\": \"all\", \"description\": \"every key\",\n"
        " \"buffers\": {\n"
        "  \"a\": {\"file\": \"a.bin\", \"bytes\": 64, \"output\": \"a.out\"},\n"
        "  \"z\": {\"bytes\": 16, \"zero\": true},\n"
        "  \"b\": {\"bytes_from\": \"a\", \"scale\": 0.5, \"add\": 3}\n"
        " },\n"
        " \"stages\": [\n"
        "  {\"name\": \"k\", \"function\": \"saxpy\", \"program\": \"k.so\", \"format\": \"elf\",\n"
        "   \"work_size\": [4, 2],\n"
        "   \"args\": [{\"buffer\": \"a\", \"writes\": true}, {\"buffer\": \"z\"}, {\"u32\": 4294967295},\n"
        "            {\"i32\": -2147483648}, {\"u64\": 18446744073709551615}, {\"i64\": -9223372036854775807},\n"
        "            {\"f32\": 1.5}, {\"f64\": -2}],\n"
        "   \"constraints\": {\"kind\": \"cpu\", \"driver\": \"c*\", \"uuid\": \"0a-B3\", \"device\": \"cpu:0\",\n"
        "                   \"not_with\": [\"c\"]}},\n"
        "  {\"name\": \"c\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"a\"}, {\"buffer\": \"b\"}]}\n"
        " ]}\n";
    accel_pipeline *p;
    assert_int_equal(parse(text, &p), ACCEL_SUCCESS);
    accel_pipeline_stage st = {.struct_size = sizeof(st)};
    assert_int_equal(accel_pipeline_get_stage(p, 0, &st), ACCEL_SUCCESS);
    assert_string_equal(st.program, "k.so");
    assert_int_equal(st.program_format, ACCEL_PROGRAM_FORMAT_ELF);
    assert_int_equal(st.arg_count, 8);
    assert_true(st.args[0].writes);
    assert_false(st.args[1].writes);
    assert_int_equal(st.args[2].value.kind, ACCEL_ARG_U32);
    assert_int_equal(st.args[2].value.u.u32, UINT32_MAX);
    assert_int_equal(st.args[3].value.u.i32, INT32_MIN);
    assert_int_equal(st.args[4].value.u.u64, UINT64_MAX);
    assert_int_equal(st.args[5].value.u.i64, -INT64_MAX);
    assert_true(st.args[6].value.u.f32 == 1.5f);
    assert_true(st.args[7].value.u.f64 == -2.0);
    assert_int_equal(st.kind, ACCEL_DEVICE_KIND_CPU);
    assert_string_equal(st.driver, "c*");
    assert_string_equal(st.uuid, "0a-B3");
    assert_string_equal(st.device, "cpu:0");
    assert_int_equal(st.not_with_count, 1);
    assert_int_equal(st.not_with[0], 1);
    assert_int_equal(st.work_dim, 2);
    assert_int_equal(st.work_size[0], 4);
    assert_int_equal(st.work_size[1], 2);
    /* "c" reads "a", which "k" writes in place over the file's bytes. */
    assert_int_equal(p->order[0], 0);
    assert_int_equal(p->order[1], 1);
    accel_pipeline_buffer b = {.struct_size = sizeof(b)};
    assert_int_equal(accel_pipeline_get_buffer(p, 2, &b), ACCEL_SUCCESS);
    assert_int_equal(b.bytes, 32 + 3);
    assert_int_equal(b.producer, 1);
    assert_int_equal(accel_pipeline_get_buffer(p, 0, &b), ACCEL_SUCCESS);
    assert_int_equal(b.producer, 0);
    assert_string_equal(b.input_file, "a.bin");

    /* A device constraint replaces the file's. */
    assert_int_equal(accel_pipeline_constrain_stage(p, "c", "gpu:1;!gpu:uuid=ab"), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_get_stage(p, 1, &st), ACCEL_SUCCESS);
    assert_string_equal(st.device, "gpu:1;!gpu:uuid=ab");
    assert_int_equal(accel_pipeline_constrain_stage(p, "k", "opencl:1"), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_get_stage(p, 0, &st), ACCEL_SUCCESS);
    assert_string_equal(st.device, "opencl:1");
    assert_int_equal(accel_pipeline_constrain_stage(p, "x", "cpu:0"), ACCEL_ERROR_NOT_FOUND);
    assert_non_null(strstr(accel_last_error_message(), "no stage \"x\""));
    assert_int_equal(accel_pipeline_constrain_stage(p, "k", "cpu"), ACCEL_ERROR_INVALID_SELECTOR);
    assert_non_null(strstr(accel_last_error_message(), "stage \"k\""));
    assert_int_equal(accel_pipeline_get_stage(p, 0, &st), ACCEL_SUCCESS);
    assert_string_equal(st.device, "opencl:1");
    accel_pipeline_destroy(p);
}

/* An older, shorter struct gets only what fits. */
static void test_pipeline_struct_size(void **state)
{
    (void)state;
    accel_pipeline *p;
    assert_int_equal(parse(PIPE(BUFFERS, CRC_STAGE), &p), ACCEL_SUCCESS);
    struct {
        accel_pipeline_buffer b;
        char guard[16];
    } s;
    memset(&s, 0x5a, sizeof(s));
    s.b.struct_size = offsetof(accel_pipeline_buffer, input_file);
    assert_int_equal(accel_pipeline_get_buffer(p, 0, &s.b), ACCEL_SUCCESS);
    assert_string_equal(s.b.name, "in");
    assert_int_equal(s.b.bytes, 100);
    const unsigned char *tail = (const unsigned char *)&s.b + offsetof(accel_pipeline_buffer, input_file);
    for (size_t i = 0; i < sizeof(s) - offsetof(accel_pipeline_buffer, input_file); i++)
        assert_int_equal(tail[i], 0x5a);
    accel_pipeline_stage st = {.struct_size = 4};
    assert_int_equal(accel_pipeline_get_stage(p, 0, &st), ACCEL_ERROR_INVALID_ARGUMENT);
    st.struct_size = sizeof(st);
    assert_int_equal(accel_pipeline_get_stage(p, 1, &st), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_pipeline_get_stage(NULL, 0, &st), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_pipeline_get_stage(p, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(accel_pipeline_stage_count(NULL), 0);
    assert_int_equal(accel_pipeline_buffer_count(NULL), 0);
    accel_pipeline_destroy(p);
    accel_pipeline_destroy(NULL);
}

/* ------------------------------------------------------------------------ */
/* Rejections                                                                */

static void test_pipeline_not_json(void **state)
{
    (void)state;
    expect_error("", "not JSON", "unexpected end");
    expect_error("{\"pipeline_version\": 1,\n  \"buffers\": {,}}", "not JSON", "line 2, column 15");
    expect_error(PIPE(BUFFERS, CRC_STAGE) " x", "not JSON", "line 1, column 197");
    expect_error(PIPE(BUFFERS, CRC_STAGE) " {}", "not JSON", "");
    expect_error("[1, 2]", "the top level must be an object", "not array");
    expect_error("{\"a\": 1} // c", "not JSON", "");
    char nul[] = "{\"pipeline_version\": 1}";
    accel_pipeline *p = NULL;
    nul[3] = '\0';
    assert_int_equal(accel_pipeline_parse(nul, sizeof(nul) - 1, "t.json", &p), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "NUL byte"));
    /* Deeper than 64 levels. */
    char deep[400];
    strcpy(deep, "{\"pipeline_version\": 1, \"x\": ");
    for (int i = 0; i < 70; i++)
        strcat(deep, "[");
    for (int i = 0; i < 70; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    expect_error(deep, "not JSON", "");
    /* Over the size limit. */
    size_t big = ACCEL__PIPELINE_MAX_SIZE + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, ' ', big);
    assert_int_equal(accel_pipeline_parse(huge, big, "t.json", &p), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "t.json: file too large"));
    free(huge);
}

static void test_pipeline_missing_keys(void **state)
{
    (void)state;
    expect_error("{\"buffers\": {}, \"stages\": []}", "pipeline_version", "required key missing");
    expect_error("{\"pipeline_version\": 1, \"stages\": [" CRC_STAGE "]}", "buffers", "required key missing");
    expect_error("{\"pipeline_version\": 1, " BUFFERS "}", "stages", "required key missing");
    expect_error(PIPE(BUFFERS, "{\"function\": \"crc32c\"}"), "stages[0].name", "required key missing");
    expect_error(PIPE(BUFFERS, CRC_STAGE ", {\"name\": \"x\"}"), "stages[1].function", "required key missing");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.cl\", \"args\": []}"),
                 "stages[0].format", "required with \"program\"");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {}}", CRC_STAGE), "buffers.crc",
                 "needs a size");
}

static void test_pipeline_wrong_types(void **state)
{
    (void)state;
    expect_error("{\"pipeline_version\": \"1\", " BUFFERS ", \"stages\": [" CRC_STAGE "]}", "pipeline_version",
                 "must be an integer, not string");
    expect_error("{\"pipeline_version\": 2, " BUFFERS ", \"stages\": [" CRC_STAGE "]}", "pipeline_version",
                 "unsupported version 2");
    expect_error("{\"pipeline_version\": 1, \"name\": 3, " BUFFERS ", \"stages\": [" CRC_STAGE "]}", "name",
                 "must be a string, not int");
    expect_error("{\"pipeline_version\": 1, \"buffers\": [], \"stages\": [" CRC_STAGE "]}", "buffers",
                 "must be an object, not array");
    expect_error("{\"pipeline_version\": 1, " BUFFERS ", \"stages\": {}}", "stages", "must be an array, not object");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"bytes\": \"100\"}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.bytes", "must be an integer, not string");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"bytes\": 1.5}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.bytes", "must be an integer, not double");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"bytes\": -1}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.bytes", "must not be negative");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"\"}, \"crc\": {\"bytes\": 4}}", CRC_STAGE), "buffers.in.file",
                 "must not be empty");
    expect_error(PIPE("\"buffers\": {\"in\": 5, \"crc\": {\"bytes\": 4}}", CRC_STAGE), "buffers.in",
                 "must be an object, not int");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", "
                               "\"writes\": \"no\"}, {\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0].writes", "must be a boolean, not string");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": {}}"), "stages[0].args",
                 "must be an array");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [\"in\", {\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0]", "must be an object");
    expect_error(PIPE(BUFFERS, "{\"name\": 7, \"function\": \"crc32c\"}"), "stages[0].name", "must be a string");
    expect_error(PIPE(BUFFERS, "7"), "stages[0]", "must be an object, not int");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"not_with\": \"x\"}}"),
                 "stages[0].constraints.not_with", "must be an array");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"kind\": \"tpu\"}}"),
                 "stages[0].constraints.kind", "not one of cpu, gpu, fpga, asic");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"uuid\": \"xyz\"}}"),
                 "stages[0].constraints.uuid", "not a hexadecimal digit");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"device\": \"cpu\"}}"),
                 "stages[0].constraints.device", "invalid device selector \"cpu\"");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.spv\", \"format\": \"ptx\"}"),
                 "stages[0].format", "not one of opencl-c, spirv, elf, fpga-image");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.so\", \"format\": \"elf\", "
                               "\"work_size\": [1, 2, 3, 4], \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"crc\", "
                               "\"writes\": true}]}"),
                 "stages[0].work_size", "1 to 3 dimensions");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.so\", \"format\": \"elf\", "
                               "\"args\": [{\"buffer\": \"in\"}, {\"u32\": 4294967296}]}"),
                 "stages[0].args[1].u32", "out of range for u32");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.so\", \"format\": \"elf\", "
                               "\"args\": [{\"buffer\": \"in\"}, {\"i64\": 9223372036854775808}]}"),
                 "stages[0].args[1].i64", "out of range for i64");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.so\", \"format\": \"elf\", "
                               "\"args\": [{\"buffer\": \"in\"}, {\"f32\": 1e39}]}"),
                 "stages[0].args[1].f32", "out of range for f32");
    expect_error(PIPE(BUFFERS, "{\"name\": \"k\", \"function\": \"k\", \"program\": \"k.so\", \"format\": \"elf\", "
                               "\"args\": [{\"buffer\": \"in\"}, {\"u32\": 1, \"i32\": 2}]}"),
                 "stages[0].args[1]", "exactly one key");
    expect_error(PIPE(BUFFERS, "{\"name\": \"c r c\", \"function\": \"crc32c\"}"), "stages[0].name",
                 "stage names are");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"9crc\"}"), "stages[0].function",
                 "is not a function name");
}

static void test_pipeline_unknown_keys(void **state)
{
    (void)state;
    expect_error("{\"pipeline_version\": 1, \"extra\": 1, " BUFFERS ", \"stages\": [" CRC_STAGE "]}", "extra",
                 "unknown key (expected pipeline_version, name, description, buffers, stages)");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"size\": 4}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.size", "unknown key");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"device\": \"cpu:0\", \"args\": "
                               "[{\"buffer\": \"in\"}, {\"buffer\": \"crc\"}]}"),
                 "stages[0].device", "unknown key (expected name, function, program, format, work_size, args, "
                                     "constraints)");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", "
                               "\"offset\": 4}, {\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0].offset", "unknown key (expected buffer, writes, size_from)");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"u16\": 4}]}"),
                 "stages[0].args[1].u16", "unknown key (expected buffer, u32");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"numa\": 0}}"),
                 "stages[0].constraints.numa", "unknown key (expected kind, driver, uuid, device, not_with)");
}

static void test_pipeline_unknown_references(void **state)
{
    (void)state;
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"input\"}, "
                               "{\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0].buffer", "unknown buffer \"input\"");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"not_with\": [\"sha\"]}}"),
                 "stages[0].constraints.not_with[0]", "unknown stage \"sha\"");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\"}], \"constraints\": {\"not_with\": [\"crc\"]}}"),
                 "stages[0].constraints.not_with[0]", "names the stage itself");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes_from\": \"x\"}}", CRC_STAGE),
                 "buffers.crc.bytes_from", "unknown buffer \"x\"");
    expect_error(PIPE(BUFFERS, CRC_STAGE ", " CRC_STAGE), "stages[1].name", "stage \"crc\" is already stages[0]");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", "
                               "\"size_from\": \"nope\"}, {\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0].size_from", "unknown buffer \"nope\"");
}

static void test_pipeline_cycles(void **state)
{
    (void)state;
    /* a reads y and writes x; b reads x and writes y. */
    expect_error(PIPE("\"buffers\": {\"x\": {\"bytes\": 8}, \"y\": {\"bytes\": 8}}",
                      "{\"name\": \"a\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"y\"}, {\"buffer\": \"x\"}]},"
                      "{\"name\": \"b\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"x\"}, {\"buffer\": \"y\"}]}"),
                 "stages[0]", "cycle: \"a\" <- \"b\" <- \"a\"");
    /* Three stages, the loop through the last two. */
    expect_error(PIPE("\"buffers\": {\"i\": {\"file\": \"i\"}, \"x\": {\"bytes\": 8}, \"y\": {\"bytes\": 8}, "
                      "\"o\": {\"bytes\": 8}}",
                      "{\"name\": \"s0\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"i\"}, {\"buffer\": \"o\"}]},"
                      "{\"name\": \"s1\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"x\"}, {\"buffer\": \"y\"}]},"
                      "{\"name\": \"s2\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"y\"}, {\"buffer\": \"x\"}]}"),
                 "stages[1]", "\"s1\" <- \"s2\" <- \"s1\"");
    /* A stage taking its size from what it writes itself. */
    expect_error(PIPE("\"buffers\": {\"i\": {\"file\": \"i\"}, \"o\": {\"bytes\": 8}, \"n\": {\"bytes\": 8}}",
                      "{\"name\": \"z\", \"function\": \"zlib.inflate\", \"args\": [{\"buffer\": \"i\", \"size_from\": "
                      "\"n\"}, {\"buffer\": \"o\"}, {\"buffer\": \"n\"}]}"),
                 "stages[0]", "cycle: \"z\" <- \"z\"");
    /* Sizes derived from each other. */
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes_from\": \"k\"}, \"k\": {\"bytes_from\": "
                      "\"crc\"}}",
                      CRC_STAGE ", {\"name\": \"f\", \"function\": \"accel.fill\", \"args\": [{\"buffer\": \"k\"}, {\"u32\": 0}]}"),
                 "buffers.crc.bytes_from", "cycle (crc -> k -> crc)");
}

static void test_pipeline_writers(void **state)
{
    (void)state;
    expect_error(PIPE(BUFFERS, CRC_STAGE ", {\"name\": \"again\", \"function\": \"crc32c\", \"args\": "
                               "[{\"buffer\": \"in\"}, {\"buffer\": \"crc\"}]}"),
                 "stages[1].args[1]", "buffer \"crc\" is already written by stage \"crc\" (stages[0].args[1])");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"crc\"}, "
                               "{\"buffer\": \"crc\"}]}"),
                 "stages[0].args[1]", "already argument 0 of this stage");
    /* Read but never written, and not an input. */
    expect_error(PIPE("\"buffers\": {\"in\": {\"bytes\": 100}, \"crc\": {\"bytes\": 4}}", CRC_STAGE), "buffers.in",
                 "read by stage \"crc\" (stages[0].args[0]) but written by no stage");
    expect_error(PIPE("\"buffers\": {\"in\": {\"bytes\": 100, \"zero\": true}, \"crc\": {\"bytes\": 4, \"zero\": true}}",
                      CRC_STAGE),
                 "buffers.crc.zero", "written by stage \"crc\"");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"zero\": true}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.zero", "cannot be true for a buffer read from a \"file\"");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\", \"output\": \"o\"}, \"crc\": {\"bytes\": 4}}", CRC_STAGE),
                 "buffers.in.output", "no stage writes this buffer");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4}, \"spare\": {\"bytes\": 1}}",
                      CRC_STAGE),
                 "buffers.spare", "not used by any stage");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4, \"output\": \"c\", "
                      "\"output_size_from\": \"in\"}}", CRC_STAGE),
                 "buffers.crc.output_size_from", "buffer \"in\" is written by no stage");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4, \"output_size_from\": \"in\"}}",
                      CRC_STAGE),
                 "buffers.crc.output_size_from", "needs \"output\"");
}

static void test_pipeline_standard_conventions(void **state)
{
    (void)state;
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}]}"),
                 "stages[0].args", "crc32c takes 2 arguments (src, result), not 1");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"accel.noop\", \"args\": [{\"buffer\": \"in\"}]}"),
                 "stages[0].args", "accel.noop takes 0 arguments (none), not 1");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"u32\": 1}, "
                               "{\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0]", "crc32c's argument src must be a buffer");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\"}, "
                               "{\"buffer\": \"crc\", \"writes\": false}]}"),
                 "stages[0].args[1]", "crc32c writes argument result: \"writes\" must be true");
    expect_error(PIPE(BUFFERS, "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", "
                               "\"writes\": true}, {\"buffer\": \"crc\"}]}"),
                 "stages[0].args[0]", "crc32c only reads argument src");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 2}}", CRC_STAGE),
                 "stages[0].args[1]", "crc32c writes 4 bytes to result, but buffer \"crc\" has 2");
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4}, \"n\": {\"bytes\": 4}}",
                      "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", \"size_from\": "
                      "\"n\"}, {\"buffer\": \"crc\"}]}, {\"name\": \"f\", \"function\": \"accel.fill\", \"args\": "
                      "[{\"buffer\": \"n\"}, {\"u32\": 0}]}"),
                 "stages[0].args[0].size_from", "buffer \"n\" has 4 bytes; a size is a u64");
    /* With the size right: "f" writes the size "crc" reads, so it must
     * come first; then it parses (and fill's dst needs no "writes"). */
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4}, \"n\": {\"bytes\": 8}}",
                      "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", \"size_from\": "
                      "\"n\"}, {\"buffer\": \"crc\"}]}, {\"name\": \"f\", \"function\": \"accel.fill\", \"args\": "
                      "[{\"buffer\": \"n\"}, {\"u32\": 0}]}"),
                 "stages[0].args[0]", "buffer \"n\" is written by stage \"f\" (stages[1]), which comes later");
    /* zlib.deflate's level: an i32 in -1..9. */
#define DEFLATE_BUFS "\"buffers\": {\"in\": {\"file\": \"i\"}, \"z\": {\"bytes\": 64}, \"zn\": {\"bytes\": 8}}"
#define DEFLATE_STAGE(level) "{\"name\": \"d\", \"function\": \"zlib.deflate\", \"args\": [{\"buffer\": \"in\"}, " \
                             "{\"buffer\": \"z\"}, {\"buffer\": \"zn\"}" level "]}"
    expect_error(PIPE(DEFLATE_BUFS, DEFLATE_STAGE("")), "stages[0].args",
                 "zlib.deflate takes 4 arguments (src, dst, out_size, level), not 3");
    expect_error(PIPE(DEFLATE_BUFS, DEFLATE_STAGE(", {\"u32\": 6}")), "stages[0].args[3]",
                 "zlib.deflate's argument level must be {\"i32\": N}");
    expect_error(PIPE(DEFLATE_BUFS, DEFLATE_STAGE(", {\"i32\": 10}")), "stages[0].args[3]",
                 "zlib.deflate's level must be -1 (the default, 6) or 0 to 9, not 10");
    expect_error(PIPE(DEFLATE_BUFS, DEFLATE_STAGE(", {\"i32\": -2}")), "stages[0].args[3]",
                 "level must be -1 (the default, 6) or 0 to 9, not -2");
    for (int level = -1; level <= 9; level++) {
        char stage[256], doc[1024];
        snprintf(stage, sizeof(stage), DEFLATE_STAGE(", {\"i32\": %d}"), level);
        snprintf(doc, sizeof(doc), PIPE(DEFLATE_BUFS, "%s"), stage);
        accel_pipeline *pd;
        assert_int_equal(parse(doc, &pd), ACCEL_SUCCESS);
        assert_int_equal(pd->stages[0].args[3].value.u.i32, level);
        accel_pipeline_destroy(pd);
    }
#undef DEFLATE_STAGE
#undef DEFLATE_BUFS
    accel_pipeline *p;
    const char *ok = PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"crc\": {\"bytes\": 4}, \"n\": {\"bytes\": 8}}",
                          "{\"name\": \"f\", \"function\": \"accel.fill\", \"args\": [{\"buffer\": \"n\"}, {\"u32\": 0}]}, "
                          "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"in\", \"size_from\": "
                          "\"n\"}, {\"buffer\": \"crc\"}]}");
    assert_int_equal(parse(ok, &p), ACCEL_SUCCESS);
    assert_int_equal(p->order[0], 0);
    accel_pipeline_destroy(p);
    /* A reader listed before its writer. */
    expect_error(PIPE("\"buffers\": {\"in\": {\"file\": \"i\"}, \"x\": {\"bytes\": 8}, \"c\": {\"bytes\": 4}}",
                      "{\"name\": \"crc\", \"function\": \"crc32c\", \"args\": [{\"buffer\": \"x\"}, {\"buffer\": \"c\"}]},"
                      "{\"name\": \"cp\", \"function\": \"accel.copy\", \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"x\"}]}"),
                 "stages[0].args[0]", "buffer \"x\" is written by stage \"cp\" (stages[1]), which comes later");
}

/* The files the schema rejects (tests/placement/schema-invalid, checked
 * against docs/accel-pipeline.schema.json by the pipeline-schema test) are
 * rejected by the parser too, each with the file's name in the message. */
static void test_pipeline_schema_invalid(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    char **names;
    ut_path(dir, "%s/tests/placement/schema-invalid", ut_source_root());
    long n = ut_list_names(dir, "", &names);
    assert_true(n >= 20);
    for (long i = 0; i < n; i++) {
        accel_pipeline *p = NULL;
        ut_path(path, "%s/%s", dir, names[i]);
        accel_result r = accel_pipeline_load(path, &p);
        if (r != ACCEL_ERROR_INVALID_ARGUMENT || !strstr(accel_last_error_message(), names[i])) {
            print_error("%s: %s: %s\n", names[i], accel_result_name(r), accel_last_error_message());
            accel_pipeline_destroy(p);
            fail();
        }
    }
    ut_free_names(names, n);
    accel_pipeline *p = (accel_pipeline *)1;
    assert_int_equal(accel_pipeline_load("/nonexistent/p.json", &p), ACCEL_ERROR_IO);
    assert_non_null(strstr(accel_last_error_message(), "/nonexistent/p.json: cannot read"));
    assert_true(p == (accel_pipeline *)1);
}

/* Every allocation failure gives OUT_OF_HOST_MEMORY and leaks nothing. */
static void test_pipeline_allocation_failures(void **state)
{
    (void)state;
    char path[PATH_MAX];
    size_t size = 0;
    char *text = ut_read(ut_path(path, "%s/pipelines/demo.json", ut_source_root()), &size);
    assert_non_null(text);
    long n;
    for (n = 1; n < 10000; n++) {
        accel_pipeline *p = NULL;
        long live = accel__alloc_live();
        accel__alloc_fail_at(n);
        accel_result r = accel_pipeline_parse(text, size, "demo.json", &p);
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS) {
            accel_pipeline_destroy(p);
            break;
        }
        assert_int_equal(r, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
        assert_null(p);
        assert_int_equal(accel__alloc_live(), live);
    }
    assert_true(n > 10);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_demo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_all_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_struct_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_not_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_missing_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_unknown_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_cycles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_standard_conventions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_schema_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
