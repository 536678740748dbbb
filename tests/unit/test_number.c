/* test_number.c — accel__parse_uint (loader/os_posix.c), the parser of the
 * numbers in environment variables (ACCEL_DEVICE_TIMEOUT_MS,
 * ACCEL_PLACE_TIME_LIMIT_MS, ACCEL_RUN_PIPE_MAX), and
 * accel__os_physical_memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "os.h"

#define WHY_SIZE 96

/* s must parse to expect. */
static void parse_ok(const char *s, unsigned flags, uint64_t min, uint64_t max, uint64_t expect)
{
    uint64_t v = 12345;
    char why[WHY_SIZE] = "not written";
    if (!accel__parse_uint(s, flags, min, max, &v, why, sizeof(why)))
        fail_msg("\"%s\": %s", s, why);
    assert_int_equal(v, expect);
    assert_string_equal(why, "");
}

/* s must be refused with exactly the reason `reason`, leaving the value
 * alone. */
static void parse_bad(const char *s, unsigned flags, uint64_t min, uint64_t max, const char *reason)
{
    uint64_t v = 12345;
    char why[WHY_SIZE] = "";
    if (accel__parse_uint(s, flags, min, max, &v, why, sizeof(why)))
        fail_msg("\"%s\" parsed as %llu", s ? s : "(null)", (unsigned long long)v);
    assert_int_equal(v, 12345);
    assert_string_equal(why, reason);
}

static void test_number_decimal(void **state)
{
    (void)state;
    parse_ok("0", 0, 0, UINT64_MAX, 0);
    parse_ok("7", 0, 0, UINT64_MAX, 7);
    parse_ok("60000", 0, 0, UINT64_MAX, 60000);
    parse_ok("000123", 0, 0, UINT64_MAX, 123);
    parse_ok("18446744073709551615", 0, 0, UINT64_MAX, UINT64_MAX);
    /* The bounds themselves are accepted. */
    parse_ok("1", 0, 1, 10, 1);
    parse_ok("10", 0, 1, 10, 10);
}

static void test_number_empty(void **state)
{
    (void)state;
    parse_bad("", 0, 0, UINT64_MAX, "empty");
    parse_bad(NULL, 0, 0, UINT64_MAX, "empty");
}

static void test_number_negative(void **state)
{
    (void)state;
    /* strtoull would take "-1" as UINT64_MAX. */
    parse_bad("-1", 0, 0, UINT64_MAX, "negative");
    parse_bad("-0", 0, 0, UINT64_MAX, "negative");
    parse_bad("-", 0, 0, UINT64_MAX, "negative");
}

static void test_number_not_decimal(void **state)
{
    (void)state;
    parse_bad("+5", 0, 0, UINT64_MAX, "not a decimal number");
    parse_bad(" 5", 0, 0, UINT64_MAX, "not a decimal number");
    parse_bad("\t5", 0, 0, UINT64_MAX, "not a decimal number");
    parse_bad("abc", 0, 0, UINT64_MAX, "not a decimal number");
    parse_bad("K", ACCEL__UINT_SIZE_SUFFIX, 0, UINT64_MAX, "not a decimal number");
    parse_bad(".5", 0, 0, UINT64_MAX, "not a decimal number");
}

static void test_number_junk_after(void **state)
{
    (void)state;
    parse_bad("1ms", 0, 0, UINT64_MAX, "\"ms\" after the number");
    parse_bad("5 ", 0, 0, UINT64_MAX, "\" \" after the number");
    parse_bad("1.5", 0, 0, UINT64_MAX, "\".5\" after the number");
    parse_bad("0x10", 0, 0, UINT64_MAX, "\"x10\" after the number");
    parse_bad("1e3", 0, 0, UINT64_MAX, "\"e3\" after the number");
    /* Without the flag a suffix is junk like any other. */
    parse_bad("4K", 0, 0, UINT64_MAX, "\"K\" after the number");
    /* Long junk is cut short in the reason. */
    parse_bad("1abcdefghijklmnopqrstuvwxyz", 0, 0, UINT64_MAX, "\"abcdefghijklmnop...\" after the number");
}

static void test_number_too_large(void **state)
{
    (void)state;
    parse_bad("18446744073709551616", 0, 0, UINT64_MAX, "more than 18446744073709551615");
    parse_bad("99999999999999999999999999", 0, 0, UINT64_MAX, "more than 18446744073709551615");
    parse_bad("11", 0, 1, 10, "more than 10");
    /* Junk is named before an overflow. */
    parse_bad("99999999999999999999999999x", 0, 0, UINT64_MAX, "\"x\" after the number");
    /* The milliseconds of ACCEL_DEVICE_TIMEOUT_MS times 10^6 must fit. */
    parse_bad("18446744073710", 0, 0, UINT64_MAX / 1000000, "more than 18446744073709");
    parse_ok("18446744073709", 0, 0, UINT64_MAX / 1000000, UINT64_MAX / 1000000);
}

static void test_number_too_small(void **state)
{
    (void)state;
    parse_bad("0", 0, 1, UINT64_MAX, "less than 1");
    parse_bad("00", 0, 1, UINT64_MAX, "less than 1");
    parse_bad("0K", ACCEL__UINT_SIZE_SUFFIX, 1, UINT64_MAX, "less than 1");
}

static void test_number_size_suffix(void **state)
{
    (void)state;
    const unsigned f = ACCEL__UINT_SIZE_SUFFIX;
    parse_ok("12", f, 0, UINT64_MAX, 12);
    parse_ok("4K", f, 0, UINT64_MAX, 4096);
    parse_ok("3M", f, 0, UINT64_MAX, 3u << 20);
    parse_ok("2G", f, 0, UINT64_MAX, (uint64_t)2 << 30);
    parse_ok("17179869183G", f, 0, UINT64_MAX, (uint64_t)17179869183 << 30);
    parse_bad("17179869184G", f, 0, UINT64_MAX, "more than 18446744073709551615");
    parse_bad("2K", f, 0, 2047, "more than 2047");
    parse_bad("4k", f, 0, UINT64_MAX, "\"k\" after the number (the suffixes are K, M and G)");
    parse_bad("4T", f, 0, UINT64_MAX, "\"T\" after the number (the suffixes are K, M and G)");
    parse_bad("4KB", f, 0, UINT64_MAX, "\"B\" after the number (the suffixes are K, M and G)");
    parse_bad("4KK", f, 0, UINT64_MAX, "\"K\" after the number (the suffixes are K, M and G)");
    parse_bad("-4K", f, 0, UINT64_MAX, "negative");
}

/* The reason is cut to the caller's buffer, and no buffer is fine too. */
static void test_number_small_reason_buffer(void **state)
{
    (void)state;
    uint64_t v = 0;
    char why[8];
    assert_false(accel__parse_uint("1ms", 0, 0, UINT64_MAX, &v, why, sizeof(why)));
    assert_string_equal(why, "\"ms\" af");
    assert_false(accel__parse_uint("1ms", 0, 0, UINT64_MAX, &v, NULL, 0));
    assert_true(accel__parse_uint("42", 0, 0, UINT64_MAX, &v, NULL, 0));
    assert_int_equal(v, 42);
}

static void test_number_physical_memory(void **state)
{
    (void)state;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        skip();
    assert_int_equal(accel__os_physical_memory(), (uint64_t)pages * (uint64_t)page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_decimal),
        cmocka_unit_test(test_number_empty),
        cmocka_unit_test(test_number_negative),
        cmocka_unit_test(test_number_not_decimal),
        cmocka_unit_test(test_number_junk_after),
        cmocka_unit_test(test_number_too_large),
        cmocka_unit_test(test_number_too_small),
        cmocka_unit_test(test_number_size_suffix),
        cmocka_unit_test(test_number_small_reason_buffer),
        cmocka_unit_test(test_number_physical_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
