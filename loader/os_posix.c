/* os_posix.c — the platform layer for Linux and other POSIX systems. */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

const char *accel__getenv(const char *name)
{
    const char *v = secure_getenv(name);
    return (v && *v) ? v : NULL;
}

bool accel__os_is_secure(void)
{
    return getauxval(AT_SECURE) != 0;
}

int accel__read_file(const char *path, size_t max_size, char **data, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    int err = 0;
    char *buf = NULL;
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
    size_t cap = (size_t)st.st_size, len = 0;
    buf = accel__malloc(cap + 1);
    if (!buf) {
        err = ENOMEM;
        goto out;
    }
    /* The file may change size under us: read up to cap + 1 to notice growth. */
    for (;;) {
        ssize_t n = read(fd, buf + len, cap + 1 - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > cap) {
            err = EFBIG;
            goto out;
        }
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
    accel__strlist names = {0};
    int err = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        if (accel__strlist_push(&names, e->d_name)) {
            err = ENOMEM;
            goto out;
        }
    }
    qsort(names.items, names.count, sizeof(char *), cmp_str);
    for (size_t i = 0; i < names.count; i++) {
        char *full = accel__path_join(dir, names.items[i]);
        if (!full) {
            err = ENOMEM;
            goto out;
        }
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            accel__free(full);
            continue;
        }
        if (accel__strlist_push_owned(out, full)) {
            err = ENOMEM;
            goto out;
        }
    }
out:
    accel__strlist_free(&names);
    closedir(d);
    return err;
}

char *accel__realpath(const char *path)
{
    char *r = realpath(path, NULL);
    if (!r)
        return NULL;
    char *copy = accel__strdup(r);
    free(r);
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
