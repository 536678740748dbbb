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
#define STORED_MAX 65535ul

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

__kernel void accel_crc32c(__global const uchar *src, ulong src_off, ulong n, __global uchar *res, ulong res_off)
{
    __global const uchar *s = src + src_off;
    uint c = 0xffffffffu;
    for (ulong i = 0; i < n; i++)
        c = crc32c_table[(c ^ s[i]) & 0xffu] ^ (c >> 8);
    c ^= 0xffffffffu;
    __global uchar *r = res + res_off;
    r[0] = (uchar)c;
    r[1] = (uchar)(c >> 8);
    r[2] = (uchar)(c >> 16);
    r[3] = (uchar)(c >> 24);
}

/* ---- SHA-256 (FIPS 180-4) ---- */

__constant uint sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

#define ROTR(x, n) rotate((x), (uint)(32 - (n)))

void sha256_block(uint *h, const uchar *p)
{
    uint w[64];
    for (int i = 0; i < 16; i++)
        w[i] = ((uint)p[4 * i] << 24) | ((uint)p[4 * i + 1] << 16) | ((uint)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint t1 = k + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
        uint t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
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
        sha256_block(h, block);
    }
    /* Padding: the tail, 0x80, zeros, the bit length big-endian; one or
     * two blocks. */
    uint rest = (uint)(n - full * 64);
    uchar tail[128];
    for (uint i = 0; i < 128; i++)
        tail[i] = 0;
    for (uint i = 0; i < rest; i++)
        tail[i] = s[full * 64 + i];
    tail[rest] = 0x80;
    uint blocks = rest < 56 ? 1 : 2;
    ulong bits = n * 8;
    for (int i = 0; i < 8; i++)
        tail[blocks * 64 - 1 - i] = (uchar)(bits >> (8 * i));
    sha256_block(h, tail);
    if (blocks == 2)
        sha256_block(h, tail + 64);
    __global uchar *r = res + res_off;
    for (int i = 0; i < 8; i++) {
        r[4 * i] = (uchar)(h[i] >> 24);
        r[4 * i + 1] = (uchar)(h[i] >> 16);
        r[4 * i + 2] = (uchar)(h[i] >> 8);
        r[4 * i + 3] = (uchar)h[i];
    }
}

/* ---- zlib (RFC 1950) ---- */

uint adler32(__global const uchar *p, ulong n)
{
    uint a = 1, b = 0;
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

void put_u64(__global uchar *p, ulong v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uchar)(v >> (8 * i));
}

/* zlib.deflate as stored blocks: work-item i writes block i (its 5-byte
 * header and up to 65535 bytes); accel_deflate_finish writes the zlib
 * header, the Adler-32 trailer and out_size. The driver has checked that
 * dst holds 2 + 5 * blocks + n + 4 bytes. */
__kernel void accel_deflate_blocks(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst,
                                   ulong dst_off)
{
    ulong i = get_global_id(0);
    ulong blocks = n == 0 ? 1 : (n + STORED_MAX - 1) / STORED_MAX;
    ulong start = i * STORED_MAX;
    uint len = (uint)(min(n - min(start, n), STORED_MAX));
    __global uchar *o = dst + dst_off + 2 + i * (STORED_MAX + 5);
    __global const uchar *s = src + src_off + start;
    o[0] = i == blocks - 1 ? 1 : 0; /* BFINAL, BTYPE 00; the rest of the byte is padding */
    o[1] = (uchar)len;
    o[2] = (uchar)(len >> 8);
    o[3] = (uchar)~len;
    o[4] = (uchar)(~len >> 8);
    for (uint k = 0; k < len; k++)
        o[5 + k] = s[k];
}

__kernel void accel_deflate_finish(__global const uchar *src, ulong src_off, ulong n, __global uchar *dst,
                                   ulong dst_off, __global uchar *out_size, ulong out_size_off)
{
    ulong blocks = n == 0 ? 1 : (n + STORED_MAX - 1) / STORED_MAX;
    __global uchar *o = dst + dst_off;
    o[0] = 0x78; /* CM 8, CINFO 7 */
    o[1] = 0x01; /* FLEVEL 0, no dictionary, FCHECK */
    uint adler = adler32(src + src_off, n);
    ulong end = 2 + blocks * 5 + n;
    o[end] = (uchar)(adler >> 24);
    o[end + 1] = (uchar)(adler >> 16);
    o[end + 2] = (uchar)(adler >> 8);
    o[end + 3] = (uchar)adler;
    put_u64(out_size + out_size_off, end + 4);
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
typedef struct huff {
    ushort count[16];
    ushort symbol[288];
} huff_t;

/* 0 on success, -1 if the lengths over-subscribe the code space.
 * Incomplete codes are accepted; decoding an unused code fails. */
int huff_build(huff_t *h, const ushort *lengths, int n)
{
    ushort offs[16];
    for (int i = 0; i < 16; i++)
        h->count[i] = 0;
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
    return 0;
}

/* Read one symbol bit by bit: codes of each length are consecutive
 * integers, the first of length L following the last of length L-1
 * shifted left once. */
int huff_decode(bits_t *b, const huff_t *h)
{
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

__constant ushort len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                  31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
__constant uchar len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
__constant ushort dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                   193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
__constant uchar dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
__constant uchar clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

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
