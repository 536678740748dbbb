/* os_posix.c — the platform layer for Linux and other POSIX systems. */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
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

static bool parse_fail(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool parse_fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return false;
}

bool accel__parse_uint(const char *s, unsigned flags, uint64_t min, uint64_t max, uint64_t *value, char *why,
                       size_t why_size)
{
    if (why_size)
        why[0] = '\0';
    if (!s || !*s)
        return parse_fail(why, why_size, "empty");
    if (*s == '-')
        return parse_fail(why, why_size, "negative");
    if (*s < '0' || *s > '9')
        return parse_fail(why, why_size, "not a decimal number");
    /* Digits past the largest uint64_t still count as "more than max",
     * not as junk: remember the overflow and keep scanning. */
    uint64_t v = 0;
    bool over = false;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    unsigned shift = 0;
    if ((flags & ACCEL__UINT_SIZE_SUFFIX) && *p) {
        shift = *p == 'K' ? 10 : *p == 'M' ? 20 : *p == 'G' ? 30 : 0;
        if (shift)
            p++;
    }
    if (*p)
        return parse_fail(why, why_size, "\"%.16s%s\" after the number%s", p, strlen(p) > 16 ? "..." : "",
                          (flags & ACCEL__UINT_SIZE_SUFFIX) ? " (the suffixes are K, M and G)" : "");
    if (!over && shift) {
        if (v > UINT64_MAX >> shift)
            over = true;
        else
            v <<= shift;
    }
    if (over || v > max)
        return parse_fail(why, why_size, "more than %llu", (unsigned long long)max);
    if (v < min)
        return parse_fail(why, why_size, "less than %llu", (unsigned long long)min);
    *value = v;
    return true;
}

uint64_t accel__os_physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return 0;
    return (uint64_t)pages > UINT64_MAX / (uint64_t)page ? UINT64_MAX : (uint64_t)pages * (uint64_t)page;
}

/* The kind of the last file refused as not regular, for accel__file_strerror. */
static _Thread_local mode_t last_kind;
static _Thread_local char file_reason[64];

static const char *kind_name(mode_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFIFO:
        return "a FIFO";
    case S_IFCHR:
        return "a character device";
    case S_IFBLK:
        return "a block device";
    case S_IFSOCK:
        return "a socket";
    case S_IFDIR:
        return "a directory";
    case S_IFLNK:
        return "a symbolic link";
    default:
        return "not a regular file";
    }
}

/* 0 for a regular file, else EISDIR or EINVAL (kind kept for the message). */
static int regular_or_why(const struct stat *st)
{
    if (S_ISREG(st->st_mode))
        return 0;
    last_kind = st->st_mode & S_IFMT;
    return S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
}

const char *accel__file_strerror(int err)
{
    if (err == EINVAL && last_kind) {
        snprintf(file_reason, sizeof(file_reason), "%s, not a regular file", kind_name(last_kind));
        return file_reason;
    }
    if (err == EINVAL)
        return "not a regular file";
    return strerror(err); /* EISDIR: "Is a directory" */
}

int accel__check_regular(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno;
    return regular_or_why(&st);
}

/* What a file that reports no size (in /proc) is read up to. */
#define SMALL_FILE 8192

int accel__read_file(const char *path, size_t max_size, char **data, size_t *size)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOCTTY: a
     * terminal named here never becomes ours. No effect on regular files.
     * Four system calls a file (open, fstat, read, close): discovery reads
     * every manifest of every search directory, so this is most of its
     * cost, and the fstat before the first read is what keeps a FIFO with
     * a writer, or a device, from being read at all. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno;
    int err = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        err = errno;
        goto out;
    }
    if ((err = regular_or_why(&st)))
        goto out;
    /* The apparent size: a sparse 64 GiB file is refused here unread. */
    if ((unsigned long long)st.st_size > max_size) {
        err = EFBIG;
        goto out;
    }
    /* Read what fstat promised: a short read means the file shrank, and a
     * file that grew meanwhile is read as it was when we looked. Files of
     * /proc report 0 bytes: they are read up to a small bound. */
    size_t cap = (size_t)st.st_size, len = 0;
    if (cap == 0)
        cap = max_size < SMALL_FILE ? max_size : SMALL_FILE - 1;
    buf = accel__malloc(cap + 1);
    if (!buf) {
        err = ENOMEM;
        goto out;
    }
    while (len < cap) {
        ssize_t n = read(fd, buf + len, cap - len);
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
    if (len > max_size) {
        err = EFBIG;
        goto out;
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

__attribute__((format(printf, 4, 5))) static void skip(accel__skip_fn skipped, void *ctx, const char *name,
                                                       const char *fmt, ...)
{
    if (!skipped)
        return;
    char reason[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    skipped(ctx, name, reason);
}

static const char *dtype_name(unsigned char t)
{
    switch (t) {
    case DT_DIR:
        return "a directory";
    case DT_FIFO:
        return "a FIFO";
    case DT_CHR:
        return "a character device";
    case DT_BLK:
        return "a block device";
    case DT_SOCK:
        return "a socket";
    default:
        return "not a regular file";
    }
}

int accel__list_json_files(const char *dir, accel__strlist *out, accel__skip_fn skipped, void *ctx)
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
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0) {
            skip(skipped, ctx, e->d_name, "the name does not end in .json");
            continue;
        }
        /* d_type saves a stat per file; links and file systems that do
         * not fill it in are checked with stat. */
        if (e->d_type != DT_REG) {
            if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN) {
                skip(skipped, ctx, e->d_name, "%s, not a regular file", dtype_name(e->d_type));
                continue;
            }
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
                skip(skipped, ctx, e->d_name,
                     e->d_type == DT_LNK ? "a symbolic link that leads nowhere: %s" : "cannot stat: %s",
                     strerror(errno));
                continue;
            }
            if (!S_ISREG(st.st_mode)) {
                skip(skipped, ctx, e->d_name,
                     e->d_type == DT_LNK ? "a symbolic link to %s, not to a regular file" : "%s, not a regular file",
                     kind_name(st.st_mode));
                continue;
            }
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
