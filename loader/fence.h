/* fence.h — fence and queue internals shared by fence.c and queue.c. */
#ifndef ACCEL_FENCE_H
#define ACCEL_FENCE_H

#include "loader.h"

/* A fence for q (from its free list or new), holding a queue reference;
 * NULL on allocation failure. Lock held. */
accel_fence *accel__fence_new(accel_queue *q);
/* Append f to q's list in submission order. Lock held. */
void accel__fence_link(accel_queue *q, accel_fence *f);
/* Make f final with the driver's result, applying the queue's error (a
 * failure breaks the queue). f->detail, if set, says why. No-op on a final
 * fence. Lock held. */
void accel__fence_finalize(accel_queue *q, accel_fence *f, accel_result r);
/* Make f final with the error r of one of its wait fences, whose detail is
 * `detail`: f did not run, and its queue is not broken by it. Lock held. */
void accel__fence_finalize_dependency(accel_queue *q, accel_fence *f, accel_result r, const char *detail);

/* ACCEL_DEVICE_TIMEOUT_MS when set, else the default (docs/environment.md). */
#define ACCEL__DEVICE_TIMEOUT_DEFAULT_MS 60000u
/* The device timeout into *timeout_ns (0: none); an error naming the
 * variable when its value is not a number. */
accel_result accel__device_timeout_from_env(uint64_t *timeout_ns);
/* Wait for a driver fence of q (the deferred thread's own submissions)
 * with q's device timeout: past it, the device is marked lost, `detail`
 * says so and the result is ACCEL_ERROR_DEVICE_LOST. */
accel_result accel__driver_fence_wait(accel_queue *q, void *df, char *detail, size_t detail_size);
void accel__fence_unref(accel_fence *f);
void accel__queue_unref(accel_queue *q);
/* Resolve q's fences that are complete (takes the lock). */
void accel__queue_resolve(accel_queue *q);
accel_result accel__fence_wait_one(accel_fence *f, uint64_t timeout_ns);

#endif
