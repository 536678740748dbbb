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
 */
#include "topology.h"

#include <errno.h>
#include <hwloc.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "os.h"
#include "util.h"

#define JSON_FILE_MAX  (16u << 20) /* user, simulated devices and calibration files */
#define XML_FILE_MAX   (64u << 20) /* recorded hwloc topologies */
#define MAX_SIMULATED  4096        /* devices (with replicas and partitions) per file */
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

static void function_estimate(accel_device_kind kind, const char *name, uint64_t *fixed_ns, uint64_t *bps)
{
    if ((unsigned)kind >= sizeof(function_estimates) / sizeof(function_estimates[0]))
        kind = ACCEL_DEVICE_KIND_UNKNOWN;
    size_t i = 0;
    while (i < STANDARD_COUNT && strcmp(standard_functions[i], name) != 0)
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
    return accel__calloc(1, sizeof(accel_topology));
}

void accel_topology_destroy(accel_topology *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->node_count; i++)
        free_node(&t->nodes[i]);
    accel__free(t->nodes);
    accel__free(t->links);
    accel__free(t->source);
    accel__free(t);
}

int32_t accel__topology_add_node(accel_topology *t, const accel__topo_node *node)
{
    if (!t || !node || t->node_count >= INT32_MAX ||
        reserve((void **)&t->nodes, t->node_count, sizeof(*t->nodes)))
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
    }
    return (int32_t)index;
}

int32_t accel__topology_add_link(accel_topology *t, const accel__topo_link *link)
{
    if (!t || !link || link->from >= t->node_count || link->to >= t->node_count ||
        t->link_count >= INT32_MAX || reserve((void **)&t->links, t->link_count, sizeof(*t->links)))
        return -1;
    t->links[t->link_count] = *link;
    return (int32_t)t->link_count++;
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
    n->functions[n->function_count++] = (accel__topo_function){copy, fixed_ns, bytes_per_second, source};
    return 0;
}

const accel__topo_link *accel__topology_find_link(const accel_topology *t, uint32_t from, uint32_t to)
{
    if (!t)
        return NULL;
    for (uint32_t i = 0; i < t->link_count; i++)
        if (t->links[i].from == from && t->links[i].to == to)
            return &t->links[i];
    return NULL;
}

static accel__topo_link *find_link_mut(accel_topology *t, uint32_t from, uint32_t to)
{
    return (accel__topo_link *)accel__topology_find_link(t, from, to);
}

static int32_t find_node(const accel_topology *t, const char *name)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].name && strcmp(t->nodes[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

static bool is_initiator(const accel__topo_node *n)
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
    return t ? t->node_count : 0;
}

uint32_t accel_topology_link_count(const accel_topology *t)
{
    return t ? t->link_count : 0;
}

accel_result accel_topology_get_node(const accel_topology *t, uint32_t index, accel_topology_node *node)
{
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
    if (!t || !mode)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_reach: %s is NULL",
                            t ? "mode" : "topology");
    if (initiator >= t->node_count || !is_initiator(&t->nodes[initiator]))
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
    if (!t || !initiators || !memory || count == 0)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_best_memory_node: %s",
                            !t            ? "topology is NULL"
                            : !initiators ? "initiators is NULL"
                            : !memory     ? "memory is NULL"
                                          : "count is 0");
    for (uint32_t i = 0; i < count; i++)
        if (initiators[i] >= t->node_count || !is_initiator(&t->nodes[initiators[i]]))
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
/* Names                                                                      */

static const char *const memory_kind_names[] = {"unknown", "dram",   "hbm",       "nvm",
                                                "cxl",     "device", "fpga-bank", "host"};
static const char *const link_kind_names[] = {"unknown", "local", "numa",       "pcie",
                                              "nvlink",  "cxl",   "on-package", "fabric"};
static const char *const source_names[] = {"none", "os", "hmat", "driver", "user", "estimate", "measured"};
static const char *const access_names[] = {"none", "zero-copy", "pinned", "staged"};

#define NAME_OF(table, v)                                                                                    \
    ((unsigned)(v) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(v)] : "unknown")

/* The index of s in table, or -1. */
static int name_index(const char *const *table, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i], s) == 0)
            return (int)i;
    return -1;
}
#define NAME_INDEX(table, s) name_index(table, sizeof(table) / sizeof(table[0]), s)

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

static accel_result oom(const char *what)
{
    return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "topology: out of host memory (%s)", what);
}

/* The first index of a node of this kind, or -1. */
static int32_t first_of_kind(const accel_topology *t, accel_topology_node_kind kind)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].kind == kind)
            return (int32_t)i;
    return -1;
}

/* The CPU set node for the CPUs in `cs`: the one equal to it, else the
 * first inside it, else the first overlapping it, else the first. */
static int32_t cpuset_node_for(const accel_topology *t, hwloc_const_bitmap_t cs)
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
    return inside >= 0 ? inside : overlap >= 0 ? overlap : first_of_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET);
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

static uint64_t info_kib(hwloc_obj_t o, const char *name)
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
        return oom("cpuset");
    accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_CPUSET,
                          .name = name,
                          .parent = -1,
                          .cpuset = list,
                          .numa_node = -1,
                          .owner_device = -1,
                          .locality = -1};
    int32_t i = accel__topology_add_node(b->t, &n);
    free(list);
    return i < 0 ? oom("cpuset") : ACCEL_SUCCESS;
}

/* The CPU sets: the distinct, smallest CPU sets of the NUMA nodes (a node
 * without CPUs hangs off a larger set, which is not a CPU set of its own). */
static accel_result host_cpusets(build *b, hwloc_bitmap_t **sets_out)
{
    hwloc_topology_t hw = b->hw;
    int n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    hwloc_obj_t *cand = accel__calloc((size_t)(n > 0 ? n : 1), sizeof(*cand));
    if (!cand)
        return oom("cpusets");
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
        return oom("cpusets");
    for (uint32_t i = 0; i < b->t->node_count; i++) {
        sets[i] = hwloc_bitmap_alloc();
        if (!sets[i] || hwloc_bitmap_list_sscanf(sets[i], b->t->nodes[i].cpuset) < 0) {
            for (uint32_t j = 0; j <= i; j++)
                hwloc_bitmap_free(sets[j]);
            accel__free(sets);
            return oom("cpusets");
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
            n.capacity = info_kib(o, "CXLRAMSize") + info_kib(o, "CXLPMEMSize");
        } else {
            n.memory_kind = hwloc_obj_get_info_by_name(o, "CXLDevice") ? ACCEL_MEMORY_KIND_CXL
                            : dax && strcmp(dax, "NVM") == 0           ? ACCEL_MEMORY_KIND_NVM
                                                                       : ACCEL_MEMORY_KIND_UNKNOWN;
            n.capacity = info_kib(o, "Size");
        }
        anchor = hwloc_get_non_io_ancestor_obj(b->hw, o);
    }
    if (find_node(t, name) >= 0)
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
        return oom("memory node");
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
            return oom("link");
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
            return oom("XML file");
        if (err == EFBIG)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "topology XML %s: larger than %u bytes", xml,
                                XML_FILE_MAX);
        if (err)
            return accel__error(ACCEL_ERROR_IO, "topology XML %s: cannot read: %s", xml, strerror(err));
    }
    if (hwloc_topology_init(&b->hw) < 0) {
        accel__free(data);
        b->hw = NULL;
        return oom("hwloc");
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

/* CPU sets, memory nodes and the links between them. */
static accel_result build_host(build *b, const char *xml)
{
    accel_result r = load_hwloc(b, xml);
    if (r)
        return r;
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
        return first_of_kind(b->t, ACCEL_TOPOLOGY_NODE_CPUSET);
    return cpuset_node_for(b->t, anchor->cpuset);
}

/* ------------------------------------------------------------------------ */
/* Building: devices                                                          */

/* The CPU set a host NUMA node hangs off; -1 if none, -2 if no such node. */
static int32_t numa_cpuset(const accel_topology *t, int32_t numa_node)
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
static accel_result link_device_host(accel_topology *t, uint32_t dev, accel_attach_mode mode)
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
            return oom("link");
    }
    return ACCEL_SUCCESS;
}

/* A device's link to one of its memories; 0 values take the estimate. */
static accel_result link_device_memory(accel_topology *t, uint32_t dev, uint32_t mem, accel_attach_mode mode,
                                       uint64_t bw, uint64_t lat, accel_value_source source)
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
    return accel__topology_add_link(t, &l) < 0 ? oom("link") : ACCEL_SUCCESS;
}

/* The host maps a host-visible device memory over the device's bus. */
static accel_result link_host_visible(accel_topology *t, uint32_t mem)
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
            return oom("link");
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
static accel_result link_shared_memories(accel_topology *t)
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
                    r = oom("links");
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
                    r = oom("link");
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
    for (size_t i = 0; i < STANDARD_COUNT; i++) {
        const char *name = standard_functions[i];
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
            function_estimate(d->info->kind, name, &fixed, &bps);
            source = ACCEL_SOURCE_ESTIMATE;
        }
        if (accel__topology_add_function(t, node, name, fixed, bps, source))
            return oom("function");
    }
    return ACCEL_SUCCESS;
}

/* The driver's hints for the device's memories (bandwidth, latency). */
static void memory_hint(accel_device *d, uint64_t id, uint64_t *bw, uint64_t *lat)
{
    const accel_icd_table *tab = accel__table(d);
    *bw = *lat = 0;
    uint32_t count = 0;
    if (!ACCEL__HAS_ENTRY(tab, device_memory_nodes) ||
        tab->device_memory_nodes(d->icd_device, &count, NULL) != ACCEL_SUCCESS || count == 0 || count > 1024)
        return;
    accel_icd_memory_node_info *infos = accel__calloc(count, sizeof(*infos));
    if (!infos)
        return;
    for (uint32_t i = 0; i < count; i++)
        infos[i].struct_size = sizeof(infos[i]);
    accel_result r = tab->device_memory_nodes(d->icd_device, &count, infos);
    for (uint32_t i = 0; (r == ACCEL_SUCCESS || r == ACCEL_INCOMPLETE) && i < count; i++) {
        if (infos[i].id == id) {
            *bw = infos[i].bandwidth_mbps;
            *lat = infos[i].latency_ns;
            break;
        }
    }
    accel__free(infos);
}

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
    for (uint32_t k = 0; k < d->mem_node_count; k++) {
        const accel_memory_node *mn = d->mem_nodes[k];
        accel_attach_mode mode = d->mem_modes[k];
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
                return oom("memory node");
            if (mn->host_visible && link_host_visible(t, (uint32_t)m))
                return oom("link");
        }
        uint64_t bw, lat;
        memory_hint(d, d->mem_node_ids[k], &bw, &lat);
        accel_result r = link_device_memory(t, node, (uint32_t)m, mode, bw, lat, ACCEL_SOURCE_DRIVER);
        if (r)
            return r;
    }
    return host == ACCEL_ATTACH_NONE ? ACCEL_SUCCESS : link_device_host(t, node, host);
}

/* The CPU set a real device hangs off. */
static int32_t device_locality(build *b, const accel_icd_device_info *info)
{
    int32_t c = -2;
    if (info->numa_node >= 0)
        c = numa_cpuset(b->t, info->numa_node);
    if (c < 0 && info->bus_address[0])
        c = resolve_bus(b, info->bus_address);
    if (c < 0 && info->numa_nodes[0] >= '0' && info->numa_nodes[0] <= '9')
        c = numa_cpuset(b->t, (int32_t)strtol(info->numa_nodes, NULL, 10));
    return c >= 0 ? c : first_of_kind(b->t, ACCEL_TOPOLOGY_NODE_CPUSET);
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
            return oom("device");
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
/* JSON inputs: helpers                                                       */

#define PATH_MAX_LEN 256

static accel_result jfail(const char *source, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static accel_result jfail(const char *source, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: %s: %s", source, path, msg);
}

/* path.key, or path["key"] for keys that are not plain words. */
static void jkey(char *out, const char *path, const char *key)
{
    bool plain = (key[0] < '0' || key[0] > '9') && key[0];
    for (const char *p = key; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain) {
        snprintf(out, PATH_MAX_LEN, "%.*s.%.64s", PATH_MAX_LEN - 72, path, key);
        return;
    }
    char safe[66];
    size_t n = 0;
    for (const char *p = key; *p && n < 64; p++)
        safe[n++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '?' : *p;
    safe[n] = '\0';
    snprintf(out, PATH_MAX_LEN, "%.*s[\"%s\"]", PATH_MAX_LEN - 72, path, safe);
}

static void jidx(char *out, const char *path, size_t i)
{
    snprintf(out, PATH_MAX_LEN, "%.*s[%zu]", PATH_MAX_LEN - 24, path, i);
}

static const char *jtype(json_object *v)
{
    return json_type_to_name(json_object_get_type(v));
}

static accel_result json_parse(const char *source, const char *data, size_t size, json_object **out)
{
    *out = NULL;
    if (size > JSON_FILE_MAX)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: larger than %u bytes", source, JSON_FILE_MAX);
    if (size > 0 && memchr(data, '\0', size))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: not JSON: the file contains a NUL byte",
                            source);
    json_tokener *tok = json_tokener_new_ex(32);
    if (!tok)
        return oom("JSON");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *root = json_tokener_parse_ex(tok, data, (int)size);
    enum json_tokener_error err = json_tokener_get_error(tok);
    bool more = err == json_tokener_continue;
    if (more) {
        /* A number at the very end is complete only once the tokener sees
         * the end of the input: feed it the terminating NUL. */
        root = json_tokener_parse_ex(tok, "", 1);
        err = json_tokener_get_error(tok);
    }
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (more && err != json_tokener_success) {
        json_object_put(root);
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: not JSON: unexpected end of file", source);
    }
    if (err != json_tokener_success)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: not JSON: %s at byte %zu", source,
                            json_tokener_error_desc(err), end);
    for (; end < size; end++) {
        char c = data[end];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            json_object_put(root);
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s: not JSON: trailing data at byte %zu",
                                source, end);
        }
    }
    if (!json_object_is_type(root, json_type_object)) {
        accel_result r = jfail(source, "$", "must be an object, not %s", jtype(root));
        json_object_put(root);
        return r;
    }
    *out = root;
    return ACCEL_SUCCESS;
}

/* Reject keys not in the NULL-terminated list. */
static accel_result check_keys(const char *source, const char *path, json_object *obj,
                               const char *const *known)
{
    json_object_object_foreach(obj, key, val)
    {
        (void)val;
        size_t i = 0;
        while (known[i] && strcmp(known[i], key) != 0)
            i++;
        if (known[i])
            continue;
        char list[256] = "", where[PATH_MAX_LEN];
        for (i = 0; known[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", known[i]);
        jkey(where, path, key);
        return jfail(source, where, "unknown key (known: %s)", list);
    }
    return ACCEL_SUCCESS;
}

static accel_result want(const char *source, const char *path, json_object *v, json_type type)
{
    if (json_object_is_type(v, type))
        return ACCEL_SUCCESS;
    return jfail(source, path, "must be %s %s, not %s",
                 type == json_type_array || type == json_type_object ? "an" : "a", json_type_to_name(type),
                 jtype(v));
}

static accel_result get_u64(const char *source, const char *path, json_object *v, uint64_t max, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int))
        return jfail(source, path, "must be a non-negative integer, not %s", jtype(v));
    int64_t s = json_object_get_int64(v);
    if (s < 0)
        return jfail(source, path, "must not be negative");
    uint64_t u = s == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)s;
    /* json-c clamps what does not fit in 64 bits to the largest value. */
    if (u == UINT64_MAX)
        return jfail(source, path, "is too large");
    if (u > max)
        return jfail(source, path, "must be at most %llu", (unsigned long long)max);
    *out = u;
    return ACCEL_SUCCESS;
}

static accel_result get_string(const char *source, const char *path, json_object *v, const char **out)
{
    accel_result r = want(source, path, v, json_type_string);
    if (r)
        return r;
    const char *s = json_object_get_string(v);
    if (strlen(s) != (size_t)json_object_get_string_len(v))
        return jfail(source, path, "contains a NUL character");
    if (!*s)
        return jfail(source, path, "is empty");
    *out = s;
    return ACCEL_SUCCESS;
}

/* A string from a fixed set; *out gets its index in the table. */
static accel_result get_enum(const char *source, const char *path, json_object *v, const char *const *table,
                             size_t n, const char *allowed, int *out)
{
    const char *s;
    accel_result r = get_string(source, path, v, &s);
    if (r)
        return r;
    int i = name_index(table, n, s);
    if (i < 0 || !strstr(allowed, s))
        return jfail(source, path, "\"%.64s\" is not one of %s", s, allowed);
    *out = i;
    return ACCEL_SUCCESS;
}
#define GET_ENUM(src, path, v, table, allowed, out)                                                          \
    get_enum(src, path, v, table, sizeof(table) / sizeof(table[0]), allowed, out)

/* 1-63 characters of A-Z a-z 0-9 _ - . (driver names allow 64). */
static bool plain_name(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    }
    return n > 0 && n <= max;
}

static bool valid_bus_address(const char *s)
{
    static const char shape[] = "xxxx:xx:xx.x";
    if (strlen(s) != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (shape[i] == 'x' ? !hex : c != shape[i])
            return false;
    }
    return true;
}

/* {"fixed_ns": N, "bytes_per_second": N}, both or neither (then the
 * estimate for the device's kind). */
static accel_result parse_function_map(const char *src, const char *path, json_object *obj, accel_topology *t,
                                       uint32_t node, accel_value_source source)
{
    static const char *const keys[] = {"fixed_ns", "bytes_per_second", NULL};
    accel_result r = want(src, path, obj, json_type_object);
    if (r)
        return r;
    json_object_object_foreach(obj, name, val)
    {
        char where[PATH_MAX_LEN], sub[PATH_MAX_LEN];
        jkey(where, path, name);
        if (!*name || strlen(name) >= ACCEL_MAX_FUNCTION_NAME)
            return jfail(src, where, "a function name must have 1 to %d characters",
                         ACCEL_MAX_FUNCTION_NAME - 1);
        if ((r = want(src, where, val, json_type_object)) || (r = check_keys(src, where, val, keys)))
            return r;
        json_object *fx = NULL, *bx = NULL;
        bool has_fixed = json_object_object_get_ex(val, "fixed_ns", &fx);
        bool has_bps = json_object_object_get_ex(val, "bytes_per_second", &bx);
        uint64_t fixed, bps;
        accel_value_source s = source;
        if (has_fixed != has_bps)
            return jfail(src, where, "give both fixed_ns and bytes_per_second, or neither");
        if (has_fixed) {
            jkey(sub, where, "fixed_ns");
            if ((r = get_u64(src, sub, fx, UINT64_MAX, &fixed)))
                return r;
            jkey(sub, where, "bytes_per_second");
            if ((r = get_u64(src, sub, bx, UINT64_MAX, &bps)))
                return r;
            if (bps == 0)
                return jfail(src, sub, "must be positive");
        } else {
            function_estimate(t->nodes[node].device_kind, name, &fixed, &bps);
            s = ACCEL_SOURCE_ESTIMATE;
        }
        if (accel__topology_add_function(t, node, name, fixed, bps, s))
            return oom("function");
    }
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* JSON inputs: simulated devices                                            */

typedef struct sim_spec {
    const char *driver, *label, *bus_address;
    accel_device_kind kind;
    uint64_t count, pasid_bits, max_address_spaces, available_instances;
    int32_t locality;
    uint32_t flags;
    accel_attach_mode host_access;
    json_object *functions, *memories, *partitions;
} sim_spec;

typedef struct sim_ctx {
    accel_topology *t;
    const char *src;
    accel__topo_bus_resolver resolve;
    void *resolve_ctx;
    uint32_t added;
} sim_ctx;

static uint32_t next_driver_index(const accel_topology *t, const char *driver)
{
    uint32_t next = 0;
    for (uint32_t i = 0; i < t->node_count; i++) {
        const accel__topo_node *n = &t->nodes[i];
        if (n->kind == ACCEL_TOPOLOGY_NODE_DEVICE && n->driver_name && strcmp(n->driver_name, driver) == 0 &&
            n->driver_index >= next)
            next = n->driver_index + 1;
    }
    return next;
}

static accel_result get_instances(const char *src, const char *path, json_object *v, uint64_t *out)
{
    if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), "unlimited") == 0) {
        *out = ACCEL_INSTANCES_UNLIMITED;
        return ACCEL_SUCCESS;
    }
    if (!json_object_is_type(v, json_type_int))
        return jfail(src, path, "must be a non-negative integer or \"unlimited\", not %s", jtype(v));
    return get_u64(src, path, v, ACCEL_INSTANCES_UNLIMITED - 1, out);
}

static accel_result sim_spec_parse(sim_ctx *c, json_object *dev, const char *path, sim_spec *s)
{
    static const char *const keys[] = {"driver",
                                       "name",
                                       "kind",
                                       "count",
                                       "numa_node",
                                       "bus_address",
                                       "flags",
                                       "pasid_bits",
                                       "max_address_spaces",
                                       "available_instances",
                                       "host_access",
                                       "functions",
                                       "memories",
                                       "partitions",
                                       NULL};
    const char *src = c->src;
    char where[PATH_MAX_LEN];
    json_object *v;
    accel_result r;
    memset(s, 0, sizeof(*s));
    s->count = 1;
    s->available_instances = ACCEL_INSTANCES_UNLIMITED;
    if ((r = want(src, path, dev, json_type_object)) || (r = check_keys(src, path, dev, keys)))
        return r;

    jkey(where, path, "driver");
    if (!json_object_object_get_ex(dev, "driver", &v))
        return jfail(src, where, "missing");
    if ((r = get_string(src, where, v, &s->driver)))
        return r;
    if (!plain_name(s->driver, 64))
        return jfail(src, where, "\"%.64s\" must be 1-64 characters of A-Z a-z 0-9 _ - .", s->driver);

    jkey(where, path, "kind");
    int kind;
    if (!json_object_object_get_ex(dev, "kind", &v))
        return jfail(src, where, "missing");
    static const char *const kinds[] = {"unknown", "cpu", "gpu", "fpga", "asic"};
    if ((r = GET_ENUM(src, where, v, kinds, "cpu, gpu, fpga, asic", &kind)))
        return r;
    s->kind = (accel_device_kind)kind;

    jkey(where, path, "name");
    if (json_object_object_get_ex(dev, "name", &v) && (r = get_string(src, where, v, &s->label)))
        return r;
    jkey(where, path, "count");
    if (json_object_object_get_ex(dev, "count", &v) && (r = get_u64(src, where, v, MAX_SIMULATED, &s->count)))
        return r;
    if (s->count == 0)
        return jfail(src, where, "must be at least 1");

    json_object *numa = NULL, *bus = NULL;
    json_object_object_get_ex(dev, "numa_node", &numa);
    json_object_object_get_ex(dev, "bus_address", &bus);
    s->locality = first_of_kind(c->t, ACCEL_TOPOLOGY_NODE_CPUSET);
    if (numa && bus)
        return jfail(src, path, "give numa_node or bus_address, not both");
    if (numa) {
        uint64_t n;
        jkey(where, path, "numa_node");
        if ((r = get_u64(src, where, numa, INT32_MAX, &n)))
            return r;
        int32_t cs = numa_cpuset(c->t, (int32_t)n);
        if (cs == -2)
            return jfail(src, where, "the host (%s) has no NUMA node %llu",
                         c->t->source ? c->t->source : "none", (unsigned long long)n);
        if (cs >= 0)
            s->locality = cs;
    }
    if (bus) {
        jkey(where, path, "bus_address");
        if ((r = get_string(src, where, bus, &s->bus_address)))
            return r;
        if (!valid_bus_address(s->bus_address))
            return jfail(src, where, "\"%.64s\" is not a PCI address DDDD:BB:DD.F", s->bus_address);
        int32_t cs = c->resolve ? c->resolve(c->resolve_ctx, s->bus_address) : -1;
        if (cs < 0)
            return jfail(src, where, "the host (%s) has no PCI device %s",
                         c->t->source ? c->t->source : "none", s->bus_address);
        s->locality = cs;
    }

    jkey(where, path, "flags");
    if (json_object_object_get_ex(dev, "flags", &v)) {
        if ((r = want(src, where, v, json_type_array)))
            return r;
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            char item[PATH_MAX_LEN];
            int f;
            static const char *const flag_names[] = {"sva", "isolated"};
            jidx(item, where, i);
            if ((r = GET_ENUM(src, item, json_object_array_get_idx(v, i), flag_names, "sva, isolated", &f)))
                return r;
            s->flags |= f == 0 ? ACCEL_DEVICE_FLAG_SVA : ACCEL_DEVICE_FLAG_ISOLATED;
        }
    }
    jkey(where, path, "pasid_bits");
    if (json_object_object_get_ex(dev, "pasid_bits", &v) && (r = get_u64(src, where, v, 32, &s->pasid_bits)))
        return r;
    jkey(where, path, "max_address_spaces");
    if (json_object_object_get_ex(dev, "max_address_spaces", &v) &&
        (r = get_u64(src, where, v, UINT32_MAX, &s->max_address_spaces)))
        return r;
    jkey(where, path, "available_instances");
    if (json_object_object_get_ex(dev, "available_instances", &v) &&
        (r = get_instances(src, where, v, &s->available_instances)))
        return r;

    s->host_access = s->kind == ACCEL_DEVICE_KIND_CPU || (s->flags & ACCEL_DEVICE_FLAG_SVA)
                         ? ACCEL_ATTACH_ZERO_COPY
                         : ACCEL_ATTACH_PINNED;
    jkey(where, path, "host_access");
    if (json_object_object_get_ex(dev, "host_access", &v)) {
        int a;
        if ((r = GET_ENUM(src, where, v, access_names, "zero-copy, pinned, none", &a)))
            return r;
        s->host_access = (accel_attach_mode)a;
    }
    json_object_object_get_ex(dev, "functions", &s->functions);
    json_object_object_get_ex(dev, "memories", &s->memories);
    json_object_object_get_ex(dev, "partitions", &s->partitions);
    uint64_t per_replica = 1;
    if (s->partitions && json_object_is_type(s->partitions, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(s->partitions); i++) {
            json_object *p = json_object_array_get_idx(s->partitions, i), *pc;
            int64_t n = json_object_is_type(p, json_type_object) &&
                                json_object_object_get_ex(p, "count", &pc) &&
                                json_object_is_type(pc, json_type_int)
                            ? json_object_get_int64(pc)
                            : 1;
            per_replica += n < 1 ? 1 : n > MAX_SIMULATED ? MAX_SIMULATED + 1 : (uint64_t)n;
            if (per_replica > MAX_SIMULATED)
                break;
        }
    }
    if (per_replica > MAX_SIMULATED || s->count * per_replica > MAX_SIMULATED - c->added)
        return jfail(src, path, "more than %u simulated devices in all", MAX_SIMULATED);
    return ACCEL_SUCCESS;
}

static accel_result sim_add_node(sim_ctx *c, const sim_spec *s, const char *label, uint32_t flags,
                                 uint64_t instances, uint64_t address_spaces, int32_t parent, uint32_t *out)
{
    char name[96];
    uint32_t index = next_driver_index(c->t, s->driver);
    snprintf(name, sizeof(name), "%s:%u", s->driver, index);
    accel__topo_node n = {
        .kind = ACCEL_TOPOLOGY_NODE_DEVICE,
        .name = name,
        .parent = parent,
        .numa_node = -1,
        .owner_device = -1,
        .device_kind = s->kind,
        .driver_name = (char *)s->driver,
        .driver_index = index,
        .bus_address = (char *)s->bus_address,
        .device_flags = flags,
        .pasid_bits = (uint32_t)s->pasid_bits,
        .max_address_spaces = (uint32_t)address_spaces,
        .available_instances = (uint32_t)instances,
        .locality = s->locality,
        .label = (char *)label,
    };
    int32_t i = accel__topology_add_node(c->t, &n);
    if (i < 0)
        return oom("device");
    c->added++;
    *out = (uint32_t)i;
    return ACCEL_SUCCESS;
}

static accel_result sim_memories(sim_ctx *c, const sim_spec *s, const char *path, uint32_t dev)
{
    static const char *const keys[] = {"name",       "kind",   "capacity",     "bandwidth_mbps",
                                       "latency_ns", "access", "host_visible", NULL};
    const char *src = c->src;
    char where[PATH_MAX_LEN], item[PATH_MAX_LEN];
    accel_result r;
    jkey(where, path, "memories");
    if ((r = want(src, where, s->memories, json_type_array)))
        return r;
    for (size_t i = 0; i < json_object_array_length(s->memories); i++) {
        json_object *m = json_object_array_get_idx(s->memories, i), *v;
        jidx(item, where, i);
        if ((r = want(src, item, m, json_type_object)) || (r = check_keys(src, item, m, keys)))
            return r;
        char sub[PATH_MAX_LEN], name[160];
        const char *mname;
        int kind, access = ACCEL_ATTACH_ZERO_COPY;
        uint64_t capacity = 0, bw = 0, lat = 0;
        jkey(sub, item, "name");
        if (!json_object_object_get_ex(m, "name", &v))
            return jfail(src, sub, "missing");
        if ((r = get_string(src, sub, v, &mname)))
            return r;
        if (!plain_name(mname, 63))
            return jfail(src, sub, "\"%.64s\" must be 1-63 characters of A-Z a-z 0-9 _ - .", mname);
        snprintf(name, sizeof(name), "%s:%s", c->t->nodes[dev].name, mname);
        if (find_node(c->t, name) >= 0)
            return jfail(src, sub, "a second memory named \"%s\"", mname);
        jkey(sub, item, "kind");
        if (!json_object_object_get_ex(m, "kind", &v))
            return jfail(src, sub, "missing");
        if ((r = GET_ENUM(src, sub, v, memory_kind_names, "dram, hbm, nvm, cxl, device, fpga-bank", &kind)))
            return r;
        jkey(sub, item, "capacity");
        if (json_object_object_get_ex(m, "capacity", &v) && (r = get_u64(src, sub, v, UINT64_MAX, &capacity)))
            return r;
        jkey(sub, item, "bandwidth_mbps");
        if (json_object_object_get_ex(m, "bandwidth_mbps", &v) && (r = get_u64(src, sub, v, UINT64_MAX, &bw)))
            return r;
        jkey(sub, item, "latency_ns");
        if (json_object_object_get_ex(m, "latency_ns", &v) && (r = get_u64(src, sub, v, UINT64_MAX, &lat)))
            return r;
        jkey(sub, item, "access");
        if (json_object_object_get_ex(m, "access", &v) &&
            (r = GET_ENUM(src, sub, v, access_names, "zero-copy, pinned", &access)))
            return r;
        bool host_visible = false;
        jkey(sub, item, "host_visible");
        if (json_object_object_get_ex(m, "host_visible", &v)) {
            if ((r = want(src, sub, v, json_type_boolean)))
                return r;
            host_visible = json_object_get_boolean(v);
        }
        accel__topo_node n = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                              .name = name,
                              .parent = (int32_t)dev,
                              .memory_kind = (accel_memory_kind)kind,
                              .capacity = capacity,
                              .numa_node = -1,
                              .owner_device = (int32_t)dev,
                              .locality = -1};
        int32_t mi = accel__topology_add_node(c->t, &n);
        if (mi < 0)
            return oom("memory node");
        if ((r = link_device_memory(c->t, dev, (uint32_t)mi, (accel_attach_mode)access, bw, lat,
                                    ACCEL_SOURCE_USER)))
            return r;
        if (host_visible && (r = link_host_visible(c->t, (uint32_t)mi)))
            return r;
    }
    return ACCEL_SUCCESS;
}

static accel_result sim_partitions(sim_ctx *c, const sim_spec *s, const char *path, uint32_t whole)
{
    static const char *const keys[] = {"count",     "name", "available_instances", "max_address_spaces",
                                       "functions", NULL};
    const char *src = c->src;
    char where[PATH_MAX_LEN], item[PATH_MAX_LEN], sub[PATH_MAX_LEN];
    accel_result r;
    jkey(where, path, "partitions");
    if ((r = want(src, where, s->partitions, json_type_array)))
        return r;
    for (size_t i = 0; i < json_object_array_length(s->partitions); i++) {
        json_object *p = json_object_array_get_idx(s->partitions, i), *v;
        const char *label = NULL;
        uint64_t count = 1, instances = s->available_instances, spaces = s->max_address_spaces;
        jidx(item, where, i);
        if ((r = want(src, item, p, json_type_object)) || (r = check_keys(src, item, p, keys)))
            return r;
        jkey(sub, item, "count");
        if (json_object_object_get_ex(p, "count", &v) && (r = get_u64(src, sub, v, MAX_SIMULATED, &count)))
            return r;
        if (count == 0)
            return jfail(src, sub, "must be at least 1");
        jkey(sub, item, "name");
        if (json_object_object_get_ex(p, "name", &v) && (r = get_string(src, sub, v, &label)))
            return r;
        jkey(sub, item, "available_instances");
        if (json_object_object_get_ex(p, "available_instances", &v) &&
            (r = get_instances(src, sub, v, &instances)))
            return r;
        jkey(sub, item, "max_address_spaces");
        if (json_object_object_get_ex(p, "max_address_spaces", &v) &&
            (r = get_u64(src, sub, v, UINT32_MAX, &spaces)))
            return r;
        json_object *fns = NULL;
        json_object_object_get_ex(p, "functions", &fns);
        for (uint64_t k = 0; k < count; k++) {
            uint32_t part;
            if ((r = sim_add_node(c, s, label, c->t->nodes[whole].device_flags | ACCEL_DEVICE_FLAG_PARTITION,
                                  instances, spaces, (int32_t)whole, &part)))
                return r;
            /* The whole device's memories and functions, then its own. */
            uint32_t links = c->t->link_count;
            for (uint32_t l = 0; l < links; l++) {
                accel__topo_link copy = c->t->links[l];
                if (copy.from != whole || c->t->nodes[copy.to].owner_device != (int32_t)whole)
                    continue;
                copy.from = part;
                if (accel__topology_add_link(c->t, &copy) < 0)
                    return oom("link");
            }
            if (s->host_access != ACCEL_ATTACH_NONE && (r = link_device_host(c->t, part, s->host_access)))
                return r;
            for (uint32_t f = 0; f < c->t->nodes[whole].function_count; f++) {
                const accel__topo_function fn = c->t->nodes[whole].functions[f];
                if (accel__topology_add_function(c->t, part, fn.name, fn.fixed_ns, fn.bytes_per_second,
                                                 fn.source))
                    return oom("function");
            }
            jkey(sub, item, "functions");
            if (fns && (r = parse_function_map(src, sub, fns, c->t, part, ACCEL_SOURCE_USER)))
                return r;
        }
    }
    return ACCEL_SUCCESS;
}

static accel_result sim_device(sim_ctx *c, json_object *dev, const char *path)
{
    sim_spec s;
    accel_result r = sim_spec_parse(c, dev, path, &s);
    if (r)
        return r;
    char where[PATH_MAX_LEN];
    for (uint64_t k = 0; k < s.count; k++) {
        uint32_t node;
        if ((r = sim_add_node(c, &s, s.label, s.flags, s.available_instances, s.max_address_spaces,
                              s.locality, &node)))
            return r;
        if (s.memories && (r = sim_memories(c, &s, path, node)))
            return r;
        if (s.host_access != ACCEL_ATTACH_NONE && (r = link_device_host(c->t, node, s.host_access)))
            return r;
        jkey(where, path, "functions");
        if (s.functions &&
            (r = parse_function_map(c->src, where, s.functions, c->t, node, ACCEL_SOURCE_USER)))
            return r;
        if (s.partitions && (r = sim_partitions(c, &s, path, node)))
            return r;
    }
    return ACCEL_SUCCESS;
}

/* Both files may say which version of their format they follow. */
static accel_result check_version(const char *src, json_object *root)
{
    json_object *v;
    uint64_t version;
    if (!json_object_object_get_ex(root, "version", &v))
        return ACCEL_SUCCESS;
    accel_result r = get_u64(src, "$.version", v, UINT32_MAX, &version);
    if (r)
        return r;
    if (version != 1)
        return jfail(src, "$.version", "version %llu is not supported (this loader reads version 1)",
                     (unsigned long long)version);
    return ACCEL_SUCCESS;
}

accel_result accel__topology_add_simulated(accel_topology *t, const char *json, size_t size,
                                           const char *source, accel__topo_bus_resolver resolve, void *ctx)
{
    static const char *const keys[] = {"version", "devices", NULL};
    if (!t || (!json && size))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "simulated devices: %s is NULL",
                            t ? "json" : "topology");
    if (!source)
        source = "simulated devices";
    json_object *root, *devices;
    accel_result r = json_parse(source, json ? json : "", size, &root);
    if (r)
        return r;
    if ((r = check_keys(source, "$", root, keys)) || (r = check_version(source, root)))
        goto out;
    if (!json_object_object_get_ex(root, "devices", &devices)) {
        r = jfail(source, "$.devices", "missing");
        goto out;
    }
    if ((r = want(source, "$.devices", devices, json_type_array)))
        goto out;
    sim_ctx c = {.t = t, .src = source, .resolve = resolve, .resolve_ctx = ctx};
    for (size_t i = 0; i < json_object_array_length(devices) && !r; i++) {
        char path[PATH_MAX_LEN];
        jidx(path, "$.devices", i);
        r = sim_device(&c, json_object_array_get_idx(devices, i), path);
    }
    if (!r)
        r = link_shared_memories(t);
out:
    json_object_put(root);
    return r;
}

/* ------------------------------------------------------------------------ */
/* JSON inputs: the user file                                                 */

static accel_result node_by_name(const accel_topology *t, const char *src, const char *path, json_object *v,
                                 int32_t *out)
{
    const char *name;
    accel_result r = get_string(src, path, v, &name);
    if (r)
        return r;
    if ((*out = find_node(t, name)) < 0)
        return jfail(src, path, "the topology has no node named \"%.64s\"", name);
    return ACCEL_SUCCESS;
}

static accel_result user_link(accel_topology *t, const char *src, const char *path, json_object *o)
{
    static const char *const keys[] = {"from", "to", "bandwidth_mbps", "latency_ns", "kind", "access", NULL};
    char sub[PATH_MAX_LEN];
    json_object *v, *bwv = NULL, *latv = NULL, *kindv = NULL, *accv = NULL;
    int32_t from, to;
    accel_result r;
    if ((r = want(src, path, o, json_type_object)) || (r = check_keys(src, path, o, keys)))
        return r;
    jkey(sub, path, "from");
    if (!json_object_object_get_ex(o, "from", &v))
        return jfail(src, sub, "missing");
    if ((r = node_by_name(t, src, sub, v, &from)))
        return r;
    if (!is_initiator(&t->nodes[from]))
        return jfail(src, sub, "\"%s\" is not a CPU set or a device", t->nodes[from].name);
    jkey(sub, path, "to");
    if (!json_object_object_get_ex(o, "to", &v))
        return jfail(src, sub, "missing");
    if ((r = node_by_name(t, src, sub, v, &to)))
        return r;
    accel_topology_node_kind tk = t->nodes[to].kind;
    if (!(tk == ACCEL_TOPOLOGY_NODE_MEMORY ||
          (tk == ACCEL_TOPOLOGY_NODE_DEVICE && t->nodes[from].kind == ACCEL_TOPOLOGY_NODE_DEVICE &&
           to != from)))
        return jfail(src, sub, "\"%s\" is not a memory node%s", t->nodes[to].name,
                     t->nodes[from].kind == ACCEL_TOPOLOGY_NODE_DEVICE ? " or another device" : "");
    json_object_object_get_ex(o, "bandwidth_mbps", &bwv);
    json_object_object_get_ex(o, "latency_ns", &latv);
    json_object_object_get_ex(o, "kind", &kindv);
    json_object_object_get_ex(o, "access", &accv);
    uint64_t bw = 0, lat = 0;
    int kind = ACCEL_LINK_UNKNOWN, access = ACCEL_ATTACH_ZERO_COPY;
    jkey(sub, path, "bandwidth_mbps");
    if (bwv && (r = get_u64(src, sub, bwv, UINT64_MAX, &bw)))
        return r;
    jkey(sub, path, "latency_ns");
    if (latv && (r = get_u64(src, sub, latv, UINT64_MAX, &lat)))
        return r;
    jkey(sub, path, "kind");
    if (kindv && (r = GET_ENUM(src, sub, kindv, link_kind_names,
                               "unknown, local, numa, pcie, nvlink, cxl, on-package, fabric", &kind)))
        return r;
    jkey(sub, path, "access");
    if (accv && (r = GET_ENUM(src, sub, accv, access_names, "zero-copy, pinned, none", &access)))
        return r;
    if (!bwv && !latv && !kindv && !accv)
        return jfail(src, path, "nothing to change: give bandwidth_mbps, latency_ns, kind or access");
    accel__topo_link *l = find_link_mut(t, (uint32_t)from, (uint32_t)to);
    if (access == ACCEL_ATTACH_NONE) {
        /* The initiator does not reach it after all. */
        if (bwv || latv || kindv)
            return jfail(src, path, "access \"none\" removes the link: give no other values with it");
        if (l) {
            size_t at = (size_t)(l - t->links);
            memmove(l, l + 1, (t->link_count - at - 1) * sizeof(*l));
            t->link_count--;
        }
        return ACCEL_SUCCESS;
    }
    if (!l) {
        accel__topo_link n = {.from = (uint32_t)from,
                              .to = (uint32_t)to,
                              .kind = ACCEL_LINK_UNKNOWN,
                              .access = ACCEL_ATTACH_ZERO_COPY};
        int32_t i = accel__topology_add_link(t, &n);
        if (i < 0)
            return oom("link");
        l = &t->links[i];
    }
    if (bwv) {
        l->bandwidth_mbps = bw;
        l->bandwidth_source = ACCEL_SOURCE_USER;
    }
    if (latv) {
        l->latency_ns = lat;
        l->latency_source = ACCEL_SOURCE_USER;
    }
    if (kindv)
        l->kind = (accel_link_kind)kind;
    if (accv)
        l->access = (accel_attach_mode)access;
    return ACCEL_SUCCESS;
}

static accel_result user_function(accel_topology *t, const char *src, const char *path, json_object *o)
{
    static const char *const keys[] = {"device", "function", "fixed_ns", "bytes_per_second", NULL};
    char sub[PATH_MAX_LEN];
    json_object *v, *fx = NULL, *bx = NULL;
    int32_t dev;
    const char *name;
    uint64_t fixed = 0, bps = 0;
    accel_result r;
    if ((r = want(src, path, o, json_type_object)) || (r = check_keys(src, path, o, keys)))
        return r;
    jkey(sub, path, "device");
    if (!json_object_object_get_ex(o, "device", &v))
        return jfail(src, sub, "missing");
    if ((r = node_by_name(t, src, sub, v, &dev)))
        return r;
    if (t->nodes[dev].kind != ACCEL_TOPOLOGY_NODE_DEVICE)
        return jfail(src, sub, "\"%s\" is not a device", t->nodes[dev].name);
    jkey(sub, path, "function");
    if (!json_object_object_get_ex(o, "function", &v))
        return jfail(src, sub, "missing");
    if ((r = get_string(src, sub, v, &name)))
        return r;
    accel__topo_node *n = &t->nodes[dev];
    accel__topo_function *f = NULL;
    for (uint32_t i = 0; i < n->function_count && !f; i++)
        if (strcmp(n->functions[i].name, name) == 0)
            f = &n->functions[i];
    if (!f)
        return jfail(src, sub, "%s offers no function \"%.64s\"", n->name, name);
    json_object_object_get_ex(o, "fixed_ns", &fx);
    json_object_object_get_ex(o, "bytes_per_second", &bx);
    if (!fx && !bx)
        return jfail(src, path, "nothing to change: give fixed_ns or bytes_per_second");
    jkey(sub, path, "fixed_ns");
    if (fx && (r = get_u64(src, sub, fx, UINT64_MAX, &fixed)))
        return r;
    jkey(sub, path, "bytes_per_second");
    if (bx && (r = get_u64(src, sub, bx, UINT64_MAX, &bps)))
        return r;
    if (bx && bps == 0)
        return jfail(src, sub, "must be positive");
    if (fx)
        f->fixed_ns = fixed;
    if (bx)
        f->bytes_per_second = bps;
    f->source = ACCEL_SOURCE_USER;
    return ACCEL_SUCCESS;
}

accel_result accel__topology_apply_user(accel_topology *t, const char *json, size_t size, const char *source)
{
    static const char *const keys[] = {"version", "links", "functions", NULL};
    if (!t || (!json && size))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "topology user file: %s is NULL",
                            t ? "json" : "topology");
    if (!source)
        source = "topology user file";
    json_object *root, *v;
    accel_result r = json_parse(source, json ? json : "", size, &root);
    if (r)
        return r;
    if ((r = check_keys(source, "$", root, keys)) || (r = check_version(source, root)))
        goto out;
    static const char *const lists[] = {"links", "functions"};
    for (size_t k = 0; k < 2 && !r; k++) {
        char where[PATH_MAX_LEN], item[PATH_MAX_LEN];
        if (!json_object_object_get_ex(root, lists[k], &v))
            continue;
        jkey(where, "$", lists[k]);
        if ((r = want(source, where, v, json_type_array)))
            break;
        for (size_t i = 0; i < json_object_array_length(v) && !r; i++) {
            jidx(item, where, i);
            json_object *o = json_object_array_get_idx(v, i);
            r = k == 0 ? user_link(t, source, item, o) : user_function(t, source, item, o);
        }
    }
out:
    json_object_put(root);
    return r;
}

/* ------------------------------------------------------------------------ */
/* JSON inputs: the calibration cache                                        */

static bool parse_uuid(const char *s, uint8_t uuid[ACCEL_UUID_SIZE])
{
    if (strlen(s) != 2 * ACCEL_UUID_SIZE)
        return false;
    for (size_t i = 0; i < 2 * ACCEL_UUID_SIZE; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        if (i % 2 == 0)
            uuid[i / 2] = (uint8_t)(v << 4);
        else
            uuid[i / 2] |= (uint8_t)v;
    }
    return true;
}

/* Check (apply = false) or apply every entry. */
static accel_result calibration_walk(accel_topology *t, const char *src, json_object *devices, bool apply)
{
    static const char *const keys[] = {"fixed_ns", "bytes_per_second", NULL};
    static const uint8_t zero[ACCEL_UUID_SIZE];
    accel_result r;
    json_object_object_foreach(devices, id, fns)
    {
        char where[PATH_MAX_LEN], fwhere[PATH_MAX_LEN], sub[PATH_MAX_LEN];
        uint8_t uuid[ACCEL_UUID_SIZE];
        jkey(where, "$.devices", id);
        if (!parse_uuid(id, uuid))
            return jfail(src, where, "a device uuid is 32 lowercase hexadecimal digits");
        if ((r = want(src, where, fns, json_type_object)))
            return r;
        json_object_object_foreach(fns, fname, cost)
        {
            json_object *fx, *bx;
            uint64_t fixed, bps;
            jkey(fwhere, where, fname);
            if ((r = want(src, fwhere, cost, json_type_object)) || (r = check_keys(src, fwhere, cost, keys)))
                return r;
            jkey(sub, fwhere, "fixed_ns");
            if (!json_object_object_get_ex(cost, "fixed_ns", &fx))
                return jfail(src, sub, "missing");
            if ((r = get_u64(src, sub, fx, UINT64_MAX, &fixed)))
                return r;
            jkey(sub, fwhere, "bytes_per_second");
            if (!json_object_object_get_ex(cost, "bytes_per_second", &bx))
                return jfail(src, sub, "missing");
            if ((r = get_u64(src, sub, bx, UINT64_MAX, &bps)))
                return r;
            if (bps == 0)
                return jfail(src, sub, "must be positive");
            if (!apply || memcmp(uuid, zero, sizeof(zero)) == 0)
                continue;
            /* Every device with this uuid (a device and its replicas), for
             * the functions it offers. */
            for (uint32_t n = 0; n < t->node_count; n++) {
                accel__topo_node *d = &t->nodes[n];
                if (d->kind != ACCEL_TOPOLOGY_NODE_DEVICE || memcmp(d->uuid, uuid, sizeof(uuid)) != 0)
                    continue;
                for (uint32_t k = 0; k < d->function_count; k++) {
                    if (strcmp(d->functions[k].name, fname) == 0) {
                        d->functions[k].fixed_ns = fixed;
                        d->functions[k].bytes_per_second = bps;
                        d->functions[k].source = ACCEL_SOURCE_MEASURED;
                    }
                }
            }
        }
    }
    return ACCEL_SUCCESS;
}

accel_result accel__topology_apply_calibration(accel_topology *t, const char *json, size_t size,
                                               const char *source)
{
    static const char *const keys[] = {"version", "devices", NULL};
    if (!t || (!json && size))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "calibration cache: %s is NULL",
                            t ? "json" : "topology");
    if (!source)
        source = "calibration cache";
    json_object *root, *devices;
    accel_result r = json_parse(source, json ? json : "", size, &root);
    if (r)
        return r;
    if ((r = check_keys(source, "$", root, keys)))
        goto out;
    if (!json_object_object_get_ex(root, "version", &devices)) {
        r = jfail(source, "$.version", "missing");
        goto out;
    }
    if ((r = check_version(source, root)))
        goto out;
    if (!json_object_object_get_ex(root, "devices", &devices)) {
        r = jfail(source, "$.devices", "missing");
        goto out;
    }
    if (!(r = want(source, "$.devices", devices, json_type_object)) &&
        !(r = calibration_walk(t, source, devices, false)))
        r = calibration_walk(t, source, devices, true);
out:
    json_object_put(root);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Building: the whole                                                        */

/* Read a JSON input file, or say why not. */
static accel_result read_json_file(const char *what, const char *path, char **data, size_t *size)
{
    int err = accel__read_file(path, JSON_FILE_MAX, data, size);
    if (err == ENOMEM)
        return oom(what);
    if (err == EFBIG)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "%s %s: larger than %u bytes", what, path,
                            JSON_FILE_MAX);
    if (err)
        return accel__error(ACCEL_ERROR_IO, "%s %s: cannot read: %s", what, path, strerror(err));
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
        r = oom("calibration cache");
    } else if (err && err != ENOENT) {
        accel__log(b->log, ACCEL_LOG_WARN, "topology: calibration cache %s ignored: cannot read: %s", path,
                   strerror(err));
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
    r = simulated ? accel__topology_add_simulated(b->t, data, size, path, resolve_bus, b)
                  : accel__topology_apply_user(b->t, data, size, path);
    accel__free(data);
    return r;
}

#define OPTIONS_MIN_SIZE     (offsetof(accel_topology_options, simulated_devices) + sizeof(const char *))
#define KNOWN_TOPOLOGY_FLAGS ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES

accel_result accel_topology_create(accel_instance *inst, const accel_topology_options *options,
                                   accel_topology **out)
{
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
        return oom("topology");
    }
    b.t->instance = inst;
    accel_result r = build_host(&b, xml);
    if (!r && inst && !(o.flags & ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES))
        r = add_instance_devices(&b);
    if (!r && o.simulated_devices)
        r = apply_file(&b, "simulated devices", o.simulated_devices, true);
    if (!r)
        r = link_shared_memories(b.t);
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

/* ------------------------------------------------------------------------ */
/* Export                                                                     */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = accel__realloc(b->s, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A DOT string: quoted, with \n in s written as a line break. */
static void sb_quoted(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; s && *s; s++) {
        if (*s == '\n')
            sb_add(b, "\\n", 2);
        else if (*s == '"' || *s == '\\')
            sb_printf(b, "\\%c", *s);
        else if ((unsigned char)*s >= 0x20)
            sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}

static void format_bytes(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    double v = (double)bytes;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, v == (double)(uint64_t)v ? "%.0f %s" : "%.1f %s", v, units[u]);
}

static void dot_node(sbuf *b, const accel_topology *t, uint32_t i, const char *indent)
{
    static const char *const memory_kind_labels[] = {"memory", "DRAM",   "HBM",       "NVM",
                                                     "CXL",    "device", "FPGA bank", "host"};
    const accel__topo_node *n = &t->nodes[i];
    char label[640], cap[32];
    const char *shape, *fill;
    switch (n->kind) {
    case ACCEL_TOPOLOGY_NODE_CPUSET:
        snprintf(label, sizeof(label), "%s\nCPUs %.200s", n->name, n->cpuset ? n->cpuset : "?");
        shape = "box";
        fill = "#dbe6f4";
        break;
    case ACCEL_TOPOLOGY_NODE_MEMORY:
        format_bytes(cap, sizeof(cap), n->capacity);
        snprintf(label, sizeof(label), "%s\n%s%s%s", n->name, NAME_OF(memory_kind_labels, n->memory_kind),
                 n->capacity ? ", " : "", n->capacity ? cap : "");
        shape = "cylinder";
        fill = n->owner_device >= 0 ? "#f6dfc4" : "#f4edd3";
        break;
    default: {
        size_t k = (size_t)snprintf(label, sizeof(label), "%s%s\n", n->name, n->device ? "" : " (simulated)");
        if (n->label)
            k += (size_t)snprintf(label + k, sizeof(label) - k, "%.120s\n", n->label);
        if (k < sizeof(label))
            snprintf(label + k, sizeof(label) - k, "%s%s, %u function(s)",
                     accel_device_kind_string(n->device_kind),
                     (n->device_flags & ACCEL_DEVICE_FLAG_SVA) ? ", sva" : "", n->function_count);
        shape = "box";
        fill = n->device ? "#d8eed8" : "#ececec";
        break;
    }
    }
    sb_printf(b, "%s", indent);
    sb_quoted(b, n->name);
    sb_printf(b, " [shape=%s, style=\"filled%s\", fillcolor=\"%s\", label=", shape,
              n->kind == ACCEL_TOPOLOGY_NODE_DEVICE ? ",rounded" : "", fill);
    sb_quoted(b, label);
    sb_printf(b, "];\n");
}

/* The CPU set whose cluster a node is drawn in, or -1. */
static int32_t cluster_of(const accel_topology *t, uint32_t i)
{
    const accel__topo_node *n = &t->nodes[i];
    switch (n->kind) {
    case ACCEL_TOPOLOGY_NODE_CPUSET: return (int32_t)i;
    case ACCEL_TOPOLOGY_NODE_DEVICE: return n->locality;
    default:
        if (n->owner_device >= 0)
            return t->nodes[n->owner_device].locality;
        return n->parent >= 0 && t->nodes[n->parent].kind == ACCEL_TOPOLOGY_NODE_CPUSET ? n->parent : -1;
    }
}

static void dot_value(char *buf, size_t size, uint64_t v, const char *unit)
{
    if (v)
        snprintf(buf, size, "%llu %s", (unsigned long long)v, unit);
    else
        snprintf(buf, size, "? %s", unit);
}

static void export_dot(const accel_topology *t, sbuf *b)
{
    sb_printf(b, "digraph topology {\n");
    sb_printf(
        b, "  graph [fontname=\"Helvetica\", fontsize=12, labelloc=t, rankdir=LR, newrank=true, nodesep=0.3, "
           "ranksep=0.9, label=");
    char title[600];
    snprintf(title, sizeof(title), "accel-loader topology: %.500s", t->source ? t->source : "");
    sb_quoted(b, title);
    sb_printf(
        b,
        "];\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n");
    for (uint32_t c = 0; c < t->node_count; c++) {
        if (t->nodes[c].kind != ACCEL_TOPOLOGY_NODE_CPUSET)
            continue;
        sb_printf(b, "  subgraph \"cluster_%u\" {\n    style=\"rounded\"; color=\"#8899aa\"; label=", c);
        sb_quoted(b, t->nodes[c].name);
        sb_printf(b, ";\n");
        for (uint32_t i = 0; i < t->node_count; i++)
            if (cluster_of(t, i) == (int32_t)c)
                dot_node(b, t, i, "    ");
        sb_printf(b, "  }\n");
    }
    for (uint32_t i = 0; i < t->node_count; i++) {
        int32_t c = cluster_of(t, i);
        if (c < 0 || t->nodes[c].kind != ACCEL_TOPOLOGY_NODE_CPUSET)
            dot_node(b, t, i, "  ");
    }
    /* Partitions hang off their whole device (a shape, not a link). */
    for (uint32_t i = 0; i < t->node_count; i++) {
        int32_t p = t->nodes[i].parent;
        if (t->nodes[i].kind != ACCEL_TOPOLOGY_NODE_DEVICE || p < 0 ||
            t->nodes[p].kind != ACCEL_TOPOLOGY_NODE_DEVICE)
            continue;
        sb_printf(b, "  ");
        sb_quoted(b, t->nodes[p].name);
        sb_printf(b, " -> ");
        sb_quoted(b, t->nodes[i].name);
        sb_printf(
            b,
            " [style=dotted, color=\"#888888\", arrowhead=none, label=\"part\", fontcolor=\"#888888\"];\n");
    }
    for (uint32_t i = 0; i < t->link_count; i++) {
        const accel__topo_link *l = &t->links[i];
        bool peer = t->nodes[l->to].kind == ACCEL_TOPOLOGY_NODE_DEVICE;
        const accel__topo_link *back = peer ? accel__topology_find_link(t, l->to, l->from) : NULL;
        if (back && l->from > l->to)
            continue; /* drawn once, both ways */
        char bw[48], lat[48], label[256];
        dot_value(bw, sizeof(bw), l->bandwidth_mbps, "MB/s");
        dot_value(lat, sizeof(lat), l->latency_ns, "ns");
        const char *bs = NAME_OF(source_names, l->bandwidth_source),
                   *ls = NAME_OF(source_names, l->latency_source);
        if (strcmp(bs, ls) == 0)
            snprintf(label, sizeof(label), "%s\n%s, %s\n[%s]", NAME_OF(link_kind_names, l->kind), bw, lat,
                     bs);
        else
            snprintf(label, sizeof(label), "%s\n%s [%s]\n%s [%s]", NAME_OF(link_kind_names, l->kind), bw, bs,
                     lat, ls);
        const char *color = peer ? "#2e8b57" : l->access == ACCEL_ATTACH_PINNED ? "#d2691e" : "#1f5fa8";
        sb_printf(b, "  ");
        sb_quoted(b, t->nodes[l->from].name);
        sb_printf(b, " -> ");
        sb_quoted(b, t->nodes[l->to].name);
        sb_printf(b, " [color=\"%s\", fontcolor=\"%s\", style=%s%s%s, label=", color, color,
                  l->bandwidth_source == ACCEL_SOURCE_ESTIMATE ? "dashed" : "solid", back ? ", dir=both" : "",
                  l->kind == ACCEL_LINK_LOCAL || l->kind == ACCEL_LINK_ON_PACKAGE ? ""
                                                                                  : ", constraint=false");
        sb_quoted(b, label);
        sb_printf(b, "];\n");
    }
    sb_printf(b, "}\n");
}

static json_object *jstr_or_null(const char *s)
{
    return s ? json_object_new_string(s) : json_object_new_null();
}

static json_object *jnode_name(const accel_topology *t, int32_t i)
{
    return i >= 0 && (uint32_t)i < t->node_count ? jstr_or_null(t->nodes[i].name) : json_object_new_null();
}

static json_object *json_node(const accel_topology *t, uint32_t i)
{
    static const char *const kinds[] = {"unknown", "cpuset", "memory", "device"};
    const accel__topo_node *n = &t->nodes[i];
    json_object *o = json_object_new_object();
    json_object_object_add(o, "index", json_object_new_int64(i));
    json_object_object_add(o, "name", jstr_or_null(n->name));
    json_object_object_add(o, "kind", json_object_new_string(NAME_OF(kinds, n->kind)));
    json_object_object_add(o, "parent", jnode_name(t, n->parent));
    if (n->kind == ACCEL_TOPOLOGY_NODE_CPUSET) {
        json_object_object_add(o, "cpuset", jstr_or_null(n->cpuset));
    } else if (n->kind == ACCEL_TOPOLOGY_NODE_MEMORY) {
        json_object_object_add(o, "memory_kind",
                               json_object_new_string(NAME_OF(memory_kind_names, n->memory_kind)));
        json_object_object_add(o, "capacity", json_object_new_uint64(n->capacity));
        json_object_object_add(
            o, "numa_node", n->numa_node >= 0 ? json_object_new_int(n->numa_node) : json_object_new_null());
        json_object_object_add(o, "owner", jnode_name(t, n->owner_device));
    } else if (n->kind == ACCEL_TOPOLOGY_NODE_DEVICE) {
        char uuid[33];
        accel_uuid_to_string(n->uuid, uuid);
        json_object_object_add(o, "label", jstr_or_null(n->label));
        json_object_object_add(o, "simulated", json_object_new_boolean(n->device == NULL));
        json_object_object_add(o, "device_kind",
                               json_object_new_string(accel_device_kind_string(n->device_kind)));
        json_object_object_add(o, "driver", jstr_or_null(n->driver_name));
        json_object_object_add(o, "driver_index", json_object_new_int64(n->driver_index));
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "bus_address", jstr_or_null(n->bus_address));
        json_object_object_add(o, "locality", jnode_name(t, n->locality));
        json_object *flags = json_object_new_array();
        if (n->device_flags & ACCEL_DEVICE_FLAG_SVA)
            json_object_array_add(flags, json_object_new_string("sva"));
        if (n->device_flags & ACCEL_DEVICE_FLAG_PARTITION)
            json_object_array_add(flags, json_object_new_string("partition"));
        if (n->device_flags & ACCEL_DEVICE_FLAG_ISOLATED)
            json_object_array_add(flags, json_object_new_string("isolated"));
        json_object_object_add(o, "flags", flags);
        json_object_object_add(o, "pasid_bits", json_object_new_int64(n->pasid_bits));
        json_object_object_add(o, "max_address_spaces", json_object_new_int64(n->max_address_spaces));
        json_object_object_add(o, "available_instances",
                               n->available_instances == ACCEL_INSTANCES_UNLIMITED
                                   ? json_object_new_string("unlimited")
                                   : json_object_new_int64(n->available_instances));
        json_object *fns = json_object_new_array();
        for (uint32_t k = 0; k < n->function_count; k++) {
            const accel__topo_function *f = &n->functions[k];
            json_object *fo = json_object_new_object();
            json_object_object_add(fo, "name", jstr_or_null(f->name));
            json_object_object_add(fo, "fixed_ns", json_object_new_uint64(f->fixed_ns));
            json_object_object_add(fo, "bytes_per_second", json_object_new_uint64(f->bytes_per_second));
            json_object_object_add(fo, "source", json_object_new_string(NAME_OF(source_names, f->source)));
            json_object_array_add(fns, fo);
        }
        json_object_object_add(o, "functions", fns);
    }
    return o;
}

static json_object *json_link(const accel_topology *t, const accel__topo_link *l)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "from", jnode_name(t, (int32_t)l->from));
    json_object_object_add(o, "to", jnode_name(t, (int32_t)l->to));
    json_object_object_add(o, "kind", json_object_new_string(NAME_OF(link_kind_names, l->kind)));
    json_object_object_add(o, "access", json_object_new_string(NAME_OF(access_names, l->access)));
    json_object_object_add(o, "bandwidth_mbps", json_object_new_uint64(l->bandwidth_mbps));
    json_object_object_add(o, "latency_ns", json_object_new_uint64(l->latency_ns));
    json_object_object_add(o, "bandwidth_source",
                           json_object_new_string(NAME_OF(source_names, l->bandwidth_source)));
    json_object_object_add(o, "latency_source",
                           json_object_new_string(NAME_OF(source_names, l->latency_source)));
    return o;
}

static void export_json(const accel_topology *t, sbuf *b)
{
    json_object *root = json_object_new_object(), *nodes = json_object_new_array(),
                *links = json_object_new_array();
    if (!root || !nodes || !links) {
        json_object_put(root);
        json_object_put(nodes);
        json_object_put(links);
        b->failed = true;
        return;
    }
    json_object_object_add(root, "source", jstr_or_null(t->source));
    for (uint32_t i = 0; i < t->node_count; i++)
        json_object_array_add(nodes, json_node(t, i));
    for (uint32_t i = 0; i < t->link_count; i++)
        json_object_array_add(links, json_link(t, &t->links[i]));
    json_object_object_add(root, "nodes", nodes);
    json_object_object_add(root, "links", links);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s) {
        sb_add(b, s, strlen(s));
        sb_add(b, "\n", 1);
    } else {
        b->failed = true;
    }
    json_object_put(root);
}

accel_result accel_topology_export(const accel_topology *t, accel_topology_format format, char *buffer,
                                   size_t size, size_t *size_ret)
{
    if (!t || (!buffer && !size_ret))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_export: %s is NULL",
                            t ? "size_ret (with a NULL buffer)" : "topology");
    if (format != ACCEL_TOPOLOGY_FORMAT_DOT && format != ACCEL_TOPOLOGY_FORMAT_JSON)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_topology_export: unknown format %d",
                            (int)format);
    sbuf b = {0};
    if (format == ACCEL_TOPOLOGY_FORMAT_DOT)
        export_dot(t, &b);
    else
        export_json(t, &b);
    if (b.failed || !b.s) {
        accel__free(b.s);
        return oom("export");
    }
    size_t need = b.len + 1;
    if (size_ret)
        *size_ret = need;
    accel_result r = ACCEL_SUCCESS;
    if (buffer) {
        if (size < need) {
            if (size) {
                memcpy(buffer, b.s, size - 1);
                buffer[size - 1] = '\0';
            }
            r = ACCEL_INCOMPLETE;
        } else {
            memcpy(buffer, b.s, need);
        }
    }
    accel__free(b.s);
    return r;
}
