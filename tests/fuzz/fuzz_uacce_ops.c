/* fuzz_uacce_ops.c — libFuzzer target for the operations of the emulated
 * uacce device (icd-examples/warpdrive/emu_ops.c), which run whatever
 * descriptor a client writes into its ring: the device side of a boundary
 * that must not trust the client.
 *
 * The input is one descriptor and the memory it works on: byte 0 the op
 * (past the last one too), byte 1 the flags, bytes 2-5 the immediate, then
 * for each of the three buffers 6 bytes: a kind (1 in 8 an address nothing
 * is mapped at, one that wraps, or a kernel address, with any length up to
 * 2^63; else a place in the arena), an offset (2 bytes) and a length (3
 * bytes), kept inside the arena (a length past the client's memory would
 * be the client's own write). The rest of the input is the arena's
 * content (zlib streams, stream states, noise). The device reaches the
 * arena through this process's address space (process_vm_readv on its own
 * pid), as the emulator reaches a client's host memory.
 *
 * Checked: the op returns a known status; a successful zlib.inflate.stream
 * reports a progress within its buffers and a status of 0 to 2; not a
 * byte around the arena changes. Never a crash or an access outside a
 * buffer (the sanitizers). The same file is linked with replay.c into the
 * normal test run, which replays the corpus in tests/corpus/uacce_ops/. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_hash.h"
#include "emu_memory.h"
#include "emu_ops.h"
#include "wd_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA (64u << 10)
#define GUARD 4096u

static uint8_t block[GUARD + ARENA + GUARD];
static uint8_t scratch[EMU_SCRATCH];

static uint32_t take(const uint8_t **p, size_t *n, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        v |= (uint32_t) * *p << (8 * i);
    return v;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_uacce_ops: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    if (!initialized) {
        emu_crc32c_init();
        emu_memory_init(true); /* SVA: addresses are this process's */
        initialized = 1;
    }
    uint8_t *arena = block + GUARD;
    const uint8_t *p = data;
    size_t n = size;
    wd_desc d;
    memset(&d, 0, sizeof(d));
    d.op = take(&p, &n, 1) % (WD_OP_COUNT + 2);
    uint32_t flags = take(&p, &n, 1);
    d.flags = flags < 128 ? flags & 1 : flags; /* mostly 0 or WD_DESC_RESULT_IN_CQE */
    d.imm = take(&p, &n, 4);
    for (int b = 0; b < 3; b++) {
        uint32_t kind = take(&p, &n, 1), off = take(&p, &n, 2) % ARENA, len = take(&p, &n, 3);
        if (kind % 8 == 7) {
            static const uint64_t unreachable[] = {0x1000, UINT64_MAX - 100, 0xffff800000000000ull, 0};
            d.addr[b] = unreachable[(kind >> 3) % 4];
            d.len[b] = kind & 0x80 ? 1ull << (len % 64) : len;
        } else {
            d.addr[b] = (uint64_t)(uintptr_t)(arena + off);
            d.len[b] = len < ARENA - off ? len : ARENA - off;
        }
    }
    memset(block, 0xa5, sizeof(block));
    memset(arena, 0, ARENA);
    memcpy(arena, p, n < ARENA ? n : ARENA);

    emu_space space = {.pid = getpid(), .mem_fd = -1};
    emu_ctx ctx = {&space, scratch};
    emu_result res;
    int st = emu_execute(&ctx, &d, &res);
    check(st >= WD_ST_OK && st <= WD_ST_BAD_OP, "unknown status");
    if (st == WD_ST_OK && d.op == WD_OP_INFLATE_STREAM)
        check(res.consumed <= d.len[0] && res.produced <= d.len[1] && res.info <= WD_STREAM_DST_FULL,
              "a stream inflate reports more than its buffers");
    if (st != WD_ST_OK)
        check(!res.consumed && (st == WD_ST_INVALID || !res.info), "a failed request reports progress");
    for (size_t i = 0; i < GUARD; i++)
        check(block[i] == 0xa5 && block[GUARD + ARENA + i] == 0xa5, "a write outside the arena");
    return 0;
}
