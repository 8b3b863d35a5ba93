/* hone/adapter.h: public API, LoRA adapter sets (issues 4, 5, 7).
 * Included by hone.h; see its conventions.
 *
 * A hone_adapter holds, for each adapted (layer, projection), the low-rank pair
 *   A (rank, n_in) and B (n_out, rank), f32, row-major,
 * so that the adapted linear is y = W x + scale * B (A x). Projections use the
 * Hugging Face module names whatever the base model's file format (a GGUF base
 * maps them onto its own tensor names when the adapter is attached).
 *
 * Two file formats, read and written:
 *  - MLX (what mlx_lm.lora writes): DIR/adapters.safetensors with
 *    `model.layers.N.self_attn.q_proj.lora_a` shape (n_in, rank) and `.lora_b`
 *    shape (rank, n_out) (mlx-lm's LoRALinear computes (x @ lora_a) @ lora_b,
 *    so lora_a = A^T, lora_b = B^T), and DIR/adapter_config.json with
 *    fine_tune_type, num_layers and lora_parameters {rank, scale, dropout, keys}.
 *  - PEFT: DIR/adapter_model.safetensors with
 *    `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` (rank, n_in)
 *    and `.lora_B.weight` (n_out, rank), DIR/adapter_config.json with peft_type
 *    LORA, r, lora_alpha (scale = lora_alpha / r, or / sqrt(r) with use_rslora),
 *    target_modules, bias "none".
 * Loading detects the format from the file present in DIR.
 */
#ifndef HONE_ADAPTER_H
#define HONE_ADAPTER_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The adaptable projections of a transformer block (HF names in comments). */
typedef enum hone_proj {
    HONE_PROJ_Q = 0,    /* self_attn.q_proj */
    HONE_PROJ_K = 1,    /* self_attn.k_proj */
    HONE_PROJ_V = 2,    /* self_attn.v_proj */
    HONE_PROJ_O = 3,    /* self_attn.o_proj */
    HONE_PROJ_GATE = 4, /* mlp.gate_proj */
    HONE_PROJ_UP = 5,   /* mlp.up_proj */
    HONE_PROJ_DOWN = 6, /* mlp.down_proj */
    HONE_PROJ_COUNT = 7,
} hone_proj;

/* "q_proj" / "self_attn.q_proj", or NULL for an id out of range. */
const char *hone_proj_name(int proj);
const char *hone_proj_module(int proj);
/* The projection id for "q_proj" or "self_attn.q_proj" (etc.), or -1. */
int hone_proj_from_name(const char *name);

enum { HONE_ADAPTER_MLX = 1, HONE_ADAPTER_PEFT = 2 };

typedef struct hone_adapter_config {
    char fine_tune_type[16]; /* "lora" */
    int32_t num_layers;      /* mlx-lm: adapters on the last num_layers blocks (-1 = all) */
    uint32_t rank;
    float scale;             /* the multiplier of B (A x) */
    float dropout;
    uint32_t keys;           /* bit (1u << hone_proj) per adapted projection */
    int use_rslora;          /* PEFT only: scale = alpha / sqrt(r) */
    char base_model[512];    /* PEFT base_model_name_or_path, or "" */
} hone_adapter_config;

/* One adapted projection. */
typedef struct hone_lora {
    uint32_t layer;
    int proj;               /* hone_proj */
    uint32_t rank;
    int64_t n_in, n_out;
    float *a;               /* (rank, n_in) */
    float *b;               /* (n_out, rank) */
} hone_lora;

typedef struct hone_adapter hone_adapter;

/* An empty set with this config (copied). */
int hone_adapter_create(hone_adapter **out, const hone_adapter_config *cfg, hone_err *err);
void hone_adapter_free(hone_adapter *ad);

/* Adds (layer, proj) with A (rank, n_in) and B (n_out, rank) copied in; a NULL
 * a or b means zeros. rank is the config's. Duplicates are HONE_EARG. */
int hone_adapter_add(hone_adapter *ad, uint32_t layer, int proj, int64_t n_in, int64_t n_out,
                     const float *a, const float *b, hone_err *err);

/* Reads DIR (MLX or PEFT, detected). *format (may be NULL) receives HONE_ADAPTER_*. */
int hone_adapter_load(hone_adapter **out, const char *dir, int *format, hone_err *err);
/* Writes DIR/adapters.safetensors + DIR/adapter_config.json (mlx-lm's layout). DIR must exist. */
int hone_adapter_save_mlx(const hone_adapter *ad, const char *dir, hone_err *err);
/* Writes DIR/adapter_model.safetensors + DIR/adapter_config.json (PEFT's layout). */
int hone_adapter_save_peft(const hone_adapter *ad, const char *dir, hone_err *err);

const hone_adapter_config *hone_adapter_get_config(const hone_adapter *ad);
/* Changes the scale every projection uses (hone_load_opts.adapter_scale). */
void hone_adapter_set_scale(hone_adapter *ad, float scale);
/* Adapted projections, ordered by (layer, proj). */
int64_t hone_adapter_n(const hone_adapter *ad);
hone_lora *hone_adapter_get(hone_adapter *ad, int64_t i);
const hone_lora *hone_adapter_find(const hone_adapter *ad, uint32_t layer, int proj);

#ifdef __cplusplus
}
#endif
#endif
