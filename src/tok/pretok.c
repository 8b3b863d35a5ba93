/* pretok.c: the pre-tokenizer of byte-level BPE vocabularies, one regex list per
 * tokenizer.ggml.pre name, run through PCRE2 in UTF mode with Unicode properties
 * (\p{L}, \p{N}, \p{P} and \s come from PCRE2's tables, never from ours).
 *
 * Semantics (as llama.cpp's unicode_regex_split): the regexes are applied in
 * order; each one splits every current piece into its matches AND the unmatched
 * gaps between them, each becoming a piece. A regex sees one piece at a time as
 * its whole subject, so `$` and lookaheads stop at the piece's end.
 * Invalid UTF-8 never fails: PCRE2_MATCH_INVALID_UTF makes invalid bytes match
 * nothing, so they end up in gap pieces and are byte-encoded like any bytes.
 * The regex strings are the facts that llama.cpp (from each model's
 * tokenizer.json) uses; the aliases map tokenizer.ggml.pre names onto them.
 * Six characters of the deepseek-llm class are written as \x{...}: they have
 * singleton canonical decompositions (U+2126 OHM SIGN...), and an editor or a
 * copy that normalizes to NFC would silently turn them into other letters. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok/tok_internal.h"
#include "util/err.h"

#define RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RX_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RX_LLAMA3 RX_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_QWEN2 RX_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RX_CJK "[一-龥ࠀ-一가-퟿]+"

typedef struct pretok_def {
    const char *names; /* '|'-separated aliases */
    int ignore_merges;
    const char *rx[7];
} pretok_def;

static const pretok_def DEFS[] = {
    {"default", 0, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RX_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3|llama-v3|llama-bpe|falcon3|pixtral", 1, {RX_LLAMA3}},
    {"dbrx|smaug-bpe", 0, {RX_LLAMA3}},
    {"gpt-2|phi-2|mpt|olmo|jais|jina-es|jina-de|jina-v2-es|jina-v2-de|exaone4", 0, {RX_GPT2}},
    {"starcoder|refact|command-r|smollm|codeshell|exaone|minerva-7b", 0, {"\\p{N}", RX_GPT2}},
    {"qwen2|deepseek-r1-qwen|megrez|stablelm2", 0, {RX_QWEN2}},
    {"falcon", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RX_GPT2, "[0-9][0-9][0-9]"}},
    {"deepseek-coder", 0, {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RX_CJK, "\\p{N}"}},
    {"deepseek-llm", 0,
     {"[\r\n]",
      "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\\x{1F7D}ᾀ-ᾴᾶ-ᾼ\\x{1FBE}ῂ-ῄῆ-ῌῐ-\\x{1FD3}ῖ-\\x{1FDB}ῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\\x{2126}ℨ\\x{212A}-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
      "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", RX_CJK, "\\p{N}+"}},
};
#define N_DEFS (sizeof DEFS / sizeof DEFS[0])

struct tok_pretok {
    int n;
    pcre2_code *code[7];
    char *rx[7]; /* the sources, for exporters */
};

void tok_pretok_free(tok_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        pcre2_code_free(p->code[i]);
        free(p->rx[i]);
    }
    free(p);
}

int tok_pretok_n(const tok_pretok *p) { return p ? p->n : 0; }
const char *tok_pretok_regex(const tok_pretok *p, int i) { return p && i >= 0 && i < p->n ? p->rx[i] : NULL; }

static int name_in(const char *name, const char *list) {
    size_t n = strlen(name);
    for (const char *s = list; *s;) {
        const char *e = strchr(s, '|');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == n && !memcmp(s, name, n)) return 1;
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

/* tokenizer.json spellings of llama.cpp's regexes, rewritten to llama.cpp's. */
static void rx_normalize(const char *in, char *out, size_t cap) {
    static const char HF_CONTRACTIONS[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    if (!strcmp(in, RX_GPT2 "|\\s+")) {
        snprintf(out, cap, "%s", RX_GPT2);
        return;
    }
    const char *c = strstr(in, HF_CONTRACTIONS);
    if (c) snprintf(out, cap, "%.*s%s%s", (int)(c - in), in, RX_CONTRACTIONS, c + sizeof HF_CONTRACTIONS - 1);
    else snprintf(out, cap, "%s", in);
}

const char *tok_pretok_gguf_name(const tok_pretok *p) {
    static const char *const PREFER[] = {"qwen2", "llama-bpe", "smollm", "gpt-2", "default", "dbrx", "falcon",
                                         "deepseek-coder", "deepseek-llm"};
    if (!p) return NULL;
    for (size_t i = 0; i < N_DEFS; i++) {
        int n = 0;
        while (n < 7 && DEFS[i].rx[n]) n++;
        if (n != p->n) continue;
        int same = 1;
        for (int k = 0; k < n && same; k++) {
            char buf[2048];
            rx_normalize(p->rx[k], buf, sizeof buf);
            same = !strcmp(buf, DEFS[i].rx[k]);
        }
        if (!same) continue;
        for (size_t q = 0; q < sizeof PREFER / sizeof *PREFER; q++)
            if (name_in(PREFER[q], DEFS[i].names)) return PREFER[q];
        return DEFS[i].names; /* first alias: up to the '|' is enough for callers that copy */
    }
    return NULL;
}


int tok_pretok_new(tok_pretok **out, const char *name, int *ignore_merges, hone_err *err) {
    const pretok_def *d = NULL;
    for (size_t i = 0; i < N_DEFS && !d; i++)
        if (name_in(name, DEFS[i].names)) d = &DEFS[i];
    if (!d)
        return hone_err_set(err, HONE_EUNSUPPORTED,
                            "tokenizer.ggml.pre: unsupported pre-tokenizer '%s'", name);
    int n = 0;
    while (n < 7 && d->rx[n]) n++;
    *ignore_merges = d->ignore_merges;
    return tok_pretok_new_rx(out, d->rx, n, name, err);
}

const char *tok_pretok_gpt2_regex(void) { return RX_GPT2 "|\\s+"; }

int tok_pretok_new_rx(tok_pretok **out, const char *const *rx, int n, const char *name,
                      hone_err *err) {
    if (n > 7) return hone_err_set(err, HONE_EUNSUPPORTED, "pre-tokenizer '%s': %d regexes (at most 7)", name, n);
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) return hone_err_set(err, HONE_ENOMEM, "pre-tokenizer '%s': out of memory", name);
    for (int i = 0; i < n; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)rx[i], PCRE2_ZERO_TERMINATED,
                                      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF |
                                          PCRE2_DOLLAR_ENDONLY,
                                      &ec, &eo, NULL);
        if (!c) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(ec, msg, sizeof msg);
            tok_pretok_free(p);
            return hone_err_set(err, HONE_EFORMAT, "pre-tokenizer '%s' regex %d at %zu: %s", name,
                                i, (size_t)eo, (const char *)msg);
        }
        pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* falls back to the interpreter on failure */
        if (!(p->rx[p->n] = strdup(rx[i]))) {
            pcre2_code_free(c);
            tok_pretok_free(p);
            return hone_err_set(err, HONE_ENOMEM, "pre-tokenizer '%s': out of memory", name);
        }
        p->code[p->n++] = c;
    }
    *out = p;
    return HONE_OK;
}

/* Splits each span of in by regex c into out (matches and gaps). */
static int split_one(const pcre2_code *c, pcre2_match_data *md, const char *text,
                     const tok_spans *in, tok_spans *out) {
    for (size_t k = 0; k < in->n; k++) {
        const char *subj = text + in->v[k].off;
        size_t len = in->v[k].len, pos = 0, prev = 0;
        while (pos < len) {
            int rc = pcre2_match(c, (PCRE2_SPTR)subj, len, pos, 0, md, NULL);
            if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* a very long match: the interpreter has no such limit */
                rc = pcre2_match(c, (PCRE2_SPTR)subj, len, pos, PCRE2_NO_JIT, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break; /* the rest is one gap */
            if (rc < 0) return HONE_EUNSUPPORTED; /* match/depth limit: never guess a split */
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t s = ov[0], e = ov[1];
            if (e <= s) { /* empty match: step over one character, emit nothing */
                pos = s + tok_utf8_len((unsigned char)subj[s]);
                if (pos > len) pos = len;
                continue;
            }
            if (s > prev && tok_spans_push(out, in->v[k].off + prev, s - prev)) return HONE_ENOMEM;
            if (tok_spans_push(out, in->v[k].off + s, e - s)) return HONE_ENOMEM;
            prev = pos = e;
        }
        if (prev < len && tok_spans_push(out, in->v[k].off + prev, len - prev)) return HONE_ENOMEM;
    }
    return HONE_OK;
}

int tok_pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *out) {
    if (len == 0) return HONE_OK;
    tok_spans a = {0}, b = {0};
    int rc = tok_spans_push(&a, 0, len);
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    if (!md) rc = HONE_ENOMEM;
    for (int i = 0; i < p->n && rc == HONE_OK; i++) {
        b.n = 0;
        rc = split_one(p->code[i], md, text, &a, &b);
        tok_spans t = a;
        a = b;
        b = t;
    }
    for (size_t k = 0; k < a.n && rc == HONE_OK; k++) rc = tok_spans_push(out, a.v[k].off, a.v[k].len);
    pcre2_match_data_free(md);
    free(a.v);
    free(b.v);
    return rc;
}
