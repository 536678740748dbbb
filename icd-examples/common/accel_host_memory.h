/*
 * accel_host_memory.h — memory_write and memory_read (accel_icd.h) for a
 * driver whose memory objects are bytes in the host's address space that
 * it may memcpy (the cpu driver's, the WarpDrive driver's shared
 * mappings): the range check and the copy.
 *
 * No allocation, no lock; thread-safe as far as the caller's bytes are.
 */
#ifndef ACCEL_HOST_MEMORY_H
#define ACCEL_HOST_MEMORY_H

#include <accel/accel_icd.h>

#include <stdint.h>

/*
 * Copy `size` bytes from src to offset `offset` of the `len` bytes at
 * base, or the other way. ACCEL_ERROR_INVALID_ARGUMENT, with nothing
 * copied, when [offset, offset + size) does not lie within the len bytes,
 * or src (dst) is NULL and size is not 0. base may be NULL when len is 0.
 */
accel_icd_result accel_host_memory_write(uint8_t *base, uint64_t len, uint64_t offset, const void *src,
                                         uint64_t size);
accel_icd_result accel_host_memory_read(const uint8_t *base, uint64_t len, uint64_t offset, void *dst,
                                        uint64_t size);

#endif
