/* test_ops_cpu_bwd.c: the fast CPU training kernels (src/ops/cpu/matmul_bwd.c,
 * lm_head.c, attention_bwd.c, glu_bwd.c) against references, on random inputs of odd sizes and every weight
 * type family (F32, F16, BF16, 32-blocks Q4_0/Q8_0, 256-blocks Q4_K/Q6_K).
 *
 * matmul_bwd: dx (T, n_in) += dy (T, n_out) W, checked per element against the sum
 * in double over the dequantized weight (hone_dequantize, bit-exact), with dx
 * starting non-zero (it accumulates). Tolerance: the kernel adds n_out products to
 * dx in f32 with FMA, one rounding per step, so |err| <= (n_out + 1) 2^-24
 * (|dx0| + sum_k |dy_k w_k|) (recursive summation bound). Sizes cross the kernel's
 * 256-row and 32/64/256-column blocks and its 6-token groups.
 *
 * lm_head_ce: fast vs the reference backend (itself checked by finite differences in
 * test_ops_bwd.c): vocab 2600 (three chunks of 1024, the last partial), masked and
 * ignored positions. F32/BF16 weights: both compute logits as f32 dot products of D
 * terms (error <= D 2^-24 sum|h w|, ~1e-6 relative here) and everything after in
 * double, so the summed loss agrees to 1e-6 relative and dh to 1e-5 relative L2.
 * Quantized weights: the fast logits use the engine's INT16 activations (|h - h'| <=
 * max|h| / 32512), so each logit moves by at most |w_v|_1 max|h| / 32512 and each
 * position's loss by twice that: that sum is the loss tolerance (computed below;
 * ~1e-3 relative, a wrong logit is O(1)); dh, a softmax-weighted mean of weight rows,
 * moves by the same relative order (measured ~4e-6): 1e-4 relative L2. */
#include <math.h>

#include "testutil.h"

#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "util/pool.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double urand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float nrand(void) { return (float)((urand() + urand() + urand() + urand() - 2.0) * 1.7); }

typedef struct {
    uint8_t *data;
    float *wd; /* (n_out, n_in) dequantized */
    hone_weight w;
} tweight;

static void tw_make(tweight *tw, int type, int64_t n_in, int64_t n_out, float scale) {
    hone_err err = {0};
    size_t rb = (size_t)hone_dtype_row_bytes(type, n_in);
    tw->data = malloc(rb * n_out);
    tw->wd = malloc(sizeof(float) * n_in * n_out);
    float *row = malloc(sizeof(float) * n_in);
    for (int64_t r = 0; r < n_out; r++) {
        for (int64_t k = 0; k < n_in; k++) row[k] = scale * nrand();
        if (type == HONE_F32) memcpy(tw->data + r * rb, row, rb);
        else ASSERT_OK(hone_quantize(type, row, tw->data + r * rb, n_in, &err), &err);
        ASSERT_OK(hone_dequantize(type, tw->data + r * rb, tw->wd + r * n_in, n_in, &err), &err);
    }
    free(row);
    tw->w = (hone_weight){type, tw->data, n_in, n_out, rb};
}

static void tw_free(tweight *tw) {
    free(tw->data);
    free(tw->wd);
}

static int have_avx512(void) {
    if (cpu_kern_best_level() < CPU_LVL_AVX512) {
        print_message("[ SKIPPED  ] no AVX-512 on this CPU: the fast entries fall back to the reference\n");
        return 0;
    }
    return 1;
}

static void check_mmb(int type, int64_t n_in, int64_t n_out, int64_t T, hone_pool *pool) {
    tweight tw;
    tw_make(&tw, type, n_in, n_out, 0.05f);
    float *dy = malloc(sizeof(float) * T * n_out), *dx = malloc(sizeof(float) * T * n_in);
    float *dx0 = malloc(sizeof(float) * T * n_in);
    for (int64_t i = 0; i < T * n_out; i++) dy[i] = nrand();
    for (int64_t i = 0; i < T * n_in; i++) dx0[i] = dx[i] = nrand();
    cpu_matmul_bwd(dx, dy, &tw.w, T, pool, CPU_LVL_AVX512);
    double worst = 0;
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < n_in; c++) {
            double ref = dx0[t * n_in + c], mag = fabs(dx0[t * n_in + c]);
            for (int64_t k = 0; k < n_out; k++) {
                double p = (double)dy[t * n_out + k] * tw.wd[k * n_in + c];
                ref += p;
                mag += fabs(p);
            }
            double err = fabs(dx[t * n_in + c] - ref), bound = (double)(n_out + 1) * 0x1p-24 * mag;
            if (err > bound)
                fail_msg("matmul_bwd type %d n_in %lld n_out %lld T %lld: dx[%lld][%lld] = %.9g vs %.9g (err %.3g > %.3g)",
                         type, (long long)n_in, (long long)n_out, (long long)T, (long long)t, (long long)c,
                         dx[t * n_in + c], ref, err, bound);
            worst = fmax(worst, err / (mag > 0 ? mag : 1));
        }
    free(dy), free(dx), free(dx0);
    tw_free(&tw);
}

static void test_matmul_bwd(void **st) {
    (void)st;
    if (!have_avx512()) return;
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 2, &err), &err);
    static const int64_t n_out[] = {1, 7, 33, 300, 517};
    static const int64_t Ts[] = {1, 5, 7, 13};
    struct { int type; int64_t n_in[3]; } cases[] = {
        {HONE_F32, {37, 100, 130}}, {HONE_F16, {16, 70, 129}}, {HONE_BF16, {3, 64, 200}},
        {HONE_Q4_0, {32, 96, 160}}, {HONE_Q8_0, {64, 224, 96}}, {HONE_Q4_K, {256, 768, 512}},
        {HONE_Q6_K, {256, 512, 768}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int i = 0; i < 3; i++)
            for (size_t o = 0; o < sizeof n_out / sizeof *n_out; o++)
                check_mmb(cases[c].type, cases[c].n_in[i], n_out[o], Ts[(c + i + o) % 4], pool);
    hone_pool_free(pool);
}

static void check_lmh(int type, int64_t D, int64_t V, int64_t T, hone_pool *pool) {
    tweight tw;
    tw_make(&tw, type, D, V, 0.08f);
    float *h = malloc(sizeof(float) * T * D), *dh_f = malloc(sizeof(float) * T * D), *dh_r = malloc(sizeof(float) * T * D);
    int32_t *tg = malloc(sizeof(int32_t) * T);
    uint8_t *mask = malloc((size_t)T);
    for (int64_t i = 0; i < T * D; i++) h[i] = nrand();
    for (int64_t t = 0; t < T; t++) {
        tg[t] = t % 4 == 1 ? -1 : (int32_t)(urand() * V); /* some ignored */
        mask[t] = t % 5 != 3;                             /* some masked */
        if (t == 2) tg[t] = (int32_t)V - 1;               /* the last, partial chunk */
    }
    for (int64_t i = 0; i < T * D; i++) dh_f[i] = dh_r[i] = 0.5f;
    double lf = 0, lr = 0;
    int64_t nf = 0, nr = 0;
    cpu_lm_head_ce(&lf, &nf, dh_f, h, &tw.w, tg, mask, T, 0.0f, 0.25f, pool, CPU_LVL_AVX512);
    hone_backend_ref()->lm_head_ce(&lr, &nr, dh_r, h, &tw.w, tg, mask, T, 0.0f, 0.25f, pool);
    assert_int_equal(nf, nr);
    assert_true(nr > 0);
    double num = 0, den = 0;
    for (int64_t i = 0; i < T * D; i++) {
        num += ((double)dh_f[i] - dh_r[i]) * ((double)dh_f[i] - dh_r[i]);
        den += ((double)dh_r[i] - 0.5) * ((double)dh_r[i] - 0.5);
        if (fabs(dh_r[i] - 0.5f) == 0 && dh_f[i] != dh_r[i]) fail_msg("lm_head_ce wrote dh at an uncounted row");
    }
    double le = fabs(lf - lr) / fabs(lr), de = sqrt(num / den), ltol = 1e-6, dtol = 1e-5;
    if (hone_dtype_block(type) > 1) { /* quantized: INT16 activations in the logits GEMM */
        double w1 = 0, bound = 0;
        for (int64_t v = 0; v < V; v++) {
            double r = 0;
            for (int64_t k = 0; k < D; k++) r += fabs(tw.wd[v * D + k]);
            w1 = fmax(w1, r);
        }
        for (int64_t t = 0; t < T; t++) {
            if (!mask[t] || tg[t] < 0) continue;
            double hm = 0;
            for (int64_t k = 0; k < D; k++) hm = fmax(hm, fabs(h[t * D + k]));
            bound += 2 * w1 * hm / 32512; /* |dCE| <= 2 max |dz|, |dz_v| <= |w_v|_1 max|h| / 32512 */
        }
        ltol = bound / fabs(lr);
        dtol = 1e-4;
    }
    if (le > ltol || de > dtol)
        fail_msg("lm_head_ce type %d D %lld V %lld T %lld: loss %.9g vs %.9g (rel %.3g), dh rel L2 %.3g", type,
                 (long long)D, (long long)V, (long long)T, lf, lr, le, de);
    /* without dh: the same loss */
    double l2 = 0;
    cpu_lm_head_ce(&l2, NULL, NULL, h, &tw.w, tg, mask, T, 0.0f, 1.0f, pool, CPU_LVL_AVX512);
    assert_true(l2 == lf);
    free(h), free(dh_f), free(dh_r), free(tg), free(mask);
    tw_free(&tw);
}

static void test_lm_head_ce(void **st) {
    (void)st;
    if (!have_avx512()) return;
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 2, &err), &err);
    check_lmh(HONE_F32, 96, 2600, 9, pool);
    check_lmh(HONE_Q8_0, 160, 2600, 14, pool);
    check_lmh(HONE_Q6_K, 256, 1500, 3, pool);
    check_lmh(HONE_BF16, 64, 700, 7, pool);
    hone_pool_free(pool);
}

/* attention_bwd: fast vs reference. Both recompute the softmax in f32; scores are f32
 * dot products of hd terms summed in different orders (each within hd 2^-24 sum|q k|,
 * ~2e-6 relative for hd 40 at these magnitudes), and P, dS inherit that error times
 * |score| (~3 here) before the double-precision row sums: ~1e-5 at worst; 1e-5
 * relative L2 per gradient is asserted (measured: 1-2e-7); a wrong mask, head
 * mapping or missing term gives O(1). */
static double rel_l2f(const float *x, const float *y, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)y[i] * y[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

static void check_attb(int64_t T, int64_t nk, int64_t H, int64_t KV, int64_t hd, uint32_t window, int ring,
                       hone_pool *pool) {
    float *q = malloc(sizeof(float) * T * H * hd), *k = malloc(sizeof(float) * nk * KV * hd);
    float *v = malloc(sizeof(float) * nk * KV * hd), *dout = malloc(sizeof(float) * T * H * hd);
    float *g[2][3];
    int32_t *qpos = malloc(sizeof(int32_t) * T), *kpos = malloc(sizeof(int32_t) * nk);
    for (int64_t i = 0; i < T * H * hd; i++) q[i] = nrand() * 0.5f, dout[i] = nrand();
    for (int64_t i = 0; i < nk * KV * hd; i++) k[i] = nrand() * 0.5f, v[i] = nrand();
    for (int64_t j = 0; j < nk; j++) kpos[j] = ring ? (int32_t)((j * 7) % nk) : (int32_t)j; /* ring: unsorted */
    for (int64_t t = 0; t < T; t++) qpos[t] = (int32_t)(nk - T + t);
    for (int b = 0; b < 2; b++) {
        g[b][0] = malloc(sizeof(float) * T * H * hd);
        g[b][1] = malloc(sizeof(float) * nk * KV * hd);
        g[b][2] = malloc(sizeof(float) * nk * KV * hd);
        for (int64_t i = 0; i < T * H * hd; i++) g[b][0][i] = 0.25f;
        for (int64_t i = 0; i < nk * KV * hd; i++) g[b][1][i] = g[b][2][i] = -0.5f;
    }
    hone_attn_params ap = {.n_heads = (uint32_t)H, .n_kv_heads = (uint32_t)KV, .head_dim = (uint32_t)hd,
                           .scale = 1.0f / sqrtf((float)hd), .window = window};
    cpu_attention_bwd(g[0][0], g[0][1], g[0][2], dout, q, qpos, T, k, v, kpos, nk, &ap, pool, CPU_LVL_AVX512);
    hone_backend_ref()->attention_bwd(g[1][0], g[1][1], g[1][2], dout, q, qpos, T, k, v, kpos, nk, &ap, pool);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        int64_t n = i ? nk * KV * hd : T * H * hd;
        double e = rel_l2f(g[0][i], g[1][i], n);
        worst = fmax(worst, e);
        if (e > 1e-5)
            fail_msg("attention_bwd T %lld nk %lld H %lld KV %lld hd %lld window %u ring %d: d%c rel L2 %.3g > 1e-5",
                     (long long)T, (long long)nk, (long long)H, (long long)KV, (long long)hd, window, ring,
                     "qkv"[i], e);
    }
    print_message("attention_bwd T %lld nk %lld H %lld/%lld hd %lld: worst rel L2 vs reference %.2g (tol 1e-5)\n",
                  (long long)T, (long long)nk, (long long)H, (long long)KV, (long long)hd, worst);
    /* NULL gradients are skipped, the others unchanged */
    float *dq2 = malloc(sizeof(float) * T * H * hd);
    for (int64_t i = 0; i < T * H * hd; i++) dq2[i] = 0.25f;
    cpu_attention_bwd(dq2, NULL, NULL, dout, q, qpos, T, k, v, kpos, nk, &ap, pool, CPU_LVL_AVX512);
    assert_memory_equal(dq2, g[0][0], sizeof(float) * T * H * hd);
    free(dq2);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 3; i++) free(g[b][i]);
    free(q), free(k), free(v), free(dout), free(qpos), free(kpos);
}

static void test_attention_bwd(void **st) {
    (void)st;
    if (!have_avx512()) return;
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 2, &err), &err);
    check_attb(13, 13, 4, 1, 32, 0, 0, pool);  /* gemma-like GQA 4:1 */
    check_attb(13, 13, 6, 2, 40, 5, 0, pool);  /* sliding window */
    check_attb(1, 9, 3, 3, 16, 0, 0, pool);    /* one query */
    check_attb(7, 20, 4, 2, 24, 6, 1, pool);   /* a ring of keys, unsorted kpos */
    check_attb(37, 37, 2, 1, 64, 0, 0, pool);
    hone_pool_free(pool);
}

/* glu_bwd: fast (f32, vm_exp / vm_tanh) vs the reference (double): per element
 * |err| <= 1e-6 (|dy up act'| + |dy act| + |g0|) covers the f32 roundings of ~10
 * operations (6e-8 each) plus vm_tanh's absolute 3e-7 times the O(1) factors; a
 * wrong derivative formula is off by O(1). */
static void test_glu_bwd(void **st) {
    (void)st;
    if (!have_avx512()) return;
    const int64_t T = 7, D = 83, n = T * D;
    float *g = malloc(sizeof(float) * n), *u = malloc(sizeof(float) * n), *dy = malloc(sizeof(float) * n);
    float *a[2][2];
    for (int64_t i = 0; i < n; i++) g[i] = nrand() * 2.0f, u[i] = nrand(), dy[i] = nrand();
    for (int gelu = 0; gelu < 2; gelu++) {
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 2; k++) {
                a[b][k] = malloc(sizeof(float) * n);
                for (int64_t i = 0; i < n; i++) a[b][k][i] = 0.125f * (float)(i % 5);
            }
        cpu_glu_bwd(a[0][0], a[0][1], dy, g, u, T, D, gelu, CPU_LVL_AVX512);
        hone_backend_ref()->glu_bwd(a[1][0], a[1][1], dy, g, u, T, D, gelu);
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; i < n; i++) {
                double tol = 1e-6 * (fabs(dy[i]) * (fabs(u[i]) + 1) * (fabs(g[i]) + 1) + 1);
                if (fabs((double)a[0][k][i] - a[1][k][i]) > tol)
                    fail_msg("glu_bwd %s d%s[%lld]: %.9g vs %.9g", gelu ? "gelu" : "silu", k ? "up" : "gate",
                             (long long)i, a[0][k][i], a[1][k][i]);
            }
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 2; k++) free(a[b][k]);
    }
    free(g), free(u), free(dy);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_bwd),
        cmocka_unit_test(test_lm_head_ce),
        cmocka_unit_test(test_attention_bwd),
        cmocka_unit_test(test_glu_bwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
