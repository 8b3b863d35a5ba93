/* ggml_mm_bench.c: kernel lab peer: times llama.cpp's ggml CPU mul_mat (the
 * libggml-base/libggml-cpu that llama-cpp-python built, native AVX-512 VNNI) on
 * the shapes of bench/gemm_bench.c, same timing rules (median, CPU time too).
 * Plain ggml tensors (no llama.cpp repack buffer): the path that
 * ggml_graph_compute takes for weights in an ordinary buffer.
 * Build and run: bash bench/ggml_bench.sh [-t THREADS] (links the venv's libs). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"
#include "ggml-cpu.h"

static double now(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *label, enum ggml_type type, int T, int K, int N, int nth) {
    if (K % ggml_blck_size(type)) return;
    size_t wbytes = ggml_row_size(type, K) * (size_t)N;
    size_t mem = wbytes + (size_t)T * K * 4 + (size_t)T * N * 4 + (size_t)T * K * 4 + 256 * 1024 * 1024;
    struct ggml_init_params ip = {mem, NULL, false};
    struct ggml_context *ctx = ggml_init(ip);
    struct ggml_tensor *a = ggml_new_tensor_2d(ctx, type, K, N);
    struct ggml_tensor *b = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, T);
    float *row = malloc(sizeof(float) * (size_t)K * 1024);
    int uniq = N < 1024 ? N : 1024;
    for (size_t i = 0; i < (size_t)K * uniq; i++) row[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.1f;
    ggml_quantize_chunk(type, row, a->data, 0, uniq, K, NULL);
    size_t rb = ggml_row_size(type, K);
    for (int r = uniq; r < N; r++) memcpy((char *)a->data + (size_t)r * rb, (char *)a->data + (size_t)(r % uniq) * rb, rb);
    for (size_t i = 0; i < (size_t)K * T; i++) ((float *)b->data)[i] = (float)rand() / RAND_MAX - 0.5f;
    struct ggml_tensor *c = ggml_mul_mat(ctx, a, b);
    struct ggml_cgraph *gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, c);
    double t0 = now(CLOCK_MONOTONIC);
    ggml_graph_compute_with_ctx(ctx, gf, nth);
    double one = now(CLOCK_MONOTONIC) - t0;
    int inner = one > 0.02 ? 1 : (int)(0.02 / (one + 1e-9)) + 1;
    double tw[3], tc[3];
    for (int i = 0; i < 3; i++) {
        double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        for (int j = 0; j < inner; j++) ggml_graph_compute_with_ctx(ctx, gf, nth);
        tw[i] = (now(CLOCK_MONOTONIC) - w0) / inner;
        tc[i] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / inner;
    }
    qsort(tw, 3, sizeof(double), cmp_d);
    qsort(tc, 3, sizeof(double), cmp_d);
    double fl = 2.0 * T * K * N;
    printf("ggml %-8s %-4s T=%-3d %5dx%-6d %8.3f ms %6.1f GFLOP/s, cpu %6.1f GFLOP/s/core", label,
           ggml_type_name(type), T, K, N, tw[1] * 1e3, fl / tw[1] * 1e-9, fl / tc[1] * 1e-9);
    if (T == 1) printf(" %5.1f GB/s", (double)wbytes / tw[1] * 1e-9);
    printf("\n");
    fflush(stdout);
    free(row);
    ggml_free(ctx);
}

int main(int argc, char **argv) {
    int nth = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) nth = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
    }
    ggml_cpu_init();
    enum ggml_type gemm_types[] = {GGML_TYPE_F32, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K};
    for (int i = 0; i < 3; i++) {
        run("gemm", gemm_types[i], 512, 640, 2048, nth);
        run("gemm", gemm_types[i], 512, 2048, 640, nth);
    }
    if (!quick) run("lm_head", GGML_TYPE_Q8_0, 512, 640, 262144, nth);
    enum ggml_type types[] = {GGML_TYPE_Q8_0, GGML_TYPE_Q5_0, GGML_TYPE_Q4_K, GGML_TYPE_Q6_K,
                              GGML_TYPE_Q4_1, GGML_TYPE_Q4_0, GGML_TYPE_Q5_K, GGML_TYPE_Q5_1,
                              GGML_TYPE_F16,  GGML_TYPE_BF16, GGML_TYPE_F32};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        run("ffn_up", types[i], 1, 640, 2048, nth);
        run("ffn_down", types[i], 1, 2048, 640, nth);
        run("ffn_up", types[i], 512, 640, 2048, nth);
        run("ffn_down", types[i], 512, 2048, 640, nth);
    }
    return 0;
}
