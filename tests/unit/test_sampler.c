/* test_sampler.c: the sampling chain and stop strings (hone/sampler.h).
 *
 * References: hand-computed expectations on vocabularies of 2-5 tokens (each written
 * next to its assertion), a brute-force full sort for the selection paths on a
 * 5000-token vocabulary, the PRNG against tests/ref/xoshiro_ref.py (an independent
 * Python twin of xoshiro256** + splitmix64), and sampling frequencies against the
 * softmax probabilities with a chi-square bound.
 * Tolerances: where the expectation starts from the same float logits, probabilities
 * are compared at 1e-9..1e-12 (only the summation order differs); after penalties at
 * 1e-6, because the sampler stores penalised logits as float (2/1.5 rounds by ~6e-8
 * relative, which moves a probability by < 1e-6) while the hand value is in double.
 */
#include <math.h>

#include "testutil.h"

static hone_sampler_params plain(void) {
    hone_sampler_params p;
    hone_sampler_params_default(&p);
    p.temperature = 1.0f; /* everything else off */
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1;
    return p;
}

static hone_sampler *mk(const hone_sampler_params *p, uint32_t n) {
    hone_err err = {0};
    hone_sampler *s;
    ASSERT_OK(hone_sampler_init(&s, p, n, &err), &err);
    return s;
}

/* The surviving candidates' probability for id (0 if it did not survive). */
static double prob_of(const hone_sampler *s, int32_t id) {
    const int32_t *ids;
    const double *pr;
    uint32_t n = hone_sampler_candidates(s, &ids, &pr);
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return pr[i];
    return 0.0;
}

static void softmax_ref(const double *l, int n, double *p) {
    double mx = l[0], sum = 0;
    for (int i = 1; i < n; i++) mx = l[i] > mx ? l[i] : mx;
    for (int i = 0; i < n; i++) sum += (p[i] = exp(l[i] - mx));
    for (int i = 0; i < n; i++) p[i] /= sum;
}

static void test_rng_sequence(void **state) {
    /* from tests/ref/xoshiro_ref.py */
    static const uint64_t seed0[5] = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull,
                                      0x1a5f849d4933e6e0ull, 0x6aa594f1262d2d2cull,
                                      0xbba5ad4a1f842e59ull};
    static const uint64_t seed42[5] = {0x15780b2e0c2ec716ull, 0x6104d9866d113a7eull,
                                       0xae17533239e499a1ull, 0xecb8ad4703b360a1ull,
                                       0xfde6dc7fe2ec5e64ull};
    static const uint64_t seedmax[5] = {0x8f5520d52a7ead08ull, 0xc476a018caa1802dull,
                                        0x81de31c0d260469eull, 0xbf658d7e065f3c2full,
                                        0x913593fda1bca32aull};
    hone_rng r;
    hone_rng_seed(&r, 0);
    for (int i = 0; i < 5; i++) assert_true(hone_rng_next(&r) == seed0[i]);
    hone_rng_seed(&r, 42);
    for (int i = 0; i < 5; i++) assert_true(hone_rng_next(&r) == seed42[i]);
    hone_rng_seed(&r, UINT64_MAX);
    for (int i = 0; i < 5; i++) assert_true(hone_rng_next(&r) == seedmax[i]);
    hone_rng_seed(&r, 42);
    assert_true(hone_rng_uniform(&r) == 0.08386297105988216);
    assert_true(hone_rng_uniform(&r) == 0.3789802506626686);
}

static void test_greedy_and_ties(void **state) {
    hone_sampler_params p = plain();
    p.temperature = 0.0f;
    hone_sampler *s = mk(&p, 4);
    const float l[4] = {1, 3, 2, 3};
    assert_int_equal(hone_sampler_sample(s, l), 1); /* tie 1 vs 3: lowest id */
    const float l2[4] = {-5, -1, -2, -3};
    assert_int_equal(hone_sampler_sample(s, l2), 1);
    hone_sampler_free(s);

    /* greedy sees the penalties: token 1's 3 becomes 3/2 = 1.5 < 2 */
    p.repeat_penalty = 2.0f;
    s = mk(&p, 4);
    hone_sampler_accept(s, 1);
    hone_sampler_accept(s, 3);
    assert_int_equal(hone_sampler_sample(s, l), 2);
    hone_sampler_free(s);
}

static void test_penalties(void **state) {
    hone_sampler_params p = plain();
    p.repeat_penalty = 1.5f;
    p.frequency_penalty = 0.25f;
    p.presence_penalty = 0.5f;
    hone_sampler *s = mk(&p, 4);
    const float l[4] = {2.0f, -1.0f, 0.5f, 3.0f};
    hone_sampler_accept(s, 0);
    hone_sampler_accept(s, 1);
    hone_sampler_accept(s, 1);
    hone_sampler_accept(s, 99); /* out of range: ignored */
    hone_sampler_sample(s, l);
    /* token 0 (count 1, positive): 2/1.5 - (1*0.25 + 0.5); token 1 (count 2, negative):
     * -1*1.5 - (2*0.25 + 0.5); tokens 2, 3 untouched */
    double pen[4] = {2.0 / 1.5 - 0.75, -1.5 - 1.0, 0.5, 3.0}, ref[4];
    softmax_ref(pen, 4, ref);
    for (int i = 0; i < 4; i++) assert_float_equal(prob_of(s, i), ref[i], 1e-6);
    hone_sampler_free(s);

    /* the window: the last 2 tokens only, so after 0,1,1 token 0 is not penalised */
    p.repeat_last_n = 2;
    p.frequency_penalty = p.presence_penalty = 0.0f;
    s = mk(&p, 4);
    hone_sampler_accept(s, 0);
    hone_sampler_accept(s, 1);
    hone_sampler_accept(s, 1);
    hone_sampler_sample(s, l);
    double pen2[4] = {2.0, -1.5, 0.5, 3.0};
    softmax_ref(pen2, 4, ref);
    for (int i = 0; i < 4; i++) assert_float_equal(prob_of(s, i), ref[i], 1e-6);
    /* one more token slides 1 out once: window {1, 2} */
    hone_sampler_accept(s, 2);
    hone_sampler_sample(s, l);
    double pen3[4] = {2.0, -1.5, 0.5 / 1.5, 3.0};
    softmax_ref(pen3, 4, ref);
    for (int i = 0; i < 4; i++) assert_float_equal(prob_of(s, i), ref[i], 1e-6);
    /* reset forgets the history */
    hone_sampler_reset(s, 1);
    hone_sampler_sample(s, l);
    double raw[4] = {2.0, -1.0, 0.5, 3.0};
    softmax_ref(raw, 4, ref);
    for (int i = 0; i < 4; i++) assert_float_equal(prob_of(s, i), ref[i], 1e-6);
    hone_sampler_free(s);
}

static void test_top_k(void **state) {
    hone_sampler_params p = plain();
    p.top_k = 2;
    hone_sampler *s = mk(&p, 5);
    const float l[5] = {1, 5, 3, 5, 2};
    for (int r = 0; r < 20; r++) {
        int32_t t = hone_sampler_sample(s, l);
        assert_true(t == 1 || t == 3);
    }
    const int32_t *ids;
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 3);
    assert_float_equal(prob_of(s, 1), 0.5, 1e-12);
    hone_sampler_free(s);
    /* a tie at the k-th place is broken by id: {5, 5, 5} with k 2 keeps ids 0, 1 */
    const float l2[5] = {5, 5, 5, 1, 0};
    s = mk(&p, 5);
    hone_sampler_sample(s, l2);
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    hone_sampler_free(s);
}

static void test_top_p_boundary(void **state) {
    /* four equal logits: each probability is exactly 0.25 (exp(0) / 4) */
    const float l[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    hone_sampler_params p = plain();
    p.top_p = 0.5f; /* cumulative 0.5 reached at the 2nd token: >= p keeps exactly 2 */
    hone_sampler *s = mk(&p, 4);
    hone_sampler_sample(s, l);
    const int32_t *ids;
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    hone_sampler_free(s);
    p.top_p = 0.5001f; /* just above: the 3rd token is needed */
    s = mk(&p, 4);
    hone_sampler_sample(s, l);
    assert_int_equal(hone_sampler_candidates(s, NULL, NULL), 3);
    hone_sampler_free(s);
    p.top_p = 0.01f; /* below the top token's mass: at least one is kept */
    s = mk(&p, 4);
    hone_sampler_sample(s, l);
    assert_int_equal(hone_sampler_candidates(s, NULL, NULL), 1);
    hone_sampler_free(s);
    /* unequal: probs softmax(2,1,0,-1) = .6439 .2369 .0871 .0321; p = 0.85 needs 2 (.8808) */
    const float l2[4] = {1, 2, -1, 0};
    p.top_p = 0.85f;
    s = mk(&p, 4);
    hone_sampler_sample(s, l2);
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 0);
    /* renormalised over the two: e^2/(e^2+e) */
    assert_float_equal(prob_of(s, 1), exp(2.0) / (exp(2.0) + exp(1.0)), 1e-9);
    hone_sampler_free(s);
    p.top_p = 0.89f; /* .8808 < .89 <= .9679: 3 */
    s = mk(&p, 4);
    hone_sampler_sample(s, l2);
    assert_int_equal(hone_sampler_candidates(s, NULL, NULL), 3);
    hone_sampler_free(s);
}

static void test_min_p_boundary(void **state) {
    hone_sampler_params p = plain();
    p.min_p = 1.0f; /* only tokens tied with the maximum: l - max >= log(1) = 0, inclusive */
    hone_sampler *s = mk(&p, 3);
    const float l[3] = {0, 0, -1e-6f};
    hone_sampler_sample(s, l);
    const int32_t *ids;
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    hone_sampler_free(s);
    /* ratios 0.5001 and 0.4999 to the top token: the first passes min-p 0.5, the second not */
    p.min_p = 0.5f;
    s = mk(&p, 3);
    const float l2[3] = {0, logf(0.5001f), logf(0.4999f)};
    hone_sampler_sample(s, l2);
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 2);
    assert_true(prob_of(s, 1) > 0 && prob_of(s, 2) == 0);
    hone_sampler_free(s);
    /* min-p sees untempered probabilities (llama.cpp order): ratio e^-1 = .37 < .5 is
     * dropped even though temperature 100 would make it ~.99 */
    p.temperature = 100.0f;
    s = mk(&p, 2);
    const float l3[2] = {0, -1};
    hone_sampler_sample(s, l3);
    assert_int_equal(hone_sampler_candidates(s, NULL, NULL), 1);
    hone_sampler_free(s);
}

static void test_temperature(void **state) {
    hone_sampler_params p = plain();
    p.temperature = 2.0f;
    hone_sampler *s = mk(&p, 2);
    const float l[2] = {0, 1};
    hone_sampler_sample(s, l);
    /* softmax(0/2, 1/2) */
    assert_float_equal(prob_of(s, 1), 1.0 / (1.0 + exp(-0.5)), 1e-12);
    hone_sampler_free(s);
}

/* Brute force: the ids the chain keeps, by sorting everything. */
static int cmp_desc(const void *a, const void *b, const float *l) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (l[x] != l[y]) return l[x] > l[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}
static const float *g_l;
static int cmp_g(const void *a, const void *b) { return cmp_desc(a, b, g_l); }

static void test_large_vocab_vs_full_sort(void **state) {
    enum { N = 5000 };
    static float l[N];
    static int32_t order[N];
    hone_rng r;
    hone_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) l[i] = (float)(hone_rng_uniform(&r) * 12.0 - 6.0);
    l[17] = l[4000]; /* a tie */
    for (int i = 0; i < N; i++) order[i] = i;
    g_l = l;
    qsort(order, N, sizeof *order, cmp_g);
    double mx = l[order[0]], tot = 0, prob[N];
    for (int i = 0; i < N; i++) tot += exp(l[i] - mx);
    for (int i = 0; i < N; i++) prob[i] = exp(l[i] - mx) / tot;

    const float ps[3] = {0.3f, 0.9f, 0.999f};
    for (int k = 0; k < 3; k++) {
        hone_sampler_params p = plain();
        p.top_p = ps[k];
        hone_sampler *s = mk(&p, N);
        hone_sampler_sample(s, l);
        double cum = 0;
        int want = N;
        for (int i = 0; i < N; i++)
            if ((cum += prob[order[i]]) >= ps[k]) {
                want = i + 1;
                break;
            }
        const int32_t *ids;
        uint32_t n = hone_sampler_candidates(s, &ids, NULL);
        print_message("top-p %.3f keeps %u of %d (brute force %d)\n", ps[k], n, N, want);
        assert_int_equal(n, want);
        for (int i = 0; i < want; i++) assert_int_equal(ids[i], order[i]);
        hone_sampler_free(s);
    }
    hone_sampler_params p = plain();
    p.top_k = 300;
    hone_sampler *s = mk(&p, N);
    hone_sampler_sample(s, l);
    const int32_t *ids;
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), 300);
    for (int i = 0; i < 300; i++) assert_int_equal(ids[i], order[i]);
    hone_sampler_free(s);

    /* top-k 300 then top-p 0.5: top-p normalises over the 300 survivors */
    p.top_p = 0.5f;
    s = mk(&p, N);
    hone_sampler_sample(s, l);
    double t300 = 0, cum = 0;
    for (int i = 0; i < 300; i++) t300 += prob[order[i]];
    int want = 300;
    for (int i = 0; i < 300; i++)
        if ((cum += prob[order[i]] / t300) >= 0.5) {
            want = i + 1;
            break;
        }
    assert_int_equal(hone_sampler_candidates(s, &ids, NULL), want);
    hone_sampler_free(s);

    /* min-p alone (the survivors are taken straight from the row) */
    p = plain();
    p.min_p = 0.05f;
    s = mk(&p, N);
    hone_sampler_sample(s, l);
    int nmin = 0;
    for (int i = 0; i < N; i++) nmin += (double)l[i] - mx >= log(0.05);
    uint32_t got = hone_sampler_candidates(s, &ids, NULL);
    print_message("min-p 0.05 keeps %u of %d (brute force %d)\n", got, N, nmin);
    assert_int_equal(got, nmin);
    for (uint32_t i = 0; i < got; i++) assert_true((double)l[ids[i]] - mx >= log(0.05));
    hone_sampler_free(s);

    /* greedy */
    p = plain();
    p.temperature = 0.0f;
    s = mk(&p, N);
    assert_int_equal(hone_sampler_sample(s, l), order[0]);
    hone_sampler_free(s);
}

/* Chi-square of n draws against the expected probabilities. */
static double chi_square(hone_sampler *s, const float *l, const double *expect, int nv, int n) {
    int cnt[8] = {0};
    for (int i = 0; i < n; i++) {
        int32_t t = hone_sampler_sample(s, l);
        assert_true(t >= 0 && t < nv);
        cnt[t]++;
    }
    double x2 = 0;
    for (int i = 0; i < nv; i++) {
        if (expect[i] == 0) {
            assert_int_equal(cnt[i], 0);
            continue;
        }
        double e = expect[i] * n;
        x2 += (cnt[i] - e) * (cnt[i] - e) / e;
    }
    return x2;
}

static void test_frequencies(void **state) {
    /* 200,000 draws over 5 tokens (df 4). The bound 33.38 is the chi-square(4) quantile at
     * p = 1e-6, from its closed form sf(x) = e^(-x/2) (1 + x/2): a correct sampler exceeds it
     * with probability 1e-6 per seed (the seed is fixed, so the test is deterministic), while
     * a sampler off by one token or ignoring the temperature gives values in the thousands. */
    const float l[5] = {1.0f, 0.0f, 2.0f, -1.0f, 0.5f};
    hone_sampler_params p = plain();
    p.seed = 12345;
    hone_sampler *s = mk(&p, 5);
    double lg[5], ref[5];
    for (int i = 0; i < 5; i++) lg[i] = l[i];
    softmax_ref(lg, 5, ref);
    double x2 = chi_square(s, l, ref, 5, 200000);
    print_message("chi-square T=1: %.2f (df 4, bound 33.38)\n", x2);
    assert_true(x2 < 33.38);
    hone_sampler_free(s);

    /* T = 0.7 with top-k 3: the 3 largest, renormalised, logits / 0.7; df 2: bound
     * e^(-x/2) = 1e-6 -> x = 27.63 */
    p.temperature = 0.7f;
    p.top_k = 3;
    s = mk(&p, 5);
    double lt[5], rt[5] = {0};
    int keep[3] = {2, 0, 4};
    for (int i = 0; i < 3; i++) lt[i] = l[keep[i]] / (double)0.7f;
    double r3[3];
    softmax_ref(lt, 3, r3);
    for (int i = 0; i < 3; i++) rt[keep[i]] = r3[i];
    x2 = chi_square(s, l, rt, 5, 200000);
    print_message("chi-square T=0.7 top-k 3: %.2f (df 2, bound 27.63)\n", x2);
    assert_true(x2 < 27.63);
    hone_sampler_free(s);
}

static void test_seed_reproducible(void **state) {
    hone_sampler_params p = plain();
    p.seed = 99;
    const float l[5] = {0.3f, 0.1f, 0.2f, 0.0f, 0.25f};
    hone_sampler *a = mk(&p, 5), *b = mk(&p, 5);
    p.seed = 100;
    hone_sampler *c = mk(&p, 5);
    int32_t sa[64], sb[64], sc[64];
    for (int i = 0; i < 64; i++) {
        sa[i] = hone_sampler_sample(a, l);
        sb[i] = hone_sampler_sample(b, l);
        sc[i] = hone_sampler_sample(c, l);
    }
    assert_memory_equal(sa, sb, sizeof sa);
    assert_true(memcmp(sa, sc, sizeof sa) != 0);
    hone_sampler_reset(a, 99); /* reset re-seeds: the same sequence again */
    for (int i = 0; i < 64; i++) assert_int_equal(hone_sampler_sample(a, l), sa[i]);
    hone_sampler_free(a);
    hone_sampler_free(b);
    hone_sampler_free(c);
}

static void test_bad_params(void **state) {
    hone_err err = {0};
    hone_sampler *s;
    hone_sampler_params p = plain();
    p.top_p = 0.0f;
    assert_int_equal(hone_sampler_init(&s, &p, 10, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "top-p"));
    p = plain();
    p.min_p = 1.5f;
    assert_int_equal(hone_sampler_init(&s, &p, 10, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "min-p"));
    p = plain();
    p.repeat_penalty = 0.0f;
    assert_int_equal(hone_sampler_init(&s, &p, 10, &err), HONE_EARG);
    p = plain();
    assert_int_equal(hone_sampler_init(&s, &p, 0, &err), HONE_EARG);
}

/* ---- stop strings ----------------------------------------------------------------- */

typedef struct sink {
    char buf[512];
    size_t n;
    int abort_at; /* abort when the sink holds at least this many bytes (0 = never) */
} sink;

static int sink_fn(void *u, const char *t, size_t n) {
    sink *k = u;
    assert_true(k->n + n < sizeof k->buf);
    memcpy(k->buf + k->n, t, n);
    k->n += n;
    k->buf[k->n] = 0;
    return k->abort_at && (int)k->n >= k->abort_at;
}

static hone_stopper *mk_stop(const char *const *stops, size_t n) {
    hone_err err = {0};
    hone_stopper *s;
    ASSERT_OK(hone_stopper_init(&s, stops, n, &err), &err);
    return s;
}

static void test_stop_across_tokens(void **state) {
    const char *stops[] = {"</s>", "\n\nUser:", ""};
    hone_stopper *s = mk_stop(stops, 3);
    sink k = {0};
    assert_int_equal(hone_stopper_push(s, "Hello <", 7, sink_fn, &k), 0);
    assert_string_equal(k.buf, "Hello "); /* "<" may start "</s>": held */
    assert_int_equal(hone_stopper_held(s), 1);
    assert_int_equal(hone_stopper_push(s, "/", 1, sink_fn, &k), 0);
    assert_int_equal(hone_stopper_held(s), 2);
    assert_string_equal(k.buf, "Hello ");
    assert_int_equal(hone_stopper_push(s, "s> world", 8, sink_fn, &k), 1);
    assert_string_equal(k.buf, "Hello "); /* the stop string and after: dropped */
    hone_stopper_free(s);

    /* a partial match that fails is released in full */
    s = mk_stop(stops, 2);
    memset(&k, 0, sizeof k);
    assert_int_equal(hone_stopper_push(s, "ab\n", 3, sink_fn, &k), 0);
    assert_string_equal(k.buf, "ab");
    assert_int_equal(hone_stopper_push(s, "\nUs", 3, sink_fn, &k), 0);
    assert_string_equal(k.buf, "ab");
    assert_int_equal(hone_stopper_held(s), 4);
    assert_int_equal(hone_stopper_push(s, "x", 1, sink_fn, &k), 0);
    assert_string_equal(k.buf, "ab\n\nUsx");
    assert_int_equal(hone_stopper_push(s, "<", 1, sink_fn, &k), 0);
    assert_int_equal(hone_stopper_flush(s, sink_fn, &k), 0); /* end: the held "<" comes out */
    assert_string_equal(k.buf, "ab\n\nUsx<");
    assert_int_equal(hone_stopper_held(s), 0);
    hone_stopper_free(s);
}

static void test_stop_overlaps(void **state) {
    /* "aab" in "aaab": hold "aa" after "aa", then the match starts at 1 */
    const char *s1[] = {"aab"};
    hone_stopper *s = mk_stop(s1, 1);
    sink k = {0};
    assert_int_equal(hone_stopper_push(s, "aa", 2, sink_fn, &k), 0);
    assert_int_equal(hone_stopper_held(s), 2);
    assert_int_equal(hone_stopper_push(s, "ab", 2, sink_fn, &k), 1);
    assert_string_equal(k.buf, "a");
    hone_stopper_free(s);
    /* earliest start wins: "abcd" at 0 before "bc" at 1 */
    const char *s2[] = {"bc", "abcd"};
    s = mk_stop(s2, 2);
    memset(&k, 0, sizeof k);
    assert_int_equal(hone_stopper_push(s, "xabcd", 5, sink_fn, &k), 1);
    assert_string_equal(k.buf, "x");
    hone_stopper_free(s);
    /* a stop string inside one piece; the text before it in the same piece comes out */
    s = mk_stop(s2, 2);
    memset(&k, 0, sizeof k);
    assert_int_equal(hone_stopper_push(s, "12bc34", 6, sink_fn, &k), 1);
    assert_string_equal(k.buf, "12");
    hone_stopper_free(s);
    /* no stop strings: everything passes at once */
    s = mk_stop(NULL, 0);
    memset(&k, 0, sizeof k);
    assert_int_equal(hone_stopper_push(s, "abc", 3, sink_fn, &k), 0);
    assert_int_equal(hone_stopper_held(s), 0);
    assert_string_equal(k.buf, "abc");
    hone_stopper_free(s);
}

static void test_stop_long_piece_and_abort(void **state) {
    const char *st[] = {"STOP"};
    hone_stopper *s = mk_stop(st, 1);
    sink k = {0};
    char big[400];
    memset(big, 'x', sizeof big); /* longer than the initial buffer: it grows */
    assert_int_equal(hone_stopper_push(s, big, sizeof big, sink_fn, &k), 0);
    assert_int_equal(k.n, sizeof big);
    k.n = 0;
    k.abort_at = 3;
    assert_int_equal(hone_stopper_push(s, "abcST", 5, sink_fn, &k), 2); /* callback abort */
    hone_stopper_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_sequence),
        cmocka_unit_test(test_greedy_and_ties),
        cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p_boundary),
        cmocka_unit_test(test_min_p_boundary),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_large_vocab_vs_full_sort),
        cmocka_unit_test(test_frequencies),
        cmocka_unit_test(test_seed_reproducible),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_stop_across_tokens),
        cmocka_unit_test(test_stop_overlaps),
        cmocka_unit_test(test_stop_long_piece_and_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
