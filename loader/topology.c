/*
 * topology.c — the topology graph: CPU sets, memory nodes and devices with
 * the links between them (see topology.h, accel.h and docs/topology.md).
 *
 * A topology is built in one go by accel_topology_create and never changes
 * afterwards, so readers need no lock. The build reads, in this order:
 *   1. the host (hwloc: this machine, or a recorded hwloc XML file): CPU
 *      sets, memory nodes, CPU set -> memory links;
 *   2. the instance's devices, their memories and functions;
 *   3. simulated devices (a JSON file);
 *   4. device <-> device links where devices share a memory;
 *   5. the calibration cache (measured function costs);
 *   6. the user file (link values and function costs that win over all).
 * Where nothing better is known a value is an estimate (ACCEL_SOURCE_ESTIMATE)
 * from the tables below, documented in docs/topology.md.
 *
 * The JSON inputs (3, 5 and 6) are parsed in topology_json.c, and the
 * graph is written out as DOT or JSON by topology_export.c; what the three
 * files share is in topology_internal.h.
 */
#include "topology_internal.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "os.h"
#include "util.h"

#define XML_FILE_MAX   TOPOLOGY_XML_BYTES_MAX /* recorded hwloc topologies */
#define ESTIMATE_BYTES (1u << 20)  /* the input size a driver's function estimate is asked for */

/* ------------------------------------------------------------------------ */
/* Estimates                                                                  */

/* A CPU set's (or a device's) access to memory of a kind in its own NUMA
 * domain; a remote domain halves the bandwidth and adds REMOTE_NS. */
typedef struct mem_estimate {
    uint64_t bandwidth_mbps;
    uint64_t latency_ns;
} mem_estimate;

#define REMOTE_NS 60
#define PCIE_MBPS 12000
#define PCIE_NS   800

static mem_estimate host_estimate(accel_memory_kind kind)
{
    switch (kind) {
    case ACCEL_MEMORY_KIND_DRAM: return (mem_estimate){20000, 90};
    case ACCEL_MEMORY_KIND_HBM: return (mem_estimate){80000, 130};
    case ACCEL_MEMORY_KIND_NVM: return (mem_estimate){8000, 300};
    case ACCEL_MEMORY_KIND_CXL: return (mem_estimate){15000, 250};
    case ACCEL_MEMORY_KIND_DEVICE: return (mem_estimate){30000, 400};
    case ACCEL_MEMORY_KIND_FPGA_BANK: return (mem_estimate){19200, 150};
    default: return (mem_estimate){10000, 200};
    }
}

/* A device's access to its own memory. */
static mem_estimate device_memory_estimate(accel_memory_kind kind)
{
    switch (kind) {
    case ACCEL_MEMORY_KIND_DEVICE: return (mem_estimate){300000, 400};
    case ACCEL_MEMORY_KIND_HBM: return (mem_estimate){400000, 300};
    case ACCEL_MEMORY_KIND_FPGA_BANK: return (mem_estimate){19200, 150};
    case ACCEL_MEMORY_KIND_DRAM: return (mem_estimate){20000, 100};
    default: return host_estimate(kind);
    }
}

/* The standard functions every device is asked for. */
static const char *const standard_functions[] = {
    "accel.noop", "accel.copy", "accel.fill", "crc32c", "sha256", "zlib.deflate", "zlib.inflate",
};
#define STANDARD_COUNT (sizeof(standard_functions) / sizeof(standard_functions[0]))

/* Their stream forms (docs/standard-functions.md), asked for too: a streamed
 * run calls them, and calibration times them. Estimated as the one-shot form. */
static const char *const stream_functions[] = {
    "crc32c.stream", "sha256.stream", "zlib.deflate.stream", "zlib.inflate.stream",
};
#define PROBED_COUNT (STANDARD_COUNT + sizeof(stream_functions) / sizeof(stream_functions[0]))

/* Per device kind: the fixed cost of a call, then bytes per second for each
 * standard function (in standard_functions' order) and for any other. */
static const struct {
    uint64_t fixed_ns;
    uint64_t bps[STANDARD_COUNT + 1];
} function_estimates[] = {
    [ACCEL_DEVICE_KIND_UNKNOWN] = {2000,
                                   {1000000000000, 8000000000, 16000000000, 4000000000, 500000000, 50000000,
                                    300000000, 1000000000}},
    [ACCEL_DEVICE_KIND_CPU] = {2000,
                               {1000000000000, 8000000000, 16000000000, 4000000000, 500000000, 50000000,
                                300000000, 1000000000}},
    [ACCEL_DEVICE_KIND_GPU] = {10000,
                               {1000000000000, 100000000000, 200000000000, 20000000000, 5000000000,
                                2000000000, 4000000000, 10000000000}},
    [ACCEL_DEVICE_KIND_FPGA] = {20000,
                                {1000000000000, 10000000000, 10000000000, 10000000000, 4000000000, 4000000000,
                                 4000000000, 4000000000}},
    [ACCEL_DEVICE_KIND_ASIC] = {5000,
                                {1000000000000, 8000000000, 8000000000, 10000000000, 5000000000, 5000000000,
                                 8000000000, 4000000000}},
};

void accel__topology_function_estimate(accel_device_kind kind, const char *name, uint64_t *fixed_ns,
                                       uint64_t *bps)
{
    if ((unsigned)kind >= sizeof(function_estimates) / sizeof(function_estimates[0]))
        kind = ACCEL_DEVICE_KIND_UNKNOWN;
    size_t i = 0, len = strlen(name);
    if (len > 7 && strcmp(name + len - 7, ".stream") == 0)
        len -= 7; /* a stream form: the one-shot form's estimate */
    while (i < STANDARD_COUNT &&
           (strncmp(standard_functions[i], name, len) != 0 || standard_functions[i][len] != '\0'))
        i++;
    *fixed_ns = function_estimates[kind].fixed_ns;
    *bps = function_estimates[kind].bps[i];
}

/* ------------------------------------------------------------------------ */
/* The graph                                                                  */

static char *dup_opt(const char *s)
{
    return s ? accel__strdup(s) : NULL;
}

/* Make room for element count + 1 of an array that holds `count`: arrays
 * grow to 8, then double at every power of two, so no capacity is kept. */
/* Set by add_node and add_link when a limit, not memory, refused the item:
 * accel__topology_oom (which their callers call on failure) says so. */
static _Thread_local const char *limit_hit;

static int reserve(void **items, uint32_t count, size_t elem)
{
    size_t cap;
    if (count == 0)
        cap = 8;
    else if (count >= 8 && (count & (count - 1)) == 0)
        cap = (size_t)count * 2;
    else
        return 0;
    if (count == UINT32_MAX / 2)
        return -1;
    void *p = accel__realloc(*items, cap * elem);
    if (!p)
        return -1;
    *items = p;
    return 0;
}

static void free_node(accel__topo_node *n)
{
    accel__free(n->name);
    accel__free(n->cpuset);
    accel__free(n->driver_name);
    accel__free(n->bus_address);
    accel__free(n->label);
    for (uint32_t i = 0; i < n->function_count; i++)
        accel__free(n->functions[i].name);
    accel__free(n->functions);
}

accel_topology *accel__topology_new(void)
{
    accel_topology *t = accel__calloc(1, sizeof(accel_topology));
    if (t && accel__handle_add(t, ACCEL__HANDLE_TOPOLOGY)) {
        accel__free(t);
        t = NULL;
    }
    return t;
}

accel_result accel_topology_destroy(accel_topology *t)
{
    ACCEL__HANDLE_DESTROY(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (!t)
        return ACCEL_SUCCESS;
    for (uint32_t i = 0; i < t->node_count; i++)
        free_node(&t->nodes[i]);
    accel__free(t->nodes);
    accel__free(t->links);
    accel__free(t->link_index);
    accel__free(t->node_index);
    accel__free(t->source);
    accel__free(t);
    return ACCEL_SUCCESS;
}

static uint32_t name_slot(const char *name, uint32_t cap)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32)) & (cap - 1);
}

/* Puts nodes[i] in the name index unless an earlier node has its name. */
static void index_node(accel_topology *t, uint32_t i)
{
    const char *name = t->nodes[i].name;
    if (!name)
        return;
    for (uint32_t s = name_slot(name, t->node_index_cap);; s = (s + 1) & (t->node_index_cap - 1)) {
        uint32_t at = t->node_index[s];
        if (at == 0) {
            t->node_index[s] = i + 1;
            return;
        }
        if (strcmp(t->nodes[at - 1].name, name) == 0)
            return;
    }
}

/* Makes room in the name index for one more node (at most half full). */
static int grow_node_index(accel_topology *t)
{
    if ((uint64_t)(t->node_count + 1) * 2 <= t->node_index_cap)
        return 0;
    uint32_t cap = t->node_index_cap ? t->node_index_cap * 4 : 64;
    uint32_t *index = accel__calloc(cap, sizeof(*index));
    if (!index)
        return -1;
    accel__free(t->node_index);
    t->node_index = index;
    t->node_index_cap = cap;
    for (uint32_t i = 0; i < t->node_count; i++)
        index_node(t, i);
    return 0;
}

int32_t accel__topology_add_node(accel_topology *t, const accel__topo_node *node)
{
    if (t && t->node_count >= TOPOLOGY_NODES_MAX)
        limit_hit = "node";
    if (!t || !node || t->node_count >= TOPOLOGY_NODES_MAX ||
        reserve((void **)&t->nodes, t->node_count, sizeof(*t->nodes)) || grow_node_index(t))
        return -1;
    accel__topo_node n = *node;
    n.function_count = 0;
    n.functions = NULL;
    n.name = dup_opt(node->name);
    n.cpuset = dup_opt(node->cpuset);
    n.driver_name = dup_opt(node->driver_name);
    n.bus_address = dup_opt(node->bus_address);
    n.label = dup_opt(node->label);
    if ((node->name && !n.name) || (node->cpuset && !n.cpuset) || (node->driver_name && !n.driver_name) ||
        (node->bus_address && !n.bus_address) || (node->label && !n.label)) {
        free_node(&n);
        return -1;
    }
    uint32_t index = t->node_count;
    t->nodes[t->node_count++] = n;
    for (uint32_t i = 0; i < node->function_count && node->functions; i++) {
        const accel__topo_function *f = &node->functions[i];
        if (accel__topology_add_function(t, index, f->name, f->fixed_ns, f->bytes_per_second, f->source)) {
            free_node(&t->nodes[--t->node_count]);
            return -1;
        }
        accel__topo_node *added = &t->nodes[index];
        for (uint32_t k = 0; k < added->function_count; k++)
            if (strcmp(added->functions[k].name, f->name) == 0)
                added->functions[k].output_ratio = f->output_ratio;
    }
    index_node(t, index);
    return (int32_t)index;
}

/* A slot of the link index holds the link's index + 1 in its low 26 bits
 * (TOPOLOGY_LINKS_MAX is 2^25) and 6 more bits of its hash above them, so
 * that a probe reads the link itself only when those bits match. */
#define LINK_INDEX_BITS 26
#define LINK_INDEX_MASK ((1u << LINK_INDEX_BITS) - 1)

static uint64_t link_hash(uint32_t from, uint32_t to)
{
    uint64_t h = (uint64_t)from << 32 | to;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint32_t link_tag(uint64_t h)
{
    return (uint32_t)(h >> 58) << LINK_INDEX_BITS;
}

/* Puts links[i] in the index unless an earlier link has its ends (find
 * returns the first, as the linear search did). */
static void index_link(accel_topology *t, uint32_t i)
{
    const accel__topo_link *l = &t->links[i];
    uint64_t h = link_hash(l->from, l->to);
    uint32_t tag = link_tag(h);
    for (uint32_t s = (uint32_t)h & (t->link_index_cap - 1);; s = (s + 1) & (t->link_index_cap - 1)) {
        uint32_t v = t->link_index[s];
        if (v == 0) {
            t->link_index[s] = tag | (i + 1);
            return;
        }
        const accel__topo_link *o = &t->links[(v & LINK_INDEX_MASK) - 1];
        if ((v & ~LINK_INDEX_MASK) == tag && o->from == l->from && o->to == l->to)
            return;
    }
}

/* Rebuilds the index for cap slots (a power of two, over twice the links). */
static int rebuild_link_index(accel_topology *t, uint32_t cap)
{
    uint32_t *index = accel__calloc(cap, sizeof(*index));
    if (!index)
        return -1;
    accel__free(t->link_index);
    t->link_index = index;
    t->link_index_cap = cap;
    for (uint32_t i = 0; i < t->link_count; i++)
        index_link(t, i);
    return 0;
}

int32_t accel__topology_add_link(accel_topology *t, const accel__topo_link *link)
{
    if (t && t->link_count >= TOPOLOGY_LINKS_MAX)
        limit_hit = "link";
    if (!t || !link || link->from >= t->node_count || link->to >= t->node_count ||
        t->link_count >= TOPOLOGY_LINKS_MAX || reserve((void **)&t->links, t->link_count, sizeof(*t->links)))
        return -1;
    /* The index stays at most half full. */
    if ((uint64_t)(t->link_count + 1) * 2 > t->link_index_cap &&
        rebuild_link_index(t, t->link_index_cap ? t->link_index_cap * 2 : 64))
        return -1;
    t->links[t->link_count] = *link;
    index_link(t, t->link_count);
    return (int32_t)t->link_count++;
}

void accel__topology_remove_link(accel_topology *t, uint32_t index)
{
    if (!t || index >= t->link_count)
        return;
    memmove(&t->links[index], &t->links[index + 1], (t->link_count - index - 1) * sizeof(*t->links));
    t->link_count--;
    /* Indices after it moved: rebuild in place (no allocation). */
    memset(t->link_index, 0, (size_t)t->link_index_cap * sizeof(*t->link_index));
    for (uint32_t i = 0; i < t->link_count; i++)
        index_link(t, i);
}

int accel__topology_add_function(accel_topology *t, uint32_t device_node, const char *name, uint64_t fixed_ns,
                                 uint64_t bytes_per_second, accel_value_source source)
{
    if (!t || !name || device_node >= t->node_count ||
        t->nodes[device_node].kind != ACCEL_TOPOLOGY_NODE_DEVICE)
        return -1;
    accel__topo_node *n = &t->nodes[device_node];
    for (uint32_t i = 0; i < n->function_count; i++) {
        accel__topo_function *f = &n->functions[i];
        if (strcmp(f->name, name) == 0) {
            f->fixed_ns = fixed_ns;
            f->bytes_per_second = bytes_per_second;
            f->source = source;
            return 0;
        }
    }
    char *copy = accel__strdup(name);
    if (!copy || reserve((void **)&n->functions, n->function_count, sizeof(*n->functions))) {
        accel__free(copy);
        return -1;
    }
    n->functions[n->function_count++] = (accel__topo_function){copy, fixed_ns, bytes_per_second, source, 0};
    return 0;
}

const accel__topo_link *accel__topology_find_link(const accel_topology *t, uint32_t from, uint32_t to)
{
    if (!t || !t->link_index_cap)
        return NULL;
    uint64_t h = link_hash(from, to);
    uint32_t tag = link_tag(h);
    for (uint32_t s = (uint32_t)h & (t->link_index_cap - 1);; s = (s + 1) & (t->link_index_cap - 1)) {
        uint32_t v = t->link_index[s];
        if (v == 0)
            return NULL;
        const accel__topo_link *l = &t->links[(v & LINK_INDEX_MASK) - 1];
        if ((v & ~LINK_INDEX_MASK) == tag && l->from == from && l->to == to)
            return l;
    }
}

accel__topo_link *accel__topology_find_link_mut(accel_topology *t, uint32_t from, uint32_t to)
{
    return (accel__topo_link *)accel__topology_find_link(t, from, to);
}

int32_t accel__topology_find_node(const accel_topology *t, const char *name)
{
    if (!t->node_index_cap || !name)
        return -1;
    for (uint32_t s = name_slot(name, t->node_index_cap);; s = (s + 1) & (t->node_index_cap - 1)) {
        uint32_t at = t->node_index[s];
        if (at == 0)
            return -1;
        if (strcmp(t->nodes[at - 1].name, name) == 0)
            return (int32_t)(at - 1);
    }
}

bool accel__topology_is_initiator(const accel__topo_node *n)
{
    return n->kind == ACCEL_TOPOLOGY_NODE_CPUSET || n->kind == ACCEL_TOPOLOGY_NODE_DEVICE;
}

/* A link whose access lets the initiator use the memory in place. */
static bool direct(const accel__topo_link *l)
{
    return l && (l->access == ACCEL_ATTACH_ZERO_COPY || l->access == ACCEL_ATTACH_PINNED);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* a + b, saturating (user values may be as large as they like). */
static uint64_t add_u64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------------------ */
/* Reading the graph                                                          */

uint32_t accel_topology_node_count(const accel_topology *t)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_node_count", 0);
    return t ? t->node_count : 0;
}

uint32_t accel_topology_link_count(const accel_topology *t)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_link_count", 0);
    return t ? t->link_count : 0;
}

accel_result accel_topology_get_node(const accel_topology *t, uint32_t index, accel_topology_node *node)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_get_node", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_topology_get_node", "topology", t, node);
    if (r)
        return r;
    if (index >= t->node_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_get_node: index %u out of range (%u nodes)", index,
                            t->node_count);
    const accel__topo_node *n = &t->nodes[index];
    accel_topology_node full = {
        .struct_size = sizeof(full),
        .index = index,
        .kind = n->kind,
        .name = n->name,
        .parent = n->parent,
        .cpuset = n->cpuset,
        .memory_kind = n->memory_kind,
        .capacity = n->capacity,
        .numa_node = n->numa_node,
        .memory_node = n->memory_node,
        .device = n->device,
        .device_kind = n->device_kind,
        .driver_name = n->driver_name,
        .driver_index = n->driver_index,
        .bus_address = n->bus_address,
        .device_flags = n->device_flags,
        .pasid_bits = n->pasid_bits,
        .max_address_spaces = n->max_address_spaces,
        .available_instances = n->available_instances,
        .function_count = n->function_count,
    };
    memcpy(full.uuid, n->uuid, sizeof(full.uuid));
    accel__copy_out(node, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_topology_get_link(const accel_topology *t, uint32_t index, accel_topology_link *link)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_get_link", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_topology_get_link", "topology", t, link);
    if (r)
        return r;
    if (index >= t->link_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_get_link: index %u out of range (%u links)", index,
                            t->link_count);
    const accel__topo_link *l = &t->links[index];
    accel_topology_link full = {
        .struct_size = sizeof(full),
        .from = l->from,
        .to = l->to,
        .kind = l->kind,
        .access = l->access,
        .bandwidth_mbps = l->bandwidth_mbps,
        .latency_ns = l->latency_ns,
        .bandwidth_source = l->bandwidth_source,
        .latency_source = l->latency_source,
    };
    accel__copy_out(link, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_topology_get_function(const accel_topology *t, uint32_t device_node, uint32_t index,
                                         accel_topology_function *function)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_get_function", ACCEL_ERROR_INVALID_HANDLE);
    accel_result r = accel__check_info_args("accel_topology_get_function", "topology", t, function);
    if (r)
        return r;
    if (device_node >= t->node_count || t->nodes[device_node].kind != ACCEL_TOPOLOGY_NODE_DEVICE)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_get_function: node %u is not a device", device_node);
    const accel__topo_node *n = &t->nodes[device_node];
    if (index >= n->function_count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_get_function: index %u out of range (%s has %u functions)", index,
                            n->name ? n->name : "the device", n->function_count);
    const accel__topo_function *f = &n->functions[index];
    accel_topology_function full = {
        .struct_size = sizeof(full),
        .name = f->name,
        .fixed_ns = f->fixed_ns,
        .bytes_per_second = f->bytes_per_second,
        .source = f->source,
    };
    accel__copy_out(function, &full, sizeof(full));
    return ACCEL_SUCCESS;
}

accel_result accel_topology_find_device(const accel_topology *t, const accel_device *device, uint32_t *index)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_find_device", ACCEL_ERROR_INVALID_HANDLE);
    if (!t || !device || !index)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_find_device: %s is NULL",
                            !t        ? "topology"
                            : !device ? "device"
                                      : "index");
    for (uint32_t i = 0; i < t->node_count; i++) {
        if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE && t->nodes[i].device == device) {
            *index = i;
            return ACCEL_SUCCESS;
        }
    }
    return accel__error(ACCEL_ERROR_NOT_FOUND,
                        "accel_topology_find_device: the device is not in the topology");
}

/* The CPU sets and memories a copy can go through: the cheapest path that
 * takes `memory`'s bytes to a node the initiator reaches directly. The
 * copier is a CPU set reaching `memory` (the loader copies on the host);
 * the bytes land on host memory both reach, or, for a device, in the
 * device's own memory or in a mirror over its bus. */
static void staged_path(const accel_topology *t, uint32_t initiator, uint32_t memory, uint64_t *bw,
                        uint64_t *lat)
{
    bool device = t->nodes[initiator].kind == ACCEL_TOPOLOGY_NODE_DEVICE;
    uint64_t best_bw = 0, best_lat = 0;
    bool found = false;
    for (uint32_t i = 0; i < t->link_count; i++) {
        const accel__topo_link *src = &t->links[i];
        if (src->to != memory || !direct(src) || t->nodes[src->from].kind != ACCEL_TOPOLOGY_NODE_CPUSET)
            continue;
        for (uint32_t k = 0; k <= t->link_count; k++) {
            uint64_t b, l;
            if (k == t->link_count) {
                /* A device's own mirror, written over its bus. */
                if (!device)
                    break;
                b = min_u64(src->bandwidth_mbps, PCIE_MBPS);
                l = add_u64(src->latency_ns, PCIE_NS);
            } else {
                const accel__topo_link *use = &t->links[k];
                if (use->from != initiator || use->to == memory || !direct(use) ||
                    t->nodes[use->to].kind != ACCEL_TOPOLOGY_NODE_MEMORY)
                    continue;
                uint64_t hop_bw, hop_lat;
                const accel__topo_link *hop = accel__topology_find_link(t, src->from, use->to);
                if (direct(hop)) {
                    hop_bw = hop->bandwidth_mbps;
                    hop_lat = hop->latency_ns;
                } else if (t->nodes[use->to].owner_device >= 0) {
                    hop_bw = PCIE_MBPS;
                    hop_lat = PCIE_NS;
                } else {
                    continue;
                }
                b = min_u64(min_u64(src->bandwidth_mbps, hop_bw), use->bandwidth_mbps);
                l = add_u64(add_u64(src->latency_ns, hop_lat), use->latency_ns);
            }
            if (!found || b > best_bw || (b == best_bw && l < best_lat)) {
                best_bw = b;
                best_lat = l;
                found = true;
            }
        }
    }
    *bw = best_bw;
    *lat = best_lat;
}

accel_result accel_topology_reach(const accel_topology *t, uint32_t initiator, uint32_t memory,
                                  accel_attach_mode *mode, uint64_t *bandwidth_mbps, uint64_t *latency_ns)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_reach", ACCEL_ERROR_INVALID_HANDLE);
    if (!t || !mode)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_reach: %s is NULL",
                            t ? "mode" : "topology");
    if (initiator >= t->node_count || !accel__topology_is_initiator(&t->nodes[initiator]))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_reach: node %u is not a CPU set or a device", initiator);
    if (memory >= t->node_count || t->nodes[memory].kind != ACCEL_TOPOLOGY_NODE_MEMORY)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_topology_reach: node %u is not a memory node", memory);
    uint64_t bw, lat;
    const accel__topo_link *l = accel__topology_find_link(t, initiator, memory);
    if (direct(l)) {
        *mode = l->access;
        bw = l->bandwidth_mbps;
        lat = l->latency_ns;
    } else {
        *mode = ACCEL_ATTACH_STAGED;
        staged_path(t, initiator, memory, &bw, &lat);
    }
    if (bandwidth_mbps)
        *bandwidth_mbps = bw;
    if (latency_ns)
        *latency_ns = lat;
    return ACCEL_SUCCESS;
}

accel_result accel_topology_best_memory_node(const accel_topology *t, const uint32_t *initiators,
                                             uint32_t count, uint32_t *memory)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_best_memory_node",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!t || !initiators || !memory || count == 0)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_best_memory_node: %s",
                            !t            ? "topology is NULL"
                            : !initiators ? "initiators is NULL"
                            : !memory     ? "memory is NULL"
                                          : "count is 0");
    for (uint32_t i = 0; i < count; i++)
        if (initiators[i] >= t->node_count || !accel__topology_is_initiator(&t->nodes[initiators[i]]))
            return accel__error(
                ACCEL_ERROR_INVALID_ARGUMENT,
                "accel_topology_best_memory_node: initiators[%u] = %u is not a CPU set or a device", i,
                initiators[i]);
    bool found = false;
    uint64_t best_bw = 0, best_lat = 0;
    uint32_t best = 0;
    for (uint32_t m = 0; m < t->node_count; m++) {
        if (t->nodes[m].kind != ACCEL_TOPOLOGY_NODE_MEMORY)
            continue;
        uint64_t bw = UINT64_MAX, lat = 0;
        uint32_t i;
        for (i = 0; i < count; i++) {
            const accel__topo_link *l = accel__topology_find_link(t, initiators[i], m);
            if (!direct(l))
                break;
            bw = min_u64(bw, l->bandwidth_mbps);
            if (l->latency_ns > lat)
                lat = l->latency_ns;
        }
        if (i < count)
            continue;
        if (!found || bw > best_bw || (bw == best_bw && lat < best_lat)) {
            found = true;
            best = m;
            best_bw = bw;
            best_lat = lat;
        }
    }
    if (!found)
        return accel__error(
            ACCEL_ERROR_NOT_FOUND,
            "accel_topology_best_memory_node: no memory node is reached without a copy by all %u "
            "initiator(s)",
            count);
    *memory = best;
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Building: the host part from hwloc                                        */

typedef struct build {
    accel_topology *t;
    accel_instance *inst;
    const accel__logger *log;
    accel__logger own_log;
    hwloc_topology_t hw;
    bool this_machine;
} build;

accel_result accel__topology_oom(const char *what)
{
    if (limit_hit) {
        const char *which = limit_hit;
        limit_hit = NULL;
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "topology: adding a %s: more than %u %ss (docs/limits.md)", what,
                            strcmp(which, "node") == 0 ? TOPOLOGY_NODES_MAX : TOPOLOGY_LINKS_MAX, which);
    }
    return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "topology: out of host memory (%s)", what);
}

/* The first index of a node of this kind, or -1. */
int32_t accel__topology_first_of_kind(const accel_topology *t, accel_topology_node_kind kind)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].kind == kind)
            return (int32_t)i;
    return -1;
}

/* The CPU set node for the CPUs in `cs`: the one equal to it, else the
 * first inside it, else the first overlapping it, else the first. */
int32_t accel__topology_cpuset_node_for(const accel_topology *t, hwloc_const_bitmap_t cs)
{
    int32_t inside = -1, overlap = -1;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return -1;
    for (uint32_t i = 0; i < t->node_count; i++) {
        if (t->nodes[i].kind != ACCEL_TOPOLOGY_NODE_CPUSET ||
            hwloc_bitmap_list_sscanf(set, t->nodes[i].cpuset) < 0)
            continue;
        if (hwloc_bitmap_isequal(set, cs)) {
            inside = (int32_t)i;
            break;
        }
        if (inside < 0 && hwloc_bitmap_isincluded(set, cs))
            inside = (int32_t)i;
        if (overlap < 0 && hwloc_bitmap_intersects(set, cs))
            overlap = (int32_t)i;
    }
    hwloc_bitmap_free(set);
    return inside >= 0    ? inside
           : overlap >= 0 ? overlap
                          : accel__topology_first_of_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET);
}

static accel_memory_kind numa_kind(hwloc_obj_t o)
{
    const char *sub = o->subtype ? o->subtype : "";
    const char *dax = hwloc_obj_get_info_by_name(o, "DAXType");
    if (strncmp(sub, "CXL", 3) == 0 || hwloc_obj_get_info_by_name(o, "CXLDevice"))
        return ACCEL_MEMORY_KIND_CXL;
    if (strcmp(sub, "HBM") == 0 || strcmp(sub, "MCDRAM") == 0)
        return ACCEL_MEMORY_KIND_HBM;
    if (strcmp(sub, "NVM") == 0 || (dax && strcmp(dax, "NVM") == 0))
        return ACCEL_MEMORY_KIND_NVM;
    if (strcmp(sub, "GPUMemory") == 0)
        return ACCEL_MEMORY_KIND_DEVICE;
    if (strcmp(sub, "SPM") == 0)
        return ACCEL_MEMORY_KIND_UNKNOWN;
    return ACCEL_MEMORY_KIND_DRAM;
}

uint64_t accel__hwloc_info_kib(hwloc_obj_t o, const char *name)
{
    const char *v = hwloc_obj_get_info_by_name(o, name);
    if (!v)
        return 0;
    char *end;
    unsigned long long kib = strtoull(v, &end, 10);
    return end != v && kib < UINT64_MAX / 1024 ? (uint64_t)kib * 1024 : 0;
}

/* Whether `word` is one of the comma- or space-separated words of list. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        size_t k = strcspn(p, ", ");
        if (k == n && strncmp(p, word, n) == 0)
            return true;
        p += k;
        p += strspn(p, ", ");
    }
    return false;
}

/* Whether a NUMA node already stands for this memory OS device. */
static bool backs_numa_node(hwloc_topology_t hw, hwloc_obj_t dev)
{
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, o))) {
        if (has_word(hwloc_obj_get_info_by_name(o, "DAXDevice"), dev->name) ||
            has_word(hwloc_obj_get_info_by_name(o, "CXLDevice"), dev->name))
            return true;
    }
    return false;
}

static accel_result add_cpuset(build *b, hwloc_const_bitmap_t cs, uint32_t ordinal)
{
    char name[32], *list = NULL;
    snprintf(name, sizeof(name), "cpuset%u", ordinal);
    if (hwloc_bitmap_list_asprintf(&list, cs) < 0)
        return accel__topology_oom("cpuset");
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                          .name = name,
                          .parent = -1,
                          .cpuset = list,
                          .numa_node = -1,
                          .owner_device = -1,
                          .locality = -1};
    int32_t i = accel__topology_add_node(b->t, &n);
    free(list);
    return i < 0 ? accel__topology_oom("cpuset") : ACCEL_SUCCESS;
}

/* The CPU sets: the distinct, smallest CPU sets of the NUMA nodes (a node
 * without CPUs hangs off a larger set, which is not a CPU set of its own). */
static accel_result host_cpusets(build *b, hwloc_bitmap_t **sets_out)
{
    hwloc_topology_t hw = b->hw;
    int n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    hwloc_obj_t *cand = accel__calloc((size_t)(n > 0 ? n : 1), sizeof(*cand));
    if (!cand)
        return accel__topology_oom("cpusets");
    int k = 0;
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
        if (!o || !o->cpuset || hwloc_bitmap_iszero(o->cpuset))
            continue;
        bool keep = true;
        for (int j = 0; j < n && keep; j++) {
            hwloc_obj_t p = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)j);
            if (p && p->cpuset && !hwloc_bitmap_iszero(p->cpuset) &&
                hwloc_bitmap_isincluded(p->cpuset, o->cpuset) && !hwloc_bitmap_isequal(p->cpuset, o->cpuset))
                keep = false;
        }
        for (int j = 0; j < k && keep; j++)
            if (hwloc_bitmap_isequal(cand[j]->cpuset, o->cpuset))
                keep = false;
        if (keep)
            cand[k++] = o;
    }
    accel_result r = ACCEL_SUCCESS;
    if (k == 0)
        r = add_cpuset(b, hwloc_topology_get_topology_cpuset(hw), 0);
    for (int j = 0; j < k && !r; j++)
        r = add_cpuset(b, cand[j]->cpuset, (uint32_t)j);
    accel__free(cand);
    if (r)
        return r;
    /* One bitmap per node index, for the nodes added so far (all CPU sets). */
    hwloc_bitmap_t *sets = accel__calloc(b->t->node_count, sizeof(*sets));
    if (!sets)
        return accel__topology_oom("cpusets");
    for (uint32_t i = 0; i < b->t->node_count; i++) {
        sets[i] = hwloc_bitmap_alloc();
        if (!sets[i] || hwloc_bitmap_list_sscanf(sets[i], b->t->nodes[i].cpuset) < 0) {
            for (uint32_t j = 0; j <= i; j++)
                hwloc_bitmap_free(sets[j]);
            accel__free(sets);
            return accel__topology_oom("cpusets");
        }
    }
    *sets_out = sets;
    return ACCEL_SUCCESS;
}

/* A value from hwloc's memory attributes for the CPUs in cs reaching node. */
static bool memattr(hwloc_topology_t hw, hwloc_memattr_id_t id, hwloc_memattr_id_t fallback, hwloc_obj_t node,
                    hwloc_bitmap_t cs, uint64_t *value)
{
    struct hwloc_location loc = {.type = HWLOC_LOCATION_TYPE_CPUSET};
    loc.location.cpuset = cs;
    hwloc_uint64_t v = 0;
    if ((hwloc_memattr_get_value(hw, id, node, &loc, 0, &v) == 0 ||
         hwloc_memattr_get_value(hw, fallback, node, &loc, 0, &v) == 0) &&
        v > 0) {
        *value = v;
        return true;
    }
    return false;
}

static accel_result add_host_memory(build *b, hwloc_obj_t o, hwloc_bitmap_t *sets, uint32_t cpuset_count)
{
    accel_topology *t = b->t;
    bool numa = o->type == HWLOC_OBJ_NUMANODE;
    char name[64];
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                          .parent = -1,
                          .numa_node = -1,
                          .owner_device = -1,
                          .locality = -1};
    hwloc_obj_t anchor = o;
    if (numa) {
        snprintf(name, sizeof(name), "node%u", o->os_index);
        n.memory_kind = numa_kind(o);
        n.capacity = o->attr->numanode.local_memory;
        n.numa_node = (int32_t)o->os_index;
        if (b->this_machine && b->inst)
            n.memory_node = accel__host_node(b->inst, n.numa_node);
    } else {
        /* A CXL memory device or a DAX device the OS did not online as a
         * NUMA node: mapped by the host, not allocated by the loader. */
        snprintf(name, sizeof(name), "%.60s", o->name ? o->name : "memory");
        const char *dax = hwloc_obj_get_info_by_name(o, "DAXType");
        if (o->subtype && strcmp(o->subtype, "CXLMem") == 0) {
            n.memory_kind = ACCEL_MEMORY_KIND_CXL;
            n.capacity = accel__hwloc_info_kib(o, "CXLRAMSize") + accel__hwloc_info_kib(o, "CXLPMEMSize");
        } else {
            n.memory_kind = hwloc_obj_get_info_by_name(o, "CXLDevice") ? ACCEL_MEMORY_KIND_CXL
                            : dax && strcmp(dax, "NVM") == 0           ? ACCEL_MEMORY_KIND_NVM
                                                                       : ACCEL_MEMORY_KIND_UNKNOWN;
            n.capacity = accel__hwloc_info_kib(o, "Size");
        }
        anchor = hwloc_get_non_io_ancestor_obj(b->hw, o);
    }
    if (accel__topology_find_node(t, name) >= 0)
        return ACCEL_SUCCESS;
    n.name = name;
    hwloc_const_bitmap_t mine =
        anchor && anchor->cpuset ? anchor->cpuset : hwloc_topology_get_topology_cpuset(b->hw);
    /* It hangs off the CPU set it is local to; memory shared by several
     * CPU sets (a node without CPUs of its own) hangs off none. */
    for (uint32_t c = 0; c < cpuset_count; c++)
        if (hwloc_bitmap_isequal(sets[c], mine))
            n.parent = (int32_t)c;
    int32_t m = accel__topology_add_node(t, &n);
    if (m < 0)
        return accel__topology_oom("memory node");
    mem_estimate est = host_estimate(n.memory_kind);
    for (uint32_t c = 0; c < cpuset_count; c++) {
        bool local = hwloc_bitmap_isincluded(sets[c], mine);
        accel__topo_link l = {
            .from = c,
            .to = (uint32_t)m,
            .kind = n.memory_kind == ACCEL_MEMORY_KIND_CXL ? ACCEL_LINK_CXL
                    : local                                ? ACCEL_LINK_LOCAL
                                                           : ACCEL_LINK_NUMA,
            .access = ACCEL_ATTACH_ZERO_COPY,
            .bandwidth_mbps = local ? est.bandwidth_mbps : est.bandwidth_mbps / 2,
            .latency_ns = local ? est.latency_ns : est.latency_ns + REMOTE_NS,
            .bandwidth_source = ACCEL_SOURCE_ESTIMATE,
            .latency_source = ACCEL_SOURCE_ESTIMATE,
        };
        /* hwloc reports the kernel's HMAT figures, which are MB/s and ns
         * (hwloc's documentation says MiB/s; the kernel's says MB/s). */
        if (numa && memattr(b->hw, HWLOC_MEMATTR_ID_BANDWIDTH, HWLOC_MEMATTR_ID_READ_BANDWIDTH, o, sets[c],
                            &l.bandwidth_mbps))
            l.bandwidth_source = ACCEL_SOURCE_HMAT;
        if (numa && memattr(b->hw, HWLOC_MEMATTR_ID_LATENCY, HWLOC_MEMATTR_ID_READ_LATENCY, o, sets[c],
                            &l.latency_ns))
            l.latency_source = ACCEL_SOURCE_HMAT;
        if (accel__topology_add_link(t, &l) < 0)
            return accel__topology_oom("link");
    }
    return ACCEL_SUCCESS;
}

static accel_result load_hwloc(build *b, const char *xml)
{
    char *data = NULL;
    size_t size = 0;
    if (xml) {
        int err = accel__read_file(xml, XML_FILE_MAX, &data, &size);
        if (err == ENOMEM)
            return accel__topology_oom("XML file");
        if (err == EFBIG)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "topology XML %s: larger than %u bytes", xml,
                                XML_FILE_MAX);
        if (err)
            return accel__error(ACCEL_ERROR_IO, "topology XML %s: cannot read: %s", xml, accel__file_strerror(err));
        /* libhwloc 2.9 crashes on some malformed files, and allocates
         * what a file asks (topology_xml.c, docs/limits.md). */
        accel_result bad = size ? accel__topology_xml_check(data, size, xml) : ACCEL_SUCCESS;
        if (bad) {
            accel__free(data);
            return bad;
        }
    }
    if (hwloc_topology_init(&b->hw) < 0) {
        accel__free(data);
        b->hw = NULL;
        return accel__topology_oom("hwloc");
    }
    /* PCI devices give the locality of devices by bus address. */
    hwloc_topology_set_io_types_filter(b->hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
    int rc = 0;
    if (xml)
        rc = size == 0 || size >= INT32_MAX ? -1 : hwloc_topology_set_xmlbuffer(b->hw, data, (int)size + 1);
    if (rc == 0)
        rc = hwloc_topology_load(b->hw);
    accel__free(data);
    if (rc < 0) {
        int err = errno;
        hwloc_topology_destroy(b->hw);
        b->hw = NULL;
        if (xml)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "topology XML %s: not a topology hwloc can load (%s)", xml,
                                size == 0 ? "empty file" : strerror(err));
        return accel__error(ACCEL_ERROR_INITIALIZATION_FAILED, "topology: hwloc cannot read this machine: %s",
                            strerror(err));
    }
    return ACCEL_SUCCESS;
}

/* The NUMALatency and NUMABandwidth matrices hwloc records (the SLIT's
 * relative distances, 10 for local): a CPU set's link to a host NUMA node
 * takes the local estimate scaled by the matrix's value over the local one,
 * marked as the OS's, where HMAT gave no value. */
static void apply_numa_matrix(build *b, const char *name, bool latency, hwloc_bitmap_t *sets, uint32_t cpuset_count)
{
    struct hwloc_distances_s *d = NULL;
    unsigned nr = 1;
    if (hwloc_distances_get_by_name(b->hw, name, &nr, &d, 0) < 0 || nr == 0 || !d)
        return;
    for (uint32_t c = 0; c < cpuset_count; c++) {
        /* The matrix's row of the CPU set: its NUMA node. */
        unsigned row = d->nbobjs;
        for (unsigned i = 0; i < d->nbobjs && row == d->nbobjs; i++)
            if (d->objs[i] && d->objs[i]->cpuset && hwloc_bitmap_isequal(d->objs[i]->cpuset, sets[c]))
                row = i;
        if (row == d->nbobjs)
            continue;
        uint64_t local = d->values[(size_t)row * d->nbobjs + row];
        for (unsigned j = 0; j < d->nbobjs && local > 0; j++) {
            uint64_t v = d->values[(size_t)row * d->nbobjs + j];
            char mname[32];
            if (!d->objs[j] || d->objs[j]->type != HWLOC_OBJ_NUMANODE || v == 0 || v > UINT32_MAX)
                continue;
            snprintf(mname, sizeof(mname), "node%u", d->objs[j]->os_index);
            int32_t m = accel__topology_find_node(b->t, mname);
            accel__topo_link *l = m >= 0 ? accel__topology_find_link_mut(b->t, c, (uint32_t)m) : NULL;
            if (!l)
                continue;
            mem_estimate est = host_estimate(b->t->nodes[m].memory_kind);
            if (latency && l->latency_source != ACCEL_SOURCE_HMAT) {
                l->latency_ns = est.latency_ns * v / local;
                l->latency_source = ACCEL_SOURCE_OS;
            } else if (!latency && l->bandwidth_source != ACCEL_SOURCE_HMAT) {
                l->bandwidth_mbps = est.bandwidth_mbps * v / local;
                l->bandwidth_source = ACCEL_SOURCE_OS;
            }
        }
    }
    hwloc_distances_release(b->hw, d);
}

/* CPU sets, memory nodes and the links between them. */
static accel_result build_host(build *b, const char *xml)
{
    accel_result r = load_hwloc(b, xml);
    if (r)
        return r;
    /* Every CPU set links to every memory node: bound the graph before
     * building it (docs/limits.md). */
    int numa = hwloc_get_nbobjs_by_type(b->hw, HWLOC_OBJ_NUMANODE);
    if (numa > (int)TOPOLOGY_NUMA_NODES_MAX)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "topology %s: %d NUMA nodes, more than the %u supported",
                            xml ? xml : "of this machine", numa, TOPOLOGY_NUMA_NODES_MAX);
    hwloc_bitmap_t *sets = NULL;
    if ((r = host_cpusets(b, &sets)))
        return r;
    uint32_t cpuset_count = b->t->node_count;
    hwloc_obj_t o = NULL;
    while (!r && (o = hwloc_get_next_obj_by_type(b->hw, HWLOC_OBJ_NUMANODE, o)))
        r = add_host_memory(b, o, sets, cpuset_count);
    o = NULL;
    while (!r && (o = hwloc_get_next_osdev(b->hw, o))) {
        bool cxl = o->subtype && strcmp(o->subtype, "CXLMem") == 0;
        bool dax = hwloc_obj_get_info_by_name(o, "DAXType") != NULL;
        if ((cxl || dax) && o->name && !backs_numa_node(b->hw, o))
            r = add_host_memory(b, o, sets, cpuset_count);
    }
    if (!r) {
        apply_numa_matrix(b, "NUMALatency", true, sets, cpuset_count);
        apply_numa_matrix(b, "NUMABandwidth", false, sets, cpuset_count);
    }
    for (uint32_t i = 0; i < cpuset_count; i++)
        hwloc_bitmap_free(sets[i]);
    accel__free(sets);
    return r;
}

/* The CPU set node a PCI bus address hangs off, -1 if hwloc does not know
 * the address. */
static int32_t resolve_bus(void *ctx, const char *bus_address)
{
    build *b = ctx;
    if (!b->hw || !bus_address || !*bus_address)
        return -1;
    hwloc_obj_t pci = hwloc_get_pcidev_by_busidstring(b->hw, bus_address);
    if (!pci)
        return -1;
    hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(b->hw, pci);
    if (!anchor || !anchor->cpuset)
        return accel__topology_first_of_kind(b->t, ACCEL_TOPOLOGY_NODE_CPUSET);
    return accel__topology_cpuset_node_for(b->t, anchor->cpuset);
}

/* What a simulated devices file may name of the host: bus addresses, and
 * the devices hwloc reports by name ("stands_for"), from a table of their
 * names made on the first name asked for. */
typedef struct host_lookup {
    build *b;
    accel__hwloc_names *names;
} host_lookup;

static int32_t lookup_bus(void *ctx, const char *bus_address)
{
    return resolve_bus(((host_lookup *)ctx)->b, bus_address);
}

static accel_result lookup_device(void *ctx, const char *name, uint32_t *count, char (*bus)[ACCEL__TOPO_BUS_LEN],
                                  uint32_t max)
{
    host_lookup *l = ctx;
    *count = 0;
    if (!l->b->hw)
        return ACCEL_SUCCESS;
    if (!l->names) {
        accel_result r = accel__topology_hwloc_names_new(l->b->hw, &l->names);
        if (r)
            return r;
    }
    accel__topology_hwloc_names_find(l->names, name, count, bus, max);
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Building: devices                                                          */

/* The CPU set a host NUMA node hangs off; -1 if none, -2 if no such node. */
int32_t accel__topology_numa_cpuset(const accel_topology *t, int32_t numa_node)
{
    for (uint32_t i = 0; i < t->node_count; i++) {
        const accel__topo_node *n = &t->nodes[i];
        if (n->kind == ACCEL_TOPOLOGY_NODE_MEMORY && n->owner_device < 0 && n->numa_node == numa_node)
            return n->parent;
    }
    return -2;
}

/* A device's link to every host NUMA node. A CPU reaches host memory as its
 * CPU set does; another device through its bus, behind its CPU set. */
accel_result accel__topology_link_device_host(accel_topology *t, uint32_t dev, accel_attach_mode mode)
{
    for (uint32_t m = 0; m < t->node_count; m++) {
        const accel__topo_node *mem = &t->nodes[m];
        if (mem->kind != ACCEL_TOPOLOGY_NODE_MEMORY || mem->owner_device >= 0 || mem->numa_node < 0)
            continue;
        const accel__topo_node *d = &t->nodes[dev];
        const accel__topo_link *cl =
            d->locality >= 0 ? accel__topology_find_link(t, (uint32_t)d->locality, m) : NULL;
        mem_estimate est = host_estimate(mem->memory_kind);
        accel__topo_link l = {.from = dev, .to = m, .access = mode};
        if (d->device_kind == ACCEL_DEVICE_KIND_CPU) {
            l.kind = cl ? cl->kind : ACCEL_LINK_LOCAL;
            l.bandwidth_mbps = cl ? cl->bandwidth_mbps : est.bandwidth_mbps;
            l.latency_ns = cl ? cl->latency_ns : est.latency_ns;
            l.bandwidth_source = cl ? cl->bandwidth_source : ACCEL_SOURCE_ESTIMATE;
            l.latency_source = cl ? cl->latency_source : ACCEL_SOURCE_ESTIMATE;
        } else {
            l.kind = ACCEL_LINK_PCIE;
            l.bandwidth_mbps = min_u64(PCIE_MBPS, cl ? cl->bandwidth_mbps : est.bandwidth_mbps);
            l.latency_ns = add_u64(PCIE_NS, cl ? cl->latency_ns : est.latency_ns);
            l.bandwidth_source = l.latency_source = ACCEL_SOURCE_ESTIMATE;
        }
        if (accel__topology_add_link(t, &l) < 0)
            return accel__topology_oom("link");
    }
    return ACCEL_SUCCESS;
}

/* A device's link to one of its memories; 0 values take the estimate. */
accel_result accel__topology_link_device_memory(accel_topology *t, uint32_t dev, uint32_t mem,
                                                accel_attach_mode mode, uint64_t bw, uint64_t lat,
                                                accel_value_source source)
{
    mem_estimate est = device_memory_estimate(t->nodes[mem].memory_kind);
    accel__topo_link l = {
        .from = dev,
        .to = mem,
        .kind = ACCEL_LINK_LOCAL,
        .access = mode,
        .bandwidth_mbps = bw ? bw : est.bandwidth_mbps,
        .latency_ns = lat ? lat : est.latency_ns,
        .bandwidth_source = bw ? source : ACCEL_SOURCE_ESTIMATE,
        .latency_source = lat ? source : ACCEL_SOURCE_ESTIMATE,
    };
    return accel__topology_add_link(t, &l) < 0 ? accel__topology_oom("link") : ACCEL_SUCCESS;
}

/* The host maps a host-visible device memory over the device's bus. */
accel_result accel__topology_link_host_visible(accel_topology *t, uint32_t mem)
{
    int32_t owner = t->nodes[mem].owner_device;
    int32_t near = owner >= 0 ? t->nodes[owner].locality : -1;
    for (uint32_t c = 0; c < t->node_count; c++) {
        if (t->nodes[c].kind != ACCEL_TOPOLOGY_NODE_CPUSET)
            continue;
        bool local = near < 0 || (int32_t)c == near;
        accel__topo_link l = {
            .from = c,
            .to = mem,
            .kind = ACCEL_LINK_PCIE,
            .access = ACCEL_ATTACH_ZERO_COPY,
            .bandwidth_mbps = local ? PCIE_MBPS : PCIE_MBPS / 2,
            .latency_ns = local ? PCIE_NS : PCIE_NS + REMOTE_NS,
            .bandwidth_source = ACCEL_SOURCE_ESTIMATE,
            .latency_source = ACCEL_SOURCE_ESTIMATE,
        };
        if (accel__topology_add_link(t, &l) < 0)
            return accel__topology_oom("link");
    }
    return ACCEL_SUCCESS;
}

/* The whole device a device is part of (itself when it is whole). */
static uint32_t root_device(const accel_topology *t, uint32_t dev)
{
    for (uint32_t hops = 0; hops < t->node_count; hops++) {
        int32_t p = t->nodes[dev].parent;
        if (p < 0 || t->nodes[p].kind != ACCEL_TOPOLOGY_NODE_DEVICE)
            break;
        dev = (uint32_t)p;
    }
    return dev;
}

/* Devices that reach one device memory directly reach each other through
 * it: on one package when they are parts of one device, else over the bus. */
accel_result accel__topology_link_shared_memories(accel_topology *t)
{
    uint32_t *who = NULL;
    accel_result r = ACCEL_SUCCESS;
    for (uint32_t m = 0; m < t->node_count && !r; m++) {
        if (t->nodes[m].kind != ACCEL_TOPOLOGY_NODE_MEMORY || t->nodes[m].owner_device < 0)
            continue;
        uint32_t n = 0;
        for (uint32_t i = 0; i < t->link_count; i++) {
            const accel__topo_link *l = &t->links[i];
            if (l->to == m && direct(l) && t->nodes[l->from].kind == ACCEL_TOPOLOGY_NODE_DEVICE) {
                if (reserve((void **)&who, n, sizeof(*who))) {
                    r = accel__topology_oom("links");
                    break;
                }
                who[n++] = i;
            }
        }
        for (uint32_t a = 0; a < n && !r; a++) {
            for (uint32_t c = 0; c < n && !r; c++) {
                accel__topo_link la = t->links[who[a]], lc = t->links[who[c]];
                if (a == c || accel__topology_find_link(t, la.from, lc.from))
                    continue;
                accel__topo_link l = {
                    .from = la.from,
                    .to = lc.from,
                    .kind = root_device(t, la.from) == root_device(t, lc.from) ? ACCEL_LINK_ON_PACKAGE
                                                                               : ACCEL_LINK_PCIE,
                    .access = ACCEL_ATTACH_ZERO_COPY,
                    .bandwidth_mbps = min_u64(la.bandwidth_mbps, lc.bandwidth_mbps),
                    .latency_ns = la.latency_ns > lc.latency_ns ? la.latency_ns : lc.latency_ns,
                    .bandwidth_source = ACCEL_SOURCE_ESTIMATE,
                    .latency_source = ACCEL_SOURCE_ESTIMATE,
                };
                if (accel__topology_add_link(t, &l) < 0)
                    r = accel__topology_oom("link");
            }
        }
        accel__free(who);
        who = NULL;
    }
    accel__free(who);
    return r;
}

/* The built-in functions a device offers, with the driver's cost hint or
 * the estimate for its kind. */
static accel_result probe_functions(accel_topology *t, uint32_t node, accel_device *d)
{
    const accel_icd_table *tab = accel__table(d);
    if (!ACCEL__HAS_ENTRY(tab, function_get) || !ACCEL__HAS_ENTRY(tab, function_release) ||
        (d->info->flags & ACCEL_DEVICE_FLAG_ISOLATED))
        return ACCEL_SUCCESS;
    for (size_t i = 0; i < PROBED_COUNT; i++) {
        const char *name = i < STANDARD_COUNT ? standard_functions[i] : stream_functions[i - STANDARD_COUNT];
        void *fn = NULL;
        accel_icd_function_info info = {.struct_size = sizeof(info)};
        if (tab->function_get(d->icd_device, NULL, name, &fn, &info) != ACCEL_SUCCESS)
            continue;
        tab->function_release(fn);
        uint64_t fixed, bps;
        accel_value_source source = ACCEL_SOURCE_DRIVER;
        accel_icd_function_estimate e = {.struct_size = sizeof(e)};
        if (ACCEL__HAS_ENTRY(tab, function_estimate) &&
            tab->function_estimate(d->icd_device, NULL, name, ESTIMATE_BYTES, &e) == ACCEL_SUCCESS &&
            e.bytes_per_second) {
            fixed = e.fixed_ns;
            bps = e.bytes_per_second;
        } else {
            accel__topology_function_estimate(d->info->kind, name, &fixed, &bps);
            source = ACCEL_SOURCE_ESTIMATE;
        }
        if (accel__topology_add_function(t, node, name, fixed, bps, source))
            return accel__topology_oom("function");
    }
    return ACCEL_SUCCESS;
}

/* The driver's hints for the device's memories (bandwidth, latency). */
static int32_t find_memory_node(const accel_topology *t, const accel_memory_node *mn)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_MEMORY && t->nodes[i].memory_node == mn)
            return (int32_t)i;
    return -1;
}

/* The node of a device of the instance, or -1 (no error recorded). */
static int32_t device_node_of(const accel_topology *t, const accel_device *d)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE && t->nodes[i].device == d)
            return (int32_t)i;
    return -1;
}

/* One device's memories as the loader knows them (memnode.c). */
static accel_result add_device_memories(accel_topology *t, uint32_t node, accel_device *d)
{
    accel_attach_mode host = ACCEL_ATTACH_NONE;
    for (uint32_t k = 0; k < d->mem_count; k++) {
        const accel_memory_node *mn = d->mems[k].node;
        accel_attach_mode mode = d->mems[k].mode;
        if (!mn->device) {
            if (host == ACCEL_ATTACH_NONE)
                host = mode;
            continue;
        }
        int32_t m = find_memory_node(t, mn);
        if (m < 0) {
            int32_t whole = device_node_of(t, mn->device);
            uint32_t owner = whole >= 0 ? (uint32_t)whole : node;
            accel__topo_node n = {
                .kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                .name = mn->name,
                .parent = (int32_t)owner,
                .memory_kind = mn->kind,
                .capacity = mn->capacity,
                .numa_node = -1,
                .memory_node = (accel_memory_node *)mn,
                .owner_device = (int32_t)owner,
                .locality = -1,
            };
            if ((m = accel__topology_add_node(t, &n)) < 0)
                return accel__topology_oom("memory node");
            if (mn->host_visible && accel__topology_link_host_visible(t, (uint32_t)m))
                return accel__topology_oom("link");
        }
        accel_result r = accel__topology_link_device_memory(t, node, (uint32_t)m, mode, d->mems[k].bandwidth_mbps,
                                                            d->mems[k].latency_ns, ACCEL_SOURCE_DRIVER);
        if (r)
            return r;
    }
    return host == ACCEL_ATTACH_NONE ? ACCEL_SUCCESS : accel__topology_link_device_host(t, node, host);
}

/* The CPU set a real device hangs off. */
static int32_t device_locality(build *b, const accel_icd_device_info *info)
{
    int32_t c = -2;
    if (info->numa_node >= 0)
        c = accel__topology_numa_cpuset(b->t, info->numa_node);
    if (c < 0 && info->bus_address[0])
        c = resolve_bus(b, info->bus_address);
    if (c < 0 && info->numa_nodes[0] >= '0' && info->numa_nodes[0] <= '9')
        c = accel__topology_numa_cpuset(b->t, (int32_t)strtol(info->numa_nodes, NULL, 10));
    return c >= 0 ? c : accel__topology_first_of_kind(b->t, ACCEL_TOPOLOGY_NODE_CPUSET);
}

static accel_result add_instance_devices(build *b)
{
    accel_instance *inst = b->inst;
    accel_topology *t = b->t;
    accel_result r = accel__memory_nodes_build(inst);
    if (r)
        return r;
    uint32_t first = t->node_count;
    for (size_t i = 0; i < inst->device_count; i++) {
        accel_device *d = inst->devices[i];
        const accel_icd_device_info *info = d->info;
        char name[96];
        snprintf(name, sizeof(name), "%s:%u", d->driver->manifest->data.driver_name, d->driver_index);
        uint32_t avail = info->available_instances;
        accel_device_query(d, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &avail, sizeof(avail), NULL);
        int32_t locality = device_locality(b, info);
        accel__topo_node n = {
            .kind = ACCEL_TOPOLOGY_NODE_DEVICE,
            .name = name,
            .parent = locality,
            .numa_node = -1,
            .owner_device = -1,
            .device = d,
            .device_kind = info->kind,
            .driver_name = d->driver->manifest->data.driver_name,
            .driver_index = d->driver_index,
            .bus_address = info->bus_address[0] ? (char *)info->bus_address : NULL,
            .device_flags = info->flags,
            .pasid_bits = info->pasid_bits,
            .max_address_spaces = info->max_address_spaces,
            .available_instances = avail,
            .locality = locality,
            .label = (char *)info->name,
        };
        memcpy(n.uuid, info->uuid, sizeof(n.uuid));
        if (accel__topology_add_node(t, &n) < 0)
            return accel__topology_oom("device");
    }
    /* Partitions hang off their whole device, when it is there too. */
    for (uint32_t i = first; i < t->node_count; i++) {
        int32_t p = t->nodes[i].device->parent ? device_node_of(t, t->nodes[i].device->parent) : -1;
        if (p >= 0)
            t->nodes[i].parent = p;
    }
    uint32_t last = t->node_count;
    for (uint32_t i = first; i < last; i++) {
        accel_device *d = t->nodes[i].device;
        if ((r = add_device_memories(t, i, d)) || (r = probe_functions(t, i, d)))
            return r;
    }
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Building: the whole                                                        */

/* Read a JSON input file, or say why not. */
static accel_result read_json_file(const char *what, const char *path, char **data, size_t *size)
{
    int err = accel__read_file(path, JSON_FILE_MAX, data, size);
    if (err == ENOMEM)
        return accel__topology_oom(what);
    if (err == EFBIG)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s %s: larger than %u bytes", what, path,
                            JSON_FILE_MAX);
    if (err)
        return accel__error(ACCEL_ERROR_IO, "%s %s: cannot read: %s", what, path, accel__file_strerror(err));
    return ACCEL_SUCCESS;
}

/* $XDG_CACHE_HOME/accel/calibration.json, else ~/.cache/accel/calibration.json. */
static char *calibration_path(void)
{
    const char *xdg = accel__getenv("XDG_CACHE_HOME");
    const char *home = accel__getenv("HOME");
    if (xdg && xdg[0] == '/')
        return accel__path_join(xdg, "accel/calibration.json");
    if (home && home[0] == '/')
        return accel__path_join(home, ".cache/accel/calibration.json");
    return NULL;
}

/* Measured costs from the calibration cache. A cache that cannot be read
 * or parsed is ignored with a warning: it never makes the build fail, nor
 * changes the caller's last-error message. */
static accel_result apply_calibration_cache(build *b)
{
    char *path = calibration_path(), *data = NULL;
    size_t size = 0;
    if (!path)
        return ACCEL_SUCCESS;
    char saved[1024];
    snprintf(saved, sizeof(saved), "%s", accel_last_error_message());
    accel_result r = ACCEL_SUCCESS;
    int err = accel__read_file(path, JSON_FILE_MAX, &data, &size);
    if (err == ENOMEM) {
        r = accel__topology_oom("calibration cache");
    } else if (err == EFBIG) {
        accel__log(b->log, ACCEL_LOG_WARN, "topology: calibration cache %s ignored: larger than %u bytes", path,
                   JSON_FILE_MAX);
    } else if (err && err != ENOENT) {
        accel__log(b->log, ACCEL_LOG_WARN, "topology: calibration cache %s ignored: cannot read: %s", path,
                   accel__file_strerror(err));
    } else if (!err) {
        r = accel__topology_apply_calibration(b->t, data, size, path);
        if (r && r != ACCEL_ERROR_OUT_OF_HOST_MEMORY) {
            accel__log(b->log, ACCEL_LOG_WARN, "topology: calibration cache ignored: %s",
                       accel_last_error_message());
            r = ACCEL_SUCCESS;
        }
    }
    if (!r)
        accel__error(ACCEL_SUCCESS, "%s", saved);
    accel__free(path);
    accel__free(data);
    return r;
}

/* What a JSON input file holds, applied to the topology. */
static accel_result apply_file(build *b, const char *what, const char *path, bool simulated)
{
    char *data = NULL;
    size_t size = 0;
    accel_result r = read_json_file(what, path, &data, &size);
    if (r)
        return r;
    host_lookup names = {.b = b};
    accel__topo_host_lookup host = {.bus = lookup_bus, .device = lookup_device, .ctx = &names};
    r = simulated ? accel__topology_add_simulated2(b->t, data, size, path, &host)
                  : accel__topology_apply_user(b->t, data, size, path);
    accel__topology_hwloc_names_free(names.names);
    accel__free(data);
    return r;
}

#define OPTIONS_MIN_SIZE     (offsetof(accel_topology_options, simulated_devices) + sizeof(const char *))
#define KNOWN_TOPOLOGY_FLAGS ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES

accel_result accel_topology_create(accel_instance *inst, const accel_topology_options *options,
                                   accel_topology **out)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_topology_create", ACCEL_ERROR_INVALID_HANDLE);
    accel_topology_options o = {.struct_size = sizeof(o)};
    if (!out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_create: topology is NULL");
    if (options) {
        if (options->struct_size < OPTIONS_MIN_SIZE)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_topology_create: options->struct_size %u is smaller than %zu",
                                options->struct_size, (size_t)OPTIONS_MIN_SIZE);
        memcpy(&o, options, options->struct_size < sizeof(o) ? options->struct_size : sizeof(o));
        if (o.flags & ~KNOWN_TOPOLOGY_FLAGS)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_create: unknown flags 0x%x",
                                o.flags & ~KNOWN_TOPOLOGY_FLAGS);
    }
    const char *xml = o.hwloc_xml ? o.hwloc_xml : accel__getenv("ACCEL_TOPOLOGY_XML");
    const char *user = o.user_file ? o.user_file : accel__getenv("ACCEL_TOPOLOGY_FILE");

    build b = {.inst = inst, .this_machine = xml == NULL};
    if (inst) {
        b.log = &inst->logger;
    } else {
        accel__logger_init(&b.own_log, NULL, NULL, 0);
        b.log = &b.own_log;
    }
    if (!(b.t = accel__topology_new()) || !(b.t->source = accel__strdup(xml ? xml : "this machine"))) {
        accel_topology_destroy(b.t);
        return accel__topology_oom("topology");
    }
    b.t->instance = inst;
    accel_result r = build_host(&b, xml);
    if (!r && inst && !(o.flags & ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES))
        r = add_instance_devices(&b);
    if (!r && o.simulated_devices)
        r = apply_file(&b, "simulated devices", o.simulated_devices, true);
    /* After the drivers' and simulated devices: one at the bus address of
     * an hwloc device stands for it (what-if planning on a recorded GPU). */
    if (!r)
        r = accel__topology_add_hwloc_devices(b.t, b.hw);
    if (!r)
        r = accel__topology_link_shared_memories(b.t);
    if (!r)
        r = apply_calibration_cache(&b);
    if (!r && user)
        r = apply_file(&b, "topology user file", user, false);
    if (b.hw)
        hwloc_topology_destroy(b.hw);
    if (r) {
        accel__log(b.log, ACCEL_LOG_ERROR, "%s", accel_last_error_message());
        accel_topology_destroy(b.t);
        return r;
    }
    accel__log(b.log, ACCEL_LOG_INFO, "topology of %s: %u node(s), %u link(s)", b.t->source, b.t->node_count,
               b.t->link_count);
    *out = b.t;
    return ACCEL_SUCCESS;
}

accel_result accel_instance_get_topology(accel_instance *inst, const accel_topology **out)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_instance_get_topology",
                      ACCEL_ERROR_INVALID_HANDLE);
    if (!inst || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_instance_get_topology: %s is NULL",
                            inst ? "topology" : "instance");
    accel_topology *t = atomic_load(&inst->topology);
    if (!t) {
        /* Threads that race here each build one; the first to publish wins. */
        accel_topology *mine = NULL;
        accel_result r = accel_topology_create(inst, NULL, &mine);
        if (r)
            return r;
        if (atomic_compare_exchange_strong(&inst->topology, &t, mine))
            t = mine;
        else
            accel_topology_destroy(mine);
    }
    *out = t;
    return ACCEL_SUCCESS;
}
