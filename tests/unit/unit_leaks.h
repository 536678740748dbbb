/* unit_leaks.h — a cmocka fixture that fails a test which leaves any
 * allocation of the loader's helpers behind (and resets failure injection). */
#ifndef ACCEL_UNIT_LEAKS_H
#define ACCEL_UNIT_LEAKS_H

#include "alloc.h"

static long ut_live_at_start;

static inline int ut_leak_setup(void **state)
{
    (void)state;
    ut_live_at_start = accel__alloc_live();
    return 0;
}

static inline int ut_leak_teardown(void **state)
{
    (void)state;
    accel__alloc_fail_at(0);
    assert_int_equal(accel__alloc_live(), ut_live_at_start);
    return 0;
}

#endif
