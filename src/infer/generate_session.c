/* generate_session.c: hone_generate, the generation loop (generate.c) bound to an
 * engine session (hone/engine.h). Kept apart from the loop so that the loop's unit
 * test links without the engine. */
#include "infer/gen_internal.h"

static int sess_eval(void *ctx, const int32_t *tokens, uint32_t n, float *logits, hone_err *err) {
    hone_eval_out out = {.logits = logits};
    return hone_session_eval(ctx, tokens, n, &out, err);
}

static int sess_truncate(void *ctx, uint32_t pos, hone_err *err) {
    return hone_session_truncate(ctx, pos, err);
}

int hone_generate(hone_session *s, const hone_tok *tok, hone_sampler *smp, const int32_t *ids,
                  size_t n_ids, size_t n_past, const hone_gen_opts *opts, hone_gen_stats *stats,
                  hone_err *err) {
    hone_gen_eval ev = {s, sess_eval, sess_truncate};
    return hone_generate_core(&ev, tok, smp, ids, n_ids, n_past, opts, stats, err);
}
