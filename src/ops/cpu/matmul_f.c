/* matmul_f.c: the F32 matmul, y (T, n_out) = x (T, n_in) W^T [+ bias], for every
 * weight type: a tile of 32 rows is dequantized (hone_dequantize, bit-exact) into
 * an f32 panel (n_in, 32) and every token is swept over it with FMA, NT tokens at
 * a time (AVX-512: 2 zmm of rows x 6 tokens = 12 accumulators; AVX2: 4 ymm x 3).
 * Exact f32 arithmetic up to summation order, so its test tolerance is tight. */
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
#define F512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))
#define F256_TARGET __attribute__((target("avx2,fma,f16c")))

F512_TARGET static inline __attribute__((always_inline)) void
mk_avx512(const mmf_ctx *c, const float *panel, int64_t t0, const int NT, int64_t r0) {
    __m512 a0[6], a1[6];
    UNROLL
    for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    const float *x = c->x + t0 * c->K;
    for (int64_t k = 0; k < c->K; k++) {
        __m512 w0 = _mm512_load_ps(panel + k * 32), w1 = _mm512_load_ps(panel + k * 32 + 16);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512 xb = _mm512_set1_ps(x[t * c->K + k]);
            a0[t] = _mm512_fmadd_ps(w0, xb, a0[t]);
            a1[t] = _mm512_fmadd_ps(w1, xb, a1[t]);
        }
    }
    int64_t n_out = c->w->n_out, nr = n_out - r0 < 32 ? n_out - r0 : 32;
    __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
    if (c->bias) {
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

F512_TARGET static void tile_avx512(const mmf_ctx *c, const float *panel, int64_t r0) {
    int64_t t = 0;
    for (; t + 6 <= c->T; t += 6) mk_avx512(c, panel, t, 6, r0);
    for (; t < c->T; t++) mk_avx512(c, panel, t, 1, r0);
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
    c.bufs = aligned_alloc(64, c.buf_floats * sizeof(float) * nth);
    if (!c.bufs) abort(); /* out of memory in a kernel: nothing sensible to return */
    hone_pool_run(pool, (w->n_out + CPU_RT - 1) / CPU_RT, mmf_task, &c);
    free(c.bufs);
}
