// common.glsl — shared by the built-in functions' shaders.
//
// Every built-in sees its memory arguments as uint arrays bound at an
// offset aligned down to minStorageBufferOffsetAlignment; offN is the byte
// offset of argument N's range inside its binding and sizeN its size in
// bytes (see vk_builtins.c, which fills this block). Bytes are reached
// through 32-bit words and shifts, so no 8-bit storage feature is needed.
// A failing call writes a code into the status binding, which the driver
// turns into the fence's error; the rest of that binding is scratch state
// that carries sequential work from one dispatch to the next.
//
// Sequential work is split into chunks, one dispatch each, because some
// implementations bound the loop iterations of one invocation (llvmpipe
// stops every loop of an invocation after 65535 iterations in total).
layout(push_constant) uniform Params {
    uint off0;
    uint off1;
    uint off2;
    uint size0;
    uint size1;
    uint size2;
    uint pattern; // the scalar argument (deflate: the level, -1 made 6)
    uint chunk;   // which chunk of a chunked pass this dispatch runs
    // Built-ins with a schedule (vk_builtins.c): what this dispatch works on.
    uint first;   // first segment of this dispatch's wave
    uint count;   // segments in the wave
    uint total;   // segments in the call
    uint step;    // dispatch index within the current phase
    uint aux0;
    uint aux1;
    uint aux2;
    uint aux3;
    // A fourth memory argument (zlib.inflate.stream's state) and a second
    // scalar argument.
    uint off3;
    uint size3;
    uint scalar1;
    uint pad_;
} pc;

const uint ST_TOO_SMALL = 1u;
const uint ST_CORRUPT = 2u;
const uint ST_WORK_LIMIT = 3u; // ran out of dispatches: reported as unsupported
const uint ST_LOOP_LIMIT = 4u; // a loop ended early at the implementation's limit: reported as unsupported
const uint ST_INTERNAL = 5u;   // a built-in's own consistency check failed
const uint ST_BAD_STATE = 6u;  // a stream form's state argument is not one it wrote (nor zeros)

// Byte i (absolute, inside the binding) of buffer block B.
#define RD(B, i) ((B.w[(i) >> 2] >> (((i) & 3u) << 3)) & 0xffu)

// Store the bytes of word idx selected by mask, leaving the others alone
// even if someone else writes them concurrently.
#define PUT_MASKED(B, idx, val, mask)                                       \
    {                                                                       \
        uint m_ = (mask);                                                   \
        if (m_ == 0xffffffffu) {                                            \
            B.w[idx] = (val);                                               \
        } else if (m_ != 0u) {                                              \
            atomicAnd(B.w[idx], ~m_);                                       \
            atomicOr(B.w[idx], (val) & m_);                                 \
        }                                                                   \
    }

// Store a little-endian u32 at any byte offset.
#define PUT_U32(B, off, v)                                                  \
    {                                                                       \
        uint o_ = (off);                                                    \
        uint v_ = (v);                                                      \
        uint s_ = (o_ & 3u) * 8u;                                           \
        if (s_ == 0u) {                                                     \
            B.w[o_ >> 2] = v_;                                              \
        } else {                                                            \
            PUT_MASKED(B, o_ >> 2, v_ << s_, 0xffffffffu << s_);            \
            PUT_MASKED(B, (o_ >> 2) + 1u, v_ >> (32u - s_), 0xffffffffu >> (32u - s_)); \
        }                                                                   \
    }

// The 4 bytes at byte offset s (all inside the range) as a little-endian word.
#define LOAD_U32(B, s)                                                      \
    ((((s) & 3u) == 0u) ? B.w[(s) >> 2]                                     \
                        : ((B.w[(s) >> 2] >> (((s) & 3u) * 8u)) |          \
                           (B.w[((s) >> 2) + 1u] << (32u - ((s) & 3u) * 8u))))

uint bswap32(uint x)
{
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
}

// The same for memory bound as R32_UINT storage texel buffers (uimageBuffer),
// the faster path on llvmpipe: TRD reads byte i, TPUT_MASKED stores the
// bytes of word idx selected by mask.
#define TRD(I, i) ((imageLoad(I, int((i) >> 2)).x >> (((i) & 3u) << 3)) & 0xffu)
#define TLD(I, idx) (imageLoad(I, int(idx)).x)
#define TST(I, idx, v) imageStore(I, int(idx), uvec4((v), 0u, 0u, 0u))
#define TPUT_MASKED(I, idx, val, mask)                                      \
    {                                                                       \
        uint m_ = (mask);                                                   \
        if (m_ == 0xffffffffu) {                                            \
            TST(I, idx, val);                                               \
        } else if (m_ != 0u) {                                              \
            imageAtomicAnd(I, int(idx), ~m_);                               \
            imageAtomicOr(I, int(idx), (val) & m_);                         \
        }                                                                   \
    }
