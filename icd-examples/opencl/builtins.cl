/* builtins.cl — the standard functions (docs/standard-functions.md) as
 * OpenCL C kernels. Built once per device, on the first function_get of a
 * built-in, and embedded in the driver as a C string at build time.
 *
 * Convention: every memory range is passed as three kernel arguments, the
 * whole buffer, the byte offset of the range and its size, so that ranges
 * at any offset work without sub-buffers (which need
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN alignment). Sizes that the host can check
 * (result, out_size, deflate's dst) are checked by the driver before
 * enqueueing; zlib.inflate reports failures through a status word
 * (INFLATE_*), which the driver reads back when the work completes. */

#define INFLATE_OK 0u
#define INFLATE_DST_TOO_SMALL 1u
#define INFLATE_CORRUPT 2u

#define FILL_CHUNK 4096ul

__kernel void accel_noop(void)
{
}

/* accel.copy between overlapping ranges of one buffer (the driver uses
 * clEnqueueCopyBuffer otherwise): one work-item, memmove order. */
__kernel void accel_move(__global uchar *src, ulong src_off, ulong n, __global uchar *dst, ulong dst_off)
{
    __global const uchar *s = src + src_off;
    __global uchar *d = dst + dst_off;
    if (d == s || n == 0)
        return;
    if (d < s) {
        for (ulong i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        for (ulong i = n; i > 0; i--)
            d[i - 1] = s[i - 1];
    }
}

/* accel.fill: work-item i writes bytes [i * FILL_CHUNK, (i + 1) * FILL_CHUNK). */
__kernel void accel_fill(__global uchar *dst, ulong off, ulong n, uint pattern)
{
    ulong start = get_global_id(0) * FILL_CHUNK;
    ulong end = min(start + FILL_CHUNK, n);
    __global uchar *d = dst + off;
    for (ulong i = start; i < end; i++)
        d[i] = (uchar)(pattern >> (8u * (uint)(i & 3ul)));
}

/* Castagnoli polynomial, reflected (0x82F63B78). */
__constant uint crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

/* crc32c in two steps: accel_crc32c_parts computes the CRC register of each
 * segment of seglen bytes from a zero start, then accel_crc32c_combine
 * chains them: the register after data A then B is
 * reg(A) * x^(8 |B|) + reg(B) over GF(2) modulo the polynomial, so each
 * segment costs one multiplication by a power of x found by squaring. */
#define CRC32C_POLY 0x82f63b78u

/* a * b modulo the polynomial, reflected (bit 31 is x^0). */
uint gf2_mulmod(uint a, uint b)
{
    uint p = 0;
    for (int k = 0; k < 32; k++) {
        if (a & 0x80000000u)
            p ^= b;
        a <<= 1;
        b = (b >> 1) ^ ((b & 1u) ? CRC32C_POLY : 0u);
    }
    return p;
}

/* x^(8 * len) modulo the polynomial. */
uint x8n(ulong len)
{
    uint r = 0x80000000u, sq = 0x00800000u; /* x^0, x^8 */
    while (len) {
        if (len & 1ul)
            r = gf2_mulmod(r, sq);
        sq = gf2_mulmod(sq, sq);
        len >>= 1;
    }
    return r;
}

/* Where the kernel compiler targets an x86-64 CPU with SSE4.2 (PoCL's CPU
 * devices compile for the host), its crc32 instruction computes exactly
 * this CRC, 8 bytes per instruction, about ten times the table's rate.
 * Every other device (and a build with -DCRC32C_PORTABLE, which the driver
 * passes when ACCEL_OPENCL_CRC32C=portable, so that tests reach this path
 * on a CPU) uses the tables. */
#if defined(__SSE4_2__) && defined(__x86_64__) && !defined(CRC32C_PORTABLE) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_crc32di) && __has_builtin(__builtin_ia32_crc32qi)
#define CRC32C_HW 1
#endif
#endif

#ifdef CRC32C_HW
/* The register after len bytes from c. The instruction has a latency of
 * three cycles and a throughput of one per cycle, so a single chain would
 * run at a third of its rate: the aligned words are split into three lanes
 * of equal length, run side by side and joined with two multiplications
 * (cheap next to a lane of 64 KiB / 3). Words are read through an aligned
 * ulong pointer: PoCL's vload8 of bytes made the loop a third slower. */
uint crc32c_hw(uint c, __global const uchar *p, ulong len)
{
    ulong head = min((ulong)((8u - ((uint)(uintptr_t)p & 7u)) & 7u), len);
    for (ulong i = 0; i < head; i++)
        c = __builtin_ia32_crc32qi(c, p[i]);
    p += head;
    len -= head;
    __global const ulong *w = (__global const ulong *)p;
    ulong words = len / 8, lane = words / 3;
    ulong c0 = c, c1 = 0, c2 = 0;
    for (ulong i = 0; i < lane; i++) {
        c0 = __builtin_ia32_crc32di(c0, w[i]);
        c1 = __builtin_ia32_crc32di(c1, w[lane + i]);
        c2 = __builtin_ia32_crc32di(c2, w[2 * lane + i]);
    }
    if (lane) {
        uint sh = x8n(8 * lane);
        c0 = gf2_mulmod((uint)c0, sh) ^ (uint)c1;
        c0 = gf2_mulmod((uint)c0, sh) ^ (uint)c2;
    }
    for (ulong i = 3 * lane; i < words; i++)
        c0 = __builtin_ia32_crc32di(c0, w[i]);
    c = (uint)c0;
    for (ulong i = 8 * words; i < len; i++)
        c = __builtin_ia32_crc32qi(c, p[i]);
    return c;
}
#else
/* Slicing by 8: eight independent table lookups per 8 bytes instead of
 * eight dependent ones. t[k][i] is the register after byte i and k zero
 * bytes; the work-group fills it together. */
void crc32c_tables(__local uint (*t)[256])
{
    for (uint i = get_local_id(0); i < 256; i += get_local_size(0)) {
        uint c = crc32c_table[i];
        t[0][i] = c;
        for (int k = 1; k < 8; k++) {
            c = (c >> 8) ^ crc32c_table[c & 0xffu];
            t[k][i] = c;
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

uint crc32c_sliced(uint c, __global const uchar *p, ulong len, __local const uint (*t)[256])
{
    ulong i = 0;
#ifdef __ENDIAN_LITTLE__
    for (; i + 8 <= len; i += 8) {
        uint2 v = as_uint2(vload8(0, p + i));
        uint lo = c ^ v.x, hi = v.y;
        c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^ t[4][lo >> 24] ^
            t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^ t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
    }
#endif
    for (; i < len; i++)
        c = t[0][(c ^ p[i]) & 0xffu] ^ (c >> 8);
    return c;
}
#endif

__kernel void accel_crc32c_parts(__global const uchar *src, ulong src_off, ulong n, ulong seglen,
                                 __global uint *parts)
{
    ulong g = get_global_id(0);
    ulong start = g * seglen;
    ulong len = start < n ? min(seglen, n - start) : 0;
    __global const uchar *p = src + src_off + start;
#ifdef CRC32C_HW
    parts[g] = crc32c_hw(0, p, len);
#else
    __local uint t[8][256];
    crc32c_tables(t);
    parts[g] = crc32c_sliced(0, p, len, t);
#endif
}

/* 32-bit words in the buffers: little-endian (CRC results and states),
 * big-endian (SHA-256's digest words, zlib's Adler-32 trailer). */
uint load_le32(__global const uchar *p)
{
    return (uint)p[0] | ((uint)p[1] << 8) | ((uint)p[2] << 16) | ((uint)p[3] << 24);
}

void store_le32(__global uchar *p, uint v)
{
    p[0] = (uchar)v;
    p[1] = (uchar)(v >> 8);
    p[2] = (uchar)(v >> 16);
    p[3] = (uchar)(v >> 24);
}

void store_be32(__global uchar *p, uint v)
{
    p[0] = (uchar)(v >> 24);
    p[1] = (uchar)(v >> 16);
    p[2] = (uchar)(v >> 8);
    p[3] = (uchar)v;
}

__kernel void accel_crc32c_combine(__global const uint *parts, uint nparts, ulong seglen, ulong n,
                                   __global uchar *res, ulong res_off)
{
    uint full = x8n(seglen);
    uint c = 0xffffffffu;
    for (uint g = 0; g < nparts; g++) {
        ulong start = (ulong)g * seglen;
        ulong len = start < n ? min(seglen, n - start) : 0;
        c = gf2_mulmod(c, len == seglen ? full : x8n(len)) ^ parts[g];
    }
    store_le32(res + res_off, c ^ 0xffffffffu);
}

/* The whole range in one work-item, finished: one kernel instead of two
 * where the range is one segment. */
__kernel void accel_crc32c_one(__global const uchar *src, ulong src_off, ulong n, __global uchar *res,
                               ulong res_off)
{
    __global const uchar *p = src + src_off;
#ifdef CRC32C_HW
    uint c = crc32c_hw(0xffffffffu, p, n);
#else
    __local uint t[8][256];
    crc32c_tables(t);
    uint c = crc32c_sliced(0xffffffffu, p, n, t);
#endif
    store_le32(res + res_off, c ^ 0xffffffffu);
}

/* ---- crc32c.stream (docs/standard-functions.md, "Stream forms") ---- */

/* state[0, 4) holds the finished CRC of what came before (little-endian,
 * load_le32): its complement is the register to go on from. */
/* After accel_crc32c_parts: the segments joined onto the state's CRC. */
__kernel void accel_crc32c_stream_combine(__global const uint *parts, uint nparts, ulong seglen, ulong n,
                                          __global uchar *st, ulong st_off)
{
    uint full = x8n(seglen);
    uint c = ~load_le32(st + st_off);
    for (uint g = 0; g < nparts; g++) {
        ulong start = (ulong)g * seglen;
        ulong len = start < n ? min(seglen, n - start) : 0;
        c = gf2_mulmod(c, len == seglen ? full : x8n(len)) ^ parts[g];
    }
    store_le32(st + st_off, ~c);
}

__kernel void accel_crc32c_stream_one(__global const uchar *src, ulong src_off, ulong n, __global uchar *st,
                                      ulong st_off)
{
    __global const uchar *p = src + src_off;
    uint c = ~load_le32(st + st_off);
#ifdef CRC32C_HW
    c = crc32c_hw(c, p, n);
#else
    __local uint t[8][256];
    crc32c_tables(t);
    c = crc32c_sliced(c, p, n, t);
#endif
    store_le32(st + st_off, ~c);
}

/* ---- SHA-256 (FIPS 180-4): the compression function is
 * icd-examples/common/accel_sha256_blocks.c, ahead of this text in the
 * program ---- */

/* The digest of a message of `total` bytes, into r: h holds its whole
 * blocks compressed, part[0..total % 64) the bytes after them. Padding:
 * 0x80, zeros, the bit length big-endian; one or two blocks. */
void sha256_finish(uint *h, const uchar *part, uint fill, ulong total, __global uchar *r)
{
    uchar tail[128];
    for (uint k = 0; k < 128; k++)
        tail[k] = k < fill ? part[k] : 0;
    tail[fill] = 0x80;
    uint blocks = fill < 56 ? 1 : 2;
    ulong bits = total * 8;
    for (int k = 0; k < 8; k++)
        tail[blocks * 64 - 1 - k] = (uchar)(bits >> (8 * k));
    accel_sha256_blocks(h, tail, blocks);
    for (int k = 0; k < 8; k++)
        store_be32(r + 4 * k, h[k]);
}

__kernel void accel_sha256(__global const uchar *src, ulong src_off, ulong n, __global uchar *res, ulong res_off)
{
    __global const uchar *s = src + src_off;
    uint h[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    uchar block[64];
    ulong full = n / 64;
    for (ulong b = 0; b < full; b++) {
        for (int i = 0; i < 64; i++)
            block[i] = s[b * 64 + i];
        accel_sha256_blocks(h, block, 1);
    }
    uint rest = (uint)(n - full * 64);
    for (uint i = 0; i < rest; i++)
        block[i] = s[full * 64 + i];
    sha256_finish(h, block, rest, n, res + res_off);
}

/* sha256.stream (docs/standard-functions.md, "Stream forms"). state, 112
 * bytes: 0: H0..H7 (u32 little-endian, valid once started); 32: u64 bytes
 * absorbed; 40: the partial block (total % 64 bytes valid); 104: started;
 * 108: 0. started becomes 1 with the first block compressed. One
 * work-item; *status 1 for a state no sha256.stream wrote (then nothing is
 * written). */
__kernel void accel_sha256_stream(__global const uchar *src, ulong src_off, ulong n, __global uchar *st,
                                  ulong st_off, __global uchar *res, ulong res_off, uint final,
                                  __global uint *status)
{
    __global const uchar *s = src + src_off;
    __global uchar *t = st + st_off;
    uint started = load_le32(t + 104);
    ulong total = (ulong)load_le32(t + 32) | ((ulong)load_le32(t + 36) << 32);
    uint h[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    *status = 0;
    if (started > 1 || load_le32(t + 108) != 0 || total + n < total || ((total + n) >> 61) != 0) {
        *status = 1;
        return;
    }
    if (!started) {
        uint any = 0;
        for (int i = 0; i < 32; i++)
            any |= t[i];
        if (any || total >= 64) {
            *status = 1;
            return;
        }
    } else {
        for (int i = 0; i < 8; i++)
            h[i] = load_le32(t + 4 * i);
    }
    uchar block[64];
    uint fill = (uint)(total % 64);
    for (uint i = 0; i < fill; i++)
        block[i] = t[40 + i];
    ulong i = 0;
    if (fill) {
        while (fill < 64 && i < n)
            block[fill++] = s[i++];
        if (fill == 64) {
            accel_sha256_blocks(h, block, 1);
            started = 1;
            fill = 0;
        }
    }
    for (; i + 64 <= n; i += 64) {
        for (int k = 0; k < 64; k++)
            block[k] = s[i + k];
        accel_sha256_blocks(h, block, 1);
        started = 1;
    }
    for (; i < n; i++)
        block[fill++] = s[i];
    total += n;
    if (final) {
        sha256_finish(h, block, fill, total, res + res_off);
        for (int k = 0; k < 112; k++)
            t[k] = 0;
        return;
    }
    if (started)
        for (int k = 0; k < 8; k++)
            store_le32(t + 4 * k, h[k]);
    store_le32(t + 32, (uint)total);
    store_le32(t + 36, (uint)(total >> 32));
    for (uint k = 0; k < 64; k++)
        t[40 + k] = k < fill ? block[k] : 0;
    store_le32(t + 104, started);
}

/* ---- zlib (RFC 1950) ---- */

/* Adler-32 sums of p[0, n) started from (a, b) = (0, 0), as (b << 16) | a:
 * a segment's share, combined by the caller (see accel_deflate_finish). */
uint adler32_part(__global const uchar *p, ulong n)
{
    uint a = 0, b = 0;
    while (n > 0) {
        /* 5552 bytes is the most that cannot overflow b before the modulo. */
        ulong chunk = min(n, 5552ul);
        for (ulong i = 0; i < chunk; i++) {
            a += p[i];
            b += a;
        }
        a %= 65521u;
        b %= 65521u;
        p += chunk;
        n -= chunk;
    }
    return (b << 16) | a;
}

/* Adler-32 of a whole buffer (zlib.inflate's check). */
uint adler32(__global const uchar *p, ulong n)
{
    uint part = adler32_part(p, n);
    uint a = ((part & 0xffffu) + 1u) % 65521u;
    uint b = (uint)(((ulong)(part >> 16) + n % 65521u) % 65521u);
    return (b << 16) | a;
}

void put_u64(__global uchar *p, ulong v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uchar)(v >> (8 * i));
}

/* ---- zlib.deflate ----
 *
 * Parallel the way pigz is: the input is cut into segments of
 * DEFLATE_SEGMENT bytes (a multiple of 65535, set by the driver at build
 * time), each compressed on its own by one work-item into a region of dst
 * of its stored size, the size its bytes take as stored blocks of 65535:
 * segment i's region starts at 2 + i * (DEFLATE_SEGMENT + 5 *
 * DEFLATE_SEGMENT / 65535). The regions add up to the documented dst bound,
 * so a segment that would not shrink is written as stored blocks and
 * always fits. Matches may reach 32 KiB back into the previous segment
 * (its bytes are in src, and the decoder has them), so cutting costs
 * little. Every segment but the last ends on a byte boundary with an empty
 * stored block, and only the last sets BFINAL, so accel_deflate_finish
 * only has to move the segments together, behind the zlib header, and
 * append the Adler-32 combined from the segments' sums.
 *
 * Matching is zlib's: a hash of 3 bytes into chains of earlier positions,
 * searched up to a depth and with lazy evaluation that grow with the level
 * (deflate_config). Blocks of up to DEFLATE_SYMBOLS symbols are coded with
 * whichever of dynamic Huffman, fixed Huffman and stored is smallest. */

#define WSIZE 32768u
#define WMASK (WSIZE - 1u)
/* zlib's MAX_DIST: a chain never reaches a slot of prev[] that a newer
 * position has taken over. */
#define MAX_DIST (WSIZE - 262u)
#define HASH_BITS 15
#define HASH_SIZE (1u << HASH_BITS)
#define MIN_MATCH 3u
#define MAX_MATCH 258u
/* zlib's TOO_FAR: a 3-byte match this far back costs more than literals. */
#define TOO_FAR 4096u
#define DEFLATE_SYMBOLS 16383u
#define STORED_MAX 65535u

/* One work-item's workspace in the scratch buffer, in uints: head[], then
 * prev[] (ushort), then the symbol buffer. The driver sizes the scratch
 * buffer with DEFLATE_SLOT_WORDS, which it defines to the same sum. */
#define SLOT_HEAD 0u
#define SLOT_PREV HASH_SIZE
#define SLOT_SYMS (HASH_SIZE + WSIZE / 2u)
#if DEFLATE_SLOT_WORDS < HASH_SIZE + WSIZE / 2 + DEFLATE_SYMBOLS
#error "DEFLATE_SLOT_WORDS is too small"
#endif
/* Per segment, at the start of the scratch buffer: compressed size,
 * Adler-32 sums, segment length. */
#define SEG_INFO_WORDS 4u

/* zlib's configuration table: good_length (search less once a match this
 * long is in hand), max_lazy (no lazy search past this length; at levels
 * 1-3, no insertion of a match's positions past it), nice_length (stop
 * searching at this length), max_chain. */
typedef struct deflate_config {
    uint good, lazy, nice, chain;
} deflate_config_t;

__constant deflate_config_t deflate_configs[10] = {
    {0, 0, 0, 0},        {4, 4, 8, 4},         {4, 5, 16, 8},      {4, 6, 32, 32},     {4, 4, 16, 16},
    {8, 16, 32, 32},     {8, 16, 128, 128},    {8, 32, 128, 256},  {32, 128, 258, 1024}, {32, 258, 258, 4096},
};

__constant ushort len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                  31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
__constant uchar len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
__constant ushort dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                   193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
__constant uchar dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
__constant uchar clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

/* Length code index (0..28) of a match length minus 3: lengths come in
 * groups of four codes per extra bit, so the index follows from the
 * highest set bit. */
uint len_code(uint lm3)
{
    if (lm3 < 8u)
        return lm3;
    if (lm3 == 255u)
        return 28u;
    uint top = 31u - clz(lm3);
    return 4u * (top - 1u) + ((lm3 >> (top - 2u)) & 3u);
}

/* Distance code (0..29) of a distance minus 1: two codes per extra bit. */
uint dist_code(uint dm1)
{
    if (dm1 < 4u)
        return dm1;
    uint top = 31u - clz(dm1);
    return 2u * top + ((dm1 >> (top - 1u)) & 1u);
}

/* The bit writer: LSB first into a region of dst that it never passes.
 * Once a write would pass cap, `over` is set and nothing more is written
 * (the caller rewrites the segment stored). */
typedef struct bitw {
    __global uchar *p;
    uint pos, cap;
    ulong buf;
    uint n;
    int over;
} bitw_t;

void bw_flush32(bitw_t *w)
{
    if (w->cap - w->pos < 4u) {
        w->over = 1;
        w->pos = w->cap;
    } else {
        vstore4(as_uchar4((uint)w->buf), 0, w->p + w->pos);
        w->pos += 4u;
    }
    w->buf >>= 32;
    w->n -= 32u;
}

/* n <= 32 bits */
void bw_put(bitw_t *w, uint v, uint n)
{
    w->buf |= (ulong)v << w->n;
    w->n += n;
    if (w->n >= 32u)
        bw_flush32(w);
}

/* Pad to a byte boundary and write out every whole byte. */
void bw_align(bitw_t *w)
{
    while (w->n > 0u) {
        if (w->pos >= w->cap) {
            w->over = 1;
        } else {
            w->p[w->pos++] = (uchar)w->buf;
        }
        w->buf >>= 8;
        w->n = w->n > 8u ? w->n - 8u : 0u;
    }
    w->buf = 0;
}

void bw_bytes(bitw_t *w, __global const uchar *s, uint len)
{
    if (w->cap - w->pos < len) {
        w->over = 1;
        w->pos = w->cap;
        return;
    }
    for (uint i = 0; i < len; i++)
        w->p[w->pos + i] = s[i];
    w->pos += len;
}

/* Code lengths of a Huffman code for freq[0, n), no longer than maxbits.
 * At least two frequencies must be nonzero (the callers see to it), so
 * the code is complete, as zlib's inflate wants. Lengths are those of a
 * Huffman tree (built with two queues over the symbols sorted by
 * frequency); when the tree is deeper than maxbits, the deepest codes are
 * shortened to maxbits and the Kraft sum is restored by lengthening
 * shorter ones, one unit at a time. */
void huff_lengths(const uint *freq, uint n, uint maxbits, uchar *len)
{
    ushort sym[286];
    uint w[2 * 286];
    ushort parent[2 * 286];
    uchar depth[2 * 286];
    uint m = 0;
    for (uint i = 0; i < n; i++) {
        len[i] = 0;
        if (freq[i] == 0u)
            continue;
        /* insertion by (frequency, symbol) */
        uint j = m++;
        while (j > 0 && freq[sym[j - 1]] > freq[i]) {
            sym[j] = sym[j - 1];
            j--;
        }
        sym[j] = (ushort)i;
    }
    for (uint i = 0; i < m; i++)
        w[i] = freq[sym[i]];
    /* Leaves are 0..m-1 in increasing weight; internal nodes m..2m-2 are
     * made in increasing weight too, so the two smallest are always at
     * the front of one queue or the other. */
    uint leaf = 0, node = m;
    for (uint k = m; k < 2 * m - 1; k++) {
        uint pick[2];
        for (int t = 0; t < 2; t++) {
            if (leaf < m && (node >= k || w[leaf] <= w[node]))
                pick[t] = leaf++;
            else
                pick[t] = node++;
        }
        w[k] = w[pick[0]] + w[pick[1]];
        parent[pick[0]] = (ushort)k;
        parent[pick[1]] = (ushort)k;
    }
    uint bl_count[16];
    for (uint b = 0; b < 16; b++)
        bl_count[b] = 0;
    depth[2 * m - 2] = 0;
    for (int k = (int)(2 * m) - 3; k >= 0; k--) {
        uint d = depth[parent[k]] + 1u;
        depth[k] = (uchar)min(d, 255u);
        if ((uint)k < m)
            bl_count[min(d, maxbits)]++;
    }
    /* Kraft sum in units of 2^-maxbits; too many only if clamped. */
    uint total = 0;
    for (uint b = 1; b <= maxbits; b++)
        total += bl_count[b] << (maxbits - b);
    while (total > (1u << maxbits)) {
        /* Drop one code of maxbits (one unit) and split one shorter code
         * in two (no change): one unit less each round. */
        bl_count[maxbits]--;
        for (uint b = maxbits - 1u; b > 0; b--) {
            if (bl_count[b]) {
                bl_count[b]--;
                bl_count[b + 1u] += 2u;
                break;
            }
        }
        total--;
    }
    /* The rarest symbols get the longest codes. */
    uint s = 0;
    for (uint b = maxbits; b > 0; b--)
        for (uint c = 0; c < bl_count[b]; c++)
            len[sym[s++]] = (uchar)b;
}

/* Canonical codes for the lengths, bit-reversed for the LSB-first writer. */
void huff_codes(const uchar *len, uint n, ushort *code)
{
    ushort count[16], next[16];
    for (int b = 0; b < 16; b++)
        count[b] = 0;
    for (uint i = 0; i < n; i++)
        count[len[i]]++;
    count[0] = 0;
    ushort c = 0;
    for (int b = 1; b < 16; b++) {
        c = (ushort)((c + count[b - 1]) << 1);
        next[b] = c;
    }
    for (uint i = 0; i < n; i++) {
        uint l = len[i];
        if (l == 0)
            continue;
        uint v = next[l]++;
        uint r = 0;
        for (uint k = 0; k < l; k++) {
            r = (r << 1) | (v & 1u);
            v >>= 1;
        }
        code[i] = (ushort)r;
    }
}

/* A tree with fewer than two used symbols gets dummy ones (zlib does the
 * same), so every code is complete. */
void two_symbols(uint *freq, uint n)
{
    uint used = 0;
    for (uint i = 0; i < n; i++)
        used += freq[i] != 0u;
    for (uint i = 0; i < n && used < 2u; i++)
        if (freq[i] == 0u) {
            freq[i] = 1;
            used++;
        }
}

typedef struct block {
    uint lfreq[286];
    uint dfreq[30];
    uint nsym;
} block_t;

/* Write the block held in syms[0, b->nsym) (covering raw[0, raw_len)) as
 * the smallest of dynamic Huffman, fixed Huffman and stored. */
void flush_block(bitw_t *w, block_t *b, __global const uint *syms, __global const uchar *raw, uint raw_len,
                 uint final)
{
    /* 288: fixed Huffman's canonical codes count codes 286 and 287 */
    uchar llen[288], dlen[30], cllen[19];
    ushort lcode[288], dcode[30], clcode[19];
    uchar rle[316], rle_extra[316];
    uint clfreq[19];

    b->lfreq[256] = 1;
    ulong extra = 0;
    for (uint i = 0; i < 29; i++)
        extra += (ulong)b->lfreq[257 + i] * len_extra[i];
    for (uint i = 0; i < 30; i++)
        extra += (ulong)b->dfreq[i] * dist_extra[i];

    /* fixed Huffman's size, before the dummy symbols */
    ulong fixed_bits = 3 + extra;
    for (uint i = 0; i < 286; i++)
        fixed_bits += (ulong)b->lfreq[i] * (i < 144 ? 8u : i < 256 ? 9u : i < 280 ? 7u : 8u);
    for (uint i = 0; i < 30; i++)
        fixed_bits += (ulong)b->dfreq[i] * 5u;

    two_symbols(b->lfreq, 286);
    two_symbols(b->dfreq, 30);
    huff_lengths(b->lfreq, 286, 15, llen);
    huff_lengths(b->dfreq, 30, 15, dlen);
    uint hlit = 286, hdist = 30;
    while (hlit > 257 && llen[hlit - 1] == 0)
        hlit--;
    while (hdist > 1 && dlen[hdist - 1] == 0)
        hdist--;

    /* Run-length code the lengths (RFC 1951 3.2.7); runs may cross from
     * the literal/length lengths into the distance lengths. */
    uchar all[316];
    uint total = hlit + hdist, nrle = 0;
    for (uint i = 0; i < hlit; i++)
        all[i] = llen[i];
    for (uint i = 0; i < hdist; i++)
        all[hlit + i] = dlen[i];
    for (uint i = 0; i < 19; i++)
        clfreq[i] = 0;
    for (uint i = 0; i < total;) {
        uint v = all[i], run = 1;
        while (i + run < total && all[i + run] == v)
            run++;
        i += run;
        if (v == 0) {
            while (run >= 11) {
                uint k = min(run, 138u);
                rle[nrle] = 18;
                rle_extra[nrle++] = (uchar)(k - 11);
                run -= k;
            }
            if (run >= 3) {
                rle[nrle] = 17;
                rle_extra[nrle++] = (uchar)(run - 3);
                run = 0;
            }
        } else {
            rle[nrle] = (uchar)v;
            rle_extra[nrle++] = 0;
            run--;
            while (run >= 3) {
                uint k = min(run, 6u);
                rle[nrle] = 16;
                rle_extra[nrle++] = (uchar)(k - 3);
                run -= k;
            }
        }
        while (run > 0) {
            rle[nrle] = (uchar)v;
            rle_extra[nrle++] = 0;
            run--;
        }
    }
    for (uint i = 0; i < nrle; i++)
        clfreq[rle[i]]++;
    two_symbols(clfreq, 19);
    huff_lengths(clfreq, 19, 7, cllen);
    uint hclen = 19;
    while (hclen > 4 && cllen[clen_order[hclen - 1]] == 0)
        hclen--;

    ulong dyn_bits = 3 + 14 + 3 * hclen + extra;
    for (uint i = 0; i < 19; i++)
        dyn_bits += (ulong)clfreq[i] * cllen[i];
    dyn_bits += (ulong)clfreq[16] * 2 + (ulong)clfreq[17] * 3 + (ulong)clfreq[18] * 7;
    for (uint i = 0; i < 286; i++)
        dyn_bits += (ulong)b->lfreq[i] * llen[i];
    for (uint i = 0; i < 30; i++)
        dyn_bits += (ulong)b->dfreq[i] * dlen[i];
    uint chunks = raw_len == 0 ? 1 : (raw_len + STORED_MAX - 1) / STORED_MAX;
    ulong stored_bits = (ulong)raw_len * 8 + (ulong)chunks * 40 + 7;

    if (stored_bits < dyn_bits && stored_bits < fixed_bits) {
        for (uint c = 0; c < chunks; c++) {
            uint len = min(raw_len - c * STORED_MAX, STORED_MAX);
            bw_put(w, (c == chunks - 1 ? final : 0u), 3);
            bw_align(w);
            bw_put(w, len | ((~len & 0xffffu) << 16), 32);
            bw_bytes(w, raw + c * STORED_MAX, len);
        }
        return;
    }
    if (fixed_bits <= dyn_bits) {
        for (uint i = 0; i < 288; i++)
            llen[i] = (uchar)(i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8);
        for (uint i = 0; i < 30; i++)
            dlen[i] = 5;
        bw_put(w, final | (1u << 1), 3);
    } else {
        huff_codes(cllen, 19, clcode);
        bw_put(w, final | (2u << 1), 3);
        bw_put(w, (hlit - 257) | ((hdist - 1) << 5) | ((hclen - 4) << 10), 14);
        for (uint i = 0; i < hclen; i++)
            bw_put(w, cllen[clen_order[i]], 3);
        for (uint i = 0; i < nrle; i++) {
            uint s = rle[i];
            bw_put(w, clcode[s], cllen[s]);
            if (s >= 16)
                bw_put(w, rle_extra[i], s == 16 ? 2u : s == 17 ? 3u : 7u);
        }
    }
    huff_codes(llen, fixed_bits <= dyn_bits ? 288u : 286u, lcode);
    huff_codes(dlen, 30, dcode);
    for (uint i = 0; i < b->nsym && !w->over; i++) {
        uint v = syms[i];
        if (v < 256u) {
            bw_put(w, lcode[v], llen[v]);
            continue;
        }
        uint lm3 = v & 255u, dist = v >> 8;
        uint lc = len_code(lm3);
        bw_put(w, lcode[257 + lc] | ((lm3 + 3u - len_base[lc]) << llen[257 + lc]), llen[257 + lc] + len_extra[lc]);
        uint dc = dist_code(dist - 1u);
        bw_put(w, dcode[dc] | ((dist - dist_base[dc]) << dlen[dc]), dlen[dc] + dist_extra[dc]);
    }
    bw_put(w, lcode[256], llen[256]);
}

/* Hash of the 3 bytes at p (multiplicative: spreads the 24 bits well). */
uint hash3(__global const uchar *p)
{
    uint v = ((uint)p[0] << 16) | ((uint)p[1] << 8) | p[2];
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* prev[] holds the distance from a position to the previous one on its
 * chain; NO_PREV, further than any window, ends the chain. */
#define NO_PREV 0xffffu

/* Insert position pos of the window; return the previous head of its
 * chain (position + 1, 0 for none). */
uint insert(__global const uchar *win, __global uint *head, __global ushort *prev, uint pos)
{
    uint h = hash3(win + pos);
    uint old = head[h];
    uint delta = pos + 1u - old;
    prev[pos & WMASK] = (ushort)(old != 0u && delta <= MAX_DIST ? delta : NO_PREV);
    head[h] = pos + 1u;
    return old;
}

/* Length of the common prefix of win[a..] and win[b..], at most limit. */
uint match_len(__global const uchar *win, uint a, uint b, uint limit)
{
    uint len = 0;
#ifdef __ENDIAN_LITTLE__
    while (len + 8u <= limit) {
        ulong x = as_ulong(vload8(0, win + a + len)) ^ as_ulong(vload8(0, win + b + len));
        if (x != 0)
            return len + (uint)(popcount((x & (~x + 1ul)) - 1ul) >> 3);
        len += 8u;
    }
#endif
    while (len < limit && win[a + len] == win[b + len])
        len++;
    return len;
}

ushort load2(__global const uchar *p)
{
    return (ushort)(p[0] | (p[1] << 8));
}

/* The longest match for pos longer than `best` (>= 2), following the
 * chain from cand (position + 1, not 0); 0 if none. *dist gets its
 * distance. A candidate is compared in full only when its two bytes at
 * the end of the best match so far agree (they differ most often) and
 * its first two do. Positions are signed so that following NO_PREV lands
 * below `lowest` whatever pos is. */
uint longest_match(__global const uchar *win, __global const ushort *prev, uint pos, uint cand, uint best,
                   uint limit, uint chain, uint nice, uint *dist)
{
    uint found = 0;
    if (best >= limit)
        return 0;
    nice = min(nice, limit);
    int q = (int)cand - 1;
    int lowest = (int)pos - (int)MAX_DIST;
    __global const uchar *scan = win + pos;
    ushort start2 = load2(scan), end2 = load2(scan + best - 1);
    while (q >= lowest) {
        __global const uchar *m = win + q;
        if (load2(m + best - 1) == end2 && load2(m) == start2) {
            uint len = match_len(win, (uint)q, pos, limit);
            if (len > best) {
                best = len;
                found = len;
                *dist = pos - (uint)q;
                if (len >= nice)
                    break;
                end2 = load2(scan + best - 1);
            }
        }
        if (--chain == 0u)
            break;
        q -= prev[q & WMASK];
    }
    return found;
}

void record_lit(block_t *b, __global uint *syms, uint c)
{
    syms[b->nsym++] = c;
    b->lfreq[c]++;
}

void record_match(block_t *b, __global uint *syms, uint len, uint dist)
{
    syms[b->nsym++] = (dist << 8) | (len - 3u);
    b->lfreq[257 + len_code(len - 3u)]++;
    b->dfreq[dist_code(dist - 1u)]++;
}

void block_reset(block_t *b)
{
    for (uint i = 0; i < 286; i++)
        b->lfreq[i] = 0;
    for (uint i = 0; i < 30; i++)
        b->dfreq[i] = 0;
    b->nsym = 0;
}

/* Compress win[s0, s1) into w; win[0, s0) is the dictionary. The last
 * block has BFINAL if `last`; otherwise the segment ends with an empty
 * stored block, on a byte boundary. */
void deflate_segment(__global const uchar *win, uint s0, uint s1, __global uint *head, __global ushort *prev,
                     __global uint *syms, deflate_config_t cfg, int lazy, uint last, bitw_t *w)
{
    block_t b;
    block_reset(&b);
    for (uint i = 0; i < HASH_SIZE; i++)
        head[i] = 0;
    for (uint p = 0; p < s0 && p + MIN_MATCH <= s1; p++)
        insert(win, head, prev, p);

    uint pos = s0, block_start = s0;
    uint prev_len = MIN_MATCH - 1u, prev_dist = 0;
    int pending = 0; /* lazy: the literal at pos - 1 is not yet recorded */
    while (pos < s1) {
        uint limit = min(MAX_MATCH, s1 - pos);
        uint cand = pos + MIN_MATCH <= s1 ? insert(win, head, prev, pos) : 0u;
        uint dist = 0, len = 0;
        if (!lazy) {
            if (cand != 0u)
                len = longest_match(win, prev, pos, cand, MIN_MATCH - 1u, limit, cfg.chain, cfg.nice, &dist);
            if (len >= MIN_MATCH) {
                record_match(&b, syms, len, dist);
                if (len <= cfg.lazy)
                    for (uint p = pos + 1; p < pos + len && p + MIN_MATCH <= s1; p++)
                        insert(win, head, prev, p);
                pos += len;
            } else {
                record_lit(&b, syms, win[pos]);
                pos++;
            }
        } else {
            if (cand != 0u && prev_len < cfg.lazy)
                len = longest_match(win, prev, pos, cand, prev_len, limit,
                                    prev_len >= cfg.good ? cfg.chain >> 2 : cfg.chain, cfg.nice, &dist);
            if (len == MIN_MATCH && dist > TOO_FAR)
                len = 0;
            if (prev_len >= MIN_MATCH && len <= prev_len) {
                /* the match found at pos - 1 is at least as good */
                record_match(&b, syms, prev_len, prev_dist);
                uint end = pos - 1u + prev_len;
                for (uint p = pos + 1; p < end && p + MIN_MATCH <= s1; p++)
                    insert(win, head, prev, p);
                pos = end;
                pending = 0;
                prev_len = MIN_MATCH - 1u;
            } else {
                if (pending)
                    record_lit(&b, syms, win[pos - 1]);
                pending = 1;
                prev_len = len >= MIN_MATCH ? len : MIN_MATCH - 1u;
                prev_dist = dist;
                pos++;
                if (b.nsym >= DEFLATE_SYMBOLS) {
                    /* full; the pending literal at pos - 1 goes to the next block */
                    flush_block(w, &b, syms, win + block_start, pos - 1u - block_start, 0u);
                    block_reset(&b);
                    block_start = pos - 1u;
                    if (w->over)
                        return;
                }
                continue;
            }
        }
        if (b.nsym >= DEFLATE_SYMBOLS) {
            flush_block(w, &b, syms, win + block_start, pos - block_start, 0u);
            block_reset(&b);
            block_start = pos;
            if (w->over)
                return;
        }
    }
    if (pending)
        record_lit(&b, syms, win[pos - 1]);
    flush_block(w, &b, syms, win + block_start, s1 - block_start, last);
    if (!last) {
        /* an empty stored block: the next segment starts on a byte */
        bw_put(w, 0, 3);
        bw_align(w);
        bw_put(w, 0xffff0000u, 32);
    }
    bw_align(w);
}

/* The segment as stored blocks; fills its region exactly. */
void stored_segment(__global uchar *o, __global const uchar *s, uint len, uint last)
{
    uint chunks = len == 0 ? 1 : (len + STORED_MAX - 1) / STORED_MAX;
    for (uint c = 0; c < chunks; c++) {
        uint l = min(len - c * STORED_MAX, STORED_MAX);
        o[0] = (uchar)(last && c == chunks - 1 ? 1 : 0); /* BFINAL, BTYPE 00; the rest of the byte is padding */
        o[1] = (uchar)l;
        o[2] = (uchar)(l >> 8);
        o[3] = (uchar)~l;
        o[4] = (uchar)(~l >> 8);
        for (uint k = 0; k < l; k++)
            o[5 + k] = s[c * STORED_MAX + k];
        o += 5 + l;
    }
}

ulong deflate_region(uint i)
{
    return 2ul + (ulong)i * (DEFLATE_SEGMENT + 5ul * (DEFLATE_SEGMENT / STORED_MAX));
}

/* One segment, win[s0, s0 + len) with win[0, s0) as its dictionary, into
 * the cap bytes at o, with the workspace ws: compressed (the last block
 * with BFINAL if `last`, else followed by an empty stored block), or as
 * stored blocks where that does not fit (followed by an empty stored block
 * if `sync`: the last segment of a stream piece that is not final). info
 * gets the bytes written, the Adler-32 sums of the segment and its
 * length. */
void deflate_one(__global const uchar *win, uint s0, uint len, __global uchar *o, uint cap, __global uint *ws,
                 int level, uint last, uint sync, __global uint *info)
{
    __global uint *head = ws + SLOT_HEAD;
    __global ushort *prev = (__global ushort *)(ws + SLOT_PREV);
    __global uint *syms = ws + SLOT_SYMS;
    bitw_t w = {o, 0, cap, 0, 0, 0};
    if (level > 0)
        deflate_segment(win, s0, s0 + len, head, prev, syms, deflate_configs[level], level >= 4, last, &w);
    if (level == 0 || w.over) {
        stored_segment(o, win + s0, len, last);
        w.pos = len + 5u * (len == 0 ? 1u : (len + STORED_MAX - 1) / STORED_MAX);
        if (sync) {
            o[w.pos] = 0;
            o[w.pos + 1] = 0;
            o[w.pos + 2] = 0;
            o[w.pos + 3] = 0xff;
            o[w.pos + 4] = 0xff;
            w.pos += 5u;
        }
    }
    info[0] = w.pos;
    info[1] = adler32_part(win + s0, len);
    info[2] = len;
}

/* Work-item k compresses segments k, k + global size, ... The driver has
 * checked that dst holds n + 5 * ceil(n / 65535) + 6 bytes (11 for n = 0),
 * the regions and the trailer; a larger dst gives the last segment more
 * room. level is 0..9. */
__kernel void accel_deflate_segments(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst,
                                     ulong dst_off, ulong dst_size, __global uint *scratch, uint nseg, int level)
{
    uint slot = get_global_id(0), slots = get_global_size(0);
    __global uint *ws = scratch + SEG_INFO_WORDS * nseg + (ulong)slot * DEFLATE_SLOT_WORDS;
    for (uint i = slot; i < nseg; i += slots) {
        ulong start = (ulong)i * DEFLATE_SEGMENT;
        uint len = (uint)min(n - start, (ulong)DEFLATE_SEGMENT);
        uint last = i == nseg - 1u;
        ulong region = deflate_region(i);
        uint cap = last ? (uint)min(dst_size - 4 - region, (ulong)UINT_MAX)
                        : DEFLATE_SEGMENT + 5u * (DEFLATE_SEGMENT / STORED_MAX);
        ulong wstart = start > WSIZE ? start - WSIZE : 0;
        deflate_one(src + src_off + wstart, (uint)(start - wstart), len, dst + dst_off + region, cap, ws, level, last,
                    0u, scratch + SEG_INFO_WORDS * i);
    }
}

/* One work-item: the zlib header, the segments moved together in order
 * (each lands at or before its region, so a forward copy is safe), the
 * Adler-32 trailer and out_size. */
/* zlib's header for a deflate at this level: CM 8, CINFO 7; FLEVEL as
 * zlib sets it, FCHECK making the header a multiple of 31. */
void zlib_header(__global uchar *o, int level)
{
    o[0] = 0x78;
    o[1] = level < 2 ? 0x01 : level < 6 ? 0x5e : level == 6 ? 0x9c : 0xda;
}

/* The segments' compressed pieces moved from their regions to follow each
 * other from o + pos, and the Adler-32 of their input continued from
 * *adler (1 for an empty start); the end of the last piece. */
ulong join_segments(__global uchar *o, ulong pos, __global const uint *scratch, uint nseg, uint *adler)
{
    uint a = *adler & 0xffffu, b = *adler >> 16;
    for (uint i = 0; i < nseg; i++) {
        __global const uint *info = scratch + SEG_INFO_WORDS * i;
        uint clen = info[0], part = info[1], len = info[2];
        ulong from = deflate_region(i);
        if (from != pos)
            for (uint k = 0; k < clen; k++)
                o[pos + k] = o[from + k];
        pos += clen;
        /* Adler-32 of x followed by y: a = a_x + a_y, b = b_x + len_y * a_x + b_y (mod 65521) */
        b = (uint)(((ulong)b + (ulong)len * a + (part >> 16)) % 65521u);
        a = (a + (part & 0xffffu)) % 65521u;
    }
    *adler = (b << 16) | a;
    return pos;
}

__kernel void accel_deflate_finish(__global uchar *dst, ulong dst_off, __global const uint *scratch, uint nseg,
                                   int level, __global uchar *out_size, ulong out_size_off)
{
    __global uchar *o = dst + dst_off;
    zlib_header(o, level);
    uint adler = 1;
    ulong pos = join_segments(o, 2, scratch, nseg, &adler);
    store_be32(o + pos, adler);
    put_u64(out_size + out_size_off, pos + 4);
}

/* ---- zlib.deflate.stream (docs/standard-functions.md, "Stream forms") ----
 *
 * zlib.deflate's segments over one chunk, the first primed with the
 * window the state holds: the window and the first segment are copied
 * together into a staging area of the scratch buffer (after the
 * workspaces), so that its matches reach back into earlier chunks as the
 * other segments' reach into the segment before. Only the last segment
 * of the final piece sets BFINAL; the last segment of any other piece
 * ends with an empty stored block (a sync flush). accel_deflate_stream_finish
 * then writes the zlib header (first piece only), moves the segments
 * together, joins their Adler-32 sums onto the state's and either appends
 * the trailer and clears the state (final) or brings the state up to
 * date: Adler-32, started, input so far, window. The state is checked by
 * both kernels before anything is written: a state no
 * zlib.deflate.stream wrote leaves dst and the state untouched and sets
 * the status word. */

#define DS_ADLER 0
#define DS_STARTED 4
#define DS_TOTAL 8
#define DS_HELD 16
#define DS_WINDOW 32
#define DS_SIZE 32800u

ulong load_le64(__global const uchar *p)
{
    return (ulong)load_le32(p) | ((ulong)load_le32(p + 4) << 32);
}

/* Whether st is a zlib.deflate.stream state: zeros, or one these functions
 * wrote (the checks of icd-examples/common/accel_deflate_stream.c). */
int deflate_state_ok(__global const uchar *st)
{
    uint adler = load_le32(st + DS_ADLER), started = load_le32(st + DS_STARTED), held = load_le32(st + DS_HELD);
    ulong total = load_le64(st + DS_TOTAL);
    for (int i = 20; i < 32; i++)
        if (st[i] != 0)
            return 0;
    if (started > 1u || held > WSIZE || (ulong)held != min(total, (ulong)WSIZE))
        return 0;
    if (started && ((adler & 0xffffu) >= 65521u || (adler >> 16) >= 65521u))
        return 0;
    return started || (adler == 0u && total == 0);
}

/* Work-item k compresses segments k, k + global size, ... into the
 * regions of accel_deflate_segments. The driver has checked that dst holds
 * n + 5 * ceil(n / 65535) + 6 bytes (11 for n = 0), one more if the piece
 * is not final (its empty stored block), and clipped dst_size to the
 * documented bound. level is 0..9. */
__kernel void accel_deflate_stream_segments(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst,
                                            ulong dst_off, ulong dst_size, __global uint *scratch, uint nseg,
                                            int level, __global const uchar *st, ulong st_off, uint final)
{
    st += st_off;
    if (!deflate_state_ok(st))
        return;
    uint slot = get_global_id(0), slots = get_global_size(0);
    __global uint *ws = scratch + SEG_INFO_WORDS * nseg + (ulong)slot * DEFLATE_SLOT_WORDS;
    __global uchar *stage = (__global uchar *)(scratch + SEG_INFO_WORDS * nseg + (ulong)slots * DEFLATE_SLOT_WORDS);
    uint held = load_le32(st + DS_HELD);
    for (uint i = slot; i < nseg; i += slots) {
        ulong start = (ulong)i * DEFLATE_SEGMENT;
        uint len = (uint)min(n - start, (ulong)DEFLATE_SEGMENT);
        uint end = i == nseg - 1u;
        ulong region = deflate_region(i);
        uint cap = end ? (uint)min(dst_size - (final ? 4u : 0u) - region, (ulong)UINT_MAX)
                       : DEFLATE_SEGMENT + 5u * (DEFLATE_SEGMENT / STORED_MAX);
        __global const uchar *win;
        uint s0;
        if (i == 0 && held > 0) {
            for (uint k = 0; k < held; k++)
                stage[k] = st[DS_WINDOW + k];
            for (uint k = 0; k < len; k++)
                stage[held + k] = src[src_off + k];
            win = stage;
            s0 = held;
        } else {
            ulong wstart = start > WSIZE ? start - WSIZE : 0;
            win = src + src_off + wstart;
            s0 = (uint)(start - wstart);
        }
        deflate_one(win, s0, len, dst + dst_off + region, cap, ws, level, end && final, end && !final,
                    scratch + SEG_INFO_WORDS * i);
    }
}

/* One work-item, after accel_deflate_stream_segments. status[0]: 0, or 1
 * for a state no zlib.deflate.stream wrote (nothing written). */
__kernel void accel_deflate_stream_finish(__global uchar *dst, ulong dst_off, __global const uint *scratch,
                                          uint nseg, int level, __global uchar *out_size, ulong out_size_off,
                                          __global uchar *st, ulong st_off, __global const uchar *src,
                                          ulong src_off, ulong n, uint final, __global uint *status)
{
    st += st_off;
    src += src_off;
    if (!deflate_state_ok(st)) {
        status[0] = 1;
        return;
    }
    __global uchar *o = dst + dst_off;
    uint started = load_le32(st + DS_STARTED);
    uint adler = started ? load_le32(st + DS_ADLER) : 1u;
    if (!started)
        zlib_header(o, level);
    ulong pos = join_segments(o, started ? 0 : 2, scratch, nseg, &adler);
    if (final) {
        store_be32(o + pos, adler);
        put_u64(out_size + out_size_off, pos + 4);
        for (uint k = 0; k < DS_SIZE; k++)
            st[k] = 0;
        status[0] = 0;
        return;
    }
    /* The window: the last WSIZE bytes of what it held and src. */
    uint held = load_le32(st + DS_HELD);
    __global uchar *w = st + DS_WINDOW;
    if (n >= WSIZE) {
        for (uint k = 0; k < WSIZE; k++)
            w[k] = src[n - WSIZE + k];
        held = WSIZE;
    } else if (n > 0) {
        uint m = (uint)n;
        uint keep = held + m > WSIZE ? WSIZE - m : held;
        for (uint k = 0; k < keep; k++) /* to a lower address: forward is safe */
            w[k] = w[held - keep + k];
        for (uint k = 0; k < m; k++)
            w[keep + k] = src[k];
        held = keep + m;
    }
    ulong total = load_le64(st + DS_TOTAL) + n;
    store_le32(st + DS_ADLER, adler);
    store_le32(st + DS_STARTED, 1u);
    put_u64(st + DS_TOTAL, total);
    store_le32(st + DS_HELD, held);
    put_u64(out_size + out_size_off, pos);
    status[0] = 0;
}

/* ---- zlib.inflate: a complete RFC 1951 decoder, one work-item ---- */

typedef struct bits {
    __global const uchar *in;
    ulong pos, end;
    ulong buf;
    uint count;
    int err;
} bits_t;

uint getbits(bits_t *b, uint n)
{
    while (b->count < n) {
        if (b->pos >= b->end) {
            b->err = 1;
            return 0;
        }
        b->buf |= (ulong)b->in[b->pos++] << b->count;
        b->count += 8;
    }
    uint v = (uint)(b->buf & ((1ul << n) - 1));
    b->buf >>= n;
    b->count -= n;
    return v;
}

/* A canonical Huffman code: how many codes of each length, and the symbols
 * ordered by code. */
/* Codes of up to FAST_BITS bits decode with one lookup in fast[]: the
 * next FAST_BITS input bits index it, an entry is symbol << 4 | length
 * (length 0: a longer code, decoded bit by bit). Most literal/length and
 * distance codes are that short. */
#define FAST_BITS 9u

typedef struct huff {
    ushort count[16];
    ushort symbol[288];
    ushort fast[1u << FAST_BITS];
} huff_t;

/* 0 on success, -1 if the lengths over-subscribe the code space.
 * Incomplete codes are accepted; decoding an unused code fails. */
int huff_build(huff_t *h, const ushort *lengths, int n)
{
    ushort offs[16];
    for (int i = 0; i < 16; i++)
        h->count[i] = 0;
    for (uint i = 0; i < (1u << FAST_BITS); i++)
        h->fast[i] = 0;
    for (int i = 0; i < n; i++)
        h->count[lengths[i]]++;
    if (h->count[0] == n)
        return 0;
    int left = 1;
    for (int len = 1; len < 16; len++) {
        left = (left << 1) - h->count[len];
        if (left < 0)
            return -1;
    }
    offs[1] = 0;
    for (int len = 1; len < 15; len++)
        offs[len + 1] = offs[len] + h->count[len];
    for (int i = 0; i < n; i++)
        if (lengths[i] != 0)
            h->symbol[offs[lengths[i]]++] = (ushort)i;
    /* Canonical codes in symbol[] order; a short one fills every fast[]
     * entry whose low bits are its code (bit-reversed: the stream sends
     * codes from their top bit). */
    uint code = 0, idx = 0;
    for (uint len = 1; len <= FAST_BITS; len++) {
        for (uint k = 0; k < h->count[len]; k++, idx++, code++) {
            uint r = 0, v = code;
            for (uint j = 0; j < len; j++) {
                r = (r << 1) | (v & 1u);
                v >>= 1;
            }
            for (uint e = r; e < (1u << FAST_BITS); e += 1u << len)
                h->fast[e] = (ushort)((h->symbol[idx] << 4) | len);
        }
        code <<= 1;
    }
    return 0;
}

/* Read one symbol: a short code with one lookup, a longer one (or one
 * at the very end of the input) bit by bit: codes of each length are
 * consecutive integers, the first of length L following the last of
 * length L-1 shifted left once. */
int huff_decode(bits_t *b, const huff_t *h)
{
    while (b->count < FAST_BITS && b->pos < b->end) {
        b->buf |= (ulong)b->in[b->pos++] << b->count;
        b->count += 8;
    }
    uint e = h->fast[b->buf & ((1u << FAST_BITS) - 1u)];
    uint elen = e & 15u;
    if (elen != 0u && elen <= b->count) {
        b->buf >>= elen;
        b->count -= elen;
        return (int)(e >> 4);
    }
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        code |= (int)getbits(b, 1);
        if (b->err)
            return -1;
        int count = h->count[len];
        if (code - first < count)
            return h->symbol[index + code - first];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
    }
    return -1;
}


typedef struct out {
    __global uchar *p;
    ulong pos, cap;
} out_t;

/* Decode one Huffman-coded block's symbols until end-of-block.
 * Returns INFLATE_OK or an error. */
uint inflate_codes(bits_t *b, out_t *o, const huff_t *lit, const huff_t *dist)
{
    for (;;) {
        int sym = huff_decode(b, lit);
        if (sym < 0)
            return INFLATE_CORRUPT;
        if (sym < 256) {
            if (o->pos >= o->cap)
                return INFLATE_DST_TOO_SMALL;
            o->p[o->pos++] = (uchar)sym;
            continue;
        }
        if (sym == 256)
            return INFLATE_OK;
        sym -= 257;
        if (sym >= 29)
            return INFLATE_CORRUPT;
        uint len = len_base[sym] + getbits(b, len_extra[sym]);
        int ds = huff_decode(b, dist);
        if (ds < 0 || ds >= 30)
            return INFLATE_CORRUPT;
        ulong d = dist_base[ds] + getbits(b, dist_extra[ds]);
        if (b->err || d > o->pos)
            return INFLATE_CORRUPT;
        if (o->cap - o->pos < len)
            return INFLATE_DST_TOO_SMALL;
        __global uchar *w = o->p + o->pos;
        for (uint i = 0; i < len; i++)
            w[i] = w[(long)i - (long)d];
        o->pos += len;
    }
}

uint inflate_stored(bits_t *b, out_t *o)
{
    /* Discard the rest of the current byte; whole bytes still buffered are
     * given back to the input. */
    b->buf = 0;
    b->pos -= b->count / 8;
    b->count = 0;
    if (b->end - b->pos < 4)
        return INFLATE_CORRUPT;
    uint len = b->in[b->pos] | ((uint)b->in[b->pos + 1] << 8);
    uint nlen = b->in[b->pos + 2] | ((uint)b->in[b->pos + 3] << 8);
    b->pos += 4;
    if (len != (~nlen & 0xffffu))
        return INFLATE_CORRUPT;
    if (b->end - b->pos < len)
        return INFLATE_CORRUPT;
    if (o->cap - o->pos < len)
        return INFLATE_DST_TOO_SMALL;
    for (uint i = 0; i < len; i++)
        o->p[o->pos + i] = b->in[b->pos + i];
    b->pos += len;
    o->pos += len;
    return INFLATE_OK;
}

uint inflate_fixed(bits_t *b, out_t *o)
{
    ushort lengths[288];
    huff_t lit, dist;
    for (int i = 0; i < 144; i++)
        lengths[i] = 8;
    for (int i = 144; i < 256; i++)
        lengths[i] = 9;
    for (int i = 256; i < 280; i++)
        lengths[i] = 7;
    for (int i = 280; i < 288; i++)
        lengths[i] = 8;
    huff_build(&lit, lengths, 288);
    for (int i = 0; i < 30; i++)
        lengths[i] = 5;
    huff_build(&dist, lengths, 30);
    return inflate_codes(b, o, &lit, &dist);
}

uint inflate_dynamic(bits_t *b, out_t *o)
{
    ushort lengths[320];
    huff_t lit, dist;
    uint nlit = getbits(b, 5) + 257;
    uint ndist = getbits(b, 5) + 1;
    uint nclen = getbits(b, 4) + 4;
    if (b->err || nlit > 286 || ndist > 30)
        return INFLATE_CORRUPT;
    for (int i = 0; i < 19; i++)
        lengths[i] = 0;
    for (uint i = 0; i < nclen; i++)
        lengths[clen_order[i]] = (ushort)getbits(b, 3);
    if (b->err || huff_build(&lit, lengths, 19) != 0)
        return INFLATE_CORRUPT;
    uint i = 0;
    while (i < nlit + ndist) {
        int sym = huff_decode(b, &lit);
        if (sym < 0)
            return INFLATE_CORRUPT;
        if (sym < 16) {
            lengths[i++] = (ushort)sym;
            continue;
        }
        ushort value = 0;
        uint repeat;
        if (sym == 16) {
            if (i == 0)
                return INFLATE_CORRUPT;
            value = lengths[i - 1];
            repeat = 3 + getbits(b, 2);
        } else if (sym == 17) {
            repeat = 3 + getbits(b, 3);
        } else {
            repeat = 11 + getbits(b, 7);
        }
        if (b->err || i + repeat > nlit + ndist)
            return INFLATE_CORRUPT;
        while (repeat--)
            lengths[i++] = value;
    }
    if (lengths[256] == 0) /* no end-of-block code */
        return INFLATE_CORRUPT;
    if (huff_build(&lit, lengths, (int)nlit) != 0 || huff_build(&dist, lengths + nlit, (int)ndist) != 0)
        return INFLATE_CORRUPT;
    return inflate_codes(b, o, &lit, &dist);
}

/* status[0] gets INFLATE_*; out_size is written only on success. */
__kernel void accel_inflate(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst, ulong dst_off,
                            ulong dst_size, __global uchar *out_size, ulong out_size_off, __global uint *status)
{
    bits_t b = {src + src_off, 0, n, 0, 0, 0};
    out_t o = {dst + dst_off, 0, dst_size};
    uint st = INFLATE_OK;
    if (n < 6) {
        status[0] = INFLATE_CORRUPT;
        return;
    }
    uint cmf = b.in[0], flg = b.in[1];
    if ((cmf & 0x0f) != 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 != 0 || (flg & 0x20)) {
        status[0] = INFLATE_CORRUPT;
        return;
    }
    b.pos = 2;
    uint last = 0;
    while (!last && st == INFLATE_OK) {
        last = getbits(&b, 1);
        uint type = getbits(&b, 2);
        if (b.err)
            st = INFLATE_CORRUPT;
        else if (type == 0)
            st = inflate_stored(&b, &o);
        else if (type == 1)
            st = inflate_fixed(&b, &o);
        else if (type == 2)
            st = inflate_dynamic(&b, &o);
        else
            st = INFLATE_CORRUPT;
        if (st == INFLATE_OK && b.err)
            st = INFLATE_CORRUPT;
    }
    if (st == INFLATE_OK) {
        /* The Adler-32 trailer follows the last block, byte-aligned; the
         * stream must end there. */
        b.pos -= b.count / 8;
        if (b.end - b.pos != 4) {
            st = INFLATE_CORRUPT;
        } else {
            __global const uchar *t = b.in + b.pos;
            uint want = ((uint)t[0] << 24) | ((uint)t[1] << 16) | ((uint)t[2] << 8) | t[3];
            if (adler32(o.p, o.pos) != want)
                st = INFLATE_CORRUPT;
        }
    }
    if (st == INFLATE_OK)
        put_u64(out_size + out_size_off, o.pos);
    status[0] = st;
}
