/* test_chat_template.c: hone's built-in chat templates against jinja2 renderings
 * of the families' Jinja templates (tests/fixtures/chat_templates.jsonl, made by
 * tests/ref/make_chat_fixture.py the way transformers' apply_chat_template renders).
 * Tolerance: none, byte-identical text. Also checks every message span: the
 * content as rendered (trimmed where the template trims) and the closing marker
 * that [end, end_turn) adds. The "chatml-smollm2" cases use the template found in
 * the SmolLM2 GGUF (skipped when the model is absent). */
#define _GNU_SOURCE
#include <jansson.h>

#include "testutil.h"

static const char *marker(const char *tmpl, int is_user, const char *eos) {
    if (!strcmp(tmpl, "gemma")) return "<end_of_turn>";
    if (!strcmp(tmpl, "chatml")) return "<|im_end|>";
    if (!strcmp(tmpl, "llama3")) return "<|eot_id|>";
    if (!strcmp(tmpl, "mistral")) return is_user ? "" : eos;
    if (!strcmp(tmpl, "seed")) return eos;
    if (!strcmp(tmpl, "deepseek")) return is_user ? "" : eos;
    return "";
}

/* The fixture's contents only hold ASCII whitespace and U+3000 at their ends. */
static void trim_ref(const char *s, const char **a, size_t *n) {
    size_t len = strlen(s), i = 0, e = len;
    for (;;) {
        if (i < e && strchr(" \t\n\r", s[i])) i++;
        else if (i + 3 <= e && !memcmp(s + i, "\xE3\x80\x80", 3)) i += 3;
        else break;
    }
    for (;;) {
        if (e > i && strchr(" \t\n\r", s[e - 1])) e--;
        else if (e >= i + 3 && !memcmp(s + e - 3, "\xE3\x80\x80", 3)) e -= 3;
        else break;
    }
    *a = s + i;
    *n = e - i;
}

static void test_fixture(void **state) {
    FILE *f = fopen("tests/fixtures/chat_templates.jsonl", "r");
    assert_non_null(f);
    const char *smol = test_model_path(SMOL_GGUF);
    hone_gguf *sg = NULL;
    hone_tok *st = NULL;
    hone_err err = {0};
    if (smol) {
        ASSERT_OK(hone_gguf_open(&sg, smol, &err), &err);
        ASSERT_OK(hone_tok_load_gguf(&st, sg, &err), &err);
    } else {
        print_message("[ SKIPPED  ] chatml-smollm2 cases: %s not found\n", SMOL_GGUF);
    }
    char *line = NULL;
    size_t cap = 0;
    int n = 0, ok = 0, skipped = 0, spans_ok = 0, n_spans = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        const char *label = json_string_value(json_object_get(o, "label"));
        const char *tname = json_string_value(json_object_get(o, "template"));
        const char *eos = json_string_value(json_object_get(o, "eos"));
        hone_chat *c;
        if (!strcmp(label, "chatml-smollm2")) {
            if (!st) {
                skipped++;
                json_decref(o);
                continue;
            }
            ASSERT_OK(hone_chat_open(&c, sg, st, NULL, &err), &err);
            assert_string_equal(hone_chat_name(c), "chatml");
        } else {
            ASSERT_OK(hone_chat_open(&c, NULL, NULL, tname, &err), &err);
        }
        json_t *jm = json_object_get(o, "messages");
        size_t nm = json_array_size(jm);
        hone_chat_msg msgs[16];
        hone_chat_span sp[16];
        for (size_t i = 0; i < nm; i++) {
            msgs[i].role = json_string_value(json_object_get(json_array_get(jm, i), "role"));
            msgs[i].content = json_string_value(json_object_get(json_array_get(jm, i), "content"));
        }
        char *text;
        size_t len;
        ASSERT_OK(hone_chat_render(c, msgs, nm, json_is_true(json_object_get(o, "gen")), &text, &len, sp,
                                   &err), &err);
        const char *want = json_string_value(json_object_get(o, "text"));
        int good = len == strlen(want) && !memcmp(text, want, len);
        if (!good) fprintf(stderr, "%s: MISMATCH\n  expected: '%s'\n  got:      '%s'\n", label, want, text);
        ok += good;
        n++;
        int folded = strcmp(tname, "chatml") && strcmp(tname, "llama3") && strcmp(tname, "raw") &&
                     nm && !strcmp(msgs[0].role, "system");
        for (size_t i = folded ? 1 : 0; i < nm; i++) {
            const char *a = msgs[i].content;
            if (!strcmp(tname, "deepseek") && !strcmp(msgs[i].role, "assistant") && strstr(a, "</think>"))
                a = strstr(a, "</think>") + 8;
            size_t al = strlen(a);
            if (!strcmp(tname, "gemma") || !strcmp(tname, "llama3")) trim_ref(a, &a, &al);
            const char *mk = marker(tname, !strcmp(msgs[i].role, "user"), eos);
            int g = sp[i].end - sp[i].start == al && !memcmp(text + sp[i].start, a, al) &&
                    sp[i].end_turn - sp[i].end == strlen(mk) && !memcmp(text + sp[i].end, mk, strlen(mk));
            if (!g) fprintf(stderr, "%s: span of message %zu wrong\n", label, i);
            spans_ok += g;
            n_spans++;
        }
        free(text);
        hone_chat_free(c);
        json_decref(o);
    }
    free(line);
    fclose(f);
    print_message("chat templates: %d/%d renderings byte-identical to jinja2, %d/%d spans right%s\n", ok,
                  n, spans_ok, n_spans, skipped ? " (chatml-smollm2 cases skipped)" : "");
    assert_true(n >= 90);
    assert_int_equal(ok, n);
    assert_int_equal(spans_ok, n_spans);
    hone_tok_free(st);
    if (sg) hone_gguf_close(sg);
}

static void test_errors(void **state) {
    hone_err err = {0};
    hone_chat *c;
    assert_int_equal(hone_chat_open(&c, NULL, NULL, "nope", &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "'nope'"));
    assert_int_equal(hone_chat_open(&c, NULL, NULL, NULL, &err), HONE_EUNSUPPORTED);
    ASSERT_OK(hone_chat_open(&c, NULL, NULL, "gemma", &err), &err);
    hone_chat_msg bad[] = {{"user", "a"}, {"user", "b"}};
    char *text;
    size_t len;
    assert_int_equal(hone_chat_render(c, bad, 2, 0, &text, &len, NULL, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "alternate"));
    hone_chat_msg odd[] = {{"robot", "a"}};
    assert_int_equal(hone_chat_render(c, odd, 1, 0, &text, &len, NULL, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "robot"));
    assert_null(hone_chat_warning(c));
    hone_chat_free(c);
    ASSERT_OK(hone_chat_open(&c, NULL, NULL, "seed", &err), &err);
    assert_non_null(hone_chat_warning(c));
    hone_chat_free(c);
}

static void test_detect_gemma_from_vocab(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_err err = {0};
    hone_gguf *g;
    hone_tok *t;
    hone_chat *c;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&t, g, &err), &err);
    ASSERT_OK(hone_chat_open(&c, g, t, NULL, &err), &err); /* no tokenizer.chat_template: vocab */
    assert_string_equal(hone_chat_name(c), "gemma");
    hone_chat_msg m[] = {{"user", "Hi"}, {"assistant", "Hello"}};
    char *text;
    size_t len;
    hone_chat_span sp[2];
    ASSERT_OK(hone_chat_render(c, m, 2, 0, &text, &len, sp, &err), &err);
    /* the supervised span tokenizes to exactly "Hello<end_of_turn>" */
    int32_t *ids;
    size_t n;
    ASSERT_OK(hone_tok_encode(t, text + sp[1].start, sp[1].end_turn - sp[1].start, HONE_TOK_SPECIAL, &ids,
                              &n, &err), &err);
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], hone_tok_eot(t));
    free(ids);
    free(text);
    hone_chat_free(c);
    hone_tok_free(t);
    hone_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_detect_gemma_from_vocab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
