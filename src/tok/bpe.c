/* bpe.c: byte-level BPE (tokenizer.ggml.model "gpt2": GPT-2, Llama 3, Qwen 2,
 * DeepSeek, StarCoder, SmolLM), the same algorithm as llama.cpp's
 * llm_tokenizer_bpe_session:
 *
 *   1. the pre-tokenizer (pretok.c) splits the text into words;
 *   2. each word's bytes are mapped to characters by GPT-2's byte<->unicode table
 *      (printable Latin-1 bytes stand for themselves, the rest for U+0100...);
 *   3. with ignore_merges (llama3 family) a word that is itself a piece is one token;
 *   4. else the word's characters are merged pairwise, lowest merge rank first
 *      (ties: leftmost pair), from a min-heap of adjacent pairs whose rank is
 *      looked up in a hash of tokenizer.ggml.merges ("left right", rank = index,
 *      first occurrence wins);
 *   5. each final symbol is looked up as a piece; one that is none falls back to
 *      its single bytes that are pieces (never happens with a consistent vocab).
 *
 * O(n log n) per word; words are short, so a 100 KB string costs ~linear time. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/tok_internal.h"
#include "util/err.h"

/* ---- GPT-2 byte <-> unicode map ----------------------------------------- */

static int byte_is_self(int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/* byte -> code point; code point (< 324) -> byte + 1 (0: not in the map). */
static uint16_t byte_cp[256];
static uint16_t cp_byte[324];

static void byte_map_fill(void) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int cp = byte_is_self(b) ? b : 256 + n++;
        byte_cp[b] = (uint16_t)cp;
        cp_byte[cp] = (uint16_t)(b + 1);
    }
}

static pthread_once_t byte_map_once = PTHREAD_ONCE_INIT;
static void byte_map_init(void) { pthread_once(&byte_map_once, byte_map_fill); }

size_t tok_bpe_unmap(const char *piece, size_t len, char *out) {
    byte_map_init();
    const unsigned char *s = (const unsigned char *)piece;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = tok_utf8_len(s[i]);
        if (n > len - i) n = len - i;
        uint32_t cp = n == 1 ? s[i] : n == 2 ? ((s[i] & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu) : 0xFFFFFFFFu;
        if (n <= 2 && cp < 324 && cp_byte[cp]) {
            out[o++] = (char)(cp_byte[cp] - 1);
        } else {
            memcpy(out + o, s + i, n); /* not a mapped character: copied as it is */
            o += n;
        }
        i += n;
    }
    return o;
}

/* ---- merge ranks ---------------------------------------------------------- */

typedef struct merge_ent {
    uint64_t off;  /* left+right bytes (no space) in blob */
    uint32_t llen, size;
} merge_ent;

struct tok_merges {
    uint64_t n;     /* merges, in rank order */
    char *blob;
    merge_ent *ent; /* index = rank */
    int32_t *ht;    /* slot -> rank or -1 */
    uint64_t mask;
};

static uint64_t merge_hash(const char *s, uint32_t size, uint32_t llen) {
    return tok_hash(s, size) ^ ((uint64_t)llen * 0x9E3779B97F4A7C15ull);
}

void tok_merges_free(tok_merges *m) {
    if (!m) return;
    free(m->blob);
    free(m->ent);
    free(m->ht);
    free(m);
}

/* Rank of merging s[0,llen) with s[llen,size), or -1. */
static int32_t merge_rank(const tok_merges *m, const char *s, uint32_t llen, uint32_t size) {
    for (uint64_t i = merge_hash(s, size, llen) & m->mask;; i = (i + 1) & m->mask) {
        int32_t r = m->ht[i];
        if (r < 0) return -1;
        const merge_ent *e = &m->ent[r];
        if (e->size == size && e->llen == llen && !memcmp(m->blob + e->off, s, size)) return r;
    }
}

int32_t tok_merges_rank(const tok_merges *m, const char *s, uint32_t llen, uint32_t size) {
    return merge_rank(m, s, llen, size);
}

uint64_t tok_merges_count(const tok_merges *m) { return m ? m->n : 0; }

void tok_merges_at(const tok_merges *m, uint64_t r, hone_str *left, hone_str *right) {
    const merge_ent *e = &m->ent[r];
    *left = (hone_str){m->blob + e->off, e->llen};
    *right = (hone_str){m->blob + e->off + e->llen, e->size - e->llen};
}

/* GGUF "left right": split at the first space after position 0 (as llama.cpp);
 * none: an empty pair that never matches. */
static void gguf_merge_get(void *ctx, size_t r, hone_str *l, hone_str *rt) {
    const void *const *c = ctx;
    hone_str s = hone_gguf_arr_str((const hone_gguf *)c[0], *(const int64_t *)c[1], r);
    const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', s.len - 1) : NULL;
    if (!sp) {
        *l = *rt = (hone_str){s.ptr, 0};
        return;
    }
    *l = (hone_str){s.ptr, (uint64_t)(sp - s.ptr)};
    *rt = (hone_str){sp + 1, s.len - l->len - 1};
}

int tok_merges_load(tok_merges **out, const hone_gguf *g, int64_t key, hone_err *err) {
    uint64_t n = hone_gguf_arr_n(g, key);
    const void *ctx[2] = {g, &key};
    int rc = tok_merges_new(out, n, gguf_merge_get, (void *)ctx);
    if (rc == HONE_EFORMAT)
        return hone_err_set(err, rc, "%s: tokenizer.ggml.merges: %llu entries", hone_gguf_path(g),
                            (unsigned long long)n);
    if (rc) return hone_err_set(err, rc, "%s: merges: out of memory", hone_gguf_path(g));
    return HONE_OK;
}

int tok_merges_new(tok_merges **out, uint64_t n, tok_merge_get get, void *ctx) {
    if (n > INT32_MAX) return HONE_EFORMAT;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        hone_str l, r;
        get(ctx, i, &l, &r);
        total += l.len + r.len;
    }
    tok_merges *m = calloc(1, sizeof *m);
    uint64_t slots = 16;
    while (slots < 2 * n + 16) slots <<= 1;
    if (m) {
        m->blob = malloc(total + 1);
        m->ent = malloc((n + 1) * sizeof *m->ent);
        m->ht = malloc(slots * sizeof *m->ht);
    }
    if (!m || !m->blob || !m->ent || !m->ht) {
        tok_merges_free(m);
        return HONE_ENOMEM;
    }
    memset(m->ht, 0xFF, slots * sizeof *m->ht);
    m->mask = slots - 1;
    m->n = n;
    uint64_t off = 0;
    for (uint64_t r = 0; r < n; r++) {
        hone_str ls, rs;
        get(ctx, r, &ls, &rs);
        uint32_t llen = (uint32_t)ls.len, rlen = (uint32_t)rs.len;
        if (llen) memcpy(m->blob + off, ls.ptr, llen);
        if (rlen) memcpy(m->blob + off + llen, rs.ptr, rlen);
        m->ent[r] = (merge_ent){off, llen, llen + rlen};
        uint64_t i = merge_hash(m->blob + off, llen + rlen, llen) & m->mask;
        int dup = 0;
        for (; m->ht[i] >= 0; i = (i + 1) & m->mask) {
            const merge_ent *e = &m->ent[m->ht[i]];
            if (e->size == llen + rlen && e->llen == llen &&
                !memcmp(m->blob + e->off, m->blob + off, e->size)) {
                dup = 1; /* first occurrence keeps its rank */
                break;
            }
        }
        if (!dup) m->ht[i] = (int32_t)r;
        off += llen + rlen;
    }
    *out = m;
    return HONE_OK;
}

/* ---- one word -------------------------------------------------------------- */

typedef struct bpe_sym {
    int32_t prev, next;
    uint32_t start, n;
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank, left, right;
    uint32_t size;
} bpe_pair;

static inline int pair_above(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

typedef struct bpe_work {
    char *word;  /* byte-mapped word */
    size_t word_cap;
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t nh, heap_cap;
} bpe_work;

static int heap_push(bpe_work *w, bpe_pair p) {
    if (w->nh == w->heap_cap) {
        size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
        bpe_pair *v = realloc(w->heap, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        w->heap = v;
        w->heap_cap = cap;
    }
    size_t i = w->nh++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_above(&p, &w->heap[up])) break;
        w->heap[i] = w->heap[up];
        i = up;
    }
    w->heap[i] = p;
    return HONE_OK;
}

static bpe_pair heap_pop(bpe_work *w) {
    bpe_pair top = w->heap[0], last = w->heap[--w->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->nh) break;
        if (c + 1 < w->nh && pair_above(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_above(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->nh) w->heap[i] = last;
    return top;
}

static int try_pair(const hone_tok *t, bpe_work *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return HONE_OK;
    const bpe_sym *s = w->sym;
    uint32_t size = s[l].n + s[r].n;
    int32_t rank = merge_rank(t->merges, w->word + s[l].start, s[l].n, size);
    if (rank < 0) return HONE_OK;
    return heap_push(w, (bpe_pair){rank, l, r, size});
}

static int emit_symbol(const hone_tok *t, const char *s, size_t n, tok_ids *out) {
    int32_t id = tok_lookup(t, s, n);
    if (id >= 0) return tok_ids_push(out, id);
    for (size_t j = 0; j < n; j++) { /* llama.cpp's fallback: single bytes that are pieces */
        int32_t b = tok_lookup(t, s + j, 1);
        if (b >= 0 && tok_ids_push(out, b)) return HONE_ENOMEM;
    }
    return HONE_OK;
}

static int encode_word(const hone_tok *t, bpe_work *w, const unsigned char *raw, size_t len,
                       tok_ids *out) {
    if (2 * len > w->word_cap) {
        size_t cap = 2 * len + 64;
        char *p = realloc(w->word, cap);
        if (!p) return HONE_ENOMEM;
        w->word = p;
        w->word_cap = cap;
    }
    size_t wl = 0;
    for (size_t i = 0; i < len; i++) { /* byte-map: code points < 0x800 */
        uint16_t cp = byte_cp[raw[i]];
        if (cp < 0x80) {
            w->word[wl++] = (char)cp;
        } else {
            w->word[wl++] = (char)(0xC0 | (cp >> 6));
            w->word[wl++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (t->ignore_merges) {
        int32_t id = tok_lookup(t, w->word, wl);
        if (id >= 0) return tok_ids_push(out, id);
    }
    if (len > w->sym_cap) {
        size_t cap = len + 64;
        bpe_sym *p = realloc(w->sym, cap * sizeof *p);
        if (!p) return HONE_ENOMEM;
        w->sym = p;
        w->sym_cap = cap;
    }
    int32_t ns = 0;
    for (size_t off = 0; off < wl;) {
        size_t n = tok_utf8_len((unsigned char)w->word[off]);
        w->sym[ns] = (bpe_sym){ns - 1, off + n >= wl ? -1 : ns + 1, (uint32_t)off, (uint32_t)n};
        ns++;
        off += n;
    }
    w->nh = 0;
    int rc = HONE_OK;
    for (int32_t i = 1; i < ns && rc == HONE_OK; i++) rc = try_pair(t, w, i - 1, i);
    while (w->nh && rc == HONE_OK) {
        bpe_pair p = heap_pop(w);
        bpe_sym *l = &w->sym[p.left], *r = &w->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = p.left;
        rc = try_pair(t, w, l->prev, p.left);
        if (rc == HONE_OK) rc = try_pair(t, w, p.left, l->next);
    }
    for (int32_t i = 0; i != -1 && rc == HONE_OK && ns > 0; i = w->sym[i].next)
        rc = emit_symbol(t, w->word + w->sym[i].start, w->sym[i].n, out);
    return rc;
}

int tok_bpe_encode(const hone_tok *t, const char *text, size_t len, tok_ids *out) {
    byte_map_init();
    tok_spans words = {0};
    bpe_work w = {0};
    int rc = tok_pretok_split(t->pretok, text, len, &words);
    for (size_t k = 0; k < words.n && rc == HONE_OK; k++)
        rc = encode_word(t, &w, (const unsigned char *)text + words.v[k].off, words.v[k].len, out);
    free(words.v);
    free(w.word);
    free(w.sym);
    free(w.heap);
    return rc;
}
