/* model.c: hone_model_load: maps a GGUF file, an HF folder (config.json +
 * safetensors) or an ollama: reference, reads the description (model/desc.c,
 * io/hfconfig.c) and binds every weight by name as a hone_weight view into the
 * mapping. Shapes are checked against the description; a missing tensor is an
 * error naming it and the file.
 *
 * Names. GGUF (llama.cpp): token_embd, output_norm, output (absent when tied),
 * blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm,
 * attn_k_norm, post_attention_norm, ffn_norm, ffn_gate, ffn_up, ffn_down,
 * post_ffw_norm}, .bias of q/k/v for qwen2. HF: PREFIX{embed_tokens, norm,
 * layers.N.self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, mlp.{gate,up,down}_proj,
 * input_layernorm, ...} and lm_head, PREFIX "model." (also the multimodal
 * "model.language_model." / "language_model.model."). HF's norm names differ
 * by family: gemma3's post_attention_layernorm is the norm AFTER attention and
 * pre_feedforward_layernorm the MLP input norm; llama/mistral/qwen2's
 * post_attention_layernorm is the MLP input norm.
 *
 * RoPE. llama GGUF files hold q/k rows permuted by llama.cpp's converter, so
 * they rotate adjacent pairs (NORM); everything else rotates (i, i+d/2)
 * (NEOX). Inverse frequencies are computed as transformers does, in f32:
 * 1 / base^(float(2i)/d); linear scaling divides them by the factor (gemma3:
 * global layers only; sliding layers use rope_theta_local unscaled); llama3
 * scaling follows transformers' _compute_llama3_parameters; a GGUF
 * rope_freqs.weight tensor divides frequency i by its entry (llama.cpp).
 *
 * Tokenizer. GGUF: from its tokenizer.ggml.* keys. HF folder: tokenizer.json
 * (+ tokenizer_config.json) through hone_tok_load_hf; none there, or a kind it
 * does not support, leaves the tokenizer NULL (see load_hf_tokenizer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "util/err.h"

/* A tensor found by name, whatever the container: ggml order ne[0] = row length. */
typedef struct tview {
    int type; /* hone_dtype */
    const void *data;
    uint32_t ndim;
    uint64_t ne[4];
} tview;

static const char *model_file(const hone_model *m) {
    return m->gguf ? hone_gguf_path(m->gguf) : hone_st_shard_path(m->st, 0);
}

/* HONE_ENOTFOUND (no message) when absent; errors for unusable tensors. */
static int tensor_find(const hone_model *m, const char *name, tview *v, hone_err *err) {
    memset(v, 0, sizeof *v);
    v->ne[0] = v->ne[1] = v->ne[2] = v->ne[3] = 1;
    if (m->gguf) {
        int64_t t = hone_gguf_find_tensor(m->gguf, name);
        if (t < 0) return HONE_ENOTFOUND;
        v->type = hone_gguf_tensor_type(m->gguf, t);
        v->data = hone_gguf_tensor_data(m->gguf, t);
        v->ndim = hone_gguf_tensor_ndim(m->gguf, t);
        hone_gguf_tensor_shape(m->gguf, t, v->ne);
    } else {
        int64_t t = hone_st_find(m->st, name);
        if (t < 0) return HONE_ENOTFOUND;
        int dt = hone_st_tensor_dtype(m->st, t);
        v->type = hone_st_dtype_to_ggml(dt);
        uint32_t nd = hone_st_tensor_ndim(m->st, t);
        const uint64_t *sh = hone_st_tensor_shape(m->st, t);
        if (nd > 4)
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s has %u dimensions, expected at most 2",
                                hone_st_shard_path(m->st, hone_st_tensor_shard(m->st, t)), name, nd);
        v->ndim = nd;
        for (uint32_t i = 0; i < nd; i++) v->ne[i] = sh[nd - 1 - i];
        v->data = hone_st_tensor_data(m->st, t);
        if (v->type < 0 || (v->type != HONE_F32 && v->type != HONE_F16 && v->type != HONE_BF16))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: tensor %s has type %s, expected F32, F16 or BF16",
                                hone_st_shard_path(m->st, hone_st_tensor_shard(m->st, t)), name,
                                hone_st_dtype_str(dt));
    }
    if (!hone_dequantize_supported(v->type))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: tensor %s: type %s is not supported", model_file(m), name,
                            hone_dtype_name(v->type) ? hone_dtype_name(v->type) : "?");
    return HONE_OK;
}

static int shape_str(char *buf, size_t n, const tview *v) {
    if (v->ndim <= 1) return snprintf(buf, n, "[%llu]", (unsigned long long)v->ne[0]);
    return snprintf(buf, n, "[%llu, %llu%s]", (unsigned long long)v->ne[0], (unsigned long long)v->ne[1],
                    v->ndim > 2 ? ", ..." : "");
}

/* A matrix of n_out rows of n_in elements (ggml ne {n_in, n_out}). */
static int bind_weight(hone_model *m, hone_weight *w, const char *name, int64_t n_in, int64_t n_out, int required,
                       hone_err *err) {
    memset(w, 0, sizeof *w);
    tview v;
    int rc = tensor_find(m, name, &v, err);
    if (rc == HONE_ENOTFOUND) {
        if (!required) return HONE_ENOTFOUND;
        return hone_err_set(err, HONE_ENOTFOUND, "%s: tensor %s not found", model_file(m), name);
    }
    if (rc) return rc;
    if (v.ndim > 2 || v.ne[2] != 1 || v.ne[3] != 1 || (int64_t)v.ne[0] != n_in || (int64_t)v.ne[1] != n_out) {
        char s[96];
        shape_str(s, sizeof s, &v);
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s has shape (ggml order) %s, expected [%lld, %lld]",
                            model_file(m), name, s, (long long)n_in, (long long)n_out);
    }
    if (n_in % hone_dtype_block(v.type))
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: row of %lld is not a multiple of the %s block",
                            model_file(m), name, (long long)n_in, hone_dtype_name(v.type));
    w->type = v.type;
    w->data = v.data;
    w->n_in = n_in;
    w->n_out = n_out;
    w->row_bytes = (size_t)hone_dtype_row_bytes(v.type, (uint64_t)n_in);
    return HONE_OK;
}

/* A vector of n elements as an f32 copy, each plus `add`. *out stays NULL when
 * absent and not required. */
static int bind_vec(hone_model *m, float **out, const char *name, int64_t n, float add, int required,
                    hone_err *err) {
    *out = NULL;
    tview v;
    int rc = tensor_find(m, name, &v, err);
    if (rc == HONE_ENOTFOUND) {
        if (!required) return HONE_OK;
        return hone_err_set(err, HONE_ENOTFOUND, "%s: tensor %s not found", model_file(m), name);
    }
    if (rc) return rc;
    if (v.ne[0] * v.ne[1] * v.ne[2] * v.ne[3] != (uint64_t)n || v.ne[0] != (uint64_t)n) {
        char s[96];
        shape_str(s, sizeof s, &v);
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s has shape %s, expected [%lld]", model_file(m), name, s,
                            (long long)n);
    }
    if (n % hone_dtype_block(v.type))
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: %lld elements are not a multiple of the %s block",
                            model_file(m), name, (long long)n, hone_dtype_name(v.type));
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return hone_err_set(err, HONE_ENOMEM, "out of memory for tensor %s", name);
    if ((rc = hone_dequantize(v.type, v.data, f, (uint64_t)n, err))) {
        free(f);
        return hone_err_prefix(err, "%s: tensor %s", model_file(m), name);
    }
    for (int64_t i = 0; i < n; i++) f[i] = add + f[i];
    *out = f;
    return HONE_OK;
}

/* ---- tensor names ------------------------------------------------------------ */

typedef enum wname {
    W_ATTN_NORM, W_Q, W_K, W_V, W_O, W_Q_NORM, W_K_NORM, W_POST_ATTN_NORM, W_FFN_NORM, W_GATE, W_UP, W_DOWN,
    W_POST_FFN_NORM, W_BQ, W_BK, W_BV, W_COUNT
} wname;

static const char *GGUF_NAMES[W_COUNT] = {
    "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
    "attn_q_norm.weight", "attn_k_norm.weight", "post_attention_norm.weight", "ffn_norm.weight",
    "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "post_ffw_norm.weight",
    "attn_q.bias", "attn_k.bias", "attn_v.bias",
};

static const char *HF_NAMES[W_COUNT] = {
    "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
    "self_attn.o_proj.weight", "self_attn.q_norm.weight", "self_attn.k_norm.weight",
    NULL /* family-dependent */, NULL, "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
    "post_feedforward_layernorm.weight", "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
};

typedef struct namer {
    const hone_model *m;
    const char *hf_prefix; /* "model." ... */
    char buf[256];
} namer;

static const char *layer_name(namer *n, uint32_t il, wname w) {
    if (n->m->gguf) {
        snprintf(n->buf, sizeof n->buf, "blk.%u.%s", il, GGUF_NAMES[w]);
        return n->buf;
    }
    const char *s = HF_NAMES[w];
    int gemma = n->m->desc.arch == HONE_ARCH_GEMMA3;
    if (w == W_POST_ATTN_NORM) s = "post_attention_layernorm.weight"; /* gemma3 only asks for this one */
    if (w == W_FFN_NORM) s = gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight";
    snprintf(n->buf, sizeof n->buf, "%slayers.%u.%s", n->hf_prefix, il, s);
    return n->buf;
}

/* ---- RoPE frequencies ---------------------------------------------------------- */

/* transformers' default inverse frequencies, f32: 1 / base ** (float(2i) / d). */
static void rope_default(float *f, uint32_t dim, float base) {
    for (uint32_t i = 0; i < dim / 2; i++) {
        float e = (float)(2 * i) / (float)dim;
        f[i] = 1.0f / powf(base, e);
    }
}

/* transformers' _compute_llama3_parameters, in f32 tensor arithmetic. */
static void rope_llama3(float *f, uint32_t dim, const hone_model_desc *d) {
    float factor = d->rope_factor, lo = d->rope_low_freq_factor, hi = d->rope_high_freq_factor;
    float old = (float)d->rope_orig_context;
    float lo_wl = old / lo, hi_wl = old / hi;
    for (uint32_t i = 0; i < dim / 2; i++) {
        float inv = f[i];
        float wl = (1.0f / inv) * (float)(2 * M_PI);
        float v = wl > lo_wl ? inv / factor : inv;
        if (!(wl < hi_wl) && !(wl > lo_wl)) {
            float smooth = ((1.0f / wl) * old - lo) / (hi - lo);
            v = (1.0f - smooth) * v / factor + smooth * v;
        }
        f[i] = v;
    }
}

static int rope_setup(hone_model *m, hone_err *err) {
    const hone_model_desc *d = &m->desc;
    uint32_t half = d->rope_dim / 2;
    m->freqs_global = malloc(half * sizeof(float));
    m->freqs_local = malloc(half * sizeof(float));
    if (!m->freqs_global || !m->freqs_local) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    rope_default(m->freqs_global, d->rope_dim, d->rope_theta);
    rope_default(m->freqs_local, d->rope_dim, d->rope_theta_local);
    int gemma = d->arch == HONE_ARCH_GEMMA3;
    switch (d->rope_scaling) {
    case HONE_ROPE_SCALING_NONE: break;
    case HONE_ROPE_SCALING_LINEAR:
        for (uint32_t i = 0; i < half; i++) {
            m->freqs_global[i] /= d->rope_factor;
            if (!gemma) m->freqs_local[i] /= d->rope_factor;
        }
        break;
    case HONE_ROPE_SCALING_LLAMA3:
        rope_llama3(m->freqs_global, d->rope_dim, d);
        if (!gemma) rope_llama3(m->freqs_local, d->rope_dim, d);
        break;
    default:
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: rope scaling type %d (yarn) is not supported by the engine",
                            model_file(m), (int)d->rope_scaling);
    }
    if (m->gguf && d->rope_freqs_tensor) {
        float *ff;
        int rc = bind_vec(m, &ff, "rope_freqs.weight", half, 0.0f, 1, err);
        if (rc) return rc;
        for (uint32_t i = 0; i < half; i++) {
            m->freqs_global[i] /= ff[i];
            m->freqs_local[i] /= ff[i];
        }
        free(ff);
    }
    return HONE_OK;
}

/* ---- loading ------------------------------------------------------------------- */

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* DIR/tokenizer.json (+ tokenizer_config.json): absent, or a kind hone_tok_load_hf
 * does not support (HONE_EUNSUPPORTED), leaves m->tok NULL without an error; a
 * malformed file, or one with more ids than the embedding has rows, fails. */
static int load_hf_tokenizer(hone_model *m, const char *dir, hone_err *err) {
    char tj[4200];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    if (access(tj, F_OK) != 0) return HONE_OK;
    hone_err e2 = {0};
    int rc = hone_tok_load_hf(&m->tok, dir, &e2);
    if (rc == HONE_EUNSUPPORTED) return HONE_OK;
    if (rc) {
        if (err) *err = e2;
        return rc;
    }
    if (m->desc.vocab && (uint64_t)hone_tok_n_vocab(m->tok) > m->desc.vocab)
        return hone_err_set(err, HONE_EFORMAT, "%s: %d token ids, but the embedding has %llu rows", tj,
                            hone_tok_n_vocab(m->tok), (unsigned long long)m->desc.vocab);
    return HONE_OK;
}

static int open_source(hone_model *m, const char *path, hone_err *err) {
    int rc;
    if (hone_ollama_is_ref(path)) {
        hone_ollama_model om;
        if ((rc = hone_ollama_resolve(&om, path, err))) return rc;
        if (!om.model) {
            hone_ollama_model_free(&om);
            return hone_err_set(err, HONE_ENOTFOUND, "%s: the manifest has no model layer", path);
        }
        rc = hone_gguf_open(&m->gguf, om.model, err);
        hone_ollama_model_free(&om);
        if (rc) return rc;
        return hone_model_desc_from_gguf(&m->desc, m->gguf, err);
    }
    size_t n = strlen(path);
    const char *cfg_name = "/config.json";
    if (is_dir(path) || (n >= 11 && !strcmp(path + n - 11, "config.json"))) {
        char dir[4096], cfg[4200];
        snprintf(dir, sizeof dir, "%s", path);
        if (!is_dir(path)) { /* FOLDER/config.json */
            char *sl = strrchr(dir, '/');
            if (sl) *sl = 0;
            else snprintf(dir, sizeof dir, ".");
        }
        snprintf(cfg, sizeof cfg, "%s%s", dir, cfg_name);
        if ((rc = hone_model_desc_from_hf_config(&m->desc, cfg, err))) return rc;
        if ((rc = hone_st_open(&m->st, dir, err))) return rc;
        hone_model_desc_count_st(&m->desc, m->st);
        return load_hf_tokenizer(m, dir, err);
    }
    if ((rc = hone_gguf_open(&m->gguf, path, err))) return rc;
    return hone_model_desc_from_gguf(&m->desc, m->gguf, err);
}

static int bind_all(hone_model *m, hone_err *err) {
    const hone_model_desc *d = &m->desc;
    int64_t D = d->hidden, F = d->ffn_hidden, hd = d->head_dim, hdv = d->head_dim_v;
    int64_t nq = (int64_t)d->n_heads * hd, nkv = (int64_t)d->n_kv_heads * hd, nv = (int64_t)d->n_kv_heads * hdv;
    float add = d->norm_add;
    namer nm = {.m = m, .hf_prefix = "model."};
    int rc;
    if (m->gguf) {
        if ((rc = bind_weight(m, &m->tok_embd, "token_embd.weight", D, d->vocab, 1, err)) ||
            (rc = bind_vec(m, &m->out_norm, "output_norm.weight", D, add, 1, err)))
            return rc;
        rc = bind_weight(m, &m->output, "output.weight", D, d->vocab, !d->tied_embeddings, err);
        if (rc && rc != HONE_ENOTFOUND) return rc;
        if (rc == HONE_ENOTFOUND || d->tied_embeddings) m->output = m->tok_embd;
    } else {
        static const char *prefixes[] = {"model.", "model.language_model.", "language_model.model."};
        char nb[256];
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
            snprintf(nb, sizeof nb, "%sembed_tokens.weight", prefixes[i]);
            if (hone_st_find(m->st, nb) >= 0) {
                nm.hf_prefix = prefixes[i];
                break;
            }
        }
        snprintf(nb, sizeof nb, "%sembed_tokens.weight", nm.hf_prefix);
        if ((rc = bind_weight(m, &m->tok_embd, nb, D, d->vocab, 1, err))) return rc;
        snprintf(nb, sizeof nb, "%snorm.weight", nm.hf_prefix);
        if ((rc = bind_vec(m, &m->out_norm, nb, D, add, 1, err))) return rc;
        if (d->tied_embeddings) {
            m->output = m->tok_embd;
        } else {
            const char *lm = strcmp(nm.hf_prefix, "language_model.model.") ? "lm_head.weight"
                                                                           : "language_model.lm_head.weight";
            if ((rc = bind_weight(m, &m->output, lm, D, d->vocab, 1, err))) return rc;
        }
    }
    m->layers = calloc(d->n_layers, sizeof *m->layers);
    if (!m->layers) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    for (uint32_t il = 0; il < d->n_layers; il++) {
        model_layer *L = &m->layers[il];
        L->sliding = hone_model_layer_is_sliding(d, il);
        L->freqs = L->sliding ? m->freqs_local : m->freqs_global;
#define W(field, w, nin, nout) \
    if ((rc = bind_weight(m, &L->field, layer_name(&nm, il, w), nin, nout, 1, err))) return rc
#define V(field, w, n, a, req) \
    if ((rc = bind_vec(m, &L->field, layer_name(&nm, il, w), n, a, req, err))) return rc
        W(wq, W_Q, D, nq);
        W(wk, W_K, D, nkv);
        W(wv, W_V, D, nv);
        W(wo, W_O, (int64_t)d->n_heads * hdv, D);
        W(w_gate, W_GATE, D, F);
        W(w_up, W_UP, D, F);
        W(w_down, W_DOWN, F, D);
        V(attn_norm, W_ATTN_NORM, D, add, 1);
        V(ffn_norm, W_FFN_NORM, D, add, 1);
        if (d->qk_norm) {
            V(q_norm, W_Q_NORM, hd, add, 1);
            V(k_norm, W_K_NORM, hd, add, 1);
        }
        if (d->post_norms) {
            V(post_attn_norm, W_POST_ATTN_NORM, D, add, 1);
            V(post_ffn_norm, W_POST_FFN_NORM, D, add, 1);
        }
        if (d->qkv_bias) {
            V(bq, W_BQ, nq, 0.0f, 1);
            V(bk, W_BK, nkv, 0.0f, 1);
            V(bv, W_BV, nv, 0.0f, 1);
        }
#undef W
#undef V
    }
    return HONE_OK;
}

int hone_model_load(hone_model **out, const char *path, const hone_load_opts *opts, hone_err *err) {
    *out = NULL;
    hone_load_opts o = {0};
    if (opts) o = *opts;
    hone_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return hone_err_set(err, HONE_ENOMEM, "out of memory");
    }
    int rc = open_source(m, path, err);
    if (!rc && m->desc.head_dim_v != m->desc.head_dim)
        rc = hone_err_set(err, HONE_EUNSUPPORTED, "%s: value head size %u differs from key head size %u",
                          path, m->desc.head_dim_v, m->desc.head_dim);
    if (rc) goto fail;
    const hone_model_desc *d = &m->desc;
    m->engine = o.engine;
    m->be = o.engine == HONE_ENGINE_REFERENCE ? hone_backend_ref() : hone_backend_cpu();
    m->rope_mode = (m->gguf && (d->arch == HONE_ARCH_LLAMA || d->arch == HONE_ARCH_MISTRAL)) ? HONE_ROPE_NORM
                                                                                             : HONE_ROPE_NEOX;
    /* transformers multiplies by torch.tensor(hidden ** 0.5) in the activation dtype (f32) */
    m->embed_scale = d->embed_scale ? (float)sqrt((double)d->hidden) : 1.0f;
    if ((rc = rope_setup(m, err)) || (rc = bind_all(m, err))) goto fail;
    if (o.adapter_path && (rc = model_attach_adapter(m, o.adapter_path, o.adapter_scale, err))) goto fail;
    if (m->gguf && hone_gguf_find_key(m->gguf, "tokenizer.ggml.model") >= 0 &&
        (rc = hone_tok_load_gguf(&m->tok, m->gguf, err)))
        goto fail;
    *out = m;
    return HONE_OK;
fail:
    hone_model_free(m);
    return rc;
}

void hone_model_free(hone_model *m) {
    if (!m) return;
    if (m->layers) {
        for (uint32_t il = 0; il < m->desc.n_layers; il++) {
            model_layer *L = &m->layers[il];
            free(L->bq);
            free(L->bk);
            free(L->bv);
            free(L->attn_norm);
            free(L->q_norm);
            free(L->k_norm);
            free(L->post_attn_norm);
            free(L->ffn_norm);
            free(L->post_ffn_norm);
        }
        free(m->layers);
    }
    hone_model_adapter_free(m->adapter);
    free(m->out_norm);
    free(m->freqs_global);
    free(m->freqs_local);
    if (m->tok) hone_tok_free(m->tok);
    if (m->gguf) hone_gguf_close(m->gguf);
    if (m->st) hone_st_close(m->st);
    free(m->path);
    free(m);
}

const hone_model_desc *hone_model_get_desc(const hone_model *m) { return &m->desc; }
hone_tok *hone_model_get_tokenizer(const hone_model *m) { return m->tok; }
