/* chain.c — ordered work from whatever function a device offers.
 *
 * The tests of order, waits, concurrency and device loss need submissions
 * whose results show the order they ran in. accel.fill and accel.copy give
 * that directly; a fixed-function device may offer neither (a compression
 * engine, a checksum unit). A chain works with any function that reads one
 * range and writes another: slot 0 holds random bytes, the others zeros
 * (each slot a memory object of its own), and step i reads CONF_CHAIN_IN bytes of slot i and writes slot i
 * + 1. If step i ran before step i - 1, it read zeros, and its output is not what the function computes from
 * the final slot i: every step is checked against the suite's own reference (a copy, CRC-32C, SHA-256, or
 * zlib's inflate of the deflated bytes). */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "conformance.h"

static const struct {
    const char *name;
    conf_step_kind kind;
} step_functions[] = {
    {"accel.copy", CONF_STEP_COPY},
    {"crc32c", CONF_STEP_CRC32C},
    {"sha256", CONF_STEP_SHA256},
    {"zlib.deflate", CONF_STEP_DEFLATE},
};

bool conf_step_find(conf_ctx *c, accel_device *dev, conf_step_fn *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(step_functions) / sizeof(step_functions[0]); i++) {
        accel_function *fn = conf_builtin(c, dev, step_functions[i].name);
        if (fn) {
            *out = (conf_step_fn){fn, step_functions[i].name, step_functions[i].kind};
            return true;
        }
    }
    return false;
}

conf_step_fn conf_need_step(conf_ctx *c, accel_device *dev)
{
    conf_step_fn f;
    if (!conf_step_find(c, dev, &f))
        conf_skip(c, "not offered: the test needs one of accel.copy, crc32c, sha256 or zlib.deflate "
                     "(ACCEL_ERROR_NOT_FOUND)");
    return f;
}

conf_chain *conf_chain_new(conf_ctx *c, uint32_t steps, uint64_t seed)
{
    conf_chain *ch = conf_malloc(c, sizeof(*ch));
    ch->steps = steps;
    ch->slot = conf_malloc(c, (steps + 1) * sizeof(*ch->slot));
    ch->p = conf_malloc(c, (steps + 1) * sizeof(*ch->p));
    for (uint32_t i = 0; i <= steps; i++) {
        ch->slot[i] = conf_alloc(c, CONF_CHAIN_STRIDE);
        ch->p[i] = conf_map(c, ch->slot[i]);
    }
    ch->sizes = conf_alloc(c, 8 * (uint64_t)(steps ? steps : 1));
    ch->sz = conf_map(c, ch->sizes);
    conf_fill_random(ch->p[0], CONF_CHAIN_STRIDE, seed);
    return ch;
}

void conf_chain_attach(conf_ctx *c, conf_chain *ch, accel_device *dev)
{
    for (uint32_t i = 0; i <= ch->steps; i++)
        conf_attach(c, ch->slot[i], dev);
    conf_attach(c, ch->sizes, dev);
}

uint32_t conf_chain_args(const conf_step_fn *f, const conf_chain *ch, uint32_t step, accel_arg *args)
{
    accel_memory *in = ch->slot[step], *out = ch->slot[step + 1];
    args[0] = conf_mem_arg(in, 0, CONF_CHAIN_IN);
    switch (f->kind) {
    case CONF_STEP_COPY: args[1] = conf_mem_arg(out, 0, CONF_CHAIN_IN); return 2;
    case CONF_STEP_CRC32C: args[1] = conf_mem_arg(out, 0, 4); return 2;
    case CONF_STEP_SHA256: args[1] = conf_mem_arg(out, 0, 32); return 2;
    case CONF_STEP_DEFLATE:
        args[1] = conf_mem_arg(out, 0, CONF_CHAIN_STRIDE);
        args[2] = conf_mem_arg(ch->sizes, 8 * (uint64_t)step, 8);
        args[3] = (accel_arg){.kind = ACCEL_ARG_I32, .u.i32 = 1};
        return 4;
    }
    return 0;
}

bool conf_chain_done(const conf_step_fn *f, const conf_chain *ch, uint32_t step, char *why, size_t size)
{
    const unsigned char *in = ch->p[step], *out = ch->p[step + 1];
    long bad = -1;
    switch (f->kind) {
    case CONF_STEP_COPY: bad = conf_first_difference(out, in, CONF_CHAIN_IN); break;
    case CONF_STEP_CRC32C: {
        uint32_t want = conf_crc32c(in, CONF_CHAIN_IN);
        unsigned char w[4] = {(unsigned char)want, (unsigned char)(want >> 8), (unsigned char)(want >> 16),
                              (unsigned char)(want >> 24)};
        bad = conf_first_difference(out, w, 4);
        break;
    }
    case CONF_STEP_SHA256: {
        uint8_t want[32];
        conf_sha256(in, CONF_CHAIN_IN, want);
        bad = conf_first_difference(out, want, 32);
        break;
    }
    case CONF_STEP_DEFLATE: {
        uint64_t n = 0;
        for (int k = 7; k >= 0; k--)
            n = n << 8 | ch->sz[8 * (size_t)step + (size_t)k];
        unsigned char plain[CONF_CHAIN_IN + 1];
        uLongf len = sizeof(plain);
        if (n == 0 || n > CONF_CHAIN_STRIDE || uncompress(plain, &len, out, (uLong)n) != Z_OK) {
            snprintf(why, size, "step %u (%s): its output (out_size %llu) is not a zlib stream", step,
                     f->name, (unsigned long long)n);
            return false;
        }
        bad = len == CONF_CHAIN_IN ? conf_first_difference(plain, in, CONF_CHAIN_IN) : 0;
        break;
    }
    }
    if (bad >= 0) {
        snprintf(why, size,
                 "step %u (%s) is not what the function computes from its input as the step before left it "
                 "(byte %ld differs)",
                 step, f->name, bad);
        return false;
    }
    return true;
}
