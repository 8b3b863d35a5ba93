/* fuzz_serve_req.c: libFuzzer target for the server's request parsing and reply
 * formatting (src/serve/request.c, reply.c), without sockets or a model: a
 * vocabulary from llama.cpp's test files (gpt-2, in $HONE_TESTDATA/tokenizer or
 * ../shared/testdata/tokenizer; absent: every input is a no-op) and the
 * chatml-plain template. Byte 0 picks the endpoint (OpenAI chat / completion,
 * Ollama chat / generate), the rest is the request body (any bytes).
 * Checked: no crash or sanitizer report; the status is 0, 400, 404 or 500 with a
 * message; an accepted request has ids in the vocabulary, fewer than n_ctx of
 * them, sampling parameters the sampler accepts; every reply (whole, chunks,
 * final, error) built from it with the body bytes as the generated text is
 * valid JSON (the text made valid UTF-8). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

static hone_gguf *g_gguf;
static hone_tok *g_tok;
static hone_chat_template *g_tmpl;
static const hone_serve_adapter ADS[2] = {{"a", "/nonexistent", 0}, {"b-2", "/nonexistent", 0}};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *e = getenv("HONE_TESTDATA");
    char p[4096];
    snprintf(p, sizeof p, "%s/tokenizer/ggml-vocab-gpt-2.gguf", e ? e : "../shared/testdata");
    hone_err err = {0};
    if (hone_gguf_open(&g_gguf, p, &err) != HONE_OK) return 0;
    if (hone_tok_load_gguf(&g_tok, g_gguf, &err) != HONE_OK || hone_chat_template_open(&g_tmpl, "chatml-plain", &err)) {
        fprintf(stderr, "fuzz_serve_req: %s\n", err.msg);
        abort();
    }
    return 0;
}

static void check_json(const char *s, size_t n, int sse) {
    /* one JSON value per line / per "data: " event; "[DONE]" ends SSE */
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line = nl ? (size_t)(nl - p) : (size_t)(end - p), len = line;
        if (len) {
            const char *v = p;
            if (sse) {
                if (len < 6 || memcmp(v, "data: ", 6)) {
                    fprintf(stderr, "bad SSE line: %.*s\n", (int)len, v);
                    abort();
                }
                v += 6;
                len -= 6;
            }
            if (!(sse && len == 6 && !memcmp(v, "[DONE]", 6))) {
                json_t *j = json_loadb(v, len, 0, NULL);
                if (!j) abort();
                json_decref(j);
            }
        }
        p += line + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_tok || size < 1) return 0;
    serve_ctx c = {.tok = g_tok, .tmpl = g_tmpl, .name = "m", .adapters = ADS, .n_adapters = 2, .n_ctx = 256};
    serve_api api = (serve_api)(data[0] % 4);
    const char *body = (const char *)data + 1;
    size_t n = size - 1;
    serve_req r;
    char msg[1200];
    int st = serve_req_parse(&c, api, body, n, &r, msg, sizeof msg);
    if (st) {
        if ((st != 400 && st != 404 && st != 500) || !msg[0]) abort();
        char *e = serve_reply_error(api <= API_OPENAI_COMPLETION, st, msg);
        if (!e) abort();
        check_json(e, strlen(e), 0);
        free(e);
        return 0;
    }
    if (!r.empty && (r.n_ids == 0 || r.n_ids >= r.n_ctx)) abort();
    if (r.n_ctx > c.n_ctx || r.adapter < -1 || r.adapter >= 2) abort();
    for (size_t i = 0; i < r.n_ids; i++)
        if (r.ids[i] < 0 || r.ids[i] >= hone_tok_n_vocab(g_tok)) abort();
    hone_err err = {0};
    hone_sampler *smp;
    if (hone_sampler_init(&smp, &r.sp, 8, &err)) abort();
    hone_sampler_free(smp);
    serve_reply rp = {.req = &r, .name = r.model, .id = "x-1", .created = 1};
    serve_job snap;
    memset(&snap, 0, sizeof snap);
    snap.finish = (hone_finish)(size % 5);
    snap.failed = (int)(size & 8) >> 3;
    snprintf(snap.errmsg, sizeof snap.errmsg, "engine error");
    char *full = serve_reply_full(&rp, &snap, body, n, 0.5);
    if (!full) abort();
    check_json(full, strlen(full), 0);
    free(full);
    char *out = NULL;
    size_t len = 0, cap = 0;
    int sse = api <= API_OPENAI_COMPLETION;
    if (serve_reply_chunk_first(&rp, &out, &len, &cap) || serve_reply_chunk_text(&rp, body, n, &out, &len, &cap) ||
        serve_reply_chunk_final(&rp, &snap, 0.5, &out, &len, &cap))
        abort();
    if (out) check_json(out, len, sse);
    free(out);
    serve_req_free(&r);
    return 0;
}
