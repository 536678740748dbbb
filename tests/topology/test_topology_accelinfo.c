/* test_topology_accelinfo.c — accelinfo --topology as users run it: the
 * DOT and JSON output, the options that need --topology, recorded
 * machines, simulated devices and files with errors.
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

static char *tmp_dir, *cpu_only;

static int group_setup(void **state)
{
    (void)state;
    tmp_dir = ts_mkdtemp("topology-accelinfo");
    cpu_only = ts_printf("ACCEL_DRIVER_FILES=%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp_dir);
    free(tmp_dir);
    free(cpu_only);
    return 0;
}

/* Run accelinfo with up to six arguments (NULL-terminated). */
static int run(const char *const *env, char **out, char **err, ...)
{
    const char *argv[8] = {ACCELINFO_PATH};
    va_list ap;
    va_start(ap, err);
    for (int i = 1; i < 7; i++)
        if (!(argv[i] = va_arg(ap, const char *)))
            break;
    va_end(ap);
    return ts_run(argv, env, out, err);
}

static json_object *parse_object(const char *text)
{
    json_object *root = json_tokener_parse(text);
    if (!root || !json_object_is_type(root, json_type_object))
        fail_msg("accelinfo printed no JSON object:\n%s", text);
    return root;
}

static json_object *node_named(json_object *root, const char *name)
{
    json_object *nodes = json_object_object_get(root, "nodes");
    for (size_t i = 0; i < json_object_array_length(nodes); i++) {
        json_object *n = json_object_array_get_idx(nodes, i);
        if (strcmp(json_object_get_string(json_object_object_get(n, "name")), name) == 0)
            return n;
    }
    return NULL;
}

static void test_topology_accelinfo_dot_by_default(void **state)
{
    (void)state;
    const char *env[] = {cpu_only, NULL};
    char *out, *err;
    assert_int_equal(run(env, &out, &err, "--topology", NULL), 0);
    assert_memory_equal(out, "digraph topology {\n", 19);
    assert_non_null(strstr(out, "\"cpu:0\" [shape=box"));
    assert_non_null(strstr(out, "\"cpuset0\" -> \"node0\""));
    assert_non_null(strstr(out, "accel-loader topology: this machine"));
    assert_string_equal(err, "");
    free(out);
    free(err);
    assert_int_equal(run(env, &out, &err, "--topology", "--format=dot", NULL), 0);
    assert_memory_equal(out, "digraph topology {\n", 19);
    free(out);
    free(err);
}

static void test_topology_accelinfo_json(void **state)
{
    (void)state;
    const char *env[] = {cpu_only, NULL};
    char *out, *err;
    assert_int_equal(run(env, &out, &err, "--topology", "--format", "json", NULL), 0);
    json_object *root = parse_object(out);
    json_object *cpu = node_named(root, "cpu:0");
    assert_non_null(cpu);
    assert_string_equal(json_object_get_string(json_object_object_get(cpu, "kind")), "device");
    assert_string_equal(json_object_get_string(json_object_object_get(cpu, "driver")), "cpu");
    assert_false(json_object_get_boolean(json_object_object_get(cpu, "simulated")));
    assert_int_equal(json_object_array_length(json_object_object_get(cpu, "functions")), 11);
    json_object *links = json_object_object_get(root, "links");
    size_t from_cpu = 0;
    for (size_t i = 0; i < json_object_array_length(links); i++) {
        json_object *l = json_object_array_get_idx(links, i);
        if (strcmp(json_object_get_string(json_object_object_get(l, "from")), "cpu:0") == 0) {
            assert_string_equal(json_object_get_string(json_object_object_get(l, "access")), "zero-copy");
            from_cpu++;
        }
    }
    assert_true(from_cpu >= 1);
    json_object_put(root);
    free(out);
    free(err);
}

/* A recorded machine with simulated devices and no real ones. */
static void test_topology_accelinfo_recorded_machine(void **state)
{
    (void)state;
    char *xml = ts_printf("--topology-xml=%s/64intel64-fakeKNL-SNC4-hybrid.xml", TOPOLOGY_DATA_DIR);
    char *devices =
        ts_write_text(tmp_dir, "devices.json",
                      "{\"devices\": [{\"driver\": \"sim\", \"kind\": \"asic\", \"numa_node\": 3, "
                      "\"functions\": {\"crc32c\": {}}}]}");
    char *devices_arg = ts_printf("--devices=%s", devices);
    char *user =
        ts_write_text(tmp_dir, "user.json",
                      "{\"links\": [{\"from\": \"sim:0\", \"to\": \"node6\", \"bandwidth_mbps\": 777}]}");
    char *user_arg = ts_printf("--topology-file=%s", user);
    const char *env[] = {cpu_only, NULL};
    char *out, *err;
    assert_int_equal(run(env, &out, &err, "--topology", "--format=json", xml, devices_arg, user_arg,
                         "--no-instance-devices", NULL),
                     0);
    json_object *root = parse_object(out);
    assert_null(node_named(root, "cpu:0"));
    json_object *sim = node_named(root, "sim:0");
    assert_non_null(sim);
    assert_true(json_object_get_boolean(json_object_object_get(sim, "simulated")));
    assert_string_equal(json_object_get_string(json_object_object_get(sim, "locality")), "cpuset3");
    json_object *n7 = node_named(root, "node7");
    assert_string_equal(json_object_get_string(json_object_object_get(n7, "memory_kind")), "hbm");
    json_object *links = json_object_object_get(root, "links");
    bool found = false;
    for (size_t i = 0; i < json_object_array_length(links); i++) {
        json_object *l = json_object_array_get_idx(links, i);
        if (strcmp(json_object_get_string(json_object_object_get(l, "from")), "sim:0") == 0 &&
            strcmp(json_object_get_string(json_object_object_get(l, "to")), "node6") == 0) {
            assert_int_equal(json_object_get_int64(json_object_object_get(l, "bandwidth_mbps")), 777);
            assert_string_equal(json_object_get_string(json_object_object_get(l, "bandwidth_source")),
                                "user");
            found = true;
        }
    }
    assert_true(found);
    json_object_put(root);
    free(out);
    free(err);

    /* ACCEL_TOPOLOGY_XML names the host when no option does. */
    char *var = ts_printf("ACCEL_TOPOLOGY_XML=%s/8intel64-4n2t-memattrs.xml", TOPOLOGY_DATA_DIR);
    const char *env_xml[] = {cpu_only, var, NULL};
    assert_int_equal(run(env_xml, &out, &err, "--topology", NULL), 0);
    assert_non_null(strstr(out, "8intel64-4n2t-memattrs.xml"));
    assert_non_null(strstr(out, "\"cpuset3\""));
    assert_non_null(strstr(out, "\"cpu:0\""));
    free(out);
    free(err);
    free(var);
    free(xml);
    free(devices);
    free(devices_arg);
    free(user);
    free(user_arg);
}

static void test_topology_accelinfo_usage_errors_exit_2(void **state)
{
    (void)state;
    const char *env[] = {cpu_only, NULL};
    static const struct {
        const char *a, *b, *named;
    } bad[] = {
        {"--format=json", NULL, "--format needs --topology"},
        {"--json", "--format=dot", "--format needs --topology"},
        {"--topology-xml=x.xml", NULL, "--topology-xml needs --topology"},
        {"--devices=d.json", "--summary", "--devices needs --topology"},
        {"--topology", "--format=png", "invalid --format 'png' (dot, json or svg)"},
        {"--topology", "--format", "'--format' needs an argument"},
        {"--no-instance-devices", NULL, "--no-instance-devices needs --topology"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out, *err;
        int status = run(env, &out, &err, bad[i].a, bad[i].b, NULL);
        if (status != 2 || !strstr(err, bad[i].named))
            fail_msg("accelinfo %s %s: exit %d, stderr \"%s\"; expected 2 and \"%s\"", bad[i].a,
                     bad[i].b ? bad[i].b : "", status, err, bad[i].named);
        assert_string_equal(out, "");
        free(out);
        free(err);
    }
}

/* Files that are wrong: exit 1, the message names the file and the place. */
static void test_topology_accelinfo_bad_files_exit_1(void **state)
{
    (void)state;
    const char *env[] = {cpu_only, NULL};
    char *bad = ts_write_text(tmp_dir, "bad.json",
                              "{\"devices\": [{\"driver\": \"d\", \"kind\": \"asic\", "
                              "\"colour\": \"red\"}]}");
    char *arg = ts_printf("--devices=%s", bad);
    char *out, *err;
    assert_int_equal(run(env, &out, &err, "--topology", arg, NULL), 1);
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "$.devices[0].colour"));
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_int_equal(run(env, &out, &err, "--topology", "--topology-xml=/nonexistent.xml", NULL), 1);
    assert_non_null(strstr(err, "/nonexistent.xml"));
    free(out);
    free(err);
    free(arg);
    free(bad);
}

/* The recorded machine with SR-IOV adapters: its ten virtual functions are
 * drawn as parts of their adapters; a simulated device stands for one by
 * name, and a name no device has is an error naming the file and entry. */
static void test_topology_accelinfo_virtual_functions(void **state)
{
    (void)state;
    char *xml = ts_printf("--topology-xml=%s/16intel64-manyVFs.xml", TOPOLOGY_DATA_DIR);
    const char *env[] = {cpu_only, NULL};
    char *out, *err;
    assert_int_equal(run(env, &out, &err, "--topology", xml, "--no-instance-devices", NULL), 0);
    size_t vfs = 0;
    for (const char *p = out; (p = strstr(p, "\\nSR-IOV virtual function\\nnetwork")); p++)
        vfs++;
    assert_int_equal(vfs, 10);
    assert_non_null(strstr(out, "\"eth6\" -> \"eth6:vf4\" [style=dotted"));
    free(out);
    free(err);
    char *good = ts_write_text(tmp_dir, "vf.json",
                               "{\"devices\": [{\"driver\": \"nic\", \"kind\": \"network\", "
                               "\"stands_for\": \"eth6:vf3\", \"functions\": {\"crc32c\": {}}}]}");
    char *good_arg = ts_printf("--devices=%s", good);
    assert_int_equal(
        run(env, &out, &err, "--topology", "--format=json", xml, good_arg, "--no-instance-devices", NULL), 0);
    json_object *root = parse_object(out);
    json_object *nic = node_named(root, "nic:0");
    assert_non_null(nic);
    assert_string_equal(json_object_get_string(json_object_object_get(nic, "bus_address")), "0000:88:00.4");
    assert_string_equal(json_object_get_string(json_object_object_get(nic, "device_kind")), "network");
    assert_null(node_named(root, "eth6:vf3"));
    json_object_put(root);
    free(out);
    free(err);
    char *bad = ts_write_text(tmp_dir, "vf-bad.json",
                              "{\"devices\": [{\"driver\": \"nic\", \"kind\": \"network\", "
                              "\"stands_for\": \"eth6:vf9\"}]}");
    char *bad_arg = ts_printf("--devices=%s", bad);
    assert_int_equal(run(env, &out, &err, "--topology", xml, bad_arg, NULL), 1);
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "$.devices[0].stands_for: the host ("));
    assert_non_null(strstr(err, "has no device named \"eth6:vf9\""));
    assert_string_equal(out, "");
    free(out);
    free(err);
    free(bad_arg);
    free(bad);
    free(good_arg);
    free(good);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_accelinfo_dot_by_default),
        cmocka_unit_test(test_topology_accelinfo_json),
        cmocka_unit_test(test_topology_accelinfo_recorded_machine),
        cmocka_unit_test(test_topology_accelinfo_usage_errors_exit_2),
        cmocka_unit_test(test_topology_accelinfo_bad_files_exit_1),
        cmocka_unit_test(test_topology_accelinfo_virtual_functions),
    };
    return cmocka_run_group_tests_name("topology_accelinfo", tests, group_setup, group_teardown);
}
