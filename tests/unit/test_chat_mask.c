/* test_chat_mask.c: the supervised-token mask (hone_chat_mask) covers exactly each assistant
 * message's content and its end-of-turn token, for every built-in template that has a
 * matching vocabulary here and every conversation of tests/fixtures/chat_templates.json.
 *
 * The mask is what hone computes from hone_chat_render's spans and the encoding; it is checked
 * against two things that do not use the spans:
 *   1. decode: the masked tokens of assistant message i form one run whose decoding
 *      (HONE_TOK_SPECIAL) is exactly W + shown + eot, where shown is the content as the
 *      template writes it (fixture "shown", computed by Python from transformers' rendering),
 *      eot the template's end-of-turn marker (fixture "eot") and W whitespace the template
 *      wrote right before the content that the first content token carries: SentencePiece's
 *      "▁Hello" after "[/INST]", or byte-level BPE's "\n " when ChatML's "assistant\n" meets
 *      content that starts with spaces (the pre-tokenizer's \s+(?!\S) takes the newline and
 *      all spaces but the last). No other token is masked.
 *   2. boundaries (vocabularies without an SPM space prefix, where encoding a substring is
 *      well defined): encode(text[0:a]) ++ encode(text[a:b]) ++ encode(text[b:]) equals the
 *      encoding of the whole text, for a = b - |W + shown + eot| and b the end of eot: the
 *      supervised bytes start and end on token boundaries of the real encoding.
 * Exact comparisons, no tolerance: token ids and bytes.
 * Vocabularies: Gemma 3 (gemma) and SmolLM2 (chatml, smollm2, chatml-plain)
 * from $HONE_MODELS; llama.cpp's vocab-only Llama 2 SPM file (mistral, whose v0.2 vocabulary
 * it is) and DeepSeek LLM (deepseek) from ../shared/testdata/tokenizer. Each is skipped with a
 * message when absent. Not covered: llama3* (no Llama 3 vocabulary here), and seed, raw and
 * file: templates (no transformers rendering in the fixture). */
#include <jansson.h>

#include "testutil.h"

#define FIXTURE "tests/fixtures/chat_templates.json"

static const char *testdata_file(const char *name) {
    static char buf[4096];
    const char *e = getenv("HONE_TESTDATA");
    snprintf(buf, sizeof buf, "%s/tokenizer/%s", e ? e : "../shared/testdata", name);
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static int is_asst(const char *role) { return !strcmp(role, "assistant") || !strcmp(role, "model"); }

static int ids_eq(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* Checks one fixture case; returns the number of assistant messages checked, -1 on failure. */
static int check_case(const hone_tok *tok, const char *tname, const char *eot, const char *date, json_t *c) {
    if (json_object_get(c, "error")) return 0;
    json_t *jm = json_object_get(c, "messages"), *jshown = json_object_get(c, "shown");
    size_t n = json_array_size(jm);
    hone_chat_msg *msgs = calloc(n, sizeof *msgs);
    hone_chat_span *spans = calloc(n, sizeof *spans);
    for (size_t i = 0; i < n; i++) {
        msgs[i].role = json_string_value(json_object_get(json_array_get(jm, i), "role"));
        msgs[i].content = json_string_value(json_object_get(json_array_get(jm, i), "content"));
    }
    const char *title = json_string_value(json_object_get(c, "title"));
    int gen = json_is_true(json_object_get(c, "add_generation_prompt"));
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, tname, &err), &err);
    if (date) ASSERT_OK(hone_chat_template_set_date(t, date, &err), &err);
    char *text;
    size_t len, nid;
    int32_t *ids;
    ASSERT_OK(hone_chat_render(t, msgs, n, gen, &text, &len, spans, &err), &err);
    ASSERT_OK(hone_tok_encode(tok, text, len, HONE_TOK_SPECIAL, &ids, &nid, &err), &err);
    unsigned char *mask = calloc(nid + 1, 1);
    ASSERT_OK(hone_chat_mask(tok, t, text, len, msgs, spans, n, ids, nid, mask, &err), &err);
    int prefix = hone_tok_get_kind(tok) == HONE_TOK_SPM && hone_tok_add_space_prefix(tok);
    size_t eot_len = eot ? strlen(eot) : 0, k = 0, n_masked = 0, n_run = 0;
    int checked = 0, ok = 1;
    for (size_t i = 0; i < nid; i++) n_masked += mask[i];
    for (size_t i = 0; i < n && ok; i++) {
        if (!is_asst(msgs[i].role) || json_is_null(json_array_get(jshown, i))) continue;
        const char *shown = json_string_value(json_array_get(jshown, i));
        /* the next run of masked tokens belongs to this message */
        while (k < nid && !mask[k]) k++;
        size_t k0 = k;
        while (k < nid && mask[k]) k++;
        n_run += k - k0;
        char *dec;
        size_t dl;
        ASSERT_OK(hone_tok_decode(tok, ids + k0, k - k0, HONE_TOK_SPECIAL, &dec, &dl, &err), &err);
        size_t sl = strlen(shown), w = dl >= sl + eot_len ? dl - sl - eot_len : (size_t)-1;
        /* W: whitespace the template wrote right before the content */
        int w_ok = w != (size_t)-1 && w <= spans[i].begin && !memcmp(dec, text + spans[i].begin - w, w);
        for (size_t j = 0; w_ok && j < w; j++) w_ok = memchr(" \t\n\r", dec[j], 4) != NULL;
        if (!w_ok || memcmp(dec + w, shown, sl) != 0 ||
            (eot_len && memcmp(dec + w + sl, eot, eot_len) != 0)) {
            print_error("%s / %s (gen=%d): assistant %zu: masked tokens %zu..%zu decode to [%.*s], want [%s%s]\n",
                        tname, title, gen, i, k0, k, (int)dl, dec, shown, eot ? eot : "");
            ok = 0;
        }
        if (ok && !prefix) {
            /* the whole text cut at [a, b) and encoded piecewise gives the same ids */
            size_t b = spans[i].end + (eot_len && !memcmp(text + spans[i].end, eot, eot_len) ? eot_len : 0);
            size_t a = b - dl;
            int32_t *p[3];
            size_t np[3], cut[4] = {0, a, b, len}, tot = 0;
            for (int s = 0; s < 3; s++) {
                ASSERT_OK(hone_tok_encode(tok, text + cut[s], cut[s + 1] - cut[s], HONE_TOK_SPECIAL, &p[s], &np[s], &err),
                          &err);
                tot += np[s];
            }
            if (tot != nid || !ids_eq(p[0], np[0], ids, np[0]) || !ids_eq(p[1], np[1], ids + np[0], np[1]) ||
                !ids_eq(p[2], np[2], ids + np[0] + np[1], np[2]) || np[0] != k0 || np[1] != k - k0) {
                print_error("%s / %s (gen=%d): assistant %zu: bytes [%zu, %zu) are not on token boundaries "
                            "(piecewise %zu+%zu+%zu ids, whole %zu, masked run %zu..%zu)\n",
                            tname, title, gen, i, a, b, np[0], np[1], np[2], nid, k0, k);
                ok = 0;
            }
            for (int s = 0; s < 3; s++) free(p[s]);
        }
        free(dec);
        checked++;
    }
    if (ok && n_run != n_masked) {
        print_error("%s / %s (gen=%d): %zu tokens masked, %zu in assistant runs\n", tname, title, gen, n_masked,
                    n_run);
        ok = 0;
    }
    free(mask);
    free(ids);
    free(text);
    hone_chat_template_close(t);
    free(msgs);
    free(spans);
    return ok ? checked : -1;
}

static void run_vocab(const char *path, const char *const *tnames) {
    hone_err err = {0};
    hone_gguf *g;
    hone_tok *tok;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&tok, g, &err), &err);
    json_error_t je;
    json_t *root = json_load_file(FIXTURE, 0, &je);
    if (!root) fail_msg("%s: line %d: %s", FIXTURE, je.line, je.text);
    int bad = 0;
    for (const char *const *tn = tnames; *tn; tn++) {
        json_t *tj = NULL, *v;
        size_t i;
        json_array_foreach(json_object_get(root, "templates"), i, v) {
            if (!strcmp(json_string_value(json_object_get(v, "name")), *tn)) tj = v;
        }
        if (!tj) fail_msg("%s: no template %s", FIXTURE, *tn);
        const char *eot = json_string_value(json_object_get(tj, "eot"));
        const char *date = json_string_value(json_object_get(json_object_get(tj, "specials"), "date_string"));
        int cases = 0, msgs = 0;
        json_array_foreach(json_object_get(tj, "cases"), i, v) {
            int r = check_case(tok, *tn, eot, date, v);
            if (r < 0) bad++;
            else msgs += r, cases += r > 0;
        }
        print_message("%s with %s: %d conversations, %d assistant messages: mask == content + eot\n", *tn,
                      strrchr(path, '/') + 1, cases, msgs);
        if (cases == 0) fail_msg("%s: no case with an assistant message", *tn);
    }
    json_decref(root);
    hone_tok_free(tok);
    hone_gguf_close(g);
    if (bad) fail_msg("%d cases with a wrong mask", bad);
}

static void test_gemma(void **state) {
    (void)state;
    REQUIRE_MODEL(path, GEMMA_GGUF);
    static const char *const names[] = {"gemma", NULL};
    run_vocab(path, names);
}

static void test_smollm2(void **state) {
    (void)state;
    REQUIRE_MODEL(path, SMOL_GGUF);
    static const char *const names[] = {"smollm2", "chatml", "chatml-plain", NULL};
    run_vocab(path, names);
}

static void test_testdata(void **state) {
    (void)state;
    const char *spm = testdata_file("ggml-vocab-llama-spm.gguf");
    if (!spm) {
        print_message("[ SKIPPED  ] ../shared/testdata/tokenizer not found\n");
        skip();
    }
    static const char *const mistral[] = {"mistral", NULL};
    run_vocab(spm, mistral);
    const char *ds = testdata_file("ggml-vocab-deepseek-llm.gguf");
    if (ds) {
        static const char *const deepseek[] = {"deepseek", NULL};
        run_vocab(ds, deepseek);
    }
}

/* ids that are not the encoding of the text are refused, not masked by guesswork */
static void test_mismatch(void **state) {
    (void)state;
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_err err = {0};
    hone_gguf *g;
    hone_tok *tok;
    hone_chat_template *t;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&tok, g, &err), &err);
    ASSERT_OK(hone_chat_template_open(&t, "chatml-plain", &err), &err);
    hone_chat_msg m[2] = {{"user", "Hi"}, {"assistant", "Hello there"}};
    hone_chat_span sp[2];
    char *text;
    size_t len, nid;
    int32_t *ids;
    ASSERT_OK(hone_chat_render(t, m, 2, 0, &text, &len, sp, &err), &err);
    ASSERT_OK(hone_tok_encode(tok, text, len, HONE_TOK_SPECIAL, &ids, &nid, &err), &err);
    unsigned char mask[64];
    assert_true(nid <= sizeof mask);
    ASSERT_OK(hone_chat_mask(tok, t, text, len, m, sp, 2, ids, nid, mask, &err), &err);
    /* "Hello", " there", "<|im_end|>" and nothing else */
    size_t nm = 0;
    for (size_t k = 0; k < nid; k++) nm += mask[k];
    assert_int_equal(nm, 3);
    assert_int_equal(mask[nid - 2], 1); /* <|im_end|> (then "\n") */
    assert_int_equal(mask[nid - 1], 0);
    ids[1] = ids[1] == 198 ? 199 : 198; /* one wrong id */
    assert_int_equal(hone_chat_mask(tok, t, text, len, m, sp, 2, ids, nid, mask, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "chat mask"));
    assert_int_equal(hone_chat_mask(tok, t, text, len, m, sp, 2, ids, nid - 1, mask, &err), HONE_EARG);
    free(ids);
    free(text);
    hone_chat_template_close(t);
    hone_tok_free(tok);
    hone_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma),
        cmocka_unit_test(test_smollm2),
        cmocka_unit_test(test_testdata),
        cmocka_unit_test(test_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
