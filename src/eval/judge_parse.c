/* judge_parse.c: turns a judge model's free-text reply into a 0-10 score, or refuses.
 *
 * The rules (documented in hone/ab.h, "Reply parsing") go from the most to the least
 * explicit: a JSON object with a "score" key; a labelled number ("Score: 7", "Оценка: 7",
 * "评分：7"); a fraction of 10 ("7/10", "7 out of 10", "7 из 10", "7分"); a reply that is
 * one number. The first rule that finds a candidate decides, and within a rule every
 * candidate must agree: a reply that names two different scores is ambiguous and refused
 * rather than guessed. The text is normalised first (reasoning blocks dropped, full-width
 * digits and punctuation folded to ASCII). A refusal is HONE_EFORMAT with the reason; the
 * caller stores the judgement as missing, never as a default score.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/err.h"

/* ---- normalisation ------------------------------------------------------------------- */

static const char *find_ci(const char *h, const char *n) {
    size_t k = strlen(n);
    for (; *h; h++)
        if (!strncasecmp(h, n, k)) return h;
    return NULL;
}

/* Drops <think>...</think> (an unclosed one drops the rest), folds U+FF10..FF19 to
 * '0'..'9', U+FF1A to ':', U+FF0E to '.', U+FF0F to '/'. Returns a malloc'd string. */
static char *normalise(const char *in) {
    size_t n = strlen(in);
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    const char *p = in;
    while (*p) {
        if (*p == '<' && !strncasecmp(p, "<think>", 7)) {
            const char *e = find_ci(p + 7, "</think>");
            if (!e) break;
            p = e + 8;
            continue;
        }
        const unsigned char *u = (const unsigned char *)p;
        if (u[0] == 0xEF && u[1] == 0xBC && u[2] >= 0x8E && u[2] <= 0x9A) {
            unsigned c = u[2];
            if (c >= 0x90 && c <= 0x99) { *o++ = (char)('0' + (c - 0x90)); p += 3; continue; }
            if (c == 0x9A) { *o++ = ':'; p += 3; continue; }
            if (c == 0x8E) { *o++ = '.'; p += 3; continue; }
            if (c == 0x8F) { *o++ = '/'; p += 3; continue; }
        }
        *o++ = *p++;
    }
    *o = 0;
    return out;
}

/* ---- numbers ------------------------------------------------------------------------- */

typedef struct cand {
    double v;
    int bad;            /* 0 ok; 1 negative; 2 a range; 3 not out of 10 */
    int scale;          /* the M of "N/M" when bad == 3 */
} cand;

/* Reads [0-9]+([.,][0-9]+)? at p; returns the end or NULL. */
static const char *read_num(const char *p, double *v) {
    if (!isdigit((unsigned char)*p)) return NULL;
    char buf[64];
    size_t k = 0;
    while (isdigit((unsigned char)*p) && k < 40) buf[k++] = *p++;
    if ((*p == '.' || *p == ',') && isdigit((unsigned char)p[1])) {
        buf[k++] = '.';
        p++;
        while (isdigit((unsigned char)*p) && k < 60) buf[k++] = *p++;
    }
    if (isdigit((unsigned char)*p)) return NULL; /* absurdly long */
    buf[k] = 0;
    *v = strtod(buf, NULL);
    return p;
}

static const char *skip_spaces(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* What follows a number: a range ("8-9", "8–9", "8~9") or a scale other than 10 ("4/5"). */
static void check_after(const char *q, cand *c) {
    const char *r = skip_spaces(q);
    if ((*r == '-' || *r == '~') && isdigit((unsigned char)*skip_spaces(r + 1))) c->bad = 2;
    if (!strncmp(r, "\xE2\x80\x93", 3) && isdigit((unsigned char)*skip_spaces(r + 3))) c->bad = 2;
    if (*r == '/') {
        double m;
        const char *s = read_num(skip_spaces(r + 1), &m);
        if (s && m != 10) {
            c->bad = 3;
            c->scale = (int)m;
        }
    }
}

static int chinese_numeral(const char *p, double *v, const char **end) {
    static const char *const D[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十"};
    if (!strncmp(p, "〇", strlen("〇"))) { *v = 0; *end = p + strlen("〇"); return 1; }
    for (int i = 0; i <= 10; i++) {
        size_t k = strlen(D[i]);
        if (!strncmp(p, D[i], k)) {
            /* "十" alone is 10; "一十" / "十一" and longer are not scores we accept. */
            const char *e = p + k;
            for (int j = 0; j <= 10; j++)
                if (!strncmp(e, D[j], strlen(D[j]))) return 0;
            *v = i;
            *end = e;
            return 1;
        }
    }
    return 0;
}

typedef struct cands {
    cand c[64];
    int n;
} cands;

static void push(cands *cs, cand c) {
    if (cs->n < 64) cs->c[cs->n++] = c;
}

/* ---- rule 1: JSON --------------------------------------------------------------------- */

/* A score-like key of object o (any case), searched one level into nested objects. */
static json_t *json_score(json_t *o, int depth) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcasecmp(k, "score") || !strcasecmp(k, "rating") || !strcasecmp(k, "grade")) return v;
    }
    if (depth > 0) json_object_foreach(o, k, v) {
        if (json_is_object(v)) {
            json_t *r = json_score(v, depth - 1);
            if (r) return r;
        }
    }
    return NULL;
}

/* 1: found (score or error set); 0: no JSON object with a score key. */
static int rule_json(const char *t, double *score, const char **why) {
    for (const char *p = strchr(t, '{'); p; p = strchr(p + 1, '{')) {
        json_error_t e;
        json_t *o = json_loadb(p, strlen(p), JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &e);
        if (!o) continue;
        json_t *v = json_is_object(o) ? json_score(o, 1) : NULL;
        int found = 0;
        if (v) {
            found = 1;
            if (json_is_number(v)) {
                *score = json_number_value(v);
            } else if (json_is_string(v)) {
                const char *s = skip_spaces(json_string_value(v));
                double x;
                const char *end = read_num(s, &x);
                if (end && !*skip_spaces(end)) *score = x;
                else if (end && *skip_spaces(end) == '/') {
                    cand c = {x, 0, 0};
                    check_after(end, &c);
                    if (c.bad) *why = "the JSON score is not out of 10";
                    else *score = x;
                } else {
                    *why = "the JSON score is not a number";
                }
            } else {
                *why = "the JSON score is not a number";
            }
        }
        json_decref(o);
        if (found) return 1;
    }
    return 0;
}

/* ---- rule 2: labelled numbers ----------------------------------------------------------- */

static const char *const LABELS_ASCII[] = {"score", "rating", "grade", "punteggio",
                                           "puntuación", "puntuacion", "bewertung", "punkte", NULL};
/* Stems, matched as written (Cyrillic in both cases of the first letter; CJK as is). */
static const char *const LABELS_UTF8[] = {"оценк", "Оценк", "ОЦЕНК", "балл", "Балл", "БАЛЛ",
                                          "评分", "分数", "得分", "打分", "評分", "分數", NULL};

static int is_alpha_byte(unsigned char c) { return isalpha(c) || c >= 0x80; }

/* After a label: skips markdown and punctuation, a parenthetical like "(0-10)", and the
 * words "is", "of", "a", "would be"; returns where a number may start. */
static const char *skip_gap(const char *p) {
    for (int guard = 0; guard < 16; guard++) {
        const char *q = p;
        for (;;) {
            if (*q && strchr(" \t*:=_\"'`#>|[]", *q)) q++;
            else if (!strncmp(q, "\xE2\x80\x94", 3) || !strncmp(q, "\xE2\x80\x93", 3)) q += 3; /* em, en dash */
            else break;
        }
        if (*q == '(') {
            const char *e = strchr(q, ')');
            if (e && e - q < 24) { q = e + 1; }
        }
        static const char *const W[] = {"is ", "of ", "a ", "would be ", "be ", "given ", NULL};
        for (int i = 0; W[i]; i++)
            if (!strncasecmp(q, W[i], strlen(W[i]))) { q += strlen(W[i]); break; }
        if (q == p) return p;
        p = q;
    }
    return p;
}

static void labelled_at(const char *p, cands *cs) {
    double v;
    const char *e;
    if (*p == '-' && isdigit((unsigned char)p[1])) {
        read_num(p + 1, &v);
        push(cs, (cand){-v, 1, 0});
        return;
    }
    if ((e = read_num(p, &v))) {
        cand c = {v, 0, 0};
        check_after(e, &c);
        push(cs, c);
    } else if (chinese_numeral(p, &v, &e)) {
        push(cs, (cand){v, 0, 0});
    }
}

static void rule_labelled(const char *t, cands *cs) {
    for (const char *p = t; *p; p++) {
        for (int i = 0; LABELS_ASCII[i]; i++) {
            size_t k = strlen(LABELS_ASCII[i]);
            if (strncasecmp(p, LABELS_ASCII[i], k)) continue;
            if (p > t && isalpha((unsigned char)p[-1])) continue;
            if (is_alpha_byte((unsigned char)p[k])) continue; /* "scores", "notes" */
            labelled_at(skip_gap(p + k), cs);
        }
        for (int i = 0; LABELS_UTF8[i]; i++) {
            size_t k = strlen(LABELS_UTF8[i]);
            if (strncmp(p, LABELS_UTF8[i], k)) continue;
            const char *q = p + k;
            /* Cyrillic stems: skip the inflection (оценка, оценку, балла, баллов). */
            while (((unsigned char)q[0] == 0xD0 || (unsigned char)q[0] == 0xD1) && ((unsigned char)q[1] & 0xC0) == 0x80)
                q += 2;
            labelled_at(skip_gap(q), cs);
        }
    }
}

/* ---- rule 3: fractions of 10 ------------------------------------------------------------ */

static void rule_fraction(const char *t, cands *cs) {
    for (const char *p = t; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > t && (isdigit((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == ','))) continue;
        double v;
        const char *e = read_num(p, &v);
        if (!e) continue;
        const char *q = skip_spaces(e);
        int hit = 0;
        if (*q == '/') {
            double m;
            const char *s = read_num(skip_spaces(q + 1), &m);
            if (s && m == 10) hit = 1;
        } else if (!strncasecmp(q, "out of 10", 9) && !isdigit((unsigned char)q[9])) {
            hit = 1;
        } else if (!strncmp(q, "из 10", strlen("из 10")) && !isdigit((unsigned char)q[strlen("из 10")])) {
            hit = 1;
        } else if (!strncmp(e, "分", strlen("分"))) {
            /* "满分10分" (full marks: 10) states the scale, not a score. */
            const char *full = "满分";
            size_t fl = strlen(full);
            hit = !(p - t >= (ptrdiff_t)fl && !strncmp(p - fl, full, fl));
        }
        if (hit) push(cs, (cand){v, 0, 0});
    }
}

/* ---- rule 4: a lone number -------------------------------------------------------------- */

static int rule_lone(const char *t, double *v) {
    const char *p = t;
    while (*p && (isspace((unsigned char)*p) || strchr("*\"'`_", *p))) p++;
    const char *e = read_num(p, v);
    if (!e) return 0;
    while (*e && (isspace((unsigned char)*e) || strchr("*\"'`_.", *e))) e++;
    return *e == 0;
}

/* ---- the parser --------------------------------------------------------------------------- */

static int decide(cands *cs, const char *rule, double *score, hone_err *err) {
    for (int i = 0; i < cs->n; i++) {
        if (cs->c[i].bad == 1)
            return hone_err_set(err, HONE_EFORMAT, "judge reply: %s score %g is negative", rule, cs->c[i].v);
        if (cs->c[i].bad == 2)
            return hone_err_set(err, HONE_EFORMAT, "judge reply: %s score %g is a range, not one number", rule, cs->c[i].v);
        if (cs->c[i].bad == 3)
            return hone_err_set(err, HONE_EFORMAT, "judge reply: %s score %g is out of %d, not out of 10", rule,
                                cs->c[i].v, cs->c[i].scale);
    }
    for (int i = 1; i < cs->n; i++)
        if (cs->c[i].v != cs->c[0].v)
            return hone_err_set(err, HONE_EFORMAT, "judge reply: ambiguous, %s scores %g and %g", rule,
                                cs->c[0].v, cs->c[i].v);
    *score = cs->c[0].v;
    return HONE_OK;
}

int hone_ab_judge_parse(const char *reply, double *score, hone_err *err) {
    *score = NAN;
    if (!reply) return hone_err_set(err, HONE_EFORMAT, "judge reply: none");
    char *t = normalise(reply);
    if (!t) return hone_err_set(err, HONE_ENOMEM, "judge reply: out of memory");
    int rc = HONE_OK;
    double v = NAN;
    const char *p = t;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) {
        rc = hone_err_set(err, HONE_EFORMAT, "judge reply: empty%s", *reply ? " (after dropping the reasoning block)" : "");
        goto out;
    }
    const char *why = NULL;
    cands cs = {.n = 0};
    if (rule_json(t, &v, &why)) {
        if (why) rc = hone_err_set(err, HONE_EFORMAT, "judge reply: %s", why);
    } else if (rule_labelled(t, &cs), cs.n) {
        rc = decide(&cs, "labelled", &v, err);
    } else if (rule_fraction(t, &cs), cs.n) {
        rc = decide(&cs, "fraction", &v, err);
    } else if (!rule_lone(t, &v)) {
        rc = hone_err_set(err, HONE_EFORMAT, "judge reply: no score found (no JSON \"score\", no \"Score: N\", no N/10, not a lone number)");
    }
    if (rc == HONE_OK && !(v >= 0 && v <= 10))
        rc = hone_err_set(err, HONE_EFORMAT, "judge reply: score %g is outside 0-10", v);
    if (rc == HONE_OK) *score = v;
out:
    free(t);
    return rc;
}
