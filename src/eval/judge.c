/* judge.c: `hone ab judge`: grades the stored answers of an experiment with its judges.
 *
 * One pass builds the work list: every judge, every mode it has, every cell of the spec
 * whose answer (and, for pairwise, whose baseline answer) is stored without an error;
 * pairwise work comes in both presentation orders. Work whose judgement row already holds
 * a score is skipped, so a rerun resumes where a killed one stopped and retries exactly the
 * judgements recorded as missing. Each judgement is asked through the caller's function
 * (hone_ab_judge_fn; judge_llm.c gives the one over hone/llm.h), parsed by
 * hone_ab_judge_parse, and written in its own transaction: score, or NULL with the raw
 * reply and the reason. With opts.concurrency > 1, that many worker threads share the
 * list (the judge function must then be thread-safe; judge_llm.c's is). Prompt layout and
 * parsing rules: hone/ab.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* ---- labels and prompts ----------------------------------------------------------------- */

static const char *judge_base(const hone_ab_spec *s, size_t j) {
    const hone_ab_judge *jd = &s->judges[j];
    return jd->model >= 0 ? s->models[jd->model].id : jd->inline_model ? jd->inline_model->id : NULL;
}

char *hone_ab_judge_label(const hone_ab_spec *s, size_t j) {
    const char *base = judge_base(s, j);
    int clash = !base;
    for (size_t k = 0; k < s->n_judges && !clash; k++) {
        const char *b = judge_base(s, k);
        clash = k != j && b && !strcmp(b, base) && (s->judges[k].modes & s->judges[j].modes);
    }
    size_t n = (base ? strlen(base) : 5) + 24;
    char *out = malloc(n);
    if (!out) return NULL;
    if (clash) snprintf(out, n, "%s#%zu", base ? base : "judge", j);
    else snprintf(out, n, "%s", base);
    return out;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s) {
    size_t k = strlen(s);
    if (b->oom) return;
    if (b->n + k + 1 > b->cap) {
        size_t cap = (b->n + k + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, k + 1);
    b->n += k;
}

static char *sb_done(sbuf *b) {
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    return b->p;
}

/* The rubric without trailing blank lines, then the sections. */
static void sb_rubric(sbuf *b, const char *rubric) {
    size_t k = strlen(rubric);
    while (k && (rubric[k - 1] == '\n' || rubric[k - 1] == '\r' || rubric[k - 1] == ' ')) k--;
    char *r = strndup(rubric, k);
    if (!r) {
        b->oom = 1;
        return;
    }
    sb_add(b, r);
    free(r);
}

char *hone_ab_judge_prompt_score(const char *rubric, const hone_ab_probe *p, const char *answer) {
    sbuf b = {0};
    sb_rubric(&b, rubric);
    sb_add(&b, "\n\n=== Prompt ===\n");
    sb_add(&b, p->prompt);
    sb_add(&b, "\n\n=== Answer ===\n");
    sb_add(&b, answer);
    sb_add(&b, "\n\n=== Signal ===\n");
    sb_add(&b, p->signal);
    sb_add(&b, "\n\n=== End ===\n");
    return sb_done(&b);
}

char *hone_ab_judge_prompt_pairwise(const char *rubric, const hone_ab_probe *p, const char *first,
                                    const char *second) {
    sbuf b = {0};
    sb_rubric(&b, rubric);
    sb_add(&b, "\n\n=== Prompt ===\n");
    sb_add(&b, p->prompt);
    sb_add(&b, "\n\n=== Answer 1 ===\n");
    sb_add(&b, first);
    sb_add(&b, "\n\n=== Answer 2 ===\n");
    sb_add(&b, second);
    sb_add(&b, "\n\n=== Signal ===\n");
    sb_add(&b, p->signal);
    sb_add(&b, "\n\n=== End ===\n");
    return sb_done(&b);
}

/* ---- the work list ------------------------------------------------------------------------ */

typedef struct task {
    size_t judge;
    int pairwise;
    size_t probe;
    size_t a, b; /* indices into the answers array: score: a; pairwise: a = baseline, b = condition */
    int ord;
} task;

typedef struct work {
    hone_ab_answer *ans; /* one per cell, id 0 when absent or failed */
    uint64_t n_cells;
    task *t;
    size_t n, cap;
} work;

static int push_task(work *w, task t, hone_err *err) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        task *p = realloc(w->t, cap * sizeof *p);
        if (!p) return hone_err_set(err, HONE_ENOMEM, "judge: out of memory");
        w->t = p;
        w->cap = cap;
    }
    w->t[w->n++] = t;
    return HONE_OK;
}

static void work_free(work *w) {
    for (uint64_t i = 0; i < w->n_cells; i++)
        if (w->ans[i].model) hone_ab_answer_free(&w->ans[i]);
    free(w->ans);
    free(w->t);
}

/* Loads every cell's answer; a failed answer is dropped (id 0). */
static int load_answers(const hone_ab_spec *s, hone_ab_store *st, work *w, hone_err *err) {
    w->n_cells = hone_ab_spec_n_cells(s);
    w->ans = calloc(w->n_cells ? w->n_cells : 1, sizeof *w->ans);
    if (!w->ans) return hone_err_set(err, HONE_ENOMEM, "judge: out of memory");
    for (uint64_t i = 0; i < w->n_cells; i++) {
        hone_ab_cell c;
        int rc = hone_ab_spec_cell(s, i, &c, err);
        if (rc) return rc;
        hone_err e2 = {0};
        rc = hone_ab_store_get_answer(st, s->models[c.model].id, s->conditions[c.condition].id,
                                      s->probes[c.probe].id, c.sample, &w->ans[i], &e2);
        if (rc == HONE_ENOTFOUND) continue;
        if (rc) {
            if (err) *err = e2;
            return rc;
        }
        if (w->ans[i].error || !w->ans[i].answer) {
            hone_ab_answer_free(&w->ans[i]);
            w->ans[i].id = 0;
        }
    }
    return HONE_OK;
}

/* Is the judgement already stored with a score? */
static int have_score(hone_ab_store *st, const char *label, const char *kind, int64_t a, int64_t b, int ord,
                      int *have, hone_err *err) {
    double v;
    hone_err e2 = {0};
    int rc = hone_ab_store_get_score(st, label, kind, a, b, ord, &v, &e2);
    *have = rc == HONE_OK && !isnan(v);
    if (rc == HONE_ENOTFOUND) return HONE_OK;
    if (rc && err) *err = e2;
    return rc;
}

static int build_work(const hone_ab_spec *s, hone_ab_store *st, char **labels, work *w,
                      hone_ab_judge_counts *cnt, hone_err *err) {
    uint64_t per_model = (uint64_t)s->n_conditions * s->n_probes * s->samples;
    uint64_t per_cond = (uint64_t)s->n_probes * s->samples;
    for (size_t j = 0; j < s->n_judges; j++) {
        unsigned modes = s->judges[j].modes;
        for (uint64_t i = 0; i < w->n_cells; i++) {
            hone_ab_cell c;
            int rc = hone_ab_spec_cell(s, i, &c, err);
            if (rc) return rc;
            if (modes & HONE_AB_JUDGE_SCORE) {
                if (!w->ans[i].id) {
                    cnt->no_answer++;
                } else {
                    int have;
                    cnt->total++;
                    if ((rc = have_score(st, labels[j], "score", w->ans[i].id, 0, 0, &have, err))) return rc;
                    if (have) cnt->present++;
                    else if ((rc = push_task(w, (task){j, 0, c.probe, i, 0, 0}, err))) return rc;
                }
            }
            if ((modes & HONE_AB_JUDGE_PAIRWISE) && c.condition != (uint32_t)s->baseline) {
                uint64_t bi = c.model * per_model + (uint64_t)s->baseline * per_cond + (uint64_t)c.probe * s->samples + c.sample;
                if (!w->ans[i].id || !w->ans[bi].id) {
                    cnt->no_answer++;
                    continue;
                }
                for (int ord = 0; ord < 2; ord++) {
                    int have;
                    cnt->total++;
                    if ((rc = have_score(st, labels[j], "pairwise", w->ans[bi].id, w->ans[i].id, ord, &have, err)))
                        return rc;
                    if (have) cnt->present++;
                    else if ((rc = push_task(w, (task){j, 1, c.probe, bi, i, ord}, err))) return rc;
                }
            }
        }
    }
    return HONE_OK;
}

/* ---- running ---------------------------------------------------------------------------- */

/* The workers share the list: each takes the next task, asks, parses and stores it; the
 * counters, the run of consecutive failures and the progress callback are under `mu`. */
typedef struct jrun {
    const hone_ab_spec *s;
    hone_ab_store *st;
    const hone_ab_judge_opts *o;
    const work *w;
    char **labels;
    hone_ab_judge_counts *cnt;
    pthread_mutex_t mu;
    size_t next, done;
    int fails, max_fail, stop, rc;
    hone_err err;
} jrun;

static void jrun_fail(jrun *r, int rc, const hone_err *e) { /* under mu */
    if (!r->rc) {
        r->rc = rc;
        r->err = *e;
    }
    r->stop = 1;
}

static void *judge_worker(void *arg) {
    jrun *r = arg;
    const hone_ab_spec *s = r->s;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->stop || r->next == r->w->n) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        const task *t = &r->w->t[r->next++];
        pthread_mutex_unlock(&r->mu);
        const hone_ab_judge *jd = &s->judges[t->judge];
        const hone_ab_probe *p = &s->probes[t->probe];
        const hone_ab_answer *a = &r->w->ans[t->a], *b = t->pairwise ? &r->w->ans[t->b] : NULL;
        char *prompt = t->pairwise ? hone_ab_judge_prompt_pairwise(jd->rubric, p, t->ord ? b->answer : a->answer,
                                                                    t->ord ? a->answer : b->answer)
                                   : hone_ab_judge_prompt_score(jd->rubric, p, a->answer);
        hone_err e = {0};
        if (!prompt) {
            hone_err_set(&e, HONE_ENOMEM, "judge: out of memory");
            pthread_mutex_lock(&r->mu);
            jrun_fail(r, HONE_ENOMEM, &e);
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
        char *reply = NULL;
        double lat = 0, score = NAN;
        hone_err ce = {0};
        int called = r->o->call(r->o->ctx, s, t->judge, prompt, &reply, &lat, &ce);
        int crc = called;
        if (crc == HONE_OK) crc = hone_ab_judge_parse(reply, &score, &ce);
        else if (!ce.msg[0]) snprintf(ce.msg, sizeof ce.msg, "judge call failed (%d)", crc);
        hone_ab_judgement jg = {
            .run_id = r->o->run_id, .judge = r->labels[t->judge], .kind = t->pairwise ? "pairwise" : "score",
            .answer_a = a->id, .answer_b = b ? b->id : 0, .ord = t->ord, .prompt = prompt, .raw = reply,
            .score = crc == HONE_OK ? score : NAN, .error = crc == HONE_OK ? NULL : ce.msg, .latency_s = lat,
        };
        int rc = hone_ab_store_put_judgement(r->st, &jg, 1, NULL, &e);
        free(prompt);
        free(reply);
        pthread_mutex_lock(&r->mu);
        if (rc) {
            jrun_fail(r, rc, &e);
        } else {
            if (crc == HONE_OK) r->cnt->scored++;
            else r->cnt->missing++;
            r->fails = called == HONE_OK ? 0 : r->fails + 1;
            r->done++;
            if (r->o->progress) r->o->progress(r->o->progress_ctx, r->done, r->w->n);
            if (r->fails >= r->max_fail) {
                hone_err_set(&e, HONE_EIO, "judge %s: %d calls failed in a row, stopping (last: %s)",
                             r->labels[t->judge], r->fails, ce.msg);
                jrun_fail(r, HONE_EIO, &e);
            }
        }
        pthread_mutex_unlock(&r->mu);
    }
}

int hone_ab_judge_run(const hone_ab_spec *s, hone_ab_store *st, const hone_ab_judge_opts *o,
                      hone_ab_judge_counts *counts, hone_err *err) {
    hone_ab_judge_counts cnt = {0};
    if (counts) *counts = cnt;
    if (!o || !o->call) return hone_err_set(err, HONE_EARG, "%s: judge: no judge function given", s->path);
    int rc = hone_ab_store_put_design(st, s, err);
    if (rc) return rc;
    if (s->n_judges == 0) return HONE_OK;
    char **labels = calloc(s->n_judges, sizeof *labels);
    work w = {0};
    if (!labels) return hone_err_set(err, HONE_ENOMEM, "judge: out of memory");
    for (size_t j = 0; j < s->n_judges; j++)
        if (!(labels[j] = hone_ab_judge_label(s, j))) {
            rc = hone_err_set(err, HONE_ENOMEM, "judge: out of memory");
            goto out;
        }
    if ((rc = load_answers(s, st, &w, err))) goto out;
    if ((rc = build_work(s, st, labels, &w, &cnt, err))) goto out;

    jrun r = {.s = s, .st = st, .o = o, .w = &w, .labels = labels, .cnt = &cnt,
              .max_fail = o->max_consecutive_failures > 0 ? o->max_consecutive_failures : 5};
    pthread_mutex_init(&r.mu, NULL);
    size_t nt = o->concurrency > 1 ? (size_t)o->concurrency : 1;
    if (nt > w.n) nt = w.n ? w.n : 1;
    pthread_t *th = nt > 1 ? calloc(nt, sizeof *th) : NULL;
    size_t started = 0;
    for (size_t i = 0; th && i < nt; i++) {
        if (pthread_create(&th[i], NULL, judge_worker, &r)) break;
        started++;
    }
    if (!started) judge_worker(&r); /* one worker, or threads unavailable: this thread */
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    pthread_mutex_destroy(&r.mu);
    rc = r.rc;
    if (rc && err) *err = r.err;
out:
    if (counts) *counts = cnt;
    work_free(&w);
    for (size_t j = 0; j < s->n_judges; j++) free(labels[j]);
    free(labels);
    return rc;
}
