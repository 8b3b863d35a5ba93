/* batch.c: the training loop's data: examples truncated to max_seq_length (counted), those
 * with no supervised target left skipped (counted), the rest sorted by token length (stable)
 * and cut into right-padded batches; epoch permutations from the loop's own xoshiro256**.
 * Position t of a sequence predicts token t+1: targets[t] = ids[t+1] where mask[t+1] = 1. */
#include <stdlib.h>
#include <string.h>

#include "train/train_loop_internal.h"
#include "util/err.h"

uint64_t tl_mix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Uniform in [0, n) without modulo bias. */
static uint64_t rng_below(hone_rng *r, uint64_t n) {
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = hone_rng_next(r);
    while (x >= lim);
    return x % n;
}

void tl_shuffle(hone_rng *r, int64_t *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(r, (uint64_t)i + 1);
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* ---- data preparation and batches ---- */

void tl_prep_free(tl_prep *p) {
    free(p->idx);
    free(p->len);
    memset(p, 0, sizeof *p);
}

static size_t n_targets(const hone_train_example *e, size_t L) {
    if (!e->mask) return L > 0 ? L - 1 : 0;
    size_t k = 0;
    for (size_t t = 1; t < L; t++) k += e->mask[t] != 0;
    return k;
}

static int cmp_key(const void *a, const void *b) {
    uint64_t i = *(const uint64_t *)a, j = *(const uint64_t *)b;
    return i < j ? -1 : i > j;
}

int tl_prep_set(const hone_train_config *cfg, const hone_train_set *s, tl_prep *p, hone_err *err) {
    memset(p, 0, sizeof *p);
    int64_t n = s ? s->n : 0;
    p->idx = malloc(((size_t)n + 1) * sizeof *p->idx);
    p->len = malloc(((size_t)n + 1) * sizeof *p->len);
    uint64_t *key = malloc(((size_t)n + 1) * sizeof *key);
    int64_t *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!p->idx || !p->len || !key || !order) {
        free(key), free(order), tl_prep_free(p);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", s ? s->name : "data");
    }
    /* sort key: (length << 32 | position among usable) keeps the sort stable */
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        const hone_train_example *e = &s->ex[i];
        size_t L = e->n;
        if (L > p->longest) p->longest = L;
        if (L > (size_t)cfg->max_seq_length) {
            L = (size_t)cfg->max_seq_length;
            p->n_trunc++;
        }
        if (n_targets(e, L) == 0) {
            p->n_skip++;
            continue;
        }
        order[m] = i;
        key[m] = ((uint64_t)L << 32) | (uint64_t)m;
        m++;
    }
    qsort(key, (size_t)m, sizeof *key, cmp_key);
    for (int64_t k = 0; k < m; k++) {
        uint32_t pos = (uint32_t)(key[k] & 0xffffffffu);
        p->idx[k] = order[pos];
        p->len[k] = (uint32_t)(key[k] >> 32);
    }
    p->n = m;
    free(key);
    free(order);
    return HONE_OK;
}

int tl_batchbuf_init(tl_batchbuf *b, int64_t bs, int64_t max_seq, hone_err *err) {
    b->bs = bs;
    b->max_seq = max_seq;
    b->tokens = malloc((size_t)(bs * max_seq) * sizeof(int32_t));
    b->targets = malloc((size_t)(bs * max_seq) * sizeof(int32_t));
    b->lengths = malloc((size_t)bs * sizeof(uint32_t));
    b->ids = malloc((size_t)bs * sizeof(int64_t));
    if (!b->tokens || !b->targets || !b->lengths || !b->ids)
        return hone_err_set(err, HONE_ENOMEM, "batch buffers: out of memory");
    return HONE_OK;
}

void tl_batchbuf_free(tl_batchbuf *b) {
    free(b->tokens), free(b->targets), free(b->lengths), free(b->ids);
    memset(b, 0, sizeof *b);
}

/* Fills batch k (members p->idx[k*bs .. k*bs+bs)) of set s; returns supervised tokens. */
int64_t tl_fill_batch(const hone_train_set *s, const tl_prep *p, int64_t k, int64_t bs, int64_t id_base,
                          tl_batchbuf *b, hone_train_batch *out) {
    uint32_t seq = 0;
    for (int64_t j = 0; j < bs; j++)
        if (p->len[k * bs + j] > seq) seq = p->len[k * bs + j];
    int64_t ntok = 0;
    for (int64_t j = 0; j < bs; j++) {
        int64_t e = p->idx[k * bs + j];
        const hone_train_example *x = &s->ex[e];
        uint32_t L = p->len[k * bs + j];
        int32_t *tk = b->tokens + j * seq, *tg = b->targets + j * seq;
        for (uint32_t t = 0; t < seq; t++) {
            tk[t] = t < L ? x->ids[t] : 0;
            int sup = t + 1 < L && (!x->mask || x->mask[t + 1]);
            tg[t] = sup ? x->ids[t + 1] : -1;
            ntok += sup;
        }
        b->lengths[j] = L;
        b->ids[j] = id_base + e;
    }
    *out = (hone_train_batch){.n_seq = (uint32_t)bs, .seq_len = seq, .tokens = b->tokens, .targets = b->targets,
                              .lengths = b->lengths, .example_ids = b->ids};
    return ntok;
}

uint64_t tl_data_hash(const hone_train_set *s, const tl_prep *p) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int64_t k = 0; k < p->n; k++) {
        const hone_train_example *e = &s->ex[p->idx[k]];
        h = fnv1a(h, &p->len[k], sizeof p->len[k]);
        h = fnv1a(h, e->ids, p->len[k] * sizeof(int32_t));
        if (e->mask) h = fnv1a(h, e->mask, p->len[k]);
    }
    return h;
}
