/* llm_ollama.c: the Ollama backend (native /api/chat); see hone/llm.h. */
#include "eval/llm_internal.h"

int llm_ollama_open(hone_llm *l, const hone_llm_opts *o, hone_err *err) {
    return hone_err_set(err, HONE_EUNSUPPORTED, "llm: the ollama backend is not built yet");
}
