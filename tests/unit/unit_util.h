/* unit_util.h — temporary directories and small file helpers shared by the
 * unit tests. Header-only: each test executable is built from one .c file. */
#ifndef ACCEL_UNIT_UTIL_H
#define ACCEL_UNIT_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create every missing component of path (like mkdir -p). 0 or -1. */
static inline int ut_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(buf, 0755) == 0 || errno == EEXIST) ? 0 : -1;
}

/*
 * Make a fresh private directory for one test and write its path to out
 * (PATH_MAX bytes). Lives under the build tree's tests/tmp when the test
 * runs from meson (so a failed run leaves its files where the build is),
 * else under $TMPDIR or /tmp. 0 or -1.
 */
static inline int ut_tmpdir(char *out, const char *tag)
{
    const char *root = getenv("ACCEL_TEST_BUILD_ROOT");
    char base[PATH_MAX];
    if (root && *root)
        snprintf(base, sizeof(base), "%s/tests/tmp", root);
    else
        snprintf(base, sizeof(base), "%s", getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (ut_mkdir_p(base) != 0)
        return -1;
    if (snprintf(out, PATH_MAX, "%s/%s-XXXXXX", base, tag) >= PATH_MAX)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

static inline int ut_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Remove a directory tree made by ut_tmpdir. Links are removed, not followed. */
static inline void ut_rm_rf(const char *path)
{
    if (path && *path)
        nftw(path, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write size bytes to dir/name (dir may be NULL: name is then the whole path). 0 or -1. */
static inline int ut_write(const char *dir, const char *name, const void *data, size_t size)
{
    char path[PATH_MAX];
    int len = dir ? snprintf(path, sizeof(path), "%s/%s", dir, name) : snprintf(path, sizeof(path), "%s", name);
    if (len < 0 || (size_t)len >= sizeof(path))
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, size, f);
    int err = fclose(f);
    return (n == size && err == 0) ? 0 : -1;
}

static inline int ut_write_str(const char *dir, const char *name, const char *text)
{
    return ut_write(dir, name, text, strlen(text));
}

/* snprintf into a PATH_MAX buffer and return it, for building paths inline. */
static inline char *ut_path(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline char *ut_path(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, PATH_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

/* Read a whole file into a malloc'ed buffer (NUL-terminated, *size without
 * the NUL). NULL on failure. */
static inline char *ut_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap)
            break;
        char *bigger = realloc(buf, 2 * cap + 1);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[len] = '\0';
        *size = len;
    }
    return buf;
}

static inline int ut_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the regular files in dir whose name starts with prefix, sorted,
 * as a malloc'ed array of malloc'ed strings (free with ut_free_names).
 * Returns the count, or -1 if dir cannot be read. */
static inline long ut_list_names(const char *dir, const char *prefix, char ***names)
{
    DIR *d = opendir(dir);
    *names = NULL;
    if (!d)
        return -1;
    long n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char full[PATH_MAX];
        struct stat st;
        int len = snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof(full) || stat(full, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **grown = realloc(*names, (size_t)cap * sizeof(char *));
            if (!grown)
                abort();
            *names = grown;
        }
        if (!((*names)[n++] = strdup(e->d_name)))
            abort();
    }
    closedir(d);
    if (n)
        qsort(*names, (size_t)n, sizeof(char *), ut_cmp_names);
    return n;
}

static inline void ut_free_names(char **names, long n)
{
    for (long i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The source tree, from meson's test environment, or "." when run by hand
 * from the source root. */
static inline const char *ut_source_root(void)
{
    const char *s = getenv("ACCEL_TEST_SOURCE_ROOT");
    return (s && *s) ? s : ".";
}

#endif
