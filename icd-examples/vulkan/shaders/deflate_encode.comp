#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// zlib.deflate, output: invocation `slot` writes its segment into dst at
// the offset deflate_place gave it, as deflate_huff chose: one dynamic or
// fixed block of its symbols (then an empty stored block, but in the last
// segment, which sets BFINAL), or one stored block of its bytes. Bits go
// LSB first into a word that is written when full; the first and last
// words are shared with the neighbouring segments (or lie partly outside
// dst's range), so only this segment's bytes of them are written, with
// atomics. Resumable over the dispatches the driver records (pc.aux0),
// one symbol or 4 stored bytes per loop pass.
layout(local_size_x = 8) in;
#include "deflate.glsl"

const uint SOFT = 60000u;

uint acc, cnt, wpos, lowmask;

void put(uint v, uint n)
{
    uint hi = cnt == 0u ? 0u : v >> (32u - cnt);
    acc |= v << cnt;
    cnt += n;
    if (cnt >= 32u) {
        TPUT_MASKED(dst, wpos, acc, lowmask);
        wpos++;
        lowmask = 0xffffffffu;
        acc = hi;
        cnt -= 32u;
    }
}

void pad_to_byte()
{
    put(0u, (8u - (cnt & 7u)) & 7u);
}

void main()
{
    uint slot = gl_GlobalInvocationID.x;
    if (slot >= pc.count || st.code != 0u)
        return;
    uint s = pc.first + slot, base = slot_base(slot);
    uint sb = base + SLOT_STATE, cb = base + SLOT_CODES, hb = base + SLOT_HDR;
    uint kind = SR(sb + S_KIND), len = seg_len(s), start = s * DEFLATE_SEGMENT;
    uint bfinal = seg_bfinal(s) ? 1u : 0u;
    uint phase, i;
    if (pc.step == 0u) {
        uint b0 = pc.off1 + SR(s * SEG_WORDS + SEG_OFF);
        wpos = b0 >> 2;
        cnt = (b0 & 3u) * 8u;
        lowmask = 0xffffffffu << cnt;
        acc = 0u;
        phase = 0u;
        i = 0u;
    } else {
        phase = SR(sb + S_EPHASE);
        i = SR(sb + S_EI);
        acc = SR(sb + S_ACC);
        cnt = SR(sb + S_CNT);
        wpos = SR(sb + S_WPOS);
        lowmask = SR(sb + S_LOWMASK);
    }
    if (phase == 2u)
        return;
    uint work = 0u;
    if (phase == 0u) {
        if (kind == KIND_STORED) {
            put(bfinal, 3u);
            pad_to_byte();
            put(len | ((~len & 0xffffu) << 16), 32u);
        } else {
            put(bfinal | ((kind == KIND_FIXED ? 1u : 2u) << 1), 3u);
            if (kind == KIND_DYNAMIC) {
                uint hclen = SR(sb + S_HCLEN), nhdr = SR(sb + S_NHDR);
                put(SR(sb + S_HLIT) - 257u, 5u);
                put(SR(sb + S_HDIST) - 1u, 5u);
                put(hclen - 4u, 4u);
                for (uint k = 0u; k < hclen; k++)
                    put(SR(hb + HDR_CLCODES + cl_order(k)) >> 16, 3u);
                for (uint k = 0u; k < nhdr; k++) {
                    uint e = SR(hb + k), sym = e & 255u, c = SR(hb + HDR_CLCODES + sym);
                    put(c & 0xffffu, c >> 16);
                    put(e >> 8, sym == 16u ? 2u : sym == 17u ? 3u : sym == 18u ? 7u : 0u);
                }
                work += 19u + 320u + 2u; // the most either loop can take
            }
        }
        phase = 1u;
    }
    // The vector runs both loops below, as long as its longest lanes.
    work = subgroupMax(work) + 2u;
    uint end = kind == KIND_STORED ? len : SR(sb + S_NSYM);
    if (kind == KIND_STORED) {
        while (i < end && work < SOFT) {
            uint k = min(4u, end - i);
            uint w = src_u32(start + i);
            put(k == 4u ? w : w & ((1u << (8u * k)) - 1u), 8u * k);
            i += k;
            work++;
        }
    }
    work = subgroupMax(work) + 1u;
    if (kind != KIND_STORED) {
        while (i < end && work < SOFT) {
            uint e = SR(base + SLOT_SYMS + i);
            bool lit = (e & MATCH) == 0u;
            uint l = (e >> 15) & 255u, d = e & 32767u;
            uint lc = len_code(l), dc = dist_code(d);
            uint lx = lit ? 0u : len_extra_bits(lc), dx = dist_extra_bits(dc);
            uint c1 = SR(cb + (lit ? e : 257u + lc)), c2 = SR(cb + 288u + dc);
            uint n1 = c1 >> 16, n2 = c2 >> 16;
            put((c1 & 0xffffu) | ((l & ((1u << lx) - 1u)) << n1), n1 + lx);
            put(lit ? 0u : (c2 & 0xffffu) | ((d & ((1u << dx) - 1u)) << n2), lit ? 0u : n2 + dx);
            i++;
            work++;
        }
    }
    if (i == end) {
        if (kind != KIND_STORED) {
            uint c = SR(cb + 256u);
            put(c & 0xffffu, c >> 16);
        }
        if (kind != KIND_STORED ? bfinal == 0u : seg_sync_stored(s)) {
            // An empty stored block: the next segment starts on a byte
            // (after a stored one: the non-final piece's sync flush).
            put(0u, 3u);
            pad_to_byte();
            put(0xffff0000u, 32u);
        }
        pad_to_byte();
        if (cnt != 0u)
            TPUT_MASKED(dst, wpos, acc, lowmask & (0xffffffffu >> (32u - cnt)));
        // Where deflate_place expects the next segment.
        uint want = pc.off1 + SR(s * SEG_WORDS + SEG_OFF) + SR(s * SEG_WORDS + SEG_SIZE);
        if (wpos * 4u + cnt / 8u != want)
            st.code = ST_INTERNAL;
        phase = 2u;
    } else if (pc.step + 1u >= pc.aux0) {
        st.code = ST_INTERNAL;
    }
    SW(sb + S_EPHASE, phase);
    SW(sb + S_EI, i);
    SW(sb + S_ACC, acc);
    SW(sb + S_CNT, cnt);
    SW(sb + S_WPOS, wpos);
    SW(sb + S_LOWMASK, lowmask);
}
