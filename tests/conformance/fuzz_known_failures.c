/* fuzz_known_failures.c — libFuzzer target for accel-conformance's
 * known-failure list parser (conformance/known_failures.c).
 *
 * Any bytes either parse into entries whose four globs are non-empty
 * strings without NUL, on increasing lines within the text, or are
 * refused with a message that names the source and a line. A match over
 * fixed names must not crash whatever the globs are. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "known_failures.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    conf_kf_list list;
    char err[256];
    int rc = conf_kf_parse((const char *)data, size, "fuzz.txt", &list, err, sizeof(err));
    if (rc == -2)
        return 0; /* out of memory */
    if (rc != 0) {
        if (strncmp(err, "fuzz.txt:", 9) != 0 || list.count != 0 || list.entries != NULL)
            abort();
        return 0;
    }
    unsigned lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    unsigned previous = 0;
    for (size_t i = 0; i < list.count; i++) {
        const conf_kf_entry *e = &list.entries[i];
        if (!e->driver[0] || !e->version[0] || !e->device[0] || !e->test[0] || !e->reason)
            abort();
        if (e->line <= previous || e->line > lines)
            abort();
        previous = e->line;
    }
    if (strcmp(list.source, "fuzz.txt") != 0)
        abort();
    const conf_kf_entry *m = conf_kf_match(&list, "cpu", "0.2.0", "AMD EPYC (2 threads)", "queues.in_order");
    if (m && (m < list.entries || m >= list.entries + list.count))
        abort();
    conf_kf_free(&list);
    return 0;
}
