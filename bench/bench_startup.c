/*
 * bench_startup.c — the cost of starting up: accel_instance_create, accel_enumerate_devices
 * (both calls of the two-call pattern), accel_instance_destroy.
 *
 * Two manifest directories, timed side by side in one process with ACCEL_DRIVERS_SELECT=cpu:
 *   1 manifest    : a copy of the cpu driver's build-tree manifest, alone in its directory;
 *   100 manifests : the same plus 99 manifests of other drivers, each naming its own copy of
 *                   the cpu driver library under its own name, all filtered out by the select
 *                   glob before anything is loaded.
 * The difference is what the loader spends scanning, parsing and filtering 99 manifests. The
 * cpu driver is loaded, initialized and unloaded in every iteration on both sides.
 *
 * Afterwards, while one filtered instance is alive, each copy is checked with
 * dlopen(RTLD_NOLOAD): none may be mapped. One unfiltered instance shows the same check does
 * see copies that are loaded.
 *
 * For scale, the floor under the 99 manifests is timed in the same run: reading each file
 * (open, read, close) and parsing each with json-c, which the loader must do to learn a
 * driver's name before it can filter it. What the loader adds beyond that floor is its own
 * bookkeeping.
 *
 * Usage: bench_startup [MANIFEST]   (default: the build tree's accel_cpu.json)
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>
#include <json-c/json.h>

#include <accel/accel.h>

#include "bench_util.h"

#ifndef ACCEL_BENCH_MANIFEST_DIR
#define ACCEL_BENCH_MANIFEST_DIR "manifests"
#endif

#define EXTRA_DRIVERS 99
/* Creations per batch: one creation takes a few hundred microseconds (most of it loading and
 * initializing the cpu driver), so a batch lasts a few milliseconds. */
#define CREATES_PER_BATCH 10
#define UNFILTERED_RUNS 7

/* Path buffers sized so that every path built from the root fits (the root is bounded). */
#define ROOT_MAX 1024
typedef struct bench_dirs {
    char root[ROOT_MAX];
    char one[ROOT_MAX + 8];  /* 1 manifest */
    char many[ROOT_MAX + 8]; /* 100 manifests */
    char libs[ROOT_MAX + 8]; /* the 99 library copies */
    char copy_lib[EXTRA_DRIVERS][ROOT_MAX + 64];
    char copy_manifest[EXTRA_DRIVERS][ROOT_MAX + 64];
    int copies_made;
    int have_one_manifest, have_many_cpu_manifest;
} bench_dirs;

static void remove_dirs(bench_dirs *d)
{
    char path[ROOT_MAX + 64];
    for (int i = 0; i < d->copies_made; i++) {
        unlink(d->copy_lib[i]);
        unlink(d->copy_manifest[i]);
    }
    if (d->have_one_manifest) {
        snprintf(path, sizeof(path), "%s/accel_cpu.json", d->one);
        unlink(path);
    }
    if (d->have_many_cpu_manifest) {
        snprintf(path, sizeof(path), "%s/accel_cpu.json", d->many);
        unlink(path);
    }
    if (d->root[0]) {
        rmdir(d->one);
        rmdir(d->many);
        rmdir(d->libs);
        rmdir(d->root);
    }
}

/* Lay out root/one, root/many and root/libs. The cpu manifest is copied byte for byte so both
 * directories hold exactly what the build tree holds. */
static int make_dirs(bench_dirs *d, const char *cpu_manifest, const char *cpu_library)
{
    char *manifest = NULL, *library = NULL;
    size_t manifest_size, library_size;
    char path[ROOT_MAX + 64];
    int ret = -1;

    if (bench_read_file(cpu_manifest, &manifest, &manifest_size) != 0) {
        fprintf(stderr, "bench_startup: cannot read %s\n", cpu_manifest);
        goto out;
    }
    if (bench_read_file(cpu_library, &library, &library_size) != 0) {
        fprintf(stderr, "bench_startup: cannot read %s\n", cpu_library);
        goto out;
    }
    if (bench_make_temp_dir(d->root, sizeof(d->root)) != 0)
        goto out;
    snprintf(d->one, sizeof(d->one), "%s/one", d->root);
    snprintf(d->many, sizeof(d->many), "%s/many", d->root);
    snprintf(d->libs, sizeof(d->libs), "%s/libs", d->root);
    if (mkdir(d->one, 0700) || mkdir(d->many, 0700) || mkdir(d->libs, 0700))
        goto out;

    snprintf(path, sizeof(path), "%s/accel_cpu.json", d->one);
    if (bench_write_file(path, manifest, manifest_size, 0600))
        goto out;
    d->have_one_manifest = 1;
    snprintf(path, sizeof(path), "%s/accel_cpu.json", d->many);
    if (bench_write_file(path, manifest, manifest_size, 0600))
        goto out;
    d->have_many_cpu_manifest = 1;

    /* The extra manifests have the cpu manifest's shape (every field, same format version) so
     * that each costs what a real one costs to parse. */
    uint32_t api = accel_loader_version();
    for (int i = 0; i < EXTRA_DRIVERS; i++) {
        char text[ROOT_MAX + 512];
        snprintf(d->copy_lib[i], sizeof(d->copy_lib[i]), "%s/libaccel_bench_copy%02d.so", d->libs, i);
        snprintf(d->copy_manifest[i], sizeof(d->copy_manifest[i]), "%s/bench_copy%02d.json", d->many, i);
        int n = snprintf(text, sizeof(text),
                         "{\n"
                         "  \"file_format_version\": \"1.0.0\",\n"
                         "  \"driver\": {\n"
                         "    \"name\": \"bench_copy%02d\",\n"
                         "    \"library_path\": \"%s\",\n"
                         "    \"api_version\": \"%u.%u\",\n"
                         "    \"library_arch\": \"%u\",\n"
                         "    \"device_kinds\": [\"cpu\"]\n"
                         "  }\n"
                         "}\n",
                         i, d->copy_lib[i], ACCEL_VERSION_MAJOR(api), ACCEL_VERSION_MINOR(api),
                         (unsigned)(sizeof(void *) * 8));
        d->copies_made = i + 1;
        if (bench_write_file(d->copy_lib[i], library, library_size, 0700) ||
            bench_write_file(d->copy_manifest[i], text, (size_t)n, 0600)) {
            fprintf(stderr, "bench_startup: cannot write into %s: %s\n", d->root, strerror(errno));
            goto out;
        }
    }
    ret = 0;
out:
    free(manifest);
    free(library);
    return ret;
}

static accel_result create(const char *dir, accel_instance **inst)
{
    const char *paths[] = {dir};
    accel_instance_options opts = {
        .struct_size = sizeof(opts),
        .manifest_paths = paths,
        .manifest_path_count = 1,
    };
    return accel_instance_create(&opts, inst);
}

/* The timed unit: create, enumerate the devices, destroy. Returns the number of devices, or
 * -1 on failure. */
static int startup_once(const char *dir)
{
    accel_instance *inst = NULL;
    accel_device *devs[128];
    uint32_t count = 0;
    if (create(dir, &inst) != ACCEL_SUCCESS)
        return -1;
    if (accel_enumerate_devices(inst, &count, NULL) != ACCEL_SUCCESS || count > 128) {
        accel_instance_destroy(inst);
        return -1;
    }
    accel_result r = accel_enumerate_devices(inst, &count, devs);
    accel_instance_destroy(inst);
    return r == ACCEL_SUCCESS ? (int)count : -1;
}

/* Time one batch; returns microseconds per startup, or a negative value when a startup failed
 * or found a device count other than `expect`. */
static double batch_us(const char *dir, int expect, int creates)
{
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < creates; i++) {
        if (startup_once(dir) != expect)
            return -1.0;
    }
    return (double)(bench_now_ns() - t0) / 1000.0 / creates;
}

/* The floor: read the 99 extra manifests (open, read, close), or read and parse them with
 * json-c. Returns microseconds for all 99, or a negative value on a failure. */
static double floor_us(const bench_dirs *d, int parse)
{
    static char buf[65536];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < EXTRA_DRIVERS; i++) {
        int fd = open(d->copy_manifest[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1.0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            return -1.0;
        if (parse) {
            json_tokener *tok = json_tokener_new();
            json_object *o = tok ? json_tokener_parse_ex(tok, buf, (int)n) : NULL;
            int ok = o != NULL && json_object_is_type(o, json_type_object);
            json_object_put(o);
            json_tokener_free(tok);
            if (!ok)
                return -1.0;
        }
    }
    return (double)(bench_now_ns() - t0) / 1000.0;
}

/* How many copies are mapped in this process right now. RTLD_NOLOAD never loads: it returns
 * a handle only for an object already loaded (glibc also matches by file identity, not just
 * by name), and that handle holds a reference we drop at once. */
static int count_loaded_copies(const bench_dirs *d)
{
    int loaded = 0;
    for (int i = 0; i < EXTRA_DRIVERS; i++) {
        void *h = dlopen(d->copy_lib[i], RTLD_NOLOAD | RTLD_LAZY);
        if (h) {
            loaded++;
            dlclose(h);
        }
    }
    return loaded;
}

/* Manifests of an instance that were skipped (filtered, for the directory used here). */
static int count_skipped(accel_instance *inst)
{
    accel_manifest *m[EXTRA_DRIVERS + 1];
    uint32_t n = EXTRA_DRIVERS + 1;
    int skipped = 0;
    if (accel_enumerate_manifests(inst, &n, m) != ACCEL_SUCCESS)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        accel_manifest_info info = {.struct_size = sizeof(info)};
        if (accel_manifest_get_info(m[i], &info) == ACCEL_SUCCESS && info.status == ACCEL_MANIFEST_SKIPPED)
            skipped++;
    }
    return skipped;
}

/* The cpu driver library the manifest names, as the loader resolved it. */
static int cpu_library_of(const char *manifest, char *out, size_t size)
{
    accel_instance *inst = NULL;
    accel_driver *drv;
    uint32_t n = 1;
    accel_driver_info info = {.struct_size = sizeof(info)};
    int ret = -1;
    if (create(manifest, &inst) != ACCEL_SUCCESS)
        goto out;
    if (accel_enumerate_drivers(inst, &n, &drv) != ACCEL_SUCCESS || n != 1 ||
        accel_driver_get_info(drv, &info) != ACCEL_SUCCESS || strcmp(info.name, "cpu") != 0)
        goto out;
    snprintf(out, size, "%s", info.library_path);
    ret = 0;
out:
    accel_instance_destroy(inst);
    return ret;
}

int main(int argc, char **argv)
{
    const char *manifest = argc > 1 ? argv[1] : ACCEL_BENCH_MANIFEST_DIR "/accel_cpu.json";
    static bench_dirs dirs;
    char cpu_library[PATH_MAX];
    double one[BENCH_ROUNDS], many[BENCH_ROUNDS], unfiltered[UNFILTERED_RUNS];
    accel_instance *inst = NULL;
    int status = 1;

    /* Only the select glob below may decide what is loaded and which devices are kept. */
    unsetenv("ACCEL_DRIVERS_DISABLE");
    unsetenv("ACCEL_DEVICE_SELECTOR");
    unsetenv("ACCEL_LOADER_NO_UNLOAD");
    unsetenv("ACCEL_LOADER_DEBUG");
    setenv("ACCEL_DRIVERS_SELECT", "cpu", 1);

    if (cpu_library_of(manifest, cpu_library, sizeof(cpu_library)) != 0) {
        fprintf(stderr, "bench_startup: %s does not give a loadable cpu driver: %s\n", manifest,
                accel_last_error_message());
        goto out;
    }
    if (make_dirs(&dirs, manifest, cpu_library) != 0)
        goto out;

    for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
        /* Alternate which side goes first. */
        int many_first = round & 1;
        double a, b;
        if (many_first) {
            b = batch_us(dirs.many, 1, CREATES_PER_BATCH);
            a = batch_us(dirs.one, 1, CREATES_PER_BATCH);
        } else {
            a = batch_us(dirs.one, 1, CREATES_PER_BATCH);
            b = batch_us(dirs.many, 1, CREATES_PER_BATCH);
        }
        if (a < 0 || b < 0) {
            fprintf(stderr, "bench_startup: a startup failed or did not find exactly 1 device: %s\n",
                    accel_last_error_message());
            goto out;
        }
        if (round >= 0) {
            one[round] = a;
            many[round] = b;
        }
    }

    /* Filtered: which copies got mapped? */
    if (create(dirs.many, &inst) != ACCEL_SUCCESS)
        goto out;
    int loaded_filtered = count_loaded_copies(&dirs);
    int skipped = count_skipped(inst);
    accel_instance_destroy(inst);
    inst = NULL;

    /* Control, without the filter: every copy is a distinct driver and gets loaded. */
    unsetenv("ACCEL_DRIVERS_SELECT");
    if (create(dirs.many, &inst) != ACCEL_SUCCESS)
        goto out;
    int loaded_unfiltered = count_loaded_copies(&dirs);
    accel_instance_destroy(inst);
    inst = NULL;
    for (int i = 0; i < UNFILTERED_RUNS; i++) {
        if ((unfiltered[i] = batch_us(dirs.many, EXTRA_DRIVERS + 1, 1)) < 0) {
            fprintf(stderr, "bench_startup: an unfiltered startup failed: %s\n", accel_last_error_message());
            goto out;
        }
    }
    setenv("ACCEL_DRIVERS_SELECT", "cpu", 1);

    double read_floor[BENCH_ROUNDS], parse_floor[BENCH_ROUNDS];
    for (int round = -BENCH_WARMUP_ROUNDS; round < BENCH_ROUNDS; round++) {
        double r = floor_us(&dirs, 0), p = floor_us(&dirs, 1);
        if (r < 0 || p < 0) {
            fprintf(stderr, "bench_startup: reading or parsing the copies' manifests failed\n");
            goto out;
        }
        if (round >= 0) {
            read_floor[round] = r;
            parse_floor[round] = p;
        }
    }

    double m1 = bench_median(one, BENCH_ROUNDS), m100 = bench_median(many, BENCH_ROUNDS);
    printf("bench_startup: create + enumerate devices + destroy, ACCEL_DRIVERS_SELECT=cpu, "
           "median of %d batches of %d\n",
           BENCH_ROUNDS, CREATES_PER_BATCH);
    printf("startup  1 manifest  %8.1f us   100 manifests  %8.1f us   added  %7.1f us "
           "(%.2f us per manifest)   ratio %.2f\n",
           m1, m100, m100 - m1, (m100 - m1) / EXTRA_DRIVERS, m100 / m1);
    double fr = bench_median(read_floor, BENCH_ROUNDS), fp = bench_median(parse_floor, BENCH_ROUNDS);
    printf("startup  floor for the 99: open+read+close %7.1f us; open+read+close+json-c parse %7.1f us; "
           "loader beyond the floor %7.1f us (%.2f us per manifest)\n",
           fr, fp, m100 - m1 - fp, (m100 - m1 - fp) / EXTRA_DRIVERS);
    printf("startup  copies dlopen'ed: %d of %d with the filter (%d of %d manifests skipped); "
           "control without the filter: %d of %d\n",
           loaded_filtered, EXTRA_DRIVERS, skipped, EXTRA_DRIVERS + 1, loaded_unfiltered, EXTRA_DRIVERS);
    printf("startup  100 manifests without the filter (all 100 drivers loaded)  %8.1f us   median of %d\n",
           bench_median(unfiltered, UNFILTERED_RUNS), UNFILTERED_RUNS);
    printf("startup  anchor: none. ocl-icd reads its vendor files and loads every ICD once per process "
           "(first clGetPlatformIDs), cannot be re-run in-process and has no name filter before dlopen\n");
    status = loaded_filtered == 0 ? 0 : 2;

out:
    accel_instance_destroy(inst);
    remove_dirs(&dirs);
    return status;
}
