/* fpga_queue.c — queues and fences.
 *
 * A slot has one queue at a time (a second queue_create is
 * ACCEL_ERROR_BUSY): it is the slot's command stream, so the slot's
 * available_instances is 1 or 0 and the card's is its number of free
 * slots. The whole card has no queue.
 *
 * A fence is the card's command (fpga_card.h). In-order execution is the
 * slot's; the "broken queue" rule (after a failure, every later submission
 * fails with the same error without running) comes from making each
 * command wait for the queue's previous one, since a command whose wait
 * failed fails with that error. Wait fences of this driver (any slot, any
 * card) become waits of the command too.
 *
 * Submissions of a function whose image was replaced by a forced
 * reconfiguration fail in queue_submit with ACCEL_ERROR_INVALID_HANDLE
 * (logged); one that was queued before the replacement and runs after it
 * fails on its fence with the same error. */
#include "fpga_internal.h"
#include "accel_icd_submit.h"

#include <stdlib.h>
#include <string.h>

#define LOG FPGA_LOG

#define INLINE_WAITS 16

typedef struct fpga_queue {
    fpga_device *device;
    fpga_cmd *last; /* the previous submission (one reference), or NULL */
} fpga_queue;

accel_icd_result fpga__queue_create(void *device, void **queue)
{
    fpga_device *dev = device;
    if (!dev || !queue)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!dev->slot) {
        LOG(ACCEL_LOG_ERROR, "%s: the whole card runs no work; create the queue on one of its slots",
            dev->info.name);
        return ACCEL_ERROR_UNSUPPORTED;
    }
    if (fpga_card_lost(dev->card->card))
        return ACCEL_ERROR_DEVICE_LOST;
    fpga_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&dev->slot->queue_open, &expected, true)) {
        LOG(ACCEL_LOG_INFO, "%s: the slot already has a queue (one per slot)", dev->info.name);
        free(q);
        return ACCEL_ERROR_BUSY;
    }
    q->device = dev;
    *queue = q;
    return ACCEL_SUCCESS;
}

void fpga__queue_destroy(void *queue)
{
    fpga_queue *q = queue;
    if (!q)
        return;
    if (q->last) {
        fpga_cmd_wait(q->last, UINT64_MAX); /* the loader waited already; direct callers may not */
        fpga_cmd_release(q->last);
    }
    atomic_store(&q->device->slot->queue_open, false);
    free(q);
}

accel_icd_result fpga__queue_submit(void *queue, const accel_icd_submit *submit, void **fence)
{
    fpga_queue *q = queue;
    if (!q || !submit || !fence)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_icd_submit s;
    accel_submit_read(submit, &s);
    fpga_device *dev = q->device;
    const fpga_function *fn = s.function;
    if (!fn || fn->magic != FPGA_FUNC_MAGIC)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (fn->program) {
        if (fn->program->device != dev) {
            LOG(ACCEL_LOG_ERROR, "%s: %s belongs to an image of another slot", dev->info.name, fn->name);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        if (atomic_load(&fn->program->evicted)) {
            LOG(ACCEL_LOG_ERROR, "%s: %s: image \"%s\" was replaced by a forced reconfiguration", dev->info.name,
                fn->name, fn->program->image->name);
            return ACCEL_ERROR_INVALID_HANDLE;
        }
    }
    if (s.arg_count != fn->arg_count || (s.arg_count && !s.args) || (s.wait_fence_count && !s.wait_fences))
        return ACCEL_ERROR_INVALID_ARGUMENT;

    fpga_exec_arg args[ACCEL_MAX_ARGS];
    for (uint32_t i = 0; i < s.arg_count; i++) {
        const accel_icd_arg *a = &s.args[i];
        memset(&args[i], 0, sizeof(args[i]));
        args[i].kind = a->kind;
        if (a->kind == ACCEL_ARG_MEMORY) {
            fpga_mem *m = fpga__mem_from_handle(a->u.mem.memory);
            if (!m) {
                LOG(ACCEL_LOG_ERROR, "%s: %s: argument %u is not memory of this driver", dev->info.name, fn->name, i);
                return ACCEL_ERROR_INVALID_ARGUMENT;
            }
            args[i].bo = m->bo;
            args[i].offset = a->u.mem.offset;
            args[i].size = a->u.mem.size;
        } else {
            memcpy(&args[i].value, &a->u, sizeof(args[i].value));
        }
    }

    fpga_cmd *inline_waits[INLINE_WAITS];
    uint32_t wait_count = s.wait_fence_count + (q->last ? 1 : 0);
    fpga_cmd **waits = inline_waits;
    if (wait_count > INLINE_WAITS && !(waits = malloc(wait_count * sizeof(*waits))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < s.wait_fence_count; i++)
        waits[i] = s.wait_fences[i];
    if (q->last)
        waits[s.wait_fence_count] = q->last;

    fpga_exec e = {
        .op = fn->op,
        .slot = dev->slot_index,
        .generation = fn->program ? fn->program->generation : 0,
        .kernel = fn->kernel,
        .arg_count = s.arg_count,
        .args = args,
        .work_dim = s.work_dim,
        .work_size = {s.work_size[0], s.work_size[1], s.work_size[2]},
        .wait_count = wait_count,
        .waits = waits,
    };
    char error[512] = "";
    fpga_cmd *cmd = NULL;
    accel_result r = fpga_exec_submit(dev->card->card, &e, &cmd, error, sizeof(error));
    if (waits != inline_waits)
        free(waits);
    if (r) {
        LOG(ACCEL_LOG_ERROR, "%s: %s: %s", dev->info.name, fn->name, error[0] ? error : fpga__result_name(r));
        return r;
    }
    if (q->last)
        fpga_cmd_release(q->last);
    fpga_cmd_ref(cmd);
    q->last = cmd;
    *fence = cmd;
    return ACCEL_SUCCESS;
}

accel_icd_result fpga__fence_status(void *fence)
{
    return fence ? fpga_cmd_status(fence) : ACCEL_ERROR_INVALID_ARGUMENT;
}

accel_icd_result fpga__fence_wait(void *fence, uint64_t timeout_ns)
{
    return fence ? fpga_cmd_wait(fence, timeout_ns) : ACCEL_ERROR_INVALID_ARGUMENT;
}

void fpga__fence_release(void *fence)
{
    if (fence)
        fpga_cmd_release(fence);
}
