/* fpga_config.c — the emulated cards' description file (fpga_config.h).
 *
 *   {
 *     "config_version": 1,
 *     "cards": [
 *       {
 *         "name": "fpga0",
 *         "slots": 2,
 *         "reconfigure_ms": 20,          (optional)
 *         "launch_us": 20,               (optional)
 *         "host_bandwidth_mbps": 12000,  (optional)
 *         "host_latency_ns": 1000,       (optional)
 *         "banks": [
 *           {"name": "bank0", "size_mib": 256,
 *            "bandwidth_mbps": 19200, "latency_ns": 300}   (last two optional)
 *         ]
 *       }
 *     ]
 *   }
 */
#include "fpga_config.h"

#include <string.h>

#include "fpga_json.h"

#define MIB (1024ull * 1024ull)

static void default_bank(fpga_bank_desc *b, const char *name)
{
    memset(b, 0, sizeof(*b));
    fpga__json_fmt(b->name, sizeof(b->name), "%s", name);
    b->capacity = FPGA_DEFAULT_BANK_MIB * MIB;
    b->bandwidth_mbps = FPGA_DEFAULT_BANK_MBPS;
    b->latency_ns = FPGA_DEFAULT_BANK_LATENCY_NS;
}

void fpga__config_default(fpga_card_desc *c)
{
    memset(c, 0, sizeof(*c));
    fpga__json_fmt(c->name, sizeof(c->name), "fpga0");
    c->slot_count = FPGA_DEFAULT_SLOTS;
    c->bank_count = 2;
    default_bank(&c->banks[0], "bank0");
    default_bank(&c->banks[1], "bank1");
    c->reconfigure_ns = FPGA_DEFAULT_RECONFIGURE_MS * 1000000ull;
    c->host_bandwidth_mbps = FPGA_DEFAULT_HOST_MBPS;
    c->host_latency_ns = FPGA_DEFAULT_HOST_LATENCY_NS;
    c->launch_ns = FPGA_DEFAULT_LAUNCH_US * 1000ull;
}

static accel_result parse_bank(const fpga_json_ctx *ctx, json_object *obj, const char *path, fpga_bank_desc *b)
{
    static const char *const known[] = {"name", "size_mib", "bandwidth_mbps", "latency_ns", NULL};
    accel_result r;
    const char *s;
    uint64_t v;
    char where[128];
    default_bank(b, "");
    if ((r = fpga__json_known_keys(ctx, obj, path, known)))
        return r;
    if ((r = fpga__json_get_string(ctx, obj, path, "name", true, FPGA_NAME_MAX, &s, NULL)))
        return r;
    fpga__json_fmt(where, sizeof(where), "%s.name", path);
    if (!fpga__json_plain_name(s, FPGA_NAME_MAX))
        return fpga__json_fail(ctx, where, "\"%s\" must be characters of A-Z a-z 0-9 _ - .", s);
    if (strcmp(s, "host") == 0 || strcmp(s, "any") == 0)
        return fpga__json_fail(ctx, where, "\"%s\" is reserved (images use it for other wiring)", s);
    memcpy(b->name, s, strlen(s) + 1);
    if ((r = fpga__json_get_uint(ctx, obj, path, "size_mib", true, 1, FPGA_CONFIG_MAX_BANK_MIB, &v, NULL)))
        return r;
    b->capacity = v * MIB;
    if ((r = fpga__json_get_uint(ctx, obj, path, "bandwidth_mbps", false, 1, 100000000, &b->bandwidth_mbps,
                                 NULL)) ||
        (r = fpga__json_get_uint(ctx, obj, path, "latency_ns", false, 0, 1000000000, &b->latency_ns, NULL)))
        return r;
    return ACCEL_SUCCESS;
}

static accel_result parse_card(const fpga_json_ctx *ctx, json_object *obj, const char *path, fpga_card_desc *c)
{
    static const char *const known[] = {"name",      "slots",           "reconfigure_ms", "launch_us",
                                        "banks",     "host_bandwidth_mbps", "host_latency_ns", NULL};
    accel_result r;
    const char *s;
    uint64_t v;
    char where[128];
    fpga__config_default(c);
    c->bank_count = 0;
    memset(c->banks, 0, sizeof(c->banks));
    if ((r = fpga__json_known_keys(ctx, obj, path, known)))
        return r;
    if ((r = fpga__json_get_string(ctx, obj, path, "name", true, FPGA_NAME_MAX, &s, NULL)))
        return r;
    if (!fpga__json_plain_name(s, FPGA_NAME_MAX)) {
        fpga__json_fmt(where, sizeof(where), "%s.name", path);
        return fpga__json_fail(ctx, where, "\"%s\" must be characters of A-Z a-z 0-9 _ - .", s);
    }
    memcpy(c->name, s, strlen(s) + 1);
    if ((r = fpga__json_get_uint(ctx, obj, path, "slots", true, 1, FPGA_MAX_SLOTS, &v, NULL)))
        return r;
    c->slot_count = (uint32_t)v;
    bool present;
    if ((r = fpga__json_get_uint(ctx, obj, path, "reconfigure_ms", false, 0, FPGA_CONFIG_MAX_RECONFIGURE_MS, &v,
                                 &present)))
        return r;
    if (present)
        c->reconfigure_ns = v * 1000000ull;
    if ((r = fpga__json_get_uint(ctx, obj, path, "launch_us", false, 0, 1000000, &v, &present)))
        return r;
    if (present)
        c->launch_ns = v * 1000ull;
    if ((r = fpga__json_get_uint(ctx, obj, path, "host_bandwidth_mbps", false, 1, 100000000,
                                 &c->host_bandwidth_mbps, NULL)) ||
        (r = fpga__json_get_uint(ctx, obj, path, "host_latency_ns", false, 0, 1000000000, &c->host_latency_ns,
                                 NULL)))
        return r;

    json_object *banks;
    if ((r = fpga__json_get_array(ctx, obj, path, "banks", 1, FPGA_MAX_BANKS, &banks)))
        return r;
    uint32_t n = (uint32_t)json_object_array_length(banks);
    for (uint32_t i = 0; i < n; i++) {
        json_object *b;
        fpga__json_fmt(where, sizeof(where), "%s.banks[%u]", path, i);
        if ((r = fpga__json_element_object(ctx, banks, i, where, &b)) ||
            (r = parse_bank(ctx, b, where, &c->banks[i])))
            return r;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(c->banks[j].name, c->banks[i].name) == 0)
                return fpga__json_fail(ctx, where, "a second bank named \"%s\"", c->banks[i].name);
    }
    c->bank_count = n;
    return ACCEL_SUCCESS;
}

accel_result fpga__config_parse(const char *text, size_t size, const char *source, fpga_card_desc *cards,
                                uint32_t *count, char *error, size_t error_size)
{
    static const char *const known[] = {"config_version", "cards", NULL};
    fpga_json_ctx ctx = {source ? source : "(card file)", error, error_size};
    json_object *root = NULL, *list;
    uint64_t v;
    char where[64];
    if (error && error_size)
        error[0] = '\0';
    *count = 0;

    accel_result r = fpga__json_parse(&ctx, text, size, &root);
    if (r)
        return r;
    if ((r = fpga__json_known_keys(&ctx, root, "$", known)))
        goto out;
    if ((r = fpga__json_get_uint(&ctx, root, "$", "config_version", true, 0, UINT32_MAX, &v, NULL)))
        goto out;
    if (v != FPGA_CONFIG_VERSION) {
        r = fpga__json_fail(&ctx, "$.config_version", "version %llu is not supported (this emulator reads %d)",
                            (unsigned long long)v, FPGA_CONFIG_VERSION);
        goto out;
    }
    if ((r = fpga__json_get_array(&ctx, root, "$", "cards", 1, FPGA_MAX_CARDS, &list)))
        goto out;
    uint32_t n = (uint32_t)json_object_array_length(list);
    for (uint32_t i = 0; i < n; i++) {
        json_object *c;
        fpga__json_fmt(where, sizeof(where), "$.cards[%u]", i);
        if ((r = fpga__json_element_object(&ctx, list, i, where, &c)) ||
            (r = parse_card(&ctx, c, where, &cards[i])))
            goto out;
        for (uint32_t j = 0; j < i; j++) {
            if (strcmp(cards[j].name, cards[i].name) == 0) {
                r = fpga__json_fail(&ctx, where, "a second card named \"%s\"", cards[i].name);
                goto out;
            }
        }
    }
    *count = n;
out:
    json_object_put(root);
    return r;
}
