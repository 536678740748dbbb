/* opencl_memory.c — the OpenCL driver's per-device context and its memory
 * objects.
 *
 * Attached host memory becomes a CL_MEM_USE_HOST_PTR buffer over the same
 * pages (ZERO_COPY on devices with CL_DEVICE_HOST_UNIFIED_MEMORY, else
 * PINNED). OpenCL lets an implementation cache such a buffer on the device;
 * opencl_submit.c keeps host_ptr coherent around each submission. An empty
 * range gets a 1-byte buffer (OpenCL has no empty buffers) and remembers
 * its real size. */
#include "opencl_driver.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Per-device state created on first use.                                     */

cl_context ocl__device_context(ocl_device *dev)
{
    pthread_mutex_lock(&dev->lock);
    if (!dev->ctx) {
        cl_int err = CL_SUCCESS;
        cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
        cl_context ctx = CL(clCreateContext)(props, 1, &dev->id, NULL, NULL, &err);
        cl_command_queue q = NULL;
        if (ctx && !(q = CL(clCreateCommandQueue)(ctx, dev->id, 0, &err))) {
            CL(clReleaseContext)(ctx);
            ctx = NULL;
        }
        if (ctx) {
            dev->ctx = ctx;
            dev->io_queue = q;
        } else {
            OCL_LOG(ACCEL_LOG_ERROR, "%s: cannot create an OpenCL context (%d)", dev->info.name, err);
        }
    }
    cl_context ctx = dev->ctx;
    pthread_mutex_unlock(&dev->lock);
    return ctx;
}

void ocl__device_release(ocl_device *dev)
{
    if (dev->builtins)
        CL(clReleaseProgram)(dev->builtins);
    if (dev->inflate_stream)
        CL(clReleaseProgram)(dev->inflate_stream);
    if (dev->io_queue)
        CL(clReleaseCommandQueue)(dev->io_queue);
    if (dev->ctx)
        CL(clReleaseContext)(dev->ctx);
    dev->builtins = NULL;
    dev->inflate_stream = NULL;
    dev->io_queue = NULL;
    dev->ctx = NULL;
}

/* ------------------------------------------------------------------------ */
/* Memory.                                                                    */

/* memory_attach's and memory_alloc_device's start: a memory object of
 * `size` bytes on dev, its buffer still to make, and dev's context (made
 * on first use) in *ctx. */
static accel_icd_result mem_new(ocl_device *dev, uint64_t size, cl_context *ctx, ocl_mem **out)
{
    *ctx = ocl__device_context(dev);
    if (!*ctx)
        return ACCEL_ERROR_DRIVER_INTERNAL;
    ocl_mem *m = calloc(1, sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->dev = dev;
    m->size = size;
    *out = m;
    return ACCEL_SUCCESS;
}

accel_icd_result ocl__memory_attach(void *device, const accel_icd_memory_desc *desc, void **driver_memory,
                                    accel_attach_mode *mode)
{
    ocl_device *dev = device;
    cl_context ctx;
    ocl_mem *m;
    accel_icd_result r = mem_new(dev, desc->size, &ctx, &m);
    if (r != ACCEL_SUCCESS)
        return r;
    cl_int err;
    if (desc->size == 0 || !desc->host_ptr) {
        m->buf = CL(clCreateBuffer)(ctx, CL_MEM_READ_WRITE, 1, NULL, &err);
    } else {
        m->host_ptr = desc->host_ptr;
        m->buf = CL(clCreateBuffer)(ctx, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, desc->size, desc->host_ptr,
                                    &err);
    }
    if (!m->buf) {
        OCL_LOG(ACCEL_LOG_WARN, "%s: clCreateBuffer(USE_HOST_PTR, %llu bytes) failed (%d)", dev->info.name,
                (unsigned long long)desc->size, err);
        free(m);
        /* Not reachable this way (too large, or pages the implementation
         * refuses): the loader stages through device memory instead. */
        return err == CL_INVALID_BUFFER_SIZE || err == CL_INVALID_HOST_PTR ? ACCEL_ERROR_UNSUPPORTED
                                                                           : ocl__result(err);
    }
    *mode = dev->unified ? ACCEL_ATTACH_ZERO_COPY : ACCEL_ATTACH_PINNED;
    *driver_memory = m;
    return ACCEL_SUCCESS;
}

void ocl__memory_detach(void *device, void *driver_memory)
{
    (void)device;
    ocl_mem *m = driver_memory;
    if (!m)
        return;
    CL(clReleaseMemObject)(m->buf);
    free(m);
}

accel_icd_result ocl__memory_alloc_device(void *device, uint64_t size, void **driver_memory)
{
    ocl_device *dev = device;
    cl_context ctx;
    ocl_mem *m;
    accel_icd_result r = mem_new(dev, size, &ctx, &m);
    if (r != ACCEL_SUCCESS)
        return r;
    cl_int err;
    m->buf = CL(clCreateBuffer)(ctx, CL_MEM_READ_WRITE, size ? size : 1, NULL, &err);
    if (!m->buf) {
        OCL_LOG(ACCEL_LOG_WARN, "%s: clCreateBuffer(%llu bytes) failed (%d)", dev->info.name,
                (unsigned long long)size, err);
        free(m);
        return err == CL_INVALID_BUFFER_SIZE ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : ocl__result(err);
    }
    *driver_memory = m;
    return ACCEL_SUCCESS;
}

void ocl__memory_free_device(void *device, void *driver_memory)
{
    ocl__memory_detach(device, driver_memory);
}

/* memory_write (write: from src) and memory_read (to dst): a blocking
 * transfer on the device's I/O queue. */
static accel_icd_result transfer(ocl_device *dev, ocl_mem *m, bool write, uint64_t offset, const void *src,
                                 void *dst, uint64_t size)
{
    if (offset > m->size || size > m->size - offset)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (size == 0)
        return ACCEL_SUCCESS;
    cl_int err =
        write ? CL(clEnqueueWriteBuffer)(dev->io_queue, m->buf, CL_TRUE, offset, size, src, 0, NULL, NULL)
              : CL(clEnqueueReadBuffer)(dev->io_queue, m->buf, CL_TRUE, offset, size, dst, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        OCL_LOG(ACCEL_LOG_ERROR, "%s: %s failed (%d)", dev->info.name,
                write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", err);
    return ocl__result(err);
}

accel_icd_result ocl__memory_write(void *device, void *driver_memory, uint64_t offset, const void *src,
                                   uint64_t size)
{
    return transfer(device, driver_memory, true, offset, src, NULL, size);
}

accel_icd_result ocl__memory_read(void *device, void *driver_memory, uint64_t offset, void *dst,
                                  uint64_t size)
{
    return transfer(device, driver_memory, false, offset, NULL, dst, size);
}
