/* test_serve.c: the server library (hone/serve.h) in-process, so the sanitizer
 * build checks its parsing, scheduling and teardown (the client-facing checks
 * are tests/interop/test_serve_clients.py, with the official clients).
 *
 * On SmolLM2 (skipped when absent), one random adapter served as m+x, a bearer
 * key, requests through libcurl:
 * - /health 200 without the key; /v1/models 401 without it, 200 with it, listing
 *   m and m+x;
 * - malformed requests (broken JSON, wrong types, out-of-range options, unknown
 *   model or adapter, too long a prompt, a body over max_body, an unknown path,
 *   a wrong method) each get the expected 4xx and a JSON body with "error";
 * - a greedy completion of 3 tokens: 200, finish_reason "length",
 *   completion_tokens 3, and the same text for m+x twice (deterministic) but
 *   not necessarily for m; the base's text equals hone_generate's on the same
 *   ids with the library's own loop (exact string comparison);
 * - a streamed Ollama generate: JSON lines, the last "done": true;
 * - hone_server_stop frees everything (the ASan build checks leaks).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct buf {
    char *p;
    size_t n;
} buf;

static size_t on_data(char *d, size_t sz, size_t nm, void *u) {
    buf *b = u;
    size_t k = sz * nm;
    b->p = realloc(b->p, b->n + k + 1);
    memcpy(b->p + b->n, d, k);
    b->n += k;
    b->p[b->n] = 0;
    return k;
}

/* Returns the HTTP status; *out (malloc'd) the body. */
static long http(uint16_t port, const char *method, const char *path, const char *body, size_t body_len,
                 const char *key, char **out) {
    CURL *c = curl_easy_init();
    char url[256], auth[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)port, path);
    buf b = {calloc(1, 1), 0};
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    *out = b.p;
    return status;
}

static long post(uint16_t port, const char *path, const char *body, char **out) {
    return http(port, "POST", path, body, strlen(body), "k", out);
}

static void expect_error(uint16_t port, const char *method, const char *path, const char *body, long want,
                         const char *needle) {
    char *out;
    long st = http(port, method, path, body, body ? strlen(body) : 0, "k", &out);
    json_t *j = json_loads(out, 0, NULL);
    json_t *e = j ? json_object_get(j, "error") : NULL;
    const char *msg = json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "message"));
    if (st != want || !msg || (needle && !strstr(msg, needle)))
        fail_msg("%s %s %.60s: status %ld (want %ld), body %s (want an error naming '%s')", method, path,
                 body ? body : "", st, want, out, needle ? needle : "");
    print_message("  %s %s -> %ld %s\n", method, path, st, msg);
    json_decref(j);
    free(out);
}

static char *write_adapter(const hone_model_desc *d) {
    hone_err err = {0};
    hone_adapter_config cfg = {.fine_tune_type = "lora", .num_layers = -1, .rank = 4, .scale = 2.0f};
    hone_adapter *ad;
    ASSERT_OK(hone_adapter_create(&ad, &cfg, &err), &err);
    hone_rng r;
    hone_rng_seed(&r, 9);
    int64_t ni = d->hidden, no = (int64_t)d->n_heads * d->head_dim;
    float *a = malloc((size_t)(4 * ni) * 4), *b = malloc((size_t)(4 * no) * 4);
    for (uint32_t il = 0; il < d->n_layers; il++) {
        for (int64_t i = 0; i < 4 * ni; i++) a[i] = (float)(hone_rng_uniform(&r) - 0.5) * 0.1f;
        for (int64_t i = 0; i < 4 * no; i++) b[i] = (float)(hone_rng_uniform(&r) - 0.5) * 0.5f;
        ASSERT_OK(hone_adapter_add(ad, il, HONE_PROJ_Q, ni, no, a, b, &err), &err);
    }
    free(a);
    free(b);
    char *dir = malloc(128);
    snprintf(dir, 128, "/tmp/hone-test-serve-%ld", (long)getpid());
    mkdir(dir, 0700);
    ASSERT_OK(hone_adapter_save_mlx(ad, dir, &err), &err);
    hone_adapter_free(ad);
    return dir;
}

static char *completion_text(uint16_t port, const char *model) {
    char body[256], *out;
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"prompt\":\"The capital of France is\",\"max_tokens\":3,\"temperature\":0}", model);
    long st = post(port, "/v1/completions", body, &out);
    json_t *j = json_loads(out, 0, NULL);
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    if (st != 200 || !ch) fail_msg("completion %s: %ld %s", model, st, out);
    assert_string_equal(json_string_value(json_object_get(ch, "finish_reason")), "length");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")), 3);
    char *t = strdup(json_string_value(json_object_get(ch, "text")));
    json_decref(j);
    free(out);
    return t;
}

typedef struct acc {
    char s[512];
    size_t n;
} acc;

static int acc_text(void *u, const char *t, size_t n) {
    acc *a = u;
    if (a->n + n < sizeof a->s) {
        memcpy(a->s + a->n, t, n);
        a->n += n;
        a->s[a->n] = 0;
    }
    return 0;
}

static void t_server(void **st) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_err err = {0};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, path, NULL, &err), &err);
    hone_tok *tok = hone_model_get_tokenizer(m);
    hone_chat_template *tmpl;
    ASSERT_OK(hone_chat_template_open(&tmpl, "smollm2", &err), &err);
    char *adir = write_adapter(hone_model_get_desc(m));
    hone_serve_adapter ad = {"x", adir, 0};
    hone_serve_opts o = {.model = m, .tok = tok, .tmpl = tmpl, .name = "m", .adapters = &ad, .n_adapters = 1,
                         .parallel = 2, .n_ctx = 256, .api_key = "k", .max_body = 4096, .n_threads = 2};
    hone_server *srv;
    ASSERT_OK(hone_server_start(&srv, &o, &err), &err);
    uint16_t port = hone_server_port(srv);
    assert_true(port > 0);
    char *out;

    assert_int_equal(http(port, "GET", "/health", NULL, 0, NULL, &out), 200);
    assert_non_null(strstr(out, "\"ok\""));
    free(out);
    assert_int_equal(http(port, "GET", "/v1/models", NULL, 0, NULL, &out), 401);
    free(out);
    assert_int_equal(http(port, "GET", "/v1/models", NULL, 0, "wrong", &out), 401);
    free(out);
    assert_int_equal(http(port, "GET", "/v1/models", NULL, 0, "k", &out), 200);
    assert_non_null(strstr(out, "\"m+x\""));
    free(out);

    expect_error(port, "POST", "/v1/chat/completions", "{\"model\": ", 400, "malformed JSON");
    expect_error(port, "POST", "/api/chat", "[]", 400, "object");
    expect_error(port, "POST", "/api/chat", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
                 400, "malformed JSON");
    expect_error(port, "POST", "/v1/chat/completions", "{\"model\":\"zz\",\"messages\":[]}", 404, "not found");
    expect_error(port, "POST", "/api/generate", "{\"model\":\"m+y\",\"prompt\":\"a\"}", 404, "not found");
    expect_error(port, "POST", "/api/generate", "{\"model\":\"m\",\"prompt\":\"a\",\"options\":{\"top_k\":-1}}", 400,
                 "options.top_k");
    expect_error(port, "POST", "/api/generate", "{\"model\":\"m\",\"prompt\":\"a\",\"options\":{\"num_ctx\":\"x\"}}",
                 400, "options.num_ctx");
    expect_error(port, "POST", "/v1/completions", "{\"model\":\"m\",\"prompt\":\"a\",\"stop\":[\"a\",3]}", 400,
                 "stop[1]");
    expect_error(port, "POST", "/v1/chat/completions",
                 "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", 400,
                 "content[0]");
    expect_error(port, "POST", "/v1/chat/completions", "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"a\"}]}",
                 400, "role");
    expect_error(port, "POST", "/v1/chat/completions", "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", 400,
                 "content");
    expect_error(port, "POST", "/v1/completions", "{\"model\":\"m\",\"prompt\":\"a\",\"max_tokens\":-3}", 400,
                 "max_tokens");
    {
        /* a prompt over the context (256): 300 words; the body stays under max_body */
        char body[4000];
        size_t k = (size_t)snprintf(body, sizeof body, "{\"model\":\"m\",\"prompt\":\"");
        for (int i = 0; i < 300; i++) k += (size_t)snprintf(body + k, sizeof body - k, "go ");
        snprintf(body + k, sizeof body - k, "\"}");
        expect_error(port, "POST", "/v1/completions", body, 400, "context");
        char big[5000];
        memset(big, ' ', sizeof big - 1);
        big[0] = '{';
        big[sizeof big - 2] = '}';
        big[sizeof big - 1] = 0;
        expect_error(port, "POST", "/api/generate", big, 413, "larger than");
    }
    if (!hone_tok_add_bos(tok)) /* an empty completion prompt has no token at all (found by fuzz_serve_req) */
        expect_error(port, "POST", "/v1/completions", "{\"model\":\"m\",\"prompt\":\"\"}", 400, "empty");
    expect_error(port, "GET", "/api/generate", NULL, 405, "method");
    expect_error(port, "GET", "/nope", NULL, 404, "no such endpoint");
    expect_error(port, "POST", "/api/show", "{\"model\":\"q\"}", 404, "not found");

    /* greedy completions: base equals the library's own generation loop */
    char *t_base = completion_text(port, "m"), *t_x1 = completion_text(port, "m+x"), *t_x2 = completion_text(port, "m+x");
    assert_string_equal(t_x1, t_x2);
    print_message("  m: %s | m+x: %s\n", t_base, t_x1);
    {
        int32_t *ids;
        size_t n_ids;
        const char *p = "The capital of France is";
        ASSERT_OK(hone_tok_encode(tok, p, strlen(p), hone_tok_add_bos(tok) ? HONE_TOK_BOS : 0, &ids, &n_ids, &err),
                  &err);
        hone_session *s;
        hone_session_opts so = {.n_ctx = 256, .n_threads = 2};
        ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
        hone_sampler_params sp;
        hone_sampler_params_default(&sp);
        sp.temperature = 0;
        hone_sampler *smp;
        ASSERT_OK(hone_sampler_init(&smp, &sp, hone_model_get_desc(m)->vocab, &err), &err);
        acc a = {{0}, 0};
        hone_gen_opts go = {.n_ctx = 256, .max_tokens = 3, .on_text = acc_text, .user = &a};
        hone_gen_stats gs;
        ASSERT_OK(hone_generate(s, tok, smp, ids, n_ids, 0, &go, &gs, &err), &err);
        assert_string_equal(a.s, t_base);
        hone_sampler_free(smp);
        hone_session_free(s);
        free(ids);
    }
    free(t_base);
    free(t_x1);
    free(t_x2);

    /* a streamed Ollama generate: JSON lines, the last done */
    long stc = post(port, "/api/generate", "{\"model\":\"m\",\"prompt\":\"Hi\",\"options\":{\"num_predict\":3}}", &out);
    assert_int_equal(stc, 200);
    int lines = 0, done = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
        json_t *j = json_loads(l, 0, NULL);
        assert_non_null(j);
        lines++;
        done = json_is_true(json_object_get(j, "done"));
        if (done) assert_int_equal(json_integer_value(json_object_get(j, "eval_count")), 3);
        json_decref(j);
    }
    assert_true(lines >= 2 && done);
    free(out);

    hone_server_stop(srv);
    char f[256];
    snprintf(f, sizeof f, "%s/adapters.safetensors", adir);
    unlink(f);
    snprintf(f, sizeof f, "%s/adapter_config.json", adir);
    unlink(f);
    rmdir(adir);
    free(adir);
    hone_chat_template_close(tmpl);
    hone_model_free(m);
}

static void t_start_errors(void **st) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_err err = {0};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, path, NULL, &err), &err);
    hone_serve_opts o = {.model = m, .tok = hone_model_get_tokenizer(m), .name = "m", .host = "not-an-ip", .n_ctx = 64,
                         .parallel = 1};
    hone_server *srv;
    assert_int_equal(hone_server_start(&srv, &o, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "not-an-ip"));
    hone_serve_adapter bad[2] = {{"a b", "/nonexistent", 0}, {"ok", "/nonexistent", 0}};
    o.host = NULL;
    o.adapters = bad;
    o.n_adapters = 1;
    assert_int_equal(hone_server_start(&srv, &o, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "a b"));
    o.adapters = bad + 1;
    assert_true(hone_server_start(&srv, &o, &err) < 0);
    assert_non_null(strstr(err.msg, "adapter ok"));
    hone_model_free(m);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {cmocka_unit_test(t_server), cmocka_unit_test(t_start_errors)};
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
