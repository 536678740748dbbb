/* accel_sha256_stream.h — sha256.stream (docs/standard-functions.md,
 * "Stream forms"): SHA-256 (FIPS 180-4) whose running state is the
 * function's 112-byte `state` argument in the documented layout, so that
 * a digest begun on one device can be finished on another.
 *
 * Portable C11, no allocation, no dependency; thread-safe for distinct
 * states. */
#ifndef ACCEL_SHA256_STREAM_H
#define ACCEL_SHA256_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACCEL_SHA256_STREAM_STATE_SIZE 112u

/* Absorbs src[0..size) into state (ACCEL_SHA256_STREAM_STATE_SIZE bytes,
 * read and written; zeros start a digest). With final, writes the digest
 * of everything absorbed to digest[0..32) and zeros state. false, with
 * state untouched, when state is not one this function wrote (nor zeros). */
bool accel_sha256_stream(uint8_t *state, const uint8_t *src, uint64_t size, bool final, uint8_t digest[32]);

/* The compression function over nblocks 64-byte blocks (the portable one;
 * exported for drivers that keep their own state). */
void accel_sha256_blocks(uint32_t h[8], const uint8_t *blocks, size_t nblocks);

/* accel_sha256_stream with another compression function of the same
 * contract (a faster one of the platform's). */
typedef void (*accel_sha256_blocks_fn)(uint32_t h[8], const uint8_t *blocks, size_t nblocks);
bool accel_sha256_stream_with(uint8_t *state, const uint8_t *src, uint64_t size, bool final,
                              uint8_t digest[32], accel_sha256_blocks_fn blocks);

#endif
