/* util.c — what every test uses: failing and skipping with a message,
 * objects released by the teardown, submissions and bounded waits, and
 * reference implementations of the checksums the standard functions must
 * compute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

/* ---- reporting ---- */

const char *conf_rs(accel_result r)
{
    static _Thread_local char buf[96];
    snprintf(buf, sizeof(buf), "%s (%d)", accel_result_name(r), (int)r);
    return buf;
}

void conf_fail_at(conf_ctx *c, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->result->message, sizeof(c->result->message), fmt, ap);
    va_end(ap);
    c->result->status = CONF_FAILED;
    printf("    FAIL: %s\n", c->result->message);
    fflush(stdout);
    _fail(file, line);
    abort(); /* _fail does not return */
}

void conf_skip(conf_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->result->message, sizeof(c->result->message), fmt, ap);
    va_end(ap);
    c->result->status = CONF_SKIPPED;
    printf("    SKIP: %s\n", c->result->message);
    fflush(stdout);
    skip();
    abort();
}

void conf_note(conf_ctx *c, const char *fmt, ...)
{
    (void)c;
    if (!conf.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("    note: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

void conf_expect(conf_ctx *c, const char *file, int line, const char *what, accel_result got,
                 accel_result want)
{
    if (got == want)
        return;
    const char *detail = accel_last_error_message();
    char want_text[96];
    snprintf(want_text, sizeof(want_text), "%s", conf_rs(want));
    conf_fail_at(c, file, line, "%s returned %s, expected %s%s%s", what, conf_rs(got), want_text,
                 detail && *detail ? "; loader: " : "", detail ? detail : "");
}

/* ---- objects ---- */

void conf_track(conf_ctx *c, conf_obj_kind kind, void *ptr)
{
    if (!ptr)
        return;
    if (c->obj_count == c->obj_capacity) {
        size_t grown = c->obj_capacity ? c->obj_capacity * 2 : 64;
        conf_obj *bigger = realloc(c->objs, grown * sizeof(*bigger));
        if (!bigger)
            FAIL("out of host memory in the suite");
        c->objs = bigger;
        c->obj_capacity = grown;
    }
    c->objs[c->obj_count++] = (conf_obj){kind, ptr, NULL};
}

void conf_defer(conf_ctx *c, void (*release)(void *ptr), void *ptr)
{
    conf_track(c, CONF_OBJ_CALLBACK, ptr);
    c->objs[c->obj_count - 1].release = release;
}

static void release_obj(conf_obj *o)
{
    switch (o->kind) {
    case CONF_OBJ_MEMORY: accel_memory_free(o->ptr); break;
    case CONF_OBJ_QUEUE: accel_queue_destroy(o->ptr); break;
    case CONF_OBJ_FENCE: accel_fence_release(o->ptr); break;
    case CONF_OBJ_FUNCTION: accel_function_destroy(o->ptr); break;
    case CONF_OBJ_PROGRAM: accel_program_destroy(o->ptr); break;
    case CONF_OBJ_HEAP: free(o->ptr); break;
    case CONF_OBJ_INSTANCE: accel_instance_destroy(o->ptr); break;
    case CONF_OBJ_CALLBACK: o->release(o->ptr); break;
    }
}

void conf_release(conf_ctx *c, void *ptr)
{
    for (size_t i = c->obj_count; i-- > 0;) {
        if (c->objs[i].ptr == ptr) {
            conf_obj o = c->objs[i];
            memmove(&c->objs[i], &c->objs[i + 1], (c->obj_count - i - 1) * sizeof(*c->objs));
            c->obj_count--;
            release_obj(&o);
            return;
        }
    }
}

/* Newest first, but callbacks and fences before everything else: a fence keeps its
 * queue's bookkeeping alive, and queues must go before the memory and the
 * functions their work uses (destroying a queue waits for that work). */
void conf_release_all(conf_ctx *c)
{
    static const conf_obj_kind order[] = {CONF_OBJ_CALLBACK, CONF_OBJ_FENCE,   CONF_OBJ_QUEUE,
                                          CONF_OBJ_FUNCTION, CONF_OBJ_PROGRAM, CONF_OBJ_MEMORY,
                                          CONF_OBJ_INSTANCE, CONF_OBJ_HEAP};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        for (size_t i = c->obj_count; i-- > 0;)
            if (c->objs[i].kind == order[k])
                release_obj(&c->objs[i]);
    free(c->objs);
    c->objs = NULL;
    c->obj_count = c->obj_capacity = 0;
}

void *conf_malloc(conf_ctx *c, size_t size)
{
    void *p = calloc(1, size ? size : 1);
    CHECK(p, "out of host memory in the suite (%zu bytes)", size);
    conf_track(c, CONF_OBJ_HEAP, p);
    return p;
}

accel_memory *conf_alloc_in(conf_ctx *c, accel_instance *inst, uint64_t size)
{
    accel_memory_alloc_info info = {.struct_size = sizeof(info), .size = size, .numa_node = -1};
    accel_memory *m = NULL;
    OK(accel_memory_alloc(inst, &info, &m));
    conf_track(c, CONF_OBJ_MEMORY, m);
    return m;
}

accel_memory *conf_alloc(conf_ctx *c, uint64_t size)
{
    return conf_alloc_in(c, conf.instance, size);
}

unsigned char *conf_map(conf_ctx *c, accel_memory *m)
{
    void *p = NULL;
    OK(accel_memory_map(m, &p));
    CHECK(p, "accel_memory_map gave a NULL address");
    return p;
}

accel_attach_mode conf_attach(conf_ctx *c, accel_memory *m, accel_device *dev)
{
    accel_attach_mode mode = ACCEL_ATTACH_NONE;
    OK(accel_memory_attach(m, dev ? dev : c->dev, &mode));
    CHECK(mode == ACCEL_ATTACH_ZERO_COPY || mode == ACCEL_ATTACH_PINNED || mode == ACCEL_ATTACH_STAGED,
          "accel_memory_attach reported mode %d", (int)mode);
    return mode;
}

accel_queue *conf_queue(conf_ctx *c, accel_device *dev)
{
    accel_queue *q = NULL;
    accel_result r = accel_queue_create(dev ? dev : c->dev, 0, &q);
    if (r == ACCEL_ERROR_UNSUPPORTED)
        conf_skip(c, "unsupported: the device runs no work (accel_queue_create: %s)",
                  accel_last_error_message());
    OK(r);
    CHECK(q, "accel_queue_create succeeded without a queue");
    conf_track(c, CONF_OBJ_QUEUE, q);
    return q;
}

accel_function *conf_builtin(conf_ctx *c, accel_device *dev, const char *name)
{
    accel_function *fn = NULL;
    accel_result r = accel_function_get(dev ? dev : c->dev, NULL, name, &fn);
    if (r == ACCEL_ERROR_NOT_FOUND)
        return NULL;
    if (r == ACCEL_ERROR_UNSUPPORTED)
        conf_skip(c, "unsupported: the device runs no functions (accel_function_get: %s)",
                  accel_last_error_message());
    if (r != ACCEL_SUCCESS)
        FAIL("accel_function_get(\"%s\") returned %s; a device that does not offer a function returns "
             "ACCEL_ERROR_NOT_FOUND; loader: %s",
             name, conf_rs(r), accel_last_error_message());
    CHECK(fn, "accel_function_get(\"%s\") succeeded without a function", name);
    conf_track(c, CONF_OBJ_FUNCTION, fn);
    return fn;
}

accel_function *conf_need_builtin(conf_ctx *c, accel_device *dev, const char *name)
{
    accel_function *fn = conf_builtin(c, dev, name);
    if (!fn)
        conf_skip(c, "not offered: the device does not offer %s (ACCEL_ERROR_NOT_FOUND)", name);
    return fn;
}

accel_arg conf_mem_arg(accel_memory *m, uint64_t offset, uint64_t size)
{
    accel_arg a = {.kind = ACCEL_ARG_MEMORY};
    a.u.mem.memory = m;
    a.u.mem.offset = offset;
    a.u.mem.size = size;
    return a;
}

accel_arg conf_u32_arg(uint32_t v)
{
    accel_arg a = {.kind = ACCEL_ARG_U32};
    a.u.u32 = v;
    return a;
}

accel_result conf_submit(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args,
                         uint32_t argc, accel_fence *const *waits, uint32_t wait_count, accel_fence **fence)
{
    accel_submit_info s = {.struct_size = sizeof(s),
                           .function = fn,
                           .args = args,
                           .arg_count = argc,
                           .wait_fences = waits,
                           .wait_fence_count = wait_count};
    accel_fence *f = NULL;
    accel_result r = accel_queue_submit(q, &s, fence ? &f : NULL);
    if (r == ACCEL_SUCCESS && fence) {
        CHECK(f, "accel_queue_submit succeeded without a fence");
        conf_track(c, CONF_OBJ_FENCE, f);
        *fence = f;
    }
    return r;
}

accel_fence *conf_submit_ok(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args,
                            uint32_t argc, accel_fence *const *waits, uint32_t wait_count)
{
    accel_fence *f = NULL;
    accel_result r = conf_submit(c, q, fn, args, argc, waits, wait_count, &f);
    if (r != ACCEL_SUCCESS)
        FAIL("accel_queue_submit returned %s, expected ACCEL_SUCCESS (0); loader: %s", conf_rs(r),
             accel_last_error_message());
    return f;
}

accel_result conf_wait(conf_ctx *c, accel_fence *const *fences, uint32_t count, bool all)
{
    accel_result r = accel_fence_wait(fences, count, all, conf.wait_ns);
    if (r == ACCEL_TIMEOUT)
        FAIL(
            "the work did not complete within %llu s (accel_fence_wait returned ACCEL_TIMEOUT): a fence that "
            "never completes hangs applications",
            (unsigned long long)(conf.wait_ns / 1000000000u));
    return r;
}

void conf_wait_ok(conf_ctx *c, accel_fence *fence)
{
    accel_result r = conf_wait(c, &fence, 1, true);
    if (r != ACCEL_SUCCESS)
        FAIL("the submission failed: its fence reports %s; loader: %s", conf_rs(r),
             accel_last_error_message());
}

accel_result conf_run(conf_ctx *c, accel_queue *q, accel_function *fn, const accel_arg *args, uint32_t argc)
{
    accel_fence *f = conf_submit_ok(c, q, fn, args, argc, NULL, 0);
    accel_result r = conf_wait(c, &f, 1, true);
    conf_release(c, f);
    return r;
}

accel_device *conf_other_driver_device(conf_ctx *c)
{
    for (uint32_t i = 0; i < conf.all_count; i++) {
        accel_device_info info = {.struct_size = sizeof(info)};
        if (accel_device_get_info(conf.all[i], &info) == ACCEL_SUCCESS &&
            strcmp(info.driver_name, c->d->driver_name) != 0)
            return conf.all[i];
    }
    return NULL;
}

/* ---- data ---- */

void conf_fill_random(void *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (unsigned char)(x >> 24);
    }
}

uint32_t conf_crc32c(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

/* SHA-256 (FIPS 180-4), written for clarity, not speed. */
static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void sha_block(uint32_t h[8], const unsigned char *blk)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 | (uint32_t)blk[4 * i + 2] << 8 |
               blk[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], cc = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = cc;
        cc = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += cc;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void conf_sha256(const void *p, size_t n, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *b = p;
    size_t done = 0;
    for (; n - done >= 64; done += 64)
        sha_block(h, b + done);
    unsigned char last[128] = {0};
    size_t rest = n - done;
    memcpy(last, b + done, rest);
    last[rest] = 0x80;
    size_t total = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        last[total - 1 - i] = (unsigned char)(bits >> (8 * i));
    sha_block(h, last);
    if (total == 128)
        sha_block(h, last + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

long conf_first_difference(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return (long)i;
    return -1;
}

long conf_first_not(const void *p, size_t n, unsigned char value)
{
    const unsigned char *x = p;
    for (size_t i = 0; i < n; i++)
        if (x[i] != value)
            return (long)i;
    return -1;
}
