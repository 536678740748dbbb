/* search.c — manifest discovery: environment overrides and XDG paths. */
#include "search.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "os.h"

#ifndef ACCEL_SYSCONFDIR
#define ACCEL_SYSCONFDIR "/etc"
#endif
#ifndef ACCEL_DATADIR
#define ACCEL_DATADIR "/usr/share"
#endif

#define ICD_SUBDIR "accel/icd.d"

void accel__search_result_free(accel__search_result *r)
{
    for (size_t i = 0; i < r->count; i++) {
        accel__free(r->entries[i].path);
        accel__free(r->entries[i].reason);
    }
    accel__free(r->entries);
    memset(r, 0, sizeof(*r));
}

/*
 * What has been listed, by real path: directories expanded, and files named
 * directly. A file reached twice is listed once without a list of every
 * file: a directory's files are unique within it, so only a directory seen
 * before, or a file named directly, can repeat one.
 */
typedef struct seen_set {
    accel__strlist dirs;
    accel__strlist files;
} seen_set;

/* Add one entry; takes ownership of path and reason. */
static int add_entry(accel__search_result *r, char *path, char *reason)
{
    if (!path)
        goto fail;
    if (accel__grow((void **)&r->entries, &r->capacity, r->count + 1, sizeof(*r->entries)))
        goto fail;
    r->entries[r->count].path = path;
    r->entries[r->count].reason = reason;
    r->count++;
    return 0;
fail:
    accel__free(path);
    accel__free(reason);
    return ENOMEM;
}

/* Add `path` as an entry that cannot be used, with why. 0 or ENOMEM. */
static int add_rejected(accel__search_result *r, const char *path, const char *what, int err)
{
    char buf[256];
    accel__fmt(buf, sizeof(buf), "%s: %s", what, strerror(err));
    char *copy = accel__strdup(path), *reason = accel__strdup(buf);
    if (!copy || !reason) {
        accel__free(copy);
        accel__free(reason);
        return ENOMEM;
    }
    return add_entry(r, copy, reason);
}

static bool ends_with_json(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && strcmp(s + n - 5, ".json") == 0;
}

/* Whether a file named directly (by its real path) was already listed. */
static int file_seen(const seen_set *seen, const char *real, bool *dup)
{
    *dup = accel__strlist_contains(&seen->files, real);
    if (*dup || !ends_with_json(real))
        return 0;
    char *dir = accel__dirname(real);
    if (!dir)
        return ENOMEM;
    *dup = accel__strlist_contains(&seen->dirs, dir);
    accel__free(dir);
    return 0;
}

/* Every entry of a manifest directory left out is named in the debug log. */
struct skip_ctx {
    const accel__logger *lg;
    const char *dir;
};

static void log_skipped(void *ctx, const char *name, const char *reason)
{
    const struct skip_ctx *sc = ctx;
    accel__log(sc->lg, ACCEL_LOG_DEBUG, "search: %s/%s skipped: %s", sc->dir, name, reason);
}

/* Expand one path: a file is itself, a directory its *.json files. When
 * `explicit_entry`, a missing path is recorded with a reason.
 *
 * Identity costs one realpath() per path given, not per manifest, which
 * keeps discovery at four system calls per manifest (open, fstat, read,
 * close) once the directory is listed. */
static int expand(accel__search_result *r, seen_set *seen, const char *path, bool explicit_entry,
                  const accel__logger *lg)
{
    int isdir = accel__path_is_dir(path);
    if (isdir < 0) {
        if (!explicit_entry) {
            accel__log(lg, ACCEL_LOG_DEBUG, "search: %s: %s", path, strerror(-isdir));
            return 0;
        }
        return add_rejected(r, path, "cannot use path", -isdir);
    }
    char *real = accel__realpath(path);
    if (!real) {
        int err = errno;
        if (err == ENOMEM)
            return ENOMEM;
        if (!explicit_entry) {
            accel__log(lg, ACCEL_LOG_DEBUG, "search: %s: %s", path, strerror(err));
            return 0;
        }
        return add_rejected(r, path, "cannot resolve path", err);
    }
    if (!isdir && !explicit_entry) {
        /* A default search location must be a directory. */
        accel__log(lg, ACCEL_LOG_WARN, "search: %s is not a directory; ignored", path);
        accel__free(real);
        return 0;
    }
    if (!isdir) {
        bool dup;
        int err = file_seen(seen, real, &dup);
        if (!err && dup)
            accel__log(lg, ACCEL_LOG_DEBUG, "search: %s was already listed", path);
        else if (!err && !(err = accel__strlist_push_owned(&seen->files, real)))
            return add_entry(r, accel__strdup(path), NULL);
        accel__free(real);
        return err;
    }
    if (accel__strlist_contains(&seen->dirs, real)) {
        accel__log(lg, ACCEL_LOG_DEBUG, "search: %s was already searched", path);
        accel__free(real);
        return 0;
    }

    accel__strlist names = {0};
    struct skip_ctx sc = {lg, path};
    int err = accel__list_json_files(path, &names, log_skipped, &sc);
    if (err) {
        accel__free(real);
        accel__strlist_free(&names);
        if (err == ENOMEM)
            return ENOMEM;
        /* A listed directory becomes an entry with its reason (logged once,
         * with the other rejections); a default one is only logged. */
        if (explicit_entry)
            return add_rejected(r, path, "cannot read directory", err);
        accel__log(lg, ACCEL_LOG_WARN, "search: cannot read directory %s: %s", path, strerror(err));
        return 0;
    }
    accel__log(lg, ACCEL_LOG_DEBUG, "search: %s: %zu manifest(s)", path, names.count);
    for (size_t i = 0; !err && i < names.count; i++) {
        if (seen->files.count) {
            char *identity = accel__path_join(real, names.items[i]);
            if (!identity) {
                err = ENOMEM;
                break;
            }
            bool dup = accel__strlist_contains(&seen->files, identity);
            accel__free(identity);
            if (dup)
                continue;
        }
        err = add_entry(r, accel__path_join(path, names.items[i]), NULL);
    }
    if (!err)
        err = accel__strlist_push_owned(&seen->dirs, real);
    else
        accel__free(real);
    accel__strlist_free(&names);
    return err;
}

static int expand_list(accel__search_result *r, seen_set *seen, const accel__strlist *paths,
                       const accel__logger *lg)
{
    for (size_t i = 0; i < paths->count; i++)
        if (expand(r, seen, paths->items[i], true, lg))
            return ENOMEM;
    return 0;
}

/* Append dir + "/accel/icd.d" for each entry of a ':' list. */
static int push_subdirs(accel__strlist *out, const char *list)
{
    accel__strlist parts = {0};
    int err = accel__split(list, ':', &parts);
    for (size_t i = 0; !err && i < parts.count; i++) {
        /* XDG: relative entries are invalid and ignored. */
        if (parts.items[i][0] != '/')
            continue;
        err = accel__strlist_push_owned(out, accel__path_join(parts.items[i], ICD_SUBDIR));
    }
    accel__strlist_free(&parts);
    return err;
}

static int push_home_or_xdg(accel__strlist *out, const char *xdg_var, const char *home_suffix)
{
    const char *xdg = accel__getenv(xdg_var);
    if (xdg && xdg[0] == '/')
        return accel__strlist_push_owned(out, accel__path_join(xdg, ICD_SUBDIR));
    const char *home = accel__getenv("HOME");
    if (!home || home[0] != '/')
        return 0;
    char *base = accel__path_join(home, home_suffix);
    if (!base)
        return ENOMEM;
    int err = accel__strlist_push_owned(out, accel__path_join(base, ICD_SUBDIR));
    accel__free(base);
    return err;
}

accel_result accel__search_default_dirs(accel__strlist *out)
{
    const char *v;
    int err = push_home_or_xdg(out, "XDG_CONFIG_HOME", ".config");
    if (!err)
        err = push_subdirs(out, (v = accel__getenv("XDG_CONFIG_DIRS")) ? v : "/etc/xdg");
    if (!err)
        err = accel__strlist_push_owned(out, accel__path_join(ACCEL_SYSCONFDIR, ICD_SUBDIR));
    if (!err)
        err = push_home_or_xdg(out, "XDG_DATA_HOME", ".local/share");
    if (!err)
        err = push_subdirs(out, (v = accel__getenv("XDG_DATA_DIRS")) ? v : "/usr/local/share:/usr/share");
    if (!err)
        err = accel__strlist_push_owned(out, accel__path_join(ACCEL_DATADIR, ICD_SUBDIR));
    return err ? ACCEL_ERROR_OUT_OF_HOST_MEMORY : ACCEL_SUCCESS;
}

accel_result accel__search(const accel__strlist *explicit_paths, const accel__logger *lg,
                           accel__search_result *out)
{
    seen_set seen = {0};
    accel__strlist list = {0}, dirs = {0};
    int err = 0;
    const char *env;

    memset(out, 0, sizeof(*out));
    if (explicit_paths) {
        accel__log(lg, ACCEL_LOG_INFO, "search: using the %zu path(s) given by the application",
                   explicit_paths->count);
        err = expand_list(out, &seen, explicit_paths, lg);
        goto done;
    }
    if ((env = accel__getenv("ACCEL_DRIVER_FILES"))) {
        accel__log(lg, ACCEL_LOG_INFO, "search: ACCEL_DRIVER_FILES=%s replaces discovery", env);
        err = accel__split(env, ':', &list);
        if (!err)
            err = expand_list(out, &seen, &list, lg);
        goto done;
    }
    if ((env = accel__getenv("ACCEL_ADD_DRIVER_FILES"))) {
        accel__log(lg, ACCEL_LOG_INFO, "search: ACCEL_ADD_DRIVER_FILES=%s searched first", env);
        err = accel__split(env, ':', &list);
        if (!err)
            err = expand_list(out, &seen, &list, lg);
        if (err)
            goto done;
    }
    if (accel__search_default_dirs(&dirs)) {
        err = ENOMEM;
        goto done;
    }
    for (size_t i = 0; !err && i < dirs.count; i++) {
        /* The same directory may be reached twice (datadir is also in
         * XDG_DATA_DIRS); expand() searches it once. */
        err = expand(out, &seen, dirs.items[i], false, lg);
    }
done:
    accel__strlist_free(&seen.dirs);
    accel__strlist_free(&seen.files);
    accel__strlist_free(&list);
    accel__strlist_free(&dirs);
    if (err) {
        accel__search_result_free(out);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    return ACCEL_SUCCESS;
}
