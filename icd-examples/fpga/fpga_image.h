/* fpga_image.h — FPGA image descriptions (docs/fpga.md, "Images").
 *
 * An image is a JSON description plus a shared object that implements its
 * kernels (accel_fpga_kernel.h). The parser is pure: it reads a text, checks
 * every bank name against the card's, and resolves the library path
 * against the description's directory; it never touches the file system. */
#ifndef FPGA_IMAGE_H
#define FPGA_IMAGE_H

#include <accel/accel_icd.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FPGA_IMAGE_VERSION 1
#define FPGA_IMAGE_MAX_KERNELS 256
#define FPGA_IMAGE_NAME_MAX 63          /* image and argument names */
#define FPGA_IMAGE_SYMBOL_MAX 127       /* C identifiers */
#define FPGA_IMAGE_LIBRARY_MAX 4095
#define FPGA_IMAGE_MAX_RECONFIGURE_MS 600000u

/* Where a memory argument's port is wired. */
typedef enum fpga_wire {
    FPGA_WIRE_ANY = 0,  /* any bank of the card, or host memory */
    FPGA_WIRE_BANK = 1, /* one bank (fpga_image_arg.bank) */
    FPGA_WIRE_HOST = 2, /* host memory over the bus only */
} fpga_wire;

typedef struct fpga_image_arg {
    char name[FPGA_IMAGE_NAME_MAX + 1];
    accel_arg_kind kind;
    fpga_wire wire; /* memory arguments; FPGA_WIRE_ANY for scalars */
    uint32_t bank;  /* FPGA_WIRE_BANK: the index into the card's bank list */
} fpga_image_arg;

typedef struct fpga_image_kernel {
    char name[ACCEL_MAX_FUNCTION_NAME];      /* the function name applications ask for */
    char symbol[FPGA_IMAGE_SYMBOL_MAX + 1]; /* the library's C function */
    uint32_t arg_count;
    fpga_image_arg args[ACCEL_MAX_ARGS];
} fpga_image_kernel;

typedef struct fpga_image_desc {
    char name[FPGA_IMAGE_NAME_MAX + 1];
    char *library;      /* as written in the description */
    char *library_path; /* resolved against the description's directory */
    bool has_reconfigure;
    uint64_t reconfigure_ns; /* the image's own reconfiguration time, if has_reconfigure */
    uint32_t kernel_count;
    fpga_image_kernel *kernels;
} fpga_image_desc;

/*
 * Parse a description. `source` is its path: it names the file in error
 * messages and is the base of a relative "library". bank_names are the
 * card's banks in order ("host" and "any" are always accepted as well).
 * On success *out is a new description (fpga__image_free); on failure
 * ACCEL_ERROR_INVALID_ARGUMENT (or OUT_OF_HOST_MEMORY) with
 * "SOURCE: $.json.path: what" in error, and *out is NULL.
 */
accel_result fpga__image_parse(const char *text, size_t size, const char *source, const char *const *bank_names,
                               uint32_t bank_count, fpga_image_desc **out, char *error, size_t error_size);
void fpga__image_free(fpga_image_desc *desc);

/* The kernel named `name`, or NULL. */
const fpga_image_kernel *fpga__image_find(const fpga_image_desc *desc, const char *name, uint32_t *index);

/* "memory", "u32", ... for a kind, NULL for others. */
const char *fpga__image_kind_name(accel_arg_kind kind);

#endif
