/* trainer.c: the LoRA training step (include/hone/train.h): buffers, batch
 * packing, the frozen prefix and its cache, the adapted blocks forward and
 * backward (train_block.c), the fused LM head + cross-entropy.
 *
 * A step:
 *  1. checks and packs the padded batch to its real tokens (train_internal.h);
 *  2. frozen prefix (blocks below the lowest adapted one, lo): per sequence,
 *     from the cache when its example id was seen with the same tokens, else
 *     embedded and run through blocks 0..lo-1 (as a packed sub-batch of the
 *     missing sequences) and stored;
 *  3. blocks lo..L-1 forward, each block's input kept (xin) and, without
 *     gradient checkpointing, its internals (acts); with it, one set of
 *     internals is recomputed per block during the backward (the forward is
 *     deterministic, so gradients are bit-identical);
 *  4. final norm, then backend lm_head_ce at the supervised rows only (vocab
 *     walked in chunks, never a (T, vocab) tensor), giving d(final hidden);
 *  5. backward block by block down to lo, adding into dA, dB.
 * llama/mistral GGUF files store q/k rows permuted (HONE_ROPE_NORM); the
 * adapter stays in HF orientation, so B of q/k is row-permuted into a copy per
 * step and its gradient permuted back (as lora_attach.c does for inference).
 * Every buffer is allocated in hone_trainer_create for max_batch x max_seq
 * tokens (the reference ops keep their own small per-call scratch).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"
#include "util/err.h"

#define DEFAULT_CACHE_BYTES ((size_t)1 << 30)

/* HF row h*hd + p*hd/2 + j lives at GGUF row h*hd + 2j + p (lora_attach.c). */
static int64_t perm_row(int64_t hf_row, int64_t hd) {
    int64_t h = hf_row / hd, i = hf_row % hd, half = hd / 2;
    int64_t p = i / half, j = i % half;
    return h * hd + 2 * j + p;
}

static float *falloc(size_t n, int *bad) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) *bad = 1;
    return p;
}

static void act_alloc(tr_act *a, size_t T, size_t D, size_t F, size_t nq, size_t nkv, int *bad) {
    a->xn1 = falloc(T * D, bad);
    a->q = falloc(T * nq, bad);
    a->k = falloc(T * nkv, bad);
    a->v = falloc(T * nkv, bad);
    a->qr = falloc(T * nq, bad);
    a->kr = falloc(T * nkv, bad);
    a->att = falloc(T * nq, bad);
    a->o = falloc(T * D, bad);
    a->x1 = falloc(T * D, bad);
    a->xn2 = falloc(T * D, bad);
    a->gate = falloc(T * F, bad);
    a->up = falloc(T * F, bad);
    a->act = falloc(T * F, bad);
    a->dn = falloc(T * D, bad);
}

static void act_free(tr_act *a) {
    free(a->xn1), free(a->q), free(a->k), free(a->v), free(a->qr), free(a->kr), free(a->att);
    free(a->o), free(a->x1), free(a->xn2), free(a->gate), free(a->up), free(a->act), free(a->dn);
}

void hone_trainer_free(hone_trainer *t) {
    if (!t) return;
    uint32_t na = t->m ? t->m->desc.n_layers - t->lo : 0;
    if (t->xin)
        for (uint32_t j = 0; j <= na; j++) free(t->xin[j]);
    free(t->xin);
    if (t->acts)
        for (int j = 0; j < t->n_acts; j++) act_free(&t->acts[j]);
    free(t->acts);
    if (t->lora)
        for (int64_t i = 0; i < t->n_lora; i++) {
            free(t->lora[i].da), free(t->lora[i].db), free(t->lora[i].bp), free(t->lora[i].dbp);
            free(t->lora[i].bt);
        }
    free(t->lora), free(t->slot);
    free(t->tok), free(t->tgt), free(t->pos), free(t->rseq), free(t->off), free(t->len);
    free(t->ppos), free(t->prseq), free(t->poff), free(t->plen), free(t->pidx), free(t->pa), free(t->pb);
    free(t->hf), free(t->dh), free(t->g), free(t->tmp), free(t->dxn);
    free(t->datt), free(t->dqr), free(t->dq), free(t->dkr), free(t->dk), free(t->dv);
    free(t->df1), free(t->df2), free(t->df3), free(t->xd), free(t->u), free(t->ug), free(t->dbt);
    pcache_free(&t->pc);
    hone_pool_free(t->pool);
    free(t);
}

int hone_trainer_create(hone_trainer **out, hone_model *m, hone_adapter *ad, const hone_trainer_opts *opts,
                        hone_err *err) {
    *out = NULL;
    if (!m || !ad || !opts) return hone_err_set(err, HONE_EARG, "trainer: model, adapter and options are required");
    if (opts->max_batch < 1 || opts->max_seq < 2)
        return hone_err_set(err, HONE_EARG, "trainer: max_batch %u must be >= 1 and max_seq %u >= 2",
                            opts->max_batch, opts->max_seq);
    if ((uint64_t)opts->max_batch * opts->max_seq > (uint64_t)INT32_MAX)
        return hone_err_set(err, HONE_EARG, "trainer: max_batch x max_seq = %llu tokens is too many",
                            (unsigned long long)opts->max_batch * opts->max_seq);
    const hone_model_desc *d = &m->desc;
    const hone_adapter_config *cfg = hone_adapter_get_config(ad);
    int64_t n = hone_adapter_n(ad);
    if (n <= 0) return hone_err_set(err, HONE_EARG, "trainer: the adapter has no adapted projection");
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return hone_err_set(err, HONE_EARG, "trainer: adapter dropout %g is outside [0, 1)", (double)cfg->dropout);

    hone_trainer *t = calloc(1, sizeof *t);
    if (!t) return hone_err_set(err, HONE_ENOMEM, "out of memory for a trainer");
    t->m = m;
    t->ad = ad;
    t->o = *opts;
    t->be = opts->engine == HONE_ENGINE_REFERENCE ? hone_backend_ref() : hone_backend_cpu();
    t->scale = cfg->scale;
    t->dropout = cfg->dropout;
    t->D = d->hidden;
    t->F = d->ffn_hidden;
    t->nq = (int64_t)d->n_heads * d->head_dim;
    t->nkv = (int64_t)d->n_kv_heads * d->head_dim;
    t->Tmax = (int64_t)opts->max_batch * opts->max_seq;
    t->lo = d->n_layers;
    t->n_lora = n;
    int bad = 0, rc;
    t->lora = calloc((size_t)n, sizeof *t->lora);
    t->slot = malloc((size_t)d->n_layers * HONE_PROJ_COUNT * sizeof *t->slot);
    if (!t->lora || !t->slot) {
        hone_trainer_free(t);
        return hone_err_set(err, HONE_ENOMEM, "out of memory for a trainer");
    }
    for (size_t i = 0; i < (size_t)d->n_layers * HONE_PROJ_COUNT; i++) t->slot[i] = -1;
    t->max_in = t->D > t->F ? t->D : t->F;
    if (t->nq > t->max_in) t->max_in = t->nq;
    for (int64_t i = 0; i < n; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        tr_lora *tl = &t->lora[i];
        if (l->layer >= d->n_layers || l->proj < 0 || l->proj >= HONE_PROJ_COUNT) {
            rc = hone_err_set(err, HONE_EARG, "trainer: adapter pair %lld: layer %u (the model has %u) or projection %d out of range",
                              (long long)i, l->layer, d->n_layers, l->proj);
            goto fail;
        }
        const model_layer *L = &m->layers[l->layer];
        const hone_weight *w[HONE_PROJ_COUNT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        if (w[l->proj]->n_in != l->n_in || w[l->proj]->n_out != l->n_out || !l->rank) {
            rc = hone_err_set(err, HONE_EARG,
                              "trainer: layers.%u.%s: adapter maps %lld -> %lld (rank %u), the model's weight %lld -> %lld",
                              l->layer, hone_proj_module(l->proj), (long long)l->n_in, (long long)l->n_out, l->rank,
                              (long long)w[l->proj]->n_in, (long long)w[l->proj]->n_out);
            goto fail;
        }
        tl->src = l;
        tl->layer = l->layer;
        tl->proj = l->proj;
        tl->rank = l->rank;
        tl->n_in = l->n_in;
        tl->n_out = l->n_out;
        tl->da = falloc((size_t)(l->rank * l->n_in), &bad);
        tl->db = falloc((size_t)(l->n_out * l->rank), &bad);
        tl->b = l->b;
        tl->db_acc = tl->db;
        tl->bt = falloc((size_t)(l->n_out * l->rank), &bad);
        if (l->n_out > t->max_out) t->max_out = l->n_out;
        if (m->rope_mode == HONE_ROPE_NORM && (l->proj == HONE_PROJ_Q || l->proj == HONE_PROJ_K)) {
            tl->bp = falloc((size_t)(l->n_out * l->rank), &bad);
            tl->dbp = falloc((size_t)(l->n_out * l->rank), &bad);
            tl->b = tl->bp;
            tl->db_acc = tl->dbp;
        }
        t->slot[(size_t)l->layer * HONE_PROJ_COUNT + l->proj] = (int32_t)i;
        if (l->layer < t->lo) t->lo = l->layer;
        if (l->rank > t->max_rank) t->max_rank = l->rank;
    }
    if ((rc = hone_pool_create(&t->pool, opts->n_threads, err))) goto fail;

    size_t T = (size_t)t->Tmax, D = (size_t)t->D, F = (size_t)t->F, nq = (size_t)t->nq, nkv = (size_t)t->nkv;
    size_t B = opts->max_batch;
    uint32_t na = d->n_layers - t->lo;
    t->tok = calloc(T, sizeof *t->tok);
    t->tgt = calloc(T, sizeof *t->tgt);
    t->pos = calloc(T, sizeof *t->pos);
    t->rseq = calloc(T, sizeof *t->rseq);
    t->ppos = calloc(T, sizeof *t->ppos);
    t->prseq = calloc(T, sizeof *t->prseq);
    t->off = calloc(B, sizeof *t->off);
    t->poff = calloc(B, sizeof *t->poff);
    t->len = calloc(B, sizeof *t->len);
    t->plen = calloc(B, sizeof *t->plen);
    t->pidx = calloc(B, sizeof *t->pidx);
    if (!t->tok || !t->tgt || !t->pos || !t->rseq || !t->ppos || !t->prseq || !t->off || !t->poff || !t->len ||
        !t->plen || !t->pidx)
        bad = 1;
    if (t->lo > 0) {
        t->pa = falloc(T * D, &bad);
        t->pb = falloc(T * D, &bad);
    }
    t->xin = calloc(na + 1, sizeof *t->xin);
    t->n_acts = opts->grad_checkpoint ? 1 : (int)na;
    t->acts = calloc((size_t)t->n_acts, sizeof *t->acts);
    if (!t->xin || !t->acts) bad = 1;
    for (uint32_t j = 0; j <= na && !bad; j++) t->xin[j] = falloc(T * D, &bad);
    for (int j = 0; j < t->n_acts && !bad; j++) act_alloc(&t->acts[j], T, D, F, nq, nkv, &bad);
    t->hf = falloc(T * D, &bad);
    t->dh = falloc(T * D, &bad);
    t->g = falloc(T * D, &bad);
    t->tmp = falloc(T * D, &bad);
    t->dxn = falloc(T * D, &bad);
    t->datt = falloc(T * nq, &bad);
    t->dqr = falloc(T * nq, &bad);
    t->dq = falloc(T * nq, &bad);
    t->dkr = falloc(T * nkv, &bad);
    t->dk = falloc(T * nkv, &bad);
    t->dv = falloc(T * nkv, &bad);
    t->df1 = falloc(T * F, &bad);
    t->df2 = falloc(T * F, &bad);
    t->df3 = falloc(T * F, &bad);
    if (t->dropout > 0) t->xd = falloc(T * (size_t)t->max_in, &bad);
    t->u = falloc(T * (size_t)t->max_rank, &bad);
    t->ug = falloc(T * (size_t)t->max_rank, &bad);
    t->dbt = falloc((size_t)(t->max_rank * t->max_out), &bad);
    if (!bad && t->lo > 0 && opts->prefix_cache_bytes != SIZE_MAX &&
        pcache_init(&t->pc, opts->prefix_cache_bytes ? opts->prefix_cache_bytes : DEFAULT_CACHE_BYTES, t->D))
        bad = 1;
    if (bad) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory for a trainer of %u x %u tokens", opts->max_batch,
                          opts->max_seq);
        goto fail;
    }
    *out = t;
    return HONE_OK;
fail:
    hone_trainer_free(t);
    return rc;
}

void hone_trainer_zero_grad(hone_trainer *t) {
    for (int64_t i = 0; i < t->n_lora; i++) {
        tr_lora *l = &t->lora[i];
        memset(l->da, 0, (size_t)(l->rank * l->n_in) * sizeof(float));
        memset(l->db, 0, (size_t)(l->n_out * l->rank) * sizeof(float));
    }
}

void hone_trainer_grad(hone_trainer *t, int64_t i, float **dA, float **dB) {
    if (i < 0 || i >= t->n_lora) {
        *dA = *dB = NULL;
        return;
    }
    *dA = t->lora[i].da;
    *dB = t->lora[i].db;
}

void hone_trainer_clear_cache(hone_trainer *t) { pcache_clear(&t->pc); }

static uint64_t tokens_hash(const int32_t *tok, uint32_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < n; i++) {
        h ^= (uint32_t)tok[i];
        h *= 0x100000001b3ull;
    }
    return h ^ n;
}

static void embed_rows(const hone_trainer *t, float *x, const int32_t *tok, int64_t n) {
    const hone_model *m = t->m;
    const hone_weight *e = &m->tok_embd;
    int64_t D = t->D;
    for (int64_t r = 0; r < n; r++) {
        float *xr = x + r * D;
        hone_dequantize(e->type, (const uint8_t *)e->data + (size_t)tok[r] * e->row_bytes, xr, (uint64_t)D, NULL);
        if (m->embed_scale != 1.0f)
            for (int64_t i = 0; i < D; i++) xr[i] *= m->embed_scale;
    }
}

/* Fills t->xin[0] with the hidden state entering block lo for every sequence. */
static void run_prefix(hone_trainer *t, const hone_train_batch *bt, const tr_batch *b) {
    int64_t D = t->D;
    if (t->lo == 0) {
        embed_rows(t, t->xin[0], t->tok, b->T);
        return;
    }
    /* which sequences miss the cache */
    uint32_t nm = 0;
    int64_t Tm = 0;
    for (uint32_t s = 0; s < b->n; s++) {
        const float *hit = NULL;
        if (bt->example_ids)
            hit = pcache_get(&t->pc, bt->example_ids[s], tokens_hash(t->tok + b->off[s], b->len[s]), b->len[s]);
        if (hit) {
            memcpy(t->xin[0] + b->off[s] * D, hit, (size_t)(b->len[s] * D) * sizeof(float));
            continue;
        }
        t->pidx[nm] = s;
        t->poff[nm] = Tm;
        t->plen[nm] = b->len[s];
        memcpy(t->ppos + Tm, b->pos + b->off[s], b->len[s] * sizeof *t->ppos);
        memcpy(t->prseq + Tm, b->rseq + b->off[s], b->len[s] * sizeof *t->prseq);
        embed_rows(t, t->pa + Tm * D, t->tok + b->off[s], b->len[s]);
        Tm += b->len[s];
        nm++;
    }
    if (!nm) return;
    tr_batch pb = {.T = Tm, .n = nm, .off = t->poff, .len = t->plen, .pos = t->ppos, .rseq = t->prseq,
                   .seed = b->seed};
    float *cur = t->pa, *nxt = t->pb;
    for (uint32_t il = 0; il < t->lo; il++) {
        tr_block_forward(t, il, &t->acts[0], cur, nxt, &pb);
        float *sw = cur;
        cur = nxt;
        nxt = sw;
    }
    for (uint32_t i = 0; i < nm; i++) {
        uint32_t s = t->pidx[i];
        const float *rows = cur + t->poff[i] * D;
        memcpy(t->xin[0] + b->off[s] * D, rows, (size_t)(b->len[s] * D) * sizeof(float));
        if (bt->example_ids)
            pcache_put(&t->pc, bt->example_ids[s], tokens_hash(t->tok + b->off[s], b->len[s]), b->len[s], rows);
    }
}

int hone_trainer_step(hone_trainer *t, const hone_train_batch *bt, int backward, float grad_scale,
                      double *loss_sum, int64_t *n_tokens, hone_err *err) {
    const hone_model *m = t->m;
    const hone_model_desc *d = &m->desc;
    if (!bt || !bt->tokens || !bt->targets || !bt->lengths)
        return hone_err_set(err, HONE_EARG, "train step: tokens, targets and lengths are required");
    if (bt->n_seq < 1 || bt->n_seq > t->o.max_batch || bt->seq_len > t->o.max_seq)
        return hone_err_set(err, HONE_EARG, "train step: batch %u x %u exceeds the trainer's %u x %u", bt->n_seq,
                            bt->seq_len, t->o.max_batch, t->o.max_seq);
    /* check and pack */
    int64_t T = 0, n_sup = 0;
    for (uint32_t s = 0; s < bt->n_seq; s++) {
        uint32_t n = bt->lengths[s];
        if (n > bt->seq_len)
            return hone_err_set(err, HONE_EARG, "train step: lengths[%u] = %u exceeds seq_len %u", s, n, bt->seq_len);
        t->off[s] = T;
        t->len[s] = n;
        for (uint32_t i = 0; i < n; i++) {
            int32_t tk = bt->tokens[(size_t)s * bt->seq_len + i], tg = bt->targets[(size_t)s * bt->seq_len + i];
            if (tk < 0 || (uint32_t)tk >= d->vocab)
                return hone_err_set(err, HONE_EARG, "train step: tokens[%u][%u] = %d is outside the vocabulary (%u)",
                                    s, i, tk, d->vocab);
            if (tg >= 0 && (uint32_t)tg >= d->vocab)
                return hone_err_set(err, HONE_EARG, "train step: targets[%u][%u] = %d is outside the vocabulary (%u)",
                                    s, i, tg, d->vocab);
            t->tok[T] = tk;
            t->tgt[T] = tg < 0 ? -1 : tg;
            t->pos[T] = (int32_t)i;
            t->rseq[T] = (int32_t)s;
            n_sup += tg >= 0;
            T++;
        }
    }
    if (n_sup == 0) return HONE_OK;
    tr_batch b = {.T = T, .n = bt->n_seq, .off = t->off, .len = t->len, .pos = t->pos, .rseq = t->rseq,
                  .seed = bt->dropout_seed};
    int64_t D = t->D;
    uint32_t L = d->n_layers, lo = t->lo;
    float eps = d->rms_eps;

    /* llama GGUF q/k: B in the file's row order; B^T for the vector loops */
    for (int64_t i = 0; i < t->n_lora; i++) {
        tr_lora *l = &t->lora[i];
        if (l->bp) {
            int64_t hd = d->head_dim;
            for (int64_t r = 0; r < l->n_out; r++)
                memcpy(l->bp + perm_row(r, hd) * l->rank, l->src->b + r * l->rank, (size_t)l->rank * sizeof(float));
            if (backward) memset(l->dbp, 0, (size_t)(l->n_out * l->rank) * sizeof(float));
        }
        for (int64_t o = 0; o < l->n_out; o++)
            for (int64_t k = 0; k < l->rank; k++) l->bt[k * l->n_out + o] = l->b[o * l->rank + k];
    }

    run_prefix(t, bt, &b);
    for (uint32_t il = lo; il < L; il++) {
        uint32_t j = il - lo;
        tr_block_forward(t, il, &t->acts[t->o.grad_checkpoint ? 0 : j], t->xin[j], t->xin[j + 1], &b);
    }
    const float *xf = t->xin[L - lo];
    t->be->rmsnorm(t->hf, xf, m->out_norm, T, D, eps);
    double loss = 0;
    int64_t counted = 0;
    float dscale = grad_scale != 0.0f ? grad_scale : (float)(1.0 / (double)n_sup);
    if (backward) memset(t->dh, 0, (size_t)(T * D) * sizeof(float));
    t->be->lm_head_ce(&loss, &counted, backward ? t->dh : NULL, t->hf, &m->output, t->tgt, NULL, T,
                      d->final_logit_softcap, dscale, t->pool);
    *loss_sum += loss;
    *n_tokens += counted;
    if (!backward) return HONE_OK;

    memset(t->g, 0, (size_t)(T * D) * sizeof(float));
    t->be->rmsnorm_bwd(t->g, NULL, t->dh, xf, m->out_norm, T, D, eps);
    for (uint32_t il = L; il-- > lo;) {
        uint32_t j = il - lo;
        tr_act *a = &t->acts[t->o.grad_checkpoint ? 0 : j];
        if (t->o.grad_checkpoint) tr_block_forward(t, il, a, t->xin[j], t->tmp, &b); /* recompute internals */
        tr_block_backward(t, il, a, t->xin[j], t->g, &b, il > lo);
    }
    for (int64_t i = 0; i < t->n_lora; i++) {
        tr_lora *l = &t->lora[i];
        if (!l->bp) continue;
        int64_t hd = d->head_dim;
        for (int64_t r = 0; r < l->n_out; r++) {
            const float *src = l->dbp + perm_row(r, hd) * l->rank;
            float *dst = l->db + r * l->rank;
            for (int64_t k = 0; k < l->rank; k++) dst[k] += src[k];
        }
    }
    return HONE_OK;
}
