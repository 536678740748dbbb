/* test_conformance.c — accel-conformance, run as users run it, over the
 * fake drivers of conf_fake.c, the tutorial driver and the in-tree
 * drivers; its verdicts read back from its JUnit file.
 *
 * Usage (one mode per meson test):
 *   test_conformance fake VARIANT      good passes; a broken variant fails
 *                                      its group, for the right reason, and
 *                                      no other group
 *   test_conformance tutorial          the guide's driver passes
 *   test_conformance mutant NAME       the guide's driver with a planted bug
 *                                      fails the test that must catch it
 *   test_conformance known-failures    the known-failure list
 *   test_conformance junit             the JUnit file
 *   test_conformance usage             options and exit statuses
 *   test_conformance rules             the loader's rejections name a rule
 *   test_conformance driver NAME PEER [algorithms=LIST] [VAR=VALUE...]
 *                                      the suite passes on an in-tree driver,
 *                                      skipping only what it does not offer
 *                                      (LIST: the uacce emulator's algorithms) */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <accel/accel.h>

static const char *mode_arg;
static char **extra_args;
static int extra_count;
static char tmpdir[512];

/* ---- strings and files ---- */

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    assert_non_null(s);
    return s;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return xprintf("%s", "");
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

static void make_tmpdir(void)
{
    mkdirs(TEST_TMP_DIR);
    snprintf(tmpdir, sizeof(tmpdir), "%s/%s-XXXXXX", TEST_TMP_DIR, mode_arg);
    assert_non_null(mkdtemp(tmpdir));
}

/* ---- running accel-conformance ---- */

typedef struct run {
    int status; /* exit status, or 128 + signal */
    char *out;  /* stdout and stderr */
    char *junit_path;
    char *junit;
} run;

/* argv and env (VAR=VALUE, NULL-terminated; "VAR=" unsets) for one run. */
static run run_suite(const char *const *args, const char *const *env)
{
    static int counter;
    run r = {0};
    char *out_path = xprintf("%s/out-%d.txt", tmpdir, counter);
    r.junit_path = xprintf("%s/junit-%d.xml", tmpdir, counter);
    counter++;
    const char *argv[64];
    int n = 0;
    argv[n++] = CONFORMANCE_PATH;
    argv[n++] = "--junit";
    argv[n++] = r.junit_path;
    for (int i = 0; args && args[i]; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; env && env[i]; i++) {
            const char *eq = strchr(env[i], '=');
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)(eq - env[i]), env[i]);
            if (eq[1])
                setenv(name, eq + 1, 1);
            else
                unsetenv(name);
        }
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            _exit(126);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execv(CONFORMANCE_PATH, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    for (int waited = 0;; waited++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (waited > 240 * 20) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = read_file(out_path);
    r.junit = read_file(r.junit_path);
    printf("--- accel-conformance exited with %d; its output:\n%s--- end of output\n", r.status, r.out);
    free(out_path);
    return r;
}

static void free_run(run *r)
{
    free(r->out);
    free(r->junit);
    free(r->junit_path);
}

/* ---- reading the JUnit file ---- */

typedef enum { CASE_PASSED, CASE_FAILED, CASE_SKIPPED } case_status;

typedef struct junit_case {
    char device[200];
    char group[64];
    char test[64];
    case_status status;
    char message[1024];
} junit_case;

static size_t attr(const char *tag, const char *name, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof(key), " %s=\"", name);
    const char *p = strstr(tag, key);
    out[0] = '\0';
    if (!p)
        return 0;
    p += strlen(key);
    const char *end = strchr(p, '"');
    if (!end)
        return 0;
    size_t n = (size_t)(end - p) < size - 1 ? (size_t)(end - p) : size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* Every <testcase> of the file; *count gets the number. */
static junit_case *parse_junit(const char *xml, size_t *count)
{
    size_t cap = 64, n = 0;
    junit_case *cases = calloc(cap, sizeof(*cases));
    assert_non_null(cases);
    for (const char *p = strstr(xml, "<testcase "); p; p = strstr(p + 1, "<testcase ")) {
        const char *tag_end = strchr(p, '>');
        assert_non_null(tag_end);
        char tag[1024];
        snprintf(tag, sizeof(tag), "%.*s", (int)(tag_end - p), p);
        if (n == cap) {
            cap *= 2;
            cases = realloc(cases, cap * sizeof(*cases));
            assert_non_null(cases);
        }
        junit_case *c = &cases[n++];
        memset(c, 0, sizeof(*c));
        char classname[200];
        attr(tag, "classname", classname, sizeof(classname));
        char *dot = strrchr(classname, '.');
        assert_non_null(dot);
        *dot = '\0';
        snprintf(c->device, sizeof(c->device), "%s", classname);
        snprintf(c->group, sizeof(c->group), "%s", dot + 1);
        attr(tag, "name", c->test, sizeof(c->test));
        c->status = CASE_PASSED;
        if (tag_end[-1] == '/')
            continue;
        const char *close = strstr(tag_end, "</testcase>");
        assert_non_null(close);
        const char *fail = strstr(tag_end, "<failure");
        const char *skip = strstr(tag_end, "<skipped");
        const char *inner = NULL;
        if (fail && fail < close) {
            c->status = CASE_FAILED;
            inner = fail;
        } else if (skip && skip < close) {
            c->status = CASE_SKIPPED;
            inner = skip;
        }
        if (inner) {
            const char *e = strchr(inner, '>');
            char itag[2048];
            snprintf(itag, sizeof(itag), "%.*s", (int)(e - inner), inner);
            attr(itag, "message", c->message, sizeof(c->message));
        }
    }
    *count = n;
    return cases;
}

static size_t count_status(const junit_case *c, size_t n, case_status s)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += c[i].status == s;
    return k;
}

/* Skips are allowed only where the driver does not offer something. */
static void check_skip_reasons(const junit_case *c, size_t n)
{
    static const char *const allowed[] = {"unsupported:", "not offered:", "no partitions:", "no fault hook:"};
    for (size_t i = 0; i < n; i++) {
        if (c[i].status != CASE_SKIPPED)
            continue;
        bool ok = false;
        for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
            ok |= strncmp(c[i].message, allowed[k], strlen(allowed[k])) == 0;
        if (!ok)
            fail_msg("%s %s.%s was skipped for a reason other than a feature the driver does not offer: %s",
                     c[i].device, c[i].group, c[i].test, c[i].message);
    }
}

/* ---- the fake drivers ---- */

static char *fake_manifest(const char *variant)
{
    char *path = xprintf("%s/conf_%s.json", tmpdir, variant);
    char *text =
        xprintf("{\n  \"file_format_version\": \"1.0.0\",\n  \"driver\": {\n    \"name\": \"conf_%s\",\n"
                "    \"library_path\": \"%s/libconf_%s.so\",\n    \"api_version\": \"1.0\"\n  }\n}\n",
                variant, CONF_FAKE_DIR, variant);
    write_file(path, text);
    free(text);
    return path;
}

static run run_fake(const char *variant, const char *const *more_args)
{
    char *manifest = fake_manifest(variant);
    char *files = xprintf("ACCEL_DRIVER_FILES=%s:%s/accel_cpu.json", manifest, BUILD_MANIFEST_DIR);
    char *selector = xprintf("ACCEL_DEVICE_SELECTOR=conf_%s:*", variant);
    const char *env[] = {files, selector, NULL};
    const char *args[32] = {"--peer",         "cpu:0", "--fault-hook",   "conf_*=CONF_FAKE_FAULT_AFTER",
                            "--wait-timeout", "20",    "--test-timeout", "90"};
    int n = 8;
    for (int i = 0; more_args && more_args[i]; i++)
        args[n++] = more_args[i];
    args[n] = NULL;
    run r = run_suite(args, env);
    free(manifest);
    free(files);
    free(selector);
    return r;
}

/* What each broken variant must fail, and the words its message has;
 * `also`: another group the same fault shows in (a driver that answers
 * every name also "offers" the stream forms, with no arguments, which the
 * functions group checks where a device offers them). */
static const struct {
    const char *variant, *group, *test, *words, *also;
} breaks[] = {
    {"abi", "abi", "enumerate", "(rule 9)", NULL},
    {"info", "info", "uuid", "all zeros", NULL},
    {"memory", "memory", "import_fd", "fd_offset", NULL},
    {"functions", "functions", "crc32c", "expected 0xe3069283", NULL},
    {"queues", "queues", "failure_breaks_queue", "ACCEL_ERROR_INVALID_ARGUMENT", NULL},
    {"arguments", "arguments", "unknown_function", "expected ACCEL_ERROR_NOT_FOUND", "functions"},
    {"partitions", "partitions", "parent", "names no parent", NULL},
    {"concurrency", "concurrency", "fence_waiters", "several waiters", NULL},
    {"device_loss", "device-loss", "other_queues_fail", "whole device", NULL},
};

static void test_conformance_fake(void **state)
{
    (void)state;
    assert_true(extra_count >= 1);
    const char *variant = extra_args[0];
    run r = run_fake(variant, NULL);
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    /* Two devices, every group. */
    assert_true(n > 80);
    if (strcmp(variant, "good") == 0) {
        assert_int_equal(count_status(c, n, CASE_FAILED), 0);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "accel-conformance: PASS"));
        /* Only the programs are skipped: the fake loads none. */
        for (size_t i = 0; i < n; i++)
            if (c[i].status == CASE_SKIPPED && strcmp(c[i].test, "program") != 0 &&
                strcmp(c[i].test, "programs") != 0)
                fail_msg("%s %s.%s skipped: %s", c[i].device, c[i].group, c[i].test, c[i].message);
        check_skip_reasons(c, n);
    } else {
        size_t b = 0;
        while (b < sizeof(breaks) / sizeof(breaks[0]) && strcmp(breaks[b].variant, variant) != 0)
            b++;
        assert_true(b < sizeof(breaks) / sizeof(breaks[0]));
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.out, "accel-conformance: FAIL"));
        bool expected_failed = false;
        for (size_t i = 0; i < n; i++) {
            if (c[i].status != CASE_FAILED)
                continue;
            if (breaks[b].also && strcmp(c[i].group, breaks[b].also) == 0) {
                if (!strstr(c[i].message, ".stream"))
                    fail_msg("the %s variant failed %s %s.%s, not over a stream form: %s", variant,
                             c[i].device, c[i].group, c[i].test, c[i].message);
                continue;
            }
            if (strcmp(c[i].group, breaks[b].group) != 0)
                fail_msg("the %s variant breaks group %s, but %s %s.%s failed too: %s", variant,
                         breaks[b].group, c[i].device, c[i].group, c[i].test, c[i].message);
            if (strcmp(c[i].test, breaks[b].test) == 0) {
                if (!strstr(c[i].message, breaks[b].words))
                    fail_msg("%s.%s failed, but not for the planted fault (expected \"%s\" in: %s)",
                             c[i].group, c[i].test, breaks[b].words, c[i].message);
                expected_failed = true;
            }
        }
        if (!expected_failed)
            fail_msg("the %s variant did not fail %s.%s", variant, breaks[b].group, breaks[b].test);
    }
    free(c);
    free_run(&r);
}

static void test_conformance_tutorial(void **state)
{
    (void)state;
    char *files = xprintf("ACCEL_DRIVER_FILES=%s:%s/accel_cpu.json", ACME_MANIFEST, BUILD_MANIFEST_DIR);
    const char *env[] = {files, "ACCEL_DEVICE_SELECTOR=acme:*", NULL};
    const char *args[] = {"--peer", "cpu:0", NULL};
    run r = run_suite(args, env);
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    assert_true(n > 40);
    assert_int_equal(count_status(c, n, CASE_FAILED), 0);
    assert_int_equal(r.status, 0);
    check_skip_reasons(c, n);
    assert_non_null(strstr(r.out, "device 0 (acme:0: Acme W1 (serial W1-000001), driver acme 1.0.0): "));
    free(c);
    free(files);
    free_run(&r);
}

/* ---- the mutants of the tutorial driver (mutation/acme_mutants.c) ---- */

/* What each mutant must fail, and the words the failure message has. A
 * NULL test: a variant without a bug, which must pass; `ran`: tests that
 * must run (not be skipped) on it. `loss`: the variant has the fault hook. */
static const struct mutant {
    const char *name;
    bool loss;
    const char *test, *words;
    const char *ran;
} mutants[] = {
    {"async", true, NULL, NULL, "queues.in_order device-loss.fences_fail"},
    {"only_crc32c", false, NULL, NULL,
     "queues.in_order queues.wait_same_device queues.wait_across_drivers queues.fence_states "
     "queues.fence_outlives_queue queues.failure_breaks_queue concurrency.one_queue "
     "concurrency.queue_per_thread "
     "concurrency.fence_waiters "
     "concurrency.query_while_busy"},
    {"only_crc32c_async", true, NULL, NULL,
     "queues.in_order queues.wait_same_device queues.wait_across_drivers concurrency.one_queue "
     "concurrency.queue_per_thread concurrency.fence_waiters device-loss.before_fault "
     "device-loss.fences_fail "
     "device-loss.queue_fails_fast device-loss.other_queues_fail device-loss.memory device-loss.teardown"},
    {"ignore_offset", false, "functions.copy", "differs at byte", NULL},
    {"fill_overrun", false, "functions.fill", "wrote outside", NULL},
    {"copy_unchecked", false, "queues.function_errors",
     "accel.copy of 1000 bytes into 999 ended ACCEL_SUCCESS", NULL},
    {"crc_no_final_xor", false, "functions.crc32c", "expected 0xe3069283", NULL},
    {"any_name", false, "arguments.unknown_function", "expected ACCEL_ERROR_NOT_FOUND", NULL},
    {"info_ignores_size", false, "abi.device_info", "struct_size", NULL},
    {"query_ignores_size", false, "abi.device_query", "(rule 16)", NULL},
    {"query_numa", false, "info.live_values", "numa_node", NULL},
    {"forgets_failure", false, "queues.failure_breaks_queue", "a broken queue runs nothing more", NULL},
    {"double_free", false, "memory.alloc_attach", "the driver crashed the process (signal 6", NULL},
    {"crash", false, "functions.crc32c", "the driver crashed the process (signal 11", NULL},
    /* No test: the crash comes while the devices are listed. */
    {"crash_listing", false, "", "a driver crashed the process (signal 11, ", NULL},
    {"early_fence", true, "queues.wait_same_device", "ran before the fence it waited for", NULL},
    {"two_workers", true, "queues.in_order", "out of order", NULL},
    {"timeout_succeeds", true, "queues.fence_states", "reports success but its work is not done", NULL},
    {"loss_wrong_error", true, "device-loss.fences_fail", "expected ACCEL_ERROR_DEVICE_LOST", NULL},
    {"loss_one_queue", true, "device-loss.other_queues_fail", "whole device", NULL},
    {"only_crc32c_two_workers", true, "queues.in_order", "out of order", NULL},
    {"only_crc32c_early_fence", true, "queues.fence_states", "reports success but its work is not done",
     NULL},
    {"only_crc32c_loss_one_queue", true, "device-loss.other_queues_fail", "whole device", NULL},
};

static void test_conformance_mutant(void **state)
{
    (void)state;
    assert_true(extra_count >= 1);
    const char *name = extra_args[0];
    /* The planted crashes and overruns are for the plain build: a
     * sanitizer would report them before the suite could. */
    if (getenv("ACCEL_TEST_SANITIZED")) {
        printf("skipped: ACCEL_TEST_SANITIZED is set\n");
        skip();
    }
    size_t m = 0;
    while (m < sizeof(mutants) / sizeof(mutants[0]) && strcmp(mutants[m].name, name) != 0)
        m++;
    if (m == sizeof(mutants) / sizeof(mutants[0]))
        fail_msg("no mutant %s in test_conformance.c's table", name);
    const struct mutant *mu = &mutants[m];
    char *manifest = xprintf("%s/acme_%s.json", tmpdir, name);
    char *text =
        xprintf("{\n  \"file_format_version\": \"1.0.0\",\n  \"driver\": {\n    \"name\": \"acme_%s\",\n"
                "    \"library_path\": \"%s/libacme_mut_%s.so\",\n    \"api_version\": \"1.0\"\n  }\n}\n",
                name, CONF_FAKE_DIR, name);
    write_file(manifest, text);
    char *files = xprintf("ACCEL_DRIVER_FILES=%s:%s/accel_cpu.json", manifest, BUILD_MANIFEST_DIR);
    char *selector = xprintf("ACCEL_DEVICE_SELECTOR=acme_%s:*", name);
    const char *env[] = {files, selector, "ACME_FAULT_AFTER=", NULL};
    const char *args[16] = {"--peer", "cpu:0", "--wait-timeout", "5", "--test-timeout", "60"};
    int n = 6;
    if (mu->loss) {
        args[n++] = "--fault-hook";
        args[n++] = "acme_*=ACME_FAULT_AFTER";
    }
    args[n] = NULL;
    run r = run_suite(args, env);
    if (mu->test && !*mu->test) {
        /* Nothing ran; the JUnit file says why. */
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.out, "accel-conformance: FAIL: "));
        assert_non_null(strstr(r.out, mu->words));
        assert_non_null(strstr(r.junit, " errors=\"1\" "));
        char *error = xprintf("<error message=\"%s", mu->words);
        assert_non_null(strstr(r.junit, error));
        assert_non_null(strstr(r.junit, "</testsuites>\n"));
        free(error);
        free_run(&r);
        free(manifest);
        free(text);
        free(files);
        free(selector);
        return;
    }
    size_t count = 0;
    junit_case *c = parse_junit(r.junit, &count);
    /* The JUnit file is complete, also when the driver crashed the suite. */
    assert_true(count > 40);
    assert_non_null(strstr(r.junit, "</testsuites>\n"));
    if (!mu->test) {
        for (size_t i = 0; i < count; i++)
            if (c[i].status == CASE_FAILED)
                fail_msg("the bug-free variant %s failed %s.%s: %s", name, c[i].group, c[i].test,
                         c[i].message);
        assert_int_equal(r.status, 0);
        check_skip_reasons(c, count);
        /* The tests that must run on it ran. */
        char *want = xprintf("%s", mu->ran);
        for (char *save = NULL, *t = strtok_r(want, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            bool ran = false;
            for (size_t i = 0; i < count; i++) {
                char full[160];
                snprintf(full, sizeof(full), "%s.%s", c[i].group, c[i].test);
                if (strcmp(full, t) == 0 && c[i].status == CASE_PASSED)
                    ran = true;
            }
            if (!ran)
                fail_msg("%s: %s did not run and pass", name, t);
        }
        free(want);
    } else {
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.out, "accel-conformance: FAIL"));
        bool caught = false;
        for (size_t i = 0; i < count; i++) {
            if (c[i].status != CASE_FAILED)
                continue;
            char full[160];
            snprintf(full, sizeof(full), "%s.%s", c[i].group, c[i].test);
            if (strcmp(full, mu->test) == 0) {
                if (!strstr(c[i].message, mu->words))
                    fail_msg("mutant %s failed %s, but not for the planted bug (expected \"%s\" in: %s)",
                             name, full, mu->words, c[i].message);
                caught = true;
            } else {
                printf("(mutant %s also fails %s: %s)\n", name, full, c[i].message);
            }
        }
        if (!caught)
            fail_msg("mutant %s was not caught: %s did not fail", name, mu->test);
    }
    free(c);
    free_run(&r);
    free(manifest);
    free(text);
    free(files);
    free(selector);
}

static void test_conformance_known_failures(void **state)
{
    (void)state;
    /* The broken crc32c, expected: the run passes, the test is reported. */
    char *list = xprintf("%s/known.txt", tmpdir);
    write_file(
        list,
        "# driver  version  device  test  reason\n"
        "conf_functions  1.0.0-*  \"conformance fake * (whole)\"  functions.crc32c  final XOR left out\n"
        "conf_functions  *  *half*  functions.crc32c\n");
    const char *more[] = {"--known-failures", list, NULL};
    run r = run_fake("functions", more);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "KNOWN FAILURE: listed in"));
    assert_non_null(strstr(r.out, "known failure conf_functions:0 functions.crc32c: "));
    assert_non_null(strstr(r.out, "2 known failure(s)"));
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    size_t known = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].test, "crc32c") == 0) {
            assert_int_equal(c[i].status, CASE_SKIPPED);
            assert_non_null(strstr(c[i].message, "known failure ("));
            known++;
        }
    }
    assert_int_equal(known, 2);
    assert_int_equal(count_status(c, n, CASE_FAILED), 0);
    free(c);
    free_run(&r);

    /* Another driver version is not covered: the failure counts. */
    write_file(list, "conf_functions 2.* * functions.crc32c\n");
    r = run_fake("functions", more);
    assert_int_equal(r.status, 1);
    free_run(&r);

    /* A name that matches no test, and a line that does not parse, are
     * usage errors. */
    write_file(list, "conf_functions * * functions.crc33c\n");
    r = run_fake("functions", more);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.out, "matches no test"));
    free_run(&r);
    write_file(list, "# fine\nconf_functions \"unterminated * functions.crc32c\n");
    r = run_fake("functions", more);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.out, "known.txt:2: "));
    free_run(&r);
    free(list);
}

static void test_conformance_junit(void **state)
{
    (void)state;
    const char *more[] = {"--group", "info,functions", NULL};
    run r = run_fake("functions", more);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.junit, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert_non_null(strstr(r.junit, "</testsuites>\n"));
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    /* Totals agree with the cases. */
    char *totals = xprintf("tests=\"%zu\" failures=\"%zu\"", n, count_status(c, n, CASE_FAILED));
    assert_non_null(strstr(r.junit, totals));
    free(totals);
    /* One suite per (device, group), with the device described. */
    assert_non_null(strstr(r.junit, "<testsuite name=\"conf_functions:0 info\""));
    assert_non_null(strstr(r.junit, "<testsuite name=\"conf_functions:1 functions\""));
    assert_non_null(strstr(r.junit, "<property name=\"driver_version\" value=\"1.0.0-functions\"/>"));
    assert_null(strstr(r.junit, "<testsuite name=\"conf_functions:0 queues\""));
    /* Messages are escaped: the failing crc32c message quotes a string. */
    for (size_t i = 0; i < n; i++)
        if (c[i].status == CASE_FAILED)
            assert_non_null(strstr(c[i].message, "&quot;"));
    assert_null(strstr(r.junit, "\"123456789\""));
    free(c);
    free_run(&r);
}

static void test_conformance_usage(void **state)
{
    (void)state;
    const char *help[] = {"--help", NULL};
    run r = run_suite(help, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--known-failures"));
    free_run(&r);
    const char *list[] = {"--list", NULL};
    r = run_suite(list, NULL);
    assert_int_equal(r.status, 0);
    static const char *const groups[] = {
        "abi:",       "info:",       "memory:",      "functions:",  "queues:",
        "arguments:", "partitions:", "concurrency:", "device-loss:"};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        assert_non_null(strstr(r.out, groups[i]));
    assert_non_null(strstr(r.out, "  queues.in_order\n"));
    free_run(&r);
    const char *bad_option[] = {"--no-such-option", NULL};
    r = run_suite(bad_option, NULL);
    assert_int_equal(r.status, 2);
    free_run(&r);
    const char *bad_group[] = {"--group", "queues,nonsense", NULL};
    r = run_suite(bad_group, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.out, "unknown group \"nonsense\""));
    free_run(&r);

    char *files = xprintf("ACCEL_DRIVER_FILES=%s/accel_cpu.json", BUILD_MANIFEST_DIR);
    const char *bad_selector_env[] = {files, "ACCEL_DEVICE_SELECTOR=cpu", NULL};
    r = run_suite(NULL, bad_selector_env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.out, "ACCEL_ERROR_INVALID_SELECTOR"));
    free_run(&r);
    const char *nothing_env[] = {files, "ACCEL_DEVICE_SELECTOR=nodriver:*", NULL};
    r = run_suite(NULL, nothing_env);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.out, "no device is selected"));
    free_run(&r);
    /* --test narrows the run to the tests it names. */
    const char *one_env[] = {files, "ACCEL_DEVICE_SELECTOR=cpu:0", NULL};
    const char *one[] = {"--test", "functions.crc*", NULL};
    r = run_suite(one, one_env);
    assert_int_equal(r.status, 0);
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    assert_int_equal(n, 1);
    assert_string_equal(c[0].test, "crc32c");
    assert_int_equal(c[0].status, CASE_PASSED);
    assert_non_null(strstr(r.out, "device 0 (cpu:0: "));
    assert_non_null(strstr(r.out, "): 1 passed, 0 failed, 0 skipped\n"));
    free(c);
    free_run(&r);
    free(files);
}

/* The loader names the rule of docs/writing-a-driver.md it rejects a
 * driver for (the broken drivers of tests/fake). */
static void test_conformance_rules(void **state)
{
    (void)state;
    static const struct {
        const char *variant, *rule;
    } cases[] = {
        {"missing", "rule 1: "},     {"no_negotiate", "rule 2: "}, {"refuse", "rule 3: "},
        {"version_new", "rule 4: "}, {"short_table", "rule 6: "},  {"null_query", "rule 7: "},
        {"init_fails", "rule 8: "},  {"enum_fails", "rule 9: "},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = xprintf("%s/rule-%zu.json", tmpdir, i);
        char *text =
            xprintf("{\n  \"file_format_version\": \"1.0.0\",\n  \"driver\": {\n    \"name\": \"fake_%s\",\n"
                    "    \"library_path\": \"%s/libfake_%s.so\",\n    \"api_version\": \"1.0\"\n  }\n}\n",
                    cases[i].variant, FAKE_DRIVER_DIR, cases[i].variant);
        write_file(path, text);
        const char *paths[] = {path};
        accel_instance_options opts = {
            .struct_size = sizeof(opts), .manifest_paths = paths, .manifest_path_count = 1};
        accel_instance *inst = NULL;
        assert_int_equal(accel_instance_create(&opts, &inst), ACCEL_SUCCESS);
        accel_manifest *m = NULL;
        uint32_t count = 1;
        assert_int_equal(accel_enumerate_manifests(inst, &count, &m), ACCEL_SUCCESS);
        accel_manifest_info mi = {.struct_size = sizeof(mi)};
        assert_int_equal(accel_manifest_get_info(m, &mi), ACCEL_SUCCESS);
        assert_int_equal(mi.status, ACCEL_MANIFEST_FAILED);
        if (!mi.reason || strncmp(mi.reason, cases[i].rule, strlen(cases[i].rule)) != 0)
            fail_msg("fake_%s was rejected with \"%s\", which does not start with \"%s\"", cases[i].variant,
                     mi.reason ? mi.reason : "(no reason)", cases[i].rule);
        accel_instance_destroy(inst);
        free(text);
        free(path);
    }
}

/* ---- in-tree drivers ---- */

static pid_t emulator;

static void start_emulator(char **env_root, const char *algorithms)
{
#ifdef EMULATOR_PATH
    char *root = xprintf("%s/uacce", tmpdir);
    mkdir(root, 0755);
    char *sock = xprintf("%s/dev/uacce_conf-0", root);
    emulator = fork();
    assert_true(emulator >= 0);
    if (emulator == 0) {
        execl(EMULATOR_PATH, EMULATOR_PATH, "--root", root, "--name", "uacce_conf-0", "--sva", "--instances",
              "4", "--algorithms", algorithms, (char *)NULL);
        _exit(127);
    }
    struct stat st;
    int i;
    for (i = 0; i < 500 && !(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode)); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (i == 500)
        fail_msg("the uacce emulator did not start");
    free(sock);
    *env_root = root;
#else
    (void)env_root;
    (void)algorithms;
    fail_msg("the warpdrive driver is not built here");
#endif
}

static void stop_emulator(void)
{
    if (emulator > 0) {
        kill(emulator, SIGTERM);
        waitpid(emulator, NULL, 0);
        emulator = 0;
    }
}

static void test_conformance_driver(void **state)
{
    (void)state;
    assert_true(extra_count >= 2);
    const char *driver = extra_args[0], *peer = extra_args[1];
    const char *env[16];
    int ne = 0;
    char *files = xprintf("ACCEL_DRIVER_FILES=%s", BUILD_MANIFEST_DIR);
    char *select = xprintf("ACCEL_DRIVERS_SELECT=%s%s%s", driver, *peer ? "," : "", peer);
    char *devices = xprintf("ACCEL_DEVICE_SELECTOR=%s:*", driver);
    env[ne++] = files;
    env[ne++] = select;
    env[ne++] = devices;
    char *root = NULL, *sysfs = NULL, *dev = NULL;
    /* "algorithms=LIST": what the uacce emulator offers (a fixed-function
     * device: zlib only). */
    const char *algorithms = "zlib,crc32c,sha256,copy,fill";
    int first_env = 2;
    if (extra_count > 2 && strncmp(extra_args[2], "algorithms=", 11) == 0)
        algorithms = extra_args[first_env++] + 11;
    if (strcmp(driver, "warpdrive") == 0) {
        start_emulator(&root, algorithms);
        sysfs = xprintf("ACCEL_UACCE_SYSFS_ROOT=%s/sys", root);
        dev = xprintf("ACCEL_UACCE_DEV_ROOT=%s/dev", root);
        env[ne++] = sysfs;
        env[ne++] = dev;
    }
    for (int i = first_env; i < extra_count && ne < 15; i++)
        env[ne++] = extra_args[i];
    env[ne] = NULL;
    char *peer_sel = xprintf("%s:0", peer);
    /* A fence wait of 120 s rather than 30: a first call compiles its
     * kernel (lavapipe takes 10-12 s of CPU for zlib.inflate's shader,
     * before Mesa's shader cache has it), and the test runs beside others. */
    const char *with_peer[] = {"--peer", peer_sel, "--wait-timeout", "120", NULL};
    run r = run_suite(*peer ? with_peer : with_peer + 2, env);
    stop_emulator();
    size_t n = 0;
    junit_case *c = parse_junit(r.junit, &n);
    assert_true(n > 40);
    for (size_t i = 0; i < n; i++)
        if (c[i].status == CASE_FAILED)
            fail_msg("%s %s.%s failed: %s", c[i].device, c[i].group, c[i].test, c[i].message);
    assert_int_equal(r.status, 0);
    check_skip_reasons(c, n);
    free(c);
    free_run(&r);
    free(files);
    free(select);
    free(devices);
    free(root);
    free(sysfs);
    free(dev);
    free(peer_sel);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    make_tmpdir();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODE [ARGS...]\n", argv[0]);
        return 2;
    }
    mode_arg = argv[1];
    extra_args = argv + 2;
    extra_count = argc - 2;
    static const struct {
        const char *mode;
        struct CMUnitTest test;
    } modes[] = {
        {"fake", cmocka_unit_test_setup(test_conformance_fake, setup)},
        {"tutorial", cmocka_unit_test_setup(test_conformance_tutorial, setup)},
        {"mutant", cmocka_unit_test_setup(test_conformance_mutant, setup)},
        {"known-failures", cmocka_unit_test_setup(test_conformance_known_failures, setup)},
        {"junit", cmocka_unit_test_setup(test_conformance_junit, setup)},
        {"usage", cmocka_unit_test_setup(test_conformance_usage, setup)},
        {"rules", cmocka_unit_test_setup(test_conformance_rules, setup)},
        {"driver", cmocka_unit_test_setup(test_conformance_driver, setup)},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(modes[i].mode, mode_arg) == 0) {
            const struct CMUnitTest tests[] = {modes[i].test};
            return cmocka_run_group_tests_name(mode_arg, tests, NULL, NULL);
        }
    }
    fprintf(stderr, "%s: unknown mode %s\n", argv[0], mode_arg);
    return 2;
}
