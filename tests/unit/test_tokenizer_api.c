/* test_tokenizer_api.c: the tokenizer API on small hand-built GGUF vocabularies
 * (in memory): error messages (unknown pre-tokenizer, unknown model), special-
 * token parsing on and off, BOS, byte fallback, control tokens in decode, EOT
 * detection, the streaming decoder on a character split over byte tokens.
 * Expected ids are worked out by hand from the tiny vocabularies below. */
#include "testutil.h"

/* ---- a minimal GGUF v3 writer (metadata only) ---------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void kv_str(buf *b, const char *k, const char *v) { put_str(b, k); put_u32(b, 8); put_str(b, v); }
static void kv_u32(buf *b, const char *k, uint32_t v) { put_str(b, k); put_u32(b, 4); put_u32(b, v); }
static void kv_bool(buf *b, const char *k, int v) { put_str(b, k); put_u32(b, 7); unsigned char c = (unsigned char)v; put(b, &c, 1); }
static void kv_strs(buf *b, const char *k, const char *const *v, size_t n) {
    put_str(b, k); put_u32(b, 9); put_u32(b, 8); put_u64(b, n);
    for (size_t i = 0; i < n; i++) put_str(b, v[i]);
}
static void kv_f32s(buf *b, const char *k, const float *v, size_t n) {
    put_str(b, k); put_u32(b, 9); put_u32(b, 6); put_u64(b, n); put(b, v, 4 * n);
}
static void kv_i32s(buf *b, const char *k, const int32_t *v, size_t n) {
    put_str(b, k); put_u32(b, 9); put_u32(b, 5); put_u64(b, n); put(b, v, 4 * n);
}
static void header(buf *b, uint64_t n_kv) { put(b, "GGUF", 4); put_u32(b, 3); put_u64(b, 0); put_u64(b, n_kv); }
static void finish(buf *b) { unsigned char z = 0; while (b->n % 32) put(b, &z, 1); }

/* An SPM vocabulary: ids 0..2 special, 3..5 control/user-defined, bytes <0x00>..<0xFF>
 * at 6..261, then a few pieces. */
static hone_tok *spm_vocab(hone_gguf **g, buf *b, int space_prefix) {
    static const char *base[] = {"<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>", "<tag>"};
    static const char *pieces[] = {"▁", "h", "i", "▁h", "▁hi", "hi", "x"};
    const char *toks[6 + 256 + 7];
    float scores[6 + 256 + 7];
    int32_t types[6 + 256 + 7];
    static char hex[256][7];
    size_t n = 0;
    for (int i = 0; i < 6; i++, n++) {
        toks[n] = base[i];
        scores[n] = 0;
        types[n] = i == 0 ? 2 : i == 5 ? 4 : 3;
    }
    for (int i = 0; i < 256; i++, n++) {
        snprintf(hex[i], 7, "<0x%02X>", i);
        toks[n] = hex[i];
        scores[n] = 0;
        types[n] = 6;
    }
    for (int i = 0; i < 7; i++, n++) {
        toks[n] = pieces[i];
        scores[n] = -(float)i; /* "▁" best, then ... */
        types[n] = 1;
    }
    scores[6 + 256 + 4] = 10; /* "▁hi" wins over everything */
    header(b, 8);
    kv_str(b, "tokenizer.ggml.model", "llama");
    kv_strs(b, "tokenizer.ggml.tokens", toks, n);
    kv_f32s(b, "tokenizer.ggml.scores", scores, n);
    kv_i32s(b, "tokenizer.ggml.token_type", types, n);
    kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    kv_bool(b, "tokenizer.ggml.add_space_prefix", space_prefix);
    kv_bool(b, "tokenizer.ggml.add_bos_token", 1);
    finish(b);
    hone_err err = {0};
    ASSERT_OK(hone_gguf_open_mem(g, b->p, b->n, "mem.gguf", &err), &err);
    hone_tok *t;
    ASSERT_OK(hone_tok_load_gguf(&t, *g, &err), &err);
    return t;
}

#define ID_BYTE(x) (6 + (x))
#define ID_SP (6 + 256 + 0)
#define ID_H (6 + 256 + 1)
#define ID_I (6 + 256 + 2)
#define ID_SPHI (6 + 256 + 4)
#define ID_HI (6 + 256 + 5)

static void expect_ids(const hone_tok *t, const char *text, unsigned flags, const int32_t *want, size_t nw) {
    hone_err err = {0};
    int32_t *ids;
    size_t n;
    ASSERT_OK(hone_tok_encode(t, text, strlen(text), flags, &ids, &n, &err), &err);
    if (n != nw || memcmp(ids, want, n * sizeof *ids)) {
        fprintf(stderr, "'%s' flags %u: got", text, flags);
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, ", expected");
        for (size_t i = 0; i < nw; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n");
        fail();
    }
    free(ids);
}

static void test_spm_basics(void **state) {
    hone_gguf *g;
    buf b = {0};
    hone_tok *t = spm_vocab(&g, &b, 1);
    assert_int_equal(hone_tok_get_kind(t), HONE_TOK_SPM);
    assert_int_equal(hone_tok_bos(t), 1);
    assert_int_equal(hone_tok_eot(t), 4); /* <end_of_turn> found by its text */
    assert_true(hone_tok_is_eog(t, 2) && hone_tok_is_eog(t, 4) && !hone_tok_is_eog(t, 3));
    /* "hi" -> "▁hi" (space prefix); "hix" -> ▁hi x; "é" -> byte fallback C3 A9 */
    expect_ids(t, "hi", 0, (int32_t[]){ID_SPHI}, 1);
    expect_ids(t, "hi", HONE_TOK_BOS, (int32_t[]){1, ID_SPHI}, 2);
    expect_ids(t, "\xC3\xA9", 0, (int32_t[]){ID_SP, ID_BYTE(0xC3), ID_BYTE(0xA9)}, 3);
    /* control text is plain text unless HONE_TOK_SPECIAL; user-defined <tag> always */
    expect_ids(t, "hi<tag>hi", 0, (int32_t[]){ID_SPHI, 5, ID_SPHI}, 3);
    expect_ids(t, "<end_of_turn>", HONE_TOK_SPECIAL, (int32_t[]){4}, 1);
    expect_ids(t, "<end_of_turn>hi", HONE_TOK_SPECIAL, (int32_t[]){4, ID_SPHI}, 2);
    hone_err err = {0};
    int32_t *ids;
    size_t n;
    ASSERT_OK(hone_tok_encode(t, "<end_of_turn>", 13, 0, &ids, &n, &err), &err);
    assert_true(n > 1); /* spelled out with byte tokens / pieces */
    free(ids);
    /* decode: control tokens hidden unless HONE_TOK_SPECIAL; leading space rule */
    char *d;
    size_t dn;
    int32_t seq[] = {1, ID_SPHI, 4, ID_SPHI};
    ASSERT_OK(hone_tok_decode(t, seq, 4, 0, &d, &dn, &err), &err);
    assert_string_equal(d, "hi hi");
    free(d);
    ASSERT_OK(hone_tok_decode(t, seq, 4, HONE_TOK_SPECIAL, &d, &dn, &err), &err);
    assert_string_equal(d, "<s>hi<end_of_turn> hi");
    free(d);
    int32_t bad[] = {99999};
    assert_int_equal(hone_tok_decode(t, bad, 1, 0, &d, &dn, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "99999"));
    /* streaming: "é" arrives as two byte tokens; nothing comes out after the first */
    hone_tok_stream st;
    char out[64];
    size_t k;
    hone_tok_stream_init(&st, t, 0);
    ASSERT_OK(hone_tok_stream_push(&st, ID_BYTE(0xC3), out, sizeof out, &k, &err), &err);
    assert_int_equal(k, 0);
    ASSERT_OK(hone_tok_stream_push(&st, ID_BYTE(0xA9), out, sizeof out, &k, &err), &err);
    assert_int_equal(k, 2);
    assert_memory_equal(out, "\xC3\xA9", 2);
    /* an incomplete character at the end comes out on flush */
    ASSERT_OK(hone_tok_stream_push(&st, ID_BYTE(0xE2), out, sizeof out, &k, &err), &err);
    assert_int_equal(k, 0);
    assert_int_equal(hone_tok_stream_flush(&st, out), 1);
    /* an invalid continuation releases the held byte at once */
    ASSERT_OK(hone_tok_stream_push(&st, ID_BYTE(0xE2), out, sizeof out, &k, &err), &err);
    ASSERT_OK(hone_tok_stream_push(&st, ID_H, out, sizeof out, &k, &err), &err);
    assert_int_equal(k, 2);
    hone_tok_free(t);
    hone_gguf_close(g);
    free(b.p);
}

static void test_spm_no_prefix(void **state) {
    hone_gguf *g;
    buf b = {0};
    hone_tok *t = spm_vocab(&g, &b, 0);
    assert_int_equal(hone_tok_add_space_prefix(t), 0);
    expect_ids(t, "hi", 0, (int32_t[]){ID_HI}, 1);
    expect_ids(t, " hi", 0, (int32_t[]){ID_SPHI}, 1);
    hone_tok_free(t);
    hone_gguf_close(g);
    free(b.p);
}

static hone_gguf *bpe_gguf(buf *b, const char *model, const char *pre) {
    static const char *toks[] = {"a", "b", "ab", "Ġ"};
    static const char *merges[] = {"a b"};
    header(b, 4);
    kv_str(b, "tokenizer.ggml.model", model);
    kv_str(b, "tokenizer.ggml.pre", pre);
    kv_strs(b, "tokenizer.ggml.tokens", toks, 4);
    kv_strs(b, "tokenizer.ggml.merges", merges, 1);
    finish(b);
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open_mem(&g, b->p, b->n, "mem.gguf", &err), &err);
    return g;
}

static void test_bpe_errors_and_basics(void **state) {
    buf b = {0};
    hone_err err = {0};
    hone_tok *t;
    hone_gguf *g = bpe_gguf(&b, "gpt2", "no-such-pre");
    assert_int_equal(hone_tok_load_gguf(&t, g, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "'no-such-pre'"));
    hone_gguf_close(g);
    free(b.p);
    b = (buf){0};
    g = bpe_gguf(&b, "wordpiece-ish", "default");
    assert_int_equal(hone_tok_load_gguf(&t, g, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "wordpiece-ish"));
    hone_gguf_close(g);
    free(b.p);
    b = (buf){0};
    g = bpe_gguf(&b, "gpt2", "gpt-2");
    ASSERT_OK(hone_tok_load_gguf(&t, g, &err), &err);
    assert_string_equal(hone_tok_pre_name(t), "gpt-2");
    expect_ids(t, "ab", 0, (int32_t[]){2}, 1);
    expect_ids(t, "ba", 0, (int32_t[]){1, 0}, 2);
    expect_ids(t, "ab ab", 0, (int32_t[]){2, 3, 2}, 3); /* "ab", then "Ġ" + "ab" (no merge joins Ġ) */
    hone_tok_free(t);
    hone_gguf_close(g);
    free(b.p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spm_basics),
        cmocka_unit_test(test_spm_no_prefix),
        cmocka_unit_test(test_bpe_errors_and_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
