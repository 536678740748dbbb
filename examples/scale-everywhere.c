/* scale-everywhere — one user kernel written three ways (OpenCL C,
 * GLSL compiled to SPIR-V, C in a shared object) run through the same
 * application code on every device that accepts one of them; every device
 * must produce the same floats.
 *
 * Usage: scale-everywhere [N]   (default 100003 elements)
 * Exit status: 0 if every device that ran agrees with the expected result
 * and at least one ran, 1 otherwise. */
#include <accel/accel.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the three programs are (set by the build). */
#ifndef SCALE_CL_PATH
#define SCALE_CL_PATH "examples/kernels/scale.cl"
#endif
#ifndef SCALE_SPV_PATH
#define SCALE_SPV_PATH "scale.spv"
#endif
#ifndef SCALE_SO_PATH
#define SCALE_SO_PATH "libscale_kernel.so"
#endif

static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = '\0';
        *size = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* The one place that differs per device: which form of the kernel it takes. */
static accel_result load_scale(accel_device *dev, accel_device_interface iface, accel_program **prog)
{
    size_t size = 0;
    char *data = NULL;
    accel_result r;
    switch (iface) {
    case ACCEL_DEVICE_INTERFACE_NATIVE:
        return accel_program_load(dev, ACCEL_PROGRAM_FORMAT_ELF, SCALE_SO_PATH, 0, NULL, prog);
    case ACCEL_DEVICE_INTERFACE_OPENCL:
        if (!(data = read_all(SCALE_CL_PATH, &size)))
            return ACCEL_ERROR_IO;
        r = accel_program_load(dev, ACCEL_PROGRAM_FORMAT_OPENCL_C, data, size, NULL, prog);
        break;
    case ACCEL_DEVICE_INTERFACE_VULKAN:
        if (!(data = read_all(SCALE_SPV_PATH, &size)))
            return ACCEL_ERROR_IO;
        r = accel_program_load(dev, ACCEL_PROGRAM_FORMAT_SPIRV, data, size, NULL, prog);
        break;
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
    free(data);
    return r;
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 100003;
    const float factor = 2.5f;
    accel_instance *inst = NULL;
    if (accel_instance_create(NULL, &inst)) {
        fprintf(stderr, "scale-everywhere: %s\n", accel_last_error_message());
        return 1;
    }
    uint32_t count = 0;
    accel_enumerate_devices(inst, &count, NULL);
    accel_device **devs = calloc(count ? count : 1, sizeof(*devs));
    accel_enumerate_devices(inst, &count, devs);

    int ran = 0, bad = 0;
    for (uint32_t d = 0; d < count; d++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        accel_device_get_info(devs[d], &info);
        accel_program *prog = NULL;
        accel_function *fn = NULL;
        accel_queue *q = NULL;
        accel_memory *m = NULL;
        accel_fence *fence = NULL;
        accel_memory_alloc_info mi = {.struct_size = sizeof(mi), .size = (uint64_t)n * 4 + 4, .numa_node = -1};
        accel_result lr = load_scale(devs[d], info.interface, &prog);
        if (lr == ACCEL_ERROR_UNSUPPORTED && info.interface != ACCEL_DEVICE_INTERFACE_NATIVE &&
            info.interface != ACCEL_DEVICE_INTERFACE_OPENCL && info.interface != ACCEL_DEVICE_INTERFACE_VULKAN) {
            printf("%u: %-40s skipped: no form of the kernel for a %s device\n", d, info.name,
                   accel_device_interface_string(info.interface));
            continue;
        }
        if (lr) {
            printf("%u: %-40s no scale kernel: %s\n", d, info.name, accel_last_error_message());
            bad = 1;
            continue;
        }
        /* From here on, the same code for every device. */
        float *x = NULL;
        accel_result r;
        if ((r = accel_function_get(devs[d], prog, "scale", &fn)) || (r = accel_memory_alloc(inst, &mi, &m)) ||
            (r = accel_memory_map(m, (void **)&x)) || (r = accel_memory_attach(m, devs[d], NULL)) ||
            (r = accel_queue_create(devs[d], 0, &q))) {
            printf("%u: %-40s cannot run: %s\n", d, info.name, accel_last_error_message());
            bad = 1;
        } else {
            for (uint32_t i = 0; i <= n; i++)
                x[i] = (float)i * 0.25f;
            accel_arg args[3] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_U32}, {.kind = ACCEL_ARG_F32}};
            args[0].u.mem.memory = m;
            args[0].u.mem.size = (uint64_t)n * 4 + 4;
            args[1].u.u32 = n;
            args[2].u.f32 = factor;
            accel_submit_info s = {.struct_size = sizeof(s), .function = fn, .args = args, .arg_count = 3,
                                   .work_dim = 1, .work_size = {n, 1, 1}};
            if ((r = accel_queue_submit(q, &s, &fence)) || (r = accel_fence_wait(&fence, 1, true, UINT64_MAX))) {
                printf("%u: %-40s failed: %s\n", d, info.name, accel_last_error_message());
                bad = 1;
            } else {
                uint32_t wrong = 0;
                for (uint32_t i = 0; i < n; i++)
                    wrong += x[i] != (float)i * 0.25f * factor;
                wrong += x[n] != (float)n * 0.25f; /* past n: untouched */
                printf("%u: %-40s scale over %u floats: %s (%s)\n", d, info.name, n,
                       wrong ? "WRONG" : "ok", info.driver_name);
                bad |= wrong != 0;
                ran++;
            }
        }
        accel_fence_release(fence);
        accel_queue_destroy(q);
        accel_memory_free(m);
        accel_function_destroy(fn);
        accel_program_destroy(prog);
    }
    printf("%d device(s) ran the scale kernel: %s\n", ran, ran == 0 ? "nothing ran" : bad ? "FAILED" : "all agree");
    free(devs);
    accel_instance_destroy(inst);
    return ran > 0 && !bad ? 0 : 1;
}
