/* store.c: the A/B answer store, one SQLite file in WAL mode.
 *
 * Each answer and each judgement is one row written in its own transaction, keyed by its
 * cell ((model, condition, probe, sample) UNIQUE) or by (judge, kind, answer_a, answer_b,
 * ord) UNIQUE. Inserts are INSERT ... ON CONFLICT DO NOTHING (or DO UPDATE only where the
 * stored row failed and the caller asks for a retry), so a run killed at any point leaves
 * whole rows only, and a rerun fills the missing cells and never duplicates one. The
 * missing-cell query loads the spec's cell keys into a temporary table and anti-joins.
 * A store may be shared by threads (each call holds the store's mutex) and by processes
 * (SQLite's locking; a writer waits up to the busy timeout). JSON columns are CHECKed with
 * json_valid().
 * Schema: include/hone/ab.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "util/err.h"

struct hone_ab_store {
    sqlite3 *db;
    char *path;
    pthread_mutex_t mu; /* one caller at a time: a statement, its changes() and errmsg() belong
                           together, and the missing-cell query holds a transaction */
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS runs("
    " id INTEGER PRIMARY KEY, started REAL NOT NULL, spec_path TEXT, spec_hash TEXT, note TEXT);"
    "CREATE TABLE IF NOT EXISTS answers("
    " id INTEGER PRIMARY KEY, run_id INTEGER, model TEXT NOT NULL, condition TEXT NOT NULL,"
    " probe TEXT NOT NULL, sample INTEGER NOT NULL, seed INTEGER,"
    " messages TEXT NOT NULL CHECK(json_valid(messages)), prompt_text TEXT,"
    " params TEXT NOT NULL CHECK(json_valid(params)), answer TEXT, prompt_tokens INTEGER,"
    " answer_tokens INTEGER, finish_reason TEXT, latency_s REAL, model_identity TEXT,"
    " flags INTEGER NOT NULL DEFAULT 0, error TEXT, created REAL NOT NULL,"
    " UNIQUE(model, condition, probe, sample));"
    "CREATE TABLE IF NOT EXISTS judgements("
    " id INTEGER PRIMARY KEY, run_id INTEGER, judge TEXT NOT NULL, kind TEXT NOT NULL"
    " CHECK(kind IN ('score','pairwise')), answer_a INTEGER NOT NULL REFERENCES answers(id),"
    " answer_b INTEGER NOT NULL DEFAULT 0, ord INTEGER NOT NULL DEFAULT 0, prompt TEXT, raw TEXT,"
    " score REAL, error TEXT, latency_s REAL, created REAL NOT NULL,"
    " UNIQUE(judge, kind, answer_a, answer_b, ord));"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "INSERT OR IGNORE INTO meta VALUES('schema', 'hone-ab-1');";

static int fail_db(hone_ab_store *st, hone_err *err, const char *what) {
    return hone_err_set(err, HONE_EIO, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int exec(hone_ab_store *st, const char *sql, hone_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        hone_err_set(err, HONE_EIO, "%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return HONE_EIO;
    }
    return HONE_OK;
}

int hone_ab_store_open(hone_ab_store **out, const char *path, hone_err *err) {
    *out = NULL;
    hone_ab_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    pthread_mutex_init(&st->mu, NULL);
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = hone_err_set(err, HONE_EIO, "%s: cannot open: %s", path,
                          st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        hone_ab_store_close(st);
        return rc;
    }
    sqlite3_busy_timeout(st->db, 10000);
    /* WAL: readers (report) never block the writer; synchronous=NORMAL is durable across a
     * process kill (the WAL is fsynced at checkpoints; a power loss may drop the last rows,
     * which a rerun then fills). */
    rc = exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err);
    if (!rc) rc = exec(st, "BEGIN IMMEDIATE;", err);
    if (!rc) {
        rc = exec(st, SCHEMA, err);
        rc = rc ? (exec(st, "ROLLBACK;", NULL), rc) : exec(st, "COMMIT;", err);
    }
    if (!rc) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema'", -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW &&
                strcmp((const char *)sqlite3_column_text(q, 0), "hone-ab-1"))
                rc = hone_err_set(err, HONE_EFORMAT, "%s: schema '%s' is not hone-ab-1", path,
                                  (const char *)sqlite3_column_text(q, 0));
            sqlite3_finalize(q);
        }
    }
    if (rc) {
        hone_ab_store_close(st);
        return rc;
    }
    *out = st;
    return HONE_OK;
}

void hone_ab_store_close(hone_ab_store *st) {
    if (!st) return;
    if (st->db) sqlite3_close_v2(st->db);
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
}

static int ab_store_begin_run_locked(hone_ab_store *st, const char *spec_path, const char *spec_hash,
                                     const char *note, int64_t *run_id, hone_err *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO runs(started, spec_path, spec_hash, note) VALUES(?,?,?,?)",
                           -1, &q, NULL) != SQLITE_OK)
        return fail_db(st, err, "prepare runs insert");
    sqlite3_bind_double(q, 1, now_s());
    sqlite3_bind_text(q, 2, spec_path, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, spec_hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 4, note, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return fail_db(st, err, "insert run");
    *run_id = sqlite3_last_insert_rowid(st->db);
    return HONE_OK;
}

int hone_ab_store_begin_run(hone_ab_store *st, const char *spec_path, const char *spec_hash,
                            const char *note, int64_t *run_id, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_begin_run_locked(st, spec_path, spec_hash, note, run_id, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static void bind_i64_opt(sqlite3_stmt *q, int i, int64_t v) {
    if (v < 0) sqlite3_bind_null(q, i);
    else sqlite3_bind_int64(q, i, v);
}

static int ab_store_put_answer_locked(hone_ab_store *st, const hone_ab_answer *a, int replace_error,
                                      int *inserted, hone_err *err) {
    if (inserted) *inserted = 0;
    if (!a->model || !a->condition || !a->probe || a->sample < 0 || !a->messages_json || !a->params_json)
        return hone_err_set(err, HONE_EARG, "%s: answer: model, condition, probe, sample >= 0, messages and params are required",
                            st->path);
    if (!a->error && !a->answer)
        return hone_err_set(err, HONE_EARG, "%s: answer %s/%s/%s/%lld: neither an answer nor an error", st->path,
                            a->model, a->condition, a->probe, (long long)a->sample);
    static const char *const INS =
        "INSERT INTO answers(run_id, model, condition, probe, sample, seed, messages, prompt_text,"
        " params, answer, prompt_tokens, answer_tokens, finish_reason, latency_s, model_identity,"
        " flags, error, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(model, condition, probe, sample) DO ";
    static const char *const UPD =
        "UPDATE SET run_id=excluded.run_id, seed=excluded.seed, messages=excluded.messages,"
        " prompt_text=excluded.prompt_text, params=excluded.params, answer=excluded.answer,"
        " prompt_tokens=excluded.prompt_tokens, answer_tokens=excluded.answer_tokens,"
        " finish_reason=excluded.finish_reason, latency_s=excluded.latency_s,"
        " model_identity=excluded.model_identity, flags=excluded.flags, error=excluded.error,"
        " created=excluded.created WHERE answers.error IS NOT NULL";
    char sql[1400];
    snprintf(sql, sizeof sql, "%s%s", INS, replace_error ? UPD : "NOTHING");
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return fail_db(st, err, "prepare answer insert");
    int i = 1;
    if (a->run_id > 0) sqlite3_bind_int64(q, i, a->run_id);
    i++;
    sqlite3_bind_text(q, i++, a->model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, i++, a->condition, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, i++, a->probe, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, i++, a->sample);
    sqlite3_bind_int64(q, i++, a->seed);
    sqlite3_bind_text(q, i++, a->messages_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, i++, a->prompt_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, i++, a->params_json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, i++, a->answer, -1, SQLITE_TRANSIENT);
    bind_i64_opt(q, i++, a->prompt_tokens);
    bind_i64_opt(q, i++, a->answer_tokens);
    sqlite3_bind_text(q, i++, a->finish_reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, i++, a->latency_s);
    sqlite3_bind_text(q, i++, a->model_identity, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, i++, a->flags);
    sqlite3_bind_text(q, i++, a->error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, i++, now_s());
    /* Autocommit: the statement is its own transaction. */
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return fail_db(st, err, "insert answer");
    if (inserted) *inserted = sqlite3_changes(st->db) > 0;
    return HONE_OK;
}

int hone_ab_store_put_answer(hone_ab_store *st, const hone_ab_answer *a, int replace_error,
                             int *inserted, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_put_answer_locked(st, a, replace_error, inserted, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static char *col_dup(sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? strdup((const char *)t) : NULL;
}

static int ab_store_get_answer_locked(hone_ab_store *st, const char *model, const char *condition,
                                      const char *probe, int64_t sample, hone_ab_answer *a, hone_err *err) {
    memset(a, 0, sizeof *a);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, run_id, model, condition, probe, sample, seed, messages, prompt_text,"
                           " params, answer, prompt_tokens, answer_tokens, finish_reason, latency_s,"
                           " model_identity, flags, error FROM answers"
                           " WHERE model=? AND condition=? AND probe=? AND sample=?",
                           -1, &q, NULL) != SQLITE_OK)
        return fail_db(st, err, "prepare answer select");
    sqlite3_bind_text(q, 1, model, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, condition, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, probe, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 4, sample);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        a->id = sqlite3_column_int64(q, 0);
        a->run_id = sqlite3_column_int64(q, 1);
        a->model = col_dup(q, 2);
        a->condition = col_dup(q, 3);
        a->probe = col_dup(q, 4);
        a->sample = sqlite3_column_int64(q, 5);
        a->seed = sqlite3_column_int64(q, 6);
        a->messages_json = col_dup(q, 7);
        a->prompt_text = col_dup(q, 8);
        a->params_json = col_dup(q, 9);
        a->answer = col_dup(q, 10);
        a->prompt_tokens = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 11);
        a->answer_tokens = sqlite3_column_type(q, 12) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 12);
        a->finish_reason = col_dup(q, 13);
        a->latency_s = sqlite3_column_double(q, 14);
        a->model_identity = col_dup(q, 15);
        a->flags = sqlite3_column_int64(q, 16);
        a->error = col_dup(q, 17);
        rc = HONE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = hone_err_set(err, HONE_ENOTFOUND, "%s: no answer for %s/%s/%s/%lld", st->path, model,
                          condition, probe, (long long)sample);
    } else {
        rc = fail_db(st, err, "select answer");
    }
    sqlite3_finalize(q);
    return rc;
}

int hone_ab_store_get_answer(hone_ab_store *st, const char *model, const char *condition,
                             const char *probe, int64_t sample, hone_ab_answer *a, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_get_answer_locked(st, model, condition, probe, sample, a, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void hone_ab_answer_free(hone_ab_answer *a) {
    free((char *)a->model); free((char *)a->condition); free((char *)a->probe);
    free((char *)a->messages_json); free((char *)a->prompt_text); free((char *)a->params_json);
    free((char *)a->answer); free((char *)a->finish_reason); free((char *)a->model_identity);
    free((char *)a->error);
    memset(a, 0, sizeof *a);
}

static int ab_store_count_answers_locked(hone_ab_store *st, int64_t *n, hone_err *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM answers", -1, &q, NULL) != SQLITE_OK)
        return fail_db(st, err, "prepare count");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? HONE_OK : fail_db(st, err, "count answers");
}

int hone_ab_store_count_answers(hone_ab_store *st, int64_t *n, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_count_answers_locked(st, n, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int ab_store_missing_locked(hone_ab_store *st, const hone_ab_spec *s, int include_errors,
                                   uint64_t **idx, size_t *n, hone_err *err) {
    *idx = NULL;
    *n = 0;
    uint64_t total = hone_ab_spec_n_cells(s);
    int rc = exec(st, "CREATE TEMP TABLE IF NOT EXISTS want(i INTEGER PRIMARY KEY, model TEXT,"
                      " condition TEXT, probe TEXT, sample INTEGER); DELETE FROM want; BEGIN;", err);
    if (rc) return rc;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO want VALUES(?,?,?,?,?)", -1, &q, NULL) != SQLITE_OK) {
        rc = fail_db(st, err, "prepare want");
        goto out;
    }
    for (uint64_t i = 0; i < total; i++) {
        hone_ab_cell c;
        if ((rc = hone_ab_spec_cell(s, i, &c, err))) goto out;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, (int64_t)i);
        sqlite3_bind_text(q, 2, s->models[c.model].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, s->conditions[c.condition].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, s->probes[c.probe].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, c.sample);
        if (sqlite3_step(q) != SQLITE_DONE) {
            rc = fail_db(st, err, "fill want");
            goto out;
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    char sql[400];
    snprintf(sql, sizeof sql,
             "SELECT w.i FROM want w LEFT JOIN answers a ON a.model=w.model AND a.condition=w.condition"
             " AND a.probe=w.probe AND a.sample=w.sample WHERE a.id IS NULL%s ORDER BY w.i",
             include_errors ? " OR a.error IS NOT NULL" : "");
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) {
        rc = fail_db(st, err, "prepare missing");
        goto out;
    }
    size_t cap = 0;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*idx, cap * sizeof *p);
            if (!p) {
                rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", st->path);
                goto out;
            }
            *idx = p;
        }
        (*idx)[(*n)++] = (uint64_t)sqlite3_column_int64(q, 0);
    }
    if (r != SQLITE_DONE) rc = fail_db(st, err, "query missing");
out:
    if (q) sqlite3_finalize(q);
    exec(st, rc ? "ROLLBACK;" : "COMMIT;", NULL);
    if (rc) {
        free(*idx);
        *idx = NULL;
        *n = 0;
    }
    return rc;
}

int hone_ab_store_missing(hone_ab_store *st, const hone_ab_spec *s, int include_errors,
                          uint64_t **idx, size_t *n, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_missing_locked(st, s, include_errors, idx, n, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int ab_store_put_judgement_locked(hone_ab_store *st, const hone_ab_judgement *j,
                                         int replace_missing, int *inserted, hone_err *err) {
    if (inserted) *inserted = 0;
    if (!j->judge || !j->kind || (strcmp(j->kind, "score") && strcmp(j->kind, "pairwise")) || j->answer_a <= 0)
        return hone_err_set(err, HONE_EARG, "%s: judgement: judge, kind score|pairwise and answer_a are required",
                            st->path);
    char sql[900];
    snprintf(sql, sizeof sql,
             "INSERT INTO judgements(run_id, judge, kind, answer_a, answer_b, ord, prompt, raw, score,"
             " error, latency_s, created) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"
             " ON CONFLICT(judge, kind, answer_a, answer_b, ord) DO %s",
             replace_missing ? "UPDATE SET run_id=excluded.run_id, prompt=excluded.prompt, raw=excluded.raw,"
                               " score=excluded.score, error=excluded.error, latency_s=excluded.latency_s,"
                               " created=excluded.created WHERE judgements.score IS NULL"
                             : "NOTHING");
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK) return fail_db(st, err, "prepare judgement insert");
    if (j->run_id > 0) sqlite3_bind_int64(q, 1, j->run_id);
    sqlite3_bind_text(q, 2, j->judge, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 3, j->kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 4, j->answer_a);
    sqlite3_bind_int64(q, 5, j->answer_b);
    sqlite3_bind_int64(q, 6, j->ord);
    sqlite3_bind_text(q, 7, j->prompt, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 8, j->raw, -1, SQLITE_TRANSIENT);
    if (isnan(j->score)) sqlite3_bind_null(q, 9);
    else sqlite3_bind_double(q, 9, j->score);
    sqlite3_bind_text(q, 10, j->error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(q, 11, j->latency_s);
    sqlite3_bind_double(q, 12, now_s());
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) return fail_db(st, err, "insert judgement");
    if (inserted) *inserted = sqlite3_changes(st->db) > 0;
    return HONE_OK;
}

int hone_ab_store_put_judgement(hone_ab_store *st, const hone_ab_judgement *j,
                                int replace_missing, int *inserted, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_put_judgement_locked(st, j, replace_missing, inserted, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static int ab_store_get_score_locked(hone_ab_store *st, const char *judge, const char *kind,
                                     int64_t answer_a, int64_t answer_b, int64_t ord, double *score,
                                     hone_err *err) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "SELECT score FROM judgements WHERE judge=? AND kind=? AND answer_a=?"
                                   " AND answer_b=? AND ord=?", -1, &q, NULL) != SQLITE_OK)
        return fail_db(st, err, "prepare score select");
    sqlite3_bind_text(q, 1, judge, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 2, kind, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 3, answer_a);
    sqlite3_bind_int64(q, 4, answer_b);
    sqlite3_bind_int64(q, 5, ord);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *score = sqlite3_column_type(q, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 0);
        rc = HONE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = hone_err_set(err, HONE_ENOTFOUND, "%s: no %s judgement by %s of %lld/%lld order %lld", st->path,
                          kind, judge, (long long)answer_a, (long long)answer_b, (long long)ord);
    } else {
        rc = fail_db(st, err, "select score");
    }
    sqlite3_finalize(q);
    return rc;
}

int hone_ab_store_get_score(hone_ab_store *st, const char *judge, const char *kind,
                            int64_t answer_a, int64_t answer_b, int64_t ord, double *score,
                            hone_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = ab_store_get_score_locked(st, judge, kind, answer_a, answer_b, ord, score, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- metadata and the design record ------------------------------------------------------ */

sqlite3 *ab_store_lock(hone_ab_store *st) {
    pthread_mutex_lock(&st->mu);
    return st->db;
}

void ab_store_unlock(hone_ab_store *st) { pthread_mutex_unlock(&st->mu); }

const char *ab_store_path(const hone_ab_store *st) { return st->path; }

int hone_ab_store_set_meta(hone_ab_store *st, const char *key, const char *value, hone_err *err) {
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *q;
    int rc = HONE_OK;
    if (sqlite3_prepare_v2(st->db, "INSERT INTO meta(key, value) VALUES(?, ?)"
                                   " ON CONFLICT(key) DO UPDATE SET value=excluded.value", -1, &q, NULL) != SQLITE_OK) {
        rc = fail_db(st, err, "prepare meta insert");
    } else {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(q, 2, value, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(q) != SQLITE_DONE) rc = fail_db(st, err, "insert meta");
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int hone_ab_store_get_meta(hone_ab_store *st, const char *key, char **value, hone_err *err) {
    *value = NULL;
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *q;
    int rc;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key=?", -1, &q, NULL) != SQLITE_OK) {
        rc = fail_db(st, err, "prepare meta select");
    } else {
        sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
        int r = sqlite3_step(q);
        if (r == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL) {
            rc = (*value = col_dup(q, 0)) ? HONE_OK : hone_err_set(err, HONE_ENOMEM, "%s: out of memory", st->path);
        } else if (r == SQLITE_ROW || r == SQLITE_DONE) {
            rc = hone_err_set(err, HONE_ENOTFOUND, "%s: no meta key '%s'", st->path, key);
        } else {
            rc = fail_db(st, err, "select meta");
        }
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}
