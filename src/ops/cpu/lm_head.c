/* lm_head.c: the fast fused LM head + cross-entropy (backend.h lm_head_ce), the same
 * one-pass online-softmax algorithm as the reference (ref.c) but with the two
 * products as GEMMs on a chunk of the vocabulary, Wc (nv, D) = rows v0..v0+nv of the
 * output weight (a view into the weight, any type):
 *   Z (n, nv)   = H Wc^T                 (the fast forward matmul: INT16 activations
 *                                         for quantized types, as the inference engine
 *                                         computes its logits; F32 otherwise);
 *   per position: running max m (rescaling s and acc when it rises),
 *                 E = exp(Z - m) (vm_exp), s += sum E;
 *   acc (n, D) += E Wc                    (cpu_matmul_bwd on the same view: dequantized
 *                                          panels, F32 FMA, into an f32 chunk buffer, then
 *                                          added to acc in double).
 * At the end loss_t = m + log s - z_target and dh_t += dscale (acc / s - c'_t w_target).
 * H holds only the counted positions (n of T), so nothing is computed for the
 * others, and nothing vocab-sized is stored beyond one chunk (LMH_VC rows).
 * Sums per position run over the vocabulary in a fixed order; both GEMMs are
 * thread-count independent, so the result is too. AVX-512 only; other levels use
 * the reference, and so does a final-logit softcap (no supported model has one). */
#include <math.h>
#include <string.h>

#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"
#include "util/pool.h"

#define LMH_VC 1024 /* vocabulary rows per chunk */

typedef struct {
    int64_t v0, nv, D;
    float *z;           /* (n, nv): logits, then E */
    float *cb;          /* (n, D): this chunk's E Wc */
    double *acc;        /* (n, D) or NULL */
    float *m;           /* (n) */
    double *s;          /* (n) */
    float *zt;          /* (n) */
    const int32_t *tg;  /* (n) target of each counted position */
} lmh_ctx;

#if defined(__x86_64__)
/* Softmax update of position i over the chunk's logits. */
VMATH_TARGET static void soft_task(void *vc, int64_t i, int tid) {
    (void)tid;
    const lmh_ctx *c = vc;
    int64_t nv = c->nv, D = c->D;
    float *z = c->z + i * nv;
    int32_t tg = c->tg[i];
    if (tg >= c->v0 && tg < c->v0 + nv) c->zt[i] = z[tg - c->v0];
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int64_t v = 0;
    for (; v + 16 <= nv; v += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(z + v));
    float cm = _mm512_reduce_max_ps(mx);
    for (; v < nv; v++) cm = z[v] > cm ? z[v] : cm;
    if (cm > c->m[i]) {
        double f = c->m[i] == -INFINITY ? 0.0 : exp((double)c->m[i] - cm);
        c->s[i] *= f;
        if (c->acc)
            for (int64_t d = 0; d < D; d++) c->acc[i * D + d] *= f;
        c->m[i] = cm;
    }
    __m512 mb = _mm512_set1_ps(c->m[i]), sum = _mm512_setzero_ps();
    for (v = 0; v < nv; v += 16) {
        __mmask16 k = nv - v >= 16 ? 0xffff : (__mmask16)((1u << (nv - v)) - 1);
        __m512 e = _mm512_maskz_mov_ps(k, vm_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, z + v), mb)));
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(z + v, k, e);
    }
    c->s[i] += (double)_mm512_reduce_add_ps(sum);
}
#endif

/* acc += cb, row i (double). */
static void add_task(void *vc, int64_t i, int tid) {
    (void)tid;
    const lmh_ctx *c = vc;
    for (int64_t d = 0; d < c->D; d++) c->acc[i * c->D + d] += c->cb[i * c->D + d];
}

void cpu_lm_head_ce(double *loss, int64_t *n_counted, float *dh, const float *h, const hone_weight *w,
                    const int32_t *target, const uint8_t *mask, int64_t T, float softcap, float dscale,
                    hone_pool *pool, int level) {
#if defined(__x86_64__)
    if (level >= CPU_LVL_AVX512 && softcap <= 0) {
        int64_t D = w->n_in, V = w->n_out, n = 0;
        int64_t *pos = cpu_kern_alloc((size_t)(T > 0 ? T : 1) * sizeof *pos);
        for (int64_t t = 0; t < T; t++)
            if ((!mask || mask[t]) && target[t] >= 0 && target[t] < V) pos[n++] = t;
        if (n_counted) *n_counted += n;
        if (n == 0) {
            free(pos);
            return;
        }
        lmh_ctx c = {.D = D};
        float *hc = cpu_kern_alloc((size_t)(n * D) * sizeof(float));
        int32_t *tg = cpu_kern_alloc((size_t)n * sizeof *tg);
        c.z = cpu_kern_alloc((size_t)n * LMH_VC * sizeof(float));
        c.m = cpu_kern_alloc((size_t)n * sizeof(float));
        c.s = cpu_kern_alloc((size_t)n * sizeof(double));
        c.zt = cpu_kern_alloc((size_t)n * sizeof(float));
        if (dh) {
            c.cb = cpu_kern_alloc((size_t)(n * D) * sizeof(float));
            c.acc = cpu_kern_alloc((size_t)(n * D) * sizeof(double));
            memset(c.acc, 0, (size_t)(n * D) * sizeof(double));
        }
        for (int64_t i = 0; i < n; i++) {
            memcpy(hc + i * D, h + pos[i] * D, (size_t)D * sizeof(float));
            tg[i] = target[pos[i]];
            c.m[i] = -INFINITY;
            c.s[i] = 0;
            c.zt[i] = 0;
        }
        c.tg = tg;
        for (int64_t v0 = 0; v0 < V; v0 += LMH_VC) {
            c.v0 = v0;
            c.nv = V - v0 < LMH_VC ? V - v0 : LMH_VC;
            hone_weight wv = *w; /* rows v0.. of the weight */
            wv.data = (const uint8_t *)w->data + (size_t)v0 * w->row_bytes;
            wv.n_out = c.nv;
            hone_cpu_kernels()->matmul(c.z, hc, &wv, NULL, n, pool); /* Z (n, nv) */
            hone_pool_run(pool, n, soft_task, &c);
            if (dh) {
                memset(c.cb, 0, (size_t)(n * D) * sizeof(float));
                cpu_matmul_bwd(c.cb, c.z, &wv, n, pool, level);
                hone_pool_run(pool, n, add_task, &c);
            }
        }
        double sum = 0;
        float *wt = cpu_kern_alloc((size_t)D * sizeof(float));
        for (int64_t i = 0; i < n; i++) {
            sum += (double)c.m[i] + log(c.s[i]) - c.zt[i];
            if (!dh) continue;
            hone_dequantize(w->type, (const uint8_t *)w->data + (size_t)tg[i] * w->row_bytes, wt, (uint64_t)D, NULL);
            float *d = dh + pos[i] * D;
            for (int64_t k = 0; k < D; k++) d[k] += (float)(dscale * (c.acc[i * D + k] / c.s[i] - wt[k]));
        }
        if (loss) *loss += sum;
        free(wt), free(pos), free(hc), free(tg), free(c.z), free(c.m), free(c.s), free(c.zt);
        free(c.cb), free(c.acc);
        return;
    }
#endif
    (void)level;
    hone_backend_ref()->lm_head_ce(loss, n_counted, dh, h, w, target, mask, T, softcap, dscale, pool);
}
