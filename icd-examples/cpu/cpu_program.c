/* cpu_program.c — user kernels: ACCEL_PROGRAM_FORMAT_ELF programs.
 *
 * A program is a host shared object (its path is the program data) that
 * exports `const char accel_kernel_metadata[]` (see docs/programs.md).
 * Each kernel is `void name(uint64_t global_id, args...)`, called through
 * libffi once per work item on the queue's worker thread. Every declared
 * kernel must resolve when the program loads, so that a missing symbol is
 * a load error with a message, not a failure at the first submission. */
#include "cpu_internal.h"
#include "cpu_metadata.h"
#include "accel_safe_file.h"

#include <dlfcn.h>
#include <errno.h>
#include <ffi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cpu_kernel {
    cpu_function fn;
    void (*entry)(void);
    ffi_cif cif;
    ffi_type *types[1 + ACCEL_MAX_ARGS];
} cpu_kernel;

struct cpu_program {
    _Atomic uint32_t refs;
    void *dl;
    size_t kernel_count;
    cpu_kernel_sig *sigs;
    cpu_kernel kernels[];
};

static void put_log(char *log, size_t log_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put_log(char *log, size_t log_size, const char *fmt, ...)
{
    if (!log || !log_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log, log_size, fmt, ap);
    va_end(ap);
}

static ffi_type *ffi_type_of(accel_arg_kind kind)
{
    switch (kind) {
    case ACCEL_ARG_MEMORY: return &ffi_type_pointer;
    case ACCEL_ARG_U32: return &ffi_type_uint32;
    case ACCEL_ARG_I32: return &ffi_type_sint32;
    case ACCEL_ARG_U64: return &ffi_type_uint64;
    case ACCEL_ARG_I64: return &ffi_type_sint64;
    case ACCEL_ARG_F32: return &ffi_type_float;
    case ACCEL_ARG_F64: return &ffi_type_double;
    default: return NULL;
    }
}

static void program_free(cpu_program *p)
{
    if (p->dl)
        dlclose(p->dl);
    free(p->sigs);
    free(p);
}

accel_result cpu__program_load(void *device, accel_program_format format, const void *data, size_t size,
                               const char *options, void **program, char *log, size_t log_size)
{
    (void)device;
    (void)options;
    if (log && log_size)
        log[0] = '\0';
    if (!program)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    *program = NULL;
    if (format != ACCEL_PROGRAM_FORMAT_ELF) {
        put_log(log, log_size, "the cpu driver loads only ELF kernel libraries (ACCEL_PROGRAM_FORMAT_ELF)");
        return ACCEL_ERROR_UNSUPPORTED;
    }
    if (!data) {
        put_log(log, log_size, "no library path");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    /* data is the path; size, when given, bounds it. */
    size_t len = size ? strnlen(data, size) : strlen(data);
    char *path = malloc(len + 1);
    if (!path)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    memcpy(path, data, len);
    path[len] = '\0';

    accel_result r = ACCEL_ERROR_INVALID_ARGUMENT;
    cpu_kernel_sig *sigs = NULL;
    size_t count = 0;
    cpu_program *p = NULL;
    if (!path[0]) {
        put_log(log, log_size, "empty library path");
        goto out;
    }
    /* dlopen would block on a FIFO and read a device: a path must name a
     * regular file (a bare name goes to the dynamic linker's search). */
    char kind[96];
    int ferr = strchr(path, '/') ? accel_safe_check_regular(path, kind, sizeof(kind)) : 0;
    if (ferr == EINVAL || ferr == EISDIR) {
        put_log(log, log_size, "%s: %s", path, kind);
        goto out;
    }
    dlerror();
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *why = dlerror();
        put_log(log, log_size, "%s", why ? why : path);
        goto out;
    }
    const char *meta = dlsym(dl, "accel_kernel_metadata");
    if (!meta) {
        put_log(log, log_size, "%s: no symbol accel_kernel_metadata (the kernel metadata)", path);
        dlclose(dl);
        goto out;
    }
    char error[256];
    r = cpu__metadata_parse(meta, strlen(meta), &sigs, &count, error, sizeof(error));
    if (r != ACCEL_SUCCESS) {
        put_log(log, log_size, "%s: accel_kernel_metadata: %s", path, error);
        dlclose(dl);
        goto out;
    }
    p = calloc(1, sizeof(*p) + count * sizeof(p->kernels[0]));
    if (!p) {
        dlclose(dl);
        r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        goto out;
    }
    atomic_init(&p->refs, 1);
    p->dl = dl;
    p->sigs = sigs;
    p->kernel_count = count;
    sigs = NULL;
    for (size_t i = 0; i < count; i++) {
        const cpu_kernel_sig *sig = &p->sigs[i];
        cpu_kernel *k = &p->kernels[i];
        void *sym = dlsym(dl, sig->name);
        if (!sym) {
            put_log(log, log_size, "%s: kernel '%s' (metadata line %u) is not exported by the library", path,
                    sig->name, sig->line);
            r = ACCEL_ERROR_INVALID_ARGUMENT;
            goto out;
        }
        *(void **)&k->entry = sym;
        k->fn.name = sig->name;
        k->fn.arg_count = sig->arg_count;
        memcpy(k->fn.arg_kinds, sig->arg_kinds, sizeof(k->fn.arg_kinds));
        k->fn.program = p;
        k->fn.kernel = k;
        k->types[0] = &ffi_type_uint64;
        for (uint32_t a = 0; a < sig->arg_count; a++)
            k->types[1 + a] = ffi_type_of(sig->arg_kinds[a]);
        if (ffi_prep_cif(&k->cif, FFI_DEFAULT_ABI, 1 + sig->arg_count, &ffi_type_void, k->types) != FFI_OK) {
            put_log(log, log_size, "%s: kernel '%s': libffi cannot describe this signature", path, sig->name);
            r = ACCEL_ERROR_DRIVER_INTERNAL;
            goto out;
        }
    }
    CPU_LOG(ACCEL_LOG_DEBUG, "loaded %s: %zu kernel(s)", path, count);
    *program = p;
    p = NULL;
    r = ACCEL_SUCCESS;
out:
    if (p)
        program_free(p);
    free(sigs);
    free(path);
    return r;
}

void cpu__program_ref(cpu_program *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void cpu__program_release(void *program)
{
    cpu_program *p = program;
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        program_free(p);
}

accel_result cpu__kernel_get(cpu_program *p, const char *name, const cpu_function **fn)
{
    for (size_t i = 0; i < p->kernel_count; i++)
        if (strcmp(p->kernels[i].fn.name, name) == 0) {
            *fn = &p->kernels[i].fn;
            return ACCEL_SUCCESS;
        }
    return ACCEL_ERROR_NOT_FOUND;
}

/* Run every work item in order of its linear global id
 * (x + size_x * (y + size_y * z)). */
accel_result cpu__kernel_run(const cpu_function *fn, const accel_icd_arg *args, uint32_t work_dim,
                             const uint64_t work_size[3])
{
    cpu_kernel *k = fn->kernel;
    uint64_t items = 1;
    for (uint32_t d = 0; d < work_dim; d++) {
        if (work_size[d] && items > UINT64_MAX / work_size[d])
            return ACCEL_ERROR_INVALID_ARGUMENT;
        items *= work_size[d];
    }
    uint64_t gid = 0;
    void *pointers[ACCEL_MAX_ARGS];
    void *values[1 + ACCEL_MAX_ARGS];
    values[0] = &gid;
    for (uint32_t a = 0; a < fn->arg_count; a++) {
        if (args[a].kind == ACCEL_ARG_MEMORY) {
            pointers[a] = cpu__arg_ptr(&args[a]);
            values[1 + a] = &pointers[a];
        } else {
            /* Every scalar member of the union starts at its beginning. */
            values[1 + a] = (void *)&args[a].u;
        }
    }
    ffi_arg ignored;
    for (gid = 0; gid < items; gid++)
        ffi_call(&k->cif, k->entry, &ignored, values);
    return ACCEL_SUCCESS;
}
