/* attention.c: causal GQA attention with the window/kpos mask of backend.h, one
 * pass with an online softmax (running max m, sum l, rescaled output), f32.
 *
 * AVX-512: work items are (kv head, block of 64/G query tokens); the up to 64
 * rows of an item are every (token, head) of the G heads sharing that kv head.
 * The item's queries are transposed once into Qt (head_dim, rows), so that for
 * each block of ATT_BK keys the scores S (keys, rows) = K Qt are a small GEMM
 * with rows in the vector lanes (up to 64 rows x 3 keys in registers) and the
 * softmax update runs down the keys with no horizontal reductions; then
 * O += P^T V is another (4 rows x 64 dims in registers). Key
 * blocks that no query of the item can see (their kpos range, precomputed) are
 * skipped, so causal prefill does about half the work. Other levels: a plain C
 * loop per (token, head). A query that sees no key gets zeros. */
#include <math.h>
#include <string.h>

#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"
#include "util/pool.h"

#define ATT_BK 32

static inline int visible(int32_t kp, int32_t qp, uint32_t window) {
    return kp <= qp && (window == 0 || (int64_t)kp > (int64_t)qp - (int64_t)window);
}

static inline float softcap_f(float s, float cap) { return cap > 0 ? cap * tanhf(s / cap) : s; }

/* ---- plain C ---- */

typedef struct {
    float *out;
    const float *q, *k, *v;
    const int32_t *qpos, *kpos;
    int64_t T, n_keys;
    const hone_attn_params *p;
    int32_t *bmin, *bmax; /* (n_kblocks) kpos range per key block */
    float *bufs;
    size_t buf_floats;
    int64_t bq; /* query tokens per item: 64 / heads per kv head rows */
} att_ctx;

static void att_scalar_task(void *ctx, int64_t i, int tid) {
    const att_ctx *c = ctx;
    const hone_attn_params *p = c->p;
    int64_t d = p->head_dim, t = i / p->n_heads, h = i % p->n_heads, g = h / (p->n_heads / p->n_kv_heads);
    const float *qr = c->q + (t * p->n_heads + h) * d;
    float *o = c->out + (t * p->n_heads + h) * d;
    float m = -INFINITY, l = 0;
    memset(o, 0, sizeof(float) * d);
    for (int64_t j = 0; j < c->n_keys; j++) {
        if (!visible(c->kpos[j], c->qpos[t], p->window)) continue;
        const float *kr = c->k + (j * p->n_kv_heads + g) * d, *vr = c->v + (j * p->n_kv_heads + g) * d;
        float s = 0;
        for (int64_t e = 0; e < d; e++) s += qr[e] * kr[e];
        s = softcap_f(s * p->scale, p->softcap);
        float mn = s > m ? s : m, a = expf(m - mn), w = expf(s - mn);
        for (int64_t e = 0; e < d; e++) o[e] = o[e] * a + w * vr[e];
        l = l * a + w;
        m = mn;
    }
    float inv = l > 0 ? 1.0f / l : 0.0f;
    for (int64_t e = 0; e < d; e++) o[e] *= inv;
}

/* ---- AVX-512 ---- */

#if defined(__x86_64__)

/* S (ATT_BK, RP) block: S[j][r] = sum_e Qt[e][r] k_j[e] for NJ keys and RG
 * groups of 16 rows (rows in lanes, keys broadcast). */
VMATH_TARGET static inline __attribute__((always_inline)) void
att_qk(const float *Qt, int64_t RP, const float *const *krow, int64_t d, float *S, const int RG,
       const int NJ) {
    __m512 a[4][3];
    _Pragma("GCC unroll 4") for (int g = 0; g < RG; g++)
        _Pragma("GCC unroll 3") for (int j = 0; j < NJ; j++) a[g][j] = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e++) {
        __m512 qv[4];
        _Pragma("GCC unroll 4") for (int g = 0; g < RG; g++) qv[g] = _mm512_load_ps(Qt + e * RP + 16 * g);
        _Pragma("GCC unroll 3") for (int j = 0; j < NJ; j++) {
            __m512 kb = _mm512_set1_ps(krow[j][e]);
            _Pragma("GCC unroll 4") for (int g = 0; g < RG; g++) a[g][j] = _mm512_fmadd_ps(qv[g], kb, a[g][j]);
        }
    }
    _Pragma("GCC unroll 3") for (int j = 0; j < NJ; j++)
        _Pragma("GCC unroll 4") for (int g = 0; g < RG; g++) _mm512_store_ps(S + j * RP + 16 * g, a[g][j]);
}

VMATH_TARGET static void att_qk_block(const float *Qt, int64_t RP, const float *const *krow, int64_t nk,
                                      int64_t d, float *S) {
    int RG = (int)(RP / 16);
    int64_t j = 0;
#define QK_CASE(G)                                                                  \
    case G:                                                                         \
        for (; j + 3 <= nk; j += 3) att_qk(Qt, RP, krow + j, d, S + j * RP, G, 3); \
        for (; j < nk; j++) att_qk(Qt, RP, krow + j, d, S + j * RP, G, 1);         \
        break;
    switch (RG) {
        QK_CASE(1)
        QK_CASE(2)
        QK_CASE(3)
        QK_CASE(4)
    }
#undef QK_CASE
}

/* O rows (NR, d) += P^T (rows NR, nk) V (nk, d); P is (nk, RP), rows in lanes. */
VMATH_TARGET static inline __attribute__((always_inline)) void
att_pv(float *O, const float *P, int64_t RP, const float *const *vrow, int64_t nk, int64_t d, const int NR) {
    for (int64_t e0 = 0; e0 < d; e0 += 64) {
        int64_t ne = d - e0 < 64 ? d - e0 : 64;
        __mmask16 mk[4];
        for (int q = 0; q < 4; q++) {
            int64_t n = ne - 16 * q;
            mk[q] = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
        }
        __m512 acc[4][4];
        _Pragma("GCC unroll 4") for (int r = 0; r < NR; r++)
            _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
                acc[r][q] = _mm512_maskz_loadu_ps(mk[q], O + r * d + e0 + 16 * q);
        for (int64_t j = 0; j < nk; j++) {
            __m512 vv[4];
            _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
                vv[q] = _mm512_maskz_loadu_ps(mk[q], vrow[j] + e0 + 16 * q);
            _Pragma("GCC unroll 4") for (int r = 0; r < NR; r++) {
                __m512 pb = _mm512_set1_ps(P[j * RP + r]);
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) acc[r][q] = _mm512_fmadd_ps(pb, vv[q], acc[r][q]);
            }
        }
        _Pragma("GCC unroll 4") for (int r = 0; r < NR; r++)
            _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
                _mm512_mask_storeu_ps(O + r * d + e0 + 16 * q, mk[q], acc[r][q]);
    }
}

VMATH_TARGET static void att_avx512_task(void *ctx, int64_t item, int tid) {
    const att_ctx *c = ctx;
    const hone_attn_params *p = c->p;
    const int64_t d = p->head_dim, G = p->n_heads / p->n_kv_heads, BQ = c->bq;
    const int64_t nqb = (c->T + BQ - 1) / BQ;
    const int64_t g = item / nqb, t0 = item % nqb * BQ, t1 = t0 + BQ < c->T ? t0 + BQ : c->T;
    const int64_t R = (t1 - t0) * G, RP = (R + 15) & ~(int64_t)15; /* rows: (token, head in group) */
    float *Qt = c->bufs + (size_t)tid * c->buf_floats; /* (d, RP) */
    float *S = Qt + d * 64;                             /* (ATT_BK, RP) */
    float *O = S + ATT_BK * 64;                         /* (R, d) */
    float *m = O + 64 * d, *l = m + 64, *al = l + 64;   /* (RP) each */
    int32_t qp[64], qmin = INT32_MAX, qmax = INT32_MIN;
    for (int64_t r = 0; r < RP; r++) {
        if (r < R) {
            int64_t t = t0 + r / G, h = g * G + r % G;
            const float *qr = c->q + (t * p->n_heads + h) * d;
            for (int64_t e = 0; e < d; e++) Qt[e * RP + r] = qr[e];
            qp[r] = c->qpos[t];
            qmin = qp[r] < qmin ? qp[r] : qmin;
            qmax = qp[r] > qmax ? qp[r] : qmax;
        } else { /* padding lanes: see nothing */
            for (int64_t e = 0; e < d; e++) Qt[e * RP + r] = 0;
            qp[r] = INT32_MIN;
        }
        m[r] = -INFINITY;
        l[r] = 0;
    }
    memset(O, 0, sizeof(float) * R * d);
    const __m512 scale = _mm512_set1_ps(p->scale), ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t j0 = 0; j0 < c->n_keys; j0 += ATT_BK) {
        int64_t kb = j0 / ATT_BK, nk = c->n_keys - j0 < ATT_BK ? c->n_keys - j0 : ATT_BK;
        if (c->bmin[kb] > qmax) continue; /* all in every query's future */
        if (p->window && (int64_t)c->bmax[kb] <= (int64_t)qmin - (int64_t)p->window) continue;
        const float *krow[ATT_BK], *vrow[ATT_BK];
        for (int64_t j = 0; j < nk; j++) {
            krow[j] = c->k + ((j0 + j) * p->n_kv_heads + g) * d;
            vrow[j] = c->v + ((j0 + j) * p->n_kv_heads + g) * d;
        }
        att_qk_block(Qt, RP, krow, nk, d, S);
        /* online softmax, 16 rows per vector, keys down the block */
        for (int64_t rg = 0; rg < RP; rg += 16) {
            __m512i q = _mm512_loadu_si512(qp + rg);
            int has_lo = 0;
            __m512i lo = _mm512_setzero_si512();
            if (p->window) {
                /* kpos > qpos - window; lanes where that is below INT32_MIN always pass */
                __m512i w = _mm512_set1_epi32((int)p->window);
                __mmask16 ok = _mm512_cmpge_epi32_mask(q, _mm512_add_epi32(_mm512_set1_epi32(INT32_MIN), w));
                lo = _mm512_mask_mov_epi32(_mm512_set1_epi32(INT32_MIN), ok, _mm512_sub_epi32(q, w));
                has_lo = 1;
            }
            __mmask16 vis[ATT_BK];
            __m512 mx = ninf;
            for (int64_t j = 0; j < nk; j++) {
                __m512i kp = _mm512_set1_epi32(c->kpos[j0 + j]);
                __mmask16 v = _mm512_cmple_epi32_mask(kp, q);
                if (has_lo) v &= _mm512_cmpgt_epi32_mask(kp, lo) | _mm512_cmpeq_epi32_mask(lo, _mm512_set1_epi32(INT32_MIN));
                vis[j] = v;
                __m512 sv = _mm512_mul_ps(_mm512_load_ps(S + j * RP + rg), scale);
                if (p->softcap > 0)
                    sv = _mm512_mul_ps(_mm512_set1_ps(p->softcap), vm_tanh(_mm512_mul_ps(sv, _mm512_set1_ps(1.0f / p->softcap))));
                _mm512_store_ps(S + j * RP + rg, sv);
                mx = _mm512_mask_max_ps(mx, v, mx, sv);
            }
            __m512 mo = _mm512_loadu_ps(m + rg), mn = _mm512_max_ps(mo, mx);
            __mmask16 live = _mm512_cmp_ps_mask(mn, ninf, _CMP_NEQ_OQ);
            /* alpha = exp(m_old - m_new), 1 where nothing was seen yet */
            __m512 a = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), live, vm_exp(_mm512_sub_ps(mo, mn)));
            a = _mm512_mask_mov_ps(a, live & _mm512_cmp_ps_mask(mo, ninf, _CMP_EQ_OQ), _mm512_set1_ps(0.0f));
            __m512 sum = _mm512_setzero_ps();
            for (int64_t j = 0; j < nk; j++) {
                __m512 e = _mm512_maskz_mov_ps(vis[j], vm_exp(_mm512_sub_ps(_mm512_load_ps(S + j * RP + rg), mn)));
                _mm512_store_ps(S + j * RP + rg, e);
                sum = _mm512_add_ps(sum, e);
            }
            _mm512_storeu_ps(l + rg, _mm512_fmadd_ps(_mm512_loadu_ps(l + rg), a, sum));
            _mm512_storeu_ps(m + rg, mn);
            _mm512_storeu_ps(al + rg, a);
        }
        for (int64_t r = 0; r < R; r++) {
            if (al[r] == 1.0f) continue;
            __m512 av = _mm512_set1_ps(al[r]);
            float *o = O + r * d;
            for (int64_t e = 0; e < d; e += 16) {
                __mmask16 mk = d - e >= 16 ? 0xffff : (__mmask16)((1u << (d - e)) - 1);
                _mm512_mask_storeu_ps(o + e, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, o + e), av));
            }
        }
        int64_t r = 0;
        for (; r + 4 <= R; r += 4) att_pv(O + r * d, S + r, RP, vrow, nk, d, 4);
        for (; r < R; r++) att_pv(O + r * d, S + r, RP, vrow, nk, d, 1);
    }
    for (int64_t r = 0; r < R; r++) {
        int64_t t = t0 + r / G, h = g * G + r % G;
        float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        float *o = c->out + (t * p->n_heads + h) * d;
        for (int64_t e = 0; e < d; e++) o[e] = O[r * d + e] * inv;
    }
}
#endif

void cpu_attention(float *out, const float *q, const int32_t *qpos, int64_t T, const float *k,
                   const float *v, const int32_t *kpos, int64_t n_keys, const hone_attn_params *p,
                   hone_pool *pool, int level) {
    att_ctx c = {.out = out, .q = q, .k = k, .v = v, .qpos = qpos, .kpos = kpos, .T = T,
                 .n_keys = n_keys, .p = p};
    int64_t G = p->n_heads / p->n_kv_heads;
#if defined(__x86_64__)
    if (level >= CPU_LVL_AVX512 && G <= 64) {
        int64_t nkb = (n_keys + ATT_BK - 1) / ATT_BK, d = p->head_dim;
        int nth = hone_pool_size(pool);
        c.bq = 64 / G;
        /* Qt (d, 64) + S (ATT_BK, 64) + O (64, d) + m, l, alpha (64 each) */
        c.buf_floats = ((size_t)d * 64 + ATT_BK * 64 + 64 * (size_t)d + 3 * 64 + 15) & ~(size_t)15;
        c.bufs = cpu_kern_scratch(2, sizeof(float) * (c.buf_floats * nth) + 2 * sizeof(int32_t) * (nkb + 1));
        c.bmin = (int32_t *)(c.bufs + c.buf_floats * nth);
        c.bmax = c.bmin + nkb + 1;
        for (int64_t b = 0; b < nkb; b++) {
            int32_t lo = INT32_MAX, hi = INT32_MIN;
            for (int64_t j = b * ATT_BK; j < n_keys && j < (b + 1) * ATT_BK; j++) {
                lo = kpos[j] < lo ? kpos[j] : lo;
                hi = kpos[j] > hi ? kpos[j] : hi;
            }
            c.bmin[b] = lo;
            c.bmax[b] = hi;
        }
        hone_pool_run(pool, p->n_kv_heads * ((T + c.bq - 1) / c.bq), att_avx512_task, &c);
        cpu_kern_scratch_done(2);
        return;
    }
#endif
    hone_pool_run(pool, T * p->n_heads, att_scalar_task, &c);
}
