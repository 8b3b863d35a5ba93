/* session.h: internal layout of a hone_session (src/infer/session.c) and the
 * forward pass over one batch (src/infer/forward.c).
 *
 * KV cache, f32, one per layer: a global layer has n_ctx slots and position p
 * lives in slot p; a sliding-window layer has a ring of window + n_batch slots
 * (capped at n_ctx) and position p lives in slot p % slots. That is enough: a
 * batch of n <= n_batch tokens at pos..pos+n-1 overwrites only positions
 * <= pos+n-1-slots < pos-window, which no query of the batch can see.
 * kpos[slot] is the position held there, or KV_EMPTY (never visible).
 */
#ifndef HONE_INFER_SESSION_H
#define HONE_INFER_SESSION_H

#include "hone.h"
#include "model/model.h"
#include "ops/backend.h"
#include "util/pool.h"

#define KV_EMPTY INT32_MAX

typedef struct kv_layer {
    float *k;      /* (slots, n_kv_heads*head_dim) */
    float *v;      /* (slots, n_kv_heads*head_dim) */
    int32_t *kpos; /* (slots) */
    uint32_t slots;
} kv_layer;

struct hone_session {
    hone_model *m;
    const hone_backend *be;
    hone_pool *pool;
    uint32_t n_ctx, n_batch;
    uint32_t pos;  /* tokens in the cache */
    kv_layer *kv;  /* (n_layers) */
    /* activations, n_batch rows each */
    float *x;      /* (n_batch, hidden): residual stream */
    float *xn;     /* (n_batch, hidden): normed input of a block, or a block's normed output */
    float *q;      /* (n_batch, n_heads*head_dim) */
    float *q2;     /* (n_batch, n_heads*head_dim): q after its norm */
    float *k;      /* (n_batch, n_kv_heads*head_dim) */
    float *k2;     /* (n_batch, n_kv_heads*head_dim): k after its norm */
    float *v;      /* (n_batch, n_kv_heads*head_dim) */
    float *att;    /* (n_batch, n_heads*head_dim) */
    float *o;      /* (n_batch, hidden): output of a block's last projection */
    float *gate;   /* (n_batch, ffn) */
    float *up;     /* (n_batch, ffn) */
    float *act;    /* (n_batch, ffn) */
    float *rows;   /* (n_batch, hidden): the normed rows that get logits */
    int32_t *qpos; /* (n_batch) */
    uint32_t *rowidx; /* (n_batch): the logits rows of a multi-session eval (scratch) */
    const hone_model_adapter *ad; /* applied adapter, or NULL (starts as the model's own) */
    float *lora_t; /* (n_batch, lora_cap): A x of an adapted projection, or NULL */
    uint32_t lora_cap; /* rank lora_t is sized for */
};

/* Runs tokens[0..n) at positions s->pos.. through the model (n <= n_batch,
 * checked by the caller), appending to the KV cache; fills out; does not
 * advance s->pos. */
int forward_batch(hone_session *s, const int32_t *tokens, uint32_t n, hone_eval_out *out, hone_err *err);

/* One session's share of a forward pass: rows row0..row0+n-1 of the batch are its
 * next n tokens, at positions s->pos.. */
typedef struct fwd_seg {
    hone_session *s;
    uint32_t row0, n;
} fwd_seg;

/* The forward pass over the rows of several sessions (segments in row order,
 * covering rows 0..n-1): w's buffers and thread pool do the work (n <= w->n_batch),
 * each segment's rows use its session's KV cache, positions and adapter. Does not
 * advance any pos. forward_batch(s) is forward_segs(s, {s, 0, n}). */
int forward_segs(hone_session *w, const fwd_seg *segs, uint32_t n_seg, const int32_t *tokens, uint32_t n,
                 hone_eval_out *out, hone_err *err);

#endif
