/* icd_support.h — what the example drivers' tests share beyond
 * icd_harness.h, where it needs cmocka, zlib or libcrypto: the standard
 * functions computed plainly in C (crc32c), by OpenSSL (sha256) and by
 * zlib itself to compare with, a call on a queue of its own, and a clock for the timings they
 * print. Compiled from icd_support.c into each test of tests/icd/<driver>/.
 *
 * Helpers that cannot go on (zlib fails, a queue cannot be made) fail the
 * running cmocka test instead of returning an error. */
#ifndef ACCEL_ICD_SUPPORT_H
#define ACCEL_ICD_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "icd_harness.h"

/* CRC-32C (Castagnoli, reflected, initial and final value all ones) of
 * p[0..n), by a table. Not thread-safe on its first call (it fills its
 * table then). */
uint32_t ref_crc32c(const uint8_t *p, size_t n);
/* The same one bit at a time, straight from the definition. */
uint32_t ref_crc32c_bitwise(const uint8_t *p, size_t n);
/* SHA-256 of p[0..n) into out, by OpenSSL's libcrypto. */
void ref_sha256(const uint8_t *p, size_t n, uint8_t out[32]);
/* A zlib stream of data[0..n) made by zlib itself at `level` with
 * `strategy` (Z_DEFAULT_STRATEGY, Z_FIXED, ...); its length in *out_len.
 * The caller frees it. */
uint8_t *zlib_compress(const uint8_t *data, size_t n, int level, int strategy, size_t *out_len);

/* ih_run on a queue of dev made for the call and destroyed after: for
 * calls expected to fail (a failed call breaks its queue). */
accel_result run_on_fresh_queue(ih_driver *d, void *dev, void *fn, const accel_icd_arg *args, uint32_t argc);

/* Seconds on the monotonic clock. */
double now_s(void);

#endif
