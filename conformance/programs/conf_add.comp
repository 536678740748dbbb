#version 450
// The suite's SPIR-V program: data[i] += value for i < n. By the vulkan
// driver's convention the storage buffers come first (memory arguments),
// then the push constants in order (scalars): (memory, u32, u32).
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Data { uint v[]; } data;
layout(push_constant) uniform Args {
    uint n;
    uint value;
} args;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < args.n)
        data.v[i] += args.value;
}
