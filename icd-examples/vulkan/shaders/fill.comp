#version 450
#extension GL_GOOGLE_include_directive : require
// accel.fill(dst, pattern): one invocation per destination word, grid-stride.
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Dst { uint w[]; } dst;
layout(std430, binding = 1) buffer Status { uint code; } st;
#include "common.glsl"

void main()
{
    uint n = pc.size0;
    if (n == 0u)
        return;
    uint d0 = pc.off0;
    // Byte a of the binding gets pattern byte (a - d0) & 3: the pattern
    // rotated left by the range's misalignment.
    uint r = (d0 & 3u) * 8u;
    uint val = r == 0u ? pc.pattern : (pc.pattern << r) | (pc.pattern >> (32u - r));
    uint last = (d0 + n - 1u) >> 2;
    uint stride = gl_NumWorkGroups.x * 64u;
    for (uint wi = (d0 >> 2) + gl_GlobalInvocationID.x; wi <= last; wi += stride) {
        uint lo = max(wi * 4u, d0), hi = min(wi * 4u + 4u, d0 + n);
        uint mask = 0u;
        for (uint b = lo; b < hi; b++)
            mask |= 0xffu << ((b & 3u) * 8u);
        PUT_MASKED(dst, wi, val, mask);
    }
}
