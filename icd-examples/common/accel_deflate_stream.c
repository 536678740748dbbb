/* accel_deflate_stream.c — zlib.deflate.stream over zlib's raw deflate
 * (accel_deflate_stream.h).
 *
 * State layout (docs/standard-functions.md): 0: u32 Adler-32 so far (valid
 * once started); 4: u32 started (the zlib header written); 8: u64 input
 * bytes so far; 16: u32 window bytes held (<= 32768); 20: 12 bytes of 0;
 * 32: the window, the last input bytes, oldest first.
 *
 * A call primes a raw deflate stream (windowBits -15) with the window
 * (deflateSetDictionary), so that matches reach back into earlier chunks,
 * writes the 2-byte zlib header itself on the first piece, compresses with
 * Z_SYNC_FLUSH (the piece ends on a byte boundary with an empty stored
 * block) or, for the final chunk, Z_FINISH followed by the Adler-32 of all
 * the input. zlib splits incompressible input into stored blocks of its
 * pending buffer's size, whose headers can exceed the bound's 5 bytes per
 * 65535; where its piece would not be smaller than stored blocks of 65535
 * bytes, the piece is written as those instead.
 *
 * With several threads (accel_deflate_stream_mt), a chunk of at least two
 * SEG_MIN is cut into segments compressed side by side, as pigz does: each
 * a raw deflate primed with the 32 KiB before it (the state's window for
 * the first), each ending with a sync flush (the last one, of a final
 * call, with the last block), laid end to end. Matches then cannot cross a
 * segment's start by more than the priming allows, which is all deflate
 * allows anyway; the ratio differs from one stream's by the few bytes of
 * each flush and block restart. */
#include "accel_deflate_stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define WSIZE      32768u
#define STORED_MAX 65535u
#define SEG_MIN    (256u * 1024) /* the least input per segment */
#define SEG_MAX    16u           /* segments per call at most */
enum { ST_ADLER = 0, ST_STARTED = 4, ST_TOTAL = 8, ST_HELD = 16, ST_ZERO = 20, ST_WINDOW = 32 };

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint64_t accel_deflate_stream_bound(uint64_t n)
{
    return n + 5 * ((n + STORED_MAX - 1) / STORED_MAX) + 16;
}

/* The piece as stored blocks: header (first piece), blocks of at most
 * STORED_MAX bytes, then an empty stored block (not final) or the last
 * block flagged final (an empty one for no input) and the Adler-32. */
static uint64_t stored_size(uint64_t n, bool header, bool final)
{
    uint64_t blocks = (n + STORED_MAX - 1) / STORED_MAX;
    if (!final || n == 0)
        blocks++;
    return (header ? 2 : 0) + 5 * blocks + n + (final ? 4 : 0);
}

static uint8_t *put_block(uint8_t *o, const uint8_t *data, uint32_t len, bool last)
{
    o[0] = (uint8_t)last; /* BFINAL, BTYPE 00 */
    o[1] = (uint8_t)len;
    o[2] = (uint8_t)(len >> 8);
    o[3] = (uint8_t)~len;
    o[4] = (uint8_t)(~len >> 8);
    if (len)
        memcpy(o + 5, data, len);
    return o + 5 + len;
}

static uint8_t *put_stored(uint8_t *o, const uint8_t *src, uint64_t n, bool final)
{
    for (uint64_t done = 0; done < n;) {
        uint32_t len = n - done < STORED_MAX ? (uint32_t)(n - done) : STORED_MAX;
        o = put_block(o, src + done, len, final && done + len == n);
        done += len;
    }
    if (!final || n == 0)
        o = put_block(o, NULL, 0, final);
    return o;
}

/* One segment: raw deflate of src primed with dict, into out (at most cap
 * bytes), ending with a sync flush or, with finish, the last block. */
typedef struct segment {
    const uint8_t *dict, *src;
    uint32_t dict_len;
    uint64_t n, cap, len;
    uint8_t *out;
    int level;
    bool finish;
    int rc; /* 1: done (len), 0: does not fit in cap, -1: no memory */
} segment;

static int raw_deflate(segment *g)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, g->level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    if (g->dict_len && deflateSetDictionary(&z, g->dict, g->dict_len) != Z_OK) {
        deflateEnd(&z);
        return -1;
    }
    const uint8_t *in = g->src;
    uint8_t *o = g->out;
    uint64_t in_left = g->n, out_left = g->cap;
    bool done = false;
    for (;;) {
        z.next_in = (Bytef *)(uintptr_t)in;
        z.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
        z.next_out = o;
        z.avail_out = out_left > UINT32_MAX ? UINT32_MAX : (uInt)out_left;
        uInt ai = z.avail_in, ao = z.avail_out;
        bool last_in = in_left == z.avail_in;
        int r = deflate(&z, last_in ? (g->finish ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH);
        in += ai - z.avail_in;
        in_left -= ai - z.avail_in;
        o += ao - z.avail_out;
        out_left -= ao - z.avail_out;
        if (r == Z_STREAM_ERROR || (r == Z_BUF_ERROR && ai == z.avail_in && ao == z.avail_out))
            break;
        if (g->finish && r == Z_STREAM_END) {
            done = true;
            break;
        }
        if (!g->finish && last_in && z.avail_in == 0 && z.avail_out > 0) {
            done = true; /* the flush is complete when deflate left room */
            break;
        }
        if (out_left == 0)
            break; /* does not fit */
    }
    deflateEnd(&z);
    g->len = (uint64_t)(o - g->out);
    return done ? 1 : 0;
}

static void *segment_main(void *p)
{
    segment *g = p;
    g->rc = raw_deflate(g);
    return NULL;
}

/* src compressed into out (at most cap bytes) by up to `threads` segments
 * side by side, the first primed with window[0..held). 1: done, *len
 * written; 0: it does not fit; -1: no memory. */
static int compress_segments(const uint8_t *window, uint32_t held, const uint8_t *src, uint64_t n, uint8_t *out,
                             uint64_t cap, int level, bool final, unsigned threads, uint64_t *len)
{
    unsigned k = threads;
    if (k > SEG_MAX)
        k = SEG_MAX;
    if ((uint64_t)k > n / SEG_MIN)
        k = (unsigned)(n / SEG_MIN);
    if (k <= 1) {
        segment g = {.dict = window, .dict_len = held, .src = src, .n = n, .out = out, .cap = cap,
                     .level = level, .finish = final};
        int rc = raw_deflate(&g);
        *len = g.len;
        return rc;
    }
    segment g[SEG_MAX];
    pthread_t tid[SEG_MAX];
    bool started[SEG_MAX] = {false};
    uint64_t per = n / k;
    int rc = 1;
    for (unsigned i = 0; i < k; i++) {
        uint64_t begin = per * i, end = i + 1 == k ? n : per * (i + 1);
        g[i] = (segment){.src = src + begin, .n = end - begin, .level = level, .finish = final && i + 1 == k};
        if (i == 0) {
            g[i].dict = window;
            g[i].dict_len = held;
        } else {
            g[i].dict = src + begin - WSIZE; /* begin >= SEG_MIN > WSIZE */
            g[i].dict_len = WSIZE;
        }
        /* Each segment's own room: its bytes as stored blocks and then
         * some; more means it does not compress, and the whole piece is
         * stored blocks anyway. */
        g[i].cap = g[i].n + 5 * (g[i].n / STORED_MAX + 2) + 64;
        g[i].out = malloc(g[i].cap);
        if (!g[i].out)
            rc = -1;
    }
    for (unsigned i = 1; i < k && rc > 0; i++)
        started[i] = pthread_create(&tid[i], NULL, segment_main, &g[i]) == 0;
    for (unsigned i = 0; i < k && rc > 0; i++)
        if (i == 0 || !started[i])
            segment_main(&g[i]); /* this thread's, and any no thread took */
    uint64_t total = 0;
    for (unsigned i = 0; i < k; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        if (rc > 0 && g[i].rc < 1)
            rc = g[i].rc;
        total += g[i].len;
    }
    if (rc > 0 && total > cap)
        rc = 0;
    if (rc > 0)
        for (unsigned i = 0; i < k; i++) {
            memcpy(out, g[i].out, g[i].len);
            out += g[i].len;
        }
    for (unsigned i = 0; i < k; i++)
        free(g[i].out);
    *len = total;
    return rc;
}

accel_deflate_stream_result accel_deflate_stream(uint8_t *state, const uint8_t *src, uint64_t src_size,
                                                 uint8_t *dst, uint64_t dst_size, int level, bool final,
                                                 uint64_t *out_size)
{
    return accel_deflate_stream_mt(state, src, src_size, dst, dst_size, level, final, 1, out_size);
}

accel_deflate_stream_result accel_deflate_stream_mt(uint8_t *state, const uint8_t *src, uint64_t src_size,
                                                    uint8_t *dst, uint64_t dst_size, int level, bool final,
                                                    unsigned threads, uint64_t *out_size)
{
    static const uint8_t empty[1];
    if (!src)
        src = empty;
    uint32_t adler = le32(state + ST_ADLER), started = le32(state + ST_STARTED), held = le32(state + ST_HELD);
    uint64_t total = (uint64_t)le32(state + ST_TOTAL) | (uint64_t)le32(state + ST_TOTAL + 4) << 32;
    for (int i = 0; i < 12; i++)
        if (state[ST_ZERO + i])
            return ACCEL_DEFLATE_STREAM_BAD_STATE;
    if (started > 1 || held > WSIZE || held != (total < WSIZE ? total : WSIZE) ||
        (started && ((adler & 0xffff) >= 65521 || (adler >> 16) >= 65521)) || (!started && (adler || total)))
        return ACCEL_DEFLATE_STREAM_BAD_STATE;
    if (level < -1 || level > 9)
        return ACCEL_DEFLATE_STREAM_BAD_LEVEL;
    if (level == -1)
        level = 6; /* zlib's default */

    bool header = !started;
    uint64_t stored = stored_size(src_size, header, final);
    uint64_t cap = dst_size < stored ? dst_size : stored; /* never more than stored blocks */
    uint64_t produced = 0;
    if (level > 0 && cap > (header ? 2u : 0u) + (final ? 4u : 0u)) {
        uint64_t room = cap - (header ? 2 : 0) - (final ? 4 : 0);
        uint64_t len = 0;
        int r = compress_segments(state + ST_WINDOW, held, src, src_size, dst + (header ? 2 : 0), room, level,
                                  final, threads, &len);
        if (r < 0)
            return ACCEL_DEFLATE_STREAM_NO_MEMORY;
        if (r > 0)
            produced = len + (header ? 2 : 0) + (final ? 4 : 0);
    }
    if (!produced) {
        if (dst_size < stored)
            return ACCEL_DEFLATE_STREAM_DST_SMALL;
        uint8_t *o = put_stored(dst + (header ? 2 : 0), src, src_size, final);
        produced = (uint64_t)(o - dst) + (final ? 4 : 0);
    }
    if (header) {
        /* CMF: deflate, 32 KiB window; FLG: zlib's level class, FCHECK. */
        unsigned flevel = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
        unsigned h = 0x78u << 8 | flevel << 6;
        h += 31 - h % 31;
        dst[0] = (uint8_t)(h >> 8);
        dst[1] = (uint8_t)h;
        adler = 1;
    }
    /* The Adler-32 over all of src (zlib's counts in uInt). */
    for (uint64_t done = 0; done < src_size;) {
        uInt n = src_size - done > (1u << 30) ? 1u << 30 : (uInt)(src_size - done);
        adler = (uint32_t)adler32(adler, src + done, n);
        done += n;
    }
    if (final) {
        uint8_t *t = dst + produced - 4;
        for (int i = 0; i < 4; i++) /* big-endian, as RFC 1950 has it */
            t[i] = (uint8_t)(adler >> (24 - 8 * i));
        memset(state, 0, ACCEL_DEFLATE_STREAM_STATE_SIZE);
        *out_size = produced;
        return ACCEL_DEFLATE_STREAM_OK;
    }
    /* The window: the last WSIZE bytes of what was held and src. */
    uint8_t *w = state + ST_WINDOW;
    if (src_size >= WSIZE) {
        memcpy(w, src + src_size - WSIZE, WSIZE);
        held = WSIZE;
    } else if (src_size) {
        uint32_t n = (uint32_t)src_size;
        uint32_t keep = held + n > WSIZE ? WSIZE - n : held;
        memmove(w, w + held - keep, keep);
        memcpy(w + keep, src, n);
        held = keep + n;
    }
    total += src_size;
    put_le32(state + ST_ADLER, adler);
    put_le32(state + ST_STARTED, 1);
    put_le32(state + ST_TOTAL, (uint32_t)total);
    put_le32(state + ST_TOTAL + 4, (uint32_t)(total >> 32));
    put_le32(state + ST_HELD, held);
    *out_size = produced;
    return ACCEL_DEFLATE_STREAM_OK;
}
