/* alloc.h — the loader's one pair of allocation helpers.
 *
 * Every allocation the loader makes goes through these so that tests can
 * fail the Nth one (accel__alloc_fail_at) and count what is still live. */
#ifndef ACCEL_ALLOC_H
#define ACCEL_ALLOC_H

#include <stddef.h>

void *accel__malloc(size_t size);
void *accel__calloc(size_t count, size_t size);
void *accel__realloc(void *ptr, size_t size);
char *accel__strdup(const char *s);
char *accel__strndup(const char *s, size_t n);
void accel__free(void *ptr);

/* Test hooks (not exported from the shared library). Make the nth
 * allocation from now fail (1 = the next one); 0 disables. */
void accel__alloc_fail_at(long n);
/* Allocations made through the helpers that have not been freed. */
long accel__alloc_live(void);

#endif
