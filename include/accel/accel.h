/*
 * accel.h — the accel-loader application API.
 *
 * Link with -laccel-loader (pkg-config module "accel-loader").
 *
 * Object model. Every handle the application sees (accel_instance,
 * accel_driver, accel_device, accel_manifest) is owned by the loader. An
 * instance owns all driver, device and manifest handles reached through it;
 * they stay valid until accel_instance_destroy() and must not be used after.
 * Several instances may exist at once; they share loaded drivers
 * (reference-counted) but never share handles.
 *
 * Errors. Functions return an accel_result. On an error the outputs are left
 * untouched unless stated, and a detail message naming the file, driver or
 * argument at fault is stored for the calling thread: read it with
 * accel_last_error_message(). Successful calls do not clear it.
 *
 * Thread safety. Unless a function says otherwise, it may be called from
 * any thread, concurrently with any other call, except that an object must
 * not be destroyed while another thread uses it.
 *
 * Structs. Info structs start with `uint32_t struct_size`: set it to
 * sizeof(the struct) before the call. The loader writes only
 * min(struct_size, its own sizeof) bytes, so programs built against older
 * headers keep working. Fields are only ever appended.
 *
 * Two-call pattern for arrays: pass NULL to get the count in *count; then
 * pass an array of *count elements. If the array is too small, the loader
 * fills what fits, sets *count to that number and returns ACCEL_INCOMPLETE.
 */
#ifndef ACCEL_H
#define ACCEL_H

#include <stdbool.h>

#include "accel_types.h"
#include "accel/accel_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ACCEL_API __attribute__((visibility("default")))
#else
#define ACCEL_API
#endif

typedef struct accel_instance accel_instance;
typedef struct accel_driver accel_driver;
typedef struct accel_device accel_device;
typedef struct accel_manifest accel_manifest;

/* ------------------------------------------------------------------------ */
/* Version, results, errors                                                   */

/* The loader's version, ACCEL_MAKE_VERSION(major, minor). Never fails. */
ACCEL_API uint32_t accel_loader_version(void);

/* The loader's version as "major.minor.patch". Static storage. */
ACCEL_API const char *accel_loader_version_string(void);

/* A static English description of a result, or "unknown result" for values
 * not in ACCEL_RESULT_MAP. Never NULL. */
ACCEL_API const char *accel_result_string(accel_result result);

/* The symbolic name of a result, e.g. "ACCEL_ERROR_INVALID_SELECTOR", or
 * "ACCEL_RESULT_UNKNOWN". Static storage; never NULL. */
ACCEL_API const char *accel_result_name(accel_result result);

/*
 * The detail message of the last error on the calling thread: what failed
 * and why, naming the file, driver or argument (and a driver's native code
 * when there is one). Empty string if no error has been recorded. The
 * pointer is thread-local and valid until the next loader call on this
 * thread.
 */
ACCEL_API const char *accel_last_error_message(void);

/* ------------------------------------------------------------------------ */
/* Instance                                                                   */

/*
 * Log callback. `message` is one line without a newline, valid only during
 * the call. Called from whichever thread logs (drivers may log from their
 * own threads), possibly concurrently: the callback must be thread-safe. It
 * must not call back into the loader.
 */
typedef void (*accel_log_callback)(void *user_data, accel_log_level level, const char *message);

/* Instance creation flags. */
#define ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION (1u << 0) /* ignore ACCEL_DRIVERS_SELECT/DISABLE
                                                          and ACCEL_DEVICE_SELECTOR */

typedef struct accel_instance_options {
    uint32_t struct_size;
    uint32_t flags; /* ACCEL_INSTANCE_FLAG_*; unknown bits are rejected */
    /*
     * Explicit manifest files or directories, used instead of discovery and
     * instead of ACCEL_DRIVER_FILES / ACCEL_ADD_DRIVER_FILES. NULL (or a
     * count of 0) means normal discovery. The strings are copied.
     */
    const char *const *manifest_paths;
    uint32_t manifest_path_count;
    /* Receives the categories in log_mask (accel_log_level bits). When NULL,
     * nothing is delivered except what ACCEL_LOADER_DEBUG sends to stderr. */
    accel_log_callback log_callback;
    void *log_user_data;
    uint32_t log_mask;
    /* A device selector used instead of ACCEL_DEVICE_SELECTOR (same
     * grammar); NULL means the environment's. Copied. */
    const char *device_selector;
} accel_instance_options;

/*
 * Create an instance: discover manifests (or take options->manifest_paths),
 * apply driver selection, load the selected drivers, enumerate and select
 * devices. `options` may be NULL for defaults.
 *
 * Drivers whose manifest is invalid, that are filtered out, fail to load or
 * fail to initialize do not make creation fail: they are recorded with a
 * reason (see accel_enumerate_manifests) and logged. Creation fails only
 * for invalid arguments, an invalid device selector
 * (ACCEL_ERROR_INVALID_SELECTOR, with the position in the detail message)
 * or allocation failure. On failure *instance is untouched and nothing
 * leaks.
 *
 * Thread-safe: several threads may create and destroy instances at once.
 */
ACCEL_API accel_result accel_instance_create(const accel_instance_options *options,
                                             accel_instance **instance);

/* Destroy an instance and every handle reached through it. Drivers no other
 * instance uses are finalized and unloaded (see ACCEL_LOADER_NO_UNLOAD).
 * NULL is a no-op. */
ACCEL_API void accel_instance_destroy(accel_instance *instance);

/* ------------------------------------------------------------------------ */
/* Manifests: every manifest the instance considered, in search order        */

typedef enum accel_manifest_status {
    ACCEL_MANIFEST_LOADED = 0,  /* the driver is loaded and initialized */
    ACCEL_MANIFEST_SKIPPED = 1, /* not loaded: invalid, filtered, duplicate, wrong arch */
    ACCEL_MANIFEST_FAILED = 2,  /* loading, negotiation or initialization failed */
    ACCEL_MANIFEST_STATUS_MAX_ENUM = 0x7fffffff
} accel_manifest_status;

/* Returns "loaded", "skipped" or "failed". */
ACCEL_API const char *accel_manifest_status_string(accel_manifest_status status);

typedef struct accel_manifest_info {
    uint32_t struct_size;
    const char *path;              /* the manifest file */
    const char *driver_name;       /* NULL if the file could not be parsed that far */
    const char *library_path;      /* as written in the manifest, or NULL */
    const char *resolved_library;  /* what was (or would be) passed to dlopen, or NULL */
    accel_manifest_status status;
    const char *reason;            /* why skipped or failed; NULL when loaded */
    accel_result result;           /* the error behind the reason; SUCCESS when loaded */
    uint32_t file_format_version;  /* ACCEL_MAKE_VERSION; 0 if unknown */
    uint32_t api_version;          /* ACCEL_MAKE_VERSION; 0 if unknown */
    accel_driver *driver;          /* when loaded, else NULL */
} accel_manifest_info;

/* Two-call pattern. Handles stay valid until the instance is destroyed. */
ACCEL_API accel_result accel_enumerate_manifests(accel_instance *instance, uint32_t *count,
                                                 accel_manifest **manifests);

/* Fill *info. Strings belong to the instance. */
ACCEL_API accel_result accel_manifest_get_info(const accel_manifest *manifest, accel_manifest_info *info);

/* ------------------------------------------------------------------------ */
/* Drivers                                                                    */

typedef struct accel_driver_info {
    uint32_t struct_size;
    const char *name;              /* the manifest's driver name */
    const char *manifest_path;
    const char *library_path;      /* what was dlopen()ed */
    const char *version;           /* the driver's own version string, or "" */
    uint32_t interface_version;    /* the negotiated ABI version */
    uint32_t api_version;          /* from the manifest */
    uint32_t device_count;         /* devices the driver exposes, before device selection */
} accel_driver_info;

/* Two-call pattern over the loaded drivers, in manifest order. */
ACCEL_API accel_result accel_enumerate_drivers(accel_instance *instance, uint32_t *count,
                                               accel_driver **drivers);

ACCEL_API accel_result accel_driver_get_info(const accel_driver *driver, accel_driver_info *info);

/* ------------------------------------------------------------------------ */
/* Devices                                                                    */

/* "cpu", "gpu", "fpga", "asic" or "unknown". */
ACCEL_API const char *accel_device_kind_string(accel_device_kind kind);

/* "native", "opencl", "vulkan", "uacce", "cuda", "fpga" or "unknown". */
ACCEL_API const char *accel_device_interface_string(accel_device_interface interface);

typedef struct accel_device_info {
    uint32_t struct_size;
    uint32_t index;               /* position in accel_enumerate_devices' order */
    uint32_t driver_index;        /* position in its driver's own enumeration */
    accel_driver *driver;
    const char *driver_name;
    const char *name;
    const char *vendor;
    accel_device_kind kind;
    accel_device_interface interface;
    uint8_t uuid[ACCEL_UUID_SIZE];
    uint32_t vendor_id;
    uint32_t device_id;
    const char *bus_address;      /* "" if none */
    int32_t numa_node;            /* -1 if none or several */
    const char *numa_nodes;       /* Linux list format, "" if unknown */
    uint32_t flags;               /* ACCEL_DEVICE_FLAG_* */
    uint32_t max_address_spaces;  /* 0 = unlimited */
    uint32_t pasid_bits;
    uint32_t available_instances; /* at enumeration time; see accel_device_query */
    accel_device *parent;         /* for partitions, when the parent is selected too */
} accel_device_info;

/*
 * Two-call pattern over the selected devices. The order is the device
 * selector's (ACCEL_DEVICE_SELECTOR or options->device_selector): accept
 * terms in the order written, each driver's devices in its own order
 * within a term. Without a selector: drivers in manifest order.
 */
ACCEL_API accel_result accel_enumerate_devices(accel_instance *instance, uint32_t *count,
                                               accel_device **devices);

/* Fill *info from the loader's cache (no driver call). Strings belong to
 * the instance. */
ACCEL_API accel_result accel_device_get_info(const accel_device *device, accel_device_info *info);

/* Format a uuid as 32 lowercase hex digits plus NUL into buf[33]. */
ACCEL_API void accel_uuid_to_string(const uint8_t uuid[ACCEL_UUID_SIZE], char buf[33]);

/*
 * Read a live device parameter straight from the driver (not cached):
 * value may be NULL to ask the size; size is the capacity of value;
 * *size_ret gets the size needed. ACCEL_ERROR_INVALID_ARGUMENT if value is
 * too small, ACCEL_ERROR_UNSUPPORTED if the driver does not know param.
 * Does not allocate and takes no lock: meant for hot paths. Errors come
 * straight from the driver and, unlike other calls, do not update
 * accel_last_error_message() (except for a NULL device).
 */
ACCEL_API accel_result accel_device_query(const accel_device *device, accel_device_param param,
                                          void *value, size_t size, size_t *size_ret);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_H */
