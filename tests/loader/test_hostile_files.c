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

/* A fresh directory for one case. */
static char *case_dir(const char *surface, kind k)
{
    char *d = ts_printf("%s/%s-%s", tmp, surface, kinds[k].name);
    ts_rmtree(d);
    ts_mkdirs(d);
    return d;
}

static void expect_in(const char *text, const char *needle, const char *what)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s: \"%s\" not in: %s", what, needle, text ? text : "(null)");
}

/* ------------------------------------------------------------------------ */
/* Instances with a captured log                                              */

static accel_result create_logged(accel_instance **inst, ts_log *log, const char *const *paths)
{
    uint32_t n = 0;
    while (paths && paths[n])
        n++;
    accel_instance_options o = {
        .struct_size = sizeof(o),
        .manifest_paths = paths,
        .manifest_path_count = n,
        .log_callback = ts_log_callback,
        .log_user_data = log,
        .log_mask = ACCEL_LOG_ALL,
    };
    return accel_instance_create(&o, inst);
}

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
/* Surfaces: each takes the kind as its state                                 */

/* An entry of a manifest directory: skipped (named in the debug log with
 * its reason), or for a huge *.json, rejected as too large; the good
 * manifest next to it still loads. */
static void surface_manifest_dir_entry(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("manifest-dir", k);
    char *good = ts_write_fake_manifest(d, "good.json", "good_a");
    char *bad = ts_printf("%s/hostile.json", d);
    make_kind(bad, k);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {d, NULL};
    guard("manifest directory entry");
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    unguard();
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(inst, good, &info));
    assert_int_equal(info.status, ACCEL_MANIFEST_LOADED);
    char *text = log_text(&log);
    if (k == K_HUGE) {
        assert_true(ts_manifest_info(inst, bad, &(accel_manifest_info){.struct_size = sizeof(info)}));
        accel_manifest_info bi = {.struct_size = sizeof(bi)};
        ts_manifest_info(inst, bad, &bi);
        expect_in(bi.reason, "too large", "huge manifest");
    } else {
        char *line = ts_printf("%s/hostile.json skipped: ", d);
        expect_in(text, line, "the skipped entry is named");
        free(line);
        const char *why = k == K_DIR         ? "a directory, not a regular file"
                          : k == K_DEVICE    ? "a symbolic link to a character device"
                          : k == K_LINK_FIFO ? "a symbolic link to a FIFO"
                          : k == K_FIFO      ? "a FIFO, not a regular file"
                                             : kinds[k].reason;
        expect_in(text, why, "the reason is given");
        assert_false(ts_manifest_info(inst, bad, &info));
    }
    free(text);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(good);
    free(bad);
    ts_rmtree(d);
    free(d);
}

/* A manifest named explicitly (ACCEL_DRIVER_FILES, manifest_paths): its
 * reason names why it could not be read. */
static void surface_manifest_file(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("manifest-file", k);
    char *bad = ts_printf("%s/hostile.json", d);
    make_kind(bad, k);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {bad, NULL};
    guard("explicit manifest file");
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    unguard();
    accel_manifest_info info = {.struct_size = sizeof(info)};
    uint32_t n = 0;
    accel_manifest **m = ts_manifests(inst, &n);
    assert_int_equal(n, 1);
    assert_int_equal(accel_manifest_get_info(m[0], &info), ACCEL_SUCCESS);
    assert_int_not_equal(info.status, ACCEL_MANIFEST_LOADED);
    expect_in(info.path, "hostile.json", "the manifest is named");
    expect_in(info.reason, k == K_HUGE ? "too large" : kinds[k].reason, "manifest reason");
    free(m);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(bad);
    ts_rmtree(d);
    free(d);
}

/* A manifest whose library_path is the hostile file: refused before
 * dlopen (which would block on a FIFO), or dlopen's own error. */
static void surface_manifest_library(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("manifest-library", k);
    char *lib = ts_printf("%s/libhostile.so", d);
    make_kind(lib, k);
    char *man = ts_write_manifest(d, "hostile.json", "hostile", lib);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {man, NULL};
    guard("manifest library_path");
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    unguard();
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(inst, man, &info));
    assert_int_equal(info.status, ACCEL_MANIFEST_FAILED);
    assert_int_equal(info.result, ACCEL_ERROR_DRIVER_LOAD_FAILED);
    /* Named as the loader resolved it: a link to a device by its target. */
    char *real = realpath(lib, NULL);
    expect_in(info.reason, real && k == K_DEVICE ? real : lib, "the library is named");
    free(real);
    if (k != K_HUGE) /* a sparse file of zeros is dlopen's to refuse: not an ELF file */
        expect_in(info.reason, kinds[k].reason, "library reason");
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(man);
    free(lib);
    ts_rmtree(d);
    free(d);
}

/* accel_pipeline_load on the hostile file. */
static void surface_pipeline_file(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("pipeline-file", k);
    char *p = ts_printf("%s/pipeline.json", d);
    make_kind(p, k);
    accel_pipeline *pl = NULL;
    guard("pipeline file");
    accel_result r = accel_pipeline_load(p, &pl);
    unguard();
    assert_int_equal(r, k == K_HUGE ? ACCEL_ERROR_INVALID_ARGUMENT : ACCEL_ERROR_IO);
    assert_null(pl);
    expect_in(accel_last_error_message(), p, "the pipeline file is named");
    expect_in(accel_last_error_message(), k == K_HUGE ? "too large" : kinds[k].reason, "pipeline reason");
    free(p);
    ts_rmtree(d);
    free(d);
}

/* ---- runs on the cpu driver ---- */

static accel_instance *cpu_inst;
static const accel_topology *cpu_topo;
static accel_device *cpu_dev;

static const char *const crc_pipeline = "{\"pipeline_version\": 1, \"buffers\": {"
                                        " \"data\": {\"file\": \"%s\"},"
                                        " \"crc\": {\"bytes\": 4, \"output\": \"%s\"}},"
                                        " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\","
                                        "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"crc\"}]}]}";

typedef struct prepared {
    accel_pipeline *pipeline;
    accel_plan *plan;
    accel_run *run;
} prepared;

/* The crc pipeline reading `input` and writing `output` (names relative
 * to dir), placed on the cpu device, a run prepared. */
static void prepare_run(prepared *p, const char *dir, const char *out_dir, const char *json)
{
    memset(p, 0, sizeof(*p));
    assert_int_equal(accel_pipeline_parse(json, strlen(json), "hostile", &p->pipeline), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_set_buffer_bytes(p->pipeline, 0, 16), ACCEL_SUCCESS);
    accel_place_options po = {.struct_size = sizeof(po)};
    assert_int_equal(accel_place(cpu_topo, p->pipeline, &po, &p->plan), ACCEL_SUCCESS);
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = dir, .output_dir = out_dir};
    assert_int_equal(accel_run_create(cpu_inst, cpu_topo, p->pipeline, p->plan, &o, &p->run), ACCEL_SUCCESS);
}

static void release_run(prepared *p)
{
    accel_run_destroy(p->run);
    accel_plan_destroy(p->plan);
    accel_pipeline_destroy(p->pipeline);
}

static char *crc_json(const char *input, const char *output)
{
    return ts_printf(crc_pipeline, input, output);
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
static void surface_pipeline_input(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("pipeline-input", k);
    char *in = ts_printf("%s/data.bin", d);
    make_kind(in, k);
    char *json = crc_json("data.bin", "crc.bin");
    prepared p;
    prepare_run(&p, d, d, json);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("pipeline input");
    accel_result r = accel_run_execute(p.run, &res);
    unguard();
    assert_int_equal(r, ACCEL_ERROR_IO);
    expect_in(res.message, in, "the input is named");
    expect_in(res.message, kinds[k].reason, "input reason");
    assert_int_equal(count_named(d, "crc.bin"), 0);
    release_run(&p);
    free(json);
    free(in);
    ts_rmtree(d);
    free(d);
}

/* The same kinds bound with accel_run_bind (ACCEL_RUN_IO_PATH): a FIFO is
 * allowed there (a pipe, read to its end: without a writer, at once), the
 * others are refused as for a pipeline's file. */
static void surface_bound_input(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("bound-input", k);
    char *in = ts_printf("%s/data.bin", d);
    make_kind(in, k);
    char *real = ts_printf("%s/real.bin", d);
    free(ts_write_text(d, "real.bin", "0123456789abcdef"));
    char *json = crc_json("real.bin", "crc.bin");
    prepared p;
    prepare_run(&p, d, d, json);
    accel_run_io io = {.struct_size = sizeof(io), .kind = ACCEL_RUN_IO_PATH, .path = in, .fd = -1};
    assert_int_equal(accel_run_bind(p.run, 0, &io), ACCEL_SUCCESS);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("bound input");
    accel_result r = accel_run_execute(p.run, &res);
    unguard();
    if (k == K_FIFO || k == K_LINK_FIFO) {
        if (r != ACCEL_SUCCESS)
            fail_msg("a FIFO without a writer reads as empty: %s", res.message);
        assert_int_equal(res.input_bytes, 0);
    } else {
        assert_int_equal(r, ACCEL_ERROR_IO);
        expect_in(res.message, in, "the bound input is named");
        expect_in(res.message, k == K_HUGE ? "" : kinds[k].reason, "bound input reason");
        assert_int_equal(count_named(d, "crc.bin"), 0);
    }
    release_run(&p);
    free(json);
    free(real);
    free(in);
    ts_rmtree(d);
    free(d);
}

/* An ELF program for the cpu driver (accel_program_load with a path). */
static void surface_elf_program(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("elf-program", k);
    char *so = ts_printf("%s/kernels.so", d);
    make_kind(so, k);
    accel_program *prog = NULL;
    guard("ELF program");
    accel_result r = accel_program_load(cpu_dev, ACCEL_PROGRAM_FORMAT_ELF, so, strlen(so) + 1, NULL, &prog);
    unguard();
    assert_int_not_equal(r, ACCEL_SUCCESS);
    assert_null(prog);
    expect_in(accel_last_error_message(), so, "the program is named");
    if (k != K_HUGE)
        expect_in(accel_last_error_message(), kinds[k].reason, "program reason");
    free(so);
    ts_rmtree(d);
    free(d);
}

/* A program source the loader reads for a stage (opencl-c, spirv): on an
 * OpenCL device (PoCL here), a whole-buffer run fails at that stage with
 * ACCEL_ERROR_IO naming the stage, the file and the reason, or too large.
 * Skipped where no OpenCL device is found. */
static accel_instance *ocl_inst;
static const accel_topology *ocl_topo;

static void surface_program_source(void **state)
{
    kind k = (kind)(intptr_t)*state;
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
    if (!ocl_inst) {
        print_message("no OpenCL device: the program source cases are skipped\n");
        skip();
    }
    char *d = case_dir("program-source", k);
    char *src = ts_printf("%s/kernel.cl", d);
    make_kind(src, k);
    static const char json[] =
        "{\"pipeline_version\": 1, \"buffers\": {\"data\": {\"bytes\": 16, \"zero\": true}},"
        " \"stages\": [{\"name\": \"k\", \"function\": \"k\", \"program\": \"kernel.cl\","
        " \"format\": \"opencl-c\", \"work_size\": [1], \"args\": [{\"buffer\": \"data\"}]}]}";
    accel_pipeline *pl = NULL;
    assert_int_equal(accel_pipeline_parse(json, strlen(json), "program", &pl), ACCEL_SUCCESS);
    accel_plan *plan = NULL;
    accel_place_options po = {.struct_size = sizeof(po)};
    accel_result r = accel_place(ocl_topo, pl, &po, &plan);
    if (r != ACCEL_SUCCESS)
        fail_msg("placing a program stage: %s", accel_last_error_message());
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = d, .output_dir = d};
    accel_run *run = NULL;
    assert_int_equal(accel_run_create(ocl_inst, ocl_topo, pl, plan, &o, &run), ACCEL_SUCCESS);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("program source");
    r = accel_run_execute(run, &res);
    unguard();
    assert_int_equal(r, ACCEL_ERROR_IO);
    assert_int_equal(res.failed_stage, 0);
    expect_in(res.message, "stage k: program", "the stage is named");
    expect_in(res.message, src, "the program is named");
    expect_in(res.message, k == K_HUGE ? "larger than" : kinds[k].reason, "program source reason");
    accel_run_destroy(run);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(pl);
    free(src);
    ts_rmtree(d);
    free(d);
}

/* The calibration cache ($XDG_CACHE_HOME/accel/calibration.json) when a
 * topology is built: ignored with a warning naming it, never waited on. */
static void surface_calibration_cache(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("calibration-cache", k);
    char *sub = ts_printf("%s/accel", d);
    ts_mkdirs(sub);
    char *cache = ts_printf("%s/calibration.json", sub);
    make_kind(cache, k);
    ts_env_save();
    ts_setenv("XDG_CACHE_HOME", d);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_cpu.json", NULL};
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    accel_topology *topo = NULL;
    accel_topology_options to = {.struct_size = sizeof(to)};
    guard("calibration cache");
    accel_result r = accel_topology_create(inst, &to, &topo);
    unguard();
    ts_env_restore();
    assert_int_equal(r, ACCEL_SUCCESS);
    if (k != K_DANGLING) { /* a cache that is not there is not worth a word */
        char *text = log_text(&log);
        expect_in(text, cache, "the cache is named");
        expect_in(text, "ignored", "the cache is ignored");
        expect_in(text, k == K_HUGE ? "larger than" : kinds[k].reason, "the cache's reason");
        free(text);
    }
    accel_topology_destroy(topo);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(cache);
    free(sub);
    ts_rmtree(d);
    free(d);
}

/* A user topology file (accel_topology_options.user_file): an error
 * naming it. */
static void surface_user_topology(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("user-topology", k);
    char *f = ts_printf("%s/topology.json", d);
    make_kind(f, k);
    accel_topology *topo = NULL;
    accel_topology_options to = {.struct_size = sizeof(to), .user_file = f};
    guard("user topology file");
    accel_result r = accel_topology_create(cpu_inst, &to, &topo);
    unguard();
    assert_int_not_equal(r, ACCEL_SUCCESS);
    assert_null(topo);
    expect_in(accel_last_error_message(), f, "the topology file is named");
    expect_in(accel_last_error_message(), k == K_HUGE ? "larger than" : kinds[k].reason, "topology file reason");
    free(f);
    ts_rmtree(d);
    free(d);
}

/* A recorded hwloc XML file (accel_topology_options.hwloc_xml): an error
 * naming it, at once. */
static void surface_hwloc_xml(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("hwloc-xml", k);
    char *f = ts_printf("%s/machine.xml", d);
    make_kind(f, k);
    accel_topology *topo = NULL;
    accel_topology_options to = {
        .struct_size = sizeof(to), .flags = ACCEL_TOPOLOGY_NO_INSTANCE_DEVICES, .hwloc_xml = f};
    guard("recorded hwloc XML");
    accel_result r = accel_topology_create(NULL, &to, &topo);
    unguard();
    assert_int_not_equal(r, ACCEL_SUCCESS);
    assert_null(topo);
    expect_in(accel_last_error_message(), f, "the XML file is named");
    expect_in(accel_last_error_message(), k == K_HUGE ? "larger than" : kinds[k].reason, "XML file reason");
    free(f);
    ts_rmtree(d);
    free(d);
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

static void surface_fpga_image(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("fpga-image", k);
    char *img = ts_printf("%s/image.json", d);
    make_kind(img, k);
    accel_instance *inst = NULL;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_fpga.json", NULL};
    ts_env_save();
    ts_setenv("ACCEL_FPGA_EMULATOR_CONFIG", NULL);
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    ts_env_restore();
    accel_program *prog = NULL;
    guard("FPGA image description");
    accel_result r =
        accel_program_load(fpga_slot(inst), ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, img, 0, NULL, &prog);
    unguard();
    assert_int_not_equal(r, ACCEL_SUCCESS);
    expect_in(accel_last_error_message(), img, "the image is named");
    expect_in(accel_last_error_message(), k == K_HUGE ? "at most 1 MiB" : kinds[k].reason, "image reason");
    accel_instance_destroy(inst);
    free(img);
    ts_rmtree(d);
    free(d);
}

static void surface_fpga_image_library(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("fpga-library", k);
    char *lib = ts_printf("%s/libimage.so", d);
    make_kind(lib, k);
    char *img =
        ts_write_text(d, "image.json",
                      "{\"image_version\": 1, \"name\": \"hostile\", \"library\": \"libimage.so\","
                      " \"kernels\": [{\"name\": \"k\", \"args\": [{\"name\": \"n\", \"kind\": \"u32\"}]}]}");
    accel_instance *inst = NULL;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_fpga.json", NULL};
    ts_env_save();
    ts_setenv("ACCEL_FPGA_EMULATOR_CONFIG", NULL);
    assert_int_equal(ts_create_with_paths(&inst, 0, paths), ACCEL_SUCCESS);
    ts_env_restore();
    accel_program *prog = NULL;
    guard("FPGA image library");
    accel_result r =
        accel_program_load(fpga_slot(inst), ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, img, 0, NULL, &prog);
    if (r == ACCEL_SUCCESS) {
        /* Programming a slot loads the library: a kernel submission would. */
        accel_program_destroy(prog);
        fail_msg("an image whose library is %s loaded", kinds[k].name);
    }
    unguard();
    expect_in(accel_last_error_message(), "libimage.so", "the library is named");
    if (k != K_HUGE)
        expect_in(accel_last_error_message(), kinds[k].reason, "library reason");
    accel_instance_destroy(inst);
    free(img);
    free(lib);
    ts_rmtree(d);
    free(d);
}

static void surface_fpga_card_file(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("fpga-card", k);
    char *card = ts_printf("%s/cards.json", d);
    make_kind(card, k);
    ts_env_save();
    ts_setenv("ACCEL_FPGA_EMULATOR_CONFIG", card);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_fpga.json", NULL};
    guard("FPGA card file");
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    unguard();
    ts_env_restore();
    accel_manifest_info info = {.struct_size = sizeof(info)};
    assert_true(ts_manifest_info(inst, paths[0], &info));
    assert_int_not_equal(info.status, ACCEL_MANIFEST_LOADED);
    char *text = log_text(&log);
    char *all = ts_printf("%s\n%s", info.reason ? info.reason : "", text);
    expect_in(all, card, "the card file is named");
    expect_in(all, k == K_HUGE ? "at most 1 MiB" : kinds[k].reason, "card file reason");
    free(all);
    free(text);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(card);
    ts_rmtree(d);
    free(d);
}

/* ---- uacce sysfs attributes (ACCEL_UACCE_SYSFS_ROOT) ---- */

/* A uacce device whose "api" attribute is the hostile file: skipped, the
 * attribute named in a warning with its kind, nothing waited on. */
static void surface_uacce_attribute(void **state)
{
    kind k = (kind)(intptr_t)*state;
    char *d = case_dir("uacce", k);
    char *dev = ts_printf("%s/sys/class/uacce/hostile-0", d);
    ts_mkdirs(dev);
    free(ts_write_text(dev, "flags", "1\n"));
    free(ts_write_text(dev, "available_instances", "1\n"));
    free(ts_write_text(dev, "algorithms", "zlib\n"));
    free(ts_write_text(dev, "region_mmio_size", "4096\n"));
    free(ts_write_text(dev, "region_dus_size", "1048576\n"));
    char *api = ts_printf("%s/api", dev);
    make_kind(api, k);
    char *sys = ts_printf("%s/sys", d), *devroot = ts_printf("%s/dev", d);
    ts_mkdirs(devroot);
    ts_env_save();
    ts_setenv("ACCEL_UACCE_SYSFS_ROOT", sys);
    ts_setenv("ACCEL_UACCE_DEV_ROOT", devroot);
    ts_log log;
    ts_log_init(&log);
    accel_instance *inst = NULL;
    const char *paths[] = {BUILD_MANIFEST_DIR "/accel_warpdrive.json", NULL};
    guard("uacce sysfs attribute");
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
    unguard();
    ts_env_restore();
    uint32_t n = 0;
    assert_int_equal(accel_enumerate_devices(inst, &n, NULL), ACCEL_SUCCESS);
    assert_int_equal(n, 0);
    char *text = log_text(&log);
    expect_in(text, "hostile-0", "the device is named");
    if (k != K_HUGE && k != K_DANGLING) { /* a missing attribute, or a long one, is the device's reason */
        expect_in(text, api, "the attribute is named");
        expect_in(text, kinds[k].reason, "attribute reason");
    }
    free(text);
    accel_instance_destroy(inst);
    ts_log_free(&log);
    free(api);
    free(sys);
    free(devroot);
    free(dev);
    ts_rmtree(d);
    free(d);
}

/* ------------------------------------------------------------------------ */
/* Other names in a manifest directory                                        */

static void test_manifest_dir_other_names_logged(void **state)
{
    (void)state;
    char *d = case_dir("manifest-dir-names", K_FIFO);
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
    assert_int_equal(create_logged(&inst, &log, paths), ACCEL_SUCCESS);
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

/* A run of the crc pipeline in a fresh directory with data.bin, writing
 * `output` (relative to out_dir, default the directory): its result. */
static accel_result run_crc(const char *tag, const char *output, const char *out_dir, accel_run_result *res,
                            char **dir_out)
{
    char *d = ts_printf("%s/out-%s", tmp, tag);
    ts_rmtree(d);
    ts_mkdirs(d);
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    *dir_out = d;
    char *json = crc_json("data.bin", output);
    prepared p;
    prepare_run(&p, d, out_dir ? out_dir : d, json);
    *res = (accel_run_result){.struct_size = sizeof(*res)};
    guard(tag);
    accel_result r = accel_run_execute(p.run, res);
    unguard();
    /* The message lives with the run: keep a copy in the error slot. */
    static char msg[1024];
    snprintf(msg, sizeof(msg), "%s", res->message ? res->message : "");
    res->message = msg;
    release_run(&p);
    free(json);
    return r;
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
    char *d = ts_printf("%s/out-symlink", tmp);
    ts_rmtree(d);
    ts_mkdirs(d);
    char *victim = ts_write_text(tmp, "victim.txt", "keep me\n");
    char *link = ts_printf("%s/crc.bin", d);
    assert_int_equal(symlink(victim, link), 0);
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    char *json = crc_json("data.bin", "crc.bin");
    prepared p;
    prepare_run(&p, d, d, json);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("output symlink");
    assert_int_equal(accel_run_execute(p.run, &res), ACCEL_ERROR_IO);
    unguard();
    expect_in(res.message, link, "the output is named");
    expect_in(res.message, "a symbolic link (not followed, not replaced)", "the reason");
    char *text = ts_read_text(victim);
    assert_string_equal(text, "keep me\n");
    free(text);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    release_run(&p);
    free(json);
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
    char *text = ts_read_text(in);
    assert_string_equal(text, "0123456789abcdef");
    free(text);
    free(in);
    ts_rmtree(d);
    free(d);
}

static void test_output_twice_refused(void **state)
{
    (void)state;
    char *d = ts_printf("%s/out-twice", tmp);
    ts_rmtree(d);
    ts_mkdirs(d);
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    static const char json[] = "{\"pipeline_version\": 1, \"buffers\": {"
                               " \"data\": {\"file\": \"data.bin\"},"
                               " \"crc\": {\"bytes\": 4, \"output\": \"sum.bin\"},"
                               " \"digest\": {\"bytes\": 32, \"output\": \"./sum.bin\"}},"
                               " \"stages\": [{\"name\": \"crc\", \"function\": \"crc32c\","
                               "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"crc\"}]},"
                               "  {\"name\": \"sha\", \"function\": \"sha256\","
                               "   \"args\": [{\"buffer\": \"data\"}, {\"buffer\": \"digest\"}]}]}";
    prepared p;
    prepare_run(&p, d, d, json);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("two outputs on one file");
    assert_int_equal(accel_run_execute(p.run, &res), ACCEL_ERROR_INVALID_ARGUMENT);
    unguard();
    expect_in(res.message, "is also the output of buffer crc", "the reason");
    assert_int_equal(count_named(d, "sum.bin"), 0);
    release_run(&p);
    ts_rmtree(d);
    free(d);
}

static void test_output_name_special_file_refused(void **state)
{
    (void)state;
    static const kind ks[] = {K_DIR, K_FIFO};
    static const char *const why[] = {"a directory is there", "a FIFO is there"};
    for (size_t i = 0; i < 2; i++) {
        char *d = ts_printf("%s/out-special-%s", tmp, kinds[ks[i]].name);
        ts_rmtree(d);
        ts_mkdirs(d);
        free(ts_write_text(d, "data.bin", "0123456789abcdef"));
        char *out = ts_printf("%s/crc.bin", d);
        make_kind(out, ks[i]);
        char *json = crc_json("data.bin", "crc.bin");
        prepared p;
        prepare_run(&p, d, d, json);
        accel_run_result res = {.struct_size = sizeof(res)};
        guard("output name taken by a special file");
        assert_int_equal(accel_run_execute(p.run, &res), ACCEL_ERROR_IO);
        unguard();
        expect_in(res.message, out, "the output is named");
        expect_in(res.message, why[i], "the reason");
        assert_int_equal(count_named(d, NULL), 0);
        release_run(&p);
        free(json);
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
    char *d = ts_printf("%s/out-failure", tmp);
    ts_rmtree(d);
    ts_mkdirs(d);
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
    accel_pipeline *pl = NULL;
    assert_int_equal(accel_pipeline_parse(json, strlen(json), "failure", &pl), ACCEL_SUCCESS);
    assert_int_equal(accel_pipeline_set_buffer_bytes(pl, 0, k), ACCEL_SUCCESS);
    accel_plan *plan = NULL;
    accel_place_options po = {.struct_size = sizeof(po)};
    assert_int_equal(accel_place(cpu_topo, pl, &po, &plan), ACCEL_SUCCESS);
    accel_run_options o = {.struct_size = sizeof(o), .input_dir = d, .output_dir = d, .chunk_size = 256};
    accel_run *run = NULL;
    assert_int_equal(accel_run_create(cpu_inst, cpu_topo, pl, plan, &o, &run), ACCEL_SUCCESS);
    accel_run_result res = {.struct_size = sizeof(res)};
    guard("failure mid-run");
    accel_result r = accel_run_execute(run, &res);
    unguard();
    assert_int_not_equal(r, ACCEL_SUCCESS);
    assert_true(res.streamed);
    assert_true(res.failed_chunk > 0); /* chunks were written before it failed */
    assert_true(res.output_bytes > 0);
    char *text = ts_read_text(old);
    assert_string_equal(text, "the old output\n");
    free(text);
    assert_int_equal(count_named(d, NULL), 0); /* no temporary file */
    accel_run_destroy(run);
    accel_plan_destroy(plan);
    accel_pipeline_destroy(pl);
    free(old);
    free(in);
    ts_rmtree(d);
    free(d);
}

/* ---- accel-run ---- */

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
    char *d = ts_printf("%s/tool", tmp);
    ts_rmtree(d);
    ts_mkdirs(d);
    free(ts_write_text(d, "data.bin", "0123456789abcdef"));
    char *json = crc_json("data.bin", "crc.bin");
    char *pipeline = ts_write_text(d, "crc.json", json);
    char *out = ts_printf("%s/made", d);
    static const char *const env[] = {"ACCEL_DRIVER_FILES=" BUILD_MANIFEST_DIR, "ACCEL_DRIVERS_SELECT=cpu",
                                      NULL};
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
    char *d = ts_printf("%s/calib-link", tmp);
    ts_rmtree(d);
    char *sub = ts_printf("%s/accel", d);
    ts_mkdirs(sub);
    char *victim = ts_write_text(d, "victim.json", "keep me\n");
    char *cache = ts_printf("%s/calibration.json", sub);
    assert_int_equal(symlink(victim, cache), 0);
    char *xdg = ts_printf("XDG_CACHE_HOME=%s", d);
    const char *env[] = {"ACCEL_DRIVER_FILES=" BUILD_MANIFEST_DIR, "ACCEL_DRIVERS_SELECT=cpu", xdg, NULL};
    const char *argv[] = {ACCEL_RUN_PATH, "--calibrate", "--calibrate-sizes", "1K,2K,4K", NULL};
    char *err = NULL;
    assert_int_equal(run_tool(argv, env, &err), 1);
    expect_in(err, cache, "the cache is named");
    expect_in(err, "a symbolic link, not a regular file", "the reason");
    free(err);
    char *text = ts_read_text(victim);
    assert_string_equal(text, "keep me\n");
    free(text);
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
    char *d = ts_printf("%s/corpus", tmp);
    ts_rmtree(d);
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
    const char *env[] = {"ACCEL_DRIVER_FILES=" BUILD_MANIFEST_DIR, "ACCEL_DRIVERS_SELECT=cpu", xdg, NULL};
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
static const struct {
    const char *name;
    CMUnitTestFunction fn;
    uint32_t kinds; /* bits of kind; 0: all */
} surfaces[] = {
    {"manifest directory entry", surface_manifest_dir_entry, 0},
    /* A directory named as a manifest is searched for manifests instead. */
    {"manifest file", surface_manifest_file, ~(1u << K_DIR)},
    {"manifest library_path", surface_manifest_library, 0},
    {"pipeline file", surface_pipeline_file, 0},
    /* A huge regular file is an input like any other (streamed, memory
     * bounded): it is data, not an attack, and reading 64 GiB is slow. */
    {"pipeline input file", surface_pipeline_input, ~(1u << K_HUGE)},
    {"bound input path", surface_bound_input, ~(1u << K_HUGE)},
    {"ELF program", surface_elf_program, 0},
    {"program source", surface_program_source, 0},
    {"calibration cache", surface_calibration_cache, 0},
    {"user topology file", surface_user_topology, 0},
    {"recorded hwloc XML", surface_hwloc_xml, 0},
    {"FPGA image description", surface_fpga_image, 0},
    {"FPGA image library", surface_fpga_image_library, 0},
    {"FPGA card file", surface_fpga_card_file, 0},
    {"uacce sysfs attribute", surface_uacce_attribute, 0},
};

int main(void)
{
    size_t ns = sizeof(surfaces) / sizeof(surfaces[0]);
    struct CMUnitTest *tests = calloc(ns * K_COUNT + 16, sizeof(*tests));
    char **names = calloc(ns * K_COUNT + 1, sizeof(*names));
    size_t n = 0, nn = 0;
    for (size_t s = 0; s < ns; s++)
        for (int k = 0; k < K_COUNT; k++) {
            if (surfaces[s].kinds && !(surfaces[s].kinds & (1u << k)))
                continue;
            names[nn] = ts_printf("%s: %s", surfaces[s].name, kinds[k].name);
            tests[n++] = (struct CMUnitTest){
                .name = names[nn++], .test_func = surfaces[s].fn, .initial_state = (void *)(intptr_t)k};
        }
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
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        tests[n++] = fixed[i];
    int rc = _cmocka_run_group_tests("hostile_files", tests, n, group_setup, group_teardown);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    free(tests);
    return rc;
}
