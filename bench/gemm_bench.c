/* gemm_bench.c: kernel-lab timing of the fast CPU matmul (src/ops/cpu/) on the
 * shapes that matter: training-sized GEMMs (T=512 x n_out x n_in) and the
 * model's projections at T=1 (decode) and T=512 (prompt), per weight type and
 * per variant (INT8 vpdpbusd vs F32 FMA panel), median of REPS runs.
 * Prints GFLOP/s (2*T*n_out*n_in / time) on the wall clock and per second of
 * process CPU time ("cpu"): this 2-core VM is shared, and wall time counts the
 * time other processes hold the cores; CPU time does not (with several threads
 * it sums them, so the "cpu" rate is per core). For T=1 also weight GB/s.
 *
 * Build: make bench ; run: build/gemm_bench [-t THREADS] [-r REPS] [-l LEVEL] [--quick]
 * (--quick skips the 262144-row LM-head shape). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hone.h"
#include "hone/quant.h"
#include "ops/cpu/kern.h"
#include "util/pool.h"

const hone_backend *hone_cpu_kernels(void);

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Weight of n_out rows: 1024 distinct random rows, repeated (speed does not
 * depend on the values; quantizing 262144 rows with K-quant search takes long). */
static hone_weight make_weight(int type, int64_t n_in, int64_t n_out) {
    size_t rb = (size_t)hone_dtype_row_bytes(type, n_in);
    uint8_t *d = malloc(rb * n_out);
    float *row = malloc(sizeof(float) * n_in);
    hone_err err = {0};
    int64_t uniq = n_out < 1024 ? n_out : 1024;
    for (int64_t r = 0; r < uniq; r++) {
        for (int64_t k = 0; k < n_in; k++) row[k] = frand() * 0.1f;
        if (hone_quantize(type, row, d + r * rb, n_in, &err)) {
            fprintf(stderr, "quantize: %s\n", err.msg);
            exit(1);
        }
    }
    for (int64_t r = uniq; r < n_out; r++) memcpy(d + r * rb, d + (r % uniq) * rb, rb);
    free(row);
    return (hone_weight){type, d, n_in, n_out, rb};
}

static int reps = 3, level_arg = -1; /* -l LEVEL: force 0 plain C, 1 AVX2, 2 AVX-512 */

/* Median wall time; *cpu gets the median CPU time. Short calls are repeated
 * inside one timing so that each lasts >= ~20 ms. */
static double time_mm(const hone_weight *w, const float *x, float *y, int64_t T, hone_pool *pool,
                      double *cpu) {
    const hone_backend *be = hone_cpu_kernels();
    double t[16], c[16];
    double t0 = now();
    be->matmul(y, x, w, NULL, T, pool); /* warm-up */
    double one = now() - t0;
    int inner = one > 0.02 ? 1 : (int)(0.02 / (one + 1e-9)) + 1;
    for (int i = 0; i < reps; i++) {
        double w0 = now(), c0 = cpu_now();
        for (int j = 0; j < inner; j++) be->matmul(y, x, w, NULL, T, pool);
        t[i] = (now() - w0) / inner;
        c[i] = (cpu_now() - c0) / inner;
    }
    qsort(t, reps, sizeof t[0], cmp_d);
    qsort(c, reps, sizeof c[0], cmp_d);
    *cpu = c[reps / 2];
    return t[reps / 2];
}

static void run(const char *label, int type, int64_t T, int64_t n_in, int64_t n_out, int var,
                hone_pool *pool) {
    if (var != CPU_VAR_F32 && !cpu_wdec_supported(type, NULL)) return;
    if (n_in % hone_dtype_block(type)) return; /* e.g. K-quants need n_in % 256 == 0 */
    hone_weight w = make_weight(type, n_in, n_out);
    float *x = malloc(sizeof(float) * T * n_in), *y = malloc(sizeof(float) * T * n_out);
    for (int64_t i = 0; i < T * n_in; i++) x[i] = frand();
    cpu_kern_force(level_arg, var);
    double cs, s = time_mm(&w, x, y, T, pool, &cs);
    cpu_kern_force(-1, CPU_VAR_AUTO);
    double fl = 2.0 * T * n_in * n_out;
    printf("%-8s %-4s %-4s T=%-3lld %5lldx%-6lld %8.3f ms %6.1f GFLOP/s, cpu %6.1f GFLOP/s/core",
           label, hone_dtype_name(type), var == CPU_VAR_INT8 ? "int8" : var == CPU_VAR_INT16 ? "i16" : "f32", (long long)T,
           (long long)n_in, (long long)n_out, s * 1e3, fl / s * 1e-9,
           fl / cs * 1e-9);
    if (T == 1) printf(" %5.1f GB/s", (double)w.row_bytes * n_out / s * 1e-9);
    printf("\n");
    fflush(stdout);
    free((void *)w.data);
    free(x);
    free(y);
}

/* Causal prefill attention (n_keys = T, positions 0..T-1): FLOPs count the
 * visible (query, key) pairs only, 4 * head_dim each (QK and PV). */
static void run_attn(const char *label, int64_t T, int64_t H, int64_t KV, int64_t d, uint32_t window,
                     int level, hone_pool *pool) {
    float *q = malloc(sizeof(float) * T * H * d), *k = malloc(sizeof(float) * T * KV * d);
    float *v = malloc(sizeof(float) * T * KV * d), *o = malloc(sizeof(float) * T * H * d);
    int32_t *pos = malloc(sizeof(int32_t) * T);
    for (int64_t i = 0; i < T * H * d; i++) q[i] = frand();
    for (int64_t i = 0; i < T * KV * d; i++) k[i] = frand(), v[i] = frand();
    for (int64_t t = 0; t < T; t++) pos[t] = (int32_t)t;
    hone_attn_params p = {(uint32_t)H, (uint32_t)KV, (uint32_t)d, 0.0625f, window, 0};
    const hone_backend *be = hone_cpu_kernels();
    cpu_kern_force(level, CPU_VAR_AUTO);
    double t[16], c[16];
    be->attention(o, q, pos, T, k, v, pos, T, &p, pool);
    for (int i = 0; i < reps; i++) {
        double w0 = now(), c0 = cpu_now();
        be->attention(o, q, pos, T, k, v, pos, T, &p, pool);
        t[i] = now() - w0;
        c[i] = cpu_now() - c0;
    }
    cpu_kern_force(-1, CPU_VAR_AUTO);
    qsort(t, reps, sizeof t[0], cmp_d);
    qsort(c, reps, sizeof c[0], cmp_d);
    double pairs = 0;
    for (int64_t i = 0; i < T; i++) pairs += window && window < i + 1 ? window : i + 1;
    double fl = pairs * H * d * 4;
    printf("%-8s attn %-6s T=%-3lld H=%lld/%lld d=%lld win=%u %8.3f ms %6.1f GFLOP/s, cpu %6.1f GFLOP/s/core\n",
           label, level == CPU_LVL_AVX512 ? "avx512" : level == CPU_LVL_AVX2 ? "avx2" : "plainC", (long long)T,
           (long long)H, (long long)KV, (long long)d, window, t[reps / 2] * 1e3, fl / t[reps / 2] * 1e-9,
           fl / c[reps / 2] * 1e-9);
    free(q), free(k), free(v), free(o), free(pos);
}

int main(int argc, char **argv) {
    int threads = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "-l") && i + 1 < argc) level_arg = atoi(argv[++i]);
    }
    if (reps < 1) reps = 1;
    if (reps > 16) reps = 16;
    hone_err err = {0};
    hone_pool *pool = NULL;
    if (hone_pool_create(&pool, threads, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    char feat[256];
    hone_cpu_features_str(hone_cpu_features(), feat, sizeof feat);
    printf("threads %d, level %d, cpu: %s\n", hone_pool_size(pool), cpu_kern_best_level(), feat);

    /* attention at prompt 512: Gemma 3 270M (4 heads / 1 kv, 256 dims, global
     * and 512-window local layers) and SmolLM2-135M (9 / 3, 64 dims) */
    for (int lv = cpu_kern_best_level(); lv >= 0; lv -= cpu_kern_best_level() ? cpu_kern_best_level() : 1) {
        run_attn("gemma3", 512, 4, 1, 256, 0, lv, pool);
        run_attn("smollm2", 512, 9, 3, 64, 0, lv, pool);
    }

    /* training-sized GEMMs */
    static const int gemm_types[] = {HONE_F32, HONE_Q8_0, HONE_Q4_K};
    for (int i = 0; i < 3; i++)
        for (int v = CPU_VAR_INT8; v <= CPU_VAR_INT16; v++) {
            run("gemm", gemm_types[i], 512, 640, 2048, v, pool);
            run("gemm", gemm_types[i], 512, 2048, 640, v, pool);
        }
    if (!quick)
        for (int v = CPU_VAR_INT8; v <= CPU_VAR_INT16; v++)
            run("lm_head", HONE_Q8_0, 512, 640, 262144, v, pool);
    if (!quick) run("lm_head", HONE_F32, 512, 640, 262144, CPU_VAR_F32, pool);

    /* model projections: Gemma 3 270M ffn up (640 -> 2048) and down (2048 -> 640) */
    static const int types[] = {HONE_Q8_0, HONE_Q5_0, HONE_Q4_K, HONE_Q6_K, HONE_Q4_1, HONE_Q4_0,
                                HONE_Q5_K, HONE_Q5_1, HONE_F16, HONE_BF16, HONE_F32};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (int v = CPU_VAR_INT8; v <= CPU_VAR_INT16; v++) {
            run("ffn_up", types[i], 1, 640, 2048, v, pool);
            run("ffn_down", types[i], 1, 2048, 640, v, pool);
            run("ffn_up", types[i], 512, 640, 2048, v, pool);
            run("ffn_down", types[i], 512, 2048, 640, v, pool);
        }
    hone_pool_free(pool);
    return 0;
}
