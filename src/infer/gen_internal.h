/* gen_internal.h: the generation loop over an abstract evaluator, so that the loop
 * (batching, stop strings, end tokens, limits, counts) is tested without a model
 * (tests/unit/test_generate.c) and hone_generate (generate_session.c) binds it to a
 * hone_session. */
#ifndef HONE_INFER_GEN_INTERNAL_H
#define HONE_INFER_GEN_INTERNAL_H

#include "hone.h"

typedef struct hone_gen_eval {
    void *ctx;
    /* Appends tokens[0..n) (n <= n_batch) and writes the last token's logits
     * (vocab floats) to logits. */
    int (*eval)(void *ctx, const int32_t *tokens, uint32_t n, float *logits, hone_err *err);
    /* Keeps the first pos tokens. */
    int (*truncate)(void *ctx, uint32_t pos, hone_err *err);
    /* Appends tokens[0..n) and writes the logits of tokens first..n-1 of this call,
     * (n - first, vocab) row-major; first == n: no logits. */
    int (*eval_rows)(void *ctx, const int32_t *tokens, uint32_t n, uint32_t first, float *logits,
                     hone_err *err);
} hone_gen_eval;

int hone_generate_core(const hone_gen_eval *ev, const hone_tok *tok, hone_sampler *smp,
                       const int32_t *ids, size_t n_ids, size_t n_past, const hone_gen_opts *o,
                       hone_gen_stats *st, hone_err *err);

int hone_perplexity_core(const hone_gen_eval *ev, const int32_t *tokens, size_t n,
                         uint32_t n_vocab, const hone_ppl_opts *o, hone_ppl_result *r,
                         hone_err *err);

#endif
