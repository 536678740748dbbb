/* main.c — accel-conformance: the conformance suite over every selected
 * device (docs/conformance.md).
 *
 * The devices come from ACCEL_DEVICE_SELECTOR (or --selector). The driver
 * ABI group loads each device's driver library itself, so it runs first,
 * while no instance holds the drivers; then one instance serves every other
 * group, device after device. Each (group, device) pair is one cmocka group.
 * Exit status: 0 when every test passed or was skipped (known failures
 * excepted), 1 when a test failed, 2 on invalid usage or when there is
 * nothing to test. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

conf_suite conf;

const conf_group_def *const conf_groups[] = {
    &conf_group_abi,        &conf_group_info,        &conf_group_memory,
    &conf_group_functions,  &conf_group_queues,      &conf_group_arguments,
    &conf_group_partitions, &conf_group_concurrency, &conf_group_device_loss,
};
const size_t conf_group_count = sizeof(conf_groups) / sizeof(conf_groups[0]);

static const char *progname = "accel-conformance";

/* ---- the running test, shared with the watchdog ---- */

typedef struct conf_slot {
    conf_device *d;
    const conf_test_def *def;
    conf_result *result;
    const char *skip_reason; /* the whole group is skipped */
    double started;
    uint64_t seq; /* place in the run order */
} conf_slot;

static conf_ctx current;

/* ---- crash resilience ----
 *
 * A driver may crash the process (a wild pointer, an abort in its code,
 * also in one of its threads). The suite therefore runs its tests in a
 * child process and supervises it from the parent: the results live in
 * memory that both share, and the child notes there which test runs. When
 * the child dies without having written its verdict, the parent marks the
 * running test as failed with the signal, and starts a new child that goes
 * on after that test; at the end (or when the child died outside any test)
 * the parent writes the summary and the JUnit file. */
typedef struct conf_shared {
    int finished;        /* the child wrote the summary and the JUnit file */
    int running;         /* a test runs: */
    uint32_t run_device; /*   its device */
    size_t run_index;    /*   its result */
    uint64_t run_seq;    /*   its place in the run order */
    uint64_t resume_seq; /* a new child skips the tests before this one */
    char phase[160];     /* what the child does outside tests */
    size_t counts[];     /* per device: results so far */
} conf_shared;

static conf_shared *shared;
static uint64_t next_seq; /* the run order of the selected tests */

static void set_phase(const char *fmt, ...) CONF_PRINTF(1, 2);
static void set_phase(const char *fmt, ...)
{
    if (!shared)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shared->phase, sizeof(shared->phase), fmt, ap);
    va_end(ap);
}

/* A crash in a test must end the process, for the parent to see it: not
 * cmocka's handlers, which jump back into a test whose state is gone. The
 * handlers the child started with come back (the default ones, or a
 * sanitizer's, which reports and ends the process). */
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
#define CRASH_SIGNALS (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction first_handlers[CRASH_SIGNALS];

static void save_crash_handlers(void)
{
    for (size_t i = 0; i < CRASH_SIGNALS; i++)
        sigaction(crash_signals[i], NULL, &first_handlers[i]);
}

static void default_crash_handlers(void)
{
    for (size_t i = 0; i < CRASH_SIGNALS; i++)
        sigaction(crash_signals[i], &first_handlers[i], NULL);
}
static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;
static conf_slot *watched;
static double suite_started;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the last thing a driver logged, for failure messages ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_log[512];

static void log_callback(void *user, accel_log_level level, const char *message)
{
    (void)user;
    if (conf.verbose)
        printf("    log: %s\n", message);
    if (level & (ACCEL_LOG_ERROR | ACCEL_LOG_WARN | ACCEL_LOG_DRIVER)) {
        pthread_mutex_lock(&log_lock);
        snprintf(last_log, sizeof(last_log), "%s", message);
        pthread_mutex_unlock(&log_lock);
    }
}

static void clear_last_log(void)
{
    pthread_mutex_lock(&log_lock);
    last_log[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

static void append_last_log(conf_result *r)
{
    pthread_mutex_lock(&log_lock);
    if (last_log[0]) {
        size_t n = strlen(r->message);
        snprintf(r->message + n, sizeof(r->message) - n, " [last log line: %s]", last_log);
    }
    pthread_mutex_unlock(&log_lock);
}

/* ---- summary ---- */

static int print_summary(void)
{
    unsigned passed = 0, failed = 0, skipped = 0, known = 0;
    printf("\n");
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        d->passed = d->failed = d->skipped = d->known = 0;
        for (size_t k = 0; k < d->result_count; k++) {
            switch (d->results[k].status) {
            case CONF_PASSED: d->passed++; break;
            case CONF_SKIPPED: d->skipped++; break;
            case CONF_KNOWN_FAILURE: d->known++; break;
            case CONF_FAILED:
            case CONF_RUNNING: d->failed++; break;
            default: break;
            }
        }
        passed += d->passed;
        failed += d->failed;
        skipped += d->skipped;
        known += d->known;
    }
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        for (size_t k = 0; k < d->result_count; k++) {
            conf_result *r = &d->results[k];
            if (r->status == CONF_FAILED || r->status == CONF_RUNNING || r->status == CONF_KNOWN_FAILURE)
                printf("%s %s %s.%s: %s\n", r->status == CONF_KNOWN_FAILURE ? "known failure" : "FAILED",
                       d->label, r->group, r->test, r->message);
        }
    }
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        printf("device %u (%s: %s, driver %s %s): %u passed, %u failed, %u skipped", d->number, d->label,
               d->info.name ? d->info.name : "?", d->driver_name,
               *d->driver_version ? d->driver_version : "?", d->passed, d->failed, d->skipped);
        if (d->known)
            printf(", %u known failure%s", d->known, d->known == 1 ? "" : "s");
        printf("\n");
    }
    printf("%s: %s: %u device(s), %u passed, %u failed, %u skipped, %u known failure(s)\n", progname,
           failed ? "FAIL" : "PASS", conf.device_count, passed, failed, skipped, known);
    fflush(stdout);
    return failed ? 1 : 0;
}

/* ---- watchdog: a hung driver must not hang the suite ---- */

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&watch_lock);
    for (;;) {
        if (!watched) {
            pthread_cond_wait(&watch_cond, &watch_lock);
            continue;
        }
        conf_slot *s = watched;
        double deadline = s->started + conf.test_timeout_s;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = deadline - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
        if (left > 0) {
            double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + left;
            ts.tv_sec = (time_t)t;
            ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&watch_cond, &watch_lock, &ts);
            continue;
        }
        /* The test hangs: report it, and everything so far, and stop. */
        s->result->status = CONF_FAILED;
        snprintf(s->result->message, sizeof(s->result->message),
                 "did not finish within %u s (a hang: a fence that never completes, or a "
                 "call that blocks); the suite stopped here",
                 conf.test_timeout_s);
        printf("\n    FAIL: %s %s.%s %s\n", s->d->label, s->result->group, s->result->test,
               s->result->message);
        if (conf.junit_path)
            conf_junit_write(conf.junit_path, now_s() - suite_started);
        print_summary();
        fflush(stdout);
        if (shared)
            shared->finished = 1;
        _exit(1);
    }
    return NULL;
}

static void watch(conf_slot *s)
{
    pthread_mutex_lock(&watch_lock);
    watched = s;
    pthread_cond_broadcast(&watch_cond);
    pthread_mutex_unlock(&watch_lock);
}

/* ---- running one test ---- */

static void slot_run(void **state)
{
    conf_slot *s = *state;
    memset(&current, 0, sizeof(current));
    current.d = s->d;
    current.dev = s->d->device;
    current.result = s->result;
    s->result->status = CONF_RUNNING;
    s->result->message[0] = '\0';
    clear_last_log();
    s->started = now_s();
    default_crash_handlers();
    if (shared) {
        shared->run_device = s->d->number;
        shared->run_index = (size_t)(s->result - s->d->results);
        shared->run_seq = s->seq;
        shared->running = 1;
    }
    watch(s);
    if (s->skip_reason)
        conf_skip(&current, "%s", s->skip_reason);
    s->def->fn(&current);
    s->result->status = CONF_PASSED;
}

static int slot_teardown(void **state)
{
    conf_slot *s = *state;
    conf_result *r = s->result;
    default_crash_handlers();
    conf_release_all(&current);
    if (r->status == CONF_RUNNING) {
        r->status = CONF_FAILED;
        snprintf(
            r->message, sizeof(r->message),
            "the test stopped without a verdict: a signal (a crash in the driver?) or an internal assertion");
        printf("    FAIL: %s\n", r->message);
    }
    if (r->status == CONF_FAILED)
        append_last_log(r);
    r->seconds = now_s() - s->started;
    char test[160];
    snprintf(test, sizeof(test), "%s.%s", r->group, r->test);
    const conf_kf_entry *k = conf_kf_match(&conf.known, s->d->driver_name, s->d->driver_version,
                                           s->d->info.name ? s->d->info.name : "", test);
    if (k && r->status == CONF_FAILED) {
        r->status = CONF_KNOWN_FAILURE;
        r->known = k;
        printf("    KNOWN FAILURE: listed in %s:%u%s%s\n", conf.known.source, k->line, *k->reason ? ": " : "",
               k->reason);
    } else if (k && r->status == CONF_PASSED) {
        printf("    note: listed as a known failure in %s:%u, but passed\n", conf.known.source, k->line);
    }
    watch(NULL);
    if (shared)
        shared->running = 0;
    fflush(stdout);
    return 0;
}

static bool test_selected(const conf_group_def *g, const conf_test_def *t)
{
    if (!conf.test_glob_count)
        return true;
    char name[160];
    snprintf(name, sizeof(name), "%s.%s", g->name, t->name);
    for (size_t i = 0; i < conf.test_glob_count; i++)
        if (fnmatch(conf.test_globs[i], name, 0) == 0)
            return true;
    return false;
}

/* Results live in the shared block, with room for every test. */
static int reserve_results(conf_device *d, size_t more)
{
    return d->result_count + more <= d->result_capacity ? 0 : -1;
}

static void run_group(conf_device *d, const conf_group_def *g)
{
    /* Tests before shared->resume_seq ran in an earlier child. */
    uint64_t first_seq = next_seq;
    size_t n = 0;
    for (size_t i = 0; i < g->test_count; i++)
        if (test_selected(g, &g->tests[i]) && next_seq++ >= shared->resume_seq)
            n++;
    if (!n)
        return;
    next_seq = first_seq;
    conf_slot *slots = calloc(n, sizeof(*slots));
    struct CMUnitTest *tests = calloc(n, sizeof(*tests));
    if (!slots || !tests || reserve_results(d, n)) {
        fprintf(stderr, "%s: out of memory\n", progname);
        exit(2);
    }
    printf("\n== device %u (%s: %s) — %s (%s)\n", d->number, d->label, d->info.name ? d->info.name : "?",
           g->title, g->name);
    fflush(stdout);
    char why[1024];
    set_phase("preparing group %s on %s", g->name, d->label);
    const char *skip_reason = g->prepare ? g->prepare(d, why, sizeof(why)) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < g->test_count; i++) {
        if (!test_selected(g, &g->tests[i]))
            continue;
        uint64_t seq = next_seq++;
        if (seq < shared->resume_seq)
            continue;
        conf_result *r = &d->results[d->result_count++];
        shared->counts[d->number] = d->result_count;
        memset(r, 0, sizeof(*r));
        r->group = g->name;
        r->test = g->tests[i].name;
        slots[k] =
            (conf_slot){.d = d, .def = &g->tests[i], .result = r, .skip_reason = skip_reason, .seq = seq};
        tests[k] = (struct CMUnitTest){g->tests[i].name, slot_run, NULL, slot_teardown, &slots[k]};
        k++;
    }
    char title[256];
    snprintf(title, sizeof(title), "%s %s", d->label, g->name);
    _cmocka_run_group_tests(title, tests, n, NULL, NULL);
    set_phase("finishing group %s on %s", g->name, d->label);
    if (g->finish)
        g->finish(d);
    free(slots);
    free(tests);
}

/* ---- the supervising parent ---- */

/* A child does not outlive the parent (killed by a harness's timeout). */
static void die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

static int write_results(int rc)
{
    if (conf.junit_path && conf_junit_write(conf.junit_path, now_s() - suite_started)) {
        fprintf(stderr, "%s: --junit: cannot write %s: %s\n", progname, conf.junit_path, strerror(errno));
        rc = rc ? rc : 2;
    }
    return rc;
}

/* Sets up the shared results, then runs children until one finishes.
 * Returns -1 in a child, which runs the tests, and the exit status in the
 * parent. */
static int supervise(void)
{
    size_t per_device = 0;
    for (size_t g = 0; g < conf_group_count; g++)
        per_device += conf_groups[g]->test_count;
    size_t head = (sizeof(conf_shared) + conf.device_count * sizeof(size_t) + 63) & ~(size_t)63;
    size_t total = head + (size_t)conf.device_count * per_device * sizeof(conf_result);
    void *mem = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "%s: cannot map memory for the results: %s\n", progname, strerror(errno));
        return 2;
    }
    shared = mem;
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf.devices[i].results = (conf_result *)((char *)mem + head) + (size_t)i * per_device;
        conf.devices[i].result_capacity = per_device;
    }
    pid_t parent = getpid();
    for (;;) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "%s: cannot start the process that runs the tests: %s\n", progname,
                    strerror(errno));
            return 2;
        }
        if (pid == 0) {
            die_with_parent(parent);
            return -1;
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        for (uint32_t i = 0; i < conf.device_count; i++)
            conf.devices[i].result_count = shared->counts[i];
        char how[160];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof(how), "signal %d, %s", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
        if (shared->finished) {
            if (!WIFSIGNALED(status))
                return WEXITSTATUS(status);
            snprintf(conf.crash, sizeof(conf.crash),
                     "the driver crashed the process (%s) after the tests, while it released the drivers",
                     how);
            printf("%s: %s\n", progname, conf.crash);
            return write_results(1);
        }
        if (!shared->running) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
                return 2; /* the child said why */
            snprintf(conf.crash, sizeof(conf.crash),
                     "the driver crashed the process (%s) outside any test, while %s", how,
                     shared->phase[0] ? shared->phase : "starting");
            printf("\n    FAIL: %s\n", conf.crash);
            print_summary();
            return write_results(1);
        }
        /* The running test failed; the next child goes on after it. */
        conf_device *d = &conf.devices[shared->run_device];
        conf_result *r = &d->results[shared->run_index];
        r->status = CONF_FAILED;
        snprintf(r->message, sizeof(r->message),
                 "the driver crashed the process (%s) during this test; the suite went on in a new process",
                 how);
        printf("\n    FAIL: %s %s.%s: %s\n", d->label, r->group, r->test, r->message);
        char test[160];
        snprintf(test, sizeof(test), "%s.%s", r->group, r->test);
        const conf_kf_entry *k = conf_kf_match(&conf.known, d->driver_name, d->driver_version,
                                               d->info.name ? d->info.name : "", test);
        if (k) {
            r->status = CONF_KNOWN_FAILURE;
            r->known = k;
        }
        d->result_count = shared->counts[d->number] = shared->run_index + 1;
        shared->resume_seq = shared->run_seq + 1;
        shared->running = 0;
        shared->phase[0] = '\0';
    }
}

/* ---- devices ---- */

static char *dup_or_empty(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d) {
        fprintf(stderr, "%s: out of memory\n", progname);
        exit(2);
    }
    return d;
}

static accel_result create_instance(const char *selector, accel_instance **out)
{
    accel_instance_options opts = {
        .struct_size = sizeof(opts),
        .log_callback = log_callback,
        .log_mask = ACCEL_LOG_ERROR | ACCEL_LOG_WARN | ACCEL_LOG_DRIVER | (conf.verbose ? ACCEL_LOG_INFO : 0),
        .device_selector = selector,
    };
    return accel_instance_create(&opts, out);
}

static void explain_no_devices(accel_instance *inst)
{
    uint32_t n = 0;
    fprintf(stderr, "%s: no device is selected, nothing to test\n", progname);
    if (accel_enumerate_manifests(inst, &n, NULL) != ACCEL_SUCCESS || n == 0) {
        fprintf(stderr, "  no driver manifest was found (see ACCEL_DRIVER_FILES)\n");
        return;
    }
    accel_manifest **m = calloc(n, sizeof(*m));
    if (!m || accel_enumerate_manifests(inst, &n, m) < 0) {
        free(m);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        accel_manifest_info mi = {.struct_size = sizeof(mi)};
        if (accel_manifest_get_info(m[i], &mi) != ACCEL_SUCCESS)
            continue;
        fprintf(stderr, "  %s %s: %s%s%s\n", accel_manifest_status_string(mi.status), mi.path,
                mi.driver_name ? mi.driver_name : "?", mi.reason ? ": " : "", mi.reason ? mi.reason : "");
    }
    free(m);
}

/* The devices to test: those the selector gives, described from a first
 * instance that is destroyed again before the driver ABI group. */
static int collect_devices(void)
{
    accel_instance *inst = NULL;
    accel_result r = create_instance(conf.selector, &inst);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: cannot create an accel instance: %s: %s\n", progname, accel_result_name(r),
                accel_last_error_message());
        return 2;
    }
    uint32_t n = 0;
    accel_enumerate_devices(inst, &n, NULL);
    if (n == 0) {
        explain_no_devices(inst);
        accel_instance_destroy(inst);
        return 2;
    }
    accel_device **devs = calloc(n, sizeof(*devs));
    conf.devices = calloc(n, sizeof(*conf.devices));
    if (!devs || !conf.devices || accel_enumerate_devices(inst, &n, devs) < 0) {
        fprintf(stderr, "%s: cannot list the devices: %s\n", progname, accel_last_error_message());
        accel_instance_destroy(inst);
        free(devs);
        return 2;
    }
    for (uint32_t i = 0; i < n; i++) {
        conf_device *d = &conf.devices[i];
        accel_device_info info = {.struct_size = sizeof(info)};
        accel_driver_info di = {.struct_size = sizeof(di)};
        accel_device_get_info(devs[i], &info);
        accel_driver_get_info(info.driver, &di);
        d->number = i;
        d->info = info; /* refreshed from the second instance */
        d->driver_name = dup_or_empty(info.driver_name);
        d->driver_version = dup_or_empty(di.version);
        d->library_path = dup_or_empty(di.library_path);
        d->manifest_path = dup_or_empty(di.manifest_path);
        d->interface_version = di.interface_version;
        d->driver_device_count = di.device_count;
        snprintf(d->label, sizeof(d->label), "%s:%u", info.driver_name, info.driver_index);
        accel_uuid_to_string(info.uuid, d->uuid);
        /* Until the second instance exists, the name must outlive this one. */
        d->info.name = dup_or_empty(info.name);
        d->info.vendor = d->info.driver_name = NULL;
        d->info.bus_address = d->info.numa_nodes = d->info.device_node = d->info.partition = NULL;
        d->info.driver = NULL;
        d->info.parent = NULL;
    }
    conf.device_count = n;
    free(devs);
    accel_instance_destroy(inst);
    return 0;
}

/* The devices are listed in a child process too: once a driver is loaded,
 * a fork of the process may not work with it (its threads are not in the
 * copy), so the supervising parent never loads one. The child hands the
 * descriptions over in shared memory. */
#define CONF_MAX_DEVICES 256

typedef struct conf_scouted {
    conf_device d; /* its pointers are the child's */
    char name[256], driver_name[128], driver_version[256], library_path[1024], manifest_path[1024];
} conf_scouted;

typedef struct conf_scout {
    uint32_t count;
    conf_scouted dev[CONF_MAX_DEVICES];
} conf_scout;

static int scout_devices(void)
{
    conf_scout *sc =
        mmap(NULL, sizeof(conf_scout), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sc == MAP_FAILED) {
        fprintf(stderr, "%s: cannot map memory for the devices: %s\n", progname, strerror(errno));
        return 2;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: cannot start a process: %s\n", progname, strerror(errno));
        munmap(sc, sizeof(*sc));
        return 2;
    }
    if (pid == 0) {
        die_with_parent(parent);
        int rc = collect_devices();
        if (rc == 0 && conf.device_count > CONF_MAX_DEVICES) {
            fprintf(stderr, "%s: %u devices are selected; the suite tests at most %u at once\n", progname,
                    conf.device_count, CONF_MAX_DEVICES);
            rc = 2;
        }
        for (uint32_t i = 0; rc == 0 && i < conf.device_count; i++) {
            conf_scouted *o = &sc->dev[i];
            const conf_device *d = &conf.devices[i];
            o->d = *d;
            snprintf(o->name, sizeof(o->name), "%s", d->info.name ? d->info.name : "");
            snprintf(o->driver_name, sizeof(o->driver_name), "%s", d->driver_name);
            snprintf(o->driver_version, sizeof(o->driver_version), "%s", d->driver_version);
            snprintf(o->library_path, sizeof(o->library_path), "%s", d->library_path);
            snprintf(o->manifest_path, sizeof(o->manifest_path), "%s", d->manifest_path);
        }
        sc->count = rc == 0 ? conf.device_count : 0;
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (WIFSIGNALED(status)) {
        snprintf(conf.crash, sizeof(conf.crash),
                 "a driver crashed the process (signal %d, %s) while the devices were listed",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
        printf("%s: FAIL: %s\n", progname, conf.crash);
        munmap(sc, sizeof(*sc));
        return write_results(1);
    }
    if (rc == 0 && !(conf.devices = calloc(sc->count ? sc->count : 1, sizeof(*conf.devices))))
        rc = 2;
    for (uint32_t i = 0; rc == 0 && i < sc->count; i++) {
        conf_device *d = &conf.devices[i];
        const conf_scouted *o = &sc->dev[i];
        *d = o->d;
        d->driver_name = dup_or_empty(o->driver_name);
        d->driver_version = dup_or_empty(o->driver_version);
        d->library_path = dup_or_empty(o->library_path);
        d->manifest_path = dup_or_empty(o->manifest_path);
        d->info.name = dup_or_empty(o->name);
        conf.device_count = i + 1;
    }
    munmap(sc, sizeof(*sc));
    return rc;
}

/* The instance of every group but the driver ABI's: the tested devices
 * and the peers. */
static int open_suite_instance(void)
{
    char *selector = NULL;
    const char *sel = conf.selector ? conf.selector : getenv("ACCEL_DEVICE_SELECTOR");
    if (conf.peer && sel && *sel) {
        size_t len = strlen(sel) + strlen(conf.peer) + 2;
        selector = malloc(len);
        if (!selector)
            return 2;
        snprintf(selector, len, "%s;%s", sel, conf.peer);
    } else if (conf.selector) {
        selector = strdup(conf.selector);
        if (!selector)
            return 2;
    }
    accel_result r = create_instance(selector, &conf.instance);
    free(selector);
    if (r != ACCEL_SUCCESS) {
        fprintf(stderr, "%s: cannot create an accel instance%s: %s: %s\n", progname,
                conf.peer ? " with --peer" : "", accel_result_name(r), accel_last_error_message());
        return 2;
    }
    uint32_t n = 0;
    accel_enumerate_devices(conf.instance, &n, NULL);
    conf.all = calloc(n ? n : 1, sizeof(*conf.all));
    if (!conf.all || accel_enumerate_devices(conf.instance, &n, conf.all) < 0)
        return 2;
    conf.all_count = n;
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        const char *name = d->info.name;
        d->device = NULL;
        for (uint32_t k = 0; k < n; k++) {
            accel_device_info info = {.struct_size = sizeof(info)};
            accel_device_get_info(conf.all[k], &info);
            if (strcmp(info.driver_name, d->driver_name) == 0 && info.driver_index == d->info.driver_index) {
                d->device = conf.all[k];
                d->info = info;
                break;
            }
        }
        if (!d->device) {
            fprintf(stderr, "%s: device %s (%s) is gone from the second instance\n", progname, d->label,
                    name);
            return 2;
        }
        free((char *)name);
    }
    return 0;
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [OPTION]...\n"
            "Run the accel-loader conformance suite on every selected device.\n"
            "\n"
            "  -s, --selector=SEL         test these devices (a device selector; default:\n"
            "                             ACCEL_DEVICE_SELECTOR, and every device when unset)\n"
            "  -p, --peer=SEL             devices that take the other side of cross-driver\n"
            "                             tests without being tested themselves\n"
            "  -g, --group=LIST           run only these groups (comma-separated)\n"
            "  -t, --test=GLOB            run only the tests whose GROUP.TEST matches GLOB\n"
            "                             (may be repeated)\n"
            "  -k, --known-failures=FILE  failures to expect (docs/conformance.md)\n"
            "  -j, --junit=FILE           write the results as JUnit XML\n"
            "      --fault-hook=DRIVER=VARIABLE\n"
            "                             the environment variable that makes the drivers\n"
            "                             matching DRIVER lose their device (may be repeated)\n"
            "      --wait-timeout=SECONDS the longest a test waits for one fence (default 30)\n"
            "      --test-timeout=SECONDS stop the suite when one test runs longer (default 300)\n"
            "  -l, --list                 list the groups and their tests, then exit\n"
            "  -v, --verbose              show the loader's and the drivers' messages\n"
            "  -h, --help                 show this help\n"
            "      --version              show the version of accel-conformance and of the\n"
            "                             loader library\n"
            "\n"
            "See accel-conformance(1) and accel-loader(7).\n"
            "\n"
            "Exit status: 0 all passed (known failures excepted), 1 a test failed,\n"
            "2 invalid usage or nothing to test.\n",
            progname);
}

static int add_string(char ***list, size_t *count, const char *s)
{
    char **bigger = realloc(*list, (*count + 1) * sizeof(**list));
    if (!bigger)
        return -1;
    *list = bigger;
    if (!(bigger[*count] = strdup(s)))
        return -1;
    (*count)++;
    return 0;
}

static int add_hook(const char *driver, const char *variable)
{
    conf_fault_hook *bigger = realloc(conf.hooks, (conf.hook_count + 1) * sizeof(*bigger));
    if (!bigger)
        return -1;
    conf.hooks = bigger;
    bigger[conf.hook_count].driver_glob = strdup(driver);
    bigger[conf.hook_count].variable = strdup(variable);
    if (!bigger[conf.hook_count].driver_glob || !bigger[conf.hook_count].variable)
        return -1;
    conf.hook_count++;
    return 0;
}

static bool valid_variable(const char *v)
{
    if (!*v || !((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || *v == '_'))
        return false;
    for (; *v; v++)
        if (!((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '_'))
            return false;
    return true;
}

static int parse_groups(const char *list)
{
    conf.group_mask = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < conf_group_count; i++) {
            if (strlen(conf_groups[i]->name) == len && strncmp(conf_groups[i]->name, p, len) == 0) {
                conf.group_mask |= 1u << i;
                found = true;
            }
        }
        if (!found) {
            fprintf(stderr, "%s: --group: unknown group \"%.*s\" (see --list)\n", progname, (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return conf.group_mask ? 0 : -1;
}

static int parse_seconds(const char *opt, const char *arg, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || v == 0 || v > max || arg[0] == '-') {
        fprintf(stderr, "%s: %s: \"%s\" is not a number of seconds from 1 to %lu\n", progname, opt, arg, max);
        return -1;
    }
    *out = v;
    return 0;
}

static void list_tests(void)
{
    for (size_t i = 0; i < conf_group_count; i++) {
        const conf_group_def *g = conf_groups[i];
        printf("%s: %s\n", g->name, g->title);
        for (size_t k = 0; k < g->test_count; k++)
            printf("  %s.%s\n", g->name, g->tests[k].name);
    }
}

static int load_known_failures(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        fprintf(stderr, "%s: --known-failures: %s: %s\n", progname, path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    while (text) {
        len += fread(text + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *bigger = cap < (64u << 20) ? realloc(text, cap * 2) : NULL;
        if (!bigger) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!text || bad) {
        fprintf(stderr, "%s: --known-failures: %s: %s\n", progname, path, text ? "read error" : "too large");
        free(text);
        return -1;
    }
    char err[512];
    int rc = conf_kf_parse(text, len, path, &conf.known, err, sizeof(err));
    free(text);
    if (rc) {
        fprintf(stderr, "%s: --known-failures: %s\n", progname, err);
        return -1;
    }
    /* An entry that matches no test is a typo that would hide nothing. */
    for (size_t e = 0; e < conf.known.count; e++) {
        bool any = false;
        for (size_t i = 0; i < conf_group_count && !any; i++) {
            for (size_t k = 0; k < conf_groups[i]->test_count && !any; k++) {
                char name[160];
                snprintf(name, sizeof(name), "%s.%s", conf_groups[i]->name, conf_groups[i]->tests[k].name);
                any = fnmatch(conf.known.entries[e].test, name, 0) == 0;
            }
        }
        if (!any) {
            fprintf(stderr, "%s: --known-failures: %s:%u: \"%s\" matches no test (see --list)\n", progname,
                    path, conf.known.entries[e].line, conf.known.entries[e].test);
            return -1;
        }
    }
    return 0;
}

/* Everything the suite allocated, released on every way out of main (so
 * that leak checkers see the drivers' leaks, not ours). */
static void cleanup(void)
{
    accel_instance_destroy(conf.instance);
    conf.instance = NULL;
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        free(d->driver_name);
        free(d->driver_version);
        free(d->library_path);
        free(d->manifest_path);
        d->results = NULL; /* in the shared block */
        if (!d->device)
            free((char *)d->info.name); /* still the copy of collect_devices */
    }
    free(conf.devices);
    conf.devices = NULL;
    conf.device_count = 0;
    free(conf.all);
    conf.all = NULL;
    for (size_t i = 0; i < conf.hook_count; i++) {
        free(conf.hooks[i].driver_glob);
        free(conf.hooks[i].variable);
    }
    free(conf.hooks);
    conf.hooks = NULL;
    conf.hook_count = 0;
    for (size_t i = 0; i < conf.test_glob_count; i++)
        free(conf.test_globs[i]);
    free(conf.test_globs);
    conf.test_globs = NULL;
    conf.test_glob_count = 0;
    conf_kf_free(&conf.known);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--device-loss-child") == 0)
        return conf_device_loss_child(argc, argv);
    atexit(cleanup);

    conf.wait_ns = 30ull * 1000000000u;
    conf.test_timeout_s = 300;
    conf.group_mask = (1u << conf_group_count) - 1;
    if (add_hook("cpu", "ACCEL_CPU_FAULT_AFTER") || add_hook("fpga", "ACCEL_FPGA_FAULT_AFTER")) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return 2;
    }
    ssize_t self = readlink("/proc/self/exe", conf.self, sizeof(conf.self) - 1);
    if (self <= 0)
        snprintf(conf.self, sizeof(conf.self), "%s", argv[0]);

    enum { OPT_FAULT_HOOK = 256, OPT_WAIT_TIMEOUT, OPT_TEST_TIMEOUT, OPT_VERSION };
    static const struct option options[] = {
        {"selector", required_argument, NULL, 's'},
        {"peer", required_argument, NULL, 'p'},
        {"group", required_argument, NULL, 'g'},
        {"test", required_argument, NULL, 't'},
        {"known-failures", required_argument, NULL, 'k'},
        {"junit", required_argument, NULL, 'j'},
        {"fault-hook", required_argument, NULL, OPT_FAULT_HOOK},
        {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
        {"test-timeout", required_argument, NULL, OPT_TEST_TIMEOUT},
        {"list", no_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    unsigned long secs;
    while ((opt = getopt_long(argc, argv, "s:p:g:t:k:j:lvh", options, NULL)) != -1) {
        switch (opt) {
        case 's': conf.selector = optarg; break;
        case 'p': conf.peer = optarg; break;
        case 'g':
            if (parse_groups(optarg))
                return 2;
            break;
        case 't':
            if (add_string(&conf.test_globs, &conf.test_glob_count, optarg))
                return 2;
            break;
        case 'k': conf.known_path = optarg; break;
        case 'j': conf.junit_path = optarg; break;
        case OPT_FAULT_HOOK: {
            const char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !valid_variable(eq + 1)) {
                fprintf(stderr, "%s: --fault-hook: expected DRIVER=VARIABLE, got \"%s\"\n", progname, optarg);
                return 2;
            }
            char driver[128];
            snprintf(driver, sizeof(driver), "%.*s", (int)(eq - optarg), optarg);
            if (add_hook(driver, eq + 1))
                return 2;
            break;
        }
        case OPT_WAIT_TIMEOUT:
            if (parse_seconds("--wait-timeout", optarg, 86400, &secs))
                return 2;
            conf.wait_ns = (uint64_t)secs * 1000000000u;
            break;
        case OPT_TEST_TIMEOUT:
            if (parse_seconds("--test-timeout", optarg, 86400, &secs))
                return 2;
            conf.test_timeout_s = (unsigned)secs;
            break;
        case 'l': list_tests(); return 0;
        case 'v': conf.verbose = true; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION:
            printf("accel-conformance %s\nlibaccel-loader %s\n", ACCEL_HEADER_VERSION_STRING,
                   accel_loader_version_string());
            return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", progname, argv[optind]);
        usage(stderr);
        return 2;
    }
    if (conf.known_path && load_known_failures(conf.known_path))
        return 2;

    setvbuf(stdout, NULL, _IOLBF, 0);
    suite_started = now_s();
    int rc = scout_devices();
    if (rc)
        return rc;
    printf("%s %s: %u device(s) to test\n", progname, accel_loader_version_string(), conf.device_count);
    for (uint32_t i = 0; i < conf.device_count; i++) {
        conf_device *d = &conf.devices[i];
        printf("  device %u: %s %s (driver %s %s, uuid %s)\n", d->number, d->label, d->info.name,
               d->driver_name, *d->driver_version ? d->driver_version : "?", d->uuid);
    }
    if ((rc = supervise()) >= 0)
        return rc;

    /* The child: the tests. */
    save_crash_handlers();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&watch_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watchdog, NULL) != 0) {
        fprintf(stderr, "%s: cannot start the watchdog thread\n", progname);
        return 2;
    }
    pthread_detach(watcher);

    for (size_t g = 0; g < conf_group_count; g++)
        if ((conf.group_mask & (1u << g)) && conf_groups[g]->before_instance)
            for (uint32_t i = 0; i < conf.device_count; i++)
                run_group(&conf.devices[i], conf_groups[g]);

    set_phase("creating the suite's instance");
    if ((rc = open_suite_instance())) {
        if (rc == 2 && !conf.instance)
            return 2;
        fprintf(stderr, "%s: cannot prepare the devices\n", progname);
        return 2;
    }
    for (uint32_t i = 0; i < conf.device_count; i++)
        for (size_t g = 0; g < conf_group_count; g++)
            if ((conf.group_mask & (1u << g)) && !conf_groups[g]->before_instance)
                run_group(&conf.devices[i], conf_groups[g]);

    set_phase("writing the results");
    rc = write_results(print_summary());
    shared->finished = 1;
    /* The instance goes last (cleanup): the summary and the JUnit file use
     * its strings. */
    return rc;
}
