/* test_ops_ref.c: the reference ops (src/ops/ref.c) against naive
 * double-precision loops written here on random inputs of odd sizes, the
 * backward ops against central finite differences of the forward ops, RoPE's
 * inverse, and the attention mask rule on a ring-ordered cache. Only the
 * reference is checked here: the fast kernels (which may quantize activations
 * to int8) are checked against it with their own tolerances in test_ops_cpu.c.
 *
 * Tolerances: the ops compute in f32 with sums of at most a few hundred
 * terms; against an exact (double) sum the relative error is bounded by
 * ~n * 2^-24 ~ 1e-5 for n ~ 200, so 2e-5 relative (per output, measured as
 * |a - b| <= tol * (sum of |terms|)) cannot fail by rounding but catches any
 * wrong index. Finite differences in double of an f32 function: step 1e-2,
 * truncation error O(h^2) ~1e-4 on smooth functions plus f32 noise
 * ~1e-7/h ~ 1e-5: 2e-3 relative. */
#include <math.h>

#include "testutil.h"
#include "ops/backend.h"
#include "util/pool.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}
static float *rnd(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static hone_pool *pool;

static int setup(void **st) {
    hone_err err;
    return hone_pool_create(&pool, 3, &err);
}
static int teardown(void **st) {
    hone_pool_free(pool);
    return 0;
}

/* matmul, F32 / F16 / BF16 / Q8_0 / Q4_K weights, odd T and n_out, with and without bias,
 * against double loops over the dequantized weight. */
static void check_matmul(const hone_backend *be, int type, int64_t T, int64_t n_in, int64_t n_out, int bias) {
    float *wf = rnd((size_t)(n_in * n_out)), *x = rnd((size_t)(T * n_in)), *b = bias ? rnd((size_t)n_out) : NULL;
    size_t rb = (size_t)hone_dtype_row_bytes(type, (uint64_t)n_in);
    uint8_t *wq = malloc(rb * (size_t)n_out);
    hone_err err;
    for (int64_t r = 0; r < n_out; r++) ASSERT_OK(hone_quantize(type, wf + r * n_in, wq + r * rb, n_in, &err), &err);
    float *wd = malloc((size_t)(n_in * n_out) * sizeof *wd);
    for (int64_t r = 0; r < n_out; r++) ASSERT_OK(hone_dequantize(type, wq + r * rb, wd + r * n_in, n_in, &err), &err);
    hone_weight w = {type, wq, n_in, n_out, rb};
    float *y = malloc((size_t)(T * n_out) * sizeof *y);
    be->matmul(y, x, &w, b, T, pool);
    for (int64_t t = 0; t < T; t++)
        for (int64_t r = 0; r < n_out; r++) {
            double s = b ? b[r] : 0, mag = b ? fabs(b[r]) : 0;
            for (int64_t i = 0; i < n_in; i++) {
                s += (double)x[t * n_in + i] * wd[r * n_in + i];
                mag += fabs((double)x[t * n_in + i] * wd[r * n_in + i]);
            }
            if (fabs(y[t * n_out + r] - s) > 2e-5 * mag + 1e-30)
                fail_msg("%s matmul %s T=%lld n_in=%lld n_out=%lld: y[%lld][%lld] = %.9g, expected %.9g", be->name,
                         hone_dtype_name(type), (long long)T, (long long)n_in, (long long)n_out, (long long)t,
                         (long long)r, y[t * n_out + r], s);
        }
    /* backward: dx += dy W, against double loops, accumulating onto a nonzero dx */
    float *dy = rnd((size_t)(T * n_out)), *dx = rnd((size_t)(T * n_in)), *dx0 = malloc((size_t)(T * n_in) * 4);
    memcpy(dx0, dx, (size_t)(T * n_in) * 4);
    be->matmul_bwd(dx, dy, &w, T, pool);
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < n_in; i++) {
            double s = dx0[t * n_in + i], mag = fabs(s);
            for (int64_t r = 0; r < n_out; r++) {
                s += (double)dy[t * n_out + r] * wd[r * n_in + i];
                mag += fabs((double)dy[t * n_out + r] * wd[r * n_in + i]);
            }
            if (fabs(dx[t * n_in + i] - s) > 2e-5 * mag)
                fail_msg("%s matmul_bwd %s: dx[%lld][%lld] = %.9g, expected %.9g", be->name, hone_dtype_name(type),
                         (long long)t, (long long)i, dx[t * n_in + i], s);
        }
    free(wf), free(x), free(b), free(wq), free(wd), free(y), free(dy), free(dx), free(dx0);
}

static void t_matmul(void **st) {
    const hone_backend *bes[1] = {hone_backend_ref()};
    for (int k = 0; k < 1; k++) {
        check_matmul(bes[k], HONE_F32, 7, 37, 29, 1);
        check_matmul(bes[k], HONE_F32, 1, 5, 3, 0);
        check_matmul(bes[k], HONE_F16, 5, 33, 13, 0);
        check_matmul(bes[k], HONE_BF16, 3, 51, 11, 1);
        check_matmul(bes[k], HONE_Q8_0, 9, 96, 21, 0);
        check_matmul(bes[k], HONE_Q4_K, 4, 512, 7, 1);
    }
}

/* matmul_bwd is the transpose of matmul: <dy, W x> == <W^T dy, x> (exact up to f32 rounding). */
static void t_matmul_adjoint(void **st) {
    const hone_backend *be = hone_backend_ref();
    int64_t T = 3, n_in = 45, n_out = 17;
    float *wf = rnd((size_t)(n_in * n_out)), *x = rnd((size_t)(T * n_in)), *dy = rnd((size_t)(T * n_out));
    hone_weight w = {HONE_F32, wf, n_in, n_out, (size_t)n_in * 4};
    float *y = malloc((size_t)(T * n_out) * 4), *dx = calloc((size_t)(T * n_in), 4);
    be->matmul(y, x, &w, NULL, T, pool);
    be->matmul_bwd(dx, dy, &w, T, pool);
    double a = 0, b = 0;
    for (int64_t i = 0; i < T * n_out; i++) a += (double)y[i] * dy[i];
    for (int64_t i = 0; i < T * n_in; i++) b += (double)dx[i] * x[i];
    if (fabs(a - b) > 1e-4 * (fabs(a) + 1)) fail_msg("<dy, Wx> = %.9g but <W^T dy, x> = %.9g", a, b);
    free(wf), free(x), free(dy), free(y), free(dx);
}

static void t_rmsnorm(void **st) {
    const hone_backend *bes[1] = {hone_backend_ref()};
    int64_t T = 5, D = 67;
    float eps = 1e-6f;
    float *x = rnd((size_t)(T * D)), *w = rnd((size_t)D), *y = malloc((size_t)(T * D) * 4);
    for (int k = 0; k < 1; k++) {
        bes[k]->rmsnorm(y, x, w, T, D, eps);
        for (int64_t t = 0; t < T; t++) {
            double ss = 0;
            for (int64_t i = 0; i < D; i++) ss += (double)x[t * D + i] * x[t * D + i];
            double r = 1 / sqrt(ss / D + eps);
            for (int64_t i = 0; i < D; i++) {
                double e = x[t * D + i] * r * w[i];
                if (fabs(y[t * D + i] - e) > 1e-6 * (fabs(e) + 1e-3))
                    fail_msg("%s rmsnorm y[%lld][%lld] = %.9g, expected %.9g", bes[k]->name, (long long)t,
                             (long long)i, y[t * D + i], e);
            }
        }
    }
    /* backward vs central differences of L = sum(dy * rmsnorm(x)) */
    const hone_backend *be = hone_backend_ref();
    float *dy = rnd((size_t)(T * D)), *dx = calloc((size_t)(T * D), 4);
    be->rmsnorm_bwd(dx, dy, x, w, T, D, eps);
    for (int64_t j = 0; j < T * D; j += 7) {
        float save = x[j];
        double L[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            x[j] = save + (sgn ? -1e-2f : 1e-2f);
            be->rmsnorm(y, x, w, T, D, eps);
            L[sgn] = 0;
            for (int64_t i = 0; i < T * D; i++) L[sgn] += (double)dy[i] * y[i];
        }
        x[j] = save;
        double fd = (L[0] - L[1]) / (2 * (double)1e-2f);
        if (fabs(dx[j] - fd) > 2e-3 * (fabs(fd) + 0.1))
            fail_msg("rmsnorm_bwd dx[%lld] = %.7g, finite difference %.7g", (long long)j, dx[j], fd);
    }
    free(x), free(w), free(y), free(dy), free(dx);
}

/* RoPE: against the rotation written out in double for both pair layouts,
 * partial rotary dims; rope_bwd(rope(x)) == x. */
static void t_rope(void **st) {
    const hone_backend *bes[1] = {hone_backend_ref()};
    int64_t T = 5, H = 3, hd = 12, rd = 8;
    float freqs[4] = {1.0f, 0.3f, 0.01f, 1e-4f};
    int32_t pos[5] = {0, 1, 7, 300, 1234};
    float *x = rnd((size_t)(T * H * hd)), *y = malloc((size_t)(T * H * hd) * 4);
    for (int k = 0; k < 1; k++)
        for (int mode = 0; mode < 2; mode++) {
            memcpy(y, x, (size_t)(T * H * hd) * 4);
            bes[k]->rope(y, pos, T, H, hd, rd, freqs, (hone_rope_mode)mode);
            for (int64_t t = 0; t < T; t++)
                for (int64_t h = 0; h < H; h++) {
                    const float *xh = x + (t * H + h) * hd;
                    float *yh = y + (t * H + h) * hd;
                    for (int64_t i = rd; i < hd; i++) assert_true(yh[i] == xh[i]); /* not rotated */
                    for (int64_t i = 0; i < rd / 2; i++) {
                        int64_t a = mode ? i : 2 * i, b = mode ? i + rd / 2 : 2 * i + 1;
                        double th = (double)(float)((float)pos[t] * freqs[i]);
                        double ea = xh[a] * cos(th) - xh[b] * sin(th), eb = xh[b] * cos(th) + xh[a] * sin(th);
                        if (fabs(yh[a] - ea) > 1e-6 || fabs(yh[b] - eb) > 1e-6)
                            fail_msg("%s rope mode %d t=%lld h=%lld pair %lld: (%.7g, %.7g), expected (%.7g, %.7g)",
                                     bes[k]->name, mode, (long long)t, (long long)h, (long long)i, yh[a], yh[b], ea,
                                     eb);
                    }
                }
            bes[k]->rope_bwd(y, pos, T, H, hd, rd, freqs, (hone_rope_mode)mode);
            for (int64_t i = 0; i < T * H * hd; i++)
                if (fabs(y[i] - x[i]) > 1e-6) fail_msg("rope_bwd(rope(x)) != x at %lld", (long long)i);
        }
    free(x), free(y);
}

/* Attention on a ring-ordered cache: keys stored out of position order, some
 * slots empty (INT32_MAX), GQA, a window, softcap; against a double-precision
 * softmax over the keys the mask rule of backend.h allows. */
static void check_attention(const hone_backend *be, uint32_t window, float softcap) {
    enum { T = 3, NK = 9, H = 4, KV = 2, HD = 5 };
    int32_t qpos[T] = {10, 11, 12};
    /* ring of 9 slots: positions 9..12 in slots 0..3 (wrapped), 5..8 in 5..8, slot 4 empty */
    int32_t kpos[NK] = {9, 10, 11, 12, INT32_MAX, 5, 6, 7, 8};
    float *q = rnd(T * H * HD), *k = rnd(NK * KV * HD), *v = rnd(NK * KV * HD), out[T * H * HD];
    for (int i = 0; i < T * H * HD; i++) q[i] *= 3; /* sharper softmax */
    hone_attn_params p = {H, KV, HD, 0.37f, window, softcap};
    be->attention(out, q, qpos, T, k, v, kpos, NK, &p, pool);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++) {
            int kh = h / (H / KV);
            double s[NK], mx = -INFINITY, sum = 0, o[HD] = {0};
            for (int j = 0; j < NK; j++) {
                int vis = kpos[j] <= qpos[t] && (window == 0 || kpos[j] > qpos[t] - (int32_t)window);
                if (!vis) {
                    s[j] = -INFINITY;
                    continue;
                }
                double d = 0;
                for (int i = 0; i < HD; i++) d += (double)q[(t * H + h) * HD + i] * k[(j * KV + kh) * HD + i];
                d *= 0.37f;
                if (softcap > 0) d = softcap * tanh(d / softcap);
                s[j] = d;
                if (d > mx) mx = d;
            }
            for (int j = 0; j < NK; j++) sum += s[j] == -INFINITY ? 0 : exp(s[j] - mx);
            for (int j = 0; j < NK; j++)
                if (s[j] != -INFINITY)
                    for (int i = 0; i < HD; i++) o[i] += exp(s[j] - mx) / sum * v[(j * KV + kh) * HD + i];
            for (int i = 0; i < HD; i++)
                if (fabs(out[(t * H + h) * HD + i] - o[i]) > 1e-5)
                    fail_msg("%s attention window %u t=%d h=%d [%d] = %.7g, expected %.7g", be->name, window, t, h, i,
                             out[(t * H + h) * HD + i], o[i]);
        }
    free(q), free(k), free(v);
}

static void t_attention(void **st) {
    const hone_backend *bes[1] = {hone_backend_ref()};
    for (int k = 0; k < 1; k++) {
        check_attention(bes[k], 0, 0);
        check_attention(bes[k], 4, 0); /* query 10 sees 7..10; 12 sees 9..12 */
        check_attention(bes[k], 1, 0); /* only itself */
        check_attention(bes[k], 0, 2.5f);
    }
}

/* glu: silu and gelu_tanh against the formulas in double. */
static void t_glu(void **st) {
    const hone_backend *bes[1] = {hone_backend_ref()};
    int64_t T = 3, D = 41;
    float *g = rnd((size_t)(T * D)), *u = rnd((size_t)(T * D)), *y = malloc((size_t)(T * D) * 4);
    for (int64_t i = 0; i < T * D; i++) g[i] *= 6;
    for (int k = 0; k < 1; k++)
        for (int gelu = 0; gelu < 2; gelu++) {
            bes[k]->glu(y, g, u, T, D, gelu);
            for (int64_t i = 0; i < T * D; i++) {
                double x = g[i];
                double a = gelu ? 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))) : x / (1 + exp(-x));
                double e = a * u[i];
                /* f32 like torch's kernel: 1 + tanh cancels for x << 0, so the error is
                 * relative to |x u| (a few ulp of it), not to the tiny result */
                if (fabs(y[i] - e) > 1e-6 * (fabs(e) + fabs(x * u[i])))
                    fail_msg("%s glu gelu=%d [%lld] = %.9g, expected %.9g", bes[k]->name, gelu, (long long)i, y[i], e);
            }
        }
    free(g), free(u), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_matmul), cmocka_unit_test(t_matmul_adjoint), cmocka_unit_test(t_rmsnorm),
        cmocka_unit_test(t_rope),   cmocka_unit_test(t_attention),      cmocka_unit_test(t_glu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
