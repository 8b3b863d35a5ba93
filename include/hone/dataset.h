/* hone/dataset.h: public API, fine-tuning records (JSONL) for `hone train` and `hone data`.
 * Included by hone.h; see its conventions.
 *
 * ---- Files ------------------------------------------------------------------------------
 * One JSON object per line (UTF-8; a final "\r" is dropped; blank lines are skipped). The
 * format is detected per file from its first well-formed record, with mlx-lm's precedence:
 *   messages            {"messages": [{"role": R, "content": TEXT}, ...]}
 *                       R is system | user | assistant ("model" is read as assistant);
 *                       other keys of a message are ignored; a top-level "tools" key is
 *                       ignored with a warning (hone does not train tool calls).
 *   prompt-completion   {"prompt": TEXT, "completion": TEXT} (optional "system": TEXT, a
 *                       hone extension that `hone data format` uses for lossless round trips)
 *   text                {"text": TEXT}
 * Other top-level keys (id, category, lang, ...) are allowed and kept in the raw line.
 * Every record of a file must have the file's format. A conversation must be: an optional
 * system message first, then user and assistant alternating, starting with user and
 * ending with assistant (the answer that is trained on). Strings must not hold "\u0000".
 *
 * ---- Diagnostics ------------------------------------------------------------------------
 * Every problem is "FILE:LINE:COLUMN: what was expected". LINE is 1-based in the file.
 * COLUMN is 1-based in Unicode characters of that line (as jansson counts): for JSON syntax
 * errors jansson's own; for schema errors the column where the offending key starts (its
 * opening quote), or the start of the offending value / array element when the problem is
 * a value with no key of its own; 1 when the problem is the record as a whole.
 * hone_ds_load either stops at the first error (diags == NULL: HONE_EFORMAT, err holds the
 * diagnostic) or collects every diagnostic (diags != NULL: the bad records are left out,
 * the call succeeds unless the file cannot be read).
 *
 * ---- Tokens and the supervised mask ----------------------------------------------------
 * hone_ds_tokenize turns one record into ids[0..n) and mask[0..n):
 *   messages, prompt-completion: the conversation is rendered by the chat template
 *     (hone_chat_render, no generation prompt; prompt-completion is [system,] user, assistant)
 *     and encoded with HONE_TOK_SPECIAL, so the template's markers are their control tokens.
 *   text: the text is encoded with HONE_TOK_SPECIAL (control-token text becomes the token,
 *     as Hugging Face's encode does); no template.
 *   BOS: when the tokenizer's add_bos_token is set (or opts.add_bos > 0) and ids[0] is not
 *     already BOS (a template that writes "<bos>" itself), BOS is prepended.
 *   EOS: text records get EOS appended when their last token is not EOS (mlx-lm). Chat
 *     records get EOS appended when no end-of-generation token (hone_tok_is_eog) lies at or
 *     after the last supervised token of the final assistant message (anywhere, when that
 *     message has no token): templates whose end-of-turn marker is an EOG token (gemma's
 *     <end_of_turn>, ChatML's <|im_end|>, Llama 3's <|eot_id|>) get nothing; `raw` gets EOS.
 * mask[t] says whether token t is a supervised TARGET: the training loss is
 *     sum over t in 1..n-1 with mask[t] = 1 of  -log p(ids[t] | ids[0..t-1]),
 * i.e. the logits at input position t-1 are scored against ids[t] (position t predicts t+1:
 * the weight of input position t is mask[t+1]). mask[0] is always 0 (nothing predicts the
 * first token).
 *   mask_prompt = 0: mask[t] = 1 for every t >= 1 (mlx-lm without --mask-prompt).
 *   mask_prompt = 1, chat: mask[t] = 1 exactly for the tokens of the FINAL assistant
 *     message's content and of the end-of-turn marker right after it (hone_chat_mask's rule
 *     restricted to that message: a token straddling the content start counts), plus an
 *     appended EOS. Earlier assistant turns, the template's trailing newline and the BOS are 0.
 *   mask_prompt = 1, text: as mask_prompt = 0 (a text record has no prompt; mlx-lm too).
 * n_supervised = the number of t with mask[t] = 1; it is 0 when the final answer renders
 * to nothing and the template has no end-of-turn token (the trainer skips such records).
 */
#ifndef HONE_DATASET_H
#define HONE_DATASET_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_chat_msg hone_chat_msg;           /* hone/chat.h */
typedef struct hone_chat_template hone_chat_template; /* hone/chat.h */
typedef struct hone_tok hone_tok;                     /* hone/tokenizer.h */

typedef enum hone_ds_format {
    HONE_DS_UNKNOWN = 0, /* a file with no well-formed record */
    HONE_DS_MESSAGES = 1,
    HONE_DS_PROMPT_COMPLETION = 2,
    HONE_DS_TEXT = 3,
} hone_ds_format;

/* "messages", "prompt-completion", "text" ("unknown" for 0). */
const char *hone_ds_format_name(hone_ds_format f);
/* Also accepts "completions", "chat", "pc"; HONE_EARG listing the names otherwise. */
int hone_ds_format_parse(const char *name, hone_ds_format *out, hone_err *err);

typedef struct hone_ds_record {
    hone_ds_format format;
    int line;              /* 1-based line in the file */
    hone_chat_msg *msgs;   /* messages and prompt-completion: the conversation (roles normalised
                              to "system" / "user" / "assistant"); NULL for text */
    size_t n_msgs;
    const char *text;      /* text: the text; NULL otherwise */
    const char *raw;       /* the line as in the file (no newline), NUL-terminated */
    size_t raw_len;
    int has_tools;         /* the record had a "tools" key (ignored) */
} hone_ds_record;

typedef struct hone_ds {
    char *path;               /* as given */
    hone_ds_format format;
    hone_ds_record *recs;     /* the well-formed records, in file order */
    size_t n;
    int n_lines;              /* lines in the file (blank ones included) */
    struct hone_ds_pool *pool; /* private: the strings */
} hone_ds;

/* ---- diagnostics ---- */

typedef enum hone_ds_severity { HONE_DS_WARNING = 1, HONE_DS_ERROR = 2 } hone_ds_severity;

typedef enum hone_ds_kind {
    HONE_DSK_SYNTAX = 1,     /* JSON syntax (jansson's message) */
    HONE_DSK_SCHEMA,         /* missing / wrong-typed key, unknown role, format mismatch */
    HONE_DSK_ROLE_ORDER,     /* system not first, roles not alternating, no final answer */
    HONE_DSK_TOOLS,          /* warning: "tools" ignored */
    HONE_DSK_EMPTY,          /* empty or whitespace-only text (hone data check) */
    HONE_DSK_DUPLICATE,      /* exact duplicate record in the same file (data check) */
    HONE_DSK_NEAR_DUPLICATE, /* near duplicate in the same file (data check) */
    HONE_DSK_LEAK,           /* exact duplicate across files (train/valid/test) */
    HONE_DSK_NEAR_LEAK,      /* near duplicate or the same prompt across files */
    HONE_DSK_TOO_LONG,       /* more tokens than max_seq_length (data check --model) */
    HONE_DSK_NO_SUPERVISED,  /* no supervised token under mask_prompt (data check --model) */
    HONE_DSK_TEMPLATE,       /* the chat template refused the conversation (data check --model) */
    HONE_DSK_KIND_COUNT,
} hone_ds_kind;

/* "syntax", "schema", "role-order", "tools", "empty", "duplicate", "near-duplicate", "leak",
 * "near-leak", "too-long", "no-supervised", "template". */
const char *hone_ds_kind_name(hone_ds_kind k);

typedef struct hone_ds_diag {
    hone_ds_severity severity;
    hone_ds_kind kind;
    char *file;
    int line, column;
    char *msg; /* the whole "FILE:LINE:COLUMN: ..." line */
} hone_ds_diag;

typedef struct hone_ds_diags {
    hone_ds_diag *v;
    size_t n, cap;
    size_t n_errors, n_warnings;
} hone_ds_diags;

/* Appends one (formats "FILE:LINE:COLUMN: " + fmt). HONE_ENOMEM only. */
int hone_ds_diag_add(hone_ds_diags *d, hone_ds_severity sev, hone_ds_kind kind, const char *file,
                     int line, int column, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* Sorts by file (in first-seen order), line, column, then insertion order. */
void hone_ds_diags_sort(hone_ds_diags *d);
void hone_ds_diags_free(hone_ds_diags *d);

/* ---- loading ---- */

/* Loads PATH (see "Files"). diags == NULL: the first error stops it (HONE_EFORMAT, err set
 * to the diagnostic line; warnings are dropped). diags != NULL: everything is collected
 * there, bad records are left out, HONE_OK unless the file cannot be read (HONE_EIO). */
int hone_ds_load(hone_ds **out, const char *path, hone_ds_diags *diags, hone_err *err);
/* The same over bytes in memory; name is used in diagnostics and as path. */
int hone_ds_load_mem(hone_ds **out, const char *name, const char *data, size_t len,
                     hone_ds_diags *diags, hone_err *err);
void hone_ds_free(hone_ds *ds);

/* ---- tokenizing ---- */

typedef struct hone_ds_tok_opts {
    const hone_tok *tok;
    const hone_chat_template *tmpl; /* required for messages / prompt-completion records */
    int mask_prompt;                /* see "Tokens and the supervised mask" */
    int add_bos;                    /* -1 / 0 (default): as hone_tok_add_bos; 1 force; -2 never */
} hone_ds_tok_opts;

typedef struct hone_ds_example {
    int32_t *ids;          /* (n) malloc'd */
    unsigned char *mask;   /* (n) malloc'd, 0/1: target t supervised */
    size_t n;
    size_t n_supervised;
    size_t answer_tokens;  /* chat: tokens of the final assistant content (its mask span without
                              the end-of-turn / EOS token); text: n */
    int eos_appended;
} hone_ds_example;

/* Tokenizes r. Errors: HONE_EARG for a chat record without a template or one the template
 * refuses (its message prefixed with "FILE:LINE:1: "). ex is zeroed first; free with
 * hone_ds_example_free. */
int hone_ds_tokenize(const hone_ds_tok_opts *o, const hone_ds *ds, const hone_ds_record *r,
                     hone_ds_example *ex, hone_err *err);
void hone_ds_example_free(hone_ds_example *ex);


/* ---- checking (`hone data check`) ------------------------------------------------------
 * hone_ds_check loads every file in collect mode and adds, in this order per record:
 *   empty        a text / prompt / completion / user or assistant content that is empty or only
 *                whitespace (Unicode White_Space, plus U+200B and U+FEFF): error; an empty or
 *                whitespace-only system message: warning. Column: the "content" (or format) key.
 *   duplicate    the same record (same roles and contents, or the same text; key order and JSON
 *                spelling do not matter) earlier in the same file: warning, naming that line.
 *   leak         the same record in an earlier file (files in the order given; a folder gives
 *                train, valid, test): error.
 *   near-duplicate / near-leak   not an exact duplicate, but an earlier record (same file /
 *                earlier file) is NEAR: its prompt AND its answer are each near the other's.
 *                prompt = every message but the final one, answer = the final message (a text
 *                record: all answer, empty prompt). Two texts are near when equal after
 *                normalising (ASCII letters lowercased, every other ASCII byte that is not a
 *                letter or digit read as a space, runs of spaces collapsed, ends trimmed), or
 *                when the Jaccard similarity of their sets of 5-character shingles (Unicode
 *                characters; a shorter text is one shingle) is >= near_threshold (default 0.8);
 *                the similarity reported is min(prompt's, answer's). So two samples of one
 *                probe with different answers are not near duplicates; with nearly the same
 *                answer they are. Candidates are found with MinHash over the union of both
 *                shingle sets (64 hashes, 16 bands of 4; a pair at similarity 0.8 is missed
 *                with probability < 3e-4) and verified exactly. Also near-leak: the same prompt (every message but the final answer,
 *                normalised) in an earlier file with a different answer. Warnings.
 * Each record gets at most one duplicate-family diagnostic: the first that applies in the
 * order duplicate/leak (earliest match), near (earliest match), same prompt.
 * With a tokenizer (o->tok) every record is tokenized (hone_ds_tokenize with o->mask_prompt):
 *   template       the chat template refuses the conversation: error.
 *   too-long       more tokens than max_seq_length (> 0): warning (training truncates it).
 *   no-supervised  with mask_prompt, no supervised target left within the first
 *                  max_seq_length tokens (the prompt fills the window, or an empty answer
 *                  with no end-of-turn token): warning (training skips it).
 * and per file: min / median / p95 / max tokens (p95: the ceil(0.95 n)-th smallest), the
 * counts above, and the answers at a length cap: with answer_cap > 0, the final answers of
 * at least answer_cap tokens (in the model's tokens); with answer_cap == 0, the cap is
 * taken to be the longest final answer when it is at least 32 tokens and at least 2 answers
 * and at least 5 % of them have exactly that length (a cut-off leaves a pile at the limit),
 * else none. Lengths are in the checked model's tokens: a cap applied by another generator's
 * tokenizer shows only when both tokenizers agree. */

typedef struct hone_ds_check_opts {
    const hone_tok *tok;             /* NULL: no token statistics */
    const hone_chat_template *tmpl;  /* for chat records when tok is set */
    int mask_prompt;
    int64_t max_seq_length;          /* 0: no limit */
    int64_t answer_cap;              /* 0: inferred (see above) */
    double near_threshold;           /* 0: 0.8 */
} hone_ds_check_opts;

typedef struct hone_ds_file_stats {
    char *path;
    hone_ds_format format;
    size_t n_lines, n_records, n_bad;        /* n_bad: records left out for errors */
    size_t n_errors, n_warnings;             /* diagnostics naming this file */
    size_t n_empty, n_duplicate, n_near_duplicate, n_leak, n_near_leak;
    int have_tokens;                         /* the fields below are set */
    size_t tok_min, tok_median, tok_p95, tok_max, tok_total, supervised_total;
    size_t n_too_long, n_no_supervised, n_template;
    int64_t answer_cap;                      /* the cap used (given or inferred); 0 = none */
    size_t n_at_cap;                         /* answers at or above it */
} hone_ds_file_stats;

typedef struct hone_ds_check_report {
    hone_ds_file_stats *files;
    size_t n_files;
    hone_ds_diags diags; /* sorted by file (in the order given), line, column */
} hone_ds_check_report;

/* paths: JSONL files, checked together (duplicates across them are leaks). HONE_EIO when a
 * file cannot be read; data problems are diagnostics, never the return code. */
int hone_ds_check(const char *const *paths, size_t n_paths, const hone_ds_check_opts *o,
                  hone_ds_check_report *rep, hone_err *err);
void hone_ds_check_report_free(hone_ds_check_report *rep);

/* ---- splitting (`hone data split`) -----------------------------------------------------
 * Records are grouped first: records with the same prompt (every message but the final
 * answer, normalised as for near duplicates, with roles) form one group and always land in
 * the same split, so several sampled answers to one probe never straddle train and valid
 * (group_by_prompt = 0: every record is its own group; text records are always alone).
 * Each group gets the rank splitmix64(seed ^ FNV-1a 64 of its key) (ties: first record's
 * index), so a group's place does not depend on the file order or on the other records.
 * With stratify = KEY, the strata are the values of the records' top-level string field KEY
 * (missing or not a string: the stratum ""); a group's stratum is its first record's.
 * Targets: n_valid = valid_count, or round(valid_frac * n) (at least 1 when valid_frac > 0
 * and n >= 2); the same for test. Each stratum s gets a share of each target proportional to
 * its record count (largest remainders, ties to the stratum seen first). Within a stratum,
 * groups are taken in rank order: test first, then valid; a group is added when it brings the
 * split's count closer to its stratum's target (a group larger than what is left is skipped,
 * and the next one tried); then a round-robin pass over the strata (each in rank order) adds
 * groups while that brings the split's total closer to its target (whole groups can leave each
 * stratum short). Everything else is train. assign[i]: 0 train, 1 valid, 2 test. */

typedef struct hone_ds_split_opts {
    double valid_frac, test_frac;  /* used when the matching count is < 0 */
    int64_t valid_count, test_count; /* >= 0: exact targets; -1: use the fraction */
    uint64_t seed;
    const char *stratify;          /* NULL or a top-level key ("category", "lang") */
    int group_by_prompt;           /* 1 (default in the CLI) */
} hone_ds_split_opts;

/* recs: n records (from one or more files). HONE_EARG when the targets exceed n. */
int hone_ds_split(const hone_ds_record *const *recs, size_t n, const hone_ds_split_opts *o,
                  unsigned char *assign, hone_err *err);

/* Writes n lines (lens[i] bytes each, no newline inside; lens NULL: strlen) to path, each
 * followed by "\n", atomically: a temporary file, fsync, rename over path. */
int hone_ds_write_lines(const char *path, const char *const *lines, const size_t *lens, size_t n,
                        hone_err *err);

/* ---- converting (`hone data format`) ---------------------------------------------------
 * hone_ds_convert rewrites one record as format `to`, keeping every other top-level key in
 * its place (the record's format keys are replaced where the first of them stood):
 *   messages -> prompt-completion   [system,] user, assistant -> "system"?, "prompt",
 *                "completion". Refused (HONE_EFORMAT, "FILE:LINE:COLUMN: ...") for other
 *                conversations and for messages with keys besides role and content (they
 *                would be lost).
 *   prompt-completion -> messages   [{"role":"system",...},] user, assistant.
 *   messages / prompt-completion -> text   {"text": the template's rendering} (no generation
 *                prompt; the template's BOS text included). Needs tmpl.
 *   text -> messages / prompt-completion   the text is parsed back with tmpl: hone learns the
 *                template's fixed pieces by rendering marker conversations, splits the text at
 *                them and keeps the result only if rendering it gives the text back byte for
 *                byte (else HONE_EFORMAT: "not a rendering of TEMPLATE"). A template that
 *                folds the system message into the user turn (gemma, mistral) gives it back as
 *                part of the first user message; trimmed whitespace is not restored.
 *   same format  the line unchanged.
 * Round trips are lossless: messages -> prompt-completion -> messages and back give the same
 * JSON (roles spelled "model" come back as "assistant"); text -> messages -> text gives the
 * same text; messages -> text -> messages gives the same messages for templates that keep
 * each message in its own turn and do not trim (chatml-plain, smollm2, chatml), and for the
 * others when the contents have no surrounding whitespace and there is no system message.
 * *line_out: malloc'd JSON (jansson's default separators ", " and ": ", UTF-8 unescaped). */
int hone_ds_convert(const hone_ds *ds, const hone_ds_record *r, hone_ds_format to,
                    const hone_chat_template *tmpl, char **line_out, hone_err *err);

/* ---- building (`hone data build`) ------------------------------------------------------
 * Probes: JSONL, one object a line: "id" and "prompt" (strings, required), optional
 * "category", "lang", "signal", "system" (strings); other keys are errors (a typo must not
 * silently drop a field); ids unique across files; blank lines skipped. Errors are
 * "FILE:LINE:COLUMN: ...".
 * Cells: every probe (files in order, lines in order) x samples s = 0..samples-1. The seed of
 * a cell is hone_ab_sample_seed(seed, probe id, s) (hone/ab.h: the A/B harness's seeds, so a
 * built set and an A/B run with the same seed draw the same answers).
 * The request: hone_sign_apply(sign, probe.system, probe.prompt) -> [system,] user, sent to
 * the generator with temperature, top_p, max_tokens and the cell's seed.
 * The training record (train_signed = 0, "unsigned", the default): [system: probe.system,]
 * user: probe.prompt, assistant: the answer, so the model learns to answer so WITHOUT the
 * kernel; train_signed = 1: the messages as sent (kernel inside) + the answer. The record is
 * {"id", "sample", "category"?, "lang"?, "messages"} converted to `format`
 * (hone_ds_convert; text needs tmpl). Answers cut off by max_tokens (finish_reason
 * "length") are left out unless keep_truncated.
 * Files, all next to OUT (OUT's name without a final ".jsonl" = STEM):
 *   STEM.journal.jsonl   append-only: a header line with the generation settings, then one
 *                        line per generated cell (probe id, sample, seed, a hash of the sent
 *                        messages, answer, finish reason, token counts, latency), each written
 *                        with one write() and fsync'd. A rerun reads it, drops a torn last line
 *                        (kill -9 mid-write), and generates only the cells it lacks (or whose
 *                        sent messages changed), so nothing is generated twice and nothing is
 *                        duplicated. Settings that change answers (generator identity, kernels,
 *                        mode, reminder, sampling, seed, samples) must match the header, else
 *                        HONE_EARG (start over by deleting the journal); output-only settings
 *                        (format, template, train_prompt, keep_truncated) may change freely.
 *   OUT                  the records in cell order, rewritten atomically after every run.
 *   STEM.provenance.jsonl one line per cell in cell order: id, sample, seed, out_line (its
 *                        line in OUT, null when left out), included, finish_reason,
 *                        prompt_tokens, answer_tokens, latency_s, mode, kernels [{path,
 *                        sha256}], kernel_b, reminder, train_prompt, generator {kind,
 *                        identity, model}, sampling {temperature, top_p, max_tokens}, seed_base.
 * Generation errors (after the backend's retries) are counted, not journaled: a rerun
 * retries them. *stop (when set, e.g. by SIGINT) stops handing out cells; what finished is
 * kept and OUT is written from it. */

typedef struct hone_sign hone_sign; /* hone/sign.h */
typedef struct hone_llm hone_llm;   /* hone/llm.h */

typedef struct hone_ds_probe {
    char *id, *prompt, *category, *lang, *signal, *system; /* NULL when absent */
    char *file;
    int line;
} hone_ds_probe;

int hone_ds_probes_load(const char *const *paths, size_t n_paths, hone_ds_probe **out, size_t *n_out,
                        hone_err *err);
void hone_ds_probes_free(hone_ds_probe *p, size_t n);

typedef struct hone_ds_build_opts {
    const hone_ds_probe *probes;
    size_t n_probes;
    const hone_sign *sign;
    const char *const *kernel_paths; /* for provenance: the files the kernel text came from */
    size_t n_kernel_paths;
    const char *kernel_b_path;       /* or NULL */
    hone_llm *llm;
    const char *generator_kind;      /* "local", "ollama", "openai" (provenance) */
    const char *generator_model;     /* path or model name (provenance) */
    uint32_t samples;
    double temperature, top_p;
    int64_t max_tokens;
    uint64_t seed;
    int train_signed;
    hone_ds_format format;
    const hone_chat_template *tmpl;  /* for format text */
    int keep_truncated;
    int concurrency;                 /* worker threads calling the backend; 0 = 1 */
    const char *out_path;
    volatile int *stop;
    /* after each finished cell (from one thread at a time) */
    void (*on_progress)(void *user, uint64_t done, uint64_t total, uint64_t truncated, uint64_t errors);
    void *user;
} hone_ds_build_opts;

typedef struct hone_ds_build_result {
    uint64_t cells;       /* probes x samples */
    uint64_t resumed;     /* found in the journal */
    uint64_t generated;   /* this run */
    uint64_t errors;      /* failed this run (rerun to retry) */
    uint64_t truncated;   /* finish_reason "length", all cells */
    uint64_t written;     /* records in OUT */
    int interrupted;
    char first_error[512];
} hone_ds_build_result;

int hone_ds_build(const hone_ds_build_opts *o, hone_ds_build_result *res, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
