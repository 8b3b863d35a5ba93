/* test_safetensors_corrupt.c: the safetensors reader on the hand-made corpus
 * tests/corpus/safetensors/.
 *
 * Each file there was written by tests/ref/make_safetensors_corpus.py to be wrong
 * in exactly one named way (or to be valid); its --check holds every verdict
 * against the PyPI safetensors package (hone is at least as strict). EXPECTED.tsv
 * says, per file, `ok` or a substring of the error, and where the error must
 * point: a byte offset ("byte N" in the message) or a name/JSON path (text the
 * message must contain), `-` when unstated. Every file is opened from its path
 * through hone_st_open (mmap, empty file included) and:
 *   ok     -> opens, leaves err untouched, and hone_st_open_mem on the same bytes
 *             agrees on the tensor and metadata counts;
 *   error  -> HONE_EUNSUPPORTED if the expected text says "supported", else
 *             HONE_EFORMAT; err.code the same; a NULL handle; one printable line
 *             that starts with the file path and contains the expected text and
 *             place.
 * The seed/ subfolder (fuzz_safetensors' seeds) is skipped. Every file must have
 * a line and every line a file. Under the ASan build LeakSanitizer catches an
 * error path that forgets to free. */
#include "corpus.h"

#include <ctype.h>

#define CORPUS "tests/corpus/safetensors"

/* Returns 0 if the file behaves as the manifest says, else prints why and returns 1. */
static int check_one(const corpus_entry *e) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CORPUS, e->name);
    hone_err err = {0};
    hone_st *st = (hone_st *)(uintptr_t)1; /* must be reset to NULL on failure */
    int rc = hone_st_open(&st, path, &err);
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
        hone_st *m;
        hone_err err2 = {0};
        if (hone_st_open_mem(&m, buf, n, e->name, &err2) != HONE_OK) {
            report("%s: opens from the path but not from memory: %s\n", e->name, err2.msg);
            bad = 1;
        } else {
            if (hone_st_n_tensors(m) != hone_st_n_tensors(st) || hone_st_n_meta(m) != hone_st_n_meta(st)) {
                report("%s: path and memory opens disagree\n", e->name);
                bad = 1;
            }
            hone_st_close(m);
        }
        free(buf);
        hone_st_close(st);
        return bad;
    }
    int want = strstr(e->expect, "supported") ? HONE_EUNSUPPORTED : HONE_EFORMAT;
    if (rc != want || st != NULL || err.code != want) {
        report("%s: expected code %d and a NULL handle, got rc %d (err.code %d): %s\n", e->name, want, rc, err.code,
               err.msg);
        if (rc == HONE_OK) hone_st_close(st);
        return 1;
    }
    int bad = 0;
    bad |= corpus_msg_checks(e, path, err.msg);
    if (strcmp(e->expect, "error") == 0 || !strstr(err.msg, e->expect)) {
        report("%s: expected '%s' in: %s\n", e->name, e->expect, err.msg);
        bad = 1;
    }
    if (e->where[0] && isdigit((unsigned char)e->where[0])) {
        char want_at[300];
        snprintf(want_at, sizeof want_at, ": byte %s:", e->where);
        if (!strstr(err.msg, want_at)) {
            report("%s: expected 'byte %s' in: %s\n", e->name, e->where, err.msg);
            bad = 1;
        }
    } else if (e->where[0] && !strstr(err.msg, e->where)) {
        report("%s: expected the place '%s' in: %s\n", e->name, e->where, err.msg);
        bad = 1;
    }
    return bad;
}

static void test_corpus(void **state) { corpus_run(CORPUS, check_one, 1, "corpus files"); }

/* The checks above must be able to fail: a valid file with an error expectation,
 * a wrong byte, a wrong text, a bare "error" all fail; the right line passes. */
static void test_checker_can_fail(void **state) {
    corpus_entry e = {0};
    corpus_quiet = 1;
    snprintf(e.name, sizeof e.name, "ok-one-f32.safetensors");
    snprintf(e.expect, sizeof e.expect, "no such message text");
    assert_int_equal(check_one(&e), 1);
    snprintf(e.name, sizeof e.name, "data-trailing-bytes.safetensors");
    snprintf(e.expect, sizeof e.expect, "trailing bytes");
    snprintf(e.where, sizeof e.where, "3");
    assert_int_equal(check_one(&e), 1); /* wrong byte */
    snprintf(e.where, sizeof e.where, "-");
    e.where[0] = 0;
    snprintf(e.expect, sizeof e.expect, "error");
    assert_int_equal(check_one(&e), 1); /* a bare "error" is not an expectation */
    snprintf(e.expect, sizeof e.expect, "overlaps");
    assert_int_equal(check_one(&e), 1); /* wrong text */
    corpus_quiet = 0;
    snprintf(e.expect, sizeof e.expect, "1 trailing bytes");
    snprintf(e.where, sizeof e.where, "66");
    assert_int_equal(check_one(&e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_checker_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
