#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// zlib.inflate.stream(src, dst, progress, state): one invocation runs the
// streaming decoder of icd-examples/common/accel_inflate_stream.c, step for
// step, over the state layout docs/standard-functions.md fixes ("Stream
// forms"), so that a stream goes on from any device's state to any other.
//
// Decoding goes in steps that either complete or leave no trace: the zlib
// header, a block header (for a dynamic block, its whole code
// description), one literal, one length with its distance, the Adler-32.
// A step that runs out of input is rolled back and the input it had read
// (and the rest of src) is kept in the state's carry. Bytes go into the
// bit buffer only as a step needs them (a Huffman code looks ahead at most
// 15 bits), so no byte after the end of the stream is consumed.
//
// llvmpipe ends a dispatch's loops after 65535 passes in all, so a call is
// a series of dispatches, each one a call of the portable decoder on what
// is left of src and dst: it loads the state, decodes until it has spent
// about WORK loop passes (and then stops between two steps, which is
// where the portable decoder could have been called again with the rest),
// the input ended, dst is full or the stream ended, and saves the state
// (the window and Adler-32 take its output, carry drops what it read).
// The status binding carries the bytes consumed and written so far from
// one dispatch to the next; the driver sets the dispatches' workgroup
// counts (S.groups) to 1 and the shader clears them when the call is done,
// so that the dispatches left cost next to nothing. The arguments are
// bound as R32_UINT texel buffers, whose accesses llvmpipe compiles into
// far less code than storage-buffer ones, and the code is written so that
// each kind of access appears in few places (the fields of the state go
// through one loop, the Huffman tables are built at one call site for the
// blocks and one for the code length code, a symbol is decoded by one
// decode() call in read_symbol): llvmpipe compiles the shader when it is
// first dispatched, and its compile time grows with every inlined copy.
// If the last recorded dispatch still has work, the call fails as
// unsupported (ST_WORK_LIMIT); if llvmpipe's limit is reached anyway,
// loops_intact() notices and the call fails (ST_LOOP_LIMIT) rather than
// report a wrong result.
layout(local_size_x = 1) in;
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer dst;
layout(binding = 2, r32ui) uniform uimageBuffer prog;
layout(binding = 3, r32ui) uniform uimageBuffer stt;
layout(std430, binding = 4) buffer Status {
    uint code;
    uint done;
    uint consumed; // bytes of src consumed by this call's dispatches so far
    uint produced; // bytes of dst written so far
    uint pad[2040];
    uint groups[3]; // VK_INFLATE_GROUPS_WORD: the dispatches' workgroup counts, 0 once done
} S;
#include "common.glsl"

// The state layout (byte offsets).
const uint ST_PHASE = 0u, ST_FLAGS = 4u, ST_BITBUF = 8u, ST_BITCNT = 16u, ST_STORED = 20u, ST_MLEN = 24u,
           ST_MDIST = 28u, ST_ADLER = 32u, ST_CARRYLEN = 36u, ST_TOTAL = 40u, ST_WINHELD = 48u, ST_WINPOS = 52u,
           ST_ZERO1 = 56u, ST_LENS = 64u, ST_CARRY = 384u, ST_WINDOW = 896u, ST_ZERO2 = 33664u;
const uint CARRY_MAX = 512u, WSIZE = 32768u, WMASK = 32767u, ADLER_BASE = 65521u;
const uint PH_HEADER = 0u, PH_BLOCK = 1u, PH_STORED = 2u, PH_HUFF = 3u, PH_CHECK = 4u, PH_END = 5u;
const uint FL_LAST = 1u, FL_FIXED = 2u;
const uint OK = 0u, MORE = 1u, BAD = 2u;
const uint LIT = 0u, DIST = 816u; // where the two codes' tables start in tab

// Loop passes a dispatch may spend on steps before it stops between two
// (see above); every loop below adds its passes to `work`, a step adds
// STEP_COST for the loops of the branches it does not take (a symbol
// decoded in read_symbol's own loop SYMBOL_COST), and every
// output byte 3 (its copy, and its share of save()'s window and Adler-32).
const uint WORK = 24000u, STEP_COST = 24u, SYMBOL_COST = 12u;
uint work;

const uint LBASE[29] = uint[](3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 13u, 15u, 17u, 19u, 23u, 27u, 31u, 35u, 43u,
                              51u, 59u, 67u, 83u, 99u, 115u, 131u, 163u, 195u, 227u, 258u);
const uint LEXT[29] = uint[](0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 1u, 1u, 1u, 1u, 2u, 2u, 2u, 2u, 3u, 3u, 3u, 3u, 4u, 4u,
                             4u, 4u, 5u, 5u, 5u, 5u, 0u);
const uint DBASE[30] = uint[](1u, 2u, 3u, 4u, 5u, 7u, 9u, 13u, 17u, 25u, 33u, 49u, 65u, 97u, 129u, 193u, 257u, 385u,
                              513u, 769u, 1025u, 1537u, 2049u, 3073u, 4097u, 6145u, 8193u, 12289u, 16385u, 24577u);
const uint DEXT[30] = uint[](0u, 0u, 0u, 0u, 1u, 1u, 2u, 2u, 3u, 3u, 4u, 4u, 5u, 5u, 6u, 6u, 7u, 7u, 8u, 8u, 9u, 9u,
                             10u, 10u, 11u, 11u, 12u, 12u, 13u, 13u);
const uint CLORDER[19] = uint[](16u, 17u, 18u, 0u, 8u, 7u, 9u, 6u, 10u, 5u, 11u, 4u, 12u, 3u, 13u, 2u, 14u, 1u, 15u);

// The decoder's state (see accel_inflate_stream.c's struct inf); src_pos
// and opos count from the start of the call's src and dst, out0 and
// adler_pos where this dispatch's output began and the Adler-32 stands.
uint phase, flags, bitcnt, stored, mlen, mdist, adler, carry_len, win_held, win_pos;
uint bb_lo, bb_hi, total_lo, total_hi;
uint carry_pos, src_pos, opos, out0, adler_pos, nlen, ndist;
bool tables;  // the tables of the current Huffman block are built (in this dispatch)
bool tables_fixed; // they are the fixed ones
bool dynamic; // the tables to build are the dynamic header's just read

// ---- bytes of the arguments ----------------------------------------------

uint st_byte(uint i)
{
    return TRD(stt, pc.off3 + i);
}

void st_put_byte(uint i, uint b)
{
    uint o = pc.off3 + i, s = (o & 3u) * 8u;
    TPUT_MASKED(stt, o >> 2, b << s, 0xffu << s);
}

uint st_u32(uint i)
{
    uint o = pc.off3 + i, s = (o & 3u) * 8u, v = TLD(stt, o >> 2);
    if (s != 0u)
        v = (v >> s) | (TLD(stt, (o >> 2) + 1u) << (32u - s));
    return v;
}

void st_put_u32(uint i, uint v)
{
    uint o = pc.off3 + i, s = (o & 3u) * 8u;
    if (s == 0u) {
        TST(stt, o >> 2, v);
    } else {
        TPUT_MASKED(stt, o >> 2, v << s, 0xffffffffu << s);
        TPUT_MASKED(stt, (o >> 2) + 1u, v >> (32u - s), 0xffffffffu >> (32u - s));
    }
}

uint dst_byte(uint i)
{
    return TRD(dst, pc.off1 + i);
}

void dst_put(uint i, uint b)
{
    uint o = pc.off1 + i, s = (o & 3u) * 8u;
    TPUT_MASKED(dst, o >> 2, b << s, 0xffu << s);
}

uint src_byte(uint i)
{
    return TRD(src, pc.off0 + i);
}

// ---- the bit buffer (64 bits as two words) -------------------------------

bool pull()
{
    uint b;
    if (carry_pos < carry_len) {
        b = st_byte(ST_CARRY + carry_pos);
        carry_pos++;
    } else if (src_pos < pc.size0) {
        b = src_byte(src_pos);
        src_pos++;
    } else {
        return false;
    }
    if (bitcnt < 32u) {
        bb_lo |= b << bitcnt;
        if (bitcnt > 24u)
            bb_hi |= b >> (32u - bitcnt);
    } else {
        bb_hi |= b << (bitcnt - 32u);
    }
    bitcnt += 8u;
    return true;
}

bool need(uint n)
{
    while (bitcnt < n) {
        work++;
        if (!pull())
            return false;
    }
    return true;
}

// n <= 16 bits.
uint bits(uint n)
{
    if (n == 0u)
        return 0u;
    uint v = bb_lo & ((1u << n) - 1u);
    bb_lo = (bb_lo >> n) | (bb_hi << (32u - n));
    bb_hi >>= n;
    bitcnt -= n;
    return v;
}

// ---- Huffman codes -------------------------------------------------------

// Huffman tables, LIT (literal/length) at tab[0], DIST (distance, or the
// code length code while a dynamic header is read) at tab[T_SIZE]:
// count[16] (codes of each length), sym[288] (symbols in canonical order),
// fast[512] (sym << 4 | length for codes of up to 9 bits, 0 for none).
// Built at the start of every dispatch in a Huffman block (from the
// lengths in the state, like the portable decoder at the start of a call)
// and after every block header.
const uint T_COUNT = 0u, T_SYM = 16u, T_FAST = 304u, T_SIZE = 816u;
shared uint tab[2u * T_SIZE];
shared uint all[320]; // a dynamic header's code lengths as read
shared uint cl[20];   // its code length code's lengths
// Code length i of a code, from: 0 the fixed literal/length code, 1 the
// fixed distance code, 2 and 3 the state's literal/length and distance
// lengths, 4 and 5 those of the dynamic header being read, 6 its code
// length code.
uint len_at(uint from, uint i)
{
    if (from == 0u)
        return i < 144u ? 8u : (i < 256u ? 9u : (i < 280u ? 7u : 8u));
    if (from == 1u)
        return 5u;
    if (from == 2u)
        return st_byte(ST_LENS + i);
    if (from == 3u)
        return st_byte(ST_LENS + 288u + i);
    if (from == 4u)
        return i < nlen ? all[i] : 0u;
    if (from == 5u)
        return i < ndist ? all[nlen + i] : 0u;
    return cl[i];
}

// Builds code h from n lengths. complete: the code must be complete (the
// code length code); otherwise an incomplete code is accepted only as a
// single code of one bit, and an empty code is accepted.
bool huff_build(uint h, uint from, uint n, bool complete)
{
    uint count[16];
    for (uint l = 0u; l < 16u; l++)
        count[l] = 0u;
    for (uint k = 0u; k < 512u; k++)
        tab[h + T_FAST + k] = 0u;
    work += 530u + n;
    for (uint i = 0u; i < n; i++) {
        uint l = len_at(from, i);
        if (l > 15u)
            return false;
        count[l]++;
    }
    count[0] = 0u;
    uint mx = 0u;
    int left = 1;
    uint offs[17], next[16];
    offs[1] = 0u;
    uint c = 0u;
    work += 17u;
    for (uint l = 1u; l < 16u; l++) {
        if (count[l] != 0u)
            mx = l;
        left <<= 1;
        left -= int(count[l]);
        offs[l + 1u] = offs[l] + count[l];
        next[l] = c;
        c = (c + count[l]) << 1;
    }
    for (uint l = 0u; l < 16u; l++)
        tab[h + T_COUNT + l] = count[l];
    if (mx == 0u)
        return true;
    if (left < 0)
        return false; // over-subscribed
    if (left > 0 && (complete || mx != 1u))
        return false; // incomplete
    work += n + 1u;
    for (uint s = 0u; s < n; s++) {
        uint l = len_at(from, s);
        if (l == 0u)
            continue;
        tab[h + T_SYM + offs[l]] = s;
        offs[l]++;
        uint code = next[l];
        next[l]++;
        if (l > 9u)
            continue;
        uint rev = bitfieldReverse(code) >> (32u - l); // sent most significant bit first
        for (uint k = rev; k < 512u; k += 1u << l) {
            work++;
            tab[h + T_FAST + k] = (s << 4) | l;
        }
    }
    return true;
}

// The next symbol of code h: OK, MORE (input ran out) or BAD.
uint decode(uint h, out uint sym)
{
    sym = 0u;
    while (bitcnt < 15u && pull())
        work++;
    uint e = tab[h + T_FAST + (bb_lo & 511u)];
    if (e != 0u && (e & 15u) <= bitcnt) {
        sym = e >> 4;
        bits(e & 15u);
        return OK;
    }
    int code = 0, first = 0, index = 0;
    for (uint l = 1u; l <= 15u; l++) {
        work++;
        if (l > bitcnt)
            return MORE;
        code |= int((bb_lo >> (l - 1u)) & 1u);
        int count = int(tab[h + T_COUNT + l]);
        if (code - count < first) {
            sym = tab[h + T_SYM + uint(index + (code - first))];
            bits(l);
            return OK;
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return BAD;
}

// The tables of the current Huffman block: from the fixed lengths (from
// 0), the state's (2) or the dynamic header just read (4); false if they do
// not make codes. One call site, so that llvmpipe compiles huff_build
// once for them.
bool build_codes(uint from)
{
    if (from != 0u && len_at(from, 256u) == 0u)
        return false;
    for (uint k = 0u; k < 2u; k++)
        if (!huff_build(k == 0u ? LIT : DIST, from + k, k == 0u ? 288u : 32u, false))
            return false;
    return true;
}

void zero_lens()
{
    for (uint i = 0u; i < 80u; i++)
        st_put_u32(ST_LENS + i * 4u, 0u);
    work += 81u;
}

// ---- the steps ------------------------------------------------------------

// A dynamic block's code description (after the 3 header bits).
uint read_dynamic()
{
    if (!need(14u))
        return MORE;
    nlen = bits(5u) + 257u;
    ndist = bits(5u) + 1u;
    uint ncode = bits(4u) + 4u;
    if (nlen > 286u || ndist > 30u)
        return BAD;
    for (uint i = 0u; i < 20u; i++)
        cl[i] = 0u;
    work += 21u + ncode;
    for (uint i = 0u; i < ncode; i++) {
        if (!need(3u))
            return MORE;
        cl[CLORDER[i]] = bits(3u);
    }
    if (!huff_build(DIST, 6u, 19u, true))
        return BAD;
    uint n = 0u;
    while (n < nlen + ndist) {
        work += 4u;
        uint sym;
        uint r = decode(DIST, sym);
        if (r != OK)
            return r;
        if (sym < 16u) {
            all[n] = sym;
            n++;
            continue;
        }
        uint rep, val = 0u;
        if (sym == 16u) {
            if (n == 0u)
                return BAD;
            if (!need(2u))
                return MORE;
            val = all[n - 1u];
            rep = 3u + bits(2u);
        } else if (sym == 17u) {
            if (!need(3u))
                return MORE;
            rep = 3u + bits(3u);
        } else {
            if (!need(7u))
                return MORE;
            rep = 11u + bits(7u);
        }
        if (n + rep > nlen + ndist)
            return BAD;
        work += rep;
        for (uint k = 0u; k < rep; k++) {
            all[n] = val;
            n++;
        }
    }
    if (len_at(4u, 256u) == 0u)
        return BAD;
    return OK; // the tables are built by main(), which writes the lengths to the state
}

// The dynamic header's lengths into the state, once they make codes.
void store_lens()
{
    for (uint i = 0u; i < 80u; i++) {
        uint v = 0u;
        for (uint k = 0u; k < 4u; k++) {
            uint j = i * 4u + k;
            v |= (j < 288u ? len_at(4u, j) : len_at(5u, j - 288u)) << (k * 8u);
        }
        st_put_u32(ST_LENS + i * 4u, v);
    }
    work += 81u * 5u;
}

// A block header: phase PH_STORED or PH_HUFF.
uint read_block_header()
{
    if (!need(3u))
        return MORE;
    uint last = bits(1u), type = bits(2u);
    if (type == 0u) {
        bits(bitcnt & 7u);
        if (!need(32u))
            return MORE;
        uint len = bits(16u), nl = bits(16u);
        if (len != (~nl & 0xffffu))
            return BAD;
        flags = last;
        stored = len;
        phase = PH_STORED;
        return OK;
    }
    if (type == 1u) {
        flags = last | FL_FIXED;
        zero_lens();
        phase = PH_HUFF;
        tables = tables && tables_fixed; // the fixed tables stay built
        return OK;
    }
    if (type == 2u) {
        uint r = read_dynamic();
        if (r != OK)
            return r;
        flags = last;
        phase = PH_HUFF;
        tables = false;
        dynamic = true;
        return OK;
    }
    return BAD;
}

void end_of_block()
{
    if ((flags & FL_LAST) != 0u) {
        bits(bitcnt & 7u);
        phase = PH_CHECK;
    } else {
        phase = PH_BLOCK;
    }
    flags = 0u;
    zero_lens();
}

// The byte d back from the next output byte (d <= this dispatch's output
// + win_held).
uint back(uint d)
{
    uint sout = opos - out0;
    if (d <= sout)
        return dst_byte(opos - d);
    return st_byte(ST_WINDOW + ((win_pos - (d - sout)) & WMASK));
}

// Copies the pending match as far as dst has room.
void copy_match()
{
    uint n = min(mlen, pc.size1 - opos);
    work += 3u * n + 1u;
    for (uint i = 0u; i < n; i++) {
        dst_put(opos, back(mdist));
        opos++;
    }
    mlen -= n;
    if (mlen == 0u)
        mdist = 0u;
}

// One symbol: a literal, the end of the block, or a length and distance
// (through one decode(), which llvmpipe then compiles once here).
uint read_symbol(inout bool full)
{
    uint h = LIT, len = 0u;
    for (uint k = 0u; k < 2u; k++) {
        uint sym;
        uint r = decode(h, sym);
        if (r != OK)
            return r;
        if (k == 0u) {
            if (sym < 256u) {
                if (opos == pc.size1) {
                    full = true;
                    return MORE;
                }
                dst_put(opos, sym);
                opos++;
                work += 3u;
                return OK;
            }
            if (sym == 256u) {
                end_of_block();
                return OK;
            }
            sym -= 257u;
            if (sym >= 29u)
                return BAD;
            if (!need(LEXT[sym]))
                return MORE;
            len = LBASE[sym] + bits(LEXT[sym]);
            h = DIST;
        } else {
            if (sym >= 30u)
                return BAD;
            if (!need(DEXT[sym]))
                return MORE;
            uint d = DBASE[sym] + bits(DEXT[sym]);
            if (d > opos - out0 + win_held)
                return BAD; // further back than the output
            mlen = len;
            mdist = d;
            copy_match();
        }
    }
    return OK;
}

uint read_header()
{
    if (!need(16u))
        return MORE;
    uint cmf = bits(8u), flg = bits(8u);
    if ((cmf & 15u) != 8u || (cmf >> 4) > 7u || (cmf * 256u + flg) % 31u != 0u || (flg & 0x20u) != 0u)
        return BAD;
    adler = 1u;
    phase = PH_BLOCK;
    return OK;
}

// Adler-32 of dst [adler_pos, out) onto adler.
void adler_update()
{
    uint a = adler & 0xffffu, b = adler >> 16, k = 0u;
    work += opos - adler_pos + 1u;
    for (uint i = adler_pos; i < opos; i++) {
        a += dst_byte(i);
        b += a;
        if (++k == 5552u) {
            a %= ADLER_BASE;
            b %= ADLER_BASE;
            k = 0u;
        }
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
    adler = (b << 16) | a;
    adler_pos = opos;
}

uint read_check()
{
    if (!need(32u))
        return MORE;
    uint v = 0u;
    for (uint i = 0u; i < 4u; i++)
        v = (v << 8) | bits(8u);
    adler_update();
    if (v != adler)
        return BAD;
    phase = PH_END;
    return OK;
}

// Stored bytes: from whole bytes in the bit buffer, carry, then src. False
// when the input ran out; true when the block is done, dst is full or this
// dispatch has done its share.
bool copy_stored()
{
    while (stored != 0u && opos < pc.size1) {
        if (work > WORK)
            return true;
        work += 4u;
        uint b;
        if (bitcnt != 0u) {
            b = bits(8u);
        } else if (carry_pos < carry_len) {
            b = st_byte(ST_CARRY + carry_pos);
            carry_pos++;
        } else if (src_pos < pc.size0) {
            b = src_byte(src_pos);
            src_pos++;
        } else {
            return false;
        }
        dst_put(opos, b);
        opos++;
        stored--;
    }
    return true;
}

// ---- the state ---------------------------------------------------------------

bool zeros(uint at, uint n)
{
    uint any = 0u;
    for (uint i = 0u; i < n; i++)
        any |= st_byte(at + i);
    work += n + 1u;
    return any == 0u;
}

// The fields at 0..55, one loop so that llvmpipe compiles one access.
void load_fields()
{
    uint f[14];
    for (uint i = 0u; i < 14u; i++)
        f[i] = st_u32(i * 4u);
    phase = f[0];
    flags = f[1];
    bb_lo = f[2];
    bb_hi = f[3];
    bitcnt = f[4];
    stored = f[5];
    mlen = f[6];
    mdist = f[7];
    adler = f[8];
    carry_len = f[9];
    total_lo = f[10];
    total_hi = f[11];
    win_held = f[12];
    win_pos = f[13];
}

// The checks of accel_inflate_stream.c's load(): values in range and
// consistent with the phase.
bool valid()
{
    bool big = total_hi != 0u || total_lo >= WSIZE;
    bool extra = bitcnt >= 32u ? (bb_hi >> (bitcnt - 32u)) != 0u : (bb_hi != 0u || (bb_lo >> bitcnt) != 0u);
    if (phase > PH_END || flags > 3u || bitcnt > 63u || extra || carry_len > CARRY_MAX || win_held > WSIZE ||
        win_pos >= WSIZE || !zeros(ST_ZERO1, 8u) || !zeros(ST_ZERO2, 320u))
        return false;
    if (win_held != (big ? WSIZE : total_lo) || win_pos != (total_lo & WMASK))
        return false;
    if (phase == PH_HEADER)
        return flags == 0u && bitcnt == 0u && bb_lo == 0u && bb_hi == 0u && stored == 0u && mlen == 0u &&
               mdist == 0u && adler == 0u && total_lo == 0u && total_hi == 0u && zeros(ST_LENS, 320u) &&
               carry_len < 2u;
    if ((adler & 0xffffu) >= ADLER_BASE || (adler >> 16) >= ADLER_BASE)
        return false;
    if (phase != PH_STORED && stored != 0u)
        return false;
    if (phase == PH_STORED && (stored > 0xffffu || (bitcnt & 7u) != 0u))
        return false;
    if (phase != PH_HUFF && (mlen != 0u || mdist != 0u))
        return false;
    if (phase == PH_HUFF &&
        (mlen > 258u || (mlen != 0u && (mdist == 0u || mdist > win_held)) || (mlen == 0u && mdist != 0u)))
        return false;
    if ((phase == PH_BLOCK || phase == PH_CHECK || phase == PH_END) && flags != 0u)
        return false;
    if (phase != PH_HUFF || (flags & FL_FIXED) != 0u) {
        if (!zeros(ST_LENS, 320u))
            return false;
    } else {
        work += 321u;
        for (uint i = 0u; i < 320u; i++)
            if (st_byte(ST_LENS + i) > 15u)
                return false;
    }
    if (phase == PH_CHECK && (bitcnt & 7u) != 0u)
        return false;
    if (phase == PH_END && (bitcnt != 0u || carry_len != 0u))
        return false;
    return true;
}

// The window and the check take this dispatch's output; carry drops what
// was read; the fields are written back.
void save()
{
    adler_update();
    uint sout = opos - out0;
    uint keep = min(sout, WSIZE);
    uint at = (win_pos + sout - keep) & WMASK;
    for (uint i = 0u; i < keep; i++)
        st_put_byte(ST_WINDOW + ((at + i) & WMASK), dst_byte(opos - keep + i));
    uint lo = total_lo + sout;
    total_hi += lo < total_lo ? 1u : 0u;
    total_lo = lo;
    win_pos = (win_pos + sout) & WMASK;
    win_held = (total_hi != 0u || total_lo >= WSIZE) ? WSIZE : total_lo;
    if (carry_pos != 0u) {
        for (uint i = carry_pos; i < carry_len; i++)
            st_put_byte(ST_CARRY + i - carry_pos, st_byte(ST_CARRY + i));
        carry_len -= carry_pos;
        carry_pos = 0u;
    }
    uint f[14] = uint[](phase, flags, bb_lo, bb_hi, bitcnt, stored, mlen, mdist, adler, carry_len, total_lo,
                        total_hi, win_held, win_pos);
    for (uint i = 0u; i < 14u; i++)
        st_put_u32(i * 4u, f[i]);
}

// False if llvmpipe's loop limit was reached in this dispatch (see
// inflate.comp): a loop meant to run twice then runs once.
bool loops_intact()
{
    uint n = 0u;
    for (uint i = 0u; i < 2u + (work >> 31); i++)
        n++;
    return n == 2u;
}

void fail(uint code)
{
    S.code = code;
    S.done = 1u;
    S.groups[0] = 0u;
}

void main()
{
    if (S.code != 0u || S.done != 0u)
        return;
    work = 0u;
    if (pc.chunk == 0u) {
        S.consumed = 0u;
        S.produced = 0u;
    }
    tables = false;
    tables_fixed = false;
    src_pos = S.consumed;
    opos = S.produced;
    out0 = opos;
    adler_pos = opos;
    carry_pos = 0u;
    load_fields();
    if (pc.chunk == 0u && !valid()) {
        fail(ST_BAD_STATE);
        return;
    }
    dynamic = false;

    uint status = 0u; // more input needed
    bool yield = false;
    for (;;) {
        // The tables of a Huffman block: of the state's block at the start
        // of a call (a failure there means a bad state), of the block
        // header just read (corrupt input).
        if (phase == PH_HUFF && !tables) {
            if (!build_codes(dynamic ? 4u : ((flags & FL_FIXED) != 0u ? 0u : 2u))) {
                fail(dynamic ? ST_CORRUPT : ST_BAD_STATE);
                return;
            }
            if (dynamic)
                store_lens();
            tables_fixed = !dynamic && (flags & FL_FIXED) != 0u;
            dynamic = false;
            tables = true;
        }
        work += STEP_COST;
        if (work > WORK) {
            yield = true;
            break;
        }
        if (phase == PH_END) {
            status = 1u;
            break;
        }
        if (phase == PH_STORED) {
            if (stored == 0u) {
                end_of_block();
                continue;
            }
            if (opos == pc.size1) {
                status = 2u;
                break;
            }
            if (!copy_stored())
                break; // all input taken
            continue;
        }
        if (phase == PH_HUFF && mlen != 0u) {
            copy_match();
            if (mlen != 0u) {
                status = 2u;
                break;
            }
            continue;
        }
        uint m_lo = bb_lo, m_hi = bb_hi, m_cnt = bitcnt, m_src = src_pos, m_carry = carry_pos;
        bool full = false;
        uint r;
        if (phase == PH_HEADER)
            r = read_header();
        else if (phase == PH_BLOCK)
            r = read_block_header();
        else if (phase == PH_HUFF)
            // Symbols in a loop of their own, back to the steps above at
            // the end of the block, a match that does not fit, or any
            // other result: llvmpipe then runs only this code per symbol,
            // not every step's (see inflate.comp).
            for (;;) {
                r = read_symbol(full);
                if (r != OK || phase != PH_HUFF || mlen != 0u || work > WORK)
                    break;
                work += SYMBOL_COST;
                m_lo = bb_lo;
                m_hi = bb_hi;
                m_cnt = bitcnt;
                m_src = src_pos;
                m_carry = carry_pos;
            }
        else
            r = read_check();
        if (r == BAD) {
            fail(ST_CORRUPT);
            return;
        }
        if (r == OK)
            continue;
        bb_lo = m_lo;
        bb_hi = m_hi;
        bitcnt = m_cnt;
        src_pos = m_src;
        carry_pos = m_carry;
        if (full) {
            status = 2u;
            break;
        }
        // Out of input mid-step: what is left of carry and src waits in
        // carry for the rest of the step.
        uint left = carry_len - carry_pos, rest = pc.size0 - src_pos;
        if (left + rest > CARRY_MAX) {
            fail(ST_CORRUPT);
            return;
        }
        for (uint i = 0u; i < left; i++)
            st_put_byte(ST_CARRY + i, st_byte(ST_CARRY + carry_pos + i));
        for (uint i = 0u; i < rest; i++)
            st_put_byte(ST_CARRY + left + i, src_byte(src_pos + i));
        carry_len = left + rest;
        carry_pos = 0u;
        src_pos = pc.size0;
        break;
    }
    save();
    if (!loops_intact()) {
        fail(ST_LOOP_LIMIT);
        return;
    }
    S.consumed = src_pos;
    S.produced = opos;
    if (yield) {
        if (pc.chunk == pc.pattern - 1u) // the last dispatch recorded
            fail(ST_WORK_LIMIT);
        return;
    }
    uint o = pc.off2, sh = (o & 3u) * 8u;
    uint pv[6] = uint[](src_pos, 0u, opos, 0u, status, 0u);
    for (uint i = 0u; i < 6u; i++) {
        uint w = (o >> 2) + i;
        if (sh == 0u) {
            TST(prog, w, pv[i]);
        } else {
            TPUT_MASKED(prog, w, pv[i] << sh, 0xffffffffu << sh);
            TPUT_MASKED(prog, w + 1u, pv[i] >> (32u - sh), 0xffffffffu >> (32u - sh));
        }
    }
    S.done = 1u;
    S.groups[0] = 0u;
}
