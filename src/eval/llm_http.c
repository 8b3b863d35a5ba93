/* llm_http.c: the HTTP layer of the server backends: one libcurl easy handle per
 * request (thread-safe, no shared state but curl_global_init, done once), a connect
 * timeout of min(10 s, total) and a total timeout, Retry-After captured from the headers,
 * the body either collected or passed on as it arrives (streaming).
 *
 * Retries (llm_with_retries): an attempt that fails transiently is retried up to
 * max_retries times. Transient: no connection (refused, reset, DNS), a timeout, a
 * transfer cut before its end (a stream that stops before its last event counts too:
 * the backends say so), HTTP 408, 429 and 5xx. Not transient: other 4xx, a body that is
 * not the JSON expected (a server bug a retry would repeat). Backoff before retry k:
 * base * 2^(k-1) s capped at 30 s, times a uniform jitter in [0.5, 1) (so parallel
 * workers do not retry in lockstep); a Retry-After of the server (seconds, capped at
 * 60 s) is honoured when longer. base = 0.5 s; $HONE_LLM_BACKOFF_S overrides it (tests).
 * Each attempt holds one of the backend's in-flight slots; the wait between attempts
 * does not, so a backing-off request never keeps another from being sent. */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "eval/llm_internal.h"

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct xfer {
    CURL *h;
    llm_buf body;      /* the whole body (no body_fn), or an error response's body */
    llm_body_fn fn;
    void *user;
    int fn_aborted;
    int oom;
    double retry_after;
} xfer;

static size_t on_write(char *data, size_t size, size_t nmemb, void *u) {
    xfer *x = u;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (x->fn && status < 400) {
        if (x->fn(x->user, data, n)) {
            x->fn_aborted = 1;
            return 0;
        }
        return n;
    }
    if (x->body.n < (64u << 20) && llm_buf_add(&x->body, data, n)) {
        x->oom = 1;
        return 0;
    }
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *u) {
    xfer *x = u;
    size_t n = size * nmemb;
    static const char K[] = "retry-after:";
    if (n > sizeof K - 1 && !strncasecmp(data, K, sizeof K - 1)) {
        char tmp[64];
        size_t l = n - (sizeof K - 1) < sizeof tmp - 1 ? n - (sizeof K - 1) : sizeof tmp - 1;
        memcpy(tmp, data + sizeof K - 1, l);
        tmp[l] = 0;
        char *end;
        double v = strtod(tmp, &end);
        if (end != tmp && isfinite(v) && v >= 0) x->retry_after = v; /* an HTTP date: ignored */
    }
    return n;
}

static int transient_curl(CURLcode c) {
    switch (c) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* The server's error text: the "error" field (a string, or an object's "message") or
 * the "message" field of a JSON body, else the body's first line; at most 200 bytes,
 * control bytes replaced by spaces. */
static void error_text(const char *body, size_t n, char *out, size_t cap) {
    out[0] = 0;
    if (!body || !n) return;
    const char *s = NULL;
    json_t *j = json_loadb(body, n, 0, NULL);
    if (json_is_object(j)) {
        json_t *e = json_object_get(j, "error");
        if (json_is_object(e)) e = json_object_get(e, "message");
        if (!json_is_string(e)) e = json_object_get(j, "message");
        if (json_is_string(e)) s = json_string_value(e);
    }
    if (!s) s = body;
    size_t k = 0;
    for (; *s && *s != '\n' && k + 1 < cap && k < 200; s++) out[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
    out[k] = 0;
    json_decref(j);
}

int llm_http_request(hone_llm *l, const char *url, const char *body, double timeout_s,
                     llm_body_fn body_fn, void *user, llm_http_resp *resp, hone_err *err) {
    memset(resp, 0, sizeof *resp);
    resp->retry_after_s = -1;
    pthread_once(&g_curl_once, curl_init_once);
    xfer x = {.fn = body_fn, .user = user, .retry_after = -1};
    if (!(x.h = curl_easy_init())) return hone_err_set(err, HONE_ENOMEM, "%s: curl_easy_init failed", url);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Expect:");
    if (l->api_key && *l->api_key) {
        size_t al = strlen(l->api_key) + 32;
        char *a = malloc(al);
        if (a) {
            snprintf(a, al, "Authorization: Bearer %s", l->api_key);
            hd = curl_slist_append(hd, a);
            free(a);
        }
    }
    long total_ms = (long)(timeout_s * 1000 + 0.5);
    if (total_ms < 1) total_ms = 1;
    curl_easy_setopt(x.h, CURLOPT_URL, url);
    curl_easy_setopt(x.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x.h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(x.h, CURLOPT_CONNECTTIMEOUT_MS, total_ms < 10000 ? total_ms : 10000L);
    curl_easy_setopt(x.h, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(x.h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x.h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(x.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x.h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(x.h, CURLOPT_USERAGENT, "hone");
    if (body) {
        curl_easy_setopt(x.h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(x.h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode cc = curl_easy_perform(x.h);
    long status = 0;
    curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(x.h);
    curl_slist_free_all(hd);
    resp->status = status;
    resp->curl_code = (int)cc;
    resp->retry_after_s = x.retry_after;
    int rc = HONE_OK;
    if (x.oom) {
        rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory reading the response", url);
    } else if (x.fn_aborted) {
        rc = HONE_EFORMAT; /* the body parser set err */
    } else if (cc != CURLE_OK) {
        resp->transient = transient_curl(cc);
        rc = hone_err_set(err, HONE_EIO, "%s: %s%s", url, curl_easy_strerror(cc),
                          cc == CURLE_OPERATION_TIMEDOUT ? " (timeout)" : "");
    } else if (status >= 400) {
        char msg[256];
        error_text(x.body.p, x.body.n, msg, sizeof msg);
        resp->transient = status == 408 || status == 429 || status >= 500;
        rc = hone_err_set(err, HONE_EIO, "%s: HTTP %ld%s%s", url, status, msg[0] ? ": " : "", msg);
    }
    if (!body_fn || status >= 400) {
        resp->body = x.body.p;
        resp->body_len = x.body.n;
    } else {
        llm_buf_free(&x.body);
    }
    if (!rc && !resp->body && !body_fn) {
        /* an empty body */
        resp->body = calloc(1, 1);
        if (!resp->body) rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", url);
    }
    return rc;
}

void llm_http_resp_free(llm_http_resp *r) {
    free(r->body);
    r->body = NULL;
}

static double splitmix_uniform(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

double llm_backoff_s(int k, double retry_after_s, uint64_t *rng) {
    double base = 0.5;
    const char *e = getenv("HONE_LLM_BACKOFF_S");
    if (e && *e) {
        double v = strtod(e, NULL);
        if (isfinite(v) && v >= 0) base = v;
    }
    double d = base * ldexp(1.0, k - 1);
    if (d > 30) d = 30;
    d *= 0.5 + 0.5 * splitmix_uniform(rng);
    if (retry_after_s >= 0) {
        double ra = retry_after_s > 60 ? 60 : retry_after_s;
        if (ra > d) d = ra;
    }
    return d;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts)) {
    }
}

int llm_with_retries(hone_llm *l, llm_attempt_fn fn, void *ctx, hone_llm_result *res, hone_err *err) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)ctx;
    for (int k = 0;; k++) {
        int transient = 0;
        double ra = -1;
        long status = 0;
        llm_slot_acquire(l);
        int rc = fn(l, ctx, &transient, &ra, &status, err);
        llm_slot_release(l);
        res->attempts = k + 1;
        res->http_status = (int)status;
        if (!rc) return HONE_OK;
        if (!transient || k >= l->max_retries) {
            if (k > 0) hone_err_prefix(err, "after %d attempts", k + 1);
            return rc;
        }
        sleep_s(llm_backoff_s(k + 1, ra, &rng));
    }
}
