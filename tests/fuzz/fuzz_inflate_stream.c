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
 * crash or a read outside the input (the sanitizers). The same file is
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
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
