/* test_gguf_read.c: the GGUF reader on the real models and on hand-built files.
 * The full cross-check of every key and tensor against gguf-py is in
 * tests/interop (it needs Python); these tests need none. */
#include "testutil.h"

static void test_gemma_header(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    assert_int_equal(hone_gguf_version(g), 3);
    hone_str arch;
    assert_int_equal(hone_gguf_get_str(g, "general.architecture", &arch), HONE_OK);
    assert_int_equal(arch.len, 6);
    assert_memory_equal(arch.ptr, "gemma3", 6);
    uint32_t n;
    assert_int_equal(hone_gguf_get_u32(g, "gemma3.block_count", &n), HONE_OK);
    assert_int_equal(n, 18);
    assert_int_equal(hone_gguf_get_u32(g, "gemma3.embedding_length", &n), HONE_OK);
    assert_int_equal(n, 640);
    int64_t tok = hone_gguf_find_key(g, "tokenizer.ggml.tokens");
    assert_true(tok >= 0);
    assert_int_equal(hone_gguf_arr_type(g, tok), HONE_GGUF_STRING);
    assert_int_equal(hone_gguf_arr_n(g, tok), 262144);
    int64_t emb = hone_gguf_find_tensor(g, "token_embd.weight");
    assert_true(emb >= 0);
    uint64_t ne[4];
    hone_gguf_tensor_shape(g, emb, ne);
    assert_int_equal(ne[0], 640);
    assert_int_equal(ne[1], 262144);
    assert_int_equal(hone_gguf_find_tensor(g, "no.such.tensor"), -1);
    hone_gguf_close(g);
}

static void test_not_gguf(void **state) {
    const char junk[] = "this is not a gguf file at all, just text";
    char *p = test_write_tmp(junk, sizeof junk, ".gguf");
    hone_err err = {0};
    hone_gguf *g;
    assert_int_equal(hone_gguf_open(&g, p, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "byte 0"));
    assert_non_null(strstr(err.msg, "magic"));
    unlink(p);
    free(p);
}

static void test_missing_file(void **state) {
    hone_err err = {0};
    hone_gguf *g;
    assert_int_equal(hone_gguf_open(&g, "/nonexistent/x.gguf", &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.gguf"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma_header),
        cmocka_unit_test(test_not_gguf),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
