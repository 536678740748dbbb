/*
 * accel_icd.h — the accel-loader driver ABI.
 *
 * A driver is a shared library plus a JSON manifest (see manifests/README.md).
 * The library exports exactly one symbol that the loader looks for:
 *
 *     accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n);
 *
 * Everything else the loader reaches through the function table the driver
 * returns from that call. Handshake:
 *
 *   1. The loader dlopen()s the library (only if the manifest's driver was
 *      selected) and calls accel_icd_negotiate() once per process, with
 *      n->loader_version set to the highest interface version it speaks and
 *      n->loader_min_version to the lowest it accepts.
 *   2. The driver writes the version it implements to n->driver_version. It
 *      must not be higher than n->loader_version; drivers that speak several
 *      versions pick the highest one both sides know. A driver that cannot
 *      speak any version in [loader_min_version, loader_version] returns
 *      ACCEL_ERROR_INCOMPATIBLE_DRIVER.
 *   3. The driver stores a pointer to its function table in n->table. The
 *      table must stay valid and unchanged until the library is unloaded.
 *   4. The loader checks the answer: a version outside the accepted range, a
 *      table shorter than that version requires, or a NULL required entry
 *      rejects the driver (the manifest is reported as "failed" with the
 *      reason) and the library is unloaded again.
 *   5. The loader calls table->driver_init() once, then enumerates devices.
 *      One loaded driver serves every accel instance of the process: init
 *      and fini are called once per load, not once per instance.
 *   6. When the last instance using the driver is destroyed, the loader calls
 *      table->driver_fini() and dlclose()s the library, unless the driver set
 *      ACCEL_ICD_FLAG_NO_UNLOAD or the user set ACCEL_LOADER_NO_UNLOAD=1.
 *
 * Handles. The driver hands out opaque `void *` handles (its driver context,
 * its devices); the loader wraps each in its own object and never
 * dereferences a driver handle. Device handles must stay valid until
 * driver_fini.
 *
 * Threads. Every table entry may be called from any thread. Entries marked
 * "hot" may be called concurrently with each other and must not block on
 * locks held across other driver calls. driver_init and driver_fini are
 * never called concurrently with anything else for the same driver.
 *
 * Structs. Every struct crossing this boundary starts with
 * `uint32_t struct_size`, set by whoever allocates it. The receiving side
 * reads or writes only the first min(struct_size, sizeof(its struct)) bytes,
 * so both sides may be built against different revisions of this header.
 * Fields are only ever appended.
 *
 * Strings. All strings are NUL-terminated UTF-8. Fixed-size char arrays in
 * output structs must be NUL-terminated by the driver (truncate if needed).
 *
 * A driver includes only this header (and its vendor's headers).
 */
#ifndef ACCEL_ICD_H
#define ACCEL_ICD_H

#include "accel_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The interface version this header describes. */
#define ACCEL_ICD_INTERFACE_VERSION ACCEL_MAKE_VERSION(1, 0)

/* The name of the one symbol the loader resolves. */
#define ACCEL_ICD_NEGOTIATE_SYMBOL "accel_icd_negotiate"

/* Drivers mark their negotiation function with this so it is exported even
 * when the library is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define ACCEL_ICD_EXPORT __attribute__((visibility("default")))
#else
#define ACCEL_ICD_EXPORT
#endif

/* Drivers return the same codes as the public API (accel_types.h). */
typedef accel_result accel_icd_result;

/* Table flags. */
#define ACCEL_ICD_FLAG_NO_UNLOAD (1u << 0) /* never dlclose: the library keeps
                                              state (TLS destructors, threads)
                                              that cannot be torn down */

/* ------------------------------------------------------------------------ */
/* Services the loader gives the driver.                                     */

/*
 * Valid from accel_icd_negotiate until driver_fini returns. `loader_context`
 * must be passed back as the first argument of each service.
 */
typedef struct accel_icd_loader_services {
    uint32_t struct_size;
    void *loader_context;
    /*
     * Log one message (printf format, no trailing newline needed). The
     * loader prefixes it with the driver's name and delivers it to the
     * ACCEL_LOADER_DEBUG "driver" category and to the log callbacks of the
     * instances that use the driver. Thread-safe; may be called from any
     * thread, including from inside driver_init.
     */
    void (*log)(void *loader_context, accel_log_level level, const char *format, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
} accel_icd_loader_services;

/* ------------------------------------------------------------------------ */
/* Negotiation.                                                               */

typedef struct accel_icd_negotiation {
    uint32_t struct_size;
    /* in */
    uint32_t loader_version;     /* highest interface version the loader speaks */
    uint32_t loader_min_version; /* lowest interface version the loader accepts */
    const accel_icd_loader_services *services;
    /* out */
    uint32_t driver_version;            /* the version the driver implements */
    const struct accel_icd_table *table; /* the driver's table, static storage */
} accel_icd_negotiation;

typedef accel_icd_result (*accel_icd_negotiate_fn)(accel_icd_negotiation *n);

/*
 * The driver's one export (define it with ACCEL_ICD_EXPORT). Called once per
 * load, before anything else, never concurrently with other calls into the
 * driver. Must not allocate resources that driver_fini would not release:
 * the loader may unload the library right after a rejected negotiation.
 */
ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n);

/* ------------------------------------------------------------------------ */
/* Data returned by drivers.                                                  */

typedef struct accel_icd_init_info {
    uint32_t struct_size;
    const char *manifest_path; /* the manifest the driver was loaded from */
    const char *driver_name;   /* its "name" field */
} accel_icd_init_info;

/*
 * Static description of one device. The loader zero-fills the struct, sets
 * struct_size, and presets numa_node and parent_index to -1 before calling
 * device_get_info; the driver fills what it knows and leaves the rest.
 */
typedef struct accel_icd_device_info {
    uint32_t struct_size;
    char name[256];                  /* human-readable, e.g. "AMD EPYC 7B13 (16 threads)" */
    accel_device_kind kind;
    accel_device_interface interface;
    uint8_t uuid[ACCEL_UUID_SIZE];   /* stable across runs and reboots for the same device */
    char vendor[64];
    uint32_t vendor_id;              /* PCI vendor id where there is one */
    uint32_t device_id;
    char bus_address[64];            /* e.g. "0000:3b:00.0"; empty if none */
    int32_t numa_node;               /* closest NUMA node, -1 if none or several */
    char numa_nodes[64];             /* every close node, Linux list format "0-1,4"; may be empty */
    uint32_t flags;                  /* ACCEL_DEVICE_FLAG_* */
    uint32_t max_address_spaces;     /* PASIDs / IOMMU contexts it can hold; 0 = unlimited */
    uint32_t pasid_bits;             /* PASID width for SVA devices, else 0 */
    uint32_t available_instances;    /* queue instances free now (also a live query) */
    int32_t parent_index;            /* partitions: index of the parent in this driver's
                                        enumeration order, else -1 */
    uint32_t driver_version;         /* the driver's own version, ACCEL_MAKE_VERSION */
    /* ---- appended ---- */
    char device_node[128];           /* the character device a container needs, e.g.
                                        "/dev/hisi_zip-0"; empty if none */
    char partition[64];              /* for partitions: what part of the parent this is,
                                        e.g. "cores 0-3", "slot 1", "instance"; else empty */
} accel_icd_device_info;

/* ------------------------------------------------------------------------ */
/* Memory, programs and submission (all optional entries of the table).      */

/*
 * Host memory the loader asks a device to reach. The loader owns the pages:
 * they stay mapped at host_ptr, unchanged in size, until memory_detach
 * returns. fd, when not -1, is a file descriptor for the same pages (a memfd
 * or an imported dma-buf) at fd_offset; the driver may dup() it but must not
 * close it.
 */
typedef struct accel_icd_memory_desc {
    uint32_t struct_size;
    uint32_t flags; /* reserved, 0 */
    void *host_ptr;
    uint64_t size;
    int32_t fd;
    uint32_t reserved;
    uint64_t fd_offset;
    int32_t numa_node; /* the pages' home node, -1 if unknown */
    /* ---- appended ---- */
    /* When the memory was allocated by this same driver on one of its
     * memory nodes (memory_alloc_node, possibly through another device of
     * the driver): that node's id and the handle memory_alloc_node
     * returned. Otherwise home_memory is NULL and the pages are host
     * memory. */
    void *home_memory;
    uint64_t home_node_id;
} accel_icd_memory_desc;

/*
 * A memory node a device reaches directly (device_memory_nodes): its local
 * memory, an FPGA card's banks, or ACCEL_MEMORY_KIND_HOST for "host memory
 * over the bus". Partitions that share their parent's memory report the
 * same ids as the parent.
 */
#define ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE (1u << 0) /* memory_alloc_node returns a host mapping */

typedef struct accel_icd_memory_node_info {
    uint32_t struct_size;
    uint32_t flags;            /* ACCEL_ICD_MEMORY_NODE_* */
    uint64_t id;               /* unique within the driver, stable until driver_fini */
    char name[64];             /* e.g. "bank1", "DDR[0]", "VRAM" */
    accel_memory_kind kind;
    accel_attach_mode access;  /* how the device reaches it: ZERO_COPY or PINNED */
    uint64_t capacity;         /* bytes, 0 if unknown; ignored for HOST */
    uint64_t bandwidth_mbps;   /* device <-> node, 0 if unknown */
    uint64_t latency_ns;       /* 0 if unknown */
} accel_icd_memory_node_info;

/* A cost hint for one function on one device (function_estimate). */
typedef struct accel_icd_function_estimate {
    uint32_t struct_size;
    uint32_t reserved;
    uint64_t fixed_ns;         /* per call: submission, setup, and a reconfiguration
                                  when the function is not resident */
    uint64_t bytes_per_second; /* over the call's input bytes; 0 if unknown */
} accel_icd_function_estimate;

/* One argument of a submission. For memory, `memory` is the handle the
 * driver returned from memory_attach or memory_alloc_device, and
 * [offset, offset + size) lies inside it. */
typedef struct accel_icd_arg {
    accel_arg_kind kind;
    uint32_t reserved;
    union {
        struct {
            void *memory;
            uint64_t offset;
            uint64_t size;
        } mem;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } u;
} accel_icd_arg;

/* What a function takes, filled by function_get. */
typedef struct accel_icd_function_info {
    uint32_t struct_size;
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
    /* ---- appended ---- */
    /* For memory arguments wired to one memory node (an FPGA kernel port
     * tied to a bank): the node's id from device_memory_nodes, with
     * arg_node_wired[i] = 1. The loader presets every arg_node_wired to 0
     * (any memory the device is attached to). When the argument's memory
     * lives elsewhere the loader copies it through a temporary on that
     * node (memory_alloc_node) around the submission. */
    uint8_t arg_node_wired[ACCEL_MAX_ARGS];
    uint64_t arg_node_id[ACCEL_MAX_ARGS];
} accel_icd_function_info;

/*
 * One submission. The loader has checked the arguments against the
 * function's signature.
 *
 * wait_fences: in interface 1.x the loader resolves every wait itself
 * (fences of the same queue by its order, others by holding the submission
 * back until they complete, failing it when one failed), so it always
 * passes wait_fence_count = 0 and wait_fences = NULL. The fields are kept
 * so that a later interface version, negotiated by drivers that take them,
 * can hand a driver its own fences: such a driver must not start the work
 * before they complete, and must fail the submission with the error of a
 * failed one. A 1.x driver need not read them.
 */
typedef struct accel_icd_submit {
    uint32_t struct_size;
    uint32_t work_dim; /* 0 for built-in functions that ignore it, else 1..3 */
    void *function;
    const accel_icd_arg *args;
    uint32_t arg_count;
    uint32_t wait_fence_count;
    uint64_t work_size[3];
    void *const *wait_fences;
} accel_icd_submit;

/* ------------------------------------------------------------------------ */
/* The function table.                                                        */

/*
 * Entries are grouped by the interface version that introduced them. For a
 * negotiated version V, every entry marked "required" in versions <= V must
 * be non-NULL and struct_size must cover it. Optional entries may be NULL,
 * or lie beyond struct_size; the loader then reports
 * ACCEL_ERROR_UNSUPPORTED for the corresponding call.
 */
typedef struct accel_icd_table {
    uint32_t struct_size; /* sizeof(accel_icd_table) of the header the driver was built with */
    uint32_t flags;       /* ACCEL_ICD_FLAG_* */

    /* ---- 1.0, required ---- */

    /*
     * Start the driver. On success store the driver context (may be NULL)
     * in *driver_handle. On failure return an error; the loader reports the
     * driver as failed, calls nothing else and unloads it. The driver should
     * log why through the loader services before returning.
     */
    accel_icd_result (*driver_init)(const accel_icd_init_info *info, void **driver_handle);

    /* Release everything driver_init created. Not called if init failed. */
    void (*driver_fini)(void *driver_handle);

    /*
     * Two-call pattern. With devices == NULL, store the number of devices in
     * *count. Otherwise write up to *count handles, set *count to the number
     * written and return ACCEL_INCOMPLETE if there were more. The list and
     * its order must be the same on every call until driver_fini. Zero
     * devices is a success.
     */
    accel_icd_result (*enumerate_devices)(void *driver_handle, uint32_t *count, void **devices);

    /* Fill *info (see accel_icd_device_info). Called once per device and
     * cached by the loader. */
    accel_icd_result (*device_get_info)(void *device, accel_icd_device_info *info);

    /*
     * Hot. Read a live parameter (accel_device_param). Same contract as
     * clGetDeviceInfo: value may be NULL to ask only the size; size is the
     * capacity of value; *size_ret (if not NULL) gets the size needed.
     * Unknown parameters: ACCEL_ERROR_UNSUPPORTED. Must not allocate.
     */
    accel_icd_result (*device_query)(void *device, accel_device_param param, void *value, size_t size,
                                     size_t *size_ret);

    /* ---- 1.0, optional ---- */

    /* Return a static, NUL-terminated version string such as "1.2.0". */
    const char *(*driver_version_string)(void *driver_handle);

    /* ---- 1.0, optional: memory ----
     * A device that can run work provides at least memory_attach (or the
     * three device-memory entries), program/function entries and the
     * queue and fence entries. */

    /*
     * Make host memory reachable by the device without a copy. Store the
     * driver's handle for it in *driver_memory and the mode achieved
     * (ZERO_COPY or PINNED) in *mode. Return ACCEL_ERROR_UNSUPPORTED when
     * the device cannot reach these pages: the loader then stages through
     * memory_alloc_device. Not hot.
     */
    accel_icd_result (*memory_attach)(void *device, const accel_icd_memory_desc *desc, void **driver_memory,
                                      accel_attach_mode *mode);
    /* Undo memory_attach. The loader guarantees no submission using the
     * handle is still pending. */
    void (*memory_detach)(void *device, void *driver_memory);

    /* Device-side memory for a STAGED mirror, and blocking copies into and
     * out of it (called by the loader between submissions, never
     * concurrently with a submission that uses the same memory). */
    accel_icd_result (*memory_alloc_device)(void *device, uint64_t size, void **driver_memory);
    void (*memory_free_device)(void *device, void *driver_memory);
    accel_icd_result (*memory_write)(void *device, void *driver_memory, uint64_t offset, const void *src,
                                     uint64_t size);
    accel_icd_result (*memory_read)(void *device, void *driver_memory, uint64_t offset, void *dst,
                                    uint64_t size);

    /* ---- 1.0, optional: programs and functions ---- */

    /*
     * Load or build a program. On a build failure return
     * ACCEL_ERROR_INVALID_ARGUMENT (bad input) or ACCEL_ERROR_UNSUPPORTED
     * (format not accepted) and write the compiler's log, NUL-terminated
     * and truncated to log_size, into log: the loader hands it to the
     * application through accel_last_error_message().
     *
     * ACCEL_PROGRAM_FORMAT_FPGA_IMAGE: data is the path of the image's JSON
     * description (docs/fpga.md). Loading reconfigures the device (a slot);
     * when the slot holds a program that is still loaded (not released),
     * return ACCEL_ERROR_BUSY unless `options` contains the word "force".
     */
    accel_icd_result (*program_load)(void *device, accel_program_format format, const void *data, size_t size,
                                     const char *options, void **program, char *log, size_t log_size);
    void (*program_release)(void *program);

    /* Find a function by name in a program, or a built-in function when
     * program is NULL (the standard functions of docs/standard-functions.md
     * and any the device offers). ACCEL_ERROR_NOT_FOUND if there is none. */
    accel_icd_result (*function_get)(void *device, void *program, const char *name, void **function,
                                     accel_icd_function_info *info);
    /* The loader releases a program only after every function taken from
     * it, and a function only after the submissions that use it completed. */
    void (*function_release)(void *function);

    /* ---- 1.0, optional: queues and fences ---- */

    /* An in-order queue on the device. */
    accel_icd_result (*queue_create)(void *device, void **queue);
    /* The loader has waited for every fence of the queue before this,
     * except after it declared the device lost because a submission
     * outlived the device timeout (ACCEL_DEVICE_TIMEOUT_MS): then work may
     * still be pending, and the driver must abandon it without blocking on
     * the device. */
    void (*queue_destroy)(void *queue);

    /*
     * Hot. Enqueue one submission; on success store a fence in *fence
     * (released by fence_release). Work of one queue runs in submission
     * order. An error return means nothing was enqueued. The loader never
     * calls queue_submit concurrently for one queue. After a submission
     * fails, the driver should fail every later submission of the queue
     * with the same error without running it (the loader reports it so
     * either way).
     */
    accel_icd_result (*queue_submit)(void *queue, const accel_icd_submit *submit, void **fence);

    /* Hot. ACCEL_SUCCESS when the work completed, ACCEL_NOT_READY while it
     * has not, or the error it failed with (ACCEL_ERROR_DEVICE_LOST when the
     * device went away: every later fence of the device fails the same way).
     * May be called from any thread, concurrently.
     *
     * Device loss (docs/conformance.md, "Device loss"): from the first
     * submission that fails with ACCEL_ERROR_DEVICE_LOST on, every
     * submission to any queue of the device, existing or created later,
     * fails with it (queue_submit's return or its fence); queue_create
     * succeeds or fails with it; fences pending at the loss complete
     * (success or the loss), none stays pending; device_query succeeds or
     * returns the loss; memory_attach succeeds or returns the loss;
     * memory_detach, fence_release, queue_destroy and driver_fini work. */
    accel_icd_result (*fence_status)(void *fence);
    /* Block until the fence completes or timeout_ns passes (ACCEL_TIMEOUT).
     * UINT64_MAX waits forever. Returns what fence_status would. */
    accel_icd_result (*fence_wait)(void *fence, uint64_t timeout_ns);
    /* May be called while the fence is pending (a device the loader
     * declared lost after its timeout): the work keeps running, or not. */
    void (*fence_release)(void *fence);

    /* ---- 1.0, optional, appended: memory nodes and placement hints ---- */

    /* Two-call pattern over the memory nodes the device reaches directly
     * (see accel_icd_memory_node_info). The loader zero-fills each entry
     * and sets its struct_size. Not hot. */
    accel_icd_result (*device_memory_nodes)(void *device, uint32_t *count, accel_icd_memory_node_info *nodes);

    /*
     * Allocate size zero-filled bytes on the node `node_id` (one of the
     * device's). Store the handle in *driver_memory (usable as a memory
     * argument on every device of the driver that reaches the node, and
     * freed with memory_free_device) and, for nodes with
     * ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE, a host mapping of the bytes in
     * *host_ptr (valid until memory_free_device) and, where there is one,
     * a file descriptor for them in *fd (the driver keeps it; -1 if none).
     * ACCEL_ERROR_OUT_OF_DEVICE_MEMORY when the node is full.
     */
    accel_icd_result (*memory_alloc_node)(void *device, uint64_t node_id, uint64_t size, void **driver_memory,
                                          void **host_ptr, int *fd);

    /* A cost hint for placement: the function `name` (a built-in, or one
     * of a loaded program when function is not NULL) over `bytes` input
     * bytes. ACCEL_ERROR_UNSUPPORTED when the driver has no estimate. */
    accel_icd_result (*function_estimate)(void *device, void *function, const char *name, uint64_t bytes,
                                          accel_icd_function_estimate *estimate);
} accel_icd_table;

/* The size a table must have for interface version 1.0. */
#define ACCEL_ICD_TABLE_SIZE_1_0 (offsetof(accel_icd_table, device_query) + sizeof(void (*)(void)))

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_ICD_H */
