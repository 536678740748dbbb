/* select.h — driver selection (globs) and the device selector grammar.
 *
 *   selector := term (';' term)*
 *   term     := ['!'] driver ':' filter (',' filter)*
 *   driver   := a glob on driver names (fnmatch), e.g. "cpu", "open*", "*"
 *   filter   := index | kind | 'uuid=' hexprefix | 'bus=' pciaddr | '*'
 *   index    := decimal position in that driver's enumeration
 *   kind     := 'cpu' | 'gpu' | 'fpga' | 'asic' | 'network'
 *   pciaddr  := [domain ':'] bus ':' device '.' function (hexadecimal)
 *
 * Accept terms keep the order written; '!' (discard) terms always win; with
 * only discard terms, everything else is accepted. Blanks around terms and
 * filters are ignored.
 */
#ifndef ACCEL_SELECT_H
#define ACCEL_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "util.h"

typedef enum accel__filter_type {
    ACCEL__FILTER_ANY,
    ACCEL__FILTER_INDEX,
    ACCEL__FILTER_KIND,
    ACCEL__FILTER_UUID,
    ACCEL__FILTER_BUS,
} accel__filter_type;

/* Room for a normalised PCI address ("dddddddd:bb:dd.f" and NUL). */
#define ACCEL__BUS_ADDRESS_MAX 24

typedef struct accel__filter {
    accel__filter_type type;
    uint32_t index;
    accel_device_kind kind;
    uint8_t uuid_nibbles[2 * ACCEL_UUID_SIZE];
    uint32_t uuid_len;                /* nibbles given */
    char bus[ACCEL__BUS_ADDRESS_MAX]; /* normalised */
} accel__filter;

typedef struct accel__selector_term {
    bool discard;
    char *driver_glob;
    accel__filter *filters;
    size_t filter_count;
} accel__selector_term;

typedef struct accel__selector {
    accel__selector_term *terms;
    size_t term_count;
    size_t accept_count;
} accel__selector;

/* What a device looks like to the selector. */
typedef struct accel__selector_candidate {
    const char *driver_name;
    uint32_t driver_index;
    accel_device_kind kind;
    const uint8_t *uuid;
    const char *bus_address; /* "" if none */
} accel__selector_candidate;

/*
 * Parse `text`. On a syntax error returns ACCEL_ERROR_INVALID_SELECTOR and
 * writes into `err` what is wrong and at which column (1-based).
 * ACCEL_ERROR_OUT_OF_HOST_MEMORY on allocation failure. *out is always
 * safe to free.
 */
accel_result accel__selector_parse(const char *text, accel__selector *out, char *err, size_t err_size);
void accel__selector_free(accel__selector *s);

bool accel__selector_term_matches(const accel__selector_term *t, const accel__selector_candidate *c);

/*
 * Order and filter candidates. Writes the indices of the selected
 * candidates into order[] (room for n) and returns how many. A NULL
 * selector selects all in their given order.
 */
size_t accel__selector_apply(const accel__selector *s, const accel__selector_candidate *c, size_t n,
                             size_t *order);

/* Write the PCI address `in` ([domain:]bus:device.function, hexadecimal
 * in any case) as domain:bus:device.function, lowercase, domain 0000 when
 * left out. False (out untouched) when `in` is not such an address. */
bool accel__bus_address_normalise(const char *in, char out[ACCEL__BUS_ADDRESS_MAX]);

/*
 * Whether two devices are one piece of hardware (accel.h, "Physical
 * devices"): of different drivers, and at one PCI address (compared
 * normalised; other addresses as written), or, when either has no bus
 * address, with one non-zero uuid. NULL bus addresses are empty.
 */
bool accel__same_hardware(const char *driver_a, const char *bus_a, const uint8_t *uuid_a,
                          const char *driver_b, const char *bus_b, const uint8_t *uuid_b);

/* Whether name matches any glob of the list. Sets *which to the glob. */
bool accel__glob_list_match(const accel__strlist *globs, const char *name, const char **which);

#endif
