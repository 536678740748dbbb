/* vk_memory.c — memory objects of the vulkan driver.
 *
 * memory_attach imports the loader's pages with VK_EXT_external_memory_host
 * (ZERO_COPY) when the device has the extension and the pointer and size
 * are multiples of minImportedHostPointerAlignment; otherwise it answers
 * ACCEL_ERROR_UNSUPPORTED and the loader stages through device memory.
 * Device memory is a VkBuffer on HOST_VISIBLE | HOST_COHERENT memory (every
 * Vulkan device has such a type), mapped once; memory_write and memory_read
 * are memcpy through that mapping. Buffers are at least 16 bytes and a
 * multiple of 16, so that a 0-byte range and the built-ins' word access
 * always have a valid binding.
 */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

static const VkBufferUsageFlags USAGE =
    VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;

static void destroy(vk_device *dev, vk_memory *m)
{
    const vk_fns *vk = vk_fn(dev);
    if (m->buffer)
        vk->vkDestroyBuffer(dev->device, m->buffer, NULL);
    if (m->map)
        vk->vkUnmapMemory(dev->device, m->memory);
    if (m->memory)
        vk->vkFreeMemory(dev->device, m->memory, NULL);
    free(m);
}

accel_icd_result vk_memory_attach(void *device, const accel_icd_memory_desc *desc, void **mem,
                                  accel_attach_mode *mode)
{
    vk_device *dev = device;
    if (!dev->has_host_import || !desc || !desc->host_ptr || desc->size == 0)
        return ACCEL_ERROR_UNSUPPORTED;
    VkDeviceSize align = dev->host_import_alignment;
    if (((uintptr_t)desc->host_ptr & (align - 1)) || (desc->size & (align - 1)))
        return ACCEL_ERROR_UNSUPPORTED;
    accel_result res = device_ready(dev);
    if (res)
        return res;
    const vk_fns *vk = vk_fn(dev);
    VkMemoryHostPointerPropertiesEXT hp = {.sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT};
    VkResult vr = vk->vkGetMemoryHostPointerPropertiesEXT(
        dev->device, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, desc->host_ptr, &hp);
    if (vr != VK_SUCCESS || !hp.memoryTypeBits) {
        VK_LOG(ACCEL_LOG_DEBUG, "%s: host pointer not importable (%s); staging", dev->info.name, vk_result_name(vr));
        return ACCEL_ERROR_UNSUPPORTED;
    }
    vk_memory *m = calloc(1, sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->imported = true;
    m->host = desc->host_ptr;
    m->size = m->buffer_size = desc->size;
    VkExternalMemoryBufferCreateInfo ext = {.sType = VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO};
    ext.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .pNext = &ext};
    bci.size = desc->size;
    bci.usage = USAGE;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    if ((vr = vk->vkCreateBuffer(dev->device, &bci, NULL, &m->buffer)) != VK_SUCCESS)
        goto fail;
    VkMemoryRequirements req;
    vk->vkGetBufferMemoryRequirements(dev->device, m->buffer, &req);
    uint32_t type = vk_find_memory_type(dev, req.memoryTypeBits & hp.memoryTypeBits, 0);
    if (type == UINT32_MAX || req.size > desc->size) {
        VK_LOG(ACCEL_LOG_DEBUG, "%s: no memory type fits an imported host pointer; staging", dev->info.name);
        destroy(dev, m);
        return ACCEL_ERROR_UNSUPPORTED;
    }
    VkImportMemoryHostPointerInfoEXT import = {.sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT};
    import.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
    import.pHostPointer = desc->host_ptr;
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &import};
    mai.allocationSize = desc->size;
    mai.memoryTypeIndex = type;
    if ((vr = vk->vkAllocateMemory(dev->device, &mai, NULL, &m->memory)) != VK_SUCCESS)
        goto fail;
    if ((vr = vk->vkBindBufferMemory(dev->device, m->buffer, m->memory, 0)) != VK_SUCCESS)
        goto fail;
    *mem = m;
    *mode = ACCEL_ATTACH_ZERO_COPY;
    return ACCEL_SUCCESS;
fail:
    VK_LOG(ACCEL_LOG_DEBUG, "%s: host-pointer import failed: %s; staging", dev->info.name, vk_result_name(vr));
    destroy(dev, m);
    return vr == VK_ERROR_OUT_OF_HOST_MEMORY ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_UNSUPPORTED;
}

void vk_memory_detach(void *device, void *mem)
{
    if (mem)
        destroy(device, mem);
}

accel_icd_result vk_memory_alloc_device(void *device, uint64_t size, void **mem)
{
    vk_device *dev = device;
    accel_result res = device_ready(dev);
    if (res)
        return res;
    if (dev->host_type == UINT32_MAX || size > UINT64_MAX - 32)
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    const vk_fns *vk = vk_fn(dev);
    vk_memory *m = calloc(1, sizeof(*m));
    if (!m)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    m->size = size;
    m->buffer_size = size < 16 ? 16 : (size + 15) & ~(uint64_t)15;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = m->buffer_size;
    bci.usage = USAGE;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkResult vr = vk->vkCreateBuffer(dev->device, &bci, NULL, &m->buffer);
    if (vr != VK_SUCCESS)
        goto fail;
    VkMemoryRequirements req;
    vk->vkGetBufferMemoryRequirements(dev->device, m->buffer, &req);
    uint32_t type = vk_find_memory_type(dev, req.memoryTypeBits,
                                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    if (type == UINT32_MAX) {
        vr = VK_ERROR_OUT_OF_DEVICE_MEMORY;
        goto fail;
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = type;
    if ((vr = vk->vkAllocateMemory(dev->device, &mai, NULL, &m->memory)) != VK_SUCCESS)
        goto fail;
    if ((vr = vk->vkBindBufferMemory(dev->device, m->buffer, m->memory, 0)) != VK_SUCCESS)
        goto fail;
    if ((vr = vk->vkMapMemory(dev->device, m->memory, 0, VK_WHOLE_SIZE, 0, &m->map)) != VK_SUCCESS) {
        m->map = NULL;
        goto fail;
    }
    memset(m->map, 0, m->buffer_size);
    m->host = m->map;
    *mem = m;
    return ACCEL_SUCCESS;
fail:
    VK_LOG(ACCEL_LOG_WARN, "%s: device memory of %llu bytes: %s", dev->info.name, (unsigned long long)size,
           vk_result_name(vr));
    destroy(dev, m);
    res = vk_to_accel(vr);
    return res == ACCEL_ERROR_DRIVER_INTERNAL ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : res;
}

void vk_memory_free_device(void *device, void *mem)
{
    if (mem)
        destroy(device, mem);
}

static accel_result check_range(const vk_memory *m, uint64_t offset, uint64_t size)
{
    if (!m || !m->map || offset > m->size || size > m->size - offset)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    return ACCEL_SUCCESS;
}

accel_icd_result vk_memory_write(void *device, void *mem, uint64_t offset, const void *src, uint64_t size)
{
    (void)device;
    vk_memory *m = mem;
    accel_result res = check_range(m, offset, size);
    if (res)
        return res;
    if (size)
        memcpy((char *)m->map + offset, src, size);
    return ACCEL_SUCCESS;
}

accel_icd_result vk_memory_read(void *device, void *mem, uint64_t offset, void *dst, uint64_t size)
{
    (void)device;
    const vk_memory *m = mem;
    accel_result res = check_range(m, offset, size);
    if (res)
        return res;
    if (size)
        memcpy(dst, (const char *)m->map + offset, size);
    return ACCEL_SUCCESS;
}
