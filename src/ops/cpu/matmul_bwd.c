/* matmul_bwd.c: the fast backward of a frozen linear, dx (T, n_in) += dy (T, n_out) W,
 * for every weight type (training: QLoRA back-propagates through quantized weights
 * without dequantizing the model).
 *
 * Work item: a block of CB columns of dx (CB = 64, or 256 for 256-element
 * quantization blocks, so a block never splits a quantization block). Its slice of
 * W is dequantized (hone_dequantize, bit-exact) KB rows at a time into an f32 panel
 * laid out as CB/32 sub-panels (KB, 32), and every token sweeps a sub-panel with FMA,
 * 6 tokens x 32 columns in 12 zmm accumulators (the forward F32 matmul's micro-kernel
 * shape, matmul_f.c, with dx in place of y and dy in place of x), loading and storing
 * dx around each KB-row block. Each dx element is one running sum over k in
 * increasing order, and an item owns its columns, so results do not depend on the
 * thread count. The slice of W is decoded once per call (as the forward does).
 * AVX-512 only; other levels use the reference (ref.c). */
#include <string.h>

#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "util/pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define KB 256
#define UNROLL _Pragma("GCC unroll 16")

typedef struct {
    float *dx;
    const float *dy;
    const hone_weight *w;
    int64_t T, cb;
    float *bufs; /* per thread: panel (cb/32, KB, 32) + row (cb) */
    size_t buf_floats;
} mmb_ctx;

/* rows [k0, k1), columns [c0, c0+nc) of W into sub-panels (KB, 32), zero beyond nc */
static void decode_slice(const mmb_ctx *c, int64_t k0, int64_t k1, int64_t c0, int64_t nc, float *panel,
                         float *row) {
    const hone_weight *w = c->w;
    uint32_t bs = hone_dtype_block(w->type);
    size_t off = (size_t)(c0 / bs) * hone_dtype_block_bytes(w->type);
    int64_t nsub = (nc + 31) / 32;
    for (int64_t k = k0; k < k1; k++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)k * w->row_bytes + off;
        if (w->type == HONE_F32) memcpy(row, src, (size_t)nc * sizeof(float));
        else hone_dequantize(w->type, src, row, (uint64_t)nc, NULL);
        for (int64_t s = 0; s < nsub; s++) {
            float *dst = panel + ((size_t)s * KB + (size_t)(k - k0)) * 32;
            int64_t n = nc - 32 * s < 32 ? nc - 32 * s : 32;
            memcpy(dst, row + 32 * s, (size_t)n * sizeof(float));
            for (int64_t j = n; j < 32; j++) dst[j] = 0;
        }
    }
}

#if defined(__x86_64__)
#define F512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,fma")))

/* dx[t0..t0+NT)[col0..col0+nc) += sum_{k in [k0,k1)} dy[t][k] * panel[k-k0][..] */
F512_TARGET static inline __attribute__((always_inline)) void
mk_bwd(const mmb_ctx *c, const float *panel, int64_t t0, const int NT, int64_t col0, int64_t nc, int64_t k0,
       int64_t k1) {
    int64_t n_in = c->w->n_in, n_out = c->w->n_out;
    __mmask16 m0 = nc >= 16 ? 0xffff : (__mmask16)((1u << nc) - 1);
    __mmask16 m1 = nc >= 32 ? 0xffff : nc <= 16 ? 0 : (__mmask16)((1u << (nc - 16)) - 1);
    __m512 a0[6], a1[6];
    UNROLL
    for (int t = 0; t < NT; t++) {
        a0[t] = _mm512_maskz_loadu_ps(m0, c->dx + (t0 + t) * n_in + col0);
        a1[t] = _mm512_maskz_loadu_ps(m1, c->dx + (t0 + t) * n_in + col0 + 16);
    }
    const float *g = c->dy + t0 * n_out;
    for (int64_t k = k0; k < k1; k++) {
        const float *p = panel + (k - k0) * 32;
        __m512 w0 = _mm512_load_ps(p), w1 = _mm512_load_ps(p + 16);
        UNROLL
        for (int t = 0; t < NT; t++) {
            __m512 gb = _mm512_set1_ps(g[t * n_out + k]);
            a0[t] = _mm512_fmadd_ps(w0, gb, a0[t]);
            a1[t] = _mm512_fmadd_ps(w1, gb, a1[t]);
        }
    }
    UNROLL
    for (int t = 0; t < NT; t++) {
        _mm512_mask_storeu_ps(c->dx + (t0 + t) * n_in + col0, m0, a0[t]);
        _mm512_mask_storeu_ps(c->dx + (t0 + t) * n_in + col0 + 16, m1, a1[t]);
    }
}

F512_TARGET static void mmb_task(void *vc, int64_t ib, int tid) {
    const mmb_ctx *c = vc;
    const hone_weight *w = c->w;
    int64_t c0 = ib * c->cb, nc = w->n_in - c0 < c->cb ? w->n_in - c0 : c->cb;
    float *panel = c->bufs + (size_t)tid * c->buf_floats, *row = panel + (size_t)(c->cb / 32) * KB * 32;
    for (int64_t k0 = 0; k0 < w->n_out; k0 += KB) {
        int64_t k1 = k0 + KB < w->n_out ? k0 + KB : w->n_out;
        decode_slice(c, k0, k1, c0, nc, panel, row);
        for (int64_t s = 0; s * 32 < nc; s++) {
            const float *ps = panel + (size_t)s * KB * 32;
            int64_t col0 = c0 + 32 * s, ncs = nc - 32 * s < 32 ? nc - 32 * s : 32, t = 0;
            for (; t + 6 <= c->T; t += 6) mk_bwd(c, ps, t, 6, col0, ncs, k0, k1);
            for (; t < c->T; t++) mk_bwd(c, ps, t, 1, col0, ncs, k0, k1);
        }
    }
}
#endif

void cpu_matmul_bwd(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *pool, int level) {
#if defined(__x86_64__)
    if (level >= CPU_LVL_AVX512 && T > 0 && w->n_out > 0) {
        uint32_t bs = hone_dtype_block(w->type);
        mmb_ctx c = {.dx = dx, .dy = dy, .w = w, .T = T, .cb = bs > 64 ? 256 : 64};
        int nth = hone_pool_size(pool);
        c.buf_floats = ((size_t)(c.cb / 32) * KB * 32 + (size_t)c.cb + 15) & ~(size_t)15;
        c.bufs = cpu_kern_scratch(1, c.buf_floats * sizeof(float) * (size_t)nth); /* kept per thread: no
                                                                                     allocation per step */
        hone_pool_run(pool, (w->n_in + c.cb - 1) / c.cb, mmb_task, &c);
        cpu_kern_scratch_done(1);
        return;
    }
#endif
    (void)level;
    hone_backend_ref()->matmul_bwd(dx, dy, w, T, pool);
}
