/* accelinfo — show the drivers and devices accel-loader finds, and why.
 *
 * Uses only the public API (accel/accel.h). */
#include <accel/accel.h>

#include "accelinfo_cdi.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_USAGE 2

/* The version of the --json document (docs/accelinfo.schema.json): the
 * minor grows when members are added, the major when one changes meaning
 * or goes away. */
#define ACCELINFO_JSON_FORMAT_VERSION "1.1"

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "Usage: %s [OPTION]...\n"
            "       %s --check-manifest FILE...\n"
            "Show the accelerator drivers and devices found by accel-loader.\n"
            "\n"
            "  -j, --json       machine-readable output (JSON)\n"
            "  -s, --summary    one line per manifest and device (the default)\n"
            "      --cdi        a Container Device Interface spec for the devices that have\n"
            "                   device nodes (kind accel-loader.dev/device)\n"
            "      --topology   the topology graph: CPU sets, memory nodes, devices, links\n"
            "  With --topology:\n"
            "      --format=FORMAT         dot (Graphviz, the default), json, or svg (drawn by\n"
            "                              Graphviz's dot, which must be installed)\n"
            "      --topology-xml=FILE     the host from a recorded hwloc XML file\n"
            "      --topology-file=FILE    a user file of link values and function costs\n"
            "      --devices=FILE          simulated devices (JSON) to add\n"
            "      --no-instance-devices   leave out this machine's devices\n"
            "      --check-manifest FILE...  check driver manifests with the loader's own\n"
            "                   parser, name each invalid one and why; loads no driver\n"
            "  -h, --help       show this help and exit\n"
            "  -V, --version    show the version of accelinfo and of the loader library\n"
            "                   and exit\n"
            "\n"
            "Environment: ACCEL_DRIVER_FILES, ACCEL_ADD_DRIVER_FILES, ACCEL_DRIVERS_SELECT,\n"
            "ACCEL_DRIVERS_DISABLE, ACCEL_DEVICE_SELECTOR, ACCEL_LOADER_DEBUG, ACCEL_TOPOLOGY_XML,\n"
            "ACCEL_TOPOLOGY_FILE, ACCELINFO_DOT (see accelinfo(1), accel-loader(7) and docs/environment.md).\n"
            "\n"
            "Exit status: 0 on success (also with no devices), 1 if the loader failed, the\n"
            "topology could not be built, a checked manifest is invalid or --cdi found no\n"
            "device node, 2 on invalid usage or an invalid ACCEL_DEVICE_SELECTOR.\n",
            prog, prog);
}

static const char *version_str(uint32_t v, char *buf, size_t size)
{
    if (!v)
        return "";
    snprintf(buf, size, "%u.%u", ACCEL_VERSION_MAJOR(v), ACCEL_VERSION_MINOR(v));
    return buf;
}

typedef struct listing {
    uint32_t manifest_count, driver_count, device_count;
    accel_manifest **manifests;
    accel_device **devices;
    uint32_t node_count;
    accel_memory_node **nodes; /* memory nodes; NULL if they could not be listed */
} listing;

static int list_all(accel_instance *inst, listing *l, bool with_nodes)
{
    memset(l, 0, sizeof(*l));
    if (accel_enumerate_manifests(inst, &l->manifest_count, NULL) ||
        accel_enumerate_devices(inst, &l->device_count, NULL))
        return -1;
    l->manifests = calloc(l->manifest_count + 1, sizeof(*l->manifests));
    l->devices = calloc(l->device_count + 1, sizeof(*l->devices));
    if (!l->manifests || !l->devices)
        return -1;
    if (accel_enumerate_manifests(inst, &l->manifest_count, l->manifests) < 0 ||
        accel_enumerate_devices(inst, &l->device_count, l->devices) < 0)
        return -1;
    /* Memory nodes ask each driver once; a failure there is reported but
     * does not hide the rest. */
    if (!with_nodes)
        return 0;
    if (accel_enumerate_memory_nodes(inst, &l->node_count, NULL) == ACCEL_SUCCESS &&
        (l->nodes = calloc(l->node_count + 1, sizeof(*l->nodes))) != NULL &&
        accel_enumerate_memory_nodes(inst, &l->node_count, l->nodes) < 0) {
        free(l->nodes);
        l->nodes = NULL;
    }
    if (!l->nodes)
        fprintf(stderr, "accelinfo: memory nodes: %s\n", accel_last_error_message());
    return 0;
}

static void format_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* The standard functions every driver may offer under the same name and
 * contract (docs/standard-functions.md); any other name is the vendor's. */
static bool is_standard_function(const char *name)
{
    static const char *const standard[] = {
        "accel.copy",    "accel.fill",          "accel.noop",          "crc32c",
        "sha256",        "zlib.deflate",        "zlib.inflate",        "crc32c.stream",
        "sha256.stream", "zlib.deflate.stream", "zlib.inflate.stream",
    };
    for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++)
        if (strcmp(name, standard[i]) == 0)
            return true;
    return false;
}

/* Names as in pipeline files (docs/pipelines.md). */
static const char *const program_format_names[] = {
    [ACCEL_PROGRAM_FORMAT_OPENCL_C] = "opencl-c",
    [ACCEL_PROGRAM_FORMAT_SPIRV] = "spirv",
    [ACCEL_PROGRAM_FORMAT_ELF] = "elf",
    [ACCEL_PROGRAM_FORMAT_FPGA_IMAGE] = "fpga-image",
};
#define PROGRAM_FORMAT_COUNT (sizeof(program_format_names) / sizeof(program_format_names[0]))

/* What a device tells beyond accel_device_info: live driver parameters and
 * the functions the topology knows for it. A has_ flag is false when the
 * driver does not report the value. */
typedef struct device_details {
    bool has_formats, has_memory, has_max_alloc, has_reconfigure, has_functions;
    bool memory_from_nodes; /* memory_size is the sum of the device's memory nodes */
    uint32_t formats, available_instances;
    uint64_t memory_size, max_allocation, reconfigure_ns;
    /* The driver's limits (ACCEL_DEVICE_PARAM_MAX_QUEUES and after). */
    bool has_max_queues, has_queue_depth, has_program_size, has_function_args, has_arg_alignment;
    uint32_t max_queues, queue_depth, max_function_args;
    uint64_t max_program_size, arg_offset_alignment;
    char runtime[256]; /* "" if the driver does not report one */
    const accel_topology *topology;
    uint32_t topology_node;
    uint32_t function_count;
} device_details;

static void get_details(const listing *l, const accel_topology *t, accel_device *dev, device_details *o)
{
    accel_device_info d = {.struct_size = sizeof(d)};
    size_t n;
    memset(o, 0, sizeof(*o));
    accel_device_get_info(dev, &d);
    o->has_formats = accel_device_query(dev, ACCEL_DEVICE_PARAM_PROGRAM_FORMATS, &o->formats,
                                        sizeof(o->formats), &n) == ACCEL_SUCCESS;
    o->has_memory = accel_device_query(dev, ACCEL_DEVICE_PARAM_MEMORY_SIZE, &o->memory_size,
                                       sizeof(o->memory_size), &n) == ACCEL_SUCCESS;
    o->has_max_alloc = accel_device_query(dev, ACCEL_DEVICE_PARAM_MAX_ALLOCATION, &o->max_allocation,
                                          sizeof(o->max_allocation), &n) == ACCEL_SUCCESS;
    o->has_reconfigure = accel_device_query(dev, ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &o->reconfigure_ns,
                                            sizeof(o->reconfigure_ns), &n) == ACCEL_SUCCESS;
    o->has_max_queues = accel_device_query(dev, ACCEL_DEVICE_PARAM_MAX_QUEUES, &o->max_queues,
                                           sizeof(o->max_queues), &n) == ACCEL_SUCCESS;
    o->has_queue_depth = accel_device_query(dev, ACCEL_DEVICE_PARAM_QUEUE_DEPTH, &o->queue_depth,
                                            sizeof(o->queue_depth), &n) == ACCEL_SUCCESS;
    o->has_program_size = accel_device_query(dev, ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE, &o->max_program_size,
                                             sizeof(o->max_program_size), &n) == ACCEL_SUCCESS;
    o->has_function_args =
        accel_device_query(dev, ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS, &o->max_function_args,
                           sizeof(o->max_function_args), &n) == ACCEL_SUCCESS;
    o->has_arg_alignment =
        accel_device_query(dev, ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT, &o->arg_offset_alignment,
                           sizeof(o->arg_offset_alignment), &n) == ACCEL_SUCCESS;
    if (accel_device_query(dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &o->available_instances,
                           sizeof(o->available_instances), &n) != ACCEL_SUCCESS)
        o->available_instances = d.available_instances;
    if (accel_device_query(dev, ACCEL_DEVICE_PARAM_RUNTIME_VERSION, o->runtime, sizeof(o->runtime), &n) !=
        ACCEL_SUCCESS)
        o->runtime[0] = '\0';
    o->runtime[sizeof(o->runtime) - 1] = '\0';
    /* Without the driver's figure, the device's own memory nodes (FPGA
     * banks, device memory) are its memory. */
    if (!o->has_memory && l->nodes) {
        for (uint32_t i = 0; i < l->node_count; i++) {
            accel_memory_node_info mi = {.struct_size = sizeof(mi)};
            accel_memory_node_get_info(l->nodes[i], &mi);
            if (mi.device == dev) {
                o->memory_size += mi.capacity;
                o->has_memory = o->memory_from_nodes = true;
            }
        }
    }
    accel_topology_node node = {.struct_size = sizeof(node)};
    if (t && accel_topology_find_device(t, dev, &o->topology_node) == ACCEL_SUCCESS &&
        accel_topology_get_node(t, o->topology_node, &node) == ACCEL_SUCCESS) {
        o->topology = t;
        o->function_count = node.function_count;
        o->has_functions = true;
    }
}

/* The name of function i of the device; NULL past the end. */
static const char *function_name(const device_details *o, uint32_t i)
{
    accel_topology_function f = {.struct_size = sizeof(f)};
    if (i >= o->function_count ||
        accel_topology_get_function(o->topology, o->topology_node, i, &f) != ACCEL_SUCCESS)
        return NULL;
    return f.name;
}

static void print_details(const accel_device_info *d, const device_details *o)
{
    char b1[32], b2[32];
    if (o->has_functions) {
        for (int standard = 1; standard >= 0; standard--) {
            int shown = 0;
            printf("     %s functions:", standard ? "standard" : "vendor");
            for (uint32_t i = 0; i < o->function_count; i++) {
                const char *name = function_name(o, i);
                if (name && is_standard_function(name) == (bool)standard) {
                    printf(" %s", name);
                    shown++;
                }
            }
            printf("%s\n", shown ? "" : " none");
        }
    } else {
        printf("     functions: unknown\n");
    }
    printf("     program formats:");
    if (!o->has_formats)
        printf(" unknown");
    else if (!o->formats)
        printf(" none");
    for (uint32_t f = 1; o->has_formats && f < PROGRAM_FORMAT_COUNT; f++)
        if (o->formats & (1u << f))
            printf(" %s", program_format_names[f]);
    printf("\n");
    if (o->has_memory)
        format_bytes(o->memory_size, b1, sizeof(b1));
    if (o->has_max_alloc)
        format_bytes(o->max_allocation, b2, sizeof(b2));
    printf("     memory %s%s, largest allocation %s\n", o->has_memory ? b1 : "unknown",
           o->memory_from_nodes ? " (its memory nodes)" : "", o->has_max_alloc ? b2 : "unknown");
    printf("     limits: address spaces ");
    if (d->max_address_spaces)
        printf("%u", d->max_address_spaces);
    else
        printf("unlimited");
    printf(", available instances ");
    if (o->available_instances == ACCEL_INSTANCES_UNLIMITED)
        printf("unlimited");
    else
        printf("%u", o->available_instances);
    printf(", pasid bits %u, sva %s", d->pasid_bits, (d->flags & ACCEL_DEVICE_FLAG_SVA) ? "yes" : "no");
    if (o->has_reconfigure)
        printf(", reconfigure %.3f ms", (double)o->reconfigure_ns / 1e6);
    printf("\n");
    printf("     queues ");
    if (!o->has_max_queues)
        printf("unknown");
    else if (o->max_queues == ACCEL_INSTANCES_UNLIMITED)
        printf("unlimited");
    else
        printf("%u", o->max_queues);
    printf(", queue depth ");
    if (o->has_queue_depth)
        printf("%u", o->queue_depth);
    else
        printf("unknown");
    printf(", largest program ");
    if (o->has_program_size) {
        format_bytes(o->max_program_size, b1, sizeof(b1));
        printf("%s", b1);
    } else {
        printf("unknown");
    }
    printf(", function arguments ");
    if (o->has_function_args)
        printf("%u", o->max_function_args);
    else
        printf("unknown");
    printf(", argument offset alignment ");
    if (o->has_arg_alignment)
        printf("%llu", (unsigned long long)o->arg_offset_alignment);
    else
        printf("unknown");
    printf("\n");
    if (o->runtime[0])
        printf("     runtime %s\n", o->runtime);
}

static json_object *details_json(json_object *o, const accel_device_info *d, const device_details *x)
{
    json_object *fn = json_object_new_array();
    for (uint32_t i = 0; x->has_functions && i < x->function_count; i++) {
        const char *name = function_name(x, i);
        if (!name)
            continue;
        json_object *f = json_object_new_object();
        json_object_object_add(f, "name", json_object_new_string(name));
        json_object_object_add(f, "standard", json_object_new_boolean(is_standard_function(name)));
        json_object_array_add(fn, f);
    }
    json_object_object_add(o, "functions",
                           x->has_functions ? fn : (json_object_put(fn), json_object_new_null()));
    json_object *pf = NULL;
    if (x->has_formats) {
        pf = json_object_new_array();
        for (uint32_t f = 1; f < PROGRAM_FORMAT_COUNT; f++)
            if (x->formats & (1u << f))
                json_object_array_add(pf, json_object_new_string(program_format_names[f]));
    }
    json_object_object_add(o, "program_formats", pf);
    json_object *mem = json_object_new_object();
    json_object_object_add(mem, "size",
                           x->has_memory ? json_object_new_int64((int64_t)x->memory_size) : NULL);
    json_object_object_add(mem, "size_source",
                           json_object_new_string(!x->has_memory         ? "unknown"
                                                  : x->memory_from_nodes ? "memory-nodes"
                                                                         : "driver"));
    json_object_object_add(mem, "max_allocation",
                           x->has_max_alloc ? json_object_new_int64((int64_t)x->max_allocation) : NULL);
    json_object_object_add(o, "memory", mem);
    json_object *lim = json_object_new_object();
    json_object_object_add(lim, "max_address_spaces", json_object_new_int64(d->max_address_spaces));
    json_object_object_add(lim, "available_instances",
                           x->available_instances == ACCEL_INSTANCES_UNLIMITED
                               ? json_object_new_string("unlimited")
                               : json_object_new_int64(x->available_instances));
    json_object_object_add(lim, "pasid_bits", json_object_new_int64(d->pasid_bits));
    json_object_object_add(lim, "reconfigure_ns",
                           x->has_reconfigure ? json_object_new_int64((int64_t)x->reconfigure_ns) : NULL);
    json_object_object_add(lim, "max_queues",
                           !x->has_max_queues ? NULL
                           : x->max_queues == ACCEL_INSTANCES_UNLIMITED
                               ? json_object_new_string("unlimited")
                               : json_object_new_int64(x->max_queues));
    json_object_object_add(lim, "queue_depth",
                           x->has_queue_depth ? json_object_new_int64(x->queue_depth) : NULL);
    json_object_object_add(lim, "max_program_size",
                           x->has_program_size ? json_object_new_int64((int64_t)x->max_program_size) : NULL);
    json_object_object_add(lim, "max_function_args",
                           x->has_function_args ? json_object_new_int64(x->max_function_args) : NULL);
    json_object_object_add(lim, "arg_offset_alignment",
                           x->has_arg_alignment ? json_object_new_int64((int64_t)x->arg_offset_alignment)
                                                : NULL);
    json_object_object_add(o, "limits", lim);
    json_object_object_add(o, "runtime", x->runtime[0] ? json_object_new_string(x->runtime) : NULL);
    return o;
}

/* The physical devices seen through several devices (one piece of hardware
 * under several drivers), each with its devices. */
static void print_physical_devices(const listing *l)
{
    uint32_t shown = 0;
    for (uint32_t i = 0; i < l->device_count; i++) {
        uint32_t p, q, n = 0, first = i;
        if (accel_device_get_physical_index(l->devices[i], &p) != ACCEL_SUCCESS)
            continue;
        int other_driver = 0;
        accel_device_info d = {.struct_size = sizeof(d)}, e = {.struct_size = sizeof(e)};
        accel_device_get_info(l->devices[i], &d);
        for (uint32_t j = 0; j < l->device_count; j++) {
            if (accel_device_get_physical_index(l->devices[j], &q) != ACCEL_SUCCESS || q != p)
                continue;
            first = j < first ? j : first;
            n++;
            accel_device_get_info(l->devices[j], &e);
            other_driver |= e.driver != d.driver;
        }
        /* Partitions of one device under one driver are not several
         * interfaces: only hardware that more than one driver reaches. */
        if (first != i || n < 2 || !other_driver)
            continue;
        if (!shown++)
            printf("\nPhysical devices with several interfaces:\n");
        if (d.bus_address[0]) {
            printf("  %u: bus %s\n", p, d.bus_address);
        } else {
            char uuid[33];
            accel_uuid_to_string(d.uuid, uuid);
            printf("  %u: uuid %s (no bus address)\n", p, uuid);
        }
        for (uint32_t j = i; j < l->device_count; j++) {
            if (accel_device_get_physical_index(l->devices[j], &q) != ACCEL_SUCCESS || q != p)
                continue;
            accel_device_get_info(l->devices[j], &e);
            printf("     device %u: %s:%u  %s%s%s\n", e.index, e.driver_name, e.driver_index,
                   accel_device_interface_string(e.interface), e.partition[0] ? "  partition " : "",
                   e.partition);
        }
    }
}

static void print_summary(const listing *l, const accel_topology *t)
{
    char vbuf[32];
    printf("accel-loader %s\n", accel_loader_version_string());
    printf("\nManifests: %u\n", l->manifest_count);
    for (uint32_t i = 0; i < l->manifest_count; i++) {
        accel_manifest_info mi = {.struct_size = sizeof(mi)};
        accel_manifest_get_info(l->manifests[i], &mi);
        printf("  %-7s %-16s %s\n", accel_manifest_status_string(mi.status),
               mi.driver_name ? mi.driver_name : "-", mi.path);
        if (mi.status == ACCEL_MANIFEST_LOADED) {
            accel_driver_info di = {.struct_size = sizeof(di)};
            accel_driver_get_info(mi.driver, &di);
            printf("          version %s, interface %s, %u device(s), library %s\n",
                   di.version[0] ? di.version : "?", version_str(di.interface_version, vbuf, sizeof(vbuf)),
                   di.device_count, di.library_path);
        } else {
            printf("          reason: %s\n", mi.reason ? mi.reason : "");
        }
    }
    printf("\nDevices: %u\n", l->device_count);
    for (uint32_t i = 0; i < l->device_count; i++) {
        accel_device_info d = {.struct_size = sizeof(d)};
        char uuid[33];
        accel_device_get_info(l->devices[i], &d);
        accel_uuid_to_string(d.uuid, uuid);
        printf("  %u: %s:%u  %-5s %-7s %s\n", d.index, d.driver_name, d.driver_index,
               accel_device_kind_string(d.kind), accel_device_interface_string(d.interface), d.name);
        printf("     uuid %s", uuid);
        if (d.bus_address[0])
            printf("  bus %s", d.bus_address);
        if (d.device_node[0])
            printf("  node %s", d.device_node);
        if (d.partition[0])
            printf("  partition %s", d.partition);
        if (d.numa_node >= 0)
            printf("  numa %d", d.numa_node);
        else if (d.numa_nodes[0])
            printf("  numa %s", d.numa_nodes);
        printf("\n");
        device_details x;
        get_details(l, t, l->devices[i], &x);
        print_details(&d, &x);
    }
    print_physical_devices(l);
    if (!l->nodes)
        return;
    printf("\nMemory nodes: %u\n", l->node_count);
    for (uint32_t i = 0; i < l->node_count; i++) {
        accel_memory_node_info mi = {.struct_size = sizeof(mi)};
        char size[32] = "size unknown";
        accel_memory_node_get_info(l->nodes[i], &mi);
        if (mi.capacity)
            format_bytes(mi.capacity, size, sizeof(size));
        printf("  %u: %-18s %-9s %s", mi.index, mi.name, accel_memory_kind_string(mi.kind), size);
        if (mi.numa_node >= 0)
            printf("  numa %d", mi.numa_node);
        if (mi.device) {
            accel_device_info d = {.struct_size = sizeof(d)};
            accel_device_get_info(mi.device, &d);
            printf("  device %s:%u", d.driver_name, d.driver_index);
        }
        if (mi.device && mi.host_visible)
            printf("  host-visible");
        printf("\n");
    }
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : json_object_new_null();
}

static json_object *build_json(const listing *l, const accel_topology *t)
{
    char vbuf[32], uuid[33];
    json_object *root = json_object_new_object();
    json_object_object_add(root, "format_version", json_object_new_string(ACCELINFO_JSON_FORMAT_VERSION));
    json_object *loader = json_object_new_object();
    json_object_object_add(loader, "version", json_object_new_string(accel_loader_version_string()));
    json_object_object_add(root, "loader", loader);

    json_object *manifests = json_object_new_array();
    for (uint32_t i = 0; i < l->manifest_count; i++) {
        accel_manifest_info mi = {.struct_size = sizeof(mi)};
        accel_manifest_get_info(l->manifests[i], &mi);
        json_object *m = json_object_new_object();
        json_object_object_add(m, "path", jstr(mi.path));
        json_object_object_add(m, "driver", jstr(mi.driver_name));
        json_object_object_add(m, "status", json_object_new_string(accel_manifest_status_string(mi.status)));
        json_object_object_add(m, "reason", jstr(mi.reason));
        json_object_object_add(m, "library_path", jstr(mi.library_path));
        json_object_object_add(m, "resolved_library", jstr(mi.resolved_library));
        json_object_object_add(m, "api_version",
                               mi.api_version
                                   ? json_object_new_string(version_str(mi.api_version, vbuf, sizeof(vbuf)))
                                   : json_object_new_null());
        if (mi.status == ACCEL_MANIFEST_LOADED) {
            accel_driver_info di = {.struct_size = sizeof(di)};
            accel_driver_get_info(mi.driver, &di);
            json_object_object_add(m, "driver_version", json_object_new_string(di.version));
            json_object_object_add(
                m, "interface_version",
                json_object_new_string(version_str(di.interface_version, vbuf, sizeof(vbuf))));
            json_object_object_add(m, "device_count", json_object_new_int64(di.device_count));
        } else {
            json_object_object_add(m, "error", json_object_new_string(accel_result_name(mi.result)));
        }
        json_object_array_add(manifests, m);
    }
    json_object_object_add(root, "manifests", manifests);

    json_object *devices = json_object_new_array();
    for (uint32_t i = 0; i < l->device_count; i++) {
        accel_device_info d = {.struct_size = sizeof(d)};
        accel_device_get_info(l->devices[i], &d);
        accel_uuid_to_string(d.uuid, uuid);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "index", json_object_new_int64(d.index));
        json_object_object_add(o, "driver", json_object_new_string(d.driver_name));
        json_object_object_add(o, "driver_index", json_object_new_int64(d.driver_index));
        json_object_object_add(o, "name", json_object_new_string(d.name));
        json_object_object_add(o, "vendor", json_object_new_string(d.vendor));
        json_object_object_add(o, "kind", json_object_new_string(accel_device_kind_string(d.kind)));
        json_object_object_add(o, "interface",
                               json_object_new_string(accel_device_interface_string(d.interface)));
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "bus_address", json_object_new_string(d.bus_address));
        json_object_object_add(o, "numa_node", json_object_new_int(d.numa_node));
        json_object_object_add(o, "numa_nodes", json_object_new_string(d.numa_nodes));
        json_object_object_add(o, "sva", json_object_new_boolean((d.flags & ACCEL_DEVICE_FLAG_SVA) != 0));
        json_object_object_add(o, "max_address_spaces", json_object_new_int64(d.max_address_spaces));
        json_object_object_add(o, "available_instances",
                               d.available_instances == ACCEL_INSTANCES_UNLIMITED
                                   ? json_object_new_string("unlimited")
                                   : json_object_new_int64(d.available_instances));
        if (d.parent) {
            accel_device_info p = {.struct_size = sizeof(p)};
            accel_device_get_info(d.parent, &p);
            json_object_object_add(o, "parent", json_object_new_int64(p.index));
        }
        uint32_t physical;
        if (accel_device_get_physical_index(l->devices[i], &physical) == ACCEL_SUCCESS)
            json_object_object_add(o, "physical_device", json_object_new_int64(physical));
        if (d.device_node[0])
            json_object_object_add(o, "device_node", json_object_new_string(d.device_node));
        if (d.partition[0])
            json_object_object_add(o, "partition", json_object_new_string(d.partition));
        device_details x;
        get_details(l, t, l->devices[i], &x);
        details_json(o, &d, &x);
        json_object_array_add(devices, o);
    }
    json_object_object_add(root, "devices", devices);

    if (l->nodes) {
        json_object *nodes = json_object_new_array();
        for (uint32_t i = 0; i < l->node_count; i++) {
            accel_memory_node_info mi = {.struct_size = sizeof(mi)};
            accel_memory_node_get_info(l->nodes[i], &mi);
            json_object *o = json_object_new_object();
            json_object_object_add(o, "index", json_object_new_int64(mi.index));
            json_object_object_add(o, "name", json_object_new_string(mi.name));
            json_object_object_add(o, "kind", json_object_new_string(accel_memory_kind_string(mi.kind)));
            json_object_object_add(o, "capacity", json_object_new_int64((int64_t)mi.capacity));
            json_object_object_add(o, "numa_node", json_object_new_int(mi.numa_node));
            if (mi.device) {
                accel_device_info d = {.struct_size = sizeof(d)};
                accel_device_get_info(mi.device, &d);
                json_object_object_add(o, "device", json_object_new_int64(d.index));
            }
            json_object_object_add(o, "host_visible", json_object_new_boolean(mi.host_visible));
            json_object_array_add(nodes, o);
        }
        json_object_object_add(root, "memory_nodes", nodes);
    }
    return root;
}

typedef struct topology_args {
    accel_topology_format format;
    bool svg; /* draw the DOT text with Graphviz's dot */
    const char *xml, *user_file, *devices;
    bool no_instance_devices;
} topology_args;

/* Whether `name` runs: a path that is executable, or a name found in PATH. */
static bool find_program(const char *name)
{
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        int len = snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? path : ".", name);
        if (len > 0 && (size_t)len < sizeof(buf) && access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* Give the DOT text to Graphviz's dot (ACCELINFO_DOT, else "dot" in PATH)
 * for an SVG drawing on standard output; the exit status. */
static int draw_svg(const char *prog, const char *dot_text)
{
    const char *dot = getenv("ACCELINFO_DOT");
    dot = dot && dot[0] ? dot : "dot";
    if (!find_program(dot)) {
        fprintf(stderr,
                "%s: --format=svg needs Graphviz's '%s' program, which is not installed or not executable "
                "(install graphviz, or name the program in ACCELINFO_DOT)\n",
                prog, dot);
        return 1;
    }
    int fds[2];
    fflush(stdout);
    if (pipe(fds) != 0) {
        fprintf(stderr, "%s: --format=svg: pipe: %s\n", prog, strerror(errno));
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: --format=svg: fork: %s\n", prog, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        close(fds[1]);
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(126);
        close(fds[0]);
        execlp(dot, dot, "-Tsvg", (char *)NULL);
        _exit(127);
    }
    close(fds[0]);
    /* dot may exit early (a bad program in ACCELINFO_DOT): the write then
     * fails instead of killing accelinfo. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    size_t len = strlen(dot_text), off = 0;
    while (off < len) {
        ssize_t n = write(fds[1], dot_text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fds[1]);
    signal(SIGPIPE, old);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && off == len)
        return 0;
    fprintf(stderr, "%s: --format=svg: '%s -Tsvg' failed (%s %d)\n", prog, dot,
            WIFEXITED(wstatus) ? "exit status" : "signal",
            WIFEXITED(wstatus)     ? WEXITSTATUS(wstatus)
            : WIFSIGNALED(wstatus) ? WTERMSIG(wstatus)
                                   : 0);
    return 1;
}

/* Print the topology graph; the exit status. */
static int print_topology(const char *prog, const topology_args *a)
{
    accel_instance *inst = NULL;
    accel_result r;
    if (!a->no_instance_devices && (r = accel_instance_create(NULL, &inst)) != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, accel_last_error_message());
        return r == ACCEL_ERROR_INVALID_SELECTOR ? EXIT_USAGE : 1;
    }
    const accel_topology *t = NULL;
    accel_topology *own = NULL;
    if (a->xml || a->user_file || a->devices || a->no_instance_devices) {
        accel_topology_options o = {
            .struct_size = sizeof(o),
            .flags = a->no_instance_devices ? ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES : 0,
            .hwloc_xml = a->xml,
            .user_file = a->user_file,
            .simulated_devices = a->devices,
        };
        r = accel_topology_create(inst, &o, &own);
        t = own;
    } else {
        r = accel_instance_get_topology(inst, &t);
    }
    int status = 0;
    size_t size = 0;
    char *text = NULL;
    if (r == ACCEL_SUCCESS && (r = accel_topology_export(t, a->format, NULL, 0, &size)) == ACCEL_SUCCESS) {
        text = malloc(size);
        r = text ? accel_topology_export(t, a->format, text, size, &size) : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (r == ACCEL_SUCCESS && a->svg) {
        status = draw_svg(prog, text);
    } else if (r == ACCEL_SUCCESS) {
        fputs(text, stdout);
    } else {
        fprintf(stderr, "%s: %s\n", prog,
                r == ACCEL_ERROR_OUT_OF_HOST_MEMORY ? "out of memory" : accel_last_error_message());
        status = 1;
    }
    free(text);
    accel_topology_destroy(own);
    accel_instance_destroy(inst);
    return status;
}

/* The instance's topology, for the functions of each device; NULL (and a
 * message) when it cannot be built, the rest is still shown. */
static const accel_topology *instance_topology(const char *prog, accel_instance *inst)
{
    const accel_topology *t = NULL;
    if (accel_instance_get_topology(inst, &t) != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: functions: %s\n", prog, accel_last_error_message());
        return NULL;
    }
    return t;
}

/* --check-manifest: give each FILE to the loader as an explicit manifest
 * with every driver disabled, so that the manifest is parsed and checked
 * exactly as discovery would but no library is opened. A manifest that got
 * as far as the driver filter is valid; any other outcome names the
 * problem. */
static int check_manifests(const char *prog, int count, char **files)
{
    if (setenv("ACCEL_DRIVERS_DISABLE", "*", 1) != 0) {
        fprintf(stderr, "%s: cannot set ACCEL_DRIVERS_DISABLE\n", prog);
        return 1;
    }
    int invalid = 0;
    for (int i = 0; i < count; i++) {
        const char *const paths[] = {files[i]};
        accel_instance_options o = {
            .struct_size = sizeof(o), .manifest_paths = paths, .manifest_path_count = 1};
        accel_instance *inst = NULL;
        uint32_t n = 0;
        if (accel_instance_create(&o, &inst) != ACCEL_SUCCESS) {
            fprintf(stderr, "%s: %s: %s\n", prog, files[i], accel_last_error_message());
            return 1;
        }
        accel_manifest **m = NULL;
        if (accel_enumerate_manifests(inst, &n, NULL) != ACCEL_SUCCESS || !(m = calloc(n + 1, sizeof(*m))) ||
            accel_enumerate_manifests(inst, &n, m) < 0) {
            fprintf(stderr, "%s: %s: %s\n", prog, files[i], accel_last_error_message());
            free(m);
            accel_instance_destroy(inst);
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "%s: invalid: no manifest files\n", files[i]);
            invalid++;
        }
        /* A directory is checked as the loader searches it: each file. */
        for (uint32_t k = 0; k < n; k++) {
            accel_manifest_info mi = {.struct_size = sizeof(mi)};
            accel_manifest_get_info(m[k], &mi);
            if (mi.status == ACCEL_MANIFEST_SKIPPED && mi.result == ACCEL_ERROR_NOT_FOUND && mi.driver_name) {
                printf("%s: valid (driver %s, library %s)\n", mi.path, mi.driver_name,
                       mi.library_path ? mi.library_path : "?");
            } else {
                fprintf(stderr, "%s: invalid: %s\n", mi.path,
                        mi.reason ? mi.reason : accel_result_string(mi.result));
                invalid++;
            }
        }
        free(m);
        accel_instance_destroy(inst);
    }
    return invalid ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"summary", no_argument, NULL, 's'},
        {"cdi", no_argument, NULL, 'C'},
        {"topology", no_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'F'},
        {"topology-xml", required_argument, NULL, 'X'},
        {"topology-file", required_argument, NULL, 'U'},
        {"devices", required_argument, NULL, 'D'},
        {"no-instance-devices", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"check-manifest", no_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    int json = 0, c;
    bool check = false;
    topology_args topo = {.format = ACCEL_TOPOLOGY_FORMAT_DOT};
    const char *topology_only = NULL; /* the first option that needs --topology */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":jshV", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'C': json = 2; break;
        case 's': json = 0; break;
        case 'T': json = 3; break;
        case 'F':
            topo.svg = false;
            if (strcmp(optarg, "dot") == 0) {
                topo.format = ACCEL_TOPOLOGY_FORMAT_DOT;
            } else if (strcmp(optarg, "svg") == 0) {
                topo.format = ACCEL_TOPOLOGY_FORMAT_DOT;
                topo.svg = true;
            } else if (strcmp(optarg, "json") == 0) {
                topo.format = ACCEL_TOPOLOGY_FORMAT_JSON;
            } else {
                fprintf(stderr, "%s: invalid --format '%s' (dot, json or svg)\nTry '%s --help'.\n", argv[0],
                        optarg, argv[0]);
                return EXIT_USAGE;
            }
            topology_only = topology_only ? topology_only : "--format";
            break;
        case 'X':
            topo.xml = optarg;
            topology_only = topology_only ? topology_only : "--topology-xml";
            break;
        case 'U':
            topo.user_file = optarg;
            topology_only = topology_only ? topology_only : "--topology-file";
            break;
        case 'D':
            topo.devices = optarg;
            topology_only = topology_only ? topology_only : "--devices";
            break;
        case 'N':
            topo.no_instance_devices = true;
            topology_only = topology_only ? topology_only : "--no-instance-devices";
            break;
        case 'h': usage(stdout, argv[0]); return 0;
        case 'M': check = true; break;
        case 'V':
            printf("accelinfo %s\nlibaccel-loader %s\n", ACCEL_HEADER_VERSION_STRING,
                   accel_loader_version_string());
            return 0;
        case ':':
            fprintf(stderr, "%s: option '%s' needs an argument\nTry '%s --help'.\n", argv[0],
                    argv[optind - 1], argv[0]);
            return EXIT_USAGE;
        default:
            if (strncmp(argv[optind - 1], "--", 2) == 0 || !optopt)
                fprintf(stderr, "%s: invalid option '%s'\n", argv[0], argv[optind - 1]);
            else
                fprintf(stderr, "%s: invalid option '-%c'\n", argv[0], optopt);
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return EXIT_USAGE;
        }
    }
    if (check) {
        if (json || topology_only || optind == argc) {
            fprintf(stderr,
                    "%s: --check-manifest takes manifest files and no other option\nTry '%s --help'.\n",
                    argv[0], argv[0]);
            return EXIT_USAGE;
        }
        return check_manifests(argv[0], argc - optind, argv + optind);
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", argv[0], argv[optind], argv[0]);
        return EXIT_USAGE;
    }
    if (topology_only && json != 3) {
        fprintf(stderr, "%s: %s needs --topology\nTry '%s --help'.\n", argv[0], topology_only, argv[0]);
        return EXIT_USAGE;
    }
    if (json == 3)
        return print_topology(argv[0], &topo);

    accel_instance *inst = NULL;
    accel_result r = accel_instance_create(NULL, &inst);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: %s\n", argv[0], accel_last_error_message());
        return r == ACCEL_ERROR_INVALID_SELECTOR ? EXIT_USAGE : 1;
    }
    listing l;
    int status = 0;
    if (list_all(inst, &l, json != 2 /* a CDI spec needs no memory nodes */) != 0) {
        fprintf(stderr, "%s: cannot enumerate: %s\n", argv[0], accel_last_error_message());
        status = 1;
    } else if (json == 2) {
        status = accelinfo_cdi_print(argv[0], l.devices, l.device_count);
    } else if (json) {
        json_object *root = build_json(&l, instance_topology(argv[0], inst));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
    } else {
        print_summary(&l, instance_topology(argv[0], inst));
    }
    free(l.manifests);
    free(l.devices);
    free(l.nodes);
    accel_instance_destroy(inst);
    return status;
}
