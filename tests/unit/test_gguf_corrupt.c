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
#include "testutil.h"

#include <ctype.h>
#include <dirent.h>

#define CORPUS "tests/corpus/gguf"

typedef struct {
    char name[256];
    char expect[512];
    long byte; /* -1: unstated */
    int seen;
} entry;

static entry *entries;
static int quiet; /* set while testing the checker itself */
#define report(...) (quiet ? (void)0 : print_error(__VA_ARGS__))
static int n_entries;

static void load_manifest(void) {
    FILE *f = fopen(CORPUS "/EXPECTED.tsv", "r");
    if (!f) fail_msg("cannot open %s/EXPECTED.tsv (run from the repository root)", CORPUS);
    char line[2048];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\r\n")] = 0;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2) fail_msg("EXPECTED.tsv: line without 3 tab-separated fields: %s", line);
        *t1 = *t2 = 0;
        if (n_entries == cap) {
            cap = cap ? 2 * cap : 256;
            entries = realloc(entries, cap * sizeof *entries);
            assert_non_null(entries);
        }
        entry *e = &entries[n_entries++];
        memset(e, 0, sizeof *e);
        if (strlen(line) >= sizeof e->name || strlen(t1 + 1) >= sizeof e->expect)
            fail_msg("EXPECTED.tsv: field too long: %s", line);
        memcpy(e->name, line, strlen(line) + 1);
        memcpy(e->expect, t1 + 1, strlen(t1 + 1) + 1);
        e->byte = strcmp(t2 + 1, "-") == 0 ? -1 : strtol(t2 + 1, NULL, 10);
    }
    fclose(f);
}

static int read_file(const char *path, uint8_t **buf, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = malloc(sz ? (size_t)sz : 1);
    *n = fread(*buf, 1, (size_t)sz, f);
    fclose(f);
    return *n == (size_t)sz ? 0 : -1;
}

/* Returns 0 if the file behaves as the manifest says, else prints why and returns 1. */
static int check_one(entry *e) {
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
        assert_int_equal(read_file(path, &buf, &n), 0);
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
    for (const char *p = err.msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            report("%s: message is not one printable line: '%s'\n", e->name, err.msg);
            bad = 1;
            break;
        }
    if (strncmp(err.msg, path, strlen(path)) != 0) {
        report("%s: message does not start with the path '%s': %s\n", e->name, path, err.msg);
        bad = 1;
    }
    const char *b = strstr(err.msg, ": byte ");
    if (!b || !isdigit((unsigned char)b[7])) {
        report("%s: message names no 'byte N': %s\n", e->name, err.msg);
        bad = 1;
    } else if (e->byte >= 0 && strtol(b + 7, NULL, 10) != e->byte) {
        report("%s: expected byte %ld, message says: %s\n", e->name, e->byte, err.msg);
        bad = 1;
    }
    if (!strstr(err.msg, e->expect)) {
        report("%s: expected '%s' in: %s\n", e->name, e->expect, err.msg);
        bad = 1;
    }
    return bad;
}

static void test_corpus(void **state) {
    load_manifest();
    assert_true(n_entries > 100);
    DIR *d = opendir(CORPUS);
    assert_non_null(d);
    int failed = 0, files = 0, n_ok = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "EXPECTED.tsv") == 0) continue;
        files++;
        entry *e = NULL;
        for (int i = 0; i < n_entries && !e; i++)
            if (strcmp(entries[i].name, de->d_name) == 0) e = &entries[i];
        if (!e) {
            print_error("%s: in the corpus but not in EXPECTED.tsv\n", de->d_name);
            failed++;
            continue;
        }
        e->seen = 1;
        n_ok += strcmp(e->expect, "ok") == 0;
        failed += check_one(e);
    }
    closedir(d);
    for (int i = 0; i < n_entries; i++)
        if (!entries[i].seen) {
            print_error("%s: listed in EXPECTED.tsv but missing\n", entries[i].name);
            failed++;
        }
    print_message("%d corpus files (%d valid, %d corrupt), %d mismatches\n", files, n_ok,
                  files - n_ok, failed);
    free(entries);
    entries = NULL;
    n_entries = 0;
    assert_int_equal(failed, 0);
}

/* The checks above must be able to fail: a valid file cut by one byte is refused,
 * and an unlisted expectation does not match an unrelated message. */
static void test_checker_can_fail(void **state) {
    entry e = {0};
    snprintf(e.name, sizeof e.name, "ok-v3-uint8.gguf");
    snprintf(e.expect, sizeof e.expect, "no such message text");
    e.byte = -1;
    quiet = 1;
    assert_int_equal(check_one(&e), 1); /* it opens, so an error expectation fails */
    snprintf(e.name, sizeof e.name, "tensor-overlap.gguf");
    snprintf(e.expect, sizeof e.expect, "overlaps");
    e.byte = 3;
    assert_int_equal(check_one(&e), 1); /* wrong byte */
    e.byte = 57;
    quiet = 0;
    assert_int_equal(check_one(&e), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_checker_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
