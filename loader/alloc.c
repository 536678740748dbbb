/* alloc.c — allocation helpers with failure injection for tests. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown; /* 0: disabled; n: the nth call fails */
static atomic_long live;

static int should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

void accel__alloc_fail_at(long n)
{
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

long accel__alloc_live(void)
{
    return atomic_load(&live);
}

void *accel__malloc(size_t size)
{
    if (should_fail())
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *accel__calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return p;
}

void *accel__realloc(void *ptr, size_t size)
{
    if (!ptr)
        return accel__malloc(size);
    if (should_fail())
        return NULL;
    return realloc(ptr, size ? size : 1);
}

char *accel__strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = accel__malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *accel__strdup(const char *s)
{
    return accel__strndup(s, (size_t)-1);
}

void accel__free(void *ptr)
{
    if (!ptr)
        return;
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    free(ptr);
}
