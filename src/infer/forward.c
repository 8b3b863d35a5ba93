/* forward.c: the transformer forward pass over one batch of tokens, for every
 * supported architecture, through the backend table only (ops/backend.h).
 *
 * Per layer, as transformers defines the families:
 *   gemma3:  h = x + post_attn_norm(attn(attn_norm(x)))
 *            x' = h + post_ffn_norm(down(gelu_tanh(gate(n)) * up(n))), n = ffn_norm(h)
 *            attention: q/k RMSNorm per head, then RoPE (local base on sliding
 *            layers), scores scaled by 1/sqrt(query_pre_attn_scalar)
 *   llama, mistral, qwen2: h = x + attn(attn_norm(x)); x' = h + down(silu(gate(n)) * up(n)),
 *            n = ffn_norm(h); qwen2 adds q/k/v biases; mistral may slide
 * then the final norm; logits only for the rows asked for (LM head = output, or
 * the tied token embedding). Gemma3 scales the embeddings by sqrt(hidden)
 * rounded to f32, as its torch tensor is. Every projection goes through
 * forward_linear() (or forward_linear_n() for projections of one input: q/k/v,
 * gate/up), where LoRA attaches.
 *
 * One pass may carry several sessions (forward_segs: a segment of rows per
 * session, hone_session_eval_multi): the projections, norms and the MLP see all
 * rows at once; the LoRA term (each session's adapter), RoPE positions, the KV
 * store and attention run per segment. With one segment it is the plain
 * single-session pass (forward_batch), call for call.
 */
#include <math.h>
#include <string.h>

#include "infer/session.h"
#include "util/err.h"

typedef enum proj { PROJ_Q, PROJ_K, PROJ_V, PROJ_O, PROJ_GATE, PROJ_UP, PROJ_DOWN, PROJ_LM_HEAD } proj;

/* y (T, n_out) += scale * (x (T, n_in) A^T) B^T, A (r, n_in), B (n_out, r), f32
 * in and out, both products accumulated in double so the adapter adds no
 * summation-order noise of its own (a strong random adapter on the tiny llama
 * model amplified f32 dot-product rounding at one position to 4.5e-4 rel L2 from
 * PEFT in f64). The cost is r (n_in + n_out) multiply-adds per token, ~1-2 % of
 * the base projection's for r = 8. A zero B adds exactly 0, so a zero adapter
 * leaves the output bit-identical. */
static void lora_forward(hone_session *s, const hone_lora *l, float *y, const float *x, int64_t T) {
    float *t = s->lora_t; /* (T, r) */
    int64_t r = l->rank, ni = l->n_in, no = l->n_out;
    double sc = s->ad->scale;
    for (int64_t tt = 0; tt < T; tt++) {
        const float *xt = x + tt * ni;
        for (int64_t k = 0; k < r; k++) {
            const float *ak = l->a + k * ni;
            double acc = 0;
            for (int64_t j = 0; j < ni; j++) acc += (double)ak[j] * xt[j];
            t[tt * r + k] = (float)acc;
        }
        const float *tr = t + tt * r;
        float *yr = y + tt * no;
        for (int64_t o = 0; o < no; o++) {
            const float *br = l->b + o * r;
            double acc = 0;
            for (int64_t k = 0; k < r; k++) acc += (double)br[k] * tr[k];
            yr[o] = (float)((double)yr[o] + sc * acc);
        }
    }
}

/* A forward pass's sessions: w does the work, segs say whose rows are whose. */
typedef struct fwd {
    hone_session *w;
    const fwd_seg *segs;
    uint32_t n_seg;
} fwd;

/* THE linear layer: y (T, n_out) = x (T, n_in) W^T + b. Every projection of the
 * model (q, k, v, o, gate, up, down, LM head) passes here, identified by
 * (layer, which), so adapters attach in one place.
 * LoRA attaches here: y += scale * B (A x), A (r, n_in), B (n_out, r), with
 * each segment's session's adapter on its own rows. */
static void forward_linear(const fwd *f, uint32_t layer, proj which, float *y, const float *x,
                           const hone_weight *w, const float *bias, int64_t T) {
    f->w->be->matmul(y, x, w, bias, T, f->w->pool);
    if (which >= PROJ_LM_HEAD) return;
    for (uint32_t i = 0; i < f->n_seg; i++) {
        hone_session *s = f->segs[i].s;
        const hone_lora *l = s->ad ? s->ad->lora[(size_t)layer * HONE_PROJ_COUNT + which] : NULL;
        if (l) lora_forward(s, l, y + (size_t)f->segs[i].row0 * w->n_out, x + (size_t)f->segs[i].row0 * w->n_in,
                            f->segs[i].n);
    }
}

/* forward_linear for n projections of the same input x (q/k/v, gate/up): one
 * backend call (the fast backend quantizes x once and runs all rows in one pool
 * job at decode), then each projection's adapters, as forward_linear adds them. */
static void forward_linear_n(const fwd *f, uint32_t layer, const proj *which, float *const *ys, const float *x,
                             const hone_weight *const *ws, const float *const *bs, int n, int64_t T) {
    const hone_backend *be = f->w->be;
    if (be->matmul_n) be->matmul_n(ys, x, ws, bs, n, T, f->w->pool);
    else
        for (int j = 0; j < n; j++) be->matmul(ys[j], x, ws[j], bs ? bs[j] : NULL, T, f->w->pool);
    for (int j = 0; j < n; j++) {
        if (which[j] >= PROJ_LM_HEAD) continue;
        for (uint32_t i = 0; i < f->n_seg; i++) {
            hone_session *s = f->segs[i].s;
            const hone_lora *l = s->ad ? s->ad->lora[(size_t)layer * HONE_PROJ_COUNT + which[j]] : NULL;
            if (l)
                lora_forward(s, l, ys[j] + (size_t)f->segs[i].row0 * ws[j]->n_out,
                             x + (size_t)f->segs[i].row0 * ws[j]->n_in, f->segs[i].n);
        }
    }
}

static void embed_tokens(hone_session *s, const int32_t *tokens, uint32_t n) {
    const hone_model *m = s->m;
    int64_t D = m->desc.hidden;
    const hone_weight *e = &m->tok_embd;
    for (uint32_t t = 0; t < n; t++) {
        float *xt = s->x + t * D;
        const uint8_t *row = (const uint8_t *)e->data + (size_t)tokens[t] * e->row_bytes;
        hone_dequantize(e->type, row, xt, (uint64_t)D, NULL); /* type checked at load */
        if (m->embed_scale != 1.0f)
            for (int64_t i = 0; i < D; i++) xt[i] *= m->embed_scale;
    }
}

static void add_into(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] + y[i];
}

/* Stores the batch's k, v rows (n, kv_dim) into the cache slots of positions qpos. */
static void kv_store(kv_layer *c, const float *k, const float *v, const int32_t *qpos, uint32_t n, int64_t kv_dim) {
    for (uint32_t t = 0; t < n; t++) {
        uint32_t slot = (uint32_t)qpos[t] % c->slots;
        memcpy(c->k + (size_t)slot * kv_dim, k + t * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(c->v + (size_t)slot * kv_dim, v + t * kv_dim, (size_t)kv_dim * sizeof(float));
        c->kpos[slot] = qpos[t];
    }
}

int forward_batch(hone_session *s, const int32_t *tokens, uint32_t n, hone_eval_out *out, hone_err *err) {
    fwd_seg seg = {s, 0, n};
    return forward_segs(s, &seg, 1, tokens, n, out, err);
}

int forward_segs(hone_session *s, const fwd_seg *segs, uint32_t n_seg, const int32_t *tokens, uint32_t n,
                 hone_eval_out *out, hone_err *err) {
    const hone_model *m = s->m;
    const hone_model_desc *d = &m->desc;
    const hone_backend *be = s->be;
    int64_t T = n, D = d->hidden, F = d->ffn_hidden, H = d->n_heads, KV = d->n_kv_heads, hd = d->head_dim;
    int64_t nkv = KV * hd;
    float eps = d->rms_eps;
    const fwd f = {s, segs, n_seg};

    for (uint32_t i = 0; i < n_seg; i++)
        for (uint32_t t = 0; t < segs[i].n; t++) s->qpos[segs[i].row0 + t] = (int32_t)(segs[i].s->pos + t);
    embed_tokens(s, tokens, n);

    for (uint32_t il = 0; il < d->n_layers; il++) {
        const model_layer *L = &m->layers[il];

        /* attention block */
        be->rmsnorm(s->xn, s->x, L->attn_norm, T, D, eps);
        {
            static const proj pj[3] = {PROJ_Q, PROJ_K, PROJ_V};
            float *ys[3] = {s->q, s->k, s->v};
            const hone_weight *ws[3] = {&L->wq, &L->wk, &L->wv};
            const float *bs[3] = {L->bq, L->bk, L->bv};
            forward_linear_n(&f, il, pj, ys, s->xn, ws, bs, 3, T);
        }
        float *q = s->q, *k = s->k;
        if (L->q_norm) {
            be->rmsnorm(s->q2, s->q, L->q_norm, T * H, hd, eps);
            be->rmsnorm(s->k2, s->k, L->k_norm, T * KV, hd, eps);
            q = s->q2;
            k = s->k2;
        }
        be->rope(q, s->qpos, T, H, hd, d->rope_dim, L->freqs, m->rope_mode);
        be->rope(k, s->qpos, T, KV, hd, d->rope_dim, L->freqs, m->rope_mode);
        hone_attn_params ap = {
            .n_heads = (uint32_t)H, .n_kv_heads = (uint32_t)KV, .head_dim = (uint32_t)hd,
            .scale = (float)(1.0 / sqrt((double)d->query_pre_attn_scalar)),
            .window = L->sliding ? d->sliding_window : 0,
            .softcap = d->attn_logit_softcap,
        };
        for (uint32_t i = 0; i < n_seg; i++) {
            const fwd_seg *g = &segs[i];
            kv_layer *c = &g->s->kv[il];
            size_t r0 = g->row0;
            kv_store(c, k + r0 * nkv, s->v + r0 * nkv, s->qpos + r0, g->n, nkv);
            uint64_t n_keys = (uint64_t)g->s->pos + g->n < c->slots ? (uint64_t)g->s->pos + g->n : c->slots;
            be->attention(s->att + r0 * H * hd, q + r0 * H * hd, s->qpos + r0, g->n, c->k, c->v, c->kpos,
                          (int64_t)n_keys, &ap, s->pool);
        }
        forward_linear(&f, il, PROJ_O, s->o, s->att, &L->wo, NULL, T);
        if (L->post_attn_norm) {
            be->rmsnorm(s->xn, s->o, L->post_attn_norm, T, D, eps);
            add_into(s->x, s->xn, T * D);
        } else {
            add_into(s->x, s->o, T * D);
        }

        /* MLP block */
        be->rmsnorm(s->xn, s->x, L->ffn_norm, T, D, eps);
        {
            static const proj pj[2] = {PROJ_GATE, PROJ_UP};
            float *ys[2] = {s->gate, s->up};
            const hone_weight *ws[2] = {&L->w_gate, &L->w_up};
            forward_linear_n(&f, il, pj, ys, s->xn, ws, NULL, 2, T);
        }
        be->glu(s->act, s->gate, s->up, T, F, d->act == HONE_ACT_GELU_TANH);
        forward_linear(&f, il, PROJ_DOWN, s->o, s->act, &L->w_down, NULL, T);
        if (L->post_ffn_norm) {
            be->rmsnorm(s->xn, s->o, L->post_ffn_norm, T, D, eps);
            add_into(s->x, s->xn, T * D);
        } else {
            add_into(s->x, s->o, T * D);
        }
    }

    if (!out) return HONE_OK;
    be->rmsnorm(s->xn, s->x, m->out_norm, T, D, eps);
    if (out->hidden) memcpy(out->hidden, s->xn, (size_t)(T * D) * sizeof(float));
    if (out->logits) {
        uint32_t nr = out->rows ? out->n_rows : 1;
        for (uint32_t r = 0; r < nr; r++) {
            uint32_t t = out->rows ? out->rows[r] : n - 1;
            memcpy(s->rows + (size_t)r * D, s->xn + (size_t)t * D, (size_t)D * sizeof(float));
        }
        forward_linear(&f, UINT32_MAX, PROJ_LM_HEAD, out->logits, s->rows, &m->output, NULL, nr);
        float cap = d->final_logit_softcap;
        if (cap > 0)
            for (size_t i = 0; i < (size_t)nr * d->vocab; i++) out->logits[i] = cap * tanhf(out->logits[i] / cap);
    }
    (void)err;
    return HONE_OK;
}
