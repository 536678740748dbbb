/*
 * topology.h — the loader's internal form of the topology graph, shared by
 * topology.c and topology_json.c (which build it), topology_export.c (which
 * writes it out) and placement (placement*.c, which searches over it).
 */
#ifndef ACCEL_LOADER_TOPOLOGY_H
#define ACCEL_LOADER_TOPOLOGY_H

#include "accel/accel.h"

typedef struct accel__topo_function {
    char *name;
    uint64_t fixed_ns;
    uint64_t bytes_per_second;
    accel_value_source source;
    double output_ratio; /* bytes written per input byte, measured (zlib functions); 0: unknown */
} accel__topo_function;

typedef struct accel__topo_node {
    accel_topology_node_kind kind;
    char *name;
    int32_t parent;
    /* CPUSET */
    char *cpuset;
    /* MEMORY */
    accel_memory_kind memory_kind;
    uint64_t capacity;
    int32_t numa_node;
    accel_memory_node *memory_node;
    int32_t owner_device;           /* device-local memory: the device's node, else -1 */
    /* DEVICE */
    accel_device *device;
    accel_device_kind device_kind;
    char *driver_name;
    uint32_t driver_index;
    uint8_t uuid[ACCEL_UUID_SIZE];
    char *bus_address;
    uint32_t device_flags;
    uint32_t pasid_bits;
    uint32_t max_address_spaces;
    uint32_t available_instances;   /* ACCEL_INSTANCES_UNLIMITED for no limit */
    int32_t locality;               /* the CPU set node the device hangs off, -1 */
    uint32_t function_count;
    accel__topo_function *functions;
    char *label;                    /* what a person calls it (a device's name), or NULL */
} accel__topo_node;

typedef struct accel__topo_link {
    uint32_t from;
    uint32_t to;
    accel_link_kind kind;
    accel_attach_mode access;
    uint64_t bandwidth_mbps;
    uint64_t latency_ns;
    accel_value_source bandwidth_source;
    accel_value_source latency_source;
} accel__topo_link;

struct accel_topology {
    accel_instance *instance;       /* NULL when built without one */
    uint32_t node_count;
    accel__topo_node *nodes;
    uint32_t link_count;
    accel__topo_link *links;
    char *source;                   /* "this machine" or the XML path, for messages */
    /* (from, to) -> link index + 1, open addressing; kept by
     * accel__topology_add_link and accel__topology_remove_link so that
     * accel__topology_find_link is O(1) on topologies of millions of links. */
    uint32_t *link_index;
    uint32_t link_index_cap;        /* a power of two, or 0 */
    /* name -> node index + 1, likewise, for accel__topology_find_node. */
    uint32_t *node_index;
    uint32_t node_index_cap;
};

/* Internal constructor used by tests and by placement benchmarks: an empty
 * topology to fill by hand; nodes/links arrays are grown with the helpers
 * below. All strings are owned (strdup'ed) by the topology. */
accel_topology *accel__topology_new(void);
int32_t accel__topology_add_node(accel_topology *t, const accel__topo_node *node);
int32_t accel__topology_add_link(accel_topology *t, const accel__topo_link *link);
/* Removes links[index], keeping the others' order. */
void accel__topology_remove_link(accel_topology *t, uint32_t index);
int accel__topology_add_function(accel_topology *t, uint32_t device_node, const char *name, uint64_t fixed_ns,
                                 uint64_t bytes_per_second, accel_value_source source);

/* The direct link from -> to, or NULL. */
const accel__topo_link *accel__topology_find_link(const accel_topology *t, uint32_t from, uint32_t to);

/*
 * The topology's JSON inputs (docs/topology.md; topology_json.c), also the
 * entry points of their fuzz targets. `source` names the input in error messages. On error
 * the detail message names the source, the JSON path and what is wrong;
 * the topology may then hold part of the input and should be destroyed.
 *
 * Simulated devices need the CPU set a PCI bus address hangs off: `resolve`
 * returns that node's index, or -1 when the address is unknown (`resolve`
 * may be NULL: every bus address is then unknown).
 */
typedef int32_t (*accel__topo_bus_resolver)(void *ctx, const char *bus_address);
accel_result accel__topology_add_simulated(accel_topology *t, const char *json, size_t size,
                                           const char *source, accel__topo_bus_resolver resolve, void *ctx);

/* What of the host simulated devices may name: `bus` as `resolve` above;
 * `device` (may be NULL: no device has a name) finds the devices hwloc
 * reports by name (an OS device's, or a virtual function's: docs/topology.md),
 * putting how many there are in *count and the bus addresses of the first
 * `max` in `bus` ("" for a device without one); it fails only when out of
 * memory. */
#define ACCEL__TOPO_BUS_LEN 32
typedef struct accel__topo_host_lookup {
    accel__topo_bus_resolver bus;
    accel_result (*device)(void *ctx, const char *name, uint32_t *count, char (*bus)[ACCEL__TOPO_BUS_LEN],
                           uint32_t max);
    void *ctx;
} accel__topo_host_lookup;
accel_result accel__topology_add_simulated2(accel_topology *t, const char *json, size_t size,
                                            const char *source, const accel__topo_host_lookup *host);
/* A user file: link values and function costs to add or override. */
accel_result accel__topology_apply_user(accel_topology *t, const char *json, size_t size, const char *source);
/* A calibration cache: measured function costs of devices, by uuid. Checked
 * whole before anything is applied: on error nothing changes. */
accel_result accel__topology_apply_calibration(accel_topology *t, const char *json, size_t size,
                                               const char *source);

#endif /* ACCEL_LOADER_TOPOLOGY_H */
