/* accel_safe_file.c — see accel_safe_file.h. */
#include "accel_safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFDIR: return "a directory";
    default: return "something";
    }
}

static int say(char *why, size_t why_size, int err, const struct stat *st)
{
    if (why && why_size) {
        if (st)
            snprintf(why, why_size, "%s, not a regular file", kind_name(st->st_mode));
        else
            snprintf(why, why_size, "%s", strerror(err));
    }
    return err;
}

static int regular(const struct stat *st, char *why, size_t why_size)
{
    if (S_ISREG(st->st_mode))
        return 0;
    return say(why, why_size, S_ISDIR(st->st_mode) ? EISDIR : EINVAL, st);
}

int accel_safe_read_small(const char *path, char *buf, size_t size, int *truncated, char *why,
                          size_t why_size)
{
    if (truncated)
        *truncated = 0;
    if (!size)
        return say(why, why_size, EINVAL, NULL);
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return say(why, why_size, errno, NULL);
    struct stat st;
    int err = fstat(fd, &st) != 0 ? say(why, why_size, errno, NULL) : regular(&st, why, why_size);
    size_t len = 0;
    while (!err && len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = say(why, why_size, errno, NULL);
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    if (!err && len == size - 1 && truncated) {
        char extra;
        ssize_t n;
        do
            n = read(fd, &extra, 1);
        while (n < 0 && errno == EINTR);
        *truncated = n > 0;
    }
    close(fd);
    buf[err ? 0 : len] = '\0';
    return err;
}

int accel_safe_check_regular(const char *path, char *why, size_t why_size)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return say(why, why_size, errno, NULL);
    return regular(&st, why, why_size);
}
