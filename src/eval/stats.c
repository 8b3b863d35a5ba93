/* stats.c: the A/B harness's statistics.
 *
 * Bootstrap CI of a mean (percentile method, xoshiro256** seeded through splitmix64, numpy's
 * linear-interpolation quantile); the Wilcoxon signed-rank test with scipy.stats.wilcoxon's
 * defaults (zero_method 'wilcox': zero differences dropped; no continuity correction;
 * method 'auto': exact null distribution for n <= 50 without ties or zeros, all 2^n sign
 * flips for n <= 13 with ties or zeros, else the normal approximation with scipy's tie
 * correction); matched-pairs rank-biserial correlation; Holm's step-down adjustment;
 * Krippendorff's alpha with the interval metric; the order-flip rate of pairwise judgements.
 * Checked against scipy / statsmodels / krippendorff in tests/unit/test_stats.c with the
 * fixture tests/fixtures/stats.json (written by tests/ref/make_stats_fixture.py).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* ---- PRNG ---------------------------------------------------------------------------- */

typedef struct rng { uint64_t s[4]; } rng;

static uint64_t splitmix64_next(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_next(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r) { /* xoshiro256** */
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}

/* Uniform in [0, n), unbiased (Lemire's multiply with rejection). */
static uint64_t rng_below(rng *r, uint64_t n) {
    unsigned __int128 m = (unsigned __int128)rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (unsigned __int128)rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default ('linear'): h = (n-1) q, a[floor h] + frac * (a[floor h + 1] - ...). */
static double quantile_sorted(const double *a, size_t n, double q) {
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return a[n - 1];
    double f = h - (double)i;
    return a[i] + f * (a[i + 1] - a[i]);
}

int hone_stats_bootstrap_mean(const double *x, size_t n, size_t B, double level, uint64_t seed,
                              hone_stats_ci *out, hone_err *err) {
    out->mean = out->lo = out->hi = NAN;
    if (!(level > 0 && level < 1)) return hone_err_set(err, HONE_EARG, "bootstrap: level %g is not in (0, 1)", level);
    if (n == 0) return HONE_OK;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return hone_err_set(err, HONE_EARG, "bootstrap: x[%zu] is not finite", i);
        sum += x[i];
    }
    out->mean = sum / (double)n;
    if (n == 1) {
        out->lo = out->hi = out->mean;
        return HONE_OK;
    }
    if (B == 0) B = 10000;
    double *means = malloc(B * sizeof *means);
    if (!means) return hone_err_set(err, HONE_ENOMEM, "bootstrap: out of memory (B = %zu)", B);
    rng r;
    rng_seed(&r, seed);
    for (size_t b = 0; b < B; b++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += x[rng_below(&r, n)];
        means[b] = s / (double)n;
    }
    qsort(means, B, sizeof *means, cmp_double);
    out->lo = quantile_sorted(means, B, (1 - level) / 2);
    out->hi = quantile_sorted(means, B, (1 + level) / 2);
    free(means);
    return HONE_OK;
}

/* ---- Wilcoxon signed-rank -------------------------------------------------------------- */

typedef struct ranked {
    double a; /* |d| */
    int pos;  /* d > 0 */
} ranked;

static int cmp_ranked(const void *x, const void *y) {
    double a = ((const ranked *)x)->a, b = ((const ranked *)y)->a;
    return (a > b) - (a < b);
}

/* Sorts the nonzero |d| and gives average ranks (doubled, so they are integers) in r2;
 * returns the tie correction sum(t^3 - t) and whether any tie exists. */
static double rank_nonzero(ranked *v, size_t k, double *r2, int *has_ties) {
    qsort(v, k, sizeof *v, cmp_ranked);
    double tie = 0;
    *has_ties = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j + 1 < k && v[j + 1].a == v[i].a) j++;
        double t = (double)(j - i + 1);
        for (size_t m = i; m <= j; m++) r2[m] = (double)(i + 1 + j + 1); /* 2 * average rank */
        if (t > 1) {
            *has_ties = 1;
            tie += t * t * t - t;
        }
        i = j + 1;
    }
    return tie;
}

int hone_stats_wilcoxon_test(const double *d, size_t n, hone_stats_wilcoxon *out, hone_err *err) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->z = out->p = out->statistic = NAN;
    out->method = "normal";
    if (n == 0) return HONE_OK;
    ranked *v = malloc(n * sizeof *v);
    double *r2 = malloc(n * sizeof *r2);
    if (!v || !r2) {
        free(v); free(r2);
        return hone_err_set(err, HONE_ENOMEM, "wilcoxon: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(d[i])) {
            free(v); free(r2);
            return hone_err_set(err, HONE_EARG, "wilcoxon: d[%zu] is not finite", i);
        }
        if (d[i] != 0) v[k++] = (ranked){fabs(d[i]), d[i] > 0};
    }
    size_t n_zero = n - k;
    out->n_nonzero = k;
    int has_ties = 0;
    double tie = rank_nonzero(v, k, r2, &has_ties);
    double rp2 = 0, rm2 = 0; /* doubled rank sums: exact integers */
    for (size_t i = 0; i < k; i++) *(v[i].pos ? &rp2 : &rm2) += r2[i];
    out->r_plus = rp2 / 2;
    out->r_minus = rm2 / 2;
    out->statistic = fmin(out->r_plus, out->r_minus);

    if (n <= 50 && !has_ties && n_zero == 0) {
        /* Exact: count[s] = number of subsets of {1..n} with rank sum s. Counts stay below
         * 2^50 < 2^53, exact in a double. */
        size_t smax = n * (n + 1) / 2;
        double *cnt = calloc(smax + 1, sizeof *cnt);
        if (!cnt) { free(v); free(r2); return hone_err_set(err, HONE_ENOMEM, "wilcoxon: out of memory"); }
        cnt[0] = 1;
        for (size_t j = 1; j <= n; j++)
            for (size_t s = j * (j + 1) / 2; s >= j; s--) cnt[s] += cnt[s - j];
        size_t t = (size_t)out->r_plus; /* integral: no ties */
        double le = 0, ge = 0;
        for (size_t s = 0; s <= smax; s++) {
            if (s <= t) le += cnt[s];
            if (s >= t) ge += cnt[s];
        }
        double total = ldexp(1.0, (int)n);
        double p = 2 * fmin(le, ge) / total;
        out->p = p > 1 ? 1 : p;
        out->method = "exact";
        free(cnt);
    } else if (n <= 13) {
        /* scipy's permutation test: every sign assignment of the n differences (zeros keep
         * contributing nothing), R+ recomputed; p = 2 min(P(R+ <= obs), P(R+ >= obs)). */
        double le = 0, ge = 0;
        for (uint32_t mask = 0; mask < (1u << k); mask++) {
            double s = 0;
            for (size_t i = 0; i < k; i++)
                if (mask >> i & 1) s += r2[i];
            le += s <= rp2;
            ge += s >= rp2;
        }
        double p = 2 * fmin(le, ge) / ldexp(1.0, (int)k);
        out->p = p > 1 ? 1 : p;
        out->method = "permutation";
    } else if (k > 0) {
        double kn = (double)k;
        double mn = kn * (kn + 1) * 0.25;
        double se = sqrt((kn * (kn + 1) * (2 * kn + 1) - tie / 2) / 24);
        out->z = (out->r_plus - mn) / se;
        out->p = erfc(fabs(out->z) / sqrt(2.0)); /* 2 * (1 - Phi(|z|)) */
        if (out->p > 1) out->p = 1;
        out->method = "normal";
    }
    free(v);
    free(r2);
    return HONE_OK;
}

double hone_stats_rank_biserial(const double *d, size_t n) {
    hone_stats_wilcoxon w;
    if (hone_stats_wilcoxon_test(d, n, &w, NULL) || w.n_nonzero == 0) return NAN;
    return (w.r_plus - w.r_minus) / (w.r_plus + w.r_minus);
}

int hone_stats_paired_compare(const double *cond, const double *base, size_t n, size_t B,
                              double level, uint64_t seed, hone_stats_paired *out, hone_err *err) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->p_holm = NAN;
    out->rank_biserial = NAN;
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!d) return hone_err_set(err, HONE_ENOMEM, "paired: out of memory");
    for (size_t i = 0; i < n; i++) {
        d[i] = cond[i] - base[i];
        if (cond[i] > base[i]) out->wins++;
        else if (cond[i] < base[i]) out->losses++;
        else out->ties++;
    }
    int rc = hone_stats_bootstrap_mean(d, n, B, level, seed, &out->diff, err);
    if (!rc) rc = hone_stats_wilcoxon_test(d, n, &out->test, err);
    if (!rc && out->test.n_nonzero)
        out->rank_biserial = (out->test.r_plus - out->test.r_minus) / (out->test.r_plus + out->test.r_minus);
    free(d);
    return rc;
}

/* ---- Holm ----------------------------------------------------------------------------- */

typedef struct pidx { double p; size_t i; } pidx;

static int cmp_pidx(const void *a, const void *b) {
    const pidx *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int hone_stats_holm(const double *p, size_t n, double *adj, hone_err *err) {
    pidx *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return hone_err_set(err, HONE_ENOMEM, "holm: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(p[i])) continue;
        if (p[i] < 0 || p[i] > 1) {
            free(v);
            return hone_err_set(err, HONE_EARG, "holm: p[%zu] = %g is not in [0, 1]", i, p[i]);
        }
        v[m++] = (pidx){p[i], i};
    }
    qsort(v, m, sizeof *v, cmp_pidx);
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i])) adj[i] = NAN;
    double run = 0;
    for (size_t j = 0; j < m; j++) {
        double a = v[j].p * (double)(m - j);
        if (a > run) run = a;
        adj[v[j].i] = run > 1 ? 1 : run;
    }
    free(v);
    return HONE_OK;
}

int hone_stats_compare_conditions(const double *scores, size_t n_cond, size_t n_probe,
                                  size_t baseline, size_t B, double level, uint64_t seed,
                                  hone_stats_paired *out, hone_err *err) {
    if (baseline >= n_cond)
        return hone_err_set(err, HONE_EARG, "compare: baseline %zu is not one of %zu conditions", baseline, n_cond);
    double *c = malloc((n_probe ? n_probe : 1) * sizeof *c), *b = malloc((n_probe ? n_probe : 1) * sizeof *b);
    double *p = malloc(n_cond * sizeof *p), *adj = malloc(n_cond * sizeof *adj);
    int rc = HONE_OK;
    if (!c || !b || !p || !adj) {
        rc = hone_err_set(err, HONE_ENOMEM, "compare: out of memory");
        goto out;
    }
    const double *base = scores + baseline * n_probe;
    for (size_t k = 0; k < n_cond && rc == HONE_OK; k++) {
        p[k] = NAN;
        if (k == baseline) {
            memset(&out[k], 0, sizeof out[k]);
            out[k].diff.mean = out[k].diff.lo = out[k].diff.hi = NAN;
            out[k].test.p = out[k].test.z = out[k].test.statistic = NAN;
            out[k].test.method = "none";
            out[k].rank_biserial = out[k].p_holm = NAN;
            continue;
        }
        size_t m = 0;
        for (size_t j = 0; j < n_probe; j++) {
            double x = scores[k * n_probe + j];
            if (isnan(x) || isnan(base[j])) continue;
            c[m] = x;
            b[m++] = base[j];
        }
        rc = hone_stats_paired_compare(c, b, m, B, level, seed + k, &out[k], err);
        p[k] = out[k].test.p;
    }
    if (rc == HONE_OK) rc = hone_stats_holm(p, n_cond, adj, err);
    if (rc == HONE_OK)
        for (size_t k = 0; k < n_cond; k++) out[k].p_holm = k == baseline ? NAN : adj[k];
out:
    free(c); free(b); free(p); free(adj);
    return rc;
}

/* ---- Krippendorff's alpha (interval) --------------------------------------------------- */

int hone_stats_kripp_alpha_interval(const double *r, size_t n_raters, size_t n_units,
                                    double *alpha, hone_err *err) {
    *alpha = NAN;
    /* D_o = (1/N) sum_u (1/(m_u - 1)) sum_{i != j in u} (v_i - v_j)^2
     * D_e = (1/(N (N - 1))) sum_{i != j over all pairable values} (v_i - v_j)^2
     * with sum_{i != j} (v_i - v_j)^2 = 2 m sum (v_i - mean)^2 (no cancellation). */
    double N = 0, sum = 0, within = 0;
    for (size_t u = 0; u < n_units; u++) {
        double m = 0, s = 0;
        for (size_t k = 0; k < n_raters; k++) {
            double x = r[k * n_units + u];
            if (!isnan(x)) { m++; s += x; }
        }
        if (m < 2) continue;
        double mu = s / m, ss = 0;
        for (size_t k = 0; k < n_raters; k++) {
            double x = r[k * n_units + u];
            if (!isnan(x)) ss += (x - mu) * (x - mu);
        }
        within += 2 * m * ss / (m - 1);
        N += m;
        sum += s;
    }
    if (N < 2) return HONE_OK;
    double mu = sum / N, ss = 0;
    for (size_t u = 0; u < n_units; u++) {
        size_t m = 0;
        for (size_t k = 0; k < n_raters; k++) m += !isnan(r[k * n_units + u]);
        if (m < 2) continue;
        for (size_t k = 0; k < n_raters; k++) {
            double x = r[k * n_units + u];
            if (!isnan(x)) ss += (x - mu) * (x - mu);
        }
    }
    double De = 2 * N * ss / (N * (N - 1)), Do = within / N;
    if (De == 0) return HONE_OK;
    (void)err;
    *alpha = 1 - Do / De;
    return HONE_OK;
}

double hone_stats_flip_rate(const double *pref0, const double *pref1, size_t n, size_t *n_used) {
    size_t used = 0, flips = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(pref0[i]) || isnan(pref1[i])) continue;
        used++;
        int a = (pref0[i] > 0) - (pref0[i] < 0), b = (pref1[i] > 0) - (pref1[i] < 0);
        flips += a != b;
    }
    if (n_used) *n_used = used;
    return used ? (double)flips / (double)used : NAN;
}
