/* test_ops_cpu.c: the fast CPU kernels (src/ops/cpu/) against a double-precision
 * reference on random inputs of odd sizes, on every code path this CPU has
 * (scalar, AVX2, AVX-512 forced through cpu_kern_force) and every matmul variant
 * (INT8, INT16, F32), for every weight type with a converter.
 *
 * Reference: the weight rows dequantized by hone_dequantize (bit-exact vs
 * gguf-py) and y = sum_k x_k w_k (+ bias) accumulated in double.
 * Tolerances, per output element (derivations next to the code):
 *  - F32 variant: f32 summation of K products with FMA: |err| <= gamma * sum|x w|
 *    with gamma = (K + 2) * 2^-24 (worst case of recursive summation).
 *  - INT8 variant: the activations are rounded per block of 32 to dx * q with
 *    dx = max|x| / 127, so |x - dx q| <= dx/2 (+ 2 ulp of x/dx): the exact error
 *    bound is sum_k |w_k| * dx_k * 0.5005, plus float rounding of the per-block
 *    products and sums (see int8_bound). The bound is also required to stay
 *    below 5 % of sum|x w|, so it cannot hide a wrong kernel.
 *  - INT16 variant: the same with dx = max|x| / 16256 (15-bit activations), and
 *    the float rounding of two INT8 passes (hi and lo) plus their final sum.
 *    The bound must stay below 0.2 % of sum|x w|, and the summed squared error
 *    within 4x the predicted variance of the 15-bit rounding: INT8 rounding
 *    (128x larger steps) would fail both. */
#include <math.h>

#include "testutil.h"

#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "util/pool.h"

const hone_backend *hone_cpu_kernels(void);

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* uniform [0, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static float nrand(void) { /* roughly normal: sum of 4 uniforms */
    return (float)((urand() + urand() + urand() + urand() - 2.0) * 1.7);
}

typedef struct {
    int type;
    int64_t n_in, n_out;
    uint8_t *data;
    float *wd; /* (n_out, n_in) dequantized */
    hone_weight w;
} test_weight;

static void weight_make(test_weight *tw, int type, int64_t n_in, int64_t n_out) {
    hone_err err = {0};
    tw->type = type;
    tw->n_in = n_in;
    tw->n_out = n_out;
    size_t rb = (size_t)hone_dtype_row_bytes(type, n_in);
    tw->data = malloc(rb * n_out);
    tw->wd = malloc(sizeof(float) * n_in * n_out);
    float *row = malloc(sizeof(float) * n_in);
    for (int64_t r = 0; r < n_out; r++) {
        float rs = 0.02f * (float)(1 + r % 7); /* rows of different scales */
        for (int64_t k = 0; k < n_in; k++) row[k] = rs * nrand() + (r % 3 == 0 ? 0.01f : 0.0f);
        ASSERT_OK(hone_quantize(type, row, tw->data + r * rb, n_in, &err), &err);
        ASSERT_OK(hone_dequantize(type, tw->data + r * rb, tw->wd + r * n_in, n_in, &err), &err);
    }
    free(row);
    tw->w = (hone_weight){type, tw->data, n_in, n_out, rb};
}

static void weight_free(test_weight *tw) {
    free(tw->data);
    free(tw->wd);
}

/* The reference for one weight and input: per output the double result, and the
 * quantities the bounds are made of. */
typedef struct {
    double *ref, *mag, *qerr, *fmag, *qvar; /* (T, n_out) each */
    double *qerr16, *qvar16;                 /* the same for 15-bit activations */
} ref_out;

static void ref_compute(ref_out *R, const test_weight *tw, const float *x, const float *bias,
                        int64_t T) {
    int64_t K = tw->n_in, n = T * tw->n_out;
    double *m = calloc(7 * n, sizeof(double));
    *R = (ref_out){m, m + n, m + 2 * n, m + 3 * n, m + 4 * n, m + 5 * n, m + 6 * n};
    double *dx = malloc(sizeof(double) * ((K + 31) / 32)); /* F types: K need not be a multiple of 32 */
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * K;
        for (int64_t b = 0; b < (K + 31) / 32; b++) {
            double amax = 0;
            for (int64_t i = 32 * b; i < K && i < 32 * b + 32; i++) amax = fmax(amax, fabs(xr[i]));
            dx[b] = amax / 127;
        }
        for (int64_t o = 0; o < tw->n_out; o++) {
            const float *wr = tw->wd + o * K;
            int64_t i = t * tw->n_out + o;
            double wmax = 0;
            for (int64_t k = 0; k < K; k++) wmax = fmax(wmax, fabs(wr[k]));
            R->ref[i] = bias ? bias[o] : 0;
            R->mag[i] = bias ? fabs(bias[o]) : 0;
            for (int64_t k = 0; k < K; k++) {
                double d = dx[k / 32];
                R->ref[i] += (double)xr[k] * wr[k];
                R->mag[i] += fabs((double)xr[k] * wr[k]);
                /* activation rounding: |x - dx q| <= dx/2 (+2 ulp of x/dx) */
                R->qerr[i] += fabs(wr[k]) * d * 0.5005;
                /* ... and uniform in [-dx/2, dx/2], variance dx^2/12 */
                R->qvar[i] += (double)wr[k] * wr[k] * d * d / 12;
                /* INT16: step amax / 16256 = d * 127 / 16256 */
                double d16 = d * (127.0 / 16256.0);
                R->qerr16[i] += fabs(wr[k]) * d16 * 0.5005;
                R->qvar16[i] += (double)wr[k] * wr[k] * d16 * d16 / 12;
                /* float rounding: each weight enters as dw*u + mw with |dw u|,
                 * |mw| <= |w| + 2 max|w| of the row, times |x| + dx */
                R->fmag[i] += (fabs(wr[k]) + 2 * wmax) * (fabs(xr[k]) + d);
            }
        }
    }
    free(dx);
}

/* Checks y (T, n_out) against the reference; variant picks the bound. */
static void check_matmul(const test_weight *tw, const ref_out *R, const float *y, int64_t T,
                         int variant, const char *what) {
    int64_t K = tw->n_in;
    const double u = 1.0 / 16777216.0; /* 2^-24, f32 unit roundoff */
    double se = 0, sv = 0;
    for (int64_t i = 0; i < T * tw->n_out; i++) {
        double tol;
        if (variant == CPU_VAR_INT8) {
            /* sub-block sums are exact ints; per sub-block ~4 roundings, then
             * K/16 sequential float additions at most */
            tol = R->qerr[i] + (double)(K / 16 + 8) * u * R->fmag[i] + 1e-30;
            if (tol > 0.05 * R->mag[i] + 1e-20)
                fail_msg("%s: bound %g is not below 5%% of sum|xw| %g", what, tol, R->mag[i]);
        } else if (variant == CPU_VAR_INT16) {
            /* 15-bit rounding, then two INT8 passes (hi: |128 dx hi| <= |x| + dx8,
             * lo: smaller, both inside fmag) and one float add of their results */
            tol = R->qerr16[i] + (double)(2 * (K / 16 + 8) + 2) * u * R->fmag[i] + 1e-30;
            if (tol > 0.002 * R->mag[i] + 1e-20)
                fail_msg("%s: bound %g is not below 0.2%% of sum|xw| %g", what, tol, R->mag[i]);
        } else {
            tol = (double)(K + 2) * u * R->mag[i] + 1e-30;
        }
        double err = fabs(y[i] - R->ref[i]);
        if (!(err <= tol))
            fail_msg("%s: y[%lld][%lld] = %.9g, ref %.9g, |err| %.3g > tol %.3g", what,
                     (long long)(i / tw->n_out), (long long)(i % tw->n_out), y[i], R->ref[i],
                     err, tol);
        se += err * err;
        sv += (variant == CPU_VAR_INT16 ? R->qvar16[i] : R->qvar[i]) +
              (K * u * R->fmag[i]) * (K * u * R->fmag[i]);
    }
    /* The worst-case bound grows like K, real errors like sqrt(K): over all outputs
     * the squared error must also stay within 4x the predicted variance (the
     * activation rounding errors are independent, uniform). */
    if (variant != CPU_VAR_F32 && T * tw->n_out >= 64 && !(se <= 4 * sv))
        fail_msg("%s: sum of squared errors %.3g > 4 x predicted %.3g", what, se, sv);
}

static const int all_types[] = {HONE_F32,  HONE_F16,  HONE_BF16, HONE_Q4_0, HONE_Q4_1,
                                HONE_Q5_0, HONE_Q5_1, HONE_Q8_0, HONE_Q2_K, HONE_Q3_K,
                                HONE_Q4_K, HONE_Q5_K, HONE_Q6_K};

static void run_matmul_cases(hone_pool *pool) {
    const hone_backend *be = hone_cpu_kernels();
    static const int64_t Ts[] = {1, 2, 3, 17, 64}; /* 1-3: streaming matvec (per-T code); 17, 64: panels */
    int best = cpu_kern_best_level();
    for (size_t ti = 0; ti < sizeof all_types / sizeof all_types[0]; ti++) {
        int type = all_types[ti];
        int64_t blk = hone_dtype_block(type);
        int64_t n_in = blk == 256 ? 768 : blk == 32 ? 160 : 97; /* odd multiples of the block */
        for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++) {
            int64_t T = Ts[k], n_out = T == 64 ? 37 : 67;
            test_weight tw;
            weight_make(&tw, type, n_in, n_out);
            float *x = malloc(sizeof(float) * T * n_in), *y = malloc(sizeof(float) * T * n_out);
            float *bias = malloc(sizeof(float) * n_out);
            /* odd tokens get a mean offset, so weight offset errors add up */
            for (int64_t i = 0; i < T * n_in; i++)
                x[i] = nrand() * (i % 5 == 0 ? 3.0f : 1.0f) + ((i / n_in) % 2 ? 0.7f : 0.0f);
            for (int64_t i = 0; i < n_out; i++) bias[i] = nrand();
            const float *b = k % 2 ? bias : NULL;
            ref_out R;
            ref_compute(&R, &tw, x, b, T);
            for (int level = 0; level <= best; level++)
                for (int var = CPU_VAR_INT8; var <= CPU_VAR_INT16; var++) {
                    if (var != CPU_VAR_F32 && !cpu_wdec_supported(type, NULL)) continue;
                    char what[128];
                    snprintf(what, sizeof what, "%s T=%lld n_in=%lld n_out=%lld level %d %s%s",
                             hone_dtype_name(type), (long long)T, (long long)n_in, (long long)n_out,
                             level, var == CPU_VAR_INT8 ? "int8" : var == CPU_VAR_INT16 ? "int16" : "f32",
                             b ? " +bias" : "");
                    cpu_kern_force(level, var);
                    for (int64_t i = 0; i < T * n_out; i++) y[i] = NAN;
                    be->matmul(y, x, &tw.w, b, T, pool);
                    check_matmul(&tw, &R, y, T, var, what);
                }
            cpu_kern_force(-1, CPU_VAR_AUTO);
            free(R.ref);
            free(x);
            free(y);
            free(bias);
            weight_free(&tw);
        }
    }
}

static void test_matmul_one_thread(void **state) { run_matmul_cases(NULL); }

static void test_matmul_pool(void **state) {
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 3, &err), &err);
    run_matmul_cases(pool);
    hone_pool_free(pool);
}

/* The automatic choice (no forcing) is one of the checked paths. */
static void test_matmul_auto(void **state) {
    test_weight tw;
    weight_make(&tw, HONE_Q4_K, 512, 33);
    float x[2 * 512], y[2 * 33];
    for (int i = 0; i < 2 * 512; i++) x[i] = nrand();
    hone_cpu_kernels()->matmul(y, x, &tw.w, NULL, 2, NULL);
    ref_out R;
    ref_compute(&R, &tw, x, NULL, 2);
    /* the default is INT16 unless HONE_MATMUL says otherwise */
    const char *e = getenv("HONE_MATMUL");
    int var = e && !strcmp(e, "int8") ? CPU_VAR_INT8 : e && !strcmp(e, "f32") ? CPU_VAR_F32 : CPU_VAR_INT16;
    check_matmul(&tw, &R, y, 2, var, "Q4_K auto");
    free(R.ref);
    weight_free(&tw);
}

/* matmul_n (several projections of one input; fused into one job at decode)
 * gives exactly the bytes of one matmul per weight, on mixed weight types of
 * odd row counts (q/k/v-like: 3 types with 32-element sub-blocks; with Q6_K's
 * 16-element sub-blocks and an F32 weight, which take the per-weight loop), with
 * and without biases, at T = 1..3 (decode) and 17, on one thread and a pool. The
 * per-weight matmul itself is checked against the double reference above. */
static void test_matmul_n(void **state) {
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 3, &err), &err);
    const hone_backend *be = hone_cpu_kernels();
    static const int sets[3][3] = {{HONE_Q5_0, HONE_Q5_0, HONE_Q8_0},
                                   {HONE_Q4_1, HONE_Q4_K, HONE_Q6_K},
                                   {HONE_Q4_0, HONE_F32, HONE_Q5_K}};
    static const int64_t n_outs[3] = {67, 19, 130}, Ts[] = {1, 2, 3, 17};
    const int64_t K = 768;
    for (int si = 0; si < 3; si++)
        for (size_t k = 0; k < sizeof Ts / sizeof Ts[0]; k++)
            for (int withb = 0; withb < 2; withb++)
                for (int usepool = 0; usepool < 2; usepool++) {
                    int64_t T = Ts[k];
                    test_weight tw[3];
                    float *x = malloc(sizeof(float) * T * K), *y1[3], *y2[3], *b[3];
                    for (int64_t i = 0; i < T * K; i++) x[i] = nrand() + (i % 7 == 0 ? 0.5f : 0.0f);
                    for (int j = 0; j < 3; j++) {
                        weight_make(&tw[j], sets[si][j], K, n_outs[j]);
                        y1[j] = malloc(sizeof(float) * T * n_outs[j]);
                        y2[j] = malloc(sizeof(float) * T * n_outs[j]);
                        b[j] = malloc(sizeof(float) * n_outs[j]);
                        for (int64_t i = 0; i < n_outs[j]; i++) b[j][i] = nrand();
                        for (int64_t i = 0; i < T * n_outs[j]; i++) y2[j][i] = NAN;
                    }
                    hone_pool *pl = usepool ? pool : NULL;
                    const float *bs[3] = {b[0], NULL, b[2]};
                    for (int j = 0; j < 3; j++) be->matmul(y1[j], x, &tw[j].w, withb ? bs[j] : NULL, T, pl);
                    const hone_weight *ws[3] = {&tw[0].w, &tw[1].w, &tw[2].w};
                    be->matmul_n(y2, x, ws, withb ? bs : NULL, 3, T, pl);
                    for (int j = 0; j < 3; j++) {
                        if (memcmp(y1[j], y2[j], sizeof(float) * T * n_outs[j]))
                            fail_msg("matmul_n set %d T=%lld bias %d pool %d: weight %d (%s) differs from matmul", si,
                                     (long long)T, withb, usepool, j, hone_dtype_name(sets[si][j]));
                        free(y1[j]);
                        free(y2[j]);
                        free(b[j]);
                        weight_free(&tw[j]);
                    }
                    free(x);
                }
    hone_pool_free(pool);
}

/* Scalar and AVX-512 activation quantization give identical bytes; the values
 * satisfy |x - dx q| <= dx/2 (+ rounding of x/dx) and dxs = dx * sum q. */
static void test_quant_act(void **state) {
    enum { T = 3, K = 96 };
    float x[T * K], dx[2][T * K / 32], dxs[2][T * K / 16];
    int8_t q[2][T * K];
    for (int i = 0; i < T * K; i++) x[i] = nrand() * (i < 32 ? 0.0f : 1.0f); /* block 0 all zero */
    int best = cpu_kern_best_level();
    for (int sub = 16; sub <= 32; sub += 16) {
        cpu_quant_act(x, T, K, sub, q[0], dx[0], dxs[0], CPU_LVL_SCALAR);
        cpu_quant_act(x, T, K, sub, q[1], dx[1], dxs[1], best);
        assert_memory_equal(q[0], q[1], sizeof q[0]);
        assert_memory_equal(dx[0], dx[1], sizeof dx[0]);
        assert_memory_equal(dxs[0], dxs[1], sizeof(float) * T * K / sub);
        for (int i = 0; i < T * K; i++) {
            float d = dx[0][i / 32];
            if (fabsf(x[i] - d * q[0][i]) > d * 0.5005f) fail_msg("x[%d] quantized badly", i);
        }
        for (int s = 0; s < T * K / sub; s++) {
            int sum = 0;
            for (int i = 0; i < sub; i++) sum += q[0][s * sub + i];
            assert_true(dxs[0][s] == dx[0][s * sub / 32] * (float)sum);
        }
    }
    assert_true(dx[0][0] == 0.0f);
}

/* INT16 activations: scalar and AVX-512 give identical bytes; hi in [-127, 127],
 * lo in [-64, 63], dx_hi = 128 dx_lo, |x - (dx_hi hi + dx_lo lo)| <= dx_lo / 2
 * (+ rounding of x/dx), dx_lo = max|x| / 16256, and dxs = dx * sum per row. */
static void test_quant_act16(void **state) {
    enum { T = 3, K = 96 };
    float x[T * K], dx[2][2 * T * K / 32], dxs[2][2 * T * K / 16];
    int8_t q[2][2 * T * K];
    for (int i = 0; i < T * K; i++) x[i] = nrand() * (i < 32 ? 0.0f : 1.0f) * (i % 7 == 0 ? 100.0f : 1.0f);
    int best = cpu_kern_best_level();
    for (int sub = 16; sub <= 32; sub += 16) {
        cpu_quant_act16(x, T, K, sub, q[0], dx[0], dxs[0], CPU_LVL_SCALAR);
        cpu_quant_act16(x, T, K, sub, q[1], dx[1], dxs[1], best);
        assert_memory_equal(q[0], q[1], sizeof q[0]);
        assert_memory_equal(dx[0], dx[1], sizeof dx[0]);
        assert_memory_equal(dxs[0], dxs[1], sizeof(float) * 2 * T * K / sub);
        for (int t = 0; t < T; t++)
            for (int k = 0; k < K; k++) {
                int hi = q[0][2 * t * K + k], lo = q[0][(2 * t + 1) * K + k];
                float dh = dx[0][2 * t * (K / 32) + k / 32], dl = dx[0][(2 * t + 1) * (K / 32) + k / 32];
                assert_true(hi >= -127 && hi <= 127 && lo >= -64 && lo <= 63);
                assert_true(dh == 128.0f * dl);
                double e = fabs(x[t * K + k] - ((double)dh * hi + (double)dl * lo));
                if (e > dl * 0.5005) fail_msg("x[%d][%d] quantized badly: err %g > %g", t, k, e, dl * 0.5005);
            }
        for (int s = 0; s < 2 * T * K / sub; s++) {
            int sum = 0;
            for (int i = 0; i < sub; i++) sum += q[0][s * sub + i];
            assert_true(dxs[0][s] == dx[0][s * sub / 32] * (float)sum);
        }
    }
    assert_true(dx[0][0] == 0.0f && dx[0][1 * (K / 32) + 0] == 0.0f);
}

/* The SIMD row decoders give the same bytes and scales as the scalar ones. */
static void test_wdec_rows(void **state) {
    if (cpu_kern_best_level() < CPU_LVL_AVX2) skip();
    for (size_t ti = 0; ti < sizeof all_types / sizeof all_types[0]; ti++) {
        int type = all_types[ti], sub;
        if (!cpu_wdec_supported(type, &sub)) continue;
        test_weight tw;
        weight_make(&tw, type, 768, 3);
        uint8_t u[2][768];
        float sc[2][2 * 48];
        for (int r = 0; r < 3; r++) {
            const uint8_t *src = tw.data + r * tw.w.row_bytes;
            cpu_wdec_row(type, src, 768, u[0], sc[0], sc[0] + 768 / sub, CPU_LVL_SCALAR);
            cpu_wdec_row(type, src, 768, u[1], sc[1], sc[1] + 768 / sub, CPU_LVL_AVX2);
            assert_memory_equal(u[0], u[1], 768);
            assert_memory_equal(sc[0], sc[1], sizeof(float) * 2 * 768 / sub);
        }
        weight_free(&tw);
    }
}

/* ---- attention ---- */

typedef struct {
    int64_t T, n_keys, past, H, KV, d;
    uint32_t window;
    float softcap;
    int ring; /* kpos rotated like a ring buffer */
} att_case;

static void check_attention(const att_case *ac, hone_pool *pool) {
    const hone_backend *be = hone_cpu_kernels();
    int64_t T = ac->T, N = ac->n_keys, H = ac->H, KV = ac->KV, d = ac->d;
    float *q = malloc(sizeof(float) * T * H * d), *k = malloc(sizeof(float) * N * KV * d);
    float *v = malloc(sizeof(float) * N * KV * d), *out = malloc(sizeof(float) * T * H * d);
    int32_t *qpos = malloc(sizeof(int32_t) * T), *kpos = malloc(sizeof(int32_t) * N);
    for (int64_t i = 0; i < T * H * d; i++) q[i] = nrand();
    for (int64_t i = 0; i < N * KV * d; i++) k[i] = nrand(), v[i] = nrand();
    for (int64_t t = 0; t < T; t++) qpos[t] = (int32_t)(ac->past + t);
    for (int64_t j = 0; j < N; j++) kpos[j] = (int32_t)(ac->ring ? (j + 7) % N : j);
    if (N > T + 2) kpos[N - 1] = 1000000; /* a key in everyone's future */
    hone_attn_params p = {(uint32_t)H, (uint32_t)KV, (uint32_t)d, 1.0f / sqrtf((float)d), ac->window, ac->softcap};
    const double u = 1.0 / 16777216.0;
    double *sc = malloc(sizeof(double) * N);
    for (int level = 0; level <= cpu_kern_best_level(); level++) {
        cpu_kern_force(level, CPU_VAR_AUTO);
        for (int64_t i = 0; i < T * H * d; i++) out[i] = NAN;
        be->attention(out, q, qpos, T, k, v, kpos, N, &p, pool);
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++) {
                int64_t g = h / (H / KV);
                const float *qr = q + (t * H + h) * d;
                double mx = -INFINITY, sum = 0, dsmax = 0, vmax = 0;
                for (int64_t j = 0; j < N; j++) {
                    int vis = kpos[j] <= qpos[t] && (!p.window || kpos[j] > qpos[t] - (int64_t)p.window);
                    double s = 0, a = 0;
                    for (int64_t e = 0; e < d; e++) {
                        s += (double)qr[e] * k[(j * KV + g) * d + e];
                        a += fabs((double)qr[e] * k[(j * KV + g) * d + e]);
                    }
                    s *= p.scale;
                    if (p.softcap > 0) s = p.softcap * tanh(s / p.softcap);
                    sc[j] = vis ? s : -INFINITY;
                    if (vis) mx = fmax(mx, s);
                    /* f32 score: d-term dot, scale, softcap (tanh approximated
                     * to 3e-7 absolute, times softcap) */
                    dsmax = fmax(dsmax, (d + 4) * u * a * p.scale + (p.softcap > 0 ? 4e-7 * p.softcap : 0));
                }
                for (int64_t j = 0; j < N; j++) {
                    sc[j] = sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
                    sum += sc[j];
                    if (sc[j] > 0)
                        for (int64_t e = 0; e < d; e++) vmax = fmax(vmax, fabs(v[(j * KV + g) * d + e]));
                }
                /* out is a convex combination of v rows: softmax weights are off by
                 * <= 2 max|dscore| + exp's 2e-7 (x2) relative; the sums add
                 * (n_keys + d) roundings */
                double tol = vmax * (2 * dsmax + 4e-7 + 2 * (N + d + 8) * u) + 1e-30;
                for (int64_t e = 0; e < d; e++) {
                    double ref = 0;
                    for (int64_t j = 0; j < N; j++) ref += sc[j] * v[(j * KV + g) * d + e];
                    ref = sum > 0 ? ref / sum : 0;
                    double got = out[(t * H + h) * d + e];
                    if (!(fabs(got - ref) <= tol))
                        fail_msg("attention level %d T=%lld N=%lld H=%lld KV=%lld d=%lld win=%u cap=%g: "
                                 "out[%lld][%lld][%lld] = %.9g, ref %.9g, tol %.3g",
                                 level, (long long)T, (long long)N, (long long)H, (long long)KV,
                                 (long long)d, p.window, p.softcap, (long long)t, (long long)h,
                                 (long long)e, got, ref, tol);
                }
            }
    }
    cpu_kern_force(-1, CPU_VAR_AUTO);
    free(sc);
    free(q), free(k), free(v), free(out), free(qpos), free(kpos);
}

static void test_attention(void **state) {
    hone_err err = {0};
    hone_pool *pool;
    ASSERT_OK(hone_pool_create(&pool, 2, &err), &err);
    static const att_case cases[] = {
        {1, 41, 40, 4, 1, 64, 0, 0, 1},    /* decode, GQA 4:1, ring kv cache */
        {3, 36, 33, 3, 1, 72, 0, 0, 0},    /* head_dim not a multiple of 16 */
        {17, 17, 0, 4, 2, 64, 5, 0, 0},    /* prefill, sliding window */
        {64, 70, 6, 2, 2, 32, 0, 30.0f, 1}, /* softcap, several key blocks */
        {33, 33, 0, 8, 1, 16, 9, 0, 1},    /* 8 heads per kv head, window, ring */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_attention(&cases[i], pool);
        check_attention(&cases[i], NULL);
    }
    hone_pool_free(pool);
}

/* ---- rmsnorm, rope, glu ---- */

static void test_rmsnorm(void **state) {
    enum { T = 3, D = 77 };
    float x[T * D], w[D], y[T * D];
    for (int i = 0; i < T * D; i++) x[i] = nrand() * (i < D ? 100.0f : 1.0f);
    for (int i = 0; i < D; i++) w[i] = 1.0f + nrand();
    const double u = 1.0 / 16777216.0;
    for (int level = 0; level <= cpu_kern_best_level(); level++) {
        cpu_kern_force(level, CPU_VAR_AUTO);
        hone_cpu_kernels()->rmsnorm(y, x, w, T, D, 1e-6f);
        for (int t = 0; t < T; t++) {
            double ss = 0;
            for (int i = 0; i < D; i++) ss += (double)x[t * D + i] * x[t * D + i];
            double r = 1.0 / sqrt(ss / D + 1e-6);
            for (int i = 0; i < D; i++) {
                double ref = x[t * D + i] * r * w[i];
                /* f32 sum of D squares (relative D u), sqrt, 3 products */
                if (!(fabs(y[t * D + i] - ref) <= (D + 8) * u * fabs(ref) + 1e-30))
                    fail_msg("rmsnorm level %d [%d][%d] = %.9g, ref %.9g", level, t, i, y[t * D + i], ref);
            }
        }
    }
    cpu_kern_force(-1, CPU_VAR_AUTO);
}

static void test_rope(void **state) {
    enum { T = 3, H = 2, HD = 40, RD = 32 };
    float x[T * H * HD], x0[T * H * HD], freqs[RD / 2];
    int32_t pos[T] = {0, 7, 600};
    for (int i = 0; i < RD / 2; i++) freqs[i] = powf(10000.0f, -2.0f * i / RD);
    for (int i = 0; i < T * H * HD; i++) x0[i] = nrand();
    const double u = 1.0 / 16777216.0;
    for (int mode = 0; mode <= 1; mode++)
        for (int level = 0; level <= cpu_kern_best_level(); level++) {
            cpu_kern_force(level, CPU_VAR_AUTO);
            memcpy(x, x0, sizeof x);
            hone_cpu_kernels()->rope(x, pos, T, H, HD, RD, freqs, (hone_rope_mode)mode);
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    const float *a = x0 + (t * H + h) * HD;
                    const float *b = x + (t * H + h) * HD;
                    for (int e = RD; e < HD; e++) assert_true(a[e] == b[e]); /* not rotated */
                    for (int i = 0; i < RD / 2; i++) {
                        int i0 = mode ? i : 2 * i, i1 = mode ? i + RD / 2 : 2 * i + 1;
                        double th = (float)pos[t] * freqs[i]; /* the angle in f32, as defined */
                        double r0 = a[i0] * cos(th) - a[i1] * sin(th), r1 = a[i0] * sin(th) + a[i1] * cos(th);
                        /* cosf/sinf within 1 ulp, 2 products and a sum */
                        double tol = 6 * u * (fabs(a[i0]) + fabs(a[i1]));
                        if (!(fabs(b[i0] - r0) <= tol && fabs(b[i1] - r1) <= tol))
                            fail_msg("rope mode %d level %d t %d h %d pair %d", mode, level, t, h, i);
                    }
                }
        }
    cpu_kern_force(-1, CPU_VAR_AUTO);
}

static void test_glu(void **state) {
    enum { T = 3, D = 45 };
    float g[T * D], up[T * D], y[T * D];
    for (int i = 0; i < T * D; i++) g[i] = nrand() * 4, up[i] = nrand();
    g[0] = -100.0f, g[1] = 100.0f, g[2] = 0.0f;
    for (int gelu = 0; gelu <= 1; gelu++)
        for (int level = 0; level <= cpu_kern_best_level(); level++) {
            cpu_kern_force(level, CPU_VAR_AUTO);
            hone_cpu_kernels()->glu(y, g, up, T, D, gelu);
            for (int i = 0; i < T * D; i++) {
                double x = g[i], a;
                if (gelu) a = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
                else a = x / (1 + exp(-x));
                double ref = a * up[i];
                /* exp/tanh approximations: 3e-7 absolute in tanh, 2e-7 relative in
                 * exp, a few roundings: 1e-6 of |g up| */
                if (!(fabs(y[i] - ref) <= 1e-6 * fabs(x * up[i]) + 1e-30))
                    fail_msg("glu gelu=%d level %d [%d] g=%g: %.9g vs %.9g", gelu, level, i, x, y[i], ref);
            }
        }
    cpu_kern_force(-1, CPU_VAR_AUTO);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_act),
        cmocka_unit_test(test_quant_act16),
        cmocka_unit_test(test_wdec_rows),
        cmocka_unit_test(test_matmul_one_thread),
        cmocka_unit_test(test_matmul_pool),
        cmocka_unit_test(test_matmul_auto),
        cmocka_unit_test(test_matmul_n),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_glu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
