/* test_stats.c: src/eval/stats.c against tests/fixtures/stats.json, written by
 * tests/ref/make_stats_fixture.py from scipy.stats.wilcoxon (defaults), statsmodels'
 * Holm, the krippendorff package and a B = 200000 numpy bootstrap.
 * Tolerances (reasons):
 *   Wilcoxon exact / permutation p: 1e-12 relative. Both sides count the same integers
 *     (subset sums, sign patterns); only the final division and scipy's summation of pmf
 *     terms round, a few ulps.
 *   Wilcoxon normal p: 1e-9 relative. Same formula; erfc vs scipy's ndtr and the order of
 *     the tie-correction sum differ in the last bits, amplified by at most |z|^2 in the tail.
 *   Rank sums, statistic, rank-biserial: exact / 1e-12 (half-integers, one division).
 *   Holm: exact equality (same products p * (m - j), same running maximum).
 *   Krippendorff's alpha: 1e-12 absolute (sums of squares of 0-10 ratings; reassociation only).
 *   Bootstrap bounds: the per-case tolerance in the fixture, 4 standard errors of the
 *     difference of two sample quantiles (B = 10000 here, 200000 in the reference); see the
 *     script. The test also checks that tolerance is under 0.2 bootstrap SDs, so a wrong
 *     level (90 % instead of 95 % moves a bound by ~0.3 SD) cannot pass. */
#include <jansson.h>
#include <math.h>

#include "testutil.h"

static json_t *fixture;

static int setup(void **state) {
    json_error_t e;
    fixture = json_load_file("tests/fixtures/stats.json", 0, &e);
    if (!fixture) {
        print_error("tests/fixtures/stats.json:%d: %s\n", e.line, e.text);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    json_decref(fixture);
    return 0;
}

static double *darr(json_t *a, size_t *n) {
    *n = json_array_size(a);
    double *x = malloc((*n ? *n : 1) * sizeof *x);
    for (size_t i = 0; i < *n; i++) {
        json_t *v = json_array_get(a, i);
        x[i] = json_is_null(v) ? NAN : json_number_value(v);
    }
    return x;
}

static double jnum(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    assert_non_null(v);
    return json_is_null(v) ? NAN : json_number_value(v);
}

static double max_rel[2]; /* largest relative p difference seen: [0] exact/permutation, [1] normal */

static void close_rel(const char *what, const char *name, double got, double want, double rel) {
    if (!strcmp(what, "p") && want != 0 && !isnan(want)) {
        double r = fabs(got - want) / fabs(want);
        int k = rel > 1e-11;
        if (r > max_rel[k]) max_rel[k] = r;
    }
    if (isnan(want)) {
        if (!isnan(got)) fail_msg("%s %s: got %.17g, want NaN", name, what, got);
        return;
    }
    double d = fabs(got - want);
    if (!(d <= rel * fabs(want)))
        fail_msg("%s %s: got %.17g, want %.17g (rel diff %.3g > %.3g)", name, what, got, want,
                 want ? d / fabs(want) : d, rel);
}

static void test_wilcoxon(void **state) {
    json_t *cases = json_object_get(fixture, "wilcoxon"), *c;
    size_t i, counts[3] = {0};
    assert_true(json_array_size(cases) > 20);
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *method = json_string_value(json_object_get(c, "method"));
        size_t n;
        double *d = darr(json_object_get(c, "d"), &n);
        hone_stats_wilcoxon w;
        hone_err err = {0};
        ASSERT_OK(hone_stats_wilcoxon_test(d, n, &w, &err), &err);
        if (strcmp(w.method, method)) fail_msg("%s: method %s, want %s", name, w.method, method);
        int normal = !strcmp(method, "normal");
        counts[normal ? 2 : !strcmp(method, "permutation")]++;
        close_rel("p", name, w.p, jnum(c, "p"), normal ? 1e-9 : 1e-12);
        assert_true(w.r_plus == jnum(c, "r_plus"));
        assert_true(w.r_minus == jnum(c, "r_minus"));
        if (w.n_nonzero) assert_true(w.statistic == jnum(c, "statistic"));
        close_rel("rank_biserial", name, hone_stats_rank_biserial(d, n), jnum(c, "rank_biserial"), 1e-12);
        free(d);
    }
    print_message("wilcoxon: %zu exact, %zu permutation, %zu normal cases match scipy; largest relative p "
                  "difference %.2g (exact/permutation), %.2g (normal)\n", counts[0], counts[1], counts[2],
                  max_rel[0], max_rel[1]);
    assert_true(counts[0] >= 10 && counts[1] >= 4 && counts[2] >= 5);
}

static void test_holm(void **state) {
    json_t *cases = json_object_get(fixture, "holm"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        size_t n, m;
        double *p = darr(json_object_get(c, "p"), &n), *want = darr(json_object_get(c, "adj"), &m);
        double *adj = malloc(n * sizeof *adj);
        hone_err err = {0};
        assert_int_equal(n, m);
        ASSERT_OK(hone_stats_holm(p, n, adj, &err), &err);
        for (size_t j = 0; j < n; j++)
            if (adj[j] != want[j]) fail_msg("holm case %zu [%zu]: %.17g != %.17g", i, j, adj[j], want[j]);
        free(p); free(want); free(adj);
    }
    /* NaN is skipped and does not count in m. */
    double p[3] = {0.01, NAN, 0.02}, adj[3];
    assert_int_equal(hone_stats_holm(p, 3, adj, NULL), HONE_OK);
    assert_true(adj[0] == 0.02 && isnan(adj[1]) && adj[2] == 0.02);
}

static void test_alpha(void **state) {
    json_t *cases = json_object_get(fixture, "alpha"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        json_t *rows = json_object_get(c, "ratings");
        size_t R = json_array_size(rows), U = json_array_size(json_array_get(rows, 0));
        double *r = malloc(R * U * sizeof *r);
        for (size_t k = 0; k < R; k++) {
            size_t u;
            double *row = darr(json_array_get(rows, k), &u);
            assert_int_equal(u, U);
            memcpy(r + k * U, row, U * sizeof *r);
            free(row);
        }
        double a, want = jnum(c, "alpha");
        hone_err err = {0};
        ASSERT_OK(hone_stats_kripp_alpha_interval(r, R, U, &a, &err), &err);
        if (!(fabs(a - want) <= 1e-12)) fail_msg("alpha case %zu: %.17g, want %.17g", i, a, want);
        free(r);
    }
}

static void test_bootstrap(void **state) {
    json_t *cases = json_object_get(fixture, "bootstrap"), *c;
    size_t i;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t n;
        double *x = darr(json_object_get(c, "x"), &n);
        hone_stats_ci ci;
        hone_err err = {0};
        ASSERT_OK(hone_stats_bootstrap_mean(x, n, (size_t)jnum(c, "B"), jnum(c, "level"), 12345, &ci, &err), &err);
        close_rel("mean", name, ci.mean, jnum(c, "mean"), 1e-12);
        double sd = jnum(c, "sd_boot");
        print_message("bootstrap %-12s lo %+.3f SD, hi %+.3f SD from the B=200000 reference (tolerance %.3f / %.3f SD)\n",
                      name, (ci.lo - jnum(c, "lo")) / sd, (ci.hi - jnum(c, "hi")) / sd, jnum(c, "tol_lo") / sd,
                      jnum(c, "tol_hi") / sd);
        const char *keys[2] = {"lo", "hi"};
        double got[2] = {ci.lo, ci.hi};
        for (int k = 0; k < 2; k++) {
            char tk[8];
            snprintf(tk, sizeof tk, "tol_%s", keys[k]);
            double want = jnum(c, keys[k]), tol = jnum(c, tk);
            assert_true(tol < 0.2 * sd); /* the check can tell 95 % from 90 % */
            if (!(fabs(got[k] - want) <= tol))
                fail_msg("%s %s: %.6g, reference %.6g, |diff| %.3g > tol %.3g (%.2f SD)", name, keys[k],
                         got[k], want, fabs(got[k] - want), tol, fabs(got[k] - want) / sd);
        }
        /* Same seed, same answer; another seed, another answer (within tolerance). */
        hone_stats_ci again;
        ASSERT_OK(hone_stats_bootstrap_mean(x, n, 10000, 0.95, 12345, &again, &err), &err);
        assert_true(again.lo == ci.lo && again.hi == ci.hi);
        free(x);
    }
    double one = 3;
    hone_stats_ci ci;
    assert_int_equal(hone_stats_bootstrap_mean(&one, 1, 0, 0.95, 1, &ci, NULL), HONE_OK);
    assert_true(ci.lo == 3 && ci.hi == 3 && ci.mean == 3);
    assert_int_equal(hone_stats_bootstrap_mean(&one, 1, 0, 1.5, 1, &ci, NULL), HONE_EARG);
}

static void test_paired_and_flips(void **state) {
    double cond[6] = {5, 7, 6, 8, 4, 9}, base[6] = {4, 7, 3, 5, 6, 2};
    hone_stats_paired pr;
    hone_err err = {0};
    ASSERT_OK(hone_stats_paired_compare(cond, base, 6, 2000, 0.95, 7, &pr, &err), &err);
    assert_int_equal(pr.wins, 4);
    assert_int_equal(pr.ties, 1);
    assert_int_equal(pr.losses, 1);
    /* d = 1, 0, 3, 3, -2, 7: mean 2; nonzero |d| ranks 1, 3.5, 3.5, 2, 5: R+ 13, R- 2. */
    assert_true(pr.diff.mean == 2);
    assert_true(pr.test.r_plus == 13 && pr.test.r_minus == 2);
    assert_true(fabs(pr.rank_biserial - 11.0 / 15.0) < 1e-15);
    assert_true(pr.diff.lo < 2 && pr.diff.hi > 2);
    double a[5] = {1, -2, 0, 3, NAN}, b[5] = {2, 1, 0, -1, 1};
    size_t used;
    assert_true(hone_stats_flip_rate(a, b, 5, &used) == 0.5); /* flips at 1 and 3; 2 ties agree */
    assert_int_equal(used, 4);
}

/* The per-model driver: pairs drop NaN probes, Holm runs over the non-baseline conditions
 * (checked against hone_stats_holm on the same p-values and by hand). */
static void test_compare_conditions(void **state) {
    enum { C = 3, P = 8 };
    const double sc[C * P] = {
        5, 4, 6, 5, 3, 5, 4, NAN,                 /* baseline */
        6, 6, 9, 9, 8, 11, 11, 9,                 /* all better, distinct: exact p = 2/2^7 */
        5, 5, 6, 4, NAN, 6, 3, 2,                 /* mixed, with a tie */
    };
    hone_stats_paired out[C];
    hone_err err = {0};
    ASSERT_OK(hone_stats_compare_conditions(sc, C, P, 0, 1000, 0.95, 9, out, &err), &err);
    assert_int_equal(out[0].n, 0);
    assert_true(isnan(out[0].p_holm));
    assert_int_equal(out[1].n, 7);
    assert_int_equal(out[2].n, 6);
    assert_int_equal(out[1].wins, 7);
    assert_string_equal(out[1].test.method, "exact");
    assert_true(out[1].test.p == 2.0 / 128);
    assert_string_equal(out[2].test.method, "permutation");
    assert_int_equal(out[2].wins + out[2].ties + out[2].losses, 6);
    double p[2] = {out[1].test.p, out[2].test.p}, adj[2];
    assert_int_equal(hone_stats_holm(p, 2, adj, NULL), HONE_OK);
    assert_true(out[1].p_holm == adj[0] && out[2].p_holm == adj[1]);
    assert_true(out[1].p_holm == fmin(1, 2 * out[1].test.p));
    assert_int_equal(hone_stats_compare_conditions(sc, C, P, 3, 0, 0.95, 1, out, &err), HONE_EARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilcoxon),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_alpha),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_paired_and_flips),
        cmocka_unit_test(test_compare_conditions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
