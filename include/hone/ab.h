/* hone/ab.h: public API, the A/B harness's core: the experiment file, the answer store and
 * the statistics. Included by hone.h; see its conventions.
 *
 * ---- The experiment file (YAML, parsed with libyaml) ----------------------------------
 *   name: text                       optional
 *   description: text                optional
 *   models:                          one or more; each has an id and EXACTLY ONE backend:
 *     - id: gemma
 *       path: m.gguf                 in-process model (optional `adapter: FILE`)
 *       ollama: {name: llama3.2, url: http://127.0.0.1:11434}     (url optional, that default)
 *       openai: {name: gpt-x, url: http://127.0.0.1:8080/v1, api_key_env: OPENAI_API_KEY}
 *       num_ctx: 4096                optional context length (0 / absent = the model's own)
 *       sampling: {temperature, top_p, max_tokens, seed}   optional per-model overrides
 *   kernels: {NAME: FILE, ...}        the user's instruction texts (read at load time)
 *   conditions:                      one or more
 *     - id: signed
 *       mode: none | system | prefix | postfix | sandwich    (the signing modes of hone/sign.h)
 *       kernel: NAME                 required unless mode is none; forbidden for none
 *       kernel_b: NAME               sandwich only: the closing kernel (default: kernel)
 *       reminder: text               sandwich only: a last line after kernel_b
 *   baseline: CONDITION-ID           the condition differentials are measured against
 *   probes: FILE or [FILE, ...]      JSONL, one object a line: id, prompt, category, lang, signal
 *                                    (all strings, all required, no other keys; blank lines ok;
 *                                    ids unique across files)
 *   samples: 3                       answers per cell (default 1)
 *   sampling: {temperature: 0.7, top_p: 0.95, max_tokens: 1024, seed: 1}   (these defaults)
 *   judges:                          optional
 *     - model: ID                    a model id from `models`, or an inline model mapping
 *       rubric: FILE
 *       mode: score | pairwise | [score, pairwise]          (default score)
 * Unknown keys, duplicate keys and duplicate ids are errors. Every error names the file, the
 * line and the key path: "exp.yaml:14: conditions[2].mode: 'prefixx' is not one of none,
 * system, prefix, postfix, sandwich". Probe-file errors are "probes.jsonl:LINE:COLUMN: ...".
 * Relative paths (model path, adapter, kernels, probes, rubrics) resolve against the folder
 * of the spec file. Model files are NOT opened at load time (a dry run needs none).
 *
 * ---- Cells and seeds ------------------------------------------------------------------
 * Cells = models x conditions x probes x samples, enumerated model-major: index =
 * ((m * n_conditions + c) * n_probes + p) * samples + s. The seed of sample s of probe P is
 *   h    = FNV-1a 64 of P's id (bytes of the id; offset 0xcbf29ce484222325, prime 0x100000001b3)
 *   seed = splitmix64(splitmix64(base + h) + s) & 0x7fffffff
 * (splitmix64 as in Vigna's reference: z += 0x9e3779b97f4a7c15; z = (z ^ z>>30) *
 * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31), base = the
 * model's sampling seed. It does not depend on the condition, so conditions are compared
 * with common random numbers; it depends on the probe id, not its position, so adding a
 * probe changes no other seed; 31 bits fit every backend's seed field.
 *
 * ---- The store (SQLite, WAL mode) -----------------------------------------------------
 * Tables (all text UTF-8; JSON columns hold JSON text):
 *   runs(id, started REAL unix s, spec_path, spec_hash, note)
 *   answers(id, run_id, model, condition, probe, sample, seed, messages JSON, prompt_text
 *     NULL, params JSON, answer NULL, prompt_tokens, answer_tokens (-1 unknown),
 *     finish_reason, latency_s, model_identity, flags, error NULL, created REAL)
 *     UNIQUE(model, condition, probe, sample)
 *   judgements(id, run_id, judge, kind 'score'|'pairwise', answer_a, answer_b (0 for score),
 *     ord (0: answer_a shown first; 1: answer_b shown first; 0 for score), prompt, raw,
 *     score NULL (missing/unparsable), error NULL, latency_s, created)
 *     UNIQUE(judge, kind, answer_a, answer_b, ord)
 * One transaction per insert, busy timeout 10 s. An insert of a key already present is
 * ignored (a resumed run never duplicates), except that a row holding an error may be
 * replaced when the caller asks (retry of failed cells).
 */
#ifndef HONE_AB_H
#define HONE_AB_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- experiment file ---------------------------------------------------------------- */

typedef enum hone_ab_backend { HONE_AB_LOCAL = 0, HONE_AB_OLLAMA, HONE_AB_OPENAI } hone_ab_backend;

typedef struct hone_ab_sampling {
    double temperature; /* >= 0 */
    double top_p;       /* (0, 1] */
    int64_t max_tokens; /* >= 1 */
    uint64_t seed;
} hone_ab_sampling;

typedef struct hone_ab_model {
    char *id;
    hone_ab_backend backend;
    char *path, *adapter;             /* local (adapter may be NULL); resolved paths */
    char *name, *url, *api_key_env;   /* ollama / openai (api_key_env may be NULL) */
    int64_t num_ctx;                  /* 0 = the model's own */
    hone_ab_sampling sampling;        /* effective: spec sampling + this model's overrides */
    int line;                         /* where it is defined in the spec */
} hone_ab_model;

typedef struct hone_ab_kernel {
    char *name, *path; /* path resolved */
    char *text;        /* the file's bytes, NUL-terminated */
    size_t text_len;
} hone_ab_kernel;

typedef struct hone_ab_condition {
    char *id;
    char *mode;       /* "none", "system", "prefix", "postfix" or "sandwich" (hone_sign_mode_parse) */
    int kernel;       /* index into kernels, -1 for none */
    int kernel_b;     /* sandwich's closing kernel index, -1 = same as kernel */
    char *reminder;   /* sandwich only, may be NULL */
} hone_ab_condition;

typedef struct hone_ab_probe {
    char *id, *prompt, *category, *lang, *signal;
    char *file; /* the JSONL file it came from */
    int line;
} hone_ab_probe;

enum { HONE_AB_JUDGE_SCORE = 1, HONE_AB_JUDGE_PAIRWISE = 2 };

typedef struct hone_ab_judge {
    int model;          /* index into models, or -1 when inline */
    hone_ab_model *inline_model; /* an inline model (not under test), else NULL */
    char *rubric_path, *rubric; /* rubric text, NUL-terminated */
    unsigned modes;     /* HONE_AB_JUDGE_* bits */
} hone_ab_judge;

typedef struct hone_ab_spec {
    char *path, *dir; /* the spec file and its folder */
    char *name, *description;
    hone_ab_model *models;         size_t n_models;
    hone_ab_kernel *kernels;       size_t n_kernels;
    hone_ab_condition *conditions; size_t n_conditions;
    int baseline;                  /* index into conditions */
    hone_ab_probe *probes;         size_t n_probes;
    uint32_t samples;
    hone_ab_sampling sampling;     /* the spec-wide values */
    hone_ab_judge *judges;         size_t n_judges;
} hone_ab_spec;

/* Parses and validates the file; reads the kernels, rubrics and probe files it names. */
int hone_ab_spec_load(hone_ab_spec **out, const char *path, hone_err *err);
/* Same over text in memory; `name` is used in messages, `dir` resolves relative paths. */
int hone_ab_spec_load_mem(hone_ab_spec **out, const char *text, size_t len, const char *name,
                          const char *dir, hone_err *err);
void hone_ab_spec_free(hone_ab_spec *s);

int hone_ab_spec_find_model(const hone_ab_spec *s, const char *id);     /* index or -1 */
int hone_ab_spec_find_condition(const hone_ab_spec *s, const char *id); /* index or -1 */
int hone_ab_spec_find_probe(const hone_ab_spec *s, const char *id);     /* index or -1 */

typedef struct hone_ab_cell {
    uint32_t model, condition, probe, sample;
    uint32_t seed; /* see "Cells and seeds" */
} hone_ab_cell;

uint64_t hone_ab_spec_n_cells(const hone_ab_spec *s);
/* The cell at index i (model-major order, see above); HONE_EARG when i is out of range. */
int hone_ab_spec_cell(const hone_ab_spec *s, uint64_t i, hone_ab_cell *out, hone_err *err);
uint32_t hone_ab_sample_seed(uint64_t base, const char *probe_id, uint32_t sample);

/* ---- store -------------------------------------------------------------------------- */

typedef struct hone_ab_store hone_ab_store;
typedef struct hone_chat_msg hone_chat_msg; /* hone/chat.h */

/* Creates the file and schema if needed, WAL mode, busy timeout. */
int hone_ab_store_open(hone_ab_store **out, const char *path, hone_err *err);
void hone_ab_store_close(hone_ab_store *st);

/* Records a run; spec_hash may be NULL. */
int hone_ab_store_begin_run(hone_ab_store *st, const char *spec_path, const char *spec_hash,
                            const char *note, int64_t *run_id, hone_err *err);

enum { HONE_AB_FLAG_CUTOFF = 1, HONE_AB_FLAG_OVERFLOW = 2, HONE_AB_FLAG_REFUSAL = 4,
       HONE_AB_FLAG_LANG = 8 };

typedef struct hone_ab_answer {
    int64_t id;                  /* filled by get; ignored by put */
    int64_t run_id;
    const char *model, *condition, *probe;
    int64_t sample;
    int64_t seed;
    const char *messages_json;   /* the exact messages sent (JSON array) */
    const char *prompt_text;     /* the prompt after the chat template, or NULL */
    const char *params_json;     /* every parameter (JSON object) */
    const char *answer;          /* NULL when error is set */
    int64_t prompt_tokens, answer_tokens; /* -1 = unknown */
    const char *finish_reason;   /* "stop", "length", ... or NULL */
    double latency_s;
    const char *model_identity;  /* file hash or server digest */
    int64_t flags;               /* HONE_AB_FLAG_* */
    const char *error;           /* NULL = success */
} hone_ab_answer;

/* Inserts the answer of a cell. When the cell already has a row, nothing changes
 * (*inserted = 0) unless replace_error is set and the stored row holds an error. */
int hone_ab_store_put_answer(hone_ab_store *st, const hone_ab_answer *a, int replace_error,
                             int *inserted, hone_err *err);
/* Reads a cell's row into *a; strings are malloc'd copies owned by the caller
 * (release with hone_ab_answer_free). HONE_ENOTFOUND when the cell has no row. */
int hone_ab_store_get_answer(hone_ab_store *st, const char *model, const char *condition,
                             const char *probe, int64_t sample, hone_ab_answer *a, hone_err *err);
void hone_ab_answer_free(hone_ab_answer *a);
int hone_ab_store_count_answers(hone_ab_store *st, int64_t *n, hone_err *err);

/* Cells of the spec with no row (or, with include_errors, a row holding an error), as
 * cell indices (hone_ab_spec_cell) in ascending order; *idx is malloc'd. */
int hone_ab_store_missing(hone_ab_store *st, const hone_ab_spec *s, int include_errors,
                          uint64_t **idx, size_t *n, hone_err *err);

typedef struct hone_ab_judgement {
    int64_t run_id;
    const char *judge;
    const char *kind;    /* "score" or "pairwise" */
    int64_t answer_a;    /* answers.id */
    int64_t answer_b;    /* answers.id for pairwise, 0 for score */
    int64_t ord;         /* pairwise: 0 = answer_a shown first, 1 = answer_b first; score: 0 */
    const char *prompt;  /* what the judge was sent */
    const char *raw;     /* the judge's text */
    double score;        /* NaN = missing / unparsable */
    const char *error;   /* NULL = success */
    double latency_s;
} hone_ab_judgement;

/* Insert-or-ignore by (judge, kind, answer_a, answer_b, ord); a row whose score is
 * missing is replaced when replace_missing is set. */
int hone_ab_store_put_judgement(hone_ab_store *st, const hone_ab_judgement *j,
                                int replace_missing, int *inserted, hone_err *err);
/* The stored score (NaN if missing); HONE_ENOTFOUND when there is no row. */
int hone_ab_store_get_score(hone_ab_store *st, const char *judge, const char *kind,
                            int64_t answer_a, int64_t answer_b, int64_t ord, double *score,
                            hone_err *err);

/* ---- statistics ----------------------------------------------------------------------- */

typedef struct hone_stats_ci {
    double mean, lo, hi; /* NaN when undefined (n == 0) */
} hone_stats_ci;

/* Mean of x[0..n) with a percentile bootstrap CI at `level` (e.g. 0.95): B resamples of
 * size n with replacement (B = 0: 10000), drawn with xoshiro256** seeded by splitmix64(seed);
 * bounds are the (1-level)/2 and (1+level)/2 quantiles of the B means, linearly
 * interpolated (numpy's default percentile). n == 1 gives lo = hi = mean. */
int hone_stats_bootstrap_mean(const double *x, size_t n, size_t B, double level, uint64_t seed,
                              hone_stats_ci *out, hone_err *err);

typedef struct hone_stats_wilcoxon {
    size_t n;          /* pairs given */
    size_t n_nonzero;  /* pairs used (zero differences dropped: zero_method 'wilcox') */
    double r_plus, r_minus;
    double statistic;  /* min(r_plus, r_minus), as scipy reports for two-sided */
    double z;          /* normal approximation only (else NaN) */
    double p;          /* two-sided */
    const char *method; /* "exact", "permutation" or "normal" */
} hone_stats_wilcoxon;

/* Two-sided Wilcoxon signed-rank test of differences d[0..n), as scipy.stats.wilcoxon
 * with its defaults (zero_method='wilcox', correction=False, method='auto'):
 *   n <= 50, no ties, no zeros:  exact null distribution of R+ ("exact");
 *   n <= 13 with ties or zeros:  all 2^n sign flips, R+ recomputed ("permutation");
 *   otherwise:                   normal approximation, zeros dropped, tie-corrected variance.
 * n counts zeros (scipy's rule). All zeros: p = NaN. */
int hone_stats_wilcoxon_test(const double *d, size_t n, hone_stats_wilcoxon *out, hone_err *err);

/* Matched-pairs rank-biserial correlation (R+ - R-) / (R+ + R-), zeros dropped; NaN if none. */
double hone_stats_rank_biserial(const double *d, size_t n);

typedef struct hone_stats_paired {
    size_t n;
    hone_stats_ci diff;       /* mean of cond - base, bootstrap CI */
    hone_stats_wilcoxon test;
    double rank_biserial;
    size_t wins, ties, losses; /* cond > base, ==, < */
    double p_holm;            /* filled by the caller's Holm pass; NaN here */
} hone_stats_paired;

/* Paired comparison of cond[i] vs base[i] (one value per probe, e.g. the mean over samples). */
int hone_stats_paired_compare(const double *cond, const double *base, size_t n, size_t B,
                              double level, uint64_t seed, hone_stats_paired *out, hone_err *err);

/* All conditions of one model against the baseline: scores is (n_cond, n_probe) row-major,
 * one value per probe (e.g. the mean judged score over samples), NaN where missing; a
 * probe missing under either condition is left out of that pair. out[c] for each c !=
 * baseline gets hone_stats_paired_compare (seed + c), then p_holm is Holm across those
 * comparisons; out[baseline] has n = 0 and NaN everywhere. */
int hone_stats_compare_conditions(const double *scores, size_t n_cond, size_t n_probe,
                                  size_t baseline, size_t B, double level, uint64_t seed,
                                  hone_stats_paired *out, hone_err *err);

/* Holm step-down adjusted p-values (as statsmodels multipletests 'holm'); NaN p stays NaN
 * and does not count. adj may equal p. */
int hone_stats_holm(const double *p, size_t n, double *adj, hone_err *err);

/* Krippendorff's alpha, interval metric. r is (n_raters, n_units) row-major; NaN = missing.
 * Units with fewer than 2 ratings are dropped. NaN when undefined (no pairable values or
 * no disagreement expected). */
int hone_stats_kripp_alpha_interval(const double *r, size_t n_raters, size_t n_units,
                                    double *alpha, hone_err *err);

/* Order-flip rate of pairwise judgements run in both orders. pref0[i], pref1[i]: the
 * preference for the condition over the baseline (> 0 condition better, < 0 baseline
 * better, 0 tie), in the two presentation orders, already mapped to the same frame.
 * A flip is a pair whose signs differ; pairs with a NaN are skipped. NaN if none. */
double hone_stats_flip_rate(const double *pref0, const double *pref1, size_t n, size_t *n_used);

/* ---- judging (src/eval/judge.c, judge_parse.c) ------------------------------------
 * Judge labels: the `judge` column holds the judge's model id; when two judges of the spec
 * share a model id and a mode, each gets "ID#K" (K its index in `judges`), so their rows
 * never collide; an inline judge model without an id is "judge#K".
 *
 * Prompts: one user message, the rubric file's text followed by labelled sections:
 *   score:     RUBRIC "\n\n=== Prompt ===\n" PROBE PROMPT "\n\n=== Answer ===\n" ANSWER
 *              "\n\n=== Signal ===\n" SIGNAL "\n\n=== End ===\n"
 *   pairwise:  RUBRIC, Prompt, "=== Answer 1 ===", "=== Answer 2 ===", Signal, End.
 *              ord 0: Answer 1 = the baseline answer, Answer 2 = the condition's answer;
 *              ord 1: the other way round. The rubric asks how far Answer 2 moved toward
 *              the signal compared with Answer 1 (0-10, 5 = no difference), so the
 *              condition-frame differential is the score for ord 0 and 10 - score for ord 1.
 * The probe's original prompt is shown (never the kernel-signed one). The judge samples with
 * temperature 0, top_p 1, max_tokens 256 and its model's seed.
 *
 * Reply parsing (hone_ab_judge_parse), in this order; the first rule that finds a
 * candidate decides:
 *   0. Normalise: drop <think>...</think> blocks (an unclosed <think> drops everything after
 *      it); full-width digits, colon and full stop become ASCII; an empty reply fails.
 *   1. JSON: the first '{' that starts a complete JSON object (code fences and text around
 *      it allowed) with a key "score" (any case; "rating", "grade" also; also one object
 *      level down) holding a number or a numeric string ("7", "7/10").
 *   2. Labelled: a label (score, rating, grade, punteggio, puntuación, bewertung, punkte,
 *      оценк-, балл-, 评分, 分数, 得分, 打分, 評分, 分數) followed, past spaces, markdown, ':',
 *      '=', dashes, a short parenthetical such as "(0-10)" and the words "is", "of", "a",
 *      "would be", by a number ("7", "7.5", "7,5") or a Chinese numeral 零..十.
 *      All labelled numbers in the reply must agree, else the reply is ambiguous.
 *   3. Fraction: "N/10", "N out of 10", "N из 10", "N分" (all such numbers must agree).
 *   4. Lone number: the whole reply, less markdown emphasis, quotes and a final full stop,
 *      is one number.
 * The number must lie in [0, 10]; ranges ("8-9") and other scales ("4/5") are refused, as is a
 * negative number. Anything else is unparsable:
 * HONE_EFORMAT with a one-line reason, and the judgement is stored with score NULL, the raw
 * reply and that reason; it is retried by the next `hone ab judge`. No default is invented.
 */

/* Parses a judge's reply into *score (see the rules above). */
int hone_ab_judge_parse(const char *reply, double *score, hone_err *err);

/* Label of judge j of the spec (see above); malloc'd, NULL when out of memory. */
char *hone_ab_judge_label(const hone_ab_spec *s, size_t j);

/* The judge prompts (see above); malloc'd, NULL when out of memory. */
char *hone_ab_judge_prompt_score(const char *rubric, const hone_ab_probe *p, const char *answer);
char *hone_ab_judge_prompt_pairwise(const char *rubric, const hone_ab_probe *p,
                                    const char *first, const char *second);

/* How a judge is asked: sends `prompt` as one user message to judge j of the spec and
 * returns its reply text (malloc'd) in *reply. A non-zero return (with err) records the
 * judgement as missing with that error. */
typedef int (*hone_ab_judge_fn)(void *ctx, const hone_ab_spec *s, size_t judge,
                                const char *prompt, char **reply, double *latency_s,
                                hone_err *err);

typedef struct hone_ab_judge_opts {
    hone_ab_judge_fn call;   /* required; hone_ab_judge_llm_call asks the spec's backends */
    void *ctx;
    int64_t run_id;          /* recorded with each judgement; 0 = none */
    int max_consecutive_failures; /* calls failing in a row before giving up; 0 = 5 */
    /* Called after each judgement, may be NULL. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
    int concurrency;         /* judge calls in flight (worker threads); 0 = 1. With more
                                than one, `call` must be thread-safe. */
} hone_ab_judge_opts;

typedef struct hone_ab_judge_counts {
    size_t total;     /* judgements the spec asks for over the answers present */
    size_t present;   /* already stored with a score (skipped) */
    size_t scored;    /* judged now, score parsed */
    size_t missing;   /* judged now, no score (unparsable or failed call) */
    size_t no_answer; /* cells skipped: answer absent or failed (pairwise: either one) */
} hone_ab_judge_counts;

/* Judges every answer of the spec's cells in the store that has no scored judgement yet:
 * each judge, each of its modes; pairwise compares the baseline condition's answer with
 * each other condition's answer of the same model, probe and sample, in both orders.
 * Rows already holding a score are kept; rows with a missing score are retried and
 * replaced. Also records the spec's design in the store (hone_ab_store_put_design).
 * Returns an error only for store failures or when max_consecutive_failures calls fail in
 * a row (the judgements so far are kept). */
int hone_ab_judge_run(const hone_ab_spec *s, hone_ab_store *st, const hone_ab_judge_opts *o,
                      hone_ab_judge_counts *counts, hone_err *err);

/* The judge function over the spec's own backends (src/eval/judge_llm.c): each judge's
 * model is opened through hone/llm.h on first use (judges on one model share it) and asked
 * with the sampling above. Pass hone_ab_judge_llm_call as opts.call and the handle as
 * opts.ctx. timeout_s: per request, 0 = the backend's default; concurrency: requests in
 * flight per judge model (match opts.concurrency). The call is thread-safe. */
typedef struct hone_ab_judge_llm hone_ab_judge_llm;
int hone_ab_judge_llm_open(hone_ab_judge_llm **out, const hone_ab_spec *s, double timeout_s,
                           int concurrency, hone_err *err);
void hone_ab_judge_llm_close(hone_ab_judge_llm *jl);
int hone_ab_judge_llm_call(void *ctx, const hone_ab_spec *s, size_t judge, const char *prompt,
                           char **reply, double *latency_s, hone_err *err);

/* ---- design record and metadata (src/eval/store.c, design.c) -------------------------------------
 * The report reads only the store, so the design it needs (models, conditions with modes,
 * the baseline, probes with prompt, category, lang and signal, judges with labels and
 * modes, samples) is kept as JSON under meta key 'design'. `ab run` and `ab judge` write
 * it; the latest write wins. */
int hone_ab_store_put_design(hone_ab_store *st, const hone_ab_spec *s, hone_err *err);
/* meta(key, value): *value malloc'd; HONE_ENOTFOUND when the key is absent. */
int hone_ab_store_set_meta(hone_ab_store *st, const char *key, const char *value, hone_err *err);
int hone_ab_store_get_meta(hone_ab_store *st, const char *key, char **value, hone_err *err);

/* ---- analysis and report (src/eval/analysis.c, src/eval/report.c) ----------------------
 * hone_ab_analyze computes, from the store (and its design record), the statistics the
 * report shows, as JSON text (the content of results.json; layout in analysis.c's
 * comment). Definitions:
 *   score of an answer: the mean of the score judges' scores for it (each judge's own
 *     means are listed too); pairwise differential of a (baseline, condition) answer pair:
 *     the mean over judges and orders of the condition-frame score (ord 0: s, ord 1: 10 - s).
 *   unit of analysis: the probe. A probe's value in a (model, condition) cell is the mean
 *     over its samples; cell means are means over probes, with 95 % percentile bootstrap
 *     CIs over probes (B = 10000, hone_stats_bootstrap_mean).
 *   paired differential vs the baseline, per model and condition: probe values of the
 *     condition minus the baseline's (hone_stats_paired_compare: mean, bootstrap CI,
 *     two-sided Wilcoxon signed-rank p, matched-pairs rank-biserial effect size,
 *     wins/ties/losses); Holm over every (model, condition != baseline) comparison of the
 *     experiment at once. The pairwise judges' differential is tested the same way
 *     against 5 (no difference), with its own Holm family.
 *   breakdowns: the cell means (and differentials) restricted to one category or one
 *     language.
 *   rates per model x condition, over answers without an error: refusal, cut off by the
 *     token limit (truncation), prompt overflow, language mismatch; plus the error rate
 *     over all rows.
 *   order-flip rate per pairwise judge: pairs judged in both orders whose preferences
 *     (s - 5 for ord 0, 5 - s for ord 1) have different signs (hone_stats_flip_rate).
 *   agreement with two or more judges of a mode: Krippendorff's alpha, INTERVAL metric,
 *     units = answers (score) or answer pairs (pairwise, condition-frame mean over orders).
 */
typedef struct hone_ab_analyze_opts {
    size_t bootstrap_b; /* 0 = 10000 */
    uint64_t seed;      /* bootstrap seed; 0 = 1 */
    double level;       /* 0 = 0.95 */
} hone_ab_analyze_opts;

/* `design_json` overrides the store's design record (NULL: use the store's; without one,
 * the spec file of the store's latest run, read again). *json is malloc'd.
 * HONE_ENOTFOUND when there is no design. */
int hone_ab_analyze(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o,
                    char **json, hone_err *err);

/* Writes report.md, report.html (self-contained: inline CSS and SVG, no script, no external
 * resource), results.csv (one row per answer) and results.json into out_dir (created if
 * needed; files written atomically). */
int hone_ab_report_write(hone_ab_store *st, const char *design_json, const hone_ab_analyze_opts *o,
                         const char *out_dir, hone_err *err);
/* ---- running (hone ab run; src/eval/run.c) ---------------------------------------------
 * Every cell of the spec that has no row in the store (or, with retry_errors, a row
 * holding an error) is answered once and written as one row (hone_ab_store_put_answer),
 * so a run killed at any point resumes with no loss and no duplicate. Models run one
 * after the other, each through one hone_llm (hone/llm.h) opened with `concurrency`
 * slots and `concurrency` worker threads, so a server backend keeps that many requests
 * in flight. A cell's messages: hone_sign_apply of its condition (no extra system text)
 * to the probe's prompt: [system,] user. Recorded per answer: the messages (JSON array),
 * the prompt text after the chat template (local models), params (JSON: backend, model
 * path or name, url, adapter, num_ctx, stream, temperature, top_p, max_tokens, seed, and
 * the outcome's attempts and http_status), answer, token counts, finish reason, latency,
 * model identity (hone_llm_identity), flags, error. Flags: CUTOFF when finish_reason is
 * "length"; OVERFLOW when the backend reports prompt_overflow = 1; REFUSAL and LANG by
 * the detectors documented in src/eval/detect.c (phrase list; script vs probe lang).
 * A cell that fails after the backend's retries is stored with its error (and whatever
 * the backend learnt: prompt text, prompt tokens, overflow); --retry-errors redoes it. */

typedef struct hone_ab_run_opts {
    const char *only;      /* "model=ID,condition=ID,probe=ID" (any subset; a key may repeat
                              for several values); NULL = every cell */
    int concurrency;       /* requests in flight per model (and worker threads); 0 = 1 */
    int retry_errors;      /* also redo cells whose stored row holds an error */
    int dry_run;           /* plan only: count (and on_plan) the cells to do, send nothing */
    int stream;            /* server backends: the streaming APIs */
    double timeout_s;      /* per request; 0 = the backend's default (300 s) */
    int max_retries;       /* 0 = the backend's default (4) */
    const char *note;      /* stored in runs.note; may be NULL */
    /* called from worker threads, one call at a time (may be NULL): */
    void (*on_progress)(void *user, uint64_t done, uint64_t todo, uint64_t errors);
    /* dry run: each cell to do, in order (may be NULL) */
    void (*on_plan)(void *user, const hone_ab_cell *cell);
    void *user;
    volatile int *stop;    /* when *stop becomes non-zero, no new cell starts */
} hone_ab_run_opts;

typedef struct hone_ab_run_stats {
    uint64_t cells;        /* in the spec (after --only) */
    uint64_t todo;         /* missing (or failed, with retry_errors) when the run began */
    uint64_t done;         /* rows written by this run */
    uint64_t errors;       /* of those, rows holding an error */
    uint64_t flagged[4];   /* answers with CUTOFF, OVERFLOW, REFUSAL, LANG */
    int64_t run_id;        /* 0 for a dry run */
    int max_in_flight;     /* the most requests seen in flight at once (any model) */
    double seconds;
} hone_ab_run_stats;

/* Runs (or plans) the spec's missing cells into the store (st may be NULL for a dry
 * run: every selected cell counts as missing). Before any cell (and also when none is
 * missing) it records the spec's design in the store (hone_ab_store_put_design), so a
 * store never judged still reports. spec_hash may be NULL. Errors of single
 * cells are stored, not returned; the return is an error only when the run cannot go
 * on (a bad --only, a model that does not open, the store failing). */
int hone_ab_run(const hone_ab_spec *s, hone_ab_store *st, const hone_ab_run_opts *o,
                hone_ab_run_stats *stats, hone_err *err);

/* The messages of a cell as sent (hone_sign_apply of the condition) into msgs[0..2): *n is 1 or 2;
 * msgs[i].content are malloc'd (free with hone_ab_cell_messages_free). */
int hone_ab_cell_messages(const hone_ab_spec *s, const hone_ab_cell *c, hone_chat_msg *msgs, size_t *n,
                          hone_err *err);
void hone_ab_cell_messages_free(hone_chat_msg *msgs, size_t n);

#ifdef __cplusplus
}
#endif
#endif
