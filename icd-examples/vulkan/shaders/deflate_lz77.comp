#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// zlib.deflate, matching: invocation `slot` turns segment pc.first + slot
// into symbols (SLOT_SYMS) and counts them (SLOT_FREQ). zlib's algorithm:
// a hash of the next 3 bytes heads a chain of earlier positions with the
// same hash (SLOT_HEAD, and SLOT_PREV for the last WINDOW positions);
// chains are searched to a depth that grows with the level, with lazy
// evaluation from level 4 (a match is only taken if the next position
// has no longer one) and greedy matching below, on zlib's configuration
// table. From level 4 the 32 KiB before the segment are inserted first,
// so that its first bytes find matches too.
//
// Resumable: the slot's state (S_*) carries the work from one dispatch to
// the next (pc.step counts them, pc.aux0 is how many the driver recorded).
// llvmpipe ends every loop of a SIMD vector after 65535 passes in total
// per dispatch, so `work` counts passes the way it does: one per pass of
// any loop and one more when a loop ends, for the vector, which runs a
// loop as long as its longest lane. The lanes still in a loop know the
// vector's count: after an inner loop each adds the largest trip count
// among them (subgroupMax), and lanes that come back together take the
// largest count among them. A dispatch starts no position past SOFT and
// cuts a chain search at HARD. In the last dispatch a segment not yet
// done is finished with literals, which always fits.
//
// llvmpipe also runs every branch of an `if` (masked), so what a loop
// pass costs is every memory access written in its body: the hot loops
// keep theirs few. The 36 bytes from the current position are read once
// per position into registers (c0..c8), where the chain search compares
// them; positions are hashed from a 4-byte window that takes one new
// byte a step.
layout(local_size_x = 8) in;
#include "deflate.glsl"

const uint SOFT = 60000u;
const uint HARD = 63500u;
const uint RESERVE = 400u; // the most passes of one position outside its chain search
const uint TAIL = 18000u;  // kept in the last dispatch for the literal tail
const uint NONE = 0xffffffffu;

uint work;
uint soft, hard;
uint base, seg_start, seg_end, win_start;
uint cfg_good, cfg_lazy, cfg_nice, cfg_chain;
bool lazy;
uint nsym;

// zlib's configuration_table: good_length (search a quarter as deep once
// a match this long is in hand), max_lazy (no lazy search past this
// length; greedy levels: no insertion of a match's positions past it),
// nice_length (stop searching at this length), max_chain.
void config(uint level)
{
    lazy = level >= 4u;
    uvec4 c = level == 1u   ? uvec4(4u, 4u, 8u, 4u)
              : level == 2u ? uvec4(4u, 5u, 16u, 8u)
              : level == 3u ? uvec4(4u, 6u, 32u, 16u)
              : level == 4u ? uvec4(4u, 4u, 16u, 16u)
              : level == 5u ? uvec4(8u, 16u, 32u, 16u)
              : level == 6u ? uvec4(8u, 16u, 128u, 32u)
              : level == 7u ? uvec4(8u, 32u, 128u, 64u)
              : level == 8u ? uvec4(32u, 128u, 258u, 128u)
                            : uvec4(32u, 258u, 258u, 256u);
    cfg_good = c.x;
    cfg_lazy = c.y;
    cfg_nice = c.z;
    cfg_chain = c.w;
}

// Insert position q (whose next bytes are w) into its hash chain;
// returns the chain's previous head (position + 1; 0 is none).
uint insert(uint q, uint w)
{
    uint h = ((w & 0xffffffu) * 0x9E3779B1u) >> (32u - HASH_BITS);
    uint old = SR(base + SLOT_HEAD + h);
    SW(base + SLOT_HEAD + h, q + 1u);
    SW(base + SLOT_PREV + (q & (WINDOW - 1u)), old);
    return old;
}

// Insert the n positions from q, whose first 4 bytes are w: one new byte
// a step.
void insert_run(uint q, uint w, uint n)
{
    for (uint k = 0u; k < n; k++) {
        insert(q + k, w);
        w = (w >> 8) | (src_byte(q + k + 4u) << 24);
    }
}

// The aligned words holding the bytes from the current position on, and
// the position's offset in the first.
uint c0, c1, c2, c3, c4, c5, c6, c7, c8, csh;
const uint CACHE = 32u; // bytes of them the chain search compares

void cache_load(uint pos)
{
    uint a = src_off() + pos, w = a >> 2, last = (src_off() + src_n() - 1u) >> 2;
    csh = a & 3u;
    c0 = src_word(min(w, last));
    c1 = src_word(min(w + 1u, last));
    c2 = src_word(min(w + 2u, last));
    c3 = src_word(min(w + 3u, last));
    c4 = src_word(min(w + 4u, last));
    c5 = src_word(min(w + 5u, last));
    c6 = src_word(min(w + 6u, last));
    c7 = src_word(min(w + 7u, last));
    c8 = src_word(min(w + 8u, last));
}

uint cache_word(uint i)
{
    return i == 0u ? c0 : i == 1u ? c1 : i == 2u ? c2 : i == 3u ? c3 : i == 4u ? c4 : i == 5u ? c5 : i == 6u ? c6 : i == 7u ? c7 : c8;
}

// The 4 bytes at offset k (0..28) from the current position.
uint cur_u32(uint k)
{
    uint a = csh + k, sh = (a & 3u) * 8u;
    uint lo = cache_word(a >> 2), hi = cache_word((a >> 2) + 1u);
    return sh == 0u ? lo : (lo >> sh) | (hi << (32u - sh));
}

// The longest match at pos longer than `best`, walking at most `chain`
// candidates from `cand`: (length, distance), distance 0 if none. A
// candidate must lie in the window, in this segment or its dictionary,
// and chains must go strictly backwards: entries of a slot's earlier
// segment or of an earlier call are older than that, or get stopped.
//
// One loop pass looks at a new candidate or compares 8 more of its bytes
// (a vector runs every pass as long as its slowest lane, so a candidate
// rejected at once must not cost a second pass). A candidate is first
// checked on the 4 bytes ending where it would beat the best, then
// compared from its start, within the CACHE bytes in registers. The first
// that matches all of them ends the search (as one of nice_length does),
// and is compared further after the loop: for text, matches that long
// are rare; for runs, the nearest is as good as any.
uvec2 longest(uint pos, uint cand, uint best, uint chain)
{
    uint maxlen = min(258u, seg_end - pos), cap = min(maxlen, CACHE), stop = min(cfg_nice, cap);
    uint lim = max(pos >= WINDOW ? pos - WINDOW + 1u : 0u, win_start);
    uint bdist = 0u, c = cand, lastp = pos, p = 0u, len = 0u;
    bool fresh = true;
    bool on = chain != 0u && c > lim && c - 1u < lastp && best < stop;
    while (on && work < hard) {
        work++;
        if (fresh) {
            p = c - 1u;
            lastp = p;
            chain--;
            uint o = max(best, 3u) - 3u, m = best >= 3u ? 0xffffffffu : 0xffffffu;
            fresh = ((src_u32(p + o) ^ cur_u32(o)) & m) != 0u;
        }
        bool next = fresh;
        if (!fresh) {
            uint x0 = src_u32(p + len) ^ cur_u32(len);
            uint x1 = src_u32(p + len + 4u) ^ cur_u32(min(len + 4u, 28u));
            uint add = x0 != 0u ? uint(findLSB(x0)) >> 3 : x1 != 0u ? 4u + (uint(findLSB(x1)) >> 3) : 8u;
            len = min(len + add, cap);
            if (add != 8u || len == cap) {
                if (len > best && len >= 3u) {
                    best = len;
                    bdist = pos - p;
                }
                len = 0u;
                next = true;
            }
        }
        if (next) {
            c = SR(base + SLOT_PREV + (p & (WINDOW - 1u)));
            fresh = true;
            on = chain != 0u && c > lim && c - 1u < lastp && best < stop;
        }
    }
    work = subgroupMax(work) + 1u;
    // A match of the whole cache: on, 8 bytes a pass.
    uint far = maxlen;
    bool more = bdist != 0u && best == CACHE && best < far;
    uint trips = 0u;
    while (more) {
        uint q = pos - bdist + best;
        uint x0 = src_u32(q) ^ src_u32(pos + best), x1 = src_u32(q + 4u) ^ src_u32(pos + best + 4u);
        uint add = x0 != 0u ? uint(findLSB(x0)) >> 3 : x1 != 0u ? 4u + (uint(findLSB(x1)) >> 3) : 8u;
        best = min(best + add, far);
        more = add == 8u && best < far;
        trips++;
    }
    work += subgroupMax(trips) + 1u;
    return uvec2(best, bdist);
}

void emit(uint sym)
{
    SW(base + SLOT_SYMS + nsym, sym);
    nsym++;
    uint f1 = sym, f2 = NONE;
    if ((sym & MATCH) != 0u) {
        f1 = 257u + len_code((sym >> 15) & 255u);
        f2 = 288u + dist_code(sym & 32767u);
    }
    uint fb = base + SLOT_FREQ;
    SW(fb + f1, SR(fb + f1) + 1u);
    if (f2 != NONE)
        SW(fb + f2, SR(fb + f2) + 1u);
}

// False if llvmpipe's loop limit was reached in this dispatch, so that a
// loop may have ended early (its trip count is not a compile-time
// constant, so that it is not unrolled).
bool loops_intact()
{
    uint n = 0u;
    for (uint i = 0u; i < 2u + (work >> 31); i++)
        n++;
    return n == 2u;
}

void main()
{
    uint slot = gl_GlobalInvocationID.x;
    if (slot >= pc.count || st.code != 0u)
        return;
    config(pc.pattern);
    uint s = pc.first + slot;
    base = slot_base(slot);
    seg_start = s * DEFLATE_SEGMENT;
    seg_end = seg_start + seg_len(s);
    win_start = !lazy ? seg_start : seg_start > WINDOW ? seg_start - WINDOW : 0u;
#ifdef DEFLATE_STREAM
    // The stream's first segment, behind the window the state holds, in
    // the stage (deflate_stage put them there).
    uint held = state_u32(16u);
    if (s == 0u && held != 0u) {
        g_stage = true;
        g_stage_n = held + seg_len(0u);
        seg_start = held;
        seg_end = g_stage_n;
        win_start = !lazy ? seg_start : 0u;
    }
#endif
    uint sb = base + SLOT_STATE;
    uint pos, prev_len, prev_dist, avail, phase, prime_pos;
    work = 0u;
    if (pc.step == 0u) {
        // A new segment in this slot. The counts start with the block's
        // end-of-block symbol.
        pos = seg_start;
        prev_len = 2u;
        prev_dist = 0u;
        avail = 0u;
        nsym = 0u;
        phase = lazy ? PH_PRIME : PH_MATCH;
        prime_pos = win_start;
        for (uint i = 0u; i < 320u; i += 8u) {
            [[unroll]] for (uint k = 0u; k < 8u; k++)
                SW(base + SLOT_FREQ + i + k, 0u);
            work++;
        }
        SW(base + SLOT_FREQ + 256u, 1u);
        work++;
    } else {
        pos = SR(sb + S_POS);
        prev_len = SR(sb + S_PREVLEN);
        prev_dist = SR(sb + S_PREVDIST);
        avail = SR(sb + S_AVAIL);
        nsym = SR(sb + S_NSYM);
        phase = SR(sb + S_PHASE);
        prime_pos = SR(sb + S_PRIME);
    }
    if (phase == PH_DONE)
        return;
    bool last = pc.step + 1u >= pc.aux0;
    soft = last ? SOFT - TAIL : SOFT;
    hard = soft + (HARD - SOFT);

    uint w = src_u32(prime_pos);
    while (phase == PH_PRIME && prime_pos < seg_start && work < soft) {
        insert(prime_pos, w);
        w = (w >> 8) | (src_byte(prime_pos + 4u) << 24);
        prime_pos++;
        work++;
    }
    work = subgroupMax(work) + 1u;
    if (phase == PH_PRIME && prime_pos == seg_start)
        phase = PH_MATCH;

    for (;;) {
        // Lanes leave this loop with the same count as those that stay.
        work = subgroupMax(work) + 1u;
        if (phase != PH_MATCH || work + RESERVE >= soft)
            break;
        bool here = pos < seg_end;
        cache_load(pos);
        uint cur0 = cur_u32(0u);
        uint mlen = 2u, mdist = 0u;
        if (here) {
            uint cand = insert(pos, cur0);
            if (seg_end - pos >= 3u && (!lazy || prev_len < cfg_lazy)) {
                uint chain = lazy && prev_len >= cfg_good ? cfg_chain >> 2 : cfg_chain;
                uvec2 m = longest(pos, cand, lazy ? max(prev_len, 2u) : 2u, chain);
                mlen = m.y != 0u ? m.x : 2u;
                mdist = m.y;
                // zlib's TOO_FAR: a 3-byte match this far back costs more
                // than its literals.
                if (lazy && mlen == 3u && mdist > 4096u)
                    mlen = 2u;
            }
        }
        uint sym = NONE, ins = 0u, next = pos + 1u;
        if (lazy && prev_len >= 3u && mlen <= prev_len) {
            // The match at pos - 1 wins: its positions after pos go into
            // the chains too.
            sym = MATCH | ((prev_len - 3u) << 15) | (prev_dist - 1u);
            ins = prev_len - 2u;
            next = pos + prev_len - 1u;
            avail = 0u;
            prev_len = 2u;
        } else if (!lazy && mlen >= 3u) {
            sym = MATCH | ((mlen - 3u) << 15) | (mdist - 1u);
            ins = mlen <= cfg_lazy ? mlen - 1u : 0u;
            next = pos + mlen;
        } else if (lazy) {
            if (avail != 0u)
                sym = src_byte(pos - 1u);
            avail = here ? 1u : 0u;
            prev_len = mlen;
            prev_dist = mdist;
        } else if (here) {
            sym = cur0 & 0xffu;
        }
        if (sym != NONE)
            emit(sym);
        // Lanes that did not search catch up; +1: the chain search passes
        // once even when no lane searches.
        work = subgroupMax(work) + 1u;
        insert_run(pos + 1u, cur_u32(1u), ins);
        work += subgroupMax(ins) + 1u;
        pos = next;
        if (!here)
            phase = PH_DONE;
    }
    work = subgroupMax(work);

    if (last && phase != PH_DONE) {
        // Out of dispatches: the match in hand, then literals.
        if (lazy && prev_len >= 3u) {
            emit(MATCH | ((prev_len - 3u) << 15) | (prev_dist - 1u));
            pos += prev_len - 1u;
        } else if (avail != 0u) {
            emit(src_byte(pos - 1u));
        }
        while (pos < seg_end) {
            uint w = src_u32(pos), k = min(4u, seg_end - pos);
            [[unroll]] for (uint j = 0u; j < 4u; j++)
                if (j < k)
                    emit((w >> (8u * j)) & 0xffu);
            pos += k;
            work++;
        }
        work = subgroupMax(work) + 1u;
        phase = PH_DONE;
    }
    if (!loops_intact()) {
        st.code = ST_LOOP_LIMIT;
        return;
    }
    SW(sb + S_POS, pos);
    SW(sb + S_PREVLEN, prev_len);
    SW(sb + S_PREVDIST, prev_dist);
    SW(sb + S_AVAIL, avail);
    SW(sb + S_NSYM, nsym);
    SW(sb + S_PHASE, phase);
    SW(sb + S_PRIME, prime_pos);
}
