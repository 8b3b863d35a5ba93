/* test_model_desc.c: the model description from GGUF metadata: the real
 * models (numbers from their GGUF keys and model cards; parameter counts are
 * the sums of gguf-py's per-tensor element counts, which
 * tests/interop/test_inspect_vs_ggufpy.py re-checks), agreement with the HF
 * config.json of the same model (tests/fixtures/hf/), and hand-built GGUF
 * files for llama.cpp's defaults and the error cases. */
#include "ggufbuild.h"
#include "testutil.h"

static void desc_of(const char *path, hone_model_desc *d) {
    hone_err err = {0};
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, path, &err), &err);
    ASSERT_OK(hone_model_desc_from_gguf(d, g, &err), &err);
    hone_gguf_close(g);
}

/* Every field but the source-dependent ones (source, norm_add, n_params, and
 * rope_freqs_tensor which only GGUF has) must agree. */
static void assert_same_model(const hone_model_desc *a, const hone_model_desc *b) {
    hone_model_desc x = *a, y = *b;
    x.source = y.source = 0;
    x.norm_add = y.norm_add = 0;
    x.n_params = y.n_params = 0;
    x.rope_freqs_tensor = y.rope_freqs_tensor = 0;
#define SAME(f) if (x.f != y.f) fail_msg("field " #f " differs: %g vs %g", (double)x.f, (double)y.f)
    SAME(arch); SAME(n_layers); SAME(hidden); SAME(ffn_hidden); SAME(n_heads); SAME(n_kv_heads);
    SAME(head_dim); SAME(head_dim_v); SAME(vocab); SAME(context); SAME(rms_eps); SAME(rope_theta);
    SAME(rope_theta_local); SAME(rope_dim); SAME(rope_scaling); SAME(rope_factor); SAME(sliding_window);
    SAME(sliding_pattern); SAME(query_pre_attn_scalar); SAME(final_logit_softcap); SAME(attn_logit_softcap);
    SAME(tied_embeddings); SAME(qkv_bias); SAME(qk_norm); SAME(post_norms); SAME(embed_scale); SAME(act);
#undef SAME
    assert_memory_equal(x.layer_sliding, y.layer_sliding, sizeof x.layer_sliding);
    assert_memory_equal(&x, &y, sizeof x); /* nothing else left over */
}

static void test_gemma_gguf(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_model_desc d;
    desc_of(path, &d);
    assert_int_equal(d.arch, HONE_ARCH_GEMMA3);
    assert_string_equal(hone_arch_name(d.arch), "gemma3");
    assert_int_equal(d.source, HONE_SOURCE_GGUF);
    assert_int_equal(d.n_layers, 18);
    assert_int_equal(d.hidden, 640);
    assert_int_equal(d.ffn_hidden, 2048);
    assert_int_equal(d.n_heads, 4);
    assert_int_equal(d.n_kv_heads, 1);
    assert_int_equal(d.head_dim, 256);
    assert_int_equal(d.vocab, 262144);
    assert_int_equal(d.context, 32768);
    assert_true(d.rms_eps == 1e-6f);
    assert_true(d.rope_theta == 1e6f);
    assert_true(d.rope_theta_local == 1e4f); /* llama.cpp's gemma3 default */
    assert_int_equal(d.sliding_window, 512);
    assert_int_equal(d.sliding_pattern, 6);
    for (uint32_t i = 0; i < 18; i++) assert_int_equal(hone_model_layer_is_sliding(&d, i), i % 6 != 5);
    assert_true(d.query_pre_attn_scalar == 256.0f);
    assert_true(d.tied_embeddings);
    assert_false(d.qkv_bias);
    assert_true(d.norm_add == 0.0f); /* GGUF stores gemma norms as w + 1 */
    assert_int_equal(d.n_params, 268098176);
}

static void test_smollm_gguf(void **state) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_model_desc d;
    desc_of(path, &d);
    assert_int_equal(d.arch, HONE_ARCH_LLAMA);
    assert_int_equal(d.n_layers, 30);
    assert_int_equal(d.hidden, 576);
    assert_int_equal(d.ffn_hidden, 1536);
    assert_int_equal(d.n_heads, 9);
    assert_int_equal(d.n_kv_heads, 3);
    assert_int_equal(d.head_dim, 64);
    assert_int_equal(d.rope_dim, 64);
    assert_int_equal(d.vocab, 49152);
    assert_int_equal(d.context, 8192);
    assert_true(d.rms_eps == 1e-5f);
    assert_true(d.rope_theta == 1e5f);
    assert_int_equal(d.sliding_window, 0);
    assert_true(d.tied_embeddings);
    assert_false(d.qkv_bias);
    assert_int_equal(d.n_params, 134515008);
}

static void test_gguf_matches_hf(void **state) {
    REQUIRE_MODEL(gemma, GEMMA_GGUF);
    REQUIRE_MODEL(smol, SMOL_GGUF);
    hone_model_desc a, b;
    hone_err err = {0};
    desc_of(gemma, &a);
    ASSERT_OK(hone_model_desc_from_hf_config(&b, "tests/fixtures/hf/gemma3-270m.json", &err), &err);
    assert_same_model(&a, &b);
    ASSERT_OK(hone_model_desc_from_hf_config(&b, "tests/fixtures/hf/gemma3-270m-nested.json", &err), &err);
    assert_same_model(&a, &b);
    desc_of(smol, &a);
    ASSERT_OK(hone_model_desc_from_hf_config(&b, "tests/fixtures/hf/smollm2-135m.json", &err), &err);
    assert_same_model(&a, &b);
}

/* ---- hand-built GGUF ------------------------------------------------------------ */

static const char *TOKS[] = {"<pad>", "<eos>", "<bos>", "a", "b"};

/* Opens bytes as GGUF and builds the description. */
static int desc_mem(gb *b, hone_model_desc *d, hone_err *err) {
    hone_gguf *g;
    int rc = hone_gguf_open_mem(&g, b->p, b->n, "tiny.gguf", err);
    if (rc) fail_msg("gguf open: %s", err->msg);
    rc = hone_model_desc_from_gguf(d, g, err);
    hone_gguf_close(g);
    free(b->p);
    return rc;
}

/* Writes 7 keys (6 without block_count). */
static void base_kv(gb *b, const char *arch, int with_blocks) {
    char k[128];
    gb_kv_str(b, "general.architecture", arch);
    if (with_blocks) {
        snprintf(k, sizeof k, "%s.block_count", arch);
        gb_kv_u32(b, k, 12);
    }
    snprintf(k, sizeof k, "%s.embedding_length", arch);
    gb_kv_u32(b, k, 64);
    snprintf(k, sizeof k, "%s.feed_forward_length", arch);
    gb_kv_u32(b, k, 128);
    snprintf(k, sizeof k, "%s.attention.head_count", arch);
    gb_kv_u32(b, k, 4);
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    gb_kv_f32(b, k, 1e-6f);
    gb_kv_strs(b, "tokenizer.ggml.tokens", TOKS, 5);
}

static void test_gemma3_no_window(void **state) {
    gb b;
    gb_begin(&b, 1, 7);
    base_kv(&b, "gemma3", 1);
    gb_tensor_f32(&b, "token_embd.weight", 64, 5, 0);
    gb_data(&b, 64 * 5 * 4);
    hone_model_desc d;
    hone_err err = {0};
    ASSERT_OK(desc_mem(&b, &d, &err), &err);
    assert_int_equal(d.arch, HONE_ARCH_GEMMA3);
    assert_int_equal(d.n_layers, 12);
    assert_int_equal(d.n_kv_heads, 4);  /* defaults to head_count */
    assert_int_equal(d.head_dim, 16);   /* embedding_length / head_count */
    assert_int_equal(d.vocab, 5);       /* token list length */
    assert_true(d.rope_theta == 10000.0f);
    assert_int_equal(d.sliding_window, 0); /* no window key: every layer global */
    for (uint32_t i = 0; i < 12; i++) assert_int_equal(d.layer_sliding[i], 0);
    assert_true(d.rope_theta_local == d.rope_theta);
    assert_true(d.tied_embeddings);
    assert_int_equal(d.n_params, 64 * 5);
}

static void test_qwen2_bias_and_scaling(void **state) {
    gb b;
    gb_begin(&b, 3, 10);
    base_kv(&b, "qwen2", 1);
    gb_kv_str(&b, "qwen2.rope.scaling.type", "linear");
    gb_kv_f32(&b, "qwen2.rope.scaling.factor", 4.0f);
    gb_kv_u32(&b, "qwen2.attention.head_count_kv", 2);
    gb_tensor_f32(&b, "token_embd.weight", 64, 5, 0);
    gb_tensor_f32(&b, "output.weight", 64, 5, 1280);
    gb_tensor_f32(&b, "blk.0.attn_q.bias", 64, 1, 2560);
    gb_data(&b, 2560 + 256);
    hone_model_desc d;
    hone_err err = {0};
    ASSERT_OK(desc_mem(&b, &d, &err), &err);
    assert_int_equal(d.arch, HONE_ARCH_QWEN2);
    assert_true(d.qkv_bias);
    assert_false(d.tied_embeddings);
    assert_int_equal(d.n_kv_heads, 2);
    assert_int_equal(d.rope_scaling, HONE_ROPE_SCALING_LINEAR);
    assert_true(d.rope_factor == 4.0f);
    assert_int_equal(d.n_params, 64 * 5 * 2 + 64);
}

static void test_gguf_errors(void **state) {
    hone_model_desc d;
    hone_err err = {0};
    gb b;
    gb_begin(&b, 0, 7);
    base_kv(&b, "phi3", 1);
    assert_int_equal(desc_mem(&b, &d, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "tiny.gguf"));
    assert_non_null(strstr(err.msg, "'phi3'"));
    assert_non_null(strstr(err.msg, "gemma3, llama"));

    gb_begin(&b, 0, 6);
    base_kv(&b, "llama", 0);
    assert_int_equal(desc_mem(&b, &d, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "llama.block_count"));

    gb_begin(&b, 0, 8);
    base_kv(&b, "llama", 1);
    gb_kv_u32(&b, "llama.attention.head_count_kv", 3); /* does not divide 4 */
    assert_int_equal(desc_mem(&b, &d, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "kv heads"));

    gb_begin(&b, 0, 8);
    base_kv(&b, "llama", 1);
    gb_kv_str(&b, "llama.rope.scaling.type", "longrope");
    assert_int_equal(desc_mem(&b, &d, &err), HONE_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "longrope"));

    gb_begin(&b, 0, 1);
    gb_kv_u32(&b, "general.alignment", 32);
    assert_int_equal(desc_mem(&b, &d, &err), HONE_EFORMAT);
    assert_non_null(strstr(err.msg, "general.architecture"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma_gguf),
        cmocka_unit_test(test_smollm_gguf),
        cmocka_unit_test(test_gguf_matches_hf),
        cmocka_unit_test(test_gemma3_no_window),
        cmocka_unit_test(test_qwen2_bias_and_scaling),
        cmocka_unit_test(test_gguf_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
