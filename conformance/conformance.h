/* conformance.h — what the groups of accel-conformance share.
 *
 * The suite runs one cmocka group per (group, device). Every test is a
 * function `void test(conf_ctx *c)` that reaches its device through c, makes
 * its objects through the functions below (so that they are released even
 * when the test stops half-way), and reports through CHECK-style macros
 * that say what was expected, what happened and what the loader's detail
 * message was. A feature the driver reports as unsupported makes the test
 * skip with that reason (conf_skip); nothing else skips.
 *
 * Tests never wait without a bound: conf.wait_ns bounds every fence wait,
 * and a watchdog stops the suite when one test runs longer than
 * conf.test_timeout_s (a hang in a driver). */
#ifndef ACCEL_CONFORMANCE_H
#define ACCEL_CONFORMANCE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <accel/accel.h>

#include "known_failures.h"

#define CONF_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- results ---- */

typedef enum conf_status {
    CONF_NOT_RUN = 0,
    CONF_RUNNING,
    CONF_PASSED,
    CONF_FAILED,
    CONF_SKIPPED,
    CONF_KNOWN_FAILURE,
} conf_status;

typedef struct conf_result {
    const char *group;
    const char *test;
    conf_status status;
    char message[1536];         /* why it failed or was skipped */
    const conf_kf_entry *known; /* the known-failure entry that matched */
    double seconds;
} conf_result;

/* One device under test (the suite's instance holds it). */
typedef struct conf_device {
    uint32_t number; /* position among the tested devices */
    accel_device *device;
    accel_device_info info; /* strings belong to the instance */
    char label[96];         /* "cpu:0" */
    char uuid[33];
    /* Copied from the driver, so that they outlive any instance. */
    char *driver_name;
    char *driver_version; /* "" when the driver gives none */
    char *library_path;
    char *manifest_path;
    uint32_t interface_version;
    uint32_t driver_device_count;
    conf_result *results;
    size_t result_count, result_capacity;
    unsigned passed, failed, skipped, known;
} conf_device;

/* Fault hooks: how to make a driver lose its device (docs/conformance.md). */
typedef struct conf_fault_hook {
    char *driver_glob;
    char *variable;
} conf_fault_hook;

typedef struct conf_suite {
    accel_instance *instance; /* tested devices and peers */
    conf_device *devices;
    uint32_t device_count;
    accel_device **all; /* every device of the instance */
    uint32_t all_count;
    /* options */
    uint64_t wait_ns;        /* bound of every fence wait */
    unsigned test_timeout_s; /* the watchdog's limit per test */
    bool verbose;
    const char *selector; /* --selector, or NULL */
    const char *peer;     /* --peer, or NULL */
    const char *junit_path;
    const char *known_path;
    conf_kf_list known;
    conf_fault_hook *hooks;
    size_t hook_count;
    char **test_globs;
    size_t test_glob_count;
    uint32_t group_mask;
    char self[4096]; /* this executable, for child processes */
    char crash[512]; /* a crash outside any test, reported in the JUnit file */
} conf_suite;

extern conf_suite conf;

/* ---- per-test context ---- */

typedef enum conf_obj_kind {
    CONF_OBJ_MEMORY = 1,
    CONF_OBJ_QUEUE,
    CONF_OBJ_FENCE,
    CONF_OBJ_FUNCTION,
    CONF_OBJ_PROGRAM,
    CONF_OBJ_HEAP, /* malloc()ed */
    CONF_OBJ_INSTANCE,
    CONF_OBJ_CALLBACK, /* release(ptr) */
} conf_obj_kind;

typedef struct conf_obj {
    conf_obj_kind kind;
    void *ptr;
    void (*release)(void *ptr);
} conf_obj;

typedef struct conf_ctx {
    conf_device *d;
    accel_device *dev; /* d->device */
    conf_result *result;
    conf_obj *objs;
    size_t obj_count, obj_capacity;
} conf_ctx;

/* ---- groups ---- */

typedef void (*conf_test_fn)(conf_ctx *c);

typedef struct conf_test_def {
    const char *name;
    conf_test_fn fn;
} conf_test_def;

typedef struct conf_group_def {
    const char *name;
    const char *title;
    const conf_test_def *tests;
    size_t test_count;
    /* Optional, before the group runs on a device: NULL to run the tests,
     * or a reason (written into why) to skip every test of the group. */
    const char *(*prepare)(conf_device *d, char *why, size_t size);
    /* Optional, after the group ran on a device. */
    void (*finish)(conf_device *d);
    /* The group loads the driver itself and runs before the instance. */
    bool before_instance;
} conf_group_def;

#define CONF_TESTS(group) group##_tests, sizeof(group##_tests) / sizeof(group##_tests[0])

extern const conf_group_def conf_group_abi;
extern const conf_group_def conf_group_info;
extern const conf_group_def conf_group_memory;
extern const conf_group_def conf_group_functions;
extern const conf_group_def conf_group_queues;
extern const conf_group_def conf_group_arguments;
extern const conf_group_def conf_group_partitions;
extern const conf_group_def conf_group_concurrency;
extern const conf_group_def conf_group_device_loss;

/* In run order. */
extern const conf_group_def *const conf_groups[];
extern const size_t conf_group_count;

/* ---- reporting ---- */

/* Stop the test as failed with a message (file and line of the check). */
void conf_fail_at(conf_ctx *c, const char *file, int line, const char *fmt, ...) CONF_PRINTF(4, 5)
    __attribute__((noreturn));
/* Stop the test as skipped with a reason. */
void conf_skip(conf_ctx *c, const char *fmt, ...) CONF_PRINTF(2, 3) __attribute__((noreturn));
/* A line of detail, printed with --verbose. */
void conf_note(conf_ctx *c, const char *fmt, ...) CONF_PRINTF(2, 3);

#define FAIL(...) conf_fail_at(c, __FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            conf_fail_at(c, __FILE__, __LINE__, __VA_ARGS__);                                                \
    } while (0)
/* expr must return `want`; the message names the call and the loader's detail. */
#define EXPECT(expr, want) conf_expect(c, __FILE__, __LINE__, #expr, (expr), (want))
#define OK(expr)           EXPECT(expr, ACCEL_SUCCESS)
void conf_expect(conf_ctx *c, const char *file, int line, const char *what, accel_result got,
                 accel_result want);

/* "ACCEL_ERROR_INVALID_ARGUMENT (-1)" into a static per-thread buffer. */
const char *conf_rs(accel_result r);

/* ---- objects (released by the test's teardown, newest first) ---- */

void conf_track(conf_ctx *c, conf_obj_kind kind, void *ptr);
/* Call release(ptr) at the end of the test (before everything else). */
void conf_defer(conf_ctx *c, void (*release)(void *ptr), void *ptr);
/* Release one tracked object now. */
void conf_release(conf_ctx *c, void *ptr);
void conf_release_all(conf_ctx *c);
void *conf_malloc(conf_ctx *c, size_t size);

/* Zero-filled memory of the suite's instance. */
accel_memory *conf_alloc(conf_ctx *c, uint64_t size);
accel_memory *conf_alloc_in(conf_ctx *c, accel_instance *inst, uint64_t size);
unsigned char *conf_map(conf_ctx *c, accel_memory *m);
/* Attach to dev (the device under test when dev is NULL); returns the mode. */
accel_attach_mode conf_attach(conf_ctx *c, accel_memory *m, accel_device *dev);
accel_queue *conf_queue(conf_ctx *c, accel_device *dev);

/* A built-in function of dev: NULL when the device does not offer it
 * (ACCEL_ERROR_NOT_FOUND); any other error fails the test. */
accel_function *conf_builtin(conf_ctx *c, accel_device *dev, const char *name);
/* The same, but skips the test when the device does not offer it. */
accel_function *conf_need_builtin(conf_ctx *c, accel_device *dev, const char *name);

accel_arg conf_mem_arg(accel_memory *m, uint64_t offset, uint64_t size);
accel_arg conf_u32_arg(uint32_t v);
/* Submit; the fence (when wanted) is tracked. */
accel_result conf_submit(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args,
                         uint32_t argc, accel_fence *const *waits, uint32_t wait_count, accel_fence **fence);
/* Submit, failing the test when the submission is refused. */
accel_fence *conf_submit_ok(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args,
                            uint32_t argc, accel_fence *const *waits, uint32_t wait_count);
/* Wait within conf.wait_ns; a time-out fails the test. Returns the result. */
accel_result conf_wait(conf_ctx *c, accel_fence *const *fences, uint32_t count, bool all);
/* Wait for one fence that must succeed. */
void conf_wait_ok(conf_ctx *c, accel_fence *fence);
/* Run one call to completion: submit, wait, return the fence's result. */
accel_result conf_run(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args, uint32_t argc);

/* A device of another driver than the device under test (a peer), or NULL. */
accel_device *conf_other_driver_device(conf_ctx *c);

/* ---- chains: ordered work from whatever function a device offers (chain.c) ---- */

typedef enum conf_step_kind {
    CONF_STEP_COPY = 1,
    CONF_STEP_CRC32C,
    CONF_STEP_SHA256,
    CONF_STEP_DEFLATE,
} conf_step_kind;

/* A function that reads one range and writes another. */
typedef struct conf_step_fn {
    accel_function *fn;
    const char *name;
    conf_step_kind kind;
} conf_step_fn;

#define CONF_CHAIN_IN       1024 /* the bytes a step reads */
#define CONF_CHAIN_STRIDE   2048 /* the size of a slot */
#define CONF_CHAIN_MAX_ARGS 4

/* steps + 1 slots: slot 0 random, the others zeros; step i reads slot i and
 * writes slot i + 1. */
typedef struct conf_chain {
    accel_memory **slot; /* steps + 1 memory objects of CONF_CHAIN_STRIDE bytes */
    unsigned char **p;   /* their mappings */
    accel_memory *sizes; /* zlib.deflate's out_size, 8 bytes per step */
    unsigned char *sz;
    uint32_t steps;
} conf_chain;

/* The first of accel.copy, crc32c, sha256 and zlib.deflate that dev offers
 * (the device under test when dev is NULL); false when it offers none. */
bool conf_step_find(conf_ctx *c, accel_device *dev, conf_step_fn *out);
/* The same, but skips the test when the device offers none. */
conf_step_fn conf_need_step(conf_ctx *c, accel_device *dev);
conf_chain *conf_chain_new(conf_ctx *c, uint32_t steps, uint64_t seed);
void conf_chain_attach(conf_ctx *c, conf_chain *ch, accel_device *dev);
/* The arguments of step `step` with function f; returns their count. */
uint32_t conf_chain_args(const conf_step_fn *f, const conf_chain *ch, uint32_t step, accel_arg *args);
/* Whether step `step` (run with f) holds what f computes from its input as
 * it is now; why says what is wrong when not. */
bool conf_chain_done(const conf_step_fn *f, const conf_chain *ch, uint32_t step, char *why, size_t size);

/* ---- data ---- */

/* Deterministic pseudo-random bytes. */
void conf_fill_random(void *p, size_t n, uint64_t seed);
uint32_t conf_crc32c(const void *p, size_t n);
void conf_sha256(const void *p, size_t n, uint8_t out[32]);
/* Index of the first byte of a that differs from b, or -1. */
long conf_first_difference(const void *a, const void *b, size_t n);
/* Index of the first byte of p that is not `value`, or -1. */
long conf_first_not(const void *p, size_t n, unsigned char value);

/* ---- device loss (child process) ---- */

int conf_device_loss_child(int argc, char **argv);

/* ---- results output ---- */

int conf_junit_write(const char *path, double seconds);

#endif
