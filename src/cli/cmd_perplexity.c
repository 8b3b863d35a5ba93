/* cmd_perplexity.c: `hone perplexity`: perplexity of a text file, with llama.cpp's
 * definition (hone_perplexity in hone/generate.h), so the two tools' numbers compare. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone perplexity --model M --file F [--ctx N] [--batch N] [--chunks N]\n"
            "                       [-t THREADS] [--adapter-path D] [--reference] [--json]\n"
            "\n"
            "Perplexity of the text in F, defined as llama.cpp's llama-perplexity defines it\n"
            "(tools/perplexity/perplexity.cpp, without --ppl-stride):\n"
            "  - the whole file is tokenized once, with BOS first when the model adds one;\n"
            "  - the tokens are cut into floor(tokens / N) chunks of N = --ctx tokens (the file\n"
            "    must hold at least 2 chunks); each chunk is evaluated from an empty context,\n"
            "    its first token replaced by BOS when the model adds one;\n"
            "  - only the second half of each chunk is scored: the logits at positions\n"
            "    N/2 .. N-2 predict the next token (N - N/2 - 1 tokens per chunk);\n"
            "  - PPL = exp(mean negative log-likelihood) over all scored tokens, printed with\n"
            "    llama.cpp's uncertainty: PPL * sd(NLL) / sqrt(count - 1).\n"
            "Running llama-perplexity with the same -c gives the same number up to kernel\n"
            "rounding.\n"
            "\n"
            "  -m, --model M     GGUF file, HF folder or ollama:NAME[:TAG]\n"
            "  -f, --file F      the text\n"
            "  -c, --ctx N       chunk length in tokens (default 512)\n"
            "  -b, --batch N     tokens per evaluation call (default 512)\n"
            "  --chunks N        score at most N chunks (default: all)\n"
            "  --json            one JSON object: ppl, ppl_sd, chunks, tokens_scored, ctx, seconds\n"
            "%s",
            CLI_RUN_FLAGS_HELP);
}

static void on_chunk(void *user, uint32_t i, uint32_t n, double ppl) {
    fprintf(stderr, "[%u]%.4f,%s", i + 1, ppl, i + 1 == n ? "\n" : "");
    fflush(stderr);
}

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    int json = 0;
    uint32_t chunks = 0;
    cli_gen_flags gf;
    cli_gen_flags_init(&gf, 0);
    gf.n_ctx = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int r = cli_gen_flag("perplexity", argc, argv, &i, &gf, 0);
        if (r == 2) return 2;
        if (r == 1) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (!val) return cli_usage_error("perplexity", "%s needs a value", a);
            model = val;
            i++;
        } else if (!strcmp(a, "--file") || !strcmp(a, "-f")) {
            if (!val) return cli_usage_error("perplexity", "%s needs a value", a);
            file = val;
            i++;
        } else if (!strcmp(a, "--chunks")) {
            if (!val) return cli_usage_error("perplexity", "%s needs a value", a);
            if (cli_parse_u32("perplexity", a, val, &chunks)) return 2;
            i++;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (a[0] == '-') return cli_usage_error("perplexity", "unknown flag '%s'", a);
        else return cli_usage_error("perplexity", "unexpected argument '%s'", a);
    }
    if (!model) return cli_usage_error("perplexity", "--model is required");
    if (!file) return cli_usage_error("perplexity", "--file is required");
    if (gf.n_ctx < 4) return cli_usage_error("perplexity", "--ctx: expected at least 4");

    hone_err err = {0};
    int rc = 1;
    cli_model cm = {0};
    hone_session *sess = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0, len = 0;
    char *text = cli_read_file(file, &len, &err);
    if (!text) goto fail;
    if (cli_model_open(&cm, model, 1, &gf, &err)) goto fail;
    int add_bos = hone_tok_add_bos(cm.tok) && hone_tok_bos(cm.tok) >= 0;
    if (hone_tok_encode(cm.tok, text, len, add_bos ? HONE_TOK_BOS : 0, &ids, &n_ids, &err)) goto fail;
    uint32_t n_ctx;
    if (cli_session_open(&sess, &cm, &gf, &n_ctx, &err)) goto fail;
    fprintf(stderr, "hone: %zu tokens, %zu chunks of %u%s\n", n_ids, n_ids / n_ctx, n_ctx,
            add_bos ? ", BOS first in each" : "");
    hone_ppl_opts po = {.n_ctx = n_ctx, .n_batch = gf.n_batch,
                        .bos = add_bos ? hone_tok_bos(cm.tok) : -1, .max_chunks = chunks,
                        .on_chunk = on_chunk};
    hone_ppl_result r;
    if (hone_perplexity(sess, ids, n_ids, cm.desc->vocab, &po, &r, &err)) goto fail;
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "ppl", json_real(r.ppl));
        json_object_set_new(j, "ppl_sd", json_real(r.ppl_sd));
        json_object_set_new(j, "mean_nll", json_real(r.mean_nll));
        json_object_set_new(j, "chunks", json_integer(r.n_chunks));
        json_object_set_new(j, "tokens", json_integer((json_int_t)n_ids));
        json_object_set_new(j, "tokens_scored", json_integer((json_int_t)r.n_scored));
        json_object_set_new(j, "ctx", json_integer(n_ctx));
        json_object_set_new(j, "seconds", json_real(r.seconds));
        char *out = json_dumps(j, JSON_INDENT(2));
        if (out) puts(out);
        free(out);
        json_decref(j);
    } else {
        printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_sd);
        fprintf(stderr, "hone: %llu tokens scored in %u chunks, %.2f s\n",
                (unsigned long long)r.n_scored, r.n_chunks, r.seconds);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail_err(&err);
done:
    if (sess) hone_session_free(sess);
    cli_model_close(&cm);
    free(ids);
    free(text);
    return rc;
}
