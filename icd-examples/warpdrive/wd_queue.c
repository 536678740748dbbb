/* wd_queue.c — uacce queues and fences.
 *
 * A queue is one open file of the device node, started, with its two
 * regions mapped:
 *   - a real uacce character device: open() + ioctl(UACCE_CMD_START_Q) +
 *     mmap() at page offset 0 (MMIO, the doorbell) and 1 (DUS, the rings);
 *   - the emulator (the node is a UNIX socket): connect() + a START_Q
 *     message; the two regions come back as memfds (SCM_RIGHTS) and are
 *     mapped the same way.
 * Everything above that is the same for both (wd_proto.h): queue_submit
 * fills the next descriptor of the DUS ring, publishes it with a release
 * store of its sequence number and writes the doorbell word — no system
 * call. Completions are found by polling the completion ring. Small
 * results come back in the completion entry and are stored by whoever
 * reaps it, before the fence completes: a crc32c result for host memory
 * (WD_DESC_RESULT_IN_CQE), zlib.deflate.stream's out_size and
 * zlib.inflate.stream's 24-byte progress (arguments a descriptor has no
 * room for).
 *
 * Fences. Every submission gets a fence (reference-counted: the caller's
 * reference and the ring's while in flight). Whoever waits reaps the
 * completion ring in order under the queue's reap lock and stores each
 * result in its fence, so a completed fence never looks at the queue again.
 * fence_status makes no system call: it reaps from shared memory, and
 * consults the kernel only when the device's heartbeat in the DUS header
 * stopped (wd_proto.h). fence_wait spins for WD_WAIT_SPIN_NS, then sleeps in
 * ppoll() steps of at most WD_WAIT_STEP_MAX_NS on the queue's file: for the
 * emulator any event on the socket (hang-up, EOF) means the device is gone;
 * for a real device POLLERR / POLLHUP does. Then every pending fence and
 * every later one of the queue fails with ACCEL_ERROR_DEVICE_LOST, within a
 * few milliseconds.
 *
 * Failures. The first failed submission breaks the queue: every later one
 * fails with the same error without running (the device does the same for
 * descriptors already in its ring). Wait fences of another queue are
 * waited for in queue_submit (the device cannot wait on another ring);
 * those of the same queue are ordered by the ring already.
 */
#include "wd_internal.h"
#include "accel_clock.h"
#include "accel_icd_submit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define WD_WAIT_SPIN_NS     50000ull  /* fence_wait: spin before sleeping */
#define WD_WAIT_STEP_MIN_NS 20000ull  /* first sleep step */
#define WD_WAIT_STEP_MAX_NS 2000000ull /* longest sleep step (device-loss latency bound) */
#define WD_PROGRESS_SIZE    24u       /* inflate.stream's progress: u64 used, u64 written, u32 status, 0 */
#define WD_INFLATE_STATE    33984u    /* inflate.stream's state (docs/standard-functions.md) */

typedef struct wd_fence wd_fence;

typedef struct wd_queue {
    wd_device *dev;
    _Atomic uint32_t refs; /* the creator's (until queue_destroy) + one per fence */
    int fd;                /* the open file (socket for the emulator) */
    uint8_t *mmio;
    uint8_t *dus;
    size_t mmio_size, dus_size;
    _Atomic uint32_t *doorbell;
    wd_desc *desc;
    wd_cqe *cqe;
    uint32_t entries;

    /* Producer (queue_submit is never concurrent for one queue). */
    uint32_t tail;
    _Atomic uint32_t published; /* tail after the in-flight slot was filled */

    /* Reaper. */
    pthread_mutex_t reap_lock;
    uint32_t reaped;              /* under reap_lock */
    _Atomic uint32_t reaped_seen; /* for the producer's space check */
    wd_fence *inflight[WD_RING_ENTRIES];
    uint8_t *result_dst[WD_RING_ENTRIES]; /* a result in the completion entry: where it goes, else NULL */
    uint8_t result_len[WD_RING_ENTRIES];  /* its bytes: 4 (crc32c), 8 (deflate.stream's out_size),
                                             WD_PROGRESS_SIZE (inflate.stream's progress) */
    uint8_t slot_op[WD_RING_ENTRIES];     /* the descriptor's op: what a refusal names */
    uint64_t slot_room[WD_RING_ENTRIES][2]; /* inflate.stream: src and dst sizes, bounds of the progress */

    _Atomic int32_t error; /* first failure (accel_result), 0 if none */
    _Atomic bool lost;

    /* The device's heartbeat (WD_DUS_HEARTBEAT), or NULL. Fence polls
     * remember when they last saw it move; the pair is updated without a
     * lock, and a torn update costs at most one needless liveness check. */
    const _Atomic uint32_t *heartbeat;
    _Atomic uint32_t beat_seen;
    _Atomic uint64_t beat_at; /* accel_now_ns() when beat_seen was read, or of the last liveness check */
} wd_queue;

struct wd_fence {
    _Atomic int32_t result; /* ACCEL_NOT_READY until completed */
    _Atomic uint32_t refs;
    wd_queue *q;
};

static void queue_unref(wd_queue *q)
{
    if (atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&q->reap_lock);
        free(q);
    }
}

static void fence_unref(wd_fence *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) {
        wd_queue *q = f->q;
        free(f);
        queue_unref(q);
    }
}

static accel_result status_to_result(int32_t st)
{
    switch (st) {
    case WD_ST_OK: return ACCEL_SUCCESS;
    case WD_ST_INVALID:
    case WD_ST_FAULT:
    case WD_ST_BAD_OP: return ACCEL_ERROR_INVALID_ARGUMENT;
    case WD_ST_NOMEM: return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    case WD_ST_ISOLATED: return ACCEL_ERROR_DEVICE_LOST;
    default: return ACCEL_ERROR_IO;
    }
}

static void set_error(wd_queue *q, accel_result r)
{
    int32_t expected = 0;
    if (r != ACCEL_SUCCESS)
        atomic_compare_exchange_strong(&q->error, &expected, (int32_t)r);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A WD_ST_INVALID completion that says which buffer is at fault
 * (cqe.info): logged with the function and argument it stands for. */
static void log_refused(const wd_queue *q, uint32_t op, uint32_t info)
{
    static const struct {
        uint32_t op;
        const char *function;
        const char *buf[3];     /* the function's argument behind each descriptor buffer */
        const char *content[3]; /* what WD_WHY_CONTENT means for it */
    } names[] = {
        {WD_OP_INFLATE_STREAM,
         "zlib.inflate.stream",
         {"src", "dst", "state"},
         {"is not a valid zlib stream (corrupt)", NULL, "is not a zlib.inflate.stream state"}},
    };
    int buf = WD_INFO_BUF(info);
    uint32_t why = WD_INFO_WHY(info);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].op != op)
            continue;
        if (why == WD_WHY_RESERVED) {
            WD_LOG(ACCEL_LOG_WARN, "uacce device %s: %s: the device refused the descriptor's reserved fields",
                   q->dev->name, names[i].function);
            return;
        }
        if (buf < 0 || buf > 2)
            return;
        const char *text = why == WD_WHY_SIZE      ? "is too small"
                           : why == WD_WHY_OVERLAP ? "overlaps another argument"
                           : why == WD_WHY_CONTENT && names[i].content[buf] ? names[i].content[buf]
                                                                           : "was refused by the device";
        WD_LOG(ACCEL_LOG_WARN, "uacce device %s: %s: argument %s %s", q->dev->name, names[i].function,
               names[i].buf[buf], text);
        return;
    }
}

/* zlib.inflate.stream's progress from the completion entry into its
 * buffer, once the device's figures make sense for the call: a device
 * that reports more than it was given fails the call instead. */
static accel_result store_progress(wd_queue *q, uint32_t slot, const wd_cqe *e, uint8_t *dst)
{
    uint64_t consumed = e->consumed, produced = e->produced;
    uint32_t status = e->info;
    if (consumed > q->slot_room[slot][0] || produced > q->slot_room[slot][1] || status > WD_STREAM_DST_FULL ||
        (status == WD_STREAM_NEED_INPUT && consumed != q->slot_room[slot][0])) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: zlib.inflate.stream: the device reports %llu of %llu "
               "bytes of src consumed, %llu of %llu written, status %u; the call fails", q->dev->name,
               (unsigned long long)consumed, (unsigned long long)q->slot_room[slot][0],
               (unsigned long long)produced, (unsigned long long)q->slot_room[slot][1], status);
        return ACCEL_ERROR_IO;
    }
    put_le(dst, consumed, 8);
    put_le(dst + 8, produced, 8);
    put_le(dst + 16, status, 4);
    put_le(dst + 20, 0, 4);
    return ACCEL_SUCCESS;
}

/* Move completions from the ring into their fences, in order; with the
 * device lost, every fence still in flight fails. Caller holds reap_lock. */
static void reap_locked(wd_queue *q)
{
    uint32_t published = atomic_load_explicit(&q->published, memory_order_acquire);
    bool lost = atomic_load_explicit(&q->lost, memory_order_acquire);
    while (q->reaped != published) {
        uint32_t slot = q->reaped % q->entries;
        wd_cqe *e = &q->cqe[slot];
        accel_result r;
        if (atomic_load_explicit(&e->seq, memory_order_acquire) == q->reaped + 1) {
            r = status_to_result(e->status);
            uint8_t *dst = q->result_dst[slot];
            if (dst && e->status == WD_ST_OK) {
                if (q->result_len[slot] == WD_PROGRESS_SIZE)
                    r = store_progress(q, slot, e, dst);
                else /* the device's result, stored as it would have */
                    put_le(dst, e->produced, q->result_len[slot]);
            } else if (e->status == WD_ST_INVALID && e->info) {
                log_refused(q, q->slot_op[slot], e->info);
            }
        } else if (lost)
            r = ACCEL_ERROR_DEVICE_LOST;
        else
            break;
        set_error(q, r);
        wd_fence *f = q->inflight[slot];
        q->inflight[slot] = NULL;
        q->result_dst[slot] = NULL;
        atomic_store_explicit(&f->result, (int32_t)r, memory_order_release);
        fence_unref(f); /* the ring's reference; q stays: the caller holds one */
        q->reaped++;
    }
    atomic_store_explicit(&q->reaped_seen, q->reaped, memory_order_release);
}

static void reap(wd_queue *q, bool block)
{
    if (block)
        pthread_mutex_lock(&q->reap_lock);
    else if (pthread_mutex_trylock(&q->reap_lock) != 0)
        return;
    reap_locked(q);
    pthread_mutex_unlock(&q->reap_lock);
}

/* Sleep up to timeout_ns on the queue's file; false when the device is gone. */
static bool device_alive(wd_queue *q, uint64_t timeout_ns)
{
    if (atomic_load_explicit(&q->lost, memory_order_acquire))
        return false;
    if (q->fd < 0)
        return false;
    struct pollfd p = {q->fd, q->dev->emulated ? (POLLIN | POLLRDHUP) : POLLIN, 0};
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    int n = ppoll(&p, 1, &ts, NULL);
    if (n <= 0)
        return true; /* timeout or EINTR */
    /* The emulator never writes to a queue's socket on its own: anything
     * there is a hang-up. A real device signals completions with POLLIN. */
    bool gone = q->dev->emulated ? true : (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
    if (gone) {
        if (!atomic_exchange(&q->lost, true))
            WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: the device is gone (queue file reports %s); pending and "
                   "later work fails with device lost", q->dev->name, q->dev->emulated ? "hang-up" : "an error");
        return false;
    }
    if (!q->dev->emulated && timeout_ns)
        accel_cpu_relax(); /* a completion interrupt: the caller re-reaps */
    return true;
}

/* Whether a fence poll should ask the kernel if the device is gone: only
 * when the device keeps a heartbeat and it has not moved for
 * WD_HEARTBEAT_STALE_NS, and then once per such period (one poller wins).
 * Reads shared memory and the vDSO clock: no system call. */
static bool heartbeat_stopped(wd_queue *q)
{
    if (!q->heartbeat)
        return false; /* a device without one: loss is found by waiting */
    uint32_t beat = atomic_load_explicit(q->heartbeat, memory_order_relaxed);
    uint64_t t = accel_now_ns();
    if (beat != atomic_load_explicit(&q->beat_seen, memory_order_relaxed)) {
        atomic_store_explicit(&q->beat_seen, beat, memory_order_relaxed);
        atomic_store_explicit(&q->beat_at, t, memory_order_relaxed);
        return false;
    }
    uint64_t at = atomic_load_explicit(&q->beat_at, memory_order_relaxed);
    if ((int64_t)(t - at) < (int64_t)WD_HEARTBEAT_STALE_NS)
        return false;
    return atomic_compare_exchange_strong_explicit(&q->beat_at, &at, t, memory_order_relaxed,
                                                   memory_order_relaxed);
}

/* ---- fences -------------------------------------------------------------------- */

/* A poll reads the completion ring in shared memory, as uacce user space
 * polls its hardware's completion queue: no system call. The reap lock is
 * only tried, here and by waiters and submitters, so no unlock has a
 * sleeper to wake. Only a device whose heartbeat stopped is asked about,
 * with a zero-timeout poll of the queue's file. */
accel_icd_result wd__fence_status(void *fence)
{
    wd_fence *f = fence;
    accel_result r = atomic_load_explicit(&f->result, memory_order_acquire);
    if (r != ACCEL_NOT_READY)
        return r;
    reap(f->q, false);
    r = atomic_load_explicit(&f->result, memory_order_acquire);
    if (r == ACCEL_NOT_READY && heartbeat_stopped(f->q) && !device_alive(f->q, 0)) {
        reap(f->q, true);
        r = atomic_load_explicit(&f->result, memory_order_acquire);
    }
    return r;
}

accel_icd_result wd__fence_wait(void *fence, uint64_t timeout_ns)
{
    wd_fence *f = fence;
    wd_queue *q = f->q;
    accel_result r = atomic_load_explicit(&f->result, memory_order_acquire);
    if (r != ACCEL_NOT_READY)
        return r;
    uint64_t start = accel_now_ns();
    uint64_t deadline = timeout_ns > UINT64_MAX - start ? UINT64_MAX : start + timeout_ns;
    for (unsigned i = 0;; i++) {
        reap(q, false);
        r = atomic_load_explicit(&f->result, memory_order_acquire);
        if (r != ACCEL_NOT_READY)
            return r;
        if ((i & 63) == 63) {
            uint64_t t = accel_now_ns();
            if (t >= deadline)
                return ACCEL_TIMEOUT;
            if (t - start >= WD_WAIT_SPIN_NS)
                break;
        }
        accel_cpu_relax();
    }
    uint64_t step = WD_WAIT_STEP_MIN_NS;
    for (;;) {
        uint64_t t = accel_now_ns();
        if (t >= deadline)
            return ACCEL_TIMEOUT;
        uint64_t nap = deadline - t < step ? deadline - t : step;
        bool alive = device_alive(q, nap);
        reap(q, false); /* a holder reaps for us; waiting for it would make its unlock a system call */
        r = atomic_load_explicit(&f->result, memory_order_acquire);
        if (r != ACCEL_NOT_READY)
            return r;
        if (!alive)
            continue; /* reaping with lost set completes it */
        if (step < WD_WAIT_STEP_MAX_NS)
            step *= 2;
    }
}

void wd__fence_release(void *fence)
{
    if (fence)
        fence_unref(fence);
}

/* ---- queues ---------------------------------------------------------------------- */

static accel_result start_emulated(wd_queue *q, int fds[2])
{
    wd_device *dev = q->dev;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", dev->node) >= (int)sizeof(a.sun_path)) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: socket path too long: %s", dev->name, dev->node);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    q->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: cannot open %s: %s", dev->name, dev->node, strerror(errno));
        return ACCEL_ERROR_DEVICE_LOST;
    }
    /* With SVA the device works in this address space. It reads it by pid;
     * the /proc/self/mem file goes along for systems whose ptrace rules
     * would refuse that (the analogue of binding the address space). */
    int mem = dev->sva ? open("/proc/self/mem", O_RDWR | O_CLOEXEC) : -1;
    wd_msg m = {.type = WD_MSG_START_Q};
    accel_result r = wd__emu_request(dev, q->fd, &m, mem, fds, 2, 5000);
    if (mem >= 0)
        close(mem);
    if (r != ACCEL_SUCCESS)
        return r;
    if (m.status == EBUSY) {
        WD_LOG(ACCEL_LOG_WARN, "uacce device %s: no free queue instance (available_instances is 0); START_Q "
               "refused", dev->name);
        return ACCEL_ERROR_BUSY;
    }
    if (m.status == EPERM) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s is isolated; START_Q refused", dev->name);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    if (m.status != 0 || fds[0] < 0 || fds[1] < 0) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: START_Q failed: %s", dev->name, strerror(m.status));
        return ACCEL_ERROR_INITIALIZATION_FAILED;
    }
    q->mmio_size = (size_t)m.a;
    q->dus_size = (size_t)m.b;
    return ACCEL_SUCCESS;
}

static accel_result start_uacce(wd_queue *q)
{
    wd_device *dev = q->dev;
    q->fd = open(dev->node, O_RDWR | O_CLOEXEC);
    if (q->fd < 0) {
        int e = errno;
        WD_LOG(ACCEL_LOG_WARN, "uacce device %s: open %s: %s", dev->name, dev->node, strerror(e));
        return e == EBUSY || e == ENOSPC ? ACCEL_ERROR_BUSY : ACCEL_ERROR_DEVICE_LOST;
    }
    if (ioctl(q->fd, UACCE_CMD_START_Q) != 0) {
        int e = errno;
        WD_LOG(ACCEL_LOG_WARN, "uacce device %s: UACCE_CMD_START_Q: %s", dev->name, strerror(e));
        return e == EBUSY ? ACCEL_ERROR_BUSY : ACCEL_ERROR_INITIALIZATION_FAILED;
    }
    q->mmio_size = (size_t)dev->mmio_size;
    q->dus_size = (size_t)dev->dus_size;
    return ACCEL_SUCCESS;
}

static void queue_teardown(wd_queue *q)
{
    if (q->mmio && q->mmio != MAP_FAILED)
        munmap(q->mmio, q->mmio_size);
    if (q->dus && q->dus != MAP_FAILED)
        munmap(q->dus, q->dus_size);
    q->mmio = q->dus = NULL;
    if (q->fd >= 0)
        close(q->fd);
    q->fd = -1;
}

accel_icd_result wd__queue_create(void *device, void **queue)
{
    wd_device *dev = device;
    if (!dev || !queue)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (atomic_load(&dev->lost)) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: the emulator stopped answering control requests; no new queues",
               dev->name);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    if (dev->partition) {
        int expected = 0;
        if (!atomic_compare_exchange_strong(&dev->open_queues, &expected, 1)) {
            WD_LOG(ACCEL_LOG_WARN, "%s: this partition is one queue instance, and its queue is open", dev->info.name);
            return ACCEL_ERROR_BUSY;
        }
    }
    wd_queue *q = calloc(1, sizeof(*q));
    if (!q) {
        if (dev->partition)
            atomic_store(&dev->open_queues, 0);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    q->dev = dev;
    q->fd = -1;
    atomic_init(&q->refs, 1);
    pthread_mutex_init(&q->reap_lock, NULL);
    long page = sysconf(_SC_PAGESIZE);
    int fds[2] = {-1, -1};
    accel_result r = dev->emulated ? start_emulated(q, fds) : start_uacce(q);
    if (r == ACCEL_SUCCESS) {
        /* The same two mappings either way: region files (emulator) at
         * offset 0, or the device file at page offsets 0 and 1. */
        int mfd = dev->emulated ? fds[0] : q->fd, dfd = dev->emulated ? fds[1] : q->fd;
        off_t moff = dev->emulated ? 0 : (off_t)WD_QFR_MMIO * page;
        off_t doff = dev->emulated ? 0 : (off_t)WD_QFR_DUS * page;
        q->mmio = mmap(NULL, q->mmio_size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, moff);
        q->dus = mmap(NULL, q->dus_size, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, doff);
        if (q->mmio == MAP_FAILED || q->dus == MAP_FAILED) {
            WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: mapping the queue regions: %s", dev->name, strerror(errno));
            r = ACCEL_ERROR_INITIALIZATION_FAILED;
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (r == ACCEL_SUCCESS) {
        const wd_dus_header *h = (const wd_dus_header *)q->dus;
        if (q->mmio_size < sizeof(uint32_t) || q->dus_size < WD_DUS_SIZE || h->magic != WD_DUS_MAGIC ||
            h->ring_entries == 0 || h->ring_entries > WD_RING_ENTRIES ||
            (uint64_t)h->desc_offset + h->ring_entries * sizeof(wd_desc) > q->dus_size ||
            (uint64_t)h->cqe_offset + h->ring_entries * sizeof(wd_cqe) > q->dus_size) {
            WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: the queue's shared region has an unknown layout", dev->name);
            r = ACCEL_ERROR_INITIALIZATION_FAILED;
        } else {
            q->entries = h->ring_entries;
            q->desc = (wd_desc *)(q->dus + h->desc_offset);
            q->cqe = (wd_cqe *)(q->dus + h->cqe_offset);
            q->doorbell = (_Atomic uint32_t *)q->mmio;
            if (h->flags & WD_DUS_HEARTBEAT) {
                q->heartbeat = &((wd_dus_header *)q->dus)->heartbeat;
                atomic_init(&q->beat_seen, atomic_load_explicit(q->heartbeat, memory_order_relaxed));
                atomic_init(&q->beat_at, accel_now_ns());
            }
        }
    }
    if (r != ACCEL_SUCCESS) {
        queue_teardown(q);
        pthread_mutex_destroy(&q->reap_lock);
        free(q);
        if (dev->partition)
            atomic_store(&dev->open_queues, 0);
        return r;
    }
    *queue = q;
    return ACCEL_SUCCESS;
}

void wd__queue_destroy(void *queue)
{
    wd_queue *q = queue;
    if (!q)
        return;
    /* The loader waited for every fence; anything still in flight (a
     * device that stopped answering) fails now. */
    reap(q, true);
    if (atomic_load(&q->published) != q->reaped) {
        atomic_store(&q->lost, true);
        reap(q, true);
    }
    if (!atomic_load(&q->lost)) {
        if (q->dev->emulated) {
            wd_msg m = {.type = WD_MSG_PUT_Q};
            wd__emu_request(q->dev, q->fd, &m, -1, NULL, 0, 1000);
        } else {
            ioctl(q->fd, UACCE_CMD_PUT_Q);
        }
    }
    wd_device *dev = q->dev;
    queue_teardown(q);
    queue_unref(q);
    if (dev->partition)
        atomic_store(&dev->open_queues, 0);
}

static wd_fence *fence_new(wd_queue *q, accel_result result, uint32_t refs)
{
    wd_fence *f = malloc(sizeof(*f));
    if (!f)
        return NULL;
    atomic_init(&f->result, (int32_t)result);
    atomic_init(&f->refs, refs);
    f->q = q;
    atomic_fetch_add_explicit(&q->refs, 1, memory_order_relaxed);
    return f;
}

static uint64_t memory_size(const void *memory)
{
    return ((const wd_memory *)memory)->size;
}

/* Whether two memory arguments share bytes, by their addresses in this
 * process (two memory objects may map the same pages: an import of
 * another's pointer), as the cpu driver tells it. */
static bool args_overlap(const accel_icd_arg *a, const accel_icd_arg *b)
{
    const wd_memory *ma = a->u.mem.memory, *mb = b->u.mem.memory;
    uintptr_t x = (uintptr_t)(ma->base + a->u.mem.offset), y = (uintptr_t)(mb->base + b->u.mem.offset);
    if (!a->u.mem.size || !b->u.mem.size)
        return false;
    return x - y < b->u.mem.size || y - x < a->u.mem.size; /* x in [y, y + b) or y in [x, x + a) */
}

/* The stream forms' arguments by name, which one is the state, and which
 * others the call writes (a bit per argument). */
static const struct {
    uint32_t op;
    const char *function;
    uint32_t state, written;
    const char *names[6];
} stream_forms[] = {
    {WD_OP_CRC32C_STREAM, "crc32c.stream", 1, 0, {"src", "state"}},
    {WD_OP_SHA256_STREAM, "sha256.stream", 1, 1u << 2, {"src", "state", "result", "final"}},
    {WD_OP_DEFLATE_STREAM, "zlib.deflate.stream", 4, 1u << 1 | 1u << 2,
     {"src", "dst", "out_size", "level", "state", "final"}},
    {WD_OP_INFLATE_STREAM, "zlib.inflate.stream", 3, 1u << 1 | 1u << 2, {"src", "dst", "progress", "state"}},
};

/*
 * What the host checks of a stream form before the device sees it: the
 * arguments that come back in the completion entry (the device never sees
 * them, so cannot check them), and the overlaps docs/standard-functions.md
 * forbids (the state with any other argument, src with an argument the
 * call writes; for zlib.inflate.stream also dst with progress, as the cpu
 * driver checks it), so that the devices refuse the same calls and name
 * the same arguments. The device checks its own
 * buffers again (wd_proto.h). ACCEL_SUCCESS or the failure, logged.
 */
static accel_result check_stream_args(const wd_queue *q, const wd_function *fn, const accel_icd_submit *s)
{
    const accel_icd_arg *a = s->args;
    size_t f = 0;
    while (f < sizeof(stream_forms) / sizeof(stream_forms[0]) && stream_forms[f].op != fn->op)
        f++;
    if (f == sizeof(stream_forms) / sizeof(stream_forms[0]))
        return ACCEL_SUCCESS;
    const char *name = stream_forms[f].function, *const *names = stream_forms[f].names;
    if (fn->op == WD_OP_DEFLATE_STREAM && a[2].u.mem.size < 8) {
        WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: zlib.deflate.stream's out_size is smaller than 8 bytes; the "
               "submission fails and the queue with it", q->dev->name);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (fn->op == WD_OP_INFLATE_STREAM) {
        static const uint64_t least[] = {0, 0, WD_PROGRESS_SIZE, WD_INFLATE_STATE};
        for (int i = 2; i < 4; i++)
            if (a[i].u.mem.size < least[i]) {
                WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: %s: argument %s has %llu bytes, fewer than %llu; the "
                       "submission fails and the queue with it", q->dev->name, name, names[i],
                       (unsigned long long)a[i].u.mem.size, (unsigned long long)least[i]);
                return ACCEL_ERROR_INVALID_ARGUMENT;
            }
    }
    /* The state is read while the others are written, src while dst is
     * written; an inflate's progress is stored after both. */
    uint32_t st = stream_forms[f].state, written = stream_forms[f].written;
    for (uint32_t i = 0; i < s->arg_count; i++) {
        for (uint32_t j = i + 1; j < s->arg_count; j++) {
            if (a[i].kind != ACCEL_ARG_MEMORY || a[j].kind != ACCEL_ARG_MEMORY)
                continue;
            bool forbidden =
                i == st || j == st || (i == 0 && (written >> j & 1)) || fn->op == WD_OP_INFLATE_STREAM;
            if (!forbidden || !args_overlap(&a[i], &a[j]))
                continue;
            WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: %s: argument %s overlaps argument %s; the submission "
                   "fails and the queue with it", q->dev->name, name, names[j == st ? j : i],
                   names[j == st ? i : j]);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    return ACCEL_SUCCESS;
}

/* The device address of a memory argument. */
static uint64_t device_address(const accel_icd_arg *a)
{
    const wd_memory *m = a->u.mem.memory;
    if (m->region)
        return WD_ADDR(m->region, a->u.mem.offset);
    return (uint64_t)(uintptr_t)(m->base + a->u.mem.offset);
}

accel_icd_result wd__queue_submit(void *queue, const accel_icd_submit *submit, void **fence)
{
    wd_queue *q = queue;
    if (!q || !submit || !fence)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_icd_submit s;
    accel_submit_read(submit, &s);
    const wd_function *fn = s.function;
    if (!fn)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    accel_result r = accel_submit_check_args(&s, fn->arg_count, fn->arg_kinds, memory_size);
    if (r != ACCEL_SUCCESS)
        return r;

    /* Wait fences of other queues: the device cannot wait for them. */
    for (uint32_t i = 0; i < s.wait_fence_count; i++) {
        wd_fence *w = s.wait_fences[i];
        if (!w)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        if (w->q == q)
            continue; /* the ring runs in order */
        accel_result wr = wd__fence_wait(w, UINT64_MAX);
        if (wr != ACCEL_SUCCESS)
            set_error(q, wr);
    }
    /* The immediate: fill's pattern, or deflate's level. The device knows
     * levels 0..9 only; zlib's -1 (its default) is 6. A bad level fails
     * this submission and breaks the queue, as the device's own failures
     * do (docs/standard-functions.md), without reaching the device. */
    uint32_t imm = 0;
    for (uint32_t i = 0; i < s.arg_count; i++) {
        const accel_icd_arg *a = &s.args[i];
        if (a->kind == ACCEL_ARG_U32 && fn->op == WD_OP_DEFLATE_STREAM) {
            imm |= a->u.u32 ? WD_IMM_FINAL : 0;
        } else if (a->kind == ACCEL_ARG_U32) {
            imm = a->u.u32;
        } else if (a->kind == ACCEL_ARG_I32 && (fn->op == WD_OP_DEFLATE || fn->op == WD_OP_DEFLATE_STREAM)) {
            int32_t level = a->u.i32;
            if (level < -1 || level > (int32_t)WD_DEFLATE_LEVEL_MAX) {
                WD_LOG(ACCEL_LOG_ERROR, "uacce device %s: zlib.deflate level %d is outside -1..9; the submission "
                       "fails and the queue with it", q->dev->name, (int)level);
                set_error(q, ACCEL_ERROR_INVALID_ARGUMENT);
            }
            imm = (imm & WD_IMM_FINAL) | (level == -1 ? 6u : (uint32_t)level & 0xffu);
        }
    }
    /* The stream forms' arguments that come back in the completion entry
     * (a descriptor has three buffers), and the cpu driver's checks. */
    if (fn->op >= WD_OP_CRC32C_STREAM)
        set_error(q, check_stream_args(q, fn, &s));
    /* A broken queue, or a lost device: fail without running. */
    if (atomic_load_explicit(&q->lost, memory_order_acquire) ||
        atomic_load_explicit(&q->dev->lost, memory_order_acquire))
        set_error(q, ACCEL_ERROR_DEVICE_LOST);
    int32_t err = atomic_load_explicit(&q->error, memory_order_acquire);
    if (err) {
        wd_fence *f = fence_new(q, (accel_result)err, 1);
        if (!f)
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        *fence = f;
        return ACCEL_SUCCESS;
    }

    /* A free slot: reap if the ring looks full. */
    while (q->tail - atomic_load_explicit(&q->reaped_seen, memory_order_acquire) >= q->entries) {
        reap(q, false);
        if (q->tail - atomic_load_explicit(&q->reaped_seen, memory_order_acquire) < q->entries)
            break;
        if (!device_alive(q, WD_WAIT_STEP_MIN_NS)) {
            reap(q, true);
            wd_fence *f = fence_new(q, ACCEL_ERROR_DEVICE_LOST, 1);
            if (!f)
                return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
            *fence = f;
            return ACCEL_SUCCESS;
        }
    }
    wd_fence *f = fence_new(q, ACCEL_NOT_READY, 2); /* caller + ring */
    if (!f)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;

    uint32_t index = q->tail;
    uint32_t slot = index % q->entries;
    q->inflight[slot] = f;
    wd_desc *d = &q->desc[slot];
    d->op = fn->op;
    d->flags = 0;
    q->result_dst[slot] = NULL;
    q->slot_op[slot] = (uint8_t)fn->op;
    d->imm = imm;
    memset(d->addr, 0, sizeof(d->addr));
    memset(d->len, 0, sizeof(d->len));
    for (uint32_t i = 0, b = 0; i < s.arg_count; i++) {
        const accel_icd_arg *a = &s.args[i];
        if ((fn->op == WD_OP_DEFLATE_STREAM || fn->op == WD_OP_INFLATE_STREAM) && i == 2) {
            /* out_size from cqe.produced, progress from cqe.consumed, produced and info */
            const wd_memory *m = a->u.mem.memory;
            q->result_dst[slot] = m->base + a->u.mem.offset;
            q->result_len[slot] = fn->op == WD_OP_INFLATE_STREAM ? WD_PROGRESS_SIZE : 8;
            q->slot_room[slot][0] = s.args[0].u.mem.size;
            q->slot_room[slot][1] = s.args[1].u.mem.size;
            continue;
        }
        if (a->kind == ACCEL_ARG_MEMORY && b < 3) {
            d->addr[b] = device_address(a);
            d->len[b] = a->u.mem.size;
            /* A crc32c result in host memory the device reaches only by
             * address: it comes back in the completion entry (wd_proto.h). */
            const wd_memory *m = a->u.mem.memory;
            if (b == 1 && fn->op == WD_OP_CRC32C && !m->region && a->u.mem.size >= 4) {
                d->flags |= WD_DESC_RESULT_IN_CQE;
                q->result_dst[slot] = m->base + a->u.mem.offset;
                q->result_len[slot] = 4;
            }
            b++;
        }
    }
    /* Publish: the descriptor, then (for reapers) the slot, then the bell. */
    atomic_store_explicit(&d->seq, index + 1, memory_order_release);
    q->tail = index + 1;
    atomic_store_explicit(&q->published, q->tail, memory_order_release);
    atomic_store_explicit(q->doorbell, q->tail, memory_order_release);
    *fence = f;
    return ACCEL_SUCCESS;
}
