/* support.c — shared helpers of the loader's behavioural tests. */
#include "support.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size);
    if (!q)
        fail_msg("out of memory");
    return q;
}

char *ts_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    return s;
}

void ts_mkdirs(const char *path)
{
    char *p = ts_printf("%s", path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    free(p);
}

char *ts_mkdtemp(const char *tag)
{
    ts_mkdirs(TEST_TMP_DIR);
    char *t = ts_printf("%s/%s-XXXXXX", TEST_TMP_DIR, tag);
    if (!mkdtemp(t))
        fail_msg("mkdtemp %s: %s", t, strerror(errno));
    /* mkdtemp gives 0700; some tests drop privileges and must still enter. */
    chmod(t, 0755);
    return t;
}

void ts_rmtree(const char *path)
{
    struct stat st;
    if (!path || lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char *child = ts_printf("%s/%s", path, e->d_name);
            ts_rmtree(child);
            free(child);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

char *ts_write_text(const char *dir, const char *name, const char *text)
{
    ts_mkdirs(dir);
    char *path = ts_printf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    fputs(text, f);
    if (fclose(f) != 0)
        fail_msg("cannot write %s: %s", path, strerror(errno));
    return path;
}

char *ts_read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t len = 0, cap = 4096;
    char *buf = xrealloc(NULL, cap);
    if (f) {
        size_t n;
        while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
            len += n;
            if (cap - len < 2)
                buf = xrealloc(buf, cap *= 2);
        }
        fclose(f);
    }
    buf[len] = '\0';
    return buf;
}

static bool line_has_all(const char *line, size_t len, va_list ap)
{
    char *copy = ts_printf("%.*s", (int)len, line);
    bool ok = true;
    for (const char *needle; (needle = va_arg(ap, const char *));)
        if (!strstr(copy, needle))
            ok = false;
    free(copy);
    return ok;
}

size_t ts_count_lines(const char *text, ...)
{
    size_t n = 0;
    while (*text) {
        size_t len = strcspn(text, "\n");
        va_list ap;
        va_start(ap, text);
        n += line_has_all(text, len, ap);
        va_end(ap);
        text += len;
        if (*text)
            text++;
    }
    return n;
}

char *ts_fake_lib(const char *variant)
{
    return ts_printf("%s/libfake_%s.so", FAKE_DRIVER_DIR, variant);
}

/* The accel API version manifests declare: the loader's own, so that every
 * fake driver passes the api_version check. */
#ifdef ACCEL_API_VERSION_MAJOR
#define TS_API_MAJOR ACCEL_API_VERSION_MAJOR
#define TS_API_MINOR ACCEL_API_VERSION_MINOR
#else
#define TS_API_MAJOR ACCEL_HEADER_VERSION_MAJOR
#define TS_API_MINOR ACCEL_HEADER_VERSION_MINOR
#endif

char *ts_write_manifest(const char *dir, const char *file, const char *driver_name, const char *library)
{
    char *text = ts_printf("{\n"
                           "  \"file_format_version\": \"1.0.0\",\n"
                           "  \"driver\": {\n"
                           "    \"name\": \"%s\",\n"
                           "    \"library_path\": \"%s\",\n"
                           "    \"api_version\": \"%d.%d\"\n"
                           "  }\n"
                           "}\n",
                           driver_name, library, TS_API_MAJOR, TS_API_MINOR);
    char *path = ts_write_text(dir, file, text);
    free(text);
    return path;
}

char *ts_write_fake_manifest(const char *dir, const char *file, const char *variant)
{
    char *lib = ts_fake_lib(variant);
    char *name = ts_printf("fake_%s", variant);
    char *path = ts_write_manifest(dir, file, name, lib);
    free(name);
    free(lib);
    return path;
}

bool ts_lib_mapped(const char *library)
{
    void *h = dlopen(library, RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return false;
    dlclose(h); /* drops the reference RTLD_NOLOAD took */
    return true;
}

long ts_fake_counter(const char *variant, const char *counter)
{
    char *lib = ts_fake_lib(variant);
    void *h = dlopen(lib, RTLD_NOW | RTLD_NOLOAD);
    free(lib);
    if (!h)
        return -1;
    const unsigned *v = dlsym(h, counter);
    long value = v ? (long)*v : -2;
    dlclose(h);
    return value;
}

accel_result ts_create_with_paths(accel_instance **inst, uint32_t flags, const char *const *paths)
{
    uint32_t n = 0;
    while (paths && paths[n])
        n++;
    accel_instance_options o = {
        .struct_size = sizeof(o),
        .flags = flags,
        .manifest_paths = paths,
        .manifest_path_count = n,
    };
    return accel_instance_create(&o, inst);
}

accel_instance *ts_create_one(const char *manifest)
{
    const char *paths[] = {manifest, NULL};
    accel_instance *inst = NULL;
    accel_result r = ts_create_with_paths(&inst, 0, paths);
    if (r != ACCEL_SUCCESS)
        fail_msg("an instance from %s: %s: %s", manifest, accel_result_name(r), accel_last_error_message());
    return inst;
}

accel_manifest **ts_manifests(accel_instance *inst, uint32_t *count)
{
    assert_int_equal(accel_enumerate_manifests(inst, count, NULL), ACCEL_SUCCESS);
    accel_manifest **m = xrealloc(NULL, (*count + 1) * sizeof(*m));
    assert_int_equal(accel_enumerate_manifests(inst, count, m), ACCEL_SUCCESS);
    return m;
}

int ts_manifest_index(accel_instance *inst, const char *path)
{
    uint32_t n;
    accel_manifest **m = ts_manifests(inst, &n);
    int found = -1;
    for (uint32_t i = 0; i < n && found < 0; i++) {
        accel_manifest_info info = {.struct_size = sizeof(info)};
        assert_int_equal(accel_manifest_get_info(m[i], &info), ACCEL_SUCCESS);
        if (strcmp(info.path, path) == 0)
            found = (int)i;
    }
    free(m);
    return found;
}

bool ts_manifest_info(accel_instance *inst, const char *path, accel_manifest_info *out)
{
    uint32_t n;
    accel_manifest **m = ts_manifests(inst, &n);
    bool found = false;
    for (uint32_t i = 0; i < n && !found; i++) {
        accel_manifest_info info = {.struct_size = sizeof(info)};
        assert_int_equal(accel_manifest_get_info(m[i], &info), ACCEL_SUCCESS);
        if (strcmp(info.path, path) == 0) {
            *out = info;
            found = true;
        }
    }
    free(m);
    return found;
}

accel_device **ts_devices(accel_instance *inst, uint32_t *count)
{
    assert_int_equal(accel_enumerate_devices(inst, count, NULL), ACCEL_SUCCESS);
    accel_device **d = xrealloc(NULL, (*count + 1) * sizeof(*d));
    assert_int_equal(accel_enumerate_devices(inst, count, d), ACCEL_SUCCESS);
    return d;
}

accel_device_info ts_device_info(const accel_device *dev)
{
    accel_device_info info = {.struct_size = sizeof(info)};
    assert_int_equal(accel_device_get_info(dev, &info), ACCEL_SUCCESS);
    return info;
}

accel_device *ts_device_of(accel_instance *inst, const char *driver)
{
    uint32_t n;
    accel_device **devs = ts_devices(inst, &n);
    accel_device *found = NULL;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ts_device_info(devs[i]).driver_name, driver) == 0)
            found = devs[i];
    free(devs);
    return found;
}

char *ts_device_list(accel_instance *inst)
{
    uint32_t n;
    accel_device **d = ts_devices(inst, &n);
    char *out = ts_printf("%s", "");
    for (uint32_t i = 0; i < n; i++) {
        accel_device_info info = ts_device_info(d[i]);
        char *next = ts_printf("%s%s%s:%u", out, i ? " " : "", info.driver_name, info.driver_index);
        free(out);
        out = next;
    }
    free(d);
    return out;
}

void ts_log_init(ts_log *log)
{
    memset(log, 0, sizeof(*log));
    pthread_mutex_init(&log->lock, NULL);
}

void ts_log_free(ts_log *log)
{
    for (size_t i = 0; i < log->count; i++)
        free(log->lines[i]);
    free(log->lines);
    free(log->levels);
    pthread_mutex_destroy(&log->lock);
    memset(log, 0, sizeof(*log));
}

void ts_log_callback(void *user_data, accel_log_level level, const char *message)
{
    ts_log *log = user_data;
    /* May run on any thread: no cmocka assertions here. */
    char *copy = strdup(message);
    pthread_mutex_lock(&log->lock);
    if (copy && log->count == log->capacity) {
        size_t cap = log->capacity ? 2 * log->capacity : 32;
        char **l = realloc(log->lines, cap * sizeof(*l));
        if (l)
            log->lines = l;
        accel_log_level *v = realloc(log->levels, cap * sizeof(*v));
        if (v)
            log->levels = v;
        if (l && v)
            log->capacity = cap;
    }
    if (copy && log->count < log->capacity) {
        log->lines[log->count] = copy;
        log->levels[log->count] = level;
        log->count++;
        copy = NULL;
    }
    pthread_mutex_unlock(&log->lock);
    free(copy);
}

size_t ts_log_count(ts_log *log, ...)
{
    size_t n = 0;
    pthread_mutex_lock(&log->lock);
    for (size_t i = 0; i < log->count; i++) {
        va_list ap;
        va_start(ap, log);
        n += line_has_all(log->lines[i], strlen(log->lines[i]), ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&log->lock);
    return n;
}

int ts_run(const char *const *argv, const char *const *env, char **out, char **err)
{
    char *dir = ts_mkdtemp("run");
    char *out_path = ts_printf("%s/stdout", dir), *err_path = ts_printf("%s/stderr", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        for (size_t i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            if (eq) {
                char *name = strndup(env[i], (size_t)(eq - env[i]));
                setenv(name, eq + 1, 1);
                free(name);
            } else {
                unsetenv(env[i]);
            }
        }
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            fail_msg("waitpid: %s", strerror(errno));
    if (out)
        *out = ts_read_text(out_path);
    if (err)
        *err = ts_read_text(err_path);
    ts_rmtree(dir);
    free(out_path);
    free(err_path);
    free(dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *const saved_names[] = {
    "ACCEL_DRIVER_FILES",
    "ACCEL_ADD_DRIVER_FILES",
    "ACCEL_DRIVERS_SELECT",
    "ACCEL_DRIVERS_DISABLE",
    "ACCEL_DEVICE_SELECTOR",
    "ACCEL_LOADER_DEBUG",
    "ACCEL_LOADER_NO_UNLOAD",
    "ACCEL_FAKE_TRACE",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_HOME",
    "XDG_DATA_DIRS",
    "HOME",
};
#define SAVED_COUNT (sizeof(saved_names) / sizeof(saved_names[0]))
static char *saved_values[SAVED_COUNT];
static bool saved;

void ts_env_save(void)
{
    for (size_t i = 0; i < SAVED_COUNT; i++) {
        const char *v = getenv(saved_names[i]);
        free(saved_values[i]);
        saved_values[i] = v ? strdup(v) : NULL;
    }
    saved = true;
}

void ts_env_restore(void)
{
    if (!saved)
        return;
    for (size_t i = 0; i < SAVED_COUNT; i++)
        ts_setenv(saved_names[i], saved_values[i]);
}

void ts_setenv(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

pid_t ts_spawn_until_socket(const char *const *argv, const char *socket_path)
{
    unlink(socket_path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
            return pid;
        usleep(10000);
    }
    fail_msg("%s did not create %s", argv[0], socket_path);
    return -1;
}

accel_result ts_create_logged(accel_instance **inst, ts_log *log, uint32_t log_mask, const char *const *paths)
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
        .log_mask = log_mask,
    };
    return accel_instance_create(&o, inst);
}

ts_traced *ts_traced_create(const char *tag)
{
    ts_traced *t = calloc(1, sizeof(*t));
    if (!t)
        fail_msg("out of memory");
    t->dir = ts_mkdtemp(tag);
    t->trace = ts_printf("%s/trace", t->dir);
    ts_env_save();
    ts_setenv("ACCEL_FAKE_TRACE", t->trace);
    return t;
}

void ts_traced_destroy(ts_traced *t)
{
    ts_env_restore();
    ts_rmtree(t->dir);
    free(t->dir);
    free(t->trace);
    free(t);
}

size_t ts_traced_count(const ts_traced *t, const char *variant, const char *event)
{
    char *text = ts_read_text(t->trace);
    char *want = ts_printf("%s %s", variant, event);
    size_t n = 0, len = strlen(want);
    for (const char *p = text; (p = strstr(p, want)); p += len)
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            n++;
    free(want);
    free(text);
    return n;
}

ts_fakes *ts_fakes_create(const char *tag, ...)
{
    ts_fakes *f = calloc(1, sizeof(*f));
    if (!f)
        fail_msg("out of memory");
    ts_env_case_setup(NULL);
    f->dir = ts_mkdtemp(tag);
    const char *variants[TS_FAKES_MAX + 1] = {0};
    const char *paths[TS_FAKES_MAX + 1] = {0};
    size_t n = 0;
    va_list ap;
    va_start(ap, tag);
    for (const char *v; (v = va_arg(ap, const char *));) {
        if (n == TS_FAKES_MAX)
            fail_msg("more than %d fake drivers in one instance", TS_FAKES_MAX);
        char *file = ts_printf("%02zu-%s.json", n, v);
        variants[n] = v;
        paths[n++] = ts_write_fake_manifest(f->dir, file, v);
        free(file);
    }
    va_end(ap);
    accel_result r = ts_create_with_paths(&f->inst, 0, paths);
    for (size_t i = 0; i < n; i++)
        free((char *)paths[i]);
    if (r != ACCEL_SUCCESS)
        fail_msg("an instance of the fake drivers in %s: %s: %s", f->dir, accel_result_name(r),
                 accel_last_error_message());
    for (size_t i = 0; i < n; i++)
        f->dev[i] = ts_fake_device(f->inst, variants[i]);
    return f;
}

int ts_fakes_teardown(void **state)
{
    ts_fakes *f = *state;
    accel_instance_destroy(f->inst);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return ts_env_case_teardown(NULL);
}

accel_device *ts_fake_device(accel_instance *inst, const char *variant)
{
    char *driver = ts_printf("fake_%s", variant);
    accel_device *dev = ts_device_of(inst, driver);
    if (!dev)
        fail_msg("no device of driver %s", driver);
    free(driver);
    return dev;
}

accel_function *ts_builtin(accel_device *dev, const char *name)
{
    accel_function *fn = NULL;
    assert_int_equal(accel_function_get(dev, NULL, name, &fn), ACCEL_SUCCESS);
    return fn;
}

accel_memory *ts_alloc(accel_instance *inst, uint64_t size)
{
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = size, .numa_node = -1};
    accel_memory *m = NULL;
    assert_int_equal(accel_memory_alloc(inst, &info, &m), ACCEL_SUCCESS);
    return m;
}

unsigned char *ts_map(accel_memory *m)
{
    void *p = NULL;
    assert_int_equal(accel_memory_map(m, &p), ACCEL_SUCCESS);
    return p;
}

accel_arg ts_mem_arg(accel_memory *m, uint64_t offset, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

accel_arg ts_u32_arg(uint32_t v)
{
    accel_arg a = {.kind = ACCEL_ARG_U32};
    a.u.u32 = v;
    return a;
}

accel_arg ts_i32_arg(int32_t v)
{
    accel_arg a = {.kind = ACCEL_ARG_I32};
    a.u.i32 = v;
    return a;
}

accel_result ts_submit(accel_queue *q, accel_function *fn, const accel_arg *args, uint32_t argc,
                       accel_fence *const *waits, uint32_t wait_count, accel_fence **fence)
{
    accel_submit_info s = {.struct_size = sizeof(s),
                           .function = fn,
                           .args = args,
                           .arg_count = argc,
                           .wait_fences = waits,
                           .wait_fence_count = wait_count};
    return accel_queue_submit(q, &s, fence);
}
