/* build.c: `hone data build` as a library call (hone_ds_build; the files and rules are in
 * include/hone/dataset.h).
 *
 * Resumability rests on one append-only journal. Its first line holds the generation settings
 * (canonical JSON: sorted keys, compact); each later line is one finished cell, written with a
 * single write() of the whole line and fsync'd before the cell counts as done. On start the
 * journal is read back: a final line without its newline or that does not parse (the process was
 * killed in the middle of a write) is cut off with ftruncate; a cell already present whose sent
 * messages hash the same is not generated again; the same (probe, sample) twice keeps the last
 * (a cell whose probe text changed is regenerated and appended). OUT and the provenance are
 * derived from the journal and rewritten atomically at the end of every run, so they never hold
 * a duplicate or a half record, whatever happened before.
 *
 * Workers: `concurrency` threads take the next missing cell under a mutex, call the backend
 * (hone_llm_chat may run concurrently), and append under the mutex. Each cell's answer depends
 * only on its own request (its seed, fresh sampler and context), not on the order or the thread,
 * so an interrupted and resumed build holds the same records as an uninterrupted one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/ds_internal.h"
#include "eval/llm_internal.h"
#include "hone/ab.h"
#include "hone/chat.h"
#include "hone/dataset.h"
#include "hone/llm.h"
#include "hone/sign.h"
#include "util/err.h"
#include "util/fileio.h"

typedef struct cell {
    uint32_t probe, sample, seed;
    char msgs_hash[65];
    /* result (from the journal or this run) */
    int have;
    char *answer;
    char finish[16];
    int64_t prompt_tokens, answer_tokens;
    double latency_s;
} cell;

typedef struct probe_msgs {
    char *sys, *user; /* as sent (signed) */
} probe_msgs;

typedef struct build {
    const hone_ds_build_opts *o;
    hone_ds_build_result *res;
    probe_msgs *pm;
    cell *cells;
    uint64_t n_cells;
    uint64_t *todo;
    uint64_t n_todo, next;
    uint64_t done; /* cells with a result */
    int fd;        /* the journal, O_APPEND */
    char *journal_path;
    pthread_mutex_t mu;
    int io_failed;
    hone_err io_err;
} build;

static char *stem_of(const char *out) {
    size_t n = strlen(out);
    if (n > 6 && !strcmp(out + n - 6, ".jsonl")) n -= 6;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, out, n);
        s[n] = 0;
    }
    return s;
}

static char *path_with(const char *stem, const char *suffix) {
    char *p = NULL;
    if (asprintf(&p, "%s%s", stem, suffix) < 0) return NULL;
    return p;
}

static void hex_of(const unsigned char d[32], char hex[65]) {
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    hex[64] = 0;
}

static void sha_hex(const char *s, size_t n, char hex[65]) {
    unsigned char d[32];
    llm_sha256(s, n, d);
    hex_of(d, hex);
}

/* The generation settings: what changes an answer. */
static json_t *settings_json(const hone_ds_build_opts *o, char (*khash)[65], const char *kb_hash) {
    json_t *ks = json_array();
    for (size_t i = 0; i < o->n_kernel_paths; i++) json_array_append_new(ks, json_string(khash[i]));
    json_t *s = json_object();
    json_object_set_new(s, "hone_data_build", json_integer(1));
    json_object_set_new(s, "generator", json_string(hone_llm_identity(o->llm)));
    json_object_set_new(s, "mode", json_string(hone_sign_mode_name(o->sign->mode)));
    json_object_set_new(s, "kernels_sha256", ks);
    json_object_set_new(s, "kernel_b_sha256", kb_hash ? json_string(kb_hash) : json_null());
    json_object_set_new(s, "reminder", o->sign->reminder && *o->sign->reminder ? json_string(o->sign->reminder) : json_null());
    json_object_set_new(s, "temperature", json_real(o->temperature));
    json_object_set_new(s, "top_p", json_real(o->top_p));
    json_object_set_new(s, "max_tokens", json_integer((json_int_t)o->max_tokens));
    json_object_set_new(s, "seed", json_integer((json_int_t)o->seed));
    return s;
}

/* Writes one line (with its newline) in one write() and fsyncs it. */
static int journal_append(build *b, const char *line, hone_err *err) {
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t off = 0;
    while (off < n + 1) {
        ssize_t w = write(b->fd, buf + off, n + 1 - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = errno;
            free(buf);
            return hone_err_set(err, HONE_EIO, "%s: write failed: %s", b->journal_path, strerror(e));
        }
        off += (size_t)w;
    }
    free(buf);
    if (fsync(b->fd) != 0)
        return hone_err_set(err, HONE_EIO, "%s: fsync failed: %s", b->journal_path, strerror(errno));
    return HONE_OK;
}

static int cell_find(const build *b, const char *id, int64_t sample) {
    /* cells are probe-major: probe index by id, then sample */
    if (sample < 0 || sample >= (int64_t)b->o->samples) return -1;
    for (size_t p = 0; p < b->o->n_probes; p++)
        if (!strcmp(b->o->probes[p].id, id)) return (int)(p * b->o->samples + (size_t)sample);
    return -1;
}

static void cell_set(cell *c, const char *answer, const char *finish, int64_t pt, int64_t at, double lat) {
    free(c->answer);
    c->answer = strdup(answer);
    snprintf(c->finish, sizeof c->finish, "%s", finish);
    c->prompt_tokens = pt;
    c->answer_tokens = at;
    c->latency_s = lat;
    c->have = c->answer != NULL;
}

/* Reads the journal (if any), checks its settings, loads the cells; cuts a torn tail. */
static int journal_open(build *b, const char *settings, hone_err *err) {
    int fd = open(b->journal_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return hone_err_set(err, HONE_EIO, "%s: cannot open: %s", b->journal_path, strerror(errno));
    b->fd = fd;
    struct stat sb;
    if (fstat(fd, &sb) != 0) return hone_err_set(err, HONE_EIO, "%s: %s", b->journal_path, strerror(errno));
    size_t size = (size_t)sb.st_size, good = 0;
    char *data = NULL;
    if (size) {
        data = malloc(size + 1);
        if (!data) return hone_err_set(err, HONE_ENOMEM, "out of memory");
        size_t got = 0;
        while (got < size) {
            ssize_t r = pread(fd, data + got, size - got, (off_t)got);
            if (r <= 0) {
                free(data);
                return hone_err_set(err, HONE_EIO, "%s: read failed", b->journal_path);
            }
            got += (size_t)r;
        }
        data[size] = 0;
    }
    int rc = HONE_OK, lineno = 0;
    const char *p = data, *end = data ? data + size : data;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break; /* a torn last line: no newline, never complete */
        lineno++;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (!o) {
            if (nl + 1 == end) break; /* a torn last line that has its newline: cut it as well */
            p = nl + 1; /* an unreadable line inside (never written by hone): skipped */
            good = (size_t)(p - data);
            continue;
        }
        if (lineno == 1) {
            char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            if (!s || strcmp(s, settings))
                rc = hone_err_set(err, HONE_EARG,
                                  "%s was started with other generation settings (generator, kernels, mode, reminder, "
                                  "sampling or seed): %s; now: %s. Delete it to start over, or use the same settings",
                                  b->journal_path, s ? s : "?", settings);
            free(s);
        } else {
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *h = json_string_value(json_object_get(o, "msgs_sha256"));
            const char *ans = json_string_value(json_object_get(o, "answer"));
            const char *fin = json_string_value(json_object_get(o, "finish_reason"));
            int ci = id ? cell_find(b, id, json_integer_value(json_object_get(o, "sample"))) : -1;
            if (ci >= 0 && h && ans && fin && !strcmp(h, b->cells[ci].msgs_hash)) {
                cell *c = &b->cells[ci];
                if (!c->have) b->res->resumed++;
                cell_set(c, ans, fin, json_integer_value(json_object_get(o, "prompt_tokens")),
                         json_integer_value(json_object_get(o, "answer_tokens")),
                         json_number_value(json_object_get(o, "latency_s")));
            }
        }
        json_decref(o);
        p = nl + 1;
        good = (size_t)(p - data);
    }
    free(data);
    if (rc) return rc;
    if (good < size && ftruncate(fd, (off_t)good) != 0)
        return hone_err_set(err, HONE_EIO, "%s: cannot cut the torn last line: %s", b->journal_path, strerror(errno));
    if (lseek(fd, 0, SEEK_END) < 0) return hone_err_set(err, HONE_EIO, "%s: seek failed", b->journal_path);
    if (good == 0 && (rc = journal_append(b, settings, err))) return rc;
    return HONE_OK;
}

static void *worker(void *arg) {
    build *b = arg;
    const hone_ds_build_opts *o = b->o;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int stop = (o->stop && *o->stop) || b->io_failed || b->next >= b->n_todo;
        uint64_t ci = stop ? 0 : b->todo[b->next++];
        pthread_mutex_unlock(&b->mu);
        if (stop) break;
        cell *c = &b->cells[ci];
        const probe_msgs *pm = &b->pm[c->probe];
        hone_chat_msg msgs[2];
        size_t nm = 0;
        if (pm->sys) msgs[nm++] = (hone_chat_msg){"system", pm->sys};
        msgs[nm++] = (hone_chat_msg){"user", pm->user};
        hone_llm_request rq = {.msgs = msgs, .n_msgs = nm, .temperature = o->temperature, .top_p = o->top_p,
                               .max_tokens = o->max_tokens, .seed = c->seed};
        hone_llm_result r;
        hone_err e = {0};
        memset(&r, 0, sizeof r);
        int rc = hone_llm_chat(o->llm, &rq, &r, &e);
        pthread_mutex_lock(&b->mu);
        if (rc || !r.text) {
            b->res->errors++;
            if (!b->res->first_error[0])
                snprintf(b->res->first_error, sizeof b->res->first_error, "probe %s sample %u: %s",
                         o->probes[c->probe].id, c->sample, e.msg[0] ? e.msg : "no answer");
        } else {
            json_t *j = json_pack("{s:s, s:i, s:I, s:s, s:s, s:s, s:I, s:I, s:f, s:i}", "id", o->probes[c->probe].id,
                                  "sample", (int)c->sample, "seed", (json_int_t)c->seed, "msgs_sha256", c->msgs_hash,
                                  "answer", r.text, "finish_reason", r.finish_reason, "prompt_tokens",
                                  (json_int_t)r.prompt_tokens, "answer_tokens", (json_int_t)r.answer_tokens,
                                  "latency_s", r.latency_s, "attempts", r.attempts);
            char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
            json_decref(j);
            int wrc = line ? journal_append(b, line, &b->io_err) : hone_err_set(&b->io_err, HONE_ENOMEM, "out of memory");
            free(line);
            if (wrc) {
                b->io_failed = 1;
            } else {
                cell_set(c, r.text, r.finish_reason, r.prompt_tokens, r.answer_tokens, r.latency_s);
                b->res->generated++;
                b->done++;
            }
        }
        if (c->have && !strcmp(c->finish, "length")) b->res->truncated++;
        if (o->on_progress) o->on_progress(o->user, b->done, b->n_cells, b->res->truncated, b->res->errors);
        pthread_mutex_unlock(&b->mu);
        hone_llm_result_free(&r);
    }
    return NULL;
}

/* The training record of a finished cell, as a line of the output format. */
static int record_line(const build *b, const cell *c, char **out, hone_err *err) {
    const hone_ds_build_opts *o = b->o;
    const hone_ds_probe *pr = &o->probes[c->probe];
    const probe_msgs *pm = &b->pm[c->probe];
    const char *sys = o->train_signed ? pm->sys : pr->system;
    const char *user = o->train_signed ? pm->user : pr->prompt;
    json_t *msgs = json_array();
    if (sys) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", sys));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", c->answer));
    json_t *rec = json_object();
    json_object_set_new(rec, "id", json_string(pr->id));
    json_object_set_new(rec, "sample", json_integer(c->sample));
    if (pr->category) json_object_set_new(rec, "category", json_string(pr->category));
    if (pr->lang) json_object_set_new(rec, "lang", json_string(pr->lang));
    json_object_set_new(rec, "messages", msgs);
    char *line = json_dumps(rec, 0);
    json_decref(rec);
    if (!line) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (o->format == HONE_DS_MESSAGES || !o->format) {
        *out = line;
        return HONE_OK;
    }
    hone_ds *ds;
    int rc = hone_ds_load_mem(&ds, o->out_path, line, strlen(line), NULL, err);
    free(line);
    if (rc) return rc;
    rc = hone_ds_convert(ds, &ds->recs[0], o->format, o->tmpl, out, err);
    hone_ds_free(ds);
    return rc;
}

static json_t *provenance(const build *b, const cell *c, int64_t out_line, char (*khash)[65],
                          const char *kb_hash) {
    const hone_ds_build_opts *o = b->o;
    json_t *ks = json_array();
    for (size_t i = 0; i < o->n_kernel_paths; i++)
        json_array_append_new(ks, json_pack("{s:s, s:s}", "path", o->kernel_paths[i], "sha256", khash[i]));
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(o->probes[c->probe].id));
    json_object_set_new(j, "sample", json_integer(c->sample));
    json_object_set_new(j, "seed", json_integer(c->seed));
    json_object_set_new(j, "out_line", out_line > 0 ? json_integer(out_line) : json_null());
    json_object_set_new(j, "included", json_boolean(out_line > 0));
    json_object_set_new(j, "finish_reason", json_string(c->finish));
    json_object_set_new(j, "truncated", json_boolean(!strcmp(c->finish, "length")));
    json_object_set_new(j, "prompt_tokens", json_integer(c->prompt_tokens));
    json_object_set_new(j, "answer_tokens", json_integer(c->answer_tokens));
    json_object_set_new(j, "latency_s", json_real(c->latency_s));
    json_object_set_new(j, "mode", json_string(hone_sign_mode_name(o->sign->mode)));
    json_object_set_new(j, "kernels", ks);
    json_object_set_new(j, "kernel_b", o->kernel_b_path ? json_pack("{s:s, s:s}", "path", o->kernel_b_path, "sha256", kb_hash)
                                                        : json_null());
    json_object_set_new(j, "reminder", o->sign->reminder && *o->sign->reminder ? json_string(o->sign->reminder) : json_null());
    json_object_set_new(j, "train_prompt", json_string(o->train_signed ? "signed" : "unsigned"));
    json_object_set_new(j, "format", json_string(hone_ds_format_name(o->format ? o->format : HONE_DS_MESSAGES)));
    json_object_set_new(j, "generator", json_pack("{s:s, s:s, s:s}", "kind", o->generator_kind ? o->generator_kind : "?",
                                                  "identity", hone_llm_identity(o->llm), "model",
                                                  o->generator_model ? o->generator_model : "?"));
    json_object_set_new(j, "sampling", json_pack("{s:f, s:f, s:I}", "temperature", o->temperature, "top_p", o->top_p,
                                                 "max_tokens", (json_int_t)o->max_tokens));
    json_object_set_new(j, "seed_base", json_integer((json_int_t)o->seed));
    return j;
}

int hone_ds_build(const hone_ds_build_opts *o, hone_ds_build_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    if (!o->llm || !o->sign || !o->out_path || !o->n_probes || !o->samples)
        return hone_err_set(err, HONE_EARG, "data build: needs probes, a generator, a signing mode, samples and OUT");
    if (o->format == HONE_DS_TEXT && !o->tmpl)
        return hone_err_set(err, HONE_EARG, "data build: --format text needs a chat template (--template)");
    build b = {.o = o, .res = res, .fd = -1};
    pthread_mutex_init(&b.mu, NULL);
    int rc = HONE_OK;
    char (*khash)[65] = calloc(o->n_kernel_paths + 1, sizeof *khash);
    char kb_hash[65] = {0};
    char *stem = stem_of(o->out_path), *settings = NULL, *prov_path = NULL;
    const char **lines = NULL, **plines = NULL;
    b.journal_path = stem ? path_with(stem, ".journal.jsonl") : NULL;
    prov_path = stem ? path_with(stem, ".provenance.jsonl") : NULL;
    if (!khash || !stem || !b.journal_path || !prov_path) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); goto out; }
    for (size_t i = 0; i < o->n_kernel_paths && !rc; i++) rc = llm_sha256_file(o->kernel_paths[i], khash[i], err);
    if (!rc && o->kernel_b_path) rc = llm_sha256_file(o->kernel_b_path, kb_hash, err);
    if (rc) goto out;
    json_t *sj = settings_json(o, khash, o->kernel_b_path ? kb_hash : NULL);
    settings = json_dumps(sj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(sj);
    /* the messages each probe sends, and the cells */
    b.pm = calloc(o->n_probes, sizeof *b.pm);
    b.n_cells = (uint64_t)o->n_probes * o->samples;
    b.cells = calloc(b.n_cells, sizeof *b.cells);
    b.todo = calloc(b.n_cells, sizeof *b.todo);
    if (!settings || !b.pm || !b.cells || !b.todo) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); goto out; }
    res->cells = b.n_cells;
    for (size_t p = 0; p < o->n_probes && !rc; p++) {
        const hone_ds_probe *pr = &o->probes[p];
        if ((rc = hone_sign_apply(o->sign, pr->system, pr->prompt, &b.pm[p].sys, &b.pm[p].user, err))) {
            hone_err_prefix(err, "%s:%d: probe %s", pr->file ? pr->file : "probes", pr->line, pr->id);
            break;
        }
        json_t *mj = json_array();
        if (b.pm[p].sys) json_array_append_new(mj, json_pack("[s,s]", "system", b.pm[p].sys));
        json_array_append_new(mj, json_pack("[s,s]", "user", b.pm[p].user));
        char *ms = json_dumps(mj, JSON_COMPACT);
        json_decref(mj);
        if (!ms) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); break; }
        char h[65];
        sha_hex(ms, strlen(ms), h);
        free(ms);
        for (uint32_t s = 0; s < o->samples; s++) {
            cell *c = &b.cells[p * o->samples + s];
            c->probe = (uint32_t)p;
            c->sample = s;
            c->seed = hone_ab_sample_seed(o->seed, pr->id, s);
            memcpy(c->msgs_hash, h, 65);
        }
    }
    if (rc) goto out;
    if ((rc = journal_open(&b, settings, err))) goto out;
    for (uint64_t i = 0; i < b.n_cells; i++) {
        if (b.cells[i].have) {
            b.done++;
            if (!strcmp(b.cells[i].finish, "length")) res->truncated++;
        } else {
            b.todo[b.n_todo++] = i;
        }
    }
    if (o->on_progress) o->on_progress(o->user, b.done, b.n_cells, res->truncated, 0);
    int nt = o->concurrency > 0 ? o->concurrency : 1;
    if ((uint64_t)nt > b.n_todo) nt = (int)(b.n_todo ? b.n_todo : 1);
    pthread_t th[64];
    if (nt > 64) nt = 64;
    int started = 0;
    if (b.n_todo > 0) {
        for (int t = 1; t < nt; t++)
            if (pthread_create(&th[t], NULL, worker, &b) == 0) started++;
        worker(&b);
        for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    }
    if (b.io_failed) {
        *err = b.io_err;
        rc = err->code ? err->code : HONE_EIO;
        goto out;
    }
    res->interrupted = o->stop && *o->stop && b.done < b.n_cells;
    /* the outputs, in cell order */
    lines = calloc(b.n_cells + 1, sizeof *lines);
    plines = calloc(b.n_cells + 1, sizeof *plines);
    if (!lines || !plines) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); goto out; }
    size_t nl = 0, np = 0;
    for (uint64_t i = 0; i < b.n_cells && !rc; i++) {
        const cell *c = &b.cells[i];
        if (!c->have) continue;
        int keep = strcmp(c->finish, "length") != 0 || o->keep_truncated;
        int64_t out_line = 0;
        if (keep) {
            char *l;
            if ((rc = record_line(&b, c, &l, err))) break;
            lines[nl++] = l;
            out_line = (int64_t)nl;
        }
        json_t *pj = provenance(&b, c, out_line, khash, kb_hash);
        char *ps = pj ? json_dumps(pj, 0) : NULL;
        json_decref(pj);
        if (!ps) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); break; }
        plines[np++] = ps;
    }
    if (!rc) rc = hone_ds_write_lines(o->out_path, lines, NULL, nl, err);
    if (!rc) rc = hone_ds_write_lines(prov_path, plines, NULL, np, err);
    res->written = nl;
    for (size_t i = 0; i < nl; i++) free((char *)lines[i]);
    for (size_t i = 0; i < np; i++) free((char *)plines[i]);
out:
    free(lines);
    free(plines);
    if (b.fd >= 0) close(b.fd);
    for (size_t p = 0; b.pm && p < o->n_probes; p++) {
        free(b.pm[p].sys);
        free(b.pm[p].user);
    }
    for (uint64_t i = 0; b.cells && i < b.n_cells; i++) free(b.cells[i].answer);
    free(b.pm);
    free(b.cells);
    free(b.todo);
    free(khash);
    free(stem);
    free(settings);
    free(b.journal_path);
    free(prov_path);
    pthread_mutex_destroy(&b.mu);
    return rc;
}
