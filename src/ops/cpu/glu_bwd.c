/* glu_bwd.c: the fast backward of y = act(gate) * up (backend.h glu_bwd):
 *   dgate += dy * up * act'(gate),   dup += dy * act(gate),
 * with the exact derivatives of the same functions as the reference (ref.c):
 *   silu' = s (1 + g (1 - s)), s = 1 / (1 + e^-g);
 *   gelu_tanh' = 0.5 (1 + th) + 0.5 g (1 - th^2) c (1 + 3 * 0.044715 g^2),
 *   th = tanh(c (g + 0.044715 g^3)), c = sqrt(2/pi).
 * AVX-512 in f32 with vm_exp / vm_tanh (vmath.h: relative error < 2e-7, tanh
 * absolute < 3e-7), so results agree with the double-precision reference to a
 * few f32 ulps of the larger terms; other levels use the reference. */
#include "ops/cpu/kern.h"
#include "ops/cpu/vmath.h"

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */

#if defined(__x86_64__)
VMATH_TARGET static void glub_avx512(float *dgate, float *dup, const float *dy, const float *gate, const float *up,
                                     int64_t n, int gelu) {
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i), d = _mm512_maskz_loadu_ps(m, dy + i), act, der;
        if (gelu) {
            __m512 g2 = _mm512_mul_ps(g, g);
            __m512 in = _mm512_mul_ps(_mm512_set1_ps(GELU_C),
                                      _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), _mm512_mul_ps(g2, g), g));
            __m512 th = vm_tanh(in);
            act = _mm512_mul_ps(_mm512_mul_ps(half, g), _mm512_add_ps(one, th));
            __m512 inner = _mm512_mul_ps(_mm512_set1_ps(GELU_C),
                                         _mm512_fmadd_ps(_mm512_set1_ps(3.0f * 0.044715f), g2, one));
            der = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_mul_ps(half, g), _mm512_fnmadd_ps(th, th, one)), inner,
                                  _mm512_mul_ps(half, _mm512_add_ps(one, th)));
        } else {
            __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, vm_exp(_mm512_sub_ps(_mm512_setzero_ps(), g))));
            act = _mm512_mul_ps(g, s);
            der = _mm512_mul_ps(s, _mm512_fmadd_ps(g, _mm512_sub_ps(one, s), one));
        }
        if (dgate) {
            __m512 u = _mm512_maskz_loadu_ps(m, up + i);
            _mm512_mask_storeu_ps(dgate + i, m,
                                  _mm512_fmadd_ps(_mm512_mul_ps(d, u), der, _mm512_maskz_loadu_ps(m, dgate + i)));
        }
        if (dup) _mm512_mask_storeu_ps(dup + i, m, _mm512_fmadd_ps(d, act, _mm512_maskz_loadu_ps(m, dup + i)));
    }
}
#endif

void cpu_glu_bwd(float *dgate, float *dup, const float *dy, const float *gate, const float *up, int64_t T, int64_t D,
                 int gelu, int level) {
#if defined(__x86_64__)
    if (level >= CPU_LVL_AVX512) {
        glub_avx512(dgate, dup, dy, gate, up, T * D, gelu);
        return;
    }
#endif
    hone_backend_ref()->glu_bwd(dgate, dup, dy, gate, up, T, D, gelu);
}
