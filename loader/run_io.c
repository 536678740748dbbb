/*
 * run_io.c — a run's inputs and outputs: the pipeline's files (relative to
 * the run's directories), paths, descriptors and callbacks bound with
 * accel_run_bind.
 *
 * Inputs are opened without blocking and must be regular files, except a
 * path bound with accel_run_bind, which may also be a FIFO (a named pipe
 * or `<(cmd)`): it is then read as a stream to its end. A directory, a
 * device or a socket is refused, naming the file and its kind.
 *
 * Outputs are checked before any work starts (accel__run_check_outputs):
 * a pipeline's output name stays inside the output directory (not
 * absolute, no ".."), the directory exists, nothing but a regular file is
 * replaced (a symbolic link at the output name is refused, never
 * followed), and no output is an input or another output. Each is written
 * to a temporary file in its directory (".NAME.XXXXXX", created with
 * O_EXCL: never through a link), renamed when the whole run succeeded and
 * removed otherwise, so a failure leaves nothing under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "os.h"
#include "placement.h"
#include "run.h"

char *accel__run_resolve(const char *dir, const char *path)
{
    if (path[0] == '/' || !dir || !dir[0])
        return accel__strdup(path);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *s = accel__malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, path);
    return s;
}

static accel_result open_source(accel_run *run, uint32_t b)
{
    const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
    const accel__run_binding *bind = &run->binds[b];
    accel__run_source *s = &run->sources[b];
    s->fd = -1;
    if (bind->set && bind->io.kind == ACCEL_RUN_IO_CALLBACK) {
        s->read = bind->io.read;
        s->user_data = bind->io.user_data;
        s->name = "a read callback";
        s->size = bind->io.size_hint;
        s->size_known = false;
        return ACCEL_SUCCESS;
    }
    if (bind->set && bind->io.kind == ACCEL_RUN_IO_FD) {
        s->fd = bind->io.fd;
        s->name = "a file descriptor";
    } else {
        char *path = bind->set && bind->io.kind == ACCEL_RUN_IO_PATH
                         ? accel__strdup(bind->path)
                         : accel__run_resolve(run->input_dir, pb->input_file);
        if (!path)
            return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "input %s: out of memory",
                                   pb->name);
        /* Non-blocking open: a FIFO without a writer must not hang here. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
            accel_result r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", path,
                                             pb->name, strerror(errno));
            accel__free(path);
            return r;
        }
        /* Only a path the application bound may be a FIFO: a pipeline
         * file names regular files, and a device or a socket is never an
         * input (/dev/zero would never end). */
        bool bound = bind->set && bind->io.kind == ACCEL_RUN_IO_PATH;
        struct stat st;
        const char *why = NULL;
        if (fstat(fd, &st) != 0)
            why = strerror(errno);
        else if (S_ISDIR(st.st_mode))
            why = "a directory, not a regular file";
        else if (S_ISFIFO(st.st_mode) && !bound)
            why = "a FIFO, not a regular file (bind it with accel_run_bind to read a pipe)";
        else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
            why = S_ISCHR(st.st_mode)    ? "a character device, not a regular file"
                  : S_ISBLK(st.st_mode)  ? "a block device, not a regular file"
                  : S_ISSOCK(st.st_mode) ? "a socket, not a regular file"
                                         : "not a regular file";
        if (why) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", path, pb->name, why);
            close(fd);
            accel__free(path);
            return run->err;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        s->fd = fd;
        s->own_fd = true;
        s->name = path; /* freed with the source */
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t pos = lseek(s->fd, 0, SEEK_CUR);
        s->size = (uint64_t)st.st_size - (pos > 0 && pos <= st.st_size ? (uint64_t)pos : 0);
        s->size_known = true;
    } else if (bind->set) {
        s->size = bind->io.size_hint;
    }
    return ACCEL_SUCCESS;
}

/* Why a pipeline's output name would leave the output directory, or NULL. */
static const char *escapes(const char *name)
{
    if (!name[0])
        return "an empty name";
    if (name[0] == '/')
        return "an absolute path";
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "a \"..\" component";
        p += n;
        p += *p == '/';
    }
    return NULL;
}

/* The path an output goes to (accel__free it), or NULL when it is bound
 * to a descriptor or a callback; *err set on out of memory. */
static char *sink_path(const accel_run *run, uint32_t b, bool *err)
{
    const accel__run_binding *bind = &run->binds[b];
    *err = false;
    if (bind->set && (bind->io.kind == ACCEL_RUN_IO_CALLBACK || bind->io.kind == ACCEL_RUN_IO_FD))
        return NULL;
    char *path = bind->set && bind->io.kind == ACCEL_RUN_IO_PATH
                     ? accel__strdup(bind->path)
                     : accel__run_resolve(run->output_dir, run->pipeline->buffers[b].pub.output_file);
    *err = path == NULL;
    return path;
}

/* The identity of an output that does not exist yet: its directory's
 * canonical path and its name. NULL with errno set. */
static char *sink_identity(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? accel__strndup(path, slash == path ? 1 : (size_t)(slash - path)) : accel__strdup(".");
    if (!dir) {
        errno = ENOMEM;
        return NULL;
    }
    char *real = accel__realpath(dir);
    int err = errno;
    accel__free(dir);
    if (!real) {
        errno = err;
        return NULL;
    }
    char *id = accel__path_join(real, slash ? slash + 1 : path);
    accel__free(real);
    if (!id)
        errno = ENOMEM;
    return id;
}

/* Whether an existing file is one of the run's inputs: the buffer, or -1. */
static int64_t input_of(const accel_run *run, const struct stat *out)
{
    for (uint32_t b = 0; b < run->nb; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        const accel__run_binding *bind = &run->binds[b];
        if (!pb->input_file || (bind->set && bind->io.kind == ACCEL_RUN_IO_CALLBACK))
            continue;
        struct stat st;
        int rc;
        if (bind->set && bind->io.kind == ACCEL_RUN_IO_FD) {
            rc = fstat(bind->io.fd, &st);
        } else {
            char *path = bind->set && bind->io.kind == ACCEL_RUN_IO_PATH
                             ? accel__strdup(bind->path)
                             : accel__run_resolve(run->input_dir, pb->input_file);
            rc = path ? stat(path, &st) : -1;
            accel__free(path);
        }
        if (rc == 0 && st.st_dev == out->st_dev && st.st_ino == out->st_ino)
            return b;
    }
    return -1;
}

static const char *kind_of(mode_t mode)
{
    return S_ISLNK(mode)    ? "a symbolic link (not followed, not replaced)"
           : S_ISDIR(mode)  ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

accel_result accel__run_check_outputs(accel_run *run)
{
    accel_result r = ACCEL_SUCCESS;
    char **ids = accel__calloc(run->nb + 1, sizeof(*ids));
    if (!ids)
        return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "outputs: out of memory");
    /* A missing input is named before the outputs are looked at, as
     * opening it would (nothing is opened here). */
    for (uint32_t b = 0; b < run->nb && !r; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        const accel__run_binding *bind = &run->binds[b];
        if (!pb->input_file || (bind->set && bind->io.kind != ACCEL_RUN_IO_PATH))
            continue;
        char *path = bind->set ? accel__strdup(bind->path) : accel__run_resolve(run->input_dir, pb->input_file);
        struct stat st;
        if (!path)
            r = accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "input %s: out of memory", pb->name);
        else if (stat(path, &st) != 0)
            r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", path, pb->name,
                                strerror(errno));
        accel__free(path);
    }
    bool dir_checked = false;
    for (uint32_t b = 0; b < run->nb && !r; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        if (!pb->output_file)
            continue;
        bool oom;
        char *path = sink_path(run, b, &oom);
        if (oom) {
            r = accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "output %s: out of memory", pb->name);
            break;
        }
        if (!path)
            continue;
        const char *why;
        bool from_pipeline = !(run->binds[b].set && run->binds[b].io.kind == ACCEL_RUN_IO_PATH);
        struct stat st;
        int64_t in;
        if (from_pipeline && (why = escapes(pb->output_file))) {
            r = accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                                "output %s (buffer %s): %s; outputs stay inside the output directory %s",
                                pb->output_file, pb->name, why, run->output_dir);
        } else if (from_pipeline && !dir_checked && stat(run->output_dir, &st) != 0) {
            r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output directory %s: %s", run->output_dir,
                                strerror(errno));
        } else if (from_pipeline && !dir_checked && !S_ISDIR(st.st_mode)) {
            r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output directory %s: %s", run->output_dir,
                                strerror(ENOTDIR));
        } else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1,
                                "output %s (buffer %s): %s is there; only a regular file is replaced", path,
                                pb->name, kind_of(st.st_mode));
        } else if (lstat(path, &st) == 0 && (in = input_of(run, &st)) >= 0) {
            r = accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                                "output %s (buffer %s) is the input of buffer %s; an output never replaces an input",
                                path, pb->name, accel__run_buffer_name(run, (uint32_t)in));
        } else if (!(ids[b] = sink_identity(path))) {
            r = errno == ENOMEM ? accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1,
                                                  "output %s: out of memory", pb->name)
                                : accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): its directory: %s",
                                                  path, pb->name, strerror(errno));
        } else {
            for (uint32_t o = 0; o < b; o++)
                if (ids[o] && strcmp(ids[o], ids[b]) == 0) {
                    r = accel__run_fail(run, ACCEL_ERROR_INVALID_ARGUMENT, -1, -1,
                                        "output %s (buffer %s) is also the output of buffer %s", path, pb->name,
                                        accel__run_buffer_name(run, o));
                    break;
                }
        }
        dir_checked |= from_pipeline;
        accel__free(path);
    }
    for (uint32_t b = 0; b < run->nb; b++)
        accel__free(ids[b]);
    accel__free(ids);
    return r;
}

static accel_result open_sink(accel_run *run, uint32_t b)
{
    const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
    const accel__run_binding *bind = &run->binds[b];
    accel__run_sink *k = &run->sinks[b];
    k->fd = -1;
    k->open = true;
    if (bind->set && bind->io.kind == ACCEL_RUN_IO_CALLBACK) {
        k->write = bind->io.write;
        k->user_data = bind->io.user_data;
        k->name = "a write callback";
        return ACCEL_SUCCESS;
    }
    if (bind->set && bind->io.kind == ACCEL_RUN_IO_FD) {
        k->fd = bind->io.fd;
        k->name = "a file descriptor";
        return ACCEL_SUCCESS;
    }
    char *path = bind->set && bind->io.kind == ACCEL_RUN_IO_PATH
                     ? accel__strdup(bind->path)
                     : accel__run_resolve(run->output_dir, pb->output_file);
    if (!path)
        return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "output %s: out of memory",
                               pb->name);
    /* The temporary file lives in the output's directory, so that the
     * rename is atomic: ".NAME.XXXXXX". */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 16;
    char *tmp = accel__malloc(n);
    if (!tmp) {
        accel__free(path);
        return accel__run_fail(run, ACCEL_ERROR_OUT_OF_HOST_MEMORY, -1, -1, "output %s: out of memory",
                               pb->name);
    }
    snprintf(tmp, n, "%.*s.%s.XXXXXX", (int)dlen, path, path + dlen);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        accel_result r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): %s", path,
                                         pb->name, strerror(errno));
        accel__free(tmp);
        accel__free(path);
        return r;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; outputs are ordinary files */
    k->fd = fd;
    k->own_fd = true;
    k->tmp_path = tmp;
    k->final_path = path;
    k->name = path;
    return ACCEL_SUCCESS;
}

accel_result accel__run_open_io(accel_run *run)
{
    bool unknown = false; /* an input whose size nobody knows: no total */
    for (uint32_t b = 0; b < run->nb; b++) {
        const accel_pipeline_buffer *pb = &run->pipeline->buffers[b].pub;
        if (pb->input_file && open_source(run, b) != ACCEL_SUCCESS)
            return run->err;
        if (pb->input_file) {
            unknown |= !run->sources[b].size_known && !run->sources[b].size;
            run->input_total += run->sources[b].size;
        }
    }
    if (unknown)
        run->input_total = 0;
    for (uint32_t b = 0; b < run->nb; b++)
        if (run->pipeline->buffers[b].pub.output_file && open_sink(run, b) != ACCEL_SUCCESS)
            return run->err;
    return ACCEL_SUCCESS;
}

int64_t accel__run_read(accel_run *run, uint32_t b, void *data, uint64_t size)
{
    accel__run_source *s = &run->sources[b];
    uint64_t got = 0;
    while (got < size && !s->eof) {
        uint64_t want = size - got;
        if (want > (1u << 30))
            want = 1u << 30;
        int64_t n;
        if (s->read) {
            n = s->read(s->user_data, (char *)data + got, want);
        } else {
            ssize_t k = read(s->fd, (char *)data + got, (size_t)want);
            if (k < 0 && errno == EINTR) {
                if (accel__run_cancelled(run))
                    break; /* a signal handler cancelled the run */
                continue;
            }
            n = k;
        }
        if (n < 0) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", s->name,
                            accel__run_buffer_name(run, b),
                            s->read ? "the read callback failed" : strerror(errno));
            return -1;
        }
        if (n == 0 || (uint64_t)n > want) {
            s->eof = true;
            break;
        }
        got += (uint64_t)n;
        if (accel__run_cancelled(run))
            break;
    }
    run->input_bytes += got;
    if (accel__run_cancelled(run)) {
        /* What was read may be a short count that is not the end. */
        accel__run_fail(run, ACCEL_ERROR_CANCELED, -1, -1, "the run was cancelled");
        return -1;
    }
    return (int64_t)got;
}

int accel__run_write(accel_run *run, uint32_t b, const void *data, uint64_t size)
{
    accel__run_sink *k = &run->sinks[b];
    if (k->write) {
        if (size && k->write(k->user_data, data, size) != 0) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): the write callback failed",
                            k->name, accel__run_buffer_name(run, b));
            return -1;
        }
    } else {
        uint64_t done = 0;
        while (done < size) {
            uint64_t want = size - done > (1u << 30) ? 1u << 30 : size - done;
            ssize_t n = write(k->fd, (const char *)data + done, (size_t)want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): %s", k->name,
                                accel__run_buffer_name(run, b), n < 0 ? strerror(errno) : "nothing written");
                return -1;
            }
            done += (uint64_t)n;
        }
    }
    k->written += size;
    run->output_bytes += size;
    return 0;
}

accel_result accel__run_close_io(accel_run *run, bool ok)
{
    for (uint32_t b = 0; run->sources && b < run->nb; b++) {
        accel__run_source *s = &run->sources[b];
        if (s->own_fd) {
            close(s->fd);
            accel__free((char *)s->name);
        }
    }
    /* Every temporary file is flushed and closed first, then all are
     * renamed, so that a failure to close one (a full disk found late)
     * leaves none, and a crash after a rename never shows a file whose
     * blocks were not written yet (zeros) under the final name. */
    for (uint32_t b = 0; run->sinks && b < run->nb; b++) {
        accel__run_sink *k = &run->sinks[b];
        if (!k->own_fd)
            continue;
        if (ok && k->tmp_path && fdatasync(k->fd) != 0 && errno != EINVAL) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): %s", k->name,
                            accel__run_buffer_name(run, b), strerror(errno));
            ok = false;
        }
        if (close(k->fd) != 0 && ok) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): %s", k->name,
                            accel__run_buffer_name(run, b), strerror(errno));
            ok = false;
        }
        k->own_fd = false;
    }
    uint32_t renamed = 0;
    for (uint32_t b = 0; ok && run->sinks && b < run->nb; b++) {
        accel__run_sink *k = &run->sinks[b];
        if (k->tmp_path && rename(k->tmp_path, k->final_path) != 0) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "output %s (buffer %s): %s", k->final_path,
                            accel__run_buffer_name(run, b), strerror(errno));
            ok = false;
        } else {
            renamed = b + 1;
        }
    }
    for (uint32_t b = 0; run->sinks && b < run->nb; b++) {
        accel__run_sink *k = &run->sinks[b];
        /* On failure no output stays: those renamed before a later rename
         * failed are this run's too. */
        if (k->tmp_path && !ok)
            unlink(b < renamed ? k->final_path : k->tmp_path);
        accel__free(k->tmp_path);
        accel__free(k->final_path);
        k->tmp_path = k->final_path = NULL;
    }
    return ok ? ACCEL_SUCCESS : run->err;
}
