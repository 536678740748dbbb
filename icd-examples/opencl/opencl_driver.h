/* opencl_driver.h — what the two halves of the OpenCL driver share: the
 * entry points resolved from the system's OpenCL ICD loader, and the
 * driver's objects. Internal to icd-examples/opencl. */
#ifndef ACCEL_OPENCL_DRIVER_H
#define ACCEL_OPENCL_DRIVER_H

#include <accel/accel_icd.h>

#include "accel_icd_negotiate.h"

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#include <CL/cl_ext.h>

#include <pthread.h>
#include <stdatomic.h>

#define OCL_DRIVER_VERSION_STRING "0.1.0"
#define OCL_DRIVER_VERSION        ACCEL_MAKE_VERSION(0, 1)

/*
 * Every OpenCL entry point the driver calls, resolved with dlsym from
 * libOpenCL.so.1 at driver_init: the driver has no link-time dependency on
 * OpenCL. X(name, required). The declarations in CL/cl.h only give the
 * types (__typeof__); they are never called directly.
 */
#define OCL_ENTRY_POINTS(X)                                                                                  \
    X(clGetPlatformIDs, 1)                                                                                   \
    X(clGetPlatformInfo, 1)                                                                                  \
    X(clGetDeviceIDs, 1)                                                                                     \
    X(clGetDeviceInfo, 1)                                                                                    \
    X(clCreateSubDevices, 0)                                                                                 \
    X(clReleaseDevice, 0)                                                                                    \
    X(clCreateContext, 1)                                                                                    \
    X(clReleaseContext, 1)                                                                                   \
    X(clCreateCommandQueue, 1)                                                                               \
    X(clReleaseCommandQueue, 1)                                                                              \
    X(clFlush, 1)                                                                                            \
    X(clCreateBuffer, 1)                                                                                     \
    X(clCreateSubBuffer, 1)                                                                                  \
    X(clReleaseMemObject, 1)                                                                                 \
    X(clEnqueueReadBuffer, 1)                                                                                \
    X(clEnqueueWriteBuffer, 1)                                                                               \
    X(clEnqueueCopyBuffer, 1)                                                                                \
    X(clEnqueueMapBuffer, 1)                                                                                 \
    X(clEnqueueUnmapMemObject, 1)                                                                            \
    X(clCreateProgramWithSource, 1)                                                                          \
    X(clCreateProgramWithIL, 0)                                                                              \
    X(clBuildProgram, 1)                                                                                     \
    X(clGetProgramBuildInfo, 1)                                                                              \
    X(clReleaseProgram, 1)                                                                                   \
    X(clCreateKernel, 1)                                                                                     \
    X(clReleaseKernel, 1)                                                                                    \
    X(clSetKernelArg, 1)                                                                                     \
    X(clGetKernelInfo, 1)                                                                                    \
    X(clGetKernelArgInfo, 1)                                                                                 \
    X(clEnqueueNDRangeKernel, 1)                                                                             \
    X(clEnqueueMarkerWithWaitList, 1)                                                                        \
    X(clWaitForEvents, 1)                                                                                    \
    X(clGetEventInfo, 1)                                                                                     \
    X(clRetainEvent, 1)                                                                                      \
    X(clReleaseEvent, 1)                                                                                     \
    X(clCreateUserEvent, 1)                                                                                  \
    X(clSetUserEventStatus, 1)                                                                               \
    X(clSetEventCallback, 1)

typedef struct ocl_api {
    void *lib;
#define OCL__API_MEMBER(name, required) __typeof__(name) *name;
    OCL_ENTRY_POINTS(OCL__API_MEMBER)
#undef OCL__API_MEMBER
} ocl_api;

/* Resolved by driver_init; read-only afterwards. */
extern ocl_api ocl__cl;
#define CL(name) (ocl__cl.name)

extern const accel_icd_loader_services *ocl__services;

#define OCL_LOG(level, ...) ACCEL_ICD_LOG(ocl__services, (level), __VA_ARGS__)

/* One cl_device_id: a root device or a sub-device (a partition, see
 * ACCEL_OPENCL_PARTITIONS in opencl_driver.c). Either has its own context,
 * created for that cl_device_id alone: memory, programs and queues belong
 * to the device they were made for. The context, the internal queue and
 * the built-in programs are created on first use, under `lock`, and live
 * until driver_fini. */
typedef struct ocl_device {
    accel_icd_device_info info;
    cl_platform_id platform;
    cl_device_id id;
    cl_uint base_align; /* CL_DEVICE_MEM_BASE_ADDR_ALIGN, in bytes */
    int unified;        /* CL_DEVICE_HOST_UNIFIED_MEMORY */
    int has_il;         /* accepts SPIR-V through clCreateProgramWithIL */
    int sub_device;     /* made by clCreateSubDevices: clReleaseDevice at driver_fini */

    pthread_mutex_t lock;
    cl_context ctx;
    cl_command_queue io_queue; /* memory_write / memory_read */
    cl_program builtins;       /* NULL until built */
    accel_result builtins_result;
    cl_program inflate_stream; /* zlib.inflate.stream's program (inflate_stream.cl), NULL until built */
    accel_result inflate_stream_result;
} ocl_device;

/* The root devices of every platform, then the partitions. */
typedef struct ocl_driver {
    uint32_t count;
    ocl_device *devices;
    int locks_ready; /* devices[].lock initialized (the array is final) */
} ocl_driver;

/* A memory object: attached host memory (a USE_HOST_PTR buffer) or
 * device memory. */
typedef struct ocl_mem {
    ocl_device *dev;
    cl_mem buf;     /* at least 1 byte: OpenCL has no empty buffers */
    uint64_t size;  /* the size asked for */
    char *host_ptr; /* attached host memory, else NULL */
} ocl_mem;

/* zlib.deflate's segments (see builtins.cl): a multiple of 65535, so that
 * the segments' stored sizes add up to the documented dst bound. On the
 * text corpus, 64, 128 and 256 KiB segments compress within 0.2% of each
 * other (the dictionary makes the cuts cheap); 128 KiB still gives the
 * smallest files two segments, one per core of a small CPU. Passed to the
 * built-in program at build time with the size of one work-item's
 * workspace: 32 Ki hash heads, 32 Ki 16-bit chain links and a block of
 * 16383 symbols, in uints. */
#define OCL_DEFLATE_SEGMENT    (2u * 65535u)
#define OCL_DEFLATE_SLOT_WORDS (32768u + 16384u + 16383u)

/* The most kernels one built-in enqueues from (crc32c's three). */
#define OCL_MAX_KERNELS 3

/* What a function handle runs: a user kernel or one of the standard
 * functions of builtins.cl. */
typedef enum fn_kind {
    FN_USER,
    FN_NOOP,
    FN_COPY,
    FN_FILL,
    FN_CRC32C,
    FN_SHA256,
    FN_DEFLATE,
    FN_INFLATE,
    FN_CRC32C_STREAM,
    FN_SHA256_STREAM,
    FN_DEFLATE_STREAM,
    FN_INFLATE_STREAM,
} fn_kind;

/* A function handle owns its cl_kernel objects: clSetKernelArg is not
 * safe on one kernel from two threads, so `lock` covers setting the
 * arguments and enqueueing. */
typedef struct ocl_function {
    ocl_device *dev;
    fn_kind kind;
    cl_kernel kernel[OCL_MAX_KERNELS];
    pthread_mutex_t lock;
    uint32_t argc;
    accel_arg_kind kinds[ACCEL_MAX_ARGS];
} ocl_function;

/* The device's context (created on first call); NULL on failure, logged. */
cl_context ocl__device_context(ocl_device *dev);
void ocl__device_release(ocl_device *dev);

accel_result ocl__result(cl_int err);

/* Table entries of opencl_memory.c, opencl_program.c and opencl_submit.c. */
accel_icd_result ocl__memory_attach(void *device, const accel_icd_memory_desc *desc, void **driver_memory,
                                    accel_attach_mode *mode);
void ocl__memory_detach(void *device, void *driver_memory);
accel_icd_result ocl__memory_alloc_device(void *device, uint64_t size, void **driver_memory);
void ocl__memory_free_device(void *device, void *driver_memory);
accel_icd_result ocl__memory_write(void *device, void *driver_memory, uint64_t offset, const void *src,
                                   uint64_t size);
accel_icd_result ocl__memory_read(void *device, void *driver_memory, uint64_t offset, void *dst,
                                  uint64_t size);
accel_icd_result ocl__program_load(void *device, accel_program_format format, const void *data, size_t size,
                                   const char *options, void **program, char *log, size_t log_size);
void ocl__program_release(void *program);
accel_icd_result ocl__function_get(void *device, void *program, const char *name, void **function,
                                   accel_icd_function_info *info);
void ocl__function_release(void *function);
accel_icd_result ocl__queue_create(void *device, void **queue);
void ocl__queue_destroy(void *queue);
accel_icd_result ocl__queue_submit(void *queue, const accel_icd_submit *submit, void **fence);
accel_icd_result ocl__fence_status(void *fence);
accel_icd_result ocl__fence_wait(void *fence, uint64_t timeout_ns);
void ocl__fence_release(void *fence);

#endif
