/* test_llm.c: the chat backends' common part and the local backend (hone/llm.h).
 * SHA-256 against the FIPS 180-4 example vectors (and a 1,000,000-byte one, which also
 * crosses the 1 MiB read chunk when hashed from a file); the local backend on Gemma 3
 * 270M: the prompt text is the gemma template's, prompt_tokens is the tokenizer's count
 * of it, max_tokens cuts with "length", the same seed gives the same answer, a prompt
 * longer than num_ctx is an error flagged as overflow, and the identity is the file's
 * sha256. The HTTP backends are tested against a fake server in
 * tests/interop/test_ab_run_http.py. */
#include "testutil.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_local_gemma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
