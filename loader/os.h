/* os.h — the platform layer: environment, files, directories, dynamic
 * loading. Implemented by os_posix.c. */
#ifndef ACCEL_OS_H
#define ACCEL_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Environment variables that can change which code is loaded, and XDG_* /
 * HOME, are read through this (secure_getenv: NULL in setuid/setgid
 * processes). An empty value reads as unset. */
const char *accel__getenv(const char *name);

/* accel__parse_uint's flags. ACCEL__UINT_SIZE_SUFFIX: one K, M or G may
 * follow the digits (times 1024, 1024^2, 1024^3), for byte counts. */
#define ACCEL__UINT_SIZE_SUFFIX 1u

/* Parse all of s as an unsigned decimal number in [min, max]: digits only
 * (no sign, blank, "0x" or fraction), then a suffix where flags allow one.
 * Returns true and sets *value; otherwise leaves *value alone, returns
 * false and writes to why (why_size bytes, may be 0) what is wrong, for a
 * message that names the variable and its value: "empty", "negative",
 * "not a decimal number", "\"ms\" after the number", "more than 4096",
 * "less than 1". No locale, no errno; thread-safe. */
bool accel__parse_uint(const char *s, unsigned flags, uint64_t min, uint64_t max, uint64_t *value, char *why,
                       size_t why_size);

/* The machine's physical memory in bytes, 0 when the system does not say. */
uint64_t accel__os_physical_memory(void);

/* Read a whole regular file of at most max_size bytes into a NUL-terminated
 * buffer. Never blocks on a FIFO and never reads a device: the file is
 * opened non-blocking and refused before the first read unless fstat says
 * it is a regular file (a symbolic link is followed to what it names).
 * Returns 0, or an errno value: EFBIG when larger than max_size (a sparse
 * file's apparent size counts), EISDIR for a directory, EINVAL for another
 * kind of file (FIFO, socket, device). accel__file_strerror says which. */
int accel__read_file(const char *path, size_t max_size, char **data, size_t *size);

/* Whether path names a regular file (following symbolic links), without
 * opening it: 0, or an errno value as accel__read_file's. For paths that
 * are handed to something that opens them blocking (dlopen). */
int accel__check_regular(const char *path);

/* An error of accel__read_file or accel__check_regular, for people: the
 * kind of file for EINVAL ("a FIFO, not a regular file"), strerror
 * otherwise (EISDIR: "Is a directory"). Valid until the next call on the same thread. */
const char *accel__file_strerror(int err);

/* 1 if path is a directory, 0 if it is something else, -errno if stat fails. */
int accel__path_is_dir(const char *path);

/* Called for each entry of a directory that accel__list_json_files leaves
 * out ("." and ".." excepted), with its name and why. */
typedef void (*accel__skip_fn)(void *ctx, const char *name, const char *reason);

/* Append to `out` the names (not paths) of the *.json regular files (or
 * links to them) of dir, sorted with strcmp. Every other entry (another
 * name, a directory, FIFO, socket, device, dangling link) is passed to
 * `skipped` (may be NULL). Returns 0, an errno value on a read error, or
 * ENOMEM. */
int accel__list_json_files(const char *dir, accel__strlist *out, accel__skip_fn skipped, void *ctx);

/* Canonical absolute path (realpath), or NULL. Caller frees with accel__free. */
char *accel__realpath(const char *path);

/* The directory part of path ("." if none). Caller frees. */
char *accel__dirname(const char *path);

/* Join a and b with one '/'. Caller frees. */
char *accel__path_join(const char *a, const char *b);

/* The machine's bitness, 32 or 64. */
unsigned accel__os_bits(void);

#endif
