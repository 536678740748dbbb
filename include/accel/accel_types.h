/*
 * accel_types.h — definitions shared by applications (accel.h) and drivers
 * (accel_icd.h): result codes, version encoding, device kinds, log levels.
 *
 * Do not include this file directly; include accel/accel.h or
 * accel/accel_icd.h. Everything here is part of both stable ABIs: values
 * never change meaning, new values are only appended.
 */
#ifndef ACCEL_TYPES_H
#define ACCEL_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Versions are encoded major << 16 | minor (both 16 bits). */
#define ACCEL_MAKE_VERSION(major, minor) ((((uint32_t)(major)) << 16) | ((uint32_t)(minor) & 0xffffu))
#define ACCEL_VERSION_MAJOR(v) ((uint32_t)(v) >> 16)
#define ACCEL_VERSION_MINOR(v) ((uint32_t)(v) & 0xffffu)

/*
 * Result codes. ACCEL_SUCCESS is 0, informational statuses are positive,
 * errors are negative. The list is an X-macro so that the enum and
 * accel_result_string() can never disagree: X(NAME, value, description).
 */
#define ACCEL_RESULT_MAP(X)                                                                     \
    X(SUCCESS, 0, "success")                                                                    \
    X(INCOMPLETE, 1, "the output array was too small; the count was set to what fits")          \
    X(NOT_READY, 2, "the operation has not completed yet")                                      \
    X(TIMEOUT, 3, "the wait timed out")                                                         \
    X(ERROR_INVALID_ARGUMENT, -1, "invalid argument")                                           \
    X(ERROR_OUT_OF_HOST_MEMORY, -2, "out of host memory")                                       \
    X(ERROR_OUT_OF_DEVICE_MEMORY, -3, "out of device memory")                                   \
    X(ERROR_INITIALIZATION_FAILED, -4, "initialization failed")                                 \
    X(ERROR_INVALID_SELECTOR, -5, "invalid device or driver selector")                          \
    X(ERROR_INVALID_MANIFEST, -6, "invalid driver manifest")                                    \
    X(ERROR_INCOMPATIBLE_DRIVER, -7, "incompatible driver interface version")                   \
    X(ERROR_DRIVER_LOAD_FAILED, -8, "the driver library could not be loaded")                   \
    X(ERROR_NOT_FOUND, -9, "not found")                                                         \
    X(ERROR_UNSUPPORTED, -10, "not supported by this driver or device")                         \
    X(ERROR_DEVICE_LOST, -11, "the device was lost")                                            \
    X(ERROR_IO, -12, "input/output error")                                                      \
    X(ERROR_DRIVER_INTERNAL, -13, "the driver reported an internal error")                      \
    X(ERROR_INVALID_HANDLE, -14, "invalid handle")                                             \
    X(ERROR_BUSY, -15, "the device has no free instance, or the resource is in use")             \
    X(ERROR_INFEASIBLE, -16, "no placement satisfies the constraints")                          \
    X(ERROR_CANCELED, -17, "the operation was cancelled")

typedef enum accel_result {
#define ACCEL__RESULT_ENUM(name, value, text) ACCEL_##name = (value),
    ACCEL_RESULT_MAP(ACCEL__RESULT_ENUM)
#undef ACCEL__RESULT_ENUM
    ACCEL_RESULT_MAX_ENUM = 0x7fffffff
} accel_result;

/* What a device is. Values are stable; new kinds are appended. */
typedef enum accel_device_kind {
    ACCEL_DEVICE_KIND_UNKNOWN = 0,
    ACCEL_DEVICE_KIND_CPU = 1,
    ACCEL_DEVICE_KIND_GPU = 2,
    ACCEL_DEVICE_KIND_FPGA = 3,
    ACCEL_DEVICE_KIND_ASIC = 4,
    ACCEL_DEVICE_KIND_NETWORK = 5, /* a network adapter (Ethernet, InfiniBand, OpenFabrics) */
    ACCEL_DEVICE_KIND_MAX_ENUM = 0x7fffffff
} accel_device_kind;

/* Through which native interface a driver reaches the device. */
typedef enum accel_device_interface {
    ACCEL_DEVICE_INTERFACE_UNKNOWN = 0,
    ACCEL_DEVICE_INTERFACE_NATIVE = 1,
    ACCEL_DEVICE_INTERFACE_OPENCL = 2,
    ACCEL_DEVICE_INTERFACE_VULKAN = 3,
    ACCEL_DEVICE_INTERFACE_UACCE = 4,
    ACCEL_DEVICE_INTERFACE_CUDA = 5,
    ACCEL_DEVICE_INTERFACE_FPGA = 6,
    ACCEL_DEVICE_INTERFACE_MAX_ENUM = 0x7fffffff
} accel_device_interface;

/* Log categories; also the bits of ACCEL_LOADER_DEBUG and of log masks. */
typedef enum accel_log_level {
    ACCEL_LOG_ERROR = 1u << 0,
    ACCEL_LOG_WARN = 1u << 1,
    ACCEL_LOG_INFO = 1u << 2,
    ACCEL_LOG_DEBUG = 1u << 3,
    ACCEL_LOG_DRIVER = 1u << 4, /* messages written by drivers */
    ACCEL_LOG_ALL = 0x1f,
    ACCEL_LOG_MAX_ENUM = 0x7fffffff
} accel_log_level;

#define ACCEL_UUID_SIZE 16

/* available_instances value of a device whose queues are limited only by memory. */
#define ACCEL_INSTANCES_UNLIMITED 0xffffffffu

/* Device flags (accel_device_info.flags, accel_icd_device_info.flags). */
#define ACCEL_DEVICE_FLAG_SVA (1u << 0)       /* shares the process address space (PASID/SVA) */
#define ACCEL_DEVICE_FLAG_PARTITION (1u << 1) /* carved out of a parent device */
#define ACCEL_DEVICE_FLAG_ISOLATED (1u << 2)  /* isolated after errors; not usable */
#define ACCEL_DEVICE_FLAG_EMULATED (1u << 3)  /* an emulator does its work on the host's CPUs,
                                               which it shares with the cpu devices */

/*
 * Device parameters for accel_device_query() and the driver's device_query
 * entry. These are *live* values: the loader never caches them.
 * Each names the type of its value.
 */
typedef enum accel_device_param {
    ACCEL_DEVICE_PARAM_KIND = 1,                /* uint32_t, an accel_device_kind */
    ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES = 2, /* uint32_t */
    ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES = 3,  /* uint32_t, 0 = unlimited */
    ACCEL_DEVICE_PARAM_FLAGS = 4,               /* uint32_t, ACCEL_DEVICE_FLAG_* */
    ACCEL_DEVICE_PARAM_NUMA_NODE = 5,           /* int32_t, -1 = none or several */
    ACCEL_DEVICE_PARAM_RECONFIGURE_NS = 6,      /* uint64_t, estimated time to load a new
                                                   program (FPGA image) into the device;
                                                   ACCEL_ERROR_UNSUPPORTED if not reconfigurable */
    ACCEL_DEVICE_PARAM_PROGRAM_FORMATS = 7,     /* uint32_t, bit (1u << f) for each
                                                   accel_program_format f the device loads */
    ACCEL_DEVICE_PARAM_MEMORY_SIZE = 8,         /* uint64_t, bytes of memory the device's
                                                   runtime reports for it */
    ACCEL_DEVICE_PARAM_MAX_ALLOCATION = 9,      /* uint64_t, bytes of the largest single
                                                   allocation */
    ACCEL_DEVICE_PARAM_RUNTIME_VERSION = 10,    /* NUL-terminated string: the runtime a bridge
                                                   driver runs on and its version, e.g.
                                                   "PoCL 3.1" or "Mesa 22.3.6" */
    /* Limits a driver enforces (docs/writing-a-driver.md, "Limits"). A
     * driver that sets none it knows of, or that does not know the
     * runtime's, answers ACCEL_ERROR_UNSUPPORTED. */
    ACCEL_DEVICE_PARAM_MAX_QUEUES = 11,         /* uint32_t, queues open on the device at once;
                                                   ACCEL_INSTANCES_UNLIMITED = no limit; 0 = the
                                                   device runs no work (an FPGA card, not its slots) */
    ACCEL_DEVICE_PARAM_QUEUE_DEPTH = 12,        /* uint32_t, submissions a queue holds in flight;
                                                   one more blocks the submitting thread until the
                                                   oldest completes */
    ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE = 13,   /* uint64_t, bytes of the largest program the
                                                   driver loads (for an FPGA image: its description
                                                   file); the loader's ACCEL_PROGRAM_MAX_SIZE also
                                                   holds */
    ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS = 14,  /* uint32_t, arguments a function of a loaded program
                                                   may take (at most ACCEL_MAX_ARGS) */
    ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT = 15, /* uint64_t, bytes: a memory argument of a loaded
                                                     program's function starts at a multiple of this
                                                     offset into its memory (1 = any offset);
                                                     built-in functions take any offset */
    ACCEL_DEVICE_PARAM_MAX_ENUM = 0x7fffffff
} accel_device_param;

/*
 * How a device sees a memory object it is attached to.
 *   ZERO_COPY  the device reaches the memory's pages where they are (shared
 *              virtual memory, host memory for a CPU, shared HBM);
 *   PINNED     the device maps the same pages through its IOMMU (no copy);
 *   STAGED     no path: the loader keeps a device-side mirror and copies in
 *              before and out after each submission that uses it, in order.
 * Results are identical in every mode; only the cost differs.
 */
typedef enum accel_attach_mode {
    ACCEL_ATTACH_NONE = 0,
    ACCEL_ATTACH_ZERO_COPY = 1,
    ACCEL_ATTACH_PINNED = 2,
    ACCEL_ATTACH_STAGED = 3,
    ACCEL_ATTACH_MAX_ENUM = 0x7fffffff
} accel_attach_mode;

/* Formats of loadable programs. */
typedef enum accel_program_format {
    ACCEL_PROGRAM_FORMAT_OPENCL_C = 1, /* OpenCL C source text */
    ACCEL_PROGRAM_FORMAT_SPIRV = 2,    /* a SPIR-V module (compute shader or OpenCL kernel) */
    ACCEL_PROGRAM_FORMAT_ELF = 3,      /* a host shared object with a metadata description */
    ACCEL_PROGRAM_FORMAT_FPGA_IMAGE = 4,
    ACCEL_PROGRAM_FORMAT_MAX_ENUM = 0x7fffffff
} accel_program_format;

/* Kinds of function arguments. */
typedef enum accel_arg_kind {
    ACCEL_ARG_NONE = 0,
    ACCEL_ARG_MEMORY = 1, /* a range of a memory object */
    ACCEL_ARG_U32 = 2,
    ACCEL_ARG_I32 = 3,
    ACCEL_ARG_U64 = 4,
    ACCEL_ARG_I64 = 5,
    ACCEL_ARG_F32 = 6,
    ACCEL_ARG_F64 = 7,
    ACCEL_ARG_KIND_MAX_ENUM = 0x7fffffff
} accel_arg_kind;

/* Kinds of memory nodes (places where bytes live). */
typedef enum accel_memory_kind {
    ACCEL_MEMORY_KIND_UNKNOWN = 0,
    ACCEL_MEMORY_KIND_DRAM = 1,      /* host DRAM NUMA node */
    ACCEL_MEMORY_KIND_HBM = 2,       /* high-bandwidth memory (host-addressable, e.g. MCDRAM) */
    ACCEL_MEMORY_KIND_NVM = 3,       /* persistent memory */
    ACCEL_MEMORY_KIND_CXL = 4,       /* CXL-attached memory expander */
    ACCEL_MEMORY_KIND_DEVICE = 5,    /* device-local memory (GPU VRAM, ASIC SRAM) */
    ACCEL_MEMORY_KIND_FPGA_BANK = 6, /* a memory bank of an FPGA card */
    ACCEL_MEMORY_KIND_HOST = 7,      /* drivers only: "the host's memory, any NUMA node" */
    ACCEL_MEMORY_KIND_MAX_ENUM = 0x7fffffff
} accel_memory_kind;

/* Kinds of topology links. */
typedef enum accel_link_kind {
    ACCEL_LINK_UNKNOWN = 0,
    ACCEL_LINK_LOCAL = 1,      /* a CPU set to its own NUMA node; a device to its own memory */
    ACCEL_LINK_NUMA = 2,       /* between NUMA domains (inter-socket, SNC) */
    ACCEL_LINK_PCIE = 3,
    ACCEL_LINK_NVLINK = 4,
    ACCEL_LINK_CXL = 5,
    ACCEL_LINK_ON_PACKAGE = 6,
    ACCEL_LINK_FABRIC = 7,
    ACCEL_LINK_KIND_MAX_ENUM = 0x7fffffff
} accel_link_kind;

/* Where a topology value came from. */
typedef enum accel_value_source {
    ACCEL_SOURCE_NONE = 0,     /* no value */
    ACCEL_SOURCE_OS = 1,       /* the operating system (hwloc, sysfs) */
    ACCEL_SOURCE_HMAT = 2,     /* firmware tables (ACPI HMAT) through hwloc memattrs */
    ACCEL_SOURCE_DRIVER = 3,   /* a driver's hint */
    ACCEL_SOURCE_USER = 4,     /* a user file */
    ACCEL_SOURCE_ESTIMATE = 5, /* the loader's built-in estimate for the link kind */
    ACCEL_SOURCE_MEASURED = 6, /* a calibration run (cached) */
    ACCEL_SOURCE_MAX_ENUM = 0x7fffffff
} accel_value_source;

/* The most arguments a function may take. */
#define ACCEL_MAX_ARGS 32

/* The longest function name, including the NUL. */
#define ACCEL_MAX_FUNCTION_NAME 128

#ifdef __cplusplus
}
#endif

#endif /* ACCEL_TYPES_H */
