/* vk_driver.c — the vulkan example driver: every Vulkan physical device
 * with a compute queue family, reached through the system's Vulkan loader.
 *
 * Startup: dlopen("libvulkan.so.1"), one VkInstance (API 1.1), and one
 * accel device per physical device that reports Vulkan 1.1 and a queue
 * family with VK_QUEUE_COMPUTE_BIT. No loader, no instance or no such
 * device is not an error: the driver then has zero devices and logs why.
 * The VkDevice of a device is created on first use (memory, program or
 * queue call), not here, so listing devices does not wake every GPU.
 *
 * Signature convention for user programs (SPIR-V compute modules), also
 * described in the driver's report and in vk_program.c:
 *   - memory arguments come first: storage buffers at descriptor set 0,
 *     bindings 0..N-1 in argument order; the range's offset and size become
 *     the descriptor's offset and range, so an offset must be a multiple of
 *     the device's minStorageBufferOffsetAlignment;
 *   - scalar arguments follow: the members of the push-constant block in
 *     offset order, each a 32- or 64-bit int or float (u32/i32/f32 aligned
 *     to 4, u64/i64/f64 to 8, as GLSL's std430 push_constant layout does);
 *   - work_size counts invocations: the driver dispatches
 *     ceil(work_size[i] / local_size[i]) workgroups; the kernel is not told
 *     the global size, so a kernel whose size is not a multiple of its
 *     local size takes the count as an explicit scalar argument and checks
 *     gl_GlobalInvocationID against it.
 */
#include "vk_internal.h"
#include "accel_icd_query.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const accel_icd_loader_services *vk_services;

const vk_fns *vk_fn(const vk_device *dev)
{
    return &dev->drv->vk;
}

const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return "VK_ERROR_INVALID_EXTERNAL_HANDLE";
    default: return "VkResult";
    }
}

accel_result vk_to_accel(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return ACCEL_SUCCESS;
    case VK_NOT_READY: return ACCEL_NOT_READY;
    case VK_TIMEOUT: return ACCEL_TIMEOUT;
    case VK_ERROR_OUT_OF_HOST_MEMORY: return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    case VK_ERROR_DEVICE_LOST: return ACCEL_ERROR_DEVICE_LOST;
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return ACCEL_ERROR_UNSUPPORTED;
    default: return ACCEL_ERROR_DRIVER_INTERNAL;
    }
}

uint32_t vk_find_memory_type(const vk_device *dev, uint32_t bits, VkMemoryPropertyFlags flags)
{
    for (uint32_t i = 0; i < dev->mem_props.memoryTypeCount && i < 32; i++)
        if ((bits & (1u << i)) && (dev->mem_props.memoryTypes[i].propertyFlags & flags) == flags)
            return i;
    return UINT32_MAX;
}

static const char *vendor_name(uint32_t id)
{
    switch (id) {
    case 0x1002: return "AMD";
    case 0x10de: return "NVIDIA";
    case 0x8086: return "Intel";
    case 0x13b5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x10005: return "Mesa";
    default: return NULL;
    }
}

static bool has_extension(const VkExtensionProperties *ext, uint32_t count, const char *name)
{
    for (uint32_t i = 0; i < count; i++)
        if (strcmp(ext[i].extensionName, name) == 0)
            return true;
    return false;
}

/* Fill dev from its physical device; false when it cannot serve (logged). */
static bool describe(vk_driver *drv, vk_device *dev, VkPhysicalDevice phys)
{
    const vk_fns *vk = &drv->vk;
    VkPhysicalDeviceProperties props;
    vk->vkGetPhysicalDeviceProperties(phys, &props);
    if (props.apiVersion < VK_API_VERSION_1_1) {
        VK_LOG(ACCEL_LOG_INFO, "skipping %s: Vulkan %u.%u, the driver needs 1.1", props.deviceName,
               VK_API_VERSION_MAJOR(props.apiVersion), VK_API_VERSION_MINOR(props.apiVersion));
        return false;
    }
    uint32_t nfam = 0;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(phys, &nfam, NULL);
    VkQueueFamilyProperties fam[64];
    if (nfam > 64)
        nfam = 64;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(phys, &nfam, fam);
    /* Prefer a compute family without graphics (an async compute queue). */
    uint32_t family = UINT32_MAX;
    for (uint32_t i = 0; i < nfam; i++) {
        if (!(fam[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || fam[i].queueCount == 0)
            continue;
        if (family == UINT32_MAX || !(fam[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
            family = i;
    }
    if (family == UINT32_MAX) {
        VK_LOG(ACCEL_LOG_INFO, "skipping %s: no compute queue family", props.deviceName);
        return false;
    }

    uint32_t next = 0;
    VkExtensionProperties *ext = NULL;
    if (vk->vkEnumerateDeviceExtensionProperties(phys, NULL, &next, NULL) == VK_SUCCESS && next) {
        ext = calloc(next, sizeof(*ext));
        if (!ext || vk->vkEnumerateDeviceExtensionProperties(phys, NULL, &next, ext) < 0)
            next = 0;
    }
    bool pci = has_extension(ext, next, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME);
    dev->has_host_import = has_extension(ext, next, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME) &&
                           vk->vkGetMemoryHostPointerPropertiesEXT;
    free(ext);

    VkPhysicalDevicePCIBusInfoPropertiesEXT pci_info = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT};
    VkPhysicalDeviceExternalMemoryHostPropertiesEXT host = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT};
    VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
    if (dev->has_host_import) {
        host.pNext = p2.pNext;
        p2.pNext = &host;
    }
    if (pci) {
        pci_info.pNext = p2.pNext;
        p2.pNext = &pci_info;
    }
    vk->vkGetPhysicalDeviceProperties2(phys, &p2);
    vk->vkGetPhysicalDeviceMemoryProperties(phys, &dev->mem_props);

    dev->drv = drv;
    dev->phys = phys;
    dev->queue_family = family;
    dev->limits = props.limits;
    dev->host_import_alignment = host.minImportedHostPointerAlignment;
    if (dev->has_host_import &&
        (!dev->host_import_alignment || (dev->host_import_alignment & (dev->host_import_alignment - 1))))
        dev->has_host_import = false;
    dev->host_type = vk_find_memory_type(dev, UINT32_MAX,
                                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);

    dev->software = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    accel_icd_device_info *info = &dev->info;
    info->struct_size = sizeof(*info);
    snprintf(info->name, sizeof(info->name), "%s", props.deviceName);
    info->kind = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? ACCEL_DEVICE_KIND_CPU
                 : props.deviceType == VK_PHYSICAL_DEVICE_TYPE_OTHER ? ACCEL_DEVICE_KIND_UNKNOWN
                                                                     : ACCEL_DEVICE_KIND_GPU;
    info->interface = ACCEL_DEVICE_INTERFACE_VULKAN;
    memcpy(info->uuid, id.deviceUUID, ACCEL_UUID_SIZE);
    const char *vendor = vendor_name(props.vendorID);
    if (vendor)
        snprintf(info->vendor, sizeof(info->vendor), "%s", vendor);
    else
        snprintf(info->vendor, sizeof(info->vendor), "Vulkan vendor 0x%04x", props.vendorID);
    info->vendor_id = props.vendorID;
    info->device_id = props.deviceID;
    if (pci)
        snprintf(info->bus_address, sizeof(info->bus_address), "%04x:%02x:%02x.%x", pci_info.pciDomain,
                 pci_info.pciBus, pci_info.pciDevice, pci_info.pciFunction);
    info->numa_node = -1;
    info->flags = 0;
    info->max_address_spaces = 0;
    info->available_instances = ACCEL_INSTANCES_UNLIMITED;
    info->parent_index = -1;
    info->driver_version = ACCEL_MAKE_VERSION(0, 1);

    pthread_mutex_init(&dev->ready_lock, NULL);
    pthread_mutex_init(&dev->queue_lock, NULL);
    VK_LOG(ACCEL_LOG_DEBUG, "device %s (%s), queue family %u, host-pointer import %s", info->name,
           info->bus_address[0] ? info->bus_address : "no bus address", family,
           dev->has_host_import ? "yes" : "no");
    return true;
}

accel_result device_ready(vk_device *dev)
{
    int state = atomic_load(&dev->ready);
    if (state)
        return state > 0 ? ACCEL_SUCCESS : ACCEL_ERROR_INITIALIZATION_FAILED;
    pthread_mutex_lock(&dev->ready_lock);
    accel_result res = ACCEL_SUCCESS;
    if (atomic_load(&dev->ready))
        goto out;
    const vk_fns *vk = vk_fn(dev);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = dev->queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    const char *exts[1];
    uint32_t next = 0;
    if (dev->has_host_import)
        exts[next++] = VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME;
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = next;
    dci.ppEnabledExtensionNames = exts;
    VkResult vr = vk->vkCreateDevice(dev->phys, &dci, NULL, &dev->device);
    if (vr != VK_SUCCESS) {
        VK_LOG(ACCEL_LOG_ERROR, "%s: vkCreateDevice failed: %s (%d)", dev->info.name, vk_result_name(vr), vr);
        atomic_store(&dev->ready, -1);
        res = ACCEL_ERROR_INITIALIZATION_FAILED;
        goto out;
    }
    vk->vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
    atomic_store(&dev->ready, 1);
out:
    if (!res && atomic_load(&dev->ready) < 0)
        res = ACCEL_ERROR_INITIALIZATION_FAILED;
    pthread_mutex_unlock(&dev->ready_lock);
    return res;
}

static void vk_fini(void *handle);

static accel_icd_result vk_init(const accel_icd_init_info *init, void **handle)
{
    (void)init;
    vk_driver *drv = calloc(1, sizeof(*drv));
    if (!drv)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    *handle = drv;
    drv->libvulkan = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!drv->libvulkan) {
        VK_LOG(ACCEL_LOG_INFO, "no Vulkan loader (%s): no devices", dlerror());
        return ACCEL_SUCCESS;
    }
    *(void **)&drv->get_proc = dlsym(drv->libvulkan, "vkGetInstanceProcAddr");
    if (!drv->get_proc) {
        VK_LOG(ACCEL_LOG_WARN, "libvulkan.so.1 has no vkGetInstanceProcAddr: no devices");
        return ACCEL_SUCCESS;
    }
    PFN_vkCreateInstance create = (PFN_vkCreateInstance)drv->get_proc(NULL, "vkCreateInstance");
    PFN_vkEnumerateInstanceVersion version =
        (PFN_vkEnumerateInstanceVersion)drv->get_proc(NULL, "vkEnumerateInstanceVersion");
    uint32_t api = VK_API_VERSION_1_0;
    if (version)
        version(&api);
    if (!create || api < VK_API_VERSION_1_1) {
        VK_LOG(ACCEL_LOG_INFO, "the Vulkan loader offers API %u.%u, the driver needs 1.1: no devices",
               VK_API_VERSION_MAJOR(api), VK_API_VERSION_MINOR(api));
        return ACCEL_SUCCESS;
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "accel-loader";
    app.pEngineName = "accel_vulkan";
    app.engineVersion = VK_MAKE_API_VERSION(0, 0, 1, 0);
    app.apiVersion = VK_API_VERSION_1_1;
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ici.pApplicationInfo = &app;
    VkResult vr = create(&ici, NULL, &drv->instance);
    if (vr != VK_SUCCESS) {
        VK_LOG(ACCEL_LOG_INFO, "vkCreateInstance failed: %s (%d): no devices", vk_result_name(vr), vr);
        drv->instance = VK_NULL_HANDLE;
        return ACCEL_SUCCESS;
    }
#define VK_FN_LOAD(name)                                                                                           \
    if (!(drv->vk.name = (PFN_##name)drv->get_proc(drv->instance, #name))) {                                       \
        VK_LOG(ACCEL_LOG_WARN, "the Vulkan loader lacks " #name ": no devices");                                  \
        return ACCEL_SUCCESS;                                                                                      \
    }
    VK_FUNCTIONS(VK_FN_LOAD)
#undef VK_FN_LOAD
    drv->vk.vkGetMemoryHostPointerPropertiesEXT = (PFN_vkGetMemoryHostPointerPropertiesEXT)drv->get_proc(
        drv->instance, "vkGetMemoryHostPointerPropertiesEXT");

    uint32_t nphys = 0;
    vr = drv->vk.vkEnumeratePhysicalDevices(drv->instance, &nphys, NULL);
    if (vr != VK_SUCCESS || nphys == 0) {
        VK_LOG(ACCEL_LOG_INFO, "no Vulkan physical devices (%s): no devices", vk_result_name(vr));
        return ACCEL_SUCCESS;
    }
    VkPhysicalDevice *phys = calloc(nphys, sizeof(*phys));
    drv->devices = calloc(nphys, sizeof(*drv->devices));
    if (!phys || !drv->devices) {
        free(phys);
        vk_fini(drv);
        *handle = NULL;
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    vr = drv->vk.vkEnumeratePhysicalDevices(drv->instance, &nphys, phys);
    if (vr < 0)
        nphys = 0;
    for (uint32_t i = 0; i < nphys; i++)
        if (describe(drv, &drv->devices[drv->device_count], phys[i]))
            drv->device_count++;
    free(phys);
    if (!drv->device_count)
        VK_LOG(ACCEL_LOG_INFO, "no Vulkan device with a compute queue: no devices");
    return ACCEL_SUCCESS;
}

static void vk_fini(void *handle)
{
    vk_driver *drv = handle;
    if (!drv)
        return;
    for (uint32_t i = 0; i < drv->device_count; i++) {
        vk_device *dev = &drv->devices[i];
        if (atomic_load(&dev->ready) > 0) {
            drv->vk.vkDeviceWaitIdle(dev->device);
            vk_builtins_destroy(dev);
            drv->vk.vkDestroyDevice(dev->device, NULL);
        }
        pthread_mutex_destroy(&dev->ready_lock);
        pthread_mutex_destroy(&dev->queue_lock);
    }
    free(drv->devices);
    if (drv->instance && drv->vk.vkDestroyInstance)
        drv->vk.vkDestroyInstance(drv->instance, NULL);
    if (drv->libvulkan)
        dlclose(drv->libvulkan);
    free(drv);
}

static void *device_at(void *handle, uint32_t i)
{
    return &((vk_driver *)handle)->devices[i];
}

static accel_icd_result vk_enumerate(void *handle, uint32_t *count, void **devices)
{
    return accel_query_enumerate(handle, ((const vk_driver *)handle)->device_count, device_at, count,
                                 devices);
}

static accel_icd_result vk_get_info(void *device, accel_icd_device_info *info)
{
    const vk_device *dev = device;
    accel_query_copy_device_info(&dev->info, info);
    return ACCEL_SUCCESS;
}

static accel_icd_result vk_query(void *device, accel_device_param param, void *value, size_t size, size_t *size_ret)
{
    const vk_device *dev = device;
    switch (param) {
    case ACCEL_DEVICE_PARAM_FLAGS:
        return accel_query_put_u32(dev->info.flags |
                                       (atomic_load(&dev->lost) ? ACCEL_DEVICE_FLAG_ISOLATED : 0),
                                   value, size, size_ret);
    case ACCEL_DEVICE_PARAM_PROGRAM_FORMATS:
        return accel_query_put_u32(1u << ACCEL_PROGRAM_FORMAT_SPIRV, value, size, size_ret);
    case ACCEL_DEVICE_PARAM_MEMORY_SIZE: {
        uint64_t total = 0;
        for (uint32_t i = 0; i < dev->mem_props.memoryHeapCount; i++)
            if (dev->mem_props.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
                total += dev->mem_props.memoryHeaps[i].size;
        return accel_query_put_u64(total, value, size, size_ret);
    }
    case ACCEL_DEVICE_PARAM_MAX_ALLOCATION: {
        VkPhysicalDeviceMaintenance3Properties m3 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &m3};
        if (value)
            vk_fn(dev)->vkGetPhysicalDeviceProperties2(dev->phys, &p2);
        return accel_query_put_u64(m3.maxMemoryAllocationSize, value, size, size_ret);
    }
    case ACCEL_DEVICE_PARAM_RUNTIME_VERSION: {
        /* The Vulkan driver's own name and version (driverInfo, e.g.
         * "Mesa 22.3.6 (LLVM 15.0.6)"); Vulkan 1.2's driver properties. */
        VkPhysicalDeviceDriverProperties dp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                          .pNext = &dp};
        VkPhysicalDeviceProperties props;
        vk_fn(dev)->vkGetPhysicalDeviceProperties(dev->phys, &props);
        if (props.apiVersion < VK_API_VERSION_1_2)
            return ACCEL_ERROR_UNSUPPORTED;
        vk_fn(dev)->vkGetPhysicalDeviceProperties2(dev->phys, &p2);
        const char *text = dp.driverInfo[0] ? dp.driverInfo : dp.driverName;
        return accel_query_put_string(text, VK_MAX_DRIVER_INFO_SIZE - 1, value, size, size_ret);
    }
    /* Every accel queue is a command pool on the device's one VkQueue
     * (vk_queue.c): no count of the driver's, and Vulkan tells no depth. */
    case ACCEL_DEVICE_PARAM_MAX_QUEUES:
        return accel_query_put_u32(ACCEL_INSTANCES_UNLIMITED, value, size, size_ret);
    /* spirv_reflect.c refuses modules with more bindings and push-constant
     * members together. */
    case ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS:
        return accel_query_put_u32(ACCEL_MAX_ARGS, value, size, size_ret);
    /* A memory argument's offset is its descriptor's (vk_queue.c refuses
     * others). */
    case ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT:
        return accel_query_put_u64(
            dev->limits.minStorageBufferOffsetAlignment ? dev->limits.minStorageBufferOffsetAlignment : 1,
            value, size, size_ret);
    default: return accel_query_device_info(&dev->info, param, value, size, size_ret);
    }
}

static const char *vk_version(void *handle)
{
    (void)handle;
    return VK_DRIVER_VERSION_STRING;
}

/*
 * Cost hints for the built-ins whose work is sequential here: sha256 and
 * the inflaters run in one invocation (one lane of the device), and on a
 * software device (lavapipe) the deflate passes too run on the host's
 * cores without the width a GPU gives them. The figures are what
 * `accel-run --calibrate` measured on lavapipe (Mesa 22.3, LLVM 15) for
 * a software device, and one lane's rate at GPU clocks for a GPU (0: no
 * hint there); a calibration replaces them. Other built-ins: no hint (the
 * loader's estimate for the device's kind).
 */
static accel_icd_result vk_function_estimate(void *device, void *function, const char *name, uint64_t bytes,
                                             accel_icd_function_estimate *estimate)
{
    (void)function;
    (void)bytes;
    vk_device *dev = device;
    if (!dev || !name || !estimate || estimate->struct_size < sizeof(*estimate))
        return ACCEL_ERROR_INVALID_ARGUMENT;
    static const struct {
        const char *name;
        uint64_t software_mbps, gpu_mbps;
    } hints[] = {
        {"sha256", 20, 60},
        {"sha256.stream", 20, 60},
        {"zlib.inflate", 8, 20},
        {"zlib.inflate.stream", 1, 3},
        {"zlib.deflate", 1, 0},
        {"zlib.deflate.stream", 1, 0},
        /* A software device's memory passes, through storage texel buffers. */
        {"crc32c", 500, 0},
        {"crc32c.stream", 500, 0},
        {"accel.copy", 150, 0},
        {"accel.fill", 500, 0},
    };
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        if (strcmp(hints[i].name, name) != 0 || (!dev->software && !hints[i].gpu_mbps))
            continue;
        estimate->fixed_ns = dev->software ? 300000 : 20000;
        estimate->bytes_per_second = (dev->software ? hints[i].software_mbps : hints[i].gpu_mbps) * 1000000u;
        return ACCEL_SUCCESS;
    }
    return ACCEL_ERROR_UNSUPPORTED;
}

static const accel_icd_table vk_table = {
    .struct_size = sizeof(accel_icd_table),
    .flags = 0,
    .driver_init = vk_init,
    .driver_fini = vk_fini,
    .enumerate_devices = vk_enumerate,
    .device_get_info = vk_get_info,
    .device_query = vk_query,
    .driver_version_string = vk_version,
    .memory_attach = vk_memory_attach,
    .memory_detach = vk_memory_detach,
    .memory_alloc_device = vk_memory_alloc_device,
    .memory_free_device = vk_memory_free_device,
    .memory_write = vk_memory_write,
    .memory_read = vk_memory_read,
    .program_load = vk_program_load,
    .program_release = vk_program_release,
    .function_get = vk_function_get,
    .function_release = vk_function_release,
    .function_estimate = vk_function_estimate,
    .queue_create = vk_queue_create,
    .queue_destroy = vk_queue_destroy,
    .queue_submit = vk_queue_submit,
    .fence_status = vk_fence_status,
    .fence_wait = vk_fence_wait,
    .fence_release = vk_fence_release,
};

ACCEL_ICD_EXPORT accel_icd_result accel_icd_negotiate(accel_icd_negotiation *n)
{
    return accel_icd_negotiate_answer(n, &vk_table, &vk_services);
}
