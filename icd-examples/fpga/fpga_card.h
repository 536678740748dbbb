/*
 * fpga_card.h — the card interface: everything the fpga driver needs from
 * FPGA cards, and nothing about accel's objects.
 *
 * It is shaped like the runtimes that drive real cards — XRT (xclProbe,
 * xclOpen, xclLoadXclBin, xclAllocBO, xclMapBO, xclSyncBO, xclExecBuf,
 * xclExecWait, xclClose) and OPAE (fpgaOpen, fpgaReconfigureSlot, shared
 * buffers): open a card, describe it (slots, memory banks), load an image
 * into a slot, allocate a buffer object in a bank and map it, execute a
 * kernel with arguments, wait, close.
 *
 * One implementation lives here: fpga_emulator.c, an in-process emulated
 * card whose slots execute on worker threads and whose bank memory is one
 * memfd per buffer object. A backend for real hardware implements the same
 * functions over its vendor library, and the driver (fpga_driver.c,
 * fpga_program.c, fpga_queue.c) stays as it is.
 *
 * Threads: every function may be called from any thread. Commands of one
 * slot execute one at a time, in submission order.
 */
#ifndef FPGA_CARD_H
#define FPGA_CARD_H

#include <accel/accel_icd.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel_fpga_kernel.h"
#include "fpga_image.h"

#define FPGA_MAX_CARDS 8
#define FPGA_MAX_SLOTS 16
#define FPGA_MAX_BANKS 16
#define FPGA_NAME_MAX 31
#define FPGA_BANK_HOST 0xffffu /* the bank number of host memory (= ACCEL_FPGA_BANK_HOST) */

typedef struct fpga_bank_desc {
    char name[FPGA_NAME_MAX + 1];
    uint64_t capacity;       /* bytes */
    uint64_t bandwidth_mbps; /* kernel <-> bank */
    uint64_t latency_ns;
} fpga_bank_desc;

typedef struct fpga_card_desc {
    char name[FPGA_NAME_MAX + 1];
    uint32_t slot_count;
    uint32_t bank_count;
    fpga_bank_desc banks[FPGA_MAX_BANKS];
    uint64_t reconfigure_ns;      /* loading an image into a slot, unless the image says */
    uint64_t host_bandwidth_mbps; /* the bus: card <-> host memory */
    uint64_t host_latency_ns;
    uint64_t launch_ns;           /* fixed cost of one command */
} fpga_card_desc;

typedef struct fpga_platform fpga_platform; /* every card the backend reaches */
typedef struct fpga_card fpga_card;
typedef struct fpga_bo fpga_bo;   /* a buffer object */
typedef struct fpga_cmd fpga_cmd; /* one executed command; reference-counted */

typedef struct fpga_platform_options {
    const char *config_path; /* emulator: the card file (docs/fpga.md); NULL: one default card */
    uint64_t fault_after;    /* emulator: the Nth command (from 1, over every card) and every
                                later one fail as device lost; 0: never */
} fpga_platform_options;

/* Find the cards. On failure the message (naming the file) is in error. */
accel_result fpga_platform_open(const fpga_platform_options *options, fpga_platform **platform, char *error,
                                size_t error_size);
/* After every card was closed. */
void fpga_platform_close(fpga_platform *platform);
uint32_t fpga_platform_card_count(const fpga_platform *platform);

/* Open card `index` (< fpga_platform_card_count). */
accel_result fpga_card_open(fpga_platform *platform, uint32_t index, fpga_card **card);
/* Wait for the card's commands, stop its slots, unload its images. Buffer
 * objects must have been freed. */
void fpga_card_close(fpga_card *card);
/* Static for the card's lifetime. */
const fpga_card_desc *fpga_card_describe(const fpga_card *card);
/* Whether the card stopped working: every later command fails with
 * ACCEL_ERROR_DEVICE_LOST and images no longer load. */
bool fpga_card_lost(const fpga_card *card);

/*
 * Reconfigure `slot` with `image`. The image is checked first (its library
 * loads, every kernel's symbol resolves): a bad image leaves the slot as it
 * was. Then the slot finishes the commands submitted before this call,
 * starts no new one, takes the reconfiguration time, and runs later
 * commands against the new image. *generation identifies the image in the
 * slot from now on (it is never 0 and never reused); commands naming an
 * older generation fail with ACCEL_ERROR_INVALID_HANDLE. The card keeps
 * its own copy of what it needs from `image`.
 * Errors: ACCEL_ERROR_INVALID_ARGUMENT (the image; the message names the
 * library and the symbol), ACCEL_ERROR_DEVICE_LOST.
 */
accel_result fpga_slot_load(fpga_card *card, uint32_t slot, const fpga_image_desc *image, uint64_t *generation,
                            char *error, size_t error_size);

/* A zero-filled buffer object of `size` bytes in `bank` (an index into the
 * description's banks, or FPGA_BANK_HOST for host memory the card reaches
 * over the bus). ACCEL_ERROR_OUT_OF_DEVICE_MEMORY when the bank is full. */
accel_result fpga_bo_alloc(fpga_card *card, uint32_t bank, uint64_t size, fpga_bo **bo);
/* A buffer object over host memory the caller owns (XRT's user-pointer
 * BO): bank FPGA_BANK_HOST, no copy. ptr must stay valid until the BO is
 * freed. */
accel_result fpga_bo_import_host(fpga_card *card, void *ptr, uint64_t size, fpga_bo **bo);
void fpga_bo_free(fpga_bo *bo);
/* The host mapping (valid until fpga_bo_free). */
void *fpga_bo_map(const fpga_bo *bo);
/* The memfd behind an allocated BO (owned by the BO), -1 for imports. */
int fpga_bo_fd(const fpga_bo *bo);
uint32_t fpga_bo_bank(const fpga_bo *bo);
uint64_t fpga_bo_size(const fpga_bo *bo);
fpga_card *fpga_bo_card(const fpga_bo *bo);

typedef enum fpga_sync_dir {
    FPGA_SYNC_TO_DEVICE = 0,  /* after the host wrote through the mapping */
    FPGA_SYNC_FROM_DEVICE = 1 /* before the host reads through the mapping */
} fpga_sync_dir;
/* Make a range of the mapping coherent (a DMA on hardware; the emulator's
 * mapping is the bank, so nothing to do). */
accel_result fpga_bo_sync(fpga_bo *bo, fpga_sync_dir dir, uint64_t offset, uint64_t size);

/* What a command does: a kernel of the slot's image, or one of the
 * shell's own operations (no image needed). */
typedef enum fpga_op {
    FPGA_OP_KERNEL = 0,
    FPGA_OP_NOOP = 1, /* no arguments */
    FPGA_OP_COPY = 2, /* src (memory), dst (memory): src.size bytes to dst */
    FPGA_OP_FILL = 3, /* dst (memory), pattern (u32) */
} fpga_op;

typedef struct fpga_exec_arg {
    accel_arg_kind kind;
    fpga_bo *bo; /* memory: a BO of this card */
    uint64_t offset, size;
    accel_fpga_value value; /* scalars, as the kernel gets them */
} fpga_exec_arg;

typedef struct fpga_exec {
    fpga_op op;
    uint32_t slot;
    uint64_t generation; /* FPGA_OP_KERNEL: the image (fpga_slot_load) */
    uint32_t kernel;     /* FPGA_OP_KERNEL: its index in the image */
    uint32_t arg_count;
    const fpga_exec_arg *args;
    uint32_t work_dim;
    uint64_t work_size[3];
    /* Commands (of any card of the platform) that must complete first; if
     * one failed, this command fails with its error without running. */
    uint32_t wait_count;
    fpga_cmd *const *waits;
} fpga_exec;

/*
 * Queue a command on its slot. The arguments are checked against the
 * kernel (count, kinds, ranges, and each memory argument's bank against the
 * bank its port is wired to) before anything is queued: a mismatch is
 * ACCEL_ERROR_INVALID_ARGUMENT with the reason in error, a generation that
 * is no longer loaded ACCEL_ERROR_INVALID_HANDLE. On success *cmd holds one
 * reference for the caller.
 */
accel_result fpga_exec_submit(fpga_card *card, const fpga_exec *exec, fpga_cmd **cmd, char *error,
                              size_t error_size);
/* ACCEL_NOT_READY, ACCEL_SUCCESS or the command's error. Never blocks. */
accel_result fpga_cmd_status(fpga_cmd *cmd);
/* Wait at most timeout_ns (UINT64_MAX: forever); ACCEL_TIMEOUT or the status. */
accel_result fpga_cmd_wait(fpga_cmd *cmd, uint64_t timeout_ns);
void fpga_cmd_ref(fpga_cmd *cmd);
void fpga_cmd_release(fpga_cmd *cmd);

#endif
