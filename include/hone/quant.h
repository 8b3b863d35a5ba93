/* hone/quant.h: public API, tensor element conversion: dequantize any supported type to f32, quantize f32 to F16/BF16/Q8_0/Q4_0/Q4_K/Q5_K/Q6_K (reference scalar code).
 * Included by hone.h; see its conventions. */
#ifndef HONE_QUANT_H
#define HONE_QUANT_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
