// deflate.glsl — shared by the zlib.deflate passes (vk_builtins.c records
// them; docs/standard-functions.md says what the call must produce).
//
// The input is cut into segments of DEFLATE_SEGMENT bytes, compressed
// independently the way pigz does: segment s becomes a run of whole bytes
// of the stream (its last block padded with an empty stored block, except
// in the last segment, which alone sets BFINAL), so the pieces only have
// to be laid end to end behind the 2-byte zlib header, followed by the
// Adler-32 combined from the segments' own sums. Matches may reach back
// into the previous segment (its bytes are in src, and the decoder has
// them), so cutting costs little.
//
// Segments are worked on in waves of up to DEFLATE_SLOTS, one scratch slot
// (scratch_layout.h) and one invocation each; eight invocations make one
// workgroup, one SIMD vector on llvmpipe. Per wave: deflate_lz77 (matching
// into a symbol buffer and symbol counts, resumable over several
// dispatches), deflate_huff (code lengths, the smallest of dynamic,
// fixed and stored, the segment's exact size), deflate_place (each
// segment's offset in dst: the sizes so far), deflate_encode (the bits,
// straight into dst at that offset). deflate_adler runs once before the
// waves and deflate_finish once after them.
//
// Memory is reached as R32_UINT texel buffers: llvmpipe gathers and
// scatters those for the eight lanes at once.
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer dst;
layout(binding = 2, r32ui) uniform uimageBuffer outsz;
layout(std430, binding = 3) buffer Status {
    uint code;
    uint placed; // bytes of the stream placed so far (deflate_place)
} st;
layout(binding = 4, r32ui) uniform uimageBuffer scr;
#include "common.glsl"
#include "scratch_layout.h"

// Words of a slot's state (SLOT_STATE + S_*).
const uint S_POS = 0u;      // next position to look at, from the range's start
const uint S_PREVLEN = 1u;  // lazy matching: the match found at S_POS - 1 (2: none)
const uint S_PREVDIST = 2u;
const uint S_AVAIL = 3u;    // a literal at S_POS - 1 is still to be written
const uint S_NSYM = 4u;     // symbols in SLOT_SYMS
const uint S_PHASE = 5u;    // PH_*
const uint S_PRIME = 6u;    // next dictionary position to insert
const uint S_KIND = 8u;     // KIND_*, chosen by deflate_huff
const uint S_HLIT = 9u;
const uint S_HDIST = 10u;
const uint S_HCLEN = 11u;
const uint S_NHDR = 12u;    // code-length symbols in SLOT_HDR
const uint S_EPHASE = 16u;  // deflate_encode: 0 header, 1 body, 2 done
const uint S_EI = 17u;      // next symbol (or byte of a stored segment)
const uint S_ACC = 18u;     // bit writer: pending bits
const uint S_CNT = 19u;     //   how many
const uint S_WPOS = 20u;    //   dst word they go to
const uint S_LOWMASK = 21u; //   bytes of that word that are this segment's

const uint PH_PRIME = 0u, PH_MATCH = 1u, PH_DONE = 2u;
const uint KIND_STORED = 0u, KIND_FIXED = 1u, KIND_DYNAMIC = 2u;

// Words of a segment's entry in the segment table.
const uint SEG_ADLER = 0u; // (b << 16) | a of its bytes, both sums started from 0
const uint SEG_SIZE = 1u;  // bytes it takes in the stream
const uint SEG_OFF = 2u;   // where it starts in the stream

// Symbols: a literal is its byte; a match is MATCH | (length - 3) << 15 |
// (distance - 1).
const uint MATCH = 0x80000000u;

uint slot_base(uint slot)
{
    return SCRATCH_SLOT0 + slot * SLOT_WORDS;
}

uint seg_len(uint s)
{
    return min(pc.size0 - s * DEFLATE_SEGMENT, DEFLATE_SEGMENT);
}

uint SR(uint i)
{
    return TLD(scr, i);
}

void SW(uint i, uint v)
{
    TST(scr, i, v);
}

// The 4 bytes of src at position q (from the range's start), little-endian;
// bytes past the range are whatever its last word holds.
uint src_u32(uint q)
{
    uint a = pc.off0 + q, w = a >> 2, sh = (a & 3u) * 8u;
    uint last = (pc.off0 + pc.size0 - 1u) >> 2;
    uint lo = TLD(src, min(w, last)), hi = TLD(src, min(w + 1u, last));
    return sh == 0u ? lo : (lo >> sh) | (hi << (32u - sh));
}

uint src_byte(uint q)
{
    return TRD(src, pc.off0 + q);
}

// Length code (0..28, symbol 257 + code) of a match length minus 3, and
// its extra bits: lengths come in groups of four codes per extra bit.
uint len_code(uint l)
{
    if (l < 8u)
        return l;
    if (l == 255u)
        return 28u;
    uint e = uint(findMSB(l)) - 2u;
    return 4u * e + 4u + ((l >> e) & 3u);
}

uint len_extra_bits(uint c)
{
    return c < 8u || c == 28u ? 0u : (c - 4u) >> 2;
}

// Distance code (0..29) of a distance minus 1: two codes per extra bit.
uint dist_code(uint d)
{
    if (d < 4u)
        return d;
    uint e = uint(findMSB(d)) - 1u;
    return 2u * e + 2u + ((d >> e) & 1u);
}

uint dist_extra_bits(uint c)
{
    return c < 4u ? 0u : (c >> 1) - 1u;
}

// The order in which a dynamic header lists the code-length code's lengths.
uint cl_order(uint i)
{
    // 16 17 18 0 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15
    if (i < 3u)
        return 16u + i;
    if (i == 3u)
        return 0u;
    uint k = i - 4u; // 0 1 2 ...: 8 7 9 6 10 5 11 4 12 3 13 2 14 1 15
    return (k & 1u) == 0u ? 8u + (k >> 1) : 7u - (k >> 1);
}

// The fixed code's lengths (RFC 1951 3.2.6).
uint fixed_len(uint s)
{
    return s < 144u ? 8u : s < 256u ? 9u : s < 280u ? 7u : 8u;
}
