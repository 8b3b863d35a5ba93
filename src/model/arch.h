/* arch.h: the per-architecture table (internal): names in HF and GGUF files,
 * the structural flags of each family, and transformers' config defaults, which
 * apply to keys a config.json leaves out (save_pretrained writes only the keys
 * that differ from the class defaults, nested text_config blocks included). */
#ifndef HONE_MODEL_ARCH_H
#define HONE_MODEL_ARCH_H

#include "hone.h"

typedef struct arch_hf_defaults {
    uint32_t vocab, hidden, ffn, layers, heads;
    uint32_t kv_heads;   /* 0: same as heads */
    uint32_t head_dim;   /* 0: hidden / heads */
    uint32_t context;
    float rms_eps, rope_theta, rope_theta_local; /* local 0: same as rope_theta */
    int tie;
    uint32_t sliding_window; /* default when the key is absent (null means none) */
    uint32_t sliding_pattern;
    float query_pre_attn_scalar; /* 0: head_dim */
} arch_hf_defaults;

typedef struct arch_info {
    hone_arch arch;
    const char *name;
    const char *hf_types[3];     /* config.json model_type values */
    const char *hf_classes[3];   /* architectures[] values */
    const char *gguf_names[2];   /* general.architecture values */
    hone_act act;
    int qk_norm, post_norms, embed_scale, qkv_bias;
    float hf_norm_add; /* 1 where HF's RMSNorm computes x * (1 + w) */
    arch_hf_defaults hf;
} arch_info;

const arch_info *arch_by_id(hone_arch a);
const arch_info *arch_by_hf_type(const char *model_type);
const arch_info *arch_by_hf_class(const char *cls);
const arch_info *arch_by_gguf_name(const char *name, size_t len);
/* "gemma3, llama, mistral, qwen2" for messages. */
const char *arch_known_list(void);

/* Checks the shape fields for consistency and fills layer_sliding from
 * sliding_pattern when `pattern_fill` is set; `where` names the source. */
int desc_finish(hone_model_desc *d, const char *where, int pattern_fill, hone_err *err);

#endif
