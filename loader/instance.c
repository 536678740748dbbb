/* instance.c — creating an instance: discovery, manifest checks, driver
 * selection, loading, device selection. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "os.h"
#include "search.h"

#define KNOWN_INSTANCE_FLAGS (ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION)

/* The smallest accel_instance_options a caller may pass (the 1.0 layout). */
#define OPTIONS_MIN_SIZE (offsetof(accel_instance_options, device_selector) + sizeof(const char *))

typedef struct create_ctx {
    accel_instance *inst;
    accel__strlist select_globs;
    accel__strlist disable_globs;
    accel__selector selector;
    bool has_selector;
} create_ctx;

static void free_manifest(accel_manifest *m)
{
    if (!m)
        return;
    accel__free(m->path);
    accel__free(m->reason);
    accel__manifest_data_clear(&m->data);
    accel__free(m);
}

/* Free an instance: from accel_instance_destroy, or a creation that
 * failed (registered, never seen by the application). */
static void instance_free(accel_instance *inst)
{
    ACCEL__HANDLE_RETIRE(inst, ACCEL__HANDLE_INSTANCE);
    /* Work first (queues finish and go), then the memory it used. */
    accel__queue_destroy_all(inst);
    accel__programs_free_all(inst);
    accel__memory_free_all(inst);
    accel_topology_destroy(inst->topology);
    accel__memory_nodes_free(inst);
    pthread_mutex_destroy(&inst->objects_lock);
    for (size_t i = 0; i < inst->driver_count; i++) {
        accel__driver_release(inst->drivers[i]->loaded, &inst->drivers[i]->listener);
        accel__free(inst->drivers[i]);
    }
    for (size_t i = 0; i < inst->manifest_count; i++)
        free_manifest(inst->manifests[i]);
    accel__free(inst->manifests);
    accel__free(inst->drivers);
    /* Kept for the next instance with their tags cleared: a device handle
     * used after this is ACCEL_ERROR_INVALID_HANDLE, not a read of freed
     * memory (handle.h). */
    accel__device_array_retire(inst->all_devices, inst->all_device_count);
    accel__free(inst->devices);
    accel__free(inst);
}

accel_result accel_instance_destroy(accel_instance *inst)
{
    ACCEL__HANDLE_DESTROY(inst, ACCEL__HANDLE_INSTANCE, "accel_instance_destroy", ACCEL_ERROR_INVALID_HANDLE);
    if (inst)
        instance_free(inst);
    return ACCEL_SUCCESS;
}

/* Record a manifest as skipped or failed, log one line for it. */
static accel_result reject(accel_instance *inst, accel_manifest *m, accel_manifest_status status,
                           accel_result result, accel_log_level level, const char *reason)
{
    m->status = status;
    m->result = result;
    if (!(m->reason = accel__strdup(reason)))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    accel__log(&inst->logger, level, "manifest %s: %s: %s", m->path, accel_manifest_status_string(status),
               reason);
    return ACCEL_SUCCESS;
}

/* Find an earlier manifest that will be loaded and has the same driver
 * name or library. */
static const accel_manifest *find_duplicate(const accel_instance *inst, const accel_manifest *m,
                                            const char **what)
{
    for (size_t i = 0; i < inst->manifest_count; i++) {
        const accel_manifest *o = inst->manifests[i];
        if (o == m || o->status == ACCEL_MANIFEST_SKIPPED || !o->data.driver_name)
            continue;
        if (strcmp(o->data.driver_name, m->data.driver_name) == 0) {
            *what = "driver name";
            return o;
        }
        if (strcmp(o->data.resolved_library, m->data.resolved_library) == 0) {
            *what = "library";
            return o;
        }
    }
    return NULL;
}

/* Parse and check one manifest; on success it is marked LOADED (pending
 * the actual load). Returns an error only for out-of-memory. */
static accel_result consider(create_ctx *c, accel_manifest *m, const char *search_reason)
{
    accel_instance *inst = c->inst;
    char reason[512];
    const char *glob;

    if (search_reason)
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, ACCEL_ERROR_IO, ACCEL_LOG_WARN, search_reason);

    accel_result r = accel__manifest_load(m->path, &m->data, reason, sizeof(reason));
    if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY)
        return r;
    if (r != ACCEL_SUCCESS)
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, r, ACCEL_LOG_WARN, reason);
    if (m->data.newer_minor)
        accel__log(&inst->logger, ACCEL_LOG_INFO,
                   "manifest %s: file_format_version %u.%u is newer than this loader's %u.%u; "
                   "unknown fields are ignored",
                   m->path, ACCEL_VERSION_MAJOR(m->data.file_format_version),
                   ACCEL_VERSION_MINOR(m->data.file_format_version), ACCEL_MANIFEST_FORMAT_MAJOR,
                   ACCEL_MANIFEST_FORMAT_MINOR);

    const char *name = m->data.driver_name;
    if (accel__glob_list_match(&c->disable_globs, name, &glob)) {
        accel__fmt(reason, sizeof(reason), "driver %s disabled by ACCEL_DRIVERS_DISABLE (matches \"%s\")",
                   name, glob);
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, ACCEL_ERROR_NOT_FOUND, ACCEL_LOG_INFO, reason);
    }
    if (c->select_globs.count && !accel__glob_list_match(&c->select_globs, name, NULL)) {
        accel__fmt(reason, sizeof(reason), "driver %s not selected by ACCEL_DRIVERS_SELECT", name);
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, ACCEL_ERROR_NOT_FOUND, ACCEL_LOG_INFO, reason);
    }
    if (ACCEL_VERSION_MAJOR(m->data.api_version) > ACCEL_API_VERSION_MAJOR) {
        accel__fmt(reason, sizeof(reason), "driver %s needs accel API %u.%u; this loader provides %u.%u", name,
                   ACCEL_VERSION_MAJOR(m->data.api_version), ACCEL_VERSION_MINOR(m->data.api_version),
                   ACCEL_API_VERSION_MAJOR, ACCEL_API_VERSION_MINOR);
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, ACCEL_ERROR_INCOMPATIBLE_DRIVER, ACCEL_LOG_WARN, reason);
    }
    /* Name a library file by its real path (only for drivers that will be
     * loaded: filtering must stay cheap), so that two manifests reaching
     * one file through different paths are seen as one library (and the
     * process-wide registry loads it once). Bare names are left to the
     * dynamic linker. */
    if (strchr(m->data.resolved_library, '/')) {
        char *real = accel__realpath(m->data.resolved_library);
        if (real) {
            accel__free(m->data.resolved_library);
            m->data.resolved_library = real;
        }
    }

    const char *what = NULL;
    const accel_manifest *first = find_duplicate(inst, m, &what);
    if (first) {
        accel__fmt(reason, sizeof(reason), "same %s as %s, which was found first", what, first->path);
        return reject(inst, m, ACCEL_MANIFEST_SKIPPED, ACCEL_ERROR_INVALID_MANIFEST, ACCEL_LOG_WARN, reason);
    }
    m->status = ACCEL_MANIFEST_LOADED;
    return ACCEL_SUCCESS;
}

static accel_result load_driver(accel_instance *inst, accel_manifest *m)
{
    char reason[768];
    accel_driver *drv = accel__calloc(1, sizeof(*drv));
    if (!drv)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    drv->instance = inst;
    drv->manifest = m;
    accel_result r = accel__driver_acquire(m->data.resolved_library, m->data.driver_name, m->path,
                                           &inst->logger, &drv->listener, &drv->loaded, reason, sizeof(reason));
    if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY) {
        accel__free(drv);
        return r;
    }
    if (r != ACCEL_SUCCESS) {
        accel__free(drv);
        return reject(inst, m, ACCEL_MANIFEST_FAILED, r, ACCEL_LOG_ERROR, reason);
    }
    inst->drivers[inst->driver_count++] = drv;
    m->driver = drv;
    accel__log(&inst->logger, ACCEL_LOG_INFO, "manifest %s: loaded driver %s (%s, interface %u.%u, %u device(s))",
               m->path, m->data.driver_name, m->data.resolved_library, ACCEL_VERSION_MAJOR(drv->loaded->version),
               ACCEL_VERSION_MINOR(drv->loaded->version), drv->loaded->device_count);
    return ACCEL_SUCCESS;
}

static accel_result build_devices(create_ctx *c)
{
    accel_instance *inst = c->inst;
    size_t total = 0;
    for (size_t i = 0; i < inst->driver_count; i++)
        total += inst->drivers[i]->loaded->device_count;
    if (total == 0)
        return ACCEL_SUCCESS;
    accel__selector_candidate *cand = accel__calloc(total, sizeof(*cand));
    size_t *order = accel__calloc(total, sizeof(*order));
    inst->all_devices = accel__device_array_new(total);
    if (!cand || !order || !inst->all_devices) {
        accel__free(cand);
        accel__free(order);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    size_t k = 0;
    for (size_t i = 0; i < inst->driver_count; i++) {
        accel_driver *drv = inst->drivers[i];
        accel__loaded_driver *ld = drv->loaded;
        size_t base = k;
        for (uint32_t j = 0; j < ld->device_count; j++, k++) {
            accel_device *d = &inst->all_devices[k];
            d->magic = ACCEL__DEVICE_MAGIC;
            d->query = ld->table->device_query;
            d->icd_device = ld->devices[j];
            d->instance = inst;
            d->driver = drv;
            d->info = &ld->device_infos[j];
            d->driver_index = j;
            d->index = UINT32_MAX;
            d->physical = UINT32_MAX;
            if (d->info->parent_index >= 0)
                d->parent = &inst->all_devices[base + (size_t)d->info->parent_index];
            cand[k] = (accel__selector_candidate){drv->manifest->data.driver_name, j, d->info->kind, d->info->uuid,
                                                  d->info->bus_address};
        }
    }
    inst->all_device_count = total;
    size_t n = accel__selector_apply(c->has_selector ? &c->selector : NULL, cand, total, order);
    accel__free(cand);
    if (n) {
        inst->devices = accel__calloc(n, sizeof(*inst->devices));
        if (!inst->devices) {
            accel__free(order);
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        }
    }
    for (size_t i = 0; i < n; i++) {
        inst->devices[i] = &inst->all_devices[order[i]];
        inst->devices[i]->index = (uint32_t)i;
    }
    inst->device_count = n;
    accel__free(order);
    if (accel__group_physical_devices(inst))
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    if (c->has_selector)
        accel__log(&inst->logger, ACCEL_LOG_INFO, "device selector kept %zu of %zu device(s)", n, total);
    return ACCEL_SUCCESS;
}

static accel_result copy_paths(const accel_instance_options *o, accel__strlist *out)
{
    for (uint32_t i = 0; i < o->manifest_path_count; i++) {
        if (!o->manifest_paths[i] || !o->manifest_paths[i][0])
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_instance_create: options->manifest_paths[%u] is NULL or empty", i);
        if (accel__strlist_push(out, o->manifest_paths[i]))
            return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_instance_create: out of host memory");
    }
    return ACCEL_SUCCESS;
}

accel_result accel_instance_create(const accel_instance_options *options, accel_instance **out)
{
    accel_instance_options o = {0};
    create_ctx c = {0};
    accel__strlist explicit_paths = {0};
    accel__search_result found = {0};
    accel_result r;
    char err[512];

    if (!out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_instance_create: instance is NULL");
    if (options) {
        if (options->struct_size < OPTIONS_MIN_SIZE)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_instance_create: options->struct_size %u is smaller than %zu",
                                options->struct_size, (size_t)OPTIONS_MIN_SIZE);
        memcpy(&o, options, options->struct_size < sizeof(o) ? options->struct_size : sizeof(o));
        if (o.flags & ~KNOWN_INSTANCE_FLAGS)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_instance_create: unknown flags 0x%x",
                                o.flags & ~KNOWN_INSTANCE_FLAGS);
        if (o.manifest_path_count && !o.manifest_paths)
            return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                                "accel_instance_create: manifest_path_count is %u but manifest_paths is NULL",
                                o.manifest_path_count);
    }

    c.inst = accel__calloc(1, sizeof(*c.inst));
    if (c.inst && accel__handle_add(c.inst, ACCEL__HANDLE_INSTANCE)) {
        accel__free(c.inst);
        c.inst = NULL;
    }
    if (!c.inst)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_instance_create: out of host memory");
    accel_instance *inst = c.inst;
    pthread_mutex_init(&inst->objects_lock, NULL);
    pthread_mutex_init(&inst->nodes_lock, NULL);
    accel__logger_init(&inst->logger, o.log_callback, o.log_user_data, o.log_mask);

    /* The selector is checked before anything is read or loaded. */
    const char *sel = o.device_selector;
    const char *sel_origin = "device_selector option";
    if (!sel && !(o.flags & ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION)) {
        sel = accel__getenv("ACCEL_DEVICE_SELECTOR");
        sel_origin = "ACCEL_DEVICE_SELECTOR";
    }
    if (sel) {
        r = accel__selector_parse(sel, &c.selector, err, sizeof(err));
        if (r == ACCEL_ERROR_INVALID_SELECTOR) {
            accel__log(&inst->logger, ACCEL_LOG_ERROR, "%s=\"%s\": %s", sel_origin, sel, err);
            r = accel__error(r, "%s=\"%s\": %s", sel_origin, sel, err);
            goto fail;
        }
        if (r)
            goto oom;
        c.has_selector = true;
    }
    if (!(o.flags & ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION)) {
        const char *v;
        if ((v = accel__getenv("ACCEL_DRIVERS_SELECT")) && accel__split(v, ',', &c.select_globs))
            goto oom;
        if ((v = accel__getenv("ACCEL_DRIVERS_DISABLE")) && accel__split(v, ',', &c.disable_globs))
            goto oom;
    }

    if (o.manifest_path_count) {
        if ((r = copy_paths(&o, &explicit_paths)))
            goto fail;
    }
    if (accel__search(o.manifest_path_count ? &explicit_paths : NULL, &inst->logger, &found))
        goto oom;

    if (found.count) {
        inst->manifests = accel__calloc(found.count, sizeof(*inst->manifests));
        inst->drivers = accel__calloc(found.count, sizeof(*inst->drivers));
        if (!inst->manifests || !inst->drivers)
            goto oom;
    }
    for (size_t i = 0; i < found.count; i++) {
        accel_manifest *m = accel__calloc(1, sizeof(*m));
        if (!m)
            goto oom;
        m->instance = inst;
        m->path = found.entries[i].path;
        found.entries[i].path = NULL;
        inst->manifests[inst->manifest_count++] = m;
        if (consider(&c, m, found.entries[i].reason))
            goto oom;
    }
    for (size_t i = 0; i < inst->manifest_count; i++) {
        if (inst->manifests[i]->status == ACCEL_MANIFEST_LOADED && load_driver(inst, inst->manifests[i]))
            goto oom;
    }
    if (build_devices(&c))
        goto oom;

    accel__log(&inst->logger, ACCEL_LOG_INFO, "instance: %zu manifest(s), %zu driver(s), %zu device(s)",
               inst->manifest_count, inst->driver_count, inst->device_count);
    accel__search_result_free(&found);
    accel__strlist_free(&explicit_paths);
    accel__strlist_free(&c.select_globs);
    accel__strlist_free(&c.disable_globs);
    accel__selector_free(&c.selector);
    *out = inst;
    return ACCEL_SUCCESS;

oom:
    r = accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_instance_create: out of host memory");
fail:
    accel__search_result_free(&found);
    accel__strlist_free(&explicit_paths);
    accel__strlist_free(&c.select_globs);
    accel__strlist_free(&c.disable_globs);
    accel__selector_free(&c.selector);
    instance_free(inst);
    return r;
}

/* ---- manifests ---- */

accel_result accel_enumerate_manifests(accel_instance *inst, uint32_t *count, accel_manifest **manifests)
{
    ACCEL__HANDLE_USE(inst, ACCEL__HANDLE_INSTANCE, "accel_enumerate_manifests", ACCEL_ERROR_INVALID_HANDLE);
    return accel__enumerate("accel_enumerate_manifests", inst, inst ? inst->manifests : NULL,
                            inst ? inst->manifest_count : 0, count, manifests);
}

accel_result accel_manifest_get_info(const accel_manifest *m, accel_manifest_info *info)
{
    accel_result r = accel__check_info_args("accel_manifest_get_info", "manifest", m, info);
    if (r)
        return r;
    accel_manifest_info full = {
        .struct_size = sizeof(full),
        .path = m->path,
        .driver_name = m->data.driver_name,
        .library_path = m->data.library_path,
        .resolved_library = m->data.resolved_library,
        .status = m->status,
        .reason = m->reason,
        .result = m->status == ACCEL_MANIFEST_LOADED ? ACCEL_SUCCESS : m->result,
        .file_format_version = m->data.file_format_version,
        .api_version = m->data.api_version,
        .driver = m->driver,
    };
    accel__copy_out(info, &full, sizeof(full));
    return ACCEL_SUCCESS;
}
