#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// sha256(src, result): FIPS 180-4, one invocation.
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer Result { uint w[]; } res;
layout(std430, binding = 2) buffer Status { uint code; uint h[8]; } st;

// Bytes per dispatch (vk_builtins.c records ceil(size / CHUNK) dispatches).
const uint CHUNK = 16384u;
#include "common.glsl"

const uint K[64] = uint[](
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u);

uint H[8];
uint W[64];

uint rotr(uint x, uint n)
{
    return (x >> n) | (x << (32u - n));
}

void compress()
{
    [[unroll]] for (int t = 16; t < 64; t++) {
        uint s0 = rotr(W[t - 15], 7u) ^ rotr(W[t - 15], 18u) ^ (W[t - 15] >> 3);
        uint s1 = rotr(W[t - 2], 17u) ^ rotr(W[t - 2], 19u) ^ (W[t - 2] >> 10);
        W[t] = W[t - 16] + s0 + W[t - 7] + s1;
    }
    uint a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
    [[unroll]] for (int t = 0; t < 64; t++) {
        uint t1 = h + (rotr(e, 6u) ^ rotr(e, 11u) ^ rotr(e, 25u)) + ((e & f) ^ (~e & g)) + K[t] + W[t];
        uint t2 = (rotr(a, 2u) ^ rotr(a, 13u) ^ rotr(a, 22u)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d;
    H[4] += e; H[5] += f; H[6] += g; H[7] += h;
}

void main()
{
    if (pc.size1 < 32u) {
        st.code = ST_TOO_SMALL;
        return;
    }
    if (pc.chunk == 0u) {
        H[0] = 0x6a09e667u; H[1] = 0xbb67ae85u; H[2] = 0x3c6ef372u; H[3] = 0xa54ff53au;
        H[4] = 0x510e527fu; H[5] = 0x9b05688cu; H[6] = 0x1f83d9abu; H[7] = 0x5be0cd19u;
    } else {
        for (uint i = 0u; i < 8u; i++)
            H[i] = st.h[i];
    }
    uint n = pc.size0, base = pc.off0;
    uint full = n / 64u;
    uint first = pc.chunk * (CHUNK / 64u), stop = min(full, first + CHUNK / 64u);
    for (uint blk = first; blk < stop; blk++) {
        uint s = base + blk * 64u;
        [[unroll]] for (uint i = 0u; i < 16u; i++)
            W[i] = bswap32(LOAD_U32(src, s + i * 4u));
        compress();
    }
    if ((pc.chunk + 1u) * CHUNK < n) {
        for (uint i = 0u; i < 8u; i++)
            st.h[i] = H[i];
        return;
    }
    // The tail, 0x80, zeros and the bit length: one or two blocks.
    uint rem = n - full * 64u;
    uint tailbase = base + full * 64u;
    uint blocks = rem < 56u ? 1u : 2u;
    for (uint blk = 0u; blk < blocks; blk++) {
        for (uint i = 0u; i < 16u; i++) {
            uint word = 0u;
            for (uint k = 0u; k < 4u; k++) {
                uint j = blk * 64u + i * 4u + k;
                uint byte = j < rem ? RD(src, tailbase + j) : (j == rem ? 0x80u : 0u);
                word = (word << 8) | byte;
            }
            W[i] = word;
        }
        if (blk == blocks - 1u) {
            W[14] = n >> 29;
            W[15] = n << 3;
        }
        compress();
    }
    for (uint i = 0u; i < 8u; i++)
        PUT_U32(res, pc.off1 + i * 4u, bswap32(H[i]));
}
