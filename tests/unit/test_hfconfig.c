/* test_hfconfig.c: HF config.json -> hone_model_desc on the committed samples
 * (tests/fixtures/hf/, copies of published configs) and on malformed inputs.
 * Expected values are the numbers in those configs, or transformers' class
 * defaults where a config leaves a key out (noted at each check). Floats read
 * from JSON are compared exactly as floats: the parser narrows the JSON double
 * once, as the test's literal is narrowed. */
#include "testutil.h"

#define FIX "tests/fixtures/hf/"

static hone_model_desc load(const char *file) {
    hone_model_desc d;
    hone_err err = {0};
    ASSERT_OK(hone_model_desc_from_hf_config(&d, file, &err), &err);
    return d;
}

static int n_sliding(const hone_model_desc *d) {
    int n = 0;
    for (uint32_t i = 0; i < d->n_layers; i++) n += d->layer_sliding[i];
    return n;
}

static void check_gemma270m(const hone_model_desc *d) {
    assert_int_equal(d->arch, HONE_ARCH_GEMMA3);
    assert_int_equal(d->source, HONE_SOURCE_HF);
    assert_int_equal(d->n_layers, 18);
    assert_int_equal(d->hidden, 640);
    assert_int_equal(d->ffn_hidden, 2048);
    assert_int_equal(d->n_heads, 4);
    assert_int_equal(d->n_kv_heads, 1);
    assert_int_equal(d->head_dim, 256);
    assert_int_equal(d->vocab, 262144);
    assert_int_equal(d->context, 32768);
    assert_true(d->rms_eps == 1e-6f);
    assert_true(d->rope_theta == 1e6f);
    assert_true(d->rope_theta_local == 1e4f);
    assert_int_equal(d->rope_scaling, HONE_ROPE_SCALING_NONE);
    assert_int_equal(d->sliding_window, 512);
    assert_int_equal(d->sliding_pattern, 6);
    for (uint32_t i = 0; i < 18; i++) assert_int_equal(d->layer_sliding[i], i % 6 != 5);
    assert_true(d->query_pre_attn_scalar == 256.0f);
    assert_true(d->final_logit_softcap == 0 && d->attn_logit_softcap == 0);
    assert_true(d->tied_embeddings); /* Gemma3TextConfig default */
    assert_false(d->qkv_bias);
    assert_true(d->qk_norm && d->post_norms && d->embed_scale);
    assert_int_equal(d->act, HONE_ACT_GELU_TANH);
    assert_true(d->norm_add == 1.0f);
}

static void test_gemma3_flat(void **state) {
    hone_model_desc d = load(FIX "gemma3-270m.json");
    check_gemma270m(&d);
}

static void test_gemma3_nested_same_as_flat(void **state) {
    hone_model_desc a = load(FIX "gemma3-270m.json"), b = load(FIX "gemma3-270m-nested.json");
    check_gemma270m(&b);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_gemma3_4b_defaults(void **state) {
    hone_model_desc d = load(FIX "gemma3-4b-it.json");
    assert_int_equal(d.arch, HONE_ARCH_GEMMA3);
    assert_int_equal(d.n_layers, 34);
    assert_int_equal(d.hidden, 2560);
    assert_int_equal(d.ffn_hidden, 10240);
    /* absent from text_config: Gemma3TextConfig defaults */
    assert_int_equal(d.n_heads, 8);
    assert_int_equal(d.n_kv_heads, 4);
    assert_int_equal(d.head_dim, 256);
    assert_int_equal(d.vocab, 262208);
    assert_int_equal(d.context, 131072);
    assert_true(d.rope_theta == 1e6f && d.rope_theta_local == 1e4f);
    assert_true(d.query_pre_attn_scalar == 256.0f);
    assert_int_equal(d.rope_scaling, HONE_ROPE_SCALING_LINEAR);
    assert_true(d.rope_factor == 8.0f);
    assert_int_equal(d.sliding_window, 1024);
    assert_int_equal(d.sliding_pattern, 6);
    assert_int_equal(n_sliding(&d), 34 - 5); /* global: 5, 11, 17, 23, 29 */
    assert_int_equal(d.layer_sliding[29], 0);
    assert_int_equal(d.layer_sliding[33], 1);
    assert_true(d.tied_embeddings);
}

static void test_gemma3_pattern_key(void **state) {
    hone_model_desc d = load(FIX "gemma3-1b-pattern.json");
    assert_int_equal(d.n_layers, 26);
    assert_int_equal(d.hidden, 1152);
    assert_int_equal(d.sliding_pattern, 6);
    assert_int_equal(n_sliding(&d), 26 - 4);
    for (uint32_t i = 0; i < 26; i++) assert_int_equal(d.layer_sliding[i], (i + 1) % 6 != 0);
}

static void test_llama_smollm(void **state) {
    hone_model_desc d = load(FIX "smollm2-135m.json");
    assert_int_equal(d.arch, HONE_ARCH_LLAMA);
    assert_int_equal(d.n_layers, 30);
    assert_int_equal(d.hidden, 576);
    assert_int_equal(d.ffn_hidden, 1536);
    assert_int_equal(d.n_heads, 9);
    assert_int_equal(d.n_kv_heads, 3);
    assert_int_equal(d.head_dim, 64);
    assert_int_equal(d.vocab, 49152);
    assert_int_equal(d.context, 8192);
    assert_true(d.rms_eps == 1e-5f);
    assert_true(d.rope_theta == 1e5f && d.rope_theta_local == 1e5f);
    assert_int_equal(d.sliding_window, 0);
    assert_int_equal(n_sliding(&d), 0);
    assert_true(d.tied_embeddings);
    assert_false(d.qkv_bias || d.qk_norm || d.post_norms || d.embed_scale);
    assert_int_equal(d.act, HONE_ACT_SILU);
    assert_true(d.norm_add == 0.0f);
    assert_true(d.query_pre_attn_scalar == 64.0f);
}

static void test_llama3_rope(void **state) {
    hone_model_desc d = load(FIX "llama-3.2-1b.json");
    assert_int_equal(d.arch, HONE_ARCH_LLAMA);
    assert_int_equal(d.n_layers, 16);
    assert_int_equal(d.head_dim, 64);
    assert_int_equal(d.n_kv_heads, 8);
    assert_int_equal(d.vocab, 128256);
    assert_true(d.rope_theta == 5e5f);
    assert_int_equal(d.rope_scaling, HONE_ROPE_SCALING_LLAMA3);
    assert_true(d.rope_factor == 32.0f);
    assert_true(d.rope_low_freq_factor == 1.0f);
    assert_true(d.rope_high_freq_factor == 4.0f);
    assert_int_equal(d.rope_orig_context, 8192);
}

static void test_mistral(void **state) {
    hone_model_desc d = load(FIX "mistral-7b-v0.1.json");
    assert_int_equal(d.arch, HONE_ARCH_MISTRAL);
    assert_int_equal(d.n_layers, 32);
    assert_int_equal(d.hidden, 4096);
    assert_int_equal(d.ffn_hidden, 14336);
    assert_int_equal(d.n_kv_heads, 8);
    assert_int_equal(d.head_dim, 128);
    assert_int_equal(d.sliding_window, 4096);
    assert_int_equal(n_sliding(&d), 32); /* one window for every layer */
    assert_false(d.tied_embeddings);
}

static void test_qwen2(void **state) {
    hone_model_desc d = load(FIX "qwen2.5-0.5b-instruct.json");
    assert_int_equal(d.arch, HONE_ARCH_QWEN2);
    assert_int_equal(d.n_layers, 24);
    assert_int_equal(d.hidden, 896);
    assert_int_equal(d.ffn_hidden, 4864);
    assert_int_equal(d.n_heads, 14);
    assert_int_equal(d.n_kv_heads, 2);
    assert_int_equal(d.head_dim, 64);
    assert_int_equal(d.vocab, 151936);
    assert_true(d.qkv_bias);
    assert_true(d.tied_embeddings);
    assert_int_equal(d.sliding_window, 0); /* use_sliding_window false */
    assert_int_equal(n_sliding(&d), 0);
    assert_true(d.rope_theta == 1e6f);
}

static void test_qwen2_sliding_layers(void **state) {
    const char *j = "{\"model_type\":\"qwen2\",\"num_hidden_layers\":6,\"hidden_size\":64,\"num_attention_heads\":4,"
                    "\"num_key_value_heads\":2,\"intermediate_size\":128,\"vocab_size\":100,"
                    "\"use_sliding_window\":true,\"sliding_window\":16,\"max_window_layers\":4}";
    hone_model_desc d;
    hone_err err = {0};
    ASSERT_OK(hone_model_desc_from_hf_json(&d, j, strlen(j), "q.json", &err), &err);
    assert_int_equal(d.sliding_window, 16);
    for (uint32_t i = 0; i < 6; i++) assert_int_equal(d.layer_sliding[i], i >= 4);
}

/* ---- errors ---------------------------------------------------------------- */

static void expect_error(const char *json, int code, const char *needle1, const char *needle2) {
    hone_model_desc d;
    hone_err err = {0};
    int rc = hone_model_desc_from_hf_json(&d, json, strlen(json), "cfg.json", &err);
    if (rc != code) fail_msg("expected %d, got %d (%s) for %s", code, rc, err.msg, json);
    if (!strstr(err.msg, "cfg.json")) fail_msg("message does not name the file: %s", err.msg);
    if (needle1 && !strstr(err.msg, needle1)) fail_msg("message lacks '%s': %s", needle1, err.msg);
    if (needle2 && !strstr(err.msg, needle2)) fail_msg("message lacks '%s': %s", needle2, err.msg);
    assert_null(strchr(err.msg, '\n'));
}

static void test_unknown_arch(void **state) {
    expect_error("{\"model_type\":\"phi3\",\"architectures\":[\"Phi3ForCausalLM\"]}", HONE_EUNSUPPORTED, "phi3",
                 "Phi3ForCausalLM");
    /* transformers' AutoConfig refuses a config without model_type, architectures or not */
    expect_error("{\"architectures\":[\"LlamaForCausalLM\"]}", HONE_EFORMAT, "$.model_type: missing",
                 "LlamaForCausalLM");
    expect_error("{\"hidden_size\":4}", HONE_EFORMAT, "model_type", NULL);
}

static void test_bad_json(void **state) {
    expect_error("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,,\n}", HONE_EFORMAT, "line 3", "column");
    expect_error("{\"model_type\":\"llama\",\"model_type\":\"llama\"}", HONE_EFORMAT, "line 1", "duplicate");
}

static void test_bad_values(void **state) {
    expect_error("{\"model_type\":\"llama\",\"hidden_size\":\"big\"}", HONE_EFORMAT, "hidden_size", "integer");
    expect_error("{\"model_type\":\"llama\",\"num_hidden_layers\":-3}", HONE_EFORMAT, "num_hidden_layers", NULL);
    expect_error("{\"model_type\":\"llama\",\"num_attention_heads\":32,\"num_key_value_heads\":5}", HONE_EFORMAT,
                 "kv heads", NULL);
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"dynamic\",\"factor\":2}}",
                 HONE_EUNSUPPORTED, "rope_scaling.rope_type", "dynamic");
    expect_error("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8}}",
                 HONE_EFORMAT, "low_freq_factor", NULL);
    expect_error("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":3,\"layer_types\":[\"full_attention\"]}",
                 HONE_EFORMAT, "layer_types", "3");
    expect_error("{\"model_type\":\"gemma3\",\"text_config\":{\"model_type\":\"siglip\"}}", HONE_EUNSUPPORTED,
                 "text_config.model_type", "siglip");
    expect_error("{\"model_type\":\"gemma3\",\"text_config\":{\"hidden_size\":true}}", HONE_EFORMAT,
                 "text_config.hidden_size", NULL);
}

static void test_missing_file(void **state) {
    hone_model_desc d;
    hone_err err = {0};
    assert_int_equal(hone_model_desc_from_hf_config(&d, "/nonexistent/config.json", &err), HONE_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/config.json"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3_flat),
        cmocka_unit_test(test_gemma3_nested_same_as_flat),
        cmocka_unit_test(test_gemma3_4b_defaults),
        cmocka_unit_test(test_gemma3_pattern_key),
        cmocka_unit_test(test_llama_smollm),
        cmocka_unit_test(test_llama3_rope),
        cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_qwen2_sliding_layers),
        cmocka_unit_test(test_unknown_arch),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
