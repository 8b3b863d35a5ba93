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
 * dx_i += r g_i - x_i r^3 / D * sum_j g_j x_j, with g = dy * w. */
static void ref_rmsnorm_bwd(float *dx, const float *dy, const float *x, const float *w, int64_t T, int64_t D,
                            float eps) {
    for (int64_t t = 0; t < T; t++) {
        const float *xt = x + t * D, *dyt = dy + t * D;
        float *dxt = dx + t * D;
        double r = rms_inv(xt, D, eps), gx = 0;
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
    float *scratch; /* (threads, n_keys) */
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
    att_ctx c = {out, q, k, v, qpos, kpos, T, n_keys, p, NULL};
    c.scratch = malloc((size_t)hone_pool_size(pool) * (size_t)(n_keys > 0 ? n_keys : 1) * sizeof(float));
    if (!c.scratch) abort();
    hone_pool_run(pool, T * p->n_heads, att_task, &c);
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

static const hone_backend REF = {
    .name = "reference (f32)",
    .matmul = ref_matmul,
    .matmul_bwd = ref_matmul_bwd,
    .rmsnorm = ref_rmsnorm,
    .rmsnorm_bwd = ref_rmsnorm_bwd,
    .rope = ref_rope,
    .rope_bwd = ref_rope_bwd,
    .attention = ref_attention,
    .glu = ref_glu,
};

const hone_backend *hone_backend_ref(void) { return &REF; }
