/* accel_sha256_stream.c — sha256.stream over a portable compression
 * function, accel_sha256_blocks.c's (accel_sha256_stream.h).
 *
 * State layout (docs/standard-functions.md): 0: H0..H7 (u32, valid once
 * `started`); 32: u64 bytes absorbed; 40: 64 bytes, the partial block
 * (total % 64 of them valid); 104: u32 started; 108: u32 0. `started`
 * becomes 1 when the first block is compressed, so a state with started 0
 * has H all zeros and fewer than 64 bytes absorbed. */
#include "accel_sha256_stream.h"

#include <string.h>

static const uint32_t H_INIT[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

enum { ST_H = 0, ST_TOTAL = 32, ST_BLOCK = 40, ST_STARTED = 104, ST_ZERO = 108 };

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

bool accel_sha256_stream(uint8_t *state, const uint8_t *src, uint64_t size, bool final, uint8_t digest[32])
{
    return accel_sha256_stream_with(state, src, size, final, digest, accel_sha256_blocks);
}

bool accel_sha256_stream_with(uint8_t *state, const uint8_t *src, uint64_t size, bool final,
                              uint8_t digest[32], accel_sha256_blocks_fn blocks)
{
    uint32_t started = le32(state + ST_STARTED);
    uint64_t total = (uint64_t)le32(state + ST_TOTAL) | (uint64_t)le32(state + ST_TOTAL + 4) << 32;
    uint32_t h[8];
    if (started > 1 || le32(state + ST_ZERO) != 0)
        return false;
    if (!started) {
        for (int i = 0; i < 32; i++)
            if (state[ST_H + i])
                return false;
        if (total >= 64)
            return false;
        memcpy(h, H_INIT, sizeof(h));
    } else {
        for (int i = 0; i < 8; i++)
            h[i] = le32(state + ST_H + 4 * i);
    }
    if (total + size < total || (total + size) >> 61)
        return false; /* more than 2^64 bits */
    uint8_t *block = state + ST_BLOCK;
    uint32_t fill = (uint32_t)(total % 64);
    total += size;
    if (fill && size) {
        uint32_t take = 64 - fill < size ? 64 - fill : (uint32_t)size;
        memcpy(block + fill, src, take);
        fill += take;
        src += take;
        size -= take;
        if (fill == 64) {
            blocks(h, block, 1);
            started = 1;
            fill = 0;
        }
    }
    if (size >= 64) {
        blocks(h, src, (size_t)(size / 64));
        started = 1;
        src += size - size % 64;
        size %= 64;
    }
    if (size) {
        memcpy(block, src, (size_t)size);
        fill = (uint32_t)size;
    }
    if (final) {
        uint8_t pad[128] = {0};
        memcpy(pad, block, fill);
        pad[fill] = 0x80;
        size_t n = fill < 56 ? 64 : 128;
        uint64_t bits = total * 8;
        for (int i = 0; i < 8; i++)
            pad[n - 1 - i] = (uint8_t)(bits >> (8 * i));
        blocks(h, pad, n / 64);
        for (int i = 0; i < 8; i++) {
            digest[4 * i] = (uint8_t)(h[i] >> 24);
            digest[4 * i + 1] = (uint8_t)(h[i] >> 16);
            digest[4 * i + 2] = (uint8_t)(h[i] >> 8);
            digest[4 * i + 3] = (uint8_t)h[i];
        }
        memset(state, 0, ACCEL_SHA256_STREAM_STATE_SIZE);
        return true;
    }
    if (started)
        for (int i = 0; i < 8; i++)
            put_le32(state + ST_H + 4 * i, h[i]);
    put_le32(state + ST_TOTAL, (uint32_t)total);
    put_le32(state + ST_TOTAL + 4, (uint32_t)(total >> 32));
    memset(block + fill, 0, 64 - fill);
    put_le32(state + ST_STARTED, started);
    return true;
}
