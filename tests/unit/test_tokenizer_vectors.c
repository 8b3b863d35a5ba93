/* test_tokenizer_vectors.c: exact tokenizer ids against llama.cpp's test vectors,
 * and decode(encode(s)) == s round trips.
 *
 * Reference: ../shared/testdata/tokenizer/ggml-vocab-NAME.gguf (vocab-only GGUF) with
 * NAME.gguf.inp (strings, each followed by a line "__ggml_vocab_test__") and
 * NAME.gguf.out (one line of expected ids per string, made by llama.cpp with
 * special tokens off and no BOS). Tolerance: none, every id must match.
 * The folder is $HONE_TESTDATA/tokenizer, else ../shared/testdata/tokenizer
 * (the repository is cloned with shared/ beside it). Missing folder: skipped.
 *
 * Round trip: for every vector string, for random valid UTF-8 strings (seeded)
 * and random byte strings (invalid UTF-8 included), decode(encode(s)) must give s
 * back byte for byte, and the streaming decoder must give the same bytes and
 * never end a chunk inside a UTF-8 character. Random strings avoid U+2581 ('▁',
 * which SentencePiece vocabularies read as a space by design) and special-token
 * text. */
#define _GNU_SOURCE /* memmem */
#include "testutil.h"

static const char *testdata_dir(void) {
    static char buf[4096];
    const char *e = getenv("HONE_TESTDATA");
    snprintf(buf, sizeof buf, "%s/tokenizer", e ? e : "../shared/testdata");
    return access(buf, R_OK) == 0 ? buf : NULL;
}

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) b[sz] = 0;
    *n = (size_t)sz;
    return b;
}

static hone_tok *load_tok(const char *path, hone_gguf **gout) {
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    hone_tok *t;
    ASSERT_OK(hone_tok_load_gguf(&t, g, &err), &err);
    *gout = g;
    return t;
}

static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stderr);
        else if (c == '\t') fputs("\\t", stderr);
        else if (c < 0x20) fprintf(stderr, "\\x%02x", c);
        else fputc(c, stderr);
    }
}

/* decode(encode(s)) == s, and the stream gives the same bytes; returns 1 on success. */
static int roundtrip(const hone_tok *t, const char *s, size_t n, int check_utf8_chunks) {
    hone_err err = {0};
    int32_t *ids;
    size_t nid;
    if (hone_tok_encode(t, s, n, 0, &ids, &nid, &err) != HONE_OK) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        return 0;
    }
    char *d;
    size_t dn;
    int ok = hone_tok_decode(t, ids, nid, 0, &d, &dn, &err) == HONE_OK && dn == n && !memcmp(d, s, n);
    if (!ok) {
        fprintf(stderr, "round trip mismatch: '");
        print_escaped(s, n);
        fprintf(stderr, "' -> '");
        print_escaped(d ? d : "", d ? dn : 0);
        fprintf(stderr, "'\n");
    }
    /* streaming */
    size_t cap = hone_tok_max_bytes(t) + 4, total = 0;
    char *chunk = malloc(cap), *acc = malloc(dn + 8);
    hone_tok_stream st;
    hone_tok_stream_init(&st, t, 0);
    for (size_t i = 0; i < nid && ok; i++) {
        size_t k;
        if (hone_tok_stream_push(&st, ids[i], chunk, cap, &k, &err) != HONE_OK || total + k > dn) {
            ok = 0;
            break;
        }
        memcpy(acc + total, chunk, k);
        total += k;
        if (check_utf8_chunks && total < dn && ((unsigned char)d[total] & 0xC0) == 0x80) {
            fprintf(stderr, "stream chunk ends inside a UTF-8 character\n");
            ok = 0;
        }
    }
    if (ok) {
        char tail[4];
        size_t k = hone_tok_stream_flush(&st, tail);
        if (total + k > dn) ok = 0;
        else {
            memcpy(acc + total, tail, k);
            total += k;
            ok = total == dn && !memcmp(acc, d, dn);
        }
        if (!ok) fprintf(stderr, "stream decode differs from decode\n");
    }
    free(chunk);
    free(acc);
    free(d);
    free(ids);
    return ok;
}

static void run_vocab(const char *name) {
    const char *dir = testdata_dir();
    if (!dir) {
        print_message("[ SKIPPED  ] tokenizer test data not found ($HONE_TESTDATA or ../shared/testdata)\n");
        skip();
    }
    char gp[4200], ip[4210], op[4210];
    snprintf(gp, sizeof gp, "%s/ggml-vocab-%s.gguf", dir, name);
    snprintf(ip, sizeof ip, "%s.inp", gp);
    snprintf(op, sizeof op, "%s.out", gp);
    hone_gguf *g;
    hone_tok *t = load_tok(gp, &g);
    size_t ni, no;
    char *inp = read_all(ip, &ni), *outp = read_all(op, &no);
    assert_non_null(inp);
    assert_non_null(outp);
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t seplen = strlen(sep);
    char *pos = inp, *line = outp;
    int n_str = 0, n_ok = 0, n_rt = 0;
    hone_err err = {0};
    for (;;) {
        char *e = memmem(pos, (size_t)(inp + ni - pos), sep, seplen);
        if (!e) break;
        size_t slen = (size_t)(e - pos);
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        int32_t want[4096];
        size_t nw = 0;
        for (char *q = line; *q;) {
            char *end;
            long v = strtol(q, &end, 10);
            if (end == q) break;
            assert_true(nw < 4096);
            want[nw++] = (int32_t)v;
            q = end;
        }
        int32_t *ids;
        size_t nid;
        ASSERT_OK(hone_tok_encode(t, pos, slen, 0, &ids, &nid, &err), &err);
        int ok = nid == nw && (nw == 0 || !memcmp(ids, want, nw * sizeof *ids));
        if (!ok) {
            fprintf(stderr, "%s: MISMATCH on '", name);
            print_escaped(pos, slen);
            fprintf(stderr, "'\n  expected:");
            for (size_t i = 0; i < nw; i++) fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n  got:     ");
            for (size_t i = 0; i < nid; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        n_ok += ok;
        n_rt += roundtrip(t, pos, slen, 1);
        n_str++;
        free(ids);
        pos = e + seplen;
        line = nl + 1;
    }
    print_message("%-15s %d/%d strings match llama.cpp's ids, %d/%d round trips exact\n", name, n_ok,
                  n_str, n_rt, n_str);
    assert_true(n_str >= 40);
    assert_int_equal(n_ok, n_str);
    assert_int_equal(n_rt, n_str);
    free(inp);
    free(outp);
    hone_tok_free(t);
    hone_gguf_close(g);
}

static void test_llama_spm(void **state) { run_vocab("llama-spm"); }
static void test_phi3(void **state) { run_vocab("phi-3"); }
static void test_gpt2(void **state) { run_vocab("gpt-2"); }
static void test_deepseek_llm(void **state) { run_vocab("deepseek-llm"); }
static void test_deepseek_coder(void **state) { run_vocab("deepseek-coder"); }
static void test_starcoder(void **state) { run_vocab("starcoder"); }

/* ---- property test: random strings ------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static size_t put_cp(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

/* A random valid UTF-8 string of up to maxc characters from a mix of scripts,
 * using only bytes with ok[byte] set. */
static size_t rand_utf8(char *o, int maxc, const unsigned char *ok) {
    static const uint32_t ranges[][2] = {
        {0x20, 0x7E}, {0x20, 0x20}, {0x0A, 0x0A}, {0x09, 0x09}, {0x30, 0x39}, {0xA0, 0xFF},
        {0x400, 0x4FF}, {0x600, 0x6FF}, {0x900, 0x97F}, {0x3040, 0x30FF}, {0x4E00, 0x9FFF},
        {0xAC00, 0xD7A3}, {0x1F300, 0x1F64F}, {0x200D, 0x200D}, {0xFE0F, 0xFE0F}, {0x1, 0x1F},
        {0x10000, 0x10FFFF},
    };
    int nc = (int)(rnd() % (uint32_t)maxc);
    size_t n = 0;
    const int nr = (int)(sizeof ranges / sizeof ranges[0]);
    int r = (int)(rnd() % nr);
    for (int i = 0; i < nc; i++) {
        if (rnd() % 4 == 0) r = (int)(rnd() % nr); /* runs of one script */
        uint32_t cp = ranges[r][0] + rnd() % (ranges[r][1] - ranges[r][0] + 1);
        if (cp == 0x2581 || (cp >= 0xD800 && cp <= 0xDFFF) || cp == '<') cp = 'x';
        size_t k = put_cp(o + n, cp);
        for (size_t j = 0; j < k; j++)
            if (!ok[(unsigned char)o[n + j]]) k = put_cp(o + n, 'x');
        n += k;
    }
    return n;
}

static void property_on(const char *path, const char *label) {
    hone_gguf *g;
    hone_tok *t = load_tok(path, &g);
    char buf[4096];
    int n_ok = 0, n = 0, n_bytes_ok = 0, nb = 0, n_unrep = 0;
    /* bytes the vocabulary can represent at all (encode+decode of the byte alone) */
    unsigned char ok[256];
    for (int b = 0; b < 256; b++) {
        char c = (char)b, *d;
        int32_t *ids;
        size_t ni, dn;
        hone_err err = {0};
        ASSERT_OK(hone_tok_encode(t, &c, 1, 0, &ids, &ni, &err), &err);
        ASSERT_OK(hone_tok_decode(t, ids, ni, 0, &d, &dn, &err), &err);
        /* SPM: a lone space decodes to "" (the prefix rule); it is representable */
        ok[b] = (dn == 1 && d[0] == c) || (b == ' ' && hone_tok_get_kind(t) == HONE_TOK_SPM);
        /* a lone continuation byte or lead is valid only as a byte token: fine too */
        n_unrep += !ok[b];
        free(ids);
        free(d);
    }
    ok['x'] = 1;
    for (int i = 0; i < 400; i++) {
        size_t len = rand_utf8(buf, 300, ok);
        n_ok += roundtrip(t, buf, len, 1);
        n++;
    }
    for (int i = 0; i < 200; i++) { /* arbitrary bytes: invalid UTF-8 must round-trip too */
        size_t len = rnd() % 64;
        for (size_t k = 0; k < len; k++) {
            buf[k] = (char)(rnd() & 0xFF);
            if (buf[k] == '<' || !ok[(unsigned char)buf[k]]) buf[k] = 'x';
        }
        n_bytes_ok += roundtrip(t, buf, len, 0);
        nb++;
    }
    print_message("%-15s random UTF-8: %d/%d round trips exact; random bytes: %d/%d "
                  "(%d byte values the vocabulary cannot represent, left out)\n",
                  label, n_ok, n, n_bytes_ok, nb, n_unrep);
    assert_true(n_unrep < 32);
    assert_int_equal(n_ok, n);
    assert_int_equal(n_bytes_ok, nb);
    hone_tok_free(t);
    hone_gguf_close(g);
}

static void test_property_vectors(void **state) {
    const char *dir = testdata_dir();
    if (!dir) {
        print_message("[ SKIPPED  ] tokenizer test data not found\n");
        skip();
    }
    static const char *names[] = {"llama-spm", "phi-3", "gpt-2", "deepseek-llm", "deepseek-coder",
                                  "starcoder"};
    for (size_t i = 0; i < 6; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/ggml-vocab-%s.gguf", dir, names[i]);
        property_on(p, names[i]);
    }
}

static void test_property_gemma(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    property_on(path, "gemma-3");
}

static void test_property_smollm(void **state) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    property_on(path, "smollm2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_spm),      cmocka_unit_test(test_phi3),
        cmocka_unit_test(test_gpt2),           cmocka_unit_test(test_deepseek_llm),
        cmocka_unit_test(test_deepseek_coder), cmocka_unit_test(test_starcoder),
        cmocka_unit_test(test_property_vectors), cmocka_unit_test(test_property_gemma),
        cmocka_unit_test(test_property_smollm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
