/* test_pool.c: every item runs exactly once, on a valid thread id, for pools of
 * several sizes and item counts (incl. 0, 1, fewer items than threads), many
 * jobs in a row on one pool (generation handoff), and a NULL pool. */
#include "testutil.h"

#include "util/pool.h"

typedef struct { int *hits; int nthreads; int bad_tid; } job;

static void count(void *ctx, int64_t i, int tid) {
    job *j = ctx;
    __atomic_fetch_add(&j->hits[i], 1, __ATOMIC_RELAXED);
    if (tid < 0 || tid >= j->nthreads) __atomic_store_n(&j->bad_tid, 1, __ATOMIC_RELAXED);
}

static void check_pool(hone_pool *p, int64_t n) {
    job j = {calloc(n ? n : 1, sizeof(int)), hone_pool_size(p), 0};
    hone_pool_run(p, n, count, &j);
    for (int64_t i = 0; i < n; i++)
        if (j.hits[i] != 1) fail_msg("item %lld ran %d times (n=%lld)", (long long)i, j.hits[i], (long long)n);
    assert_int_equal(j.bad_tid, 0);
    free(j.hits);
}

static void test_pool_sizes(void **state) {
    hone_err err = {0};
    static const int64_t ns[] = {0, 1, 2, 3, 7, 100, 1001, 65537};
    for (int nt = 1; nt <= 5; nt++) {
        hone_pool *p;
        ASSERT_OK(hone_pool_create(&p, nt, &err), &err);
        assert_int_equal(hone_pool_size(p), nt);
        for (int rep = 0; rep < 50; rep++)
            for (unsigned k = 0; k < sizeof ns / sizeof ns[0]; k++) check_pool(p, ns[k]);
        hone_pool_free(p);
    }
    check_pool(NULL, 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pool_sizes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
