/* memory.c — group "memory": every way memory reaches a device (allocated,
 * imported host pointers aligned or not, imported file descriptors at an
 * offset, exported and imported again), whatever the attach mode the
 * device achieves, host mapping, detaching. The device moves the bytes
 * with accel.copy (and accel.fill where it offers it); every check also
 * looks at the bytes around the range, which must not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conformance.h"

#define GUARD 0xee

/* Copy n bytes src[so..] → dst[do..] on the device and wait. */
static void device_copy(conf_ctx *c, accel_queue *q, accel_function *copy, accel_memory *src, uint64_t so,
                        accel_memory *dst, uint64_t dof, uint64_t n)
{
    accel_arg args[2] = {conf_mem_arg(src, so, n), conf_mem_arg(dst, dof, n)};
    accel_result r = conf_run(c, q, copy, args, 2);
    CHECK(r == ACCEL_SUCCESS, "accel.copy of %llu bytes failed: %s; loader: %s", (unsigned long long)n,
          conf_rs(r), accel_last_error_message());
}

/* dst[off..off+n) must equal want, and every other byte of dst[0..size) be GUARD. */
static void expect_bytes(conf_ctx *c, const char *what, const unsigned char *dst, size_t size, size_t off,
                         const unsigned char *want, size_t n)
{
    long bad = conf_first_difference(dst + off, want, n);
    CHECK(bad < 0, "%s: byte %ld of the %zu copied differs (0x%02x, expected 0x%02x) (rule 18)", what, bad, n,
          bad >= 0 ? dst[off + (size_t)bad] : 0, bad >= 0 ? want[bad] : 0);
    bad = conf_first_not(dst, off, GUARD);
    CHECK(bad < 0, "%s: byte %ld before the range was written (rule 18)", what, bad);
    bad = conf_first_not(dst + off + n, size - off - n, GUARD);
    CHECK(bad < 0, "%s: byte %zu after the range was written (rule 18)", what, off + n + (size_t)bad);
}

static const char *mode_name(accel_attach_mode m)
{
    return accel_attach_mode_string(m);
}

static void test_memory_alloc_attach(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const uint64_t size = 64 * 1024 + 5;
    accel_memory *src = conf_alloc(c, size), *dst = conf_alloc(c, size);
    CHECK(accel_memory_size(src) == size, "accel_memory_size gives %llu for %llu bytes",
          (unsigned long long)accel_memory_size(src), (unsigned long long)size);
    unsigned char *s = conf_map(c, src), *d = conf_map(c, dst);
    CHECK(conf_first_not(s, size, 0) < 0, "new memory is not zero-filled");
    conf_fill_random(s, size, 1);
    memset(d, GUARD, size);
    accel_attach_mode m1 = conf_attach(c, src, NULL), m2 = conf_attach(c, dst, NULL);
    accel_attach_mode again = ACCEL_ATTACH_NONE;
    OK(accel_memory_attach(src, c->dev, &again));
    CHECK(again == m1, "attaching twice reported %s, then %s", mode_name(m1), mode_name(again));
    conf_note(c, "allocated memory attaches %s", mode_name(m1));
    accel_queue *q = conf_queue(c, NULL);
    device_copy(c, q, copy, src, 100, dst, 7, 30000);
    expect_bytes(c, "allocated memory", d, size, 7, s + 100, 30000);
    (void)m2;
}

static void test_memory_sizes(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_queue *q = conf_queue(c, NULL);
    /* One byte. */
    accel_memory *a = conf_alloc(c, 1), *b = conf_alloc(c, 1);
    conf_map(c, a)[0] = 0x42;
    conf_attach(c, a, NULL);
    conf_attach(c, b, NULL);
    device_copy(c, q, copy, a, 0, b, 0, 1);
    CHECK(conf_map(c, b)[0] == 0x42, "a one-byte copy gave 0x%02x", conf_map(c, b)[0]);
    /* 1 MiB, whole, then its last bytes to the start. */
    const uint64_t big = 1024 * 1024;
    accel_memory *x = conf_alloc(c, big), *y = conf_alloc(c, big);
    unsigned char *px = conf_map(c, x), *py = conf_map(c, y);
    conf_fill_random(px, big, 2);
    conf_attach(c, x, NULL);
    conf_attach(c, y, NULL);
    device_copy(c, q, copy, x, 0, y, 0, big);
    long bad = conf_first_difference(px, py, big);
    CHECK(bad < 0, "a 1 MiB copy differs at byte %ld (rule 18)", bad);
    memset(py, GUARD, big);
    device_copy(c, q, copy, x, big - 4099, y, 0, 4099);
    expect_bytes(c, "the end of 1 MiB", py, big, 0, px + big - 4099, 4099);
}

/* Host memory the application owns, at `ptr` (any alignment). */
static void host_import(conf_ctx *c, unsigned char *ptr, size_t size, const char *what)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    accel_function *fill = conf_builtin(c, NULL, "accel.fill");
    accel_memory *h = NULL;
    OK(accel_memory_import_host(conf.instance, ptr, size, 0, &h));
    conf_track(c, CONF_OBJ_MEMORY, h);
    void *mapped = NULL;
    OK(accel_memory_map(h, &mapped));
    CHECK(mapped == ptr, "accel_memory_map of imported host memory gives %p, not the imported %p", mapped,
          (void *)ptr);
    accel_attach_mode mode = conf_attach(c, h, NULL);
    conf_note(c, "%s attaches %s", what, mode_name(mode));
    accel_memory *other = conf_alloc(c, size);
    unsigned char *o = conf_map(c, other);
    conf_attach(c, other, NULL);
    accel_queue *q = conf_queue(c, NULL);

    /* The device reads what the host wrote after attaching. */
    conf_fill_random(ptr, size, 3);
    memset(o, GUARD, size);
    device_copy(c, q, copy, h, 5, other, 9, size - 20);
    expect_bytes(c, what, o, size, 9, ptr + 5, size - 20);
    /* The device writes into the application's own pages. */
    unsigned char *want = conf_malloc(c, size);
    conf_fill_random(o, size, 4);
    memcpy(want, o, size);
    memset(ptr, GUARD, size);
    device_copy(c, q, copy, other, 11, h, 3, size - 17);
    expect_bytes(c, what, ptr, size, 3, want + 11, size - 17);
    if (fill) {
        memset(ptr, GUARD, size);
        accel_arg args[2] = {conf_mem_arg(h, 1, 4001), conf_u32_arg(0x04030201u)};
        accel_result r = conf_run(c, q, fill, args, 2);
        CHECK(r == ACCEL_SUCCESS, "accel.fill failed: %s", conf_rs(r));
        unsigned char *pattern = conf_malloc(c, 4001);
        for (int i = 0; i < 4001; i++)
            pattern[i] = (unsigned char)(1 + i % 4);
        expect_bytes(c, what, ptr, size, 1, pattern, 4001);
    }
}

static void test_memory_import_host(conf_ctx *c)
{
    void *p = NULL;
    CHECK(posix_memalign(&p, 4096, 16384) == 0, "out of host memory in the suite");
    conf_track(c, CONF_OBJ_HEAP, p);
    host_import(c, p, 16384, "page-aligned host memory");
}

static void test_memory_import_host_unaligned(conf_ctx *c)
{
    unsigned char *p = conf_malloc(c, 12000);
    host_import(c, p + 13, 4097, "unaligned host memory");
}

/* Descriptors are tracked as fd + 1, so that descriptor 0 is not a NULL pointer. */
static void close_fd(void *p)
{
    close((int)(intptr_t)p - 1);
}

static void test_memory_import_fd(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const size_t file_size = 3 * 4096, offset = 4096 + 100, size = 5000;
    int fd = memfd_create("accel-conformance", MFD_CLOEXEC);
    CHECK(fd >= 0, "memfd_create failed");
    conf_defer(c, close_fd, (void *)(intptr_t)(fd + 1));
    CHECK(ftruncate(fd, (off_t)file_size) == 0, "ftruncate of a memfd failed");
    unsigned char *file = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(file != MAP_FAILED, "mmap of a memfd failed");
    memset(file, GUARD, file_size);
    conf_fill_random(file + offset, size, 5);

    accel_memory *m = NULL;
    OK(accel_memory_import_fd(conf.instance, fd, offset, size, 0, &m));
    conf_track(c, CONF_OBJ_MEMORY, m);
    accel_attach_mode mode = conf_attach(c, m, NULL);
    conf_note(c, "memory imported from a file descriptor at offset %zu attaches %s", offset, mode_name(mode));
    accel_memory *other = conf_alloc(c, size);
    unsigned char *o = conf_map(c, other);
    conf_attach(c, other, NULL);
    accel_queue *q = conf_queue(c, NULL);

    /* Reading: the device sees the file's bytes at the offset. */
    memset(o, GUARD, size);
    device_copy(c, q, copy, m, 0, other, 0, size);
    long bad = conf_first_difference(o, file + offset, size);
    CHECK(bad < 0,
          "the device read byte %ld of memory imported at file offset %zu wrong: "
          "does the driver honour fd_offset? (rule 18)",
          bad, offset);
    /* Writing: visible in the file at the offset, nothing around it. */
    unsigned char *want = conf_malloc(c, size);
    conf_fill_random(o, size, 6);
    memcpy(want, o, size);
    device_copy(c, q, copy, other, 0, m, 10, size - 10);
    bad = conf_first_difference(file + offset + 10, want, size - 10);
    CHECK(bad < 0, "the device wrote byte %ld of fd-imported memory wrong (rule 18)", bad);
    CHECK(conf_first_not(file, offset, GUARD) < 0 &&
              conf_first_not(file + offset + size, file_size - offset - size, GUARD) < 0,
          "the device wrote outside the imported range of the file (rule 18)");
    munmap(file, file_size);
}

static void test_memory_export_fd(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const size_t size = 8192;
    accel_memory *m = conf_alloc(c, size);
    unsigned char *p = conf_map(c, m);
    int fd = -1;
    uint64_t offset = 77;
    OK(accel_memory_export_fd(m, &fd, &offset));
    conf_defer(c, close_fd, (void *)(intptr_t)(fd + 1));
    CHECK(offset == 0, "exported memory gives offset %llu", (unsigned long long)offset);
    accel_memory *again = NULL;
    OK(accel_memory_import_fd(conf.instance, fd, 0, size, 0, &again));
    conf_track(c, CONF_OBJ_MEMORY, again);
    accel_attach_mode mode = conf_attach(c, again, NULL);
    conf_note(c, "exported and imported memory attaches %s", mode_name(mode));
    accel_memory *src = conf_alloc(c, size);
    unsigned char *s = conf_map(c, src);
    conf_fill_random(s, size, 7);
    conf_attach(c, src, NULL);
    accel_queue *q = conf_queue(c, NULL);
    memset(p, GUARD, size);
    device_copy(c, q, copy, src, 0, again, 100, 5000);
    expect_bytes(c, "memory written through an imported copy of an exported descriptor", p, size, 100, s,
                 5000);
}

static void test_memory_detach(conf_ctx *c)
{
    accel_function *copy = conf_need_builtin(c, NULL, "accel.copy");
    const size_t size = 256 * 1024;
    accel_memory *a = conf_alloc(c, size), *b = conf_alloc(c, size);
    unsigned char *pa = conf_map(c, a), *pb = conf_map(c, b);
    conf_fill_random(pa, size, 8);
    conf_attach(c, a, NULL);
    conf_attach(c, b, NULL);
    accel_queue *q = conf_queue(c, NULL);
    /* Detaching waits for the work queued on the device. */
    accel_fence *fences[8];
    for (int i = 0; i < 8; i++) {
        accel_arg args[2] = {conf_mem_arg(a, (uint64_t)i * 32768, 32768),
                             conf_mem_arg(b, (uint64_t)i * 32768, 32768)};
        fences[i] = conf_submit_ok(c, q, copy, args, 2, NULL, 0);
    }
    OK(accel_memory_detach(b, c->dev));
    for (int i = 0; i < 8; i++) {
        accel_result r = accel_fence_status(fences[i]);
        CHECK(r == ACCEL_SUCCESS,
              "after accel_memory_detach returned, copy %d is %s: detaching must wait for the device's work",
              i, conf_rs(r));
    }
    long bad = conf_first_difference(pa, pb, size);
    CHECK(bad < 0, "memory copied before it was detached differs at byte %ld (rule 18)", bad);
    EXPECT(accel_memory_detach(b, c->dev), ACCEL_ERROR_INVALID_ARGUMENT);
    accel_arg args[2] = {conf_mem_arg(a, 0, 16), conf_mem_arg(b, 0, 16)};
    EXPECT(conf_submit(c, q, copy, args, 2, NULL, 0, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    /* Attached again, it works again. */
    memset(pb, GUARD, size);
    conf_attach(c, b, NULL);
    device_copy(c, q, copy, a, 0, b, 0, 1000);
    expect_bytes(c, "memory attached again", pb, size, 0, pa, 1000);
}

static const conf_test_def memory_tests[] = {
    {"alloc_attach", test_memory_alloc_attach},
    {"sizes", test_memory_sizes},
    {"import_host", test_memory_import_host},
    {"import_host_unaligned", test_memory_import_host_unaligned},
    {"import_fd", test_memory_import_fd},
    {"export_fd", test_memory_export_fd},
    {"detach", test_memory_detach},
};

const conf_group_def conf_group_memory = {
    .name = "memory",
    .title = "memory in every attach mode: allocation, map, import, export",
    .tests = CONF_TESTS(memory),
};
