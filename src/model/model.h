/* model.h: internal layout of a loaded hone_model (src/model/model.c), read by
 * the forward pass (src/infer/). Weights are hone_weight views into the file
 * mapping (GGUF or safetensors, any supported type, never copied); only the
 * small vectors (norm weights with norm_add applied, biases, RoPE frequencies)
 * are f32 copies owned by the model. */
#ifndef HONE_MODEL_MODEL_H
#define HONE_MODEL_MODEL_H

#include "hone.h"
#include "ops/backend.h"

typedef struct model_layer {
    hone_weight wq;        /* (n_heads*head_dim, hidden) */
    hone_weight wk, wv;    /* (n_kv_heads*head_dim, hidden) */
    hone_weight wo;        /* (hidden, n_heads*head_dim) */
    hone_weight w_gate;    /* (ffn, hidden) */
    hone_weight w_up;      /* (ffn, hidden) */
    hone_weight w_down;    /* (hidden, ffn) */
    float *bq;             /* (n_heads*head_dim) or NULL (qwen2 only) */
    float *bk, *bv;        /* (n_kv_heads*head_dim) or NULL */
    float *attn_norm;      /* (hidden): input norm of attention */
    float *q_norm, *k_norm; /* (head_dim) or NULL: per-head q/k norms (gemma3) */
    float *post_attn_norm; /* (hidden) or NULL (gemma3) */
    float *ffn_norm;       /* (hidden): input norm of the MLP */
    float *post_ffn_norm;  /* (hidden) or NULL (gemma3) */
    const float *freqs;    /* (rope_dim/2): the model's global or local inverse frequencies */
    int sliding;           /* 1: attends through desc.sliding_window */
    const hone_lora *lora[HONE_PROJ_COUNT]; /* adapter pair per projection, or NULL (src/model/lora_attach.c) */
} model_layer;

struct hone_model {
    hone_model_desc desc;
    char *path;              /* as given */
    hone_gguf *gguf;         /* the mapping, or NULL */
    hone_st *st;             /* or this (HF folder) */
    hone_tok *tok;           /* or NULL */
    const hone_backend *be;  /* reference or fast CPU */
    int engine;              /* HONE_ENGINE_* */
    hone_rope_mode rope_mode;
    float embed_scale;       /* 1, or sqrt(hidden) rounded to f32 (gemma3) */
    hone_weight tok_embd;    /* (vocab, hidden) */
    hone_weight output;      /* (vocab, hidden): LM head; a copy of tok_embd's view when tied */
    float *out_norm;         /* (hidden) */
    float *freqs_global;     /* (rope_dim/2) */
    float *freqs_local;      /* (rope_dim/2): sliding layers (== global values unless gemma3) */
    model_layer *layers;     /* (n_layers) */
    hone_model_adapter *adapter; /* applied unmerged (hone_load_opts.adapter_path), or NULL:
                                    every new session starts with it */
    float lora_scale;        /* its scale (or the override) */
    uint32_t lora_rank;      /* its rank */
};

/* An adapter bound to one model (hone/engine.h): shapes checked against the base,
 * B's q/k rows permuted to the base's layout; a session points at one. */
struct hone_model_adapter {
    const hone_model *m;
    hone_adapter *ad;        /* owns the pairs */
    const hone_lora **lora;  /* (n_layers * HONE_PROJ_COUNT): pair of (layer, proj), or NULL */
    float scale;
    uint32_t rank;           /* the largest rank (sizes a session's scratch) */
};

/* Loads the adapter folder (hone_model_adapter_load) and makes it the model's
 * own: every session starts with it, and m->layers[].lora point at its pairs.
 * scale != 0 overrides. */
int model_attach_adapter(hone_model *m, const char *dir, float scale, hone_err *err);

#endif
