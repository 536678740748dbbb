/* fuzz_inflate_stream.c — libFuzzer target for the streaming inflater of
 * zlib.inflate.stream (icd-examples/common/accel_inflate_stream.c), which
 * parses whatever a caller hands a device.
 *
 * The first two bytes choose how the rest is fed: byte 0 the chunk size
 * (1-64 bytes, at least 16 for inputs over 1 KiB, or all at once from
 * 192), byte 1 the room in dst per call
 * (unlimited for 0, else 1-255 bytes). The rest is decoded call by call
 * and compared with zlib's inflate over the whole: the stream must end
 * exactly when zlib's does, with the same bytes and the same input
 * consumed, and a stream zlib decodes must not be called corrupt. Never a
 * crash or a read outside the input (the sanitizers). Byte 0 from 128 to
 * 191 fuzzes the state instead: the bytes after the first two set the
 * fields of the documented layout (phase, flags, bit buffer, stored and
 * match counts, Adler-32, carry, output and window positions, code
 * lengths, carry bytes), the rest is the input; a state the decoder
 * accepts must then be decoded without a read or write outside its
 * buffers, whatever it says. The same file is
 * linked with replay.c into the normal test run, which replays the corpus
 * in tests/corpus/inflate_stream/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "accel_inflate_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_CAP (256u << 10)

static uint8_t state[ACCEL_INFLATE_STREAM_STATE_SIZE];
static uint8_t want[OUT_CAP], got[OUT_CAP];

static uint32_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        v |= (uint32_t) * *p << (8 * i);
    return v;
}

static void put32(uint8_t *at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t)(v >> (8 * i));
}

/* A state made of fuzz bytes, then the input through it. */
static int hostile_state(const uint8_t *p, size_t n, size_t chunk, size_t room)
{
    memset(state, 0, sizeof(state));
    put32(state + 0, take(&p, &n, 1) % 7); /* phase, one past the last */
    put32(state + 4, take(&p, &n, 1) % 5); /* flags */
    put32(state + 8, take(&p, &n, 4));     /* bit buffer */
    put32(state + 12, take(&p, &n, 4));
    put32(state + 16, take(&p, &n, 1) % 66);                             /* bits held */
    put32(state + 20, take(&p, &n, 2) + take(&p, &n, 1) % 2 * 0x10000u); /* stored left */
    put32(state + 24, take(&p, &n, 2) % 300);                            /* match length */
    put32(state + 28, take(&p, &n, 2));                                  /* match distance */
    put32(state + 32, take(&p, &n, 4));                                  /* Adler-32 */
    put32(state + 36, take(&p, &n, 2) % 600);                            /* carry bytes */
    put32(state + 40, take(&p, &n, 4));                                  /* output so far */
    put32(state + 44, take(&p, &n, 1) % 2);
    put32(state + 48, take(&p, &n, 2) % 33000); /* window held */
    put32(state + 52, take(&p, &n, 2));         /* window position */
    for (int i = 0; i < 320; i++)               /* code lengths */
        state[64 + i] = (uint8_t)(take(&p, &n, 1) % 17);
    for (int i = 0; i < 16; i++) /* the first carry bytes */
        state[384 + i] = (uint8_t)take(&p, &n, 1);
    size_t in = 0, out = 0;
    for (int calls = 0; calls < 64; calls++) {
        size_t k = n - in < chunk ? n - in : chunk;
        size_t space = OUT_CAP - out < room ? OUT_CAP - out : room;
        uint64_t used = 0, wrote = 0;
        accel_inflate_status st = accel_inflate_stream(state, p + in, k, got + out, space, &used, &wrote);
        if (st < 0 || st == ACCEL_INFLATE_END)
            break;
        if (used > k || wrote > space)
            abort();
        in += used;
        out += wrote;
        if ((st == ACCEL_INFLATE_NEED_INPUT && in == n) || (st == ACCEL_INFLATE_DST_FULL && out == OUT_CAP))
            break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (data[0] >= 128 && data[0] < 192)
        return hostile_state(data + 2, size - 2, 1u + data[0] % 64u, data[1] ? data[1] : SIZE_MAX);
    size_t chunk = data[0] >= 192 ? SIZE_MAX : 1u + data[0] % 64u;
    size_t room = data[1] ? data[1] : SIZE_MAX;
    const uint8_t *z = data + 2;
    size_t zlen = size - 2;
    if (zlen > 1024 && chunk < 16)
        chunk = 16; /* tiny chunks over long inputs: slow, and no new paths */

    /* zlib over the whole input. */
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        abort();
    zs.next_in = (Bytef *)(uintptr_t)z;
    zs.avail_in = (uInt)zlen;
    zs.next_out = want;
    zs.avail_out = OUT_CAP;
    int zr = inflate(&zs, Z_FINISH);
    size_t zout = zs.total_out, zin = zs.total_in;
    inflateEnd(&zs);
    int zlib_ended = zr == Z_STREAM_END;

    /* The stream form, chunk by chunk. */
    memset(state, 0, sizeof(state));
    size_t in = 0, out = 0, pending = 0;
    accel_inflate_status st = ACCEL_INFLATE_NEED_INPUT;
    for (;;) {
        size_t n = pending ? pending : (zlen - in < chunk ? zlen - in : chunk);
        size_t space = OUT_CAP - out < room ? OUT_CAP - out : room;
        uint64_t used = 0, wrote = 0;
        st = accel_inflate_stream(state, z + in, n, got + out, space, &used, &wrote);
        if (st < 0)
            break;
        if (used > n || wrote > space)
            abort();
        if (st == ACCEL_INFLATE_NEED_INPUT && used != n)
            abort();
        if (st == ACCEL_INFLATE_DST_FULL && wrote != space)
            abort();
        in += used;
        out += wrote;
        pending = n - used;
        if (st == ACCEL_INFLATE_END)
            break;
        if (st == ACCEL_INFLATE_NEED_INPUT && in == zlen)
            break;
        if (st == ACCEL_INFLATE_DST_FULL && out == OUT_CAP)
            break;
    }
    if (st == ACCEL_INFLATE_BAD_STATE)
        abort(); /* it only ever sees states it wrote */
    if (st == ACCEL_INFLATE_END) {
        if (!zlib_ended || zin != in || zout != out || memcmp(want, got, out) != 0) {
            fprintf(stderr, "stream ended (%zu in, %zu out) where zlib gave %d (%zu in, %zu out)\n", in, out,
                    zr, zin, zout);
            abort();
        }
    } else if (zlib_ended && out < OUT_CAP) {
        fprintf(stderr, "zlib ended (%zu in, %zu out) where the stream gave %d (%zu in, %zu out)\n", zin,
                zout, (int)st, in, out);
        abort();
    }
    return 0;
}
