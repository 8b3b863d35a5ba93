/* llm.c: the common part of the chat backends (hone/llm.h): opening dispatches on the
 * kind to llm_local.c, llm_ollama.c or llm_openai.c, which fill the hone_llm's ops and
 * impl; hone_llm_chat clears the result, times the call (latency = the whole call,
 * retries and backoff included) and calls the backend. Also the in-flight semaphore that
 * every backend's request runs under, and small helpers the backends share. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/llm_internal.h"

double llm_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

int hone_llm_open(hone_llm **out, const hone_llm_opts *o, hone_err *err) {
    *out = NULL;
    if (!o) return hone_err_set(err, HONE_EARG, "llm: no options");
    if (o->kind != HONE_LLM_LOCAL && (!o->name || !*o->name))
        return hone_err_set(err, HONE_EARG, "llm: a server backend needs a model name");
    if (o->kind == HONE_LLM_LOCAL && (!o->path || !*o->path))
        return hone_err_set(err, HONE_EARG, "llm: the local backend needs a model path");
    if (o->concurrency < 0 || o->max_retries < 0 || o->timeout_s < 0 || o->num_ctx < 0)
        return hone_err_set(err, HONE_EARG, "llm: concurrency, max_retries, timeout_s and num_ctx must be >= 0");
    hone_llm *l = calloc(1, sizeof *l);
    if (!l) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    l->kind = o->kind;
    l->num_ctx = o->num_ctx;
    l->timeout_s = o->timeout_s > 0 ? o->timeout_s : 300;
    l->max_retries = o->max_retries > 0 ? o->max_retries : 4;
    l->concurrency = o->concurrency > 0 ? o->concurrency : 1;
    l->stream = o->stream;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->name = dup_or_null(o->name);
    l->api_key = dup_or_null(o->api_key);
    const char *url = o->url;
    if (!url && o->kind == HONE_LLM_OLLAMA) url = "http://127.0.0.1:11434";
    if (!url && o->kind == HONE_LLM_OPENAI) url = "http://127.0.0.1:8080/v1";
    l->url = dup_or_null(url);
    int rc;
    switch (o->kind) {
    case HONE_LLM_LOCAL: rc = llm_local_open(l, o, err); break;
    case HONE_LLM_OLLAMA: rc = llm_ollama_open(l, o, err); break;
    case HONE_LLM_OPENAI: rc = llm_openai_open(l, o, err); break;
    default: rc = hone_err_set(err, HONE_EARG, "llm: unknown backend kind %d", (int)o->kind);
    }
    if (rc) {
        hone_llm_close(l);
        return rc;
    }
    *out = l;
    return HONE_OK;
}

void hone_llm_close(hone_llm *l) {
    if (!l) return;
    if (l->ops && l->ops->close) l->ops->close(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l->identity);
    free(l->name);
    free(l->url);
    free(l->api_key);
    free(l);
}

const char *hone_llm_identity(const hone_llm *l) {
    return l->identity ? l->identity : "";
}

int hone_llm_chat(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    res->prompt_tokens = res->answer_tokens = -1;
    res->prompt_overflow = -1;
    if (!req || !req->msgs || !req->n_msgs) {
        strcpy(res->finish_reason, "error");
        return hone_err_set(err, HONE_EARG, "llm: a request needs at least one message");
    }
    double t0 = llm_now_s();
    int rc = l->ops->chat(l, req, res, err);
    res->latency_s = llm_now_s() - t0;
    if (rc) {
        free(res->text);
        res->text = NULL;
        strcpy(res->finish_reason, "error");
    }
    return rc;
}

void hone_llm_result_free(hone_llm_result *res) {
    if (!res) return;
    free(res->text);
    free(res->prompt_text);
    res->text = res->prompt_text = NULL;
}

/* ---- in-flight slots ------------------------------------------------------------------ */

void llm_slot_acquire(hone_llm *l) {
    pthread_mutex_lock(&l->mu);
    while (l->in_flight >= l->concurrency) pthread_cond_wait(&l->cv, &l->mu);
    l->in_flight++;
    if (l->in_flight > l->max_in_flight) l->max_in_flight = l->in_flight;
    pthread_mutex_unlock(&l->mu);
}

void llm_slot_release(hone_llm *l) {
    pthread_mutex_lock(&l->mu);
    l->in_flight--;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* ---- helpers ---------------------------------------------------------------------------- */

int llm_buf_add(llm_buf *b, const char *data, size_t len) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return HONE_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    if (len) memcpy(b->p + b->n, data, len);
    b->n += len;
    b->p[b->n] = 0;
    return HONE_OK;
}

int llm_lines_feed(llm_buf *line, size_t *offset, const char *data, size_t len,
                   int (*on_line)(void *u, char *p, size_t n, size_t at), void *u,
                   hone_err *err, const char *url) {
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t k = nl ? (size_t)(nl - data) : len;
        if (llm_buf_add(line, data, k)) {
            hone_err_set(err, HONE_ENOMEM, "%s: out of memory", url);
            return 1;
        }
        if (!nl) break;
        size_t at = *offset;
        *offset += line->n + 1;
        if (on_line(u, line->p, line->n, at)) return 1;
        line->n = 0;
        data += k + 1;
        len -= k + 1;
    }
    return 0;
}

void llm_buf_free(llm_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *llm_url_join(const char *base, const char *path) {
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    while (*path == '/') path++;
    size_t pl = strlen(path);
    char *u = malloc(bl + pl + 2);
    if (!u) return NULL;
    memcpy(u, base, bl);
    u[bl] = '/';
    memcpy(u + bl + 1, path, pl + 1);
    return u;
}

json_t *llm_messages_json(const hone_chat_msg *msgs, size_t n) {
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *role = msgs[i].role && !strcmp(msgs[i].role, "model") ? "assistant" : msgs[i].role;
        json_t *m = json_pack("{s:s, s:s}", "role", role ? role : "user", "content",
                              msgs[i].content ? msgs[i].content : "");
        if (!m || json_array_append_new(a, m)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

size_t llm_messages_codepoints(const hone_chat_msg *msgs, size_t n) {
    size_t cp = 0;
    for (size_t i = 0; i < n; i++)
        for (const unsigned char *p = (const unsigned char *)msgs[i].content; p && *p; p++)
            cp += (*p & 0xC0) != 0x80;
    return cp;
}

int llm_overflow_rule(int64_t prompt_count, int64_t num_ctx, size_t codepoints, size_t n_msgs) {
    if (prompt_count < 0) return -1;
    if (num_ctx > 0 && prompt_count >= num_ctx) return 1;
    return (uint64_t)prompt_count < (codepoints + 5) / 6 + n_msgs ? 1 : 0;
}
