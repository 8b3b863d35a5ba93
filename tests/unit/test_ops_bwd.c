/* test_ops_bwd.c: the reference backward ops (src/ops/ref.c) against central
 * finite differences of double-precision twins of the forward ops written
 * here, on tiny odd shapes: attention (GQA, sliding window over a ring-ordered
 * cache, softcap, a query with no visible key), glu (silu, gelu-tanh),
 * rmsnorm (dx and dw), the LoRA linear (dx through W and the adapter, dA, dB)
 * and the fused LM head + cross-entropy (masked and ignored targets, a vocab
 * that the chunk size does not divide, softcap on and off, large logits, f32
 * and Q8_0 weights), whose loss is also checked against a naive full-logits
 * log-softmax in double.
 *
 * Method: the loss is L = sum(dout * f(inputs)) (or the CE loss itself),
 * evaluated in double on double copies of the f32 inputs; fd_j = (L(x + e_j h)
 * - L(x - e_j h)) / 2h with h = 1e-6. In double, truncation (h^2 * f''' ~
 * 1e-12) and rounding (1e-16 * |L| / h ~ 1e-9) are far below f32 rounding, so
 * fd is the exact gradient for our purposes. The analytic gradient is computed
 * in f32 by the op under test, accumulated onto a nonzero buffer (0.25, so the
 * subtraction afterwards costs at most one f32 ulp of ~0.25 + g).
 *
 * Tolerance: each gradient element is a short sum (at most ~60 terms here) of
 * f32 products of O(1) values: rounding is bounded by ~n u sum|terms| with u =
 * 6e-8 and n = 60, i.e. ~4e-6 of the tensor's largest gradient (typical
 * errors are ~sqrt(n) u, the measured maxima, printed by the test, are
 * 0.7e-7 .. 3e-7). We compare err = max_j |g_j - fd_j| / max_j |fd_j|
 * against 5e-6; a wrong index, sign or missing term gives an error of order
 * 1e-2 .. 1. The fused CE loss must equal the naive double loss within
 * 1e-6 relative (f32 logits of D <= 32 terms: ~1e-7 relative each). */
#include <math.h>

#include "testutil.h"
#include "ops/backend.h"
#include "util/pool.h"

#define GRAD_TOL 5e-6 /* relative to the tensor's largest |gradient|; see above */
#define FD_H 1e-6

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}
static float *rndf(size_t n, double amp) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(amp * urand());
    return p;
}
static double *to_d(const float *x, size_t n) {
    double *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = x[i];
    return p;
}
static float *filled(size_t n, float v) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}

static hone_pool *pool;
static double worst[8]; /* measured max error per op family, printed at the end */
enum { W_RMS, W_GLU, W_ATT, W_LORA, W_CE_DH, W_CE_LOSS, W_N };
static const char *wname[W_N] = {"rmsnorm_bwd", "glu_bwd", "attention_bwd", "lora_linear_bwd", "lm_head_ce dh",
                                  "lm_head_ce loss (rel)"};

static int setup(void **st) {
    (void)st;
    hone_err err;
    return hone_pool_create(&pool, 3, &err);
}
static int teardown(void **st) {
    (void)st;
    hone_pool_free(pool);
    for (int i = 0; i < W_N; i++) print_message("[ MEASURED ] %-24s max err %.3g\n", wname[i], worst[i]);
    return 0;
}

/* Finite-difference check of one input tensor xd (n doubles) whose analytic
 * gradient is g (n floats, already minus the 0.25 offset). loss() evaluates
 * the double twin on the current contents of xd. */
typedef double (*loss_fn)(void *ctx);
static void fd_check(const char *what, int fam, double *xd, size_t n, const float *g, loss_fn loss, void *ctx) {
    double *fd = malloc(n * sizeof *fd), gmax = 0, emax = 0;
    size_t jmax = 0;
    for (size_t j = 0; j < n; j++) {
        double save = xd[j];
        xd[j] = save + FD_H;
        double lp = loss(ctx);
        xd[j] = save - FD_H;
        double lm = loss(ctx);
        xd[j] = save;
        fd[j] = (lp - lm) / (2 * FD_H);
        if (fabs(fd[j]) > gmax) gmax = fabs(fd[j]);
    }
    if (gmax == 0) fail_msg("%s: gradient identically zero, the check would be vacuous", what);
    for (size_t j = 0; j < n; j++) {
        double e = fabs(g[j] - fd[j]) / gmax;
        if (!(e <= emax)) emax = e, jmax = j; /* a NaN is kept, and fails below */
    }
    if (emax > worst[fam]) worst[fam] = emax;
    if (!(emax <= GRAD_TOL))
        fail_msg("%s: [%zu] analytic %.9g, finite difference %.9g (err %.3g of max |g| %.3g > %g)", what, jmax,
                 g[jmax], fd[jmax], emax, gmax, GRAD_TOL);
    free(fd);
}

/* g -= 0.25 (the accumulation offset) */
static void unoffset(float *g, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] -= 0.25f;
}

/* ---- rmsnorm ---------------------------------------------------------------- */

typedef struct rms_ctx {
    double *x, *w, *dy;
    int64_t T, D;
    double eps;
} rms_ctx;

static double rms_loss(void *vc) {
    rms_ctx *c = vc;
    double L = 0;
    for (int64_t t = 0; t < c->T; t++) {
        double ss = 0;
        for (int64_t i = 0; i < c->D; i++) ss += c->x[t * c->D + i] * c->x[t * c->D + i];
        double r = 1 / sqrt(ss / c->D + c->eps);
        for (int64_t i = 0; i < c->D; i++) L += c->dy[t * c->D + i] * c->x[t * c->D + i] * r * c->w[i];
    }
    return L;
}

static void t_rmsnorm_bwd(void **st) {
    (void)st;
    const hone_backend *be = hone_backend_ref();
    int64_t T = 3, D = 13;
    float eps = 1e-6f;
    float *x = rndf((size_t)(T * D), 1.0), *w = rndf((size_t)D, 1.0), *dy = rndf((size_t)(T * D), 1.0);
    float *dx = filled((size_t)(T * D), 0.25f), *dw = filled((size_t)D, 0.25f);
    be->rmsnorm_bwd(dx, dw, dy, x, w, T, D, eps);
    unoffset(dx, (size_t)(T * D)), unoffset(dw, (size_t)D);
    rms_ctx c = {to_d(x, (size_t)(T * D)), to_d(w, (size_t)D), to_d(dy, (size_t)(T * D)), T, D, eps};
    fd_check("rmsnorm_bwd dx", W_RMS, c.x, (size_t)(T * D), dx, rms_loss, &c);
    fd_check("rmsnorm_bwd dw", W_RMS, c.w, (size_t)D, dw, rms_loss, &c);
    /* dw NULL: dx identical */
    float *dx2 = filled((size_t)(T * D), 0.25f);
    be->rmsnorm_bwd(dx2, NULL, dy, x, w, T, D, eps);
    unoffset(dx2, (size_t)(T * D));
    assert_memory_equal(dx, dx2, (size_t)(T * D) * sizeof *dx);
    free(x), free(w), free(dy), free(dx), free(dw), free(dx2), free(c.x), free(c.w), free(c.dy);
}

/* ---- glu -------------------------------------------------------------------- */

typedef struct glu_ctx {
    double *g, *u, *dy;
    int64_t n;
    int gelu;
} glu_ctx;

static double glu_loss(void *vc) {
    glu_ctx *c = vc;
    double L = 0;
    for (int64_t i = 0; i < c->n; i++) {
        double x = c->g[i];
        double a = c->gelu ? 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))) : x / (1 + exp(-x));
        L += c->dy[i] * a * c->u[i];
    }
    return L;
}

static void t_glu_bwd(void **st) {
    (void)st;
    const hone_backend *be = hone_backend_ref();
    int64_t T = 3, D = 11, n = T * D;
    for (int gelu = 0; gelu < 2; gelu++) {
        float *g = rndf((size_t)n, 4.0), *u = rndf((size_t)n, 1.0), *dy = rndf((size_t)n, 1.0);
        float *dg = filled((size_t)n, 0.25f), *du = filled((size_t)n, 0.25f);
        be->glu_bwd(dg, du, dy, g, u, T, D, gelu);
        unoffset(dg, (size_t)n), unoffset(du, (size_t)n);
        glu_ctx c = {to_d(g, (size_t)n), to_d(u, (size_t)n), to_d(dy, (size_t)n), n, gelu};
        fd_check(gelu ? "glu_bwd gelu dgate" : "glu_bwd silu dgate", W_GLU, c.g, (size_t)n, dg, glu_loss, &c);
        fd_check(gelu ? "glu_bwd gelu dup" : "glu_bwd silu dup", W_GLU, c.u, (size_t)n, du, glu_loss, &c);
        free(g), free(u), free(dy), free(dg), free(du), free(c.g), free(c.u), free(c.dy);
    }
}

/* ---- attention -------------------------------------------------------------- */

typedef struct att_ctx {
    double *q, *k, *v, *dout;
    const int32_t *qpos, *kpos;
    int64_t T, n_keys;
    const hone_attn_params *p;
} att_ctx;

/* The forward in double: the same mask rule as backend.h. */
static double att_loss(void *vc) {
    att_ctx *c = vc;
    const hone_attn_params *p = c->p;
    int64_t H = p->n_heads, KV = p->n_kv_heads, hd = p->head_dim;
    double L = 0, s[64];
    for (int64_t t = 0; t < c->T; t++)
        for (int64_t h = 0; h < H; h++) {
            int64_t kh = h / (H / KV);
            double mx = -INFINITY, sum = 0;
            for (int64_t j = 0; j < c->n_keys; j++) {
                int vis = c->kpos[j] <= c->qpos[t] &&
                          (p->window == 0 || (int64_t)c->kpos[j] > (int64_t)c->qpos[t] - (int64_t)p->window);
                s[j] = -INFINITY;
                if (!vis) continue;
                double d = 0;
                for (int64_t e = 0; e < hd; e++) d += c->q[(t * H + h) * hd + e] * c->k[(j * KV + kh) * hd + e];
                d *= p->scale;
                if (p->softcap > 0) d = p->softcap * tanh(d / p->softcap);
                s[j] = d;
                if (d > mx) mx = d;
            }
            if (mx == -INFINITY) continue;
            for (int64_t j = 0; j < c->n_keys; j++) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
            for (int64_t j = 0; j < c->n_keys; j++) {
                if (s[j] == -INFINITY) continue;
                double pj = exp(s[j] - mx) / sum;
                for (int64_t e = 0; e < hd; e++)
                    L += c->dout[(t * H + h) * hd + e] * pj * c->v[(j * KV + kh) * hd + e];
            }
        }
    return L;
}

static void check_attention(uint32_t H, uint32_t KV, uint32_t hd, uint32_t window, float softcap, int64_t T,
                            const int32_t *qpos, int64_t n_keys, const int32_t *kpos) {
    const hone_backend *be = hone_backend_ref();
    hone_attn_params p = {H, KV, hd, 1.0f / sqrtf((float)hd) * 1.7f, window, softcap};
    size_t nq = (size_t)(T * H * hd), nk = (size_t)(n_keys * KV * hd);
    float *q = rndf(nq, 1.5), *k = rndf(nk, 1.5), *v = rndf(nk, 1.0), *dout = rndf(nq, 1.0);
    float *dq = filled(nq, 0.25f), *dk = filled(nk, 0.25f), *dv = filled(nk, 0.25f);
    be->attention_bwd(dq, dk, dv, dout, q, qpos, T, k, v, kpos, n_keys, &p, pool);
    unoffset(dq, nq), unoffset(dk, nk), unoffset(dv, nk);
    att_ctx c = {to_d(q, nq), to_d(k, nk), to_d(v, nk), to_d(dout, nq), qpos, kpos, T, n_keys, &p};
    char what[128];
    snprintf(what, sizeof what, "attention_bwd H=%u KV=%u hd=%u window=%u softcap=%g", H, KV, hd, window, softcap);
    fd_check(what, W_ATT, c.q, nq, dq, att_loss, &c);
    fd_check(what, W_ATT, c.k, nk, dk, att_loss, &c);
    fd_check(what, W_ATT, c.v, nk, dv, att_loss, &c);
    /* determinism: one thread gives the same bits as three */
    float *dq1 = filled(nq, 0.25f), *dk1 = filled(nk, 0.25f), *dv1 = filled(nk, 0.25f);
    be->attention_bwd(dq1, dk1, dv1, dout, q, qpos, T, k, v, kpos, n_keys, &p, NULL);
    unoffset(dq1, nq), unoffset(dk1, nk), unoffset(dv1, nk);
    assert_memory_equal(dq, dq1, nq * 4);
    assert_memory_equal(dk, dk1, nk * 4);
    assert_memory_equal(dv, dv1, nk * 4);
    free(q), free(k), free(v), free(dout), free(dq), free(dk), free(dv), free(dq1), free(dk1), free(dv1);
    free(c.q), free(c.k), free(c.v), free(c.dout);
}

static void t_attention_bwd(void **st) {
    (void)st;
    /* prefill: T queries over themselves, causal */
    int32_t pos5[5] = {0, 1, 2, 3, 4};
    check_attention(4, 2, 5, 0, 0, 5, pos5, 5, pos5);   /* GQA 2:1 */
    check_attention(3, 1, 7, 0, 0, 5, pos5, 5, pos5);   /* MQA 3:1 */
    check_attention(2, 2, 3, 0, 2.0f, 5, pos5, 5, pos5); /* MHA, softcap */
    /* ring-ordered cache of 7 slots holding positions 3..9, queries at 6..9 plus
     * one at 2 that sees no key; sliding window 4 */
    int32_t kring[7] = {7, 8, 9, 3, 4, 5, 6}, qp[5] = {6, 2, 8, 9, 7};
    check_attention(4, 2, 5, 4, 0, 5, qp, 7, kring);
    check_attention(6, 3, 3, 3, 1.5f, 5, qp, 7, kring);
    check_attention(2, 1, 5, 0, 0, 5, qp, 7, kring); /* full causal over the ring */
}

/* ---- LoRA linear ------------------------------------------------------------ */

typedef struct lora_ctx {
    double *x, *W, *bias, *A, *B, *dy;
    int64_t T, n_in, n_out, rank;
    double scale;
} lora_ctx;

static void lora_fwd_d(lora_ctx *c, double *y /* (T, n_out) */) {
    for (int64_t t = 0; t < c->T; t++)
        for (int64_t o = 0; o < c->n_out; o++) {
            double s = c->bias[o], a = 0;
            for (int64_t i = 0; i < c->n_in; i++) s += c->x[t * c->n_in + i] * c->W[o * c->n_in + i];
            for (int64_t r = 0; r < c->rank; r++) {
                double u = 0;
                for (int64_t i = 0; i < c->n_in; i++) u += c->x[t * c->n_in + i] * c->A[r * c->n_in + i];
                a += u * c->B[o * c->rank + r];
            }
            y[t * c->n_out + o] = s + c->scale * a;
        }
}

static double lora_loss(void *vc) {
    lora_ctx *c = vc;
    double y[64], L = 0;
    lora_fwd_d(c, y);
    for (int64_t i = 0; i < c->T * c->n_out; i++) L += c->dy[i] * y[i];
    return L;
}

/* type: the frozen base weight's type (F32, or Q8_0 for the QLoRA path: dx
 * through the quantized W, against the double twin on its dequantized values) */
static void check_lora(int type, int64_t n_in) {
    const hone_backend *be = hone_backend_ref();
    hone_err err;
    int64_t T = 3, n_out = 7, rank = 3;
    float scale = 2.5f;
    size_t nx = (size_t)(T * n_in), ny = (size_t)(T * n_out), nA = (size_t)(rank * n_in), nB = (size_t)(n_out * rank);
    float *x = rndf(nx, 1.0), *W = rndf((size_t)(n_out * n_in), 1.0), *bias = rndf((size_t)n_out, 1.0);
    float *A = rndf(nA, 1.0), *B = rndf(nB, 1.0), *dy = rndf(ny, 1.0), *y = malloc(ny * 4);
    size_t rb = (size_t)hone_dtype_row_bytes(type, (uint64_t)n_in);
    uint8_t *wq = malloc(rb * (size_t)n_out);
    for (int64_t r = 0; r < n_out; r++) {
        ASSERT_OK(hone_quantize(type, W + r * n_in, wq + r * rb, (uint64_t)n_in, &err), &err);
        ASSERT_OK(hone_dequantize(type, wq + r * rb, W + r * n_in, (uint64_t)n_in, &err), &err);
    }
    hone_weight w = {type, wq, n_in, n_out, rb};
    lora_ctx c = {to_d(x, nx), to_d(W, (size_t)(n_out * n_in)), to_d(bias, (size_t)n_out), to_d(A, nA), to_d(B, nB),
                  to_d(dy, ny), T, n_in, n_out, rank, scale};
    /* forward against the double twin: sums of <= 32 + 3 terms in f32 */
    double yd[64]; /* T * n_out */
    lora_fwd_d(&c, yd);
    be->lora_linear(y, x, &w, bias, A, B, scale, rank, T, pool);
    for (size_t i = 0; i < ny; i++)
        if (fabs(y[i] - yd[i]) > 1e-5 * (fabs(yd[i]) + 1))
            fail_msg("lora_linear y[%zu] = %.9g, expected %.9g", i, y[i], yd[i]);
    float *dx = filled(nx, 0.25f), *dA = filled(nA, 0.25f), *dB = filled(nB, 0.25f);
    be->lora_linear_bwd(dx, dA, dB, dy, x, &w, A, B, scale, rank, T, pool);
    unoffset(dx, nx), unoffset(dA, nA), unoffset(dB, nB);
    fd_check("lora_linear_bwd dx", W_LORA, c.x, nx, dx, lora_loss, &c);
    fd_check("lora_linear_bwd dA", W_LORA, c.A, nA, dA, lora_loss, &c);
    fd_check("lora_linear_bwd dB", W_LORA, c.B, nB, dB, lora_loss, &c);
    /* B = 0 (mlx-lm's initialisation): output is the plain linear, dA = 0, dB != 0 */
    float *B0 = filled(nB, 0.0f), *y0 = malloc(ny * 4), *y1 = malloc(ny * 4);
    be->lora_linear(y0, x, &w, bias, A, B0, scale, rank, T, pool);
    be->matmul(y1, x, &w, bias, T, pool);
    assert_memory_equal(y0, y1, ny * 4);
    float *dA0 = filled(nA, 0.0f), *dB0 = filled(nB, 0.0f);
    be->lora_linear_bwd(NULL, dA0, dB0, dy, x, &w, A, B0, scale, rank, T, pool);
    for (size_t i = 0; i < nA; i++) assert_true(dA0[i] == 0.0f);
    double nb = 0;
    for (size_t i = 0; i < nB; i++) nb += fabs(dB0[i]);
    assert_true(nb > 0);
    free(x), free(W), free(bias), free(A), free(B), free(dy), free(y), free(dx), free(dA), free(dB), free(B0), free(y0);
    free(y1), free(dA0), free(dB0), free(wq);
    free(c.x), free(c.W), free(c.bias), free(c.A), free(c.B), free(c.dy);
}

static void t_lora_linear(void **st) {
    (void)st;
    check_lora(HONE_F32, 11);
    check_lora(HONE_Q8_0, 32);
}

/* ---- fused LM head + cross-entropy ------------------------------------------- */

typedef struct ce_ctx {
    double *h, *w; /* (T, D), (V, D) dequantized */
    const int32_t *target;
    const uint8_t *mask;
    int64_t T, D, V;
    double softcap;
} ce_ctx;

/* Naive: the full (T, V) logits in double, log-softmax, summed over counted positions. */
static double ce_loss(void *vc) {
    ce_ctx *c = vc;
    double L = 0, *z = malloc((size_t)c->V * sizeof *z);
    for (int64_t t = 0; t < c->T; t++) {
        if ((c->mask && !c->mask[t]) || c->target[t] < 0 || c->target[t] >= c->V) continue;
        double mx = -INFINITY, s = 0;
        for (int64_t v = 0; v < c->V; v++) {
            double d = 0;
            for (int64_t i = 0; i < c->D; i++) d += c->h[t * c->D + i] * c->w[v * c->D + i];
            if (c->softcap > 0) d = c->softcap * tanh(d / c->softcap);
            z[v] = d;
            if (d > mx) mx = d;
        }
        for (int64_t v = 0; v < c->V; v++) s += exp(z[v] - mx);
        L += mx + log(s) - z[c->target[t]];
    }
    free(z);
    return L;
}

static void check_ce(int type, int64_t T, int64_t D, int64_t V, float softcap, double hamp, const int32_t *target,
                     const uint8_t *mask, int64_t expect_n) {
    const hone_backend *be = hone_backend_ref();
    hone_err err;
    float *wf = rndf((size_t)(V * D), 1.0), *h = rndf((size_t)(T * D), hamp);
    size_t rb = (size_t)hone_dtype_row_bytes(type, (uint64_t)D);
    uint8_t *wq = malloc(rb * (size_t)V);
    float *wd = malloc((size_t)(V * D) * sizeof *wd);
    for (int64_t r = 0; r < V; r++) {
        ASSERT_OK(hone_quantize(type, wf + r * D, wq + r * rb, (uint64_t)D, &err), &err);
        ASSERT_OK(hone_dequantize(type, wq + r * rb, wd + r * D, (uint64_t)D, &err), &err);
    }
    hone_weight w = {type, wq, D, V, rb};
    ce_ctx c = {to_d(h, (size_t)(T * D)), to_d(wd, (size_t)(V * D)), target, mask, T, D, V, softcap};
    double ref = ce_loss(&c);
    float dscale = 0.5f;
    float *dh = filled((size_t)(T * D), 0.25f);
    double loss = 0, loss2 = 0;
    int64_t n = 0, n2 = 0;
    be->lm_head_ce(&loss, &n, dh, h, &w, target, mask, T, softcap, dscale, pool);
    assert_int_equal(n, expect_n);
    double rel = fabs(loss - ref) / fabs(ref);
    if (rel > worst[W_CE_LOSS]) worst[W_CE_LOSS] = rel;
    if (!(rel <= 1e-6)) /* NaN fails too */
        fail_msg("lm_head_ce %s V=%lld softcap=%g: loss %.12g, naive %.12g (rel %.3g > 1e-6)", hone_dtype_name(type),
                 (long long)V, softcap, loss, ref, rel);
    /* without dh, one thread: the same loss; a second call accumulates (x + x == 2x exactly) */
    be->lm_head_ce(&loss2, &n2, NULL, h, &w, target, mask, T, softcap, dscale, NULL);
    assert_true(loss2 == loss);
    be->lm_head_ce(&loss2, &n2, NULL, h, &w, target, mask, T, softcap, dscale, NULL);
    assert_true(loss2 == 2 * loss);
    assert_int_equal(n2, 2 * expect_n);
    /* ignored positions: dh untouched */
    for (int64_t t = 0; t < T; t++)
        if ((mask && !mask[t]) || target[t] < 0 || target[t] >= V)
            for (int64_t i = 0; i < D; i++) assert_true(dh[t * D + i] == 0.25f);
    unoffset(dh, (size_t)(T * D));
    for (int64_t i = 0; i < T * D; i++) dh[i] /= dscale; /* exact: dscale is a power of two */
    char what[128];
    snprintf(what, sizeof what, "lm_head_ce dh %s V=%lld D=%lld softcap=%g amp=%g", hone_dtype_name(type),
             (long long)V, (long long)D, softcap, hamp);
    fd_check(what, W_CE_DH, c.h, (size_t)(T * D), dh, ce_loss, &c);
    /* one thread gives the same bits */
    float *dh1 = filled((size_t)(T * D), 0.25f);
    double l1 = 0;
    be->lm_head_ce(&l1, NULL, dh1, h, &w, target, mask, T, softcap, dscale, NULL);
    assert_true(l1 == loss);
    unoffset(dh1, (size_t)(T * D));
    for (int64_t i = 0; i < T * D; i++) dh1[i] /= dscale;
    assert_memory_equal(dh, dh1, (size_t)(T * D) * 4);
    free(wf), free(h), free(wq), free(wd), free(dh), free(dh1), free(c.h), free(c.w);
}

static void t_lm_head_ce(void **st) {
    (void)st;
    /* 7 positions: two masked out, one ignored (-100), one out of range, targets at both vocab ends */
    int32_t tg[7] = {0, 5, -100, 149, 77, 3, 150};
    uint8_t mask[7] = {1, 1, 1, 1, 0, 1, 1};
    /* V = 150: chunks of 64 + 64 + 22; target 150 >= V is ignored */
    check_ce(HONE_F32, 7, 9, 150, 0.0f, 1.0, tg, mask, 4);
    check_ce(HONE_F32, 7, 9, 150, 3.0f, 1.0, tg, mask, 4);   /* softcap well inside its nonlinear range */
    check_ce(HONE_F32, 7, 9, 150, 0.0f, 12.0, tg, mask, 4);  /* logits of tens: the online rescale matters */
    check_ce(HONE_F32, 7, 9, 150, 0.0f, 1.0, tg, NULL, 5);   /* no mask */
    /* logits in the thousands: exp overflows (even in double) unless every
     * chunk is shifted by the running max */
    check_ce(HONE_F32, 7, 9, 150, 0.0f, 600.0, tg, mask, 4);
    int32_t tq[5] = {69, 0, 33, -1, 12};
    check_ce(HONE_Q8_0, 5, 32, 70, 0.0f, 0.3, tq, NULL, 4);  /* quantized weight, V = 64 + 6 */
    check_ce(HONE_Q8_0, 5, 32, 70, 5.0f, 0.5, tq, NULL, 4);
    /* nothing counted: no loss, no gradient */
    uint8_t none[7] = {0};
    double l = 0;
    int64_t n = 0;
    float *h = rndf(7 * 9, 1.0), *wf = rndf(150 * 9, 1.0), *dh = filled(7 * 9, 0.25f);
    hone_weight w = {HONE_F32, wf, 9, 150, 9 * 4};
    hone_backend_ref()->lm_head_ce(&l, &n, dh, h, &w, tg, none, 7, 0.0f, 1.0f, pool);
    assert_true(l == 0 && n == 0);
    for (int i = 0; i < 7 * 9; i++) assert_true(dh[i] == 0.25f);
    free(h), free(wf), free(dh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_rmsnorm_bwd), cmocka_unit_test(t_glu_bwd),    cmocka_unit_test(t_attention_bwd),
        cmocka_unit_test(t_lora_linear), cmocka_unit_test(t_lm_head_ce),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
