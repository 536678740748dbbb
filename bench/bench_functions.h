/* bench_functions.h — what the parts of bench_functions share: the anchors
 * (the field's libraries and a CRC-32C written here, run on the same bytes as
 * the devices) and the data model the report prints. */
#ifndef ACCEL_BENCH_FUNCTIONS_H
#define ACCEL_BENCH_FUNCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- CRC-32C (bench_functions_crc.c) ---- */

/* Table-driven, one byte at a time: slow, obviously right, the reference the
 * fast versions and the devices are checked against. */
uint32_t bf_crc32c_bytewise(const void *data, size_t size);

/* Whether this CPU has SSE4.2 and PCLMULQDQ (the 3-way version needs both). */
bool bf_crc32c_3way_available(void);

/* One core, three independent crc32 streams over three thirds of each block,
 * joined with carry-less multiplies. Only when bf_crc32c_3way_available(). */
uint32_t bf_crc32c_3way(const void *data, size_t size);

/* Checks the 3-way version against the check value and against the bytewise
 * one at awkward lengths and alignments. 0, or -1 with the reason in why. */
int bf_crc32c_self_test(char *why, size_t why_size);

/* ---- the libraries (bench_functions_anchors.c) ---- */

typedef enum bf_anchor {
    BF_A_CRC3,  /* crc32c, 3-way SSE4.2 */
    BF_A_SHA,   /* OpenSSL SHA-256 */
    BF_A_ZLIB1, /* zlib compress2 level 1 */
    BF_A_ZLIB6,
    BF_A_ZLIB9,
    BF_A_LD1, /* libdeflate_zlib_compress level 1 */
    BF_A_LD6,
    BF_A_ZLIB_INFL, /* zlib uncompress of the level-6 stream */
    BF_A_LD_INFL,   /* libdeflate_zlib_decompress of it */
    BF_A_COUNT
} bf_anchor;

/* Short names for the tables ("zlib-6", "libdeflate inflate", ...). */
const char *bf_anchor_name(bf_anchor a);

/* The standard function an anchor stands beside, and its level (0 if none). */
const char *bf_anchor_function(bf_anchor a);
int bf_anchor_level(bf_anchor a);

typedef struct bf_anchors bf_anchors;

/* Compressors and scratch buffers for inputs of up to max_size bytes. NULL
 * if out of memory. */
bf_anchors *bf_anchors_create(size_t max_size);
void bf_anchors_destroy(bf_anchors *x);

/* Bind the anchors to one data set: `data` (size bytes) and its zlib level-6
 * stream z6 (z6_size bytes), used by the inflate anchors. */
void bf_anchors_bind(bf_anchors *x, const uint8_t *data, size_t size, const uint8_t *z6, size_t z6_size);

/* Run one anchor once on the bound data set. Returns 0 or -1 (message in
 * err). Compressors leave their output for bf_anchors_check. */
int bf_anchors_run(bf_anchors *x, bf_anchor a, char *err, size_t err_size);

/* Check what the last run of `a` produced: the crc against `crc`, the digest
 * against `sha`, a compressed stream by inflating it with zlib back to the
 * data, a decompression against the data. The compressed size in *out_size
 * (0 for the others). 0, or -1 with the reason in err. */
int bf_anchors_check(bf_anchors *x, bf_anchor a, uint32_t crc, const uint8_t sha[32], uint64_t *out_size,
                     char *err, size_t err_size);

/* zlib's level-6 stream of data into a malloc'ed buffer: what zlib.inflate is
 * given. NULL if out of memory or zlib fails. */
uint8_t *bf_zlib6(const uint8_t *data, size_t size, size_t *z_size);

/* OpenSSL's SHA-256 (the reference digest). */
void bf_sha256(const uint8_t *data, size_t size, uint8_t out[32]);

/* Inflate the zlib stream (z, z_size) with zlib and compare it with
 * (data, size); the whole stream must be consumed. scratch holds at least
 * size + 1 bytes. 0, or -1 with the reason in err. */
int bf_check_zlib_stream(const uint8_t *z, size_t z_size, const uint8_t *data, size_t size, uint8_t *scratch,
                         char *err, size_t err_size);

/* Library versions for the report header ("zlib 1.2.13, libdeflate 1.14, ..."). */
void bf_library_versions(char *buf, size_t size);

/* ---- results (filled by bench_functions.c, printed by bench_functions_report.c) ---- */

/* The standard functions measured, in table order. */
typedef enum bf_function { BF_F_CRC, BF_F_SHA, BF_F_DEFLATE, BF_F_INFLATE, BF_F_COUNT } bf_function;

/* One table row per device: a function, and for deflate a level. */
typedef enum bf_row { BF_R_CRC, BF_R_SHA, BF_R_DEF1, BF_R_DEF6, BF_R_DEF9, BF_R_INFL, BF_R_COUNT } bf_row;

const char *bf_function_name(bf_function f);
bf_function bf_row_function(bf_row r);
int bf_row_level(bf_row r);        /* 0 if not deflate */
bf_anchor bf_row_anchor(bf_row r); /* what its speed is compared with */

typedef enum bf_state {
    BF_NONE, /* not measured: filtered out, not offered */
    BF_OK,
    BF_REFUSED, /* the first call failed: the device does not do it (yet) */
    BF_FAILED,  /* a later call failed after the first succeeded */
    BF_WRONG,   /* ran, but the result disagrees */
    BF_SKIPPED, /* not run: over the time limit for one cell */
} bf_state;

typedef struct bf_cell {
    bf_state state;
    double seconds;    /* median of the timed calls */
    int reps;          /* timed calls, after the warm-up */
    uint64_t out_size; /* compressed bytes, for deflate */
    char note[320];    /* why refused/failed/wrong/skipped */
} bf_cell;

typedef struct bf_set {
    char name[64];
    uint64_t size;
    bool text;        /* one of the text files the opencl/vulkan ratio goal is about */
    bool large;       /* the concatenation repeated to 64 MiB */
    uint64_t z6_size; /* zlib level 6 (what zlib.inflate is given) */
    bf_cell anchor[BF_A_COUNT];
    bf_cell *cells; /* [device][BF_R_COUNT] */
    double wall_s;  /* how long the set took, for the log */
} bf_set;

typedef struct bf_dev {
    char label[40]; /* "driver:index", a device selector term */
    char name[160];
    char driver[40];
    char attach[24]; /* how the data memory was attached */
    bool offered[BF_F_COUNT];
    char fn_note[BF_F_COUNT][256]; /* "image crc32c.json", or why not offered */
} bf_dev;

typedef struct bf_report {
    char machine[256];
    char libraries[256];
    char corpus[512];
    bool quick, json, crc3_available;
    double budget_s, cell_limit_s, goal_limit_s;
    int min_reps;
    bool fn_selected[BF_F_COUNT];
    bf_dev *devs;
    size_t dev_count;
    bf_set *sets;
    size_t set_count;
    char notes[4][256]; /* lines about what could not be set up (emulator, fpga image) */
    double total_s;
} bf_report;

static inline bf_cell *bf_cell_at(const bf_report *r, size_t set, size_t dev, bf_row row)
{
    return &r->sets[set].cells[dev * BF_R_COUNT + row];
}

/* The tables and the goals (bench_functions_report.c). Missed goals are
 * reported, never an error: the exit status is about correctness only. */
void bf_report_text(const bf_report *r, FILE *out);
void bf_report_json(const bf_report *r, FILE *out);

#endif
