/* cpu_hash.c — CRC-32C and SHA-256 for the standard functions.
 *
 * CRC-32C: Castagnoli, reflected polynomial 0x82F63B78; the caller does the
 * initial and final inversion. ISA-L's crc32_iscsi where the build has
 * ISA-L: three crc32 instruction streams joined with a carry-less multiply
 * (or AVX-512 folding where the processor has it), chosen by ISA-L at run
 * time. Next to a three-stream loop of the same design
 * (bench/bench_functions_crc.c, the figure docs/benchmarks.md holds this
 * driver to), on the development machine (AMD EPYC, SSE4.2 and PCLMUL, no
 * AVX-512), ISA-L's was as fast on large inputs (0.95-0.97x at 1 and
 * 2.4 MiB) and faster on small ones (1.05x at 64 KiB, 1.3x at 4 KiB), so the
 * driver uses it rather than carrying its own. Without ISA-L, the SSE4.2
 * crc32 instruction over one stream where the processor has it (checked at
 * run time). Slicing-by-8 tables computed from the polynomial
 * (icd-examples/common/accel_crc32c.c, the uacce emulator's too) are the
 * portable path, and what ACCEL_CPU_DISABLE_SSE42 selects so that tests can
 * compare both.
 *
 * SHA-256: OpenSSL's (SHA extensions or AVX2, picked by OpenSSL at run
 * time). Through EVP with the algorithm fetched once per queue and its
 * context reused: the one-shot SHA256() fetches on every call (about
 * 1 us), and the low-level SHA256_Init family is deprecated in OpenSSL 3. */
#include "cpu_internal.h"
#include "accel_crc32c.h"

#include <string.h>

#include <openssl/evp.h>

#ifdef CPU_HAVE_ISAL
#include <isa-l/crc.h>
#elif defined(__x86_64__) && defined(__GNUC__)
#define CPU_HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#endif

/* ---- CRC-32C ----------------------------------------------------------- */

static _Atomic bool crc_use_fast; /* set by driver_init, read by the workers */

/* allow_fast false: the tables even where something faster exists. */
void cpu__crc32c_setup(bool allow_fast)
{
    accel_crc32c_init();
    bool fast = false;
#if defined(CPU_HAVE_ISAL)
    fast = allow_fast; /* ISA-L picks its own path, tables included */
#elif defined(CPU_HAVE_SSE42_PATH)
    __builtin_cpu_init();
    fast = allow_fast && __builtin_cpu_supports("sse4.2");
#else
    (void)allow_fast;
#endif
    atomic_store_explicit(&crc_use_fast, fast, memory_order_relaxed);
}

#ifdef CPU_HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        n--;
    }
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    crc = (uint32_t)c;
    while (n--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

#ifdef CPU_HAVE_ISAL
/* crc32_iscsi takes the raw register in and gives it back (no inversions,
 * like cpu__crc32c), but counts in int: larger inputs go in pieces. */
static uint32_t crc_isal(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n) {
        int take = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        crc = crc32_iscsi((unsigned char *)p, take, crc);
        p += take;
        n -= (size_t)take;
    }
    return crc;
}
#endif

/* The raw register update: crc32c(data) = ~cpu__crc32c(~0, data). */
uint32_t cpu__crc32c(uint32_t crc, const void *data, size_t size)
{
    if (!size)
        return crc;
    if (atomic_load_explicit(&crc_use_fast, memory_order_relaxed)) {
#if defined(CPU_HAVE_ISAL)
        return crc_isal(crc, data, size);
#elif defined(CPU_HAVE_SSE42_PATH)
        return crc_sse42(crc, data, size);
#endif
    }
    return accel_crc32c_sliced(crc, data, size);
}

/* ---- SHA-256 ----------------------------------------------------------- */

/* The digest of data into digest. OUT_OF_HOST_MEMORY or DRIVER_INTERNAL
 * (logged) if OpenSSL cannot provide SHA-256. */
accel_result cpu__sha256(cpu_scratch *scratch, const void *data, size_t size, uint8_t digest[32])
{
    if (!scratch->sha256_ctx) {
        scratch->sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
        if (!scratch->sha256) {
            CPU_LOG(ACCEL_LOG_ERROR, "sha256: OpenSSL offers no SHA2-256 (EVP_MD_fetch failed)");
            return ACCEL_ERROR_DRIVER_INTERNAL;
        }
        scratch->sha256_ctx = EVP_MD_CTX_new();
        if (!scratch->sha256_ctx)
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    unsigned int len = 0;
    if (!EVP_DigestInit_ex2(scratch->sha256_ctx, scratch->sha256, NULL) ||
        !EVP_DigestUpdate(scratch->sha256_ctx, data, size) ||
        !EVP_DigestFinal_ex(scratch->sha256_ctx, digest, &len) || len != 32) {
        CPU_LOG(ACCEL_LOG_ERROR, "sha256: OpenSSL's EVP digest failed");
        return ACCEL_ERROR_DRIVER_INTERNAL;
    }
    return ACCEL_SUCCESS;
}

void cpu__sha256_free(cpu_scratch *scratch)
{
    EVP_MD_CTX_free(scratch->sha256_ctx);
    EVP_MD_free(scratch->sha256);
    scratch->sha256_ctx = NULL;
    scratch->sha256 = NULL;
}
