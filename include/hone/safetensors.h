/* hone/safetensors.h: public API, safetensors reader/writer (sharded via model.safetensors.index.json), HF config.json.
 * Included by hone.h; see its conventions. */
#ifndef HONE_SAFETENSORS_H
#define HONE_SAFETENSORS_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
