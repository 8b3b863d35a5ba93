/* corpus.h: shared harness of the corrupt-corpus tests (test_gguf_corrupt.c,
 * test_safetensors_corrupt.c, test_hfconfig_corrupt.c).
 *
 * A corpus folder holds files and EXPECTED.tsv: per file a line
 * "NAME<TAB>EXPECT<TAB>WHERE" (EXPECT `ok` or a substring of the error; WHERE a
 * byte offset, a name or JSON path, or `-` when unstated). corpus_run() loads
 * the manifest, calls the test's check function on every file, and fails on a
 * file without a line or a line without a file. corpus_msg_checks() holds the
 * message rules every reader shares: one printable line that starts with the path. */
#ifndef HONE_TEST_CORPUS_H
#define HONE_TEST_CORPUS_H

#include <dirent.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct corpus_entry {
    char name[256];
    char expect[512];
    char where[256]; /* "" when unstated ("-") */
    int seen;
} corpus_entry;

static int corpus_quiet; /* set while testing a checker itself */
#define report(...) (corpus_quiet ? (void)0 : print_error(__VA_ARGS__))

static inline corpus_entry *corpus_load(const char *dir, int *n_out) {
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/EXPECTED.tsv", dir);
    FILE *f = fopen(mpath, "r");
    if (!f) fail_msg("cannot open %s (run from the repository root)", mpath);
    char line[2048];
    int cap = 0, n = 0;
    corpus_entry *entries = NULL;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\r\n")] = 0;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t1 || !t2) fail_msg("EXPECTED.tsv: line without 3 tab-separated fields: %s", line);
        *t1 = *t2 = 0;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            entries = realloc(entries, cap * sizeof *entries);
            assert_non_null(entries);
        }
        corpus_entry *e = &entries[n++];
        memset(e, 0, sizeof *e);
        if (strlen(line) >= sizeof e->name || strlen(t1 + 1) >= sizeof e->expect ||
            strlen(t2 + 1) >= sizeof e->where)
            fail_msg("EXPECTED.tsv: field too long: %s", line);
        strcpy(e->name, line);
        strcpy(e->expect, t1 + 1);
        if (strcmp(t2 + 1, "-") != 0) strcpy(e->where, t2 + 1);
    }
    fclose(f);
    *n_out = n;
    return entries;
}

static inline int corpus_read_file(const char *path, uint8_t **buf, size_t *n) {
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

/* One printable line that starts with the file's path; returns the number of rules broken. */
static inline int corpus_msg_checks(const corpus_entry *e, const char *path, const char *msg) {
    int bad = 0;
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            report("%s: message is not one printable line: '%s'\n", e->name, msg);
            bad = 1;
            break;
        }
    if (strncmp(msg, path, strlen(path)) != 0) {
        report("%s: message does not start with the path '%s': %s\n", e->name, path, msg);
        bad = 1;
    }
    return bad;
}

/* Checks every file of dir against its manifest line with check(); subfolders
 * (fuzz seeds) are skipped when skip_subdirs. `what` names the files in the summary. */
static inline void corpus_run(const char *dir, int (*check)(const corpus_entry *e), int skip_subdirs,
                              const char *what) {
    int n_entries;
    corpus_entry *entries = corpus_load(dir, &n_entries);
    assert_true(n_entries > 100);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int failed = 0, files = 0, n_ok = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "EXPECTED.tsv") == 0) continue;
        if (skip_subdirs) {
            char p[512];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) continue; /* seed/ */
        }
        files++;
        corpus_entry *e = NULL;
        for (int i = 0; i < n_entries && !e; i++)
            if (strcmp(entries[i].name, de->d_name) == 0) e = &entries[i];
        if (!e) {
            print_error("%s: in the corpus but not in EXPECTED.tsv\n", de->d_name);
            failed++;
            continue;
        }
        e->seen = 1;
        n_ok += strcmp(e->expect, "ok") == 0;
        failed += check(e);
    }
    closedir(d);
    for (int i = 0; i < n_entries; i++)
        if (!entries[i].seen) {
            print_error("%s: listed in EXPECTED.tsv but missing\n", entries[i].name);
            failed++;
        }
    print_message("%d %s (%d valid, %d corrupt), %d mismatches\n", files, what, n_ok, files - n_ok,
                  failed);
    free(entries);
    assert_int_equal(failed, 0);
}

#endif
