/* accel-run-calibrate.h — `accel-run --calibrate` (accel-run-calibrate.c):
 * time the standard functions on every selected device and write the
 * calibration cache that placement reads. docs/accel-run.md describes the
 * method, docs/topology.md the cache. Uses only the public API. */
#ifndef ACCEL_RUN_CALIBRATE_H
#define ACCEL_RUN_CALIBRATE_H

#include <accel/accel.h>

#include <stdbool.h>
#include <stdint.h>

#define CALIB_MAX_SIZES 16

typedef struct calib_options {
    const char *corpus_dir;  /* NULL: the installed corpus, else the source tree's, else generated data */
    uint64_t sizes[CALIB_MAX_SIZES]; /* ascending, distinct; size_count 0: the default sizes */
    uint32_t size_count;
    double budget_s;         /* per device and function; 0: the default */
    bool quiet;
    bool verbose;            /* also each size's time and the line's residual there */
} calib_options;

/* Parse the --calibrate-sizes list ("4K,64K,1M": bytes with an optional
 * K, M or G suffix, powers of 1024) into o->sizes, sorted: at least 3
 * distinct sizes of 1 byte to 1 GiB. -1 with a message on stderr. */
int calib_parse_sizes(const char *text, calib_options *o);

/* Time, fit and write the cache. 0 on success, 1 on failure (a message on
 * stderr). Devices and functions that fail are reported and skipped. */
int calib_run(accel_instance *inst, const calib_options *o);

#endif /* ACCEL_RUN_CALIBRATE_H */
