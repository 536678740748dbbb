/* search.h — where manifests are found (ARCHITECTURE.md §5). */
#ifndef ACCEL_SEARCH_H
#define ACCEL_SEARCH_H

#include "accel/accel.h"
#include "log.h"
#include "util.h"

/* One place a manifest may come from. */
typedef struct accel__search_entry {
    char *path;   /* a manifest file */
    char *reason; /* non-NULL: the path could not be used (missing, unreadable) */
} accel__search_entry;

typedef struct accel__search_result {
    accel__search_entry *entries;
    size_t count;
    size_t capacity;
} accel__search_result;

/*
 * Build the ordered list of manifest files.
 *  - explicit (instance options), when non-NULL, replaces everything;
 *  - else ACCEL_DRIVER_FILES replaces discovery;
 *  - else ACCEL_ADD_DRIVER_FILES first, then the default directories:
 *    $XDG_CONFIG_HOME (or $HOME/.config), $XDG_CONFIG_DIRS (or /etc/xdg),
 *    SYSCONFDIR, $XDG_DATA_HOME (or $HOME/.local/share), $XDG_DATA_DIRS
 *    (or /usr/local/share:/usr/share), DATADIR; each + "/accel/icd.d".
 * Directories give their *.json files in strcmp order. A file reached twice
 * under the same name (same real directory, or the same real path when a
 * file is named directly) is listed once; a second name for it (a link) is
 * not recognized here, and the duplicate driver name is reported instead. Entries of explicit lists that do not
 * exist are listed with a reason; missing default directories are not.
 * Returns SUCCESS or ACCEL_ERROR_OUT_OF_HOST_MEMORY.
 */
accel_result accel__search(const accel__strlist *explicit_paths, const accel__logger *lg,
                           accel__search_result *out);

/* The default directories, in order, for documentation and tests. */
accel_result accel__search_default_dirs(accel__strlist *out);

void accel__search_result_free(accel__search_result *r);

#endif
