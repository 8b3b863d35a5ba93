/* matvec_q.c: the INT8 matmul for a few tokens (decode, T < 4), AVX-512 VNNI.
 * Memory-bound: each weight row is streamed once, decoded into an L1 buffer in
 * natural k order (cpu_wdec_row), then for each token one vpdpbusd per 64
 * weights against the token's int8 activations. The 16 int32 lanes of a chunk
 * span 2 (sub=32) or 4 (sub=16) sub-blocks; their float scales dw * dx are
 * spread to the lanes with one permute, and sum(mw * dxs) rides along per 16
 * sub-blocks. One horizontal sum per row and token. */
#include <stdlib.h>

#include "ops/cpu/kern.h"
#include "util/pool.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define MV_ROWS 16

typedef struct {
    float *y;
    const hone_weight *w;
    const float *bias;
    int64_t T, K, nsb;
    int sub;
    const int8_t *xq;  /* (T, K) */
    const float *dxe;  /* (T, nsb): dx of each sub-block */
    const float *dxs;  /* (T, nsb) */
    uint8_t *bufs;
    size_t buf_bytes;
} mv_ctx;

/* Lane l of chunk j (64 k) belongs to sub-block idx[j][l] of its 16-sub-block group. */
static const int32_t idx32[8][16] = {
#define R8(j) {2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1}
    R8(0), R8(1), R8(2), R8(3), R8(4), R8(5), R8(6), R8(7)};
static const int32_t idx16[4][16] = {
#define R4(j) {4 * j, 4 * j, 4 * j, 4 * j, 4 * j + 1, 4 * j + 1, 4 * j + 1, 4 * j + 1, 4 * j + 2, 4 * j + 2, 4 * j + 2, 4 * j + 2, 4 * j + 3, 4 * j + 3, 4 * j + 3, 4 * j + 3}
    R4(0), R4(1), R4(2), R4(3)};

VNNI_TARGET static float row_dot(const mv_ctx *c, const uint8_t *u, const float *dw, const float *mw,
                                 int64_t t) {
    const int8_t *xq = c->xq + t * c->K;
    const float *dxe = c->dxe + t * c->nsb, *dxs = c->dxs + t * c->nsb;
    const int per = c->sub / 4; /* chunks of 64 per 16 sub-blocks: 8 or 4 */
    const int32_t(*idx)[16] = c->sub == 32 ? idx32 : idx16;
    int64_t nch = (c->K + 63) / 64; /* the last chunk may hold 32 (K = 64n + 32) */
    __m512 acc = _mm512_setzero_ps(), macc = _mm512_setzero_ps(), v = _mm512_setzero_ps();
    for (int64_t ch = 0; ch < nch; ch++) {
        int j = (int)(ch % per);
        if (j == 0) {
            int64_t s0 = ch / per * 16, ns = c->nsb - s0;
            __mmask16 m = ns >= 16 ? 0xffff : (__mmask16)((1u << ns) - 1);
            v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dw + s0), _mm512_maskz_loadu_ps(m, dxe + s0));
            macc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, mw + s0), _mm512_maskz_loadu_ps(m, dxs + s0), macc);
        }
        __mmask64 km = c->K - 64 * ch >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (c->K - 64 * ch)) - 1;
        __m512i is = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_maskz_loadu_epi8(km, u + 64 * ch),
                                         _mm512_maskz_loadu_epi8(km, xq + 64 * ch));
        __m512 sc = _mm512_permutexvar_ps(_mm512_loadu_si512(idx[j]), v);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), sc, acc);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc, macc));
}

static void mv_task(void *ctx, int64_t i, int tid) {
    const mv_ctx *c = ctx;
    uint8_t *u = c->bufs + (size_t)tid * c->buf_bytes;
    float *dw = (float *)(u + ((c->K + 63) & ~(int64_t)63)), *mw = dw + c->nsb;
    int64_t n_out = c->w->n_out;
    for (int64_t r = i * MV_ROWS; r < (i + 1) * MV_ROWS && r < n_out; r++) {
        cpu_wdec_row(c->w->type, (const uint8_t *)c->w->data + (size_t)r * c->w->row_bytes, c->K, u, dw,
                     mw, CPU_LVL_AVX512);
        for (int64_t t = 0; t < c->T; t++)
            c->y[t * n_out + r] = row_dot(c, u, dw, mw, t) + (c->bias ? c->bias[r] : 0.0f);
    }
}

void cpu_matvec_int8(float *y, const hone_weight *w, const float *bias, int64_t T,
                     const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    int64_t K = w->n_in, nsb = K / sub;
    mv_ctx c = {.y = y, .w = w, .bias = bias, .T = T, .K = K, .nsb = nsb, .sub = sub, .xq = xq, .dxs = dxs};
    int nth = hone_pool_size(pool);
    c.buf_bytes = (((size_t)K + 63) & ~(size_t)63) + ((2 * (size_t)nsb * sizeof(float) + 63) & ~(size_t)63);
    c.bufs = aligned_alloc(64, c.buf_bytes * nth + sizeof(float) * T * nsb);
    if (!c.bufs) abort(); /* out of memory in a kernel: nothing sensible to return */
    float *dxe = (float *)(c.bufs + c.buf_bytes * nth);
    for (int64_t t = 0; t < T; t++)
        for (int64_t s = 0; s < nsb; s++) dxe[t * nsb + s] = dx[t * (K / 32) + s * sub / 32];
    c.dxe = dxe;
    hone_pool_run(pool, (w->n_out + MV_ROWS - 1) / MV_ROWS, mv_task, &c);
    free(c.bufs);
}
#else
void cpu_matvec_int8(float *y, const hone_weight *w, const float *bias, int64_t T,
                     const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    abort(); /* only called at CPU_LVL_AVX512 */
}
#endif
