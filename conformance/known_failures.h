/* known_failures.h — the known-failure list of accel-conformance.
 *
 * A text file, one entry per line (docs/conformance.md):
 *
 *     # comment
 *     DRIVER  VERSION  DEVICE  TEST  [REASON...]
 *
 * The four first fields are fnmatch(3) globs over the driver's name, the
 * driver's version string, the device's name and "group.test". Fields are
 * separated by spaces or tabs; a field that holds spaces is written in
 * double quotes (\" and \\ inside). The rest of the line, trimmed, is the
 * reason. Blank lines and lines whose first non-blank character is '#' are
 * ignored.
 *
 * The parser is a pure function of its input (no I/O, no global state), so
 * that it can be fuzzed (tests/conformance/fuzz_known_failures.c). */
#ifndef ACCEL_CONFORMANCE_KNOWN_FAILURES_H
#define ACCEL_CONFORMANCE_KNOWN_FAILURES_H

#include <stddef.h>

/* The longest line accepted, in bytes (without the newline). */
#define CONF_KF_MAX_LINE 4096

typedef struct conf_kf_entry {
    char *driver;
    char *version;
    char *device;
    char *test;
    char *reason;  /* "" when none */
    unsigned line; /* from 1 */
} conf_kf_entry;

typedef struct conf_kf_list {
    conf_kf_entry *entries;
    size_t count;
    char *source; /* the file name, for messages */
} conf_kf_list;

/*
 * Parse `size` bytes of text. On success returns 0 and fills *out (free it
 * with conf_kf_free). On error returns -1, leaves *out empty, and writes
 * "SOURCE:LINE: what is wrong" into err; -2 when out of memory.
 */
int conf_kf_parse(const char *text, size_t size, const char *source, conf_kf_list *out, char *err,
                  size_t err_size);

void conf_kf_free(conf_kf_list *list);

/* The first entry that matches, or NULL. Any argument may be "" but not NULL. */
const conf_kf_entry *conf_kf_match(const conf_kf_list *list, const char *driver, const char *version,
                                   const char *device, const char *test);

#endif
