/* bench_stream.h — the generated input of bench_stream (bench_stream_data.c):
 * the compression corpus repeated to any size, its zlib stream written to a
 * file piece by piece, CRC-32C, and the checks of the outputs. */
#ifndef ACCEL_BENCH_STREAM_H
#define ACCEL_BENCH_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* The corpus files (every regular file but the README and the licences) in
 * name order, concatenated: one period of the plain data. `z` is that
 * period deflated raw at level 6 and ended with a full flush, so that the
 * period's compressed bytes can follow each other in one zlib stream. */
typedef struct bs_corpus {
    uint8_t *data;
    size_t size;
    uint8_t *z;
    size_t zsize;
    uint32_t adler; /* Adler-32 of one period */
    uint32_t crc;   /* CRC-32C of one period */
} bs_corpus;

int bs_corpus_load(const char *dir, bs_corpus *c, char *why, size_t why_size);
void bs_corpus_free(bs_corpus *c);

/* The plain bytes [offset, offset + len) of the corpus repeated forever. */
void bs_fill(const bs_corpus *c, uint64_t offset, void *buf, size_t len);

/* CRC-32C (Castagnoli), continued from `crc` (0 to start). */
uint32_t bs_crc32c(uint32_t crc, const void *data, size_t size);

/* Write one zlib stream of the first `size` plain bytes to `path` (a zlib
 * header, the compressed period repeated, the rest deflated on its own, the
 * Adler-32), never holding more than a period in memory. Gives the plain
 * data's CRC-32C and the stream's length. 0, or -1 with `why`. */
int bs_generate(const bs_corpus *c, uint64_t size, const char *path, uint32_t *crc, uint64_t *zbytes,
                char *why, size_t why_size);

/* Inflate the zlib stream in `path` a piece at a time and compare it with
 * the first `size` plain bytes: 0 when it is exactly them (one stream,
 * nothing after it), -1 with `why` saying where it differs. */
int bs_check_zlib_file(const bs_corpus *c, uint64_t size, const char *path, char *why, size_t why_size);

/* A 4-byte little-endian CRC-32C file (a pipeline's crc output): 0 or -1. */
int bs_read_crc_file(const char *path, uint32_t *crc);

#endif
