/* analysis.c: the statistics of a judged A/B run, read from its store alone.
 *
 * Loads the design record (hone/ab.h), every answer and every judgement, places each answer
 * in its cell (model, condition, probe, sample), and computes what include/hone/ab.h
 * ("analysis and report") defines: per answer the mean score over the score judges, per
 * (baseline, condition) answer pair the condition-frame pairwise value; per probe the mean
 * over samples; per model x condition the mean over probes with a bootstrap CI, the paired
 * differential vs the baseline (stats.c: bootstrap, Wilcoxon, rank-biserial, Holm across
 * all comparisons), the pairwise differential against 5, breakdowns by category and
 * language, flag rates, order-flip rates, and Krippendorff's alpha (interval) between
 * judges. Sums run judges in design order and samples ascending, the order the reference
 * twin (tests/ref/make_ab_report_fixture.py) uses, so probe values match it to the bit.
 *
 * Output (results.json), a JSON object:
 *   format "hone-ab-results-1", name, baseline, level, bootstrap_b,
 *   models [ids], conditions [{id, mode}], judges [{label, score, pairwise}],
 *   probes [{id, prompt, category, lang, signal}],
 *   counts {answers, answers_ok, answers_error, outside_design, judgements, judgements_missing},
 *   cells [{model, condition, n_answers, n_errors, n_scored, n (probes), mean, lo, hi,
 *           judge_means {label: mean over probes}, rates {refusal, cutoff, overflow,
 *           lang_mismatch, error}}]                           (model-major, spec order)
 *   differentials [{model, condition, n, mean, lo, hi, p, p_holm, statistic, method,
 *                   rank_biserial, wins, ties, losses}]       (conditions != baseline)
 *   pairwise [same fields; mean, lo, hi on the 0-10 scale, tested against 5]
 *   by_category, by_lang [{group, model, condition, n, mean, lo, hi, diff (not baseline)}]
 *   flip [{judge, n, rate}], agreement [{kind, metric "interval", judges, n_units, alpha}]
 *   answers [{id, model, condition, probe, sample, category, lang, flags [names],
 *             finish_reason, prompt_tokens, answer_tokens, latency_s, error, score,
 *             judge_scores {label: score}, pairwise (condition answers), messages,
 *             prompt_text, answer, judgements [{judge, kind, ord, score, raw, error}]}]
 * NaN statistics are null.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/analysis.h"
#include "eval/design.h"
#include "eval/store_priv.h"
#include "util/err.h"

typedef struct arow {
    int64_t id;
    int m, c, p;      /* design indices, -1 outside the design */
    int64_t sample;
    json_t *j;        /* the answer's JSON object in the output */
    int ok;           /* no error */
    int64_t flags;
} arow;

typedef struct an {
    ab_design d;
    size_t M, C, P, S, J;   /* J: judges */
    arow *rows;
    size_t n_rows;
    int64_t *cell;          /* (M, C, P, S): row index or -1 */
    double *js;             /* (n_rows, J): score judgements, NaN missing */
    double *pw;             /* (n_rows, J, 2): pairwise raw scores stored on the CONDITION answer row */
    size_t n_judgements, n_missing;
    json_t *root;
} an;

static json_t *jnum(double x) { return isnan(x) ? json_null() : json_real(x); }

static int find_row(const an *a, int64_t id) {
    size_t lo = 0, hi = a->n_rows;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->rows[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < a->n_rows && a->rows[lo].id == id ? (int)lo : -1;
}

static const char *col(sqlite3_stmt *q, int i) { return (const char *)sqlite3_column_text(q, i); }

/* Length of the well-formed UTF-8 sequence at s (Unicode Table 3-7), 0 when ill-formed. */
static size_t utf8_seq_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n) return 0;
    unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (c == 0xe0) lo = 0xa0;
    else if (c == 0xed) hi = 0x9f;
    else if (c == 0xf0) lo = 0x90;
    else if (c == 0xf4) hi = 0x8f;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* A JSON string of stored text. Model output is bytes: a byte-level BPE model can emit an
 * ill-formed sequence, and a max_tokens cut can split a character; each ill-formed byte
 * becomes U+FFFD so the answer still shows (jansson refuses ill-formed UTF-8). */
static json_t *jstr_or_null(const char *s) {
    if (!s) return json_null();
    json_t *v = json_string(s);
    if (v) return v;
    size_t n = strlen(s), k = 0;
    char *clean = malloc(3 * n + 1);
    if (!clean) return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t l = utf8_seq_len(p);
        if (l) {
            memcpy(clean + k, p, l);
            k += l;
            p += l;
        } else {
            memcpy(clean + k, "\xef\xbf\xbd", 3);
            k += 3;
            p++;
        }
    }
    v = json_stringn(clean, k);
    free(clean);
    return v;
}

static int load(an *a, hone_ab_store *st, hone_err *err) {
    sqlite3 *db = ab_store_lock(st);
    sqlite3_stmt *q = NULL;
    int rc = HONE_OK;
    size_t cap = 0;
    json_t *answers = json_object_get(a->root, "answers");
    if (sqlite3_prepare_v2(db, "SELECT id, model, condition, probe, sample, messages, prompt_text, answer,"
                               " prompt_tokens, answer_tokens, finish_reason, latency_s, flags, error"
                               " FROM answers ORDER BY id", -1, &q, NULL) != SQLITE_OK)
        goto dberr;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (a->n_rows == cap) {
            cap = cap ? cap * 2 : 256;
            arow *p = realloc(a->rows, cap * sizeof *p);
            if (!p) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
            a->rows = p;
        }
        arow *w = &a->rows[a->n_rows++];
        w->id = sqlite3_column_int64(q, 0);
        w->m = ab_design_find(a->d.models, a->M, col(q, 1));
        w->c = ab_design_find(a->d.conditions, a->C, col(q, 2));
        w->p = ab_design_find_probe(&a->d, col(q, 3));
        w->sample = sqlite3_column_int64(q, 4);
        w->ok = sqlite3_column_type(q, 13) == SQLITE_NULL;
        w->flags = w->ok ? sqlite3_column_int64(q, 12) : 0;
        json_error_t je;
        json_t *msgs = json_loads(col(q, 5), 0, &je);
        json_t *fl = json_array();
        static const char *const FN[] = {"cutoff", "overflow", "refusal", "lang_mismatch"};
        for (int b = 0; b < 4; b++)
            if (w->flags >> b & 1) json_array_append_new(fl, json_string(FN[b]));
        const ab_design_probe *pr = w->p >= 0 ? &a->d.probes[w->p] : NULL;
        w->j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s?, s:s?, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                         "id", (json_int_t)w->id, "model", col(q, 1), "condition", col(q, 2), "probe", col(q, 3),
                         "sample", (json_int_t)w->sample, "category", pr ? pr->category : NULL, "lang",
                         pr ? pr->lang : NULL, "flags", fl, "finish_reason", jstr_or_null(col(q, 10)),
                         "prompt_tokens", sqlite3_column_type(q, 8) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(q, 8)),
                         "answer_tokens", sqlite3_column_type(q, 9) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(q, 9)),
                         "latency_s", json_real(sqlite3_column_double(q, 11)), "error", jstr_or_null(col(q, 13)),
                         "messages", msgs ? msgs : json_null(), "prompt_text", jstr_or_null(col(q, 6)),
                         "answer", jstr_or_null(col(q, 7)));
        if (!w->j) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
        json_object_set_new(w->j, "judgements", json_array());
        json_array_append_new(answers, w->j); /* the array holds the reference */
    }
    if (r != SQLITE_DONE) goto dberr;
    sqlite3_finalize(q);
    q = NULL;

    size_t S = a->d.samples > 0 ? (size_t)a->d.samples : 1;
    for (size_t i = 0; i < a->n_rows; i++)
        if (a->rows[i].sample >= 0 && (size_t)a->rows[i].sample >= S && a->rows[i].m >= 0) S = (size_t)a->rows[i].sample + 1;
    a->S = S;
    size_t ncell = a->M * a->C * a->P * a->S;
    a->cell = malloc((ncell ? ncell : 1) * sizeof *a->cell);
    a->js = malloc((a->n_rows * a->J + 1) * sizeof *a->js);
    a->pw = malloc((a->n_rows * a->J * 2 + 1) * sizeof *a->pw);
    if (!a->cell || !a->js || !a->pw) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
    for (size_t i = 0; i < ncell; i++) a->cell[i] = -1;
    for (size_t i = 0; i < a->n_rows * a->J; i++) a->js[i] = NAN;
    for (size_t i = 0; i < a->n_rows * a->J * 2; i++) a->pw[i] = NAN;
    for (size_t i = 0; i < a->n_rows; i++) {
        arow *w = &a->rows[i];
        if (w->m < 0 || w->c < 0 || w->p < 0 || w->sample < 0) continue;
        a->cell[((w->m * a->C + w->c) * a->P + w->p) * a->S + (size_t)w->sample] = (int64_t)i;
    }

    if (sqlite3_prepare_v2(db, "SELECT judge, kind, answer_a, answer_b, ord, score, raw, error FROM judgements"
                               " ORDER BY id", -1, &q, NULL) != SQLITE_OK)
        goto dberr;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        a->n_judgements++;
        int missing = sqlite3_column_type(q, 5) == SQLITE_NULL;
        a->n_missing += missing;
        double v = missing ? NAN : sqlite3_column_double(q, 5);
        int pair = !strcmp(col(q, 1), "pairwise");
        int ia = find_row(a, sqlite3_column_int64(q, 2)), ib = pair ? find_row(a, sqlite3_column_int64(q, 3)) : -1;
        int64_t ord = sqlite3_column_int64(q, 4);
        int target = pair ? ib : ia;
        if (target < 0) continue;
        json_array_append_new(json_object_get(a->rows[target].j, "judgements"),
                              json_pack("{s:s, s:s, s:I, s:o, s:o, s:o}", "judge", col(q, 0), "kind", col(q, 1), "ord",
                                        (json_int_t)ord, "score", jnum(v), "raw", jstr_or_null(col(q, 6)), "error",
                                        jstr_or_null(col(q, 7))));
        size_t j = 0;
        while (j < a->J && !(!strcmp(a->d.judges[j].label, col(q, 0)) && (pair ? a->d.judges[j].pairwise : a->d.judges[j].score)))
            j++;
        if (j == a->J || missing) continue;
        if (!pair) a->js[(size_t)ia * a->J + j] = v;
        else if (ia >= 0 && (ord == 0 || ord == 1)) a->pw[((size_t)ib * a->J + j) * 2 + (size_t)ord] = v;
    }
    if (r != SQLITE_DONE) goto dberr;
    goto out;
dberr:
    rc = hone_err_set(err, HONE_EIO, "%s: %s", ab_store_path(st), sqlite3_errmsg(db));
out:
    if (q) sqlite3_finalize(q);
    ab_store_unlock(st);
    return rc;
}

/* ---- per-answer and per-probe values ------------------------------------------------------ */

static double answer_score(const an *a, size_t row) {
    double s = 0;
    size_t k = 0;
    for (size_t j = 0; j < a->J; j++) {
        double v = a->js[row * a->J + j];
        if (!isnan(v)) { s += v; k++; }
    }
    return k ? s / (double)k : NAN;
}

static double answer_judge(const an *a, size_t row, size_t j) { return a->js[row * a->J + j]; }

/* Condition-frame pairwise value of a condition answer: mean over judges and orders. */
static double answer_pair(const an *a, size_t row) {
    double s = 0;
    size_t k = 0;
    for (size_t j = 0; j < a->J; j++)
        for (int o = 0; o < 2; o++) {
            double v = a->pw[(row * a->J + j) * 2 + o];
            if (!isnan(v)) { s += o ? 10 - v : v; k++; }
        }
    return k ? s / (double)k : NAN;
}

typedef double (*value_fn)(const an *a, size_t row, size_t arg);
static double vf_score(const an *a, size_t row, size_t arg) { return answer_score(a, row); }
static double vf_judge(const an *a, size_t row, size_t arg) { return answer_judge(a, row, arg); }
static double vf_pair(const an *a, size_t row, size_t arg) { return answer_pair(a, row); }

static double probe_value(const an *a, size_t m, size_t c, size_t p, value_fn f, size_t arg) {
    double s = 0;
    size_t k = 0;
    for (size_t i = 0; i < a->S; i++) {
        int64_t r = a->cell[((m * a->C + c) * a->P + p) * a->S + i];
        if (r < 0 || !a->rows[r].ok) continue;
        double v = f(a, (size_t)r, arg);
        if (!isnan(v)) { s += v; k++; }
    }
    return k ? s / (double)k : NAN;
}

static double seq_mean(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return n ? s / (double)n : NAN;
}

/* ---- the tree ------------------------------------------------------------------------------ */

typedef struct ctx {
    an *a;
    size_t B;
    double level;
    uint64_t seed, seq;
} ctx;

static void put_ci(json_t *o, size_t n, const hone_stats_ci *ci, double shift) {
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    json_object_set_new(o, "mean", jnum(ci->mean + shift));
    json_object_set_new(o, "lo", jnum(ci->lo + shift));
    json_object_set_new(o, "hi", jnum(ci->hi + shift));
}

static int boot_obj(ctx *x, json_t *o, const double *v, size_t n, hone_err *err) {
    hone_stats_ci ci;
    int rc = hone_stats_bootstrap_mean(v, n, x->B, x->level, x->seed + x->seq++, &ci, err);
    if (!rc) put_ci(o, n, &ci, 0);
    return rc;
}

static json_t *paired_obj(const hone_stats_paired *r, double shift) {
    json_t *o = json_object();
    put_ci(o, r->n, &r->diff, shift);
    json_object_set_new(o, "p", jnum(r->test.p));
    json_object_set_new(o, "statistic", jnum(r->test.statistic));
    json_object_set_new(o, "method", json_string(r->test.method));
    json_object_set_new(o, "rank_biserial", jnum(r->rank_biserial));
    json_object_set_new(o, "wins", json_integer((json_int_t)r->wins));
    json_object_set_new(o, "ties", json_integer((json_int_t)r->ties));
    json_object_set_new(o, "losses", json_integer((json_int_t)r->losses));
    return o;
}

/* Holm over the "p" of each object in arr, written as "p_holm". */
static int holm_array(json_t *arr, hone_err *err) {
    size_t n = json_array_size(arr);
    double *p = malloc((n + 1) * sizeof *p);
    if (!p) return hone_err_set(err, HONE_ENOMEM, "analysis: out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(json_array_get(arr, i), "p");
        p[i] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    int rc = hone_stats_holm(p, n, p, err);
    for (size_t i = 0; i < n && !rc; i++) json_object_set_new(json_array_get(arr, i), "p_holm", jnum(p[i]));
    free(p);
    return rc;
}

static int cells_and_diffs(ctx *x, double *pv, double *buf, double *buf2, hone_err *err) {
    an *a = x->a;
    json_t *cells = json_object_get(a->root, "cells"), *diffs = json_object_get(a->root, "differentials"),
           *pairs = json_object_get(a->root, "pairwise");
    int rc = HONE_OK;
    for (size_t m = 0; m < a->M; m++)
        for (size_t c = 0; c < a->C; c++)
            for (size_t p = 0; p < a->P; p++) pv[(m * a->C + c) * a->P + p] = probe_value(a, m, c, p, vf_score, 0);
    for (size_t m = 0; m < a->M && !rc; m++) {
        for (size_t c = 0; c < a->C && !rc; c++) {
            size_t n_ans = 0, n_err = 0, n_scored = 0, fl[4] = {0};
            for (size_t p = 0; p < a->P; p++)
                for (size_t s = 0; s < a->S; s++) {
                    int64_t r = a->cell[((m * a->C + c) * a->P + p) * a->S + s];
                    if (r < 0) continue;
                    n_ans++;
                    if (!a->rows[r].ok) { n_err++; continue; }
                    n_scored += !isnan(answer_score(a, (size_t)r));
                    for (int b = 0; b < 4; b++) fl[b] += a->rows[r].flags >> b & 1;
                }
            size_t n_ok = n_ans - n_err, k = 0;
            for (size_t p = 0; p < a->P; p++) {
                double v = pv[(m * a->C + c) * a->P + p];
                if (!isnan(v)) buf[k++] = v;
            }
            json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "model", a->d.models[m], "condition",
                                  a->d.conditions[c], "n_answers", (json_int_t)n_ans, "n_errors", (json_int_t)n_err,
                                  "n_scored", (json_int_t)n_scored);
            json_array_append_new(cells, o);
            if ((rc = boot_obj(x, o, buf, k, err))) break;
            json_t *jm = json_object();
            for (size_t j = 0; j < a->J; j++) {
                if (!a->d.judges[j].score) continue;
                size_t kk = 0;
                for (size_t p = 0; p < a->P; p++) {
                    double v = probe_value(a, m, c, p, vf_judge, j);
                    if (!isnan(v)) buf2[kk++] = v;
                }
                json_object_set_new(jm, a->d.judges[j].label, jnum(seq_mean(buf2, kk)));
            }
            json_object_set_new(o, "judge_means", jm);
            double dn = n_ok ? (double)n_ok : NAN;
            json_object_set_new(o, "rates", json_pack("{s:o, s:o, s:o, s:o, s:o}", "refusal", jnum(fl[2] / dn), "cutoff",
                                                      jnum(fl[0] / dn), "overflow", jnum(fl[1] / dn), "lang_mismatch",
                                                      jnum(fl[3] / dn), "error",
                                                      jnum(n_ans ? (double)n_err / (double)n_ans : NAN)));
            if (c == a->d.baseline) continue;
            /* score differential vs the baseline */
            size_t n = 0;
            for (size_t p = 0; p < a->P; p++) {
                double u = pv[(m * a->C + c) * a->P + p], b = pv[(m * a->C + a->d.baseline) * a->P + p];
                if (isnan(u) || isnan(b)) continue;
                buf[n] = u;
                buf2[n++] = b;
            }
            hone_stats_paired r;
            if ((rc = hone_stats_paired_compare(buf, buf2, n, x->B, x->level, x->seed + x->seq++, &r, err))) break;
            json_t *d = paired_obj(&r, 0);
            json_object_set_new(d, "model", json_string(a->d.models[m]));
            json_object_set_new(d, "condition", json_string(a->d.conditions[c]));
            json_array_append_new(diffs, d);
            /* pairwise judges' differential, against 5 */
            n = 0;
            for (size_t p = 0; p < a->P; p++) {
                double u = probe_value(a, m, c, p, vf_pair, 0);
                if (isnan(u)) continue;
                buf[n] = u - 5;
                buf2[n++] = 0;
            }
            if ((rc = hone_stats_paired_compare(buf, buf2, n, x->B, x->level, x->seed + x->seq++, &r, err))) break;
            d = paired_obj(&r, 5);
            json_object_set_new(d, "model", json_string(a->d.models[m]));
            json_object_set_new(d, "condition", json_string(a->d.conditions[c]));
            json_array_append_new(pairs, d);
        }
    }
    if (!rc) rc = holm_array(diffs, err);
    if (!rc) rc = holm_array(pairs, err);
    return rc;
}

static int breakdown(ctx *x, const double *pv, int by_lang, double *buf, double *buf2, hone_err *err) {
    an *a = x->a;
    json_t *arr = json_object_get(a->root, by_lang ? "by_lang" : "by_category");
    int rc = HONE_OK;
    for (size_t g = 0; g < a->P && !rc; g++) {
        const char *grp = by_lang ? a->d.probes[g].lang : a->d.probes[g].category;
        int seen = 0; /* groups in order of first appearance */
        for (size_t h = 0; h < g && !seen; h++)
            seen = !strcmp(grp, by_lang ? a->d.probes[h].lang : a->d.probes[h].category);
        if (seen) continue;
        for (size_t m = 0; m < a->M && !rc; m++)
            for (size_t c = 0; c < a->C && !rc; c++) {
                size_t n = 0, nd = 0;
                for (size_t p = 0; p < a->P; p++) {
                    if (strcmp(grp, by_lang ? a->d.probes[p].lang : a->d.probes[p].category)) continue;
                    double u = pv[(m * a->C + c) * a->P + p], b = pv[(m * a->C + a->d.baseline) * a->P + p];
                    if (!isnan(u)) buf[n++] = u;
                    if (!isnan(u) && !isnan(b)) buf2[nd++] = u - b;
                }
                json_t *o = json_pack("{s:s, s:s, s:s}", "group", grp, "model", a->d.models[m], "condition",
                                      a->d.conditions[c]);
                json_array_append_new(arr, o);
                if ((rc = boot_obj(x, o, buf, n, err))) break;
                if (c != a->d.baseline) json_object_set_new(o, "diff", jnum(nd ? seq_mean(buf2, nd) : NAN));
            }
    }
    return rc;
}

static int flips_and_agreement(ctx *x, hone_err *err) {
    an *a = x->a;
    json_t *flip = json_object_get(a->root, "flip"), *agr = json_object_get(a->root, "agreement");
    size_t R = a->n_rows;
    double *p0 = malloc((R + 1) * sizeof *p0), *p1 = malloc((R + 1) * sizeof *p1);
    double *mat = malloc((a->J * R + 1) * sizeof *mat);
    const char **names = calloc(a->J + 1, sizeof *names);
    int rc = HONE_OK;
    if (!p0 || !p1 || !mat || !names) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
    for (size_t j = 0; j < a->J; j++) {
        if (!a->d.judges[j].pairwise) continue;
        for (size_t r = 0; r < R; r++) {
            p0[r] = a->pw[(r * a->J + j) * 2] - 5;
            p1[r] = 5 - a->pw[(r * a->J + j) * 2 + 1];
        }
        size_t used;
        double rate = hone_stats_flip_rate(p0, p1, R, &used);
        json_array_append_new(flip, json_pack("{s:s, s:I, s:o}", "judge", a->d.judges[j].label, "n", (json_int_t)used,
                                              "rate", jnum(rate)));
    }
    for (int kind = 0; kind < 2 && !rc; kind++) {
        size_t nj = 0;
        json_t *labels = json_array();
        for (size_t j = 0; j < a->J; j++) {
            if (!(kind ? a->d.judges[j].pairwise : a->d.judges[j].score)) continue;
            json_array_append_new(labels, json_string(a->d.judges[j].label));
            for (size_t r = 0; r < R; r++) {
                double v;
                if (!kind) {
                    v = a->js[r * a->J + j];
                } else {
                    double s0 = a->pw[(r * a->J + j) * 2], s1 = a->pw[(r * a->J + j) * 2 + 1];
                    double s = 0;
                    size_t k = 0;
                    if (!isnan(s0)) { s += s0; k++; }
                    if (!isnan(s1)) { s += 10 - s1; k++; }
                    v = k ? s / (double)k : NAN;
                }
                mat[nj * R + r] = v;
            }
            nj++;
        }
        if (nj < 2) {
            json_decref(labels);
            continue;
        }
        size_t units = 0;
        for (size_t r = 0; r < R; r++) {
            size_t k = 0;
            for (size_t j = 0; j < nj; j++) k += !isnan(mat[j * R + r]);
            units += k >= 2;
        }
        double alpha;
        if ((rc = hone_stats_kripp_alpha_interval(mat, nj, R, &alpha, err))) {
            json_decref(labels);
            break;
        }
        json_array_append_new(agr, json_pack("{s:s, s:s, s:o, s:I, s:o}", "kind", kind ? "pairwise" : "score", "metric",
                                             "interval", "judges", labels, "n_units", (json_int_t)units, "alpha",
                                             jnum(alpha)));
    }
out:
    free(p0); free(p1); free(mat); free(names);
    return rc;
}

static void answer_values(an *a) {
    for (size_t r = 0; r < a->n_rows; r++) {
        arow *w = &a->rows[r];
        json_object_set_new(w->j, "score", jnum(w->ok ? answer_score(a, r) : NAN));
        json_t *js = json_object();
        for (size_t j = 0; j < a->J; j++)
            if (a->d.judges[j].score && !isnan(a->js[r * a->J + j]))
                json_object_set_new(js, a->d.judges[j].label, json_real(a->js[r * a->J + j]));
        json_object_set_new(w->j, "judge_scores", js);
        if (w->c >= 0 && (size_t)w->c != a->d.baseline) json_object_set_new(w->j, "pairwise", jnum(answer_pair(a, r)));
    }
}

/* No design record (a run with --no-judge): the spec of the store's latest run, if it can
 * still be read. */
static int design_from_runs(hone_ab_store *st, char **out, hone_err *err) {
    *out = NULL;
    sqlite3 *db = ab_store_lock(st);
    sqlite3_stmt *q;
    char *path = NULL;
    if (sqlite3_prepare_v2(db, "SELECT spec_path FROM runs WHERE spec_path IS NOT NULL ORDER BY id DESC LIMIT 1", -1,
                           &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) path = strdup(col(q, 0));
        sqlite3_finalize(q);
    }
    ab_store_unlock(st);
    if (!path)
        return hone_err_set(err, HONE_ENOTFOUND, "%s: no design record (meta 'design') and no run with a spec path: "
                                                 "run `hone ab judge SPEC` or pass the spec", ab_store_path(st));
    hone_ab_spec *s;
    hone_err e2 = {0};
    int rc = hone_ab_spec_load(&s, path, &e2);
    if (rc) {
        rc = hone_err_set(err, HONE_ENOTFOUND, "%s: no design record (meta 'design'), and the run's spec cannot be "
                                               "read (%s): pass the spec", ab_store_path(st), e2.msg);
    } else {
        *out = ab_design_text(s);
        if (!*out) rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory");
        hone_ab_spec_free(s);
    }
    free(path);
    return rc;
}

int ab_analyze_tree(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o, json_t **out,
                    hone_err *err) {
    *out = NULL;
    an a = {0};
    char *stored = NULL;
    int rc;
    if (!design_json) {
        rc = hone_ab_store_get_meta(st, "design", &stored, err);
        if (rc == HONE_ENOTFOUND) rc = design_from_runs(st, &stored, err);
        if (rc) return rc;
        design_json = stored;
    }
    rc = ab_design_parse(&a.d, design_json, err);
    free(stored);
    if (rc) return rc;
    a.M = a.d.n_models;
    a.C = a.d.n_conditions;
    a.P = a.d.n_probes;
    a.J = a.d.n_judges;
    ctx x = {.a = &a, .B = o && o->bootstrap_b ? o->bootstrap_b : 10000, .level = o && o->level > 0 ? o->level : 0.95,
             .seed = o && o->seed ? o->seed : 1};
    json_t *models = json_array(), *conds = json_array(), *judges = json_array(), *probes = json_array();
    for (size_t i = 0; i < a.M; i++) json_array_append_new(models, json_string(a.d.models[i]));
    for (size_t i = 0; i < a.C; i++)
        json_array_append_new(conds, json_pack("{s:s, s:s}", "id", a.d.conditions[i], "mode", a.d.modes[i]));
    for (size_t i = 0; i < a.J; i++)
        json_array_append_new(judges, json_pack("{s:s, s:s, s:b, s:b}", "label", a.d.judges[i].label, "model",
                                                a.d.judges[i].model, "score", a.d.judges[i].score, "pairwise",
                                                a.d.judges[i].pairwise));
    for (size_t i = 0; i < a.P; i++) {
        const ab_design_probe *p = &a.d.probes[i];
        json_array_append_new(probes, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", p->id, "prompt", p->prompt,
                                                "category", p->category, "lang", p->lang, "signal", p->signal));
    }
    a.root = json_pack("{s:s, s:s?, s:s, s:f, s:I, s:o, s:o, s:o, s:o, s:[], s:[], s:[], s:[], s:[], s:[], s:[], s:[]}",
                       "format", "hone-ab-results-1", "name", a.d.name, "baseline", a.d.conditions[a.d.baseline],
                       "level", x.level, "bootstrap_b", (json_int_t)x.B, "models", models, "conditions", conds,
                       "judges", judges, "probes", probes, "cells", "differentials", "pairwise", "by_category",
                       "by_lang", "flip", "agreement", "answers");
    double *pv = NULL, *buf = NULL, *buf2 = NULL;
    if (!a.root) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
    if ((rc = load(&a, st, err))) goto out;
    size_t nb = a.P + a.n_rows + 1;
    pv = malloc((a.M * a.C * a.P + 1) * sizeof *pv);
    buf = malloc(nb * sizeof *buf);
    buf2 = malloc(nb * sizeof *buf2);
    if (!pv || !buf || !buf2) { rc = hone_err_set(err, HONE_ENOMEM, "analysis: out of memory"); goto out; }
    if ((rc = cells_and_diffs(&x, pv, buf, buf2, err))) goto out;
    if ((rc = breakdown(&x, pv, 0, buf, buf2, err))) goto out;
    if ((rc = breakdown(&x, pv, 1, buf, buf2, err))) goto out;
    if ((rc = flips_and_agreement(&x, err))) goto out;
    answer_values(&a);
    size_t n_ok = 0, outside = 0;
    for (size_t r = 0; r < a.n_rows; r++) {
        n_ok += a.rows[r].ok;
        outside += a.rows[r].m < 0 || a.rows[r].c < 0 || a.rows[r].p < 0;
    }
    json_object_set_new(a.root, "counts", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "answers", (json_int_t)a.n_rows,
                                                    "answers_ok", (json_int_t)n_ok, "answers_error",
                                                    (json_int_t)(a.n_rows - n_ok), "outside_design", (json_int_t)outside,
                                                    "judgements", (json_int_t)a.n_judgements, "judgements_missing",
                                                    (json_int_t)a.n_missing));
    *out = a.root;
    a.root = NULL;
out:
    free(pv); free(buf); free(buf2);
    json_decref(a.root);
    free(a.rows); free(a.cell); free(a.js); free(a.pw);
    ab_design_free(&a.d);
    return rc;
}

int hone_ab_analyze(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o, char **json,
                    hone_err *err) {
    *json = NULL;
    json_t *t;
    int rc = ab_analyze_tree(st, design_json, o, &t, err);
    if (rc) return rc;
    *json = json_dumps(t, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(t);
    return *json ? HONE_OK : hone_err_set(err, HONE_ENOMEM, "analysis: out of memory");
}
