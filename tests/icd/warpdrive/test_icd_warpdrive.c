/* test_icd_warpdrive.c — the warpdrive (uacce) driver through its function
 * table, without the loader (icd_harness.h), against emulated uacce devices
 * (accel-uacce-emulator, started as children in a temporary root):
 * discovery and attributes, isolation, every offered standard function
 * against references computed here (bitwise CRC-32C, libcrypto's SHA-256,
 * zlib), SVA zero-copy versus non-SVA pinned / staged memory, the
 * emulator's translation cache for SVA memory that comes with a file
 * descriptor (hits, misses, reuse of an address after detach, requests past
 * the end of an entry, the control messages), instance exhaustion, broken
 * queues, and device loss (SIGKILL of the emulator) and recovery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <zlib.h>
#ifdef HAVE_LIBCRYPTO
#include <openssl/sha.h>
#endif

#include "../../loader/support_env.h"
#include "../icd_harness.h"
#include "wd_proto.h"

#define MIB (1024u * 1024u)

static char ROOT[256];
static char SYSFS[300], DEVROOT[300];

/* ---- emulators ------------------------------------------------------------------- */

typedef struct emu {
    char name[64];
    pid_t pid;
} emu;
static emu EMUS[8];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static emu *emu_slot(const char *name)
{
    for (int i = 0; i < 8; i++)
        if (EMUS[i].pid && strcmp(EMUS[i].name, name) == 0)
            return &EMUS[i];
    for (int i = 0; i < 8; i++)
        if (!EMUS[i].pid)
            return &EMUS[i];
    return NULL;
}

/* Start an emulator NAME with the given extra arguments (NULL-terminated);
 * waits for its socket. */
static void emu_start(const char *name, ...)
{
    const char *argv[32] = {EMULATOR_PATH, "--root", ROOT, "--name", name};
    int argc = 5;
    va_list ap;
    va_start(ap, name);
    const char *a;
    while ((a = va_arg(ap, const char *)) && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    emu *e = emu_slot(name);
    assert_non_null(e);
    char sock[400];
    snprintf(sock, sizeof(sock), "%s/%s", DEVROOT, name);
    unlink(sock);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execv(EMULATOR_PATH, (char *const *)argv);
        _exit(127);
    }
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->pid = pid;
    struct stat st;
    for (int i = 0; i < 500; i++) {
        if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
            return;
        usleep(10000);
    }
    fail_msg("emulator %s did not start", name);
}

static void emu_signal(const char *name, int sig)
{
    emu *e = emu_slot(name);
    assert_non_null(e);
    assert_true(e->pid != 0);
    kill(e->pid, sig);
    int status;
    waitpid(e->pid, &status, 0);
    e->pid = 0;
}

/* Send one control message to an emulator (what a test bench or the
 * emulator's --inject-error mode does). */
static void emu_inject_errors(const char *name, unsigned n)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", DEVROOT, name) < (int)sizeof(a.sun_path));
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    wd_msg m = {.magic = WD_MSG_MAGIC, .type = WD_MSG_INJECT_ERROR, .a = n};
    assert_int_equal(send(s, &m, sizeof(m), MSG_NOSIGNAL), (ssize_t)sizeof(m));
    assert_int_equal(recv(s, &m, sizeof(m), 0), (ssize_t)sizeof(m));
    close(s);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(ROOT, sizeof(ROOT), "%s/accel-wd-XXXXXX", tmp && *tmp && strlen(tmp) < 100 ? tmp : "/tmp");
    if (!mkdtemp(ROOT))
        return -1;
    snprintf(SYSFS, sizeof(SYSFS), "%s/sys", ROOT);
    snprintf(DEVROOT, sizeof(DEVROOT), "%s/dev", ROOT);
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", SYSFS);
    ts_env_push("ACCEL_UACCE_DEV_ROOT", DEVROOT);
    signal(SIGPIPE, SIG_IGN);
    emu_start("wd_sva-0", "--sva", "--instances", "4", "--algorithms", "zlib,crc32c,sha256", "--numa-node", "0",
              NULL);
    emu_start("wd_nosva-1", "--no-sva", "--instances", "2", "--algorithms", "deflate,crc32c,sha256,copy,fill",
              NULL);
    /* SVA with every function: the translation cache tests. */
    emu_start("wd_atc-4", "--sva", "--instances", "8", "--algorithms", "zlib,crc32c,sha256,copy,fill", NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++) {
        if (!EMUS[i].pid)
            continue;
        kill(EMUS[i].pid, SIGTERM);
        int status;
        for (int k = 0; k < 200 && waitpid(EMUS[i].pid, &status, WNOHANG) == 0; k++)
            usleep(10000);
        if (kill(EMUS[i].pid, 0) == 0) {
            kill(EMUS[i].pid, SIGKILL);
            waitpid(EMUS[i].pid, &status, 0);
        }
        EMUS[i].pid = 0;
    }
    nftw(ROOT, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ts_env_pop();
    return 0;
}

/* ---- helpers --------------------------------------------------------------------- */

static int find_dev(const ih_driver *d, const char *name)
{
    char node[400];
    snprintf(node, sizeof(node), "%s/%s", DEVROOT, name);
    for (uint32_t i = 0; i < d->device_count; i++)
        if (strcmp(d->info[i].device_node, node) == 0)
            return (int)i;
    return -1;
}

static uint32_t query_u32(ih_driver *d, void *dev, accel_device_param p)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(d->t->device_query(dev, p, &v, sizeof(v), NULL), ACCEL_SUCCESS);
    return v;
}

static void *fn_get(ih_driver *d, void *dev, const char *name)
{
    void *fn = NULL;
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(d->t->function_get(dev, NULL, name, &fn, &info), ACCEL_SUCCESS);
    return fn;
}

static accel_icd_arg arg_i32(int32_t v)
{
    accel_icd_arg a = {.kind = ACCEL_ARG_I32};
    a.u.i32 = v;
    return a;
}

/* The documented bound of zlib.deflate's output: a stream of stored blocks. */
static uint64_t deflate_bound(uint64_t n)
{
    return n + 5 * ((n + 65534) / 65535) + 11;
}

static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Deterministic, somewhat compressible data. */
static void fill_data(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (i & 64) ? (uint8_t)"accel-uacce "[i % 12] : (uint8_t)(x >> 24);
    }
}

/* Where a test buffer's bytes live: plain host memory (attached without a
 * file descriptor, like accel_memory_import_host) or a memfd (attached with
 * it, like accel_memory_alloc). */
typedef enum buf_kind { BUF_HOST, BUF_MEMFD } buf_kind;

/* A buffer the device can use: attached (ZERO_COPY / PINNED) or staged. */
typedef struct buf {
    uint8_t *p;
    uint64_t size;
    void *mem;
    int staged;
    int fd;          /* BUF_MEMFD: the memfd, else -1 */
    size_t map_size; /* BUF_MEMFD: the mapping at p */
} buf;

/* A memfd of at least size bytes (one page for 0), mapped shared. */
static uint8_t *memfd_map(uint64_t size, int *fd, size_t *map_size)
{
    *map_size = size ? (size_t)(size + 4095) / 4096 * 4096 : 4096;
    *fd = memfd_create("wd-test", MFD_CLOEXEC);
    assert_true(*fd >= 0);
    assert_int_equal(ftruncate(*fd, (off_t)*map_size), 0);
    uint8_t *p = mmap(NULL, *map_size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

/* Attach [p, p + size) with fd at fd_offset (-1: none), as the loader does. */
static void *attach_desc(ih_driver *d, void *dev, void *p, uint64_t size, int fd, uint64_t fd_offset)
{
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = p, .size = size, .fd = fd,
                                  .fd_offset = fd_offset, .numa_node = -1};
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    void *mem = NULL;
    assert_int_equal(d->t->memory_attach(dev, &desc, &mem, &mode), ACCEL_SUCCESS);
    assert_true(mode == ACCEL_ATTACH_ZERO_COPY || mode == ACCEL_ATTACH_PINNED);
    return mem;
}

static buf buf_new_kind(ih_driver *d, void *dev, uint64_t size, const void *init, buf_kind kind)
{
    buf b = {.size = size, .fd = -1};
    if (kind == BUF_MEMFD)
        b.p = memfd_map(size, &b.fd, &b.map_size);
    else
        b.p = malloc(size ? size : 1);
    assert_non_null(b.p);
    if (init)
        memcpy(b.p, init, size);
    else
        memset(b.p, 0xA5, size);
    if (kind == BUF_MEMFD) {
        accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = b.p, .size = size, .fd = b.fd,
                                      .numa_node = -1};
        accel_attach_mode mode = ACCEL_ATTACH_NONE;
        assert_int_equal(d->t->memory_attach(dev, &desc, &b.mem, &mode), ACCEL_SUCCESS);
    } else {
        assert_int_equal(ih_attach(d, dev, b.p, size, &b.mem, &b.staged), ACCEL_SUCCESS);
    }
    return b;
}

static buf buf_new(ih_driver *d, void *dev, uint64_t size, const void *init)
{
    return buf_new_kind(d, dev, size, init, BUF_HOST);
}

/* Bring the device's view back to b.p (staged buffers). */
static void buf_sync(ih_driver *d, void *dev, buf *b)
{
    if (b->staged && b->size)
        assert_int_equal(d->t->memory_read(dev, b->mem, 0, b->p, b->size), ACCEL_SUCCESS);
}

static void buf_free(ih_driver *d, void *dev, buf *b)
{
    if (b->staged)
        d->t->memory_free_device(dev, b->mem);
    else
        d->t->memory_detach(dev, b->mem);
    if (b->fd >= 0) {
        munmap(b->p, b->map_size);
        close(b->fd);
    } else {
        free(b->p);
    }
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_discovery(void **state)
{
    (void)state;
    ih_driver d, d2;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 3);
    int s = find_dev(&d, "wd_sva-0"), n = find_dev(&d, "wd_nosva-1");
    assert_true(s >= 0 && n >= 0);
    accel_icd_device_info *si = &d.info[s], *ni = &d.info[n];
    assert_int_equal(si->kind, ACCEL_DEVICE_KIND_ASIC);
    assert_int_equal(si->interface, ACCEL_DEVICE_INTERFACE_UACCE);
    assert_true(si->flags & ACCEL_DEVICE_FLAG_SVA);
    assert_false(ni->flags & ACCEL_DEVICE_FLAG_SVA);
    assert_int_equal(si->pasid_bits, 20);
    assert_int_equal(ni->pasid_bits, 0);
    assert_int_equal(si->available_instances, 4);
    assert_int_equal(si->max_address_spaces, 4);
    assert_int_equal(ni->available_instances, 2);
    assert_int_equal(si->numa_node, 0);
    assert_int_equal(ni->numa_node, -1);
    assert_int_equal(si->parent_index, -1);
    assert_non_null(strstr(si->name, "wd_sva-0"));
    assert_memory_not_equal(si->uuid, ni->uuid, ACCEL_UUID_SIZE);
    void *sdev = d.devices[s], *ndev = d.devices[n];

    /* Functions from `algorithms`. */
    const char *on_sva[] = {"accel.noop", "crc32c", "sha256", "zlib.deflate", "zlib.inflate"};
    for (size_t i = 0; i < 5; i++)
        fn_get(&d, sdev, on_sva[i]);
    void *fn;
    assert_int_equal(d.t->function_get(sdev, NULL, "accel.copy", &fn, NULL), ACCEL_ERROR_NOT_FOUND);
    assert_int_equal(d.t->function_get(sdev, NULL, "accel.fill", &fn, NULL), ACCEL_ERROR_NOT_FOUND);
    fn_get(&d, ndev, "accel.copy");
    fn_get(&d, ndev, "accel.fill");
    fn_get(&d, ndev, "zlib.inflate"); /* "deflate" maps to both directions */

    /* available_instances is live. */
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 4);
    void *q;
    assert_int_equal(d.t->queue_create(sdev, &q), ACCEL_SUCCESS);
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 3);
    assert_int_equal(ih_run(&d, q, fn_get(&d, sdev, "accel.noop"), NULL, 0, 0, 0), ACCEL_SUCCESS);
    d.t->queue_destroy(q);
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 4);
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_FLAGS), ACCEL_DEVICE_FLAG_SVA | ACCEL_DEVICE_FLAG_EMULATED);
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_KIND), ACCEL_DEVICE_KIND_ASIC);
    /* What sysfs does not say (the total of queues, a ring's depth, memory)
     * and what an engine without programs has not: unknown, not guessed. */
    static const accel_device_param unknown[] = {
        ACCEL_DEVICE_PARAM_MAX_QUEUES,           ACCEL_DEVICE_PARAM_QUEUE_DEPTH,
        ACCEL_DEVICE_PARAM_MEMORY_SIZE,          ACCEL_DEVICE_PARAM_MAX_ALLOCATION,
        ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE,     ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS,
        ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT,
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        uint64_t v = 0;
        assert_int_equal(d.t->device_query(sdev, unknown[i], &v, sizeof(v), NULL), ACCEL_ERROR_UNSUPPORTED);
    }

    /* Stable uuids across driver instances. */
    accel_icd_device_info keep = *si;
    ih_close(&d);
    assert_int_equal(ih_open(&d2, DRIVER_PATH), 0);
    s = find_dev(&d2, "wd_sva-0");
    assert_true(s >= 0);
    assert_memory_equal(d2.info[s].uuid, keep.uuid, ACCEL_UUID_SIZE);
    ih_close(&d2);
}

static void test_isolated(void **state)
{
    (void)state;
    emu_start("wd_iso-2", "--instances", "2", "--isolate-threshold", "2", NULL);
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 4);
    int i = find_dev(&d, "wd_iso-2");
    assert_true(i >= 0);
    void *dev = d.devices[i];
    /* Its node is the emulator's socket: the work runs on the host's CPUs. */
    assert_true(query_u32(&d, dev, ACCEL_DEVICE_PARAM_FLAGS) & ACCEL_DEVICE_FLAG_EMULATED);
    emu_inject_errors("wd_iso-2", 2); /* at the threshold: not yet */
    assert_false(query_u32(&d, dev, ACCEL_DEVICE_PARAM_FLAGS) & ACCEL_DEVICE_FLAG_ISOLATED);
    emu_inject_errors("wd_iso-2", 1); /* past it */
    char path[400], text[8] = "";
    snprintf(path, sizeof(path), "%s/class/uacce/wd_iso-2/isolate", SYSFS);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_string_equal(text, "1\n");
    assert_true(query_u32(&d, dev, ACCEL_DEVICE_PARAM_FLAGS) & ACCEL_DEVICE_FLAG_ISOLATED);
    void *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_ERROR_DEVICE_LOST); /* START_Q refused */
    ih_close(&d);
    /* A new driver instance does not offer it. */
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 3);
    assert_int_equal(find_dev(&d, "wd_iso-2"), -1);
    ih_close(&d);
    emu_signal("wd_iso-2", SIGTERM);
    snprintf(path, sizeof(path), "%s/class/uacce/wd_iso-2", SYSFS);
    assert_int_not_equal(access(path, F_OK), 0); /* the tree is gone */
}

/* Every standard function the device offers, at one size, against the
 * references; the source in memory of kind sk, the results in kind ok. */
static void check_functions_kinds(ih_driver *d, void *dev, void *q, size_t n, bool zlib_only, buf_kind sk,
                                  buf_kind ok)
{
    uint8_t *data = malloc(n ? n : 1);
    assert_non_null(data);
    fill_data(data, n, (uint32_t)n);
    buf src = buf_new_kind(d, dev, n, data, sk);
    void *fn;
    if (!zlib_only && d->t->function_get(dev, NULL, "crc32c", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new_kind(d, dev, 4, NULL, ok);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(out.mem, 0, 4)};
        assert_int_equal(ih_run(d, q, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
        assert_int_equal(get_le(out.p, 4), ref_crc32c(data, n));
        buf_free(d, dev, &out);
    }
    if (!zlib_only && d->t->function_get(dev, NULL, "sha256", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new_kind(d, dev, 40, NULL, ok);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(out.mem, 0, 40)};
        assert_int_equal(ih_run(d, q, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
#ifdef HAVE_LIBCRYPTO
        uint8_t ref[32];
        SHA256(data, n, ref);
        assert_memory_equal(out.p, ref, 32);
#endif
        assert_int_equal(out.p[32], 0xA5); /* nothing written past the digest */
        buf_free(d, dev, &out);
    }
    if (d->t->function_get(dev, NULL, "zlib.deflate", &fn, NULL) == ACCEL_SUCCESS) {
        void *inf = fn_get(d, dev, "zlib.inflate");
        uint64_t bound = deflate_bound(n);
        /* A different level per size (test_deflate_levels has them all);
         * the default for the largest, where the level is the run time. */
        int32_t level = n >= 16 * MIB ? -1 : (int32_t)(n % 11) - 1;
        buf z = buf_new_kind(d, dev, bound, NULL, ok), sz = buf_new_kind(d, dev, 8, NULL, ok);
        accel_icd_arg args[4] = {ih_mem(src.mem, 0, n), ih_mem(z.mem, 0, bound), ih_mem(sz.mem, 0, 8),
                                 arg_i32(level)};
        assert_int_equal(ih_run(d, q, fn, args, 4, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &z);
        buf_sync(d, dev, &sz);
        uint64_t zlen = get_le(sz.p, 8);
        assert_true(zlen >= 8 && zlen <= bound);
        /* zlib itself turns it back. */
        uint8_t *back = malloc(n + 1);
        uLongf blen = n + 1;
        assert_int_equal(uncompress(back, &blen, z.p, zlen), Z_OK);
        assert_int_equal(blen, n);
        assert_memory_equal(back, data, n);
        /* And the device inflates zlib's own stream. */
        uLongf rlen = compressBound(n);
        uint8_t *ref = malloc(rlen);
        assert_int_equal(compress2(ref, &rlen, data, n, 1), Z_OK);
        buf rz = buf_new_kind(d, dev, rlen, ref, sk), out = buf_new_kind(d, dev, n + 16, NULL, ok);
        accel_icd_arg iargs[3] = {ih_mem(rz.mem, 0, rlen), ih_mem(out.mem, 0, n + 16), ih_mem(sz.mem, 0, 8)};
        assert_int_equal(ih_run(d, q, inf, iargs, 3, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
        buf_sync(d, dev, &sz);
        assert_int_equal(get_le(sz.p, 8), n);
        assert_memory_equal(out.p, data, n);
        assert_int_equal(out.p[n], 0xA5);
        free(back);
        free(ref);
        buf_free(d, dev, &rz);
        buf_free(d, dev, &out);
        buf_free(d, dev, &z);
        buf_free(d, dev, &sz);
    }
    if (!zlib_only && d->t->function_get(dev, NULL, "accel.copy", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new_kind(d, dev, n + 8, NULL, ok);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(out.mem, 4, n)};
        assert_int_equal(ih_run(d, q, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
        assert_memory_equal(out.p + 4, data, n);
        const uint8_t guard[4] = {0xA5, 0xA5, 0xA5, 0xA5};
        assert_memory_equal(out.p, guard, 4);
        assert_memory_equal(out.p + 4 + n, guard, 4);
        buf_free(d, dev, &out);
    }
    if (!zlib_only && d->t->function_get(dev, NULL, "accel.fill", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new_kind(d, dev, n + 8, NULL, ok);
        accel_icd_arg args[2] = {ih_mem(out.mem, 3, n), ih_u32(0x9a7b5c3d)};
        assert_int_equal(ih_run(d, q, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
        for (size_t i = 0; i < n + 8; i++) {
            uint8_t want = i < 3 || i >= n + 3 ? 0xA5 : (uint8_t)(0x9a7b5c3du >> (8 * ((i - 3) & 3)));
            if (out.p[i] != want)
                fail_msg("fill of %zu bytes: byte %zu is 0x%02x, not 0x%02x", n, i, out.p[i], want);
        }
        buf_free(d, dev, &out);
    }
    buf_free(d, dev, &src);
    free(data);
}

static void check_functions(ih_driver *d, void *dev, void *q, size_t n, bool zlib_only)
{
    check_functions_kinds(d, dev, q, n, zlib_only, BUF_HOST, BUF_HOST);
}

static void run_functions(const char *name, int expect_staged)
{
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    int i = find_dev(&d, name);
    assert_true(i >= 0);
    void *dev = d.devices[i], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    uint8_t probe = 0;
    buf b = buf_new(&d, dev, 1, &probe);
    assert_int_equal(b.staged, expect_staged);
    buf_free(&d, dev, &b);
    const size_t sizes[] = {0, 1, 4096 + 3, MIB};
    for (size_t k = 0; k < 4; k++)
        check_functions(&d, dev, q, sizes[k], false);
    d.t->queue_destroy(q);
    ih_close(&d);
}

static void test_functions_sva(void **state)
{
    (void)state;
    run_functions("wd_sva-0", 0);
}

static void test_functions_nosva_staged(void **state)
{
    (void)state;
    run_functions("wd_nosva-1", 1);
}

static void test_deflate_64mib(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_sva-0")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    uint64_t t0 = now_ns();
    check_functions(&d, dev, q, 64 * MIB, true);
    print_message("64 MiB deflate + inflate round trip on the emulator: %.2f s\n", (now_ns() - t0) / 1e9);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* SVA: host memory as is. Non-SVA: memfd-backed memory is pinned (the fd
 * goes to the device), plain memory is refused (the loader stages). */
static void test_attach_modes(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *sdev = d.devices[find_dev(&d, "wd_sva-0")], *ndev = d.devices[find_dev(&d, "wd_nosva-1")];
    uint8_t host[64] = {0};
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = host, .size = sizeof(host), .fd = -1,
                                  .numa_node = -1};
    void *mem;
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    assert_int_equal(d.t->memory_attach(sdev, &desc, &mem, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_ZERO_COPY);
    d.t->memory_detach(sdev, mem);
    assert_int_equal(d.t->memory_attach(ndev, &desc, &mem, &mode), ACCEL_ERROR_UNSUPPORTED);

    /* A memfd: pinned on the non-SVA device; a function runs on it in place. */
    const size_t size = 2 * 4096;
    int fd = memfd_create("wd-test", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    fill_data(p, 4096, 7);
    memset(p + 4096, 0, 4096);
    desc = (accel_icd_memory_desc){.struct_size = sizeof(desc), .host_ptr = p, .size = size, .fd = fd,
                                   .fd_offset = 0, .numa_node = -1};
    assert_int_equal(d.t->memory_attach(ndev, &desc, &mem, &mode), ACCEL_SUCCESS);
    assert_int_equal(mode, ACCEL_ATTACH_PINNED);
    void *q;
    assert_int_equal(d.t->queue_create(ndev, &q), ACCEL_SUCCESS);
    accel_icd_arg args[2] = {ih_mem(mem, 0, 4096), ih_mem(mem, 4096, 4)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, ndev, "crc32c"), args, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(get_le(p + 4096, 4), ref_crc32c(p, 4096));
    /* copy and fill, offered by this device, in place too */
    accel_icd_arg cargs[2] = {ih_mem(mem, 0, 1000), ih_mem(mem, 5000, 3000)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, ndev, "accel.copy"), cargs, 2, 0, 0), ACCEL_SUCCESS);
    assert_memory_equal(p + 5000, p, 1000);
    accel_icd_arg fargs[2] = {ih_mem(mem, 6001, 7), ih_u32(0x44332211)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, ndev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
    const uint8_t fill_ref[8] = {0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0};
    p[6008] = 0;
    assert_memory_equal(p + 6001, fill_ref, 8);
    /* A range outside the registered memory is refused by the driver. */
    accel_icd_arg bad[2] = {ih_mem(mem, 0, size + 1), ih_mem(mem, 0, 4)};
    void *fence;
    accel_icd_submit s = {.struct_size = sizeof(s), .function = fn_get(&d, ndev, "crc32c"), .args = bad,
                          .arg_count = 2};
    assert_int_equal(d.t->queue_submit(q, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    d.t->queue_destroy(q);
    d.t->memory_detach(ndev, mem);
    munmap(p, size);
    close(fd);
    ih_close(&d);
}

/* ---- the emulator's translation cache (SVA) ---------------------------------------------- */

/* Open the driver and a queue on the SVA device with every function. */
static void *atc_open(ih_driver *d, void **q)
{
    assert_int_equal(ih_open(d, DRIVER_PATH), 0);
    int i = find_dev(d, "wd_atc-4");
    assert_true(i >= 0);
    assert_true(d->info[i].flags & ACCEL_DEVICE_FLAG_SVA);
    assert_int_equal(d->t->queue_create(d->devices[i], q), ACCEL_SUCCESS);
    return d->devices[i];
}

static uint32_t run_crc(ih_driver *d, void *dev, void *q, void *mem, uint64_t off, uint64_t n)
{
    uint8_t out[4] = {0};
    void *m = attach_desc(d, dev, out, 4, -1, 0);
    accel_icd_arg args[2] = {ih_mem(mem, off, n), ih_mem(m, 0, 4)};
    assert_int_equal(ih_run(d, q, fn_get(d, dev, "crc32c"), args, 2, 0, 0), ACCEL_SUCCESS);
    d->t->memory_detach(dev, m);
    return (uint32_t)get_le(out, 4);
}

/* Every function, memfd memory (found in the translation cache), host
 * memory (process_vm_readv / writev) and the two mixed, at sizes around a
 * page and beyond the emulator's 64 KiB pieces. */
static void test_translation_functions(void **state)
{
    (void)state;
    ih_driver d;
    void *q, *dev = atc_open(&d, &q);
    const size_t sizes[] = {0, 1, 4096, 4096 + 3, 200000, MIB};
    const buf_kind kinds[4][2] = {
        {BUF_MEMFD, BUF_MEMFD}, {BUF_HOST, BUF_HOST}, {BUF_MEMFD, BUF_HOST}, {BUF_HOST, BUF_MEMFD}};
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            check_functions_kinds(&d, dev, q, sizes[i], false, kinds[k][0], kinds[k][1]);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/*
 * Which path the device takes, made visible: the pages at host_ptr and the
 * pages of the fd are made different on purpose (a desc that breaks the
 * driver ABI's "same pages" rule, only to observe). With the fd the device
 * reads and writes the fd's pages (its translation); without it, the pages
 * at the address.
 */
static void test_translation_path(void **state)
{
    (void)state;
    ih_driver d;
    void *q, *dev = atc_open(&d, &q);
    const size_t size = 3 * 4096;
    int fd;
    size_t map_size;
    uint8_t *via_fd = memfd_map(size, &fd, &map_size);
    uint8_t *at_va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(at_va != MAP_FAILED);
    fill_data(via_fd, size, 11);
    fill_data(at_va, size, 12);

    void *mem = attach_desc(&d, dev, at_va, size, fd, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(via_fd, size));
    assert_int_equal(run_crc(&d, dev, q, mem, 5000, 100), ref_crc32c(via_fd + 5000, 100));
    /* Writes land in the fd's pages too. */
    accel_icd_arg fargs[2] = {ih_mem(mem, 100, 50), ih_u32(0x01010101)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(via_fd[100], 1);
    assert_int_equal(via_fd[149], 1);
    assert_int_not_equal(at_va[100], 1);
    d.t->memory_detach(dev, mem);

    /* Without the fd: the address space. */
    mem = attach_desc(&d, dev, at_va, size, -1, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(at_va, size));
    fargs[0] = ih_mem(mem, 100, 50);
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(at_va[100], 1);
    d.t->memory_detach(dev, mem);

    /* An fd offset that is not page-aligned: the entry starts there. */
    mem = attach_desc(&d, dev, at_va + 10, 4096, fd, 4096 + 20);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, 4096), ref_crc32c(via_fd + 4096 + 20, 4096));
    d.t->memory_detach(dev, mem);

    /* An fd that does not hold the range is refused by the emulator (a
     * warning); the device reads the address space instead. */
    mem = attach_desc(&d, dev, at_va, size, fd, 4096);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(at_va, size));
    d.t->memory_detach(dev, mem);

    munmap(at_va, size);
    munmap(via_fd, map_size);
    close(fd);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* Map size bytes at exactly `at` (just unmapped by the caller): a memfd's
 * pages when fd >= 0, anonymous ones otherwise. */
static uint8_t *map_at(uint8_t *at, size_t size, int fd)
{
#ifdef MAP_FIXED_NOREPLACE
    int fixed = MAP_FIXED_NOREPLACE;
#else
    int fixed = MAP_FIXED; /* the range was just unmapped; no other thread maps */
#endif
    void *p = fd >= 0 ? mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | fixed, fd, 0)
                      : mmap(at, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
    assert_true(p == at);
    return p;
}

/* Detach, then the same addresses with other memory: the old translation is
 * gone before memory_detach returns, whatever comes next at the address. */
static void test_translation_reuse(void **state)
{
    (void)state;
    ih_driver d;
    void *q, *dev = atc_open(&d, &q);
    const size_t size = 4 * 4096;
    int fd1, fd2, fd3;
    size_t ms;
    uint8_t *va = memfd_map(size, &fd1, &ms); /* the address every step reuses */
    fill_data(va, size, 21);
    uint8_t *old = malloc(size);
    assert_non_null(old);
    memcpy(old, va, size); /* fd1 keeps these pages after they leave va */
    void *sha = fn_get(&d, dev, "sha256");

    /* 1. memfd memory at va: a translation. */
    void *mem = attach_desc(&d, dev, va, size, fd1, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(old, size));
    d.t->memory_detach(dev, mem);
    munmap(va, size);

    /* 2. host memory (no fd) at the same address, other bytes. */
    uint8_t *p = map_at(va, size, -1);
    fill_data(p, size, 22);
    mem = attach_desc(&d, dev, p, size, -1, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(p, size));
    assert_int_equal(run_crc(&d, dev, q, mem, 4000, 200), ref_crc32c(p + 4000, 200));
    uint8_t digest[32];
    void *dm = attach_desc(&d, dev, digest, sizeof(digest), -1, 0);
    accel_icd_arg sargs[2] = {ih_mem(mem, 0, size), ih_mem(dm, 0, 32)};
    assert_int_equal(ih_run(&d, q, sha, sargs, 2, 0, 0), ACCEL_SUCCESS);
#ifdef HAVE_LIBCRYPTO
    uint8_t ref[32];
    SHA256(p, size, ref);
    assert_memory_equal(digest, ref, 32);
#endif
    accel_icd_arg fargs[2] = {ih_mem(mem, 8000, 300), ih_u32(0x77777777)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(p[8000], 0x77);
    assert_int_equal(p[8299], 0x77);
    uint8_t check[4];
    assert_int_equal(pread(fd1, check, 1, 8000), 1);
    assert_int_equal(check[0], old[8000]); /* nothing went to the old pages */
    d.t->memory_detach(dev, mem);
    munmap(p, size);

    /* 3. another memfd at the same address: its own translation. */
    uint8_t *tmp = memfd_map(size, &fd2, &ms);
    munmap(tmp, ms);
    p = map_at(va, size, fd2);
    fill_data(p, size, 23);
    mem = attach_desc(&d, dev, p, size, fd2, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(p, size));
    fargs[0] = ih_mem(mem, 8000, 300);
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(p[8000], 0x77);
    d.t->memory_detach(dev, mem);
    munmap(p, size);

    /* 4. the same, with the fd's pages differing from the address's (as in
     * test_translation_path): the answer comes from the new entry, not a
     * stale one (fd2's bytes), nor a refused one (the address's). */
    tmp = memfd_map(size, &fd3, &ms);
    fill_data(tmp, size, 24);
    uint32_t want = ref_crc32c(tmp, size);
    munmap(tmp, ms);
    p = map_at(va, size, -1);
    fill_data(p, size, 25);
    mem = attach_desc(&d, dev, p, size, fd3, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), want);
    d.t->memory_detach(dev, mem);
    /* 5. and once detached, the address's own bytes again. */
    mem = attach_desc(&d, dev, p, size, -1, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(p, size));
    d.t->memory_detach(dev, mem);
    d.t->memory_detach(dev, dm);
    munmap(p, size);
    close(fd1);
    close(fd2);
    close(fd3);
    free(old);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* Requests that run past the end of a translation entry (the rest of the
 * range is host memory attached separately): the emulator maps only the
 * entry's pages, so a read or write beyond them through its mapping would
 * kill it. Every function, in and across the boundary. */
static void test_translation_span(void **state)
{
    (void)state;
    ih_driver d;
    void *q, *dev = atc_open(&d, &q);
    const size_t size = 3 * 4096;
    int fd;
    size_t ms;
    uint8_t *v = memfd_map(size, &fd, &ms);
    fill_data(v, size, 31);
    uint8_t *copy = malloc(size);
    assert_non_null(copy);

    for (int layout = 0; layout < 2; layout++) {
        /* layout 0: the entry is the first page; 1: bytes [100, 3100). */
        void *entry = layout == 0 ? attach_desc(&d, dev, v, 4096, fd, 0)
                                  : attach_desc(&d, dev, v + 100, 3000, fd, 100);
        void *all = attach_desc(&d, dev, v, size, -1, 0);
        const uint64_t ranges[][2] = {{0, size},  {100, 8000}, {4092, 8},
                                      {50, 100},  {3000, 200}, {4096, 4096}};
        for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
            assert_int_equal(run_crc(&d, dev, q, all, ranges[i][0], ranges[i][1]),
                             ref_crc32c(v + ranges[i][0], ranges[i][1]));
        /* sha256 across the end */
        uint8_t digest[40];
        memset(digest, 0xA5, sizeof(digest));
        void *dm = attach_desc(&d, dev, digest, sizeof(digest), -1, 0);
        accel_icd_arg sargs[2] = {ih_mem(all, 10, 6000), ih_mem(dm, 0, 40)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "sha256"), sargs, 2, 0, 0), ACCEL_SUCCESS);
#ifdef HAVE_LIBCRYPTO
        uint8_t ref[32];
        SHA256(v + 10, 6000, ref);
        assert_memory_equal(digest, ref, 32);
#endif
        assert_int_equal(digest[32], 0xA5);
        /* fill and copy whose destination crosses the end */
        memcpy(copy, v, size);
        accel_icd_arg fargs[2] = {ih_mem(all, 4000, 200), ih_u32(0x5a5a5a5a)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.fill"), fargs, 2, 0, 0), ACCEL_SUCCESS);
        memset(copy + 4000, 0x5a, 200);
        accel_icd_arg cargs[2] = {ih_mem(all, 0, 3000), ih_mem(all, 3500, 3000)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.copy"), cargs, 2, 0, 0), ACCEL_SUCCESS);
        memmove(copy + 3500, copy, 3000);
        assert_memory_equal(v, copy, size);
        /* copy through the entry handle itself, then deflate a source
         * across the end and inflate it back into a range across it. */
        accel_icd_arg eargs[2] = {ih_mem(entry, 0, 1000), ih_mem(entry, 1500, 1000)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "accel.copy"), eargs, 2, 0, 0), ACCEL_SUCCESS);
        uint64_t eoff = layout == 0 ? 0 : 100;
        memmove(copy + eoff + 1500, copy + eoff, 1000);
        assert_memory_equal(v, copy, size);
        uint8_t z[9000], zsize[8];
        void *zm = attach_desc(&d, dev, z, sizeof(z), -1, 0), *zs = attach_desc(&d, dev, zsize, 8, -1, 0);
        accel_icd_arg dargs[4] = {ih_mem(all, 2000, 7000), ih_mem(zm, 0, sizeof(z)), ih_mem(zs, 0, 8),
                                  arg_i32(-1)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "zlib.deflate"), dargs, 4, 0, 0), ACCEL_SUCCESS);
        uint64_t zlen = get_le(zsize, 8);
        memset(v + 3000, 0, 7000);
        accel_icd_arg iargs[3] = {ih_mem(zm, 0, zlen), ih_mem(all, 3000, 7000), ih_mem(zs, 0, 8)};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "zlib.inflate"), iargs, 3, 0, 0), ACCEL_SUCCESS);
        assert_int_equal(get_le(zsize, 8), 7000);
        assert_memory_equal(v + 3000, copy + 2000, 7000);
        d.t->memory_detach(dev, zm);
        d.t->memory_detach(dev, zs);
        d.t->memory_detach(dev, dm);
        d.t->memory_detach(dev, all);
        d.t->memory_detach(dev, entry);
        fill_data(v, size, 32 + layout);
    }
    free(copy);
    munmap(v, ms);
    close(fd);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* One control message on a fresh connection to emulator `name`; returns
 * the reply's status, *a its first value. */
static int ctl(int s, uint32_t type, int fd, uint64_t a, uint64_t b, uint64_t c, uint64_t *ret)
{
    wd_msg m = {.magic = WD_MSG_MAGIC, .type = type, .a = a, .b = b, .c = c};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof(u));
    struct iovec iov = {&m, sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    assert_int_equal(sendmsg(s, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(m));
    assert_int_equal(recv(s, &m, sizeof(m), 0), (ssize_t)sizeof(m));
    assert_int_equal(m.type, type);
    if (ret)
        *ret = m.a;
    return m.status;
}

static int ctl_connect(const char *name)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", DEVROOT, name) < (int)sizeof(a.sun_path));
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    return s;
}

/* The control messages themselves: bad requests are refused without harm,
 * entries belong to their connection, and go when it ends. */
static void test_translation_messages(void **state)
{
    (void)state;
    const size_t size = 2 * 4096;
    int fd;
    size_t ms;
    uint8_t *via_fd = memfd_map(size, &fd, &ms);
    uint8_t *at_va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(at_va != MAP_FAILED);
    fill_data(via_fd, size, 41);
    fill_data(at_va, size, 42);
    uint64_t va = (uint64_t)(uintptr_t)at_va, id = 0, id2 = 0;

    int s = ctl_connect("wd_atc-4");
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, -1, 0, size, va, NULL), EINVAL);      /* no fd */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, 0, va, NULL), EINVAL);         /* empty */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, size + 1, va, NULL), EINVAL);  /* past the file */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, 16, UINT64_MAX - 8, NULL), EINVAL); /* wraps */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_REMOVE, -1, 12345678, 0, 0, NULL), ENOENT);
    assert_int_equal(ctl(s, WD_MSG_REGISTER, fd, 0, size, 0, NULL), EOPNOTSUPP);       /* regions: non-SVA */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, size, va, &id), 0);
    assert_true(id != 0);
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, 4096, va + 4095, NULL), EEXIST); /* overlaps */
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, 4096, va - 4095, NULL), EEXIST);
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, 4096, va + size, &id2), 0);     /* adjacent */
    /* Another connection can neither remove it nor add over it; its own
     * entry at the same address would be another process's. */
    int s2 = ctl_connect("wd_atc-4");
    assert_int_equal(ctl(s2, WD_MSG_TRANSLATE_REMOVE, -1, id, 0, 0, NULL), ENOENT);
    assert_int_equal(ctl(s2, WD_MSG_TRANSLATE_ADD, fd, 0, size, va, NULL), EEXIST);
    close(s2);
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_REMOVE, -1, id2, 0, 0, NULL), 0);
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_REMOVE, -1, id2, 0, 0, NULL), ENOENT);

    /* The entry is this process's: a queue of the driver in this process
     * sees the fd's bytes at va, until the connection that added it ends. */
    ih_driver d;
    void *q, *dev = atc_open(&d, &q);
    void *mem = attach_desc(&d, dev, at_va, size, -1, 0);
    assert_int_equal(run_crc(&d, dev, q, mem, 0, size), ref_crc32c(via_fd, size));
    close(s);
    bool gone = false;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = run_crc(&d, dev, q, mem, 0, size) == ref_crc32c(at_va, size);
        if (!gone)
            usleep(10000);
    }
    assert_true(gone);
    d.t->memory_detach(dev, mem);
    d.t->queue_destroy(q);
    ih_close(&d);

    /* Without SVA the message is refused. */
    s = ctl_connect("wd_nosva-1");
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_ADD, fd, 0, size, va, NULL), EOPNOTSUPP);
    assert_int_equal(ctl(s, WD_MSG_TRANSLATE_REMOVE, -1, 1, 0, 0, NULL), ENOENT);
    close(s);
    munmap(at_va, size);
    munmap(via_fd, ms);
    close(fd);
}

/* Whether every thread of pid is stopped (state T in /proc). */
static bool all_threads_stopped(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool all = true;
    struct dirent *t;
    while (all && (t = readdir(d))) {
        if (t->d_name[0] == '.')
            continue;
        char path[400], st[512];
        snprintf(path, sizeof(path), "%s/%s/stat", dir, t->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread ended */
        size_t got = fread(st, 1, sizeof(st) - 1, f);
        fclose(f);
        st[got] = '\0';
        const char *paren = strrchr(st, ')');
        all = paren && paren[1] == ' ' && paren[2] == 'T';
    }
    closedir(d);
    return all;
}

/* An emulator that does not confirm the removal of a translation (stopped
 * here) might still use it after the pages are gone: memory_detach returns
 * after its timeout and the device is lost from then on. */
static void test_translation_unanswered(void **state)
{
    (void)state;
    emu_start("wd_stop-5", "--algorithms", "crc32c", NULL);
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    int i = find_dev(&d, "wd_stop-5");
    assert_true(i >= 0);
    void *dev = d.devices[i], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    buf in = buf_new_kind(&d, dev, 4096, NULL, BUF_MEMFD);
    fill_data(in.p, 4096, 51);
    assert_int_equal(run_crc(&d, dev, q, in.mem, 0, 4096), ref_crc32c(in.p, 4096));
    emu *e = emu_slot("wd_stop-5");
    kill(e->pid, SIGSTOP);
    /* The stop takes effect as each of its threads takes the signal. */
    bool stopped = false;
    for (int k = 0; k < 1000 && !stopped; k++) {
        stopped = all_threads_stopped(e->pid);
        if (!stopped)
            usleep(1000);
    }
    assert_true(stopped);
    d.t->memory_detach(dev, in.mem);
    kill(e->pid, SIGCONT);
    uint8_t out[4];
    void *m = attach_desc(&d, dev, out, 4, -1, 0);
    accel_icd_arg args[2] = {ih_mem(m, 0, 4), ih_mem(m, 0, 4)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "crc32c"), args, 2, 0, 0), ACCEL_ERROR_DEVICE_LOST);
    void *q2;
    assert_int_equal(d.t->queue_create(dev, &q2), ACCEL_ERROR_DEVICE_LOST);
    d.t->memory_detach(dev, m);
    munmap(in.p, in.map_size);
    close(in.fd);
    d.t->queue_destroy(q);
    ih_close(&d);
    emu_signal("wd_stop-5", SIGTERM);
}

static void test_busy(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_nosva-1")], *q[3];
    assert_int_equal(d.t->queue_create(dev, &q[0]), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(dev, &q[1]), ACCEL_SUCCESS);
    assert_int_equal(query_u32(&d, dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 0);
    assert_int_equal(d.t->queue_create(dev, &q[2]), ACCEL_ERROR_BUSY);
    d.t->queue_destroy(q[0]);
    assert_int_equal(query_u32(&d, dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 1);
    assert_int_equal(d.t->queue_create(dev, &q[2]), ACCEL_SUCCESS);
    d.t->queue_destroy(q[1]);
    d.t->queue_destroy(q[2]);
    assert_int_equal(query_u32(&d, dev, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 2);
    ih_close(&d);
}

/* A failed submission breaks its queue; fences of another queue are waited
 * for; many submissions in flight wrap the ring. */
static void test_queue_semantics(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_sva-0")], *q, *q2;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(dev, &q2), ACCEL_SUCCESS);
    void *crc = fn_get(&d, dev, "crc32c");

    /* 1000 submissions in flight (ring of 256), then all waited. */
    static uint8_t data[1000][16];
    static uint8_t out[1000][4];
    buf in = buf_new(&d, dev, sizeof(data), NULL), res = buf_new(&d, dev, sizeof(out), NULL);
    for (int i = 0; i < 1000; i++)
        memset(in.p + 16 * i, i, 16);
    void *fences[1000];
    for (int i = 0; i < 1000; i++) {
        accel_icd_arg a[2] = {ih_mem(in.mem, 16 * i, 16), ih_mem(res.mem, 4 * i, 4)};
        accel_icd_submit s = {.struct_size = sizeof(s), .function = crc, .args = a, .arg_count = 2};
        assert_int_equal(d.t->queue_submit(i % 2 ? q2 : q, &s, &fences[i]), ACCEL_SUCCESS);
    }
    for (int i = 999; i >= 0; i--) {
        assert_int_equal(d.t->fence_wait(fences[i], UINT64_MAX), ACCEL_SUCCESS);
        assert_int_equal(get_le(res.p + 4 * i, 4), ref_crc32c(in.p + 16 * i, 16));
        d.t->fence_release(fences[i]);
    }

    /* Cross-queue wait fence. */
    accel_icd_arg a1[2] = {ih_mem(in.mem, 0, 4096), ih_mem(res.mem, 0, 4)};
    accel_icd_submit s1 = {.struct_size = sizeof(s1), .function = crc, .args = a1, .arg_count = 2};
    void *f1, *f2;
    assert_int_equal(d.t->queue_submit(q, &s1, &f1), ACCEL_SUCCESS);
    accel_icd_arg a2[2] = {ih_mem(res.mem, 0, 4), ih_mem(res.mem, 4, 4)};
    accel_icd_submit s2 = {.struct_size = sizeof(s2), .function = crc, .args = a2, .arg_count = 2,
                           .wait_fence_count = 1, .wait_fences = &f1};
    assert_int_equal(d.t->queue_submit(q2, &s2, &f2), ACCEL_SUCCESS);
    assert_int_equal(d.t->fence_wait(f2, UINT64_MAX), ACCEL_SUCCESS);
    assert_int_equal(d.t->fence_status(f1), ACCEL_SUCCESS);
    assert_int_equal(get_le(res.p + 4, 4), ref_crc32c(res.p, 4));
    d.t->fence_release(f1);
    d.t->fence_release(f2);

    /* Corrupt inflate input fails, and breaks the queue. */
    void *inf = fn_get(&d, dev, "zlib.inflate");
    memset(in.p, 0x5a, 64);
    accel_icd_arg ia[3] = {ih_mem(in.mem, 0, 64), ih_mem(in.mem, 64, 256), ih_mem(res.mem, 0, 8)};
    assert_int_equal(ih_run(&d, q, inf, ia, 3, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_run(&d, q, crc, a1, 2, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    /* deflate without its level is refused at once (nothing queued, the
     * queue stays usable); into a too-small destination it fails. */
    void *def = fn_get(&d, dev, "zlib.deflate");
    fill_data(in.p, 4096, 3);
    accel_icd_arg da[4] = {ih_mem(in.mem, 0, 4096), ih_mem(in.mem, 8000, 10), ih_mem(res.mem, 0, 8), arg_i32(6)};
    accel_icd_submit s3 = {.struct_size = sizeof(s3), .function = def, .args = da, .arg_count = 3};
    void *f3 = NULL;
    assert_int_equal(d.t->queue_submit(q2, &s3, &f3), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_null(f3);
    assert_int_equal(ih_run(&d, q2, def, da, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_run(&d, q2, fn_get(&d, dev, "accel.noop"), NULL, 0, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);

    buf_free(&d, dev, &in);
    buf_free(&d, dev, &res);
    d.t->queue_destroy(q);
    d.t->queue_destroy(q2);
    ih_close(&d);
}

/* ---- deflate levels ---------------------------------------------------------------- */

/* Bytes no compressor can shrink. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 32);
    }
}

/* deflate src[0, n) on the device at `level` into exactly `cap` bytes
 * (followed by guard bytes that must stay), check that zlib inflates the
 * output back to src, and return its length. */
static uint64_t device_deflate(ih_driver *d, void *dev, void *q, const buf *src, uint64_t n, int32_t level,
                               uint64_t cap, buf_kind kind)
{
    buf z = buf_new_kind(d, dev, cap + 16, NULL, kind), sz = buf_new_kind(d, dev, 16, NULL, kind);
    accel_icd_arg args[4] = {ih_mem(src->mem, 0, n), ih_mem(z.mem, 0, cap), ih_mem(sz.mem, 0, 8), arg_i32(level)};
    accel_result r = ih_run(d, q, fn_get(d, dev, "zlib.deflate"), args, 4, 0, 0);
    if (r != ACCEL_SUCCESS)
        fail_msg("zlib.deflate of %llu bytes at level %d into %llu: %d", (unsigned long long)n, (int)level,
                 (unsigned long long)cap, (int)r);
    buf_sync(d, dev, &z);
    buf_sync(d, dev, &sz);
    uint64_t zlen = get_le(sz.p, 8);
    assert_true(zlen >= 8 && zlen <= cap);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(z.p[cap + i], 0xA5);
        assert_int_equal(sz.p[8 + i / 2], 0xA5);
    }
    uint8_t *back = malloc(n + 1);
    assert_non_null(back);
    uLongf blen = n + 1;
    int zr = uncompress(back, &blen, z.p, zlen);
    if (zr != Z_OK || blen != n || memcmp(back, src->p, n) != 0)
        fail_msg("level %d, %llu bytes: zlib does not inflate the output back (%d, %lu bytes)", (int)level,
                 (unsigned long long)n, zr, (unsigned long)blen);
    /* Levels from 1 are zlib's own (same window and memory level), so the
     * stream is the one zlib makes whenever that fits: proof that the level
     * reached the device. Level 0 is stored blocks only. */
    if (level != 0) {
        uLongf rlen = compressBound(n);
        uint8_t *ref = malloc(rlen);
        assert_non_null(ref);
        assert_int_equal(compress2(ref, &rlen, src->p, n, level), Z_OK);
        if (rlen <= cap && (rlen != zlen || memcmp(ref, z.p, zlen) != 0))
            fail_msg("level %d, %llu bytes: %llu bytes, zlib makes %lu others", (int)level, (unsigned long long)n,
                     (unsigned long long)zlen, (unsigned long)rlen);
        free(ref);
    } else {
        uint64_t blocks = n ? (n + 65534) / 65535 : 1;
        assert_int_equal(zlen, n + 5 * blocks + 6);
    }
    free(back);
    buf_free(d, dev, &z);
    buf_free(d, dev, &sz);
    return zlen;
}

/* Every level (-1 and 0..9) at the sizes around a stored block: zlib
 * inflates the device's output, and the device inflates zlib's streams of
 * every level. */
static void test_deflate_levels(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_atc-4")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    void *inf = fn_get(&d, dev, "zlib.inflate");
    static const size_t sizes[] = {0, 1, 65535, 65536, MIB + 7};
    uint64_t t0 = now_ns();
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *data = malloc(n ? n : 1);
        assert_non_null(data);
        fill_data(data, n, (uint32_t)k);
        buf src = buf_new_kind(&d, dev, n, data, k % 2 ? BUF_MEMFD : BUF_HOST);
        uint64_t stored = 0;
        for (int32_t level = -1; level <= 9; level++) {
            uint64_t zlen = device_deflate(&d, dev, q, &src, n, level, deflate_bound(n), k % 2 ? BUF_HOST : BUF_MEMFD);
            if (level == 0)
                stored = zlen;
            else if (level > 0 && n >= 65535)
                assert_true(zlen < stored); /* it compresses */

            /* zlib's stream at this level, inflated by the device. */
            uLongf rlen = compressBound(n);
            uint8_t *ref = malloc(rlen);
            assert_non_null(ref);
            assert_int_equal(compress2(ref, &rlen, data, n, level), Z_OK);
            buf rz = buf_new_kind(&d, dev, rlen, ref, BUF_HOST), out = buf_new_kind(&d, dev, n + 4, NULL, BUF_MEMFD),
                sz = buf_new_kind(&d, dev, 8, NULL, BUF_HOST);
            accel_icd_arg ia[3] = {ih_mem(rz.mem, 0, rlen), ih_mem(out.mem, 0, n), ih_mem(sz.mem, 0, 8)};
            assert_int_equal(ih_run(&d, q, inf, ia, 3, 0, 0), ACCEL_SUCCESS);
            assert_int_equal(get_le(sz.p, 8), n);
            assert_memory_equal(out.p, data, n);
            assert_int_equal(out.p[n], 0xA5);
            free(ref);
            buf_free(&d, dev, &rz);
            buf_free(&d, dev, &out);
            buf_free(&d, dev, &sz);
        }
        buf_free(&d, dev, &src);
        free(data);
    }
    print_message("deflate and inflate at 11 levels x 5 sizes: %.2f s\n", (now_ns() - t0) / 1e9);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* Data that does not compress, into exactly the documented bound: zlib at
 * levels from 1 would need more room (its stored blocks are shorter than
 * 65535 bytes); the device still fits, and the queue goes on working. The
 * destination in place (memfd: the emulator's mapping) and not (host
 * memory: written back). */
static void test_deflate_incompressible_bound(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_atc-4")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    static const size_t sizes[] = {65535, 65536, 2 * 65535 + 1, MIB};
    static const int32_t levels[] = {0, 1, 6, 9};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *data = malloc(n);
        assert_non_null(data);
        fill_random(data, n, k + 1);
        for (int kind = 0; kind < 2; kind++) {
            buf src = buf_new_kind(&d, dev, n, data, (buf_kind)kind);
            for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
                uint64_t zlen = device_deflate(&d, dev, q, &src, n, levels[l], deflate_bound(n), (buf_kind)kind);
                assert_true(zlen <= deflate_bound(n));
            }
            /* The queue is not broken. */
            buf out = buf_new_kind(&d, dev, 4, NULL, (buf_kind)kind);
            accel_icd_arg a[2] = {ih_mem(src.mem, 0, n), ih_mem(out.mem, 0, 4)};
            assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "crc32c"), a, 2, 0, 0), ACCEL_SUCCESS);
            assert_int_equal(get_le(out.p, 4), ref_crc32c(data, n));
            buf_free(&d, dev, &out);
            buf_free(&d, dev, &src);
        }
        free(data);
    }
    /* One byte less than a stored stream fails at level 0 and at 9. */
    size_t n = 65536;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    fill_random(data, n, 99);
    buf src = buf_new(&d, dev, n, data), z = buf_new(&d, dev, n + 16, NULL), sz = buf_new(&d, dev, 8, NULL);
    for (int32_t level = 0; level <= 9; level += 9) {
        void *q2;
        assert_int_equal(d.t->queue_create(dev, &q2), ACCEL_SUCCESS);
        accel_icd_arg a[4] = {ih_mem(src.mem, 0, n), ih_mem(z.mem, 0, n + 5 * 2 + 6 - 1), ih_mem(sz.mem, 0, 8),
                              arg_i32(level)};
        assert_int_equal(ih_run(&d, q2, fn_get(&d, dev, "zlib.deflate"), a, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
        d.t->queue_destroy(q2);
    }
    buf_free(&d, dev, &src);
    buf_free(&d, dev, &z);
    buf_free(&d, dev, &sz);
    free(data);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* A level outside -1..9 fails the submission with INVALID_ARGUMENT without
 * touching its ranges, and breaks the queue like any failed submission. */
static void test_deflate_bad_level(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_atc-4")];
    buf src = buf_new(&d, dev, 1000, NULL), z = buf_new(&d, dev, 2000, NULL), sz = buf_new(&d, dev, 8, NULL);
    static const int32_t bad[] = {-2, 10, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *q;
        assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
        accel_icd_arg a[4] = {ih_mem(src.mem, 0, 1000), ih_mem(z.mem, 0, 2000), ih_mem(sz.mem, 0, 8), arg_i32(bad[i])};
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "zlib.deflate"), a, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
        for (int k = 0; k < 2000; k++)
            assert_int_equal(z.p[k], 0xA5);
        for (int k = 0; k < 8; k++)
            assert_int_equal(sz.p[k], 0xA5);
        a[3] = arg_i32(6);
        assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "zlib.deflate"), a, 4, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
        d.t->queue_destroy(q);
    }
    buf_free(&d, dev, &src);
    buf_free(&d, dev, &z);
    buf_free(&d, dev, &sz);
    ih_close(&d);
}

/* ---- fence status without system calls --------------------------------------------- */

static _Atomic unsigned trapped;   /* system calls the filter stopped */
static _Atomic long trapped_nr;    /* the last one's number */

/* SIGSYS from the filter: count it, and let the call return 0 (for ppoll:
 * a timeout), so that a trapped wait does not look like a hang-up. */
static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    atomic_fetch_add(&trapped, 1);
    atomic_store(&trapped_nr, (long)si->si_syscall);
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = 0;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = 0;
#else
    (void)uc;
#endif
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* From now on the calling thread (only it) gets SIGSYS instead of any
 * system call that waits or talks to a device. False where seccomp is not
 * available. */
static bool trap_waiting_syscalls(void)
{
#ifdef TEST_AUDIT_ARCH
    static const long nrs[] = {
        __NR_ppoll, __NR_pselect6, __NR_epoll_pwait, __NR_nanosleep, __NR_clock_nanosleep, __NR_sched_yield,
        __NR_ioctl, __NR_recvmsg, __NR_sendmsg, __NR_recvfrom, __NR_sendto,
#ifdef __NR_poll
        __NR_poll,
#endif
#ifdef __NR_select
        __NR_select,
#endif
#ifdef __NR_epoll_wait
        __NR_epoll_wait,
#endif
    };
    enum { N = sizeof(nrs) / sizeof(nrs[0]) };
    struct sock_filter f[N + 5];
    unsigned k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 0, N + 1);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (unsigned i = 0; i < N; i++) /* a match jumps to the TRAP after the ALLOW */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nrs[i], (uint8_t)(N - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return false;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
#else
    return false;
#endif
}

typedef struct poll_job {
    ih_driver *d;
    void **fences;
    int count;
    void *queue, *noop; /* for the wait after polling */
    bool filtered;
    uint64_t polls, elapsed_ns;
    unsigned trapped_polling, trapped_ppoll, trapped_waiting;
    long nr_polling; /* the last system call trapped while polling, or -1 */
    accel_result results[64], late_result;
} poll_job;

/* Poll every fence's status until all completed, under the filter; then
 * the two controls: a direct ppoll, and a fence_wait, must be trapped. */
static void *status_poller(void *arg)
{
    poll_job *j = arg;
    if (!(j->filtered = trap_waiting_syscalls()))
        return NULL;
    uint64_t t0 = now_ns();
    for (int done = 0; done < j->count;) {
        done = 0;
        for (int i = 0; i < j->count; i++) {
            j->results[i] = j->d->t->fence_status(j->fences[i]);
            done += j->results[i] != ACCEL_NOT_READY;
            j->polls++;
        }
    }
    j->elapsed_ns = now_ns() - t0;
    j->trapped_polling = atomic_load(&trapped);
    j->nr_polling = j->trapped_polling ? atomic_load(&trapped_nr) : -1;
    struct timespec zero = {0, 0};
    ppoll(NULL, 0, &zero, NULL);
    j->trapped_ppoll = atomic_load(&trapped) - j->trapped_polling;
    /* Five more requests (10 ms; submitting makes no system call either),
     * waited for: the wait must sleep. */
    void *late[5];
    accel_icd_submit s = {.struct_size = sizeof(s), .function = j->noop};
    for (int i = 0; i < 5; i++)
        if (j->d->t->queue_submit(j->queue, &s, &late[i]) != ACCEL_SUCCESS)
            return NULL;
    unsigned before = atomic_load(&trapped);
    j->late_result = j->d->t->fence_wait(late[4], 10000000000ull);
    j->trapped_waiting = atomic_load(&trapped) - before;
    for (int i = 0; i < 5; i++)
        j->d->t->fence_release(late[i]);
    return NULL;
}

/* fence_status reads completions from the shared ring: a thread that polls
 * status while requests run (2 ms each) makes no system call that waits
 * or talks to the device (seccomp traps them: the same finding as
 * `strace -f -e trace=ppoll,poll` over such a loop, without the tool); only
 * fence_wait sleeps in ppoll. */
static void test_status_no_syscall(void **state)
{
    (void)state;
    emu_start("wd_poll-5", "--latency-us", "2000", "--algorithms", "crc32c", NULL);
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_poll-5")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    void *noop = fn_get(&d, dev, "accel.noop");
    void *fences[40];
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    for (int i = 0; i < 40; i++)
        assert_int_equal(d.t->queue_submit(q, &s, &fences[i]), ACCEL_SUCCESS);
    poll_job j = {.d = &d, .fences = fences, .count = 40, .queue = q, .noop = noop,
                  .late_result = ACCEL_NOT_READY};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, status_poller, &j), 0);
    pthread_join(t, NULL);
    if (!j.filtered) {
        print_message("seccomp filters are not available here: not checked\n");
    } else {
        print_message("%llu status polls over %.1f ms: %u system calls trapped (last: %ld); controls: a direct "
                      "ppoll %u, a fence_wait of 10 ms %u\n", (unsigned long long)j.polls, j.elapsed_ns / 1e6,
                      j.trapped_polling, j.nr_polling, j.trapped_ppoll, j.trapped_waiting);
        for (int i = 0; i < 40; i++)
            assert_int_equal(j.results[i], ACCEL_SUCCESS);
        assert_true(j.polls > 40); /* it did poll pending fences */
        /* None, unless the emulator's heartbeat stalled (a loaded machine):
         * then one liveness check per stale period at most. */
        if (j.trapped_polling > j.elapsed_ns / WD_HEARTBEAT_STALE_NS)
            fail_msg("%u system calls from %llu status polls in %.1f ms", j.trapped_polling,
                     (unsigned long long)j.polls, j.elapsed_ns / 1e6);
        assert_int_equal(j.trapped_ppoll, 1);    /* the filter works */
        assert_true(j.trapped_waiting >= 1);     /* and waiting does sleep in ppoll */
        assert_int_equal(j.late_result, ACCEL_SUCCESS);
    }
    for (int i = 0; i < 40; i++)
        d.t->fence_release(fences[i]);
    d.t->queue_destroy(q);
    ih_close(&d);
    emu_signal("wd_poll-5", SIGTERM);
}

typedef struct reaper_job {
    ih_driver *d;
    void **fences;
    _Atomic int *submitted; /* fences[0, *submitted) are set */
    int count;
    bool wait; /* fence_wait each one in turn, else poll all until done */
    accel_result worst;
} reaper_job;

static void *reaper(void *arg)
{
    reaper_job *j = arg;
    j->worst = ACCEL_SUCCESS;
    if (j->wait) {
        for (int i = 0; i < j->count; i++) {
            while (atomic_load(j->submitted) <= i)
                sched_yield();
            accel_result r = j->d->t->fence_wait(j->fences[i], 10000000000ull);
            if (r != ACCEL_SUCCESS)
                j->worst = r;
        }
        return NULL;
    }
    for (int done = 0; done < j->count;) {
        int n = atomic_load(j->submitted);
        done = 0;
        for (int i = 0; i < n; i++) {
            accel_result r = j->d->t->fence_status(j->fences[i]);
            done += r != ACCEL_NOT_READY;
            if (r != ACCEL_NOT_READY && r != ACCEL_SUCCESS)
                j->worst = r;
        }
    }
    return NULL;
}

/* Two threads polling and one waiting on the same queue's fences while more
 * are submitted and the ring wraps: every result lands once, in its fence
 * (for TSan). */
static void test_status_concurrent(void **state)
{
    (void)state;
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_sva-0")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    void *crc = fn_get(&d, dev, "crc32c");
    enum { N = 600 };
    buf in = buf_new(&d, dev, 16 * N, NULL), out = buf_new(&d, dev, 4 * N, NULL);
    for (int i = 0; i < N; i++)
        memset(in.p + 16 * i, i * 7, 16);
    void **fences = calloc(N, sizeof(*fences));
    assert_non_null(fences);
    _Atomic int submitted = 0;
    reaper_job jobs[3];
    pthread_t t[3];
    for (int k = 0; k < 3; k++) {
        jobs[k] = (reaper_job){.d = &d, .fences = fences, .submitted = &submitted, .count = N, .wait = k == 2};
        assert_int_equal(pthread_create(&t[k], NULL, reaper, &jobs[k]), 0);
    }
    for (int i = 0; i < N; i++) {
        accel_icd_arg a[2] = {ih_mem(in.mem, 16 * i, 16), ih_mem(out.mem, 4 * i, 4)};
        accel_icd_submit s = {.struct_size = sizeof(s), .function = crc, .args = a, .arg_count = 2};
        assert_int_equal(d.t->queue_submit(q, &s, &fences[i]), ACCEL_SUCCESS);
        atomic_store(&submitted, i + 1);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(jobs[k].worst, ACCEL_SUCCESS);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(get_le(out.p + 4 * i, 4), ref_crc32c(in.p + 16 * i, 16));
        d.t->fence_release(fences[i]);
    }
    free(fences);
    buf_free(&d, dev, &in);
    buf_free(&d, dev, &out);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* Status polls alone notice a device that died: its heartbeat stops, and
 * then (only then) a poll asks the kernel. */
static void test_status_device_lost(void **state)
{
    (void)state;
    emu_start("wd_dead-6", "--latency-us", "100000", "--algorithms", "crc32c", NULL);
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    void *dev = d.devices[find_dev(&d, "wd_dead-6")], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    void *noop = fn_get(&d, dev, "accel.noop");
    void *fences[10];
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    for (int i = 0; i < 10; i++)
        assert_int_equal(d.t->queue_submit(q, &s, &fences[i]), ACCEL_SUCCESS);
    usleep(50000);
    assert_int_equal(d.t->fence_status(fences[9]), ACCEL_NOT_READY);
    uint64_t t0 = now_ns();
    emu_signal("wd_dead-6", SIGKILL);
    accel_result r;
    uint64_t polls = 0;
    while ((r = d.t->fence_status(fences[9])) == ACCEL_NOT_READY && now_ns() - t0 < 5000000000ull)
        polls++;
    uint64_t elapsed = now_ns() - t0;
    print_message("device lost: found by status polls %.1f ms after SIGKILL (%llu polls)\n", elapsed / 1e6,
                  (unsigned long long)polls);
    assert_int_equal(r, ACCEL_ERROR_DEVICE_LOST);
    assert_true(elapsed < 1000000000ull);
    for (int i = 1; i < 10; i++) {
        accel_result ri = d.t->fence_status(fences[i]);
        assert_true(ri == ACCEL_ERROR_DEVICE_LOST || ri == ACCEL_SUCCESS);
    }
    for (int i = 0; i < 10; i++)
        d.t->fence_release(fences[i]);
    d.t->queue_destroy(q);
    ih_close(&d);
}

/* SIGKILL the emulator under a queue of long requests: every pending fence
 * fails with DEVICE_LOST within a second, later ones too, nothing hangs; a
 * restarted emulator is found again by a new driver instance. */
static void test_device_lost(void **state)
{
    (void)state;
    emu_start("wd_slow-3", "--latency-us", "100000", "--algorithms", "crc32c", NULL);
    ih_driver d;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    int i = find_dev(&d, "wd_slow-3");
    assert_true(i >= 0);
    uint8_t uuid[ACCEL_UUID_SIZE];
    memcpy(uuid, d.info[i].uuid, sizeof(uuid));
    void *dev = d.devices[i], *q;
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    void *crc = fn_get(&d, dev, "crc32c");
    buf in = buf_new(&d, dev, 4096, NULL), out = buf_new(&d, dev, 4 * 20, NULL);
    void *fences[20];
    for (int k = 0; k < 20; k++) {
        accel_icd_arg a[2] = {ih_mem(in.mem, 0, 4096), ih_mem(out.mem, 4 * k, 4)};
        accel_icd_submit s = {.struct_size = sizeof(s), .function = crc, .args = a, .arg_count = 2};
        assert_int_equal(d.t->queue_submit(q, &s, &fences[k]), ACCEL_SUCCESS);
    }
    /* A waiter blocked when the device dies. */
    assert_int_equal(d.t->fence_wait(fences[0], 5000000000ull), ACCEL_SUCCESS);
    assert_int_equal(d.t->fence_status(fences[19]), ACCEL_NOT_READY);
    usleep(50000);
    uint64_t t0 = now_ns();
    emu_signal("wd_slow-3", SIGKILL);
    int lost = 0;
    for (int k = 1; k < 20; k++) {
        accel_result r = d.t->fence_wait(fences[k], 5000000000ull);
        assert_true(r == ACCEL_SUCCESS || r == ACCEL_ERROR_DEVICE_LOST);
        lost += r == ACCEL_ERROR_DEVICE_LOST;
    }
    uint64_t elapsed = now_ns() - t0;
    print_message("device lost: %d of 19 pending fences failed, all settled %.1f ms after SIGKILL\n", lost,
                  elapsed / 1e6);
    assert_true(lost >= 15);
    assert_true(elapsed < 1000000000ull);
    assert_int_equal(d.t->fence_status(fences[19]), ACCEL_ERROR_DEVICE_LOST);
    /* Later submissions fail the same way, at once. */
    accel_icd_arg a[2] = {ih_mem(in.mem, 0, 4096), ih_mem(out.mem, 0, 4)};
    assert_int_equal(ih_run(&d, q, crc, a, 2, 0, 0), ACCEL_ERROR_DEVICE_LOST);
    for (int k = 0; k < 20; k++)
        d.t->fence_release(fences[k]);
    d.t->queue_destroy(q);
    /* New queues on the dead device fail, without hanging. */
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_ERROR_DEVICE_LOST);
    buf_free(&d, dev, &in);
    buf_free(&d, dev, &out);
    ih_close(&d);

    /* Restart: a new driver instance finds the device again, same uuid. */
    emu_start("wd_slow-3", "--algorithms", "crc32c", NULL);
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    i = find_dev(&d, "wd_slow-3");
    assert_true(i >= 0);
    assert_memory_equal(d.info[i].uuid, uuid, ACCEL_UUID_SIZE);
    dev = d.devices[i];
    assert_int_equal(d.t->queue_create(dev, &q), ACCEL_SUCCESS);
    in = buf_new(&d, dev, 4096, NULL);
    out = buf_new(&d, dev, 4, NULL);
    accel_icd_arg b[2] = {ih_mem(in.mem, 0, 4096), ih_mem(out.mem, 0, 4)};
    assert_int_equal(ih_run(&d, q, fn_get(&d, dev, "crc32c"), b, 2, 0, 0), ACCEL_SUCCESS);
    assert_int_equal(get_le(out.p, 4), ref_crc32c(in.p, 4096));
    d.t->queue_destroy(q);
    buf_free(&d, dev, &in);
    buf_free(&d, dev, &out);
    ih_close(&d);
    emu_signal("wd_slow-3", SIGTERM);
}

static void test_no_devices(void **state)
{
    (void)state;
    ih_driver d;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_UACCE_SYSFS_ROOT", "/nonexistent-accel-test");
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 0);
    ih_close(&d);
    ts_env_pop_to(depth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test_setup_teardown(test_no_devices, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test(test_isolated),
        cmocka_unit_test(test_functions_sva),
        cmocka_unit_test(test_functions_nosva_staged),
        cmocka_unit_test(test_deflate_64mib),
        cmocka_unit_test(test_deflate_levels),
        cmocka_unit_test(test_deflate_incompressible_bound),
        cmocka_unit_test(test_deflate_bad_level),
        cmocka_unit_test(test_attach_modes),
        cmocka_unit_test(test_translation_functions),
        cmocka_unit_test(test_translation_path),
        cmocka_unit_test(test_translation_reuse),
        cmocka_unit_test(test_translation_span),
        cmocka_unit_test(test_translation_messages),
        cmocka_unit_test(test_translation_unanswered),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_queue_semantics),
        cmocka_unit_test(test_status_no_syscall),
        cmocka_unit_test(test_status_concurrent),
        cmocka_unit_test(test_status_device_lost),
        cmocka_unit_test(test_device_lost),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
