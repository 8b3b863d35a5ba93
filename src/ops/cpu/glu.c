/* glu.c: y (T, D) = act(gate) * up with act = silu (g / (1 + e^-g)) or the
 * tanh-approximated gelu (0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3)))),
 * AVX-512 with vm_exp / vm_tanh (vmath.h), else plain C with expf / tanhf. */
#include <math.h>

#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

#if defined(__x86_64__)
VMATH_TARGET static void glu_avx512(float *y, const float *gate, const float *up, int64_t n, int gelu) {
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i), a;
        if (gelu) {
            __m512 g3 = _mm512_mul_ps(_mm512_mul_ps(g, g), g);
            __m512 in = _mm512_mul_ps(_mm512_set1_ps(GELU_C), _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), g3, g));
            a = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), g),
                              _mm512_add_ps(_mm512_set1_ps(1.0f), vm_tanh(in)));
        } else {
            a = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), vm_exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
        }
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, up + i)));
    }
}
#endif

void cpu_glu(float *y, const float *gate, const float *up, int64_t T, int64_t D, int gelu, int level) {
    int64_t n = T * D;
#if defined(__x86_64__)
    if (level >= CPU_LVL_AVX512) {
        glu_avx512(y, gate, up, n, gelu);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i], a;
        if (gelu) a = 0.5f * g * (1.0f + tanhf(GELU_C * (g + 0.044715f * g * g * g)));
        else a = g / (1.0f + expf(-g));
        y[i] = a * up[i];
    }
}
