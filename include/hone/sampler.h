/* hone/sampler.h: public API, token sampling and stop strings (issue 4).
 * Included by hone.h; see its conventions.
 *
 * The sampling chain, applied to one row of logits in this fixed order (llama.cpp's
 * default order, common_params_sampling::samplers, without the samplers hone lacks:
 * DRY, top-n-sigma, typical-p, XTC):
 *
 *   1. penalties over the last `repeat_last_n` accepted tokens (prompt included, as
 *      llama.cpp's CLI accepts the prompt into its sampler). For each token t that
 *      occurs c(t) > 0 times in that window:
 *        repetition (llama.cpp / CTRL): l = l > 0 ? l / repeat_penalty : l * repeat_penalty
 *        then OpenAI's formula:         l -= c(t) * frequency_penalty + presence_penalty
 *      (llama.cpp's penalties sampler, identical semantics and window).
 *   2. temperature <= 0: greedy, the argmax of the penalised logits (ties: lowest id);
 *      nothing below runs and no random number is drawn.
 *   3. top-k (k > 0): keep the k largest logits.
 *   4. top-p (p < 1): sort by probability (softmax of the remaining logits) descending
 *      and keep the shortest prefix whose cumulative probability reaches >= p (the
 *      token that crosses p is kept; at least one token).
 *   5. min-p (> 0): keep tokens whose probability >= min_p * the largest probability.
 *   6. temperature: divide the remaining logits by it.
 *   7. draw: softmax (in double, in a fixed order), one uniform u in [0, 1) from the
 *      sampler's PRNG, the first token (in the candidates' order) whose cumulative
 *      probability exceeds u * total.
 * Steps 3-5 see untempered probabilities, as in llama.cpp. Every ordering is total
 * (logit descending, then id ascending), so the result never depends on the sort.
 *
 * PRNG: xoshiro256** (Blackman & Vigna), state seeded from the 64-bit seed by four
 * calls to splitmix64; uniform doubles are (next() >> 11) * 2^-53. Integer-only and
 * specified bit for bit, so the same seed gives the same draws on every machine; the
 * same logits then give the same tokens (the softmax uses exp() in double; glibc's is
 * correctly rounded in practice, and a draw only changes when u falls within ~1e-15 of
 * a boundary).
 *
 * All buffers (vocab-sized candidate and count arrays, the history ring) are
 * allocated by hone_sampler_init; sampling allocates nothing.
 */
#ifndef HONE_SAMPLER_H
#define HONE_SAMPLER_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_sampler_params {
    float temperature;       /* <= 0: greedy. llama.cpp default 0.8 */
    int32_t top_k;           /* <= 0: off. default 40 */
    float top_p;             /* >= 1: off. default 0.95 */
    float min_p;             /* <= 0: off. default 0.05 */
    float repeat_penalty;    /* 1: off. default 1.0 (as llama.cpp since 2024) */
    int32_t repeat_last_n;   /* window of the penalties; 0: penalties off. default 64 */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    uint64_t seed;           /* PRNG seed */
} hone_sampler_params;

/* llama.cpp's defaults (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * penalties off with a window of 64), seed 0. */
void hone_sampler_params_default(hone_sampler_params *p);

typedef struct hone_sampler hone_sampler;

/* n_vocab: length of a logits row. HONE_EARG for a bad parameter (named in err). */
int hone_sampler_init(hone_sampler **out, const hone_sampler_params *p, uint32_t n_vocab,
                      hone_err *err);
void hone_sampler_free(hone_sampler *s);
/* Forgets the history and re-seeds the PRNG with `seed`. */
void hone_sampler_reset(hone_sampler *s, uint64_t seed);
/* Forgets the history only (the PRNG state carries on). */
void hone_sampler_clear_history(hone_sampler *s);
/* The logits row length it was made for. */
uint32_t hone_sampler_n_vocab(const hone_sampler *s);
/* Adds a token to the penalty history (prompt tokens and each sampled token). */
void hone_sampler_accept(hone_sampler *s, int32_t token);
/* Runs the chain on logits[0..n_vocab) (not modified) and returns the token id.
 * It does not accept the token. */
int32_t hone_sampler_sample(hone_sampler *s, const float *logits);

/* After the last hone_sampler_sample: the candidates that survived steps 1-6, their
 * count, and (probs != NULL) their final probabilities; ids/probs point into the
 * sampler (valid until the next call). Greedy leaves one candidate with probability 1. */
uint32_t hone_sampler_candidates(const hone_sampler *s, const int32_t **ids, const double **probs);

/* The PRNG alone (for tests and other reproducible draws). */
typedef struct hone_rng {
    uint64_t s[4];
} hone_rng;
void hone_rng_seed(hone_rng *r, uint64_t seed);
uint64_t hone_rng_next(hone_rng *r);     /* xoshiro256** */
double hone_rng_uniform(hone_rng *r);    /* [0, 1), 53 bits */

/* ---- stop strings ------------------------------------------------------------
 * Text arrives in pieces (one decoded token at a time); a stop string may span
 * pieces. hone_stopper_push emits every byte that can no longer be the start of a
 * stop string and holds back the longest suffix that is a proper prefix of one, until
 * the next piece resolves it. When a stop string completes, the text before it is
 * emitted, the stop string and everything after it are dropped, and push returns 1.
 * Matching is on bytes; the earliest-starting match wins (then the longest stop
 * string). */

typedef struct hone_stopper hone_stopper;
/* Receives emitted text; return non-zero to abort (push then returns that value). */
typedef int (*hone_text_fn)(void *user, const char *text, size_t len);

/* stops: n NUL-terminated strings, copied; empty strings are ignored. */
int hone_stopper_init(hone_stopper **out, const char *const *stops, size_t n, hone_err *err);
void hone_stopper_free(hone_stopper *s);
/* Clears the held text. */
void hone_stopper_reset(hone_stopper *s);
/* 0: no stop yet; 1: a stop string matched (push no more); 2: the callback asked to
 * abort; HONE_ENOMEM. */
int hone_stopper_push(hone_stopper *s, const char *text, size_t len, hone_text_fn fn, void *user);
/* End of generation without a match: emits the held text. 0, or 2 if the callback aborted. */
int hone_stopper_flush(hone_stopper *s, hone_text_fn fn, void *user);
/* Bytes currently held back. */
size_t hone_stopper_held(const hone_stopper *s);

#ifdef __cplusplus
}
#endif
#endif
