/* test_quant.c: tensor element conversion (include/hone/quant.h).
 *
 * - fp16/bf16 converters against independent references: every fp16 value
 *   round-trips; f32 -> fp16 is checked against a brute-force nearest-even search
 *   over the table of all fp16 values (computed in double); f32 -> bf16 against a
 *   double-precision choice between the two neighbouring bf16 values.
 * - Hand-built blocks of every block format with hand-computed values.
 * - quantize -> dequantize round trips with a per-type error bound (reason next to
 *   each), and the odd inputs: zeros, constants, huge, tiny, NaN/inf.
 * - The error for types hone does not convert, directly and through a GGUF file.
 * - The quantizers' bytes against llama.cpp's reference quantizers (a committed
 *   fixture, tests/ref/make_quant_fixture.py).
 * The bit-exact check against gguf-py on the real models, and the quantizers'
 * bytes / RMSE against gguf-py and llama.cpp on real weights, are in tests/interop
 * and bench/. */
#include <float.h>
#include <math.h>

#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static double rng_unit(void) { return (rng_u32() + 0.5) / 4294967296.0; }

static float rng_gauss(void) { return (float)(sqrt(-2 * log(rng_unit())) * cos(2 * M_PI * rng_unit())); }

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* ---- fp16 / bf16 ----------------------------------------------------------- */

/* Reference f32 -> fp16: nearest of the finite non-negative fp16 values (their
 * bit patterns 0..0x7bff increase with the value), ties to the even pattern;
 * 65520 (halfway between 65504 and the next step, 65536) and above give inf. */
static double fp16_value[0x7c00];

static uint16_t ref_f32_to_fp16(float f) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (isnan(f)) return 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00;
    int lo = 0, hi = 0x7bff; /* largest h with value <= a */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (fp16_value[mid] <= a) lo = mid;
        else hi = mid - 1;
    }
    int h = lo;
    if (h < 0x7bff) {
        double dl = a - fp16_value[h], du = fp16_value[h + 1] - a;
        if (du < dl || (du == dl && (h & 1))) h++;
    }
    return sign | (uint16_t)h;
}

static void test_fp16(void **state) {
    for (int h = 0; h < 0x7c00; h++) fp16_value[h] = (double)hone_fp16_to_f32((uint16_t)h);
    /* decoding: spot values computed by hand */
    assert_true(hone_fp16_to_f32(0x3c00) == 1.0f);
    assert_true(hone_fp16_to_f32(0xc000) == -2.0f);
    assert_true(hone_fp16_to_f32(0x7bff) == 65504.0f);
    assert_true(hone_fp16_to_f32(0x0001) == ldexpf(1, -24)); /* smallest subnormal */
    assert_true(hone_fp16_to_f32(0x03ff) == ldexpf(1023, -24));
    assert_true(hone_fp16_to_f32(0x0400) == ldexpf(1, -14)); /* smallest normal */
    assert_true(hone_fp16_to_f32(0x3555) == 0x555 * ldexpf(1, -12)); /* 1365/4096 */
    assert_true(isinf(hone_fp16_to_f32(0x7c00)) && hone_fp16_to_f32(0xfc00) < 0);
    assert_true(isnan(hone_fp16_to_f32(0x7e00)));
    assert_int_equal(bits_of(hone_fp16_to_f32(0x8000)), 0x80000000u); /* -0 */
    /* the table is strictly increasing (sanity of the decoder over all values) */
    for (int h = 1; h < 0x7c00; h++) assert_true(fp16_value[h] > fp16_value[h - 1]);
    /* every fp16 value round-trips, both signs */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN: checked below */
        assert_int_equal(hone_f32_to_fp16(hone_fp16_to_f32((uint16_t)h)), h);
    }
    /* rounding, by hand: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01 -> even */
    assert_int_equal(hone_f32_to_fp16(1.0f + ldexpf(1, -11)), 0x3c00);
    assert_int_equal(hone_f32_to_fp16(1.0f + 3 * ldexpf(1, -11)), 0x3c02);
    assert_int_equal(hone_f32_to_fp16(65519.996f), 0x7bff);
    assert_int_equal(hone_f32_to_fp16(65520.0f), 0x7c00);
    assert_int_equal(hone_f32_to_fp16(-1e10f), 0xfc00);
    assert_int_equal(hone_f32_to_fp16(ldexpf(1, -25)), 0x0000);      /* tie -> 0 (even) */
    assert_int_equal(hone_f32_to_fp16(ldexpf(1.5f, -25)), 0x0001);   /* above the tie */
    assert_int_equal(hone_f32_to_fp16(ldexpf(3, -25)), 0x0002);      /* 1.5 ulp: tie -> 2 */
    assert_int_equal(hone_f32_to_fp16(-ldexpf(1, -30)), 0x8000);     /* -0 */
    uint16_t nan = hone_f32_to_fp16(f32_of(0x7f800001));             /* signalling NaN */
    assert_true((nan & 0x7c00) == 0x7c00 && (nan & 0x200));          /* stays NaN, quiet */
    /* 200k random floats around the fp16 range against the brute-force reference */
    for (int i = 0; i < 200000; i++) {
        uint32_t e = 100 + rng_u32() % 45; /* 2^-27 .. 2^17 */
        float f = f32_of((rng_u32() & 0x807fffff) | e << 23);
        if (hone_f32_to_fp16(f) != ref_f32_to_fp16(f))
            fail_msg("f32 %a (0x%08x): hone 0x%04x, reference 0x%04x", (double)f, bits_of(f),
                     hone_f32_to_fp16(f), ref_f32_to_fp16(f));
    }
}

static void test_bf16(void **state) {
    assert_int_equal(hone_f32_to_bf16(1.0f), 0x3f80);
    assert_true(hone_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(hone_bf16_to_f32(0xc0a0) == -5.0f);
    assert_int_equal(hone_f32_to_bf16(f32_of(0x3f808000)), 0x3f80); /* tie -> even */
    assert_int_equal(hone_f32_to_bf16(f32_of(0x3f818000)), 0x3f82); /* tie -> even (up) */
    assert_int_equal(hone_f32_to_bf16(f32_of(0x3f808001)), 0x3f81);
    assert_int_equal(hone_f32_to_bf16(f32_of(0x7f7fffff)), 0x7f80); /* FLT_MAX rounds to inf */
    assert_int_equal(hone_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(hone_f32_to_bf16(f32_of(0x7f800001)), 0x7fc0); /* sNaN -> quiet NaN */
    assert_int_equal(hone_f32_to_bf16(f32_of(0xffc12345)), 0xffc1);
    /* random finite floats: the nearer of the two neighbouring bf16 values (double) */
    for (int i = 0; i < 200000; i++) {
        float f = f32_of(rng_u32());
        if (isnan(f) || isinf(f)) continue;
        uint32_t lo = bits_of(f) & 0xffff0000u;
        double a = hone_bf16_to_f32((uint16_t)(lo >> 16)), b;
        uint32_t up = lo + 0x10000u; /* next away from zero */
        b = ((up >> 23) & 0xff) == 0xff ? (signbit(f) ? -1 : 1) * ldexp(1, 128) : hone_bf16_to_f32((uint16_t)(up >> 16));
        double da = fabs((double)f - a), db = fabs(b - (double)f);
        uint16_t want = (uint16_t)((db < da || (db == da && ((lo >> 16) & 1))) ? up >> 16 : lo >> 16);
        assert_int_equal(hone_f32_to_bf16(f), want);
    }
}

/* ---- hand-built blocks ----------------------------------------------------- */

static void dq(int type, const uint8_t *blk, float *y, uint64_t n) {
    hone_err err = {0};
    ASSERT_OK(hone_dequantize(type, blk, y, n, &err), &err);
}

static void test_known_blocks_32(void **state) {
    uint8_t b[40];
    float y[32];
    /* Q4_0: d = 0.5, qs[j] = j | (15 - j) << 4 -> y[j] = (j - 8) / 2, y[j+16] = (7 - j) / 2 */
    put16(b, 0x3800);
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | (15 - j) << 4);
    dq(HONE_Q4_0, b, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == (j - 8) * 0.5f);
        assert_true(y[j + 16] == (7 - j) * 0.5f);
    }
    /* Q4_1: d = 1, m = -3: y = nibble - 3 */
    put16(b, 0x3c00);
    put16(b + 2, 0xc200);
    for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(j | (15 - j) << 4);
    dq(HONE_Q4_1, b, y, 32);
    assert_true(y[0] == -3.0f && y[15] == 12.0f && y[16] == 12.0f && y[31] == -3.0f);
    /* Q5_0: d = 2, nibbles all 0xf, qh = bit 0 and bit 31 set: element 0 -> 31-16 = 15,
     * element 31 -> 15, others 15 - 16 = -1 -> y = 30, -2 */
    put16(b, 0x4000);
    b[2] = 0x01; b[3] = 0; b[4] = 0; b[5] = 0x80;
    memset(b + 6, 0xff, 16);
    dq(HONE_Q5_0, b, y, 32);
    assert_true(y[0] == 30.0f && y[31] == 30.0f && y[1] == -2.0f && y[16] == -2.0f);
    /* Q5_1: d = 0.5, m = 1, same qs/qh: y = 0.5 * 31 + 1 = 16.5 or 0.5 * 15 + 1 = 8.5 */
    put16(b, 0x3800);
    put16(b + 2, 0x3c00);
    b[4] = 0x01; b[5] = 0; b[6] = 0; b[7] = 0x80;
    memset(b + 8, 0xff, 16);
    dq(HONE_Q5_1, b, y, 32);
    assert_true(y[0] == 16.5f && y[31] == 16.5f && y[5] == 8.5f);
    /* Q8_0: d = 0.25, qs = -128, -1, 0, 1, 127 ... */
    put16(b, 0x3400);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(j - 16);
    b[2] = 0x80; b[33] = 0x7f;
    dq(HONE_Q8_0, b, y, 32);
    assert_true(y[0] == -32.0f && y[1] == -3.75f && y[16] == 0.0f && y[31] == 31.75f);
    /* Q8_1: d = 0.25, s (ignored by dequantization) = 1.0, the same qs after 4 bytes */
    put16(b, 0x3400);
    put16(b + 2, 0x3c00);
    for (int j = 0; j < 32; j++) b[4 + j] = (uint8_t)(int8_t)(j - 16);
    b[4] = 0x80;
    dq(HONE_Q8_1, b, y, 32);
    assert_true(y[0] == -32.0f && y[1] == -3.75f && y[16] == 0.0f && y[31] == 3.75f);
}

static void test_known_blocks_k(void **state) {
    uint8_t b[300];
    float y[256];
    /* Q4_K: d = 1, dmin = 0.5; scale/min 0 = 3/2 (bytes 0 and 4); scale/min 5 = 33/20:
     * low nibbles in byte 9 (scale 1 | min 4 << 4), top 2 bits (2, 1) in bytes 1, 5. */
    memset(b, 0, sizeof b);
    put16(b, 0x3c00);
    put16(b + 2, 0x3800);
    b[4 + 0] = 3;
    b[4 + 4] = 2;
    b[4 + 9] = 0x41;
    b[4 + 1] = 2 << 6;
    b[4 + 5] = 1 << 6;
    b[16 + 0] = 0x07;       /* element 0 (sub-block 0, low nibble): q = 7 */
    b[16 + 64 + 3] = 0xa0;  /* element 2*64+32+3 = 163 (sub-block 5, high nibble): q = 10 */
    dq(HONE_Q4_K, b, y, 256);
    assert_true(y[0] == 3 * 7 - 0.5f * 2);       /* 20 */
    assert_true(y[1] == -1.0f);                  /* q = 0 */
    assert_true(y[163] == 33 * 10 - 0.5f * 20);  /* 320 */
    assert_true(y[160] == -10.0f);
    assert_true(y[40] == 0.0f);                  /* sub-block 1: scale 0, min 0 */
    /* Q5_K: same scales, qs at 48; qh bit 5 of qh[3] sets the 5th bit of element 163 */
    memset(b + 16, 0, 160);
    b[48 + 64 + 3] = 0xa0;
    b[16 + 3] = 1 << 5;
    dq(HONE_Q5_K, b, y, 256);
    assert_true(y[163] == 33 * 26 - 0.5f * 20);  /* 848 */
    /* Q6_K: d = 0.5, scale of group 10 (elements 160..175) = -3; element 163:
     * half 1, r = 35 -> ql[64 + 35] low nibble, qh[32 + 3] bits 2-3 */
    memset(b, 0, sizeof b);
    put16(b + 208, 0x3800);
    b[192 + 10] = (uint8_t)(int8_t)-3;
    b[64 + 35] = 0x05;
    b[128 + 32 + 3] = 2 << 2;     /* q = 5 | 2 << 4 = 37 -> 37 - 32 = 5 */
    dq(HONE_Q6_K, b, y, 256);
    assert_true(y[163] == 0.5f * -3 * 5);
    assert_true(y[160] == 0.5f * -3 * -32);      /* q = 0 -> -32 */
    assert_true(y[0] == 0.0f);                   /* scale 0 */
    /* Q2_K: scales[3] = 5 | 1 << 4 (elements 48..63), d = 1, dmin = 2;
     * element 50: qs[50 % 32 = 18] >> 2 * (50 / 32 = 1) */
    memset(b, 0, sizeof b);
    b[3] = 5 | 1 << 4;
    b[16 + 18] = 3 << 2;
    put16(b + 80, 0x3c00);
    put16(b + 82, 0x4000);
    dq(HONE_Q2_K, b, y, 256);
    assert_true(y[50] == 5 * 3 - 2.0f);
    assert_true(y[48] == -2.0f);
    /* Q3_K: d = 1; scale 9 (elements 144..159) = (lo nibble of byte 1's high half = 7)
     * | (bits 2-3 of byte 8 + 9 % 4 = 9 -> (2) << 4) = 39 -> 39 - 32 = 7;
     * element 150: hmask[150 % 32 = 22] bit 150/32 = 4 set -> no -4; 2 low bits from
 * qs[32 * (150/128) + 22] >> 2 * ((150 % 128) / 32 = 0) */
    memset(b, 0, sizeof b);
    put16(b + 108, 0x3c00);
    b[96 + 1] = 7 << 4;
    b[96 + 9] = 2 << 4;
    b[22] = 1 << 4;
    b[32 + 32 + 22] = 3;
    dq(HONE_Q3_K, b, y, 256);
    assert_true(y[150] == 7 * 3);
    assert_true(y[151] == 7 * -4); /* hmask bit clear: 0 - 4 */
    /* Q8_K: f32 d = 0.5, q = -7 */
    memset(b, 0, sizeof b);
    float d = 0.5f;
    memcpy(b, &d, 4);
    b[4 + 200] = (uint8_t)(int8_t)-7;
    dq(HONE_Q8_K, b, y, 256);
    assert_true(y[200] == -3.5f && y[0] == 0.0f);
}

/* ---- round trips ----------------------------------------------------------- */

/* Quantizes x, dequantizes into y. */
static void roundtrip(int type, const float *x, float *y, uint64_t n) {
    hone_err err = {0};
    uint8_t *q = malloc(hone_dtype_row_bytes(type, n));
    ASSERT_OK(hone_quantize(type, x, q, n, &err), &err);
    ASSERT_OK(hone_dequantize(type, q, y, n, &err), &err);
    free(q);
}

#define N_RT 4096 /* 16 super-blocks, 128 blocks of 32 */

static void fill_test_data(float *x, int n) {
    rng_state = 0x243f6a8885a308d3ull; /* the same data whatever ran before */
    /* Gaussian weights with a few outliers, per-block scales over 4 decades: the
     * shapes a quantizer meets in real weights */
    for (int i = 0; i < n; i++) {
        float s = powf(10.f, (float)((i / 256) % 4) - 2.f);
        x[i] = s * rng_gauss();
        if (rng_u32() % 97 == 0) x[i] *= 6;
    }
}

/* Per-block error bounds for the 32-element formats. eps16 = 2^-11 is the
 * relative rounding error of an fp16 scale. */
static void test_roundtrip_32(void **state) {
    static float x[N_RT], y[N_RT];
    fill_test_data(x, N_RT);
    const float eps16 = 1.0f / 2048;
    const int types[] = {HONE_Q8_0, HONE_Q4_0, HONE_Q5_0, HONE_Q4_1, HONE_Q5_1};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int type = types[t];
        roundtrip(type, x, y, N_RT);
        for (int blk = 0; blk < N_RT / 32; blk++) {
            const float *xb = x + 32 * blk, *yb = y + 32 * blk;
            float amax = 0, mn = FLT_MAX, mx = -FLT_MAX;
            for (int j = 0; j < 32; j++) {
                amax = fmaxf(amax, fabsf(xb[j]));
                mn = fminf(mn, xb[j]);
                mx = fmaxf(mx, xb[j]);
            }
            float bound;
            switch (type) {
            /* Q8_0: step d = amax/127; rounding costs d/2; the fp16 scale is off by at
             * most eps16*d, times |q| <= 127 levels. */
            case HONE_Q8_0: bound = amax / 127 * (0.5f + 127 * eps16); break;
            /* Q4_0 / Q5_0: step d = amax/8 (/16); the value of largest magnitude maps to
             * -8 (-16) exactly, but one of opposite sign and equal magnitude would need
             * +8 (+16) and is clamped to 7 (15): a full step; plus fp16 scale error. */
            case HONE_Q4_0: bound = amax / 8 * (1.0f + 8 * eps16); break;
            case HONE_Q5_0: bound = amax / 16 * (1.0f + 16 * eps16); break;
            /* Q4_1 / Q5_1: step d = range/15 (/31), half a step of rounding; fp16 d over
             * 15 (31) levels and the fp16 min (|min| * eps16). */
            case HONE_Q4_1: bound = (mx - mn) / 15 * (0.5f + 15 * eps16) + fabsf(mn) * eps16; break;
            default: bound = (mx - mn) / 31 * (0.5f + 31 * eps16) + fabsf(mn) * eps16; break;
            }
            bound = bound * 1.0001f + 1e-30f; /* f32 rounding of the products themselves */
            for (int j = 0; j < 32; j++)
                if (!(fabsf(yb[j] - xb[j]) <= bound))
                    fail_msg("%s block %d element %d: x %g y %g, error %g > bound %g",
                             hone_dtype_name(type), blk, j, (double)xb[j], (double)yb[j],
                             (double)fabsf(yb[j] - xb[j]), (double)bound);
        }
    }
}

static void test_roundtrip_float(void **state) {
    static float x[N_RT], y[N_RT];
    fill_test_data(x, N_RT);
    /* F16: round to nearest, relative error <= 2^-11 in the normal range (the
     * data stays within 1e-5 .. 1e2, all normal fp16). BF16: <= 2^-8. */
    roundtrip(HONE_F16, x, y, N_RT);
    for (int i = 0; i < N_RT; i++)
        if (fabsf(x[i]) > 6.2e-5f) assert_true(fabsf(y[i] - x[i]) <= fabsf(x[i]) * ldexpf(1, -11));
    roundtrip(HONE_BF16, x, y, N_RT);
    for (int i = 0; i < N_RT; i++) assert_true(fabsf(y[i] - x[i]) <= fabsf(x[i]) * ldexpf(1, -8));
    roundtrip(HONE_F32, x, y, N_RT);
    assert_memory_equal(x, y, sizeof x);
    /* specials survive F16 and BF16 */
    float s[4] = {NAN, INFINITY, -INFINITY, -0.0f}, t[4];
    roundtrip(HONE_F16, s, t, 4);
    assert_true(isnan(t[0]) && t[1] == INFINITY && t[2] == -INFINITY && bits_of(t[3]) == 0x80000000u);
    roundtrip(HONE_BF16, s, t, 4);
    assert_true(isnan(t[0]) && t[1] == INFINITY && t[2] == -INFINITY && bits_of(t[3]) == 0x80000000u);
}

/* K-quants: no closed-form per-element bound (the scale search may trade one
 * element's error for the sub-block's weighted total), so the bound is on the
 * RMS error of each super-block, against the plain min/max grid of the same
 * sub-block size and levels: its RMS error is about step/sqrt(12) with step =
 * (max - min)/nmax. The scale search starts from that grid and only keeps grids
 * with lower (weighted) error; quantizing the scales to 6 bits (4 for Q2_K, 8 for
 * Q6_K) relative to the largest one moves each step by at most 1/126 (1/30, 1/256)
 * of the largest. We allow 1.5x the min/max-grid figure, which also absorbs the
 * weighting (the search minimizes a weighted error, not the plain RMS) and, for
 * Q3_K/Q6_K, the symmetric grid (levels -4..3 / -32..31: the estimate uses step
 * 2*amax/7 / 2*amax/63). Measured worst ratios on this data: Q2_K 1.02, Q3_K 0.93,
 * Q4_K 0.92, Q5_K 0.99, Q6_K 1.04. */
static void test_roundtrip_k(void **state) {
    static float x[N_RT], y[N_RT];
    fill_test_data(x, N_RT);
    struct { int type, sub, nmax, sym; } K[] = {
        {HONE_Q2_K, 16, 3, 0}, {HONE_Q3_K, 16, 7, 1}, {HONE_Q4_K, 32, 15, 0},
        {HONE_Q5_K, 32, 31, 0}, {HONE_Q6_K, 16, 63, 1},
    };
    for (size_t t = 0; t < sizeof K / sizeof K[0]; t++) {
        roundtrip(K[t].type, x, y, N_RT);
        double worst = 0;
        for (int sb = 0; sb < N_RT / 256; sb++) {
            double err2 = 0, grid2 = 0;
            for (int s = 0; s < 256 / K[t].sub; s++) {
                const float *xs = x + 256 * sb + K[t].sub * s;
                float mn = FLT_MAX, mx = -FLT_MAX;
                for (int j = 0; j < K[t].sub; j++) {
                    mn = fminf(mn, xs[j]);
                    mx = fmaxf(mx, xs[j]);
                }
                /* Q3_K/Q6_K are symmetric (levels -4..3, -32..31): the grid spans 2*amax */
                double range = K[t].sym ? 2 * fmax(fabs(mn), fabs(mx)) : (double)(mx - mn);
                double step = range / K[t].nmax;
                grid2 += step * step / 12 * K[t].sub;
            }
            for (int i = 256 * sb; i < 256 * sb + 256; i++) err2 += (double)(y[i] - x[i]) * (y[i] - x[i]);
            double ratio = sqrt(err2 / grid2);
            if (ratio > worst) worst = ratio;
            if (!(ratio <= 1.5))
                fail_msg("%s super-block %d: RMS error %g is %.3f x the min/max grid's %g",
                         hone_dtype_name(K[t].type), sb, sqrt(err2 / 256), ratio, sqrt(grid2 / 256));
        }
        print_message("  %s: worst super-block RMS error / min-max grid estimate = %.3f\n",
                      hone_dtype_name(K[t].type), worst);
    }
    /* Q8_K: f32 scale d = amax/127 (no fp16 rounding), the largest magnitude maps to
     * -127 exactly, every other value rounds to within d/2; 1e-6 relative slack for
     * the f32 rounding of d and of the products. */
    roundtrip(HONE_Q8_K, x, y, N_RT);
    for (int sb = 0; sb < N_RT / 256; sb++) {
        float amax = 0;
        for (int i = 256 * sb; i < 256 * sb + 256; i++) amax = fmaxf(amax, fabsf(x[i]));
        for (int i = 256 * sb; i < 256 * sb + 256; i++)
            assert_true(fabsf(y[i] - x[i]) <= amax / 127 * 0.5f * (1 + 1e-6f));
    }
}

/* ---- odd inputs ------------------------------------------------------------ */

static const int QTYPES[] = {HONE_F16,  HONE_BF16, HONE_Q8_0, HONE_Q4_0, HONE_Q4_1,
                             HONE_Q5_0, HONE_Q5_1, HONE_Q2_K, HONE_Q3_K, HONE_Q4_K,
                             HONE_Q5_K, HONE_Q6_K, HONE_Q8_K};
#define N_QTYPES (sizeof QTYPES / sizeof QTYPES[0])

static void test_zeros_constant_tiny(void **state) {
    static float x[512], y[512];
    for (size_t t = 0; t < N_QTYPES; t++) {
        int type = QTYPES[t];
        /* zeros give exact zeros */
        memset(x, 0, sizeof x);
        roundtrip(type, x, y, 512);
        for (int i = 0; i < 512; i++) assert_true(y[i] == 0.0f);
        /* a constant block: within 1% (the coarsest format, Q2_K, has 3 levels above
         * its min and fp16 scales; every format represents c within a few of its
         * fp16 rounding errors, far below 1%) */
        for (int i = 0; i < 512; i++) x[i] = i < 256 ? 0.37f : -1234.5f;
        roundtrip(type, x, y, 512);
        for (int i = 0; i < 512; i++)
            if (!(fabsf(y[i] - x[i]) <= 0.01f * fabsf(x[i])))
                fail_msg("%s constant %g -> %g", hone_dtype_name(type), (double)x[i], (double)y[i]);
        /* tiny values (1e-30, below fp16's smallest subnormal 6e-8): block scales
         * underflow to 0, so the block formats return 0 (error = |x|, documented);
         * F16 flushes to 0 too; BF16 keeps them (f32's exponent range, 8 bits:
         * relative error <= 2^-8) and so does Q8_K (f32 scale: error <= half its
         * step amax/127, amax = 3e-30). */
        for (int i = 0; i < 512; i++) x[i] = (i % 2 ? 1e-30f : -3e-30f);
        roundtrip(type, x, y, 512);
        for (int i = 0; i < 512; i++) {
            if (type == HONE_BF16) assert_true(fabsf(y[i] - x[i]) <= fabsf(x[i]) / 256);
            else if (type == HONE_Q8_K) assert_true(fabsf(y[i] - x[i]) <= 3e-30f / 254 * 1.0001f);
            else assert_true(y[i] == 0.0f);
        }
        /* subnormal f32 (1e-40, with zeros between): 1/scale overflows; still zeros.
         * BF16 keeps them to within half its subnormal step 2^-133 */
        for (int i = 0; i < 512; i++) x[i] = (i % 3 ? 1e-40f : 0.0f);
        roundtrip(type, x, y, 512);
        for (int i = 0; i < 512; i++) {
            if (type == HONE_BF16) assert_true(fabsf(y[i] - x[i]) <= ldexpf(1, -134));
            else assert_true(y[i] == 0.0f);
        }
    }
}

static void test_huge_nan(void **state) {
    static float x[256];
    static uint8_t q[1024];
    hone_err err = {0};
    for (size_t t = 0; t < N_QTYPES; t++) {
        int type = QTYPES[t];
        for (int i = 0; i < 256; i++) x[i] = rng_gauss();
        if (type == HONE_F16 || type == HONE_BF16) continue;
        /* NaN and inf are refused, naming the element */
        x[77] = NAN;
        assert_int_equal(hone_quantize(type, x, q, 256, &err), HONE_EARG);
        assert_non_null(strstr(err.msg, "element 77 is NaN"));
        x[77] = -INFINITY;
        assert_int_equal(hone_quantize(type, x, q, 256, &err), HONE_EARG);
        assert_non_null(strstr(err.msg, "element 77 is infinite"));
        /* beyond 2^32: refused before any arithmetic */
        x[77] = 1e20f;
        assert_int_equal(hone_quantize(type, x, q, 256, &err), HONE_EARG);
        assert_non_null(strstr(err.msg, "too large"));
        /* 1e9: every fp16 scale overflows (Q6_K's last, near 2.7e8); Q8_K's f32 d does not */
        x[77] = 1e9f;
        if (type == HONE_Q8_K) {
            ASSERT_OK(hone_quantize(type, x, q, 256, &err), &err);
        } else {
            assert_int_equal(hone_quantize(type, x, q, 256, &err), HONE_EARG);
            assert_non_null(strstr(err.msg, "overflows its fp16 scale"));
        }
        /* 1000 fits every format */
        x[77] = 1000.f;
        ASSERT_OK(hone_quantize(type, x, q, 256, &err), &err);
    }
    /* F16 saturates to inf beyond 65504 (numpy's astype(float16) does the same) */
    x[0] = 1e6f;
    float y[256];
    roundtrip(HONE_F16, x, y, 256);
    assert_true(y[0] == INFINITY);
}

/* ---- llama.cpp's reference quantizers ------------------------------------------ */

static void *read_fixture(const char *name, size_t *size) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/quant/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (written by tests/ref/make_quant_fixture.py)", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*size);
    assert_int_equal(fread(p, 1, *size, f), *size);
    fclose(f);
    return p;
}

/* hone_quantize must give exactly the bytes of ggml's quantize_row_*_ref
 * (tests/fixtures/quant, written by tests/ref/make_quant_fixture.py with the libggml
 * of llama-cpp-python) on 16 super-blocks of ordinary and awkward data. No
 * tolerance: hone does the same float operations in the same order. */
static void test_llamacpp_fixture(void **state) {
    static const int types[] = {HONE_Q4_0, HONE_Q4_1, HONE_Q5_0, HONE_Q5_1, HONE_Q8_0, HONE_Q2_K,
                                HONE_Q3_K, HONE_Q4_K, HONE_Q5_K, HONE_Q6_K, HONE_Q8_K};
    size_t nx;
    float *x = read_fixture("input.f32", &nx);
    uint64_t n = nx / sizeof(float);
    assert_int_equal(n, 4096);
    hone_err err = {0};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        int type = types[t];
        char name[32];
        snprintf(name, sizeof name, "%s.bin", hone_dtype_name(type));
        size_t nref;
        uint8_t *ref = read_fixture(name, &nref);
        assert_int_equal(nref, hone_dtype_row_bytes(type, n));
        uint8_t *q = malloc(nref);
        ASSERT_OK(hone_quantize(type, x, q, n, &err), &err);
        uint32_t bb = hone_dtype_block_bytes(type);
        for (size_t b = 0; b < nref / bb; b++)
            if (memcmp(q + b * bb, ref + b * bb, bb))
                fail_msg("%s: block %zu differs from llama.cpp's reference quantizer", name, b);
        free(q);
        free(ref);
    }
    free(x);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_unsupported(void **state) {
    hone_err err = {0};
    uint8_t buf[512] = {0};
    float y[256];
    assert_int_equal(hone_dequantize(HONE_IQ2_XS, buf, y, 256, &err), HONE_EUNSUPPORTED);
    assert_string_equal(err.msg, "unsupported tensor type IQ2_XS");
    assert_int_equal(hone_quantize(HONE_Q8_1, y, buf, 256, &err), HONE_EUNSUPPORTED);
    assert_string_equal(err.msg, "unsupported tensor type Q8_1");
    assert_int_equal(hone_dequantize(4, buf, y, 32, &err), HONE_EARG); /* retired id */
    assert_non_null(strstr(err.msg, "unknown tensor type id 4"));
    assert_int_equal(hone_dequantize(HONE_Q4_K, buf, y, 100, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "not a multiple"));
    assert_false(hone_dequantize_supported(HONE_MXFP4));
    assert_true(hone_dequantize_supported(HONE_Q3_K));
    assert_true(hone_quantize_supported(HONE_Q3_K));
    assert_false(hone_quantize_supported(HONE_TQ2_0));

    /* through a GGUF file: one IQ4_NL tensor (block 32, 18 bytes) named blk.0.w */
    uint8_t g[128] = {0};
    size_t o = 0;
    memcpy(g, "GGUF", 4); o = 4;
    uint32_t v32 = 3; memcpy(g + o, &v32, 4); o += 4;
    uint64_t v64 = 1; memcpy(g + o, &v64, 8); o += 8; /* tensors */
    v64 = 0; memcpy(g + o, &v64, 8); o += 8;          /* kv */
    v64 = 7; memcpy(g + o, &v64, 8); o += 8;
    memcpy(g + o, "blk.0.w", 7); o += 7;
    v32 = 1; memcpy(g + o, &v32, 4); o += 4;          /* n_dims */
    v64 = 32; memcpy(g + o, &v64, 8); o += 8;         /* ne[0] */
    v32 = HONE_IQ4_NL; memcpy(g + o, &v32, 4); o += 4;
    v64 = 0; memcpy(g + o, &v64, 8); o += 8;          /* offset */
    o = (o + 31) / 32 * 32 + 32;                      /* padding + 18 data bytes (+pad) */
    hone_gguf *gg;
    ASSERT_OK(hone_gguf_open_mem(&gg, g, o, "mem.gguf", &err), &err);
    assert_int_equal(hone_gguf_tensor_dequantize(gg, 0, y, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "unsupported tensor type IQ4_NL in tensor blk.0.w"));
    assert_int_equal(strncmp(err.msg, "unsupported tensor type IQ4_NL in tensor blk.0.w", 48), 0);
    assert_int_equal(hone_gguf_tensor_dequantize(gg, 5, y, &err), HONE_EARG);
    hone_gguf_close(gg);
}

/* The real Gemma file: one tensor of each quantized type decodes to finite
 * values (the bit-exact check is tests/interop/test_dequant_vs_ggufpy.py). */
static void test_gemma_tensors(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    int seen[HONE_DTYPE_COUNT] = {0};
    for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++) {
        int type = hone_gguf_tensor_type(g, t);
        if (seen[type]++) continue;
        uint64_t n = hone_gguf_tensor_nelem(g, t);
        float *y = malloc(n * sizeof(float));
        ASSERT_OK(hone_gguf_tensor_dequantize(g, t, y, &err), &err);
        for (uint64_t i = 0; i < n; i++) assert_true(isfinite(y[i]));
        free(y);
    }
    assert_true(seen[HONE_Q4_K] && seen[HONE_Q6_K] && seen[HONE_F32]);
    hone_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_known_blocks_32),
        cmocka_unit_test(test_known_blocks_k),
        cmocka_unit_test(test_roundtrip_32),
        cmocka_unit_test(test_roundtrip_float),
        cmocka_unit_test(test_roundtrip_k),
        cmocka_unit_test(test_zeros_constant_tiny),
        cmocka_unit_test(test_huge_nan),
        cmocka_unit_test(test_llamacpp_fixture),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_gemma_tensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
