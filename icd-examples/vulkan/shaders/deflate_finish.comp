#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// zlib.deflate, last pass: the zlib header (its FLEVEL from the level),
// the Adler-32 of the input chained from the segments' sums, and out_size.
// pc.aux0 is 1 when the stream is deflate_stored's (level 0 or no input),
// whose size follows from the input's. zlib.deflate.stream (DEFLATE_STREAM)
// writes the header only on the first piece, starts Adler-32 from the
// state's, and then either appends the trailer and clears the state
// (final) or keeps Adler-32, started, the input count and the window in
// it.
layout(local_size_x = 1) in;
#include "deflate.glsl"

const uint STATE_BYTES = 32800u;

void put_byte(uint at, uint b)
{
    uint o = pc.off1 + at, sh = (o & 3u) * 8u;
    TPUT_MASKED(dst, o >> 2, b << sh, 0xffu << sh);
}

#ifdef DEFLATE_STREAM
// Byte k of what the state held and src, laid end to end.
uint joined_byte(uint k, uint held)
{
    return k < held ? state_byte(32u + k) : src_byte(k - held);
}

// The bytes of state word (in the binding) wi that lie in [from, to) of
// the state, from value v.
void state_put_word(uint wi, uint v, uint from, uint to)
{
    uint a0 = pc.off3 + from, a1 = pc.off3 + to, mask = 0u;
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        uint a = wi * 4u + j;
        if (a >= a0 && a < a1)
            mask |= 0xffu << (8u * j);
    }
    TPUT_MASKED(stt, wi, v, mask);
}

// The little-endian word v at state byte `at`.
void state_write_le32(uint at, uint v)
{
    uint a = pc.off3 + at;
    for (uint wi = a >> 2; wi <= (a + 3u) >> 2; wi++) {
        uint sh = (a & 3u) * 8u, lo = wi == (a >> 2) ? v << sh : (sh == 0u ? 0u : v >> (32u - sh));
        state_put_word(wi, lo, at, at + 4u);
    }
}
#endif

void main()
{
    if (st.code != 0u)
        return;
#ifdef DEFLATE_STREAM
    if (!state_ok()) {
        st.code = ST_BAD_STATE;
        return;
    }
    uint started = state_u32(4u), head = started != 0u ? 0u : 2u;
    bool fin = piece_final();
#else
    uint started = 0u, head = 2u;
    bool fin = true;
#endif
    uint trailer = fin ? 4u : 0u;
    uint total;
    if (pc.aux0 == 1u) {
        uint nbd = (pc.size0 + 65534u) / 65535u;
        uint blocks = nbd + (pc.size0 == 0u || !fin ? 1u : 0u);
        total = head + 5u * blocks + pc.size0 + trailer;
        if (pc.size2 < 8u || pc.size1 < total) {
            st.code = ST_TOO_SMALL;
            return;
        }
    } else {
        total = st.placed + trailer;
    }
    uint level = pc.pattern;
    if (head != 0u) {
        put_byte(0u, 0x78u);
        put_byte(1u, level <= 1u ? 0x01u : level <= 5u ? 0x5eu : level == 6u ? 0x9cu : 0xdau);
    }
    // Each segment's sums were taken from 0: the running a adds to every
    // one of its b terms.
    uint a = 1u, b = 0u;
#ifdef DEFLATE_STREAM
    if (started != 0u) {
        uint prev = state_u32(0u);
        a = prev & 0xffffu;
        b = prev >> 16;
    }
#endif
    for (uint s = 0u; s < pc.total; s++) {
        uint e = SR(s * SEG_WORDS + SEG_ADLER);
        b = (b + (seg_len(s) % 65521u) * a + (e >> 16)) % 65521u;
        a = (a + (e & 0xffffu)) % 65521u;
    }
    uint adler = (b << 16) | a;
    if (fin)
        for (uint k = 0u; k < 4u; k++)
            put_byte(total - 4u + k, (adler >> (24u - 8u * k)) & 0xffu);
    uint o = pc.off2, sh = (o & 3u) * 8u;
    if (sh == 0u) {
        TST(outsz, o >> 2, total);
        TST(outsz, (o >> 2) + 1u, 0u);
    } else {
        TPUT_MASKED(outsz, o >> 2, total << sh, 0xffffffffu << sh);
        TST(outsz, (o >> 2) + 1u, total >> (32u - sh));
        TPUT_MASKED(outsz, (o >> 2) + 2u, 0u, 0xffffffffu >> (32u - sh));
    }
#ifdef DEFLATE_STREAM
    uint w0 = pc.off3 >> 2;
    if (fin) {
        // A fresh state: all of its bytes zeros.
        uint w1 = (pc.off3 + STATE_BYTES - 1u) >> 2;
        for (uint wi = w0; wi <= w1; wi++)
            state_put_word(wi, 0u, 0u, STATE_BYTES);
        return;
    }
    // The window: the last WINDOW bytes of what was held and src, in
    // ascending order: each byte comes from the same place or later in the
    // state (d >= 0), so the window moves within itself.
    uint held = state_u32(16u), n = pc.size0;
    uint tlo = state_u32(8u), thi = state_u32(12u);
    uint nheld = min(held + n, WINDOW), d = held + n - nheld;
    if (n != 0u) {
        uint a0 = pc.off3 + 32u, a1 = a0 + nheld;
        for (uint wi = a0 >> 2; wi <= (a1 - 1u) >> 2; wi++) {
            uint v = 0u;
            [[unroll]] for (uint j = 0u; j < 4u; j++) {
                uint ab = wi * 4u + j;
                if (ab >= a0 && ab < a1)
                    v |= joined_byte(d + ab - a0, held) << (8u * j);
            }
            state_put_word(wi, v, 32u, 32u + nheld);
        }
    }
    uint nlo = tlo + n, nhi = thi + (nlo < tlo ? 1u : 0u);
    state_write_le32(0u, adler);
    state_write_le32(4u, 1u);
    state_write_le32(8u, nlo);
    state_write_le32(12u, nhi);
    state_write_le32(16u, nheld);
#endif
}
