/* stop.c: stop strings matched on streamed text (hone/sampler.h, hone_stopper).
 *
 * The stopper keeps a buffer `held` of text not yet emitted. Each push appends the
 * new piece and searches the buffer for every stop string (earliest start wins, then
 * the longest). Without a match, it emits all but the longest suffix that is a
 * proper prefix of some stop string (such a suffix could still grow into a match);
 * that suffix is shorter than the longest stop string, so the buffer never holds
 * more than max_stop - 1 bytes between pushes. The buffer grows only when a piece is
 * longer than any seen before (decoded tokens are short: after the first few tokens
 * nothing is allocated).
 */
#include <stdlib.h>
#include <string.h>

#include "hone/sampler.h"
#include "util/err.h"

struct hone_stopper {
    char **stops;   /* (n) NUL-terminated copies, non-empty */
    size_t *len;    /* (n) */
    size_t n;
    char *held;     /* (cap) pending text */
    size_t n_held, cap;
};

int hone_stopper_init(hone_stopper **out, const char *const *stops, size_t n, hone_err *err) {
    *out = NULL;
    hone_stopper *s = calloc(1, sizeof *s);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "stopper: out of memory");
    s->stops = calloc(n ? n : 1, sizeof *s->stops);
    s->len = calloc(n ? n : 1, sizeof *s->len);
    size_t max = 0;
    if (!s->stops || !s->len) goto oom;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(stops[i]);
        if (l == 0) continue;
        if (!(s->stops[s->n] = malloc(l + 1))) goto oom;
        memcpy(s->stops[s->n], stops[i], l + 1);
        s->len[s->n++] = l;
        if (l > max) max = l;
    }
    s->cap = max + 256;
    if (!(s->held = malloc(s->cap))) goto oom;
    *out = s;
    return HONE_OK;
oom:
    hone_stopper_free(s);
    return hone_err_set(err, HONE_ENOMEM, "stopper: out of memory");
}

void hone_stopper_free(hone_stopper *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) free(s->stops[i]);
    free(s->stops);
    free(s->len);
    free(s->held);
    free(s);
}

void hone_stopper_reset(hone_stopper *s) { s->n_held = 0; }

size_t hone_stopper_held(const hone_stopper *s) { return s->n_held; }

static int emit(hone_text_fn fn, void *user, const char *t, size_t n) {
    if (n == 0 || !fn) return 0;
    return fn(user, t, n) ? 2 : 0;
}

int hone_stopper_push(hone_stopper *s, const char *text, size_t len, hone_text_fn fn, void *user) {
    if (s->n_held + len > s->cap) {
        size_t cap = (s->n_held + len) * 2;
        char *h = realloc(s->held, cap);
        if (!h) return HONE_ENOMEM;
        s->held = h;
        s->cap = cap;
    }
    if (len) memcpy(s->held + s->n_held, text, len);
    s->n_held += len;
    const char *h = s->held;
    size_t nh = s->n_held;

    /* earliest complete match (then the longest stop string at that start) */
    size_t best_at = SIZE_MAX, best_len = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = s->len[i];
        if (l > nh) continue;
        for (size_t at = 0; at + l <= nh && at <= best_at; at++) {
            if (h[at] == s->stops[i][0] && !memcmp(h + at, s->stops[i], l)) {
                if (at < best_at || l > best_len) {
                    best_at = at;
                    best_len = l;
                }
                break;
            }
        }
    }
    if (best_at != SIZE_MAX) {
        int rc = emit(fn, user, h, best_at);
        s->n_held = 0;
        return rc ? rc : 1;
    }
    /* longest suffix of held that is a proper prefix of a stop string */
    size_t keep = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = s->len[i];
        size_t m = l - 1 < nh ? l - 1 : nh; /* candidate suffix lengths m..keep+1 */
        for (; m > keep; m--)
            if (!memcmp(h + nh - m, s->stops[i], m)) {
                keep = m;
                break;
            }
    }
    int rc = emit(fn, user, h, nh - keep);
    memmove(s->held, h + nh - keep, keep);
    s->n_held = keep;
    return rc;
}

int hone_stopper_flush(hone_stopper *s, hone_text_fn fn, void *user) {
    int rc = emit(fn, user, s->held, s->n_held);
    s->n_held = 0;
    return rc;
}
