/* matmul_q.c: the INT8 matmul, y (T, n_out) = x (T, n_in) W^T [+ bias], for
 * quantized weights (kern.h has the scheme).
 *
 * The activations are quantized once (cpu_quant_act). The pool hands out tiles
 * of 32 output rows; a thread decodes its tile into an 8-bit panel (32 * n_in
 * bytes plus two floats per row and sub-block, in L2) and sweeps every token
 * over it, NT tokens at a time: for each group of 4 k it loads the 32 rows x 4
 * weights (two zmm) and does one vpdpbusd per (16 rows, token) with the token's
 * 4 int8 activations broadcast. Per sub-block the int32 sums become float:
 * acc += cvt(isum) * (dw * dx) + mw * dxs. */
#include <stdlib.h>
#include <string.h>

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
    const float *bias;
    const hone_weight *w;
    int64_t T, K, sub, nsb;
    const int8_t *xq;  /* (T, K) */
    const float *dx;   /* (T, K/32) */
    const float *dxs;  /* (T, K/sub) */
    uint8_t *bufs;     /* per thread: panel (K*32) + dw, mw (nsb*32 each) */
    size_t buf_bytes;
    int level;
} mmq_ctx;

/* ---- plain C ---- */

static void mk_scalar(const mmq_ctx *c, const uint8_t *panel, const float *dw, const float *mw,
                      int64_t t0, int nt, int64_t r0) {
    int64_t K = c->K, sub = c->sub;
    float acc[CPU_RT];
    for (int t = 0; t < nt; t++) {
        const int8_t *xq = c->xq + (t0 + t) * K;
        const float *dx = c->dx + (t0 + t) * (K / 32), *dxs = c->dxs + (t0 + t) * c->nsb;
        memset(acc, 0, sizeof acc);
        for (int64_t s = 0; s < c->nsb; s++) {
            int32_t is[CPU_RT] = {0};
            for (int64_t g = s * sub / 4; g < (s + 1) * sub / 4; g++) {
                const uint8_t *p = panel + g * 128;
                const int8_t *xg = xq + 4 * g;
                for (int r = 0; r < CPU_RT; r++)
                    is[r] += p[4 * r] * xg[0] + p[4 * r + 1] * xg[1] + p[4 * r + 2] * xg[2] +
                             p[4 * r + 3] * xg[3];
            }
            float d = dx[s * sub / 32], ds = dxs[s];
            for (int r = 0; r < CPU_RT; r++)
                acc[r] += (float)is[r] * (dw[s * CPU_RT + r] * d) + mw[s * CPU_RT + r] * ds;
        }
        float *yr = c->y + (t0 + t) * c->w->n_out;
        for (int r = 0; r < CPU_RT && r0 + r < c->w->n_out; r++)
            yr[r0 + r] = acc[r] + (c->bias ? c->bias[r0 + r] : 0.0f);
    }
}

/* ---- AVX-512 VNNI ---- */

#if defined(__x86_64__)
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
/* Tokens per microkernel call: 2 x NT int32 chains must cover vpdpbusd's
 * latency (5 cycles at up to 2 per cycle). */
#ifndef MMQ_NT
#define MMQ_NT 6
#endif

VNNI_TARGET static inline __attribute__((always_inline)) void
mk_vnni(const mmq_ctx *c, const uint8_t *panel, const float *dw, const float *mw, int64_t t0,
        const int NT, const int SUB, int64_t r0, int64_t s_lo, int64_t s_hi) {
    const int64_t K = c->K, nsb = c->nsb;
    int64_t n_out = c->w->n_out, nr = n_out - r0 < 32 ? n_out - r0 : 32;
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 acc[2][MMQ_NT];
    UNROLL
    for (int t = 0; t < NT; t++) {
        if (s_lo == 0) {
            acc[0][t] = acc[1][t] = _mm512_setzero_ps();
        } else { /* y holds the sums of the earlier k-blocks */
            acc[0][t] = _mm512_maskz_loadu_ps(m0, c->y + (t0 + t) * n_out + r0);
            acc[1][t] = _mm512_maskz_loadu_ps(m1, c->y + (t0 + t) * n_out + r0 + 16);
        }
    }
    const int8_t *xq = c->xq + t0 * K;
    for (int64_t s = s_lo; s < s_hi; s++) {
        __m512i is[2][MMQ_NT];
        UNROLL
        for (int t = 0; t < NT; t++) is[0][t] = is[1][t] = _mm512_setzero_si512();
        const uint8_t *p = panel + s * SUB * 32;
        const int8_t *xs = xq + s * SUB;
        UNROLL
        for (int g = 0; g < SUB / 4; g++) {
            __m512i w0 = _mm512_loadu_si512(p + g * 128), w1 = _mm512_loadu_si512(p + g * 128 + 64);
            UNROLL
            for (int t = 0; t < NT; t++) {
                int32_t xv;
                memcpy(&xv, xs + t * K + 4 * g, 4);
                __m512i xb = _mm512_set1_epi32(xv);
                is[0][t] = _mm512_dpbusd_epi32(is[0][t], w0, xb);
                is[1][t] = _mm512_dpbusd_epi32(is[1][t], w1, xb);
            }
        }
        __m512 dw0 = _mm512_loadu_ps(dw + s * 32), dw1 = _mm512_loadu_ps(dw + s * 32 + 16);
        __m512 mw0 = _mm512_loadu_ps(mw + s * 32), mw1 = _mm512_loadu_ps(mw + s * 32 + 16);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512 d = _mm512_set1_ps(c->dx[(t0 + t) * (K / 32) + s * SUB / 32]);
            __m512 ds = _mm512_set1_ps(c->dxs[(t0 + t) * nsb + s]);
            acc[0][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[0][t]), _mm512_mul_ps(dw0, d), acc[0][t]);
            acc[1][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is[1][t]), _mm512_mul_ps(dw1, d), acc[1][t]);
            acc[0][t] = _mm512_fmadd_ps(mw0, ds, acc[0][t]);
            acc[1][t] = _mm512_fmadd_ps(mw1, ds, acc[1][t]);
        }
    }
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (c->bias && s_hi == nsb) {
        b0 = _mm512_maskz_loadu_ps(m0, c->bias + r0);
        b1 = _mm512_maskz_loadu_ps(m1, c->bias + r0 + 16);
    }
    UNROLL
    for (int t = 0; t < NT; t++) {
        float *yr = c->y + (t0 + t) * n_out + r0;
        _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(acc[0][t], b0));
        _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(acc[1][t], b1));
    }
}

/* k-blocks of MMQ_KB weights (16 KB of panel) stay in L1 while every token
 * passes; y carries the partial sums between k-blocks. */
/* Off by default: 512 and 1024 measured no faster than none (bench/RESULTS.md). */
#ifndef MMQ_KB
#define MMQ_KB ((int64_t)1 << 40)
#endif

VNNI_TARGET static void tile_vnni(const mmq_ctx *c, const uint8_t *panel, const float *dw,
                                  const float *mw, int64_t r0) {
    int64_t sb = MMQ_KB / c->sub;
    for (int64_t s_lo = 0; s_lo < c->nsb; s_lo += sb) {
        int64_t s_hi = s_lo + sb < c->nsb ? s_lo + sb : c->nsb, t = 0;
        if (c->sub == 32) {
            for (; t + MMQ_NT <= c->T; t += MMQ_NT) mk_vnni(c, panel, dw, mw, t, MMQ_NT, 32, r0, s_lo, s_hi);
            for (; t < c->T; t++) mk_vnni(c, panel, dw, mw, t, 1, 32, r0, s_lo, s_hi);
        } else {
            for (; t + MMQ_NT <= c->T; t += MMQ_NT) mk_vnni(c, panel, dw, mw, t, MMQ_NT, 16, r0, s_lo, s_hi);
            for (; t < c->T; t++) mk_vnni(c, panel, dw, mw, t, 1, 16, r0, s_lo, s_hi);
        }
    }
}
#endif

static void mmq_task(void *ctx, int64_t i, int tid) {
    const mmq_ctx *c = ctx;
    uint8_t *panel = c->bufs + (size_t)tid * c->buf_bytes;
    float *dw = (float *)(panel + c->K * CPU_RT), *mw = dw + c->nsb * CPU_RT;
    uint8_t *rowbuf = (uint8_t *)(mw + c->nsb * CPU_RT);
    float *sbuf = (float *)(rowbuf + ((c->K + 63) & ~(int64_t)63));
    int64_t r0 = i * CPU_RT;
    cpu_wdec_tile(c->w, r0, panel, dw, mw, rowbuf, sbuf, c->level);
#if defined(__x86_64__)
    if (c->level >= CPU_LVL_AVX512) {
        tile_vnni(c, panel, dw, mw, r0);
        return;
    }
#endif
    for (int64_t t = 0; t < c->T; t += 4) mk_scalar(c, panel, dw, mw, t, c->T - t < 4 ? (int)(c->T - t) : 4, r0);
}

void cpu_matmul_int8_q(float *y, const hone_weight *w, const float *bias, int64_t T, const int8_t *xq,
                       const float *dx, const float *dxs, int sub, hone_pool *pool, int level) {
    int64_t K = w->n_in, nsb = K / sub;
    if (level >= CPU_LVL_AVX512 && T < CPU_MATVEC_MAX_T) {
        cpu_matvec_int8(y, w, bias, T, xq, dx, dxs, sub, pool);
        return;
    }
    if (level == CPU_LVL_AVX2 && T < CPU_MATVEC_MAX_T) {
        cpu_matvec_int8_avx2(y, w, bias, T, xq, dx, dxs, sub, pool);
        return;
    }
    mmq_ctx c = {.y = y, .bias = bias, .w = w, .T = T, .K = K, .sub = sub, .nsb = nsb, .level = level,
                 .xq = xq, .dx = dx, .dxs = dxs};
    int nth = hone_pool_size(pool);
    /* panel (K*32) + dw, mw (nsb*32 floats each) + rowbuf (K, 64-aligned) + sbuf (2*nsb floats) */
    c.buf_bytes = ((size_t)K * CPU_RT + 2 * (size_t)nsb * CPU_RT * sizeof(float) + (((size_t)K + 63) & ~(size_t)63) +
                   2 * (size_t)nsb * sizeof(float) + 63) & ~(size_t)63;
    c.bufs = cpu_kern_scratch(1, c.buf_bytes * nth);
    hone_pool_run(pool, (w->n_out + CPU_RT - 1) / CPU_RT, mmq_task, &c);
    cpu_kern_scratch_done(1);
}

void cpu_matmul_int8(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                     hone_pool *pool, int level) {
    int sub = 32;
    cpu_wdec_supported(w->type, &sub);
    int64_t K = w->n_in, nsb = K / sub;
    size_t xb = ((size_t)T * K + 63) & ~(size_t)63;
    uint8_t *mem = cpu_kern_scratch(0, xb + ((size_t)T * (K / 32) + (size_t)T * nsb) * sizeof(float));
    int8_t *xq = (int8_t *)mem;
    float *dx = (float *)(mem + xb), *dxs = dx + T * (K / 32);
    cpu_quant_act(x, T, K, sub, xq, dx, dxs, level);
    cpu_matmul_int8_q(y, w, bias, T, xq, dx, dxs, sub, pool, level);
    cpu_kern_scratch_done(0);
}
