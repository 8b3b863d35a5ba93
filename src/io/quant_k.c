/* quant_k.c: the K-quant super-blocks (256 elements): dequantize Q2_K..Q6_K and
 * Q8_K bit-exactly as gguf-py; quantize all six as ggml's reference quantizers
 * (quantize_row_q*_K_ref): same scale search, same float operations.
 *
 * Layouts (bytes; h = fp16, sub-block = 16 or 32 elements sharing a scale):
 *   Q2_K: u8 scales[16] (lo nibble scale, hi nibble min), qs[64] (2 bits), h d, h dmin
 *         x = d*sc * q - dmin*m; element e: qs[32*(e/128) + e%32] >> 2*((e%128)/32)
 *   Q3_K: hmask[32], qs[64], scales[12] (16 six-bit scales, -32 offset), h d
 *         q = 2 low bits (as Q2_K) - 4 unless bit e/32 of hmask[e%32] is set
 *   Q4_K: h d, h dmin, scales[12] (8 six-bit scales + 8 six-bit mins), qs[128]
 *         element e: qs[32*(e/64) + e%32], low nibble if (e%64) < 32
 *   Q5_K: as Q4_K plus qh[32] before qs: 5th bit = bit e/32 of qh[e%32]
 *   Q6_K: ql[128], qh[64], i8 scales[16], h d;  x = d*sc * (q - 32)
 *   Q8_K: f32 d, i8 qs[256], i16 bsums[16];    x = d * q
 * The scale packing of Q4_K/Q5_K (6 bits each): bytes 0-3 hold scales 0-3 in
 * their low 6 bits, bytes 4-7 mins 0-3; bytes 8-11 hold the low nibbles of
 * scale/min 4-7, whose top 2 bits sit in the top bits of bytes 0-3 / 4-7.
 */
#include "io/quant_impl.h"

QUANT_NO_CONTRACT

/* ---- dequantize ---------------------------------------------------------- */

void dequant_block_q2_k(const uint8_t *b, float *y) {
    const uint8_t *sc = b, *qs = b + 16;
    float d = quant_h(b + 80), dmin = quant_h(b + 82);
    for (int g = 0; g < 16; g++) { /* 16 groups of 16 */
        float dl = d * (float)(sc[g] & 0xf), ml = dmin * (float)(sc[g] >> 4);
        for (int l = 0; l < 16; l++) {
            int e = 16 * g + l;
            int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            y[e] = dl * (float)q - ml;
        }
    }
}

void dequant_block_q3_k(const uint8_t *b, float *y) {
    const uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    float d = quant_h(b + 108);
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? sc[g] & 0xf : sc[g - 8] >> 4;
        int hi = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        float dl = d * (float)((lo | hi << 4) - 32);
        for (int l = 0; l < 16; l++) {
            int e = 16 * g + l;
            int q = (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            if (!((hm[e % 32] >> (e / 32)) & 1)) q -= 4;
            y[e] = dl * (float)q;
        }
    }
}

/* Scale and min j (0..7) of a Q4_K/Q5_K block (6 bits each). */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Q4_K (qh == NULL) and Q5_K. */
static void dequant_k45(const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y) {
    float d = quant_h(b), dmin = quant_h(b + 2);
    for (int j = 0; j < 8; j++) { /* 8 sub-blocks of 32 */
        int sc, m;
        k4_scale_min(b + 4, j, &sc, &m);
        float dl = d * (float)sc, ml = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0xf;
            if (qh) q |= ((qh[l] >> j) & 1) << 4;
            y[32 * j + l] = dl * (float)q - ml;
        }
    }
}

void dequant_block_q4_k(const uint8_t *b, float *y) { dequant_k45(b, NULL, b + 16, y); }
void dequant_block_q5_k(const uint8_t *b, float *y) { dequant_k45(b, b + 16, b + 48, y); }

void dequant_block_q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = quant_h(b + 208);
    for (int g = 0; g < 16; g++) {
        float dl = d * (float)sc[g];
        for (int l = 0; l < 16; l++) {
            int e = 16 * g + l, h = e / 128, r = e % 128;
            int lo = (ql[64 * h + r % 64] >> (4 * (r / 64))) & 0xf;
            int hi = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
            y[e] = dl * (float)((lo | hi << 4) - 32);
        }
    }
}

void dequant_block_q8_k(const uint8_t *b, float *y) {
    float d;
    memcpy(&d, b, 4); /* f32, little-endian like the host (x86, arm) */
    for (int e = 0; e < QK_K; e++) y[e] = d * (float)(int8_t)b[4 + e];
}

/* ---- quantize: scale search ---------------------------------------------- */

/* Fits x[i] ~ scale * L[i] - mn with L in 0..nmax and mn >= 0 (the sub-block
 * minimum, kept <= 0 as an offset), minimizing sum w*err^2 (or w*|err| when
 * use_mad). Starts from the min/max grid, then tries nstep+1 stretched grids
 * (nmax + rmin + rdelta*is levels over the range), solving the weighted least
 * squares for scale and min at each and keeping the best. ggml's make_qkx2_quants. */
static float kq_fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *neg_min, float rmin, float rdelta, int nstep, int use_mad) {
    float lo = x[0], hi = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi == lo) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -lo;
        return 0.f;
    }
    float iscale = nmax / (hi - lo), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        int l = quant_nearest_int(iscale * (x[i] - lo));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * L[i] + lo - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best += w[i] * diff;
    }
    uint8_t aux[32];
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (hi - lo);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = quant_nearest_int(iscale * (x[i] - lo));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            aux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det <= 0) continue;
        float s = (sum_w * sum_xl - sum_x * sum_l) / det;
        float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (m > 0) {
            m = 0;
            s = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = s * aux[i] + m - x[i];
            diff = use_mad ? fabsf(diff) : diff * diff;
            err += w[i] * diff;
        }
        if (err < best) {
            memcpy(L, aux, (size_t)n);
            best = err;
            scale = s;
            lo = m;
        }
    }
    *neg_min = -lo;
    return scale;
}

/* Symmetric fit x[i] ~ scale * (L[i] - nmax), L in 0..2*nmax-1, weights x^2:
 * the grid through the value of largest magnitude, then 18 nearby grids
 * (nmax +- 0.1*is), keeping the one with the best weighted least-squares scale.
 * ggml's make_qx_quants with rmse_type 1 and no importance weights. */
static float kq_fit_scale_sym(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = quant_nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (!is) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = quant_nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = quant_nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Symmetric fit x[i] ~ scale * L[i], L in -nmax..nmax-1, weights x^2: the grid
 * through the value of largest magnitude, then up to 5 sweeps that move single
 * elements to the level that raises the weighted fit (sumlx^2 / suml2), while
 * one does. Returns the least-squares scale; L comes back offset by +nmax.
 * ggml's make_q3_quants with do_rmse. */
static float kq_fit_scale_q3(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = quant_nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int sweep = 0; sweep < 5; sweep++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int l = quant_nearest_int(x[i] * sl2 / slx);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            if (l == L[i]) continue;
            slx += w * x[i] * l;
            sl2 += w * l * l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---- quantize: blocks ---------------------------------------------------- */

void quant_block_q2_k(const float *x, uint8_t *b) {
    uint8_t L[QK_K], *sc = b, *qs = b + 16;
    float w[16], scales[16], mins[16], max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        scales[j] = kq_fit_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, 1);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    memset(sc, 0, 16);
    if (max_scale > 0) {
        float iscale = 15.f / max_scale;
        for (int j = 0; j < 16; j++) sc[j] = (uint8_t)quant_nearest_int(iscale * scales[j]);
        quant_put16(b + 80, hone_f32_to_fp16(max_scale / 15.f));
    } else {
        quant_put16(b + 80, 0);
    }
    if (max_min > 0) {
        float iscale = 15.f / max_min;
        for (int j = 0; j < 16; j++) sc[j] |= (uint8_t)(quant_nearest_int(iscale * mins[j]) << 4);
        quant_put16(b + 82, hone_f32_to_fp16(max_min / 15.f));
    } else {
        quant_put16(b + 82, 0);
    }
    /* requantize with the stored (rounded) scales */
    for (int j = 0; j < 16; j++) {
        float d = quant_h(b + 80) * (float)(sc[j] & 0xf);
        if (d == 0) continue;
        float dm = quant_h(b + 82) * (float)(sc[j] >> 4);
        for (int i = 0; i < 16; i++) {
            int l = quant_nearest_int((x[16 * j + i] + dm) / d);
            L[16 * j + i] = (uint8_t)(l < 0 ? 0 : l > 3 ? 3 : l);
        }
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *q = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
        }
}

void quant_block_q3_k(const float *x, uint8_t *b) {
    int8_t L[QK_K];
    float scales[16], max_scale = 0, amax = 0;
    uint8_t *hm = b, *qs = b + 32, *sc = b + 96;
    for (int g = 0; g < 16; g++) {
        scales[g] = kq_fit_scale_q3(16, 4, x + 16 * g, L + 16 * g);
        if (fabsf(scales[g]) > amax) {
            amax = fabsf(scales[g]);
            max_scale = scales[g];
        }
    }
    memset(sc, 0, 12);
    if (max_scale != 0) {
        float iscale = -32.f / max_scale;
        for (int g = 0; g < 16; g++) {
            int l = (int8_t)quant_nearest_int(iscale * scales[g]);
            l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32; /* 6 bits */
            if (g < 8) sc[g] = (uint8_t)(l & 0xf);
            else sc[g - 8] |= (uint8_t)((l & 0xf) << 4);
            sc[8 + g % 4] |= (uint8_t)((l >> 4) << (2 * (g / 4)));
        }
        quant_put16(b + 108, hone_f32_to_fp16(1 / iscale));
    } else {
        quant_put16(b + 108, 0);
    }
    for (int g = 0; g < 16; g++) {
        int lo = g < 8 ? sc[g] & 0xf : sc[g - 8] >> 4;
        int hi = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
        float d = quant_h(b + 108) * (float)(int8_t)((lo | hi << 4) - 32);
        if (d == 0) continue;
        for (int i = 0; i < 16; i++) {
            int l = quant_nearest_int(x[16 * g + i] / d);
            L[16 * g + i] = (int8_t)((l < -4 ? -4 : l > 3 ? 3 : l) + 4);
        }
    }
    /* bit 2 of level e goes to bit e/32 of hmask[e % 32], the low 2 bits as Q2_K */
    memset(hm, 0, 32);
    for (int e = 0; e < QK_K; e++)
        if (L[e] > 3) {
            hm[e % 32] |= (uint8_t)(1 << (e / 32));
            L[e] -= 4;
        }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int8_t *q = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(q[0] | q[32] << 2 | q[64] << 4 | q[96] << 6);
        }
}

/* Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32 with a 6-bit scale and
 * min each, relative to the fp16 super-block d and dmin. */
static void quant_k45(const float *x, uint8_t *b, int nmax, float rmin, int nstep, uint8_t *L) {
    float w[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = kq_fit_scale_min(32, nmax, xs, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep, 0);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *s = b + 4;
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)quant_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)quant_nearest_int(inv_min * mins[j]);
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
            s[j - 4] |= (uint8_t)((ls >> 4) << 6);
            s[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    quant_put16(b, hone_f32_to_fp16(max_scale / 63.f));
    quant_put16(b + 2, hone_f32_to_fp16(max_min / 63.f));
    for (int j = 0; j < 8; j++) {
        int sc, m;
        k4_scale_min(s, j, &sc, &m);
        float d = quant_h(b) * (float)sc;
        if (d == 0) continue;
        float dm = quant_h(b + 2) * (float)m;
        for (int i = 0; i < 32; i++) {
            int l = quant_nearest_int((x[32 * j + i] + dm) / d);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        }
    }
}

void quant_block_q4_k(const float *x, uint8_t *b) {
    uint8_t L[QK_K], *qs = b + 16;
    quant_k45(x, b, 15, -1.f, 20, L);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

void quant_block_q5_k(const float *x, uint8_t *b) {
    uint8_t L[QK_K], *qh = b + 16, *qs = b + 48;
    quant_k45(x, b, 31, -0.5f, 15, L);
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
            qh[l] |= (uint8_t)(((l1 >> 4) & 1) << (2 * c) | ((l2 >> 4) & 1) << (2 * c + 1));
            qs[32 * c + l] = (uint8_t)((l1 & 0xf) | (l2 & 0xf) << 4);
        }
}

/* Q8_K (the dot-product partner of the K-quants): f32 d = max / -127, q =
 * round(x / d) capped at 127, and the sums of each 16 q's. ggml's ref. */
void quant_block_q8_k(const float *x, uint8_t *b) {
    float amax = 0, max = 0;
    for (int e = 0; e < QK_K; e++)
        if (fabsf(x[e]) > amax) {
            amax = fabsf(x[e]);
            max = x[e];
        }
    memset(b, 0, 292);
    float iscale = amax != 0 ? -127.f / max : 0;
    if (iscale == 0 || isinf(iscale)) return; /* zeros; or max subnormal: d would be 0 */
    int8_t *q = (int8_t *)(b + 4);
    for (int e = 0; e < QK_K; e++) {
        int v = quant_nearest_int(iscale * x[e]);
        q[e] = (int8_t)(v > 127 ? 127 : v);
    }
    for (int g = 0; g < 16; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += q[16 * g + i];
        quant_put16(b + 260 + 2 * g, (uint16_t)(int16_t)sum);
    }
    float d = 1 / iscale;
    memcpy(b, &d, 4); /* f32, little-endian like the host */
}

void quant_block_q6_k(const float *x, uint8_t *b) {
    int8_t L[QK_K];
    float scales[16], max_scale = 0, max_abs = 0;
    uint8_t *ql = b, *qh = b + 128;
    int8_t *sc = (int8_t *)(b + 192);
    for (int g = 0; g < 16; g++) {
        scales[g] = kq_fit_scale_sym(16, 32, x + 16 * g, L + 16 * g);
        if (fabsf(scales[g]) > max_abs) {
            max_abs = fabsf(scales[g]);
            max_scale = scales[g];
        }
    }
    if (max_abs < 1e-15f) {
        memset(b, 0, 210);
        return;
    }
    float iscale = -128.f / max_scale;
    quant_put16(b + 208, hone_f32_to_fp16(1 / iscale));
    for (int g = 0; g < 16; g++) {
        int l = quant_nearest_int(iscale * scales[g]);
        sc[g] = (int8_t)(l > 127 ? 127 : l);
    }
    for (int g = 0; g < 16; g++) {
        float d = quant_h(b + 208) * (float)sc[g];
        if (d == 0) continue;
        for (int i = 0; i < 16; i++) {
            int l = quant_nearest_int(x[16 * g + i] / d);
            L[16 * g + i] = (int8_t)((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
        }
    }
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const int8_t *q = L + 128 * h + l;
            ql[64 * h + l] = (uint8_t)((q[0] & 0xf) | (q[64] & 0xf) << 4);
            ql[64 * h + l + 32] = (uint8_t)((q[32] & 0xf) | (q[96] & 0xf) << 4);
            qh[32 * h + l] = (uint8_t)((q[0] >> 4) | (q[32] >> 4) << 2 | (q[64] >> 4) << 4 | (q[96] >> 4) << 6);
        }
}
