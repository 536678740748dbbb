/*
 * topology_xml.c — the structural check of a recorded hwloc XML topology,
 * run before libhwloc parses it.
 *
 * libhwloc 2.9's XML import trusts its input: fuzzing it
 * (tests/fuzz/fuzz_hwloc_xml.c) finds NULL dereferences, an assertion and
 * allocations of many GiB from files of a few hundred bytes; each class is
 * listed with a reproducer in tests/corpus/hwloc_xml/README.md. This check
 * rejects every one of those classes, and bounds what a file may ask of
 * hwloc (nesting depth, object count, distance matrix size, index range;
 * docs/limits.md). It reads the buffer once, keeps no allocation and is
 * linear in its size.
 *
 * It is a check of the shape hwloc's own export writes, not an XML parser:
 * hwloc parses the file afterwards and reports what else is wrong with it.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "topology_internal.h"

typedef struct {
    const char *p, *end, *path;
    const char *start;
} cursor;

static unsigned line_of(const cursor *c, const char *at)
{
    unsigned line = 1;
    for (const char *q = c->start; q < at; q++)
        line += *q == '\n';
    return line;
}

#define REJECT(c, at, ...) reject((c), (at), __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static accel_result reject(const cursor *c, const char *at,
                                                                 const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "topology XML %s: line %u: %s", c->path, line_of(c, at),
                        reason);
}

static bool is_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
           ch == '-' || ch == ':' || ch == '.';
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* A bitmap as hwloc writes it: comma-separated words "0x" + 1 to 16 hex
 * digits, the first of which may be "0xf...f" (all further bits set) and
 * the others empty (a zero word: "0x00000011,,0x0"). hwloc_bitmap_sscanf()
 * asserts on an empty first word (",0x1"). */
static bool bitmap_ok(const char *v, size_t len)
{
    size_t i = 0;
    bool first = true;
    for (;;) {
        if (!first && (i == len || v[i] == ',')) {
            if (i == len)
                return true;
            i++;
            continue;
        }
        if (len - i < 3 || v[i] != '0' || (v[i + 1] != 'x' && v[i + 1] != 'X'))
            return false;
        i += 2;
        if (first && len - i >= 5 && memcmp(v + i, "f...f", 5) == 0) {
            i += 5;
        } else {
            size_t digits = 0;
            while (i < len && is_hex(v[i]) && digits <= 16) {
                i++;
                digits++;
            }
            if (digits == 0 || digits > 16)
                return false;
        }
        first = false;
        if (i == len)
            return true;
        if (v[i] != ',')
            return false;
        i++;
    }
}

/* A decimal number without sign, at most max. */
static bool number_ok(const char *v, size_t len, uint64_t max, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        unsigned d = (unsigned)(v[i] - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    if (n > max)
        return false;
    if (out)
        *out = n;
    return true;
}

static bool attr_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

static bool is_bitmap_attr(const char *name, size_t len)
{
    static const char *const names[] = {"cpuset",  "complete_cpuset",  "allowed_cpuset",  "online_cpuset",
                                        "nodeset", "complete_nodeset", "allowed_nodeset", "initiator_cpuset"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (attr_is(name, len, names[i]))
            return true;
    return false;
}

/* What the attributes of one element said. */
enum {
    HAS_TYPE = 1u << 0,
    HAS_CPUSET = 1u << 1,
    HAS_COMPLETE_CPUSET = 1u << 2,
    HAS_NODESET = 1u << 3,
    HAS_COMPLETE_NODESET = 1u << 4,
    HAS_NBOBJS = 1u << 5,
};

accel_result accel__topology_xml_check(const char *data, size_t size, const char *path)
{
    cursor c = {.p = data, .end = data + size, .path = path, .start = data};
    if (size > TOPOLOGY_XML_BYTES_MAX)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "topology XML %s: larger than %u bytes", path,
                            TOPOLOGY_XML_BYTES_MAX);
    /* hwloc reads the buffer as a C string: a NUL inside cuts it where its
     * parser does not expect an end (a NULL dereference in hwloc 2.9). */
    const char *nul = memchr(data, 0, size);
    if (nul)
        return REJECT(&c, nul, "a NUL byte at offset %zu", (size_t)(nul - data));

    unsigned depth = 0;
    uint64_t objects = 0, widest_matrix = 0;
    const char *widest_at = NULL;
    bool seen_topology = false;
    while (c.p < c.end) {
        const char *lt = memchr(c.p, '<', (size_t)(c.end - c.p));
        if (!lt)
            break;
        c.p = lt + 1;
        if (c.end - c.p >= 3 && memcmp(c.p, "!--", 3) == 0) {
            const char *q = c.p + 3;
            while (q + 3 <= c.end && memcmp(q, "-->", 3) != 0)
                q++;
            if (q + 3 > c.end)
                return REJECT(&c, lt, "a comment without its end");
            c.p = q + 3;
            continue;
        }
        if (c.p < c.end && (*c.p == '?' || *c.p == '!')) {
            const char *gt = memchr(c.p, '>', (size_t)(c.end - c.p));
            if (!gt)
                return REJECT(&c, lt, "a declaration without its end");
            c.p = gt + 1;
            continue;
        }
        bool closing = c.p < c.end && *c.p == '/';
        if (closing)
            c.p++;
        const char *name = c.p;
        while (c.p < c.end && is_name_char(*c.p))
            c.p++;
        size_t name_len = (size_t)(c.p - name);
        if (name_len == 0)
            return REJECT(&c, lt, "a '<' that starts no element");
        if (closing) {
            while (c.p < c.end && is_space(*c.p))
                c.p++;
            if (c.p >= c.end || *c.p != '>')
                return REJECT(&c, lt, "an end tag without its '>'");
            c.p++;
            if (depth == 0)
                return REJECT(&c, lt, "an end tag </%.*s> without its element",
                              (int)(name_len > 40 ? 40 : name_len), name);
            depth--;
            continue;
        }
        bool is_object = attr_is(name, name_len, "object");
        bool is_distances = attr_is(name, name_len, "distances") || attr_is(name, name_len, "distances2") ||
                            attr_is(name, name_len, "distances2hetero");
        if (depth == 0) {
            if (seen_topology || !attr_is(name, name_len, "topology"))
                return REJECT(&c, lt, "the document element is not one <topology>");
            seen_topology = true;
        }
        unsigned has = 0;
        uint64_t nbobjs = 0;
        bool self_closing = false;
        for (;;) {
            while (c.p < c.end && is_space(*c.p))
                c.p++;
            if (c.p >= c.end)
                return REJECT(&c, lt, "an element <%.*s> without its end",
                              (int)(name_len > 40 ? 40 : name_len), name);
            if (*c.p == '>') {
                c.p++;
                break;
            }
            if (*c.p == '/') {
                if (c.p + 1 >= c.end || c.p[1] != '>')
                    return REJECT(&c, c.p, "a '/' inside a tag");
                c.p += 2;
                self_closing = true;
                break;
            }
            const char *an = c.p;
            while (c.p < c.end && is_name_char(*c.p))
                c.p++;
            size_t an_len = (size_t)(c.p - an);
            if (an_len == 0 || c.p >= c.end || *c.p != '=' || c.p + 1 >= c.end ||
                (c.p[1] != '"' && c.p[1] != '\''))
                return REJECT(&c, an, "a malformed attribute in <%.*s>", (int)(name_len > 40 ? 40 : name_len),
                              name);
            char quote = c.p[1];
            const char *v = c.p + 2;
            const char *ve = memchr(v, quote, (size_t)(c.end - v));
            if (!ve)
                return REJECT(&c, an, "an attribute value without its closing quote");
            if (memchr(v, '<', (size_t)(ve - v)))
                return REJECT(&c, an, "a '<' inside an attribute value");
            size_t vlen = (size_t)(ve - v);
            c.p = ve + 1;
            int shown = an_len > 40 ? 40 : (int)an_len;
            if (is_object) {
                if (attr_is(an, an_len, "type"))
                    has |= HAS_TYPE;
                else if (attr_is(an, an_len, "cpuset"))
                    has |= HAS_CPUSET;
                else if (attr_is(an, an_len, "complete_cpuset"))
                    has |= HAS_COMPLETE_CPUSET;
                else if (attr_is(an, an_len, "nodeset"))
                    has |= HAS_NODESET;
                else if (attr_is(an, an_len, "complete_nodeset"))
                    has |= HAS_COMPLETE_NODESET;
                if (attr_is(an, an_len, "os_index") && !number_ok(v, vlen, TOPOLOGY_XML_INDEX_MAX, NULL))
                    return REJECT(&c, an, "os_index is not a number up to %u", TOPOLOGY_XML_INDEX_MAX);
            }
            if (is_bitmap_attr(an, an_len) && !bitmap_ok(v, vlen))
                return REJECT(&c, an, "%.*s is not an hwloc bitmap (0x followed by hex words)", shown, an);
            if (is_distances && attr_is(an, an_len, "nbobjs")) {
                if (!number_ok(v, vlen, TOPOLOGY_XML_MATRIX_MAX, &nbobjs) || nbobjs == 0)
                    return REJECT(&c, an, "a distance matrix of nbobjs=\"%.*s\": at most %u objects",
                                  (int)(vlen > 24 ? 24 : vlen), v, TOPOLOGY_XML_MATRIX_MAX);
                has |= HAS_NBOBJS;
            }
        }
        if (is_object) {
            if (++objects > TOPOLOGY_XML_OBJECTS_MAX)
                return REJECT(&c, lt, "more than %u objects", TOPOLOGY_XML_OBJECTS_MAX);
            if (!(has & HAS_TYPE))
                return REJECT(&c, lt, "an object without a type");
            /* hwloc 2.9 dereferences the complete sets of an object that has
             * the plain ones, and the root's in any case. */
            bool root = objects == 1;
            if ((has & HAS_CPUSET || root) && !(has & HAS_COMPLETE_CPUSET))
                return REJECT(&c, lt, "an object with%s cpuset but no complete_cpuset",
                              root ? " (the root)" : "");
            if ((has & HAS_NODESET || root) && !(has & HAS_COMPLETE_NODESET))
                return REJECT(&c, lt, "an object with%s nodeset but no complete_nodeset",
                              root ? " (the root)" : "");
            if (root && (has & (HAS_CPUSET | HAS_NODESET)) != (HAS_CPUSET | HAS_NODESET))
                return REJECT(&c, lt, "the root object has no cpuset or no nodeset");
        }
        if (is_distances) {
            if (!(has & HAS_NBOBJS))
                return REJECT(&c, lt, "a distance matrix without nbobjs");
            if (nbobjs > widest_matrix) {
                widest_matrix = nbobjs;
                widest_at = lt;
            }
        }
        if (!self_closing && ++depth > TOPOLOGY_XML_DEPTH_MAX)
            return REJECT(&c, lt, "elements nested deeper than %u", TOPOLOGY_XML_DEPTH_MAX);
        if (self_closing && depth == 0)
            return REJECT(&c, lt, "an empty <topology>");
    }
    if (!seen_topology)
        return REJECT(&c, c.end, "no <topology> element");
    if (depth != 0)
        return REJECT(&c, c.end, "%u elements without their end tags", depth);
    if (objects == 0)
        return REJECT(&c, c.end, "no objects");
    /* A matrix over more objects than the file has would only make hwloc
     * allocate nbobjs squared values before it notices. */
    if (widest_matrix > objects)
        return REJECT(&c, widest_at, "a distance matrix over %llu objects in a file of %llu",
                      (unsigned long long)widest_matrix, (unsigned long long)objects);
    return ACCEL_SUCCESS;
}
