/* vk_program.c — SPIR-V programs and their functions.
 *
 * A program is a VkShaderModule plus the module's reflection
 * (spirv_reflect.h); a function is one GLCompute entry point of it with its
 * own pipeline. The signature comes from the module, so every entry point
 * of one program has the same arguments: the storage buffers of set 0
 * (bindings 0..N-1, the memory arguments) followed by the push-constant
 * members in offset order (the scalar arguments). Only
 * ACCEL_PROGRAM_FORMAT_SPIRV is accepted; options are ignored.
 */
#include "vk_internal.h"
#include "accel_icd_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct vk_program {
    vk_device *dev;
    VkShaderModule module;
    spv_reflection refl;
} vk_program;

accel_result vk_make_layouts(vk_device *dev, uint32_t bindings, const VkDescriptorType *types, uint32_t push_size,
                             VkDescriptorSetLayout *set, VkPipelineLayout *layout)
{
    const vk_fns *vk = vk_fn(dev);
    VkDescriptorSetLayoutBinding b[ACCEL_MAX_ARGS + 2];
    if (bindings > ACCEL_MAX_ARGS + 2)
        return ACCEL_ERROR_UNSUPPORTED;
    for (uint32_t i = 0; i < bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){i, types ? types[i] : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                                              VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dci.bindingCount = bindings;
    dci.pBindings = b;
    VkResult vr = vk->vkCreateDescriptorSetLayout(dev->device, &dci, NULL, set);
    if (vr != VK_SUCCESS)
        return vk_to_accel(vr);
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, (push_size + 3) & ~3u};
    VkPipelineLayoutCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pci.setLayoutCount = 1;
    pci.pSetLayouts = set;
    pci.pushConstantRangeCount = push_size ? 1 : 0;
    pci.pPushConstantRanges = &range;
    vr = vk->vkCreatePipelineLayout(dev->device, &pci, NULL, layout);
    if (vr != VK_SUCCESS) {
        vk->vkDestroyDescriptorSetLayout(dev->device, *set, NULL);
        *set = VK_NULL_HANDLE;
        return vk_to_accel(vr);
    }
    return ACCEL_SUCCESS;
}

static accel_result make_pipeline_from_module(vk_device *dev, VkShaderModule module, const char *entry,
                                              VkPipelineLayout layout, VkPipeline *pipeline)
{
    VkComputePipelineCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
    cci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cci.stage.module = module;
    cci.stage.pName = entry;
    cci.layout = layout;
    VkResult vr = vk_fn(dev)->vkCreateComputePipelines(dev->device, VK_NULL_HANDLE, 1, &cci, NULL, pipeline);
    if (vr != VK_SUCCESS) {
        VK_LOG(ACCEL_LOG_WARN, "%s: vkCreateComputePipelines(%s) failed: %s", dev->info.name, entry,
               vk_result_name(vr));
        return vr == VK_ERROR_OUT_OF_HOST_MEMORY || vr == VK_ERROR_OUT_OF_DEVICE_MEMORY ? vk_to_accel(vr)
                                                                                       : ACCEL_ERROR_INVALID_ARGUMENT;
    }
    return ACCEL_SUCCESS;
}

accel_result vk_make_pipeline(vk_device *dev, const uint32_t *code, size_t size, const char *entry,
                              VkPipelineLayout layout, VkPipeline *pipeline)
{
    const vk_fns *vk = vk_fn(dev);
    VkShaderModuleCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sci.codeSize = size;
    sci.pCode = code;
    VkShaderModule module;
    VkResult vr = vk->vkCreateShaderModule(dev->device, &sci, NULL, &module);
    if (vr != VK_SUCCESS)
        return vk_to_accel(vr);
    accel_result res = make_pipeline_from_module(dev, module, entry, layout, pipeline);
    vk->vkDestroyShaderModule(dev->device, module, NULL);
    return res;
}

void vk_function_destroy(vk_function *fn)
{
    if (!fn)
        return;
    vk_device *dev = fn->dev;
    const vk_fns *vk = vk_fn(dev);
    for (uint32_t i = 0; i < VK_MAX_PASSES; i++)
        if (fn->pipelines[i])
            vk->vkDestroyPipeline(dev->device, fn->pipelines[i], NULL);
    if (fn->layout)
        vk->vkDestroyPipelineLayout(dev->device, fn->layout, NULL);
    if (fn->set_layout)
        vk->vkDestroyDescriptorSetLayout(dev->device, fn->set_layout, NULL);
    free(fn);
}

accel_icd_result vk_program_load(void *device, accel_program_format format, const void *data, size_t size,
                                 const char *options, void **program, char *log, size_t log_size)
{
    (void)options;
    vk_device *dev = device;
    if (log && log_size)
        log[0] = '\0';
    if (format != ACCEL_PROGRAM_FORMAT_SPIRV) {
        if (log && log_size)
            snprintf(log, log_size, "the vulkan driver loads SPIR-V compute modules only");
        return ACCEL_ERROR_UNSUPPORTED;
    }
    accel_result res = device_ready(dev);
    if (res)
        return res;
    vk_program *p = calloc(1, sizeof(*p));
    if (!p)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    char msg[256];
    res = spv_reflect(data, size, &p->refl, msg, sizeof(msg));
    if (res) {
        if (log && log_size)
            snprintf(log, log_size, "SPIR-V: %s", msg);
        VK_LOG(ACCEL_LOG_INFO, "%s: program rejected: %s", dev->info.name, msg);
        free(p);
        return res == ACCEL_ERROR_OUT_OF_HOST_MEMORY ? res : ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (p->refl.push_size > dev->limits.maxPushConstantsSize || p->refl.push_size > VK_MAX_PUSH_SIZE) {
        if (log && log_size)
            snprintf(log, log_size, "SPIR-V: %u bytes of push constants, the device has %u", p->refl.push_size,
                     dev->limits.maxPushConstantsSize);
        free(p);
        return ACCEL_ERROR_UNSUPPORTED;
    }
    /* The reader has checked the words it reads; the copy keeps the words
     * aligned for Vulkan whatever the caller's buffer is. */
    uint32_t *words = malloc(size);
    if (!words) {
        free(p);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    memcpy(words, data, size);
    VkShaderModuleCreateInfo sci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    sci.codeSize = size;
    sci.pCode = words;
    VkResult vr = vk_fn(dev)->vkCreateShaderModule(dev->device, &sci, NULL, &p->module);
    free(words);
    if (vr != VK_SUCCESS) {
        if (log && log_size)
            snprintf(log, log_size, "vkCreateShaderModule: %s", vk_result_name(vr));
        free(p);
        return vr == VK_ERROR_OUT_OF_HOST_MEMORY ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_ERROR_INVALID_ARGUMENT;
    }
    p->dev = dev;
    *program = p;
    return ACCEL_SUCCESS;
}

void vk_program_release(void *program)
{
    vk_program *p = program;
    if (!p)
        return;
    vk_fn(p->dev)->vkDestroyShaderModule(p->dev->device, p->module, NULL);
    free(p);
}

static void fill_info(const vk_function *fn, accel_icd_function_info *info)
{
    if (!info)
        return;
    accel_icd_function_info out = {.arg_count = fn->arg_count};
    memcpy(out.arg_kinds, fn->arg_kinds, sizeof(out.arg_kinds));
    accel_query_copy_function_info(&out, info);
}

accel_icd_result vk_function_get(void *device, void *program, const char *name, void **function,
                                 accel_icd_function_info *info)
{
    vk_device *dev = device;
    if (!name)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result res = device_ready(dev);
    if (res)
        return res;
    vk_function *fn;
    if (!program) {
        if ((res = vk_builtin_get(dev, name, &fn)))
            return res;
        fill_info(fn, info);
        *function = fn;
        return ACCEL_SUCCESS;
    }
    vk_program *p = program;
    const spv_entry_point *e = spv_find_entry(&p->refl, name);
    if (!e)
        return ACCEL_ERROR_NOT_FOUND;
    fn = calloc(1, sizeof(*fn));
    if (!fn)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    fn->dev = dev;
    fn->builtin = -1;
    fn->pass_count = 1;
    fn->binding_count = p->refl.buffer_count;
    memcpy(fn->local_size, e->local_size, sizeof(fn->local_size));
    fn->arg_count = p->refl.buffer_count + p->refl.scalar_count;
    for (uint32_t i = 0; i < p->refl.buffer_count; i++)
        fn->arg_kinds[i] = ACCEL_ARG_MEMORY;
    for (uint32_t i = 0; i < p->refl.scalar_count; i++) {
        fn->arg_kinds[p->refl.buffer_count + i] = p->refl.scalar_kinds[i];
        fn->push_offsets[p->refl.buffer_count + i] = p->refl.scalar_offsets[i];
    }
    fn->push_size = p->refl.push_size;
    if ((res = vk_make_layouts(dev, fn->binding_count, NULL, fn->push_size, &fn->set_layout, &fn->layout)) ||
        (res = make_pipeline_from_module(dev, p->module, e->name, fn->layout, &fn->pipelines[0]))) {
        vk_function_destroy(fn);
        return res;
    }
    fill_info(fn, info);
    *function = fn;
    return ACCEL_SUCCESS;
}

void vk_function_release(void *function)
{
    vk_function *fn = function;
    if (fn && fn->builtin < 0)
        vk_function_destroy(fn);
}
