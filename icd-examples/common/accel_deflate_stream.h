/* accel_deflate_stream.h — zlib.deflate.stream (docs/standard-functions.md,
 * "Stream forms") over zlib: each call compresses one chunk into a piece of
 * one zlib stream, with the stream's running state (Adler-32, input count,
 * the last 32 KiB of input) in the function's `state` argument, in the
 * documented layout, so that any device can compress the next chunk.
 *
 * Needs zlib and POSIX threads; allocates zlib's compressors for the call.
 * Thread-safe for distinct states. */
#ifndef ACCEL_DEFLATE_STREAM_H
#define ACCEL_DEFLATE_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#define ACCEL_DEFLATE_STREAM_STATE_SIZE 32800u

typedef enum accel_deflate_stream_result {
    ACCEL_DEFLATE_STREAM_OK = 0,
    ACCEL_DEFLATE_STREAM_BAD_STATE = -1, /* state is not one this function wrote, nor zeros */
    ACCEL_DEFLATE_STREAM_BAD_LEVEL = -2, /* level outside -1..9 */
    ACCEL_DEFLATE_STREAM_DST_SMALL = -3, /* the piece does not fit dst */
    ACCEL_DEFLATE_STREAM_NO_MEMORY = -4, /* zlib could not allocate */
} accel_deflate_stream_result;

/* The dst size that always suffices for n bytes of input (the documented
 * bound): n + 5 * ceil(n / 65535) + 16. */
uint64_t accel_deflate_stream_bound(uint64_t n);

/* Compresses src[0..src_size) at level into dst (its piece's length to
 * *out_size), continuing the stream in state (read and written; zeros
 * start a stream). final ends the stream (the last block and the Adler-32)
 * and zeros state. On any failure state is untouched. The piece never
 * exceeds accel_deflate_stream_bound(src_size), whatever dst's size. */
accel_deflate_stream_result accel_deflate_stream(uint8_t *state, const uint8_t *src, uint64_t src_size,
                                                 uint8_t *dst, uint64_t dst_size, int level, bool final,
                                                 uint64_t *out_size);

/* The same with up to `threads` threads (this one included): a chunk of at
 * least 512 KiB is cut into segments of at least 256 KiB compressed side by
 * side, each primed with the 32 KiB before it. The pieces are the same
 * stream form, a few bytes longer per segment. */
accel_deflate_stream_result accel_deflate_stream_mt(uint8_t *state, const uint8_t *src, uint64_t src_size,
                                                    uint8_t *dst, uint64_t dst_size, int level, bool final,
                                                    unsigned threads, uint64_t *out_size);

#endif
