/* acme.c: the accel driver of the Acme W1, built step by step in
 * docs/writing-a-driver.md. The W1 is make-believe: this driver computes
 * on the host where a real one would program the hardware. */
#include <accel/accel_icd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set by accel_icd_negotiate; valid until driver_fini returns. */
static const accel_icd_loader_services *services;

#define LOG(level, ...)                                                    \
    do {                                                                   \
        if (services && services->log)                                     \
            services->log(services->loader_context, (level), __VA_ARGS__); \
    } while (0)

/* The driver ABI version this file implements (accel_icd.h). */
#define ACME_INTERFACE ACCEL_MAKE_VERSION(1, 0)

struct acme_device {
    accel_icd_device_info info; /* filled once by driver_init */
};

struct acme_driver {
    struct acme_device device; /* the W1 has one device */
};

/* A stable uuid: FNV-1a over the board's serial number, twice. */
static void uuid_from_serial(const char *serial, uint8_t uuid[ACCEL_UUID_SIZE])
{
    uint64_t h[2] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    for (int k = 0; k < 2; k++)
        for (const char *p = serial; *p; p++)
            h[k] = (h[k] ^ (unsigned char)*p) * 0x100000001b3ull;
    for (int i = 0; i < 8; i++) {
        uuid[i] = (uint8_t)(h[0] >> (56 - 8 * i));
        uuid[8 + i] = (uint8_t)(h[1] >> (56 - 8 * i));
    }
}

static void describe(struct acme_device *d, const char *serial)
{
    accel_icd_device_info *info = &d->info;
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    snprintf(info->name, sizeof(info->name), "Acme W1 (serial %s)", serial);
    snprintf(info->vendor, sizeof(info->vendor), "Acme");
    info->kind = ACCEL_DEVICE_KIND_ASIC;
    info->interface = ACCEL_DEVICE_INTERFACE_NATIVE;
    uuid_from_serial(serial, info->uuid);
    info->numa_node = -1;
    info->available_instances = ACCEL_INSTANCES_UNLIMITED;
    info->parent_index = -1;
    info->driver_version = ACCEL_MAKE_VERSION(1, 0); /* this driver's own version */
}

static accel_icd_result acme_init(const accel_icd_init_info *init, void **handle)
{
    struct acme_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    describe(&drv->device, "W1-000001");
    LOG(ACCEL_LOG_INFO, "loaded from %s", init->manifest_path);
    *handle = drv;
    return ACCEL_SUCCESS;
}

static void acme_fini(void *handle)
{
    free(handle);
}

static accel_icd_result acme_enumerate(void *handle, uint32_t *count, void **devices)
{
    struct acme_driver *drv = handle;
    if (!devices) {
        *count = 1;
        return ACCEL_SUCCESS;
    }
    if (*count < 1)
        return ACCEL_INCOMPLETE;
    devices[0] = &drv->device;
    *count = 1;
    return ACCEL_SUCCESS;
}

static accel_icd_result acme_get_info(void *device, accel_icd_device_info *info)
{
    const struct acme_device *d = device;
    /* Write no more than the loader's struct holds, and keep its size. */
    uint32_t size = info->struct_size;
    memcpy(info, &d->info, size < sizeof(*info) ? size : sizeof(*info));
    info->struct_size = size;
    return ACCEL_SUCCESS;
}

static accel_icd_result put_value(const void *v, size_t n, void *value, size_t size, size_t *size_ret)
{
    if (size_ret)
        *size_ret = n;
    if (!value)
        return ACCEL_SUCCESS;
    if (size < n)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memcpy(value, v, n);
    return ACCEL_SUCCESS;
}

static accel_icd_result acme_query(void *device, accel_device_param param, void *value, size_t size,
                                   size_t *size_ret)
{
    const struct acme_device *d = device;
    uint32_t u;
    int32_t i;
    switch (param) {
    case ACCEL_DEVICE_PARAM_KIND: u = (uint32_t)d->info.kind; break;
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES: u = d->info.available_instances; break;
    case ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES: u = d->info.max_address_spaces; break;
    case ACCEL_DEVICE_PARAM_FLAGS: u = d->info.flags; break;
    case ACCEL_DEVICE_PARAM_NUMA_NODE:
        i = d->info.numa_node;
        return put_value(&i, sizeof(i), value, size, size_ret);
    default: return ACCEL_ERROR_UNSUPPORTED;
    }
    return put_value(&u, sizeof(u), value, size, size_ret);
}

static const char *acme_version(void *handle)
{
    (void)handle;
    return "1.0.0";
}

/* The W1 reaches host memory where it is: a memory handle is the range. */
struct acme_memory {
    unsigned char *bytes;
    uint64_t size;
};

static accel_icd_result acme_attach(void *device, const accel_icd_memory_desc *desc, void **memory,
                                    accel_attach_mode *mode)
{
    (void)device;
    struct acme_memory *m = malloc(sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->bytes = desc->host_ptr;
    m->size = desc->size;
    *memory = m;
    *mode = ACCEL_ATTACH_ZERO_COPY;
    return ACCEL_SUCCESS;
}

static void acme_detach(void *device, void *memory)
{
    (void)device;
    free(memory);
}

/* The bytes of a memory argument. */
static unsigned char *bytes_of(const accel_icd_arg *a)
{
    const struct acme_memory *m = a->u.mem.memory;
    return m->bytes + a->u.mem.offset;
}

static accel_icd_result run_noop(const accel_icd_arg *a)
{
    (void)a;
    return ACCEL_SUCCESS;
}

static accel_icd_result run_copy(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < a[0].u.mem.size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    memmove(bytes_of(&a[1]), bytes_of(&a[0]), a[0].u.mem.size);
    return ACCEL_SUCCESS;
}

static accel_icd_result run_fill(const accel_icd_arg *a)
{
    unsigned char *dst = bytes_of(&a[0]);
    uint32_t pattern = a[1].u.u32;
    for (uint64_t i = 0; i < a[0].u.mem.size; i++)
        dst[i] = (unsigned char)(pattern >> (8 * (i % 4)));
    return ACCEL_SUCCESS;
}

static accel_icd_result run_crc32c(const accel_icd_arg *a)
{
    if (a[1].u.mem.size < 4)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    const unsigned char *src = bytes_of(&a[0]);
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < a[0].u.mem.size; i++) {
        crc ^= src[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    crc ^= 0xffffffffu;
    unsigned char *out = bytes_of(&a[1]);
    for (int k = 0; k < 4; k++)
        out[k] = (unsigned char)(crc >> (8 * k));
    return ACCEL_SUCCESS;
}

struct acme_function {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind arg_kinds[2];
    accel_icd_result (*run)(const accel_icd_arg *args);
};

static const struct acme_function functions[] = {
    {"accel.noop", 0, {ACCEL_ARG_NONE}, run_noop},
    {"accel.copy", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}, run_copy},
    {"accel.fill", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}, run_fill},
    {"crc32c", 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}, run_crc32c},
};

static accel_icd_result acme_function_get(void *device, void *program, const char *name, void **function,
                                          accel_icd_function_info *info)
{
    (void)device;
    if (program)
        return ACCEL_ERROR_NOT_FOUND; /* the W1 loads no programs */
    for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++) {
        if (strcmp(functions[i].name, name) == 0) {
            info->arg_count = functions[i].arg_count;
            for (uint32_t k = 0; k < functions[i].arg_count; k++)
                info->arg_kinds[k] = functions[i].arg_kinds[k];
            *function = (void *)&functions[i];
            return ACCEL_SUCCESS;
        }
    }
    return ACCEL_ERROR_NOT_FOUND;
}

static void acme_function_release(void *function)
{
    (void)function; /* static: nothing to free */
}

/* The W1 runs a submission as soon as it gets it, so every fence is
 * complete when queue_submit returns. A queue remembers its first error. */
struct acme_queue {
    accel_icd_result error;
};

struct acme_fence {
    accel_icd_result result;
};

static accel_icd_result acme_queue_create(void *device, void **queue)
{
    (void)device;
    struct acme_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    *queue = q;
    return ACCEL_SUCCESS;
}

static void acme_queue_destroy(void *queue)
{
    free(queue);
}

static accel_icd_result acme_submit(void *queue, const accel_icd_submit *s, void **fence)
{
    struct acme_queue *q = queue;
    struct acme_fence *f = malloc(sizeof(*f));
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    /* No wait_fences: the loader waits for them itself (accel_icd.h). */
    accel_icd_result r = q->error;
    if (r == ACCEL_SUCCESS)
        r = ((const struct acme_function *)s->function)->run(s->args);
    if (r != ACCEL_SUCCESS && q->error == ACCEL_SUCCESS)
        q->error = r; /* a failed queue runs nothing more */
    f->result = r;
    *fence = f;
    return ACCEL_SUCCESS;
}

static accel_icd_result acme_fence_status(void *fence)
{
    return ((const struct acme_fence *)fence)->result;
}

static accel_icd_result acme_fence_wait(void *fence, uint64_t timeout_ns)
{
    (void)timeout_ns;
    return ((const struct acme_fence *)fence)->result;
}

static void acme_fence_release(void *fence)
{
    free(fence);
}

static const accel_icd_table acme_table = {
    .struct_size = sizeof(accel_icd_table),
    .flags = 0,
    .driver_init = acme_init,
    .driver_fini = acme_fini,
    .enumerate_devices = acme_enumerate,
    .device_get_info = acme_get_info,
    .device_query = acme_query,
    .driver_version_string = acme_version,
    .memory_attach = acme_attach,
    .memory_detach = acme_detach,
    .function_get = acme_function_get,
    .function_release = acme_function_release,
    .queue_create = acme_queue_create,
    .queue_destroy = acme_queue_destroy,
    .queue_submit = acme_submit,
    .fence_status = acme_fence_status,
    .fence_wait = acme_fence_wait,
    .fence_release = acme_fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    /* The fields up to `table` must be there; a newer loader's struct may be
     * longer, and the rest is not ours to touch. */
    if (!n || n->struct_size < offsetof(accel_icd_negotiation, table) + sizeof(n->table))
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    /* This driver speaks interface 1.0 only. */
    if (n->loader_version < ACME_INTERFACE || n->loader_min_version > ACME_INTERFACE)
        return ACCEL_ERROR_INCOMPATIBLE_DRIVER;
    services = n->services;
    n->driver_version = ACME_INTERFACE;
    n->table = &acme_table;
    return ACCEL_SUCCESS;
}
