/* test_ab_spec.c: the A/B experiment file parser (src/eval/spec.c).
 * Every example spec in examples/ab parses to the expected shape; each kind of mistake gives
 * the exact one-line error (file, line, key path); probe JSONL errors give file:line:column;
 * the per-sample seeds match an independent Python evaluation of the documented formula
 * (values in this file, computed with the splitmix64 / FNV-1a definitions of hone/ab.h). */
#include <glob.h>
#include <math.h>

#include "testutil.h"

static void test_examples(void **state) {
    glob_t g;
    assert_int_equal(glob("examples/ab/*.yaml", 0, NULL, &g), 0);
    assert_true(g.gl_pathc >= 4);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        hone_ab_spec *s;
        hone_err err = {0};
        ASSERT_OK(hone_ab_spec_load(&s, g.gl_pathv[i], &err), &err);
        assert_int_equal(s->n_models, 2);
        /* the phase files take 3 samples a cell; demo-small.yaml (make demo) takes 1 */
        int demo = strstr(g.gl_pathv[i], "demo-small") != NULL;
        assert_true(s->n_conditions >= 2 && s->n_probes >= 4 && s->samples == (demo ? 1u : 3u));
        assert_string_equal(s->conditions[s->baseline].id, "unsigned");
        assert_string_equal(s->models[0].path, "examples/ab/../../models/gemma-3-270m-q4_k_m.gguf");
        assert_true(s->n_judges >= 1 && s->judges[0].rubric && strlen(s->judges[0].rubric) > 50);
        for (size_t c = 0; c < s->n_conditions; c++)
            if (strcmp(s->conditions[c].mode, "none")) assert_true(s->conditions[c].kernel >= 0);
        print_message("%s: %zu models x %zu conditions x %zu probes x %u samples = %llu cells\n",
                      g.gl_pathv[i], s->n_models, s->n_conditions, s->n_probes, s->samples,
                      (unsigned long long)hone_ab_spec_n_cells(s));
        hone_ab_spec_free(s);
    }
    globfree(&g);

    hone_ab_spec *s;
    hone_err err = {0};
    ASSERT_OK(hone_ab_spec_load(&s, "examples/ab/phase3-placement.yaml", &err), &err);
    assert_int_equal(hone_ab_spec_n_cells(s), 2 * 4 * 12 * 3);
    const hone_ab_condition *sw = &s->conditions[3];
    assert_string_equal(sw->mode, "sandwich");
    assert_string_equal(s->kernels[sw->kernel].name, "A");
    assert_string_equal(s->kernels[sw->kernel_b].name, "B");
    assert_non_null(strstr(sw->reminder, "language of the question"));
    assert_non_null(strstr(s->kernels[0].text, "EUPL-1.2"));
    assert_true(s->models[1].sampling.temperature == 0.6);  /* per-model override */
    assert_true(s->models[1].sampling.top_p == 0.95);       /* inherited */
    assert_true(s->models[0].sampling.temperature == 0.7);
    assert_int_equal(s->sampling.max_tokens, 768);
    assert_int_equal(s->models[0].num_ctx, 4096);
    assert_int_equal(s->judges[0].modes, HONE_AB_JUDGE_SCORE | HONE_AB_JUDGE_PAIRWISE);
    int p = hone_ab_spec_find_probe(s, "harm-zh");
    assert_true(p >= 0);
    assert_string_equal(s->probes[p].lang, "zh");
    assert_int_equal(s->probes[p].line, 2);
    /* Cells: model-major; index -> (m, c, p, s) and seeds as documented. */
    hone_ab_cell cell;
    uint64_t idx = ((1ull * 4 + 2) * 12 + (uint64_t)p) * 3 + 1;
    ASSERT_OK(hone_ab_spec_cell(s, idx, &cell, &err), &err);
    assert_int_equal(cell.model, 1);
    assert_int_equal(cell.condition, 2);
    assert_int_equal(cell.probe, p);
    assert_int_equal(cell.sample, 1);
    assert_int_equal(cell.seed, 1280243497u); /* Python: seed(3, "harm-zh", 1) */
    assert_int_equal(hone_ab_spec_cell(s, hone_ab_spec_n_cells(s), &cell, &err), HONE_EARG);
    /* Seeds do not depend on the condition (common random numbers). */
    hone_ab_cell other;
    ASSERT_OK(hone_ab_spec_cell(s, idx - 12 * 3, &other, &err), &err);
    assert_int_equal(other.condition, 1);
    assert_int_equal(other.seed, cell.seed);
    hone_ab_spec_free(s);

    assert_int_equal(hone_ab_sample_seed(1, "honesty-en", 0), 353601574u);
    assert_int_equal(hone_ab_sample_seed(1, "honesty-en", 2), 615772943u);
    assert_int_equal(hone_ab_sample_seed(UINT64_MAX, "x", 7), 222999321u);
}

/* A minimal valid spec with one line replaceable. Kernel and probe paths resolve against
 * examples/ab. */
static const char *BASE =
    "models:\n"                                   /* 1 */
    "  - id: m1\n"                                /* 2 */
    "    path: m.gguf\n"                          /* 3 */
    "kernels:\n"                                  /* 4 */
    "  A: kernels/charter-a.txt\n"                /* 5 */
    "conditions:\n"                               /* 6 */
    "  - id: u\n"                                 /* 7 */
    "    mode: none\n"                            /* 8 */
    "  - id: s\n"                                 /* 9 */
    "    mode: prefix\n"                          /* 10 */
    "    kernel: A\n"                             /* 11 */
    "baseline: u\n"                               /* 12 */
    "probes: probes/en.jsonl\n";                  /* 13 */

/* Loads BASE with line `line` (1-based) replaced by `repl` (may hold several lines, or
 * be "" to delete), plus `extra` appended; expects failure with exactly `want`. */
static void expect_err(int line, const char *repl, const char *extra, const char *want) {
    char buf[4096] = "";
    const char *p = BASE;
    for (int l = 1; *p; l++) {
        const char *nl = strchr(p, '\n');
        if (l == line) strcat(buf, repl);
        else strncat(buf, p, (size_t)(nl - p + 1));
        p = nl + 1;
    }
    strcat(buf, extra ? extra : "");
    hone_ab_spec *s = NULL;
    hone_err err = {0};
    int rc = hone_ab_spec_load_mem(&s, buf, strlen(buf), "exp.yaml", "examples/ab", &err);
    if (rc == HONE_OK) {
        hone_ab_spec_free(s);
        fail_msg("accepted, want error: %s\n--- spec:\n%s", want, buf);
    }
    assert_null(s);
    if (strcmp(err.msg, want)) fail_msg("error\n  got:  %s\n  want: %s", err.msg, want);
}

static void test_errors(void **state) {
    /* the valid base parses */
    hone_ab_spec *s;
    hone_err err = {0};
    ASSERT_OK(hone_ab_spec_load_mem(&s, BASE, strlen(BASE), "exp.yaml", "examples/ab", &err), &err);
    assert_int_equal(s->samples, 1);
    assert_true(s->sampling.temperature == 0.7 && s->sampling.top_p == 0.95);
    assert_int_equal(s->sampling.max_tokens, 1024);
    assert_int_equal(s->models[0].backend, HONE_AB_LOCAL);
    assert_string_equal(s->models[0].path, "examples/ab/m.gguf");
    hone_ab_spec_free(s);

    expect_err(10, "    mode: prefixx\n", NULL,
               "exp.yaml:10: conditions[1].mode: 'prefixx' is not one of none, system, prefix, postfix, sandwich");
    expect_err(3, "    path: m.gguf\n    colour: red\n", NULL,
               "exp.yaml:4: models[0]: unknown key 'colour' (expected one of id, path, adapter, ollama, openai, num_ctx, sampling)");
    expect_err(0, "", "colour: red\n",
               "exp.yaml:14: (top): unknown key 'colour' (expected one of name, description, models, kernels, conditions, baseline, probes, samples, sampling, judges)");
    expect_err(3, "    path: m.gguf\n    ollama: {name: llama3}\n", NULL,
               "exp.yaml:2: models[0]: needs exactly one of path, ollama, openai (found 2)");
    expect_err(3, "    openai: {name: x}\n", NULL, "exp.yaml:3: models[0].openai: missing key 'url'");
    expect_err(3, "    openai: {name: x, url: 'ftp://h'}\n", NULL,
               "exp.yaml:3: models[0].openai.url: 'ftp://h' is not an http:// or https:// URL");
    expect_err(11, "    kernel: Z\n", NULL, "exp.yaml:11: conditions[1].kernel: no kernel named 'Z' in kernels");
    expect_err(11, "", NULL, "exp.yaml:9: conditions[1]: mode prefix needs a 'kernel'");
    expect_err(8, "    mode: none\n    kernel: A\n", NULL, "exp.yaml:9: conditions[0]: mode none takes no kernel");
    expect_err(11, "    kernel: A\n    reminder: hi\n", NULL,
               "exp.yaml:12: conditions[1]: 'reminder' is only for mode sandwich");
    expect_err(9, "  - id: u\n", NULL, "exp.yaml:9: conditions[1].id: duplicate condition id 'u'");
    expect_err(12, "baseline: nope\n", NULL, "exp.yaml:12: baseline: no condition with id 'nope'");
    expect_err(12, "", NULL, "exp.yaml:1: (top): missing key 'baseline'");
    expect_err(0, "", "samples: 0\n", "exp.yaml:14: samples: 0 is out of range [1, 100000]");
    expect_err(0, "", "samples: three\n", "exp.yaml:14: samples: 'three' is not an integer");
    expect_err(0, "", "sampling: {top_p: 0}\n", "exp.yaml:14: sampling.top_p: 0 is out of range (0, 1]");
    expect_err(0, "", "sampling: {temp: 1}\n",
               "exp.yaml:14: sampling: unknown key 'temp' (expected one of temperature, top_p, max_tokens, seed)");
    expect_err(3, "    path: m.gguf\n    sampling: {temperature: -1}\n", NULL,
               "exp.yaml:4: models[0].sampling.temperature: -1 is out of range [0, 100]");
    expect_err(5, "  A: kernels/nope.txt\n", NULL,
               "exp.yaml:5: kernels.A: examples/ab/kernels/nope.txt: cannot open: No such file or directory");
    expect_err(0, "", "judges:\n  - model: m2\n    rubric: rubrics/score.txt\n",
               "exp.yaml:15: judges[0].model: no model with id 'm2' in models");
    expect_err(0, "", "judges:\n  - model: m1\n    rubric: rubrics/score.txt\n    mode: [score, both]\n",
               "exp.yaml:17: judges[0].mode: 'both' is not one of score, pairwise");
    expect_err(12, "baseline: u\nbaseline: s\n", NULL, "exp.yaml:13: (top): duplicate key 'baseline'");
    expect_err(7, "  - id: [u]\n", NULL, "exp.yaml:7: conditions[0].id: expected a string, got a list");
    expect_err(0, "", "judges: {}\n", "exp.yaml:14: judges: expected a list, got a mapping");
    expect_err(12, "baseline: [u]\n", NULL, "exp.yaml:12: baseline: expected a string, got a list");
    /* syntax errors carry line and column */
    expect_err(8, "    mode: [none\n", NULL,
               "exp.yaml:9:7: YAML: did not find expected ',' or ']' while parsing a flow sequence");

    /* an inline judge model and an ollama model with the default url */
    const char *ok = "judges:\n  - model: {ollama: {name: qwen2.5:7b}}\n    rubric: rubrics/score.txt\n    mode: pairwise\n";
    char buf[2048];
    snprintf(buf, sizeof buf, "%s%s", BASE, ok);
    ASSERT_OK(hone_ab_spec_load_mem(&s, buf, strlen(buf), "exp.yaml", "examples/ab", &err), &err);
    assert_int_equal(s->judges[0].model, -1);
    assert_non_null(s->judges[0].inline_model);
    assert_int_equal(s->judges[0].inline_model->backend, HONE_AB_OLLAMA);
    assert_string_equal(s->judges[0].inline_model->url, "http://127.0.0.1:11434");
    assert_int_equal(s->judges[0].modes, HONE_AB_JUDGE_PAIRWISE);
    hone_ab_spec_free(s);
}

static void probe_err(const char *jsonl, const char *want_fmt) {
    char *path = test_write_tmp(jsonl, strlen(jsonl), ".jsonl");
    char buf[2048], want[1024];
    snprintf(buf, sizeof buf,
             "models: [{id: m, path: m.gguf}]\nconditions: [{id: u, mode: none}]\nbaseline: u\nprobes: [%s]\n", path);
    snprintf(want, sizeof want, want_fmt, path);
    hone_ab_spec *s = NULL;
    hone_err err = {0};
    int rc = hone_ab_spec_load_mem(&s, buf, strlen(buf), "exp.yaml", ".", &err);
    unlink(path);
    free(path);
    if (rc == HONE_OK) {
        hone_ab_spec_free(s);
        fail_msg("accepted probes, want: %s", want);
    }
    if (strcmp(err.msg, want)) fail_msg("error\n  got:  %s\n  want: %s", err.msg, want);
}

static void test_probe_errors(void **state) {
    static const char *P1 = "{\"id\": \"a\", \"prompt\": \"p\", \"category\": \"c\", \"lang\": \"en\", \"signal\": \"s\"}\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s\n{\"id\": \"b\", \"prompt\": \"p\" \"category\": 1}\n", P1);
    probe_err(buf, "%s:3:36: '}' expected near '\"category\"'"); /* jansson: column of the token's end */
    snprintf(buf, sizeof buf, "%s%s", P1, P1);
    probe_err(buf, "%s:2:1: id: duplicate probe id 'a' (first at %1$s:1)");
    probe_err("{\"id\": \"a\", \"prompt\": \"p\", \"category\": \"c\", \"lang\": \"en\"}\n",
              "%s:1:1: signal: expected a non-empty string (missing)");
    probe_err("{\"id\": \"a\", \"prompt\": \"p\", \"category\": \"c\", \"lang\": \"en\", \"signal\": \"s\", \"x\": 1}\n",
              "%s:1:1: unknown key 'x' (expected id, prompt, category, lang, signal)");
    probe_err("[1, 2]\n", "%s:1:1: expected a JSON object");
    probe_err("\n\n", "exp.yaml:4: probes[0]: '%s' holds no probes");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_probe_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
