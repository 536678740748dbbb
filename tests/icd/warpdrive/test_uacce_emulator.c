/* test_uacce_emulator.c — the uacce emulator as a device, through its queue
 * format alone (wd_proto.h), the way hardware would be driven: START_Q, the
 * two regions mapped, descriptors written to the ring, the doorbell rung,
 * completion entries read. No driver in between, so nothing checks the
 * descriptors for the device: this is its side of a boundary that must not
 * trust the client.
 *
 *   - WD_OP_INFLATE_STREAM in chunks, on host memory (read through the
 *     client's address space) and on memfd memory described to the
 *     translation cache (used in place): the progress in the completion
 *     entry and the state the device writes are, call by call, the bytes
 *     the portable inflater gives here (accel_inflate_stream.c), and the
 *     output is the input;
 *   - hostile descriptors: too small a state, reserved bits, the state
 *     overlapping src or dst, dst overlapping src, unreachable and
 *     wrapping addresses, lengths far beyond any buffer, a corrupt stream,
 *     a state no device wrote, an unknown op: each refused with its status and cqe.info, nothing
 *     written outside what the call may write, the queue broken afterwards
 *     and the device still serving new queues;
 *   - random descriptors of every op over a guarded arena and unreachable
 *     addresses: every one completes with a known status and no byte
 *     outside the arena changes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "accel_inflate_stream.h"
#include "wd_proto.h"

#define STATE_SIZE ACCEL_INFLATE_STREAM_STATE_SIZE
#define EMU_NAME   "wd_raw-0"

static char ROOT[64], SOCK[sizeof(((struct sockaddr_un *)0)->sun_path)];
static pid_t EMU_PID;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int group_setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    if (snprintf(ROOT, sizeof(ROOT), "%s/wd-raw-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(ROOT))
        snprintf(ROOT, sizeof(ROOT), "/tmp/wd-raw-XXXXXX"); /* a socket path must stay short */
    if (!mkdtemp(ROOT))
        return -1;
    snprintf(SOCK, sizeof(SOCK), "%s/dev/%s", ROOT, EMU_NAME);
    EMU_PID = fork();
    if (EMU_PID < 0)
        return -1;
    if (EMU_PID == 0) {
        execl(EMULATOR_PATH, EMULATOR_PATH, "--root", ROOT, "--name", EMU_NAME, "--sva", "--instances", "4",
              (char *)NULL);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(SOCK, &st) == 0 && S_ISSOCK(st.st_mode))
            return 0;
        usleep(10000);
    }
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    int status = -1;
    if (EMU_PID > 0) {
        kill(EMU_PID, SIGTERM); /* it removes its tree, and exits 0 */
        waitpid(EMU_PID, &status, 0);
    }
    /* What is left is the root itself: an emulator that did not clean up fails the group. */
    return status == 0 && rmdir(ROOT) == 0 ? 0 : -1;
}

/* ---- the device, by hand ------------------------------------------------------ */

typedef struct raw_queue {
    int sock;
    uint8_t *mmio, *dus;
    _Atomic uint32_t *doorbell;
    wd_desc *desc;
    wd_cqe *cqe;
    uint32_t next;
} raw_queue;

static int dev_connect(void)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path, SOCK, sizeof(a.sun_path));
    assert_true(s >= 0);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    return s;
}

/* One message with an optional fd; the reply's status, its fds into fds. */
static int request(int s, wd_msg *m, int fd, int *fds, int max_fds)
{
    m->magic = WD_MSG_MAGIC;
    uint32_t type = m->type;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = u.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    assert_int_equal(sendmsg(s, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(*m));
    memset(&u, 0, sizeof(u));
    mh = (struct msghdr){
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    assert_int_equal(recvmsg(s, &mh, MSG_CMSG_CLOEXEC), (ssize_t)sizeof(*m));
    assert_int_equal(m->type, type);
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        for (size_t i = 0; c->cmsg_type == SCM_RIGHTS && i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
            if (got < max_fds)
                memcpy(&fds[got++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    return m->status;
}

/* A started queue: the client's /proc/self/mem goes along, as the driver
 * sends it, so the device reaches this process's memory whatever the
 * ptrace rules. */
static void queue_open(raw_queue *q)
{
    memset(q, 0, sizeof(*q));
    q->sock = dev_connect();
    int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    int fds[2] = {-1, -1};
    wd_msg m = {.type = WD_MSG_START_Q};
    assert_int_equal(request(q->sock, &m, mem, fds, 2), 0);
    close(mem);
    assert_int_equal(m.b, WD_DUS_SIZE);
    q->mmio = mmap(NULL, (size_t)m.a, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
    q->dus = mmap(NULL, (size_t)m.b, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
    assert_true(q->mmio != MAP_FAILED && q->dus != MAP_FAILED);
    close(fds[0]);
    close(fds[1]);
    const wd_dus_header *h = (const wd_dus_header *)q->dus;
    assert_int_equal(h->magic, WD_DUS_MAGIC);
    assert_int_equal(h->ring_entries, WD_RING_ENTRIES);
    assert_int_equal(h->cqe_offset + WD_RING_ENTRIES * sizeof(wd_cqe), WD_DUS_SIZE);
    q->doorbell = (_Atomic uint32_t *)q->mmio;
    q->desc = (wd_desc *)(q->dus + h->desc_offset);
    q->cqe = (wd_cqe *)(q->dus + h->cqe_offset);
}

static void queue_close(raw_queue *q)
{
    wd_msg m = {.type = WD_MSG_PUT_Q};
    assert_int_equal(request(q->sock, &m, -1, NULL, 0), 0);
    munmap(q->mmio, WD_MMIO_SIZE);
    munmap(q->dus, WD_DUS_SIZE);
    close(q->sock);
}

/* Submit one descriptor and wait for its completion (10 s at most: a
 * device that never answers fails the test). */
static wd_cqe submit(raw_queue *q, const wd_desc *d)
{
    uint32_t n = q->next++;
    wd_desc *slot = &q->desc[n % WD_RING_ENTRIES];
    slot->op = d->op;
    slot->flags = d->flags;
    memcpy(slot->addr, d->addr, sizeof(slot->addr));
    memcpy(slot->len, d->len, sizeof(slot->len));
    slot->imm = d->imm;
    atomic_store_explicit(&slot->seq, n + 1, memory_order_release);
    atomic_store_explicit(q->doorbell, n + 1, memory_order_release);
    wd_cqe *e = &q->cqe[n % WD_RING_ENTRIES];
    uint64_t start = now_ns();
    while (atomic_load_explicit(&e->seq, memory_order_acquire) != n + 1) {
        if (now_ns() - start > 10000000000ull)
            fail_msg(
                "descriptor %u (op %u, flags 0x%x, imm 0x%x, buffers %#llx+%llu %#llx+%llu %#llx+%llu) not "
                "completed within 10 s",
                n, d->op, d->flags, d->imm, (unsigned long long)d->addr[0], (unsigned long long)d->len[0],
                (unsigned long long)d->addr[1], (unsigned long long)d->len[1], (unsigned long long)d->addr[2],
                (unsigned long long)d->len[2]);
        usleep(10);
    }
    wd_cqe out;
    memcpy(&out, e, sizeof(out));
    return out;
}

static uint64_t va(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static wd_desc inflate_desc(const void *src, uint64_t slen, void *dst, uint64_t dlen, void *st,
                            uint64_t stlen)
{
    return (wd_desc){
        .op = WD_OP_INFLATE_STREAM, .addr = {va(src), va(dst), va(st)}, .len = {slen, dlen, stlen}};
}

/* A memfd of size bytes mapped here and described to the device's
 * translation cache on the control connection ctl (kept open: entries die
 * with it), so that the device works on it in place. */
static uint8_t *translated(int ctl, size_t size, int *fd_out)
{
    int fd = memfd_create("wd-raw", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    wd_msg m = {.type = WD_MSG_TRANSLATE_ADD, .a = 0, .b = size, .c = va(p)};
    assert_int_equal(request(ctl, &m, fd, NULL, 0), 0);
    assert_true(m.a != 0);
    *fd_out = fd;
    return p;
}

static void fill_text(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    static const char words[] = "stream state window carry block symbol device queue ";
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (x >> 24) < 20 ? (uint8_t)(x >> 8) : (uint8_t)words[(i + (x >> 28)) % (sizeof(words) - 1)];
    }
}

/* ---- zlib.inflate.stream through the ring ---------------------------------------- */

/* The stream in chunks, on the device and here side by side: the same
 * progress and the same state after every call. translate: the buffers
 * are memfds in the translation cache (in place), else host memory. */
static void inflate_chunks(bool translate)
{
    const size_t n = 150000, zcap = n + n / 8 + 64, page = 4096;
    const size_t buf_size = (zcap + n + STATE_SIZE + 3 * page) / page * page;
    int ctl = dev_connect(), fd = -1;
    uint8_t *buf = translate ? translated(ctl, buf_size, &fd) : malloc(buf_size);
    uint8_t *z = buf, *out = buf + zcap, *st = out + n;
    uint8_t *plain = malloc(n), *ref_out = malloc(n), *ref_st = calloc(1, STATE_SIZE);
    fill_text(plain, n, translate);
    uLongf zlen = (uLongf)zcap;
    assert_int_equal(compress2(z, &zlen, plain, (uLong)n, 9), Z_OK);
    memset(st, 0, STATE_SIZE);
    raw_queue q;
    queue_open(&q);
    static const uint64_t chunks[] = {1, 2, 300, 5, 4099, 64, 70001}, rooms[] = {1, 7, 1000, 33000, 250};
    uint64_t in = 0, wrote = 0;
    uint32_t status = 0;
    for (unsigned k = 0; status != WD_STREAM_END; k++) {
        assert_true(k < 200000);
        uint64_t len = chunks[k % 7] < zlen - in ? chunks[k % 7] : zlen - in;
        uint64_t room = rooms[k % 5] < n - wrote ? rooms[k % 5] : n - wrote;
        wd_desc d = inflate_desc(z + in, len, out + wrote, room, st, STATE_SIZE);
        wd_cqe e = submit(&q, &d);
        uint64_t used = 0, made = 0;
        accel_inflate_status s =
            accel_inflate_stream(ref_st, z + in, len, ref_out + wrote, room, &used, &made);
        assert_true(s >= 0);
        if (e.status != WD_ST_OK || e.consumed != used || e.produced != made || e.info != (uint32_t)s ||
            e.reserved != 0)
            fail_msg(
                "call %u (%llu bytes at %llu, room %llu): device status %d, %llu consumed, %llu written, "
                "stream status %u; here %llu, %llu, %d",
                k, (unsigned long long)len, (unsigned long long)in, (unsigned long long)room, e.status,
                (unsigned long long)e.consumed, (unsigned long long)e.produced, e.info,
                (unsigned long long)used, (unsigned long long)made, (int)s);
        if (memcmp(st, ref_st, STATE_SIZE) != 0)
            fail_msg("call %u: the device's state differs from the inflater's", k);
        in += used;
        wrote += made;
        status = e.info;
    }
    assert_int_equal(in, zlen);
    assert_int_equal(wrote, n);
    assert_memory_equal(out, plain, n);
    /* An ended stream consumes nothing and says so again. */
    wd_desc d = inflate_desc(z, zlen, out, n, st, STATE_SIZE);
    wd_cqe e = submit(&q, &d);
    assert_int_equal(e.status, WD_ST_OK);
    assert_int_equal(e.consumed, 0);
    assert_int_equal(e.produced, 0);
    assert_int_equal(e.info, WD_STREAM_END);
    queue_close(&q);
    free(ref_st);
    free(ref_out);
    free(plain);
    if (translate) {
        munmap(buf, buf_size);
        close(fd);
    } else {
        free(buf);
    }
    close(ctl);
}

static void test_inflate_stream_host_memory(void **state)
{
    (void)state;
    inflate_chunks(false);
}

static void test_inflate_stream_translated(void **state)
{
    (void)state;
    inflate_chunks(true);
}

/* ---- hostile descriptors ------------------------------------------------------------ */

#define GUARD 0xa5

static bool all_guard(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != GUARD)
            return false;
    return true;
}

/* Each case on a fresh queue: the status and cqe.info it completes with,
 * the state and dst as they were, nothing after dst written, and the queue
 * broken afterwards (the next descriptor, a no-op, fails with the same
 * status). Addresses outside the buffers are refused before they are
 * touched, or cannot be reached. */
static void test_inflate_stream_hostile(void **state)
{
    (void)state;
    const size_t n = 5000;
    enum { ZCAP = 8192, OUT = 8192, TAIL = 4096, AREA = STATE_SIZE + ZCAP + OUT + TAIL };
    /* The state first: a length reaching up from src or dst never covers it. */
    uint8_t *area = malloc(AREA), *plain = malloc(n);
    uint8_t *st = area, *z = st + STATE_SIZE, *out = z + ZCAP, *tail = out + OUT;
    fill_text(plain, n, 3);
    uLongf zlen = ZCAP;
    assert_int_equal(compress2(z, &zlen, plain, (uLong)n, 6), Z_OK);
    uint8_t *zcopy = malloc(zlen);
    memcpy(zcopy, z, zlen);
    uint8_t *unmapped = (uint8_t *)(uintptr_t)0x1000; /* below vm.mmap_min_addr: never mapped */
    static const uint8_t corrupt[] = {0x78, 0x9c, 0xff, 0xff, 0xff, 0xff}; /* block type 3 */
    const uint64_t huge = 1ull << 62;
    struct {
        const char *what;
        wd_desc d;
        int status;
        uint32_t info;
        int prepare; /* 1: a corrupt stream at z; 2: a state of phase 9 */
    } cases[] = {
        {"a state of 33983 bytes", inflate_desc(z, zlen, out, OUT, st, STATE_SIZE - 1), WD_ST_INVALID,
         WD_INFO(2, WD_WHY_SIZE), 0},
        {"a state of 0 bytes", inflate_desc(z, zlen, out, OUT, st, 0), WD_ST_INVALID, WD_INFO(2, WD_WHY_SIZE),
         0},
        {"flags set", inflate_desc(z, zlen, out, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(3, WD_WHY_RESERVED), 0},
        {"imm set", inflate_desc(z, zlen, out, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(3, WD_WHY_RESERVED), 0},
        {"the state overlapping src", inflate_desc(z - 1, 10, out, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(2, WD_WHY_OVERLAP), 0},
        {"the state overlapping dst", inflate_desc(z, zlen, st + 100, 11, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(2, WD_WHY_OVERLAP), 0},
        {"dst overlapping src", inflate_desc(z, zlen, z + zlen - 1, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(1, WD_WHY_OVERLAP), 0},
        {"a dst of 2^62 bytes reaching over the state", inflate_desc(z, zlen, st - 100, huge, st, STATE_SIZE),
         WD_ST_INVALID, WD_INFO(2, WD_WHY_OVERLAP), 0},
        {"a state at an unmapped address", inflate_desc(z, zlen, out, OUT, unmapped, STATE_SIZE), WD_ST_FAULT,
         0, 0},
        {"a src at an unmapped address", inflate_desc(unmapped, 100, out, OUT, st, STATE_SIZE), WD_ST_FAULT,
         0, 0},
        {"a src that wraps around",
         inflate_desc((void *)(uintptr_t)(UINT64_MAX - 15), 100, out, OUT, st, STATE_SIZE), WD_ST_FAULT, 0,
         0},
        {"a src of 2^62 bytes", inflate_desc(z, huge, unmapped, 100, st, STATE_SIZE), WD_ST_NOMEM, 0, 0},
        {"a dst of 2^62 bytes", inflate_desc(z, zlen, out, huge, st, STATE_SIZE), WD_ST_NOMEM, 0, 0},
        {"a corrupt stream", inflate_desc(z, sizeof(corrupt), out, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(0, WD_WHY_CONTENT), 1},
        {"a state no device wrote", inflate_desc(z, zlen, out, OUT, st, STATE_SIZE), WD_ST_INVALID,
         WD_INFO(2, WD_WHY_CONTENT), 2},
        {"an unknown op", {.op = 200}, WD_ST_BAD_OP, 0, 0},
    };
    cases[2].d.flags = 1;
    cases[3].d.imm = WD_IMM_FINAL;
    uint8_t *st_before = malloc(STATE_SIZE);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(st, 0, STATE_SIZE);
        memcpy(z, zcopy, zlen);
        memset(out, GUARD, OUT + TAIL);
        if (cases[i].prepare == 1)
            memcpy(z, corrupt, sizeof(corrupt));
        if (cases[i].prepare == 2)
            st[0] = 9;
        memcpy(st_before, st, STATE_SIZE);
        raw_queue q;
        queue_open(&q);
        wd_cqe e = submit(&q, &cases[i].d);
        if (e.status != cases[i].status || e.info != cases[i].info)
            fail_msg("%s: status %d, info 0x%x; expected %d, 0x%x", cases[i].what, e.status, e.info,
                     cases[i].status, cases[i].info);
        if (e.consumed || e.produced || e.reserved)
            fail_msg("%s: a failed completion reports progress", cases[i].what);
        if (memcmp(st, st_before, STATE_SIZE) != 0)
            fail_msg("%s: the state was written by a call that failed", cases[i].what);
        /* A corrupt stream may leave partial output in dst (as on the cpu); nothing else writes it. */
        if (cases[i].prepare != 1 && !all_guard(out, OUT))
            fail_msg("%s: dst was written by a call that failed", cases[i].what);
        if (!all_guard(tail, TAIL))
            fail_msg("%s: bytes after dst were written", cases[i].what);
        /* Broken: the next descriptor fails the same way, without running. */
        wd_desc noop = {.op = WD_OP_NOOP};
        e = submit(&q, &noop);
        assert_int_equal(e.status, cases[i].status);
        assert_int_equal(e.info, 0);
        queue_close(&q);
    }
    /* The device still serves: the whole stream in one call on a new queue. */
    memcpy(z, zcopy, zlen);
    memset(st, 0, STATE_SIZE);
    raw_queue q;
    queue_open(&q);
    wd_desc d = inflate_desc(z, zlen, out, OUT, st, STATE_SIZE);
    wd_cqe e = submit(&q, &d);
    assert_int_equal(e.status, WD_ST_OK);
    assert_int_equal(e.consumed, zlen);
    assert_int_equal(e.produced, n);
    assert_int_equal(e.info, WD_STREAM_END);
    assert_memory_equal(out, plain, n);
    assert_true(all_guard(tail, TAIL));
    queue_close(&q);
    free(st_before);
    free(zcopy);
    free(plain);
    free(area);
}

/* ---- random descriptors ------------------------------------------------------------ */

static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

#define ARENA      (256u << 10)
#define GUARD_SIZE 4096u

typedef struct arena {
    uint8_t *base; /* ARENA bytes the descriptors may name, GUARD_SIZE guard bytes on each side */
    uint8_t *block;
    size_t block_size;
    int fd; /* the memfd of a translated arena, or -1 */
} arena;

/* A buffer of the descriptor: inside an arena (its length kept inside,
 * since a length past the end of memory the client owns is the client's
 * own write), or at an address that cannot be reached, with any length. */
static void random_buffer(const arena *ar, uint64_t *addr, uint64_t *len)
{
    static const uint64_t sizes[] = {0,   1,    4,     8,     23,    24,    32,   111,
                                     112, 4096, 32799, 32800, 33983, 33984, 65536};
    uint64_t r = rnd();
    if (r % 8 == 0) {
        static const uint64_t bad[] = {0, 0x1000, UINT64_MAX - 100, 0xffff800000000000ull};
        *addr = bad[(r >> 8) % 4];
        *len = (r >> 16) % 3 == 0 ? 1ull << (rnd() % 64) : sizes[rnd() % 15];
        return;
    }
    const arena *a = &ar[(r >> 8) % 2];
    uint64_t off = rnd() % ARENA;
    uint64_t size = (r >> 16) % 2 ? sizes[rnd() % 15] : rnd() % (ARENA + 1);
    *addr = va(a->base + off);
    *len = size < ARENA - off ? size : ARENA - off;
}

/* Descriptors of every op (and some that are none) with random buffers,
 * flags and immediates, over a host-memory arena and a translated one
 * that hold zlib streams, zeros and noise: each completes, with a known
 * status; a stream inflate that succeeds reports a progress within its
 * buffers; and not a byte around the arenas changes. */
static void test_random_descriptors(void **state)
{
    (void)state;
    int ctl = dev_connect();
    arena ar[2];
    for (int i = 0; i < 2; i++) {
        ar[i].block_size = ARENA + 2 * GUARD_SIZE;
        ar[i].fd = -1;
        if (i == 0) {
            ar[i].block = malloc(ar[i].block_size);
        } else {
            int fd = memfd_create("wd-raw-arena", MFD_CLOEXEC);
            assert_true(fd >= 0);
            assert_int_equal(ftruncate(fd, (off_t)ar[i].block_size), 0);
            ar[i].block = mmap(NULL, ar[i].block_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            assert_true(ar[i].block != MAP_FAILED);
            /* Only the middle is described: the guards are reached, if ever, through the address space. */
            wd_msg m = {
                .type = WD_MSG_TRANSLATE_ADD, .a = GUARD_SIZE, .b = ARENA, .c = va(ar[i].block + GUARD_SIZE)};
            assert_int_equal(request(ctl, &m, fd, NULL, 0), 0);
            ar[i].fd = fd;
        }
        ar[i].base = ar[i].block + GUARD_SIZE;
        memset(ar[i].block, GUARD, GUARD_SIZE);
        memset(ar[i].base + ARENA, GUARD, GUARD_SIZE);
    }
    uint8_t *plain = malloc(60000);
    fill_text(plain, 60000, 9);
    unsigned counts[8] = {0}, runs = 0, inflated = 0;
    raw_queue q;
    queue_open(&q);
    for (unsigned k = 0; k < 2000; k++) {
        if (k % 500 == 0) { /* fresh contents: streams, zeros, noise */
            for (int i = 0; i < 2; i++) {
                uLongf zlen = ARENA / 2;
                assert_int_equal(compress2(ar[i].base, &zlen, plain, 60000, (int)(k / 500 % 10)), Z_OK);
                memset(ar[i].base + ARENA / 2, 0, ARENA / 4);
                for (size_t j = 3 * ARENA / 4; j < ARENA; j++)
                    ar[i].base[j] = (uint8_t)rnd();
            }
        }
        wd_desc d = {0};
        uint64_t r = rnd();
        d.op =
            r % 16 < 12 ? (uint32_t)(r % WD_OP_COUNT) : (r % 4 ? WD_OP_INFLATE_STREAM : (uint32_t)(r >> 32));
        d.flags = (r >> 8) % 8 == 0 ? (uint32_t)(r >> 40) : (r >> 8) % 8 == 1 ? WD_DESC_RESULT_IN_CQE : 0;
        d.imm = (r >> 12) % 4 == 0 ? (uint32_t)(r >> 20)
                                   : (uint32_t)((r >> 20) % 10 | ((r >> 14) % 2 ? WD_IMM_FINAL : 0));
        if (d.op == WD_OP_INFLATE_STREAM && (r >> 24) % 4)
            d.flags = d.imm = 0;
        for (int b = 0; b < 3; b++)
            random_buffer(ar, &d.addr[b], &d.len[b]);
        if (d.op == WD_OP_INFLATE_STREAM && (r >> 28) % 2) { /* a fresh state in the zeros, a stream as src */
            const arena *a = &ar[(r >> 29) % 2];
            d.addr[0] = va(a->base);
            d.len[0] = rnd() % (ARENA / 2);
            if ((r >> 30) % 2) { /* and room that does not overlap it */
                d.addr[1] = va(a->base + 3 * ARENA / 4);
                d.len[1] = rnd() % (ARENA / 4);
            }
            d.addr[2] = va(a->base + ARENA / 2);
            d.len[2] = STATE_SIZE;
            memset(a->base + ARENA / 2, 0, STATE_SIZE);
        }
        wd_cqe e = submit(&q, &d);
        runs++;
        if (e.status < WD_ST_OK || e.status > WD_ST_BAD_OP || e.reserved)
            fail_msg("descriptor %u (op %u): status %d, reserved %u", k, d.op, e.status, e.reserved);
        counts[e.status]++;
        if (e.status == WD_ST_OK && d.op == WD_OP_INFLATE_STREAM) {
            inflated++;
            if (e.consumed > d.len[0] || e.produced > d.len[1] || e.info > WD_STREAM_DST_FULL)
                fail_msg("descriptor %u: progress %llu of %llu consumed, %llu of %llu written, status %u", k,
                         (unsigned long long)e.consumed, (unsigned long long)d.len[0],
                         (unsigned long long)e.produced, (unsigned long long)d.len[1], e.info);
        }
        if (e.status != WD_ST_OK) { /* a broken queue: a new one */
            queue_close(&q);
            queue_open(&q);
        }
        for (int i = 0; i < 2; i++)
            if (!all_guard(ar[i].block, GUARD_SIZE) || !all_guard(ar[i].base + ARENA, GUARD_SIZE))
                fail_msg("descriptor %u (op %u, flags 0x%x, imm 0x%x) wrote outside the arenas", k, d.op,
                         d.flags, d.imm);
    }
    queue_close(&q);
    print_message(
        "%u descriptors: %u ok (%u stream inflates), %u invalid, %u fault, %u no memory, %u bad op\n", runs,
        counts[WD_ST_OK], inflated, counts[WD_ST_INVALID], counts[WD_ST_FAULT], counts[WD_ST_NOMEM],
        counts[WD_ST_BAD_OP]);
    assert_true(counts[WD_ST_OK] > 100 && inflated > 10 && counts[WD_ST_INVALID] > 100 &&
                counts[WD_ST_FAULT] > 10);
    free(plain);
    free(ar[0].block);
    munmap(ar[1].block, ar[1].block_size);
    close(ar[1].fd);
    close(ctl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflate_stream_host_memory),
        cmocka_unit_test(test_inflate_stream_translated),
        cmocka_unit_test(test_inflate_stream_hostile),
        cmocka_unit_test(test_random_descriptors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
