// deflate_layout.glsl — the stream zlib.deflate writes: a zlib header
// (78 01), stored blocks of at most 65535 bytes (one empty block for empty
// input), the Adler-32 of the input (big-endian). Both passes use this.
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer Dst { uint w[]; } dst;
layout(std430, binding = 2) buffer OutSize { uint w[]; } outsz;
layout(std430, binding = 3) buffer Status { uint code; uint a; uint b; } st;
#include "common.glsl"

const uint BLOCK = 65535u;

uint block_count()
{
    return pc.size0 == 0u ? 1u : (pc.size0 + BLOCK - 1u) / BLOCK;
}

// Bytes of the whole stream, trailer included.
uint stream_size()
{
    return 2u + 5u * block_count() + pc.size0 + 4u;
}

bool fits()
{
    return pc.size2 >= 8u && pc.size1 >= stream_size();
}
