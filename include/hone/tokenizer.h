/* hone/tokenizer.h: public API, tokenizers (SentencePiece-BPE, byte-level BPE) and chat templates.
 * Included by hone.h; see its conventions. */
#ifndef HONE_TOKENIZER_H
#define HONE_TOKENIZER_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
