/* test_adapter.c: LoRA adapters (src/train/adapter.c) and their unmerged use at
 * load time (src/model/lora_attach.c, forward_linear in src/infer/forward.c).
 *
 * - fixture: tests/fixtures/adapter/NAME/ (tests/ref/make_adapter_fixture.py, PEFT
 *   0.21 + transformers, f32) holds a random rank-4 adapter on every projection of
 *   the last 2 layers of a tiny HF model, as PEFT wrote it and as the script converted
 *   it to mlx-lm's layout, plus the hidden states and last logits PEFT computes with it.
 *   hone loads the base + each folder (reference engine) and must match:
 *   rel L2 <= 1e-4 (f32 with a different summation order than torch's; the plain
 *   engine fixtures use the same bound). The base alone must be far from that
 *   reference (> 1e-2), so the check cannot pass without the adapter.
 * - round trip: PEFT -> memory -> MLX -> memory -> PEFT -> memory: every A and B
 *   bit-identical (f32 copies and transposes only), config equal; the script's MLX
 *   folder reads to the same bits as the PEFT folder.
 * - errors: missing config keys, unknown modules, shape mismatch with the base.
 * - real model (Gemma 3 270M Q4_K_M, skipped when absent): a zero-B adapter leaves
 *   the logits bit-identical; a random one changes them.
 */
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"
#include "hf2gguf.h"

#define ADIR "tests/fixtures/adapter"
#define EDIR "tests/fixtures/engine"

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    float *p = malloc(n * sizeof *p);
    size_t got = fread(p, sizeof *p, n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    if (got != n || extra) fail_msg("%s: expected exactly %zu floats", path, n);
    return p;
}

static double rel_l2(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - ref[i];
        num += e * e;
        den += (double)ref[i] * ref[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

static char *make_tmpdir(void) {
    char *d = strdup("/tmp/hone-adapter-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_dir(const char *d) {
    static const char *const files[] = {"adapters.safetensors", "adapter_model.safetensors", "adapter_config.json"};
    char p[512];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        unlink(p);
    }
    rmdir(d);
}

/* Runs every fixture prompt of NAME through base (+ adapter dir, or none); returns the
 * worst hidden and logits rel L2 against the adapter fixture. */
static void run_fixture_on(const char *name, const char *model_path, const char *adir, double *worst_h,
                           double *worst_l) {
    char path[512];
    hone_err err = {0};
    snprintf(path, sizeof path, "%s/%s/meta.json", ADIR, name);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    if (!meta) fail_msg("%s: %s", path, je.text);
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE, .adapter_path = adir};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, model_path, &lo, &err), &err);
    const hone_model_desc *d = hone_model_get_desc(m);
    size_t D = d->hidden, V = d->vocab;
    *worst_h = *worst_l = 0;
    json_t *prompts = json_object_get(meta, "prompts"), *pr;
    size_t ip;
    json_array_foreach(prompts, ip, pr) {
        json_t *ids = json_object_get(pr, "ids");
        uint32_t T = (uint32_t)json_array_size(ids);
        int32_t *tok = malloc(T * sizeof *tok);
        for (uint32_t t = 0; t < T; t++) tok[t] = (int32_t)json_integer_value(json_array_get(ids, t));
        hone_session *s;
        hone_session_opts so = {.n_ctx = T, .n_batch = T};
        ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
        float *hid = malloc(T * D * sizeof *hid), *lg = malloc(V * sizeof *lg);
        hone_eval_out out = {.logits = lg, .hidden = hid};
        ASSERT_OK(hone_session_eval(s, tok, T, &out, &err), &err);
        snprintf(path, sizeof path, "%s/%s/p%zu.hidden.f32", ADIR, name, ip);
        float *rh = read_f32(path, T * D);
        snprintf(path, sizeof path, "%s/%s/p%zu.logits.f32", ADIR, name, ip);
        float *rl = read_f32(path, V);
        for (uint32_t t = 0; t < T; t++) {
            double e = rel_l2(hid + t * D, rh + t * D, D);
            if (e > *worst_h) *worst_h = e;
        }
        double el = rel_l2(lg, rl, V);
        if (el > *worst_l) *worst_l = el;
        free(rh);
        free(rl);
        free(hid);
        free(lg);
        free(tok);
        hone_session_free(s);
    }
    hone_model_free(m);
    json_decref(meta);
}

static void run_fixture(const char *name, const char *adir, double *worst_h, double *worst_l) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", EDIR, name);
    run_fixture_on(name, path, adir, worst_h, worst_l);
}

static void check_fixture(const char *name) {
    static const char *const fmts[] = {"peft", "mlx"};
    char adir[512];
    for (int f = 0; f < 2; f++) {
        snprintf(adir, sizeof adir, "%s/%s/%s", ADIR, name, fmts[f]);
        double h, l;
        run_fixture(name, adir, &h, &l);
        print_message("  %-16s %-4s adapter vs PEFT: max rel L2 hidden %.2e, last logits %.2e\n", name, fmts[f], h,
                      l);
        /* 1e-4: f32 with a different summation order than torch (see the file comment) */
        if (h > 1e-4 || l > 1e-4) fail_msg("%s (%s): rel L2 hidden %.3e logits %.3e > 1e-4", name, fmts[f], h, l);
    }
    double h, l;
    run_fixture(name, NULL, &h, &l);
    print_message("  %-16s base without adapter vs PEFT: hidden %.2e, logits %.2e (must be > 1e-2)\n", name, h, l);
    if (h < 1e-2 || l < 1e-2) fail_msg("%s: the adapter fixture is too close to the base model", name);
}

static void t_fixture_gemma3(void **st) {
    (void)st;
    check_fixture("tiny-gemma3");
}
static void t_fixture_qwen2(void **st) {
    (void)st;
    check_fixture("tiny-qwen2");
}
static void t_fixture_llama(void **st) {
    (void)st;
    check_fixture("tiny-llama-rope3");
}

/* tiny-mistral as a mistral GGUF (q/k rows permuted as llama.cpp's converter does):
 * the HF-oriented adapter must still give PEFT's states, so B's q/k rows are
 * permuted the same way when it is attached. */
static void t_fixture_mistral(void **st) {
    (void)st;
    check_fixture("tiny-mistral");
    char *gguf = hf_to_gguf_dir(EDIR "/tiny-mistral", "tiny-mistral-adapter", "mistral");
    assert_non_null(gguf);
    static const char *const fmts[] = {"peft", "mlx"};
    for (int f = 0; f < 2; f++) {
        char adir[512];
        snprintf(adir, sizeof adir, "%s/tiny-mistral/%s", ADIR, fmts[f]);
        double h, l;
        run_fixture_on("tiny-mistral", gguf, adir, &h, &l);
        print_message("  %-16s %-4s adapter on the GGUF (permuted q/k) vs PEFT: hidden %.2e, logits %.2e\n",
                      "tiny-mistral", fmts[f], h, l);
        if (h > 1e-4 || l > 1e-4) fail_msg("tiny-mistral GGUF (%s): rel L2 hidden %.3e logits %.3e > 1e-4", fmts[f], h, l);
    }
    unlink(gguf);
    free(gguf);
}

static void assert_same_adapter(hone_adapter *x, hone_adapter *y) {
    const hone_adapter_config *cx = hone_adapter_get_config(x), *cy = hone_adapter_get_config(y);
    assert_int_equal(cx->rank, cy->rank);
    assert_true(cx->scale == cy->scale);
    assert_true(cx->dropout == cy->dropout);
    assert_int_equal(cx->keys, cy->keys);
    assert_int_equal(cx->num_layers, cy->num_layers);
    assert_int_equal(hone_adapter_n(x), hone_adapter_n(y));
    for (int64_t i = 0; i < hone_adapter_n(x); i++) {
        hone_lora *a = hone_adapter_get(x, i), *b = hone_adapter_get(y, i);
        assert_int_equal(a->layer, b->layer);
        assert_int_equal(a->proj, b->proj);
        assert_int_equal(a->n_in, b->n_in);
        assert_int_equal(a->n_out, b->n_out);
        assert_memory_equal(a->a, b->a, (size_t)a->rank * a->n_in * sizeof(float));
        assert_memory_equal(a->b, b->b, (size_t)a->rank * a->n_out * sizeof(float));
    }
}

static void t_roundtrip(void **st) {
    (void)st;
    hone_err err = {0};
    hone_adapter *p0, *m0, *m1, *p1;
    int fmt;
    ASSERT_OK(hone_adapter_load(&p0, ADIR "/tiny-gemma3/peft", &fmt, &err), &err);
    assert_int_equal(fmt, HONE_ADAPTER_PEFT);
    const hone_adapter_config *c = hone_adapter_get_config(p0);
    assert_int_equal(c->rank, 4);
    assert_true(c->scale == 3.0f);
    assert_int_equal(c->keys, (1u << HONE_PROJ_COUNT) - 1);
    assert_int_equal(hone_adapter_n(p0), 2 * HONE_PROJ_COUNT);
    assert_int_equal(c->num_layers, 2);
    /* the script's own MLX conversion reads to the same bits */
    ASSERT_OK(hone_adapter_load(&m0, ADIR "/tiny-gemma3/mlx", &fmt, &err), &err);
    assert_int_equal(fmt, HONE_ADAPTER_MLX);
    assert_same_adapter(p0, m0);
    hone_adapter_free(m0);
    char *d1 = make_tmpdir(), *d2 = make_tmpdir();
    ASSERT_OK(hone_adapter_save_mlx(p0, d1, &err), &err);
    ASSERT_OK(hone_adapter_load(&m1, d1, &fmt, &err), &err);
    assert_int_equal(fmt, HONE_ADAPTER_MLX);
    assert_same_adapter(p0, m1);
    ASSERT_OK(hone_adapter_save_peft(m1, d2, &err), &err);
    ASSERT_OK(hone_adapter_load(&p1, d2, &fmt, &err), &err);
    assert_int_equal(fmt, HONE_ADAPTER_PEFT);
    assert_same_adapter(p0, p1);
    print_message("  PEFT -> MLX -> PEFT: %lld pairs bit-identical\n", (long long)hone_adapter_n(p1));
    hone_adapter_free(m1);
    hone_adapter_free(p1);
    hone_adapter_free(p0);
    rm_dir(d1);
    rm_dir(d2);
    free(d1);
    free(d2);
}

static void write_text(const char *dir, const char *file, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void copy_file(const char *from, const char *dir, const char *file) {
    char p[512];
    FILE *in = fopen(from, "rb");
    assert_non_null(in);
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *out = fopen(p, "wb");
    assert_non_null(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    fclose(out);
}

/* Loading dir fails with code and a message containing want. */
static void expect_fail(const char *dir, int code, const char *want) {
    hone_err err = {0};
    hone_adapter *ad = NULL;
    int rc = hone_adapter_load(&ad, dir, NULL, &err);
    if (rc != code || !strstr(err.msg, want))
        fail_msg("expected %d with \"%s\", got %d: %s", code, want, rc, err.msg);
    print_message("  refused as expected: %s\n", err.msg);
}

static void t_errors(void **st) {
    (void)st;
    char *d = make_tmpdir();
    expect_fail(d, HONE_ENOTFOUND, "no adapters.safetensors");
    copy_file(ADIR "/tiny-gemma3/mlx/adapters.safetensors", d, "adapters.safetensors");
    write_text(d, "adapter_config.json", "{\"fine_tune_type\":\"lora\",\"lora_parameters\":{\"rank\":4,\"scale\":3}}");
    expect_fail(d, HONE_EFORMAT, "$.num_layers: missing");
    write_text(d, "adapter_config.json", "{\"num_layers\":2,\"lora_parameters\":{\"rank\":4}}");
    expect_fail(d, HONE_EFORMAT, "$.lora_parameters.scale: missing");
    write_text(d, "adapter_config.json", "{\"num_layers\":2,\"lora_parameters\":{\"rank\":8,\"scale\":3}}");
    expect_fail(d, HONE_EFORMAT, "differs from the config's rank 8");
    write_text(d, "adapter_config.json",
               "{\"num_layers\":2,\"lora_parameters\":{\"rank\":4,\"scale\":3,\"keys\":[\"self_attn.qkv\"]}}");
    expect_fail(d, HONE_EUNSUPPORTED, "$.lora_parameters.keys[0]: \"self_attn.qkv\"");
    write_text(d, "adapter_config.json",
               "{\"num_layers\":2,\"lora_parameters\":{\"rank\":4,\"scale\":3,\"keys\":[\"self_attn.q_proj\"]}}");
    expect_fail(d, HONE_EFORMAT, "which");
    rm_dir(d);
    free(d);
    /* PEFT: missing r, a tensor of an unknown module */
    d = make_tmpdir();
    copy_file(ADIR "/tiny-gemma3/peft/adapter_model.safetensors", d, "adapter_model.safetensors");
    write_text(d, "adapter_config.json", "{\"peft_type\":\"LORA\",\"lora_alpha\":8,\"target_modules\":[\"q_proj\"]}");
    expect_fail(d, HONE_EFORMAT, "$.r: missing");
    write_text(d, "adapter_config.json", "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"use_dora\":true,"
                                         "\"target_modules\":[\"q_proj\"]}");
    expect_fail(d, HONE_EUNSUPPORTED, "$.use_dora");
    hone_err err = {0};
    hone_st_writer *w;
    ASSERT_OK(hone_st_writer_init(&w, &err), &err);
    float z[4 * 8] = {0};
    uint64_t sh[2] = {4, 8};
    ASSERT_OK(hone_st_writer_add_tensor(w, "base_model.model.model.layers.0.mlp.fc1.lora_A.weight", HONE_F32, 2, sh,
                                        z, &err),
              &err);
    char p[512];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", d);
    ASSERT_OK(hone_st_writer_write(w, p, &err), &err);
    hone_st_writer_free(w);
    write_text(d, "adapter_config.json",
               "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"q_proj\"]}");
    expect_fail(d, HONE_EFORMAT, "layers.0.mlp.fc1.lora_A.weight: not a LoRA tensor");
    rm_dir(d);
    /* layer out of range: tiny-gemma3's adapter (layers 4, 5) on tiny-qwen2 (2 layers) */
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE, .adapter_path = ADIR "/tiny-gemma3/peft"};
    hone_model *m = NULL;
    int rc = hone_model_load(&m, EDIR "/tiny-qwen2", &lo, &err);
    if (rc != HONE_EFORMAT || !strstr(err.msg, "layers.4.self_attn.q_proj: the model has 2 layers"))
        fail_msg("got %d: %s", rc, err.msg);
    print_message("  refused as expected: %s\n", err.msg);
    /* shape mismatch with the base: tiny-qwen2's adapter (ffn 96) on tiny-gemma3 (ffn 32) */
    lo.adapter_path = ADIR "/tiny-qwen2/mlx";
    rc = hone_model_load(&m, EDIR "/tiny-gemma3", &lo, &err);
    if (rc != HONE_EFORMAT || !strstr(err.msg, "the model's weight")) fail_msg("got %d: %s", rc, err.msg);
    print_message("  refused as expected: %s\n", err.msg);
    assert_null(m);
    free(d);
}

/* Last-position logits of a short prompt through GGUF + adapter dir (or none). */
static float *gemma_logits(const char *gguf, const char *adir, size_t *V) {
    hone_err err = {0};
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE, .adapter_path = adir};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, gguf, &lo, &err), &err);
    *V = hone_model_get_desc(m)->vocab;
    hone_session *s;
    hone_session_opts so = {.n_ctx = 16, .n_batch = 16, .n_threads = 2};
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    const int32_t tok[8] = {2, 818, 5279, 529, 7001, 563, 496, 1977};
    float *lg = malloc(*V * sizeof *lg);
    hone_eval_out out = {.logits = lg};
    ASSERT_OK(hone_session_eval(s, tok, 8, &out, &err), &err);
    hone_session_free(s);
    hone_model_free(m);
    return lg;
}

static void t_real_gemma(void **st) {
    (void)st;
    REQUIRE_MODEL(gguf, GEMMA_GGUF);
    hone_err err = {0};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, gguf, NULL, &err), &err);
    hone_model_desc d = *hone_model_get_desc(m);
    hone_model_free(m);
    int64_t D = d.hidden, nq = (int64_t)d.n_heads * d.head_dim, nkv = (int64_t)d.n_kv_heads * d.head_dim,
            F = d.ffn_hidden;
    const int64_t nin[HONE_PROJ_COUNT] = {D, D, D, nq, D, D, F}, nout[HONE_PROJ_COUNT] = {nq, nkv, nkv, D, F, F, D};
    hone_adapter_config c = {.num_layers = 2, .rank = 8, .scale = 2.0f};
    hone_adapter *zero, *rnd;
    ASSERT_OK(hone_adapter_create(&zero, &c, &err), &err);
    ASSERT_OK(hone_adapter_create(&rnd, &c, &err), &err);
    uint32_t seed = 12345;
    for (uint32_t il = d.n_layers - 2; il < d.n_layers; il++)
        for (int p = 0; p < HONE_PROJ_COUNT; p++) {
            size_t na = (size_t)c.rank * nin[p], nb = (size_t)c.rank * nout[p];
            float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
            for (size_t i = 0; i < na; i++) {
                seed = seed * 1664525u + 1013904223u;
                a[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2.0f / sqrtf((float)nin[p]);
            }
            for (size_t i = 0; i < nb; i++) {
                seed = seed * 1664525u + 1013904223u;
                b[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.05f;
            }
            ASSERT_OK(hone_adapter_add(zero, il, p, nin[p], nout[p], a, NULL, &err), &err);
            ASSERT_OK(hone_adapter_add(rnd, il, p, nin[p], nout[p], a, b, &err), &err);
            free(a);
            free(b);
        }
    char *dz = make_tmpdir(), *dr = make_tmpdir();
    ASSERT_OK(hone_adapter_save_mlx(zero, dz, &err), &err);
    ASSERT_OK(hone_adapter_save_peft(rnd, dr, &err), &err);
    hone_adapter_free(zero);
    hone_adapter_free(rnd);
    size_t V;
    float *base = gemma_logits(gguf, NULL, &V), *lz = gemma_logits(gguf, dz, &V), *lr = gemma_logits(gguf, dr, &V);
    size_t ndiff = 0;
    for (size_t i = 0; i < V; i++) ndiff += memcmp(&base[i], &lz[i], sizeof(float)) != 0;
    double e = rel_l2(lr, base, V);
    print_message("  gemma3-270m: zero-B adapter: %zu of %zu logits differ in bits; random adapter moves the "
                  "logits by rel L2 %.3e\n", ndiff, V, e);
    assert_int_equal(ndiff, 0);
    if (!(e > 1e-3)) fail_msg("random adapter changed the logits by only %.3e", e);
    free(base);
    free(lz);
    free(lr);
    rm_dir(dz);
    rm_dir(dr);
    free(dz);
    free(dr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_roundtrip),      cmocka_unit_test(t_errors),        cmocka_unit_test(t_fixture_gemma3),
        cmocka_unit_test(t_fixture_qwen2),  cmocka_unit_test(t_fixture_llama), cmocka_unit_test(t_fixture_mistral),
        cmocka_unit_test(t_real_gemma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
