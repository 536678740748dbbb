/* fuzz_hwloc_xml.c — libFuzzer target for the installed libhwloc's XML
 * import, without the loader's pre-check.
 *
 * Feeds any byte string to hwloc_topology_set_xmlbuffer() and
 * hwloc_topology_load() exactly as loader/topology.c does (PCI devices kept,
 * a terminating NUL added). It exists to find the inputs that crash the
 * library itself: tests/corpus/hwloc_xml/README.md lists what it found and
 * loader/topology_xml_check.c rejects those inputs before hwloc sees them
 * (fuzz_hwloc_precheck.c checks that). Its replay runs only the corpus of
 * accepted topologies, not the crashers. */
#include <hwloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* hwloc prints every XML error to stderr; keep the run readable. */
    setenv("HWLOC_XML_VERBOSE", "0", 1);
    setenv("HWLOC_HIDE_ERRORS", "1", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > (1u << 20))
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
        if (hwloc_topology_set_xmlbuffer(t, buf, (int)size + 1) == 0)
            (void)hwloc_topology_load(t);
        hwloc_topology_destroy(t);
    }
    free(buf);
    return 0;
}
