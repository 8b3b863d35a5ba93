/* cmd_ab_run.c: `hone ab run SPEC`: answers every missing cell of an experiment into its
 * SQLite store (hone_ab_run, hone/ab.h), with a progress bar (rate, ETA) on a terminal,
 * then the judging step (cli_ab_judge_after_run) unless --no-judge. Ctrl-C stops
 * starting new cells and waits for those in flight (a second Ctrl-C kills); a rerun
 * resumes. Progress and the summary go to stderr (a line every tenth of the cells when it
 * is not a terminal); --dry-run prints the planned cells on stdout. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone ab run SPEC [--db FILE] [--concurrency N] [--only model=ID,condition=ID,probe=ID]\n"
            "                   [--dry-run] [--retry-errors] [--no-judge] [--stream] [--timeout S]\n"
            "                   [--retries N]\n"
            "\n"
            "Answers every (model, condition, probe, sample) cell of the experiment once and\n"
            "stores each answer as it comes (SQLite, WAL): a killed run resumes where it\n"
            "stopped, with no loss and no duplicate. Then the spec's judges run (hone ab judge)\n"
            "unless --no-judge.\n"
            "\n"
            "  --db FILE         the store (default: SPEC with its extension replaced by .db)\n"
            "  --concurrency N   requests in flight per model (default 1); local models run one\n"
            "                    session per slot, each with cores/N threads\n"
            "  --only K=V,...    only these cells: keys model, condition, probe (repeatable)\n"
            "  --dry-run         print the cells that would run (model, condition, probe,\n"
            "                    sample, seed; tab-separated) and their count; send nothing\n"
            "  --retry-errors    also redo cells whose stored answer is an error\n"
            "  --no-judge        do not run the judges afterwards\n"
            "  --stream          use the servers' streaming APIs\n"
            "  --timeout S       per request, whole answer (default 300)\n"
            "  --retries N       retries on connection errors, 429, 5xx (default 4)\n"
            "\nExit status: 0 done, 3 some cells failed (stored with their error), 130 interrupted,\n"
            "1 the run could not go on, 2 usage.\n");
}

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) {
    if (g_stop) {
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    g_stop = 1;
}

typedef struct progress {
    int tty;
    double t0;
    const char *db;
} progress;

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_dur(double s, char *out, size_t cap) {
    if (!isfinite(s) || s < 0) snprintf(out, cap, "?");
    else if (s < 60) snprintf(out, cap, "%.0fs", s);
    else if (s < 3600) snprintf(out, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(out, cap, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A terminal gets a bar redrawn in place; a log (not a terminal) a line every tenth. */
static void on_progress(void *u, uint64_t done, uint64_t todo, uint64_t errors) {
    progress *p = u;
    double el = mono_s() - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32];
    fmt_dur(rate > 0 ? (double)(todo - done) / rate : NAN, eta, sizeof eta);
    if (!p->tty) {
        uint64_t step = todo / 10 ? todo / 10 : 1;
        if (done % step == 0 && done != todo)
            fprintf(stderr, "hone ab run: %llu/%llu cells, %llu errors, %.2f cells/s, ETA %s\n",
                    (unsigned long long)done, (unsigned long long)todo, (unsigned long long)errors, rate, eta);
        return;
    }
    enum { W = 30 };
    char bar[W + 1];
    size_t fill = todo ? (size_t)((double)done / (double)todo * W) : W;
    for (size_t i = 0; i < W; i++) bar[i] = i < fill ? '#' : '-';
    bar[W] = 0;
    fprintf(stderr, "\r[%s] %llu/%llu  %.2f cells/s  ETA %s  errors %llu ", bar, (unsigned long long)done,
            (unsigned long long)todo, rate, eta, (unsigned long long)errors);
    if (done == todo) fprintf(stderr, "\n");
}

static void on_plan(void *u, const hone_ab_cell *c) {
    const hone_ab_spec *s = u;
    printf("%s\t%s\t%s\t%u\t%u\n", s->models[c->model].id, s->conditions[c->condition].id, s->probes[c->probe].id,
           c->sample, c->seed);
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > 1 << 20)
        return cli_usage_error("ab run", "%s: expected an integer >= %d, got '%s'", flag, lo, v ? v : "");
    *out = (int)x;
    return 0;
}

int cmd_ab_run(int argc, char **argv) {
    const char *spec_path = NULL, *db = NULL;
    hone_ab_run_opts o = {0};
    int no_judge = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--db") || !strcmp(a, "--concurrency") || !strcmp(a, "-j") || !strcmp(a, "--only") ||
                    !strcmp(a, "--timeout") || !strcmp(a, "--retries") || !strcmp(a, "--note");
        if (takes && !val) return cli_usage_error("ab run", "%s needs a value", a);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--db")) db = argv[++i];
        else if (!strcmp(a, "--only")) o.only = argv[++i];
        else if (!strcmp(a, "--note")) o.note = argv[++i];
        else if (!strcmp(a, "--concurrency") || !strcmp(a, "-j")) {
            if (parse_int(a, argv[++i], 1, &o.concurrency)) return 2;
        } else if (!strcmp(a, "--retries")) {
            if (parse_int(a, argv[++i], 1, &o.max_retries)) return 2;
        } else if (!strcmp(a, "--timeout")) {
            char *end;
            o.timeout_s = strtod(argv[++i], &end);
            if (*end || !(o.timeout_s > 0) || !isfinite(o.timeout_s))
                return cli_usage_error("ab run", "--timeout: expected seconds > 0, got '%s'", argv[i]);
        } else if (!strcmp(a, "--dry-run")) o.dry_run = 1;
        else if (!strcmp(a, "--retry-errors")) o.retry_errors = 1;
        else if (!strcmp(a, "--no-judge")) no_judge = 1;
        else if (!strcmp(a, "--stream")) o.stream = 1;
        else if (a[0] == '-') return cli_usage_error("ab run", "unknown flag '%s'", a);
        else if (!spec_path) spec_path = a;
        else return cli_usage_error("ab run", "unexpected argument '%s'", a);
    }
    if (!spec_path) return cli_usage_error("ab run", "needs SPEC");
    char *db_buf = NULL;
    if (!db) {
        size_t l = strlen(spec_path);
        const char *dot = strrchr(spec_path, '.'), *sl = strrchr(spec_path, '/');
        if (dot && (!sl || dot > sl)) l = (size_t)(dot - spec_path);
        if (!(db_buf = malloc(l + 4))) return cli_fail("out of memory");
        memcpy(db_buf, spec_path, l);
        memcpy(db_buf + l, ".db", 4);
        db = db_buf;
    }
    hone_err err = {0};
    hone_ab_spec *s = NULL;
    hone_ab_store *st = NULL;
    int rc = 1;
    if (hone_ab_spec_load(&s, spec_path, &err)) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if (!o.dry_run || access(db, F_OK) == 0) {
        if (hone_ab_store_open(&st, db, &err)) {
            rc = cli_fail_err(&err);
            goto out;
        }
    }
    progress pg = {.tty = isatty(2), .t0 = mono_s(), .db = db};
    o.on_progress = on_progress;
    o.on_plan = on_plan;
    o.user = o.dry_run ? (void *)s : (void *)&pg;
    g_stop = 0;
    o.stop = (volatile int *)&g_stop;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    hone_ab_run_stats rs;
    int r = hone_ab_run(s, st, &o, &rs, &err);
    sigaction(SIGINT, &old, NULL);
    if (pg.tty && !o.dry_run && rs.done && rs.done != rs.todo) fprintf(stderr, "\n");
    if (r) {
        rc = cli_fail_err(&err);
        goto out;
    }
    if (o.dry_run) {
        fprintf(stderr, "hone ab run: dry run: %llu of %llu cells to do (db %s)\n", (unsigned long long)rs.todo,
                (unsigned long long)rs.cells, db);
        rc = 0;
        goto out;
    }
    fprintf(stderr,
            "hone ab run: %llu cells, %llu to do, %llu done (%llu errors) in %.1f s (%.2f cells/s); "
            "flags: cutoff %llu, overflow %llu, refusal %llu, lang %llu; max in flight %d; db %s\n",
            (unsigned long long)rs.cells, (unsigned long long)rs.todo, (unsigned long long)rs.done,
            (unsigned long long)rs.errors, rs.seconds, rs.seconds > 0 ? (double)rs.done / rs.seconds : 0.0,
            (unsigned long long)rs.flagged[0], (unsigned long long)rs.flagged[1], (unsigned long long)rs.flagged[2],
            (unsigned long long)rs.flagged[3], rs.max_in_flight, db);
    if (g_stop) {
        fprintf(stderr, "hone ab run: interrupted; run again to resume\n");
        rc = 130;
        goto out;
    }
    rc = 0;
    if (!no_judge) rc = cli_ab_judge_after_run(spec_path, db, s, st);
    if (!rc && rs.errors)
        fprintf(stderr, "hone ab run: %llu cells failed (stored with their error): --retry-errors redoes them\n",
                (unsigned long long)rs.errors);
    if (!rc && rs.errors) rc = 3;
out:
    hone_ab_store_close(st);
    hone_ab_spec_free(s);
    free(db_buf);
    return rc;
}
