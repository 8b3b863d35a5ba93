/* test_ab_report.c: the A/B analysis and report (src/eval/analysis.c, report.c).
 *
 * A synthetic judged run (tests/fixtures/ab_report.json, written by
 * tests/ref/make_ab_report_fixture.py: 2 models x 3 conditions x 12 probes in en/ru/zh x 2
 * samples, failed answers, flags, two judges scoring and judging pairs in both orders, some
 * replies missing) is inserted through the store API; hone_ab_analyze's numbers are
 * compared with the twin's numpy / scipy / statsmodels / krippendorff values. Tolerances:
 *   means, differentials, breakdowns, per-judge means: 1e-12 absolute on the 0-10 scale
 *     (same doubles summed in the same order; numpy's mean may reassociate a 12-term sum).
 *   Wilcoxon p, Holm p: 1e-12 relative (n = 12 with ties: both sides enumerate all 2^12
 *     sign patterns; only the final division rounds).
 *   rank-biserial: 1e-12 (half-integer rank sums, one division). wins/ties/losses, counts: exact.
 *   rates and flip rates: 1e-15 (a count over a count).
 *   Krippendorff's alpha (interval): 1e-12 (sums of squares of 0-10 values; reassociation).
 *   bootstrap CI bounds: per value, 4 standard errors of the difference between the C
 *     quantile (B = 10000, xoshiro) and numpy's (B = 200000), as in make_stats_fixture.py:
 *     Monte-Carlo error, not rounding. Each bound is also checked to be within 0.15 of the
 *     mean-side of the interval so a wrong level cannot hide behind a loose tolerance.
 * Then the report files are written and checked: report.md tables, results.csv rows,
 * results.json equal to hone_ab_analyze's output, report.html self-contained (no script,
 * no external URL, no src=/href= to anything but '#' anchors, every answer in a <details>
 * with its prompt), and, when /usr/bin/chromium-headless-shell exists, rendered headless
 * with --enable-logging: any CONSOLE line fails the test; a control page with a script
 * error must produce one (so the check itself can fail).
 */
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"
#include "util/fileio.h"

static json_t *fx;
static char dir[256], db[300];
static hone_ab_store *st;
static json_t *got; /* hone_ab_analyze's output */

static void key_of(json_t *k, const char **m, const char **c, const char **p, int64_t *s) {
    *m = json_string_value(json_array_get(k, 0));
    *c = json_string_value(json_array_get(k, 1));
    *p = json_string_value(json_array_get(k, 2));
    *s = json_integer_value(json_array_get(k, 3));
}

static int64_t answer_id(json_t *k) {
    const char *m, *c, *p;
    int64_t s;
    key_of(k, &m, &c, &p, &s);
    hone_ab_answer a;
    hone_err err = {0};
    ASSERT_OK(hone_ab_store_get_answer(st, m, c, p, s, &a, &err), &err);
    int64_t id = a.id;
    hone_ab_answer_free(&a);
    return id;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static int setup(void **state) {
    json_error_t e;
    fx = json_load_file("tests/fixtures/ab_report.json", 0, &e);
    if (!fx) {
        print_error("tests/fixtures/ab_report.json:%d: %s\n", e.line, e.text);
        return -1;
    }
    snprintf(dir, sizeof dir, "/tmp/hone-test-report-%ld", (long)getpid());
    mkdir(dir, 0700);
    snprintf(db, sizeof db, "%s/ab.db", dir);
    hone_err err = {0};
    if (hone_ab_store_open(&st, db, &err)) {
        print_error("%s\n", err.msg);
        return -1;
    }
    int64_t run;
    if (hone_ab_store_begin_run(st, "synthetic.yaml", NULL, "test", &run, &err)) return -1;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(fx, "answers"), i, a) {
        char *msgs = json_dumps(json_object_get(a, "messages"), JSON_COMPACT);
        hone_ab_answer w = {.run_id = run, .model = jstr(a, "model"), .condition = jstr(a, "condition"),
                            .probe = jstr(a, "probe"), .sample = json_integer_value(json_object_get(a, "sample")),
                            .seed = json_integer_value(json_object_get(a, "seed")), .messages_json = msgs,
                            .prompt_text = jstr(a, "prompt_text"), .params_json = "{\"temperature\":0.7,\"max_tokens\":768}",
                            .answer = jstr(a, "answer"),
                            .prompt_tokens = json_integer_value(json_object_get(a, "prompt_tokens")),
                            .answer_tokens = json_integer_value(json_object_get(a, "answer_tokens")),
                            .finish_reason = jstr(a, "finish_reason"), .latency_s = 1.5, .model_identity = "sha256:x",
                            .flags = json_integer_value(json_object_get(a, "flags")), .error = jstr(a, "error")};
        int rc = hone_ab_store_put_answer(st, &w, 0, NULL, &err);
        free(msgs);
        if (rc) {
            print_error("%s\n", err.msg);
            return -1;
        }
    }
    json_array_foreach(json_object_get(fx, "judgements"), i, a) {
        json_t *sc = json_object_get(a, "score");
        int pair = !strcmp(jstr(a, "kind"), "pairwise");
        hone_ab_judgement j = {.run_id = run, .judge = jstr(a, "judge"), .kind = jstr(a, "kind"),
                               .answer_a = answer_id(json_object_get(a, "a")),
                               .answer_b = pair ? answer_id(json_object_get(a, "b")) : 0,
                               .ord = json_integer_value(json_object_get(a, "ord")), .prompt = "(prompt)",
                               .raw = jstr(a, "raw"), .score = json_is_null(sc) ? NAN : json_number_value(sc),
                               .error = jstr(a, "error"), .latency_s = 0.5};
        if (hone_ab_store_put_judgement(st, &j, 0, NULL, &err)) {
            print_error("%s\n", err.msg);
            return -1;
        }
    }
    char *design = json_dumps(json_object_get(fx, "design"), JSON_COMPACT);
    int rc = hone_ab_store_set_meta(st, "design", design, &err);
    free(design);
    return rc;
}

static int teardown(void **state) {
    json_decref(got);
    json_decref(fx);
    hone_ab_store_close(st);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static double num(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (!v) fail_msg("missing key %s", k);
    return json_is_null(v) ? NAN : json_number_value(v);
}

static void near(const char *what, double g, double w, double tol) {
    if (isnan(w) && isnan(g)) return;
    if (!(fabs(g - w) <= tol)) fail_msg("%s: got %.17g, want %.17g (diff %.3g > tol %.3g)", what, g, w, fabs(g - w), tol);
}

/* The object of arr whose keys k1 (and k2, k3) equal those of ref. */
static json_t *match(json_t *arr, json_t *ref, const char *k1, const char *k2, const char *k3) {
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (strcmp(jstr(o, k1), jstr(ref, k1))) continue;
        if (k2 && strcmp(jstr(o, k2), jstr(ref, k2))) continue;
        if (k3 && strcmp(jstr(o, k3), jstr(ref, k3))) continue;
        return o;
    }
    fail_msg("no entry for %s=%s", k1, jstr(ref, k1));
    return NULL;
}

static void check_ci(const char *name, json_t *g, json_t *w) {
    char what[200];
    snprintf(what, sizeof what, "%s mean", name);
    near(what, num(g, "mean"), num(w, "mean"), 1e-12);
    assert_int_equal(json_integer_value(json_object_get(g, "n")), json_integer_value(json_object_get(w, "n")));
    snprintf(what, sizeof what, "%s lo", name);
    near(what, num(g, "lo"), num(w, "lo"), num(w, "tol_lo"));
    snprintf(what, sizeof what, "%s hi", name);
    near(what, num(g, "hi"), num(w, "hi"), num(w, "tol_hi"));
    assert_true(num(w, "tol_lo") < 0.15 && num(w, "tol_hi") < 0.15);
}

static void check_rel(const char *what, double g, double w, double rel) {
    if (isnan(w) && isnan(g)) return;
    if (!(fabs(g - w) <= rel * fabs(w))) fail_msg("%s: got %.17g, want %.17g", what, g, w);
}

static void check_paired(const char *kind, json_t *g, json_t *w) {
    char name[200];
    snprintf(name, sizeof name, "%s %s/%s", kind, jstr(w, "model"), jstr(w, "condition"));
    check_ci(name, g, w);
    check_rel(name, num(g, "p"), num(w, "p"), 1e-12);
    check_rel(name, num(g, "p_holm"), num(w, "p_holm"), 1e-12);
    near(name, num(g, "rank_biserial"), num(w, "rank_biserial"), 1e-12);
    assert_int_equal(num(g, "wins"), num(w, "wins"));
    assert_int_equal(num(g, "ties"), num(w, "ties"));
    assert_int_equal(num(g, "losses"), num(w, "losses"));
}

static void test_analysis(void **state) {
    hone_err err = {0};
    char *txt;
    ASSERT_OK(hone_ab_analyze(st, NULL, NULL, &txt, &err), &err);
    json_error_t e;
    got = json_loads(txt, 0, &e);
    free(txt);
    assert_non_null(got);
    json_t *exp = json_object_get(fx, "expected"), *w, *g;
    size_t i;
    assert_int_equal(json_array_size(json_object_get(got, "cells")), 6);
    json_array_foreach(json_object_get(exp, "cells"), i, w) {
        g = match(json_object_get(got, "cells"), w, "model", "condition", NULL);
        char name[200];
        snprintf(name, sizeof name, "cell %s/%s", jstr(w, "model"), jstr(w, "condition"));
        check_ci(name, g, w);
        assert_int_equal(num(g, "n_answers"), num(w, "n_answers"));
        assert_int_equal(num(g, "n_errors"), num(w, "n_errors"));
        assert_int_equal(num(g, "n_scored"), num(w, "n_scored"));
        json_t *gr = json_object_get(g, "rates"), *wr = json_object_get(w, "rates");
        const char *k;
        json_t *v;
        json_object_foreach(wr, k, v) near(k, num(gr, k), json_number_value(v), 1e-15);
        json_object_foreach(json_object_get(w, "judge_means"), k, v)
            near(k, num(json_object_get(g, "judge_means"), k), json_number_value(v), 1e-12);
    }
    assert_int_equal(json_array_size(json_object_get(got, "differentials")), 4);
    json_array_foreach(json_object_get(exp, "differentials"), i, w)
        check_paired("differential", match(json_object_get(got, "differentials"), w, "model", "condition", NULL), w);
    assert_int_equal(json_array_size(json_object_get(got, "pairwise")), 4);
    json_array_foreach(json_object_get(exp, "pairwise"), i, w)
        check_paired("pairwise", match(json_object_get(got, "pairwise"), w, "model", "condition", NULL), w);
    const char *const BK[] = {"by_category", "by_lang"};
    for (int b = 0; b < 2; b++) {
        assert_int_equal(json_array_size(json_object_get(got, BK[b])), json_array_size(json_object_get(exp, BK[b])));
        json_array_foreach(json_object_get(exp, BK[b]), i, w) {
            g = match(json_object_get(got, BK[b]), w, "group", "model", "condition");
            near(BK[b], num(g, "mean"), num(w, "mean"), 1e-12);
            assert_int_equal(num(g, "n"), num(w, "n"));
            if (json_object_get(w, "diff")) near(BK[b], num(g, "diff"), num(w, "diff"), 1e-12);
            else assert_null(json_object_get(g, "diff"));
        }
    }
    json_array_foreach(json_object_get(exp, "flip"), i, w) {
        g = match(json_object_get(got, "flip"), w, "judge", NULL, NULL);
        assert_int_equal(num(g, "n"), num(w, "n"));
        near("flip", num(g, "rate"), num(w, "rate"), 1e-15);
    }
    json_array_foreach(json_object_get(exp, "agreement"), i, w) {
        g = match(json_object_get(got, "agreement"), w, "kind", NULL, NULL);
        assert_string_equal(jstr(g, "metric"), "interval");
        near("alpha", num(g, "alpha"), num(w, "alpha"), 1e-12);
    }
    json_t *cnt = json_object_get(got, "counts");
    assert_int_equal(num(cnt, "answers"), json_array_size(json_object_get(fx, "answers")));
    assert_int_equal(num(cnt, "judgements"), json_array_size(json_object_get(fx, "judgements")));
    assert_int_equal(num(cnt, "outside_design"), 0);
    print_message("analysis: 6 cells, 4 + 4 paired comparisons, %zu + %zu breakdown rows, 2 flip rates, 2 alphas match\n",
                  json_array_size(json_object_get(exp, "by_category")), json_array_size(json_object_get(exp, "by_lang")));
}

static char *slurp(const char *path) {
    char *buf;
    size_t n;
    hone_err err = {0};
    ASSERT_OK(hone_file_read_all(path, &buf, &n, &err), &err);
    return buf;
}

static size_t count(const char *h, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(h, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* Renders a page headless; returns the number of CONSOLE lines Chromium logged, -1 if it
 * could not run. The screenshot goes to shot (may be NULL). */
static int chromium_console(const char *html, const char *shot, char *log_out, size_t log_n) {
    char cmd[2048], log[512];
    snprintf(log, sizeof log, "%s/chromium.log", dir);
    snprintf(cmd, sizeof cmd,
             "timeout 60 /usr/bin/chromium-headless-shell --no-sandbox --disable-gpu --enable-logging=stderr --v=0 "
             "--user-data-dir=%s/chrome-profile --window-size=1200,2400 %s%s file://%s > %s/dom.html 2> %s",
             dir, shot ? "--screenshot=" : "--dump-dom", shot ? shot : "", html, dir, log);
    if (system(cmd) != 0) return -1;
    char *t = slurp(log);
    int n = 0;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, ":CONSOLE")) {
            n++;
            if (log_out && !log_out[0]) snprintf(log_out, log_n, "%s", line);
        }
    free(t);
    return n;
}

static void test_report_files(void **state) {
    hone_err err = {0};
    char out[300];
    snprintf(out, sizeof out, "%s/report/nested", dir);
    ASSERT_OK(hone_ab_report_write(st, NULL, NULL, out, &err), &err);
    char p[400];
    /* results.json is the analysis */
    snprintf(p, sizeof p, "%s/results.json", out);
    json_error_t e;
    json_t *rj = json_load_file(p, 0, &e);
    assert_non_null(rj);
    assert_true(json_equal(rj, got));
    json_decref(rj);
    /* results.csv: a header and one row per answer, scores as stored */
    snprintf(p, sizeof p, "%s/results.csv", out);
    char *csv = slurp(p);
    size_t n_answers = json_array_size(json_object_get(fx, "answers"));
    assert_int_equal(count(csv, "\n"), n_answers + 1);
    static const char HDR[] = "id,model,condition,probe,category,lang,sample,score,pairwise,score_gemma3-270m,score_judge-b,"
                              "flags,finish_reason,prompt_tokens,answer_tokens,latency_s,error\n";
    assert_true(!strncmp(csv, HDR, strlen(HDR)));
    assert_non_null(strstr(csv, ",HTTP 500 after 4 retries\n"));
    free(csv);
    /* report.md: the tables */
    snprintf(p, sizeof p, "%s/report.md", out);
    char *md = slurp(p);
    assert_non_null(strstr(md, "# A/B report: synthetic-report-test"));
    assert_non_null(strstr(md, "| model | condition | probes | mean diff | 95 % CI | Wilcoxon p | Holm p |"));
    assert_non_null(strstr(md, "| smollm2-135m | sandwich | 12 |"));
    assert_non_null(strstr(md, "Krippendorff's alpha (interval)"));
    free(md);
    /* report.html: self-contained, escaped, every answer viewable */
    snprintf(p, sizeof p, "%s/report.html", out);
    char *h = slurp(p);
    assert_int_equal(count(h, "<script"), 0);
    assert_int_equal(count(h, "http://") + count(h, "https://") + count(h, "url("), 0);
    assert_int_equal(count(h, " src="), 0);
    assert_int_equal(count(h, "href=\"") , count(h, "href=\"#"));
    assert_int_equal(count(h, "<details class=\"ans\""), n_answers);
    assert_int_equal(count(h, "<details class=\"probe\""), 12);
    assert_true(count(h, "<svg ") >= 2 + 3); /* CI chart, heat map, 3 language panels */
    assert_int_equal(count(h, "<b>&amp;</b>"), 0); /* answers' markup is escaped... */
    assert_true(count(h, "&lt;b&gt;&amp;amp;&lt;/b&gt;") > 100); /* ...shown as text */
    assert_non_null(strstr(h, "ответ 回答"));
    assert_non_null(strstr(h, "prompt after the chat template"));
    free(h);

    /* Headless Chromium: no console message for the report; one for a control page. */
    if (access("/usr/bin/chromium-headless-shell", X_OK)) {
        print_message("[ SKIPPED  ] chromium-headless-shell not installed: report.html not rendered\n");
        return;
    }
    char bad[400], line[512] = "";
    snprintf(bad, sizeof bad, "%s/bad.html", dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("<!DOCTYPE html><html><body><p>control</p><script>undefined_function();</script></body></html>", f);
    fclose(f);
    int nbad = chromium_console(bad, NULL, NULL, 0);
    if (nbad < 0) fail_msg("chromium-headless-shell did not run");
    assert_true(nbad >= 1);
    int n = chromium_console(p, NULL, line, sizeof line);
    if (n != 0) fail_msg("report.html: %d console message(s), first: %s", n, line);
    char dom[400];
    snprintf(dom, sizeof dom, "%s/dom.html", dir);
    char *d = slurp(dom);
    assert_non_null(strstr(d, "Paired differential vs the baseline")); /* it rendered the page */
    free(d);
    const char *shot = getenv("HONE_REPORT_SCREENSHOT");
    if (shot) {
        assert_true(chromium_console(p, shot, NULL, 0) == 0);
        print_message("screenshot: %s\n", shot);
    }
    print_message("report: html/md/csv/json checked; Chromium rendered report.html with 0 console messages "
                  "(control page: %d)\n", nbad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_analysis),
        cmocka_unit_test(test_report_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
