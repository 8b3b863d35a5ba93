/* backend.h: the boundary between model code and compute.
 *
 * Model code (src/infer/forward.c) never calls a kernel directly: it calls the
 * functions of a hone_backend. Three fill this table: the plain f32 reference
 * (src/ops/ref.c, always built, the oracle every fast kernel is checked
 * against), the fast CPU backend (src/ops/cpu/, run-time dispatch on AVX-512
 * VNNI / AVX2 / scalar; any entry it leaves NULL falls back to the reference),
 * and later CUDA. Every pointer is to host memory for the CPU backends.
 *
 * Conventions: activations are row-major f32, one row per token: x (T, D).
 * Weights are hone_weight views of mapped file data in any supported type,
 * rows of n_in elements: W (n_out, n_in), ggml's ne = {n_in, n_out}.
 * y = x W^T. Forward and backward of each op sit next to each other in the
 * implementation, with the same argument order; backward ops ACCUMULATE (+=)
 * into gradient buffers. Training (issue 5) needs no weight gradients for
 * frozen weights, so matmul_bwd computes dx only.
 *
 * Gradient conventions (all *_bwd entries and lm_head_ce):
 *  - a gradient buffer dX has the shape and layout of X and receives
 *    dX += dL/dX for a scalar loss L whose gradient w.r.t. the op's output is
 *    the given dy / dout; callers zero gradient buffers once per step.
 *  - an optional gradient pointer may be NULL: that gradient is not computed
 *    (rmsnorm's dw, lora_linear_bwd's dx for the lowest adapted input).
 *  - backward ops recompute what they need from the forward inputs (the
 *    softmax in attention_bwd, x A^T in lora_linear_bwd) instead of taking
 *    saved intermediates, so the caller keeps only op inputs alive.
 *  - results do not depend on the thread count: every sum has a fixed order.
 *  - LoRA matrices are f32, PEFT's layout: A (r, n_in), B (n_out, r), so
 *    y += scale * (x A^T) B^T. mlx-lm stores lora_a (n_in, r) = A^T and
 *    lora_b (r, n_out) = B^T: transpose when reading or writing its files.
 */
#ifndef HONE_OPS_BACKEND_H
#define HONE_OPS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "hone.h"

typedef struct hone_pool hone_pool; /* src/util/pool.h: thread pool, may be NULL = 1 thread */

typedef struct hone_weight {
    int type;           /* hone_dtype */
    const void *data;   /* n_out rows of row_bytes each */
    int64_t n_in;       /* elements per row (ggml ne[0]) */
    int64_t n_out;      /* rows (ggml ne[1]) */
    size_t row_bytes;
} hone_weight;

typedef enum hone_rope_mode {
    HONE_ROPE_NORM = 0, /* rotate pairs (2i, 2i+1): llama GGUF (q/k rows permuted by the converter) */
    HONE_ROPE_NEOX = 1, /* rotate pairs (i, i+d/2): HF llama, gemma3, qwen2 */
} hone_rope_mode;

typedef struct hone_attn_params {
    uint32_t n_heads, n_kv_heads, head_dim;
    float scale;        /* scores multiplier (1/sqrt(query_pre_attn_scalar)) */
    uint32_t window;    /* 0 = full causal; else key j visible to query i iff i-window < j <= i */
    float softcap;      /* 0 = none; else scores = softcap * tanh(scores / softcap) */
} hone_attn_params;

typedef struct hone_backend {
    const char *name;
    /* y (T, n_out) = x (T, n_in) W^T [+ bias (n_out)]; bias may be NULL */
    void (*matmul)(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                   hone_pool *pool);
    /* dx (T, n_in) += dy (T, n_out) W */
    void (*matmul_bwd)(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *pool);
    /* y (T, D) = x / rms(x) * w ; w (D) f32, already including gemma's +1 */
    void (*rmsnorm)(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps);
    /* dx (T, D) += d/dx, dw (D) += d/dw (dw may be NULL: norms are frozen in LoRA training) */
    void (*rmsnorm_bwd)(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t T,
                        int64_t D, float eps);
    /* in place on x (T, H, head_dim): rotates the first rope_dim dims of each head;
     * freqs (rope_dim/2) are the per-pair inverse frequencies (scaling applied), pos (T) */
    void (*rope)(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim,
                 int64_t rope_dim, const float *freqs, hone_rope_mode mode);
    void (*rope_bwd)(float *dx, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim,
                     int64_t rope_dim, const float *freqs, hone_rope_mode mode);
    /* out (T, n_heads*head_dim) = softmax(q k^T * scale + mask) v, causal, GQA.
     * q (T, n_heads, head_dim) at positions qpos (T); keys/values k, v
     * (n_keys, n_kv_heads, head_dim) at positions kpos (n_keys): key j is visible to
     * query i iff kpos[j] <= qpos[i] and (window == 0 or kpos[j] > qpos[i] - window).
     * The KV cache may be a ring, so kpos need not be sorted. */
    void (*attention)(float *out, const float *q, const int32_t *qpos, int64_t T, const float *k,
                      const float *v, const int32_t *kpos, int64_t n_keys,
                      const hone_attn_params *p, hone_pool *pool);
    /* dq (T, n_heads, head_dim), dk, dv (n_keys, n_kv_heads, head_dim) += gradients given
     * dout (T, n_heads*head_dim); same mask rule as attention. The softmax is recomputed
     * from q and k (no saved probabilities). With GQA, dk/dv of a kv head sum over the
     * query heads sharing it. Any of dq, dk, dv may be NULL. */
    void (*attention_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *q,
                          const int32_t *qpos, int64_t T, const float *k, const float *v,
                          const int32_t *kpos, int64_t n_keys, const hone_attn_params *p,
                          hone_pool *pool);
    /* y (T, D) = act(gate) * up, gate and up (T, D); act = silu or gelu (tanh approx) */
    void (*glu)(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu);
    /* dgate, dup (T, D) += gradients given dy (T, D); exact derivative of the same
     * activation (for gelu: of the tanh approximation itself) */
    void (*glu_bwd)(float *dgate, float *dup, const float *dy, const float *gate, const float *up,
                    int64_t T, int64_t D, int gelu);
    /* LoRA linear, the training chokepoint:
     * y (T, n_out) = x (T, n_in) W^T [+ bias] + scale * (x A^T) B^T,
     * A (rank, n_in), B (n_out, rank) f32. */
    void (*lora_linear)(float *y, const float *x, const hone_weight *w, const float *bias,
                        const float *A, const float *B, float scale, int64_t rank, int64_t T,
                        hone_pool *pool);
    /* dx (T, n_in) += dy W + scale * (dy B) A   (dx may be NULL)
     * dA (rank, n_in) += scale * (dy B)^T x,  dB (n_out, rank) += scale * dy^T (x A^T) */
    void (*lora_linear_bwd)(float *dx, float *dA, float *dB, const float *dy, const float *x,
                            const hone_weight *w, const float *A, const float *B, float scale,
                            int64_t rank, int64_t T, hone_pool *pool);
    /* Fused LM head + cross-entropy at supervised positions. h (T, D) final hidden states
     * (after the final norm), w (vocab, D) the output weight in any supported type.
     * Position t counts iff (mask == NULL or mask[t] != 0) and 0 <= target[t] < vocab;
     * others contribute nothing (target -1 / -100 = ignore). logits z = h w^T, then
     * z = softcap * tanh(z / softcap) when softcap > 0. Adds to *loss the summed
     * -log softmax(z)[target] over counted positions and to *n_counted their number;
     * if dh != NULL, dh (T, D) += dscale * d(summed loss)/dh (dscale = 1/n for a mean).
     * Never materializes (T, vocab): the vocab is walked in chunks with an online
     * logsumexp, one pass (see ref.c). */
    void (*lm_head_ce)(double *loss, int64_t *n_counted, float *dh, const float *h,
                       const hone_weight *w, const int32_t *target, const uint8_t *mask, int64_t T,
                       float softcap, float dscale, hone_pool *pool);
    /* Several projections of one input: for j < n, ys[j] (T, ws[j]->n_out) =
     * x (T, n_in) ws[j]^T [+ bs[j]] (bs may be NULL, or any bs[j]); every ws[j] has
     * the same n_in. The same as n matmul calls, but a backend may quantize x once
     * and run all rows of all weights as one thread-pool job (decode: q/k/v,
     * gate/up). */
    void (*matmul_n)(float *const *ys, const float *x, const hone_weight *const *ws,
                     const float *const *bs, int n, int64_t T, hone_pool *pool);
} hone_backend;

const hone_backend *hone_backend_ref(void);
/* The fast CPU backend for this CPU (its NULL entries already filled from ref). */
const hone_backend *hone_backend_cpu(void);
/* The raw fast-kernel table (src/ops/cpu/kernels.c, run-time dispatch); entries
 * may be NULL. Model code uses hone_backend_cpu(), which fills them from ref. */
const hone_backend *hone_cpu_kernels(void);

#endif
