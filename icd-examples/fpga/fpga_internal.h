/* fpga_internal.h — what the fpga driver's files share (private to
 * icd-examples/fpga/).
 *
 *   fpga_driver.c    negotiation, cards and slots as devices, live
 *                    parameters, memory nodes, memory, the function table;
 *   fpga_program.c   images as programs (reconfiguration, busy slots),
 *                    functions, cost estimates;
 *   fpga_queue.c     queues (one per slot) and fences;
 * all of them above the card interface (fpga_card.h), implemented by the
 * emulator (fpga_emulator.c).
 *
 * Objects and their owners:
 *   fpga_driver    one per driver_init; owns the platform, the cards and
 *                  their devices (the whole card, then one per slot).
 *   fpga_mem       a handle the loader holds: a buffer object this driver
 *                  allocated (memory_alloc_node, memory_alloc_device; owns
 *                  the BO) or an attachment (memory_attach: a user-pointer
 *                  BO over host memory, or a reference to an allocation of
 *                  this driver). Reference-counted: an allocation lives until
 *                  it was freed and every attachment to it detached.
 *   fpga_program   an image loaded into a slot; reference-counted by the
 *                  loader's handle and each function taken from it.
 *   fpga_function  a built-in (static) or a kernel of a program.
 *   fpga_queue     the slot's one queue; fences are the card's commands.
 */
#ifndef FPGA_INTERNAL_H
#define FPGA_INTERNAL_H

#include <accel/accel_icd.h>

#include "accel_icd_negotiate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fpga_card.h"
#include "fpga_image.h"

extern const accel_icd_loader_services *fpga__services;

#define FPGA_LOG(level, ...) ACCEL_ICD_LOG(fpga__services, (level), __VA_ARGS__)

#define FPGA_DRIVER_VERSION "0.1.0"

/* Memory node ids (device_memory_nodes): bank b of card c is
 * (c + 1) << 8 | b; host memory is one node for every card. */
#define FPGA_NODE_HOST 0xffu

static inline uint64_t fpga__node_id(uint32_t card_index, uint32_t bank)
{
    return bank == FPGA_BANK_HOST ? FPGA_NODE_HOST : ((uint64_t)(card_index + 1) << 8) | bank;
}

typedef struct fpga_card_dev fpga_card_dev;
typedef struct fpga_program fpga_program;

/* A slot's state as the driver sees it. */
typedef struct fpga_slot {
    pthread_mutex_t lock;       /* program, loading, generation */
    fpga_program *program;      /* loaded and not released: reconfiguring needs "force" */
    bool loading;               /* a program_load is reconfiguring the slot */
    uint64_t generation;        /* the image resident in the slot (also after its program
                                   was released); 0: none */
    _Atomic bool queue_open;    /* the slot's one queue exists */
} fpga_slot;

typedef struct fpga_device {
    accel_icd_device_info info;
    fpga_card_dev *card;
    uint32_t slot_index; /* slots */
    fpga_slot *slot;     /* NULL for the whole card */
} fpga_device;

struct fpga_card_dev {
    fpga_device whole;
    fpga_card *card;
    const fpga_card_desc *desc;
    uint32_t index; /* in the platform */
    fpga_device slot_devices[FPGA_MAX_SLOTS];
    fpga_slot slots[FPGA_MAX_SLOTS];
};

typedef struct fpga_driver {
    fpga_platform *platform;
    uint32_t card_count;
    fpga_card_dev *cards[FPGA_MAX_CARDS];
    uint32_t device_count;
    fpga_device *devices[FPGA_MAX_CARDS * (1 + FPGA_MAX_SLOTS)];
} fpga_driver;

#define FPGA_MEM_MAGIC 0x6d656d46u  /* "Fmem" */
#define FPGA_PROG_MAGIC 0x676f7046u /* "Fpog" */
#define FPGA_FUNC_MAGIC 0x6e756646u /* "Ffun" */

typedef struct fpga_mem {
    uint32_t magic;
    _Atomic uint32_t refs;
    fpga_bo *bo;            /* owned unless owner is set */
    struct fpga_mem *owner; /* an attachment of an allocation: the allocation (one reference) */
    fpga_card_dev *card;
} fpga_mem;

struct fpga_program {
    uint32_t magic;
    _Atomic uint32_t refs;
    fpga_device *device; /* the slot */
    fpga_image_desc *image;
    char *path;          /* the description's path, for messages */
    uint64_t generation;
    _Atomic bool evicted; /* replaced by a forced reconfiguration */
};

typedef struct fpga_function {
    uint32_t magic;
    const char *name;
    fpga_op op;
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
    fpga_program *program; /* kernels (holds a reference); NULL for built-ins */
    uint32_t kernel;       /* kernels: the index in the image */
} fpga_function;

/* fpga_driver.c */
fpga_mem *fpga__mem_from_handle(void *handle);
/* "ACCEL_ERROR_BUSY" and so on, for messages (accel_result_string is the
 * loader's). */
const char *fpga__result_name(accel_result r);

/* fpga_program.c */
accel_icd_result fpga__program_load(void *device, accel_program_format format, const void *data, size_t size,
                                    const char *options, void **program, char *log, size_t log_size);
void fpga__program_release(void *program);
accel_icd_result fpga__function_get(void *device, void *program, const char *name, void **function,
                                    accel_icd_function_info *info);
void fpga__function_release(void *function);
accel_icd_result fpga__function_estimate(void *device, void *function, const char *name, uint64_t bytes,
                                         accel_icd_function_estimate *estimate);

/* fpga_queue.c */
accel_icd_result fpga__queue_create(void *device, void **queue);
void fpga__queue_destroy(void *queue);
accel_icd_result fpga__queue_submit(void *queue, const accel_icd_submit *submit, void **fence);
accel_icd_result fpga__fence_status(void *fence);
accel_icd_result fpga__fence_wait(void *fence, uint64_t timeout_ns);
void fpga__fence_release(void *fence);

#endif
