/* cmd_data_build.c: `hone data build`: a training set generated from probes and kernels by a
 * model (hone_ds_build over a hone/llm.h backend), resumable, with a progress bar (rate, ETA)
 * on a terminal. SIGINT stops handing out cells (a second one kills); what finished is kept. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/data_cli.h"
#include "cli/gen_common.h"

static void build_usage(FILE *f) {
    fprintf(f,
            "usage: hone data build --probes FILE... --generator MODEL [--kernel FILE...] [--mode MODE] --out FILE\n"
            "                       [--samples N] [--temp T] [--top-p P] [--max-tokens N] [--seed S]\n"
            "                       [--train-prompt unsigned|signed] [--format messages|prompt-completion|text]\n"
            "                       [--template NAME] [--keep-truncated] [...]\n\n"
            "Generates answers to every probe (samples each) with the kernel signed in, and writes training\n"
            "records (OUT), their provenance (STEM.provenance.jsonl) and a journal (STEM.journal.jsonl) that\n"
            "makes the build resumable: rerun the same command after an interruption (even kill -9) and it\n"
            "continues where it stopped, never generating or writing a cell twice.\n\n"
            "Inputs\n"
            "  --probes FILE      JSONL probes: id, prompt, optional category, lang, signal, system (repeatable)\n"
            "  --kernel FILE      the kernel text (repeatable: the files are joined with a blank line)\n"
            "  --kernel-b FILE    sandwich: the closing kernel (default: the same)\n"
            "  --reminder TEXT    sandwich: a last line after the closing kernel\n"
            "  --mode MODE        none | system | prefix | postfix | sandwich (default: system with a kernel,\n"
            "                     none without)\n"
            "Generator (one of)\n"
            "  --generator PATH   a model hone runs (GGUF, HF folder, ollama:NAME); --adapter DIR optional\n"
            "  --generator-url URL --generator-model NAME --api ollama|openai [--api-key-env VAR]\n"
            "  --num-ctx N        context length (default: the backend's)\n"
            "  --concurrency N    requests in flight (default 1)\n"
            "Sampling\n"
            "  --samples N        answers per probe (default 1)\n"
            "  --temp T           temperature (default 0.7); --top-p P (default 0.95)\n"
            "  --max-tokens N     answer length limit (default 512); answers cut by it are left out\n"
            "                     unless --keep-truncated (the provenance flags them either way)\n"
            "  --seed S           base seed (default 1); each cell's seed as in hone ab (hone/ab.h)\n"
            "Output\n"
            "  --out FILE         the training records (JSONL)\n"
            "  --train-prompt unsigned|signed   the record's prompt without the kernel (default: the model\n"
            "                     learns to behave so without it) or exactly as sent (kernel inside)\n"
            "  --format F         messages (default), prompt-completion or text\n"
            "  --template T       the chat template for --format text: a name (gemma, ..., seed: the seed's\n"
            "                     literal layout, file:PATH) or a model whose own template is used\n");
}

static volatile int g_stop;
static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
    signal(SIGINT, SIG_DFL);
}

typedef struct prog {
    int tty;
    double t0;
    uint64_t first_done;
    int have_first;
} prog;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(void *u, uint64_t done, uint64_t total, uint64_t trunc, uint64_t errors) {
    prog *p = u;
    if (!p->have_first) {
        p->first_done = done;
        p->have_first = 1;
        p->t0 = now_s();
    }
    if (!p->tty) return;
    double el = now_s() - p->t0, rate = el > 0 ? (double)(done - p->first_done) / el : 0;
    char bar[31];
    int fill = total ? (int)(30 * done / total) : 30;
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    char eta[32] = "?";
    if (rate > 0) {
        double s = (double)(total - done) / rate;
        snprintf(eta, sizeof eta, "%dm%02ds", (int)(s / 60), (int)s % 60);
    }
    fprintf(stderr, "\r[%s] %llu/%llu  %.2f answers/s  ETA %s  truncated %llu  errors %llu ", bar,
            (unsigned long long)done, (unsigned long long)total, rate, eta, (unsigned long long)trunc,
            (unsigned long long)errors);
    if (done == total) fputc('\n', stderr);
}

static char *read_kernels(const char *const *paths, size_t n, hone_err *err) {
    size_t tot = 0;
    char **t = calloc(n, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t l;
        if (!(t[i] = cli_read_file(paths[i], &l, err))) {
            for (size_t j = 0; j < i; j++) free(t[j]);
            free(t);
            return NULL;
        }
        tot += l + 2;
    }
    char *s = malloc(tot + 1);
    if (s) {
        s[0] = 0;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(s);
            while (l && strchr(" \t\r\n", s[l - 1])) s[--l] = 0; /* sign.h drops trailing whitespace too */
            if (i) strcat(s, "\n\n");
            strcat(s, t[i]);
        }
    }
    for (size_t i = 0; i < n; i++) free(t[i]);
    free(t);
    return s;
}

int data_build(int argc, char **argv) {
    const char *cmd = "data build";
    const char *probes[64], *kernels[64];
    size_t n_probes = 0, n_kernels = 0;
    const char *kernel_b = NULL, *reminder = NULL, *mode_s = NULL, *gen = NULL, *adapter = NULL, *url = NULL,
               *gmodel = NULL, *api = NULL, *key_env = NULL, *out = NULL, *train_prompt = "unsigned",
               *format_s = "messages", *tname = NULL;
    int64_t samples = 1, max_tokens = 512, seed = 1, num_ctx = 0, conc = 1;
    double temp = 0.7, top_p = 0.95;
    int keep_trunc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { build_usage(stdout); return 0; }
        if (!strcmp(a, "--keep-truncated")) { keep_trunc = 1; continue; }
        if (a[0] != '-') return cli_usage_error(cmd, "unexpected argument '%s'", a);
        if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--probes")) {
            if (n_probes == 64) return cli_usage_error(cmd, "too many --probes");
            probes[n_probes++] = v;
        } else if (!strcmp(a, "--kernel")) {
            if (n_kernels == 64) return cli_usage_error(cmd, "too many --kernel");
            kernels[n_kernels++] = v;
        } else if (!strcmp(a, "--kernel-b")) kernel_b = v;
        else if (!strcmp(a, "--reminder")) reminder = v;
        else if (!strcmp(a, "--mode")) mode_s = v;
        else if (!strcmp(a, "--generator")) gen = v;
        else if (!strcmp(a, "--adapter")) adapter = v;
        else if (!strcmp(a, "--generator-url")) url = v;
        else if (!strcmp(a, "--generator-model")) gmodel = v;
        else if (!strcmp(a, "--api")) api = v;
        else if (!strcmp(a, "--api-key-env")) key_env = v;
        else if (!strcmp(a, "--out") || !strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--train-prompt")) train_prompt = v;
        else if (!strcmp(a, "--format")) format_s = v;
        else if (!strcmp(a, "--template") || !strcmp(a, "--chat-template")) tname = v;
        else if (!strcmp(a, "--samples")) { if (data_parse_i64(cmd, a, v, &samples)) return 2; }
        else if (!strcmp(a, "--max-tokens")) { if (data_parse_i64(cmd, a, v, &max_tokens)) return 2; }
        else if (!strcmp(a, "--seed")) { if (data_parse_i64(cmd, a, v, &seed)) return 2; }
        else if (!strcmp(a, "--num-ctx")) { if (data_parse_i64(cmd, a, v, &num_ctx)) return 2; }
        else if (!strcmp(a, "--concurrency")) { if (data_parse_i64(cmd, a, v, &conc)) return 2; }
        else if (!strcmp(a, "--temp") || !strcmp(a, "--temperature")) { if (data_parse_f64(cmd, a, v, &temp)) return 2; }
        else if (!strcmp(a, "--top-p")) { if (data_parse_f64(cmd, a, v, &top_p)) return 2; }
        else return cli_usage_error(cmd, "unknown flag '%s'", a);
    }
    if (!n_probes) return cli_usage_error(cmd, "needs --probes FILE");
    if (!out) return cli_usage_error(cmd, "needs --out FILE");
    if (!gen == !url) return cli_usage_error(cmd, "needs --generator PATH or --generator-url URL (one of them)");
    if (url && (!gmodel || !api)) return cli_usage_error(cmd, "--generator-url needs --generator-model and --api");
    if (api && strcmp(api, "ollama") && strcmp(api, "openai"))
        return cli_usage_error(cmd, "--api '%s': expected ollama or openai", api);
    if (samples < 1 || samples > 100000) return cli_usage_error(cmd, "--samples must be 1..100000");
    if (conc < 1 || conc > 64) return cli_usage_error(cmd, "--concurrency must be 1..64");
    if (strcmp(train_prompt, "unsigned") && strcmp(train_prompt, "signed"))
        return cli_usage_error(cmd, "--train-prompt '%s': expected unsigned or signed", train_prompt);
    hone_err err = {0};
    hone_ds_format fmt;
    if (hone_ds_format_parse(format_s, &fmt, &err)) return cli_usage_error(cmd, "--format: %s", err.msg);
    hone_sign sg = {0};
    if (hone_sign_mode_parse(mode_s ? mode_s : n_kernels ? "system" : "none", &sg.mode, &err))
        return cli_usage_error(cmd, "--mode: %s", err.msg);
    if (sg.mode != HONE_SIGN_NONE && !n_kernels) return cli_usage_error(cmd, "--mode %s needs --kernel FILE", mode_s);
    int rc = 1;
    char *ktext = NULL, *kbtext = NULL;
    hone_ds_probe *pr = NULL;
    size_t npr = 0;
    hone_llm *llm = NULL;
    hone_chat_template *t = NULL;
    if (n_kernels && !(ktext = read_kernels(kernels, n_kernels, &err))) { cli_fail_err(&err); goto out; }
    size_t kbl;
    if (kernel_b && !(kbtext = cli_read_file(kernel_b, &kbl, &err))) { cli_fail_err(&err); goto out; }
    sg.kernel = ktext;
    sg.kernel_b = kbtext;
    sg.reminder = reminder;
    if (hone_ds_probes_load(probes, n_probes, &pr, &npr, &err)) { cli_fail_err(&err); goto out; }
    if (fmt == HONE_DS_TEXT && !tname) { rc = cli_usage_error(cmd, "--format text needs --template NAME_OR_MODEL"); goto out; }
    if (tname && data_template_open(tname, &t)) goto out;
    const char *key = key_env ? getenv(key_env) : NULL;
    if (key_env && !key) { cli_fail("--api-key-env %s: the variable is not set", key_env); goto out; }
    hone_llm_opts lo = {.kind = gen ? HONE_LLM_LOCAL : !strcmp(api, "ollama") ? HONE_LLM_OLLAMA : HONE_LLM_OPENAI,
                        .path = gen, .adapter = adapter, .name = gmodel, .url = url, .api_key = key,
                        .num_ctx = num_ctx, .concurrency = (int)conc};
    if (hone_llm_open(&llm, &lo, &err)) { cli_fail_err(&err); goto out; }
    prog pg = {.tty = isatty(2)};
    hone_ds_build_opts bo = {.probes = pr, .n_probes = npr, .sign = &sg, .kernel_paths = kernels,
                             .n_kernel_paths = n_kernels, .kernel_b_path = kernel_b, .llm = llm,
                             .generator_kind = gen ? "local" : api, .generator_model = gen ? gen : gmodel,
                             .samples = (uint32_t)samples, .temperature = temp, .top_p = top_p,
                             .max_tokens = max_tokens, .seed = (uint64_t)seed, .train_signed = !strcmp(train_prompt, "signed"),
                             .format = fmt, .tmpl = t, .keep_truncated = keep_trunc, .concurrency = (int)conc,
                             .out_path = out, .stop = &g_stop, .on_progress = on_progress, .user = &pg};
    signal(SIGINT, on_sigint);
    hone_ds_build_result res;
    int brc = hone_ds_build(&bo, &res, &err);
    signal(SIGINT, SIG_DFL);
    if (pg.tty) fputc('\n', stderr);
    if (brc) { cli_fail_err(&err); goto out; }
    fprintf(stderr,
            "%s: %llu records (%llu cells: %llu from the journal, %llu generated now, %llu truncated%s, %llu "
            "errors)\n",
            out, (unsigned long long)res.written, (unsigned long long)res.cells, (unsigned long long)res.resumed,
            (unsigned long long)res.generated, (unsigned long long)res.truncated,
            keep_trunc ? " kept" : " left out", (unsigned long long)res.errors);
    if (res.errors) fprintf(stderr, "hone: first error: %s\n", res.first_error);
    if (res.interrupted || res.errors || res.resumed + res.generated < res.cells) {
        fprintf(stderr, "hone: %llu cells missing: rerun the same command to continue\n",
                (unsigned long long)(res.cells - res.resumed - res.generated));
        rc = res.interrupted ? 130 : 1;
        goto out;
    }
    rc = 0;
out:
    hone_llm_close(llm);
    hone_chat_template_close(t);
    hone_ds_probes_free(pr, npr);
    free(ktext);
    free(kbtext);
    return rc;
}
