/* support_env.h — environment variables a test changes for a while and
 * puts back, for the loader's tests (support.h) and the tests that drive
 * an example driver directly (tests/icd). Link support_env.c.
 *
 * A variable is pushed (set or unset, its value before remembered) and
 * popped (put back as it was). The stack nests: a group setup's variables
 * stay while each case pushes and pops its own. With ts_env_case_setup and
 * ts_env_case_teardown as a case's cmocka fixtures (or called from its own
 * fixtures), whatever the case pushed is put back after it, also when an
 * assertion ended it early, so every case starts from the environment the
 * one before found, whatever their order. */
#ifndef ACCEL_TEST_SUPPORT_ENV_H
#define ACCEL_TEST_SUPPORT_ENV_H

#include <stddef.h>

/* Set name to value (NULL: unset it), remembering its value before. At
 * most 16 variables at once; more fails the test. */
void ts_env_push(const char *name, const char *value);
/* Put back every pushed variable, the last pushed first. */
void ts_env_pop(void);
/* How many variables are pushed now; ts_env_pop_to(depth) puts back only
 * those pushed after that. */
size_t ts_env_depth(void);
void ts_env_pop_to(size_t depth);

/* cmocka fixtures: the setup notes the depth, the teardown pops to it. */
int ts_env_case_setup(void **state);
int ts_env_case_teardown(void **state);

#endif
