/* emu_hash.h — CRC-32C and SHA-256 engines of the uacce emulator. */
#ifndef EMU_HASH_H
#define EMU_HASH_H

#include <stddef.h>
#include <stdint.h>

void emu_crc32c_init(void);
/* Raw update: the caller applies the initial value and final XOR. */
uint32_t emu_crc32c_update(uint32_t crc, const void *data, size_t size);

typedef struct emu_sha256 {
    uint32_t h[8];
    uint64_t length;
    uint8_t block[64];
    size_t used;
} emu_sha256;
void emu_sha256_init(emu_sha256 *s);
void emu_sha256_update(emu_sha256 *s, const void *data, size_t size);
void emu_sha256_final(emu_sha256 *s, uint8_t out[32]);

#endif
