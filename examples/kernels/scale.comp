#version 450
// scale: data[i] *= factor for i < n. Signature (memory, u32, f32): the
// vulkan driver takes memory arguments as storage buffers (set 0, binding
// in order) and scalars as push constants in order.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Data { float v[]; } data;
layout(push_constant) uniform Args {
    uint n;
    float factor;
} args;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < args.n)
        data.v[i] *= args.factor;
}
