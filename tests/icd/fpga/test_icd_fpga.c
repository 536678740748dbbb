/* test_icd_fpga.c — the fpga driver through its function table, without the
 * loader (icd_harness.h), on its emulated card: the card and its slots as
 * devices, memory nodes and buffer objects, images and their kernels with
 * banks wired to ports, busy and forced reconfiguration, bad images, one
 * queue per slot, live parameters, estimates, the card file, broken queues
 * and device loss. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../loader/support_env.h"
#include "../icd_harness.h"

#define MIB (1024ull * 1024ull)
#define VADD_JSON IMAGE_DIR "/vadd.json"
#define CRC32C_JSON IMAGE_DIR "/crc32c.json"
#define VADD_LIB IMAGE_DIR "/libvadd_image.so"

static char TMP[256];

/* ---- common steps ----------------------------------------------------------------- */

static void open_driver(ih_driver *d)
{
    if (ih_open(d, DRIVER_PATH) != 0)
        fail_msg("cannot open %s", DRIVER_PATH);
}

/* The default card: device 0 is the card, 1 and 2 its slots. */
enum { CARD = 0, SLOT0 = 1, SLOT1 = 2 };

typedef struct nodes {
    uint32_t count;
    accel_icd_memory_node_info n[8];
} nodes;

static nodes get_nodes(ih_driver *d, uint32_t dev)
{
    nodes out;
    memset(&out, 0, sizeof(out));
    out.count = 8;
    for (int i = 0; i < 8; i++)
        out.n[i].struct_size = sizeof(out.n[i]);
    assert_int_equal(d->t->device_memory_nodes(d->devices[dev], &out.count, out.n), ACCEL_SUCCESS);
    return out;
}

static uint64_t node_id(ih_driver *d, uint32_t dev, const char *name)
{
    nodes ns = get_nodes(d, dev);
    for (uint32_t i = 0; i < ns.count; i++)
        if (strcmp(ns.n[i].name, name) == 0)
            return ns.n[i].id;
    fail_msg("no memory node %s", name);
    return 0;
}

static accel_result load(ih_driver *d, uint32_t dev, const char *path, const char *options, void **program,
                         char *log, size_t log_size)
{
    char scratch[2048];
    if (!log) {
        log = scratch;
        log_size = sizeof(scratch);
    }
    log[0] = '\0';
    accel_result r = d->t->program_load(d->devices[dev], ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, path, 0, options, program,
                                        log, log_size);
    if (r == ACCEL_SUCCESS)
        assert_string_equal(log, "");
    else
        assert_true(strlen(log) > 0);
    return r;
}

/* A buffer object on a node, and its attachment to a device (what the
 * loader does for accel_memory_alloc with a node). */
typedef struct buf {
    void *mem;      /* memory_alloc_node's handle */
    void *attached; /* memory_attach's handle */
    uint8_t *ptr;
    uint64_t size;
    accel_attach_mode mode;
} buf;

static buf node_buf(ih_driver *d, uint32_t dev, uint64_t node, uint64_t size)
{
    buf b = {.size = size};
    int fd = -1;
    assert_int_equal(d->t->memory_alloc_node(d->devices[dev], node, size, &b.mem, (void **)&b.ptr, &fd),
                     ACCEL_SUCCESS);
    assert_non_null(b.ptr);
    assert_true(fd >= 0);
    for (uint64_t i = 0; i < size; i++)
        assert_int_equal(b.ptr[i], 0);
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = b.ptr, .size = size, .fd = fd,
                                  .numa_node = -1, .home_memory = b.mem, .home_node_id = node};
    assert_int_equal(d->t->memory_attach(d->devices[dev], &desc, &b.attached, &b.mode), ACCEL_SUCCESS);
    return b;
}

static buf host_buf(ih_driver *d, uint32_t dev, uint64_t size)
{
    buf b = {.size = size};
    b.ptr = calloc(1, size);
    assert_non_null(b.ptr);
    accel_icd_memory_desc desc = {.struct_size = sizeof(desc), .host_ptr = b.ptr, .size = size, .fd = -1,
                                  .numa_node = -1};
    assert_int_equal(d->t->memory_attach(d->devices[dev], &desc, &b.attached, &b.mode), ACCEL_SUCCESS);
    assert_int_equal(b.mode, ACCEL_ATTACH_PINNED);
    return b;
}

static void buf_free(ih_driver *d, uint32_t dev, buf *b)
{
    d->t->memory_detach(d->devices[dev], b->attached);
    if (b->mem)
        d->t->memory_free_device(d->devices[dev], b->mem);
    else
        free(b->ptr);
    memset(b, 0, sizeof(*b));
}

static void put_u32s(uint8_t *p, uint32_t n, uint32_t start, uint32_t step)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = start + i * step;
        memcpy(p + 4 * i, &v, 4);
    }
}

static void check_sums(const uint8_t *out, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, out + 4 * i, 4);
        assert_int_equal(v, (1000 + i) + (7 * i));
    }
}

static accel_result run_vadd(ih_driver *d, void *queue, void *fn, void *a, void *b, void *out, uint32_t n)
{
    accel_icd_arg args[4] = {ih_mem(a, 0, 4ull * n), ih_mem(b, 0, 4ull * n), ih_mem(out, 0, 4ull * n), ih_u32(n)};
    return ih_run(d, queue, fn, args, 4, 1, n);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static char *write_tmp(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", TMP, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(TMP, sizeof(TMP), "%s/accel-fpga-XXXXXX", tmp && *tmp && strlen(tmp) < 100 ? tmp : "/tmp");
    if (!mkdtemp(TMP))
        return -1;
    ts_env_push("ACCEL_FPGA_EMULATOR_CONFIG", NULL);
    ts_env_push("ACCEL_FPGA_FAULT_AFTER", NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    nftw(TMP, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ts_env_pop();
    return 0;
}

/* ---- devices ----------------------------------------------------------------------- */

static void test_fpga_enumeration(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    assert_int_equal(d.device_count, 3);
    const accel_icd_device_info *card = &d.info[CARD];
    assert_int_equal(card->kind, ACCEL_DEVICE_KIND_FPGA);
    assert_int_equal(card->interface, ACCEL_DEVICE_INTERFACE_FPGA);
    assert_int_equal(card->parent_index, -1);
    assert_int_equal(card->flags & ACCEL_DEVICE_FLAG_PARTITION, 0);
    assert_string_equal(card->partition, "");
    assert_int_equal(card->available_instances, 2);
    assert_non_null(strstr(card->name, "fpga0"));
    for (uint32_t s = 0; s < 2; s++) {
        const accel_icd_device_info *slot = &d.info[SLOT0 + s];
        char want[16];
        snprintf(want, sizeof(want), "slot %u", s);
        assert_int_equal(slot->kind, ACCEL_DEVICE_KIND_FPGA);
        assert_int_equal(slot->interface, ACCEL_DEVICE_INTERFACE_FPGA);
        assert_true(slot->flags & ACCEL_DEVICE_FLAG_PARTITION);
        assert_int_equal(slot->parent_index, CARD);
        assert_string_equal(slot->partition, want);
        assert_int_equal(slot->available_instances, 1);
        assert_memory_not_equal(slot->uuid, card->uuid, ACCEL_UUID_SIZE);
    }
    assert_memory_not_equal(d.info[SLOT0].uuid, d.info[SLOT1].uuid, ACCEL_UUID_SIZE);
    /* Stable: the same uuids after a reload. */
    uint8_t uuids[3][ACCEL_UUID_SIZE];
    for (int i = 0; i < 3; i++)
        memcpy(uuids[i], d.info[i].uuid, ACCEL_UUID_SIZE);
    ih_close(&d);
    open_driver(&d);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(uuids[i], d.info[i].uuid, ACCEL_UUID_SIZE);
    /* Two-call enumeration. */
    uint32_t n = 0;
    assert_int_equal(d.t->enumerate_devices(d.handle, &n, NULL), ACCEL_SUCCESS);
    assert_int_equal(n, 3);
    void *two[2];
    n = 2;
    assert_int_equal(d.t->enumerate_devices(d.handle, &n, two), ACCEL_INCOMPLETE);
    assert_int_equal(n, 2);
    assert_ptr_equal(two[1], d.devices[1]);
    const char *v = d.t->driver_version_string(d.handle);
    assert_non_null(v);
    ih_close(&d);
}

static void test_fpga_memory_nodes(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    nodes first = get_nodes(&d, CARD);
    assert_int_equal(first.count, 3);
    assert_string_equal(first.n[0].name, "bank0");
    assert_string_equal(first.n[1].name, "bank1");
    assert_string_equal(first.n[2].name, "host");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(first.n[i].kind, ACCEL_MEMORY_KIND_FPGA_BANK);
        assert_int_equal(first.n[i].access, ACCEL_ATTACH_ZERO_COPY);
        assert_true(first.n[i].flags & ACCEL_ICD_MEMORY_NODE_HOST_VISIBLE);
        assert_int_equal(first.n[i].capacity, 256 * MIB);
        assert_true(first.n[i].bandwidth_mbps > 0);
    }
    assert_int_equal(first.n[2].kind, ACCEL_MEMORY_KIND_HOST);
    assert_int_equal(first.n[2].access, ACCEL_ATTACH_PINNED);
    assert_int_equal(first.n[2].bandwidth_mbps, 12000);
    assert_true(first.n[0].id != first.n[1].id && first.n[1].id != first.n[2].id && first.n[0].id != first.n[2].id);
    /* Every slot reports the same nodes with the same ids. */
    for (uint32_t dev = SLOT0; dev <= SLOT1; dev++) {
        nodes other = get_nodes(&d, dev);
        assert_int_equal(other.count, first.count);
        for (uint32_t i = 0; i < other.count; i++) {
            assert_int_equal(other.n[i].id, first.n[i].id);
            assert_string_equal(other.n[i].name, first.n[i].name);
        }
    }
    /* Two-call pattern. */
    uint32_t count = 0;
    assert_int_equal(d.t->device_memory_nodes(d.devices[SLOT0], &count, NULL), ACCEL_SUCCESS);
    assert_int_equal(count, 3);
    accel_icd_memory_node_info one = {.struct_size = sizeof(one)};
    count = 1;
    assert_int_equal(d.t->device_memory_nodes(d.devices[SLOT0], &count, &one), ACCEL_INCOMPLETE);
    assert_int_equal(count, 1);
    assert_string_equal(one.name, "bank0");

    /* Buffer objects: zero-filled, host-visible, attached zero-copy on their
     * card; a bank that is too small says so. */
    buf b = node_buf(&d, SLOT1, first.n[1].id, 4096 + 5);
    assert_int_equal(b.mode, ACCEL_ATTACH_ZERO_COPY);
    memset(b.ptr, 0xab, b.size);
    buf h = node_buf(&d, SLOT0, first.n[2].id, 100);
    assert_int_equal(h.mode, ACCEL_ATTACH_PINNED);
    void *big;
    void *ptr;
    int fd;
    assert_int_equal(d.t->memory_alloc_node(d.devices[SLOT0], first.n[0].id, 257 * MIB, &big, &ptr, &fd),
                     ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    assert_int_equal(d.t->memory_alloc_node(d.devices[SLOT0], 12345, 16, &big, &ptr, &fd),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    /* Capacity comes back when a BO is freed. */
    void *half[2];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++)
            assert_int_equal(d.t->memory_alloc_node(d.devices[CARD], first.n[0].id, 128 * MIB, &half[i], &ptr, &fd),
                             ACCEL_SUCCESS);
        assert_int_equal(d.t->memory_alloc_node(d.devices[CARD], first.n[0].id, 1, &big, &ptr, &fd),
                         ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
        for (int i = 0; i < 2; i++)
            d.t->memory_free_device(d.devices[CARD], half[i]);
    }
    /* The staged path's device memory, with writes and reads. */
    void *mirror;
    uint8_t in[300], out[300];
    for (int i = 0; i < 300; i++)
        in[i] = (uint8_t)(i * 3);
    assert_int_equal(d.t->memory_alloc_device(d.devices[SLOT0], sizeof(in), &mirror), ACCEL_SUCCESS);
    assert_int_equal(d.t->memory_write(d.devices[SLOT0], mirror, 0, in, sizeof(in)), ACCEL_SUCCESS);
    assert_int_equal(d.t->memory_read(d.devices[SLOT0], mirror, 0, out, sizeof(out)), ACCEL_SUCCESS);
    assert_memory_equal(in, out, sizeof(in));
    assert_int_equal(d.t->memory_write(d.devices[SLOT0], mirror, 200, in, 101), ACCEL_ERROR_INVALID_ARGUMENT);
    d.t->memory_free_device(d.devices[SLOT0], mirror);
    /* Freeing the allocation before the attachment is detached keeps the
     * bytes alive until both are gone. */
    d.t->memory_free_device(d.devices[SLOT1], b.mem);
    b.mem = NULL;
    assert_int_equal(b.ptr[4096 + 4], 0xab);
    d.t->memory_detach(d.devices[SLOT1], b.attached);
    buf_free(&d, SLOT0, &h);
    ih_close(&d);
}

/* ---- images and kernels ---------------------------------------------------------------- */

static void test_fpga_vadd_banks(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    uint64_t bank0 = node_id(&d, SLOT0, "bank0"), bank1 = node_id(&d, SLOT0, "bank1");
    void *prog, *fn, *queue;
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &prog, NULL, 0), ACCEL_SUCCESS);
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(d.t->function_get(d.devices[SLOT0], prog, "vadd", &fn, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 4);
    assert_int_equal(info.arg_kinds[0], ACCEL_ARG_MEMORY);
    assert_int_equal(info.arg_kinds[3], ACCEL_ARG_U32);
    assert_int_equal(info.arg_node_wired[0], 1);
    assert_int_equal(info.arg_node_id[0], bank0);
    assert_int_equal(info.arg_node_wired[1], 1);
    assert_int_equal(info.arg_node_id[1], bank1);
    assert_int_equal(info.arg_node_wired[2], 1);
    assert_int_equal(info.arg_node_id[2], bank0);
    assert_int_equal(info.arg_node_wired[3], 0);
    void *none;
    assert_int_equal(d.t->function_get(d.devices[SLOT0], prog, "vsub", &none, NULL), ACCEL_ERROR_NOT_FOUND);
    assert_int_equal(d.t->function_get(d.devices[SLOT1], prog, "vadd", &none, NULL), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &queue), ACCEL_SUCCESS);

    enum { N = 1000 };
    buf a = node_buf(&d, SLOT0, bank0, 4 * N), b1 = node_buf(&d, SLOT0, bank1, 4 * N);
    buf b0 = node_buf(&d, SLOT0, bank0, 4 * N), out = node_buf(&d, SLOT0, bank0, 4 * N);
    assert_int_equal(a.mode, ACCEL_ATTACH_ZERO_COPY);
    assert_int_equal(b1.mode, ACCEL_ATTACH_ZERO_COPY);
    put_u32s(a.ptr, N, 1000, 1);
    put_u32s(b1.ptr, N, 0, 7);
    put_u32s(b0.ptr, N, 0, 7);

    /* b in bank1, where its port is wired: zero-copy, correct. */
    assert_int_equal(run_vadd(&d, queue, fn, a.attached, b1.attached, out.attached, N), ACCEL_SUCCESS);
    check_sums(out.ptr, N);

    /* b in bank0: the port cannot reach it; the submission is refused
     * before anything runs (the loader copies such buffers). Same for host
     * memory. */
    void *fence = NULL;
    accel_icd_arg args[4] = {ih_mem(a.attached, 0, 4 * N), ih_mem(b0.attached, 0, 4 * N),
                             ih_mem(out.attached, 0, 4 * N), ih_u32(N)};
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = 1, .function = fn, .args = args, .arg_count = 4,
                          .work_size = {N, 1, 1}};
    assert_int_equal(d.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    buf hb = host_buf(&d, SLOT0, 4 * N);
    args[1] = ih_mem(hb.attached, 0, 4 * N);
    assert_int_equal(d.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);

    /* What the loader does for b in bank0: a temporary on the wired node,
     * filled from the buffer, passed as the argument. */
    memset(out.ptr, 0, out.size);
    void *tmp, *tmp_ptr;
    int tmp_fd;
    assert_int_equal(d.t->memory_alloc_node(d.devices[SLOT0], info.arg_node_id[1], 4 * N, &tmp, &tmp_ptr, &tmp_fd),
                     ACCEL_SUCCESS);
    memcpy(tmp_ptr, b0.ptr, 4 * N);
    assert_int_equal(run_vadd(&d, queue, fn, a.attached, tmp, out.attached, N), ACCEL_SUCCESS);
    check_sums(out.ptr, N);
    d.t->memory_free_device(d.devices[SLOT0], tmp);

    /* Ranges are checked against their buffers. */
    args[1] = ih_mem(b1.attached, 4, 4 * N);
    assert_int_equal(d.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);
    /* The wrong count of arguments. */
    s.arg_count = 3;
    assert_int_equal(d.t->queue_submit(queue, &s, &fence), ACCEL_ERROR_INVALID_ARGUMENT);

    d.t->queue_destroy(queue);
    buf_free(&d, SLOT0, &a);
    buf_free(&d, SLOT0, &b0);
    buf_free(&d, SLOT0, &b1);
    buf_free(&d, SLOT0, &out);
    buf_free(&d, SLOT0, &hb);
    d.t->function_release(fn);
    d.t->program_release(prog);
    ih_close(&d);
}

static void test_fpga_crc32c_any_bank(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    void *prog, *fn, *queue;
    assert_int_equal(load(&d, SLOT1, CRC32C_JSON, NULL, &prog, NULL, 0), ACCEL_SUCCESS);
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(d.t->function_get(d.devices[SLOT1], prog, "crc32c", &fn, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 2);
    assert_int_equal(info.arg_node_wired[0], 0);
    assert_int_equal(info.arg_node_wired[1], 0);
    assert_int_equal(d.t->queue_create(d.devices[SLOT1], &queue), ACCEL_SUCCESS);
    /* Host memory in, bank1 out; then bank0 in, host out. */
    buf src = host_buf(&d, SLOT1, 9);
    memcpy(src.ptr, "123456789", 9);
    buf res = node_buf(&d, SLOT1, node_id(&d, SLOT1, "bank1"), 4);
    accel_icd_arg args[2] = {ih_mem(src.attached, 0, 9), ih_mem(res.attached, 0, 4)};
    assert_int_equal(ih_run(&d, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
    uint32_t crc;
    memcpy(&crc, res.ptr, 4);
    assert_int_equal(crc, 0xE3069283u);
    buf src2 = node_buf(&d, SLOT1, node_id(&d, SLOT1, "bank0"), 9);
    memcpy(src2.ptr, "123456789", 9);
    buf res2 = host_buf(&d, SLOT1, 4);
    args[0] = ih_mem(src2.attached, 0, 9);
    args[1] = ih_mem(res2.attached, 0, 4);
    assert_int_equal(ih_run(&d, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
    memcpy(&crc, res2.ptr, 4);
    assert_int_equal(crc, 0xE3069283u);
    /* A result range that is too small fails the fence (the kernel says so). */
    args[1] = ih_mem(res2.attached, 0, 3);
    assert_int_equal(ih_run(&d, queue, fn, args, 2, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    d.t->queue_destroy(queue);
    buf_free(&d, SLOT1, &src);
    buf_free(&d, SLOT1, &res);
    buf_free(&d, SLOT1, &src2);
    buf_free(&d, SLOT1, &res2);
    d.t->function_release(fn);
    d.t->program_release(prog);
    ih_close(&d);
}

/* The bytewise definition, to check the image's lanes against. */
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

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The image splits a long source into lanes summed independently and
 * combined: every length from 0 to 300 at every alignment class, and long
 * ones on both sides of where lanes start (8 lanes of 256 bytes) and of the
 * segment boundaries, all against the bytewise definition. */
static void test_fpga_crc32c_lengths(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    void *prog, *fn, *queue;
    assert_int_equal(load(&d, SLOT0, CRC32C_JSON, NULL, &prog, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], prog, "crc32c", &fn, NULL), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &queue), ACCEL_SUCCESS);
    const uint64_t max = 16 * MIB + 64;
    buf src = host_buf(&d, SLOT0, max), res = host_buf(&d, SLOT0, 4);
    uint32_t x = 12345;
    for (uint64_t i = 0; i < max; i++) {
        x = x * 1103515245u + 12345u;
        src.ptr[i] = (uint8_t)(x >> 23);
    }
    uint64_t lengths[400], count = 0;
    for (uint64_t n = 0; n <= 300; n++)
        lengths[count++] = n;
    static const uint64_t around[] = {2048, 2048 + 64, 4096, 8 * 65536, MIB};
    for (size_t i = 0; i < sizeof(around) / sizeof(around[0]); i++)
        for (uint64_t k = around[i] - 9; k <= around[i] + 9; k++)
            lengths[count++] = k;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t n = lengths[i], off = (n * 7) % 8; /* the start at every alignment */
        accel_icd_arg args[2] = {ih_mem(src.attached, off, n), ih_mem(res.attached, 0, 4)};
        assert_int_equal(ih_run(&d, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
        uint32_t crc;
        memcpy(&crc, res.ptr, 4);
        if (crc != ref_crc32c(src.ptr + off, n))
            fail_msg("crc32c of %llu bytes at offset %llu: 0x%08x, not 0x%08x", (unsigned long long)n,
                     (unsigned long long)off, crc, ref_crc32c(src.ptr + off, n));
    }
    /* The figure: the image against the bytewise loop, 16 MiB. */
    accel_icd_arg args[2] = {ih_mem(src.attached, 3, 16 * MIB), ih_mem(res.attached, 0, 4)};
    double t0 = seconds();
    assert_int_equal(ih_run(&d, queue, fn, args, 2, 0, 0), ACCEL_SUCCESS);
    double t1 = seconds();
    uint32_t want = ref_crc32c(src.ptr + 3, 16 * MIB), crc;
    double t2 = seconds();
    memcpy(&crc, res.ptr, 4);
    assert_int_equal(crc, want);
    print_message("crc32c image, 16 MiB: %.0f MB/s (bytewise bit loop here: %.0f MB/s)\n", 16 * MIB / (t1 - t0) / 1e6,
                  16 * MIB / (t2 - t1) / 1e6);
    d.t->queue_destroy(queue);
    buf_free(&d, SLOT0, &src);
    buf_free(&d, SLOT0, &res);
    d.t->function_release(fn);
    d.t->program_release(prog);
    ih_close(&d);
}

static void test_fpga_builtins(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    void *noop, *copy, *fill, *none, *queue;
    assert_int_equal(d.t->function_get(d.devices[CARD], NULL, "accel.noop", &none, NULL), ACCEL_ERROR_NOT_FOUND);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "crc32c", &none, NULL), ACCEL_ERROR_NOT_FOUND);
    accel_icd_function_info info = {.struct_size = sizeof(info)};
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "accel.noop", &noop, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 0);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "accel.copy", &copy, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_count, 2);
    assert_int_equal(info.arg_node_wired[0], 0);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "accel.fill", &fill, &info), ACCEL_SUCCESS);
    assert_int_equal(info.arg_kinds[1], ACCEL_ARG_U32);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &queue), ACCEL_SUCCESS);
    assert_int_equal(ih_run(&d, queue, noop, NULL, 0, 0, 0), ACCEL_SUCCESS);
    buf host = host_buf(&d, SLOT0, 10);
    buf bank = node_buf(&d, SLOT0, node_id(&d, SLOT0, "bank1"), 16);
    accel_icd_arg fa[2] = {ih_mem(bank.attached, 0, 10), ih_u32(0x44332211u)};
    assert_int_equal(ih_run(&d, queue, fill, fa, 2, 0, 0), ACCEL_SUCCESS);
    static const uint8_t want[10] = {0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0x44, 0x11, 0x22};
    assert_memory_equal(bank.ptr, want, 10);
    assert_int_equal(bank.ptr[10], 0);
    accel_icd_arg ca[2] = {ih_mem(bank.attached, 0, 10), ih_mem(host.attached, 0, 10)};
    assert_int_equal(ih_run(&d, queue, copy, ca, 2, 0, 0), ACCEL_SUCCESS);
    assert_memory_equal(host.ptr, want, 10);
    d.t->queue_destroy(queue);
    buf_free(&d, SLOT0, &host);
    buf_free(&d, SLOT0, &bank);
    d.t->function_release(noop);
    d.t->function_release(copy);
    d.t->function_release(fill);
    ih_close(&d);
}

/* ---- reconfiguration -------------------------------------------------------------------- */

static void test_fpga_busy_reconfiguration(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    char log[2048];
    void *vadd_prog, *crc_prog, *again, *fn, *queue;
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &vadd_prog, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], vadd_prog, "vadd", &fn, NULL), ACCEL_SUCCESS);

    /* In use: busy, with a message that says why and what to do. */
    assert_int_equal(load(&d, SLOT0, CRC32C_JSON, NULL, &crc_prog, log, sizeof(log)), ACCEL_ERROR_BUSY);
    assert_non_null(strstr(log, CRC32C_JSON));
    assert_non_null(strstr(log, "vadd"));
    assert_non_null(strstr(log, "force"));
    assert_int_equal(load(&d, SLOT0, VADD_JSON, "", &again, NULL, 0), ACCEL_ERROR_BUSY);
    /* The other slot is free. */
    assert_int_equal(load(&d, SLOT1, CRC32C_JSON, NULL, &crc_prog, NULL, 0), ACCEL_SUCCESS);
    d.t->program_release(crc_prog);

    /* Work queued before a forced reconfiguration completes first, with the
     * old image. */
    uint64_t bank0 = node_id(&d, SLOT0, "bank0"), bank1 = node_id(&d, SLOT0, "bank1");
    enum { N = 64, QUEUED = 8 };
    buf a = node_buf(&d, SLOT0, bank0, 4 * N), b = node_buf(&d, SLOT0, bank1, 4 * N);
    buf out = node_buf(&d, SLOT0, bank0, 4 * N);
    put_u32s(a.ptr, N, 1000, 1);
    put_u32s(b.ptr, N, 0, 7);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &queue), ACCEL_SUCCESS);
    accel_icd_arg args[4] = {ih_mem(a.attached, 0, 4 * N), ih_mem(b.attached, 0, 4 * N),
                             ih_mem(out.attached, 0, 4 * N), ih_u32(N)};
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = 1, .function = fn, .args = args, .arg_count = 4,
                          .work_size = {N, 1, 1}};
    void *fences[QUEUED];
    for (int i = 0; i < QUEUED; i++)
        assert_int_equal(d.t->queue_submit(queue, &s, &fences[i]), ACCEL_SUCCESS);

    /* Forced: succeeds, and the old program's functions fail from now on. */
    assert_int_equal(load(&d, SLOT0, CRC32C_JSON, "force", &crc_prog, NULL, 0), ACCEL_SUCCESS);
    for (int i = 0; i < QUEUED; i++) {
        assert_int_equal(d.t->fence_status(fences[i]), ACCEL_SUCCESS);
        d.t->fence_release(fences[i]);
    }
    check_sums(out.ptr, N);
    void *f2;
    assert_int_equal(d.t->queue_submit(queue, &s, &f2), ACCEL_ERROR_INVALID_HANDLE);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], vadd_prog, "vadd", &again, NULL),
                     ACCEL_ERROR_INVALID_HANDLE);
    /* The new image runs. */
    void *crc;
    assert_int_equal(d.t->function_get(d.devices[SLOT0], crc_prog, "crc32c", &crc, NULL), ACCEL_SUCCESS);
    memcpy(a.ptr, "123456789", 9);
    accel_icd_arg ca[2] = {ih_mem(a.attached, 0, 9), ih_mem(out.attached, 0, 4)};
    assert_int_equal(ih_run(&d, queue, crc, ca, 2, 0, 0), ACCEL_SUCCESS);
    uint32_t v;
    memcpy(&v, out.ptr, 4);
    assert_int_equal(v, 0xE3069283u);

    /* Releasing the evicted program does not free the slot: the new one
     * holds it. Releasing that one does. */
    d.t->function_release(fn);
    d.t->program_release(vadd_prog);
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &again, NULL, 0), ACCEL_ERROR_BUSY);
    d.t->function_release(crc);
    d.t->program_release(crc_prog);
    assert_int_equal(load(&d, SLOT0, VADD_JSON, " force  ", &again, NULL, 0), ACCEL_SUCCESS);
    d.t->program_release(again);
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &again, NULL, 0), ACCEL_SUCCESS);
    d.t->program_release(again);

    d.t->queue_destroy(queue);
    buf_free(&d, SLOT0, &a);
    buf_free(&d, SLOT0, &b);
    buf_free(&d, SLOT0, &out);
    ih_close(&d);
}

static void expect_load_error(ih_driver *d, uint32_t dev, const char *path, const char *options, accel_result want,
                              const char *needle1, const char *needle2)
{
    char log[2048];
    void *prog = NULL;
    assert_int_equal(load(d, dev, path, options, &prog, log, sizeof(log)), want);
    if (needle1 && !strstr(log, needle1))
        fail_msg("log \"%s\" lacks \"%s\"", log, needle1);
    if (needle2 && !strstr(log, needle2))
        fail_msg("log \"%s\" lacks \"%s\"", log, needle2);
}

static void test_fpga_bad_images(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/no-such-image.json", TMP);
    expect_load_error(&d, SLOT0, missing, NULL, ACCEL_ERROR_INVALID_ARGUMENT, missing, "No such file");
    char *p = write_tmp("bad-json.json", "{\"image_version\": 1, \"name\": \"x\",");
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, p, "not JSON");
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"image_version\": 1, \"name\": \"x\", \"library\": \"%s\", \"kernels\": [{\"name\": \"vadd\", "
             "\"args\": [{\"name\": \"a\", \"kind\": \"memory\", \"bank\": \"bank7\"}]}]}",
             VADD_LIB);
    p = write_tmp("unknown-bank.json", text);
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, p, "$.kernels[0].args[0].bank");
    snprintf(text, sizeof(text),
             "{\"image_version\": 1, \"name\": \"x\", \"library\": \"%s\", \"kernels\": [{\"name\": \"vsub\", "
             "\"args\": []}]}",
             VADD_LIB);
    p = write_tmp("missing-symbol.json", text);
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, p, "vsub");
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, VADD_LIB, NULL);
    p = write_tmp("missing-library.json", "{\"image_version\": 1, \"name\": \"x\", \"library\": \"libnothing.so\", "
                                          "\"kernels\": [{\"name\": \"k\", \"args\": []}]}");
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, p, "libnothing.so");
    p = write_tmp("version-2.json", "{\"image_version\": 2, \"name\": \"x\", \"library\": \"l.so\", "
                                    "\"kernels\": [{\"name\": \"k\", \"args\": []}]}");
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, p, "$.image_version");
    p = write_tmp("unknown-member.json", "{\"image_version\": 1, \"name\": \"x\", \"library\": \"l.so\", "
                                         "\"kernels\": [{\"name\": \"k\", \"args\": [], \"clock_mhz\": 300}]}");
    expect_load_error(&d, SLOT0, p, NULL, ACCEL_ERROR_INVALID_ARGUMENT, "$.kernels[0]", "clock_mhz");
    /* Not an image, not a slot, not an option. */
    char log[512];
    void *prog;
    assert_int_equal(d.t->program_load(d.devices[SLOT0], ACCEL_PROGRAM_FORMAT_ELF, VADD_LIB, 0, NULL, &prog, log,
                                       sizeof(log)),
                     ACCEL_ERROR_UNSUPPORTED);
    assert_non_null(strstr(log, "FPGA_IMAGE"));
    expect_load_error(&d, CARD, VADD_JSON, NULL, ACCEL_ERROR_UNSUPPORTED, "slot", NULL);
    expect_load_error(&d, SLOT0, VADD_JSON, "force --fast", ACCEL_ERROR_INVALID_ARGUMENT, "--fast", NULL);
    /* None of these left the slot in use. */
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &prog, NULL, 0), ACCEL_SUCCESS);
    /* A bad image does not disturb a loaded one, even when forced. */
    p = write_tmp("missing-symbol.json", text);
    expect_load_error(&d, SLOT0, p, "force", ACCEL_ERROR_INVALID_ARGUMENT, "vsub", NULL);
    void *fn;
    assert_int_equal(d.t->function_get(d.devices[SLOT0], prog, "vadd", &fn, NULL), ACCEL_SUCCESS);
    d.t->function_release(fn);
    d.t->program_release(prog);
    ih_close(&d);
}

/* ---- queues, parameters, estimates ----------------------------------------------------- */

static uint32_t query_u32(ih_driver *d, uint32_t dev, accel_device_param param)
{
    uint32_t v = 0;
    size_t size = 0;
    assert_int_equal(d->t->device_query(d->devices[dev], param, &v, sizeof(v), &size), ACCEL_SUCCESS);
    assert_int_equal(size, sizeof(v));
    return v;
}

static void test_fpga_one_queue_per_slot(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    void *q0, *q1, *again;
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 2);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &q0), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &again), ACCEL_ERROR_BUSY);
    assert_int_equal(query_u32(&d, SLOT0, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 0);
    assert_int_equal(query_u32(&d, SLOT1, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 1);
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 1);
    accel_icd_device_info info = {.struct_size = sizeof(info)};
    assert_int_equal(d.t->device_get_info(d.devices[CARD], &info), ACCEL_SUCCESS);
    assert_int_equal(info.available_instances, 1);
    assert_int_equal(d.t->queue_create(d.devices[SLOT1], &q1), ACCEL_SUCCESS);
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 0);
    assert_int_equal(d.t->queue_create(d.devices[CARD], &again), ACCEL_ERROR_UNSUPPORTED);
    d.t->queue_destroy(q0);
    assert_int_equal(query_u32(&d, SLOT0, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 1);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &q0), ACCEL_SUCCESS);
    d.t->queue_destroy(q0);
    d.t->queue_destroy(q1);
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_AVAILABLE_INSTANCES), 2);
    ih_close(&d);
}

static uint64_t query_u64(ih_driver *d, uint32_t dev, accel_device_param param, accel_result want)
{
    uint64_t v = 0;
    assert_int_equal(d->t->device_query(d->devices[dev], param, &v, sizeof(v), NULL), want);
    return v;
}

/* A device's memory is its card's banks (the card file), its largest
 * allocation the largest bank: the driver's answer against its nodes. */
static void check_bank_memory(ih_driver *d, uint32_t dev)
{
    nodes n = get_nodes(d, dev);
    uint64_t total = 0, largest = 0;
    for (uint32_t i = 0; i < n.count; i++) {
        if (n.n[i].kind != ACCEL_MEMORY_KIND_FPGA_BANK)
            continue;
        total += n.n[i].capacity;
        largest = n.n[i].capacity > largest ? n.n[i].capacity : largest;
    }
    assert_true(total > 0);
    assert_int_equal(query_u64(d, dev, ACCEL_DEVICE_PARAM_MEMORY_SIZE, ACCEL_SUCCESS), total);
    assert_int_equal(query_u64(d, dev, ACCEL_DEVICE_PARAM_MAX_ALLOCATION, ACCEL_SUCCESS), largest);
}

static void test_fpga_query(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    assert_int_equal(query_u32(&d, SLOT0, ACCEL_DEVICE_PARAM_KIND), ACCEL_DEVICE_KIND_FPGA);
    assert_int_equal(query_u32(&d, SLOT0, ACCEL_DEVICE_PARAM_FLAGS),
                     ACCEL_DEVICE_FLAG_PARTITION | ACCEL_DEVICE_FLAG_EMULATED);
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_FLAGS), ACCEL_DEVICE_FLAG_EMULATED);
    int32_t numa = 0;
    assert_int_equal(d.t->device_query(d.devices[CARD], ACCEL_DEVICE_PARAM_NUMA_NODE, &numa, sizeof(numa), NULL),
                     ACCEL_SUCCESS);
    assert_int_equal(numa, -1);
    uint64_t ns = 0;
    size_t size = 0;
    assert_int_equal(d.t->device_query(d.devices[SLOT1], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, NULL, 0, &size),
                     ACCEL_SUCCESS);
    assert_int_equal(size, sizeof(uint64_t));
    assert_int_equal(d.t->device_query(d.devices[SLOT1], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, 4, NULL),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(d.t->device_query(d.devices[SLOT1], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, sizeof(ns), NULL),
                     ACCEL_SUCCESS);
    assert_int_equal(ns, 20000000ull);
    assert_int_equal(d.t->device_query(d.devices[CARD], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, sizeof(ns), NULL),
                     ACCEL_ERROR_UNSUPPORTED);
    assert_int_equal(d.t->device_query(d.devices[CARD], (accel_device_param)999, &ns, sizeof(ns), NULL),
                     ACCEL_ERROR_UNSUPPORTED);
    /* Limits: a slot holds one queue and loads image descriptions of at most
     * 1 MiB with kernels of up to ACCEL_MAX_ARGS arguments at any offset;
     * the whole card runs no queue and loads nothing. */
    assert_int_equal(query_u32(&d, SLOT0, ACCEL_DEVICE_PARAM_MAX_QUEUES), 1);
    assert_int_equal(query_u32(&d, CARD, ACCEL_DEVICE_PARAM_MAX_QUEUES), 0);
    assert_int_equal(query_u64(&d, SLOT1, ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE, ACCEL_SUCCESS), 1u << 20);
    assert_int_equal(query_u32(&d, SLOT1, ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS), ACCEL_MAX_ARGS);
    assert_int_equal(query_u64(&d, SLOT1, ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT, ACCEL_SUCCESS), 1);
    query_u64(&d, CARD, ACCEL_DEVICE_PARAM_MAX_PROGRAM_SIZE, ACCEL_ERROR_UNSUPPORTED);
    query_u64(&d, CARD, ACCEL_DEVICE_PARAM_MAX_FUNCTION_ARGS, ACCEL_ERROR_UNSUPPORTED);
    query_u64(&d, CARD, ACCEL_DEVICE_PARAM_ARG_OFFSET_ALIGNMENT, ACCEL_ERROR_UNSUPPORTED);
    query_u64(&d, SLOT0, ACCEL_DEVICE_PARAM_QUEUE_DEPTH, ACCEL_ERROR_UNSUPPORTED);
    for (uint32_t dev = 0; dev < 3; dev++)
        check_bank_memory(&d, dev);
    assert_int_equal(query_u64(&d, CARD, ACCEL_DEVICE_PARAM_MEMORY_SIZE, ACCEL_SUCCESS), 512 * MIB);
    ih_close(&d);
}

static accel_icd_function_estimate estimate(ih_driver *d, uint32_t dev, void *fn, const char *name,
                                            accel_result want)
{
    accel_icd_function_estimate e = {.struct_size = sizeof(e)};
    assert_int_equal(d->t->function_estimate(d->devices[dev], fn, name, 1 << 20, &e), want);
    return e;
}

static void test_fpga_estimates(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    accel_icd_function_estimate e = estimate(&d, SLOT0, NULL, "accel.copy", ACCEL_SUCCESS);
    assert_true(e.fixed_ns > 0);
    assert_int_equal(e.bytes_per_second, 19200ull * 1000000ull);
    e = estimate(&d, SLOT0, NULL, "accel.noop", ACCEL_SUCCESS);
    assert_int_equal(e.bytes_per_second, 0);
    estimate(&d, SLOT0, NULL, "vadd", ACCEL_ERROR_UNSUPPORTED);
    estimate(&d, CARD, NULL, "accel.copy", ACCEL_ERROR_UNSUPPORTED);

    void *vadd_prog, *crc_prog, *fn;
    assert_int_equal(load(&d, SLOT0, VADD_JSON, NULL, &vadd_prog, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(d.t->function_get(d.devices[SLOT0], vadd_prog, "vadd", &fn, NULL), ACCEL_SUCCESS);
    accel_icd_function_estimate resident = estimate(&d, SLOT0, fn, "vadd", ACCEL_SUCCESS);
    accel_icd_function_estimate by_name = estimate(&d, SLOT0, NULL, "vadd", ACCEL_SUCCESS);
    assert_int_equal(resident.fixed_ns, by_name.fixed_ns);
    assert_true(resident.fixed_ns < 20000000ull);
    assert_int_equal(resident.bytes_per_second, 19200ull * 1000000ull);
    /* Once replaced, running vadd again costs a reconfiguration (its
     * image's 20 ms). */
    assert_int_equal(load(&d, SLOT0, CRC32C_JSON, "force", &crc_prog, NULL, 0), ACCEL_SUCCESS);
    accel_icd_function_estimate evicted = estimate(&d, SLOT0, fn, "vadd", ACCEL_SUCCESS);
    assert_int_equal(evicted.fixed_ns, resident.fixed_ns + 20000000ull);
    d.t->function_release(fn);
    d.t->program_release(vadd_prog);
    d.t->program_release(crc_prog);
    ih_close(&d);
}

/* ---- failures ------------------------------------------------------------------------------ */

static void test_fpga_broken_queue(void **state)
{
    (void)state;
    ih_driver d;
    open_driver(&d);
    void *prog, *fn, *noop, *queue;
    assert_int_equal(load(&d, SLOT1, VADD_JSON, NULL, &prog, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(d.t->function_get(d.devices[SLOT1], prog, "vadd", &fn, NULL), ACCEL_SUCCESS);
    assert_int_equal(d.t->function_get(d.devices[SLOT1], NULL, "accel.noop", &noop, NULL), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(d.devices[SLOT1], &queue), ACCEL_SUCCESS);
    buf a = node_buf(&d, SLOT1, node_id(&d, SLOT1, "bank0"), 64);
    buf b = node_buf(&d, SLOT1, node_id(&d, SLOT1, "bank1"), 64);
    /* n larger than the ranges: the kernel refuses; the queue is broken. */
    accel_icd_arg args[4] = {ih_mem(a.attached, 0, 64), ih_mem(b.attached, 0, 64), ih_mem(a.attached, 0, 64),
                             ih_u32(17)};
    assert_int_equal(ih_run(&d, queue, fn, args, 4, 1, 1), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(ih_run(&d, queue, noop, NULL, 0, 0, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    /* A fresh queue works. */
    d.t->queue_destroy(queue);
    assert_int_equal(d.t->queue_create(d.devices[SLOT1], &queue), ACCEL_SUCCESS);
    args[3] = ih_u32(16);
    assert_int_equal(ih_run(&d, queue, fn, args, 4, 1, 1), ACCEL_SUCCESS);
    /* A failed wait fence fails the submission that waits for it. */
    void *q0, *bad, *gated;
    void *noop0;
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "accel.noop", &noop0, NULL), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &q0), ACCEL_SUCCESS);
    args[3] = ih_u32(17);
    accel_icd_submit s = {.struct_size = sizeof(s), .work_dim = 1, .function = fn, .args = args, .arg_count = 4,
                          .work_size = {1, 1, 1}};
    assert_int_equal(d.t->queue_submit(queue, &s, &bad), ACCEL_SUCCESS);
    accel_icd_submit g = {.struct_size = sizeof(g), .function = noop0, .wait_fence_count = 1, .wait_fences = &bad};
    assert_int_equal(d.t->queue_submit(q0, &g, &gated), ACCEL_SUCCESS);
    assert_int_equal(d.t->fence_wait(gated, UINT64_MAX), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(d.t->fence_wait(bad, 0), ACCEL_ERROR_INVALID_ARGUMENT);
    d.t->fence_release(bad);
    d.t->fence_release(gated);
    d.t->queue_destroy(q0);
    d.t->queue_destroy(queue);
    buf_free(&d, SLOT1, &a);
    buf_free(&d, SLOT1, &b);
    d.t->function_release(fn);
    d.t->function_release(noop);
    d.t->function_release(noop0);
    d.t->program_release(prog);
    ih_close(&d);
}

static void test_fpga_device_lost(void **state)
{
    (void)state;
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_FPGA_FAULT_AFTER", "3");
    ih_driver d;
    open_driver(&d);
    ts_env_pop_to(depth);
    void *noop, *queue, *fences[5];
    assert_int_equal(d.t->function_get(d.devices[SLOT0], NULL, "accel.noop", &noop, NULL), ACCEL_SUCCESS);
    assert_int_equal(d.t->queue_create(d.devices[SLOT0], &queue), ACCEL_SUCCESS);
    accel_icd_submit s = {.struct_size = sizeof(s), .function = noop};
    for (int i = 0; i < 5; i++)
        assert_int_equal(d.t->queue_submit(queue, &s, &fences[i]), ACCEL_SUCCESS);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d.t->fence_wait(fences[i], UINT64_MAX), i < 2 ? ACCEL_SUCCESS : ACCEL_ERROR_DEVICE_LOST);
        d.t->fence_release(fences[i]);
    }
    /* The card is gone: no more images, no more queues. */
    void *prog;
    assert_int_equal(load(&d, SLOT1, VADD_JSON, NULL, &prog, NULL, 0), ACCEL_ERROR_DEVICE_LOST);
    void *q1;
    assert_int_equal(d.t->queue_create(d.devices[SLOT1], &q1), ACCEL_ERROR_DEVICE_LOST);
    d.t->queue_destroy(queue);
    d.t->function_release(noop);
    ih_close(&d);
}

/* ---- the card file ------------------------------------------------------------------------ */

static void test_fpga_card_file(void **state)
{
    (void)state;
    char *path = write_tmp("cards.json",
                           "{\"config_version\": 1, \"cards\": [\n"
                           " {\"name\": \"u250\", \"slots\": 3, \"reconfigure_ms\": 5,\n"
                           "  \"banks\": [{\"name\": \"DDR0\", \"size_mib\": 1},\n"
                           "            {\"name\": \"DDR1\", \"size_mib\": 2, \"bandwidth_mbps\": 9600}]},\n"
                           " {\"name\": \"small\", \"slots\": 1, \"host_bandwidth_mbps\": 3000,\n"
                           "  \"banks\": [{\"name\": \"bank0\", \"size_mib\": 1}]}\n"
                           "]}\n");
    size_t depth = ts_env_depth();
    ts_env_push("ACCEL_FPGA_EMULATOR_CONFIG", path); /* changed below, put back at the end */
    ih_driver d;
    open_driver(&d);
    assert_int_equal(d.device_count, 6);
    assert_int_equal(d.info[0].parent_index, -1);
    assert_non_null(strstr(d.info[0].name, "u250"));
    for (int i = 1; i <= 3; i++)
        assert_int_equal(d.info[i].parent_index, 0);
    assert_int_equal(d.info[4].parent_index, -1);
    assert_non_null(strstr(d.info[4].name, "small"));
    assert_int_equal(d.info[5].parent_index, 4);
    assert_string_equal(d.info[3].partition, "slot 2");
    assert_memory_not_equal(d.info[1].uuid, d.info[5].uuid, ACCEL_UUID_SIZE);
    nodes big = get_nodes(&d, 2), small = get_nodes(&d, 5);
    for (uint32_t dev = 0; dev < d.device_count; dev++)
        check_bank_memory(&d, dev);
    assert_int_equal(big.count, 3);
    assert_string_equal(big.n[1].name, "DDR1");
    assert_int_equal(big.n[1].capacity, 2 * MIB);
    assert_int_equal(big.n[1].bandwidth_mbps, 9600);
    assert_int_equal(small.count, 2);
    assert_int_equal(small.n[1].kind, ACCEL_MEMORY_KIND_HOST);
    assert_int_equal(small.n[1].bandwidth_mbps, 3000);
    /* Bank ids differ between cards; host memory is one node. */
    assert_true(big.n[0].id != small.n[0].id);
    assert_int_equal(big.n[2].id, small.n[1].id);
    /* A bank of another card is not one of this device's nodes. */
    void *m, *ptr;
    int fd;
    assert_int_equal(d.t->memory_alloc_node(d.devices[5], big.n[0].id, 16, &m, &ptr, &fd),
                     ACCEL_ERROR_INVALID_ARGUMENT);
    assert_int_equal(d.t->memory_alloc_node(d.devices[1], big.n[0].id, 2 * MIB, &m, &ptr, &fd),
                     ACCEL_ERROR_OUT_OF_DEVICE_MEMORY);
    uint64_t ns;
    assert_int_equal(d.t->device_query(d.devices[2], ACCEL_DEVICE_PARAM_RECONFIGURE_NS, &ns, sizeof(ns), NULL),
                     ACCEL_SUCCESS);
    assert_int_equal(ns, 5000000ull);
    /* The vadd image names bank0 and bank1: the big card has neither. */
    char log[1024];
    void *prog;
    assert_int_equal(load(&d, 1, VADD_JSON, NULL, &prog, log, sizeof(log)), ACCEL_ERROR_INVALID_ARGUMENT);
    assert_non_null(strstr(log, "DDR0"));
    assert_non_null(strstr(log, "$.kernels[0].args[0].bank"));
    /* crc32c's ports reach any bank: it loads on both cards. */
    void *p1, *p2;
    assert_int_equal(load(&d, 3, CRC32C_JSON, NULL, &p1, NULL, 0), ACCEL_SUCCESS);
    assert_int_equal(load(&d, 5, CRC32C_JSON, NULL, &p2, NULL, 0), ACCEL_SUCCESS);
    d.t->program_release(p1);
    d.t->program_release(p2);
    ih_close(&d);

    /* A file that does not parse fails the driver's initialization. */
    path = write_tmp("bad-cards.json", "{\"config_version\": 1, \"cards\": [{\"name\": \"x\", \"slots\": 0, "
                                       "\"banks\": [{\"name\": \"b\", \"size_mib\": 1}]}]}");
    setenv("ACCEL_FPGA_EMULATOR_CONFIG", path, 1);
    assert_int_equal(ih_open(&d, DRIVER_PATH), -1);
    ih_close(&d);
    setenv("ACCEL_FPGA_EMULATOR_CONFIG", "/nonexistent/cards.json", 1);
    assert_int_equal(ih_open(&d, DRIVER_PATH), -1);
    ih_close(&d);
    /* Empty means the default card. */
    setenv("ACCEL_FPGA_EMULATOR_CONFIG", "", 1);
    open_driver(&d);
    assert_int_equal(d.device_count, 3);
    ih_close(&d);
    ts_env_pop_to(depth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fpga_enumeration),
        cmocka_unit_test(test_fpga_memory_nodes),
        cmocka_unit_test(test_fpga_vadd_banks),
        cmocka_unit_test(test_fpga_crc32c_any_bank),
        cmocka_unit_test(test_fpga_crc32c_lengths),
        cmocka_unit_test(test_fpga_builtins),
        cmocka_unit_test(test_fpga_busy_reconfiguration),
        cmocka_unit_test(test_fpga_bad_images),
        cmocka_unit_test(test_fpga_one_queue_per_slot),
        cmocka_unit_test(test_fpga_query),
        cmocka_unit_test(test_fpga_estimates),
        cmocka_unit_test(test_fpga_broken_queue),
        cmocka_unit_test_setup_teardown(test_fpga_device_lost, ts_env_case_setup, ts_env_case_teardown),
        cmocka_unit_test_setup_teardown(test_fpga_card_file, ts_env_case_setup, ts_env_case_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
