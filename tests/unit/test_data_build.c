/* test_data_build.c: the probe loader and hone_ds_build against a fake OpenAI-compatible server
 * (libmicrohttpd, in this process), so the build's journal, resume and output logic run under
 * ASan without a model. The server answers each request with "answer to <user text> #<seed>",
 * finish_reason "length" when the seed is divisible by 3 (else "stop"), and counts requests.
 * Checked (exact):
 *   - probes: every field, and errors naming FILE:LINE:COLUMN (unknown key, non-string,
 *     missing prompt, duplicate id, bad JSON);
 *   - a build: one record per (probe, sample) in cell order, each answer the server's for that
 *     cell's seed (hone_ab_sample_seed), the unsigned prompt, "length" answers left out and
 *     flagged in the provenance, the requests carrying the kernel as the system message;
 *   - resume: a build stopped after 3 cells (the stop flag), a torn line appended to its
 *     journal, then rerun: exactly the missing cells are requested, and the output equals an
 *     uninterrupted build's byte for byte; a third run requests nothing;
 *   - another seed on the same journal: HONE_EARG. */
#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>

#include "testutil.h"
#include "util/fileio.h"

/* ---- the fake server ---- */

typedef struct body {
    char *p;
    size_t n;
} body;

static int n_requests;
static pthread_mutex_t req_mu = PTHREAD_MUTEX_INITIALIZER;
static char last_system[256];

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *data, size_t *size, void **ptr) {
    body *b = *ptr;
    if (!b) {
        *ptr = calloc(1, sizeof *b);
        return MHD_YES;
    }
    if (*size) {
        b->p = realloc(b->p, b->n + *size + 1);
        memcpy(b->p + b->n, data, *size);
        b->n += *size;
        b->p[b->n] = 0;
        *size = 0;
        return MHD_YES;
    }
    json_t *rq = json_loadb(b->p ? b->p : "", b->n, 0, NULL);
    json_int_t seed = json_integer_value(json_object_get(rq, "seed"));
    json_t *msgs = json_object_get(rq, "messages");
    const char *user = "", *sys = "";
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        const char *role = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
        const char *c = json_string_value(json_object_get(json_array_get(msgs, i), "content"));
        if (role && !strcmp(role, "user")) user = c;
        if (role && !strcmp(role, "system")) sys = c;
    }
    char ans[512];
    snprintf(ans, sizeof ans, "answer to %s #%lld", user, (long long)seed);
    pthread_mutex_lock(&req_mu);
    n_requests++;
    snprintf(last_system, sizeof last_system, "%s", sys);
    pthread_mutex_unlock(&req_mu);
    json_t *resp = json_pack("{s:[{s:{s:s,s:s},s:s}],s:{s:i,s:i}}", "choices", "message", "role", "assistant",
                             "content", ans, "finish_reason", seed % 3 == 0 ? "length" : "stop", "usage",
                             "prompt_tokens", 10, "completion_tokens", 5);
    char *txt = json_dumps(resp, 0);
    json_decref(resp);
    json_decref(rq);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(txt), txt, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **ptr, enum MHD_RequestTerminationCode toe) {
    body *b = *ptr;
    if (b) {
        free(b->p);
        free(b);
    }
    *ptr = NULL;
}

static struct MHD_Daemon *server_start(char *url, size_t n) {
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(url, n, "http://127.0.0.1:%u/v1", (unsigned)info->port);
    return d;
}

/* ---- probes ---- */

static void test_probes(void **state) {
    const char *ok = "{\"id\": \"a\", \"prompt\": \"P1\", \"category\": \"c\", \"lang\": \"en\", \"signal\": \"s\", \"system\": \"S\"}\n"
                     "\n{\"prompt\": \"P2\", \"id\": \"b\"}\n";
    char *p = test_write_tmp(ok, strlen(ok), ".jsonl");
    const char *paths[] = {p};
    hone_ds_probe *pr;
    size_t n;
    hone_err err = {0};
    ASSERT_OK(hone_ds_probes_load(paths, 1, &pr, &n, &err), &err);
    assert_int_equal(n, 2);
    assert_string_equal(pr[0].system, "S");
    assert_string_equal(pr[0].lang, "en");
    assert_int_equal(pr[1].line, 3);
    assert_null(pr[1].category);
    hone_ds_probes_free(pr, n);
    unlink(p);
    free(p);
    static const struct { const char *text, *want; } bad[] = {
        {"{\"id\": \"a\", \"prompt\": \"x\", \"promt\": \"y\"}", ":1:28: unknown key \"promt\""},
        {"{\"id\": \"a\", \"prompt\": 3}", ":1:13: prompt: expected a string"},
        {"{\"id\": \"a\"}", ":1:1: missing \"prompt\""},
        {"{\"id\": \"a\", \"prompt\": \"x\"}\n{\"id\": \"a\", \"prompt\": \"y\"}", ":2:2: id: duplicate probe id 'a'"},
        {"{\"id\": \"a\", \"prompt\": \"x\",}", ":1:27: string or '}' expected"},
        {"[1]", ":1:1: expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = test_write_tmp(bad[i].text, strlen(bad[i].text), ".jsonl");
        paths[0] = p;
        assert_int_equal(hone_ds_probes_load(paths, 1, &pr, &n, &err), HONE_EFORMAT);
        if (strncmp(err.msg, p, strlen(p)) || !strstr(err.msg, bad[i].want))
            fail_msg("case %zu: want '%s' after the path in: %s", i, bad[i].want, err.msg);
        unlink(p);
        free(p);
    }
}

/* ---- builds ---- */

static volatile int stop_flag;
static int stop_after;
static void stop_progress(void *u, uint64_t done, uint64_t total, uint64_t trunc, uint64_t errors) {
    if (stop_after && done >= (uint64_t)stop_after) stop_flag = 1;
}

static char *slurp(const char *path) {
    char *s;
    size_t n;
    hone_err err = {0};
    ASSERT_OK(hone_file_read_all(path, &s, &n, &err), &err);
    return s;
}

static void test_build(void **state) {
    char url[128], dir[] = "/tmp/hone-build-XXXXXX";
    struct MHD_Daemon *d = server_start(url, sizeof url);
    assert_non_null(mkdtemp(dir));
    char probes_p[256], kern_p[256], a_out[256], b_out[256], path[300];
    snprintf(probes_p, sizeof probes_p, "%s/probes.jsonl", dir);
    snprintf(kern_p, sizeof kern_p, "%s/k.txt", dir);
    snprintf(a_out, sizeof a_out, "%s/a.jsonl", dir);
    snprintf(b_out, sizeof b_out, "%s/b.jsonl", dir);
    FILE *f = fopen(probes_p, "w");
    fprintf(f, "{\"id\": \"p1\", \"prompt\": \"one\", \"lang\": \"en\"}\n{\"id\": \"p2\", \"prompt\": \"two\"}\n"
               "{\"id\": \"p3\", \"prompt\": \"three\", \"category\": \"x\"}\n");
    fclose(f);
    f = fopen(kern_p, "w");
    fprintf(f, "Be brief.\n");
    fclose(f);
    hone_err err = {0};
    const char *pp[] = {probes_p};
    hone_ds_probe *pr;
    size_t npr;
    ASSERT_OK(hone_ds_probes_load(pp, 1, &pr, &npr, &err), &err);
    hone_llm *llm;
    hone_llm_opts lo = {.kind = HONE_LLM_OPENAI, .url = url, .name = "fake", .max_retries = 1};
    ASSERT_OK(hone_llm_open(&llm, &lo, &err), &err);
    hone_sign sg = {.mode = HONE_SIGN_SYSTEM, .kernel = "Be brief."};
    const char *kp[] = {kern_p};
    hone_ds_build_opts o = {.probes = pr, .n_probes = npr, .sign = &sg, .kernel_paths = kp, .n_kernel_paths = 1,
                            .llm = llm, .generator_kind = "openai", .generator_model = "fake", .samples = 3,
                            .temperature = 0.5, .top_p = 0.9, .max_tokens = 32, .seed = 11, .format = HONE_DS_MESSAGES,
                            .out_path = a_out, .stop = &stop_flag, .on_progress = stop_progress};
    hone_ds_build_result res;
    n_requests = 0;
    ASSERT_OK(hone_ds_build(&o, &res, &err), &err);
    assert_int_equal(res.cells, 9);
    assert_int_equal(res.generated, 9);
    assert_int_equal(n_requests, 9);
    assert_string_equal(last_system, "Be brief.");
    /* expected records: cell order, answers by seed, "length" (seed % 3 == 0) left out */
    size_t want_n = 0;
    char *want = calloc(1, 8192);
    for (size_t p = 0; p < npr; p++)
        for (uint32_t s = 0; s < 3; s++) {
            uint32_t seed = hone_ab_sample_seed(11, pr[p].id, s);
            if (seed % 3 == 0) continue;
            json_t *rec = json_object();
            json_object_set_new(rec, "id", json_string(pr[p].id));
            json_object_set_new(rec, "sample", json_integer(s));
            if (pr[p].category) json_object_set_new(rec, "category", json_string(pr[p].category));
            if (pr[p].lang) json_object_set_new(rec, "lang", json_string(pr[p].lang));
            char ans[128];
            snprintf(ans, sizeof ans, "answer to %s #%u", pr[p].prompt, seed);
            json_object_set_new(rec, "messages", json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "user", "content", pr[p].prompt,
                                                           "role", "assistant", "content", ans));
            char *l = json_dumps(rec, 0);
            strcat(want, l);
            strcat(want, "\n");
            free(l);
            json_decref(rec);
            want_n++;
        }
    assert_int_equal(res.written, want_n);
    assert_true(want_n < 9); /* this seed gives some "length" cells (checked, not assumed) */
    char *a = slurp(a_out);
    assert_string_equal(a, want);
    snprintf(path, sizeof path, "%s/a.provenance.jsonl", dir);
    char *prov = slurp(path);
    int n_lines = 0, n_excl = 0;
    for (char *q = prov; (q = strchr(q, '\n')); q++) n_lines++;
    for (char *q = prov; (q = strstr(q, "\"included\": false")); q++) n_excl++;
    assert_int_equal(n_lines, 9);
    assert_int_equal(n_excl, 9 - (int)want_n);
    free(prov);

    /* resume: stop after 3 cells, tear the journal, rerun */
    o.out_path = b_out;
    stop_flag = 0;
    stop_after = 3;
    n_requests = 0;
    ASSERT_OK(hone_ds_build(&o, &res, &err), &err);
    assert_int_equal(res.interrupted, 1);
    assert_int_equal(n_requests, 3);
    snprintf(path, sizeof path, "%s/b.journal.jsonl", dir);
    f = fopen(path, "a");
    fprintf(f, "{\"id\":\"p2\",\"sample\":1,\"answer\":\"tor");
    fclose(f);
    stop_flag = 0;
    stop_after = 0;
    n_requests = 0;
    ASSERT_OK(hone_ds_build(&o, &res, &err), &err);
    assert_int_equal(res.resumed, 3);
    assert_int_equal(res.generated, 6);
    assert_int_equal(n_requests, 6);
    char *b = slurp(b_out);
    assert_string_equal(b, a);
    n_requests = 0;
    ASSERT_OK(hone_ds_build(&o, &res, &err), &err);
    assert_int_equal(n_requests, 0);
    char *j = slurp(path);
    int jl = 0;
    for (char *q = j; (q = strchr(q, '\n')); q++) jl++;
    assert_int_equal(jl, 1 + 9); /* header + each cell once; the torn line is gone */
    free(j);
    /* another seed on the same journal */
    o.seed = 12;
    assert_int_equal(hone_ds_build(&o, &res, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "other generation settings"));
    free(a);
    free(b);
    free(want);
    hone_llm_close(llm);
    hone_ds_probes_free(pr, npr);
    MHD_stop_daemon(d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
