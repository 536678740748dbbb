/* placement_support.h — what the placement tests share: pipelines parsed
 * from text, placements expected to succeed, placement under allocation
 * failures, and a comparison of costs.
 *
 * Helpers that cannot go on fail the running cmocka test instead of
 * returning an error. */
#ifndef ACCEL_TEST_PLACEMENT_SUPPORT_H
#define ACCEL_TEST_PLACEMENT_SUPPORT_H

#include <stdbool.h>

#include "placement.h"

/* The pipeline of JSON `text`, parsed as the file "t.json". */
accel_pipeline *pipeline(const char *text);
/* accel_place(t, p, o), which must succeed with a plan; the caller
 * destroys it. */
accel_plan *place_ok(const accel_topology *t, const accel_pipeline *p, const accel_place_options *o);
/* accel_place(t, p, o) with its nth allocation failing, for n = 1, 2, ...
 * until it succeeds (or, with infeasible_ok, finds the pipeline
 * infeasible): each failure is ACCEL_ERROR_OUT_OF_HOST_MEMORY with no plan
 * and nothing left allocated; the plan at the end is whole (its text
 * truncates where asked); and more than 10 allocations failed on the way. */
void place_under_allocation_failures(const accel_topology *t, const accel_pipeline *p,
                                     const accel_place_options *o, bool infeasible_ok);
/* a == b within a relative 1e-9. */
void assert_near(double a, double b);

#endif
