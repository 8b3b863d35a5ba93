/* test_dataset_corrupt.c: the JSONL training-record loader (hone_ds_load) on the hand-made
 * corpus tests/corpus/dataset/ (written by tests/ref/make_dataset_corpus.py: each file holds
 * valid records and at most one defect, whose line and column were placed by hand).
 *
 * Per file, EXPECTED.tsv says `ok` or a substring of the error, and "LINE:COLUMN". Checked:
 *   stop-at-first mode (diags NULL): ok -> HONE_OK and err untouched; error -> HONE_EFORMAT,
 *     one printable line "PATH:LINE:COLUMN: ..." holding the expected text;
 *   collect mode: HONE_OK; exactly the same single error (same text), and zero errors for ok
 *     files; warnings only in files named *-warning (exactly one there);
 *   the record count: every good line loaded (collect mode leaves the bad one out).
 * Exact comparisons (strings, integers): no tolerance. */
#include "corpus.h"

#define CORPUS "tests/corpus/dataset"

static int count_good_lines(const char *path, const char *where) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int bad_line = where[0] ? atoi(where) : 0, n = 0, ln = 0;
    char buf[65536];
    while (fgets(buf, sizeof buf, f)) {
        ln++;
        const char *q = buf;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') q++;
        if (*q && ln != bad_line) n++;
    }
    fclose(f);
    return n;
}

static int check_one(const corpus_entry *e) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CORPUS, e->name);
    hone_err err = {0};
    hone_ds *ds = NULL;
    int rc = hone_ds_load(&ds, path, NULL, &err);
    int is_ok = strcmp(e->expect, "ok") == 0, bad = 0;
    if (is_ok) {
        if (rc != HONE_OK || err.code || err.msg[0]) {
            report("%s: expected to load, got %d: %s\n", e->name, rc, err.msg);
            return 1;
        }
        hone_ds_free(ds);
    } else {
        if (rc != HONE_EFORMAT || ds) {
            report("%s: expected HONE_EFORMAT, got %d (%s)\n", e->name, rc, err.msg);
            hone_ds_free(ds);
            return 1;
        }
        bad |= corpus_msg_checks(e, path, err.msg);
        if (!strstr(err.msg, e->expect)) {
            report("%s: expected '%s' in: %s\n", e->name, e->expect, err.msg);
            bad = 1;
        }
        char at[600];
        snprintf(at, sizeof at, "%s:%s%s: ", path, e->where, strchr(e->where, ':') ? "" : ":");
        if (strncmp(err.msg, at, strlen(at)) != 0) {
            report("%s: expected the position '%s' in: %s\n", e->name, at, err.msg);
            bad = 1;
        }
    }
    hone_ds_diags dg = {0};
    hone_err err2 = {0};
    rc = hone_ds_load(&ds, path, &dg, &err2);
    if (rc != HONE_OK) {
        report("%s: collect mode failed: %d %s\n", e->name, rc, err2.msg);
        hone_ds_diags_free(&dg);
        return 1;
    }
    size_t want_err = is_ok ? 0 : 1, want_warn = strstr(e->name, "-warning") ? 1 : 0;
    if (dg.n_errors != want_err || dg.n_warnings != want_warn || dg.n != want_err + want_warn) {
        report("%s: collect mode: %zu errors, %zu warnings (want %zu, %zu)\n", e->name, dg.n_errors, dg.n_warnings,
               want_err, want_warn);
        for (size_t i = 0; i < dg.n; i++) report("  %s\n", dg.v[i].msg);
        bad = 1;
    } else if (!is_ok && (dg.v[0].severity != HONE_DS_ERROR || strcmp(dg.v[0].msg, err.msg) != 0)) {
        report("%s: collect mode says '%s', stop mode '%s'\n", e->name, dg.v[0].msg, err.msg);
        bad = 1;
    }
    int good = count_good_lines(path, e->where);
    if ((int)ds->n != good) {
        report("%s: %zu records loaded, %d good lines\n", e->name, ds->n, good);
        bad = 1;
    }
    hone_ds_free(ds);
    hone_ds_diags_free(&dg);
    return bad;
}

static void test_corpus(void **state) { corpus_run(CORPUS, check_one, 1, "JSONL files"); }

/* The checks above must be able to fail: a wrong expectation, a wrong column. */
static void test_checker_fails(void **state) {
    corpus_quiet = 1;
    corpus_entry e = {.name = "msg-role-tool-l4.jsonl", .expect = "messages[1].role", .where = "4:9"};
    assert_int_equal(check_one(&e), 1); /* the column is 51 */
    corpus_entry e2 = {.name = "ok-messages.jsonl", .expect = "something", .where = "1:1"};
    assert_int_equal(check_one(&e2), 1);
    corpus_entry e3 = {.name = "msg-role-tool-l4.jsonl", .expect = "'tool' is not one", .where = "3:51"};
    assert_int_equal(check_one(&e3), 1);
    corpus_quiet = 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_checker_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
