/* matmul_q16.c: the INT16-activation matmul, y (T, n_out) = x (T, n_in) W^T
 * [+ bias], for the quantized weight types the INT8 variant decodes (all but
 * F32/F16/BF16).
 *
 * Each token's activations are quantized per block of 32 to a 15-bit integer
 * q = round(x / d), d = max|x| / 16256 (|q| <= 16256 = 127 * 128), i.e. a
 * rounding error of at most max|x| / 32512 (~2^-15 relative, against 2^-8 for
 * INT8). q is split exactly into two signed bytes, q = 128 * hi + lo with
 * hi = floor((q + 64) / 128) in [-127, 127] and lo in [-64, 63], which become
 * two int8 "tokens" with scales 128 d and d. Both go through the INT8 kernels
 * (the weight panel or stream is decoded once for the pair: vpdpbusd, u8 weights
 * x s8 activations, 64 MACs per instruction, so a pair costs the same as one
 * vpdpwssd int16 x int16 product per 32 MACs) and y = y_hi + y_lo + bias.
 * Overflow: every int32 sum spans one sub-block (<= 32 products of u8 <= 255 and
 * |s8| <= 127): |sum| <= 32 * 255 * 127 < 2^21, far from 2^31; no saturation
 * (vpdpbusd, not vpdpbusds). The AVX2 stream (vpmaddubsw, int16 pair sums)
 * already keeps its pairs below 32767 for any s8 activations (matvec_q_avx2.c),
 * so hi and lo need nothing more there. */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "ops/cpu/kern.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* One token x (n) -> two int8 rows (hi at q, lo at q + n), their per-32 scales
 * (dx, dx + n/32) and per-sub-block dx * sum (dxs, dxs + n/sub). */
static void quant_act16_row(const float *x, int64_t n, int sub, int8_t *q, float *dx, float *dxs) {
    int8_t *qh = q, *ql = q + n;
    float *dh = dx, *dl = dx + n / 32, *sh = dxs, *sl = dxs + n / sub;
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xb[i]));
        float d = amax / 16256.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int sum_h[2] = {0, 0}, sum_l[2] = {0, 0};
        for (int i = 0; i < 32; i++) {
            int v = (int)nearbyintf(xb[i] * id);
            if (v > 16256) v = 16256; /* x * (1/d) may round up past amax / d */
            if (v < -16256) v = -16256;
            int hi = (v + 64) >> 7, lo = v - 128 * hi; /* arithmetic shift: floor */
            qh[32 * b + i] = (int8_t)hi;
            ql[32 * b + i] = (int8_t)lo;
            sum_h[i / 16] += hi;
            sum_l[i / 16] += lo;
        }
        dh[b] = 128.0f * d;
        dl[b] = d;
        if (sub == 16) {
            sh[2 * b] = dh[b] * (float)sum_h[0];
            sh[2 * b + 1] = dh[b] * (float)sum_h[1];
            sl[2 * b] = d * (float)sum_l[0];
            sl[2 * b + 1] = d * (float)sum_l[1];
        } else {
            sh[b] = dh[b] * (float)(sum_h[0] + sum_h[1]);
            sl[b] = d * (float)(sum_l[0] + sum_l[1]);
        }
    }
}

#if defined(__x86_64__)
/* The same float operations 16 lanes at a time (identical bytes). */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
quant_act16_row_avx512(const float *x, int64_t n, int sub, int8_t *q, float *dx, float *dxs) {
    int8_t *qh = q, *ql = q + n;
    float *dh = dx, *dl = dx + n / 32, *sh = dxs, *sl = dxs + n / sub;
    const __m512i lim = _mm512_set1_epi32(16256), half = _mm512_set1_epi32(64);
    for (int64_t b = 0; b < n / 32; b++) {
        __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        float d = amax / 16256.0f, id = d != 0 ? 1.0f / d : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i v[2] = {_mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)), _mm512_cvtps_epi32(_mm512_mul_ps(x1, vid))};
        int s_h[2], s_l[2];
        for (int j = 0; j < 2; j++) {
            __m512i c = _mm512_max_epi32(_mm512_min_epi32(v[j], lim), _mm512_sub_epi32(_mm512_setzero_si512(), lim));
            __m512i hi = _mm512_srai_epi32(_mm512_add_epi32(c, half), 7);
            __m512i lo = _mm512_sub_epi32(c, _mm512_slli_epi32(hi, 7));
            _mm_storeu_si128((__m128i *)(qh + 32 * b + 16 * j), _mm512_cvtepi32_epi8(hi));
            _mm_storeu_si128((__m128i *)(ql + 32 * b + 16 * j), _mm512_cvtepi32_epi8(lo));
            s_h[j] = _mm512_reduce_add_epi32(hi);
            s_l[j] = _mm512_reduce_add_epi32(lo);
        }
        dh[b] = 128.0f * d;
        dl[b] = d;
        if (sub == 16) {
            sh[2 * b] = dh[b] * (float)s_h[0];
            sh[2 * b + 1] = dh[b] * (float)s_h[1];
            sl[2 * b] = d * (float)s_l[0];
            sl[2 * b + 1] = d * (float)s_l[1];
        } else {
            sh[b] = dh[b] * (float)(s_h[0] + s_h[1]);
            sl[b] = d * (float)(s_l[0] + s_l[1]);
        }
    }
}
#endif

void cpu_quant_act16(const float *x, int64_t T, int64_t n_in, int sub, int8_t *xq, float *dx,
                     float *dxs, int level) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n_in;
        int8_t *q = xq + 2 * t * n_in;
        float *d = dx + 2 * t * (n_in / 32), *ds = dxs + 2 * t * (n_in / sub);
#if defined(__x86_64__)
        if (level >= CPU_LVL_AVX512) {
            quant_act16_row_avx512(xr, n_in, sub, q, d, ds);
            continue;
        }
#endif
        quant_act16_row(xr, n_in, sub, q, d, ds);
    }
}

/* y (2T, n_out) of hi/lo rows: at most this many floats per pass (64 MiB), so
 * an lm head (262144 outputs) runs 32 tokens at a time. */
#define Q16_MAX_Y ((int64_t)16 << 20)

void cpu_matmul_int16_n(float *const *ys, const float *x, const hone_weight *const *ws, const float *const *bs,
                        int n, int64_t T, hone_pool *pool, int level) {
    /* decode: each token's hi/lo pair in one fused pass, straight into y */
    int sub = 32;
    cpu_wdec_supported(ws[0]->type, &sub);
    int64_t K = ws[0]->n_in, nsb = K / sub;
    size_t xb = ((size_t)2 * K + 63) & ~(size_t)63;
    uint8_t *mem = cpu_kern_scratch(0, xb + (2 * (size_t)(K / 32) + 2 * (size_t)nsb) * sizeof(float));
    int8_t *xq = (int8_t *)mem;      /* (2, K): hi, lo */
    float *dx = (float *)(mem + xb); /* (2, K/32) */
    float *dxs = dx + 2 * (K / 32);  /* (2, nsb) */
    float *yt[4];
    for (int64_t t = 0; t < T; t++) {
        cpu_quant_act16(x + t * K, 1, K, sub, xq, dx, dxs, level);
        for (int j0 = 0; j0 < n; j0 += 4) {
            int nj = n - j0 < 4 ? n - j0 : 4;
            for (int j = 0; j < nj; j++) yt[j] = ys[j0 + j] + t * ws[j0 + j]->n_out;
            cpu_matvec_int16_n(yt, ws + j0, bs ? bs + j0 : NULL, nj, xq, dx, dxs, sub, pool);
        }
    }
}

void cpu_matmul_int16(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                      hone_pool *pool, int level) {
    int sub = 32;
    cpu_wdec_supported(w->type, &sub);
    int64_t K = w->n_in, nsb = K / sub, N = w->n_out;
    if (level >= CPU_LVL_AVX512 && T < CPU_MATVEC_MAX_T) {
        cpu_matmul_int16_n(&y, x, &w, &bias, 1, T, pool, level);
        return;
    }
    /* decode (T < 4) elsewhere (AVX2): one token per pass, so its 2 rows take the streaming path */
    int64_t tc = T < CPU_MATVEC_MAX_T ? 1 : Q16_MAX_Y / (2 * N);
    if (tc < 1) tc = 1;
    if (tc > T) tc = T;
    size_t xb = ((size_t)2 * tc * K + 63) & ~(size_t)63;
    size_t fl = (size_t)2 * tc * (K / 32) + (size_t)2 * tc * nsb + (size_t)2 * tc * N;
    uint8_t *mem = cpu_kern_scratch(0, xb + fl * sizeof(float));
    int8_t *xq = (int8_t *)mem;                  /* (2tc, K): hi, lo rows per token */
    float *dx = (float *)(mem + xb);             /* (2tc, K/32) */
    float *dxs = dx + 2 * tc * (K / 32);         /* (2tc, nsb) */
    float *y2 = dxs + 2 * tc * nsb;              /* (2tc, N) */
    for (int64_t t0 = 0; t0 < T; t0 += tc) {
        int64_t nt = T - t0 < tc ? T - t0 : tc;
        cpu_quant_act16(x + t0 * K, nt, K, sub, xq, dx, dxs, level);
        cpu_matmul_int8_q(y2, w, NULL, 2 * nt, xq, dx, dxs, sub, pool, level);
        for (int64_t t = 0; t < nt; t++) {
            const float *yh = y2 + 2 * t * N, *yl = yh + N;
            float *yr = y + (t0 + t) * N;
            if (bias)
                for (int64_t r = 0; r < N; r++) yr[r] = (yh[r] + yl[r]) + bias[r];
            else
                for (int64_t r = 0; r < N; r++) yr[r] = yh[r] + yl[r];
        }
    }
    cpu_kern_scratch_done(0);
}
