/*
 * accel_uuid.h — the example drivers' stable device uuids: name-based, in
 * the RFC 4122 version 5 layout, hashed from strings that identify the
 * device (FNV-1a, two ways round), so the same device gets the same uuid
 * on every run.
 *
 * No allocation, no state; thread-safe.
 */
#ifndef ACCEL_UUID_H
#define ACCEL_UUID_H

#include <accel/accel_icd.h>

#include <stddef.h>
#include <stdint.h>

/* The FNV-1a offset bases of the two halves. */
#define ACCEL_UUID_FNV_A 0xcbf29ce484222325ull
#define ACCEL_UUID_FNV_B 0x84222325cbf29ce4ull

/* The two hashes of parts[0..n): *a over them in order from
 * ACCEL_UUID_FNV_A, *b in reverse from ACCEL_UUID_FNV_B; each part is
 * followed by a separator byte (0xff), so that "ab" + "c" and "a" + "bc"
 * hash apart. */
void accel_uuid_hash_parts(const char *const *parts, size_t n, uint64_t *a, uint64_t *b);

/* The uuid of the two 64-bit hashes a and b (big-endian), with the
 * version (5) and variant bits set. */
void accel_uuid_from_hashes(uint64_t a, uint64_t b, uint8_t out[ACCEL_UUID_SIZE]);

/* The uuid of parts[0..n)'s two hashes (accel_uuid_hash_parts). */
void accel_uuid_from_parts(const char *const *parts, size_t n, uint8_t out[ACCEL_UUID_SIZE]);

#endif
