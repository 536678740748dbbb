/*
 * run.h — running a plan (accel_run_*): the run object shared by run.c
 * (the API, progress, the whole-buffer executor), run_io.c (inputs and
 * outputs) and run_stream.c (the streaming executor).
 */
#ifndef ACCEL_LOADER_RUN_H
#define ACCEL_LOADER_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"

/* Where one input's bytes come from, once opened. */
typedef struct accel__run_source {
    int fd;      /* -1 for a callback */
    bool own_fd; /* opened by the run: closed at the end */
    accel_run_read_callback read;
    void *user_data;
    uint64_t size; /* what it holds, if known */
    bool size_known;
    bool eof;
    const char *name; /* for messages: the path, "fd N" or "callback" */
} accel__run_source;

/* One output, once opened: a temporary file renamed at success, or a
 * descriptor or callback bound by the application. */
typedef struct accel__run_sink {
    bool open;
    int fd; /* -1 for a callback */
    bool own_fd;
    char *tmp_path; /* the temporary file, NULL when bound to an fd/callback */
    char *final_path;
    accel_run_write_callback write;
    void *user_data;
    uint64_t written;
    const char *name;
} accel__run_sink;

typedef struct accel__run_binding {
    bool set;
    accel_run_io io;
    char *path;
} accel__run_binding;

struct accel_run {
    accel_instance *inst;
    const accel_topology *topo;
    const accel_pipeline *pipeline;
    const accel_plan *plan;
    accel_run_options opt;
    char *input_dir, *output_dir;
    uint32_t nb, ns;
    accel__run_binding *binds; /* per buffer */
    atomic_int cancel;
    bool executed;

    /* During accel_run_execute. */
    accel_device **devs;          /* per stage */
    accel_queue **queues;         /* per stage */
    accel_run_stage_stats *stats; /* per stage */
    accel__run_source *sources;   /* per buffer (inputs) */
    accel__run_sink *sinks;       /* per buffer (outputs) */
    uint64_t t0_ns, last_progress_ns;
    uint64_t input_bytes, input_total, output_bytes, buffer_bytes, chunks;
    bool streaming;

    /* The outcome. */
    accel_result err;
    int32_t failed_stage;
    int64_t failed_chunk;
    char *message;
    char *mode_reason;
};

uint64_t accel__run_now_ns(void);

/* Record the run's first failure (later ones are dropped): the result, the
 * stage and chunk (-1: none), and the message, also made the thread's
 * detail message. Returns `result`. */
accel_result accel__run_fail(accel_run *run, accel_result result, int32_t stage, int64_t chunk,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

bool accel__run_cancelled(accel_run *run);

/* A stage's and a buffer's names, for messages. */
const char *accel__run_stage_name(const accel_run *run, uint32_t stage);
const char *accel__run_buffer_name(const accel_run *run, uint32_t buffer);

/* A path relative to `dir` unless absolute (accel__free it). */
char *accel__run_resolve(const char *dir, const char *path);

/* run_io.c: before any work, check every output that goes to a path: a
 * pipeline's name stays in the output directory, which exists; no link,
 * directory or special file is replaced; no output is an input or another
 * output. ACCEL_SUCCESS, or the failure recorded naming file and reason. */
accel_result accel__run_check_outputs(accel_run *run);
/* run_io.c: open every input and output of the pipeline (sources and sinks). */
accel_result accel__run_open_io(accel_run *run);
/* Read up to `size` bytes (fewer only at the end): the count, or -1 after
 * recording the failure. */
int64_t accel__run_read(accel_run *run, uint32_t buffer, void *data, uint64_t size);
/* Write to an output: 0, or -1 after recording the failure. */
int accel__run_write(accel_run *run, uint32_t buffer, const void *data, uint64_t size);
/* Rename the temporary outputs (ok) or remove them; close what the run opened. */
accel_result accel__run_close_io(accel_run *run, bool ok);

/* Call the progress callback if its interval has passed (or `force`). */
void accel__run_progress(accel_run *run, bool force);

/* Whether the pipeline can stream on the plan's devices: NULL, or why not
 * (a static or run-owned string). */
const char *accel__run_stream_check(accel_run *run);
/* The streaming executor: records a failure in the run and returns it. */
accel_result accel__run_stream(accel_run *run);

/* The chunk size the plan chooses (run.c). */
uint64_t accel__run_choose_chunk(const accel_run *run);

#endif /* ACCEL_LOADER_RUN_H */
