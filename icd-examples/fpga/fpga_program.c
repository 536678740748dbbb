/* fpga_program.c — FPGA images as programs, functions and cost estimates.
 *
 * program_load (format ACCEL_PROGRAM_FORMAT_FPGA_IMAGE, data: the path of
 * the image's JSON description) reconfigures a slot:
 *   - the whole card loads nothing (ACCEL_ERROR_UNSUPPORTED);
 *   - the description is parsed (fpga_image.c) and the card checks the
 *     image (its library and symbols) before it touches the slot;
 *   - a slot whose program has not been released is busy
 *     (ACCEL_ERROR_BUSY) unless the options hold the word "force", and so
 *     is a slot that another program_load is reconfiguring;
 *   - a forced load waits for the work already submitted to the slot, then
 *     replaces the image; the old program stays valid as a handle, but its
 *     functions can no longer be taken or submitted
 *     (ACCEL_ERROR_INVALID_HANDLE).
 * Every failure writes its reason into the log, naming the file.
 *
 * Built-in functions of a slot are the shell's own operations, which need
 * no image: accel.noop, accel.copy, accel.fill (docs/standard-functions.md).
 * The whole card offers no function. */
#include "fpga_file.h"
#include "fpga_internal.h"
#include "accel_icd_query.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG FPGA_LOG

static void logf_(char *log, size_t log_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(char *log, size_t log_size, const char *fmt, ...)
{
    if (!log || !log_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log, log_size, fmt, ap);
    va_end(ap);
    if (n < 0)
        log[0] = '\0';
}

static const fpga_function builtins[] = {
    {FPGA_FUNC_MAGIC, "accel.noop", FPGA_OP_NOOP, 0, {ACCEL_ARG_NONE}, NULL, 0},
    {FPGA_FUNC_MAGIC, "accel.copy", FPGA_OP_COPY, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_MEMORY}, NULL, 0},
    {FPGA_FUNC_MAGIC, "accel.fill", FPGA_OP_FILL, 2, {ACCEL_ARG_MEMORY, ACCEL_ARG_U32}, NULL, 0},
};

static const fpga_function *builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (strcmp(builtins[i].name, name) == 0)
            return &builtins[i];
    return NULL;
}

static fpga_program *program_from_handle(void *handle)
{
    fpga_program *p = handle;
    return p && p->magic == FPGA_PROG_MAGIC ? p : NULL;
}

static void program_unref(fpga_program *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    fpga__image_free(p->image);
    free(p->path);
    p->magic = 0;
    free(p);
}

/* Options: words separated by blanks; the driver knows "force". */
static accel_result parse_options(const char *options, bool *force, char *log, size_t log_size)
{
    *force = false;
    if (!options)
        return ACCEL_SUCCESS;
    const char *p = options;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        size_t n = strcspn(p, " \t\n");
        if (!n)
            break;
        if (n == 5 && strncmp(p, "force", 5) == 0) {
            *force = true;
        } else {
            logf_(log, log_size, "unknown option \"%.*s\" (the fpga driver knows: force)", (int)(n > 64 ? 64 : n),
                  p);
            return ACCEL_ERROR_INVALID_ARGUMENT;
        }
        p += n;
    }
    return ACCEL_SUCCESS;
}

accel_icd_result fpga__program_load(void *device, accel_program_format format, const void *data, size_t size,
                                    const char *options, void **program, char *log, size_t log_size)
{
    fpga_device *dev = device;
    if (log && log_size)
        log[0] = '\0';
    if (!dev || !data || !program)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    const fpga_card_desc *card = dev->card->desc;
    if (!dev->slot) {
        logf_(log, log_size, "%s is the whole card: images load into its slots (the partitions \"slot 0\" to "
              "\"slot %u\")", card->name, card->slot_count - 1);
        return ACCEL_ERROR_UNSUPPORTED;
    }
    if (format != ACCEL_PROGRAM_FORMAT_FPGA_IMAGE) {
        logf_(log, log_size, "program format %d is not accepted: the fpga driver loads FPGA images "
              "(ACCEL_PROGRAM_FORMAT_FPGA_IMAGE)", (int)format);
        return ACCEL_ERROR_UNSUPPORTED;
    }
    /* The path: a NUL-terminated string, bounded by size when size is set. */
    size_t len = size ? strnlen(data, size) : strlen(data);
    if (len == 0 || len >= PATH_MAX) {
        logf_(log, log_size, "the image path is %s", len ? "too long" : "empty");
        return ACCEL_ERROR_INVALID_ARGUMENT;
    }
    bool force;
    accel_result r = parse_options(options, &force, log, log_size);
    if (r)
        return r;

    fpga_program *p = calloc(1, sizeof(*p));
    char *text = NULL;
    size_t text_size = 0;
    if (!p || !(p->path = strndup(data, len))) {
        free(p);
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    }
    p->magic = FPGA_PROG_MAGIC;
    atomic_init(&p->refs, 1);
    atomic_init(&p->evicted, false);
    p->device = dev;
    if ((r = fpga__read_json_file(p->path, "the image description", &text, &text_size, log, log_size)))
        goto fail;
    const char *bank_names[FPGA_MAX_BANKS];
    for (uint32_t b = 0; b < card->bank_count; b++)
        bank_names[b] = card->banks[b].name;
    r = fpga__image_parse(text, text_size, p->path, bank_names, card->bank_count, &p->image, log, log_size);
    free(text);
    if (r)
        goto fail;

    fpga_slot *slot = dev->slot;
    pthread_mutex_lock(&slot->lock);
    if (slot->loading) {
        pthread_mutex_unlock(&slot->lock);
        logf_(log, log_size, "%s: slot %u of %s is being reconfigured by another program load", p->path,
              dev->slot_index, card->name);
        r = ACCEL_ERROR_BUSY;
        goto fail;
    }
    if (slot->program && !force) {
        logf_(log, log_size, "%s: slot %u of %s holds image \"%s\" (from %s), whose program has not been released; "
              "release it first, or pass the option \"force\" to replace it", p->path, dev->slot_index, card->name,
              slot->program->image->name, slot->program->path);
        pthread_mutex_unlock(&slot->lock);
        r = ACCEL_ERROR_BUSY;
        goto fail;
    }
    slot->loading = true;
    pthread_mutex_unlock(&slot->lock);

    char error[1024] = "";
    uint64_t generation = 0;
    r = fpga_slot_load(dev->card->card, dev->slot_index, p->image, &generation, error, sizeof(error));

    pthread_mutex_lock(&slot->lock);
    slot->loading = false;
    fpga_program *old = NULL;
    if (r == ACCEL_SUCCESS) {
        old = slot->program;
        if (old)
            atomic_store(&old->evicted, true);
        slot->program = p;
        slot->generation = generation;
        p->generation = generation;
    }
    pthread_mutex_unlock(&slot->lock);
    if (r) {
        logf_(log, log_size, "%s: %s", p->path, error[0] ? error : fpga__result_name(r));
        goto fail;
    }
    if (old)
        LOG(ACCEL_LOG_INFO, "slot %u of %s: forced reconfiguration replaced image \"%s\" (%s) with \"%s\" (%s); "
            "the old program's functions now fail with ACCEL_ERROR_INVALID_HANDLE", dev->slot_index, card->name,
            old->image->name, old->path, p->image->name, p->path);
    LOG(ACCEL_LOG_DEBUG, "slot %u of %s: loaded image \"%s\" from %s", dev->slot_index, card->name, p->image->name,
        p->path);
    *program = p;
    return ACCEL_SUCCESS;
fail:
    program_unref(p);
    return r;
}

void fpga__program_release(void *program)
{
    fpga_program *p = program_from_handle(program);
    if (!p)
        return;
    fpga_slot *slot = p->device->slot;
    pthread_mutex_lock(&slot->lock);
    if (slot->program == p)
        slot->program = NULL; /* the image stays resident; the slot is free */
    pthread_mutex_unlock(&slot->lock);
    program_unref(p);
}

static void fill_info(const fpga_device *dev, const fpga_function *fn, accel_icd_function_info *info)
{
    accel_icd_function_info out = {.arg_count = fn->arg_count};
    memcpy(out.arg_kinds, fn->arg_kinds, sizeof(out.arg_kinds));
    if (fn->program) {
        const fpga_image_kernel *k = &fn->program->image->kernels[fn->kernel];
        for (uint32_t i = 0; i < k->arg_count; i++) {
            if (k->args[i].wire == FPGA_WIRE_ANY)
                continue;
            out.arg_node_wired[i] = 1;
            out.arg_node_id[i] =
                fpga__node_id(dev->card->index, k->args[i].wire == FPGA_WIRE_HOST ? FPGA_BANK_HOST : k->args[i].bank);
        }
    }
    accel_query_copy_function_info(&out, info);
}

accel_icd_result fpga__function_get(void *device, void *program, const char *name, void **function,
                                    accel_icd_function_info *info)
{
    fpga_device *dev = device;
    if (!dev || !name || !function)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!program) {
        const fpga_function *fn = dev->slot ? builtin_find(name) : NULL;
        if (!fn)
            return ACCEL_ERROR_NOT_FOUND;
        if (info)
            fill_info(dev, fn, info);
        *function = (void *)fn;
        return ACCEL_SUCCESS;
    }
    fpga_program *p = program_from_handle(program);
    if (!p || p->device != dev)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (atomic_load(&p->evicted)) {
        LOG(ACCEL_LOG_ERROR, "%s: image \"%s\" was replaced in slot %u of %s by a forced reconfiguration",
            name, p->image->name, dev->slot_index, dev->card->desc->name);
        return ACCEL_ERROR_INVALID_HANDLE;
    }
    uint32_t index;
    const fpga_image_kernel *k = fpga__image_find(p->image, name, &index);
    if (!k)
        return ACCEL_ERROR_NOT_FOUND;
    fpga_function *fn = calloc(1, sizeof(*fn));
    if (!fn)
        return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
    fn->magic = FPGA_FUNC_MAGIC;
    fn->name = k->name;
    fn->op = FPGA_OP_KERNEL;
    fn->arg_count = k->arg_count;
    for (uint32_t i = 0; i < k->arg_count; i++)
        fn->arg_kinds[i] = k->args[i].kind;
    fn->program = p;
    fn->kernel = index;
    atomic_fetch_add(&p->refs, 1);
    if (info)
        fill_info(dev, fn, info);
    *function = fn;
    return ACCEL_SUCCESS;
}

void fpga__function_release(void *function)
{
    fpga_function *fn = function;
    if (!fn || fn->magic != FPGA_FUNC_MAGIC || !fn->program)
        return; /* built-ins are static */
    program_unref(fn->program);
    fn->magic = 0;
    free(fn);
}

/* ---- estimates -------------------------------------------------------------------- */

static uint64_t wire_mbps(const fpga_card_desc *d, const fpga_image_arg *a)
{
    if (a->wire == FPGA_WIRE_HOST)
        return d->host_bandwidth_mbps;
    if (a->wire == FPGA_WIRE_BANK)
        return d->banks[a->bank].bandwidth_mbps;
    uint64_t best = d->host_bandwidth_mbps;
    for (uint32_t b = 0; b < d->bank_count; b++)
        if (d->banks[b].bandwidth_mbps > best)
            best = d->banks[b].bandwidth_mbps;
    return best;
}

static void put_estimate(uint64_t fixed_ns, uint64_t mbps, accel_icd_function_estimate *estimate)
{
    accel_icd_function_estimate out = {.struct_size = sizeof(out), .fixed_ns = fixed_ns,
                                       .bytes_per_second = mbps * 1000000u};
    uint32_t keep = estimate->struct_size;
    size_t n = keep < sizeof(out) ? keep : sizeof(out);
    memcpy(estimate, &out, n);
    estimate->struct_size = keep;
}

/*
 * Per call: the card's launch cost, plus the reconfiguration when the
 * function's image is not the one in the slot (it was replaced). Throughput:
 * the slowest memory port of the kernel (its wired bank's bandwidth, host
 * memory's over the bus, the fastest bank for ports wired to any), or the
 * slowest bank for copy and fill.
 */
accel_icd_result fpga__function_estimate(void *device, void *function, const char *name, uint64_t bytes,
                                         accel_icd_function_estimate *estimate)
{
    (void)bytes;
    fpga_device *dev = device;
    if (!dev || !estimate)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!dev->slot)
        return ACCEL_ERROR_UNSUPPORTED;
    const fpga_card_desc *d = dev->card->desc;
    const fpga_function *fn = function;
    if (fn && fn->magic != FPGA_FUNC_MAGIC)
        return ACCEL_ERROR_INVALID_ARGUMENT;
    if (!fn && name)
        fn = builtin_find(name);

    if (fn && !fn->program) {
        uint64_t slowest = 0;
        for (uint32_t b = 0; b < d->bank_count; b++)
            if (!slowest || d->banks[b].bandwidth_mbps < slowest)
                slowest = d->banks[b].bandwidth_mbps;
        put_estimate(d->launch_ns, fn->op == FPGA_OP_NOOP ? 0 : slowest, estimate);
        return ACCEL_SUCCESS;
    }

    /* A kernel: the function's, or one of the slot's current program. */
    fpga_image_kernel k;
    uint64_t reconfigure = 0;
    fpga_slot *slot = dev->slot;
    pthread_mutex_lock(&slot->lock);
    const fpga_program *p = fn ? fn->program : slot->program;
    const fpga_image_kernel *found = NULL;
    if (p)
        found = fn ? &p->image->kernels[fn->kernel] : (name ? fpga__image_find(p->image, name, NULL) : NULL);
    if (found) {
        k = *found;
        if (p->generation != slot->generation)
            reconfigure = p->image->has_reconfigure ? p->image->reconfigure_ns : d->reconfigure_ns;
    }
    pthread_mutex_unlock(&slot->lock);
    if (!found)
        return ACCEL_ERROR_UNSUPPORTED;
    uint64_t slowest = 0;
    for (uint32_t i = 0; i < k.arg_count; i++) {
        if (k.args[i].kind != ACCEL_ARG_MEMORY)
            continue;
        uint64_t mbps = wire_mbps(d, &k.args[i]);
        if (!slowest || mbps < slowest)
            slowest = mbps;
    }
    put_estimate(d->launch_ns + reconfigure, slowest, estimate);
    return ACCEL_SUCCESS;
}
