/* select.c — driver globs and the device selector. */
#include "select.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

bool accel__glob_list_match(const accel__strlist *globs, const char *name, const char **which)
{
    for (size_t i = 0; i < globs->count; i++) {
        if (fnmatch(globs->items[i], name, 0) == 0) {
            if (which)
                *which = globs->items[i];
            return true;
        }
    }
    return false;
}

void accel__selector_free(accel__selector *s)
{
    for (size_t i = 0; i < s->term_count; i++) {
        accel__free(s->terms[i].driver_glob);
        accel__free(s->terms[i].filters);
    }
    accel__free(s->terms);
    memset(s, 0, sizeof(*s));
}

/* A span of the selector text. */
typedef struct span {
    const char *p;
    size_t n;
    size_t col; /* 1-based column of p in the whole text */
} span;

static span trim(span s)
{
    while (s.n && (*s.p == ' ' || *s.p == '\t')) {
        s.p++;
        s.n--;
        s.col++;
    }
    while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
        s.n--;
    return s;
}

static bool span_is(span s, const char *word)
{
    return strlen(word) == s.n && strncmp(s.p, word, s.n) == 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Read 1 to `max` hex digits from *p, then `sep` (or the end when sep is
 * 0). */
static bool hex_field(const char **p, int max, char sep, unsigned *out)
{
    unsigned v = 0;
    int n = 0, h;
    while (n < max && (h = hex_value(**p)) >= 0) {
        v = v * 16 + (unsigned)h;
        (*p)++;
        n++;
    }
    if (n == 0 || **p != sep)
        return false;
    if (sep)
        (*p)++;
    *out = v;
    return true;
}

bool accel__bus_address_normalise(const char *in, char out[ACCEL__BUS_ADDRESS_MAX])
{
    const char *p = in;
    unsigned dom = 0, bus, dev, fn;
    bool ok;
    if (strchr(in, ':') != strrchr(in, ':'))
        ok = hex_field(&p, 8, ':', &dom) && hex_field(&p, 2, ':', &bus);
    else
        ok = hex_field(&p, 2, ':', &bus);
    ok = ok && hex_field(&p, 2, '.', &dev) && hex_field(&p, 1, 0, &fn);
    if (!ok || dev > 31 || fn > 7)
        return false;
    snprintf(out, ACCEL__BUS_ADDRESS_MAX, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
    return true;
}

static bool uuid_zero(const uint8_t *u)
{
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        if (u[i])
            return false;
    return true;
}

bool accel__same_hardware(const char *driver_a, const char *bus_a, const uint8_t *uuid_a,
                          const char *driver_b, const char *bus_b, const uint8_t *uuid_b)
{
    if (strcmp(driver_a ? driver_a : "", driver_b ? driver_b : "") == 0)
        return false;
    bus_a = bus_a ? bus_a : "";
    bus_b = bus_b ? bus_b : "";
    if (bus_a[0] && bus_b[0]) {
        char na[ACCEL__BUS_ADDRESS_MAX], nb[ACCEL__BUS_ADDRESS_MAX];
        bool pa = accel__bus_address_normalise(bus_a, na), pb = accel__bus_address_normalise(bus_b, nb);
        return pa && pb ? strcmp(na, nb) == 0 : !pa && !pb && strcmp(bus_a, bus_b) == 0;
    }
    return !uuid_zero(uuid_a) && memcmp(uuid_a, uuid_b, ACCEL_UUID_SIZE) == 0;
}

static accel_result parse_filter(span f, accel__filter *out, char *err, size_t err_size)
{
    static const struct {
        const char *name;
        accel_device_kind kind;
    } kinds[] = {{"cpu", ACCEL_DEVICE_KIND_CPU},
                 {"gpu", ACCEL_DEVICE_KIND_GPU},
                 {"fpga", ACCEL_DEVICE_KIND_FPGA},
                 {"asic", ACCEL_DEVICE_KIND_ASIC},
                 {"network", ACCEL_DEVICE_KIND_NETWORK}};
    memset(out, 0, sizeof(*out));
    if (f.n == 0) {
        accel__fmt(err, err_size, "column %zu: empty filter", f.col);
        return ACCEL_ERROR_INVALID_SELECTOR;
    }
    if (span_is(f, "*")) {
        out->type = ACCEL__FILTER_ANY;
        return ACCEL_SUCCESS;
    }
    if (f.p[0] >= '0' && f.p[0] <= '9') {
        uint64_t v = 0;
        for (size_t i = 0; i < f.n; i++) {
            if (f.p[i] < '0' || f.p[i] > '9') {
                accel__fmt(err, err_size, "column %zu: device index \"%.*s\" is not a decimal number", f.col,
                           (int)f.n, f.p);
                return ACCEL_ERROR_INVALID_SELECTOR;
            }
            v = v * 10 + (uint64_t)(f.p[i] - '0');
            if (v > 0xffffffu) {
                accel__fmt(err, err_size, "column %zu: device index \"%.*s\" is too large", f.col, (int)f.n,
                           f.p);
                return ACCEL_ERROR_INVALID_SELECTOR;
            }
        }
        out->type = ACCEL__FILTER_INDEX;
        out->index = (uint32_t)v;
        return ACCEL_SUCCESS;
    }
    if (f.n >= 5 && strncmp(f.p, "uuid=", 5) == 0) {
        out->type = ACCEL__FILTER_UUID;
        for (size_t i = 5; i < f.n; i++) {
            if (f.p[i] == '-')
                continue;
            int h = hex_value(f.p[i]);
            if (h < 0) {
                accel__fmt(err, err_size, "column %zu: '%c' is not a hexadecimal digit in uuid filter",
                           f.col + i, f.p[i]);
                return ACCEL_ERROR_INVALID_SELECTOR;
            }
            if (out->uuid_len == 2 * ACCEL_UUID_SIZE) {
                accel__fmt(err, err_size, "column %zu: uuid filter longer than %d hex digits", f.col + i,
                           2 * ACCEL_UUID_SIZE);
                return ACCEL_ERROR_INVALID_SELECTOR;
            }
            out->uuid_nibbles[out->uuid_len++] = (uint8_t)h;
        }
        if (out->uuid_len == 0) {
            accel__fmt(err, err_size, "column %zu: uuid filter needs at least one hex digit", f.col);
            return ACCEL_ERROR_INVALID_SELECTOR;
        }
        return ACCEL_SUCCESS;
    }
    if (f.n >= 4 && strncmp(f.p, "bus=", 4) == 0) {
        char text[ACCEL__BUS_ADDRESS_MAX];
        size_t len = f.n - 4;
        out->type = ACCEL__FILTER_BUS;
        if (len >= sizeof(text) || !(memcpy(text, f.p + 4, len), text[len] = '\0', 1) ||
            !accel__bus_address_normalise(text, out->bus)) {
            accel__fmt(err, err_size,
                       "column %zu: bus filter \"%.*s\" is not a PCI address ([domain:]bus:device.function)",
                       f.col + 4, (int)len, f.p + 4);
            return ACCEL_ERROR_INVALID_SELECTOR;
        }
        return ACCEL_SUCCESS;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (span_is(f, kinds[i].name)) {
            out->type = ACCEL__FILTER_KIND;
            out->kind = kinds[i].kind;
            return ACCEL_SUCCESS;
        }
    }
    accel__fmt(err, err_size,
               "column %zu: unknown filter \"%.*s\" (expected an index, cpu, gpu, fpga, asic, network, "
               "uuid=HEX, bus=PCI-ADDRESS or *)",
               f.col, (int)f.n, f.p);
    return ACCEL_ERROR_INVALID_SELECTOR;
}

static bool valid_glob_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '*' || c == '?' || c == '[' || c == ']';
}

static accel_result parse_term(span t, accel__selector_term *out, char *err, size_t err_size)
{
    accel_result r;
    memset(out, 0, sizeof(*out));
    if (t.n == 0) {
        accel__fmt(err, err_size, "column %zu: empty term", t.col);
        return ACCEL_ERROR_INVALID_SELECTOR;
    }
    if (t.p[0] == '!') {
        out->discard = true;
        t.p++;
        t.n--;
        t.col++;
        t = trim(t);
    }
    const char *colon = memchr(t.p, ':', t.n);
    if (!colon) {
        accel__fmt(err, err_size, "column %zu: term \"%.*s\" has no ':' (expected driver:filter)", t.col,
                   (int)t.n, t.p);
        return ACCEL_ERROR_INVALID_SELECTOR;
    }
    span drv = trim((span){t.p, (size_t)(colon - t.p), t.col});
    if (drv.n == 0) {
        accel__fmt(err, err_size, "column %zu: driver name missing before ':'", t.col);
        return ACCEL_ERROR_INVALID_SELECTOR;
    }
    for (size_t i = 0; i < drv.n; i++) {
        if (!valid_glob_char(drv.p[i])) {
            accel__fmt(err, err_size, "column %zu: '%c' is not allowed in a driver name", drv.col + i,
                       drv.p[i]);
            return ACCEL_ERROR_INVALID_SELECTOR;
        }
    }
    if (!(out->driver_glob = accel__strndup(drv.p, drv.n)))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;

    span rest = {colon + 1, t.n - (size_t)(colon + 1 - t.p), t.col + (size_t)(colon + 1 - t.p)};
    size_t nf = 1;
    for (size_t i = 0; i < rest.n; i++)
        nf += rest.p[i] == ',';
    if (!(out->filters = accel__calloc(nf, sizeof(*out->filters))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    size_t start = 0;
    for (size_t i = 0; i <= rest.n; i++) {
        if (i < rest.n && rest.p[i] != ',')
            continue;
        span f = trim((span){rest.p + start, i - start, rest.col + start});
        if ((r = parse_filter(f, &out->filters[out->filter_count], err, err_size)))
            return r;
        out->filter_count++;
        start = i + 1;
    }
    return ACCEL_SUCCESS;
}

accel_result accel__selector_parse(const char *text, accel__selector *out, char *err, size_t err_size)
{
    accel_result r = ACCEL_SUCCESS;
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    size_t len = strlen(text), nterms = 1;
    for (size_t i = 0; i < len; i++)
        nterms += text[i] == ';';
    if (!(out->terms = accel__calloc(nterms, sizeof(*out->terms))))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != ';')
            continue;
        span t = trim((span){text + start, i - start, start + 1});
        /* A trailing ';' is tolerated; an empty term elsewhere is not. */
        if (t.n == 0 && !(i == len && out->term_count > 0)) {
            accel__fmt(err, err_size, "column %zu: empty term", start + 1);
            r = ACCEL_ERROR_INVALID_SELECTOR;
            break;
        }
        if (t.n) {
            r = parse_term(t, &out->terms[out->term_count], err, err_size);
            out->term_count++; /* even when partly parsed, so that free() sees it */
            if (r)
                break;
            if (!out->terms[out->term_count - 1].discard)
                out->accept_count++;
        }
        start = i + 1;
    }
    if (r)
        accel__selector_free(out);
    return r;
}

static bool filter_matches(const accel__filter *f, const accel__selector_candidate *c)
{
    switch (f->type) {
    case ACCEL__FILTER_ANY: return true;
    case ACCEL__FILTER_INDEX: return f->index == c->driver_index;
    case ACCEL__FILTER_KIND: return f->kind == c->kind;
    case ACCEL__FILTER_UUID:
        for (uint32_t i = 0; i < f->uuid_len; i++) {
            uint8_t b = c->uuid[i / 2];
            uint8_t nib = (i % 2) ? (b & 0xf) : (b >> 4);
            if (nib != f->uuid_nibbles[i])
                return false;
        }
        return true;
    case ACCEL__FILTER_BUS: {
        char addr[ACCEL__BUS_ADDRESS_MAX];
        return c->bus_address && accel__bus_address_normalise(c->bus_address, addr) &&
               strcmp(addr, f->bus) == 0;
    }
    }
    return false;
}

bool accel__selector_term_matches(const accel__selector_term *t, const accel__selector_candidate *c)
{
    if (fnmatch(t->driver_glob, c->driver_name, 0) != 0)
        return false;
    for (size_t i = 0; i < t->filter_count; i++)
        if (filter_matches(&t->filters[i], c))
            return true;
    return false;
}

static bool discarded(const accel__selector *s, const accel__selector_candidate *c)
{
    for (size_t i = 0; i < s->term_count; i++)
        if (s->terms[i].discard && accel__selector_term_matches(&s->terms[i], c))
            return true;
    return false;
}

size_t accel__selector_apply(const accel__selector *s, const accel__selector_candidate *c, size_t n,
                             size_t *order)
{
    size_t out = 0;
    if (!s || s->accept_count == 0) {
        for (size_t i = 0; i < n; i++)
            if (!s || !discarded(s, &c[i]))
                order[out++] = i;
        return out;
    }
    /* Accept terms in the order written; a device matched by an earlier
     * term keeps that place. */
    for (size_t t = 0; t < s->term_count; t++) {
        if (s->terms[t].discard)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!accel__selector_term_matches(&s->terms[t], &c[i]) || discarded(s, &c[i]))
                continue;
            bool dup = false;
            for (size_t k = 0; k < out && !dup; k++)
                dup = order[k] == i;
            if (!dup)
                order[out++] = i;
        }
    }
    return out;
}
