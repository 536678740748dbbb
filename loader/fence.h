/* fence.h — fence and queue internals shared by fence.c and queue.c. */
#ifndef ACCEL_FENCE_H
#define ACCEL_FENCE_H

#include "loader.h"

/* A fence for q (from its free list or new), holding a queue reference;
 * NULL on allocation failure. Lock held. */
accel_fence *accel__fence_new(accel_queue *q);
/* Append f to q's list in submission order. Lock held. */
void accel__fence_link(accel_queue *q, accel_fence *f);
/* Make f final with the driver's result, applying the queue's error. Lock held. */
void accel__fence_finalize(accel_queue *q, accel_fence *f, accel_result r);
void accel__fence_unref(accel_fence *f);
void accel__queue_unref(accel_queue *q);
/* Resolve q's fences that are complete (takes the lock). */
void accel__queue_resolve(accel_queue *q);
accel_result accel__fence_wait_one(accel_fence *f, uint64_t timeout_ns);

#endif
