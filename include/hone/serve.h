/* hone/serve.h: public API, the HTTP server (issue 9): OpenAI- and
 * Ollama-compatible endpoints over one loaded model and several LoRA adapters,
 * applied unmerged per request. Included by hone.h; see its conventions.
 *
 * Endpoints:
 *   GET  /health                 {"status":"ok"}
 *   GET  /v1/models              OpenAI model list: NAME and NAME+ADAPTER for each adapter
 *   POST /v1/chat/completions    OpenAI chat (stream: server-sent events, "data: [DONE]")
 *   POST /v1/completions         OpenAI text completion (prompt as given, no template)
 *   GET  /api/tags               Ollama model list
 *   POST /api/show               Ollama model details
 *   POST /api/chat               Ollama chat (stream, the default: JSON lines)
 *   POST /api/generate           Ollama generate (template unless "raw": true)
 * A request names NAME (the base) or NAME+ADAPTER. Sampling defaults are hone's
 * (llama.cpp's: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, no penalties,
 * a random seed) whatever the API; a request overrides them (OpenAI:
 * temperature, top_p, top_k, min_p, seed, stop, max_tokens /
 * max_completion_tokens, presence_penalty, frequency_penalty, repeat_penalty;
 * Ollama "options": num_ctx, num_predict, temperature, top_p, top_k, min_p, seed,
 * stop, repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty).
 * Greedy (temperature 0) answers equal `hone generate --temp 0` on the same
 * prompt and adapter. Errors are 4xx with a JSON body (OpenAI's
 * {"error":{"message","type","code"}} under /v1, Ollama's {"error": "..."}
 * under /api): malformed JSON or a wrong field type 400 (naming the field), an
 * unknown model 404, a missing or wrong bearer key 401, an unknown path 404, a
 * wrong method 405, a body over max_body 413, a prompt that does not fit the
 * context 400, a full queue 503.
 *
 * Threads: libmicrohttpd runs one thread per connection (at most max_conns);
 * those parse, queue a job and wait; one scheduler thread owns the engine: it
 * admits up to `parallel` jobs into sequence slots (one hone_session each),
 * evaluates each new prompt, then advances every active sequence by one token
 * per step with one hone_session_eval_multi call, each with its own sampler,
 * stop strings and adapter. A client that disconnects cancels its job at the
 * next step.
 */
#ifndef HONE_SERVE_H
#define HONE_SERVE_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_model hone_model;
typedef struct hone_tok hone_tok;
typedef struct hone_chat_template hone_chat_template;

typedef struct hone_serve_adapter {
    const char *name; /* requests name it as MODEL+NAME: [A-Za-z0-9._-]+ */
    const char *dir;  /* MLX or PEFT folder (hone_model_adapter_load) */
    float scale;      /* 0 = the adapter's own */
} hone_serve_adapter;

typedef struct hone_serve_opts {
    hone_model *model;                /* loaded by the caller, without an adapter */
    const hone_tok *tok;              /* its tokenizer */
    const hone_chat_template *tmpl;   /* chat template of chat requests (NULL: raw) */
    const char *name;                 /* the model's name in requests and lists */
    const int32_t *eot;               /* extra end-of-turn ids (the template's marker...) */
    size_t n_eot;
    const hone_serve_adapter *adapters;
    size_t n_adapters;
    const char *host;                 /* IPv4 address or "localhost"; NULL = 127.0.0.1 */
    uint16_t port;                    /* 0 = any free port (hone_server_port) */
    uint32_t parallel;                /* sequences decoded together; 0 = 4 */
    uint32_t n_ctx;                   /* context per sequence; 0 = min(model's, 4096) */
    int n_threads;                    /* engine threads; 0 = all cores */
    const char *api_key;              /* required as "Authorization: Bearer KEY"; NULL = none */
    size_t max_body;                  /* request body bytes; 0 = 1 MiB */
    uint32_t max_conns;               /* concurrent connections; 0 = 64 */
    uint32_t max_queue;               /* jobs waiting for a slot; 0 = 256 */
} hone_serve_opts;

typedef struct hone_server hone_server;

/* Loads the adapters, starts the scheduler and listens. The model, tokenizer and
 * template must outlive the server. */
int hone_server_start(hone_server **out, const hone_serve_opts *o, hone_err *err);
/* The port it listens on (the chosen one when opts.port was 0). */
uint16_t hone_server_port(const hone_server *s);
/* Stops listening, cancels running jobs, joins the threads, frees everything. */
void hone_server_stop(hone_server *s);

#ifdef __cplusplus
}
#endif
#endif
