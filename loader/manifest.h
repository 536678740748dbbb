/* manifest.h — parsing one driver manifest (JSON, see manifests/README.md). */
#ifndef ACCEL_MANIFEST_H
#define ACCEL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"

/* The largest manifest the loader reads. */
#define ACCEL_MANIFEST_MAX_SIZE (1u << 20)

/* The file format this loader understands. */
#define ACCEL_MANIFEST_FORMAT_MAJOR 1
#define ACCEL_MANIFEST_FORMAT_MINOR 0

typedef struct accel__manifest_data {
    char *driver_name;
    char *library_path;     /* as written */
    char *resolved_library; /* what dlopen gets */
    uint32_t file_format_version;
    uint32_t api_version;
    uint32_t device_kinds; /* bit (1 << accel_device_kind); 0 if not given */
    bool newer_minor;      /* file_format_version minor newer than known */
} accel__manifest_data;

/*
 * Parse a manifest held in memory. `path` is the manifest's own path, used
 * to resolve a relative library_path and nothing else (it may be NULL in
 * fuzzing; relative paths then resolve against "."). On success returns
 * ACCEL_SUCCESS and fills *out. On a rejection returns
 * ACCEL_ERROR_INVALID_MANIFEST (or ACCEL_ERROR_INCOMPATIBLE_DRIVER for an
 * unknown major format or a 32/64-bit mismatch) with a one-line reason in
 * `reason`; *out may then hold what was parsed before the fault (the driver
 * name, if any) and must be cleared by the caller.
 * ACCEL_ERROR_OUT_OF_HOST_MEMORY on allocation failure.
 */
accel_result accel__manifest_parse(const char *path, const char *data, size_t size,
                                   accel__manifest_data *out, char *reason, size_t reason_size);

/* Read `path` (at most ACCEL_MANIFEST_MAX_SIZE bytes) and parse it. */
accel_result accel__manifest_load(const char *path, accel__manifest_data *out, char *reason,
                                  size_t reason_size);

void accel__manifest_data_clear(accel__manifest_data *m);

#endif
