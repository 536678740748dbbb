/* fuzz_fpga_image.c — libFuzzer target for the fpga driver's two JSON
 * parsers: image descriptions (icd-examples/fpga/fpga_image.c) and the
 * emulated cards' file (fpga_config.c). Every input goes through both.
 *
 * Any byte string must give either a well-formed result or a rejection
 * whose message starts with the source name, without crashing or reading
 * outside the input. An accepted input, written back as JSON, must parse
 * to the same result. The same file is linked with replay.c into the normal
 * test run, which replays the corpus in tests/corpus/fpga_image/. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpga_config.h"
#include "fpga_image.h"
#include "fpga_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define IMAGE_SOURCE "fuzz/image.json"
#define CARDS_SOURCE "fuzz/cards.json"

static const char *const banks[] = {"bank0", "bank1", "ddr_2"};
#define BANK_COUNT 3u

static void check_message(const char *error, size_t error_size, const char *source)
{
    if (!memchr(error, '\0', error_size))
        abort();
    size_t n = strlen(source);
    if (strncmp(error, source, n) != 0 || strncmp(error + n, ": ", 2) != 0)
        abort();
}

/* ---- images ------------------------------------------------------------------------ */

static void check_image(const fpga_image_desc *d)
{
    if (!fpga__json_plain_name(d->name, FPGA_IMAGE_NAME_MAX) || !d->library || !d->library[0] || !d->library_path)
        abort();
    if (d->library[0] == '/' ? strcmp(d->library_path, d->library) != 0
                             : strncmp(d->library_path, "fuzz/", 5) != 0 || strcmp(d->library_path + 5, d->library))
        abort();
    if (d->has_reconfigure ? d->reconfigure_ns > FPGA_IMAGE_MAX_RECONFIGURE_MS * 1000000ull : d->reconfigure_ns)
        abort();
    if (d->kernel_count < 1 || d->kernel_count > FPGA_IMAGE_MAX_KERNELS || !d->kernels)
        abort();
    for (uint32_t i = 0; i < d->kernel_count; i++) {
        const fpga_image_kernel *k = &d->kernels[i];
        if (!fpga__json_plain_name(k->name, ACCEL_MAX_FUNCTION_NAME - 1) ||
            !fpga__json_identifier(k->symbol, FPGA_IMAGE_SYMBOL_MAX) || k->arg_count > ACCEL_MAX_ARGS)
            abort();
        uint32_t found;
        if (fpga__image_find(d, k->name, &found) != k || found != i)
            abort(); /* names are unique */
        for (uint32_t a = 0; a < k->arg_count; a++) {
            const fpga_image_arg *arg = &k->args[a];
            if (!fpga__json_identifier(arg->name, FPGA_IMAGE_NAME_MAX) || !fpga__image_kind_name(arg->kind))
                abort();
            if (arg->kind != ACCEL_ARG_MEMORY && arg->wire != FPGA_WIRE_ANY)
                abort();
            if (arg->wire == FPGA_WIRE_BANK ? arg->bank >= BANK_COUNT : arg->bank != 0)
                abort();
            for (uint32_t b = 0; b < a; b++)
                if (strcmp(k->args[b].name, arg->name) == 0)
                    abort();
        }
    }
}

static json_object *image_to_json(const fpga_image_desc *d)
{
    json_object *root = json_object_new_object(), *kernels = json_object_new_array();
    json_object_object_add(root, "image_version", json_object_new_int(FPGA_IMAGE_VERSION));
    json_object_object_add(root, "name", json_object_new_string(d->name));
    json_object_object_add(root, "library", json_object_new_string(d->library));
    if (d->has_reconfigure)
        json_object_object_add(root, "reconfigure_ms", json_object_new_int64((int64_t)(d->reconfigure_ns / 1000000)));
    for (uint32_t i = 0; i < d->kernel_count; i++) {
        const fpga_image_kernel *k = &d->kernels[i];
        json_object *kernel = json_object_new_object(), *args = json_object_new_array();
        json_object_object_add(kernel, "name", json_object_new_string(k->name));
        json_object_object_add(kernel, "symbol", json_object_new_string(k->symbol));
        for (uint32_t a = 0; a < k->arg_count; a++) {
            json_object *arg = json_object_new_object();
            json_object_object_add(arg, "name", json_object_new_string(k->args[a].name));
            json_object_object_add(arg, "kind", json_object_new_string(fpga__image_kind_name(k->args[a].kind)));
            if (k->args[a].wire != FPGA_WIRE_ANY)
                json_object_object_add(arg, "bank", json_object_new_string(k->args[a].wire == FPGA_WIRE_HOST
                                                                               ? "host"
                                                                               : banks[k->args[a].bank]));
            json_object_array_add(args, arg);
        }
        json_object_object_add(kernel, "args", args);
        json_object_array_add(kernels, kernel);
    }
    json_object_object_add(root, "kernels", kernels);
    return root;
}

static void same_image(const fpga_image_desc *a, const fpga_image_desc *b)
{
    if (strcmp(a->name, b->name) || strcmp(a->library, b->library) || strcmp(a->library_path, b->library_path) ||
        a->has_reconfigure != b->has_reconfigure || a->reconfigure_ns != b->reconfigure_ns ||
        a->kernel_count != b->kernel_count)
        abort();
    for (uint32_t i = 0; i < a->kernel_count; i++) {
        const fpga_image_kernel *x = &a->kernels[i], *y = &b->kernels[i];
        if (strcmp(x->name, y->name) || strcmp(x->symbol, y->symbol) || x->arg_count != y->arg_count)
            abort();
        for (uint32_t j = 0; j < x->arg_count; j++)
            if (strcmp(x->args[j].name, y->args[j].name) || x->args[j].kind != y->args[j].kind ||
                x->args[j].wire != y->args[j].wire || x->args[j].bank != y->args[j].bank)
                abort();
    }
}

static void fuzz_image(const char *text, size_t size)
{
    char error[512];
    fpga_image_desc *d = (fpga_image_desc *)1;
    accel_result r = fpga__image_parse(text, size, IMAGE_SOURCE, banks, BANK_COUNT, &d, error, sizeof(error));
    if (r == ACCEL_ERROR_OUT_OF_HOST_MEMORY) {
        if (d)
            abort();
        return;
    }
    if (r != ACCEL_SUCCESS) {
        if (r != ACCEL_ERROR_INVALID_ARGUMENT || d)
            abort();
        check_message(error, sizeof(error), IMAGE_SOURCE);
        return;
    }
    if (!d || error[0])
        abort();
    check_image(d);
    json_object *back = image_to_json(d);
    size_t len;
    const char *again_text = json_object_to_json_string_length(back, JSON_C_TO_STRING_PLAIN, &len);
    fpga_image_desc *again = NULL;
    if (fpga__image_parse(again_text, len, IMAGE_SOURCE, banks, BANK_COUNT, &again, error, sizeof(error)) !=
        ACCEL_SUCCESS)
        abort();
    same_image(d, again);
    fpga__image_free(again);
    json_object_put(back);
    fpga__image_free(d);
}

/* ---- card files ------------------------------------------------------------------------ */

static json_object *cards_to_json(const fpga_card_desc *cards, uint32_t count)
{
    json_object *root = json_object_new_object(), *list = json_object_new_array();
    json_object_object_add(root, "config_version", json_object_new_int(FPGA_CONFIG_VERSION));
    for (uint32_t i = 0; i < count; i++) {
        const fpga_card_desc *c = &cards[i];
        json_object *card = json_object_new_object(), *bank_list = json_object_new_array();
        json_object_object_add(card, "name", json_object_new_string(c->name));
        json_object_object_add(card, "slots", json_object_new_int((int)c->slot_count));
        json_object_object_add(card, "reconfigure_ms", json_object_new_int64((int64_t)(c->reconfigure_ns / 1000000)));
        json_object_object_add(card, "launch_us", json_object_new_int64((int64_t)(c->launch_ns / 1000)));
        json_object_object_add(card, "host_bandwidth_mbps", json_object_new_int64((int64_t)c->host_bandwidth_mbps));
        json_object_object_add(card, "host_latency_ns", json_object_new_int64((int64_t)c->host_latency_ns));
        for (uint32_t b = 0; b < c->bank_count; b++) {
            json_object *bank = json_object_new_object();
            json_object_object_add(bank, "name", json_object_new_string(c->banks[b].name));
            json_object_object_add(bank, "size_mib", json_object_new_int64((int64_t)(c->banks[b].capacity >> 20)));
            json_object_object_add(bank, "bandwidth_mbps", json_object_new_int64((int64_t)c->banks[b].bandwidth_mbps));
            json_object_object_add(bank, "latency_ns", json_object_new_int64((int64_t)c->banks[b].latency_ns));
            json_object_array_add(bank_list, bank);
        }
        json_object_object_add(card, "banks", bank_list);
        json_object_array_add(list, card);
    }
    json_object_object_add(root, "cards", list);
    return root;
}

static void fuzz_cards(const char *text, size_t size)
{
    static fpga_card_desc cards[FPGA_MAX_CARDS], again[FPGA_MAX_CARDS];
    char error[512];
    uint32_t count = 99;
    memset(cards, 0, sizeof(cards));
    accel_result r = fpga__config_parse(text, size, CARDS_SOURCE, cards, &count, error, sizeof(error));
    if (r != ACCEL_SUCCESS) {
        if ((r != ACCEL_ERROR_INVALID_ARGUMENT && r != ACCEL_ERROR_OUT_OF_HOST_MEMORY) || count != 0)
            abort();
        if (r == ACCEL_ERROR_INVALID_ARGUMENT)
            check_message(error, sizeof(error), CARDS_SOURCE);
        return;
    }
    if (count < 1 || count > FPGA_MAX_CARDS || error[0])
        abort();
    for (uint32_t i = 0; i < count; i++) {
        const fpga_card_desc *c = &cards[i];
        if (!fpga__json_plain_name(c->name, FPGA_NAME_MAX) || c->slot_count < 1 || c->slot_count > FPGA_MAX_SLOTS ||
            c->bank_count < 1 || c->bank_count > FPGA_MAX_BANKS || c->host_bandwidth_mbps == 0)
            abort();
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cards[j].name, c->name) == 0)
                abort();
        for (uint32_t b = 0; b < c->bank_count; b++) {
            const fpga_bank_desc *bank = &c->banks[b];
            if (!fpga__json_plain_name(bank->name, FPGA_NAME_MAX) || !strcmp(bank->name, "host") ||
                !strcmp(bank->name, "any") || bank->capacity == 0 || bank->capacity % (1u << 20) ||
                bank->bandwidth_mbps == 0)
                abort();
            for (uint32_t j = 0; j < b; j++)
                if (strcmp(c->banks[j].name, bank->name) == 0)
                    abort();
        }
    }
    json_object *back = cards_to_json(cards, count);
    size_t len;
    const char *again_text = json_object_to_json_string_length(back, JSON_C_TO_STRING_PLAIN, &len);
    uint32_t again_count = 0;
    memset(again, 0, sizeof(again));
    if (fpga__config_parse(again_text, len, CARDS_SOURCE, again, &again_count, error, sizeof(error)) !=
            ACCEL_SUCCESS ||
        again_count != count || memcmp(again, cards, count * sizeof(cards[0])) != 0)
        abort();
    json_object_put(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char empty[1];
    const char *text = size ? (const char *)data : empty;
    fuzz_image(text, size);
    fuzz_cards(text, size);
    return 0;
}
