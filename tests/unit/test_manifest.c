/* test_manifest.c — the manifest parser (loader/manifest.c): what it accepts,
 * every rejection with its result code and the field its reason names, the
 * size limit, reading files, library_path resolution, and the corpus under
 * tests/corpus/manifest/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_leaks.h"
#include <signal.h>
#include <sys/wait.h>

#include "unit_util.h"

#include "alloc.h"
#include "manifest.h"

#define REASON_SIZE 512

/* Pieces to build manifests from, so that each case differs from a valid
 * one in exactly one place. */
#define FFV "\"file_format_version\": \"1.0.0\""
#define NAME "\"name\": \"fake\""
#define LIB "\"library_path\": \"libaccel_fake.so\""
#define API "\"api_version\": \"1.0\""
#define DRV(members) "{" FFV ", \"driver\": {" members "}}"
#define VALID DRV(NAME ", " LIB ", " API)

/* Every test must give back what the loader allocated. */
#define setup ut_leak_setup
#define teardown ut_leak_teardown

static accel_result parse_text(const char *path, const char *text, accel__manifest_data *m, char *reason)
{
    return accel__manifest_parse(path, text, strlen(text), m, reason, REASON_SIZE);
}

static const char *other_arch(void)
{
    return sizeof(void *) == 8 ? "32" : "64";
}

static const char *native_arch(void)
{
    return sizeof(void *) == 8 ? "64" : "32";
}

/* ------------------------------------------------------------------------ */
/* Accepted manifests                                                         */

static void test_manifest_all_fields(void **state)
{
    (void)state;
    char json[1024], reason[REASON_SIZE];
    accel__manifest_data m;
    snprintf(json, sizeof(json),
             "{\n"
             "  \"file_format_version\": \"1.0.0\",\n"
             "  \"driver\": {\n"
             "    \"name\": \"Vendor_x-1.2\",\n"
             "    \"library_path\": \"/usr/lib/accel/libaccel_x.so\",\n"
             "    \"api_version\": \"1.3.7\",\n"
             "    \"library_arch\": \"%s\",\n"
             "    \"device_kinds\": [\"gpu\", \"asic\"]\n"
             "  }\n"
             "}\n",
             native_arch());
    assert_int_equal(parse_text("/etc/accel/icd.d/x.json", json, &m, reason), ACCEL_SUCCESS);
    assert_string_equal(reason, "");
    assert_string_equal(m.driver_name, "Vendor_x-1.2");
    assert_string_equal(m.library_path, "/usr/lib/accel/libaccel_x.so");
    assert_string_equal(m.resolved_library, "/usr/lib/accel/libaccel_x.so");
    assert_int_equal(m.file_format_version, ACCEL_MAKE_VERSION(1, 0));
    assert_int_equal(m.api_version, ACCEL_MAKE_VERSION(1, 3));
    assert_int_equal(m.device_kinds, (1u << ACCEL_DEVICE_KIND_GPU) | (1u << ACCEL_DEVICE_KIND_ASIC));
    assert_false(m.newer_minor);
    accel__manifest_data_clear(&m);
    assert_null(m.driver_name);
    assert_null(m.resolved_library);
}

static void test_manifest_optional_fields_absent(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(parse_text("/x/m.json", VALID, &m, reason), ACCEL_SUCCESS);
    assert_string_equal(m.driver_name, "fake");
    assert_string_equal(m.library_path, "libaccel_fake.so");
    assert_int_equal(m.api_version, ACCEL_MAKE_VERSION(1, 0));
    assert_int_equal(m.device_kinds, 0);
    assert_false(m.newer_minor);
    accel__manifest_data_clear(&m);
}

static void test_manifest_every_kind(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    const char *json = DRV(NAME ", " LIB ", " API
                           ", \"device_kinds\": [\"cpu\", \"gpu\", \"fpga\", \"asic\", \"network\", \"cpu\"]");
    assert_int_equal(parse_text(NULL, json, &m, reason), ACCEL_SUCCESS);
    assert_int_equal(m.device_kinds, (1u << ACCEL_DEVICE_KIND_CPU) | (1u << ACCEL_DEVICE_KIND_GPU) |
                                         (1u << ACCEL_DEVICE_KIND_FPGA) | (1u << ACCEL_DEVICE_KIND_ASIC) |
                                         (1u << ACCEL_DEVICE_KIND_NETWORK));
    accel__manifest_data_clear(&m);

    /* An empty hint is a hint of nothing, not an error. */
    assert_int_equal(parse_text(NULL, DRV(NAME ", " LIB ", " API ", \"device_kinds\": []"), &m, reason),
                     ACCEL_SUCCESS);
    assert_int_equal(m.device_kinds, 0);
    accel__manifest_data_clear(&m);
}

static void test_manifest_unknown_fields_ignored(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    const char *json = "{\"comment\": \"hello\", " FFV ", \"extra\": {\"a\": [1, 2, {\"b\": null}]},"
                       " \"driver\": {\"future\": 3.5, " NAME ", \"flags\": [true, false], " LIB ", " API
                       ", \"nested\": {\"name\": 5}}, \"zzz\": null}";
    assert_int_equal(parse_text("/x/m.json", json, &m, reason), ACCEL_SUCCESS);
    assert_string_equal(m.driver_name, "fake");
    assert_string_equal(m.library_path, "libaccel_fake.so");
    accel__manifest_data_clear(&m);
}

static void test_manifest_newer_minor(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    const char *json = "{\"file_format_version\": \"1.7.2\", \"driver\": {" NAME ", " LIB ", " API
                       ", \"new_in_1_7\": {\"x\": 1}}}";
    assert_int_equal(parse_text("/x/m.json", json, &m, reason), ACCEL_SUCCESS);
    assert_true(m.newer_minor);
    assert_int_equal(m.file_format_version, ACCEL_MAKE_VERSION(1, 7));
    assert_string_equal(m.driver_name, "fake");
    accel__manifest_data_clear(&m);

    /* The same minor as the loader's is not "newer". */
    assert_int_equal(parse_text("/x/m.json", VALID, &m, reason), ACCEL_SUCCESS);
    assert_false(m.newer_minor);
    accel__manifest_data_clear(&m);
}

static void test_manifest_blank_around_document(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(parse_text("/x/m.json", " \t\r\n" VALID " \r\n\t\n", &m, reason), ACCEL_SUCCESS);
    accel__manifest_data_clear(&m);
}

static void test_manifest_name_limits(void **state)
{
    (void)state;
    char json[512], name[80], reason[REASON_SIZE];
    accel__manifest_data m;
    memset(name, 'n', 64);
    name[64] = '\0';
    snprintf(json, sizeof(json), DRV("\"name\": \"%s\", " LIB ", " API), name);
    assert_int_equal(parse_text(NULL, json, &m, reason), ACCEL_SUCCESS);
    assert_string_equal(m.driver_name, name);
    accel__manifest_data_clear(&m);

    name[64] = 'n';
    name[65] = '\0';
    snprintf(json, sizeof(json), DRV("\"name\": \"%s\", " LIB ", " API), name);
    assert_int_equal(parse_text(NULL, json, &m, reason), ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "driver.name"));
    accel__manifest_data_clear(&m);
}

static void test_manifest_library_arch_native(void **state)
{
    (void)state;
    char json[512], reason[REASON_SIZE];
    accel__manifest_data m;
    snprintf(json, sizeof(json), DRV(NAME ", " LIB ", " API ", \"library_arch\": \"%s\""), native_arch());
    assert_int_equal(parse_text(NULL, json, &m, reason), ACCEL_SUCCESS);
    accel__manifest_data_clear(&m);
}

/* ------------------------------------------------------------------------ */
/* Rejections                                                                 */

typedef struct reject_case {
    const char *json;
    size_t size; /* 0: strlen(json) */
    accel_result result;
    const char *needle; /* must occur in the reason */
} reject_case;

/* Run a table of rejections; report every case that misbehaves, then fail
 * once, so one run shows all of them. */
static void check_rejects(const reject_case *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char reason[REASON_SIZE];
        accel__manifest_data m;
        size_t size = cases[i].size ? cases[i].size : strlen(cases[i].json);
        memset(reason, 'X', sizeof(reason));
        accel_result r = accel__manifest_parse("/x/m.json", cases[i].json, size, &m, reason, sizeof(reason));
        bool ok = r == cases[i].result && memchr(reason, '\0', sizeof(reason)) &&
                  strstr(reason, cases[i].needle) && !strchr(reason, '\n');
        if (!ok) {
            print_error("case %zu: %s\n  got %s \"%.*s\"\n  want %s containing \"%s\"\n", i, cases[i].json,
                        accel_result_name(r), (int)sizeof(reason), reason, accel_result_name(cases[i].result),
                        cases[i].needle);
            bad++;
        }
        accel__manifest_data_clear(&m);
    }
    assert_int_equal(bad, 0);
}

#define INV ACCEL_ERROR_INVALID_MANIFEST
#define INCOMPAT ACCEL_ERROR_INCOMPATIBLE_DRIVER

static void test_manifest_rejects_not_json(void **state)
{
    (void)state;
    static const char nul_inside[] = "{\"file_format_version\": \"1.0.0\"\0, \"driver\": {}}";
    const reject_case cases[] = {
        {"", 0, INV, "not JSON"},
        {"   \n", 0, INV, "not JSON"},
        {"hello", 0, INV, "not JSON"},
        {"{", 0, INV, "not JSON: unexpected end"},
        {"{\"file_format_version\": \"1.0.0\", \"driver\": {" NAME, 0, INV, "not JSON: unexpected end"},
        {"{\"file_format_version\": \"1.0", 0, INV, "not JSON"},
        /* json-c's strict mode reports trailing data itself, at its offset. */
        {VALID "x", 0, INV, "not JSON"},
        {VALID " {}", 0, INV, "not JSON"},
        {VALID VALID, 0, INV, "not JSON"},
        {VALID "\n}", 0, INV, "not JSON"},
        {nul_inside, sizeof(nul_inside) - 1, INV, "NUL byte"},
        {VALID "\0", sizeof(VALID), INV, "NUL byte"},
        {"{'file_format_version': '1.0.0'}", 0, INV, "not JSON"},
        {"{\"file_format_version\": \"1.0.0\",}", 0, INV, "not JSON"},
        {"{\"a\" 1}", 0, INV, "not JSON"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_top_level(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {"[]", 0, INV, "top level must be an object, not array"},
        {"[" VALID "]", 0, INV, "top level must be an object, not array"},
        {"\"text\"", 0, INV, "top level must be an object, not string"},
        /* A bare scalar needs a byte after it to be complete for json-c. */
        {"42\n", 0, INV, "top level must be an object, not int"},
        {"true\n", 0, INV, "top level must be an object, not boolean"},
        {"\"1.0.0\"\n", 0, INV, "top level must be an object, not string"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_wrong_types(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {"{\"file_format_version\": 1, \"driver\": {" NAME ", " LIB ", " API "}}", 0, INV,
         "file_format_version must be a string, not int"},
        {"{\"file_format_version\": 1.0, \"driver\": {" NAME ", " LIB ", " API "}}", 0, INV,
         "file_format_version must be a string, not double"},
        {"{\"file_format_version\": [\"1.0.0\"], \"driver\": {}}", 0, INV,
         "file_format_version must be a string, not array"},
        {"{" FFV ", \"driver\": \"fake\"}", 0, INV, "driver must be an object, not string"},
        {"{" FFV ", \"driver\": [{" NAME ", " LIB ", " API "}]}", 0, INV, "driver must be an object, not array"},
        {"{" FFV ", \"driver\": null}", 0, INV, "driver must be an object, not null"},
        {DRV("\"name\": 5, " LIB ", " API), 0, INV, "driver.name must be a string, not int"},
        {DRV("\"name\": {}, " LIB ", " API), 0, INV, "driver.name must be a string, not object"},
        {DRV("\"name\": null, " LIB ", " API), 0, INV, "driver.name must be a string, not null"},
        {DRV(NAME ", \"library_path\": true, " API), 0, INV, "driver.library_path must be a string, not boolean"},
        {DRV(NAME ", \"library_path\": [\"a\"], " API), 0, INV, "driver.library_path must be a string, not array"},
        {DRV(NAME ", " LIB ", \"api_version\": 1.0"), 0, INV, "driver.api_version must be a string, not double"},
        {DRV(NAME ", " LIB ", \"api_version\": 1"), 0, INV, "driver.api_version must be a string, not int"},
        {DRV(NAME ", " LIB ", " API ", \"library_arch\": 64"), 0, INV,
         "driver.library_arch must be a string, not int"},
        {DRV(NAME ", " LIB ", " API ", \"library_arch\": null"), 0, INV,
         "driver.library_arch must be a string, not null"},
        {DRV(NAME ", " LIB ", " API ", \"device_kinds\": \"cpu\""), 0, INV,
         "driver.device_kinds must be an array, not string"},
        {DRV(NAME ", " LIB ", " API ", \"device_kinds\": {\"cpu\": true}"), 0, INV,
         "driver.device_kinds must be an array, not object"},
        {DRV(NAME ", " LIB ", " API ", \"device_kinds\": [1]"), 0, INV,
         "driver.device_kinds[0] must be a string, not int"},
        {DRV(NAME ", " LIB ", " API ", \"device_kinds\": [\"cpu\", [\"gpu\"]]"), 0, INV,
         "driver.device_kinds[1] must be a string, not array"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_missing_fields(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {"{}", 0, INV, "file_format_version missing"},
        {"{\"driver\": {" NAME ", " LIB ", " API "}}", 0, INV, "file_format_version missing"},
        {"{\"File_Format_Version\": \"1.0.0\", \"driver\": {" NAME ", " LIB ", " API "}}", 0, INV,
         "file_format_version missing"},
        {"{" FFV "}", 0, INV, "driver missing"},
        {"{" FFV ", \"drivers\": {" NAME ", " LIB ", " API "}}", 0, INV, "driver missing"},
        {DRV(LIB ", " API), 0, INV, "driver.name missing"},
        {"{" FFV ", " NAME ", \"driver\": {" LIB ", " API "}}", 0, INV, "driver.name missing"},
        {DRV(NAME ", " API), 0, INV, "driver.library_path missing"},
        {DRV(NAME ", " LIB), 0, INV, "driver.api_version missing"},
        {DRV(""), 0, INV, "driver.name missing"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_empty_strings(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {"{\"file_format_version\": \"\", \"driver\": {" NAME ", " LIB ", " API "}}", 0, INV,
         "file_format_version is empty"},
        {DRV("\"name\": \"\", " LIB ", " API), 0, INV, "driver.name is empty"},
        {DRV(NAME ", \"library_path\": \"\", " API), 0, INV, "driver.library_path is empty"},
        {DRV(NAME ", " LIB ", \"api_version\": \"\""), 0, INV, "driver.api_version is empty"},
        {DRV(NAME ", " LIB ", " API ", \"library_arch\": \"\""), 0, INV, "driver.library_arch"},
        {DRV(NAME ", " LIB ", " API ", \"device_kinds\": [\"\"]"), 0, INV, "driver.device_kinds[0]"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_embedded_nul(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {"{\"file_format_version\": \"1.0.0\\u0000\", \"driver\": {" NAME ", " LIB ", " API "}}", 0, INV,
         "file_format_version contains a NUL"},
        {DRV("\"name\": \"fa\\u0000ke\", " LIB ", " API), 0, INV, "driver.name contains a NUL"},
        {DRV(NAME ", \"library_path\": \"/lib/x.so\\u0000/evil.so\", " API), 0, INV,
         "driver.library_path contains a NUL"},
        {DRV(NAME ", " LIB ", \"api_version\": \"1.0\\u0000\""), 0, INV, "driver.api_version contains a NUL"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_bad_driver_names(void **state)
{
    (void)state;
    const reject_case cases[] = {
        {DRV("\"name\": \"a b\", " LIB ", " API), 0, INV, "driver.name \"a b\""},
        {DRV("\"name\": \"../x\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"x/y\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"cpu:0\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"gl*b\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"caf\\u00e9\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"tab\\there\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \" fake\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"a;b\", " LIB ", " API), 0, INV, "driver.name"},
        {DRV("\"name\": \"a,b\", " LIB ", " API), 0, INV, "driver.name"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_bad_versions(void **state)
{
    (void)state;
#define FF(v) "{\"file_format_version\": \"" v "\", \"driver\": {" NAME ", " LIB ", " API "}}"
#define AV(v) DRV(NAME ", " LIB ", \"api_version\": \"" v "\"")
    const reject_case cases[] = {
        {FF("1"), 0, INV, "file_format_version \"1\""},
        {FF("1."), 0, INV, "file_format_version"},
        {FF(".1.0"), 0, INV, "file_format_version"},
        {FF("1.0.0.0"), 0, INV, "file_format_version"},
        {FF("1.0."), 0, INV, "file_format_version"},
        {FF("a.b.c"), 0, INV, "file_format_version"},
        {FF("1.0-rc1"), 0, INV, "file_format_version"},
        {FF("v1.0.0"), 0, INV, "file_format_version"},
        {FF(" 1.0.0"), 0, INV, "file_format_version"},
        {FF("1.0.0 "), 0, INV, "file_format_version"},
        {FF("-1.0.0"), 0, INV, "file_format_version"},
        {FF("1.+0.0"), 0, INV, "file_format_version"},
        {FF("1.65536.0"), 0, INV, "file_format_version"},
        {FF("99999999999999999999.0.0"), 0, INV, "file_format_version"},
        {AV("1"), 0, INV, "driver.api_version \"1\""},
        {AV("1.x"), 0, INV, "driver.api_version"},
        {AV("1..0"), 0, INV, "driver.api_version"},
        {AV("1.0.0.0"), 0, INV, "driver.api_version"},
        {AV("65536.0"), 0, INV, "driver.api_version"},
        {AV("1,0"), 0, INV, "driver.api_version"},
        {AV("0x1.0"), 0, INV, "driver.api_version"},
    };
#undef FF
#undef AV
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_unknown_major(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    const reject_case cases[] = {
        {"{\"file_format_version\": \"2.0.0\", \"driver\": {" NAME ", " LIB ", " API "}}", 0, INCOMPAT,
         "file_format_version 2.0"},
        {"{\"file_format_version\": \"0.9.0\", \"driver\": {" NAME ", " LIB ", " API "}}", 0, INCOMPAT,
         "file_format_version 0.9"},
        /* A newer major may have changed anything: the rest is not looked at. */
        {"{\"file_format_version\": \"3.1.0\", \"driver\": 7}", 0, INCOMPAT, "file_format_version 3.1"},
    };
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));

    /* The version is still reported, so that listings can show it. */
    assert_int_equal(parse_text(NULL, cases[0].json, &m, reason), INCOMPAT);
    assert_int_equal(m.file_format_version, ACCEL_MAKE_VERSION(2, 0));
    accel__manifest_data_clear(&m);
}

static void test_manifest_rejects_library_arch(void **state)
{
    (void)state;
    char wrong[512], reason[REASON_SIZE];
    accel__manifest_data m;
    snprintf(wrong, sizeof(wrong), DRV(NAME ", " LIB ", " API ", \"library_arch\": \"%s\""), other_arch());
    assert_int_equal(parse_text(NULL, wrong, &m, reason), ACCEL_ERROR_INCOMPATIBLE_DRIVER);
    assert_non_null(strstr(reason, "driver.library_arch"));
    assert_non_null(strstr(reason, other_arch()));
    /* The driver name is known by then, so the listing can name it. */
    assert_string_equal(m.driver_name, "fake");
    accel__manifest_data_clear(&m);

#define ARCH(v) DRV(NAME ", " LIB ", " API ", \"library_arch\": \"" v "\"")
    const reject_case cases[] = {
        {ARCH("x86_64"), 0, INV, "driver.library_arch \"x86_64\""},
        {ARCH("064"), 0, INV, "driver.library_arch"},
        {ARCH("6"), 0, INV, "driver.library_arch"},
        {ARCH("3"), 0, INV, "driver.library_arch"},
        {ARCH("64 "), 0, INV, "driver.library_arch"},
        {ARCH("128"), 0, INV, "driver.library_arch"},
        {ARCH("sixty-four"), 0, INV, "driver.library_arch"},
    };
#undef ARCH
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_manifest_rejects_device_kinds(void **state)
{
    (void)state;
#define KINDS(v) DRV(NAME ", " LIB ", " API ", \"device_kinds\": " v)
    const reject_case cases[] = {
        {KINDS("[\"tpu\"]"), 0, INV, "driver.device_kinds[0] is \"tpu\""},
        {KINDS("[\"cpu\", \"gpu\", \"npu\"]"), 0, INV, "driver.device_kinds[2] is \"npu\""},
        {KINDS("[\"CPU\"]"), 0, INV, "driver.device_kinds[0]"},
        {KINDS("[\"unknown\"]"), 0, INV, "driver.device_kinds[0]"},
        {KINDS("[\" cpu\"]"), 0, INV, "driver.device_kinds[0]"},
        {KINDS("[null]"), 0, INV, "driver.device_kinds[0] must be a string"},
        {KINDS("\"cpu,gpu\""), 0, INV, "driver.device_kinds must be an array"},
        {KINDS("1"), 0, INV, "driver.device_kinds must be an array"},
    };
#undef KINDS
    check_rejects(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A nesting depth attack must be a parse error, not a stack overflow. */
static void test_manifest_rejects_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *json = malloc(2 * depth + 1);
    assert_non_null(json);
    memset(json, '[', depth);
    memset(json + depth, ']', depth);
    json[2 * depth] = '\0';
    char reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(parse_text(NULL, json, &m, reason), ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "not JSON"));
    accel__manifest_data_clear(&m);
    free(json);
}

/* The reason buffer is filled within its size, however small. */
static void test_manifest_reason_truncated(void **state)
{
    (void)state;
    char reason[8];
    accel__manifest_data m;
    memset(reason, 'X', sizeof(reason));
    assert_int_equal(accel__manifest_parse(NULL, "[]", 2, &m, reason, sizeof(reason)),
                     ACCEL_ERROR_INVALID_MANIFEST);
    assert_int_equal(strlen(reason), sizeof(reason) - 1);
    assert_memory_equal(reason, "top lev", 7);
    accel__manifest_data_clear(&m);
}

/* ------------------------------------------------------------------------ */
/* Size limit                                                                 */

/* VALID padded with blanks to exactly `size` bytes. */
static char *padded_manifest(size_t size)
{
    char *buf = malloc(size + 1);
    assert_non_null(buf);
    memset(buf, ' ', size);
    memcpy(buf, VALID, strlen(VALID));
    buf[size] = '\0';
    return buf;
}

static void test_manifest_size_limit_in_memory(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    char *buf = padded_manifest(ACCEL_MANIFEST_MAX_SIZE + 1);

    assert_int_equal(accel__manifest_parse(NULL, buf, ACCEL_MANIFEST_MAX_SIZE, &m, reason, sizeof(reason)),
                     ACCEL_SUCCESS);
    accel__manifest_data_clear(&m);

    assert_int_equal(accel__manifest_parse(NULL, buf, ACCEL_MANIFEST_MAX_SIZE + 1, &m, reason, sizeof(reason)),
                     ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "too large"));
    accel__manifest_data_clear(&m);
    free(buf);
}

static void test_manifest_size_limit_file(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(ut_tmpdir(dir, "manifest-size"), 0);

    /* Exactly at the limit still loads. */
    char *buf = padded_manifest(ACCEL_MANIFEST_MAX_SIZE);
    assert_int_equal(ut_write(dir, "limit.json", buf, ACCEL_MANIFEST_MAX_SIZE), 0);
    free(buf);
    assert_int_equal(accel__manifest_load(ut_path(path, "%s/limit.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_SUCCESS);
    assert_string_equal(m.driver_name, "fake");
    accel__manifest_data_clear(&m);

    /* A few megabytes are refused before parsing. */
    size_t big = 3u << 20;
    buf = padded_manifest(big);
    assert_int_equal(ut_write(dir, "big.json", buf, big), 0);
    free(buf);
    assert_int_equal(accel__manifest_load(ut_path(path, "%s/big.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "too large"));
    assert_null(m.driver_name);
    accel__manifest_data_clear(&m);

    ut_rm_rf(dir);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                      */

static void test_manifest_load_file(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], want[PATH_MAX], reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(ut_tmpdir(dir, "manifest-load"), 0);
    assert_int_equal(ut_write_str(dir, "m.json", DRV(NAME ", \"library_path\": \"lib/libx.so\", " API)), 0);
    assert_int_equal(accel__manifest_load(ut_path(path, "%s/m.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_SUCCESS);
    assert_string_equal(m.library_path, "lib/libx.so");
    assert_string_equal(m.resolved_library, ut_path(want, "%s/lib/libx.so", dir));
    accel__manifest_data_clear(&m);

    assert_int_equal(ut_write_str(dir, "bad.json", "{\"file_format_version\": \"1.0.0\""), 0);
    assert_int_equal(accel__manifest_load(ut_path(path, "%s/bad.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "not JSON"));
    accel__manifest_data_clear(&m);

    assert_int_equal(ut_write(dir, "empty.json", "", 0), 0);
    assert_int_equal(accel__manifest_load(ut_path(path, "%s/empty.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_ERROR_INVALID_MANIFEST);
    assert_non_null(strstr(reason, "not JSON"));
    accel__manifest_data_clear(&m);
    ut_rm_rf(dir);
}

static void test_manifest_load_unreadable(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], reason[REASON_SIZE];
    accel__manifest_data m;
    assert_int_equal(ut_tmpdir(dir, "manifest-unreadable"), 0);

    assert_int_equal(accel__manifest_load(ut_path(path, "%s/missing.json", dir), &m, reason, sizeof(reason)),
                     ACCEL_ERROR_IO);
    assert_non_null(strstr(reason, "cannot read"));
    assert_non_null(strstr(reason, strerror(ENOENT)));
    accel__manifest_data_clear(&m);

    assert_int_equal(mkdir(ut_path(path, "%s/dir.json", dir), 0755), 0);
    assert_int_equal(accel__manifest_load(path, &m, reason, sizeof(reason)), ACCEL_ERROR_IO);
    assert_non_null(strstr(reason, strerror(EISDIR)));
    accel__manifest_data_clear(&m);

    /* A device node is not a manifest even though it can be opened. */
    assert_int_equal(accel__manifest_load("/dev/null", &m, reason, sizeof(reason)), ACCEL_ERROR_IO);
    assert_non_null(strstr(reason, "cannot read"));
    accel__manifest_data_clear(&m);

    /* Permission bits do not stop root, so only check them as a user. */
    assert_int_equal(ut_write_str(dir, "secret.json", VALID), 0);
    assert_int_equal(chmod(ut_path(path, "%s/secret.json", dir), 0), 0);
    if (geteuid() != 0) {
        assert_int_equal(accel__manifest_load(path, &m, reason, sizeof(reason)), ACCEL_ERROR_IO);
        assert_non_null(strstr(reason, strerror(EACCES)));
        accel__manifest_data_clear(&m);
    }
    ut_rm_rf(dir);
}

/*
 * A FIFO named as a manifest (ACCEL_DRIVER_FILES may name any path) must be
 * refused, not waited on until some writer appears. The load runs in a
 * child with an alarm so that a blocking loader fails this test instead of
 * hanging the suite.
 */
static void test_manifest_load_fifo_does_not_block(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    assert_int_equal(ut_tmpdir(dir, "manifest-fifo"), 0);
    assert_int_equal(mkfifo(ut_path(path, "%s/pipe.json", dir), 0644), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char reason[REASON_SIZE];
        accel__manifest_data m;
        alarm(5);
        accel_result r = accel__manifest_load(path, &m, reason, sizeof(reason));
        _exit(r == ACCEL_ERROR_IO && strstr(reason, "cannot read") ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    ut_rm_rf(dir);
    if (WIFSIGNALED(status))
        fail_msg("loading a FIFO blocked (child killed by signal %d)", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ------------------------------------------------------------------------ */
/* library_path resolution                                                    */

static void expect_resolved(const char *manifest_path, const char *lib, const char *want)
{
    char json[1024], reason[REASON_SIZE];
    accel__manifest_data m;
    snprintf(json, sizeof(json), DRV(NAME ", \"library_path\": \"%s\", " API), lib);
    assert_int_equal(parse_text(manifest_path, json, &m, reason), ACCEL_SUCCESS);
    assert_string_equal(m.library_path, lib);
    assert_string_equal(m.resolved_library, want);
    accel__manifest_data_clear(&m);
}

static void test_manifest_library_absolute_kept(void **state)
{
    (void)state;
    expect_resolved("/etc/accel/icd.d/x.json", "/opt/vendor/lib/libx.so", "/opt/vendor/lib/libx.so");
    expect_resolved("rel/x.json", "/libx.so", "/libx.so");
    expect_resolved(NULL, "/a/b/../c/libx.so.1", "/a/b/../c/libx.so.1");
}

static void test_manifest_library_relative_resolved(void **state)
{
    (void)state;
    expect_resolved("/usr/share/accel/icd.d/x.json", "lib/libx.so", "/usr/share/accel/icd.d/lib/libx.so");
    expect_resolved("/usr/share/accel/icd.d/x.json", "../../../lib/accel/libx.so",
                    "/usr/share/accel/icd.d/../../../lib/accel/libx.so");
    expect_resolved("/usr/share/accel/icd.d/x.json", "./libx.so", "/usr/share/accel/icd.d/./libx.so");
    expect_resolved("/x.json", "lib/libx.so", "/lib/libx.so");
    /* A manifest path without a directory, or none at all: the current one. */
    expect_resolved("x.json", "lib/libx.so", "./lib/libx.so");
    expect_resolved(NULL, "lib/libx.so", "./lib/libx.so");
    expect_resolved("icd.d/x.json", "lib/libx.so", "icd.d/lib/libx.so");
}

static void test_manifest_library_bare_name_kept(void **state)
{
    (void)state;
    /* No separator: left to the dynamic linker's search path. */
    expect_resolved("/usr/share/accel/icd.d/x.json", "libaccel_x.so.1", "libaccel_x.so.1");
    expect_resolved(NULL, "libx.so", "libx.so");
    expect_resolved("/etc/x.json", "..", "..");
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                        */

static void test_manifest_allocation_failures(void **state)
{
    (void)state;
    char reason[REASON_SIZE];
    accel__manifest_data m;
    const char *json = DRV(NAME ", \"library_path\": \"lib/libx.so\", " API);
    long n;
    for (n = 1; n < 100; n++) {
        long live = accel__alloc_live();
        accel__alloc_fail_at(n);
        accel_result r = parse_text("/some/dir/x.json", json, &m, reason);
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS) {
            accel__manifest_data_clear(&m);
            break;
        }
        assert_int_equal(r, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
        accel__manifest_data_clear(&m);
        assert_int_equal(accel__alloc_live(), live);
    }
    /* At least the name, the path and the resolved path were allocated. */
    assert_true(n > 3 && n < 100);
}

/* ------------------------------------------------------------------------ */
/* Corpus                                                                     */

static void test_manifest_corpus(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], reason[REASON_SIZE];
    char **names;
    int bad = 0;
    ut_path(dir, "%s/tests/corpus/manifest", ut_source_root());

    long nvalid = ut_list_names(dir, "valid-", &names);
    assert_true(nvalid > 0);
    for (long i = 0; i < nvalid; i++) {
        accel__manifest_data m;
        accel_result r = accel__manifest_load(ut_path(path, "%s/%s", dir, names[i]), &m, reason, sizeof(reason));
        if (r != ACCEL_SUCCESS || !m.driver_name || !m.resolved_library) {
            print_error("%s: expected to parse, got %s: %s\n", names[i], accel_result_name(r), reason);
            bad++;
        }
        accel__manifest_data_clear(&m);
    }
    ut_free_names(names, nvalid);

    long ninvalid = ut_list_names(dir, "invalid-", &names);
    assert_true(ninvalid > 0);
    for (long i = 0; i < ninvalid; i++) {
        accel__manifest_data m;
        accel_result r = accel__manifest_load(ut_path(path, "%s/%s", dir, names[i]), &m, reason, sizeof(reason));
        if (r != ACCEL_ERROR_INVALID_MANIFEST && r != ACCEL_ERROR_INCOMPATIBLE_DRIVER) {
            print_error("%s: expected a rejection, got %s\n", names[i], accel_result_name(r));
            bad++;
        } else if (!reason[0]) {
            print_error("%s: rejected without a reason\n", names[i]);
            bad++;
        }
        accel__manifest_data_clear(&m);
    }
    ut_free_names(names, ninvalid);
    assert_int_equal(bad, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_manifest_all_fields),
        T(test_manifest_optional_fields_absent),
        T(test_manifest_every_kind),
        T(test_manifest_unknown_fields_ignored),
        T(test_manifest_newer_minor),
        T(test_manifest_blank_around_document),
        T(test_manifest_name_limits),
        T(test_manifest_library_arch_native),
        T(test_manifest_rejects_not_json),
        T(test_manifest_rejects_top_level),
        T(test_manifest_rejects_wrong_types),
        T(test_manifest_rejects_missing_fields),
        T(test_manifest_rejects_empty_strings),
        T(test_manifest_rejects_embedded_nul),
        T(test_manifest_rejects_bad_driver_names),
        T(test_manifest_rejects_bad_versions),
        T(test_manifest_rejects_unknown_major),
        T(test_manifest_rejects_library_arch),
        T(test_manifest_rejects_device_kinds),
        T(test_manifest_rejects_deep_nesting),
        T(test_manifest_reason_truncated),
        T(test_manifest_size_limit_in_memory),
        T(test_manifest_size_limit_file),
        T(test_manifest_load_file),
        T(test_manifest_load_unreadable),
        T(test_manifest_load_fifo_does_not_block),
        T(test_manifest_library_absolute_kept),
        T(test_manifest_library_relative_resolved),
        T(test_manifest_library_bare_name_kept),
        T(test_manifest_allocation_failures),
        T(test_manifest_corpus),
    };
    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
