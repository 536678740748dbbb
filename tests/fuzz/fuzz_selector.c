/* fuzz_selector.c — libFuzzer target for the device selector.
 *
 * The bytes become a NUL-terminated string (as from the environment). A
 * valid selector is applied to a fixed set of devices; its result must be
 * a list of distinct candidate indices. An invalid one must say at which
 * column, within the text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t uuid_a[ACCEL_UUID_SIZE] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static const uint8_t uuid_b[ACCEL_UUID_SIZE] = {0xa1, 0xb2, 0xc3, 0xd4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t uuid_c[ACCEL_UUID_SIZE] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static const accel__selector_candidate candidates[] = {
    {"cpu", 0, ACCEL_DEVICE_KIND_CPU, uuid_a, ""},
    {"opencl", 0, ACCEL_DEVICE_KIND_GPU, uuid_b, "0000:3b:00.0"},
    {"opencl", 1, ACCEL_DEVICE_KIND_CPU, uuid_c, ""},
    {"vulkan", 0, ACCEL_DEVICE_KIND_GPU, uuid_b, "0000:3B:00.0"},
    {"fpga", 0, ACCEL_DEVICE_KIND_FPGA, uuid_a, "af:00.1"},
    {"fpga", 1, ACCEL_DEVICE_KIND_ASIC, uuid_c, "not-pci"},
    {"warpdrive", 7, ACCEL_DEVICE_KIND_ASIC, uuid_a, "0001:00:1f.7"},
};
#define NCAND (sizeof(candidates) / sizeof(candidates[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    long live = accel__alloc_live();
    accel__selector s;
    char err[256];
    accel_result r = accel__selector_parse(text, &s, err, sizeof(err));
    if (!memchr(err, '\0', sizeof(err)))
        abort();
    if (r == ACCEL_SUCCESS) {
        size_t order[NCAND + 1];
        order[NCAND] = (size_t)-1;
        if (err[0] || s.term_count == 0 || s.accept_count > s.term_count)
            abort();
        size_t n = accel__selector_apply(&s, candidates, NCAND, order);
        if (n > NCAND || order[NCAND] != (size_t)-1)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (order[i] >= NCAND)
                abort();
            for (size_t j = 0; j < i; j++)
                if (order[i] == order[j])
                    abort();
        }
    } else if (r == ACCEL_ERROR_INVALID_SELECTOR) {
        size_t col = 0;
        if (sscanf(err, "column %zu:", &col) != 1 || col == 0 || col > strlen(text) + 1)
            abort();
        if (s.terms || s.term_count)
            abort();
    } else if (r != ACCEL_ERROR_OUT_OF_HOST_MEMORY) {
        abort();
    }
    accel__selector_free(&s);
    if (accel__alloc_live() != live)
        abort();
    free(text);
    return 0;
}
