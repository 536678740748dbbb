/* test_topology_xml_bounds.c — the limits on a recorded topology
 * (docs/limits.md): the check of an hwloc XML file before libhwloc parses
 * it (loader/topology_xml.c), the files that crash libhwloc 2.9
 * (tests/corpus/hwloc_xml/), and a generated machine of many NUMA nodes.
 *
 * ACCEL_TEST_NUMA_NODES sets how many NUMA nodes the generated machine has
 * (256 unless set; docs/limits.md gives the time and memory at 4096). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "support.h"
#include "topology_internal.h"

#ifndef CORPUS_DIR
#error "CORPUS_DIR must name tests/corpus"
#endif
#ifndef TOPOLOGY_DATA_DIR
#error "TOPOLOGY_DATA_DIR must name tests/topology/data"
#endif

static char *tmp_dir;

static int setup(void **state)
{
    (void)state;
    tmp_dir = ts_mkdtemp("xml-bounds");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ts_rmtree(tmp_dir);
    free(tmp_dir);
    return 0;
}

static void expect_message(const char *msg, const char *a, const char *b)
{
    if (!strstr(msg, a) || (b && !strstr(msg, b)))
        fail_msg("message \"%s\" does not name \"%s\"%s%s", msg, a, b ? " and " : "", b ? b : "");
}

static accel_result create_from(const char *path, accel_topology **t)
{
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = path};
    *t = NULL;
    return accel_topology_create(NULL, &o, t);
}

/* Each file that crashes libhwloc 2.9 is refused before hwloc sees it, with
 * a message naming the file, the line and the reason. */
static void test_hwloc_crashers_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *file, *reason;
    } cases[] = {
        {"object-without-complete-cpuset.xml", "line 8: an object with cpuset but no complete_cpuset"},
        {"root-without-complete-cpuset.xml",
         "line 4: an object with (the root) cpuset but no complete_cpuset"},
        {"root-without-complete-nodeset.xml",
         "line 4: an object with (the root) nodeset but no complete_nodeset"},
        {"numanode-without-complete-nodeset.xml", "an object with nodeset but no complete_nodeset"},
        {"bitmap-empty-first-word.xml", "line 8: cpuset is not an hwloc bitmap"},
        {"nul-byte.xml", "line 3: a NUL byte at offset 102"},
        {"distances-nbobjs-huge.xml", "a distance matrix of nbobjs=\"4294967295\": at most 4096 objects"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = ts_printf("%s/hwloc_xml/%s", CORPUS_DIR, cases[i].file);
        accel_topology *t;
        accel_result r = create_from(path, &t);
        if (r != ACCEL_ERROR_INVALID_ARGUMENT)
            fail_msg("%s: %s, not ACCEL_ERROR_INVALID_ARGUMENT", cases[i].file, accel_result_name(r));
        assert_null(t);
        char *want = ts_printf("topology XML %s: ", path);
        expect_message(accel_last_error_message(), want, cases[i].reason);
        free(want);
        free(path);
    }
}

/* Every recorded machine of the test data passes the check. */
static void test_recorded_machines_accepted(void **state)
{
    (void)state;
    static const char *const files[] = {
        "16intel64-manyVFs.xml",      "24em64t-2n6c2t-pci.xml",     "64intel64-fakeKNL-SNC4-hybrid.xml",
        "8intel64-4n2t-memattrs.xml", "96em64t-4n4d3ca2co-pci.xml", "cxlmem+dax.v2.xml"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = ts_printf("%s/%s", TOPOLOGY_DATA_DIR, files[i]);
        char *text = ts_read_text(path);
        accel_result r = accel__topology_xml_check(text, strlen(text), path);
        if (r)
            fail_msg("%s: %s", files[i], accel_last_error_message());
        free(text);
        free(path);
    }
}

/* A growing text buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char root_open[] = "<topology version=\"2.0\">\n<object type=\"Machine\" os_index=\"0\" "
                                "cpuset=\"0x1\" complete_cpuset=\"0x1\" "
                                "nodeset=\"0x1\" complete_nodeset=\"0x1\">\n";

static void expect_rejected(const buf *b, const char *reason)
{
    accel_result r = accel__topology_xml_check(b->p, b->len, "gen.xml");
    if (r != ACCEL_ERROR_INVALID_ARGUMENT)
        fail_msg("accepted; expected \"%s\"", reason);
    expect_message(accel_last_error_message(), "topology XML gen.xml: line ", reason);
}

/* The limits of docs/limits.md, each one past its value. */
static void test_limits(void **state)
{
    (void)state;
    buf b = {0};
    /* Nesting deeper than TOPOLOGY_XML_DEPTH_MAX. */
    put(&b, "%s", root_open);
    for (unsigned i = 0; i < TOPOLOGY_XML_DEPTH_MAX; i++)
        put(&b, "<object type=\"Group\">");
    expect_rejected(&b, "elements nested deeper than 64");
    /* More objects than TOPOLOGY_XML_OBJECTS_MAX. */
    b.len = 0;
    put(&b, "%s", root_open);
    for (unsigned i = 0; i < TOPOLOGY_XML_OBJECTS_MAX; i++)
        put(&b, "<object type=\"Misc\"/>");
    put(&b, "</object></topology>");
    expect_rejected(&b, "more than 262144 objects");
    /* A distance matrix over more objects than the file has. */
    b.len = 0;
    put(&b, "%s</object><distances2 type=\"NUMANode\" nbobjs=\"3\"></distances2></topology>", root_open);
    expect_rejected(&b, "a distance matrix over 3 objects in a file of 1");
    /* An os_index past TOPOLOGY_XML_INDEX_MAX. */
    b.len = 0;
    put(&b, "%s<object type=\"PU\" os_index=\"16777217\" cpuset=\"0x1\" complete_cpuset=\"0x1\"/>",
        root_open);
    expect_rejected(&b, "os_index is not a number up to 16777216");
    /* Not a topology at all, or cut short. */
    b.len = 0;
    put(&b, "<html></html>");
    expect_rejected(&b, "the document element is not one <topology>");
    b.len = 0;
    put(&b, "%s<object type=\"PU\" cpuset=\"0x1", root_open);
    expect_rejected(&b, "an attribute value without its closing quote");
    /* The same shape within the limits is accepted. */
    b.len = 0;
    put(&b, "%s<object type=\"PU\" os_index=\"16777216\" cpuset=\"0x1\" complete_cpuset=\"0x1\"/>",
        root_open);
    put(&b, "</object><distances2 type=\"PU\" nbobjs=\"2\"></distances2></topology>");
    if (accel__topology_xml_check(b.p, b.len, "gen.xml"))
        fail_msg("rejected: %s", accel_last_error_message());
    free(b.p);
}

/* hwloc's form of a bitmap of one bit: zero words empty. */
static void put_bit(buf *b, unsigned bit)
{
    put(b, "0x%08x", 1u << (bit % 32));
    for (unsigned w = bit / 32; w > 0; w--)
        put(b, w == 1 ? ",0x0" : ",");
}

/* A machine of n packages, each with one NUMA node and one PU. */
static char *write_machine(unsigned n)
{
    buf b = {0};
    put(&b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<topology version=\"2.0\">\n<object type=\"Machine\" "
        "os_index=\"0\"");
    static const char *const sets[] = {"cpuset",  "complete_cpuset",  "allowed_cpuset",
                                       "nodeset", "complete_nodeset", "allowed_nodeset"};
    for (size_t s = 0; s < 6; s++) {
        put(&b, " %s=\"0x", sets[s]);
        /* All n bits: the top word, then full words. */
        unsigned top = n % 32 ? n % 32 : 32;
        put(&b, "%08x", top == 32 ? 0xffffffffu : (1u << top) - 1);
        for (unsigned w = (n - 1) / 32; w > 0; w--)
            put(&b, ",0xffffffff");
        put(&b, "\"");
    }
    put(&b, ">\n");
    for (unsigned i = 0; i < n; i++) {
        static const char *const types[] = {"Package", "NUMANode", "PU"};
        for (int k = 0; k < 3; k++) {
            put(&b, "<object type=\"%s\" os_index=\"%u\"", types[k], i);
            for (size_t s = 0; s < 6; s += s == 1 ? 2 : 1) {
                put(&b, " %s=\"", sets[s]);
                put_bit(&b, i);
                put(&b, "\"");
            }
            put(&b, k == 1 ? " local_memory=\"1073741824\"/>\n" : k == 2 ? "/>\n</object>\n" : ">\n");
        }
    }
    put(&b, "</object>\n</topology>\n");
    char *name = ts_printf("machine-%u.xml", n);
    char *path = ts_write_text(tmp_dir, name, b.p);
    free(name);
    free(b.p);
    return path;
}

/* A machine of many NUMA nodes: every CPU set reaches every memory node
 * (n x n links), the queries that look links up stay fast enough to run
 * over all of them, and a user file changes and removes links of it. */
static void test_many_numa_nodes(void **state)
{
    (void)state;
    const char *env = getenv("ACCEL_TEST_NUMA_NODES");
    unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 256;
    if (n < 4)
        n = 4;
    char *path = write_machine(n);
    char *user =
        ts_write_text(tmp_dir, "user.json",
                      "{\"links\": [{\"from\": \"cpuset0\", \"to\": \"node1\", \"bandwidth_mbps\": 123},"
                      " {\"from\": \"cpuset1\", \"to\": \"node0\", \"access\": \"none\"}]}");
    accel_topology_options o = {.struct_size = sizeof(o), .hwloc_xml = path, .user_file = user};
    accel_topology *t = NULL;
    accel_result r = accel_topology_create(NULL, &o, &t);
    if (r)
        fail_msg("%u NUMA nodes: %s", n, accel_last_error_message());
    assert_int_equal(accel_topology_node_count(t), 2 * n);
    assert_int_equal(accel_topology_link_count(t), n * n - 1);
    /* Each CPU set's best node is its own (the local link is the fastest). */
    uint32_t cpusets = 0;
    for (uint32_t i = 0; i < accel_topology_node_count(t); i++) {
        accel_topology_node node = {.struct_size = sizeof(node)};
        assert_int_equal(accel_topology_get_node(t, i, &node), ACCEL_SUCCESS);
        if (node.kind != ACCEL_TOPOLOGY_NODE_CPUSET)
            continue;
        cpusets++;
        uint32_t best = UINT32_MAX;
        assert_int_equal(accel_topology_best_memory_node(t, &i, 1, &best), ACCEL_SUCCESS);
        accel_topology_node mem = {.struct_size = sizeof(mem)};
        assert_int_equal(accel_topology_get_node(t, best, &mem), ACCEL_SUCCESS);
        assert_int_equal(mem.kind, ACCEL_TOPOLOGY_NODE_MEMORY);
        assert_int_equal(mem.parent, (int32_t)i);
    }
    assert_int_equal(cpusets, n);
    /* The user file's link edit and removal are found by the index. */
    const accel__topo_link *edited = accel__topology_find_link(t, 0, n + 1);
    assert_non_null(edited);
    assert_int_equal(edited->bandwidth_mbps, 123);
    assert_null(accel__topology_find_link(t, 1, n));
    for (uint32_t i = 0; i < t->link_count; i++)
        assert_ptr_equal(accel__topology_find_link(t, t->links[i].from, t->links[i].to), &t->links[i]);
    /* Every node is found by its name (the user file's names resolve so). */
    for (uint32_t i = 0; i < t->node_count; i++)
        assert_int_equal(accel__topology_find_node(t, t->nodes[i].name), (int32_t)i);
    assert_int_equal(accel__topology_find_node(t, "node-none"), -1);
    accel_topology_destroy(t);
    free(user);
    free(path);
}

/* More NUMA nodes than TOPOLOGY_NUMA_NODES_MAX: refused, naming the file,
 * before n x n links are built. */
static void test_too_many_numa_nodes(void **state)
{
    (void)state;
    char *path = write_machine(TOPOLOGY_NUMA_NODES_MAX + 1);
    accel_topology *t;
    assert_int_equal(create_from(path, &t), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(t);
    char *want = ts_printf("topology %s: 4097 NUMA nodes, more than the 4096 supported", path);
    expect_message(accel_last_error_message(), want, NULL);
    free(want);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hwloc_crashers_rejected),
        cmocka_unit_test(test_recorded_machines_accepted),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_numa_nodes),
        cmocka_unit_test(test_too_many_numa_nodes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
