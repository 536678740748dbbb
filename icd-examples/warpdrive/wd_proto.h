/* wd_proto.h — the device interface of the "accel_wd_v1" queue: what the
 * warpdrive driver and the uacce emulator (uacce_emulator.c) agree on.
 *
 * On a real uacce device the kernel defines only the outer part: open() the
 * character device (one queue per open file), ioctl(UACCE_CMD_START_Q),
 * mmap() the MMIO region at page offset 0 and the device-user-shared (DUS)
 * region at page offset 1. What lives inside the regions is the hardware's
 * format, named by the sysfs attribute `api`. This file describes the one
 * format this driver speaks (api "accel_wd_v1"):
 *
 *   MMIO (region_mmio_size bytes, one page): a 32-bit doorbell at offset 0.
 *        The host writes the number of descriptors it has published so far.
 *   DUS  (region_dus_size bytes):
 *        [0, 4096)        wd_dus_header, written by the device at START_Q
 *        desc_offset      ring_entries wd_desc (host writes, device reads)
 *        cqe_offset       ring_entries wd_cqe  (device writes, host reads;
 *                         32 bytes each, room for a stream's progress)
 *
 * Submission n (counting from 0) uses slot n % ring_entries. The host fills
 * the descriptor, stores desc.seq = n + 1 with release order, then stores
 * n + 1 to the doorbell. The device executes descriptors in order, writes
 * the other fields of the completion entry and then stores cqe.seq = n + 1
 * with release order. The host reuses a slot only after it has seen its
 * completion. The DUS region is WD_DUS_SIZE bytes at least: a device whose
 * region is smaller (completion entries of another size) is not this
 * format, and the host skips it at discovery.
 *
 * Deflate level: a WD_OP_DEFLATE descriptor carries the zlib level in imm,
 * 0 (stored blocks only) to 9; the host resolves the standard function's
 * -1 (zlib's default) to 6 before it submits, so the device never sees a
 * "default". The device fails a level above 9 with WD_ST_INVALID. Whatever
 * the level, the stream it writes is never longer than a stream of stored
 * blocks (len[0] + 5 * ceil(len[0] / 65535) + 11 bytes, 11 for no input):
 * a destination of that size always suffices. This is how UADK hands the
 * HiSilicon ZIP engine its comp_lv in the request (that hardware offers few
 * levels; this device honours all ten).
 *
 * Heartbeat: a device that sets WD_DUS_HEARTBEAT in the DUS header's flags
 * advances header.heartbeat about every WD_HEARTBEAT_PERIOD_NS for as long
 * as it can run the queue, also while a long request executes. The
 * host reads it from shared memory when it polls a fence, so that polling
 * needs no system call and still notices a device that died: only when the
 * counter has stood still for WD_HEARTBEAT_STALE_NS does the host ask the
 * kernel (a zero-timeout poll of the queue's file) whether the device is
 * gone. A stopped counter alone proves nothing (the device may merely not
 * have been scheduled). A real uacce device has no such counter; there a
 * status poll never asks the kernel, and loss is found by waiting.
 *
 * Small results in the completion entry: a crc32c descriptor with flags
 * bit WD_DESC_RESULT_IN_CQE asks the device to return the 32-bit result in
 * cqe.produced instead of writing it to buf1 (it still checks len[1] >= 4);
 * the host stores it to buf1 (little endian) when it reaps the completion.
 * This saves the device a write into host memory (an emulator with SVA: a
 * process_vm_writev) for a 4-byte result.
 *
 * Stream progress in the completion entry: a WD_OP_INFLATE_STREAM
 * descriptor carries src, dst and the state (the function's remaining
 * argument, the 24-byte progress, has no room in it). The device decodes as the
 * portable inflater does (docs/standard-functions.md, "Stream forms": the
 * state is the whole context, in the documented layout, so a stream moves
 * between this device and any other between two calls), writes dst and the
 * state, and returns the progress in the completion entry: cqe.consumed
 * (bytes of src taken), cqe.produced (bytes written to dst) and cqe.info
 * (the stream status: 0 more input needed, 1 the stream ended, 2 dst is
 * full). The host stores them to the progress buffer (u64, u64, u32, u32 0,
 * little endian) when it reaps the completion, before the fence completes.
 * This is how the HiSilicon ZIP engine hands UADK's stream mode the
 * consumed and produced counts and the end-of-stream flag, written back
 * with the request; its per-session context buffer is the state here.
 *
 * What failed: a descriptor the device refuses with WD_ST_INVALID may say
 * which of its buffers is at fault and why in cqe.info (WD_INFO_BUF and
 * WD_INFO_WHY; 0: no detail), so that the host can name the function's
 * argument. WD_OP_INFLATE_STREAM always does.
 *
 * The device never trusts a descriptor: it checks lengths, reserved fields
 * and overlaps before it touches a buffer, and reads each buffer it parses
 * (the state) once into memory of its own, so that the client changing its
 * memory under a running request cannot lead it outside a buffer.
 *
 * Addresses in descriptors: with SVA (flags bit 0) host virtual addresses
 * of the process that started the queue; without SVA a registered region id
 * in the top 24 bits and a byte offset in the low 40 (WD_ADDR()).
 *
 * The emulator's translation cache (SVA only; not part of a real device's
 * interface, where the IOMMU translates): WD_MSG_TRANSLATE_ADD hands the
 * emulator a file descriptor for memory the client attached and the virtual
 * range where the client maps it, so that requests on those addresses reach
 * the bytes through the emulator's own mapping instead of a system call on
 * the client's address space. WD_MSG_TRANSLATE_REMOVE is answered only once
 * no later request can use the entry.
 *
 * The emulator's control socket (the "device node" when it is a UNIX
 * socket, SOCK_SEQPACKET) carries wd_msg messages; file descriptors travel
 * as SCM_RIGHTS. One connection = one open file of the character device.
 */
#ifndef WD_PROTO_H
#define WD_PROTO_H

#include <stdatomic.h>
#include <stdint.h>

/* The uacce ioctls (include/uapi/misc/uacce/uacce.h). */
#ifndef UACCE_CMD_START_Q
#define UACCE_CMD_START_Q _IO('W', 0)
#define UACCE_CMD_PUT_Q   _IO('W', 1)
#endif
#define UACCE_DEV_SVA 0x1u

/* mmap page offsets of the two regions (enum uacce_qfrt). */
#define WD_QFR_MMIO 0
#define WD_QFR_DUS  1

#define WD_API           "accel_wd_v1"
#define WD_DUS_MAGIC     0x31445741u /* "AWD1" */
#define WD_RING_ENTRIES  256u
#define WD_MMIO_SIZE     4096u
#define WD_DESC_OFFSET   4096u
#define WD_CQE_OFFSET    (WD_DESC_OFFSET + WD_RING_ENTRIES * 64u)
#define WD_DUS_SIZE      (WD_CQE_OFFSET + WD_RING_ENTRIES * 32u)

#define WD_ADDR_SHIFT    40
#define WD_ADDR(id, off) (((uint64_t)(id) << WD_ADDR_SHIFT) | (uint64_t)(off))
#define WD_ADDR_ID(a)    ((uint32_t)((a) >> WD_ADDR_SHIFT))
#define WD_ADDR_OFF(a)   ((a) & ((1ull << WD_ADDR_SHIFT) - 1))

/* Operations. */
enum wd_op {
    WD_OP_NOOP = 0,
    WD_OP_CRC32C = 1,  /* buf0 = src, buf1 = result (>= 4) */
    WD_OP_SHA256 = 2,  /* buf0 = src, buf1 = result (>= 32) */
    WD_OP_DEFLATE = 3, /* buf0 = src, buf1 = dst, buf2 = out_size (>= 8), imm = level 0..9 */
    WD_OP_INFLATE = 4, /* buf0 = src, buf1 = dst, buf2 = out_size (>= 8) */
    WD_OP_COPY = 5,    /* buf0 = src, buf1 = dst */
    WD_OP_FILL = 6,    /* buf0 = dst, imm = pattern */
    /* The stream forms (docs/standard-functions.md, "Stream forms"): the
     * state in host memory, in the documented layout. */
    WD_OP_CRC32C_STREAM = 7, /* buf0 = src, buf1 = state (>= 4) */
    WD_OP_SHA256_STREAM = 8, /* buf0 = src, buf1 = state (>= 112), buf2 = result (0 or >= 32), imm = final */
    /* buf0 = src, buf1 = dst, buf2 = state (>= 32800), imm = level 0..9 | WD_IMM_FINAL; the piece's
     * length comes back in cqe.produced and the host stores it to out_size (the function's fourth
     * buffer, for which a descriptor has no room). */
    WD_OP_DEFLATE_STREAM = 9,
    /* buf0 = src, buf1 = dst, buf2 = state (>= 33984), no two overlapping, flags and imm 0; the
     * progress comes back in cqe.consumed, cqe.produced and cqe.info, and the host stores it to
     * progress (the function's third buffer, for which a descriptor has no room). */
    WD_OP_INFLATE_STREAM = 10,
    WD_OP_COUNT
};

/* Descriptor flags. */
#define WD_DESC_RESULT_IN_CQE 0x1u /* crc32c: the result in cqe.produced, buf1 untouched */

#define WD_DEFLATE_LEVEL_MAX 9u
#define WD_IMM_FINAL         0x100u /* WD_OP_DEFLATE_STREAM: the last chunk of the stream */

/* Header flags (besides UACCE_DEV_SVA). */
#define WD_DUS_HEARTBEAT 0x2u /* header.heartbeat advances while the device lives */

#define WD_HEARTBEAT_PERIOD_NS 1000000ull  /* how often the device beats */
#define WD_HEARTBEAT_STALE_NS  20000000ull /* the host's patience before it asks the kernel */

/* Completion status. */
enum wd_status {
    WD_ST_OK = 0,
    WD_ST_INVALID = 1,  /* output too small, corrupt stream: the function's own failure */
    WD_ST_FAULT = 2,    /* an address the device cannot reach */
    WD_ST_HW_ERROR = 3, /* an (injected) hardware error */
    WD_ST_NOMEM = 4,    /* the device ran out of working memory */
    WD_ST_ISOLATED = 5, /* the device is isolated: nothing runs any more */
    WD_ST_BAD_OP = 6,
};

typedef struct wd_dus_header {
    uint32_t magic;
    uint32_t ring_entries;
    uint32_t desc_offset;
    uint32_t cqe_offset;
    uint32_t flags; /* UACCE_DEV_SVA when addresses are virtual; WD_DUS_HEARTBEAT */
    _Atomic uint32_t heartbeat; /* WD_DUS_HEARTBEAT: advanced by the device, read by the host */
} wd_dus_header;

typedef struct wd_desc {
    uint32_t op;
    uint32_t flags; /* WD_DESC_* (other bits reserved, 0) */
    uint64_t addr[3];
    uint64_t len[3];
    uint32_t imm;
    _Atomic uint32_t seq;
} wd_desc;
_Static_assert(sizeof(wd_desc) == 64, "wd_desc is one cache line");

typedef struct wd_cqe {
    int32_t status;
    _Atomic uint32_t seq;
    uint64_t produced; /* deflate / inflate (and their stream forms): bytes written to dst;
                          crc32c with WD_DESC_RESULT_IN_CQE: the result */
    uint64_t consumed; /* WD_OP_INFLATE_STREAM: bytes of src consumed; else 0 */
    uint32_t info;     /* WD_OP_INFLATE_STREAM: the stream status (WD_STREAM_*); on WD_ST_INVALID:
                          WD_INFO_BUF / WD_INFO_WHY, or 0; else 0 */
    uint32_t reserved; /* 0 */
} wd_cqe;
_Static_assert(sizeof(wd_cqe) == 32, "wd_cqe is 32 bytes");

/* cqe.info of a completed WD_OP_INFLATE_STREAM: the function's status. */
enum wd_stream_status {
    WD_STREAM_NEED_INPUT = 0, /* all of src consumed, the stream goes on */
    WD_STREAM_END = 1,        /* the stream ended (header, blocks, Adler-32 checked) */
    WD_STREAM_DST_FULL = 2,   /* dst is full: again with more room and the rest of src */
};

/* cqe.info of a WD_ST_INVALID completion: the buffer at fault and why. */
enum wd_info_why {
    WD_WHY_SIZE = 1,     /* the buffer is too small */
    WD_WHY_CONTENT = 2,  /* its bytes are not valid: a corrupt stream, a state no device wrote */
    WD_WHY_OVERLAP = 3,  /* it overlaps another buffer of the descriptor */
    WD_WHY_RESERVED = 4, /* flags or imm hold bits the operation does not define (buffer: none) */
};
#define WD_INFO(buf, why) ((uint32_t)(why) << 8 | ((uint32_t)(buf) + 1u)) /* buf 0..2, or 3: none */
#define WD_INFO_BUF(info) ((int)((info) & 0xffu) - 1)                      /* -1: no detail */
#define WD_INFO_WHY(info) (((info) >> 8) & 0xffu)

/* Control messages (emulator socket). */
#define WD_MSG_MAGIC 0x4d445755u /* "UWDM" */
enum wd_msg_type {
    WD_MSG_START_Q = 1,      /* -> fds: [/proc/self/mem] optional; <- fds: [mmio, dus], a = mmio size, b = dus size */
    WD_MSG_PUT_Q = 2,        /* stop the queue; <- status */
    WD_MSG_REGISTER = 3,     /* -> fd, a = offset, b = size; <- a = region id (non-SVA memory) */
    WD_MSG_UNREGISTER = 4,   /* -> a = region id */
    WD_MSG_INJECT_ERROR = 5, /* -> count one hardware error (a = how many, 0 = 1) */
    WD_MSG_TRANSLATE_ADD = 6,    /* -> fd, a = offset, b = size, c = client virtual address; <- a = entry id
                                    (SVA; EEXIST when the range overlaps an entry of the same process) */
    WD_MSG_TRANSLATE_REMOVE = 7, /* -> a = entry id; <- status */
};

typedef struct wd_msg {
    uint32_t magic;
    uint32_t type;
    int32_t status; /* replies: 0 or a positive errno */
    uint32_t reserved;
    uint64_t a, b, c;
} wd_msg;

#endif
