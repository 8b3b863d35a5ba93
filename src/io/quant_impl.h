/* quant_impl.h: internals shared by quant.c (scalars, 32-element blocks, the
 * dispatch) and quant_k.c (256-element K-quant super-blocks).
 *
 * Every block function works on ONE block: `blk` points at its bytes (any
 * alignment; fields are read byte by byte, little-endian as in GGUF), `y` / `x`
 * at its floats. Dequantizers mirror gguf-py's order of float operations (which
 * is ggml's), so they are bit-exact; quantizers mirror ggml's *_ref quantizers.
 *
 * Both .c files switch off floating-point contraction: a fused multiply-add in
 * `d*q - m` would round once instead of twice and break bit-exactness whenever
 * the library is built with -march=native (gcc contracts across statements by
 * default, clang within one expression). */
#ifndef HONE_IO_QUANT_IMPL_H
#define HONE_IO_QUANT_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hone.h"

#if defined(__clang__)
#define QUANT_NO_CONTRACT _Pragma("STDC FP_CONTRACT OFF")
#elif defined(__GNUC__)
#define QUANT_NO_CONTRACT _Pragma("GCC optimize(\"fp-contract=off\")")
#else
#define QUANT_NO_CONTRACT
#endif

#define QK_K 256

static inline uint16_t quant_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline void quant_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The fp16 field at p, as f32 (exact). */
static inline float quant_h(const uint8_t *p) { return hone_fp16_to_f32(quant_le16(p)); }

/* Rounds to the nearest integer, ties to even, exactly as ggml's nearest_int (adds 1.5 * 2^23 so the FPU's round-to-nearest-even does the
 * work). ggml asserts |v| <= 4194303; we clamp there instead, which changes no
 * result inside that range. */
static inline int quant_nearest_int(float v) {
    if (v > 4194303.f) v = 4194303.f;
    if (v < -4194303.f) v = -4194303.f;
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* K-quant super-blocks (quant_k.c). */
void dequant_block_q2_k(const uint8_t *blk, float *y /* (256) */);
void dequant_block_q3_k(const uint8_t *blk, float *y /* (256) */);
void dequant_block_q4_k(const uint8_t *blk, float *y /* (256) */);
void dequant_block_q5_k(const uint8_t *blk, float *y /* (256) */);
void dequant_block_q6_k(const uint8_t *blk, float *y /* (256) */);
void dequant_block_q8_k(const uint8_t *blk, float *y /* (256) */);
void quant_block_q2_k(const float *x /* (256) */, uint8_t *blk);
void quant_block_q3_k(const float *x /* (256) */, uint8_t *blk);
void quant_block_q4_k(const float *x /* (256) */, uint8_t *blk);
void quant_block_q5_k(const float *x /* (256) */, uint8_t *blk);
void quant_block_q6_k(const float *x /* (256) */, uint8_t *blk);
void quant_block_q8_k(const float *x /* (256) */, uint8_t *blk);

#endif
