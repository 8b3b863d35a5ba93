/* sched.c: the scheduler thread, the only thread that touches the engine.
 *
 * `parallel` slots, each a hone_session sized for the server's context (its KV
 * cache pages are touched only as positions fill). A queued job is admitted
 * into a free slot (its adapter set, sampler, stop strings and decoder made),
 * then every step is one or two hone_session_eval_batch passes over all busy
 * slots: each decoding slot adds its last sampled token, each slot still
 * reading its prompt adds its next chunk (at most n_batch rows in a pass), and
 * each slot whose logits are ready samples with its own sampler. This is
 * continuous batching: a new prompt does not stall the others' decoding, and
 * every pass reads the weights once for all its rows.
 *
 * Prompt chunks join the decode rows' pass only when at least MIX_MIN_DECODE
 * slots decode: the fast kernels take a pass of fewer than 4 rows one row at a
 * time (the path of a single-session decode) and larger passes in panels, which
 * round differently; so with 1 to 3 decoders, prompts go in a pass of their own
 * and the decode rows keep the one-row path, and a greedy answer equals
 * `hone generate --temp 0` exactly. (With 4 or more concurrent sequences each
 * row may differ from a single-session decode by rounding, ~1e-4 relative in
 * the logits, see tests/unit/test_engine_multi.c: a greedy near-tie may flip.)
 *
 * Per token, as hone_generate (src/infer/generate.c) does: sample, accept; an
 * end token -> "eot" (text not emitted); else stream-decode (whole UTF-8
 * characters) and pass through the stop-string holdback; a completed stop
 * string -> "stop"; max_tokens or a full context -> "length"; at the end held
 * text is flushed. Text goes to the job's buffer and wakes its connection.
 * A job whose client went away (job->cancel) is dropped at the next step; a
 * queued one when it would be admitted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"
#include "util/err.h"

double serve_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

serve_job *serve_job_new(void) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 1;
    j->t_recv = serve_now();
    return j;
}

void serve_job_unref(serve_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    serve_req_free(&j->req);
    free(j->text);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

#define MIX_MIN_DECODE 4

typedef struct slot {
    hone_session *s;
    serve_job *job;       /* NULL: free */
    size_t ppos;          /* prompt tokens evaluated (== n_ids: decoding) */
    double t0;            /* admitted */
    hone_sampler *smp;
    hone_stopper *stop;
    hone_tok_stream ds;
    int32_t next;         /* the last sampled token, evaluated at the next step */
    uint32_t n_gen;
    double t1;            /* generation started */
} slot;

struct serve_sched {
    serve_ctx c;
    hone_model_adapter **ads; /* (n_adapters) */
    int32_t *eot;             /* (n_eot) */
    size_t n_eot;
    slot *slots;              /* (n_slots) */
    uint32_t n_slots, n_batch, vocab;
    float *logits;            /* (n_slots, vocab) */
    char *piece;              /* (piece_cap) one decoded token */
    size_t piece_cap;
    hone_session **bs;        /* (n_slots) a pass's sessions */
    uint32_t *bn;             /* (n_slots) their token counts */
    int32_t *bt;              /* (n_batch) their tokens, back to back */
    slot **bsl;               /* (n_slots) their slots */
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    serve_job *qh, *qt;       /* queue, FIFO */
    uint32_t nq, max_queue;
    int quit;
};

/* ---- job output ------------------------------------------------------------------------ */

static int job_append(void *user, const char *t, size_t n) {
    serve_job *j = user;
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap < j->len + n + 1) cap *= 2;
        char *p = realloc(j->text, cap);
        if (!p) rc = 2; /* abort: the stopper returns 2 and the sequence ends */
        else {
            j->text = p;
            j->cap = cap;
        }
    }
    if (!rc) {
        memcpy(j->text + j->len, t, n);
        j->len += n;
        j->text[j->len] = 0;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static int job_cancelled(serve_job *j) {
    pthread_mutex_lock(&j->mu);
    int c = j->cancel;
    pthread_mutex_unlock(&j->mu);
    return c;
}

static void job_done(serve_job *j, hone_finish fin, const char *errmsg) {
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    j->finish = fin;
    if (errmsg) {
        j->failed = 1;
        snprintf(j->errmsg, sizeof j->errmsg, "%s", errmsg);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* ---- one sequence ---------------------------------------------------------------------- */

static void slot_finish(serve_sched *S, slot *sl, hone_finish fin, const char *errmsg) {
    serve_job *j = sl->job;
    if (!errmsg && fin != HONE_FINISH_STOP && fin != HONE_FINISH_ABORT) {
        char tail[4];
        size_t nt = hone_tok_stream_flush(&sl->ds, tail);
        int sr = hone_stopper_push(sl->stop, tail, nt, job_append, j);
        if (sr == 1) fin = HONE_FINISH_STOP;
        else if (sr == 0) hone_stopper_flush(sl->stop, job_append, j);
    }
    pthread_mutex_lock(&j->mu);
    j->n_gen = sl->n_gen;
    j->t_gen_s = sl->t1 > 0 ? serve_now() - sl->t1 : 0;
    pthread_mutex_unlock(&j->mu);
    job_done(j, fin, errmsg);
    hone_sampler_free(sl->smp);
    hone_stopper_free(sl->stop);
    sl->smp = NULL;
    sl->stop = NULL;
    sl->job = NULL;
    sl->t1 = 0;
    serve_job_unref(j);
    (void)S;
}

static int is_end(const serve_sched *S, int32_t id) {
    for (size_t i = 0; i < S->n_eot; i++)
        if (S->eot[i] == id) return 1;
    return hone_tok_is_eog(S->c.tok, id);
}

/* Samples the next token from row; 1: the sequence goes on (sl->next is set), 0: it ended. */
static int slot_sample(serve_sched *S, slot *sl, const float *row) {
    serve_job *j = sl->job;
    int32_t t = hone_sampler_sample(sl->smp, row);
    hone_sampler_accept(sl->smp, t);
    sl->n_gen++;
    if (is_end(S, t)) {
        slot_finish(S, sl, HONE_FINISH_EOT, NULL);
        return 0;
    }
    size_t np = 0;
    hone_err err = {0};
    if (hone_tok_stream_push(&sl->ds, t, S->piece, S->piece_cap, &np, &err)) {
        slot_finish(S, sl, HONE_FINISH_NONE, err.msg);
        return 0;
    }
    int sr = hone_stopper_push(sl->stop, S->piece, np, job_append, j);
    if (sr < 0 || sr == 2) {
        slot_finish(S, sl, HONE_FINISH_NONE, "out of memory");
        return 0;
    }
    if (sr == 1) {
        slot_finish(S, sl, HONE_FINISH_STOP, NULL);
        return 0;
    }
    /* evaluating t needs one more position */
    if ((j->req.max_tokens && sl->n_gen >= j->req.max_tokens) || hone_session_pos(sl->s) >= j->req.n_ctx) {
        slot_finish(S, sl, HONE_FINISH_LENGTH, NULL);
        return 0;
    }
    sl->next = t;
    return 1;
}

/* Sets slot sl up for job j; its prompt is evaluated by the next steps. */
static void slot_admit(serve_sched *S, slot *sl, serve_job *j) {
    sl->job = j;
    sl->n_gen = 0;
    sl->ppos = 0;
    sl->t0 = serve_now();
    sl->t1 = 0;
    hone_err err = {0};
    const serve_req *r = &j->req;
    if (r->empty) {
        slot_finish(S, sl, HONE_FINISH_STOP, NULL);
        return;
    }
    int rc = hone_session_set_adapter(sl->s, r->adapter < 0 ? NULL : S->ads[r->adapter], &err);
    if (!rc) rc = hone_session_truncate(sl->s, 0, &err);
    if (!rc) rc = hone_sampler_init(&sl->smp, &r->sp, S->vocab, &err);
    if (!rc) rc = hone_stopper_init(&sl->stop, (const char *const *)r->stops, r->n_stop, &err);
    if (!rc) {
        for (size_t i = 0; i < r->n_ids; i++) hone_sampler_accept(sl->smp, r->ids[i]);
        /* prime the decoder with the last prompt token (the answer continues the prompt) */
        size_t np = 0;
        char tail[4];
        hone_tok_stream_init(&sl->ds, S->c.tok, 0);
        rc = hone_tok_stream_push(&sl->ds, r->ids[r->n_ids - 1], S->piece, S->piece_cap, &np, &err);
        hone_tok_stream_flush(&sl->ds, tail);
    }
    if (rc) slot_finish(S, sl, HONE_FINISH_NONE, err.msg);
}

/* One eval_batch pass over slots list[0..n) (decoding slots add their next token,
 * prompt slots a chunk), then sampling where logits are ready. */
static void run_pass(serve_sched *S, slot **list, uint32_t n) {
    uint32_t rows = 0;
    for (uint32_t i = 0; i < n; i++) {
        slot *sl = list[i];
        const serve_req *r = &sl->job->req;
        S->bs[i] = sl->s;
        if (sl->ppos == r->n_ids) {
            S->bn[i] = 1;
            S->bt[rows++] = sl->next;
        } else {
            uint32_t k = (uint32_t)(r->n_ids - sl->ppos);
            uint32_t room = S->n_batch - rows - (n - 1 - i); /* leave a row for each later slot */
            if (k > room) k = room;
            S->bn[i] = k;
            memcpy(S->bt + rows, r->ids + sl->ppos, k * sizeof *S->bt);
            rows += k;
        }
    }
    hone_err err = {0};
    if (hone_session_eval_batch(S->bs, n, S->bt, S->bn, S->logits, &err)) {
        for (uint32_t i = 0; i < n; i++) slot_finish(S, list[i], HONE_FINISH_NONE, err.msg);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        slot *sl = list[i];
        serve_job *j = sl->job;
        const float *row = S->logits + (size_t)i * S->vocab;
        if (sl->ppos == j->req.n_ids) {
            slot_sample(S, sl, row);
            continue;
        }
        sl->ppos += S->bn[i];
        if (sl->ppos < j->req.n_ids) continue; /* more prompt next step */
        pthread_mutex_lock(&j->mu);
        j->n_prompt = (uint32_t)j->req.n_ids;
        j->t_prompt_s = serve_now() - sl->t0;
        pthread_mutex_unlock(&j->mu);
        sl->t1 = serve_now();
        slot_sample(S, sl, row);
    }
}

/* One step: every busy slot advances (see the file comment for the passes). */
static void run_step(serve_sched *S) {
    slot *dec[512], *pre[512];
    uint32_t nd = 0, np = 0;
    for (uint32_t i = 0; i < S->n_slots; i++) {
        slot *sl = &S->slots[i];
        if (!sl->job) continue;
        if (job_cancelled(sl->job)) {
            slot_finish(S, sl, HONE_FINISH_ABORT, NULL);
            continue;
        }
        if (sl->ppos == sl->job->req.n_ids) dec[nd++] = sl;
        else pre[np++] = sl;
    }
    if (nd >= MIX_MIN_DECODE || !nd || !np) {
        for (uint32_t i = 0; i < np; i++) dec[nd++] = pre[i];
        if (nd) run_pass(S, dec, nd);
        return;
    }
    run_pass(S, pre, np);
    run_pass(S, dec, nd);
}

/* ---- the loop -------------------------------------------------------------------------- */

static void *sched_main(void *arg) {
    serve_sched *S = arg;
    pthread_mutex_lock(&S->mu);
    while (!S->quit) {
        /* admit queued jobs into free slots */
        for (uint32_t i = 0; i < S->n_slots && S->qh; i++) {
            if (S->slots[i].job) continue;
            serve_job *j = S->qh;
            S->qh = j->next;
            if (!S->qh) S->qt = NULL;
            S->nq--;
            pthread_mutex_unlock(&S->mu);
            if (job_cancelled(j)) {
                job_done(j, HONE_FINISH_ABORT, NULL);
                serve_job_unref(j);
            } else {
                slot_admit(S, &S->slots[i], j);
            }
            pthread_mutex_lock(&S->mu);
        }
        uint32_t n = 0;
        for (uint32_t i = 0; i < S->n_slots; i++) n += S->slots[i].job != NULL;
        if (!n) {
            if (!S->qh && !S->quit) pthread_cond_wait(&S->cv, &S->mu);
            continue;
        }
        pthread_mutex_unlock(&S->mu);
        run_step(S);
        pthread_mutex_lock(&S->mu);
    }
    pthread_mutex_unlock(&S->mu);
    return NULL;
}

int serve_sched_submit(serve_sched *S, serve_job *j) {
    pthread_mutex_lock(&S->mu);
    if (S->nq >= S->max_queue || S->quit) {
        pthread_mutex_unlock(&S->mu);
        return HONE_EARG;
    }
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
    j->next = NULL;
    if (S->qt) S->qt->next = j;
    else S->qh = j;
    S->qt = j;
    S->nq++;
    pthread_cond_signal(&S->cv);
    pthread_mutex_unlock(&S->mu);
    return HONE_OK;
}

void serve_sched_shutdown(serve_sched *S) {
    pthread_mutex_lock(&S->mu);
    S->quit = 1; /* refuses submissions from now on */
    pthread_cond_signal(&S->cv);
    pthread_mutex_unlock(&S->mu);
    if (S->started) pthread_join(S->th, NULL);
    S->started = 0;
    for (uint32_t i = 0; S->slots && i < S->n_slots; i++)
        if (S->slots[i].job) slot_finish(S, &S->slots[i], HONE_FINISH_ABORT, "the server is stopping");
    pthread_mutex_lock(&S->mu);
    while (S->qh) {
        serve_job *j = S->qh;
        S->qh = j->next;
        job_done(j, HONE_FINISH_ABORT, "the server is stopping");
        serve_job_unref(j);
    }
    S->qt = NULL;
    S->nq = 0;
    pthread_mutex_unlock(&S->mu);
}

void serve_sched_stop(serve_sched *S) {
    if (!S) return;
    serve_sched_shutdown(S);
    for (uint32_t i = 0; S->slots && i < S->n_slots; i++) hone_session_free(S->slots[i].s);
    for (size_t i = 0; S->ads && i < S->c.n_adapters; i++) hone_model_adapter_free(S->ads[i]);
    free(S->ads);
    free(S->eot);
    free(S->slots);
    free(S->logits);
    free(S->piece);
    free(S->bs);
    free(S->bt);
    free(S->bn);
    free(S->bsl);
    pthread_mutex_destroy(&S->mu);
    pthread_cond_destroy(&S->cv);
    free(S);
}

int serve_sched_start(serve_sched **out, const serve_ctx *c, const hone_serve_opts *o, hone_err *err) {
    *out = NULL;
    serve_sched *S = calloc(1, sizeof *S);
    if (!S) return hone_err_set(err, HONE_ENOMEM, "serve: out of memory");
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->cv, NULL);
    S->c = *c;
    S->n_slots = o->parallel ? o->parallel : 4;
    S->n_batch = 512;
    S->max_queue = o->max_queue ? o->max_queue : 256;
    S->vocab = hone_model_get_desc(c->model)->vocab;
    S->piece_cap = hone_tok_max_bytes(c->tok) + 8;
    int rc = HONE_OK;
    S->ads = calloc(c->n_adapters ? c->n_adapters : 1, sizeof *S->ads);
    S->eot = calloc(o->n_eot ? o->n_eot : 1, sizeof *S->eot);
    S->slots = calloc(S->n_slots, sizeof *S->slots);
    S->logits = malloc((size_t)S->n_slots * S->vocab * sizeof *S->logits);
    S->piece = malloc(S->piece_cap);
    S->bs = calloc(S->n_slots, sizeof *S->bs);
    S->bt = calloc(S->n_batch, sizeof *S->bt);
    S->bn = calloc(S->n_slots, sizeof *S->bn);
    S->bsl = calloc(S->n_slots, sizeof *S->bsl);
    if (!S->ads || !S->eot || !S->slots || !S->logits || !S->piece || !S->bs || !S->bt || !S->bn || !S->bsl) {
        rc = hone_err_set(err, HONE_ENOMEM, "serve: out of memory for %u slots", S->n_slots);
        goto fail;
    }
    if (o->n_eot) memcpy(S->eot, o->eot, o->n_eot * sizeof *S->eot);
    S->n_eot = o->n_eot;
    for (size_t i = 0; i < c->n_adapters; i++)
        if ((rc = hone_model_adapter_load(&S->ads[i], c->model, c->adapters[i].dir, c->adapters[i].scale, err))) {
            hone_err_prefix(err, "adapter %s", c->adapters[i].name);
            goto fail;
        }
    hone_session_opts so = {.n_ctx = c->n_ctx, .n_batch = S->n_batch, .n_threads = o->n_threads};
    if (S->n_slots > S->n_batch) {
        rc = hone_err_set(err, HONE_EARG, "serve: --parallel %u: at most %u", S->n_slots, S->n_batch);
        goto fail;
    }
    for (uint32_t i = 0; i < S->n_slots; i++)
        if ((rc = hone_session_init(&S->slots[i].s, c->model, &so, err))) goto fail;
    if (pthread_create(&S->th, NULL, sched_main, S)) {
        rc = hone_err_set(err, HONE_ENOMEM, "serve: cannot start the scheduler thread");
        goto fail;
    }
    S->started = 1;
    *out = S;
    return HONE_OK;
fail:
    serve_sched_stop(S);
    return rc;
}
