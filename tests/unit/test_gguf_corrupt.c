/* test_gguf_corrupt.c: the GGUF reader on the hand-made corpus tests/corpus/gguf/.
 *
 * Each file there was written by tests/ref/make_gguf_corpus.py to be wrong in
 * exactly one named way (or to be valid); EXPECTED.tsv says, per file, `ok` or a
 * substring of the error, and the byte offset the error must name. Every file is
 * opened from its path (so the mmap path is exercised, empty file included) and:
 *   ok       -> hone_gguf_open succeeds (leaving err untouched), and a second open through
 *               hone_gguf_open_mem of the same bytes agrees on the counts;
 *   error    -> HONE_EFORMAT, err.code set, one line (no control bytes), naming
 *               the file path, "byte N" (N as listed), and the expected text.
 * Every file in the folder must have a line and every line a file, so a new
 * corpus file (e.g. one found by fuzzing) cannot go unchecked. Under the ASan
 * build LeakSanitizer catches anything an error path forgets to free. */
#include "corpus.h"

#include <ctype.h>

#define CORPUS "tests/corpus/gguf"

/* Returns 0 if the file behaves as the manifest says, else prints why and returns 1. */
static int check_one(const corpus_entry *e) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", CORPUS, e->name);
    hone_err err = {0};
    hone_gguf *g = (hone_gguf *)(uintptr_t)1; /* must be reset to NULL on failure */
    int rc = hone_gguf_open(&g, path, &err);
    if (strcmp(e->expect, "ok") == 0) {
        if (rc != HONE_OK) {
            report("%s: expected to open, got %d: %s\n", e->name, rc, err.msg);
            return 1;
        }
        if (err.code != 0 || err.msg[0]) { /* success leaves the caller's err alone */
            report("%s: opened, but left an error behind: %d '%s'\n", e->name, err.code, err.msg);
            hone_gguf_close(g);
            return 1;
        }
        /* the same bytes through the memory entry point give the same file */
        uint8_t *buf = NULL;
        size_t n = 0;
        assert_int_equal(corpus_read_file(path, &buf, &n), 0);
        hone_gguf *m;
        hone_err err2 = {0};
        int bad = 0;
        if (hone_gguf_open_mem(&m, buf, n, e->name, &err2) != HONE_OK) {
            report("%s: opens from the path but not from memory: %s\n", e->name, err2.msg);
            bad = 1;
        } else {
            if (hone_gguf_n_kv(m) != hone_gguf_n_kv(g) ||
                hone_gguf_n_tensors(m) != hone_gguf_n_tensors(g) ||
                hone_gguf_data_offset(m) != hone_gguf_data_offset(g)) {
                report("%s: path and memory opens disagree\n", e->name);
                bad = 1;
            }
            hone_gguf_close(m);
        }
        free(buf);
        hone_gguf_close(g);
        return bad;
    }
    int bad = 0;
    if (rc != HONE_EFORMAT || g != NULL || err.code != HONE_EFORMAT) {
        report("%s: expected HONE_EFORMAT and a NULL handle, got rc %d (err.code %d): %s\n",
                    e->name, rc, err.code, err.msg);
        if (rc == HONE_OK) hone_gguf_close(g);
        return 1;
    }
    bad |= corpus_msg_checks(e, path, err.msg);
    const char *b = strstr(err.msg, ": byte ");
    if (!b || !isdigit((unsigned char)b[7])) {
        report("%s: message names no 'byte N': %s\n", e->name, err.msg);
        bad = 1;
    } else if (e->where[0] && strtol(b + 7, NULL, 10) != strtol(e->where, NULL, 10)) {
        report("%s: expected byte %s, message says: %s\n", e->name, e->where, err.msg);
        bad = 1;
    }
    if (!strstr(err.msg, e->expect)) {
        report("%s: expected '%s' in: %s\n", e->name, e->expect, err.msg);
        bad = 1;
    }
    return bad;
}

static void test_corpus(void **state) { corpus_run(CORPUS, check_one, 0, "corpus files"); }

/* The checks above must be able to fail: a valid file cut by one byte is refused,
 * and an unlisted expectation does not match an unrelated message. */
static void test_checker_can_fail(void **state) {
    corpus_entry e = {0};
    snprintf(e.name, sizeof e.name, "ok-v3-uint8.gguf");
    snprintf(e.expect, sizeof e.expect, "no such message text");
    corpus_quiet = 1;
    assert_int_equal(check_one(&e), 1); /* it opens, so an error expectation fails */
    snprintf(e.name, sizeof e.name, "tensor-overlap.gguf");
    snprintf(e.expect, sizeof e.expect, "overlaps");
    snprintf(e.where, sizeof e.where, "3");
    assert_int_equal(check_one(&e), 1); /* wrong byte */
    snprintf(e.where, sizeof e.where, "57");
    corpus_quiet = 0;
    assert_int_equal(check_one(&e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_checker_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
