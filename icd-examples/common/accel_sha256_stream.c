/* accel_sha256_stream.c — sha256.stream over a portable compression
 * function (accel_sha256_stream.h).
 *
 * State layout (docs/standard-functions.md): 0: H0..H7 (u32, valid once
 * `started`); 32: u64 bytes absorbed; 40: 64 bytes, the partial block
 * (total % 64 of them valid); 104: u32 started; 108: u32 0. `started`
 * becomes 1 when the first block is compressed, so a state with started 0
 * has H all zeros and fewer than 64 bytes absorbed. */
#include "accel_sha256_stream.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H_INIT[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

enum { ST_H = 0, ST_TOTAL = 32, ST_BLOCK = 40, ST_STARTED = 104, ST_ZERO = 108 };

static uint32_t ror(uint32_t x, unsigned n)
{
    return x >> n | x << (32 - n);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void accel_sha256_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    for (; nblocks; nblocks--, p += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
            w[i] = be32(p + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
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
