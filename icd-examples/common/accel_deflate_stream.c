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
 * bytes, the piece is written as those instead. */
#include "accel_deflate_stream.h"

#include <string.h>

#include <zlib.h>

#define WSIZE      32768u
#define STORED_MAX 65535u
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

accel_deflate_stream_result accel_deflate_stream(uint8_t *state, const uint8_t *src, uint64_t src_size,
                                                 uint8_t *dst, uint64_t dst_size, int level, bool final,
                                                 uint64_t *out_size)
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
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return ACCEL_DEFLATE_STREAM_NO_MEMORY;
        if (held && deflateSetDictionary(&z, state + ST_WINDOW, held) != Z_OK) {
            deflateEnd(&z);
            return ACCEL_DEFLATE_STREAM_NO_MEMORY;
        }
        uint64_t room = cap - (header ? 2 : 0) - (final ? 4 : 0);
        uint8_t *o = dst + (header ? 2 : 0);
        uint64_t in_left = src_size, out_left = room;
        const uint8_t *in = src;
        int r = Z_OK;
        bool done = false;
        for (;;) {
            z.next_in = (Bytef *)(uintptr_t)in;
            z.avail_in = in_left > UINT32_MAX ? UINT32_MAX : (uInt)in_left;
            z.next_out = o;
            z.avail_out = out_left > UINT32_MAX ? UINT32_MAX : (uInt)out_left;
            uInt ai = z.avail_in, ao = z.avail_out;
            bool last_in = in_left == z.avail_in;
            r = deflate(&z, last_in ? (final ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH);
            in += ai - z.avail_in;
            in_left -= ai - z.avail_in;
            o += ao - z.avail_out;
            out_left -= ao - z.avail_out;
            if (r == Z_STREAM_ERROR || (r == Z_BUF_ERROR && ai == z.avail_in && ao == z.avail_out))
                break;
            if (final && r == Z_STREAM_END) {
                done = true;
                break;
            }
            if (!final && last_in && z.avail_in == 0 && z.avail_out > 0) {
                done = true; /* the flush is complete when deflate left room */
                break;
            }
            if (out_left == 0)
                break; /* does not fit: stored blocks */
        }
        deflateEnd(&z);
        if (done)
            produced = (uint64_t)(o - dst) + (final ? 4 : 0);
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
