/* emu_ops.h — the operations of the emulated uacce device (emu_ops.c): one
 * descriptor, already copied out of the ring, run in the client's address
 * space. Used by uacce_emulator.c's queue threads and by the fuzz target
 * tests/fuzz/fuzz_uacce_ops.c. */
#ifndef EMU_OPS_H
#define EMU_OPS_H

#include <stdint.h>

#include "emu_memory.h"
#include "wd_proto.h"

#define EMU_SCRATCH 65536u /* bytes of emu_ctx.scratch */

/* What a request runs with: the client's address space (emu_memory.h) and
 * EMU_SCRATCH bytes of scratch of its own (one queue's: requests of one
 * queue run one at a time). */
typedef struct emu_ctx {
    emu_space *space;
    uint8_t *scratch;
} emu_ctx;

/* What the completion entry returns besides the status (wd_cqe). */
typedef struct emu_result {
    uint64_t produced, consumed;
    uint32_t info;
} emu_result;

/* Runs descriptor d: a WD_ST_* status, *res filled (zeros but for what
 * the op returns; info also on some WD_ST_INVALID). Never trusts d. */
int emu_execute(emu_ctx *c, const wd_desc *d, emu_result *res);

#endif
