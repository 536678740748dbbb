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
typedef struct accel_memory accel_memory;
typedef struct accel_program accel_program;
typedef struct accel_function accel_function;
typedef struct accel_queue accel_queue;
typedef struct accel_fence accel_fence;

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
    /* ---- appended ---- */
    const char *device_node;      /* e.g. "/dev/hisi_zip-0"; "" if none */
    const char *partition;        /* what part of the parent a partition is; "" otherwise */
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

/* ------------------------------------------------------------------------ */
/* Memory                                                                     */
/*
 * A memory object is a range of host-addressable bytes with a home (a NUMA
 * node) that devices of any driver can be attached to. It belongs to its
 * instance and must be freed before it (accel_instance_destroy frees what
 * is left). Attaching reports how the device reaches it (accel_attach_mode);
 * the application never has to care, results are the same in every mode.
 *
 * Host access: accel_memory_map gives the host address of the bytes. While
 * a submission that uses the memory is pending, the host must not touch the
 * ranges it writes, and must not write the ranges it reads: completion of
 * the submission's fence is the synchronization point (STAGED data are
 * copied back before the fence completes).
 */

typedef struct accel_memory_alloc_info {
    uint32_t struct_size;
    uint32_t flags;                  /* reserved, must be 0 */
    uint64_t size;                   /* bytes, > 0 */
    const accel_device *near_device; /* put the pages on this device's NUMA node, or NULL */
    int32_t numa_node;               /* explicit home node, -1 for "near_device or anywhere" */
} accel_memory_alloc_info;

/* Allocate zero-filled memory (backed by a memfd, so it can be exported).
 * Thread-safe. */
ACCEL_API accel_result accel_memory_alloc(accel_instance *instance, const accel_memory_alloc_info *info,
                                          accel_memory **memory);

/*
 * Import host memory the application owns. The loader neither frees nor
 * moves it; it must stay valid and mapped until accel_memory_free returns.
 * Devices that cannot reach arbitrary host pages are attached STAGED.
 */
ACCEL_API accel_result accel_memory_import_host(accel_instance *instance, void *ptr, uint64_t size,
                                                uint32_t flags, accel_memory **memory);

/*
 * Import `size` bytes at `offset` of a file descriptor (a memfd, a dma-buf
 * or a regular file that can be mapped shared). The loader dup()s fd: the
 * caller keeps its own descriptor. The range is mapped shared into the
 * process.
 */
ACCEL_API accel_result accel_memory_import_fd(accel_instance *instance, int fd, uint64_t offset, uint64_t size,
                                              uint32_t flags, accel_memory **memory);

/* A new file descriptor (caller closes it) for memory allocated by
 * accel_memory_alloc or imported from an fd; ACCEL_ERROR_UNSUPPORTED for
 * imported host pointers. */
ACCEL_API accel_result accel_memory_export_fd(const accel_memory *memory, int *fd, uint64_t *offset);

/* The host address of the bytes (valid until the memory is freed). */
ACCEL_API accel_result accel_memory_map(const accel_memory *memory, void **ptr);

/* The size in bytes (0 for NULL). */
ACCEL_API uint64_t accel_memory_size(const accel_memory *memory);

/*
 * Make the memory usable by `device` and report the mode chosen in *mode
 * (may be NULL). Attaching twice to one device is a no-op that reports the
 * same mode. Memory must be attached to a device before a submission on
 * that device uses it; a submission with unattached memory fails with
 * ACCEL_ERROR_INVALID_ARGUMENT. Thread-safe; on failure nothing is attached
 * and the detail message names the driver.
 */
ACCEL_API accel_result accel_memory_attach(accel_memory *memory, accel_device *device, accel_attach_mode *mode);

/* Detach; waits for the work queued on that device's queues first (the
 * memory may be in use there). ACCEL_ERROR_INVALID_ARGUMENT if it was not
 * attached. */
ACCEL_API accel_result accel_memory_detach(accel_memory *memory, accel_device *device);

/* Detach from every device (waiting for their work) and free. NULL is a no-op. */
ACCEL_API void accel_memory_free(accel_memory *memory);

/* "zero-copy", "pinned", "staged" or "none". */
ACCEL_API const char *accel_attach_mode_string(accel_attach_mode mode);

/* ------------------------------------------------------------------------ */
/* Programs and functions                                                     */

/*
 * Load a program for one device. `options` are passed to the device's
 * compiler (may be NULL). On a build failure returns the driver's error and
 * the compiler log is in accel_last_error_message(). For
 * ACCEL_PROGRAM_FORMAT_ELF, `data` is the path of the shared object (a
 * NUL-terminated string, size ignored); see docs/programs.md.
 */
ACCEL_API accel_result accel_program_load(accel_device *device, accel_program_format format, const void *data,
                                          size_t size, const char *options, accel_program **program);

/* Destroy a program; its functions must have been destroyed. NULL is a no-op. */
ACCEL_API void accel_program_destroy(accel_program *program);

/* Find a function: in `program`, or among the device's built-in functions
 * when program is NULL (accel.copy, accel.fill, accel.noop, crc32c,
 * sha256, zlib.deflate, zlib.inflate: docs/standard-functions.md). */
ACCEL_API accel_result accel_function_get(accel_device *device, accel_program *program, const char *name,
                                          accel_function **function);

/* Two-call pattern over the argument kinds. */
ACCEL_API accel_result accel_function_get_signature(const accel_function *function, uint32_t *count,
                                                    accel_arg_kind *kinds);

/* NULL is a no-op. Pending submissions keep what they need. */
ACCEL_API void accel_function_destroy(accel_function *function);

/* ------------------------------------------------------------------------ */
/* Queues and fences                                                          */

typedef struct accel_arg {
    accel_arg_kind kind;
    uint32_t reserved; /* 0 */
    union {
        struct {
            accel_memory *memory;
            uint64_t offset;
            uint64_t size; /* bytes from offset */
        } mem;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } u;
} accel_arg;

typedef struct accel_submit_info {
    uint32_t struct_size;
    uint32_t flags;            /* reserved, 0 */
    accel_function *function;
    const accel_arg *args;
    uint32_t arg_count;
    uint32_t work_dim;         /* 0 (built-ins) or 1..3 */
    uint64_t work_size[3];
    accel_fence *const *wait_fences; /* from any queue of any driver */
    uint32_t wait_fence_count;
} accel_submit_info;

/* An in-order queue on a device. Safe to submit to from several threads. */
ACCEL_API accel_result accel_queue_create(accel_device *device, uint32_t flags, accel_queue **queue);

/* Wait for everything submitted, then destroy. Fences of the queue stay
 * valid (and complete) until released. NULL is a no-op. */
ACCEL_API void accel_queue_destroy(accel_queue *queue);

/*
 * Submit one call of `function`. The arguments are checked against its
 * signature (count, kinds, memory ranges inside their objects and attached
 * to the queue's device) before anything is enqueued. The call returns
 * without waiting for wait_fences. If fence is not NULL it receives a new
 * fence (release it with accel_fence_release).
 *
 * After a submission fails, the queue is broken: its later fences fail with
 * the same error and accel_queue_submit returns it at once.
 */
ACCEL_API accel_result accel_queue_submit(accel_queue *queue, const accel_submit_info *info, accel_fence **fence);

/* Wait for everything submitted so far; returns the queue's error if any. */
ACCEL_API accel_result accel_queue_finish(accel_queue *queue);

/* ACCEL_SUCCESS, ACCEL_NOT_READY, or the submission's error. */
ACCEL_API accel_result accel_fence_status(accel_fence *fence);

/*
 * Wait for all (wait_all) or any of the fences, at most timeout_ns
 * (UINT64_MAX: forever). Returns ACCEL_SUCCESS, ACCEL_TIMEOUT, or the error
 * of a failed fence (the first failed one in array order when wait_all).
 */
ACCEL_API accel_result accel_fence_wait(accel_fence *const *fences, uint32_t count, bool wait_all,
                                        uint64_t timeout_ns);

/* Release a fence (the work is not cancelled). NULL is a no-op. */
ACCEL_API void accel_fence_release(accel_fence *fence);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_H */
