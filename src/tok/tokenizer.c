/* tokenizer.c: the vocabulary (loaded from tokenizer.ggml.* GGUF keys), the
 * special-token split, and the encode/decode drivers over spm.c and bpe.c.
 *
 * Encode, as llama.cpp's llama_vocab::tokenize (the reference of the tests):
 *   1. split special-token text out of the input: every control, user-defined
 *      and unknown token, longest text first, each splitting all remaining raw
 *      fragments at its leftmost non-overlapping occurrences; control and unknown
 *      tokens only with HONE_TOK_SPECIAL, user-defined tokens always;
 *   2. SPM: each raw fragment gets a ' ' prefix when add_space_prefix is on and it
 *      starts the text or follows a special token, spaces become '▁', then spm.c;
 *      BPE: each raw fragment goes through bpe.c (pre-tokenizer + merges).
 * A trie of the special texts finds, in one pass, which of them occur at all;
 * only those split, so the thousands of control tokens of a Gemma vocabulary
 * (<unused0>..<unused6241>) cost nothing when absent.
 *
 * Decode concatenates the per-id byte strings computed once at load (see
 * include/hone/tokenizer.h for the rules and the leading-space convention). */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/tok_internal.h"
#include "util/err.h"

/* ---- vectors -------------------------------------------------------------- */

int tok_ids_push(tok_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        int32_t *v = realloc(a->v, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = id;
    return HONE_OK;
}

int tok_spans_push(tok_spans *a, size_t off, size_t len) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        tok_span *v = realloc(a->v, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (tok_span){off, len};
    return HONE_OK;
}

/* ---- lookup ---------------------------------------------------------------- */

int32_t tok_lookup(const hone_tok *t, const char *s, size_t n) {
    for (uint64_t i = tok_hash(s, n) & t->ht_mask;; i = (i + 1) & t->ht_mask) {
        int32_t id = t->ht[i];
        if (id < 0) return -1;
        if (t->plen[id] == n && !memcmp(t->blob + t->poff[id], s, n)) return id;
    }
}

int32_t hone_tok_find(const hone_tok *t, const char *piece, size_t len) {
    return tok_lookup(t, piece, len);
}

/* ---- accessors --------------------------------------------------------------- */

hone_tok_kind hone_tok_get_kind(const hone_tok *t) { return t->kind; }
const char *hone_tok_pre_name(const hone_tok *t) { return t->pre; }
int32_t hone_tok_n_vocab(const hone_tok *t) { return t->n; }
int32_t hone_tok_bos(const hone_tok *t) { return t->bos; }
int32_t hone_tok_eos(const hone_tok *t) { return t->eos; }
int32_t hone_tok_eot(const hone_tok *t) { return t->eot; }
int32_t hone_tok_unk(const hone_tok *t) { return t->unk; }
int32_t hone_tok_pad(const hone_tok *t) { return t->pad; }
int hone_tok_add_bos(const hone_tok *t) { return t->add_bos; }
int hone_tok_add_space_prefix(const hone_tok *t) { return t->add_space_prefix; }
size_t hone_tok_max_bytes(const hone_tok *t) { return t->max_bytes; }
const char *hone_tok_chat_template(const hone_tok *t) { return t->chat_template; }

int hone_tok_is_eog(const hone_tok *t, int32_t id) {
    if (id < 0) return 0;
    for (int i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}

hone_str hone_tok_piece(const hone_tok *t, int32_t id) {
    if (id < 0 || id >= t->n) return (hone_str){NULL, 0};
    return (hone_str){t->blob + t->poff[id], t->plen[id]};
}

hone_tok_type hone_tok_token_type(const hone_tok *t, int32_t id) {
    return id < 0 || id >= t->n ? 0 : (hone_tok_type)t->type[id];
}

float hone_tok_score(const hone_tok *t, int32_t id) {
    return id < 0 || id >= t->n ? 0.0f : t->score[id];
}

hone_str hone_tok_id_bytes(const hone_tok *t, int32_t id) {
    if (id < 0 || id >= t->n) return (hone_str){NULL, 0};
    return (hone_str){t->dblob + t->doff[id], t->dlen[id]};
}

/* ---- loading ------------------------------------------------------------------- */

void hone_tok_free(hone_tok *t) {
    if (!t) return;
    free(t->blob);
    free(t->poff);
    free(t->plen);
    free(t->score);
    free(t->type);
    free(t->attr);
    free(t->dblob);
    free(t->doff);
    free(t->dlen);
    free(t->ht);
    free(t->special);
    free(t->trie_child);
    free(t->trie_next);
    free(t->trie_end);
    free(t->trie_byte);
    tok_merges_free(t->merges);
    tok_pretok_free(t->pretok);
    free(t->chat_template);
    free(t);
}

static int str_eq(hone_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && !memcmp(s.ptr, z, n);
}

static int get_bool(const hone_gguf *g, const char *key, int *out) {
    int64_t i = hone_gguf_find_key(g, key);
    if (i < 0 || hone_gguf_kv_type(g, i) != HONE_GGUF_BOOL) return 0;
    *out = hone_gguf_kv_u64(g, i) != 0;
    return 1;
}

static void get_id(const hone_gguf *g, const char *key, int32_t n, int32_t *id) {
    uint32_t v;
    if (hone_gguf_get_u32(g, key, &v) == HONE_OK && v < (uint32_t)n) *id = (int32_t)v;
}

/* Sorts special ids by length desc, then id (insertion into runs of equal length
 * is done with a stable merge sort to avoid the global qsort context). */
static void sort_special(hone_tok *t) {
    int32_t *a = t->special, n = (int32_t)t->n_special;
    int32_t *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    if (!tmp) { /* fall back to insertion sort, O(n^2) but correct */
        for (int32_t i = 1; i < n; i++)
            for (int32_t j = i; j > 0; j--) {
                int32_t x = a[j - 1], y = a[j];
                if (t->plen[x] > t->plen[y] || (t->plen[x] == t->plen[y] && x < y)) break;
                a[j - 1] = y;
                a[j] = x;
            }
        return;
    }
    for (int32_t w = 1; w < n; w *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * w) {
            int32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                int32_t x = a[i], y = a[j];
                int take_y = t->plen[y] > t->plen[x] || (t->plen[y] == t->plen[x] && y < x);
                tmp[k++] = take_y ? a[j++] : a[i++];
            }
            while (i < mid) tmp[k++] = a[i++];
            while (j < hi) tmp[k++] = a[j++];
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
    free(tmp);
}

/* The trie over special[] texts. */
static int build_trie(hone_tok *t) {
    uint64_t cap = 1;
    for (size_t k = 0; k < t->n_special; k++) cap += t->plen[t->special[k]];
    if (cap > INT32_MAX) return HONE_ENOMEM;
    t->trie_child = malloc(cap * sizeof *t->trie_child);
    t->trie_next = malloc(cap * sizeof *t->trie_next);
    t->trie_end = malloc(cap * sizeof *t->trie_end);
    t->trie_byte = malloc(cap);
    if (!t->trie_child || !t->trie_next || !t->trie_end || !t->trie_byte) return HONE_ENOMEM;
    t->trie_n = 1;
    t->trie_child[0] = t->trie_next[0] = t->trie_end[0] = -1;
    t->trie_byte[0] = 0;
    for (size_t k = 0; k < t->n_special; k++) {
        const unsigned char *p = (const unsigned char *)t->blob + t->poff[t->special[k]];
        int32_t node = 0;
        for (uint32_t j = 0; j < t->plen[t->special[k]]; j++) {
            int32_t c = t->trie_child[node];
            while (c >= 0 && t->trie_byte[c] != p[j]) c = t->trie_next[c];
            if (c < 0) {
                c = t->trie_n++;
                t->trie_byte[c] = p[j];
                t->trie_child[c] = t->trie_end[c] = -1;
                t->trie_next[c] = t->trie_child[node];
                t->trie_child[node] = c;
            }
            node = c;
        }
        if (t->trie_end[node] < 0) t->trie_end[node] = (int32_t)k;
    }
    return HONE_OK;
}

/* Per-id decoded bytes (see the header for the rules). */
static int build_decoded(hone_tok *t) {
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n; i++) total += t->plen[i];
    t->dblob = malloc(total + 1);
    t->doff = malloc((size_t)t->n * sizeof *t->doff);
    t->dlen = malloc((size_t)t->n * sizeof *t->dlen);
    if (!t->dblob || !t->doff || !t->dlen) return HONE_ENOMEM;
    uint64_t off = 0;
    for (int32_t i = 0; i < t->n; i++) {
        const char *p = t->blob + t->poff[i];
        uint32_t n = t->plen[i], o = 0;
        char *d = t->dblob + off;
        switch (t->type[i]) {
        case HONE_TOKT_CONTROL: case HONE_TOKT_UNKNOWN: case HONE_TOKT_USER_DEFINED:
            memcpy(d, p, n);
            o = n;
            break;
        case HONE_TOKT_NORMAL:
            if (t->kind == HONE_TOK_SPM) {
                for (uint32_t j = 0; j < n;) {
                    if (j + 3 <= n && !memcmp(p + j, "\xE2\x96\x81", 3)) {
                        d[o++] = ' ';
                        j += 3;
                    } else {
                        d[o++] = p[j++];
                    }
                }
            } else {
                o = (uint32_t)tok_bpe_unmap(p, n, d);
            }
            break;
        case HONE_TOKT_BYTE:
            if (n == 6 && !memcmp(p, "<0x", 3) && isxdigit((unsigned char)p[3]) &&
                isxdigit((unsigned char)p[4])) {
                char hex[3] = {p[3], p[4], 0};
                d[o++] = (char)strtol(hex, NULL, 16);
            }
            break;
        default: /* unused / undefined: renders nothing, as llama.cpp */
            break;
        }
        t->doff[i] = off;
        t->dlen[i] = o;
        off += o;
        if (o > t->max_bytes) t->max_bytes = o;
    }
    return HONE_OK;
}

static const char *const EOT_TEXTS[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
};

static void add_eog(hone_tok *t, int32_t id) {
    if (id < 0 || hone_tok_is_eog(t, id) || t->n_eog == (int)(sizeof t->eog / sizeof t->eog[0]))
        return;
    t->eog[t->n_eog++] = id;
}

int tok_alloc(hone_tok *t, int32_t n, uint64_t total) {
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)n) slots <<= 1;
    t->n = n;
    t->blob = malloc(total + 1);
    t->poff = calloc((size_t)n, sizeof *t->poff);
    t->plen = calloc((size_t)n, sizeof *t->plen);
    t->score = calloc((size_t)n, sizeof *t->score);
    t->type = calloc((size_t)n, 1);
    t->attr = calloc((size_t)n, 1);
    t->ht = malloc(slots * sizeof *t->ht);
    if (!t->blob || !t->poff || !t->plen || !t->score || !t->type || !t->attr || !t->ht)
        return HONE_ENOMEM;
    memset(t->ht, 0xFF, slots * sizeof *t->ht);
    t->ht_mask = slots - 1;
    return HONE_OK;
}

void tok_put_piece(hone_tok *t, int32_t id, const char *s, uint32_t len, uint64_t *off) {
    memcpy(t->blob + *off, s, len);
    t->poff[id] = *off;
    t->plen[id] = len;
    *off += len;
    if (len == 0) return; /* an empty piece can never be looked up */
    uint64_t h = tok_hash(s, len) & t->ht_mask;
    for (; t->ht[h] >= 0; h = (h + 1) & t->ht_mask) {
        int32_t o = t->ht[h];
        if (t->plen[o] == len && !memcmp(t->blob + t->poff[o], s, len)) return; /* first id keeps it */
    }
    t->ht[h] = id;
}

/* Everything after the pieces, types and special ids are in: end-of-turn
 * detection, per-name attributes, the special list and its trie, SPM tables, the
 * decoded bytes. `name` is general.name ({NULL,0} if none). */
int tok_finish(hone_tok *t, const char *path, hone_str name, hone_err *err) {
    int32_t n = t->n;
    int rc = HONE_OK;
    /* end-of-turn by text when the metadata has none; such a token is control */
    for (size_t k = 0; k < sizeof EOT_TEXTS / sizeof EOT_TEXTS[0] && t->eot < 0; k++) {
        int32_t id = tok_lookup(t, EOT_TEXTS[k], strlen(EOT_TEXTS[k]));
        if (id >= 0) {
            t->eot = id;
            t->type[id] = HONE_TOKT_CONTROL;
        }
    }
    int32_t eom = tok_lookup(t, "<|eom_id|>", 10);
    if (t->eom < 0 && eom >= 0) t->eom = eom;
    add_eog(t, t->eos);
    add_eog(t, t->eot);
    add_eog(t, t->eom);

    /* per-token attributes llama.cpp sets by model name: Phi-3 strips whitespace to
     * the right of its special tokens except <unk>, <s>, <|endoftext|> */
    if (name.ptr) {
        char low[256];
        size_t ln = name.len < sizeof low - 1 ? name.len : sizeof low - 1;
        for (size_t i = 0; i < ln; i++) low[i] = (char)tolower((unsigned char)name.ptr[i]);
        low[ln] = 0;
        if (strstr(low, "phi-3") || strstr(low, "phi3")) {
            for (int32_t i = 0; i < n; i++)
                if (t->type[i] == HONE_TOKT_CONTROL || t->type[i] == HONE_TOKT_USER_DEFINED ||
                    t->type[i] == HONE_TOKT_UNKNOWN)
                    t->attr[i] |= TOK_ATTR_RSTRIP;
            static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
            for (size_t k = 0; k < 3; k++) {
                int32_t id = tok_lookup(t, keep[k], strlen(keep[k]));
                if (id >= 0) t->attr[id] &= (uint8_t)~TOK_ATTR_RSTRIP;
            }
        }
    }

    /* special tokens, longest first */
    size_t ns = 0;
    for (int32_t i = 0; i < n; i++)
        if ((t->type[i] == HONE_TOKT_CONTROL || t->type[i] == HONE_TOKT_USER_DEFINED ||
             t->type[i] == HONE_TOKT_UNKNOWN) && t->plen[i] > 0)
            ns++;
    t->special = malloc((ns ? ns : 1) * sizeof *t->special);
    if (!t->special) {
        rc = hone_err_set(err, HONE_ENOMEM, "%s: tokenizer: out of memory", path);
        return rc;
    }
    for (int32_t i = 0; i < n; i++)
        if ((t->type[i] == HONE_TOKT_CONTROL || t->type[i] == HONE_TOKT_USER_DEFINED ||
             t->type[i] == HONE_TOKT_UNKNOWN) && t->plen[i] > 0)
            t->special[t->n_special++] = i;
    sort_special(t);
    if (build_trie(t) != HONE_OK) {
        rc = hone_err_set(err, HONE_ENOMEM, "%s: tokenizer: out of memory", path);
        return rc;
    }

    /* SPM chunking (spm.c): which bytes may end the character before a cut */
    memset(t->spm_cut_ok, 1, sizeof t->spm_cut_ok);
    for (int32_t i = 0; i < n; i++) {
        const char *p = t->blob + t->poff[i];
        uint32_t len = t->plen[i];
        for (uint32_t k = 1; k + 3 <= len; k++)
            if (!memcmp(p + k, "\xE2\x96\x81", 3) && !(k >= 3 && !memcmp(p + k - 3, "\xE2\x96\x81", 3)))
                t->spm_cut_ok[(unsigned char)p[k - 1]] = 0;
    }

    /* SPM byte fallback: <0xXX>, else the one-byte piece */
    for (int b = 0; b < 256; b++) {
        char hex[7], one = (char)b;
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        t->byte_tok[b] = tok_lookup(t, hex, 6);
        if (t->byte_tok[b] < 0) t->byte_tok[b] = tok_lookup(t, &one, 1);
    }

    if (build_decoded(t) != HONE_OK) {
        rc = hone_err_set(err, HONE_ENOMEM, "%s: tokenizer: out of memory", path);
        return rc;
    }
    return rc;
}

int hone_tok_load_gguf(hone_tok **out, const hone_gguf *g, hone_err *err) {
    const char *path = hone_gguf_path(g);
    hone_str model;
    if (hone_gguf_get_str(g, "tokenizer.ggml.model", &model) != HONE_OK)
        return hone_err_set(err, HONE_ENOTFOUND, "%s: no tokenizer.ggml.model key (string)", path);
    hone_tok_kind kind;
    if (str_eq(model, "llama")) kind = HONE_TOK_SPM;
    else if (str_eq(model, "gpt2")) kind = HONE_TOK_BPE;
    else
        return hone_err_set(err, HONE_EUNSUPPORTED,
                            "%s: tokenizer.ggml.model '%.*s' not supported (expected 'llama' or 'gpt2')",
                            path, (int)(model.len > 64 ? 64 : model.len), model.ptr);
    int64_t ktok = hone_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (ktok < 0 || hone_gguf_kv_type(g, ktok) != HONE_GGUF_ARRAY ||
        hone_gguf_arr_type(g, ktok) != HONE_GGUF_STRING)
        return hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.tokens: expected an array of strings",
                            path);
    uint64_t n64 = hone_gguf_arr_n(g, ktok);
    if (n64 == 0 || n64 > INT32_MAX)
        return hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.tokens: %llu entries", path,
                            (unsigned long long)n64);
    int32_t n = (int32_t)n64;
    int64_t kscore = hone_gguf_find_key(g, "tokenizer.ggml.scores");
    if (kscore >= 0 && (hone_gguf_kv_type(g, kscore) != HONE_GGUF_ARRAY ||
                        (hone_gguf_arr_type(g, kscore) != HONE_GGUF_FLOAT32 &&
                         hone_gguf_arr_type(g, kscore) != HONE_GGUF_INT32) ||
                        hone_gguf_arr_n(g, kscore) < n64))
        return hone_err_set(err, HONE_EFORMAT,
                            "%s: tokenizer.ggml.scores: expected >= %d float32/int32 values", path, n);
    int64_t ktype = hone_gguf_find_key(g, "tokenizer.ggml.token_type");
    if (ktype >= 0 && (hone_gguf_kv_type(g, ktype) != HONE_GGUF_ARRAY ||
                       hone_gguf_arr_type(g, ktype) != HONE_GGUF_INT32 ||
                       hone_gguf_arr_n(g, ktype) < n64))
        return hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.token_type: expected >= %d int32 values",
                            path, n);

    hone_tok *t = calloc(1, sizeof *t);
    if (!t) return hone_err_set(err, HONE_ENOMEM, "%s: tokenizer: out of memory", path);
    t->kind = kind;
    t->n = n;
    int rc = HONE_OK;
    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++) total += hone_gguf_arr_str(g, ktok, (uint64_t)i).len;
    if (tok_alloc(t, n, total) != HONE_OK) {
        rc = hone_err_set(err, HONE_ENOMEM, "%s: tokenizer: out of memory", path);
        goto fail;
    }
    uint64_t off = 0;
    const uint8_t *types = ktype >= 0 ? hone_gguf_arr_data(g, ktype) : NULL;
    for (int32_t i = 0; i < n; i++) {
        hone_str s = hone_gguf_arr_str(g, ktok, (uint64_t)i);
        if (s.len > UINT32_MAX) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.tokens[%d]: too long", path, i);
            goto fail;
        }
        if (kscore >= 0) t->score[i] = (float)hone_gguf_arr_f64(g, kscore, (uint64_t)i);
        int32_t ty = HONE_TOKT_NORMAL;
        if (types) memcpy(&ty, types + 4 * (size_t)i, 4);
        t->type[i] = ty >= 1 && ty <= 6 ? (uint8_t)ty : 0;
        tok_put_piece(t, i, s.ptr, (uint32_t)s.len, &off);
    }

    /* defaults as llama.cpp, then the metadata */
    t->bos = t->eos = t->eot = t->eom = t->unk = t->pad = -1;
    if (kind == HONE_TOK_SPM) {
        t->bos = n > 1 ? 1 : -1;
        t->eos = n > 2 ? 2 : -1;
        t->unk = 0;
        t->add_bos = 1;
        t->add_space_prefix = 1;
    } else {
        hone_str pre = {"default", 7};
        hone_gguf_get_str(g, "tokenizer.ggml.pre", &pre);
        snprintf(t->pre, sizeof t->pre, "%.*s", (int)(pre.len > 63 ? 63 : pre.len), pre.ptr);
        rc = tok_pretok_new(&t->pretok, t->pre, &t->ignore_merges, err);
        if (rc) {
            hone_err_prefix(err, "%s", path);
            goto fail;
        }
        t->add_bos = t->ignore_merges; /* the llama3 family adds BOS by default */
        int64_t km = hone_gguf_find_key(g, "tokenizer.ggml.merges");
        if (km < 0 || hone_gguf_kv_type(g, km) != HONE_GGUF_ARRAY ||
            hone_gguf_arr_type(g, km) != HONE_GGUF_STRING) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: tokenizer.ggml.merges: expected an array of strings",
                              path);
            goto fail;
        }
        rc = tok_merges_load(&t->merges, g, km, err);
        if (rc) goto fail;
    }
    get_id(g, "tokenizer.ggml.bos_token_id", n, &t->bos);
    get_id(g, "tokenizer.ggml.eos_token_id", n, &t->eos);
    get_id(g, "tokenizer.ggml.eot_token_id", n, &t->eot);
    get_id(g, "tokenizer.ggml.eom_token_id", n, &t->eom);
    get_id(g, "tokenizer.ggml.unknown_token_id", n, &t->unk);
    get_id(g, "tokenizer.ggml.padding_token_id", n, &t->pad);
    get_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    if (kind == HONE_TOK_SPM) get_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);

    hone_str name = {NULL, 0};
    hone_gguf_get_str(g, "general.name", &name);
    rc = tok_finish(t, path, name, err);
    if (rc) goto fail;
    *out = t;
    return HONE_OK;
fail:
    hone_tok_free(t);
    return rc;
}

/* ---- special-token split --------------------------------------------------------- */

typedef struct frag {
    size_t off, len;
    int32_t id; /* -1: raw text */
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static int frags_push(frags *a, size_t off, size_t len, int32_t id) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        frag *v = realloc(a->v, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (frag){off, len, id};
    return HONE_OK;
}

/* Splits every raw fragment of *cur at token id's occurrences (llama.cpp's
 * tokenizer_st_partition for one token). */
static int split_by(const hone_tok *t, const char *text, int32_t id, frags *cur, frags *next) {
    const char *pat = t->blob + t->poff[id];
    size_t plen = t->plen[id];
    next->n = 0;
    for (size_t k = 0; k < cur->n; k++) {
        frag f = cur->v[k];
        if (f.id >= 0 || f.len < plen) {
            if (frags_push(next, f.off, f.len, f.id)) return HONE_ENOMEM;
            continue;
        }
        size_t base = f.off, blen = f.len;
        while (blen > 0) {
            const char *m = memmem(text + base, blen, pat, plen);
            if (!m) {
                if (frags_push(next, base, blen, -1)) return HONE_ENOMEM;
                break;
            }
            size_t mo = (size_t)(m - text);
            if (mo > base) {
                size_t ll = mo - base;
                if (t->attr[id] & TOK_ATTR_LSTRIP)
                    while (ll > 0 && isspace((unsigned char)text[base + ll - 1])) ll--;
                if (ll > 0 && frags_push(next, base, ll, -1)) return HONE_ENOMEM;
            }
            if (frags_push(next, mo, plen, id)) return HONE_ENOMEM;
            size_t ro = mo + plen, rl = base + blen - ro;
            if (t->attr[id] & TOK_ATTR_RSTRIP)
                while (rl > 0 && isspace((unsigned char)text[ro])) {
                    ro++;
                    rl--;
                }
            base = ro;
            blen = rl;
        }
    }
    return HONE_OK;
}

static int partition(const hone_tok *t, const char *text, size_t len, unsigned flags, frags *out) {
    out->n = 0;
    if (len == 0) return HONE_OK;
    if (frags_push(out, 0, len, -1)) return HONE_ENOMEM;
    /* which special texts occur at all (one pass over the text with the trie);
     * only those can split anything */
    uint8_t *seen = calloc(t->n_special / 8 + 1, 1);
    if (!seen) return HONE_ENOMEM;
    for (size_t i = 0; i < len; i++) {
        int32_t node = 0;
        for (size_t j = i; j < len; j++) {
            int32_t c = t->trie_child[node];
            while (c >= 0 && t->trie_byte[c] != (unsigned char)text[j]) c = t->trie_next[c];
            if (c < 0) break;
            node = c;
            int32_t k = t->trie_end[node];
            if (k >= 0) seen[k >> 3] |= (uint8_t)(1u << (k & 7));
        }
    }
    frags tmp = {0};
    int rc = HONE_OK;
    for (size_t k = 0; k < t->n_special && rc == HONE_OK; k++) {
        int32_t id = t->special[k];
        if (!(flags & HONE_TOK_SPECIAL) && t->type[id] != HONE_TOKT_USER_DEFINED) continue;
        if (!(seen[k >> 3] & (1u << (k & 7)))) continue;
        rc = split_by(t, text, id, out, &tmp);
        frags s = *out;
        *out = tmp;
        tmp = s;
    }
    free(tmp.v);
    free(seen);
    return rc;
}

/* ---- encode ------------------------------------------------------------------------ */

int hone_tok_encode(const hone_tok *t, const char *text, size_t len, unsigned flags,
                    int32_t **ids, size_t *n_ids, hone_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!text && len) return hone_err_set(err, HONE_EARG, "tokenize: NULL text");
    tok_ids out = {0};
    frags fr = {0};
    char *buf = NULL;
    size_t buf_cap = 0;
    int rc = partition(t, text, len, flags, &fr);
    if (rc == HONE_OK && (flags & HONE_TOK_BOS)) {
        if (t->bos < 0) rc = hone_err_set(err, HONE_EARG, "tokenize: BOS requested but the model has none");
        else rc = tok_ids_push(&out, t->bos);
    }
    int prev_special = 1;
    for (size_t k = 0; k < fr.n && rc == HONE_OK; k++) {
        frag f = fr.v[k];
        if (f.id >= 0) {
            rc = tok_ids_push(&out, f.id);
            prev_special = 1;
            continue;
        }
        if (t->kind == HONE_TOK_BPE) {
            rc = tok_bpe_encode(t, text + f.off, f.len, &out);
            continue;
        }
        /* SPM: optional ' ' prefix, then ' ' -> '▁' */
        size_t need = 3 * (f.len + 1);
        if (need > buf_cap) {
            char *p = realloc(buf, need);
            if (!p) {
                rc = HONE_ENOMEM;
                break;
            }
            buf = p;
            buf_cap = need;
        }
        size_t o = 0;
        if (t->add_space_prefix && prev_special) {
            memcpy(buf, "\xE2\x96\x81", 3);
            o = 3;
        }
        for (size_t i = 0; i < f.len; i++) {
            char c = text[f.off + i];
            if (c == ' ') {
                memcpy(buf + o, "\xE2\x96\x81", 3);
                o += 3;
            } else {
                buf[o++] = c;
            }
        }
        rc = tok_spm_encode(t, buf, o, &out);
        prev_special = 0;
    }
    free(buf);
    free(fr.v);
    if (rc != HONE_OK) {
        free(out.v);
        if (rc == HONE_ENOMEM) return hone_err_set(err, rc, "tokenize: out of memory");
        if (rc == HONE_EUNSUPPORTED)
            return hone_err_set(err, rc, "tokenize: pre-tokenizer '%s': a PCRE2 match limit was hit", t->pre);
        if (rc == HONE_EARG && !(err && err->code))
            return hone_err_set(err, rc, "tokenize: text too long");
        return rc;
    }
    *ids = out.v;
    *n_ids = out.n;
    if (!out.v) *ids = malloc(sizeof(int32_t)); /* non-NULL even when empty */
    return HONE_OK;
}

/* ---- decode --------------------------------------------------------------------------- */

/* The bytes id contributes at position idx (leading-space rule applied via strip). */
static hone_str id_out(const hone_tok *t, int32_t id, unsigned flags, int strip) {
    int ty = t->type[id];
    if (!(flags & HONE_TOK_SPECIAL) && (ty == HONE_TOKT_CONTROL || ty == HONE_TOKT_UNKNOWN))
        return (hone_str){NULL, 0};
    hone_str s = {t->dblob + t->doff[id], t->dlen[id]};
    if (strip && s.len && s.ptr[0] == ' ') {
        s.ptr++;
        s.len--;
    }
    return s;
}

/* Whether the id at position idx (with the previous id) gets its leading space removed. */
static int strip_at(const hone_tok *t, size_t idx, int32_t first, int32_t id) {
    if (t->kind != HONE_TOK_SPM || !t->add_space_prefix) return 0;
    if (idx == 0) return id != t->bos;
    return idx == 1 && first == t->bos;
}

int hone_tok_decode(const hone_tok *t, const int32_t *ids, size_t n_ids, unsigned flags,
                    char **text, size_t *len, hone_err *err) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            return hone_err_set(err, HONE_EARG, "detokenize: id %d at position %zu out of range [0, %d)",
                                ids[i], i, t->n);
        total += t->dlen[ids[i]];
    }
    char *s = malloc(total + 1);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "detokenize: out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n_ids; i++) {
        hone_str p = id_out(t, ids[i], flags, strip_at(t, i, ids[0], ids[i]));
        if (p.len) memcpy(s + o, p.ptr, p.len);
        o += p.len;
    }
    s[o] = 0;
    *text = s;
    *len = o;
    return HONE_OK;
}

/* ---- streaming decode ---------------------------------------------------------------- */

void hone_tok_stream_init(hone_tok_stream *s, const hone_tok *t, unsigned flags) {
    memset(s, 0, sizeof *s);
    s->tok = t;
    s->flags = flags;
}

/* Number of trailing bytes of b[0,n) that form an incomplete but so far valid
 * UTF-8 sequence (0..3). */
static size_t incomplete_tail(const unsigned char *b, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = b[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation: keep looking for the lead */
        size_t need = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        return need > back ? back : 0;
    }
    return 0;
}

int hone_tok_stream_push(hone_tok_stream *s, int32_t id, char *out, size_t cap, size_t *n_out,
                         hone_err *err) {
    const hone_tok *t = s->tok;
    *n_out = 0;
    if (id < 0 || id >= t->n)
        return hone_err_set(err, HONE_EARG, "detokenize: id %d out of range [0, %d)", id, t->n);
    /* state: 0 nothing seen, 1 a leading BOS seen (strip still due), 2 done */
    int strip = 0;
    if (s->state == 0) {
        strip = strip_at(t, 0, id, id);
        s->state = id == t->bos ? 1 : 2;
    } else if (s->state == 1) {
        strip = strip_at(t, 1, t->bos, id);
        s->state = 2;
    }
    hone_str p = id_out(t, id, s->flags, strip);
    if ((size_t)s->n_pend + p.len > cap)
        return hone_err_set(err, HONE_EARG, "detokenize: stream buffer of %zu bytes too small", cap);
    memcpy(out, s->pend, (size_t)s->n_pend);
    if (p.len) memcpy(out + s->n_pend, p.ptr, p.len);
    size_t n = (size_t)s->n_pend + p.len;
    size_t keep = incomplete_tail((const unsigned char *)out, n);
    s->n_pend = (int)keep;
    memcpy(s->pend, out + n - keep, keep);
    *n_out = n - keep;
    return HONE_OK;
}

size_t hone_tok_stream_flush(hone_tok_stream *s, char out[4]) {
    size_t n = (size_t)s->n_pend;
    memcpy(out, s->pend, n);
    s->n_pend = 0;
    return n;
}
