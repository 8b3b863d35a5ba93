/* fuzz_llm_response.c: the chat backends' response parsers (src/eval/llm_ollama.c,
 * llm_openai.c) on arbitrary bytes, as a server could send them. Byte 0 picks the API
 * (bit 0: OpenAI, else Ollama) and the mode (bit 1: streaming: JSON lines / SSE); byte 1
 * is where the body splits into two reads (a line cut across reads). The rest is the body.
 * Whatever the bytes: no crash, no leak, and the result is consistent: success means an
 * answer text (possibly empty) and a finish reason other than "error"; failure means no
 * text, finish "error" and a one-line message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "eval/llm_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int openai = data[0] & 1, stream = (data[0] >> 1) & 1;
    size_t split = data[1];
    const char *body = (const char *)data + 2;
    size_t len = size - 2;
    hone_llm_result r;
    hone_err err = {0};
    int rc = openai ? llm_openai_parse(body, len, stream, split, &r, &err)
                    : llm_ollama_parse(body, len, stream, split, &r, &err);
    if (rc == HONE_OK) {
        if (!r.text || !strcmp(r.finish_reason, "error")) abort();
        if (strlen(r.text) > len) abort(); /* never more text than bytes received */
    } else {
        if (r.text || strcmp(r.finish_reason, "error") || !err.msg[0] || strchr(err.msg, '\n')) abort();
    }
    hone_llm_result_free(&r);
    return 0;
}
