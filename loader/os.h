/* os.h — the platform layer: environment, files, directories, dynamic
 * loading. Implemented by os_posix.c. */
#ifndef ACCEL_OS_H
#define ACCEL_OS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* Environment variables that can change which code is loaded, and XDG_* /
 * HOME, are read through this (secure_getenv: NULL in setuid/setgid
 * processes). An empty value reads as unset. */
const char *accel__getenv(const char *name);

/* Read a whole regular file of at most max_size bytes into a NUL-terminated
 * buffer. Returns 0, or an errno value (EFBIG when too large). */
int accel__read_file(const char *path, size_t max_size, char **data, size_t *size);

/* 1 if path is a directory, 0 if it is something else, -errno if stat fails. */
int accel__path_is_dir(const char *path);

/* Append to `out` the names (not paths) of the *.json regular files (or
 * links to them) of dir, sorted with strcmp. Returns 0, an errno value on a
 * read error, or ENOMEM. */
int accel__list_json_files(const char *dir, accel__strlist *out);

/* Canonical absolute path (realpath), or NULL. Caller frees with accel__free. */
char *accel__realpath(const char *path);

/* The directory part of path ("." if none). Caller frees. */
char *accel__dirname(const char *path);

/* Join a and b with one '/'. Caller frees. */
char *accel__path_join(const char *a, const char *b);

/* The machine's bitness, 32 or 64. */
unsigned accel__os_bits(void);

#endif
