/* perplexity.c: llama.cpp's perplexity over an abstract evaluator (the definition is
 * in hone/generate.h). Each chunk: positions [0, n_ctx/2) are evaluated without
 * logits in batches of n_batch; the scored half in batches of at most ROWS_MAX tokens
 * so the logits buffer stays ROWS_MAX x vocab floats (64 MB for a 262k vocabulary)
 * whatever n_batch is. Batch boundaries do not change the result beyond float
 * rounding of the engine's kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "infer/gen_internal.h"
#include "util/err.h"

enum { ROWS_MAX = 64 };

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* -log softmax(row)[target], in double. */
static double nll_row(const float *row, uint32_t n_vocab, int32_t target) {
    float mx = row[0];
    for (uint32_t i = 1; i < n_vocab; i++)
        if (row[i] > mx) mx = row[i];
    double sum = 0.0;
    for (uint32_t i = 0; i < n_vocab; i++) sum += exp((double)row[i] - mx);
    return -((double)row[target] - mx - log(sum));
}

int hone_perplexity_core(const hone_gen_eval *ev, const int32_t *tokens, size_t n,
                         uint32_t n_vocab, const hone_ppl_opts *o, hone_ppl_result *r,
                         hone_err *err) {
    memset(r, 0, sizeof *r);
    uint32_t n_ctx = o->n_ctx, n_batch = o->n_batch ? o->n_batch : 512;
    if (n_ctx < 4) return hone_err_set(err, HONE_EARG, "perplexity: context %u: expected at least 4", n_ctx);
    if (n < 2 * (size_t)n_ctx)
        return hone_err_set(err, HONE_EARG, "perplexity: the text has %zu tokens; a context of %u "
                            "needs at least %zu (2 chunks)", n, n_ctx, 2 * (size_t)n_ctx);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= n_vocab)
            return hone_err_set(err, HONE_EARG, "perplexity: token %zu is %d, outside [0, %u)", i,
                                tokens[i], n_vocab);
    uint32_t n_chunks = (uint32_t)(n / n_ctx);
    if (o->max_chunks && o->max_chunks < n_chunks) n_chunks = o->max_chunks;
    uint32_t first = n_ctx / 2, rows = n_batch < ROWS_MAX ? n_batch : ROWS_MAX;
    float *logits = malloc((size_t)rows * n_vocab * sizeof *logits); /* (rows, n_vocab) */
    int32_t *buf = malloc((size_t)n_batch * sizeof *buf);
    if (!logits || !buf) {
        free(logits);
        free(buf);
        return hone_err_set(err, HONE_ENOMEM, "perplexity: out of memory");
    }
    double t0 = now_s(), nll = 0.0, nll2 = 0.0;
    uint64_t count = 0;
    int rc = HONE_OK;
    for (uint32_t c = 0; c < n_chunks && !rc; c++) {
        const int32_t *chunk = tokens + (size_t)c * n_ctx;
        if ((rc = ev->truncate(ev->ctx, 0, err))) break;
        for (uint32_t at = 0; at < n_ctx && !rc;) {
            uint32_t lim = at < first ? first : n_ctx;     /* no batch spans the boundary */
            uint32_t step = at < first ? n_batch : rows;
            uint32_t m = lim - at < step ? lim - at : step;
            memcpy(buf, chunk + at, m * sizeof *buf);
            if (at == 0 && o->bos >= 0) buf[0] = o->bos;
            if (at < first) {
                rc = ev->eval_rows(ev->ctx, buf, m, m, NULL, err);
            } else {
                rc = ev->eval_rows(ev->ctx, buf, m, 0, logits, err);
                for (uint32_t k = 0; k < m && !rc; k++) {
                    uint32_t j = at + k; /* position; predicts chunk[j + 1] */
                    if (j + 1 >= n_ctx) break;
                    double v = nll_row(logits + (size_t)k * n_vocab, n_vocab, chunk[j + 1]);
                    nll += v;
                    nll2 += v * v;
                    count++;
                }
            }
            at += m;
        }
        if (!rc && o->on_chunk) o->on_chunk(o->user, c, n_chunks, exp(nll / (double)count));
    }
    free(logits);
    free(buf);
    if (rc) return rc;
    double mean = nll / (double)count, var = nll2 / (double)count - mean * mean;
    r->mean_nll = mean;
    r->ppl = exp(mean);
    r->ppl_sd = var > 0 && count > 1 ? sqrt(var / (double)(count - 1)) * r->ppl : 0.0;
    r->n_chunks = n_chunks;
    r->n_scored = count;
    r->seconds = now_s() - t0;
    return HONE_OK;
}
