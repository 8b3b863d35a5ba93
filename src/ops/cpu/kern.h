/* kern.h: internals of the fast CPU kernels (src/ops/cpu/).
 *
 * Dispatch: each entry of the table checks the level (scalar / AVX2 / AVX-512)
 * at call time. The level is the best this CPU supports unless a test or a
 * benchmark forces a lower one (cpu_kern_force), so every code path is tested on
 * one machine. Matmul has two variants per level:
 *  - INT8: the activations are quantized per 32 to int8 (cpu_quant_act) and the
 *    weights are decoded per tile of 32 rows into an unsigned 8-bit panel with one
 *    scale and one offset per sub-block (cpu_wdec_*), then multiplied with vpdpbusd
 *    (AVX-512 VNNI) or plain C. Quantized weight types only.
 *  - INT16: the activations are quantized per 32 to 15 bits (|q| <= 16256,
 *    error <= max|x| / 32512) and split exactly into two int8 rows, q = 128 hi
 *    + lo, that run through the INT8 kernels as a pair of tokens (the weights
 *    are decoded once for both); y = y_hi + y_lo (matmul_q16.c). Twice the
 *    INT8 MACs, same weight traffic. Quantized weight types only.
 *  - F32: the weight tile is dequantized (bit-exact, hone_dequantize) into an f32
 *    panel and multiplied with FMA (AVX-512, AVX2) or plain C. Every type.
 * A tile is decoded once and reused for every token, so prompt processing is
 * compute-bound.
 * Default (CPU_VAR_AUTO): INT16 for quantized types (it meets issue 4's >= 99 %
 * top-1 agreement with the f32 reference; INT8 does not: bench/RESULTS.md),
 * F32 otherwise. The environment variable HONE_MATMUL=int8|int16|f32 (read once)
 * overrides the default; cpu_kern_force overrides both. */
#ifndef HONE_OPS_CPU_KERN_H
#define HONE_OPS_CPU_KERN_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ops/backend.h"

/* The fast CPU backend table (kernels.c); entries it leaves NULL (the backward
 * ops) are filled from the reference by the engine. */
const hone_backend *hone_cpu_kernels(void);

enum { CPU_LVL_SCALAR = 0, CPU_LVL_AVX2 = 1, CPU_LVL_AVX512 = 2 };
enum { CPU_VAR_AUTO = 0, CPU_VAR_INT8 = 1, CPU_VAR_F32 = 2, CPU_VAR_INT16 = 3 };

/* Best level for this CPU. */
int cpu_kern_best_level(void);
/* Forces a level (-1 = back to the best) and a matmul variant (CPU_VAR_*), for
 * tests and the kernel lab. A level above cpu_kern_best_level() is clamped. */
void cpu_kern_force(int level, int variant);
int cpu_kern_level(void);
int cpu_kern_variant(void);

/* 64-byte aligned scratch (size rounded up, as aligned_alloc requires). Out of
 * memory inside a kernel has no sensible recovery: abort. */
static inline void *cpu_kern_alloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    if (!p) abort();
    return p;
}

/* Reusable scratch of the calling thread: slot s (0 .. CPU_SCRATCH_SLOTS-1)
 * grows to the largest size asked and is kept, 64-byte aligned, contents
 * undefined, valid until the next cpu_kern_scratch call with the same slot on
 * the same thread (freed at thread exit). So a token loop allocates nothing
 * once its shapes have been seen (issue 4: all buffers before the token loop).
 * Nested kernels use different slots: 0 the matmul entry (activation
 * quantization), 1 the matmul / matvec core, 2 attention, 3 rope. Sizes above
 * CPU_SCRATCH_KEEP are not kept: cpu_kern_scratch_done frees them. */
#define CPU_SCRATCH_SLOTS 4
#define CPU_SCRATCH_KEEP ((size_t)8 << 20)
void *cpu_kern_scratch(int slot, size_t n);
/* Ends the use of a slot: frees its buffer if it is larger than CPU_SCRATCH_KEEP. */
void cpu_kern_scratch_done(int slot);

/* Rows per weight tile (both variants). */
#define CPU_RT 32

/* ---- INT8 variant ---- */

/* 1 if the weight type has an int8 decoder; *sub = elements per scale (32 or 16). */
int cpu_wdec_supported(int type, int *sub);
/* Decodes one row (n_in elements at src) into u (n_in) u8 and dw, mw (n_in/sub)
 * f32 such that w(k) = dw[k/sub] * u[k] + mw[k/sub]. */
void cpu_wdec_row(int type, const uint8_t *src, int64_t n_in, uint8_t *u, float *dw, float *mw,
                  int level);
/* The AVX2 row decoders (wdec_simd.c), for levels >= AVX2; 0 if the type has none. */
int cpu_wdec_row_simd(int type, const uint8_t *src, int64_t n_in, uint8_t *u, float *dw, float *mw);
/* Decodes rows [r0, r0+32) of w (rows >= n_out become zero) into
 * panel (n_in/4, 32, 4) u8: panel[(k/4)*128 + r*4 + k%4] = u(row r, k),
 * dw, mw (n_in/sub, 32) f32 such that w(r, k) = dw[s][r] * u + mw[s][r], s = k/sub.
 * Scratch: rowbuf (n_in) bytes, sbuf (2 * n_in/sub) floats. */
void cpu_wdec_tile(const hone_weight *w, int64_t r0, uint8_t *panel, float *dw, float *mw,
                   uint8_t *rowbuf, float *sbuf, int level);

/* Below this many tokens the INT8 matmul streams rows (cpu_matvec_int8). */
#define CPU_MATVEC_MAX_T 4
/* y (T, n_out) for small T (decode): rows are decoded one at a time (no panel)
 * and dotted with each token's int8 activations. AVX-512 VNNI only. */
void cpu_matvec_int8(float *y, const hone_weight *w, const float *bias, int64_t T,
                     const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool);
/* One token as an INT16 pair (cpu_quant_act16 layout for T = 1: xq (2, n_in) hi
 * then lo, dx (2, n_in/32), dxs (2, n_in/sub)), in one pass: each weight row is
 * decoded once and both rows combine in int32 before one float epilogue.
 * ys[j] (1, ws[j]->n_out) for n weights of the same n_in and sub-block size, in
 * one pool job; bs may be NULL. AVX-512 VNNI only. */
void cpu_matvec_int16_n(float *const *ys, const hone_weight *const *ws, const float *const *bs, int n,
                        const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool);
/* The same on AVX2 (vpmaddubsw; matvec_q_avx2.c). */
void cpu_matvec_int8_avx2(float *y, const hone_weight *w, const float *bias, int64_t T,
                          const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool);

/* Activations quantized per 32: xq (T, n_in) int8, dx (T, n_in/32) scale,
 * dxs (T, n_in/sub) = dx * (sum of xq over the sub-block). */
void cpu_quant_act(const float *x, int64_t T, int64_t n_in, int sub, int8_t *xq, float *dx,
                   float *dxs, int level);

/* The INT8 matmul on activations already quantized as cpu_quant_act lays them
 * out (the streaming path for T < 4 at AVX2/AVX-512, panels otherwise). */
void cpu_matmul_int8_q(float *y, const hone_weight *w, const float *bias, int64_t T, const int8_t *xq,
                       const float *dx, const float *dxs, int sub, hone_pool *pool, int level);

void cpu_matmul_int8(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                     hone_pool *pool, int level);
/* INT16 activations: token t of x (T, n_in) becomes int8 rows 2t (hi) and 2t+1
 * (lo) of xq (2T, n_in), with dx (2T, n_in/32), dxs (2T, n_in/sub) as in
 * cpu_quant_act: x ~ dx[2t] hi + dx[2t+1] lo, dx[2t] = 128 dx[2t+1]
 * = 128 max|x| / 16256 per 32 (matmul_q16.c). Scalar and AVX-512 give identical bytes. */
void cpu_quant_act16(const float *x, int64_t T, int64_t n_in, int sub, int8_t *xq, float *dx,
                     float *dxs, int level);
void cpu_matmul_int16(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                      hone_pool *pool, int level);
/* Decode (T < CPU_MATVEC_MAX_T) at AVX-512 of n weights of one input, all with an
 * int8 decoder, the same n_in and the same sub-block size: x quantized once per
 * token, one pool job per token. */
void cpu_matmul_int16_n(float *const *ys, const float *x, const hone_weight *const *ws, const float *const *bs,
                        int n, int64_t T, hone_pool *pool, int level);
void cpu_matmul_f32(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                    hone_pool *pool, int level);


/* backend.h's attention, rmsnorm, rope, glu at a given level. */
void cpu_attention(float *out, const float *q, const int32_t *qpos, int64_t T, const float *k,
                   const float *v, const int32_t *kpos, int64_t n_keys, const hone_attn_params *p,
                   hone_pool *pool, int level);
void cpu_rmsnorm(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps, int level);
void cpu_rope(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim, int64_t rope_dim,
              const float *freqs, hone_rope_mode mode, int level);
void cpu_glu(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu, int level);

/* Training (issue 5): backend.h's matmul_bwd (matmul_bwd.c), lm_head_ce (lm_head.c),
 * attention_bwd (attention_bwd.c) and glu_bwd (glu_bwd.c); AVX-512, other levels fall
 * back to the reference. */
void cpu_glu_bwd(float *dgate, float *dup, const float *dy, const float *gate, const float *up, int64_t T, int64_t D,
                 int gelu, int level);
void cpu_matmul_bwd(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *pool, int level);
void cpu_lm_head_ce(double *loss, int64_t *n_counted, float *dh, const float *h, const hone_weight *w,
                    const int32_t *target, const uint8_t *mask, int64_t T, float softcap, float dscale,
                    hone_pool *pool, int level);
void cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const int32_t *qpos,
                       int64_t T, const float *k, const float *v, const int32_t *kpos, int64_t n_keys,
                       const hone_attn_params *p, hone_pool *pool, int level);

#endif
