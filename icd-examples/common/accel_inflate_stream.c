/* accel_inflate_stream.c — the streaming zlib decoder of
 * accel_inflate_stream.h.
 *
 * Decoding goes in steps that either complete or leave no trace: the zlib
 * header, a block header (for a dynamic block, its whole code description),
 * one literal, or one length with its distance, the Adler-32. A step that
 * runs out of input is rolled back to where it began and the input it had
 * read (and the rest of src) is kept in `carry`, to be read again when the
 * next call brings the rest: so the state never holds half a step, and a
 * chunk of one byte is as good as any. Bytes are taken into the bit buffer
 * only as a step needs them (Huffman decoding looks ahead at most 15 bits),
 * so at the end of the stream no byte after it has been consumed.
 *
 * Huffman codes decode with a table of 2^9 entries for codes of up to 9
 * bits and canonically, a bit at a time, for longer ones; the tables are
 * built from the code lengths at the start of every call (the state keeps
 * only the lengths). Output goes straight to dst; a match copies from dst
 * or, further back, from the window of earlier calls, which is brought up
 * to date, with the Adler-32, once at the end of the call.
 *
 * What is rejected follows zlib's inflate: a header that is not deflate
 * with a window of at most 32 KiB, a preset dictionary, a bad check; block
 * type 3; a stored length whose complement does not match; more than 286
 * literal/length or 30 distance codes; over-subscribed codes, incomplete
 * ones except a single code of one bit (and the code length code must be
 * complete); a repeat with nothing to repeat or past the end; no end of
 * block code; literal/length codes 286-287, distance codes 30-31, a
 * distance further back than the output; an Adler-32 that does not match.
 *
 * The same text compiles as OpenCL C (icd-examples/opencl builds the header
 * and this file into a program of its own, with a kernel that calls
 * accel_inflate_stream): GLOBAL marks what points into the function's
 * buffers, TABLE the constant tables, and the byte copies into those
 * buffers go through copy_bytes, move_down and zero_bytes. */
#ifdef __OPENCL_C_VERSION__
#define GLOBAL __global
#define TABLE  __constant

static void copy_bytes(__global uint8_t *d, __global const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

static void zero_bytes(__global uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = 0;
}
#else
#include "accel_inflate_stream.h"

#include <stdbool.h>
#include <string.h>

#define GLOBAL
#define TABLE            static const
#define copy_bytes       memcpy
#define zero_bytes(d, n) memset(d, 0, n)
#endif

/* Moves n bytes to a lower address (d < s), as memmove does. */
static void move_down(GLOBAL uint8_t *d, GLOBAL const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
}

/* ---- the state layout (docs/standard-functions.md) -------------------- */

enum {
    ST_PHASE = 0,
    ST_FLAGS = 4,
    ST_BITBUF = 8,
    ST_BITCNT = 16,
    ST_STORED = 20,
    ST_MLEN = 24,
    ST_MDIST = 28,
    ST_ADLER = 32,
    ST_CARRYLEN = 36,
    ST_TOTAL = 40,
    ST_WINHELD = 48,
    ST_WINPOS = 52,
    ST_ZERO1 = 56, /* 8 bytes */
    ST_LENS = 64,  /* 288 + 32 */
    ST_CARRY = 384,
    ST_WINDOW = 896,
    ST_ZERO2 = 33664, /* 320 bytes */
};

#define CARRY_MAX  512u
#define WSIZE      32768u
#define WMASK      (WSIZE - 1)
#define NLIT       288
#define NDIST      32
#define FAST_BITS  9
#define MAX_BITS   15
#define ADLER_BASE 65521u

enum { PH_HEADER, PH_BLOCK, PH_STORED, PH_HUFF, PH_CHECK, PH_END };
enum { FL_LAST = 1, FL_FIXED = 2 };

static uint32_t get32(GLOBAL const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(GLOBAL const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(GLOBAL uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(GLOBAL uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t adler32(uint32_t adler, GLOBAL const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xffff, b = adler >> 16;
    while (n) {
        size_t k = n < 5552 ? n : 5552; /* the most bytes before b can overflow */
        n -= k;
        for (; k >= 8; k -= 8, p += 8) {
            a += p[0];
            b += a;
            a += p[1];
            b += a;
            a += p[2];
            b += a;
            a += p[3];
            b += a;
            a += p[4];
            b += a;
            a += p[5];
            b += a;
            a += p[6];
            b += a;
            a += p[7];
            b += a;
        }
        while (k--) {
            a += *p++;
            b += a;
        }
        a %= ADLER_BASE;
        b %= ADLER_BASE;
    }
    return b << 16 | a;
}

/* ---- Huffman codes ------------------------------------------------------ */

typedef struct huff {
    uint16_t count[MAX_BITS + 1];   /* codes of each length */
    uint16_t sym[NLIT];             /* symbols by code (canonical order) */
    uint16_t fast[1u << FAST_BITS]; /* sym << 4 | length; 0: longer than FAST_BITS or unused */
} huff;

static uint32_t reverse8(uint32_t b)
{
    return (uint32_t)(((b * 0x0802u & 0x22110u) | (b * 0x8020u & 0x88440u)) * 0x10101u >> 16) & 0xff;
}

static uint32_t reverse16(uint32_t c)
{
    return reverse8(c & 0xff) << 8 | reverse8(c >> 8 & 0xff);
}

/* Builds h from n code lengths. complete: the code must be complete (the
 * code length code); otherwise an incomplete code is accepted only as a
 * single code of one bit, and an empty code is accepted (using it fails).
 * false when the lengths do not make a code. */
static bool huff_build(huff *h, const uint8_t *len, unsigned n, bool complete)
{
    uint16_t offs[MAX_BITS + 2];
    for (unsigned l = 0; l <= MAX_BITS; l++)
        h->count[l] = 0;
    for (unsigned k = 0; k < (1u << FAST_BITS); k++)
        h->fast[k] = 0;
    for (unsigned i = 0; i < n; i++) {
        if (len[i] > MAX_BITS)
            return false;
        h->count[len[i]]++;
    }
    h->count[0] = 0;
    unsigned max = 0;
    for (unsigned l = 1; l <= MAX_BITS; l++)
        if (h->count[l])
            max = l;
    if (max == 0)
        return true;
    int left = 1;
    for (unsigned l = 1; l <= MAX_BITS; l++) {
        left <<= 1;
        left -= h->count[l];
        if (left < 0)
            return false; /* over-subscribed */
    }
    if (left > 0 && (complete || max != 1))
        return false; /* incomplete */
    offs[1] = 0;
    for (unsigned l = 1; l <= MAX_BITS; l++)
        offs[l + 1] = (uint16_t)(offs[l] + h->count[l]);
    uint32_t code = 0, next[MAX_BITS + 1]; /* the first code of each length */
    for (unsigned l = 1; l <= MAX_BITS; l++) {
        next[l] = code;
        code = (code + h->count[l]) << 1;
    }
    for (unsigned s = 0; s < n; s++) {
        unsigned l = len[s];
        if (!l)
            continue;
        h->sym[offs[l]++] = (uint16_t)s;
        uint32_t c = next[l]++;
        if (l > FAST_BITS)
            continue;
        uint32_t rev = reverse16(c) >> (16 - l); /* the code is sent most significant bit first */
        for (uint32_t k = rev; k < (1u << FAST_BITS); k += 1u << l)
            h->fast[k] = (uint16_t)(s << 4 | l);
    }
    return true;
}

/* ---- the decoder -------------------------------------------------------- */

typedef struct inf {
    GLOBAL uint8_t *state;
    uint32_t phase, flags, bitcnt, stored, mlen, mdist, adler, carry_len, win_held, win_pos;
    uint64_t bitbuf, total;
    uint32_t carry_pos;
    GLOBAL const uint8_t *src;
    uint64_t src_size, src_pos;
    GLOBAL uint8_t *dst;
    uint64_t dst_size, out, adler_pos;
    huff lit, dist;
} inf;

typedef struct mark {
    uint64_t bitbuf, src_pos;
    uint32_t bitcnt, carry_pos;
} mark;

enum { OK = 0, MORE = 1, BAD = 2 };

static mark mark_get(const inf *s)
{
    return (mark){s->bitbuf, s->src_pos, s->bitcnt, s->carry_pos};
}

static void mark_back(inf *s, mark m)
{
    s->bitbuf = m.bitbuf;
    s->src_pos = m.src_pos;
    s->bitcnt = m.bitcnt;
    s->carry_pos = m.carry_pos;
}

/* One more byte into the bit buffer: carry first, then src. */
static bool pull(inf *s)
{
    uint32_t b;
    if (s->carry_pos < s->carry_len)
        b = s->state[ST_CARRY + s->carry_pos++];
    else if (s->src_pos < s->src_size)
        b = s->src[s->src_pos++];
    else
        return false;
    s->bitbuf |= (uint64_t)b << s->bitcnt;
    s->bitcnt += 8;
    return true;
}

static bool need(inf *s, uint32_t n)
{
    while (s->bitcnt < n)
        if (!pull(s))
            return false;
    return true;
}

static uint32_t bits(inf *s, uint32_t n)
{
    uint32_t v = (uint32_t)(s->bitbuf & (((uint64_t)1 << n) - 1));
    s->bitbuf >>= n;
    s->bitcnt -= n;
    return v;
}

/* The next symbol of h into *sym: OK, MORE (input ran out) or BAD. */
static int decode(inf *s, const huff *h, uint32_t *sym)
{
    while (s->bitcnt < MAX_BITS && pull(s))
        ;
    uint16_t e = h->fast[s->bitbuf & ((1u << FAST_BITS) - 1)];
    if (e && (e & 15) <= s->bitcnt) {
        *sym = e >> 4;
        bits(s, e & 15);
        return OK;
    }
    int code = 0, first = 0, index = 0;
    for (uint32_t l = 1; l <= MAX_BITS; l++) {
        if (l > s->bitcnt)
            return MORE;
        code |= (int)((s->bitbuf >> (l - 1)) & 1);
        int count = h->count[l];
        if (code - count < first) {
            *sym = h->sym[index + (code - first)];
            bits(s, l);
            return OK;
        }
        index += count;
        first += count;
        first <<= 1;
        code <<= 1;
    }
    return BAD;
}

TABLE uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                               31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
TABLE uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                               2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
TABLE uint16_t dist_base[30] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                                33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                                1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
TABLE uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void fixed_lengths(uint8_t *lens)
{
    for (int i = 0; i < 144; i++)
        lens[i] = 8;
    for (int i = 144; i < 256; i++)
        lens[i] = 9;
    for (int i = 256; i < 280; i++)
        lens[i] = 7;
    for (int i = 280; i < NLIT; i++)
        lens[i] = 8;
    for (int i = 0; i < NDIST; i++)
        lens[NLIT + i] = 5;
}

/* The tables of the current Huffman block from the lengths in state (or
 * the fixed ones); false if they do not make codes. */
static bool build_tables(inf *s)
{
    /* A copy, read once: the state is the application's memory, which may
     * change while the tables are built from it (huff_build reads each
     * length twice and indexes by it). */
    uint8_t lens[NLIT + NDIST];
    if (s->flags & FL_FIXED)
        fixed_lengths(lens);
    else
        for (unsigned i = 0; i < NLIT + NDIST; i++)
            lens[i] = s->state[ST_LENS + i];
    if (!(s->flags & FL_FIXED) && lens[256] == 0)
        return false;
    return huff_build(&s->lit, lens, NLIT, false) && huff_build(&s->dist, lens + NLIT, NDIST, false);
}

TABLE uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* A dynamic block's code description (after the 3 header bits). */
static int read_dynamic(inf *s)
{
    if (!need(s, 14))
        return MORE;
    uint32_t nlen = bits(s, 5) + 257, ndist = bits(s, 5) + 1, ncode = bits(s, 4) + 4;
    if (nlen > 286 || ndist > 30)
        return BAD;
    uint8_t cl[19] = {0};
    for (uint32_t i = 0; i < ncode; i++) {
        if (!need(s, 3))
            return MORE;
        cl[order[i]] = (uint8_t)bits(s, 3);
    }
    huff code;
    if (!huff_build(&code, cl, 19, true))
        return BAD;
    uint8_t lens[NLIT + NDIST] = {0}, all[286 + 30];
    uint32_t n = 0;
    while (n < nlen + ndist) {
        uint32_t sym;
        int r = decode(s, &code, &sym);
        if (r != OK)
            return r;
        if (sym < 16) {
            all[n++] = (uint8_t)sym;
            continue;
        }
        uint32_t rep, val = 0;
        if (sym == 16) {
            if (n == 0)
                return BAD;
            if (!need(s, 2))
                return MORE;
            val = all[n - 1];
            rep = 3 + bits(s, 2);
        } else if (sym == 17) {
            if (!need(s, 3))
                return MORE;
            rep = 3 + bits(s, 3);
        } else {
            if (!need(s, 7))
                return MORE;
            rep = 11 + bits(s, 7);
        }
        if (n + rep > nlen + ndist)
            return BAD;
        while (rep--)
            all[n++] = (uint8_t)val;
    }
    for (uint32_t i = 0; i < nlen; i++)
        lens[i] = all[i];
    for (uint32_t i = 0; i < ndist; i++)
        lens[NLIT + i] = all[nlen + i];
    if (lens[256] == 0)
        return BAD;
    if (!huff_build(&s->lit, lens, NLIT, false) || !huff_build(&s->dist, lens + NLIT, NDIST, false))
        return BAD;
    for (unsigned i = 0; i < NLIT + NDIST; i++)
        s->state[ST_LENS + i] = lens[i];
    return OK;
}

/* A block header: phase PH_STORED or PH_HUFF (or on to the next block /
 * the check for an empty stored block). */
static int read_block_header(inf *s)
{
    if (!need(s, 3))
        return MORE;
    uint32_t last = bits(s, 1), type = bits(s, 2);
    if (type == 0) {
        bits(s, s->bitcnt & 7);
        if (!need(s, 32))
            return MORE;
        uint32_t len = bits(s, 16), nlen = bits(s, 16);
        if (len != (~nlen & 0xffff))
            return BAD;
        s->flags = last;
        s->stored = len;
        s->phase = PH_STORED;
        return OK;
    }
    if (type == 1) {
        s->flags = last | FL_FIXED;
        if (!build_tables(s))
            return BAD;
        zero_bytes(s->state + ST_LENS, NLIT + NDIST);
        s->phase = PH_HUFF;
        return OK;
    }
    if (type == 2) {
        int r = read_dynamic(s);
        if (r != OK)
            return r;
        s->flags = last;
        s->phase = PH_HUFF;
        return OK;
    }
    return BAD;
}

static void end_of_block(inf *s)
{
    if (s->flags & FL_LAST) {
        bits(s, s->bitcnt & 7);
        s->phase = PH_CHECK;
    } else {
        s->phase = PH_BLOCK;
    }
    s->flags = 0;
    zero_bytes(s->state + ST_LENS, NLIT + NDIST);
}

/* The byte `d` back from the next output byte (d <= out + win_held). */
static uint8_t back(const inf *s, uint32_t d)
{
    if (d <= s->out)
        return s->dst[s->out - d];
    return s->state[ST_WINDOW + ((s->win_pos - (d - s->out)) & WMASK)];
}

/* Copies the pending match as far as dst has room. */
static void copy_match(inf *s)
{
    uint64_t room = s->dst_size - s->out;
    uint32_t n = s->mlen < room ? s->mlen : (uint32_t)room;
    uint32_t d = s->mdist;
    if (d <= s->out && d >= n) {
        copy_bytes(s->dst + s->out, s->dst + s->out - d, n);
        s->out += n;
    } else if (d <= s->out) {
        for (uint32_t i = 0; i < n; i++, s->out++)
            s->dst[s->out] = s->dst[s->out - d];
    } else {
        for (uint32_t i = 0; i < n; i++, s->out++)
            s->dst[s->out] = back(s, d);
    }
    s->mlen -= n;
    if (!s->mlen)
        s->mdist = 0;
}

/* One symbol (a literal, the end of the block, or a length and distance). */
static int read_symbol(inf *s, bool *full)
{
    uint32_t sym, dsym;
    int r = decode(s, &s->lit, &sym);
    if (r != OK)
        return r;
    if (sym < 256) {
        if (s->out == s->dst_size) {
            *full = true;
            return MORE;
        }
        s->dst[s->out++] = (uint8_t)sym;
        return OK;
    }
    if (sym == 256) {
        end_of_block(s);
        return OK;
    }
    sym -= 257;
    if (sym >= 29)
        return BAD;
    if (!need(s, len_extra[sym]))
        return MORE;
    uint32_t len = len_base[sym] + bits(s, len_extra[sym]);
    if ((r = decode(s, &s->dist, &dsym)) != OK)
        return r;
    if (dsym >= 30)
        return BAD;
    if (!need(s, dist_extra[dsym]))
        return MORE;
    uint32_t d = dist_base[dsym] + bits(s, dist_extra[dsym]);
    if (d > s->out + s->win_held)
        return BAD; /* further back than the output */
    s->mlen = len;
    s->mdist = d;
    copy_match(s);
    return OK;
}

static int read_header(inf *s)
{
    if (!need(s, 16))
        return MORE;
    uint32_t cmf = bits(s, 8), flg = bits(s, 8);
    if ((cmf & 15) != 8 || (cmf >> 4) > 7 || (cmf * 256 + flg) % 31 || (flg & 0x20))
        return BAD;
    s->adler = 1;
    s->phase = PH_BLOCK;
    return OK;
}

static int read_check(inf *s)
{
    if (!need(s, 32))
        return MORE;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | bits(s, 8);
    if (s->out > s->adler_pos)
        s->adler = adler32(s->adler, s->dst + s->adler_pos, (size_t)(s->out - s->adler_pos));
    s->adler_pos = s->out;
    if (v != s->adler)
        return BAD;
    s->phase = PH_END;
    return OK;
}

/* Stored bytes: from whole bytes in the bit buffer, carry, then src. */
static bool copy_stored(inf *s)
{
    while (s->stored && s->out < s->dst_size) {
        if (s->bitcnt) {
            s->dst[s->out++] = (uint8_t)bits(s, 8);
            s->stored--;
            continue;
        }
        uint64_t room = s->dst_size - s->out;
        uint64_t n = s->stored < room ? s->stored : room;
        if (s->carry_pos < s->carry_len) {
            uint32_t c = s->carry_len - s->carry_pos;
            if (n > c)
                n = c;
            copy_bytes(s->dst + s->out, s->state + ST_CARRY + s->carry_pos, (size_t)n);
            s->carry_pos += (uint32_t)n;
        } else {
            uint64_t a = s->src_size - s->src_pos;
            if (!a)
                return false;
            if (n > a)
                n = a;
            copy_bytes(s->dst + s->out, s->src + s->src_pos, (size_t)n);
            s->src_pos += n;
        }
        s->out += n;
        s->stored -= (uint32_t)n;
    }
    return true;
}

static bool zeros(GLOBAL const uint8_t *p, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= p[i];
    return any == 0;
}

/* Loads and checks the state: values in range and consistent with the
 * phase. */
static bool load(inf *s)
{
    GLOBAL const uint8_t *st = s->state;
    s->phase = get32(st + ST_PHASE);
    s->flags = get32(st + ST_FLAGS);
    s->bitbuf = get64(st + ST_BITBUF);
    s->bitcnt = get32(st + ST_BITCNT);
    s->stored = get32(st + ST_STORED);
    s->mlen = get32(st + ST_MLEN);
    s->mdist = get32(st + ST_MDIST);
    s->adler = get32(st + ST_ADLER);
    s->carry_len = get32(st + ST_CARRYLEN);
    s->total = get64(st + ST_TOTAL);
    s->win_held = get32(st + ST_WINHELD);
    s->win_pos = get32(st + ST_WINPOS);
    if (s->phase > PH_END || s->flags > 3 || s->bitcnt > 63 || (s->bitcnt < 64 && (s->bitbuf >> s->bitcnt)) ||
        s->carry_len > CARRY_MAX || s->win_held > WSIZE || s->win_pos >= WSIZE || !zeros(st + ST_ZERO1, 8) ||
        !zeros(st + ST_ZERO2, 320))
        return false;
    if (s->win_held != (s->total < WSIZE ? s->total : WSIZE) ||
        (s->total < WSIZE && s->win_pos != s->total) ||
        (s->total >= WSIZE && s->win_pos != (s->total & WMASK)))
        return false;
    if (s->phase == PH_HEADER)
        return s->flags == 0 && s->bitcnt == 0 && s->bitbuf == 0 && s->stored == 0 && s->mlen == 0 &&
               s->mdist == 0 && s->adler == 0 && s->total == 0 && zeros(st + ST_LENS, NLIT + NDIST) &&
               (s->carry_len < 2);
    if ((s->adler & 0xffff) >= ADLER_BASE || (s->adler >> 16) >= ADLER_BASE)
        return false;
    if (s->phase != PH_STORED && s->stored)
        return false;
    if (s->phase == PH_STORED && (s->stored > 0xffff || (s->bitcnt & 7)))
        return false;
    if (s->phase != PH_HUFF && (s->mlen || s->mdist))
        return false;
    if (s->phase == PH_HUFF &&
        (s->mlen > 258 || (s->mlen && (s->mdist == 0 || s->mdist > s->win_held)) || (!s->mlen && s->mdist)))
        return false;
    if ((s->phase == PH_BLOCK || s->phase == PH_CHECK || s->phase == PH_END) && s->flags)
        return false;
    if (s->phase != PH_HUFF || (s->flags & FL_FIXED)) {
        if (!zeros(st + ST_LENS, NLIT + NDIST))
            return false;
    } else {
        for (int i = 0; i < NLIT + NDIST; i++)
            if (st[ST_LENS + i] > MAX_BITS)
                return false;
    }
    if (s->phase == PH_CHECK && s->bitcnt & 7)
        return false;
    if (s->phase == PH_END && (s->bitcnt || s->carry_len))
        return false;
    return true;
}

static void save(inf *s)
{
    GLOBAL uint8_t *st = s->state;
    /* The window and the check take this call's output. */
    if (s->out > s->adler_pos)
        s->adler = adler32(s->adler, s->dst + s->adler_pos, (size_t)(s->out - s->adler_pos));
    uint64_t keep = s->out < WSIZE ? s->out : WSIZE;
    GLOBAL const uint8_t *from = keep ? s->dst + s->out - keep : 0;
    uint32_t at = (uint32_t)((s->win_pos + s->out - keep) & WMASK);
    while (keep) {
        uint32_t n = WSIZE - at < keep ? WSIZE - at : (uint32_t)keep;
        copy_bytes(st + ST_WINDOW + at, from, n);
        from += n;
        keep -= n;
        at = (at + n) & WMASK;
    }
    s->total += s->out;
    s->win_pos = (uint32_t)((s->win_pos + s->out) & WMASK);
    s->win_held = s->total < WSIZE ? (uint32_t)s->total : WSIZE;
    /* Carry: drop what was read. */
    if (s->carry_pos) {
        move_down(st + ST_CARRY, st + ST_CARRY + s->carry_pos, s->carry_len - s->carry_pos);
        s->carry_len -= s->carry_pos;
        s->carry_pos = 0;
    }
    put32(st + ST_PHASE, s->phase);
    put32(st + ST_FLAGS, s->flags);
    put64(st + ST_BITBUF, s->bitbuf);
    put32(st + ST_BITCNT, s->bitcnt);
    put32(st + ST_STORED, s->stored);
    put32(st + ST_MLEN, s->mlen);
    put32(st + ST_MDIST, s->mdist);
    put32(st + ST_ADLER, s->adler);
    put32(st + ST_CARRYLEN, s->carry_len);
    put64(st + ST_TOTAL, s->total);
    put32(st + ST_WINHELD, s->win_held);
    put32(st + ST_WINPOS, s->win_pos);
}

accel_inflate_status accel_inflate_stream(GLOBAL uint8_t *state, GLOBAL const uint8_t *src, uint64_t src_size,
                                          GLOBAL uint8_t *dst, uint64_t dst_size, uint64_t *consumed,
                                          uint64_t *written)
{
    inf s;
    s.state = state;
    s.src = src;
    s.src_size = src ? src_size : 0;
    s.src_pos = 0;
    s.dst = dst;
    s.dst_size = dst ? dst_size : 0;
    s.out = s.adler_pos = 0;
    s.carry_pos = 0;
    *consumed = *written = 0;
    if (!load(&s))
        return ACCEL_INFLATE_BAD_STATE;
    if (s.phase == PH_HUFF && !build_tables(&s))
        return ACCEL_INFLATE_BAD_STATE;

    accel_inflate_status status = ACCEL_INFLATE_NEED_INPUT;
    for (;;) {
        if (s.phase == PH_END) {
            status = ACCEL_INFLATE_END;
            break;
        }
        if (s.phase == PH_STORED) {
            if (!s.stored) {
                end_of_block(&s);
                continue;
            }
            if (s.out == s.dst_size) {
                status = ACCEL_INFLATE_DST_FULL;
                break;
            }
            if (!copy_stored(&s))
                break; /* all input taken */
            continue;
        }
        if (s.phase == PH_HUFF && s.mlen) {
            copy_match(&s);
            if (s.mlen) {
                status = ACCEL_INFLATE_DST_FULL;
                break;
            }
            continue;
        }
        mark m = mark_get(&s);
        bool full = false;
        int r;
        switch (s.phase) {
        case PH_HEADER: r = read_header(&s); break;
        case PH_BLOCK: r = read_block_header(&s); break;
        case PH_HUFF: r = read_symbol(&s, &full); break;
        default: r = read_check(&s); break;
        }
        if (r == BAD)
            return ACCEL_INFLATE_CORRUPT;
        if (r == OK)
            continue;
        mark_back(&s, m);
        if (full) {
            status = ACCEL_INFLATE_DST_FULL;
            break;
        }
        /* Out of input mid-step: what is left of carry and src waits in
         * carry for the rest of the step (less than a step's bytes). */
        uint32_t left = s.carry_len - s.carry_pos;
        uint64_t rest = s.src_size - s.src_pos;
        if (left + rest > CARRY_MAX)
            return ACCEL_INFLATE_CORRUPT;
        move_down(state + ST_CARRY, state + ST_CARRY + s.carry_pos, left);
        if (rest)
            copy_bytes(state + ST_CARRY + left, s.src + s.src_pos, (size_t)rest);
        s.carry_len = left + (uint32_t)rest;
        s.carry_pos = 0;
        s.src_pos = s.src_size;
        break;
    }
    save(&s);
    *consumed = s.src_pos;
    *written = s.out;
    return status;
}
