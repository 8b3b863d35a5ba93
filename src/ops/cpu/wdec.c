/* wdec.c: decodes quantized weight rows into the unsigned 8-bit panel of the
 * INT8 matmul (kern.h): per sub-block s of `sub` elements, each weight is
 * w = dw[s] * u + mw[s] with u in 0..255. Symmetric types store u = q + zero
 * point and mw = -zero * dw; types with a minimum (Q4_1, Q5_1, Q2_K, Q4_K,
 * Q5_K) store it in mw. The values are those of hone_dequantize up to float
 * rounding of dw*u + mw (see test_ops_cpu.c). Block layouts: src/io/quant*.c. */
#include <string.h>

#include "ops/cpu/kern.h"
#include "hone/quant.h"

static inline float h16(const uint8_t *p) { return hone_fp16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static inline uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One block of each type -> u (block elements), dw, mw (block / sub). */
typedef void (*dec_fn)(const uint8_t *b, uint8_t *u, float *dw, float *mw);

static void dec_q8_0(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    float d = h16(b);
    for (int i = 0; i < 32; i++) u[i] = (uint8_t)(b[2 + i] ^ 0x80); /* int8 + 128 */
    dw[0] = d;
    mw[0] = -128.0f * d;
}

static void dec_q4_0(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    float d = h16(b);
    for (int j = 0; j < 16; j++) {
        u[j] = b[2 + j] & 0xf;
        u[j + 16] = b[2 + j] >> 4;
    }
    dw[0] = d;
    mw[0] = -8.0f * d;
}

static void dec_q4_1(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    for (int j = 0; j < 16; j++) {
        u[j] = b[4 + j] & 0xf;
        u[j + 16] = b[4 + j] >> 4;
    }
    dw[0] = h16(b);
    mw[0] = h16(b + 2);
}

static void dec_q5(const uint8_t *qh4, const uint8_t *qs, uint8_t *u) {
    uint32_t qh = le32(qh4);
    for (int j = 0; j < 16; j++) {
        u[j] = (uint8_t)((qs[j] & 0xf) | ((qh >> j) & 1) << 4);
        u[j + 16] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
    }
}

static void dec_q5_0(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    float d = h16(b);
    dec_q5(b + 2, b + 6, u);
    dw[0] = d;
    mw[0] = -16.0f * d;
}

static void dec_q5_1(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    dec_q5(b + 4, b + 8, u);
    dw[0] = h16(b);
    mw[0] = h16(b + 2);
}

static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

static void dec_k45(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, uint8_t *u, float *dw,
                    float *mw) {
    float d = h16(b), dmin = h16(b + 2);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(b + 4, j, &sc, &m);
        dw[j] = d * (float)sc;
        mw[j] = -(dmin * (float)m);
        const uint8_t *q = qs + 32 * (j / 2);
        int sh = 4 * (j % 2);
        uint8_t *o = u + 32 * j;
        if (qh)
            for (int l = 0; l < 32; l++)
                o[l] = (uint8_t)(((q[l] >> sh) & 0xf) | ((qh[l] >> j) & 1) << 4);
        else
            for (int l = 0; l < 32; l++) o[l] = (q[l] >> sh) & 0xf;
    }
}

static void dec_q4_k(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    dec_k45(b, NULL, b + 16, u, dw, mw);
}

static void dec_q5_k(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    dec_k45(b, b + 16, b + 48, u, dw, mw);
}

static void dec_q6_k(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = h16(b + 208);
    for (int g = 0; g < 16; g++) {
        dw[g] = d * (float)sc[g];
        mw[g] = -32.0f * dw[g];
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *L = ql + 64 * h, *H = qh + 32 * h;
            uint8_t *o = u + 128 * h;
            o[l] = (uint8_t)((L[l] & 0xf) | (H[l] & 3) << 4);
            o[l + 32] = (uint8_t)((L[l + 32] & 0xf) | ((H[l] >> 2) & 3) << 4);
            o[l + 64] = (uint8_t)((L[l] >> 4) | ((H[l] >> 4) & 3) << 4);
            o[l + 96] = (uint8_t)((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4);
        }
}

static void dec_q2_k(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    const uint8_t *sc = b, *qs = b + 16;
    float d = h16(b + 80), dmin = h16(b + 82);
    for (int g = 0; g < 16; g++) {
        dw[g] = d * (float)(sc[g] & 0xf);
        mw[g] = -(dmin * (float)(sc[g] >> 4));
    }
    for (int e = 0; e < 256; e++)
        u[e] = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static void dec_q3_k(const uint8_t *b, uint8_t *u, float *dw, float *mw) {
    const uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    float d = h16(b + 108);
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? sc[g] & 0xf : sc[g - 8] >> 4;
        int hi = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        dw[g] = d * (float)((lo | hi << 4) - 32);
        mw[g] = -4.0f * dw[g];
    }
    for (int e = 0; e < 256; e++) { /* q in -4..3 stored as q + 4 */
        int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        u[e] = (uint8_t)(q + (((hm[e % 32] >> (e / 32)) & 1) << 2));
    }
}

static const struct {
    dec_fn fn;
    int sub;
} decs[] = {
    [HONE_Q4_0] = {dec_q4_0, 32}, [HONE_Q4_1] = {dec_q4_1, 32}, [HONE_Q5_0] = {dec_q5_0, 32},
    [HONE_Q5_1] = {dec_q5_1, 32}, [HONE_Q8_0] = {dec_q8_0, 32}, [HONE_Q2_K] = {dec_q2_k, 16},
    [HONE_Q3_K] = {dec_q3_k, 16}, [HONE_Q4_K] = {dec_q4_k, 32}, [HONE_Q5_K] = {dec_q5_k, 32},
    [HONE_Q6_K] = {dec_q6_k, 16},
};

int cpu_wdec_supported(int type, int *sub) {
    if (type < 0 || (size_t)type >= sizeof decs / sizeof decs[0] || !decs[type].fn) return 0;
    if (sub) *sub = decs[type].sub;
    return 1;
}

void cpu_wdec_row(int type, const uint8_t *src, int64_t n_in, uint8_t *u, float *dw, float *mw,
                  int level) {
    if (level >= CPU_LVL_AVX2 && cpu_wdec_row_simd(type, src, n_in, u, dw, mw)) return;
    dec_fn fn = decs[type].fn;
    int64_t qb = hone_dtype_block(type), bb = hone_dtype_block_bytes(type), spb = qb / decs[type].sub;
    for (int64_t bi = 0; bi < n_in / qb; bi++) fn(src + bi * bb, u + bi * qb, dw + bi * spb, mw + bi * spb);
}

void cpu_wdec_tile(const hone_weight *w, int64_t r0, uint8_t *panel, float *dw, float *mw,
                   uint8_t *rowbuf, float *sbuf, int level) {
    int64_t K = w->n_in, nsb = K / decs[w->type].sub;
    for (int r = 0; r < CPU_RT; r++) {
        int64_t row = r0 + r;
        if (row >= w->n_out) {
            for (int64_t g = 0; g < K / 4; g++) memset(panel + g * 128 + r * 4, 0, 4);
            for (int64_t s = 0; s < nsb; s++) dw[s * CPU_RT + r] = mw[s * CPU_RT + r] = 0;
            continue;
        }
        cpu_wdec_row(w->type, (const uint8_t *)w->data + (size_t)row * w->row_bytes, K, rowbuf,
                     sbuf, sbuf + nsb, level);
        for (int64_t g = 0; g < K / 4; g++) memcpy(panel + g * 128 + r * 4, rowbuf + 4 * g, 4);
        for (int64_t s = 0; s < nsb; s++) {
            dw[s * CPU_RT + r] = sbuf[s];
            mw[s * CPU_RT + r] = sbuf[nsb + s];
        }
    }
}
