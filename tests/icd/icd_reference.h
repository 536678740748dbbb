/* icd_reference.h — what the example drivers' tests compare with: the
 * standard functions computed plainly in C (crc32c, sha256) and by zlib
 * itself, and a clock for the timings they print. For tests of the example
 * drivers (tests/icd/<driver>/); compiled from icd_reference.c into each. */
#ifndef ACCEL_ICD_REFERENCE_H
#define ACCEL_ICD_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli, reflected, initial and final value all ones) of
 * p[0..n). Not thread-safe on its first call (it fills its table then). */
uint32_t ref_crc32c(const uint8_t *p, size_t n);
/* SHA-256 of p[0..n) into out. */
void ref_sha256(const uint8_t *p, size_t n, uint8_t out[32]);
/* A zlib stream of data[0..n) made by zlib itself at `level` with
 * `strategy` (Z_DEFAULT_STRATEGY, Z_FIXED, ...); its length in *out_len.
 * The caller frees it; a zlib failure fails the running cmocka test. */
uint8_t *zlib_compress(const uint8_t *data, size_t n, int level, int strategy, size_t *out_len);
/* Seconds on the monotonic clock. */
double now_s(void);

#endif
