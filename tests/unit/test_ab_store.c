/* test_ab_store.c: the A/B answer store (src/eval/store.c).
 * Insert-or-ignore per cell, retry of failed cells, judgements, the missing-cell query, and
 * a simulated crash: a child process fills the cells of examples/ab/phase3-placement.yaml
 * (288 cells, 64 KiB answers so that a kill lands inside a write) and is killed with
 * SIGKILL after a number of answers; the parent reopens the file and checks SQLite's
 * integrity_check, that every row present is complete (its answer is the exact text
 * written for its cell), that no cell has two rows, and that the missing-cell query plus a
 * resumed run complete the table with exactly one row per cell. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "testutil.h"

static char *tmp_db(void) {
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/hone-test-store-%ld-%d.db", (long)getpid(), rand());
    return p;
}

static void rm_db(char *p) {
    char b[300];
    unlink(p);
    snprintf(b, sizeof b, "%s-wal", p); unlink(b);
    snprintf(b, sizeof b, "%s-shm", p); unlink(b);
    free(p);
}

static hone_ab_answer mk(const char *m, const char *c, const char *p, int64_t s, const char *ans,
                         const char *error) {
    return (hone_ab_answer){.model = m, .condition = c, .probe = p, .sample = s, .seed = 7,
                            .messages_json = "[{\"role\":\"user\",\"content\":\"hi\"}]",
                            .params_json = "{\"temperature\":0.7}", .answer = ans,
                            .prompt_tokens = 12, .answer_tokens = -1, .finish_reason = "stop",
                            .latency_s = 0.25, .model_identity = "sha256:abc", .error = error};
}

static void test_basic(void **state) {
    char *path = tmp_db();
    hone_ab_store *st;
    hone_err err = {0};
    ASSERT_OK(hone_ab_store_open(&st, path, &err), &err);
    int64_t run;
    ASSERT_OK(hone_ab_store_begin_run(st, "exp.yaml", NULL, NULL, &run, &err), &err);
    assert_true(run > 0);
    int ins;
    hone_ab_answer a = mk("m", "c", "p", 0, "first", NULL);
    a.run_id = run;
    ASSERT_OK(hone_ab_store_put_answer(st, &a, 1, &ins, &err), &err);
    assert_int_equal(ins, 1);
    a.answer = "second";
    ASSERT_OK(hone_ab_store_put_answer(st, &a, 1, &ins, &err), &err); /* success is never replaced */
    assert_int_equal(ins, 0);
    hone_ab_answer got;
    ASSERT_OK(hone_ab_store_get_answer(st, "m", "c", "p", 0, &got, &err), &err);
    assert_string_equal(got.answer, "first");
    assert_int_equal(got.prompt_tokens, 12);
    assert_int_equal(got.answer_tokens, -1);
    assert_null(got.prompt_text);
    assert_null(got.error);
    assert_int_equal(got.run_id, run);
    int64_t first_id = got.id;
    hone_ab_answer_free(&got);

    /* a failed cell: kept without replace_error, replaced with it */
    hone_ab_answer e = mk("m", "c", "p", 1, NULL, "HTTP 500");
    ASSERT_OK(hone_ab_store_put_answer(st, &e, 0, &ins, &err), &err);
    assert_int_equal(ins, 1);
    hone_ab_answer ok = mk("m", "c", "p", 1, "fixed", NULL);
    ASSERT_OK(hone_ab_store_put_answer(st, &ok, 0, &ins, &err), &err);
    assert_int_equal(ins, 0);
    ASSERT_OK(hone_ab_store_put_answer(st, &ok, 1, &ins, &err), &err);
    assert_int_equal(ins, 1);
    ASSERT_OK(hone_ab_store_get_answer(st, "m", "c", "p", 1, &got, &err), &err);
    assert_string_equal(got.answer, "fixed");
    assert_null(got.error);
    hone_ab_answer_free(&got);
    assert_int_equal(hone_ab_store_get_answer(st, "m", "c", "p", 9, &got, &err), HONE_ENOTFOUND);
    hone_ab_answer bad = mk("m", "c", "p", 2, NULL, NULL);
    assert_int_equal(hone_ab_store_put_answer(st, &bad, 0, &ins, &err), HONE_EARG);
    bad = mk("m", "c", "p", 2, "x", NULL);
    bad.messages_json = "[{\"role\": ";  /* not JSON: refused by the schema's CHECK */
    assert_int_equal(hone_ab_store_put_answer(st, &bad, 0, &ins, &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "CHECK constraint failed"));
    int64_t n;
    ASSERT_OK(hone_ab_store_count_answers(st, &n, &err), &err);
    assert_int_equal(n, 2);

    /* judgements: keyed by (judge, kind, a, b, order); a missing score may be retried */
    hone_ab_judgement j = {.judge = "g", .kind = "score", .answer_a = first_id, .raw = "Score: ?",
                           .score = NAN, .error = "unparsable"};
    ASSERT_OK(hone_ab_store_put_judgement(st, &j, 0, &ins, &err), &err);
    assert_int_equal(ins, 1);
    j.score = 7;
    j.error = NULL;
    ASSERT_OK(hone_ab_store_put_judgement(st, &j, 0, &ins, &err), &err);
    assert_int_equal(ins, 0);
    double sc;
    ASSERT_OK(hone_ab_store_get_score(st, "g", "score", first_id, 0, 0, &sc, &err), &err);
    assert_true(isnan(sc));
    ASSERT_OK(hone_ab_store_put_judgement(st, &j, 1, &ins, &err), &err);
    assert_int_equal(ins, 1);
    ASSERT_OK(hone_ab_store_get_score(st, "g", "score", first_id, 0, 0, &sc, &err), &err);
    assert_true(sc == 7);
    j.score = 3;
    ASSERT_OK(hone_ab_store_put_judgement(st, &j, 1, &ins, &err), &err); /* a real score stays */
    assert_int_equal(ins, 0);
    hone_ab_judgement pw = {.judge = "g", .kind = "pairwise", .answer_a = first_id, .answer_b = 2, .ord = 1, .score = 4};
    ASSERT_OK(hone_ab_store_put_judgement(st, &pw, 0, &ins, &err), &err);
    assert_int_equal(ins, 1);
    assert_int_equal(hone_ab_store_get_score(st, "g", "pairwise", first_id, 2, 0, &sc, &err), HONE_ENOTFOUND);
    hone_ab_judgement wrong = {.judge = "g", .kind = "rank", .answer_a = 1, .score = 1};
    assert_int_equal(hone_ab_store_put_judgement(st, &wrong, 0, &ins, &err), HONE_EARG);
    hone_ab_store_close(st);

    /* WAL mode and the schema persist */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
    rm_db(path);
}

/* The answer text written for cell i: deterministic, 64 KiB, ends with a marker. */
static char *cell_text(uint64_t i) {
    size_t n = 64 * 1024;
    char *t = malloc(n + 32);
    for (size_t k = 0; k < n; k++) t[k] = (char)('a' + (i * 31 + k) % 26);
    snprintf(t + n, 32, "|end of cell %llu", (unsigned long long)i);
    return t;
}

static int put_cell(hone_ab_store *st, const hone_ab_spec *s, uint64_t i, int *ins, hone_err *err) {
    hone_ab_cell c;
    int rc = hone_ab_spec_cell(s, i, &c, err);
    if (rc) return rc;
    char *t = cell_text(i);
    hone_ab_answer a = mk(s->models[c.model].id, s->conditions[c.condition].id, s->probes[c.probe].id,
                          c.sample, t, NULL);
    a.seed = c.seed;
    rc = hone_ab_store_put_answer(st, &a, 0, ins, err);
    free(t);
    return rc;
}

/* Child: writes every cell (in order, skipping none: insert-or-ignore does the resuming),
 * one byte on the pipe after each new row; never returns. */
static void child_fill(const char *path, const hone_ab_spec *s, int wfd) {
    hone_ab_store *st;
    hone_err err = {0};
    if (hone_ab_store_open(&st, path, &err)) _exit(3);
    for (uint64_t i = 0; i < hone_ab_spec_n_cells(s); i++) {
        int ins = 0;
        if (put_cell(st, s, i, &ins, &err)) _exit(4);
        if (ins && write(wfd, "x", 1) != 1) _exit(5);
    }
    hone_ab_store_close(st);
    _exit(0);
}

static void check_integrity(const char *path, const hone_ab_spec *s, int64_t *rows) {
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT model||'/'||condition||'/'||probe||'/'||sample) FROM answers", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    *rows = sqlite3_column_int64(q, 0);
    assert_int_equal(sqlite3_column_int64(q, 1), *rows); /* no duplicates */
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* every row present is whole */
    hone_ab_store *st;
    hone_err err = {0};
    ASSERT_OK(hone_ab_store_open(&st, path, &err), &err);
    int64_t seen = 0;
    for (uint64_t i = 0; i < hone_ab_spec_n_cells(s); i++) {
        hone_ab_cell c;
        ASSERT_OK(hone_ab_spec_cell(s, i, &c, &err), &err);
        hone_ab_answer a;
        int rc = hone_ab_store_get_answer(st, s->models[c.model].id, s->conditions[c.condition].id,
                                          s->probes[c.probe].id, c.sample, &a, &err);
        if (rc == HONE_ENOTFOUND) continue;
        assert_int_equal(rc, HONE_OK);
        char *t = cell_text(i);
        if (strcmp(a.answer, t)) fail_msg("cell %llu: stored answer differs from what was written", (unsigned long long)i);
        assert_int_equal(a.seed, c.seed);
        free(t);
        hone_ab_answer_free(&a);
        seen++;
    }
    assert_int_equal(seen, *rows);
    hone_ab_store_close(st);
}

static void test_crash_resume(void **state) {
    hone_ab_spec *s;
    hone_err err = {0};
    ASSERT_OK(hone_ab_spec_load(&s, "examples/ab/phase3-placement.yaml", &err), &err);
    uint64_t total = hone_ab_spec_n_cells(s);
    char *path = tmp_db();
    int64_t rows = 0, prev = 0;
    /* three killed runs, each after a different number of new rows */
    const int kill_after[3] = {17, 40, 3};
    for (int round = 0; round < 3; round++) {
        int fd[2];
        assert_int_equal(pipe(fd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fd[0]);
            child_fill(path, s, fd[1]);
        }
        close(fd[1]);
        char b;
        for (int k = 0; k < kill_after[round]; k++) assert_int_equal(read(fd[0], &b, 1), 1);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* the child may have run ahead of our reads: count what it acknowledged in all */
        int64_t acked = kill_after[round];
        while (read(fd[0], &b, 1) == 1) acked++;
        close(fd[0]);
        check_integrity(path, s, &rows);
        /* every acknowledged row was committed; at most one more (committed, not yet
         * acknowledged when the kill came) */
        assert_true(rows >= prev + acked);
        assert_true(rows <= prev + acked + 1);
        assert_true((uint64_t)rows < total); /* killed mid-way, not after the end */
        print_message("round %d: killed after %lld acknowledged answers; %lld rows, integrity ok\n",
                      round, (long long)acked, (long long)rows);
        prev = rows;
    }
    /* resume: the missing-cell query names exactly the cells without a row */
    hone_ab_store *st;
    ASSERT_OK(hone_ab_store_open(&st, path, &err), &err);
    uint64_t *miss;
    size_t n_miss;
    ASSERT_OK(hone_ab_store_missing(st, s, 0, &miss, &n_miss, &err), &err);
    assert_int_equal(n_miss, total - (uint64_t)rows);
    for (size_t k = 0; k < n_miss; k++) {
        int ins;
        ASSERT_OK(put_cell(st, s, miss[k], &ins, &err), &err);
        assert_int_equal(ins, 1);
        if (k) assert_true(miss[k] > miss[k - 1]);
    }
    free(miss);
    /* a full rerun inserts nothing */
    for (uint64_t i = 0; i < total; i++) {
        int ins;
        ASSERT_OK(put_cell(st, s, i, &ins, &err), &err);
        assert_int_equal(ins, 0);
    }
    ASSERT_OK(hone_ab_store_missing(st, s, 1, &miss, &n_miss, &err), &err);
    assert_int_equal(n_miss, 0);
    free(miss);
    hone_ab_store_close(st);
    check_integrity(path, s, &rows);
    assert_int_equal(rows, total);
    rm_db(path);
    hone_ab_spec_free(s);
}

/* Two processes and two threads write the same cells at once: SQLite's locking and the busy
 * timeout serialise them; every cell ends with exactly one row, nobody sees SQLITE_BUSY. */
typedef struct writer_arg { const char *path; const hone_ab_spec *s; int ok; } writer_arg;

static void *writer(void *p) {
    writer_arg *w = p;
    hone_ab_store *st;
    hone_err err = {0};
    if (hone_ab_store_open(&st, w->path, &err)) return NULL;
    int ok = 1;
    for (uint64_t i = 0; i < hone_ab_spec_n_cells(w->s); i++) {
        int ins;
        if (put_cell(st, w->s, i, &ins, &err)) { ok = 0; break; }
    }
    hone_ab_store_close(st);
    w->ok = ok;
    return NULL;
}

static void test_concurrent_writers(void **state) {
    hone_ab_spec *s;
    hone_err err = {0};
    ASSERT_OK(hone_ab_spec_load(&s, "examples/ab/phase1-signed.yaml", &err), &err);
    char *path = tmp_db();
    hone_ab_store *st;
    ASSERT_OK(hone_ab_store_open(&st, path, &err), &err); /* create the schema first */
    hone_ab_store_close(st);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            writer_arg w = {path, s, 0};
            writer(&w);
            _exit(w.ok ? 0 : 1);
        }
    }
    writer_arg w[2] = {{path, s, 0}, {path, s, 0}};
    pthread_t th[2];
    for (int k = 0; k < 2; k++) pthread_create(&th[k], NULL, writer, &w[k]);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(w[k].ok);
    }
    int64_t rows;
    check_integrity(path, s, &rows);
    assert_int_equal(rows, hone_ab_spec_n_cells(s));
    rm_db(path);
    hone_ab_spec_free(s);
}

static void test_missing_errors(void **state) {
    hone_ab_spec *s;
    hone_err err = {0};
    ASSERT_OK(hone_ab_spec_load(&s, "examples/ab/phase1-signed.yaml", &err), &err);
    char *path = tmp_db();
    hone_ab_store *st;
    ASSERT_OK(hone_ab_store_open(&st, path, &err), &err);
    hone_ab_cell c;
    ASSERT_OK(hone_ab_spec_cell(s, 5, &c, &err), &err);
    hone_ab_answer a = mk(s->models[c.model].id, s->conditions[c.condition].id, s->probes[c.probe].id,
                          c.sample, NULL, "timeout");
    int ins;
    ASSERT_OK(hone_ab_store_put_answer(st, &a, 0, &ins, &err), &err);
    ASSERT_OK(put_cell(st, s, 0, &ins, &err), &err);
    uint64_t *miss;
    size_t n;
    ASSERT_OK(hone_ab_store_missing(st, s, 0, &miss, &n, &err), &err);
    assert_int_equal(n, hone_ab_spec_n_cells(s) - 2);
    assert_int_equal(miss[0], 1);
    assert_int_equal(miss[4], 6); /* 5 has an (error) row */
    free(miss);
    ASSERT_OK(hone_ab_store_missing(st, s, 1, &miss, &n, &err), &err);
    assert_int_equal(n, hone_ab_spec_n_cells(s) - 1);
    assert_int_equal(miss[4], 5);
    free(miss);
    hone_ab_store_close(st);
    rm_db(path);
    hone_ab_spec_free(s);
    /* an unwritable place is an error naming it */
    assert_int_equal(hone_ab_store_open(&st, "/nonexistent-dir/x.db", &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.db"));
}

int main(void) {
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_missing_errors),
        cmocka_unit_test(test_crash_resume),
        cmocka_unit_test(test_concurrent_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
