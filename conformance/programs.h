/* programs.h — the programs the suite loads: the same function, conf_add,
 * in each format it carries. conf_add(memory data, u32 n, u32 value) adds
 * value to each of the first n 32-bit words of data; work_size[0] = n. */
#ifndef ACCEL_CONFORMANCE_PROGRAMS_H
#define ACCEL_CONFORMANCE_PROGRAMS_H

#include <stddef.h>
#include <stdint.h>

/* OpenCL C source, NUL-terminated. */
extern const char conf_opencl_source[];

/* A SPIR-V compute shader (entry point "main"); size 0 when the build had
 * no glslangValidator. */
extern const uint32_t *const conf_spirv;
extern const size_t conf_spirv_size;

/* The path of the ELF kernel library (docs/programs.md), or "" when it is
 * not found next to the executable nor where it is installed. */
void conf_kernels_path(char *buf, size_t size);

#endif
