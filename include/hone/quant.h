/* hone/quant.h: public API, tensor element conversion: dequantize any supported
 * type to f32, quantize f32 to F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the
 * K-quants Q2_K..Q6_K, Q8_K (plain scalar reference code).
 *
 * Dequantizers follow the order of float operations of ggml / gguf-py, so their
 * output is bit-identical to gguf-py's `gguf.quants.dequantize` (fp16 -> f32 is
 * exact). Quantizers follow ggml's reference quantizers (quantize_row_*_ref):
 * the same rounding and, for K-quants, the same search for block scales.
 *
 * Types ggml defines but hone does not convert (IQ*, TQ*, MXFP4, I8..I64, F64)
 * fail with HONE_EUNSUPPORTED and "unsupported tensor type NAME".
 * Included by hone.h; see its conventions. */
#ifndef HONE_QUANT_H
#define HONE_QUANT_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Single values. f32 -> fp16 rounds to nearest even (as numpy's astype(float16)):
 * beyond the fp16 range gives +-inf, NaN stays NaN (quiet, top payload kept).
 * f32 -> bf16 rounds to nearest even, NaN becomes a quiet NaN (as ggml / gguf-py).
 * The ->f32 conversions are exact. */
float hone_fp16_to_f32(uint16_t h);
uint16_t hone_f32_to_fp16(float f);
float hone_bf16_to_f32(uint16_t h);
uint16_t hone_f32_to_bf16(float f);

/* 1 if hone_dequantize / hone_quantize handle the type, else 0. */
int hone_dequantize_supported(int type);
int hone_quantize_supported(int type);

/* src holds n elements of `type` (hone_dtype_row_bytes(type, n) bytes, any
 * alignment); dst receives n floats. n must be a multiple of the block size.
 * Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K, Q8_K. */
int hone_dequantize(int type, const void *src, float *dst /* (n) */, uint64_t n, hone_err *err);

/* Dequantizes tensor t of g (all its elements, in file order) into dst; errors
 * name the tensor and the file. */
int hone_gguf_tensor_dequantize(const hone_gguf *g, int64_t t, float *dst /* (nelem) */,
                                hone_err *err);

/* Quantizes n floats (a multiple of the block size) into dst
 * (hone_dtype_row_bytes(type, n) bytes). Supported: F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K (not Q8_1).
 * F32/F16/BF16 take any value (NaN and inf are kept). The block formats refuse
 * NaN and inf (HONE_EARG, naming the element) and values so large that a block's
 * fp16 scale would overflow (HONE_EARG, naming the block): ggml would write inf
 * or garbage there. */
int hone_quantize(int type, const float *src /* (n) */, void *dst, uint64_t n, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
