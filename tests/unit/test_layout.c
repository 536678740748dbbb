/* test_layout.c — the stable ABI: frozen copies of the 1.0 layouts of the
 * public and driver structs, checked against the current headers (fields may
 * only be appended), and the frozen values of the result codes and enums.
 *
 * Never edit a frozen_* struct below to make a check pass: a failure means
 * a header change broke programs or drivers built against 1.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "accel/accel.h"
#include "accel/accel_icd.h"

/* ------------------------------------------------------------------------ */
/* The 1.0 layouts, frozen                                                    */

typedef struct frozen_instance_options {
    uint32_t struct_size;
    uint32_t flags;
    const char *const *manifest_paths;
    uint32_t manifest_path_count;
    accel_log_callback log_callback;
    void *log_user_data;
    uint32_t log_mask;
    const char *device_selector;
} frozen_instance_options;

typedef struct frozen_manifest_info {
    uint32_t struct_size;
    const char *path;
    const char *driver_name;
    const char *library_path;
    const char *resolved_library;
    accel_manifest_status status;
    const char *reason;
    accel_result result;
    uint32_t file_format_version;
    uint32_t api_version;
    accel_driver *driver;
} frozen_manifest_info;

typedef struct frozen_driver_info {
    uint32_t struct_size;
    const char *name;
    const char *manifest_path;
    const char *library_path;
    const char *version;
    uint32_t interface_version;
    uint32_t api_version;
    uint32_t device_count;
} frozen_driver_info;

typedef struct frozen_device_info {
    uint32_t struct_size;
    uint32_t index;
    uint32_t driver_index;
    accel_driver *driver;
    const char *driver_name;
    const char *name;
    const char *vendor;
    accel_device_kind kind;
    accel_device_interface interface;
    uint8_t uuid[16];
    uint32_t vendor_id;
    uint32_t device_id;
    const char *bus_address;
    int32_t numa_node;
    const char *numa_nodes;
    uint32_t flags;
    uint32_t max_address_spaces;
    uint32_t pasid_bits;
    uint32_t available_instances;
    accel_device *parent;
} frozen_device_info;

typedef struct frozen_icd_loader_services {
    uint32_t struct_size;
    void *loader_context;
    void (*log)(void *loader_context, accel_log_level level, const char *format, ...);
} frozen_icd_loader_services;

typedef struct frozen_icd_negotiation {
    uint32_t struct_size;
    uint32_t loader_version;
    uint32_t loader_min_version;
    const accel_icd_loader_services *services;
    uint32_t driver_version;
    const struct accel_icd_table *table;
} frozen_icd_negotiation;

typedef struct frozen_icd_init_info {
    uint32_t struct_size;
    const char *manifest_path;
    const char *driver_name;
} frozen_icd_init_info;

typedef struct frozen_icd_device_info {
    uint32_t struct_size;
    char name[256];
    accel_device_kind kind;
    accel_device_interface interface;
    uint8_t uuid[16];
    char vendor[64];
    uint32_t vendor_id;
    uint32_t device_id;
    char bus_address[64];
    int32_t numa_node;
    char numa_nodes[64];
    uint32_t flags;
    uint32_t max_address_spaces;
    uint32_t pasid_bits;
    uint32_t available_instances;
    int32_t parent_index;
    uint32_t driver_version;
} frozen_icd_device_info;

typedef struct frozen_icd_table {
    uint32_t struct_size;
    uint32_t flags;
    accel_icd_result (*driver_init)(const accel_icd_init_info *info, void **driver_handle);
    void (*driver_fini)(void *driver_handle);
    accel_icd_result (*enumerate_devices)(void *driver_handle, uint32_t *count, void **devices);
    accel_icd_result (*device_get_info)(void *device, accel_icd_device_info *info);
    accel_icd_result (*device_query)(void *device, accel_device_param param, void *value, size_t size,
                                     size_t *size_ret);
    const char *(*driver_version_string)(void *driver_handle);
} frozen_icd_table;

typedef struct frozen_run_io {
    uint32_t struct_size;
    accel_run_io_kind kind;
    const char *path;
    int32_t fd;
    accel_run_read_callback read;
    accel_run_write_callback write;
    void *user_data;
    uint64_t size_hint;
} frozen_run_io;

typedef struct frozen_run_options {
    uint32_t struct_size;
    uint32_t flags;
    uint64_t chunk_size;
    uint32_t ring_depth;
    const char *input_dir;
    const char *output_dir;
    accel_run_progress_callback progress;
    void *progress_user_data;
    uint64_t progress_interval_ns;
} frozen_run_options;

typedef struct frozen_run_progress {
    uint32_t struct_size;
    bool streaming;
    uint32_t stage_count;
    const accel_run_stage_stats *stages;
    uint64_t input_bytes;
    uint64_t input_total;
    uint64_t output_bytes;
    uint64_t elapsed_ns;
} frozen_run_progress;

typedef struct frozen_run_result {
    uint32_t struct_size;
    accel_result result;
    bool streamed;
    const char *mode_reason;
    int32_t failed_stage;
    int64_t failed_chunk;
    const char *message;
    uint64_t chunk_size;
    uint64_t chunks;
    uint64_t input_bytes;
    uint64_t output_bytes;
    uint64_t buffer_bytes;
    uint64_t elapsed_ns;
} frozen_run_result;

typedef struct frozen_place_options {
    uint32_t struct_size;
    uint32_t flags;
    uint32_t process_pasid_bits;
    uint32_t iommu_contexts;
    uint64_t time_limit_ns;
} frozen_place_options;

typedef struct frozen_plan_summary {
    uint32_t struct_size;
    bool feasible;
    bool optimal;
    double cost_ns;
    double lower_bound_ns;
    uint64_t nodes_explored;
} frozen_plan_summary;

/* ------------------------------------------------------------------------ */
/* Field lists: every field of each frozen struct                             */

#define INSTANCE_OPTIONS_FIELDS(X, c, o)                                                                     \
    X(c, o, struct_size)                                                                                     \
    X(c, o, flags) X(c, o, manifest_paths) X(c, o, manifest_path_count) X(c, o, log_callback)                \
        X(c, o, log_user_data) X(c, o, log_mask) X(c, o, device_selector)

#define MANIFEST_INFO_FIELDS(X, c, o)                                                                        \
    X(c, o, struct_size)                                                                                     \
    X(c, o, path) X(c, o, driver_name) X(c, o, library_path) X(c, o, resolved_library) X(c, o, status)       \
        X(c, o, reason) X(c, o, result) X(c, o, file_format_version) X(c, o, api_version) X(c, o, driver)

#define DRIVER_INFO_FIELDS(X, c, o)                                                                          \
    X(c, o, struct_size)                                                                                     \
    X(c, o, name) X(c, o, manifest_path) X(c, o, library_path) X(c, o, version) X(c, o, interface_version)   \
        X(c, o, api_version) X(c, o, device_count)

#define DEVICE_INFO_FIELDS(X, c, o)                                                                          \
    X(c, o, struct_size)                                                                                     \
    X(c, o, index) X(c, o, driver_index) X(c, o, driver) X(c, o, driver_name) X(c, o, name) X(c, o, vendor)  \
        X(c, o, kind) X(c, o, interface) X(c, o, uuid) X(c, o, vendor_id) X(c, o, device_id)                 \
            X(c, o, bus_address) X(c, o, numa_node) X(c, o, numa_nodes) X(c, o, flags)                       \
                X(c, o, max_address_spaces) X(c, o, pasid_bits) X(c, o, available_instances) X(c, o, parent)

#define ICD_LOADER_SERVICES_FIELDS(X, c, o) X(c, o, struct_size) X(c, o, loader_context) X(c, o, log)

#define ICD_NEGOTIATION_FIELDS(X, c, o)                                                                      \
    X(c, o, struct_size)                                                                                     \
    X(c, o, loader_version) X(c, o, loader_min_version) X(c, o, services) X(c, o, driver_version)            \
        X(c, o, table)

#define ICD_INIT_INFO_FIELDS(X, c, o) X(c, o, struct_size) X(c, o, manifest_path) X(c, o, driver_name)

#define ICD_DEVICE_INFO_FIELDS(X, c, o)                                                                      \
    X(c, o, struct_size)                                                                                     \
    X(c, o, name) X(c, o, kind) X(c, o, interface) X(c, o, uuid) X(c, o, vendor) X(c, o, vendor_id)          \
        X(c, o, device_id) X(c, o, bus_address) X(c, o, numa_node) X(c, o, numa_nodes) X(c, o, flags)        \
            X(c, o, max_address_spaces) X(c, o, pasid_bits) X(c, o, available_instances)                     \
                X(c, o, parent_index) X(c, o, driver_version)

#define RUN_IO_FIELDS(X, c, o)                                                                               \
    X(c, o, struct_size)                                                                                     \
    X(c, o, kind) X(c, o, path) X(c, o, fd) X(c, o, read) X(c, o, write) X(c, o, user_data)                  \
        X(c, o, size_hint)

#define RUN_OPTIONS_FIELDS(X, c, o)                                                                          \
    X(c, o, struct_size)                                                                                     \
    X(c, o, flags) X(c, o, chunk_size) X(c, o, ring_depth) X(c, o, input_dir) X(c, o, output_dir)            \
        X(c, o, progress) X(c, o, progress_user_data) X(c, o, progress_interval_ns)

#define RUN_PROGRESS_FIELDS(X, c, o)                                                                         \
    X(c, o, struct_size)                                                                                     \
    X(c, o, streaming) X(c, o, stage_count) X(c, o, stages) X(c, o, input_bytes) X(c, o, input_total)        \
        X(c, o, output_bytes) X(c, o, elapsed_ns)

#define RUN_RESULT_FIELDS(X, c, o)                                                                           \
    X(c, o, struct_size)                                                                                     \
    X(c, o, result) X(c, o, streamed) X(c, o, mode_reason) X(c, o, failed_stage) X(c, o, failed_chunk)       \
        X(c, o, message) X(c, o, chunk_size) X(c, o, chunks) X(c, o, input_bytes) X(c, o, output_bytes)      \
            X(c, o, buffer_bytes) X(c, o, elapsed_ns)

#define PLACE_OPTIONS_FIELDS(X, c, o)                                                                        \
    X(c, o, struct_size)                                                                                     \
    X(c, o, flags) X(c, o, process_pasid_bits) X(c, o, iommu_contexts) X(c, o, time_limit_ns)

#define PLAN_SUMMARY_FIELDS(X, c, o)                                                                         \
    X(c, o, struct_size)                                                                                     \
    X(c, o, feasible) X(c, o, optimal) X(c, o, cost_ns) X(c, o, lower_bound_ns) X(c, o, nodes_explored)

#define ICD_TABLE_FIELDS(X, c, o)                                                                            \
    X(c, o, struct_size)                                                                                     \
    X(c, o, flags) X(c, o, driver_init) X(c, o, driver_fini) X(c, o, enumerate_devices)                      \
        X(c, o, device_get_info) X(c, o, device_query) X(c, o, driver_version_string)

/* Every struct with a frozen copy: the current type, the copy, its field
 * list and the copy's size on LP64. */
#define PUBLIC_STRUCTS(S)                                                                                    \
    S(accel_instance_options, frozen_instance_options, INSTANCE_OPTIONS_FIELDS, 56)                          \
    S(accel_manifest_info, frozen_manifest_info, MANIFEST_INFO_FIELDS, 80)                                   \
    S(accel_driver_info, frozen_driver_info, DRIVER_INFO_FIELDS, 56)                                         \
    S(accel_device_info, frozen_device_info, DEVICE_INFO_FIELDS, 128)                                        \
    S(accel_place_options, frozen_place_options, PLACE_OPTIONS_FIELDS, 24)                                   \
    S(accel_plan_summary, frozen_plan_summary, PLAN_SUMMARY_FIELDS, 32)                                      \
    S(accel_run_io, frozen_run_io, RUN_IO_FIELDS, 56)                                                        \
    S(accel_run_options, frozen_run_options, RUN_OPTIONS_FIELDS, 64)                                         \
    S(accel_run_progress, frozen_run_progress, RUN_PROGRESS_FIELDS, 56)                                      \
    S(accel_run_result, frozen_run_result, RUN_RESULT_FIELDS, 96)

#define ICD_STRUCTS(S)                                                                                       \
    S(accel_icd_loader_services, frozen_icd_loader_services, ICD_LOADER_SERVICES_FIELDS, 24)                 \
    S(accel_icd_negotiation, frozen_icd_negotiation, ICD_NEGOTIATION_FIELDS, 40)                             \
    S(accel_icd_init_info, frozen_icd_init_info, ICD_INIT_INFO_FIELDS, 24)                                   \
    S(accel_icd_device_info, frozen_icd_device_info, ICD_DEVICE_INFO_FIELDS, 512)                            \
    S(accel_icd_table, frozen_icd_table, ICD_TABLE_FIELDS, 56)

/* ------------------------------------------------------------------------ */
/* Compile-time checks: a moved or resized field does not build              */

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

#define STATIC_FIELD(cur, old, field)                                                                        \
    _Static_assert(offsetof(cur, field) == offsetof(old, field), #cur "." #field " moved");                  \
    _Static_assert(FIELD_SIZE(cur, field) == FIELD_SIZE(old, field), #cur "." #field " changed size");

#define STATIC_STRUCT(cur, old, FIELDS, lp64_size)                                                           \
    FIELDS(STATIC_FIELD, cur, old)                                                                           \
    _Static_assert(sizeof(cur) >= sizeof(old), #cur " shrank");                                              \
    _Static_assert(offsetof(cur, struct_size) == 0, #cur ".struct_size is not first");

PUBLIC_STRUCTS(STATIC_STRUCT)
ICD_STRUCTS(STATIC_STRUCT)

/* ------------------------------------------------------------------------ */
/* The same checks at run time, naming every field that differs             */

typedef struct field_check {
    const char *name;
    size_t cur_offset, old_offset, cur_size, old_size;
} field_check;

static void check_fields(const char *type, const field_check *f, size_t n, size_t cur_size, size_t old_size)
{
    int bad = 0;
    size_t end = 0;
    for (size_t i = 0; i < n; i++) {
        if (f[i].cur_offset != f[i].old_offset || f[i].cur_size != f[i].old_size) {
            print_error("%s.%s: offset %zu size %zu, frozen 1.0 offset %zu size %zu\n", type, f[i].name,
                        f[i].cur_offset, f[i].cur_size, f[i].old_offset, f[i].old_size);
            bad++;
        }
        /* The frozen list is in declaration order and covers the struct. */
        assert_true(f[i].old_offset >= end);
        end = f[i].old_offset + f[i].old_size;
    }
    assert_true(end <= old_size);
    assert_true(old_size - end < sizeof(void *));
    if (cur_size < old_size) {
        print_error("%s: size %zu is smaller than the frozen %zu\n", type, cur_size, old_size);
        bad++;
    }
    assert_int_equal(bad, 0);
}

#define FIELD_ENTRY(cur, old, f)                                                                             \
    {#f, offsetof(cur, f), offsetof(old, f), FIELD_SIZE(cur, f), FIELD_SIZE(old, f)},

#define CHECK_STRUCT(cur, old, FIELDS, lp64_size)                                                            \
    do {                                                                                                     \
        const field_check checks[] = {FIELDS(FIELD_ENTRY, cur, old)};                                        \
        check_fields(#cur, checks, sizeof(checks) / sizeof(checks[0]), sizeof(cur), sizeof(old));            \
    } while (0);

static void test_layout_public_structs(void **state)
{
    (void)state;
    PUBLIC_STRUCTS(CHECK_STRUCT)
}

static void test_layout_icd_structs(void **state)
{
    (void)state;
    ICD_STRUCTS(CHECK_STRUCT)
}

/* On LP64 the sizes themselves are part of what 1.0 drivers were built
 * with; pin them so that a change of the frozen copies is noticed too. */
#define CHECK_LP64_SIZE(cur, old, FIELDS, lp64_size) assert_int_equal(sizeof(old), lp64_size);

static void test_layout_lp64_sizes(void **state)
{
    (void)state;
    if (sizeof(void *) != 8 || sizeof(long) != 8)
        skip();
    PUBLIC_STRUCTS(CHECK_LP64_SIZE)
    ICD_STRUCTS(CHECK_LP64_SIZE)
    assert_int_equal(ACCEL_ICD_TABLE_SIZE_1_0, 48);
}

static void test_layout_icd_table_size_1_0(void **state)
{
    (void)state;
    /* 1.0 requires everything up to device_query; the optional
     * driver_version_string lies beyond the required size. */
    assert_int_equal(ACCEL_ICD_TABLE_SIZE_1_0,
                     offsetof(frozen_icd_table, device_query) + FIELD_SIZE(frozen_icd_table, device_query));
    assert_int_equal(ACCEL_ICD_TABLE_SIZE_1_0, offsetof(accel_icd_table, driver_version_string));
    assert_true(ACCEL_ICD_TABLE_SIZE_1_0 < sizeof(accel_icd_table));
    assert_int_equal(ACCEL_ICD_INTERFACE_VERSION >> 16, 1);
    assert_int_equal(ACCEL_MAKE_VERSION(1, 0), 0x10000u);
    assert_int_equal(ACCEL_VERSION_MAJOR(ACCEL_MAKE_VERSION(3, 7)), 3);
    assert_int_equal(ACCEL_VERSION_MINOR(ACCEL_MAKE_VERSION(3, 7)), 7);
    assert_int_equal(ACCEL_MAKE_VERSION(1, 0x12345), ACCEL_MAKE_VERSION(1, 0x2345));
    assert_string_equal(ACCEL_ICD_NEGOTIATE_SYMBOL, "accel_icd_negotiate");
}

/* ------------------------------------------------------------------------ */
/* Values                                                                     */

/* The 1.0 result codes: values never change meaning. */
static const struct {
    const char *name;
    int value;
} frozen_results[] = {
    {"ACCEL_SUCCESS", 0},
    {"ACCEL_INCOMPLETE", 1},
    {"ACCEL_NOT_READY", 2},
    {"ACCEL_TIMEOUT", 3},
    {"ACCEL_ERROR_INVALID_ARGUMENT", -1},
    {"ACCEL_ERROR_OUT_OF_HOST_MEMORY", -2},
    {"ACCEL_ERROR_OUT_OF_DEVICE_MEMORY", -3},
    {"ACCEL_ERROR_INITIALIZATION_FAILED", -4},
    {"ACCEL_ERROR_INVALID_SELECTOR", -5},
    {"ACCEL_ERROR_INVALID_MANIFEST", -6},
    {"ACCEL_ERROR_INCOMPATIBLE_DRIVER", -7},
    {"ACCEL_ERROR_DRIVER_LOAD_FAILED", -8},
    {"ACCEL_ERROR_NOT_FOUND", -9},
    {"ACCEL_ERROR_UNSUPPORTED", -10},
    {"ACCEL_ERROR_DEVICE_LOST", -11},
    {"ACCEL_ERROR_IO", -12},
    {"ACCEL_ERROR_DRIVER_INTERNAL", -13},
    {"ACCEL_ERROR_INVALID_HANDLE", -14},
};

static void test_layout_result_values_frozen(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(frozen_results) / sizeof(frozen_results[0]); i++)
        assert_string_equal(accel_result_name((accel_result)frozen_results[i].value), frozen_results[i].name);
}

static void test_layout_result_map(void **state)
{
    (void)state;
    static const struct {
        accel_result value;
        const char *name, *macro_name, *text;
    } all[] = {
#define X(name, value, text) {ACCEL_##name, "ACCEL_" #name, #name, text},
        ACCEL_RESULT_MAP(X)
#undef X
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    assert_true(n >= sizeof(frozen_results) / sizeof(frozen_results[0]));
    for (size_t i = 0; i < n; i++) {
        const char *s = accel_result_string(all[i].value);
        const char *name = accel_result_name(all[i].value);
        assert_non_null(s);
        assert_string_equal(s, all[i].text);
        assert_string_not_equal(s, "unknown result");
        assert_true(s[0] != '\0');
        assert_string_equal(name, all[i].name);
        /* Errors are negative, statuses are not; 0 is only success. */
        if (strncmp(all[i].macro_name, "ERROR_", 6) == 0)
            assert_true(all[i].value < 0);
        else
            assert_true(all[i].value >= 0);
        assert_true((all[i].value == 0) == (strcmp(all[i].macro_name, "SUCCESS") == 0));
        for (size_t j = 0; j < i; j++) {
            assert_true(all[i].value != all[j].value);
            assert_string_not_equal(accel_result_string(all[j].value), s);
            assert_string_not_equal(accel_result_name(all[j].value), name);
        }
    }
    /* Values outside the map have the fallback texts. */
    const int outside[] = {-1000, -15, 4, 1000, 0x7fffffff};
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        bool known = false;
        for (size_t j = 0; j < n; j++)
            known |= (int)all[j].value == outside[i];
        if (known)
            continue;
        assert_string_equal(accel_result_string((accel_result)outside[i]), "unknown result");
        assert_string_equal(accel_result_name((accel_result)outside[i]), "ACCEL_RESULT_UNKNOWN");
    }
}

static void test_layout_enum_values_frozen(void **state)
{
    (void)state;
    assert_int_equal(ACCEL_DEVICE_KIND_UNKNOWN, 0);
    assert_int_equal(ACCEL_DEVICE_KIND_CPU, 1);
    assert_int_equal(ACCEL_DEVICE_KIND_GPU, 2);
    assert_int_equal(ACCEL_DEVICE_KIND_FPGA, 3);
    assert_int_equal(ACCEL_DEVICE_KIND_ASIC, 4);
    assert_int_equal(ACCEL_DEVICE_KIND_NETWORK, 5);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_NATIVE, 1);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_OPENCL, 2);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_VULKAN, 3);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_UACCE, 4);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_CUDA, 5);
    assert_int_equal(ACCEL_DEVICE_INTERFACE_FPGA, 6);
    assert_int_equal(ACCEL_LOG_ERROR, 1);
    assert_int_equal(ACCEL_LOG_WARN, 2);
    assert_int_equal(ACCEL_LOG_INFO, 4);
    assert_int_equal(ACCEL_LOG_DEBUG, 8);
    assert_int_equal(ACCEL_LOG_DRIVER, 16);
    assert_int_equal(ACCEL_MANIFEST_LOADED, 0);
    assert_int_equal(ACCEL_MANIFEST_SKIPPED, 1);
    assert_int_equal(ACCEL_MANIFEST_FAILED, 2);
    assert_int_equal(ACCEL_DEVICE_PARAM_KIND, 1);
    assert_int_equal(ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES, 2);
    assert_int_equal(ACCEL_DEVICE_PARAM_MAX_ADDRESS_SPACES, 3);
    assert_int_equal(ACCEL_DEVICE_PARAM_FLAGS, 4);
    assert_int_equal(ACCEL_DEVICE_PARAM_NUMA_NODE, 5);
    assert_int_equal(ACCEL_DEVICE_FLAG_SVA, 1);
    assert_int_equal(ACCEL_DEVICE_FLAG_PARTITION, 2);
    assert_int_equal(ACCEL_DEVICE_FLAG_ISOLATED, 4);
    assert_int_equal(ACCEL_DEVICE_FLAG_EMULATED, 8);
    assert_int_equal(ACCEL_ICD_FLAG_NO_UNLOAD, 1);
    assert_int_equal(ACCEL_INSTANCE_FLAG_NO_ENV_SELECTION, 1);
    assert_int_equal(ACCEL_UUID_SIZE, 16);
    assert_int_equal(ACCEL_INSTANCES_UNLIMITED, 0xffffffffu);
    /* Enums are 32 bits wide in every struct that holds them. */
    assert_int_equal(sizeof(accel_result), 4);
    assert_int_equal(sizeof(accel_device_kind), 4);
    assert_int_equal(sizeof(accel_device_interface), 4);
    assert_int_equal(sizeof(accel_manifest_status), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_public_structs),
        cmocka_unit_test(test_layout_icd_structs),
        cmocka_unit_test(test_layout_lp64_sizes),
        cmocka_unit_test(test_layout_icd_table_size_1_0),
        cmocka_unit_test(test_layout_result_values_frozen),
        cmocka_unit_test(test_layout_result_map),
        cmocka_unit_test(test_layout_enum_values_frozen),
    };
    return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
