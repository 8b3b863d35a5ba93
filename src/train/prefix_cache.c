/* prefix_cache.c: the frozen-prefix cache of the training step. The hidden
 * state entering the lowest adapted block depends only on the example's tokens
 * (no adapter, no dropout below it), so it is stored per example id after the
 * first visit and copied back on later ones.
 *
 * One arena of the configured size (allocated at trainer creation; pages are
 * touched only as entries fill it) and an open-addressing table keyed by id.
 * An entry also records the token count and a hash of the tokens: a lookup
 * that finds the id with other tokens misses (the data changed under a stable
 * id) and that id is not cached again. When the arena is full, new examples
 * are simply not cached (no eviction: an epoch visits every example once, so
 * an LRU would only churn).
 */
#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"

static uint64_t id_hash(int64_t id) {
    uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int pcache_init(prefix_cache *c, size_t bytes, int64_t D) {
    memset(c, 0, sizeof *c);
    c->D = D;
    size_t floats = bytes / sizeof(float);
    if (floats < (size_t)D) return HONE_OK; /* disabled */
    size_t max_entries = floats / (size_t)D; /* at most one row per entry */
    if (max_entries > ((size_t)1 << 24)) max_entries = (size_t)1 << 24;
    size_t cap = 16;
    while (cap < 2 * max_entries) cap *= 2;
    c->tab = calloc(cap, sizeof *c->tab);
    c->arena = malloc(floats * sizeof(float));
    if (!c->tab || !c->arena) {
        free(c->tab);
        free(c->arena);
        memset(c, 0, sizeof *c);
        return HONE_ENOMEM;
    }
    c->cap = cap;
    c->arena_floats = floats;
    return HONE_OK;
}

void pcache_free(prefix_cache *c) {
    free(c->tab);
    free(c->arena);
    memset(c, 0, sizeof *c);
}

void pcache_clear(prefix_cache *c) {
    if (c->tab) memset(c->tab, 0, c->cap * sizeof *c->tab);
    c->n = 0;
    c->used = 0;
}

/* The slot holding id, or the empty slot where it would go. */
static pc_entry *find(const prefix_cache *c, int64_t id) {
    size_t i = (size_t)id_hash(id) & (c->cap - 1);
    while (c->tab[i].len && c->tab[i].id != id) i = (i + 1) & (c->cap - 1);
    return &c->tab[i];
}

const float *pcache_get(const prefix_cache *c, int64_t id, uint64_t hash, uint32_t len) {
    if (!c->tab) return NULL;
    pc_entry *e = find(c, id);
    return e->len == len && e->hash == hash && e->data ? e->data : NULL;
}

void pcache_put(prefix_cache *c, int64_t id, uint64_t hash, uint32_t len, const float *rows) {
    if (!c->tab || c->n + 1 > c->cap / 2) return;
    pc_entry *e = find(c, id);
    if (e->len) { /* same id, other tokens: poison the entry (never a stale hit) */
        e->data = NULL;
        return;
    }
    size_t need = (size_t)len * (size_t)c->D;
    if (c->used + need > c->arena_floats) return;
    e->id = id;
    e->hash = hash;
    e->len = len;
    e->data = c->arena + c->used;
    memcpy(e->data, rows, need * sizeof(float));
    c->used += need;
    c->n++;
}
