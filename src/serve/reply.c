/* reply.c: answers in the shapes the OpenAI and Ollama clients parse.
 *
 * OpenAI (/v1): chat.completion / text_completion objects with choices[0] and
 * usage {prompt_tokens, completion_tokens, total_tokens}; streamed as
 * server-sent events "data: {chunk}\n\n" (chat.completion.chunk with a delta;
 * the first carries the role, the last finish_reason), usage in a last chunk
 * with no choices when stream_options.include_usage, then "data: [DONE]\n\n".
 * finish_reason: "stop" (end token or stop string), "length".
 * Ollama (/api): one JSON object per line, "done": false while text comes;
 * the last has "done": true, done_reason, and the durations in nanoseconds
 * (total_duration, load_duration 0: the model is always loaded,
 * prompt_eval_duration, eval_duration) with prompt_eval_count and eval_count.
 * Generated text may hold invalid UTF-8 (byte-fallback tokens): each invalid
 * byte becomes U+FFFD, since JSON strings must be UTF-8.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_internal.h"

char *serve_utf8_clean(const char *s, size_t n, size_t *out_n) {
    char *o = malloc(3 * n + 1);
    if (!o) return NULL;
    size_t k = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len && i + len <= n && c != 0;
        if (ok && len > 1) {
            uint32_t cp = c & (0x7F >> len);
            for (size_t j = 1; j < len && ok; j++) {
                if ((u[i + j] & 0xC0) != 0x80) ok = 0;
                cp = cp << 6 | (u[i + j] & 0x3F);
            }
            uint32_t minv[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (ok && (cp < minv[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = 0;
        }
        if (ok) {
            memcpy(o + k, s + i, len);
            k += len;
            i += len;
        } else { /* U+FFFD (a NUL byte too: jansson strings end there) */
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    o[k] = 0;
    *out_n = k;
    return o;
}

static json_t *jstr(const char *s, size_t n) {
    size_t m;
    char *c = serve_utf8_clean(s, n, &m);
    json_t *j = c ? json_stringn(c, m) : NULL;
    free(c);
    return j ? j : json_string("");
}

static int is_openai(serve_api a) { return a == API_OPENAI_CHAT || a == API_OPENAI_COMPLETION; }

static const char *finish_str(hone_finish f) { return f == HONE_FINISH_LENGTH ? "length" : "stop"; }

static void iso_time(char *buf, size_t n) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    struct tm tm;
    gmtime_r(&t.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%09ldZ", t.tv_nsec);
}

static json_t *usage_openai(const serve_job *snap) {
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)snap->n_prompt, "completion_tokens",
                     (json_int_t)snap->n_gen, "total_tokens", (json_int_t)(snap->n_prompt + snap->n_gen));
}

static void ollama_stats(json_t *o, const serve_job *snap, double t_total) {
    json_object_set_new(o, "done_reason", json_string(finish_str(snap->finish)));
    json_object_set_new(o, "total_duration", json_integer((json_int_t)(t_total * 1e9)));
    json_object_set_new(o, "load_duration", json_integer(0));
    json_object_set_new(o, "prompt_eval_count", json_integer(snap->n_prompt));
    json_object_set_new(o, "prompt_eval_duration", json_integer((json_int_t)(snap->t_prompt_s * 1e9)));
    json_object_set_new(o, "eval_count", json_integer(snap->n_gen));
    json_object_set_new(o, "eval_duration", json_integer((json_int_t)(snap->t_gen_s * 1e9)));
}

static json_t *openai_base(const serve_reply *rp, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", rp->id, "object", object, "created", (json_int_t)rp->created,
                     "model", rp->name);
}

static json_t *ollama_base(const serve_reply *rp) {
    char t[64];
    iso_time(t, sizeof t);
    return json_pack("{s:s, s:s}", "model", rp->name, "created_at", t);
}

/* Ollama's text field: message {role, content} (chat) or response (generate). */
static void ollama_text(json_t *o, serve_api api, const char *text, size_t n) {
    if (api == API_OLLAMA_CHAT)
        json_object_set_new(o, "message", json_pack("{s:s, s:o}", "role", "assistant", "content", jstr(text, n)));
    else
        json_object_set_new(o, "response", jstr(text, n));
}

char *serve_reply_full(const serve_reply *rp, const serve_job *snap, const char *text, size_t len, double t_total) {
    serve_api api = rp->req->api;
    json_t *o;
    if (is_openai(api)) {
        int chat = api == API_OPENAI_CHAT;
        o = openai_base(rp, chat ? "chat.completion" : "text_completion");
        json_t *ch = json_pack("{s:i, s:s, s:n}", "index", 0, "finish_reason", finish_str(snap->finish), "logprobs");
        if (chat)
            json_object_set_new(ch, "message", json_pack("{s:s, s:o}", "role", "assistant", "content", jstr(text, len)));
        else
            json_object_set_new(ch, "text", jstr(text, len));
        json_object_set_new(o, "choices", json_pack("[o]", ch));
        json_object_set_new(o, "usage", usage_openai(snap));
    } else {
        o = ollama_base(rp);
        ollama_text(o, api, text, len);
        json_object_set_new(o, "done", json_true());
        ollama_stats(o, snap, t_total);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int append(char **out, size_t *len, size_t *cap, const char *a, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n + 1) c *= 2;
        char *p = realloc(*out, c);
        if (!p) return HONE_ENOMEM;
        *out = p;
        *cap = c;
    }
    memcpy(*out + *len, a, n);
    *len += n;
    (*out)[*len] = 0;
    return HONE_OK;
}

/* Appends o as one event (OpenAI: "data: ...\n\n") or one line (Ollama). Consumes o. */
static int emit(const serve_reply *rp, json_t *o, char **out, size_t *len, size_t *cap) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return HONE_ENOMEM;
    int rc = HONE_OK, oa = is_openai(rp->req->api);
    if (oa) rc = append(out, len, cap, "data: ", 6);
    if (!rc) rc = append(out, len, cap, s, strlen(s));
    if (!rc) rc = append(out, len, cap, oa ? "\n\n" : "\n", oa ? 2 : 1);
    free(s);
    return rc;
}

int serve_reply_chunk_first(const serve_reply *rp, char **out, size_t *len, size_t *cap) {
    if (rp->req->api != API_OPENAI_CHAT) return HONE_OK;
    json_t *o = openai_base(rp, "chat.completion.chunk");
    json_object_set_new(o, "choices", json_pack("[{s:i, s:{s:s, s:s}, s:n}]", "index", 0, "delta", "role",
                                                "assistant", "content", "", "finish_reason"));
    return emit(rp, o, out, len, cap);
}

int serve_reply_chunk_text(const serve_reply *rp, const char *text, size_t n, char **out, size_t *len, size_t *cap) {
    serve_api api = rp->req->api;
    json_t *o;
    if (api == API_OPENAI_CHAT) {
        o = openai_base(rp, "chat.completion.chunk");
        json_object_set_new(o, "choices", json_pack("[{s:i, s:{s:o}, s:n}]", "index", 0, "delta", "content",
                                                    jstr(text, n), "finish_reason"));
    } else if (api == API_OPENAI_COMPLETION) {
        o = openai_base(rp, "text_completion");
        json_object_set_new(o, "choices",
                            json_pack("[{s:i, s:o, s:n, s:n}]", "index", 0, "text", jstr(text, n), "finish_reason", "logprobs"));
    } else {
        o = ollama_base(rp);
        ollama_text(o, api, text, n);
        json_object_set_new(o, "done", json_false());
    }
    return emit(rp, o, out, len, cap);
}

int serve_reply_chunk_final(const serve_reply *rp, const serve_job *snap, double t_total, char **out, size_t *len,
                            size_t *cap) {
    serve_api api = rp->req->api;
    int rc;
    if (snap->failed) {
        json_t *e = is_openai(api) ? json_pack("{s:{s:s, s:s}}", "error", "message", snap->errmsg, "type", "server_error")
                                   : json_pack("{s:s}", "error", snap->errmsg);
        if ((rc = emit(rp, e, out, len, cap))) return rc;
        return is_openai(api) ? append(out, len, cap, "data: [DONE]\n\n", 14) : HONE_OK;
    }
    if (is_openai(api)) {
        int chat = api == API_OPENAI_CHAT;
        json_t *o = openai_base(rp, chat ? "chat.completion.chunk" : "text_completion");
        json_t *ch = chat ? json_pack("{s:i, s:{}, s:s}", "index", 0, "delta", "finish_reason", finish_str(snap->finish))
                          : json_pack("{s:i, s:s, s:s, s:n}", "index", 0, "text", "", "finish_reason",
                                      finish_str(snap->finish), "logprobs");
        json_object_set_new(o, "choices", json_pack("[o]", ch));
        if ((rc = emit(rp, o, out, len, cap))) return rc;
        if (rp->req->include_usage) {
            o = openai_base(rp, chat ? "chat.completion.chunk" : "text_completion");
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage_openai(snap));
            if ((rc = emit(rp, o, out, len, cap))) return rc;
        }
        return append(out, len, cap, "data: [DONE]\n\n", 14);
    }
    json_t *o = ollama_base(rp);
    ollama_text(o, api, "", 0);
    json_object_set_new(o, "done", json_true());
    ollama_stats(o, snap, t_total);
    return emit(rp, o, out, len, cap);
}

char *serve_reply_error(int openai, int status, const char *msg) {
    json_t *o;
    if (openai) {
        const char *type = status == 401 ? "authentication_error"
                           : status == 404 ? "not_found_error"
                           : status >= 500 ? "server_error"
                                           : "invalid_request_error";
        o = json_pack("{s:{s:o, s:s, s:I}}", "error", "message", jstr(msg, strlen(msg)), "type", type, "code",
                      (json_int_t)status);
    } else {
        o = json_pack("{s:o}", "error", jstr(msg, strlen(msg)));
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}
