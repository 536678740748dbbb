// scale: data[i] *= factor for i < n. Signature (memory, u32, f32).
__kernel void scale(__global float *data, uint n, float factor)
{
    size_t i = get_global_id(0);
    if (i < n)
        data[i] *= factor;
}
