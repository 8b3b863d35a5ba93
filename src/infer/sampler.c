/* sampler.c: the sampling chain of hone/sampler.h (penalties, greedy, top-k, top-p,
 * min-p, temperature, seeded draw) and the xoshiro256** PRNG.
 *
 * Design: the logits row is copied to `work` and penalised in place (only the
 * history's tokens change). Greedy is an argmax over work. Otherwise a candidate
 * array of (logit, id) pairs is built and shrunk in place by each step (n_cand):
 * top-k scans work once with a k-entry heap (one float comparison per token for
 * almost all of them) and sorts the k; min-p without top-k / top-p keeps only its
 * survivors; top-p without top-k buckets the probability mass by distance below
 * the maximum (0.25 nats per bucket), sorts only the buckets up to where the
 * cumulative mass crosses p (plus one, for rounding), and cuts exactly within
 * them, so a 262k vocabulary is never fully sorted in practice.
 * All comparisons use the total order (logit descending, id ascending), which makes
 * every result independent of the selection algorithm. The penalty history is a
 * ring of the last repeat_last_n tokens with per-token counts kept up to date on
 * accept. Everything is allocated in hone_sampler_init.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hone/sampler.h"
#include "util/err.h"

typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct hone_sampler {
    hone_sampler_params p;
    uint32_t n_vocab;
    float *work;      /* (n_vocab) the logits row with the penalties applied */
    cand *cand;       /* (n_vocab) working candidates; the first n_cand are live */
    uint32_t n_cand;
    int sorted;       /* the live candidates are in descending order */
    int32_t *out_ids; /* (n_vocab) survivors of the last call, for hone_sampler_candidates */
    double *out_prob; /* (n_vocab) their final probabilities */
    uint32_t n_out;
    uint32_t *count;  /* (n_vocab) occurrences in the history window */
    uint32_t *stamp;  /* (n_vocab) penalty already applied this call when == cur_stamp */
    uint32_t cur_stamp;
    int32_t *hist;    /* (repeat_last_n) ring of accepted tokens */
    uint32_t hist_n, hist_head;
    hone_rng rng;
};

/* ---- PRNG ----------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hone_rng_seed(hone_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hone_rng_next(hone_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hone_rng_uniform(hone_rng *r) { return (double)(hone_rng_next(r) >> 11) * 0x1.0p-53; }

/* ---- parameters ------------------------------------------------------------------- */

void hone_sampler_params_default(hone_sampler_params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
}

static int check_params(const hone_sampler_params *p, uint32_t n_vocab, hone_err *err) {
    if (n_vocab == 0) return hone_err_set(err, HONE_EARG, "sampler: vocabulary size is 0");
    if (!isfinite(p->temperature))
        return hone_err_set(err, HONE_EARG, "sampler: temperature %g is not finite", p->temperature);
    if (!(p->top_p > 0.0f) || !isfinite(p->top_p))
        return hone_err_set(err, HONE_EARG, "sampler: top-p %g: expected a number in (0, 1]", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return hone_err_set(err, HONE_EARG, "sampler: min-p %g: expected a number in [0, 1]", p->min_p);
    if (!(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty))
        return hone_err_set(err, HONE_EARG, "sampler: repeat penalty %g: expected a number > 0",
                            p->repeat_penalty);
    if (p->repeat_last_n < 0)
        return hone_err_set(err, HONE_EARG, "sampler: repeat-last-n %d: expected >= 0", (int)p->repeat_last_n);
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        return hone_err_set(err, HONE_EARG, "sampler: presence/frequency penalty is not finite");
    return HONE_OK;
}

int hone_sampler_init(hone_sampler **out, const hone_sampler_params *p, uint32_t n_vocab,
                      hone_err *err) {
    *out = NULL;
    int rc = check_params(p, n_vocab, err);
    if (rc) return rc;
    hone_sampler *s = calloc(1, sizeof *s);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->work = malloc((size_t)n_vocab * sizeof *s->work);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->out_ids = malloc((size_t)n_vocab * sizeof *s->out_ids);
    s->out_prob = malloc((size_t)n_vocab * sizeof *s->out_prob);
    s->count = calloc(n_vocab, sizeof *s->count);
    s->stamp = calloc(n_vocab, sizeof *s->stamp);
    s->hist = malloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof *s->hist);
    if (!s->work || !s->cand || !s->out_ids || !s->out_prob || !s->count || !s->stamp || !s->hist) {
        hone_sampler_free(s);
        return hone_err_set(err, HONE_ENOMEM, "sampler: out of memory for %u-token vocabulary",
                            n_vocab);
    }
    hone_rng_seed(&s->rng, p->seed);
    *out = s;
    return HONE_OK;
}

void hone_sampler_free(hone_sampler *s) {
    if (!s) return;
    free(s->work);
    free(s->cand);
    free(s->out_ids);
    free(s->out_prob);
    free(s->count);
    free(s->stamp);
    free(s->hist);
    free(s);
}

void hone_sampler_clear_history(hone_sampler *s) {
    for (uint32_t i = 0; i < s->hist_n; i++) s->count[s->hist[i]] = 0;
    s->hist_n = s->hist_head = 0;
}

void hone_sampler_reset(hone_sampler *s, uint64_t seed) {
    hone_sampler_clear_history(s);
    s->n_out = 0;
    hone_rng_seed(&s->rng, seed);
}

uint32_t hone_sampler_n_vocab(const hone_sampler *s) { return s->n_vocab; }

void hone_sampler_accept(hone_sampler *s, int32_t token) {
    uint32_t cap = (uint32_t)s->p.repeat_last_n;
    if (cap == 0 || token < 0 || (uint32_t)token >= s->n_vocab) return;
    if (s->hist_n == cap) { /* evict the oldest, which sits at head */
        s->count[s->hist[s->hist_head]]--;
        s->hist[s->hist_head] = token;
        s->hist_head = (s->hist_head + 1) % cap;
    } else {
        s->hist[(s->hist_head + s->hist_n) % cap] = token;
        s->hist_n++;
    }
    s->count[token]++;
}

/* ---- the chain ------------------------------------------------------------------------ */

/* a before b in the total order: larger logit first, then smaller id. */
static inline int cand_before(const cand *a, const cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static inline void cand_swap(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges c[0..n) so that its first k entries are the k first in the total order
 * (in any order). Deterministic quickselect (median-of-three pivot). */
static void cand_select(cand *c, uint32_t n, uint32_t k) {
    uint32_t lo = 0, hi = n; /* the k-th boundary lies in [lo, hi) */
    while (hi - lo > 1 && k > lo && k < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cand_before(&c[mid], &c[lo])) cand_swap(&c[mid], &c[lo]);
        if (cand_before(&c[hi - 1], &c[lo])) cand_swap(&c[hi - 1], &c[lo]);
        if (cand_before(&c[mid], &c[hi - 1])) cand_swap(&c[mid], &c[hi - 1]);
        cand pivot = c[hi - 1];
        uint32_t st = lo;
        for (uint32_t i = lo; i < hi - 1; i++)
            if (cand_before(&c[i], &pivot)) cand_swap(&c[i], &c[st++]);
        cand_swap(&c[st], &c[hi - 1]); /* pivot at st: st entries before it precede it */
        if (st == k || st + 1 == k) return;
        if (k < st) hi = st;
        else lo = st + 1;
    }
}

/* Sifts h[i] down a heap over h[0..k) whose root is the WORST entry. */
static void heap_sift(cand *h, uint32_t k, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && cand_before(&h[w], &h[l])) w = l; /* the worse one goes up */
        if (r < k && cand_before(&h[w], &h[r])) w = r;
        if (w == i) return;
        cand_swap(&h[i], &h[w]);
        i = w;
    }
}

/* Sorts c[0..n) best first without allocating (qsort may malloc): insertion sort for
 * short arrays, else heapsort over the worst-at-root heap. The order is total, so
 * the result is unique. */
static void cand_sort(cand *c, uint32_t n) {
    if (n < 32) {
        for (uint32_t i = 1; i < n; i++) {
            cand x = c[i];
            uint32_t j = i;
            for (; j > 0 && cand_before(&x, &c[j - 1]); j--) c[j] = c[j - 1];
            c[j] = x;
        }
        return;
    }
    for (int64_t i = (int64_t)n / 2 - 1; i >= 0; i--) heap_sift(c, n, (uint32_t)i);
    for (uint32_t end = n - 1; end > 0; end--) { /* the worst goes to the back */
        cand_swap(&c[0], &c[end]);
        heap_sift(c, end, 0);
    }
}

/* Keeps the k first live candidates, sorted. */
static void cand_top_sorted(hone_sampler *s, uint32_t k) {
    if (k < s->n_cand) cand_select(s->cand, s->n_cand, k);
    else k = s->n_cand;
    cand_sort(s->cand, k);
}

/* work[] = logits with the penalties applied (only the history's tokens change). */
static void apply_penalties(hone_sampler *s) {
    const hone_sampler_params *p = &s->p;
    if (s->hist_n == 0) return;
    if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f)
        return;
    if (++s->cur_stamp == 0) { /* wrapped: clear the stamps once every 2^32 calls */
        memset(s->stamp, 0, (size_t)s->n_vocab * sizeof *s->stamp);
        s->cur_stamp = 1;
    }
    uint32_t cap = (uint32_t)p->repeat_last_n;
    for (uint32_t i = 0; i < s->hist_n; i++) {
        int32_t t = s->hist[(s->hist_head + i) % cap];
        if (s->stamp[t] == s->cur_stamp) continue;
        s->stamp[t] = s->cur_stamp;
        float l = s->work[t];
        l = l > 0.0f ? l / p->repeat_penalty : l * p->repeat_penalty;
        l -= (float)s->count[t] * p->frequency_penalty + p->presence_penalty;
        s->work[t] = l;
    }
}

/* Largest value of w[0..n) (NaN ignored unless all are NaN); 8 independent lanes so
 * the loop is not one long dependency chain. */
static float max_of(const float *w, uint32_t n) {
    float m[8];
    uint32_t i = 0;
    for (int j = 0; j < 8; j++) m[j] = -INFINITY;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = w[i + j] > m[j] ? w[i + j] : m[j];
    for (; i < n; i++) m[0] = w[i] > m[0] ? w[i] : m[0];
    float r = m[0];
    for (int j = 1; j < 8; j++) r = m[j] > r ? m[j] : r;
    return r;
}

/* The k first of work[] in the total order, sorted, into cand[0..k): a min-heap of
 * the k best so far whose root is the worst of them; most entries fail the single
 * float comparison against the root. */
static void top_k_from_work(hone_sampler *s, uint32_t k) {
    cand *h = s->cand;
    const float *w = s->work;
    for (uint32_t i = 0; i < k; i++) h[i] = (cand){w[i], (int32_t)i};
    for (int64_t i = (int64_t)k / 2 - 1; i >= 0; i--) heap_sift(h, k, (uint32_t)i);
    for (uint32_t i = k; i < s->n_vocab; i++) {
        /* ids ascend, so an equal logit comes after the root: only > enters */
        if (!(w[i] > h[0].logit)) continue;
        h[0] = (cand){w[i], (int32_t)i};
        heap_sift(h, k, 0);
    }
    cand_sort(h, k);
    s->n_cand = k;
    s->sorted = 1;
}

enum { N_BUCKET = 128 }; /* top-p buckets of 0.25 nats below the maximum */

static void apply_top_p(hone_sampler *s) {
    double pp = s->p.top_p;
    uint32_t n = s->n_cand;
    cand *c = s->cand;
    /* normaliser over all live candidates in array order (a deterministic function of
     * the input), and the mass per bucket of distance below the maximum */
    float mx = c[0].logit;
    for (uint32_t i = 1; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    double total = 0.0, mass[N_BUCKET] = {0};
    for (uint32_t i = 0; i < n; i++) {
        double d = (double)mx - c[i].logit, e = exp(-d);
        total += e;
        int b = d < N_BUCKET / 4.0 ? (int)(d * 4.0) : N_BUCKET - 1;
        mass[b] += e;
    }
    uint32_t m = n;
    if (!s->sorted && n > 256) {
        /* the buckets up to where the cumulative mass crosses p, plus one for rounding:
         * a prefix of the sorted order (equal logits share a bucket) */
        double cum = 0.0;
        int last = N_BUCKET - 1;
        for (int b = 0; b < N_BUCKET; b++)
            if ((cum += mass[b]) >= pp * total) {
                last = b + 1 < N_BUCKET ? b + 1 : b;
                break;
            }
        double dmax = (last + 1) / 4.0;
        m = 0;
        for (uint32_t i = 0; i < n; i++) {
            double d = (double)mx - c[i].logit;
            if (last == N_BUCKET - 1 || d < dmax) cand_swap(&c[i], &c[m++]);
        }
        cand_sort(c, m);
        if (m == n) s->sorted = 1;
    } else if (!s->sorted) {
        cand_sort(c, n);
        s->sorted = 1;
    }
    for (;;) {
        double cum = 0.0;
        for (uint32_t i = 0; i < m; i++) {
            cum += exp((double)c[i].logit - mx) / total;
            if (cum >= pp) {
                s->n_cand = i + 1;
                s->sorted = 1;
                return;
            }
        }
        if (m == n) return; /* rounding kept the sum below p: keep everything */
        /* the collected prefix fell short by rounding: sort everything (rare) */
        cand_top_sorted(s, n);
        s->sorted = 1;
        m = n;
    }
}

static void apply_min_p(hone_sampler *s) {
    uint32_t n = s->n_cand;
    float mx = s->cand[0].logit;
    if (!s->sorted)
        for (uint32_t i = 1; i < n; i++)
            if (s->cand[i].logit > mx) mx = s->cand[i].logit;
    double thr = log((double)s->p.min_p); /* keep l - max >= log(min_p) */
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if ((double)s->cand[i].logit - mx >= thr) s->cand[k++] = s->cand[i];
    s->n_cand = k ? k : 1; /* the maximum always passes; guard against NaN anyway */
}

int32_t hone_sampler_sample(hone_sampler *s, const float *logits) {
    const hone_sampler_params *p = &s->p;
    uint32_t n = s->n_vocab;
    memcpy(s->work, logits, (size_t)n * sizeof *s->work);
    apply_penalties(s);
    s->sorted = 0;

    if (p->temperature <= 0.0f) { /* greedy: the first index holding the maximum */
        float mx = max_of(s->work, n);
        uint32_t best = 0;
        while (best + 1 < n && !(s->work[best] == mx)) best++;
        s->out_ids[0] = (int32_t)best;
        s->out_prob[0] = 1.0;
        s->n_out = 1;
        return (int32_t)best;
    }
    if (p->top_k > 0 && (uint32_t)p->top_k < n) {
        top_k_from_work(s, (uint32_t)p->top_k);
    } else if (p->top_p >= 1.0f && p->min_p > 0.0f) {
        /* min-p straight from work: only the survivors become candidates */
        float mx = max_of(s->work, n);
        double thr = log((double)p->min_p);
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; i++)
            if ((double)s->work[i] - mx >= thr) s->cand[k++] = (cand){s->work[i], (int32_t)i};
        if (k == 0) s->cand[k++] = (cand){s->work[0], 0}; /* all NaN */
        s->n_cand = k;
    } else {
        for (uint32_t i = 0; i < n; i++) s->cand[i] = (cand){s->work[i], (int32_t)i};
        s->n_cand = n;
    }
    if (p->top_p < 1.0f) apply_top_p(s);
    if (p->min_p > 0.0f) apply_min_p(s);

    /* temperature, softmax in double in the candidates' order, one draw */
    double inv_t = 1.0 / (double)p->temperature;
    uint32_t nc = s->n_cand;
    double mx = s->cand[0].logit;
    for (uint32_t i = 1; i < nc; i++)
        if (s->cand[i].logit > mx) mx = s->cand[i].logit;
    double total = 0.0;
    for (uint32_t i = 0; i < nc; i++) {
        double e = exp(((double)s->cand[i].logit - mx) * inv_t);
        s->out_prob[i] = e;
        s->out_ids[i] = s->cand[i].id;
        total += e;
    }
    s->n_out = nc;
    double target = hone_rng_uniform(&s->rng) * total;
    double cum = 0.0;
    uint32_t pick = nc - 1;
    for (uint32_t i = 0; i < nc; i++) {
        cum += s->out_prob[i];
        if (cum > target) {
            pick = i;
            break;
        }
    }
    for (uint32_t i = 0; i < nc; i++) s->out_prob[i] /= total;
    return s->out_ids[pick];
}

uint32_t hone_sampler_candidates(const hone_sampler *s, const int32_t **ids, const double **probs) {
    if (ids) *ids = s->out_ids;
    if (probs) *probs = s->out_prob;
    return s->n_out;
}
