/*
 * test_hostile_files.c — files that are not what they seem, on every
 * surface where the project opens a file a user can name: manifest
 * directory entries, manifest files, a manifest's library_path, pipeline
 * files, pipeline inputs (named by the pipeline and bound with
 * accel_run_bind), ELF programs, program sources a run reads (on the
 * OpenCL device), FPGA image descriptions, the libraries they name and the
 * emulator's card file, the calibration cache, the user topology file, a
 * recorded hwloc XML file and uacce sysfs attributes. Each is tried as a FIFO
 * without a writer, a directory, a character device (a link to /dev/zero),
 * a link to a FIFO, a sparse 64 GiB file, a dangling link and a link loop
 * (the catalogue is tests/corpus/hostile/README.md): every call must return
 * promptly (a SIGALRM guard turns a hang into a failure naming the case),
 * with its error code and a message naming the file and the reason.
 *
 * Then outputs: a pipeline's output name with "..", an absolute one, a
 * symbolic link at the output name (its target stays untouched), an output
 * that is an input, two outputs on one file, a directory or FIFO at the
 * output name, a missing output directory (reported before any input is
 * read), a failure mid-run (no file under the final name, no temporary
 * left, the old file kept), and accel-run creating -o DIR and refusing a
 * calibration cache that is a link.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support.h"

#ifndef BUILD_MANIFEST_DIR
#error "BUILD_MANIFEST_DIR must be defined"
#endif

/* ------------------------------------------------------------------------ */
/* The hostile kinds of file                                                  */

typedef enum kind {
    K_FIFO,      /* a FIFO nobody writes to: a blocking open or read hangs */
    K_DIR,       /* a directory */
    K_DEVICE,    /* a link to /dev/zero: a read never ends */
    K_LINK_FIFO, /* a symbolic link to a FIFO */
    K_HUGE,      /* a sparse 64 GiB regular file */
    K_DANGLING,  /* a symbolic link to nothing */
    K_LOOP,      /* a symbolic link to itself */
    K_COUNT
} kind;

static const struct {
    const char *name;
    const char *reason; /* what the message must say, for surfaces that name the kind */
} kinds[K_COUNT] = {
    [K_FIFO] = {"fifo", "a FIFO"},
    [K_DIR] = {"directory", "a directory"},
    [K_DEVICE] = {"device", "a character device"},
    [K_LINK_FIFO] = {"link-to-fifo", "a FIFO"},
    [K_HUGE] = {"sparse-64g", NULL}, /* each surface says "too large" its own way */
    [K_DANGLING] = {"dangling-link", "No such file or directory"},
    [K_LOOP] = {"link-loop", "Too many levels of symbolic links"},
};

static char *tmp; /* this run's directory */
static const char *current_case = "?";

static void on_alarm(int sig)
{
    (void)sig;
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "HANG: %s did not return within the guard's time\n", current_case);
    if (n > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)n);
    _exit(124);
}

/* Every hostile call runs between these: a hang kills the test. */
static void guard(const char *what)
{
    current_case = what;
    alarm(60);
}

static void unguard(void)
{
    alarm(0);
    current_case = "?";
}

/* Make path a file of kind k. */
static void make_kind(const char *path, kind k)
{
    unlink(path);
    rmdir(path);
    switch (k) {
    case K_FIFO: assert_int_equal(mkfifo(path, 0644), 0); break;
    case K_DIR: assert_int_equal(mkdir(path, 0755), 0); break;
    case K_DEVICE: assert_int_equal(symlink("/dev/zero", path), 0); break;
    case K_LINK_FIFO: {
        char *target = ts_printf("%s.target-fifo", path);
        unlink(target);
        assert_int_equal(mkfifo(target, 0644), 0);
        assert_int_equal(symlink(target, path), 0);
        free(target);
        break;
    }
    case K_HUGE: {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        if (ftruncate(fd, (off_t)64 << 30) != 0)
            assert_int_equal(ftruncate(fd, (off_t)4 << 30), 0); /* a file system with a smaller limit */
        close(fd);
        break;
    }
    case K_DANGLING: {
        char *target = ts_printf("%s.nowhere", path);
        assert_int_equal(symlink(target, path), 0);
        free(target);
        break;
    }
    case K_LOOP: assert_int_equal(symlink(path, path), 0); break;
    default: fail();
    }
}

/* A fresh, empty directory tmp/<name>; free the result. */
static char *fresh_dir(const char *name)
{
    char *d = ts_printf("%s/%s", tmp, name);
    ts_rmtree(d);
    ts_mkdirs(d);
    return d;
}

static void expect_in(const char *text, const char *needle, const char *what)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s: \"%s\" not in: %s", what, needle, text ? text : "(null)");
}

#define CPU_MANIFEST  BUILD_MANIFEST_DIR "/accel_cpu.json"
#define FPGA_MANIFEST BUILD_MANIFEST_DIR "/accel_fpga.json"

/* ------------------------------------------------------------------------ */
/* Instances with a captured log                                              */

/* The log as one string, for messages. */
static char *log_text(ts_log *log)
{
    size_t len = 1;
    for (size_t i = 0; i < log->count; i++)
        len += strlen(log->lines[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; i < log->count; i++) {
        strcat(s, log->lines[i]);
        strcat(s, "\n");
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* One case: a surface tried with one kind of file                            */

typedef struct surface surface;

typedef struct hostile {
    const surface *s;
    kind k;
    const char *name; /* "surface: kind", as cmocka prints it; the guard's too */
    char *dir;        /* the case's fresh directory */
    char *path;       /* the hostile file in it */
    bool made;        /* the call under test produced an object anyway */
    accel_instance *inst;
    ts_log log; /* inst's, when made by create_guarded */
    char *log_text;
} hostile;

struct surface {
    const char *name; /* the case name's first part */
    const char *tag;  /* the case directory is tmp/<tag>-<kind> */
    const char *file; /* the hostile file, relative to the case directory */
    void (*check)(hostile *h);
    uint32_t kinds;          /* bits of kind; 0: all */
    bool (*available)(void); /* NULL: always; false: the case is skipped */
    /* For check_error_message: a call on the hostile file (it sets h->made
     * when it got an object), the error it must return (ACCEL_SUCCESS: any
     * error) and, for a huge file, want_huge; what the message must name
     * (NULL: the hostile file's path) and say of a huge file (NULL: nothing
     * checked, the kind has no fixed wording there). */
    accel_result (*call)(hostile *h);
    accel_result want, want_huge;
    const char *named;
    const char *huge_reason;
};

/* The instance from these manifests, its log captured, made under the guard. */
static void create_guarded(hostile *h, const char *const *paths)
{
    guard(h->name);
    accel_result r = ts_create_logged(&h->inst, &h->log, ACCEL_LOG_ALL, paths);
    unguard();
    assert_int_equal(r, ACCEL_SUCCESS);
}

/* The instance's log so far, as one string (owned by the case). */
static const char *hostile_log(hostile *h)
{
    free(h->log_text);
    h->log_text = log_text(&h->log);
    return h->log_text;
}

/* What a message must say of the case's kind: the kind's reason, or for a
 * huge file the surface's own wording. */
static void expect_reason(const char *text, const hostile *h, const char *huge_reason, const char *what)
{
    const char *reason = h->k == K_HUGE ? huge_reason : kinds[h->k].reason;
    if (reason)
        expect_in(text, reason, what);
}

/* A call on the hostile file that must fail, with accel_last_error_message()
 * naming the file and why. */
static void check_error_message(hostile *h)
{
    const surface *s = h->s;
    guard(h->name);
    accel_result r = s->call(h);
    unguard();
    if (s->want == ACCEL_SUCCESS)
        assert_int_not_equal(r, ACCEL_SUCCESS);
    else
        assert_int_equal(r, h->k == K_HUGE ? s->want_huge : s->want);
    assert_false(h->made);
    const char *msg = accel_last_error_message();
    expect_in(msg, s->named ? s->named : h->path, "the file is named");
    expect_reason(msg, h, s->huge_reason, "the reason");
}

/* A case's state: which surface with which kind, and its name. */
typedef struct hostile_case {
    const surface *s;
    kind k;
    char *name;
} hostile_case;

static void run_case(void **state)
{
    const hostile_case *c = *state;
    if (c->s->available && !c->s->available())
        skip();
    hostile h = {.s = c->s, .k = c->k, .name = c->name};
    char *leaf = ts_printf("%s-%s", c->s->tag, kinds[c->k].name);
    h.dir = fresh_dir(leaf);
    free(leaf);
    h.path = ts_printf("%s/%s", h.dir, c->s->file);
    char *parent = strdup(h.path);
    *strrchr(parent, '/') = '\0';
    ts_mkdirs(parent);
    free(parent);
    make_kind(h.path, c->k);
    ts_log_init(&h.log);
    c->s->check(&h);
    accel_instance_destroy(h.inst);
    ts_log_free(&h.log);
    free(h.log_text);
    ts_env_pop(); /* what the case set with ts_env_push */
    free(h.path);
    ts_rmtree(h.dir);
    free(h.dir);
}

/* ------------------------------------------------------------------------ */
/* Surfaces                                                                   */

/* An entry of a manifest directory: skipped (named in the debug log with
 * its reason), or for a huge *.json, rejected as too large; the good
 * manifest next to it still loads. */
static void check_manifest_dir_entry(hostile *h)
{
    char *good = ts_write_fake_manifest(h->dir, "good.json", "good_a");
    create_guarded(h, (const char *const[]){h->dir, NULL});
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(h->inst, good, &info));
    assert_int_equal(info.status, ACCEL_MANIFEST_LOADED);
    free(good);
    info = (accel_manifest_info){.struct_size = sizeof(info)};
    if (h->k == K_HUGE) {
        assert_true(ts_manifest_info(h->inst, h->path, &info));
        expect_in(info.reason, "too large", "huge manifest");
        return;
    }
    const char *text = hostile_log(h);
    char *line = ts_printf("%s skipped: ", h->path);
    expect_in(text, line, "the skipped entry is named");
    free(line);
    const char *why = h->k == K_DIR         ? "a directory, not a regular file"
                      : h->k == K_DEVICE    ? "a symbolic link to a character device"
                      : h->k == K_LINK_FIFO ? "a symbolic link to a FIFO"
                      : h->k == K_FIFO      ? "a FIFO, not a regular file"
                                            : kinds[h->k].reason;
    expect_in(text, why, "the reason is given");
    assert_false(ts_manifest_info(h->inst, h->path, &info));
}

/* A manifest named explicitly (ACCEL_DRIVER_FILES, manifest_paths): its
 * reason names why it could not be read. */
static void check_manifest_file(hostile *h)
{
    create_guarded(h, (const char *const[]){h->path, NULL});
    accel_manifest_info info = {.struct_size = sizeof(info)};
    uint32_t n = 0;
    accel_manifest **m = ts_manifests(h->inst, &n);
    assert_int_equal(n, 1);
    assert_int_equal(accel_manifest_get_info(m[0], &info), ACCEL_SUCCESS);
    free(m);
    assert_int_not_equal(info.status, ACCEL_MANIFEST_LOADED);
    expect_in(info.path, "hostile.json", "the manifest is named");
    expect_reason(info.reason, h, "too large", "manifest reason");
}

/* A manifest whose library_path is the hostile file: refused before
 * dlopen (which would block on a FIFO), or dlopen's own error. */
static void check_manifest_library(hostile *h)
{
    char *man = ts_write_manifest(h->dir, "hostile.json", "hostile", h->path);
    create_guarded(h, (const char *const[]){man, NULL});
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(h->inst, man, &info));
    free(man);
    assert_int_equal(info.status, ACCEL_MANIFEST_FAILED);
    assert_int_equal(info.result, ACCEL_ERROR_DRIVER_LOAD_FAILED);
    /* Named as the loader resolved it: a link to a device by its target. */
    char *real = realpath(h->path, NULL);
    expect_in(info.reason, real && h->k == K_DEVICE ? real : h->path, "the library is named");
    free(real);
    /* A sparse file of zeros is dlopen's to refuse: not an ELF file. */
    expect_reason(info.reason, h, NULL, "library reason");
}

/* accel_pipeline_load on the hostile file. */
static accel_result load_pipeline(hostile *h)
{
    accel_pipeline *pl = NULL;
    accel_result r = accel_pipeline_load(h->path, &pl);
    if (pl) {
        h->made = true;
        accel_pipeline_destroy(pl);
    }
    return r;
}

/* ---- runs on the cpu driver ---- */

static accel_instance *cpu_inst;
static const accel_topology *cpu_topo;
static accel_device *cpu_dev;

typedef struct prepared {
    accel_pipeline *pipeline;
    accel_plan *plan;
    accel_run *run;
} prepared;

/* The pipeline `json` (its first buffer first_bytes long, unless 0),
 * placed on `topo`, a run of it prepared on `inst` with options o. */
static void prepare_run_on(prepared *p, accel_instance *inst, const accel_topology *topo, const char *json,
                           const accel_run_options *o, uint64_t first_bytes)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(accel_pipeline_parse(json, strlen(json), "hostile", &p->pipeline), ACCEL_SUCCESS);
    if (first_bytes)
        assert_int_equal(accel_pipeline_set_buffer_bytes(p->pipeline, 0, first_bytes), ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    accel_result r = accel_place(topo, p->pipeline, &po, &p->plan);
    if (r != ACCEL_SUCCESS)
        fail_msg("placing the pipeline: %s", accel_last_error_message());
    assert_int_equal(accel_run_create(inst, topo, p->pipeline, p->plan, o, &p->run), ACCEL_SUCCESS);
}

/* The same on the cpu device, reading from dir and writing to out_dir,
 * the first buffer 16 bytes. */
static void prepare_run(prepared *p, const char *dir, const char *out_dir, const char *json)
{
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = dir, .output_dir = out_dir};
    prepare_run_on(p, cpu_inst, cpu_topo, json, &o, 16);
}

static void release_run(prepared *p)
{
    accel_run_destroy(p->run);
    accel_plan_destroy(p->plan);
    accel_pipeline_destroy(p->pipeline);
}

/* Execute the prepared run under the guard; the run is released. The
 * message lives with the run: *res gets a copy (valid until the next call). */
static accel_result execute_guarded(prepared *p, const char *what, accel_run_result *res)
{
    *res = (accel_run_result){.struct_size = sizeof(*res)};
    guard(what);
    accel_result r = accel_run_execute(p->run, res);
    unguard();
    static char msg[1024];
    snprintf(msg, sizeof(msg), "%s", res->message ? res->message : "");
    res->message = msg;
    release_run(p);
    return r;
}

/* The crc pipeline: data (the file `input`) to crc (the output `output`). */
static char *crc_json(const char *input, const char *output)
{
    return ts_printf("{\"pipeline_version\": 1, \"buffers\": {"
                     " \"data\": {\"file\": \"%s\"},"
                     " \"crc\": {\"bytes\": 4, \"output\": \"%s\"}},"
                     " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\","
                     "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"crc\"}]}]}",
                     input, output);
}

/* Files of d whose names start with '.' (temporary outputs) or equal `name`. */
static int count_named(const char *d, const char *name)
{
    DIR *dd = opendir(d);
    assert_non_null(dd);
    int n = 0;
    for (struct dirent *e; (e = readdir(dd));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n += e->d_name[0] == '.' || (name && strcmp(e->d_name, name) == 0);
    }
    closedir(dd);
    return n;
}

/* A pipeline's input file of the hostile kind: the run fails before any
 * stage with ACCEL_ERROR_IO naming the file and why, no output left. */
static void check_pipeline_input(hostile *h)
{
    char *json = crc_json("data.bin", "crc.bin");
    prepared p;
    prepare_run(&p, h->dir, h->dir, json);
    free(json);
    accel_run_result res;
    assert_int_equal(execute_guarded(&p, h->name, &res), ACCEL_ERROR_IO);
    expect_in(res.message, h->path, "the input is named");
    expect_reason(res.message, h, NULL, "input reason");
    assert_int_equal(count_named(h->dir, "crc.bin"), 0);
}

/* The same kinds bound with accel_run_bind (ACCEL_RUN_IO_PATH): a FIFO is
 * allowed there (a pipe, read to its end: without a writer, at once), the
 * others are refused as for a pipeline's file. */
static void check_bound_input(hostile *h)
{
    free(ts_write_text(h->dir, "real.bin", "0123456789abcdef"));
    char *json = crc_json("real.bin", "crc.bin");
    prepared p;
    prepare_run(&p, h->dir, h->dir, json);
    free(json);
    accel_run_io io = {.struct_size = sizeof(io), .kind = ACCEL_RUN_IO_PATH, .path = h->path, .fd = -1};
    assert_int_equal(accel_run_bind(p.run, 0, &io), ACCEL_SUCCESS);
    accel_run_result res;
    accel_result r = execute_guarded(&p, h->name, &res);
    if (h->k == K_FIFO || h->k == K_LINK_FIFO) {
        if (r != ACCEL_SUCCESS)
            fail_msg("a FIFO without a writer reads as empty: %s", res.message);
        assert_int_equal(res.input_bytes, 0);
    } else {
        assert_int_equal(r, ACCEL_ERROR_IO);
        expect_in(res.message, h->path, "the bound input is named");
        expect_reason(res.message, h, NULL, "bound input reason");
        assert_int_equal(count_named(h->dir, "crc.bin"), 0);
    }
}

/* An ELF program for the cpu driver (accel_program_load with a path). */
static accel_result load_elf_program(hostile *h)
{
    accel_program *prog = NULL;
    accel_result r =
        accel_program_load(cpu_dev, ACCEL_PROGRAM_FORMAT_ELF, h->path, strlen(h->path) + 1, NULL, &prog);
    if (prog) {
        h->made = true;
        accel_program_destroy(prog);
    }
    return r;
}

/* A program source the loader reads for a stage (opencl-c, spirv): on an
 * OpenCL device (PoCL here), a whole-buffer run fails at that stage with
 * ACCEL_ERROR_IO naming the stage, the file and the reason, or too large.
 * Skipped where no OpenCL device is found. */
static accel_instance *ocl_inst;
static const accel_topology *ocl_topo;

static bool have_opencl(void)
{
    if (!ocl_inst) {
        const char *paths[] = {BUILD_MANIFEST_DIR "/accel_opencl.json", NULL};
        uint32_t n = 0;
        if (ts_create_with_paths(&ocl_inst, 0, paths) != ACCEL_SUCCESS ||
            accel_enumerate_devices(ocl_inst, &n, NULL) != ACCEL_SUCCESS || n == 0 ||
            accel_instance_get_topology(ocl_inst, &ocl_topo) != ACCEL_SUCCESS) {
            accel_instance_destroy(ocl_inst);
            ocl_inst = NULL;
        }
    }
    if (!ocl_inst)
        print_message("no OpenCL device: the program source cases are skipped\n");
    return ocl_inst != NULL;
}

static void check_program_source(hostile *h)
{
    static const char json[] =
        "{\"pipeline_version\": 1, \"buffers\": {\"data\": {\"bytes\": 16, \"zero\": true}},"
        " \"stages\": [{\"name\": \"k\", \"function\": \"k\", \"program\": \"kernel.cl\","
        " \"format\": \"opencl-c\", \"work_size\": [1], \"args\": [{\"buffer\": \"data\"}]}]}";
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = h->dir, .output_dir = h->dir};
    prepared p;
    prepare_run_on(&p, ocl_inst, ocl_topo, json, &o, 0);
    accel_run_result res;
    assert_int_equal(execute_guarded(&p, h->name, &res), ACCEL_ERROR_IO);
    assert_int_equal(res.failed_stage, 0);
    expect_in(res.message, "stage k: program", "the stage is named");
    expect_in(res.message, h->path, "the program is named");
    expect_reason(res.message, h, "larger than", "program source reason");
}

/* The calibration cache ($XDG_CACHE_HOME/accel/calibration.json) when a
 * topology is built: ignored with a warning naming it, never waited on. */
static void check_calibration_cache(hostile *h)
{
    ts_env_push("XDG_CACHE_HOME", h->dir);
    assert_int_equal(
        ts_create_logged(&h->inst, &h->log, ACCEL_LOG_ALL, (const char *const[]){CPU_MANIFEST, NULL}),
        ACCEL_SUCCESS);
    accel_topology *topo = NULL;
    accel_topology_options to = {.struct_size = sizeof(to)};
    guard(h->name);
    accel_result r = accel_topology_create(h->inst, &to, &topo);
    unguard();
    assert_int_equal(r, ACCEL_SUCCESS);
    accel_topology_destroy(topo);
    if (h->k == K_DANGLING) /* a cache that is not there is not worth a word */
        return;
    const char *text = hostile_log(h);
    expect_in(text, h->path, "the cache is named");
    expect_in(text, "ignored", "the cache is ignored");
    expect_reason(text, h, "larger than", "the cache's reason");
}

/* A user topology file (accel_topology_options.user_file) or a recorded
 * hwloc XML file (accel_topology_options.hwloc_xml): an error naming it,
 * at once. */
static accel_result create_topology(accel_instance *inst, const accel_topology_options *to, hostile *h)
{
    accel_topology *topo = NULL;
    accel_result r = accel_topology_create(inst, to, &topo);
    if (topo) {
        h->made = true;
        accel_topology_destroy(topo);
    }
    return r;
}

static accel_result create_user_topology(hostile *h)
{
    accel_topology_options to = {.struct_size = sizeof(to), .user_file = h->path};
    return create_topology(cpu_inst, &to, h);
}

static accel_result create_hwloc_topology(hostile *h)
{
    accel_topology_options to = {
        .struct_size = sizeof(to), .flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES, .hwloc_xml = h->path};
    return create_topology(NULL, &to, h);
}

/* ---- the fpga driver ---- */

/* An FPGA image description, the library it names, and the emulator's
 * card file (ACCEL_FPGA_EMULATOR_CONFIG). */
static accel_device *fpga_slot(accel_instance *inst)
{
    uint32_t n = 0;
    accel_device **devs = ts_devices(inst, &n);
    accel_device *slot = NULL;
    for (uint32_t i = 0; i < n && !slot; i++) {
        accel_device_info info = ts_device_info(devs[i]);
        if (strcmp(info.driver_name, "fpga") == 0 && (info.flags & ACCEL_DEVICE_FLAG_PARTITION))
            slot = devs[i];
    }
    free(devs);
    assert_non_null(slot);
    return slot;
}

/* accel_program_load of `image` on a slot of the emulated card, made
 * without a card file. */
static accel_result load_fpga_image_at(hostile *h, const char *image)
{
    ts_env_push("ACCEL_FPGA_EMULATOR_CONFIG", NULL);
    assert_int_equal(ts_create_with_paths(&h->inst, 0, (const char *const[]){FPGA_MANIFEST, NULL}),
                     ACCEL_SUCCESS);
    accel_program *prog = NULL;
    accel_result r =
        accel_program_load(fpga_slot(h->inst), ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, image, 0, NULL, &prog);
    if (prog) {
        /* Programming a slot loads the library: a kernel submission would. */
        h->made = true;
        accel_program_destroy(prog);
    }
    return r;
}

static accel_result load_fpga_image(hostile *h)
{
    return load_fpga_image_at(h, h->path);
}

static accel_result load_fpga_image_library(hostile *h)
{
    char *img =
        ts_write_text(h->dir, "image.json",
                      "{\"image_version\": 1, \"name\": \"hostile\", \"library\": \"libimage.so\","
                      " \"kernels\": [{\"name\": \"k\", \"args\": [{\"name\": \"n\", \"kind\": \"u32\"}]}]}");
    accel_result r = load_fpga_image_at(h, img);
    free(img);
    return r;
}

static void check_fpga_card_file(hostile *h)
{
    ts_env_push("ACCEL_FPGA_EMULATOR_CONFIG", h->path);
    create_guarded(h, (const char *const[]){FPGA_MANIFEST, NULL});
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(h->inst, FPGA_MANIFEST, &info));
    assert_int_not_equal(info.status, ACCEL_MANIFEST_LOADED);
    char *all = ts_printf("%s\n%s", info.reason ? info.reason : "", hostile_log(h));
    expect_in(all, h->path, "the card file is named");
    expect_reason(all, h, "at most 1 MiB", "card file reason");
    free(all);
}

/* ---- uacce sysfs attributes (ACCEL_UACCE_SYSFS_ROOT) ---- */

/* A uacce device whose "api" attribute is the hostile file: skipped, the
 * attribute named in a warning with its kind, nothing waited on. */
static void check_uacce_attribute(hostile *h)
{
    static const char *const attributes[][2] = {
        {"flags", "1\n"},
        {"available_instances", "1\n"},
        {"algorithms", "zlib\n"},
        {"region_mmio_size", "4096\n"},
        {"region_dus_size", "1048576\n"},
    };
    char *dev = ts_printf("%s/sys/class/uacce/hostile-0", h->dir);
    for (size_t i = 0; i < sizeof(attributes) / sizeof(attributes[0]); i++)
        free(ts_write_text(dev, attributes[i][0], attributes[i][1]));
    free(dev);
    char *sys = ts_printf("%s/sys", h->dir), *devroot = ts_printf("%s/dev", h->dir);
    ts_mkdirs(devroot);
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", sys);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", devroot);
    free(sys);
    free(devroot);
    create_guarded(h, (const char *const[]){BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL});
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_devices(h->inst, &n, NULL), ACCEL_SUCCESS);
    assert_int_equal(n, 0);
    const char *text = hostile_log(h);
    expect_in(text, "hostile-0", "the device is named");
    if (h->k != K_HUGE &&
        h->k != K_DANGLING) { /* a missing attribute, or a long one, is the device's reason */
        expect_in(text, h->path, "the attribute is named");
        expect_in(text, kinds[h->k].reason, "attribute reason");
    }
}

/* ------------------------------------------------------------------------ */
/* Other names in a manifest directory                                        */

static void test_manifest_dir_other_names_logged(void **state)
{
    (void)state;
    char *d = fresh_dir("manifest-dir-names");
    char *good = ts_write_fake_manifest(d, "good.json", "good_b");
    free(ts_write_text(d, "README", "not a manifest\n"));
    char *fifo = ts_printf("%s/pipe", d), *sub = ts_printf("%s/sub.d", d);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    ts_mkdirs(sub);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {d, NULL};
    guard("manifest directory names");
    assert_int_equal(ts_create_logged(&inst, &log, ACCEL_LOG_ALL, paths), ACCEL_SUCCESS);
    unguard();
    static const char *const names[] = {"README", "pipe", "sub.d"};
    for (size_t i = 0; i < 3; i++) {
        char *line = ts_printf("%s/%s skipped: the name does not end in .json", d, names[i]);
        assert_int_equal(ts_log_count(&log, line, NULL), 1);
        free(line);
    }
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(good);
    free(fifo);
    free(sub);
    ts_rmtree(d);
    free(d);
}

/* ------------------------------------------------------------------------ */
/* Outputs                                                                    */

/* tmp/out-<tag>, fresh, holding data.bin (16 bytes); free the result. */
static char *out_case_dir(const char *tag)
{
    char *leaf = ts_printf("out-%s", tag);
    char *d = fresh_dir(leaf);
    free(leaf);
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    return d;
}

/* A run of the pipeline `json` reading from d and writing to out_dir
 * (default d), under the guard named `what`. */
static accel_result run_in(const char *d, const char *json, const char *out_dir, const char *what,
                           accel_run_result *res)
{
    prepared p;
    prepare_run(&p, d, out_dir ? out_dir : d, json);
    return execute_guarded(&p, what, res);
}

/* The crc pipeline reading d/data.bin and writing `output`. */
static accel_result run_crc_in(const char *d, const char *output, const char *out_dir, const char *what,
                               accel_run_result *res)
{
    char *json = crc_json("data.bin", output);
    accel_result r = run_in(d, json, out_dir, what, res);
    free(json);
    return r;
}

/* The same in a fresh out_case_dir(tag), returned in *dir_out. */
static accel_result run_crc(const char *tag, const char *output, const char *out_dir, accel_run_result *res,
                            char **dir_out)
{
    *dir_out = out_case_dir(tag);
    return run_crc_in(*dir_out, output, out_dir, tag, res);
}

/* The file holds exactly `text`. */
static void expect_file(const char *path, const char *text)
{
    char *have = ts_read_text(path);
    assert_string_equal(have, text);
    free(have);
}

static void test_output_dotdot_refused(void **state)
{
    (void)state;
    accel_run_result res;
    char *d;
    assert_int_equal(run_crc("dotdot", "../escaped.bin", NULL, &res, &d), ACCEL_ERROR_INVALID_ARGUMENT);
    expect_in(res.message, "../escaped.bin", "the output is named");
    expect_in(res.message, "a \"..\" component", "the reason");
    assert_int_equal(res.input_bytes, 0);
    char *esc = ts_printf("%s/escaped.bin", tmp);
    assert_int_equal(access(esc, F_OK), -1);
    free(esc);
    ts_rmtree(d);
    free(d);
}

static void test_output_absolute_refused(void **state)
{
    (void)state;
    char *abs = ts_printf("%s/absolute.bin", tmp);
    accel_run_result res;
    char *d;
    assert_int_equal(run_crc("absolute", abs, NULL, &res, &d), ACCEL_ERROR_INVALID_ARGUMENT);
    expect_in(res.message, abs, "the output is named");
    expect_in(res.message, "an absolute path", "the reason");
    assert_int_equal(access(abs, F_OK), -1);
    free(abs);
    ts_rmtree(d);
    free(d);
}

static void test_output_symlink_not_followed(void **state)
{
    (void)state;
    char *d = out_case_dir("symlink");
    char *victim = ts_write_text(tmp, "victim.txt", "keep me\n");
    char *link = ts_printf("%s/crc.bin", d);
    assert_int_equal(symlink(victim, link), 0);
    accel_run_result res;
    assert_int_equal(run_crc_in(d, "crc.bin", NULL, "output symlink", &res), ACCEL_ERROR_IO);
    expect_in(res.message, link, "the output is named");
    expect_in(res.message, "a symbolic link (not followed, not replaced)", "the reason");
    expect_file(victim, "keep me\n");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    free(link);
    unlink(victim);
    free(victim);
    ts_rmtree(d);
    free(d);
}

static void test_output_is_input_refused(void **state)
{
    (void)state;
    accel_run_result res;
    char *d;
    assert_int_equal(run_crc("is-input", "data.bin", NULL, &res, &d), ACCEL_ERROR_INVALID_ARGUMENT);
    expect_in(res.message, "is the input of buffer data", "the reason");
    char *in = ts_printf("%s/data.bin", d);
    expect_file(in, "0123456789abcdef");
    free(in);
    ts_rmtree(d);
    free(d);
}

static void test_output_twice_refused(void **state)
{
    (void)state;
    char *d = out_case_dir("twice");
    static const char json[] = "{\"pipeline_version\": 1, \"buffers\": {"
                               " \"data\": {\"file\": \"data.bin\"},"
                               " \"crc\": {\"bytes\": 4, \"output\": \"sum.bin\"},"
                               " \"digest\": {\"bytes\": 32, \"output\": \"./sum.bin\"}},"
                               " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\","
                               "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"crc\"}]},"
                               "  {\"name\": \"sha\", \"function\": \"sha256\","
                               "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"digest\"}]}]}";
    accel_run_result res;
    assert_int_equal(run_in(d, json, NULL, "two outputs on one file", &res), ACCEL_ERROR_INVALID_ARGUMENT);
    expect_in(res.message, "is also the output of buffer crc", "the reason");
    assert_int_equal(count_named(d, "sum.bin"), 0);
    ts_rmtree(d);
    free(d);
}

static void test_output_name_special_file_refused(void **state)
{
    (void)state;
    static const kind ks[] = {K_DIR, K_FIFO};
    static const char *const why[] = {"a directory is there", "a FIFO is there"};
    for (size_t i = 0; i < 2; i++) {
        char *tag = ts_printf("special-%s", kinds[ks[i]].name);
        char *d = out_case_dir(tag);
        free(tag);
        char *out = ts_printf("%s/crc.bin", d);
        make_kind(out, ks[i]);
        accel_run_result res;
        assert_int_equal(run_crc_in(d, "crc.bin", NULL, "output name taken by a special file", &res),
                         ACCEL_ERROR_IO);
        expect_in(res.message, out, "the output is named");
        expect_in(res.message, why[i], "the reason");
        assert_int_equal(count_named(d, NULL), 0);
        free(out);
        ts_rmtree(d);
        free(d);
    }
}

static void test_output_dir_missing_reported_first(void **state)
{
    (void)state;
    char *missing = ts_printf("%s/no-such-dir", tmp);
    accel_run_result res;
    char *d;
    assert_int_equal(run_crc("dir-missing", "crc.bin", missing, &res, &d), ACCEL_ERROR_IO);
    expect_in(res.message, "output directory", "the directory is named");
    expect_in(res.message, missing, "the directory is named");
    expect_in(res.message, strerror(ENOENT), "the reason");
    assert_int_equal(res.input_bytes, 0); /* before any work */
    assert_int_equal(access(missing, F_OK), -1);
    ts_rmtree(d);
    free(d);
    /* A file where the directory should be. */
    char *file = ts_write_text(tmp, "not-a-dir", "x");
    assert_int_equal(run_crc("dir-file", "crc.bin", file, &res, &d), ACCEL_ERROR_IO);
    expect_in(res.message, strerror(ENOTDIR), "the reason");
    unlink(file);
    free(file);
    free(missing);
    ts_rmtree(d);
    free(d);
}

/* A stage that fails mid-stream: no file under the final name (the old
 * one is kept as it was), no temporary file left. */
static void test_output_failure_leaves_nothing(void **state)
{
    (void)state;
    char *d = fresh_dir("out-failure");
    /* A zlib stream whose second stored block's length check is wrong. */
    unsigned char z[2 + 3 * (5 + 1000) + 4];
    size_t k = 0;
    z[k++] = 0x78;
    z[k++] = 0x01;
    for (int b = 0; b < 3; b++) {
        z[k++] = b == 2;
        z[k++] = 1000 & 0xff;
        z[k++] = 1000 >> 8;
        z[k++] = (unsigned char)(~1000 & 0xff) ^ (b == 1 ? 0x55 : 0);
        z[k++] = (unsigned char)(~1000 >> 8 & 0xff);
        memset(z + k, 'a' + b, 1000);
        k += 1000;
    }
    memset(z + k, 0, 4);
    k += 4;
    char *in = ts_printf("%s/in.zz", d);
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(z, 1, k, f), k);
    assert_int_equal(fclose(f), 0);
    char *old = ts_write_text(d, "plain.bin", "the old output\n");
    static const char json[] =
        "{\"pipeline_version\": 1, \"buffers\": {"
        " \"in\": {\"file\": \"in.zz\"},"
        " \"plain\": {\"bytes\": 4096, \"output\": \"plain.bin\", \"output_size_from\": \"plain_size\"},"
        " \"plain_size\": {\"bytes\": 8}},"
        " \"stages\": [{\"name\": \"inflate\", \"function\": \"zlib.inflate\","
        "   \"args\": [{\"buffer\": \"in\"}, {\"buffer\": \"plain\"}, {\"buffer\": \"plain_size\"}]}]}";
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = d, .output_dir = d, .chunk_size = 256};
    prepared p;
    prepare_run_on(&p, cpu_inst, cpu_topo, json, &o, k);
    accel_run_result res;
    assert_int_not_equal(execute_guarded(&p, "failure mid-run", &res), ACCEL_SUCCESS);
    assert_true(res.streamed);
    assert_true(res.failed_chunk > 0); /* chunks were written before it failed */
    assert_true(res.output_bytes > 0);
    expect_file(old, "the old output\n");
    assert_int_equal(count_named(d, NULL), 0); /* no temporary file */
    free(old);
    free(in);
    ts_rmtree(d);
    free(d);
}

/* ---- accel-run ---- */

/* accel-run's environment: the build tree's cpu driver alone. */
#define CPU_TOOL_ENV "ACCEL_DRIVER_FILES=" BUILD_MANIFEST_DIR, "ACCEL_DRIVERS_SELECT=cpu"

static int run_tool(const char *const *argv, const char *const *env, char **err)
{
    guard(argv[1]);
    int rc = ts_run(argv, env, NULL, err);
    unguard();
    return rc;
}

/* -o DIR: made (one level) before the run; a missing parent is reported
 * before any work, and nothing is made. */
static void test_accel_run_output_dir(void **state)
{
    (void)state;
    char *d = fresh_dir("tool");
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    char *json = crc_json("data.bin", "crc.bin");
    char *pipeline = ts_write_text(d, "crc.json", json);
    char *out = ts_printf("%s/made", d);
    static const char *const env[] = {CPU_TOOL_ENV, NULL};
    const char *argv[] = {ACCEL_RUN_PATH, "-q", "-o", out, pipeline, NULL};
    char *err = NULL;
    int rc = run_tool(argv, env, &err);
    if (rc != 0)
        fail_msg("accel-run -o %s: exit %d: %s", out, rc, err);
    free(err);
    char *crc = ts_printf("%s/crc.bin", out);
    struct stat st;
    assert_int_equal(stat(crc, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_int_equal(count_named(out, NULL), 0);
    free(crc);
    char *deep = ts_printf("%s/missing/sub", d);
    argv[3] = deep;
    assert_int_equal(run_tool(argv, env, &err), 1);
    char *want = ts_printf("output directory %s: %s", deep, strerror(ENOENT));
    expect_in(err, want, "accel-run names the directory and the reason");
    free(want);
    free(err);
    assert_int_equal(access(deep, F_OK), -1);
    /* A pipeline's input that is a FIFO: refused before placement. */
    char *fifo = ts_printf("%s/data.bin", d);
    make_kind(fifo, K_FIFO);
    argv[3] = out;
    assert_int_equal(run_tool(argv, env, &err), 1);
    expect_in(err, fifo, "the input is named");
    expect_in(err, "a FIFO", "the reason");
    free(err);
    free(fifo);
    free(deep);
    free(out);
    free(pipeline);
    free(json);
    ts_rmtree(d);
    free(d);
}

/* --calibrate with a symbolic link at the cache's name: refused before any
 * timing, the link's target untouched. */
static void test_accel_run_calibration_cache_link(void **state)
{
    (void)state;
    char *d = fresh_dir("calib-link");
    char *sub = ts_printf("%s/accel", d);
    ts_mkdirs(sub);
    char *victim = ts_write_text(d, "victim.json", "keep me\n");
    char *cache = ts_printf("%s/calibration.json", sub);
    assert_int_equal(symlink(victim, cache), 0);
    char *xdg = ts_printf("XDG_CACHE_HOME=%s", d);
    const char *env[] = {CPU_TOOL_ENV, xdg, NULL};
    const char *argv[] = {ACCEL_RUN_PATH, "--calibrate", "--calibrate-sizes", "1K,2K,4K", NULL};
    char *err = NULL;
    assert_int_equal(run_tool(argv, env, &err), 1);
    expect_in(err, cache, "the cache is named");
    expect_in(err, "a symbolic link, not a regular file", "the reason");
    free(err);
    expect_file(victim, "keep me\n");
    /* A FIFO there: the same, and nothing waits on it. */
    unlink(cache);
    make_kind(cache, K_FIFO);
    assert_int_equal(run_tool(argv, env, &err), 1);
    expect_in(err, "a FIFO, not a regular file", "the reason");
    free(err);
    free(xdg);
    free(cache);
    free(victim);
    free(sub);
    ts_rmtree(d);
    free(d);
}

/* --calibrate --corpus DIR: a FIFO, a directory and a device in DIR are
 * named and skipped, never read; the regular file is timed. */
static void test_accel_run_corpus_skips_named(void **state)
{
    (void)state;
    char *d = fresh_dir("corpus");
    char *corpus = ts_printf("%s/data", d), *cache = ts_printf("%s/cache", d);
    ts_mkdirs(corpus);
    ts_mkdirs(cache);
    char text[8192];
    for (size_t i = 0; i < sizeof(text) - 1; i++)
        text[i] = "accel loader corpus "[i % 20];
    text[sizeof(text) - 1] = '\0';
    free(ts_write_text(corpus, "a.txt", text));
    static const kind ks[] = {K_FIFO, K_DIR, K_DEVICE};
    static const char *const names[] = {"pipe", "sub", "zero"};
    for (size_t i = 0; i < 3; i++) {
        char *p = ts_printf("%s/%s", corpus, names[i]);
        make_kind(p, ks[i]);
        free(p);
    }
    char *xdg = ts_printf("XDG_CACHE_HOME=%s", cache);
    const char *env[] = {CPU_TOOL_ENV, xdg, NULL};
    const char *argv[] = {ACCEL_RUN_PATH, "--calibrate",        "--corpus", corpus, "--calibrate-sizes",
                          "1K,2K,4K",     "--calibrate-budget", "0.01",     NULL};
    char *err = NULL;
    int rc = run_tool(argv, env, &err);
    if (rc != 0)
        fail_msg("accel-run --calibrate --corpus: exit %d: %s", rc, err);
    static const char *const why[] = {"a FIFO", "a directory", "a character device"};
    for (size_t i = 0; i < 3; i++) {
        char *line = ts_printf("--corpus: %s/%s: %s, not a regular file; skipped", corpus, names[i], why[i]);
        expect_in(err, line, "the skipped corpus entry is named");
        free(line);
    }
    free(err);
    free(xdg);
    free(cache);
    free(corpus);
    ts_rmtree(d);
    free(d);
}

/* ------------------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    signal(SIGALRM, on_alarm);
    tmp = ts_mkdtemp("hostile");
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    if (ts_create_with_paths(&cpu_inst, 0, paths) != ACCEL_SUCCESS)
        return -1;
    if (accel_instance_get_topology(cpu_inst, &cpu_topo) != ACCEL_SUCCESS)
        return -1;
    uint32_t n = 1;
    if (accel_enumerate_devices(cpu_inst, &n, &cpu_dev) < 0 || n != 1)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    accel_instance_destroy(cpu_inst);
    accel_instance_destroy(ocl_inst);
    ts_rmtree(tmp);
    free(tmp);
    return 0;
}

/* One case per surface and kind, named "surface: kind". */
static const surface surfaces[] = {
    {"manifest directory entry", "manifest-dir", "hostile.json", .check = check_manifest_dir_entry},
    /* A directory named as a manifest is searched for manifests instead. */
    {"manifest file", "manifest-file", "hostile.json", .check = check_manifest_file, .kinds = ~(1u << K_DIR)},
    {"manifest library_path", "manifest-library", "libhostile.so", .check = check_manifest_library},
    {"pipeline file", "pipeline-file", "pipeline.json", .check = check_error_message, .call = load_pipeline,
     .want = ACCEL_ERROR_IO, .want_huge = ACCEL_ERROR_INVALID_ARGUMENT, .huge_reason = "too large"},
    /* A huge regular file is an input like any other (streamed, memory
     * bounded): it is data, not an attack, and reading 64 GiB is slow. */
    {"pipeline input file", "pipeline-input", "data.bin", .check = check_pipeline_input,
     .kinds = ~(1u << K_HUGE)},
    {"bound input path", "bound-input", "data.bin", .check = check_bound_input, .kinds = ~(1u << K_HUGE)},
    {"ELF program", "elf-program", "kernels.so", .check = check_error_message, .call = load_elf_program},
    {"program source", "program-source", "kernel.cl", .check = check_program_source,
     .available = have_opencl},
    {"calibration cache", "calibration-cache", "accel/calibration.json", .check = check_calibration_cache},
    {"user topology file", "user-topology", "topology.json", .check = check_error_message,
     .call = create_user_topology, .huge_reason = "larger than"},
    {"recorded hwloc XML", "hwloc-xml", "machine.xml", .check = check_error_message,
     .call = create_hwloc_topology, .huge_reason = "larger than"},
    {"FPGA image description", "fpga-image", "image.json", .check = check_error_message,
     .call = load_fpga_image, .huge_reason = "at most 1 MiB"},
    {"FPGA image library", "fpga-library", "libimage.so", .check = check_error_message,
     .call = load_fpga_image_library, .named = "libimage.so"},
    {"FPGA card file", "fpga-card", "cards.json", .check = check_fpga_card_file},
    {"uacce sysfs attribute", "uacce", "sys/class/uacce/hostile-0/api", .check = check_uacce_attribute},
};

int main(void)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_manifest_dir_other_names_logged),
        cmocka_unit_test(test_output_dotdot_refused),
        cmocka_unit_test(test_output_absolute_refused),
        cmocka_unit_test(test_output_symlink_not_followed),
        cmocka_unit_test(test_output_is_input_refused),
        cmocka_unit_test(test_output_twice_refused),
        cmocka_unit_test(test_output_name_special_file_refused),
        cmocka_unit_test(test_output_dir_missing_reported_first),
        cmocka_unit_test(test_output_failure_leaves_nothing),
        cmocka_unit_test(test_accel_run_output_dir),
        cmocka_unit_test(test_accel_run_calibration_cache_link),
        cmocka_unit_test(test_accel_run_corpus_skips_named),
    };
    size_t ns = sizeof(surfaces) / sizeof(surfaces[0]), nf = sizeof(fixed) / sizeof(fixed[0]);
    hostile_case *cases = calloc(ns * K_COUNT, sizeof(*cases));
    struct CMUnitTest *tests = calloc(ns * K_COUNT + nf, sizeof(*tests));
    size_t n = 0;
    for (size_t s = 0; s < ns; s++)
        for (int k = 0; k < K_COUNT; k++) {
            if (surfaces[s].kinds && !(surfaces[s].kinds & (1u << k)))
                continue;
            cases[n] =
                (hostile_case){&surfaces[s], (kind)k, ts_printf("%s: %s", surfaces[s].name, kinds[k].name)};
            /* The case fixtures put back what a check pushed when an
             * assertion ends it before run_case pops. */
            tests[n] = (struct CMUnitTest){.name = cases[n].name,
                                           .test_func = run_case,
                                           .setup_func = ts_env_case_setup,
                                           .teardown_func = ts_env_case_teardown,
                                           .initial_state = &cases[n]};
            n++;
        }
    size_t nc = n;
    for (size_t i = 0; i < nf; i++)
        tests[n++] = fixed[i];
    int rc = _cmocka_run_group_tests("hostile_files", tests, n, group_setup, group_teardown);
    for (size_t i = 0; i < nc; i++)
        free(cases[i].name);
    free(cases);
    free(tests);
    return rc;
}
