/* test_engine_session.c: engine behaviour that needs no reference numbers.
 *
 * - Loading: a tiny llama GGUF written with the GGUF writer loads; the same
 *   file without one tensor, or with one tensor of the wrong shape, fails with
 *   a message naming the tensor and the file; an unknown architecture is
 *   HONE_EUNSUPPORTED.
 * - Batching and the KV cache: the hidden states of a prompt are the same
 *   whether it is evaluated as one batch, in batches of 7 (odd, so batches
 *   straddle the sliding-window ring's wrap-around) or token by token, on the
 *   tiny gemma3 (window 8, sliding and global layers) and mistral (window 8)
 *   fixtures and on the GGUF llama; truncate + re-evaluate gives the same
 *   states again; truncating further back than a ring holds is refused.
 *   Tolerance 1e-6 relative L2: the reference ops compute each token's row
 *   independently of the batch, but the cache slots (and so the order of the
 *   softmax sum over keys, accumulated in double and rounded to f32) depend on
 *   the ring size, which depends on n_batch; that rounding is ~1e-7.
 * - Argument errors of eval (batch too large, token out of range, context full).
 */
#include <math.h>

#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

enum { G_D = 32, G_F = 48, G_H = 4, G_KV = 2, G_HD = 8, G_V = 50, G_L = 2 };

typedef struct gmodel {
    float *bufs[64];
    int n;
} gmodel;

static float *gbuf(gmodel *g, size_t n, float scale, float add) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = add + scale * frand();
    g->bufs[g->n++] = p;
    return p;
}

/* Writes a tiny llama GGUF; `skip` names a tensor to leave out, `bad` one to
 * write with a wrong shape. Returns the malloc'd path. */
static char *write_llama_gguf(const char *skip, const char *bad, const char *arch) {
    hone_err err;
    hone_gguf_writer *w;
    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    gmodel g = {0};
    ASSERT_OK(hone_gguf_writer_add_str(w, "general.architecture", arch, &err), &err);
    char k[128];
#define KU(name, v)                                             \
    snprintf(k, sizeof k, "%s." name, arch);                    \
    ASSERT_OK(hone_gguf_writer_add_u32(w, k, v, &err), &err)
    KU("block_count", G_L);
    KU("embedding_length", G_D);
    KU("feed_forward_length", G_F);
    KU("attention.head_count", G_H);
    KU("attention.head_count_kv", G_KV);
    KU("context_length", 64);
    KU("vocab_size", G_V);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    ASSERT_OK(hone_gguf_writer_add_f32(w, k, 1e-5f, &err), &err);
    struct {
        const char *name;
        uint64_t ne0, ne1;
        float scale, add;
    } ts[] = {
        {"token_embd.weight", G_D, G_V, 1, 0}, {"output_norm.weight", G_D, 1, 0.1f, 1},
        {"output.weight", G_D, G_V, 0.2f, 0},
    };
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
        uint64_t ne[2] = {ts[i].ne0, ts[i].ne1};
        if (skip && !strcmp(skip, ts[i].name)) continue;
        if (bad && !strcmp(bad, ts[i].name)) ne[0]++;
        float *p = gbuf(&g, ne[0] * ne[1], ts[i].scale, ts[i].add);
        ASSERT_OK(hone_gguf_writer_add_tensor(w, ts[i].name, HONE_F32, ne[1] > 1 ? 2 : 1, ne, p, &err), &err);
    }
    struct {
        const char *name;
        uint64_t ne0, ne1;
        float scale, add;
    } ls[] = {
        {"attn_norm.weight", G_D, 1, 0.1f, 1},   {"attn_q.weight", G_D, G_H * G_HD, 0.3f, 0},
        {"attn_k.weight", G_D, G_KV * G_HD, 0.3f, 0}, {"attn_v.weight", G_D, G_KV * G_HD, 0.3f, 0},
        {"attn_output.weight", G_H * G_HD, G_D, 0.2f, 0}, {"ffn_norm.weight", G_D, 1, 0.1f, 1},
        {"ffn_gate.weight", G_D, G_F, 0.3f, 0},  {"ffn_up.weight", G_D, G_F, 0.3f, 0},
        {"ffn_down.weight", G_F, G_D, 0.2f, 0},
    };
    for (int il = 0; il < G_L; il++)
        for (size_t i = 0; i < sizeof ls / sizeof *ls; i++) {
            char name[96];
            snprintf(name, sizeof name, "blk.%d.%s", il, ls[i].name);
            uint64_t ne[2] = {ls[i].ne0, ls[i].ne1};
            if (skip && !strcmp(skip, name)) continue;
            if (bad && !strcmp(bad, name)) ne[1]++;
            float *p = gbuf(&g, ne[0] * ne[1], ls[i].scale, ls[i].add);
            ASSERT_OK(hone_gguf_writer_add_tensor(w, name, HONE_F32, ne[1] > 1 ? 2 : 1, ne, p, &err), &err);
        }
    char *path = malloc(256);
    snprintf(path, 256, "/tmp/hone-test-engine-%ld-%d.gguf", (long)getpid(), rand());
    ASSERT_OK(hone_gguf_writer_write(w, path, &err), &err);
    hone_gguf_writer_free(w);
    for (int i = 0; i < g.n; i++) free(g.bufs[i]);
    return path;
}

static void t_load_errors(void **st) {
    hone_err err = {0};
    hone_model *m;
    char *p = write_llama_gguf(NULL, NULL, "llama");
    ASSERT_OK(hone_model_load(&m, p, NULL, &err), &err);
    assert_int_equal(hone_model_get_desc(m)->n_layers, G_L);
    assert_null(hone_model_get_tokenizer(m));
    hone_model_free(m);
    unlink(p);
    free(p);

    p = write_llama_gguf("blk.1.ffn_up.weight", NULL, "llama");
    assert_int_equal(hone_model_load(&m, p, NULL, &err), HONE_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(err.msg, "blk.1.ffn_up.weight"));
    assert_non_null(strstr(err.msg, p));
    unlink(p);
    free(p);

    p = write_llama_gguf("output_norm.weight", NULL, "llama");
    assert_int_equal(hone_model_load(&m, p, NULL, &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "output_norm.weight"));
    unlink(p);
    free(p);

    p = write_llama_gguf(NULL, "blk.0.attn_k.weight", "llama");
    assert_int_equal(hone_model_load(&m, p, NULL, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "blk.0.attn_k.weight"));
    assert_non_null(strstr(err.msg, "[32, 17]")); /* what the file has */
    assert_non_null(strstr(err.msg, "[32, 16]")); /* what was expected */
    unlink(p);
    free(p);

    p = write_llama_gguf(NULL, "output_norm.weight", "llama");
    assert_int_equal(hone_model_load(&m, p, NULL, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "output_norm.weight"));
    unlink(p);
    free(p);

    p = write_llama_gguf(NULL, NULL, "deepseek2");
    assert_int_equal(hone_model_load(&m, p, NULL, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "deepseek2"));
    unlink(p);
    free(p);

    assert_int_not_equal(hone_model_load(&m, "/nonexistent/model.gguf", NULL, &err), HONE_OK);
    hone_load_opts lo = {.adapter_path = "/nonexistent/some-adapter"}; /* a folder without adapter files */
    p = write_llama_gguf(NULL, NULL, "llama");
    assert_int_equal(hone_model_load(&m, p, &lo, &err), HONE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no adapters.safetensors"));
    unlink(p);
    free(p);
}

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

/* Evaluates tok[0..T) in chunks of `chunk` tokens (session batch n_batch), collecting hidden (T, D). */
static void eval_chunks(hone_session *s, const int32_t *tok, uint32_t T, uint32_t chunk, float *hidden, size_t D) {
    hone_err err;
    for (uint32_t i = 0; i < T; i += chunk) {
        uint32_t n = T - i < chunk ? T - i : chunk;
        hone_eval_out out = {.hidden = hidden + i * D};
        ASSERT_OK(hone_session_eval(s, tok + i, n, &out, &err), &err);
    }
}

static void check_batching(const char *path, uint32_t T, uint32_t window) {
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE};
    ASSERT_OK(hone_model_load(&m, path, &lo, &err), &err);
    const hone_model_desc *d = hone_model_get_desc(m);
    assert_int_equal(d->sliding_window, window);
    size_t D = d->hidden;
    int32_t *tok = malloc(T * sizeof *tok);
    for (uint32_t t = 0; t < T; t++) tok[t] = (int32_t)((t * 7919u + 13) % d->vocab);
    float *h_all = malloc(T * D * 4), *h7 = malloc(T * D * 4), *h1 = malloc(T * D * 4), *hr = malloc(T * D * 4);

    hone_session *s;
    hone_session_opts so = {.n_ctx = T, .n_batch = T, .n_threads = 2};
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    eval_chunks(s, tok, T, T, h_all, D);
    hone_session_free(s);

    so.n_batch = 7;
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    eval_chunks(s, tok, T, 7, h7, D);
    assert_int_equal(hone_session_pos(s), T);
    /* truncate to a point the ring still holds, re-evaluate the rest */
    uint32_t back = T - 5;
    ASSERT_OK(hone_session_truncate(s, back, &err), &err);
    assert_int_equal(hone_session_pos(s), back);
    memcpy(hr, h7, back * D * 4);
    eval_chunks(s, tok + back, T - back, 7, hr + back * D, D);
    if (window) { /* too far back for a ring of window + 7 slots */
        assert_int_equal(hone_session_truncate(s, 2, &err), HONE_EARG);
        assert_non_null(strstr(err.msg, "sliding-window"));
    }
    ASSERT_OK(hone_session_truncate(s, 0, &err), &err);
    eval_chunks(s, tok, T, 3, h1, D); /* from 0 again, other chunks */
    assert_true(rel_l2(h1, h7, T * D) < 1e-6);
    hone_session_free(s);

    so.n_batch = 1;
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    eval_chunks(s, tok, T, 1, h1, D);
    hone_session_free(s);

    for (uint32_t t = 0; t < T; t++) {
        double e7 = rel_l2(h7 + t * D, h_all + t * D, D), e1 = rel_l2(h1 + t * D, h_all + t * D, D);
        double er = rel_l2(hr + t * D, h_all + t * D, D);
        if (e7 > 1e-6 || e1 > 1e-6 || er > 1e-6)
            fail_msg("%s position %u: rel L2 vs one batch: batches of 7 %.2e, token by token %.2e, after truncate %.2e",
                     path, t, e7, e1, er);
    }
    /* the window matters: a sliding model's late states differ from a run that only saw the last window */
    free(tok), free(h_all), free(h7), free(h1), free(hr);
    hone_model_free(m);
}

static void t_batching_gemma3(void **st) {
    if (access("tests/fixtures/engine/tiny-gemma3/config.json", R_OK)) skip();
    check_batching("tests/fixtures/engine/tiny-gemma3", 40, 8);
}
static void t_batching_mistral(void **st) {
    if (access("tests/fixtures/engine/tiny-mistral/config.json", R_OK)) skip();
    check_batching("tests/fixtures/engine/tiny-mistral", 40, 8);
}
static void t_batching_gguf(void **st) {
    char *p = write_llama_gguf(NULL, NULL, "llama");
    check_batching(p, 30, 0);
    unlink(p);
    free(p);
}

static void t_eval_errors(void **st) {
    hone_err err = {0};
    hone_model *m;
    char *p = write_llama_gguf(NULL, NULL, "llama");
    ASSERT_OK(hone_model_load(&m, p, NULL, &err), &err);
    hone_session *s;
    hone_session_opts so = {.n_ctx = 10, .n_batch = 4, .n_threads = 1};
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    assert_int_equal(hone_session_n_ctx(s), 10);
    { /* default context: min(model context, 4096) */
        hone_session *s0;
        ASSERT_OK(hone_session_init(&s0, m, NULL, &err), &err);
        uint32_t c = hone_model_get_desc(m)->context;
        assert_int_equal(hone_session_n_ctx(s0), c && c < 4096 ? c : 4096);
        hone_session_free(s0);
    }
    int32_t tok[5] = {1, 2, 3, 4, 5};
    float logits[2 * G_V];
    hone_eval_out out = {.logits = logits};
    assert_int_equal(hone_session_eval(s, tok, 5, &out, &err), HONE_EARG);
    int32_t badt[2] = {1, G_V};
    assert_int_equal(hone_session_eval(s, badt, 2, &out, &err), HONE_EARG);
    assert_int_equal(hone_session_pos(s), 0);
    uint32_t rows[2] = {0, 3};
    hone_eval_out out2 = {.logits = logits, .rows = rows, .n_rows = 2};
    ASSERT_OK(hone_session_eval(s, tok, 4, &out2, &err), &err);
    /* row 3 of a batch of 4 is the last token: same as the default (last row only) */
    float last[G_V];
    ASSERT_OK(hone_session_truncate(s, 0, &err), &err);
    hone_eval_out out3 = {.logits = last};
    ASSERT_OK(hone_session_eval(s, tok, 4, &out3, &err), &err);
    assert_memory_equal(last, logits + G_V, sizeof last);
    rows[1] = 4;
    assert_int_equal(hone_session_eval(s, tok, 4, &out2, &err), HONE_EARG);
    ASSERT_OK(hone_session_eval(s, tok, 4, &out, &err), &err);
    assert_int_equal(hone_session_eval(s, tok, 3, &out, &err), HONE_EARG); /* 8 + 3 > 10 */
    assert_int_equal(hone_session_truncate(s, 9, &err), HONE_EARG);
    hone_session_free(s);
    hone_model_free(m);
    unlink(p);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_load_errors),     cmocka_unit_test(t_batching_gemma3),
        cmocka_unit_test(t_batching_mistral), cmocka_unit_test(t_batching_gguf),
        cmocka_unit_test(t_eval_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
