/* llm_internal.h: what the chat backends (llm_local.c, llm_ollama.c, llm_openai.c) share
 * with the common part (llm.c) and the HTTP layer (llm_http.c). Not public: see hone/llm.h. */
#ifndef HONE_EVAL_LLM_INTERNAL_H
#define HONE_EVAL_LLM_INTERNAL_H

#include <pthread.h>

#include "hone.h"
#include "util/err.h"

typedef struct llm_ops {
    int (*chat)(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err);
    void (*close)(hone_llm *l);
} llm_ops;

struct hone_llm {
    hone_llm_kind kind;
    const llm_ops *ops;
    void *impl;
    char *identity;
    char *name, *url, *api_key; /* servers: copies of the options */
    int64_t num_ctx;
    double timeout_s;
    int max_retries, concurrency, stream;
    /* the in-flight limit: a counting semaphore on (mu, cv) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_flight, max_in_flight;
};

/* The in-flight slots: llm_slot_acquire blocks until fewer than `concurrency` requests
 * are in flight. max_in_flight records the most seen at once (tests read it). */
void llm_slot_acquire(hone_llm *l);
void llm_slot_release(hone_llm *l);

int llm_local_open(hone_llm *l, const hone_llm_opts *o, hone_err *err);
int llm_ollama_open(hone_llm *l, const hone_llm_opts *o, hone_err *err);
int llm_openai_open(hone_llm *l, const hone_llm_opts *o, hone_err *err);

/* The response parsers alone (fuzzing, tests): a body as the backend reads it, non-streaming
 * (the whole object) or streaming (JSON lines / SSE), in two pieces split at `split` as if
 * received in two reads. Fills res as hone_llm_chat would (text, token counts, finish
 * reason); an error leaves res->text NULL. */
int llm_ollama_parse(const char *data, size_t len, int stream, size_t split, hone_llm_result *res, hone_err *err);
int llm_openai_parse(const char *data, size_t len, int stream, size_t split, hone_llm_result *res, hone_err *err);

/* ---- HTTP (llm_http.c) ---------------------------------------------------------------- */

/* Receives the body as it arrives (streaming parsers); return non-zero to abort. */
typedef int (*llm_body_fn)(void *user, const char *data, size_t len);

typedef struct llm_http_resp {
    long status;          /* HTTP status, 0 when no response came */
    char *body;           /* the whole body, NUL-terminated (when no body_fn was given) */
    size_t body_len;
    double retry_after_s; /* the Retry-After header in seconds, -1 when absent */
    int curl_code;        /* CURLcode of the transfer */
    int transient;        /* a failure worth retrying: connection, timeout, cut, 429, 5xx */
} llm_http_resp;

/* One attempt: POST body (JSON) to url (GET when body is NULL). With body_fn the body is
 * passed on as it arrives and not kept. On a transport failure returns HONE_EIO with err
 * set (resp->transient tells whether to retry); an HTTP status >= 400 is returned as
 * HONE_EIO too, with the server's message in err. Thread-safe; one curl handle per call. */
int llm_http_request(hone_llm *l, const char *url, const char *body, double timeout_s,
                     llm_body_fn body_fn, void *user, llm_http_resp *resp, hone_err *err);
void llm_http_resp_free(llm_http_resp *r);

/* One HTTP exchange that a backend retries: it (re)starts the request from scratch each
 * attempt. Returns HONE_OK, or an error with `*transient` telling whether to retry and
 * `*retry_after_s` (-1 = none) the server's hint. */
typedef int (*llm_attempt_fn)(hone_llm *l, void *ctx, int *transient, double *retry_after_s,
                              long *http_status, hone_err *err);
/* Runs attempt_fn under an in-flight slot, with up to l->max_retries retries on transient
 * failures, backing off exponentially with jitter (the slot is released while waiting).
 * Fills res->attempts and res->http_status. */
int llm_with_retries(hone_llm *l, llm_attempt_fn fn, void *ctx, hone_llm_result *res, hone_err *err);

/* The backoff before retry number k (1-based): base * 2^(k-1), capped at 30 s, times a
 * jitter factor in [0.5, 1); or Retry-After (capped at 60 s) when the server gave one
 * and it is longer. base = 0.5 s, or $HONE_LLM_BACKOFF_S (tests). */
double llm_backoff_s(int k, double retry_after_s, uint64_t *rng);

/* Appends data to a growing buffer (NUL-terminated); HONE_ENOMEM on failure. */
typedef struct llm_buf {
    char *p;
    size_t n, cap;
} llm_buf;
int llm_buf_add(llm_buf *b, const char *data, size_t len);
void llm_buf_free(llm_buf *b);

/* Splits a streamed body into lines, whatever the chunking: appends data to `line`
 * and calls on_line(u, line, n, at) for each complete line (without its '\n'), at =
 * the line's byte offset in the body; *offset counts the bytes consumed. An
 * incomplete last line stays in `line` for the caller's end-of-body step. Returns 1
 * (stop the transfer) when on_line fails or memory runs out (err set, naming url). */
int llm_lines_feed(llm_buf *line, size_t *offset, const char *data, size_t len,
                   int (*on_line)(void *u, char *p, size_t n, size_t at), void *u,
                   hone_err *err, const char *url);

double llm_now_s(void);
/* base URL + path with exactly one '/' between them (malloc'd). */
char *llm_url_join(const char *base, const char *path);
/* The messages as a jansson array of {role, content} (new reference), NULL on ENOMEM. */
struct json_t;
struct json_t *llm_messages_json(const hone_chat_msg *msgs, size_t n);
/* Sum of the messages' code points (UTF-8 lead bytes): the overflow estimates' input. */
size_t llm_messages_codepoints(const hone_chat_msg *msgs, size_t n);

/* The servers' overflow rule, from the prompt token count the server reports (< 0:
 * unknown -> -1): 1 when it is >= num_ctx (a prompt truncated to the context fills it;
 * num_ctx 0 = unknown, not checked) or below the least the messages could take,
 * ceil(codepoints / 6) + n_msgs (no tokenizer hone knows averages more than ~5 characters
 * a token over prose, fewer over Cyrillic and CJK, and every chat template spends at
 * least one token per message on its markers), so fewer tokens means the server cut the
 * prompt; else 0. It catches the known trap (a long kernel silently cut to num_ctx), not
 * a cut of a few tokens. */
int llm_overflow_rule(int64_t prompt_count, int64_t num_ctx, size_t codepoints, size_t n_msgs);

/* ---- sha256 (llm_sha256.c) ----------------------------------------------------------- */
/* The SHA-256 of a file as 64 lowercase hex digits + NUL. */
int llm_sha256_file(const char *path, char hex[65], hone_err *err);
void llm_sha256(const void *data, size_t len, unsigned char out[32]);
/* llm_sha256_file through the digest cache (llm_sha256.c) for regular files. */
int llm_sha256_file_cached(const char *path, char hex[65], hone_err *err);

#endif
