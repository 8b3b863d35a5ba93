/* test_data_check.c: hone_ds_check on tests/fixtures/data_check/ (train.jsonl, valid.jsonl:
 * one planted defect of each kind, written by tests/ref/make_data_check_fixture.py with the
 * list of diagnostics it must produce in EXPECTED.tsv). The check must report exactly those
 * (file, line, kind, severity), nothing more, nothing less: without a model ("base" rows), and
 * with Gemma 3 270M's tokenizer, --max-seq-length 64 and --mask-prompt ("base" + "model" rows).
 * Also: the near-duplicate similarity printed for the one-word edit equals the fixture
 * script's Python computation of the same similarity (0.81), the per-file counts, the
 * token statistics against hand-counted values, and that the comparison can fail. */
#include "testutil.h"

#define DIR "tests/fixtures/data_check"

typedef struct want {
    char file[64], kind[32], sev[16], mode[16];
    int line, seen;
} want;

static want *load_expected(int *n) {
    FILE *f = fopen(DIR "/EXPECTED.tsv", "r");
    assert_non_null(f);
    want *w = calloc(64, sizeof *w);
    char line[512];
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        assert_true(*n < 64);
        want *x = &w[(*n)++];
        assert_int_equal(sscanf(line, "%63[^\t]\t%d\t%31[^\t]\t%15[^\t]\t%15s", x->file, &x->line, x->kind, x->sev, x->mode), 5);
    }
    fclose(f);
    return w;
}

/* Number of mismatches between the diagnostics and the rows of the given modes. */
static int compare(const hone_ds_diags *d, want *w, int n, int with_model, int quiet) {
    int bad = 0;
    for (int i = 0; i < n; i++) w[i].seen = 0;
    for (size_t k = 0; k < d->n; k++) {
        const hone_ds_diag *g = &d->v[k];
        const char *base = strrchr(g->file, '/') ? strrchr(g->file, '/') + 1 : g->file;
        const char *sev = g->severity == HONE_DS_ERROR ? "error" : "warning";
        int found = 0;
        for (int i = 0; i < n && !found; i++) {
            if (w[i].seen || (!with_model && !strcmp(w[i].mode, "model"))) continue;
            if (!strcmp(w[i].file, base) && w[i].line == g->line && !strcmp(w[i].kind, hone_ds_kind_name(g->kind)) &&
                !strcmp(w[i].sev, sev))
                w[i].seen = found = 1;
        }
        if (!found) {
            if (!quiet) print_error("unexpected: %s [%s]\n", g->msg, hone_ds_kind_name(g->kind));
            bad++;
        }
    }
    for (int i = 0; i < n; i++)
        if (!w[i].seen && (with_model || strcmp(w[i].mode, "model"))) {
            if (!quiet) print_error("missing: %s:%d %s %s\n", w[i].file, w[i].line, w[i].kind, w[i].sev);
            bad++;
        }
    return bad;
}

static const char *const PATHS[] = {DIR "/train.jsonl", DIR "/valid.jsonl"};

static void test_base(void **state) {
    int n;
    want *w = load_expected(&n);
    hone_ds_check_report rep;
    hone_err err = {0};
    ASSERT_OK(hone_ds_check(PATHS, 2, NULL, &rep, &err), &err);
    assert_int_equal(compare(&rep.diags, w, n, 0, 0), 0);
    /* the near duplicate with one word of the answer changed: the fixture script computes 0.8111 */
    int saw = 0;
    for (size_t k = 0; k < rep.diags.n; k++)
        if (rep.diags.v[k].kind == HONE_DSK_NEAR_LEAK && rep.diags.v[k].line == 3) {
            assert_non_null(strstr(rep.diags.v[k].msg, "similarity 0.81) of train.jsonl:16"));
            saw = 1;
        }
    assert_true(saw);
    const hone_ds_file_stats *t = &rep.files[0], *v = &rep.files[1];
    assert_int_equal(t->n_lines, 16);
    assert_int_equal(t->n_records, 11);
    assert_int_equal(t->n_bad, 5);
    assert_int_equal(t->n_duplicate, 1);
    assert_int_equal(t->n_near_duplicate, 1);
    assert_int_equal(v->n_leak, 1);
    assert_int_equal(v->n_near_leak, 2);
    assert_int_equal(t->have_tokens, 0);
    /* sorted by file, then line */
    for (size_t k = 1; k < rep.diags.n; k++) {
        const hone_ds_diag *a = &rep.diags.v[k - 1], *b = &rep.diags.v[k];
        assert_true(strcmp(a->file, b->file) < 0 || (!strcmp(a->file, b->file) && a->line <= b->line));
    }
    /* the comparison can fail: drop one diagnostic */
    rep.diags.n--;
    assert_int_equal(compare(&rep.diags, w, n, 0, 1), 1);
    rep.diags.n++;
    hone_ds_check_report_free(&rep);
    free(w);
}

static void test_model(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    int n;
    want *w = load_expected(&n);
    hone_err err = {0};
    hone_gguf *g;
    hone_tok *tok;
    hone_chat_template *t;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&tok, g, &err), &err);
    ASSERT_OK(hone_chat_template_open(&t, "gemma", &err), &err);
    hone_ds_check_opts o = {.tok = tok, .tmpl = t, .mask_prompt = 1, .max_seq_length = 64};
    hone_ds_check_report rep;
    ASSERT_OK(hone_ds_check(PATHS, 2, &o, &rep, &err), &err);
    assert_int_equal(compare(&rep.diags, w, n, 1, 0), 0);
    assert_int_equal(rep.files[0].have_tokens, 1);
    assert_int_equal(rep.files[0].n_too_long, 2);
    assert_int_equal(rep.files[0].n_no_supervised, 1);
    /* valid.jsonl line 6: "<bos><start_of_turn>user\n<end_of_turn>\n<start_of_turn>model\nAn answer to
     * nothing.<end_of_turn>\n": 16 tokens, its shortest record (hand count: bos, sot, user, \n, eot, \n,
     * sot, model, \n, An, ▁answer, ▁to, ▁nothing, ., eot, \n) */
    assert_int_equal(rep.files[1].tok_min, 16);
    assert_true(rep.files[1].tok_min <= rep.files[1].tok_median && rep.files[1].tok_median <= rep.files[1].tok_p95 &&
                rep.files[1].tok_p95 <= rep.files[1].tok_max);
    /* without the model rows the comparison must fail */
    assert_true(compare(&rep.diags, w, n, 0, 1) > 0);
    hone_ds_check_report_free(&rep);
    hone_chat_template_close(t);
    hone_tok_free(tok);
    hone_gguf_close(g);
    free(w);
}

/* Whitespace, empty file, unreadable file. */
static void test_edges(void **state) {
    hone_err err = {0};
    hone_ds_check_report rep;
    const char *missing[] = {"/nonexistent/x.jsonl"};
    assert_int_equal(hone_ds_check(missing, 1, NULL, &rep, &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.jsonl"));
    char *p = test_write_tmp("", 0, ".jsonl");
    const char *one[] = {p};
    ASSERT_OK(hone_ds_check(one, 1, NULL, &rep, &err), &err);
    assert_int_equal(rep.diags.n, 0);
    assert_int_equal(rep.files[0].n_records, 0);
    hone_ds_check_report_free(&rep);
    unlink(p);
    free(p);
    /* Unicode whitespace (U+3000, U+00A0) counts as empty; short texts compare by normalised form */
    const char *s = "{\"text\": \"\xe3\x80\x80\xc2\xa0\"}\n{\"text\": \"Hi!\"}\n{\"text\": \"hi\"}\n{\"text\": \"ho\"}\n";
    p = test_write_tmp(s, strlen(s), ".jsonl");
    one[0] = p;
    ASSERT_OK(hone_ds_check(one, 1, NULL, &rep, &err), &err);
    assert_int_equal(rep.diags.n, 2);
    assert_int_equal(rep.diags.v[0].kind, HONE_DSK_EMPTY);
    assert_int_equal(rep.diags.v[0].line, 1);
    assert_int_equal(rep.diags.v[1].kind, HONE_DSK_NEAR_DUPLICATE);
    assert_int_equal(rep.diags.v[1].line, 3);
    hone_ds_check_report_free(&rep);
    unlink(p);
    free(p);
}

/* Diagnostics come in the order of the files given, even when only a later file has load errors. */
static void test_file_order(void **state) {
    const char *s1 = "{\"text\": \"same\"}\n{\"text\": \"same\"}\n", *s2 = "{\"text\": \"x\"}\nnot json\n";
    char *p1 = test_write_tmp(s1, strlen(s1), ".jsonl"), *p2 = test_write_tmp(s2, strlen(s2), ".jsonl");
    const char *paths[] = {p1, p2};
    hone_ds_check_report rep;
    hone_err err = {0};
    ASSERT_OK(hone_ds_check(paths, 2, NULL, &rep, &err), &err);
    assert_int_equal(rep.diags.n, 2);
    assert_string_equal(rep.diags.v[0].file, p1);
    assert_int_equal(rep.diags.v[0].kind, HONE_DSK_DUPLICATE);
    assert_string_equal(rep.diags.v[1].file, p2);
    assert_int_equal(rep.diags.v[1].kind, HONE_DSK_SYNTAX);
    assert_int_equal(rep.files[0].n_warnings, 1);
    assert_int_equal(rep.files[1].n_errors, 1);
    hone_ds_check_report_free(&rep);
    unlink(p1);
    unlink(p2);
    free(p1);
    free(p2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base),
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_file_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
