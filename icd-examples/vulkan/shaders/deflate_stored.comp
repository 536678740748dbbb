#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.deflate at level 0, and of no input: the header (78 01) and stored
// blocks of 65535 bytes (one empty block for no input), one invocation per
// output word, grid-stride; deflate_finish writes the trailer. Nothing is
// written unless the whole stream and out_size fit.
layout(local_size_x = 64) in;
#include "deflate.glsl"

const uint BLOCK = 65535u;

// The stream's shape: header bytes (2, or 0 for a stream piece after the
// first), data blocks, and one more empty block for no input (final) or
// after a non-final piece's data (its sync flush).
uint head, nbd, nbt;

uint block_len(uint k)
{
    return k < nbd ? min(pc.size0 - k * BLOCK, BLOCK) : 0u;
}

// Byte q of the stream (q < its size - 4).
uint stream_byte(uint q)
{
    if (q < head)
        return q == 0u ? 0x78u : 0x01u;
    uint r = q - head, k = r / (BLOCK + 5u), j = r % (BLOCK + 5u);
    uint len = block_len(k);
    if (j >= 5u + len) {
        // The empty block after a short last data block.
        j -= 5u + len;
        k++;
        len = 0u;
    }
    switch (j) {
    case 0u: return k == nbt - 1u && piece_final() ? 1u : 0u;
    case 1u: return len & 0xffu;
    case 2u: return len >> 8;
    case 3u: return ~len & 0xffu;
    case 4u: return (~len >> 8) & 0xffu;
    default: return src_byte(k * BLOCK + j - 5u);
    }
}

void main()
{
    if (st.code != 0u)
        return;
#ifdef DEFLATE_STREAM
    head = state_u32(4u) != 0u ? 0u : 2u;
#else
    head = 2u;
#endif
    nbd = (pc.size0 + BLOCK - 1u) / BLOCK;
    nbt = nbd + (pc.size0 == 0u || !piece_final() ? 1u : 0u);
    uint n = head + 5u * nbt + pc.size0;
    if (pc.size2 < 8u || pc.size1 < n + (piece_final() ? 4u : 0u))
        return;
    uint d0 = pc.off1;
    uint last = (d0 + n - 1u) >> 2;
    uint stride = gl_NumWorkGroups.x * 64u;
    for (uint wi = (d0 >> 2) + gl_GlobalInvocationID.x; wi <= last; wi += stride) {
        uint lo = max(wi * 4u, d0), hi = min(wi * 4u + 4u, d0 + n);
        if (hi - lo == 4u && lo - d0 >= head) {
            // Four bytes of one block's data: one unaligned read.
            uint r = lo - d0 - head, j = r % (BLOCK + 5u), k = r / (BLOCK + 5u);
            if (j >= 5u && j + 3u < 5u + block_len(k)) {
                TST(dst, wi, src_u32(k * BLOCK + j - 5u));
                continue;
            }
        }
        uint val = 0u, mask = 0u;
        for (uint b = lo; b < hi; b++) {
            val |= stream_byte(b - d0) << ((b & 3u) * 8u);
            mask |= 0xffu << ((b & 3u) * 8u);
        }
        TPUT_MASKED(dst, wi, val, mask);
    }
}
