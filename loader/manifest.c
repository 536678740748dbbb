/* manifest.c — the driver manifest parser.
 *
 *   {
 *     "file_format_version": "1.0.0",
 *     "driver": {
 *       "name": "cpu",
 *       "library_path": "/usr/lib/accel/libaccel_cpu.so",
 *       "api_version": "1.0",          (the accel API version, ACCEL_API_VERSION)
 *       "library_arch": "64",          (optional)
 *       "device_kinds": ["cpu"]        (optional hint)
 *     }
 *   }
 *
 * Unknown members are ignored so that newer minor formats stay readable.
 */
#include "manifest.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "alloc.h"
#include "os.h"
#include "util.h"

void accel__manifest_data_clear(accel__manifest_data *m)
{
    accel__free(m->driver_name);
    accel__free(m->library_path);
    accel__free(m->resolved_library);
    memset(m, 0, sizeof(*m));
}

static const char *type_name(json_object *o)
{
    return json_type_to_name(json_object_get_type(o));
}

/* Fetch a required string member. */
static accel_result get_string(json_object *obj, const char *where, const char *key, const char **out,
                               char *reason, size_t reason_size)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v)) {
        accel__fmt(reason, reason_size, "%s%s missing", where, key);
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    if (!json_object_is_type(v, json_type_string)) {
        accel__fmt(reason, reason_size, "%s%s must be a string, not %s", where, key, type_name(v));
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    *out = json_object_get_string(v);
    if (strlen(*out) != (size_t)json_object_get_string_len(v)) {
        accel__fmt(reason, reason_size, "%s%s contains a NUL character", where, key);
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    if (!**out) {
        accel__fmt(reason, reason_size, "%s%s is empty", where, key);
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    return ACCEL_SUCCESS;
}

static bool valid_driver_name(const char *s)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return false;
    }
    return n > 0 && n <= 64;
}

static accel_result parse_kinds(json_object *arr, uint32_t *mask, char *reason, size_t reason_size)
{
    static const char *const names[] = {[ACCEL_DEVICE_KIND_CPU] = "cpu",
                                        [ACCEL_DEVICE_KIND_GPU] = "gpu",
                                        [ACCEL_DEVICE_KIND_FPGA] = "fpga",
                                        [ACCEL_DEVICE_KIND_ASIC] = "asic",
                                        [ACCEL_DEVICE_KIND_NETWORK] = "network"};
    if (!json_object_is_type(arr, json_type_array)) {
        accel__fmt(reason, reason_size, "driver.device_kinds must be an array, not %s", type_name(arr));
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(e, json_type_string)) {
            accel__fmt(reason, reason_size, "driver.device_kinds[%zu] must be a string, not %s", i,
                       type_name(e));
            return ACCEL_ERROR_INVALID_MANIFEST;
        }
        const char *s = json_object_get_string(e);
        unsigned k = sizeof(names) / sizeof(names[0]);
        if (strlen(s) == (size_t)json_object_get_string_len(e)) {
            for (k = 1; k < sizeof(names) / sizeof(names[0]); k++)
                if (strcmp(s, names[k]) == 0)
                    break;
        }
        if (k == sizeof(names) / sizeof(names[0])) {
            accel__fmt(reason, reason_size,
                       "driver.device_kinds[%zu] is \"%.40s\", not one of cpu, gpu, fpga, asic, network", i, s);
            return ACCEL_ERROR_INVALID_MANIFEST;
        }
        *mask |= 1u << k;
    }
    return ACCEL_SUCCESS;
}

static accel_result resolve_library(const char *manifest_path, const char *lib, char **out)
{
    if (lib[0] == '/' || !strchr(lib, '/')) {
        /* Absolute, or a bare name for the dynamic linker's search. */
        *out = accel__strdup(lib);
    } else {
        char *dir = accel__dirname(manifest_path ? manifest_path : "./x");
        *out = dir ? accel__path_join(dir, lib) : NULL;
        accel__free(dir);
    }
    return *out ? ACCEL_SUCCESS : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
}

accel_result accel__manifest_parse(const char *path, const char *data, size_t size,
                                   accel__manifest_data *out, char *reason, size_t reason_size)
{
    accel_result r = ACCEL_ERROR_INVALID_MANIFEST;
    json_object *root = NULL;
    const char *s;
    unsigned major, minor;

    memset(out, 0, sizeof(*out));
    reason[0] = '\0';

    if (size > ACCEL_MANIFEST_MAX_SIZE) {
        accel__fmt(reason, reason_size, "file too large (%zu bytes; the limit is %u)", size,
                   ACCEL_MANIFEST_MAX_SIZE);
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    if (size > 0 && memchr(data, '\0', size)) {
        accel__fmt(reason, reason_size, "not JSON: the file contains a NUL byte");
        return ACCEL_ERROR_INVALID_MANIFEST;
    }

    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, data, (int)size);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (jerr == json_tokener_continue) {
        /* A bare number or literal at the very end is only complete once
         * the tokener sees the end of input: feed it the terminating NUL. */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
    }
    if (jerr == json_tokener_continue) {
        accel__fmt(reason, reason_size, "not JSON: unexpected end of file");
        json_tokener_free(tok);
        goto out;
    }
    if (jerr != json_tokener_success) {
        accel__fmt(reason, reason_size, "not JSON: %s at byte %zu", json_tokener_error_desc(jerr),
                   json_tokener_get_parse_end(tok));
        json_tokener_free(tok);
        goto out;
    }
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    for (; end < size; end++) {
        char c = data[end];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            accel__fmt(reason, reason_size, "not JSON: trailing data at byte %zu", end);
            goto out;
        }
    }

    if (!json_object_is_type(root, json_type_object)) {
        accel__fmt(reason, reason_size, "top level must be an object, not %s", type_name(root));
        goto out;
    }

    if ((r = get_string(root, "", "file_format_version", &s, reason, reason_size)))
        goto out;
    r = ACCEL_ERROR_INVALID_MANIFEST;
    if (!accel__parse_version(s, &major, &minor, NULL)) {
        accel__fmt(reason, reason_size, "file_format_version \"%.40s\" is not MAJOR.MINOR[.PATCH]", s);
        goto out;
    }
    out->file_format_version = ACCEL_MAKE_VERSION(major, minor);
    if (major != ACCEL_MANIFEST_FORMAT_MAJOR) {
        accel__fmt(reason, reason_size, "unsupported file_format_version %u.%u (this loader reads %u.x)",
                   major, minor, ACCEL_MANIFEST_FORMAT_MAJOR);
        r = ACCEL_ERROR_INCOMPATIBLE_DRIVER;
        goto out;
    }
    out->newer_minor = minor > ACCEL_MANIFEST_FORMAT_MINOR;

    json_object *drv;
    if (!json_object_object_get_ex(root, "driver", &drv)) {
        accel__fmt(reason, reason_size, "driver missing");
        goto out;
    }
    if (!json_object_is_type(drv, json_type_object)) {
        accel__fmt(reason, reason_size, "driver must be an object, not %s", type_name(drv));
        goto out;
    }

    if ((r = get_string(drv, "driver.", "name", &s, reason, reason_size)))
        goto out;
    r = ACCEL_ERROR_INVALID_MANIFEST;
    if (!valid_driver_name(s)) {
        accel__fmt(reason, reason_size,
                   "driver.name \"%.64s\" must be 1-64 characters of A-Z a-z 0-9 _ - .", s);
        goto out;
    }
    if (!(out->driver_name = accel__strdup(s))) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }

    if ((r = get_string(drv, "driver.", "library_path", &s, reason, reason_size)))
        goto out;
    if (!(out->library_path = accel__strdup(s))) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }

    if ((r = get_string(drv, "driver.", "api_version", &s, reason, reason_size)))
        goto out;
    r = ACCEL_ERROR_INVALID_MANIFEST;
    if (!accel__parse_version(s, &major, &minor, NULL)) {
        accel__fmt(reason, reason_size, "driver.api_version \"%.40s\" is not MAJOR.MINOR[.PATCH]", s);
        goto out;
    }
    out->api_version = ACCEL_MAKE_VERSION(major, minor);

    json_object *v;
    if (json_object_object_get_ex(drv, "library_arch", &v)) {
        if (!json_object_is_type(v, json_type_string)) {
            accel__fmt(reason, reason_size, "driver.library_arch must be a string, not %s", type_name(v));
            goto out;
        }
        s = json_object_get_string(v);
        if (strlen(s) != (size_t)json_object_get_string_len(v) || (strcmp(s, "32") != 0 && strcmp(s, "64") != 0)) {
            accel__fmt(reason, reason_size, "driver.library_arch \"%.40s\" is not \"32\" or \"64\"", s);
            goto out;
        }
        if ((unsigned)(s[0] - '0') * 10u + (unsigned)(s[1] - '0') != accel__os_bits()) {
            accel__fmt(reason, reason_size, "driver.library_arch is %s-bit, this process is %u-bit", s,
                       accel__os_bits());
            r = ACCEL_ERROR_INCOMPATIBLE_DRIVER;
            goto out;
        }
    }

    if (json_object_object_get_ex(drv, "device_kinds", &v) &&
        (r = parse_kinds(v, &out->device_kinds, reason, reason_size)))
        goto out;

    r = resolve_library(path, out->library_path, &out->resolved_library);
out:
    json_object_put(root);
    return r;
}

accel_result accel__manifest_load(const char *path, accel__manifest_data *out, char *reason,
                                  size_t reason_size)
{
    char *data = NULL;
    size_t size = 0;
    memset(out, 0, sizeof(*out));
    int err = accel__read_file(path, ACCEL_MANIFEST_MAX_SIZE, &data, &size);
    if (err == ENOMEM)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    if (err == EFBIG) {
        accel__fmt(reason, reason_size, "file too large (the limit is %u bytes)", ACCEL_MANIFEST_MAX_SIZE);
        return ACCEL_ERROR_INVALID_MANIFEST;
    }
    if (err) {
        accel__fmt(reason, reason_size, "cannot read: %s", accel__file_strerror(err));
        return ACCEL_ERROR_IO;
    }
    accel_result r = accel__manifest_parse(path, data, size, out, reason, reason_size);
    accel__free(data);
    return r;
}
