/* test_chat.c: chat templates against transformers' own rendering of each family's real Jinja
 * template (tests/fixtures/chat_templates.json, written by tests/ref/make_chat_fixture.py).
 * Exact byte equality, no tolerance: a chat template is text. For every rendered case it also
 * checks the spans: each shown message's content span holds exactly the text the template shows
 * (fixture "shown", computed by Python's own str.strip / str.split), dropped messages are marked
 * not shown, assistant turns end where transformers' rendering of the conversation cut after
 * them ends (fixture "turn_end") and hold the end-of-turn marker right after the content.
 * Detection is tested on the fixture's excerpts of each real template and on the full template
 * embedded in the SmolLM2 GGUF (skipped without the model). */
#include <jansson.h>
#include <time.h>

#include "testutil.h"

#define FIXTURE "tests/fixtures/chat_templates.json"

static json_t *load_fixture(void) {
    json_error_t je;
    json_t *root = json_load_file(FIXTURE, 0, &je);
    if (!root) fail_msg("%s: line %d: %s", FIXTURE, je.line, je.text);
    return root;
}

/* Renders one fixture case and checks output and spans; returns 1 when it matched. */
static int check_case(const char *tname, const char *eot, const char *date, json_t *c) {
    json_t *jm = json_object_get(c, "messages");
    size_t n = json_array_size(jm);
    hone_chat_msg *msgs = calloc(n, sizeof *msgs);
    hone_chat_span *spans = calloc(n, sizeof *spans);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(jm, i);
        msgs[i].role = json_string_value(json_object_get(m, "role"));
        msgs[i].content = json_string_value(json_object_get(m, "content"));
    }
    int gen = json_is_true(json_object_get(c, "add_generation_prompt"));
    const char *title = json_string_value(json_object_get(c, "title"));
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, tname, &err), &err);
    if (date) ASSERT_OK(hone_chat_template_set_date(t, date, &err), &err);
    char *out = NULL;
    size_t len = 0;
    int rc = hone_chat_render(t, msgs, n, gen, &out, &len, spans, &err);
    int ok = 1;
    json_t *jerr = json_object_get(c, "error");
    if (jerr) {
        /* transformers raised (raise_exception in the Jinja): hone must refuse with the same text. */
        if (rc != HONE_EARG || !strstr(err.msg, json_string_value(jerr))) {
            print_error("%s / %s (gen=%d): expected error '%s', got rc %d '%s'\n", tname, title, gen,
                        json_string_value(jerr), rc, rc ? err.msg : out);
            ok = 0;
        }
        goto done;
    }
    if (rc != HONE_OK) {
        print_error("%s / %s (gen=%d): render failed: %s\n", tname, title, gen, err.msg);
        ok = 0;
        goto done;
    }
    json_t *jexp = json_object_get(c, "expected");
    const char *exp = json_string_value(jexp);
    size_t exp_len = json_string_length(jexp);
    if (len != exp_len || memcmp(out, exp, len) != 0) {
        size_t k = 0;
        while (k < len && k < exp_len && out[k] == exp[k]) k++;
        print_error("%s / %s (gen=%d): differs at byte %zu\n  hone: [%s]\n  want: [%s]\n", tname, title, gen, k,
                    out, exp);
        ok = 0;
        goto done;
    }
    json_t *jshown = json_object_get(c, "shown"), *jend = json_object_get(c, "turn_end");
    size_t prev_end = 0;
    for (size_t i = 0; i < n; i++) {
        const hone_chat_span *s = &spans[i];
        json_t *sh = json_array_get(jshown, i);
        if (json_is_null(sh)) {
            if (s->shown) { print_error("%s / %s: message %zu should be dropped\n", tname, title, i); ok = 0; }
            continue;
        }
        const char *want = json_string_value(sh);
        size_t wl = json_string_length(sh);
        if (!s->shown || s->end < s->begin || s->end > len || s->end - s->begin != wl ||
            memcmp(out + s->begin, want, wl) != 0) {
            print_error("%s / %s: message %zu content span [%zu,%zu) shown %d is not [%s]\n", tname, title, i,
                        s->begin, s->end, s->shown, want);
            ok = 0;
            continue;
        }
        if (s->turn_begin > s->begin || s->turn_end < s->end || s->turn_end > len) {
            print_error("%s / %s: message %zu turn [%zu,%zu) does not hold its content\n", tname, title, i,
                        s->turn_begin, s->turn_end);
            ok = 0;
        }
        int folded = s->turn_begin == s->begin && s->turn_end == s->end && !strcmp(msgs[i].role, "system");
        if (!folded) {
            if (s->turn_begin < prev_end) {
                print_error("%s / %s: message %zu turn overlaps the previous one\n", tname, title, i);
                ok = 0;
            }
            prev_end = s->turn_end;
        }
        if (!strcmp(msgs[i].role, "assistant")) {
            size_t el = strlen(eot);
            if (s->end + el > s->turn_end || memcmp(out + s->end, eot, el) != 0) {
                print_error("%s / %s: assistant %zu: no '%s' right after its content\n", tname, title, i, eot);
                ok = 0;
            }
            json_t *je = json_array_get(jend, i);
            if (json_is_integer(je) && (size_t)json_integer_value(je) != s->turn_end) {
                print_error("%s / %s: assistant %zu turn ends at %zu, transformers at %lld\n", tname, title, i,
                            s->turn_end, (long long)json_integer_value(je));
                ok = 0;
            }
        }
    }
done:
    free(out);
    free(msgs);
    free(spans);
    hone_chat_template_close(t);
    return ok;
}

static void test_fixture_render(void **state) {
    json_t *root = load_fixture();
    json_t *temps = json_object_get(root, "templates");
    size_t idx;
    json_t *tj;
    int cases = 0, bad = 0, templates = 0;
    json_array_foreach(temps, idx, tj) {
        const char *name = json_string_value(json_object_get(tj, "name"));
        const char *eot = json_string_value(json_object_get(tj, "eot"));
        const char *date = json_string_value(json_object_get(json_object_get(tj, "specials"), "date_string"));
        size_t ci;
        json_t *c;
        int tbad = 0, tn = 0;
        json_array_foreach(json_object_get(tj, "cases"), ci, c) {
            tn++;
            if (!check_case(name, eot, date, c)) tbad++;
        }
        print_message("[ chat     ] %-13s %2d cases, %d differ (transformers %s)\n", name, tn, tbad,
                      json_string_value(json_object_get(root, "transformers")));
        cases += tn;
        bad += tbad;
        templates++;
    }
    json_decref(root);
    assert_int_equal(templates, 9);
    assert_true(cases >= 200);
    assert_int_equal(bad, 0);
}

static void test_detect_excerpts(void **state) {
    json_t *root = load_fixture();
    size_t idx;
    json_t *tj;
    json_array_foreach(json_object_get(root, "templates"), idx, tj) {
        const char *name = json_string_value(json_object_get(tj, "name"));
        json_t *ex = json_object_get(tj, "excerpt");
        const char *got = hone_chat_template_detect(json_string_value(ex), json_string_length(ex));
        if (!got || strcmp(got, name)) fail_msg("detect(%s excerpt) = %s", name, got ? got : "NULL");
    }
    json_decref(root);
    /* Look-alikes that render differently must not be taken for a built-in. */
    static const char *neg[] = {
        "<|start_header_id|>system<|end_header_id|>\\n\\n{{- \"Cutting Knowledge Date: December 2023\\n\" }}",
        "<|start_header_id|>{{ message['role'] }}<|end_header_id|> {%- if tools %}",
        "<|start_header_id|> Cutting Knowledge Date: December 2023 Today Date: {{ date }}",
        "<|im_start|>assistant\\n<think>\\n{%- if enable_thinking %}",
        "{{ '[INST] ' + message['content'] + '[/INST]' }}",
        "<｜User｜>{{ content }}<｜Assistant｜>",
        "{{ bos_token + message['role'] }}",
    };
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        const char *got = hone_chat_template_detect(neg[i], strlen(neg[i]));
        if (got) fail_msg("detect(%s) = %s, want NULL", neg[i], got);
    }
    assert_null(hone_chat_template_detect(NULL, 0));
}

static void test_detect_smollm2_gguf(void **state) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    hone_str tmpl;
    assert_int_equal(hone_gguf_get_str(g, "tokenizer.chat_template", &tmpl), HONE_OK);
    const char *got = hone_chat_template_detect(tmpl.ptr, tmpl.len);
    assert_non_null(got);
    assert_string_equal(got, "smollm2");
    hone_gguf_close(g);
}

static char *render(const char *name, const hone_chat_msg *m, size_t n, int gen, hone_chat_span *sp) {
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, name, &err), &err);
    char *out;
    size_t len;
    ASSERT_OK(hone_chat_render(t, m, n, gen, &out, &len, sp, &err), &err);
    assert_int_equal(len, strlen(out));
    hone_chat_template_close(t);
    return out;
}

/* The seed workflow's literal layout, from its own description (no Jinja exists for it). */
static void test_seed_layout(void **state) {
    hone_chat_msg m[] = {{"user", "Hi?"}, {"assistant", "Hello."}, {"user", "Bye"}};
    hone_chat_span sp[3];
    char *out = render("seed", m, 2, 0, sp);
    assert_string_equal(out, "<bos>user\nHi?<eos>\n<bos>model\nHello.<eos>");
    assert_int_equal(sp[1].turn_begin, strlen("<bos>user\nHi?<eos>\n"));
    assert_int_equal(sp[1].turn_end, strlen(out));
    free(out);
    out = render("seed", m, 3, 1, NULL);
    assert_string_equal(out, "<bos>user\nHi?<eos>\n<bos>model\nHello.<eos>\n<bos>user\nBye<eos>\n<bos>model\n");
    free(out);
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, "seed", &err), &err);
    assert_non_null(hone_chat_template_warning(t));
    assert_non_null(strstr(hone_chat_template_warning(t), "not Gemma's"));
    hone_chat_template_close(t);
    ASSERT_OK(hone_chat_template_open(&t, "gemma", &err), &err);
    assert_null(hone_chat_template_warning(t));
    assert_string_equal(hone_chat_template_eot(t), "<end_of_turn>");
    hone_chat_template_close(t);
}

/* Llama 3.2's default date is today's (transformers' strftime_now("%d %b %Y")); 3.1's is fixed. */
static void test_llama_dates(void **state) {
    hone_chat_msg m[] = {{"user", "Hi"}};
    char today[2][64], want[2][256];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(today[0], sizeof today[0], "%d %b %Y", localtime_r(&now, &tmv));
    char *out = render("llama3.2", m, 1, 0, NULL);
    now = time(NULL); /* the day may turn during the call: accept the date before or after it */
    strftime(today[1], sizeof today[1], "%d %b %Y", localtime_r(&now, &tmv));
    for (int k = 0; k < 2; k++)
        snprintf(want[k], sizeof want[k],
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December "
                 "2023\nToday Date: %s\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
                 today[k]);
    if (strcmp(out, want[0]) && strcmp(out, want[1])) fail_msg("llama3.2 today:\n%s\nwant:\n%s", out, want[1]);
    free(out);
    out = render("llama3.1", m, 1, 0, NULL);
    assert_non_null(strstr(out, "Today Date: 26 Jul 2024\n\n<|eot_id|>"));
    free(out);
    hone_err err = {0};
    hone_chat_template *t;
    ASSERT_OK(hone_chat_template_open(&t, "gemma", &err), &err);
    assert_int_equal(hone_chat_template_set_date(t, "1 Jan 2025", &err), HONE_EARG);
    hone_chat_template_close(t);
}

static void test_raw(void **state) {
    hone_chat_msg m[] = {{"system", "S"}, {"user", "U "}, {"assistant", " A"}};
    hone_chat_span sp[3];
    char *out = render("raw", m, 3, 1, sp);
    assert_string_equal(out, "SU  A");
    assert_int_equal(sp[2].begin, 3);
    assert_int_equal(sp[2].end, 5);
    free(out);
    hone_chat_msg e[] = {{"user", ""}};
    out = render("raw", e, 1, 0, NULL);
    assert_string_equal(out, "");
    free(out);
}

static void test_template_file(void **state) {
    const char text[] = "# Phi-3 style\n"
                        "bos: <s>\n"
                        "user: <|user|>\\n{user}<|end|>\\n\n"
                        "assistant: <|assistant|>\\n{content}<|end|>\\n\n"
                        "system: <|system|>\\n{system}<|end|>\\n\n"
                        "default_system: Be kind.\n";
    char *p = test_write_tmp(text, sizeof text - 1, ".tmpl");
    char name[300];
    snprintf(name, sizeof name, "file:%s", p);
    hone_chat_msg m[] = {{"user", "Hi"}, {"assistant", "Yo"}};
    hone_chat_span sp[3];
    char *out = render(name, m, 2, 1, sp);
    assert_string_equal(out, "<s><|system|>\nBe kind.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nYo<|end|>\n"
                             "<|assistant|>\n");
    assert_memory_equal(out + sp[1].begin, "Yo", 2);
    assert_memory_equal(out + sp[1].turn_end - 8, "<|end|>\n", 8);
    free(out);
    unlink(p);
    free(p);

    const char fold[] = "user: [U]{user}[/U]\nassistant: {assistant}</a>\nsystem_mode: fold\n";
    p = test_write_tmp(fold, sizeof fold - 1, ".tmpl");
    snprintf(name, sizeof name, "file:%s", p);
    hone_chat_msg f[] = {{"system", "S"}, {"user", "Q"}, {"assistant", "A"}};
    out = render(name, f, 3, 0, sp);
    assert_string_equal(out, "[U]S\n\nQ[/U]A</a>");
    assert_int_equal(sp[0].begin, 3); /* the folded system content, inside the user turn */
    assert_int_equal(sp[0].end, 4);
    assert_int_equal(sp[1].turn_begin, 0);
    assert_int_equal(sp[2].turn_end, strlen(out));
    free(out);
    unlink(p);
    free(p);

    const char bad[] = "user: no placeholder\n";
    p = test_write_tmp(bad, sizeof bad - 1, ".tmpl");
    snprintf(name, sizeof name, "file:%s", p);
    hone_err err = {0};
    hone_chat_template *t;
    assert_int_equal(hone_chat_template_open(&t, name, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "byte 0"));
    assert_non_null(strstr(err.msg, "{user}"));
    unlink(p);
    free(p);
}

static void test_errors(void **state) {
    hone_err err = {0};
    hone_chat_template *t;
    assert_int_equal(hone_chat_template_open(&t, "nonesuch", &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nonesuch"));
    assert_int_equal(hone_chat_template_open(&t, "file:/nonexistent/x.tmpl", &err), HONE_EIO);
    ASSERT_OK(hone_chat_template_open(&t, "chatml", &err), &err);
    char *out = NULL;
    hone_chat_msg m[] = {{"user", "a"}, {"tool", "b"}};
    assert_int_equal(hone_chat_render(t, m, 2, 0, &out, NULL, NULL, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "messages[1].role"));
    assert_int_equal(hone_chat_render(t, m, 0, 0, &out, NULL, NULL, &err), HONE_EARG);
    assert_null(out);
    hone_chat_template_close(t);
    /* qwen2.5 is the same template as chatml; every listed name opens. */
    for (const char *const *nm = hone_chat_template_names(); *nm; nm++) {
        ASSERT_OK(hone_chat_template_open(&t, *nm, &err), &err);
        hone_chat_template_close(t);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_render), cmocka_unit_test(test_detect_excerpts),
        cmocka_unit_test(test_detect_smollm2_gguf), cmocka_unit_test(test_seed_layout),
        cmocka_unit_test(test_raw), cmocka_unit_test(test_llama_dates), cmocka_unit_test(test_template_file), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
