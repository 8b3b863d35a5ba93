/* train_loop_internal.h: what the training loop's files share (loop.c, batch.c,
 * checkpoint.c): the prepared data set, the batch buffers, the loop state and its
 * checkpoint. Internal to src/train. */
#ifndef HONE_TRAIN_LOOP_INTERNAL_H
#define HONE_TRAIN_LOOP_INTERNAL_H

#include "hone.h"
#include "train/loop.h"
#include "train/optim.h"

/* ---- batch.c ---- */

/* A data set ready for batching: usable examples sorted by (truncated) length. */
typedef struct tl_prep {
    int64_t *idx;     /* (n) usable example indexes, sorted by length (stable) */
    uint32_t *len;    /* (n) their truncated lengths */
    int64_t n;
    int64_t n_trunc, n_skip; /* truncated to max_seq_length / skipped (no supervised target) */
    size_t longest;   /* before truncation */
} tl_prep;

int tl_prep_set(const hone_train_config *cfg, const hone_train_set *s, tl_prep *p, hone_err *err);
void tl_prep_free(tl_prep *p);

typedef struct tl_batchbuf {
    int64_t bs, max_seq;
    int32_t *tokens;   /* (bs, max_seq) */
    int32_t *targets;  /* (bs, max_seq) */
    uint32_t *lengths; /* (bs) */
    int64_t *ids;      /* (bs) */
} tl_batchbuf;

int tl_batchbuf_init(tl_batchbuf *b, int64_t bs, int64_t max_seq, hone_err *err);
void tl_batchbuf_free(tl_batchbuf *b);
/* Fills batch k (members p->idx[k*bs .. k*bs+bs)) of s, right-padded, targets = next token
 * where supervised, else -1; example ids id_base + index. Returns the supervised tokens. */
int64_t tl_fill_batch(const hone_train_set *s, const tl_prep *p, int64_t k, int64_t bs, int64_t id_base,
                      tl_batchbuf *b, hone_train_batch *out);
/* v = a uniform permutation of 0..n-1 (Fisher-Yates on r, no modulo bias). */
void tl_shuffle(hone_rng *r, int64_t *v, int64_t n);
uint64_t tl_mix64(uint64_t z);
/* FNV-1a of the usable examples' lengths, ids and masks (the checkpoint's data check). */
uint64_t tl_data_hash(const hone_train_set *s, const tl_prep *p);

/* ---- checkpoint.c ---- */

typedef struct tl_hist {
    double *v; /* (n, 2): iteration, loss */
    size_t n, cap;
} tl_hist;

int tl_hist_push(tl_hist *h, double it, double loss);

typedef struct tl_state {
    int64_t step;          /* iterations done */
    int64_t nb;            /* batches per epoch */
    int64_t *perm;         /* (nb) this epoch's order */
    int64_t pos;           /* next index into perm */
    int64_t epoch;
    hone_rng rng;
    hone_optim opt;
    double acc_loss;       /* report accumulators */
    int64_t acc_tokens, acc_steps;
    int64_t trained_tokens;
    double best_val, first_val;
    int64_t bad_evals;
    tl_hist htrain, hval;
} tl_state;

/* What a checkpoint must match to be resumed: adapter shape, batching, seed, optimizer. */
void tl_config_fingerprint(const hone_train_config *c, const hone_adapter *ad, char *buf, size_t n);
int tl_ckpt_write(const char *path, const tl_state *st, const hone_adapter *ad, const char *fp, uint64_t data_hash,
                  hone_err *err);
/* Restores st (nb and the optimizer already set up) and the adapters' A/B from path. */
int tl_ckpt_read(const char *path, tl_state *st, hone_adapter *ad, const char *fp, uint64_t data_hash,
                 hone_err *err);

#endif
