/* test_tokenizer_hf_spm.c: hone_tok_load_hf on SentencePiece-style Hugging Face
 * tokenizer folders (model.type "BPE" with byte_fallback; tests/fixtures/hf_tok/
 * spm_{llama,legacy,gemma}, written by tests/ref/make_hf_spm_fixture.py from the
 * Llama 2 vocabulary as transformers' GGUF converter turns it into tokenizer.json)
 * against HF `tokenizers`' own ids and decoded text for the same strings.
 * Tolerance: none (every id and every decoded byte must match). Also the special
 * ids from tokenizer_config.json, add_bos from the post_processor, and the errors
 * for what is not supported. */
#include <jansson.h>

#include "testutil.h"

static void run_dir(const char *name, int space_prefix) {
    char dir[256], ids_path[300];
    snprintf(dir, sizeof dir, "tests/fixtures/hf_tok/%s", name);
    snprintf(ids_path, sizeof ids_path, "%s/ids.jsonl", dir);
    hone_err err = {0};
    hone_tok *t;
    ASSERT_OK(hone_tok_load_hf(&t, dir, &err), &err);
    assert_int_equal(hone_tok_get_kind(t), HONE_TOK_SPM);
    assert_int_equal(hone_tok_bos(t), 1); /* <s> */
    assert_int_equal(hone_tok_eos(t), 2); /* </s> */
    assert_int_equal(hone_tok_unk(t), 0);
    assert_int_equal(hone_tok_add_bos(t), 1); /* TemplateProcessing: <s> $A */
    assert_int_equal(hone_tok_add_space_prefix(t), space_prefix);
    assert_int_equal(hone_tok_token_type(t, 3), HONE_TOKT_BYTE); /* <0x00> */
    int32_t eot = hone_tok_find(t, "<end_of_turn>", 13);
    assert_true(eot > 0);
    assert_int_equal(hone_tok_eot(t), eot);
    FILE *f = fopen(ids_path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0, ok = 0, dok = 0, shown = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        json_t *jt = json_object_get(o, "text"), *ja = json_object_get(o, "ids");
        json_t *jd = json_object_get(o, "decoded");
        if (!jd) jd = jt; /* absent: decodes back to the text */
        unsigned fl = json_is_true(json_object_get(o, "special")) ? HONE_TOK_SPECIAL : 0;
        int32_t *ids;
        size_t nid;
        ASSERT_OK(hone_tok_encode(t, json_string_value(jt), json_string_length(jt), fl, &ids, &nid, &err),
                  &err);
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
        /* decode HF's ids (so a decode check does not hang on an encode mismatch) */
        size_t nref = json_array_size(ja);
        int32_t *ref = malloc((nref ? nref : 1) * sizeof *ref);
        for (size_t i = 0; i < nref; i++) ref[i] = (int32_t)json_integer_value(json_array_get(ja, i));
        char *d;
        size_t dn;
        ASSERT_OK(hone_tok_decode(t, ref, nref, fl, &d, &dn, &err), &err);
        int dgood = dn == json_string_length(jd) && !memcmp(d, json_string_value(jd), dn);
        if (!dgood && shown++ < 3)
            fprintf(stderr, "%s: DECODE MISMATCH: expected '%s', got '%s'\n", name, json_string_value(jd), d);
        dok += dgood;
        free(d);
        free(ref);
        free(ids);
        json_decref(o);
    }
    free(line);
    fclose(f);
    print_message("hf/%-10s %d/%d strings match HF tokenizers' ids, %d/%d decodes match HF's\n", name, ok, n,
                  dok, n);
    assert_true(n >= 300);
    assert_int_equal(ok, n);
    assert_int_equal(dok, n);
    const char *tmpl = hone_tok_chat_template(t);
    assert_non_null(tmpl);
    assert_non_null(strstr(tmpl, "<start_of_turn>"));
    hone_tok_free(t);
}

static void test_spm_llama(void **state) { run_dir("spm_llama", 1); }
static void test_spm_legacy(void **state) { run_dir("spm_legacy", 1); }
static void test_spm_gemma(void **state) { run_dir("spm_gemma", 0); }

static void expect_load(const char *json, int want, const char *needle) {
    hone_err err = {0};
    hone_tok *t = NULL;
    int rc = hone_tok_load_hf_mem(&t, json, strlen(json), NULL, 0, &err);
    if (rc != want) fail_msg("rc %d, want %d (%s) for %s", rc, want, err.msg, json);
    if (needle && !strstr(err.msg, needle)) fail_msg("'%s' lacks '%s'", err.msg, needle);
    hone_tok_free(t);
}

#define SPM_MODEL "\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}"

static void test_spm_errors(void **state) {
    expect_load("{" SPM_MODEL "}", HONE_EUNSUPPORTED, "not mapped to");
    expect_load("{" SPM_MODEL ", \"normalizer\": {\"type\": \"NFKC\"}}", HONE_EUNSUPPORTED, "normalizer 'NFKC'");
    expect_load("{" SPM_MODEL ", \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": "
                "\"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}, {\"type\": \"Lowercase\"}]}}",
                HONE_EUNSUPPORTED, "normalizer.normalizers[1]");
    expect_load("{" SPM_MODEL ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", "
                "\"prepend_scheme\": \"first\", \"split\": true}}", HONE_EUNSUPPORTED, "split");
    expect_load("{" SPM_MODEL ", \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", HONE_EUNSUPPORTED, "ByteLevel");
    /* the smallest accepted one */
    expect_load("{" SPM_MODEL ", \"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", "
                "\"prepend_scheme\": \"always\", \"split\": false}}", HONE_OK, NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_llama),
        cmocka_unit_test(test_spm_legacy),
        cmocka_unit_test(test_spm_gemma),
        cmocka_unit_test(test_spm_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
