/* wd_internal.h — what the warpdrive driver's files share (private to
 * icd-examples/warpdrive/).
 *
 *   wd_driver.c  negotiation, discovery in sysfs, devices, memory,
 *                functions, the table;
 *   wd_queue.c   queues (the two transports: a real uacce character device
 *                or the emulator's socket; one ring logic above them) and
 *                fences.
 */
#ifndef WD_INTERNAL_H
#define WD_INTERNAL_H

#include <accel/accel_icd.h>

#include "accel_icd_negotiate.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "wd_proto.h"

extern const accel_icd_loader_services *wd__services;

#define WD_LOG(level, ...) ACCEL_ICD_LOG(wd__services, (level), __VA_ARGS__)

#define WD_MAX_DEVICES 64

typedef struct wd_device {
    accel_icd_device_info info;
    char name[128];             /* the uacce device name, e.g. "hisi_zip-0" */
    char class_path[PATH_MAX];  /* <sysfs>/class/uacce/<name> */
    char node[PATH_MAX];        /* <dev>/<name> */
    bool sva;
    bool emulated;              /* the node is the emulator's UNIX socket */
    uint32_t ops;               /* bit per WD_OP_* the device offers */
    uint64_t mmio_size, dus_size;
    pthread_mutex_t ctl_lock;   /* the emulator control connection (memory registration) */
    int ctl_fd;
    uint32_t ctl_gen;           /* counts connections: registrations die with theirs */
    _Atomic bool lost;          /* a control request went unanswered (wd_driver.c ctl_request):
                                   every later submission of the device fails with DEVICE_LOST */
    /* ACCEL_WARPDRIVE_PARTITIONS: a partition is one queue instance of its
     * parent's device node: at most one queue open on it at a time. */
    bool partition;
    _Atomic int open_queues;
} wd_device;

/* A memory object the device reaches: host memory (SVA: by its virtual
 * address), a registered memfd (non-SVA: by region id), or driver-allocated
 * "device" memory (a memfd mapped here and registered when needed). */
typedef struct wd_memory {
    uint8_t *base;
    uint64_t size;
    uint32_t region;      /* registered region id; 0: addressed virtually */
    uint32_t translation; /* SVA on the emulator: its translation entry for [base, base + size), or 0 */
    uint32_t ctl_gen;     /* the control connection region / translation belong to */
    int fd;               /* memory_alloc_device: the memfd; else -1 */
    void *map;
    size_t map_size;
} wd_memory;

typedef struct wd_function {
    const char *name;
    uint32_t op;
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
} wd_function;

/* wd_driver.c */
accel_icd_result wd__emu_request(wd_device *dev, int sock, wd_msg *m, int send_fd, int *recv_fds, int max_fds,
                                 int timeout_ms);

/* wd_queue.c */
accel_icd_result wd__queue_create(void *device, void **queue);
void wd__queue_destroy(void *queue);
accel_icd_result wd__queue_submit(void *queue, const accel_icd_submit *submit, void **fence);
accel_icd_result wd__fence_status(void *fence);
accel_icd_result wd__fence_wait(void *fence, uint64_t timeout_ns);
void wd__fence_release(void *fence);

#endif
