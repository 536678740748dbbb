#version 450
// A user kernel for the vulkan driver's tests: data[i] *= factor for i < n.
// Signature by the driver's convention: (memory data, f32 factor, u32 n).
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) buffer Data { float v[]; } data;
layout(push_constant) uniform Args {
    float factor;
    uint n;
} args;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < args.n)
        data.v[i] *= args.factor;
}
