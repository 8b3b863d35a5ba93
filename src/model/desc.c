/* desc.c: the model description from GGUF metadata, and the checks every
 * description passes whatever its source.
 *
 * GGUF keys are llama.cpp's (ARCH.block_count, ARCH.attention.head_count, ...)
 * with llama.cpp's defaults: head_count_kv = head_count, key/value_length =
 * embedding_length / head_count, rope.dimension_count = key_length, vocab =
 * length of tokenizer.ggml.tokens. For gemma3 (llama-model.cpp, LLM_ARCH_GEMMA3)
 * a sliding_window > 0 makes layer il sliding when il % 6 < 5 (every 6th layer
 * global), sliding layers use rope base 10000 unscaled, and the attention scale
 * is 1/sqrt(head_dim) except for the 62-layer 27B, 1/sqrt(hidden/heads).
 * Tied embeddings, qkv bias and llama3 rope factors are read off the tensor
 * list (no output.weight, blk.0.attn_q.bias, rope_freqs.weight).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/arch.h"
#include "util/err.h"

int desc_finish(hone_model_desc *d, const char *where, int pattern_fill, hone_err *err) {
#define NEED(cond, ...) \
    if (!(cond)) return hone_err_set(err, HONE_EFORMAT, __VA_ARGS__)
    NEED(d->n_layers >= 1 && d->n_layers <= HONE_MODEL_MAX_LAYERS,
         "%s: %u layers, expected 1 to %d", where, d->n_layers, HONE_MODEL_MAX_LAYERS);
    NEED(d->hidden > 0, "%s: hidden size is 0", where);
    NEED(d->ffn_hidden > 0, "%s: feed-forward size is 0", where);
    NEED(d->n_heads > 0, "%s: attention head count is 0", where);
    NEED(d->n_kv_heads > 0 && d->n_kv_heads <= d->n_heads && d->n_heads % d->n_kv_heads == 0,
         "%s: %u kv heads do not divide %u attention heads", where, d->n_kv_heads, d->n_heads);
    NEED(d->head_dim > 0 && d->head_dim_v > 0, "%s: head size is 0", where);
    NEED(d->rope_dim > 0 && d->rope_dim <= d->head_dim && d->rope_dim % 2 == 0,
         "%s: rope dimension %u, expected an even number <= head size %u", where, d->rope_dim, d->head_dim);
    NEED(d->vocab > 0, "%s: vocabulary size is 0", where);
    NEED(d->rms_eps > 0 && isfinite(d->rms_eps), "%s: rms epsilon %g, expected > 0", where, d->rms_eps);
    NEED(d->rope_theta > 0 && isfinite(d->rope_theta), "%s: rope base %g, expected > 0", where, d->rope_theta);
    if (d->rope_theta_local <= 0) d->rope_theta_local = d->rope_theta;
    if (d->rope_scaling != HONE_ROPE_SCALING_NONE)
        NEED(d->rope_factor > 0 && isfinite(d->rope_factor), "%s: rope scaling factor %g, expected > 0",
             where, d->rope_factor);
    if (d->query_pre_attn_scalar <= 0) d->query_pre_attn_scalar = (float)d->head_dim;
#undef NEED
    if (pattern_fill) {
        memset(d->layer_sliding, 0, sizeof d->layer_sliding);
        if (d->sliding_window)
            for (uint32_t i = 0; i < d->n_layers; i++)
                d->layer_sliding[i] = d->sliding_pattern ? (i + 1) % d->sliding_pattern != 0 : 1;
    }
    int any = 0;
    for (uint32_t i = 0; i < d->n_layers; i++) any |= d->layer_sliding[i];
    if (!any) {
        d->sliding_window = 0;
        d->sliding_pattern = 0;
    }
    return HONE_OK;
}

/* ---- GGUF --------------------------------------------------------------------- */

static int key_u32(const hone_gguf *g, const char *arch, const char *suffix, uint32_t *out,
                   int required, hone_err *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = hone_gguf_get_u32(g, key, out);
    if (rc == HONE_EFORMAT)
        return hone_err_set(err, HONE_EFORMAT, "%s: metadata %s: value out of range for a 32-bit count",
                            hone_gguf_path(g), key);
    if (rc && required)
        return hone_err_set(err, HONE_EFORMAT, "%s: metadata %s: missing (expected an integer)",
                            hone_gguf_path(g), key);
    return rc ? HONE_ENOTFOUND : HONE_OK;
}

static int key_f32(const hone_gguf *g, const char *arch, const char *suffix, float *out, int required,
                   hone_err *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int rc = hone_gguf_get_f32(g, key, out);
    if (rc && required)
        return hone_err_set(err, HONE_EFORMAT, "%s: metadata %s: missing (expected a number)",
                            hone_gguf_path(g), key);
    return rc ? HONE_ENOTFOUND : HONE_OK;
}

int hone_model_desc_from_gguf(hone_model_desc *d, const hone_gguf *g, hone_err *err) {
    memset(d, 0, sizeof *d);
    const char *path = hone_gguf_path(g);
    hone_str an;
    if (hone_gguf_get_str(g, "general.architecture", &an))
        return hone_err_set(err, HONE_EFORMAT, "%s: metadata general.architecture: missing (expected a string)", path);
    const arch_info *ai = arch_by_gguf_name(an.ptr, an.len);
    if (!ai)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: architecture '%.*s' is not supported (hone knows %s)",
                            path, (int)(an.len > 64 ? 64 : an.len), an.ptr, arch_known_list());
    char arch[72];
    snprintf(arch, sizeof arch, "%.*s", (int)an.len, an.ptr);
    d->arch = ai->arch;
    d->source = HONE_SOURCE_GGUF;
    d->act = ai->act;
    d->qk_norm = ai->qk_norm;
    d->post_norms = ai->post_norms;
    d->embed_scale = ai->embed_scale;
    d->norm_add = 0; /* llama.cpp's converter stores gemma norms as w + 1 */

    int rc;
    if ((rc = key_u32(g, arch, "block_count", &d->n_layers, 1, err)) ||
        (rc = key_u32(g, arch, "embedding_length", &d->hidden, 1, err)) ||
        (rc = key_u32(g, arch, "feed_forward_length", &d->ffn_hidden, 1, err)) ||
        (rc = key_u32(g, arch, "attention.head_count", &d->n_heads, 1, err)) ||
        (rc = key_f32(g, arch, "attention.layer_norm_rms_epsilon", &d->rms_eps, 1, err)))
        return rc;
    if (d->n_heads == 0)
        return hone_err_set(err, HONE_EFORMAT, "%s: metadata %s.attention.head_count is 0", path, arch);
    d->n_kv_heads = d->n_heads;
    d->head_dim = d->hidden / d->n_heads;
    if ((rc = key_u32(g, arch, "attention.head_count_kv", &d->n_kv_heads, 0, err)) == HONE_EFORMAT) return rc;
    if ((rc = key_u32(g, arch, "attention.key_length", &d->head_dim, 0, err)) == HONE_EFORMAT) return rc;
    d->head_dim_v = d->head_dim;
    if ((rc = key_u32(g, arch, "attention.value_length", &d->head_dim_v, 0, err)) == HONE_EFORMAT) return rc;
    d->rope_dim = d->head_dim;
    if ((rc = key_u32(g, arch, "rope.dimension_count", &d->rope_dim, 0, err)) == HONE_EFORMAT) return rc;
    if ((rc = key_u32(g, arch, "context_length", &d->context, 0, err)) == HONE_EFORMAT) return rc;
    d->rope_theta = 10000.0f; /* llama.cpp's default freq_base */
    key_f32(g, arch, "rope.freq_base", &d->rope_theta, 0, err);

    /* rope scaling */
    char key[160];
    hone_str st;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    float factor = 0;
    key_f32(g, arch, "rope.scaling.factor", &factor, 0, err);
    if (!hone_gguf_get_str(g, key, &st)) {
        if (st.len == 6 && !memcmp(st.ptr, "linear", 6)) d->rope_scaling = HONE_ROPE_SCALING_LINEAR;
        else if (st.len == 4 && !memcmp(st.ptr, "yarn", 4)) d->rope_scaling = HONE_ROPE_SCALING_YARN;
        else if (!(st.len == 4 && !memcmp(st.ptr, "none", 4)))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: metadata %s: rope scaling '%.*s' is not supported (expected none, linear or yarn)",
                                path, key, (int)(st.len > 64 ? 64 : st.len), st.ptr);
    } else if (factor > 0 && factor != 1.0f) {
        d->rope_scaling = HONE_ROPE_SCALING_LINEAR; /* llama.cpp: a factor alone means linear */
    }
    if (d->rope_scaling != HONE_ROPE_SCALING_NONE) {
        d->rope_factor = factor;
        key_u32(g, arch, "rope.scaling.original_context_length", &d->rope_orig_context, 0, err);
        if (factor == 0 || factor == 1.0f) { /* no-op scaling */
            d->rope_scaling = HONE_ROPE_SCALING_NONE;
            d->rope_factor = 0;
        }
    }
    d->rope_freqs_tensor = hone_gguf_find_tensor(g, "rope_freqs.weight") >= 0;

    /* vocabulary: the token list, else ARCH.vocab_size, else token_embd's rows */
    int64_t tok = hone_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (tok >= 0 && hone_gguf_kv_type(g, tok) == HONE_GGUF_ARRAY) {
        uint64_t n = hone_gguf_arr_n(g, tok);
        if (n > UINT32_MAX)
            return hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.tokens has %llu entries", path, (unsigned long long)n);
        d->vocab = (uint32_t)n;
    } else if (key_u32(g, arch, "vocab_size", &d->vocab, 0, err) != HONE_OK) {
        int64_t e = hone_gguf_find_tensor(g, "token_embd.weight");
        if (e >= 0) {
            uint64_t ne[4];
            hone_gguf_tensor_shape(g, e, ne);
            d->vocab = ne[1] > UINT32_MAX ? 0 : (uint32_t)ne[1];
        }
    }

    d->tied_embeddings = hone_gguf_find_tensor(g, "output.weight") < 0;
    d->qkv_bias = hone_gguf_find_tensor(g, "blk.0.attn_q.bias") >= 0;
    key_f32(g, arch, "final_logit_softcapping", &d->final_logit_softcap, 0, err);
    key_f32(g, arch, "attn_logit_softcapping", &d->attn_logit_softcap, 0, err);

    int fill = 1;
    if (d->arch == HONE_ARCH_GEMMA3) {
        uint32_t sw = 0;
        if ((rc = key_u32(g, arch, "attention.sliding_window", &sw, 0, err)) == HONE_EFORMAT) return rc;
        if (sw > 0) {
            d->sliding_window = sw;
            d->sliding_pattern = 6;
            d->rope_theta_local = 10000.0f;
        }
        d->query_pre_attn_scalar = d->n_layers == 62 ? (float)(d->hidden / d->n_heads) : (float)d->head_dim;
    } else if (d->arch == HONE_ARCH_MISTRAL) {
        uint32_t sw = 0;
        key_u32(g, arch, "attention.sliding_window", &sw, 0, err);
        d->sliding_window = sw;
    } else {
        fill = 0; /* llama.cpp runs llama and qwen2 GGUFs without a window */
    }
    uint64_t np = 0;
    for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++) {
        hone_str tn = hone_gguf_tensor_name(g, t);
        if (tn.len == 17 && !memcmp(tn.ptr, "rope_freqs.weight", 17)) continue; /* not a parameter */
        np += hone_gguf_tensor_nelem(g, t);
    }
    d->n_params = np;
    return desc_finish(d, path, fill, err);
}

/* Counts the language model only: a multimodal checkpoint's vision tower and
 * projector are not part of the description, and a tied model that still
 * stores lm_head.weight (a copy of the embeddings) counts it once. */
void hone_model_desc_count_st(hone_model_desc *d, const hone_st *st) {
    static const char *skip_prefix[] = {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                                        "model.multi_modal_projector."};
    uint64_t np = 0;
    for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
        const char *n = hone_st_tensor_name(st, t);
        int skip = d->tied_embeddings && (!strcmp(n, "lm_head.weight") || !strcmp(n, "language_model.lm_head.weight"));
        for (size_t k = 0; k < sizeof skip_prefix / sizeof *skip_prefix && !skip; k++)
            skip = !strncmp(n, skip_prefix[k], strlen(skip_prefix[k]));
        if (!skip) np += hone_st_tensor_nelem(st, t);
    }
    d->n_params = np;
}
