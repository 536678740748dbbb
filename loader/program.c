/* program.c — programs and functions: loading through the device's driver,
 * built-in functions by name, and their signatures. */
#include <string.h>

#include "alloc.h"
#include "loader.h"

/* The compiler log a driver may return; the tail of it reaches the
 * application through accel_last_error_message(). */
#define BUILD_LOG_SIZE 16384

/* Programs need the program entries; functions (built-in ones at least)
 * only the function entries: a fixed-function device loads no programs. */
static accel_result need_entries(const accel_device *dev, const char *fn, bool programs)
{
    const accel_icd_table *t = accel__table(dev);
    if (programs && (!ACCEL__HAS_ENTRY(t, program_load) || !ACCEL__HAS_ENTRY(t, program_release)))
        return accel__error(ACCEL_ERROR_UNSUPPORTED, "%s: driver %s does not load programs", fn,
                            dev->driver->manifest->data.driver_name);
    if (!ACCEL__HAS_ENTRY(t, function_get) || !ACCEL__HAS_ENTRY(t, function_release))
        return accel__error(ACCEL_ERROR_UNSUPPORTED, "%s: driver %s does not run functions", fn,
                            dev->driver->manifest->data.driver_name);
    return ACCEL_SUCCESS;
}

accel_result accel_program_load(accel_device *dev, accel_program_format format, const void *data, size_t size,
                                const char *options, accel_program **out)
{
    ACCEL__DEVICE_USE(dev, "accel_program_load", ACCEL_ERROR_INVALID_HANDLE);
    if (!dev || !data || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_program_load: %s is NULL",
                            !dev ? "device" : !data ? "data" : "program");
    if ((format == ACCEL_PROGRAM_FORMAT_OPENCL_C || format == ACCEL_PROGRAM_FORMAT_SPIRV) &&
        size > ACCEL_PROGRAM_MAX_SIZE)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_program_load: a program of %zu bytes; the limit is %u (ACCEL_PROGRAM_MAX_SIZE)",
                            size, ACCEL_PROGRAM_MAX_SIZE);
    accel_result r = need_entries(dev, "accel_program_load", true);
    if (r)
        return r;
    accel_program *p = accel__calloc(1, sizeof(*p));
    char *log = accel__malloc(BUILD_LOG_SIZE);
    if (!p || !log) {
        accel__free(p);
        accel__free(log);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_program_load: out of host memory");
    }
    log[0] = '\0';
    r = accel__table(dev)->program_load(dev->icd_device, format, data, size, options, &p->driver_program, log,
                                        BUILD_LOG_SIZE);
    if (r != ACCEL_SUCCESS) {
        log[BUILD_LOG_SIZE - 1] = '\0';
        size_t n = strlen(log);
        while (n && (log[n - 1] == '\n' || log[n - 1] == ' '))
            log[--n] = '\0';
        /* Keep the end of long logs: the first error is usually near the
         * top, but the summary line is at the bottom; show what fits of
         * both by keeping the last part when it does not. */
        const char *shown = n > 900 ? log + n - 900 : log;
        accel__error(r, "accel_program_load: driver %s: %s%s%s", dev->driver->manifest->data.driver_name,
                     accel_result_string(r), n ? ": build log: " : "", shown);
        accel__free(log);
        accel__free(p);
        return r;
    }
    accel__free(log);
    if (accel__handle_add_owned(p, ACCEL__HANDLE_PROGRAM, dev->instance)) {
        accel__table(dev)->program_release(p->driver_program);
        accel__free(p);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_program_load: out of host memory");
    }
    p->device = dev;
    atomic_init(&p->refs, 1);
    *out = p;
    return ACCEL_SUCCESS;
}

static void program_unref(accel_program *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        accel__table(p->device)->program_release(p->driver_program);
        accel__free(p);
    }
}

static void program_free(void *p)
{
    program_unref(p);
}

static void function_free(void *f)
{
    accel__function_unref(f);
}

void accel__programs_free_all(accel_instance *inst)
{
    /* Functions first: each holds a reference on its program. */
    accel__handle_retire_owned(inst, ACCEL__HANDLE_FUNCTION, function_free);
    accel__handle_retire_owned(inst, ACCEL__HANDLE_PROGRAM, program_free);
}

accel_result accel_program_destroy(accel_program *p)
{
    ACCEL__HANDLE_DESTROY(p, ACCEL__HANDLE_PROGRAM, "accel_program_destroy", ACCEL_ERROR_INVALID_HANDLE);
    program_unref(p);
    return ACCEL_SUCCESS;
}

accel_result accel_function_get(accel_device *dev, accel_program *prog, const char *name, accel_function **out)
{
    ACCEL__DEVICE_USE(dev, "accel_function_get", ACCEL_ERROR_INVALID_HANDLE);
    ACCEL__HANDLE_USE(prog, ACCEL__HANDLE_PROGRAM, "accel_function_get", ACCEL_ERROR_INVALID_HANDLE);
    if (!dev || !name || !out)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_get: %s is NULL",
                            !dev ? "device" : !name ? "name" : "function");
    if (prog && prog->device != dev)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT,
                            "accel_function_get: the program was loaded for another device");
    if (strlen(name) >= ACCEL_MAX_FUNCTION_NAME)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_get: name longer than %d bytes",
                            ACCEL_MAX_FUNCTION_NAME - 1);
    accel_result r = need_entries(dev, "accel_function_get", prog != NULL);
    if (r)
        return r;
    accel_function *f = accel__calloc(1, sizeof(*f));
    if (!f)
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_function_get: out of host memory");
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    r = accel__table(dev)->function_get(dev->icd_device, prog ? prog->driver_program : NULL, name,
                                        &f->driver_function, &info);
    if (r != ACCEL_SUCCESS) {
        accel__free(f);
        return accel__error(r, "accel_function_get: %s \"%s\" on %s:%u: %s", prog ? "function" : "built-in function",
                            name, dev->driver->manifest->data.driver_name, dev->driver_index,
                            r == ACCEL_ERROR_NOT_FOUND ? "no such function" : accel_result_string(r));
    }
    if (info.arg_count > ACCEL_MAX_ARGS) {
        accel__table(dev)->function_release(f->driver_function);
        accel__free(f);
        return accel__error(ACCEL_ERROR_DRIVER_INTERNAL, "accel_function_get: driver %s reported %u arguments",
                            dev->driver->manifest->data.driver_name, info.arg_count);
    }
    f->device = dev;
    f->program = prog;
    if (prog)
        atomic_fetch_add(&prog->refs, 1);
    f->arg_count = info.arg_count;
    memcpy(f->arg_kinds, info.arg_kinds, sizeof(f->arg_kinds));
    memcpy(f->name, name, strlen(name) + 1);
    r = accel__function_resolve_nodes(f, &info);
    if (r != ACCEL_SUCCESS) {
        accel__table(dev)->function_release(f->driver_function);
        if (prog)
            atomic_fetch_sub(&prog->refs, 1);
        accel__free(f);
        return r;
    }
    if (accel__handle_add_owned(f, ACCEL__HANDLE_FUNCTION, dev->instance)) {
        accel__table(dev)->function_release(f->driver_function);
        if (prog)
            atomic_fetch_sub(&prog->refs, 1);
        accel__free(f);
        return accel__error(ACCEL_ERROR_OUT_OF_HOST_MEMORY, "accel_function_get: out of host memory");
    }
    atomic_init(&f->refs, 1);
    *out = f;
    return ACCEL_SUCCESS;
}

accel_result accel_function_get_signature(const accel_function *f, uint32_t *count, accel_arg_kind *kinds)
{
    ACCEL__HANDLE_USE(f, ACCEL__HANDLE_FUNCTION, "accel_function_get_signature", ACCEL_ERROR_INVALID_HANDLE);
    if (!f || !count)
        return accel__error(ACCEL_ERROR_INVALID_ARGUMENT, "accel_function_get_signature: %s is NULL",
                            f ? "count" : "function");
    if (!kinds) {
        *count = f->arg_count;
        return ACCEL_SUCCESS;
    }
    uint32_t n = *count < f->arg_count ? *count : f->arg_count;
    memcpy(kinds, f->arg_kinds, n * sizeof(*kinds));
    *count = n;
    return n < f->arg_count ? ACCEL_INCOMPLETE : ACCEL_SUCCESS;
}

void accel__function_unref(accel_function *f)
{
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        accel__table(f->device)->function_release(f->driver_function);
        program_unref(f->program);
        accel__free(f);
    }
}

accel_result accel_function_destroy(accel_function *f)
{
    ACCEL__HANDLE_DESTROY(f, ACCEL__HANDLE_FUNCTION, "accel_function_destroy", ACCEL_ERROR_INVALID_HANDLE);
    accel__function_unref(f);
    return ACCEL_SUCCESS;
}
