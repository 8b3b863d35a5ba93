/* matvec_q.c: the INT8 matmul for a few tokens (decode, T < 4), AVX-512 VNNI.
 * Memory-bound: each weight row is streamed once, decoded into an L1 buffer in
 * natural k order (cpu_wdec_row), then for each token one vpdpbusd per 64
 * weights against the token's int8 activations. The 16 int32 lanes of a chunk
 * span 2 (sub=32) or 4 (sub=16) sub-blocks; their float scales dw * dx are
 * spread to the lanes with one permute, and sum(mw * dxs) rides along per 16
 * sub-blocks. One horizontal sum per row and token.
 * The 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) skip the buffer:
 * their scales are gathered 16 blocks at a time (one 32-bit gather reads d and,
 * for _1 types, m) and two blocks are decoded in registers per vpdpbusd; so
 * are Q4_K, Q5_K and Q6_K, per super-block. Others (Q2_K, Q3_K) go through the
 * row buffer.
 * INT16 pair (cpu_matvec_int16_n, decode at T = 1): the token's hi and lo int8
 * rows (q = 128 hi + lo, matmul_q16.c) share one decode and one float epilogue:
 * per 64 weights is = dpbusd(dpbusd(0, u, hi) << 7, u, lo), exact in int32 (a
 * lane sums 4 products: 128 * 4 * 255 * 127 + 4 * 255 * 64 < 2^24, so also exact
 * in float), scaled by dw * dx_lo; the offsets use dxs_hi + dxs_lo. One pass
 * instead of two streams and a sum. */
#include <stdlib.h>
#include <string.h>

#include "ops/cpu/kern.h"
#include "util/pool.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define MV_ROWS 16

typedef struct {
    float *y;
    const hone_weight *w;
    const float *bias;
    int64_t T, K, nsb;
    int sub;
    const int8_t *xq;  /* (T, K) */
    const float *dxe;  /* (T, nsb): dx of each sub-block */
    const float *dxs;  /* (T, nsb) */
    uint8_t *bufs;
    size_t buf_bytes;
    int pair;          /* INT16 pair: xq rows 0 (hi) and 1 (lo) form one token (T = 1) */
} mv_ctx;

/* Lane l of chunk j (64 k) belongs to sub-block idx[j][l] of its 16-sub-block group. */
static const int32_t idx32[8][16] = {
#define R8(j) {2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1}
    R8(0), R8(1), R8(2), R8(3), R8(4), R8(5), R8(6), R8(7)};
static const int32_t idx16[4][16] = {
#define R4(j) {4 * j, 4 * j, 4 * j, 4 * j, 4 * j + 1, 4 * j + 1, 4 * j + 1, 4 * j + 1, 4 * j + 2, 4 * j + 2, 4 * j + 2, 4 * j + 2, 4 * j + 3, 4 * j + 3, 4 * j + 3, 4 * j + 3}
    R4(0), R4(1), R4(2), R4(3)};

VNNI_TARGET static float row_dot(const mv_ctx *c, const uint8_t *u, const float *dw, const float *mw,
                                 int64_t t) {
    const int8_t *xq = c->xq + t * c->K;
    const float *dxe = c->dxe + t * c->nsb, *dxs = c->dxs + t * c->nsb;
    const int per = c->sub / 4; /* chunks of 64 per 16 sub-blocks: 8 or 4 */
    const int32_t(*idx)[16] = c->sub == 32 ? idx32 : idx16;
    int64_t nch = (c->K + 63) / 64; /* the last chunk may hold 32 (K = 64n + 32) */
    __m512 acc = _mm512_setzero_ps(), macc = _mm512_setzero_ps(), v = _mm512_setzero_ps();
    for (int64_t ch = 0; ch < nch; ch++) {
        int j = (int)(ch % per);
        if (j == 0) {
            int64_t s0 = ch / per * 16, ns = c->nsb - s0;
            __mmask16 m = ns >= 16 ? 0xffff : (__mmask16)((1u << ns) - 1);
            v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dw + s0), _mm512_maskz_loadu_ps(m, dxe + s0));
            macc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, mw + s0), _mm512_maskz_loadu_ps(m, dxs + s0), macc);
        }
        __mmask64 km = c->K - 64 * ch >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (c->K - 64 * ch)) - 1;
        __m512i uu = _mm512_maskz_loadu_epi8(km, u + 64 * ch);
        __m512i is = _mm512_dpbusd_epi32(_mm512_setzero_si512(), uu, _mm512_maskz_loadu_epi8(km, xq + 64 * ch));
        if (c->pair) is = _mm512_dpbusd_epi32(_mm512_slli_epi32(is, 7), uu, _mm512_maskz_loadu_epi8(km, xq + c->K + 64 * ch));
        __m512 sc = _mm512_permutexvar_ps(_mm512_loadu_si512(idx[j]), v);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), sc, acc);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc, macc));
}

/* ---- fused 32-element block types ---- */

VNNI_TARGET static inline __attribute__((always_inline)) __m256i nib16(const uint8_t *q) {
    __m128i v = _mm_loadu_si128((const __m128i *)q), m = _mm_set1_epi8(0x0f);
    __m128i lo = _mm_and_si128(v, m), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/* The 32 unsigned weights of the block at b (layouts: src/io/quant.c). */
VNNI_TARGET static inline __attribute__((always_inline)) __m256i dec_blk(const uint8_t *b, const int TYPE) {
    uint32_t qh;
    switch (TYPE) {
    case HONE_Q8_0:
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(b + 2)), _mm256_set1_epi8((char)0x80));
    case HONE_Q4_0: return nib16(b + 2);
    case HONE_Q4_1: return nib16(b + 4);
    case HONE_Q5_0:
        memcpy(&qh, b + 2, 4);
        return _mm256_mask_add_epi8(nib16(b + 6), (__mmask32)qh, nib16(b + 6), _mm256_set1_epi8(0x10));
    default: /* HONE_Q5_1 */
        memcpy(&qh, b + 4, 4);
        return _mm256_mask_add_epi8(nib16(b + 8), (__mmask32)qh, nib16(b + 8), _mm256_set1_epi8(0x10));
    }
}

/* Two consecutive blocks at b (stride BB) as 64 unsigned weights. Nibble types
 * split both blocks' 16 bytes at once and put the 128-bit quarters back in
 * block order (lo0 hi0 lo1 hi1); fewer ops than two dec_blk. */
VNNI_TARGET static inline __attribute__((always_inline)) __m512i dec_pair(const uint8_t *b, const int TYPE,
                                                                         const int BB) {
    if (TYPE == HONE_Q8_0)
        return _mm512_inserti64x4(_mm512_castsi256_si512(dec_blk(b, TYPE)), dec_blk(b + BB, TYPE), 1);
    const int qo = TYPE == HONE_Q4_0 ? 2 : TYPE == HONE_Q4_1 ? 4 : TYPE == HONE_Q5_0 ? 6 : 8;
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b + qo))),
                                        _mm_loadu_si128((const __m128i *)(b + BB + qo)), 1);
    __m256i m = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, m), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); /* lo0 lo1 hi0 hi1 */
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));           /* lo0 hi0 lo1 hi1 */
    if (TYPE == HONE_Q5_0 || TYPE == HONE_Q5_1) {
        const int ho = TYPE == HONE_Q5_0 ? 2 : 4;
        uint32_t h0, h1;
        memcpy(&h0, b + ho, 4);
        memcpy(&h1, b + BB + ho, 4);
        z = _mm512_mask_add_epi8(z, (__mmask64)h0 | (__mmask64)h1 << 32, z, _mm512_set1_epi8(0x10));
    }
    return z;
}

VNNI_TARGET static inline __attribute__((always_inline)) void
mv32(const mv_ctx *c, const uint8_t *src, const int TYPE, const int BB, const int NT, const int P, float *out) {
    const int64_t nb = c->K / 32;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(BB));
    __m512 acc[3], macc[3], v[3];
    for (int t = 0; t < NT; t++) acc[t] = macc[t] = _mm512_setzero_ps();
    for (int64_t g0 = 0; g0 < nb; g0 += 16) {
        int64_t ng = nb - g0 < 16 ? nb - g0 : 16;
        __mmask16 m = ng == 16 ? 0xffff : (__mmask16)((1u << ng) - 1);
        const uint8_t *gb = src + g0 * BB;
        __m512i raw = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, vidx, gb, 1);
        __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(raw)), mwv;
        switch (TYPE) {
        case HONE_Q8_0: mwv = _mm512_mul_ps(d, _mm512_set1_ps(-128.0f)); break;
        case HONE_Q4_0: mwv = _mm512_mul_ps(d, _mm512_set1_ps(-8.0f)); break;
        case HONE_Q5_0: mwv = _mm512_mul_ps(d, _mm512_set1_ps(-16.0f)); break;
        default: mwv = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(raw, 16)));
        }
        for (int t = 0; t < NT; t++) {
            v[t] = _mm512_mul_ps(d, _mm512_maskz_loadu_ps(m, c->dxe + t * c->nsb + g0));
            macc[t] = _mm512_fmadd_ps(mwv, _mm512_maskz_loadu_ps(m, c->dxs + t * c->nsb + g0), macc[t]);
        }
        for (int j = 0; 2 * j < ng; j++) {
            const uint8_t *b0 = gb + 2 * j * BB;
            int two = 2 * j + 1 < ng;
            __m512i u = two ? dec_pair(b0, TYPE, BB) : _mm512_castsi256_si512(dec_blk(b0, TYPE));
            if (!two) u = _mm512_inserti64x4(u, _mm256_setzero_si256(), 1);
            __m512i idx = _mm512_loadu_si512(idx32[j]);
            __mmask64 km = two ? ~(__mmask64)0 : 0xffffffffull;
            for (int t = 0; t < NT; t++) {
                const int8_t *xp = c->xq + t * c->K + 32 * (g0 + 2 * j);
                __m512i is = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_maskz_loadu_epi8(km, xp));
                if (P) is = _mm512_dpbusd_epi32(_mm512_slli_epi32(is, 7), u, _mm512_maskz_loadu_epi8(km, xp + c->K));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_permutexvar_ps(idx, v[t]), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t], macc[t]));
}

#define MV32_T(TY, BB)                                                                  \
    VNNI_TARGET static void mv32_##TY(const mv_ctx *c, const uint8_t *src, float *out) { \
        if (c->pair) mv32(c, src, HONE_##TY, BB, 1, 1, out);                              \
        else if (c->T == 1) mv32(c, src, HONE_##TY, BB, 1, 0, out);                       \
        else if (c->T == 2) mv32(c, src, HONE_##TY, BB, 2, 0, out);                       \
        else mv32(c, src, HONE_##TY, BB, 3, 0, out);                                      \
    }
MV32_T(Q8_0, 34)
MV32_T(Q4_0, 18)
MV32_T(Q4_1, 20)
MV32_T(Q5_0, 22)
MV32_T(Q5_1, 24)

/* ---- fused K-quants (256-element super-blocks) ---- */

/* Q4_K / Q5_K: 8 sub-blocks of 32, 6-bit scales and mins unpacked with 32-bit
 * masks; a chunk of 64 is the low and high nibbles of 32 bytes of qs. */
VNNI_TARGET static inline __attribute__((always_inline)) void
mvk45(const mv_ctx *c, const uint8_t *src, const int Q5, const int NT, const int P, float *out) {
    const int64_t nb = c->K / 256, bb = Q5 ? 176 : 144;
    const __m512i m4 = _mm512_set1_epi8(0x0f), b4 = _mm512_set1_epi8(0x10);
    __m512 acc[3];
    __m256 macc[3];
    for (int t = 0; t < NT; t++) {
        acc[t] = _mm512_setzero_ps();
        macc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = src + b * bb, *qs = blk + (Q5 ? 48 : 16);
        uint32_t s0, s1, s2;
        memcpy(&s0, blk + 4, 4);
        memcpy(&s1, blk + 8, 4);
        memcpy(&s2, blk + 12, 4);
        uint32_t sc03 = s0 & 0x3f3f3f3f, m03 = s1 & 0x3f3f3f3f;
        uint32_t sc47 = (s2 & 0x0f0f0f0f) | ((s0 >> 6) & 0x03030303) << 4;
        uint32_t m47 = ((s2 >> 4) & 0x0f0f0f0f) | ((s1 >> 6) & 0x03030303) << 4;
        __m128i scm = _mm_setr_epi32((int)sc03, (int)sc47, (int)m03, (int)m47);
        __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(scm));
        uint16_t hd, hm;
        memcpy(&hd, blk, 2);
        memcpy(&hm, blk + 2, 2);
        __m512 dd = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(_cvtsh_ss(hd))),
                                                         _mm256_castps_pd(_mm256_set1_ps(-_cvtsh_ss(hm))), 1));
        f = _mm512_mul_ps(f, dd); /* lanes 0-7: dw, 8-15: mw */
        __m256 dwv = _mm512_castps512_ps256(f), mwv = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
        __m512 v[3];
        for (int t = 0; t < NT; t++) {
            v[t] = _mm512_zextps256_ps512(_mm256_mul_ps(dwv, _mm256_loadu_ps(c->dxe + t * c->nsb + 8 * b)));
            macc[t] = _mm256_fmadd_ps(mwv, _mm256_loadu_ps(c->dxs + t * c->nsb + 8 * b), macc[t]);
        }
        __m512i qh = Q5 ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 16)))
                        : _mm512_setzero_si512();
        for (int i = 0; i < 4; i++) {
            __m512i q = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(qs + 32 * i)));
            q = _mm512_inserti64x4(q, _mm512_castsi512_si256(_mm512_srli_epi16(q, 4)), 1);
            __m512i u = _mm512_and_si512(q, m4);
            if (Q5) {
                __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << (2 * i))),
                                                 _mm256_set1_epi8((char)(1 << (2 * i + 1))), 1);
                u = _mm512_mask_add_epi8(u, _mm512_test_epi8_mask(qh, bit), u, b4);
            }
            __m512i idx = _mm512_loadu_si512(idx32[i]);
            for (int t = 0; t < NT; t++) {
                const int8_t *xp = c->xq + t * c->K + 256 * b + 64 * i;
                __m512i is = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(xp));
                if (P) is = _mm512_dpbusd_epi32(_mm512_slli_epi32(is, 7), u, _mm512_loadu_si512(xp + c->K));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_permutexvar_ps(idx, v[t]), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++)
        out[t] = _mm512_reduce_add_ps(acc[t]) + _mm512_reduce_add_ps(_mm512_zextps256_ps512(macc[t]));
}

/* Q6_K: 16 sub-blocks of 16 with int8 scales; per half, 64 bytes of low
 * nibbles and 32 of 2-bit highs give two chunks of 64 (variable shifts put the
 * right 2 bits of the high byte in each half of the zmm). */
VNNI_TARGET static inline __attribute__((always_inline)) void
mvq6(const mv_ctx *c, const uint8_t *src, const int NT, const int P, float *out) {
    const int64_t nb = c->K / 256;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x30);
    const __m512i sh_a = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh_b = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    __m512 acc[3], macc[3];
    for (int t = 0; t < NT; t++) acc[t] = macc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = src + b * 210;
        uint16_t hd;
        memcpy(&hd, blk + 208, 2);
        __m512 dw = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 192)))),
                                  _mm512_set1_ps(_cvtsh_ss(hd)));
        __m512 mw = _mm512_mul_ps(dw, _mm512_set1_ps(-32.0f));
        __m512 v[3];
        for (int t = 0; t < NT; t++) {
            v[t] = _mm512_mul_ps(dw, _mm512_loadu_ps(c->dxe + t * c->nsb + 16 * b));
            macc[t] = _mm512_fmadd_ps(mw, _mm512_loadu_ps(c->dxs + t * c->nsb + 16 * b), macc[t]);
        }
        for (int h = 0; h < 2; h++) {
            __m512i L = _mm512_loadu_si512(blk + 64 * h);
            __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h)));
            __m512i u0 = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(_mm512_sllv_epi16(H, sh_a), m2));
            __m512i u1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                         _mm512_and_si512(_mm512_srlv_epi16(H, sh_b), m2));
            __m512i i0 = _mm512_loadu_si512(idx16[2 * h]), i1 = _mm512_loadu_si512(idx16[2 * h + 1]);
            for (int t = 0; t < NT; t++) {
                const int8_t *xp = c->xq + t * c->K + 256 * b + 128 * h;
                __m512i is0 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u0, _mm512_loadu_si512(xp));
                __m512i is1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u1, _mm512_loadu_si512(xp + 64));
                if (P) {
                    is0 = _mm512_dpbusd_epi32(_mm512_slli_epi32(is0, 7), u0, _mm512_loadu_si512(xp + c->K));
                    is1 = _mm512_dpbusd_epi32(_mm512_slli_epi32(is1, 7), u1, _mm512_loadu_si512(xp + c->K + 64));
                }
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is0), _mm512_permutexvar_ps(i0, v[t]), acc[t]);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is1), _mm512_permutexvar_ps(i1, v[t]), acc[t]);
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t] = _mm512_reduce_add_ps(_mm512_add_ps(acc[t], macc[t]));
}

VNNI_TARGET static void mv_Q4_K(const mv_ctx *c, const uint8_t *src, float *out) {
    if (c->pair) mvk45(c, src, 0, 1, 1, out);
    else if (c->T == 1) mvk45(c, src, 0, 1, 0, out);
    else if (c->T == 2) mvk45(c, src, 0, 2, 0, out);
    else mvk45(c, src, 0, 3, 0, out);
}
VNNI_TARGET static void mv_Q5_K(const mv_ctx *c, const uint8_t *src, float *out) {
    if (c->pair) mvk45(c, src, 1, 1, 1, out);
    else if (c->T == 1) mvk45(c, src, 1, 1, 0, out);
    else if (c->T == 2) mvk45(c, src, 1, 2, 0, out);
    else mvk45(c, src, 1, 3, 0, out);
}
VNNI_TARGET static void mv_Q6_K(const mv_ctx *c, const uint8_t *src, float *out) {
    if (c->pair) mvq6(c, src, 1, 1, out);
    else if (c->T == 1) mvq6(c, src, 1, 0, out);
    else if (c->T == 2) mvq6(c, src, 2, 0, out);
    else mvq6(c, src, 3, 0, out);
}

typedef void (*mv32_fn)(const mv_ctx *c, const uint8_t *src, float *out);

static mv32_fn mv32_for(int type) {
    switch (type) {
    case HONE_Q8_0: return mv32_Q8_0;
    case HONE_Q4_0: return mv32_Q4_0;
    case HONE_Q4_1: return mv32_Q4_1;
    case HONE_Q5_0: return mv32_Q5_0;
    case HONE_Q5_1: return mv32_Q5_1;
    case HONE_Q4_K: return mv_Q4_K;
    case HONE_Q5_K: return mv_Q5_K;
    case HONE_Q6_K: return mv_Q6_K;
    default: return NULL;
    }
}

/* Software prefetch distance (bytes ahead of the row being decoded). Decode
 * streams every weight once from DRAM (the LM head of Gemma 3 270M is 178 MB
 * per token) and the hardware prefetcher alone left ~35 % of the bandwidth
 * unused here: 640 x 262144 Q8_0 at T=1 went from 20.0 to 15.5 ms on one
 * thread (2 KB: 16.4, 4 KB: 16.0, 8 KB: 15.5, 16 KB: 16.1, 32 KB: 16.5 ms). */
#define MV_PF_BYTES 8192

/* Prefetches row bytes [src + MV_PF_BYTES, + rb) that lie before end. */
static inline void mv_prefetch(const uint8_t *src, size_t rb, const uint8_t *end) {
    const uint8_t *pf = src + MV_PF_BYTES;
    for (size_t o = 0; o < rb && pf + o < end; o += 64) _mm_prefetch((const char *)pf + o, _MM_HINT_T0);
}

static void mv_task(void *ctx, int64_t i, int tid) {
    const mv_ctx *c = ctx;
    mv32_fn f = mv32_for(c->w->type);
    if (f) {
        int64_t n_out = c->w->n_out;
        float out[3];
        size_t rb = c->w->row_bytes;
        const uint8_t *end = (const uint8_t *)c->w->data + (size_t)n_out * rb;
        for (int64_t r = i * MV_ROWS; r < (i + 1) * MV_ROWS && r < n_out; r++) {
            const uint8_t *src = (const uint8_t *)c->w->data + (size_t)r * rb;
            mv_prefetch(src, rb, end);
            f(c, src, out);
            for (int64_t t = 0; t < c->T; t++)
                c->y[t * n_out + r] = out[t] + (c->bias ? c->bias[r] : 0.0f);
        }
        return;
    }
    uint8_t *u = c->bufs + (size_t)tid * c->buf_bytes;
    float *dw = (float *)(u + ((c->K + 63) & ~(int64_t)63)), *mw = dw + c->nsb;
    int64_t n_out = c->w->n_out;
    size_t rb = c->w->row_bytes;
    const uint8_t *end = (const uint8_t *)c->w->data + (size_t)n_out * rb;
    for (int64_t r = i * MV_ROWS; r < (i + 1) * MV_ROWS && r < n_out; r++) {
        const uint8_t *src = (const uint8_t *)c->w->data + (size_t)r * rb;
        mv_prefetch(src, rb, end);
        cpu_wdec_row(c->w->type, src, c->K, u, dw, mw, CPU_LVL_AVX512);
        for (int64_t t = 0; t < c->T; t++)
            c->y[t * n_out + r] = row_dot(c, u, dw, mw, t) + (c->bias ? c->bias[r] : 0.0f);
    }
}

/* n weights of the same n_in, one pool job: item i runs row block i - first[j]
 * of weight j (first[j] <= i < first[j + 1]). */
#define MV_MAX_N 4
typedef struct {
    mv_ctx c[MV_MAX_N];
    int64_t first[MV_MAX_N + 1];
} mvn_ctx;

static void mvn_task(void *ctx, int64_t i, int tid) {
    const mvn_ctx *m = ctx;
    int j = 0;
    while (i >= m->first[j + 1]) j++;
    mv_task((void *)&m->c[j], i - m->first[j], tid);
}

/* Shared by the entries: dxe (T', nsb) and dxs2 (T', nsb) are the per-sub-block
 * activation scales and offset sums the kernels read (T' = 1 for a pair). The
 * scratch (slot 1) is the thread-local cache of kern.h: nothing is allocated
 * per call once a shape has been seen. */
static void matvec_run(float *const *ys, const hone_weight *const *ws, const float *const *bs, int n, int64_t T,
                       const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool, int pair) {
    if (n > MV_MAX_N) { /* not used with more; keeps the context fixed-size */
        for (int j = 0; j < n; j += MV_MAX_N)
            matvec_run(ys + j, ws + j, bs ? bs + j : NULL, n - j < MV_MAX_N ? n - j : MV_MAX_N, T, xq, dx, dxs, sub,
                       pool, pair);
        return;
    }
    int64_t K = ws[0]->n_in, nsb = K / sub, Te = pair ? 1 : T;
    int nth = hone_pool_size(pool), need_buf = 0;
    for (int j = 0; j < n; j++) need_buf |= !mv32_for(ws[j]->type); /* the row-buffer types */
    size_t buf_bytes = need_buf ? (((size_t)K + 63) & ~(size_t)63) + ((2 * (size_t)nsb * sizeof(float) + 63) & ~(size_t)63) : 0;
    uint8_t *bufs = cpu_kern_scratch(1, buf_bytes * nth + 2 * sizeof(float) * Te * nsb);
    float *dxe = (float *)(bufs + buf_bytes * nth), *dxs2 = dxe + Te * nsb;
    if (pair) { /* token = 128 hi + lo, dx_hi = 128 dx_lo exactly: scale dx_lo, offsets summed */
        for (int64_t s = 0; s < nsb; s++) {
            dxe[s] = dx[K / 32 + s * sub / 32];
            dxs2[s] = dxs[s] + dxs[nsb + s];
        }
    } else {
        for (int64_t t = 0; t < T; t++)
            for (int64_t s = 0; s < nsb; s++) dxe[t * nsb + s] = dx[t * (K / 32) + s * sub / 32];
        memcpy(dxs2, dxs, sizeof(float) * T * nsb);
    }
    mvn_ctx m;
    m.first[0] = 0;
    for (int j = 0; j < n; j++) {
        m.c[j] = (mv_ctx){.y = ys[j], .w = ws[j], .bias = bs ? bs[j] : NULL, .T = Te, .K = K, .nsb = nsb,
                          .sub = sub, .xq = xq, .dxe = dxe, .dxs = dxs2, .bufs = bufs, .buf_bytes = buf_bytes,
                          .pair = pair};
        m.first[j + 1] = m.first[j] + (ws[j]->n_out + MV_ROWS - 1) / MV_ROWS;
    }
    if (n == 1) hone_pool_run(pool, m.first[1], mv_task, &m.c[0]);
    else hone_pool_run(pool, m.first[n], mvn_task, &m);
}

void cpu_matvec_int8(float *y, const hone_weight *w, const float *bias, int64_t T,
                     const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    matvec_run(&y, &w, &bias, 1, T, xq, dx, dxs, sub, pool, 0);
}

void cpu_matvec_int16_n(float *const *ys, const hone_weight *const *ws, const float *const *bs, int n,
                        const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    matvec_run(ys, ws, bs, n, 1, xq, dx, dxs, sub, pool, 1);
}
#else
void cpu_matvec_int8(float *y, const hone_weight *w, const float *bias, int64_t T,
                     const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    abort(); /* only called at CPU_LVL_AVX512 */
}
void cpu_matvec_int16_n(float *const *ys, const hone_weight *const *ws, const float *const *bs, int n,
                        const int8_t *xq, const float *dx, const float *dxs, int sub, hone_pool *pool) {
    abort(); /* only called at CPU_LVL_AVX512 */
}
#endif
