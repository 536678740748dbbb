/* device_loss.c — group "device-loss": what applications see when a device
 * goes away. Only a driver can make its device fail, so the group uses the
 * driver's fault hook: an environment variable VARIABLE=N after which the
 * Nth submission of the process (counted from driver_init, over all its
 * queues) and every later one fail with ACCEL_ERROR_DEVICE_LOST. The cpu
 * driver's is ACCEL_CPU_FAULT_AFTER; --fault-hook names others. Devices of
 * a driver without a known hook skip the group.
 *
 * The scenario runs in a child process (this executable again, with the
 * variable set and the device selected by uuid), so that the suite's own
 * driver load stays healthy and a hang or a crash is reported, not
 * suffered. The child prints one line per step:
 *     step NAME pass
 *     step NAME fail MESSAGE
 * and each test of the group is one step. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#define FAULT_AFTER 4

extern char **environ;

static const char *const steps[] = {"before_fault",      "fences_fail", "queue_fails_fast",
                                    "other_queues_fail", "memory",      "teardown"};
#define STEP_COUNT (sizeof(steps) / sizeof(steps[0]))

static struct {
    bool ran;
    char verdict[STEP_COUNT][8];
    char message[STEP_COUNT][1024];
    char failure[1024]; /* why the child did not report a step */
} loss;

static const char *hook_for(const char *driver)
{
    const char *found = NULL;
    for (size_t i = 0; i < conf.hook_count; i++)
        if (fnmatch(conf.hooks[i].driver_glob, driver, 0) == 0)
            found = conf.hooks[i].variable; /* the last one given wins */
    return found;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void parse_line(char *line)
{
    if (conf.verbose)
        printf("    child: %s\n", line);
    if (strncmp(line, "step ", 5) != 0)
        return;
    char *name = line + 5, *sp = strchr(name, ' ');
    if (!sp)
        return;
    *sp = '\0';
    char *verdict = sp + 1, *msg = strchr(verdict, ' ');
    if (msg)
        *msg++ = '\0';
    for (size_t i = 0; i < STEP_COUNT; i++) {
        if (strcmp(steps[i], name) == 0) {
            snprintf(loss.verdict[i], sizeof(loss.verdict[i]), "%s", verdict);
            snprintf(loss.message[i], sizeof(loss.message[i]), "%s", msg ? msg : "");
        }
    }
}

/* Environment of the child: ours, plus the hook and the selection. */
static char **child_env(const char *variable, const conf_device *d)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 4, sizeof(char *));
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t vl = strlen(variable);
        if ((strncmp(environ[i], variable, vl) == 0 && environ[i][vl] == '=') ||
            strncmp(environ[i], "ACCEL_DEVICE_SELECTOR=", 22) == 0 ||
            strncmp(environ[i], "ACCEL_DRIVERS_SELECT=", 21) == 0)
            continue;
        env[k++] = environ[i];
    }
    char *hook = malloc(strlen(variable) + 16), *sel = malloc(strlen(d->driver_name) + 80),
         *drv = malloc(strlen(d->driver_name) + 32);
    if (!hook || !sel || !drv) {
        free(hook);
        free(sel);
        free(drv);
        free(env);
        return NULL;
    }
    sprintf(hook, "%s=%d", variable, FAULT_AFTER);
    sprintf(sel, "ACCEL_DEVICE_SELECTOR=%s:uuid=%s", d->driver_name, d->uuid);
    sprintf(drv, "ACCEL_DRIVERS_SELECT=%s", d->driver_name);
    env[k++] = hook;
    env[k++] = sel;
    env[k++] = drv;
    env[k] = NULL;
    return env;
}

static void free_env(char **env)
{
    if (!env)
        return;
    size_t n = 0;
    while (env[n])
        n++;
    for (size_t i = n - 3; i < n; i++)
        free(env[i]);
    free(env);
}

static void run_child(conf_device *d, const char *variable)
{
    memset(&loss, 0, sizeof(loss));
    loss.ran = true;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        snprintf(loss.failure, sizeof(loss.failure), "pipe failed: %s", strerror(errno));
        return;
    }
    char **env = child_env(variable, d);
    char wait_s[32];
    snprintf(wait_s, sizeof(wait_s), "%llu", (unsigned long long)(conf.wait_ns / 1000000000u));
    fflush(stdout);
    pid_t pid = env ? fork() : -1;
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        char *argv[] = {conf.self, "--device-loss-child", wait_s, (char *)variable, NULL};
        execve(conf.self, argv, env);
        _exit(127);
    }
    close(pipefd[1]);
    free_env(env);
    if (pid < 0) {
        close(pipefd[0]);
        snprintf(loss.failure, sizeof(loss.failure), "cannot start a child process");
        return;
    }
    /* Read lines until the child closes its end or the deadline passes. */
    double deadline = now_s() + 2.0 * (double)conf.wait_ns / 1e9 + 20.0;
    char buf[8192];
    size_t used = 0;
    bool timed_out = false;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {pipefd[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t got = read(pipefd[0], buf + used, sizeof(buf) - 1 - used);
        if (got <= 0)
            break;
        used += (size_t)got;
        buf[used] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = '\0';
            parse_line(buf);
            used -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, used + 1);
        }
        if (used == sizeof(buf) - 1)
            used = 0; /* an endless line: drop it */
    }
    close(pipefd[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (timed_out)
        snprintf(loss.failure, sizeof(loss.failure),
                 "the child process hung after the device was lost (killed after %.0f s)",
                 2.0 * (double)conf.wait_ns / 1e9 + 20.0);
    else if (WIFSIGNALED(status))
        snprintf(loss.failure, sizeof(loss.failure),
                 "the child process crashed with signal %d after the device was lost", WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0)
        snprintf(loss.failure, sizeof(loss.failure), "the child process exited with status %d",
                 WEXITSTATUS(status));
    else
        snprintf(loss.failure, sizeof(loss.failure), "the child process stopped before this step");
}

static const char *loss_prepare(conf_device *d, char *why, size_t size)
{
    memset(&loss, 0, sizeof(loss));
    const char *variable = hook_for(d->driver_name);
    if (!variable) {
        snprintf(why, size,
                 "no fault hook: no way to make driver %s lose its device is "
                 "known (--fault-hook %s=VARIABLE names one)",
                 d->driver_name, d->driver_name);
        return why;
    }
    run_child(d, variable);
    return NULL;
}

static void check_step(conf_ctx *c, size_t i)
{
    if (!loss.verdict[i][0])
        FAIL("%s", loss.failure);
    if (strcmp(loss.verdict[i], "skip") == 0)
        conf_skip(c, "%s", loss.message[i]);
    CHECK(strcmp(loss.verdict[i], "pass") == 0, "%s", loss.message[i]);
}

static void test_loss_before_fault(conf_ctx *c)
{
    check_step(c, 0);
}
static void test_loss_fences_fail(conf_ctx *c)
{
    check_step(c, 1);
}
static void test_loss_queue_fails_fast(conf_ctx *c)
{
    check_step(c, 2);
}
static void test_loss_other_queues_fail(conf_ctx *c)
{
    check_step(c, 3);
}
static void test_loss_memory(conf_ctx *c)
{
    check_step(c, 4);
}
static void test_loss_teardown(conf_ctx *c)
{
    check_step(c, 5);
}

static const conf_test_def device_loss_tests[] = {
    {"before_fault", test_loss_before_fault},
    {"fences_fail", test_loss_fences_fail},
    {"queue_fails_fast", test_loss_queue_fails_fast},
    {"other_queues_fail", test_loss_other_queues_fail},
    {"memory", test_loss_memory},
    {"teardown", test_loss_teardown},
};

const conf_group_def conf_group_device_loss = {
    .name = "device-loss",
    .title = "device loss",
    .tests = CONF_TESTS(device_loss),
    .prepare = loss_prepare,
};

/* ---- the child ---- */

static uint64_t child_wait_ns;

static void step(const char *name, const char *verdict, const char *fmt, ...) CONF_PRINTF(3, 4);
static void step(const char *name, const char *verdict, const char *fmt, ...)
{
    char msg[900] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    printf("step %s %s%s%s\n", name, verdict, *msg ? " " : "", msg);
    fflush(stdout);
}

#define LOSS_STEPS 16

/* What the scenario submits: accel.noop, or, on a device without it, the
 * steps of a chain (chain.c) of a function the device offers. */
typedef struct loss_work {
    accel_function *fn;
    conf_step_fn step; /* step.fn NULL: accel.noop */
    conf_chain chain;
    uint32_t next; /* the next step */
    accel_memory *slots[LOSS_STEPS + 1];
    unsigned char *maps[LOSS_STEPS + 1];
} loss_work;

static accel_result find_work(accel_instance *inst, accel_device *dev, loss_work *w)
{
    static const struct {
        const char *name;
        conf_step_kind kind;
    } names[] = {{"accel.noop", 0},
                 {"accel.copy", CONF_STEP_COPY},
                 {"crc32c", CONF_STEP_CRC32C},
                 {"sha256", CONF_STEP_SHA256},
                 {"zlib.deflate", CONF_STEP_DEFLATE}};
    memset(w, 0, sizeof(*w));
    accel_result r = ACCEL_ERROR_NOT_FOUND;
    size_t i;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        r = accel_function_get(dev, NULL, names[i].name, &w->fn);
        if (r != ACCEL_ERROR_NOT_FOUND)
            break;
    }
    if (r != ACCEL_SUCCESS || !names[i].kind)
        return r;
    w->step = (conf_step_fn){w->fn, names[i].name, names[i].kind};
    w->chain.steps = LOSS_STEPS;
    w->chain.slot = w->slots;
    w->chain.p = w->maps;
    accel_attach_mode mode;
    for (uint32_t k = 0; k <= LOSS_STEPS; k++) {
        accel_memory_alloc_info ai = {.struct_size = sizeof(ai), .size = CONF_CHAIN_STRIDE, .numa_node = -1};
        if ((r = accel_memory_alloc(inst, &ai, &w->slots[k])) ||
            (r = accel_memory_map(w->slots[k], (void **)&w->maps[k])) ||
            (r = accel_memory_attach(w->slots[k], dev, &mode)))
            return r;
    }
    accel_memory_alloc_info si = {.struct_size = sizeof(si), .size = 8 * LOSS_STEPS, .numa_node = -1};
    if ((r = accel_memory_alloc(inst, &si, &w->chain.sizes)) ||
        (r = accel_memory_map(w->chain.sizes, (void **)&w->chain.sz)) ||
        (r = accel_memory_attach(w->chain.sizes, dev, &mode)))
        return r;
    conf_fill_random(w->maps[0], CONF_CHAIN_STRIDE, 90);
    return ACCEL_SUCCESS;
}

static const char *work_name(const loss_work *w)
{
    return w->step.fn ? w->step.name : "accel.noop";
}

static accel_result submit(accel_queue *q, loss_work *w, accel_fence **fence)
{
    accel_arg args[CONF_CHAIN_MAX_ARGS];
    accel_submit_info s = {.struct_size = sizeof(s), .function = w->fn};
    if (w->step.fn) {
        s.args = args;
        s.arg_count =
            conf_chain_args(&w->step, &w->chain, w->next < LOSS_STEPS ? w->next : LOSS_STEPS - 1, args);
        w->next++;
    }
    return accel_queue_submit(q, &s, fence);
}

/* One failing step ends the scenario: later steps depend on it. */
int conf_device_loss_child(int argc, char **argv)
{
    child_wait_ns = (argc > 2 ? strtoull(argv[2], NULL, 10) : 30) * 1000000000ull;
    const char *variable = argc > 3 ? argv[3] : "the fault hook";
    accel_instance *inst = NULL;
    loss_work work = {0};
    accel_queue *q1 = NULL, *q2 = NULL, *q3 = NULL;
    accel_fence *f[FAULT_AFTER + 3] = {0}, *g = NULL, *h = NULL;
    accel_memory *extra = NULL;
    bool finished = false;
    accel_result r = accel_instance_create(NULL, &inst);
    if (r != ACCEL_SUCCESS) {
        step("before_fault", "fail", "accel_instance_create returned %s: %s", accel_result_name(r),
             accel_last_error_message());
        goto out;
    }
    accel_device *dev = NULL;
    uint32_t n = 1;
    r = accel_enumerate_devices(inst, &n, &dev);
    if (r < 0 || n != 1 || !dev) {
        step("before_fault", "fail", "the device is not found again with the fault hook set (%u devices)", n);
        goto out;
    }
    r = find_work(inst, dev, &work);
    if (r == ACCEL_ERROR_NOT_FOUND) {
        const char *why = accel_last_error_message();
        for (size_t i = 0; i < STEP_COUNT; i++)
            step(steps[i], "skip",
                 "not offered: the scenario submits accel.noop, accel.copy, crc32c, sha256 or zlib.deflate "
                 "(%s)",
                 why);
        goto out;
    }
    if (r != ACCEL_SUCCESS) {
        step("before_fault", "fail", "preparing %s returned %s: %s", work_name(&work), accel_result_name(r),
             accel_last_error_message());
        goto out;
    }
    if ((r = accel_queue_create(dev, 0, &q1)) != ACCEL_SUCCESS) {
        step("before_fault", "fail", "accel_queue_create returned %s", accel_result_name(r));
        goto out;
    }
    /* A second queue, idle during the loss, where the device has room. */
    if (accel_queue_create(dev, 0, &q2) != ACCEL_SUCCESS)
        q2 = NULL;
    /* Submissions 1 .. FAULT_AFTER - 1 run. */
    for (int i = 0; i < FAULT_AFTER - 1; i++) {
        if ((r = submit(q1, &work, &f[i])) != ACCEL_SUCCESS ||
            (r = accel_fence_wait(&f[i], 1, true, child_wait_ns)) != ACCEL_SUCCESS) {
            step("before_fault", "fail", "submission %d of %d before the fault (%s) ended %s", i + 1,
                 FAULT_AFTER - 1, work_name(&work), accel_result_name(r));
            goto out;
        }
        char why[256];
        if (work.step.fn && !conf_chain_done(&work.step, &work.chain, (uint32_t)i, why, sizeof(why))) {
            step("before_fault", "fail", "submission %d before the fault succeeded, but %s (rule 20)", i + 1,
                 why);
            goto out;
        }
    }
    step("before_fault", "pass", NULL);

    /* Submission FAULT_AFTER and later are lost: they are refused, or
     * their fences fail; none hangs. */
    accel_result submitted[FAULT_AFTER + 2];
    for (int i = FAULT_AFTER - 1; i < FAULT_AFTER + 2; i++) {
        submitted[i] = submit(q1, &work, &f[i]);
        if (submitted[i] != ACCEL_SUCCESS && submitted[i] != ACCEL_ERROR_DEVICE_LOST) {
            step("fences_fail", "fail",
                 "submission %d returned %s, expected ACCEL_SUCCESS or ACCEL_ERROR_DEVICE_LOST (rule 21)",
                 i + 1, accel_result_name(submitted[i]));
            goto out;
        }
    }
    for (int i = FAULT_AFTER - 1; i < FAULT_AFTER + 2; i++) {
        if (submitted[i] != ACCEL_SUCCESS)
            continue;
        r = accel_fence_wait(&f[i], 1, true, child_wait_ns);
        if (r != ACCEL_ERROR_DEVICE_LOST) {
            step("fences_fail", "fail",
                 "with %s=%d, the fence of submission %d ended %s, expected ACCEL_ERROR_DEVICE_LOST%s (rule "
                 "21)",
                 variable, FAULT_AFTER, i + 1, accel_result_name(r),
                 r == ACCEL_TIMEOUT ? ": a lost device must fail its fences, not hang them" : "");
            goto out;
        }
    }
    step("fences_fail", "pass", NULL);

    /* The queue is broken: new submissions fail at once. */
    r = submit(q1, &work, NULL);
    accel_result fin = accel_queue_finish(q1);
    if (r != ACCEL_ERROR_DEVICE_LOST || fin != ACCEL_ERROR_DEVICE_LOST) {
        step("queue_fails_fast", "fail",
             "after the loss, accel_queue_submit returned %s and accel_queue_finish %s, expected "
             "ACCEL_ERROR_DEVICE_LOST (rule 21)",
             accel_result_name(r), accel_result_name(fin));
        goto out;
    }
    step("queue_fails_fast", "pass", NULL);

    /* Every queue of the device fails: one that was idle during the loss,
     * and one created after it (the broken ones go first: some devices hold
     * one queue at a time). */
    if (q2) {
        r = submit(q2, &work, &h);
        if (r == ACCEL_SUCCESS)
            r = accel_fence_wait(&h, 1, true, child_wait_ns);
        if (r != ACCEL_ERROR_DEVICE_LOST) {
            step("other_queues_fail", "fail",
                 "after the loss, work on another queue of the device, created before the loss, ended %s, "
                 "expected "
                 "ACCEL_ERROR_DEVICE_LOST: the whole device is lost, not one queue (rule 21)",
                 accel_result_name(r));
            goto out;
        }
    }
    accel_queue_destroy(q1);
    q1 = NULL;
    accel_queue_destroy(q2);
    q2 = NULL;
    r = accel_queue_create(dev, 0, &q3);
    if (r == ACCEL_SUCCESS) {
        r = submit(q3, &work, &g);
        if (r == ACCEL_SUCCESS)
            r = accel_fence_wait(&g, 1, true, child_wait_ns);
    }
    if (r != ACCEL_ERROR_DEVICE_LOST) {
        step("other_queues_fail", "fail",
             "after the loss, work on a new queue of the device ended %s, expected ACCEL_ERROR_DEVICE_LOST: "
             "the whole device is lost, not one queue (rule 21)",
             accel_result_name(r));
        goto out;
    }
    uint32_t kind = 0;
    r = accel_device_query(dev, ACCEL_DEVICE_PARAM_KIND, &kind, sizeof(kind), NULL);
    if (r != ACCEL_SUCCESS && r != ACCEL_ERROR_DEVICE_LOST) {
        step("other_queues_fail", "fail",
             "after the loss, device_query(KIND) returned %s, expected ACCEL_SUCCESS or "
             "ACCEL_ERROR_DEVICE_LOST (rule 21)",
             accel_result_name(r));
        goto out;
    }
    step("other_queues_fail", "pass", NULL);

    /* Memory: the description stays readable, memory can still be
     * attached (or the attach fails with DEVICE_LOST), and everything
     * attached detaches. */
    accel_device_info info = {.struct_size = sizeof(info)};
    if ((r = accel_device_get_info(dev, &info)) != ACCEL_SUCCESS) {
        step("memory", "fail", "after the loss, accel_device_get_info returned %s (rule 21)",
             accel_result_name(r));
        goto out;
    }
    accel_memory_alloc_info ai = {.struct_size = sizeof(ai), .size = 4096, .numa_node = -1};
    if ((r = accel_memory_alloc(inst, &ai, &extra)) != ACCEL_SUCCESS) {
        step("memory", "fail", "after the loss, accel_memory_alloc returned %s", accel_result_name(r));
        goto out;
    }
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    r = accel_memory_attach(extra, dev, &mode);
    if (r != ACCEL_SUCCESS && r != ACCEL_ERROR_DEVICE_LOST) {
        step("memory", "fail",
             "after the loss, accel_memory_attach returned %s, expected ACCEL_SUCCESS or "
             "ACCEL_ERROR_DEVICE_LOST (rule 21)",
             accel_result_name(r));
        goto out;
    }
    if (r == ACCEL_SUCCESS && (r = accel_memory_detach(extra, dev)) != ACCEL_SUCCESS) {
        step("memory", "fail",
             "after the loss, accel_memory_detach of memory attached after it returned %s (rule 21)",
             accel_result_name(r));
        goto out;
    }
    if (work.chain.sizes && (r = accel_memory_detach(work.chain.sizes, dev)) != ACCEL_SUCCESS) {
        step("memory", "fail",
             "after the loss, accel_memory_detach of memory attached before it returned %s (rule 21)",
             accel_result_name(r));
        goto out;
    }
    step("memory", "pass", NULL);

    /* Everything can still be released (a hang here is reported by the
     * parent's deadline). On an earlier failure, release what there is. */
    finished = true;
out:
    for (int i = 0; i < FAULT_AFTER + 3; i++)
        accel_fence_release(f[i]);
    accel_fence_release(g);
    accel_fence_release(h);
    accel_queue_destroy(q1);
    accel_queue_destroy(q2);
    accel_queue_destroy(q3);
    accel_function_destroy(work.fn);
    for (uint32_t k = 0; k <= LOSS_STEPS; k++)
        accel_memory_free(work.slots[k]);
    accel_memory_free(work.chain.sizes);
    accel_memory_free(extra);
    accel_instance_destroy(inst);
    if (finished)
        step("teardown", "pass", NULL);
    return 0;
}
