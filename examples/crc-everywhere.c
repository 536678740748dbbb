/* crc-everywhere — run the standard crc32c function over one buffer on
 * every device that offers it, through one memory object attached to all
 * of them, and check that every device computes the same value.
 *
 * Usage: crc-everywhere [BYTES]   (default 4099)
 * Exit status: 0 if all devices agree (and at least one ran), 1 otherwise. */
#include <accel/accel.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, accel_result r)
{
    fprintf(stderr, "crc-everywhere: %s: %s (%s)\n", what, accel_result_string(r), accel_last_error_message());
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 4099;
    accel_instance *inst = NULL;
    accel_result r = accel_instance_create(NULL, &inst);
    if (r)
        return fail("accel_instance_create", r);

    uint32_t n = 0;
    accel_enumerate_devices(inst, &n, NULL);
    accel_device **devs = calloc(n ? n : 1, sizeof(*devs));
    accel_enumerate_devices(inst, &n, devs);

    /* One input for everybody; one 4-byte result slot per device. */
    accel_memory *input = NULL, *results = NULL;
    accel_memory_alloc_info in_info = {.struct_size = sizeof(in_info), .size = size ? size : 1, .numa_node = -1};
    accel_memory_alloc_info out_info = {.struct_size = sizeof(out_info), .size = 4 * (uint64_t)(n ? n : 1),
                                        .numa_node = -1};
    if ((r = accel_memory_alloc(inst, &in_info, &input)) || (r = accel_memory_alloc(inst, &out_info, &results)))
        return fail("accel_memory_alloc", r);
    unsigned char *in;
    uint32_t *out;
    accel_memory_map(input, (void **)&in);
    accel_memory_map(results, (void **)&out);
    uint32_t x = 2463534242u;
    for (uint64_t i = 0; i < size; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift: reproducible bytes */
        in[i] = (unsigned char)x;
    }

    int ran = 0, disagree = 0;
    uint32_t first = 0;
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        accel_device_get_info(devs[i], &info);
        accel_function *crc = NULL;
        accel_queue *q = NULL;
        accel_fence *fence = NULL;
        accel_attach_mode m1, m2;
        if (accel_function_get(devs[i], NULL, "crc32c", &crc) != ACCEL_SUCCESS) {
            printf("%u: %-40s no crc32c: %s\n", i, info.name, accel_last_error_message());
            continue;
        }
        if ((r = accel_memory_attach(input, devs[i], &m1)) || (r = accel_memory_attach(results, devs[i], &m2)) ||
            (r = accel_queue_create(devs[i], 0, &q))) {
            printf("%u: %-40s cannot run: %s\n", i, info.name, accel_last_error_message());
            accel_function_destroy(crc);
            disagree = 1;
            continue;
        }
        accel_arg args[2] = {{.kind = ACCEL_ARG_MEMORY}, {.kind = ACCEL_ARG_MEMORY}};
        args[0].u.mem.memory = input;
        args[0].u.mem.size = size;
        args[1].u.mem.memory = results;
        args[1].u.mem.offset = 4 * (uint64_t)i;
        args[1].u.mem.size = 4;
        accel_submit_info s = {.struct_size = sizeof(s), .function = crc, .args = args, .arg_count = 2};
        if ((r = accel_queue_submit(q, &s, &fence)) || (r = accel_fence_wait(&fence, 1, true, UINT64_MAX))) {
            printf("%u: %-40s failed: %s\n", i, info.name, accel_last_error_message());
            disagree = 1;
        } else {
            uint32_t v;
            memcpy(&v, &out[i], 4);
            printf("%u: %-40s crc32c %08" PRIx32 "  (%s, input %s)\n", i, info.name, v, info.driver_name,
                   accel_attach_mode_string(m1));
            if (ran++ == 0)
                first = v;
            else if (v != first)
                disagree = 1;
        }
        accel_fence_release(fence);
        accel_queue_destroy(q);
        accel_function_destroy(crc);
    }
    printf("%d device(s) ran crc32c over %" PRIu64 " bytes: %s\n", ran, size,
           ran == 0 ? "nothing to compare" : disagree ? "RESULTS DIFFER" : "all agree");
    accel_memory_free(input);
    accel_memory_free(results);
    free(devs);
    accel_instance_destroy(inst);
    return ran > 0 && !disagree ? 0 : 1;
}
