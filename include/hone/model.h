/* hone/model.h: public API, model description (architecture, shapes, rope, windows) from GGUF metadata or HF config.json; ollama: names.
 * Included by hone.h; see its conventions. */
#ifndef HONE_MODEL_H
#define HONE_MODEL_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
