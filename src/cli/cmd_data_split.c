/* cmd_data_split.c: `hone data split IN... --out DIR`: train/valid/test files for hone train and
 * mlx-lm (DIR/train.jsonl, valid.jsonl, test.jsonl), deterministic for a seed, records grouped by
 * prompt and optionally stratified (hone_ds_split). Lines are copied byte for byte, in input order
 * within each split; each file is written atomically. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/data_cli.h"

static void split_usage(FILE *f) {
    fprintf(f,
            "usage: hone data split IN... --out DIR [--valid F | --valid-count N] [--test F | --test-count N]\n"
            "                       [--seed S] [--stratify category|lang|KEY] [--no-group]\n\n"
            "Splits the records of IN (JSONL files, or folders whose train/valid/test.jsonl are pooled)\n"
            "into DIR/train.jsonl, DIR/valid.jsonl and, with --test, DIR/test.jsonl.\n"
            "  --valid F         share of records for validation (default 0.1)\n"
            "  --valid-count N   exactly N records for validation (the seed's 180/20: --valid-count 20)\n"
            "  --test F, --test-count N   the same for a test split (default none)\n"
            "  --seed S          the split depends only on the seed and the records (default 0)\n"
            "  --stratify KEY    keep each value of the top-level field KEY in proportion in every split\n"
            "  --no-group        split record by record (default: records with the same prompt, e.g.\n"
            "                    several samples of one probe, always go to the same split)\n"
            "Lines are copied unchanged. Exit status 1 when an input has errors (see hone data check).\n");
}

int data_split(int argc, char **argv) {
    const char *cmd = "data split", *outdir = NULL;
    hone_ds_split_opts o = {.valid_frac = 0.1, .valid_count = -1, .test_count = -1, .group_by_prompt = 1};
    char **paths = NULL;
    size_t np = 0, cap = 0;
    int rc = 1;
    hone_ds **dss = NULL;
    const hone_ds_record **recs = NULL;
    unsigned char *assign = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { split_usage(stdout); rc = 0; goto out; }
        if (!strcmp(a, "--no-group")) { o.group_by_prompt = 0; continue; }
        if (a[0] == '-' && a[1]) {
            if (i + 1 >= argc) { rc = cli_usage_error(cmd, "%s needs a value", a); goto out; }
            const char *v = argv[++i];
            int64_t x;
            if (!strcmp(a, "--out")) outdir = v;
            else if (!strcmp(a, "--stratify")) o.stratify = v;
            else if (!strcmp(a, "--valid")) { if (data_parse_f64(cmd, a, v, &o.valid_frac)) { rc = 2; goto out; } }
            else if (!strcmp(a, "--test")) { if (data_parse_f64(cmd, a, v, &o.test_frac)) { rc = 2; goto out; } }
            else if (!strcmp(a, "--valid-count")) { if (data_parse_i64(cmd, a, v, &o.valid_count)) { rc = 2; goto out; } }
            else if (!strcmp(a, "--test-count")) { if (data_parse_i64(cmd, a, v, &o.test_count)) { rc = 2; goto out; } }
            else if (!strcmp(a, "--seed")) { if (data_parse_i64(cmd, a, v, &x)) { rc = 2; goto out; } o.seed = (uint64_t)x; }
            else { rc = cli_usage_error(cmd, "unknown flag '%s'", a); goto out; }
        } else if (data_expand_paths(a, &paths, &np, &cap)) {
            goto out;
        }
    }
    if (!np || !outdir) { rc = cli_usage_error(cmd, "needs IN and --out DIR"); goto out; }
    if (o.valid_frac >= 1 || o.test_frac >= 1 || o.valid_frac + o.test_frac >= 1) {
        rc = cli_usage_error(cmd, "--valid and --test are shares below 1 (use --valid-count N for a count)");
        goto out;
    }
    hone_err err = {0};
    dss = calloc(np, sizeof *dss);
    if (!dss) { rc = cli_fail("out of memory"); goto out; }
    size_t n = 0;
    for (size_t f = 0; f < np; f++) {
        if (hone_ds_load(&dss[f], paths[f], NULL, &err)) {
            rc = cli_fail("%s (run `hone data check` for every problem)", err.msg);
            goto out;
        }
        if (dss[f]->n && dss[0]->n && dss[f]->format != dss[0]->format) {
            rc = cli_fail("%s is %s but %s is %s: one format per split (convert with hone data format)", paths[f],
                          hone_ds_format_name(dss[f]->format), paths[0], hone_ds_format_name(dss[0]->format));
            goto out;
        }
        n += dss[f]->n;
    }
    recs = calloc(n ? n : 1, sizeof *recs);
    assign = calloc(n ? n : 1, 1);
    if (!recs || !assign) { rc = cli_fail("out of memory"); goto out; }
    size_t k = 0;
    for (size_t f = 0; f < np; f++)
        for (size_t i = 0; i < dss[f]->n; i++) recs[k++] = &dss[f]->recs[i];
    if (hone_ds_split(recs, n, &o, assign, &err)) { rc = cli_fail_err(&err); goto out; }
    if (mkdir(outdir, 0777) != 0 && errno != EEXIST) { rc = cli_fail("%s: %s", outdir, strerror(errno)); goto out; }
    static const char *const names[] = {"train.jsonl", "valid.jsonl", "test.jsonl"};
    int want_test = o.test_count > 0 || (o.test_count < 0 && o.test_frac > 0);
    const char **lines = calloc(n ? n : 1, sizeof *lines);
    size_t *lens = calloc(n ? n : 1, sizeof *lens), counts[3] = {0};
    if (!lines || !lens) { free(lines); free(lens); rc = cli_fail("out of memory"); goto out; }
    for (int s = 0; s < 3; s++) {
        if (s == 2 && !want_test) break;
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (assign[i] == s) lines[m] = recs[i]->raw, lens[m++] = recs[i]->raw_len;
        counts[s] = m;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", outdir, names[s]);
        if (hone_ds_write_lines(path, lines, lens, m, &err)) {
            free(lines);
            free(lens);
            rc = cli_fail_err(&err);
            goto out;
        }
    }
    free(lines);
    free(lens);
    char tpath[4096];
    snprintf(tpath, sizeof tpath, "%s/test.jsonl", outdir);
    if (!want_test && access(tpath, F_OK) == 0)
        fprintf(stderr, "hone: warning: %s is left from before (not written by this split)\n", tpath);
    printf("%s: train %zu, valid %zu", outdir, counts[0], counts[1]);
    if (want_test) printf(", test %zu", counts[2]);
    printf(" (of %zu records, seed %llu%s%s)\n", n, (unsigned long long)o.seed, o.stratify ? ", stratified by " : "",
           o.stratify ? o.stratify : "");
    rc = 0;
out:
    for (size_t f = 0; dss && f < np; f++) hone_ds_free(dss[f]);
    free(dss);
    free(recs);
    free(assign);
    for (size_t i = 0; i < np; i++) free(paths[i]);
    free(paths);
    return rc;
}
