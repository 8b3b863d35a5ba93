/* quant.c: tensor element conversion, reference quality (plain scalar C).
 *
 * - fp16 / bf16 <-> f32 single values (bit manipulation, no FPU conversion, so the
 *   result never depends on the build's -march).
 * - The 32-element block formats Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: dequantize
 *   with gguf-py's float operations (bit-exact), quantize as ggml's
 *   quantize_row_*_ref (for these, gguf-py's quantizer is the same arithmetic, so
 *   the bytes match it).
 * - The dispatch (hone_dequantize, hone_quantize, hone_gguf_tensor_dequantize);
 *   the K-quant super-blocks are in quant_k.c.
 *
 * Block layouts (bytes, little-endian; h = fp16):
 *   Q4_0: h d, u8 qs[16]        x = (nibble - 8) * d; element j < 16 in the low
 *                               nibble of qs[j], element j + 16 in the high one
 *   Q4_1: h d, h m, u8 qs[16]   x = nibble * d + m
 *   Q5_0: h d, u32 qh, qs[16]   5th bit of element j is bit j of qh; x = (q - 16) * d
 *   Q5_1: h d, h m, u32 qh, qs[16]
 *   Q8_0: h d, i8 qs[32]        x = q * d
 *   Q8_1: h d, h s, i8 qs[32]   (s = d * sum q, unused here)
 */
#include "io/quant_impl.h"

#include <float.h>
#include <stdlib.h>

#include "util/err.h"

QUANT_NO_CONTRACT

/* ---- single values ------------------------------------------------------ */

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float hone_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000 | (man << 13)); /* inf, NaN */
    if (exp) return bits_f32(sign | ((exp + 112) << 23) | (man << 13)); /* 127 - 15 */
    if (!man) return bits_f32(sign);
    /* subnormal: man * 2^-24, exact in f32 */
    float v = (float)man * bits_f32(0x33800000); /* 2^-24 */
    return sign ? -v : v;
}

uint16_t hone_f32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffff;
    if (x > 0x7f800000) return sign | 0x7e00 | (uint16_t)((x >> 13) & 0x3ff); /* quiet NaN */
    if (x >= 0x477ff000) return sign | 0x7c00; /* >= 65520 rounds to inf */
    if (x >= 0x38800000) {                     /* normal fp16: >= 2^-14 */
        x += 0xfff + ((x >> 13) & 1);          /* round to nearest even at bit 13 */
        return sign | (uint16_t)((x - 0x38000000) >> 13);
    }
    if (x <= 0x33000000) return sign; /* <= 2^-25: rounds (ties to even) to zero */
    /* subnormal fp16: value = man * 2^(e-150); in units of 2^-24: man >> (126 - e) */
    uint32_t e = x >> 23, man = (x & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | (uint16_t)q;
}

float hone_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t hone_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64); /* quiet NaN */
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* ---- 32-element blocks: dequantize --------------------------------------- */

static void dequant_block_q4_0(const uint8_t *b, float *y) {
    float d = quant_h(b);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)((b[2 + j] & 0xf) - 8);
        y[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
    }
}

static void dequant_block_q4_1(const uint8_t *b, float *y) {
    float d = quant_h(b), m = quant_h(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)(b[4 + j] & 0xf) + m;
        y[j + 16] = d * (float)(b[4 + j] >> 4) + m;
    }
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void dequant_block_q5_0(const uint8_t *b, float *y) {
    float d = quant_h(b);
    uint32_t qh = le32(b + 2);
    for (int j = 0; j < 16; j++) {
        int lo = (b[6 + j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (b[6 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)(lo - 16);
        y[j + 16] = d * (float)(hi - 16);
    }
}

static void dequant_block_q5_1(const uint8_t *b, float *y) {
    float d = quant_h(b), m = quant_h(b + 2);
    uint32_t qh = le32(b + 4);
    for (int j = 0; j < 16; j++) {
        int lo = (b[8 + j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (b[8 + j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (float)lo + m;
        y[j + 16] = d * (float)hi + m;
    }
}

static void dequant_block_q8_0(const uint8_t *b, float *y) {
    float d = quant_h(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

static void dequant_block_q8_1(const uint8_t *b, float *y) {
    float d = quant_h(b);
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[4 + j] * d;
}

/* ---- 32-element blocks: quantize (ggml's *_ref arithmetic) --------------- */

/* The value of largest magnitude (the first one on ties), sign kept. */
static float block_absmax_signed(const float *x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

static void block_minmax(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* 1/d, or 0 when d is 0 -- as ggml -- or when 1/d overflows (d subnormal: ggml
 * would then convert inf or NaN to an integer, which is undefined; the fp16
 * scale of such a block is 0 anyway, so the block dequantizes to 0 either way). */
static float inv_scale(float d) {
    float id = d != 0 ? 1.0f / d : 0.0f;
    return isinf(id) ? 0.0f : id;
}

static void quant_block_q4_0(const float *x, uint8_t *b) {
    float d = block_absmax_signed(x, 32) / -8;
    float id = inv_scale(d);
    quant_put16(b, hone_f32_to_fp16(d));
    for (int j = 0; j < 16; j++) {
        int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + 16] * id + 8.5f);
        b[2 + j] = (uint8_t)((lo > 15 ? 15 : lo) | (hi > 15 ? 15 : hi) << 4);
    }
}

static void quant_block_q4_1(const float *x, uint8_t *b) {
    float mn, mx;
    block_minmax(x, 32, &mn, &mx);
    float d = (mx - mn) / 15;
    float id = inv_scale(d);
    quant_put16(b, hone_f32_to_fp16(d));
    quant_put16(b + 2, hone_f32_to_fp16(mn));
    for (int j = 0; j < 16; j++) {
        int lo = (int)((x[j] - mn) * id + 0.5f), hi = (int)((x[j + 16] - mn) * id + 0.5f);
        b[4 + j] = (uint8_t)((lo > 15 ? 15 : lo) | (hi > 15 ? 15 : hi) << 4);
    }
}

/* Packs 32 five-bit values: low nibbles into qs, 5th bits into qh. */
static void pack_q5(const int *q, uint8_t *qh4, uint8_t *qs) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
        qh |= (uint32_t)((q[j] >> 4) & 1) << j;
        qh |= (uint32_t)((q[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++) qh4[k] = (uint8_t)(qh >> (8 * k));
}

static void quant_block_q5_0(const float *x, uint8_t *b) {
    float d = block_absmax_signed(x, 32) / -16;
    float id = inv_scale(d);
    quant_put16(b, hone_f32_to_fp16(d));
    int q[32];
    for (int j = 0; j < 32; j++) {
        int v = (int)(x[j] * id + 16.5f);
        q[j] = v > 31 ? 31 : v;
    }
    pack_q5(q, b + 2, b + 6);
}

static void quant_block_q5_1(const float *x, uint8_t *b) {
    float mn, mx;
    block_minmax(x, 32, &mn, &mx);
    float d = (mx - mn) / 31;
    float id = inv_scale(d);
    quant_put16(b, hone_f32_to_fp16(d));
    quant_put16(b + 2, hone_f32_to_fp16(mn));
    int q[32];
    for (int j = 0; j < 32; j++) {
        int v = (int)((x[j] - mn) * id + 0.5f);
        q[j] = v > 31 ? 31 : v; /* gguf-py clips; ggml's ref relies on rounding */
    }
    pack_q5(q, b + 4, b + 8);
}

static void quant_block_q8_0(const float *x, uint8_t *b) {
    float amax = 0;
    for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = amax / 127;
    float id = inv_scale(d);
    quant_put16(b, hone_f32_to_fp16(d));
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

/* ---- dispatch ------------------------------------------------------------ */

typedef void (*dequant_fn)(const uint8_t *blk, float *y);
typedef void (*quant_fn)(const float *x, uint8_t *blk);

typedef struct {
    dequant_fn dq;
    quant_fn q;
    int16_t h16[2]; /* byte offsets of the block's fp16 scale fields (-1: none) */
} block_ops;

static const block_ops OPS[HONE_DTYPE_COUNT] = {
    [HONE_Q4_0] = {dequant_block_q4_0, quant_block_q4_0, {0, -1}},
    [HONE_Q4_1] = {dequant_block_q4_1, quant_block_q4_1, {0, 2}},
    [HONE_Q5_0] = {dequant_block_q5_0, quant_block_q5_0, {0, -1}},
    [HONE_Q5_1] = {dequant_block_q5_1, quant_block_q5_1, {0, 2}},
    [HONE_Q8_0] = {dequant_block_q8_0, quant_block_q8_0, {0, -1}},
    [HONE_Q8_1] = {dequant_block_q8_1, NULL, {-1, -1}},
    [HONE_Q2_K] = {dequant_block_q2_k, quant_block_q2_k, {80, 82}},
    [HONE_Q3_K] = {dequant_block_q3_k, quant_block_q3_k, {108, -1}},
    [HONE_Q4_K] = {dequant_block_q4_k, quant_block_q4_k, {0, 2}},
    [HONE_Q5_K] = {dequant_block_q5_k, quant_block_q5_k, {0, 2}},
    [HONE_Q6_K] = {dequant_block_q6_k, quant_block_q6_k, {208, -1}},
    [HONE_Q8_K] = {dequant_block_q8_k, quant_block_q8_k, {-1, -1}},
};

static int is_scalar_float(int type) {
    return type == HONE_F32 || type == HONE_F16 || type == HONE_BF16;
}

int hone_dequantize_supported(int type) {
    return type >= 0 && type < HONE_DTYPE_COUNT && (is_scalar_float(type) || OPS[type].dq);
}

int hone_quantize_supported(int type) {
    return type >= 0 && type < HONE_DTYPE_COUNT && (is_scalar_float(type) || OPS[type].q);
}

/* Checks type and n; "unsupported tensor type NAME" (the caller appends context). */
static int check_type_n(int type, uint64_t n, int supported, hone_err *err) {
    const char *name = hone_dtype_name(type);
    if (!name) return hone_err_set(err, HONE_EARG, "unknown tensor type id %d", type);
    if (!supported) return hone_err_set(err, HONE_EUNSUPPORTED, "unsupported tensor type %s", name);
    uint32_t blk = hone_dtype_block(type);
    if (n % blk)
        return hone_err_set(err, HONE_EARG, "%llu elements is not a multiple of the %s block size %u",
                            (unsigned long long)n, name, blk);
    return HONE_OK;
}

int hone_dequantize(int type, const void *src, float *dst, uint64_t n, hone_err *err) {
    int rc = check_type_n(type, n, hone_dequantize_supported(type), err);
    if (rc) return rc;
    const uint8_t *p = src;
    switch (type) {
    case HONE_F32: memcpy(dst, src, n * sizeof(float)); return HONE_OK;
    case HONE_F16:
        for (uint64_t i = 0; i < n; i++) dst[i] = hone_fp16_to_f32(quant_le16(p + 2 * i));
        return HONE_OK;
    case HONE_BF16:
        for (uint64_t i = 0; i < n; i++) dst[i] = hone_bf16_to_f32(quant_le16(p + 2 * i));
        return HONE_OK;
    default: break;
    }
    uint32_t blk = hone_dtype_block(type), bytes = hone_dtype_block_bytes(type);
    for (uint64_t i = 0; i < n / blk; i++) OPS[type].dq(p + i * bytes, dst + i * blk);
    return HONE_OK;
}

int hone_gguf_tensor_dequantize(const hone_gguf *g, int64_t t, float *dst, hone_err *err) {
    if (t < 0 || t >= hone_gguf_n_tensors(g))
        return hone_err_set(err, HONE_EARG, "%s: tensor index %lld out of range (%lld tensors)",
                            hone_gguf_path(g), (long long)t, (long long)hone_gguf_n_tensors(g));
    hone_str name = hone_gguf_tensor_name(g, t);
    int type = hone_gguf_tensor_type(g, t);
    if (!hone_dequantize_supported(type))
        return hone_err_set(err, HONE_EUNSUPPORTED, "unsupported tensor type %s in tensor %.*s (%s)",
                            hone_dtype_name(type) ? hone_dtype_name(type) : "?", (int)name.len,
                            name.ptr, hone_gguf_path(g));
    int rc = hone_dequantize(type, hone_gguf_tensor_data(g, t), dst, hone_gguf_tensor_nelem(g, t), err);
    if (rc) hone_err_prefix(err, "%s: tensor %.*s", hone_gguf_path(g), (int)name.len, name.ptr);
    return rc;
}

/* The largest |x| a block format accepts: every format's fp16 scale overflows
 * well below it (Q6_K, the last, near 2.7e8), so the quantizers' intermediate sums
 * (of x*x, over at most 32 values) stay finite and the overflow check below
 * reports the failure instead of a NaN scale slipping through. */
#define QUANT_MAX_ABS 4294967296.0f /* 2^32 */

int hone_quantize(int type, const float *src, void *dst, uint64_t n, hone_err *err) {
    int rc = check_type_n(type, n, hone_quantize_supported(type), err);
    if (rc) return rc;
    uint8_t *p = dst;
    switch (type) {
    case HONE_F32: memcpy(dst, src, n * sizeof(float)); return HONE_OK;
    case HONE_F16:
        for (uint64_t i = 0; i < n; i++) quant_put16(p + 2 * i, hone_f32_to_fp16(src[i]));
        return HONE_OK;
    case HONE_BF16:
        for (uint64_t i = 0; i < n; i++) quant_put16(p + 2 * i, hone_f32_to_bf16(src[i]));
        return HONE_OK;
    default: break;
    }
    const char *name = hone_dtype_name(type);
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(src[i]) || isinf(src[i]))
            return hone_err_set(err, HONE_EARG, "quantize to %s: element %llu is %s", name,
                                (unsigned long long)i, isnan(src[i]) ? "NaN" : "infinite");
        if (fabsf(src[i]) >= QUANT_MAX_ABS)
            return hone_err_set(err, HONE_EARG,
                                "quantize to %s: element %llu (%g) is too large for an fp16 block scale",
                                name, (unsigned long long)i, (double)src[i]);
    }
    uint32_t blk = hone_dtype_block(type), bytes = hone_dtype_block_bytes(type);
    const block_ops *op = &OPS[type];
    for (uint64_t i = 0; i < n / blk; i++) {
        uint8_t *b = p + i * bytes;
        op->q(src + i * blk, b);
        for (int k = 0; k < 2; k++) {
            if (op->h16[k] < 0) continue;
            uint16_t h = quant_le16(b + op->h16[k]);
            if ((h & 0x7c00) == 0x7c00)
                return hone_err_set(err, HONE_EARG,
                                    "quantize to %s: block %llu (elements %llu..%llu) overflows its "
                                    "fp16 scale (values too large for this format)",
                                    name, (unsigned long long)i, (unsigned long long)(i * blk),
                                    (unsigned long long)(i * blk + blk - 1));
        }
    }
    return HONE_OK;
}
