/* test_data_format.c: hone_ds_convert. References: the input records themselves (round trips
 * compared with jansson's json_equal, key order checked on the dumped text) and
 * tests/fixtures/chat_templates.json (transformers' renderings): every complete training
 * conversation's rendered text, for every template of the fixture, is parsed back into messages
 * and rendered again to the identical bytes; for chatml-plain and smollm2 (one turn per message,
 * no trimming) the parsed messages equal the fixture's messages exactly. Exact comparisons. */
#include <jansson.h>

#include "testutil.h"

#define FIXTURE "tests/fixtures/chat_templates.json"

static hone_ds *load(const char *s) {
    hone_ds *ds;
    hone_err err = {0};
    ASSERT_OK(hone_ds_load_mem(&ds, "in.jsonl", s, strlen(s), NULL, &err), &err);
    return ds;
}

static char *conv(const char *line, hone_ds_format to, const hone_chat_template *t) {
    hone_ds *ds = load(line);
    assert_int_equal(ds->n, 1);
    char *out;
    hone_err err = {0};
    ASSERT_OK(hone_ds_convert(ds, &ds->recs[0], to, t, &out, &err), &err);
    hone_ds_free(ds);
    return out;
}

static void assert_json_equal(const char *a, const char *b) {
    json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
    assert_non_null(x);
    assert_non_null(y);
    if (!json_equal(x, y)) fail_msg("JSON differs:\n  %s\n  %s", a, b);
    json_decref(x);
    json_decref(y);
}

static void test_messages_pc(void **state) {
    const char *m = "{\"id\": \"a\", \"messages\": [{\"role\": \"system\", \"content\": \"Be kind.\"}, {\"role\": \"user\", "
                    "\"content\": \"Hi \\\"you\\\"\\n\"}, {\"role\": \"assistant\", \"content\": \"Hello \\u00e9\"}], \"n\": 3}";
    char *pc = conv(m, HONE_DS_PROMPT_COMPLETION, NULL);
    assert_string_equal(pc, "{\"id\": \"a\", \"system\": \"Be kind.\", \"prompt\": \"Hi \\\"you\\\"\\n\", \"completion\": "
                            "\"Hello \xc3\xa9\", \"n\": 3}");
    char *back = conv(pc, HONE_DS_MESSAGES, NULL);
    assert_json_equal(back, m);
    /* key order kept: id, messages, n */
    assert_true(strstr(back, "\"id\"") < strstr(back, "\"messages\"") && strstr(back, "\"messages\"") < strstr(back, "\"n\""));
    char *pc2 = conv(back, HONE_DS_PROMPT_COMPLETION, NULL);
    assert_string_equal(pc2, pc); /* the second round is byte-identical */
    free(pc); free(back); free(pc2);
    /* the same format: the line unchanged */
    char *same = conv(m, HONE_DS_MESSAGES, NULL);
    assert_string_equal(same, m);
    free(same);
}

static void test_refused(void **state) {
    hone_err err = {0};
    char *out;
    hone_ds *ds;
    ds = load("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, "
              "{\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"assistant\", \"content\": \"d\"}]}\n"
              "{\"messages\": [{\"role\": \"user\", \"content\": \"a\", \"name\": \"bob\"}, {\"role\": \"assistant\", "
              "\"content\": \"b\"}]}\n");
    assert_int_equal(hone_ds_convert(ds, &ds->recs[0], HONE_DS_PROMPT_COMPLETION, NULL, &out, &err), HONE_EFORMAT);
    assert_string_equal(err.msg, "in.jsonl:1:1: 4 messages: prompt-completion holds one user message and one answer "
                                 "(and an optional system message)");
    assert_int_equal(hone_ds_convert(ds, &ds->recs[1], HONE_DS_PROMPT_COMPLETION, NULL, &out, &err), HONE_EFORMAT);
    assert_string_equal(err.msg, "in.jsonl:2:48: messages[0].name: prompt-completion cannot hold this key");
    assert_int_equal(hone_ds_convert(ds, &ds->recs[0], HONE_DS_TEXT, NULL, &out, &err), HONE_EARG);
    hone_ds_free(ds);
    ds = load("{\"text\": \"no template layout here\"}");
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, "gemma", &err), &err);
    assert_int_equal(hone_ds_convert(ds, &ds->recs[0], HONE_DS_MESSAGES, t, &out, &err), HONE_EFORMAT);
    assert_string_equal(err.msg, "in.jsonl:1:1: the text is not a rendering of chat template gemma");
    hone_chat_template_close(t);
    ASSERT_OK(hone_chat_template_open(&t, "raw", &err), &err);
    assert_int_equal(hone_ds_convert(ds, &ds->recs[0], HONE_DS_MESSAGES, t, &out, &err), HONE_EUNSUPPORTED);
    hone_chat_template_close(t);
    hone_ds_free(ds);
}

/* Every builtin: messages (no system, no surrounding whitespace) -> text -> messages exact,
 * and a multi-turn one. */
static void test_text_builtins(void **state) {
    const char *m = "{\"id\": 1, \"messages\": [{\"role\": \"user\", \"content\": \"Was ist 2+2?\"}, {\"role\": \"assistant\", "
                    "\"content\": \"Vier.\\nGanz sicher.\"}, {\"role\": \"user\", \"content\": \"Und 3+3?\"}, "
                    "{\"role\": \"assistant\", \"content\": \"Sechs.\"}]}";
    hone_err err = {0};
    int n = 0;
    for (const char *const *nm = hone_chat_template_names(); *nm; nm++) {
        if (!strcmp(*nm, "raw")) continue;
        hone_chat_template *t;
        ASSERT_OK(hone_chat_template_open(&t, *nm, &err), &err);
        if (!strcmp(*nm, "llama3.2")) ASSERT_OK(hone_chat_template_set_date(t, "26 Jul 2024", &err), &err);
        char *text = conv(m, HONE_DS_TEXT, t);
        char *back = conv(text, HONE_DS_MESSAGES, t);
        if (strcmp(back, m)) fail_msg("%s: messages -> text -> messages:\n  %s\n  %s", *nm, m, back);
        char *text2 = conv(back, HONE_DS_TEXT, t);
        assert_string_equal(text2, text);
        free(text); free(back); free(text2);
        hone_chat_template_close(t);
        n++;
    }
    assert_true(n >= 9);
}

static void test_fixture(void **state) {
    json_error_t je;
    json_t *fx = json_load_file(FIXTURE, 0, &je);
    if (!fx) fail_msg("%s: %s", FIXTURE, je.text);
    json_t *ts = json_object_get(fx, "templates");
    int checked = 0, exact = 0;
    for (size_t ti = 0; ti < json_array_size(ts); ti++) {
        json_t *tj = json_array_get(ts, ti);
        const char *tname = json_string_value(json_object_get(tj, "name"));
        hone_err err = {0};
        hone_chat_template *t;
        ASSERT_OK(hone_chat_template_open(&t, tname, &err), &err);
        const char *date = json_string_value(json_object_get(json_object_get(tj, "specials"), "date_string"));
        if (date) ASSERT_OK(hone_chat_template_set_date(t, date, &err), &err);
        json_t *cases = json_object_get(tj, "cases");
        for (size_t ci = 0; ci < json_array_size(cases); ci++) {
            json_t *c = json_array_get(cases, ci), *msgs = json_object_get(c, "messages");
            size_t nm = json_array_size(msgs);
            const char *last = json_string_value(json_object_get(json_array_get(msgs, nm - 1), "role"));
            if (json_object_get(c, "error") || json_is_true(json_object_get(c, "add_generation_prompt")) ||
                strcmp(last, "assistant"))
                continue;
            json_t *rec = json_pack("{sO}", "text", json_object_get(c, "expected"));
            char *line = json_dumps(rec, 0);
            json_decref(rec);
            hone_ds *ds = load(line);
            char *mout, *tout;
            int rc = hone_ds_convert(ds, &ds->recs[0], HONE_DS_MESSAGES, t, &mout, &err);
            if (rc) fail_msg("%s case '%s': %s", tname, json_string_value(json_object_get(c, "title")), err.msg);
            hone_ds *ds2 = load(mout);
            ASSERT_OK(hone_ds_convert(ds2, &ds2->recs[0], HONE_DS_TEXT, t, &tout, &err), &err);
            assert_string_equal(tout, line);
            if (!strcmp(tname, "chatml-plain") || !strcmp(tname, "smollm2")) {
                json_t *want = json_pack("{sO}", "messages", msgs), *got = json_loads(mout, 0, NULL);
                if (!json_equal(want, got)) fail_msg("%s: parsed %s", tname, mout);
                json_decref(want);
                json_decref(got);
                exact++;
            }
            free(line); free(mout); free(tout);
            hone_ds_free(ds);
            hone_ds_free(ds2);
            checked++;
        }
        hone_chat_template_close(t);
    }
    print_message("%d fixture renderings parsed back (%d compared message by message)\n", checked, exact);
    assert_true(checked >= 20 && exact >= 4);
    json_decref(fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_pc),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_text_builtins),
        cmocka_unit_test(test_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
