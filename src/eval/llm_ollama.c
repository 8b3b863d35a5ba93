/* llm_ollama.c: the Ollama backend (hone/llm.h, HONE_LLM_OLLAMA): POST URL/api/chat
 *   {"model", "messages": [{role, content}], "stream": false|true,
 *    "options": {"num_ctx" (when set), "num_predict" (max_tokens; -1 when 0),
 *                "temperature", "top_p", "seed"}}
 * Non-streaming: one JSON object; streaming: JSON lines, each {"message": {"content":
 * piece}, "done": false}, the last one "done": true with the counts. Read from the final
 * object: message.content (whole answer, or the pieces concatenated), done_reason ("stop"
 * / "length"; absent: "length" when eval_count reached num_predict, else "stop"),
 * prompt_eval_count -> prompt_tokens, eval_count -> answer_tokens. An {"error": ...}
 * object (in a line or as the body) is an error. A stream that ends without its
 * "done": true line was cut: a transient error (retried). A body or line that is not a
 * JSON object of this shape is a non-transient error naming the byte offset.
 * Overflow: Ollama silently truncates a prompt longer than num_ctx, and reports the
 * truncated length as prompt_eval_count, so llm_overflow_rule (llm_internal.h) flags it:
 * prompt_eval_count >= num_ctx, or fewer tokens than the messages could possibly take.
 * Identity: GET URL/api/tags, the entry named like the model (NAME or NAME:latest):
 * "ollama:NAME@sha256:<digest>"; "ollama:NAME@URL" when the server does not answer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/llm_internal.h"

typedef struct oll_ctx {
    const char *url; /* .../api/chat */
    char *body;
    int stream;
    int64_t num_predict;
    /* per attempt */
    llm_buf text, line;
    size_t offset;   /* bytes of the stream consumed (error positions) */
    int done;
    int64_t prompt_eval_count, eval_count;
    char done_reason[16];
    hone_err *err;
} oll_ctx;

static void oll_reset(oll_ctx *c) {
    llm_buf_free(&c->text);
    llm_buf_free(&c->line);
    c->offset = 0;
    c->done = 0;
    c->prompt_eval_count = c->eval_count = -1;
    c->done_reason[0] = 0;
}

/* Takes one response object (the whole body, or one stream line at byte `at`). */
static int oll_take(oll_ctx *c, const char *txt, size_t len, size_t at) {
    json_error_t je;
    json_t *o = json_loadb(txt, len, 0, &je);
    if (!o)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: malformed JSON: %s", c->url,
                            at + (je.position > 0 ? (size_t)je.position : 0), je.text);
    int rc = HONE_OK;
    json_t *e = json_object_get(o, "error");
    json_t *m = json_object_get(o, "message");
    json_t *content = json_is_object(m) ? json_object_get(m, "content") : NULL;
    if (!json_is_object(o)) {
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: expected a JSON object", c->url, at);
    } else if (e) {
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: server error: %.200s", c->url,
                          json_is_string(e) ? json_string_value(e) : "(not a string)");
    } else if ((m || !c->stream) && !json_is_string(content)) {
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: message.content: expected a string", c->url, at);
    } else {
        if (content && llm_buf_add(&c->text, json_string_value(content), json_string_length(content)))
            rc = hone_err_set(c->err, HONE_ENOMEM, "%s: out of memory", c->url);
        json_t *d = json_object_get(o, "done");
        if (json_is_true(d)) {
            c->done = 1;
            json_t *r = json_object_get(o, "done_reason");
            if (json_is_string(r)) snprintf(c->done_reason, sizeof c->done_reason, "%s", json_string_value(r));
            json_t *p = json_object_get(o, "prompt_eval_count"), *n = json_object_get(o, "eval_count");
            if (json_is_integer(p)) c->prompt_eval_count = json_integer_value(p);
            if (json_is_integer(n)) c->eval_count = json_integer_value(n);
        } else if (!c->stream) {
            rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response: expected \"done\": true in a non-streaming answer", c->url);
        } else if (!m) {
            rc = hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: a stream line without message or done", c->url, at);
        }
    }
    json_decref(o);
    return rc;
}

static int oll_line(oll_ctx *c, const char *p, size_t n, size_t at) {
    int blank = 1;
    for (size_t k = 0; k < n; k++) blank &= p[k] == ' ' || p[k] == '\r' || p[k] == '\t';
    if (blank) return HONE_OK;
    if (c->done) return hone_err_set(c->err, HONE_EFORMAT, "%s: response byte %zu: data after the done line", c->url, at);
    return oll_take(c, p, n, at);
}

static int oll_line_cb(void *u, char *p, size_t n, size_t at) { return oll_line(u, p, n, at) != HONE_OK; }

static int oll_on_body(void *u, const char *data, size_t len) {
    oll_ctx *c = u;
    return llm_lines_feed(&c->line, &c->offset, data, len, oll_line_cb, c, c->err, c->url);
}

/* The end of the body: the whole object (non-streaming), or a stream's last line without a
 * newline and the check that the done line came (else the stream was cut: transient). */
static int oll_end(oll_ctx *c, const char *body, size_t len, int *transient) {
    if (!c->stream) return oll_take(c, body, len, 0);
    int rc = c->line.n ? oll_line(c, c->line.p, c->line.n, c->offset) : HONE_OK;
    if (!rc && !c->done) {
        *transient = 1;
        rc = hone_err_set(c->err, HONE_EIO, "%s: the stream ended before its \"done\": true line (cut after %zu bytes)",
                          c->url, c->offset + c->line.n);
    }
    return rc;
}

/* Moves the parsed answer into res. */
static int oll_result(oll_ctx *c, int64_t max_tokens, hone_llm_result *res) {
    if (!c->text.p && llm_buf_add(&c->text, "", 0)) return hone_err_set(c->err, HONE_ENOMEM, "llm: out of memory");
    res->text = c->text.p;
    c->text.p = NULL;
    res->prompt_tokens = c->prompt_eval_count;
    res->answer_tokens = c->eval_count;
    const char *fr = c->done_reason[0] ? c->done_reason
                   : max_tokens > 0 && c->eval_count >= max_tokens ? "length" : "stop";
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s", fr);
    return HONE_OK;
}

static int oll_attempt(hone_llm *l, void *u, int *transient, double *ra, long *status, hone_err *err) {
    oll_ctx *c = u;
    oll_reset(c);
    c->err = err;
    llm_http_resp r;
    int rc = llm_http_request(l, c->url, c->body, l->timeout_s, c->stream ? oll_on_body : NULL, c, &r, err);
    *status = r.status;
    *ra = r.retry_after_s;
    *transient = r.transient;
    if (!rc) rc = oll_end(c, r.body, r.body_len, transient);
    llm_http_resp_free(&r);
    return rc;
}

int llm_ollama_parse(const char *data, size_t len, int stream, size_t split, hone_llm_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    res->prompt_tokens = res->answer_tokens = -1;
    res->prompt_overflow = -1;
    oll_ctx c = {.url = "(response)", .stream = stream};
    oll_reset(&c);
    c.err = err;
    int transient = 0, rc = HONE_OK;
    if (stream) {
        if (split > len) split = len;
        if (oll_on_body(&c, data, split) || oll_on_body(&c, data + split, len - split))
            rc = err->code ? err->code : HONE_EFORMAT;
    }
    if (!rc) rc = oll_end(&c, data, len, &transient);
    if (!rc) rc = oll_result(&c, 0, res);
    if (rc) strcpy(res->finish_reason, "error");
    oll_reset(&c);
    return rc;
}

static int ollama_chat(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err) {
    json_t *opt = json_pack("{s:I, s:f, s:f, s:I}", "num_predict", (json_int_t)(req->max_tokens > 0 ? req->max_tokens : -1),
                            "temperature", req->temperature, "top_p", req->top_p > 0 ? req->top_p : 1.0,
                            "seed", (json_int_t)(req->seed & 0x7fffffffffffffffull));
    if (opt && l->num_ctx > 0) json_object_set_new(opt, "num_ctx", json_integer(l->num_ctx));
    json_t *msgs = llm_messages_json(req->msgs, req->n_msgs);
    json_t *b = opt && msgs ? json_pack("{s:s, s:o, s:b, s:o}", "model", l->name, "messages", msgs, "stream",
                                        l->stream, "options", opt)
                            : NULL;
    if (!b) {
        json_decref(opt);
        json_decref(msgs);
        return hone_err_set(err, HONE_ENOMEM, "llm: out of memory building the request");
    }
    oll_ctx c = {.stream = l->stream, .num_predict = req->max_tokens};
    c.body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    char *url = llm_url_join(l->url, "api/chat");
    c.url = url;
    int rc = c.body && url ? llm_with_retries(l, oll_attempt, &c, res, err)
                           : hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    if (!rc) rc = oll_result(&c, req->max_tokens, res);
    if (!rc)
        res->prompt_overflow = llm_overflow_rule(c.prompt_eval_count, l->num_ctx,
                                                 llm_messages_codepoints(req->msgs, req->n_msgs), req->n_msgs);
    oll_reset(&c);
    free(c.body);
    free(url);
    return rc;
}

static void ollama_close(hone_llm *l) {
}

static const llm_ops OLLAMA_OPS = {ollama_chat, ollama_close};

/* The model's digest from /api/tags, or NULL. */
static char *ollama_digest(hone_llm *l) {
    char *url = llm_url_join(l->url, "api/tags");
    if (!url) return NULL;
    llm_http_resp r;
    hone_err e = {0};
    char *out = NULL;
    double to = l->timeout_s < 5 ? l->timeout_s : 5;
    if (!llm_http_request(l, url, NULL, to, NULL, NULL, &r, &e)) {
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        json_t *ms = json_object_get(j, "models");
        size_t nl = strlen(l->name);
        for (size_t i = 0; i < json_array_size(ms) && !out; i++) {
            json_t *m = json_array_get(ms, i);
            const char *nm = json_string_value(json_object_get(m, "name"));
            if (!nm) nm = json_string_value(json_object_get(m, "model"));
            const char *dg = json_string_value(json_object_get(m, "digest"));
            if (!nm || !dg || !*dg) continue; /* hone serve reports an empty digest */
            int same = !strcmp(nm, l->name) ||
                       (!strchr(l->name, ':') && !strncmp(nm, l->name, nl) && !strcmp(nm + nl, ":latest"));
            if (same) out = strdup(dg);
        }
        json_decref(j);
    }
    llm_http_resp_free(&r);
    free(url);
    return out;
}

int llm_ollama_open(hone_llm *l, const hone_llm_opts *o, hone_err *err) {
    l->ops = &OLLAMA_OPS;
    if (!l->name || !l->url) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    char *dg = ollama_digest(l);
    size_t n = strlen(l->name) + strlen(l->url) + (dg ? strlen(dg) : 0) + 32;
    if ((l->identity = malloc(n))) {
        if (dg) snprintf(l->identity, n, "ollama:%s@%s%s", l->name, strncmp(dg, "sha256:", 7) ? "sha256:" : "", dg);
        else snprintf(l->identity, n, "ollama:%s@%s", l->name, l->url);
    }
    free(dg);
    return l->identity ? HONE_OK : hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
}
