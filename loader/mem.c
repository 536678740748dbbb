/* mem.c — memory objects: allocation (memfd), host and fd import, host
 * mapping, and attachment to devices with the mode each device achieves. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "loader.h"

/* Mappings are page-granular; fd offsets need not be. */
static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

const char *accel_attach_mode_string(accel_attach_mode mode)
{
    switch (mode) {
    case ACCEL_ATTACH_ZERO_COPY: return "zero-copy";
    case ACCEL_ATTACH_PINNED: return "pinned";
    case ACCEL_ATTACH_STAGED: return "staged";
    default: return "none";
    }
}

static accel_result new_memory(accel_instance *inst, accel_memory **out)
{
    accel_memory *m = accel__calloc(1, sizeof(*m));
    if (!m)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_memory: out of host memory");
    m->instance = inst;
    m->fd = -1;
    m->numa_node = -1;
    pthread_mutex_init(&m->lock, NULL);
    if (accel__handle_add(m, ACCEL__HANDLE_MEMORY)) {
        pthread_mutex_destroy(&m->lock);
        accel__free(m);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_memory: out of host memory");
    }
    *out = m;
    return ACCEL_SUCCESS;
}

static void link_memory(accel_memory *m)
{
    accel_instance *inst = m->instance;
    pthread_mutex_lock(&inst->objects_lock);
    m->next = inst->memories;
    if (inst->memories)
        inst->memories->prev = m;
    inst->memories = m;
    pthread_mutex_unlock(&inst->objects_lock);
}

/* Map [offset, offset + size) of fd shared; fills host_ptr and the mapping. */
static int map_fd(accel_memory *m, int fd, uint64_t offset, uint64_t size)
{
    size_t page = page_size();
    uint64_t base = offset - offset % page;
    size_t length = (size_t)(offset - base + size);
    void *p = mmap(NULL, length ? length : page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    if (p == MAP_FAILED)
        return errno;
    m->map_base = p;
    m->map_length = length ? length : page;
    m->host_ptr = (char *)p + (offset - base);
    return 0;
}

/* Memory on a device's node (an FPGA bank, VRAM): the driver allocates it
 * and owns the host mapping. */
static accel_result alloc_on_device_node(accel_instance *inst, const accel_memory_alloc_info *info,
                                         const accel_memory_node *node, accel_memory **out)
{
    accel_device *owner = node->device;
    const accel_icd_table *t = accel__table(owner);
    const char *driver = owner->driver->manifest->data.driver_name;
    if (!ACCEL__HAS_ENTRY(t, memory_alloc_node) || !ACCEL__HAS_ENTRY(t, memory_free_device))
        return accel__error(ACCEL_ERROR_UNSUPPORTED, "accel_memory_alloc: driver %s cannot allocate on %s", driver,
                            node->name);
    accel_memory *m = NULL;
    accel_result r = new_memory(inst, &m);
    if (r)
        return r;
    m->size = info->size;
    m->node = (accel_memory_node *)node;
    void *host = NULL;
    int fd = -1;
    r = t->memory_alloc_node(owner->icd_device, node->driver_node_id, info->size, &m->node_memory, &host, &fd);
    if (r != ACCEL_SUCCESS) {
        accel_memory_free(m);
        return accel__error(r, "accel_memory_alloc: %llu bytes on %s (driver %s): %s", (unsigned long long)info->size,
                            node->name, driver, accel_result_string(r));
    }
    m->host_ptr = host;
    if (fd >= 0)
        m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    link_memory(m);
    *out = m;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_alloc(accel_instance *inst, const accel_memory_alloc_info *info, accel_memory **out)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_memory_alloc", ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !info || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_alloc: %s is NULL",
                            !inst ? "instance" : !info ? "info" : "memory");
    if (info->struct_size < offsetof(accel_memory_alloc_info, numa_node) + sizeof(int32_t))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_alloc: info->struct_size %u is too small",
                            info->struct_size);
    if (info->flags & ~ACCEL_MEMORY_ALLOC_NUMA_NODE)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_alloc: unknown flags 0x%x",
                            info->flags & ~ACCEL_MEMORY_ALLOC_NUMA_NODE);
    /* The requested host node: with the flag numa_node, else a positive
     * numa_node (callers written before the flag); 0 and -1 without it
     * mean "no preference", so that a zero-initialised struct asks for
     * nothing. */
    int32_t want_node = -1;
    if (info->flags & ACCEL_MEMORY_ALLOC_NUMA_NODE) {
        if (info->numa_node < 0)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_memory_alloc: ACCEL_MEMORY_ALLOC_NUMA_NODE with numa_node %d", info->numa_node);
        want_node = info->numa_node;
    } else if (info->numa_node > 0) {
        want_node = info->numa_node;
    } else if (info->numa_node < -1) {
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_alloc: numa_node %d is not a node",
                            info->numa_node);
    }
    if (want_node >= 0 && !accel__host_node(inst, want_node))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_memory_alloc: NUMA node %d does not exist on this machine", want_node);
    if (info->size == 0 || info->size > (uint64_t)SIZE_MAX / 2)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_alloc: size %llu is not allocatable",
                            (unsigned long long)info->size);
    const accel_memory_node *node =
        info->struct_size >= offsetof(accel_memory_alloc_info, node) + sizeof(info->node) ? info->node : NULL;
    if (node && node->instance != inst)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_memory_alloc: the memory node belongs to another instance");
    if (node && node->device)
        return alloc_on_device_node(inst, info, node, out);
    accel_memory *m = NULL;
    accel_result r = new_memory(inst, &m);
    if (r)
        return r;
    m->size = info->size;
    if (node) {
        m->node = (accel_memory_node *)node;
        m->numa_node = node->numa_node;
    } else
    m->numa_node = want_node >= 0        ? want_node
                   : info->near_device ? info->near_device->info->numa_node
                                       : -1;
    /* A driver may name a node this machine does not have: near it is
     * then no preference, as for a device without one. */
    if (m->numa_node >= 0 && want_node < 0 && !accel__host_node(inst, m->numa_node))
        m->numa_node = -1;
    /* memfd: the pages can be exported and imported by other drivers and
     * processes; they are zero-filled by the kernel. */
    m->fd = memfd_create("accel-memory", MFD_CLOEXEC);
    int err = m->fd < 0 ? errno : 0;
    if (!err && ftruncate(m->fd, (off_t)info->size) != 0)
        err = errno;
    if (!err)
        err = map_fd(m, m->fd, 0, info->size);
    if (err) {
        r = accel__error(err == ENOMEM ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_IO,
                         "accel_memory_alloc: %llu bytes: %s", (unsigned long long)info->size, strerror(err));
        accel_memory_free(m);
        return r;
    }
    /* Placement on the home node is best effort (mbind is not in libc):
     * first touch by the application decides where the pages go. */
    link_memory(m);
    *out = m;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_import_host(accel_instance *inst, void *ptr, uint64_t size, uint32_t flags,
                                      accel_memory **out)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_memory_import_host", ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !ptr || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_import_host: %s is NULL",
                            !inst ? "instance" : !ptr ? "ptr" : "memory");
    if (flags)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_import_host: unknown flags 0x%x", flags);
    if (size == 0)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_import_host: size is 0");
    accel_memory *m = NULL;
    accel_result r = new_memory(inst, &m);
    if (r)
        return r;
    m->host_ptr = ptr;
    m->size = size;
    link_memory(m);
    *out = m;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_import_fd(accel_instance *inst, int fd, uint64_t offset, uint64_t size, uint32_t flags,
                                    accel_memory **out)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_memory_import_fd", ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_import_fd: %s is NULL",
                            !inst ? "instance" : "memory");
    if (fd < 0 || flags || size == 0)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_import_fd: %s",
                            fd < 0 ? "fd is negative" : flags ? "unknown flags" : "size is 0");
    accel_memory *m = NULL;
    accel_result r = new_memory(inst, &m);
    if (r)
        return r;
    m->size = size;
    m->fd_offset = offset;
    m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    int err = m->fd < 0 ? errno : map_fd(m, m->fd, offset, size);
    if (err) {
        r = accel__error(err == ENOMEM ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_INVALID_ARGUMENT,
                         "accel_memory_import_fd: fd %d, offset %llu, size %llu: %s", fd,
                         (unsigned long long)offset, (unsigned long long)size, strerror(err));
        accel_memory_free(m);
        return r;
    }
    link_memory(m);
    *out = m;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_export_fd(const accel_memory *m, int *fd, uint64_t *offset)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_export_fd", ACCEL_ERROR_INVALID_HANDLE);
    if (!m || !fd)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_export_fd: %s is NULL", m ? "fd" : "memory");
    if (m->fd < 0)
        return accel__error(ACCEL_ERROR_UNSUPPORTED,
                            "accel_memory_export_fd: imported host memory has no file descriptor");
    int d = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return accel__error(ACCEL_ERROR_IO, "accel_memory_export_fd: %s", strerror(errno));
    *fd = d;
    if (offset)
        *offset = m->fd_offset;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_map(const accel_memory *m, void **ptr)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_map", ACCEL_ERROR_INVALID_HANDLE);
    if (!m || !ptr)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_map: %s is NULL", m ? "ptr" : "memory");
    if (!m->host_ptr)
        return accel__error(ACCEL_ERROR_UNSUPPORTED, "accel_memory_map: %s is not visible to the host",
                            m->node ? m->node->name : "the memory");
    *ptr = m->host_ptr;
    return ACCEL_SUCCESS;
}

uint64_t accel_memory_size(const accel_memory *m)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_size", 0);
    return m ? m->size : 0;
}

accel__attachment *accel__find_attachment(accel_memory *m, const accel_device *dev)
{
    for (size_t i = 0; i < m->attachment_count; i++)
        if (m->attachments[i].device == dev)
            return &m->attachments[i];
    return NULL;
}

/* Attach through the driver, or build a STAGED mirror. */
static accel_result attach(accel_memory *m, accel_device *dev, accel__attachment *a)
{
    const accel_icd_table *t = accel__table(dev);
    const char *driver = dev->driver->manifest->data.driver_name;
    accel_icd_memory_desc desc = {
        .struct_size = sizeof(desc),
        .host_ptr = m->host_ptr,
        .size = m->size,
        .fd = m->fd,
        .fd_offset = m->fd_offset,
        .numa_node = m->numa_node,
    };
    if (m->node_memory && m->node->device->driver == dev->driver) {
        desc.home_memory = m->node_memory;
        desc.home_node_id = m->node->driver_node_id;
    } else if (!m->host_ptr) {
        return accel__error(ACCEL_ERROR_UNSUPPORTED,
                            "accel_memory_attach: %s is not visible to the host and %s cannot reach it", m->node->name,
                            driver);
    }
    a->device = dev;
    a->mode = ACCEL_ATTACH_NONE;
    accel_result r = ACCEL_ERROR_UNSUPPORTED;
    if (ACCEL__HAS_ENTRY(t, memory_attach))
        r = t->memory_attach(dev->icd_device, &desc, &a->driver_memory, &a->mode);
    if (r == ACCEL_SUCCESS) {
        if (a->mode != ACCEL_ATTACH_ZERO_COPY && a->mode != ACCEL_ATTACH_PINNED) {
            if (ACCEL__HAS_ENTRY(t, memory_detach))
                t->memory_detach(dev->icd_device, a->driver_memory);
            return accel__error(ACCEL_ERROR_DRIVER_INTERNAL, "accel_memory_attach: driver %s reported mode %d",
                                driver, (int)a->mode);
        }
        return ACCEL_SUCCESS;
    }
    if (r != ACCEL_ERROR_UNSUPPORTED)
        return accel__error(r, "accel_memory_attach: driver %s: %s", driver, accel_result_string(r));
    if (!m->host_ptr)
        return accel__error(ACCEL_ERROR_UNSUPPORTED,
                            "accel_memory_attach: %s is not visible to the host and driver %s cannot reach it in place",
                            m->node->name, driver);
    if (!ACCEL__HAS_ENTRY(t, memory_alloc_device) || !ACCEL__HAS_ENTRY(t, memory_free_device) ||
        !ACCEL__HAS_ENTRY(t, memory_write) || !ACCEL__HAS_ENTRY(t, memory_read))
        return accel__error(ACCEL_ERROR_UNSUPPORTED,
                            "accel_memory_attach: driver %s can neither reach host memory nor allocate device memory",
                            driver);
    r = t->memory_alloc_device(dev->icd_device, m->size, &a->driver_memory);
    if (r)
        return accel__error(r, "accel_memory_attach: driver %s: cannot allocate a %llu-byte mirror: %s", driver,
                            (unsigned long long)m->size, accel_result_string(r));
    a->mode = ACCEL_ATTACH_STAGED;
    return ACCEL_SUCCESS;
}

accel_result accel_memory_attach(accel_memory *m, accel_device *dev, accel_attach_mode *mode)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_attach", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__DEVICE_USE(dev, "accel_memory_attach", ACCEL_ERROR_INVALID_HANDLE);
    if (!m || !dev)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_attach: %s is NULL", m ? "device" : "memory");
    if (dev->instance != m->instance)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_memory_attach: the device and the memory belong to different instances");
    accel_result r = ACCEL_SUCCESS;
    pthread_mutex_lock(&m->lock);
    accel__attachment *a = accel__find_attachment(m, dev);
    if (!a) {
        if (accel__grow((void **)&m->attachments, &m->attachment_capacity, m->attachment_count + 1,
                        sizeof(*m->attachments))) {
            r = accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_memory_attach: out of host memory");
            goto out;
        }
        accel__attachment fresh;
        if ((r = attach(m, dev, &fresh)))
            goto out;
        m->attachments[m->attachment_count++] = fresh;
        a = &m->attachments[m->attachment_count - 1];
        accel__log(&m->instance->logger, ACCEL_LOG_DEBUG, "memory %p (%llu bytes) attached to %s:%u %s", (void *)m,
                   (unsigned long long)m->size, dev->driver->manifest->data.driver_name, dev->driver_index,
                   accel_attach_mode_string(fresh.mode));
    }
    if (mode)
        *mode = a->mode;
out:
    pthread_mutex_unlock(&m->lock);
    return r;
}

static void release_attachment(accel__attachment *a)
{
    const accel_icd_table *t = accel__table(a->device);
    if (a->mode == ACCEL_ATTACH_STAGED)
        t->memory_free_device(a->device->icd_device, a->driver_memory);
    else if (ACCEL__HAS_ENTRY(t, memory_detach))
        t->memory_detach(a->device->icd_device, a->driver_memory);
}

accel_result accel_memory_detach(accel_memory *m, accel_device *dev)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_detach", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__DEVICE_USE(dev, "accel_memory_detach", ACCEL_ERROR_INVALID_HANDLE);
    if (!m || !dev)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_detach: %s is NULL", m ? "device" : "memory");
    pthread_mutex_lock(&m->lock);
    accel__attachment *a = accel__find_attachment(m, dev);
    if (!a) {
        pthread_mutex_unlock(&m->lock);
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_memory_detach: the memory is not attached to %s:%u",
                            dev->driver->manifest->data.driver_name, dev->driver_index);
    }
    accel__attachment copy = *a;
    *a = m->attachments[--m->attachment_count];
    pthread_mutex_unlock(&m->lock);
    /* Work still queued on the device may use the memory. */
    accel__queues_finish_device(m->instance, dev);
    release_attachment(&copy);
    return ACCEL_SUCCESS;
}

static void free_memory(accel_memory *m, bool unlink)
{
    ACCEL__HANDLE_RETIRE(m, ACCEL__HANDLE_MEMORY);
    if (unlink) {
        accel_instance *inst = m->instance;
        pthread_mutex_lock(&inst->objects_lock);
        if (m->prev)
            m->prev->next = m->next;
        else if (inst->memories == m)
            inst->memories = m->next;
        if (m->next)
            m->next->prev = m->prev;
        pthread_mutex_unlock(&inst->objects_lock);
    }
    for (size_t i = 0; i < m->attachment_count; i++) {
        accel__queues_finish_device(m->instance, m->attachments[i].device);
        release_attachment(&m->attachments[i]);
    }
    if (m->node_memory) {
        accel_device *owner = m->node->device;
        accel__table(owner)->memory_free_device(owner->icd_device, m->node_memory);
    }
    if (m->map_base)
        munmap(m->map_base, m->map_length);
    if (m->fd >= 0)
        close(m->fd);
    pthread_mutex_destroy(&m->lock);
    accel__free(m->attachments);
    accel__free(m);
}

accel_result accel_memory_free(accel_memory *m)
{
    ACCEL__HANDLE_DESTROY(m, ACCEL__HANDLE_MEMORY, "accel_memory_free", ACCEL_ERROR_INVALID_HANDLE);
    if (m)
        free_memory(m, m->prev || m->next || m->instance->memories == m);
    return ACCEL_SUCCESS;
}

void accel__memory_free_all(accel_instance *inst)
{
    while (inst->memories) {
        accel_memory *m = inst->memories;
        inst->memories = m->next;
        free_memory(m, false);
    }
}
