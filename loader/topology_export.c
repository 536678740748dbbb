/*
 * topology_export.c — accel_topology_export: the topology graph written
 * out as Graphviz DOT (CPU sets as clusters, with their memories and
 * devices inside; links labelled with their values and where those came
 * from) or as JSON (every node and link with all their fields), as
 * accelinfo --topology prints them. docs/topology.md describes both.
 */
#include "topology_internal.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "handle.h"
#include "log.h"

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

const char *accel_memory_kind_string(accel_memory_kind kind)
{
    return NAME_OF(memory_kind_names, kind);
}

accel_result accel_topology_export(const accel_topology *t, accel_topology_format format, char *buffer,
                                   size_t size, size_t *size_ret)
{
    ACCEL__HANDLE_USE(t, ACCEL__HANDLE_TOPOLOGY, "accel_topology_export", ACCEL_ERROR_INVALID_HANDLE);
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
        return accel__topology_oom("export");
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
