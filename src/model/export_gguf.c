/* export_gguf.c: hone_export_gguf: a loaded model as a GGUF file llama.cpp loads.
 *
 * Metadata, in this order, with llama.cpp's value types:
 *   general.architecture (gemma3 | llama (also Mistral) | qwen2), general.type "model",
 *   general.name, general.license (when known), general.file_type (u32 LLAMA_FTYPE),
 *   general.quantization_version (u32 2);
 *   ARCH.context_length, embedding_length, block_count, feed_forward_length,
 *   attention.head_count, attention.head_count_kv (u32), rope.freq_base,
 *   attention.layer_norm_rms_epsilon (f32); llama: vocab_size, rope.dimension_count;
 *   gemma3: attention.key_length, attention.value_length, attention.sliding_window
 *   (llama.cpp fixes gemma3's sliding layers' base at 10000 and its pattern at 6); others:
 *   key/value_length only when head_dim != hidden / heads; rope scaling linear / yarn as
 *   rope.scaling.type (str) + factor (f32) [+ original_context_length (u32)]; llama3 scaling
 *   as the rope_freqs.weight tensor (llama.cpp's converter does the same);
 *   then the tokenizer (export_tok.c); then a GGUF source's other general.* keys
 *   (general.tags, basename, size_label, ...), copied as they are.
 *
 * Tensor types. 1-D tensors: F32. f32/f16/bf16: every matrix in that type. Quantized targets
 * follow llama.cpp's llama_tensor_get_type (llama-quant.cpp) without an imatrix:
 *   - default type: q8_0 -> Q8_0, q4_0 -> Q4_0, q6_k -> Q6_K, q4_k_m -> Q4_K;
 *   - the LM head (output.weight, or token_embd.weight when tied): Q6_K unless the target
 *     is Q8_0 (stays Q8_0);
 *   - q4_k_m only: attn_v.weight and ffn_down.weight get Q6_K in "more bits" layers:
 *     i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2 (n = block count);
 *   - a row length that is not a multiple of 256 cannot hold K-quants: Q4_K -> Q5_0,
 *     Q6_K -> Q8_0 (llama.cpp's fallback; Gemma 3 270M's 640-wide rows hit it).
 * KEEP: each tensor keeps its source type.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/arch.h"
#include "model/export_internal.h"
#include "util/err.h"

static const char *TYPE_NAMES[HONE_EXPORT_TYPE_COUNT] = {"auto", "f32",    "f16",  "bf16", "q8_0",
                                                        "q4_0", "q4_k_m", "q6_k", "keep"};

int hone_export_type_parse(const char *s) {
    for (int i = 0; i < HONE_EXPORT_TYPE_COUNT; i++)
        if (!strcasecmp(s, TYPE_NAMES[i])) return i;
    return -1;
}

const char *hone_export_type_name(int t) {
    return t >= 0 && t < HONE_EXPORT_TYPE_COUNT ? TYPE_NAMES[t] : "?";
}

int hone_export_ftype(int t) {
    switch (t) {
    case HONE_EXPORT_F32: return 0;
    case HONE_EXPORT_F16: return 1;
    case HONE_EXPORT_Q4_0: return 2;
    case HONE_EXPORT_Q8_0: return 7;
    case HONE_EXPORT_Q4_K_M: return 15;
    case HONE_EXPORT_Q6_K: return 18;
    case HONE_EXPORT_BF16: return 32;
    default: return -1;
    }
}

static int more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* The hone_dtype of one matrix for export type et (see the top comment). */
static int choose_type(const xt *t, int et, const hone_model_desc *d, int modified) {
    int src = t->w->type;
    switch (et) {
    case HONE_EXPORT_F32: return HONE_F32;
    case HONE_EXPORT_F16: return HONE_F16;
    case HONE_EXPORT_BF16: return HONE_BF16;
    case HONE_EXPORT_KEEP: return src;
    case HONE_EXPORT_AUTO:
        if (!modified && (src == HONE_F32 || src == HONE_F16 || src == HONE_BF16)) return src;
        return src == HONE_F32 || src == HONE_BF16 ? src : HONE_F16;
    default: break;
    }
    int ty = et == HONE_EXPORT_Q8_0 ? HONE_Q8_0 : et == HONE_EXPORT_Q4_0 ? HONE_Q4_0
           : et == HONE_EXPORT_Q6_K ? HONE_Q6_K : HONE_Q4_K;
    int head = t->role == XT_OUTPUT || (t->role == XT_EMBD && d->tied_embeddings);
    if (head && ty != HONE_Q8_0) ty = HONE_Q6_K;
    if (et == HONE_EXPORT_Q4_K_M && (t->proj == HONE_PROJ_V || t->proj == HONE_PROJ_DOWN) &&
        more_bits(t->layer, (int)d->n_layers))
        ty = HONE_Q6_K;
    if (t->n_in % 256) {
        if (ty == HONE_Q4_K) ty = HONE_Q5_0;
        else if (ty == HONE_Q6_K) ty = HONE_Q8_0;
    }
    return ty;
}

typedef struct gw {
    hone_gguf_writer *w;
    const char *arch;
    char key[160];
    hone_err *err;
    int rc;
} gw;

static const char *K(gw *g, const char *suffix) {
    snprintf(g->key, sizeof g->key, "%s.%s", g->arch, suffix);
    return g->key;
}
#define U32(g, k, v) \
    if (!(g)->rc) (g)->rc = hone_gguf_writer_add_u32((g)->w, (k), (v), (g)->err)
#define F32(g, k, v) \
    if (!(g)->rc) (g)->rc = hone_gguf_writer_add_f32((g)->w, (k), (v), (g)->err)
#define STR(g, k, v) \
    if (!(g)->rc) (g)->rc = hone_gguf_writer_add_str((g)->w, (k), (v), (g)->err)

static void write_arch_keys(gw *g, const hone_model_desc *d) {
    U32(g, K(g, "context_length"), d->context);
    U32(g, K(g, "embedding_length"), d->hidden);
    U32(g, K(g, "block_count"), d->n_layers);
    U32(g, K(g, "feed_forward_length"), d->ffn_hidden);
    U32(g, K(g, "attention.head_count"), d->n_heads);
    U32(g, K(g, "attention.head_count_kv"), d->n_kv_heads);
    F32(g, K(g, "rope.freq_base"), d->rope_theta);
    F32(g, K(g, "attention.layer_norm_rms_epsilon"), d->rms_eps);
    int gemma = d->arch == HONE_ARCH_GEMMA3;
    if (!gemma && d->arch != HONE_ARCH_QWEN2) {
        U32(g, K(g, "vocab_size"), d->vocab);
        U32(g, K(g, "rope.dimension_count"), d->rope_dim);
    } else if (d->rope_dim != d->head_dim) {
        U32(g, K(g, "rope.dimension_count"), d->rope_dim);
    }
    if (gemma || d->head_dim * d->n_heads != d->hidden) {
        U32(g, K(g, "attention.key_length"), d->head_dim);
        U32(g, K(g, "attention.value_length"), d->head_dim_v);
    }
    if (gemma && d->sliding_window) U32(g, K(g, "attention.sliding_window"), d->sliding_window);
    if (d->final_logit_softcap > 0) F32(g, K(g, "final_logit_softcapping"), d->final_logit_softcap);
    if (d->attn_logit_softcap > 0) F32(g, K(g, "attn_logit_softcapping"), d->attn_logit_softcap);
    if (d->rope_scaling == HONE_ROPE_SCALING_LINEAR || d->rope_scaling == HONE_ROPE_SCALING_YARN) {
        STR(g, K(g, "rope.scaling.type"), d->rope_scaling == HONE_ROPE_SCALING_LINEAR ? "linear" : "yarn");
        F32(g, K(g, "rope.scaling.factor"), d->rope_factor);
        if (d->rope_scaling == HONE_ROPE_SCALING_YARN)
            U32(g, K(g, "rope.scaling.original_context_length"), d->rope_orig_context);
    }
}

static int has_prefix(hone_str s, const char *p) {
    size_t n = strlen(p);
    return s.len >= n && !memcmp(s.ptr, p, n);
}

/* The source GGUF's string key, NUL-terminated into buf, or NULL. */
static const char *src_str(const hone_model *m, const char *key, char *buf, size_t cap) {
    hone_str s;
    if (!m->gguf || hone_gguf_get_str(m->gguf, key, &s) || s.len >= cap) return NULL;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = 0;
    return buf;
}

int hone_export_gguf(const hone_model *m, const char *path, const hone_export_opts *opts, hone_err *err) {
    hone_export_opts o0 = {0};
    const hone_export_opts *o = opts ? opts : &o0;
    if (o->type < 0 || o->type >= HONE_EXPORT_TYPE_COUNT)
        return hone_err_set(err, HONE_EARG, "export: unknown type %d", o->type);
    const hone_model_desc *d = &m->desc;
    xt_list l;
    int rc = xt_list_build(&l, m, 1, err);
    if (rc) return rc;
    xt_job *jobs = calloc((size_t)l.n, sizeof *jobs);
    hone_gguf_writer *w = NULL;
    if (!jobs) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = hone_gguf_writer_init(&w, err))) goto done;
    int n_f32 = 0, n_f16 = 0, n_bf16 = 0, n_mat = 0;
    for (int i = 0; i < l.n; i++) {
        xt *t = &l.v[i];
        xt_job *j = &jobs[i];
        j->t = t;
        j->l = &l;
        j->o = o;
        j->dst_perm = xt_gguf_permutes(m);
        j->info = (hone_export_tensor){.gguf_name = t->gguf, .hf_name = t->hf, .layer = t->layer, .proj = t->proj,
                                       .n_in = t->n_in, .n_out = t->n_out,
                                       .src_type = t->w ? t->w->type : t->vec_src_type};
        j->dst_type = t->w ? choose_type(t, o->type, d, xt_modified(j)) : HONE_F32;
        j->info.dst_type = j->dst_type;
        if (t->w) {
            n_mat++;
            n_f32 += j->dst_type == HONE_F32;
            n_f16 += j->dst_type == HONE_F16;
            n_bf16 += j->dst_type == HONE_BF16;
        }
        uint64_t ne[2] = {(uint64_t)t->n_in, (uint64_t)t->n_out};
        if ((rc = hone_gguf_writer_add_tensor_fn(w, t->gguf, j->dst_type, t->w ? 2 : 1, ne, xt_fill, j, err)))
            goto done;
    }
    gw g = {.w = w, .arch = xt_gguf_arch(m), .err = err};
    char buf[512];
    const char *name = o->name ? o->name : src_str(m, "general.name", buf, sizeof buf);
    STR(&g, "general.architecture", g.arch);
    STR(&g, "general.type", "model");
    STR(&g, "general.name", name ? name : hone_arch_name(d->arch));
    char lbuf[512];
    const char *lic = o->license ? o->license : src_str(m, "general.license", lbuf, sizeof lbuf);
    if (lic) STR(&g, "general.license", lic);
    int ft = hone_export_ftype(o->type);
    if (ft < 0) { /* AUTO / KEEP: all-float files say so, else the source's file type */
        uint32_t v;
        if (n_f32 == n_mat) ft = 0;
        else if (n_f16 == n_mat) ft = 1;
        else if (n_bf16 == n_mat) ft = 32;
        else if (m->gguf && !hone_gguf_get_u32(m->gguf, "general.file_type", &v)) ft = (int)v;
    }
    if (ft >= 0) U32(&g, "general.file_type", (uint32_t)ft);
    U32(&g, "general.quantization_version", 2);
    write_arch_keys(&g, d);
    if (!g.rc) g.rc = xtok_write_gguf(w, m, err);
    if (!g.rc && m->gguf) { /* the source's other general.* keys (tags, basename, ...) */
        static const char *const OURS[] = {"general.architecture", "general.type", "general.name",
                                           "general.license", "general.file_type",
                                           "general.quantization_version", "general.alignment"};
        for (int64_t i = 0; i < hone_gguf_n_kv(m->gguf) && !g.rc; i++) {
            hone_str k = hone_gguf_kv_key(m->gguf, i);
            int skip = !has_prefix(k, "general.");
            for (size_t q = 0; q < sizeof OURS / sizeof *OURS && !skip; q++)
                skip = k.len == strlen(OURS[q]) && !memcmp(k.ptr, OURS[q], k.len);
            if (!skip) g.rc = hone_gguf_writer_copy_kv(w, m->gguf, i, err);
        }
    }
    if ((rc = g.rc)) goto done;
    rc = hone_gguf_writer_write(w, path, err);
done:
    hone_gguf_writer_free(w);
    free(jobs);
    xt_list_free(&l);
    return rc;
}
