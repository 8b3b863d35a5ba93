/* hone/engine.h: public API of the inference engine (issue 4).
 * Included by hone.h; see its conventions.
 *
 * hone_model: the weights of one model, memory-mapped from a GGUF file or an HF
 * folder (safetensors) and never copied whole, its description (hone/model.h)
 * and its tokenizer. Read-only after loading, so several sessions (threads,
 * server requests) can share one.
 *
 * hone_session: the run state of one sequence: KV cache (a ring buffer for
 * sliding-window layers), activation buffers, all allocated at init for n_ctx
 * tokens and batches of up to n_batch tokens, so the token loop allocates
 * nothing. hone_session_eval appends tokens at the current position.
 *
 * Adapters (hone/adapter.h) are applied unmerged per session: a hone_model_adapter
 * is an adapter bound to one model (checked, laid out for it); a session uses at
 * most one (hone_session_set_adapter), so one loaded base serves a base session
 * and sessions with different adapters side by side. hone_session_eval_multi
 * advances several sessions by one token each in one forward pass (the rows go
 * through each projection as one matmul; attention, the KV cache and LoRA stay
 * per session), the batched decode step of a server; hone_session_eval_batch also
 * takes several tokens per session (a new prompt beside others' decode steps).
 *
 * Two compute paths: the plain f32 reference ops (always built; the exactness
 * oracle) and the fast CPU kernels (chosen at run time from CPU features).
 * HONE_ENGINE_REFERENCE selects the first.
 */
#ifndef HONE_ENGINE_H
#define HONE_ENGINE_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_model hone_model;
typedef struct hone_session hone_session;
typedef struct hone_model_adapter hone_model_adapter;
typedef struct hone_model_desc hone_model_desc; /* hone/model.h */
typedef struct hone_tok hone_tok;               /* hone/tokenizer.h */

enum {
    HONE_ENGINE_FAST = 0,      /* fast kernels (default) */
    HONE_ENGINE_REFERENCE = 1, /* plain f32 reference ops everywhere */
};

typedef struct hone_load_opts {
    int engine;               /* HONE_ENGINE_* */
    const char *adapter_path; /* MLX or PEFT adapter folder applied unmerged; NULL = none */
    float adapter_scale;      /* 0 = the adapter's own scale */
} hone_load_opts;

/* PATH: a GGUF file, an HF folder (config.json + safetensors), or ollama:NAME[:TAG].
 * opts may be NULL (defaults). */
int hone_model_load(hone_model **out, const char *path, const hone_load_opts *opts, hone_err *err);
void hone_model_free(hone_model *m);
const hone_model_desc *hone_model_get_desc(const hone_model *m);
/* The model's tokenizer (owned by the model), or NULL if it has none: a GGUF
 * without tokenizer.ggml.* keys, an HF folder without tokenizer.json or whose
 * tokenizer.json is of a kind hone_tok_load_hf does not support (Unigram,
 * WordPiece...). A malformed tokenizer.json, or one with more ids than the
 * embedding has rows, fails hone_model_load. */
hone_tok *hone_model_get_tokenizer(const hone_model *m);

typedef struct hone_session_opts {
    uint32_t n_ctx;   /* 0 = min(model context, 4096) */
    uint32_t n_batch; /* max tokens per eval call; 0 = 512 */
    int n_threads;    /* 0 = all cores */
} hone_session_opts;

int hone_session_init(hone_session **out, hone_model *m, const hone_session_opts *opts,
                      hone_err *err);
void hone_session_free(hone_session *s);

/* What one eval call returns. Rows index the tokens of this call (0..n-1). */
typedef struct hone_eval_out {
    float *logits;           /* (n_rows, vocab) f32, or NULL */
    const uint32_t *rows;    /* which tokens get logits; NULL = only the last one */
    uint32_t n_rows;         /* entries in rows (ignored when rows is NULL) */
    float *hidden;           /* (n, hidden): final normed hidden states (LM-head input), or NULL */
} hone_eval_out;

/* Appends tokens[0..n) at positions pos..pos+n-1 (n <= n_batch, pos+n <= n_ctx,
 * otherwise HONE_EARG) and fills `out`. */
int hone_session_eval(hone_session *s, const int32_t *tokens, uint32_t n, hone_eval_out *out,
                      hone_err *err);
uint32_t hone_session_pos(const hone_session *s);
/* The session's context size in tokens (opts.n_ctx, or the default it resolved to). */
uint32_t hone_session_n_ctx(const hone_session *s);
/* Forgets everything from position pos on (0 = reset). A sliding-window layer
 * keeps only its last window + n_batch positions, so truncating to pos needs
 * positions pos-window+1 .. pos-1 still held there; otherwise HONE_EARG and
 * the session is unchanged (truncate to 0 and evaluate again). */
int hone_session_truncate(hone_session *s, uint32_t pos, hone_err *err);

/* ---- adapters per session ------------------------------------------------------
 * hone_model_adapter_load reads an MLX or PEFT adapter folder (hone/adapter.h) and
 * binds it to m: every pair's shape is checked against the weight it adapts (the
 * error names the folder, the tensor and both shapes), and for a llama GGUF base
 * B's q/k rows are permuted as the converter permuted the weights. scale != 0
 * overrides the adapter's own. It must be freed after every session using it and
 * before the model. The adapter given at load time (hone_load_opts.adapter_path)
 * is owned by the model, and every new session starts with it. */
int hone_model_adapter_load(hone_model_adapter **out, const hone_model *m, const char *dir, float scale,
                            hone_err *err);
void hone_model_adapter_free(hone_model_adapter *a);
/* The model's own adapter (hone_load_opts.adapter_path), or NULL. */
const hone_model_adapter *hone_model_get_adapter(const hone_model *m);

/* The adapter this session applies from its next eval on; NULL = the plain base.
 * HONE_EARG when a was bound to another model. The KV cache is not touched: the
 * caller truncates (a cache filled under another adapter holds other keys). */
int hone_session_set_adapter(hone_session *s, const hone_model_adapter *a, hone_err *err);
const hone_model_adapter *hone_session_get_adapter(const hone_session *s);

/* ---- batched decode ------------------------------------------------------------
 * Appends tokens[i] to session ss[i] (i < n) at its own position, in one forward
 * pass, and writes row i of logits (n, vocab) (logits may be NULL). The n rows go
 * through each projection as one matmul (T = n); RoPE, the KV cache, attention
 * and LoRA (each session's own adapter) are per session. The sessions must be
 * distinct, share one model, and each have a free position; n <= ss[0]->n_batch
 * (ss[0]'s buffers and threads do the work). Otherwise HONE_EARG and no session
 * changes. With the reference engine, row i equals what hone_session_eval(ss[i],
 * &tokens[i], 1) gives bit for bit; the fast kernels may round a T = n matmul
 * differently from a T = 1 one (tests/unit/test_engine_multi.c states the bound). */
int hone_session_eval_multi(hone_session *const *ss, uint32_t n, const int32_t *tokens, float *logits,
                            hone_err *err);
/* The general form (continuous batching: prompts and decode steps of several
 * sessions in one pass): session ss[i] appends n_tok[i] >= 1 tokens (tokens holds
 * them back to back; n_tok NULL = one each), each at most its own n_batch and
 * fitting its context, sum <= ss[0]->n_batch; row i of logits (n_seq, vocab) is
 * the logits of session i's last token. Same guarantees as eval_multi: with the
 * reference engine each session's rows equal a hone_session_eval of its tokens. */
int hone_session_eval_batch(hone_session *const *ss, uint32_t n_seq, const int32_t *tokens, const uint32_t *n_tok,
                            float *logits, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
