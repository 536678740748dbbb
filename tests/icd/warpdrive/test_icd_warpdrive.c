/* test_icd_warpdrive.c — the warpdrive (uacce) driver through its function
 * table, without the loader (icd_harness.h), against emulated uacce devices
 * (accel-uacce-emulator, started as children in a temporary root):
 * discovery and attributes, isolation, every offered standard function
 * against references computed here (bitwise CRC-32C, libcrypto's SHA-256,
 * zlib), SVA zero-copy versus non-SVA pinned / staged memory, instance
 * exhaustion, broken queues, and device loss (SIGKILL of the emulator) and
 * recovery. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
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
#ifdef HAVE_LIBCRYPTO
#include <openssl/sha.h>
#endif

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
    setenv("ACCEL_UACCE_SYSFS_ROOT", SYSFS, 1);
    setenv("ACCEL_UACCE_DEV_ROOT", DEVROOT, 1);
    signal(SIGPIPE, SIG_IGN);
    emu_start("wd_sva-0", "--sva", "--instances", "4", "--algorithms", "zlib,crc32c,sha256", "--numa-node", "0",
              NULL);
    emu_start("wd_nosva-1", "--no-sva", "--instances", "2", "--algorithms", "deflate,crc32c,sha256,copy,fill",
              NULL);
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

/* A buffer the device can use: attached (ZERO_COPY / PINNED) or staged. */
typedef struct buf {
    uint8_t *p;
    uint64_t size;
    void *mem;
    int staged;
} buf;

static buf buf_new(ih_driver *d, void *dev, uint64_t size, const void *init)
{
    buf b = {.size = size};
    b.p = malloc(size ? size : 1);
    assert_non_null(b.p);
    if (init)
        memcpy(b.p, init, size);
    else
        memset(b.p, 0xA5, size);
    assert_int_equal(ih_attach(d, dev, b.p, size, &b.mem, &b.staged), ACCEL_SUCCESS);
    return b;
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
    free(b->p);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_discovery(void **state)
{
    (void)state;
    ih_driver d, d2;
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 2);
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
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_FLAGS), ACCEL_DEVICE_FLAG_SVA);
    assert_int_equal(query_u32(&d, sdev, ACCEL_DEVICE_PARAM_KIND), ACCEL_DEVICE_KIND_ASIC);

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
    assert_int_equal(d.device_count, 3);
    int i = find_dev(&d, "wd_iso-2");
    assert_true(i >= 0);
    void *dev = d.devices[i];
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
    assert_int_equal(d.device_count, 2);
    assert_int_equal(find_dev(&d, "wd_iso-2"), -1);
    ih_close(&d);
    emu_signal("wd_iso-2", SIGTERM);
    snprintf(path, sizeof(path), "%s/class/uacce/wd_iso-2", SYSFS);
    assert_int_not_equal(access(path, F_OK), 0); /* the tree is gone */
}

/* Every standard function the device offers, at one size, against the
 * references. */
static void check_functions(ih_driver *d, void *dev, void *q, size_t n, bool zlib_only)
{
    uint8_t *data = malloc(n ? n : 1);
    assert_non_null(data);
    fill_data(data, n, (uint32_t)n);
    buf src = buf_new(d, dev, n, data);
    void *fn;
    if (!zlib_only && d->t->function_get(dev, NULL, "crc32c", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new(d, dev, 4, NULL);
        accel_icd_arg args[2] = {ih_mem(src.mem, 0, n), ih_mem(out.mem, 0, 4)};
        assert_int_equal(ih_run(d, q, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        buf_sync(d, dev, &out);
        assert_int_equal(get_le(out.p, 4), ref_crc32c(data, n));
        buf_free(d, dev, &out);
    }
    if (!zlib_only && d->t->function_get(dev, NULL, "sha256", &fn, NULL) == ACCEL_SUCCESS) {
        buf out = buf_new(d, dev, 40, NULL);
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
        uint64_t bound = n + 5 * ((n + 65534) / 65535) + 11;
        buf z = buf_new(d, dev, bound, NULL), sz = buf_new(d, dev, 8, NULL);
        accel_icd_arg args[3] = {ih_mem(src.mem, 0, n), ih_mem(z.mem, 0, bound), ih_mem(sz.mem, 0, 8)};
        assert_int_equal(ih_run(d, q, fn, args, 3, 0, 0), ACCEL_SUCCESS);
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
        buf rz = buf_new(d, dev, rlen, ref), out = buf_new(d, dev, n + 16, NULL);
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
    buf_free(d, dev, &src);
    free(data);
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
    /* deflate into a too-small destination */
    void *def = fn_get(&d, dev, "zlib.deflate");
    fill_data(in.p, 4096, 3);
    accel_icd_arg da[3] = {ih_mem(in.mem, 0, 4096), ih_mem(in.mem, 8000, 10), ih_mem(res.mem, 0, 8)};
    assert_int_equal(ih_run(&d, q2, def, da, 3, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_run(&d, q2, fn_get(&d, dev, "accel.noop"), NULL, 0, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);

    buf_free(&d, dev, &in);
    buf_free(&d, dev, &res);
    d.t->queue_destroy(q);
    d.t->queue_destroy(q2);
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
    setenv("ACCEL_UACCE_SYSFS_ROOT", "/nonexistent-accel-test", 1);
    assert_int_equal(ih_open(&d, DRIVER_PATH), 0);
    assert_int_equal(d.device_count, 0);
    ih_close(&d);
    setenv("ACCEL_UACCE_SYSFS_ROOT", SYSFS, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_no_devices),
        cmocka_unit_test(test_isolated),
        cmocka_unit_test(test_functions_sva),
        cmocka_unit_test(test_functions_nosva_staged),
        cmocka_unit_test(test_deflate_64mib),
        cmocka_unit_test(test_attach_modes),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_queue_semantics),
        cmocka_unit_test(test_device_lost),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
