/*
 * topology_json.c — the topology's JSON inputs (docs/topology.md):
 * simulated devices (accel__topology_add_simulated), the user file of link
 * values and function costs (accel__topology_apply_user) and the
 * calibration cache of measured function costs
 * (accel__topology_apply_calibration). Each reports errors with the input's
 * name and the JSON path at fault; each is also a fuzz target
 * (tests/fuzz/fuzz_topology_*.c). topology.c reads the files and applies
 * them in its build order.
 */
#include "topology_internal.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define MAX_SIMULATED 4096 /* devices (with replicas and partitions) per file */

/* ------------------------------------------------------------------------ */
/* JSON inputs: helpers                                                       */

#define PATH_MAX_LEN 256

/* The index of s in table, or -1. */
static int name_index(const char *const *table, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i], s) == 0)
            return (int)i;
    return -1;
}
#define NAME_INDEX(table, s) name_index(table, sizeof(table) / sizeof(table[0]), s)

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
        return accel__topology_oom("JSON");
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
            accel__topology_function_estimate(t->nodes[node].device_kind, name, &fixed, &bps);
            s = ACCEL_SOURCE_ESTIMATE;
        }
        if (accel__topology_add_function(t, node, name, fixed, bps, s))
            return accel__topology_oom("function");
    }
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* JSON inputs: simulated devices                                            */

typedef struct sim_spec {
    const char *driver, *label, *bus_address;
    char named_bus[ACCEL__TOPO_BUS_LEN]; /* the bus address "stands_for" resolves to */
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
    const accel__topo_host_lookup *host;
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

/* "stands_for": the device hwloc reports under that name, whose bus
 * address the simulated device takes. */
static accel_result sim_stands_for(sim_ctx *c, const char *path, json_object *v, sim_spec *s)
{
    enum { SHOWN = 4 };
    char where[PATH_MAX_LEN], bus[SHOWN][ACCEL__TOPO_BUS_LEN];
    const char *name, *host = c->t->source ? c->t->source : "none";
    uint32_t count = 0;
    jkey(where, path, "stands_for");
    accel_result r = get_string(c->src, where, v, &name);
    if (r)
        return r;
    if (c->host && c->host->device && (r = c->host->device(c->host->ctx, name, &count, bus, SHOWN)))
        return r;
    if (count == 0)
        return jfail(c->src, where, "the host (%s) has no device named \"%.64s\"", host, name);
    if (count > 1) {
        char list[SHOWN * (ACCEL__TOPO_BUS_LEN + 2) + 8] = "";
        size_t k = 0;
        for (uint32_t i = 0; i < count && i < SHOWN; i++)
            k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s", i ? ", " : "",
                                  bus[i][0] ? bus[i] : "no bus address");
        if (count > SHOWN)
            snprintf(list + k, sizeof(list) - k, ", ...");
        return jfail(c->src, where,
                     "\"%.64s\" names %u devices of the host (%s): %s; give the bus_address of one instead",
                     name, count, host, list);
    }
    if (!bus[0][0])
        return jfail(c->src, where,
                     "the device \"%.64s\" of the host (%s) has no PCI bus address to stand for", name, host);
    memcpy(s->named_bus, bus[0], sizeof(s->named_bus));
    s->named_bus[sizeof(s->named_bus) - 1] = '\0';
    s->bus_address = s->named_bus;
    return ACCEL_SUCCESS;
}

static accel_result sim_spec_parse(sim_ctx *c, json_object *dev, const char *path, sim_spec *s)
{
    static const char *const keys[] = {"driver",
                                       "name",
                                       "kind",
                                       "count",
                                       "numa_node",
                                       "bus_address",
                                       "stands_for",
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
    static const char *const kinds[] = {"unknown", "cpu", "gpu", "fpga", "asic", "network"};
    if ((r = GET_ENUM(src, where, v, kinds, "cpu, gpu, fpga, asic, network", &kind)))
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

    json_object *numa = NULL, *bus = NULL, *named = NULL;
    json_object_object_get_ex(dev, "numa_node", &numa);
    json_object_object_get_ex(dev, "bus_address", &bus);
    json_object_object_get_ex(dev, "stands_for", &named);
    s->locality = accel__topology_first_of_kind(c->t, ACCEL_TOPOLOGY_NODE_CPUSET);
    if ((numa != NULL) + (bus != NULL) + (named != NULL) > 1)
        return jfail(src, path, "give only one of numa_node, bus_address and stands_for");
    if (numa) {
        uint64_t n;
        jkey(where, path, "numa_node");
        if ((r = get_u64(src, where, numa, INT32_MAX, &n)))
            return r;
        int32_t cs = accel__topology_numa_cpuset(c->t, (int32_t)n);
        if (cs == -2)
            return jfail(src, where, "the host (%s) has no NUMA node %llu",
                         c->t->source ? c->t->source : "none", (unsigned long long)n);
        if (cs >= 0)
            s->locality = cs;
    }
    if (named && (r = sim_stands_for(c, path, named, s)))
        return r;
    if (bus) {
        jkey(where, path, "bus_address");
        if ((r = get_string(src, where, bus, &s->bus_address)))
            return r;
        if (!valid_bus_address(s->bus_address))
            return jfail(src, where, "\"%.64s\" is not a PCI address DDDD:BB:DD.F", s->bus_address);
    }
    if (s->bus_address) {
        jkey(where, path, bus ? "bus_address" : "stands_for");
        int32_t cs = c->host && c->host->bus ? c->host->bus(c->host->ctx, s->bus_address) : -1;
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
        return accel__topology_oom("device");
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
        if (accel__topology_find_node(c->t, name) >= 0)
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
            return accel__topology_oom("memory node");
        if ((r = accel__topology_link_device_memory(c->t, dev, (uint32_t)mi, (accel_attach_mode)access, bw,
                                                    lat, ACCEL_SOURCE_USER)))
            return r;
        if (host_visible && (r = accel__topology_link_host_visible(c->t, (uint32_t)mi)))
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
                    return accel__topology_oom("link");
            }
            if (s->host_access != ACCEL_ATTACH_NONE &&
                (r = accel__topology_link_device_host(c->t, part, s->host_access)))
                return r;
            for (uint32_t f = 0; f < c->t->nodes[whole].function_count; f++) {
                const accel__topo_function fn = c->t->nodes[whole].functions[f];
                if (accel__topology_add_function(c->t, part, fn.name, fn.fixed_ns, fn.bytes_per_second,
                                                 fn.source))
                    return accel__topology_oom("function");
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
        if (s.host_access != ACCEL_ATTACH_NONE &&
            (r = accel__topology_link_device_host(c->t, node, s.host_access)))
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
    accel__topo_host_lookup host = {.bus = resolve, .ctx = ctx};
    return accel__topology_add_simulated2(t, json, size, source, &host);
}

accel_result accel__topology_add_simulated2(accel_topology *t, const char *json, size_t size,
                                            const char *source, const accel__topo_host_lookup *host)
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
    sim_ctx c = {.t = t, .src = source, .host = host};
    for (size_t i = 0; i < json_object_array_length(devices) && !r; i++) {
        char path[PATH_MAX_LEN];
        jidx(path, "$.devices", i);
        r = sim_device(&c, json_object_array_get_idx(devices, i), path);
    }
    if (!r)
        r = accel__topology_link_shared_memories(t);
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
    if ((*out = accel__topology_find_node(t, name)) < 0)
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
    if (!accel__topology_is_initiator(&t->nodes[from]))
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
    accel__topo_link *l = accel__topology_find_link_mut(t, (uint32_t)from, (uint32_t)to);
    if (access == ACCEL_ATTACH_NONE) {
        /* The initiator does not reach it after all. */
        if (bwv || latv || kindv)
            return jfail(src, path, "access \"none\" removes the link: give no other values with it");
        if (l)
            accel__topology_remove_link(t, (uint32_t)(l - t->links));
        return ACCEL_SUCCESS;
    }
    if (!l) {
        accel__topo_link n = {.from = (uint32_t)from,
                              .to = (uint32_t)to,
                              .kind = ACCEL_LINK_UNKNOWN,
                              .access = ACCEL_ATTACH_ZERO_COPY};
        int32_t i = accel__topology_add_link(t, &n);
        if (i < 0)
            return accel__topology_oom("link");
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

/* Bounds of the version 2 figures: a ratio is output bytes per input byte
 * (a stream of zeros inflates about 1000-fold; 10^6 is the pipelines'
 * largest scale); a few sizes per function. */
#define RATIO_MAX 1e6
#define SIZES_MAX 64

/* A positive finite number at most RATIO_MAX. */
static accel_result get_ratio(const char *src, const char *path, json_object *v, double *out)
{
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
        return jfail(src, path, "must be a number, not %s", jtype(v));
    double x = json_object_get_double(v);
    if (!(x > 0) || !(x <= RATIO_MAX))
        return jfail(src, path, "must be above 0 and at most %g", RATIO_MAX);
    *out = x;
    return ACCEL_SUCCESS;
}

/* The keys version 2 adds to an entry; what they record is documented in
 * docs/topology.md. Only output_ratio changes the topology. */
static accel_result calibration_v2_keys(const char *src, const char *fwhere, json_object *cost, double *ratio)
{
    char sub[PATH_MAX_LEN], item[PATH_MAX_LEN];
    json_object *v;
    accel_result r;
    uint64_t u;
    jkey(sub, fwhere, "output_ratio");
    if (json_object_object_get_ex(cost, "output_ratio", &v) && (r = get_ratio(src, sub, v, ratio)))
        return r;
    jkey(sub, fwhere, "level");
    if (json_object_object_get_ex(cost, "level", &v)) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < -1 ||
            json_object_get_int64(v) > 9)
            return jfail(src, sub, "must be an integer from -1 to 9");
    }
    jkey(sub, fwhere, "clamped");
    if (json_object_object_get_ex(cost, "clamped", &v) && (r = want(src, sub, v, json_type_boolean)))
        return r;
    jkey(sub, fwhere, "sizes");
    if (json_object_object_get_ex(cost, "sizes", &v)) {
        if ((r = want(src, sub, v, json_type_array)))
            return r;
        size_t n = json_object_array_length(v);
        if (n == 0 || n > SIZES_MAX)
            return jfail(src, sub, "must hold 1 to %d sizes", SIZES_MAX);
        for (size_t i = 0; i < n; i++) {
            jidx(item, sub, i);
            if ((r = get_u64(src, item, json_object_array_get_idx(v, i), UINT64_MAX - 1, &u)))
                return r;
            if (u == 0)
                return jfail(src, item, "must be positive");
        }
    }
    return ACCEL_SUCCESS;
}

/* Check (apply = false) or apply every entry. */
static accel_result calibration_walk(accel_topology *t, const char *src, json_object *devices, uint64_t version,
                                     bool apply)
{
    static const char *const keys_v1[] = {"fixed_ns", "bytes_per_second", NULL};
    static const char *const keys_v2[] = {"fixed_ns", "bytes_per_second", "output_ratio", "level",
                                          "sizes",    "clamped",          NULL};
    static const uint8_t zero[ACCEL_UUID_SIZE];
    const char *const *keys = version == 1 ? keys_v1 : keys_v2;
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
            double ratio = 0;
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
            if (version >= 2 && (r = calibration_v2_keys(src, fwhere, cost, &ratio)))
                return r;
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
                        /* A measurement without a ratio leaves none: an
                         * older one belonged to other figures. */
                        d->functions[k].output_ratio = ratio;
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
    static const char *const keys_v1[] = {"version", "devices", NULL};
    static const char *const keys_v2[] = {"version", "devices", "input", NULL};
    if (!t || (!json && size))
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "calibration cache: %s is NULL",
                            t ? "json" : "topology");
    if (!source)
        source = "calibration cache";
    json_object *root, *v, *devices;
    uint64_t version = 0;
    accel_result r = json_parse(source, json ? json : "", size, &root);
    if (r)
        return r;
    /* The version first: it says which keys are known. */
    if (!json_object_object_get_ex(root, "version", &v)) {
        r = jfail(source, "$.version", "missing");
        goto out;
    }
    if ((r = get_u64(source, "$.version", v, UINT32_MAX, &version)))
        goto out;
    if (version != 1 && version != 2) {
        r = jfail(source, "$.version", "version %llu is not supported (this loader reads versions 1 and 2)",
                  (unsigned long long)version);
        goto out;
    }
    if ((r = check_keys(source, "$", root, version == 1 ? keys_v1 : keys_v2)))
        goto out;
    if (json_object_object_get_ex(root, "input", &v)) {
        const char *s;
        if ((r = get_string(source, "$.input", v, &s)))
            goto out;
        if (strcmp(s, "corpus") != 0 && strcmp(s, "generated") != 0) {
            r = jfail(source, "$.input", "\"%.64s\" is not one of corpus, generated", s);
            goto out;
        }
    }
    if (!json_object_object_get_ex(root, "devices", &devices)) {
        r = jfail(source, "$.devices", "missing");
        goto out;
    }
    if (!(r = want(source, "$.devices", devices, json_type_object)) &&
        !(r = calibration_walk(t, source, devices, version, false)))
        r = calibration_walk(t, source, devices, version, true);
out:
    json_object_put(root);
    return r;
}
