/*
 * bench_submit.c — what submitting work costs, side by side in one run:
 *
 *  1. empty kernel, submit + wait, one at a time: through accel-loader on the
 *     OpenCL driver (PoCL here) versus raw OpenCL on the same PoCL device
 *     (clEnqueueNDRangeKernel + clWaitForEvents + clReleaseEvent), as rates;
 *  2. the cpu driver's built-in accel.noop, submit + wait + release, from one
 *     thread (median latency), and from two threads each on its own queue;
 *  3. attaching a 256 MiB host buffer (accel_memory_import_host +
 *     accel_memory_attach + detach) to the cpu device and to the OpenCL
 *     device, next to a memcpy of the same 256 MiB: an attach that copied
 *     would cost about as much as the memcpy.
 *
 * Each figure is the median of 31 batches. The manifests come from
 * ACCEL_DRIVER_FILES (bench/run.sh points it at the build tree).
 */
#define CL_TARGET_OPENCL_VERSION 120
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <accel/accel.h>

#include "bench_util.h"

#ifdef ACCEL_BENCH_HAVE_CL
#include <CL/cl.h>
#endif

#define EMPTY_KERNEL "__kernel void empty(void) { }\n"
#define KERNEL_CALLS 200
#define NOOP_CALLS 2000
#define ATTACH_BYTES (256u << 20)

static accel_device *find_device(accel_instance *inst, const char *driver)
{
    uint32_t n = 0;
    accel_enumerate_devices(inst, &n, NULL);
    accel_device *devs[64];
    if (n > 64)
        n = 64;
    accel_enumerate_devices(inst, &n, devs);
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        accel_device_get_info(devs[i], &info);
        if (strcmp(info.driver_name, driver) == 0)
            return devs[i];
    }
    return NULL;
}

/* Microseconds per submit+wait+release of `fn` on q, over `calls` calls. */
static double submit_batch_us(accel_queue *q, accel_function *fn, uint32_t work_dim, int calls)
{
    accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .work_dim = work_dim,
                           .work_size = {1, 1, 1}};
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < calls; i++) {
        accel_fence *f;
        if (accel_queue_submit(q, &s, &f) != ACCEL_SUCCESS || accel_fence_wait(&f, 1, true, UINT64_MAX)) {
            fprintf(stderr, "bench_submit: %s\n", accel_last_error_message());
            return -1.0;
        }
        accel_fence_release(f);
    }
    return (double)(bench_now_ns() - t0) / 1000.0 / calls;
}

/* ---- raw OpenCL, opened at run time ---- */

#ifdef ACCEL_BENCH_HAVE_CL
typedef struct raw_cl {
    void *dl;
    cl_command_queue queue;
    cl_kernel kernel;
    cl_int (*enqueue)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *, cl_uint,
                      const cl_event *, cl_event *);
    cl_int (*wait)(cl_uint, const cl_event *);
    cl_int (*release)(cl_event);
} raw_cl;

static int raw_cl_open(raw_cl *c)
{
    memset(c, 0, sizeof(*c));
    if (!(c->dl = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL)))
        return -1;
#define SYM(name) __typeof__(&name) p_##name = (__typeof__(&name))dlsym(c->dl, #name)
    SYM(clGetPlatformIDs);
    SYM(clGetDeviceIDs);
    SYM(clCreateContext);
    SYM(clCreateCommandQueue);
    SYM(clCreateProgramWithSource);
    SYM(clBuildProgram);
    SYM(clCreateKernel);
#undef SYM
    *(void **)&c->enqueue = dlsym(c->dl, "clEnqueueNDRangeKernel");
    *(void **)&c->wait = dlsym(c->dl, "clWaitForEvents");
    *(void **)&c->release = dlsym(c->dl, "clReleaseEvent");
    if (!p_clGetPlatformIDs || !p_clCreateKernel || !c->enqueue || !c->wait || !c->release)
        return -1;
    cl_platform_id platform;
    cl_device_id device;
    cl_uint np = 0;
    cl_int err;
    if (p_clGetPlatformIDs(1, &platform, &np) != CL_SUCCESS || np == 0 ||
        p_clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS)
        return -1;
    cl_context ctx = p_clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (!ctx)
        return -1;
    c->queue = p_clCreateCommandQueue(ctx, device, 0, &err);
    const char *src = EMPTY_KERNEL;
    cl_program prog = p_clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
    if (!c->queue || !prog || p_clBuildProgram(prog, 1, &device, "", NULL, NULL) != CL_SUCCESS)
        return -1;
    c->kernel = p_clCreateKernel(prog, "empty", &err);
    return c->kernel ? 0 : -1;
}

static double raw_cl_batch_us(raw_cl *c, int calls)
{
    size_t global = 1;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < calls; i++) {
        cl_event e;
        if (c->enqueue(c->queue, c->kernel, 1, NULL, &global, NULL, 0, NULL, &e) != CL_SUCCESS ||
            c->wait(1, &e) != CL_SUCCESS)
            return -1.0;
        c->release(e);
    }
    return (double)(bench_now_ns() - t0) / 1000.0 / calls;
}
#endif

/* ---- two threads, each with its own queue ---- */

typedef struct noop_thread {
    accel_queue *q;
    accel_function *fn;
    double us;
} noop_thread;

static void *noop_thread_main(void *p)
{
    noop_thread *t = p;
    t->us = submit_batch_us(t->q, t->fn, 0, NOOP_CALLS);
    return NULL;
}

/* ---- attach ---- */

static double attach_ms(accel_instance *inst, accel_device *dev, void *buf, accel_attach_mode *mode)
{
    uint64_t t0 = bench_now_ns();
    accel_memory *m = NULL;
    if (accel_memory_import_host(inst, buf, ATTACH_BYTES, 0, &m) || accel_memory_attach(m, dev, mode)) {
        fprintf(stderr, "bench_submit: attach: %s\n", accel_last_error_message());
        accel_memory_free(m);
        return -1.0;
    }
    accel_memory_free(m);
    return (double)(bench_now_ns() - t0) / 1e6;
}

int main(void)
{
    accel_instance *inst = NULL;
    if (accel_instance_create(NULL, &inst) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_submit: %s\n", accel_last_error_message());
        return 1;
    }
    accel_device *cpu = find_device(inst, "cpu"), *ocl = find_device(inst, "opencl");
    printf("bench_submit: median of %d batches\n", BENCH_ROUNDS);

    /* 1. Empty kernel on PoCL. */
#ifdef ACCEL_BENCH_HAVE_CL
    raw_cl raw;
    accel_program *prog = NULL;
    accel_function *empty = NULL;
    accel_queue *oq = NULL;
    if (ocl && raw_cl_open(&raw) == 0 &&
        accel_program_load(ocl, ACCEL_PROGRAM_FORMAT_OPENCL_C, EMPTY_KERNEL, sizeof(EMPTY_KERNEL) - 1, NULL, &prog) ==
            ACCEL_SUCCESS &&
        accel_function_get(ocl, prog, "empty", &empty) == ACCEL_SUCCESS && accel_queue_create(ocl, 0, &oq) == 0) {
        double a[BENCH_ROUNDS], r[BENCH_ROUNDS];
        for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
            double x = round & 1 ? raw_cl_batch_us(&raw, KERNEL_CALLS) : submit_batch_us(oq, empty, 1, KERNEL_CALLS);
            double y = round & 1 ? submit_batch_us(oq, empty, 1, KERNEL_CALLS) : raw_cl_batch_us(&raw, KERNEL_CALLS);
            if (round >= 0) {
                a[round] = round & 1 ? y : x;
                r[round] = round & 1 ? x : y;
            }
        }
        double ma = bench_median(a, BENCH_ROUNDS), mr = bench_median(r, BENCH_ROUNDS);
        printf("empty kernel  accel-loader (opencl driver) %7.2f us = %8.0f /s   raw OpenCL %7.2f us = %8.0f /s   "
               "ratio %.3f of raw\n",
               ma, 1e6 / ma, mr, 1e6 / mr, mr / ma);
    } else {
        printf("empty kernel  not available: %s\n",
               !ocl ? "no opencl driver device" : accel_last_error_message()[0] ? accel_last_error_message()
                                                                                : "no OpenCL platform");
    }
    accel_queue_destroy(oq);
    accel_function_destroy(empty);
    accel_program_destroy(prog);
#else
    printf("empty kernel  not available: built without CL/cl.h\n");
#endif

    /* 2. cpu no-op. */
    accel_function *noop = NULL;
    accel_queue *q1 = NULL, *q2 = NULL;
    if (cpu && accel_function_get(cpu, NULL, "accel.noop", &noop) == ACCEL_SUCCESS &&
        accel_queue_create(cpu, 0, &q1) == ACCEL_SUCCESS && accel_queue_create(cpu, 0, &q2) == ACCEL_SUCCESS) {
        double one[BENCH_ROUNDS], two[BENCH_ROUNDS];
        for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
            double x = submit_batch_us(q1, noop, 0, NOOP_CALLS);
            noop_thread t[2] = {{q1, noop, 0}, {q2, noop, 0}};
            pthread_t th;
            pthread_create(&th, NULL, noop_thread_main, &t[1]);
            noop_thread_main(&t[0]);
            pthread_join(th, NULL);
            if (round >= 0) {
                one[round] = x;
                two[round] = (t[0].us + t[1].us) / 2;
            }
        }
        double m1 = bench_median(one, BENCH_ROUNDS), m2 = bench_median(two, BENCH_ROUNDS);
        printf("cpu no-op     1 thread %6.2f us per submit+wait (%8.0f /s)   2 threads %6.2f us each (%8.0f /s in "
               "all)\n",
               m1, 1e6 / m1, m2, 2e6 / m2);
    } else {
        printf("cpu no-op     not available: %s\n", cpu ? accel_last_error_message() : "no cpu device");
    }
    accel_queue_destroy(q1);
    accel_queue_destroy(q2);
    accel_function_destroy(noop);

    /* 3. Attach 256 MiB. */
    char *buf = aligned_alloc(1u << 16, ATTACH_BYTES), *dst = aligned_alloc(1u << 16, ATTACH_BYTES);
    if (buf && dst) {
        memset(buf, 1, ATTACH_BYTES);
        memset(dst, 2, ATTACH_BYTES);
        double mc[BENCH_ROUNDS], ac[BENCH_ROUNDS], ao[BENCH_ROUNDS];
        accel_attach_mode mode_cpu = ACCEL_ATTACH_NONE, mode_ocl = ACCEL_ATTACH_NONE;
        int rounds = 11; /* 256 MiB memcpys are slow: fewer batches */
        for (int round = -1; round < rounds; round++) {
            uint64_t t0 = bench_now_ns();
            memcpy(dst, buf, ATTACH_BYTES);
            BENCH_OPAQUE(dst);
            double m = (double)(bench_now_ns() - t0) / 1e6;
            double a = cpu ? attach_ms(inst, cpu, buf, &mode_cpu) : -1;
            double o = ocl ? attach_ms(inst, ocl, buf, &mode_ocl) : -1;
            if (round >= 0) {
                mc[round] = m;
                ac[round] = a;
                ao[round] = o;
            }
        }
        printf("attach 256 MiB  memcpy %8.3f ms   cpu attach %8.3f ms (%s)   opencl attach %8.3f ms (%s)   median of "
               "%d\n",
               bench_median(mc, rounds), cpu ? bench_median(ac, rounds) : -1.0, accel_attach_mode_string(mode_cpu),
               ocl ? bench_median(ao, rounds) : -1.0, accel_attach_mode_string(mode_ocl), rounds);
    }
    free(buf);
    free(dst);
    accel_instance_destroy(inst);
    return 0;
}
