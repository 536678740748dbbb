/* inflate_stream.cl — zlib.inflate.stream (docs/standard-functions.md,
 * "Stream forms") as one work-item. The program is three texts, in this
 * order: icd-examples/common/accel_inflate_stream.h, accel_inflate_stream.c
 * (the portable streaming inflater, which compiles as OpenCL C too) and
 * this kernel, so that the device runs the very state machine whose state
 * is the documented layout, and a stream moves to and from the other
 * drivers' devices between two chunks.
 *
 * Ranges are (buffer, offset, size) as in builtins.cl; the driver has
 * checked the sizes of progress and state and that state overlaps no other
 * argument. status[0] gets 0 (progress written), 1 (a corrupt stream) or 2
 * (a state no zlib.inflate.stream wrote); the driver reads it back into the
 * fence. */

__kernel void accel_inflate_stream_run(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst,
                                       ulong dst_off, ulong dst_size, __global uchar *progress, ulong progress_off,
                                       __global uchar *state, ulong state_off, __global uint *status)
{
    ulong used = 0, wrote = 0;
    accel_inflate_status r =
        accel_inflate_stream(state + state_off, src + src_off, n, dst + dst_off, dst_size, &used, &wrote);
    if (r < 0) {
        status[0] = r == ACCEL_INFLATE_BAD_STATE ? 2u : 1u;
        return;
    }
    __global uchar *p = progress + progress_off;
    for (int i = 0; i < 8; i++) {
        p[i] = (uchar)(used >> (8 * i));
        p[8 + i] = (uchar)(wrote >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        p[16 + i] = (uchar)((uint)r >> (8 * i));
        p[20 + i] = 0;
    }
    status[0] = 0;
}
