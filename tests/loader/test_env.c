/* test_env.c — every environment variable the loader reads, and how they
 * combine with each other and with accel_instance_options.
 *
 * Default discovery also searches the loader's compiled-in sysconfdir and
 * datadir, which may hold installed manifests: those tests check the
 * positions of their own manifests, never totals. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

typedef ts_traced fixture;

static const char *const all_fakes[] = {"good_a", "good_b", "good_c", "good_d", "refuse", NULL};

static int setup(void **state)
{
    fixture *f = ts_traced_create("env");
    /* Discovery only sees what each test creates (plus the compiled-in
     * directories). */
    char *none = ts_printf("%s/none", f->dir);
    const char *vars[] = {"XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_HOME", "XDG_DATA_DIRS", "HOME"};
    for (size_t i = 0; i < 5; i++)
        ts_setenv(vars[i], none);
    free(none);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    ts_traced_destroy(*state);
    return 0;
}

/* f->dir/<sub> */
static char *sub(const fixture *f, const char *s)
{
    return ts_printf("%s/%s", f->dir, s);
}

/* f->dir/<base>/accel/icd.d */
static char *icd_dir(const fixture *f, const char *base)
{
    return ts_printf("%s/%s/accel/icd.d", f->dir, base);
}

static void assert_no_fake_mapped(void)
{
    for (size_t i = 0; all_fakes[i]; i++) {
        char *lib = ts_fake_lib(all_fakes[i]);
        if (ts_lib_mapped(lib))
            fail_msg("%s is mapped", lib);
        free(lib);
    }
}

static accel_instance *create_ok(const accel_instance_options *o)
{
    accel_instance *inst = NULL;
    accel_result r = accel_instance_create(o, &inst);
    if (r != ACCEL_SUCCESS)
        fail_msg("accel_instance_create: %s: %s", accel_result_name(r), accel_last_error_message());
    return inst;
}

static uint32_t manifest_count(accel_instance *inst)
{
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_manifests(inst, &n, NULL), ACCEL_SUCCESS);
    return n;
}

static accel_manifest_status status_of(accel_instance *inst, const char *path)
{
    accel_manifest_info mi;
    if (!ts_manifest_info(inst, path, &mi))
        fail_msg("%s is not among the manifests", path);
    return mi.status;
}

/* ------------------------------------------------------------------------ */
/* Where manifests come from                                                  */

static void test_env_driver_files_files_and_dirs(void **state)
{
    fixture *f = *state;
    char *lone = ts_write_fake_manifest(f->dir, "lone.json", "good_c");
    char *dir = sub(f, "set");
    char *b = ts_write_fake_manifest(dir, "b.json", "good_b");
    char *a = ts_write_fake_manifest(dir, "a.json", "good_a");
    char *txt = ts_write_text(dir, "notes.txt", "not a manifest");
    char *xdg = icd_dir(f, "config");
    char *hidden = ts_write_fake_manifest(xdg, "xdg.json", "good_d");
    char *config = sub(f, "config");
    ts_setenv("XDG_CONFIG_HOME", config);

    /* Empty items are ignored. */
    char *value = ts_printf(":%s::%s:", lone, dir);
    ts_setenv("ACCEL_DRIVER_FILES", value);
    accel_instance *inst = create_ok(NULL);
    assert_int_equal(manifest_count(inst), 3); /* replaces discovery: nothing else */
    assert_int_equal(ts_manifest_index(inst, lone), 0);
    assert_int_equal(ts_manifest_index(inst, a), 1);
    assert_int_equal(ts_manifest_index(inst, b), 2);
    assert_int_equal(ts_manifest_index(inst, hidden), -1);
    assert_int_equal(ts_manifest_index(inst, txt), -1);
    char *list = ts_device_list(inst);
    assert_string_equal(
        list, "fake_good_c:0 fake_good_c:1 fake_good_a:0 fake_good_a:1 fake_good_b:0 fake_good_b:1");
    free(list);
    accel_instance_destroy(inst);

    /* A path that does not exist is reported, not silently dropped. */
    char *absent = sub(f, "absent.json");
    free(value);
    value = ts_printf("%s:%s", absent, lone);
    ts_setenv("ACCEL_DRIVER_FILES", value);
    inst = create_ok(NULL);
    assert_int_equal(manifest_count(inst), 2);
    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, absent, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "No such file"));
    assert_int_equal(status_of(inst, lone), ACCEL_MANIFEST_LOADED);
    accel_instance_destroy(inst);

    free(absent);
    free(value);
    free(config);
    free(hidden);
    free(xdg);
    free(txt);
    free(a);
    free(b);
    free(dir);
    free(lone);
}

static void test_env_add_driver_files_before_defaults(void **state)
{
    fixture *f = *state;
    char *dir = sub(f, "added");
    char *added = ts_write_fake_manifest(dir, "added.json", "good_a");
    char *xdg = icd_dir(f, "config");
    char *found = ts_write_fake_manifest(xdg, "found.json", "good_b");
    char *config = sub(f, "config");
    ts_setenv("XDG_CONFIG_HOME", config);
    ts_setenv("ACCEL_ADD_DRIVER_FILES", dir);

    accel_instance *inst = create_ok(NULL);
    int ia = ts_manifest_index(inst, added), ib = ts_manifest_index(inst, found);
    assert_int_equal(ia, 0);
    assert_true(ib > ia);
    assert_int_equal(status_of(inst, added), ACCEL_MANIFEST_LOADED);
    assert_int_equal(status_of(inst, found), ACCEL_MANIFEST_LOADED);
    accel_instance_destroy(inst);

    /* Searched first, so it wins a duplicate name against the defaults. */
    char *shadow = ts_write_fake_manifest(xdg, "shadow.json", "good_a");
    inst = create_ok(NULL);
    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, shadow, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, added));
    accel_instance_destroy(inst);

    /* Both set: ACCEL_DRIVER_FILES wins, the additions are not searched. */
    char *only = ts_write_fake_manifest(f->dir, "only.json", "good_c");
    ts_setenv("ACCEL_DRIVER_FILES", only);
    inst = create_ok(NULL);
    assert_int_equal(manifest_count(inst), 1);
    assert_int_equal(ts_manifest_index(inst, only), 0);
    accel_instance_destroy(inst);

    free(only);
    free(shadow);
    free(config);
    free(found);
    free(xdg);
    free(added);
    free(dir);
}

/* $XDG_CONFIG_HOME, $XDG_CONFIG_DIRS, sysconfdir, $XDG_DATA_HOME,
 * $XDG_DATA_DIRS, datadir. */
static void test_env_xdg_search_order(void **state)
{
    fixture *f = *state;
    static const char *const bases[] = {"config_home", "config_dir1", "config_dir2",
                                        "data_home",   "data_dir1",   "data_dir2"};
    char *paths[6];
    char *lib = ts_fake_lib("good_a");
    for (size_t i = 0; i < 6; i++) {
        char *d = icd_dir(f, bases[i]);
        char *name = ts_printf("order_%zu", i);
        /* File names in reverse so that only the directory order can explain the result. */
        char *file = ts_printf("%c.json", (char)('z' - i));
        paths[i] = ts_write_manifest(d, file, name, lib);
        free(file);
        free(name);
        free(d);
    }
    char *v;
    ts_setenv("XDG_CONFIG_HOME", v = sub(f, "config_home"));
    free(v);
    v = ts_printf("relative/ignored:%s/config_dir1:%s/config_dir2", f->dir, f->dir);
    ts_setenv("XDG_CONFIG_DIRS", v);
    free(v);
    ts_setenv("XDG_DATA_HOME", v = sub(f, "data_home"));
    free(v);
    v = ts_printf("%s/data_dir1:%s/data_dir2", f->dir, f->dir);
    ts_setenv("XDG_DATA_DIRS", v);
    free(v);

    accel_instance *inst = create_ok(NULL);
    int last = -1;
    for (size_t i = 0; i < 6; i++) {
        int idx = ts_manifest_index(inst, paths[i]);
        if (idx <= last)
            fail_msg("%s is at %d, after the previous directory's manifest at %d", paths[i], idx, last);
        last = idx;
    }
    /* Only the first of the six manifests, which share a library, loads. */
    assert_int_equal(status_of(inst, paths[0]), ACCEL_MANIFEST_LOADED);
    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, paths[3], &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "same library"));
    accel_instance_destroy(inst);

    for (size_t i = 0; i < 6; i++)
        free(paths[i]);
    free(lib);
}

/* The same driver name in two directories: the first found wins. */
static void test_env_xdg_first_found_wins(void **state)
{
    fixture *f = *state;
    char *cdir = icd_dir(f, "config"), *ddir = icd_dir(f, "data");
    char *lib_a = ts_fake_lib("good_a"), *lib_b = ts_fake_lib("good_b");
    /* The same file name and driver name, different libraries. */
    char *first = ts_write_manifest(cdir, "same.json", "fake_same", lib_b);
    char *second = ts_write_manifest(ddir, "same.json", "fake_same", lib_a);
    char *v;
    ts_setenv("XDG_CONFIG_HOME", v = sub(f, "config"));
    free(v);
    ts_setenv("XDG_DATA_HOME", v = sub(f, "data"));
    free(v);

    accel_instance *inst = create_ok(NULL);
    assert_true(ts_manifest_index(inst, first) < ts_manifest_index(inst, second));
    assert_int_equal(status_of(inst, first), ACCEL_MANIFEST_LOADED);
    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, second, &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "same driver name"));
    assert_non_null(strstr(mi.reason, first));
    assert_true(ts_lib_mapped(lib_b));
    assert_false(ts_lib_mapped(lib_a));
    char *list = ts_device_list(inst);
    assert_string_equal(list, "fake_same:0 fake_same:1");
    free(list);
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    assert_string_equal(ts_device_info(d[0]).name, "good_b gpu0");
    free(d);
    accel_instance_destroy(inst);

    free(first);
    free(second);
    free(lib_a);
    free(lib_b);
    free(cdir);
    free(ddir);
}

/* Without (absolute) XDG_*_HOME, $HOME/.config and $HOME/.local/share. */
static void test_env_home_fallback(void **state)
{
    fixture *f = *state;
    char *cdir = ts_printf("%s/home/.config/accel/icd.d", f->dir);
    char *ddir = ts_printf("%s/home/.local/share/accel/icd.d", f->dir);
    char *c = ts_write_fake_manifest(cdir, "c.json", "good_a");
    char *d = ts_write_fake_manifest(ddir, "d.json", "good_b");
    char *home = sub(f, "home");
    ts_setenv("HOME", home);
    ts_setenv("XDG_CONFIG_HOME", NULL);
    ts_setenv("XDG_DATA_HOME", "relative/is/ignored");

    accel_instance *inst = create_ok(NULL);
    int ic = ts_manifest_index(inst, c), id = ts_manifest_index(inst, d);
    assert_true(ic >= 0);
    assert_true(id > ic);
    accel_instance_destroy(inst);

    /* An absolute XDG_CONFIG_HOME replaces $HOME/.config. */
    char *v = sub(f, "elsewhere");
    ts_setenv("XDG_CONFIG_HOME", v);
    inst = create_ok(NULL);
    assert_int_equal(ts_manifest_index(inst, c), -1);
    assert_true(ts_manifest_index(inst, d) >= 0);
    accel_instance_destroy(inst);

    free(v);
    free(home);
    free(c);
    free(d);
    free(cdir);
    free(ddir);
}

/* Within a directory: *.json only, in strcmp order. */
static void test_env_strcmp_order_in_dir(void **state)
{
    fixture *f = *state;
    char *dir = sub(f, "sorted");
    static const char *const written[] = {"b.json", "B.json", "a9.json", "a10.json", "a.json", "_.json"};
    static const char *const expected[] = {"B.json", "_.json", "a.json", "a10.json", "a9.json", "b.json"};
    char *lib = ts_fake_lib("good_a");
    for (size_t i = 0; i < 6; i++) {
        char *name = ts_printf("sorted_%zu", i);
        free(ts_write_manifest(dir, written[i], name, lib));
        free(name);
    }
    free(ts_write_text(dir, ".json", "{}"));
    free(ts_write_text(dir, "c.json.bak", "{}"));
    free(ts_write_text(dir, "c.JSON", "{}"));
    ts_setenv("ACCEL_DRIVER_FILES", dir);

    accel_instance *inst = create_ok(NULL);
    assert_int_equal(manifest_count(inst), 6);
    for (size_t i = 0; i < 6; i++) {
        char *p = ts_printf("%s/%s", dir, expected[i]);
        assert_int_equal(ts_manifest_index(inst, p), (int)i);
        free(p);
    }
    accel_instance_destroy(inst);

    /* The same order when the directory is found by discovery. */
    char *base = sub(f, "xdgsorted");
    char *icd = icd_dir(f, "xdgsorted");
    ts_mkdirs(base);
    ts_mkdirs(icd);
    rmdir(icd);
    assert_int_equal(symlink(dir, icd), 0);
    ts_setenv("ACCEL_DRIVER_FILES", NULL);
    ts_setenv("XDG_CONFIG_HOME", base);
    inst = create_ok(NULL);
    int last = -1;
    for (size_t i = 0; i < 6; i++) {
        char *p = ts_printf("%s/%s", icd, expected[i]);
        int idx = ts_manifest_index(inst, p);
        assert_true(idx > last);
        last = idx;
        free(p);
    }
    accel_instance_destroy(inst);
    free(icd);
    free(base);
    free(lib);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* Selection                                                                  */

/* Manifests for good_a..good_d in one directory, used through
 * ACCEL_DRIVER_FILES. Returns the directory. */
static char *four_drivers(const fixture *f, char *paths[4])
{
    char *dir = sub(f, "four");
    static const char *const v[] = {"good_a", "good_b", "good_c", "good_d"};
    for (size_t i = 0; i < 4; i++) {
        char *file = ts_printf("%zu.json", i);
        paths[i] = ts_write_fake_manifest(dir, file, v[i]);
        free(file);
    }
    ts_setenv("ACCEL_DRIVER_FILES", dir);
    return dir;
}

static void expect_loaded(const char *select, const char *disable, const char *expected)
{
    ts_setenv("ACCEL_DRIVERS_SELECT", select);
    ts_setenv("ACCEL_DRIVERS_DISABLE", disable);
    accel_instance *inst = create_ok(NULL);
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_drivers(inst, &n, NULL), ACCEL_SUCCESS);
    accel_driver **d = calloc(n + 1, sizeof(*d));
    assert_int_equal(accel_enumerate_drivers(inst, &n, d), ACCEL_SUCCESS);
    char *got = ts_printf("%s", "");
    for (uint32_t i = 0; i < n; i++) {
        accel_driver_info di = {.struct_size = sizeof(di)};
        assert_int_equal(accel_driver_get_info(d[i], &di), ACCEL_SUCCESS);
        char *next = ts_printf("%s%s%s", got, i ? " " : "", di.name);
        free(got);
        got = next;
    }
    if (strcmp(got, expected) != 0)
        fail_msg("SELECT=%s DISABLE=%s: loaded \"%s\", expected \"%s\"", select ? select : "(unset)",
                 disable ? disable : "(unset)", got, expected);
    free(got);
    free(d);
    accel_instance_destroy(inst);
}

static void test_env_drivers_select_and_disable(void **state)
{
    fixture *f = *state;
    char *paths[4];
    char *dir = four_drivers(f, paths);

    expect_loaded(NULL, NULL, "fake_good_a fake_good_b fake_good_c fake_good_d");
    expect_loaded("fake_good_c,fake_good_a", NULL, "fake_good_a fake_good_c"); /* manifest order kept */
    expect_loaded("fake_good_?", NULL, "fake_good_a fake_good_b fake_good_c fake_good_d");
    expect_loaded("*_[bd]", NULL, "fake_good_b fake_good_d");
    expect_loaded("nothing*", NULL, "");
    expect_loaded(NULL, "*_b, fake_good_d", "fake_good_a fake_good_c");
    expect_loaded(NULL, "*", "");
    /* Disable wins over select. */
    expect_loaded("fake_*", "fake_good_a", "fake_good_b fake_good_c fake_good_d");
    expect_loaded("fake_good_a", "fake_good_a", "");

    /* The reason names the variable and the glob. */
    ts_setenv("ACCEL_DRIVERS_SELECT", "fake_*");
    ts_setenv("ACCEL_DRIVERS_DISABLE", "*_c");
    accel_instance *inst = create_ok(NULL);
    accel_manifest_info mi;
    assert_true(ts_manifest_info(inst, paths[2], &mi));
    assert_int_equal(mi.status, ACCEL_MANIFEST_SKIPPED);
    assert_non_null(strstr(mi.reason, "ACCEL_DRIVERS_DISABLE"));
    assert_non_null(strstr(mi.reason, "*_c"));
    char *lib = ts_fake_lib("good_c");
    assert_false(ts_lib_mapped(lib));
    free(lib);
    accel_instance_destroy(inst);

    for (size_t i = 0; i < 4; i++)
        free(paths[i]);
    free(dir);
}

/* good_a and good_b: two devices each, 0 a gpu and 1 an fpga. */
static char *two_drivers(const fixture *f, char *paths[2])
{
    char *dir = sub(f, "two");
    paths[0] = ts_write_fake_manifest(dir, "a.json", "good_a");
    paths[1] = ts_write_fake_manifest(dir, "b.json", "good_b");
    ts_setenv("ACCEL_DRIVER_FILES", dir);
    return dir;
}

static void expect_devices(const char *selector, const char *expected)
{
    ts_setenv("ACCEL_DEVICE_SELECTOR", selector);
    accel_instance *inst = create_ok(NULL);
    char *got = ts_device_list(inst);
    if (strcmp(got, expected) != 0)
        fail_msg("ACCEL_DEVICE_SELECTOR=\"%s\": got \"%s\", expected \"%s\"", selector, got, expected);
    /* index follows the selected order */
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(ts_device_info(d[i]).index, i);
    free(d);
    free(got);
    accel_instance_destroy(inst);
}

static void test_env_device_selector_order_and_discard(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);

    expect_devices("fake_good_b:*;fake_good_a:*", "fake_good_b:0 fake_good_b:1 fake_good_a:0 fake_good_a:1");
    /* Within a term, the driver's own order. */
    expect_devices("fake_good_a:1,0", "fake_good_a:0 fake_good_a:1");
    expect_devices("fake_good_b:1;fake_good_a:0;fake_good_b:*", "fake_good_b:1 fake_good_a:0 fake_good_b:0");
    expect_devices("*:fpga", "fake_good_a:1 fake_good_b:1");
    expect_devices("*:gpu;*:fpga", "fake_good_a:0 fake_good_b:0 fake_good_a:1 fake_good_b:1");
    expect_devices("fake_good_?:cpu,asic", "");
    expect_devices("fake_good_a:7", "");
    expect_devices("nobody:*", "");
    /* '!' wins wherever it is written. */
    expect_devices("*:*;!fake_good_a:gpu", "fake_good_a:1 fake_good_b:0 fake_good_b:1");
    expect_devices("!fake_good_a:gpu;*:*", "fake_good_a:1 fake_good_b:0 fake_good_b:1");
    expect_devices("fake_good_a:0;!fake_good_a:0", "");
    /* Only discards: the rest is accepted, in manifest order. */
    expect_devices("!fake_good_b:*", "fake_good_a:0 fake_good_a:1");
    expect_devices("!*:fpga", "fake_good_a:0 fake_good_b:0");
    /* Blanks and a trailing ';' are fine. */
    expect_devices("  fake_good_b : 1 , 0 ;\tfake_good_a:1 ;", "fake_good_b:0 fake_good_b:1 fake_good_a:1");

    /* A device selector never changes which drivers load. */
    ts_setenv("ACCEL_DEVICE_SELECTOR", "fake_good_a:0");
    accel_instance *inst = create_ok(NULL);
    uint32_t nd = 0;
    assert_int_equal(accel_enumerate_drivers(inst, &nd, NULL), ACCEL_SUCCESS);
    assert_int_equal(nd, 2);
    accel_instance_destroy(inst);

    free(paths[0]);
    free(paths[1]);
    free(dir);
}

static void test_env_device_selector_uuid(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);

    accel_instance *inst = create_ok(NULL);
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    assert_int_equal(n, 4);
    char b1[33], a0[33];
    accel_uuid_to_string(ts_device_info(d[3]).uuid, b1);
    accel_uuid_to_string(ts_device_info(d[0]).uuid, a0);
    free(d);
    accel_instance_destroy(inst);

    char *sel = ts_printf("*:uuid=%s", b1);
    expect_devices(sel, "fake_good_b:1");
    free(sel);
    /* Upper case and dashes are accepted. */
    char upper[40];
    snprintf(upper, sizeof(upper), "%.8s-%.4s-%s", b1, b1 + 8, b1 + 12);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    sel = ts_printf("fake_good_b:uuid=%s", upper);
    expect_devices(sel, "fake_good_b:1");
    free(sel);
    /* A prefix: good_a's uuids share their first half (seeded by the name). */
    sel = ts_printf("*:uuid=%.16s", a0);
    expect_devices(sel, "fake_good_a:0 fake_good_a:1");
    free(sel);
    sel = ts_printf("*:*;!*:uuid=%s", a0);
    expect_devices(sel, "fake_good_a:1 fake_good_b:0 fake_good_b:1");
    free(sel);

    free(paths[0]);
    free(paths[1]);
    free(dir);
}

static void test_env_device_selector_invalid(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);
    static const struct {
        const char *selector;
        const char *at; /* where the error is: its column is strstr(at) + 1 */
    } cases[] = {
        {"fake_good_a", "fake_good_a"},
        {"fake_good_a:0;fake_good_b:bogus", "bogus"},
        {"fake_good_a:uuid=12x4", "x4"},
        {"fake_good_a:0;;fake_good_b:0", ";fake_good_b"},
        {"fa/ke:0", "/"},
        {"fake_good_a:", ""},
        {"fake_good_a:0,", ""},
        {":0", ":"},
        {"fake_good_a:99999999999", "99999999999"},
        {"fake_good_a:uuid=", "uuid="},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *sel = cases[i].selector;
        size_t col = cases[i].at[0] ? (size_t)(strstr(sel, cases[i].at) - sel) + 1 : strlen(sel) + 1;
        /* A missing driver name is reported at the term. */
        if (cases[i].at[0] == ':')
            col = 1;
        ts_setenv("ACCEL_DEVICE_SELECTOR", sel);
        accel_instance *inst = (accel_instance *)(uintptr_t)0x5a5a;
        accel_result r = accel_instance_create(NULL, &inst);
        const char *msg = accel_last_error_message();
        char *want = ts_printf("column %zu", col);
        if (r != ACCEL_ERROR_INVALID_SELECTOR || !strstr(msg, want) || !strstr(msg, "ACCEL_DEVICE_SELECTOR"))
            fail_msg("\"%s\": %s, \"%s\"; expected ACCEL_ERROR_INVALID_SELECTOR naming %s", sel,
                     accel_result_name(r), msg, want);
        free(want);
        assert_ptr_equal(inst, (accel_instance *)(uintptr_t)0x5a5a);
        assert_no_fake_mapped();
    }
    /* Nothing was even negotiated with. */
    char *trace = ts_read_text(f->trace);
    assert_string_equal(trace, "");
    free(trace);

    /* The option's selector is checked the same way and named as such. */
    ts_setenv("ACCEL_DEVICE_SELECTOR", NULL);
    accel_instance_options o = {.struct_size = sizeof(o), .device_selector = "fake_good_a:gpu,"};
    accel_instance *inst = NULL;
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_SELECTOR);
    assert_null(inst);
    assert_non_null(strstr(accel_last_error_message(), "device_selector option"));
    assert_non_null(strstr(accel_last_error_message(), "column 17"));

    free(paths[0]);
    free(paths[1]);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* Options against the environment                                           */

static void test_env_options_override_env(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);
    char *other = ts_write_fake_manifest(f->dir, "other.json", "good_c");
    ts_setenv("ACCEL_ADD_DRIVER_FILES", other);

    /* Explicit manifest paths beat ACCEL_DRIVER_FILES (and the additions). */
    const char *explicit_paths[] = {paths[1]};
    accel_instance_options o = {
        .struct_size = sizeof(o), .manifest_paths = explicit_paths, .manifest_path_count = 1};
    accel_instance *inst = create_ok(&o);
    assert_int_equal(manifest_count(inst), 1);
    assert_int_equal(ts_manifest_index(inst, paths[1]), 0);
    accel_instance_destroy(inst);

    /* The option's device selector replaces the environment's, even an
     * invalid one, which is then not read at all. */
    ts_setenv("ACCEL_DEVICE_SELECTOR", "this is: not valid");
    o = (accel_instance_options){.struct_size = sizeof(o), .device_selector = "fake_good_b:1;fake_good_a:0"};
    inst = create_ok(&o);
    char *list = ts_device_list(inst);
    assert_string_equal(list, "fake_good_b:1 fake_good_a:0");
    free(list);
    accel_instance_destroy(inst);

    free(other);
    free(paths[0]);
    free(paths[1]);
    free(dir);
}

static void test_env_no_env_selection_flag(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);
    ts_setenv("ACCEL_DRIVERS_SELECT", "nothing");
    ts_setenv("ACCEL_DRIVERS_DISABLE", "*");
    ts_setenv("ACCEL_DEVICE_SELECTOR", "!!invalid");

    accel_instance *inst = NULL;
    assert_int_equal(accel_instance_create(NULL, &inst), ACCEL_ERROR_INVALID_SELECTOR);

    accel_instance_options o = {.struct_size = sizeof(o), .flags = ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION};
    inst = create_ok(&o);
    char *list = ts_device_list(inst);
    /* ACCEL_DRIVER_FILES still applies: the flag covers selection only. */
    assert_int_equal(manifest_count(inst), 2);
    assert_string_equal(list, "fake_good_a:0 fake_good_a:1 fake_good_b:0 fake_good_b:1");
    free(list);
    accel_instance_destroy(inst);

    /* The application's own selector still applies. */
    o.device_selector = "*:fpga";
    inst = create_ok(&o);
    list = ts_device_list(inst);
    assert_string_equal(list, "fake_good_a:1 fake_good_b:1");
    free(list);
    accel_instance_destroy(inst);

    free(paths[0]);
    free(paths[1]);
    free(dir);
}

static void test_env_invalid_options(void **state)
{
    fixture *f = *state;
    char *paths[2];
    char *dir = two_drivers(f, paths);
    accel_instance *const untouched = (accel_instance *)(uintptr_t)0x5a5a;
    accel_instance *inst;
    const char *one_null[] = {paths[0], NULL};
    const char *one_empty[] = {""};

    assert_int_equal(accel_instance_create(NULL, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "instance is NULL"));

    static const uint32_t small_sizes[] = {0, 4, 8, offsetof(accel_instance_options, device_selector)};
    for (size_t i = 0; i < sizeof(small_sizes) / sizeof(small_sizes[0]); i++) {
        accel_instance_options o = {.struct_size = small_sizes[i]};
        inst = untouched;
        assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_ARGUMENT);
        assert_ptr_equal(inst, untouched);
        assert_non_null(strstr(accel_last_error_message(), "struct_size"));
    }

    accel_instance_options o = {.struct_size = sizeof(o), .flags = 1u << 7};
    inst = untouched;
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_ptr_equal(inst, untouched);
    assert_non_null(strstr(accel_last_error_message(), "unknown flags 0x80"));

    o = (accel_instance_options){.struct_size = sizeof(o), .manifest_path_count = 2};
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "manifest_paths is NULL"));

    o.manifest_paths = one_null;
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "manifest_paths[1]"));
    o.manifest_paths = one_empty;
    o.manifest_path_count = 1;
    assert_int_equal(accel_instance_create(&o, &inst), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(accel_last_error_message(), "manifest_paths[0]"));
    assert_ptr_equal(inst, untouched);
    assert_no_fake_mapped();

    /* manifest_paths with a count of 0 means discovery (here ACCEL_DRIVER_FILES). */
    o = (accel_instance_options){
        .struct_size = sizeof(o), .manifest_paths = one_null, .manifest_path_count = 0};
    inst = create_ok(&o);
    assert_int_equal(manifest_count(inst), 2);
    accel_instance_destroy(inst);

    /* A caller built against a newer header passes a bigger struct. */
    struct {
        accel_instance_options o;
        char newer_fields[32];
    } big;
    memset(&big, 0, sizeof(big));
    big.o.struct_size = sizeof(big);
    big.o.device_selector = "fake_good_b:0";
    inst = create_ok(&big.o);
    char *list = ts_device_list(inst);
    assert_string_equal(list, "fake_good_b:0");
    free(list);
    accel_instance_destroy(inst);

    free(paths[0]);
    free(paths[1]);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* ACCEL_LOADER_DEBUG                                                         */

/* Run one create/destroy with stderr going to a file; returns what was written. */
static char *stderr_of_create(const fixture *f, const char *debug)
{
    char *path = sub(f, "stderr.txt");
    ts_setenv("ACCEL_LOADER_DEBUG", debug);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    accel_instance *inst = NULL;
    accel_result r = accel_instance_create(NULL, &inst);
    accel_instance_destroy(inst);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(r, ACCEL_SUCCESS);
    char *text = ts_read_text(path);
    unlink(path);
    free(path);
    return text;
}

static void test_env_loader_debug_stderr(void **state)
{
    fixture *f = *state;
    char *dir = sub(f, "dbg");
    char *good = ts_write_fake_manifest(dir, "1-good.json", "good_a");
    char *broken = ts_write_text(dir, "2-broken.json", "{\"file_format_version\": 1}");
    char *filtered = ts_write_fake_manifest(dir, "3-filtered.json", "good_b");
    char *dup = ts_write_fake_manifest(dir, "4-dup.json", "good_a");
    char *failing = ts_write_fake_manifest(dir, "5-failing.json", "refuse");
    ts_setenv("ACCEL_DRIVER_FILES", dir);
    ts_setenv("ACCEL_DRIVERS_DISABLE", "fake_good_b");
    const char *skipped[] = {broken, filtered, dup};

    char *text = stderr_of_create(f, NULL);
    assert_string_equal(text, "");
    free(text);

    text = stderr_of_create(f, "all");
    for (size_t i = 0; i < 3; i++) {
        size_t n = ts_count_lines(text, skipped[i], NULL);
        if (n != 1 || ts_count_lines(text, "accel-loader:", skipped[i], "skipped", NULL) != 1)
            fail_msg("%s: %zu line(s) on stderr name it, expected one:\n%s", skipped[i], n, text);
    }
    assert_int_equal(ts_count_lines(text, failing, NULL), 1);
    assert_int_equal(ts_count_lines(text, "error", failing, "failed", "negotiation refused", NULL), 1);
    assert_int_equal(ts_count_lines(text, "loaded driver fake_good_a", good, NULL), 1);
    /* "all" includes the drivers' own messages. */
    assert_int_equal(ts_count_lines(text, "driver fake_good_a:", "2 device(s) ready", NULL), 1);
    free(text);

    /* Categories filter: warnings only. */
    text = stderr_of_create(f, "warn");
    assert_int_equal(ts_count_lines(text, broken, NULL), 1);
    assert_int_equal(ts_count_lines(text, dup, NULL), 1);
    assert_int_equal(ts_count_lines(text, filtered, NULL), 0); /* filtering is info */
    assert_int_equal(ts_count_lines(text, failing, NULL), 0);  /* failing is an error */
    assert_int_equal(ts_count_lines(text, "2 device(s) ready", NULL), 0);
    free(text);

    text = stderr_of_create(f, "error, driver");
    assert_int_equal(ts_count_lines(text, broken, NULL), 0);
    assert_int_equal(ts_count_lines(text, failing, "negotiation refused", NULL), 1);
    assert_int_equal(ts_count_lines(text, "driver fake_refuse:", "no interface version in common", NULL), 1);
    assert_int_equal(ts_count_lines(text, "driver fake_good_a:", "2 device(s) ready", NULL), 1);
    free(text);

    /* Unknown words are reported, known ones still apply. */
    text = stderr_of_create(f, "bogus,warn");
    assert_int_equal(ts_count_lines(text, "ACCEL_LOADER_DEBUG", "bogus", NULL), 1);
    assert_int_equal(ts_count_lines(text, broken, NULL), 1);
    free(text);

    free(good);
    free(broken);
    free(filtered);
    free(dup);
    free(failing);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_driver_files_files_and_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_add_driver_files_before_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_xdg_search_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_xdg_first_found_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_home_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_strcmp_order_in_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_drivers_select_and_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_device_selector_order_and_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_device_selector_uuid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_device_selector_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_options_override_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_no_env_selection_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_invalid_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_loader_debug_stderr, setup, teardown),
    };
    return cmocka_run_group_tests_name("env", tests, NULL, NULL);
}
