/* session.c: hone_session: the run state of one sequence (see session.h for
 * the KV cache layout). Every buffer is allocated here, sized for n_ctx and
 * n_batch, so evaluation allocates nothing (the reference ops excepted: they
 * take a little per-call scratch). */
#include <stdlib.h>
#include <string.h>

#include "infer/session.h"
#include "util/err.h"

static void *alloc_f32(size_t n, int *bad) {
    void *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *bad = 1;
    return p;
}

int hone_session_init(hone_session **out, hone_model *m, const hone_session_opts *opts, hone_err *err) {
    *out = NULL;
    hone_session_opts o = {0};
    if (opts) o = *opts;
    const hone_model_desc *d = &m->desc;
    uint32_t n_ctx = o.n_ctx, n_batch = o.n_batch ? o.n_batch : 512;
    if (!n_ctx) n_ctx = d->context && d->context < 4096 ? d->context : 4096;
    if (n_batch > n_ctx) n_batch = n_ctx;
    if (n_ctx > (uint32_t)INT32_MAX - 1)
        return hone_err_set(err, HONE_EARG, "session context %u is too large", n_ctx);
    hone_session *s = calloc(1, sizeof *s);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "out of memory for a session");
    s->m = m;
    s->be = m->be;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    int rc = hone_pool_create(&s->pool, o.n_threads, err);
    if (rc) {
        free(s);
        return rc;
    }
    size_t B = n_batch, D = d->hidden, F = d->ffn_hidden;
    size_t nq = (size_t)d->n_heads * d->head_dim, nkv = (size_t)d->n_kv_heads * d->head_dim;
    int bad = 0;
    s->x = alloc_f32(B * D, &bad);
    s->xn = alloc_f32(B * D, &bad);
    s->o = alloc_f32(B * D, &bad);
    s->rows = alloc_f32(B * D, &bad);
    s->q = alloc_f32(B * nq, &bad);
    s->q2 = alloc_f32(B * nq, &bad);
    s->att = alloc_f32(B * nq, &bad);
    s->k = alloc_f32(B * nkv, &bad);
    s->k2 = alloc_f32(B * nkv, &bad);
    s->v = alloc_f32(B * nkv, &bad);
    s->gate = alloc_f32(B * F, &bad);
    s->up = alloc_f32(B * F, &bad);
    s->act = alloc_f32(B * F, &bad);
    s->ad = m->adapter;
    s->lora_cap = s->ad ? s->ad->rank : 0;
    if (s->lora_cap) s->lora_t = alloc_f32(B * s->lora_cap, &bad);
    s->qpos = calloc(B, sizeof *s->qpos);
    s->rowidx = calloc(B, sizeof *s->rowidx);
    s->kv = calloc(d->n_layers, sizeof *s->kv);
    if (!s->qpos || !s->rowidx || !s->kv) bad = 1;
    for (uint32_t il = 0; il < d->n_layers && !bad; il++) {
        kv_layer *c = &s->kv[il];
        uint64_t slots = n_ctx;
        if (m->layers[il].sliding && (uint64_t)d->sliding_window + n_batch < slots)
            slots = (uint64_t)d->sliding_window + n_batch;
        c->slots = (uint32_t)slots;
        c->k = alloc_f32(slots * nkv, &bad);
        c->v = alloc_f32(slots * nkv, &bad);
        c->kpos = malloc(slots * sizeof *c->kpos);
        if (!c->kpos) bad = 1;
        else
            for (uint64_t j = 0; j < slots; j++) c->kpos[j] = KV_EMPTY;
    }
    if (bad) {
        hone_session_free(s);
        return hone_err_set(err, HONE_ENOMEM, "out of memory for a session of %u tokens (batch %u)", n_ctx, n_batch);
    }
    *out = s;
    return HONE_OK;
}

void hone_session_free(hone_session *s) {
    if (!s) return;
    if (s->kv)
        for (uint32_t il = 0; il < s->m->desc.n_layers; il++) {
            free(s->kv[il].k);
            free(s->kv[il].v);
            free(s->kv[il].kpos);
        }
    free(s->kv);
    free(s->x);
    free(s->xn);
    free(s->o);
    free(s->rows);
    free(s->q);
    free(s->q2);
    free(s->att);
    free(s->k);
    free(s->k2);
    free(s->v);
    free(s->gate);
    free(s->up);
    free(s->act);
    free(s->qpos);
    free(s->rowidx);
    free(s->lora_t);
    hone_pool_free(s->pool);
    free(s);
}

int hone_session_eval(hone_session *s, const int32_t *tokens, uint32_t n, hone_eval_out *out, hone_err *err) {
    if (n == 0 || n > s->n_batch)
        return hone_err_set(err, HONE_EARG, "eval of %u tokens: expected 1 to %u (the session's batch size)", n,
                            s->n_batch);
    if ((uint64_t)s->pos + n > s->n_ctx)
        return hone_err_set(err, HONE_EARG, "eval of %u tokens at position %u exceeds the context of %u tokens", n,
                            s->pos, s->n_ctx);
    for (uint32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= s->m->desc.vocab)
            return hone_err_set(err, HONE_EARG, "token %u of the batch is %d, outside the vocabulary of %u", i,
                                tokens[i], s->m->desc.vocab);
    if (out && out->logits && out->rows)
        for (uint32_t r = 0; r < out->n_rows; r++)
            if (out->rows[r] >= n)
                return hone_err_set(err, HONE_EARG, "logits row %u asks for token %u of a batch of %u", r,
                                    out->rows[r], n);
    if (out && out->logits && out->rows && out->n_rows > n)
        return hone_err_set(err, HONE_EARG, "%u logits rows for a batch of %u tokens", out->n_rows, n);
    int rc = forward_batch(s, tokens, n, out, err);
    if (rc) return rc;
    s->pos += n;
    return HONE_OK;
}

uint32_t hone_session_pos(const hone_session *s) { return s->pos; }

uint32_t hone_session_n_ctx(const hone_session *s) { return s->n_ctx; }

/* Forgets positions >= pos. A sliding layer's ring must still hold the window
 * before pos (positions pos-window+1 .. pos-1), else the cache cannot continue
 * from there: HONE_EARG (truncate to 0 and evaluate again). */
int hone_session_truncate(hone_session *s, uint32_t pos, hone_err *err) {
    if (pos > s->pos)
        return hone_err_set(err, HONE_EARG, "truncate to position %u: the session holds only %u tokens", pos, s->pos);
    const hone_model_desc *d = &s->m->desc;
    if (pos > 0)
        for (uint32_t il = 0; il < d->n_layers; il++) {
            kv_layer *c = &s->kv[il];
            if (c->slots >= s->n_ctx) continue;
            uint32_t need = pos >= d->sliding_window ? pos - d->sliding_window + 1 : 0;
            /* oldest position still in the ring */
            uint32_t oldest = s->pos > c->slots ? s->pos - c->slots : 0;
            if (need < oldest)
                return hone_err_set(err, HONE_EARG,
                                    "truncate to position %u: layer %u's sliding-window cache no longer holds "
                                    "position %u (it keeps the last %u); truncate to 0 and evaluate again",
                                    pos, il, need, c->slots);
        }
    for (uint32_t il = 0; il < d->n_layers; il++) {
        kv_layer *c = &s->kv[il];
        for (uint32_t j = 0; j < c->slots; j++)
            if (c->kpos[j] != KV_EMPTY && (uint32_t)c->kpos[j] >= pos) c->kpos[j] = KV_EMPTY;
    }
    s->pos = pos;
    return HONE_OK;
}

int hone_session_set_adapter(hone_session *s, const hone_model_adapter *a, hone_err *err) {
    if (a && a->m != s->m) return hone_err_set(err, HONE_EARG, "set adapter: the adapter was bound to another model");
    if (a && a->rank > s->lora_cap) {
        float *t = calloc((size_t)s->n_batch * a->rank, sizeof *t);
        if (!t) return hone_err_set(err, HONE_ENOMEM, "out of memory for an adapter of rank %u", a->rank);
        free(s->lora_t);
        s->lora_t = t;
        s->lora_cap = a->rank;
    }
    s->ad = a;
    return HONE_OK;
}

const hone_model_adapter *hone_session_get_adapter(const hone_session *s) { return s->ad; }

/* Checks everything first, so that an error leaves every session as it was. */
int hone_session_eval_batch(hone_session *const *ss, uint32_t n_seq, const int32_t *tokens, const uint32_t *n_tok,
                            float *logits, hone_err *err) {
    if (n_seq == 0) return hone_err_set(err, HONE_EARG, "eval_batch: no sessions");
    hone_session *w = ss[0];
    uint64_t total = 0;
    for (uint32_t i = 0; i < n_seq; i++) {
        const hone_session *s = ss[i];
        uint32_t n = n_tok ? n_tok[i] : 1;
        if (s->m != w->m) return hone_err_set(err, HONE_EARG, "eval_batch: session %u uses another model", i);
        if (n == 0 || n > s->n_batch)
            return hone_err_set(err, HONE_EARG, "eval_batch: %u tokens for session %u: expected 1 to %u (its batch size)",
                                n, i, s->n_batch);
        if ((uint64_t)s->pos + n > s->n_ctx)
            return hone_err_set(err, HONE_EARG,
                                "eval_batch: %u tokens at position %u exceed session %u's context of %u tokens (full)",
                                n, s->pos, i, s->n_ctx);
        for (uint32_t j = 0; j < i; j++)
            if (ss[j] == s) return hone_err_set(err, HONE_EARG, "eval_batch: session %u is also session %u", i, j);
        total += n;
    }
    if (total > w->n_batch)
        return hone_err_set(err, HONE_EARG, "eval_batch: %llu tokens, at most %u (the first session's batch size)",
                            (unsigned long long)total, w->n_batch);
    for (uint64_t k = 0; k < total; k++)
        if (tokens[k] < 0 || (uint32_t)tokens[k] >= w->m->desc.vocab)
            return hone_err_set(err, HONE_EARG, "eval_batch: token %llu is %d, outside the vocabulary of %u",
                                (unsigned long long)k, tokens[k], w->m->desc.vocab);
    fwd_seg segs_small[64], *segs = segs_small;
    if (n_seq > 64 && !(segs = malloc(n_seq * sizeof *segs)))
        return hone_err_set(err, HONE_ENOMEM, "eval_batch: out of memory");
    uint32_t row = 0;
    for (uint32_t i = 0; i < n_seq; i++) {
        uint32_t n = n_tok ? n_tok[i] : 1;
        segs[i] = (fwd_seg){ss[i], row, n};
        w->rowidx[i] = row + n - 1; /* logits of each session's last token */
        row += n;
    }
    hone_eval_out out = {.logits = logits, .rows = w->rowidx, .n_rows = n_seq};
    int rc = forward_segs(w, segs, n_seq, tokens, row, logits ? &out : NULL, err);
    if (segs != segs_small) free(segs);
    if (rc) return rc;
    for (uint32_t i = 0; i < n_seq; i++) ss[i]->pos += n_tok ? n_tok[i] : 1;
    return HONE_OK;
}

int hone_session_eval_multi(hone_session *const *ss, uint32_t n, const int32_t *tokens, float *logits,
                            hone_err *err) {
    return hone_session_eval_batch(ss, n, tokens, NULL, logits, err);
}
