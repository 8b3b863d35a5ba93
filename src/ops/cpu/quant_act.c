/* quant_act.c: quantizes activations x (T, n_in) per block of 32 to int8 for the
 * INT8 matmul: dx = max|x| / 127, q = round-to-nearest-even(x * (1/dx)), and per
 * sub-block (16 or 32 elements) dxs = dx * sum(q), which carries the weights'
 * offsets (w = dw*u + mw contributes mw * dxs). The scalar and AVX-512 versions
 * perform the same float operations, so they give identical bytes. */
#include <math.h>
#include <string.h>

#include "ops/cpu/kern.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static void quant_act_scalar(const float *x, int64_t n, int sub, int8_t *q, float *dx, float *dxs) {
    for (int64_t b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(xb[i]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        int sum[2] = {0, 0};
        for (int i = 0; i < 32; i++) {
            int v = (int)nearbyintf(xb[i] * id);
            q[32 * b + i] = (int8_t)v;
            sum[i / 16] += v;
        }
        dx[b] = d;
        if (sub == 16) {
            dxs[2 * b] = d * (float)sum[0];
            dxs[2 * b + 1] = d * (float)sum[1];
        } else {
            dxs[b] = d * (float)(sum[0] + sum[1]);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
quant_act_avx512(const float *x, int64_t n, int sub, int8_t *q, float *dx, float *dxs) {
    for (int64_t b = 0; b < n / 32; b++) {
        __m512 a = _mm512_loadu_ps(x + 32 * b), c = _mm512_loadu_ps(x + 32 * b + 16);
        __m512 m = _mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c));
        float amax = _mm512_reduce_max_ps(m);
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, vid));
        __m512i qc = _mm512_cvtps_epi32(_mm512_mul_ps(c, vid));
        _mm_storeu_si128((__m128i *)(q + 32 * b), _mm512_cvtepi32_epi8(qa));
        _mm_storeu_si128((__m128i *)(q + 32 * b + 16), _mm512_cvtepi32_epi8(qc));
        int s0 = _mm512_reduce_add_epi32(qa), s1 = _mm512_reduce_add_epi32(qc);
        dx[b] = d;
        if (sub == 16) {
            dxs[2 * b] = d * (float)s0;
            dxs[2 * b + 1] = d * (float)s1;
        } else {
            dxs[b] = d * (float)(s0 + s1);
        }
    }
}
#endif

void cpu_quant_act(const float *x, int64_t T, int64_t n_in, int sub, int8_t *xq, float *dx,
                   float *dxs, int level) {
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * n_in;
        int8_t *q = xq + t * n_in;
        float *d = dx + t * (n_in / 32), *ds = dxs + t * (n_in / sub);
#if defined(__x86_64__)
        if (level >= CPU_LVL_AVX512) {
            quant_act_avx512(xr, n_in, sub, q, d, ds);
            continue;
        }
#endif
        quant_act_scalar(xr, n_in, sub, q, d, ds);
    }
}
