/* test_tokenizer_hf.c: hone_tok_load_hf on Hugging Face tokenizer folders
 * (tests/fixtures/hf_tok/NAME, tokenizer.json written by HF `tokenizers`, see
 * tests/ref/make_hf_tok_fixture.py) against `tokenizers`' own ids for the same
 * strings. Tolerance: none, except that strings which the NFC normalizer (qwen2)
 * would change are left out and counted: hone does not apply NFC, as llama.cpp. Also: decode(encode(s)) == s, the chat template from
 * tokenizer_config.json, and the errors for what is not supported. */
#include <jansson.h>

#include "testutil.h"

static void run_dir(const char *name) {
    char dir[256], ids_path[300];
    snprintf(dir, sizeof dir, "tests/fixtures/hf_tok/%s", name);
    snprintf(ids_path, sizeof ids_path, "%s/ids.jsonl", dir);
    hone_err err = {0};
    hone_tok *t;
    ASSERT_OK(hone_tok_load_hf(&t, dir, &err), &err);
    assert_int_equal(hone_tok_get_kind(t), HONE_TOK_BPE);
    assert_int_equal(hone_tok_bos(t), 1); /* <|im_start|> from tokenizer_config.json */
    assert_int_equal(hone_tok_eos(t), 2);
    assert_int_equal(hone_tok_eot(t), 2); /* <|im_end|> */
    FILE *f = fopen(ids_path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0, ok = 0, rt = 0, n_rt = 0, shown = 0, n_nfc = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        json_t *jt = json_object_get(o, "text"), *ja = json_object_get(o, "ids");
        int special = json_is_true(json_object_get(o, "special"));
        if (json_is_true(json_object_get(o, "nfc_changes"))) { /* NFC is not applied: known */
            n_nfc++;
            json_decref(o);
            continue;
        }
        int32_t *ids;
        size_t nid;
        ASSERT_OK(hone_tok_encode(t, json_string_value(jt), json_string_length(jt),
                                  special ? HONE_TOK_SPECIAL : 0, &ids, &nid, &err), &err);
        int good = json_array_size(ja) == nid;
        for (size_t i = 0; good && i < nid; i++) good = json_integer_value(json_array_get(ja, i)) == ids[i];
        if (!good && shown++ < 3) {
            fprintf(stderr, "%s: MISMATCH on '%s'\n  expected:", name, json_string_value(jt));
            for (size_t i = 0; i < json_array_size(ja) && i < 30; i++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(ja, i)));
            fprintf(stderr, "\n  got:     ");
            for (size_t i = 0; i < nid && i < 30; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        ok += good;
        n++;
        char *d;
        size_t dn;
        ASSERT_OK(hone_tok_decode(t, ids, nid, special ? HONE_TOK_SPECIAL : 0, &d, &dn, &err), &err);
        n_rt++;
        rt += dn == json_string_length(jt) && !memcmp(d, json_string_value(jt), dn);
        free(d);
        free(ids);
        json_decref(o);
    }
    free(line);
    fclose(f);
    print_message("hf/%-7s %d/%d strings match HF tokenizers' ids, %d/%d round trips exact"
                  "%s%.0d%s\n", name, ok, n, rt, n_rt, n_nfc ? " (" : "", n_nfc,
                  n_nfc ? " strings that NFC would change left out: normalizer not applied)" : "");
    assert_true(n >= 250);
    assert_int_equal(ok, n);
    assert_int_equal(rt, n_rt);
    const char *tmpl = hone_tok_chat_template(t); /* from tokenizer_config.json */
    assert_non_null(tmpl);
    assert_non_null(strstr(tmpl, "<|im_start|>' + m['role']"));
    hone_tok_free(t);
}

static void test_smollm(void **state) { run_dir("smollm"); }
static void test_llama3(void **state) { run_dir("llama3"); }
static void test_qwen2(void **state) { run_dir("qwen2"); }

static void expect_unsupported(const char *json, const char *needle) {
    char dir[] = "/tmp/hone-hf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[300];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
    hone_err err = {0};
    hone_tok *t;
    assert_int_equal(hone_tok_load_hf(&t, dir, &err), HONE_EUNSUPPORTED);
    if (!strstr(err.msg, needle)) fail_msg("'%s' lacks '%s'", err.msg, needle);
    unlink(p);
    rmdir(dir);
}

static void test_errors(void **state) {
    expect_unsupported("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "Unigram");
    expect_unsupported("{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {}, \"merges\": []}}",
                       "byte_fallback");
    expect_unsupported("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                       " \"pre_tokenizer\": {\"type\": \"Metaspace\"}}", "Metaspace");
    expect_unsupported("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},"
                       " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"ByteLevel\"},"
                       " {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, \"behavior\": \"Removed\"}]}}",
                       "pre_tokenizer.pretokenizers[1]");
    hone_err err = {0};
    hone_tok *t;
    assert_int_equal(hone_tok_load_hf(&t, "/nonexistent-dir", &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/tokenizer.json"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smollm),
        cmocka_unit_test(test_llama3),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
