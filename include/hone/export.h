/* hone/export.h: public API, writing a loaded model (GGUF or HF input) as a GGUF file that
 * llama.cpp / Ollama load, or as an HF folder that transformers loads; fusing a LoRA adapter
 * into the weights on the way; GGUF LoRA adapters; Ollama Modelfiles (issue 7).
 * Included by hone.h; see its conventions.
 *
 * Conventions handled both ways (facts from llama.cpp's convert_hf_to_gguf.py / gguf-py):
 *  - names: HF model.layers.N.self_attn.q_proj.weight <-> GGUF blk.N.attn_q.weight, etc.;
 *  - llama / mistral q_proj and k_proj rows are permuted per head in GGUF (the two rotary
 *    halves interleaved: HF row h*hd + s*hd/2 + j <-> GGUF row h*hd + 2j + s);
 *  - gemma3 RMSNorm weights: HF stores w (the model computes x * (1 + w)), GGUF stores w + 1
 *    (llama.cpp's converter adds 1 to every *norm.weight);
 *  - tied embeddings: no output.weight / lm_head.weight is written;
 *  - 1-D tensors (norms, biases, rope_freqs) are always written F32 (as llama.cpp does).
 *
 * Streaming: tensors are produced one at a time at write time, in row blocks when nothing
 * modifies them, so memory stays near one tensor in f32 (adapted tensors) or one row block
 * (the others), never the whole model. Files are written atomically.
 */
#ifndef HONE_EXPORT_H
#define HONE_EXPORT_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_model hone_model;     /* hone/engine.h */
typedef struct hone_adapter hone_adapter; /* hone/adapter.h */

/* Target tensor types. HONE_EXPORT_AUTO keeps each float (F32/F16/BF16) source tensor's
 * type, and writes quantized or modified ones as F16 (GGUF) / the source's float type or
 * F16 (HF). */
typedef enum hone_export_type {
    HONE_EXPORT_AUTO = 0,
    HONE_EXPORT_F32, HONE_EXPORT_F16, HONE_EXPORT_BF16,
    HONE_EXPORT_Q8_0, HONE_EXPORT_Q4_0, HONE_EXPORT_Q4_K_M, HONE_EXPORT_Q6_K,
    HONE_EXPORT_KEEP, /* GGUF only: copy each source tensor's bytes as they are (modified
                         tensors: re-quantized to their source type) */
    HONE_EXPORT_TYPE_COUNT
} hone_export_type;

/* "f16" -> HONE_EXPORT_F16 ... ("q4_k_m", "keep", "auto"); -1 when unknown. */
int hone_export_type_parse(const char *s);
const char *hone_export_type_name(int t);
/* llama.cpp's general.file_type (LLAMA_FTYPE_*) for t, or -1 (AUTO, KEEP). */
int hone_export_ftype(int t);

/* One tensor as the hook and the report see it. */
typedef struct hone_export_tensor {
    const char *gguf_name; /* "blk.3.attn_q.weight" */
    const char *hf_name;   /* "model.layers.3.self_attn.q_proj.weight" */
    int layer;             /* block index, or -1 */
    int proj;              /* hone_proj for the seven projections, else -1 */
    int64_t n_in, n_out;   /* matrix (n_out, n_in); vectors: n_in elements, n_out 1 */
    int src_type;          /* hone_dtype in the source file */
    int dst_type;          /* hone_dtype written */
} hone_export_tensor;

/* What was written for one tensor (report callback). */
typedef struct hone_export_report {
    const hone_export_tensor *t;
    int modified;      /* the hook / adapter changed it */
    double delta_norm; /* ||W' - W|| (f32), 0 when not modified */
    /* ||Q(W') - Q(W)|| / ||W' - W|| (the measure; only for modified tensors whose
     * dst_type is not F32, else -1). It exceeds 1 when re-quantization noise dominates. */
    double survival;
    /* <Q(W') - Q(W), W' - W> / ||W' - W||^2: the share of the intended change that the
     * written tensor carries in the change's own direction (1 = all, 0 = none; -1 as above). */
    double aligned;
} hone_export_report;

typedef struct hone_export_opts {
    int type;                /* hone_export_type */
    const char *name;        /* general.name / HF _name_or_path; NULL: the source's, else the arch */
    const char *license;     /* general.license (SPDX id or name); NULL: the source's if any */
    /* An adapter fused into the weights: W += scale * B A in f32 (HF row order; a llama
     * GGUF source is un-permuted, merged and permuted back). scale 0: the adapter's own. */
    const hone_adapter *adapter;
    float adapter_scale;
    /* Per-tensor override hook (fused weights from elsewhere). wants() says which matrices
     * modify() sees; modify() gets W (n_out, n_in) f32 in HF row order and changes it in
     * place. Either may be NULL. Runs after the adapter merge. */
    int (*wants)(void *ctx, const hone_export_tensor *t);
    int (*modify)(void *ctx, const hone_export_tensor *t, float *w /* (n_out, n_in) */, hone_err *err);
    void *hook_ctx;
    /* Called after each tensor is written (may be NULL). */
    void (*report)(void *ctx, const hone_export_report *r);
    void *report_ctx;
    uint64_t max_shard_bytes; /* HF only: 0 = 5 GB (5e9, as save_pretrained's "5GB") */
} hone_export_opts;

/* Writes m as a GGUF file: llama.cpp's metadata for its architecture (exact value types),
 * general.name / license / file_type / quantization_version, the tokenizer (tokenizer.ggml.*
 * and tokenizer.chat_template: copied from a GGUF source, built from tokenizer.json for an
 * HF source), and every tensor in the target type. For quantized targets the per-tensor
 * choices are llama.cpp's (src/model/export_gguf.c says which). opts may be NULL (AUTO). */
int hone_export_gguf(const hone_model *m, const char *path, const hone_export_opts *opts, hone_err *err);

/* Writes m as an HF folder DIR (created if missing): config.json, model.safetensors (or
 * shards of opts->max_shard_bytes with model.safetensors.index.json), tokenizer.json,
 * tokenizer_config.json (with the chat template), generation_config.json. Types: AUTO, F32,
 * F16, BF16. */
int hone_export_hf(const hone_model *m, const char *dir, const hone_export_opts *opts, hone_err *err);

/* Writes ad as a llama.cpp GGUF LoRA (--lora, Ollama ADAPTER) for base model m:
 * general.type = "adapter", general.architecture = m's, adapter.type = "lora",
 * adapter.lora.alpha = scale * rank (F32); tensors blk.N.attn_q.weight.lora_a ggml ne
 * {n_in, r} (= A (r, n_in)) and .lora_b ne {r, n_out} (= B (n_out, r)), F32; B's rows of q/k
 * permuted for llama-architecture bases as the base's weights are. scale 0: the adapter's. */
int hone_export_adapter_gguf(const hone_adapter *ad, const hone_model *m, float scale, const char *path,
                             hone_err *err);

/* Writes an Ollama Modelfile: FROM gguf_path, a TEMPLATE in Ollama's Go-template syntax for
 * m's chat format (detected from its chat template: gemma, chatml (qwen2.5, smollm2), llama3,
 * mistral), PARAMETER stop for its end-of-turn tokens. HONE_EUNSUPPORTED when the chat format
 * is unknown (then no TEMPLATE could be right). */
int hone_export_modelfile(const hone_model *m, const char *gguf_path, const char *path, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
