/* support.h — what the loader's behavioural tests share: temporary
 * directories, manifests for the fake drivers, checks on what is mapped,
 * log capture and environment snapshots.
 *
 * Helpers that cannot go on (out of memory, a file that cannot be written)
 * fail the running cmocka test instead of returning an error. */
#ifndef ACCEL_TEST_SUPPORT_H
#define ACCEL_TEST_SUPPORT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <accel/accel.h>

/* Paths compiled in by meson. */
#ifndef FAKE_DRIVER_DIR
#error "FAKE_DRIVER_DIR must be defined"
#endif
#ifndef TEST_TMP_DIR
#error "TEST_TMP_DIR must be defined"
#endif

/* ---- strings and files ---- */

char *ts_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* mkdir -p. */
void ts_mkdirs(const char *path);
/* A fresh directory TEST_TMP_DIR/<tag>-XXXXXX (mode 0755); free the result. */
char *ts_mkdtemp(const char *tag);
/* Remove a tree (what the tests created; symlinks are not followed). */
void ts_rmtree(const char *path);
/* Write text to dir/name (creating dir); returns the full path. */
char *ts_write_text(const char *dir, const char *name, const char *text);
/* The whole file as a string ("" if it does not exist); free the result. */
char *ts_read_text(const char *path);
/* How many lines of text contain every one of the given needles (NULL-terminated). */
size_t ts_count_lines(const char *text, ...) __attribute__((sentinel));

/* ---- fake drivers and manifests ---- */

/* FAKE_DRIVER_DIR/libfake_<variant>.so; free the result. */
char *ts_fake_lib(const char *variant);
/* Write a manifest for any driver name and library into dir/file. */
char *ts_write_manifest(const char *dir, const char *file, const char *driver_name, const char *library);
/* Write dir/file describing the fake variant as driver "fake_<variant>". */
char *ts_write_fake_manifest(const char *dir, const char *file, const char *variant);

/* Whether the library is mapped in this process (dlopen RTLD_NOLOAD). */
bool ts_lib_mapped(const char *library);
/* A fake driver's exported counter (fake_init_calls, ...), or -1 when the
 * library is not mapped. */
long ts_fake_counter(const char *variant, const char *counter);

/* ---- instances ---- */

/* Create an instance from explicit manifest paths (NULL-terminated). */
accel_result ts_create_with_paths(accel_instance **inst, uint32_t flags, const char *const *paths);
/* An instance from this one manifest; fails the test when it cannot be made. */
accel_instance *ts_create_one(const char *manifest);
/* Every manifest of the instance; *count gets the number. Free the array. */
accel_manifest **ts_manifests(accel_instance *inst, uint32_t *count);
/* The info of the manifest with this path; false if the instance has none. */
bool ts_manifest_info(accel_instance *inst, const char *path, accel_manifest_info *info);
/* Position of the manifest in the instance's order, or -1. */
int ts_manifest_index(accel_instance *inst, const char *path);
/* Every selected device; free the array. */
accel_device **ts_devices(accel_instance *inst, uint32_t *count);
/* The info of one device. */
accel_device_info ts_device_info(const accel_device *dev);
/* The last selected device of `driver`, or NULL. */
accel_device *ts_device_of(accel_instance *inst, const char *driver);
/* "driver:index" of each selected device, ' '-separated; free the result. */
char *ts_device_list(accel_instance *inst);

/* ---- log capture ---- */

typedef struct ts_log {
    pthread_mutex_t lock;
    char **lines;
    accel_log_level *levels;
    size_t count, capacity;
} ts_log;

void ts_log_init(ts_log *log);
void ts_log_free(ts_log *log);
/* An accel_log_callback; user_data is a ts_log. */
void ts_log_callback(void *user_data, accel_log_level level, const char *message);
/* Lines containing every needle (NULL-terminated). */
size_t ts_log_count(ts_log *log, ...) __attribute__((sentinel));
/* Create an instance from explicit manifest paths (NULL-terminated), its
 * log levels in log_mask delivered to `log`. */
accel_result ts_create_logged(accel_instance **inst, ts_log *log, uint32_t log_mask,
                              const char *const *paths);

/* ---- child processes ---- */

/*
 * Run argv[0] with the current environment changed by `env` (a
 * NULL-terminated list of "NAME=VALUE", or "NAME" alone to unset), stdout
 * and stderr captured into *out and *err (either may be NULL; free them).
 * Returns the exit status, or 128 + the signal that killed it.
 */
int ts_run(const char *const *argv, const char *const *env, char **out, char **err);

/*
 * Start argv[0] (argv NULL-terminated) in the background and wait, up to
 * 5 s, until `socket_path` is a UNIX socket (a device emulator ready to
 * serve); fails the test otherwise. Returns the child's pid.
 */
pid_t ts_spawn_until_socket(const char *const *argv, const char *socket_path);

/* ---- environment ---- */

/* Remember the variables tests change (ACCEL_*, XDG_*, HOME); restore them. */
void ts_env_save(void);
void ts_env_restore(void);
/* setenv, or unsetenv when value is NULL. */
void ts_setenv(const char *name, const char *value);
/* Any variable for a while (ts_env_save knows a fixed list): ts_env_push,
 * ts_env_pop and the fixtures that pop what a case pushed. */
#include "support_env.h"

/* ---- fixtures ---- */

/* A test's own directory (TEST_TMP_DIR/<tag>-XXXXXX) with the fake
 * drivers' trace file in it: the environment saved (ts_env_save) and
 * ACCEL_FAKE_TRACE set to `trace`. ts_traced_destroy restores the
 * environment and removes the directory. */
typedef struct ts_traced {
    char *dir;
    char *trace;
} ts_traced;

ts_traced *ts_traced_create(const char *tag);
void ts_traced_destroy(ts_traced *t);
/* How many lines of the trace are exactly "<variant> <event>". */
size_t ts_traced_count(const ts_traced *t, const char *variant, const char *event);

/*
 * One instance of fake drivers: a fresh directory TEST_TMP_DIR/<tag>-XXXXXX
 * holding a manifest for each fake variant named (NULL-terminated, at most
 * TS_FAKES_MAX), the instance made from those manifests alone, in that
 * order, and dev[i], the device of the i-th variant. Fails the test when a
 * variant has no device. ts_fakes_teardown (a cmocka teardown; *state is
 * the ts_fakes) destroys the instance, removes the directory and, as
 * ts_env_case_teardown, puts back the variables the case pushed
 * (ts_env_push), also when an assertion ended it early.
 */
#define TS_FAKES_MAX 4
typedef struct ts_fakes {
    char *dir;
    accel_instance *inst;
    accel_device *dev[TS_FAKES_MAX];
} ts_fakes;

ts_fakes *ts_fakes_create(const char *tag, ...) __attribute__((sentinel));
int ts_fakes_teardown(void **state);
/* The last selected device of driver fake_<variant>; fails the test when
 * there is none. */
accel_device *ts_fake_device(accel_instance *inst, const char *variant);

/* ---- memory, functions and queues ---- */

/* A built-in function ("accel.noop", "fake.add", ...) of the device. */
accel_function *ts_builtin(accel_device *dev, const char *name);
/* size bytes of memory on no particular node; fails the test otherwise. */
accel_memory *ts_alloc(accel_instance *inst, uint64_t size);
/* The memory's host mapping. */
unsigned char *ts_map(accel_memory *m);
accel_arg ts_mem_arg(accel_memory *m, uint64_t offset, uint64_t size);
accel_arg ts_u32_arg(uint32_t v);
accel_arg ts_i32_arg(int32_t v);
/* accel_queue_submit of fn(args) after the wait fences. */
accel_result ts_submit(accel_queue *q, accel_function *fn, const accel_arg *args, uint32_t argc,
                       accel_fence *const *waits, uint32_t wait_count, accel_fence **fence);

#endif
