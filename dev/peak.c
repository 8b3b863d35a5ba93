/* peak.c: kernel lab: this CPU's peak FP32 FMA and INT8 VNNI (vpdpbusd) rates.
 * Tight loops of independent accumulators (12 chains, latency 4 x 2 ports
 * covered), zmm and ymm, on 1..N threads (pthreads, one loop each).
 * Build: cc -O3 -pthread dev/peak.c -o build/peak ; run: build/peak [threads] */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 200000000L / 10

/* CPU time of the process: on this shared 2-core VM, wall time counts the
 * time other processes hold the core. With n threads it sums theirs, so the
 * rate below is per thread-second of CPU. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float sinkf;
static volatile int sinki;

__attribute__((target("avx512f"))) static void *fma512(void *arg) {
    (void)arg;
    __m512 a[12], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    __m512 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_ps(s, a[i]);
    sinkf = _mm512_reduce_add_ps(s);
    return NULL;
}

__attribute__((target("avx2,fma"))) static void *fma256(void *arg) {
    (void)arg;
    __m256 a[12], b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    float o[8];
    __m256 s = a[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, a[i]);
    _mm256_storeu_ps(o, s);
    sinkf = o[0];
    return NULL;
}

__attribute__((target("avx512f,avx512vnni"))) static void *vnni512(void *arg) {
    (void)arg;
    __m512i a[12], b = _mm512_set1_epi8(3), c = _mm512_set1_epi8(-2);
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm512_set1_epi32(i);
    for (long it = 0; it < ITERS; it++)
        _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) a[i] = _mm512_dpbusd_epi32(a[i], b, c);
    __m512i s = a[0];
    for (int i = 1; i < 12; i++) s = _mm512_add_epi32(s, a[i]);
    sinki = _mm512_reduce_add_epi32(s);
    return NULL;
}

static void run(const char *name, void *(*fn)(void *), int nth, double ops_per_inst) {
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < nth; i++) pthread_create(&th[i], NULL, fn, NULL);
    for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
    double dt = now() - t0;
    double ops = (double)ITERS * 12 * ops_per_inst * nth;
    printf("%-28s %d thread(s): %7.1f G(FL)OP/s per core (%.2f inst/ns)\n", name, nth,
           ops / dt * 1e-9, (double)ITERS * 12 * nth / dt * 1e-9);
}

int main(int argc, char **argv) {
    int maxth = argc > 1 ? atoi(argv[1]) : 2;
    for (int n = 1; n <= maxth; n++) {
        run("fp32 fma zmm (32 flop/inst)", fma512, n, 32);
        run("fp32 fma ymm (16 flop/inst)", fma256, n, 16);
        run("int8 vpdpbusd zmm (128 op)", vnni512, n, 128);
    }
    return 0;
}
