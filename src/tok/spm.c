/* spm.c: SentencePiece-style BPE (tokenizer.ggml.model "llama": Llama 2, Mistral,
 * Phi-3, Gemma), the same algorithm as llama.cpp's llm_tokenizer_spm:
 *
 *   1. split the text (spaces already '▁') into UTF-8 characters (a byte that
 *      does not start a complete sequence is a symbol of its own) kept in a
 *      doubly linked list;
 *   2. push every adjacent pair whose concatenation is a vocabulary piece onto a
 *      max-heap keyed by that piece's score (ties: leftmost pair first);
 *   3. pop the best pair; skip it if either side changed since it was pushed
 *      (size check); else merge and push the two new neighbour pairs;
 *   4. every final symbol is a piece (merges only form pieces) or one character;
 *      a character that is no piece becomes its <0xXX> byte tokens (byte
 *      fallback), or <unk> where the vocabulary has no byte tokens.
 *
 * The text is first cut into chunks that no piece can span (see tok_spm_encode),
 * so the heap stays small; O(n log w) for chunks of w characters. */
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/tok_internal.h"

typedef struct spm_sym {
    int32_t prev, next;
    uint32_t start, n;
} spm_sym;

typedef struct spm_pair {
    float score;
    int32_t left, right;
    uint32_t size;
} spm_pair;

/* a ranks above b: higher score, then smaller left index. */
static inline int pair_above(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm_heap {
    spm_pair *v;
    size_t n, cap;
} spm_heap;

static int heap_push(spm_heap *h, spm_pair p) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        spm_pair *v = realloc(h->v, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_above(&p, &h->v[up])) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
    return HONE_OK;
}

static spm_pair heap_pop(spm_heap *h) {
    spm_pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_above(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_above(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

static int try_pair(const hone_tok *t, const char *text, const spm_sym *sym, int32_t l, int32_t r,
                    spm_heap *h) {
    if (l < 0 || r < 0) return HONE_OK;
    uint32_t size = sym[l].n + sym[r].n;
    int32_t id = tok_lookup(t, text + sym[l].start, size);
    if (id < 0) return HONE_OK;
    return heap_push(h, (spm_pair){t->score[id], l, r, size});
}

/* BPE over one chunk, with caller-owned scratch (sym has room for len entries). */
static int encode_chunk(const hone_tok *t, const char *text, size_t len, spm_sym *sym, spm_heap *h,
                        tok_ids *out) {
    int rc = HONE_OK;
    int32_t ns = 0;
    h->n = 0;
    for (size_t off = 0; off < len;) {
        /* one character; a lead byte whose continuation bytes are missing is a
         * symbol of its own (llama.cpp would swallow the next bytes, e.g. an escaped
         * space, into a byte-fallback run; for valid UTF-8 the two agree) */
        size_t n = tok_utf8_len((unsigned char)text[off]);
        if (n > len - off) n = 1;
        for (size_t k = 1; k < n; k++)
            if (((unsigned char)text[off + k] & 0xC0) != 0x80) n = 1;
        sym[ns] = (spm_sym){ns - 1, off + n == len ? -1 : ns + 1, (uint32_t)off, (uint32_t)n};
        ns++;
        off += n;
    }
    for (int32_t i = 1; i < ns && rc == HONE_OK; i++) rc = try_pair(t, text, sym, i - 1, i, h);
    while (h->n && rc == HONE_OK) {
        spm_pair p = heap_pop(h);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = p.left;
        rc = try_pair(t, text, sym, l->prev, p.left, h);
        if (rc == HONE_OK) rc = try_pair(t, text, sym, p.left, l->next, h);
    }
    for (int32_t i = 0; i != -1 && rc == HONE_OK && ns > 0; i = sym[i].next) {
        int32_t id = tok_lookup(t, text + sym[i].start, sym[i].n);
        if (id >= 0) {
            rc = tok_ids_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].n && rc == HONE_OK; j++) {
            int32_t b = t->byte_tok[(unsigned char)text[sym[i].start + j]];
            if (b < 0) b = t->unk;
            if (b >= 0) rc = tok_ids_push(out, b);
        }
    }
    return rc;
}

static int is_ws(const char *p) { return !memcmp(p, "\xE2\x96\x81", 3); }

int tok_spm_encode(const hone_tok *t, const char *text, size_t len, tok_ids *out) {
    if (len == 0) return HONE_OK;
    if (len > INT32_MAX) return HONE_EARG;
    spm_sym *sym = malloc(len * sizeof *sym);
    spm_heap h = {0};
    if (!sym) return HONE_ENOMEM;
    /* Chunks: cut before each '▁' that follows a non-'▁' character whose last byte
     * x no piece has in front of a '▁' (t->spm_cut_ok[x]). No piece can span such
     * a cut and merges on either side never interact, so encoding the chunks one
     * by one gives the same ids as the whole text, with small heaps. */
    int rc = HONE_OK;
    size_t start = 0;
    for (size_t i = 1; i + 3 <= len && rc == HONE_OK; i++) {
        if (!is_ws(text + i) || (i >= 3 && is_ws(text + i - 3)) ||
            !t->spm_cut_ok[(unsigned char)text[i - 1]])
            continue;
        rc = encode_chunk(t, text + start, i - start, sym, &h, out);
        start = i;
    }
    if (rc == HONE_OK) rc = encode_chunk(t, text + start, len - start, sym, &h, out);
    free(sym);
    free(h.v);
    return rc;
}
