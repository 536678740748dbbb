/* loader.h — the loader's objects behind the public handles. */
#ifndef ACCEL_LOADER_H
#define ACCEL_LOADER_H

#include "accel/accel.h"
#include "icd.h"
#include "log.h"
#include "manifest.h"
#include "select.h"

struct accel_manifest {
    accel_instance *instance;
    char *path;
    accel__manifest_data data;
    accel_manifest_status status;
    accel_result result;
    char *reason;
    accel_driver *driver;
};

struct accel_driver {
    accel_instance *instance;
    accel_manifest *manifest;
    accel__loaded_driver *loaded;
    accel__listener listener;
};

struct accel_device {
    /* Hot-path fields first: accel_device_query reads only these. */
    accel_icd_result (*query)(void *device, accel_device_param param, void *value, size_t size,
                              size_t *size_ret);
    void *icd_device;
    accel_instance *instance;
    accel_driver *driver;
    const accel_icd_device_info *info; /* owned by the loaded driver */
    uint32_t index;                    /* in the selected order; UINT32_MAX if not selected */
    uint32_t driver_index;
    accel_device *parent;
};

struct accel_instance {
    accel__logger logger;
    accel_manifest **manifests;
    size_t manifest_count;
    accel_driver **drivers;
    size_t driver_count;
    accel_device *all_devices; /* every device of every loaded driver */
    size_t all_device_count;
    accel_device **devices; /* the selected ones, in selector order */
    size_t device_count;
};

/*
 * The two-call pattern over an array of handles owned by an instance:
 * validates the arguments (naming `fn` and `what` in the error), then
 * either reports the count or copies what fits. Returns SUCCESS,
 * INCOMPLETE or INVALID_ARGUMENT.
 */
accel_result accel__enumerate(const char *fn, const accel_instance *inst, const void *items, size_t n,
                              uint32_t *count, void *out);

/* Check the object and info arguments of a *_get_info call. */
accel_result accel__check_info_args(const char *fn, const char *what, const void *object, const void *info);

/* Copy min(struct_size, sizeof) bytes of a filled full-size struct into a
 * caller's struct of possibly older layout. */
void accel__copy_out(void *dst, const void *src, size_t full_size);

#endif
