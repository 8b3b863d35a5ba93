/* cmd_train.c: `hone train`: LoRA fine-tuning, a drop-in for `mlx_lm.lora` (its flags,
 * defaults, YAML config and report lines) that also takes the seed workflow's spellings
 * (--train-data FILE, --valid-data FILE, --num-iters N). Argument handling and printing
 * only; the work is hone_train_run (hone/trainloop.h).
 *
 * Precedence: the command line over the YAML file (-c) over mlx-lm's defaults: the config
 * file is found and applied first, then every flag overwrites its key.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
"usage: hone train --model PATH (--data DIR | --train-data FILE [--valid-data FILE]) [options]\n"
"\n"
"LoRA fine-tuning of a local model (GGUF file, quantized included, or HF folder), with\n"
"mlx_lm.lora's flags, defaults, YAML config and output. The base stays frozen; adapters go\n"
"to --adapter-path in mlx-lm's layout (adapters.safetensors + adapter_config.json).\n"
"\n"
"mlx-lm's flags (defaults in brackets):\n"
"  --model PATH                  GGUF file, HF folder or ollama:NAME\n"
"  --train                       train (implied unless only --test is given)\n"
"  --data DIR                    DIR/train.jsonl, DIR/valid.jsonl, DIR/test.jsonl\n"
"  --fine-tune-type lora         [lora] (dora and full are not supported yet)\n"
"  --optimizer adam|adamw|sgd    [adam]\n"
"  --mask-prompt                 loss only on the final assistant message and its end-of-turn\n"
"  --num-layers N                adapt the last N blocks [16]; -1 = all\n"
"  --batch-size N                [4]\n"
"  --iters N                     iterations (batches) [1000]\n"
"  --val-batches N               validation batches [25]; -1 = the whole set\n"
"  --learning-rate LR            [1e-5]\n"
"  --steps-per-report N          [10]\n"
"  --steps-per-eval N            [200]\n"
"  --grad-accumulation-steps N   batches per optimizer update [1]\n"
"  --resume-adapter-file FILE    start from these adapter weights (adapters.safetensors)\n"
"  --adapter-path DIR            [adapters]\n"
"  --save-every N                adapters + NNNNNNN_adapters.safetensors + checkpoint [100]\n"
"  --test                        test loss on test.jsonl after training (or alone: of --adapter-path)\n"
"  --test-batches N              [500]; -1 = all\n"
"  --max-seq-length N            longer examples are truncated, with a warning [2048]\n"
"  -c, --config FILE.yaml        mlx-lm's YAML config (lora_parameters, lr_schedule, optimizer_config, ...)\n"
"  --grad-checkpoint             recompute block internals in backward (less memory)\n"
"  --seed N                      data order, A initialisation, dropout [0]\n"
"  (--clear-cache-threshold, --report-to, --project-name, --trust-remote-code: accepted, ignored)\n"
"\n"
"The seed workflow's spellings:\n"
"  --train-data FILE  --valid-data FILE  --test-data FILE  --num-iters N (= --iters)\n"
"\n"
"hone's own:\n"
"  --lora-rank R [8]  --lora-scale S [20.0]  --lora-dropout P [0.0]\n"
"  --lora-keys LIST              projections to adapt, e.g. q_proj,v_proj or self_attn.q_proj,...\n"
"                                [all: q,k,v,o,gate,up,down, as mlx-lm adapts every linear]\n"
"  --resume                      continue bit-identically from ADAPTER_PATH/checkpoint.safetensors\n"
"                                (adapters, optimizer state, step, data order, RNG)\n"
"  --early-stop K                stop after K evaluations without a new best validation loss\n"
"  --max-grad-norm X             clip the global gradient norm to X (0 = off) [0]\n"
"  --json                        metric lines as JSON on stdout (human lines go to stderr)\n"
"  --chat-template NAME          [the model's] (hone generate --help lists the names)\n"
"  --reference                   plain f32 reference ops (slow; for checking)\n"
"  --threads N                   [all cores]\n"
"\n"
"Optimizer semantics are mlx's (what mlx_lm.lora runs), so a run matches mlx-lm's:\n"
"  adam   m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, w -= lr m / (sqrt(v) + eps),\n"
"         betas 0.9/0.999, eps 1e-8, NO bias correction unless optimizer_config sets\n"
"         bias_correction: true (PyTorch's Adam corrects; mlx's does not by default)\n"
"  adamw  the same after w *= 1 - lr * weight_decay (weight_decay 0.01)\n"
"  sgd    momentum 0, weight_decay 0, dampening 0, nesterov false\n"
"  Update k (from 0) uses lr = schedule(k); lr_schedule: {name: cosine_decay|linear_schedule,\n"
"  arguments: [...], warmup: N, warmup_init: X} as mlx-lm's build_schedule. Loss: mean over the\n"
"  batch's supervised tokens; with accumulation the gradients of N batches are averaged.\n"
"\n"
"Output: a report line every --steps-per-report iterations, validation at iteration 1, every\n"
"--steps-per-eval and at the end; metrics appended to ADAPTER_PATH/metrics.jsonl; a loss plot\n"
"ADAPTER_PATH/loss.svg; adapters.best.safetensors (lowest validation loss). SIGINT/SIGTERM\n"
"finish the current step, write the checkpoint and exit with status 130; --resume continues.\n");
}

typedef struct out_ctx {
    int json;
    int tty;
    int bar_shown;
} out_ctx;

static FILE *human(out_ctx *o) { return o->json ? stderr : stdout; }

static void clear_bar(out_ctx *o) {
    if (o->bar_shown) {
        fputs("\r\033[K", stderr);
        o->bar_shown = 0;
    }
}

static void on_event(void *user, const hone_train_event *ev) {
    out_ctx *o = user;
    if (ev->kind != HONE_TRAIN_EV_PROGRESS) clear_bar(o);
    switch (ev->kind) {
    case HONE_TRAIN_EV_INFO: fprintf(human(o), "%s\n", ev->msg); break;
    case HONE_TRAIN_EV_WARNING: fprintf(stderr, "%s\n", ev->msg); break;
    case HONE_TRAIN_EV_STOP: fprintf(human(o), "%s\n", ev->msg); break;
    case HONE_TRAIN_EV_REPORT:
        fprintf(human(o),
                "Iter %lld: Train loss %.3f, Learning Rate %.3e, It/sec %.3f, Tokens/sec %.3f, Trained Tokens %lld, "
                "Peak mem %.3f GB\n",
                (long long)ev->it, ev->train_loss, ev->learning_rate, ev->it_sec, ev->tokens_sec,
                (long long)ev->trained_tokens, ev->peak_mem_gb);
        if (o->json) printf("%s\n", ev->json);
        break;
    case HONE_TRAIN_EV_VAL:
        fprintf(human(o), "Iter %lld: Val loss %.3f, Val took %.3fs\n", (long long)ev->it, ev->val_loss, ev->val_time);
        if (o->json) printf("%s\n", ev->json);
        break;
    case HONE_TRAIN_EV_TEST:
        fprintf(human(o), "Test loss %.3f, Test ppl %.3f.\n", ev->val_loss, exp(ev->val_loss));
        if (o->json) printf("%s\n", ev->json);
        break;
    case HONE_TRAIN_EV_SAVE: fprintf(human(o), "Iter %lld: Saved adapter weights to %s.\n", (long long)ev->it, ev->msg); break;
    case HONE_TRAIN_EV_PROGRESS:
        if (o->tty && ev->iters > 0) {
            int w = 30, k = (int)(w * ev->it / ev->iters);
            char bar[64];
            for (int i = 0; i < w; i++) bar[i] = i < k ? '=' : i == k ? '>' : ' ';
            bar[w] = 0;
            long eta = isfinite(ev->eta_s) ? (long)ev->eta_s : 0;
            fprintf(stderr, "\r[%s] %lld/%lld  ETA %ld:%02ld:%02ld\033[K", bar, (long long)ev->it, (long long)ev->iters,
                    eta / 3600, eta / 60 % 60, eta % 60);
            o->bar_shown = 1;
        }
        break;
    }
    fflush(stdout);
}

static int parse_i64(const char *flag, const char *v, int64_t lo, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo) {
        cli_usage_error("train", "%s: '%s' is not an integer >= %lld", flag, v, (long long)lo);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_f64(const char *flag, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x)) {
        cli_usage_error("train", "%s: '%s' is not a number", flag, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int set_str(const char *flag, const char *v, char *dst, size_t cap) {
    if (strlen(v) >= cap) {
        cli_usage_error("train", "%s: value longer than %zu bytes", flag, cap - 1);
        return -1;
    }
    strcpy(dst, v);
    return 0;
}

/* flags without a value */
static const char *const SWITCHES[] = {"--train", "--mask-prompt", "--test", "--grad-checkpoint", "--resume",
                                       "--json", "--reference", "--trust-remote-code", NULL};

static int is_switch(const char *a) {
    for (int i = 0; SWITCHES[i]; i++)
        if (!strcmp(a, SWITCHES[i])) return 1;
    return 0;
}

int cmd_train(int argc, char **argv) {
    hone_train_config c;
    hone_train_config_default(&c);
    hone_err err = {0};
    /* the config file first (the command line overrides it) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        const char *a = argv[i], *eq = strchr(a, '=');
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc) {
            if (hone_train_config_load_yaml(&c, argv[i + 1], &err)) return cli_fail_err(&err);
        } else if (eq && !strncmp(a, "--config=", 9)) {
            if (hone_train_config_load_yaml(&c, eq + 1, &err)) return cli_fail_err(&err);
        }
    }
    int train_flag = 0, test_only = 0;
    for (int i = 1; i < argc; i++) {
        char flagbuf[64];
        const char *a = argv[i], *v = NULL, *eq = a[0] == '-' && a[1] == '-' ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof flagbuf) {
            memcpy(flagbuf, a, (size_t)(eq - a));
            flagbuf[eq - a] = 0;
            a = flagbuf;
            v = eq + 1;
        }
        if (is_switch(a)) {
            if (v) return cli_usage_error("train", "%s takes no value", a);
            if (!strcmp(a, "--train")) c.train = train_flag = 1;
            else if (!strcmp(a, "--mask-prompt")) c.mask_prompt = 1;
            else if (!strcmp(a, "--test")) c.test = test_only = 1;
            else if (!strcmp(a, "--grad-checkpoint")) c.grad_checkpoint = 1;
            else if (!strcmp(a, "--resume")) c.resume = 1;
            else if (!strcmp(a, "--json")) c.json = 1;
            else if (!strcmp(a, "--reference")) c.engine = HONE_ENGINE_REFERENCE;
            continue;
        }
        if (a[0] != '-') return cli_usage_error("train", "unexpected argument '%s'", a);
        if (!v) {
            if (i + 1 >= argc) return cli_usage_error("train", "'%s' needs a value or is unknown", a);
            v = argv[++i];
        }
        int64_t iv;
        int bad = 0;
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) continue; /* applied above */
        else if (!strcmp(a, "--model")) bad = set_str(a, v, c.model, sizeof c.model);
        else if (!strcmp(a, "--data")) bad = set_str(a, v, c.data, sizeof c.data);
        else if (!strcmp(a, "--train-data")) bad = set_str(a, v, c.train_file, sizeof c.train_file), train_flag = 1;
        else if (!strcmp(a, "--valid-data")) bad = set_str(a, v, c.valid_file, sizeof c.valid_file);
        else if (!strcmp(a, "--test-data")) bad = set_str(a, v, c.test_file, sizeof c.test_file);
        else if (!strcmp(a, "--adapter-path")) bad = set_str(a, v, c.adapter_path, sizeof c.adapter_path);
        else if (!strcmp(a, "--resume-adapter-file")) bad = set_str(a, v, c.resume_adapter_file, sizeof c.resume_adapter_file);
        else if (!strcmp(a, "--fine-tune-type")) {
            if (strcmp(v, "lora") && strcmp(v, "dora") && strcmp(v, "full"))
                return cli_usage_error("train", "--fine-tune-type: '%s' is not lora, dora or full", v);
            bad = set_str(a, v, c.fine_tune_type, sizeof c.fine_tune_type);
        } else if (!strcmp(a, "--optimizer")) {
            if (strcmp(v, "adam") && strcmp(v, "adamw") && strcmp(v, "sgd") && strcmp(v, "muon") && strcmp(v, "adafactor"))
                return cli_usage_error("train", "--optimizer: '%s' is not adam, adamw or sgd", v);
            bad = set_str(a, v, c.optimizer, sizeof c.optimizer);
        } else if (!strcmp(a, "--num-layers")) {
            if (!(bad = parse_i64(a, v, -1, &iv))) {
                if (iv == 0 || iv > 100000) return cli_usage_error("train", "--num-layers: expected >= 1 or -1 (all)");
                c.num_layers = (int32_t)iv;
            }
        } else if (!strcmp(a, "--batch-size")) bad = parse_i64(a, v, 1, &c.batch_size);
        else if (!strcmp(a, "--iters") || !strcmp(a, "--num-iters")) bad = parse_i64(a, v, 0, &c.iters), train_flag = 1;
        else if (!strcmp(a, "--val-batches")) bad = parse_i64(a, v, -1, &c.val_batches);
        else if (!strcmp(a, "--learning-rate")) bad = parse_f64(a, v, &c.learning_rate);
        else if (!strcmp(a, "--steps-per-report")) bad = parse_i64(a, v, 1, &c.steps_per_report);
        else if (!strcmp(a, "--steps-per-eval")) bad = parse_i64(a, v, 1, &c.steps_per_eval);
        else if (!strcmp(a, "--grad-accumulation-steps")) bad = parse_i64(a, v, 1, &c.grad_accumulation_steps);
        else if (!strcmp(a, "--save-every")) bad = parse_i64(a, v, 1, &c.save_every);
        else if (!strcmp(a, "--test-batches")) bad = parse_i64(a, v, -1, &c.test_batches);
        else if (!strcmp(a, "--max-seq-length")) bad = parse_i64(a, v, 2, &c.max_seq_length);
        else if (!strcmp(a, "--seed")) {
            if (!(bad = parse_i64(a, v, 0, &iv))) c.seed = (uint64_t)iv;
        } else if (!strcmp(a, "--lora-rank")) bad = parse_i64(a, v, 1, &c.lora_rank);
        else if (!strcmp(a, "--lora-scale")) bad = parse_f64(a, v, &c.lora_scale);
        else if (!strcmp(a, "--lora-dropout")) bad = parse_f64(a, v, &c.lora_dropout);
        else if (!strcmp(a, "--lora-keys")) {
            if (hone_train_parse_keys(v, &c.lora_keys, &err)) return cli_usage_error("train", "--lora-keys: %s", err.msg);
        } else if (!strcmp(a, "--early-stop")) bad = parse_i64(a, v, 1, &c.early_stop);
        else if (!strcmp(a, "--max-grad-norm")) bad = parse_f64(a, v, &c.max_grad_norm);
        else if (!strcmp(a, "--chat-template")) bad = set_str(a, v, c.chat_template, sizeof c.chat_template);
        else if (!strcmp(a, "--threads")) {
            if (!(bad = parse_i64(a, v, 0, &iv))) c.n_threads = (int)iv;
        } else if (!strcmp(a, "--clear-cache-threshold") || !strcmp(a, "--report-to") || !strcmp(a, "--project-name"))
            continue; /* mlx-lm features hone has no use for */
        else return cli_usage_error("train", "unknown flag '%s'", a);
        if (bad) return 2;
    }
    /* mlx-lm needs --train; `hone train` trains unless only --test was asked for */
    if (train_flag) c.train = 1;
    if (!c.train && !(test_only && !train_flag)) c.train = 1;
    if (c.resume && c.resume_adapter_file[0])
        return cli_usage_error("train", "--resume and --resume-adapter-file exclude each other");
    if (hone_train_config_check(&c, &err)) {
        if (err.code == HONE_EARG && !c.model[0]) return cli_usage_error("train", "%s", err.msg);
        return cli_fail_err(&err);
    }
    out_ctx o = {.json = c.json, .tty = isatty(2)};
    cli_gen_flags gf;
    cli_gen_flags_init(&gf, 0);
    gf.reference = c.engine == HONE_ENGINE_REFERENCE;
    cli_model cm;
    fprintf(human(&o), "Loading pretrained model %s\n", c.model);
    if (cli_model_open(&cm, c.model, 1, &gf, &err)) return cli_fail_err(&err);
    hone_chat_template *tmpl = NULL;
    if (cli_template_open(&tmpl, &cm, c.chat_template[0] ? c.chat_template : NULL, &err)) {
        if (c.chat_template[0]) {
            cli_model_close(&cm);
            return cli_fail_err(&err);
        }
        tmpl = NULL; /* fine for {"text"} data; chat records will say they need one */
    }
    hone_train_result res;
    int rc = hone_train_run(&c, cm.model, tmpl, on_event, &o, &res, &err);
    clear_bar(&o);
    hone_chat_template_close(tmpl);
    cli_model_close(&cm);
    if (rc) return cli_fail_err(&err);
    return res.interrupted ? 130 : 0;
}
