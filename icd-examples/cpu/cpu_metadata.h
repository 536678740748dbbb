/* cpu_metadata.h — the parser of an ELF kernel library's metadata text
 * (`const char accel_kernel_metadata[]`, described in docs/programs.md).
 *
 * A pure function: text in, signatures out, no global state, no I/O; it
 * allocates only the returned array. Also compiled into the fuzz target
 * tests/fuzz/fuzz_kernel_metadata.c and the cpu driver's tests. */
#ifndef CPU_METADATA_H
#define CPU_METADATA_H

#include <accel/accel_types.h>

#include <stddef.h>
#include <stdint.h>

/* The most kernels one library may declare. */
#define CPU_METADATA_MAX_KERNELS 4096

typedef struct cpu_kernel_sig {
    char name[ACCEL_MAX_FUNCTION_NAME]; /* [A-Za-z_][A-Za-z0-9_]*, NUL-terminated */
    uint32_t line;                      /* 1-based line of the declaration */
    uint32_t arg_count;                 /* 0..ACCEL_MAX_ARGS, global id not counted */
    accel_arg_kind arg_kinds[ACCEL_MAX_ARGS];
} cpu_kernel_sig;

/*
 * Parse `size` bytes of `text` (no NUL needed; a NUL byte inside is an
 * error). On success returns ACCEL_SUCCESS and stores a malloc()ed array
 * of *count >= 1 signatures in declaration order in *sigs (free() it), and
 * sets error to "". Otherwise returns ACCEL_ERROR_INVALID_ARGUMENT (with
 * "line L, column C: what" in error) or ACCEL_ERROR_OUT_OF_HOST_MEMORY,
 * and sets *sigs = NULL, *count = 0. error is always NUL-terminated
 * (truncated to error_size) when error_size > 0.
 */
accel_result cpu__metadata_parse(const char *text, size_t size, cpu_kernel_sig **sigs, size_t *count,
                                 char *error, size_t error_size);

/* The metadata keyword of an argument kind ("memory", "u32", ...), or NULL. */
const char *cpu__metadata_kind_name(accel_arg_kind kind);

#endif
