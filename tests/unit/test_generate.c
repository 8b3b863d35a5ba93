/* test_generate.c: the generation loop (src/infer/generate.c) over a scripted fake
 * model, so that batching, KV reuse (truncate), end tokens, stop strings across
 * tokens, max tokens, a full context, streaming and counts are checked without the
 * engine. The fake model's logits put 10 on the next token of a script and 0
 * elsewhere; with greedy sampling the output is the script, so every expectation
 * is exact (the text is the script's pieces, worked out by hand below). The
 * perplexity loop runs over a second fake whose probabilities are known in closed form. */
#include <math.h>

#include "testutil.h"
#include "infer/gen_internal.h"

/* ---- a tiny SPM vocabulary (metadata-only GGUF in memory) -------------------- */

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
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_str(buf *b, const char *k, const char *v) {
    put_str(b, k);
    put_u32(b, 8);
    put_str(b, v);
}
static void kv_u32(buf *b, const char *k, uint32_t v) {
    put_str(b, k);
    put_u32(b, 4);
    put_u32(b, v);
}
static void kv_bool(buf *b, const char *k, int v) {
    put_str(b, k);
    put_u32(b, 7);
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void kv_arr(buf *b, const char *k, uint32_t type, const void *v, size_t n, size_t esz,
                   const char *const *strs) {
    put_str(b, k);
    put_u32(b, 9);
    put_u32(b, type);
    put_u64(b, n);
    if (strs)
        for (size_t i = 0; i < n; i++) put_str(b, strs[i]);
    else
        put(b, v, n * esz);
}

/* ids: 0 <unk>, 1 <s>, 2 </s>, 3 <end_of_turn>, 4..259 bytes <0x00>.., then pieces */
enum { ID_BYTE0 = 4, ID_P = 4 + 256 };
static const char *PIECES[] = {"▁Hello", "▁world", "!", "▁User", ":", "▁ok", "▁caf", "é"};
enum { P_HELLO = ID_P, P_WORLD, P_BANG, P_USER, P_COLON, P_OK, P_CAF, P_E_ACUTE, N_VOCAB };
#define ID_NL (ID_BYTE0 + '\n')

static hone_gguf *g_gguf;
static buf g_buf;
static hone_tok *g_tok;

static int setup(void **state) {
    static char hex[256][7];
    const char *toks[N_VOCAB];
    float scores[N_VOCAB] = {0};
    int32_t types[N_VOCAB];
    const char *base[] = {"<unk>", "<s>", "</s>", "<end_of_turn>"};
    for (int i = 0; i < 4; i++) {
        toks[i] = base[i];
        types[i] = i == 0 ? 2 : 3;
    }
    for (int i = 0; i < 256; i++) {
        snprintf(hex[i], sizeof hex[i], "<0x%02X>", i);
        toks[ID_BYTE0 + i] = hex[i];
        types[ID_BYTE0 + i] = 6;
    }
    for (int i = 0; i < N_VOCAB - ID_P; i++) {
        toks[ID_P + i] = PIECES[i];
        types[ID_P + i] = 1;
    }
    buf *b = &g_buf;
    put(b, "GGUF", 4);
    put_u32(b, 3);
    put_u64(b, 0);
    put_u64(b, 7);
    kv_str(b, "tokenizer.ggml.model", "llama");
    kv_arr(b, "tokenizer.ggml.tokens", 8, NULL, N_VOCAB, 0, toks);
    kv_arr(b, "tokenizer.ggml.scores", 6, scores, N_VOCAB, 4, NULL);
    kv_arr(b, "tokenizer.ggml.token_type", 5, types, N_VOCAB, 4, NULL);
    kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    kv_bool(b, "tokenizer.ggml.add_space_prefix", 1);
    unsigned char z = 0;
    while (b->n % 32) put(b, &z, 1);
    hone_err err = {0};
    ASSERT_OK(hone_gguf_open_mem(&g_gguf, b->p, b->n, "mem.gguf", &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&g_tok, g_gguf, &err), &err);
    assert_int_equal(hone_tok_n_vocab(g_tok), N_VOCAB);
    assert_true(hone_tok_is_eog(g_tok, 3)); /* <end_of_turn> found by its text */
    return 0;
}

static int teardown(void **state) {
    hone_tok_free(g_tok);
    hone_gguf_close(g_gguf);
    free(g_buf.p);
    return 0;
}

/* ---- the scripted model ----------------------------------------------------------- */

typedef struct fake {
    const int32_t *script; /* what the model "wants" to say, one token per position */
    size_t n_script;
    size_t n_prompt_full;  /* where the script starts (prompt length) */
    uint32_t pos;          /* tokens held */
    uint32_t batches[64];  /* sizes of the eval calls */
    int n_batches;
    int truncated_to;
} fake;

static int fake_eval(void *ctx, const int32_t *tokens, uint32_t n, float *logits, hone_err *err) {
    fake *f = ctx;
    if (f->n_batches < 64) f->batches[f->n_batches++] = n;
    f->pos += n;
    for (int i = 0; i < N_VOCAB; i++) logits[i] = 0.0f;
    size_t k = f->pos - f->n_prompt_full; /* generated tokens so far */
    logits[k < f->n_script ? f->script[k] : P_BANG] = 10.0f;
    return HONE_OK;
}

static int fake_truncate(void *ctx, uint32_t pos, hone_err *err) {
    fake *f = ctx;
    f->truncated_to = (int)pos;
    f->pos = pos;
    return HONE_OK;
}

typedef struct text {
    char buf[256];
    size_t n;
    int calls;
} text;

static int text_fn(void *u, const char *t, size_t n) {
    text *x = u;
    assert_true(x->n + n < sizeof x->buf);
    memcpy(x->buf + x->n, t, n);
    x->n += n;
    x->buf[x->n] = 0;
    x->calls++;
    return 0;
}

static hone_sampler *greedy(void) {
    hone_sampler_params p;
    hone_sampler_params_default(&p);
    p.temperature = 0.0f;
    hone_err err = {0};
    hone_sampler *s;
    ASSERT_OK(hone_sampler_init(&s, &p, N_VOCAB, &err), &err);
    return s;
}

/* Runs the loop on a 10-token prompt; returns the stats. */
static hone_gen_stats run(const int32_t *script, size_t n_script, hone_gen_opts *o, text *out,
                          fake *f) {
    int32_t prompt[10];
    for (int i = 0; i < 10; i++) prompt[i] = P_OK;
    memset(f, 0, sizeof *f);
    f->script = script;
    f->n_script = n_script;
    f->n_prompt_full = 10;
    memset(out, 0, sizeof *out);
    o->on_text = text_fn;
    o->user = out;
    hone_gen_eval ev = {f, fake_eval, fake_truncate, NULL};
    hone_sampler *s = greedy();
    hone_gen_stats st;
    hone_err err = {0};
    ASSERT_OK(hone_generate_core(&ev, g_tok, s, prompt, 10, 0, o, &st, &err), &err);
    hone_sampler_free(s);
    return st;
}

static void test_eot_and_batches(void **state) {
    const int32_t script[] = {P_HELLO, P_WORLD, P_BANG, 3, P_OK};
    hone_gen_opts o = {.n_ctx = 100, .n_batch = 4};
    int32_t got[8];
    o.out_ids = got;
    o.out_cap = 8;
    text t;
    fake f;
    hone_gen_stats st = run(script, 5, &o, &t, &f);
    /* the first piece keeps its space: generation continues the prompt */
    assert_string_equal(t.buf, " Hello world!");
    assert_int_equal(st.finish, HONE_FINISH_EOT);
    assert_string_equal(hone_finish_name(st.finish), "eot");
    assert_int_equal(st.n_prompt, 10);
    assert_int_equal(st.n_gen, 4); /* the end token counts */
    assert_int_equal(st.n_bytes, 13);
    assert_memory_equal(got, script, 4 * sizeof *got);
    /* prompt in batches 4, 4, 2; then one eval per sampled token but the last */
    const uint32_t want[] = {4, 4, 2, 1, 1, 1};
    assert_int_equal(f.n_batches, 6);
    assert_memory_equal(f.batches, want, sizeof want);
    assert_int_equal(f.pos, 13); /* the session holds the prompt and 3 sampled tokens */
    assert_int_equal(f.truncated_to, 0);
}

static void test_stop_string_across_tokens(void **state) {
    /* "\n User:" spans three tokens; the text before it comes out, the rest not */
    const int32_t script[] = {P_OK, ID_NL, P_USER, P_COLON, P_HELLO, 3};
    const char *stops[] = {"\n User:"};
    hone_gen_opts o = {.n_ctx = 100, .stop = stops, .n_stop = 1};
    text t;
    fake f;
    hone_gen_stats st = run(script, 6, &o, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_STOP);
    assert_string_equal(t.buf, " ok");
    assert_int_equal(st.n_gen, 4);
    /* a partial match that fails is released: "\n User" then "!" */
    const int32_t script2[] = {P_OK, ID_NL, P_USER, P_BANG, 3};
    st = run(script2, 5, &o, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_EOT);
    assert_string_equal(t.buf, " ok\n User!");
}

static void test_max_tokens_and_context(void **state) {
    const int32_t script[] = {P_HELLO, P_WORLD, P_BANG, P_BANG, P_BANG, 3};
    hone_gen_opts o = {.n_ctx = 100, .max_tokens = 2};
    text t;
    fake f;
    hone_gen_stats st = run(script, 6, &o, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_LENGTH);
    assert_int_equal(st.n_gen, 2);
    assert_string_equal(t.buf, " Hello world");
    /* context 13: the prompt (10) + 3 evaluated tokens fill it; the 4th sampled token
     * cannot be evaluated, so the loop ends after sampling it */
    hone_gen_opts o2 = {.n_ctx = 13};
    st = run(script, 6, &o2, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_LENGTH);
    assert_int_equal(st.n_gen, 4);
    assert_int_equal(f.pos, 13);
    assert_string_equal(t.buf, " Hello world!!");
}

static void test_utf8_split_and_extra_eot(void **state) {
    /* "é" as two byte tokens 0xC3 0xA9: nothing comes out until the character is whole */
    const int32_t script[] = {P_CAF, ID_BYTE0 + 0xC3, ID_BYTE0 + 0xA9, P_BANG, P_OK};
    const int32_t extra_eot[] = {P_OK};
    hone_gen_opts o = {.n_ctx = 100, .eot = extra_eot, .n_eot = 1};
    text t;
    fake f;
    hone_gen_stats st = run(script, 5, &o, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_EOT);
    assert_string_equal(t.buf, " café!");
    assert_int_equal(t.calls, 3); /* " caf", "é", "!" */
    /* ignore_eog: <end_of_turn> is then just a control token (not rendered) */
    const int32_t script2[] = {P_HELLO, 3, P_WORLD};
    hone_gen_opts o2 = {.n_ctx = 100, .ignore_eog = 1, .max_tokens = 3};
    st = run(script2, 3, &o2, &t, &f);
    assert_int_equal(st.finish, HONE_FINISH_LENGTH);
    assert_string_equal(t.buf, " Hello world");
}

static void test_kv_reuse_and_errors(void **state) {
    const int32_t script[] = {P_BANG, 3};
    int32_t prompt[10];
    for (int i = 0; i < 10; i++) prompt[i] = P_OK;
    fake f = {.script = script, .n_script = 2, .n_prompt_full = 10, .pos = 12};
    hone_gen_eval ev = {&f, fake_eval, fake_truncate, NULL};
    hone_sampler *s = greedy();
    hone_gen_opts o = {.n_ctx = 100};
    hone_gen_stats st;
    hone_err err = {0};
    /* 7 of the 10 tokens already held: the session is cut to 7, 3 are evaluated */
    ASSERT_OK(hone_generate_core(&ev, g_tok, s, prompt, 10, 7, &o, &st, &err), &err);
    assert_int_equal(f.truncated_to, 7);
    assert_int_equal(f.batches[0], 3);
    assert_int_equal(st.n_prompt, 3);
    assert_int_equal(st.finish, HONE_FINISH_EOT);
    assert_int_equal(hone_generate_core(&ev, g_tok, s, prompt, 10, 10, &o, &st, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "at least one new token"));
    hone_gen_opts small = {.n_ctx = 10};
    assert_int_equal(hone_generate_core(&ev, g_tok, s, prompt, 10, 0, &small, &st, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "does not fit"));
    hone_sampler_free(s);
}

/* ---- perplexity over a fake model ---------------------------------------------------
 * The fake predicts "next = current + 1" with logit A on that token and 0 elsewhere,
 * but only in chunks whose first token is BOS (1); otherwise all logits are 0. So with
 * BOS replacement each scored position has p = e^A / (e^A + V - 1) on a hit and
 * 1 / (e^A + V - 1) on a miss, and without it PPL is exactly V. */

typedef struct pfake {
    int32_t first_tok; /* the chunk's first token */
    uint32_t pos;
    int calls, max_rows, spans;
} pfake;

static const double PA = 3.0;

static int p_truncate(void *ctx, uint32_t pos, hone_err *err) {
    pfake *f = ctx;
    assert_int_equal(pos, 0);
    f->pos = 0;
    return HONE_OK;
}

static int p_eval_rows(void *ctx, const int32_t *tokens, uint32_t n, uint32_t first, float *logits,
                       hone_err *err) {
    pfake *f = ctx;
    if (f->pos == 0) f->first_tok = tokens[0];
    if (f->pos < 5 && f->pos + n > 5) f->spans++; /* a batch across the scored boundary */
    f->calls++;
    if ((int)(n - first) > f->max_rows) f->max_rows = (int)(n - first);
    for (uint32_t i = first; i < n; i++) {
        float *row = logits + (size_t)(i - first) * N_VOCAB;
        for (int v = 0; v < N_VOCAB; v++) row[v] = 0.0f;
        if (f->first_tok == 1) row[(tokens[i] + 1) % N_VOCAB] = (float)PA;
    }
    f->pos += n;
    return HONE_OK;
}

static void test_perplexity(void **state) {
    enum { CTX = 10, NT = 2 * CTX + 5 };
    int32_t toks[NT];
    for (int i = 0; i < NT; i++) toks[i] = 100 + i;
    toks[8] = 50; /* chunk 0: positions 7 (107 -> 50) and 8 (50 -> 109) miss */
    pfake f = {0};
    hone_gen_eval ev = {&f, NULL, p_truncate, p_eval_rows};
    hone_ppl_opts o = {.n_ctx = CTX, .n_batch = 3, .bos = 1};
    hone_ppl_result r;
    hone_err err = {0};
    ASSERT_OK(hone_perplexity_core(&ev, toks, NT, N_VOCAB, &o, &r, &err), &err);
    /* 2 chunks (the 5 leftover tokens unused), positions 5..8 scored: 4 per chunk */
    assert_int_equal(r.n_chunks, 2);
    assert_int_equal(r.n_scored, 8);
    double z = exp(PA) + N_VOCAB - 1, hit = -(PA - log(z)), miss = log(z);
    double mean = (6 * hit + 2 * miss) / 8, m2 = (6 * hit * hit + 2 * miss * miss) / 8;
    double ppl = exp(mean), sd = sqrt((m2 - mean * mean) / 7) * ppl;
    print_message("ppl %.6f (hand %.6f) +/- %.6f (hand %.6f)\n", r.ppl, ppl, r.ppl_sd, sd);
    /* tolerance: the same double formulas, different summation order: 1e-9 relative */
    assert_float_equal(r.ppl, ppl, 1e-9 * ppl);
    assert_float_equal(r.ppl_sd, sd, 1e-9 * sd);
    assert_int_equal(f.spans, 0);
    assert_true(f.max_rows <= 3);

    /* no BOS replacement: the fake is uniform, PPL is the vocabulary size */
    o.bos = -1;
    o.n_batch = 512;
    memset(&f, 0, sizeof f);
    ASSERT_OK(hone_perplexity_core(&ev, toks, NT, N_VOCAB, &o, &r, &err), &err);
    assert_float_equal(r.ppl, (double)N_VOCAB, 1e-9 * N_VOCAB);
    assert_int_equal(f.calls, 4); /* per chunk: the unscored half, then the scored half */

    /* too short: 2 chunks' worth are required */
    o.n_ctx = 16;
    assert_int_equal(hone_perplexity_core(&ev, toks, NT, N_VOCAB, &o, &r, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "at least 32"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eot_and_batches),
        cmocka_unit_test(test_stop_string_across_tokens),
        cmocka_unit_test(test_max_tokens_and_context),
        cmocka_unit_test(test_utf8_split_and_extra_eot),
        cmocka_unit_test(test_kv_reuse_and_errors),
        cmocka_unit_test(test_perplexity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
