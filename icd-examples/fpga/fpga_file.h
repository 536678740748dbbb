/* fpga_file.h — reading the fpga driver's JSON files (image descriptions,
 * the emulator's card file) before they go to their pure parsers. */
#ifndef FPGA_FILE_H
#define FPGA_FILE_H

#include <accel/accel_icd.h>

#include <stddef.h>

/*
 * Read a whole regular file of at most FPGA_JSON_MAX_SIZE bytes into a new
 * NUL-terminated buffer (*text, free() it; *size without the NUL), never
 * blocking on a FIFO nor reading a device. On failure write "PATH: cannot
 * read WHAT: reason", "PATH: WHAT must be a regular file, and this is a
 * FIFO" or "PATH: WHAT must be at most 1 MiB, ..." into msg and return
 * ACCEL_ERROR_INVALID_ARGUMENT (ACCEL_ERROR_OUT_OF_HOST_MEMORY without a
 * message). `what` names the file's role, e.g. "the image description".
 */
accel_result fpga__read_json_file(const char *path, const char *what, char **text, size_t *size, char *msg,
                                  size_t msg_size);

#endif
