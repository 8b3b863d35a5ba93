/* check.c: `hone data check` as a library call (hone_ds_check, rules in include/hone/dataset.h).
 *
 * All files are loaded in collect mode, then every record of every file gets one global index
 * in (file, line) order, so "earlier" is one integer comparison. Exact duplicates, equal
 * normalised texts and equal prompts are found with one string-keyed hash map each (the key's
 * first index is stored; later records look it up). Near duplicates: a record's normalised text
 * becomes a set of 5-character shingles (FNV-1a 64 of the UTF-8 bytes, sorted, unique), its
 * MinHash signature (64 values: min over shingles of splitmix64(shingle ^ salt_k)) is cut into
 * 16 bands of 4, and each band's hash indexes a bucket of earlier records; candidates from the
 * buckets are verified with the exact Jaccard similarity of the two shingle sets.
 * Token statistics reuse hone_ds_tokenize, so they are what `hone train` will see.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/ds_internal.h"
#include "hone/chat.h"
#include "hone/dataset.h"
#include "hone/tokenizer.h"
#include "util/err.h"

enum { NH = 64, BANDS = 16, ROWS = 4, SHINGLE = 5 };

/* ---- a string -> first index map (open addressing) ---- */

typedef struct smap {
    uint64_t *hash;
    char **key;
    size_t *val;
    size_t cap, n;
} smap;

static int smap_init(smap *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n + 16) m->cap <<= 1;
    m->hash = calloc(m->cap, sizeof *m->hash);
    m->key = calloc(m->cap, sizeof *m->key);
    m->val = calloc(m->cap, sizeof *m->val);
    m->n = 0;
    return m->hash && m->key && m->val ? HONE_OK : HONE_ENOMEM;
}

static void smap_free(smap *m) {
    free(m->hash);
    free(m->key);
    free(m->val);
}

/* Returns the stored index for key, inserting val (key is borrowed: it must outlive m) when absent. */
static size_t smap_first(smap *m, char *key, size_t val) {
    uint64_t h = ds_fnv1a(key, strlen(key), DS_FNV_OFFSET);
    size_t i = (size_t)h & (m->cap - 1);
    while (m->key[i]) {
        if (m->hash[i] == h && !strcmp(m->key[i], key)) return m->val[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->hash[i] = h;
    m->key[i] = key;
    m->val[i] = val;
    m->n++;
    return val;
}

/* ---- growing byte buffer ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

/* Appends the normalised form of s (see hone/dataset.h), a space between pieces. */
static void buf_norm(buf *b, const char *s) {
    int space = b->n > 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            space = b->n > 0;
            continue;
        }
        if (space) buf_add(b, " ", 1);
        space = 0;
        char ch = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        buf_add(b, &ch, 1);
    }
}

/* ---- per record ---- */

typedef struct shset {
    uint64_t *v; /* sorted, unique */
    size_t n;
} shset;

typedef struct rec {
    size_t file;
    const hone_ds_record *r;
    char *canon;   /* roles + contents, exact */
    char *norm;    /* normalised prompt "\x1e" normalised answer */
    char *prompt;  /* ds_prompt_key; NULL for text */
    shset sp, sa;  /* shingles of the normalised prompt and answer (text: answer only) */
    uint64_t mh[NH]; /* MinHash of sp ∪ sa */
    int flagged;   /* got a duplicate-family diagnostic */
} rec;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* SHINGLE consecutive characters of s (a shorter non-empty s: one shingle, itself). */
static int shingles(const char *s, shset *out) {
    size_t n = strlen(s), nch = 0;
    size_t *starts = malloc((n + 1) * sizeof *starts);
    out->v = malloc((n + 1) * sizeof *out->v);
    out->n = 0;
    if (!starts || !out->v) {
        free(starts);
        return HONE_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) starts[nch++] = i;
    starts[nch] = n;
    if (nch > 0 && nch < SHINGLE) out->v[out->n++] = ds_fnv1a(s, n, DS_FNV_OFFSET);
    for (size_t k = 0; k + SHINGLE <= nch; k++)
        out->v[out->n++] = ds_fnv1a(s + starts[k], starts[k + SHINGLE] - starts[k], DS_FNV_OFFSET);
    free(starts);
    qsort(out->v, out->n, sizeof *out->v, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < out->n; i++)
        if (!u || out->v[i] != out->v[u - 1]) out->v[u++] = out->v[i];
    out->n = u;
    return HONE_OK;
}

static int rec_build(rec *x) {
    const hone_ds_record *r = x->r;
    buf c = {0}, np = {0}, na = {0}, nm = {0};
    if (r->format == HONE_DS_TEXT) {
        buf_str(&c, "text\x1f");
        buf_str(&c, r->text);
        buf_norm(&na, r->text);
    } else {
        for (size_t i = 0; i < r->n_msgs; i++) {
            buf_str(&c, r->msgs[i].role);
            buf_add(&c, "\x1f", 1);
            buf_str(&c, r->msgs[i].content);
            buf_add(&c, "\x1e", 1);
            buf_norm(i + 1 < r->n_msgs ? &np : &na, r->msgs[i].content);
        }
        if (!(x->prompt = ds_prompt_key(r))) c.oom = 1;
    }
    buf_add(&np, "", 0);
    buf_add(&na, "", 0);
    buf_add(&c, "", 0);
    buf_str(&nm, np.p ? np.p : "");
    buf_add(&nm, "\x1e", 1);
    buf_str(&nm, na.p ? na.p : "");
    int rc = c.oom || np.oom || na.oom || nm.oom ? HONE_ENOMEM : HONE_OK;
    if (!rc) rc = shingles(np.p, &x->sp);
    if (!rc) rc = shingles(na.p, &x->sa);
    free(np.p);
    free(na.p);
    x->canon = c.p;
    x->norm = nm.p;
    if (rc) return rc;
    for (int k = 0; k < NH; k++) {
        uint64_t salt = ds_splitmix64(0x5eedull + (uint64_t)k), m = UINT64_MAX;
        for (int part = 0; part < 2; part++) {
            const shset *ss = part ? &x->sa : &x->sp;
            uint64_t tag = part ? 0x0a0a0a0a0a0a0a0aull : 0; /* prompt and answer shingles are distinct */
            for (size_t i = 0; i < ss->n; i++) {
                uint64_t v = ds_splitmix64(ss->v[i] ^ tag ^ salt);
                if (v < m) m = v;
            }
        }
        x->mh[k] = m;
    }
    return HONE_OK;
}

static double jaccard_set(const shset *a, const shset *b) {
    size_t i = 0, j = 0, inter = 0;
    if (!a->n && !b->n) return 1.0;
    while (i < a->n && j < b->n) {
        if (a->v[i] == b->v[j]) inter++, i++, j++;
        else if (a->v[i] < b->v[j]) i++;
        else j++;
    }
    return (double)inter / (double)(a->n + b->n - inter);
}

/* The near-duplicate similarity: the smaller of the prompts' and the answers' Jaccard. */
static double similarity(const rec *a, const rec *b) {
    double p = jaccard_set(&a->sp, &b->sp), q = jaccard_set(&a->sa, &b->sa);
    return p < q ? p : q;
}

/* ---- buckets: band hash -> list of record indices ---- */

typedef struct bucket {
    uint64_t key;
    size_t *v;
    size_t n, cap;
    int used;
} bucket;

static bucket *bucket_get(bucket *tab, size_t cap, uint64_t key) {
    size_t i = (size_t)key & (cap - 1);
    while (tab[i].used && tab[i].key != key) i = (i + 1) & (cap - 1);
    tab[i].used = 1;
    tab[i].key = key;
    return &tab[i];
}

static int bucket_push(bucket *b, size_t v) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4;
        size_t *p = realloc(b->v, cap * sizeof *p);
        if (!p) return HONE_ENOMEM;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = v;
    return HONE_OK;
}

/* ---- the check ---- */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static int empty_checks(hone_ds_diags *dg, const hone_ds *ds, const hone_ds_record *r, size_t *n_empty) {
    int rc = HONE_OK;
    const char *f = ds->path;
    if (r->format == HONE_DS_TEXT) {
        if (ds_is_blank(r->text)) {
            ds_path_el p = {"text", 0};
            (*n_empty)++;
            rc = hone_ds_diag_add(dg, HONE_DS_ERROR, HONE_DSK_EMPTY, f, r->line, ds_column(r->raw, r->raw_len, &p, 1),
                                  "text: %s", *r->text ? "only whitespace" : "empty");
        }
        return rc;
    }
    for (size_t i = 0; i < r->n_msgs && !rc; i++) {
        const hone_chat_msg *m = &r->msgs[i];
        if (!ds_is_blank(m->content)) continue;
        int sys = !strcmp(m->role, "system");
        const char *what = *m->content ? "only whitespace" : "empty";
        (*n_empty)++;
        if (r->format == HONE_DS_MESSAGES) {
            ds_path_el p[3] = {{"messages", 0}, {NULL, i}, {"content", 0}};
            rc = hone_ds_diag_add(dg, sys ? HONE_DS_WARNING : HONE_DS_ERROR, HONE_DSK_EMPTY, f, r->line,
                                  ds_column(r->raw, r->raw_len, p, 3), "messages[%zu].content: %s %s message", i,
                                  what, m->role);
        } else {
            const char *key = sys ? "system" : !strcmp(m->role, "user") ? "prompt" : "completion";
            ds_path_el p = {key, 0};
            rc = hone_ds_diag_add(dg, sys ? HONE_DS_WARNING : HONE_DS_ERROR, HONE_DSK_EMPTY, f, r->line,
                                  ds_column(r->raw, r->raw_len, &p, 1), "%s: %s", key, what);
        }
    }
    return rc;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int hone_ds_check(const char *const *paths, size_t n_paths, const hone_ds_check_opts *o, hone_ds_check_report *rep,
                  hone_err *err) {
    memset(rep, 0, sizeof *rep);
    hone_ds_check_opts dflt = {0};
    if (!o) o = &dflt;
    double thr = o->near_threshold > 0 ? o->near_threshold : 0.8;
    hone_ds **dss = calloc(n_paths ? n_paths : 1, sizeof *dss);
    rep->files = calloc(n_paths ? n_paths : 1, sizeof *rep->files);
    if (!dss || !rep->files) {
        free(dss);
        return hone_err_set(err, HONE_ENOMEM, "data check: out of memory");
    }
    rep->n_files = n_paths;
    hone_ds_diags *dg = &rep->diags;
    int rc = HONE_OK;
    size_t total = 0;
    for (size_t f = 0; f < n_paths && !rc; f++) {
        size_t e0 = dg->n_errors;
        rc = hone_ds_load(&dss[f], paths[f], dg, err);
        if (rc) break;
        hone_ds_file_stats *st = &rep->files[f];
        st->path = strdup(paths[f]);
        st->format = dss[f]->format;
        st->n_lines = (size_t)dss[f]->n_lines;
        st->n_records = dss[f]->n;
        st->n_bad = dg->n_errors - e0; /* the loader reports one error per bad record */
        total += dss[f]->n;
    }
    rec *recs = rc ? NULL : calloc(total ? total : 1, sizeof *recs);
    smap exact = {0}, normed = {0}, prompts = {0};
    size_t nb_cap = 16;
    while (nb_cap < 2 * total + 16) nb_cap <<= 1;
    bucket *bands = rc ? NULL : calloc(BANDS * nb_cap, sizeof *bands);
    if (!rc && (!recs || !bands || smap_init(&exact, total) || smap_init(&normed, total) || smap_init(&prompts, total)))
        rc = hone_err_set(err, HONE_ENOMEM, "data check: out of memory");
    size_t k = 0;
    for (size_t f = 0; f < n_paths && !rc; f++)
        for (size_t i = 0; i < dss[f]->n && !rc; i++, k++) {
            recs[k].file = f;
            recs[k].r = &dss[f]->recs[i];
            if (rec_build(&recs[k])) rc = hone_err_set(err, HONE_ENOMEM, "data check: out of memory");
        }
    /* empties, then the duplicate family */
    for (size_t i = 0; i < total && !rc; i++) {
        rec *x = &recs[i];
        const hone_ds *ds = dss[x->file];
        hone_ds_file_stats *st = &rep->files[x->file];
        const char *fp = ds->path;
        if ((rc = empty_checks(dg, ds, x->r, &st->n_empty))) break;
        size_t j = smap_first(&exact, x->canon, i);
        if (j != i) {
            const rec *y = &recs[j];
            x->flagged = 1;
            if (y->file == x->file) {
                st->n_duplicate++;
                rc = hone_ds_diag_add(dg, HONE_DS_WARNING, HONE_DSK_DUPLICATE, fp, x->r->line, 1,
                                      "duplicate of line %d", y->r->line);
            } else {
                st->n_leak++;
                rc = hone_ds_diag_add(dg, HONE_DS_ERROR, HONE_DSK_LEAK, fp, x->r->line, 1,
                                      "the same record is in %s:%d (leak across splits)", base_name(dss[y->file]->path),
                                      y->r->line);
            }
        }
        size_t jn = smap_first(&normed, x->norm, i);
        size_t jp = x->prompt ? smap_first(&prompts, x->prompt, i) : i;
        /* near: the earliest of equal-normalised and LSH candidates */
        int skip = x->flagged || !strcmp(x->norm, "\x1e"); /* nothing left after normalising: the empty check covers it */
        size_t near = skip || jn == i ? SIZE_MAX : jn;
        double best_j = near != SIZE_MAX ? 1.0 : 0.0;
        for (int b = 0; b < BANDS && !rc; b++) {
            uint64_t h = ds_fnv1a(&x->mh[b * ROWS], ROWS * sizeof(uint64_t), DS_FNV_OFFSET ^ (uint64_t)b);
            bucket *bk = bucket_get(bands + (size_t)b * nb_cap, nb_cap, h);
            if (!skip)
                for (size_t q = 0; q < bk->n; q++) {
                    size_t c = bk->v[q];
                    if (c >= near) continue;
                    double jac = similarity(x, &recs[c]);
                    if (jac >= thr) near = c, best_j = jac;
                }
            if (bucket_push(bk, i)) rc = hone_err_set(err, HONE_ENOMEM, "data check: out of memory");
        }
        if (rc) break;
        if (!skip && near != SIZE_MAX) {
            const rec *y = &recs[near];
            x->flagged = 1;
            int same = y->file == x->file;
            if (same) st->n_near_duplicate++;
            else st->n_near_leak++;
            rc = hone_ds_diag_add(dg, HONE_DS_WARNING, same ? HONE_DSK_NEAR_DUPLICATE : HONE_DSK_NEAR_LEAK, fp,
                                  x->r->line, 1, "near duplicate (similarity %.2f) of %s%s%d", best_j,
                                  same ? "line " : base_name(dss[y->file]->path), same ? "" : ":", y->r->line);
        }
        if (!rc && !x->flagged && jp != i && recs[jp].file != x->file) {
            const rec *y = &recs[jp];
            x->flagged = 1;
            st->n_near_leak++;
            rc = hone_ds_diag_add(dg, HONE_DS_WARNING, HONE_DSK_NEAR_LEAK, fp, x->r->line, 1,
                                  "the same prompt is in %s:%d (with another answer)", base_name(dss[y->file]->path),
                                  y->r->line);
        }
    }
    /* tokens */
    for (size_t f = 0; f < n_paths && !rc && o->tok; f++) {
        hone_ds *ds = dss[f];
        hone_ds_file_stats *st = &rep->files[f];
        size_t *lens = malloc((ds->n ? ds->n : 1) * sizeof *lens), *ans = malloc((ds->n ? ds->n : 1) * sizeof *ans);
        size_t nl = 0;
        if (!lens || !ans) {
            free(lens);
            free(ans);
            rc = hone_err_set(err, HONE_ENOMEM, "data check: out of memory");
            break;
        }
        st->have_tokens = 1;
        hone_ds_tok_opts to = {.tok = o->tok, .tmpl = o->tmpl, .mask_prompt = o->mask_prompt};
        for (size_t i = 0; i < ds->n && !rc; i++) {
            const hone_ds_record *r = &ds->recs[i];
            hone_ds_example ex;
            hone_err e2 = {0};
            int trc = hone_ds_tokenize(&to, ds, r, &ex, &e2);
            if (trc == HONE_ENOMEM) { rc = hone_err_set(err, trc, "%s", e2.msg); break; }
            if (trc) {
                st->n_template++;
                /* e2 is "FILE:LINE:1: ..." already: keep what follows */
                const char *m = e2.msg, *p = strstr(m, ":1: ");
                rc = hone_ds_diag_add(dg, HONE_DS_ERROR, HONE_DSK_TEMPLATE, ds->path, r->line, 1, "%s", p ? p + 4 : m);
                continue;
            }
            lens[nl] = ex.n;
            ans[nl++] = ex.answer_tokens;
            st->tok_total += ex.n;
            st->supervised_total += ex.n_supervised;
            size_t lim = o->max_seq_length > 0 && (size_t)o->max_seq_length < ex.n ? (size_t)o->max_seq_length : ex.n;
            if (o->max_seq_length > 0 && ex.n > (size_t)o->max_seq_length) {
                st->n_too_long++;
                rc = hone_ds_diag_add(dg, HONE_DS_WARNING, HONE_DSK_TOO_LONG, ds->path, r->line, 1,
                                      "%zu tokens > --max-seq-length %lld (training truncates it)", ex.n,
                                      (long long)o->max_seq_length);
            }
            size_t sup = 0;
            for (size_t t = 1; t < lim; t++) sup += ex.mask[t];
            if (!rc && o->mask_prompt && !sup) {
                st->n_no_supervised++;
                rc = hone_ds_diag_add(dg, HONE_DS_WARNING, HONE_DSK_NO_SUPERVISED, ds->path, r->line, 1,
                                      "no supervised token under --mask-prompt%s (training skips it)",
                                      lim < ex.n ? " within --max-seq-length" : "");
            }
            hone_ds_example_free(&ex);
        }
        if (nl) {
            qsort(lens, nl, sizeof *lens, cmp_size);
            st->tok_min = lens[0];
            st->tok_max = lens[nl - 1];
            st->tok_median = nl % 2 ? lens[nl / 2] : (lens[nl / 2 - 1] + lens[nl / 2]) / 2;
            size_t k95 = (95 * nl + 99) / 100; /* ceil(0.95 n) */
            st->tok_p95 = lens[(k95 ? k95 : 1) - 1];
            qsort(ans, nl, sizeof *ans, cmp_size);
            if (o->answer_cap > 0) {
                st->answer_cap = o->answer_cap;
                for (size_t i = 0; i < nl; i++) st->n_at_cap += ans[i] >= (size_t)o->answer_cap;
            } else {
                size_t mx = ans[nl - 1], cnt = 0;
                for (size_t i = 0; i < nl; i++) cnt += ans[i] == mx;
                if (mx >= 32 && cnt >= 2 && cnt * 20 >= nl) {
                    st->answer_cap = (int64_t)mx;
                    st->n_at_cap = cnt;
                }
            }
        }
        free(lens);
        free(ans);
    }
    if (!rc) {
        ds_diags_sort_files(dg, paths, n_paths);
        for (size_t i = 0; i < dg->n; i++)
            for (size_t f = 0; f < n_paths; f++)
                if (!strcmp(dg->v[i].file, paths[f])) {
                    if (dg->v[i].severity == HONE_DS_ERROR) rep->files[f].n_errors++;
                    else rep->files[f].n_warnings++;
                    break;
                }
    }
    for (size_t i = 0; i < total && recs; i++) {
        free(recs[i].canon);
        free(recs[i].norm);
        free(recs[i].prompt);
        free(recs[i].sp.v);
        free(recs[i].sa.v);
    }
    free(recs);
    if (bands)
        for (size_t i = 0; i < BANDS * nb_cap; i++) free(bands[i].v);
    free(bands);
    smap_free(&exact);
    smap_free(&normed);
    smap_free(&prompts);
    for (size_t f = 0; f < n_paths; f++) hone_ds_free(dss[f]);
    free(dss);
    if (rc) hone_ds_check_report_free(rep);
    return rc;
}

void hone_ds_check_report_free(hone_ds_check_report *rep) {
    if (!rep) return;
    for (size_t f = 0; f < rep->n_files && rep->files; f++) free(rep->files[f].path);
    free(rep->files);
    hone_ds_diags_free(&rep->diags);
    memset(rep, 0, sizeof *rep);
}

char *ds_prompt_key(const hone_ds_record *r) {
    if (r->format == HONE_DS_TEXT) return NULL;
    buf pr = {0};
    for (size_t i = 0; i + 1 < r->n_msgs; i++) {
        buf_str(&pr, r->msgs[i].role);
        buf_add(&pr, ":", 1);
        buf_norm(&pr, r->msgs[i].content);
        buf_add(&pr, "\x1e", 1);
    }
    if (!pr.p) buf_add(&pr, "", 0);
    if (pr.oom) {
        free(pr.p);
        return NULL;
    }
    return pr.p;
}
