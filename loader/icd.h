/* icd.h — loading drivers: dlopen, negotiation, table checks, and the
 * process-wide registry that shares one loaded driver among instances. */
#ifndef ACCEL_ICD_INTERNAL_H
#define ACCEL_ICD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "accel/accel_icd.h"
#include "log.h"

/* The interface versions this loader accepts. */
#define ACCEL_LOADER_ICD_MAX_VERSION ACCEL_ICD_INTERFACE_VERSION
#define ACCEL_LOADER_ICD_MIN_VERSION ACCEL_MAKE_VERSION(1, 0)

typedef struct accel__listener {
    const accel__logger *logger;
    struct accel__listener *next;
} accel__listener;

/* Whether a table entry is present: inside the driver's struct_size and
 * not NULL. */
#define ACCEL__HAS_ENTRY(t, field) \
    ((t)->struct_size >= offsetof(accel_icd_table, field) + sizeof((t)->field) && (t)->field)

/* One loaded driver library, shared by every instance that selected it. */
typedef struct accel__loaded_driver {
    char *library;          /* resolved library path: the registry key */
    char *name;             /* the first manifest's driver name, for messages */
    void *dl;
    const accel_icd_table *table;
    uint32_t version;       /* negotiated interface version */
    void *handle;           /* the driver's context from driver_init */
    char *version_string;
    uint32_t device_count;
    void **devices;
    accel_icd_device_info *device_infos;
    bool no_unload;         /* the table's ACCEL_ICD_FLAG_NO_UNLOAD, kept after a failed init */
    unsigned refcount;      /* protected by the registry lock */
    accel_icd_loader_services services;
    pthread_mutex_t listeners_lock;
    accel__listener *listeners;
    struct accel__loaded_driver *next;
} accel__loaded_driver;

/*
 * Get the driver for `library` (already resolved), loading, negotiating and
 * initializing it if no instance holds it yet. `logger` is registered to
 * receive the driver's log messages until accel__driver_release.
 * On failure returns an error with a one-line reason (without the manifest
 * path) and loads nothing: the library is dlclose()d again.
 */
accel_result accel__driver_acquire(const char *library, const char *name, const char *manifest_path,
                                   const accel__logger *logger, accel__listener *listener,
                                   accel__loaded_driver **out, char *reason, size_t reason_size);

/* Drop one reference; the last one finalizes and unloads the driver. */
void accel__driver_release(accel__loaded_driver *d, accel__listener *listener);

#endif
