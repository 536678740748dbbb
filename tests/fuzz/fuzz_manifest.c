/* fuzz_manifest.c — libFuzzer target for the manifest parser.
 *
 * Any byte string must give either a complete manifest or a rejection with
 * a reason, without crashing and without leaking. The same file is linked
 * with replay.c into the normal test run, which replays the corpus. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    accel__manifest_data m;
    char reason[256];
    long live = accel__alloc_live();

    /* The parser must not read outside [data, data + size): libFuzzer hands
     * out exact-size buffers, so ASan catches a read past the end. */
    accel_result r = accel__manifest_parse("/fuzz/icd.d/m.json", size ? (const char *)data : empty, size, &m,
                                           reason, sizeof(reason));
    if (!memchr(reason, '\0', sizeof(reason)))
        abort();
    switch (r) {
    case ACCEL_SUCCESS:
        if (!m.driver_name || !m.library_path || !m.resolved_library || reason[0] || !m.driver_name[0] ||
            !m.library_path[0] || m.file_format_version >> 16 != ACCEL_MANIFEST_FORMAT_MAJOR)
            abort();
        break;
    case ACCEL_ERROR_INVALID_MANIFEST:
    case ACCEL_ERROR_INCOMPATIBLE_DRIVER:
        if (!reason[0] || m.resolved_library)
            abort();
        break;
    case ACCEL_ERROR_OUT_OF_HOST_MEMORY: break;
    default: abort();
    }
    accel__manifest_data_clear(&m);
    if (accel__alloc_live() != live)
        abort();
    return 0;
}
