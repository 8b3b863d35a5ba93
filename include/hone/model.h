/* hone/model.h: public API, model description (architecture, shapes, rope,
 * windows) from GGUF metadata or an HF config.json; ollama: names.
 * Included by hone.h; see its conventions.
 *
 * hone_model_desc is a plain struct the engine reads directly. The same model
 * gives the same description from its GGUF file and from its HF folder, except
 * for `source` and the fields documented as source-dependent. */
#ifndef HONE_MODEL_H
#define HONE_MODEL_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_st hone_st; /* hone/safetensors.h */

typedef enum hone_arch {
    HONE_ARCH_UNKNOWN = 0,
    HONE_ARCH_GEMMA3,  /* HF gemma3 / gemma3_text, GGUF gemma3 */
    HONE_ARCH_LLAMA,   /* HF llama (SmolLM, Llama 2/3, DeepSeek-R1-Distill-Llama), GGUF llama */
    HONE_ARCH_MISTRAL, /* HF mistral (GGUF files of Mistral 7B say "llama") */
    HONE_ARCH_QWEN2,   /* HF qwen2 (Qwen 2 / 2.5, DeepSeek-R1-Distill-Qwen), GGUF qwen2 */
    HONE_ARCH_COUNT,
} hone_arch;

const char *hone_arch_name(hone_arch a); /* "gemma3", ... */

typedef enum hone_rope_scaling {
    HONE_ROPE_SCALING_NONE = 0,
    HONE_ROPE_SCALING_LINEAR, /* positions divided by factor */
    HONE_ROPE_SCALING_LLAMA3, /* factor, low/high_freq_factor, original_context */
    HONE_ROPE_SCALING_YARN,   /* factor, original_context */
} hone_rope_scaling;

typedef enum hone_act { HONE_ACT_SILU = 0, HONE_ACT_GELU_TANH } hone_act;

typedef enum hone_model_source { HONE_SOURCE_GGUF = 0, HONE_SOURCE_HF } hone_model_source;

#define HONE_MODEL_MAX_LAYERS 512

typedef struct hone_model_desc {
    hone_arch arch;
    hone_model_source source;
    uint32_t n_layers;
    uint32_t hidden;     /* d_model */
    uint32_t ffn_hidden; /* gated MLP inner size */
    uint32_t n_heads, n_kv_heads;
    uint32_t head_dim;   /* per-head q/k size */
    uint32_t head_dim_v; /* per-head v size (== head_dim for all supported archs) */
    uint32_t vocab;
    uint32_t context;    /* trained context length */
    float rms_eps;

    float rope_theta;       /* base of global (full-attention) layers */
    float rope_theta_local; /* base of sliding-window layers (gemma3: 10000); else == rope_theta */
    uint32_t rope_dim;      /* rotated dims per head (== head_dim unless the file says less) */
    hone_rope_scaling rope_scaling; /* applies to global layers only for gemma3 */
    float rope_factor;
    float rope_low_freq_factor, rope_high_freq_factor; /* llama3 */
    uint32_t rope_orig_context;                         /* llama3 / yarn */
    int rope_freqs_tensor; /* GGUF: llama3 factors stored as the rope_freqs.weight tensor */

    uint32_t sliding_window;  /* tokens a sliding layer sees; 0 = no sliding layers */
    uint32_t sliding_pattern; /* gemma3: 6 (every 6th layer global); 0 when irregular/none */
    uint8_t layer_sliding[HONE_MODEL_MAX_LAYERS]; /* 1 where layer i uses the window */

    float query_pre_attn_scalar; /* scores scale 1/sqrt(this); == head_dim unless the model says otherwise */
    float final_logit_softcap;   /* 0 = none */
    float attn_logit_softcap;    /* 0 = none */
    int tied_embeddings;         /* LM head shares token_embd */
    int qkv_bias;                /* q, k, v projections have biases (qwen2) */
    int qk_norm;                 /* RMS norm on q and k per head (gemma3) */
    int post_norms;              /* extra norms after attention and MLP (gemma3) */
    int embed_scale;             /* embeddings multiplied by sqrt(hidden) (gemma3) */
    hone_act act;
    /* Source-dependent: gemma's HF RMSNorm computes x*(1+w); GGUF files store
     * w+1 already. The engine multiplies by (norm_add + w). */
    float norm_add;

    uint64_t n_params; /* sum of tensor element counts; 0 until counted */
} hone_model_desc;

/* From a GGUF file's metadata (llama.cpp's keys and defaults) and tensor list
 * (tied embeddings, qkv bias, rope_freqs, parameter count). */
int hone_model_desc_from_gguf(hone_model_desc *d, const hone_gguf *g, hone_err *err);

/* From an HF config.json (file path), or its text (name is used in messages).
 * Keys absent from the file take transformers' defaults for that model type.
 * n_params stays 0; count it with hone_model_desc_count_st. */
int hone_model_desc_from_hf_config(hone_model_desc *d, const char *config_path, hone_err *err);
int hone_model_desc_from_hf_json(hone_model_desc *d, const char *json, size_t len, const char *name,
                                 hone_err *err);
/* Sets n_params from the tensors of an HF model: the language model's tensors
 * (vision tower / projector excluded; a stored lm_head.weight of a tied model
 * counted once). */
void hone_model_desc_count_st(hone_model_desc *d, const hone_st *st);

/* 1 if layer il attends through the sliding window. */
static inline int hone_model_layer_is_sliding(const hone_model_desc *d, uint32_t il) {
    return il < HONE_MODEL_MAX_LAYERS && d->layer_sliding[il];
}

/* ---- Ollama's model store ------------------------------------------------------ */

/* What an `ollama:NAME[:TAG]` reference resolves to; paths are malloc'd, NULL
 * when the manifest has no such layer. */
typedef struct hone_ollama_model {
    char *manifest; /* .../manifests/HOST/NS/NAME/TAG */
    char *model;    /* GGUF blob (application/vnd.ollama.image.model) */
    char *template_; /* application/vnd.ollama.image.template */
    char *system;   /* application/vnd.ollama.image.system */
    char *params;   /* application/vnd.ollama.image.params */
    char *adapter;  /* application/vnd.ollama.image.adapter */
} hone_ollama_model;

/* 1 if s starts with "ollama:". */
int hone_ollama_is_ref(const char *s);
/* Resolves REF ("ollama:NAME[:TAG]" or "NAME[:TAG]"; NAME is x, ns/x or
 * host/ns/x; default namespace library, host registry.ollama.ai, tag latest)
 * in $OLLAMA_MODELS, else ~/.ollama/models. Every named blob must exist. */
int hone_ollama_resolve(hone_ollama_model *m, const char *ref, hone_err *err);
void hone_ollama_model_free(hone_ollama_model *m);

#ifdef __cplusplus
}
#endif
#endif
