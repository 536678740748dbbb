/* uacce_emulator.c — accel-uacce-emulator: a WarpDrive (uacce) device in a
 * process of its own, for machines without uacce hardware.
 *
 *   accel-uacce-emulator --root DIR --name NAME [--sva|--no-sva] [--instances N]
 *                        [--algorithms a,b] [--isolate-threshold N] [--numa-node N]
 *                        [--latency-us N]
 *   accel-uacce-emulator --root DIR --name NAME --inject-error [N]
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
 * short ppoll() steps on the connection. Requests run in order: crc32c and
 * sha256 (emu_hash.c), zlib.deflate (zlib at the descriptor's level, or
 * stored blocks written here: level 0, and data zlib would make longer than
 * them) / zlib.inflate (zlib), copy and fill, and the stream forms over
 * their documented states (icd-examples/common: crc32c.stream here,
 * sha256.stream, zlib.deflate.stream and zlib.inflate.stream there). A heartbeat thread advances
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
#include "wd_proto.h"

#include "accel_deflate_stream.h"
#include "accel_inflate_stream.h"
#include "accel_sha256_stream.h"

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
#include <zlib.h>

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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
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
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*nfds < 2)
                    fds[(*nfds)++] = fd;
                else
                    close(fd);
            }
        }
    }
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
    wd_msg m = {.magic = WD_MSG_MAGIC, .type = type, .status = status, .a = a, .b = b};
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {&m, sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    while (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
        ;
}

/* ---- one connection = one open file ------------------------------------------- */

typedef struct conn {
    int sock;
    emu_space space; /* the peer: its pid (SVA address space) and /proc/<pid>/mem */
    bool started;
    uint8_t *mmio;
    uint8_t *dus;
    int32_t error; /* the first failure: later requests fail with it */
    uint8_t *scratch; /* EMU_SCRATCH bytes: fill patterns, crc32c input */
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

/* The most bytes a request may make the emulator copy into memory of its
 * own (a source or destination it cannot reach in place): a descriptor's
 * length is the client's word, and the device's working memory is not. */
#define EMU_LOCAL_MAX (1ull << 32)
#define EMU_LOCAL_MAP (1ull << 20) /* from this size, mapped: pages only as they are written */

/* Working memory of len bytes (never NULL for 0), NULL beyond
 * EMU_LOCAL_MAX or when there is none. A large buffer is an anonymous
 * mapping without reserve, so a hostile length costs address space, not
 * memory, until the bytes actually arrive. Free with work_free(p, len). */
static void *work_alloc(uint64_t len)
{
    if (len > EMU_LOCAL_MAX || len > SIZE_MAX / 2)
        return NULL;
    if (len < EMU_LOCAL_MAP)
        return malloc(len ? (size_t)len : 1);
    void *p =
        mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void work_free(void *p, uint64_t len)
{
    if (p && len >= EMU_LOCAL_MAP)
        munmap(p, (size_t)len);
    else
        free(p);
}

/* Read a whole range into new working memory (never NULL on success;
 * work_free(*out, len)). */
static int fetch(conn *c, uint64_t addr, uint64_t len, uint8_t **out)
{
    uint8_t *b = work_alloc(len);
    if (!b)
        return WD_ST_NOMEM;
    int st = emu_read(&c->space, addr, b, len);
    if (st) {
        work_free(b, len);
        return st;
    }
    *out = b;
    return WD_ST_OK;
}

/* The source bytes of a request: in place when one mapping holds them all
 * (emu_memory.c), else a copy read from the client. */
typedef struct src_bytes {
    const uint8_t *p;
    emu_map *hold;
    uint8_t *copy;
    uint64_t copy_len;
} src_bytes;

static int src_get(conn *c, uint64_t addr, uint64_t len, src_bytes *s)
{
    *s = (src_bytes){0};
    s->p = emu_direct(&c->space, addr, len, &s->hold);
    if (s->p)
        return WD_ST_OK;
    int st = fetch(c, addr, len, &s->copy);
    s->p = s->copy;
    s->copy_len = len;
    return st;
}

static void src_put(src_bytes *s)
{
    emu_release(s->hold);
    work_free(s->copy, s->copy_len);
    *s = (src_bytes){0};
}

/* Whether two device ranges share a byte (addresses may be anything). */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    if (!alen || !blen)
        return false;
    return a >= b ? a - b < blen : b - a < alen;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define EMU_SCRATCH 65536u /* conn.scratch */

/* In place when the source is mapped; otherwise it goes through the
 * connection's scratch buffer in pieces (no allocation, and each piece is
 * still in the cache when it is summed). */
static int op_crc32c(conn *c, const wd_desc *d, uint64_t *produced)
{
    if (d->len[1] < 4)
        return WD_ST_INVALID;
    uint32_t crc = 0xffffffffu;
    emu_map *hold;
    const uint8_t *p = emu_direct(&c->space, d->addr[0], d->len[0], &hold);
    if (p) {
        crc = emu_crc32c_update(crc, p, (size_t)d->len[0]);
        emu_release(hold);
    } else {
        for (uint64_t done = 0; done < d->len[0];) {
            uint64_t n = d->len[0] - done < EMU_SCRATCH ? d->len[0] - done : EMU_SCRATCH;
            int st = emu_read(&c->space, d->addr[0] + done, c->scratch, n);
            if (st)
                return st;
            crc = emu_crc32c_update(crc, c->scratch, (size_t)n);
            done += n;
        }
    }
    crc = ~crc;
    if (d->flags & WD_DESC_RESULT_IN_CQE) {
        *produced = crc; /* the host stores it */
        return WD_ST_OK;
    }
    uint8_t out[4];
    put_le(out, crc, 4);
    return emu_write(&c->space, d->addr[1], out, 4);
}

static int op_sha256(conn *c, const wd_desc *d)
{
    if (d->len[1] < 32)
        return WD_ST_INVALID;
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (st)
        return st;
    emu_sha256 s;
    emu_sha256_init(&s);
    emu_sha256_update(&s, src.p, (size_t)d->len[0]);
    src_put(&src);
    uint8_t out[32];
    emu_sha256_final(&s, out);
    return emu_write(&c->space, d->addr[1], out, 32);
}

/* crc32c.stream: the finished CRC in state (buf1) goes on over src. */
static int op_crc32c_stream(conn *c, const wd_desc *d)
{
    if (d->len[1] < 4)
        return WD_ST_INVALID;
    uint8_t st[4];
    int rc = emu_read(&c->space, d->addr[1], st, 4);
    if (rc)
        return rc;
    src_bytes src;
    if ((rc = src_get(c, d->addr[0], d->len[0], &src)))
        return rc;
    uint32_t crc = (uint32_t)st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 | (uint32_t)st[3] << 24;
    crc = ~emu_crc32c_update(~crc, src.p, (size_t)d->len[0]);
    src_put(&src);
    put_le(st, crc, 4);
    return emu_write(&c->space, d->addr[1], st, 4);
}

/* sha256.stream: the documented 112-byte state (accel_sha256_stream.c,
 * which the emulator compiles in); a state it did not write is invalid,
 * and then nothing is written. */
static int op_sha256_stream(conn *c, const wd_desc *d)
{
    bool final = d->imm != 0;
    if (d->len[1] < ACCEL_SHA256_STREAM_STATE_SIZE || (d->len[2] && d->len[2] < 32) || (final && d->len[2] < 32))
        return WD_ST_INVALID;
    uint8_t st[ACCEL_SHA256_STREAM_STATE_SIZE], digest[32];
    int rc = emu_read(&c->space, d->addr[1], st, sizeof(st));
    if (rc)
        return rc;
    src_bytes src;
    if ((rc = src_get(c, d->addr[0], d->len[0], &src)))
        return rc;
    bool ok = accel_sha256_stream(st, src.p, d->len[0], final, digest);
    src_put(&src);
    if (!ok)
        return WD_ST_INVALID;
    if ((rc = emu_write(&c->space, d->addr[1], st, sizeof(st))))
        return rc;
    return final ? emu_write(&c->space, d->addr[2], digest, 32) : WD_ST_OK;
}

/* zlib.deflate.stream: the piece into dst (buf1), the documented state
 * (buf2) read and written back (accel_deflate_stream.c, compiled in); a dst
 * too small or a bad state leaves the state as it was. */
static int op_deflate_stream(conn *c, const wd_desc *d, uint64_t *produced)
{
    uint32_t level = d->imm & 0xffu;
    bool final = (d->imm & WD_IMM_FINAL) != 0;
    if (d->len[2] < ACCEL_DEFLATE_STREAM_STATE_SIZE || level > WD_DEFLATE_LEVEL_MAX || (d->imm & ~0x1ffu))
        return WD_ST_INVALID;
    uint64_t bound = accel_deflate_stream_bound(d->len[0]);
    uint64_t cap = d->len[1] < bound ? d->len[1] : bound;
    uint8_t *st = malloc(ACCEL_DEFLATE_STREAM_STATE_SIZE), *out = work_alloc(cap);
    int rc = st && out ? emu_read(&c->space, d->addr[2], st, ACCEL_DEFLATE_STREAM_STATE_SIZE) : WD_ST_NOMEM;
    src_bytes src = {0};
    if (!rc)
        rc = src_get(c, d->addr[0], d->len[0], &src);
    if (!rc) {
        accel_deflate_stream_result r =
            accel_deflate_stream(st, src.p, d->len[0], out, cap, (int)level, final, produced);
        src_put(&src);
        rc = r == ACCEL_DEFLATE_STREAM_OK ? WD_ST_OK : r == ACCEL_DEFLATE_STREAM_NO_MEMORY ? WD_ST_NOMEM : WD_ST_INVALID;
    }
    if (!rc)
        rc = emu_write(&c->space, d->addr[1], out, *produced);
    if (!rc)
        rc = emu_write(&c->space, d->addr[2], st, ACCEL_DEFLATE_STREAM_STATE_SIZE);
    free(st);
    work_free(out, cap);
    return rc;
}

/* What a request returns in its completion entry besides the status. */
typedef struct op_result {
    uint64_t produced, consumed;
    uint32_t info;
} op_result;

/* zlib.inflate.stream: the portable inflater (accel_inflate_stream.c,
 * compiled in) over src (buf0), dst (buf1) and the documented state
 * (buf2), as the cpu driver runs it: one call over the whole of src and
 * dst, so that the progress and the state are the same bytes on both.
 * Everything in the descriptor is checked before a buffer is touched. The
 * state is parsed from a copy of its own (the client's bytes may change
 * under a running request) and written back only when the call succeeded;
 * dst is written in place when it is mapped and does not overlap src (a
 * corrupt stream may then leave partial output there, as on the cpu),
 * otherwise only the bytes produced are written back. The progress goes to
 * the completion entry (wd_proto.h). */
static int op_inflate_stream(conn *c, const wd_desc *d, op_result *res)
{
    if (d->flags || d->imm) {
        res->info = WD_INFO(3, WD_WHY_RESERVED);
        return WD_ST_INVALID;
    }
    if (d->len[2] < ACCEL_INFLATE_STREAM_STATE_SIZE) {
        res->info = WD_INFO(2, WD_WHY_SIZE);
        return WD_ST_INVALID;
    }
    if (overlap(d->addr[2], d->len[2], d->addr[0], d->len[0]) ||
        overlap(d->addr[2], d->len[2], d->addr[1], d->len[1])) {
        res->info = WD_INFO(2, WD_WHY_OVERLAP);
        return WD_ST_INVALID;
    }
    emu_map *shold = NULL, *dhold = NULL;
    uint8_t *scopy = NULL, *local = NULL, *st = NULL;
    const uint8_t *src = emu_direct(&c->space, d->addr[0], d->len[0], &shold);
    uint8_t *dst = NULL;
    if (!overlap(d->addr[0], d->len[0], d->addr[1], d->len[1]))
        dst = emu_direct(&c->space, d->addr[1], d->len[1], &dhold);
    int rc = WD_ST_OK;
    if ((!src && d->len[0] > EMU_LOCAL_MAX) || (!dst && d->len[1] > EMU_LOCAL_MAX))
        rc = WD_ST_NOMEM;
    if (!rc && !(st = malloc(ACCEL_INFLATE_STREAM_STATE_SIZE)))
        rc = WD_ST_NOMEM;
    if (!rc && !dst && !(dst = local = work_alloc(d->len[1])))
        rc = WD_ST_NOMEM;
    if (!rc)
        rc = emu_read(&c->space, d->addr[2], st, ACCEL_INFLATE_STREAM_STATE_SIZE);
    if (!rc && !src && !(rc = fetch(c, d->addr[0], d->len[0], &scopy)))
        src = scopy;
    if (!rc) {
        uint64_t used = 0, wrote = 0;
        accel_inflate_status s = accel_inflate_stream(st, src, d->len[0], dst, d->len[1], &used, &wrote);
        if (s == ACCEL_INFLATE_CORRUPT || s == ACCEL_INFLATE_BAD_STATE) {
            res->info = WD_INFO(s == ACCEL_INFLATE_CORRUPT ? 0 : 2, WD_WHY_CONTENT);
            rc = WD_ST_INVALID;
        } else if (used > d->len[0] || wrote > d->len[1] || (unsigned)s > WD_STREAM_DST_FULL) {
            rc = WD_ST_HW_ERROR; /* the inflater's contract broken: never report it as progress */
        } else {
            res->consumed = used;
            res->produced = wrote;
            res->info = (uint32_t)s;
        }
    }
    emu_release(shold);
    work_free(scopy, d->len[0]);
    if (!rc && local)
        rc = emu_write(&c->space, d->addr[1], local, res->produced);
    emu_release(dhold);
    work_free(local, d->len[1]);
    if (!rc)
        rc = emu_write(&c->space, d->addr[2], st, ACCEL_INFLATE_STREAM_STATE_SIZE);
    free(st);
    if (rc && rc != WD_ST_INVALID)
        res->info = 0;
    if (rc)
        res->consumed = res->produced = 0;
    return rc;
}

/* The size of a zlib stream of stored blocks of n bytes: header, 5 bytes
 * per block of at most 65535 (one empty block for no input), Adler-32.
 * Within the documented bound n + 5 * ceil(n / 65535) + 11. */
static uint64_t stored_size(uint64_t n)
{
    uint64_t blocks = n ? (n + 65534) / 65535 : 1;
    return n + 5 * blocks + 6;
}

/* Write n bytes as a zlib stream of stored blocks (stored_size(n) bytes at
 * dst, which does not overlap src): level 0, and the way out for data that
 * the compressor would make longer. */
static void write_stored(const uint8_t *src, uint64_t n, uint8_t *dst)
{
    uint8_t *p = dst;
    *p++ = 0x78; /* deflate, 32 KiB window */
    *p++ = 0x01; /* FLEVEL 0, no dictionary; 0x7801 is a multiple of 31 */
    uint64_t done = 0;
    do {
        uint32_t k = n - done < 65535 ? (uint32_t)(n - done) : 65535u;
        *p++ = done + k == n; /* BFINAL on the last block, BTYPE 00 (stored) */
        put_le(p, k, 2);
        put_le(p + 2, ~k & 0xffffu, 2);
        p += 4;
        memcpy(p, src + done, k);
        p += k;
        done += k;
    } while (done < n);
    uint32_t adler = (uint32_t)adler32_z(1, src, (size_t)n);
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(adler >> (24 - 8 * i)); /* big endian (RFC 1950) */
}

/* Compress src at `level` into dst (cap bytes), the length in *out.
 * zlib at levels 1..9 makes data that does not compress longer than a
 * stream of stored blocks (its stored blocks are cut at its own buffer
 * sizes, 5 bytes each); it only gets that much room, and when it does not
 * finish in it the stream is written as stored blocks instead, so a
 * destination of the documented bound always suffices. */
static int deflate_to(const uint8_t *src, uint64_t n, uint8_t *dst, uint64_t cap, unsigned level, uint64_t *out)
{
    uint64_t stored = stored_size(n);
    if (level > WD_DEFLATE_LEVEL_MAX)
        return WD_ST_INVALID;
    if (level > 0) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        if (deflateInit(&z, (int)level) != Z_OK)
            return WD_ST_NOMEM;
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = (uInt)n;
        z.next_out = dst;
        z.avail_out = (uInt)(cap < stored ? cap : stored);
        int zr = deflate(&z, Z_FINISH);
        uint64_t produced = z.total_out;
        deflateEnd(&z);
        if (zr == Z_STREAM_END) {
            *out = produced;
            return WD_ST_OK;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return zr == Z_MEM_ERROR ? WD_ST_NOMEM : WD_ST_HW_ERROR;
        /* out of room: stored blocks, if they fit */
    }
    if (cap < stored)
        return WD_ST_INVALID;
    write_stored(src, n, dst);
    *out = stored;
    return WD_ST_OK;
}

/* Decompress exactly one zlib stream from src into dst (cap bytes). */
static int inflate_to(const uint8_t *src, uint64_t n, uint8_t *dst, uint64_t cap, uint64_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    int zr = inflateInit(&z);
    if (zr != Z_OK)
        return WD_ST_NOMEM;
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    zr = inflate(&z, Z_FINISH);
    int st;
    if (zr == Z_STREAM_END)
        st = z.avail_in ? WD_ST_INVALID : WD_ST_OK; /* bytes after the stream */
    else
        st = zr == Z_MEM_ERROR ? WD_ST_NOMEM : WD_ST_INVALID; /* corrupt, truncated or dst too small */
    *out = z.total_out;
    inflateEnd(&z);
    return st;
}

/* deflate / inflate over the whole source in one request. The destination
 * is written in place when it is mapped and does not overlap the source;
 * otherwise the whole range is working space here and only the produced
 * bytes are written back. */
static int op_zlib(conn *c, const wd_desc *d, bool compress, uint64_t *produced)
{
    if (d->len[2] < 8)
        return WD_ST_INVALID;
    if (compress && d->imm > WD_DEFLATE_LEVEL_MAX)
        return WD_ST_INVALID; /* before anything is touched */
    if (d->len[0] > UINT_MAX || d->len[1] > UINT_MAX)
        return WD_ST_NOMEM; /* one zlib call per request: 4 GiB at most */
    emu_map *dhold = NULL;
    uint8_t *dst = NULL, *local = NULL;
    if (!overlap(d->addr[0], d->len[0], d->addr[1], d->len[1]))
        dst = emu_direct(&c->space, d->addr[1], d->len[1], &dhold);
    if (!dst && !(dst = local = work_alloc(d->len[1])))
        return WD_ST_NOMEM;
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (st) {
        emu_release(dhold);
        work_free(local, d->len[1]);
        return st;
    }
    uint64_t n = 0;
    if (compress)
        st = deflate_to(src.p, d->len[0], dst, d->len[1], d->imm, &n);
    else
        st = inflate_to(src.p, d->len[0], dst, d->len[1], &n);
    src_put(&src);
    emu_release(dhold);
    if (st == WD_ST_OK && local)
        st = emu_write(&c->space, d->addr[1], local, n);
    work_free(local, d->len[1]);
    if (st == WD_ST_OK) {
        uint8_t out[8];
        put_le(out, n, 8);
        st = emu_write(&c->space, d->addr[2], out, 8);
        *produced = n;
    }
    return st;
}

static int op_copy(conn *c, const wd_desc *d)
{
    if (d->len[1] < d->len[0])
        return WD_ST_INVALID;
    emu_map *dhold;
    uint8_t *dst = emu_direct(&c->space, d->addr[1], d->len[0], &dhold);
    src_bytes src;
    int st = src_get(c, d->addr[0], d->len[0], &src);
    if (!st && dst)
        memmove(dst, src.p, (size_t)d->len[0]); /* the two may overlap */
    else if (!st)
        st = emu_write(&c->space, d->addr[1], src.p, d->len[0]);
    src_put(&src);
    emu_release(dhold);
    return st;
}

/* The fill pattern: imm's bytes, little endian, over and over. */
static void pattern(uint8_t *p, uint64_t n, uint32_t imm)
{
    uint64_t first = n < 4096 ? n : 4096; /* a multiple of 4, then copies of it */
    for (uint64_t i = 0; i < first; i++)
        p[i] = (uint8_t)(imm >> (8 * (i & 3)));
    for (uint64_t done = first; done < n;) {
        uint64_t k = n - done < done ? n - done : done;
        memcpy(p + done, p, (size_t)k);
        done += k;
    }
}

static int op_fill(conn *c, const wd_desc *d)
{
    emu_map *hold;
    uint8_t *dst = emu_direct(&c->space, d->addr[0], d->len[0], &hold);
    if (dst) {
        pattern(dst, d->len[0], d->imm);
        emu_release(hold);
        return WD_ST_OK;
    }
    pattern(c->scratch, EMU_SCRATCH, d->imm);
    for (uint64_t done = 0; done < d->len[0];) {
        uint64_t n = d->len[0] - done < EMU_SCRATCH ? d->len[0] - done : EMU_SCRATCH;
        int st = emu_write(&c->space, d->addr[0] + done, c->scratch, n);
        if (st)
            return st;
        done += n;
    }
    return WD_ST_OK;
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
        relax();
    }
    wd_desc desc = *d; /* the client may not change it under us */
    if (opt.latency_us)
        usleep(opt.latency_us);
    uint64_t produced = 0;
    op_result res = {0};
    int st;
    if (g_isolated)
        st = WD_ST_ISOLATED;
    else if (c->error)
        st = c->error;
    else {
        switch (desc.op) {
        case WD_OP_NOOP: st = WD_ST_OK; break;
        case WD_OP_CRC32C: st = op_crc32c(c, &desc, &produced); break;
        case WD_OP_SHA256: st = op_sha256(c, &desc); break;
        case WD_OP_DEFLATE: st = op_zlib(c, &desc, true, &produced); break;
        case WD_OP_INFLATE: st = op_zlib(c, &desc, false, &produced); break;
        case WD_OP_COPY: st = op_copy(c, &desc); break;
        case WD_OP_FILL: st = op_fill(c, &desc); break;
        case WD_OP_CRC32C_STREAM: st = op_crc32c_stream(c, &desc); break;
        case WD_OP_SHA256_STREAM: st = op_sha256_stream(c, &desc); break;
        case WD_OP_DEFLATE_STREAM: st = op_deflate_stream(c, &desc, &produced); break;
        case WD_OP_INFLATE_STREAM:
            st = op_inflate_stream(c, &desc, &res);
            produced = res.produced;
            break;
        default: st = WD_ST_BAD_OP; break;
        }
        if (st)
            c->error = st;
    }
    e->status = st;
    e->produced = produced;
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

/* The queue's life after START_Q: poll the doorbell until PUT_Q or hang-up. */
static void run_queue(conn *c)
{
    _Atomic uint32_t *doorbell = (_Atomic uint32_t *)c->mmio;
    uint32_t head = 0;
    uint64_t last = now_ns();
    unsigned spins = 0;
    for (;;) {
        uint32_t db = atomic_load_explicit(doorbell, memory_order_acquire);
        if (db != head) {
            while (head != db) {
                execute(c, head);
                head++;
            }
            last = now_ns();
            continue;
        }
        bool nap = false;
        if (++spins & 1023) {
            relax();
            continue;
        }
        if (now_ns() - last > EMU_SPIN_NS)
            nap = true;
        struct pollfd p = {c->sock, POLLIN, 0};
        struct timespec ts = {0, nap ? EMU_NAP_NS : 0};
        if (ppoll(&p, 1, &ts, NULL) > 0) {
            wd_msg m;
            int fds[2], nfds;
            int r = recv_msg(c->sock, &m, fds, &nfds);
            if (r <= 0)
                return; /* hang-up: the client closed the file */
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

static void usage(void)
{
    fprintf(stderr,
            "usage: accel-uacce-emulator --root DIR --name NAME [--sva|--no-sva] [--instances N]\n"
            "                            [--algorithms a,b] [--isolate-threshold N] [--numa-node N]\n"
            "                            [--latency-us N]\n"
            "       accel-uacce-emulator --root DIR --name NAME --inject-error [N]\n");
    exit(2);
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
        {"root", required_argument, NULL, 'r'},     {"name", required_argument, NULL, 'n'},
        {"sva", no_argument, NULL, O_SVA},          {"no-sva", no_argument, NULL, O_NOSVA},
        {"instances", required_argument, NULL, O_INST}, {"algorithms", required_argument, NULL, O_ALG},
        {"isolate-threshold", required_argument, NULL, O_ISO}, {"numa-node", required_argument, NULL, O_NUMA},
        {"latency-us", required_argument, NULL, O_LAT}, {"inject-error", optional_argument, NULL, O_INJ},
        {"help", no_argument, NULL, 'h'},           {0, 0, 0, 0},
    };
    const char *algorithms = "zlib,crc32c,sha256";
    int inject_count = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "r:n:h", longopts, NULL)) != -1) {
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
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", dev_path);
    unlink(dev_path); /* left behind by an emulator that was killed */
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(ls, 64) != 0) {
        int e = errno;
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
