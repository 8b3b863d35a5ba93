/* hone/tokenizer.h: public API, tokenizers (SentencePiece-BPE, byte-level BPE) from GGUF or HF files.
 * Included by hone.h; see its conventions.
 *
 * A hone_tok is loaded from the tokenizer.ggml.* metadata of an open GGUF file and
 * owns copies of everything it needs (the GGUF may be closed afterwards). It is
 * read-only after loading: encode/decode may run on several threads at once.
 *
 * Encoding follows llama.cpp's tokenizer exactly (that is the reference the tests
 * compare against): user-defined tokens (token_type 4) are always split out of the
 * text first, control/unknown tokens only with HONE_TOK_SPECIAL; SentencePiece
 * vocabularies ("llama") prefix a space at the start and after each special token
 * when add_space_prefix is on; byte-level vocabularies ("gpt2") split the text
 * with the pre-tokenizer named by tokenizer.ggml.pre.
 *
 * Invalid UTF-8 in the input never fails: SPM encodes each byte that does not
 * start a complete sequence with its <0xXX> byte token (or <unk> when the
 * vocabulary has none); byte-level BPE keeps invalid bytes as their own
 * pre-tokenizer pieces and encodes them as byte tokens. llama.cpp differs on
 * invalid input only (SPM: a stray lead byte swallows the following bytes into
 * one byte-fallback run, which turns a following space into the bytes of '▁';
 * BPE: invalid bytes become U+FFFD); hone keeps the bytes so that
 * decode(encode(s)) == s holds for any byte string the vocabulary can represent
 * (SmolLM2's vocabulary, for one, has no token for bytes 0x04, 0xC0, 0xF5...:
 * those are dropped, as llama.cpp drops them). Text containing U+2581 '▁' comes
 * back from an SPM vocabulary with a space there, by SentencePiece's design.
 *
 * Decoding concatenates the pieces' bytes: byte tokens give their byte, normal
 * SPM pieces have '▁' turned into ' ', byte-level pieces are mapped back through
 * the GPT-2 byte<->unicode table, user-defined pieces are copied as they are,
 * control and unknown tokens are dropped unless HONE_TOK_SPECIAL. With
 * add_space_prefix on, ONE leading space is removed from the first decoded
 * piece (after a leading BOS), which undoes the prefix that encode added; so
 * decode(encode(s)) == s for every s that holds no special-token text. The
 * output is the raw bytes: it is valid UTF-8 exactly when the ids form valid
 * UTF-8 (no replacement characters are inserted).
 */
#ifndef HONE_TOKENIZER_H
#define HONE_TOKENIZER_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_tok hone_tok;

typedef enum hone_tok_kind {
    HONE_TOK_SPM = 1, /* tokenizer.ggml.model "llama": SentencePiece-style BPE over scores */
    HONE_TOK_BPE = 2, /* tokenizer.ggml.model "gpt2": byte-level BPE over merge ranks */
} hone_tok_kind;

/* tokenizer.ggml.token_type values. */
typedef enum hone_tok_type {
    HONE_TOKT_NORMAL = 1, HONE_TOKT_UNKNOWN = 2, HONE_TOKT_CONTROL = 3,
    HONE_TOKT_USER_DEFINED = 4, HONE_TOKT_UNUSED = 5, HONE_TOKT_BYTE = 6,
} hone_tok_type;

/* Flags for encode and decode. */
enum {
    HONE_TOK_SPECIAL = 1u << 0, /* encode: parse control-token text ("<start_of_turn>") as
                                   the token; decode: render control/unknown tokens */
    HONE_TOK_BOS = 1u << 1,     /* encode: prepend BOS (the model's add_bos_token is
                                   reported by hone_tok_add_bos; the caller decides) */
};

/* Loads the tokenizer described by g's tokenizer.ggml.* keys. An unknown model or
 * pre-tokenizer is HONE_EUNSUPPORTED with its name in the message. */
int hone_tok_load_gguf(hone_tok **out, const hone_gguf *g, hone_err *err);
/* Loads DIR/tokenizer.json (+ DIR/tokenizer_config.json when present) of a Hugging
 * Face model folder: byte-level BPE only for now (GPT-2, Llama 3, Qwen 2, SmolLM2,
 * DeepSeek); anything else is HONE_EUNSUPPORTED naming the JSON path. */
int hone_tok_load_hf(hone_tok **out, const char *dir, hone_err *err);
/* The same from buffers (config_json may be NULL). */
int hone_tok_load_hf_mem(hone_tok **out, const char *tokenizer_json, size_t len,
                         const char *config_json, size_t clen, hone_err *err);
void hone_tok_free(hone_tok *t);
/* The chat template text of tokenizer_config.json (HF folders), or NULL. */
const char *hone_tok_chat_template(const hone_tok *t);

hone_tok_kind hone_tok_get_kind(const hone_tok *t);
const char *hone_tok_pre_name(const hone_tok *t); /* "llama3", "default", ... ("" for SPM) */
int32_t hone_tok_n_vocab(const hone_tok *t);
/* Special ids, -1 when the model has none. EOT is the end-of-turn token
 * (<end_of_turn>, <|eot_id|>, <|im_end|>, ...) found by metadata or by its text. */
int32_t hone_tok_bos(const hone_tok *t);
int32_t hone_tok_eos(const hone_tok *t);
int32_t hone_tok_eot(const hone_tok *t);
int32_t hone_tok_unk(const hone_tok *t);
int32_t hone_tok_pad(const hone_tok *t);
int hone_tok_add_bos(const hone_tok *t);          /* tokenizer.ggml.add_bos_token */
int hone_tok_add_space_prefix(const hone_tok *t); /* SPM only */
/* True for EOS, EOT and the other end-of-generation tokens. */
int hone_tok_is_eog(const hone_tok *t, int32_t id);

/* The vocabulary entry as stored (SPM pieces contain '▁', byte-level pieces the
 * GPT-2 byte map); {NULL,0} for an id out of range. */
hone_str hone_tok_piece(const hone_tok *t, int32_t id);
hone_tok_type hone_tok_token_type(const hone_tok *t, int32_t id);
float hone_tok_score(const hone_tok *t, int32_t id);
/* Id of the piece with exactly these bytes, or -1. */
int32_t hone_tok_find(const hone_tok *t, const char *piece, size_t len);
/* The bytes that id decodes to (control tokens: their text); {NULL,0} out of range. */
hone_str hone_tok_id_bytes(const hone_tok *t, int32_t id);
/* Longest hone_tok_id_bytes over the vocabulary. */
size_t hone_tok_max_bytes(const hone_tok *t);

/* Text (len bytes, any bytes) -> ids. *ids is malloc'd (free() it); *n_ids may be 0. */
int hone_tok_encode(const hone_tok *t, const char *text, size_t len, unsigned flags,
                    int32_t **ids, size_t *n_ids, hone_err *err);
/* Ids -> bytes. *text is malloc'd and NUL-terminated (free() it); *len excludes the NUL.
 * An id out of range is HONE_EARG. */
int hone_tok_decode(const hone_tok *t, const int32_t *ids, size_t n_ids, unsigned flags,
                    char **text, size_t *len, hone_err *err);

/* Streaming decoder: feed ids one at a time; only whole UTF-8 characters come
 * out (an incomplete sequence is held until it completes or proves invalid, then
 * its bytes are emitted as they are). The concatenation of everything pushed and
 * flushed equals hone_tok_decode of the same ids with the same flags. The fields
 * are private. */
typedef struct hone_tok_stream {
    const hone_tok *tok;
    unsigned flags;
    int state;               /* where the leading-space rule stands */
    int n_pend;              /* held bytes of an incomplete UTF-8 character */
    unsigned char pend[4];
} hone_tok_stream;

void hone_tok_stream_init(hone_tok_stream *s, const hone_tok *t, unsigned flags);
/* Appends the completed bytes to out (cap bytes; cap >= hone_tok_max_bytes(t) + 4
 * always suffices) and sets *n_out. HONE_EARG for an id out of range or a small buffer. */
int hone_tok_stream_push(hone_tok_stream *s, int32_t id, char *out, size_t cap, size_t *n_out,
                         hone_err *err);
/* Emits any held bytes (at most 3). */
size_t hone_tok_stream_flush(hone_tok_stream *s, char out[4]);

#ifdef __cplusplus
}
#endif
#endif
