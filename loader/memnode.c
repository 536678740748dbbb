/* memnode.c — memory nodes: the host's NUMA nodes (from sysfs) and the
 * memories drivers report for their devices (device_memory_nodes). Built
 * on first use, never on the plain enumeration path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "os.h"
#include "loader.h"

/* Root of the NUMA node directory; tests do not redirect it. */
#define NODE_SYSFS "/sys/devices/system/node"

/* Grow *array to hold n elements (exact size: these arrays are small). */
static int grow_to(void **array, size_t n, size_t elem)
{
    void *p = accel__realloc(*array, n * elem);
    if (!p)
        return -1;
    *array = p;
    return 0;
}

static accel_memory_node *new_node(accel_instance *inst, const char *name, accel_memory_kind kind)
{
    if (grow_to((void **)&inst->memory_nodes, inst->memory_node_count + 1, sizeof(*inst->memory_nodes)))
        return NULL;
    accel_memory_node *n = accel__calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->name = accel__strdup(name);
    if (!n->name) {
        accel__free(n);
        return NULL;
    }
    n->instance = inst;
    n->kind = kind;
    n->numa_node = -1;
    inst->memory_nodes[inst->memory_node_count++] = n;
    return n;
}

/* sysfs attributes are small regular files; read without blocking, bounded. */
#define SYSFS_ATTR_MAX 65536

static uint64_t node_capacity(int node)
{
    char path[96], *data = NULL;
    size_t size = 0;
    snprintf(path, sizeof(path), NODE_SYSFS "/node%d/meminfo", node);
    if (accel__read_file(path, SYSFS_ATTR_MAX, &data, &size) != 0)
        return 0;
    uint64_t kb = 0;
    const char *p = strstr(data, "MemTotal:");
    if (p)
        kb = strtoull(p + 9, NULL, 10);
    accel__free(data);
    return kb * 1024;
}

/* Host nodes from NODE_SYSFS/online ("0-1,3"); one node 0 without it. */
static accel_result host_nodes(accel_instance *inst)
{
    char list[512] = "", *data = NULL;
    size_t size = 0;
    if (accel__read_file(NODE_SYSFS "/online", SYSFS_ATTR_MAX, &data, &size) == 0) {
        snprintf(list, sizeof(list), "%s", data);
        accel__free(data);
    }
    const char *p = list;
    bool any = false;
    while (*p && *p != '\n') {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p || a < 0)
            break;
        long b = a;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p || b < a)
                break;
        }
        for (long n = a; n <= b && n < 4096; n++) {
            char name[32];
            snprintf(name, sizeof(name), "node%ld", n);
            accel_memory_node *mn = new_node(inst, name, ACCEL_MEMORY_KIND_DRAM);
            if (!mn)
                return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            mn->numa_node = (int32_t)n;
            mn->capacity = node_capacity((int)n);
            mn->host_visible = true;
            any = true;
        }
        p = *end == ',' ? end + 1 : end;
    }
    if (!any) {
        accel_memory_node *mn = new_node(inst, "node0", ACCEL_MEMORY_KIND_DRAM);
        if (!mn)
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        mn->numa_node = 0;
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        mn->capacity = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
        mn->host_visible = true;
    }
    return ACCEL_SUCCESS;
}

static accel_result add_device_node(accel_device *d, const accel__device_memory *m)
{
    for (uint32_t i = 0; i < d->mem_count; i++)
        if (d->mems[i].node == m->node)
            return ACCEL_SUCCESS;
    if (grow_to((void **)&d->mems, d->mem_count + 1, sizeof(*d->mems)))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    d->mems[d->mem_count++] = *m;
    return ACCEL_SUCCESS;
}

/* Every host node, reached as `m` says. */
static accel_result add_host_nodes(accel_instance *inst, size_t host_count, accel_device *d,
                                   accel__device_memory m)
{
    for (size_t h = 0; h < host_count; h++) {
        m.node = inst->memory_nodes[h];
        accel_result r = add_device_node(d, &m);
        if (r)
            return r;
    }
    return ACCEL_SUCCESS;
}

/* The nodes one device reports, or the loader's assumption for drivers
 * without device_memory_nodes: CPUs and SVA devices reach host memory in
 * place, devices that attach host memory do so through their IOMMU. */
static accel_result device_nodes(accel_instance *inst, size_t host_count, accel_device *d)
{
    const accel_icd_table *t = accel__table(d);
    const char *driver = d->driver->manifest->data.driver_name;
    if (!ACCEL__HAS_ENTRY(t, device_memory_nodes)) {
        accel__device_memory assumed = {.assumed = true};
        if (d->info->kind == ACCEL_DEVICE_KIND_CPU || (d->info->flags & ACCEL_DEVICE_FLAG_SVA))
            assumed.mode = ACCEL_ATTACH_ZERO_COPY;
        else if (ACCEL__HAS_ENTRY(t, memory_attach))
            assumed.mode = ACCEL_ATTACH_PINNED;
        else
            return ACCEL_SUCCESS;
        return add_host_nodes(inst, host_count, d, assumed);
    }
    uint32_t count = 0;
    accel_result r = t->device_memory_nodes(d->icd_device, &count, NULL);
    if (r != ACCEL_SUCCESS) {
        accel__log(&inst->logger, ACCEL_LOG_WARN, "driver %s: device %u: device_memory_nodes failed: %s", driver,
                   d->driver_index, accel_result_string(r));
        return ACCEL_SUCCESS;
    }
    if (count == 0)
        return ACCEL_SUCCESS;
    if (count > 1024) {
        accel__log(&inst->logger, ACCEL_LOG_WARN, "driver %s: device %u reports %u memory nodes; ignored", driver,
                   d->driver_index, count);
        return ACCEL_SUCCESS;
    }
    accel_icd_memory_node_info *infos = accel__calloc(count, sizeof(*infos));
    if (!infos)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    for (uint32_t i = 0; i < count; i++)
        infos[i].struct_size = sizeof(infos[i]);
    uint32_t allocated = count;
    r = t->device_memory_nodes(d->icd_device, &count, infos);
    if (count > allocated) /* never read past what was allocated */
        count = allocated;
    if (r != ACCEL_SUCCESS && r != ACCEL_INCOMPLETE) {
        accel__free(infos);
        accel__log(&inst->logger, ACCEL_LOG_WARN, "driver %s: device %u: device_memory_nodes failed: %s", driver,
                   d->driver_index, accel_result_string(r));
        return ACCEL_SUCCESS;
    }
    /* Memories shared by partitions belong to the whole device: the
     * drivers' devices come parent first, so a shared node is already
     * there (found by id) when a partition reports it; a node that only a
     * partition reports is that partition's. */
    accel_device *owner = d;
    r = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < count && r == ACCEL_SUCCESS; i++) {
        const accel_icd_memory_node_info *in = &infos[i];
        accel__device_memory m = {
            .mode = in->access == ACCEL_ATTACH_PINNED ? ACCEL_ATTACH_PINNED : ACCEL_ATTACH_ZERO_COPY,
            .id = in->id,
            .bandwidth_mbps = in->bandwidth_mbps,
            .latency_ns = in->latency_ns,
        };
        if (in->kind == ACCEL_MEMORY_KIND_HOST) {
            r = add_host_nodes(inst, host_count, d, m);
            continue;
        }
        accel_memory_node *n = NULL;
        for (size_t k = host_count; k < inst->memory_node_count; k++) {
            accel_memory_node *c = inst->memory_nodes[k];
            if (c->device && c->device->driver == d->driver && c->driver_node_id == in->id) {
                n = c;
                break;
            }
        }
        if (!n) {
            char name[sizeof(in->name) + 64];
            snprintf(name, sizeof(name), "%s:%u:%.*s", driver, owner->driver_index, (int)sizeof(in->name),
                     in->name);
            n = new_node(inst, name, in->kind);
            if (!n) {
                r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
                break;
            }
            n->capacity = in->capacity;
            n->device = owner;
            n->driver_node_id = in->id;
            n->host_visible = (in->flags & ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE) != 0;
        }
        m.node = n;
        r = add_device_node(d, &m);
    }
    accel__free(infos);
    return r;
}

static void clear_nodes(accel_instance *inst);

accel_result accel__memory_nodes_build(accel_instance *inst)
{
    pthread_mutex_lock(&inst->nodes_lock);
    accel_result r = ACCEL_SUCCESS;
    if (inst->nodes_built)
        goto out;
    if ((r = host_nodes(inst)))
        goto fail;
    size_t host_count = inst->memory_node_count;
    /* Parents before their partitions, so that owners exist first: the
     * whole devices come first in each driver's order anyway. */
    for (size_t i = 0; i < inst->all_device_count; i++)
        if ((r = device_nodes(inst, host_count, &inst->all_devices[i])))
            goto fail;
    inst->nodes_built = true;
    goto out;
fail:
    /* Nothing half built stays: the next call starts again. */
    clear_nodes(inst);
    r = accel__error(r, "memory nodes: %s", accel_result_string(r));
out:
    pthread_mutex_unlock(&inst->nodes_lock);
    return r;
}

static void clear_nodes(accel_instance *inst)
{
    for (size_t i = 0; i < inst->all_device_count; i++) {
        accel_device *d = &inst->all_devices[i];
        accel__free(d->mems);
        d->mems = NULL;
        d->mem_count = 0;
    }
    for (size_t i = 0; i < inst->memory_node_count; i++) {
        accel__free(inst->memory_nodes[i]->name);
        accel__free(inst->memory_nodes[i]);
    }
    accel__free(inst->memory_nodes);
    inst->memory_nodes = NULL;
    inst->memory_node_count = 0;
    inst->nodes_built = false;
}

void accel__memory_nodes_free(accel_instance *inst)
{
    clear_nodes(inst);
    pthread_mutex_destroy(&inst->nodes_lock);
}

accel_memory_node *accel__host_node(accel_instance *inst, int32_t numa_node)
{
    if (numa_node < 0 || accel__memory_nodes_build(inst))
        return NULL;
    for (size_t i = 0; i < inst->memory_node_count; i++)
        if (!inst->memory_nodes[i]->device && inst->memory_nodes[i]->numa_node == numa_node)
            return inst->memory_nodes[i];
    return NULL;
}

/* Only nodes of selected devices (and host nodes) are listed. */
static bool node_listed(const accel_memory_node *n)
{
    if (!n->device)
        return true;
    const accel_instance *inst = n->instance;
    for (size_t i = 0; i < inst->all_device_count; i++) {
        const accel_device *d = &inst->all_devices[i];
        if (d->index == UINT32_MAX)
            continue;
        for (uint32_t k = 0; k < d->mem_count; k++)
            if (d->mems[k].node == n)
                return true;
    }
    return false;
}

accel_result accel_enumerate_memory_nodes(accel_instance *inst, uint32_t *count, accel_memory_node **nodes)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_enumerate_memory_nodes",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_enumerate_memory_nodes: %s is NULL",
                            inst ? "count" : "instance");
    accel_result r = accel__memory_nodes_build(inst);
    if (r)
        return r;
    uint32_t n = 0, cap = *count;
    for (size_t i = 0; i < inst->memory_node_count; i++) {
        if (!node_listed(inst->memory_nodes[i]))
            continue;
        if (nodes && n < cap)
            nodes[n] = inst->memory_nodes[i];
        n++;
    }
    if (!nodes) {
        *count = n;
        return ACCEL_SUCCESS;
    }
    *count = n < cap ? n : cap;
    return n > cap ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

/* The selected device that stands for a device node: its owner, or the
 * first selected device (a partition) that reaches it. */
static accel_device *node_device(const accel_memory_node *n)
{
    if (!n->device || n->device->index != UINT32_MAX)
        return n->device;
    const accel_instance *inst = n->instance;
    for (size_t i = 0; i < inst->device_count; i++) {
        accel_device *d = inst->devices[i];
        for (uint32_t k = 0; k < d->mem_count; k++)
            if (d->mems[k].node == n)
                return d;
    }
    return NULL;
}

accel_result accel_memory_node_get_info(const accel_memory_node *n, accel_memory_node_info *info)
{
    accel_result r = accel__check_info_args("accel_memory_node_get_info", "memory node", n, info);
    if (r)
        return r;
    /* The position among the listed nodes. */
    uint32_t index = 0;
    for (size_t i = 0; i < n->instance->memory_node_count && n->instance->memory_nodes[i] != n; i++)
        index += node_listed(n->instance->memory_nodes[i]);
    accel_memory_node_info full = {
        .struct_size = sizeof(full),
        .index = index,
        .name = n->name,
        .kind = n->kind,
        .capacity = n->capacity,
        .numa_node = n->numa_node,
        .device = node_device(n),
        .host_visible = n->host_visible,
    };
    accel__copy_out(info, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_device_get_memory_nodes(accel_device *d, uint32_t *count, accel_memory_node **nodes,
                                           accel_attach_mode *modes)
{
    ACCEL__DEVICE_USE(d, "accel_device_get_memory_nodes", ACCEL_ERROR_INVALID_HANDLE);
    if (!d || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_device_get_memory_nodes: %s is NULL",
                            d ? "count" : "device");
    accel_result r = accel__memory_nodes_build(d->instance);
    if (r)
        return r;
    if (!nodes) {
        *count = d->mem_count;
        return ACCEL_SUCCESS;
    }
    uint32_t n = *count < d->mem_count ? *count : d->mem_count;
    for (uint32_t i = 0; i < n; i++) {
        nodes[i] = d->mems[i].node;
        if (modes)
            modes[i] = d->mems[i].mode;
    }
    *count = n;
    return n < d->mem_count ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

accel_memory_node *accel_memory_get_node(const accel_memory *m)
{
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_memory_get_node", NULL);
    if (!m)
        return NULL;
    if (m->node)
        return m->node;
    return accel__host_node(m->instance, m->numa_node);
}

accel_result accel__function_resolve_nodes(accel_function *f, const accel_icd_function_info *info)
{
    bool any = false;
    for (uint32_t i = 0; i < f->arg_count; i++)
        if (info->arg_node_wired[i] && f->arg_kinds[i] == ACCEL_ARG_MEMORY)
            any = true;
    if (!any)
        return ACCEL_SUCCESS;
    accel_device *d = f->device;
    accel_result r = accel__memory_nodes_build(d->instance);
    if (r)
        return r;
    for (uint32_t i = 0; i < f->arg_count; i++) {
        if (!info->arg_node_wired[i] || f->arg_kinds[i] != ACCEL_ARG_MEMORY)
            continue;
        /* A port wired to one of the device's memories, or to the host
         * memory it reaches (any host node will do there). An id the
         * device never reported is the driver's error. */
        const accel__device_memory *m = NULL;
        for (uint32_t k = 0; k < d->mem_count && !m; k++)
            if (!d->mems[k].assumed && d->mems[k].id == info->arg_node_id[i])
                m = &d->mems[k];
        if (!m)
            return accel__error(ACCEL_ERROR_DRIVER_INTERNAL,
                                "accel_function_get: driver %s wired argument %u of %s to memory node id %llu, "
                                "which the device does not report",
                                d->driver->manifest->data.driver_name, i, f->name,
                                (unsigned long long)info->arg_node_id[i]);
        if (m->node->device) {
            f->arg_nodes[i] = m->node;
        } else {
            f->arg_host_wired[i] = true;
            f->arg_host_id[i] = m->id;
        }
    }
    return ACCEL_SUCCESS;
}

accel_result accel_function_arg_node(const accel_function *f, uint32_t arg, accel_memory_node **node)
{
    ACCEL__HANDLE_USE(f, ACCEL__HANDLE_FUNCTION, "accel_function_arg_node", ACCEL_ERROR_INVALID_HANDLE);
    if (!f || !node)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_arg_node: %s is NULL",
                            f ? "node" : "function");
    if (arg >= f->arg_count || f->arg_kinds[arg] != ACCEL_ARG_MEMORY)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_arg_node: %s has no memory argument %u",
                            f->name, arg);
    *node = f->arg_nodes[arg];
    return ACCEL_SUCCESS;
}

accel_result accel_function_arg_mode(const accel_function *f, uint32_t arg, const accel_memory *m,
                                     accel_attach_mode *mode)
{
    ACCEL__HANDLE_USE(f, ACCEL__HANDLE_FUNCTION, "accel_function_arg_mode", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(m, ACCEL__HANDLE_MEMORY, "accel_function_arg_mode", ACCEL_ERROR_INVALID_HANDLE);
    if (!f || !m || !mode)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_arg_mode: %s is NULL",
                            !f ? "function" : !m ? "memory" : "mode");
    if (arg >= f->arg_count || f->arg_kinds[arg] != ACCEL_ARG_MEMORY)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_arg_mode: %s has no memory argument %u",
                            f->name, arg);
    accel_memory *mm = (accel_memory *)m;
    pthread_mutex_lock(&mm->lock);
    accel__attachment *a = accel__find_attachment(mm, f->device);
    accel_attach_mode am = a ? a->mode : ACCEL_ATTACH_NONE;
    pthread_mutex_unlock(&mm->lock);
    if (!a)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_arg_mode: the memory is not attached to %s:%u",
                            f->device->driver->manifest->data.driver_name, f->device->driver_index);
    *mode = accel__arg_needs_copy(f, arg, m) ? ACCEL_ATTACH_STAGED : am;
    return ACCEL_SUCCESS;
}
