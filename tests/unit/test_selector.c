/* test_selector.c — the device selector grammar (loader/select.h), how a
 * parsed selector orders and filters devices, driver glob lists, and the
 * corpus under tests/corpus/selector/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit_leaks.h"

#include "unit_util.h"

#include "alloc.h"
#include "select.h"

#define ERR_SIZE 256

/* Every test must give back what the loader allocated. */
#define setup ut_leak_setup
#define teardown ut_leak_teardown

/* Parse text that must be valid; fail the test with the parser's message
 * otherwise. */
static void parse_ok(const char *text, accel__selector *s)
{
    char err[ERR_SIZE];
    accel_result r = accel__selector_parse(text, s, err, sizeof(err));
    if (r != ACCEL_SUCCESS)
        fail_msg("\"%s\": %s: %s", text, accel_result_name(r), err);
    assert_string_equal(err, "");
}

/* ------------------------------------------------------------------------ */
/* Grammar: accepted forms                                                    */

static void test_selector_parse_index(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("cpu:0", &s);
    assert_int_equal(s.term_count, 1);
    assert_int_equal(s.accept_count, 1);
    assert_false(s.terms[0].discard);
    assert_string_equal(s.terms[0].driver_glob, "cpu");
    assert_int_equal(s.terms[0].filter_count, 1);
    assert_int_equal(s.terms[0].filters[0].type, ACCEL__FILTER_INDEX);
    assert_int_equal(s.terms[0].filters[0].index, 0);
    accel__selector_free(&s);

    parse_ok("opencl:12", &s);
    assert_int_equal(s.terms[0].filters[0].index, 12);
    accel__selector_free(&s);

    /* Leading zeros are still decimal, and the largest index is accepted. */
    parse_ok("x:007", &s);
    assert_int_equal(s.terms[0].filters[0].index, 7);
    accel__selector_free(&s);
    parse_ok("x:16777215", &s);
    assert_int_equal(s.terms[0].filters[0].index, 16777215);
    accel__selector_free(&s);
}

static void test_selector_parse_kinds(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("*:cpu,gpu,fpga,asic,network", &s);
    assert_string_equal(s.terms[0].driver_glob, "*");
    assert_int_equal(s.terms[0].filter_count, 5);
    const accel_device_kind want[] = {ACCEL_DEVICE_KIND_CPU, ACCEL_DEVICE_KIND_GPU, ACCEL_DEVICE_KIND_FPGA,
                                      ACCEL_DEVICE_KIND_ASIC, ACCEL_DEVICE_KIND_NETWORK};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(s.terms[0].filters[i].type, ACCEL__FILTER_KIND);
        assert_int_equal(s.terms[0].filters[i].kind, want[i]);
    }
    accel__selector_free(&s);
}

static void test_selector_parse_uuid(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("*:uuid=1a2B", &s);
    const accel__filter *f = &s.terms[0].filters[0];
    assert_int_equal(f->type, ACCEL__FILTER_UUID);
    assert_int_equal(f->uuid_len, 4);
    assert_int_equal(f->uuid_nibbles[0], 0x1);
    assert_int_equal(f->uuid_nibbles[1], 0xa);
    assert_int_equal(f->uuid_nibbles[2], 0x2);
    assert_int_equal(f->uuid_nibbles[3], 0xb);
    accel__selector_free(&s);

    /* Dashes anywhere are skipped; they do not count as digits. */
    parse_ok("*:uuid=12345678-9abc-DEF0-", &s);
    f = &s.terms[0].filters[0];
    assert_int_equal(f->uuid_len, 16);
    assert_int_equal(f->uuid_nibbles[8], 0x9);
    assert_int_equal(f->uuid_nibbles[15], 0x0);
    assert_int_equal(f->uuid_nibbles[12], 0xd);
    accel__selector_free(&s);

    /* A whole uuid, in the usual 8-4-4-4-12 form. */
    parse_ok("gpu:uuid=00112233-4455-6677-8899-aabbccddeeff", &s);
    f = &s.terms[0].filters[0];
    assert_int_equal(f->uuid_len, 2 * ACCEL_UUID_SIZE);
    for (uint32_t i = 0; i < f->uuid_len; i++)
        assert_int_equal(f->uuid_nibbles[i], (i / 2) % 16);
    accel__selector_free(&s);
}

static void test_selector_parse_any_and_globs(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("*:*", &s);
    assert_int_equal(s.terms[0].filters[0].type, ACCEL__FILTER_ANY);
    accel__selector_free(&s);

    const char *globs[] = {"open*", "?pu", "[cg]pu", "vendor_x-1.2", "*cl*", "[a-z]*"};
    for (size_t i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "%s:*", globs[i]);
        parse_ok(text, &s);
        assert_string_equal(s.terms[0].driver_glob, globs[i]);
        accel__selector_free(&s);
    }
}

static void test_selector_parse_several_filters_and_terms(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("cpu:0,2,gpu,uuid=ff,*;!opencl:1;vulkan:gpu", &s);
    assert_int_equal(s.term_count, 3);
    assert_int_equal(s.accept_count, 2);
    assert_int_equal(s.terms[0].filter_count, 5);
    assert_int_equal(s.terms[0].filters[0].type, ACCEL__FILTER_INDEX);
    assert_int_equal(s.terms[0].filters[1].index, 2);
    assert_int_equal(s.terms[0].filters[2].type, ACCEL__FILTER_KIND);
    assert_int_equal(s.terms[0].filters[3].type, ACCEL__FILTER_UUID);
    assert_int_equal(s.terms[0].filters[4].type, ACCEL__FILTER_ANY);
    assert_true(s.terms[1].discard);
    assert_string_equal(s.terms[1].driver_glob, "opencl");
    assert_false(s.terms[2].discard);
    assert_string_equal(s.terms[2].driver_glob, "vulkan");
    accel__selector_free(&s);
}

static void test_selector_parse_blanks(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("  cpu : 0 ,\t1 ; !  gpu\t:  * \t", &s);
    assert_int_equal(s.term_count, 2);
    assert_string_equal(s.terms[0].driver_glob, "cpu");
    assert_int_equal(s.terms[0].filter_count, 2);
    assert_int_equal(s.terms[0].filters[1].index, 1);
    assert_true(s.terms[1].discard);
    assert_string_equal(s.terms[1].driver_glob, "gpu");
    assert_int_equal(s.terms[1].filters[0].type, ACCEL__FILTER_ANY);
    accel__selector_free(&s);
}

static void test_selector_parse_trailing_semicolon(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("cpu:0;", &s);
    assert_int_equal(s.term_count, 1);
    accel__selector_free(&s);
    parse_ok("cpu:0;gpu:1 ;  ", &s);
    assert_int_equal(s.term_count, 2);
    accel__selector_free(&s);
}

static void test_selector_parse_only_discard(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("!cpu:*;!gpu:1", &s);
    assert_int_equal(s.term_count, 2);
    assert_int_equal(s.accept_count, 0);
    accel__selector_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Grammar: errors, each with the column of the fault                         */

typedef struct error_case {
    const char *text;
    const char *column; /* "column N:" */
    const char *needle; /* another part of the message */
} error_case;

static void test_selector_parse_errors(void **state)
{
    (void)state;
    const error_case cases[] = {
        {"", "column 1:", "empty term"},
        /* A blank term is reported where its blanks end. */
        {"   ", "column 1:", "empty term"},
        {";cpu:0", "column 1:", "empty term"},
        {"cpu:0;;gpu:0", "column 7:", "empty term"},
        {"cpu:0; ;gpu:0", "column 7:", "empty term"},
        {"cpu", "column 1:", "no ':'"},
        {"cpu:0;gpu", "column 7:", "no ':'"},
        {"  gpu 0", "column 3:", "no ':'"},
        {"!", "column 2:", "no ':'"},
        {":0", "column 1:", "driver name missing"},
        {"cpu:0; :1", "column 8:", "driver name missing"},
        {"! :1", "column 3:", "driver name missing"},
        {"c/u:0", "column 2:", "'/' is not allowed"},
        {"cpu:0;g$u:1", "column 8:", "'$' is not allowed"},
        {"!!cpu:0", "column 2:", "'!' is not allowed"},
        {"my driver:0", "column 3:", "' ' is not allowed"},
        {"cpu:tpu", "column 5:", "unknown filter \"tpu\""},
        {"cpu:0,GPU", "column 7:", "unknown filter"},
        {"cpu:uuid", "column 5:", "unknown filter"},
        {"cpu:-1", "column 5:", "unknown filter"},
        {"cpu: x", "column 6:", "unknown filter \"x\""},
        {"cpu:uuid=12g4", "column 12:", "'g' is not a hexadecimal digit"},
        {"cpu:uuid=0x12", "column 11:", "'x' is not a hexadecimal digit"},
        {"cpu:uuid= 12", "column 10:", "' ' is not a hexadecimal digit"},
        {"cpu:uuid=", "column 5:", "at least one hex digit"},
        {"cpu:uuid=---", "column 5:", "at least one hex digit"},
        {"cpu:uuid=00112233445566778899aabbccddeeff0", "column 42:", "longer than 32"},
        {"cpu:uuid=0011-2233-4455-6677-8899-aabb-ccdd-eeff-00", "column 50:", "longer than 32"},
        {"cpu:16777216", "column 5:", "too large"},
        {"cpu:99999999999999999999999999", "column 5:", "too large"},
        {"cpu:1x", "column 5:", "not a decimal number"},
        {"cpu:0 1", "column 5:", "not a decimal number"},
        {"cpu:0,,1", "column 7:", "empty filter"},
        {"cpu:", "column 5:", "empty filter"},
        {"cpu:0,", "column 7:", "empty filter"},
        {"cpu:,0", "column 5:", "empty filter"},
        {"cpu:0;gpu: , 1", "column 12:", "empty filter"},
        {"*:bus=", "column 7:", "is not a PCI address"},
        {"*:bus=3b", "column 7:", "bus filter \"3b\" is not a PCI address"},
        {"*:bus=0000:3b:00", "column 7:", "is not a PCI address"},
        {"*:bus=0000:3b:20.0", "column 7:", "is not a PCI address"},
        {"*:bus=0000:3b:00.8", "column 7:", "is not a PCI address"},
        {"*:bus=0000:3g:00.0", "column 7:", "is not a PCI address"},
        {"*:bus=000000000:3b:00.0", "column 7:", "is not a PCI address"},
        {"*:bus=0000:3b:00.0 x", "column 7:", "is not a PCI address"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[ERR_SIZE];
        accel__selector s;
        memset(err, 'X', sizeof(err));
        accel_result r = accel__selector_parse(cases[i].text, &s, err, sizeof(err));
        bool ok = r == ACCEL_ERROR_INVALID_SELECTOR && memchr(err, '\0', sizeof(err)) &&
                  strncmp(err, cases[i].column, strlen(cases[i].column)) == 0 && strstr(err, cases[i].needle);
        if (!ok) {
            print_error("\"%s\": got %s \"%.*s\"; want \"%s ... %s ...\"\n", cases[i].text, accel_result_name(r),
                        (int)sizeof(err), err, cases[i].column, cases[i].needle);
            bad++;
        }
        /* A failed parse leaves nothing to free, but freeing is allowed. */
        assert_int_equal(s.term_count, 0);
        assert_null(s.terms);
        accel__selector_free(&s);
    }
    assert_int_equal(bad, 0);
}

static void test_selector_allocation_failures(void **state)
{
    (void)state;
    char err[ERR_SIZE];
    accel__selector s;
    long n;
    for (n = 1; n < 100; n++) {
        long live = accel__alloc_live();
        accel__alloc_fail_at(n);
        accel_result r = accel__selector_parse("cpu:0,1;!gpu:*;open*:uuid=ab", &s, err, sizeof(err));
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS) {
            accel__selector_free(&s);
            break;
        }
        assert_int_equal(r, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
        accel__selector_free(&s);
        assert_int_equal(accel__alloc_live(), live);
    }
    /* The term array plus a glob and a filter array per term. */
    assert_true(n > 7 && n < 100);
}

/* ------------------------------------------------------------------------ */
/* Apply                                                                      */

static const uint8_t uuids[][ACCEL_UUID_SIZE] = {
    {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff},
    {0xa1, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {0xa2, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
    {0xb0, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3},
    {0xc0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4},
};

/* The devices of a machine with four drivers, in enumeration order. */
static const accel__selector_candidate candidates[] = {
    {"cpu", 0, ACCEL_DEVICE_KIND_CPU, uuids[0], ""},
    {"opencl", 0, ACCEL_DEVICE_KIND_GPU, uuids[1], "0000:3b:00.0"},
    {"opencl", 1, ACCEL_DEVICE_KIND_CPU, uuids[2], ""},
    {"vulkan", 0, ACCEL_DEVICE_KIND_GPU, uuids[3], "0000:3B:00.0"},
    {"fpga", 0, ACCEL_DEVICE_KIND_FPGA, uuids[4], "0000:af:00.0"},
};
#define NCAND (sizeof(candidates) / sizeof(candidates[0]))

/* Apply `text` (NULL: no selector) and compare with want[] (ended by -1). */
static void expect_order(const char *text, const int *want)
{
    accel__selector s, *sp = NULL;
    size_t order[NCAND + 1];
    char got_s[64] = "", want_s[64] = "";
    if (text) {
        parse_ok(text, &s);
        sp = &s;
    }
    /* A canary after the room given: apply must not write past n. */
    order[NCAND] = 0xdead;
    size_t n = accel__selector_apply(sp, candidates, NCAND, order);
    assert_int_equal(order[NCAND], 0xdead);
    for (size_t i = 0; i < n; i++)
        snprintf(got_s + strlen(got_s), sizeof(got_s) - strlen(got_s), "%zu ", order[i]);
    for (size_t i = 0; want[i] >= 0; i++)
        snprintf(want_s + strlen(want_s), sizeof(want_s) - strlen(want_s), "%d ", want[i]);
    if (strcmp(got_s, want_s) != 0)
        fail_msg("selector \"%s\": got [ %s] want [ %s]", text ? text : "(null)", got_s, want_s);
    if (sp)
        accel__selector_free(sp);
}

#define ORDER(text, ...) expect_order(text, (const int[]){__VA_ARGS__, -1})
#define NONE(text) expect_order(text, (const int[]){-1})

static void test_selector_apply_null_selects_all(void **state)
{
    (void)state;
    ORDER(NULL, 0, 1, 2, 3, 4);
}

static void test_selector_apply_accept_order_as_written(void **state)
{
    (void)state;
    ORDER("vulkan:0;cpu:0", 3, 0);
    ORDER("fpga:*;opencl:1;cpu:*", 4, 2, 0);
    /* Within one term, a driver's own order. */
    ORDER("opencl:*", 1, 2);
    ORDER("opencl:1,0", 1, 2);
    ORDER("*:gpu;*:*", 1, 3, 0, 2, 4);
    ORDER("*:fpga,gpu", 1, 3, 4);
    NONE("cpu:5");
    NONE("nothing:*");
}

static void test_selector_apply_duplicates_keep_first_place(void **state)
{
    (void)state;
    ORDER("opencl:1;opencl:*", 2, 1);
    ORDER("*:*;opencl:1", 0, 1, 2, 3, 4);
    ORDER("vulkan:0;*:gpu;vulkan:*", 3, 1);
    ORDER("cpu:0,0,*;cpu:0", 0);
}

static void test_selector_apply_discard_wins(void **state)
{
    (void)state;
    /* Wherever the '!' term is written. */
    ORDER("!opencl:gpu;opencl:*", 2);
    ORDER("opencl:*;!opencl:gpu", 2);
    ORDER("opencl:*;!*:0;vulkan:*", 2);
    NONE("opencl:1;!*:cpu");
    NONE("*:*;!*:*");
}

static void test_selector_apply_only_discard(void **state)
{
    (void)state;
    ORDER("!opencl:*", 0, 3, 4);
    ORDER("!*:gpu;!fpga:*", 0, 2);
    ORDER("!nothing:*", 0, 1, 2, 3, 4);
    NONE("!*:*");
}

static void test_selector_apply_uuid_prefix(void **state)
{
    (void)state;
    ORDER("*:uuid=a", 1, 2);
    ORDER("*:uuid=a2", 2);
    ORDER("*:uuid=A1-00", 1);
    ORDER("*:uuid=c0f", 4);
    NONE("*:uuid=c0e");
    ORDER("*:uuid=00112233-4455-6677-8899-aabbccddeeff", 0);
    NONE("*:uuid=00112233-4455-6677-8899-aabbccddeefe");
    ORDER("!*:uuid=b;*:uuid=b,uuid=0", 0);
}

/* bus= names the devices at one PCI address, whatever their drivers: the
 * interfaces of one physical device. */
static void test_selector_apply_bus_address(void **state)
{
    (void)state;
    ORDER("*:bus=0000:3b:00.0", 1, 3);
    ORDER("*:bus=3B:00.0", 1, 3);
    ORDER("vulkan:bus=3b:00.0", 3);
    ORDER("*:bus=af:00.0;*:bus=3b:00.0", 4, 1, 3);
    ORDER("!*:bus=3b:00.0", 0, 2, 4);
    NONE("*:bus=0001:3b:00.0");
    NONE("*:bus=3b:00.1");
}

static void test_selector_apply_globs(void **state)
{
    (void)state;
    ORDER("open*:*", 1, 2);
    ORDER("?pu:0", 0);
    ORDER("[cf]*:0", 0, 4);
    ORDER("*n*:0", 1, 3);
    NONE("OpenCL:*");
}

static void test_selector_term_matches(void **state)
{
    (void)state;
    accel__selector s;
    parse_ok("open*:1,fpga", &s);
    assert_false(accel__selector_term_matches(&s.terms[0], &candidates[0]));
    assert_false(accel__selector_term_matches(&s.terms[0], &candidates[1]));
    assert_true(accel__selector_term_matches(&s.terms[0], &candidates[2]));
    const accel__selector_candidate other = {"openfoo", 7, ACCEL_DEVICE_KIND_FPGA, uuids[0], ""};
    assert_true(accel__selector_term_matches(&s.terms[0], &other));
    accel__selector_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Driver glob lists                                                          */

static void test_selector_glob_list_match(void **state)
{
    (void)state;
    accel__strlist globs = {0};
    const char *which = NULL;
    assert_false(accel__glob_list_match(&globs, "cpu", &which));
    assert_null(which);

    assert_int_equal(accel__strlist_push(&globs, "open*"), 0);
    assert_int_equal(accel__strlist_push(&globs, "[a-c]pu"), 0);
    assert_int_equal(accel__strlist_push(&globs, "*"), 0);
    assert_true(accel__glob_list_match(&globs, "opencl", &which));
    assert_string_equal(which, "open*");
    assert_true(accel__glob_list_match(&globs, "cpu", &which));
    assert_string_equal(which, "[a-c]pu");
    /* The first matching glob is reported, not the most specific one. */
    assert_true(accel__glob_list_match(&globs, "vulkan", &which));
    assert_string_equal(which, "*");
    assert_true(accel__glob_list_match(&globs, "gpu", NULL));
    accel__strlist_free(&globs);

    assert_int_equal(accel__strlist_push(&globs, "cpu"), 0);
    assert_int_equal(accel__strlist_push(&globs, "vulkan?"), 0);
    which = NULL;
    assert_false(accel__glob_list_match(&globs, "cpu2", &which));
    assert_false(accel__glob_list_match(&globs, "CPU", &which));
    assert_false(accel__glob_list_match(&globs, "vulkan", &which));
    assert_false(accel__glob_list_match(&globs, "", &which));
    assert_null(which);
    assert_true(accel__glob_list_match(&globs, "vulkan2", &which));
    assert_string_equal(which, "vulkan?");
    accel__strlist_free(&globs);
}

/* ------------------------------------------------------------------------ */
/* Corpus                                                                     */

static void test_selector_corpus(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], err[ERR_SIZE];
    const char *prefixes[] = {"valid-", "invalid-"};
    int bad = 0;
    ut_path(dir, "%s/tests/corpus/selector", ut_source_root());
    for (int want_valid = 1; want_valid >= 0; want_valid--) {
        char **names;
        long count = ut_list_names(dir, prefixes[!want_valid], &names);
        assert_true(count > 0);
        for (long i = 0; i < count; i++) {
            size_t size;
            char *text = ut_read(ut_path(path, "%s/%s", dir, names[i]), &size);
            assert_non_null(text);
            accel__selector s;
            accel_result r = accel__selector_parse(text, &s, err, sizeof(err));
            if (want_valid && r != ACCEL_SUCCESS) {
                print_error("%s: expected to parse, got %s: %s\n", names[i], accel_result_name(r), err);
                bad++;
            } else if (!want_valid && (r != ACCEL_ERROR_INVALID_SELECTOR || !strstr(err, "column "))) {
                print_error("%s: expected a rejection with a column, got %s: %s\n", names[i],
                            accel_result_name(r), err);
                bad++;
            }
            if (r == ACCEL_SUCCESS) {
                size_t order[NCAND];
                assert_in_range(accel__selector_apply(&s, candidates, NCAND, order), 0, NCAND);
            }
            accel__selector_free(&s);
            free(text);
        }
        ut_free_names(names, count);
    }
    assert_int_equal(bad, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_selector_parse_index),
        T(test_selector_parse_kinds),
        T(test_selector_parse_uuid),
        T(test_selector_parse_any_and_globs),
        T(test_selector_parse_several_filters_and_terms),
        T(test_selector_parse_blanks),
        T(test_selector_parse_trailing_semicolon),
        T(test_selector_parse_only_discard),
        T(test_selector_parse_errors),
        T(test_selector_allocation_failures),
        T(test_selector_apply_null_selects_all),
        T(test_selector_apply_accept_order_as_written),
        T(test_selector_apply_duplicates_keep_first_place),
        T(test_selector_apply_discard_wins),
        T(test_selector_apply_only_discard),
        T(test_selector_apply_uuid_prefix),
        T(test_selector_apply_bus_address),
        T(test_selector_apply_globs),
        T(test_selector_term_matches),
        T(test_selector_glob_list_match),
        T(test_selector_corpus),
    };
    return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
