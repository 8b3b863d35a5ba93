/* hone/generate.h: public API, the generation loop (issue 4): prompt in batches, then
 * sample -> evaluate one token, text streamed through a callback.
 * Included by hone.h; see its conventions.
 *
 * hone_generate(session, tokenizer, sampler, ids, n_ids, n_past, ...):
 *   1. The session is truncated to n_past (tokens ids[0..n_past) it already holds:
 *      a chat reuses the KV cache of the conversation so far; 0 = fresh) and
 *      ids[n_past..n_ids) are evaluated in batches of at most n_batch, logits for the
 *      last token only.
 *   2. The sampler's penalty history is cleared and all of ids[] accepted into it
 *      (its PRNG state carries on: re-seed with hone_sampler_reset for a fresh draw).
 *   3. Loop: sample a token from the last logits and accept it. An end-of-turn token
 *      (the tokenizer's EOS/EOT/other end-of-generation ids, plus opts->eot) ends with
 *      HONE_FINISH_EOT; its text is not emitted. Otherwise its text goes through the
 *      tokenizer's streaming decoder (whole UTF-8 characters) and the stop-string
 *      holdback (hone_stopper): a completed stop string ends with HONE_FINISH_STOP,
 *      the text before it emitted and the stop string not. max_tokens sampled tokens,
 *      or a full context, end with HONE_FINISH_LENGTH. The sampled token is then
 *      evaluated, and the loop goes on. The last sampled token is never evaluated:
 *      the session then holds ids[] and all sampled tokens but the last.
 *   4. Without a stop, held text (an unfinished character, a partial stop string) is
 *      emitted at the end.
 * Timings: prompt = step 1; generation = from the first sample to the end (sampling,
 * decoding and the n_gen - 1 one-token evaluations). Tokens/s = tokens / seconds of
 * that phase, as llama.cpp's "prompt eval" and "eval" lines (which count n_gen - 1
 * evaluations: hone counts sampled tokens).
 * Allocation: one logits row and the stopper per call, nothing per token.
 */
#ifndef HONE_GENERATE_H
#define HONE_GENERATE_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hone_finish {
    HONE_FINISH_NONE = 0,
    HONE_FINISH_STOP,   /* a stop string */
    HONE_FINISH_LENGTH, /* max_tokens, or the context is full */
    HONE_FINISH_EOT,    /* an end-of-turn / end-of-generation token */
    HONE_FINISH_ABORT,  /* the text callback returned non-zero */
} hone_finish;

/* "stop", "length", "eot", "abort" ("none" for NONE). */
const char *hone_finish_name(hone_finish f);

/* as in hone/sampler.h (repeated: C11 allows identical typedefs) */
typedef int (*hone_text_fn)(void *user, const char *text, size_t len);

typedef struct hone_gen_opts {
    uint32_t n_ctx;           /* the session's context size (its hone_session_opts n_ctx) */
    uint32_t n_batch;         /* tokens per prompt eval call, <= the session's n_batch; 0 = 512 */
    uint32_t max_tokens;      /* sampled tokens at most; 0 = until the context is full */
    const char *const *stop;  /* n_stop stop strings (matched on decoded bytes) */
    size_t n_stop;
    const int32_t *eot;       /* extra end-of-turn ids (n_eot) */
    size_t n_eot;
    int ignore_eog;           /* 1: the tokenizer's EOG ids do not end (only opts->eot do) */
    unsigned decode_flags;    /* hone_tok flags of the streamed text (HONE_TOK_SPECIAL shows
                                 control tokens) */
    hone_text_fn on_text;     /* streamed text; may be NULL */
    void *user;
    int32_t *out_ids;         /* optional: sampled ids (all of them, the end token included), */
    size_t out_cap;           /* at most out_cap stored */
} hone_gen_opts;

typedef struct hone_gen_stats {
    hone_finish finish;
    uint32_t n_prompt;  /* tokens evaluated in step 1 (n_ids - n_past) */
    uint32_t n_gen;     /* tokens sampled, the end token included */
    uint64_t n_bytes;   /* text bytes emitted */
    double t_prompt_s, t_gen_s;
    double prompt_tps, gen_tps; /* 0 when a phase took no time or had no tokens */
} hone_gen_stats;

typedef struct hone_session hone_session;
typedef struct hone_tok hone_tok;
typedef struct hone_sampler hone_sampler;

int hone_generate(hone_session *s, const hone_tok *tok, hone_sampler *smp, const int32_t *ids,
                  size_t n_ids, size_t n_past, const hone_gen_opts *opts, hone_gen_stats *stats,
                  hone_err *err);

/* ---- perplexity ------------------------------------------------------------------
 * llama.cpp's definition (tools/perplexity/perplexity.cpp, perplexity() without
 * --ppl-stride): `tokens` is the whole text tokenized once (BOS first when the model
 * adds one). It is cut into n_chunks = floor(n / n_ctx) chunks of n_ctx tokens
 * (at least 2 chunks' worth of tokens are required); each chunk is evaluated from an
 * empty context, with its first token replaced by `bos` when bos >= 0; only the second
 * half is scored: the logits at positions j = n_ctx/2 .. n_ctx-2 predict token j+1,
 * so each chunk scores n_ctx - n_ctx/2 - 1 tokens. PPL = exp(mean NLL) over all scored
 * tokens; the uncertainty is llama.cpp's: sd = sqrt((mean(NLL^2) - mean(NLL)^2) /
 * (count - 1)) * PPL. Log-softmax in double. */

typedef struct hone_ppl_opts {
    uint32_t n_ctx;      /* chunk length, <= the session's context */
    uint32_t n_batch;    /* tokens per eval call (<= the session's n_batch); 0 = 512 */
    int32_t bos;         /* replaces each chunk's first token; -1 = none */
    uint32_t max_chunks; /* 0 = all */
    /* after each chunk (may be NULL): chunk index, chunk count, PPL so far */
    void (*on_chunk)(void *user, uint32_t i, uint32_t n_chunks, double ppl);
    void *user;
} hone_ppl_opts;

typedef struct hone_ppl_result {
    double ppl, ppl_sd;
    double mean_nll;
    uint32_t n_chunks;
    uint64_t n_scored;
    double seconds;
} hone_ppl_result;

int hone_perplexity(hone_session *s, const int32_t *tokens, size_t n, uint32_t n_vocab,
                    const hone_ppl_opts *o, hone_ppl_result *r, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
