/*
 * topology_hwloc_osdev.c — the devices hwloc reports (docs/topology.md,
 * "Devices hwloc reports"): the OS devices of GPUs and co-processors (CUDA,
 * OpenCL, NVML, RSMI, Level Zero), DMA engines and network adapters of this
 * machine or of a recorded one become device nodes, one per PCI device
 * (the CUDA, OpenCL and NVML devices of one GPU are one device), with their
 * memory, their PCI link's speed and the NVLinkBandwidth and XGMIBandwidth
 * matrices between them and the CPUs. A device a driver already reports (the
 * same PCI bus address) is not added again: it takes the links hwloc knows.
 * The SR-IOV virtual functions of a device become its partitions (hwloc 2.9
 * records no link between a virtual function and its physical function:
 * vf_parent says how one is recognised).
 */
#include "topology_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

#define LINK_NS 500 /* the latency of a device-to-device link hwloc gives no latency for */

/* How many siblings before a PCI function are searched for its physical
 * function: a bus has at most 256 functions, so a hostile file of many
 * functions stays linear. */
#define VF_SIBLING_WALK 256u

typedef struct osdev_group {
    hwloc_obj_t key;   /* the PCI device, or the OS device when it has none */
    hwloc_obj_t named; /* the OS device that names it */
    accel_device_kind kind;
    uint64_t memory; /* bytes, 0: unknown */
    const char *model;
    int32_t node; /* its device node */
    uint32_t vfs; /* its virtual functions so far */
} osdev_group;

typedef struct osdev_vf {
    hwloc_obj_t pci;
    uint32_t group; /* of its physical function */
    uint32_t index; /* among the virtual functions of that function, in bus order */
} osdev_vf;

/* The devices hwloc reports and the virtual functions of their PCI
 * devices. While a scan is held, each group's key has the group's index + 1
 * as its userdata. */
typedef struct osdev_scan {
    osdev_group *groups;
    uint32_t count, cap;
    osdev_vf *vfs;
    uint32_t vf_count, vf_cap;
} osdev_scan;

static bool is_device_osdev(hwloc_obj_t o)
{
    switch (o->attr->osdev.type) {
    case HWLOC_OBJ_OSDEV_GPU:
    case HWLOC_OBJ_OSDEV_COPROC:
    case HWLOC_OBJ_OSDEV_DMA:
    case HWLOC_OBJ_OSDEV_NETWORK:
    case HWLOC_OBJ_OSDEV_OPENFABRICS: return true;
    default: return false;
    }
}

/* How well an OS device names its device: a compute back end first. */
static int name_rank(hwloc_obj_t o)
{
    static const char *const order[] = {"CUDA", "RSMI", "LevelZero", "OpenCL", "NVML"};
    for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
        if (o->subtype && strcmp(o->subtype, order[i]) == 0)
            return i;
    return o->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC ? 5
           : o->attr->osdev.type == HWLOC_OBJ_OSDEV_GPU  ? 6
                                                         : 7;
}

static uint64_t bytes_info(hwloc_obj_t o, const char *name)
{
    const char *v = hwloc_obj_get_info_by_name(o, name);
    if (!v)
        return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return end != v ? (uint64_t)n : 0;
}

/* The device memory an OS device reports, in bytes. */
static uint64_t osdev_memory(hwloc_obj_t o)
{
    uint64_t m = accel__hwloc_info_kib(o, "CUDAGlobalMemorySize");
    if (!m)
        m = accel__hwloc_info_kib(o, "OpenCLGlobalMemorySize");
    if (!m)
        m = accel__hwloc_info_kib(o, "LevelZeroHBMSize") + accel__hwloc_info_kib(o, "LevelZeroDDRSize");
    if (!m)
        m = bytes_info(o, "RSMIVRAMSize");
    return m;
}

static void fold(osdev_group *g, hwloc_obj_t o)
{
    accel_device_kind k =
        o->attr->osdev.type == HWLOC_OBJ_OSDEV_GPU || o->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC
            ? ACCEL_DEVICE_KIND_GPU
        : o->attr->osdev.type == HWLOC_OBJ_OSDEV_DMA ? ACCEL_DEVICE_KIND_ASIC
                                                     : ACCEL_DEVICE_KIND_NETWORK;
    if (k == ACCEL_DEVICE_KIND_GPU || g->kind == ACCEL_DEVICE_KIND_UNKNOWN)
        g->kind = k;
    if (!g->named || name_rank(o) < name_rank(g->named))
        g->named = o;
    uint64_t m = osdev_memory(o);
    if (m > g->memory)
        g->memory = m;
    if (!g->model)
        g->model = hwloc_obj_get_info_by_name(o, "GPUModel");
}

/* The device node of this bus address among the first `before` nodes (the
 * drivers' and simulated devices), or -1. */
static int32_t device_at_bus(const accel_topology *t, uint32_t before, const char *bus)
{
    for (uint32_t i = 0; i < before; i++)
        if (t->nodes[i].kind == ACCEL_TOPOLOGY_NODE_DEVICE && t->nodes[i].bus_address &&
            strcasecmp(t->nodes[i].bus_address, bus) == 0)
            return (int32_t)i;
    return -1;
}

/* The PCI link's speed, instead of the PCIe estimate, bounds a new
 * device's bandwidth to host memory, with the bandwidth its CPU set has to
 * that memory. */
static void bound_by_pci(accel_topology *t, uint32_t dev, hwloc_obj_t pci)
{
    float gbps = pci && pci->type == HWLOC_OBJ_PCI_DEVICE ? pci->attr->pcidev.linkspeed : 0;
    if (!(gbps > 0) || gbps > 1e6f)
        return;
    uint64_t mbps = (uint64_t)(gbps * 1000.0f + 0.5f);
    int32_t cs = t->nodes[dev].locality;
    for (uint32_t i = 0; i < t->link_count; i++) {
        accel__topo_link *l = &t->links[i];
        if (l->from != dev || t->nodes[l->to].kind != ACCEL_TOPOLOGY_NODE_MEMORY ||
            t->nodes[l->to].owner_device >= 0 || l->kind != ACCEL_LINK_PCIE ||
            l->bandwidth_source != ACCEL_SOURCE_ESTIMATE)
            continue;
        const accel__topo_link *host = cs >= 0 ? accel__topology_find_link(t, (uint32_t)cs, l->to) : NULL;
        if (host && host->bandwidth_mbps && host->bandwidth_mbps < mbps) {
            l->bandwidth_mbps = host->bandwidth_mbps;
            l->bandwidth_source = host->bandwidth_source;
        } else {
            l->bandwidth_mbps = mbps;
            l->bandwidth_source = ACCEL_SOURCE_OS;
        }
    }
}

/* The bus address of a PCI device, "" for any other object. */
static void bus_of(hwloc_obj_t o, char bus[ACCEL__TOPO_BUS_LEN])
{
    bus[0] = '\0';
    if (o->type == HWLOC_OBJ_PCI_DEVICE)
        snprintf(bus, ACCEL__TOPO_BUS_LEN, "%04x:%02x:%02x.%x", o->attr->pcidev.domain, o->attr->pcidev.bus,
                 o->attr->pcidev.dev, o->attr->pcidev.func);
}

/* The group (index) of the physical function a PCI function is an SR-IOV
 * virtual function of, or -1. hwloc 2.9 has no attribute for it, and the
 * recordings carry no sysfs physfn link: a virtual function is recognised as
 * a PCI function without OS devices that make a device of it, on the bus of a
 * function hwloc reports OS devices for, after it (a higher device and
 * function number), with its vendor and PCI class but another device id (a
 * virtual function's device id is the physical function's "VF Device ID",
 * never its own). Among several such functions of one bus, the nearest
 * before it. A second port of a card (the same device id, OS devices of its
 * own) or another function of one package (another class: the audio
 * function of a GPU) is no virtual function. */
static int32_t vf_parent(hwloc_obj_t vf)
{
    if (vf->type != HWLOC_OBJ_PCI_DEVICE || vf->userdata)
        return -1;
    const struct hwloc_pcidev_attr_s *a = &vf->attr->pcidev;
    unsigned devfn = (unsigned)a->dev << 3 | a->func;
    hwloc_obj_t p = vf->prev_sibling;
    for (unsigned k = 0; p && k < VF_SIBLING_WALK; p = p->prev_sibling, k++) {
        if (p->type != HWLOC_OBJ_PCI_DEVICE || !p->userdata)
            continue;
        const struct hwloc_pcidev_attr_s *b = &p->attr->pcidev;
        if (b->domain == a->domain && b->bus == a->bus && ((unsigned)b->dev << 3 | b->func) < devfn &&
            b->vendor_id == a->vendor_id && b->class_id == a->class_id && b->device_id != a->device_id)
            return (int32_t)((intptr_t)p->userdata - 1);
    }
    return -1;
}

static void scan_release(osdev_scan *s)
{
    for (uint32_t i = 0; i < s->count; i++)
        s->groups[i].key->userdata = NULL;
    accel__free(s->groups);
    accel__free(s->vfs);
    memset(s, 0, sizeof(*s));
}

/* The devices hwloc reports, one group per PCI device, and the virtual
 * functions of their PCI devices. On failure nothing is held. */
static accel_result scan(hwloc_topology_t hw, osdev_scan *s)
{
    memset(s, 0, sizeof(*s));
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_osdev(hw, o))) {
        if (!is_device_osdev(o))
            continue;
        hwloc_obj_t key = o->parent && o->parent->type == HWLOC_OBJ_PCI_DEVICE ? o->parent : o;
        if (!key->userdata) {
            if (s->count == s->cap) {
                uint32_t ncap = s->cap ? s->cap * 2 : 16;
                osdev_group *g = accel__realloc(s->groups, (size_t)ncap * sizeof(*g));
                if (!g) {
                    scan_release(s);
                    return accel__topology_oom("devices");
                }
                s->groups = g;
                s->cap = ncap;
            }
            s->groups[s->count] = (osdev_group){.key = key, .node = -1};
            key->userdata = (void *)(intptr_t)(++s->count);
        }
        fold(&s->groups[(intptr_t)key->userdata - 1], o);
    }
    o = NULL;
    while ((o = hwloc_get_next_pcidev(hw, o))) {
        int32_t g = vf_parent(o);
        if (g < 0)
            continue;
        if (s->vf_count == s->vf_cap) {
            uint32_t ncap = s->vf_cap ? s->vf_cap * 2 : 16;
            osdev_vf *v = accel__realloc(s->vfs, (size_t)ncap * sizeof(*v));
            if (!v) {
                scan_release(s);
                return accel__topology_oom("virtual functions");
            }
            s->vfs = v;
            s->vf_cap = ncap;
        }
        s->vfs[s->vf_count++] = (osdev_vf){.pci = o, .group = (uint32_t)g, .index = s->groups[g].vfs++};
    }
    return ACCEL_SUCCESS;
}

/* What a device of this group is called when no other node has the name. */
static const char *group_name(const osdev_group *g)
{
    return g->named->name ? g->named->name : "device";
}

/* A virtual function's name: its physical function's, then ":vf" and its
 * index (eth4:vf0). */
static void vf_name(const osdev_scan *s, const osdev_vf *v, char *out, size_t size)
{
    snprintf(out, size, "%.80s:vf%u", group_name(&s->groups[v->group]), v->index);
}

static accel_result add_group(accel_topology *t, hwloc_topology_t hw, osdev_group *g, uint32_t ordinal,
                              uint32_t before)
{
    char bus[ACCEL__TOPO_BUS_LEN];
    bus_of(g->key, bus);
    if (bus[0] && (g->node = device_at_bus(t, before, bus)) >= 0) {
        /* A driver's or a simulated device: it takes the PCI link speed and
         * the matrices' links. */
        bound_by_pci(t, (uint32_t)g->node, g->key);
        return ACCEL_SUCCESS;
    }
    char name[96];
    snprintf(name, sizeof(name), "%.80s", group_name(g));
    if (accel__topology_find_node(t, name) >= 0)
        snprintf(name, sizeof(name), "hwloc%u", ordinal);
    hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(hw, g->key);
    int32_t locality = anchor && anchor->cpuset
                           ? accel__topology_cpuset_node_for(t, anchor->cpuset)
                           : accel__topology_first_of_kind(t, ACCEL_TOPOLOGY_NODE_CPUSET);
    accel__topo_node n = {
        .kind = ACCEL_TOPOLOGY_NODE_DEVICE,
        .name = name,
        .parent = locality,
        .numa_node = -1,
        .owner_device = -1,
        .device_kind = g->kind,
        .driver_name = "hwloc",
        .driver_index = ordinal,
        .bus_address = bus[0] ? bus : NULL,
        .available_instances = 1,
        .locality = locality,
        .label = (char *)(g->model ? g->model : g->named->name),
    };
    int32_t d = accel__topology_add_node(t, &n);
    if (d < 0)
        return accel__topology_oom("device");
    g->node = d;
    if (g->memory) {
        char mname[112];
        snprintf(mname, sizeof(mname), "%s:mem", name);
        accel__topo_node m = {.kind = ACCEL_TOPOLOGY_NODE_MEMORY,
                              .name = mname,
                              .parent = d,
                              .memory_kind = ACCEL_MEMORY_KIND_DEVICE,
                              .capacity = g->memory,
                              .numa_node = -1,
                              .owner_device = d,
                              .locality = -1};
        int32_t mi = accel__topology_add_node(t, &m);
        if (mi < 0)
            return accel__topology_oom("device memory");
        accel_result r = accel__topology_link_device_memory(
            t, (uint32_t)d, (uint32_t)mi, ACCEL_ATTACH_ZERO_COPY, 0, 0, ACCEL_SOURCE_ESTIMATE);
        if (r)
            return r;
    }
    accel_result r = accel__topology_link_device_host(t, (uint32_t)d, ACCEL_ATTACH_PINNED);
    if (!r)
        bound_by_pci(t, (uint32_t)d, g->key);
    return r;
}

/* A virtual function: a partition of the device node that stands for its
 * physical function (one hwloc reports, a driver's or a simulated one),
 * sharing its memories, reaching host memory as it does over the physical
 * function's PCI link. A driver's or simulated device at the virtual
 * function's own bus address stands for it instead. */
static accel_result add_vf(accel_topology *t, const osdev_scan *s, const osdev_vf *v, uint32_t ordinal,
                           uint32_t before)
{
    const osdev_group *g = &s->groups[v->group];
    hwloc_obj_t link = v->pci->attr->pcidev.linkspeed > 0 ? v->pci : g->key;
    char bus[ACCEL__TOPO_BUS_LEN];
    bus_of(v->pci, bus);
    int32_t pf = g->node, there = device_at_bus(t, before, bus);
    if (there >= 0) {
        bound_by_pci(t, (uint32_t)there, link);
        return ACCEL_SUCCESS;
    }
    if (pf < 0)
        return ACCEL_SUCCESS;
    char name[96];
    vf_name(s, v, name, sizeof(name));
    if (accel__topology_find_node(t, name) >= 0)
        snprintf(name, sizeof(name), "hwloc%u", ordinal);
    accel__topo_node n = {
        .kind = ACCEL_TOPOLOGY_NODE_DEVICE,
        .name = name,
        .parent = pf,
        .numa_node = -1,
        .owner_device = -1,
        .device_kind = t->nodes[pf].device_kind,
        .driver_name = "hwloc",
        .driver_index = ordinal,
        .bus_address = bus,
        .device_flags = ACCEL_DEVICE_FLAG_PARTITION,
        .available_instances = 1,
        .locality = t->nodes[pf].locality,
        .label = "SR-IOV virtual function",
    };
    int32_t d = accel__topology_add_node(t, &n);
    if (d < 0)
        return accel__topology_oom("virtual function");
    uint32_t links = t->link_count;
    for (uint32_t l = 0; l < links; l++) {
        accel__topo_link copy = t->links[l];
        if (copy.from != (uint32_t)pf || t->nodes[copy.to].owner_device != pf)
            continue;
        copy.from = (uint32_t)d;
        if (accel__topology_add_link(t, &copy) < 0)
            return accel__topology_oom("link");
    }
    accel_result r = accel__topology_link_device_host(t, (uint32_t)d, ACCEL_ATTACH_PINNED);
    if (!r)
        bound_by_pci(t, (uint32_t)d, link);
    return r;
}

/* The device node an object of a distance matrix stands for, or -1. */
static int32_t node_of(hwloc_obj_t o)
{
    if (!o)
        return -1;
    if (o->type == HWLOC_OBJ_OS_DEVICE && !o->userdata && o->parent &&
        o->parent->type == HWLOC_OBJ_PCI_DEVICE)
        o = o->parent;
    return o->userdata ? (int32_t)(intptr_t)o->userdata - 1 : -1;
}

static accel_result set_link(accel_topology *t, uint32_t from, uint32_t to, accel_link_kind kind,
                             uint64_t mbps)
{
    accel__topo_link *l = accel__topology_find_link_mut(t, from, to);
    if (l) {
        l->kind = kind;
        l->bandwidth_mbps = mbps;
        l->bandwidth_source = ACCEL_SOURCE_OS;
        return ACCEL_SUCCESS;
    }
    accel__topo_link n = {.from = from,
                          .to = to,
                          .kind = kind,
                          .access = ACCEL_ATTACH_ZERO_COPY,
                          .bandwidth_mbps = mbps,
                          .latency_ns = LINK_NS,
                          .bandwidth_source = ACCEL_SOURCE_OS,
                          .latency_source = ACCEL_SOURCE_ESTIMATE};
    return accel__topology_add_link(t, &n) < 0 ? accel__topology_oom("link") : ACCEL_SUCCESS;
}

/* A device's link to a CPU in the matrix: its links to the host memory of
 * that CPU take the matrix's kind and bandwidth. */
static void link_to_cpu(accel_topology *t, hwloc_topology_t hw, uint32_t dev, hwloc_obj_t cpu,
                        accel_link_kind kind, uint64_t mbps)
{
    for (uint32_t m = 0; m < t->node_count; m++) {
        const accel__topo_node *mem = &t->nodes[m];
        if (mem->kind != ACCEL_TOPOLOGY_NODE_MEMORY || mem->owner_device >= 0 || mem->numa_node < 0)
            continue;
        accel__topo_link *l = accel__topology_find_link_mut(t, dev, m);
        hwloc_obj_t numa = l ? hwloc_get_numanode_obj_by_os_index(hw, (unsigned)mem->numa_node) : NULL;
        if (numa && numa->cpuset && !hwloc_bitmap_iszero(numa->cpuset) &&
            hwloc_bitmap_isincluded(numa->cpuset, cpu->cpuset)) {
            l->kind = kind;
            l->bandwidth_mbps = mbps;
            l->bandwidth_source = ACCEL_SOURCE_OS;
        }
    }
}

/* The most node visits the device-to-CPU entries of the matrices may take:
 * a hostile file of thousands of CPU objects and NUMA nodes stays linear. */
#define CPU_LINK_BUDGET (1u << 24)

/* NVLinkBandwidth and XGMIBandwidth: MB/s between GPUs, and from GPUs to
 * the CPUs (or switches) they attach to. */
static accel_result apply_link_matrix(accel_topology *t, hwloc_topology_t hw, const char *name,
                                      accel_link_kind kind)
{
    struct hwloc_distances_s *ds[4];
    unsigned nr = 4;
    if (hwloc_distances_get_by_name(hw, name, &nr, ds, 0) < 0)
        return ACCEL_SUCCESS;
    if (nr > 4)
        nr = 4;
    accel_result r = ACCEL_SUCCESS;
    uint64_t budget = CPU_LINK_BUDGET;
    for (unsigned k = 0; k < nr; k++) {
        struct hwloc_distances_s *d = ds[k];
        for (unsigned i = 0; i < d->nbobjs && !r; i++) {
            int32_t a = node_of(d->objs[i]);
            for (unsigned j = 0; j < d->nbobjs && !r; j++) {
                uint64_t v = d->values[(size_t)i * d->nbobjs + j];
                if (i == j || v == 0 || a < 0)
                    continue;
                int32_t b = node_of(d->objs[j]);
                if (b >= 0 && b != a)
                    r = set_link(t, (uint32_t)a, (uint32_t)b, kind, v);
                else if (b < 0 && d->objs[j] && d->objs[j]->cpuset &&
                         d->objs[j]->type != HWLOC_OBJ_OS_DEVICE &&
                         d->objs[j]->type != HWLOC_OBJ_PCI_DEVICE && budget >= t->node_count) {
                    budget -= t->node_count;
                    link_to_cpu(t, hw, (uint32_t)a, d->objs[j], kind, v);
                }
            }
        }
        hwloc_distances_release(hw, d);
    }
    return r;
}

accel_result accel__topology_add_hwloc_devices(accel_topology *t, hwloc_topology_t hw)
{
    osdev_scan s;
    accel_result r = scan(hw, &s);
    if (r)
        return r;
    uint32_t before = t->node_count;
    for (uint32_t i = 0; i < s.count && !r; i++)
        r = add_group(t, hw, &s.groups[i], i, before);
    for (uint32_t i = 0; i < s.vf_count && !r; i++)
        r = add_vf(t, &s, &s.vfs[i], s.count + i, before);
    /* From here userdata is the device node + 1, for the matrices. */
    for (uint32_t i = 0; i < s.count; i++)
        s.groups[i].key->userdata = s.groups[i].node >= 0 ? (void *)(intptr_t)(s.groups[i].node + 1) : NULL;
    if (!r)
        r = apply_link_matrix(t, hw, "NVLinkBandwidth", ACCEL_LINK_NVLINK);
    if (!r)
        r = apply_link_matrix(t, hw, "XGMIBandwidth", ACCEL_LINK_FABRIC);
    scan_release(&s);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Devices by name (a simulated device's "stands_for")                       */

typedef struct named_entry {
    const char *name;
    uint32_t group;
} named_entry;

/* The names of the devices hwloc reports, made once for all the names a
 * file asks for: a hostile file of thousands of names on a machine of
 * thousands of devices stays O((names + devices) log devices). */
struct accel__hwloc_names {
    osdev_scan s;         /* its keys' userdata cleared once made */
    named_entry *osdevs;  /* every OS device of a device, by name */
    named_entry *devices; /* every device by the name its node would have, for its virtual functions */
    uint32_t osdev_count;
};

static int by_name(const void *a, const void *b)
{
    const named_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->group > y->group) - (x->group < y->group);
}

static int by_group_index(const void *a, const void *b)
{
    const osdev_vf *x = a, *y = b;
    if (x->group != y->group)
        return (x->group > y->group) - (x->group < y->group);
    return (x->index > y->index) - (x->index < y->index);
}

void accel__topology_hwloc_names_free(accel__hwloc_names *n)
{
    if (!n)
        return;
    accel__free(n->s.groups);
    accel__free(n->s.vfs);
    accel__free(n->osdevs);
    accel__free(n->devices);
    accel__free(n);
}

accel_result accel__topology_hwloc_names_new(hwloc_topology_t hw, accel__hwloc_names **out)
{
    *out = NULL;
    accel__hwloc_names *n = accel__calloc(1, sizeof(*n));
    if (!n)
        return accel__topology_oom("device names");
    accel_result r = scan(hw, &n->s);
    if (r) {
        accel__free(n);
        return r;
    }
    uint32_t osdevs = 0;
    hwloc_obj_t o = NULL;
    while ((o = hwloc_get_next_osdev(hw, o)))
        osdevs += is_device_osdev(o) && o->name;
    n->osdevs = accel__malloc(((size_t)osdevs + 1) * sizeof(*n->osdevs));
    n->devices = accel__malloc(((size_t)n->s.count + 1) * sizeof(*n->devices));
    if (!n->osdevs || !n->devices) {
        scan_release(&n->s);
        accel__topology_hwloc_names_free(n);
        return accel__topology_oom("device names");
    }
    while ((o = hwloc_get_next_osdev(hw, o))) {
        hwloc_obj_t key = o->parent && o->parent->type == HWLOC_OBJ_PCI_DEVICE ? o->parent : o;
        if (is_device_osdev(o) && o->name && key->userdata && n->osdev_count < osdevs)
            n->osdevs[n->osdev_count++] = (named_entry){o->name, (uint32_t)((intptr_t)key->userdata - 1)};
    }
    for (uint32_t i = 0; i < n->s.count; i++) {
        n->devices[i] = (named_entry){group_name(&n->s.groups[i]), i};
        n->s.groups[i].key->userdata = NULL;
    }
    /* qsort's array may not be NULL, even with nothing to sort. */
    if (n->osdev_count)
        qsort(n->osdevs, n->osdev_count, sizeof(*n->osdevs), by_name);
    if (n->s.count)
        qsort(n->devices, n->s.count, sizeof(*n->devices), by_name);
    if (n->s.vf_count)
        qsort(n->s.vfs, n->s.vf_count, sizeof(*n->s.vfs), by_group_index);
    *out = n;
    return ACCEL_SUCCESS;
}

/* strcmp(s, the string name[0..len)). */
static int cmp_prefix(const char *s, const char *name, size_t len)
{
    int c = strncmp(s, name, len);
    return c ? c : s[len] != '\0';
}

/* The first entry of a sorted array whose name is not below name[0..len). */
static uint32_t first_named(const named_entry *e, uint32_t count, const char *name, size_t len)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cmp_prefix(e[mid].name, name, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void accel__topology_hwloc_names_find(accel__hwloc_names *n, const char *name, uint32_t *count,
                                      char (*bus)[ACCEL__TOPO_BUS_LEN], uint32_t max)
{
    *count = 0;
    size_t len = strlen(name);
    /* OS devices of that name; the OS devices of one PCI device are one
     * device. Entries of one name are sorted by group: a group's repeats are
     * next to each other. */
    uint32_t i = first_named(n->osdevs, n->osdev_count, name, len);
    for (uint32_t prev = UINT32_MAX; i < n->osdev_count && !cmp_prefix(n->osdevs[i].name, name, len); i++) {
        if (n->osdevs[i].group == prev)
            continue;
        prev = n->osdevs[i].group;
        if (*count < max)
            bus_of(n->s.groups[prev].key, bus[*count]);
        ++*count;
    }
    /* A virtual function: <device>:vf<k>, k in decimal without leading zeros. */
    const char *vf = NULL;
    for (const char *p = strstr(name, ":vf"); p; p = strstr(p + 1, ":vf"))
        vf = p;
    if (!vf || !vf[3] || (vf[3] == '0' && vf[4]))
        return;
    uint64_t k = 0;
    for (const char *p = vf + 3; *p; p++) {
        if (*p < '0' || *p > '9' || (k = k * 10 + (uint64_t)(*p - '0')) >= UINT32_MAX)
            return;
    }
    size_t plen = (size_t)(vf - name);
    for (i = first_named(n->devices, n->s.count, name, plen);
         i < n->s.count && !cmp_prefix(n->devices[i].name, name, plen); i++) {
        osdev_vf want = {.group = n->devices[i].group, .index = (uint32_t)k};
        const osdev_vf *v = bsearch(&want, n->s.vfs, n->s.vf_count, sizeof(*n->s.vfs), by_group_index);
        if (!v)
            continue;
        if (*count < max)
            bus_of(v->pci, bus[*count]);
        ++*count;
    }
}
