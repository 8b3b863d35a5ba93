/* hone/train.h: public API of the LoRA training step (issue 5).
 * Included by hone.h; see its conventions.
 *
 * A hone_trainer runs one forward (+ backward) pass of a causal LM with a LoRA
 * adapter attached over a padded batch of token sequences and accumulates the
 * gradients of every adapter matrix. The base model stays frozen and may be in
 * any type the engine reads (f32/f16/bf16 safetensors or GGUF, quantized GGUF:
 * QLoRA, gradients flow through the quantized weights without dequantizing the
 * model). The loop around it (data, batching, optimizer, schedule, checkpoints,
 * the `hone train` command) lives in src/train/ and src/cli/cmd_train.c.
 *
 * What it guarantees (issue 5, "Math and speed"):
 *  - adapted linear: y = W x + scale * B (A dropout(x)); adapters sit on the
 *    layers the hone_adapter holds (mlx-lm: the last num_layers blocks);
 *  - no weight gradients for frozen weights, no backward below the lowest
 *    adapted block; the frozen prefix's output (the hidden state entering the
 *    lowest adapted block) is cached per example id after its first visit;
 *  - LM head + cross-entropy fused and chunked (backend lm_head_ce), only at
 *    supervised positions;
 *  - optional gradient checkpointing (keep only block inputs, recompute inside);
 *  - every buffer is allocated by hone_trainer_create for max_batch x max_seq.
 * Results do not depend on the thread count.
 */
#ifndef HONE_TRAIN_H
#define HONE_TRAIN_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_model hone_model;     /* hone/engine.h */
typedef struct hone_adapter hone_adapter; /* hone/adapter.h */
typedef struct hone_trainer hone_trainer;

typedef struct hone_trainer_opts {
    int engine;                /* HONE_ENGINE_FAST (0) or HONE_ENGINE_REFERENCE */
    uint32_t max_batch;        /* sequences per step (>= 1) */
    uint32_t max_seq;          /* tokens per sequence (>= 2) */
    int grad_checkpoint;       /* recompute block internals in backward */
    int n_threads;             /* 0 = all cores */
    size_t prefix_cache_bytes; /* frozen-prefix cache limit; 0 = default (1 GiB), SIZE_MAX = off */
} hone_trainer_opts;

/* The adapter (owned by the caller) must outlive the trainer; its A/B matrices are
 * read at every step, so an optimizer updates them in place between steps
 * (hone_adapter_get(ad, i)->a / ->b). Dropout is the adapter config's. */
int hone_trainer_create(hone_trainer **out, hone_model *m, hone_adapter *ad,
                        const hone_trainer_opts *opts, hone_err *err);
void hone_trainer_free(hone_trainer *t);

/* One padded batch. Position t of sequence s feeds tokens[s][t] and is trained to
 * predict targets[s][t] (normally tokens[s][t+1]); targets < 0 are not supervised
 * (prompt under --mask-prompt, padding, the last position). Positions >= lengths[s]
 * are padding: never attended to, never supervised. */
typedef struct hone_train_batch {
    uint32_t n_seq, seq_len;      /* n_seq <= max_batch, seq_len <= max_seq */
    const int32_t *tokens;        /* (n_seq, seq_len) */
    const int32_t *targets;       /* (n_seq, seq_len), -1 = not supervised */
    const uint32_t *lengths;      /* (n_seq) */
    const int64_t *example_ids;   /* (n_seq) stable ids for the prefix cache, or NULL */
    uint64_t dropout_seed;        /* dropout masks are a pure function of this, the
                                     sequence index, layer, projection and element */
} hone_train_batch;

/* Forward over the batch; adds to *loss_sum the summed cross-entropy over the
 * supervised positions and to *n_tokens their number. When backward != 0 also
 * accumulates (+=) into the trainer's gradient buffers grad_scale times the
 * gradient of that sum (grad_scale = 1 / supervised tokens of the step for a mean;
 * 0 means 1 / this batch's supervised tokens). A batch with no supervised token
 * adds nothing and returns HONE_OK. */
int hone_trainer_step(hone_trainer *t, const hone_train_batch *b, int backward, float grad_scale,
                      double *loss_sum, int64_t *n_tokens, hone_err *err);

/* Sets every gradient to zero. */
void hone_trainer_zero_grad(hone_trainer *t);
/* Gradients of adapter projection i (hone_adapter_get order):
 * dA (rank, n_in), dB (n_out, rank), owned by the trainer. */
void hone_trainer_grad(hone_trainer *t, int64_t i, float **dA, float **dB);
/* Forgets the cached frozen-prefix outputs (e.g. when the data change). */
void hone_trainer_clear_cache(hone_trainer *t);

#ifdef __cplusplus
}
#endif
#endif
