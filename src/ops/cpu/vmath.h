/* vmath.h: vector math for the fast CPU kernels (AVX-512): exp with Cephes'
 * range reduction (x = n ln2 + r, |r| <= ln2/2) and degree-6 polynomial,
 * relative error < 2e-7 on [-87, 88]; below -87.3 it returns ~0 (1e-38
 * scaled by 2^n underflows to 0 through scalef), above 88.7 inf. */
#ifndef HONE_OPS_CPU_VMATH_H
#define HONE_OPS_CPU_VMATH_H

#if defined(__x86_64__)
#include <immintrin.h>

#define VMATH_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

VMATH_TARGET static inline __attribute__((always_inline)) __m512 vm_exp(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* tanh(x) = 1 - 2 / (exp(2x) + 1): exact limits +-1, relative error ~1e-6
 * near 0 (cancellation), absolute error < 3e-7. */
VMATH_TARGET static inline __attribute__((always_inline)) __m512 vm_tanh(__m512 x) {
    __m512 e = vm_exp(_mm512_add_ps(x, x));
    return _mm512_sub_ps(_mm512_set1_ps(1.0f),
                         _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}
#endif

#endif
