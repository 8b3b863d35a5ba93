/* test_llm.c: the chat backends' common part and the local backend (hone/llm.h).
 * SHA-256 against the FIPS 180-4 example vectors (and a 1,000,000-byte one, which also
 * crosses the 1 MiB read chunk when hashed from a file); the local backend on Gemma 3
 * 270M: the prompt text is the gemma template's, prompt_tokens is the tokenizer's count
 * of it, max_tokens cuts with "length", the same seed gives the same answer, a prompt
 * longer than num_ctx is an error flagged as overflow, and the identity is the file's
 * sha256. The HTTP backends against the fake server (tests/interop/fakellm, started with
 * $HONE_PY, skipped without it): answers equal the server's echo of the messages' SHA-256
 * and the seed, 500s retried, malformed JSON and cut streams returned as errors, a dead
 * port as a connection error after the retries; so the ASan build runs the parsers over
 * those faults too. tests/interop/test_ab_run_http.py covers the rest through `hone ab run`. */
#include "testutil.h"

#include <signal.h>
#include <sys/wait.h>

#include "eval/llm_internal.h"

static void hex(const unsigned char d[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_sha256_vectors(void **state) {
    unsigned char d[32];
    char h[65];
    llm_sha256("abc", 3, d);
    hex(d, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    llm_sha256("", 0, d);
    hex(d, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes: two blocks */
    llm_sha256(m, strlen(m), d);
    hex(d, h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    char *path = test_write_tmp(a, n, ".bin");
    hone_err err = {0};
    ASSERT_OK(llm_sha256_file(path, h, &err), &err);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    unlink(path);
    free(path);
    free(a);
}

/* The digest cache: a miss computes and stores, a hit reads the entry (a planted wrong
 * digest with matching size and mtime proves it was read), a changed file is hashed again. */
static void test_sha256_cache(void **state) {
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/hone-test-shacache-%ld", (long)getpid());
    setenv("HONE_CACHE_DIR", dir, 1);
    char *path = test_write_tmp("abc", 3, ".bin");
    char h[65], h2[65];
    hone_err err = {0};
    ASSERT_OK(llm_sha256_file_cached(path, h, &err), &err);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* plant a different digest in the one entry, same size and mtime: it must be used */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "f=$(ls %s/sha256/*) && sed -i 's/ba7816bf/00000000/' $f", dir);
    assert_int_equal(system(cmd), 0);
    ASSERT_OK(llm_sha256_file_cached(path, h2, &err), &err);
    assert_string_equal(h2, "000000008f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* a changed file (size differs) is hashed again */
    FILE *f = fopen(path, "ab");
    fputs("d", f);
    fclose(f);
    ASSERT_OK(llm_sha256_file_cached(path, h2, &err), &err);
    assert_string_equal(h2, "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"); /* "abcd" */
    unlink(path);
    free(path);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    unsetenv("HONE_CACHE_DIR");
}

static void test_open_errors(void **state) {
    hone_llm *l = NULL;
    hone_err err = {0};
    hone_llm_opts o = {.kind = HONE_LLM_LOCAL};
    assert_int_equal(hone_llm_open(&l, &o, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "path"));
    o = (hone_llm_opts){.kind = HONE_LLM_OLLAMA};
    assert_int_equal(hone_llm_open(&l, &o, &err), HONE_EARG);
    o = (hone_llm_opts){.kind = HONE_LLM_LOCAL, .path = "/nonexistent/model.gguf"};
    assert_true(hone_llm_open(&l, &o, &err) < 0);
    assert_null(l);
}

static void test_local_gemma(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_err err = {0};
    hone_llm *l;
    hone_llm_opts o = {.kind = HONE_LLM_LOCAL, .path = path, .num_ctx = 256};
    ASSERT_OK(hone_llm_open(&l, &o, &err), &err);
    assert_int_equal(strncmp(hone_llm_identity(l), "sha256:", 7), 0);
    assert_int_equal(strlen(hone_llm_identity(l)), 7 + 64);
    hone_chat_msg msgs[] = {{"system", "Answer briefly."}, {"user", "What is the capital of France?"}};
    hone_llm_request rq = {.msgs = msgs, .n_msgs = 2, .temperature = 0.7, .top_p = 0.9, .max_tokens = 6, .seed = 42};
    hone_llm_result r1, r2;
    ASSERT_OK(hone_llm_chat(l, &rq, &r1, &err), &err);
    /* the gemma template folds the system message into the first user turn */
    assert_string_equal(r1.prompt_text, "<bos><start_of_turn>user\nAnswer briefly.\n\nWhat is the capital of France?"
                                        "<end_of_turn>\n<start_of_turn>model\n");
    int32_t *ids;
    size_t n_ids;
    hone_tok *tok;
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&tok, g, &err), &err);
    ASSERT_OK(hone_tok_encode(tok, r1.prompt_text, strlen(r1.prompt_text), HONE_TOK_SPECIAL, &ids, &n_ids, &err), &err);
    assert_int_equal(r1.prompt_tokens, (int64_t)n_ids);
    free(ids);
    assert_int_equal(r1.prompt_overflow, 0);
    assert_true(r1.answer_tokens >= 1 && r1.answer_tokens <= 6);
    if (r1.answer_tokens == 6) assert_string_equal(r1.finish_reason, "length");
    assert_non_null(r1.text);
    assert_true(r1.latency_s > 0);
    /* same seed, same answer */
    ASSERT_OK(hone_llm_chat(l, &rq, &r2, &err), &err);
    assert_string_equal(r1.text, r2.text);
    hone_llm_result_free(&r1);
    hone_llm_result_free(&r2);
    /* a prompt longer than the context: an error flagged as overflow, nothing generated */
    size_t big = 4000;
    char *longp = malloc(big + 1);
    for (size_t i = 0; i < big; i++) longp[i] = "abc def "[i % 8];
    longp[big] = 0;
    hone_chat_msg lm[] = {{"user", longp}};
    rq.msgs = lm;
    rq.n_msgs = 1;
    assert_int_equal(hone_llm_chat(l, &rq, &r1, &err), HONE_EARG);
    assert_int_equal(r1.prompt_overflow, 1);
    assert_true(r1.prompt_tokens > 256);
    assert_string_equal(r1.finish_reason, "error");
    assert_null(r1.text);
    hone_llm_result_free(&r1);
    free(longp);
    hone_tok_free(tok);
    hone_gguf_close(g);
    hone_llm_close(l);
}

/* ---- the response parsers alone: every split of a stream into two reads gives the same
 * answer (lines cut anywhere, CRLF SSE); cuts and bad lines are errors ---- */

static void parse_all_splits(int openai, const char *body, const char *want, int64_t pt, int64_t at,
                             const char *finish) {
    size_t n = strlen(body);
    for (size_t split = 0; split <= n; split++) {
        hone_llm_result r;
        hone_err err = {0};
        int rc = openai ? llm_openai_parse(body, n, 1, split, &r, &err) : llm_ollama_parse(body, n, 1, split, &r, &err);
        if (rc) fail_msg("split %zu: %s", split, err.msg);
        assert_string_equal(r.text, want);
        assert_int_equal(r.prompt_tokens, pt);
        assert_int_equal(r.answer_tokens, at);
        assert_string_equal(r.finish_reason, finish);
        hone_llm_result_free(&r);
    }
}

static void test_parsers(void **state) {
    const char *oll = "{\"message\":{\"content\":\"he\"},\"done\":false}\n"
                      "{\"message\":{\"content\":\"llo \\u00e9\"},\"done\":false}\n\n"
                      "{\"message\":{\"content\":\"\"},\"done\":true,\"done_reason\":\"length\","
                      "\"prompt_eval_count\":12,\"eval_count\":3}\n";
    parse_all_splits(0, oll, "hello \xc3\xa9", 12, 3, "length");
    const char *sse = ": keep-alive\r\n\r\n"
                      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\r\n\r\n"
                      "data:{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\n\r\n"
                      "event: x\ndata: {\"choices\":[{\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n"
                      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
                      "data: [DONE]\n\n";
    parse_all_splits(1, sse, "hi there", 9, 2, "stop");
    struct { int openai, stream; const char *body, *msg; } bad[] = {
        {0, 1, "{\"message\":{\"content\":\"a\"},\"done\":false}\n", "stream ended"},
        {0, 1, "{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"message\": 1}\n", "message.content"},
        {0, 1, "{\"error\":\"boom\"}\n", "server error: boom"},
        {0, 0, "{\"message\":{\"content\":\"a\"}}", "done"},
        {0, 0, "", "malformed JSON"},
        {0, 0, "[1,2]", "expected a JSON object"},
        {1, 1, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "stream ended"},
        {1, 1, "data: [DONE]\n\ndata: {}\n\n", "after [DONE]"},
        {1, 0, "{\"choices\":[]}", "choices"},
        {1, 0, "{\"choices\":[{\"message\":{\"content\":7}}]}", "content"},
        {1, 0, "{\"error\":{\"message\":\"nope\"}}", "server error: nope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hone_llm_result r;
        hone_err err = {0};
        size_t n = strlen(bad[i].body);
        int rc = bad[i].openai ? llm_openai_parse(bad[i].body, n, bad[i].stream, n / 2, &r, &err)
                               : llm_ollama_parse(bad[i].body, n, bad[i].stream, n / 2, &r, &err);
        if (rc == HONE_OK || !strstr(err.msg, bad[i].msg)) fail_msg("bad[%zu]: rc %d, '%s'", i, rc, err.msg);
        assert_null(r.text);
        assert_string_equal(r.finish_reason, "error");
    }
}

/* ---- HTTP backends against the fake server ---- */

static pid_t g_srv = -1;
static char g_url[128];

static void server_start(void) {
    const char *py = getenv("HONE_PY");
    if (!py || g_srv > 0) return;
    int fd[2];
    if (pipe(fd)) return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl(py, py, "tests/interop/fakellm/serve.py", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    if (pid > 0 && f && fgets(g_url, sizeof g_url, f)) {
        g_url[strcspn(g_url, "\n")] = 0;
        g_srv = pid;
    } else if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (f) fclose(f);
}

static void server_stop(void) {
    if (g_srv > 0) {
        kill(g_srv, SIGTERM);
        waitpid(g_srv, NULL, 0);
        g_srv = -1;
    }
}

#define REQUIRE_SERVER()                                                                  \
    server_start();                                                                       \
    if (g_srv <= 0) {                                                                     \
        print_message("[ SKIPPED  ] no fake server ($HONE_PY unset: run via tests/run.sh)\n"); \
        skip();                                                                           \
    }

/* The fake server's answer: "echo " + sha256(compact messages JSON)[:12] + " seed=N". */
static void echo_of(const hone_chat_msg *m, size_t n, uint64_t seed, char *out, size_t cap) {
    char js[1024];
    size_t k = 0;
    k += (size_t)snprintf(js + k, sizeof js - k, "[");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(js + k, sizeof js - k, "%s{\"role\":\"%s\",\"content\":\"%s\"}", i ? "," : "",
                              m[i].role, m[i].content);
    k += (size_t)snprintf(js + k, sizeof js - k, "]");
    unsigned char d[32];
    char h[65];
    llm_sha256(js, k, d);
    hex(d, h);
    snprintf(out, cap, "echo %.12s seed=%llu", h, (unsigned long long)seed);
}

static int chat_once(hone_llm_kind kind, const char *name, int stream, const char *url_override,
                     hone_llm_result *r, hone_err *err) {
    char url[160];
    snprintf(url, sizeof url, "%s%s", url_override ? url_override : g_url, kind == HONE_LLM_OPENAI ? "/v1" : "");
    hone_llm_opts o = {.kind = kind, .name = name, .url = url, .timeout_s = 5, .max_retries = 2, .stream = stream};
    hone_llm *l;
    int rc = hone_llm_open(&l, &o, err);
    if (rc) return rc;
    hone_chat_msg m[] = {{"system", "Be brief."}, {"user", "Is the sky blue?"}};
    hone_llm_request rq = {.msgs = m, .n_msgs = 2, .temperature = 0.5, .top_p = 0.9, .max_tokens = 32, .seed = 77};
    rc = hone_llm_chat(l, &rq, r, err);
    hone_llm_close(l);
    return rc;
}

static void test_http_ok(void **state) {
    REQUIRE_SERVER();
    setenv("HONE_LLM_BACKOFF_S", "0.01", 1);
    hone_chat_msg m[] = {{"system", "Be brief."}, {"user", "Is the sky blue?"}};
    char want[64];
    echo_of(m, 2, 77, want, sizeof want);
    for (int kind = HONE_LLM_OLLAMA; kind <= HONE_LLM_OPENAI; kind++)
        for (int stream = 0; stream < 2; stream++) {
            hone_err err = {0};
            hone_llm_result r;
            ASSERT_OK(chat_once((hone_llm_kind)kind, "ok", stream, NULL, &r, &err), &err);
            assert_string_equal(r.text, want);
            assert_string_equal(r.finish_reason, "stop");
            assert_int_equal(r.answer_tokens, 3);
            assert_int_equal(r.prompt_tokens, (9 + 16) / 4 + 4);
            assert_int_equal(r.attempts, 1);
            assert_int_equal(r.http_status, 200);
            assert_int_equal(r.prompt_overflow, 0);
            assert_null(r.prompt_text);
            hone_llm_result_free(&r);
            /* 500 then ok */
            ASSERT_OK(chat_once((hone_llm_kind)kind, "flaky500", stream, NULL, &r, &err), &err);
            assert_string_equal(r.text, want);
            assert_int_equal(r.attempts, 2);
            hone_llm_result_free(&r);
        }
}

static void test_http_faults(void **state) {
    REQUIRE_SERVER();
    setenv("HONE_LLM_BACKOFF_S", "0.01", 1);
    for (int kind = HONE_LLM_OLLAMA; kind <= HONE_LLM_OPENAI; kind++)
        for (int stream = 0; stream < 2; stream++) {
            hone_err err = {0};
            hone_llm_result r;
            assert_int_equal(chat_once((hone_llm_kind)kind, "badjson", stream, NULL, &r, &err), HONE_EFORMAT);
            assert_non_null(strstr(err.msg, "malformed JSON"));
            assert_null(r.text);
            assert_string_equal(r.finish_reason, "error");
            assert_int_equal(r.attempts, 1);
            hone_llm_result_free(&r);
            err = (hone_err){0};
            assert_true(chat_once((hone_llm_kind)kind, "cut", stream, NULL, &r, &err) < 0);
            assert_int_equal(r.attempts, 3);
            assert_null(r.text);
            hone_llm_result_free(&r);
            err = (hone_err){0};
            assert_true(chat_once((hone_llm_kind)kind, "ok", stream, "http://127.0.0.1:9", &r, &err) < 0);
            assert_int_equal(r.attempts, 3);
            assert_int_equal(r.http_status, 0);
            assert_non_null(strstr(err.msg, "onnect"));
            hone_llm_result_free(&r);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_cache),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_local_gemma),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_http_ok),
        cmocka_unit_test(test_http_faults),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    server_stop();
    return rc;
}
