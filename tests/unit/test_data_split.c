/* test_data_split.c: hone_ds_split. Checked against properties computed here by hand:
 *   - deterministic: the same records and seed give the same assignment; another seed another;
 *   - order-free: the records shuffled get the same split per record;
 *   - grouped: records with the same prompt (2 samples per probe) are never split apart;
 *     without grouping they are (for this seed);
 *   - targets: --valid-count 20 of 200 gives exactly 20; 0.1 gives 20; at least 1 of 3;
 *     targets over n are HONE_EARG;
 *   - stratified: 4 categories of 50 records, valid 20 + test 20: every category gets 4..6 of
 *     each (its share, 5, within one group of 2 after whole-group rounding).
 * Exact integer comparisons. */
#include "testutil.h"

/* 100 probes x 2 samples, categories cycling over 4, the id p<i>. */
static char *make_data(int shuffle_seed, size_t *len) {
    const char *cats[] = {"ethics", "code", "math", "chat"};
    char **lines = calloc(200, sizeof *lines);
    for (int i = 0; i < 200; i++) {
        lines[i] = malloc(256);
        snprintf(lines[i], 256,
                 "{\"id\": \"p%d\", \"category\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"Question "
                 "%d?\"}, {\"role\": \"assistant\", \"content\": \"Answer %d.%d\"}]}",
                 i / 2, cats[(i / 2) % 4], i / 2, i / 2, i % 2);
    }
    if (shuffle_seed) {
        srand((unsigned)shuffle_seed);
        for (int i = 199; i > 0; i--) {
            int j = rand() % (i + 1);
            char *t = lines[i]; lines[i] = lines[j]; lines[j] = t;
        }
    }
    char *buf = malloc(200 * 256);
    size_t n = 0;
    for (int i = 0; i < 200; i++) {
        n += (size_t)sprintf(buf + n, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    *len = n;
    return buf;
}

typedef struct run {
    hone_ds *ds;
    const hone_ds_record **recs;
    unsigned char *assign;
} run;

static run split(int shuffle_seed, hone_ds_split_opts o) {
    size_t len;
    char *buf = make_data(shuffle_seed, &len);
    run r;
    hone_err err = {0};
    ASSERT_OK(hone_ds_load_mem(&r.ds, "mem.jsonl", buf, len, NULL, &err), &err);
    free(buf);
    r.recs = calloc(r.ds->n, sizeof *r.recs);
    for (size_t i = 0; i < r.ds->n; i++) r.recs[i] = &r.ds->recs[i];
    r.assign = calloc(r.ds->n, 1);
    ASSERT_OK(hone_ds_split(r.recs, r.ds->n, &o, r.assign, &err), &err);
    return r;
}

static void run_free(run *r) {
    free(r->recs);
    free(r->assign);
    hone_ds_free(r->ds);
}

/* The split of the record with this raw line. */
static int split_of(const run *r, const char *raw) {
    for (size_t i = 0; i < r->ds->n; i++)
        if (!strcmp(r->recs[i]->raw, raw)) return r->assign[i];
    fail_msg("record not found");
    return -1;
}

static size_t count(const run *r, int s) {
    size_t c = 0;
    for (size_t i = 0; i < r->ds->n; i++) c += r->assign[i] == s;
    return c;
}

static void test_deterministic(void **state) {
    hone_ds_split_opts o = {.valid_count = 20, .test_count = -1, .seed = 7, .group_by_prompt = 1};
    run a = split(0, o), b = split(0, o), c = split(12345, o);
    assert_memory_equal(a.assign, b.assign, 200);
    for (size_t i = 0; i < 200; i++) assert_int_equal(split_of(&c, a.recs[i]->raw), a.assign[i]);
    o.seed = 8;
    run d = split(0, o);
    assert_true(memcmp(a.assign, d.assign, 200) != 0);
    assert_int_equal(count(&a, 1), 20);
    assert_int_equal(count(&a, 2), 0);
    /* grouped: both samples of a probe together */
    for (size_t i = 0; i < 200; i += 2) assert_int_equal(a.assign[i], a.assign[i + 1]);
    run_free(&a); run_free(&b); run_free(&c); run_free(&d);
    /* ungrouped: some probe's samples are split apart */
    o.seed = 7;
    o.group_by_prompt = 0;
    run e = split(0, o);
    int apart = 0;
    for (size_t i = 0; i < 200; i += 2) apart += e.assign[i] != e.assign[i + 1];
    assert_true(apart > 0);
    assert_int_equal(count(&e, 1), 20);
    run_free(&e);
}

static void test_stratified(void **state) {
    hone_ds_split_opts o = {.valid_count = -1, .valid_frac = 0.1, .test_count = 20, .seed = 3,
                            .stratify = "category", .group_by_prompt = 1};
    run a = split(0, o);
    assert_int_equal(count(&a, 1), 20);
    assert_int_equal(count(&a, 2), 20);
    const char *cats[] = {"\"ethics\"", "\"code\"", "\"math\"", "\"chat\""};
    for (int c = 0; c < 4; c++)
        for (int s = 1; s <= 2; s++) {
            int k = 0;
            for (size_t i = 0; i < 200; i++) k += a.assign[i] == s && strstr(a.recs[i]->raw, cats[c]);
            if (k < 4 || k > 6) fail_msg("category %s split %d: %d records (want 4..6)", cats[c], s, k);
        }
    run_free(&a);
}

static void test_targets(void **state) {
    hone_err err = {0};
    hone_ds *ds;
    const char *s = "{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"text\": \"c\"}\n";
    ASSERT_OK(hone_ds_load_mem(&ds, "m", s, strlen(s), NULL, &err), &err);
    const hone_ds_record *recs[3] = {&ds->recs[0], &ds->recs[1], &ds->recs[2]};
    unsigned char as[3];
    hone_ds_split_opts o = {.valid_frac = 0.1, .valid_count = -1, .test_count = -1, .group_by_prompt = 1};
    ASSERT_OK(hone_ds_split(recs, 3, &o, as, &err), &err);
    assert_int_equal((as[0] == 1) + (as[1] == 1) + (as[2] == 1), 1); /* round(0.3) = 0, raised to 1 */
    o.valid_count = 2;
    o.test_count = 2;
    assert_int_equal(hone_ds_split(recs, 3, &o, as, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "2 valid + 2 test records asked for, 3 available"));
    hone_ds_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_stratified),
        cmocka_unit_test(test_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
