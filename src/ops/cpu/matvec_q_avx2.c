/* matvec_q_avx2.c: the INT8 matmul for a few tokens (T < 4) on AVX2 machines
 * without VNNI. Each row is decoded (cpu_wdec_row: u in 0..255, dw, mw per
 * sub-block) into an L1 buffer; per sub-block of 16 or 32 weights, vpmaddubsw
 * multiplies u (unsigned) with the int8 activations in pairs and vpmaddwd sums
 * to 8 int32 lanes, which become float and take the sub-block's scale dw * dx;
 * sum(mw * dxs) is added per row. vpmaddubsw saturates at 32767: fine for
 * u <= 63 (|pair| <= 2 * 63 * 127), but Q8_0 stores u = q + 128, so for it the
 * signed weights go the sign trick way: |q| * (x with q's sign). */
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/kern.h"
#include "util/pool.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))
#define MV2_ROWS 16

typedef struct {
    float *y;
    const hone_weight *w;
    const float *bias;
    int64_t T, K, nsb;
    int sub, signed_w;
    const int8_t *xq;  /* (T, K) */
    const float *dxe;  /* (T, nsb): dx of each sub-block */
    const float *dxs;  /* (T, nsb) */
    uint8_t *bufs;
    size_t buf_bytes;
} mv2_ctx;

/* 8 int32 partial sums of u[0..n) * x[0..n), n = 16 or 32. */
AVX2_TARGET static inline __m256i dot_u8s8(const uint8_t *u, const int8_t *x, int n, int signed_w) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i uv, xv;
    if (n == 32) {
        uv = _mm256_loadu_si256((const __m256i *)u);
        xv = _mm256_loadu_si256((const __m256i *)x);
    } else {
        uv = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)u));
        xv = _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)x));
        uv = _mm256_inserti128_si256(uv, _mm_setzero_si128(), 1);
        xv = _mm256_inserti128_si256(xv, _mm_setzero_si128(), 1);
    }
    if (signed_w) { /* u = q + 128: q = u ^ 0x80 as int8 */
        __m256i q = _mm256_xor_si256(uv, _mm256_set1_epi8((char)0x80));
        uv = _mm256_sign_epi8(q, q); /* |q| (<= 128 as unsigned) */
        xv = _mm256_sign_epi8(xv, q);
    }
    return _mm256_madd_epi16(_mm256_maddubs_epi16(uv, xv), ones);
}

AVX2_TARGET static float row_dot2(const mv2_ctx *c, const uint8_t *u, const float *dw, const float *mw,
                                  int64_t t) {
    const int8_t *xq = c->xq + t * c->K;
    const float *dxe = c->dxe + t * c->nsb, *dxs = c->dxs + t * c->nsb;
    __m256 acc = _mm256_setzero_ps();
    float msum = 0;
    for (int64_t s = 0; s < c->nsb; s++) {
        __m256i is = dot_u8s8(u + s * c->sub, xq + s * c->sub, c->sub, c->signed_w);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(dw[s] * dxe[s]), acc);
        /* Q8_0 via the sign trick computed sum(q x) directly: no offset term */
        if (!c->signed_w) msum += mw[s] * dxs[s];
    }
    float o[8];
    _mm256_storeu_ps(o, acc);
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7] + msum;
}

static void mv2_task(void *ctx, int64_t i, int tid) {
    const mv2_ctx *c = ctx;
    uint8_t *u = c->bufs + (size_t)tid * c->buf_bytes;
    float *dw = (float *)(u + ((c->K + 63) & ~(int64_t)63)), *mw = dw + c->nsb;
    int64_t n_out = c->w->n_out;
    for (int64_t r = i * MV2_ROWS; r < (i + 1) * MV2_ROWS && r < n_out; r++) {
        cpu_wdec_row(c->w->type, (const uint8_t *)c->w->data + (size_t)r * c->w->row_bytes, c->K, u, dw,
                     mw, CPU_LVL_AVX2);
        for (int64_t t = 0; t < c->T; t++)
            c->y[t * n_out + r] = row_dot2(c, u, dw, mw, t) + (c->bias ? c->bias[r] : 0.0f);
    }
}

void cpu_matvec_int8_avx2(float *y, const hone_weight *w, const float *bias, int64_t T,
                          const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    int64_t K = w->n_in, nsb = K / sub;
    mv2_ctx c = {.y = y, .w = w, .bias = bias, .T = T, .K = K, .nsb = nsb, .sub = sub, .xq = xq, .dxs = dxs,
                 .signed_w = w->type == HONE_Q8_0};
    int nth = hone_pool_size(pool);
    c.buf_bytes = (((size_t)K + 63) & ~(size_t)63) + ((2 * (size_t)nsb * sizeof(float) + 63) & ~(size_t)63);
    c.bufs = cpu_kern_scratch(1, c.buf_bytes * nth + sizeof(float) * T * nsb);
    float *dxe = (float *)(c.bufs + c.buf_bytes * nth);
    for (int64_t t = 0; t < T; t++)
        for (int64_t s = 0; s < nsb; s++) dxe[t * nsb + s] = dx[t * (K / 32) + s * sub / 32];
    c.dxe = dxe;
    hone_pool_run(pool, (w->n_out + MV2_ROWS - 1) / MV2_ROWS, mv2_task, &c);
}
#else
void cpu_matvec_int8_avx2(float *y, const hone_weight *w, const float *bias, int64_t T,
                          const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    abort(); /* only called at CPU_LVL_AVX2 */
}
#endif
