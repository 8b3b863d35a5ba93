/* request.c: a request body (JSON) -> serve_req, for the four generating
 * endpoints. Everything is checked here, in the connection's thread, before the
 * scheduler sees the job: a malformed body, a field of the wrong type or out of
 * range is 400 with a message naming the field ("options.top_p: expected a
 * number in (0, 1]"), an unknown model 404, a prompt that does not fit the
 * context 400. Unknown fields are ignored, as both APIs' servers do.
 *
 * Prompts: chat messages are rendered with the server's chat template and
 * encoded with control tokens parsed (BOS prepended when the model adds one and
 * the template did not write it), as `hone generate` does; completions (OpenAI
 * /v1/completions, Ollama generate with raw) encode the text as given, BOS added
 * when the model adds one, control-token text not parsed.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_internal.h"

void serve_req_free(serve_req *r) {
    free(r->model);
    free(r->ids);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stops[i]);
    memset(r, 0, sizeof *r);
}

static int fail(char *msg, size_t cap, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t cap, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return status;
}

int serve_model_lookup(const serve_ctx *c, const char *model) {
    size_t nl = strlen(c->name), ml = strlen(model);
    /* NAME, or NAME:latest as Ollama clients may write it */
    if (!strcmp(model, c->name) || (ml == nl + 7 && !strncmp(model, c->name, nl) && !strcmp(model + nl, ":latest")))
        return -1;
    if (ml > nl + 1 && !strncmp(model, c->name, nl) && model[nl] == '+') {
        const char *a = model + nl + 1;
        size_t al = strlen(a);
        if (al > 7 && !strcmp(a + al - 7, ":latest")) al -= 7;
        for (size_t i = 0; i < c->n_adapters; i++)
            if (strlen(c->adapters[i].name) == al && !strncmp(c->adapters[i].name, a, al)) return (int)i;
    }
    return -2;
}

/* ---- typed field access ------------------------------------------------------------ */

typedef struct fctx {
    const char *prefix; /* "" or "options." */
    char *msg;
    size_t cap;
} fctx;

/* 0 absent (or null), 1 read, 400 wrong type / range (msg filled). */
static int get_num(const fctx *f, json_t *o, const char *key, double lo, double hi, int lo_open, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return fail(f->msg, f->cap, 400, "%s%s: expected a number", f->prefix, key);
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi || (lo_open && x == lo))
        return fail(f->msg, f->cap, 400, "%s%s: expected a number in %c%g, %g], got %g", f->prefix, key,
                    lo_open ? '(' : '[', lo, hi, x);
    *out = x;
    return 1;
}

static int get_int(const fctx *f, json_t *o, const char *key, long long lo, long long hi, long long *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return fail(f->msg, f->cap, 400, "%s%s: expected an integer", f->prefix, key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(f->msg, f->cap, 400, "%s%s: expected an integer in [%lld, %lld], got %lld", f->prefix, key, lo,
                    hi, x);
    *out = x;
    return 1;
}

static int get_bool(const fctx *f, json_t *o, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return fail(f->msg, f->cap, 400, "%s%s: expected true or false", f->prefix, key);
    *out = json_is_true(v);
    return 1;
}

static int get_stops(const fctx *f, json_t *o, const char *key, serve_req *r) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    json_t *one[1] = {v};
    size_t n = 1;
    if (json_is_array(v)) n = json_array_size(v);
    else if (!json_is_string(v))
        return fail(f->msg, f->cap, 400, "%s%s: expected a string or an array of strings", f->prefix, key);
    if (n > SERVE_MAX_STOP)
        return fail(f->msg, f->cap, 400, "%s%s: at most %d stop strings, got %zu", f->prefix, key, SERVE_MAX_STOP, n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(v) ? json_array_get(v, i) : one[0];
        if (!json_is_string(s))
            return fail(f->msg, f->cap, 400, "%s%s[%zu]: expected a string", f->prefix, key, i);
        if (!json_string_length(s)) continue;
        if (!(r->stops[r->n_stop] = strdup(json_string_value(s)))) return fail(f->msg, f->cap, 500, "out of memory");
        r->n_stop++;
    }
    return 1;
}

/* The sampling and length fields both APIs share (names differ a little). */
static int read_sampling(const fctx *f, json_t *o, serve_req *r, int ollama) {
    double x;
    long long k;
    int rc;
    if ((rc = get_num(f, o, "temperature", 0, 100, 0, &x)) > 1) return rc;
    if (rc) r->sp.temperature = (float)x;
    if ((rc = get_num(f, o, "top_p", 0, 1, 1, &x)) > 1) return rc;
    if (rc) r->sp.top_p = (float)x;
    if ((rc = get_num(f, o, "min_p", 0, 1, 0, &x)) > 1) return rc;
    if (rc) r->sp.min_p = (float)x;
    if ((rc = get_int(f, o, "top_k", 0, INT32_MAX, &k)) > 1) return rc;
    if (rc) r->sp.top_k = (int32_t)k;
    if ((rc = get_num(f, o, "presence_penalty", -2, 2, 0, &x)) > 1) return rc;
    if (rc) r->sp.presence_penalty = (float)x;
    if ((rc = get_num(f, o, "frequency_penalty", -2, 2, 0, &x)) > 1) return rc;
    if (rc) r->sp.frequency_penalty = (float)x;
    if ((rc = get_num(f, o, "repeat_penalty", 0, 100, 1, &x)) > 1) return rc;
    if (rc) r->sp.repeat_penalty = (float)x;
    if ((rc = get_int(f, o, "repeat_last_n", -1, INT32_MAX, &k)) > 1) return rc;
    if (rc) r->sp.repeat_last_n = (int32_t)(k < 0 ? (long long)r->n_ctx : k);
    if ((rc = get_int(f, o, "seed", INT64_MIN, INT64_MAX, &k)) > 1) return rc;
    if (rc && k >= 0) r->sp.seed = (uint64_t)k; /* negative (Ollama's -1): a random seed */
    if ((rc = get_stops(f, o, "stop", r)) > 1) return rc;
    if (ollama) {
        if ((rc = get_int(f, o, "num_predict", -2, INT32_MAX, &k)) > 1) return rc;
        if (rc && k == 0) return fail(f->msg, f->cap, 400, "%snum_predict: expected -1, -2 or a positive integer", f->prefix);
        if (rc) r->max_tokens = k < 0 ? 0 : (uint32_t)k;
        if ((rc = get_int(f, o, "num_ctx", 1, INT32_MAX, &k)) > 1) return rc;
        if (rc && (uint64_t)k < r->n_ctx) r->n_ctx = (uint32_t)k;
    } else {
        const char *keys[2] = {"max_tokens", "max_completion_tokens"};
        for (int i = 0; i < 2; i++) {
            if ((rc = get_int(f, o, keys[i], 1, INT32_MAX, &k)) > 1) return rc;
            if (rc) r->max_tokens = (uint32_t)k;
        }
    }
    return 0;
}

static uint64_t random_seed(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    hone_rng r;
    hone_rng_seed(&r, (uint64_t)t.tv_sec * 1000000007ull ^ (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 32) ^
                          (uint64_t)(uintptr_t)&t);
    return hone_rng_next(&r) >> 1;
}

/* ---- prompt encoding ---------------------------------------------------------------- */

static int encode(const serve_ctx *c, const hone_chat_template *t, const hone_chat_msg *msgs, size_t n, serve_req *r,
                  char *msg, size_t cap) {
    char *text = NULL;
    size_t len = 0;
    unsigned flags = 0;
    hone_err err = {0};
    if (t) {
        if (hone_chat_render(t, msgs, n, 1, &text, &len, NULL, &err)) return fail(msg, cap, 400, "messages: %s", err.msg);
        flags = HONE_TOK_SPECIAL;
    } else {
        size_t tot = 0;
        for (size_t i = 0; i < n; i++) tot += strlen(msgs[i].content);
        if (!(text = malloc(tot + 1))) return fail(msg, cap, 500, "out of memory");
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(msgs[i].content);
            memcpy(text + len, msgs[i].content, l);
            len += l;
        }
        text[len] = 0;
    }
    int32_t bos = hone_tok_bos(c->tok);
    if (hone_tok_add_bos(c->tok) && bos >= 0) {
        hone_str b = hone_tok_id_bytes(c->tok, bos);
        int has = t && b.len && len >= b.len && !memcmp(text, b.ptr, (size_t)b.len);
        if (!has) flags |= HONE_TOK_BOS;
    }
    int rc = hone_tok_encode(c->tok, text, len, flags, &r->ids, &r->n_ids, &err);
    free(text);
    if (rc) return fail(msg, cap, 400, "prompt: %s", err.msg);
    return 0;
}

/* OpenAI content: a string, or an array of {"type":"text","text":...} parts (joined). */
static int content_text(json_t *c, char **out, const char *path, char *msg, size_t cap) {
    if (json_is_string(c)) return (*out = strdup(json_string_value(c))) ? 0 : fail(msg, cap, 500, "out of memory");
    if (json_is_null(c)) return (*out = strdup("")) ? 0 : fail(msg, cap, 500, "out of memory");
    if (!json_is_array(c)) return fail(msg, cap, 400, "%s.content: expected a string or an array of text parts", path);
    size_t tot = 0, i;
    json_t *p;
    json_array_foreach(c, i, p) {
        json_t *ty = json_object_get(p, "type"), *tx = json_object_get(p, "text");
        if (!json_is_string(ty) || strcmp(json_string_value(ty), "text") || !json_is_string(tx))
            return fail(msg, cap, 400, "%s.content[%zu]: only {\"type\": \"text\", \"text\": ...} parts are supported",
                        path, i);
        tot += json_string_length(tx);
    }
    char *s = malloc(tot + 1);
    if (!s) return fail(msg, cap, 500, "out of memory");
    size_t at = 0;
    json_array_foreach(c, i, p) {
        json_t *tx = json_object_get(p, "text");
        memcpy(s + at, json_string_value(tx), json_string_length(tx));
        at += json_string_length(tx);
    }
    s[at] = 0;
    *out = s;
    return 0;
}

static int parse_messages(const serve_ctx *c, json_t *root, serve_req *r, char *msg, size_t cap) {
    json_t *ms = json_object_get(root, "messages");
    if (!json_is_array(ms) || !json_array_size(ms))
        return fail(msg, cap, 400, "messages: expected a non-empty array of {role, content}");
    size_t n = json_array_size(ms);
    hone_chat_msg *cm = calloc(n, sizeof *cm);
    char **own = calloc(n, sizeof *own);
    int rc = 0;
    if (!cm || !own) rc = fail(msg, cap, 500, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        json_t *m = json_array_get(ms, i);
        char path[32];
        snprintf(path, sizeof path, "messages[%zu]", i);
        json_t *role = json_object_get(m, "role");
        if (!json_is_object(m) || !json_is_string(role)) {
            rc = fail(msg, cap, 400, "%s.role: expected a string", path);
            break;
        }
        const char *ro = json_string_value(role);
        if (!strcmp(ro, "developer")) ro = "system";
        if (strcmp(ro, "system") && strcmp(ro, "user") && strcmp(ro, "assistant")) {
            rc = fail(msg, cap, 400, "%s.role: expected system, user or assistant, got '%s'", path, ro);
            break;
        }
        json_t *ct = json_object_get(m, "content");
        if (!ct) {
            rc = fail(msg, cap, 400, "%s.content: missing", path);
            break;
        }
        if ((rc = content_text(ct, &own[i], path, msg, cap))) break;
        cm[i].role = ro;
        cm[i].content = own[i];
    }
    if (!rc) rc = encode(c, c->tmpl, cm, n, r, msg, cap);
    for (size_t i = 0; own && i < n; i++) free(own[i]);
    free(own);
    free(cm);
    return rc;
}

int serve_req_parse(const serve_ctx *c, serve_api api, const char *body, size_t len, serve_req *r, char *msg,
                    size_t cap) {
    memset(r, 0, sizeof *r);
    r->api = api;
    r->n_ctx = c->n_ctx;
    hone_sampler_params_default(&r->sp);
    r->sp.seed = random_seed();
    int ollama = api == API_OLLAMA_CHAT || api == API_OLLAMA_GENERATE;
    r->stream = ollama; /* Ollama streams unless told not to; OpenAI the other way */
    if (api == API_OPENAI_COMPLETION) r->max_tokens = 16; /* OpenAI's default for completions */
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    int rc = 0;
    if (!root) return fail(msg, cap, 400, "malformed JSON at byte %d (line %d, column %d): %s", je.position, je.line,
                           je.column, je.text);
    if (!json_is_object(root)) {
        rc = fail(msg, cap, 400, "expected a JSON object");
        goto done;
    }
    json_t *model = json_object_get(root, "model");
    if (!json_is_string(model)) {
        rc = fail(msg, cap, 400, "model: expected a string");
        goto done;
    }
    if (!(r->model = strdup(json_string_value(model)))) {
        rc = fail(msg, cap, 500, "out of memory");
        goto done;
    }
    if ((r->adapter = serve_model_lookup(c, r->model)) == -2) {
        rc = fail(msg, cap, 404, "model '%s' not found (this server has '%s'%s)", r->model, c->name,
                  c->n_adapters ? " and NAME+ADAPTER" : "");
        goto done;
    }
    fctx top = {"", msg, cap}, opt = {"options.", msg, cap};
    if ((rc = get_bool(&top, root, "stream", &r->stream)) > 1) goto done;
    rc = 0;
    if (ollama) {
        json_t *o = json_object_get(root, "options");
        if (o && !json_is_null(o) && !json_is_object(o)) {
            rc = fail(msg, cap, 400, "options: expected an object");
            goto done;
        }
        if (o && json_is_object(o) && (rc = read_sampling(&opt, o, r, 1))) goto done;
    } else {
        long long n;
        if ((rc = get_int(&top, root, "n", 1, 1, &n)) > 1) goto done;
        json_t *so = json_object_get(root, "stream_options");
        if (json_is_object(so) && (rc = get_bool(&(fctx){"stream_options.", msg, cap}, so, "include_usage",
                                                 &r->include_usage)) > 1)
            goto done;
        if ((rc = read_sampling(&top, root, r, 0))) goto done;
    }
    rc = 0;
    switch (api) {
    case API_OPENAI_CHAT:
    case API_OLLAMA_CHAT:
        rc = parse_messages(c, root, r, msg, cap);
        break;
    case API_OPENAI_COMPLETION: {
        json_t *p = json_object_get(root, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (!json_is_string(p)) {
            rc = fail(msg, cap, 400, "prompt: expected a string (or an array of one string)");
            break;
        }
        hone_chat_msg m = {"user", json_string_value(p)};
        rc = encode(c, NULL, &m, 1, r, msg, cap);
        break;
    }
    case API_OLLAMA_GENERATE: {
        json_t *p = json_object_get(root, "prompt"), *sys = json_object_get(root, "system");
        int raw = 0;
        if ((rc = get_bool(&top, root, "raw", &raw)) > 1) break;
        rc = 0;
        if (p && !json_is_null(p) && !json_is_string(p)) {
            rc = fail(msg, cap, 400, "prompt: expected a string");
            break;
        }
        if (sys && !json_is_null(sys) && !json_is_string(sys)) {
            rc = fail(msg, cap, 400, "system: expected a string");
            break;
        }
        if (!p || json_is_null(p) || !json_string_length(p)) { /* Ollama: load the model, answer done */
            r->empty = 1;
            break;
        }
        hone_chat_msg m[2];
        size_t n = 0;
        if (json_is_string(sys) && !raw) m[n++] = (hone_chat_msg){"system", json_string_value(sys)};
        m[n++] = (hone_chat_msg){"user", json_string_value(p)};
        rc = encode(c, raw ? NULL : c->tmpl, m, n, r, msg, cap);
        break;
    }
    }
    if (rc) goto done;
    if (!r->empty && r->n_ids == 0) {
        rc = fail(msg, cap, 400, "prompt: empty (no token to continue from)");
        goto done;
    }
    if (!r->empty && r->n_ids >= r->n_ctx) {
        rc = fail(msg, cap, 400, "the prompt has %zu tokens; the context holds %u (at least one more is needed)",
                  r->n_ids, r->n_ctx);
        goto done;
    }
    hone_err err = {0};
    hone_sampler *probe;
    if (hone_sampler_init(&probe, &r->sp, 1, &err)) { /* the sampler's own parameter checks */
        rc = fail(msg, cap, 400, "sampling: %s", err.msg);
        goto done;
    }
    hone_sampler_free(probe);
done:
    json_decref(root);
    if (rc) serve_req_free(r);
    return rc;
}
