// crc32c.glsl — CRC-32C arithmetic shared by the crc32c passes.
//
// llvmpipe runs eight invocations as one SIMD vector and makes every
// table lookup a gather, while a shift or an XOR costs one instruction
// for all eight lanes: so the register advances one bit at a time with
// arithmetic only (5 instructions a bit), which measured several times
// faster there than slicing-by-8 tables in shared memory.

const uint CRC32C_POLY = 0x82F63B78u; // reflected: bit 31 is x^0

// The register after 32 more bits whose XOR into it is already done.
uint crc32c_word(uint c)
{
    [[unroll]] for (int k = 0; k < 32; k++)
        c = (c >> 1) ^ (CRC32C_POLY & uint(int(c << 31) >> 31));
    return c;
}

uint crc32c_byte(uint c, uint b)
{
    c ^= b;
    [[unroll]] for (int k = 0; k < 8; k++)
        c = (c >> 1) ^ (CRC32C_POLY & uint(int(c << 31) >> 31));
    return c;
}

// a * b modulo the polynomial, both reflected (GF(2) arithmetic).
uint crc32c_mul(uint a, uint b)
{
    uint p = 0u;
    [[unroll]] for (int k = 0; k < 32; k++) {
        p ^= b & uint(int(a) >> 31);
        a <<= 1;
        b = (b >> 1) ^ (CRC32C_POLY & uint(int(b << 31) >> 31));
    }
    return p;
}
