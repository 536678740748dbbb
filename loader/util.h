/* util.h — small internal containers and string helpers. */
#ifndef ACCEL_UTIL_H
#define ACCEL_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable list of owned strings. */
typedef struct accel__strlist {
    char **items;
    size_t count;
    size_t capacity;
} accel__strlist;

/* 0 or ENOMEM. push copies s; push_owned takes ownership (and frees it on
 * failure). */
int accel__strlist_push(accel__strlist *list, const char *s);
int accel__strlist_push_owned(accel__strlist *list, char *s);
bool accel__strlist_contains(const accel__strlist *list, const char *s);
void accel__strlist_free(accel__strlist *list);

/* Split s at sep into list, dropping empty items and trimming blanks.
 * 0 or ENOMEM. */
int accel__split(const char *s, char sep, accel__strlist *list);

/* Grow a vector of element size elem to hold at least need elements. 0 or ENOMEM. */
int accel__grow(void **items, size_t *capacity, size_t need, size_t elem);

/* snprintf into a fixed buffer, always NUL-terminated; truncates. */
void accel__fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse "MAJOR.MINOR[.PATCH]" (each 0..65535) into ACCEL_MAKE_VERSION. */
bool accel__parse_version(const char *s, unsigned *major, unsigned *minor, unsigned *patch);

#endif
