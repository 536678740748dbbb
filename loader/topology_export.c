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

/* A device hwloc reports, which no driver's or simulated device stands for. */
static bool from_hwloc(const accel__topo_node *n)
{
    return !n->device && n->driver_name && strcmp(n->driver_name, "hwloc") == 0;
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
        size_t k = (size_t)snprintf(label, sizeof(label), "%s%s\n", n->name,
                                    n->device       ? ""
                                    : from_hwloc(n) ? " (hwloc)"
                                                    : " (simulated)");
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

/* Every json-c allocation is checked: a failed one sets *bad, and the export
 * fails with ACCEL_ERROR_OUT_OF_HOST_MEMORY instead of writing a document
 * with values missing. (A JSON null is json-c's NULL, never a failure.) */
static json_object *jcheck(bool *bad, json_object *v)
{
    if (!v)
        *bad = true;
    return v;
}

static json_object *jstr(bool *bad, const char *s)
{
    return jcheck(bad, json_object_new_string(s));
}

static json_object *ju64(bool *bad, uint64_t v)
{
    return jcheck(bad, json_object_new_uint64(v));
}

static json_object *ji64(bool *bad, int64_t v)
{
    return jcheck(bad, json_object_new_int64(v));
}

static json_object *jbool(bool *bad, bool v)
{
    return jcheck(bad, json_object_new_boolean(v));
}

static void jadd(bool *bad, json_object *o, const char *key, json_object *v)
{
    if (!o || json_object_object_add(o, key, v)) {
        json_object_put(v);
        *bad = true;
    }
}

static void jpush(bool *bad, json_object *a, json_object *v)
{
    if (!a || json_object_array_add(a, v)) {
        json_object_put(v);
        *bad = true;
    }
}

static json_object *jstr_or_null(bool *bad, const char *s)
{
    return s ? jstr(bad, s) : NULL;
}

static json_object *jnode_name(bool *bad, const accel_topology *t, int32_t i)
{
    return i >= 0 && (uint32_t)i < t->node_count ? jstr_or_null(bad, t->nodes[i].name) : NULL;
}

static json_object *json_node(bool *bad, const accel_topology *t, uint32_t i)
{
    static const char *const kinds[] = {"unknown", "cpuset", "memory", "device"};
    const accel__topo_node *n = &t->nodes[i];
    json_object *o = jcheck(bad, json_object_new_object());
    if (!o)
        return NULL;
    jadd(bad, o, "index", ji64(bad, i));
    jadd(bad, o, "name", jstr_or_null(bad, n->name));
    jadd(bad, o, "kind", jstr(bad, NAME_OF(kinds, n->kind)));
    jadd(bad, o, "parent", jnode_name(bad, t, n->parent));
    if (n->kind == ACCEL_TOPOLOGY_NODE_CPUSET) {
        jadd(bad, o, "cpuset", jstr_or_null(bad, n->cpuset));
    } else if (n->kind == ACCEL_TOPOLOGY_NODE_MEMORY) {
        jadd(bad, o, "memory_kind", jstr(bad, NAME_OF(memory_kind_names, n->memory_kind)));
        jadd(bad, o, "capacity", ju64(bad, n->capacity));
        jadd(bad, o, "numa_node", n->numa_node >= 0 ? ji64(bad, n->numa_node) : NULL);
        jadd(bad, o, "owner", jnode_name(bad, t, n->owner_device));
    } else if (n->kind == ACCEL_TOPOLOGY_NODE_DEVICE) {
        char uuid[33];
        accel_uuid_to_string(n->uuid, uuid);
        jadd(bad, o, "label", jstr_or_null(bad, n->label));
        jadd(bad, o, "simulated", jbool(bad, n->device == NULL && !from_hwloc(n)));
        jadd(bad, o, "device_kind", jstr(bad, accel_device_kind_string(n->device_kind)));
        jadd(bad, o, "driver", jstr_or_null(bad, n->driver_name));
        jadd(bad, o, "driver_index", ji64(bad, n->driver_index));
        jadd(bad, o, "uuid", jstr(bad, uuid));
        jadd(bad, o, "bus_address", jstr_or_null(bad, n->bus_address));
        jadd(bad, o, "locality", jnode_name(bad, t, n->locality));
        json_object *flags = jcheck(bad, json_object_new_array());
        if (n->device_flags & ACCEL_DEVICE_FLAG_SVA)
            jpush(bad, flags, jstr(bad, "sva"));
        if (n->device_flags & ACCEL_DEVICE_FLAG_PARTITION)
            jpush(bad, flags, jstr(bad, "partition"));
        if (n->device_flags & ACCEL_DEVICE_FLAG_ISOLATED)
            jpush(bad, flags, jstr(bad, "isolated"));
        if (n->device_flags & ACCEL_DEVICE_FLAG_EMULATED)
            jpush(bad, flags, jstr(bad, "emulated"));
        jadd(bad, o, "flags", flags);
        jadd(bad, o, "pasid_bits", ji64(bad, n->pasid_bits));
        jadd(bad, o, "max_address_spaces", ji64(bad, n->max_address_spaces));
        jadd(bad, o, "available_instances",
             n->available_instances == ACCEL_INSTANCES_UNLIMITED ? jstr(bad, "unlimited")
                                                                 : ji64(bad, n->available_instances));
        json_object *fns = jcheck(bad, json_object_new_array());
        for (uint32_t k = 0; k < n->function_count; k++) {
            const accel__topo_function *f = &n->functions[k];
            json_object *fo = jcheck(bad, json_object_new_object());
            jadd(bad, fo, "name", jstr_or_null(bad, f->name));
            jadd(bad, fo, "fixed_ns", ju64(bad, f->fixed_ns));
            jadd(bad, fo, "bytes_per_second", ju64(bad, f->bytes_per_second));
            jadd(bad, fo, "source", jstr(bad, NAME_OF(source_names, f->source)));
            jpush(bad, fns, fo);
        }
        jadd(bad, o, "functions", fns);
    }
    return o;
}

static json_object *json_link(bool *bad, const accel_topology *t, const accel__topo_link *l)
{
    json_object *o = jcheck(bad, json_object_new_object());
    if (!o)
        return NULL;
    jadd(bad, o, "from", jnode_name(bad, t, (int32_t)l->from));
    jadd(bad, o, "to", jnode_name(bad, t, (int32_t)l->to));
    jadd(bad, o, "kind", jstr(bad, NAME_OF(link_kind_names, l->kind)));
    jadd(bad, o, "access", jstr(bad, NAME_OF(access_names, l->access)));
    jadd(bad, o, "bandwidth_mbps", ju64(bad, l->bandwidth_mbps));
    jadd(bad, o, "latency_ns", ju64(bad, l->latency_ns));
    jadd(bad, o, "bandwidth_source", jstr(bad, NAME_OF(source_names, l->bandwidth_source)));
    jadd(bad, o, "latency_source", jstr(bad, NAME_OF(source_names, l->latency_source)));
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
    bool bad_ = false, *bad = &bad_;
    jadd(bad, root, "source", jstr_or_null(bad, t->source));
    for (uint32_t i = 0; i < t->node_count && !bad_; i++)
        jpush(bad, nodes, json_node(bad, t, i));
    for (uint32_t i = 0; i < t->link_count && !bad_; i++)
        jpush(bad, links, json_link(bad, t, &t->links[i]));
    jadd(bad, root, "nodes", nodes);
    jadd(bad, root, "links", links);
    if (bad_) {
        json_object_put(root);
        b->failed = true;
        return;
    }
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
