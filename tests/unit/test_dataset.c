/* test_dataset.c: hone/dataset.h: loading the three record formats, stop vs collect mode, and
 * hone_ds_tokenize's ids and supervised mask.
 *
 * References:
 *   - hand-checked ids of the Gemma 3 vocabulary (`hone tokenize --pieces` output read by hand:
 *     <bos>=2 <eos>=1 <start_of_turn>=105 <end_of_turn>=106 "\n"=107 "user"=2364 "Hi"=10979
 *     "model"=4368 "Hello"=9259 "▁world"=1902) for a two-message conversation and a text;
 *   - tests/fixtures/chat_templates.json (transformers' rendering of each template): for every
 *     case that is a complete training conversation, the ids must be exactly the encoding of
 *     the fixture's "expected" text (plus BOS where the model adds one and the text lacks it),
 *     and the supervised tokens must decode to whitespace + the fixture's "shown" content of
 *     the final assistant message + the template's end-of-turn marker, in one run.
 * Exact comparisons (ids, bytes): no tolerance. Tests that need a model skip when absent. */
#include <jansson.h>

#include "testutil.h"

#define FIXTURE "tests/fixtures/chat_templates.json"

static hone_tok *load_tok(const char *path, hone_gguf **g) {
    hone_err err = {0};
    hone_tok *t;
    ASSERT_OK(hone_gguf_open(g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&t, *g, &err), &err);
    return t;
}

static hone_ds *load_str(const char *s, hone_ds_diags *dg) {
    hone_ds *ds;
    hone_err err = {0};
    ASSERT_OK(hone_ds_load_mem(&ds, "mem.jsonl", s, strlen(s), dg, &err), &err);
    return ds;
}

static void test_formats(void **state) {
    hone_ds *ds = load_str("{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": \"Q\"},"
                           " {\"role\": \"model\", \"content\": \"A\"}], \"id\": 1}\n\n"
                           "{\"messages\": [{\"role\": \"user\", \"content\": \"Q2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}\r\n",
                           NULL);
    assert_int_equal(ds->format, HONE_DS_MESSAGES);
    assert_int_equal(ds->n, 2);
    assert_int_equal(ds->n_lines, 3);
    assert_int_equal(ds->recs[0].line, 1);
    assert_int_equal(ds->recs[1].line, 3);
    assert_int_equal(ds->recs[0].n_msgs, 3);
    assert_string_equal(ds->recs[0].msgs[2].role, "assistant"); /* "model" normalised */
    assert_string_equal(ds->recs[0].msgs[2].content, "A");
    assert_string_equal(ds->recs[1].raw,
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"Q2\"}, {\"role\": \"assistant\", \"content\": \"A2\"}]}");
    hone_ds_free(ds);

    ds = load_str("{\"prompt\": \"p\", \"completion\": \"c\", \"system\": \"s\"}\n{\"prompt\": \"p2\", \"completion\": \"\"}", NULL);
    assert_int_equal(ds->format, HONE_DS_PROMPT_COMPLETION);
    assert_int_equal(ds->recs[0].n_msgs, 3);
    assert_string_equal(ds->recs[0].msgs[0].role, "system");
    assert_string_equal(ds->recs[0].msgs[1].content, "p");
    assert_string_equal(ds->recs[0].msgs[2].content, "c");
    assert_int_equal(ds->recs[1].n_msgs, 2);
    assert_string_equal(ds->recs[1].msgs[1].content, "");
    hone_ds_free(ds);

    ds = load_str("{\"text\": \"a\\nb \\u00e9\"}\n", NULL);
    assert_int_equal(ds->format, HONE_DS_TEXT);
    assert_string_equal(ds->recs[0].text, "a\nb \xc3\xa9");
    assert_null(ds->recs[0].msgs);
    hone_ds_free(ds);

    hone_ds_format f;
    hone_err err = {0};
    ASSERT_OK(hone_ds_format_parse("prompt-completion", &f, &err), &err);
    assert_int_equal(f, HONE_DS_PROMPT_COMPLETION);
    assert_int_equal(hone_ds_format_parse("jsonl", &f, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "messages, prompt-completion, text"));
}

/* Collect mode: every defect, in line order, the bad records left out; stop mode: the first. */
static void test_collect(void **state) {
    const char *s =
        "{\"text\": \"ok\"}\n"
        "{\"text\": 1}\n"
        "{\"text\": \"ok\", \"tools\": []}\n"
        "not json\n"
        "{\"messages\": []}\n"
        "{\"text\": \"ok\"}\n";
    hone_ds_diags dg = {0};
    hone_ds *ds = load_str(s, &dg);
    assert_int_equal(ds->n, 3);
    assert_int_equal(dg.n, 4);
    assert_int_equal(dg.n_errors, 3);
    assert_int_equal(dg.n_warnings, 1);
    assert_string_equal(dg.v[0].msg, "mem.jsonl:2:2: text: expected a string, found a number");
    assert_string_equal(dg.v[1].msg, "mem.jsonl:3:16: tools: ignored (hone trains the messages only, without tool definitions)");
    assert_int_equal(dg.v[1].severity, HONE_DS_WARNING);
    assert_int_equal(dg.v[2].line, 4);
    assert_int_equal(dg.v[2].kind, HONE_DSK_SYNTAX);
    assert_string_equal(dg.v[3].msg, "mem.jsonl:5:2: a messages record in a text file (format set by line 1)");
    assert_int_equal(ds->recs[2].line, 6);
    assert_int_equal(ds->recs[1].has_tools, 1);
    hone_ds_free(ds);
    /* sorting keeps line order and breaks ties by column */
    hone_ds_diags_sort(&dg);
    assert_int_equal(dg.v[0].line, 2);
    assert_int_equal(dg.v[3].line, 5);
    hone_ds_diags_free(&dg);

    hone_err err = {0};
    assert_int_equal(hone_ds_load_mem(&ds, "mem.jsonl", s, strlen(s), NULL, &err), HONE_EFORMAT);
    assert_null(ds);
    assert_string_equal(err.msg, "mem.jsonl:2:2: text: expected a string, found a number");
}

static void assert_ids(const int32_t *got, size_t n, const int32_t *want, size_t nw) {
    if (n != nw) fail_msg("%zu ids, want %zu", n, nw);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("id %zu: %d, want %d", i, got[i], want[i]);
}

static void test_gemma_hand(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_gguf *g;
    hone_tok *tok = load_tok(path, &g);
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, "gemma", &err), &err);
    hone_ds *ds = load_str("{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n"
                           "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hi\"},"
                           " {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n",
                           NULL);
    static const int32_t want[] = {2, 105, 2364, 107, 10979, 106, 107, 105, 4368, 107, 9259, 106, 107};
    static const unsigned char want_mask[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
    hone_ds_tok_opts o = {.tok = tok, .tmpl = t, .mask_prompt = 1};
    hone_ds_example ex;
    ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), &err);
    assert_ids(ex.ids, ex.n, want, 13);
    assert_memory_equal(ex.mask, want_mask, 13);
    assert_int_equal(ex.n_supervised, 2);
    assert_int_equal(ex.answer_tokens, 1);
    assert_int_equal(ex.eos_appended, 0); /* <end_of_turn> is an end-of-generation token */
    hone_ds_example_free(&ex);
    o.mask_prompt = 0;
    ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), &err);
    assert_ids(ex.ids, ex.n, want, 13);
    assert_int_equal(ex.mask[0], 0);
    for (size_t i = 1; i < ex.n; i++) assert_int_equal(ex.mask[i], 1);
    assert_int_equal(ex.n_supervised, 12);
    hone_ds_example_free(&ex);
    /* multi-turn: only the final answer; the earlier "Hi" answer is not supervised */
    o.mask_prompt = 1;
    ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[1], &ex, &err), &err);
    static const int32_t want2[] = {2, 105, 2364, 107, 10979, 106, 107, 105, 4368, 107, 10979, 106, 107,
                                    105, 2364, 107, 10979, 106, 107, 105, 4368, 107, 9259, 106, 107};
    assert_ids(ex.ids, ex.n, want2, 25);
    for (size_t i = 0; i < ex.n; i++) assert_int_equal(ex.mask[i], i == 22 || i == 23);
    hone_ds_example_free(&ex);
    hone_ds_free(ds);

    /* prompt-completion gives the same tokens as the equivalent conversation */
    ds = load_str("{\"prompt\": \"Hi\", \"completion\": \"Hello\"}", NULL);
    ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), &err);
    assert_ids(ex.ids, ex.n, want, 13);
    assert_memory_equal(ex.mask, want_mask, 13);
    hone_ds_example_free(&ex);
    hone_ds_free(ds);

    /* text: BOS (add_bos_token is set) + text + EOS appended, all but the first supervised */
    ds = load_str("{\"text\": \"Hello world\"}\n{\"text\": \"<bos>Hello world<eos>\"}\n", NULL);
    static const int32_t want3[] = {2, 9259, 1902, 1};
    for (int i = 0; i < 2; i++) {
        o.mask_prompt = i; /* text records ignore mask_prompt */
        ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[i], &ex, &err), &err);
        assert_ids(ex.ids, ex.n, want3, 4);
        assert_memory_equal(ex.mask, ((unsigned char[]){0, 1, 1, 1}), 4);
        assert_int_equal(ex.eos_appended, i == 0);
        assert_int_equal(ex.n_supervised, 3);
        hone_ds_example_free(&ex);
    }
    hone_ds_free(ds);

    /* the raw template has no end-of-turn token: EOS is appended and supervised */
    hone_chat_template *raw;
    ASSERT_OK(hone_chat_template_open(&raw, "raw", &err), &err);
    ds = load_str("{\"prompt\": \"Hi\", \"completion\": \"Hello\"}", NULL);
    o.tmpl = raw;
    ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), &err);
    assert_ids(ex.ids, ex.n, ((int32_t[]){2, 10979, 9259, 1}), 4);
    assert_memory_equal(ex.mask, ((unsigned char[]){0, 0, 1, 1}), 4);
    assert_int_equal(ex.eos_appended, 1);
    hone_ds_example_free(&ex);
    /* no template for a chat record: an error naming the line */
    o.tmpl = NULL;
    assert_int_equal(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "mem.jsonl:1:1: a prompt-completion record needs a chat template"));
    hone_ds_free(ds);
    hone_chat_template_close(raw);
    hone_chat_template_close(t);
    hone_tok_free(tok);
    hone_gguf_close(g);
}

/* Every complete training conversation of the fixture for template tname. */
static void fixture_cases(const char *model_file, const char *tname) {
    REQUIRE_MODEL(path, model_file);
    hone_gguf *g;
    hone_tok *tok = load_tok(path, &g);
    json_error_t je;
    json_t *fx = json_load_file(FIXTURE, 0, &je);
    if (!fx) fail_msg("%s: %s", FIXTURE, je.text);
    json_t *tj = NULL, *ts = json_object_get(fx, "templates");
    for (size_t i = 0; i < json_array_size(ts); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(ts, i), "name")), tname)) tj = json_array_get(ts, i);
    assert_non_null(tj);
    const char *eot = json_string_value(json_object_get(tj, "eot"));
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, tname, &err), &err);
    int checked = 0;
    json_t *cases = json_object_get(tj, "cases");
    for (size_t ci = 0; ci < json_array_size(cases); ci++) {
        json_t *c = json_array_get(cases, ci), *msgs = json_object_get(c, "messages");
        size_t nm = json_array_size(msgs);
        const char *last = json_string_value(json_object_get(json_array_get(msgs, nm - 1), "role"));
        if (json_object_get(c, "error") || json_is_true(json_object_get(c, "add_generation_prompt")) ||
            (strcmp(last, "assistant") && strcmp(last, "model")))
            continue;
        json_t *rec = json_pack("{sO}", "messages", msgs);
        char *line = json_dumps(rec, JSON_COMPACT);
        json_decref(rec);
        hone_ds_diags dg = {0};
        hone_ds *ds = load_str(line, &dg);
        free(line);
        if (dg.n_errors) { /* e.g. two system messages: the loader refuses what training must not take */
            hone_ds_diags_free(&dg);
            hone_ds_free(ds);
            continue;
        }
        hone_ds_diags_free(&dg);
        const char *expected = json_string_value(json_object_get(c, "expected"));
        int32_t *want;
        size_t nw;
        ASSERT_OK(hone_tok_encode(tok, expected, strlen(expected), HONE_TOK_SPECIAL, &want, &nw, &err), &err);
        hone_ds_tok_opts o = {.tok = tok, .tmpl = t, .mask_prompt = 1};
        hone_ds_example ex;
        ASSERT_OK(hone_ds_tokenize(&o, ds, &ds->recs[0], &ex, &err), &err);
        size_t off = ex.n - nw - (size_t)ex.eos_appended;
        assert_int_equal(ex.eos_appended, 0); /* these templates end a turn with an EOG token */
        assert_true(off == 0 || (off == 1 && ex.ids[0] == hone_tok_bos(tok) && hone_tok_add_bos(tok)));
        assert_ids(ex.ids + off, nw, want, nw);
        /* the supervised tokens: one run decoding to W + shown + eot */
        size_t a = 0, b;
        while (a < ex.n && !ex.mask[a]) a++;
        for (b = a; b < ex.n && ex.mask[b]; b++) {}
        for (size_t k = b; k < ex.n; k++) assert_int_equal(ex.mask[k], 0);
        char *dec;
        size_t dl;
        ASSERT_OK(hone_tok_decode(tok, ex.ids + a, b - a, HONE_TOK_SPECIAL, &dec, &dl, &err), &err);
        const char *shown = json_string_value(json_array_get(json_object_get(c, "shown"), nm - 1));
        char *want_tail = malloc(strlen(shown) + strlen(eot) + 1);
        sprintf(want_tail, "%s%s", shown, eot);
        size_t wl = strlen(want_tail);
        if (dl < wl || strcmp(dec + dl - wl, want_tail))
            fail_msg("%s case '%s': supervised text '%s', want '...%s'", tname,
                     json_string_value(json_object_get(c, "title")), dec, want_tail);
        for (size_t k = 0; k < dl - wl; k++) assert_non_null(strchr(" \n\t", dec[k]));
        assert_int_equal(ex.n_supervised, b - a);
        free(dec);
        free(want_tail);
        free(want);
        hone_ds_example_free(&ex);
        hone_ds_free(ds);
        checked++;
    }
    print_message("%s: %d fixture conversations checked\n", tname, checked);
    assert_true(checked >= 3);
    json_decref(fx);
    hone_chat_template_close(t);
    hone_tok_free(tok);
    hone_gguf_close(g);
}

static void test_fixture_gemma(void **state) { fixture_cases(GEMMA_GGUF, "gemma"); }
static void test_fixture_smollm2(void **state) { fixture_cases(SMOL_GGUF, "smollm2"); }
static void test_fixture_chatml(void **state) { fixture_cases(SMOL_GGUF, "chatml-plain"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),     cmocka_unit_test(test_collect),
        cmocka_unit_test(test_gemma_hand),  cmocka_unit_test(test_fixture_gemma),
        cmocka_unit_test(test_fixture_smollm2), cmocka_unit_test(test_fixture_chatml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
