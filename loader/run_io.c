/*
 * run_io.c — a run's inputs and outputs: the pipeline's files (relative to
 * the run's directories), paths, descriptors and callbacks bound with
 * accel_run_bind. Inputs are opened without blocking (a FIFO without a
 * writer must not hang the open) and read to their end; outputs bound to a
 * path or left to their pipeline file go to a temporary file in the same
 * directory (".NAME.XXXXXX"), renamed when the whole run succeeded and
 * removed otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
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
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            accel_result r = accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", path,
                                             pb->name, strerror(errno));
            accel__free(path);
            return r;
        }
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            accel__run_fail(run, ACCEL_ERROR_IO, -1, -1, "input %s (buffer %s): %s", path, pb->name,
                            strerror(EISDIR));
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
    /* Every temporary file is closed first, then all are renamed, so that
     * a failure to close one (a full disk found late) leaves none. */
    for (uint32_t b = 0; run->sinks && b < run->nb; b++) {
        accel__run_sink *k = &run->sinks[b];
        if (!k->own_fd)
            continue;
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
