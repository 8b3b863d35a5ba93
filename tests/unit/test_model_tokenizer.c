/* test_model_tokenizer.c: hone_model_load attaches the tokenizer of an HF folder
 * (tokenizer.json + tokenizer_config.json) to the model. The weights are the tiny
 * Mistral fixture (tests/fixtures/engine/tiny-mistral, vocab 512), linked into a
 * scratch folder next to a tokenizer.json that the test writes (or links):
 *   no tokenizer.json          -> NULL tokenizer, load succeeds
 *   byte_fallback BPE, 262 ids -> loaded; its ids for a string are checked by hand
 *   Unigram (not supported)    -> NULL tokenizer, load succeeds
 *   malformed JSON             -> load fails (HONE_EFORMAT naming tokenizer.json)
 *   32000 ids > 512 rows      -> load fails (HONE_EFORMAT naming the row count) */
#include <limits.h>

#include "testutil.h"

#define TINY "tests/fixtures/engine/tiny-mistral"

static char dir[64];

static void link_in(const char *name, const char *target) {
    char p[256], abs[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
    assert_non_null(realpath(target, abs));
    assert_int_equal(symlink(abs, p), 0);
}

static void write_file(const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void rm_file(const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
}

static int setup(void **state) {
    if (access(TINY "/config.json", R_OK)) return 0;
    snprintf(dir, sizeof dir, "/tmp/hone-mtok-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    link_in("config.json", TINY "/config.json");
    link_in("model.safetensors", TINY "/model.safetensors");
    return 0;
}

static int teardown(void **state) {
    if (!dir[0]) return 0;
    rm_file("config.json");
    rm_file("model.safetensors");
    rm_file("tokenizer.json");
    rm_file("tokenizer_config.json");
    rmdir(dir);
    return 0;
}

/* A Llama-2-style tokenizer.json: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>
 * (ids 3..258), then "▁" (259), "▁a" (260), "▁ab" (261). */
static char *small_spm_json(void) {
    size_t cap = 1 << 16, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o,
                          "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
                          " {\"id\": 1, \"content\": \"<s>\", \"special\": true},"
                          " {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
                          " \"normalizer\": null,"
                          " \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\","
                          " \"prepend_scheme\": \"first\", \"split\": false},"
                          " \"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {"
                          "\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2");
    for (int b = 0; b < 256; b++) o += (size_t)snprintf(s + o, cap - o, ", \"<0x%02X>\": %d", b, 3 + b);
    o += (size_t)snprintf(s + o, cap - o,
                          ", \"\\u2581\": 259, \"a\": 262, \"b\": 263, \"\\u2581a\": 260, \"\\u2581ab\": 261},"
                          " \"merges\": [[\"\\u2581\", \"a\"], [\"\\u2581a\", \"b\"]]}}");
    return s;
}

static void load(hone_model **m, int want) {
    hone_err err = {0};
    int rc = hone_model_load(m, dir, NULL, &err);
    if (rc != want) fail_msg("hone_model_load: rc %d, want %d: %s", rc, want, err.msg);
    if (want != HONE_OK) {
        assert_non_null(strstr(err.msg, "tokenizer.json"));
        *m = NULL;
    }
}

static void test_hf_folder_tokenizer(void **state) {
    if (!dir[0]) {
        print_message("[ SKIPPED  ] %s not found\n", TINY);
        skip();
    }
    hone_model *m;
    rm_file("tokenizer.json");
    load(&m, HONE_OK);
    assert_null(hone_model_get_tokenizer(m));
    hone_model_free(m);

    char *js = small_spm_json();
    write_file("tokenizer.json", js);
    free(js);
    write_file("tokenizer_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": true}");
    load(&m, HONE_OK);
    hone_tok *t = hone_model_get_tokenizer(m);
    assert_non_null(t);
    assert_int_equal(hone_tok_get_kind(t), HONE_TOK_SPM);
    assert_int_equal(hone_tok_n_vocab(t), 264);
    assert_int_equal(hone_tok_bos(t), 1);
    assert_int_equal(hone_tok_add_bos(t), 1);
    hone_err err = {0};
    int32_t *ids;
    size_t n;
    /* "ab c": '▁' prepended (Metaspace first) -> ▁ab (261), ▁ (259), 'c' by byte fallback (0x63 -> 102) */
    ASSERT_OK(hone_tok_encode(t, "ab c", 4, HONE_TOK_BOS, &ids, &n, &err), &err);
    int32_t want[] = {1, 261, 259, 3 + 0x63};
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) assert_int_equal(ids[i], want[i]);
    free(ids);
    hone_model_free(m);

    write_file("tokenizer.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
    load(&m, HONE_OK);
    assert_null(hone_model_get_tokenizer(m));
    hone_model_free(m);

    write_file("tokenizer.json", "{\"model\": ");
    load(&m, HONE_EFORMAT);

    link_in("tokenizer.json", "tests/fixtures/hf_tok/spm_llama/tokenizer.json");
    load(&m, HONE_EFORMAT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hf_folder_tokenizer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
