/* util.c — string lists, vectors and formatting helpers. */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

int accel__grow(void **items, size_t *capacity, size_t need, size_t elem)
{
    if (need <= *capacity)
        return 0;
    size_t cap = *capacity ? *capacity : 8;
    while (cap < need)
        cap *= 2;
    void *p = accel__realloc(*items, cap * elem);
    if (!p)
        return ENOMEM;
    *items = p;
    *capacity = cap;
    return 0;
}

int accel__strlist_push_owned(accel__strlist *list, char *s)
{
    if (!s || accel__grow((void **)&list->items, &list->capacity, list->count + 1, sizeof(char *))) {
        accel__free(s);
        return ENOMEM;
    }
    list->items[list->count++] = s;
    return 0;
}

int accel__strlist_push(accel__strlist *list, const char *s)
{
    return accel__strlist_push_owned(list, accel__strdup(s));
}

bool accel__strlist_contains(const accel__strlist *list, const char *s)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i], s) == 0)
            return true;
    return false;
}

void accel__strlist_free(accel__strlist *list)
{
    for (size_t i = 0; i < list->count; i++)
        accel__free(list->items[i]);
    accel__free(list->items);
    list->items = NULL;
    list->count = list->capacity = 0;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int accel__split(const char *s, char sep, accel__strlist *list)
{
    while (*s) {
        const char *end = strchr(s, sep);
        if (!end)
            end = s + strlen(s);
        const char *b = s, *e = end;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        if (e > b && accel__strlist_push_owned(list, accel__strndup(b, (size_t)(e - b))))
            return ENOMEM;
        s = *end ? end + 1 : end;
    }
    return 0;
}

void accel__fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

static bool parse_u16(const char **p, unsigned *out)
{
    const char *s = *p;
    unsigned v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (unsigned)(*s - '0');
        if (v > 0xffff)
            return false;
        s++;
    }
    *out = v;
    *p = s;
    return true;
}

bool accel__parse_version(const char *s, unsigned *major, unsigned *minor, unsigned *patch)
{
    unsigned pa = 0;
    if (!parse_u16(&s, major) || *s++ != '.' || !parse_u16(&s, minor))
        return false;
    if (*s == '.') {
        s++;
        if (!parse_u16(&s, &pa))
            return false;
    }
    if (*s)
        return false;
    if (patch)
        *patch = pa;
    return true;
}
