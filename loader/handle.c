/* handle.c — the registry of live handles and the device arrays' tags.
 *
 * The registry is split into shards by address, each an open-addressing
 * hash set (linear probing, backward-shift deletion) under its own mutex,
 * so that calls on different objects rarely meet on one lock and none is
 * global. An entry holds the object's type, how many calls have it pinned
 * and, while it is being destroyed, the destroying thread.
 */
#include "handle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define SHARD_BITS   6
#define SHARD_COUNT  (1u << SHARD_BITS)
#define MIN_CAPACITY 16u

typedef struct entry {
    uintptr_t key; /* 0: empty */
    uint64_t gen;
    uint32_t pins;
    const void *owner; /* the instance that frees it, or NULL */
    uint8_t type;
    bool dying;
    pthread_t destroyer; /* while dying */
} entry;

typedef struct shard {
    pthread_mutex_t lock;
    pthread_cond_t unpinned; /* a dying entry lost its last pin */
    entry *slots;
    size_t capacity; /* 0 or a power of two */
    size_t count;
} shard;

static shard shards[SHARD_COUNT];
static pthread_once_t shards_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t next_gen; /* entries' generations: unique, so that a key reused by
                                     a new object is told from the one being destroyed */

static void shards_init(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
        pthread_cond_init(&shards[i].unpinned, NULL);
    }
}

static uint64_t hash(uintptr_t key)
{
    uint64_t h = (uint64_t)key >> 4; /* objects are at least 16-byte aligned by malloc */
    h ^= h >> 29;
    h *= UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 32);
}

static shard *shard_of(uintptr_t key)
{
    pthread_once(&shards_once, shards_init);
    return &shards[hash(key) >> (64 - SHARD_BITS)];
}

/* The slot holding key, or NULL. Lock held. */
static entry *find(shard *s, uintptr_t key)
{
    if (!s->capacity)
        return NULL;
    size_t mask = s->capacity - 1;
    for (size_t i = (size_t)hash(key) & mask;; i = (i + 1) & mask) {
        if (s->slots[i].key == key)
            return &s->slots[i];
        if (s->slots[i].key == 0)
            return NULL;
    }
}

static entry *insert_slot(entry *slots, size_t capacity, uintptr_t key)
{
    size_t mask = capacity - 1;
    size_t i = (size_t)hash(key) & mask;
    while (slots[i].key != 0)
        i = (i + 1) & mask;
    return &slots[i];
}

static bool grow(shard *s)
{
    size_t cap = s->capacity ? s->capacity * 2 : MIN_CAPACITY;
    entry *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return false;
    for (size_t i = 0; i < s->capacity; i++)
        if (s->slots[i].key)
            *insert_slot(slots, cap, s->slots[i].key) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->capacity = cap;
    return true;
}

/* Remove the entry at e, moving later entries of its probe run back. */
static void erase(shard *s, entry *e)
{
    size_t mask = s->capacity - 1;
    size_t hole = (size_t)(e - s->slots);
    for (size_t i = (hole + 1) & mask; s->slots[i].key; i = (i + 1) & mask) {
        size_t home = (size_t)hash(s->slots[i].key) & mask;
        /* Move it into the hole if its home is not in (hole, i]. */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    memset(&s->slots[hole], 0, sizeof(s->slots[hole]));
    s->count--;
}

static uint64_t new_gen(void)
{
    return atomic_fetch_add_explicit(&next_gen, 1, memory_order_relaxed) + 1;
}

const char *accel__handle_type_name(accel__handle_type type)
{
    static const char *const names[ACCEL__HANDLE_TYPE_COUNT] = {
        [ACCEL__HANDLE_INSTANCE] = "instance", [ACCEL__HANDLE_MEMORY] = "memory",
        [ACCEL__HANDLE_PROGRAM] = "program",   [ACCEL__HANDLE_FUNCTION] = "function",
        [ACCEL__HANDLE_QUEUE] = "queue",       [ACCEL__HANDLE_FENCE] = "fence",
        [ACCEL__HANDLE_TOPOLOGY] = "topology", [ACCEL__HANDLE_PIPELINE] = "pipeline",
        [ACCEL__HANDLE_PLAN] = "plan",         [ACCEL__HANDLE_RUN] = "run",
    };
    return (unsigned)type < ACCEL__HANDLE_TYPE_COUNT && names[type] ? names[type] : "object";
}

accel_result accel__handle_add(const void *h, accel__handle_type type)
{
    return accel__handle_add_owned(h, type, NULL);
}

accel_result accel__handle_add_owned(const void *h, accel__handle_type type, const void *owner)
{
    uintptr_t key = (uintptr_t)h;
    uint64_t gen = new_gen();
    shard *s = shard_of(key);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, key);
    if (!e) {
        /* Keep the load under one half: probe runs stay short. */
        if ((s->count + 1) * 2 > s->capacity && !grow(s)) {
            pthread_mutex_unlock(&s->lock);
            return ACCEL_ERROR_OUT_OF_HOST_MEMORY;
        }
        e = insert_slot(s->slots, s->capacity, key);
        s->count++;
    }
    /* An existing entry is a dying one whose object was freed (its address
     * is being reused): the new object takes the key, the old destroy's
     * retire_end sees another generation and leaves it. */
    *e = (entry){.key = key, .gen = gen, .owner = owner, .type = (uint8_t)type};
    pthread_mutex_unlock(&s->lock);
    return ACCEL_SUCCESS;
}

/* Record why h (the argument `what`) is not a live `type`. Lock held (e:
 * its entry or NULL). */
static void invalid(const void *h, accel__handle_type type, const char *fn, const char *what, const entry *e)
{
    const char *tn = accel__handle_type_name(type);
    if (!e)
        accel__error(ACCEL_ERROR_INVALID_HANDLE, "%s: %s %p is not a live %s (destroyed, or never created)",
                     fn, what, h, tn);
    else if (e->type != type)
        accel__error(ACCEL_ERROR_INVALID_HANDLE, "%s: %s %p is a %s, not a %s", fn, what, h,
                     accel__handle_type_name((accel__handle_type)e->type), tn);
    else
        accel__error(ACCEL_ERROR_INVALID_HANDLE, "%s: %s %p is being destroyed", fn, what, h);
}

accel__handle_pin accel__handle_pin_get(const void *h, accel__handle_type type, const char *fn)
{
    accel__handle_pin pin = {.ok = true};
    if (!h)
        return pin;
    uintptr_t key = (uintptr_t)h;
    shard *s = shard_of(key);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, key);
    if (e && e->type == type && (!e->dying || pthread_equal(e->destroyer, pthread_self()))) {
        e->pins++;
        pin.h = h;
        pin.gen = e->gen;
    } else {
        invalid(h, type, fn, accel__handle_type_name(type), e);
        pin.ok = false;
    }
    pthread_mutex_unlock(&s->lock);
    return pin;
}

void accel__handle_unpin(accel__handle_pin *pin)
{
    if (!pin->h)
        return;
    uintptr_t key = (uintptr_t)pin->h;
    shard *s = shard_of(key);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, key);
    if (e && e->gen == pin->gen && e->pins > 0 && --e->pins == 0 && e->dying)
        pthread_cond_broadcast(&s->unpinned);
    pthread_mutex_unlock(&s->lock);
    pin->h = NULL;
}

accel_result accel__handle_check(const void *h, accel__handle_type type, const char *fn, const char *what)
{
    if (!h)
        return ACCEL_SUCCESS;
    uintptr_t key = (uintptr_t)h;
    shard *s = shard_of(key);
    pthread_mutex_lock(&s->lock);
    const entry *e = find(s, key);
    bool live = e && e->type == type && (!e->dying || pthread_equal(e->destroyer, pthread_self()));
    if (!live)
        invalid(h, type, fn, what, e);
    pthread_mutex_unlock(&s->lock);
    return live ? ACCEL_SUCCESS : ACCEL_ERROR_INVALID_HANDLE;
}

accel_result accel__handle_check_array(const void *const *hs, uint32_t n, accel__handle_type type,
                                       const char *fn, const char *what)
{
    char name[64];
    for (uint32_t i = 0; hs && i < n; i++) {
        if (!hs[i])
            continue;
        snprintf(name, sizeof(name), "%s[%u]", what, i);
        if (accel__handle_check(hs[i], type, fn, name))
            return ACCEL_ERROR_INVALID_HANDLE;
    }
    return ACCEL_SUCCESS;
}

accel_result accel__handle_check_submit(const accel_submit_info *info, const char *fn)
{
    if (!info || info->struct_size < offsetof(accel_submit_info, wait_fence_count) + sizeof(uint32_t))
        return ACCEL_SUCCESS;
    if (accel__handle_check(info->function, ACCEL__HANDLE_FUNCTION, fn, "function"))
        return ACCEL_ERROR_INVALID_HANDLE;
    char name[64];
    for (uint32_t i = 0; info->args && i < info->arg_count && i < ACCEL_MAX_ARGS; i++) {
        if (info->args[i].kind != ACCEL_ARG_MEMORY)
            continue;
        snprintf(name, sizeof(name), "args[%u].memory", i);
        if (accel__handle_check(info->args[i].u.mem.memory, ACCEL__HANDLE_MEMORY, fn, name))
            return ACCEL_ERROR_INVALID_HANDLE;
    }
    return accel__handle_check_array((const void *const *)info->wait_fences, info->wait_fence_count,
                                     ACCEL__HANDLE_FENCE, fn, "wait_fences");
}

bool accel__handle_peek(const void *h, accel__handle_type type)
{
    uintptr_t key = (uintptr_t)h;
    shard *s = shard_of(key);
    if (pthread_mutex_trylock(&s->lock) != 0)
        return true;
    const entry *e = find(s, key);
    bool live = e && e->type == type && !e->dying;
    pthread_mutex_unlock(&s->lock);
    return live;
}

accel__handle_pin accel__handle_retire_begin(const void *h, accel__handle_type type, const char *fn,
                                             bool checked)
{
    accel__handle_pin pin = {.ok = true};
    if (!h)
        return pin;
    uintptr_t key = (uintptr_t)h;
    shard *s = shard_of(key);
    pthread_t self = pthread_self();
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, key);
    if (!e || e->type != type || e->dying) {
        /* Unchecked: an object that was never registered, or whose destroy
         * (on this thread) already did this. */
        if (checked) {
            invalid(h, type, fn, accel__handle_type_name(type), e);
            pin.ok = false;
        }
        pthread_mutex_unlock(&s->lock);
        return pin;
    }
    uint64_t gen = e->gen;
    e->dying = true;
    e->destroyer = self;
    /* Wait for the calls in flight. The entry may move (other keys come
     * and go meanwhile) but not go: only retire_end erases it. */
    while ((e = find(s, key)) && e->gen == gen && e->pins > 0)
        pthread_cond_wait(&s->unpinned, &s->lock);
    pthread_mutex_unlock(&s->lock);
    pin.h = h;
    pin.gen = gen;
    return pin;
}

void accel__handle_retire_end(accel__handle_pin *pin)
{
    if (!pin->h)
        return;
    uintptr_t key = (uintptr_t)pin->h;
    shard *s = shard_of(key);
    pthread_mutex_lock(&s->lock);
    entry *e = find(s, key);
    if (e && e->gen == pin->gen)
        erase(s, e);
    pthread_mutex_unlock(&s->lock);
    pin->h = NULL;
}

void accel__handle_retire_owned(const void *owner, accel__handle_type type, void (*free_fn)(void *h))
{
    pthread_once(&shards_once, shards_init);
    pthread_t self = pthread_self();
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        shard *s = &shards[i];
        for (;;) {
            /* One at a time: free_fn runs without the lock, and the table
             * may change meanwhile. */
            pthread_mutex_lock(&s->lock);
            entry *e = NULL;
            for (size_t k = 0; k < s->capacity && !e; k++)
                if (s->slots[k].key && s->slots[k].owner == owner && s->slots[k].type == type &&
                    !s->slots[k].dying)
                    e = &s->slots[k];
            if (!e) {
                pthread_mutex_unlock(&s->lock);
                break;
            }
            uintptr_t key = e->key;
            uint64_t gen = e->gen;
            e->dying = true;
            e->destroyer = self;
            while ((e = find(s, key)) && e->gen == gen && e->pins > 0)
                pthread_cond_wait(&s->unpinned, &s->lock);
            pthread_mutex_unlock(&s->lock);
            free_fn((void *)key);
            accel__handle_pin pin = {.h = (const void *)key, .gen = gen};
            accel__handle_retire_end(&pin);
        }
    }
}

/* ---- devices ---- */

accel_result accel__device_invalid(const void *dev, const char *fn)
{
    return accel__error(ACCEL_ERROR_INVALID_HANDLE,
                        "%s: device %p is not a device of a live instance (its instance was destroyed?)", fn,
                        dev);
}

/* A retired device array: the header sits in front of the devices. */
typedef union pooled {
    struct {
        union pooled *next;
        size_t capacity;
    } h;
    max_align_t align;
} pooled;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pooled *pool; /* retired arrays */

accel_device *accel__device_array_new(size_t n)
{
    pooled *p = NULL;
    pthread_mutex_lock(&pool_lock);
    for (pooled **at = &pool; *at; at = &(*at)->h.next) {
        if ((*at)->h.capacity >= n) {
            p = *at;
            *at = p->h.next;
            break;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    if (!p) {
        if (n > (SIZE_MAX - sizeof(pooled)) / sizeof(accel_device))
            return NULL;
        p = malloc(sizeof(pooled) + n * sizeof(accel_device));
        if (!p)
            return NULL;
        p->h.capacity = n;
    }
    p->h.next = NULL;
    accel_device *devices = (accel_device *)(p + 1);
    memset(devices, 0, p->h.capacity * sizeof(accel_device));
    return devices;
}

void accel__device_array_retire(accel_device *devices, size_t n)
{
    if (!devices)
        return;
    pooled *p = (pooled *)devices - 1;
    pthread_mutex_lock(&pool_lock);
    /* Under the lock: a stale handle's check and a new instance taking the
     * array see either the cleared tag or the new device, never a torn one. */
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(&devices[i].magic, 0, __ATOMIC_RELAXED);
    p->h.next = pool;
    pool = p;
    pthread_mutex_unlock(&pool_lock);
}

/* Give the registry's and the pool's memory back when the library goes
 * (leak checkers run after this). Objects still registered are the
 * application's leaks; their entries simply go. */
__attribute__((destructor)) static void handle_fini(void)
{
    for (unsigned i = 0; i < SHARD_COUNT; i++) {
        free(shards[i].slots);
        shards[i].slots = NULL;
        shards[i].capacity = shards[i].count = 0;
    }
    while (pool) {
        pooled *p = pool;
        pool = p->h.next;
        free(p);
    }
}
