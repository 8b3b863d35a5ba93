/* gen_common.h: what generate, chat, perplexity and bench share: opening a model
 * with its tokenizer and chat template, the sampling / run flags, prompt encoding. */
#ifndef HONE_CLI_GEN_COMMON_H
#define HONE_CLI_GEN_COMMON_H

#include "cli/cli.h"

/* Flags shared by the generating commands. */
typedef struct cli_gen_flags {
    hone_sampler_params sp;
    int seed_set;
    uint32_t max_tokens;
    const char *stops[32];
    size_t n_stop;
    const char *eot_texts[16]; /* --eot TOKEN: piece text or a number */
    size_t n_eot;
    int ignore_eos;
    uint32_t n_ctx, n_batch;
    int threads;
    int reference;
    const char *adapter;
    float adapter_scale;
} cli_gen_flags;

typedef struct cli_model {
    char *gguf_path;             /* the GGUF file (an ollama: reference resolved) or HF folder */
    hone_gguf *gguf;             /* for the tokenizer and the chat template; NULL for HF */
    hone_tok *tok;               /* the model's own once the engine is loaded */
    int own_tok;                 /* tok was loaded here (free it) */
    hone_model *model;           /* NULL when opened without the engine */
    hone_model_desc desc_gguf;   /* from the GGUF metadata */
    const hone_model_desc *desc; /* the engine's, or desc_gguf */
} cli_model;

/* Opens PATH (GGUF file, HF folder, or ollama:NAME[:TAG]): tokenizer, description and, with
 * engine != 0, the weights (adapter may be NULL). */
int cli_model_open(cli_model *cm, const char *path, int engine, const cli_gen_flags *f,
                   hone_err *err);
void cli_model_close(cli_model *cm);

/* The chat template: NAME when given, else the model's embedded Jinja template when
 * hone recognises it, else by architecture and vocabulary (gemma3 -> gemma; a ChatML
 * vocabulary -> smollm2 for SmolLM, chatml for qwen2, chatml-plain otherwise;
 * <|start_header_id|> -> llama3; [INST] -> mistral). */
int cli_template_open(hone_chat_template **out, const cli_model *cm, const char *name,
                      hone_err *err);

void cli_gen_flags_init(cli_gen_flags *f, uint32_t default_max_tokens);
/* Parses argv[*i] if it is one of the shared flags (advancing *i past its value):
 * 1 consumed, 0 not a shared flag, 2 a usage error (printed, return it as the exit code). */
int cli_gen_flag(const char *cmd, int argc, char **argv, int *i, cli_gen_flags *f, int sampling);
/* Help text of the shared flags. */
extern const char CLI_RUN_FLAGS_HELP[];
extern const char CLI_SAMPLING_FLAGS_HELP[];

/* Strict number parsing for a flag's value; print the one-line error and return 2 on
 * failure, 0 on success. */
int cli_parse_u32(const char *cmd, const char *flag, const char *v, uint32_t *out);
int cli_parse_f32(const char *cmd, const char *flag, const char *v, float *out);

/* Session for the model with the flags' n_ctx (0 = min(trained context, 4096)), n_batch
 * and threads; *n_ctx receives the context size used. */
int cli_session_open(hone_session **s, const cli_model *cm, const cli_gen_flags *f,
                     uint32_t *n_ctx, hone_err *err);

/* Renders msgs with t (NULL: raw, the contents back to back) and encodes them: special
 * tokens parsed in templated text; BOS prepended when the model adds one and the
 * rendered text does not start with it. *ids malloc'd. */
int cli_encode_messages(const cli_model *cm, const hone_chat_template *t, const hone_chat_msg *msgs,
                        size_t n, int32_t **ids, size_t *n_ids, hone_err *err);

/* End-of-turn ids: the template's end-of-turn marker and the --eot tokens. */
int cli_eot_ids(const cli_model *cm, const hone_chat_template *t, const cli_gen_flags *f,
                int32_t *ids, size_t cap, size_t *n, hone_err *err);

/* Reads a whole file (NUL-terminated, malloc'd). */
char *cli_read_file(const char *path, size_t *len, hone_err *err);

/* A seed from the clock and pid when none was given. */
uint64_t cli_random_seed(void);

#endif
