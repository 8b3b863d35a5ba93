/* pool.c: the thread pool (see pool.h). One job at a time: the caller
 * publishes (fn, ctx, n) and bumps a generation counter; everyone takes chunks
 * from an atomic cursor; the last worker to finish drops `active` to 0.
 *
 * Handoff cost matters at decode: a token runs ~8 jobs per layer of a few
 * microseconds each, so a futex wake + wait per job (tens of microseconds on a
 * VM) would cost more than the work. Both sides therefore spin first: a worker
 * polls the generation for up to POOL_SPIN_NS after its last job before it
 * sleeps on `wake`, and the caller polls `active` for the same time before it
 * sleeps on `done`; after the first few microseconds the polling yields the
 * core (sched_yield) on each round, so when other processes crowd the machine
 * and both our threads share one core, the one we wait for gets to run. Sleepers announce themselves (n_sleep, caller_waiting) so
 * the other side takes the mutex and signals only when someone sleeps. The
 * announce-then-recheck pairs are sequentially consistent (Dekker): either the
 * sleeper sees the new state on its recheck under the mutex, or the signaller
 * sees the sleeper and signals under the same mutex. Between token steps the
 * workers go to sleep after the spin, so an idle pool costs no CPU.
 */
#define _GNU_SOURCE
#include "util/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "util/err.h"

/* How long a thread polls before it sleeps (a few decode jobs' worth), and how
 * long of that it only pauses before it starts to yield the core. */
#define POOL_SPIN_NS 200000
#define POOL_PAUSE_NS 4000

struct hone_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* current job */
    hone_pool_fn fn;
    void *ctx;
    int64_t n, chunk;
    int64_t next;       /* atomic: next item to hand out */
    int active;         /* atomic: workers still in the current job */
    uint64_t gen;       /* atomic: job generation */
    int n_sleep;        /* atomic: workers asleep (or about to be) on wake */
    int caller_waiting; /* atomic: the caller sleeps (or is about to) on done */
    int quit;           /* atomic, written under mu */
};

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void pool_work(hone_pool *p, int tid) {
    for (;;) {
        int64_t i0 = __atomic_fetch_add(&p->next, p->chunk, __ATOMIC_RELAXED);
        if (i0 >= p->n) break;
        int64_t i1 = i0 + p->chunk < p->n ? i0 + p->chunk : p->n;
        for (int64_t i = i0; i < i1; i++) p->fn(p->ctx, i, tid);
    }
}

/* One step of a wait loop that started at *t0 (0 = not yet): pause while the
 * wait is short, then yield the core (a thread we wait for may be queued on
 * this very core when other processes hold the others: spinning there would
 * cost it a whole time slice per job). 0 once POOL_SPIN_NS have passed. */
static int spin_step(unsigned k, uint64_t *t0) {
    cpu_relax();
    if ((k & 31) != 31) return 1;
    uint64_t t = now_ns();
    if (!*t0) *t0 = t;
    if (t - *t0 > POOL_SPIN_NS) return 0;
    if (t - *t0 > POOL_PAUSE_NS) sched_yield();
    return 1;
}

/* Polls until *v != old or about POOL_SPIN_NS pass; returns the last value. */
static uint64_t spin_while_eq(const uint64_t *v, uint64_t old) {
    uint64_t t0 = 0;
    for (unsigned k = 0;; k++) {
        uint64_t x = __atomic_load_n(v, __ATOMIC_ACQUIRE);
        if (x != old || !spin_step(k, &t0)) return x;
    }
}

/* Polls until *v == 0 or about POOL_SPIN_NS pass; returns the last value. */
static int spin_while_active(const int *v) {
    uint64_t t0 = 0;
    for (unsigned k = 0;; k++) {
        int x = __atomic_load_n(v, __ATOMIC_ACQUIRE);
        if (x == 0 || !spin_step(k, &t0)) return x;
    }
}

typedef struct { hone_pool *p; int tid; } worker_arg;

static void *pool_main(void *arg) {
    worker_arg *a = arg;
    hone_pool *p = a->p;
    int tid = a->tid;
    free(a);
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = spin_while_eq(&p->gen, seen);
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            __atomic_fetch_add(&p->n_sleep, 1, __ATOMIC_SEQ_CST);
            while (!__atomic_load_n(&p->quit, __ATOMIC_SEQ_CST) && (g = __atomic_load_n(&p->gen, __ATOMIC_SEQ_CST)) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            __atomic_fetch_sub(&p->n_sleep, 1, __ATOMIC_SEQ_CST);
            int quit = __atomic_load_n(&p->quit, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&p->mu);
            if (quit) break;
        }
        seen = g;
        if (__atomic_load_n(&p->quit, __ATOMIC_SEQ_CST)) break;
        pool_work(p, tid);
        if (__atomic_sub_fetch(&p->active, 1, __ATOMIC_SEQ_CST) == 0 &&
            __atomic_load_n(&p->caller_waiting, __ATOMIC_SEQ_CST)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
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
    __atomic_store_n(&p->quit, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&p->gen, 1, __ATOMIC_SEQ_CST); /* spinning workers see it and quit */
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
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk > 0 ? chunk : 1;
    __atomic_store_n(&p->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&p->active, p->n_threads - 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&p->gen, 1, __ATOMIC_SEQ_CST); /* publishes the job (release) */
    if (__atomic_load_n(&p->n_sleep, __ATOMIC_SEQ_CST) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    pool_work(p, 0);
    if (spin_while_active(&p->active)) {
        pthread_mutex_lock(&p->mu);
        __atomic_store_n(&p->caller_waiting, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&p->active, __ATOMIC_SEQ_CST) > 0) pthread_cond_wait(&p->done, &p->mu);
        __atomic_store_n(&p->caller_waiting, 0, __ATOMIC_SEQ_CST);
        pthread_mutex_unlock(&p->mu);
    }
}
