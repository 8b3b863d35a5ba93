/* pool.c: the thread pool (see pool.h). One job at a time: the caller
 * publishes (fn, ctx, n), bumps a generation counter and wakes the workers;
 * everyone takes chunks from an atomic cursor; the last finisher signals. */
#define _GNU_SOURCE
#include "util/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/err.h"

struct hone_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* current job */
    hone_pool_fn fn;
    void *ctx;
    int64_t n, chunk;
    int64_t next;    /* atomic: next item to hand out */
    int active;      /* workers still in the current job (under mu) */
    uint64_t gen;    /* job generation (under mu) */
    int quit;
};

static void pool_work(hone_pool *p, int tid) {
    for (;;) {
        int64_t i0 = __atomic_fetch_add(&p->next, p->chunk, __ATOMIC_RELAXED);
        if (i0 >= p->n) break;
        int64_t i1 = i0 + p->chunk < p->n ? i0 + p->chunk : p->n;
        for (int64_t i = i0; i < i1; i++) p->fn(p->ctx, i, tid);
    }
}

typedef struct { hone_pool *p; int tid; } worker_arg;

static void *pool_main(void *arg) {
    worker_arg *a = arg;
    hone_pool *p = a->p;
    int tid = a->tid;
    free(a);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        pool_work(p, tid);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int hone_pool_create(hone_pool **out, int n_threads, hone_err *err) {
    *out = NULL;
    if (n_threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)c : 1;
    }
    hone_pool *p = calloc(1, sizeof *p);
    if (!p) return hone_err_set(err, HONE_ENOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc(n_threads, sizeof *p->threads);
    if (!p->threads) {
        hone_pool_free(p);
        return hone_err_set(err, HONE_ENOMEM, "thread pool: out of memory");
    }
    for (int t = 1; t < n_threads; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a || pthread_create(&p->threads[t], NULL, pool_main, a ? (a->p = p, a->tid = t, a) : NULL)) {
            free(a);
            p->n_threads = t; /* join only those started */
            hone_pool_free(p);
            return hone_err_set(err, HONE_EIO, "thread pool: cannot start thread %d", t);
        }
    }
    *out = p;
    return HONE_OK;
}

void hone_pool_free(hone_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int t = 1; t < p->n_threads; t++)
        if (p->threads && p->threads[t]) pthread_join(p->threads[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int hone_pool_size(const hone_pool *p) { return p ? p->n_threads : 1; }

void hone_pool_run(hone_pool *p, int64_t n, hone_pool_fn fn, void *ctx) {
    if (n <= 0) return;
    if (!p || p->n_threads == 1 || n == 1) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    /* ~4 chunks per thread balances uneven items without much contention */
    int64_t chunk = n / (4 * (int64_t)p->n_threads);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk > 0 ? chunk : 1;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    p->active = p->n_threads - 1;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pool_work(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
