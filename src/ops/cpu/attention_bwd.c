/* attention_bwd.c: the fast attention backward (backend.h attention_bwd), as dense
 * GEMMs through the fast F32 kernels. Per kv head g and each query head h sharing it,
 * with Qh (T, hd), dOh (T, hd), Kg, Vg (n_keys, hd) copied out contiguous:
 *   S  = Qh Kg^T,  dP = dOh Vg^T                      (cpu_matmul_f32)
 *   per query row (recomputed softmax, as the reference): s = scale S on visible
 *   keys, P = softmax(s), D = sum_j P_j dP_j (double),
 *   dS_j = P_j (dP_j - D) * scale                       (0 where not visible)
 *   dQh  = dS Kg,   dVg += P^T dOh,   dKg += dS^T Qh     (cpu_matmul_bwd)
 * The masked half of S is computed and thrown away (causal: ~2x the minimal FLOPs),
 * which the GEMM speed more than repays. Scratch: four (T, n_keys) f32 matrices per
 * call. Every sum has a fixed order (the GEMMs' and the per-row loops'), so the
 * result does not depend on the thread count. AVX-512 only; other levels, and attention
 * logit softcapping (Gemma 2; no supported model), use the reference. */
#include <math.h>
#include <string.h>

#include "ops/cpu/kern.h"
#include "util/pool.h"

typedef struct {
    const int32_t *qpos, *kpos;
    const hone_attn_params *p;
    int64_t nk;
    float *S, *dP; /* (T, nk): scores then P; dP then dS */
} ab_ctx;

static inline int visible(int32_t kp, int32_t qp, uint32_t window) {
    return kp <= qp && (window == 0 || (int64_t)kp > (int64_t)qp - (int64_t)window);
}

static void row_task(void *vc, int64_t t, int tid) {
    (void)tid;
    const ab_ctx *c = vc;
    const hone_attn_params *p = c->p;
    int64_t nk = c->nk;
    float *s = c->S + t * nk, *dp = c->dP + t * nk, mx = -INFINITY;
    for (int64_t j = 0; j < nk; j++) {
        if (!visible(c->kpos[j], c->qpos[t], p->window)) {
            s[j] = -INFINITY;
            continue;
        }
        s[j] *= p->scale;
        if (s[j] > mx) mx = s[j];
    }
    if (mx == -INFINITY) { /* no visible key: output 0, no gradient */
        memset(s, 0, (size_t)nk * sizeof *s);
        memset(dp, 0, (size_t)nk * sizeof *dp);
        return;
    }
    double sum = 0, d = 0;
    for (int64_t j = 0; j < nk; j++) {
        s[j] = s[j] == -INFINITY ? 0.0f : expf(s[j] - mx);
        sum += s[j];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < nk; j++) {
        s[j] *= inv;
        d += (double)s[j] * dp[j];
    }
    for (int64_t j = 0; j < nk; j++) dp[j] = s[j] == 0.0f ? 0.0f : (float)((double)s[j] * (dp[j] - d)) * p->scale;
}

void cpu_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q, const int32_t *qpos,
                       int64_t T, const float *k, const float *v, const int32_t *kpos, int64_t n_keys,
                       const hone_attn_params *p, hone_pool *pool, int level) {
    if (level < CPU_LVL_AVX512 || p->softcap > 0 || T <= 0 || n_keys <= 0) {
        hone_backend_ref()->attention_bwd(dq, dk, dv, dout, q, qpos, T, k, v, kpos, n_keys, p, pool);
        return;
    }
    int64_t H = p->n_heads, KV = p->n_kv_heads, hd = p->head_dim, G = H / KV, nk = n_keys;
    /* One block from the calling thread's attention scratch slot (2), kept between steps; the
     * F32 GEMMs called below use slot 1. Each piece is rounded to 16 floats (64-byte aligned). */
    size_t a_kv = ((size_t)(nk * hd) + 15) & ~(size_t)15, a_t = ((size_t)(T * hd) + 15) & ~(size_t)15;
    size_t a_s = ((size_t)(T * nk) + 15) & ~(size_t)15;
    float *Kg = cpu_kern_scratch(2, (4 * a_kv + 3 * a_t + 3 * a_s) * sizeof(float));
    float *Vg = Kg + a_kv, *dKg = Vg + a_kv, *dVg = dKg + a_kv;
    float *Qh = dVg + a_kv, *dOh = Qh + a_t, *dQh = dOh + a_t;
    float *S = dQh + a_t, *dP = S + a_s, *Tr = dP + a_s;
    ab_ctx c = {.qpos = qpos, .kpos = kpos, .p = p, .nk = nk, .S = S, .dP = dP};
    for (int64_t g = 0; g < KV; g++) {
        for (int64_t j = 0; j < nk; j++) {
            memcpy(Kg + j * hd, k + (j * KV + g) * hd, (size_t)hd * sizeof(float));
            memcpy(Vg + j * hd, v + (j * KV + g) * hd, (size_t)hd * sizeof(float));
        }
        memset(dKg, 0, (size_t)(nk * hd) * sizeof(float));
        memset(dVg, 0, (size_t)(nk * hd) * sizeof(float));
        hone_weight wK = {.type = HONE_F32, .data = Kg, .n_in = hd, .n_out = nk, .row_bytes = (size_t)hd * sizeof(float)};
        hone_weight wV = {.type = HONE_F32, .data = Vg, .n_in = hd, .n_out = nk, .row_bytes = (size_t)hd * sizeof(float)};
        hone_weight wQ = {.type = HONE_F32, .data = Qh, .n_in = hd, .n_out = T, .row_bytes = (size_t)hd * sizeof(float)};
        hone_weight wO = {.type = HONE_F32, .data = dOh, .n_in = hd, .n_out = T, .row_bytes = (size_t)hd * sizeof(float)};
        for (int64_t h = g * G; h < (g + 1) * G; h++) {
            for (int64_t t = 0; t < T; t++) {
                memcpy(Qh + t * hd, q + (t * H + h) * hd, (size_t)hd * sizeof(float));
                memcpy(dOh + t * hd, dout + (t * H + h) * hd, (size_t)hd * sizeof(float));
            }
            cpu_matmul_f32(S, Qh, &wK, NULL, T, pool, level);   /* S (T, nk) */
            cpu_matmul_f32(dP, dOh, &wV, NULL, T, pool, level); /* dP (T, nk) */
            hone_pool_run(pool, T, row_task, &c);               /* S = P, dP = dS */
            if (dq) {
                memset(dQh, 0, (size_t)(T * hd) * sizeof(float));
                cpu_matmul_bwd(dQh, dP, &wK, T, pool, level); /* dS Kg */
                for (int64_t t = 0; t < T; t++) {
                    float *d = dq + (t * H + h) * hd;
                    const float *src = dQh + t * hd;
                    for (int64_t e = 0; e < hd; e++) d[e] += src[e];
                }
            }
            if (dv) {
                for (int64_t t = 0; t < T; t++)
                    for (int64_t j = 0; j < nk; j++) Tr[j * T + t] = S[t * nk + j];
                cpu_matmul_bwd(dVg, Tr, &wO, nk, pool, level); /* P^T dOh */
            }
            if (dk) {
                for (int64_t t = 0; t < T; t++)
                    for (int64_t j = 0; j < nk; j++) Tr[j * T + t] = dP[t * nk + j];
                cpu_matmul_bwd(dKg, Tr, &wQ, nk, pool, level); /* dS^T Qh */
            }
        }
        for (int64_t j = 0; j < nk; j++) {
            float *a = dk ? dk + (j * KV + g) * hd : NULL, *b = dv ? dv + (j * KV + g) * hd : NULL;
            for (int64_t e = 0; e < hd; e++) {
                if (a) a[e] += dKg[j * hd + e];
                if (b) b[e] += dVg[j * hd + e];
            }
        }
    }
    cpu_kern_scratch_done(2);
}
