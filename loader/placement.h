/*
 * placement.h — the loader's internal form of a pipeline (pipeline.c builds
 * it from a file, placement.c and the placement_*.c files search over it;
 * placement_internal.h is theirs), the hooks the placement tests use, and
 * the plan's layout (placement_explain.c fills a plan, plan.c reads it
 * out). docs/pipelines.md describes the file format and the cost model.
 */
#ifndef ACCEL_LOADER_PLACEMENT_H
#define ACCEL_LOADER_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "select.h"
#include "topology.h"

/* Limits of the pipeline file: the same size and nesting limits as driver
 * manifests, and bounds that keep every check of the parser linear or
 * close to it. */
#define ACCEL__PIPELINE_MAX_SIZE (1u << 20)
#define ACCEL__PIPELINE_MAX_DEPTH 64
#define ACCEL__PIPELINE_MAX_STAGES 1024
#define ACCEL__PIPELINE_MAX_BUFFERS 4096
#define ACCEL__PIPELINE_MAX_NAME 64

typedef struct accel__pipe_buffer {
    accel_pipeline_buffer pub; /* name, input_file, output_file owned */
    int32_t bytes_from;        /* the buffer this one's size derives from, or -1 */
    double scale;              /* bytes = ceil(bytes_from.bytes * scale) + add */
    uint64_t add;
    bool zero;                 /* "zero": true (read without a writer, zero-filled) */
} accel__pipe_buffer;

typedef struct accel__pipe_stage {
    accel_pipeline_stage pub;  /* strings, args and not_with owned */
    accel_pipeline_stage_arg *args;
    uint32_t *not_with;
    bool has_selector;
    accel__selector selector;  /* pub.device, parsed */
    uint8_t uuid_nibbles[2 * ACCEL_UUID_SIZE];
    uint32_t uuid_len;         /* nibbles of pub.uuid */
} accel__pipe_stage;

struct accel_pipeline {
    char *source;              /* the file name used in messages */
    char *name;                /* "name", or the source */
    uint32_t stage_count;
    uint32_t buffer_count;
    accel__pipe_stage *stages;
    accel__pipe_buffer *buffers;
    uint32_t *order;           /* stages in an order that respects every edge */
};

/*
 * The standard functions' argument conventions (docs/standard-functions.md):
 * the kinds, and which memory arguments the function writes. NULL if `name`
 * is not a standard function.
 */
#define ACCEL__STANDARD_MAX_ARGS 6 /* zlib.deflate.stream */
typedef struct accel__standard_function {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind kinds[ACCEL__STANDARD_MAX_ARGS];
    bool writes[ACCEL__STANDARD_MAX_ARGS];
    const char *arg_names[ACCEL__STANDARD_MAX_ARGS];
    uint64_t min_bytes[ACCEL__STANDARD_MAX_ARGS]; /* what the function writes at least; 0: no minimum */
} accel__standard_function;

const accel__standard_function *accel__standard_function_find(const char *name);

/* "opencl-c", "spirv", "elf", "fpga-image", or NULL. */
const char *accel__program_format_name(accel_program_format format);

/* Parse like accel_pipeline_parse, but put the error into `reason`
 * ("SOURCE: JSON.PATH: what") instead of the thread's last error. */
accel_result accel__pipeline_parse(const char *json, size_t size, const char *source, accel_pipeline **out,
                                   char *reason, size_t reason_size);

/* ---- placement hooks for tests ----------------------------------------- */

/*
 * The cost of one assignment of stages to devices (topology node indices,
 * one per stage) under the cost model, with every buffer on its best home:
 * ACCEL_SUCCESS and *cost_ns, or ACCEL_ERROR_INFEASIBLE when a constraint
 * is violated (the detail message says which). The exhaustive search and
 * the plan's reported cost both use this evaluation.
 */
accel_result accel__place_evaluate(const accel_topology *topology, const accel_pipeline *pipeline,
                                   const accel_place_options *options, const uint32_t *devices,
                                   double *cost_ns);
/* The same, with the assignment's bottleneck as the throughput objective
 * counts it (the busiest compute group's ns per pass) when bottleneck_ns
 * is not NULL. */
accel_result accel__place_evaluate2(const accel_topology *topology, const accel_pipeline *pipeline,
                                    const accel_place_options *options, const uint32_t *devices,
                                    double *cost_ns, double *bottleneck_ns);

/* ---- the plan ---------------------------------------------------------- */

/* Sub-reasons of per-stage rejections, for the explanation. */
enum {
    ACCEL__WHY_FUNCTION = 1,  /* no entry for the built-in */
    ACCEL__WHY_FORMAT,        /* does not take the program's format */
    ACCEL__WHY_KIND,
    ACCEL__WHY_DRIVER,
    ACCEL__WHY_UUID,
    ACCEL__WHY_SELECTOR,
    ACCEL__WHY_PASID,
    ACCEL__WHY_NO_INSTANCES,
    ACCEL__WHY_ISOLATED,
    ACCEL__WHY_NO_MEMORY,
    ACCEL__WHY_NO_STREAM_FORM, /* the run streams; no entry for the function's stream form */
};

typedef struct accel__plan_node {
    uint32_t name, driver;
    accel_topology_node_kind kind;
    accel_device_kind device_kind;
    uint32_t pasid_bits, available_instances, max_address_spaces, flags;
} accel__plan_node;

typedef struct accel__plan_rej {
    uint32_t node;
    uint8_t constraint, why;
} accel__plan_rej;

typedef struct accel__plan_alt {
    uint32_t node;
    double estimate;
} accel__plan_alt;

typedef struct accel__plan_stage {
    uint32_t name, function, program; /* arena offsets; UINT32_MAX: none */
    uint32_t want_driver, want_uuid, want_device;
    accel_device_kind want_kind;
    accel_program_format format;
    uint32_t device_node;
    double cost, transfer;
    accel_value_source source;
    uint32_t arg_count;
    uint32_t arg_begin;
    uint32_t rej_begin, rej_count;
    uint32_t alt_begin, alt_count;
    uint32_t group; /* its device's compute group (placement_throughput.c) */
} accel__plan_stage;

typedef struct accel__plan_arg {
    int32_t buffer; /* -1: a scalar */
    accel_attach_mode mode;
    double cost;
} accel__plan_arg;

typedef struct accel__plan_buffer {
    uint32_t name;
    uint64_t bytes;
    uint32_t home;
    double cost, io;
    bool input, output;
    double charged; /* the bytes its costs are for: below `bytes` for a zlib output with a measured ratio */
} accel__plan_buffer;

/* A compute group: devices that share the same hardware. */
typedef struct accel__plan_group {
    uint32_t name; /* "host", a PCI bus address, or a device's name */
    double load;   /* ns per pass: its stages' compute and transfers */
} accel__plan_group;

struct accel_plan {
    bool feasible, optimal;
    double cost, lower_bound;
    uint64_t explored;
    uint64_t search_ns;     /* how long the search ran */
    uint64_t time_limit_ns; /* its limit (never 0) */
    uint32_t pasid_bits;
    uint32_t pipeline_name, source;
    accel_constraint constraint;
    int32_t conflict_stage;
    uint32_t detail;
    uint32_t stage_count, buffer_count, node_count;
    accel__plan_stage *stages;
    accel__plan_arg *args;
    accel__plan_buffer *buffers;
    accel__plan_node *nodes;
    accel__plan_rej *rejs;
    accel__plan_alt *alts;
    accel_place_objective objective;
    bool streamed; /* placed with ACCEL_PLACE_STREAMED */
    uint32_t group_count;
    accel__plan_group *groups;
    double bottleneck;        /* the busiest group's load (ns per pass) */
    int32_t bottleneck_stage; /* its longest stage, -1 */
    uint32_t bottleneck_group;
    double input_bytes;       /* what the buffers read from files hold */
    char *arena;
    size_t arena_len, arena_cap;
    bool oom;
};

/* The plan's strings are offsets into its arena; this one stands for none. */
#define ACCEL__NO_STR UINT32_MAX

/* Copy s into the plan's arena and return its offset: ACCEL__NO_STR for a
 * NULL s, or when the arena cannot grow (then pl->oom is set). */
uint32_t accel__plan_arena_add(accel_plan *pl, const char *s);

/* The string at an arena offset; "" for ACCEL__NO_STR. */
const char *accel__plan_str(const accel_plan *pl, uint32_t off);

/* A growing string for explanations (zero-initialise; the caller frees s).
 * oom: it could not grow, and nothing is added after that. */
typedef struct accel__text {
    char *s;
    size_t len, cap;
    bool oom;
} accel__text;

/* Append to t as printf would. */
void accel__tx(accel__text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* ACCEL_LOADER_PLACEMENT_H */
