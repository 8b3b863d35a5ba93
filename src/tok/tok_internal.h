/* tok_internal.h: what tokenizer.c, spm.c, bpe.c and pretok.c share.
 *
 * The vocabulary is copied out of the GGUF into one blob; pieces are found by an
 * open-addressing hash of their bytes (FNV-1a). Ids, spans and the scratch that
 * one encode call needs live in small growable vectors owned by that call, so a
 * hone_tok is read-only after loading. */
#ifndef HONE_TOK_INTERNAL_H
#define HONE_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hone.h"

/* Per-token attributes beyond the GGUF type (llama.cpp sets these by model name). */
enum { TOK_ATTR_LSTRIP = 1, TOK_ATTR_RSTRIP = 2 };

/* How an SPM vocabulary loaded from tokenizer.json prefixes '▁' to each raw
 * fragment (HF semantics; fragments are the text between added tokens):
 * NONE never; FIRST (Metaspace prepend_scheme "first") only the fragment at byte 0
 * and only if it does not already start with a space; ALWAYS (Metaspace "always")
 * every fragment not starting with a space (or a U+2581); PREPEND (normalizer Prepend "▁")
 * every non-empty fragment. */
enum { TOK_HF_NONE = 1, TOK_HF_FIRST, TOK_HF_ALWAYS, TOK_HF_PREPEND };

typedef struct tok_pretok tok_pretok; /* pretok.c */
typedef struct tok_merges tok_merges; /* bpe.c */

struct hone_tok {
    hone_tok_kind kind;
    char pre[64];            /* tokenizer.ggml.pre as given ("" for SPM) */
    int32_t n;               /* vocabulary size */
    char *blob;              /* all piece texts, back to back */
    uint64_t *poff;          /* (n) offset of piece i in blob */
    uint32_t *plen;          /* (n) its length */
    float *score;            /* (n) */
    uint8_t *type;           /* (n) hone_tok_type */
    uint8_t *attr;           /* (n) TOK_ATTR_* */
    char *dblob;             /* decoded bytes of every id (control tokens: their text) */
    uint64_t *doff;          /* (n) */
    uint32_t *dlen;          /* (n) */
    size_t max_bytes;
    int32_t *ht;             /* piece hash: slot -> id or -1 */
    uint64_t ht_mask;
    int32_t bos, eos, eot, eom, unk, pad;
    int32_t eog[8];          /* end-of-generation ids */
    int n_eog;
    int add_bos, add_space_prefix, ignore_merges;
    int hf_prepend;          /* SPM from tokenizer.json: TOK_HF_* (0: GGUF/llama.cpp rule) */
    int32_t *special;        /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    /* trie of the special texts (finds which occur in a text in one pass):
     * node 0 is the root; per node: first child, next sibling, byte, and the
     * index into special[] of the text ending there (-1: none) */
    int32_t *trie_child, *trie_next, *trie_end;
    uint8_t *trie_byte;
    int32_t trie_n;
    int32_t byte_tok[256];   /* SPM: id of <0xXX>, or -1 */
    uint8_t spm_cut_ok[256]; /* SPM: 1 if no piece holds (char ending in this byte) + '▁' */
    tok_merges *merges;      /* BPE */
    tok_pretok *pretok;      /* BPE */
    char *chat_template;     /* Jinja text from tokenizer_config.json (HF folders), or NULL */
};

/* ---- small vectors ------------------------------------------------------ */

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;

int tok_ids_push(tok_ids *a, int32_t id); /* HONE_OK or HONE_ENOMEM */

typedef struct tok_span {
    size_t off, len;
} tok_span;

typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;

int tok_spans_push(tok_spans *a, size_t off, size_t len);

/* ---- shared helpers ----------------------------------------------------- */

static inline uint64_t tok_hash(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Length of the UTF-8 sequence that lead byte c starts (1 for a stray byte), as
 * llama.cpp's unicode_len_utf8 does. */
static inline size_t tok_utf8_len(unsigned char c) {
    static const unsigned char lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

int32_t tok_lookup(const hone_tok *t, const char *s, size_t n); /* tokenizer.c: id or -1 */
/* tokenizer.c, for the loaders: allocate n entries (blob of total bytes), store a
 * piece (first id wins a duplicate text), then finish the derived tables. */
int tok_alloc(hone_tok *t, int32_t n, uint64_t total);
void tok_put_piece(hone_tok *t, int32_t id, const char *s, uint32_t len, uint64_t *off);
int tok_finish(hone_tok *t, const char *path, hone_str general_name, hone_err *err);

/* spm.c: SentencePiece BPE of text whose spaces are already '▁'; pairs rank by
 * the merged piece's score, or by merge rank when t->merges is set (tokenizer.json
 * BPE with byte_fallback). */
int tok_spm_encode(const hone_tok *t, const char *text, size_t len, tok_ids *out);

/* bpe.c */
int tok_merges_load(tok_merges **out, const hone_gguf *g, int64_t key, hone_err *err);
/* Merge r (rank r) as its two sides. */
typedef void (*tok_merge_get)(void *ctx, size_t r, hone_str *left, hone_str *right);
int tok_merges_new(tok_merges **out, uint64_t n, tok_merge_get get, void *ctx); /* HONE_OK/ENOMEM/EFORMAT */
void tok_merges_free(tok_merges *m);
/* Rank of merging s[0,llen) with s[llen,size), or -1. */
int32_t tok_merges_rank(const tok_merges *m, const char *s, uint32_t llen, uint32_t size);
/* Number of merges and merge r's two sides (exporters). */
uint64_t tok_merges_count(const tok_merges *m);
void tok_merges_at(const tok_merges *m, uint64_t r, hone_str *left, hone_str *right);
/* Byte-level BPE of one raw-text fragment: pre-tokenize, byte-map, merge. */
int tok_bpe_encode(const hone_tok *t, const char *text, size_t len, tok_ids *out);
/* Byte-level piece -> raw bytes (appended to out, which has room for 4x len... the
 * decoded length never exceeds len). Returns the decoded length. Characters
 * outside the byte map are copied as they are. */
size_t tok_bpe_unmap(const char *piece, size_t len, char *out);

/* pretok.c */
/* Compiles the regex list for pre-tokenizer `name`; HONE_EUNSUPPORTED names it.
 * *ignore_merges is set for the llama3 family. */
int tok_pretok_new(tok_pretok **out, const char *name, int *ignore_merges, hone_err *err);
/* The same from a list of n (<= 7) regexes (tokenizer.json Split patterns). */
int tok_pretok_new_rx(tok_pretok **out, const char *const *rx, int n, const char *name,
                      hone_err *err);
/* HF ByteLevel(use_regex)'s split: the GPT-2 regex with its trailing \s+. */
const char *tok_pretok_gpt2_regex(void);
void tok_pretok_free(tok_pretok *p);
/* The regexes p was built from (exporters): count, and regex i. */
int tok_pretok_n(const tok_pretok *p);
const char *tok_pretok_regex(const tok_pretok *p, int i);
/* The tokenizer.ggml.pre name whose regex list p's equals (tokenizer.json's forms of the
 * GPT-2 regex and of the case-insensitive contractions normalized to llama.cpp's), the name
 * llama.cpp's converter writes for it preferred (qwen2, llama-bpe, smollm, gpt-2...); NULL
 * when none matches. */
const char *tok_pretok_gguf_name(const tok_pretok *p);
/* Splits text[0, len) into pieces (offsets into text), appended to out. */
int tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *out);

#endif
