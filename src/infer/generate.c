/* generate.c: the generation loop of hone/generate.h over an abstract evaluator
 * (gen_internal.h): prompt in batches, then sample -> stream text -> evaluate one
 * token, until an end token, a stop string, max_tokens or a full context.
 * Text path per token: hone_tok_stream_push (whole UTF-8 characters) ->
 * hone_stopper_push (holds back a possible stop-string prefix) -> the callback.
 * Allocated once per call: the logits row, the decode buffer and the stopper. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer/gen_internal.h"
#include "util/err.h"

static const char *const FINISH[] = {"none", "stop", "length", "eot", "abort"};

const char *hone_finish_name(hone_finish f) {
    return (unsigned)f < sizeof FINISH / sizeof *FINISH ? FINISH[f] : "none";
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Counts emitted bytes on the way to the user's callback. */
typedef struct relay {
    hone_text_fn fn;
    void *user;
    uint64_t n;
} relay;

static int relay_fn(void *u, const char *t, size_t n) {
    relay *r = u;
    r->n += n;
    return r->fn ? r->fn(r->user, t, n) : 0;
}

static int is_end(const hone_tok *tok, const hone_gen_opts *o, int32_t id) {
    for (size_t i = 0; i < o->n_eot; i++)
        if (o->eot[i] == id) return 1;
    return !o->ignore_eog && hone_tok_is_eog(tok, id);
}

int hone_generate_core(const hone_gen_eval *ev, const hone_tok *tok, hone_sampler *smp,
                       const int32_t *ids, size_t n_ids, size_t n_past, const hone_gen_opts *o,
                       hone_gen_stats *st, hone_err *err) {
    memset(st, 0, sizeof *st);
    uint32_t n_batch = o->n_batch ? o->n_batch : 512;
    if (n_past >= n_ids)
        return hone_err_set(err, HONE_EARG, "generate: %zu prompt tokens with %zu already evaluated: "
                            "at least one new token is needed", n_ids, n_past);
    if (o->n_ctx == 0) return hone_err_set(err, HONE_EARG, "generate: n_ctx is 0");
    if (n_ids >= o->n_ctx)
        return hone_err_set(err, HONE_EARG, "generate: prompt of %zu tokens does not fit the "
                            "context of %u tokens", n_ids, o->n_ctx);
    uint32_t n_vocab = hone_sampler_n_vocab(smp);
    size_t cap = hone_tok_max_bytes(tok) + 8;
    float *logits = malloc((size_t)n_vocab * sizeof *logits); /* (n_vocab) */
    char *piece = malloc(cap);
    hone_stopper *stop = NULL;
    int rc = hone_stopper_init(&stop, o->stop, o->n_stop, err);
    if (rc == HONE_OK && (!logits || !piece)) rc = hone_err_set(err, HONE_ENOMEM, "generate: out of memory");
    if (rc) goto done;

    /* 1. prompt */
    double t0 = now_s();
    if ((rc = ev->truncate(ev->ctx, (uint32_t)n_past, err))) goto done;
    for (size_t at = n_past; at < n_ids;) {
        uint32_t n = (uint32_t)(n_ids - at < n_batch ? n_ids - at : n_batch);
        if ((rc = ev->eval(ev->ctx, ids + at, n, logits, err))) goto done;
        at += n;
    }
    st->n_prompt = (uint32_t)(n_ids - n_past);
    double t1 = now_s();
    st->t_prompt_s = t1 - t0;

    /* 2. penalty history */
    hone_sampler_clear_history(smp);
    for (size_t i = 0; i < n_ids; i++) hone_sampler_accept(smp, ids[i]);

    /* 3. the loop */
    /* The decoder drops the leading space of the first piece of a text (SPM
     * add_space_prefix); generated text continues the prompt, so prime the decoder
     * with the last prompt token and discard that output (as llama.cpp, which prints
     * each piece unstripped). */
    hone_tok_stream ds;
    hone_tok_stream_init(&ds, tok, o->decode_flags);
    {
        size_t np = 0;
        char tail[4];
        if ((rc = hone_tok_stream_push(&ds, ids[n_ids - 1], piece, cap, &np, err))) goto done;
        hone_tok_stream_flush(&ds, tail);
    }
    relay rl = {o->on_text, o->user, 0};
    size_t pos = n_ids; /* tokens in the session */
    hone_finish fin = HONE_FINISH_NONE;
    for (;;) {
        int32_t t = hone_sampler_sample(smp, logits);
        hone_sampler_accept(smp, t);
        if (o->out_ids && st->n_gen < o->out_cap) o->out_ids[st->n_gen] = t;
        st->n_gen++;
        if (is_end(tok, o, t)) {
            fin = HONE_FINISH_EOT;
            break;
        }
        size_t np = 0;
        if ((rc = hone_tok_stream_push(&ds, t, piece, cap, &np, err))) goto done;
        int sr = hone_stopper_push(stop, piece, np, relay_fn, &rl);
        if (sr < 0) {
            rc = hone_err_set(err, HONE_ENOMEM, "generate: out of memory");
            goto done;
        }
        if (sr == 1) {
            fin = HONE_FINISH_STOP;
            break;
        }
        if (sr == 2) {
            fin = HONE_FINISH_ABORT;
            break;
        }
        /* evaluating t needs one more position */
        if ((o->max_tokens && st->n_gen >= o->max_tokens) || pos >= o->n_ctx) {
            fin = HONE_FINISH_LENGTH;
            break;
        }
        if ((rc = ev->eval(ev->ctx, &t, 1, logits, err))) goto done;
        pos++;
    }
    /* 4. held text */
    if (fin != HONE_FINISH_STOP && fin != HONE_FINISH_ABORT) {
        char tail[4];
        size_t nt = hone_tok_stream_flush(&ds, tail);
        int sr = hone_stopper_push(stop, tail, nt, relay_fn, &rl);
        if (sr == 1) fin = HONE_FINISH_STOP;
        else if (sr == 2) fin = HONE_FINISH_ABORT;
        else if (sr < 0) {
            rc = hone_err_set(err, HONE_ENOMEM, "generate: out of memory");
            goto done;
        } else if (hone_stopper_flush(stop, relay_fn, &rl) == 2) fin = HONE_FINISH_ABORT;
    }
    st->finish = fin;
    st->n_bytes = rl.n;
    st->t_gen_s = now_s() - t1;
    if (st->t_prompt_s > 0) st->prompt_tps = st->n_prompt / st->t_prompt_s;
    if (st->t_gen_s > 0) st->gen_tps = st->n_gen / st->t_gen_s;
done:
    hone_stopper_free(stop);
    free(logits);
    free(piece);
    return rc;
}
