/* export_internal.h: what the exporters (export_gguf.c, export_hf.c, export_adapter.c,
 * export_tok.c) share: the list of a model's tensors with both names, where their values
 * come from, and the streaming producer that turns one into bytes of a target type.
 *
 * A matrix comes from the model's hone_weight view (any type, in the file mapping); a vector
 * from the model's f32 copy, which holds the *effective* norm multiplier (norm_add + w): that
 * is what GGUF stores for every architecture, and HF stores it minus the family's
 * hf_norm_add (1 for gemma3). */
#ifndef HONE_MODEL_EXPORT_INTERNAL_H
#define HONE_MODEL_EXPORT_INTERNAL_H

#include "hone.h"
#include "model/model.h"

typedef struct xt {
    char gguf[64];
    char hf[96];
    int layer;              /* -1 for global tensors */
    int proj;               /* hone_proj, or -1 */
    int role;               /* XT_* */
    const hone_weight *w;   /* matrix source, or NULL */
    const float *vec;       /* (n) vector source (effective values), or NULL */
    float hf_sub;           /* HF value = vec - hf_sub (norms of gemma3: 1) */
    int64_t n_in, n_out;    /* vectors: n_in = n, n_out = 1 */
    int vec_src_type;       /* the vector's type in the source file (reports) */
    uint32_t qk_heads;      /* q/k of llama-architecture models: heads to (un)permute; else 0 */
    uint32_t head_dim;
    float *owned;           /* a vector computed for the export (rope_freqs), freed with the list */
} xt;

enum { XT_EMBD = 1, XT_OUTPUT, XT_OUT_NORM, XT_ROPE_FREQS, XT_LAYER_MAT, XT_LAYER_VEC };

typedef struct xt_list {
    xt *v;
    int n;
    int src_perm; /* the source's q/k rows are in GGUF llama order (llama/mistral GGUF) */
    const hone_model *m;
} xt_list;

/* All tensors of m to write, in GGUF order (token_embd, rope_freqs, blk.N.*, output_norm,
 * output). for_gguf: include rope_freqs for llama3 rope scaling (HF keeps it in config). */
int xt_list_build(xt_list *l, const hone_model *m, int for_gguf, hone_err *err);
void xt_list_free(xt_list *l);

/* The GGUF general.architecture name for m ("llama" for mistral, as llama.cpp's converter). */
const char *xt_gguf_arch(const hone_model *m);
/* 1 when GGUF stores this model's q/k rows permuted (llama / mistral). */
int xt_gguf_permutes(const hone_model *m);

/* llama.cpp's llama3 rope factors (f (dim/2)), as its converter computes them. */
void xt_llama3_factors(float *f, uint32_t dim, float base, float factor, float lo, float hi, uint32_t orig);

/* Producer of one tensor's bytes in dst_type, streamed through a sink. */
typedef struct xt_job {
    const xt *t;
    const xt_list *l;
    const hone_export_opts *o;
    int dst_type;
    int dst_perm;   /* write q/k rows in GGUF llama order */
    int hf;         /* HF values for vectors (minus hf_sub) */
    const char *hf_name_override;
    hone_export_tensor info;
} xt_job;

/* hone_tensor_fill_fn for an xt_job. */
int xt_fill(void *ctx, hone_sink *sink, hone_err *err);

/* 1 when a hook or the adapter will modify t. */
int xt_modified(const xt_job *j);

/* ---- tokenizer (export_tok.c) ---- */
typedef struct hone_gguf_writer hone_gguf_writer;
/* tokenizer.ggml.* keys (and tokenizer.chat_template) for m's tokenizer: copied from a GGUF
 * source, built from the hone_tok of an HF source. No tokenizer: nothing written. */
int xtok_write_gguf(hone_gguf_writer *w, const hone_model *m, hone_err *err);
/* DIR/tokenizer.json + DIR/tokenizer_config.json (with the chat template) for m's tokenizer;
 * nothing when m has none. bos/eos receive the ids (or -1) for config.json. */
int xtok_write_hf(const hone_model *m, const char *dir, hone_err *err);
/* The chat template text of m (GGUF tokenizer.chat_template or tokenizer_config.json), or NULL;
 * *len its length. */
const char *xtok_chat_template(const hone_model *m, size_t *len);

#endif
