/* accel_crc32c.h — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)
 * by slicing-by-8 tables computed from the polynomial: the portable path
 * of the cpu driver and of the uacce emulator, each of which has an
 * instruction path beside it. The caller does the initial and final
 * inversion.
 *
 * Portable C11 and POSIX threads. Thread-safe; accel_crc32c_init must
 * have returned before the other calls. */
#ifndef ACCEL_CRC32C_H
#define ACCEL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Computes the tables, once (later calls wait for the first, then do
 * nothing). */
void accel_crc32c_init(void);

/* crc continued over p[0..n). */
uint32_t accel_crc32c_sliced(uint32_t crc, const uint8_t *p, size_t n);

/* The byte-at-a-time table, table[b] the CRC register after feeding byte b
 * into 0 (for callers that derive their own tables, as the emulator's
 * three-stream join does). */
const uint32_t *accel_crc32c_byte_table(void);

#endif
