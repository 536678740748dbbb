#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.deflate: one invocation lays the wave's segments end to end after
// those of the earlier waves (st.placed, from the 2 header bytes on), and
// fails the call if they, and the 4-byte trailer, would not fit in dst.
// Nothing is written to dst before this has passed for a segment.
layout(local_size_x = 1) in;
#include "deflate.glsl"

void main()
{
    if (st.code != 0u)
        return;
    if (pc.size2 < 8u) {
        st.code = ST_TOO_SMALL;
        return;
    }
#ifdef DEFLATE_STREAM
    uint head = state_u32(4u) != 0u ? 0u : 2u, trailer = piece_final() ? 4u : 0u;
#else
    uint head = 2u, trailer = 4u;
#endif
    uint at = pc.first == 0u ? head : st.placed;
    for (uint slot = 0u; slot < pc.count; slot++) {
        uint e = (pc.first + slot) * SEG_WORDS;
        SW(e + SEG_OFF, at);
        at += SR(e + SEG_SIZE);
    }
    if (at > pc.size1 || pc.size1 - at < trailer) {
        st.code = ST_TOO_SMALL;
        return;
    }
    st.placed = at;
}
