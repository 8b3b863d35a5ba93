/* cmd_bench.c: `hone bench`: prompt-processing (pp) and generation (tg) speed, measured
 * as llama-bench measures them, so the numbers compare:
 *   pp N: N tokens (BOS, then pseudo-random ids) evaluated from an empty context in
 *         batches of --batch, logits for the last token of each batch;
 *   tg N: from an empty context, N one-token evaluations (BOS first, then pseudo-random
 *         ids), logits each time;
 *   one warm-up run of each test (pp: one batch, tg: one token), then R repetitions;
 *   t/s of a repetition = tokens / seconds; reported as mean +/- sample standard
 *   deviation over the repetitions.
 * The ids come from xoshiro256** with a fixed seed (llama-bench uses rand()): ids do
 * not change the work done. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone bench --model M [-p N] [-n N] [-t THREADS] [-r REPS] [-b BATCH]\n"
            "                  [--reference] [--json]\n"
            "\n"
            "Prompt-processing and generation speed in tokens/s, measured like llama-bench:\n"
            "'ppN' evaluates N tokens from an empty context in batches of -b; 'tgN' evaluates N\n"
            "tokens one at a time from an empty context. One warm-up run per test, then REPS\n"
            "runs; each line shows the mean +/- sample standard deviation of the runs' tokens/s.\n"
            "\n"
            "  -m, --model M      GGUF file, HF folder or ollama:NAME[:TAG]\n"
            "  -p, --n-prompt N   prompt tokens (default 512; 0 = no pp test)\n"
            "  -n, --n-gen N      generated tokens (default 128; 0 = no tg test)\n"
            "  -r, --repetitions N  runs per test (default 5)\n"
            "  --json             a JSON array, one object per test\n"
            "%s",
            CLI_RUN_FLAGS_HELP);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct bench_ctx {
    hone_session *s;
    uint32_t n_vocab, n_batch;
    int32_t bos;
    float *logits; /* (n_vocab) */
    int32_t *toks; /* (n_batch) */
    hone_rng rng;
} bench_ctx;

static int32_t rand_tok(bench_ctx *b) { return (int32_t)(hone_rng_next(&b->rng) % b->n_vocab); }

/* n prompt tokens from position 0 in batches. */
static int run_pp(bench_ctx *b, uint32_t n, hone_err *err) {
    int rc = hone_session_truncate(b->s, 0, err);
    for (uint32_t at = 0; at < n && !rc;) {
        uint32_t m = n - at < b->n_batch ? n - at : b->n_batch;
        for (uint32_t i = 0; i < m; i++) b->toks[i] = rand_tok(b);
        if (at == 0 && b->bos >= 0) b->toks[0] = b->bos;
        hone_eval_out out = {.logits = b->logits};
        rc = hone_session_eval(b->s, b->toks, m, &out, err);
        at += m;
    }
    return rc;
}

/* n single-token evaluations from position 0. */
static int run_tg(bench_ctx *b, uint32_t n, hone_err *err) {
    int rc = hone_session_truncate(b->s, 0, err);
    int32_t t = b->bos >= 0 ? b->bos : rand_tok(b);
    for (uint32_t i = 0; i < n && !rc; i++) {
        hone_eval_out out = {.logits = b->logits};
        rc = hone_session_eval(b->s, &t, 1, &out, err);
        t = rand_tok(b);
    }
    return rc;
}

typedef struct result {
    char name[32];
    uint32_t n_prompt, n_gen;
    double mean, sd;
    double *samples;
} result;

static int run_test(bench_ctx *b, uint32_t np, uint32_t ng, uint32_t reps, result *r, hone_err *err) {
    int rc = np ? run_pp(b, np < b->n_batch ? np : b->n_batch, err) : run_tg(b, 1, err); /* warm-up */
    if (rc) return rc;
    r->samples = calloc(reps, sizeof *r->samples);
    if (!r->samples) return HONE_ENOMEM;
    double sum = 0, sum2 = 0;
    for (uint32_t k = 0; k < reps; k++) {
        double t0 = now_s();
        if ((rc = np ? run_pp(b, np, err) : run_tg(b, ng, err))) return rc;
        double ts = (double)(np + ng) / (now_s() - t0);
        r->samples[k] = ts;
        sum += ts;
    }
    r->mean = sum / reps;
    for (uint32_t k = 0; k < reps; k++) sum2 += (r->samples[k] - r->mean) * (r->samples[k] - r->mean);
    r->sd = reps > 1 ? sqrt(sum2 / (reps - 1)) : 0.0;
    r->n_prompt = np;
    r->n_gen = ng;
    snprintf(r->name, sizeof r->name, np ? "pp%u" : "tg%u", np ? np : ng);
    return HONE_OK;
}

int cmd_bench(int argc, char **argv) {
    const char *model = NULL;
    uint32_t np = 512, ng = 128, reps = 5;
    int json = 0;
    cli_gen_flags gf;
    cli_gen_flags_init(&gf, 0);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        uint32_t *dst = !strcmp(a, "-p") || !strcmp(a, "--n-prompt") ? &np
                      : !strcmp(a, "-n") || !strcmp(a, "--n-gen") ? &ng
                      : !strcmp(a, "-r") || !strcmp(a, "--repetitions") ? &reps : NULL;
        if (dst) {
            if (!val) return cli_usage_error("bench", "%s needs a value", a);
            if (cli_parse_u32("bench", a, val, dst)) return 2;
            i++;
            continue;
        }
        int r = cli_gen_flag("bench", argc, argv, &i, &gf, 0);
        if (r == 2) return 2;
        if (r == 1) continue;
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (!val) return cli_usage_error("bench", "%s needs a value", a);
            model = val;
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-') return cli_usage_error("bench", "unknown flag '%s'", a);
        else return cli_usage_error("bench", "unexpected argument '%s'", a);
    }
    if (!model) return cli_usage_error("bench", "--model is required");
    if (reps == 0) return cli_usage_error("bench", "-r: expected at least 1");
    if (!np && !ng) return cli_usage_error("bench", "nothing to measure: -p and -n are both 0");
    if (!gf.n_ctx) gf.n_ctx = (np > ng ? np : ng) + 1;

    hone_err err = {0};
    int rc = 1;
    cli_model cm = {0};
    bench_ctx b = {0};
    result res[2];
    memset(res, 0, sizeof res);
    int n_res = 0;
    if (cli_model_open(&cm, model, 1, &gf, &err)) goto fail;
    uint32_t n_ctx;
    if (cli_session_open(&b.s, &cm, &gf, &n_ctx, &err)) goto fail;
    b.n_vocab = cm.desc->vocab;
    b.n_batch = gf.n_batch ? gf.n_batch : 512;
    b.bos = hone_tok_add_bos(cm.tok) ? hone_tok_bos(cm.tok) : -1;
    b.logits = malloc((size_t)b.n_vocab * sizeof *b.logits);
    b.toks = malloc((size_t)b.n_batch * sizeof *b.toks);
    if (!b.logits || !b.toks) {
        err.code = HONE_ENOMEM;
        snprintf(err.msg, sizeof err.msg, "bench: out of memory");
        goto fail;
    }
    hone_rng_seed(&b.rng, 1234);
    if (np && run_test(&b, np, 0, reps, &res[n_res++], &err)) goto fail;
    if (ng && run_test(&b, 0, ng, reps, &res[n_res++], &err)) goto fail;

    struct stat sb;
    double gib = stat(cm.gguf_path, &sb) == 0 ? (double)sb.st_size / (1024.0 * 1024 * 1024) : 0;
    const char *slash = strrchr(cm.gguf_path, '/');
    const char *mname = slash ? slash + 1 : cm.gguf_path;
    if (json) {
        json_t *arr = json_array();
        for (int i = 0; i < n_res; i++) {
            json_t *j = json_object();
            json_object_set_new(j, "model", json_string(mname));
            json_object_set_new(j, "model_size", json_integer((json_int_t)sb.st_size));
            json_object_set_new(j, "model_n_params", json_integer((json_int_t)cm.desc->n_params));
            json_object_set_new(j, "n_threads", json_integer(gf.threads));
            json_object_set_new(j, "n_batch", json_integer(b.n_batch));
            json_object_set_new(j, "engine", json_string(gf.reference ? "reference" : "fast"));
            json_object_set_new(j, "test", json_string(res[i].name));
            json_object_set_new(j, "n_prompt", json_integer(res[i].n_prompt));
            json_object_set_new(j, "n_gen", json_integer(res[i].n_gen));
            json_object_set_new(j, "avg_ts", json_real(res[i].mean));
            json_object_set_new(j, "stddev_ts", json_real(res[i].sd));
            json_t *s = json_array();
            for (uint32_t k = 0; k < reps; k++) json_array_append_new(s, json_real(res[i].samples[k]));
            json_object_set_new(j, "samples_ts", s);
            json_array_append_new(arr, j);
        }
        char *out = json_dumps(arr, JSON_INDENT(2));
        if (out) puts(out);
        free(out);
        json_decref(arr);
    } else {
        printf("| model | size | params | engine | threads | test | t/s |\n");
        printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
        for (int i = 0; i < n_res; i++)
        {
            char th[16];
            snprintf(th, sizeof th, gf.threads ? "%d" : "all", gf.threads);
            printf("| %s | %.2f GiB | %.2f M | %s | %s | %s | %.2f ± %.2f |\n", mname, gib,
                   (double)cm.desc->n_params / 1e6, gf.reference ? "reference" : "fast", th,
                   res[i].name, res[i].mean, res[i].sd);
        }
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail_err(&err);
done:
    for (int i = 0; i < 2; i++) free(res[i].samples);
    free(b.logits);
    free(b.toks);
    if (b.s) hone_session_free(b.s);
    cli_model_close(&cm);
    return rc;
}
