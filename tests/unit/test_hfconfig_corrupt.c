/* test_hfconfig_corrupt.c: the config.json parser on the hand-made corpus
 * tests/corpus/hfconfig/.
 *
 * Each text there was written by tests/ref/make_config_corpus.py to be wrong in
 * exactly one named way (or to be a valid config, some through transformers'
 * defaults). EXPECTED.tsv says, per file, `ok` or a substring of the error, and
 * the JSON path the error must name (as "$.PATH"), `-` when unstated. Every
 * file is read from its path through hone_model_desc_from_hf_config and:
 *   ok     -> succeeds, leaves err untouched, and hone_model_desc_from_hf_json
 *             on the same bytes gives the same description;
 *   error  -> HONE_EUNSUPPORTED if the expected text says "supported", else
 *             HONE_EFORMAT; err.code the same; one printable line that starts
 *             with the file path and contains the expected text and "$.PATH".
 * The seed/ subfolder (fuzz_hfconfig's seeds) is skipped. Every file must have a
 * line and every line a file. Under the ASan build LeakSanitizer catches an
 * error path that forgets to free. */
#include "corpus.h"


#define CORPUS "tests/corpus/hfconfig"

/* Returns 0 if the file behaves as the manifest says, else prints why and returns 1. */
static int check_one(const corpus_entry *e) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CORPUS, e->name);
    hone_err err = {0};
    hone_model_desc d;
    int rc = hone_model_desc_from_hf_config(&d, path, &err);
    if (strcmp(e->expect, "ok") == 0) {
        if (rc != HONE_OK) {
            report("%s: expected to open, got %d: %s\n", e->name, rc, err.msg);
            return 1;
        }
        int bad = 0;
        if (err.code != 0 || err.msg[0]) {
            report("%s: opened, but left an error behind: %d '%s'\n", e->name, err.code, err.msg);
            bad = 1;
        }
        uint8_t *buf = NULL;
        size_t n = 0;
        assert_int_equal(corpus_read_file(path, &buf, &n), 0);
        hone_model_desc m;
        hone_err err2 = {0};
        if (hone_model_desc_from_hf_json(&m, (const char *)buf, n, path, &err2) != HONE_OK) {
            report("%s: reads from the path but not from memory: %s\n", e->name, err2.msg);
            bad = 1;
        } else if (memcmp(&m, &d, sizeof d) != 0) {
            report("%s: path and memory reads disagree\n", e->name);
            bad = 1;
        }
        free(buf);
        return bad;
    }
    int want = strstr(e->expect, "supported") ? HONE_EUNSUPPORTED : HONE_EFORMAT;
    if (rc != want || err.code != want) {
        report("%s: expected code %d, got rc %d (err.code %d): %s\n", e->name, want, rc, err.code, err.msg);
        return 1;
    }
    int bad = 0;
    bad |= corpus_msg_checks(e, path, err.msg);
    if (strcmp(e->expect, "error") == 0 || !strstr(err.msg, e->expect)) {
        report("%s: expected '%s' in: %s\n", e->name, e->expect, err.msg);
        bad = 1;
    }
    if (e->where[0]) {
        char want_at[300];
        snprintf(want_at, sizeof want_at, "$.%s", e->where);
        const char *p = strstr(err.msg, want_at);
        char after = p ? p[strlen(want_at)] : 0;
        if (!p || (after != ':' && after != ' ' && after != '[')) { /* the whole path, not a prefix */
            report("%s: expected the JSON path '%s' in: %s\n", e->name, want_at, err.msg);
            bad = 1;
        }
    }
    return bad;
}

static void test_corpus(void **state) { corpus_run(CORPUS, check_one, 1, "config files"); }

/* The checks above must be able to fail: a valid file with an error expectation,
 * a wrong byte, a wrong text, a bare "error" all fail; the right line passes. */
static void test_checker_can_fail(void **state) {
    corpus_entry e = {0};
    corpus_quiet = 1;
    snprintf(e.name, sizeof e.name, "ok-smollm2-135m.json");
    snprintf(e.expect, sizeof e.expect, "no such message text");
    assert_int_equal(check_one(&e), 1); /* it reads, so an error expectation fails */
    snprintf(e.name, sizeof e.name, "huge-head_dim-2147483648.json");
    snprintf(e.expect, sizeof e.expect, "2147483648 is out of range");
    snprintf(e.where, sizeof e.where, "hidden_size");
    assert_int_equal(check_one(&e), 1); /* wrong path */
    snprintf(e.where, sizeof e.where, "head");
    assert_int_equal(check_one(&e), 1); /* a prefix of the path is not the path */
    e.where[0] = 0;
    snprintf(e.expect, sizeof e.expect, "error");
    assert_int_equal(check_one(&e), 1); /* a bare "error" is not an expectation */
    corpus_quiet = 0;
    snprintf(e.expect, sizeof e.expect, "2147483648 is out of range (expected 1..65536)");
    snprintf(e.where, sizeof e.where, "head_dim");
    assert_int_equal(check_one(&e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_checker_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
