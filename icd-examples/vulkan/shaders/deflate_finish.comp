#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.deflate, pass 2: checks, Adler-32 trailer and out_size, one invocation,
// chunked: vk_builtins.c records ceil(size / CHUNK) dispatches.
layout(local_size_x = 1) in;
#include "deflate_layout.glsl"

const uint CHUNK = 131072u;

void main()
{
    if (!fits()) {
        st.code = ST_TOO_SMALL;
        return;
    }
    uint a = pc.chunk == 0u ? 1u : st.a, b = pc.chunk == 0u ? 0u : st.b;
    uint p = pc.off0 + pc.chunk * CHUNK, end = pc.off0 + min(pc.size0, (pc.chunk + 1u) * CHUNK);
    while (p < end) {
        uint chunk = min(end - p, 5552u);
        uint stop = p + chunk;
        while (p < stop && (p & 3u) != 0u) {
            a += RD(src, p);
            b += a;
            p++;
        }
        while (stop - p >= 4u) {
            uint v = src.w[p >> 2];
            a += v & 0xffu;
            b += a;
            a += (v >> 8) & 0xffu;
            b += a;
            a += (v >> 16) & 0xffu;
            b += a;
            a += v >> 24;
            b += a;
            p += 4u;
        }
        while (p < stop) {
            a += RD(src, p);
            b += a;
            p++;
        }
        a %= 65521u;
        b %= 65521u;
    }
    st.a = a;
    st.b = b;
    if ((pc.chunk + 1u) * CHUNK < pc.size0)
        return;
    uint total = stream_size();
    PUT_U32(dst, pc.off1 + total - 4u, bswap32((b << 16) | a));
    PUT_U32(outsz, pc.off2, total);
    PUT_U32(outsz, pc.off2 + 4u, 0u);
}
