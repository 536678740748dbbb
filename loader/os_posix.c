/* os_posix.c — the platform layer for Linux and other POSIX systems. */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

const char *accel__getenv(const char *name)
{
    const char *v = secure_getenv(name);
    return (v && *v) ? v : NULL;
}

/* The fast path's buffer: every real manifest is far smaller. */
#define SMALL_FILE 8192

int accel__read_file(const char *path, size_t max_size, char **data, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is then
     * refused as not a regular file. No effect on regular files. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno;
    int err = 0;
    char *buf = NULL;

    /* Fast path, three system calls a file (open, read, close): a read
     * that returns less than the buffer has read a whole small file. One
     * that fills the buffer, returns nothing or fails takes the checked
     * path below, which looks at the file type and size first. Discovery
     * reads every manifest of every search directory, filtered or not, so
     * this is most of its cost. */
    char small[SMALL_FILE];
    ssize_t n;
    do
        n = read(fd, small, sizeof(small));
    while (n < 0 && errno == EINTR);
    if (n > 0 && (size_t)n < sizeof(small) && (size_t)n <= max_size) {
        if (!(buf = accel__malloc((size_t)n + 1))) {
            err = ENOMEM;
            goto out;
        }
        memcpy(buf, small, (size_t)n);
        buf[n] = '\0';
        *data = buf;
        *size = (size_t)n;
        buf = NULL;
        goto out;
    }

    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
        goto out;
    }
    if ((unsigned long long)st.st_size > max_size) {
        err = EFBIG;
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        err = errno;
        goto out;
    }
    size_t cap = (size_t)st.st_size, len = 0;
    buf = accel__malloc(cap + 1);
    if (!buf) {
        err = ENOMEM;
        goto out;
    }
    /* Read what fstat promised; a short read means the file shrank, and a
     * file that grew meanwhile is read as it was when we looked. */
    while (len < cap) {
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    buf = NULL;
out:
    accel__free(buf);
    close(fd);
    return err;
}

int accel__path_is_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int accel__list_json_files(const char *dir, accel__strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno;
    size_t first = out->count;
    int err = 0;
    struct dirent *e;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d))) {
            err = errno;
            break;
        }
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        /* d_type saves a stat per file; links and file systems that do
         * not fill it in are checked with stat. */
        if (e->d_type != DT_REG) {
            if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
                continue;
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
                continue;
        }
        if (accel__strlist_push(out, e->d_name)) {
            err = ENOMEM;
            break;
        }
    }
    closedir(d);
    if (!err && out->count - first > 1)
        qsort(out->items + first, out->count - first, sizeof(char *), cmp_str);
    return err;
}

char *accel__realpath(const char *path)
{
    char *r = realpath(path, NULL);
    if (!r)
        return NULL;
    char *copy = accel__strdup(r);
    free(r);
    if (!copy)
        errno = ENOMEM;
    return copy;
}

char *accel__dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return accel__strdup(".");
    if (slash == path)
        return accel__strdup("/");
    return accel__strndup(path, (size_t)(slash - path));
}

char *accel__path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    char *p = accel__malloc(la + 1 + lb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    size_t n = la;
    if (!(la == 1 && a[0] == '/'))
        p[n++] = '/';
    memcpy(p + n, b, lb + 1);
    return p;
}

unsigned accel__os_bits(void)
{
    return (unsigned)(sizeof(void *) * CHAR_BIT);
}
