/* bench_inflate_stream.c — the streaming inflater of zlib.inflate.stream
 * (icd-examples/common/accel_inflate_stream.c) next to zlib's uncompress,
 * on the compression corpus compressed by zlib at level 6, fed whole and
 * in chunks of 64 KiB and 4 KiB. Not a test: it prints MB/s of output
 * (best of five), and fails only when a result differs.
 *
 *   build/bench/bench_inflate_stream [FILE...]   (default: the corpus) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "accel_inflate_stream.h"

static uint8_t state[ACCEL_INFLATE_STREAM_STATE_SIZE];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    static const char *const corpus[] = {"alice29.txt", "asyoulik.txt", "fireworks.jpeg", "geo.protodata",
                                         "html",        "kppkn.gtb",    "lcet10.txt",     "paper-100k.pdf",
                                         "plrabn12.txt", "urls.10K"};
    size_t cap = 16u << 20, n = 0;
    uint8_t *in = malloc(cap);
    if (!in)
        return 1;
    int files = argc > 1 ? argc - 1 : (int)(sizeof(corpus) / sizeof(corpus[0]));
    for (int a = 0; a < files; a++) {
        char path[1024];
        if (argc > 1)
            snprintf(path, sizeof(path), "%s", argv[a + 1]);
        else
            snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, corpus[a]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open\n", path);
            return 1;
        }
        n += fread(in + n, 1, cap - n, f);
        fclose(f);
    }
    uLongf zlen = compressBound((uLong)n);
    uint8_t *z = malloc(zlen), *out = malloc(n);
    if (!z || !out || compress2(z, &zlen, in, (uLong)n, 6) != Z_OK)
        return 1;
    double best_zlib = 1e9;
    for (int rep = 0; rep < 5; rep++) {
        uLongf olen = (uLongf)n;
        double t0 = now();
        if (uncompress(out, &olen, z, zlen) != Z_OK || olen != n)
            return 1;
        double t = now() - t0;
        best_zlib = t < best_zlib ? t : best_zlib;
    }
    printf("%zu bytes, zlib-6 stream of %lu; zlib uncompress: %.0f MB/s\n", n, (unsigned long)zlen,
           (double)n / best_zlib / 1e6);
    static const size_t chunks[] = {SIZE_MAX, 65536, 4096};
    for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
        double best = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            memset(state, 0, sizeof(state));
            memset(out, 0, n);
            size_t i = 0, o = 0;
            double t0 = now();
            for (;;) {
                size_t c = zlen - i < chunks[k] ? zlen - i : chunks[k];
                uint64_t used, wrote;
                accel_inflate_status s = accel_inflate_stream(state, z + i, c, out + o, n - o, &used, &wrote);
                i += used;
                o += wrote;
                if (s == ACCEL_INFLATE_END)
                    break;
                if (s != ACCEL_INFLATE_NEED_INPUT || i == zlen) {
                    fprintf(stderr, "inflate stream failed (%d) at %zu\n", (int)s, i);
                    return 1;
                }
            }
            double t = now() - t0;
            best = t < best ? t : best;
            if (o != n || memcmp(out, in, n) != 0) {
                fprintf(stderr, "inflate stream: wrong output\n");
                return 1;
            }
        }
        if (chunks[k] == SIZE_MAX)
            printf("zlib.inflate.stream, one chunk: %.0f MB/s\n", (double)n / best / 1e6);
        else
            printf("zlib.inflate.stream, chunks of %zu: %.0f MB/s\n", chunks[k], (double)n / best / 1e6);
    }
    free(in);
    free(z);
    free(out);
    return 0;
}
