/* fuzz_hwloc_precheck.c — libFuzzer target for the check the loader runs on
 * a recorded hwloc XML file before libhwloc parses it
 * (loader/topology_xml.c).
 *
 * Any byte string must be accepted or rejected with a message naming the
 * file, without leaking; an accepted one then goes to libhwloc's XML import
 * the way loader/topology.c gives it, so that a crash of libhwloc on an
 * accepted input fails the run. Leaks inside libhwloc on the inputs it
 * rejects itself are its own (hwloc 2.9 leaks on some malformed <distances>)
 * and are not counted. The same file is linked with replay.c into the
 * normal test run over tests/corpus/hwloc_precheck/ and the crashers of
 * tests/corpus/hwloc_xml/. */
#include <hwloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "log.h"
#include "topology_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#if !defined(HAVE_LSAN) && defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("HWLOC_HIDE_ERRORS", "1", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    long live = accel__alloc_live();
    accel_result r = accel__topology_xml_check(size ? (const char *)data : empty, size, "/fuzz/topology.xml");
    if (accel__alloc_live() != live)
        abort();
    if (r != ACCEL_SUCCESS) {
        if (r != ACCEL_ERROR_INVALID_ARGUMENT ||
            strncmp(accel_last_error_message(), "topology XML /fuzz/topology.xml: ", 33) != 0)
            abort();
        return 0;
    }
    if (size == 0 || size >= INT32_MAX)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
#ifdef HAVE_LSAN
    __lsan_disable();
#endif
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
        if (hwloc_topology_set_xmlbuffer(t, buf, (int)size + 1) == 0)
            (void)hwloc_topology_load(t);
        hwloc_topology_destroy(t);
    }
#ifdef HAVE_LSAN
    __lsan_enable();
#endif
    free(buf);
    return 0;
}
