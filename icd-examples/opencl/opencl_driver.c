/* opencl_driver.c — every device of every OpenCL platform the system's
 * OpenCL ICD loader reaches, as accel devices: loading libOpenCL,
 * enumeration and device descriptions. Memory, programs and submission are
 * in opencl_memory.c, opencl_program.c and opencl_submit.c.
 *
 * libOpenCL.so.1 is dlopen()ed at driver_init, so the driver loads (with
 * zero devices) on machines without OpenCL. */
#include "opencl_driver.h"
#include "accel_icd_negotiate.h"
#include "accel_icd_query.h"
#include "accel_uuid.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ocl_api ocl__cl;
const accel_icd_loader_services *ocl__services;

/* driver_init calls not yet finished by driver_fini: the entry points stay
 * resolved while one is live (a test may start the driver twice). */
static unsigned ocl_users;

accel_result ocl__result(cl_int err)
{
    switch (err) {
    case CL_SUCCESS: return ACCEL_SUCCESS;
    case CL_OUT_OF_HOST_MEMORY: return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    case CL_OUT_OF_RESOURCES:
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    case CL_DEVICE_NOT_AVAILABLE: return ACCEL_ERROR_DEVICE_LOST;
    case CL_INVALID_BUFFER_SIZE:
    case CL_INVALID_VALUE: return ACCEL_ERROR_INVALID_ARGUMENT;
    default: return ACCEL_ERROR_DRIVER_INTERNAL;
    }
}

/* Resolve every entry point; -1 (logged) if a required one is missing. */
static int load_opencl(void)
{
    if (ocl__cl.lib)
        return 0;
    memset(&ocl__cl, 0, sizeof(ocl__cl));
    /* RTLD_NODELETE: OpenCL implementations start threads and keep state
     * that does not survive being unloaded. */
    ocl__cl.lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!ocl__cl.lib) {
        OCL_LOG(ACCEL_LOG_INFO, "no OpenCL ICD loader (%s); no devices", dlerror());
        return -1;
    }
#define OCL__RESOLVE(name, required)                                                                           \
    *(void **)&ocl__cl.name = dlsym(ocl__cl.lib, #name);                                                       \
    if (!ocl__cl.name && (required)) {                                                                        \
        OCL_LOG(ACCEL_LOG_WARN, "libOpenCL.so.1 lacks %s; no devices", #name);                                 \
        goto fail;                                                                                            \
    }
    OCL_ENTRY_POINTS(OCL__RESOLVE)
#undef OCL__RESOLVE
    return 0;
fail:
    dlclose(ocl__cl.lib);
    memset(&ocl__cl, 0, sizeof(ocl__cl));
    return -1;
}

/* A string property of a platform or device into buf (empty on failure). */
static void platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (CL(clGetPlatformInfo)(p, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

static void device_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    buf[0] = '\0';
    if (CL(clGetDeviceInfo)(d, what, size, buf, NULL) != CL_SUCCESS)
        buf[0] = '\0';
    buf[size - 1] = '\0';
}

/* Whether the space-separated extension list names `ext` exactly. */
static int has_extension(const char *list, const char *ext)
{
    size_t n = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

static int name_suggests_fpga(const char *name)
{
    static const char *const hints[] = {"fpga", "xilinx", "alveo", "stratix", "arria", "agilex", "versal"};
    char lower[256];
    size_t i;
    for (i = 0; name[i] && i < sizeof(lower) - 1; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    lower[i] = '\0';
    for (size_t k = 0; k < sizeof(hints) / sizeof(hints[0]); k++)
        if (strstr(lower, hints[k]))
            return 1;
    return 0;
}

static accel_device_kind device_kind(cl_device_type type, const char *name)
{
    if (type & CL_DEVICE_TYPE_GPU)
        return ACCEL_DEVICE_KIND_GPU;
    if (type & CL_DEVICE_TYPE_CPU)
        return ACCEL_DEVICE_KIND_CPU;
    if (type & CL_DEVICE_TYPE_ACCELERATOR)
        return name_suggests_fpga(name) ? ACCEL_DEVICE_KIND_FPGA : ACCEL_DEVICE_KIND_ASIC;
    if (type & CL_DEVICE_TYPE_CUSTOM)
        return ACCEL_DEVICE_KIND_ASIC;
    return ACCEL_DEVICE_KIND_UNKNOWN;
}

/* Without cl_khr_device_uuid: a name-based uuid from what identifies the
 * device to OpenCL, the same on every run while the setup is unchanged. */
static void hashed_uuid(const char *platform, const char *device, const char *driver_version, uint32_t index,
                        uint8_t out[ACCEL_UUID_SIZE])
{
    char idx[16];
    snprintf(idx, sizeof(idx), "%u", index);
    const char *parts[] = {"accel-opencl", platform, device, driver_version, idx};
    accel_uuid_from_parts(parts, 5, out);
}

/* A partition's uuid: from its parent's and what part of the parent it is
 * (the sub-device's own CL_DEVICE_UUID_KHR, where there is one, may repeat
 * the parent's). */
static void partition_uuid(const uint8_t parent[ACCEL_UUID_SIZE], const char *partition,
                           uint8_t out[ACCEL_UUID_SIZE])
{
    char hex[2 * ACCEL_UUID_SIZE + 1];
    for (int i = 0; i < ACCEL_UUID_SIZE; i++)
        snprintf(hex + 2 * i, 3, "%02x", parent[i]);
    const char *parts[] = {"accel-opencl-partition", hex, partition};
    accel_uuid_from_parts(parts, 3, out);
}

/* Fill dev from the OpenCL queries; `index` is the device's index within
 * its platform. */
static void describe_device(ocl_device *dev, const char *platform_name, uint32_t index)
{
    accel_icd_device_info *info = &dev->info;
    cl_device_id id = dev->id;
    char name[256], driver_version[128], version[128];
    char *extensions = NULL;
    size_t ext_size = 0;

    info->struct_size = sizeof(*info);
    device_string(id, CL_DEVICE_NAME, name, sizeof(name));
    device_string(id, CL_DRIVER_VERSION, driver_version, sizeof(driver_version));
    device_string(id, CL_DEVICE_VERSION, version, sizeof(version));
    device_string(id, CL_DEVICE_VENDOR, info->vendor, sizeof(info->vendor));
    snprintf(info->name, sizeof(info->name), "%s: %s", platform_name, name);
    if (CL(clGetDeviceInfo)(id, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_size) == CL_SUCCESS && ext_size > 0 &&
        (extensions = calloc(1, ext_size + 1)) != NULL &&
        CL(clGetDeviceInfo)(id, CL_DEVICE_EXTENSIONS, ext_size, extensions, NULL) != CL_SUCCESS)
        extensions[0] = '\0';
    const char *ext = extensions ? extensions : "";

    cl_device_type type = 0;
    CL(clGetDeviceInfo)(id, CL_DEVICE_TYPE, sizeof(type), &type, NULL);
    info->kind = device_kind(type, name);
    info->interface = ACCEL_DEVICE_INTERFACE_OPENCL;

    cl_uint vendor_id = 0;
    if (CL(clGetDeviceInfo)(id, CL_DEVICE_VENDOR_ID, sizeof(vendor_id), &vendor_id, NULL) == CL_SUCCESS)
        info->vendor_id = vendor_id;

    cl_uchar uuid[CL_UUID_SIZE_KHR];
    if (has_extension(ext, "cl_khr_device_uuid") &&
        CL(clGetDeviceInfo)(id, CL_DEVICE_UUID_KHR, sizeof(uuid), uuid, NULL) == CL_SUCCESS)
        memcpy(info->uuid, uuid, ACCEL_UUID_SIZE);
    else
        hashed_uuid(platform_name, name, driver_version, index, info->uuid);

    cl_device_pci_bus_info_khr pci;
    if (has_extension(ext, "cl_khr_pci_bus_info") &&
        CL(clGetDeviceInfo)(id, CL_DEVICE_PCI_BUS_INFO_KHR, sizeof(pci), &pci, NULL) == CL_SUCCESS)
        snprintf(info->bus_address, sizeof(info->bus_address), "%04x:%02x:%02x.%x", pci.pci_domain, pci.pci_bus,
                 pci.pci_device, pci.pci_function);

    /* OpenCL does not say which NUMA node a device is close to. */
    info->numa_node = -1;
    info->parent_index = -1;

    /* Fine-grained system SVM is the OpenCL name for sharing the process's
     * address space. Only asked of OpenCL 2.0+ devices. */
    cl_device_svm_capabilities svm = 0;
    if (strncmp(version, "OpenCL 1.", 9) != 0 &&
        CL(clGetDeviceInfo)(id, CL_DEVICE_SVM_CAPABILITIES, sizeof(svm), &svm, NULL) == CL_SUCCESS &&
        (svm & CL_DEVICE_SVM_FINE_GRAIN_SYSTEM))
        info->flags |= ACCEL_DEVICE_FLAG_SVA;
    info->max_address_spaces = 0;
    info->available_instances = ACCEL_INSTANCES_UNLIMITED;
    info->driver_version = OCL_DRIVER_VERSION;

    cl_bool unified = CL_FALSE;
    CL(clGetDeviceInfo)(id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof(unified), &unified, NULL);
    dev->unified = unified == CL_TRUE;
    cl_uint align_bits = 0;
    CL(clGetDeviceInfo)(id, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof(align_bits), &align_bits, NULL);
    dev->base_align = align_bits >= 8 ? align_bits / 8 : 1;
    char il[256];
    dev->has_il = 0;
    if (strncmp(version, "OpenCL 1.", 9) != 0 && strncmp(version, "OpenCL 2.0", 10) != 0) {
        device_string(id, CL_DEVICE_IL_VERSION, il, sizeof(il));
        dev->has_il = strstr(il, "SPIR-V") != NULL && CL(clCreateProgramWithIL) != NULL;
    }
    OCL_LOG(ACCEL_LOG_DEBUG, "device %s (%s, %s): %s memory, base alignment %u, %s", info->name, version,
            driver_version, dev->unified ? "host-unified" : "separate", dev->base_align,
            dev->has_il ? "SPIR-V accepted" : "no SPIR-V");
    free(extensions);
}

/* Append the devices of one platform to drv. */
static accel_result add_platform(ocl_driver *drv, cl_platform_id platform)
{
    char pname[128];
    platform_string(platform, CL_PLATFORM_NAME, pname, sizeof(pname));
    cl_uint n = 0;
    cl_int err = CL(clGetDeviceIDs)(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
    if (err == CL_DEVICE_NOT_FOUND || (err == CL_SUCCESS && n == 0)) {
        OCL_LOG(ACCEL_LOG_INFO, "platform %s has no devices", pname);
        return ACCEL_SUCCESS;
    }
    if (err != CL_SUCCESS) {
        OCL_LOG(ACCEL_LOG_WARN, "platform %s: clGetDeviceIDs failed (%d); skipped", pname, err);
        return ACCEL_SUCCESS;
    }
    cl_device_id *ids = calloc(n, sizeof(*ids));
    ocl_device *grown = realloc(drv->devices, (drv->count + n) * sizeof(*grown));
    if (!ids || !grown) {
        free(ids);
        if (grown)
            drv->devices = grown;
        OCL_LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    drv->devices = grown;
    if ((err = CL(clGetDeviceIDs)(platform, CL_DEVICE_TYPE_ALL, n, ids, &n)) != CL_SUCCESS) {
        OCL_LOG(ACCEL_LOG_WARN, "platform %s: clGetDeviceIDs failed (%d); skipped", pname, err);
        free(ids);
        return ACCEL_SUCCESS;
    }
    for (cl_uint i = 0; i < n; i++) {
        ocl_device *dev = &drv->devices[drv->count];
        memset(dev, 0, sizeof(*dev));
        dev->platform = platform;
        dev->id = ids[i];
        describe_device(dev, pname, i);
        drv->count++;
    }
    free(ids);
    return ACCEL_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Partitions: OpenCL sub-devices, opt-in through ACCEL_OPENCL_PARTITIONS.    */

typedef enum partition_how { PARTITION_NONE, PARTITION_EQUALLY, PARTITION_NUMA } partition_how;

typedef struct partition_request {
    partition_how how;
    cl_uint units; /* PARTITION_EQUALLY: compute units per sub-device */
} partition_request;

/* ACCEL_OPENCL_PARTITIONS=equally:N or =numa; unset or empty: none. 0 (and
 * a warning) for anything else. */
static int partitions_from_env(partition_request *req)
{
    req->how = PARTITION_NONE;
    req->units = 0;
    const char *v = secure_getenv("ACCEL_OPENCL_PARTITIONS");
    if (!v || !*v)
        return 1;
    if (strcmp(v, "numa") == 0) {
        req->how = PARTITION_NUMA;
        return 1;
    }
    if (strncmp(v, "equally:", 8) == 0 && v[8] >= '0' && v[8] <= '9') {
        char *end;
        unsigned long n = strtoul(v + 8, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 0xffffffu) {
            req->how = PARTITION_EQUALLY;
            req->units = (cl_uint)n;
            return 1;
        }
    }
    OCL_LOG(ACCEL_LOG_WARN, "ACCEL_OPENCL_PARTITIONS=%s: expected \"equally:N\" (N >= 1) or \"numa\"; no partitions",
            v);
    return 0;
}

/* Whether the device can be partitioned as asked: a warning and 0 if not. */
static int can_partition(const ocl_device *parent, const partition_request *req)
{
    const char *name = parent->info.name;
    cl_device_partition_property props[16];
    size_t size = 0;
    if (!CL(clCreateSubDevices) || !CL(clReleaseDevice) ||
        CL(clGetDeviceInfo)(parent->id, CL_DEVICE_PARTITION_PROPERTIES, sizeof(props), props, &size) != CL_SUCCESS)
        size = 0;
    cl_device_partition_property want =
        req->how == PARTITION_EQUALLY ? CL_DEVICE_PARTITION_EQUALLY : CL_DEVICE_PARTITION_BY_AFFINITY_DOMAIN;
    int supported = 0;
    for (size_t i = 0; i < size / sizeof(props[0]) && props[i] != 0; i++)
        supported |= props[i] == want;
    cl_uint max_sub = 0;
    if (supported &&
        (CL(clGetDeviceInfo)(parent->id, CL_DEVICE_PARTITION_MAX_SUB_DEVICES, sizeof(max_sub), &max_sub, NULL) !=
             CL_SUCCESS ||
         max_sub < 1))
        supported = 0;
    if (supported && req->how == PARTITION_NUMA) {
        cl_device_affinity_domain domains = 0;
        if (CL(clGetDeviceInfo)(parent->id, CL_DEVICE_PARTITION_AFFINITY_DOMAIN, sizeof(domains), &domains,
                                NULL) != CL_SUCCESS ||
            !(domains & CL_DEVICE_AFFINITY_DOMAIN_NUMA))
            supported = 0;
    }
    if (!supported) {
        OCL_LOG(ACCEL_LOG_WARN, "%s: no sub-devices %s; no partitions of it", name,
                req->how == PARTITION_EQUALLY ? "of equal compute units" : "by NUMA domain");
        return 0;
    }
    if (req->how == PARTITION_EQUALLY) {
        cl_uint units = 0;
        CL(clGetDeviceInfo)(parent->id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units), &units, NULL);
        if (req->units > units) {
            OCL_LOG(ACCEL_LOG_WARN, "%s: %u compute units, fewer than the %u asked for each partition; no partitions of it",
                    name, units, req->units);
            return 0;
        }
    }
    return 1;
}

/* Append the sub-devices of drv->devices[parent_index] (a root device)
 * asked for by req. A device that cannot be partitioned so is skipped
 * (logged); only running out of memory is an error. */
static accel_result add_partitions(ocl_driver *drv, uint32_t parent_index, const partition_request *req)
{
    if (!can_partition(&drv->devices[parent_index], req))
        return ACCEL_SUCCESS;
    cl_device_id parent_id = drv->devices[parent_index].id;
    cl_platform_id platform = drv->devices[parent_index].platform;
    cl_device_partition_property props[3] = {0, 0, 0};
    if (req->how == PARTITION_EQUALLY) {
        props[0] = CL_DEVICE_PARTITION_EQUALLY;
        props[1] = (cl_device_partition_property)req->units;
    } else {
        props[0] = CL_DEVICE_PARTITION_BY_AFFINITY_DOMAIN;
        props[1] = (cl_device_partition_property)CL_DEVICE_AFFINITY_DOMAIN_NUMA;
    }
    cl_uint n = 0;
    cl_int err = CL(clCreateSubDevices)(parent_id, props, 0, NULL, &n);
    if (err != CL_SUCCESS || n == 0) {
        OCL_LOG(ACCEL_LOG_WARN, "%s: clCreateSubDevices failed (%d); no partitions of it",
                drv->devices[parent_index].info.name, err);
        return ACCEL_SUCCESS;
    }
    cl_device_id *ids = calloc(n, sizeof(*ids));
    if (!ids) {
        OCL_LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if ((err = CL(clCreateSubDevices)(parent_id, props, n, ids, &n)) != CL_SUCCESS) {
        OCL_LOG(ACCEL_LOG_WARN, "%s: clCreateSubDevices failed (%d); no partitions of it",
                drv->devices[parent_index].info.name, err);
        free(ids);
        return ACCEL_SUCCESS;
    }
    ocl_device *grown = realloc(drv->devices, (drv->count + n) * sizeof(*grown));
    if (!grown) {
        for (cl_uint k = 0; k < n; k++)
            CL(clReleaseDevice)(ids[k]);
        free(ids);
        OCL_LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    drv->devices = grown;
    const ocl_device *parent = &drv->devices[parent_index];
    char pname[128];
    platform_string(platform, CL_PLATFORM_NAME, pname, sizeof(pname));
    for (cl_uint k = 0; k < n; k++) {
        ocl_device *dev = &drv->devices[drv->count];
        memset(dev, 0, sizeof(*dev));
        dev->platform = platform;
        dev->id = ids[k];
        dev->sub_device = 1;
        describe_device(dev, pname, k);
        accel_icd_device_info *info = &dev->info;
        /* What OpenCL says of the sub-device: its compute units (not which
         * ones), and for NUMA, the domain's place among the parent's. */
        if (req->how == PARTITION_EQUALLY) {
            cl_uint units = 0;
            CL(clGetDeviceInfo)(ids[k], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units), &units, NULL);
            snprintf(info->partition, sizeof(info->partition), "part %u of %u, %u compute unit%s", k + 1, n, units,
                     units == 1 ? "" : "s");
        } else {
            snprintf(info->partition, sizeof(info->partition), "numa domain %u", k);
        }
        /* "<parent name> (<partition>)", the parent's name shortened if
         * both do not fit. */
        size_t tail = strlen(info->partition) + 3;
        int keep = (int)strnlen(parent->info.name, sizeof(info->name) - 1 - tail);
        snprintf(info->name, sizeof(info->name), "%.*s (%s)", keep, parent->info.name, info->partition);
        partition_uuid(parent->info.uuid, info->partition, info->uuid);
        info->parent_index = (int32_t)parent_index;
        info->flags |= ACCEL_DEVICE_FLAG_PARTITION;
        /* OpenCL does not name the NUMA node. */
        info->numa_node = -1;
        OCL_LOG(ACCEL_LOG_DEBUG, "partition %s of device %u", info->name, parent_index);
        drv->count++;
    }
    free(ids);
    return ACCEL_SUCCESS;
}

static void ocl_fini(void *handle);

static accel_icd_result ocl_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    ocl_driver *drv = calloc(1, sizeof(*drv));
    if (!drv) {
        OCL_LOG(ACCEL_LOG_ERROR, "out of memory");
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    *handle = drv;
    ocl_users++;
    if (load_opencl() != 0)
        return ACCEL_SUCCESS;

    cl_uint n = 0;
    cl_int err = CL(clGetPlatformIDs)(0, NULL, &n);
    if (err != CL_SUCCESS || n == 0) {
        /* -1001 is CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no
         * platform (no loadable .icd file in /etc/OpenCL/vendors). */
        OCL_LOG(ACCEL_LOG_INFO, "no OpenCL platform (clGetPlatformIDs: %d); no devices", err);
        return ACCEL_SUCCESS;
    }
    cl_platform_id *platforms = calloc(n, sizeof(*platforms));
    if (!platforms) {
        OCL_LOG(ACCEL_LOG_ERROR, "out of memory");
        ocl_fini(drv);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    if ((err = CL(clGetPlatformIDs)(n, platforms, &n)) != CL_SUCCESS) {
        OCL_LOG(ACCEL_LOG_INFO, "clGetPlatformIDs failed (%d); no devices", err);
        n = 0;
    }
    for (cl_uint i = 0; i < n; i++) {
        accel_result r = add_platform(drv, platforms[i]);
        if (r != ACCEL_SUCCESS) {
            free(platforms);
            ocl_fini(drv);
            return r;
        }
    }
    free(platforms);
    uint32_t roots = drv->count;
    partition_request req;
    if (partitions_from_env(&req) && req.how != PARTITION_NONE) {
        for (uint32_t i = 0; i < roots; i++) {
            accel_result r = add_partitions(drv, i, &req);
            if (r != ACCEL_SUCCESS) {
                ocl_fini(drv);
                return r;
            }
        }
    }
    /* Last: the array no longer moves. */
    for (uint32_t i = 0; i < drv->count; i++)
        pthread_mutex_init(&drv->devices[i].lock, NULL);
    drv->locks_ready = 1;
    OCL_LOG(ACCEL_LOG_DEBUG, "%u OpenCL platform(s), %u device(s), %u of them partitions", n, drv->count,
            drv->count - roots);
    return ACCEL_SUCCESS;
}

static void ocl_fini(void *handle)
{
    ocl_driver *drv = handle;
    for (uint32_t i = 0; i < drv->count; i++) {
        ocl_device *dev = &drv->devices[i];
        ocl__device_release(dev);
        if (dev->sub_device)
            CL(clReleaseDevice)(dev->id);
        if (drv->locks_ready)
            pthread_mutex_destroy(&dev->lock);
    }
    free(drv->devices);
    free(drv);
    if (--ocl_users == 0 && ocl__cl.lib) {
        dlclose(ocl__cl.lib);
        memset(&ocl__cl, 0, sizeof(ocl__cl));
    }
}

static void *device_at(void *handle, uint32_t i)
{
    return &((ocl_driver *)handle)->devices[i];
}

static accel_icd_result ocl_enumerate(void *handle, uint32_t *count, void **devices)
{
    return accel_query_enumerate(handle, ((const ocl_driver *)handle)->count, device_at, count, devices);
}

static accel_icd_result ocl_get_info(void *device, accel_icd_device_info *info)
{
    const ocl_device *dev = device;
    accel_query_copy_device_info(&dev->info, info);
    return ACCEL_SUCCESS;
}

/* The OpenCL implementation and its version, as clinfo shows them: the
 * platform-specific part of CL_PLATFORM_VERSION ("OpenCL 3.0 PoCL 3.1+debian
 * Linux, ..." gives "PoCL 3.1+debian", "OpenCL 3.0 CUDA 12.2.138" gives
 * "CUDA 12.2.138"), else CL_PLATFORM_NAME and CL_DRIVER_VERSION. */
static void runtime_version(const ocl_device *dev, char *buf, size_t size)
{
    char version[256], name[128], driver[128];
    unsigned major, minor;
    int used = 0;
    platform_string(dev->platform, CL_PLATFORM_VERSION, version, sizeof(version));
    buf[0] = '\0';
    if (sscanf(version, "OpenCL %u.%u %n", &major, &minor, &used) == 2 && used > 0 && version[used]) {
        /* Two words: the implementation's name and its version. */
        const char *p = version + used;
        size_t n = strcspn(p, " ");
        if (p[n] == ' ' && p[n + 1] && p[n + 1] != ' ')
            n += 1 + strcspn(p + n + 1, " ");
        snprintf(buf, size, "%.*s", (int)n, p);
        return;
    }
    platform_string(dev->platform, CL_PLATFORM_NAME, name, sizeof(name));
    device_string(dev->id, CL_DRIVER_VERSION, driver, sizeof(driver));
    if (name[0])
        snprintf(buf, size, "%s%s%s", name, driver[0] ? " " : "", driver);
}

static accel_icd_result ocl_query(void *device, accel_device_param param, void *value, size_t size,
                                  size_t *size_ret)
{
    const ocl_device *dev = device;
    switch (param) {
    case ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES: {
        /* Live: a device OpenCL reports unavailable offers no queues. */
        cl_bool available = CL_TRUE;
        if (value && CL(clGetDeviceInfo)(dev->id, CL_DEVICE_AVAILABLE, sizeof(available), &available, NULL) !=
                         CL_SUCCESS)
            available = CL_FALSE;
        return accel_query_put_u32(available == CL_TRUE ? dev->info.available_instances : 0, value, size,
                                   size_ret);
    }
    case ACCEL_DEVICE_PARAM_PROGRAM_FORMATS:
        return accel_query_put_u32((1u << ACCEL_PROGRAM_FORMAT_OPENCL_C) |
                                       (dev->has_il ? 1u << ACCEL_PROGRAM_FORMAT_SPIRV : 0),
                                   value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MEMORY_SIZE:
    case ACCEL_DEVICE_PARAM_MAX_ALLOCATION: {
        cl_ulong v = 0;
        if (value &&
            CL(clGetDeviceInfo)(dev->id,
                                param == ACCEL_DEVICE_PARAM_MEMORY_SIZE ? CL_DEVICE_GLOBAL_MEM_SIZE
                                                                        : CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                                sizeof(v), &v, NULL) != CL_SUCCESS)
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_u64(v, value, size, size_ret);
    }
    case ACCEL_DEVICE_PARAM_RUNTIME_VERSION: {
        char buf[256];
        runtime_version(dev, buf, sizeof(buf));
        if (!buf[0])
            return ACCEL_ERROR_UNSUPPORTED;
        return accel_query_put_string(buf, sizeof(buf), value, size, size_ret);
    }
    /* Queues are the implementation's command queues, as many as it
     * makes; how deep they get is its business too (not reported). */
    case ACCEL_DEVICE_PARAM_MAX_QUEUES:
        return accel_query_put_u32(ACCEL_INSTANCES_UNLIMITED, value, size, size_ret);
    /* opencl_program.c refuses kernels with more. */
    case ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS:
        return accel_query_put_u32(ACCEL_MAX_ARGS, value, size, size_ret);
    /* A range of device memory at an offset becomes a sub-buffer, which
     * OpenCL allows only at CL_DEVICE_MEM_BASE_ADDR_ALIGN (opencl_submit.c);
     * attached host memory takes any offset. */
    case ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT:
        return accel_query_put_u64(dev->base_align, value, size, size_ret);
    default: return accel_query_device_info(&dev->info, param, value, size, size_ret);
    }
}

static const char *ocl_version(void *handle)
{
    (void)handle;
    return OCL_DRIVER_VERSION_STRING;
}

static const accel_icd_table ocl_table = {
    .struct_size = sizeof(accel_icd_table),
    /* The OpenCL implementation behind libOpenCL keeps threads running. */
    .flags = ACCEL_ICD_FLAG_NO_UNLOAD,
    .driver_init = ocl_init,
    .driver_fini = ocl_fini,
    .enumerate_devices = ocl_enumerate,
    .device_get_info = ocl_get_info,
    .device_query = ocl_query,
    .driver_version_string = ocl_version,
    .memory_attach = ocl__memory_attach,
    .memory_detach = ocl__memory_detach,
    .memory_alloc_device = ocl__memory_alloc_device,
    .memory_free_device = ocl__memory_free_device,
    .memory_write = ocl__memory_write,
    .memory_read = ocl__memory_read,
    .program_load = ocl__program_load,
    .program_release = ocl__program_release,
    .function_get = ocl__function_get,
    .function_release = ocl__function_release,
    .queue_create = ocl__queue_create,
    .queue_destroy = ocl__queue_destroy,
    .queue_submit = ocl__queue_submit,
    .fence_status = ocl__fence_status,
    .fence_wait = ocl__fence_wait,
    .fence_release = ocl__fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    return accel_icd_negotiate_answer(n, &ocl_table, &ocl__services);
}
