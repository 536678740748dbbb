/*
 * accel_safe_file.h — reading the small files a driver looks at (sysfs
 * attributes, /etc/machine-id) and checking the paths it hands to dlopen,
 * when any of them may be a FIFO, a device, a directory, a symbolic link
 * or enormous.
 *
 * Nothing here blocks: files are opened with O_NONBLOCK and refused before
 * the first read unless fstat says they are regular files (a symbolic link
 * is followed to what it names). Nothing allocates, so a driver may call
 * these where it must not (device_query). Thread-safe.
 */
#ifndef ACCEL_SAFE_FILE_H
#define ACCEL_SAFE_FILE_H

#include <stddef.h>

/*
 * Read at most size - 1 bytes of the regular file `path` into buf,
 * NUL-terminated (size > 0). Returns 0, or an errno value with `why`
 * (may be NULL) holding the reason for people: "a FIFO, not a regular
 * file", "No such file or directory". A longer file is cut at size - 1
 * bytes (*truncated, may be NULL, says so).
 */
int accel_safe_read_small(const char *path, char *buf, size_t size, int *truncated, char *why,
                          size_t why_size);

/*
 * Whether `path` names a regular file, without opening it: 0, or an errno
 * value (EISDIR for a directory, EINVAL for a FIFO, socket or device) with
 * the reason in `why`. For a path given to something that opens it blocking
 * and reads what it finds, such as dlopen.
 */
int accel_safe_check_regular(const char *path, char *why, size_t why_size);

#endif
