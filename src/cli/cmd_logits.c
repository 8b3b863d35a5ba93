/* cmd_logits.c: `hone logits`: the raw logits of every position of a token-id prompt, and
 * optionally N greedy tokens after it: the hook the interop checks use to compare hone with
 * llama.cpp and transformers on the same file (tests/interop/test_export_*.py). */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/fileio.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone logits --model M --ids I,J,K [--out FILE] [--greedy N]\n"
            "                   [--adapter-path DIR] [--reference]\n"
            "\n"
            "Evaluates the ids in one batch from position 0 and writes the logits of every\n"
            "position to FILE as raw little-endian f32, shape (T, vocab). --greedy N then\n"
            "appends N argmax tokens one at a time (no stop token) and prints them as one\n"
            "line of comma-separated ids.\n");
}

static int parse_ids(const char *s, int32_t **ids, uint32_t *n) {
    uint32_t cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    while (v && *s) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 0 || x > INT32_MAX) {
            free(v);
            return -1;
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[k++] = (int32_t)x;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            free(v);
            return -1;
        }
    }
    *ids = v;
    *n = k;
    return v && k ? 0 : -1;
}

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *ids_s = NULL, *out = NULL, *adapter = NULL;
    long greedy = 0;
    int reference = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--reference")) {
            reference = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_usage_error("logits", "'%s' needs a value or is unknown", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--ids")) ids_s = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--adapter-path")) adapter = v;
        else if (!strcmp(a, "--greedy")) greedy = strtol(v, NULL, 10);
        else return cli_usage_error("logits", "unknown flag '%s'", a);
    }
    if (!model || !ids_s) return cli_usage_error("logits", "--model and --ids are required");
    int32_t *ids;
    uint32_t n;
    if (parse_ids(ids_s, &ids, &n)) return cli_usage_error("logits", "--ids: expected comma-separated ids");
    hone_err err = {0};
    hone_load_opts lo = {.engine = reference ? HONE_ENGINE_REFERENCE : HONE_ENGINE_FAST, .adapter_path = adapter};
    hone_model *m;
    if (hone_model_load(&m, model, &lo, &err)) {
        free(ids);
        return cli_fail_err(&err);
    }
    uint32_t V = hone_model_get_desc(m)->vocab;
    hone_session_opts so = {.n_ctx = n + (uint32_t)(greedy > 0 ? greedy : 0) + 1, .n_batch = n};
    hone_session *s = NULL;
    uint32_t *rows = malloc(n * sizeof *rows);
    float *lg = malloc((size_t)n * V * sizeof *lg);
    int rc = 1;
    if (!rows || !lg) {
        cli_fail("out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) rows[i] = i;
    if (hone_session_init(&s, m, &so, &err)) {
        cli_fail_err(&err);
        goto done;
    }
    hone_eval_out eo = {.logits = lg, .rows = rows, .n_rows = n};
    if (hone_session_eval(s, ids, n, &eo, &err)) {
        cli_fail_err(&err);
        goto done;
    }
    if (out) {
        hone_wfile f;
        if (hone_wfile_open(&f, out, &err) || hone_wfile_write(&f, lg, (size_t)n * V * sizeof *lg, &err) ||
            hone_wfile_commit(&f, &err)) {
            cli_fail_err(&err);
            goto done;
        }
    }
    const float *last = lg + (size_t)(n - 1) * V;
    for (long g = 0; g < greedy; g++) {
        int32_t best = 0;
        for (uint32_t v = 1; v < V; v++)
            if (last[v] > last[best]) best = (int32_t)v;
        printf("%s%d", g ? "," : "", best);
        hone_eval_out o1 = {.logits = lg};
        if (hone_session_eval(s, &best, 1, &o1, &err)) {
            cli_fail_err(&err);
            goto done;
        }
        last = lg;
    }
    if (greedy > 0) printf("\n");
    rc = 0;
done:
    hone_session_free(s);
    hone_model_free(m);
    free(rows);
    free(lg);
    free(ids);
    return rc;
}
