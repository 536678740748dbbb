#version 450
#extension GL_GOOGLE_include_directive : require
// zlib.inflate(src, dst, out_size): RFC 1950 + RFC 1951 (stored, fixed and
// dynamic Huffman blocks), one invocation.
//
// Written for llvmpipe, which runs this one invocation as one lane of an
// 8-wide vector: every branch is executed (the untaken side under a mask),
// and every storage-buffer access is a loop over the 8 lanes that stalls
// on the lane it loads. src, dst and out_size are therefore bound as
// R32_UINT storage texel buffers (imageLoad and imageStore, which llvmpipe
// gathers and scatters for the whole vector at once), and the decoding
// tables are a local array (read with one gather; load() and save() move
// them from and to the status binding, a storage buffer, when a block's
// codes span dispatches). What a symbol costs is about the number of
// memory accesses in the code of the decoding loop, taken or not, so the
// hot loop has few: the input bits come from two words held in
// registers (one load when the position moves past a word), a code is
// looked up in a table whose entries carry the symbol's kind, base value
// and extra-bit count (zlib's two-level scheme: root entries for codes of
// up to ROOT bits, links to sub-tables for longer ones), and output goes
// out a whole word at a time: the bytes of the current word are assembled
// in a register, and a match copies 4 bytes per step (an unaligned read of
// the output for distances of 4 or more, a repeating pattern for 1 to 3).
// A literal is written by the decoding loop itself (put_byte()), so a run
// of literals costs one pass of that loop each, without the copy loop.
// Adler-32 is kept four bytes at a time, folded (2^16 = 15 mod 65521)
// instead of divided. The first output word when the output does not start
// on a word, and the last one, are written with masks at the end only.
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
// plus the data-dependent trips. If the limit is reached anyway, loops end
// early and silently: main() checks with loops_intact() and fails the call
// (ST_LOOP_LIMIT) rather than report a wrong result as success.
layout(local_size_x = 1) in;
layout(binding = 0, r32ui) uniform readonly uimageBuffer src;
layout(binding = 1, r32ui) uniform uimageBuffer dst;
layout(binding = 2, r32ui) uniform uimageBuffer outsz;
layout(std430, binding = 3) buffer State {
    uint code;
    uint stage; // STAGE_*; the driver clears the first words before each call
    uint last;
    uint remaining; // bytes of the current stored block still to copy
    uint pos;       // input position in bits, inside the binding
    uint outpos;    // output position in bytes, inside the binding
    uint pw_val;    // the bytes of word outpos / 4 below outpos
    uint head_val;  // the first output word, when the output starts inside it
    uint ad_a, ad_b;
    uint used0, used1; // entries of the literal/length and distance tables in tab
    // Code lengths by length: [0, 16) literal/length, [16, 32) the other.
    uint cnt[32];
    uint lens[352]; // literal/length + distance lengths; from 320: code-length or fixed distance code
    // The decoding tables while a dispatch does not run (see T).
    uint tab[1444];
    uint pad[204];
    uint groups[3]; // the dispatches' workgroup counts (VK_INFLATE_GROUPS_WORD): 0 once done
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

// Table entries: bits 0-3 the code length (for a link: the sub-table's
// index bits), 4-7 the extra bits, 16-31 the value (literal, length or
// distance base, code-length symbol; for a link: the sub-table's offset).
// An entry with none of the kind bits is an invalid code.
const uint E_LIT = 0x100u, E_LEN = 0x200u, E_END = 0x400u, E_LINK = 0x800u;
const uint ROOT0 = 9u, ROOT1 = 6u, CAP0 = 852u, CAP1 = 592u;

const uint STAGE_START = 0u, STAGE_HEADER = 1u, STAGE_STORED = 2u, STAGE_CODES = 3u, STAGE_DONE = 4u;
const uint YIELD = 100u;
const uint WORK = 48000u; // loop iterations per dispatch, with room for one more block header or symbol and save()'s copy
const uint STEP_COST = 100u; // passes of step()'s loop and of the loops in the branches of its body
const uint NONE = 0xffffffffu;

uint work; // loop iterations so far in this dispatch

// Decoding tables (entries: see E_*): literal/length at [0, CAP0),
// distance or code-length at [CAP0, CAP0 + CAP1) (zlib's ENOUGH), used
// up to used[0] and CAP0 + used[1]. They are looked up in this array,
// which llvmpipe reads for all lanes at once, where it reads a storage
// buffer one lane at a time; load() and save() move the used parts from
// and to the State binding when a block's codes span dispatches.
uint T[CAP0 + CAP1];
uint used[2];
bool built; // tables were built in this dispatch

// The decoder's state, in registers while a dispatch runs; load() and
// save() move it from and to the State binding.
uint stage, last, remaining, pos, outpos, pw_val, head_val, ad_a, ad_b;
// Derived: the input words at cw and cw + 1 (cw = pos / 32), where the
// input ends, where the output ends, the first output word if partial.
uint cw, w0, w1, lastw, lastmask, endbits, outend, head_idx;

// Input word i, zeros from byte size0 on.
uint ld_src(uint i)
{
    uint v = TLD(src, min(i, lastw));
    return v & (i < lastw ? 0xffffffffu : (i == lastw ? lastmask : 0u));
}

void seek(uint p)
{
    pos = p;
    cw = p >> 5;
    w0 = ld_src(cw);
    w1 = ld_src(cw + 1u);
}

// The next 32 input bits (zeros past the end).
uint peek()
{
    uint sh = pos & 31u;
    return (w0 >> sh) | ((w1 << 1u) << (31u - sh));
}

// Consume k <= 32 bits.
void consume(uint k)
{
    pos += k;
    uint nw = pos >> 5;
    uint nx = ld_src(cw + 2u);
    bool adv = nw != cw;
    w0 = adv ? w1 : w0;
    w1 = adv ? nx : w1;
    cw = nw;
}

uint bits(uint k)
{
    uint v = peek() & ((1u << k) - 1u);
    consume(k);
    return v;
}

void load()
{
    uint end = pc.off0 + pc.size0;
    lastw = (end + 3u) / 4u - 1u;
    lastmask = (end & 3u) == 0u ? 0xffffffffu : (1u << ((end & 3u) * 8u)) - 1u;
    endbits = end * 8u;
    outend = pc.off1 + pc.size1;
    head_idx = (pc.off1 & 3u) != 0u ? pc.off1 >> 2 : NONE;
    stage = S.stage;
    last = S.last;
    remaining = S.remaining;
    outpos = S.outpos;
    pw_val = S.pw_val;
    head_val = S.head_val;
    ad_a = S.ad_a;
    ad_b = S.ad_b;
    seek(S.pos);
    built = false;
    used[0] = S.used0;
    used[1] = S.used1;
    if (stage == STAGE_CODES) {
        work += used[0] + used[1] + 4u;
        for (uint i = 0u; i < used[0]; i++)
            T[i] = S.tab[i];
        for (uint i = 0u; i < used[1]; i++)
            T[CAP0 + i] = S.tab[CAP0 + i];
    }
}

void save()
{
    if (stage == STAGE_CODES && built) {
        for (uint i = 0u; i < used[0]; i++)
            S.tab[i] = T[i];
        for (uint i = 0u; i < used[1]; i++)
            S.tab[CAP0 + i] = T[CAP0 + i];
        S.used0 = used[0];
        S.used1 = used[1];
    }
    S.stage = stage;
    S.last = last;
    S.remaining = remaining;
    S.pos = pos;
    S.outpos = outpos;
    S.pw_val = pw_val;
    S.head_val = head_val;
    S.ad_a = ad_a;
    S.ad_b = ad_b;
}

// Append the low n (1 to 4) bytes of v to the output.
void emit(uint v, uint n)
{
    uint k = (outpos & 3u) * 8u;
    v &= (2u << (n * 8u - 1u)) - 1u;
    uint w = pw_val | (v << k);
    bool full = k + n * 8u >= 32u;
    uint idx = outpos >> 2;
    if (full && idx != head_idx)
        TST(dst, idx, w);
    head_val = full && idx == head_idx ? w : head_val;
    pw_val = full ? (v >> 1u) >> (31u - k) : w;
    outpos += n;
    // Adler-32 of those bytes.
    uint t = (v & 0x00ff00ffu) + ((v >> 8u) & 0x00ff00ffu);
    uint sum = (t & 0xffffu) + (t >> 16u);
    uint wt = ((v >> 8u) & 0xffu) + 2u * ((v >> 16u) & 0xffu) + 3u * (v >> 24u);
    ad_b += n * (ad_a + sum) - wt;
    ad_a += sum;
    ad_a = (ad_a & 0xffffu) + 15u * (ad_a >> 16u);
    ad_b = (ad_b & 0xffffu) + 15u * (ad_b >> 16u);
}

// Output word i as written so far.
uint out_word(uint i)
{
    uint m = TLD(dst, i);
    m = i == head_idx ? head_val : m;
    return i == (outpos >> 2) ? pw_val : m;
}

// The 4 output bytes at s (those at outpos and beyond: anything).
uint out4(uint s)
{
    uint i = s >> 2, sh = (s & 3u) * 8u;
    return (out_word(i) >> sh) | ((out_word(i + 1u) << 1u) << (31u - sh));
}

// The masked writes of the partial first and last output words.
void flush_out()
{
    uint lo = (pc.off1 & 3u) * 8u;
    if (head_idx != NONE && (outpos >> 2) > head_idx)
        TPUT_MASKED(dst, head_idx, head_val, 0xffffffffu << lo);
    uint k = (outpos & 3u) * 8u;
    if (k != 0u) {
        uint idx = outpos >> 2;
        uint m = ((1u << k) - 1u) & (0xffffffffu << (idx == head_idx ? lo : 0u));
        TPUT_MASKED(dst, idx, pw_val, m);
    }
}

uint entry(uint mode, uint s, uint l)
{
    if (mode == 2u)
        return E_LIT | (s << 16) | l;
    if (mode == 1u)
        return s < 30u ? E_LEN | (DBASE[min(s, 29u)] << 16) | (DEXT[min(s, 29u)] << 4) | l : l;
    if (s < 256u)
        return E_LIT | (s << 16) | l;
    if (s == 256u)
        return E_END | l;
    uint i = min(s - 257u, 28u);
    return s < 286u ? E_LEN | (LBASE[i] << 16) | (LEXT[i] << 4) | l : l;
}

// Build the table of code `mode` (0 literal/length, 1 distance, 2
// code-length) from lens[first .. first + n). Returns the unused code
// space: < 0 over-subscribed (or no room), > 0 incomplete, 0 complete.
int build(uint mode, uint first, uint n)
{
    uint tb = mode == 0u ? 0u : CAP0, root = mode == 0u ? ROOT0 : ROOT1;
    uint cap = mode == 0u ? CAP0 : CAP1, cb = mode == 0u ? 0u : 16u;
    work += 200u + 20u * n + 2u * cap; // a bound on the passes of the loops below
    uint cnt[16];
    for (uint l = 0u; l < 16u; l++)
        cnt[l] = 0u;
    for (uint s = 0u; s < n; s++)
        cnt[S.lens[first + s]]++;
    for (uint l = 0u; l < 16u; l++)
        S.cnt[cb + l] = cnt[l];
    int left = 1;
    uint maxl = 0u;
    for (uint l = 1u; l < 16u; l++) {
        left <<= 1;
        left -= int(cnt[l]);
        if (left < 0)
            return left;
        maxl = cnt[l] != 0u ? l : maxl;
    }
    uint offs[16];
    offs[1] = 0u;
    for (uint l = 1u; l < 15u; l++)
        offs[l + 1u] = offs[l] + cnt[l];
    uint srt[288];
    for (uint s = 0u; s < n; s++) {
        uint l = S.lens[first + s];
        if (l != 0u)
            srt[offs[l]++] = s;
    }
    uint rsize = 1u << root;
    if (left > 0)
        for (uint i = 0u; i < rsize; i++)
            T[tb + i] = 0u;
    uint code = 0u, idx = 0u, next = rsize, low = NONE, sub = 0u, subbits = 0u;
    for (uint l = 1u; l <= maxl; l++) {
        uint c = cnt[l];
        for (uint k = 0u; k < c; k++) {
            uint rev = bitfieldReverse(code) >> (32u - l);
            uint e = entry(mode, srt[idx], l);
            if (l <= root) {
                for (uint f = rev; f < rsize; f += 1u << l)
                    T[tb + f] = e;
            } else {
                if ((rev & (rsize - 1u)) != low) {
                    // A sub-table for the codes with these root bits: as
                    // many index bits as they need (zlib's inflate_table).
                    low = rev & (rsize - 1u);
                    uint curr = l - root;
                    int room = 1 << curr;
                    for (uint m = l; m < maxl; m++) {
                        room -= int(cnt[m]);
                        if (room <= 0)
                            break;
                        curr++;
                        room <<= 1;
                    }
                    if (next + (1u << curr) > cap)
                        return -1;
                    T[tb + low] = E_LINK | (next << 16) | curr;
                    sub = next;
                    subbits = curr;
                    next += 1u << curr;
                }
                for (uint f = rev >> root; f < (1u << subbits); f += 1u << (l - root))
                    T[tb + sub + f] = e;
            }
            cnt[l]--;
            idx++;
            code++;
        }
        code <<= 1;
    }
    used[min(mode, 1u)] = next;
    built = true;
    return left;
}

// Decode one code of table tb (root bits) at pos: its entry, with the
// value (base + extra bits) in `val`; consumes the code and extra bits.
uint decode(uint tb, uint root, out uint val)
{
    uint v = peek();
    uint e = T[tb + (v & ((1u << root) - 1u))];
    if ((e & E_LINK) != 0u)
        e = T[tb + (e >> 16) + ((v >> root) & ((1u << (e & 15u)) - 1u))];
    uint l = e & 15u, x = (e >> 4) & 15u;
    val = (e >> 16) + ((v >> l) & ((1u << x) - 1u));
    consume(l + x);
    return e;
}

// Append the literal x to the output (emit() for one byte).
void put_byte(uint x)
{
    uint k = (outpos & 3u) * 8u;
    uint w = pw_val | (x << k);
    uint idx = outpos >> 2;
    bool full = k == 24u;
    if (full && idx != head_idx)
        TST(dst, idx, w);
    head_val = full && idx == head_idx ? w : head_val;
    pw_val = full ? 0u : w;
    outpos++;
    ad_a += x;
    ad_b += ad_a;
    ad_a = (ad_a & 0xffffu) + 15u * (ad_a >> 16u);
    ad_b = (ad_b & 0xffffu) + 15u * (ad_b >> 16u);
}

// Symbols of the current Huffman block: 0 at its end, YIELD when this
// dispatch has done its share, or an error.
uint codes()
{
    for (;;) {
        // Literal/length codes, written out as they come while they are
        // literals (a run of them costs a pass each), then for a length the
        // distance code, all through one decode() (llvmpipe runs every copy
        // of its code).
        uint len = 0u, dist = 0u, val, tb = 0u, root = ROOT0;
        bool more;
        do {
            if (tb == 0u && work > WORK)
                return YIELD;
            work += 2u; // the pass, and one to spare
            uint e = decode(tb, root, val);
            bool lit = tb == 0u && (e & E_LIT) != 0u;
            more = tb == 0u && (e & (E_LIT | E_LEN)) != 0u;
            if (tb == 0u) {
                if ((e & (E_LIT | E_LEN)) == 0u)
                    return (e & E_END) != 0u ? 0u : ST_CORRUPT;
                if (lit && outpos == outend)
                    return ST_TOO_SMALL;
                len = val;
            } else {
                dist = val;
                if ((e & E_LEN) == 0u || dist > outpos - pc.off1)
                    return ST_CORRUPT;
            }
            if (lit)
                put_byte(val);
            tb = tb == 0u && (e & E_LEN) != 0u ? CAP0 : 0u;
            root = tb == 0u ? ROOT0 : ROOT1;
        } while (more);
        if (outend - outpos < len)
            return ST_TOO_SMALL;
        work += 4u + (len >> 2); // this loop's pass, the copy's steps (and some to spare)
        // 4 bytes a step: from the output 4 or more back, or a pattern of
        // 1 to 3 bytes repeated (made on the first step).
        uint pat = 0u;
        bool first = true;
        do {
            uint n = min(len, 4u);
            uint m = out4(outpos - dist);
            uint v = dist >= 4u ? m : pat;
            if (first && dist < 4u)
                v = dist == 1u ? (m & 0xffu) * 0x01010101u
                               : (dist == 2u ? (m & 0xffffu) * 0x00010001u : (m & 0xffffffu) | (m << 24));
            pat = dist == 3u ? (v >> 8) | ((v << 16) & 0xff000000u) : v;
            emit(v, n);
            first = false;
            len -= n;
        } while (len != 0u);
    }
    return ST_LOOP_LIMIT; // only if llvmpipe ended the loop
}

// Start a stored block: its length, after going to a byte boundary.
uint stored_start()
{
    seek((pos + 7u) & ~7u);
    if (pos > endbits || endbits - pos < 32u)
        return ST_CORRUPT;
    uint v = peek();
    consume(32u);
    uint len = v & 0xffffu;
    if (len != (~(v >> 16) & 0xffffu))
        return ST_CORRUPT;
    if ((endbits - pos) / 8u < len)
        return ST_CORRUPT;
    if (outend - outpos < len)
        return ST_TOO_SMALL;
    remaining = len;
    return 0u;
}

// Copy what this dispatch may of the stored block: 0 when it is done.
uint stored_copy()
{
    // A pass of this loop is charged 2: llvmpipe counts more than one
    // for it (a 64 MiB stream of stored blocks reached its limit with a
    // charge of 1).
    uint n = min(remaining, 2u * (WORK + 1u - min(work, WORK)));
    work += n / 2u + 2u;
    remaining -= n;
    for (uint i = 0u; i < n; i += 4u) {
        uint k = min(n - i, 4u);
        emit(peek(), k);
        consume(k * 8u);
    }
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
    if (build(2u, 320u, 19u) != 0)
        return ST_CORRUPT;
    uint index = 0u;
    while (index < nlen + ndist) {
        work += 4u; // this loop, the repeat's last pass, and some
        uint s;
        uint e = decode(CAP0, ROOT1, s);
        if ((e & E_LIT) == 0u)
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
    seek(pc.off0 * 8u);
    uint v = peek();
    uint cmf = v & 0xffu, flg = (v >> 8) & 0xffu;
    if ((cmf & 15u) != 8u || (cmf >> 4) > 7u || (cmf * 256u + flg) % 31u != 0u || (flg & 0x20u) != 0u)
        return ST_CORRUPT;
    consume(16u);
    outpos = pc.off1;
    pw_val = 0u;
    head_val = 0u;
    ad_a = 1u;
    ad_b = 0u;
    last = 0u;
    stage = STAGE_HEADER;
    return 0u;
}

// The Adler-32 trailer, then nothing.
uint finish()
{
    seek((pos + 7u) & ~7u);
    if (pos > endbits || endbits - pos != 32u)
        return ST_CORRUPT;
    uint want = bswap32(peek());
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
        } else if (stage == STAGE_STORED) {
            r = stored_copy();
            if (r == 0u)
                stage = STAGE_HEADER;
        } else {
            r = codes();
            if (r == 0u)
                stage = STAGE_HEADER;
        }
        // Past the end of the input (it reads as zeros): corrupt.
        if ((r == 0u || r == YIELD) && pos > endbits)
            r = ST_CORRUPT;
        if (r != 0u)
            return r;
    }
    return ST_LOOP_LIMIT; // only if llvmpipe ended the loop
}

// Store a little-endian u32 at any byte offset of out_size.
void tput_u32(uint o, uint v)
{
    uint s = (o & 3u) * 8u;
    if (s == 0u) {
        TST(outsz, o >> 2, v);
    } else {
        TPUT_MASKED(outsz, o >> 2, v << s, 0xffffffffu << s);
        TPUT_MASKED(outsz, (o >> 2) + 1u, v >> (32u - s), 0xffffffffu >> (32u - s));
    }
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
        S.groups[0] = 0u;
        return;
    }
    if (r == YIELD) {
        // The last dispatch the driver recorded and still not finished.
        if (pc.chunk == pc.pattern - 1u) {
            S.code = ST_WORK_LIMIT;
            stage = STAGE_DONE;
            S.groups[0] = 0u;
        }
        save();
        return;
    }
    flush_out();
    stage = STAGE_DONE;
    S.groups[0] = 0u;
    save();
    if (r != 0u) {
        S.code = r;
        return;
    }
    uint n = outpos - pc.off1;
    tput_u32(pc.off2, n);
    tput_u32(pc.off2 + 4u, 0u);
}
