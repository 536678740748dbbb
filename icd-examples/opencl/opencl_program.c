/* opencl_program.c — programs (OpenCL C source, SPIR-V through
 * clCreateProgramWithIL) and functions: user kernels, whose signature comes
 * from clGetKernelArgInfo, and the standard functions of builtins.cl, a
 * program built once per device on the first function_get of a built-in.
 * zlib.inflate.stream has a program of its own (inflate_stream.cl, with the
 * portable inflater of icd-examples/common), built on its first
 * function_get: its names would clash with builtins.cl's, and most
 * applications never ask for it. */
#include "opencl_driver.h"
#include "accel_icd_query.h"

#include "builtins_cl.h"
#include "inflate_stream_cl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Programs.                                                                  */

typedef struct ocl_program {
    ocl_device *dev;
    cl_program prog;
} ocl_program;

static void copy_build_log(ocl_device *dev, cl_program prog, char *log, size_t log_size)
{
    if (!log || log_size == 0)
        return;
    log[0] = '\0';
    size_t need = 0;
    if (CL(clGetProgramBuildInfo)(prog, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &need) != CL_SUCCESS ||
        need == 0)
        return;
    char *full = malloc(need + 1);
    if (!full)
        return;
    if (CL(clGetProgramBuildInfo)(prog, dev->id, CL_PROGRAM_BUILD_LOG, need, full, NULL) == CL_SUCCESS) {
        full[need] = '\0';
        snprintf(log, log_size, "%s", full);
    }
    free(full);
}

static void set_log(char *log, size_t log_size, const char *text)
{
    if (log && log_size)
        snprintf(log, log_size, "%s", text);
}

/* Build `prog` for the device; on failure the compiler's log goes to
 * log. Options get -cl-kernel-arg-info appended (function signatures come
 * from clGetKernelArgInfo). */
static accel_result build(ocl_device *dev, cl_program prog, const char *options, int arg_info, char *log,
                          size_t log_size)
{
    const char *extra = arg_info ? " -cl-kernel-arg-info" : "";
    size_t n = (options ? strlen(options) : 0) + strlen(extra) + 1;
    char *opts = malloc(n);
    if (!opts)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    snprintf(opts, n, "%s%s", options ? options : "", extra);
    cl_int err = CL(clBuildProgram)(prog, 1, &dev->id, opts, NULL, NULL);
    free(opts);
    if (err == CL_SUCCESS)
        return ACCEL_SUCCESS;
    copy_build_log(dev, prog, log, log_size);
    if (log && log_size && log[0] == '\0')
        snprintf(log, log_size, "clBuildProgram failed (%d)", err);
    if (err == CL_COMPILER_NOT_AVAILABLE || err == CL_LINKER_NOT_AVAILABLE)
        return ACCEL_ERROR_UNSUPPORTED;
    if (err == CL_BUILD_PROGRAM_FAILURE || err == CL_INVALID_BUILD_OPTIONS || err == CL_INVALID_BINARY)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    return ocl__result(err);
}

accel_icd_result ocl__program_load(void *device, accel_program_format format, const void *data, size_t size,
                                   const char *options, void **program, char *log, size_t log_size)
{
    ocl_device *dev = device;
    cl_int err = CL_SUCCESS;
    cl_program prog = NULL;
    int arg_info = 0;
    if (log && log_size)
        log[0] = '\0';
    if (format != ACCEL_PROGRAM_FORMAT_OPENCL_C && format != ACCEL_PROGRAM_FORMAT_SPIRV) {
        set_log(log, log_size, "the OpenCL driver loads OpenCL C source and SPIR-V only");
        return ACCEL_ERROR_UNSUPPORTED;
    }
    if (format == ACCEL_PROGRAM_FORMAT_SPIRV && !dev->has_il) {
        set_log(log, log_size, "this OpenCL device does not accept SPIR-V (no CL_DEVICE_IL_VERSION)");
        return ACCEL_ERROR_UNSUPPORTED;
    }
    if (!data)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    cl_context ctx = ocl__device_context(dev);
    if (!ctx)
        return ACCEL_ERROR_DRIVER_INTERNAL;
    if (format == ACCEL_PROGRAM_FORMAT_OPENCL_C) {
        const char *text = data;
        /* size 0: NUL-terminated text */
        prog = CL(clCreateProgramWithSource)(ctx, 1, &text, size ? &size : NULL, &err);
        arg_info = 1;
    } else {
        prog = CL(clCreateProgramWithIL)(ctx, data, size, &err);
    }
    if (!prog) {
        char msg[96];
        snprintf(msg, sizeof(msg), "cannot create the program (%d)", err);
        set_log(log, log_size, msg);
        return err == CL_INVALID_VALUE ? ACCEL_ERROR_INVALID_ARGUMENT : ocl__result(err);
    }
    accel_result r = build(dev, prog, options, arg_info, log, log_size);
    if (r != ACCEL_SUCCESS) {
        CL(clReleaseProgram)(prog);
        return r;
    }
    ocl_program *p = malloc(sizeof(*p));
    if (!p) {
        CL(clReleaseProgram)(prog);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->dev = dev;
    p->prog = prog;
    *program = p;
    return ACCEL_SUCCESS;
}

void ocl__program_release(void *program)
{
    ocl_program *p = program;
    if (!p)
        return;
    CL(clReleaseProgram)(p->prog); /* kernels made from it keep it alive */
    free(p);
}

/* ------------------------------------------------------------------------ */
/* Functions.                                                                 */

/* The programs built-ins come from. */
enum { PROG_BUILTINS, PROG_INFLATE_STREAM };

static const struct builtin {
    const char *name;
    fn_kind kind;
    int program;
    const char *kernels[OCL_MAX_KERNELS];
    uint32_t argc;
    accel_arg_kind args[6];
} builtin_list[] = {
    {"accel.noop", FN_NOOP, PROG_BUILTINS, {NULL, NULL}, 0, {ACCEL_ARG_NONE}},
    {"accel.copy", FN_COPY, PROG_BUILTINS, {"accel_move", NULL}, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"accel.fill", FN_FILL, PROG_BUILTINS, {"accel_fill", NULL}, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"crc32c",
     FN_CRC32C,
     PROG_BUILTINS,
     {"accel_crc32c_parts", "accel_crc32c_combine", "accel_crc32c_one"},
     2,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"sha256", FN_SHA256, PROG_BUILTINS, {"accel_sha256", NULL}, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"zlib.deflate",
     FN_DEFLATE,
     PROG_BUILTINS,
     {"accel_deflate_segments", "accel_deflate_finish"},
     4,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_I32}},
    {"zlib.inflate",
     FN_INFLATE,
     PROG_BUILTINS,
     {"accel_inflate", NULL},
     3,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    /* Stream forms (docs/standard-functions.md): the state in the documented layout. */
    {"crc32c.stream",
     FN_CRC32C_STREAM,
     PROG_BUILTINS,
     {"accel_crc32c_parts", "accel_crc32c_stream_combine", "accel_crc32c_stream_one"},
     2,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
    {"sha256.stream",
     FN_SHA256_STREAM,
     PROG_BUILTINS,
     {"accel_sha256_stream", NULL},
     4,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"zlib.deflate.stream",
     FN_DEFLATE_STREAM,
     PROG_BUILTINS,
     {"accel_deflate_stream_segments", "accel_deflate_stream_finish"},
     6,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_I32, ACCEL_ARG_MEMORY, ACCEL_ARG_U32}},
    {"zlib.inflate.stream",
     FN_INFLATE_STREAM,
     PROG_INFLATE_STREAM,
     {"accel_inflate_stream_run", NULL},
     4,
     {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}},
};

/* A built-in program (PROG_*), built on the first function_get of one of
 * its functions. */
static accel_result builtins_program(ocl_device *dev, int which, cl_program *out)
{
    cl_context ctx = ocl__device_context(dev);
    if (!ctx)
        return ACCEL_ERROR_DRIVER_INTERNAL;
    int inflate = which == PROG_INFLATE_STREAM;
    const char *what = inflate ? "zlib.inflate.stream's program" : "the built-in program";
    cl_program *slot = inflate ? &dev->inflate_stream : &dev->builtins;
    accel_result *result = inflate ? &dev->inflate_stream_result : &dev->builtins_result;
    pthread_mutex_lock(&dev->lock);
    if (!*slot && *result == ACCEL_SUCCESS) {
        cl_int err;
        const char *text = inflate ? ocl_inflate_stream_source : ocl_builtins_source;
        cl_program prog = CL(clCreateProgramWithSource)(ctx, 1, &text, NULL, &err);
        if (!prog) {
            OCL_LOG(ACCEL_LOG_ERROR, "%s: %s: clCreateProgramWithSource failed (%d)", dev->info.name, what,
                    err);
            *result = ACCEL_ERROR_DRIVER_INTERNAL;
        } else {
            char log[2048], opts[128] = "";
            /* ACCEL_OPENCL_CRC32C=portable: crc32c by tables even where the
             * device has a crc32 instruction (builtins.cl), so that the
             * tests check that path on a CPU too. */
            const char *crc = secure_getenv("ACCEL_OPENCL_CRC32C");
            int portable = crc && strcmp(crc, "portable") == 0;
            if (!inflate)
                snprintf(opts, sizeof(opts), "-DDEFLATE_SEGMENT=%uu -DDEFLATE_SLOT_WORDS=%uu%s",
                         OCL_DEFLATE_SEGMENT, OCL_DEFLATE_SLOT_WORDS, portable ? " -DCRC32C_PORTABLE" : "");
            accel_result r = build(dev, prog, opts, 0, log, sizeof(log));
            if (r != ACCEL_SUCCESS) {
                OCL_LOG(ACCEL_LOG_ERROR, "%s: %s does not build: %s", dev->info.name, what, log);
                CL(clReleaseProgram)(prog);
                *result = r == ACCEL_ERROR_UNSUPPORTED ? r : ACCEL_ERROR_DRIVER_INTERNAL;
            } else {
                *slot = prog;
            }
        }
    }
    *out = *slot;
    accel_result r = *result;
    pthread_mutex_unlock(&dev->lock);
    return r;
}

/* The accel kind of a kernel argument, from clGetKernelArgInfo. */
static accel_arg_kind arg_kind(cl_kernel k, cl_uint i)
{
    cl_kernel_arg_address_qualifier aq = 0;
    char type[128] = "";
    if (CL(clGetKernelArgInfo)(k, i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof(aq), &aq, NULL) != CL_SUCCESS ||
        CL(clGetKernelArgInfo)(k, i, CL_KERNEL_ARG_TYPE_NAME, sizeof(type), type, NULL) != CL_SUCCESS)
        return ACCEL_ARG_NONE;
    type[sizeof(type) - 1] = '\0';
    if (aq == CL_KERNEL_ARG_ADDRESS_GLOBAL || aq == CL_KERNEL_ARG_ADDRESS_CONSTANT)
        return strchr(type, '*') ? ACCEL_ARG_MEMORY : ACCEL_ARG_NONE;
    if (aq != CL_KERNEL_ARG_ADDRESS_PRIVATE)
        return ACCEL_ARG_NONE; /* __local: no accel argument kind for it */
    static const struct {
        const char *type;
        accel_arg_kind kind;
    } scalars[] = {{"uint", ACCEL_ARG_U32},  {"unsigned int", ACCEL_ARG_U32},  {"int", ACCEL_ARG_I32},
                   {"ulong", ACCEL_ARG_U64}, {"unsigned long", ACCEL_ARG_U64}, {"long", ACCEL_ARG_I64},
                   {"float", ACCEL_ARG_F32}, {"double", ACCEL_ARG_F64}};
    for (size_t s = 0; s < sizeof(scalars) / sizeof(scalars[0]); s++)
        if (strcmp(type, scalars[s].type) == 0)
            return scalars[s].kind;
    return ACCEL_ARG_NONE;
}

static void function_free(ocl_function *f)
{
    for (int i = 0; i < OCL_MAX_KERNELS; i++)
        if (f->kernel[i])
            CL(clReleaseKernel)(f->kernel[i]);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static void fill_info(const ocl_function *f, accel_icd_function_info *info)
{
    if (!info)
        return;
    accel_icd_function_info full = {.arg_count = f->argc};
    memcpy(full.arg_kinds, f->kinds, sizeof(full.arg_kinds));
    accel_query_copy_function_info(&full, info);
}

accel_icd_result ocl__function_get(void *device, void *program, const char *name, void **function,
                                   accel_icd_function_info *info)
{
    ocl_device *dev = device;
    ocl_program *p = program;
    const struct builtin *b = NULL;
    cl_program prog;
    accel_result r;

    if (!name)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (p) {
        if (p->dev != dev)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        prog = p->prog;
    } else {
        for (size_t i = 0; i < sizeof(builtin_list) / sizeof(builtin_list[0]) && !b; i++)
            if (strcmp(builtin_list[i].name, name) == 0)
                b = &builtin_list[i];
        if (!b)
            return ACCEL_ERROR_NOT_FOUND;
        if ((r = builtins_program(dev, b->program, &prog)) != ACCEL_SUCCESS)
            return r;
    }

    ocl_function *f = calloc(1, sizeof(*f));
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    f->dev = dev;
    pthread_mutex_init(&f->lock, NULL);
    cl_int err = CL_SUCCESS;
    if (b) {
        f->kind = b->kind;
        f->argc = b->argc;
        memcpy(f->kinds, b->args, sizeof(b->args));
        for (int i = 0; i < OCL_MAX_KERNELS; i++) {
            if (b->kernels[i] && !(f->kernel[i] = CL(clCreateKernel)(prog, b->kernels[i], &err))) {
                OCL_LOG(ACCEL_LOG_ERROR, "%s: built-in kernel %s: clCreateKernel failed (%d)", dev->info.name,
                        b->kernels[i], err);
                function_free(f);
                return ACCEL_ERROR_DRIVER_INTERNAL;
            }
        }
    } else {
        f->kind = FN_USER;
        if (!(f->kernel[0] = CL(clCreateKernel)(prog, name, &err))) {
            function_free(f);
            return err == CL_INVALID_KERNEL_NAME ? ACCEL_ERROR_NOT_FOUND : ocl__result(err);
        }
        cl_uint argc = 0;
        CL(clGetKernelInfo)(f->kernel[0], CL_KERNEL_NUM_ARGS, sizeof(argc), &argc, NULL);
        if (argc > ACCEL_MAX_ARGS) {
            OCL_LOG(ACCEL_LOG_WARN, "kernel %s takes %u arguments; at most %d are supported", name, argc,
                    ACCEL_MAX_ARGS);
            function_free(f);
            return ACCEL_ERROR_UNSUPPORTED;
        }
        f->argc = argc;
        for (cl_uint i = 0; i < argc; i++) {
            f->kinds[i] = arg_kind(f->kernel[0], i);
            if (f->kinds[i] == ACCEL_ARG_NONE) {
                /* __local pointers, vectors, structs, narrow integers, or a
                 * program without argument information (SPIR-V). */
                OCL_LOG(ACCEL_LOG_WARN, "kernel %s: argument %u has a type accel cannot pass", name, i);
                function_free(f);
                return ACCEL_ERROR_UNSUPPORTED;
            }
        }
    }
    fill_info(f, info);
    *function = f;
    return ACCEL_SUCCESS;
}

void ocl__function_release(void *function)
{
    if (function)
        function_free(function);
}
