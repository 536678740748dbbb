/* fuzz_topology.h — what the topology fuzz targets share: the answers a
 * reader of a topology input may give, and one input run on a fresh
 * hand-built graph with a check for leaks. Header-only: each target is
 * built alone (replay.c, or libFuzzer with the loader's sources). */
#ifndef ACCEL_FUZZ_TOPOLOGY_H
#define ACCEL_FUZZ_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "topology.h"

/* Whether r is an answer a reader may give to any input: success, out of
 * memory, or an invalid argument whose message starts with `prefix` (the
 * source's name and ": "). */
static inline bool fuzz_topology_result_ok(accel_result r, const char *prefix)
{
    return r == ACCEL_SUCCESS || r == ACCEL_ERROR_OUT_OF_HOST_MEMORY ||
           (r == ACCEL_ERROR_INVALID_ARGUMENT &&
            strncmp(accel_last_error_message(), prefix, strlen(prefix)) == 0);
}

/* check(t, text, size) on the graph make() builds, the input as text (a
 * one-byte empty string when there is none), then the graph destroyed:
 * nothing may stay allocated. Aborts when the graph cannot be made. */
static inline int fuzz_topology_run(accel_topology *(*make)(void),
                                    void (*check)(accel_topology *t, const char *text, size_t size),
                                    const uint8_t *data, size_t size)
{
    static const char empty[1];
    long live = accel__alloc_live();
    accel_topology *t = make();
    if (!t)
        abort();
    check(t, size ? (const char *)data : empty, size);
    accel_topology_destroy(t);
    if (accel__alloc_live() != live)
        abort();
    return 0;
}

#endif
