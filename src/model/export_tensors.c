/* export_tensors.c: the tensor list of a model for export (both names, sources) and the
 * streaming producer of one tensor's bytes (export_internal.h).
 *
 * Producing a matrix, fastest path first:
 *  1. unmodified, same type, same row order: the source bytes as they are (zero copy);
 *  2. unmodified otherwise: row blocks (one head for permuted q/k, else up to ~1 MiB of f32)
 *     are gathered in target row order, copied raw when the type is unchanged (a row
 *     permutation moves whole rows, so quantized rows survive it exactly), else dequantized
 *     to f32 and quantized to the target type;
 *  3. modified (adapter merge, hook): the whole matrix in f32, HF row order; W += s * B A
 *     (row by row: W[o] += (s * B[o][k]) * A[k] for k in order), then the hook; then the
 *     change's survival ||Q(W') - Q(W)|| / ||W' - W|| in the target type; then written.
 * Vectors are the model's f32 copies (effective norm values), F32 in GGUF; in HF the
 * family's norm shift is subtracted again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "model/export_internal.h"
#include "util/err.h"

const char *xt_gguf_arch(const hone_model *m) {
    switch (m->desc.arch) {
    case HONE_ARCH_GEMMA3: return "gemma3";
    case HONE_ARCH_QWEN2: return "qwen2";
    default: return "llama"; /* llama, mistral: llama.cpp's converter writes "llama" for both */
    }
}

int xt_gguf_permutes(const hone_model *m) {
    return m->desc.arch == HONE_ARCH_LLAMA || m->desc.arch == HONE_ARCH_MISTRAL;
}

static const char *GG[] = {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                           "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"};
static const char *HFP[] = {"self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                            "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                            "mlp.down_proj.weight"};

/* cap (8 + 24 per layer) exceeds what any model pushes: 7 matrices + 9 vectors a layer. */
static xt *push(xt_list *l, int cap) {
    (void)cap;
    xt *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    t->layer = -1;
    t->proj = -1;
    t->vec_src_type = HONE_F32;
    return t;
}

static void add_vec(xt_list *l, int cap, int layer, const char *gg, const char *hf, const float *v, int64_t n,
                    float sub) {
    if (!v) return;
    xt *t = push(l, cap);
    t->layer = layer;
    t->role = layer < 0 ? XT_OUT_NORM : XT_LAYER_VEC;
    if (layer >= 0) {
        snprintf(t->gguf, sizeof t->gguf, "blk.%d.%s", layer, gg);
        snprintf(t->hf, sizeof t->hf, "model.layers.%d.%s", layer, hf);
    } else {
        snprintf(t->gguf, sizeof t->gguf, "%s", gg);
        snprintf(t->hf, sizeof t->hf, "%s", hf);
    }
    t->vec = v;
    t->hf_sub = sub;
    t->n_in = n;
    t->n_out = 1;
}

/* llama.cpp's rope_freqs for llama3 scaling, computed as its converter computes them
 * (LlamaModel.generate_extra_tensors): torch f32 arithmetic on
 * freq = 1 / base^(2i/d), wavelen = 2 pi / freq; 1 above the high-frequency wavelength,
 * factor below the low one, 1 / ((1 - smooth) / factor + smooth) between. */
void xt_llama3_factors(float *f, uint32_t dim, float base, float factor, float lo, float hi, uint32_t orig) {
    float old = (float)orig, lo_wl = old / lo, hi_wl = old / hi;
    for (uint32_t i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf(base, (float)(2 * i) / (float)dim);
        float wl = (float)(2 * M_PI) / freq;
        if (wl < hi_wl) f[i] = 1.0f;
        else if (wl > lo_wl) f[i] = factor;
        else {
            float smooth = (old / wl - lo) / (hi - lo);
            f[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
}

static float *rope_factors(const hone_model *m, hone_err *err) {
    const hone_model_desc *d = &m->desc;
    uint32_t half = d->rope_dim / 2;
    float *f = malloc(half * sizeof *f);
    if (!f) {
        hone_err_set(err, HONE_ENOMEM, "out of memory");
        return NULL;
    }
    if (m->gguf && d->rope_freqs_tensor) { /* the source's own, exactly */
        int64_t t = hone_gguf_find_tensor(m->gguf, "rope_freqs.weight");
        if (t < 0 || hone_gguf_tensor_nelem(m->gguf, t) != half ||
            hone_gguf_tensor_dequantize(m->gguf, t, f, err)) {
            free(f);
            if (t < 0 || hone_gguf_tensor_nelem(m->gguf, t) != half)
                hone_err_set(err, HONE_EFORMAT, "%s: rope_freqs.weight: expected %u elements", hone_gguf_path(m->gguf), half);
            return NULL;
        }
        return f;
    }
    xt_llama3_factors(f, d->rope_dim, d->rope_theta, d->rope_factor, d->rope_low_freq_factor,
                      d->rope_high_freq_factor, d->rope_orig_context);
    return f;
}

int xt_list_build(xt_list *l, const hone_model *m, int for_gguf, hone_err *err) {
    const hone_model_desc *d = &m->desc;
    const arch_info *ai = arch_by_id(d->arch);
    float sub = ai ? ai->hf_norm_add : 0.0f;
    int cap = 8 + 24 * (int)d->n_layers;
    memset(l, 0, sizeof *l);
    l->v = calloc((size_t)cap, sizeof *l->v);
    if (!l->v) return hone_err_set(err, HONE_ENOMEM, "out of memory for the tensor list");
    l->src_perm = m->rope_mode == HONE_ROPE_NORM;
    l->m = m;
    xt *t = push(l, cap);
    snprintf(t->gguf, sizeof t->gguf, "token_embd.weight");
    snprintf(t->hf, sizeof t->hf, "model.embed_tokens.weight");
    t->role = XT_EMBD;
    t->w = &m->tok_embd;
    t->n_in = m->tok_embd.n_in;
    t->n_out = m->tok_embd.n_out;
    if (for_gguf && ((d->rope_scaling == HONE_ROPE_SCALING_LLAMA3 && d->arch != HONE_ARCH_GEMMA3) ||
                     (m->gguf && d->rope_freqs_tensor))) {
        t = push(l, cap);
        snprintf(t->gguf, sizeof t->gguf, "rope_freqs.weight");
        snprintf(t->hf, sizeof t->hf, "rope_freqs");
        t->role = XT_ROPE_FREQS;
        if (!(t->owned = rope_factors(m, err))) {
            xt_list_free(l);
            return err ? err->code : HONE_ENOMEM;
        }
        t->vec = t->owned;
        t->n_in = d->rope_dim / 2;
        t->n_out = 1;
    }
    int gemma = d->arch == HONE_ARCH_GEMMA3;
    for (uint32_t il = 0; il < d->n_layers; il++) {
        const model_layer *L = &m->layers[il];
        const hone_weight *W[HONE_PROJ_COUNT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        add_vec(l, cap, (int)il, "attn_norm.weight", "input_layernorm.weight", L->attn_norm, d->hidden, sub);
        for (int p = 0; p < HONE_PROJ_COUNT; p++) {
            t = push(l, cap);
            snprintf(t->gguf, sizeof t->gguf, "blk.%u.%s", il, GG[p]);
            snprintf(t->hf, sizeof t->hf, "model.layers.%u.%s", il, HFP[p]);
            t->layer = (int)il;
            t->proj = p;
            t->role = XT_LAYER_MAT;
            t->w = W[p];
            t->n_in = W[p]->n_in;
            t->n_out = W[p]->n_out;
            t->head_dim = d->head_dim;
            if (xt_gguf_permutes(m) && (p == HONE_PROJ_Q || p == HONE_PROJ_K))
                t->qk_heads = p == HONE_PROJ_Q ? d->n_heads : d->n_kv_heads;
            if (p == HONE_PROJ_V) {
                add_vec(l, cap, (int)il, "attn_q.bias", "self_attn.q_proj.bias", L->bq,
                        (int64_t)d->n_heads * d->head_dim, 0);
                add_vec(l, cap, (int)il, "attn_k.bias", "self_attn.k_proj.bias", L->bk,
                        (int64_t)d->n_kv_heads * d->head_dim, 0);
                add_vec(l, cap, (int)il, "attn_v.bias", "self_attn.v_proj.bias", L->bv,
                        (int64_t)d->n_kv_heads * d->head_dim_v, 0);
                add_vec(l, cap, (int)il, "attn_q_norm.weight", "self_attn.q_norm.weight", L->q_norm, d->head_dim,
                        sub);
                add_vec(l, cap, (int)il, "attn_k_norm.weight", "self_attn.k_norm.weight", L->k_norm, d->head_dim,
                        sub);
            }
            if (p == HONE_PROJ_O) {
                add_vec(l, cap, (int)il, "post_attention_norm.weight", "post_attention_layernorm.weight",
                        L->post_attn_norm, d->hidden, sub);
                add_vec(l, cap, (int)il, "ffn_norm.weight",
                        gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight", L->ffn_norm,
                        d->hidden, sub);
            }
        }
        add_vec(l, cap, (int)il, "post_ffw_norm.weight", "post_feedforward_layernorm.weight", L->post_ffn_norm,
                d->hidden, sub);
    }
    add_vec(l, cap, -1, "output_norm.weight", "model.norm.weight", m->out_norm, d->hidden, sub);
    if (!d->tied_embeddings) {
        t = push(l, cap);
        snprintf(t->gguf, sizeof t->gguf, "output.weight");
        snprintf(t->hf, sizeof t->hf, "lm_head.weight");
        t->role = XT_OUTPUT;
        t->w = &m->output;
        t->n_in = m->output.n_in;
        t->n_out = m->output.n_out;
    }
    return HONE_OK;
}

void xt_list_free(xt_list *l) {
    if (!l->v) return;
    for (int i = 0; i < l->n; i++) free(l->v[i].owned);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- producing bytes ------------------------------------------------------------ */

int xt_modified(const xt_job *j) {
    const xt *t = j->t;
    if (!t->w || t->role != XT_LAYER_MAT) {
        if (t->w && j->o && j->o->wants) return j->o->wants(j->o->hook_ctx, &j->info);
        return 0;
    }
    if (j->o && j->o->adapter && hone_adapter_find(j->o->adapter, (uint32_t)t->layer, t->proj)) return 1;
    return j->o && j->o->wants && j->o->wants(j->o->hook_ctx, &j->info);
}

/* Source row of target row r. dir: 0 same order, +1 HF -> GGUF (permute), -1 GGUF -> HF. */
static int64_t src_row(const xt *t, int dir, int64_t r) {
    if (!dir || !t->qk_heads) return r;
    int64_t hd = t->head_dim, half = hd / 2, h = r / hd, q = r % hd;
    if (dir > 0) return h * hd + (q % 2) * half + q / 2;
    return h * hd + 2 * (q % half) + q / half;
}

static int write_f32_as(hone_sink *s, int type, const float *x, int64_t rows, int64_t n_in, void *qbuf,
                        hone_err *err) {
    uint64_t rb = hone_dtype_row_bytes(type, (uint64_t)n_in);
    for (int64_t r = 0; r < rows; r++) {
        int rc = hone_quantize(type, x + r * n_in, qbuf, (uint64_t)n_in, err);
        if (rc || (rc = hone_sink_write(s, qbuf, rb, err))) return rc;
    }
    return HONE_OK;
}

static double l2(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (b ? (double)b[i] : 0.0);
        s += d * d;
    }
    return sqrt(s);
}

/* Q then dequantize, in place (rows of n_in). */
static int roundtrip(int type, float *x, int64_t rows, int64_t n_in, void *qbuf, hone_err *err) {
    for (int64_t r = 0; r < rows; r++) {
        int rc = hone_quantize(type, x + r * n_in, qbuf, (uint64_t)n_in, err);
        if (rc || (rc = hone_dequantize(type, qbuf, x + r * n_in, (uint64_t)n_in, err))) return rc;
    }
    return HONE_OK;
}

static void report(const xt_job *j, int modified, double dn, double surv, double al) {
    if (!j->o || !j->o->report) return;
    hone_export_report r = {.t = &j->info, .modified = modified, .delta_norm = dn, .survival = surv, .aligned = al};
    j->o->report(j->o->report_ctx, &r);
}

/* The vector as stored in the source file (f32), when found there under its plain name:
 * 1, else 0 (then the model's effective copy is used). */
static int raw_vec(const xt_job *j, float *x, hone_err *err) {
    const hone_model *m = j->l->m;
    const xt *t = j->t;
    if (t->role == XT_ROPE_FREQS) return 0;
    if (m->gguf) {
        int64_t k = hone_gguf_find_tensor(m->gguf, t->gguf);
        if (k < 0 || hone_gguf_tensor_nelem(m->gguf, k) != (uint64_t)t->n_in) return 0;
        return hone_gguf_tensor_dequantize(m->gguf, k, x, err) ? -1 : 1;
    }
    int64_t k = hone_st_find(m->st, t->hf);
    if (k < 0) return 0;
    int ty = hone_st_dtype_to_ggml(hone_st_tensor_dtype(m->st, k));
    if (ty < 0 || hone_st_tensor_nbytes(m->st, k) != hone_dtype_row_bytes(ty, (uint64_t)t->n_in)) return 0;
    return hone_dequantize(ty, hone_st_tensor_data(m->st, k), x, (uint64_t)t->n_in, err) ? -1 : 1;
}

static int fill_vec(const xt_job *j, hone_sink *s, hone_err *err) {
    const xt *t = j->t;
    float *x = malloc((size_t)t->n_in * sizeof *x);
    void *q = malloc((size_t)hone_dtype_row_bytes(j->dst_type, (uint64_t)t->n_in) + 16);
    int rc = HONE_OK;
    if (!x || !q) rc = hone_err_set(err, HONE_ENOMEM, "out of memory for tensor %s", t->gguf);
    /* norms: GGUF stores the effective multiplier, HF that minus hf_sub. From the source's
     * own bytes when possible, so that a same-format copy involves no arithmetic and a
     * GGUF <-> HF trip one addition (llama.cpp's converter adds 1 in f32 the same way). */
    int got = rc ? 0 : raw_vec(j, x, err);
    if (got < 0) rc = err ? err->code : HONE_EFORMAT;
    float src_add = j->l->m->gguf ? 0.0f : t->hf_sub, dst_add = j->hf ? t->hf_sub : 0.0f;
    for (int64_t i = 0; !rc && got && i < t->n_in; i++)
        if (src_add != dst_add) x[i] = x[i] + (src_add - dst_add);
    for (int64_t i = 0; !rc && !got && i < t->n_in; i++) x[i] = j->hf ? t->vec[i] - t->hf_sub : t->vec[i];
    if (!rc) rc = write_f32_as(s, j->dst_type, x, 1, t->n_in, q, err);
    free(x);
    free(q);
    if (!rc) report(j, 0, 0, -1, -1);
    return rc;
}

static int fill_modified(const xt_job *j, hone_sink *s, hone_err *err) {
    const xt *t = j->t;
    const hone_weight *w = t->w;
    int64_t n_in = t->n_in, n_out = t->n_out, n = n_in * n_out;
    int rc = HONE_OK;
    float *W = malloc((size_t)n * sizeof *W);      /* (n_out, n_in) HF order */
    float *W0 = malloc((size_t)n * sizeof *W0);    /* the unmodified copy */
    float *T = malloc((size_t)n_in * sizeof *T);   /* one row, target order scratch */
    void *q = malloc((size_t)hone_dtype_row_bytes(j->dst_type, (uint64_t)n_in) + 16);
    if (!W || !W0 || !T || !q) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory for tensor %s (%lld x %lld f32)", t->gguf,
                          (long long)n_out, (long long)n_in);
        goto done;
    }
    /* dequantize in HF row order: HF row r comes from source row src_row(-1) when the source
     * is permuted */
    int undo = j->l->src_perm && t->qk_heads ? -1 : 0;
    for (int64_t r = 0; r < n_out && !rc; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)src_row(t, undo, r) * w->row_bytes;
        rc = hone_dequantize(w->type, row, W + r * n_in, (uint64_t)n_in, err);
    }
    if (rc) {
        hone_err_prefix(err, "tensor %s", t->gguf);
        goto done;
    }
    memcpy(W0, W, (size_t)n * sizeof *W);
    const hone_lora *lo = j->o->adapter && t->role == XT_LAYER_MAT
                              ? hone_adapter_find(j->o->adapter, (uint32_t)t->layer, t->proj)
                              : NULL;
    if (lo) {
        if (lo->n_in != n_in || lo->n_out != n_out) {
            rc = hone_err_set(err, HONE_EFORMAT, "adapter layers.%d.%s maps %lld -> %lld, the model's %s %lld -> %lld",
                              t->layer, hone_proj_module(t->proj), (long long)lo->n_in, (long long)lo->n_out, t->gguf,
                              (long long)n_in, (long long)n_out);
            goto done;
        }
        float sc = j->o->adapter_scale != 0 ? j->o->adapter_scale : hone_adapter_get_config(j->o->adapter)->scale;
        for (int64_t o = 0; o < n_out; o++) {
            float *wr = W + o * n_in;
            for (uint32_t k = 0; k < lo->rank; k++) {
                float b = sc * lo->b[o * lo->rank + k];
                const float *a = lo->a + (size_t)k * n_in;
                for (int64_t i = 0; i < n_in; i++) wr[i] += b * a[i];
            }
        }
    }
    if (j->o->modify && (!j->o->wants || j->o->wants(j->o->hook_ctx, &j->info)) &&
        (rc = j->o->modify(j->o->hook_ctx, &j->info, W, err)))
        goto done;
    double dn = l2(W, W0, n), surv = -1, al = -1;
    if (j->dst_type != HONE_F32 && dn > 0) {
        /* survival: round-trip copies of both through the target type */
        float *A = malloc((size_t)n * sizeof *A), *B = malloc((size_t)n * sizeof *B);
        if (!A || !B) {
            free(A);
            free(B);
            rc = hone_err_set(err, HONE_ENOMEM, "out of memory for tensor %s", t->gguf);
            goto done;
        }
        memcpy(A, W, (size_t)n * sizeof *A);
        memcpy(B, W0, (size_t)n * sizeof *B);
        rc = roundtrip(j->dst_type, A, n_out, n_in, q, err);
        if (!rc) rc = roundtrip(j->dst_type, B, n_out, n_in, q, err);
        if (!rc) {
            surv = l2(A, B, n) / dn;
            double dot = 0;
            for (int64_t i = 0; i < n; i++) dot += ((double)A[i] - B[i]) * ((double)W[i] - W0[i]);
            al = dot / (dn * dn);
        }
        free(A);
        free(B);
        if (rc) goto done;
    }
    int redo = j->dst_perm && t->qk_heads ? 1 : 0; /* HF order -> GGUF order */
    for (int64_t r = 0; r < n_out && !rc; r++) {
        memcpy(T, W + src_row(t, redo, r) * n_in, (size_t)n_in * sizeof *T);
        rc = write_f32_as(s, j->dst_type, T, 1, n_in, q, err);
    }
    if (!rc) report(j, 1, dn, surv, al);
done:
    free(W);
    free(W0);
    free(T);
    free(q);
    return rc;
}

int xt_fill(void *ctx, hone_sink *s, hone_err *err) {
    const xt_job *j = ctx;
    const xt *t = j->t;
    if (!t->w) return fill_vec(j, s, err);
    int dir = 0;
    if (t->qk_heads && j->l->src_perm != j->dst_perm) dir = j->dst_perm ? 1 : -1;
    if (xt_modified(j)) return fill_modified(j, s, err);
    const hone_weight *w = t->w;
    int64_t n_in = t->n_in, n_out = t->n_out;
    if (w->type == j->dst_type && !dir) {
        int rc = hone_sink_write(s, w->data, (size_t)n_out * w->row_bytes, err);
        if (!rc) report(j, 0, 0, -1, -1);
        return rc;
    }
    /* row blocks: ~1 MiB of f32 (at least one row) */
    int64_t block = (1 << 18) / (n_in > 0 ? n_in : 1);
    if (block < 1) block = 1;
    float *x = malloc((size_t)block * n_in * sizeof *x);
    void *q = malloc((size_t)hone_dtype_row_bytes(j->dst_type, (uint64_t)n_in) + 16);
    int rc = HONE_OK;
    if (!x || !q) rc = hone_err_set(err, HONE_ENOMEM, "out of memory for tensor %s", t->gguf);
    for (int64_t r0 = 0; r0 < n_out && !rc; r0 += block) {
        int64_t nr = n_out - r0 < block ? n_out - r0 : block;
        for (int64_t r = 0; r < nr && !rc; r++) {
            const uint8_t *row = (const uint8_t *)w->data + (size_t)src_row(t, dir, r0 + r) * w->row_bytes;
            if (w->type == j->dst_type) rc = hone_sink_write(s, row, w->row_bytes, err);
            else rc = hone_dequantize(w->type, row, x + r * n_in, (uint64_t)n_in, err);
        }
        if (!rc && w->type != j->dst_type) rc = write_f32_as(s, j->dst_type, x, nr, n_in, q, err);
    }
    if (rc) hone_err_prefix(err, "tensor %s", t->gguf);
    free(x);
    free(q);
    if (!rc) report(j, 0, 0, -1, -1);
    return rc;
}
