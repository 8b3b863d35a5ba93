/* ref.c: the plain f32 reference backend (hone_backend_ref), the oracle every
 * fast kernel is checked against. Each forward sits next to its backward, with
 * the same argument order; backward ops accumulate (+=).
 *
 * Numerics: everything is f32 with a fixed order of operations, so a result
 * does not depend on the thread count. Dot products keep 16 partial sums
 * (lane l takes elements i == l mod 16) and add them pairwise at the end: the
 * compiler can vectorize that without reassociating anything, which keeps the
 * reference fast enough for real prompts. Reductions whose size is a model
 * dimension (RMS, softmax denominator) accumulate in double.
 *
 * matmul dequantizes MM_ROWS weight rows at a time (hone_dequantize, the
 * gguf-py-exact dequantizers) into a per-thread scratch block and reuses it for
 * all T tokens; the pool splits the output rows. RoPE takes the angle as the
 * f32 product pos * freq, as transformers does (inv_freq @ position_ids in
 * float32), then cos/sin of that f32 angle.
 *
 * Backward (training, issue 5; conventions in backend.h): every *_bwd adds
 * dL/dinput into its gradient buffers (+=), NULL gradients are skipped, and
 * nothing is saved by the forward: attention_bwd recomputes the softmax from
 * q and k, lora_linear_bwd recomputes x A^T. No weight gradient is computed
 * for frozen weights (matmul; rmsnorm's dw only on request). The fused
 * lm_head_ce walks the vocabulary once in chunks with an online logsumexp and
 * a rescaled running gradient, at the supervised positions only. Each section
 * below documents its derivative; tests/unit/test_ops_bwd.c checks all of
 * them against finite differences of double-precision twins.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/backend.h"
#include "util/pool.h"

/* a * b + c stays a multiply then an add on every target (no FMA contraction),
 * so the reference gives the same bits on every machine */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define MM_ROWS 8 /* weight rows dequantized together */

/* Fixed-order f32 dot products. Lane l (0..15) sums a[i]*b[i] over i == l
 * mod 16 in increasing i (a multiply, then an add: never fused), the tail
 * goes to lanes 0.., then the lanes are added pairwise (l += l+8, l += l+4,
 * ...). The vector types are GCC/clang vector extensions whose operations are
 * lane-wise, so the result is the same whatever the vector width the compiler
 * picks; the AVX2 clone only runs it wider. dot4 computes four rows against
 * one x with the same per-row order, reusing each load of x. */
typedef float v8f __attribute__((vector_size(32), aligned(4)));

/* unaligned load (the type's alignment is 4); a macro, so no vector crosses a call */
#define v8_load(p) (*(const v8f *)(const void *)(p))

static inline float lanes_sum(float acc[16]) {
    for (int s = 8; s; s >>= 1)
        for (int l = 0; l < s; l++) acc[l] += acc[l + s];
    return acc[0];
}

#define DOT_BODY(NR)                                                                  \
    v8f lo[NR], hi[NR];                                                               \
    for (int r = 0; r < NR; r++) lo[r] = hi[r] = (v8f){0};                            \
    int64_t i = 0;                                                                    \
    for (; i + 16 <= n; i += 16) {                                                    \
        v8f xl = v8_load(x + i), xh = v8_load(x + i + 8);                             \
        for (int r = 0; r < NR; r++) {                                                \
            lo[r] += xl * v8_load(w[r] + i);                                          \
            hi[r] += xh * v8_load(w[r] + i + 8);                                      \
        }                                                                             \
    }                                                                                 \
    for (int r = 0; r < NR; r++) {                                                    \
        float acc[16];                                                                \
        memcpy(acc, &lo[r], 32);                                                      \
        memcpy(acc + 8, &hi[r], 32);                                                  \
        for (int64_t j = i, l = 0; j < n; j++, l++) acc[l] += x[j] * w[r][j];         \
        out[r] = lanes_sum(acc);                                                      \
    }

static void dot4_generic(const float *x, const float *const w[4], int64_t n, float out[4]) { DOT_BODY(4) }
static void dot1_generic(const float *x, const float *const w[1], int64_t n, float out[1]) { DOT_BODY(1) }
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define HAVE_AVX2_CLONE 1
__attribute__((target("avx2"))) static void dot4_avx2(const float *x, const float *const w[4], int64_t n,
                                                      float out[4]) { DOT_BODY(4) }
__attribute__((target("avx2"))) static void dot1_avx2(const float *x, const float *const w[1], int64_t n,
                                                      float out[1]) { DOT_BODY(1) }
#endif

typedef void (*dot_fn)(const float *x, const float *const *w, int64_t n, float *out);
static dot_fn dot4_impl = dot4_generic, dot1_impl = dot1_generic;
static pthread_once_t dot_once = PTHREAD_ONCE_INIT;

static void dot_pick(void) {
#ifdef HAVE_AVX2_CLONE
    if (hone_cpu_features() & HONE_CPU_AVX2) {
        dot4_impl = dot4_avx2;
        dot1_impl = dot1_avx2;
    }
#endif
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    float r;
    dot1_impl(a, &b, n, &r);
    return r;
}

/* ---- matmul ---------------------------------------------------------------- */

typedef struct mm_ctx {
    float *y;             /* (T, n_out) */
    const float *x;       /* (T, n_in) */
    const hone_weight *w; /* (n_out, n_in) */
    const float *bias;    /* (n_out) or NULL */
    float *dx;            /* bwd: (T, n_in) */
    const float *dy;      /* bwd: (T, n_out) */
    int64_t T;
    int64_t chunk;        /* bwd: columns per task */
    float *scratch;       /* (threads, MM_ROWS, n_in) */
} mm_ctx;

static void dequant_rows(const hone_weight *w, int64_t r0, int64_t r1, float *dst /* (r1-r0, n_in) */) {
    if (w->type == HONE_F32) {
        memcpy(dst, (const uint8_t *)w->data + (size_t)r0 * w->row_bytes, (size_t)(r1 - r0) * w->row_bytes);
        return;
    }
    for (int64_t r = r0; r < r1; r++)
        hone_dequantize(w->type, (const uint8_t *)w->data + (size_t)r * w->row_bytes, dst + (r - r0) * w->n_in,
                        (uint64_t)w->n_in, NULL); /* type checked when the weight was bound */
}

static void mm_task(void *vc, int64_t ib, int tid) {
    mm_ctx *c = vc;
    const hone_weight *w = c->w;
    int64_t n_in = w->n_in, n_out = w->n_out;
    int64_t r0 = ib * MM_ROWS, r1 = r0 + MM_ROWS < n_out ? r0 + MM_ROWS : n_out;
    float *wr = c->scratch + (size_t)tid * MM_ROWS * n_in;
    dequant_rows(w, r0, r1, wr);
    for (int64_t t = 0; t < c->T; t++) {
        const float *xt = c->x + t * n_in;
        float *yt = c->y + t * n_out;
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4) {
            const float *w4[4] = {wr + (r - r0) * n_in, wr + (r + 1 - r0) * n_in, wr + (r + 2 - r0) * n_in,
                                  wr + (r + 3 - r0) * n_in};
            dot4_impl(xt, w4, n_in, yt + r);
        }
        for (; r < r1; r++) yt[r] = dot_f32(xt, wr + (r - r0) * n_in, n_in);
        if (c->bias)
            for (r = r0; r < r1; r++) yt[r] = yt[r] + c->bias[r];
    }
}

static void ref_matmul(float *y, const float *x, const hone_weight *w, const float *bias, int64_t T,
                       hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    mm_ctx c = {.y = y, .x = x, .w = w, .bias = bias, .T = T};
    c.scratch = malloc((size_t)hone_pool_size(pool) * MM_ROWS * (size_t)w->n_in * sizeof(float));
    if (!c.scratch) abort(); /* the reference has no error path; a few KB per thread */
    hone_pool_run(pool, (w->n_out + MM_ROWS - 1) / MM_ROWS, mm_task, &c);
    free(c.scratch);
}

/* Several projections of one input: one matmul each (backend.h). */
static void ref_matmul_n(float *const *ys, const float *x, const hone_weight *const *ws, const float *const *bs,
                         int n, int64_t T, hone_pool *pool) {
    for (int j = 0; j < n; j++) ref_matmul(ys[j], x, ws[j], bs ? bs[j] : NULL, T, pool);
}

/* dx (T, n_in) += dy (T, n_out) W: each task owns a column range of dx (whole
 * quantization blocks), dequantizes that slice of every row in turn and adds
 * dy[t][r] * W[r][cols] in row order, so the sum order is fixed. */
static void mmb_task(void *vc, int64_t ic, int tid) {
    mm_ctx *c = vc;
    const hone_weight *w = c->w;
    int64_t n_in = w->n_in, c0 = ic * c->chunk, c1 = c0 + c->chunk < n_in ? c0 + c->chunk : n_in;
    uint32_t bs = hone_dtype_block(w->type);
    size_t off = (size_t)(c0 / bs) * hone_dtype_block_bytes(w->type);
    float *wr = c->scratch + (size_t)tid * c->chunk;
    for (int64_t r = 0; r < w->n_out; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes + off;
        if (w->type == HONE_F32) memcpy(wr, row, (size_t)(c1 - c0) * sizeof(float));
        else hone_dequantize(w->type, row, wr, (uint64_t)(c1 - c0), NULL);
        for (int64_t t = 0; t < c->T; t++) {
            float g = c->dy[t * w->n_out + r];
            float *d = c->dx + t * n_in + c0;
            for (int64_t i = 0; i < c1 - c0; i++) d[i] += g * wr[i];
        }
    }
}

static void ref_matmul_bwd(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *pool) {
    uint32_t bs = hone_dtype_block(w->type);
    int64_t chunk = bs >= 256 ? bs : 256 / bs * bs;
    mm_ctx c = {.dx = dx, .dy = dy, .w = w, .T = T, .chunk = chunk};
    c.scratch = malloc((size_t)hone_pool_size(pool) * (size_t)chunk * sizeof(float));
    if (!c.scratch) abort();
    hone_pool_run(pool, (w->n_in + chunk - 1) / chunk, mmb_task, &c);
    free(c.scratch);
}

/* ---- RMSNorm --------------------------------------------------------------- */

/* 1 / sqrt(mean(x^2) + eps), the sum in double. */
static float rms_inv(const float *x, int64_t D, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < D; i++) ss += (double)x[i] * x[i];
    return (float)(1.0 / sqrt(ss / (double)D + (double)eps));
}

static void ref_rmsnorm(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * D;
        float *yt = y + t * D;
        float r = rms_inv(xt, D, eps);
        for (int64_t i = 0; i < D; i++) yt[i] = xt[i] * r * w[i];
    }
}

/* y_i = x_i r w_i, r = (mean(x^2) + eps)^-1/2:
 * dx_i += r g_i - x_i r^3 / D * sum_j g_j x_j, with g = dy * w;
 * dw_i += sum_t dy_ti x_ti r_t (optional: LoRA training freezes the norms). */
static void ref_rmsnorm_bwd(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t T,
                            int64_t D, float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * D, *dyt = dy + t * D;
        double r = rms_inv(xt, D, eps), gx = 0;
        if (dw)
            for (int64_t i = 0; i < D; i++) dw[i] += (float)((double)dyt[i] * xt[i] * r);
        if (!dx) continue;
        float *dxt = dx + t * D;
        for (int64_t i = 0; i < D; i++) gx += (double)dyt[i] * w[i] * xt[i];
        double k = r * r * r * gx / (double)D;
        for (int64_t i = 0; i < D; i++) dxt[i] += (float)(r * dyt[i] * w[i] - k * xt[i]);
    }
}

/* ---- RoPE ------------------------------------------------------------------ */

/* Rotates each pair by +angle (dir 1) or -angle (dir -1). */
static void rope_apply(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim, int64_t rope_dim,
                       const float *freqs, hone_rope_mode mode, int dir) {
    int64_t half = rope_dim / 2;
    for (int64_t t = 0; t < T; t++) {
        float p = (float)pos[t];
        for (int64_t i = 0; i < half; i++) {
            float a = p * freqs[i]; /* f32 product, as transformers */
            float c = (float)cos((double)a), s = dir * (float)sin((double)a);
            for (int64_t h = 0; h < H; h++) {
                float *xh = x + (t * H + h) * head_dim;
                int64_t i0 = mode == HONE_ROPE_NEOX ? i : 2 * i, i1 = mode == HONE_ROPE_NEOX ? i + half : 2 * i + 1;
                float x0 = xh[i0], x1 = xh[i1];
                xh[i0] = x0 * c - x1 * s;
                xh[i1] = x1 * c + x0 * s;
            }
        }
    }
}

static void ref_rope(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim, int64_t rope_dim,
                     const float *freqs, hone_rope_mode mode) {
    rope_apply(x, pos, T, H, head_dim, rope_dim, freqs, mode, 1);
}

/* The rotation is orthogonal: its transpose (the gradient map) is the inverse
 * rotation, applied in place to the incoming gradient. */
static void ref_rope_bwd(float *dx, const int32_t *pos, int64_t T, int64_t H, int64_t head_dim,
                         int64_t rope_dim, const float *freqs, hone_rope_mode mode) {
    rope_apply(dx, pos, T, H, head_dim, rope_dim, freqs, mode, -1);
}

/* ---- attention ------------------------------------------------------------- */

/* y += a x, element by element (vectorizable: no aliasing). */
static void axpy(float *restrict y, float a, const float *restrict x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

typedef struct att_ctx {
    float *out;
    const float *q, *k, *v;
    const int32_t *qpos, *kpos;
    int64_t T, n_keys;
    const hone_attn_params *p;
    float *scratch; /* (threads, n_keys) fwd; (threads, 3, n_keys) bwd */
    float *dq, *dk, *dv;  /* bwd: (T, H, hd), (n_keys, KV, hd) x2 */
    const float *dout;    /* bwd: (T, H, hd) */
} att_ctx;

static int key_visible(int32_t kp, int32_t qp, uint32_t window) {
    return kp <= qp && (window == 0 || (int64_t)kp > (int64_t)qp - (int64_t)window);
}

/* One (query, head): scores, max-subtracted softmax over the visible keys, sum of values. */
static void att_task(void *vc, int64_t idx, int tid) {
    att_ctx *c = vc;
    const hone_attn_params *p = c->p;
    int64_t H = p->n_heads, KV = p->n_kv_heads, hd = p->head_dim;
    int64_t t = idx / H, h = idx % H, kh = h / (H / KV);
    const float *qh = c->q + (t * H + h) * hd;
    float *s = c->scratch + (size_t)tid * c->n_keys;
    float *o = c->out + (t * H + h) * hd;
    float mx = -INFINITY;
    for (int64_t j = 0; j < c->n_keys; j++) {
        if (!key_visible(c->kpos[j], c->qpos[t], p->window)) {
            s[j] = -INFINITY;
            continue;
        }
        float sc = dot_f32(qh, c->k + (j * KV + kh) * hd, hd) * p->scale;
        if (p->softcap > 0) sc = p->softcap * tanhf(sc / p->softcap);
        s[j] = sc;
        if (sc > mx) mx = sc;
    }
    for (int64_t d = 0; d < hd; d++) o[d] = 0;
    if (mx == -INFINITY) return; /* no visible key: zeros */
    double sum = 0;
    for (int64_t j = 0; j < c->n_keys; j++) {
        float e = s[j] == -INFINITY ? 0.0f : expf(s[j] - mx);
        s[j] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < c->n_keys; j++) {
        if (s[j] == 0.0f) continue;
        float pj = s[j] * inv;
        axpy(o, pj, c->v + (j * KV + kh) * hd, hd);
    }
}

static void ref_attention(float *out, const float *q, const int32_t *qpos, int64_t T, const float *k,
                          const float *v, const int32_t *kpos, int64_t n_keys, const hone_attn_params *p,
                          hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    att_ctx c = {out, q, k, v, qpos, kpos, T, n_keys, p, NULL, NULL, NULL, NULL, NULL};
    c.scratch = malloc((size_t)hone_pool_size(pool) * (size_t)(n_keys > 0 ? n_keys : 1) * sizeof(float));
    if (!c.scratch) abort();
    hone_pool_run(pool, T * p->n_heads, att_task, &c);
    free(c.scratch);
}

/* Backward, recomputing the softmax from q and k (as flash attention does):
 * saved probabilities would cost T * n_heads * n_keys floats per layer.
 * For one (query t, head h), with z_j = scale q.k_j, s_j = softcap(z_j),
 * P = softmax(s) over visible keys:
 *   dP_j = dout . v_j,  dS_j = P_j (dP_j - sum_l P_l dP_l),
 *   dz_j = dS_j * (1 - (s_j/softcap)^2)   [tanh' ; 1 without softcap],
 *   dq += scale sum_j dz_j k_j,  dk_j += scale dz_j q,  dv_j += P_j dout.
 * One task per kv head: it owns that head's dk/dv rows and the dq rows of the
 * query heads sharing it, visited in (t, h) order, so no two threads write the
 * same gradient and the sums have a fixed order. */
static void attb_task(void *vc, int64_t kh, int tid) {
    att_ctx *c = vc;
    const hone_attn_params *p = c->p;
    int64_t H = p->n_heads, KV = p->n_kv_heads, hd = p->head_dim, G = H / KV, n = c->n_keys;
    float *s = c->scratch + (size_t)tid * 3 * n; /* (n) capped score, then P_j */
    float *dp = s + n;                           /* (n) dP_j */
    float *fac = dp + n;                         /* (n) d s_j / d z_j */
    for (int64_t t = 0; t < c->T; t++)
        for (int64_t h = kh * G; h < (kh + 1) * G; h++) {
            const float *qh = c->q + (t * H + h) * hd, *go = c->dout + (t * H + h) * hd;
            float mx = -INFINITY;
            for (int64_t j = 0; j < n; j++) {
                if (!key_visible(c->kpos[j], c->qpos[t], p->window)) {
                    s[j] = -INFINITY;
                    continue;
                }
                float sc = dot_f32(qh, c->k + (j * KV + kh) * hd, hd) * p->scale;
                fac[j] = 1.0f;
                if (p->softcap > 0) {
                    float th = tanhf(sc / p->softcap);
                    sc = p->softcap * th;
                    fac[j] = 1.0f - th * th;
                }
                s[j] = sc;
                if (sc > mx) mx = sc;
            }
            if (mx == -INFINITY) continue; /* no visible key: the output was 0, no gradient */
            double sum = 0, pdp = 0;
            for (int64_t j = 0; j < n; j++) {
                s[j] = s[j] == -INFINITY ? 0.0f : expf(s[j] - mx); /* as the forward */
                sum += s[j];
            }
            float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < n; j++) {
                if (s[j] == 0.0f) continue; /* masked (or underflowed: P_j = 0, no gradient) */
                s[j] *= inv;
                dp[j] = dot_f32(go, c->v + (j * KV + kh) * hd, hd);
                pdp += (double)s[j] * dp[j];
                if (c->dv) axpy(c->dv + (j * KV + kh) * hd, s[j], go, hd);
            }
            for (int64_t j = 0; j < n; j++) {
                if (s[j] == 0.0f) continue;
                float dz = (float)((double)s[j] * (dp[j] - pdp)) * fac[j] * p->scale;
                if (c->dq) axpy(c->dq + (t * H + h) * hd, dz, c->k + (j * KV + kh) * hd, hd);
                if (c->dk) axpy(c->dk + (j * KV + kh) * hd, dz, qh, hd);
            }
        }
}

static void ref_attention_bwd(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const int32_t *qpos, int64_t T, const float *k, const float *v, const int32_t *kpos,
                              int64_t n_keys, const hone_attn_params *p, hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    att_ctx c = {NULL, q, k, v, qpos, kpos, T, n_keys, p, NULL, dq, dk, dv, dout};
    c.scratch = malloc((size_t)hone_pool_size(pool) * 3 * (size_t)(n_keys > 0 ? n_keys : 1) * sizeof(float));
    if (!c.scratch) abort();
    hone_pool_run(pool, p->n_kv_heads, attb_task, &c);
    free(c.scratch);
}

/* ---- gated activations ------------------------------------------------------ */

/* transformers' gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static float gelu_tanh(float x) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

static float silu(float x) { return x / (1.0f + expf(-x)); }

static void ref_glu(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu) {
    for (int64_t i = 0; i < T * D; i++) y[i] = (gelu ? gelu_tanh(gate[i]) : silu(gate[i])) * up[i];
}

/* d act / d x, in double, of the same functions:
 * silu' = sig(x) (1 + x (1 - sig(x)));
 * gelu_tanh' = 0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3 * 0.044715 x^2),
 * th = tanh(k (x + 0.044715 x^3)): the derivative of the approximation itself. */
static void ref_glu_bwd(float *dgate, float *dup, const float *dy, const float *gate, const float *up, int64_t T,
                        int64_t D, int gelu) {
    const double k = 0.7978845608028654, a = 0.044715;
    for (int64_t i = 0; i < T * D; i++) {
        double x = gate[i], act, der;
        if (gelu) {
            double th = tanh(k * (x + a * x * x * x));
            act = 0.5 * x * (1.0 + th);
            der = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * a * x * x);
        } else {
            double sg = 1.0 / (1.0 + exp(-x));
            act = x * sg;
            der = sg * (1.0 + x * (1.0 - sg));
        }
        if (dgate) dgate[i] += (float)((double)dy[i] * up[i] * der);
        if (dup) dup[i] += (float)((double)dy[i] * act);
    }
}

/* ---- LoRA linear ------------------------------------------------------------ */

/* u (T, rank) = x (T, n_in) A^T, A (rank, n_in) */
static void lora_down(float *u, const float *x, const float *A, int64_t rank, int64_t n_in, int64_t T) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < rank; r++) u[t * rank + r] = dot_f32(x + t * n_in, A + r * n_in, n_in);
}

/* y = x W^T [+ bias] + scale (x A^T) B^T. The adapter path is two thin
 * matmuls through the rank (x A^T first: rank << n_in, n_out); u = x A^T is
 * recomputed by the backward instead of saved. A or B NULL or rank 0: plain
 * matmul. Dropout on the adapter's input is the caller's (not modelled). */
static void ref_lora_linear(float *y, const float *x, const hone_weight *w, const float *bias, const float *A,
                            const float *B, float scale, int64_t rank, int64_t T, hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    ref_matmul(y, x, w, bias, T, pool);
    if (rank <= 0 || !A || !B) return;
    int64_t n_in = w->n_in, n_out = w->n_out;
    float *u = malloc((size_t)(T * rank) * sizeof *u);
    if (!u) abort();
    lora_down(u, x, A, rank, n_in, T);
    for (int64_t t = 0; t < T; t++)
        for (int64_t o = 0; o < n_out; o++) y[t * n_out + o] += scale * dot_f32(u + t * rank, B + o * rank, rank);
    free(u);
}

/* u = x A^T (T, rank), g = dy B (T, rank):
 * dx += dy W + scale g A;  dA += scale g^T x;  dB += scale dy^T u. */
static void ref_lora_linear_bwd(float *dx, float *dA, float *dB, const float *dy, const float *x,
                                const hone_weight *w, const float *A, const float *B, float scale, int64_t rank,
                                int64_t T, hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    int64_t n_in = w->n_in, n_out = w->n_out;
    if (dx) ref_matmul_bwd(dx, dy, w, T, pool);
    if (rank <= 0 || !A || !B) return;
    float *u = malloc((size_t)(T * rank) * sizeof *u), *g = calloc((size_t)(T * rank), sizeof *g);
    if (!u || !g) abort();
    lora_down(u, x, A, rank, n_in, T);
    for (int64_t t = 0; t < T; t++) /* g[t] = sum_o dy[t][o] B[o] */
        for (int64_t o = 0; o < n_out; o++) axpy(g + t * rank, dy[t * n_out + o], B + o * rank, rank);
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < rank; r++) {
            float gs = scale * g[t * rank + r];
            if (dx) axpy(dx + t * n_in, gs, A + r * n_in, n_in);
            if (dA) axpy(dA + r * n_in, gs, x + t * n_in, n_in);
        }
    if (dB)
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < n_out; o++) axpy(dB + o * rank, scale * dy[t * n_out + o], u + t * rank, rank);
    free(u);
    free(g);
}

/* ---- fused LM head + cross-entropy --------------------------------------------
 *
 * One pass over the vocabulary in chunks of LMH_CHUNK weight rows, never a
 * (T, vocab) tensor. Per counted position t it keeps a running max m, a
 * running sum s = sum_v exp(z_v - m) (double) and, for the gradient, a running
 * acc = sum_v exp(z_v - m) c'_v w_v (D doubles), where c'_v = dz_v/d(h w_v) is
 * the softcap derivative (1 without softcap). When a chunk raises the max, s
 * and acc are rescaled by exp(m_old - m_new) (online softmax). At the end
 *   loss_t = m + log s - z_target,
 *   dh_t += dscale (acc / s - c'_target w_target).
 * One pass costs two (positions x vocab x D) products (the logits and the acc
 * update) versus three for two passes (logits, then logits again and dh). The
 * positions are split across threads; each thread walks the whole vocabulary
 * (chunk outer, its positions inner), so every per-position sum has the same
 * order whatever the thread count (at the price of each thread dequantizing
 * the weight once). Memory: (n, D) doubles of acc, no vocab-sized buffer. */
#define LMH_CHUNK 64

typedef struct lmh_ctx {
    const float *h;        /* (T, D) */
    const hone_weight *w;  /* (vocab, D) */
    const int32_t *target; /* (T) */
    const int64_t *pos;    /* (n) counted positions */
    int64_t n, per_task;
    float softcap, dscale;
    float *dh;             /* (T, D) or NULL */
    double *loss_t;        /* (n) per counted position */
    float *m;              /* (n) running max */
    double *s;             /* (n) running sum of exp(z - m) */
    float *zt;             /* (n) target logit */
    double *acc;           /* (n, D) running sum of exp(z_v - m) c'_v w_v; only with dh */
    float *scratch;        /* (threads, LMH_CHUNK + 1, D) */
    float *zbuf;           /* (threads, LMH_CHUNK) */
} lmh_ctx;

static void lmh_task(void *vc, int64_t ib, int tid) {
    lmh_ctx *c = vc;
    const hone_weight *w = c->w;
    int64_t D = w->n_in, V = w->n_out;
    float *wr = c->scratch + (size_t)tid * (LMH_CHUNK + 1) * D, *wt = wr + LMH_CHUNK * D;
    float *z = c->zbuf + (size_t)tid * LMH_CHUNK;
    int64_t i0 = ib * c->per_task, i1 = i0 + c->per_task < c->n ? i0 + c->per_task : c->n;
    for (int64_t i = i0; i < i1; i++) {
        c->m[i] = -INFINITY;
        c->s[i] = 0;
        c->zt[i] = 0;
        if (c->dh) memset(c->acc + i * D, 0, (size_t)D * sizeof *c->acc);
    }
    for (int64_t v0 = 0; v0 < V; v0 += LMH_CHUNK) {
        int64_t nv = V - v0 < LMH_CHUNK ? V - v0 : LMH_CHUNK;
        dequant_rows(w, v0, v0 + nv, wr);
        for (int64_t i = i0; i < i1; i++) {
            int64_t t = c->pos[i];
            int32_t tg = c->target[t];
            const float *ht = c->h + t * D;
            double *acc = c->dh ? c->acc + i * D : NULL; /* (D), only with dh */
            float cm = -INFINITY;
            for (int64_t v = 0; v < nv; v++) {
                z[v] = dot_f32(ht, wr + v * D, D);
                if (c->softcap > 0) z[v] = c->softcap * tanhf(z[v] / c->softcap);
                if (z[v] > cm) cm = z[v];
                if (v0 + v == tg) c->zt[i] = z[v];
            }
            if (cm > c->m[i]) { /* rescale the running sums to the new max */
                double f = c->m[i] == -INFINITY ? 0.0 : exp((double)c->m[i] - cm);
                c->s[i] *= f;
                if (c->dh)
                    for (int64_t d = 0; d < D; d++) acc[d] *= f;
                c->m[i] = cm;
            }
            for (int64_t v = 0; v < nv; v++) {
                double e = exp((double)z[v] - c->m[i]);
                c->s[i] += e;
                if (!c->dh) continue;
                if (c->softcap > 0) e *= 1.0 - ((double)z[v] / c->softcap) * ((double)z[v] / c->softcap);
                const float *wv = wr + v * D;
                for (int64_t d = 0; d < D; d++) acc[d] += e * wv[d];
            }
        }
    }
    for (int64_t i = i0; i < i1; i++) {
        int64_t t = c->pos[i];
        int32_t tg = c->target[t];
        c->loss_t[i] = (double)c->m[i] + log(c->s[i]) - c->zt[i];
        if (!c->dh) continue;
        double ct = 1.0;
        if (c->softcap > 0) ct = 1.0 - ((double)c->zt[i] / c->softcap) * ((double)c->zt[i] / c->softcap);
        dequant_rows(w, tg, tg + 1, wt);
        float *dht = c->dh + t * D;
        const double *acc = c->acc + i * D;
        for (int64_t d = 0; d < D; d++) dht[d] += (float)(c->dscale * (acc[d] / c->s[i] - ct * wt[d]));
    }
}

static void ref_lm_head_ce(double *loss, int64_t *n_counted, float *dh, const float *h, const hone_weight *w,
                           const int32_t *target, const uint8_t *mask, int64_t T, float softcap, float dscale,
                           hone_pool *pool) {
    pthread_once(&dot_once, dot_pick);
    int64_t n = 0, D = w->n_in, nth = hone_pool_size(pool);
    int64_t *pos = malloc((size_t)(T > 0 ? T : 1) * sizeof *pos);
    if (!pos) abort();
    for (int64_t t = 0; t < T; t++)
        if ((!mask || mask[t]) && target[t] >= 0 && target[t] < w->n_out) pos[n++] = t;
    if (n_counted) *n_counted += n;
    if (n == 0) {
        free(pos);
        return;
    }
    lmh_ctx c = {.h = h, .w = w, .target = target, .pos = pos, .n = n, .softcap = softcap, .dscale = dscale, .dh = dh};
    c.per_task = (n + nth - 1) / nth;
    c.loss_t = malloc((size_t)n * sizeof *c.loss_t);
    c.m = malloc((size_t)n * sizeof *c.m);
    c.s = malloc((size_t)n * sizeof *c.s);
    c.zt = malloc((size_t)n * sizeof *c.zt);
    c.acc = dh ? malloc((size_t)(n * D) * sizeof *c.acc) : NULL;
    c.scratch = malloc((size_t)nth * (LMH_CHUNK + 1) * (size_t)D * sizeof *c.scratch);
    c.zbuf = malloc((size_t)nth * LMH_CHUNK * sizeof *c.zbuf);
    if (!c.loss_t || !c.m || !c.s || !c.zt || (dh && !c.acc) || !c.scratch || !c.zbuf) abort();
    hone_pool_run(pool, (n + c.per_task - 1) / c.per_task, lmh_task, &c);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += c.loss_t[i]; /* position order */
    if (loss) *loss += sum;
    free(c.loss_t), free(c.m), free(c.s), free(c.zt), free(c.acc), free(c.scratch), free(c.zbuf), free(pos);
}

static const hone_backend REF = {
    .name = "reference (f32)",
    .matmul = ref_matmul,
    .matmul_bwd = ref_matmul_bwd,
    .rmsnorm = ref_rmsnorm,
    .rmsnorm_bwd = ref_rmsnorm_bwd,
    .rope = ref_rope,
    .rope_bwd = ref_rope_bwd,
    .attention = ref_attention,
    .attention_bwd = ref_attention_bwd,
    .glu = ref_glu,
    .glu_bwd = ref_glu_bwd,
    .lora_linear = ref_lora_linear,
    .lora_linear_bwd = ref_lora_linear_bwd,
    .lm_head_ce = ref_lm_head_ce,
    .matmul_n = ref_matmul_n,
};

const hone_backend *hone_backend_ref(void) { return &REF; }
