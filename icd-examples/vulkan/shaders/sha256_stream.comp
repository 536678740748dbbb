#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// sha256.stream(src, state, result, final): one invocation absorbs src into
// the documented state (docs/standard-functions.md, "Stream forms": 0: H0..H7,
// valid once `started`; 32: u64 bytes absorbed; 40: the partial block,
// total % 64 bytes of it valid, the rest zeros; 104: u32 started; 108: u32
// 0) and, when final is not 0, writes the digest to result and leaves the
// state zeros.
//
// Like sha256, CHUNK bytes of src per dispatch (llvmpipe's loop limit),
// the running values carried in the status binding: dispatch 0 loads and
// checks the state and completes its partial block from the first bytes
// of src (`take`); every dispatch compresses its share of the whole blocks
// after those; the last one keeps the rest as the new partial block and
// writes the state back (or the digest).
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer State { uint w[]; } stt;
layout(std430, binding = 2) buffer Result { uint w[]; } res;
layout(std430, binding = 3) buffer Status {
    uint code;
    uint h[8];
    uint started;
    uint take;   // bytes of src that went into the state's partial block
    uint fill;   // bytes in blk
    uint tlo, thi; // bytes absorbed, with this call's src
    uint blk[16];  // the partial block, bytes little-endian in words
} st;

// Bytes per dispatch (vk_builtins.c: pass_chunk); a multiple of 64.
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
uint B[16];

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

// The partial block B, bytes [0, 64).
void compress_b()
{
    [[unroll]] for (int i = 0; i < 16; i++)
        W[i] = bswap32(B[i]);
    compress();
}

void put_b(uint j, uint byte)
{
    B[j >> 2] |= byte << ((j & 3u) * 8u);
}

void main()
{
    if (st.code != 0u)
        return;
    uint n = pc.size0, base = pc.off0, so = pc.off1;
    uint started, take, fill, tlo, thi;
    if (pc.chunk == 0u) {
        started = LOAD_U32(stt, so + 104u);
        tlo = LOAD_U32(stt, so + 32u);
        thi = LOAD_U32(stt, so + 36u);
        bool bad = started > 1u || LOAD_U32(stt, so + 108u) != 0u;
        uint any = 0u;
        for (uint i = 0u; i < 8u; i++) {
            H[i] = LOAD_U32(stt, so + i * 4u);
            any |= H[i];
        }
        if (started == 0u) {
            bad = bad || any != 0u || thi != 0u || tlo >= 64u;
            H[0] = 0x6a09e667u; H[1] = 0xbb67ae85u; H[2] = 0x3c6ef372u; H[3] = 0xa54ff53au;
            H[4] = 0x510e527fu; H[5] = 0x9b05688cu; H[6] = 0x1f83d9abu; H[7] = 0x5be0cd19u;
        }
        // More than 2^64 bits in all.
        uint nlo = tlo + n, nhi = thi + (nlo < tlo ? 1u : 0u);
        bad = bad || nhi < thi || (nhi >> 29) != 0u;
        if (bad) {
            st.code = ST_BAD_STATE;
            return;
        }
        fill = tlo & 63u;
        tlo = nlo;
        thi = nhi;
        for (uint i = 0u; i < 16u; i++) {
            uint v = LOAD_U32(stt, so + 40u + i * 4u);
            B[i] = i * 4u >= fill ? 0u : (i * 4u + 4u <= fill ? v : v & ((1u << ((fill - i * 4u) * 8u)) - 1u));
        }
        take = 0u;
        if (fill != 0u) {
            take = min(64u - fill, n);
            for (uint j = 0u; j < take; j++)
                put_b(fill + j, RD(src, base + j));
            fill += take;
            if (fill == 64u) {
                compress_b();
                started = 1u;
                fill = 0u;
                for (uint i = 0u; i < 16u; i++)
                    B[i] = 0u;
            }
        }
        st.take = take;
        st.fill = fill;
        st.tlo = tlo;
        st.thi = thi;
    } else {
        for (uint i = 0u; i < 8u; i++)
            H[i] = st.h[i];
        started = st.started;
        take = st.take;
        fill = st.fill;
        tlo = st.tlo;
        thi = st.thi;
        for (uint i = 0u; i < 16u; i++)
            B[i] = st.blk[i];
    }
    // Whole blocks after take, CHUNK / 64 of them per dispatch.
    uint rest = n - take, nb = rest / 64u;
    uint first = pc.chunk * (CHUNK / 64u), stop = min(nb, first + CHUNK / 64u);
    for (uint b = first; b < stop; b++) {
        uint s = base + take + b * 64u;
        [[unroll]] for (uint i = 0u; i < 16u; i++)
            W[i] = bswap32(LOAD_U32(src, s + i * 4u));
        compress();
        started = 1u;
    }
    if ((pc.chunk + 1u) * CHUNK < n) {
        for (uint i = 0u; i < 8u; i++)
            st.h[i] = H[i];
        st.started = started;
        for (uint i = 0u; i < 16u; i++)
            st.blk[i] = B[i];
        return;
    }
    // The rest of src (only when the partial block was completed or empty).
    uint at = base + take + nb * 64u, rem = rest - nb * 64u;
    for (uint j = 0u; j < rem; j++)
        put_b(fill + j, RD(src, at + j));
    fill += rem;
    if (pc.pattern != 0u) {
        // The padding: 0x80, zeros and the bit length; one or two blocks.
        put_b(fill, 0x80u);
        if (fill >= 56u) {
            compress_b();
            for (uint i = 0u; i < 16u; i++)
                B[i] = 0u;
        }
        [[unroll]] for (int i = 0; i < 14; i++)
            W[i] = bswap32(B[i]);
        W[14] = (thi << 3) | (tlo >> 29);
        W[15] = tlo << 3;
        compress();
        for (uint i = 0u; i < 8u; i++)
            PUT_U32(res, pc.off2 + i * 4u, bswap32(H[i]));
        for (uint i = 0u; i < 28u; i++)
            PUT_U32(stt, so + i * 4u, 0u);
        return;
    }
    if (started != 0u)
        for (uint i = 0u; i < 8u; i++)
            PUT_U32(stt, so + i * 4u, H[i]);
    PUT_U32(stt, so + 32u, tlo);
    PUT_U32(stt, so + 36u, thi);
    for (uint i = 0u; i < 16u; i++)
        PUT_U32(stt, so + 40u + i * 4u, B[i]);
    PUT_U32(stt, so + 104u, started);
}
