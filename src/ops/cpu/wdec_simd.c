/* wdec_simd.c: AVX2 (+ F16C) versions of the row decoders of wdec.c for the
 * common types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), used at the
 * AVX2 and AVX-512 levels: same output (u in natural k order, dw/mw per
 * sub-block), checked byte for byte against the scalar decoders by
 * test_ops_cpu.c. Nibbles are split with 16-bit shifts and a 0x0f mask; the
 * fifth bit of Q5 types is spread from the 32 qh bits to 32 bytes (byte
 * shuffle, bit test, compare) and added as 0x10 to nibbles <= 15. */
#include <string.h>

#include "ops/cpu/kern.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define D512 __attribute__((target("avx2,fma,f16c")))

D512 static inline float h16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return _cvtsh_ss(v);
}

D512 static inline uint32_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* 16 bytes of nibbles -> 32 bytes: low nibbles then high nibbles. */
D512 static inline __m256i nib16(const uint8_t *q) {
    __m128i v = _mm_loadu_si128((const __m128i *)q), m = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* 32 bytes -> (low nibbles, high nibbles), 32 bytes each. */
D512 static inline void nib32(const uint8_t *q, __m256i *lo, __m256i *hi) {
    __m256i v = _mm256_loadu_si256((const __m256i *)q), m = _mm256_set1_epi8(0x0f);
    *lo = _mm256_and_si256(v, m);
    *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
}

/* 0x10 in byte i where bit i of qh is set, else 0. */
D512 static inline __m256i bits_to_0x10(uint32_t qh) {
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2,
                                            3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

D512 static void row_q8_0(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < nb; b++, s += 34) {
        float d = h16(s);
        _mm256_storeu_si256((__m256i *)(u + 32 * b),
                            _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(s + 2)), flip));
        dw[b] = d;
        mw[b] = -128.0f * d;
    }
}

D512 static void row_q4_0(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    for (int64_t b = 0; b < nb; b++, s += 18) {
        float d = h16(s);
        _mm256_storeu_si256((__m256i *)(u + 32 * b), nib16(s + 2));
        dw[b] = d;
        mw[b] = -8.0f * d;
    }
}

D512 static void row_q4_1(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    for (int64_t b = 0; b < nb; b++, s += 20) {
        _mm256_storeu_si256((__m256i *)(u + 32 * b), nib16(s + 4));
        dw[b] = h16(s);
        mw[b] = h16(s + 2);
    }
}

D512 static void row_q5_0(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    for (int64_t b = 0; b < nb; b++, s += 22) {
        float d = h16(s);
        __m256i v = _mm256_or_si256(nib16(s + 6), bits_to_0x10(ld32(s + 2)));
        _mm256_storeu_si256((__m256i *)(u + 32 * b), v);
        dw[b] = d;
        mw[b] = -16.0f * d;
    }
}

D512 static void row_q5_1(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    for (int64_t b = 0; b < nb; b++, s += 24) {
        __m256i n = _mm256_or_si256(nib16(s + 8), bits_to_0x10(ld32(s + 4)));
        _mm256_storeu_si256((__m256i *)(u + 32 * b), n);
        dw[b] = h16(s);
        mw[b] = h16(s + 2);
    }
}

static inline void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

D512 static void row_k45(const uint8_t *s, int64_t nb, int q5, uint8_t *u, float *dw, float *mw) {
    const __m256i b4 = _mm256_set1_epi8(0x10);
    const int64_t bb = q5 ? 176 : 144;
    for (int64_t b = 0; b < nb; b++, s += bb, u += 256, dw += 8, mw += 8) {
        float d = h16(s), dmin = h16(s + 2);
        for (int j = 0; j < 8; j++) {
            int sc, m;
            k4_scale_min(s + 4, j, &sc, &m);
            dw[j] = d * (float)sc;
            mw[j] = -(dmin * (float)m);
        }
        const uint8_t *qs = s + (q5 ? 48 : 16);
        __m256i qh = q5 ? _mm256_loadu_si256((const __m256i *)(s + 16)) : _mm256_setzero_si256();
        for (int i = 0; i < 4; i++) {
            __m256i lo, hi;
            nib32(qs + 32 * i, &lo, &hi);
            if (q5) {
                __m256i c0 = _mm256_set1_epi8((char)(1 << (2 * i))), c1 = _mm256_set1_epi8((char)(1 << (2 * i + 1)));
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, c0), c0), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, c1), c1), b4));
            }
            _mm256_storeu_si256((__m256i *)(u + 64 * i), lo);
            _mm256_storeu_si256((__m256i *)(u + 64 * i + 32), hi);
        }
    }
}

D512 static void row_q6_k(const uint8_t *s, int64_t nb, uint8_t *u, float *dw, float *mw) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x30);
    for (int64_t b = 0; b < nb; b++, s += 210, u += 256, dw += 16, mw += 16) {
        float d = h16(s + 208);
        const int8_t *sc = (const int8_t *)(s + 192);
        for (int g = 0; g < 16; g++) {
            dw[g] = d * (float)sc[g];
            mw[g] = -32.0f * dw[g];
        }
        for (int h = 0; h < 2; h++) {
            __m256i L0 = _mm256_loadu_si256((const __m256i *)(s + 64 * h));
            __m256i L1 = _mm256_loadu_si256((const __m256i *)(s + 64 * h + 32));
            __m256i H = _mm256_loadu_si256((const __m256i *)(s + 128 + 32 * h));
            __m256i o0 = _mm256_or_si256(_mm256_and_si256(L0, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m2));
            __m256i o1 = _mm256_or_si256(_mm256_and_si256(L1, m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m2));
            __m256i o2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L0, 4), m4), _mm256_and_si256(H, m2));
            __m256i o3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(L1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(H, 2), m2));
            uint8_t *o = u + 128 * h;
            _mm256_storeu_si256((__m256i *)o, o0);
            _mm256_storeu_si256((__m256i *)(o + 32), o1);
            _mm256_storeu_si256((__m256i *)(o + 64), o2);
            _mm256_storeu_si256((__m256i *)(o + 96), o3);
        }
    }
}

int cpu_wdec_row_simd(int type, const uint8_t *src, int64_t n_in, uint8_t *u, float *dw, float *mw) {
    switch (type) {
    case HONE_Q8_0: row_q8_0(src, n_in / 32, u, dw, mw); return 1;
    case HONE_Q4_0: row_q4_0(src, n_in / 32, u, dw, mw); return 1;
    case HONE_Q4_1: row_q4_1(src, n_in / 32, u, dw, mw); return 1;
    case HONE_Q5_0: row_q5_0(src, n_in / 32, u, dw, mw); return 1;
    case HONE_Q5_1: row_q5_1(src, n_in / 32, u, dw, mw); return 1;
    case HONE_Q4_K: row_k45(src, n_in / 256, 0, u, dw, mw); return 1;
    case HONE_Q5_K: row_k45(src, n_in / 256, 1, u, dw, mw); return 1;
    case HONE_Q6_K: row_q6_k(src, n_in / 256, u, dw, mw); return 1;
    default: return 0;
    }
}
#else
int cpu_wdec_row_simd(int type, const uint8_t *src, int64_t n_in, uint8_t *u, float *dw, float *mw) {
    return 0;
}
#endif
