/* main.c: the `hone` command: dispatches to one subcommand per file. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command COMMANDS[] = {
    {"tokenize", cmd_tokenize, "text -> token ids, pieces or a count with a model's tokenizer"},
    {"generate", cmd_generate, "generate an answer to a prompt (chat template, kernel signing, sampling)"},
    {"chat", cmd_chat, "interactive chat with a model (history, /reset, /system, /kernel)"},
    {"perplexity", cmd_perplexity, "perplexity of a text file (llama.cpp's definition)"},
    {"bench", cmd_bench, "prompt-processing and generation speed, like llama-bench"},
    {"ab", cmd_ab, "A/B experiments on kernels: run, judge, report, show"},
    {"train", cmd_train, "LoRA fine-tuning, a drop-in for mlx_lm.lora (its flags, YAML config and files)"},
    {"export-adapter", cmd_export_adapter, "convert a LoRA adapter folder between mlx-lm's and PEFT's layouts"},
    {"data", cmd_data, "training sets: check, split, format, build (JSONL for hone train / mlx-lm)"},
    {"serve", cmd_serve, "OpenAI- and Ollama-compatible HTTP server: one model, several adapters, batched"},
    {"fuse", cmd_fuse, "merge a LoRA adapter into its model; write HF, GGUF (re-quantized) and an Ollama Modelfile"},
    {"convert", cmd_convert, "GGUF <-> HF folder, re-quantization (f32 f16 bf16 q8_0 q4_0 q4_k_m q6_k)"},
    {"logits", cmd_logits, "raw logits of a token-id prompt and greedy tokens (for interop checks)"},
    {"inspect", cmd_inspect, "show a model's architecture, metadata and tensors (GGUF, HF folder, ollama:NAME)"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hone: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const hone_err *err) { return cli_fail("%s", err->msg); }

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hone %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'hone %s --help')\n", cmd);
    va_end(ap);
    return 2;
}

static void usage(FILE *f) {
    fprintf(f, "usage: hone COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-15s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n'hone COMMAND --help' shows a command's flags.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        char feat[256];
        hone_cpu_features_str(hone_cpu_features(), feat, sizeof feat);
        printf("hone 0.1.0\ncpu: %s\n", feat[0] ? feat : "(no SIMD extensions detected)");
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "hone: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
