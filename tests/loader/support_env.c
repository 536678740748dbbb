/* support_env.c — the stack of environment variables tests change
 * (support_env.h). */
#include "support_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct {
    char *name, *value;
} pushed[16];
static size_t pushed_count;
/* The depth at the start of the running case (ts_env_case_setup). */
static size_t case_depth;

static void put(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

void ts_env_push(const char *name, const char *value)
{
    if (pushed_count == sizeof(pushed) / sizeof(pushed[0]))
        fail_msg("ts_env_push: more than %zu variables", pushed_count);
    const char *old = getenv(name);
    pushed[pushed_count].name = strdup(name);
    pushed[pushed_count].value = old ? strdup(old) : NULL;
    if (!pushed[pushed_count].name || (old && !pushed[pushed_count].value))
        fail_msg("out of memory");
    pushed_count++;
    put(name, value);
}

void ts_env_pop_to(size_t depth)
{
    while (pushed_count > depth) {
        pushed_count--;
        put(pushed[pushed_count].name, pushed[pushed_count].value);
        free(pushed[pushed_count].name);
        free(pushed[pushed_count].value);
    }
}

void ts_env_pop(void)
{
    ts_env_pop_to(0);
}

size_t ts_env_depth(void)
{
    return pushed_count;
}

int ts_env_case_setup(void **state)
{
    (void)state;
    case_depth = pushed_count;
    return 0;
}

int ts_env_case_teardown(void **state)
{
    (void)state;
    ts_env_pop_to(case_depth);
    return 0;
}
