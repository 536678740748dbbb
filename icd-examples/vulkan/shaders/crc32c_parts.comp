#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// crc32c(src, result), pass 1: invocation k computes the CRC register of
// part k, bytes [k * pc.aux0, (k + 1) * pc.aux0) of src, started from 0
// (no initial value, no final XOR), into scratch word k; pass 2
// (crc32c_combine) chains the parts. Parts start at the same offset modulo
// 4 (aux0 is a multiple of 16): a few bytes up to a word boundary, 16
// bytes a step, then the rest.
layout(local_size_x = 8) in;
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer res;
layout(std430, binding = 2) buffer Status { uint code; } st;
layout(binding = 3, r32ui) uniform uimageBuffer scratch;
#include "common.glsl"
#include "crc32c.glsl"

void main()
{
    uint k = gl_GlobalInvocationID.x;
    if (k >= pc.total)
        return;
    uint p = pc.off0 + k * pc.aux0;
    uint end = pc.off0 + min(pc.size0, (k + 1u) * pc.aux0);
    uint c = 0u;
    while (p < end && (p & 3u) != 0u) {
        c = crc32c_byte(c, TRD(src, p));
        p++;
    }
    uint w = p >> 2;
    while (end - p >= 16u) {
        c = crc32c_word(c ^ TLD(src, w));
        c = crc32c_word(c ^ TLD(src, w + 1u));
        c = crc32c_word(c ^ TLD(src, w + 2u));
        c = crc32c_word(c ^ TLD(src, w + 3u));
        w += 4u;
        p += 16u;
    }
    while (end - p >= 4u) {
        c = crc32c_word(c ^ TLD(src, w));
        w++;
        p += 4u;
    }
    while (p < end) {
        c = crc32c_byte(c, TRD(src, p));
        p++;
    }
    TST(scratch, k, c);
}
