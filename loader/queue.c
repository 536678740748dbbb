/* queue.c — queues and submission.
 *
 * The fast path (every argument reachable without a copy, wait fences of
 * the same driver or already complete, nothing deferred ahead) validates
 * the arguments, takes the queue lock and calls the driver's queue_submit:
 * no thread hop. Everything else goes through the queue's deferred thread,
 * which runs submissions one at a time in order: it waits for foreign
 * fences, copies STAGED memory into the device's mirror, submits, waits, and
 * copies back, then completes the fence. Once something is deferred, later
 * submissions follow it through the thread until it drains, which keeps
 * the queue in order.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fence.h"

typedef struct staged_range {
    accel__attachment att; /* copied: the memory's array may grow meanwhile */
    char *host;
    uint64_t offset, size;
    /* An argument wired to another memory node than the memory's home:
     * the range goes through a temporary allocated on that node. */
    bool via_node;
    uint32_t arg;
    uint64_t node_id;
} staged_range;

typedef struct accel__deferred {
    struct accel__deferred *next;
    accel_fence *fence; /* holds a reference */
    accel_function *function; /* holds a reference */
    uint32_t work_dim;
    uint64_t work_size[3];
    uint32_t arg_count;
    accel_icd_arg args[ACCEL_MAX_ARGS];
    uint32_t wait_count;
    accel_fence **waits; /* each holds a reference */
    uint32_t staged_count;
    staged_range staged[ACCEL_MAX_ARGS];
} accel__deferred;

static bool has_queue_entries(const accel_icd_table *t)
{
    return ACCEL__HAS_ENTRY(t, queue_create) && ACCEL__HAS_ENTRY(t, queue_destroy) &&
           ACCEL__HAS_ENTRY(t, queue_submit) && ACCEL__HAS_ENTRY(t, fence_status) &&
           ACCEL__HAS_ENTRY(t, fence_wait) && ACCEL__HAS_ENTRY(t, fence_release);
}

accel_result accel_queue_create(accel_device *dev, uint32_t flags, accel_queue **out)
{
    ACCEL__DEVICE_USE(dev, "accel_queue_create", ACCEL_ERROR_INVALID_HANDLE);
    if (!dev || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_create: %s is NULL", dev ? "queue" : "device");
    if (flags)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_create: unknown flags 0x%x", flags);
    const accel_icd_table *t = accel__table(dev);
    if (!has_queue_entries(t))
        return accel__error(ACCEL_ERROR_UNSUPPORTED, "accel_queue_create: driver %s does not run work",
                            dev->driver->manifest->data.driver_name);
    if (atomic_load(&dev->lost))
        return accel__error(ACCEL_ERROR_DEVICE_LOST, "accel_queue_create: device %s:%u is lost",
                            dev->driver->manifest->data.driver_name, dev->driver_index);
    uint64_t timeout_ns;
    accel_result r = accel__device_timeout_from_env(&timeout_ns);
    if (r)
        return r;
    accel_queue *q = accel__calloc(1, sizeof(*q));
    if (!q)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_queue_create: out of host memory");
    q->timeout_ns = timeout_ns;
    r = t->queue_create(dev->icd_device, &q->driver_queue);
    if (r) {
        accel__free(q);
        return accel__error(r, "accel_queue_create: driver %s: %s", dev->driver->manifest->data.driver_name,
                            accel_result_string(r));
    }
    if (accel__handle_add(q, ACCEL__HANDLE_QUEUE)) {
        t->queue_destroy(q->driver_queue);
        accel__free(q);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_queue_create: out of host memory");
    }
    q->device = dev;
    q->table = t;
    atomic_init(&q->refs, 1);
    atomic_init(&q->error, ACCEL_SUCCESS);
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);

    accel_instance *inst = dev->instance;
    pthread_mutex_lock(&inst->objects_lock);
    q->next = inst->queues;
    if (inst->queues)
        inst->queues->prev = q;
    inst->queues = q;
    pthread_mutex_unlock(&inst->objects_lock);
    *out = q;
    return ACCEL_SUCCESS;
}

/* accel_queue_finish without the handle check, for the loader's own calls
 * on queues it knows are alive: listed in their instance (a queue another
 * thread has begun to destroy is still finished, so that memory freed
 * meanwhile waits for its work), or being destroyed by the caller. */
static accel_result queue_finish(accel_queue *q)
{
    pthread_mutex_lock(&q->lock);
    accel_fence *last = q->newest;
    if (last)
        atomic_fetch_add(&last->refs, 1);
    pthread_mutex_unlock(&q->lock);
    if (last) {
        accel__fence_wait_one(last, UINT64_MAX);
        accel__fence_unref(last);
    }
    accel__queue_resolve(q);
    accel_result e = (accel_result)atomic_load(&q->error);
    /* error_detail was written before error was set, and never changes after. */
    return e == ACCEL_SUCCESS ? e
                              : accel__error(e, "accel_queue_finish: the queue failed: %s",
                                             q->error_detail[0] ? q->error_detail : accel_result_string(e));
}

accel_result accel_queue_finish(accel_queue *q)
{
    ACCEL__HANDLE_USE(q, ACCEL__HANDLE_QUEUE, "accel_queue_finish", ACCEL_ERROR_INVALID_HANDLE);
    if (!q)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_finish: queue is NULL");
    return queue_finish(q);
}

void accel__queues_finish_device(accel_instance *inst, const accel_device *dev)
{
    /* The list holds every queue not yet unlinked by its destroy, which
     * takes this lock to unlink it: each is alive during the call. */
    pthread_mutex_lock(&inst->objects_lock);
    for (accel_queue *q = inst->queues; q; q = q->next)
        if (!dev || q->device == dev)
            queue_finish(q);
    pthread_mutex_unlock(&inst->objects_lock);
}

static void destroy_queue(accel_queue *q)
{
    ACCEL__HANDLE_RETIRE(q, ACCEL__HANDLE_QUEUE);
    queue_finish(q);
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (q->thread_started)
        pthread_join(q->thread, NULL);

    /* Everything is complete: make every fence final, give the driver its
     * fences back, and leave the application's fences standing alone. */
    accel__queue_resolve(q);
    pthread_mutex_lock(&q->lock);
    accel_fence *drop = NULL;
    for (accel_fence *f = q->oldest, *next; f; f = next) {
        next = f->newer;
        if (atomic_load(&f->status) == ACCEL_NOT_READY)
            accel__fence_finalize(q, f, ACCEL_ERROR_DEVICE_LOST); /* a driver that broke order */
        if (f->driver_fence) {
            q->table->fence_release(f->driver_fence);
            f->driver_fence = NULL;
        }
        f->next_free = drop;
        drop = f;
    }
    q->oldest = q->newest = NULL;
    q->destroyed = true;
    q->table->queue_destroy(q->driver_queue);
    pthread_mutex_unlock(&q->lock);
    while (drop) {
        accel_fence *f = drop;
        drop = f->next_free;
        accel__fence_unref(f);
    }
    accel__queue_unref(q);
}

accel_result accel_queue_destroy(accel_queue *q)
{
    ACCEL__HANDLE_DESTROY(q, ACCEL__HANDLE_QUEUE, "accel_queue_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (!q)
        return ACCEL_SUCCESS;
    accel_instance *inst = q->device->instance;
    pthread_mutex_lock(&inst->objects_lock);
    if (q->prev)
        q->prev->next = q->next;
    else
        inst->queues = q->next;
    if (q->next)
        q->next->prev = q->prev;
    pthread_mutex_unlock(&inst->objects_lock);
    destroy_queue(q);
    return ACCEL_SUCCESS;
}

void accel__queue_destroy_all(accel_instance *inst)
{
    while (inst->queues) {
        accel_queue *q = inst->queues;
        inst->queues = q->next;
        destroy_queue(q);
    }
}

/* ---- the deferred thread ---- */

static void free_deferred(accel__deferred *d)
{
    for (uint32_t i = 0; i < d->wait_count; i++)
        accel__fence_unref(d->waits[i]);
    accel__free(d->waits);
    accel__function_unref(d->function);
    accel__fence_unref(d->fence);
    accel__free(d);
}

/* Run one deferred submission. A failed wait fence sets *dependency and
 * copies that fence's detail; a device timeout fills the detail too. */
static accel_result run_deferred(accel_queue *q, accel__deferred *d, bool *dependency, char *detail,
                                 size_t detail_size)
{
    const accel_icd_table *t = q->table;
    void *dev = q->device->icd_device;
    accel_result r;
    for (uint32_t i = 0; i < d->wait_count; i++) {
        r = accel__fence_wait_one(d->waits[i], UINT64_MAX);
        if (r != ACCEL_SUCCESS) {
            /* Final now: its detail no longer changes. */
            *dependency = true;
            const accel_fence *w = d->waits[i];
            snprintf(detail, detail_size, "%s", w->detail[0] ? w->detail : accel_result_string(r));
            return r;
        }
    }
    r = (accel_result)atomic_load(&q->error);
    if (r != ACCEL_SUCCESS)
        return r;
    void *temps[ACCEL_MAX_ARGS] = {0};
    void *temp_host[ACCEL_MAX_ARGS] = {0};
    for (uint32_t i = 0; i < d->staged_count; i++) {
        staged_range *s = &d->staged[i];
        if (s->via_node) {
            int fd = -1;
            r = t->memory_alloc_node(dev, s->node_id, s->size ? s->size : 1, &temps[i], &temp_host[i], &fd);
            if (r != ACCEL_SUCCESS)
                goto out;
            if (temp_host[i])
                memcpy(temp_host[i], s->host + s->offset, s->size);
            else if (!ACCEL__HAS_ENTRY(t, memory_write) || !ACCEL__HAS_ENTRY(t, memory_read))
                r = ACCEL_ERROR_DRIVER_INTERNAL; /* no host mapping and no way to fill it */
            else if (s->size)
                r = t->memory_write(dev, temps[i], 0, s->host + s->offset, s->size);
            if (r != ACCEL_SUCCESS)
                goto out;
            d->args[s->arg].u.mem.memory = temps[i];
            d->args[s->arg].u.mem.offset = 0;
            continue;
        }
        if (s->size && (r = t->memory_write(dev, s->att.driver_memory, s->offset, s->host + s->offset, s->size)))
            goto out;
    }
    accel_icd_submit sub = {
        .struct_size = sizeof(sub),
        .work_dim = d->work_dim,
        .function = d->function->driver_function,
        .args = d->args,
        .arg_count = d->arg_count,
        .work_size = {d->work_size[0], d->work_size[1], d->work_size[2]},
    };
    void *df = NULL;
    pthread_mutex_lock(&q->lock);
    r = t->queue_submit(q->driver_queue, &sub, &df);
    pthread_mutex_unlock(&q->lock);
    if (r != ACCEL_SUCCESS)
        goto out;
    r = accel__driver_fence_wait(q, df, detail, detail_size);
    t->fence_release(df);
    for (uint32_t i = 0; r == ACCEL_SUCCESS && i < d->staged_count; i++) {
        staged_range *s = &d->staged[i];
        if (!s->size)
            continue;
        if (s->via_node && temp_host[i])
            memcpy(s->host + s->offset, temp_host[i], s->size);
        else if (s->via_node)
            r = t->memory_read(dev, temps[i], 0, s->host + s->offset, s->size);
        else
            r = t->memory_read(dev, s->att.driver_memory, s->offset, s->host + s->offset, s->size);
    }
out:
    for (uint32_t i = 0; i < d->staged_count; i++)
        if (temps[i])
            t->memory_free_device(dev, temps[i]);
    return r;
}

static void *deferred_thread(void *arg)
{
    accel_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->deferred_head && !q->stopping)
            pthread_cond_wait(&q->cond, &q->lock);
        accel__deferred *d = q->deferred_head;
        if (!d)
            break;
        pthread_mutex_unlock(&q->lock);
        bool dependency = false;
        char detail[sizeof(d->fence->detail)] = "";
        accel_result r = run_deferred(q, d, &dependency, detail, sizeof(detail));
        pthread_mutex_lock(&q->lock);
        q->deferred_head = d->next;
        if (!q->deferred_head)
            q->deferred_tail = NULL;
        q->deferred_pending--;
        if (dependency) {
            accel__fence_finalize_dependency(q, d->fence, r, detail);
        } else {
            if (r < 0 && detail[0] && atomic_load(&d->fence->status) == ACCEL_NOT_READY)
                memcpy(d->fence->detail, detail, sizeof(detail));
            accel__fence_finalize(q, d->fence, r);
        }
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        free_deferred(d);
        accel__queue_resolve(q);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* ---- submission ---- */

static const char *kind_name(accel_arg_kind k)
{
    static const char *const names[] = {"none", "memory", "u32", "i32", "u64", "i64", "f32", "f64"};
    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

/* Check the arguments and translate them; counts STAGED ranges. */
static accel_result translate_args(accel_queue *q, const accel_submit_info *info, accel_icd_arg *out,
                                   staged_range *staged, uint32_t *staged_count)
{
    const accel_function *fn = info->function;
    *staged_count = 0;
    if (info->arg_count != fn->arg_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: %s takes %u argument(s), %u given",
                            fn->name, fn->arg_count, info->arg_count);
    if (info->arg_count && !info->args)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: args is NULL");
    for (uint32_t i = 0; i < info->arg_count; i++) {
        const accel_arg *a = &info->args[i];
        if (a->kind != fn->arg_kinds[i])
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_queue_submit: %s argument %u must be %s, not %s", fn->name, i,
                                kind_name(fn->arg_kinds[i]), kind_name(a->kind));
        out[i].kind = a->kind;
        out[i].reserved = 0;
        if (a->kind != ACCEL_ARG_MEMORY) {
            memcpy(&out[i].u, &a->u, sizeof(out[i].u));
            continue;
        }
        accel_memory *m = a->u.mem.memory;
        if (!m)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: %s argument %u: memory is NULL",
                                fn->name, i);
        if (a->u.mem.offset > m->size || a->u.mem.size > m->size - a->u.mem.offset)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_queue_submit: %s argument %u: range %llu+%llu lies outside the %llu-byte memory",
                                fn->name, i, (unsigned long long)a->u.mem.offset,
                                (unsigned long long)a->u.mem.size, (unsigned long long)m->size);
        pthread_mutex_lock(&m->lock);
        accel__attachment *att = accel__find_attachment(m, q->device);
        accel__attachment copy = att ? *att : (accel__attachment){0};
        pthread_mutex_unlock(&m->lock);
        if (!att)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_queue_submit: %s argument %u: the memory is not attached to %s:%u", fn->name, i,
                                q->device->driver->manifest->data.driver_name, q->device->driver_index);
        out[i].u.mem.memory = copy.driver_memory;
        out[i].u.mem.offset = a->u.mem.offset;
        out[i].u.mem.size = a->u.mem.size;
        if (accel__arg_needs_copy(fn, i, m)) {
            const accel_icd_table *t = q->table;
            bool to_host = !fn->arg_nodes[i];
            /* The temporary is filled through its host mapping, or with
             * memory_write/memory_read when it has none. */
            bool visible = to_host || fn->arg_nodes[i]->host_visible;
            if (!m->host_ptr || !ACCEL__HAS_ENTRY(t, memory_alloc_node) || !ACCEL__HAS_ENTRY(t, memory_free_device) ||
                (!visible && (!ACCEL__HAS_ENTRY(t, memory_write) || !ACCEL__HAS_ENTRY(t, memory_read))))
                return accel__error(ACCEL_ERROR_UNSUPPORTED,
                                    "accel_queue_submit: %s argument %u is wired to %s and the memory cannot be "
                                    "copied there",
                                    fn->name, i, to_host ? "host memory" : fn->arg_nodes[i]->name);
            staged[(*staged_count)++] =
                (staged_range){copy, (char *)m->host_ptr, a->u.mem.offset, a->u.mem.size, true, i,
                               to_host ? fn->arg_host_id[i] : fn->arg_nodes[i]->driver_node_id};
        } else if (copy.mode == ACCEL_ATTACH_STAGED)
            staged[(*staged_count)++] =
                (staged_range){copy, (char *)m->host_ptr, a->u.mem.offset, a->u.mem.size, false, 0, 0};
    }
    return ACCEL_SUCCESS;
}

static accel_result defer(accel_queue *q, const accel_submit_info *info, const accel_icd_arg *args,
                          const staged_range *staged, uint32_t staged_count, accel_fence *fence)
{
    accel__deferred *d = accel__calloc(1, sizeof(*d));
    if (!d)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    if (info->wait_fence_count && !(d->waits = accel__calloc(info->wait_fence_count, sizeof(*d->waits)))) {
        accel__free(d);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (!q->thread_started) {
        if (pthread_create(&q->thread, NULL, deferred_thread, q) != 0) {
            accel__free(d->waits);
            accel__free(d);
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        }
        q->thread_started = true;
    }
    d->fence = fence;
    atomic_fetch_add(&fence->refs, 1);
    d->function = info->function;
    atomic_fetch_add(&info->function->refs, 1);
    d->work_dim = info->work_dim;
    memcpy(d->work_size, info->work_size, sizeof(d->work_size));
    d->arg_count = info->arg_count;
    memcpy(d->args, args, info->arg_count * sizeof(*args));
    for (uint32_t i = 0; i < info->wait_fence_count; i++) {
        d->waits[i] = info->wait_fences[i];
        atomic_fetch_add(&d->waits[i]->refs, 1);
    }
    d->wait_count = info->wait_fence_count;
    d->staged_count = staged_count;
    memcpy(d->staged, staged, staged_count * sizeof(*staged));
    fence->deferred = true;
    if (q->deferred_tail)
        q->deferred_tail->next = d;
    else
        q->deferred_head = d;
    q->deferred_tail = d;
    q->deferred_pending++;
    pthread_cond_broadcast(&q->cond);
    return ACCEL_SUCCESS;
}

accel_result accel_queue_submit(accel_queue *q, const accel_submit_info *info, accel_fence **out)
{
    ACCEL__HANDLE_USE(q, ACCEL__HANDLE_QUEUE, "accel_queue_submit", ACCEL_ERROR_INVALID_HANDLE);
    if (accel__handle_check_submit(info, "accel_queue_submit"))
        return ACCEL_ERROR_INVALID_HANDLE;
    if (!q || !info)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: %s is NULL", q ? "info" : "queue");
    if (info->struct_size < offsetof(accel_submit_info, wait_fence_count) + sizeof(uint32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: info->struct_size %u is too small",
                            info->struct_size);
    if (info->flags)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: unknown flags 0x%x", info->flags);
    if (!info->function)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: function is NULL");
    if (info->function->device != q->device)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_queue_submit: function %s belongs to another device than the queue",
                            info->function->name);
    if (info->work_dim > 3)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: work_dim %u is more than 3",
                            info->work_dim);
    if (info->wait_fence_count && !info->wait_fences)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: wait_fences is NULL");

    accel_icd_arg args[ACCEL_MAX_ARGS];
    staged_range staged[ACCEL_MAX_ARGS];
    uint32_t staged_count;
    accel_result r = translate_args(q, info, args, staged, &staged_count);
    if (r)
        return r;

    /* Wait fences: complete ones are skipped, pending ones of this queue
     * are implied by its order, and pending ones of any other queue send
     * the submission through the deferred thread. So do failed ones: a
     * submission whose wait fence failed, before this call or after it,
     * does not run, and its fence fails with that fence's error without
     * breaking the queue (accel__fence_finalize_dependency), whatever the
     * timing. (Handing same-driver fences to the driver natively would
     * save that hop; it needs the other queue's fence pinned while the
     * driver reads it, which is not done yet.) */
    bool must_defer = staged_count > 0;
    for (uint32_t i = 0; i < info->wait_fence_count; i++) {
        accel_fence *w = info->wait_fences[i];
        if (!w)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_queue_submit: wait_fences[%u] is NULL", i);
        accel_result s = accel_fence_status(w);
        if (s == ACCEL_SUCCESS)
            continue;
        if (s < 0 || w->queue != q)
            must_defer = true;
    }
    if (atomic_load(&q->device->lost))
        return accel__error(ACCEL_ERROR_DEVICE_LOST, "accel_queue_submit: device %s:%u is lost",
                            q->device->driver->manifest->data.driver_name, q->device->driver_index);

    pthread_mutex_lock(&q->lock);
    int qerr = atomic_load(&q->error);
    if (qerr != ACCEL_SUCCESS) {
        pthread_mutex_unlock(&q->lock);
        return accel__error((accel_result)qerr, "accel_queue_submit: the queue failed earlier: %s",
                            q->error_detail[0] ? q->error_detail : accel_result_string((accel_result)qerr));
    }
    if (q->destroyed) {
        pthread_mutex_unlock(&q->lock);
        return accel__error(ACCEL_ERROR_INVALID_HANDLE, "accel_queue_submit: the queue was destroyed");
    }
    accel_fence *f = accel__fence_new(q);
    if (!f) {
        pthread_mutex_unlock(&q->lock);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_queue_submit: out of host memory");
    }
    if (must_defer || q->deferred_pending) {
        r = defer(q, info, args, staged, staged_count, f);
    } else {
        accel_icd_submit sub = {
            .struct_size = sizeof(sub),
            .work_dim = info->work_dim,
            .function = info->function->driver_function,
            .args = args,
            .arg_count = info->arg_count,
            .work_size = {info->work_size[0], info->work_size[1], info->work_size[2]},
        };
        r = q->table->queue_submit(q->driver_queue, &sub, &f->driver_fence);
        if (r < 0) {
            q->error_seq = q->next_seq;
            snprintf(q->error_detail, sizeof(q->error_detail), "%s on %s:%u: the driver refused a submission: %s",
                     info->function->name, q->device->driver->manifest->data.driver_name, q->device->driver_index,
                     accel_result_string(r));
            atomic_store(&q->error, r);
        }
    }
    if (r != ACCEL_SUCCESS) {
        pthread_mutex_unlock(&q->lock);
        accel__fence_unref(f);
        return accel__error(r, "accel_queue_submit: %s on %s:%u: %s", info->function->name,
                            q->device->driver->manifest->data.driver_name, q->device->driver_index,
                            accel_result_string(r));
    }
    accel__fence_link(q, f);
    if (!out)
        f->app_released = true;
    pthread_mutex_unlock(&q->lock);
    if (out)
        *out = f;
    else
        accel__fence_unref(f);
    return ACCEL_SUCCESS;
}
