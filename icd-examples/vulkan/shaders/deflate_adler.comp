#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// zlib.deflate: the Adler-32 sums of every segment (a and b started from
// 0) into its SEG_ADLER, one invocation per segment; deflate_finish
// chains them. Words are read aligned; the segment's first bytes come
// from the word that holds them.
layout(local_size_x = 8) in;
#include "deflate.glsl"

void main()
{
    uint s = gl_GlobalInvocationID.x;
    if (s >= pc.total)
        return;
    uint p = pc.off0 + s * DEFLATE_SEGMENT, end = p + seg_len(s);
    uint a = 0u, b = 0u;
    // At most 5552 bytes between reductions keeps b below 2^32.
    while (p < end) {
        uint stop = min(end, p + 5552u);
        while (p < stop && (p & 3u) != 0u) {
            a += TRD(src, p);
            b += a;
            p++;
        }
        while (stop - p >= 4u) {
            uint v = TLD(src, p >> 2);
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
            a += TRD(src, p);
            b += a;
            p++;
        }
        a %= 65521u;
        b %= 65521u;
    }
    SW(s * SEG_WORDS + SEG_ADLER, (b << 16) | a);
}
