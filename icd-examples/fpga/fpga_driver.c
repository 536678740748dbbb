/* fpga_driver.c — accel driver for FPGA cards with reconfigurable slots
 * (docs/fpga.md).
 *
 * The driver talks to cards only through the card interface (fpga_card.h);
 * the implementation built here is the emulator (fpga_emulator.c). Each
 * card is one device (kind FPGA, interface FPGA) followed by one partition
 * device per slot (flag PARTITION, parent: the card, partition "slot N").
 * Images load into slots only; every device of a card reports the card's
 * memory banks and host memory as its memory nodes, with the same ids.
 *
 * Environment, read once in driver_init with secure_getenv (ignored in
 * setuid and setgid programs):
 *   ACCEL_FPGA_EMULATOR_CONFIG=FILE  the emulated cards (docs/fpga.md);
 *                                    unset or empty: one default card.
 *                                    A file that does not parse fails
 *                                    driver_init with the reason logged.
 *   ACCEL_FPGA_FAULT_AFTER=N         fault injection: the Nth command
 *                                    (from 1, over every slot of every
 *                                    card) and every later one of that card
 *                                    fail with ACCEL_ERROR_DEVICE_LOST.
 *                                    Unset, empty or 0: off.
 */
#include "fpga_internal.h"
#include "fpga_json.h"
#include "accel_icd_negotiate.h"
#include "accel_icd_query.h"
#include "accel_uuid.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const accel_icd_loader_services *fpga__services;
#define LOG FPGA_LOG

const char *fpga__result_name(accel_result r)
{
    switch (r) {
#define FPGA__RESULT_CASE(name, value, text) \
    case ACCEL_##name: return "ACCEL_" #name;
        ACCEL_RESULT_MAP(FPGA__RESULT_CASE)
#undef FPGA__RESULT_CASE
    default: return "an unknown result";
    }
}

/* Spread every input bit over the word (the splitmix64 finalizer): names
 * that differ in one character give unrelated uuids. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Stable across runs: a hash of the card's name and the part (name-based,
 * RFC 4122 version 5 layout). */
static void stable_uuid(const char *card, const char *part, uint8_t out[ACCEL_UUID_SIZE])
{
    const char *parts[] = {"accel-fpga", card, part};
    uint64_t a, b;
    accel_uuid_hash_parts(parts, 3, &a, &b);
    accel_uuid_from_hashes(mix(a), mix(b), out);
}

static uint64_t fault_after_from_env(void)
{
    const char *v = secure_getenv("ACCEL_FPGA_FAULT_AFTER");
    if (!v || !*v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-') {
        LOG(ACCEL_LOG_WARN, "ACCEL_FPGA_FAULT_AFTER=%s is not a number; ignored", v);
        return 0;
    }
    if (n)
        LOG(ACCEL_LOG_WARN, "fault injection: command %llu and later will fail with device lost", n);
    return n;
}

static void free_driver(fpga_driver *drv)
{
    for (uint32_t i = 0; i < drv->card_count; i++) {
        fpga_card_dev *cd = drv->cards[i];
        for (uint32_t s = 0; s < cd->desc->slot_count; s++)
            pthread_mutex_destroy(&cd->slots[s].lock);
        fpga_card_close(cd->card); /* cd->desc is the card's */
        free(cd);
    }
    if (drv->platform)
        fpga_platform_close(drv->platform);
    free(drv);
}

static void describe_card(fpga_driver *drv, fpga_card_dev *cd)
{
    const fpga_card_desc *d = cd->desc;
    accel_icd_device_info *info = &cd->whole.info;
    info->struct_size = sizeof(*info);
    snprintf(info->name, sizeof(info->name), "emulated FPGA card %s (%u slots, %u banks)", d->name, d->slot_count,
             d->bank_count);
    info->kind = ACCEL_DEVICE_KIND_FPGA;
    info->interface = ACCEL_DEVICE_INTERFACE_FPGA;
    stable_uuid(d->name, "card", info->uuid);
    snprintf(info->vendor, sizeof(info->vendor), "accel-loader (emulated)");
    info->numa_node = -1;
    info->flags = ACCEL_DEVICE_FLAG_EMULATED; /* fpga_emulator.c, on the host's CPUs */
    info->max_address_spaces = 0;
    info->available_instances = d->slot_count;
    info->parent_index = -1;
    info->driver_version = ACCEL_MAKE_VERSION(0, 1);
    cd->whole.card = cd;
    cd->whole.slot = NULL;
    uint32_t card_position = drv->device_count;
    drv->devices[drv->device_count++] = &cd->whole;

    for (uint32_t s = 0; s < d->slot_count; s++) {
        fpga_device *sd = &cd->slot_devices[s];
        char part[32];
        snprintf(part, sizeof(part), "slot %u", s);
        sd->info = *info;
        snprintf(sd->info.name, sizeof(sd->info.name), "emulated FPGA card %s, slot %u", d->name, s);
        snprintf(sd->info.partition, sizeof(sd->info.partition), "%s", part);
        stable_uuid(d->name, part, sd->info.uuid);
        sd->info.flags = ACCEL_DEVICE_FLAG_PARTITION | ACCEL_DEVICE_FLAG_EMULATED;
        sd->info.available_instances = 1;
        sd->info.parent_index = (int32_t)card_position;
        sd->card = cd;
        sd->slot_index = s;
        sd->slot = &cd->slots[s];
        pthread_mutex_init(&cd->slots[s].lock, NULL);
        atomic_init(&cd->slots[s].queue_open, false);
        drv->devices[drv->device_count++] = sd;
    }
}

static accel_icd_result fpga_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    fpga_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        LOG(ACCEL_LOG_ERROR, "out of host memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    const char *config = secure_getenv("ACCEL_FPGA_EMULATOR_CONFIG");
    fpga_platform_options o = {.config_path = config && *config ? config : NULL,
                               .fault_after = fault_after_from_env()};
    char error[768] = "";
    accel_result r = fpga_platform_open(&o, &drv->platform, error, sizeof(error));
    if (r) {
        LOG(ACCEL_LOG_ERROR, "ACCEL_FPGA_EMULATOR_CONFIG: %s", error[0] ? error : fpga__result_name(r));
        free(drv);
        return ACCEL_ERROR_INITIALIZATION_FAILED;
    }
    uint32_t n = fpga_platform_card_count(drv->platform);
    for (uint32_t i = 0; i < n && i < FPGA_MAX_CARDS; i++) {
        fpga_card_dev *cd = calloc(1, sizeof(*cd));
        if (!cd || (r = fpga_card_open(drv->platform, i, &cd->card)) != ACCEL_SUCCESS) {
            LOG(ACCEL_LOG_ERROR, "card %u: %s", i, cd ? fpga__result_name(r) : "out of host memory");
            free(cd);
            free_driver(drv);
            return ACCEL_ERROR_INITIALIZATION_FAILED;
        }
        cd->index = i;
        cd->desc = fpga_card_describe(cd->card);
        drv->cards[drv->card_count++] = cd;
        describe_card(drv, cd);
        LOG(ACCEL_LOG_DEBUG, "card %s: %u slots, %u banks%s", cd->desc->name, cd->desc->slot_count,
            cd->desc->bank_count, o.config_path ? " (from ACCEL_FPGA_EMULATOR_CONFIG)" : " (default card)");
    }
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void fpga_fini(void *handle)
{
    if (handle)
        free_driver(handle);
}

static void *device_at(void *handle, uint32_t i)
{
    return ((fpga_driver *)handle)->devices[i];
}

static accel_icd_result fpga_enumerate(void *handle, uint32_t *count, void **devices)
{
    return accel_query_enumerate(handle, ((const fpga_driver *)handle)->device_count, device_at, count,
                                 devices);
}

static uint32_t available_instances(const fpga_device *dev)
{
    if (dev->slot)
        return atomic_load(&dev->slot->queue_open) ? 0 : 1;
    uint32_t free_slots = 0;
    for (uint32_t s = 0; s < dev->card->desc->slot_count; s++)
        free_slots += atomic_load(&dev->card->slots[s].queue_open) ? 0 : 1;
    return free_slots;
}

static accel_icd_result fpga_get_info(void *device, accel_icd_device_info *info)
{
    const fpga_device *dev = device;
    if (!dev || !info)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_icd_device_info out = dev->info;
    out.available_instances = available_instances(dev);
    accel_query_copy_device_info(&out, info);
    return ACCEL_SUCCESS;
}

static accel_icd_result fpga_query(void *device, accel_device_param param, void *value, size_t size,
                                   size_t *size_ret)
{
    const fpga_device *dev = device;
    const fpga_card_desc *card = dev->card->desc;
    uint64_t total = 0, largest = 0;
    switch (param) {
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES:
        return accel_query_put_u32(available_instances(dev), value, size, size_ret);
    case ACCEL_DEVICE_PARAM_RECONFIGURE_NS:
        /* The whole card loads no image: only its slots reconfigure. */
        if (!dev->slot)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u64(card->reconfigure_ns, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_PROGRAM_FORMATS:
        /* Images load into slots; the whole card takes none. */
        return accel_query_put_u32(dev->slot ? 1u << ACCEL_PROGRAM_FORMAT_FPGA_IMAGE : 0, value, size,
                                   size_ret);
    /* The card's memory banks, from its card file; the slots share them.
     * A buffer lives in one bank (fpga_bo_alloc). */
    case ACCEL_DEVICE_PARAM_MEMORY_SIZE:
    case ACCEL_DEVICE_PARAM_MAX_ALLOCATION:
        if (!card->bank_count)
            return ACCEL_ERROR_UNSUPPORTED;
        for (uint32_t b = 0; b < card->bank_count; b++) {
            total += card->banks[b].capacity;
            largest = card->banks[b].capacity > largest ? card->banks[b].capacity : largest;
        }
        return accel_query_put_u64(param == ACCEL_DEVICE_PARAM_MEMORY_SIZE ? total : largest, value, size,
                                   size_ret);
    /* One queue per slot (fpga_queue.c); the whole card has none. */
    case ACCEL_DEVICE_PARAM_MAX_QUEUES: return accel_query_put_u32(dev->slot ? 1 : 0, value, size, size_ret);
    /* What a slot loads: an image description of at most
     * FPGA_JSON_MAX_SIZE bytes, kernels of at most ACCEL_MAX_ARGS arguments
     * (fpga_image.c), ranges at any offset of a buffer. */
    case ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE:
        if (!dev->slot)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u64(FPGA_JSON_MAX_SIZE, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS:
        if (!dev->slot)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u32(ACCEL_MAX_ARGS, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT:
        if (!dev->slot)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u64(1, value, size, size_ret);
    default: return accel_query_device_info(&dev->info, param, value, size, size_ret);
    }
}

static const char *fpga_version(void *handle)
{
    (void)handle;
    return FPGA_DRIVER_VERSION;
}

/* ---- memory nodes ------------------------------------------------------------ */

static void node_info(const fpga_card_dev *cd, uint32_t bank, accel_icd_memory_node_info *out)
{
    accel_icd_memory_node_info n = {.struct_size = sizeof(n), .flags = ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE};
    n.id = fpga__node_id(cd->index, bank);
    if (bank == FPGA_BANK_HOST) {
        snprintf(n.name, sizeof(n.name), "host");
        n.kind = ACCEL_MEMORY_KIND_HOST;
        n.access = ACCEL_ATTACH_PINNED;
        n.bandwidth_mbps = cd->desc->host_bandwidth_mbps;
        n.latency_ns = cd->desc->host_latency_ns;
    } else {
        const fpga_bank_desc *b = &cd->desc->banks[bank];
        snprintf(n.name, sizeof(n.name), "%s", b->name);
        n.kind = ACCEL_MEMORY_KIND_FPGA_BANK;
        n.access = ACCEL_ATTACH_ZERO_COPY;
        n.capacity = b->capacity;
        n.bandwidth_mbps = b->bandwidth_mbps;
        n.latency_ns = b->latency_ns;
    }
    uint32_t keep = out->struct_size;
    size_t len = keep < sizeof(n) ? keep : sizeof(n);
    memcpy(out, &n, len);
    out->struct_size = keep;
}

static accel_icd_result fpga_memory_nodes(void *device, uint32_t *count, accel_icd_memory_node_info *nodes)
{
    const fpga_device *dev = device;
    if (!dev || !count)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    uint32_t total = dev->card->desc->bank_count + 1;
    if (!nodes) {
        *count = total;
        return ACCEL_SUCCESS;
    }
    uint32_t n = *count < total ? *count : total;
    for (uint32_t i = 0; i < n; i++)
        node_info(dev->card, i < total - 1 ? i : FPGA_BANK_HOST, &nodes[i]);
    *count = n;
    return n < total ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

/* The bank of `node_id` on the device's card, or -1. */
static int64_t bank_of_node(const fpga_device *dev, uint64_t node_id)
{
    if (node_id == FPGA_NODE_HOST)
        return FPGA_BANK_HOST;
    for (uint32_t b = 0; b < dev->card->desc->bank_count; b++)
        if (fpga__node_id(dev->card->index, b) == node_id)
            return b;
    return -1;
}

/* ---- memory ---------------------------------------------------------------------- */

fpga_mem *fpga__mem_from_handle(void *handle)
{
    fpga_mem *m = handle;
    return m && m->magic == FPGA_MEM_MAGIC ? m : NULL;
}

static fpga_mem *mem_new(fpga_card_dev *cd, fpga_bo *bo, fpga_mem *owner)
{
    fpga_mem *m = malloc(sizeof(*m));
    if (!m)
        return NULL;
    m->magic = FPGA_MEM_MAGIC;
    atomic_init(&m->refs, 1);
    m->bo = bo;
    m->owner = owner;
    m->card = cd;
    return m;
}

static void mem_unref(fpga_mem *m)
{
    if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
        return;
    if (m->owner)
        mem_unref(m->owner);
    else
        fpga_bo_free(m->bo);
    m->magic = 0;
    free(m);
}

/*
 * Memory this driver allocated (desc->home_memory) on this card: the slot
 * reaches it where it is (ZERO_COPY; PINNED for a host-memory BO). Any other
 * memory is host memory to the card: a user-pointer BO over its pages
 * (PINNED), also for a bank BO of another card, which the host reaches
 * through its mapping.
 */
static accel_icd_result fpga_memory_attach(void *device, const accel_icd_memory_desc *desc, void **driver_memory,
                                           accel_attach_mode *mode)
{
    fpga_device *dev = device;
    if (!dev || !desc || !driver_memory || !mode || desc->struct_size < offsetof(accel_icd_memory_desc, fd))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    fpga_mem *home = NULL;
    if (desc->struct_size >= offsetof(accel_icd_memory_desc, home_node_id) + sizeof(uint64_t))
        home = fpga__mem_from_handle(desc->home_memory);
    if (home && home->owner)
        home = home->owner;
    if (home && home->card == dev->card) {
        fpga_mem *m = mem_new(dev->card, home->bo, home);
        if (!m)
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        atomic_fetch_add(&home->refs, 1);
        *driver_memory = m;
        *mode = fpga_bo_bank(home->bo) == FPGA_BANK_HOST ? ACCEL_ATTACH_PINNED : ACCEL_ATTACH_ZERO_COPY;
        return ACCEL_SUCCESS;
    }
    if (!desc->host_ptr && desc->size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    fpga_bo *bo;
    accel_result r = fpga_bo_import_host(dev->card->card, desc->host_ptr, desc->size, &bo);
    if (r)
        return r;
    fpga_mem *m = mem_new(dev->card, bo, NULL);
    if (!m) {
        fpga_bo_free(bo);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    *driver_memory = m;
    *mode = ACCEL_ATTACH_PINNED;
    return ACCEL_SUCCESS;
}

static void fpga_memory_release(void *device, void *driver_memory)
{
    (void)device;
    mem_unref(fpga__mem_from_handle(driver_memory));
}

static accel_icd_result alloc_bo(fpga_device *dev, uint32_t bank, uint64_t size, fpga_mem **out)
{
    fpga_bo *bo;
    accel_result r = fpga_bo_alloc(dev->card->card, bank, size, &bo);
    if (r) {
        if (r == ACCEL_ERROR_OUT_OF_DEVICE_MEMORY)
            LOG(ACCEL_LOG_INFO, "%s: no room for %llu bytes in %s", dev->card->desc->name, (unsigned long long)size,
                bank == FPGA_BANK_HOST ? "host memory" : dev->card->desc->banks[bank].name);
        return r;
    }
    if (!(*out = mem_new(dev->card, bo, NULL))) {
        fpga_bo_free(bo);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    return ACCEL_SUCCESS;
}

static accel_icd_result fpga_memory_alloc_node(void *device, uint64_t node_id, uint64_t size, void **driver_memory,
                                               void **host_ptr, int *fd)
{
    fpga_device *dev = device;
    if (!dev || !driver_memory)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    int64_t bank = bank_of_node(dev, node_id);
    if (bank < 0) {
        LOG(ACCEL_LOG_ERROR, "memory_alloc_node: node %llu is not a node of %s", (unsigned long long)node_id,
            dev->info.name);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    fpga_mem *m;
    accel_result r = alloc_bo(dev, (uint32_t)bank, size, &m);
    if (r)
        return r;
    *driver_memory = m;
    if (host_ptr)
        *host_ptr = fpga_bo_map(m->bo);
    if (fd)
        *fd = fpga_bo_fd(m->bo);
    return ACCEL_SUCCESS;
}

/* The STAGED mirror of host memory the card could not reach (in practice:
 * none, memory_attach reaches all host memory): the first bank with room. */
static accel_icd_result fpga_memory_alloc_device(void *device, uint64_t size, void **driver_memory)
{
    fpga_device *dev = device;
    if (!dev || !driver_memory)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result r = ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    for (uint32_t b = 0; b < dev->card->desc->bank_count && r == ACCEL_ERROR_OUT_OF_DEVICE_MEMORY; b++)
        r = alloc_bo(dev, b, size, (fpga_mem **)driver_memory);
    return r;
}

static accel_icd_result fpga_memory_write(void *device, void *driver_memory, uint64_t offset, const void *src,
                                          uint64_t size)
{
    (void)device;
    fpga_mem *m = fpga__mem_from_handle(driver_memory);
    if (!m || offset > fpga_bo_size(m->bo) || size > fpga_bo_size(m->bo) - offset || (size && !src))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (size)
        memcpy((char *)fpga_bo_map(m->bo) + offset, src, (size_t)size);
    return fpga_bo_sync(m->bo, FPGA_SYNC_TO_DEVICE, offset, size);
}

static accel_icd_result fpga_memory_read(void *device, void *driver_memory, uint64_t offset, void *dst,
                                         uint64_t size)
{
    (void)device;
    fpga_mem *m = fpga__mem_from_handle(driver_memory);
    if (!m || offset > fpga_bo_size(m->bo) || size > fpga_bo_size(m->bo) - offset || (size && !dst))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result r = fpga_bo_sync(m->bo, FPGA_SYNC_FROM_DEVICE, offset, size);
    if (r == ACCEL_SUCCESS && size)
        memcpy(dst, (const char *)fpga_bo_map(m->bo) + offset, (size_t)size);
    return r;
}

static const accel_icd_table fpga_table = {
    .struct_size = sizeof(accel_icd_table),
    .flags = 0,
    .driver_init = fpga_init,
    .driver_fini = fpga_fini,
    .enumerate_devices = fpga_enumerate,
    .device_get_info = fpga_get_info,
    .device_query = fpga_query,
    .driver_version_string = fpga_version,
    .memory_attach = fpga_memory_attach,
    .memory_detach = fpga_memory_release,
    .memory_alloc_device = fpga_memory_alloc_device,
    .memory_free_device = fpga_memory_release,
    .memory_write = fpga_memory_write,
    .memory_read = fpga_memory_read,
    .program_load = fpga__program_load,
    .program_release = fpga__program_release,
    .function_get = fpga__function_get,
    .function_release = fpga__function_release,
    .queue_create = fpga__queue_create,
    .queue_destroy = fpga__queue_destroy,
    .queue_submit = fpga__queue_submit,
    .fence_status = fpga__fence_status,
    .fence_wait = fpga__fence_wait,
    .fence_release = fpga__fence_release,
    .device_memory_nodes = fpga_memory_nodes,
    .memory_alloc_node = fpga_memory_alloc_node,
    .function_estimate = fpga__function_estimate,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    return accel_icd_negotiate_answer(n, &fpga_table, &fpga__services);
}
