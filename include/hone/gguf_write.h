/* hone/gguf_write.h: public API, GGUF writer: metadata with exact value types, tensors padded to the alignment, atomic.
 * Included by hone.h; see its conventions. */
#ifndef HONE_GGUF_WRITE_H
#define HONE_GGUF_WRITE_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
