/* emu_ops.c — the operations of the emulated uacce device (emu_ops.h):
 * what it does with one descriptor, in the client's address space
 * (emu_memory.c). crc32c and sha256 (emu_hash.c), zlib.deflate (zlib at
 * the descriptor's level, or stored blocks written here: level 0, and data
 * zlib would make longer than them) / zlib.inflate (zlib), copy and fill,
 * and the stream forms over their documented states (icd-examples/common:
 * crc32c.stream here, sha256.stream, zlib.deflate.stream and
 * zlib.inflate.stream there).
 *
 * A descriptor is the client's word: every length, reserved field and
 * overlap is checked before a buffer is touched, what is parsed (a stream
 * state) is parsed from a copy of the device's own, and working memory is
 * bounded whatever the lengths say (work_alloc). tests/fuzz/fuzz_uacce_ops.c
 * feeds it hostile descriptors. */
#include "emu_ops.h"

#include "emu_hash.h"

#include "accel_deflate_stream.h"
#include "accel_inflate_stream.h"
#include "accel_sha256_stream.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

/* The most bytes a request may make the emulator copy into memory of its
 * own (a source or destination it cannot reach in place): a descriptor's
 * length is the client's word, and the device's working memory is not. */
#define EMU_LOCAL_MAX (1ull << 32)
#define EMU_LOCAL_MAP (1ull << 20) /* from this size, mapped: pages only as they are written */

/* Working memory of len bytes (never NULL for 0), NULL beyond
 * EMU_LOCAL_MAX or when there is none. A large buffer is an anonymous
 * mapping without reserve, so a hostile length costs address space, not
 * memory, until the bytes actually arrive. Free with work_free(p, len). */
static void *work_alloc(uint64_t len)
{
    if (len > EMU_LOCAL_MAX || len > SIZE_MAX / 2)
        return NULL;
    if (len < EMU_LOCAL_MAP)
        return malloc(len ? (size_t)len : 1);
    void *p =
        mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void work_free(void *p, uint64_t len)
{
    if (p && len >= EMU_LOCAL_MAP)
        munmap(p, (size_t)len);
    else
        free(p);
}

/* Read a whole range into new working memory (never NULL on success;
 * work_free(*out, len)). */
static int fetch(emu_ctx *c, uint64_t addr, uint64_t len, uint8_t **out)
{
    uint8_t *b = work_alloc(len);
    if (!b)
        return WD_ST_NOMEM;
    int st = emu_read(c->space, addr, b, len);
    if (st) {
        work_free(b, len);
        return st;
    }
    *out = b;
    return WD_ST_OK;
}

/* The source bytes of a request: in place when one mapping holds them all
 * (emu_memory.c), else a copy read from the client. */
typedef struct src_bytes {
    const uint8_t *p;
    emu_map *hold;
    uint8_t *copy;
    uint64_t copy_len;
} src_bytes;

static int src_get(emu_ctx *c, uint64_t addr, uint64_t len, src_bytes *s)
{
    *s = (src_bytes){0};
    s->p = emu_direct(c->space, addr, len, &s->hold);
    if (s->p)
        return WD_ST_OK;
    int st = fetch(c, addr, len, &s->copy);
    s->p = s->copy;
    s->copy_len = len;
    return st;
}

static void src_put(src_bytes *s)
{
    emu_release(s->hold);
    work_free(s->copy, s->copy_len);
    *s = (src_bytes){0};
}

/* Whether two device ranges share a byte (addresses may be anything). */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    if (!alen || !blen)
        return false;
    return a >= b ? a - b < blen : b - a < alen;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* In place when the source is mapped; otherwise it goes through the
 * connection's scratch buffer in pieces (no allocation, and each piece is
 * still in the cache when it is summed). */
static int op_crc32c(emu_ctx *c, const wd_desc *d, uint64_t *produced)
{
    if (d->len[1] < 4)
        return WD_ST_INVALID;
    uint32_t crc = 0xffffffffu;
    emu_map *hold;
    const uint8_t *p = emu_direct(c->space, d->addr[0], d->len[0], &hold);
    if (p) {
        crc = emu_crc32c_update(crc, p, (size_t)d->len[0]);
        emu_release(hold);
    } else {
        for (uint64_t done = 0; done < d->len[0];) {
            uint64_t n = d->len[0] - done < EMU_SCRATCH ? d->len[0] - done : EMU_SCRATCH;
            int st = emu_read(c->space, d->addr[0] + done, c->scratch, n);
            if (st)
                return st;
            crc = emu_crc32c_update(crc, c->scratch, (size_t)n);
            done += n;
        }
    }
    crc = ~crc;
    if (d->flags & WD_DESC_RESULT_IN_CQE) {
        *produced = crc; /* the host stores it */
        return WD_ST_OK;
    }
    uint8_t out[4];
    put_le(out, crc, 4);
    return emu_write(c->space, d->addr[1], out, 4);
}

static int op_sha256(emu_ctx *c, const wd_desc *d)
{
    if (d->len[1] < 32)
        return WD_ST_INVALID;
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (st)
        return st;
    emu_sha256 s;
    emu_sha256_init(&s);
    emu_sha256_update(&s, src.p, (size_t)d->len[0]);
    src_put(&src);
    uint8_t out[32];
    emu_sha256_final(&s, out);
    return emu_write(c->space, d->addr[1], out, 32);
}

/* crc32c.stream: the finished CRC in state (buf1) goes on over src. */
static int op_crc32c_stream(emu_ctx *c, const wd_desc *d)
{
    if (d->len[1] < 4)
        return WD_ST_INVALID;
    uint8_t st[4];
    int rc = emu_read(c->space, d->addr[1], st, 4);
    if (rc)
        return rc;
    src_bytes src;
    if ((rc = src_get(c, d->addr[0], d->len[0], &src)))
        return rc;
    uint32_t crc = (uint32_t)st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 | (uint32_t)st[3] << 24;
    crc = ~emu_crc32c_update(~crc, src.p, (size_t)d->len[0]);
    src_put(&src);
    put_le(st, crc, 4);
    return emu_write(c->space, d->addr[1], st, 4);
}

/* sha256.stream: the documented 112-byte state (accel_sha256_stream.c,
 * which the emulator compiles in); a state it did not write is invalid,
 * and then nothing is written. */
static int op_sha256_stream(emu_ctx *c, const wd_desc *d)
{
    bool final = d->imm != 0;
    if (d->len[1] < ACCEL_SHA256_STREAM_STATE_SIZE || (d->len[2] && d->len[2] < 32) ||
        (final && d->len[2] < 32))
        return WD_ST_INVALID;
    uint8_t st[ACCEL_SHA256_STREAM_STATE_SIZE], digest[32];
    int rc = emu_read(c->space, d->addr[1], st, sizeof(st));
    if (rc)
        return rc;
    src_bytes src;
    if ((rc = src_get(c, d->addr[0], d->len[0], &src)))
        return rc;
    bool ok = accel_sha256_stream(st, src.p, d->len[0], final, digest);
    src_put(&src);
    if (!ok)
        return WD_ST_INVALID;
    if ((rc = emu_write(c->space, d->addr[1], st, sizeof(st))))
        return rc;
    return final ? emu_write(c->space, d->addr[2], digest, 32) : WD_ST_OK;
}

/* zlib.deflate.stream: the piece into dst (buf1), the documented state
 * (buf2) read and written back (accel_deflate_stream.c, compiled in); a dst
 * too small or a bad state leaves the state as it was. */
static int op_deflate_stream(emu_ctx *c, const wd_desc *d, uint64_t *produced)
{
    uint32_t level = d->imm & 0xffu;
    bool final = (d->imm & WD_IMM_FINAL) != 0;
    if (d->len[2] < ACCEL_DEFLATE_STREAM_STATE_SIZE || level > WD_DEFLATE_LEVEL_MAX || (d->imm & ~0x1ffu))
        return WD_ST_INVALID;
    uint64_t bound = accel_deflate_stream_bound(d->len[0]);
    uint64_t cap = d->len[1] < bound ? d->len[1] : bound;
    uint8_t *st = malloc(ACCEL_DEFLATE_STREAM_STATE_SIZE), *out = work_alloc(cap);
    int rc = st && out ? emu_read(c->space, d->addr[2], st, ACCEL_DEFLATE_STREAM_STATE_SIZE) : WD_ST_NOMEM;
    src_bytes src = {0};
    if (!rc)
        rc = src_get(c, d->addr[0], d->len[0], &src);
    if (!rc) {
        accel_deflate_stream_result r =
            accel_deflate_stream(st, src.p, d->len[0], out, cap, (int)level, final, produced);
        src_put(&src);
        rc = r == ACCEL_DEFLATE_STREAM_OK          ? WD_ST_OK
             : r == ACCEL_DEFLATE_STREAM_NO_MEMORY ? WD_ST_NOMEM
                                                   : WD_ST_INVALID;
    }
    if (!rc)
        rc = emu_write(c->space, d->addr[1], out, *produced);
    if (!rc)
        rc = emu_write(c->space, d->addr[2], st, ACCEL_DEFLATE_STREAM_STATE_SIZE);
    free(st);
    work_free(out, cap);
    return rc;
}

/* zlib.inflate.stream: the portable inflater (accel_inflate_stream.c,
 * compiled in) over src (buf0), dst (buf1) and the documented state
 * (buf2), as the cpu driver runs it: one call over the whole of src and
 * dst, so that the progress and the state are the same bytes on both.
 * Everything in the descriptor is checked before a buffer is touched. The
 * state is parsed from a copy of its own (the client's bytes may change
 * under a running request) and written back only when the call succeeded.
 * No two of src, dst and state may overlap (by device address). dst is
 * written in place when it is mapped (a corrupt stream may then leave
 * partial output there, as on the cpu), otherwise only the bytes produced
 * are written back. The progress goes to
 * the completion entry (wd_proto.h). */
static int op_inflate_stream(emu_ctx *c, const wd_desc *d, emu_result *res)
{
    if (d->flags || d->imm) {
        res->info = WD_INFO(3, WD_WHY_RESERVED);
        return WD_ST_INVALID;
    }
    if (d->len[2] < ACCEL_INFLATE_STREAM_STATE_SIZE) {
        res->info = WD_INFO(2, WD_WHY_SIZE);
        return WD_ST_INVALID;
    }
    if (overlap(d->addr[2], d->len[2], d->addr[0], d->len[0]) ||
        overlap(d->addr[2], d->len[2], d->addr[1], d->len[1])) {
        res->info = WD_INFO(2, WD_WHY_OVERLAP);
        return WD_ST_INVALID;
    }
    if (overlap(d->addr[1], d->len[1], d->addr[0], d->len[0])) {
        res->info = WD_INFO(1, WD_WHY_OVERLAP);
        return WD_ST_INVALID;
    }
    emu_map *shold = NULL, *dhold = NULL;
    uint8_t *scopy = NULL, *local = NULL, *st = NULL;
    const uint8_t *src = emu_direct(c->space, d->addr[0], d->len[0], &shold);
    uint8_t *dst = emu_direct(c->space, d->addr[1], d->len[1], &dhold);
    int rc = WD_ST_OK;
    if ((!src && d->len[0] > EMU_LOCAL_MAX) || (!dst && d->len[1] > EMU_LOCAL_MAX))
        rc = WD_ST_NOMEM;
    if (!rc && !(st = malloc(ACCEL_INFLATE_STREAM_STATE_SIZE)))
        rc = WD_ST_NOMEM;
    if (!rc && !dst && !(dst = local = work_alloc(d->len[1])))
        rc = WD_ST_NOMEM;
    if (!rc)
        rc = emu_read(c->space, d->addr[2], st, ACCEL_INFLATE_STREAM_STATE_SIZE);
    if (!rc && !src && !(rc = fetch(c, d->addr[0], d->len[0], &scopy)))
        src = scopy;
    if (!rc) {
        uint64_t used = 0, wrote = 0;
        accel_inflate_status s = accel_inflate_stream(st, src, d->len[0], dst, d->len[1], &used, &wrote);
        if (s == ACCEL_INFLATE_CORRUPT || s == ACCEL_INFLATE_BAD_STATE) {
            res->info = WD_INFO(s == ACCEL_INFLATE_CORRUPT ? 0 : 2, WD_WHY_CONTENT);
            rc = WD_ST_INVALID;
        } else if (used > d->len[0] || wrote > d->len[1] || (unsigned)s > WD_STREAM_DST_FULL) {
            rc = WD_ST_HW_ERROR; /* the inflater's contract broken: never report it as progress */
        } else {
            res->consumed = used;
            res->produced = wrote;
            res->info = (uint32_t)s;
        }
    }
    emu_release(shold);
    work_free(scopy, d->len[0]);
    if (!rc && local)
        rc = emu_write(c->space, d->addr[1], local, res->produced);
    emu_release(dhold);
    work_free(local, d->len[1]);
    if (!rc)
        rc = emu_write(c->space, d->addr[2], st, ACCEL_INFLATE_STREAM_STATE_SIZE);
    free(st);
    if (rc && rc != WD_ST_INVALID)
        res->info = 0;
    if (rc)
        res->consumed = res->produced = 0;
    return rc;
}

/* The size of a zlib stream of stored blocks of n bytes: header, 5 bytes
 * per block of at most 65535 (one empty block for no input), Adler-32.
 * Within the documented bound n + 5 * ceil(n / 65535) + 11. */
static uint64_t stored_size(uint64_t n)
{
    uint64_t blocks = n ? (n + 65534) / 65535 : 1;
    return n + 5 * blocks + 6;
}

/* Write n bytes as a zlib stream of stored blocks (stored_size(n) bytes at
 * dst, which does not overlap src): level 0, and the way out for data that
 * the compressor would make longer. */
static void write_stored(const uint8_t *src, uint64_t n, uint8_t *dst)
{
    uint8_t *p = dst;
    *p++ = 0x78; /* deflate, 32 KiB window */
    *p++ = 0x01; /* FLEVEL 0, no dictionary; 0x7801 is a multiple of 31 */
    uint64_t done = 0;
    do {
        uint32_t k = n - done < 65535 ? (uint32_t)(n - done) : 65535u;
        *p++ = done + k == n; /* BFINAL on the last block, BTYPE 00 (stored) */
        put_le(p, k, 2);
        put_le(p + 2, ~k & 0xffffu, 2);
        p += 4;
        memcpy(p, src + done, k);
        p += k;
        done += k;
    } while (done < n);
    uint32_t adler = (uint32_t)adler32_z(1, src, (size_t)n);
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(adler >> (24 - 8 * i)); /* big endian (RFC 1950) */
}

/* Compress src at `level` into dst (cap bytes), the length in *out.
 * zlib at levels 1..9 makes data that does not compress longer than a
 * stream of stored blocks (its stored blocks are cut at its own buffer
 * sizes, 5 bytes each); it only gets that much room, and when it does not
 * finish in it the stream is written as stored blocks instead, so a
 * destination of the documented bound always suffices. */
static int deflate_to(const uint8_t *src, uint64_t n, uint8_t *dst, uint64_t cap, unsigned level,
                      uint64_t *out)
{
    uint64_t stored = stored_size(n);
    if (level > WD_DEFLATE_LEVEL_MAX)
        return WD_ST_INVALID;
    if (level > 0) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit(&z, (int)level) != Z_OK)
            return WD_ST_NOMEM;
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = (uInt)n;
        z.next_out = dst;
        z.avail_out = (uInt)(cap < stored ? cap : stored);
        int zr = deflate(&z, Z_FINISH);
        uint64_t produced = z.total_out;
        deflateEnd(&z);
        if (zr == Z_STREAM_END) {
            *out = produced;
            return WD_ST_OK;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return zr == Z_MEM_ERROR ? WD_ST_NOMEM : WD_ST_HW_ERROR;
        /* out of room: stored blocks, if they fit */
    }
    if (cap < stored)
        return WD_ST_INVALID;
    write_stored(src, n, dst);
    *out = stored;
    return WD_ST_OK;
}

/* Decompress exactly one zlib stream from src into dst (cap bytes). */
static int inflate_to(const uint8_t *src, uint64_t n, uint8_t *dst, uint64_t cap, uint64_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int zr = inflateInit(&z);
    if (zr != Z_OK)
        return WD_ST_NOMEM;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    zr = inflate(&z, Z_FINISH);
    int st;
    if (zr == Z_STREAM_END)
        st = z.avail_in ? WD_ST_INVALID : WD_ST_OK; /* bytes after the stream */
    else
        st = zr == Z_MEM_ERROR ? WD_ST_NOMEM : WD_ST_INVALID; /* corrupt, truncated or dst too small */
    *out = z.total_out;
    inflateEnd(&z);
    return st;
}

/* deflate / inflate over the whole source in one request. The destination
 * is written in place when it is mapped and does not overlap the source;
 * otherwise the whole range is working space here and only the produced
 * bytes are written back. */
static int op_zlib(emu_ctx *c, const wd_desc *d, bool compress, uint64_t *produced)
{
    if (d->len[2] < 8)
        return WD_ST_INVALID;
    if (compress && d->imm > WD_DEFLATE_LEVEL_MAX)
        return WD_ST_INVALID; /* before anything is touched */
    if (d->len[0] > UINT_MAX || d->len[1] > UINT_MAX)
        return WD_ST_NOMEM; /* one zlib call per request: 4 GiB at most */
    emu_map *dhold = NULL;
    uint8_t *dst = NULL, *local = NULL;
    if (!overlap(d->addr[0], d->len[0], d->addr[1], d->len[1]))
        dst = emu_direct(c->space, d->addr[1], d->len[1], &dhold);
    if (!dst && !(dst = local = work_alloc(d->len[1])))
        return WD_ST_NOMEM;
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (st) {
        emu_release(dhold);
        work_free(local, d->len[1]);
        return st;
    }
    uint64_t n = 0;
    if (compress)
        st = deflate_to(src.p, d->len[0], dst, d->len[1], d->imm, &n);
    else
        st = inflate_to(src.p, d->len[0], dst, d->len[1], &n);
    src_put(&src);
    emu_release(dhold);
    if (st == WD_ST_OK && local)
        st = emu_write(c->space, d->addr[1], local, n);
    work_free(local, d->len[1]);
    if (st == WD_ST_OK) {
        uint8_t out[8];
        put_le(out, n, 8);
        st = emu_write(c->space, d->addr[2], out, 8);
        *produced = n;
    }
    return st;
}

static int op_copy(emu_ctx *c, const wd_desc *d)
{
    if (d->len[1] < d->len[0])
        return WD_ST_INVALID;
    emu_map *dhold;
    uint8_t *dst = emu_direct(c->space, d->addr[1], d->len[0], &dhold);
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (!st && dst)
        memmove(dst, src.p, (size_t)d->len[0]); /* the two may overlap */
    else if (!st)
        st = emu_write(c->space, d->addr[1], src.p, d->len[0]);
    src_put(&src);
    emu_release(dhold);
    return st;
}

/* The fill pattern: imm's bytes, little endian, over and over. */
static void pattern(uint8_t *p, uint64_t n, uint32_t imm)
{
    uint64_t first = n < 4096 ? n : 4096; /* a multiple of 4, then copies of it */
    for (uint64_t i = 0; i < first; i++)
        p[i] = (uint8_t)(imm >> (8 * (i & 3)));
    for (uint64_t done = first; done < n;) {
        uint64_t k = n - done < done ? n - done : done;
        memcpy(p + done, p, (size_t)k);
        done += k;
    }
}

static int op_fill(emu_ctx *c, const wd_desc *d)
{
    emu_map *hold;
    uint8_t *dst = emu_direct(c->space, d->addr[0], d->len[0], &hold);
    if (dst) {
        pattern(dst, d->len[0], d->imm);
        emu_release(hold);
        return WD_ST_OK;
    }
    pattern(c->scratch, EMU_SCRATCH, d->imm);
    for (uint64_t done = 0; done < d->len[0];) {
        uint64_t n = d->len[0] - done < EMU_SCRATCH ? d->len[0] - done : EMU_SCRATCH;
        int st = emu_write(c->space, d->addr[0] + done, c->scratch, n);
        if (st)
            return st;
        done += n;
    }
    return WD_ST_OK;
}

int emu_execute(emu_ctx *c, const wd_desc *d, emu_result *res)
{
    *res = (emu_result){0};
    switch (d->op) {
    case WD_OP_NOOP: return WD_ST_OK;
    case WD_OP_CRC32C: return op_crc32c(c, d, &res->produced);
    case WD_OP_SHA256: return op_sha256(c, d);
    case WD_OP_DEFLATE: return op_zlib(c, d, true, &res->produced);
    case WD_OP_INFLATE: return op_zlib(c, d, false, &res->produced);
    case WD_OP_COPY: return op_copy(c, d);
    case WD_OP_FILL: return op_fill(c, d);
    case WD_OP_CRC32C_STREAM: return op_crc32c_stream(c, d);
    case WD_OP_SHA256_STREAM: return op_sha256_stream(c, d);
    case WD_OP_DEFLATE_STREAM: return op_deflate_stream(c, d, &res->produced);
    case WD_OP_INFLATE_STREAM: return op_inflate_stream(c, d, res);
    default: return WD_ST_BAD_OP;
    }
}
