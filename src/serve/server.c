/* server.c: the HTTP side of hone/serve.h, on libmicrohttpd (one thread per
 * connection, at most max_conns, idle connections closed after 60 s).
 *
 * Per request: the body is collected up to max_body (a Content-Length above it
 * is answered 413 before the body is read; a chunked body that grows past it
 * is discarded and answered 413), the bearer key checked (every path but
 * /health), then routed. A generating request is parsed (request.c), queued
 * (sched.c) and waited for: whole, or streamed through a content-reader
 * callback that blocks until the scheduler produced text. While waiting, the
 * connection's socket is polled every 200 ms for the peer's hang-up (POLLRDHUP):
 * a client that went away cancels its job, so the slot frees at the next step.
 */
#define _GNU_SOURCE /* POLLRDHUP */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/serve_internal.h"
#include "util/err.h"

struct hone_server {
    struct MHD_Daemon *d;
    serve_ctx c;
    serve_sched *sched;
    char *name;
    hone_serve_adapter *adapters; /* (n_adapters) copies */
    char *api_key;
    size_t max_body;
    uint16_t port;
    long long started;            /* unix seconds */
    unsigned long long next_id;   /* atomic */
};

typedef struct conn {
    hone_server *srv;
    char *body;                   /* (len) the request body so far */
    size_t len, cap;
    int too_big;
    serve_job *job;
    serve_reply rp;
    char *out;                    /* formatted stream bytes (out_len), sent up to out_off */
    size_t out_len, out_cap, out_off;
    int first_sent, final_sent;
    int fd;
} conn;

/* ---- responses ------------------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *mc, unsigned status, const char *type, const char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ok = MHD_queue_response(mc, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *mc, unsigned status, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return MHD_NO;
    enum MHD_Result ok = send_text(mc, status, "application/json", s);
    free(s);
    return ok;
}

static int is_v1(const char *url) { return !strncmp(url, "/v1/", 4); }

static enum MHD_Result send_error(struct MHD_Connection *mc, const char *url, unsigned status, const char *msg) {
    char *s = serve_reply_error(is_v1(url), (int)status, msg);
    if (!s) return MHD_NO;
    enum MHD_Result ok = send_text(mc, status, "application/json", s);
    free(s);
    return ok;
}

/* ---- waiting for the scheduler --------------------------------------------------------- */

static int peer_gone(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Waits until the job is done (need_done) or has text; -1 when the client went
 * away first (the job is then cancelled). */
static int wait_job(conn *c, int need_done) {
    serve_job *j = c->job;
    pthread_mutex_lock(&j->mu);
    while (!j->done && (need_done || !j->len)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (!j->done && (need_done || !j->len) && peer_gone(c->fd)) {
            j->cancel = 1;
            pthread_mutex_unlock(&j->mu);
            return -1;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

/* Takes the job's pending text (the caller frees it) and a copy of its counters. */
static char *take(serve_job *j, size_t *n, serve_job *snap, int *done) {
    pthread_mutex_lock(&j->mu);
    char *t = j->text;
    *n = j->len;
    j->text = NULL;
    j->len = j->cap = 0;
    *done = j->done;
    memset(snap, 0, sizeof *snap);
    snap->finish = j->finish;
    snap->failed = j->failed;
    memcpy(snap->errmsg, j->errmsg, sizeof snap->errmsg);
    snap->n_prompt = j->n_prompt;
    snap->n_gen = j->n_gen;
    snap->t_prompt_s = j->t_prompt_s;
    snap->t_gen_s = j->t_gen_s;
    pthread_mutex_unlock(&j->mu);
    return t;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    conn *c = cls;
    (void)pos;
    while (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->final_sent) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!c->first_sent) {
            c->first_sent = 1;
            if (serve_reply_chunk_first(&c->rp, &c->out, &c->out_len, &c->out_cap))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        if (wait_job(c, 0)) return MHD_CONTENT_READER_END_WITH_ERROR;
        size_t n;
        int done;
        serve_job snap;
        char *t = take(c->job, &n, &snap, &done);
        int rc = n ? serve_reply_chunk_text(&c->rp, t, n, &c->out, &c->out_len, &c->out_cap) : 0;
        free(t);
        if (!rc && done) {
            rc = serve_reply_chunk_final(&c->rp, &snap, serve_now() - c->job->t_recv, &c->out, &c->out_len,
                                         &c->out_cap);
            c->final_sent = 1;
        }
        if (rc) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t k = c->out_len - c->out_off < max ? c->out_len - c->out_off : max;
    memcpy(buf, c->out + c->out_off, k);
    c->out_off += k;
    return (ssize_t)k;
}

/* ---- endpoints ------------------------------------------------------------------------- */

static enum MHD_Result handle_gen(hone_server *S, conn *c, struct MHD_Connection *mc, const char *url, serve_api api) {
    serve_job *j = serve_job_new();
    if (!j) return send_error(mc, url, 500, "out of memory");
    char msg[1200];
    int st = serve_req_parse(&S->c, api, c->body ? c->body : "", c->len, &j->req, msg, sizeof msg);
    if (st) {
        serve_job_unref(j);
        return send_error(mc, url, (unsigned)st, msg);
    }
    if (serve_sched_submit(S->sched, j)) {
        serve_job_unref(j);
        return send_error(mc, url, 503, "the server is busy (its queue is full) or stopping; try again later");
    }
    c->job = j;
    c->rp.req = &j->req;
    c->rp.name = j->req.model;
    c->rp.created = (long long)time(NULL);
    snprintf(c->rp.id, sizeof c->rp.id, "%s-%llu", api == API_OPENAI_CHAT ? "chatcmpl" : "cmpl",
             __atomic_add_fetch(&S->next_id, 1, __ATOMIC_RELAXED));
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    int openai = api == API_OPENAI_CHAT || api == API_OPENAI_COMPLETION;
    if (j->req.stream) {
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, c, NULL);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, openai ? "text/event-stream" : "application/x-ndjson");
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result ok = MHD_queue_response(mc, 200, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (wait_job(c, 1)) return MHD_NO; /* the client is gone: close */
    size_t n;
    int done;
    serve_job snap;
    char *t = take(j, &n, &snap, &done);
    if (snap.failed) {
        free(t);
        return send_error(mc, url, 500, snap.errmsg);
    }
    char *body = serve_reply_full(&c->rp, &snap, t ? t : "", n, serve_now() - j->t_recv);
    free(t);
    if (!body) return send_error(mc, url, 500, "out of memory");
    enum MHD_Result ok = send_text(mc, 200, "application/json", body);
    free(body);
    return ok;
}

static json_t *details(const hone_server *S) {
    const hone_model_desc *d = hone_model_get_desc(S->c.model);
    char ps[32];
    double p = (double)d->n_params;
    if (p >= 1e9) snprintf(ps, sizeof ps, "%.1fB", p / 1e9);
    else snprintf(ps, sizeof ps, "%.0fM", p / 1e6);
    const char *arch = hone_arch_name(d->arch);
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s}", "parent_model", "", "format", "gguf", "family", arch,
                     "families", arch, "parameter_size", ps, "quantization_level", "");
}

static void iso(long long t, char *buf, size_t n) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum MHD_Result handle_list(hone_server *S, struct MHD_Connection *mc, int openai) {
    json_t *arr = json_array();
    char when[64];
    iso(S->started, when, sizeof when);
    for (size_t i = 0; i <= S->c.n_adapters; i++) {
        char name[512];
        if (i == 0) snprintf(name, sizeof name, "%s", S->name);
        else snprintf(name, sizeof name, "%s+%s", S->name, S->adapters[i - 1].name);
        json_t *m = openai ? json_pack("{s:s, s:s, s:I, s:s}", "id", name, "object", "model", "created",
                                       (json_int_t)S->started, "owned_by", "hone")
                           : json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "name", name, "model", name, "modified_at",
                                       when, "size", (json_int_t)0, "digest", "", "details", details(S));
        json_array_append_new(arr, m);
    }
    return send_json(mc, 200, openai ? json_pack("{s:s, s:o}", "object", "list", "data", arr)
                                     : json_pack("{s:o}", "models", arr));
}

static enum MHD_Result handle_show(hone_server *S, conn *c, struct MHD_Connection *mc, const char *url) {
    json_error_t je;
    json_t *root = json_loadb(c->body ? c->body : "", c->len, 0, &je);
    if (!json_is_object(root)) {
        char msg[300];
        snprintf(msg, sizeof msg, "malformed JSON at byte %d: %s", je.position, root ? "expected an object" : je.text);
        json_decref(root);
        return send_error(mc, url, 400, msg);
    }
    json_t *m = json_object_get(root, "model");
    if (!m) m = json_object_get(root, "name");
    if (!json_is_string(m)) {
        json_decref(root);
        return send_error(mc, url, 400, "model: expected a string");
    }
    if (serve_model_lookup(&S->c, json_string_value(m)) == -2) {
        char msg[600];
        snprintf(msg, sizeof msg, "model '%.400s' not found", json_string_value(m));
        json_decref(root);
        return send_error(mc, url, 404, msg);
    }
    json_decref(root);
    const hone_model_desc *d = hone_model_get_desc(S->c.model);
    const char *arch = hone_arch_name(d->arch);
    json_t *info = json_object();
    char k[128];
    json_object_set_new(info, "general.architecture", json_string(arch));
    json_object_set_new(info, "general.parameter_count", json_integer((json_int_t)d->n_params));
#define KI(key, v)                                                    \
    snprintf(k, sizeof k, "%s." key, arch);                           \
    json_object_set_new(info, k, json_integer((json_int_t)(v)))
    KI("context_length", d->context);
    KI("embedding_length", d->hidden);
    KI("block_count", d->n_layers);
    KI("feed_forward_length", d->ffn_hidden);
    KI("attention.head_count", d->n_heads);
    KI("attention.head_count_kv", d->n_kv_heads);
    KI("vocab_size", d->vocab);
#undef KI
    char when[64];
    iso(S->started, when, sizeof when);
    const char *tn = S->c.tmpl ? hone_chat_template_name(S->c.tmpl) : "raw";
    return send_json(mc, 200,
                     json_pack("{s:s, s:s, s:s, s:o, s:o, s:[s], s:s}", "modelfile", "", "parameters", "",
                               "template", tn, "details", details(S), "model_info", info, "capabilities",
                               "completion", "modified_at", when));
}

static int auth_ok(const hone_server *S, struct MHD_Connection *mc) {
    if (!S->api_key) return 1;
    const char *h = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7)) return 0;
    h += 7;
    size_t a = strlen(h), b = strlen(S->api_key);
    unsigned diff = (unsigned)(a != b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned)(unsigned char)(i < a ? h[i] : 0) ^ (unsigned char)S->api_key[i];
    return diff == 0;
}

typedef struct route {
    const char *method, *path;
    int kind; /* <0: special; else serve_api */
} route;

enum { R_HEALTH = -1, R_MODELS = -2, R_TAGS = -3, R_SHOW = -4, R_ROOT = -5, R_VERSION = -6 };

static const route ROUTES[] = {
    {"GET", "/health", R_HEALTH},
    {"GET", "/", R_ROOT},
    {"GET", "/v1/models", R_MODELS},
    {"POST", "/v1/chat/completions", API_OPENAI_CHAT},
    {"POST", "/v1/completions", API_OPENAI_COMPLETION},
    {"GET", "/api/tags", R_TAGS},
    {"GET", "/api/version", R_VERSION},
    {"POST", "/api/show", R_SHOW},
    {"POST", "/api/chat", API_OLLAMA_CHAT},
    {"POST", "/api/generate", API_OLLAMA_GENERATE},
};

static enum MHD_Result dispatch(hone_server *S, conn *c, struct MHD_Connection *mc, const char *url,
                                const char *method) {
    const route *r = NULL;
    int path_known = 0;
    int head = !strcmp(method, "HEAD");
    for (size_t i = 0; i < sizeof ROUTES / sizeof *ROUTES; i++)
        if (!strcmp(url, ROUTES[i].path)) {
            path_known = 1;
            if (!strcmp(method, ROUTES[i].method) || (head && !strcmp(ROUTES[i].method, "GET"))) r = &ROUTES[i];
        }
    if (!path_known) {
        char msg[300];
        snprintf(msg, sizeof msg, "no such endpoint: %.200s", url);
        return send_error(mc, url, 404, msg);
    }
    if (!r) return send_error(mc, url, 405, "method not allowed for this endpoint");
    if (r->kind != R_HEALTH && r->kind != R_ROOT && !auth_ok(S, mc))
        return send_error(mc, url, 401, "missing or wrong API key (Authorization: Bearer KEY)");
    if (c->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", S->max_body);
        return send_error(mc, url, 413, msg);
    }
    switch (r->kind) {
    case R_HEALTH: return send_json(mc, 200, json_pack("{s:s}", "status", "ok"));
    case R_ROOT: return send_text(mc, 200, "text/plain", "hone is running");
    case R_VERSION: return send_json(mc, 200, json_pack("{s:s}", "version", "0.1.0"));
    case R_MODELS: return handle_list(S, mc, 1);
    case R_TAGS: return handle_list(S, mc, 0);
    case R_SHOW: return handle_show(S, c, mc, url);
    default: return handle_gen(S, c, mc, url, (serve_api)r->kind);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    hone_server *S = cls;
    conn *c = *con_cls;
    (void)version;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return MHD_NO;
        c->srv = S;
        c->fd = -1;
        *con_cls = c;
        const char *cl = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > S->max_body) {
            c->too_big = 1;
            return dispatch(S, c, mc, url, method); /* answered before the body is read */
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!c->too_big && c->len + *upload_size > S->max_body) {
            c->too_big = 1;
            free(c->body);
            c->body = NULL;
            c->len = c->cap = 0;
        }
        if (!c->too_big) {
            if (c->len + *upload_size + 1 > c->cap) {
                size_t cap = c->cap ? c->cap : 4096;
                while (cap < c->len + *upload_size + 1) cap *= 2;
                char *p = realloc(c->body, cap);
                if (!p) return MHD_NO;
                c->body = p;
                c->cap = cap;
            }
            memcpy(c->body + c->len, upload, *upload_size);
            c->len += *upload_size;
            c->body[c->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(S, c, mc, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn *c = *con_cls;
    (void)cls, (void)mc, (void)toe;
    if (!c) return;
    if (c->job) {
        pthread_mutex_lock(&c->job->mu);
        if (!c->job->done) c->job->cancel = 1;
        pthread_mutex_unlock(&c->job->mu);
        serve_job_unref(c->job);
    }
    free(c->body);
    free(c->out);
    free(c);
    *con_cls = NULL;
}

/* ---- start / stop ---------------------------------------------------------------------- */

static int name_ok(const char *s) {
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

int hone_server_start(hone_server **out, const hone_serve_opts *o, hone_err *err) {
    *out = NULL;
    if (!o->model || !o->tok || !o->name || !*o->name)
        return hone_err_set(err, HONE_EARG, "serve: a model, its tokenizer and a name are needed");
    for (size_t i = 0; i < o->n_adapters; i++) {
        if (!name_ok(o->adapters[i].name))
            return hone_err_set(err, HONE_EARG, "serve: adapter name '%s': expected letters, digits, '.', '_' or '-'",
                                o->adapters[i].name ? o->adapters[i].name : "");
        for (size_t k = 0; k < i; k++)
            if (!strcmp(o->adapters[i].name, o->adapters[k].name))
                return hone_err_set(err, HONE_EARG, "serve: adapter name '%s' given twice", o->adapters[i].name);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(o->port)};
    const char *host = o->host ? o->host : "127.0.0.1";
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return hone_err_set(err, HONE_EARG, "serve: host '%s': expected an IPv4 address (e.g. 127.0.0.1)", host);
    hone_server *S = calloc(1, sizeof *S);
    if (!S) return hone_err_set(err, HONE_ENOMEM, "serve: out of memory");
    int rc = HONE_ENOMEM;
    S->name = strdup(o->name);
    S->adapters = calloc(o->n_adapters ? o->n_adapters : 1, sizeof *S->adapters);
    S->api_key = o->api_key ? strdup(o->api_key) : NULL;
    if (!S->name || !S->adapters || (o->api_key && !S->api_key)) goto fail;
    S->c.n_adapters = o->n_adapters; /* for hone_server_stop on failure */
    for (size_t i = 0; i < o->n_adapters; i++) {
        S->adapters[i].scale = o->adapters[i].scale;
        if (!(S->adapters[i].name = strdup(o->adapters[i].name)) || !(S->adapters[i].dir = strdup(o->adapters[i].dir)))
            goto fail;
    }
    S->max_body = o->max_body ? o->max_body : (size_t)1 << 20;
    S->started = (long long)time(NULL);
    const hone_model_desc *d = hone_model_get_desc(o->model);
    uint32_t n_ctx = o->n_ctx;
    if (!n_ctx) n_ctx = d->context && d->context < 4096 ? d->context : 4096;
    S->c = (serve_ctx){.model = o->model, .tok = o->tok, .tmpl = o->tmpl, .name = S->name,
                       .adapters = S->adapters, .n_adapters = o->n_adapters, .n_ctx = n_ctx};
    if ((rc = serve_sched_start(&S->sched, &S->c, o, err))) goto fail_msg;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC;
    S->d = MHD_start_daemon(flags, o->port, NULL, NULL, on_request, S, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)(o->max_conns ? o->max_conns : 64),
                            MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, S,
                            MHD_OPTION_END);
    if (!S->d) {
        rc = hone_err_set(err, HONE_EIO, "serve: cannot listen on %s:%u (in use, or not an address of this machine)",
                          host, (unsigned)o->port);
        goto fail_msg;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(S->d, MHD_DAEMON_INFO_BIND_PORT);
    S->port = di ? di->port : o->port;
    *out = S;
    return HONE_OK;
fail:
    hone_err_set(err, HONE_ENOMEM, "serve: out of memory");
fail_msg:
    hone_server_stop(S);
    return rc;
}

uint16_t hone_server_port(const hone_server *S) { return S->port; }

void hone_server_stop(hone_server *S) {
    if (!S) return;
    if (S->d) MHD_quiesce_daemon(S->d); /* no new connections */
    if (S->sched) serve_sched_shutdown(S->sched); /* every job ends: waiting connections answer */
    if (S->d) MHD_stop_daemon(S->d);
    serve_sched_stop(S->sched);
    for (size_t i = 0; S->adapters && i < S->c.n_adapters; i++) {
        free((char *)S->adapters[i].name);
        free((char *)S->adapters[i].dir);
    }
    free(S->adapters);
    free(S->name);
    free(S->api_key);
    free(S);
}
