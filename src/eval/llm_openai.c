/* llm_openai.c: the OpenAI-compatible backend (hone/llm.h, HONE_LLM_OPENAI): POST
 * URL/chat/completions (URL ends in /v1)
 *   {"model", "messages", "temperature", "top_p", "seed", "max_tokens" (when > 0),
 *    "stream": false|true, "stream_options": {"include_usage": true} (streaming)}
 * with "Authorization: Bearer KEY" when a key is given. Non-streaming: choices[0].message
 * .content (null reads as ""), choices[0].finish_reason, usage.prompt_tokens /
 * completion_tokens. Streaming: server-sent events, "data: {chunk}" lines (other SSE
 * fields and comments ignored), choices[0].delta.content pieces, a finish_reason in the
 * last choice chunk, usage in a final chunk, then "data: [DONE]". A stream that ends
 * before [DONE] and before any finish_reason was cut: a transient error (retried). An
 * {"error": ...} chunk or a chunk that is not JSON of this shape: a non-transient error.
 * Overflow: a 400 whose message mentions the context (llama.cpp's server refuses such
 * prompts) sets prompt_overflow = 1 on the error; on success, llm_overflow_rule over
 * usage.prompt_tokens (so a server that truncates silently is caught too); -1 without
 * usage. Identity: "openai:NAME@URL" (the API exposes no weights digest). */
#define _GNU_SOURCE /* strcasestr */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval/llm_internal.h"

typedef struct oai_ctx {
    const char *url;
    char *body;
    int stream;
    /* per attempt */
    llm_buf text, line;
    size_t offset;
    int done, got_finish, got_choice;
    int64_t prompt_tokens, completion_tokens;
    char finish[16];
    int overflow;
    hone_err *err;
} oai_ctx;

static void oai_reset(oai_ctx *c) {
    llm_buf_free(&c->text);
    llm_buf_free(&c->line);
    c->offset = 0;
    c->done = c->got_finish = c->got_choice = 0;
    c->prompt_tokens = c->completion_tokens = -1;
    c->finish[0] = 0;
}

static void take_usage(oai_ctx *c, json_t *o) {
    json_t *u = json_object_get(o, "usage");
    if (!json_is_object(u)) return;
    json_t *p = json_object_get(u, "prompt_tokens"), *n = json_object_get(u, "completion_tokens");
    if (json_is_integer(p)) c->prompt_tokens = json_integer_value(p);
    if (json_is_integer(n)) c->completion_tokens = json_integer_value(n);
}

/* One response object: the whole body (chunk = 0) or one SSE chunk at byte `at`. */
static int oai_take(oai_ctx *c, const char *txt, size_t len, size_t at, int chunk) {
    json_error_t je;
    json_t *o = json_loadb(txt, len, 0, &je);
    if (!o)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: malformed JSON: %s", c->url,
                            at + (je.position > 0 ? (size_t)je.position : 0), je.text);
    int rc = HONE_OK;
    json_t *e = json_object_get(o, "error");
    json_t *ch = json_object_get(o, "choices");
    if (!json_is_object(o)) {
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: expected a JSON object", c->url, at);
    } else if (e) {
        json_t *m = json_is_object(e) ? json_object_get(e, "message") : e;
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: server error: %.200s", c->url,
                          json_is_string(m) ? json_string_value(m) : "(no message)");
    } else if (!json_is_array(ch) || (!chunk && json_array_size(ch) == 0)) {
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: choices: expected an array%s", c->url, at,
                          chunk ? "" : " with one choice");
    } else {
        take_usage(c, o);
        json_t *c0 = json_array_get(ch, 0);
        if (c0) {
            c->got_choice = 1;
            json_t *msg = json_object_get(c0, chunk ? "delta" : "message");
            json_t *content = json_is_object(msg) ? json_object_get(msg, "content") : NULL;
            json_t *fr = json_object_get(c0, "finish_reason");
            if (!json_is_object(c0) || (!chunk && !json_is_object(msg)) ||
                (content && !json_is_string(content) && !json_is_null(content))) {
                rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: choices[0].%s.content: expected a string",
                                  c->url, at, chunk ? "delta" : "message");
            } else {
                if (json_is_string(content) &&
                    llm_buf_add(&c->text, json_string_value(content), json_string_length(content)))
                    rc = hone_err_set(c->err, HONE_ENOMEM, "%s: out of memory", c->url);
                if (json_is_string(fr)) {
                    snprintf(c->finish, sizeof c->finish, "%s", json_string_value(fr));
                    c->got_finish = 1;
                }
            }
        }
    }
    json_decref(o);
    return rc;
}

/* One SSE line (no newline): "data: ..." carries a chunk; others are ignored. */
static int oai_line(oai_ctx *c, char *p, size_t n, size_t at) {
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' ')) n--;
    if (n < 5 || strncmp(p, "data:", 5)) return HONE_OK;
    p += 5;
    n -= 5;
    at += 5;
    while (n && *p == ' ') p++, n--, at++;
    if (n == 6 && !strncmp(p, "[DONE]", 6)) {
        c->done = 1;
        return HONE_OK;
    }
    if (c->done) return hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: data after [DONE]", c->url, at);
    return oai_take(c, p, n, at, 1);
}

static int oai_line_cb(void *u, char *p, size_t n, size_t at) { return oai_line(u, p, n, at) != HONE_OK; }

static int oai_on_body(void *u, const char *data, size_t len) {
    oai_ctx *c = u;
    return llm_lines_feed(&c->line, &c->offset, data, len, oai_line_cb, c, c->err, c->url);
}

/* The end of the body: the whole object, or a stream's last line and the check that it
 * was not cut (neither [DONE] nor a finish_reason: transient). */
static int oai_end(oai_ctx *c, const char *body, size_t len, int *transient) {
    if (!c->stream) return oai_take(c, body, len, 0, 0);
    int rc = c->line.n ? oai_line(c, c->line.p, c->line.n, c->offset) : HONE_OK;
    if (!rc && !c->done && !c->got_finish) {
        *transient = 1;
        rc = hone_err_set(c->err, HONE_EIO, "%s: the stream ended before [DONE] (cut after %zu bytes)", c->url,
                          c->offset + c->line.n);
    }
    return rc;
}

static int oai_result(oai_ctx *c, hone_llm_result *res) {
    if (!c->text.p && llm_buf_add(&c->text, "", 0)) return hone_err_set(c->err, HONE_ENOMEM, "llm: out of memory");
    res->text = c->text.p;
    c->text.p = NULL;
    res->prompt_tokens = c->prompt_tokens;
    res->answer_tokens = c->completion_tokens;
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s", c->finish[0] ? c->finish : "stop");
    return HONE_OK;
}

static int oai_attempt(hone_llm *l, void *u, int *transient, double *ra, long *status, hone_err *err) {
    oai_ctx *c = u;
    oai_reset(c);
    c->err = err;
    llm_http_resp r;
    int rc = llm_http_request(l, c->url, c->body, l->timeout_s, c->stream ? oai_on_body : NULL, c, &r, err);
    *status = r.status;
    *ra = r.retry_after_s;
    *transient = r.transient;
    if (rc && r.status == 400 && r.body) {
        /* llama.cpp: "the request exceeds the available context size"; OpenAI:
         * "context_length_exceeded" / "maximum context length" */
        if (strcasestr(r.body, "context")) c->overflow = 1;
    }
    if (!rc) rc = oai_end(c, r.body, r.body_len, transient);
    llm_http_resp_free(&r);
    return rc;
}

int llm_openai_parse(const char *data, size_t len, int stream, size_t split, hone_llm_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    res->prompt_tokens = res->answer_tokens = -1;
    res->prompt_overflow = -1;
    oai_ctx c = {.url = "(response)", .stream = stream};
    oai_reset(&c);
    c.err = err;
    int transient = 0, rc = HONE_OK;
    if (stream) {
        if (split > len) split = len;
        if (oai_on_body(&c, data, split) || oai_on_body(&c, data + split, len - split))
            rc = err->code ? err->code : HONE_EFORMAT;
    }
    if (!rc) rc = oai_end(&c, data, len, &transient);
    if (!rc) rc = oai_result(&c, res);
    if (rc) strcpy(res->finish_reason, "error");
    oai_reset(&c);
    return rc;
}

static int openai_chat(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err) {
    json_t *msgs = llm_messages_json(req->msgs, req->n_msgs);
    json_t *b = msgs ? json_pack("{s:s, s:o, s:f, s:f, s:I, s:b}", "model", l->name, "messages", msgs, "temperature",
                                 req->temperature, "top_p", req->top_p > 0 ? req->top_p : 1.0, "seed",
                                 (json_int_t)(req->seed & 0x7fffffffffffffffull), "stream", l->stream)
                     : NULL;
    if (b && req->max_tokens > 0) json_object_set_new(b, "max_tokens", json_integer(req->max_tokens));
    if (b && l->stream) json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
    if (!b) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory building the request");
    oai_ctx c = {.stream = l->stream};
    c.body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    char *url = llm_url_join(l->url, "chat/completions");
    c.url = url;
    int rc = c.body && url ? llm_with_retries(l, oai_attempt, &c, res, err)
                           : hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    if (!rc) rc = oai_result(&c, res);
    if (!rc) {
        res->prompt_overflow = llm_overflow_rule(c.prompt_tokens, l->num_ctx,
                                                 llm_messages_codepoints(req->msgs, req->n_msgs), req->n_msgs);
    } else if (c.overflow) {
        res->prompt_overflow = 1;
    }
    oai_reset(&c);
    free(c.body);
    free(url);
    return rc;
}

static void openai_close(hone_llm *l) {
}

static const llm_ops OPENAI_OPS = {openai_chat, openai_close};

int llm_openai_open(hone_llm *l, const hone_llm_opts *o, hone_err *err) {
    l->ops = &OPENAI_OPS;
    if (!l->name || !l->url) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    size_t n = strlen(l->name) + strlen(l->url) + 16;
    if (!(l->identity = malloc(n))) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    snprintf(l->identity, n, "openai:%s@%s", l->name, l->url);
    return HONE_OK;
}
