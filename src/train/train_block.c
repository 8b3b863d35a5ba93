/* train_block.c: one transformer block's forward (saving what the backward
 * needs) and backward, over a packed batch (train_internal.h), through the
 * backend table only. The math is forward.c's (same ops in the same order, so
 * a block gives the inference engine's numbers), per family:
 *   gemma3:  h = x + post_attn_norm(attn(attn_norm(x))),
 *            x' = h + post_ffn_norm(down(gelu_tanh(gate(n)) * up(n))), n = ffn_norm(h),
 *            q/k RMSNorm per head before RoPE;
 *   llama, mistral, qwen2: the same without the post norms and q/k norms (qwen2: q/k/v biases).
 * Unlike forward.c there is no KV cache: every sequence attends over its own
 * rows (positions 0..len-1), keys = the batch's own k, v.
 *
 * Backward (gradients of the residual stream flow in g, in place):
 *   dn  -> [post_ffn_norm'] -> down' -> glu' -> gate', up' -> ffn_norm' (+= g)
 *   g   -> [post_attn_norm'] -> o' -> attention' -> rope' -> [q/k norm'] -> q', k', v'
 *       -> attn_norm' (+= g).
 * Frozen weights get no gradient: each projection adds only dx (matmul_bwd)
 * plus its adapter's dA, dB. In the lowest adapted block (need_dx = 0) nothing
 * below the adapters is computed: no dx of the q/k/v weights, no attn_norm',
 * and no attention backward at all when that block adapts only its MLP.
 */
#include <math.h>
#include <string.h>

#include "train/train_internal.h"

/* The frozen weight and bias of projection p in layer L. */
static const hone_weight *proj_weight(const model_layer *L, int p, const float **bias) {
    *bias = p == HONE_PROJ_Q ? L->bq : p == HONE_PROJ_K ? L->bk : p == HONE_PROJ_V ? L->bv : NULL;
    switch (p) {
    case HONE_PROJ_Q: return &L->wq;
    case HONE_PROJ_K: return &L->wk;
    case HONE_PROJ_V: return &L->wv;
    case HONE_PROJ_O: return &L->wo;
    case HONE_PROJ_GATE: return &L->w_gate;
    case HONE_PROJ_UP: return &L->w_up;
    default: return &L->w_down;
    }
}

static const tr_lora *lora_of(const hone_trainer *t, uint32_t il, int p) {
    int32_t i = t->slot[(size_t)il * HONE_PROJ_COUNT + p];
    return i >= 0 ? &t->lora[i] : NULL;
}

/* y (T, n_out) = x W^T + b + scale B (A drop(x)): THE linear of the step. */
static void lin_fwd(hone_trainer *t, uint32_t il, int p, float *y, const float *x, const tr_batch *b) {
    const float *bias;
    const hone_weight *w = proj_weight(&t->m->layers[il], p, &bias);
    t->be->matmul(y, x, w, bias, b->T, t->pool);
    const tr_lora *l = lora_of(t, il, p);
    if (l) tr_lora_forward(t, l, y, x, b);
}

/* dx (T, n_in) += dy W (+ the adapter's part); dx NULL: only dA, dB. */
static void lin_bwd(hone_trainer *t, uint32_t il, int p, float *dx, const float *dy, const float *x,
                    const tr_batch *b) {
    const float *bias;
    const hone_weight *w = proj_weight(&t->m->layers[il], p, &bias);
    if (dx) t->be->matmul_bwd(dx, dy, w, b->T, t->pool);
    const tr_lora *l = lora_of(t, il, p);
    if (l) tr_lora_backward(t, l, dx, dy, x, b);
}

static hone_attn_params attn_params(const hone_trainer *t, uint32_t il) {
    const hone_model_desc *d = &t->m->desc;
    hone_attn_params ap = {
        .n_heads = d->n_heads, .n_kv_heads = d->n_kv_heads, .head_dim = d->head_dim,
        .scale = (float)(1.0 / sqrt((double)d->query_pre_attn_scalar)),
        .window = t->m->layers[il].sliding ? d->sliding_window : 0,
        .softcap = d->attn_logit_softcap,
    };
    return ap;
}

static void zero(float *p, int64_t n) { memset(p, 0, (size_t)n * sizeof *p); }

void tr_block_forward(hone_trainer *t, uint32_t il, tr_act *a, const float *x, float *out, const tr_batch *b) {
    const hone_model *m = t->m;
    const hone_model_desc *d = &m->desc;
    const model_layer *L = &m->layers[il];
    const hone_backend *be = t->be;
    int64_t T = b->T, D = t->D, F = t->F, H = d->n_heads, KV = d->n_kv_heads, hd = d->head_dim;
    int64_t nq = t->nq, nkv = t->nkv;
    float eps = d->rms_eps;

    be->rmsnorm(a->xn1, x, L->attn_norm, T, D, eps);
    lin_fwd(t, il, HONE_PROJ_Q, a->q, a->xn1, b);
    lin_fwd(t, il, HONE_PROJ_K, a->k, a->xn1, b);
    lin_fwd(t, il, HONE_PROJ_V, a->v, a->xn1, b);
    if (L->q_norm) {
        be->rmsnorm(a->qr, a->q, L->q_norm, T * H, hd, eps);
        be->rmsnorm(a->kr, a->k, L->k_norm, T * KV, hd, eps);
    } else {
        memcpy(a->qr, a->q, (size_t)(T * nq) * sizeof(float));
        memcpy(a->kr, a->k, (size_t)(T * nkv) * sizeof(float));
    }
    be->rope(a->qr, b->pos, T, H, hd, d->rope_dim, L->freqs, m->rope_mode);
    be->rope(a->kr, b->pos, T, KV, hd, d->rope_dim, L->freqs, m->rope_mode);
    hone_attn_params ap = attn_params(t, il);
    for (uint32_t s = 0; s < b->n; s++) {
        int64_t o0 = b->off[s], n = b->len[s];
        be->attention(a->att + o0 * nq, a->qr + o0 * nq, b->pos + o0, n, a->kr + o0 * nkv, a->v + o0 * nkv,
                      b->pos + o0, n, &ap, t->pool);
    }
    lin_fwd(t, il, HONE_PROJ_O, a->o, a->att, b);
    if (L->post_attn_norm) {
        be->rmsnorm(a->x1, a->o, L->post_attn_norm, T, D, eps);
        for (int64_t i = 0; i < T * D; i++) a->x1[i] = x[i] + a->x1[i];
    } else {
        for (int64_t i = 0; i < T * D; i++) a->x1[i] = x[i] + a->o[i];
    }
    be->rmsnorm(a->xn2, a->x1, L->ffn_norm, T, D, eps);
    lin_fwd(t, il, HONE_PROJ_GATE, a->gate, a->xn2, b);
    lin_fwd(t, il, HONE_PROJ_UP, a->up, a->xn2, b);
    be->glu(a->act, a->gate, a->up, T, F, d->act == HONE_ACT_GELU_TANH);
    lin_fwd(t, il, HONE_PROJ_DOWN, a->dn, a->act, b);
    if (L->post_ffn_norm) {
        be->rmsnorm(out, a->dn, L->post_ffn_norm, T, D, eps);
        for (int64_t i = 0; i < T * D; i++) out[i] = a->x1[i] + out[i];
    } else {
        for (int64_t i = 0; i < T * D; i++) out[i] = a->x1[i] + a->dn[i];
    }
}

void tr_block_backward(hone_trainer *t, uint32_t il, const tr_act *a, const float *x, float *g,
                       const tr_batch *b, int need_dx) {
    const hone_model *m = t->m;
    const hone_model_desc *d = &m->desc;
    const model_layer *L = &m->layers[il];
    const hone_backend *be = t->be;
    int64_t T = b->T, D = t->D, F = t->F, H = d->n_heads, KV = d->n_kv_heads, hd = d->head_dim;
    int64_t nq = t->nq, nkv = t->nkv;
    float eps = d->rms_eps;

    /* MLP: x2 = x1 + post(dn) */
    const float *ddn = g;
    if (L->post_ffn_norm) {
        zero(t->tmp, T * D);
        be->rmsnorm_bwd(t->tmp, NULL, g, a->dn, L->post_ffn_norm, T, D, eps);
        ddn = t->tmp;
    }
    zero(t->df1, T * F);
    lin_bwd(t, il, HONE_PROJ_DOWN, t->df1, ddn, a->act, b);
    zero(t->df2, T * F);
    zero(t->df3, T * F);
    be->glu_bwd(t->df2, t->df3, t->df1, a->gate, a->up, T, F, d->act == HONE_ACT_GELU_TANH);
    zero(t->dxn, T * D);
    lin_bwd(t, il, HONE_PROJ_GATE, t->dxn, t->df2, a->xn2, b);
    lin_bwd(t, il, HONE_PROJ_UP, t->dxn, t->df3, a->xn2, b);
    be->rmsnorm_bwd(g, NULL, t->dxn, a->x1, L->ffn_norm, T, D, eps); /* g = dL/dx1 */

    int attn_adapted = 0;
    for (int p = HONE_PROJ_Q; p <= HONE_PROJ_O; p++) attn_adapted |= lora_of(t, il, p) != NULL;
    if (!need_dx && !attn_adapted) return;

    /* attention: x1 = x + post(o) */
    const float *dout = g;
    if (L->post_attn_norm) {
        zero(t->tmp, T * D);
        be->rmsnorm_bwd(t->tmp, NULL, g, a->o, L->post_attn_norm, T, D, eps);
        dout = t->tmp;
    }
    zero(t->datt, T * nq);
    lin_bwd(t, il, HONE_PROJ_O, t->datt, dout, a->att, b);
    zero(t->dqr, T * nq);
    zero(t->dkr, T * nkv);
    zero(t->dv, T * nkv);
    hone_attn_params ap = attn_params(t, il);
    for (uint32_t s = 0; s < b->n; s++) {
        int64_t o0 = b->off[s], n = b->len[s];
        be->attention_bwd(t->dqr + o0 * nq, t->dkr + o0 * nkv, t->dv + o0 * nkv, t->datt + o0 * nq,
                          a->qr + o0 * nq, b->pos + o0, n, a->kr + o0 * nkv, a->v + o0 * nkv, b->pos + o0, n,
                          &ap, t->pool);
    }
    be->rope_bwd(t->dqr, b->pos, T, H, hd, d->rope_dim, L->freqs, m->rope_mode);
    be->rope_bwd(t->dkr, b->pos, T, KV, hd, d->rope_dim, L->freqs, m->rope_mode);
    const float *dq = t->dqr, *dk = t->dkr;
    if (L->q_norm) {
        zero(t->dq, T * nq);
        zero(t->dk, T * nkv);
        be->rmsnorm_bwd(t->dq, NULL, t->dqr, a->q, L->q_norm, T * H, hd, eps);
        be->rmsnorm_bwd(t->dk, NULL, t->dkr, a->k, L->k_norm, T * KV, hd, eps);
        dq = t->dq;
        dk = t->dk;
    }
    float *dxn = need_dx ? t->dxn : NULL;
    if (dxn) zero(dxn, T * D);
    lin_bwd(t, il, HONE_PROJ_Q, dxn, dq, a->xn1, b);
    lin_bwd(t, il, HONE_PROJ_K, dxn, dk, a->xn1, b);
    lin_bwd(t, il, HONE_PROJ_V, dxn, t->dv, a->xn1, b);
    if (need_dx) be->rmsnorm_bwd(g, NULL, dxn, x, L->attn_norm, T, D, eps); /* g = dL/dx */
}
