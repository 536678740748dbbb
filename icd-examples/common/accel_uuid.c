/* accel_uuid.c — see accel_uuid.h. */
#include "accel_uuid.h"

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return (h ^ 0xff) * 0x100000001b3ull;
}

void accel_uuid_from_hashes(uint64_t a, uint64_t b, uint8_t out[ACCEL_UUID_SIZE])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (56 - 8 * i));
        out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x50);
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80);
}

void accel_uuid_hash_parts(const char *const *parts, size_t n, uint64_t *a, uint64_t *b)
{
    *a = ACCEL_UUID_FNV_A;
    *b = ACCEL_UUID_FNV_B;
    for (size_t i = 0; i < n; i++) {
        *a = fnv1a(*a, parts[i]);
        *b = fnv1a(*b, parts[n - 1 - i]);
    }
}

void accel_uuid_from_parts(const char *const *parts, size_t n, uint8_t out[ACCEL_UUID_SIZE])
{
    uint64_t a, b;
    accel_uuid_hash_parts(parts, n, &a, &b);
    accel_uuid_from_hashes(a, b, out);
}
