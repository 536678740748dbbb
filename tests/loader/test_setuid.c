/* test_setuid.c — in a setuid program the loader ignores every variable
 * that can inject a path or change which code is loaded.
 *
 * A real setuid binary: accelinfo is copied into a fresh directory, given
 * to nobody (uid 65534) and made setuid, then run as root with
 * ACCEL_DRIVER_FILES, ACCEL_ADD_DRIVER_FILES, XDG_* and HOME pointing at
 * fake manifests: none may appear. A plain copy run with the same
 * environment is the control: all of them must appear, so the test shows
 * that the variables would have worked.
 *
 * Skipped when not root, on a nosuid file system, or under sanitizers
 * (whose runtimes refuse to run setuid). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "support.h"

#ifndef ACCELINFO_PATH
#error "ACCELINFO_PATH must name an accelinfo binary that finds the loader without $ORIGIN"
#endif

#define NOBODY 65534

typedef struct fixture {
    char *dir;
    char *setuid_bin;
    char *plain_bin;
} fixture;

static const char *not_traversable(const char *path);

/* Why this machine cannot run the test, or NULL. */
static const char *cannot_run(const char *dir)
{
    const char *san = getenv("ACCEL_TEST_SANITIZED");
    if (san && strcmp(san, "1") == 0)
        return "sanitizer runtimes refuse to run setuid";
    if (geteuid() != 0)
        return "not root: cannot make a binary owned by nobody";
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return "statvfs failed";
    if (vfs.f_flag & ST_NOSUID)
        return "the build directory's file system is mounted nosuid";
    /* The setuid copy runs as nobody, and the dynamic loader then opens
     * libaccel-loader.so.1 in the build tree as nobody. */
    static char why[4200];
    const char *blocked = not_traversable(ACCELINFO_PATH);
    if (blocked) {
        snprintf(why, sizeof(why), "%s is not searchable by others, so a program running as nobody cannot load "
                 "the build tree's libaccel-loader.so.1", blocked);
        return why;
    }
    return NULL;
}

/* Whether uid nobody can reach `path`: every parent directory searchable
 * by others. */
static const char *not_traversable(const char *path)
{
    static char bad[4096];
    snprintf(bad, sizeof(bad), "%s", path);
    for (char *slash = strrchr(bad, '/'); slash && slash != bad; slash = strrchr(bad, '/')) {
        *slash = '\0';
        struct stat st;
        if (stat(bad, &st) != 0 || !(st.st_mode & S_IXOTH))
            return bad;
    }
    return NULL;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
    char *data = NULL;
    FILE *in = fopen(from, "rb");
    if (!in)
        fail_msg("cannot read %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (out < 0)
        fail_msg("cannot create %s: %s", to, strerror(errno));
    data = malloc(65536);
    size_t n;
    while ((n = fread(data, 1, 65536, in)) > 0)
        if (write(out, data, n) != (ssize_t)n)
            fail_msg("cannot write %s: %s", to, strerror(errno));
    fclose(in);
    close(out);
    free(data);
    if (chmod(to, mode) != 0)
        fail_msg("chmod %s: %s", to, strerror(errno));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    ts_mkdirs(TEST_TMP_DIR);
    *state = f;
    const char *why = cannot_run(TEST_TMP_DIR);
    if (why) {
        print_message("skipping: %s\n", why);
        return 0;
    }
    f->dir = ts_mkdtemp("setuid");
    char *bin = ts_printf("%s/bin", f->dir);
    ts_mkdirs(bin);
    chmod(bin, 0755);
    f->setuid_bin = ts_printf("%s/accelinfo-setuid", bin);
    f->plain_bin = ts_printf("%s/accelinfo-plain", bin);
    copy_file(ACCELINFO_PATH, f->plain_bin, 0755);
    copy_file(ACCELINFO_PATH, f->setuid_bin, 0755);
    /* chown clears the setuid bit: chmod after it. */
    if (chown(f->setuid_bin, NOBODY, NOBODY) != 0 || chmod(f->setuid_bin, 04755) != 0)
        fail_msg("cannot make %s setuid nobody: %s", f->setuid_bin, strerror(errno));
    free(bin);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->dir)
        ts_rmtree(f->dir);
    free(f->dir);
    free(f->setuid_bin);
    free(f->plain_bin);
    free(f);
    return 0;
}

static void skip_unless_possible(const fixture *f)
{
    if (!f->dir)
        skip();
}

/* Run one binary with --json and return the parsed document. */
static json_object *run_json(const char *bin, const char *const *env, int *status)
{
    const char *argv[] = {bin, "--json", NULL};
    char *out = NULL, *err = NULL;
    *status = ts_run(argv, env, &out, &err);
    json_object *root = NULL;
    if (*status == 0) {
        root = json_tokener_parse(out);
        if (!root)
            fail_msg("%s printed no JSON:\n%s\nstderr:\n%s", bin, out, err);
    } else if (*status != 2) {
        fail_msg("%s exited with %d:\n%s", bin, *status, err);
    }
    free(out);
    free(err);
    return root;
}

/* How many manifests[] entries have a path under dir, and how many of
 * those were loaded. */
static size_t manifests_under(json_object *root, const char *dir, size_t *loaded)
{
    json_object *ms = NULL;
    assert_true(json_object_object_get_ex(root, "manifests", &ms));
    size_t n = 0, len = strlen(dir);
    *loaded = 0;
    for (size_t i = 0; i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i), *p, *s;
        assert_true(json_object_object_get_ex(m, "path", &p));
        assert_true(json_object_object_get_ex(m, "status", &s));
        if (strncmp(json_object_get_string(p), dir, len) == 0) {
            n++;
            *loaded += strcmp(json_object_get_string(s), "loaded") == 0;
        }
    }
    return n;
}

static void test_setuid_binary_is_setuid(void **state)
{
    fixture *f = *state;
    skip_unless_possible(f);
    struct stat st;
    assert_int_equal(stat(f->setuid_bin, &st), 0);
    assert_true(st.st_mode & S_ISUID);
    assert_int_equal(st.st_uid, NOBODY);
    const char *blocked = not_traversable(f->setuid_bin);
    if (blocked)
        fail_msg("%s is not searchable by others: the setuid run could not start", blocked);
}

static void test_setuid_ignores_path_variables(void **state)
{
    fixture *f = *state;
    skip_unless_possible(f);
    const char *d = f->dir;

    /* One manifest per place a variable can point at; all readable by nobody. */
    char *files_dir = ts_printf("%s/driver-files", d);
    char *add_dir = ts_printf("%s/add-driver-files", d);
    char *cfg_home = ts_printf("%s/config-home", d), *cfg_dirs = ts_printf("%s/config-dirs", d);
    char *data_home = ts_printf("%s/data-home", d), *data_dirs = ts_printf("%s/data-dirs", d);
    char *home = ts_printf("%s/home", d);
    struct {
        const char *base;
        const char *sub;
        const char *variant;
    } places[] = {
        {files_dir, "", "good_a"},
        {add_dir, "", "good_b"},
        {cfg_home, "/accel/icd.d", "good_c"},
        {cfg_dirs, "/accel/icd.d", "good_d"},
        {data_home, "/accel/icd.d", "many_devices"},
        {data_dirs, "/accel/icd.d", "zero_devices"},
        {home, "/.config/accel/icd.d", "no_unload"},
    };
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        char *dir = ts_printf("%s%s", places[i].base, places[i].sub);
        free(ts_write_fake_manifest(dir, "fake.json", places[i].variant));
        /* ts_mkdirs makes 0755 directories; the files are 0644 under the usual umask. */
        free(dir);
    }

    char *v_files = ts_printf("ACCEL_DRIVER_FILES=%s", files_dir);
    char *v_add = ts_printf("ACCEL_ADD_DRIVER_FILES=%s", add_dir);
    char *v_cfg_home = ts_printf("XDG_CONFIG_HOME=%s", cfg_home);
    char *v_cfg_dirs = ts_printf("XDG_CONFIG_DIRS=%s", cfg_dirs);
    char *v_data_home = ts_printf("XDG_DATA_HOME=%s", data_home);
    char *v_data_dirs = ts_printf("XDG_DATA_DIRS=%s", data_dirs);
    char *v_home = ts_printf("HOME=%s", home);
    /* ACCEL_DRIVER_FILES replaces discovery, so it gets a run of its own;
     * HOME only counts without XDG_CONFIG_HOME. */
    const char *run_files[] = {v_files, "ACCEL_ADD_DRIVER_FILES", v_home, NULL};
    const char *run_xdg[] = {"ACCEL_DRIVER_FILES", v_add,       v_cfg_home, v_cfg_dirs,
                             v_data_home,          v_data_dirs, NULL};
    const char *run_home[] = {
        "ACCEL_DRIVER_FILES", "ACCEL_ADD_DRIVER_FILES", "XDG_CONFIG_HOME", "XDG_DATA_HOME", v_home, NULL};
    const struct {
        const char *const *env;
        size_t expected; /* manifests the control finds under d */
    } runs[] = {{run_files, 1}, {run_xdg, 5}, {run_home, 1}};

    for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
        int status;
        size_t loaded;
        json_object *plain = run_json(f->plain_bin, runs[r].env, &status);
        assert_int_equal(status, 0);
        size_t found = manifests_under(plain, d, &loaded);
        if (found != runs[r].expected || loaded != runs[r].expected)
            fail_msg("run %zu, plain copy: %zu manifest(s) found, %zu loaded; expected %zu", r, found, loaded,
                     runs[r].expected);
        json_object_put(plain);

        json_object *suid = run_json(f->setuid_bin, runs[r].env, &status);
        assert_int_equal(status, 0);
        found = manifests_under(suid, d, &loaded);
        if (found != 0)
            fail_msg("run %zu, setuid copy: %zu manifest(s) from the environment were considered", r, found);
        json_object_put(suid);
    }

    /* Selection variables are ignored too: an invalid selector stops the
     * plain copy (exit 2) but not the setuid one. */
    const char *sel_env[] = {v_files, "ACCEL_DEVICE_SELECTOR=not a selector", NULL};
    int status;
    json_object *root = run_json(f->plain_bin, sel_env, &status);
    assert_int_equal(status, 2);
    assert_null(root);
    root = run_json(f->setuid_bin, sel_env, &status);
    assert_int_equal(status, 0);
    json_object_put(root);

    free(v_files);
    free(v_add);
    free(v_cfg_home);
    free(v_cfg_dirs);
    free(v_data_home);
    free(v_data_dirs);
    free(v_home);
    free(files_dir);
    free(add_dir);
    free(cfg_home);
    free(cfg_dirs);
    free(data_home);
    free(data_dirs);
    free(home);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_setuid_binary_is_setuid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuid_ignores_path_variables, setup, teardown),
    };
    return cmocka_run_group_tests_name("setuid", tests, NULL, NULL);
}
