/* fuzz_kernel_metadata.c — libFuzzer target for the cpu driver's kernel
 * metadata parser (icd-examples/cpu/cpu_metadata.c).
 *
 * Any byte string must give either a list of well-formed signatures or a
 * rejection whose message names a line and a column inside the text,
 * without crashing or reading outside the input. An accepted text, written
 * back in canonical form, must parse to the same signatures. The same file
 * is linked with replay.c into the normal test run, which replays the
 * corpus in tests/corpus/kernel-metadata/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ACCEL_MAX_FUNCTION_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* The signatures as metadata text, one per line. */
static char *write_back(const cpu_kernel_sig *sigs, size_t count, size_t *len)
{
    size_t cap = count * (ACCEL_MAX_FUNCTION_NAME + 8 * ACCEL_MAX_ARGS + 4) + 1;
    char *text = malloc(cap), *p = text;
    if (!text)
        abort();
    for (size_t i = 0; i < count; i++) {
        p += sprintf(p, "%s(", sigs[i].name);
        for (uint32_t a = 0; a < sigs[i].arg_count; a++)
            p += sprintf(p, "%s%s", a ? ", " : "", cpu__metadata_kind_name(sigs[i].arg_kinds[a]));
        p += sprintf(p, ")\n");
    }
    *len = (size_t)(p - text);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    cpu_kernel_sig *sigs = NULL;
    size_t count = 0;
    char error[256];

    accel_result r =
        cpu__metadata_parse(size ? (const char *)data : empty, size, &sigs, &count, error, sizeof(error));
    if (!memchr(error, '\0', sizeof(error)))
        abort();
    switch (r) {
    case ACCEL_SUCCESS: {
        if (!sigs || count == 0 || count > CPU_METADATA_MAX_KERNELS || error[0])
            abort();
        uint32_t last_line = 0;
        for (size_t i = 0; i < count; i++) {
            if (!valid_name(sigs[i].name) || sigs[i].arg_count > ACCEL_MAX_ARGS || sigs[i].line <= last_line)
                abort();
            last_line = sigs[i].line;
            for (uint32_t a = 0; a < sigs[i].arg_count; a++)
                if (!cpu__metadata_kind_name(sigs[i].arg_kinds[a]))
                    abort();
            for (size_t j = 0; j < i && count <= 256; j++)
                if (strcmp(sigs[i].name, sigs[j].name) == 0)
                    abort();
        }
        /* Canonical form round trip. */
        size_t len;
        char *text = write_back(sigs, count, &len);
        cpu_kernel_sig *again = NULL;
        size_t again_count = 0;
        if (cpu__metadata_parse(text, len, &again, &again_count, error, sizeof(error)) != ACCEL_SUCCESS ||
            again_count != count)
            abort();
        for (size_t i = 0; i < count; i++)
            if (strcmp(again[i].name, sigs[i].name) != 0 || again[i].arg_count != sigs[i].arg_count ||
                memcmp(again[i].arg_kinds, sigs[i].arg_kinds, sigs[i].arg_count * sizeof(accel_arg_kind)) !=
                    0 ||
                again[i].line != i + 1)
                abort();
        free(again);
        free(text);
        free(sigs);
        break;
    }
    case ACCEL_ERROR_INVALID_ARGUMENT: {
        unsigned line, column;
        if (sigs || count || sscanf(error, "line %u, column %u: ", &line, &column) != 2 || line == 0 ||
            column == 0)
            abort();
        /* The position lies inside the text (or just past its end). */
        unsigned lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        if (line > lines || column > size + 1)
            abort();
        break;
    }
    case ACCEL_ERROR_OUT_OF_HOST_MEMORY:
        if (sigs || count)
            abort();
        break;
    default: abort();
    }
    return 0;
}
