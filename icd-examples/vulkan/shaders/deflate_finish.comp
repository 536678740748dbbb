#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.deflate, last pass: the zlib header (its FLEVEL from the level),
// the Adler-32 of the input chained from the segments' sums, and out_size.
// pc.aux0 is 1 when the stream is deflate_stored's (level 0 or no input),
// whose size follows from the input's.
layout(local_size_x = 1) in;
#include "deflate.glsl"

void put_byte(uint at, uint b)
{
    uint o = pc.off1 + at, sh = (o & 3u) * 8u;
    TPUT_MASKED(dst, o >> 2, b << sh, 0xffu << sh);
}

void main()
{
    if (st.code != 0u)
        return;
    uint total;
    if (pc.aux0 == 1u) {
        uint blocks = pc.size0 == 0u ? 1u : (pc.size0 + 65534u) / 65535u;
        total = 2u + 5u * blocks + pc.size0 + 4u;
        if (pc.size2 < 8u || pc.size1 < total) {
            st.code = ST_TOO_SMALL;
            return;
        }
    } else {
        total = st.placed + 4u;
    }
    uint level = pc.pattern;
    put_byte(0u, 0x78u);
    put_byte(1u, level <= 1u ? 0x01u : level <= 5u ? 0x5eu : level == 6u ? 0x9cu : 0xdau);
    // Each segment's sums were taken from 0: the running a adds to every
    // one of its b terms.
    uint a = 1u, b = 0u;
    for (uint s = 0u; s < pc.total; s++) {
        uint e = SR(s * SEG_WORDS + SEG_ADLER);
        b = (b + (seg_len(s) % 65521u) * a + (e >> 16)) % 65521u;
        a = (a + (e & 0xffffu)) % 65521u;
    }
    uint adler = (b << 16) | a;
    for (uint k = 0u; k < 4u; k++)
        put_byte(total - 4u + k, (adler >> (24u - 8u * k)) & 0xffu);
    uint o = pc.off2, sh = (o & 3u) * 8u;
    if (sh == 0u) {
        TST(outsz, o >> 2, total);
        TST(outsz, (o >> 2) + 1u, 0u);
    } else {
        TPUT_MASKED(outsz, o >> 2, total << sh, 0xffffffffu << sh);
        TST(outsz, (o >> 2) + 1u, total >> (32u - sh));
        TPUT_MASKED(outsz, (o >> 2) + 2u, 0u, 0xffffffffu >> (32u - sh));
    }
}
