/* placement_support.c — see placement_support.h. */
#include "placement_support.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"

accel_pipeline *pipeline(const char *text)
{
    accel_pipeline *p = NULL;
    accel_result r = accel_pipeline_parse(text, strlen(text), "t.json", &p);
    if (r)
        print_error("%s\n", accel_last_error_message());
    assert_int_equal(r, ACCEL_SUCCESS);
    return p;
}

accel_plan *place_ok(const accel_topology *t, const accel_pipeline *p, const accel_place_options *o)
{
    accel_plan *plan = NULL;
    accel_result r = accel_place(t, p, o, &plan);
    if (r)
        print_error("%s\n", accel_last_error_message());
    assert_int_equal(r, ACCEL_SUCCESS);
    assert_non_null(plan);
    return plan;
}

void place_under_allocation_failures(const accel_topology *t, const accel_pipeline *p,
                                     const accel_place_options *o, bool infeasible_ok)
{
    long n;
    for (n = 1; n < 10000; n++) {
        accel_plan *plan = NULL;
        long live = accel__alloc_live();
        accel__alloc_fail_at(n);
        accel_result r = accel_place(t, p, o, &plan);
        accel__alloc_fail_at(0);
        if (r == ACCEL_SUCCESS || (infeasible_ok && r == ACCEL_ERROR_INFEASIBLE)) {
            assert_non_null(plan);
            char buf[64];
            assert_int_equal(accel_plan_describe(plan, true, buf, sizeof(buf), NULL), ACCEL_INCOMPLETE);
            accel_plan_destroy(plan);
            break;
        }
        assert_int_equal(r, ACCEL_ERROR_OUT_OF_HOST_MEMORY);
        assert_null(plan);
        assert_int_equal(accel__alloc_live(), live);
    }
    assert_true(n > 10);
}

void assert_near(double a, double b)
{
    if (fabs(a - b) > 1e-9 * (fabs(a) > 1 ? fabs(a) : 1)) {
        print_error("%.17g != %.17g\n", a, b);
        fail();
    }
}
