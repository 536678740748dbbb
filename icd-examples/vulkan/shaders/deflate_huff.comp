#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// zlib.deflate, codes: invocation `slot` builds the Huffman codes of its
// segment's symbol counts (length-limited, canonical), works out the
// exact size of the segment as one dynamic block, one fixed block and
// stored, and keeps the smallest: S_KIND, the codes the encoder uses in
// SLOT_CODES (code bits reversed for LSB-first output | length << 16), the
// dynamic header in SLOT_HDR, and the size in bytes in the segment table.
// Every segment but the last ends with an empty stored block (3 bits, the
// padding to a byte, 4 bytes), so that the next one starts on a byte.
layout(local_size_x = 8) in;
#include "deflate.glsl"

uint tb, cb, hb;

// Code lengths of at most maxbits bits for the n counts at fb, as len << 16
// into the n words at lb. The nonzero counts are sorted (radix, two
// passes of 8 bits over the 16-bit counts, with the symbol in the low 9
// bits of the key), Moffat and Katajainen's in-place algorithm turns the
// sorted weights into Huffman code lengths, lengths past maxbits are cut
// and the Kraft sum restored by lengthening shorter codes one step at a
// time, and the lengths go back to the symbols, the longest to the
// rarest. At least two symbols get a code (rare ones added with weight
// 1), so that every code is complete, as inflaters want.
void build(uint fb, uint lb, uint n, uint maxbits)
{
    uint lst = tb + TMP_LIST, lst2 = tb + TMP_LIST2, cnt = tb + TMP_COUNT, bl = tb + TMP_BL;
    uint m = 0u;
    for (uint s = 0u; s < n; s++) {
        uint f = SR(fb + s);
        SW(lb + s, 0u);
        if (f != 0u) {
            SW(lst + m, (min(f, 65535u) << 9) | s);
            m++;
        }
    }
    for (uint s = 0u; m < 2u; s++)
        if (SR(fb + s) == 0u) {
            SW(lst + m, (1u << 9) | s);
            m++;
        }
    for (uint pass = 0u; pass < 2u; pass++) {
        uint sh = 9u + 8u * pass;
        uint from = pass == 0u ? lst : lst2, to = pass == 0u ? lst2 : lst;
        for (uint d = 0u; d < 256u; d += 8u)
            [[unroll]] for (uint k = 0u; k < 8u; k++)
                SW(cnt + d + k, 0u);
        for (uint i = 0u; i < m; i++) {
            uint d = (SR(from + i) >> sh) & 255u;
            SW(cnt + d, SR(cnt + d) + 1u);
        }
        uint sum = 0u;
        for (uint d = 0u; d < 256u; d++) {
            uint c = SR(cnt + d);
            SW(cnt + d, sum);
            sum += c;
        }
        for (uint i = 0u; i < m; i++) {
            uint key = SR(from + i), d = (key >> sh) & 255u, at = SR(cnt + d);
            SW(cnt + d, at + 1u);
            SW(to + at, key);
        }
    }
    // The weights, ascending, become the tree in place: first parent
    // pointers and internal weights, then internal depths, then the
    // leaves' depths, deepest first.
    uint a = lst2;
    for (uint i = 0u; i < m; i++)
        SW(a + i, SR(lst + i) >> 9);
    SW(a, SR(a) + SR(a + 1u));
    uint root = 0u, leaf = 2u;
    for (uint next = 1u; next + 1u < m; next++) {
        uint al = leaf < m ? SR(a + leaf) : 0xffffffffu;
        if (SR(a + root) < al) {
            SW(a + next, SR(a + root));
            SW(a + root, next);
            root++;
        } else {
            SW(a + next, al);
            leaf++;
        }
        al = leaf < m ? SR(a + leaf) : 0xffffffffu;
        if (leaf >= m || (root < next && SR(a + root) < al)) {
            SW(a + next, SR(a + next) + SR(a + root));
            SW(a + root, next);
            root++;
        } else {
            SW(a + next, SR(a + next) + al);
            leaf++;
        }
    }
    SW(a + m - 2u, 0u);
    for (int next = int(m) - 3; next >= 0; next--)
        SW(a + uint(next), SR(a + SR(a + uint(next))) + 1u);
    int avail = 1, used = 0, r = int(m) - 2, nx = int(m) - 1;
    uint depth = 0u;
    while (avail > 0) {
        while (r >= 0 && SR(a + uint(r)) == depth) {
            used++;
            r--;
        }
        while (avail > used) {
            SW(a + uint(nx), depth);
            nx--;
            avail--;
        }
        avail = 2 * used;
        depth++;
        used = 0;
    }
    // Lengths by count, cut to maxbits, Kraft sum back to exactly 1.
    for (uint l = 0u; l < 32u; l += 8u)
        [[unroll]] for (uint k = 0u; k < 8u; k++)
            SW(bl + l + k, 0u);
    for (uint i = 0u; i < m; i++) {
        uint l = min(SR(a + i), maxbits);
        SW(bl + l, SR(bl + l) + 1u);
    }
    uint total = 0u;
    for (uint l = 1u; l <= maxbits; l++)
        total += SR(bl + l) << (maxbits - l);
    while (total > (1u << maxbits)) {
        SW(bl + maxbits, SR(bl + maxbits) - 1u);
        for (uint l = maxbits - 1u; l > 0u; l--)
            if (SR(bl + l) != 0u) {
                SW(bl + l, SR(bl + l) - 1u);
                SW(bl + l + 1u, SR(bl + l + 1u) + 2u);
                break;
            }
        total--;
    }
    uint i = 0u;
    for (uint l = maxbits; l >= 1u; l--)
        for (uint k = SR(bl + l); k > 0u; k--) {
            SW(lb + (SR(lst + i) & 511u), l << 16);
            i++;
        }
}

// Canonical codes (RFC 1951 3.2.2) for the lengths in the high halves of
// the n words at lb, written back with the code's bits reversed below.
void canonical(uint lb, uint n)
{
    uint bl = tb + TMP_BL, next = tb + TMP_COUNT;
    for (uint l = 0u; l < 16u; l++)
        SW(bl + l, 0u);
    for (uint s = 0u; s < n; s++) {
        uint l = SR(lb + s) >> 16;
        SW(bl + l, SR(bl + l) + 1u);
    }
    uint code = 0u;
    SW(bl, 0u);
    for (uint l = 1u; l < 16u; l++) {
        code = (code + SR(bl + l - 1u)) << 1;
        SW(next + l, code);
    }
    for (uint s = 0u; s < n; s++) {
        uint l = SR(lb + s) >> 16;
        if (l != 0u) {
            uint c = SR(next + l);
            SW(next + l, c + 1u);
            SW(lb + s, (bitfieldReverse(c) >> (32u - l)) | (l << 16));
        }
    }
}

uint hlit, hdist, nhdr;

uint len_at(uint i)
{
    return SR(cb + (i < hlit ? i : 288u + i - hlit)) >> 16;
}

void hdr_put(uint sym, uint extra)
{
    SW(hb + nhdr, sym | (extra << 8));
    nhdr++;
    SW(hb + HDR_CLFREQ + sym, SR(hb + HDR_CLFREQ + sym) + 1u);
}

// The dynamic header's code lengths, run-length coded with symbols 16
// (repeat the last length 3-6 times), 17 (3-10 zeros) and 18 (11-138
// zeros), into SLOT_HDR, and their counts.
void header()
{
    hlit = 257u;
    for (uint i = 257u; i < 286u; i++)
        if (SR(cb + i) != 0u)
            hlit = i + 1u;
    hdist = 1u;
    for (uint i = 1u; i < 30u; i++)
        if (SR(cb + 288u + i) != 0u)
            hdist = i + 1u;
    for (uint i = 0u; i < 19u; i++)
        SW(hb + HDR_CLFREQ + i, 0u);
    nhdr = 0u;
    uint total = hlit + hdist;
    for (uint i = 0u; i < total;) {
        uint l = len_at(i), run = 1u, most = l == 0u ? 138u : 7u;
        while (i + run < total && run < most && len_at(i + run) == l)
            run++;
        if (l == 0u && run >= 11u) {
            hdr_put(18u, run - 11u);
        } else if (l == 0u && run >= 3u) {
            hdr_put(17u, run - 3u);
        } else if (l != 0u && run >= 4u) {
            hdr_put(l, 0u);
            hdr_put(16u, run - 4u);
        } else {
            hdr_put(l, 0u);
            run = 1u;
        }
        i += run;
    }
}

void main()
{
    uint slot = gl_GlobalInvocationID.x;
    if (slot >= pc.count || st.code != 0u)
        return;
    uint s = pc.first + slot, base = slot_base(slot);
    uint fb = base + SLOT_FREQ, sb = base + SLOT_STATE;
    tb = base + SLOT_TMP;
    cb = base + SLOT_CODES;
    hb = base + SLOT_HDR;
    bool last = seg_bfinal(s);

    // The three codes in one loop, so that the builder is compiled once
    // (llvmpipe takes seconds for each copy); the bound is not a constant,
    // so that the loop is not unrolled. The code-length code's counts come
    // from the header, which follows from the first two codes.
    uint clb = hb + HDR_CLCODES;
    for (uint t = 0u; t < 3u + (pc.total >> 31); t++) {
        if (t == 2u)
            header();
        uint tf = t == 0u ? fb : t == 1u ? fb + 288u : hb + HDR_CLFREQ;
        uint tl = t == 0u ? cb : t == 1u ? cb + 288u : clb;
        uint n = t == 0u ? 286u : t == 1u ? 30u : 19u;
        build(tf, tl, n, t == 2u ? 7u : 15u);
        canonical(tl, n);
    }
    uint hclen = 4u;
    for (uint i = 4u; i < 19u; i++)
        if (SR(clb + cl_order(i)) != 0u)
            hclen = i + 1u;

    // Sizes in bits of the block's contents, dynamic and fixed.
    uint dyn = 3u + 14u + 3u * hclen, fix = 3u;
    for (uint i = 0u; i < nhdr; i++) {
        uint e = SR(hb + i), sym = e & 255u;
        dyn += (SR(clb + sym) >> 16) + (sym == 16u ? 2u : sym == 17u ? 3u : sym == 18u ? 7u : 0u);
    }
    for (uint i = 0u; i < 286u; i++) {
        uint f = SR(fb + i), x = i > 256u ? len_extra_bits(i - 257u) : 0u;
        dyn += f * ((SR(cb + i) >> 16) + x);
        fix += f * (fixed_len(i) + x);
    }
    for (uint i = 0u; i < 30u; i++) {
        uint f = SR(fb + 288u + i), x = dist_extra_bits(i);
        dyn += f * ((SR(cb + 288u + i) >> 16) + x);
        fix += f * (5u + x);
    }
    uint bits = min(dyn, fix);
    uint huff = last ? (bits + 7u) >> 3 : ((bits + 3u + 7u) >> 3) + 4u;
    uint stored = seg_len(s) + (seg_sync_stored(s) ? 10u : 5u);
    uint kind = huff >= stored ? KIND_STORED : dyn <= fix ? KIND_DYNAMIC : KIND_FIXED;
    if (kind == KIND_FIXED) {
        // RFC 1951 3.2.6: the fixed codes, bit-reversed.
        for (uint i = 0u; i < 288u; i++) {
            uint l = fixed_len(i);
            uint c = i < 144u ? 0x30u + i : i < 256u ? 0x190u + i - 144u : i < 280u ? i - 256u : 0xc0u + i - 280u;
            SW(cb + i, (bitfieldReverse(c) >> (32u - l)) | (l << 16));
        }
        for (uint i = 0u; i < 30u; i++)
            SW(cb + 288u + i, (bitfieldReverse(i) >> 27) | (5u << 16));
    }
    SW(sb + S_KIND, kind);
    SW(sb + S_HLIT, hlit);
    SW(sb + S_HDIST, hdist);
    SW(sb + S_HCLEN, hclen);
    SW(sb + S_NHDR, nhdr);
    SW(s * SEG_WORDS + SEG_SIZE, kind == KIND_STORED ? stored : huff);
}
