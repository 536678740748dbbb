/* vk_queue.c — accel queues, submissions and fences over Vulkan.
 *
 * Every accel queue of a device shares the device's one VkQueue (under
 * vk_device.queue_lock). Each accel queue has its own command pool; a
 * submission takes a recycled vk_fence (command buffer, VkFence, descriptor
 * pool, status word) or makes one, so in steady state a submission
 * allocates nothing. A vk_fence is recycled once the loader has released it
 * and its VkFence has signalled.
 *
 * Ordering: each command buffer starts with a global memory barrier whose
 * first scope is everything submitted earlier to the VkQueue, so work runs
 * in submission order on a device (per accel queue, as the ABI requires,
 * and also across the device's queues). Wait fences of this driver are
 * waited for on the host before the submission is recorded: a wait fence
 * that failed makes the new submission's fence fail with the same error
 * without running anything. The caller's thread blocks meanwhile; no lock
 * is held while it does.
 *
 * Each command buffer ends with a barrier to the host stage, so that the
 * status word and memory are visible to memory_read and the host once the
 * fence signals.
 */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct vk_queue vk_queue;

typedef struct vk_fence {
    vk_queue *q;
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool pool;
    VkBuffer status_buf;
    VkDeviceMemory status_mem;
    volatile uint32_t *status;
    /* Texel-buffer views of the memory arguments of a built-in with
     * vk_function.texel, made for this submission. */
    VkBufferView views[ACCEL_MAX_ARGS];
    uint32_t view_count;
    bool submitted;    /* false: failed before reaching the device */
    atomic_int result; /* ACCEL_NOT_READY until known */
    struct vk_fence *next;
} vk_fence;

struct vk_queue {
    vk_device *dev;
    VkCommandPool pool;
    pthread_mutex_t lock;
    vk_fence *idle; /* released by the loader; reusable once signalled */
    uint32_t live;  /* handed out and not released */
    bool destroyed;
};

/* Views die with the submission that used them: only once its VkFence
 * has signalled (or it never reached the device). */
static void drop_views(vk_device *dev, vk_fence *f)
{
    for (uint32_t i = 0; i < f->view_count; i++)
        vk_fn(dev)->vkDestroyBufferView(dev->device, f->views[i], NULL);
    f->view_count = 0;
}

static void fence_destroy(vk_queue *q, vk_fence *f)
{
    vk_device *dev = q->dev;
    const vk_fns *vk = vk_fn(dev);
    if (f->fence) {
        if (f->submitted && !atomic_load(&dev->lost))
            vk->vkWaitForFences(dev->device, 1, &f->fence, VK_TRUE, UINT64_MAX);
        vk->vkDestroyFence(dev->device, f->fence, NULL);
    }
    drop_views(dev, f);
    if (f->cb)
        vk->vkFreeCommandBuffers(dev->device, q->pool, 1, &f->cb);
    if (f->pool)
        vk->vkDestroyDescriptorPool(dev->device, f->pool, NULL);
    if (f->status_buf)
        vk->vkDestroyBuffer(dev->device, f->status_buf, NULL);
    if (f->status_mem) {
        if (f->status)
            vk->vkUnmapMemory(dev->device, f->status_mem);
        vk->vkFreeMemory(dev->device, f->status_mem, NULL);
    }
    free(f);
}

static void queue_free(vk_queue *q)
{
    vk_fn(q->dev)->vkDestroyCommandPool(q->dev->device, q->pool, NULL);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static accel_result fence_make(vk_queue *q, vk_fence **out)
{
    vk_device *dev = q->dev;
    const vk_fns *vk = vk_fn(dev);
    vk_fence *f = calloc(1, sizeof(*f));
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    f->q = q;
    VkResult vr;
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = q->pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    if ((vr = vk->vkAllocateCommandBuffers(dev->device, &cai, &f->cb)) != VK_SUCCESS)
        goto fail;
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((vr = vk->vkCreateFence(dev->device, &fci, NULL, &f->fence)) != VK_SUCCESS)
        goto fail;
    VkDescriptorPoolSize ps[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, ACCEL_MAX_ARGS + 1},
                                  {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, ACCEL_MAX_ARGS + 1}};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dpi.maxSets = 1;
    dpi.poolSizeCount = 2;
    dpi.pPoolSizes = ps;
    if ((vr = vk->vkCreateDescriptorPool(dev->device, &dpi, NULL, &f->pool)) != VK_SUCCESS)
        goto fail;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = VK_STATUS_SIZE;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT;
    if ((vr = vk->vkCreateBuffer(dev->device, &bci, NULL, &f->status_buf)) != VK_SUCCESS)
        goto fail;
    VkMemoryRequirements req;
    vk->vkGetBufferMemoryRequirements(dev->device, f->status_buf, &req);
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = vk_find_memory_type(dev, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (mai.memoryTypeIndex == UINT32_MAX) {
        vr = VK_ERROR_OUT_OF_DEVICE_MEMORY;
        goto fail;
    }
    if ((vr = vk->vkAllocateMemory(dev->device, &mai, NULL, &f->status_mem)) != VK_SUCCESS ||
        (vr = vk->vkBindBufferMemory(dev->device, f->status_buf, f->status_mem, 0)) != VK_SUCCESS)
        goto fail;
    void *map;
    if ((vr = vk->vkMapMemory(dev->device, f->status_mem, 0, VK_WHOLE_SIZE, 0, &map)) != VK_SUCCESS)
        goto fail;
    f->status = map;
    *out = f;
    return ACCEL_SUCCESS;
fail:
    VK_LOG(ACCEL_LOG_WARN, "%s: cannot create a submission: %s", dev->info.name, vk_result_name(vr));
    fence_destroy(q, f);
    accel_result res = vk_to_accel(vr);
    return res == ACCEL_ERROR_DRIVER_INTERNAL ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : res;
}

/* A vk_fence ready for recording: recycled if one has finished, else new. */
static accel_result fence_acquire(vk_queue *q, vk_fence **out)
{
    const vk_fns *vk = vk_fn(q->dev);
    vk_fence *f = NULL;
    pthread_mutex_lock(&q->lock);
    for (vk_fence **pp = &q->idle; *pp; pp = &(*pp)->next) {
        vk_fence *c = *pp;
        if (!c->submitted || vk->vkGetFenceStatus(q->dev->device, c->fence) == VK_SUCCESS) {
            *pp = c->next;
            f = c;
            break;
        }
    }
    if (f)
        q->live++;
    pthread_mutex_unlock(&q->lock);
    if (f) {
        if (f->submitted)
            vk->vkResetFences(q->dev->device, 1, &f->fence);
        vk->vkResetCommandBuffer(f->cb, 0);
        vk->vkResetDescriptorPool(q->dev->device, f->pool, 0);
        drop_views(q->dev, f);
    } else {
        accel_result res = fence_make(q, &f);
        if (res)
            return res;
        pthread_mutex_lock(&q->lock);
        q->live++;
        pthread_mutex_unlock(&q->lock);
    }
    f->submitted = false;
    f->next = NULL;
    memset((void *)f->status, 0, 64);
    atomic_store(&f->result, ACCEL_NOT_READY);
    *out = f;
    return ACCEL_SUCCESS;
}

/* Give back a vk_fence that was acquired but not handed to the loader. */
static void fence_unacquire(vk_queue *q, vk_fence *f)
{
    drop_views(q->dev, f);
    pthread_mutex_lock(&q->lock);
    q->live--;
    f->submitted = false;
    f->next = q->idle;
    q->idle = f;
    pthread_mutex_unlock(&q->lock);
}

accel_icd_result vk_queue_create(void *device, void **queue)
{
    vk_device *dev = device;
    accel_result res = device_ready(dev);
    if (res)
        return res;
    vk_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    q->dev = dev;
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = dev->queue_family;
    VkResult vr = vk_fn(dev)->vkCreateCommandPool(dev->device, &cpi, NULL, &q->pool);
    if (vr != VK_SUCCESS) {
        free(q);
        return vk_to_accel(vr);
    }
    pthread_mutex_init(&q->lock, NULL);
    *queue = q;
    return ACCEL_SUCCESS;
}

void vk_queue_destroy(void *queue)
{
    vk_queue *q = queue;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->destroyed = true;
    vk_fence *idle = q->idle;
    q->idle = NULL;
    bool last = q->live == 0;
    while (idle) {
        vk_fence *next = idle->next;
        fence_destroy(q, idle);
        idle = next;
    }
    pthread_mutex_unlock(&q->lock);
    if (last)
        queue_free(q);
}

static void barrier(const vk_fns *vk, VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags src_access,
                    VkPipelineStageFlags dst, VkAccessFlags dst_access)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    vk->vkCmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

static accel_result plan_builtin(vk_device *dev, const vk_function *fn, const accel_icd_submit *s, vk_plan *p)
{
    VkDeviceSize align = dev->limits.minStorageBufferOffsetAlignment ? dev->limits.minStorageBufferOffsetAlignment : 1;
    if (fn->texel && dev->limits.minTexelBufferOffsetAlignment > align)
        align = dev->limits.minTexelBufferOffsetAlignment;
    accel_result checked = vk_builtin_check(dev, fn->builtin, s->args);
    if (checked)
        return checked;
    uint32_t *offs = p->offs, *sizes = p->sizes, pattern = 0, scalar1 = 0, nmem = 0, nscalar = 0;
    memset(p->offs, 0, sizeof(p->offs));
    memset(p->sizes, 0, sizeof(p->sizes));
    uint64_t largest = 0;
    for (uint32_t i = 0; i < s->arg_count; i++) {
        const accel_icd_arg *a = &s->args[i];
        if (a->kind == ACCEL_ARG_U32 || a->kind == ACCEL_ARG_I32) {
            if (nscalar++) { /* the second scalar goes as it is */
                scalar1 = a->u.u32;
                continue;
            }
            accel_result res = vk_builtin_scalar(fn->builtin, a->u.u32, p);
            if (res)
                return res;
            pattern = p->scalar;
            continue;
        }
        const vk_memory *m = a->u.mem.memory;
        uint64_t off = a->u.mem.offset, size = a->u.mem.size;
        if (!m || off > m->size || size > m->size - off)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        VkDeviceSize base = off & ~(align - 1);
        if (base >= m->buffer_size)
            base = 0; /* an empty range at the very end */
        VkDeviceSize range = (off - base + size + 3) & ~(VkDeviceSize)3;
        if (range < 4)
            range = 4;
        if (range > m->buffer_size - base)
            range = m->buffer_size - base;
        if (range > dev->limits.maxStorageBufferRange || off - base + size > UINT32_MAX ||
            (fn->texel && range / 4 > dev->limits.maxTexelBufferElements)) {
            VK_LOG(ACCEL_LOG_WARN, "%s: a range of %llu bytes exceeds maxStorageBufferRange (%u)", dev->info.name,
                   (unsigned long long)size, dev->limits.maxStorageBufferRange);
            return ACCEL_ERROR_UNSUPPORTED;
        }
        p->buffers[nmem] = (VkDescriptorBufferInfo){m->buffer, base, range};
        offs[nmem] = (uint32_t)(off - base);
        sizes[nmem] = (uint32_t)size;
        if (size > largest)
            largest = size;
        nmem++;
    }
    p->buffer_count = nmem; /* the status buffer is added by the caller */
    memset(p->push, 0, VK_BUILTIN_PUSH_WORDS * 4); /* byte 28: the chunk index, 0 for the first dispatch */
    memcpy(p->push, p->offs, 3 * sizeof(p->offs[0]));
    memcpy(p->push + 12, p->sizes, 3 * sizeof(p->sizes[0]));
    memcpy(p->push + 24, &pattern, sizeof(pattern));
    memcpy(p->push + VK_PUSH_OFF3 * 4, &offs[3], 4);
    memcpy(p->push + VK_PUSH_SIZE3 * 4, &sizes[3], 4);
    memcpy(p->push + VK_PUSH_SCALAR1 * 4, &scalar1, 4);
    uint64_t grid = (largest + 64 + 255) / 256;
    uint64_t max = dev->limits.maxComputeWorkGroupCount[0] < 4096 ? dev->limits.maxComputeWorkGroupCount[0] : 4096;
    if (grid > max)
        grid = max;
    for (uint32_t i = 0; i < fn->pass_count; i++) {
        p->groups[i][0] = fn->pass_grid[i] ? (uint32_t)grid : 1;
        p->groups[i][1] = p->groups[i][2] = 1;
        p->dispatches[i] = 1;
        if (VK_CHUNK_INDIRECT(fn->pass_chunk[i])) {
            uint64_t d = ((uint64_t)sizes[1] + 16383) / 16384 + ((uint64_t)sizes[0] + 4095) / 4096 + 16;
            if (fn->pass_chunk[i] == VK_CHUNK_INFLATE_STREAM) {
                /* 512 bytes out, 256 in per dispatch at worst; at most
                 * 2^18 dispatches (a command buffer of some 30 MB on
                 * lavapipe): a call that needs more fails as unsupported. */
                d = ((uint64_t)sizes[1] + 511) / 512 + ((uint64_t)sizes[0] + 255) / 256 + 16;
                if (d > (1u << 18))
                    d = 1u << 18;
            }
            p->dispatches[i] = (uint32_t)d;
            memcpy(p->push + 24, &p->dispatches[i], 4); /* the shader's "pattern": the last chunk */
        } else if (fn->pass_chunk[i] && sizes[0] > fn->pass_chunk[i]) {
            p->dispatches[i] = (sizes[0] + fn->pass_chunk[i] - 1) / fn->pass_chunk[i];
        }
    }
    return ACCEL_SUCCESS;
}

static accel_result plan_user(vk_device *dev, const vk_function *fn, const accel_icd_submit *s, vk_plan *p)
{
    VkDeviceSize align = dev->limits.minStorageBufferOffsetAlignment ? dev->limits.minStorageBufferOffsetAlignment : 1;
    memset(p->push, 0, sizeof(p->push));
    for (uint32_t i = 0; i < s->arg_count; i++) {
        const accel_icd_arg *a = &s->args[i];
        uint8_t *dst = p->push + fn->push_offsets[i];
        switch (a->kind) {
        case ACCEL_ARG_MEMORY: {
            const vk_memory *m = a->u.mem.memory;
            uint64_t off = a->u.mem.offset, size = a->u.mem.size;
            if (!m || off > m->size || size > m->size - off)
                return ACCEL_ERROR_INVALID_ARGUMENT;
            if (size == 0) {
                p->buffers[i] = (VkDescriptorBufferInfo){m->buffer, 0, 4};
                break;
            }
            if (off & (align - 1)) {
                VK_LOG(ACCEL_LOG_WARN,
                       "%s: argument %u: offset %llu is not a multiple of minStorageBufferOffsetAlignment (%llu)",
                       dev->info.name, i, (unsigned long long)off, (unsigned long long)align);
                return ACCEL_ERROR_INVALID_ARGUMENT;
            }
            if (size > dev->limits.maxStorageBufferRange) {
                VK_LOG(ACCEL_LOG_WARN, "%s: argument %u: %llu bytes exceed maxStorageBufferRange (%u)",
                       dev->info.name, i, (unsigned long long)size, dev->limits.maxStorageBufferRange);
                return ACCEL_ERROR_UNSUPPORTED;
            }
            p->buffers[i] = (VkDescriptorBufferInfo){m->buffer, off, size};
            break;
        }
        case ACCEL_ARG_U32:
        case ACCEL_ARG_I32:
        case ACCEL_ARG_F32: memcpy(dst, &a->u.u32, 4); break;
        case ACCEL_ARG_U64:
        case ACCEL_ARG_I64:
        case ACCEL_ARG_F64: memcpy(dst, &a->u.u64, 8); break;
        default: return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    p->buffer_count = fn->binding_count;
    uint32_t dim = s->work_dim;
    if (dim > 3)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    for (uint32_t d = 0; d < 3; d++) {
        uint64_t g = 1;
        if (d < dim)
            g = s->work_size[d] / fn->local_size[d] + (s->work_size[d] % fn->local_size[d] != 0);
        if (g > dev->limits.maxComputeWorkGroupCount[d]) {
            VK_LOG(ACCEL_LOG_WARN, "%s: %llu workgroups in dimension %u, the device allows %u", dev->info.name,
                   (unsigned long long)g, d, dev->limits.maxComputeWorkGroupCount[d]);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        p->groups[0][d] = (uint32_t)g;
    }
    p->dispatches[0] = 1;
    return ACCEL_SUCCESS;
}

void vk_record_fill(vk_recorder *r, VkBuffer buffer, VkDeviceSize offset, VkDeviceSize size, uint32_t value)
{
    const vk_fns *vk = r->vk;
    if (r->recorded)
        barrier(vk, r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
                VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT);
    r->recorded++;
    vk->vkCmdFillBuffer(r->cb, buffer, offset, size, value);
}

void vk_record_dispatch(vk_recorder *r, uint32_t pass, uint32_t groups)
{
    const vk_fns *vk = r->vk;
    if (r->recorded)
        barrier(vk, r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    r->recorded++;
    if (!groups)
        return;
    if (r->bound != pass) {
        vk->vkCmdBindPipeline(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, r->fn->pipelines[pass]);
        if (r->bound == UINT32_MAX)
            vk->vkCmdBindDescriptorSets(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, r->fn->layout, 0, 1, &r->set, 0, NULL);
        r->bound = pass;
    }
    vk->vkCmdPushConstants(r->cb, r->fn->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(r->push), r->push);
    vk->vkCmdDispatch(r->cb, groups, 1, 1);
}

static void record(vk_device *dev, const vk_function *fn, const vk_plan *p, vk_fence *f, VkDescriptorSet set)
{
    const vk_fns *vk = vk_fn(dev);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vk->vkBeginCommandBuffer(f->cb, &bi);
    barrier(vk, f->cb, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_ACCESS_MEMORY_WRITE_BIT,
            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
    if (fn->schedule) {
        vk_recorder r = {.vk = vk, .cb = f->cb, .fn = fn, .set = set, .bound = UINT32_MAX};
        memcpy(r.push, p->push, sizeof(r.push));
        fn->schedule(&r, p);
    }
    for (uint32_t i = 0; !fn->schedule && i < fn->pass_count; i++) {
        if (i)
            barrier(vk, f->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
        if (!p->groups[i][0] || !p->groups[i][1] || !p->groups[i][2])
            continue;
        vk->vkCmdBindPipeline(f->cb, VK_PIPELINE_BIND_POINT_COMPUTE, fn->pipelines[i]);
        if (set)
            vk->vkCmdBindDescriptorSets(f->cb, VK_PIPELINE_BIND_POINT_COMPUTE, fn->layout, 0, 1, &set, 0, NULL);
        if (fn->push_size)
            vk->vkCmdPushConstants(f->cb, fn->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, (fn->push_size + 3) & ~3u,
                                   p->push);
        bool inflate = VK_CHUNK_INDIRECT(fn->pass_chunk[i]);
        for (uint32_t c = 0; c < p->dispatches[i]; c++) {
            if (c) {
                /* Built-ins only: the chunk index lives at byte 28. */
                vk->vkCmdPushConstants(f->cb, fn->layout, VK_SHADER_STAGE_COMPUTE_BIT, 28, 4, &c);
                barrier(vk, f->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                            (inflate ? VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT : 0),
                        VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                            (inflate ? VK_ACCESS_INDIRECT_COMMAND_READ_BIT : 0));
            }
            if (inflate) /* groups from the status binding: none once the stream is done */
                vk->vkCmdDispatchIndirect(f->cb, f->status_buf, VK_INFLATE_GROUPS_WORD * 4);
            else
                vk->vkCmdDispatch(f->cb, p->groups[i][0], p->groups[i][1], p->groups[i][2]);
        }
    }
    barrier(vk, f->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
            VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT);
    vk->vkEndCommandBuffer(f->cb);
}

accel_icd_result vk_queue_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    vk_queue *q = queue;
    vk_device *dev = q->dev;
    const vk_fns *vk = vk_fn(dev);
    const vk_function *fn = s->function;
    if (atomic_load(&dev->lost))
        return ACCEL_ERROR_DEVICE_LOST;
    if (!fn || s->arg_count != fn->arg_count || (s->arg_count && !s->args))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    for (uint32_t i = 0; i < s->arg_count; i++)
        if (s->args[i].kind != fn->arg_kinds[i])
            return ACCEL_ERROR_INVALID_ARGUMENT;

    vk_plan p;
    accel_result res = fn->builtin >= 0 ? plan_builtin(dev, fn, s, &p) : plan_user(dev, fn, s, &p);
    if (res)
        return res;

    /* Wait fences first (host side): a failed one fails this submission. */
    accel_result waited = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < s->wait_fence_count && !waited; i++)
        waited = vk_fence_wait(s->wait_fences[i], UINT64_MAX);

    vk_fence *f;
    if ((res = fence_acquire(q, &f)))
        return res;
    if (waited) {
        atomic_store(&f->result, waited);
        *fence = f;
        return ACCEL_SUCCESS;
    }
    VkDescriptorSet set = VK_NULL_HANDLE;
    if (fn->binding_count) {
        VkDescriptorSetAllocateInfo dai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
        dai.descriptorPool = f->pool;
        dai.descriptorSetCount = 1;
        dai.pSetLayouts = &fn->set_layout;
        VkResult vr = vk->vkAllocateDescriptorSets(dev->device, &dai, &set);
        if (vr != VK_SUCCESS) {
            fence_unacquire(q, f);
            return vk_to_accel(vr);
        }
        uint32_t nmem = p.buffer_count;
        if (fn->builtin >= 0)
            p.buffers[p.buffer_count++] = (VkDescriptorBufferInfo){f->status_buf, 0, VK_STATUS_SIZE};
        VkWriteDescriptorSet w[3] = {{.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET}};
        uint32_t nw = 0;
        if (fn->texel) {
            /* Memory arguments as texel buffers, the status buffer as a
             * storage buffer, then the scratch buffer. */
            for (uint32_t i = 0; i < nmem; i++) {
                VkBufferViewCreateInfo vci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
                vci.buffer = p.buffers[i].buffer;
                vci.format = VK_FORMAT_R32_UINT;
                vci.offset = p.buffers[i].offset;
                vci.range = p.buffers[i].range;
                vr = vk->vkCreateBufferView(dev->device, &vci, NULL, &f->views[f->view_count]);
                if (vr != VK_SUCCESS) {
                    fence_unacquire(q, f);
                    return vk_to_accel(vr);
                }
                f->view_count++;
            }
            w[nw] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                           .descriptorCount = nmem,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
                                           .pTexelBufferView = f->views};
            nw += nmem != 0;
            w[nw++] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                             .dstBinding = nmem, .descriptorCount = 1,
                                             .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                             .pBufferInfo = &p.buffers[nmem]};
            if (fn->scratch)
                w[nw++] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                                 .dstBinding = nmem + 1, .descriptorCount = 1,
                                                 .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
                                                 .pTexelBufferView = &dev->scratch_view};
        } else {
            w[nw++] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                             .descriptorCount = p.buffer_count,
                                             .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                             .pBufferInfo = p.buffers};
        }
        vk->vkUpdateDescriptorSets(dev->device, nw, w, 0, NULL);
    }
    if (fn->pass_count && VK_CHUNK_INDIRECT(fn->pass_chunk[0]))
        for (int k = 0; k < 3; k++)
            f->status[VK_INFLATE_GROUPS_WORD + k] = 1;
    record(dev, fn, &p, f, set);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &f->cb;
    pthread_mutex_lock(&dev->queue_lock);
    VkResult vr = vk->vkQueueSubmit(dev->queue, 1, &si, f->fence);
    pthread_mutex_unlock(&dev->queue_lock);
    if (vr != VK_SUCCESS) {
        VK_LOG(ACCEL_LOG_ERROR, "%s: vkQueueSubmit: %s", dev->info.name, vk_result_name(vr));
        if (vr == VK_ERROR_DEVICE_LOST)
            atomic_store(&dev->lost, true);
        fence_unacquire(q, f);
        res = vk_to_accel(vr);
        return res == ACCEL_ERROR_DRIVER_INTERNAL ? ACCEL_ERROR_DEVICE_LOST : res;
    }
    f->submitted = true;
    *fence = f;
    return ACCEL_SUCCESS;
}

/* The fence's VkFence has signalled: turn the status word into its result. */
static accel_result complete(vk_fence *f)
{
    uint32_t code = f->status[0];
    /* Codes of shaders/common.glsl. */
    bool limit = code == 3 || code == 4, internal = code == 5 || code > 6;
    accel_result r = code == 0 ? ACCEL_SUCCESS
                     : limit   ? ACCEL_ERROR_UNSUPPORTED
                     : internal ? ACCEL_ERROR_DRIVER_INTERNAL
                                : ACCEL_ERROR_INVALID_ARGUMENT;
    if (code)
        VK_LOG(limit || internal || code == 6 ? ACCEL_LOG_WARN : ACCEL_LOG_DEBUG, "%s: a built-in failed: %s",
               f->q->dev->info.name,
               code == 1   ? "output range too small"
               : code == 2 ? "corrupt input"
               : code == 3 ? "the input needs more dispatches than were recorded"
               : code == 4 ? "a dispatch reached the implementation's loop iteration limit"
               : code == 6 ? "argument state is not a state of this stream form (nor zeros)"
                           : "its own consistency check failed");
    atomic_store(&f->result, r);
    return r;
}

static accel_result lost(vk_device *dev)
{
    if (!atomic_exchange(&dev->lost, true))
        VK_LOG(ACCEL_LOG_ERROR, "%s: device lost", dev->info.name);
    return ACCEL_ERROR_DEVICE_LOST;
}

accel_icd_result vk_fence_status(void *fence)
{
    vk_fence *f = fence;
    int r = atomic_load(&f->result);
    if (r != ACCEL_NOT_READY)
        return r;
    vk_device *dev = f->q->dev;
    if (atomic_load(&dev->lost))
        return ACCEL_ERROR_DEVICE_LOST;
    VkResult vr = vk_fn(dev)->vkGetFenceStatus(dev->device, f->fence);
    if (vr == VK_SUCCESS)
        return complete(f);
    if (vr == VK_NOT_READY)
        return ACCEL_NOT_READY;
    return lost(dev);
}

accel_icd_result vk_fence_wait(void *fence, uint64_t timeout_ns)
{
    vk_fence *f = fence;
    int r = atomic_load(&f->result);
    if (r != ACCEL_NOT_READY)
        return r;
    vk_device *dev = f->q->dev;
    if (atomic_load(&dev->lost))
        return ACCEL_ERROR_DEVICE_LOST;
    VkResult vr = vk_fn(dev)->vkWaitForFences(dev->device, 1, &f->fence, VK_TRUE, timeout_ns);
    if (vr == VK_SUCCESS)
        return complete(f);
    if (vr == VK_TIMEOUT)
        return ACCEL_TIMEOUT;
    return lost(dev);
}

void vk_fence_release(void *fence)
{
    vk_fence *f = fence;
    if (!f)
        return;
    vk_queue *q = f->q;
    pthread_mutex_lock(&q->lock);
    q->live--;
    bool gone = q->destroyed;
    bool last = gone && q->live == 0;
    if (gone) {
        fence_destroy(q, f);
    } else {
        f->next = q->idle;
        q->idle = f;
    }
    pthread_mutex_unlock(&q->lock);
    if (last)
        queue_free(q);
}
