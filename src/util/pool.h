/* pool.h: a fixed thread pool for data-parallel loops.
 *
 * hone_pool_run(pool, n, fn, ctx) calls fn(ctx, i, tid) for every i in [0, n),
 * spread over the pool's threads (the calling thread works too), and returns
 * when all are done. Work is handed out in contiguous chunks through an atomic
 * counter, so uneven items balance. A NULL pool runs everything on the caller
 * (tid 0). Threads spin briefly, then sleep on a condition variable, so a pool
 * between token steps costs no CPU. Not reentrant: fn must not call
 * hone_pool_run on the same pool.
 */
#ifndef HONE_UTIL_POOL_H
#define HONE_UTIL_POOL_H

#include <stdint.h>

#include "hone.h"

typedef struct hone_pool hone_pool;

/* n_threads <= 0: one per online CPU. */
int hone_pool_create(hone_pool **out, int n_threads, hone_err *err);
void hone_pool_free(hone_pool *p);
int hone_pool_size(const hone_pool *p); /* 1 for NULL */

typedef void (*hone_pool_fn)(void *ctx, int64_t i, int tid);
void hone_pool_run(hone_pool *p, int64_t n, hone_pool_fn fn, void *ctx);

#endif
