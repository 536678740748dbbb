#version 450
#extension GL_GOOGLE_include_directive : require
// accel.copy(src, dst): one invocation per destination word, grid-stride.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer Dst { uint w[]; } dst;
layout(std430, binding = 2) buffer Status { uint code; } st;
#include "common.glsl"

void main()
{
    uint n = pc.size0;
    if (pc.size1 < n) {
        if (gl_GlobalInvocationID.x == 0u)
            st.code = ST_TOO_SMALL;
        return;
    }
    if (n == 0u)
        return;
    uint d0 = pc.off1, s0 = pc.off0;
    uint last = (d0 + n - 1u) >> 2;
    uint stride = gl_NumWorkGroups.x * 64u;
    for (uint wi = (d0 >> 2) + gl_GlobalInvocationID.x; wi <= last; wi += stride) {
        uint lo = max(wi * 4u, d0), hi = min(wi * 4u + 4u, d0 + n);
        if (hi - lo == 4u) {
            uint s = s0 + (lo - d0);
            dst.w[wi] = LOAD_U32(src, s);
        } else {
            uint val = 0u, mask = 0u;
            for (uint b = lo; b < hi; b++) {
                val |= RD(src, s0 + (b - d0)) << ((b & 3u) * 8u);
                mask |= 0xffu << ((b & 3u) * 8u);
            }
            PUT_MASKED(dst, wi, val, mask);
        }
    }
}
