/* accel_inflate_stream.h — zlib.inflate.stream (docs/standard-functions.md,
 * "Stream forms"): a streaming zlib (RFC 1950/1951) decoder whose whole
 * state lives in the function's `state` argument, in the layout that
 * document fixes, so that a stream decoded partly here can go on on any
 * device of any driver.
 *
 * Portable C11, no allocation, no globals, no dependency: the example
 * drivers and the uacce emulator compile it in. It is a parser of hostile
 * input (tests/fuzz/fuzz_inflate_stream.c). Thread-safe for distinct
 * states. */
#ifndef ACCEL_INFLATE_STREAM_H
#define ACCEL_INFLATE_STREAM_H

#ifdef __OPENCL_C_VERSION__
/* Compiled as OpenCL C too (icd-examples/opencl runs it as a kernel): the
 * fixed-width types are OpenCL C's, and state, src and dst are __global. */
typedef uchar uint8_t;
typedef ushort uint16_t;
typedef uint uint32_t;
typedef ulong uint64_t;
#define ACCEL_INFLATE_GLOBAL __global
#else
#include <stddef.h>
#include <stdint.h>
#define ACCEL_INFLATE_GLOBAL
#endif

/* The bytes of `state` the function uses (the layout's size). */
#define ACCEL_INFLATE_STREAM_STATE_SIZE 33984u

typedef enum accel_inflate_status {
    ACCEL_INFLATE_NEED_INPUT = 0, /* all of src consumed, the stream goes on */
    ACCEL_INFLATE_END = 1,        /* the stream ended and its Adler-32 matched */
    ACCEL_INFLATE_DST_FULL = 2,   /* dst has no room for the next byte */
    ACCEL_INFLATE_CORRUPT = -1,   /* the input is not a zlib stream */
    ACCEL_INFLATE_BAD_STATE = -2, /* state is not one this function wrote, nor zeros */
} accel_inflate_status;

/* Decodes src[0..src_size) into dst[0..dst_size) as far as both allow,
 * continuing the stream `state` describes (ACCEL_INFLATE_STREAM_STATE_SIZE
 * bytes, read and written; zeros start a stream). *consumed gets the bytes
 * of src taken (kept in state when they do not yet make a whole symbol or
 * header), *written the bytes written to dst. src and dst may be NULL when
 * their size is 0; they must not overlap state. On a negative status,
 * state, *consumed and *written are unspecified. */
accel_inflate_status accel_inflate_stream(ACCEL_INFLATE_GLOBAL uint8_t *state,
                                          ACCEL_INFLATE_GLOBAL const uint8_t *src, uint64_t src_size,
                                          ACCEL_INFLATE_GLOBAL uint8_t *dst, uint64_t dst_size,
                                          uint64_t *consumed, uint64_t *written);

#endif
