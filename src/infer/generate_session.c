/* generate_session.c: hone_generate, the generation loop (generate.c) bound to an
 * engine session (hone/engine.h). Kept apart from the loop so that the loop's unit
 * test links without the engine. */
#include "infer/gen_internal.h"
#include "util/err.h"

static int sess_eval(void *ctx, const int32_t *tokens, uint32_t n, float *logits, hone_err *err) {
    hone_eval_out out = {.logits = logits};
    return hone_session_eval(ctx, tokens, n, &out, err);
}

static int sess_truncate(void *ctx, uint32_t pos, hone_err *err) {
    return hone_session_truncate(ctx, pos, err);
}

static int sess_eval_rows(void *ctx, const int32_t *tokens, uint32_t n, uint32_t first,
                          float *logits, hone_err *err) {
    uint32_t rows[64]; /* perplexity.c asks for at most 64 rows */
    if (n - first > 64) return hone_err_set(err, HONE_EARG, "eval_rows: %u rows, at most 64", n - first);
    for (uint32_t i = first; i < n; i++) rows[i - first] = i;
    hone_eval_out out = {.logits = first < n ? logits : NULL, .rows = rows, .n_rows = n - first};
    return hone_session_eval(ctx, tokens, n, &out, err);
}

int hone_perplexity(hone_session *s, const int32_t *tokens, size_t n, uint32_t n_vocab,
                    const hone_ppl_opts *o, hone_ppl_result *r, hone_err *err) {
    hone_gen_eval ev = {s, sess_eval, sess_truncate, sess_eval_rows};
    return hone_perplexity_core(&ev, tokens, n, n_vocab, o, r, err);
}

int hone_generate(hone_session *s, const hone_tok *tok, hone_sampler *smp, const int32_t *ids,
                  size_t n_ids, size_t n_past, const hone_gen_opts *opts, hone_gen_stats *stats,
                  hone_err *err) {
    hone_gen_eval ev = {s, sess_eval, sess_truncate, sess_eval_rows};
    return hone_generate_core(&ev, tok, smp, ids, n_ids, n_past, opts, stats, err);
}
