/* fuzz_env_number.c — libFuzzer target for accel__parse_uint, the parser
 * of the numbers in environment variables (loader/os_posix.c).
 *
 * The first byte chooses the flags and the bounds, the rest becomes a
 * NUL-terminated string (as from the environment). An accepted value must
 * lie within the bounds and print back as the digits it was read from
 * (leading zeros aside), times its suffix; a refused one must say why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t mins[] = {0, 1, 1024, UINT64_MAX};
static const uint64_t maxes[] = {UINT64_MAX, UINT64_MAX / 1000000, 2047, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & 1 ? ACCEL__UINT_SIZE_SUFFIX : 0;
    uint64_t min = mins[(data[0] >> 1) & 3], max = maxes[(data[0] >> 3) & 3];
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';

    uint64_t v = 0;
    char why[96];
    if (!accel__parse_uint(text, flags, min, max, &v, why, sizeof(why))) {
        if (!why[0])
            abort();
        free(text);
        return 0;
    }
    if (why[0] || v < min || v > max)
        abort();
    size_t n = strspn(text, "0123456789");
    unsigned shift = 0;
    if (text[n]) {
        if (!flags || text[n + 1])
            abort();
        shift = text[n] == 'K' ? 10 : text[n] == 'M' ? 20 : text[n] == 'G' ? 30 : 0;
        if (!shift)
            abort();
    }
    if (n == 0 || (shift && (v & ((UINT64_C(1) << shift) - 1))))
        abort();
    const char *digits = text + strspn(text, "0");
    size_t nd = n - (size_t)(digits - text);
    char back[32];
    int len = snprintf(back, sizeof(back), "%llu", (unsigned long long)(v >> shift));
    if (nd == 0 ? strcmp(back, "0") != 0 : ((size_t)len != nd || memcmp(back, digits, nd) != 0))
        abort();
    free(text);
    return 0;
}
