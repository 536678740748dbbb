/*
 * placement.h — the loader's internal form of a pipeline (pipeline.c builds
 * it from a file, placement.c searches over it) and the hooks the placement
 * tests use. docs/pipelines.md describes the file format and the cost model.
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
typedef struct accel__standard_function {
    const char *name;
    uint32_t arg_count;
    accel_arg_kind kinds[3];
    bool writes[3];
    const char *arg_names[3];
    uint64_t min_bytes[3]; /* what the function writes at least; 0: no minimum */
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

#endif /* ACCEL_LOADER_PLACEMENT_H */
