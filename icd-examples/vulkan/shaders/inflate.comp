#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.inflate(src, dst, out_size): RFC 1950 + RFC 1951 (stored, fixed and
// dynamic Huffman blocks), one invocation. Huffman codes decode through a
// 9-bit lookup table with a canonical bit-by-bit fallback for longer codes.
//
// The decoder is resumable: all of its state lives in the status binding,
// and each dispatch stops at a symbol boundary once it has run about WORK
// loop iterations. vk_builtins.c records enough dispatches for ordinary
// streams; a stream that needs more (pathologically many tiny blocks)
// fails with ST_WORK_LIMIT rather than giving a wrong answer.
//
// Counting loop iterations the way llvmpipe does: its limit counts every
// pass through the end of any loop, and it runs both sides of every branch
// under an execution mask, so a loop costs one pass more than its trip
// count, and a loop in a branch not taken (a masked-off `if`, the rest of a
// loop body after `continue`) still costs one pass. `work` therefore
// charges each decoder loop iteration (step(), codes(), dynamic_codes())
// a fixed amount for the loops its branches contain, whichever branch runs,
// plus the data-dependent trips. The hot paths avoid loops where they can
// (refill() has none). If the limit is reached anyway, loops end early and
// silently: main() checks with loops_intact() and fails the call
// (ST_LOOP_LIMIT) rather than report a wrong result as success.
layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer Src { uint w[]; } src;
layout(std430, binding = 1) buffer Dst { uint w[]; } dst;
layout(std430, binding = 2) buffer OutSize { uint w[]; } outsz;
layout(std430, binding = 3) buffer State {
    uint code;
    uint stage; // STAGE_*; the driver clears the first words before each call
    uint last;
    uint remaining; // bytes of the current stored block still to copy
    // Input bits, least significant first.
    uint inpos, inend, bitbuf, bitcnt;
    // Output: the word being assembled, written when complete or at the end.
    uint outpos, outend, pw_idx, pw_val, pw_mask;
    uint ad_a, ad_b, ad_n;
    // Two codes: 0 = literal/length (288 symbols), 1 = distance or, while
    // the header is read, the code-length code (at most 32 symbols).
    uint cnt[32];
    uint sym[320];
    uint tab[1024]; // (symbol << 4) | length; 0 = longer than 9 bits or invalid
    uint lens[352]; // literal/length + distance lengths; from 320: code-length or fixed distance code
} S;
#include "common.glsl"

const uint LBASE[29] = uint[](3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 13u, 15u, 17u, 19u, 23u, 27u, 31u, 35u, 43u,
                              51u, 59u, 67u, 83u, 99u, 115u, 131u, 163u, 195u, 227u, 258u);
const uint LEXT[29] = uint[](0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 1u, 1u, 1u, 1u, 2u, 2u, 2u, 2u, 3u, 3u, 3u, 3u, 4u, 4u,
                             4u, 4u, 5u, 5u, 5u, 5u, 0u);
const uint DBASE[30] = uint[](1u, 2u, 3u, 4u, 5u, 7u, 9u, 13u, 17u, 25u, 33u, 49u, 65u, 97u, 129u, 193u, 257u, 385u,
                              513u, 769u, 1025u, 1537u, 2049u, 3073u, 4097u, 6145u, 8193u, 12289u, 16385u, 24577u);
const uint DEXT[30] = uint[](0u, 0u, 0u, 0u, 1u, 1u, 2u, 2u, 3u, 3u, 4u, 4u, 5u, 5u, 6u, 6u, 7u, 7u, 8u, 8u, 9u, 9u,
                             10u, 10u, 11u, 11u, 12u, 12u, 13u, 13u);
const uint CLORDER[19] = uint[](16u, 17u, 18u, 0u, 8u, 7u, 9u, 6u, 10u, 5u, 11u, 4u, 12u, 3u, 13u, 2u, 14u, 1u, 15u);

const uint BAD = 0xffffffffu;
const uint STAGE_START = 0u, STAGE_HEADER = 1u, STAGE_STORED = 2u, STAGE_CODES = 3u, STAGE_DONE = 4u;
const uint YIELD = 100u;
const uint WORK = 40000u; // loop iterations per dispatch, with room for one more block header or symbol
const uint STEP_COST = 100u; // passes of step()'s loop and of the loops in the branches of its body
const uint SYMBOL_COST = 6u; // passes of codes()'s loop, two decode() loops and the match copy's last pass

uint work; // loop iterations so far in this dispatch

// The decoder's scalar state, in registers while a dispatch runs; load()
// and save() move it from and to the State binding.
uint stage, last, remaining, inpos, inend, bitbuf, bitcnt;
uint outpos, outend, pw_idx, pw_val, pw_mask, ad_a, ad_b, ad_n;

void load()
{
    stage = S.stage;
    last = S.last;
    remaining = S.remaining;
    inpos = S.inpos;
    inend = S.inend;
    bitbuf = S.bitbuf;
    bitcnt = S.bitcnt;
    outpos = S.outpos;
    outend = S.outend;
    pw_idx = S.pw_idx;
    pw_val = S.pw_val;
    pw_mask = S.pw_mask;
    ad_a = S.ad_a;
    ad_b = S.ad_b;
    ad_n = S.ad_n;
}

void save()
{
    S.stage = stage;
    S.last = last;
    S.remaining = remaining;
    S.inpos = inpos;
    S.inend = inend;
    S.bitbuf = bitbuf;
    S.bitcnt = bitcnt;
    S.outpos = outpos;
    S.outend = outend;
    S.pw_idx = pw_idx;
    S.pw_val = pw_val;
    S.pw_mask = pw_mask;
    S.ad_a = ad_a;
    S.ad_b = ad_b;
    S.ad_n = ad_n;
}

// At least 25 bits in bitbuf (up to 32), whole input bytes at a time;
// zeros past the end of the input. No loop: this runs for every symbol.
void refill()
{
    if (bitcnt > 24u)
        return;
    uint n = (32u - bitcnt) >> 3; // 1 to 4 bytes
    // The 4 bytes at inpos from the (at most 2) words holding them, bytes
    // from inend on as zeros; no word past the one holding byte inend - 1.
    uint avail = inpos < inend ? min(inend - inpos, 4u) : 0u;
    uint sh = (inpos & 3u) * 8u, wi = inpos >> 2;
    uint v = avail != 0u ? src.w[wi] >> sh : 0u;
    if (sh != 0u && (wi + 1u) * 4u < inend)
        v |= src.w[wi + 1u] << (32u - sh);
    uint keep = min(n, avail);
    if (keep < 4u)
        v &= (1u << (8u * keep)) - 1u;
    bitbuf |= v << bitcnt;
    inpos += n;
    bitcnt += 8u * n;
}

// k bits, with at least k in bitbuf already.
uint take(uint k)
{
    uint v = bitbuf & ((1u << k) - 1u);
    bitbuf >>= k;
    bitcnt -= k;
    return v;
}

uint bits(uint k)
{
    refill();
    uint v = bitbuf & ((1u << k) - 1u);
    bitbuf >>= k;
    bitcnt -= k;
    return v;
}

// More bits consumed than the input holds (zeros were fed past its end).
bool overrun()
{
    return (inpos - pc.off0) * 8u - bitcnt > pc.size0 * 8u;
}

void flush_word()
{
    PUT_MASKED(dst, pw_idx, pw_val, pw_mask);
    pw_idx++;
    pw_val = 0u;
    pw_mask = 0u;
}

void put(uint b)
{
    uint sh = (outpos & 3u) * 8u;
    pw_val |= b << sh;
    pw_mask |= 0xffu << sh;
    outpos++;
    if ((outpos & 3u) == 0u)
        flush_word();
    ad_a += b;
    ad_b += ad_a;
    if (++ad_n == 5552u) {
        ad_a %= 65521u;
        ad_b %= 65521u;
        ad_n = 0u;
    }
}

uint out_byte(uint p)
{
    if ((p >> 2) == pw_idx)
        return (pw_val >> ((p & 3u) * 8u)) & 0xffu;
    return RD(dst, p);
}

// Build code `which` from lens[first .. first + n). Returns the unused code
// space: < 0 over-subscribed, > 0 incomplete, 0 complete.
int build(uint which, uint first, uint n)
{
    uint cb = which * 16u, sb = which * 288u, tb = which * 512u;
    work += 1200u + 4u * n; // a bound on the passes of the loops below
    for (uint l = 0u; l < 16u; l++)
        S.cnt[cb + l] = 0u;
    for (uint s = 0u; s < n; s++)
        S.cnt[cb + S.lens[first + s]]++;
    for (uint i = 0u; i < 512u; i++)
        S.tab[tb + i] = 0u;
    if (S.cnt[cb] == n)
        return 0;
    int left = 1;
    for (uint l = 1u; l < 16u; l++) {
        left <<= 1;
        left -= int(S.cnt[cb + l]);
        if (left < 0)
            return left;
    }
    uint offs[16];
    offs[1] = 0u;
    for (uint l = 1u; l < 15u; l++)
        offs[l + 1u] = offs[l] + S.cnt[cb + l];
    for (uint s = 0u; s < n; s++) {
        uint l = S.lens[first + s];
        if (l != 0u)
            S.sym[sb + offs[l]++] = s;
    }
    uint code = 0u, idx = 0u;
    for (uint l = 1u; l <= 9u; l++) {
        for (uint k = 0u; k < S.cnt[cb + l]; k++) {
            uint rev = bitfieldReverse(code) >> (32u - l);
            uint e = (S.sym[sb + idx] << 4) | l;
            for (uint f = rev; f < 512u; f += 1u << l)
                S.tab[tb + f] = e;
            idx++;
            code++;
        }
        code <<= 1;
    }
    return left;
}

uint decode(uint which)
{
    refill();
    uint e = S.tab[which * 512u + (bitbuf & 511u)];
    if (e != 0u) {
        uint l = e & 15u;
        bitbuf >>= l;
        bitcnt -= l;
        return e >> 4;
    }
    // Canonical decoding, one bit at a time: at most 15 bits, and refill()
    // left at least 25.
    uint cb = which * 16u, sb = which * 288u;
    int code = 0, first = 0, index = 0;
    for (uint l = 1u; l < 16u; l++) {
        work += 2u;
        code |= int(bitbuf & 1u);
        bitbuf >>= 1;
        bitcnt--;
        int count = int(S.cnt[cb + l]);
        if (code - count < first)
            return S.sym[sb + uint(index + (code - first))];
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return BAD;
}

// Symbols of the current Huffman block: 0 at its end, YIELD when this
// dispatch has done its share, or an error.
uint codes()
{
    for (;;) {
        if (work > WORK)
            return YIELD;
        work += SYMBOL_COST;
        uint s = decode(0u);
        if (s == BAD || overrun())
            return ST_CORRUPT;
        if (s < 256u) {
            if (outpos == outend)
                return ST_TOO_SMALL;
            put(s);
            continue;
        }
        if (s == 256u)
            return 0u;
        s -= 257u;
        if (s >= 29u)
            return ST_CORRUPT;
        uint len = LBASE[s] + take(LEXT[s]); // decode() left at least 10 bits
        uint d = decode(1u);
        if (d >= 30u)
            return ST_CORRUPT;
        uint dist = DBASE[d] + bits(DEXT[d]);
        if (overrun() || dist > outpos - pc.off1)
            return ST_CORRUPT;
        if (outend - outpos < len)
            return ST_TOO_SMALL;
        work += len;
        for (uint i = 0u; i < len; i++)
            put(out_byte(outpos - dist));
    }
    return ST_LOOP_LIMIT; // only if llvmpipe ended the loop
}

// Start a stored block: its length, after going to a byte boundary.
uint stored_start()
{
    bitbuf >>= bitcnt & 7u;
    bitcnt -= bitcnt & 7u;
    inpos -= bitcnt / 8u;
    bitbuf = 0u;
    bitcnt = 0u;
    if (inpos > inend || inend - inpos < 4u)
        return ST_CORRUPT;
    uint len = RD(src, inpos) | (RD(src, inpos + 1u) << 8);
    uint nlen = RD(src, inpos + 2u) | (RD(src, inpos + 3u) << 8);
    inpos += 4u;
    if (len != (~nlen & 0xffffu))
        return ST_CORRUPT;
    if (inend - inpos < len)
        return ST_CORRUPT;
    if (outend - outpos < len)
        return ST_TOO_SMALL;
    remaining = len;
    return 0u;
}

// Copy what this dispatch may of the stored block: 0 when it is done.
uint stored_copy()
{
    uint n = min(remaining, WORK + 1u - min(work, WORK));
    for (uint i = 0u; i < n; i++)
        put(RD(src, inpos + i));
    inpos += n;
    remaining -= n;
    work += n + 1u;
    return remaining == 0u ? 0u : YIELD;
}

void fixed_codes()
{
    for (uint s = 0u; s < 288u; s++)
        S.lens[s] = s < 144u ? 8u : (s < 256u ? 9u : (s < 280u ? 7u : 8u));
    build(0u, 0u, 288u);
    for (uint s = 0u; s < 30u; s++)
        S.lens[320u + s] = 5u;
    build(1u, 320u, 30u);
    work += 320u;
}

uint dynamic_codes()
{
    uint nlen = bits(5u) + 257u, ndist = bits(5u) + 1u, ncode = bits(4u) + 4u;
    if (nlen > 286u || ndist > 30u)
        return ST_CORRUPT;
    work += 20u;
    for (uint i = 0u; i < 19u; i++)
        S.lens[320u + CLORDER[i]] = i < ncode ? bits(3u) : 0u;
    if (build(1u, 320u, 19u) != 0)
        return ST_CORRUPT;
    uint index = 0u;
    while (index < nlen + ndist) {
        work += 4u; // this loop, decode()'s and the repeat's last pass
        uint s = decode(1u);
        if (s == BAD || overrun())
            return ST_CORRUPT;
        if (s < 16u) {
            S.lens[index++] = s;
            continue;
        }
        uint l = 0u, rep;
        if (s == 16u) {
            if (index == 0u)
                return ST_CORRUPT;
            l = S.lens[index - 1u];
            rep = 3u + bits(2u);
        } else if (s == 17u) {
            rep = 3u + bits(3u);
        } else {
            rep = 11u + bits(7u);
        }
        if (index + rep > nlen + ndist)
            return ST_CORRUPT;
        work += rep;
        for (uint i = 0u; i < rep; i++)
            S.lens[index++] = l;
    }
    if (S.lens[256] == 0u)
        return ST_CORRUPT;
    int err = build(0u, 0u, nlen);
    if (err < 0 || (err > 0 && nlen != S.cnt[0] + S.cnt[1]))
        return ST_CORRUPT;
    err = build(1u, nlen, ndist);
    if (err < 0 || (err > 0 && ndist != S.cnt[16] + S.cnt[17]))
        return ST_CORRUPT;
    return 0u;
}

uint start()
{
    if (pc.size2 < 8u)
        return ST_TOO_SMALL;
    if (pc.size0 < 6u)
        return ST_CORRUPT;
    uint cmf = RD(src, pc.off0), flg = RD(src, pc.off0 + 1u);
    if ((cmf & 15u) != 8u || (cmf >> 4) > 7u || (cmf * 256u + flg) % 31u != 0u || (flg & 0x20u) != 0u)
        return ST_CORRUPT;
    inpos = pc.off0 + 2u;
    inend = pc.off0 + pc.size0;
    bitbuf = 0u;
    bitcnt = 0u;
    outpos = pc.off1;
    outend = pc.off1 + pc.size1;
    pw_idx = outpos >> 2;
    pw_val = 0u;
    pw_mask = 0u;
    ad_a = 1u;
    ad_b = 0u;
    ad_n = 0u;
    last = 0u;
    stage = STAGE_HEADER;
    return 0u;
}

// The Adler-32 trailer, then nothing.
uint finish()
{
    bitbuf >>= bitcnt & 7u;
    bitcnt -= bitcnt & 7u;
    inpos -= bitcnt / 8u;
    if (inpos > inend || inend - inpos != 4u)
        return ST_CORRUPT;
    uint want = (RD(src, inpos) << 24) | (RD(src, inpos + 1u) << 16) | (RD(src, inpos + 2u) << 8) |
                RD(src, inpos + 3u);
    ad_a %= 65521u;
    ad_b %= 65521u;
    if (want != ((ad_b << 16) | ad_a))
        return ST_CORRUPT;
    return 0u;
}

// Run from the saved stage until done, an error, or this dispatch's share.
uint step()
{
    for (;;) {
        work += STEP_COST;
        uint r = 0u;
        if (stage == STAGE_START) {
            r = start();
        } else if (stage == STAGE_HEADER) {
            if (last != 0u)
                return finish();
            if (work > WORK)
                return YIELD;
            last = bits(1u);
            uint type = bits(2u);
            if (type == 0u) {
                r = stored_start();
                stage = STAGE_STORED;
            } else if (type == 1u) {
                fixed_codes();
                stage = STAGE_CODES;
            } else if (type == 2u) {
                r = dynamic_codes();
                stage = STAGE_CODES;
            } else {
                r = ST_CORRUPT;
            }
            if (r == 0u && overrun())
                r = ST_CORRUPT;
        } else if (stage == STAGE_STORED) {
            r = stored_copy();
            if (r == 0u)
                stage = STAGE_HEADER;
        } else {
            r = codes();
            if (r == 0u)
                stage = STAGE_HEADER;
        }
        if (r != 0u)
            return r;
    }
    return ST_LOOP_LIMIT; // only if llvmpipe ended the loop
}

// False if llvmpipe's loop limit was reached (or nearly) in this dispatch,
// so that some loop may have ended early: a loop meant to run twice then
// runs once. Its trip count is not a compile-time constant, so that it is
// not unrolled.
bool loops_intact()
{
    uint n = 0u;
    for (uint i = 0u; i < 2u + (work >> 31); i++)
        n++;
    return n == 2u;
}

void main()
{
    if (S.code != 0u || S.stage == STAGE_DONE)
        return;
    work = 0u;
    load();
    uint r = step();
    if (!loops_intact()) {
        S.code = ST_LOOP_LIMIT;
        S.stage = STAGE_DONE;
        return;
    }
    if (r == YIELD) {
        // The last dispatch the driver recorded and still not finished.
        if (pc.chunk == pc.pattern - 1u) {
            S.code = ST_WORK_LIMIT;
            stage = STAGE_DONE;
        }
        save();
        return;
    }
    if (pw_mask != 0u)
        flush_word();
    stage = STAGE_DONE;
    save();
    if (r != 0u) {
        S.code = r;
        return;
    }
    uint n = outpos - pc.off1;
    PUT_U32(outsz, pc.off2, n);
    PUT_U32(outsz, pc.off2 + 4u, 0u);
}
