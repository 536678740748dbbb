/* bench_stream_data.c — bench_stream's input: the compression corpus
 * repeated to the size asked for, as one zlib stream written to disk a
 * period at a time, and the checks of what the runs wrote. */
#include "bench_stream.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "bench_util.h"

#define PIECE (1u << 20)

/* ---- CRC-32C ---- */

static uint32_t crc_table[256];

static void crc_table_init(void)
{
    if (crc_table[1])
        return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc_bytewise(uint32_t c, const uint8_t *p, size_t n)
{
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
    while (n--)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

uint32_t bs_crc32c(uint32_t crc, const void *data, size_t size)
{
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc_sse42(c, data, size);
#endif
    crc_table_init();
    return ~crc_bytewise(c, data, size);
}

/* ---- the corpus ---- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Raw deflate at level 6 of `data`, ended with `flush` (Z_FULL_FLUSH: byte
 * aligned, no history kept, not final; Z_FINISH: the final block). */
static int deflate_raw(const uint8_t *data, size_t size, int flush, uint8_t **out, size_t *out_size)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, size) + 64;
    *out = malloc(cap);
    if (!*out) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)size;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, flush);
    bool ok = flush == Z_FINISH ? r == Z_STREAM_END : r == Z_OK && z.avail_in == 0 && z.avail_out > 0;
    *out_size = cap - z.avail_out;
    deflateEnd(&z);
    if (!ok) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int bs_corpus_load(const char *dir, bs_corpus *c, char *why, size_t why_size)
{
    memset(c, 0, sizeof(*c));
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, why_size, "corpus %s: %s", dir, strerror(errno));
        return -1;
    }
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0 ||
            strncmp(e->d_name, "LICENSE", 7) == 0)
            continue;
        char path[1024];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n == 0) {
        snprintf(why, why_size, "corpus %s: no files", dir);
        return -1;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024], *data = NULL;
        size_t size = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && bench_read_file(path, &data, &size) != 0) {
            snprintf(why, why_size, "cannot read %s", path);
            rc = -1;
        }
        if (rc == 0) {
            uint8_t *grown = realloc(c->data, c->size + size);
            if (!grown) {
                snprintf(why, why_size, "out of memory");
                rc = -1;
            } else {
                memcpy(grown + c->size, data, size);
                c->data = grown;
                c->size += size;
            }
        }
        free(data);
        free(names[i]);
    }
    if (rc == 0 && deflate_raw(c->data, c->size, Z_FULL_FLUSH, &c->z, &c->zsize) != 0) {
        snprintf(why, why_size, "zlib cannot deflate the corpus");
        rc = -1;
    }
    if (rc != 0) {
        bs_corpus_free(c);
        return -1;
    }
    c->adler = (uint32_t)adler32(adler32(0, NULL, 0), c->data, (uInt)c->size);
    c->crc = bs_crc32c(0, c->data, c->size);
    return 0;
}

void bs_corpus_free(bs_corpus *c)
{
    free(c->data);
    free(c->z);
    memset(c, 0, sizeof(*c));
}

void bs_fill(const bs_corpus *c, uint64_t offset, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t at = (size_t)(offset % c->size);
    while (len) {
        size_t n = c->size - at < len ? c->size - at : len;
        memcpy(p, c->data + at, n);
        p += n;
        len -= n;
        at = 0;
    }
}

/* ---- the input file ---- */

static int write_all(FILE *f, const void *data, size_t size)
{
    return fwrite(data, 1, size, f) == size ? 0 : -1;
}

int bs_generate(const bs_corpus *c, uint64_t size, const char *path, uint32_t *crc, uint64_t *zbytes,
                char *why, size_t why_size)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    static const uint8_t header[2] = {0x78, 0x9c}; /* deflate, 32 KiB window, level 6 */
    uint64_t periods = size / c->size;
    size_t rest = (size_t)(size % c->size);
    uint32_t adler = (uint32_t)adler32(0, NULL, 0), cr = 0;
    uint64_t total = sizeof(header);
    int rc = write_all(f, header, sizeof(header));
    for (uint64_t i = 0; i < periods && rc == 0; i++) {
        rc = write_all(f, c->z, c->zsize);
        adler = (uint32_t)adler32_combine(adler, c->adler, (z_off_t)c->size);
        cr = bs_crc32c(cr, c->data, c->size);
        total += c->zsize;
    }
    uint8_t *tail = NULL;
    size_t tail_size = 0;
    if (rc == 0 && deflate_raw(c->data, rest, Z_FINISH, &tail, &tail_size) != 0) {
        snprintf(why, why_size, "zlib cannot deflate the last %zu bytes", rest);
        fclose(f);
        return -1;
    }
    if (rc == 0) {
        adler = (uint32_t)adler32(adler, c->data, (uInt)rest);
        cr = bs_crc32c(cr, c->data, rest);
        uint8_t trailer[4] = {(uint8_t)(adler >> 24), (uint8_t)(adler >> 16), (uint8_t)(adler >> 8),
                              (uint8_t)adler};
        rc = write_all(f, tail, tail_size) || write_all(f, trailer, sizeof(trailer)) ? -1 : 0;
        total += tail_size + sizeof(trailer);
    }
    free(tail);
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    *crc = cr;
    *zbytes = total;
    return 0;
}

/* ---- checks ---- */

int bs_check_zlib_file(const bs_corpus *c, uint64_t size, const char *path, char *why, size_t why_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *in = malloc(PIECE), *out = malloc(PIECE), *want = malloc(PIECE);
    z_stream z = {0};
    int rc = -1, zr = Z_OK;
    uint64_t at = 0;
    if (!in || !out || !want || inflateInit(&z) != Z_OK) {
        snprintf(why, why_size, "out of memory");
        goto out;
    }
    while (zr != Z_STREAM_END) {
        if (z.avail_in == 0) {
            size_t n = fread(in, 1, PIECE, f);
            if (n == 0) {
                snprintf(why, why_size, "%s: the zlib stream ends early, after %llu bytes", path,
                         (unsigned long long)at);
                goto out;
            }
            z.next_in = in;
            z.avail_in = (uInt)n;
        }
        z.next_out = out;
        z.avail_out = PIECE;
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            snprintf(why, why_size, "%s: zlib: %s after %llu bytes", path, z.msg ? z.msg : "error",
                     (unsigned long long)at);
            goto out;
        }
        size_t got = PIECE - z.avail_out;
        if (at + got > size) {
            snprintf(why, why_size, "%s: inflates to more than the input's %llu bytes", path,
                     (unsigned long long)size);
            goto out;
        }
        bs_fill(c, at, want, got);
        if (memcmp(out, want, got) != 0) {
            size_t k = 0;
            while (out[k] == want[k])
                k++;
            snprintf(why, why_size, "%s: inflates to other bytes than the input from byte %llu", path,
                     (unsigned long long)(at + k));
            goto out;
        }
        at += got;
    }
    if (at != size) {
        snprintf(why, why_size, "%s: inflates to %llu bytes, not the input's %llu", path,
                 (unsigned long long)at, (unsigned long long)size);
        goto out;
    }
    if (z.avail_in != 0 || fread(in, 1, 1, f) != 0) {
        snprintf(why, why_size, "%s: bytes after the end of the zlib stream", path);
        goto out;
    }
    rc = 0;
out:
    inflateEnd(&z);
    fclose(f);
    free(in);
    free(out);
    free(want);
    return rc;
}

int bs_read_crc_file(const char *path, uint32_t *crc)
{
    uint8_t b[5];
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(b, 1, sizeof(b), f);
    fclose(f);
    if (n != 4)
        return -1;
    *crc = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}
