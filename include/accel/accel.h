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
 * Handles. A handle that was destroyed (or freed, or released), a handle of
 * another type passed in its place, or a device, memory, queue, program or
 * function of a destroyed instance (which frees what is left of them) is
 * ACCEL_ERROR_INVALID_HANDLE, with a detail message, never a crash; so is
 * destroying twice: the destroy functions return an accel_result (earlier
 * releases declared them void; callers built against those still work).
 * NULL handles stay ACCEL_ERROR_INVALID_ARGUMENT; destroying NULL is a
 * no-op. A destroy that races a call on the same object waits for that
 * call to return; calls started after it fail. Functions returning a count or size return 0 for
 * an invalid handle; accel_run_cancel ignores one. Not checked: drivers,
 * manifests and memory nodes (they live as long as their instance), and a
 * stale handle whose address a new object of the same type now occupies.
 * docs/using-the-api.md, "Handles", says what each check costs.
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
typedef struct accel_memory_node accel_memory_node;
typedef struct accel_topology accel_topology;
typedef struct accel_pipeline accel_pipeline;
typedef struct accel_plan accel_plan;

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

/* Destroy an instance and every handle reached through it, with the memory,
 * queues, programs and functions the application has not. Drivers no other
 * instance uses are finalized and unloaded (see ACCEL_LOADER_NO_UNLOAD).
 * NULL is a no-op (ACCEL_SUCCESS); an instance already destroyed is
 * ACCEL_ERROR_INVALID_HANDLE (see "Handles" below). */
ACCEL_API accel_result accel_instance_destroy(accel_instance *instance);

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

/* "cpu", "gpu", "fpga", "asic", "network" or "unknown". */
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
 * Physical devices: one piece of hardware seen through several drivers
 * (its interfaces; e.g. a GPU under both its OpenCL and its Vulkan
 * driver). Selected devices of different drivers are the same hardware
 * when their PCI bus addresses are equal (compared as
 * domain:bus:device.function, hexadecimal in any case, the domain 0000
 * when left out), or, when either has no bus address, when they report
 * the same non-zero uuid. One driver's devices at one address stay apart
 * (a simulated device's replicas). A partition belongs to the physical
 * device of its parent. Physical devices are numbered 0..count-1 in the
 * order of their first device in accel_enumerate_devices; a device alone
 * is a physical device with one interface.
 */
ACCEL_API accel_result accel_instance_get_physical_device_count(accel_instance *instance, uint32_t *count);

/* The physical device a selected device belongs to. */
ACCEL_API accel_result accel_device_get_physical_index(const accel_device *device, uint32_t *physical_index);

/* Two-call pattern over the devices of physical device physical_index, in
 * accel_enumerate_devices' order. ACCEL_ERROR_INVALID_ARGUMENT when
 * physical_index is not below the count. */
ACCEL_API accel_result accel_physical_device_get_interfaces(accel_instance *instance, uint32_t physical_index,
                                                            uint32_t *count, accel_device **devices);

/*
 * Read a live device parameter straight from the driver (not cached):
 * value may be NULL to ask the size; size is the capacity of value;
 * *size_ret gets the size needed. ACCEL_ERROR_INVALID_ARGUMENT if value is
 * too small, ACCEL_ERROR_UNSUPPORTED if the driver does not know param.
 * Does not allocate and takes no lock: meant for hot paths. Errors come
 * straight from the driver and, unlike other calls, do not update
 * accel_last_error_message() (except for a NULL device, and
 * ACCEL_ERROR_INVALID_HANDLE for a device of a destroyed instance or an
 * object that is not a device).
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

/* accel_memory_alloc_info.flags: numa_node holds the home node (>= 0).
 * Without it numa_node 0 (a zero-initialised struct) and -1 mean "no
 * preference"; a positive numa_node still names the node, as before the
 * flag existed. A node that does not exist is ACCEL_ERROR_INVALID_ARGUMENT,
 * so is a negative numa_node with the flag, or one below -1. */
#define ACCEL_MEMORY_ALLOC_NUMA_NODE 0x1u

typedef struct accel_memory_alloc_info {
    uint32_t struct_size;
    uint32_t flags;                  /* ACCEL_MEMORY_ALLOC_NUMA_NODE or 0 */
    uint64_t size;                   /* bytes, > 0 */
    const accel_device *near_device; /* put the pages on this device's NUMA node, or NULL */
    int32_t numa_node;               /* explicit home node; see ACCEL_MEMORY_ALLOC_NUMA_NODE */
    /* ---- appended ---- */
    const accel_memory_node *node;   /* allocate on this memory node (a host NUMA node or
                                        a device's memory: FPGA bank, VRAM); NULL: as above */
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

/* Detach from every device (waiting for their work) and free. NULL is a
 * no-op; freed memory is ACCEL_ERROR_INVALID_HANDLE. */
ACCEL_API accel_result accel_memory_free(accel_memory *memory);

/* "zero-copy", "pinned", "staged" or "none". */
ACCEL_API const char *accel_attach_mode_string(accel_attach_mode mode);

/* ------------------------------------------------------------------------ */
/* Memory nodes                                                               */
/*
 * Places where bytes live: the host's NUMA nodes (from the OS) and the
 * memories drivers report for their devices (device-local memory, FPGA
 * banks). Handles belong to the instance and are stable for its lifetime.
 * The first call that needs them asks each loaded device's driver once
 * (device_memory_nodes; never on the plain enumeration path); only host
 * nodes and the memories of selected devices are listed.
 */
typedef struct accel_memory_node_info {
    uint32_t struct_size;
    uint32_t index;            /* position in accel_enumerate_memory_nodes' order */
    const char *name;          /* "node0", "fpga0:bank1" */
    accel_memory_kind kind;
    uint64_t capacity;         /* bytes, 0 if unknown */
    int32_t numa_node;         /* host NUMA node number, -1 for device memory */
    accel_device *device;      /* the device that owns it (the whole device for
                                  partitions sharing it), NULL for host memory */
    bool host_visible;         /* accel_memory_map works for memory allocated here */
} accel_memory_node_info;

/* "dram", "hbm", "nvm", "cxl", "device", "fpga-bank", "host" or "unknown"
 * (the names the topology files and exports use). */
ACCEL_API const char *accel_memory_kind_string(accel_memory_kind kind);

ACCEL_API accel_result accel_enumerate_memory_nodes(accel_instance *instance, uint32_t *count,
                                                    accel_memory_node **nodes);
ACCEL_API accel_result accel_memory_node_get_info(const accel_memory_node *node, accel_memory_node_info *info);

/* The memory nodes `device` reaches directly (two-call pattern), with how:
 * modes[i] (may be NULL) is ZERO_COPY or PINNED. Host memory, when the
 * device reaches it, is listed as every host node. */
ACCEL_API accel_result accel_device_get_memory_nodes(accel_device *device, uint32_t *count,
                                                     accel_memory_node **nodes, accel_attach_mode *modes);

/* The memory's home node (NULL for imported memory whose node is unknown). */
ACCEL_API accel_memory_node *accel_memory_get_node(const accel_memory *memory);

/*
 * How argument `arg` of `function` will reach `memory` on the function's
 * device: the attachment's mode, or ACCEL_ATTACH_STAGED when the argument
 * is wired to another memory node (an FPGA kernel port tied to a bank, or
 * to host memory while the memory lives on a device node) and the loader
 * copies the range through that node around each submission.
 * ACCEL_ERROR_INVALID_ARGUMENT if the memory is not attached to the device
 * or arg is not a memory argument.
 */
ACCEL_API accel_result accel_function_arg_mode(const accel_function *function, uint32_t arg,
                                               const accel_memory *memory, accel_attach_mode *mode);

/* The device memory node argument `arg` is wired to; *node = NULL when it
 * takes any memory the device is attached to, or any host memory (a port
 * wired to host memory). ACCEL_ERROR_INVALID_ARGUMENT for a scalar. */
ACCEL_API accel_result accel_function_arg_node(const accel_function *function, uint32_t arg,
                                               accel_memory_node **node);

/* ------------------------------------------------------------------------ */
/* Programs and functions                                                     */

/*
 * Load a program for one device. `options` are passed to the device's
 * compiler (may be NULL). On a build failure returns the driver's error and
 * the compiler log is in accel_last_error_message(). For
 * ACCEL_PROGRAM_FORMAT_ELF, `data` is the path of the shared object (a
 * NUL-terminated string, size ignored); see docs/programs.md. A source or
 * SPIR-V program of more than ACCEL_PROGRAM_MAX_SIZE bytes is
 * ACCEL_ERROR_INVALID_ARGUMENT (docs/limits.md).
 */
#define ACCEL_PROGRAM_MAX_SIZE (64u << 20)
ACCEL_API accel_result accel_program_load(accel_device *device, accel_program_format format, const void *data,
                                          size_t size, const char *options, accel_program **program);

/* Destroy the application's program handle; functions got from it keep
 * what they need until they are destroyed. NULL is a no-op. */
ACCEL_API accel_result accel_program_destroy(accel_program *program);

/* Find a function: in `program`, or among the device's built-in functions
 * when program is NULL (accel.copy, accel.fill, accel.noop, crc32c,
 * sha256, zlib.deflate, zlib.inflate: docs/standard-functions.md). */
ACCEL_API accel_result accel_function_get(accel_device *device, accel_program *program, const char *name,
                                          accel_function **function);

/* Two-call pattern over the argument kinds. */
ACCEL_API accel_result accel_function_get_signature(const accel_function *function, uint32_t *count,
                                                    accel_arg_kind *kinds);

/* NULL is a no-op. Pending submissions keep what they need. */
ACCEL_API accel_result accel_function_destroy(accel_function *function);

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
ACCEL_API accel_result accel_queue_destroy(accel_queue *queue);

/*
 * Submit one call of `function`. The arguments are checked against its
 * signature (count, kinds, memory ranges inside their objects and attached
 * to the queue's device) before anything is enqueued. The call returns
 * without waiting for wait_fences. If fence is not NULL it receives a new
 * fence (release it with accel_fence_release).
 *
 * After a submission fails, the queue is broken: its later fences fail with
 * the same error and accel_queue_submit returns it at once. A submission
 * whose wait fence failed (before this call or after it, the same) does not
 * run: its fence fails with the wait fence's error, and the queue is not
 * broken by it. A submission pending for longer than the device timeout
 * (ACCEL_DEVICE_TIMEOUT_MS, docs/environment.md) makes its device lost:
 * ACCEL_ERROR_DEVICE_LOST on every pending and later fence of the device.
 */
ACCEL_API accel_result accel_queue_submit(accel_queue *queue, const accel_submit_info *info, accel_fence **fence);

/* Wait for everything submitted so far; returns the queue's error if any. */
ACCEL_API accel_result accel_queue_finish(accel_queue *queue);

/* ACCEL_SUCCESS, ACCEL_NOT_READY, or the submission's error. */
ACCEL_API accel_result accel_fence_status(accel_fence *fence);

/*
 * Wait for all (wait_all) or any of the fences, at most timeout_ns
 * (UINT64_MAX: forever). Returns ACCEL_SUCCESS, ACCEL_TIMEOUT, or the error
 * of a failed fence (the first failed one in array order when wait_all),
 * whose detail (device, submission, cause) is then in
 * accel_last_error_message().
 */
ACCEL_API accel_result accel_fence_wait(accel_fence *const *fences, uint32_t count, bool wait_all,
                                        uint64_t timeout_ns);

/* Release a fence (the work is not cancelled). NULL is a no-op. */
ACCEL_API accel_result accel_fence_release(accel_fence *fence);

/* ------------------------------------------------------------------------ */
/* Topology                                                                   */
/*
 * One graph of CPU sets, memory nodes and devices, with links from
 * initiators (CPU sets, devices) to memory nodes and between devices. The
 * host part comes from hwloc (this machine, or a recorded hwloc XML file);
 * the instance's devices and their memories come from the drivers;
 * simulated devices from a JSON file; a user JSON file may add or override
 * link values. docs/topology.md describes the files and the estimates used
 * where nothing better is known.
 */
typedef enum accel_topology_node_kind {
    ACCEL_TOPOLOGY_NODE_CPUSET = 1, /* the cores local to one NUMA node (or the machine) */
    ACCEL_TOPOLOGY_NODE_MEMORY = 2,
    ACCEL_TOPOLOGY_NODE_DEVICE = 3,
    ACCEL_TOPOLOGY_NODE_KIND_MAX_ENUM = 0x7fffffff
} accel_topology_node_kind;

typedef struct accel_topology_options {
    uint32_t struct_size;
    uint32_t flags;                /* ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES */
    const char *hwloc_xml;         /* NULL: ACCEL_TOPOLOGY_XML if set, else this machine */
    const char *user_file;         /* NULL: ACCEL_TOPOLOGY_FILE if set, else none */
    const char *simulated_devices; /* JSON file of simulated devices, or NULL */
} accel_topology_options;

/* Leave the instance's real devices out (what-if planning). */
#define ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES (1u << 0)

typedef struct accel_topology_node {
    uint32_t struct_size;
    uint32_t index;
    accel_topology_node_kind kind;
    const char *name;
    int32_t parent;            /* where it hangs: a memory or device's CPU set, a
                                  partition's whole device, a device memory's device; -1 */
    /* CPUSET */
    const char *cpuset;        /* Linux list format of the logical CPUs */
    /* MEMORY */
    accel_memory_kind memory_kind;
    uint64_t capacity;
    int32_t numa_node;         /* OS index of a host node, -1 otherwise */
    accel_memory_node *memory_node; /* the live node, NULL when recorded or simulated */
    /* DEVICE */
    accel_device *device;      /* NULL for simulated devices */
    accel_device_kind device_kind;
    const char *driver_name;
    uint32_t driver_index;     /* position in its driver's enumeration (for selectors) */
    uint8_t uuid[ACCEL_UUID_SIZE];
    const char *bus_address;
    uint32_t device_flags;     /* ACCEL_DEVICE_FLAG_* */
    uint32_t pasid_bits;
    uint32_t max_address_spaces;
    uint32_t available_instances;
    uint32_t function_count;   /* functions placement may use (accel_topology_get_function) */
} accel_topology_node;

typedef struct accel_topology_link {
    uint32_t struct_size;
    uint32_t from;             /* initiator: CPU set or device */
    uint32_t to;               /* memory node, or a device for device <-> device links */
    accel_link_kind kind;
    accel_attach_mode access;  /* initiator -> memory: ZERO_COPY or PINNED */
    uint64_t bandwidth_mbps;   /* 0 if unknown */
    uint64_t latency_ns;       /* 0 if unknown */
    accel_value_source bandwidth_source;
    accel_value_source latency_source;
} accel_topology_link;

typedef struct accel_topology_function {
    uint32_t struct_size;
    const char *name;
    uint64_t fixed_ns;         /* per call */
    uint64_t bytes_per_second; /* over the input bytes */
    accel_value_source source;
} accel_topology_function;

/* Build a topology. instance may be NULL (host and simulated devices only). */
ACCEL_API accel_result accel_topology_create(accel_instance *instance, const accel_topology_options *options,
                                             accel_topology **topology);
/* The instance's own topology, built on first use with default options
 * and kept until the instance is destroyed. */
ACCEL_API accel_result accel_instance_get_topology(accel_instance *instance, const accel_topology **topology);
/* For topologies from accel_topology_create. NULL is a no-op. */
ACCEL_API accel_result accel_topology_destroy(accel_topology *topology);

ACCEL_API uint32_t accel_topology_node_count(const accel_topology *topology);
ACCEL_API accel_result accel_topology_get_node(const accel_topology *topology, uint32_t index,
                                               accel_topology_node *node);
ACCEL_API uint32_t accel_topology_link_count(const accel_topology *topology);
ACCEL_API accel_result accel_topology_get_link(const accel_topology *topology, uint32_t index,
                                               accel_topology_link *link);
ACCEL_API accel_result accel_topology_get_function(const accel_topology *topology, uint32_t device_node,
                                                   uint32_t index, accel_topology_function *function);

/* The node of a device of the instance; ACCEL_ERROR_NOT_FOUND if absent. */
ACCEL_API accel_result accel_topology_find_device(const accel_topology *topology, const accel_device *device,
                                                  uint32_t *index);
/*
 * Whether the initiator (CPU set or device node) reaches memory node
 * `memory` without a copy: ACCEL_SUCCESS with *mode ZERO_COPY or PINNED and
 * the link's values, or ACCEL_SUCCESS with *mode STAGED when a copy is
 * needed (bandwidth/latency then describe the cheapest copy path).
 */
ACCEL_API accel_result accel_topology_reach(const accel_topology *topology, uint32_t initiator, uint32_t memory,
                                           accel_attach_mode *mode, uint64_t *bandwidth_mbps,
                                           uint64_t *latency_ns);
/* The memory node every one of `count` initiators reaches without a copy,
 * with the highest of their lowest bandwidths; ACCEL_ERROR_NOT_FOUND if
 * none is reached by all. */
ACCEL_API accel_result accel_topology_best_memory_node(const accel_topology *topology, const uint32_t *initiators,
                                                       uint32_t count, uint32_t *memory);

typedef enum accel_topology_format {
    ACCEL_TOPOLOGY_FORMAT_DOT = 1,  /* Graphviz */
    ACCEL_TOPOLOGY_FORMAT_JSON = 2,
    ACCEL_TOPOLOGY_FORMAT_MAX_ENUM = 0x7fffffff
} accel_topology_format;

/* Write the graph as text: two-call pattern over bytes (NUL included). */
ACCEL_API accel_result accel_topology_export(const accel_topology *topology, accel_topology_format format,
                                             char *buffer, size_t size, size_t *size_ret);

/* ------------------------------------------------------------------------ */
/* Pipelines and placement                                                    */
/*
 * A pipeline is a set of stages (function calls) over named buffers; a
 * buffer written by one stage and read by another is an edge carrying its
 * bytes. Files follow docs/pipelines.md (JSON, with a schema). Placement
 * chooses a device per stage and a home memory node per buffer that satisfy
 * every constraint at the lowest estimated cost, and explains the result.
 */

/* Parse a pipeline; `source` names it in error messages (a file name). On
 * error the detail message says where (source, JSON path) and what. */
ACCEL_API accel_result accel_pipeline_parse(const char *json, size_t size, const char *source,
                                            accel_pipeline **pipeline);
ACCEL_API accel_result accel_pipeline_load(const char *path, accel_pipeline **pipeline);
ACCEL_API accel_result accel_pipeline_destroy(accel_pipeline *pipeline);

typedef struct accel_pipeline_buffer {
    uint32_t struct_size;
    const char *name;
    uint64_t bytes;            /* size, or the estimate for placement */
    const char *input_file;    /* read from this file (relative to the pipeline file), or NULL */
    const char *output_file;   /* written to this file after the run, or NULL */
    int32_t producer;          /* the stage that writes it, -1 for inputs */
    int32_t output_size_from;  /* the buffer whose first 8 bytes (u64, little-endian) give
                                  how many bytes of this one to write out (a zlib stage's
                                  out_size, pipeline key "output_size_from"); -1: all */
} accel_pipeline_buffer;

typedef struct accel_pipeline_stage_arg {
    accel_arg_kind kind;
    uint32_t buffer;           /* ACCEL_ARG_MEMORY: a buffer index */
    bool writes;               /* the stage writes this buffer */
    accel_arg value;           /* scalars (value.kind == kind) */
    int32_t size_from;         /* ACCEL_ARG_MEMORY: the range's size is the u64 at the start
                                  of this buffer when the stage runs (key "size_from", e.g. an
                                  inflate's out_size); -1: the whole buffer */
} accel_pipeline_stage_arg;

typedef struct accel_pipeline_stage {
    uint32_t struct_size;
    const char *name;
    const char *function;      /* a standard function, or a function of `program` */
    const char *program;       /* path of the program (relative to the pipeline file), or NULL */
    accel_program_format program_format;
    uint32_t arg_count;
    const accel_pipeline_stage_arg *args;
    const char *device;        /* user constraint: a device selector term, or NULL */
    accel_device_kind kind;    /* user constraint: 0 = any */
    const char *driver;        /* user constraint: driver name glob, or NULL */
    const char *uuid;          /* user constraint: uuid prefix, or NULL */
    uint32_t not_with_count;   /* stages it must not share a device with */
    const uint32_t *not_with;
    /* ---- appended ---- */
    uint32_t work_dim;         /* a program function's "work_size": 1..3 dimensions; 0 for built-ins */
    uint64_t work_size[3];
} accel_pipeline_stage;

ACCEL_API uint32_t accel_pipeline_stage_count(const accel_pipeline *pipeline);
ACCEL_API accel_result accel_pipeline_get_stage(const accel_pipeline *pipeline, uint32_t index,
                                                accel_pipeline_stage *stage);
ACCEL_API uint32_t accel_pipeline_buffer_count(const accel_pipeline *pipeline);
ACCEL_API accel_result accel_pipeline_get_buffer(const accel_pipeline *pipeline, uint32_t index,
                                                 accel_pipeline_buffer *buffer);
/* Set a buffer's size (accel-run does so for input files before placing). */
ACCEL_API accel_result accel_pipeline_set_buffer_bytes(accel_pipeline *pipeline, uint32_t index, uint64_t bytes);
/* Set a stage's device constraint (a selector such as "cpu:0"), as the
 * pipeline file's "device" field does; it replaces the file's. */
ACCEL_API accel_result accel_pipeline_constrain_stage(accel_pipeline *pipeline, const char *stage,
                                                      const char *device_selector);

/*
 * What placement minimizes (docs/pipelines.md, "Streams: the throughput objective").
 *
 * LATENCY: one pass over the input, the stages one after another: the sum
 * of every stage's compute and every buffer's transfers and file i/o.
 *
 * THROUGHPUT: a stream of inputs, every stage busy at once: the time per
 * pass of the busiest compute group (the stages on its devices, each with
 * its compute and the transfers of its buffer arguments, added up), then
 * the latency among plans that tie. A compute group is the hardware that
 * devices share: every device of kind cpu (the cpu driver, an OpenCL CPU
 * device, a software Vulkan device) runs on the host's cores, one group;
 * devices of different drivers at one PCI bus address are one device seen
 * twice, one group; any other device is a group of its own.
 */
typedef enum accel_place_objective {
    ACCEL_PLACE_OBJECTIVE_LATENCY = 0,
    ACCEL_PLACE_OBJECTIVE_THROUGHPUT = 1,
    ACCEL_PLACE_OBJECTIVE_MAX_ENUM = 0x7fffffff
} accel_place_objective;

/* Placement options. */
#define ACCEL_PLACE_NO_STAGED (1u << 0)  /* forbid copies: every use must be ZERO_COPY or PINNED */
#define ACCEL_PLACE_EXHAUSTIVE (1u << 1) /* plain exhaustive search (for tests; slow) */
#define ACCEL_PLACE_STREAMED (1u << 2)   /* the run will stream: a standard function's cost is its
                                            stream form's (e.g. "crc32c.stream") where the
                                            device has one (docs/pipelines.md, "Chunk size") */

/* The search's time limit when neither the options nor the environment give
 * one (docs/limits.md): a plan found by then is returned, not optimal. */
#define ACCEL_PLACE_DEFAULT_TIME_LIMIT_NS (10ull * 1000 * 1000 * 1000)

typedef struct accel_place_options {
    uint32_t struct_size;
    uint32_t flags;              /* ACCEL_PLACE_* */
    uint32_t process_pasid_bits; /* bits the process's PASID needs; SVA devices with a
                                    narrower PASID cannot be used; 0: 1 bit */
    uint32_t iommu_contexts;     /* budget of IOMMU contexts for non-SVA devices; 0 = unlimited */
    uint64_t time_limit_ns;      /* stop the search and return the best plan found;
                                    0: $ACCEL_PLACE_TIME_LIMIT_MS if set, else
                                    ACCEL_PLACE_DEFAULT_TIME_LIMIT_NS */
    /* ---- appended ---- */
    accel_place_objective objective; /* what the search minimizes; 0: latency */
} accel_place_options;

/* Why a pipeline is infeasible. */
typedef enum accel_constraint {
    ACCEL_CONSTRAINT_NONE = 0,
    ACCEL_CONSTRAINT_FUNCTION = 1,      /* no device offers the function */
    ACCEL_CONSTRAINT_INSTANCES = 2,     /* not enough free queue instances */
    ACCEL_CONSTRAINT_PASID = 3,         /* PASID width too small for the process's PASID */
    ACCEL_CONSTRAINT_IOMMU = 4,         /* not enough IOMMU contexts / address spaces */
    ACCEL_CONSTRAINT_REACHABILITY = 5,  /* a copy would be needed and copies are forbidden */
    ACCEL_CONSTRAINT_USER = 6,          /* the stage's own constraints (kind, driver, uuid,
                                           device, not_with) */
    ACCEL_CONSTRAINT_MAX_ENUM = 0x7fffffff
} accel_constraint;

/* "function", "instances", "pasid", "iommu", "reachability", "user". */
ACCEL_API const char *accel_constraint_string(accel_constraint constraint);

/*
 * Place the pipeline on the topology's devices. ACCEL_SUCCESS with a plan,
 * or ACCEL_ERROR_INFEASIBLE with a plan that only explains why
 * (accel_plan_get_conflict); in both cases *plan must be destroyed.
 */
ACCEL_API accel_result accel_place(const accel_topology *topology, const accel_pipeline *pipeline,
                                   const accel_place_options *options, accel_plan **plan);
ACCEL_API accel_result accel_plan_destroy(accel_plan *plan);

typedef struct accel_plan_summary {
    uint32_t struct_size;
    bool feasible;
    bool optimal;              /* the search finished (no time limit hit) */
    double cost_ns;            /* estimated total: one pass, the stages one after another */
    double lower_bound_ns;     /* best proven lower bound of what the objective minimizes:
                                  cost_ns (latency) or bottleneck_ns (throughput) */
    uint64_t nodes_explored;   /* search nodes, for benchmarks */
    /* ---- appended ---- */
    accel_place_objective objective; /* what the search minimized */
    double bottleneck_ns;      /* streamed: the busiest compute group's time per pass (filled
                                  under either objective; what throughput minimizes) */
    int32_t bottleneck_stage;  /* that group's longest stage; -1 if infeasible */
    const char *bottleneck_group; /* that group: "host", a PCI bus address shared by several
                                     devices, or a device's name; owned by the plan; "" if
                                     infeasible */
    double bytes_per_second;   /* streamed: input bytes per second (the pipeline's inputs,
                                  the buffers no stage writes, over bottleneck_ns); 0 if it
                                  has no input or is infeasible */
} accel_plan_summary;
ACCEL_API accel_result accel_plan_get_summary(const accel_plan *plan, accel_plan_summary *summary);

typedef struct accel_plan_stage {
    uint32_t struct_size;
    uint32_t device_node;      /* topology node index */
    double cost_ns;            /* the function's estimated time */
    double transfer_ns;        /* its buffers' access/copy cost */
} accel_plan_stage;
ACCEL_API accel_result accel_plan_get_stage(const accel_plan *plan, uint32_t stage, accel_plan_stage *out);

typedef struct accel_plan_buffer {
    uint32_t struct_size;
    uint32_t home_node;        /* topology memory node index */
    double cost_ns;            /* transfers of this edge */
} accel_plan_buffer;
ACCEL_API accel_result accel_plan_get_buffer(const accel_plan *plan, uint32_t buffer, accel_plan_buffer *out);

/* The attach mode a stage's memory argument uses. */
ACCEL_API accel_result accel_plan_get_use(const accel_plan *plan, uint32_t stage, uint32_t arg,
                                          accel_attach_mode *mode);

typedef struct accel_plan_conflict {
    uint32_t struct_size;
    accel_constraint constraint;
    int32_t stage;             /* the stage it binds on, -1 if global */
    const char *detail;        /* one sentence, with the devices it ruled out */
} accel_plan_conflict;
ACCEL_API accel_result accel_plan_get_conflict(const accel_plan *plan, accel_plan_conflict *conflict);

/* The plan (or the infeasibility) as text for people (explain = true adds
 * every rejected candidate and why) or as JSON; two-call pattern. */
ACCEL_API accel_result accel_plan_describe(const accel_plan *plan, bool explain, char *buffer, size_t size,
                                           size_t *size_ret);
ACCEL_API accel_result accel_plan_export_json(const accel_plan *plan, char *buffer, size_t size,
                                              size_t *size_ret);

/* ------------------------------------------------------------------------ */
/* Running a plan                                                             */
/*
 * A run executes a feasible plan on the instance's devices (docs/pipelines.md,
 * "Running a plan"). When every stage is a standard function with a stream
 * form (crc32c, sha256, zlib.deflate, zlib.inflate) that its device offers,
 * the inputs are streamed in chunks through small rings of buffers on each
 * edge, every stage working on its chunk while the next stage works on the
 * previous one: memory stays bounded whatever the input size, and outputs
 * are written as chunks complete. Otherwise (user programs, ACCEL_RUN_WHOLE_BUFFER)
 * every buffer is allocated at its size and the stages run one call each.
 * Output files are written to a temporary file in their directory and
 * renamed when the whole run succeeded; on failure or cancellation they are
 * removed. Before any work, a run refuses (ACCEL_ERROR_INVALID_ARGUMENT)
 * output names that are absolute or contain "..", a missing output
 * directory, a link, directory or special file at an output's name, an
 * output that is one of the inputs and two outputs on one file; an input
 * named by the pipeline must be a regular file (docs/pipelines.md).
 *
 *   accel_run *run;
 *   accel_run_options o = {.struct_size = sizeof(o), .input_dir = dir, .output_dir = dir};
 *   accel_run_create(instance, topology, pipeline, plan, &o, &run);
 *   accel_run_io in = {.struct_size = sizeof(in), .kind = ACCEL_RUN_IO_FD, .fd = 0};
 *   accel_run_bind(run, input_buffer, &in);            // optional: the file by default
 *   accel_run_result res = {.struct_size = sizeof(res)};
 *   accel_run_execute(run, &res);                       // accel_run_cancel(run) from another thread
 *   accel_run_destroy(run);
 */
typedef struct accel_run accel_run;

/* Where a buffer's bytes come from (an input) or go to (an output). */
typedef enum accel_run_io_kind {
    ACCEL_RUN_IO_FILE = 0,     /* the pipeline's file, relative to input_dir / output_dir (default) */
    ACCEL_RUN_IO_PATH = 1,     /* `path` instead of the pipeline's file */
    ACCEL_RUN_IO_FD = 2,       /* `fd`: read to its end / written in order; never closed, no rename */
    ACCEL_RUN_IO_CALLBACK = 3, /* `read` / `write` with `user_data` */
    ACCEL_RUN_IO_KIND_MAX_ENUM = 0x7fffffff
} accel_run_io_kind;

/* Fill up to `size` bytes of `data`: the bytes read, 0 at the end, -1 on an
 * error (the run fails naming the buffer). Called on the thread running
 * accel_run_execute. */
typedef int64_t (*accel_run_read_callback)(void *user_data, void *data, uint64_t size);
/* Take all `size` bytes of `data`: 0, or -1 on an error. */
typedef int (*accel_run_write_callback)(void *user_data, const void *data, uint64_t size);

typedef struct accel_run_io {
    uint32_t struct_size;
    accel_run_io_kind kind;
    const char *path;              /* ACCEL_RUN_IO_PATH; copied */
    int32_t fd;                    /* ACCEL_RUN_IO_FD */
    accel_run_read_callback read;  /* ACCEL_RUN_IO_CALLBACK, inputs */
    accel_run_write_callback write;/* ACCEL_RUN_IO_CALLBACK, outputs */
    void *user_data;
    uint64_t size_hint;            /* inputs from an fd that is not a regular file or a
                                      callback: the bytes expected (for progress); 0: unknown */
} accel_run_io;

/* Per stage, so far. */
typedef struct accel_run_stage_stats {
    uint64_t bytes_in;         /* bytes of its stream (src) argument taken */
    uint64_t bytes_out;        /* bytes it wrote to its dst (0 for checksums) */
    uint64_t calls;            /* submissions completed */
    uint64_t busy_ns;          /* time with at least one of its calls running */
} accel_run_stage_stats;

typedef struct accel_run_progress {
    uint32_t struct_size;
    bool streaming;
    uint32_t stage_count;
    const accel_run_stage_stats *stages; /* stage_count entries, valid during the call */
    uint64_t input_bytes;      /* read from every input */
    uint64_t input_total;      /* what the inputs hold; 0: unknown (a pipe) */
    uint64_t output_bytes;     /* written to every output */
    uint64_t elapsed_ns;
} accel_run_progress;

/* Called on the thread running accel_run_execute, every progress_interval_ns
 * at most, and once at the end. It may call accel_run_cancel. */
typedef void (*accel_run_progress_callback)(void *user_data, const accel_run_progress *progress);

#define ACCEL_RUN_WHOLE_BUFFER (1u << 0) /* never stream: whole buffers, one call per stage */

/* The chunk size when neither the options nor the plan choose one. */
#define ACCEL_RUN_DEFAULT_CHUNK_SIZE (1u << 20)

typedef struct accel_run_options {
    uint32_t struct_size;
    uint32_t flags;              /* ACCEL_RUN_*; unknown bits are rejected */
    uint64_t chunk_size;         /* streamed input bytes per chunk; 0: chosen from the plan's
                                    costs (docs/pipelines.md, "Chunk size") */
    uint32_t ring_depth;         /* chunk buffers per edge, 2 to 16; 0: 3 (triple buffering) */
    const char *input_dir;       /* pipeline input files are relative to it; NULL: "." */
    const char *output_dir;      /* pipeline output files are relative to it; NULL: input_dir */
    accel_run_progress_callback progress;
    void *progress_user_data;
    uint64_t progress_interval_ns; /* 0: 100 ms */
} accel_run_options;

typedef struct accel_run_result {
    uint32_t struct_size;
    accel_result result;         /* what accel_run_execute returned */
    bool streamed;               /* chunks and rings (else whole buffers) */
    const char *mode_reason;     /* why the run did not stream, or NULL; owned by the run */
    int32_t failed_stage;        /* the stage that failed, -1 if none (or not a stage) */
    int64_t failed_chunk;        /* the chunk of its input it was on (0-based), -1 if none */
    const char *message;         /* what failed, naming stage, chunk, buffer or file; NULL on
                                    success; owned by the run */
    uint64_t chunk_size;         /* streamed: the input chunk size used */
    uint64_t chunks;             /* streamed: input chunks read, all inputs */
    uint64_t input_bytes;
    uint64_t output_bytes;
    uint64_t buffer_bytes;       /* memory allocated for buffers, rings and stream states */
    uint64_t elapsed_ns;
} accel_run_result;

/*
 * Prepare a run of a feasible `plan` of `pipeline` placed on `topology`
 * (built for `instance`, whose devices run it). Queues and functions are
 * made at accel_run_execute. The pipeline, plan and topology must stay
 * valid until accel_run_destroy; `options` (may be NULL) is copied.
 */
ACCEL_API accel_result accel_run_create(accel_instance *instance, const accel_topology *topology,
                                        const accel_pipeline *pipeline, const accel_plan *plan,
                                        const accel_run_options *options, accel_run **run);

/* Bind an input buffer (one read by stages and written by none, with a file)
 * or an output buffer to `io` instead of its pipeline file. Before
 * accel_run_execute only. */
ACCEL_API accel_result accel_run_bind(accel_run *run, uint32_t buffer, const accel_run_io *io);

/*
 * Run it, once, on the calling thread. ACCEL_SUCCESS when every stage
 * succeeded and every output was written; otherwise the first error (the
 * stage's, ACCEL_ERROR_IO for a file, ACCEL_ERROR_CANCELED), with the
 * detail message naming stage and chunk, buffer or file, and *result (may
 * be NULL) filled either way. Every queue is drained before it returns.
 */
ACCEL_API accel_result accel_run_execute(accel_run *run, accel_run_result *result);

/* Ask a run to stop: no new work is submitted, what is in flight is waited
 * for, outputs are removed, accel_run_execute returns ACCEL_ERROR_CANCELED.
 * Callable from any thread (and from a signal handler) while the run exists. */
ACCEL_API void accel_run_cancel(accel_run *run);

/* NULL is a no-op. Not while accel_run_execute is running. */
ACCEL_API accel_result accel_run_destroy(accel_run *run);

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_H */
