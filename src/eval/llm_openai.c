/* llm_openai.c: the OpenAI-compatible backend (/v1/chat/completions); see hone/llm.h. */
#include "eval/llm_internal.h"

int llm_openai_open(hone_llm *l, const hone_llm_opts *o, hone_err *err) {
    return hone_err_set(err, HONE_EUNSUPPORTED, "llm: the openai backend is not built yet");
}
