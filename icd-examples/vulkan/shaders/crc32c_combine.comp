#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// crc32c(src, result), pass 2: one invocation chains the registers of the
// pc.total parts: the register after data A then B is reg(A) * x^(8 |B|)
// + reg0(B) over GF(2) modulo the polynomial, where reg0 starts from 0.
// The driver pushes x^(8 |part|) (aux0) and x^(8 |last part|) (aux1),
// so each part costs one multiplication.
// crc32c.stream(src, state) runs the same passes with aux2 = 1: binding 1
// is the state, whose finished CRC of the bytes before src is un-finished
// (complemented) into the register the chain starts from, so that the
// register after it and src is reg(before) * x^(8 |src|) + reg0(src).
layout(local_size_x = 1) in;
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer res;
layout(std430, binding = 2) buffer Status { uint code; } st;
layout(binding = 3, r32ui) uniform uimageBuffer scratch;
#include "common.glsl"
#include "crc32c.glsl"

void main()
{
    if (pc.size1 < 4u) {
        st.code = ST_TOO_SMALL;
        return;
    }
    uint o = pc.off1, s = (o & 3u) * 8u;
    uint c = 0xffffffffu;
    if (pc.aux2 != 0u) {
        c = TLD(res, o >> 2);
        if (s != 0u)
            c = (c >> s) | (TLD(res, (o >> 2) + 1u) << (32u - s));
        c = ~c;
    }
    for (uint k = 0u; k < pc.total; k++)
        c = crc32c_mul(c, k + 1u == pc.total ? pc.aux1 : pc.aux0) ^ TLD(scratch, k);
    c = ~c;
    if (s == 0u) {
        TST(res, o >> 2, c);
    } else {
        TPUT_MASKED(res, o >> 2, c << s, 0xffffffffu << s);
        TPUT_MASKED(res, (o >> 2) + 1u, c >> (32u - s), 0xffffffffu >> (32u - s));
    }
}
