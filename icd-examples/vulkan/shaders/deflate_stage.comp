#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// zlib.deflate.stream, first pass: checks the state (a state no
// zlib.deflate.stream wrote fails the call, ST_BAD_STATE, before anything
// is written), and stages the window it holds and then the first segment
// of src in the scratch stage (STAGE_WORD0), where deflate_lz77 matches
// that segment, so that its matches reach back into earlier calls' input.
// One invocation per stage word, grid-stride; nothing is staged for no
// input or level 0 (pc.aux0 is 0: nothing is matched then).
layout(local_size_x = 64) in;
#define DEFLATE_STREAM 1
#include "deflate.glsl"

void main()
{
    if (!state_ok()) {
        if (gl_GlobalInvocationID.x == 0u)
            st.code = ST_BAD_STATE;
        return;
    }
    if (pc.aux0 == 0u)
        return;
    uint held = state_u32(16u), n = held + min(pc.size0, DEFLATE_SEGMENT);
    uint words = (n + 3u) >> 2, stride = gl_NumWorkGroups.x * 64u;
    for (uint wi = gl_GlobalInvocationID.x; wi < words; wi += stride) {
        uint v = 0u;
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            uint k = wi * 4u + j;
            uint b = k < held ? state_byte(32u + k) : k < n ? src_byte(k - held) : 0u;
            v |= b << (8u * j);
        }
        SW(STAGE_WORD0 + wi, v);
    }
}
