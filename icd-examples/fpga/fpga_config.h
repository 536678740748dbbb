/* fpga_config.h — the emulated cards' description file
 * (ACCEL_FPGA_EMULATOR_CONFIG; docs/fpga.md, "The emulated card").
 *
 * Pure like the image parser: a text and its name in, card descriptions or
 * a message naming the file and the JSON path out. */
#ifndef FPGA_CONFIG_H
#define FPGA_CONFIG_H

#include "fpga_card.h"

#define FPGA_CONFIG_VERSION 1
#define FPGA_CONFIG_MAX_BANK_MIB (1024u * 1024u) /* 1 TiB */
#define FPGA_CONFIG_MAX_RECONFIGURE_MS 600000u

/* What a card is when the file does not say (and the default card when
 * there is no file): 2 slots, banks "bank0" and "bank1" of 256 MiB. */
#define FPGA_DEFAULT_SLOTS 2
#define FPGA_DEFAULT_BANK_MIB 256
#define FPGA_DEFAULT_BANK_MBPS 19200    /* one DDR4-2400 channel */
#define FPGA_DEFAULT_BANK_LATENCY_NS 300
#define FPGA_DEFAULT_HOST_MBPS 12000    /* PCIe gen3 x16, achievable */
#define FPGA_DEFAULT_HOST_LATENCY_NS 1000
#define FPGA_DEFAULT_RECONFIGURE_MS 20
#define FPGA_DEFAULT_LAUNCH_US 20

/* The default card, named "fpga0". */
void fpga__config_default(fpga_card_desc *card);

/*
 * Parse a card file into cards[0..FPGA_MAX_CARDS-1]; *count gets the
 * number. ACCEL_ERROR_INVALID_ARGUMENT with "SOURCE: $.path: what" in
 * error for anything that is not a valid file (unknown members included).
 */
accel_result fpga__config_parse(const char *text, size_t size, const char *source, fpga_card_desc *cards,
                                uint32_t *count, char *error, size_t error_size);

#endif
