/* attention.c: causal GQA attention with the window/kpos mask of backend.h, one
 * pass with an online softmax (running max m, sum l, rescaled output), f32.
 *
 * AVX-512: work items are (kv head, block of ATT_BQ query tokens); the rows of
 * an item are every (token, head) of the heads sharing that kv head. Keys go in
 * blocks of ATT_BK: the block of K is transposed into Kt (head_dim, ATT_BK) so
 * that scores S = Q Kt are a small GEMM (6 rows x 32 keys in registers); after
 * the softmax update, O += P V is another (4 rows x 64 dims in registers). Key
 * blocks that no query of the item can see (their kpos range, precomputed) are
 * skipped, so causal prefill does about half the work. Other levels: a plain C
 * loop per (token, head). A query that sees no key gets zeros. */
#include <math.h>
#include <string.h>

#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"
#include "util/pool.h"

#define ATT_BK 32
#define ATT_BQ 16

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

/* S (nr, 32) = Q rows (nr, d) x Kt (d, 32) for NR rows. */
VMATH_TARGET static inline __attribute__((always_inline)) void
att_qk(const float *const *qrow, const float *Kt, int64_t d, float *S, const int NR) {
    __m512 a0[6], a1[6];
    for (int r = 0; r < NR; r++) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int64_t e = 0; e < d; e++) {
        __m512 k0 = _mm512_load_ps(Kt + e * ATT_BK), k1 = _mm512_load_ps(Kt + e * ATT_BK + 16);
        _Pragma("GCC unroll 6") for (int r = 0; r < NR; r++) {
            __m512 qb = _mm512_set1_ps(qrow[r][e]);
            a0[r] = _mm512_fmadd_ps(qb, k0, a0[r]);
            a1[r] = _mm512_fmadd_ps(qb, k1, a1[r]);
        }
    }
    for (int r = 0; r < NR; r++) {
        _mm512_store_ps(S + r * ATT_BK, a0[r]);
        _mm512_store_ps(S + r * ATT_BK + 16, a1[r]);
    }
}

/* O rows (NR, d) += P rows (NR, nk) x V (nk, d), 64 dims at a time. */
VMATH_TARGET static inline __attribute__((always_inline)) void
att_pv(float *O, const float *P, const float *const *vrow, int64_t nk, int64_t d, const int NR) {
    for (int64_t e0 = 0; e0 < d; e0 += 64) {
        int64_t ne = d - e0 < 64 ? d - e0 : 64;
        __mmask16 mk[4];
        for (int q = 0; q < 4; q++) {
            int64_t n = ne - 16 * q;
            mk[q] = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
        }
        __m512 acc[4][4];
        for (int r = 0; r < NR; r++)
            for (int q = 0; q < 4; q++) acc[r][q] = _mm512_maskz_loadu_ps(mk[q], O + r * d + e0 + 16 * q);
        for (int64_t j = 0; j < nk; j++) {
            __m512 vv[4];
            for (int q = 0; q < 4; q++) vv[q] = _mm512_maskz_loadu_ps(mk[q], vrow[j] + e0 + 16 * q);
            _Pragma("GCC unroll 4") for (int r = 0; r < NR; r++) {
                __m512 pb = _mm512_set1_ps(P[r * ATT_BK + j]);
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) acc[r][q] = _mm512_fmadd_ps(pb, vv[q], acc[r][q]);
            }
        }
        for (int r = 0; r < NR; r++)
            for (int q = 0; q < 4; q++) _mm512_mask_storeu_ps(O + r * d + e0 + 16 * q, mk[q], acc[r][q]);
    }
}

VMATH_TARGET static void att_avx512_task(void *ctx, int64_t item, int tid) {
    const att_ctx *c = ctx;
    const hone_attn_params *p = c->p;
    const int64_t d = p->head_dim, G = p->n_heads / p->n_kv_heads, nqb = (c->T + ATT_BQ - 1) / ATT_BQ;
    const int64_t g = item / nqb, t0 = item % nqb * ATT_BQ, t1 = t0 + ATT_BQ < c->T ? t0 + ATT_BQ : c->T;
    const int64_t R = (t1 - t0) * G; /* rows: (token, head in group) */
    float *Kt = c->bufs + (size_t)tid * c->buf_floats; /* (d, ATT_BK) */
    float *S = Kt + d * ATT_BK;                         /* (R, ATT_BK) */
    float *O = S + ATT_BQ * G * ATT_BK;                 /* (R, d) */
    float *m = O + ATT_BQ * G * d, *l = m + ATT_BQ * G; /* (R) */
    const float *qrow[ATT_BQ * 64];
    int32_t qp[ATT_BQ * 64], qmin = INT32_MAX, qmax = INT32_MIN;
    for (int64_t r = 0; r < R; r++) {
        int64_t t = t0 + r / G, h = g * G + r % G;
        qrow[r] = c->q + (t * p->n_heads + h) * d;
        qp[r] = c->qpos[t];
        qmin = qp[r] < qmin ? qp[r] : qmin;
        qmax = qp[r] > qmax ? qp[r] : qmax;
        m[r] = -INFINITY;
        l[r] = 0;
    }
    memset(O, 0, sizeof(float) * R * d);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t j0 = 0; j0 < c->n_keys; j0 += ATT_BK) {
        int64_t kb = j0 / ATT_BK, nk = c->n_keys - j0 < ATT_BK ? c->n_keys - j0 : ATT_BK;
        if (c->bmin[kb] > qmax) continue; /* all in every query's future */
        if (p->window && (int64_t)c->bmax[kb] <= (int64_t)qmin - (int64_t)p->window) continue;
        const float *vrow[ATT_BK];
        for (int64_t j = 0; j < ATT_BK; j++) {
            const float *kr = c->k + ((j0 + (j < nk ? j : 0)) * p->n_kv_heads + g) * d;
            vrow[j] = c->v + ((j0 + (j < nk ? j : 0)) * p->n_kv_heads + g) * d;
            for (int64_t e = 0; e < d; e++) Kt[e * ATT_BK + j] = j < nk ? kr[e] : 0.0f;
        }
        int64_t r = 0;
        for (; r + 6 <= R; r += 6) att_qk(qrow + r, Kt, d, S + r * ATT_BK, 6);
        for (; r < R; r++) att_qk(qrow + r, Kt, d, S + r * ATT_BK, 1);
        /* softmax update per row */
        __m512i kp0 = _mm512_maskz_loadu_epi32(nk >= 16 ? 0xffff : (__mmask16)((1u << nk) - 1), c->kpos + j0);
        __m512i kp1 = _mm512_maskz_loadu_epi32(nk >= 32 ? 0xffff : nk <= 16 ? 0 : (__mmask16)((1u << (nk - 16)) - 1),
                                               c->kpos + j0 + 16);
        __mmask16 in0 = _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32((int)nk));
        __mmask16 in1 = _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32((int)nk - 16));
        for (r = 0; r < R; r++) {
            __m512i q = _mm512_set1_epi32(qp[r]);
            __mmask16 v0 = in0 & _mm512_cmple_epi32_mask(kp0, q), v1 = in1 & _mm512_cmple_epi32_mask(kp1, q);
            if (p->window) {
                /* kpos > qpos - window, in 64-bit-safe form: kpos - qpos > -window */
                __m512i lo = _mm512_set1_epi32((int)((int64_t)qp[r] - (int64_t)p->window));
                if ((int64_t)qp[r] - (int64_t)p->window >= INT32_MIN) {
                    v0 &= _mm512_cmpgt_epi32_mask(kp0, lo);
                    v1 &= _mm512_cmpgt_epi32_mask(kp1, lo);
                }
            }
            float *s = S + r * ATT_BK;
            if (!(v0 | v1)) { /* nothing visible to this row here: P = 0 */
                memset(s, 0, sizeof(float) * ATT_BK);
                continue;
            }
            __m512 s0 = _mm512_mul_ps(_mm512_load_ps(s), _mm512_set1_ps(p->scale));
            __m512 s1 = _mm512_mul_ps(_mm512_load_ps(s + 16), _mm512_set1_ps(p->scale));
            if (p->softcap > 0) {
                __m512 cap = _mm512_set1_ps(p->softcap), ic = _mm512_set1_ps(1.0f / p->softcap);
                s0 = _mm512_mul_ps(cap, vm_tanh(_mm512_mul_ps(s0, ic)));
                s1 = _mm512_mul_ps(cap, vm_tanh(_mm512_mul_ps(s1, ic)));
            }
            __m512 ninf = _mm512_set1_ps(-INFINITY);
            float mx = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_mask_mov_ps(ninf, v0, s0), _mm512_mask_mov_ps(ninf, v1, s1)));
            float mn = mx > m[r] ? mx : m[r];
            __m512 mv = _mm512_set1_ps(mn);
            __m512 e0 = _mm512_maskz_mov_ps(v0, vm_exp(_mm512_sub_ps(s0, mv)));
            __m512 e1 = _mm512_maskz_mov_ps(v1, vm_exp(_mm512_sub_ps(s1, mv)));
            _mm512_store_ps(s, e0);
            _mm512_store_ps(s + 16, e1);
            float a = m[r] == -INFINITY ? 0.0f : expf(m[r] - mn);
            l[r] = l[r] * a + _mm512_reduce_add_ps(_mm512_add_ps(e0, e1));
            m[r] = mn;
            if (a != 1.0f) {
                __m512 av = _mm512_set1_ps(a);
                float *o = O + r * d;
                for (int64_t e = 0; e < d; e += 16) {
                    __mmask16 mk = d - e >= 16 ? 0xffff : (__mmask16)((1u << (d - e)) - 1);
                    _mm512_mask_storeu_ps(o + e, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, o + e), av));
                }
            }
        }
        for (r = 0; r + 4 <= R; r += 4) att_pv(O + r * d, S + r * ATT_BK, vrow, nk, d, 4);
        for (; r < R; r++) att_pv(O + r * d, S + r * ATT_BK, vrow, nk, d, 1);
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
        c.buf_floats = ((size_t)d * ATT_BK + ATT_BQ * G * ATT_BK + ATT_BQ * G * d + 2 * ATT_BQ * G + 15) & ~(size_t)15;
        c.bufs = cpu_kern_alloc(sizeof(float) * (c.buf_floats * nth) + 2 * sizeof(int32_t) * (nkb + 1));
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
        hone_pool_run(pool, p->n_kv_heads * ((T + ATT_BQ - 1) / ATT_BQ), att_avx512_task, &c);
        free(c.bufs);
        return;
    }
#endif
    hone_pool_run(pool, T * p->n_heads, att_scalar_task, &c);
}
