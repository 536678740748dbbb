/* loader.h — the loader's objects behind the public handles. */
#ifndef ACCEL_LOADER_H
#define ACCEL_LOADER_H

#include <pthread.h>
#include <stdatomic.h>

#include "accel/accel.h"
#include "handle.h"
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
    /* Hot-path fields first: accel_device_query reads only these. The tag
     * is ACCEL__DEVICE_MAGIC while the instance lives (handle.h); first, so
     * that reading it from another loader object passed as a device stays
     * inside that object. */
    uint64_t magic;
    accel_icd_result (*query)(void *device, accel_device_param param, void *value, size_t size,
                              size_t *size_ret);
    void *icd_device;
    accel_instance *instance;
    accel_driver *driver;
    const accel_icd_device_info *info; /* owned by the loaded driver */
    uint32_t index;                    /* in the selected order; UINT32_MAX if not selected */
    uint32_t driver_index;
    accel_device *parent;
    uint32_t physical; /* its physical device (device.c); UINT32_MAX if not selected */
    /* The memory nodes it reaches (built with the instance's nodes). */
    struct accel__device_memory *mems;
    uint32_t mem_count;
    /* Set once when a submission outlived the device timeout (queue.c):
     * every pending and later fence of the device fails with
     * ACCEL_ERROR_DEVICE_LOST. */
    _Atomic bool lost;
};

/* One memory node a device reaches, as its driver reported it. */
typedef struct accel__device_memory {
    accel_memory_node *node;
    accel_attach_mode mode;
    uint64_t id;             /* the driver's id (for host nodes: its HOST entry's) */
    bool assumed;            /* host access the loader assumed for a driver without
                                device_memory_nodes: no id, no hints */
    uint64_t bandwidth_mbps; /* the driver's hints, 0 if none */
    uint64_t latency_ns;
} accel__device_memory;

struct accel_memory_node {
    accel_instance *instance;
    char *name;
    accel_memory_kind kind;
    uint64_t capacity;
    int32_t numa_node;      /* host nodes */
    accel_device *device;   /* owner of device memory; NULL for host nodes */
    uint64_t driver_node_id;
    bool host_visible;
};

/* One device's view of a memory object. */
typedef struct accel__attachment {
    accel_device *device;
    void *driver_memory; /* from memory_attach, or the STAGED mirror */
    accel_attach_mode mode;
} accel__attachment;

struct accel_memory {
    accel_instance *instance;
    void *host_ptr;
    uint64_t size;
    int fd;             /* -1 for imported host pointers */
    uint64_t fd_offset;
    void *map_base;     /* what this object mmap()ed, to munmap; NULL if the caller owns the pages */
    size_t map_length;
    int32_t numa_node;
    accel_memory_node *node;  /* the home node when allocated on one */
    void *node_memory;        /* device memory: the owner driver's handle (memory_alloc_node) */
    pthread_mutex_t lock; /* attachments */
    accel__attachment *attachments;
    size_t attachment_count;
    size_t attachment_capacity;
    accel_memory *prev, *next; /* the instance's list */
};

struct accel_program {
    accel_device *device;
    void *driver_program;
    atomic_uint refs; /* the application's + one per function */
};

struct accel_function {
    accel_device *device;
    accel_program *program; /* NULL for built-ins */
    void *driver_function;
    atomic_uint refs;       /* the application's + one per pending deferred submission */
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
    /* Arguments wired to one device memory node (FPGA kernel ports): the
     * node, or NULL for "any memory the device is attached to". */
    accel_memory_node *arg_nodes[ACCEL_MAX_ARGS];
    /* Arguments wired to host memory (any host node): memory that lives
     * on a device node is copied through host memory for them. */
    bool arg_host_wired[ACCEL_MAX_ARGS];
    uint64_t arg_host_id[ACCEL_MAX_ARGS]; /* the driver's id of its host node */
    char name[ACCEL_MAX_FUNCTION_NAME];
};

struct accel_fence {
    atomic_uint refs;          /* the application's, the queue list's, temporary ones */
    _Atomic int status;        /* ACCEL_NOT_READY until final */
    struct accel_queue *queue; /* holds a reference on the queue */
    uint64_t seq;
    void *driver_fence;        /* released once the fence is final and nobody waits on it */
    unsigned waiters;          /* threads inside the driver's fence_wait (queue lock) */
    bool deferred;             /* completed by the queue's deferred thread */
    bool app_released;
    uint64_t head_ns;          /* when the loader first saw it at the head of its queue (device timeout) */
    char detail[192];          /* why it failed; written before status becomes final */
    struct accel_fence *older, *newer; /* the queue's unresolved-or-held list, oldest first */
    struct accel_fence *next_free;
};

struct accel__deferred;

struct accel_queue {
    accel_device *device;
    const accel_icd_table *table;
    void *driver_queue;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cond;  /* deferred work and fence completion */
    atomic_uint refs;     /* the application's + one per fence in use */
    uint64_t next_seq;
    accel_fence *oldest, *newest;
    accel_fence *free_fences;
    _Atomic int error; /* the first failure; ACCEL_SUCCESS while none */
    uint64_t error_seq;
    char error_detail[192]; /* the first failure's fence detail */
    uint64_t timeout_ns;    /* the device timeout (ACCEL_DEVICE_TIMEOUT_MS); 0: none */
    struct accel__deferred *deferred_head, *deferred_tail;
    size_t deferred_pending;
    pthread_t thread;
    bool thread_started;
    bool stopping;
    bool destroyed;
    struct accel_queue *prev, *next; /* the instance's list */
};

struct accel_instance {
    accel__logger logger;
    pthread_mutex_t objects_lock; /* memory and queue lists */
    accel_memory *memories;
    struct accel_queue *queues;
    accel_manifest **manifests;
    size_t manifest_count;
    accel_driver **drivers;
    size_t driver_count;
    accel_device *all_devices; /* every device of every loaded driver */
    size_t all_device_count;
    accel_device **devices; /* the selected ones, in selector order */
    size_t device_count;
    uint32_t physical_count; /* physical devices among the selected (device.c) */
    pthread_mutex_t nodes_lock; /* the memory nodes, built on first use */
    bool nodes_built;
    accel_memory_node **memory_nodes;
    size_t memory_node_count;
    accel_topology *_Atomic topology; /* accel_instance_get_topology's, built on first use */
};

/*
 * The two-call pattern over an array of handles owned by an instance:
 * validates the arguments (naming `fn` and `what` in the error), then
 * either reports the count or copies what fits. Returns SUCCESS,
 * INCOMPLETE or INVALID_ARGUMENT.
 */
accel_result accel__enumerate(const char *fn, const accel_instance *inst, const void *items, size_t n,
                              uint32_t *count, void *out);

/* Group the selected devices into physical devices: sets each one's
 * `physical` and inst->physical_count (device.c). */
accel_result accel__group_physical_devices(accel_instance *inst);

/* Check the object and info arguments of a *_get_info call. */
accel_result accel__check_info_args(const char *fn, const char *what, const void *object, const void *info);

/* The driver table of a device. */
static inline const accel_icd_table *accel__table(const accel_device *dev)
{
    return dev->driver->loaded->table;
}

/* Drop a reference to a function (the application's or a pending
 * submission's). */
void accel__function_unref(accel_function *f);
/* Free the programs and functions of an instance the application has not
 * destroyed (at instance destroy, after its queues). */
void accel__programs_free_all(accel_instance *inst);

/* Find dev's attachment of mem (lock held by the caller), or NULL. */
accel__attachment *accel__find_attachment(accel_memory *mem, const accel_device *dev);

/* Build the instance's memory nodes (once; thread-safe). */
accel_result accel__memory_nodes_build(accel_instance *inst);
void accel__memory_nodes_free(accel_instance *inst);
/* Resolve the memory nodes a new function's arguments are wired to. */
accel_result accel__function_resolve_nodes(accel_function *f, const accel_icd_function_info *info);
/* Whether memory argument `arg` of f reaches m only through a copy on the
 * node it is wired to (another device node than m's home, or host memory
 * while m lives on a device node). */
static inline bool accel__arg_needs_copy(const accel_function *f, uint32_t arg, const accel_memory *m)
{
    return (f->arg_nodes[arg] && f->arg_nodes[arg] != m->node) ||
           (f->arg_host_wired[arg] && m->node && m->node->device);
}
/* The host node with this OS index, or NULL. */
accel_memory_node *accel__host_node(accel_instance *inst, int32_t numa_node);

/* Free every memory object and queue left in an instance (at destroy). */
void accel__memory_free_all(accel_instance *inst);
void accel__queue_destroy_all(accel_instance *inst);

/* Wait for every queue of the instance on `dev` (NULL: every queue). */
void accel__queues_finish_device(accel_instance *inst, const accel_device *dev);

/* Copy min(struct_size, sizeof) bytes of a filled full-size struct into a
 * caller's struct of possibly older layout. */
void accel__copy_out(void *dst, const void *src, size_t full_size);

#endif
