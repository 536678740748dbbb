/* test_search.c — manifest discovery (loader/search.c): the environment
 * overrides, the XDG directories and their HOME fallbacks, the order of files
 * within a directory, deduplication, and the string helpers it relies on.
 *
 * The tests change their own process's environment and working directory,
 * so the executable must not run in parallel with itself (it does not share
 * anything with other executables: every path lives in its own temporary
 * directory). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../loader/support_env.h"
#include "unit_util.h"

#include "alloc.h"
#include "search.h"
#include "util.h"

#ifndef TEST_SYSCONFDIR
#error "the build passes the loader's sysconfdir as TEST_SYSCONFDIR"
#endif
#ifndef TEST_DATADIR
#error "the build passes the loader's datadir as TEST_DATADIR"
#endif

#define ICD "accel/icd.d"

/* The root of this test's files and the directory the test started in. */
static char root[PATH_MAX];
static char start_cwd[PATH_MAX];
static long live_at_start;

/* Change a variable the case's setup pushed (push_value): the teardown puts
 * it back as it was before the case. */
static void set(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set(const char *name, const char *fmt, ...)
{
    char value[4 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    assert_int_equal(setenv(name, value, 1), 0);
}

static void push_value(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push_value(const char *name, const char *fmt, ...)
{
    char value[4 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    ts_env_push(name, value);
}

/*
 * Every test starts with all discovery variables pointing into its own
 * root, none of which exist yet, and no ACCEL_* overrides. Those are the
 * only variables a case changes (set, unsetenv); the teardown puts them
 * back, also when an assertion ended the case.
 */
static int setup(void **state)
{
    live_at_start = accel__alloc_live();
    if (!getcwd(start_cwd, sizeof(start_cwd)))
        return -1;
    if (ut_tmpdir(root, "search") != 0)
        return -1;
    ts_env_case_setup(state);
    ts_env_push("ACCEL_DRIVER_FILES", NULL);
    ts_env_push("ACCEL_ADD_DRIVER_FILES", NULL);
    push_value("HOME", "%s/home", root);
    push_value("XDG_CONFIG_HOME", "%s/ch", root);
    push_value("XDG_CONFIG_DIRS", "%s/cd1:%s/cd2", root, root);
    push_value("XDG_DATA_HOME", "%s/dh", root);
    push_value("XDG_DATA_DIRS", "%s/dd1:%s/dd2", root, root);
    return 0;
}

static int teardown(void **state)
{
    ts_env_case_teardown(state);
    int rc = chdir(start_cwd);
    ut_rm_rf(root);
    accel__alloc_fail_at(0);
    assert_int_equal(accel__alloc_live(), live_at_start);
    return rc;
}

/* Create root/rel (and its directories) holding a tiny manifest. */
static void mkfile(const char *rel)
{
    char path[PATH_MAX];
    ut_path(path, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(ut_mkdir_p(path), 0);
    *slash = '/';
    assert_int_equal(ut_write_str(NULL, path, "{}"), 0);
}

static void mkdir_in_root(const char *rel)
{
    char path[PATH_MAX];
    assert_int_equal(ut_mkdir_p(ut_path(path, "%s/%s", root, rel)), 0);
}

static void symlink_in_root(const char *target, const char *rel)
{
    char path[PATH_MAX];
    assert_int_equal(symlink(target, ut_path(path, "%s/%s", root, rel)), 0);
}

static int log_lines;

static void count_log(void *user_data, accel_log_level level, const char *message)
{
    (void)user_data;
    (void)level;
    assert_non_null(message);
    log_lines++;
}

/*
 * Describe what a search found under root: the entries' paths relative to
 * root, separated by one blank, each with a leading '!' if it carries a
 * reason. Entries outside root (manifests installed on this machine under
 * the loader's own sysconfdir or datadir) are left out.
 */
static void describe(const accel__search_result *r, char *out, size_t size)
{
    size_t rootlen = strlen(root);
    out[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        const char *p = r->entries[i].path;
        assert_non_null(p);
        if (strncmp(p, root, rootlen) != 0 || p[rootlen] != '/')
            continue;
        if (r->entries[i].reason)
            assert_true(r->entries[i].reason[0] != '\0');
        snprintf(out + strlen(out), size - strlen(out), "%s%s%s", out[0] ? " " : "",
                 r->entries[i].reason ? "!" : "", p + rootlen + 1);
    }
}

/* Run the search and compare what it found under root with `want`. */
static void expect_search(const accel__strlist *explicit_paths, const char *want)
{
    accel__logger lg = {.callback = count_log, .callback_mask = ACCEL_LOG_ALL};
    accel__search_result r;
    char got[8192];
    assert_int_equal(accel__search(explicit_paths, &lg, &r), ACCEL_SUCCESS);
    describe(&r, got, sizeof(got));
    accel__search_result_free(&r);
    if (strcmp(got, want) != 0)
        fail_msg("search found\n  [%s]\nexpected\n  [%s]", got, want);
}

/* ------------------------------------------------------------------------ */
/* Environment overrides                                                      */

static void test_search_driver_files_replaces(void **state)
{
    (void)state;
    mkfile("ch/" ICD "/home.json");
    mkfile("dd1/" ICD "/data.json");
    mkfile("explicit/b.json");
    mkfile("explicit/a.json");
    mkfile("single/one.json");
    mkfile("added/x.json");
    /* Blanks and empty items of the list are dropped. */
    set("ACCEL_DRIVER_FILES", " %s/single/one.json ::%s/explicit:", root, root);
    /* ACCEL_ADD_DRIVER_FILES has no effect once discovery is replaced. */
    set("ACCEL_ADD_DRIVER_FILES", "%s/added", root);
    expect_search(NULL, "single/one.json explicit/a.json explicit/b.json");
}

static void test_search_add_driver_files_first(void **state)
{
    (void)state;
    mkfile("ch/" ICD "/1-home.json");
    mkfile("dd2/" ICD "/0-data.json");
    mkfile("added/z.json");
    mkfile("added2/m.json");
    set("ACCEL_ADD_DRIVER_FILES", "%s/added2/m.json:%s/added", root, root);
    expect_search(NULL, "added2/m.json added/z.json ch/" ICD "/1-home.json dd2/" ICD "/0-data.json");
}

static void test_search_explicit_list_wins(void **state)
{
    (void)state;
    accel__strlist paths = {0};
    char path[PATH_MAX];
    mkfile("ch/" ICD "/home.json");
    mkfile("env/e.json");
    mkfile("app/a.json");
    set("ACCEL_DRIVER_FILES", "%s/env", root);
    set("ACCEL_ADD_DRIVER_FILES", "%s/env", root);
    assert_int_equal(accel__strlist_push(&paths, ut_path(path, "%s/app", root)), 0);
    assert_int_equal(accel__strlist_push(&paths, ut_path(path, "%s/app/none.json", root)), 0);
    expect_search(&paths, "app/a.json !app/none.json");
    accel__strlist_free(&paths);
}

/* ------------------------------------------------------------------------ */
/* Default directories                                                        */

static void test_search_xdg_order(void **state)
{
    (void)state;
    /* Names chosen so that sorting the paths would give another order. */
    mkfile("dd2/" ICD "/0.json");
    mkfile("dd1/" ICD "/1.json");
    mkfile("dh/" ICD "/2.json");
    mkfile("cd2/" ICD "/3.json");
    mkfile("cd1/" ICD "/4.json");
    mkfile("ch/" ICD "/5.json");
    /* HOME is not used while the XDG variables are set. */
    mkfile("home/.config/" ICD "/home-config.json");
    mkfile("home/.local/share/" ICD "/home-data.json");
    expect_search(NULL, "ch/" ICD "/5.json cd1/" ICD "/4.json cd2/" ICD "/3.json dh/" ICD "/2.json dd1/" ICD
                        "/1.json dd2/" ICD "/0.json");
}

static void test_search_home_fallbacks(void **state)
{
    (void)state;
    mkfile("home/.config/" ICD "/c.json");
    mkfile("home/.local/share/" ICD "/b.json");
    mkfile("cd1/" ICD "/a.json");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_DATA_HOME");
    expect_search(NULL, "home/.config/" ICD "/c.json cd1/" ICD "/a.json home/.local/share/" ICD "/b.json");

    /* Empty counts as unset. */
    set("XDG_CONFIG_HOME", "%s", "");
    set("XDG_DATA_HOME", "%s", "");
    expect_search(NULL, "home/.config/" ICD "/c.json cd1/" ICD "/a.json home/.local/share/" ICD "/b.json");

    /* Without HOME either, those two places are simply not searched. */
    unsetenv("HOME");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_DATA_HOME");
    expect_search(NULL, "cd1/" ICD "/a.json");
}

static void test_search_relative_xdg_ignored(void **state)
{
    (void)state;
    /* Relative entries would find these files from the working directory. */
    assert_int_equal(chdir(root), 0);
    mkfile("rel-ch/" ICD "/ch.json");
    mkfile("rel-cd/" ICD "/cd.json");
    mkfile("rel-dh/" ICD "/dh.json");
    mkfile("rel-dd/" ICD "/dd.json");
    mkfile("home/.config/" ICD "/home.json");
    mkfile("cd2/" ICD "/abs.json");
    set("XDG_CONFIG_HOME", "rel-ch");
    set("XDG_CONFIG_DIRS", "rel-cd:./rel-cd:%s/cd2", root);
    set("XDG_DATA_HOME", "rel-dh");
    set("XDG_DATA_DIRS", "rel-dd");
    /* A relative XDG_CONFIG_HOME is invalid and falls back to HOME. */
    expect_search(NULL, "home/.config/" ICD "/home.json cd2/" ICD "/abs.json");

    set("HOME", "home");
    expect_search(NULL, "cd2/" ICD "/abs.json");
}

static void test_search_strcmp_order_in_dir(void **state)
{
    (void)state;
    const char *names[] = {"b.json", "a.json", "A.json", "10.json", "9.json", "_x.json", "Z.json", "ab.json",
                           "a-b.json"};
    char rel[PATH_MAX];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        mkfile(ut_path(rel, "ch/" ICD "/%s", names[i]));
#define P "ch/" ICD "/"
    expect_search(NULL, P "10.json " P "9.json " P "A.json " P "Z.json " P "_x.json " P "a-b.json " P "a.json " P
                            "ab.json " P "b.json");
#undef P
}

static void test_search_non_json_ignored(void **state)
{
    (void)state;
    mkfile("ch/" ICD "/ok.json");
    mkfile("ch/" ICD "/ok.json.bak");
    mkfile("ch/" ICD "/ok.json~");
    mkfile("ch/" ICD "/notes.txt");
    mkfile("ch/" ICD "/upper.JSON");
    mkfile("ch/" ICD "/.json");
    mkfile("ch/" ICD "/json");
    mkdir_in_root("ch/" ICD "/subdir.json");
    mkfile("ch/" ICD "/subdir.json/inner.json");
    symlink_in_root("missing-target", "ch/" ICD "/dangling.json");
    symlink_in_root("subdir.json", "ch/" ICD "/link-to-dir.json");
    mkfile("elsewhere/real.json");
    /* A link to a regular file counts as that file. */
    symlink_in_root("../../../elsewhere/real.json", "ch/" ICD "/outside.json");
    expect_search(NULL, "ch/" ICD "/ok.json ch/" ICD "/outside.json");
}

static void test_search_same_file_listed_once(void **state)
{
    (void)state;
    mkfile("ch/" ICD "/a.json");
    mkfile("ch/" ICD "/b.json");
    /* The same directory under two names, and twice in one list. */
    symlink_in_root("ch", "alias");
    set("XDG_CONFIG_DIRS", "%s/alias:%s/ch", root, root);
    set("XDG_DATA_DIRS", "%s/ch//:%s/ch", root, root);
    expect_search(NULL, "ch/" ICD "/a.json ch/" ICD "/b.json");

    set("ACCEL_DRIVER_FILES", "%s/ch/" ICD "/b.json:%s/ch/" ICD ":%s/alias/" ICD "/../icd.d/a.json", root, root,
        root);
    expect_search(NULL, "ch/" ICD "/b.json ch/" ICD "/a.json");
}

static void test_search_missing_explicit_listed(void **state)
{
    (void)state;
    accel__search_result r;
    char want[PATH_MAX];
    mkfile("there/ok.json");
    mkfile("there/manifest.txt");
    set("ACCEL_DRIVER_FILES", "%s/gone.json:%s/there/ok.json:%s/no-such-dir:%s/there/manifest.txt", root, root,
        root, root);
    /* A file named explicitly is used whatever its name. */
    expect_search(NULL, "!gone.json there/ok.json !no-such-dir there/manifest.txt");

    assert_int_equal(accel__search(NULL, NULL, &r), ACCEL_SUCCESS);
    assert_int_equal(r.count, 4);
    assert_string_equal(r.entries[0].path, ut_path(want, "%s/gone.json", root));
    assert_non_null(r.entries[0].reason);
    assert_non_null(strstr(r.entries[0].reason, strerror(ENOENT)));
    assert_null(r.entries[1].reason);
    assert_non_null(strstr(r.entries[2].reason, strerror(ENOENT)));
    accel__search_result_free(&r);

    /* Missing ACCEL_ADD_DRIVER_FILES entries are reported the same way. */
    unsetenv("ACCEL_DRIVER_FILES");
    set("ACCEL_ADD_DRIVER_FILES", "%s/gone.json", root);
    expect_search(NULL, "!gone.json");
}

static void test_search_missing_default_dirs_skipped(void **state)
{
    (void)state;
    accel__search_result r;
    /* Nothing exists under root: nothing is listed there and nothing at all
     * carries a reason. */
    expect_search(NULL, "");
    assert_int_equal(accel__search(NULL, NULL, &r), ACCEL_SUCCESS);
    for (size_t i = 0; i < r.count; i++)
        assert_null(r.entries[i].reason);
    accel__search_result_free(&r);
}

/*
 * Fail each allocation in turn: the search either reports
 * OUT_OF_HOST_MEMORY having freed everything, or succeeds with exactly the
 * list it gives without failures (a failure must never be mistaken for
 * "no duplicate" or "no reason").
 */
static void test_search_allocation_failures(void **state)
{
    (void)state;
    char want[8192], got[8192];
    accel__search_result r;
    int failures = 0;
    mkfile("ch/" ICD "/a.json");
    mkfile("cd1/" ICD "/b.json");
    mkfile("added/c.json");
    symlink_in_root("ch", "alias");
    set("XDG_DATA_DIRS", "%s/alias", root);
    set("ACCEL_ADD_DRIVER_FILES", "%s/added:%s/missing", root, root);
    assert_int_equal(accel__search(NULL, NULL, &r), ACCEL_SUCCESS);
    describe(&r, want, sizeof(want));
    accel__search_result_free(&r);
    assert_string_equal(want, "added/c.json !missing ch/" ICD "/a.json cd1/" ICD "/b.json");

    for (long n = 1; n < 300; n++) {
        long live = accel__alloc_live();
        accel__alloc_fail_at(n);
        accel_result res = accel__search(NULL, NULL, &r);
        accel__alloc_fail_at(0);
        if (res == ACCEL_SUCCESS) {
            describe(&r, got, sizeof(got));
            accel__search_result_free(&r);
            if (strcmp(got, want) != 0) {
                print_error("allocation %ld failed: listed [%s]\n", n, got);
                failures++;
            }
        } else {
            assert_int_equal(res, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
            assert_int_equal(r.count, 0);
            assert_null(r.entries);
        }
        assert_int_equal(accel__alloc_live(), live);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------------ */
/* accel__search_default_dirs                                                 */

static void expect_dirs(const char *const *want, size_t n)
{
    accel__strlist dirs = {0};
    assert_int_equal(accel__search_default_dirs(&dirs), ACCEL_SUCCESS);
    for (size_t i = 0; i < dirs.count && i < n; i++)
        if (strcmp(dirs.items[i], want[i]) != 0)
            fail_msg("dir %zu: got %s, want %s", i, dirs.items[i], want[i]);
    assert_int_equal(dirs.count, n);
    accel__strlist_free(&dirs);
}

static void test_search_default_dirs_order(void **state)
{
    (void)state;
    set("XDG_CONFIG_HOME", "/x/ch");
    set("XDG_CONFIG_DIRS", "/x/cd1: relative ::/x/cd2/");
    set("XDG_DATA_HOME", "/x/dh");
    set("XDG_DATA_DIRS", "/x/dd1:/x/dd2");
    const char *want[] = {
        "/x/ch/" ICD, "/x/cd1/" ICD, "/x/cd2/" ICD, TEST_SYSCONFDIR "/" ICD,
        "/x/dh/" ICD, "/x/dd1/" ICD, "/x/dd2/" ICD, TEST_DATADIR "/" ICD,
    };
    expect_dirs(want, sizeof(want) / sizeof(want[0]));
}

static void test_search_default_dirs_fallbacks(void **state)
{
    (void)state;
    set("HOME", "/h/me/");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_CONFIG_DIRS");
    unsetenv("XDG_DATA_HOME");
    unsetenv("XDG_DATA_DIRS");
    const char *want[] = {
        "/h/me/.config/" ICD,        "/etc/xdg/" ICD,   TEST_SYSCONFDIR "/" ICD, "/h/me/.local/share/" ICD,
        "/usr/local/share/" ICD,     "/usr/share/" ICD, TEST_DATADIR "/" ICD,
    };
    expect_dirs(want, sizeof(want) / sizeof(want[0]));

    /* Only relative entries: as if the variables were unset, except that
     * the *_DIRS lists then contribute nothing. */
    set("XDG_CONFIG_HOME", "cfg");
    set("XDG_CONFIG_DIRS", "a:b");
    set("XDG_DATA_HOME", "~/data");
    set("XDG_DATA_DIRS", "c");
    unsetenv("HOME");
    const char *want2[] = {TEST_SYSCONFDIR "/" ICD, TEST_DATADIR "/" ICD};
    expect_dirs(want2, sizeof(want2) / sizeof(want2[0]));
}

/* ------------------------------------------------------------------------ */
/* String helpers                                                             */

/* Split and compare with want, the items joined by '|'. */
static void expect_split(const char *s, char sep, const char *want)
{
    accel__strlist list = {0};
    char got[512] = "";
    assert_int_equal(accel__split(s, sep, &list), 0);
    for (size_t i = 0; i < list.count; i++) {
        assert_true(list.items[i][0] != '\0');
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "|" : "", list.items[i]);
    }
    accel__strlist_free(&list);
    if (strcmp(got, want) != 0)
        fail_msg("split(\"%s\", '%c'): got \"%s\", want \"%s\"", s, sep, got, want);
}

static void test_search_split(void **state)
{
    (void)state;
    expect_split("", ':', "");
    expect_split(":::", ':', "");
    expect_split(" \t: \n :\r", ':', "");
    expect_split("a", ':', "a");
    expect_split("a:b", ':', "a|b");
    expect_split("::a::b::", ':', "a|b");
    expect_split("  a b  :\tc\n", ':', "a b|c");
    expect_split("cpu, open*,,gpu ", ',', "cpu|open*|gpu");
    expect_split("a:b", ',', "a:b");
    expect_split("/x/y:/z", ':', "/x/y|/z");

    /* Appends to what the list holds. */
    accel__strlist list = {0};
    assert_int_equal(accel__split("a:b", ':', &list), 0);
    assert_int_equal(accel__split("c", ':', &list), 0);
    assert_int_equal(list.count, 3);
    assert_string_equal(list.items[2], "c");
    accel__strlist_free(&list);
}

static void test_search_parse_version(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
        unsigned major, minor, patch;
    } cases[] = {
        {"1.0", true, 1, 0, 0},
        {"1.2.3", true, 1, 2, 3},
        {"0.0.0", true, 0, 0, 0},
        {"65535.65535.65535", true, 65535, 65535, 65535},
        {"01.002.0003", true, 1, 2, 3},
        {"65536.0", false, 0, 0, 0},
        {"1.65536", false, 0, 0, 0},
        {"1.0.65536", false, 0, 0, 0},
        {"4294967297.0", false, 0, 0, 0},
        {"", false, 0, 0, 0},
        {"1", false, 0, 0, 0},
        {"1.", false, 0, 0, 0},
        {".1", false, 0, 0, 0},
        {"1.0.", false, 0, 0, 0},
        {"1..0", false, 0, 0, 0},
        {"1.0.0.0", false, 0, 0, 0},
        {"1.0 ", false, 0, 0, 0},
        {" 1.0", false, 0, 0, 0},
        {"+1.0", false, 0, 0, 0},
        {"1.-1", false, 0, 0, 0},
        {"1.0a", false, 0, 0, 0},
        {"a.b", false, 0, 0, 0},
        {"1,0", false, 0, 0, 0},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned ma = 99, mi = 99, pa = 99;
        bool ok = accel__parse_version(cases[i].s, &ma, &mi, &pa);
        if (ok != cases[i].ok ||
            (ok && (ma != cases[i].major || mi != cases[i].minor || pa != cases[i].patch))) {
            print_error("\"%s\": got %d %u.%u.%u\n", cases[i].s, ok, ma, mi, pa);
            bad++;
        }
    }
    assert_int_equal(bad, 0);

    /* The patch is optional on output too. */
    unsigned ma, mi;
    assert_true(accel__parse_version("3.4.5", &ma, &mi, NULL));
    assert_int_equal(ma, 3);
    assert_int_equal(mi, 4);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_search_driver_files_replaces),
        T(test_search_add_driver_files_first),
        T(test_search_explicit_list_wins),
        T(test_search_xdg_order),
        T(test_search_home_fallbacks),
        T(test_search_relative_xdg_ignored),
        T(test_search_strcmp_order_in_dir),
        T(test_search_non_json_ignored),
        T(test_search_same_file_listed_once),
        T(test_search_missing_explicit_listed),
        T(test_search_missing_default_dirs_skipped),
        T(test_search_allocation_failures),
        T(test_search_default_dirs_order),
        T(test_search_default_dirs_fallbacks),
        T(test_search_split),
        T(test_search_parse_version),
    };
    return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
