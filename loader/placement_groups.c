/*
 * placement_groups.c — independent groups inside a component: when the
 * stages still open fall apart into groups that share no buffer, each
 * group's optimum alone (given what is placed; instances and address
 * spaces relaxed, and cached by situation) bounds it, the sum bounds the
 * subtree, and placing every group at its own optimum often closes it.
 */
#include <string.h>

#include "alloc.h"
#include "loader.h"
#include "placement_internal.h"

typedef struct cache_entry {
    uint64_t hash;
    uint64_t *key; /* key[0]: its length in words, then the words */
    double value;
} cache_entry;

typedef struct group_cache {
    cache_entry *slots;
    uint32_t cap, count;
} group_cache;

#define CACHE_MAX (1u << 16)

void accel__pl_cache_free(group_cache *gc)
{
    if (!gc)
        return;
    for (uint32_t i = 0; i < gc->cap; i++)
        accel__free(gc->slots[i].key);
    accel__free(gc->slots);
    accel__free(gc);
}

static uint64_t hash_words(const uint64_t *w, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ w[i]) * 1099511628211ull;
    return h;
}

static cache_entry *cache_slot(group_cache *gc, const uint64_t *key, uint64_t hash)
{
    for (uint32_t i = (uint32_t)hash & (gc->cap - 1);; i = (i + 1) & (gc->cap - 1)) {
        cache_entry *e = &gc->slots[i];
        if (!e->key ||
            (e->hash == hash && e->key[0] == key[0] && memcmp(e->key, key, key[0] * sizeof(uint64_t)) == 0))
            return e;
    }
}

static bool cache_get(const pc *c, const uint64_t *key, double *value)
{
    group_cache *gc = c->cache;
    if (!gc || !gc->cap)
        return false;
    cache_entry *e = cache_slot(gc, key, hash_words(key, key[0]));
    if (!e->key)
        return false;
    *value = e->value;
    return true;
}

/* Remember a value; silently not when full or out of memory (it is only a
 * cache). */
static void cache_put(pc *c, const uint64_t *key, double value)
{
    if (!c->cache && !(c->cache = accel__calloc(1, sizeof(group_cache))))
        return;
    group_cache *gc = c->cache;
    if (gc->count + 1 > gc->cap / 2) {
        if (gc->cap >= CACHE_MAX)
            return;
        uint32_t cap = gc->cap ? gc->cap * 2 : 256;
        cache_entry *slots = accel__calloc(cap, sizeof(cache_entry));
        if (!slots)
            return;
        group_cache grown = {slots, cap, gc->count};
        for (uint32_t i = 0; i < gc->cap; i++)
            if (gc->slots[i].key)
                *cache_slot(&grown, gc->slots[i].key, gc->slots[i].hash) = gc->slots[i];
        accel__free(gc->slots);
        *gc = grown;
    }
    uint64_t hash = hash_words(key, key[0]);
    cache_entry *e = cache_slot(gc, key, hash);
    if (e->key)
        return;
    if (!(e->key = accel__malloc(key[0] * sizeof(uint64_t))))
        return;
    memcpy(e->key, key, key[0] * sizeof(uint64_t));
    e->hash = hash;
    e->value = value;
    gc->count++;
}

/*
 * The key of a group's relaxed optimum: its stages, and the devices of the
 * placed stages it depends on (those sharing its buffers, those it must not
 * share a device with). Interchangeable devices are named by class and
 * order of appearance, so that the same situation on other members of the
 * same classes finds the same entry. NULL when out of memory.
 */
static uint64_t *group_key(const pc *c, const uint32_t *stages, uint32_t n)
{
    uint32_t *rel = accel__malloc((2 * (size_t)c->S + 1) * sizeof(uint32_t));
    uint64_t *key = accel__malloc((3 + n + 2 * (size_t)c->S) * sizeof(uint64_t));
    if (!rel || !key) {
        accel__free(rel);
        accel__free(key);
        return NULL;
    }
    uint32_t nrel = 0;
    for (uint32_t i = 0; i < n; i++) {
        const stage_info *si = &c->stages[stages[i]];
        for (uint32_t j = 0; j < si->conflict_count; j++)
            if (c->stage_dev[si->conflicts[j]] >= 0)
                rel[nrel++] = si->conflicts[j];
        for (uint32_t u = 0; u < si->use_count; u++) {
            const buf_info *bi = &c->bufs[c->uses[si->use_begin + u].buffer];
            for (uint32_t j = 0; j < bi->user_count; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                if (c->stage_dev[t] >= 0)
                    rel[nrel++] = t;
            }
        }
    }
    /* Sort and drop repeats (the lists are short). */
    for (uint32_t i = 1; i < nrel; i++)
        for (uint32_t j = i; j > 0 && rel[j - 1] > rel[j]; j--) {
            uint32_t x = rel[j];
            rel[j] = rel[j - 1];
            rel[j - 1] = x;
        }
    uint32_t m = 0;
    for (uint32_t i = 0; i < nrel; i++)
        if (!m || rel[m - 1] != rel[i])
            rel[m++] = rel[i];
    size_t w = 1;
    key[w++] = n;
    size_t gstart = w;
    for (uint32_t i = 0; i < n; i++)
        key[w++] = stages[i];
    for (size_t i = gstart + 1; i < w; i++)
        for (size_t j = i; j > gstart && key[j - 1] > key[j]; j--) {
            uint64_t x = key[j];
            key[j] = key[j - 1];
            key[j - 1] = x;
        }
    key[w++] = m;
    size_t rstart = w;
    for (uint32_t i = 0; i < m; i++) {
        uint32_t d = (uint32_t)c->stage_dev[rel[i]];
        uint32_t klass = c->devs[d].klass;
        uint64_t canon = d;
        if (c->class_size[klass] > 1) {
            /* The same device as an earlier entry gets its name; a new one
             * the next rank in its class. */
            uint64_t rank = 0;
            bool same = false;
            for (uint32_t j = 0; j < i && !same; j++) {
                uint32_t e = (uint32_t)c->stage_dev[rel[j]];
                if (e == d) {
                    canon = key[rstart + 2 * j + 1];
                    same = true;
                } else if (c->devs[e].klass == klass) {
                    bool repeat = false;
                    for (uint32_t q = 0; q < j && !repeat; q++)
                        repeat = c->stage_dev[rel[q]] == (int32_t)e;
                    rank += !repeat;
                }
            }
            if (!same)
                canon = (1ull << 63) | ((uint64_t)klass << 24) | rank;
        }
        key[w++] = rel[i];
        key[w++] = canon;
    }
    key[0] = w;
    accel__free(rel);
    return key;
}

/*
 * The least cost of a group of unplaced stages with the buffers they use,
 * given the stages placed so far, from a search of its own; with `relaxed`
 * instances and address spaces are ignored (a lower bound for the group in
 * any completion). INF if there is none. *exact is false when the time
 * limit cut the search short (the value is then a lower bound). With out,
 * the assignment found goes to out[i] for stages[i].
 */
static double solve_group(pc *c, const uint32_t *stages, uint32_t n, bool relaxed, int32_t *out, bool *exact)
{
    static const double zero = 0;
    double base = 0, offset = 0;
    *exact = false;
    /* The group's own bound, as a component's: its stages' wmin and its
     * buffers' io bounds; and what the placed users of its buffers add to
     * the search's values (their cheapest accesses), left out. */
    for (uint32_t i = 0; i < n; i++) {
        const stage_info *si = &c->stages[stages[i]];
        base += si->wmin;
        for (uint32_t u = 0; u < si->use_count; u++) {
            uint32_t b = c->uses[si->use_begin + u].buffer;
            buf_info *bi = &c->bufs[b];
            bool first = true; /* each buffer once */
            for (uint32_t j = 0; j < i && first; j++) {
                const stage_info *sj = &c->stages[stages[j]];
                for (uint32_t v = 0; v < sj->use_count && first; v++)
                    first = c->uses[sj->use_begin + v].buffer != b;
            }
            for (uint32_t v = 0; v < u && first; v++)
                first = c->uses[si->use_begin + v].buffer != b;
            if (!first)
                continue;
            base += bi->io_lb;
            for (uint32_t j = 0; j < bi->user_count; j++) {
                int32_t d = c->stage_dev[c->uses[bi->users[j]].stage];
                if (d >= 0)
                    offset += accel__pl_access_lb(c->devs[d].reach, c->devs[d].reach_count, bi->bytes);
            }
        }
    }
    int32_t *dev = accel__malloc((c->S + 1) * sizeof(int32_t));
    if (!dev) {
        c->oom = true;
        return base + offset; /* a valid bound, nothing more */
    }
    double saved_best = c->best, saved_open = c->open_lb;
    int32_t *saved_dev = c->best_dev, saved_dead = c->dead_depth;
    bool saved_relaxed = c->relaxed;
    c->best = INF;
    c->open_lb = INF;
    c->best_dev = dev;
    c->dead_depth = INT32_MAX; /* dead ends in here explain nothing */
    c->relaxed = relaxed || saved_relaxed;
    c->nest++;
    search sub = {stages, n, NULL, NULL, NULL, &zero, &zero, &base, offset};
    accel__pl_greedy(c, &sub);
    accel__pl_dfs(c, &sub, 0, 0, base, false);
    double value = c->best;
    *exact = !c->timed_out;
    if (c->timed_out && c->open_lb < value)
        value = c->open_lb;
    if (value == INF && c->timed_out)
        value = base;
    if (out && c->best < INF)
        for (uint32_t i = 0; i < n; i++)
            out[i] = dev[stages[i]];
    c->nest--;
    c->best = saved_best;
    c->open_lb = saved_open;
    c->best_dev = saved_dev;
    c->dead_depth = saved_dead;
    c->relaxed = saved_relaxed;
    accel__free(dev);
    if (out && *exact && value == INF)
        return INF;
    return value == INF ? INF : value + offset;
}

static uint32_t uf_find(uint32_t *up, uint32_t x)
{
    while (up[x] != x)
        x = up[x] = up[up[x]];
    return x;
}

/* Cost so far of the current component: compute of its placed stages and
 * its buffers whose users are all placed. */
static double placed_cost(pc *c, const search *sr, uint32_t start, uint32_t depth)
{
    double total = 0;
    for (uint32_t i = start; i < depth; i++) {
        uint32_t s = sr->order[i];
        const stage_info *si = &c->stages[s];
        total += c->stage_cur[s];
        for (uint32_t u = 0; u < si->use_count; u++) {
            uint32_t b = c->uses[si->use_begin + u].buffer;
            const buf_info *bi = &c->bufs[b];
            if (c->buf_assigned[b] != bi->user_count)
                continue;
            /* Count b at its last placed user in order. */
            bool later = false;
            for (uint32_t j = 0; j < bi->user_count && !later; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                for (uint32_t k = i + 1; k < depth && !later; k++)
                    later = sr->order[k] == t;
            }
            if (!later)
                total += c->buf_cur[b];
        }
    }
    return total;
}

const cand *accel__pl_find_cand(const pc *c, uint32_t s, uint32_t d)
{
    const stage_info *si = &c->stages[s];
    for (uint32_t i = 0; i < si->cand_count; i++)
        if (si->cands[i].dev == d)
            return &si->cands[i];
    return NULL;
}

/*
 * When the unplaced stages of the current component fall into groups that
 * share no buffer, each group's optimum alone (given what is placed;
 * instances and address spaces relaxed) bounds it, and the sum bounds the
 * subtree. If that prunes, or if placing every group at its own optimum
 * (now with every constraint) reaches the bound, the subtree is done:
 * returns true. *failed says a completion was tried and did not reach it.
 */
bool accel__pl_split(pc *c, const search *sr, uint32_t depth, uint32_t start, uint32_t end, double done,
                     double pb, uint32_t k, bool quiet, bool *failed)
{
    *failed = false;
    if (end - depth < 2 || depth == start || c->nest >= 6 || c->timed_out)
        return false;
    for (uint32_t i = depth; i < end; i++)
        c->uf[sr->order[i]] = sr->order[i];
    uint32_t groups = end - depth;
    for (uint32_t i = depth; i < end; i++) {
        uint32_t s = sr->order[i];
        const stage_info *si = &c->stages[s];
        for (uint32_t u = 0; u < si->use_count; u++) {
            const buf_info *bi = &c->bufs[c->uses[si->use_begin + u].buffer];
            for (uint32_t j = 0; j < bi->user_count; j++) {
                uint32_t t = c->uses[bi->users[j]].stage;
                if (c->stage_dev[t] >= 0)
                    continue;
                uint32_t x = uf_find(c->uf, s), y = uf_find(c->uf, t);
                if (x != y) {
                    c->uf[x] = y;
                    groups--;
                }
            }
        }
    }
    if (groups < 2)
        return false;
    uint32_t n = end - depth;
    uint32_t *members = accel__malloc((n + groups + 2) * sizeof(uint32_t));
    int32_t *sol = accel__malloc((n + 1) * sizeof(int32_t));
    if (!members || !sol) {
        accel__free(members);
        accel__free(sol);
        return false;
    }
    uint32_t *gstart = members + n;
    /* Members of each group in search order. */
    uint32_t w = 0, g = 0;
    for (uint32_t i = depth; i < end; i++) {
        uint32_t root = uf_find(c->uf, sr->order[i]);
        bool seen = false;
        for (uint32_t j = depth; j < i && !seen; j++)
            seen = uf_find(c->uf, sr->order[j]) == root;
        if (seen)
            continue;
        gstart[g++] = w;
        for (uint32_t j = i; j < end; j++)
            if (uf_find(c->uf, sr->order[j]) == root)
                members[w++] = sr->order[j];
    }
    gstart[g] = w;

    bool handled = false;
    double bound = placed_cost(c, sr, start, depth);
    bool known = true;
    for (uint32_t q = 0; q < g && known; q++) {
        const uint32_t *gs = members + gstart[q];
        uint32_t gn = gstart[q + 1] - gstart[q];
        double v;
        uint64_t *key = group_key(c, gs, gn);
        if (!key || !cache_get(c, key, &v)) {
            bool exact;
            v = solve_group(c, gs, gn, true, NULL, &exact);
            if (key && exact)
                cache_put(c, key, v);
        }
        accel__free(key);
        /* An infeasible group: leave it to the search, which records the
         * dead end that explains it. */
        known = v < INF;
        bound += v;
    }
    if (!known)
        goto out;
    bound -= sr->shift;
    double lb = done + (bound > pb ? bound : pb) + sr->tail[k];
    if (lb >= accel__pl_cutoff(c)) {
        handled = true;
        goto out;
    }
    if (c->timed_out) {
        /* A group's bound may be partial; the node stays open at lb. */
        if (lb < c->open_lb)
            c->open_lb = lb;
        handled = true;
        goto out;
    }
    if (quiet)
        goto out;
    /* Each group at its best given the groups before it. */
    uint32_t applied = 0;
    bool ok = true;
    for (uint32_t q = 0; q < g && ok; q++) {
        const uint32_t *gs = members + gstart[q];
        uint32_t gn = gstart[q + 1] - gstart[q];
        bool exact;
        if (solve_group(c, gs, gn, false, sol, &exact) == INF || !exact) {
            ok = false;
            break;
        }
        for (uint32_t i = 0; i < gn; i++) {
            const cand *cd = accel__pl_find_cand(c, gs[i], (uint32_t)sol[i]);
            int32_t other;
            if (!cd || accel__pl_dyn_check(c, gs[i], cd->dev, &other)) {
                ok = false;
                break;
            }
            c->stage_cur[gs[i]] = cd->stage_cost;
            accel__pl_apply(c, gs[i], cd->dev);
            applied++; /* members[0 .. applied) are placed: groups go in order */
            if (accel__pl_completion(c, gs[i]) == INF) {
                ok = false;
                break;
            }
        }
    }
    if (ok) {
        double comp = placed_cost(c, sr, start, depth);
        for (uint32_t i = 0; i < applied; i++) {
            uint32_t s = members[i];
            const stage_info *si = &c->stages[s];
            comp += c->stage_cur[s];
            for (uint32_t u = 0; u < si->use_count; u++) {
                uint32_t b = c->uses[si->use_begin + u].buffer;
                bool later = false;
                for (uint32_t j = i + 1; j < applied && !later; j++) {
                    const stage_info *sj = &c->stages[members[j]];
                    for (uint32_t v = 0; v < sj->use_count && !later; v++)
                        later = c->uses[sj->use_begin + v].buffer == b;
                }
                for (uint32_t v = 0; v < u && !later; v++)
                    later = c->uses[si->use_begin + v].buffer == b;
                if (!later)
                    comp += c->buf_cur[b];
            }
        }
        double total = done + comp - sr->shift;
        if (end == sr->n) {
            if (total < c->best) {
                c->best = total;
                memcpy(c->best_dev, c->stage_dev, c->S * sizeof(int32_t));
            }
        } else if (total + sr->tail[k] < accel__pl_cutoff(c)) {
            accel__pl_dfs(c, sr, end, total, sr->base[accel__pl_comp_at(sr, end)], false);
        }
        double target = done + bound + sr->tail[k];
        handled = c->timed_out || c->best <= target * (1 + 1e-12);
        /* Cut short: what is left of this subtree costs at least its bound. */
        if (c->timed_out && lb < c->open_lb)
            c->open_lb = lb;
    }
    while (applied-- > 0)
        accel__pl_undo(c, members[applied], (uint32_t)c->stage_dev[members[applied]]);
    *failed = !handled;
out:
    accel__free(members);
    accel__free(sol);
    return handled;
}
