/* hone/llm.h: public API of the chat backends (issues 6, 8): one interface for
 * "send these chat messages, get an answer" over the in-process engine, an Ollama
 * server (native /api/chat) and an OpenAI-compatible server (/v1/chat/completions).
 * Included by hone.h; see its conventions.
 *
 * Used by `hone ab run` (answers), `hone ab judge` (judge calls) and `hone data
 * build` (generating training answers). HTTP goes through libcurl, with a
 * connect/total timeout, retries with exponential backoff on connection errors,
 * 429 and 5xx (honouring Retry-After), and a per-backend limit on requests in
 * flight. hone_llm_chat may be called from several threads at once on one
 * hone_llm: server backends keep up to `concurrency` requests in flight; the
 * local backend serialises on its engine (or runs one session per slot).
 * The rules of each backend (templates, finish reasons, token counts, the overflow test,
 * identities) are written at the top of src/eval/llm_local.c, llm_ollama.c, llm_openai.c;
 * retries and timeouts at the top of llm_http.c ($HONE_LLM_BACKOFF_S sets the backoff
 * base, 0.5 s by default).
 */
#ifndef HONE_LLM_H
#define HONE_LLM_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_chat_msg hone_chat_msg; /* hone/chat.h */
typedef struct hone_llm hone_llm;

typedef enum hone_llm_kind { HONE_LLM_LOCAL = 0, HONE_LLM_OLLAMA = 1, HONE_LLM_OPENAI = 2 } hone_llm_kind;

typedef struct hone_llm_opts {
    hone_llm_kind kind;
    const char *path;      /* local: model path (GGUF, HF folder, ollama:NAME) */
    const char *adapter;   /* local: adapter folder, or NULL */
    const char *name;      /* servers: the model name sent in requests */
    const char *url;       /* servers: base URL (ollama: http://127.0.0.1:11434; openai: .../v1) */
    const char *api_key;   /* openai: bearer token, or NULL */
    int64_t num_ctx;       /* context length asked for (ollama option / local session); 0 = default */
    double timeout_s;      /* per request, whole answer; 0 = 300 */
    int max_retries;       /* on connection errors / 429 / 5xx; default 0 means 4 */
    int concurrency;       /* requests in flight at most; 0 = 1 */
    int stream;            /* servers: use the streaming API (answers are still returned whole) */
} hone_llm_opts;

typedef struct hone_llm_request {
    const hone_chat_msg *msgs;
    size_t n_msgs;
    double temperature, top_p;
    int64_t max_tokens;
    uint64_t seed;
} hone_llm_request;

typedef struct hone_llm_result {
    char *text;             /* the answer, UTF-8, malloc'd (NULL on error) */
    char *prompt_text;      /* local only: the exact prompt after the chat template, else NULL */
    int64_t prompt_tokens;  /* -1 = unknown */
    int64_t answer_tokens;  /* -1 = unknown */
    char finish_reason[16]; /* "stop", "length" (cut off by max_tokens), or "error" */
    int prompt_overflow;    /* the prompt did not fit the context (local: by the tokenizer;
                               ollama: prompt_eval_count < the prompt's length), 0/1, -1 unknown */
    double latency_s;
    int attempts;           /* 1 + retries used */
    int http_status;        /* last HTTP status, 0 for local */
} hone_llm_result;

int hone_llm_open(hone_llm **out, const hone_llm_opts *opts, hone_err *err);
void hone_llm_close(hone_llm *l);
/* A stable identity of what answers: "sha256:..." of a local model file (plus its
 * adapter), or the server's digest for the model (ollama /api/show) or "NAME@URL". */
const char *hone_llm_identity(const hone_llm *l);

/* Sends one chat request. On success fills *res (free with hone_llm_result_free).
 * A failure after the retries returns an error code with err set, and res->finish_reason
 * = "error", res->http_status and res->attempts filled; nothing to free but the result. */
int hone_llm_chat(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err);
void hone_llm_result_free(hone_llm_result *res);

#ifdef __cplusplus
}
#endif
#endif
