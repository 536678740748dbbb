/* test_accelinfo.c — the accelinfo tool as users run it: exit statuses,
 * the --json document, ACCEL_LOADER_DEBUG output and stable uuids.
 *
 * The binary is the one built in tools/ (ACCELINFO_PATH from meson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "support.h"

#ifndef ACCELINFO_PATH
#error "ACCELINFO_PATH must name the accelinfo binary"
#endif
#ifndef BUILD_MANIFEST_DIR
#error "BUILD_MANIFEST_DIR must name the build tree's manifest directory"
#endif

typedef struct fixture {
    char *dir;
    char *good, *refuse, *broken, *filtered;
    char *driver_files; /* ACCEL_DRIVER_FILES=... for the mixed set */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = ts_mkdtemp("accelinfo");
    char *set = ts_printf("%s/set", f->dir);
    f->good = ts_write_fake_manifest(set, "1-good.json", "good_a");
    f->refuse = ts_write_fake_manifest(set, "2-refuse.json", "refuse");
    f->broken = ts_write_text(set, "3-broken.json", "{\"file_format_version\": \"1.0.0\", \"driver\": 7}");
    f->filtered = ts_write_fake_manifest(set, "4-filtered.json", "good_b");
    f->driver_files = ts_printf("ACCEL_DRIVER_FILES=%s:%s/accel_cpu.json", set, BUILD_MANIFEST_DIR);
    free(set);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_rmtree(f->dir);
    free(f->good);
    free(f->refuse);
    free(f->broken);
    free(f->filtered);
    free(f->driver_files);
    free(f->dir);
    free(f);
    return 0;
}

static int accelinfo(const char *arg, const char *const *env, char **out, char **err)
{
    const char *argv[] = {ACCELINFO_PATH, arg, NULL};
    return ts_run(argv, env, out, err);
}

static json_object *parse(const char *text)
{
    json_object *root = json_tokener_parse(text);
    if (!root || !json_object_is_type(root, json_type_object))
        fail_msg("accelinfo --json printed no JSON object:\n%s", text);
    return root;
}

static json_object *member(json_object *o, const char *key, json_type type)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
    if (!json_object_is_type(v, type))
        fail_msg("\"%s\" is a %s, expected a %s", key, json_type_to_name(json_object_get_type(v)),
                 json_type_to_name(type));
    return v;
}

static const char *string_member(json_object *o, const char *key)
{
    return json_object_get_string(member(o, key, json_type_string));
}

/* The manifest entry whose path is `path`, or NULL. */
static json_object *find_manifest(json_object *root, const char *path)
{
    json_object *ms = member(root, "manifests", json_type_array);
    for (size_t i = 0; i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i);
        if (strcmp(string_member(m, "path"), path) == 0)
            return m;
    }
    return NULL;
}

static void test_accelinfo_zero_devices_exit_0(void **state)
{
    fixture *f = *state;
    char *empty = ts_printf("%s/empty", f->dir);
    ts_mkdirs(empty);
    char *var = ts_printf("ACCEL_DRIVER_FILES=%s", empty);
    const char *env[] = {var, NULL};
    char *out, *err;

    assert_int_equal(accelinfo(NULL, env, &out, &err), 0);
    assert_non_null(strstr(out, "Devices: 0"));
    assert_non_null(strstr(out, "Manifests: 0"));
    free(out);
    free(err);

    assert_int_equal(accelinfo("--json", env, &out, &err), 0);
    json_object *root = parse(out);
    assert_int_equal(json_object_array_length(member(root, "devices", json_type_array)), 0);
    assert_int_equal(json_object_array_length(member(root, "manifests", json_type_array)), 0);
    json_object_put(root);
    free(out);
    free(err);
    free(var);
    free(empty);
}

static void test_accelinfo_usage_errors_exit_2(void **state)
{
    fixture *f = *state;
    const char *env[] = {f->driver_files, NULL};
    static const struct {
        const char *arg;
        const char *named;
    } bad[] = {{"--bogus", "--bogus"}, {"-x", "-x"}, {"extra", "extra"}, {"--json=yes", "--json"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out, *err;
        int status = accelinfo(bad[i].arg, env, &out, &err);
        if (status != 2 || !strstr(err, bad[i].named))
            fail_msg("accelinfo %s: exit %d, stderr \"%s\"; expected 2 and a message naming it", bad[i].arg,
                     status, err);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
    char *out, *err;
    assert_int_equal(accelinfo("--help", env, &out, &err), 0);
    assert_non_null(strstr(out, "Usage"));
    free(out);
    free(err);
}

static void test_accelinfo_invalid_selector_exit_2(void **state)
{
    fixture *f = *state;
    const char *env[] = {f->driver_files, "ACCEL_DEVICE_SELECTOR=cpu:0;cpu:gpus", NULL};
    char *out, *err;
    assert_int_equal(accelinfo("--json", env, &out, &err), 2);
    assert_non_null(strstr(err, "ACCEL_DEVICE_SELECTOR"));
    assert_non_null(strstr(err, "column 11"));
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* A valid one is applied. */
    const char *ok_env[] = {f->driver_files, "ACCEL_DEVICE_SELECTOR=fake_good_a:fpga", NULL};
    assert_int_equal(accelinfo("--json", ok_env, &out, &err), 0);
    json_object *root = parse(out);
    json_object *devices = member(root, "devices", json_type_array);
    assert_int_equal(json_object_array_length(devices), 1);
    assert_string_equal(string_member(json_object_array_get_idx(devices, 0), "kind"), "fpga");
    json_object_put(root);
    free(out);
    free(err);
}

static void test_accelinfo_json_contents(void **state)
{
    fixture *f = *state;
    const char *env[] = {f->driver_files, "ACCEL_DRIVERS_DISABLE=fake_good_b", NULL};
    char *out, *err;
    assert_int_equal(accelinfo("--json", env, &out, &err), 0);
    json_object *root = parse(out);

    json_object *loader = member(root, "loader", json_type_object);
    assert_string_equal(string_member(loader, "version"), accel_loader_version_string());

    json_object *ms = member(root, "manifests", json_type_array);
    assert_int_equal(json_object_array_length(ms), 5);
    for (size_t i = 0; i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i);
        member(m, "path", json_type_string);
        member(m, "status", json_type_string);
        /* driver and reason are always there, null when not applicable */
        json_object *v;
        assert_true(json_object_object_get_ex(m, "driver", &v));
        assert_true(json_object_object_get_ex(m, "reason", &v));
    }
    static const struct {
        size_t which;
        const char *status, *driver, *reason;
    } expect[] = {
        {0, "loaded", "fake_good_a", NULL},
        {1, "failed", "fake_refuse", "negotiation refused"},
        {2, "skipped", NULL, "driver must be an object"},
        {3, "skipped", "fake_good_b", "ACCEL_DRIVERS_DISABLE"},
    };
    const char *paths[] = {f->good, f->refuse, f->broken, f->filtered};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        json_object *m = find_manifest(root, paths[expect[i].which]);
        if (!m)
            fail_msg("%s missing from manifests[]", paths[expect[i].which]);
        assert_string_equal(string_member(m, "status"), expect[i].status);
        json_object *driver = json_object_object_get(m, "driver");
        json_object *reason = json_object_object_get(m, "reason");
        if (expect[i].driver)
            assert_string_equal(json_object_get_string(driver), expect[i].driver);
        else
            assert_null(driver);
        if (expect[i].reason)
            assert_non_null(strstr(json_object_get_string(reason), expect[i].reason));
        else
            assert_null(reason);
    }
    char *cpu_manifest = ts_printf("%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    json_object *cpu = find_manifest(root, cpu_manifest);
    assert_non_null(cpu);
    assert_string_equal(string_member(cpu, "status"), "loaded");
    free(cpu_manifest);

    /* good_a's two devices, then the cpu driver's. */
    json_object *devices = member(root, "devices", json_type_array);
    size_t n = json_object_array_length(devices);
    assert_true(n >= 3);
    size_t cpus = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx(devices, i);
        assert_int_equal(json_object_get_int64(member(d, "index", json_type_int)), (int64_t)i);
        const char *driver = string_member(d, "driver");
        const char *kind = string_member(d, "kind");
        const char *uuid = string_member(d, "uuid");
        assert_true(string_member(d, "name")[0] != '\0');
        assert_int_equal(strlen(uuid), 32);
        assert_int_equal(strspn(uuid, "0123456789abcdef"), 32);
        if (i < 2) {
            assert_string_equal(driver, "fake_good_a");
            assert_string_equal(kind, i == 0 ? "gpu" : "fpga");
            assert_string_equal(string_member(d, "name"), i == 0 ? "good_a gpu0" : "good_a fpga1");
        } else {
            assert_string_equal(driver, "cpu");
            assert_string_equal(kind, "cpu");
            cpus++;
        }
    }
    assert_int_equal(cpus, 1);

    /* Memory nodes: at least the host's, indexed in order, kinds named. */
    json_object *nodes = member(root, "memory_nodes", json_type_array);
    assert_true(json_object_array_length(nodes) >= 1);
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *m = json_object_array_get_idx(nodes, i);
        assert_int_equal(json_object_get_int64(member(m, "index", json_type_int)), (int64_t)i);
        assert_true(string_member(m, "name")[0] != '\0');
        member(m, "kind", json_type_string);
    }
    assert_string_equal(string_member(json_object_array_get_idx(nodes, 0), "kind"), "dram");
    json_object_put(root);
    free(out);
    free(err);

    /* The summary lists them too. */
    assert_int_equal(accelinfo(NULL, env, &out, &err), 0);
    assert_non_null(strstr(out, "\nMemory nodes: "));
    assert_non_null(strstr(out, " dram "));
    free(out);
    free(err);
}

/* With ACCEL_LOADER_DEBUG=all, every manifest that was not loaded gives
 * exactly one stderr line, naming its file and the reason --json reports. */
static void test_accelinfo_debug_one_line_per_skipped(void **state)
{
    fixture *f = *state;
    const char *env[] = {f->driver_files, "ACCEL_DRIVERS_DISABLE=fake_good_b", "ACCEL_LOADER_DEBUG=all",
                         NULL};
    char *out, *err;
    assert_int_equal(accelinfo("--json", env, &out, &err), 0);
    json_object *root = parse(out);
    json_object *ms = member(root, "manifests", json_type_array);
    size_t not_loaded = 0;
    for (size_t i = 0; i < json_object_array_length(ms); i++) {
        json_object *m = json_object_array_get_idx(ms, i);
        if (strcmp(string_member(m, "status"), "loaded") == 0)
            continue;
        const char *path = string_member(m, "path");
        const char *reason = string_member(m, "reason");
        size_t lines = ts_count_lines(err, path, NULL);
        if (lines != 1 || ts_count_lines(err, "accel-loader:", path, reason, NULL) != 1)
            fail_msg("%s: %zu stderr line(s) name it; expected one with \"%s\":\n%s", path, lines, reason,
                     err);
        not_loaded++;
    }
    assert_int_equal(not_loaded, 3);
    json_object_put(root);
    free(out);
    free(err);

    /* Without ACCEL_LOADER_DEBUG the tool is quiet. */
    const char *quiet[] = {f->driver_files, "ACCEL_DRIVERS_DISABLE=fake_good_b", "ACCEL_LOADER_DEBUG", NULL};
    assert_int_equal(accelinfo("--json", quiet, &out, &err), 0);
    assert_string_equal(err, "");
    free(out);
    free(err);
}

static char *uuids(const char *json)
{
    json_object *root = parse(json);
    json_object *devices = member(root, "devices", json_type_array);
    char *all = ts_printf("%s", "");
    for (size_t i = 0; i < json_object_array_length(devices); i++) {
        json_object *d = json_object_array_get_idx(devices, i);
        char *next = ts_printf("%s%s=%s ", all, string_member(d, "name"), string_member(d, "uuid"));
        free(all);
        all = next;
    }
    json_object_put(root);
    return all;
}

static void test_accelinfo_uuid_stable(void **state)
{
    fixture *f = *state;
    const char *env[] = {f->driver_files, NULL};
    char *out1, *out2, *err;
    assert_int_equal(accelinfo("--json", env, &out1, &err), 0);
    free(err);
    assert_int_equal(accelinfo("--json", env, &out2, &err), 0);
    free(err);
    char *u1 = uuids(out1), *u2 = uuids(out2);
    assert_string_equal(u1, u2);
    /* Distinct devices have distinct uuids, and none is all zeros. */
    assert_null(strstr(u1, "=00000000000000000000000000000000"));
    json_object *root = parse(out1);
    json_object *devices = member(root, "devices", json_type_array);
    size_t n = json_object_array_length(devices);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(string_member(json_object_array_get_idx(devices, i), "uuid"),
                                    string_member(json_object_array_get_idx(devices, j), "uuid"));
    json_object_put(root);
    free(u1);
    free(u2);
    free(out1);
    free(out2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accelinfo_zero_devices_exit_0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accelinfo_usage_errors_exit_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accelinfo_invalid_selector_exit_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accelinfo_json_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accelinfo_debug_one_line_per_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accelinfo_uuid_stable, setup, teardown),
    };
    return cmocka_run_group_tests_name("accelinfo", tests, NULL, NULL);
}
