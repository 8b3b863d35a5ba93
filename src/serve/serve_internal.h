/* serve_internal.h: what the server's files share (hone/serve.h).
 *
 *   request.c  JSON body -> serve_req (validation: 4xx status + message)
 *   sched.c    the scheduler thread: slots, prompt evaluation, batched decode,
 *              per-sequence sampling, stop strings, end tokens, cancellation
 *   reply.c    serve_req + produced text -> OpenAI / Ollama JSON (whole or chunks)
 *   server.c   libmicrohttpd: routing, auth, body limits, waiting, streaming
 *
 * A serve_job is shared by the connection thread that made it and the scheduler:
 * two references, the last one to drop it frees it; every field below `mu` is
 * read and written under it.
 */
#ifndef HONE_SERVE_INTERNAL_H
#define HONE_SERVE_INTERNAL_H

#include <pthread.h>

#include "hone.h"

typedef enum serve_api {
    API_OPENAI_CHAT,
    API_OPENAI_COMPLETION,
    API_OLLAMA_CHAT,
    API_OLLAMA_GENERATE,
} serve_api;

#define SERVE_MAX_STOP 16

typedef struct serve_req {
    serve_api api;
    int stream;
    int include_usage;          /* OpenAI stream_options.include_usage */
    char *model;                /* as the request named it */
    int adapter;                /* -1: the base; else the index of the adapter */
    int32_t *ids;               /* (n_ids) the prompt's tokens */
    size_t n_ids;
    hone_sampler_params sp;
    uint32_t max_tokens;        /* 0 = until the context is full */
    uint32_t n_ctx;             /* this request's context (<= the server's) */
    char *stops[SERVE_MAX_STOP];
    size_t n_stop;
    int empty;                  /* Ollama generate with no prompt: answer done at once */
} serve_req;

void serve_req_free(serve_req *r);

typedef struct serve_job {
    serve_req req;
    double t_recv;              /* when the request arrived (monotonic seconds) */
    struct serve_job *next;     /* the scheduler's queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int cancel;                 /* set by the connection: the client went away */
    char *text;                 /* produced and not yet taken by the connection */
    size_t len, cap;
    int done;                   /* no more text will come */
    int failed;                 /* done with an engine error (errmsg) */
    char errmsg[256];
    hone_finish finish;
    uint32_t n_prompt, n_gen;
    double t_prompt_s, t_gen_s;
} serve_job;

serve_job *serve_job_new(void);
void serve_job_unref(serve_job *j);

/* ---- request.c ---- */
typedef struct serve_ctx {
    hone_model *model;
    const hone_tok *tok;
    const hone_chat_template *tmpl;
    const char *name;
    const hone_serve_adapter *adapters;
    size_t n_adapters;
    uint32_t n_ctx;
} serve_ctx;

/* Parses a generation request of `api` from body. On failure returns an HTTP
 * status (400, 404) with msg filled; 0 on success. */
int serve_req_parse(const serve_ctx *c, serve_api api, const char *body, size_t len, serve_req *r, char *msg,
                    size_t msg_cap);
/* The adapter index a model name picks (-1 the base), or -2 when it names nothing served. */
int serve_model_lookup(const serve_ctx *c, const char *model);

/* ---- sched.c ---- */
typedef struct serve_sched serve_sched;
int serve_sched_start(serve_sched **out, const serve_ctx *c, const hone_serve_opts *o, hone_err *err);
/* Queues j (taking a reference); HONE_EARG when the queue is full. */
int serve_sched_submit(serve_sched *s, serve_job *j);
/* Ends the scheduler thread and finishes every job (failed: "the server is
 * stopping"); submissions are refused from then on. */
void serve_sched_shutdown(serve_sched *s);
/* Shuts down (if not yet) and frees. */
void serve_sched_stop(serve_sched *s);

/* ---- reply.c ---- */
typedef struct serve_reply {
    const serve_req *req;
    const char *name;           /* model name as requested */
    char id[48];                /* chatcmpl-... */
    long long created;          /* unix seconds */
} serve_reply;

/* Whole (non-streamed) answer; malloc'd JSON. */
char *serve_reply_full(const serve_reply *rp, const serve_job *snap, const char *text, size_t len, double t_total);
/* Streamed pieces appended to *out (a growing malloc'd buffer): the first chunk
 * (OpenAI chat: the assistant role), a text chunk, the final chunk(s). */
int serve_reply_chunk_first(const serve_reply *rp, char **out, size_t *len, size_t *cap);
int serve_reply_chunk_text(const serve_reply *rp, const char *text, size_t n, char **out, size_t *len, size_t *cap);
int serve_reply_chunk_final(const serve_reply *rp, const serve_job *snap, double t_total, char **out, size_t *len,
                            size_t *cap);
/* Error body of api's family (malloc'd). */
char *serve_reply_error(int openai, int status, const char *msg);
/* Copies text as valid UTF-8 (each invalid byte -> U+FFFD) into a malloc'd string. */
char *serve_utf8_clean(const char *s, size_t n, size_t *out_n);

double serve_now(void);

#endif
