/* scratch_layout.h — the device scratch buffer of the built-ins, in 32-bit
 * words; included by vk_builtins.c and by the shaders, so the numbers are
 * written once.
 *
 * [0, SCRATCH_SLOT0): one entry of SEG_WORDS per segment (crc32c: a part's
 * register in word k; zlib.deflate: see deflate.glsl), for as many
 * segments as a range of up to 4 GiB has.
 * Then DEFLATE_SLOTS slots of SLOT_WORDS, one per segment of a deflate
 * wave: hash heads, the window's chains, the symbols, the code tables. */
#ifndef ACCEL_VK_SCRATCH_LAYOUT_H
#define ACCEL_VK_SCRATCH_LAYOUT_H

#define SEG_WORDS 4u
#define SCRATCH_MAX_SEGS 65540u
#define SCRATCH_SLOT0 (SEG_WORDS * SCRATCH_MAX_SEGS)

/* zlib.deflate compresses segments of DEFLATE_SEGMENT bytes, a multiple of
 * 65535 so that a segment written as stored blocks takes exactly its share
 * of the documented dst bound. */
#define DEFLATE_SEGMENT 65535u
#define DEFLATE_SLOTS 32u
#define HASH_BITS 15u
#define WINDOW 32768u

/* A slot, in words. FREQ and CODES are indexed by symbol: literal/length
 * 0..287, distance 288 + 0..29. TMP: code lengths (indexed the same way),
 * then two lists and the counters of the Huffman code builder. HDR: the
 * dynamic block header's code-length symbols (symbol | extra << 8), then
 * the code-length code's frequencies and codes. */
#define SLOT_HEAD 0u
#define SLOT_PREV (SLOT_HEAD + (1u << HASH_BITS))
#define SLOT_SYMS (SLOT_PREV + WINDOW)
#define SLOT_FREQ (SLOT_SYMS + DEFLATE_SEGMENT + 1u)
#define SLOT_CODES (SLOT_FREQ + 320u)
#define SLOT_TMP (SLOT_CODES + 320u)
#define TMP_LENS 0u
#define TMP_LIST 320u
#define TMP_LIST2 640u
#define TMP_COUNT 960u
#define TMP_BL 1216u
#define SLOT_HDR (SLOT_TMP + 1280u)
#define HDR_CLFREQ 320u
#define HDR_CLCODES 352u
#define SLOT_STATE (SLOT_HDR + 384u)
#define SLOT_WORDS (SLOT_STATE + 32u)

/* zlib.deflate.stream's stage: the state's window (up to WINDOW bytes),
 * then the first segment, byte k at byte k of the stage. */
#define STAGE_WORD0 (SCRATCH_SLOT0 + DEFLATE_SLOTS * SLOT_WORDS)
#define STAGE_WORDS ((WINDOW + DEFLATE_SEGMENT + 3u) / 4u + 1u)

#define SCRATCH_WORDS (STAGE_WORD0 + STAGE_WORDS)

#endif
