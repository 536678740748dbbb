/* handle.h — which handles are alive: the registry behind ACCEL_ERROR_INVALID_HANDLE.
 *
 * Handles are the objects' addresses. A freed object cannot be recognized
 * by reading it (that read is itself a use after free), so the loader keeps
 * a process-wide set of the live objects that the application can destroy
 * (instances, memory, programs, functions, queues, fences, topologies,
 * pipelines, plans, runs), keyed by address and tagged with the type.
 *
 * Every entry point that takes such a handle pins it for the length of the
 * call (ACCEL__HANDLE_USE); a destroy unregisters it first, so that no new
 * call can pin it, and waits for the calls in flight to unpin it before the
 * object goes (ACCEL__HANDLE_DESTROY). Destroying twice, using a destroyed
 * handle or a handle of another type is ACCEL_ERROR_INVALID_HANDLE, and a
 * destroy racing a use is either before the use (which fails) or after it.
 *
 * Devices are not destroyable: they live in arrays owned by their instance
 * and are checked by a tag in the object itself (accel__device_ok), cheap
 * enough for accel_device_query. The arrays of a destroyed instance are not
 * handed back to malloc but kept, tags cleared, for the next instance
 * (accel__device_array_new/_retire), so reading a stale device's tag stays
 * a read of loader memory.
 *
 * The registry's storage comes from plain malloc, not the accel__ helpers:
 * it is process-wide, outlives every instance and is freed when the library
 * is unloaded, so it must not show up in the tests' live-allocation counts.
 */
#ifndef ACCEL_HANDLE_H
#define ACCEL_HANDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"

typedef enum accel__handle_type {
    ACCEL__HANDLE_INSTANCE = 1,
    ACCEL__HANDLE_MEMORY,
    ACCEL__HANDLE_PROGRAM,
    ACCEL__HANDLE_FUNCTION,
    ACCEL__HANDLE_QUEUE,
    ACCEL__HANDLE_FENCE,
    ACCEL__HANDLE_TOPOLOGY,
    ACCEL__HANDLE_PIPELINE,
    ACCEL__HANDLE_PLAN,
    ACCEL__HANDLE_RUN,
    ACCEL__HANDLE_TYPE_COUNT
} accel__handle_type;

/* "instance", "memory", … */
const char *accel__handle_type_name(accel__handle_type type);

/* Register a new object (before the application sees it). Only fails for
 * lack of memory: ACCEL_ERROR_OUT_OF_HOST_MEMORY, with no message set. */
accel_result accel__handle_add(const void *h, accel__handle_type type);

/* The same for an object its instance frees if the application has not
 * (accel__handle_retire_owned): programs and functions. */
accel_result accel__handle_add_owned(const void *h, accel__handle_type type, const void *owner);

/* Retire every live object of `type` registered with `owner`, calling
 * free_fn on each (outside the registry's locks) before forgetting it: an
 * instance being destroyed frees what the application left of it. */
void accel__handle_retire_owned(const void *owner, accel__handle_type type, void (*free_fn)(void *h));

/* A pin on a live handle, or the reason there is none. */
typedef struct accel__handle_pin {
    const void *h; /* pinned; NULL when nothing was pinned */
    uint64_t gen;  /* the entry's generation, to find it again */
    bool ok;       /* false: not live (the error is recorded) */
} accel__handle_pin;

/* Pin h as a live object of `type` for the caller's call. A NULL handle is
 * not an error here (ok, nothing pinned): the entry point reports it with
 * its own message. Otherwise ok is false for a handle that is not live,
 * of another type or being destroyed, with ACCEL_ERROR_INVALID_HANDLE and a
 * message naming `fn` recorded. */
accel__handle_pin accel__handle_pin_get(const void *h, accel__handle_type type, const char *fn);
/* Drop a pin (the cleanup of ACCEL__HANDLE_USE). */
void accel__handle_unpin(accel__handle_pin *pin);

/* Check without pinning (the object may go right after: for handles an
 * entry point only passes on, documented as not protected against a
 * concurrent destroy). NULL passes. ACCEL_ERROR_INVALID_HANDLE with a
 * message naming fn and `what` otherwise. */
accel_result accel__handle_check(const void *h, accel__handle_type type, const char *fn, const char *what);
/* The same over an array of n handles, named what[i]; a NULL array passes. */
accel_result accel__handle_check_array(const void *const *hs, uint32_t n, accel__handle_type type,
                                       const char *fn, const char *what);
/* The handles a submission names: its function, its memory arguments and
 * its wait fences. An info the entry point will reject passes. */
struct accel_submit_info;
accel_result accel__handle_check_submit(const struct accel_submit_info *info, const char *fn);

/* Whether h is a live object of `type`, without pinning and without
 * blocking: for accel_run_cancel, which a signal handler may call. When the
 * registry is busy, true (unchecked). */
bool accel__handle_peek(const void *h, accel__handle_type type);

/*
 * Start destroying h: it stops being live for new calls, and this waits
 * until the calls that pinned it are done. The calling thread may still
 * pin it (a destroy calls other entry points on its object) until
 * accel__handle_retire_end. `checked`: fail with ACCEL_ERROR_INVALID_HANDLE
 * (message naming fn) when h is not a live object of `type`; unchecked (an
 * internal free of an object that may not be registered, or already being
 * destroyed by this thread): nothing to do then.
 */
accel__handle_pin accel__handle_retire_begin(const void *h, accel__handle_type type, const char *fn,
                                             bool checked);
/* Forget the entry retire_begin marked (the cleanup of the macros below). */
void accel__handle_retire_end(accel__handle_pin *pin);

#define ACCEL__HANDLE_CAT2(a, b) a##b
#define ACCEL__HANDLE_CAT(a, b)  ACCEL__HANDLE_CAT2(a, b)
#define ACCEL__HANDLE_VAR        ACCEL__HANDLE_CAT(accel__pin_, __LINE__)

/* First statement of an entry point: pin `h` until the function returns;
 * return `fail` (ACCEL_ERROR_INVALID_HANDLE, 0, NULL…) if it is not live. */
#define ACCEL__HANDLE_USE(h, type, fn, fail)                                                                 \
    __attribute__((cleanup(accel__handle_unpin))) accel__handle_pin ACCEL__HANDLE_VAR =                      \
        accel__handle_pin_get((h), (type), (fn));                                                            \
    if (!ACCEL__HANDLE_VAR.ok)                                                                               \
    return fail

/* First statement of a destroy: unregister `h` (waiting for the calls in
 * flight) and forget it when the function returns; return `fail` if it was
 * not live. NULL passes (the destroy's own NULL check follows). */
#define ACCEL__HANDLE_DESTROY(h, type, fn, fail)                                                             \
    __attribute__((cleanup(accel__handle_retire_end))) accel__handle_pin ACCEL__HANDLE_VAR =                 \
        accel__handle_retire_begin((h), (type), (fn), true);                                                 \
    if (!ACCEL__HANDLE_VAR.ok)                                                                               \
    return fail

/* First statement of an internal free that may run without the public
 * destroy (an instance freeing what is left): the same, never failing. */
#define ACCEL__HANDLE_RETIRE(h, type)                                                                        \
    __attribute__((cleanup(accel__handle_retire_end), unused)) accel__handle_pin ACCEL__HANDLE_VAR =         \
        accel__handle_retire_begin((h), (type), NULL, false)

/* ---- devices ---- */

/* accel_device.magic of a device of a live instance ("acceldev"). */
#define ACCEL__DEVICE_MAGIC UINT64_C(0x6163636565646576)

/* First statements of an entry point taking a device (not the query: see
 * accel_device_query): check its tag, then pin its instance for the call.
 * NULL passes (the entry point's own NULL check follows). */
#define ACCEL__DEVICE_USE(dev, fn, fail)                                                                     \
    if ((dev) &&                                                                                             \
        __builtin_expect(__atomic_load_n(&(dev)->magic, __ATOMIC_RELAXED) != ACCEL__DEVICE_MAGIC, 0))        \
        return (accel__device_invalid((dev), (fn)), (fail));                                                 \
    ACCEL__HANDLE_USE((dev) ? (dev)->instance : NULL, ACCEL__HANDLE_INSTANCE, (fn), fail)

/* The cold path of the device checks: records ACCEL_ERROR_INVALID_HANDLE
 * for `dev` (not a device, or of a destroyed instance) naming fn. */
accel_result accel__device_invalid(const void *dev, const char *fn);

/* A zeroed array of n devices, from the retired ones when one is big
 * enough; NULL without memory. */
struct accel_device *accel__device_array_new(size_t n);
/* Clear the tags of an instance's n devices and keep the array for reuse.
 * NULL is a no-op. */
void accel__device_array_retire(struct accel_device *devices, size_t n);

#endif
