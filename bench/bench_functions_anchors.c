/* bench_functions_anchors.c — the field's libraries run on the same bytes as
 * the devices: zlib (compress2 and uncompress), libdeflate (zlib format),
 * OpenSSL's SHA-256, and the 3-way CRC-32C of bench_functions_crc.c. */
#include "bench_functions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <zlib.h>

static const struct {
    const char *name, *function;
    int level;
} anchor_table[BF_A_COUNT] = {
    [BF_A_CRC3] = {"crc32c 3-way sse4.2", "crc32c", 0},
    [BF_A_SHA] = {"OpenSSL sha256", "sha256", 0},
    [BF_A_ZLIB1] = {"zlib-1", "zlib.deflate", 1},
    [BF_A_ZLIB6] = {"zlib-6", "zlib.deflate", 6},
    [BF_A_ZLIB9] = {"zlib-9", "zlib.deflate", 9},
    [BF_A_LD1] = {"libdeflate-1", "zlib.deflate", 1},
    [BF_A_LD6] = {"libdeflate-6", "zlib.deflate", 6},
    [BF_A_ZLIB_INFL] = {"zlib inflate", "zlib.inflate", 0},
    [BF_A_LD_INFL] = {"libdeflate inflate", "zlib.inflate", 0},
};

const char *bf_anchor_name(bf_anchor a)
{
    return anchor_table[a].name;
}

const char *bf_anchor_function(bf_anchor a)
{
    return anchor_table[a].function;
}

int bf_anchor_level(bf_anchor a)
{
    return anchor_table[a].level;
}

struct bf_anchors {
    struct libdeflate_compressor *ld1, *ld6;
    struct libdeflate_decompressor *ldd;
    size_t max_size;
    uint8_t *out; /* compressed output, compressBound(max_size) bytes */
    size_t out_cap;
    size_t out_size;   /* of the last compression */
    uint8_t *plain;    /* decompressed output, max_size + 1 bytes */
    size_t plain_size; /* of the last decompression */
    uint8_t *scratch;  /* for checking compressed output, max_size + 1 bytes */
    uint32_t crc;
    uint8_t digest[32];
    const uint8_t *data, *z6;
    size_t size, z6_size;
};

bf_anchors *bf_anchors_create(size_t max_size)
{
    bf_anchors *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->max_size = max_size;
    x->out_cap = compressBound((uLong)max_size);
    x->out = malloc(x->out_cap);
    x->plain = malloc(max_size + 1);
    x->scratch = malloc(max_size + 1);
    x->ld1 = libdeflate_alloc_compressor(1);
    x->ld6 = libdeflate_alloc_compressor(6);
    x->ldd = libdeflate_alloc_decompressor();
    if (!x->out || !x->plain || !x->scratch || !x->ld1 || !x->ld6 || !x->ldd) {
        bf_anchors_destroy(x);
        return NULL;
    }
    /* Fault the pages in now, so that no anchor pays for it in its first
     * timed call and the devices' outputs (already touched) compete fairly. */
    memset(x->out, 0, x->out_cap);
    memset(x->plain, 0, max_size + 1);
    memset(x->scratch, 0, max_size + 1);
    return x;
}

void bf_anchors_destroy(bf_anchors *x)
{
    if (!x)
        return;
    libdeflate_free_compressor(x->ld1);
    libdeflate_free_compressor(x->ld6);
    libdeflate_free_decompressor(x->ldd);
    free(x->out);
    free(x->plain);
    free(x->scratch);
    free(x);
}

void bf_anchors_bind(bf_anchors *x, const uint8_t *data, size_t size, const uint8_t *z6, size_t z6_size)
{
    x->data = data;
    x->size = size;
    x->z6 = z6;
    x->z6_size = z6_size;
}

int bf_anchors_run(bf_anchors *x, bf_anchor a, char *err, size_t err_size)
{
    uLongf zn;
    size_t n;
    int zr;
    switch (a) {
    case BF_A_CRC3: x->crc = bf_crc32c_3way(x->data, x->size); return 0;
    case BF_A_SHA: bf_sha256(x->data, x->size, x->digest); return 0;
    case BF_A_ZLIB1:
    case BF_A_ZLIB6:
    case BF_A_ZLIB9:
        zn = (uLongf)x->out_cap;
        zr = compress2(x->out, &zn, x->data, (uLong)x->size, anchor_table[a].level);
        if (zr != Z_OK) {
            snprintf(err, err_size, "compress2 failed: %d", zr);
            return -1;
        }
        x->out_size = zn;
        return 0;
    case BF_A_LD1:
    case BF_A_LD6:
        n = libdeflate_zlib_compress(a == BF_A_LD1 ? x->ld1 : x->ld6, x->data, x->size, x->out, x->out_cap);
        if (n == 0) {
            snprintf(err, err_size, "libdeflate_zlib_compress failed");
            return -1;
        }
        x->out_size = n;
        return 0;
    case BF_A_ZLIB_INFL:
        zn = (uLongf)x->max_size + 1;
        zr = uncompress(x->plain, &zn, x->z6, (uLong)x->z6_size);
        if (zr != Z_OK) {
            snprintf(err, err_size, "uncompress failed: %d", zr);
            return -1;
        }
        x->plain_size = zn;
        return 0;
    case BF_A_LD_INFL:
        if (libdeflate_zlib_decompress(x->ldd, x->z6, x->z6_size, x->plain, x->max_size + 1, &n) !=
            LIBDEFLATE_SUCCESS) {
            snprintf(err, err_size, "libdeflate_zlib_decompress failed");
            return -1;
        }
        x->plain_size = n;
        return 0;
    case BF_A_COUNT: break;
    }
    snprintf(err, err_size, "unknown anchor %d", (int)a);
    return -1;
}

int bf_anchors_check(bf_anchors *x, bf_anchor a, uint32_t crc, const uint8_t sha[32], uint64_t *out_size,
                     char *err, size_t err_size)
{
    *out_size = 0;
    switch (a) {
    case BF_A_CRC3:
        if (x->crc != crc) {
            snprintf(err, err_size, "crc32c %08x, bytewise %08x", x->crc, crc);
            return -1;
        }
        return 0;
    case BF_A_SHA:
        if (memcmp(x->digest, sha, 32) != 0) {
            snprintf(err, err_size, "the digest differs from the reference");
            return -1;
        }
        return 0;
    case BF_A_ZLIB_INFL:
    case BF_A_LD_INFL:
        if (x->plain_size != x->size || memcmp(x->plain, x->data, x->size) != 0) {
            snprintf(err, err_size, "the output (%zu bytes) differs from the data (%zu bytes)", x->plain_size,
                     x->size);
            return -1;
        }
        return 0;
    default:
        *out_size = x->out_size;
        return bf_check_zlib_stream(x->out, x->out_size, x->data, x->size, x->scratch, err, err_size);
    }
}

uint8_t *bf_zlib6(const uint8_t *data, size_t size, size_t *z_size)
{
    uLongf zn = compressBound((uLong)size);
    uint8_t *z = malloc(zn);
    if (!z)
        return NULL;
    if (compress2(z, &zn, data, (uLong)size, 6) != Z_OK) {
        free(z);
        return NULL;
    }
    *z_size = zn;
    return z;
}

void bf_sha256(const uint8_t *data, size_t size, uint8_t out[32])
{
    unsigned int len = 32;
    EVP_Digest(data, size, out, &len, EVP_sha256(), NULL);
}

int bf_check_zlib_stream(const uint8_t *z, size_t z_size, const uint8_t *data, size_t size, uint8_t *scratch,
                         char *err, size_t err_size)
{
    uLongf out = (uLongf)size + 1;
    uLong in = (uLong)z_size;
    int zr = uncompress2(scratch, &out, z, &in);
    if (zr != Z_OK) {
        snprintf(err, err_size, "zlib cannot inflate the %zu-byte output: %s", z_size,
                 zr == Z_DATA_ERROR  ? "corrupt stream"
                 : zr == Z_BUF_ERROR ? "truncated or too long"
                                     : zError(zr));
        return -1;
    }
    if (in != z_size) {
        snprintf(err, err_size, "the stream ends after %lu of its %zu bytes", (unsigned long)in, z_size);
        return -1;
    }
    if (out != size || memcmp(scratch, data, size) != 0) {
        snprintf(err, err_size, "it inflates to %lu bytes that differ from the %zu-byte input",
                 (unsigned long)out, size);
        return -1;
    }
    return 0;
}

void bf_library_versions(char *buf, size_t size)
{
    snprintf(buf, size, "zlib %s, libdeflate %s, %s", zlibVersion(), LIBDEFLATE_VERSION_STRING,
             OpenSSL_version(OPENSSL_VERSION));
}
