/* rmsnorm.c: y (T, D) = x / sqrt(mean(x^2) + eps) * w, the sum of squares kept
 * in 16 f32 lanes (AVX-512) or a double (plain C). */
#include <math.h>

#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"

#if defined(__x86_64__)
VMATH_TARGET static void rmsnorm_avx512(float *y, const float *x, const float *w, int64_t D, float eps) {
    __m512 ss = _mm512_setzero_ps();
    for (int64_t i = 0; i < D; i += 16) {
        __mmask16 m = D - i >= 16 ? 0xffff : (__mmask16)((1u << (D - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        ss = _mm512_fmadd_ps(v, v, ss);
    }
    float r = 1.0f / sqrtf(_mm512_reduce_add_ps(ss) / (float)D + eps);
    __m512 rv = _mm512_set1_ps(r);
    for (int64_t i = 0; i < D; i += 16) {
        __mmask16 m = D - i >= 16 ? 0xffff : (__mmask16)((1u << (D - i)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), rv);
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i)));
    }
}
#endif

void cpu_rmsnorm(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps, int level) {
    for (int64_t t = 0; t < T; t++) {
#if defined(__x86_64__)
        if (level >= CPU_LVL_AVX512) {
            rmsnorm_avx512(y + t * D, x + t * D, w, D, eps);
            continue;
        }
#endif
        const float *xr = x + t * D;
        double ss = 0;
        for (int64_t i = 0; i < D; i++) ss += (double)xr[i] * xr[i];
        float r = (float)(1.0 / sqrt(ss / (double)D + eps));
        for (int64_t i = 0; i < D; i++) y[t * D + i] = xr[i] * r * w[i];
    }
}
