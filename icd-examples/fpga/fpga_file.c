/* fpga_file.c — see fpga_file.h. */
#include "fpga_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fpga_json.h"

accel_result fpga__read_json_file(const char *path, const char *what, char **text, size_t *size, char *msg,
                                  size_t msg_size)
{
    /* O_NONBLOCK: a FIFO without a writer must not hang the open; it is
     * then refused, as a device is, before anything is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "%s: cannot read %s: %s", path, what, strerror(errno));
        if (fd >= 0)
            close(fd);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (!S_ISREG(st.st_mode)) {
        const char *kind = S_ISDIR(st.st_mode)    ? "a directory"
                           : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a regular file";
        if (msg && msg_size)
            snprintf(msg, msg_size, "%s: %s must be a regular file, and this is %s", path, what, kind);
        close(fd);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (st.st_size > (off_t)FPGA_JSON_MAX_SIZE) {
        if (msg && msg_size)
            snprintf(msg, msg_size, "%s: %s must be at most 1 MiB, and this is %lld bytes", path, what,
                     (long long)st.st_size);
        close(fd);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (msg && msg_size)
                snprintf(msg, msg_size, "%s: cannot read %s: %s", path, what, strerror(errno));
            close(fd);
            free(buf);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *text = buf;
    *size = got;
    return ACCEL_SUCCESS;
}
