#version 450
#extension GL_GOOGLE_include_directive : require
// crc32c(src, result): the workgroup builds slicing-by-4 tables in shared
// memory, then one invocation runs over the input.
layout(local_size_x = 64) in;
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer Result { uint w[]; } res;
layout(std430, binding = 2) buffer Status { uint code; uint crc; } st;

// Bytes per dispatch (vk_builtins.c records ceil(size / CHUNK) dispatches).
const uint CHUNK = 131072u;
#include "common.glsl"

shared uint T0[256];
shared uint T1[256];
shared uint T2[256];
shared uint T3[256];

void main()
{
    uint li = gl_LocalInvocationID.x;
    for (uint i = li; i < 256u; i += 64u) {
        uint c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) != 0u ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        T0[i] = c;
    }
    barrier();
    for (uint i = li; i < 256u; i += 64u)
        T1[i] = (T0[i] >> 8) ^ T0[T0[i] & 0xffu];
    barrier();
    for (uint i = li; i < 256u; i += 64u)
        T2[i] = (T1[i] >> 8) ^ T0[T1[i] & 0xffu];
    barrier();
    for (uint i = li; i < 256u; i += 64u)
        T3[i] = (T2[i] >> 8) ^ T0[T2[i] & 0xffu];
    barrier();
    if (li != 0u || gl_WorkGroupID.x != 0u)
        return;
    if (pc.size1 < 4u) {
        st.code = ST_TOO_SMALL;
        return;
    }
    uint crc = pc.chunk == 0u ? 0xffffffffu : st.crc;
    uint p = pc.off0 + pc.chunk * CHUNK;
    uint end = pc.off0 + min(pc.size0, (pc.chunk + 1u) * CHUNK);
    while (p < end && (p & 3u) != 0u) {
        crc = T0[(crc ^ RD(src, p)) & 0xffu] ^ (crc >> 8);
        p++;
    }
    while (end - p >= 4u) {
        crc ^= src.w[p >> 2];
        crc = T3[crc & 0xffu] ^ T2[(crc >> 8) & 0xffu] ^ T1[(crc >> 16) & 0xffu] ^ T0[crc >> 24];
        p += 4u;
    }
    while (p < end) {
        crc = T0[(crc ^ RD(src, p)) & 0xffu] ^ (crc >> 8);
        p++;
    }
    st.crc = crc;
    if ((pc.chunk + 1u) * CHUNK < pc.size0)
        return;
    PUT_U32(res, pc.off1, ~crc);
}
