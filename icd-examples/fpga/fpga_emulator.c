/* fpga_emulator.c — the emulated FPGA card: one implementation of the card
 * interface (fpga_card.h), in the driver's own process.
 *
 * What is emulated, and how:
 *   cards    from the card file (fpga_config.c) or one default card;
 *   slots    one worker thread each, started on first use, that executes
 *            the slot's commands one at a time in submission order;
 *   images   "programming" a slot dlopen()s the image's shared object and
 *            resolves its kernels, then sleeps for the reconfiguration
 *            time; the slot runs no command meanwhile;
 *   banks    one memfd per buffer object, mapped shared (host-visible, like
 *            XRT's mapped BOs), counted against the bank's capacity; pages
 *            are only allocated when touched;
 *   host     memory the card reaches over the bus: user-pointer BOs over the
 *            caller's pages, or memfd BOs in the host "bank";
 *   faults   fault_after: the Nth command of the platform marks its card
 *            lost; that and every later command of a lost card fail with
 *            ACCEL_ERROR_DEVICE_LOST.
 *
 * Locking: each slot has one mutex guarding its command list, its state
 * flags and its image; "work" wakes the worker, "done" wakes everyone who
 * waits for a command of the slot or for the slot to go idle. A command is
 * completed under its slot's lock. No lock is held while a kernel runs, while
 * a command waits for others, or during the reconfiguration sleep.
 *
 * Linux only (memfd_create). */
#include "fpga_card.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accel_fpga_kernel.h"
#include "accel_safe_file.h"
#include "fpga_config.h"
#include "fpga_file.h"

_Static_assert(FPGA_BANK_HOST == ACCEL_FPGA_BANK_HOST, "bank numbers of host memory differ");
_Static_assert(ACCEL_FPGA_ARG_MEMORY == ACCEL_ARG_MEMORY && ACCEL_FPGA_ARG_F64 == ACCEL_ARG_F64,
               "kernel argument kinds differ from accel_arg_kind");

typedef struct emu_kernel {
    accel_fpga_kernel_fn *fn;
    fpga_image_kernel sig;
} emu_kernel;

/* An image programmed into a slot. */
typedef struct emu_image {
    void *dl;
    uint32_t kernel_count;
    emu_kernel *kernels;
} emu_image;

typedef struct emu_slot {
    fpga_card *card;
    uint32_t index;
    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t done;
    pthread_t thread;
    bool thread_started;
    bool stop;          /* close: run what is queued, then exit */
    bool running;       /* the worker holds a command */
    bool reconfiguring; /* the worker starts nothing */
    bool loading;       /* a load is in progress (they are serialized) */
    fpga_cmd *head, *tail;
    uint64_t submitted, completed;
    emu_image *image;
    uint64_t generation; /* of image; 0: none */
} emu_slot;

struct fpga_card {
    fpga_platform *platform;
    uint32_t index;
    fpga_card_desc desc;
    _Atomic bool lost;
    _Atomic uint64_t used[FPGA_MAX_BANKS];
    emu_slot slots[FPGA_MAX_SLOTS];
};

struct fpga_platform {
    uint32_t card_count;
    fpga_card_desc descs[FPGA_MAX_CARDS];
    uint64_t fault_after;
    _Atomic uint64_t commands;
    _Atomic uint64_t generations;
};

struct fpga_bo {
    fpga_card *card;
    uint32_t bank;
    bool imported;
    int fd;
    uint64_t size;
    void *map;
    size_t map_size;
};

struct fpga_cmd {
    _Atomic uint32_t refs; /* the caller's, the slot's until it ran, one per waiting command */
    _Atomic int32_t state; /* accel_result; ACCEL_NOT_READY until completed */
    emu_slot *slot;
    fpga_cmd *next;
    bool lost;
    fpga_op op;
    uint64_t generation;
    uint32_t kernel;
    uint32_t arg_count;
    uint32_t work_dim;
    uint64_t work_size[3];
    fpga_exec_arg args[ACCEL_MAX_ARGS];
    uint32_t wait_count;
    fpga_cmd **waits; /* each holds a reference until the command starts */
};

static void fmt(char *buf, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t size, const char *format, ...)
{
    if (!buf || !size)
        return;
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(buf, size, format, ap);
    va_end(ap);
    if (n < 0)
        buf[0] = '\0';
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const char *bank_name(const fpga_card *c, uint32_t bank)
{
    return bank == FPGA_BANK_HOST ? "host memory" : bank < c->desc.bank_count ? c->desc.banks[bank].name : "?";
}

/* ---- platform and cards ---------------------------------------------------- */

accel_result fpga_platform_open(const fpga_platform_options *o, fpga_platform **out, char *error, size_t error_size)
{
    fpga_platform *p = calloc(1, sizeof(*p));
    if (!p)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    p->fault_after = o ? o->fault_after : 0;
    if (o && o->config_path) {
        char *text;
        size_t size;
        accel_result r = fpga__read_json_file(o->config_path, "the card file", &text, &size, error, error_size);
        if (r == ACCEL_SUCCESS) {
            r = fpga__config_parse(text, size, o->config_path, p->descs, &p->card_count, error, error_size);
            free(text);
        }
        if (r) {
            free(p);
            return r;
        }
    } else {
        fpga__config_default(&p->descs[0]);
        p->card_count = 1;
    }
    *out = p;
    return ACCEL_SUCCESS;
}

void fpga_platform_close(fpga_platform *p)
{
    free(p);
}

uint32_t fpga_platform_card_count(const fpga_platform *p)
{
    return p->card_count;
}

accel_result fpga_card_open(fpga_platform *p, uint32_t index, fpga_card **out)
{
    if (index >= p->card_count)
        return ACCEL_ERROR_NOT_FOUND;
    fpga_card *c = calloc(1, sizeof(*c));
    if (!c)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    c->platform = p;
    c->index = index;
    c->desc = p->descs[index];
    for (uint32_t i = 0; i < c->desc.slot_count; i++) {
        emu_slot *s = &c->slots[i];
        s->card = c;
        s->index = i;
        pthread_mutex_init(&s->lock, NULL);
        cond_init_monotonic(&s->work);
        cond_init_monotonic(&s->done);
    }
    *out = c;
    return ACCEL_SUCCESS;
}

static void image_unload(emu_image *img)
{
    if (!img)
        return;
    if (img->dl)
        dlclose(img->dl);
    free(img->kernels);
    free(img);
}

void fpga_card_close(fpga_card *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->desc.slot_count; i++) {
        emu_slot *s = &c->slots[i];
        pthread_mutex_lock(&s->lock);
        s->stop = true;
        pthread_cond_broadcast(&s->work);
        pthread_mutex_unlock(&s->lock);
        if (s->thread_started)
            pthread_join(s->thread, NULL);
        image_unload(s->image);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->work);
        pthread_cond_destroy(&s->done);
    }
    free(c);
}

const fpga_card_desc *fpga_card_describe(const fpga_card *c)
{
    return &c->desc;
}

bool fpga_card_lost(const fpga_card *c)
{
    return atomic_load(&c->lost);
}

/* ---- buffer objects ---------------------------------------------------------- */

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

accel_result fpga_bo_alloc(fpga_card *c, uint32_t bank, uint64_t size, fpga_bo **out)
{
    if (bank != FPGA_BANK_HOST && bank >= c->desc.bank_count)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    size_t page = page_size();
    if (size > (uint64_t)SIZE_MAX / 2)
        return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
    if (bank != FPGA_BANK_HOST) {
        uint64_t used = atomic_load(&c->used[bank]);
        do {
            if (size > c->desc.banks[bank].capacity - used)
                return ACCEL_ERROR_OUT_OF_DEVICE_MEMORY;
        } while (!atomic_compare_exchange_weak(&c->used[bank], &used, used + size));
    }
    fpga_bo *bo = calloc(1, sizeof(*bo));
    char name[64];
    fmt(name, sizeof(name), "accel-fpga %s:%s", c->desc.name, bank_name(c, bank));
    int fd = bo ? memfd_create(name, MFD_CLOEXEC) : -1;
    size_t map_size = size ? (size_t)((size + page - 1) / page * page) : page;
    void *map = MAP_FAILED;
    if (fd >= 0 && ftruncate(fd, (off_t)map_size) == 0)
        map = mmap(NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        if (fd >= 0)
            close(fd);
        free(bo);
        if (bank != FPGA_BANK_HOST)
            atomic_fetch_sub(&c->used[bank], size);
        return bo ? ACCEL_ERROR_OUT_OF_DEVICE_MEMORY : ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    *bo = (fpga_bo){.card = c, .bank = bank, .fd = fd, .size = size, .map = map, .map_size = map_size};
    *out = bo;
    return ACCEL_SUCCESS;
}

accel_result fpga_bo_import_host(fpga_card *c, void *ptr, uint64_t size, fpga_bo **out)
{
    if (!ptr && size)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    fpga_bo *bo = calloc(1, sizeof(*bo));
    if (!bo)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    static uint8_t empty[1];
    *bo = (fpga_bo){.card = c, .bank = FPGA_BANK_HOST, .imported = true, .fd = -1, .size = size,
                    .map = ptr ? ptr : empty};
    *out = bo;
    return ACCEL_SUCCESS;
}

void fpga_bo_free(fpga_bo *bo)
{
    if (!bo)
        return;
    if (!bo->imported) {
        munmap(bo->map, bo->map_size);
        close(bo->fd);
        if (bo->bank != FPGA_BANK_HOST)
            atomic_fetch_sub(&bo->card->used[bo->bank], bo->size);
    }
    free(bo);
}

void *fpga_bo_map(const fpga_bo *bo)
{
    return bo->map;
}

int fpga_bo_fd(const fpga_bo *bo)
{
    return bo->fd;
}

uint32_t fpga_bo_bank(const fpga_bo *bo)
{
    return bo->bank;
}

uint64_t fpga_bo_size(const fpga_bo *bo)
{
    return bo->size;
}

fpga_card *fpga_bo_card(const fpga_bo *bo)
{
    return bo->card;
}

accel_result fpga_bo_sync(fpga_bo *bo, fpga_sync_dir dir, uint64_t offset, uint64_t size)
{
    (void)dir;
    if (offset > bo->size || size > bo->size - offset)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    return ACCEL_SUCCESS;
}

/* ---- images -------------------------------------------------------------------- */

static accel_result image_prepare(const fpga_image_desc *d, emu_image **out, char *error, size_t error_size)
{
    emu_image *img = calloc(1, sizeof(*img));
    if (!img || !(img->kernels = calloc(d->kernel_count, sizeof(*img->kernels)))) {
        free(img);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    img->kernel_count = d->kernel_count;
    /* dlopen would block on a FIFO and read a device: only a regular file. */
    char why[96];
    int ferr = strchr(d->library_path, '/') ? accel_safe_check_regular(d->library_path, why, sizeof(why)) : 0;
    if (ferr == EINVAL || ferr == EISDIR) {
        fmt(error, error_size, "image %s: cannot load its library %s: %s", d->name, d->library_path, why);
        image_unload(img);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    dlerror();
    img->dl = dlopen(d->library_path, RTLD_NOW | RTLD_LOCAL);
    if (!img->dl) {
        const char *e = dlerror();
        fmt(error, error_size, "image %s: cannot load its library: %s", d->name, e ? e : d->library_path);
        image_unload(img);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < d->kernel_count; i++) {
        void *sym = dlsym(img->dl, d->kernels[i].symbol);
        if (!sym) {
            fmt(error, error_size, "image %s: %s does not export the symbol %s (kernel %s)", d->name,
                d->library_path, d->kernels[i].symbol, d->kernels[i].name);
            image_unload(img);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        *(void **)&img->kernels[i].fn = sym;
        img->kernels[i].sig = d->kernels[i];
    }
    *out = img;
    return ACCEL_SUCCESS;
}

accel_result fpga_slot_load(fpga_card *c, uint32_t slot, const fpga_image_desc *d, uint64_t *generation,
                            char *error, size_t error_size)
{
    if (slot >= c->desc.slot_count || !d)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (atomic_load(&c->lost)) {
        fmt(error, error_size, "card %s was lost", c->desc.name);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    emu_image *img;
    accel_result r = image_prepare(d, &img, error, error_size);
    if (r)
        return r;

    emu_slot *s = &c->slots[slot];
    pthread_mutex_lock(&s->lock);
    while (s->loading)
        pthread_cond_wait(&s->done, &s->lock);
    s->loading = true;
    /* Finish what was submitted before this call, then hold the worker. */
    uint64_t target = s->submitted;
    while (s->completed < target)
        pthread_cond_wait(&s->done, &s->lock);
    s->reconfiguring = true;
    while (s->running)
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);

    sleep_ns(d->has_reconfigure ? d->reconfigure_ns : c->desc.reconfigure_ns);

    pthread_mutex_lock(&s->lock);
    emu_image *old = s->image;
    s->image = img;
    s->generation = atomic_fetch_add(&c->platform->generations, 1) + 1;
    *generation = s->generation;
    s->reconfiguring = false;
    s->loading = false;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->done);
    pthread_mutex_unlock(&s->lock);
    image_unload(old); /* none of its kernels runs: the slot was drained */
    return ACCEL_SUCCESS;
}

/* ---- commands --------------------------------------------------------------------- */

void fpga_cmd_ref(fpga_cmd *cmd)
{
    atomic_fetch_add_explicit(&cmd->refs, 1, memory_order_relaxed);
}

static void release_waits(fpga_cmd *cmd);

void fpga_cmd_release(fpga_cmd *cmd)
{
    if (cmd && atomic_fetch_sub_explicit(&cmd->refs, 1, memory_order_acq_rel) == 1) {
        release_waits(cmd);
        free(cmd);
    }
}

static void release_waits(fpga_cmd *cmd)
{
    for (uint32_t i = 0; i < cmd->wait_count; i++)
        fpga_cmd_release(cmd->waits[i]);
    free(cmd->waits);
    cmd->waits = NULL;
    cmd->wait_count = 0;
}

accel_result fpga_cmd_status(fpga_cmd *cmd)
{
    return (accel_result)atomic_load_explicit(&cmd->state, memory_order_acquire);
}

accel_result fpga_cmd_wait(fpga_cmd *cmd, uint64_t timeout_ns)
{
    accel_result s = fpga_cmd_status(cmd);
    if (s != ACCEL_NOT_READY || timeout_ns == 0)
        return s == ACCEL_NOT_READY ? ACCEL_TIMEOUT : s;
    struct timespec deadline;
    bool forever = timeout_ns == UINT64_MAX;
    if (!forever) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
        uint64_t secs = timeout_ns / 1000000000u + ns / 1000000000u;
        if (secs > (uint64_t)INT32_MAX)
            forever = true;
        deadline.tv_sec += (time_t)secs;
        deadline.tv_nsec = (long)(ns % 1000000000u);
    }
    emu_slot *slot = cmd->slot;
    pthread_mutex_lock(&slot->lock);
    while ((s = fpga_cmd_status(cmd)) == ACCEL_NOT_READY) {
        if (forever) {
            pthread_cond_wait(&slot->done, &slot->lock);
        } else if (pthread_cond_timedwait(&slot->done, &slot->lock, &deadline) == ETIMEDOUT) {
            s = fpga_cmd_status(cmd);
            if (s == ACCEL_NOT_READY)
                s = ACCEL_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&slot->lock);
    return s;
}

static uint8_t *arg_ptr(const fpga_exec_arg *a)
{
    return (uint8_t *)a->bo->map + a->offset;
}

static accel_result run_shell_op(const fpga_cmd *cmd)
{
    const fpga_exec_arg *a = cmd->args;
    switch (cmd->op) {
    case FPGA_OP_NOOP: return ACCEL_SUCCESS;
    case FPGA_OP_COPY:
        if (a[1].size < a[0].size)
            return ACCEL_ERROR_INVALID_ARGUMENT;
        if (a[0].size)
            memmove(arg_ptr(&a[1]), arg_ptr(&a[0]), (size_t)a[0].size);
        return ACCEL_SUCCESS;
    case FPGA_OP_FILL: {
        uint8_t pat[4];
        for (int i = 0; i < 4; i++)
            pat[i] = (uint8_t)(a[1].value.u32 >> (8 * i));
        /* Eight bytes a store, as a card's fill engine writes whole words
         * (a byte at a time ran at a third of memory's speed, and its rate
         * moved with the compiler's scheduling from run to run). */
        uint8_t *p = arg_ptr(&a[0]), word[8];
        for (int i = 0; i < 8; i++)
            word[i] = pat[i % 4];
        uint64_t n = a[0].size, i = 0;
        for (; i + 8 <= n; i += 8)
            memcpy(p + i, word, 8);
        for (; i < n; i++)
            p[i] = pat[i % 4];
        return ACCEL_SUCCESS;
    }
    default: return ACCEL_ERROR_INVALID_ARGUMENT;
    }
}

static accel_result run_kernel(const fpga_cmd *cmd, const emu_kernel *k)
{
    accel_fpga_arg args[ACCEL_MAX_ARGS];
    memset(args, 0, sizeof(args));
    for (uint32_t i = 0; i < cmd->arg_count; i++) {
        const fpga_exec_arg *a = &cmd->args[i];
        args[i].kind = (uint32_t)a->kind;
        if (a->kind == ACCEL_ARG_MEMORY) {
            args[i].bank = a->bo->bank;
            args[i].ptr = arg_ptr(a);
            args[i].size = a->size;
        } else {
            args[i].value = a->value;
        }
    }
    accel_fpga_kernel_call call = {
        .struct_size = sizeof(call),
        .arg_count = cmd->arg_count,
        .args = args,
        .work_dim = cmd->work_dim,
        .slot = cmd->slot->index,
        .work_size = {cmd->work_size[0], cmd->work_size[1], cmd->work_size[2]},
    };
    int rc = k->fn(&call);
    return rc == ACCEL_FPGA_KERNEL_OK                 ? ACCEL_SUCCESS
           : rc == ACCEL_FPGA_KERNEL_INVALID_ARGUMENT ? ACCEL_ERROR_INVALID_ARGUMENT
                                                      : ACCEL_ERROR_DRIVER_INTERNAL;
}

static accel_result execute(emu_slot *s, fpga_cmd *cmd)
{
    fpga_card *c = s->card;
    if (cmd->lost || atomic_load(&c->lost)) {
        atomic_store(&c->lost, true);
        return ACCEL_ERROR_DEVICE_LOST;
    }
    accel_result r = ACCEL_SUCCESS;
    for (uint32_t i = 0; i < cmd->wait_count; i++) {
        accel_result w = fpga_cmd_wait(cmd->waits[i], UINT64_MAX);
        if (w != ACCEL_SUCCESS && r == ACCEL_SUCCESS)
            r = w;
    }
    release_waits(cmd); /* a chain of commands must not keep every predecessor */
    if (r != ACCEL_SUCCESS)
        return r;
    if (atomic_load(&c->lost))
        return ACCEL_ERROR_DEVICE_LOST;
    if (cmd->op != FPGA_OP_KERNEL)
        return run_shell_op(cmd);
    /* The image cannot change while this command is running (loads wait
     * for it), so the kernel stays valid after the lock is dropped. */
    pthread_mutex_lock(&s->lock);
    const emu_kernel *k = s->generation == cmd->generation && s->image && cmd->kernel < s->image->kernel_count
                              ? &s->image->kernels[cmd->kernel]
                              : NULL;
    pthread_mutex_unlock(&s->lock);
    return k ? run_kernel(cmd, k) : ACCEL_ERROR_INVALID_HANDLE;
}

static void *slot_worker(void *arg)
{
    emu_slot *s = arg;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while ((!s->head || s->reconfiguring) && !(s->stop && !s->head))
            pthread_cond_wait(&s->work, &s->lock);
        if (!s->head)
            break; /* stopping, and nothing left */
        fpga_cmd *cmd = s->head;
        s->head = cmd->next;
        if (!s->head)
            s->tail = NULL;
        s->running = true;
        pthread_mutex_unlock(&s->lock);

        accel_result r = execute(s, cmd);

        pthread_mutex_lock(&s->lock);
        s->running = false;
        s->completed++;
        atomic_store_explicit(&cmd->state, (int32_t)r, memory_order_release);
        pthread_cond_broadcast(&s->done);
        pthread_mutex_unlock(&s->lock);
        fpga_cmd_release(cmd); /* the slot's reference */
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Check a command against what it runs; called with the slot locked. */
static accel_result check_exec(const fpga_card *c, const emu_slot *s, const fpga_exec *e, char *error,
                               size_t error_size)
{
    static const accel_arg_kind copy_sig[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY};
    static const accel_arg_kind fill_sig[] = {ACCEL_ARG_MEMORY, ACCEL_ARG_U32};
    const fpga_image_kernel *k = NULL;
    const accel_arg_kind *sig = NULL;
    uint32_t count = 0;
    switch (e->op) {
    case FPGA_OP_NOOP: break;
    case FPGA_OP_COPY: sig = copy_sig, count = 2; break;
    case FPGA_OP_FILL: sig = fill_sig, count = 2; break;
    case FPGA_OP_KERNEL:
        if (!s->image || e->generation != s->generation) {
            fmt(error, error_size, "slot %u of %s no longer holds the image of this kernel", s->index, c->desc.name);
            return ACCEL_ERROR_INVALID_HANDLE;
        }
        if (e->kernel >= s->image->kernel_count) {
            fmt(error, error_size, "the image in slot %u has no kernel %u", s->index, e->kernel);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        k = &s->image->kernels[e->kernel].sig;
        count = k->arg_count;
        break;
    default: fmt(error, error_size, "unknown operation %d", (int)e->op); return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    if (e->arg_count != count || (count && !e->args)) {
        fmt(error, error_size, "%u arguments given, %u expected", e->arg_count, count);
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < count; i++) {
        const fpga_exec_arg *a = &e->args[i];
        accel_arg_kind want = k ? k->args[i].kind : sig[i];
        const char *name = k ? k->args[i].name : "";
        if (a->kind != want) {
            fmt(error, error_size, "argument %u %s has kind %d, expected %d", i, name, (int)a->kind, (int)want);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        if (a->kind != ACCEL_ARG_MEMORY)
            continue;
        if (!a->bo || a->bo->card != c) {
            fmt(error, error_size, "argument %u %s: not a buffer object of %s", i, name, c->desc.name);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        if (a->offset > a->bo->size || a->size > a->bo->size - a->offset) {
            fmt(error, error_size, "argument %u %s: range [%llu, +%llu) outside its %llu-byte buffer", i, name,
                (unsigned long long)a->offset, (unsigned long long)a->size, (unsigned long long)a->bo->size);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        if (k && ((k->args[i].wire == FPGA_WIRE_BANK && a->bo->bank != k->args[i].bank) ||
                  (k->args[i].wire == FPGA_WIRE_HOST && a->bo->bank != FPGA_BANK_HOST))) {
            fmt(error, error_size, "argument %u (%s) of kernel %s is wired to %s, but its buffer is in %s", i, name,
                k->name, k->args[i].wire == FPGA_WIRE_HOST ? "host memory" : bank_name(c, k->args[i].bank),
                bank_name(c, a->bo->bank));
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    if (e->wait_count && !e->waits) {
        fmt(error, error_size, "wait list missing");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    for (uint32_t i = 0; i < e->wait_count; i++) {
        if (!e->waits[i]) {
            fmt(error, error_size, "wait %u is NULL", i);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
    }
    return ACCEL_SUCCESS;
}

accel_result fpga_exec_submit(fpga_card *c, const fpga_exec *e, fpga_cmd **out, char *error, size_t error_size)
{
    if (!e || !out || e->slot >= c->desc.slot_count || e->arg_count > ACCEL_MAX_ARGS) {
        fmt(error, error_size, "invalid command");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    emu_slot *s = &c->slots[e->slot];
    fpga_cmd *cmd = calloc(1, sizeof(*cmd));
    if (!cmd || (e->wait_count && !(cmd->waits = calloc(e->wait_count, sizeof(*cmd->waits))))) {
        free(cmd);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    atomic_init(&cmd->refs, 2); /* the caller's and the slot's */
    atomic_init(&cmd->state, ACCEL_NOT_READY);
    cmd->slot = s;
    cmd->op = e->op;
    cmd->generation = e->generation;
    cmd->kernel = e->kernel;
    cmd->arg_count = e->arg_count;
    if (e->arg_count)
        memcpy(cmd->args, e->args, e->arg_count * sizeof(*e->args));
    cmd->work_dim = e->work_dim;
    memcpy(cmd->work_size, e->work_size, sizeof(cmd->work_size));

    pthread_mutex_lock(&s->lock);
    accel_result r = check_exec(c, s, e, error, error_size);
    if (r == ACCEL_SUCCESS && !s->thread_started) {
        int err = pthread_create(&s->thread, NULL, slot_worker, s);
        if (err) {
            fmt(error, error_size, "slot %u worker thread: %s", s->index, strerror(err));
            r = ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        } else {
            s->thread_started = true;
            pthread_setname_np(s->thread, "accel-fpga-slot");
        }
    }
    if (r) {
        pthread_mutex_unlock(&s->lock);
        free(cmd->waits);
        free(cmd);
        return r;
    }
    for (uint32_t i = 0; i < e->wait_count; i++) {
        cmd->waits[i] = e->waits[i];
        fpga_cmd_ref(cmd->waits[i]);
    }
    cmd->wait_count = e->wait_count;
    fpga_platform *p = c->platform;
    if (p->fault_after)
        cmd->lost = atomic_fetch_add(&p->commands, 1) + 1 >= p->fault_after;
    if (s->tail)
        s->tail->next = cmd;
    else
        s->head = cmd;
    s->tail = cmd;
    s->submitted++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    *out = cmd;
    return ACCEL_SUCCESS;
}
