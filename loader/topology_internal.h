/*
 * topology_internal.h — what the three files of the topology share:
 * topology.c (the graph and its build), topology_json.c (the JSON inputs:
 * simulated devices, the user file, the calibration cache) and
 * topology_export.c (DOT and JSON output), topology_xml.c (the check of a
 * recorded hwloc XML file). Nothing else includes it but the tests and fuzz
 * targets of those files.
 */
#ifndef ACCEL_LOADER_TOPOLOGY_INTERNAL_H
#define ACCEL_LOADER_TOPOLOGY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <hwloc.h>

#include "topology.h"

#define JSON_FILE_MAX (16u << 20) /* user, simulated devices and calibration files */

/* The bytes of an hwloc info attribute given in KiB (a NUMA node's or CXL
 * device's size, a GPU's memory), 0 when it is missing or not a number. */
uint64_t accel__hwloc_info_kib(hwloc_obj_t o, const char *name);

/* The limits of a recorded hwloc XML topology (docs/limits.md): its size,
 * how deep its elements nest, how many <object> elements it has, the
 * objects of a distance matrix (nbobjs), and an object's os_index. */
#define TOPOLOGY_XML_BYTES_MAX (64u << 20)
#define TOPOLOGY_XML_DEPTH_MAX 64u
#define TOPOLOGY_XML_OBJECTS_MAX (1u << 18)
#define TOPOLOGY_XML_MATRIX_MAX 4096u
#define TOPOLOGY_XML_INDEX_MAX (1u << 24)

/* The limits of a topology graph, whatever it was built from: host NUMA
 * nodes (memory nodes hwloc reports), all nodes, and links (a CPU set
 * reaches every memory node: CPU sets x memory nodes of them). */
#define TOPOLOGY_NUMA_NODES_MAX 4096u
#define TOPOLOGY_NODES_MAX (1u << 16)
#define TOPOLOGY_LINKS_MAX (1u << 25)

/* Checks the shape of a recorded hwloc XML file before libhwloc parses it
 * (topology_xml.c): ACCEL_ERROR_INVALID_ARGUMENT, with a message naming the
 * path, the line and the reason, for what libhwloc 2.9 crashes on or what
 * is over the limits above. Linear in size; allocates nothing. */
accel_result accel__topology_xml_check(const char *data, size_t size, const char *path);

/* The names the JSON inputs and the exports give the enums' values, in the
 * enums' order. Static: NAME_OF (and the parsers) need their sizes. */
static const char *const memory_kind_names[] = {"unknown", "dram",   "hbm",       "nvm",
                                                "cxl",     "device", "fpga-bank", "host"};
static const char *const link_kind_names[] = {"unknown", "local", "numa",       "pcie",
                                              "nvlink",  "cxl",   "on-package", "fabric"};
static const char *const source_names[] = {"none", "os", "hmat", "driver", "user", "estimate", "measured"};
static const char *const access_names[] = {"none", "zero-copy", "pinned", "staged"};

#define NAME_OF(table, v)                                                                                    \
    ((unsigned)(v) < sizeof(table) / sizeof(table[0]) ? table[(unsigned)(v)] : "unknown")

/* ACCEL_ERROR_OUT_OF_HOST_MEMORY, with a detail message that names what. */
accel_result accel__topology_oom(const char *what);

/* The estimated cost of a function on a device of this kind, from the
 * tables of docs/topology.md. */
void accel__topology_function_estimate(accel_device_kind kind, const char *name, uint64_t *fixed_ns,
                                       uint64_t *bps);

/* accel__topology_find_link, for changing the link. */
accel__topo_link *accel__topology_find_link_mut(accel_topology *t, uint32_t from, uint32_t to);

/* The index of the node of this name, or -1. */
int32_t accel__topology_find_node(const accel_topology *t, const char *name);

/* A CPU set or a device: a node that reaches memory. */
bool accel__topology_is_initiator(const accel__topo_node *n);

/* The first index of a node of this kind, or -1. */
int32_t accel__topology_first_of_kind(const accel_topology *t, accel_topology_node_kind kind);

/* The CPU set a host NUMA node hangs off; -1 if none, -2 if no such node. */
int32_t accel__topology_numa_cpuset(const accel_topology *t, int32_t numa_node);

/* The links of a device (topology.c has the details):
 *   link_device_host: to every host NUMA node;
 *   link_device_memory: to one of its memories, 0 values taking the estimate;
 *   link_host_visible: the host's link to a host-visible device memory;
 *   link_shared_memories: between the devices that reach one device memory
 *   directly (after all devices are added). */
accel_result accel__topology_link_device_host(accel_topology *t, uint32_t dev, accel_attach_mode mode);
accel_result accel__topology_link_device_memory(accel_topology *t, uint32_t dev, uint32_t mem,
                                                accel_attach_mode mode, uint64_t bw, uint64_t lat,
                                                accel_value_source source);
accel_result accel__topology_link_host_visible(accel_topology *t, uint32_t mem);
accel_result accel__topology_link_shared_memories(accel_topology *t);

/* The CPU set node for the CPUs in cs: the one equal to it, else the first
 * inside it, else the first overlapping it, else the first. */
int32_t accel__topology_cpuset_node_for(const accel_topology *t, hwloc_const_bitmap_t cs);

/* The devices hwloc reports (topology_hwloc_osdev.c): GPUs, co-processors,
 * DMA engines and network adapters, one device node per PCI device, with
 * their memory, PCI link speed and NVLink/XGMI matrices. A device of the
 * same bus address already in t (a driver's) is not added again but takes
 * the matrices' links. */
accel_result accel__topology_add_hwloc_devices(accel_topology *t, hwloc_topology_t hw);

/* The names of the devices accel__topology_add_hwloc_devices would add (any
 * of a device's OS devices, or a virtual function's name), made once per
 * file that asks (topology_hwloc_osdev.c). _new fails only when out of
 * memory; hw must outlive the table and must not be changed meanwhile. _find
 * puts how many devices have the name in *count and the bus addresses of the
 * first `max` in `bus` ("" for one without). */
typedef struct accel__hwloc_names accel__hwloc_names;
accel_result accel__topology_hwloc_names_new(hwloc_topology_t hw, accel__hwloc_names **out);
void accel__topology_hwloc_names_find(accel__hwloc_names *names, const char *name, uint32_t *count,
                                      char (*bus)[ACCEL__TOPO_BUS_LEN], uint32_t max);
void accel__topology_hwloc_names_free(accel__hwloc_names *names);

#endif /* ACCEL_LOADER_TOPOLOGY_INTERNAL_H */
