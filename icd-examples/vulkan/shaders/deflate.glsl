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
//
// Compiled a second time with DEFLATE_STREAM defined for zlib.deflate.stream
// (its state is binding 3, the status and scratch move up by one): a
// non-final piece ends with an empty stored block also after a stored
// segment, only the last segment of the final piece sets BFINAL, the
// header is written only while the state is not started, and the first
// segment is matched in the scratch stage (STAGE_WORD0), where
// deflate_stage has put the state's window and then the segment, so that
// its matches reach into the input of earlier calls.
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer dst;
layout(binding = 2, r32ui) uniform uimageBuffer outsz;
#ifdef DEFLATE_STREAM
layout(binding = 3, r32ui) uniform uimageBuffer stt;
#define DEFLATE_STATUS_BINDING 4
#define DEFLATE_SCRATCH_BINDING 5
#else
#define DEFLATE_STATUS_BINDING 3
#define DEFLATE_SCRATCH_BINDING 4
#endif
layout(std430, binding = DEFLATE_STATUS_BINDING) buffer Status {
    uint code;
    uint placed; // bytes of the stream placed so far (deflate_place)
} st;
layout(binding = DEFLATE_SCRATCH_BINDING, r32ui) uniform uimageBuffer scr;
#include "common.glsl"
#include "scratch_layout.h"

#ifdef DEFLATE_STREAM
// The state (docs/standard-functions.md): byte i of it, and the
// little-endian word at byte i.
uint state_byte(uint i)
{
    return TRD(stt, pc.off3 + i);
}

uint state_u32(uint i)
{
    return state_byte(i) | (state_byte(i + 1u) << 8) | (state_byte(i + 2u) << 16) | (state_byte(i + 3u) << 24);
}

// Whether the state is zeros or one zlib.deflate.stream wrote (the checks
// of icd-examples/common/accel_deflate_stream.c).
bool state_ok()
{
    uint adler = state_u32(0u), started = state_u32(4u), tlo = state_u32(8u), thi = state_u32(12u);
    uint held = state_u32(16u);
    if ((state_u32(20u) | state_u32(24u) | state_u32(28u)) != 0u)
        return false;
    uint want = thi != 0u || tlo >= WINDOW ? WINDOW : tlo;
    if (started > 1u || held != want)
        return false;
    if (started != 0u)
        return (adler & 0xffffu) < 65521u && (adler >> 16) < 65521u;
    return adler == 0u && tlo == 0u && thi == 0u;
}

bool piece_final()
{
    return pc.scalar1 != 0u;
}

// Reads of "src" by the matcher: from the stage while g_stage.
bool g_stage = false;
uint g_stage_n = 0u; // bytes in the stage: the window held, then the first segment
uint src_word(uint w)
{
    return g_stage ? TLD(scr, STAGE_WORD0 + w) : TLD(src, w);
}
uint src_off()
{
    return g_stage ? 0u : pc.off0;
}
uint src_n()
{
    return g_stage ? g_stage_n : pc.size0;
}
#else
bool piece_final()
{
    return true;
}
#define src_word(w) TLD(src, (w))
#define src_off() pc.off0
#define src_n() pc.size0
#endif

// Segment s sets BFINAL; segment s ends with an empty stored block even
// though it is stored (the last one of a non-final piece).
bool seg_bfinal(uint s)
{
    return s + 1u == pc.total && piece_final();
}
bool seg_sync_stored(uint s)
{
    return s + 1u == pc.total && !piece_final();
}

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
    uint a = src_off() + q, w = a >> 2, sh = (a & 3u) * 8u;
    uint last = (src_off() + src_n() - 1u) >> 2;
    uint lo = src_word(min(w, last)), hi = src_word(min(w + 1u, last));
    return sh == 0u ? lo : (lo >> sh) | (hi << (32u - sh));
}

uint src_byte(uint q)
{
    uint a = src_off() + q;
    return (src_word(a >> 2) >> ((a & 3u) << 3)) & 0xffu;
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
