/* vk_internal.h — shared by the vulkan driver's files.
 *
 * The driver reaches Vulkan only through libvulkan.so.1, opened at
 * driver_init; every entry point comes from vkGetInstanceProcAddr (the
 * library is never linked, so the driver loads where Vulkan is absent and
 * then simply has no devices).
 *
 * Objects, each owned by the one above it:
 *   vk_driver   the VkInstance and the function pointers;
 *   vk_device   one physical device with a compute queue family; its
 *               VkDevice, VkQueue and built-in pipelines are created on
 *               first use (device_ready), so enumeration stays cheap;
 *   vk_memory   a VkBuffer over imported host memory or a mapped
 *               host-visible allocation;
 *   vk_function a compute pipeline and its layout (user or built-in);
 *   vk_queue    an accel queue: a command pool and recycled submissions
 *               (vk_fence) over the device's one shared VkQueue.
 */
#ifndef ACCEL_VK_INTERNAL_H
#define ACCEL_VK_INTERNAL_H

#define VK_NO_PROTOTYPES
#include <accel/accel_icd.h>
#include <vulkan/vulkan.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "accel_icd_negotiate.h"
#include "spirv_reflect.h"

#define VK_DRIVER_VERSION_STRING "0.1.0"

/* Every Vulkan entry point the driver uses, X(name). */
#define VK_FUNCTIONS(X)                                                                                            \
    X(vkDestroyInstance)                                                                                           \
    X(vkEnumeratePhysicalDevices)                                                                                  \
    X(vkGetPhysicalDeviceProperties)                                                                               \
    X(vkGetPhysicalDeviceProperties2)                                                                              \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                                    \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                         \
    X(vkEnumerateDeviceExtensionProperties)                                                                        \
    X(vkCreateDevice)                                                                                              \
    X(vkDestroyDevice)                                                                                             \
    X(vkGetDeviceQueue)                                                                                            \
    X(vkDeviceWaitIdle)                                                                                            \
    X(vkCreateBuffer)                                                                                              \
    X(vkDestroyBuffer)                                                                                             \
    X(vkGetBufferMemoryRequirements)                                                                               \
    X(vkAllocateMemory)                                                                                            \
    X(vkFreeMemory)                                                                                                \
    X(vkBindBufferMemory)                                                                                          \
    X(vkMapMemory)                                                                                                 \
    X(vkUnmapMemory)                                                                                               \
    X(vkCreateShaderModule)                                                                                        \
    X(vkDestroyShaderModule)                                                                                       \
    X(vkCreateDescriptorSetLayout)                                                                                 \
    X(vkDestroyDescriptorSetLayout)                                                                                \
    X(vkCreatePipelineLayout)                                                                                      \
    X(vkDestroyPipelineLayout)                                                                                     \
    X(vkCreateComputePipelines)                                                                                    \
    X(vkDestroyPipeline)                                                                                           \
    X(vkCreateDescriptorPool)                                                                                      \
    X(vkDestroyDescriptorPool)                                                                                     \
    X(vkResetDescriptorPool)                                                                                       \
    X(vkAllocateDescriptorSets)                                                                                    \
    X(vkUpdateDescriptorSets)                                                                                      \
    X(vkCreateCommandPool)                                                                                         \
    X(vkDestroyCommandPool)                                                                                        \
    X(vkAllocateCommandBuffers)                                                                                    \
    X(vkFreeCommandBuffers)                                                                                        \
    X(vkBeginCommandBuffer)                                                                                        \
    X(vkEndCommandBuffer)                                                                                          \
    X(vkResetCommandBuffer)                                                                                        \
    X(vkCmdBindPipeline)                                                                                           \
    X(vkCmdBindDescriptorSets)                                                                                     \
    X(vkCmdPushConstants)                                                                                          \
    X(vkCmdDispatch)                                                                                               \
    X(vkCmdDispatchIndirect)                                                                                       \
    X(vkCmdPipelineBarrier)                                                                                        \
    X(vkCmdFillBuffer)                                                                                             \
    X(vkCreateBufferView)                                                                                          \
    X(vkDestroyBufferView)                                                                                         \
    X(vkCreateFence)                                                                                               \
    X(vkDestroyFence)                                                                                              \
    X(vkResetFences)                                                                                               \
    X(vkGetFenceStatus)                                                                                            \
    X(vkWaitForFences)                                                                                             \
    X(vkQueueSubmit)

typedef struct vk_fns {
#define VK_FN_MEMBER(name) PFN_##name name;
    VK_FUNCTIONS(VK_FN_MEMBER)
#undef VK_FN_MEMBER
    /* VK_EXT_external_memory_host; NULL when no device has it. */
    PFN_vkGetMemoryHostPointerPropertiesEXT vkGetMemoryHostPointerPropertiesEXT;
} vk_fns;

/* Built-in functions, in docs/standard-functions.md order. */
enum {
    VK_BUILTIN_NOOP,
    VK_BUILTIN_COPY,
    VK_BUILTIN_FILL,
    VK_BUILTIN_CRC32C,
    VK_BUILTIN_SHA256,
    VK_BUILTIN_DEFLATE,
    VK_BUILTIN_INFLATE,
    VK_BUILTIN_CRC32C_STREAM,
    VK_BUILTIN_SHA256_STREAM,
    VK_BUILTIN_INFLATE_STREAM,
    VK_BUILTIN_DEFLATE_STREAM,
    VK_BUILTIN_COUNT
};

#define VK_MAX_PASSES 8
/* pass_chunk of zlib.inflate: dispatches depend on both sizes (vk_queue.c). */
#define VK_CHUNK_INFLATE UINT32_MAX
/* pass_chunk of zlib.inflate.stream: the same, with a smaller share per
 * dispatch (shaders/inflate_stream.comp). */
#define VK_CHUNK_INFLATE_STREAM (UINT32_MAX - 1)
#define VK_CHUNK_INDIRECT(c) ((c) == VK_CHUNK_INFLATE || (c) == VK_CHUNK_INFLATE_STREAM)
/* Bytes of a submission's status binding: the status word and the scratch
 * state sequential built-ins carry between dispatches (inflate's is ~7 KiB). */
#define VK_STATUS_SIZE 8192
/* zlib.inflate's dispatches are indirect, from these 3 words of the status
 * binding: the driver sets them to 1 before the call, and the shader
 * (shaders/inflate.comp, State.groups) clears them once the stream is done,
 * so that the dispatches left over cost next to nothing. */
#define VK_INFLATE_GROUPS_WORD 2044
/* The most push-constant bytes a user function may use. */
#define VK_MAX_PUSH_SIZE 256
/* Push constants of the built-ins (shaders/common.glsl): 20 words. */
#define VK_BUILTIN_PUSH_WORDS 20
enum {
    VK_PUSH_OFF0,
    VK_PUSH_OFF1,
    VK_PUSH_OFF2,
    VK_PUSH_SIZE0,
    VK_PUSH_SIZE1,
    VK_PUSH_SIZE2,
    VK_PUSH_PATTERN,
    VK_PUSH_CHUNK,
    VK_PUSH_FIRST,
    VK_PUSH_COUNT,
    VK_PUSH_TOTAL,
    VK_PUSH_STEP,
    VK_PUSH_AUX0,
    VK_PUSH_AUX1,
    VK_PUSH_AUX2,
    VK_PUSH_AUX3,
    VK_PUSH_OFF3,
    VK_PUSH_SIZE3,
    VK_PUSH_SCALAR1, /* a second scalar argument (zlib.deflate.stream's final) */
    VK_PUSH_PAD,
};

typedef struct vk_device vk_device;
typedef struct vk_plan vk_plan;
typedef struct vk_recorder vk_recorder;

typedef struct vk_function {
    vk_device *dev;
    int builtin;                   /* VK_BUILTIN_*, or -1 for a user function */
    uint32_t pass_count;           /* pipelines run in order, with a barrier between */
    VkPipeline pipelines[VK_MAX_PASSES];
    bool pass_grid[VK_MAX_PASSES]; /* built-ins: grid-stride pass, else one workgroup */
    uint32_t pass_chunk[VK_MAX_PASSES]; /* built-ins: 0, bytes of argument 0 per dispatch, or VK_CHUNK_INFLATE */
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    uint32_t binding_count;        /* memory arguments, plus the status buffer for built-ins */
    uint32_t local_size[3];
    uint32_t arg_count;
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
    uint32_t push_offsets[ACCEL_MAX_ARGS]; /* scalar arguments: offset in the push constants */
    uint32_t push_size;
    /* Built-ins: memory arguments bound as R32_UINT storage texel buffers
     * (imageLoad/imageStore, which llvmpipe gathers and scatters for a
     * whole SIMD vector at once, where it reads storage buffers one lane
     * at a time), and the device's scratch buffer bound after the status
     * buffer. */
    bool texel;
    bool scratch;
    /* Built-ins whose dispatches depend on the arguments record them here
     * instead of running each pass once (vk_builtins.c). */
    void (*schedule)(vk_recorder *r, const vk_plan *p);
} vk_function;

/* What one submission binds and pushes, worked out before anything is
 * acquired so that a rejected call changes nothing. */
struct vk_plan {
    VkDescriptorBufferInfo buffers[ACCEL_MAX_ARGS + 2];
    uint32_t buffer_count;
    uint8_t push[VK_MAX_PUSH_SIZE];
    uint32_t groups[VK_MAX_PASSES][3];
    uint32_t dispatches[VK_MAX_PASSES]; /* chunked passes: one dispatch per chunk */
    /* Built-ins: each memory argument's offset inside its binding and its
     * size, in argument order, and the scalar argument (fill's pattern,
     * deflate's level with -1 already made 6). */
    uint32_t offs[4];
    uint32_t sizes[4];
    uint32_t scalar;
};

/* Records the dispatches of a built-in with a schedule: every dispatch
 * gets the 16 push-constant words in `push` as they are when it is
 * recorded, and a barrier orders it after the one before. */
struct vk_recorder {
    const vk_fns *vk;
    VkCommandBuffer cb;
    const vk_function *fn;
    VkDescriptorSet set;
    uint32_t push[VK_BUILTIN_PUSH_WORDS];
    uint32_t bound;    /* pass whose pipeline is bound, or UINT32_MAX */
    uint32_t recorded; /* dispatches so far */
};

struct vk_device {
    struct vk_driver *drv;
    VkPhysicalDevice phys;
    accel_icd_device_info info;
    uint32_t queue_family;
    bool has_host_import;          /* VK_EXT_external_memory_host */
    bool software;  /* VK_PHYSICAL_DEVICE_TYPE_CPU: a device that runs on the host (lavapipe) */
    VkDeviceSize host_import_alignment;
    VkPhysicalDeviceLimits limits;
    VkPhysicalDeviceMemoryProperties mem_props;
    uint32_t host_type;            /* a HOST_VISIBLE | HOST_COHERENT memory type */

    /* Created by device_ready(), under ready_lock. */
    pthread_mutex_t ready_lock;
    atomic_int ready;              /* 0 not yet, 1 ready, -1 failed */
    VkDevice device;
    VkQueue queue;
    pthread_mutex_t queue_lock;    /* the VkQueue is shared by every accel queue */
    vk_function *builtins[VK_BUILTIN_COUNT];
    /* Created with the first built-in that needs it (vk_builtins.c), under
     * ready_lock; one per device is enough because every submission runs
     * on the one VkQueue, after everything submitted before it. */
    VkBuffer scratch;
    VkDeviceMemory scratch_mem;
    VkBufferView scratch_view;
    atomic_bool lost;
};

typedef struct vk_driver {
    void *libvulkan;
    PFN_vkGetInstanceProcAddr get_proc;
    VkInstance instance;
    vk_fns vk;
    uint32_t device_count;
    vk_device *devices;
} vk_driver;

typedef struct vk_memory {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;        /* what the loader asked for */
    VkDeviceSize buffer_size; /* the VkBuffer's size: >= size, a multiple of 16, >= 16 */
    void *map;                /* device memory only: persistent host mapping */
    void *host;               /* where its bytes are on the host: the imported pointer or map */
    bool imported;
} vk_memory;

/* Logging through the loader's services. */
extern const accel_icd_loader_services *vk_services;
#define VK_LOG(level, ...) ACCEL_ICD_LOG(vk_services, (level), __VA_ARGS__)

const vk_fns *vk_fn(const vk_device *dev);
const char *vk_result_name(VkResult r);
/* A VkResult as an accel_result. */
accel_result vk_to_accel(VkResult r);
/* Create the VkDevice and queue on first use. */
accel_result device_ready(vk_device *dev);
/* A memory type among `bits` with all of `flags`, or UINT32_MAX. */
uint32_t vk_find_memory_type(const vk_device *dev, uint32_t bits, VkMemoryPropertyFlags flags);

/* vk_memory.c */
accel_icd_result vk_memory_attach(void *device, const accel_icd_memory_desc *desc, void **mem,
                                  accel_attach_mode *mode);
void vk_memory_detach(void *device, void *mem);
accel_icd_result vk_memory_alloc_device(void *device, uint64_t size, void **mem);
void vk_memory_free_device(void *device, void *mem);
accel_icd_result vk_memory_write(void *device, void *mem, uint64_t offset, const void *src, uint64_t size);
accel_icd_result vk_memory_read(void *device, void *mem, uint64_t offset, void *dst, uint64_t size);

/* vk_program.c */
accel_icd_result vk_program_load(void *device, accel_program_format format, const void *data, size_t size,
                                 const char *options, void **program, char *log, size_t log_size);
void vk_program_release(void *program);
accel_icd_result vk_function_get(void *device, void *program, const char *name, void **function,
                                 accel_icd_function_info *info);
void vk_function_release(void *function);
void vk_function_destroy(vk_function *fn);

/* vk_builtins.c */
accel_result vk_builtin_get(vk_device *dev, const char *name, vk_function **fn);
/* Destroy the device's built-ins and scratch buffer (device teardown). */
void vk_builtins_destroy(vk_device *dev);
/* Check the scalar argument of built-in `which` and normalize it into
 * p->scalar; ACCEL_ERROR_INVALID_ARGUMENT if the call must be refused. */
accel_result vk_builtin_scalar(int which, uint32_t value, vk_plan *p);
/* Check the arguments of built-in `which` that its shaders cannot (sizes
 * the result depends on, overlaps); ACCEL_ERROR_INVALID_ARGUMENT, logged
 * with the function and the argument at fault, if the call must be
 * refused. */
accel_result vk_builtin_check(const vk_device *dev, int which, const accel_icd_arg *args);
/* Create a pipeline for one pass: module words, entry "main". */
accel_result vk_make_pipeline(vk_device *dev, const uint32_t *code, size_t size, const char *entry,
                              VkPipelineLayout layout, VkPipeline *pipeline);
/* types: one per binding, or NULL for storage buffers only. */
accel_result vk_make_layouts(vk_device *dev, uint32_t bindings, const VkDescriptorType *types, uint32_t push_size,
                             VkDescriptorSetLayout *set, VkPipelineLayout *layout);

/* vk_queue.c */
accel_icd_result vk_queue_create(void *device, void **queue);
void vk_queue_destroy(void *queue);
accel_icd_result vk_queue_submit(void *queue, const accel_icd_submit *submit, void **fence);
accel_icd_result vk_fence_status(void *fence);
accel_icd_result vk_fence_wait(void *fence, uint64_t timeout_ns);
void vk_fence_release(void *fence);
/* One dispatch of pass `pass` (see vk_recorder). */
void vk_record_dispatch(vk_recorder *r, uint32_t pass, uint32_t groups);
/* vkCmdFillBuffer, ordered after the dispatches before it and before the
 * ones after it. */
void vk_record_fill(vk_recorder *r, VkBuffer buffer, VkDeviceSize offset, VkDeviceSize size, uint32_t value);

#endif
