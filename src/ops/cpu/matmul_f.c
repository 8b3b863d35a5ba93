/* matmul_f.c: the F32 matmul, y (T, n_out) = x (T, n_in) W^T [+ bias], for every
 * weight type: a tile of 32 rows is dequantized (hone_dequantize, bit-exact) into
 * an f32 panel (n_in, 32) and every token is swept over it with FMA, NT tokens at
 * a time (AVX-512: 2 zmm of rows x 6 tokens = 12 accumulators; AVX2: 4 ymm x 3).
 * Exact f32 arithmetic up to summation order, so its test tolerance is tight.
 * For T < 4 (decode) there is no panel: each row is converted to f32 (F16 with
 * F16C, BF16 with a shift, F32 read in place, others hone_dequantize) and dotted
 * with every token. */
#include <stdlib.h>
#include <string.h>

#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "util/pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Small fixed loops over tokens / row groups must be unrolled so that the
 * accumulator arrays live in registers. */
#define UNROLL _Pragma("GCC unroll 16")

typedef struct {
    float *y;
    const float *x; /* (T, K) */
    const float *bias;
    const hone_weight *w;
    int64_t T, K;
    float *bufs; /* per thread: panel (K, 32) + row (K) */
    size_t buf_floats;
    int level;
} mmf_ctx;

static void decode_tile(const mmf_ctx *c, int64_t r0, float *panel, float *row) {
    const hone_weight *w = c->w;
    int64_t K = c->K;
    for (int r = 0; r < CPU_RT; r++) {
        int64_t ri = r0 + r;
        if (ri >= w->n_out) {
            for (int64_t k = 0; k < K; k++) panel[k * CPU_RT + r] = 0;
            continue;
        }
        const uint8_t *src = (const uint8_t *)w->data + (size_t)ri * w->row_bytes;
        if (w->type == HONE_F32) memcpy(row, src, (size_t)K * sizeof(float));
        else hone_dequantize(w->type, src, row, (uint64_t)K, NULL);
        for (int64_t k = 0; k < K; k++) panel[k * CPU_RT + r] = row[k];
    }
}

static void store_rows(const mmf_ctx *c, const float *acc /* (32) */, int64_t t, int64_t r0) {
    int64_t n_out = c->w->n_out;
    float *yr = c->y + t * n_out;
    for (int r = 0; r < CPU_RT && r0 + r < n_out; r++)
        yr[r0 + r] = acc[r] + (c->bias ? c->bias[r0 + r] : 0.0f);
}

static void mk_scalar(const mmf_ctx *c, const float *panel, int64_t t, int64_t r0) {
    float acc[CPU_RT] = {0};
    const float *x = c->x + t * c->K;
    for (int64_t k = 0; k < c->K; k++)
        for (int r = 0; r < CPU_RT; r++) acc[r] += panel[k * CPU_RT + r] * x[k];
    store_rows(c, acc, t, r0);
}

#if defined(__x86_64__)
#define F512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define F256_TARGET __attribute__((target("avx2,fma,f16c")))

F512_TARGET static inline __attribute__((always_inline)) void
mk_avx512(const mmf_ctx *c, const float *panel, int64_t t0, const int NT, int64_t r0, int64_t k_lo,
          int64_t k_hi) {
    int64_t n_out = c->w->n_out, nr = n_out - r0 < 32 ? n_out - r0 : 32;
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 a0[6], a1[6];
    UNROLL
    for (int t = 0; t < NT; t++) {
        if (k_lo == 0) {
            a0[t] = a1[t] = _mm512_setzero_ps();
        } else { /* y holds the sums of the earlier k-blocks */
            a0[t] = _mm512_maskz_loadu_ps(m0, c->y + (t0 + t) * n_out + r0);
            a1[t] = _mm512_maskz_loadu_ps(m1, c->y + (t0 + t) * n_out + r0 + 16);
        }
    }
    const float *x = c->x + t0 * c->K;
    for (int64_t k = k_lo; k < k_hi; k++) {
        __m512 w0 = _mm512_load_ps(panel + k * 32), w1 = _mm512_load_ps(panel + k * 32 + 16);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512 xb = _mm512_set1_ps(x[t * c->K + k]);
            a0[t] = _mm512_fmadd_ps(w0, xb, a0[t]);
            a1[t] = _mm512_fmadd_ps(w1, xb, a1[t]);
        }
    }
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (c->bias && k_hi == c->K) {
        b0 = _mm512_maskz_loadu_ps(m0, c->bias + r0);
        b1 = _mm512_maskz_loadu_ps(m1, c->bias + r0 + 16);
    }
    UNROLL
    for (int t = 0; t < NT; t++) {
        float *yr = c->y + (t0 + t) * n_out + r0;
        _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(a0[t], b0));
        _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(a1[t], b1));
    }
}

/* k-blocks of MMF_KB (16 KB of panel) stay in L1 while every token passes. */
/* Off by default: 128 measured 10-25 % slower than none (bench/RESULTS.md). */
#ifndef MMF_KB
#define MMF_KB ((int64_t)1 << 40)
#endif

F512_TARGET static void tile_avx512(const mmf_ctx *c, const float *panel, int64_t r0) {
    for (int64_t k_lo = 0; k_lo < c->K; k_lo += MMF_KB) {
        int64_t k_hi = k_lo + MMF_KB < c->K ? k_lo + MMF_KB : c->K, t = 0;
        for (; t + 6 <= c->T; t += 6) mk_avx512(c, panel, t, 6, r0, k_lo, k_hi);
        for (; t < c->T; t++) mk_avx512(c, panel, t, 1, r0, k_lo, k_hi);
    }
}

F256_TARGET static inline __attribute__((always_inline)) void
mk_avx2(const mmf_ctx *c, const float *panel, int64_t t0, const int NT, int64_t r0) {
    __m256 a[4][3];
    UNROLL
    for (int t = 0; t < NT; t++)
        UNROLL
        for (int g = 0; g < 4; g++) a[g][t] = _mm256_setzero_ps();
    const float *x = c->x + t0 * c->K;
    for (int64_t k = 0; k < c->K; k++) {
        __m256 w[4];
        UNROLL
        for (int g = 0; g < 4; g++) w[g] = _mm256_load_ps(panel + k * 32 + 8 * g);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m256 xb = _mm256_broadcast_ss(x + t * c->K + k);
            UNROLL
            for (int g = 0; g < 4; g++) a[g][t] = _mm256_fmadd_ps(w[g], xb, a[g][t]);
        }
    }
    UNROLL
    for (int t = 0; t < NT; t++) {
        float acc[32];
        UNROLL
        for (int g = 0; g < 4; g++) _mm256_storeu_ps(acc + 8 * g, a[g][t]);
        store_rows(c, acc, t0 + t, r0);
    }
}

F256_TARGET static void tile_avx2(const mmf_ctx *c, const float *panel, int64_t r0) {
    int64_t t = 0;
    for (; t + 3 <= c->T; t += 3) mk_avx2(c, panel, t, 3, r0);
    for (; t < c->T; t++) mk_avx2(c, panel, t, 1, r0);
}
#endif

/* ---- few tokens: rows streamed, no panel ---- */

#if defined(__x86_64__)
F256_TARGET static void row_f32_avx2(int type, const uint8_t *src, int64_t K, float *row) {
    if (type == HONE_F16) {
        int64_t k = 0;
        for (; k + 8 <= K; k += 8)
            _mm256_storeu_ps(row + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * k))));
        for (; k < K; k++) row[k] = _cvtsh_ss((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
    } else { /* BF16 */
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + 2 * k)));
            _mm256_storeu_ps(row + k, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
        }
        for (; k < K; k++) row[k] = hone_bf16_to_f32((uint16_t)(src[2 * k] | src[2 * k + 1] << 8));
    }
}

F512_TARGET static float dot_avx512(const float *a, const float *b, int64_t K) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 32 <= K; k += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k + 16), _mm512_loadu_ps(b + k + 16), s1);
    }
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), s0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Dot of an F16 (HALF=1) or BF16 (HALF=0) row with f32 x, converted in registers. */
F512_TARGET static inline __attribute__((always_inline)) float
dot16_avx512(const uint8_t *w, const float *x, int64_t K, const int HALF) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k < K; k += 32) {
        __mmask16 m0 = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        __mmask16 m1 = K - k >= 32 ? 0xffff : K - k <= 16 ? 0 : (__mmask16)((1u << (K - k - 16)) - 1);
        __m256i h0 = _mm256_maskz_loadu_epi16(m0, w + 2 * k), h1 = _mm256_maskz_loadu_epi16(m1, w + 2 * k + 32);
        __m512 w0, w1;
        if (HALF) {
            w0 = _mm512_cvtph_ps(h0);
            w1 = _mm512_cvtph_ps(h1);
        } else {
            w0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h0), 16));
            w1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h1), 16));
        }
        s0 = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m0, x + k), s0);
        s1 = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(m1, x + k + 16), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

F512_TARGET static float dot_f16_avx512(const uint8_t *w, const float *x, int64_t K) { return dot16_avx512(w, x, K, 1); }
F512_TARGET static float dot_bf16_avx512(const uint8_t *w, const float *x, int64_t K) { return dot16_avx512(w, x, K, 0); }

F256_TARGET static float dot_avx2(const float *a, const float *b, int64_t K) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), s1);
    }
    float o[8], r = 0;
    _mm256_storeu_ps(o, _mm256_add_ps(s0, s1));
    for (int i = 0; i < 8; i++) r += o[i];
    for (; k < K; k++) r += a[k] * b[k];
    return r;
}
#endif

#define MVF_ROWS 16

static void mvf_task(void *ctx, int64_t i, int tid) {
    const mmf_ctx *c = ctx;
    const hone_weight *w = c->w;
    float *row = c->bufs + (size_t)tid * c->buf_floats;
    for (int64_t r = i * MVF_ROWS; r < (i + 1) * MVF_ROWS && r < w->n_out; r++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        const float *wr = row;
#if defined(__x86_64__)
        if (c->level >= CPU_LVL_AVX512 && (w->type == HONE_F16 || w->type == HONE_BF16)) {
            for (int64_t t = 0; t < c->T; t++) {
                const float *x = c->x + t * c->K;
                float v = w->type == HONE_F16 ? dot_f16_avx512(src, x, c->K) : dot_bf16_avx512(src, x, c->K);
                c->y[t * w->n_out + r] = v + (c->bias ? c->bias[r] : 0.0f);
            }
            continue;
        }
#endif
        if (w->type == HONE_F32 && ((uintptr_t)src & 3) == 0) wr = (const float *)src;
#if defined(__x86_64__)
        else if (c->level >= CPU_LVL_AVX2 && (w->type == HONE_F16 || w->type == HONE_BF16))
            row_f32_avx2(w->type, src, c->K, row);
#endif
        else if (w->type == HONE_F32) memcpy(row, src, (size_t)c->K * sizeof(float));
        else hone_dequantize(w->type, src, row, (uint64_t)c->K, NULL);
        for (int64_t t = 0; t < c->T; t++) {
            const float *x = c->x + t * c->K;
            float v;
#if defined(__x86_64__)
            if (c->level >= CPU_LVL_AVX512) v = dot_avx512(wr, x, c->K);
            else if (c->level >= CPU_LVL_AVX2) v = dot_avx2(wr, x, c->K);
            else
#endif
            {
                v = 0;
                for (int64_t k = 0; k < c->K; k++) v += wr[k] * x[k];
            }
            c->y[t * w->n_out + r] = v + (c->bias ? c->bias[r] : 0.0f);
        }
    }
}

static void mmf_task(void *ctx, int64_t i, int tid) {
    const mmf_ctx *c = ctx;
    float *panel = c->bufs + (size_t)tid * c->buf_floats, *row = panel + c->K * CPU_RT;
    int64_t r0 = i * CPU_RT;
    decode_tile(c, r0, panel, row);
#if defined(__x86_64__)
    if (c->level >= CPU_LVL_AVX512) {
        tile_avx512(c, panel, r0);
        return;
    }
    if (c->level >= CPU_LVL_AVX2) {
        tile_avx2(c, panel, r0);
        return;
    }
#endif
    for (int64_t t = 0; t < c->T; t++) mk_scalar(c, panel, t, r0);
}

void cpu_matmul_f32(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                    hone_pool *pool, int level) {
    mmf_ctx c = {.y = y, .x = x, .bias = bias, .w = w, .T = T, .K = w->n_in, .level = level};
    int nth = hone_pool_size(pool);
    c.buf_floats = ((size_t)w->n_in * (CPU_RT + 1) + 15) & ~(size_t)15;
    c.bufs = cpu_kern_scratch(1, c.buf_floats * sizeof(float) * nth);
    if (T < CPU_MATVEC_MAX_T)
        hone_pool_run(pool, (w->n_out + MVF_ROWS - 1) / MVF_ROWS, mvf_task, &c);
    else
        hone_pool_run(pool, (w->n_out + CPU_RT - 1) / CPU_RT, mmf_task, &c);
    cpu_kern_scratch_done(1);
}
