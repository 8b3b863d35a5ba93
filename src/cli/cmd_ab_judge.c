/* cmd_ab_judge.c: `hone ab judge SPEC [--db FILE]` (grade the stored answers with the
 * spec's judges, resumable), `hone ab report --db FILE --out DIR [--spec SPEC]` (the
 * statistics as report.md, report.html, results.csv, results.json), and the judging step
 * `hone ab run` calls after its answers (cli_ab_judge_after_run). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

/* SPEC with its extension replaced by .db (the `ab run` default); malloc'd. */
static char *default_db(const char *spec_path) {
    size_t l = strlen(spec_path);
    const char *dot = strrchr(spec_path, '.'), *sl = strrchr(spec_path, '/');
    if (dot && (!sl || dot > sl)) l = (size_t)(dot - spec_path);
    char *db = malloc(l + 4);
    if (!db) return NULL;
    memcpy(db, spec_path, l);
    memcpy(db + l, ".db", 4);
    return db;
}

typedef struct jprog {
    int tty;
} jprog;

static void on_progress(void *u, size_t done, size_t total) {
    jprog *p = u;
    if (!p->tty) return;
    fprintf(stderr, "\rjudging %zu/%zu ", done, total);
    if (done == total) fprintf(stderr, "\n");
}

static int judge_spec(const char *db_path, hone_ab_spec *s, hone_ab_store *st, double timeout_s, int concurrency) {
    hone_err err = {0};
    hone_ab_judge_llm *jl;
    if (hone_ab_judge_llm_open(&jl, s, timeout_s, concurrency, &err)) return cli_fail_err(&err);
    jprog pg = {.tty = isatty(2)};
    hone_ab_judge_opts o = {.call = hone_ab_judge_llm_call, .ctx = jl, .progress = on_progress, .progress_ctx = &pg,
                            .concurrency = concurrency};
    hone_ab_judge_counts c;
    int rc = hone_ab_judge_run(s, st, &o, &c, &err);
    hone_ab_judge_llm_close(jl);
    fprintf(stderr,
            "hone ab judge: %zu judgements: %zu already scored, %zu scored now, %zu missing (retried next time); "
            "%zu skipped for a missing or failed answer; db %s\n",
            c.total, c.present, c.scored, c.missing, c.no_answer, db_path);
    if (rc) return cli_fail_err(&err);
    return c.missing ? 3 : 0;
}

int cli_ab_judge_after_run(const char *spec_path, const char *db_path, hone_ab_spec *spec, hone_ab_store *store) {
    if (!spec->n_judges) {
        hone_err err = {0};
        if (hone_ab_store_put_design(store, spec, &err)) return cli_fail_err(&err);
        return 0;
    }
    return judge_spec(db_path, spec, store, 0, 1);
}

static void judge_usage(FILE *f) {
    fprintf(f, "usage: hone ab judge SPEC [--db FILE] [--concurrency N] [--timeout SECONDS]\n\n"
               "Grades every stored answer with the spec's judges (score: 0-10 per answer; pairwise:\n"
               "baseline vs condition, both orders). Judgements already scored are kept; missing ones\n"
               "(unparsable reply, failed call) are retried. --db defaults to SPEC with .db.\n"
               "--concurrency N keeps N judge requests in flight (server judges).\n"
               "Exit status 3 when some judgements are still missing.\n");
}

int cmd_ab_judge(int argc, char **argv) {
    const char *spec_path = NULL, *db = NULL;
    double timeout = 0;
    int conc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            judge_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--db") || !strcmp(a, "--timeout") || !strcmp(a, "--concurrency") || !strcmp(a, "-j")) {
            if (i + 1 >= argc) return cli_usage_error("ab judge", "%s needs a value", a);
            if (!strcmp(a, "--db")) {
                db = argv[++i];
            } else if (strcmp(a, "--timeout")) {
                char *end;
                long x = strtol(argv[++i], &end, 10);
                if (*end || x < 1 || x > 1024) return cli_usage_error("ab judge", "%s: expected an integer 1-1024", a);
                conc = (int)x;
            } else {
                char *end;
                timeout = strtod(argv[++i], &end);
                if (*end || timeout <= 0) return cli_usage_error("ab judge", "--timeout: expected seconds > 0");
            }
        } else if (a[0] == '-') {
            return cli_usage_error("ab judge", "unknown flag '%s'", a);
        } else if (!spec_path) {
            spec_path = a;
        } else {
            return cli_usage_error("ab judge", "unexpected argument '%s'", a);
        }
    }
    if (!spec_path) return cli_usage_error("ab judge", "needs SPEC");
    char *dbb = db ? NULL : default_db(spec_path);
    if (!db && !(db = dbb)) return cli_fail("out of memory");
    hone_err err = {0};
    hone_ab_spec *s = NULL;
    hone_ab_store *st = NULL;
    int rc;
    if (hone_ab_spec_load(&s, spec_path, &err)) {
        rc = cli_fail_err(&err);
    } else if (access(db, F_OK)) {
        rc = cli_fail("%s: no such store (run `hone ab run %s` first)", db, spec_path);
    } else if (hone_ab_store_open(&st, db, &err)) {
        rc = cli_fail_err(&err);
    } else {
        if (!s->n_judges) fprintf(stderr, "hone ab judge: %s has no judges\n", spec_path);
        rc = judge_spec(db, s, st, timeout, conc);
    }
    hone_ab_store_close(st);
    hone_ab_spec_free(s);
    free(dbb);
    return rc;
}

static void report_usage(FILE *f) {
    fprintf(f, "usage: hone ab report --db FILE --out DIR [--spec SPEC] [--bootstrap N] [--seed N]\n\n"
               "Writes DIR/report.md, report.html (self-contained), results.csv (one row per answer)\n"
               "and results.json (every statistic). The design (baseline, probes' languages and\n"
               "categories, judges) comes from the store, written by `hone ab run` and `ab judge`; --spec\n"
               "gives it from an experiment file instead.\n");
}

int cmd_ab_report(int argc, char **argv) {
    const char *db = NULL, *outdir = NULL, *spec_path = NULL;
    hone_ab_analyze_opts ao = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            report_usage(stdout);
            return 0;
        }
        int is_num = !strcmp(a, "--bootstrap") || !strcmp(a, "--seed");
        const char **dst = !strcmp(a, "--db") ? &db : !strcmp(a, "--out") ? &outdir : !strcmp(a, "--spec") ? &spec_path : NULL;
        if (dst || is_num) {
            if (i + 1 >= argc) return cli_usage_error("ab report", "%s needs a value", a);
            const char *v = argv[++i];
            if (dst) {
                *dst = v;
            } else {
                char *end;
                unsigned long long x = strtoull(v, &end, 10);
                if (*end || !*v || x == 0) return cli_usage_error("ab report", "%s: expected an integer > 0", a);
                if (!strcmp(a, "--seed")) ao.seed = x;
                else ao.bootstrap_b = (size_t)x;
            }
        } else {
            return cli_usage_error("ab report", "unexpected argument '%s'", a);
        }
    }
    if (!db || !outdir) return cli_usage_error("ab report", "needs --db FILE and --out DIR");
    if (access(db, F_OK)) return cli_fail("%s: no such store", db);
    hone_err err = {0};
    hone_ab_store *st = NULL;
    hone_ab_spec *s = NULL;
    char *design = NULL;
    int rc = 0;
    if (hone_ab_store_open(&st, db, &err)) {
        rc = cli_fail_err(&err);
    } else if (spec_path) {
        /* a scratch store in memory renders the spec's design record */
        hone_ab_store *mem = NULL;
        if (hone_ab_spec_load(&s, spec_path, &err) || hone_ab_store_open(&mem, ":memory:", &err) ||
            hone_ab_store_put_design(mem, s, &err) || hone_ab_store_get_meta(mem, "design", &design, &err))
            rc = cli_fail_err(&err);
        hone_ab_store_close(mem);
    }
    if (!rc && hone_ab_report_write(st, design, &ao, outdir, &err)) rc = cli_fail_err(&err);
    if (!rc) fprintf(stderr, "hone ab report: wrote %s/report.md, report.html, results.csv, results.json\n", outdir);
    free(design);
    hone_ab_spec_free(s);
    hone_ab_store_close(st);
    return rc;
}
