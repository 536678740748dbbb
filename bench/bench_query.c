/*
 * bench_query.c — what the loader adds to one trivial hot-path call.
 *
 * The same device query is timed twice on the cpu device, side by side in one process:
 *   accel-loader : accel_device_query(dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, 4, NULL)
 *   direct table : the cpu driver's own table->device_query on its own device handle,
 *                  reached by negotiating with the driver library ourselves.
 * The direct side loads its own copy of the library the loader loaded (a driver is negotiated
 * and initialized once per load, so it must not share the loader's mapping). Both sides run
 * the same driver code from the same file, so the difference is the loader's dispatch: the
 * call into libaccel-loader, its argument checks (NULL, and the device's tag, which makes a
 * device of a destroyed instance ACCEL_ERROR_INVALID_HANDLE) and the indirect call.
 *
 * As an anchor, the same comparison for OpenCL: clGetDeviceInfo(dev, CL_DEVICE_TYPE) through
 * the system's ICD loader (libOpenCL.so.1, opened at run time) versus the ICD's own dispatch
 * table, which every cl_device_id points to with its first word.
 *
 * Usage: bench_query [MANIFEST]   (default: the build tree's accel_cpu.json)
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <accel/accel.h>
#include <accel/accel_icd.h>

#ifdef ACCEL_BENCH_HAVE_CL
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl_icd.h>
#endif

#include "bench_util.h"

#ifndef ACCEL_BENCH_MANIFEST_DIR
#define ACCEL_BENCH_MANIFEST_DIR "manifests"
#endif

/* Calls per batch. A batch lasts a few milliseconds, far above the clock's resolution and the
 * cost of reading it, and short enough that 31 of them fit in well under a second. */
#define ACCEL_CALLS 1000000u
#define CL_CALLS 200000u
#define FENCE_CALLS 200000u

static volatile uint64_t sink;

/*
 * Each timing loop is its own function, kept apart from the others (no inlining, no cloning,
 * no merging of identical functions) and aligned the same way, so that every side runs the
 * same loop code at the same offset within a cache line and only the called function differs.
 */
#if defined(__clang__)
#define BENCH_LOOP_ATTRS __attribute__((noinline, aligned(64)))
#else
#define BENCH_LOOP_ATTRS __attribute__((noipa, aligned(64)))
#endif

/*
 * One timing loop per function type, all expanded from this one macro so that the loop
 * around the call is the same machine code on every side. The function pointer and the
 * object are laundered through an empty asm so that the compiler cannot turn the indirect
 * call into a direct one (or inline it); the return value and the value written are folded
 * into the result so neither the call nor its output can be dropped.
 */
#define DEFINE_QUERY_LOOP(name, fn_type, obj_type, value_type, call)                                  \
    static BENCH_LOOP_ATTRS uint64_t name(fn_type fn, obj_type obj, uint64_t n)                       \
    {                                                                                                 \
        value_type v = 0;                                                                             \
        uint64_t acc = 0;                                                                             \
        BENCH_OPAQUE(fn);                                                                             \
        BENCH_OPAQUE(obj);                                                                            \
        for (uint64_t i = 0; i < n; i++) {                                                            \
            acc += (uint64_t)(call);                                                                  \
            acc += (uint64_t)v;                                                                       \
        }                                                                                             \
        return acc;                                                                                   \
    }

typedef accel_result (*loader_query_fn)(const accel_device *, accel_device_param, void *, size_t, size_t *);
typedef accel_icd_result (*icd_query_fn)(void *, accel_device_param, void *, size_t, size_t *);

DEFINE_QUERY_LOOP(loop_loader, loader_query_fn, const accel_device *, uint32_t,
                  fn(obj, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL))
DEFINE_QUERY_LOOP(loop_direct, icd_query_fn, void *, uint32_t,
                  fn(obj, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL))
/* A second, separately compiled copy of the direct loop: timing it against the first shows
 * how large a difference this method reports when there is none. */
DEFINE_QUERY_LOOP(loop_direct_again, icd_query_fn, void *, uint32_t,
                  fn(obj, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL))

/* The way a linked application calls the loader: the exported symbol, through the PLT. */
static BENCH_LOOP_ATTRS uint64_t loop_loader_plt(const accel_device *obj, uint64_t n)
{
    uint32_t v = 0;
    uint64_t acc = 0;
    BENCH_OPAQUE(obj);
    for (uint64_t i = 0; i < n; i++) {
        acc += (uint64_t)accel_device_query(obj, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v, sizeof(v), NULL);
        acc += (uint64_t)v;
    }
    return acc;
}

/* A call that checks a destroyable handle (docs/using-the-api.md, "Handles"): the status of
 * a fence that is already complete touches no driver, so what it costs is the loader's own
 * work, the handle's pin and unpin included. */
static BENCH_LOOP_ATTRS uint64_t loop_fence_status(accel_fence *fence, uint64_t n)
{
    uint64_t acc = 0;
    BENCH_OPAQUE(fence);
    for (uint64_t i = 0; i < n; i++)
        acc += (uint64_t)accel_fence_status(fence);
    return acc;
}

/* Median ns per accel_fence_status of a complete fence of the cpu device; < 0 if no fence
 * could be made. */
static double time_fence_status(accel_device *dev)
{
    accel_queue *q = NULL;
    accel_function *noop = NULL;
    accel_fence *f = NULL;
    double ns[BENCH_ROUNDS], med = -1.0;
    if (accel_queue_create(dev, 0, &q) != ACCEL_SUCCESS ||
        accel_function_get(dev, NULL, "accel.noop", &noop) != ACCEL_SUCCESS)
        goto out;
    accel_submit_info si = {.struct_size = sizeof(si), .function = noop};
    if (accel_queue_submit(q, &si, &f) != ACCEL_SUCCESS || accel_fence_wait(&f, 1, true, UINT64_MAX) != ACCEL_SUCCESS)
        goto out;
    for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
        uint64_t t0 = bench_now_ns();
        sink += loop_fence_status(f, FENCE_CALLS);
        uint64_t t1 = bench_now_ns();
        if (round >= 0)
            ns[round] = (double)(t1 - t0) / (double)FENCE_CALLS;
    }
    med = bench_median(ns, BENCH_ROUNDS);
out:
    accel_fence_release(f);
    accel_function_destroy(noop);
    accel_queue_destroy(q);
    return med;
}

#ifdef ACCEL_BENCH_HAVE_CL
DEFINE_QUERY_LOOP(loop_cl, cl_api_clGetDeviceInfo, cl_device_id, cl_device_type,
                  fn(obj, CL_DEVICE_TYPE, sizeof(v), &v, NULL))
#endif

/* ---- the driver reached without the loader ---- */

static void quiet_log(void *ctx, accel_log_level level, const char *format, ...)
{
    (void)ctx;
    (void)level;
    (void)format;
}

/* Must outlive every call into the driver: it keeps the pointer. */
static const accel_icd_loader_services direct_services = {
    .struct_size = sizeof(accel_icd_loader_services),
    .loader_context = NULL,
    .log = quiet_log,
};

typedef struct direct_driver {
    void *dl;
    const accel_icd_table *table;
    void *handle;
    void *device;
    int initialized;
} direct_driver;

/* dlopen a private copy of `library`: the copy is a different file, so the dynamic linker maps
 * it anew, with its own static data, next to the loader's. The file is removed once mapped. */
static void *dlopen_copy(const char *library)
{
    char dir[512], path[600];
    char *data = NULL;
    size_t size = 0;
    void *dl = NULL;
    if (bench_read_file(library, &data, &size) != 0) {
        fprintf(stderr, "bench_query: cannot read %s\n", library);
        return NULL;
    }
    if (bench_make_temp_dir(dir, sizeof(dir)) != 0)
        goto out;
    snprintf(path, sizeof(path), "%s/libaccel_cpu_direct.so", dir);
    if (bench_write_file(path, data, size, 0700) != 0)
        fprintf(stderr, "bench_query: cannot write %s\n", path);
    else if (!(dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        fprintf(stderr, "bench_query: dlopen %s: %s\n", path, dlerror());
    unlink(path);
    rmdir(dir);
out:
    free(data);
    return dl;
}

static int direct_open(direct_driver *d, const char *library, const char *manifest)
{
    accel_icd_negotiate_fn negotiate;
    if (!(d->dl = dlopen_copy(library)))
        return -1;
    *(void **)&negotiate = dlsym(d->dl, ACCEL_ICD_NEGOTIATE_SYMBOL);
    if (!negotiate) {
        fprintf(stderr, "bench_query: %s does not export %s\n", library, ACCEL_ICD_NEGOTIATE_SYMBOL);
        return -1;
    }
    accel_icd_negotiation n = {
        .struct_size = sizeof(n),
        .loader_version = ACCEL_ICD_INTERFACE_VERSION,
        .loader_min_version = ACCEL_MAKE_VERSION(1, 0),
        .services = &direct_services,
    };
    if (negotiate(&n) != ACCEL_SUCCESS || !n.table || !n.table->device_query) {
        fprintf(stderr, "bench_query: negotiation with %s failed\n", library);
        return -1;
    }
    d->table = n.table;
    accel_icd_init_info info = {.struct_size = sizeof(info), .manifest_path = manifest, .driver_name = "cpu"};
    if (d->table->driver_init(&info, &d->handle) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_query: driver_init of %s failed\n", library);
        return -1;
    }
    d->initialized = 1;
    uint32_t count = 1;
    accel_icd_result r = d->table->enumerate_devices(d->handle, &count, &d->device);
    if ((r != ACCEL_SUCCESS && r != ACCEL_INCOMPLETE) || count < 1) {
        fprintf(stderr, "bench_query: %s enumerates no device\n", library);
        return -1;
    }
    return 0;
}

static void direct_close(direct_driver *d)
{
    if (d->initialized)
        d->table->driver_fini(d->handle);
    if (d->dl)
        dlclose(d->dl);
}

/* ---- OpenCL, opened at run time ---- */

typedef struct cl_side {
    int available;
    const char *why;  /* when not available */
    char platform[128];
    int is_pocl;
#ifdef ACCEL_BENCH_HAVE_CL
    void *dl;
    cl_api_clGetDeviceInfo through_icd_loader;
    cl_api_clGetDeviceInfo through_dispatch;
    cl_device_id device;
#endif
} cl_side;

#ifdef ACCEL_BENCH_HAVE_CL
static void cl_open(cl_side *s)
{
    cl_api_clGetPlatformIDs get_platforms;
    cl_api_clGetPlatformInfo get_platform_info;
    cl_api_clGetDeviceIDs get_devices;
    cl_platform_id platforms[16];
    cl_uint np = 0;

    s->dl = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!s->dl) {
        s->why = "libOpenCL.so.1 not found";
        return;
    }
    *(void **)&get_platforms = dlsym(s->dl, "clGetPlatformIDs");
    *(void **)&get_platform_info = dlsym(s->dl, "clGetPlatformInfo");
    *(void **)&get_devices = dlsym(s->dl, "clGetDeviceIDs");
    *(void **)&s->through_icd_loader = dlsym(s->dl, "clGetDeviceInfo");
    if (!get_platforms || !get_platform_info || !get_devices || !s->through_icd_loader) {
        s->why = "libOpenCL.so.1 lacks the OpenCL 1.0 entry points";
        return;
    }
    if (get_platforms(16, platforms, &np) != CL_SUCCESS || np == 0) {
        s->why = "no OpenCL platform";
        return;
    }
    if (np > 16)
        np = 16;
    /* Prefer PoCL; otherwise the first platform that has a device. */
    int best = -1;
    for (cl_uint i = 0; i < np; i++) {
        char name[128] = "";
        cl_device_id dev;
        cl_uint nd = 0;
        get_platform_info(platforms[i], CL_PLATFORM_NAME, sizeof(name) - 1, name, NULL);
        if (get_devices(platforms[i], CL_DEVICE_TYPE_ALL, 1, &dev, &nd) != CL_SUCCESS || nd == 0)
            continue;
        int pocl = strstr(name, "Portable Computing Language") != NULL || strstr(name, "pocl") != NULL;
        if (best < 0 || (pocl && !s->is_pocl)) {
            best = (int)i;
            s->device = dev;
            s->is_pocl = pocl;
            snprintf(s->platform, sizeof(s->platform), "%s", name);
        }
    }
    if (best < 0) {
        s->why = "no OpenCL device";
        return;
    }
    /* An ICD object starts with a pointer to the ICD's dispatch table (the cl_khr_icd
     * contract that makes ICD loaders possible); the loader itself calls this very entry. */
    const struct _cl_icd_dispatch *dispatch = *(const struct _cl_icd_dispatch *const *)s->device;
    if (!dispatch || !dispatch->clGetDeviceInfo) {
        s->why = "device has no ICD dispatch table";
        return;
    }
    s->through_dispatch = dispatch->clGetDeviceInfo;
    cl_device_type a = 0, b = 0;
    if (s->through_icd_loader(s->device, CL_DEVICE_TYPE, sizeof(a), &a, NULL) != CL_SUCCESS ||
        s->through_dispatch(s->device, CL_DEVICE_TYPE, sizeof(b), &b, NULL) != CL_SUCCESS || a != b) {
        s->why = "clGetDeviceInfo answers differ between the ICD loader and the dispatch table";
        return;
    }
    s->available = 1;
}
#endif

int main(int argc, char **argv)
{
    const char *manifest = argc > 1 ? argv[1] : ACCEL_BENCH_MANIFEST_DIR "/accel_cpu.json";
    accel_instance *inst = NULL;
    direct_driver direct = {0};
    cl_side cl = {.why = "built without CL/cl_icd.h"};
    int status = 1;

    /* The instance sees exactly this manifest; environment selection is ignored. */
    const char *paths[] = {manifest};
    accel_instance_options opts = {
        .struct_size = sizeof(opts),
        .flags = ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION,
        .manifest_paths = paths,
        .manifest_path_count = 1,
    };
    accel_result r = accel_instance_create(&opts, &inst);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_query: accel_instance_create: %s: %s\n", accel_result_name(r),
                accel_last_error_message());
        goto out;
    }
    accel_device *devs[8];
    uint32_t ndev = 8;
    r = accel_enumerate_devices(inst, &ndev, devs);
    accel_device *dev = NULL;
    accel_device_info info = {.struct_size = sizeof(info)};
    for (uint32_t i = 0; (r == ACCEL_SUCCESS || r == ACCEL_INCOMPLETE) && i < ndev; i++) {
        if (accel_device_get_info(devs[i], &info) == ACCEL_SUCCESS && strcmp(info.driver_name, "cpu") == 0) {
            dev = devs[i];
            break;
        }
    }
    accel_driver_info dinfo = {.struct_size = sizeof(dinfo)};
    if (!dev || accel_driver_get_info(info.driver, &dinfo) != ACCEL_SUCCESS) {
        fprintf(stderr, "bench_query: no cpu device through %s\n", manifest);
        goto out;
    }
    /* A copy of the very library the loader loaded. */
    if (direct_open(&direct, dinfo.library_path, manifest) != 0)
        goto out;

    uint32_t v1 = 0, v2 = 0;
    accel_result r1 = accel_device_query(dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v1, sizeof(v1), NULL);
    accel_result r2 = direct.table->device_query(direct.device, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, &v2,
                                                 sizeof(v2), NULL);
    if (r1 != ACCEL_SUCCESS || r2 != ACCEL_SUCCESS || v1 != v2) {
        fprintf(stderr, "bench_query: the two paths disagree (%" PRIu32 " vs %" PRIu32 ")\n", v1, v2);
        goto out;
    }

#ifdef ACCEL_BENCH_HAVE_CL
    cl.why = NULL;
    cl_open(&cl);
#endif

    enum { T_LOADER, T_DIRECT, T_DIRECT2, T_PLT, T_CL_LOADER, T_CL_DIRECT, T_COUNT };
    double ns[T_COUNT][BENCH_ROUNDS];
    for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
        /* Rotate the order every round so that no side always runs first or right after
         * the slow OpenCL loops. */
        for (int k = 0; k < T_COUNT; k++) {
            int t = (k + (round < 0 ? 0 : round)) % T_COUNT;
            uint64_t calls = (t == T_CL_LOADER || t == T_CL_DIRECT) ? CL_CALLS : ACCEL_CALLS;
            uint64_t t0 = 0, t1 = 0, acc = 0;
            if ((t == T_CL_LOADER || t == T_CL_DIRECT) && !cl.available)
                continue;
            switch (t) {
            case T_LOADER:
                t0 = bench_now_ns();
                acc = loop_loader(accel_device_query, dev, calls);
                t1 = bench_now_ns();
                break;
            case T_DIRECT:
                t0 = bench_now_ns();
                acc = loop_direct(direct.table->device_query, direct.device, calls);
                t1 = bench_now_ns();
                break;
            case T_DIRECT2:
                t0 = bench_now_ns();
                acc = loop_direct_again(direct.table->device_query, direct.device, calls);
                t1 = bench_now_ns();
                break;
            case T_PLT:
                t0 = bench_now_ns();
                acc = loop_loader_plt(dev, calls);
                t1 = bench_now_ns();
                break;
#ifdef ACCEL_BENCH_HAVE_CL
            case T_CL_LOADER:
                t0 = bench_now_ns();
                acc = loop_cl(cl.through_icd_loader, cl.device, calls);
                t1 = bench_now_ns();
                break;
            case T_CL_DIRECT:
                t0 = bench_now_ns();
                acc = loop_cl(cl.through_dispatch, cl.device, calls);
                t1 = bench_now_ns();
                break;
#endif
            default: break;
            }
            sink += acc;
            if (round >= 0)
                ns[t][round] = (double)(t1 - t0) / (double)calls;
        }
    }

    double med[T_COUNT];
    for (int t = 0; t < T_COUNT; t++)
        med[t] = (t == T_CL_LOADER || t == T_CL_DIRECT) && !cl.available ? 0.0
                                                                          : bench_median(ns[t], BENCH_ROUNDS);

    printf("bench_query: per-call cost, median of %d batches (%u calls/batch accel, %u calls/batch OpenCL)\n",
           BENCH_ROUNDS, ACCEL_CALLS, CL_CALLS);
    printf("query  accel-loader  %6.2f ns   direct table  %6.2f ns   added  %5.2f ns   ratio %.2f\n",
           med[T_LOADER], med[T_DIRECT], med[T_LOADER] - med[T_DIRECT], med[T_LOADER] / med[T_DIRECT]);
    if (cl.available)
        printf("query  ocl-icd       %6.2f ns   direct %-6s %6.2f ns   added  %5.2f ns   ratio %.2f\n",
               med[T_CL_LOADER], cl.is_pocl ? "PoCL" : "ICD", med[T_CL_DIRECT],
               med[T_CL_LOADER] - med[T_CL_DIRECT], med[T_CL_LOADER] / med[T_CL_DIRECT]);
    else
        printf("opencl: not available (%s)\n", cl.why);
    printf("query  accel-loader called through the PLT (as a linked program does)  %6.2f ns\n", med[T_PLT]);
    printf("control: direct table vs a second copy of its loop  %6.2f ns vs %6.2f ns   difference %5.2f ns\n",
           med[T_DIRECT], med[T_DIRECT2], med[T_DIRECT2] - med[T_DIRECT]);
    if (cl.available && !cl.is_pocl)
        printf("note: PoCL not found; the OpenCL anchor used platform \"%s\"\n", cl.platform);
    double fence_ns = time_fence_status(dev);
    if (fence_ns >= 0)
        printf("handle check: accel_fence_status of a complete fence (no driver call)  %6.2f ns   median of %d "
               "batches of %u\n",
               fence_ns, BENCH_ROUNDS, FENCE_CALLS);
    else
        printf("handle check: no fence of the cpu device: %s\n", accel_last_error_message());
    status = 0;

out:
    accel_instance_destroy(inst);
    direct_close(&direct);
#ifdef ACCEL_BENCH_HAVE_CL
    /* libOpenCL.so.1 stays loaded: ICD loaders are not built to be unloaded. */
#endif
    return status;
}
