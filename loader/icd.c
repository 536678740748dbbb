/* icd.c — loading, negotiating and sharing drivers.
 *
 * The registry is a list of loaded drivers keyed by resolved library path,
 * protected by one mutex that is held while a driver is loaded or unloaded,
 * so that two instances created at once never initialize a driver twice.
 * The mutex is never held while a driver runs on behalf of an application
 * call other than init, enumeration and fini.
 */
#include "icd.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "os.h"
#include "util.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static accel__loaded_driver *registry;

__attribute__((format(printf, 3, 4))) static void service_log(void *ctx, accel_log_level level,
                                                             const char *fmt, ...)
{
    accel__loaded_driver *d = ctx;
    char msg[1536], line[1700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    accel__fmt(line, sizeof(line), "driver %s: %s", d->name, msg);

    /* Driver messages go to the "driver" category; errors and warnings also
     * to their own so that ACCEL_LOADER_DEBUG=error shows why a driver failed. */
    uint32_t cats = ACCEL_LOG_DRIVER | ((uint32_t)level & (ACCEL_LOG_ERROR | ACCEL_LOG_WARN));
    pthread_mutex_lock(&d->listeners_lock);
    for (accel__listener *l = d->listeners; l; l = l->next) {
        const accel__logger *lg = l->logger;
        uint32_t cb = lg->callback ? lg->callback_mask : 0;
        if (lg->stderr_mask & cats)
            fprintf(stderr, "accel-loader: %s\n", line);
        if (cb & cats)
            lg->callback(lg->user_data, (cb & ACCEL_LOG_DRIVER) ? ACCEL_LOG_DRIVER : level, line);
    }
    pthread_mutex_unlock(&d->listeners_lock);
}

static void add_listener(accel__loaded_driver *d, accel__listener *l)
{
    pthread_mutex_lock(&d->listeners_lock);
    l->next = d->listeners;
    d->listeners = l;
    pthread_mutex_unlock(&d->listeners_lock);
}

static void remove_listener(accel__loaded_driver *d, accel__listener *l)
{
    pthread_mutex_lock(&d->listeners_lock);
    for (accel__listener **p = &d->listeners; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&d->listeners_lock);
}

static bool no_unload_env(void)
{
    const char *v = accel__getenv("ACCEL_LOADER_NO_UNLOAD");
    return v && strcmp(v, "0") != 0;
}

static void free_driver(accel__loaded_driver *d)
{
    accel__free(d->library);
    accel__free(d->name);
    accel__free(d->version_string);
    accel__free(d->devices);
    accel__free(d->device_infos);
    pthread_mutex_destroy(&d->listeners_lock);
    accel__free(d);
}

static void unload(accel__loaded_driver *d)
{
    if (d->dl && !d->no_unload && !no_unload_env())
        dlclose(d->dl);
}

/* Check a negotiated table. Returns a reason or NULL.
 *
 * Every reason for rejecting a driver starts with "rule N: ", N being the
 * rule of docs/writing-a-driver.md the driver broke, so that its author
 * finds what to fix. */
static const char *check_table(const accel_icd_table *t, uint32_t version, char *buf, size_t size)
{
    if (!t)
        return "rule 5: accel_icd_negotiate returned no function table";
    if (t->struct_size < ACCEL_ICD_TABLE_SIZE_1_0) {
        accel__fmt(buf, size, "rule 6: function table is %u bytes, interface %u.%u needs at least %zu",
                   t->struct_size, ACCEL_VERSION_MAJOR(version), ACCEL_VERSION_MINOR(version),
                   (size_t)ACCEL_ICD_TABLE_SIZE_1_0);
        return buf;
    }
#define REQUIRE(field)                                                                            \
    if (!t->field) {                                                                              \
        accel__fmt(buf, size, "rule 7: required entry %s is NULL in the function table", #field); \
        return buf;                                                                               \
    }
    REQUIRE(driver_init)
    REQUIRE(driver_fini)
    REQUIRE(enumerate_devices)
    REQUIRE(device_get_info)
    REQUIRE(device_query)
#undef REQUIRE
    return NULL;
}

static accel_result enumerate(accel__loaded_driver *d, char *reason, size_t reason_size)
{
    uint32_t n = 0;
    accel_result r = d->table->enumerate_devices(d->handle, &n, NULL);
    if (r != ACCEL_SUCCESS) {
        accel__fmt(reason, reason_size, "rule 9: enumerate_devices failed: %s (%d)", accel_result_name(r), r);
        return r < 0 ? r : ACCEL_ERROR_DRIVER_INTERNAL;
    }
    if (n > 4096) {
        accel__fmt(reason, reason_size, "rule 9: enumerate_devices reported %u devices (the limit is 4096)", n);
        return ACCEL_ERROR_DRIVER_INTERNAL;
    }
    if (n == 0)
        return ACCEL_SUCCESS;
    d->devices = accel__calloc(n, sizeof(void *));
    d->device_infos = accel__calloc(n, sizeof(accel_icd_device_info));
    if (!d->devices || !d->device_infos)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    uint32_t got = n;
    r = d->table->enumerate_devices(d->handle, &got, d->devices);
    if (r != ACCEL_SUCCESS && r != ACCEL_INCOMPLETE) {
        accel__fmt(reason, reason_size, "rule 9: enumerate_devices failed: %s (%d)", accel_result_name(r), r);
        return r < 0 ? r : ACCEL_ERROR_DRIVER_INTERNAL;
    }
    if (got > n)
        got = n;
    for (uint32_t i = 0; i < got; i++) {
        accel_icd_device_info *info = &d->device_infos[i];
        info->struct_size = sizeof(*info);
        info->numa_node = -1;
        info->parent_index = -1;
        r = d->table->device_get_info(d->devices[i], info);
        if (r != ACCEL_SUCCESS) {
            accel__fmt(reason, reason_size, "rule 10: device_get_info failed for device %u: %s (%d)", i,
                       accel_result_name(r), r);
            return r < 0 ? r : ACCEL_ERROR_DRIVER_INTERNAL;
        }
        /* Never trust a driver to terminate its strings. */
        info->name[sizeof(info->name) - 1] = '\0';
        info->vendor[sizeof(info->vendor) - 1] = '\0';
        info->bus_address[sizeof(info->bus_address) - 1] = '\0';
        info->numa_nodes[sizeof(info->numa_nodes) - 1] = '\0';
        info->device_node[sizeof(info->device_node) - 1] = '\0';
        info->partition[sizeof(info->partition) - 1] = '\0';
        if (info->parent_index >= (int32_t)got || info->parent_index == (int32_t)i)
            info->parent_index = -1;
    }
    d->device_count = got;
    return ACCEL_SUCCESS;
}

static accel_result load(accel__loaded_driver *d, const char *manifest_path, char *reason, size_t reason_size)
{
    /* dlopen opens a path (one with a '/') blocking and reads what it
     * finds: a FIFO would hang it, a device be read. A bare name goes to
     * the dynamic linker's search path, which holds libraries only. */
    if (strchr(d->library, '/')) {
        /* A missing or unreadable file is left to dlopen's own message. */
        int err = accel__check_regular(d->library);
        if (err == EINVAL || err == EISDIR) {
            accel__fmt(reason, reason_size, "rule 1: cannot load library %s: %s", d->library,
                       accel__file_strerror(err));
            return ACCEL_ERROR_DRIVER_LOAD_FAILED;
        }
    }
    dlerror();
    d->dl = dlopen(d->library, RTLD_NOW | RTLD_LOCAL);
    if (!d->dl) {
        const char *e = dlerror();
        accel__fmt(reason, reason_size, "rule 1: cannot load library: %s", e ? e : "dlopen failed");
        return ACCEL_ERROR_DRIVER_LOAD_FAILED;
    }
    accel_icd_negotiate_fn negotiate;
    *(void **)&negotiate = dlsym(d->dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    if (!negotiate) {
        accel__fmt(reason, reason_size, "rule 2: library %s does not export %s", d->library,
                   ACCEL_ICD_NEGOTIATE_SYMBOL);
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    }
    d->services.struct_size = sizeof(d->services);
    d->services.loader_context = d;
    d->services.log = service_log;
    accel_icd_negotiation n = {
        .struct_size = sizeof(n),
        .loader_version = ACCEL_LOADER_ICD_MAX_VERSION,
        .loader_min_version = ACCEL_LOADER_ICD_MIN_VERSION,
        .services = &d->services,
    };
    accel_result r = negotiate(&n);
    if (r != ACCEL_SUCCESS) {
        accel__fmt(reason, reason_size, "rule 3: negotiation refused by the driver: %s (%d)", accel_result_name(r), r);
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    }
    if (n.driver_version > ACCEL_LOADER_ICD_MAX_VERSION || n.driver_version < ACCEL_LOADER_ICD_MIN_VERSION) {
        accel__fmt(reason, reason_size,
                   "rule 4: driver answered interface version %u.%u; this loader accepts %u.%u to %u.%u",
                   ACCEL_VERSION_MAJOR(n.driver_version), ACCEL_VERSION_MINOR(n.driver_version),
                   ACCEL_VERSION_MAJOR(ACCEL_LOADER_ICD_MIN_VERSION),
                   ACCEL_VERSION_MINOR(ACCEL_LOADER_ICD_MIN_VERSION),
                   ACCEL_VERSION_MAJOR(ACCEL_LOADER_ICD_MAX_VERSION),
                   ACCEL_VERSION_MINOR(ACCEL_LOADER_ICD_MAX_VERSION));
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    }
    char buf[256];
    const char *bad = check_table(n.table, n.driver_version, buf, sizeof(buf));
    if (bad) {
        accel__fmt(reason, reason_size, "%s", bad);
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    }
    d->table = n.table;
    d->no_unload = (n.table->flags & ACCEL_ICD_FLAG_NO_UNLOAD) != 0;
    d->version = n.driver_version;

    accel_icd_init_info init = {.struct_size = sizeof(init), .manifest_path = manifest_path, .driver_name = d->name};
    r = d->table->driver_init(&init, &d->handle);
    if (r != ACCEL_SUCCESS) {
        accel__fmt(reason, reason_size, "rule 8: driver_init failed: %s (%d)", accel_result_name(r), r);
        d->table = NULL; /* nothing else may be called, fini included */
        return ACCEL_ERROR_INITIALIZATION_FAILED;
    }
    if (ACCEL__HAS_ENTRY(d->table, driver_version_string)) {
        const char *v = d->table->driver_version_string(d->handle);
        if (v && !(d->version_string = accel__strndup(v, 64)))
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if (r == ACCEL_SUCCESS)
        r = enumerate(d, reason, reason_size);
    if (r != ACCEL_SUCCESS) {
        if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            accel__fmt(reason, reason_size, "out of host memory");
        d->table->driver_fini(d->handle);
        d->table = NULL;
    }
    return r;
}

accel_result accel__driver_acquire(const char *library, const char *name, const char *manifest_path,
                                   const accel__logger *logger, accel__listener *listener,
                                   accel__loaded_driver **out, char *reason, size_t reason_size)
{
    accel_result r = ACCEL_SUCCESS;
    pthread_mutex_lock(&registry_lock);
    accel__loaded_driver *d;
    for (d = registry; d; d = d->next) {
        if (strcmp(d->library, library) == 0) {
            d->refcount++;
            listener->logger = logger;
            add_listener(d, listener);
            *out = d;
            goto out;
        }
    }
    d = accel__calloc(1, sizeof(*d));
    if (!d) {
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    pthread_mutex_init(&d->listeners_lock, NULL);
    d->library = accel__strdup(library);
    d->name = accel__strdup(name);
    if (!d->library || !d->name) {
        free_driver(d);
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    listener->logger = logger;
    add_listener(d, listener); /* so that driver_init's messages reach this instance */
    accel__log(logger, ACCEL_LOG_DEBUG, "driver %s: loading %s", name, library);
    r = load(d, manifest_path, reason, reason_size);
    if (r != ACCEL_SUCCESS) {
        if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
            accel__fmt(reason, reason_size, "out of host memory");
        unload(d);
        free_driver(d);
        goto out;
    }
    d->refcount = 1;
    d->next = registry;
    registry = d;
    *out = d;
out:
    pthread_mutex_unlock(&registry_lock);
    return r;
}

void accel__driver_release(accel__loaded_driver *d, accel__listener *listener)
{
    if (!d)
        return;
    pthread_mutex_lock(&registry_lock);
    remove_listener(d, listener);
    if (--d->refcount == 0) {
        for (accel__loaded_driver **p = &registry; *p; p = &(*p)->next) {
            if (*p == d) {
                *p = d->next;
                break;
            }
        }
        d->table->driver_fini(d->handle);
        unload(d);
        free_driver(d);
    }
    pthread_mutex_unlock(&registry_lock);
}
