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
    void (*rmsnorm_bwd)(float *dx, const float *dy, const float *x, const float *w, int64_t T,
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
    /* y (T, D) = act(gate) * up, gate and up (T, D); act = silu or gelu (tanh approx) */
    void (*glu)(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu);
} hone_backend;

const hone_backend *hone_backend_ref(void);
/* The fast CPU backend for this CPU (its NULL entries already filled from ref). */
const hone_backend *hone_backend_cpu(void);
/* The raw fast-kernel table (src/ops/cpu/kernels.c, run-time dispatch); entries
 * may be NULL. Model code uses hone_backend_cpu(), which fills them from ref. */
const hone_backend *hone_cpu_kernels(void);

#endif
