/* train_internal.h: internals of the LoRA training step (include/hone/train.h):
 * the trainer's state (trainer.c), one transformer block's forward and backward
 * over a packed batch (train_block.c), the adapter path with dropout
 * (train_lora.c) and the frozen-prefix cache (prefix_cache.c).
 *
 * Packing: the padded batch (n_seq, seq_len) is packed to its T = sum(lengths)
 * real tokens, row r = (sequence rseq[r], position pos[r]); padding rows do not
 * exist, so they are never attended to or supervised, and every matmul runs on
 * real tokens only. Attention runs per sequence on its contiguous rows.
 */
#ifndef HONE_TRAIN_INTERNAL_H
#define HONE_TRAIN_INTERNAL_H

#include "hone.h"
#include "model/model.h"
#include "ops/backend.h"
#include "util/pool.h"

/* One adapted projection as the step sees it. */
typedef struct tr_lora {
    hone_lora *src;  /* the caller's pair (A, B read at every step) */
    uint32_t layer;
    int proj;        /* hone_proj */
    int64_t rank, n_in, n_out;
    const float *b;  /* (n_out, rank): src->b, or bp on a llama GGUF q/k */
    float *da;       /* (rank, n_in): the public gradient */
    float *db;       /* (n_out, rank): the public gradient (HF row order) */
    float *db_acc;   /* (n_out, rank): where the step accumulates dB (db, or dbp) */
    float *bp, *dbp; /* (n_out, rank): row-permuted B and dB for llama GGUF q/k, else NULL */
    float *bt;       /* (rank, n_out): B^T of this step (long rows for the vector loops) */
} tr_lora;

/* A packed batch (or sub-batch): n sequences, sequence i on rows off[i] .. off[i]+len[i]. */
typedef struct tr_batch {
    int64_t T;
    uint32_t n;
    const int64_t *off;   /* (n) */
    const uint32_t *len;  /* (n) */
    const int32_t *pos;   /* (T) position of each row in its sequence */
    const int32_t *rseq;  /* (T) sequence index of each row in the CALLER's batch (dropout) */
    uint64_t seed;        /* dropout seed */
} tr_batch;

/* One block's saved activations (T rows each); the block input is kept outside. */
typedef struct tr_act {
    float *xn1;             /* (T, D) attn_norm(x) */
    float *q, *k, *v;       /* (T, nq), (T, nkv), (T, nkv) projections */
    float *qr, *kr;         /* (T, nq), (T, nkv) after the q/k norms and RoPE */
    float *att;             /* (T, nq) attention output */
    float *o;               /* (T, D) o_proj output */
    float *x1;              /* (T, D) residual after attention */
    float *xn2;             /* (T, D) ffn_norm(x1) */
    float *gate, *up, *act; /* (T, F) */
    float *dn;              /* (T, D) down_proj output */
} tr_act;

/* Entry of the frozen-prefix cache. */
typedef struct pc_entry {
    int64_t id;
    uint64_t hash; /* of the tokens */
    uint32_t len;  /* 0 = empty slot */
    float *data;   /* (len, D) in the arena */
} pc_entry;

typedef struct prefix_cache {
    pc_entry *tab;   /* (cap), open addressing */
    size_t cap, n;
    float *arena;    /* (arena_floats) */
    size_t arena_floats, used;
    int64_t D;
} prefix_cache;

struct hone_trainer {
    hone_model *m;
    hone_adapter *ad;
    const hone_backend *be;
    hone_pool *pool;
    hone_trainer_opts o;
    float scale, dropout;
    uint32_t lo;           /* lowest adapted block */
    int64_t n_lora;
    tr_lora *lora;         /* (n_lora) in hone_adapter_get order */
    int32_t *slot;         /* (n_layers, HONE_PROJ_COUNT): index into lora, or -1 */
    int64_t Tmax, D, F, nq, nkv, max_in, max_rank;
    /* packed batch */
    int32_t *tok, *tgt, *pos, *rseq; /* (Tmax) */
    int64_t *off;                    /* (max_batch) */
    uint32_t *len;                   /* (max_batch) */
    /* prefix sub-batch (sequences missing from the cache) */
    int32_t *ppos, *prseq;           /* (Tmax) */
    int64_t *poff;                   /* (max_batch) */
    uint32_t *plen, *pidx;           /* (max_batch) */
    float *pa, *pb;                  /* (Tmax, D) ping-pong */
    /* activations */
    float **xin;     /* (n_adapted + 1) each (Tmax, D): input of block lo+j; the last = final residual */
    tr_act *acts;    /* (n_adapted), or 1 with gradient checkpointing */
    int n_acts;
    float *hf, *dh;  /* (Tmax, D) final normed hidden state and its gradient */
    /* backward scratch */
    float *g, *tmp, *dxn;           /* (Tmax, D) */
    float *datt, *dqr, *dq;         /* (Tmax, nq) */
    float *dkr, *dk, *dv;           /* (Tmax, nkv) */
    float *df1, *df2, *df3;         /* (Tmax, F) */
    /* adapter scratch */
    float *xd;                      /* (Tmax, max_in) dropped-out input */
    float *u, *ug;                  /* (Tmax, max_rank) x A^T, dy B */
    float *dbt;                     /* (max_rank, max_out) dB^T of one backward call */
    int64_t max_out;
    prefix_cache pc;
};

typedef struct hone_trainer hone_trainer;

/* train_block.c */
void tr_block_forward(hone_trainer *t, uint32_t il, tr_act *a, const float *x, float *out, const tr_batch *b);
/* g (T, D): on entry dL/d(block output), on return dL/d(block input) (when need_dx). */
void tr_block_backward(hone_trainer *t, uint32_t il, const tr_act *a, const float *x, float *g,
                       const tr_batch *b, int need_dx);

/* train_lora.c: y (T, n_out) += scale B (A drop(x)); the backward adds dA, dB and
 * (dx != NULL) the adapter's part of dx. */
void tr_lora_forward(hone_trainer *t, const tr_lora *l, float *y, const float *x, const tr_batch *b);
void tr_lora_backward(hone_trainer *t, const tr_lora *l, float *dx, const float *dy, const float *x,
                      const tr_batch *b);

/* prefix_cache.c */
int pcache_init(prefix_cache *c, size_t bytes, int64_t D);
void pcache_free(prefix_cache *c);
void pcache_clear(prefix_cache *c);
const float *pcache_get(const prefix_cache *c, int64_t id, uint64_t hash, uint32_t len);
void pcache_put(prefix_cache *c, int64_t id, uint64_t hash, uint32_t len, const float *rows);

#endif
