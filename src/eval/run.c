/* run.c: `hone ab run`'s engine (hone/ab.h, "running"): the missing cells of a spec, one
 * model at a time, answered through hone/llm.h by `concurrency` worker threads that take
 * the next cell from a shared index, and each written to the store as soon as it is done
 * (one row, one transaction: a kill loses at most the cells in flight, which the next run
 * finds missing). Flags come from the backend's result (finish reason, overflow) and
 * from detect.c (refusal, language). The judging step is not here: the CLI calls it
 * after the run (hone ab judge, helper "abjudge"). */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/detect.h"
#include "eval/llm_internal.h"

int hone_ab_cell_messages(const hone_ab_spec *s, const hone_ab_cell *c, hone_chat_msg *msgs, size_t *n,
                          hone_err *err) {
    *n = 0;
    if (c->condition >= s->n_conditions || c->probe >= s->n_probes)
        return hone_err_set(err, HONE_EARG, "ab: cell out of range");
    const hone_ab_condition *cd = &s->conditions[c->condition];
    hone_sign sg = {0};
    int rc = hone_sign_mode_parse(cd->mode, &sg.mode, err);
    if (rc) return rc;
    sg.kernel = cd->kernel >= 0 ? s->kernels[cd->kernel].text : NULL;
    sg.kernel_b = cd->kernel_b >= 0 ? s->kernels[cd->kernel_b].text : NULL;
    sg.reminder = cd->reminder;
    char *sys = NULL, *user = NULL;
    if ((rc = hone_sign_apply(&sg, NULL, s->probes[c->probe].prompt, &sys, &user, err))) return rc;
    if (sys) msgs[(*n)++] = (hone_chat_msg){"system", sys};
    msgs[(*n)++] = (hone_chat_msg){"user", user};
    return HONE_OK;
}

void hone_ab_cell_messages_free(hone_chat_msg *msgs, size_t n) {
    for (size_t i = 0; i < n; i++) free((char *)msgs[i].content);
}

/* ---- --only ------------------------------------------------------------------------------ */

typedef struct run_filter {
    unsigned char *model, *cond, *probe; /* allowed flags per index */
} run_filter;

static int filter_parse(const hone_ab_spec *s, const char *only, run_filter *f, hone_err *err) {
    f->model = malloc(s->n_models + 1);
    f->cond = malloc(s->n_conditions + 1);
    f->probe = malloc(s->n_probes + 1);
    if (!f->model || !f->cond || !f->probe) return hone_err_set(err, HONE_ENOMEM, "ab run: out of memory");
    int any_m = 0, any_c = 0, any_p = 0;
    memset(f->model, 0, s->n_models + 1);
    memset(f->cond, 0, s->n_conditions + 1);
    memset(f->probe, 0, s->n_probes + 1);
    char *dup = only ? strdup(only) : NULL, *save = NULL;
    if (only && !dup) return hone_err_set(err, HONE_ENOMEM, "ab run: out of memory");
    int rc = HONE_OK;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            rc = hone_err_set(err, HONE_EARG, "--only: '%s': expected KEY=ID (model, condition or probe)", t);
            break;
        }
        *eq = 0;
        const char *v = eq + 1;
        int i;
        if (!strcmp(t, "model")) {
            if ((i = hone_ab_spec_find_model(s, v)) < 0) rc = hone_err_set(err, HONE_EARG, "--only: no model '%s' in %s", v, s->path);
            else f->model[i] = 1, any_m = 1;
        } else if (!strcmp(t, "condition")) {
            if ((i = hone_ab_spec_find_condition(s, v)) < 0) rc = hone_err_set(err, HONE_EARG, "--only: no condition '%s' in %s", v, s->path);
            else f->cond[i] = 1, any_c = 1;
        } else if (!strcmp(t, "probe")) {
            if ((i = hone_ab_spec_find_probe(s, v)) < 0) rc = hone_err_set(err, HONE_EARG, "--only: no probe '%s' in %s", v, s->path);
            else f->probe[i] = 1, any_p = 1;
        } else {
            rc = hone_err_set(err, HONE_EARG, "--only: unknown key '%s' (model, condition or probe)", t);
        }
    }
    free(dup);
    if (!any_m) memset(f->model, 1, s->n_models);
    if (!any_c) memset(f->cond, 1, s->n_conditions);
    if (!any_p) memset(f->probe, 1, s->n_probes);
    return rc;
}

static void filter_free(run_filter *f) {
    free(f->model);
    free(f->cond);
    free(f->probe);
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct run_ctx {
    const hone_ab_spec *s;
    hone_ab_store *st;
    const hone_ab_run_opts *o;
    hone_ab_run_stats *stats;
    int64_t run_id;
    const hone_ab_model *m;
    hone_llm *llm;
    const uint64_t *cells; /* this model's cells */
    size_t n_cells, next;
    pthread_mutex_t mu;    /* next, stats, progress, fatal */
    int fatal;
    hone_err fatal_err;
} run_ctx;

static const char *backend_name(hone_ab_backend b) {
    return b == HONE_AB_LOCAL ? "local" : b == HONE_AB_OLLAMA ? "ollama" : "openai";
}

static char *params_json(const run_ctx *r, const hone_ab_cell *c, const hone_llm_result *res) {
    const hone_ab_model *m = r->m;
    json_t *p = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:b, s:f, s:f, s:I, s:I, s:i, s:i}", "backend",
                          backend_name(m->backend), "path", m->path, "adapter", m->adapter, "name", m->name, "url",
                          m->url, "num_ctx", (json_int_t)m->num_ctx, "stream", r->o->stream, "temperature",
                          m->sampling.temperature, "top_p", m->sampling.top_p, "max_tokens",
                          (json_int_t)m->sampling.max_tokens, "seed", (json_int_t)c->seed, "attempts", res->attempts,
                          "http_status", res->http_status);
    char *t = p ? json_dumps(p, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    json_decref(p);
    return t;
}

/* Answers one cell and stores it. Returns non-zero only for a store failure (fatal). */
static int run_cell(run_ctx *r, uint64_t idx, int *is_error, int64_t *flags_out, hone_err *err) {
    const hone_ab_spec *s = r->s;
    hone_ab_cell c;
    int rc = hone_ab_spec_cell(s, idx, &c, err);
    if (rc) return rc;
    hone_chat_msg msgs[2];
    size_t n = 0;
    if ((rc = hone_ab_cell_messages(s, &c, msgs, &n, err))) return rc;
    const hone_ab_probe *pr = &s->probes[c.probe];
    hone_llm_request rq = {.msgs = msgs, .n_msgs = n, .temperature = r->m->sampling.temperature,
                           .top_p = r->m->sampling.top_p, .max_tokens = r->m->sampling.max_tokens, .seed = c.seed};
    hone_llm_result res;
    hone_err cerr = {0};
    int crc = hone_llm_chat(r->llm, &rq, &res, &cerr);
    json_t *mj = llm_messages_json(msgs, n);
    char *mtxt = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
    json_decref(mj);
    char *ptxt = params_json(r, &c, &res);
    int64_t flags = 0;
    if (!crc) {
        if (!strcmp(res.finish_reason, "length")) flags |= HONE_AB_FLAG_CUTOFF;
        if (ab_detect_refusal(res.text)) flags |= HONE_AB_FLAG_REFUSAL;
        if (ab_detect_lang_mismatch(res.text, pr->lang)) flags |= HONE_AB_FLAG_LANG;
    }
    if (res.prompt_overflow == 1) flags |= HONE_AB_FLAG_OVERFLOW;
    hone_ab_answer a = {.run_id = r->run_id, .model = r->m->id, .condition = s->conditions[c.condition].id,
                        .probe = pr->id, .sample = c.sample, .seed = c.seed, .messages_json = mtxt,
                        .prompt_text = res.prompt_text, .params_json = ptxt, .answer = crc ? NULL : res.text,
                        .prompt_tokens = res.prompt_tokens, .answer_tokens = res.answer_tokens,
                        .finish_reason = res.finish_reason, .latency_s = res.latency_s,
                        .model_identity = hone_llm_identity(r->llm), .flags = flags,
                        .error = crc ? (cerr.msg[0] ? cerr.msg : "error") : NULL};
    if (!mtxt || !ptxt) rc = hone_err_set(err, HONE_ENOMEM, "ab run: out of memory");
    else rc = hone_ab_store_put_answer(r->st, &a, r->o->retry_errors, NULL, err);
    *is_error = crc != 0;
    *flags_out = flags;
    free(mtxt);
    free(ptxt);
    hone_llm_result_free(&res);
    hone_ab_cell_messages_free(msgs, n);
    return rc;
}

static void *run_worker(void *u) {
    run_ctx *r = u;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int go = !r->fatal && r->next < r->n_cells && !(r->o->stop && *r->o->stop);
        uint64_t idx = go ? r->cells[r->next++] : 0;
        pthread_mutex_unlock(&r->mu);
        if (!go) break;
        hone_err e = {0};
        int is_err = 0;
        int64_t flags = 0;
        int rc = run_cell(r, idx, &is_err, &flags, &e);
        pthread_mutex_lock(&r->mu);
        if (rc) {
            if (!r->fatal) r->fatal_err = e;
            r->fatal = 1;
        } else {
            hone_ab_run_stats *st = r->stats;
            st->done++;
            st->errors += is_err;
            for (int b = 0; b < 4; b++) st->flagged[b] += (flags >> b) & 1;
            if (r->o->on_progress) r->o->on_progress(r->o->user, st->done, st->todo, st->errors);
        }
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static int run_model(run_ctx *r, hone_err *err) {
    const hone_ab_model *m = r->m;
    const char *key = m->api_key_env ? getenv(m->api_key_env) : NULL;
    hone_llm_opts lo = {.kind = m->backend == HONE_AB_LOCAL ? HONE_LLM_LOCAL
                                : m->backend == HONE_AB_OLLAMA ? HONE_LLM_OLLAMA : HONE_LLM_OPENAI,
                        .path = m->path, .adapter = m->adapter, .name = m->name, .url = m->url, .api_key = key,
                        .num_ctx = m->num_ctx, .timeout_s = r->o->timeout_s, .max_retries = r->o->max_retries,
                        .concurrency = r->o->concurrency > 0 ? r->o->concurrency : 1, .stream = r->o->stream};
    int rc = hone_llm_open(&r->llm, &lo, err);
    if (rc) return hone_err_prefix(err, "model '%s'", m->id), rc;
    int nt = lo.concurrency < (int)r->n_cells ? lo.concurrency : (int)r->n_cells;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    int started = 0;
    if (!th) rc = hone_err_set(err, HONE_ENOMEM, "ab run: out of memory");
    for (int i = 0; i < nt && !rc; i++) {
        if (pthread_create(&th[i], NULL, run_worker, r)) break;
        started++;
    }
    if (!rc && !started) rc = hone_err_set(err, HONE_EIO, "ab run: cannot start a worker thread");
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(th);
    if (r->llm->max_in_flight > r->stats->max_in_flight) r->stats->max_in_flight = r->llm->max_in_flight;
    hone_llm_close(r->llm);
    r->llm = NULL;
    if (!rc && r->fatal) {
        *err = r->fatal_err;
        rc = err->code ? err->code : HONE_EIO;
    }
    return rc;
}

int hone_ab_run(const hone_ab_spec *s, hone_ab_store *st, const hone_ab_run_opts *o,
                hone_ab_run_stats *stats, hone_err *err) {
    memset(stats, 0, sizeof *stats);
    double t0 = llm_now_s();
    hone_ab_run_opts def = {0};
    if (!o) o = &def;
    if (!st && !o->dry_run) return hone_err_set(err, HONE_EARG, "ab run: a store is needed (only a dry run goes without)");
    run_filter f = {0};
    uint64_t *idx = NULL;
    size_t n_idx = 0;
    int rc = filter_parse(s, o->only, &f, err);
    if (!rc && st) rc = hone_ab_store_missing(st, s, o->retry_errors, &idx, &n_idx, err);
    if (!rc && !st) {
        n_idx = (size_t)hone_ab_spec_n_cells(s);
        if (!(idx = malloc((n_idx + 1) * sizeof *idx))) rc = hone_err_set(err, HONE_ENOMEM, "ab run: out of memory");
        for (size_t i = 0; !rc && i < n_idx; i++) idx[i] = i;
    }
    /* keep the selected cells; count the selection */
    size_t k = 0;
    uint64_t total = hone_ab_spec_n_cells(s);
    for (uint64_t i = 0; !rc && i < total; i++) {
        hone_ab_cell c;
        hone_ab_spec_cell(s, i, &c, NULL);
        stats->cells += f.model[c.model] && f.cond[c.condition] && f.probe[c.probe];
    }
    for (size_t i = 0; !rc && i < n_idx; i++) {
        hone_ab_cell c;
        if ((rc = hone_ab_spec_cell(s, idx[i], &c, err))) break;
        if (f.model[c.model] && f.cond[c.condition] && f.probe[c.probe]) {
            idx[k++] = idx[i];
            if (o->dry_run && o->on_plan) o->on_plan(o->user, &c);
        }
    }
    n_idx = k;
    stats->todo = n_idx;
    /* the design record first, so the store reports without the spec file even when the
     * run is stopped or never judged (the latest write wins, as with `ab judge`) */
    if (!rc && !o->dry_run) rc = hone_ab_store_put_design(st, s, err);
    if (rc || o->dry_run || !n_idx) goto out;

    char hex[65], *hash = NULL, hbuf[80];
    hone_err herr = {0};
    if (s->path && !llm_sha256_file(s->path, hex, &herr)) {
        snprintf(hbuf, sizeof hbuf, "sha256:%s", hex);
        hash = hbuf;
    }
    if ((rc = hone_ab_store_begin_run(st, s->path, hash, o->note, &stats->run_id, err))) goto out;
    run_ctx r = {.s = s, .st = st, .o = o, .stats = stats, .run_id = stats->run_id};
    pthread_mutex_init(&r.mu, NULL);
    for (size_t i = 0; i < n_idx && !rc;) {
        hone_ab_cell c;
        hone_ab_spec_cell(s, idx[i], &c, NULL);
        size_t j = i;
        for (;;) { /* this model's run of cells (model-major order) */
            hone_ab_cell d;
            if (j >= n_idx || hone_ab_spec_cell(s, idx[j], &d, NULL) || d.model != c.model) break;
            j++;
        }
        if (o->stop && *o->stop) break;
        r.m = &s->models[c.model];
        r.cells = idx + i;
        r.n_cells = j - i;
        r.next = 0;
        rc = run_model(&r, err);
        i = j;
    }
    pthread_mutex_destroy(&r.mu);
out:
    stats->seconds = llm_now_s() - t0;
    free(idx);
    filter_free(&f);
    return rc;
}
