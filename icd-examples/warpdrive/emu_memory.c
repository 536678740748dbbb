/* emu_memory.c — the emulated uacce device's view of its clients' memory.
 *
 * Without SVA the device reaches only the regions a client registered
 * (WD_MSG_REGISTER: a file descriptor the emulator maps), addressed by
 * region id and offset (WD_ADDR).
 *
 * With SVA descriptors carry the client's virtual addresses. A real SVA
 * device hands them to the IOMMU, which walks the process's page tables
 * (the device keeps the answers in its address translation cache, ATS /
 * IOTLB) and then reads and writes the pages by DMA, with no system call
 * anywhere. The emulator is a process of its own and cannot walk another
 * process's page tables, so it has two ways to the bytes:
 *
 *   - its translation cache: for memory attached with a file descriptor
 *     (the loader's memfd allocations) the driver sends the fd and the
 *     virtual range (WD_MSG_TRANSLATE_ADD); the emulator maps the fd and
 *     records (pid, [va, va + size)) -> its own mapping. Requests whose
 *     addresses fall inside an entry are served through the mapping;
 *   - a miss (memory without a file descriptor, such as imported host
 *     memory, or the part of a range past the end of an entry):
 *     process_vm_readv / process_vm_writev on the client's pid, or pread /
 *     pwrite of its /proc/<pid>/mem where ptrace rules forbid those.
 *
 * Entries are tagged with the client's pid (the PASID of a real cache) and
 * never overlap within one process, so an address has at most one entry.
 * The driver removes an entry when the memory is detached, and waits for
 * the answer, before the pages go away; every entry of a connection goes
 * when the connection ends.
 *
 * Mappings are reference-counted: the table holds one reference and each
 * request using a mapping holds another; the last release unmaps. A removal
 * therefore takes effect for every later lookup at once, and a request
 * still running through the mapping (possible only for a client that broke
 * the rules, e.g. by freeing memory a pending request uses through another
 * attachment) never touches unmapped memory.
 */
#include "emu_memory.h"

#include "wd_proto.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define EMU_MAX_REGIONS      4096   /* no SVA: region ids 1..EMU_MAX_REGIONS */
#define EMU_MAX_TRANSLATIONS 65536  /* SVA: entries, all clients together */

struct emu_map {
    void *map;         /* mmap of the client's fd, page-aligned */
    size_t map_size;
    uint8_t *base;     /* the first byte of the range (map + offset inside the first page) */
    uint64_t size;
    uint64_t va;       /* SVA: the client's address of base */
    pid_t pid;         /* SVA: the client */
    uint32_t id;
    const void *owner; /* the connection that added it */
    _Atomic uint32_t refs;
};

static bool g_sva;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static emu_map *g_regions[EMU_MAX_REGIONS]; /* no SVA: id = index + 1 */
static emu_map **g_tlb;                      /* SVA: sorted by (pid, va) */
static size_t g_tlb_count, g_tlb_cap;
static uint32_t g_tlb_next_id;

void emu_memory_init(bool sva)
{
    g_sva = sva;
}

/* ---- mappings ---------------------------------------------------------------- */

/* Map [offset, offset + size) of a client's fd. 0 or an errno. */
static int map_new(int fd, uint64_t offset, uint64_t size, emu_map **out)
{
    long page = sysconf(_SC_PAGESIZE);
    if (fd < 0 || size == 0 || page <= 0)
        return EINVAL;
    uint64_t lead = offset % (uint64_t)page;
    if (size > SIZE_MAX - lead - (uint64_t)page || offset > (uint64_t)INT64_MAX - size)
        return EINVAL;
    /* Bytes past the end of a file would fault (SIGBUS) on access. */
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < offset + size)
        return EINVAL;
    emu_map *m = calloc(1, sizeof(*m));
    if (!m)
        return ENOMEM;
    size_t map_size = (size_t)(size + lead);
    void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(offset - lead));
    if (p == MAP_FAILED) {
        int e = errno;
        free(m);
        return e;
    }
    m->map = p;
    m->map_size = map_size;
    m->base = (uint8_t *)p + lead;
    m->size = size;
    atomic_init(&m->refs, 1); /* the table's */
    *out = m;
    return 0;
}

void emu_release(emu_map *m)
{
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        munmap(m->map, m->map_size);
        free(m);
    }
}

static void hold(emu_map *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

/* ---- regions (no SVA) ----------------------------------------------------------- */

int emu_region_add(const void *owner, int fd, uint64_t offset, uint64_t size, uint32_t *id)
{
    emu_map *m;
    int err = map_new(fd, offset, size, &m);
    if (err)
        return err;
    m->owner = owner;
    err = ENOSPC;
    pthread_mutex_lock(&g_lock);
    for (uint32_t i = 0; i < EMU_MAX_REGIONS; i++) {
        if (!g_regions[i]) {
            m->id = i + 1;
            g_regions[i] = m;
            *id = m->id;
            err = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (err)
        emu_release(m);
    return err;
}

int emu_region_remove(const void *owner, uint32_t id)
{
    emu_map *m = NULL;
    pthread_mutex_lock(&g_lock);
    if (id >= 1 && id <= EMU_MAX_REGIONS && g_regions[id - 1] && g_regions[id - 1]->owner == owner) {
        m = g_regions[id - 1];
        g_regions[id - 1] = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    emu_release(m);
    return m ? 0 : ENOENT;
}

/* ---- the translation cache (SVA) --------------------------------------------------- */

/* Entries before index i are below (pid, va); caller holds g_lock. */
static size_t tlb_lower_bound(pid_t pid, uint64_t va)
{
    size_t lo = 0, hi = g_tlb_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const emu_map *m = g_tlb[mid];
        if (m->pid < pid || (m->pid == pid && m->va < va))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The entry of pid holding addr, held; NULL on a miss. */
static emu_map *tlb_find(pid_t pid, uint64_t addr)
{
    emu_map *m = NULL;
    pthread_mutex_lock(&g_lock);
    /* The candidate is the last entry whose start is <= addr. */
    size_t i = tlb_lower_bound(pid, addr);
    if (i < g_tlb_count && g_tlb[i]->pid == pid && g_tlb[i]->va == addr)
        m = g_tlb[i];
    else if (i > 0 && g_tlb[i - 1]->pid == pid && addr - g_tlb[i - 1]->va < g_tlb[i - 1]->size)
        m = g_tlb[i - 1];
    if (m)
        hold(m);
    pthread_mutex_unlock(&g_lock);
    return m;
}

int emu_translation_add(const void *owner, pid_t pid, int fd, uint64_t offset, uint64_t size, uint64_t va,
                        uint32_t *id)
{
    if (pid <= 0 || size == 0 || va > UINT64_MAX - size)
        return EINVAL;
    emu_map *m;
    int err = map_new(fd, offset, size, &m);
    if (err)
        return err;
    m->owner = owner;
    m->pid = pid;
    m->va = va;
    pthread_mutex_lock(&g_lock);
    size_t i = tlb_lower_bound(pid, va);
    if (g_tlb_count >= EMU_MAX_TRANSLATIONS) {
        err = ENOSPC;
    } else if ((i > 0 && g_tlb[i - 1]->pid == pid && va - g_tlb[i - 1]->va < g_tlb[i - 1]->size) ||
               (i < g_tlb_count && g_tlb[i]->pid == pid && g_tlb[i]->va - va < size)) {
        err = EEXIST; /* one address, one translation */
    } else if (g_tlb_count == g_tlb_cap) {
        size_t cap = g_tlb_cap ? 2 * g_tlb_cap : 64;
        emu_map **grown = realloc(g_tlb, cap * sizeof(*grown));
        if (!grown)
            err = ENOMEM;
        else {
            g_tlb = grown;
            g_tlb_cap = cap;
        }
    }
    if (!err) {
        memmove(&g_tlb[i + 1], &g_tlb[i], (g_tlb_count - i) * sizeof(*g_tlb));
        g_tlb[i] = m;
        g_tlb_count++;
        if (++g_tlb_next_id == 0)
            g_tlb_next_id = 1;
        m->id = g_tlb_next_id;
        *id = m->id;
    }
    pthread_mutex_unlock(&g_lock);
    if (err)
        emu_release(m);
    return err;
}

/* Take entry i out of the table; caller holds g_lock and releases it. */
static emu_map *tlb_take(size_t i)
{
    emu_map *m = g_tlb[i];
    memmove(&g_tlb[i], &g_tlb[i + 1], (g_tlb_count - i - 1) * sizeof(*g_tlb));
    g_tlb_count--;
    return m;
}

int emu_translation_remove(const void *owner, uint32_t id)
{
    emu_map *m = NULL;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_tlb_count; i++) {
        if (g_tlb[i]->id == id && g_tlb[i]->owner == owner) {
            m = tlb_take(i);
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    emu_release(m);
    return m ? 0 : ENOENT;
}

void emu_memory_drop_owner(const void *owner)
{
    for (;;) {
        emu_map *m = NULL;
        pthread_mutex_lock(&g_lock);
        for (uint32_t i = 0; i < EMU_MAX_REGIONS && !m; i++) {
            if (g_regions[i] && g_regions[i]->owner == owner) {
                m = g_regions[i];
                g_regions[i] = NULL;
            }
        }
        for (size_t i = 0; i < g_tlb_count && !m; i++)
            if (g_tlb[i]->owner == owner)
                m = tlb_take(i);
        pthread_mutex_unlock(&g_lock);
        if (!m)
            return;
        emu_release(m);
    }
}

/* ---- the data path ------------------------------------------------------------------- */

/* The region holding [addr, addr + len), held; NULL if there is none. */
static emu_map *region_find(uint64_t addr, uint64_t len)
{
    uint32_t id = WD_ADDR_ID(addr);
    uint64_t off = WD_ADDR_OFF(addr);
    emu_map *m = NULL;
    pthread_mutex_lock(&g_lock);
    if (id >= 1 && id <= EMU_MAX_REGIONS && g_regions[id - 1] && off <= g_regions[id - 1]->size &&
        len <= g_regions[id - 1]->size - off) {
        m = g_regions[id - 1];
        hold(m);
    }
    pthread_mutex_unlock(&g_lock);
    return m;
}

uint8_t *emu_direct(const emu_space *s, uint64_t addr, uint64_t len, emu_map **out)
{
    *out = NULL;
    if (!len)
        return NULL;
    if (!g_sva) {
        emu_map *m = region_find(addr, len);
        if (!m)
            return NULL;
        *out = m;
        return m->base + WD_ADDR_OFF(addr);
    }
    emu_map *m = tlb_find(s->pid, addr);
    if (!m)
        return NULL;
    if (len > m->size - (addr - m->va)) {
        emu_release(m); /* runs past the end of the entry */
        return NULL;
    }
    *out = m;
    return m->base + (addr - m->va);
}

/* The client's address space itself (a translation miss). */
static int vm_access(emu_space *s, uint64_t addr, uint8_t *local, uint64_t len, bool write)
{
    uint64_t done = 0;
    while (done < len) {
        ssize_t n;
        if (!s->use_mem_fd) {
            struct iovec l = {local + done, (size_t)(len - done)};
            struct iovec r = {(void *)(uintptr_t)(addr + done), (size_t)(len - done)};
            n = write ? process_vm_writev(s->pid, &l, 1, &r, 1, 0)
                      : process_vm_readv(s->pid, &l, 1, &r, 1, 0);
            if (n < 0 && errno == EPERM && s->mem_fd >= 0) {
                s->use_mem_fd = true;
                continue;
            }
        } else if (write) {
            n = pwrite(s->mem_fd, local + done, (size_t)(len - done), (off_t)(addr + done));
        } else {
            n = pread(s->mem_fd, local + done, (size_t)(len - done), (off_t)(addr + done));
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return WD_ST_FAULT;
        done += (uint64_t)n;
    }
    return WD_ST_OK;
}

static int access_range(emu_space *s, uint64_t addr, uint8_t *local, uint64_t len, bool write)
{
    if (!len)
        return WD_ST_OK;
    if (!g_sva) {
        emu_map *m = region_find(addr, len);
        if (!m)
            return WD_ST_FAULT;
        uint8_t *p = m->base + WD_ADDR_OFF(addr);
        if (write)
            memcpy(p, local, (size_t)len);
        else
            memcpy(local, p, (size_t)len);
        emu_release(m);
        return WD_ST_OK;
    }
    if (len > UINT64_MAX - addr || len > SIZE_MAX)
        return WD_ST_FAULT;
    /* Through the cache as far as it goes; the rest from the address space. */
    while (len) {
        emu_map *m = tlb_find(s->pid, addr);
        if (!m)
            return vm_access(s, addr, local, len, write);
        uint64_t in = m->size - (addr - m->va);
        uint64_t n = len < in ? len : in;
        uint8_t *p = m->base + (addr - m->va);
        if (write)
            memcpy(p, local, (size_t)n);
        else
            memcpy(local, p, (size_t)n);
        emu_release(m);
        addr += n;
        local += n;
        len -= n;
    }
    return WD_ST_OK;
}

int emu_read(emu_space *s, uint64_t addr, void *dst, uint64_t len)
{
    return access_range(s, addr, dst, len, false);
}

int emu_write(emu_space *s, uint64_t addr, const void *src, uint64_t len)
{
    return access_range(s, addr, (uint8_t *)(uintptr_t)src, len, true);
}
