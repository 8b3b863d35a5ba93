/* split.c: deterministic, grouped, stratified train/valid/test assignment (hone_ds_split; the
 * rules are in include/hone/dataset.h). Groups are records sharing a prompt key; each group's
 * rank is a hash of the seed and its key, so the split of a group is a property of the group
 * and the seed, not of the file order. Quotas per stratum by largest remainders.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/ds_internal.h"
#include "hone/dataset.h"
#include "util/err.h"

typedef struct group {
    char *key;       /* prompt key (or the record's raw line when ungrouped) */
    size_t first;    /* index of its first record */
    size_t size;
    size_t stratum;
    uint64_t rank;
    int split;
} group;

static int cmp_group(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->stratum != y->stratum) return x->stratum < y->stratum ? -1 : 1;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The value of top-level string field key in the raw line, malloc'd ("" when absent). */
static char *field(const hone_ds_record *r, const char *key) {
    json_t *o = json_loadb(r->raw, r->raw_len, 0, NULL);
    const char *v = json_string_value(json_object_get(o, key));
    char *s = strdup(v ? v : "");
    json_decref(o);
    return s;
}

static int64_t target(int64_t count, double frac, size_t n) {
    if (count >= 0) return count;
    if (frac <= 0) return 0;
    int64_t t = (int64_t)llround(frac * (double)n);
    return t < 1 && n >= 2 ? 1 : t;
}

/* Largest-remainder apportionment of total over sizes (k strata) into out. */
static void apportion(int64_t total, const size_t *sizes, size_t k, size_t n, int64_t *out) {
    int64_t given = 0;
    double *rem = malloc((k ? k : 1) * sizeof *rem);
    for (size_t s = 0; s < k; s++) {
        double q = n ? (double)total * (double)sizes[s] / (double)n : 0;
        out[s] = (int64_t)floor(q);
        if (rem) rem[s] = q - (double)out[s];
        given += out[s];
    }
    while (given < total && rem) {
        size_t best = 0;
        for (size_t s = 1; s < k; s++)
            if (rem[s] > rem[best]) best = s;
        out[best]++;
        rem[best] = -1;
        given++;
    }
    free(rem);
}

int hone_ds_split(const hone_ds_record *const *recs, size_t n, const hone_ds_split_opts *o, unsigned char *assign,
                  hone_err *err) {
    int64_t tv = target(o->valid_count, o->valid_frac, n), tt = target(o->test_count, o->test_frac, n);
    if (tv + tt > (int64_t)n)
        return hone_err_set(err, HONE_EARG, "data split: %lld valid + %lld test records asked for, %zu available",
                            (long long)tv, (long long)tt, n);
    memset(assign, 0, n);
    if (!n) return HONE_OK;
    group *g = calloc(n, sizeof *g);
    size_t *gi = calloc(n, sizeof *gi); /* record -> group */
    char **strata = calloc(n, sizeof *strata);
    size_t ng = 0, ns = 0, tcap = 16;
    while (tcap < 2 * n) tcap <<= 1;
    size_t *table = calloc(tcap, sizeof *table);
    int rc = HONE_OK;
    if (!g || !gi || !strata || !table) { rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory"); goto out; }
    for (size_t i = 0; i < n && !rc; i++) {
        char *key = o->group_by_prompt ? ds_prompt_key(recs[i]) : NULL;
        if (!key) { /* alone: keyed by its own line and position */
            size_t l = recs[i]->raw_len + 32;
            if ((key = malloc(l))) snprintf(key, l, "%zu\x1f%s", i, recs[i]->raw);
        }
        if (!key) { rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory"); break; }
        uint64_t h = ds_fnv1a(key, strlen(key), DS_FNV_OFFSET);
        size_t slot = (size_t)h & (tcap - 1), j = ng;
        while (table[slot]) { /* open addressing over group index + 1 */
            if (!strcmp(g[table[slot] - 1].key, key)) { j = table[slot] - 1; break; }
            slot = (slot + 1) & (tcap - 1);
        }
        if (j < ng) {
            free(key);
            g[j].size++;
        } else {
            g[ng] = (group){.key = key, .first = i, .size = 1};
            g[ng].rank = ds_splitmix64(o->seed ^ ds_fnv1a(key, strlen(key), DS_FNV_OFFSET));
            if (o->stratify) {
                char *v = field(recs[i], o->stratify);
                if (!v) { rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory"); break; }
                size_t s = 0;
                for (; s < ns; s++)
                    if (!strcmp(strata[s], v)) break;
                if (s == ns) strata[ns++] = v;
                else free(v);
                g[ng].stratum = s;
            }
            j = ng++;
            table[slot] = ng;
        }
        gi[i] = j;
    }
    if (rc) goto out;
    if (!ns) ns = 1;
    size_t *ssize = calloc(ns, sizeof *ssize);
    int64_t *qv = calloc(ns, sizeof *qv), *qt = calloc(ns, sizeof *qt);
    if (!ssize || !qv || !qt) {
        free(ssize); free(qv); free(qt);
        rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory");
        goto out;
    }
    for (size_t j = 0; j < ng; j++) ssize[g[j].stratum] += g[j].size;
    apportion(tv, ssize, ns, n, qv);
    apportion(tt, ssize, ns, n, qt);
    /* rank order within each stratum; assignments are recorded per group, then mapped back */
    size_t *order = malloc(ng * sizeof *order);
    group *sorted = malloc(ng * sizeof *sorted);
    if (!order || !sorted) {
        free(order); free(sorted); free(ssize); free(qv); free(qt);
        rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory");
        goto out;
    }
    memcpy(sorted, g, ng * sizeof *g);
    for (size_t j = 0; j < ng; j++) sorted[j].split = (int)j; /* remember the original index */
    qsort(sorted, ng, sizeof *sorted, cmp_group);
    for (int pass = 2; pass >= 1; pass--) {
        int64_t *q = pass == 2 ? qt : qv;
        int64_t *have = calloc(ns, sizeof *have);
        if (!have) { rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory"); break; }
        for (size_t k = 0; k < ng; k++) {
            group *x = &g[sorted[k].split];
            if (x->split) continue;
            int64_t h = have[x->stratum], t = q[x->stratum], sz = (int64_t)x->size;
            if (llabs(h + sz - t) < llabs(h - t)) {
                x->split = pass;
                have[x->stratum] += sz;
            }
        }
        /* top-up across strata: per-stratum rounding with whole groups can leave the total off */
        int64_t tot = 0, want = pass == 2 ? tt : tv;
        for (size_t st = 0; st < ns; st++) tot += have[st];
        /* round robin over the strata, each in rank order (sorted is by stratum, then rank) */
        size_t *pos = calloc(ns, sizeof *pos), *end = calloc(ns, sizeof *end);
        if (!pos || !end) {
            free(pos); free(end); free(have);
            rc = hone_err_set(err, HONE_ENOMEM, "data split: out of memory");
            break;
        }
        for (size_t k = 0; k < ng; k++) end[sorted[k].stratum] = k + 1; /* stratum st: [pos, end) */
        for (size_t st = 1; st < ns; st++) pos[st] = end[st - 1];
        for (int moved = 1; moved && tot != want;) {
            moved = 0;
            for (size_t st = 0; st < ns && tot != want; st++) {
                while (pos[st] < end[st] && g[sorted[pos[st]].split].split) pos[st]++;
                if (pos[st] >= end[st]) continue;
                group *x = &g[sorted[pos[st]++].split];
                moved = 1;
                int64_t sz = (int64_t)x->size;
                if (llabs(tot + sz - want) < llabs(tot - want)) {
                    x->split = pass;
                    tot += sz;
                }
            }
        }
        free(end);
        free(pos);
        free(have);
    }
    for (size_t i = 0; i < n; i++) assign[i] = (unsigned char)g[gi[i]].split;
    free(order); free(sorted); free(ssize); free(qv); free(qt);
out:
    for (size_t j = 0; j < ng; j++) free(g[j].key);
    for (size_t s = 0; strata && s < n; s++) free(strata[s]);
    free(g);
    free(gi);
    free(strata);
    free(table);
    return rc;
}
