/* uacce_emulator.c — accel-uacce-emulator: a WarpDrive (uacce) device in a
 * process of its own, for machines without uacce hardware.
 *
 *   accel-uacce-emulator --root DIR --name NAME [--sva|--no-sva] [--instances N]
 *                        [--algorithms a,b] [--isolate-threshold N] [--numa-node N]
 *                        [--latency-us N]
 *   accel-uacce-emulator --root DIR --name NAME --inject-error[=N]
 *   accel-uacce-emulator --help | --version
 *
 * What it creates is what the kernel's uacce class exposes:
 *   DIR/sys/class/uacce/NAME/{api,flags,available_instances,algorithms,
 *       region_mmio_size,region_dus_size,isolate,isolate_strategy}
 *   DIR/sys/class/uacce/NAME/device/numa_node       (the parent device's)
 *   DIR/dev/NAME                                    the "device node"
 * except that the device node is a listening UNIX socket (SOCK_SEQPACKET)
 * instead of a character device: one connection stands for one open file.
 * The messages and the queue format are in wd_proto.h. Attributes are
 * rewritten (write + rename) as they change: available_instances as queues
 * start and stop, isolate once more than --isolate-threshold hardware
 * errors were injected (isolate_strategy holds the threshold; 0 = never
 * isolate, as in the kernel).
 *
 * Each started queue gets a thread that busy-polls the queue's doorbell
 * word in the shared MMIO region (so the client submits without a system
 * call), spinning for EMU_SPIN_NS after the last request and then napping in
 * short ppoll() steps on the connection. Requests run in order; what each
 * operation does is in emu_ops.c. A heartbeat thread advances
 * every started queue's heartbeat counter (wd_proto.h) each millisecond, so
 * that the client can poll fences without a system call and still tell a
 * live device from a dead one.
 *
 * How the device reaches client memory is in emu_memory.c: with SVA
 * the buffers are the client's virtual addresses, found in the device's
 * translation cache (memory the driver described with WD_MSG_TRANSLATE_ADD:
 * the emulator maps its fd and works on the bytes in place) or else read
 * and written with process_vm_readv / process_vm_writev for the pid the
 * socket reports (SO_PEERCRED), or through the client's /proc/<pid>/mem
 * when it sent one with START_Q and ptrace rules forbid the former. Without
 * SVA only memory the client registered (memfds, WD_MSG_REGISTER) is
 * reachable.
 *
 * --latency-us N adds N microseconds before each request (tests of device
 * loss use it to keep requests pending). SIGTERM / SIGINT: remove the tree
 * and exit 0. SIGKILL leaves the files behind, as a crashed device would
 * leave stale state; a new emulator of the same name replaces them.
 */
#include "emu_hash.h"
#include "emu_memory.h"
#include "emu_ops.h"
#include "wd_msg.h"
#include "wd_proto.h"
#include "accel_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EMU_SPIN_NS    2000000ull /* busy-poll this long after the last request */
#define EMU_NAP_NS     50000l     /* then sleep in steps of this */

static struct {
    char root[PATH_MAX];
    char name[128];
    bool sva;
    unsigned instances;
    char algorithms[1024]; /* newline separated */
    unsigned isolate_threshold;
    int numa_node;
    unsigned latency_us;
} opt = {.sva = true, .instances = 4, .numa_node = -1};

static char class_dir[PATH_MAX + 64];
static char dev_path[PATH_MAX + 64];

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned g_free;   /* available instances */
static unsigned g_errors; /* injected hardware errors */
static _Atomic bool g_isolated;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "accel-uacce-emulator: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- the sysfs tree ---------------------------------------------------------- */

static void mkdirs(const char *path)
{
    char buf[PATH_MAX + 64];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", buf, strerror(errno));
}

/* Replace an attribute atomically, so that a reader never sees half of it. */
static void write_attr(const char *rel, const char *fmt, ...)
{
    char path[PATH_MAX + 200], tmp[PATH_MAX + 220], text[1100];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", class_dir, rel);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", class_dir, strchr(rel, '/') ? "device-numa" : rel);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (fd < 0 || write(fd, text, (size_t)n) != n || close(fd) != 0 || rename(tmp, path) != 0)
        fprintf(stderr, "accel-uacce-emulator: writing %s: %s\n", path, strerror(errno));
}

static const char *const attr_names[] = {"api", "flags", "available_instances", "algorithms", "region_mmio_size",
                                         "region_dus_size", "isolate", "isolate_strategy", "device/numa_node"};

static void create_tree(void)
{
    if (snprintf(class_dir, sizeof(class_dir), "%s/sys/class/uacce/%s", opt.root, opt.name) >= (int)sizeof(class_dir))
        die("--root too long");
    char dir[PATH_MAX + 80];
    snprintf(dir, sizeof(dir), "%s/device", class_dir);
    mkdirs(dir);
    snprintf(dir, sizeof(dir), "%s/dev", opt.root);
    mkdirs(dir);
    if (snprintf(dev_path, sizeof(dev_path), "%s/dev/%s", opt.root, opt.name) >= (int)sizeof(dev_path))
        die("--root too long");
    write_attr("api", "%s\n", WD_API);
    write_attr("flags", "%u\n", opt.sva ? UACCE_DEV_SVA : 0u);
    write_attr("available_instances", "%u\n", opt.instances);
    write_attr("algorithms", "%s\n", opt.algorithms);
    write_attr("region_mmio_size", "%u\n", WD_MMIO_SIZE);
    write_attr("region_dus_size", "%u\n", WD_DUS_SIZE);
    write_attr("isolate", "0\n");
    write_attr("isolate_strategy", "%u\n", opt.isolate_threshold);
    write_attr("device/numa_node", "%d\n", opt.numa_node);
}

static void remove_tree(void)
{
    char path[PATH_MAX + 200];
    unlink(dev_path);
    for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", class_dir, attr_names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/device", class_dir);
    rmdir(path);
    rmdir(class_dir);
    /* Shared parents go only when empty (other emulators may use the root). */
    snprintf(path, sizeof(path), "%s/sys/class/uacce", opt.root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/sys/class", opt.root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/sys", opt.root);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/dev", opt.root);
    rmdir(path);
}

static void count_error(unsigned n)
{
    pthread_mutex_lock(&g_lock);
    g_errors += n ? n : 1;
    if (opt.isolate_threshold && g_errors > opt.isolate_threshold && !g_isolated) {
        g_isolated = true;
        write_attr("isolate", "1\n");
        fprintf(stderr, "accel-uacce-emulator: %s: %u hardware errors (threshold %u): isolated\n", opt.name,
                g_errors, opt.isolate_threshold);
    }
    pthread_mutex_unlock(&g_lock);
}

/* ---- messages ------------------------------------------------------------------ */

/* Receive one message and up to 2 file descriptors. Returns 1, 0 at
 * hang-up, -1 on error. */
static int recv_msg(int sock, wd_msg *m, int *fds, int *nfds)
{
    ssize_t n = wd_msg_recv(sock, m, fds, 2, nfds);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    if ((size_t)n != sizeof(*m) || m->magic != WD_MSG_MAGIC) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return -1;
    }
    return 1;
}

static void reply(int sock, uint32_t type, int status, uint64_t a, uint64_t b, const int *fds, int nfds)
{
    wd_msg m = {.type = type, .status = status, .a = a, .b = b};
    wd_msg_send(sock, &m, fds, nfds);
}

/* ---- one connection = one open file ------------------------------------------- */

typedef struct conn {
    int sock;
    emu_space space; /* the peer: its pid (SVA address space) and /proc/<pid>/mem */
    bool started;
    uint8_t *mmio;
    uint8_t *dus;
    int32_t error; /* the first failure: later requests fail with it */
    uint8_t *scratch; /* EMU_SCRATCH bytes (emu_ops.h) */
    struct conn *beat_next; /* on the heartbeat's list while the queue runs (g_beat_lock) */
} conn;

/* ---- the heartbeat -------------------------------------------------------------- */

/* One thread for all queues, apart from their workers: a queue whose
 * worker is busy with a long request (or sleeps --latency-us) still beats,
 * so a stopped counter means a stopped process. */
static pthread_mutex_t g_beat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_beat_cond = PTHREAD_COND_INITIALIZER;
static conn *g_beating;

static void beat_add(conn *c)
{
    pthread_mutex_lock(&g_beat_lock);
    c->beat_next = g_beating;
    g_beating = c;
    pthread_cond_signal(&g_beat_cond);
    pthread_mutex_unlock(&g_beat_lock);
}

/* After this returns the thread no longer touches c->dus. */
static void beat_remove(conn *c)
{
    pthread_mutex_lock(&g_beat_lock);
    for (conn **p = &g_beating; *p; p = &(*p)->beat_next) {
        if (*p == c) {
            *p = c->beat_next;
            break;
        }
    }
    pthread_mutex_unlock(&g_beat_lock);
}

static void *heartbeat_main(void *arg)
{
    (void)arg;
    const struct timespec period = {0, (long)WD_HEARTBEAT_PERIOD_NS};
    pthread_mutex_lock(&g_beat_lock);
    for (;;) {
        while (!g_beating)
            pthread_cond_wait(&g_beat_cond, &g_beat_lock); /* no queue: no wake-ups */
        for (conn *c = g_beating; c; c = c->beat_next)
            atomic_fetch_add_explicit(&((wd_dus_header *)c->dus)->heartbeat, 1, memory_order_relaxed);
        pthread_mutex_unlock(&g_beat_lock);
        nanosleep(&period, NULL);
        pthread_mutex_lock(&g_beat_lock);
    }
    return NULL;
}

static void execute(conn *c, uint32_t index)
{
    wd_desc *d = (wd_desc *)(c->dus + WD_DESC_OFFSET) + index % WD_RING_ENTRIES;
    wd_cqe *e = (wd_cqe *)(c->dus + WD_CQE_OFFSET) + index % WD_RING_ENTRIES;
    /* The doorbell comes after the descriptor's release store; a client
     * that rang early is waited for briefly, then failed. */
    for (unsigned i = 0; atomic_load_explicit(&d->seq, memory_order_acquire) != index + 1; i++) {
        if (i > 1000000) {
            e->status = WD_ST_BAD_OP;
            e->produced = e->consumed = 0;
            e->info = e->reserved = 0;
            atomic_store_explicit(&e->seq, index + 1, memory_order_release);
            return;
        }
        accel_cpu_relax();
    }
    wd_desc desc = *d; /* the client may not change it under us */
    if (opt.latency_us)
        usleep(opt.latency_us);
    emu_result res = {0};
    int st;
    if (g_isolated)
        st = WD_ST_ISOLATED;
    else if (c->error)
        st = c->error;
    else {
        emu_ctx ctx = {&c->space, c->scratch};
        st = emu_execute(&ctx, &desc, &res);
        if (st)
            c->error = st;
    }
    e->status = st;
    e->produced = res.produced;
    e->consumed = res.consumed;
    e->info = res.info;
    e->reserved = 0;
    atomic_store_explicit(&e->seq, index + 1, memory_order_release);
}

static void release_instance(conn *c)
{
    if (!c->started)
        return;
    c->started = false;
    pthread_mutex_lock(&g_lock);
    g_free++;
    write_attr("available_instances", "%u\n", g_free);
    pthread_mutex_unlock(&g_lock);
}

static void handle_control(conn *c, const wd_msg *m, int *fds, int nfds);

/* Whether the client hung up (its process died or closed the file): a
 * zero-timeout poll for the hang-up alone, so that a control message
 * waiting to be read does not count. */
static bool client_gone(conn *c)
{
    struct pollfd p = {c->sock, POLLRDHUP, 0};
    struct timespec ts = {0, 0};
    return ppoll(&p, 1, &ts, NULL) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void report_dropped(const conn *c, uint32_t pending)
{
    fprintf(stderr, "accel-uacce-emulator %s: client pid %d hung up: %u pending request(s) dropped\n", opt.name,
            (int)c->space.pid, pending);
}

/* The queue's life after START_Q: poll the doorbell until PUT_Q or hang-up.
 * A client that dies with requests in the ring is forgotten at once: the
 * requests it rang for are dropped, not run (checked before each request
 * when requests are slow, --latency-us, else every 64). */
static void run_queue(conn *c)
{
    _Atomic uint32_t *doorbell = (_Atomic uint32_t *)c->mmio;
    uint32_t head = 0;
    uint64_t last = accel_now_ns();
    unsigned spins = 0;
    for (;;) {
        uint32_t db = atomic_load_explicit(doorbell, memory_order_acquire);
        if (db != head) {
            uint32_t first = head;
            while (head != db) {
                if (head != first && (opt.latency_us || (head & 63) == 0) && client_gone(c)) {
                    report_dropped(c, db - head);
                    return;
                }
                execute(c, head);
                head++;
            }
            last = accel_now_ns();
            continue;
        }
        bool nap = false;
        if (++spins & 1023) {
            accel_cpu_relax();
            continue;
        }
        if (accel_now_ns() - last > EMU_SPIN_NS)
            nap = true;
        struct pollfd p = {c->sock, POLLIN, 0};
        struct timespec ts = {0, nap ? EMU_NAP_NS : 0};
        if (ppoll(&p, 1, &ts, NULL) > 0) {
            wd_msg m;
            int fds[2], nfds;
            int r = recv_msg(c->sock, &m, fds, &nfds);
            if (r <= 0) {
                /* Hang-up: the client closed the file. Requests it rang for
                 * while this thread slept are dropped too, not run. */
                uint32_t pending = atomic_load_explicit(doorbell, memory_order_acquire) - head;
                if (pending)
                    report_dropped(c, pending);
                return;
            }
            if (m.type == WD_MSG_PUT_Q) {
                release_instance(c);
                reply(c->sock, WD_MSG_PUT_Q, 0, 0, 0, NULL, 0);
                return;
            }
            handle_control(c, &m, fds, nfds);
        }
    }
}

static void start_queue(conn *c, const wd_msg *m, int *fds, int nfds)
{
    (void)m;
    int st = 0;
    if (c->started)
        st = EINVAL;
    else if (g_isolated)
        st = EPERM;
    if (!st) {
        pthread_mutex_lock(&g_lock);
        if (g_free == 0) {
            st = EBUSY;
        } else {
            g_free--;
            c->started = true;
            write_attr("available_instances", "%u\n", g_free);
        }
        pthread_mutex_unlock(&g_lock);
    }
    int mfd = -1, dfd = -1;
    if (!st) {
        mfd = memfd_create("uacce-mmio", MFD_CLOEXEC);
        dfd = memfd_create("uacce-dus", MFD_CLOEXEC);
        if (mfd < 0 || dfd < 0 || ftruncate(mfd, WD_MMIO_SIZE) || ftruncate(dfd, WD_DUS_SIZE))
            st = ENOMEM;
    }
    if (!st) {
        c->mmio = mmap(NULL, WD_MMIO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        c->dus = mmap(NULL, WD_DUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
        if (c->mmio == MAP_FAILED || c->dus == MAP_FAILED)
            st = ENOMEM;
    }
    if (st) {
        release_instance(c);
        if (c->mmio && c->mmio != MAP_FAILED)
            munmap(c->mmio, WD_MMIO_SIZE);
        if (c->dus && c->dus != MAP_FAILED)
            munmap(c->dus, WD_DUS_SIZE);
        c->mmio = c->dus = NULL;
        if (mfd >= 0)
            close(mfd);
        if (dfd >= 0)
            close(dfd);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        reply(c->sock, WD_MSG_START_Q, st, 0, 0, NULL, 0);
        return;
    }
    wd_dus_header *h = (wd_dus_header *)c->dus;
    h->magic = WD_DUS_MAGIC;
    h->ring_entries = WD_RING_ENTRIES;
    h->desc_offset = WD_DESC_OFFSET;
    h->cqe_offset = WD_CQE_OFFSET;
    h->flags = (opt.sva ? UACCE_DEV_SVA : 0) | WD_DUS_HEARTBEAT;
    if (nfds >= 1)
        c->space.mem_fd = fds[0];
    for (int i = 1; i < nfds; i++)
        close(fds[i]);
    beat_add(c); /* beating before the client can look */
    int out[2] = {mfd, dfd};
    reply(c->sock, WD_MSG_START_Q, 0, WD_MMIO_SIZE, WD_DUS_SIZE, out, 2);
    close(mfd);
    close(dfd);
    run_queue(c);
    beat_remove(c);
}

static void handle_control(conn *c, const wd_msg *m, int *fds, int nfds)
{
    int st = 0;
    uint32_t id = 0;
    switch (m->type) {
    case WD_MSG_REGISTER:
        if (opt.sva)
            st = EOPNOTSUPP; /* SVA devices use virtual addresses */
        else
            st = nfds == 1 ? emu_region_add(c, fds[0], m->a, m->b, &id) : EINVAL;
        break;
    case WD_MSG_UNREGISTER:
        st = m->a <= UINT32_MAX ? emu_region_remove(c, (uint32_t)m->a) : ENOENT;
        break;
    case WD_MSG_TRANSLATE_ADD:
        if (!opt.sva)
            st = EOPNOTSUPP; /* without SVA, memory is registered by region */
        else
            st = nfds == 1 ? emu_translation_add(c, c->space.pid, fds[0], m->a, m->b, m->c, &id) : EINVAL;
        break;
    case WD_MSG_TRANSLATE_REMOVE:
        st = m->a <= UINT32_MAX ? emu_translation_remove(c, (uint32_t)m->a) : ENOENT;
        break;
    case WD_MSG_INJECT_ERROR:
        count_error((unsigned)m->a);
        break;
    default: break;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    reply(c->sock, m->type, st, id, 0, NULL, 0);
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(c->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        c->space.pid = cred.pid;
    for (;;) {
        wd_msg m;
        int fds[2], nfds;
        int r = recv_msg(c->sock, &m, fds, &nfds);
        if (r <= 0)
            break;
        if (m.type == WD_MSG_START_Q) {
            start_queue(c, &m, fds, nfds);
            if (c->mmio)
                break; /* the queue ran and ended */
            continue;
        }
        if (m.type == WD_MSG_PUT_Q) {
            reply(c->sock, m.type, EINVAL, 0, 0, NULL, 0);
            continue;
        }
        handle_control(c, &m, fds, nfds);
    }
    release_instance(c);
    emu_memory_drop_owner(c);
    if (c->mmio)
        munmap(c->mmio, WD_MMIO_SIZE);
    if (c->dus)
        munmap(c->dus, WD_DUS_SIZE);
    if (c->space.mem_fd >= 0)
        close(c->space.mem_fd);
    close(c->sock);
    free(c->scratch);
    free(c);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------- */

#define USAGE                                                                                                \
    "usage: accel-uacce-emulator --root DIR --name NAME [--sva|--no-sva] [--instances N]\n"                  \
    "                            [--algorithms a,b] [--isolate-threshold N] [--numa-node N]\n"               \
    "                            [--latency-us N]\n"                                                         \
    "       accel-uacce-emulator --root DIR --name NAME --inject-error[=N]\n"

/* Invalid usage: the synopsis on standard error, exit status 2. */
static void usage(void)
{
    fprintf(stderr, USAGE "Try 'accel-uacce-emulator --help'.\n");
    exit(2);
}

static void help(void)
{
    printf(USAGE "A WarpDrive (uacce) device in a process of its own, for machines without the hardware:\n"
                 "its sysfs attributes under DIR/sys/class/uacce/NAME, its device node DIR/dev/NAME.\n"
                 "\n"
                 "  -r, --root DIR             the directory that stands for / (DIR/sys, DIR/dev)\n"
                 "  -n, --name NAME            the device's name, e.g. hisi_zip-0\n"
                 "      --sva, --no-sva        share the client's address space (the default) or not\n"
                 "      --instances N          queue instances (default 4)\n"
                 "      --algorithms A,B       the algorithms attribute (default zlib,crc32c,sha256)\n"
                 "      --isolate-threshold N  isolate after more than N hardware errors (0: never)\n"
                 "      --numa-node N          the parent device's NUMA node (-1: none)\n"
                 "      --latency-us N         wait N microseconds before each request\n"
                 "      --inject-error[=N]     count N (1) hardware errors on the running device NAME\n"
                 "  -h, --help                 show this help\n"
                 "  -V, --version              show the version\n"
                 "\n"
                 "See accel-uacce-emulator(1) and docs/warpdrive.md.\n");
    exit(0);
}

static unsigned parse_uint(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || !*s || s[0] == '-' || v > UINT_MAX)
        die("--%s: not a number: %s", what, s);
    return (unsigned)v;
}

/* Client mode: count hardware errors on a running emulator. */
static int inject(unsigned n)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof(a.sun_path), "%s/dev/%s", opt.root, opt.name) >= (int)sizeof(a.sun_path))
        die("socket path too long");
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0)
        die("connect %s: %s", a.sun_path, strerror(errno));
    wd_msg m = {.magic = WD_MSG_MAGIC, .type = WD_MSG_INJECT_ERROR, .a = n};
    if (send(s, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m) || recv(s, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
        die("inject-error: %s", strerror(errno));
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_SVA = 256, O_NOSVA, O_INST, O_ALG, O_ISO, O_NUMA, O_LAT, O_INJ };
    static const struct option longopts[] = {
        {"root", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"sva", no_argument, NULL, O_SVA},
        {"no-sva", no_argument, NULL, O_NOSVA},
        {"instances", required_argument, NULL, O_INST},
        {"algorithms", required_argument, NULL, O_ALG},
        {"isolate-threshold", required_argument, NULL, O_ISO},
        {"numa-node", required_argument, NULL, O_NUMA},
        {"latency-us", required_argument, NULL, O_LAT},
        {"inject-error", optional_argument, NULL, O_INJ},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0, 0, 0, 0},
    };
    const char *algorithms = "zlib,crc32c,sha256";
    int inject_count = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "r:n:hV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r': snprintf(opt.root, sizeof(opt.root), "%s", optarg); break;
        case 'n': snprintf(opt.name, sizeof(opt.name), "%s", optarg); break;
        case O_SVA: opt.sva = true; break;
        case O_NOSVA: opt.sva = false; break;
        case O_INST: opt.instances = parse_uint(optarg, "instances"); break;
        case O_ALG: algorithms = optarg; break;
        case O_ISO: opt.isolate_threshold = parse_uint(optarg, "isolate-threshold"); break;
        case O_NUMA: opt.numa_node = optarg[0] == '-' ? -1 : (int)parse_uint(optarg, "numa-node"); break;
        case O_LAT: opt.latency_us = parse_uint(optarg, "latency-us"); break;
        case O_INJ: inject_count = optarg ? (int)parse_uint(optarg, "inject-error") : 1; break;
        case 'h': help(); break;
        case 'V': printf("accel-uacce-emulator %s\n", ACCEL_UACCE_EMULATOR_VERSION); return 0;
        default: usage();
        }
    }
    if (!opt.root[0] || !opt.name[0] || optind != argc || strchr(opt.name, '/') || opt.name[0] == '.')
        usage();
    if (inject_count >= 0)
        return inject((unsigned)inject_count);
    /* The algorithms attribute is newline separated, like the kernel's. */
    snprintf(opt.algorithms, sizeof(opt.algorithms), "%s", algorithms);
    for (char *p = opt.algorithms; *p; p++)
        if (*p == ',')
            *p = '\n';
    emu_crc32c_init();
    emu_memory_init(opt.sva);
    g_free = opt.instances;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit the mask */
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sfd < 0)
        die("signalfd: %s", strerror(errno));

    create_tree();
    int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(dev_path) >= sizeof(addr.sun_path))
        die("device node path too long for a UNIX socket: %s", dev_path);
    /* Bound under a temporary name and renamed once it listens: whoever
     * waits for the node to appear can connect at once (a socket bound but
     * not yet listening refuses connections). */
    bool staged = strlen(dev_path) + 4 < sizeof(addr.sun_path);
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s%s", dev_path, staged ? ".new" : "");
    unlink(addr.sun_path);
    unlink(dev_path); /* left behind by an emulator that was killed */
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(ls, 64) != 0 ||
        (staged && rename(addr.sun_path, dev_path) != 0)) {
        int e = errno;
        if (staged)
            unlink(addr.sun_path);
        remove_tree();
        die("listen on %s: %s", dev_path, strerror(e));
    }
    fprintf(stderr, "accel-uacce-emulator: %s ready (%s, %u instances, pid %d)\n", opt.name,
            opt.sva ? "SVA" : "no SVA", opt.instances, (int)getpid());

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t beat;
    if (pthread_create(&beat, &attr, heartbeat_main, NULL) != 0) {
        remove_tree();
        die("cannot start the heartbeat thread");
    }
    for (;;) {
        struct pollfd p[2] = {{ls, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
            if (s < 0)
                continue;
            conn *c = calloc(1, sizeof(*c));
            uint8_t *scratch = malloc(EMU_SCRATCH);
            pthread_t t;
            if (!c || !scratch) {
                free(c);
                free(scratch);
                close(s);
                continue;
            }
            c->sock = s;
            c->space.mem_fd = -1;
            c->scratch = scratch;
            if (pthread_create(&t, &attr, conn_main, c) != 0) {
                close(s);
                free(scratch);
                free(c);
            }
        }
    }
    close(ls);
    remove_tree();
    return 0;
}
