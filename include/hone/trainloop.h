/* hone/trainloop.h: public API of the training loop behind `hone train` (issue 5).
 * Included by hone.h; see its conventions. The step itself (forward + backward of one
 * padded batch) is hone/train.h's hone_trainer; this is everything around it: the
 * configuration (mlx-lm's flags, YAML keys and defaults), data order, optimizer and
 * schedule (mlx's semantics: Adam without bias correction by default), reports,
 * validation, adapter files, checkpoints and --resume.
 *
 * Precedence: hone_train_config_default() gives mlx-lm's defaults, then
 * hone_train_config_load_yaml() overwrites what the file names, then the command line
 * (the CLI) overwrites what it names.
 *
 * Files under adapter_path (all written atomically):
 *   adapters.safetensors + adapter_config.json   mlx-lm's layout (hone_adapter_save_mlx)
 *   NNNNNNN_adapters.safetensors                 every save_every steps (mlx-lm's names)
 *   adapters.best.safetensors                    lowest validation loss so far
 *   checkpoint.safetensors                       adapters, optimizer state, step, RNG, data
 *                                                order, report accumulators: --resume
 *   metrics.jsonl (appended), loss.svg (train + validation loss, rewritten at each eval)
 */
#ifndef HONE_TRAINLOOP_H
#define HONE_TRAINLOOP_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HONE_TRAIN_PATH_MAX 1024

enum { HONE_TRAIN_OPT_ADAM = 0, HONE_TRAIN_OPT_ADAMW = 1, HONE_TRAIN_OPT_SGD = 2 };

/* One optimizer's settings (mlx.optimizers' constructor arguments). */
typedef struct hone_train_optcfg {
    double betas[2];      /* adam/adamw: 0.9, 0.999 */
    double eps;           /* 1e-8 */
    double weight_decay;  /* adamw: 0.01, sgd: 0 */
    int bias_correction;  /* adam/adamw: 0 */
    double momentum, dampening; /* sgd: 0, 0 */
    int nesterov;         /* sgd: 0 */
} hone_train_optcfg;

typedef struct hone_train_config {
    char model[HONE_TRAIN_PATH_MAX];
    char data[HONE_TRAIN_PATH_MAX];        /* DIR with train/valid/test.jsonl */
    char train_file[HONE_TRAIN_PATH_MAX];  /* --train-data (overrides DIR/train.jsonl) */
    char valid_file[HONE_TRAIN_PATH_MAX];  /* --valid-data */
    char test_file[HONE_TRAIN_PATH_MAX];   /* --test-data */
    char adapter_path[HONE_TRAIN_PATH_MAX];        /* "adapters" */
    char resume_adapter_file[HONE_TRAIN_PATH_MAX]; /* "" = none */
    char fine_tune_type[16];               /* "lora" (dora/full: HONE_EUNSUPPORTED) */
    char optimizer[16];                    /* "adam" | "adamw" | "sgd" */
    /* optimizer_config.{adam,adamw,sgd}, index HONE_TRAIN_OPT_*, mlx's defaults */
    hone_train_optcfg opt[3];
    int train, test, mask_prompt, grad_checkpoint;
    int32_t num_layers;                    /* 16; -1 = all */
    int64_t batch_size;                    /* 4 */
    int64_t iters;                         /* 1000 */
    int64_t val_batches;                   /* 25; -1 = all */
    double learning_rate;                  /* 1e-5 */
    int64_t steps_per_report;              /* 10 */
    int64_t steps_per_eval;                /* 200 */
    int64_t save_every;                    /* 100 */
    int64_t test_batches;                  /* 500; -1 = all */
    int64_t max_seq_length;                /* 2048 */
    int64_t grad_accumulation_steps;       /* 1 */
    uint64_t seed;                         /* 0 */
    /* lora_parameters */
    int64_t lora_rank;                     /* 8 */
    double lora_scale;                     /* 20.0 */
    double lora_dropout;                   /* 0.0 */
    uint32_t lora_keys;                    /* bit per hone_proj; 0 = every linear of the block */
    /* lr_schedule (schedule_name "" = constant learning_rate) */
    char schedule_name[32];                /* cosine_decay | linear_schedule | exponential_decay | step_decay */
    double schedule_args[3];
    int schedule_n_args;
    int64_t warmup;
    double warmup_init;
    /* data feature names (mlx-lm's *_feature keys) */
    char prompt_feature[64], completion_feature[64], text_feature[64], chat_feature[64];
    /* hone's own */
    int resume;                            /* continue from adapter_path/checkpoint.safetensors */
    int64_t early_stop;                    /* patience in evaluations without a new best; 0 = off */
    double max_grad_norm;                  /* 0 = no clipping */
    int json;                              /* the CLI prints metrics as JSON lines */
    int engine;                            /* HONE_ENGINE_FAST / _REFERENCE */
    int n_threads;                         /* 0 = all cores */
    char chat_template[64];                /* the CLI's --chat-template NAME ("" = the model's) */
} hone_train_config;

/* mlx-lm's defaults (lora.py CONFIG_DEFAULTS) plus hone's own. */
void hone_train_config_default(hone_train_config *c);
/* Applies an mlx-lm YAML config. Unknown keys, wrong types and out-of-range values are
 * errors "FILE:LINE: key: what was expected". */
int hone_train_config_load_yaml(hone_train_config *c, const char *path, hone_err *err);
int hone_train_config_load_yaml_mem(hone_train_config *c, const char *text, size_t len,
                                    const char *name, hone_err *err);
/* Final checks of the merged configuration (ranges, fine_tune_type, optimizer names). */
int hone_train_config_check(const hone_train_config *c, hone_err *err);
/* Parses "q_proj,v_proj" / "self_attn.q_proj,mlp.down_proj" / "all" into key bits. */
int hone_train_parse_keys(const char *list, uint32_t *keys, hone_err *err);

/* ---- events: the library reports, the caller prints ---- */

typedef enum hone_train_event_kind {
    HONE_TRAIN_EV_INFO = 0,      /* msg: a line for the user (loading, counts) */
    HONE_TRAIN_EV_WARNING = 1,   /* msg: truncated / skipped examples, ... */
    HONE_TRAIN_EV_REPORT = 2,    /* train loss report (it, train_loss, lr, it_sec, ...) */
    HONE_TRAIN_EV_VAL = 3,       /* validation loss (it, val_loss, val_time) */
    HONE_TRAIN_EV_SAVE = 4,      /* msg: path of the numbered copy written */
    HONE_TRAIN_EV_PROGRESS = 5,  /* it of iters done, eta_s */
    HONE_TRAIN_EV_TEST = 6,      /* test loss (val_loss holds it) */
    HONE_TRAIN_EV_STOP = 7,      /* msg: why the run stopped early (signal, early stop) */
} hone_train_event_kind;

typedef struct hone_train_event {
    int kind;
    int64_t it, iters;
    double train_loss, learning_rate, it_sec, tokens_sec, peak_mem_gb;
    int64_t trained_tokens;
    double val_loss, val_time;
    double eta_s;
    const char *msg;
    const char *json;            /* the metrics line (REPORT/VAL/TEST), as appended to metrics.jsonl */
} hone_train_event;

typedef void (*hone_train_event_fn)(void *user, const hone_train_event *ev);

typedef struct hone_train_result {
    int64_t steps_done;          /* the step count reached */
    int interrupted;             /* 1: SIGINT/SIGTERM: checkpoint written, resumable */
    int early_stopped;
    double first_val_loss, last_val_loss, best_val_loss; /* NAN when never evaluated */
    double test_loss;            /* NAN without --test */
} hone_train_result;

typedef struct hone_chat_template hone_chat_template; /* hone/chat.h */

/* Runs the whole job on a loaded model (the caller picks its chat template; NULL is allowed
 * when every data file is {"text"}): loads and tokenizes the data (every malformed record is
 * reported as a WARNING event "FILE:LINE:COL: ..." and the run fails before training),
 * creates the adapters (or loads --resume-adapter-file), trains (cfg->train) and/or tests
 * (cfg->test). Installs SIGINT/SIGTERM handlers for the duration (a signal finishes the
 * current step, writes the checkpoint and returns HONE_OK with result->interrupted). */
int hone_train_run(const hone_train_config *cfg, hone_model *m, const hone_chat_template *tmpl,
                   hone_train_event_fn on_event, void *user, hone_train_result *result, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
