/* report.c: `hone ab report`: the analysis (analysis.c) rendered for people and tools.
 *
 * report.html is one self-contained file: inline CSS, inline SVG charts (scores with 95 %
 * CIs per model and condition; a model x condition heat map of mean scores; one panel per
 * language), tables of every statistic, and every answer in a <details> element with the
 * messages sent, the templated prompt when known, the answer and the judges' raw replies.
 * It has no script and loads nothing. report.md has the same tables; results.csv one row
 * per answer; results.json the analysis tree. Text from the store is HTML-escaped (answers
 * are model output: never trusted markup). Files are written atomically (hone_wfile).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/analysis.h"
#include "util/err.h"
#include "util/fileio.h"

/* ---- an appendable string ------------------------------------------------------------------- */

typedef struct out {
    char *p;
    size_t n, cap;
    int oom;
} out;

static void put(out *o, const char *s, size_t k) {
    if (o->oom) return;
    if (o->n + k + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->n + k + 1) cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->oom = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, k);
    o->n += k;
    o->p[o->n] = 0;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void pf(out *o, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k < sizeof buf) {
        put(o, buf, (size_t)k);
        return;
    }
    char *big = malloc((size_t)k + 1);
    if (!big) {
        o->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)k + 1, fmt, ap);
    va_end(ap);
    put(o, big, (size_t)k);
    free(big);
}

/* HTML text and attribute escaping. */
static void esc(out *o, const char *s) {
    if (!s) return;
    const char *run = s;
    for (; *s; s++) {
        const char *r = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : *s == '"' ? "&quot;"
                      : *s == '\'' ? "&#39;" : NULL;
        if (!r) continue;
        put(o, run, (size_t)(s - run));
        puts_(o, r);
        run = s + 1;
    }
    put(o, run, (size_t)(s - run));
}

/* Markdown table cell: pipes escaped, newlines as spaces. */
static void md_cell(out *o, const char *s) {
    for (; s && *s; s++) {
        if (*s == '|') puts_(o, "\\|");
        else if (*s == '\n' || *s == '\r') puts_(o, " ");
        else put(o, s, 1);
    }
}

/* CSV field (RFC 4180): quoted when it holds a comma, quote or newline. */
static void csv_field(out *o, const char *s) {
    if (!s) return;
    if (!strpbrk(s, ",\"\n\r")) {
        puts_(o, s);
        return;
    }
    puts_(o, "\"");
    for (; *s; s++) {
        if (*s == '"') puts_(o, "\"\"");
        else put(o, s, 1);
    }
    puts_(o, "\"");
}

/* ---- reading the tree -------------------------------------------------------------------- */

static const char *S(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double N(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Formats a number: "%.2f", or "–" when undefined. */
static const char *fmt2(char *b, double x) {
    if (isnan(x)) return "\xE2\x80\x93";
    snprintf(b, 32, "%.2f", x);
    return b;
}

static const char *fmtp(char *b, double x) {
    if (isnan(x)) return "\xE2\x80\x93";
    if (x < 0.001) snprintf(b, 32, "%.1e", x);
    else snprintf(b, 32, "%.3f", x);
    return b;
}

static const char *fmtpct(char *b, double x) {
    if (isnan(x)) return "\xE2\x80\x93";
    snprintf(b, 32, "%.1f %%", 100 * x);
    return b;
}

static json_t *find2(json_t *arr, const char *k1, const char *v1, const char *k2, const char *v2) {
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (!strcmp(S(o, k1), v1) && (!k2 || !strcmp(S(o, k2), v2))) return o;
    }
    return NULL;
}

static const char *const PALETTE[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                      "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

/* ---- SVG charts ------------------------------------------------------------------------------- */

/* Means with CIs on 0-10: x groups = models, one marker per condition. `rows` are objects
 * with model, condition, mean, lo, hi (cells, or one language's breakdown rows). */
static void svg_ci_chart(out *o, json_t *root, json_t *rows, const char *title, int width, int height) {
    json_t *models = json_object_get(root, "models"), *conds = json_object_get(root, "conditions");
    size_t M = json_array_size(models), C = json_array_size(conds);
    int ml = 34, mr = 8, mt = title ? 30 : 10, mb = 34;
    double pw = width - ml - mr, ph = height - mt - mb;
    pf(o, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
       width, height, width, height);
    if (title) {
        puts_(o, "<text x=\"4\" y=\"15\" class=\"st\">");
        esc(o, title);
        puts_(o, "</text>");
    }
    for (int t = 0; t <= 10; t += 2) {
        double y = mt + ph * (1 - t / 10.0);
        pf(o, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", ml, ml + pw, y, y);
        pf(o, "<text x=\"%d\" y=\"%.1f\" class=\"ax\" text-anchor=\"end\">%d</text>", ml - 4, y + 4, t);
    }
    for (size_t m = 0; m < M; m++) {
        const char *mid = json_string_value(json_array_get(models, m));
        double gx = ml + pw * (m + 0.5) / (double)M, gw = pw / (double)M * 0.8;
        puts_(o, "<text class=\"ax\" text-anchor=\"middle\" ");
        pf(o, "x=\"%.1f\" y=\"%.1f\">", gx, mt + ph + 16);
        esc(o, mid);
        puts_(o, "</text>");
        for (size_t c = 0; c < C; c++) {
            const char *cid = S(json_array_get(conds, c), "id");
            json_t *r = find2(rows, "model", mid, "condition", cid);
            double mean = r ? N(r, "mean") : NAN, lo = r ? N(r, "lo") : NAN, hi = r ? N(r, "hi") : NAN;
            if (isnan(mean)) continue;
            double x = gx - gw / 2 + gw * (c + 0.5) / (double)C;
            double ym = mt + ph * (1 - mean / 10), yl = mt + ph * (1 - lo / 10), yh = mt + ph * (1 - hi / 10);
            const char *col = PALETTE[c % 10];
            pf(o, "<g><title>");
            esc(o, mid);
            puts_(o, " / ");
            esc(o, cid);
            pf(o, ": %.2f [%.2f, %.2f]</title>", mean, lo, hi);
            pf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>", x, x, yl, yh, col);
            pf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>", x - 4, x + 4, yl, yl, col);
            pf(o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>", x - 4, x + 4, yh, yh, col);
            pf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/></g>", x, ym, col);
        }
    }
    pf(o, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>", ml, ml + pw, mt + ph, mt + ph);
    puts_(o, "</svg>");
}

static void legend(out *o, json_t *root) {
    json_t *conds = json_object_get(root, "conditions");
    puts_(o, "<p class=\"legend\">");
    for (size_t c = 0; c < json_array_size(conds); c++) {
        pf(o, "<span><span class=\"sw\" style=\"background:%s\"></span>", PALETTE[c % 10]);
        esc(o, S(json_array_get(conds, c), "id"));
        if (!strcmp(S(json_array_get(conds, c), "id"), S(root, "baseline"))) puts_(o, " (baseline)");
        puts_(o, "</span> ");
    }
    puts_(o, "</p>\n");
}

/* 0 red, 5 pale yellow, 10 green. */
static void heat_color(double v, char *b) {
    static const double A[3] = {215, 48, 39}, M_[3] = {255, 255, 191}, Z[3] = {26, 152, 80};
    double t = v / 10;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double c[3];
    for (int i = 0; i < 3; i++) c[i] = t < 0.5 ? A[i] + (M_[i] - A[i]) * t * 2 : M_[i] + (Z[i] - M_[i]) * (t - 0.5) * 2;
    snprintf(b, 16, "#%02x%02x%02x", (int)lround(c[0]), (int)lround(c[1]), (int)lround(c[2]));
}

static void svg_heat(out *o, json_t *root) {
    json_t *models = json_object_get(root, "models"), *conds = json_object_get(root, "conditions"),
           *cells = json_object_get(root, "cells");
    size_t M = json_array_size(models), C = json_array_size(conds);
    int lw = 150, cw = 110, ch = 34, th = 24;
    int w = lw + cw * (int)C + 4, h = th + ch * (int)M + 4;
    pf(o, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", w, h, w, h);
    for (size_t c = 0; c < C; c++) {
        pf(o, "<text x=\"%d\" y=\"16\" class=\"ax\" text-anchor=\"middle\">", lw + cw * (int)c + cw / 2);
        esc(o, S(json_array_get(conds, c), "id"));
        puts_(o, "</text>");
    }
    for (size_t m = 0; m < M; m++) {
        const char *mid = json_string_value(json_array_get(models, m));
        pf(o, "<text x=\"%d\" y=\"%d\" class=\"ax\" text-anchor=\"end\">", lw - 6, th + ch * (int)m + ch / 2 + 4);
        esc(o, mid);
        puts_(o, "</text>");
        for (size_t c = 0; c < C; c++) {
            json_t *r = find2(cells, "model", mid, "condition", S(json_array_get(conds, c), "id"));
            double v = r ? N(r, "mean") : NAN;
            char col[16] = "#eeeeee", b[32];
            if (!isnan(v)) heat_color(v, col);
            pf(o, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#fff\"/>", lw + cw * (int)c,
               th + ch * (int)m, cw, ch, col);
            pf(o, "<text x=\"%d\" y=\"%d\" class=\"hv\" text-anchor=\"middle\">%s</text>", lw + cw * (int)c + cw / 2,
               th + ch * (int)m + ch / 2 + 5, fmt2(b, v));
        }
    }
    puts_(o, "</svg>");
}

/* ---- tables (HTML and Markdown from one description) -------------------------------------- */

typedef struct table {
    out *h, *m;
    int ncol;
} table;

static void t_head(table *t, const char *const *cols) {
    puts_(t->h, "<table><thead><tr>");
    puts_(t->m, "\n|");
    int n = 0;
    for (; cols[n]; n++) {
        puts_(t->h, "<th>");
        esc(t->h, cols[n]);
        puts_(t->h, "</th>");
        puts_(t->m, " ");
        md_cell(t->m, cols[n]);
        puts_(t->m, " |");
    }
    puts_(t->h, "</tr></thead><tbody>\n");
    puts_(t->m, "\n|");
    for (int i = 0; i < n; i++) puts_(t->m, i ? " ---: |" : " --- |");
    puts_(t->m, "\n");
    t->ncol = n;
}

static void t_row(table *t, const char *const *cells) {
    puts_(t->h, "<tr>");
    puts_(t->m, "|");
    for (int i = 0; i < t->ncol; i++) {
        puts_(t->h, i ? "<td class=\"n\">" : "<td>");
        esc(t->h, cells[i]);
        puts_(t->h, "</td>");
        puts_(t->m, " ");
        md_cell(t->m, cells[i]);
        puts_(t->m, " |");
    }
    puts_(t->h, "</tr>\n");
    puts_(t->m, "\n");
}

static void t_end(table *t) { puts_(t->h, "</tbody></table>\n"); }

static void section(out *h, out *m, const char *id, const char *title, const char *note) {
    pf(h, "<h2 id=\"%s\">", id);
    esc(h, title);
    puts_(h, "</h2>\n");
    pf(m, "\n## %s\n", title);
    if (note) {
        puts_(h, "<p class=\"note\">");
        esc(h, note);
        puts_(h, "</p>\n");
        pf(m, "\n%s\n", note);
    }
}

static void ci_text(char *b, size_t n, double lo, double hi) {
    if (isnan(lo)) snprintf(b, n, "\xE2\x80\x93");
    else snprintf(b, n, "[%.2f, %.2f]", lo, hi);
}

static void tables_scores(out *h, out *m, json_t *root) {
    table t = {h, m, 0};
    static const char *const cols[] = {"model", "condition", "probes", "mean score", "95 % CI", "answers", "errors",
                                       "scored", NULL};
    t_head(&t, cols);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(root, "cells"), i, r) {
        char b1[32], ci[64], na[24], ne[24], ns[24], np[24];
        ci_text(ci, sizeof ci, N(r, "lo"), N(r, "hi"));
        snprintf(np, sizeof np, "%.0f", N(r, "n"));
        snprintf(na, sizeof na, "%.0f", N(r, "n_answers"));
        snprintf(ne, sizeof ne, "%.0f", N(r, "n_errors"));
        snprintf(ns, sizeof ns, "%.0f", N(r, "n_scored"));
        const char *row[] = {S(r, "model"), S(r, "condition"), np, fmt2(b1, N(r, "mean")), ci, na, ne, ns};
        t_row(&t, row);
    }
    t_end(&t);
}

static void tables_paired(out *h, out *m, json_t *arr, const char *what) {
    table t = {h, m, 0};
    const char *cols[] = {"model", "condition", "probes", what, "95 % CI", "Wilcoxon p", "Holm p", "rank-biserial",
                          "wins / ties / losses", NULL};
    t_head(&t, cols);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        char b1[32], b2[32], b3[32], b4[32], ci[64], np[24], wtl[64];
        ci_text(ci, sizeof ci, N(r, "lo"), N(r, "hi"));
        snprintf(np, sizeof np, "%.0f", N(r, "n"));
        snprintf(wtl, sizeof wtl, "%.0f / %.0f / %.0f", N(r, "wins"), N(r, "ties"), N(r, "losses"));
        double mean = N(r, "mean");
        if (!isnan(mean) && strstr(what, "diff")) snprintf(b1, sizeof b1, "%+.2f", mean);
        else fmt2(b1, mean);
        const char *row[] = {S(r, "model"), S(r, "condition"), np, isnan(mean) ? "\xE2\x80\x93" : b1, ci,
                             fmtp(b2, N(r, "p")), fmtp(b3, N(r, "p_holm")), fmt2(b4, N(r, "rank_biserial")), wtl};
        t_row(&t, row);
    }
    t_end(&t);
}

static void tables_breakdown(out *h, out *m, json_t *root, const char *key, const char *label) {
    table t = {h, m, 0};
    const char *cols[] = {label, "model", "condition", "probes", "mean score", "95 % CI", "diff vs baseline", NULL};
    t_head(&t, cols);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(root, key), i, r) {
        char b1[32], b2[32], ci[64], np[24];
        ci_text(ci, sizeof ci, N(r, "lo"), N(r, "hi"));
        snprintf(np, sizeof np, "%.0f", N(r, "n"));
        double d = N(r, "diff");
        if (!isnan(d)) snprintf(b2, sizeof b2, "%+.2f", d);
        const char *row[] = {S(r, "group"), S(r, "model"), S(r, "condition"), np, fmt2(b1, N(r, "mean")), ci,
                             json_object_get(r, "diff") ? (isnan(d) ? "\xE2\x80\x93" : b2) : "(baseline)"};
        t_row(&t, row);
    }
    t_end(&t);
}

static void tables_rates(out *h, out *m, json_t *root) {
    table t = {h, m, 0};
    static const char *const cols[] = {"model", "condition", "refusal", "cut off (truncation)", "prompt overflow",
                                       "language mismatch", "errors", NULL};
    t_head(&t, cols);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(root, "cells"), i, r) {
        json_t *q = json_object_get(r, "rates");
        char b[5][32];
        const char *row[] = {S(r, "model"), S(r, "condition"), fmtpct(b[0], N(q, "refusal")), fmtpct(b[1], N(q, "cutoff")),
                             fmtpct(b[2], N(q, "overflow")), fmtpct(b[3], N(q, "lang_mismatch")),
                             fmtpct(b[4], N(q, "error"))};
        t_row(&t, row);
    }
    t_end(&t);
}

static void tables_judges(out *h, out *m, json_t *root) {
    table t = {h, m, 0};
    static const char *const cols[] = {"judge", "modes", "pairs judged in both orders", "order-flip rate", NULL};
    t_head(&t, cols);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(root, "judges"), i, r) {
        int sc = json_is_true(json_object_get(r, "score")), pw = json_is_true(json_object_get(r, "pairwise"));
        json_t *f = pw ? find2(json_object_get(root, "flip"), "judge", S(r, "label"), NULL, NULL) : NULL;
        char n[24] = "\xE2\x80\x93", b[32];
        if (f) snprintf(n, sizeof n, "%.0f", N(f, "n"));
        const char *row[] = {S(r, "label"), sc && pw ? "score, pairwise" : sc ? "score" : pw ? "pairwise" : "",
                             n, f ? fmtpct(b, N(f, "rate")) : "\xE2\x80\x93"};
        t_row(&t, row);
    }
    t_end(&t);
    if (json_array_size(json_object_get(root, "agreement"))) {
        table a = {h, m, 0};
        static const char *const ac[] = {"mode", "judges", "units", "Krippendorff's alpha (interval)", NULL};
        t_head(&a, ac);
        json_array_foreach(json_object_get(root, "agreement"), i, r) {
            out names = {0};
            size_t k;
            json_t *v;
            json_array_foreach(json_object_get(r, "judges"), k, v) {
                if (k) puts_(&names, ", ");
                puts_(&names, json_string_value(v));
            }
            char u[24], b[32];
            snprintf(u, sizeof u, "%.0f", N(r, "n_units"));
            const char *row[] = {S(r, "kind"), names.p ? names.p : "", u, fmt2(b, N(r, "alpha"))};
            t_row(&a, row);
            free(names.p);
        }
        t_end(&a);
    }
}

/* ---- answers ------------------------------------------------------------------------------ */

static void answer_html(out *h, json_t *a, int open) {
    char b[32];
    double sc = N(a, "score"), pw = N(a, "pairwise");
    puts_(h, open ? "<details class=\"ans\" open><summary>" : "<details class=\"ans\"><summary>");
    esc(h, S(a, "model"));
    puts_(h, " · ");
    esc(h, S(a, "condition"));
    pf(h, " · #%.0f · ", N(a, "sample"));
    if (json_is_string(json_object_get(a, "error"))) {
        puts_(h, "<span class=\"err\">error</span>");
    } else {
        pf(h, "score <b>%s</b>", fmt2(b, sc));
        if (json_object_get(a, "pairwise")) pf(h, " · pairwise %s", fmt2(b, pw));
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(a, "flags"), i, f) {
        puts_(h, " <span class=\"flag\">");
        esc(h, json_string_value(f));
        puts_(h, "</span>");
    }
    puts_(h, "</summary>\n<div class=\"body\">");
    json_t *msgs = json_object_get(a, "messages");
    json_t *msg;
    json_array_foreach(msgs, i, msg) {
        puts_(h, "<div class=\"msg\"><div class=\"role\">");
        esc(h, S(msg, "role"));
        puts_(h, "</div><pre>");
        esc(h, S(msg, "content"));
        puts_(h, "</pre></div>");
    }
    if (json_is_string(json_object_get(a, "prompt_text"))) {
        puts_(h, "<details><summary>prompt after the chat template</summary><pre>");
        esc(h, S(a, "prompt_text"));
        puts_(h, "</pre></details>");
    }
    if (json_is_string(json_object_get(a, "error"))) {
        puts_(h, "<div class=\"role\">error</div><pre class=\"err\">");
        esc(h, S(a, "error"));
        puts_(h, "</pre>");
    } else {
        puts_(h, "<div class=\"role\">answer</div><pre class=\"answer\">");
        esc(h, S(a, "answer"));
        puts_(h, "</pre>");
    }
    pf(h, "<p class=\"meta\">finish: ");
    esc(h, S(a, "finish_reason"));
    pf(h, " · prompt tokens %.0f · answer tokens %.0f · %.1f s</p>", N(a, "prompt_tokens"), N(a, "answer_tokens"),
       N(a, "latency_s"));
    json_t *js = json_object_get(a, "judgements");
    if (json_array_size(js)) {
        puts_(h, "<table class=\"jt\"><tr><th>judge</th><th>mode</th><th>order</th><th>score</th><th>reply</th></tr>");
        json_array_foreach(js, i, f) {
            puts_(h, "<tr><td>");
            esc(h, S(f, "judge"));
            puts_(h, "</td><td>");
            esc(h, S(f, "kind"));
            pf(h, "</td><td>%s</td><td class=\"n\">", !strcmp(S(f, "kind"), "pairwise") ? (N(f, "ord") ? "condition first" : "baseline first") : "");
            if (json_is_number(json_object_get(f, "score"))) pf(h, "%s", fmt2(b, N(f, "score")));
            else puts_(h, "<span class=\"err\">missing</span>");
            puts_(h, "</td><td><pre>");
            esc(h, S(f, "raw"));
            if (json_is_string(json_object_get(f, "error"))) {
                puts_(h, "\n[");
                esc(h, S(f, "error"));
                puts_(h, "]");
            }
            puts_(h, "</pre></td></tr>");
        }
        puts_(h, "</table>");
    }
    puts_(h, "</div></details>\n");
}

static void answers_html(out *h, json_t *root) {
    json_t *probes = json_object_get(root, "probes"), *answers = json_object_get(root, "answers");
    size_t i, k;
    json_t *p, *a;
    json_array_foreach(probes, i, p) {
        size_t n = 0;
        json_array_foreach(answers, k, a) n += !strcmp(S(a, "probe"), S(p, "id"));
        puts_(h, i ? "<details class=\"probe\"><summary><b>" : "<details class=\"probe\" open><summary><b>");
        esc(h, S(p, "id"));
        puts_(h, "</b> · ");
        esc(h, S(p, "category"));
        puts_(h, " · ");
        esc(h, S(p, "lang"));
        pf(h, " · %zu answers</summary>\n<div class=\"body\"><p><b>Prompt:</b> ", n);
        esc(h, S(p, "prompt"));
        puts_(h, "</p><p><b>Signal:</b> ");
        esc(h, S(p, "signal"));
        puts_(h, "</p>\n");
        int first = i == 0;
        json_array_foreach(answers, k, a)
            if (!strcmp(S(a, "probe"), S(p, "id"))) {
                answer_html(h, a, first);
                first = 0;
            }
        puts_(h, "</div></details>\n");
    }
}

static const char CSS[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;margin:24px auto;"
    "max-width:1100px;padding:0 16px;color:#222}h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
    "th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:top}th{background:#f4f4f4;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.note{color:#555;max-width:900px}"
    ".legend span{margin-right:14px}.sw{display:inline-block;width:11px;height:11px;border-radius:6px;margin-right:5px;"
    "vertical-align:-1px}svg{display:block;margin:6px 0}svg .grid{stroke:#e6e6e6}svg .axis{stroke:#999}"
    "svg .ax{font-size:11px;fill:#444}svg .st{font-size:12px;font-weight:600;fill:#222}svg .hv{font-size:13px;fill:#111}"
    ".panels{display:flex;flex-wrap:wrap;gap:12px}details{margin:4px 0}details.probe>summary{font-size:14px;"
    "padding:4px;background:#f7f7f7;cursor:pointer}details.ans{margin-left:16px;border-left:3px solid #e4e4e4;"
    "padding-left:8px}.body{padding:4px 0 8px 8px}pre{white-space:pre-wrap;word-wrap:break-word;background:#fafafa;"
    "border:1px solid #eee;padding:6px;margin:2px 0 6px;font-size:12.5px}.role{font-size:11px;text-transform:uppercase;"
    "color:#777;margin-top:4px}.flag{font-size:11px;background:#fde7c8;border-radius:3px;padding:0 4px}"
    ".err{color:#b00020}.meta{font-size:12px;color:#666}table.jt pre{margin:0;max-width:640px;max-height:180px;overflow:auto}"
    "nav a{margin-right:12px}";

static void build(json_t *root, out *h, out *m) {
    char b[64];
    const char *name = S(root, "name");
    json_t *cnt = json_object_get(root, "counts");
    puts_(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>hone A/B report: ");
    esc(h, *name ? name : "experiment");
    pf(h, "</title><style>%s</style></head><body>\n<h1>A/B report: ", CSS);
    esc(h, *name ? name : "experiment");
    puts_(h, "</h1>\n");
    pf(m, "# A/B report: %s\n\n", *name ? name : "experiment");
    out summary = {0};
    pf(&summary, "%.0f answers (%.0f failed), %.0f judgements (%.0f missing). Baseline: %s. Level %.0f %%, %.0f bootstrap "
                 "resamples over probes.",
       N(cnt, "answers"), N(cnt, "answers_error"), N(cnt, "judgements"), N(cnt, "judgements_missing"),
       S(root, "baseline"), 100 * N(root, "level"), N(root, "bootstrap_b"));
    puts_(h, "<p>");
    esc(h, summary.p ? summary.p : "");
    puts_(h, "</p>\n<nav><a href=\"#scores\">scores</a><a href=\"#diff\">differentials</a><a href=\"#lang\">by language"
             "</a><a href=\"#cat\">by category</a><a href=\"#rates\">rates</a><a href=\"#judges\">judges</a>"
             "<a href=\"#answers\">answers</a></nav>\n");
    pf(m, "%s\n", summary.p ? summary.p : "");
    free(summary.p);

    section(h, m, "scores", "Scores by model and condition",
            "Mean judged score (0-10) over probes; each probe's value is the mean over its samples and over the score "
            "judges. Bars: 95 % percentile bootstrap CI over probes.");
    legend(h, root);
    size_t M = json_array_size(json_object_get(root, "models")), C = json_array_size(json_object_get(root, "conditions"));
    int w = (int)(120 + M * (C * 34 + 60));
    if (w < 420) w = 420;
    if (w > 1060) w = 1060;
    svg_ci_chart(h, root, json_object_get(root, "cells"), NULL, w, 280);
    puts_(h, "<h3>Heat map: mean score, model x condition</h3>\n");
    svg_heat(h, root);
    tables_scores(h, m, root);

    section(h, m, "diff", "Paired differential vs the baseline",
            "Per probe: condition minus baseline. Wilcoxon signed-rank (two-sided, scipy's defaults); effect size: "
            "matched-pairs rank-biserial correlation; Holm correction across every model x condition comparison.");
    tables_paired(h, m, json_object_get(root, "differentials"), "mean diff");
    if (json_array_size(json_object_get(root, "pairwise"))) {
        puts_(h, "<h3>Pairwise judges (baseline vs condition, both orders; 5 = no difference)</h3>\n");
        puts_(m, "\n### Pairwise judges (baseline vs condition, both orders; 5 = no difference)\n");
        tables_paired(h, m, json_object_get(root, "pairwise"), "mean (0-10)");
    }

    section(h, m, "lang", "By language", "The same means restricted to each probe language.");
    legend(h, root);
    puts_(h, "<div class=\"panels\">");
    json_t *bl = json_object_get(root, "by_lang");
    size_t i;
    json_t *r;
    json_array_foreach(bl, i, r) {
        const char *g = S(r, "group");
        if (find2(bl, "group", g, NULL, NULL) != r) continue; /* first row of each language */
        json_t *sub = json_array();
        size_t k;
        json_t *q;
        json_array_foreach(bl, k, q) if (!strcmp(S(q, "group"), g)) json_array_append(sub, q);
        snprintf(b, sizeof b, "language: %s", g);
        int pw = (int)(60 + M * (C * 22 + 30));
        if (pw < 260) pw = 260;
        svg_ci_chart(h, root, sub, b, pw, 220);
        json_decref(sub);
    }
    puts_(h, "</div>\n");
    tables_breakdown(h, m, root, "by_lang", "language");

    section(h, m, "cat", "By category", NULL);
    tables_breakdown(h, m, root, "by_category", "category");

    section(h, m, "rates", "Refusal, truncation and overflow rates",
            "Over answers without an error (errors: over all answers). Cut off: the answer hit the token limit; "
            "overflow: the prompt did not fit the context; language mismatch: the answer's language differs from the "
            "probe's.");
    tables_rates(h, m, root);

    section(h, m, "judges", "Judges",
            "Order-flip rate: pairs judged in both orders whose preferences point different ways. Agreement between "
            "judges: Krippendorff's alpha with the interval metric.");
    tables_judges(h, m, root);

    section(h, m, "answers", "Answers", "Every answer with the messages sent and the judges' replies; open a probe, then an answer.");
    answers_html(h, root);
    puts_(h, "</body></html>\n");
    puts_(m, "\nEvery answer, with its prompt and the judges' replies, is in report.html and results.json.\n");
}

static void build_csv(json_t *root, out *c) {
    json_t *judges = json_object_get(root, "judges");
    size_t i, k;
    json_t *a, *j;
    puts_(c, "id,model,condition,probe,category,lang,sample,score,pairwise");
    json_array_foreach(judges, k, j) if (json_is_true(json_object_get(j, "score"))) {
        puts_(c, ",");
        out name = {0};
        pf(&name, "score_%s", S(j, "label"));
        csv_field(c, name.p);
        free(name.p);
    }
    puts_(c, ",flags,finish_reason,prompt_tokens,answer_tokens,latency_s,error\n");
    json_array_foreach(json_object_get(root, "answers"), i, a) {
        char b[64];
        pf(c, "%.0f,", N(a, "id"));
        csv_field(c, S(a, "model"));
        puts_(c, ",");
        csv_field(c, S(a, "condition"));
        puts_(c, ",");
        csv_field(c, S(a, "probe"));
        puts_(c, ",");
        csv_field(c, S(a, "category"));
        puts_(c, ",");
        csv_field(c, S(a, "lang"));
        pf(c, ",%.0f,", N(a, "sample"));
        if (!isnan(N(a, "score"))) pf(c, "%.17g", N(a, "score"));
        puts_(c, ",");
        if (!isnan(N(a, "pairwise"))) pf(c, "%.17g", N(a, "pairwise"));
        json_array_foreach(judges, k, j) if (json_is_true(json_object_get(j, "score"))) {
            puts_(c, ",");
            double v = N(json_object_get(a, "judge_scores"), S(j, "label"));
            if (!isnan(v)) pf(c, "%.17g", v);
        }
        out fl = {0};
        size_t q;
        json_t *f;
        json_array_foreach(json_object_get(a, "flags"), q, f) {
            if (q) puts_(&fl, "|");
            puts_(&fl, json_string_value(f));
        }
        puts_(c, ",");
        csv_field(c, fl.p ? fl.p : "");
        free(fl.p);
        puts_(c, ",");
        csv_field(c, S(a, "finish_reason"));
        puts_(c, ",");
        if (!isnan(N(a, "prompt_tokens"))) pf(c, "%.0f", N(a, "prompt_tokens"));
        puts_(c, ",");
        if (!isnan(N(a, "answer_tokens"))) pf(c, "%.0f", N(a, "answer_tokens"));
        snprintf(b, sizeof b, ",%.3f,", N(a, "latency_s"));
        puts_(c, b);
        csv_field(c, S(a, "error"));
        puts_(c, "\n");
    }
}

/* ---- writing -------------------------------------------------------------------------------- */

static int mkdirs(const char *path, hone_err *err) {
    char *p = strdup(path);
    if (!p) return hone_err_set(err, HONE_ENOMEM, "report: out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || !*s) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST) {
                int rc = hone_err_set(err, HONE_EIO, "%s: cannot create the folder: %s", p, strerror(errno));
                free(p);
                return rc;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return HONE_OK;
}

static int write_one(const char *dir, const char *name, const out *o, hone_err *err) {
    if (o->oom) return hone_err_set(err, HONE_ENOMEM, "report: out of memory building %s", name);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (!path) return hone_err_set(err, HONE_ENOMEM, "report: out of memory");
    snprintf(path, n, "%s/%s", dir, name);
    hone_wfile w;
    int rc = hone_wfile_open(&w, path, err);
    if (!rc) rc = hone_wfile_write(&w, o->p ? o->p : "", o->n, err);
    if (!rc) rc = hone_wfile_commit(&w, err);
    else hone_wfile_abort(&w);
    free(path);
    return rc;
}

int hone_ab_report_write(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o,
                         const char *out_dir, hone_err *err) {
    json_t *root;
    int rc = ab_analyze_tree(st, design_json, o, &root, err);
    if (rc) return rc;
    out h = {0}, m = {0}, c = {0}, j = {0};
    build(root, &h, &m);
    build_csv(root, &c);
    char *js = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (js) {
        puts_(&j, js);
        puts_(&j, "\n");
        free(js);
    } else {
        j.oom = 1;
    }
    json_decref(root);
    if (!(rc = mkdirs(out_dir, err)) && !(rc = write_one(out_dir, "report.html", &h, err)) &&
        !(rc = write_one(out_dir, "report.md", &m, err)) && !(rc = write_one(out_dir, "results.csv", &c, err)))
        rc = write_one(out_dir, "results.json", &j, err);
    free(h.p); free(m.p); free(c.p); free(j.p);
    return rc;
}
