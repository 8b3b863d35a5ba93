/* test_ollama.c: `ollama:NAME[:TAG]` resolution over a store the test builds
 * in /tmp (Ollama's layout: manifests/HOST/NS/NAME/TAG -> blobs/sha256-HEX),
 * with a tiny hand-written GGUF as the model blob; name forms, defaults, and
 * every error naming the manifest or blob involved. */
#include <sys/stat.h>

#include "ggufbuild.h"
#include "testutil.h"

static char root[256];
#define HEX_M "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX_T "2222222222222222222222222222222222222222222222222222222222222222"

static void put(const char *rel, const void *p, size_t n) {
    char path[1024], cmd[1100];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = 0;
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static const char *MANIFEST =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"sha256:" HEX_T "\",\"size\":2},"
    "\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:" HEX_M "\",\"size\":1},"
    "{\"mediaType\":\"application/vnd.ollama.image.license\",\"digest\":\"sha256:" HEX_T "\",\"size\":1},"
    "{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"sha256:" HEX_T "\",\"size\":1}]}";

static int setup(void **state) {
    snprintf(root, sizeof root, "/tmp/hone-ollama-%ld", (long)getpid());
    setenv("OLLAMA_MODELS", root, 1);
    gb b;
    gb_begin(&b, 0, 7);
    static const char *toks[] = {"a", "b", "c"};
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_u32(&b, "llama.block_count", 2);
    gb_kv_u32(&b, "llama.embedding_length", 32);
    gb_kv_u32(&b, "llama.feed_forward_length", 64);
    gb_kv_u32(&b, "llama.attention.head_count", 2);
    gb_kv_f32(&b, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gb_kv_strs(&b, "tokenizer.ggml.tokens", toks, 3);
    put("blobs/sha256-" HEX_M, b.p, b.n);
    free(b.p);
    put("blobs/sha256-" HEX_T, "{{ .Prompt }}", 13);
    put("manifests/registry.ollama.ai/library/tiny/latest", MANIFEST, strlen(MANIFEST));
    put("manifests/registry.ollama.ai/user/tiny/v1", MANIFEST, strlen(MANIFEST));
    put("manifests/example.com:5000/ns/tiny/q4", MANIFEST, strlen(MANIFEST));
    return 0;
}

static int teardown(void **state) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd);
}

static void expect_ok(const char *ref, const char *manifest_rel) {
    hone_ollama_model m;
    hone_err err = {0};
    ASSERT_OK(hone_ollama_resolve(&m, ref, &err), &err);
    char want[1024];
    snprintf(want, sizeof want, "%s/%s", root, manifest_rel);
    assert_string_equal(m.manifest, want);
    snprintf(want, sizeof want, "%s/blobs/sha256-" HEX_M, root);
    assert_string_equal(m.model, want);
    snprintf(want, sizeof want, "%s/blobs/sha256-" HEX_T, root);
    assert_string_equal(m.template_, want);
    assert_null(m.params);
    assert_null(m.system);
    hone_ollama_model_free(&m);
}

static void test_names(void **state) {
    assert_true(hone_ollama_is_ref("ollama:tiny"));
    assert_false(hone_ollama_is_ref("/models/tiny.gguf"));
    expect_ok("ollama:tiny", "manifests/registry.ollama.ai/library/tiny/latest");
    expect_ok("ollama:tiny:latest", "manifests/registry.ollama.ai/library/tiny/latest");
    expect_ok("ollama:library/tiny", "manifests/registry.ollama.ai/library/tiny/latest");
    expect_ok("tiny", "manifests/registry.ollama.ai/library/tiny/latest");
    expect_ok("ollama:user/tiny:v1", "manifests/registry.ollama.ai/user/tiny/v1");
    expect_ok("ollama:example.com:5000/ns/tiny:q4", "manifests/example.com:5000/ns/tiny/q4");
}

static void test_model_opens(void **state) {
    hone_ollama_model m;
    hone_err err = {0};
    ASSERT_OK(hone_ollama_resolve(&m, "ollama:tiny", &err), &err);
    hone_gguf *g;
    ASSERT_OK(hone_gguf_open(&g, m.model, &err), &err);
    hone_model_desc d;
    ASSERT_OK(hone_model_desc_from_gguf(&d, g, &err), &err);
    assert_int_equal(d.arch, HONE_ARCH_LLAMA);
    assert_int_equal(d.n_layers, 2);
    assert_int_equal(d.vocab, 3);
    hone_gguf_close(g);
    hone_ollama_model_free(&m);
}

static void expect_err(const char *ref, int code, const char *n1, const char *n2) {
    hone_ollama_model m;
    hone_err err = {0};
    int rc = hone_ollama_resolve(&m, ref, &err);
    if (rc != code) fail_msg("%s: expected %d, got %d (%s)", ref, code, rc, err.msg);
    if (n1 && !strstr(err.msg, n1)) fail_msg("%s: message lacks '%s': %s", ref, n1, err.msg);
    if (n2 && !strstr(err.msg, n2)) fail_msg("%s: message lacks '%s': %s", ref, n2, err.msg);
    assert_null(m.model);
    assert_null(m.manifest);
}

static void test_errors(void **state) {
    char want[1024];
    snprintf(want, sizeof want, "%s/manifests/registry.ollama.ai/library/nope/latest", root);
    expect_err("ollama:nope", HONE_ENOTFOUND, want, "pulled");
    expect_err("ollama:tiny:v9", HONE_ENOTFOUND, "library/tiny/v9", NULL);
    expect_err("ollama:../etc/passwd", HONE_EARG, "ollama:../etc/passwd", NULL);
    expect_err("ollama:a/b/c/d", HONE_EARG, "HOST/NAMESPACE/NAME", NULL);
    expect_err("ollama:", HONE_EARG, NULL, NULL);
    expect_err("ollama:tiny:", HONE_EARG, NULL, NULL);
    expect_err("ollama:tiny/", HONE_EARG, "empty", NULL);
    expect_err("ollama:a//b", HONE_EARG, NULL, NULL);

    /* missing blob */
    const char *m2 = "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:"
                     "3333333333333333333333333333333333333333333333333333333333333333\"}]}";
    put("manifests/registry.ollama.ai/library/gone/latest", m2, strlen(m2));
    expect_err("ollama:gone", HONE_ENOTFOUND, "blobs/sha256-3333", "library/gone/latest");
    /* no model layer */
    const char *m3 = "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.template\",\"digest\":\"sha256:" HEX_T "\"}]}";
    put("manifests/registry.ollama.ai/library/nomodel/latest", m3, strlen(m3));
    expect_err("ollama:nomodel", HONE_EFORMAT, "application/vnd.ollama.image.model", "nomodel/latest");
    /* bad digest, bad JSON, no layers */
    const char *m4 = "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:../../x\"}]}";
    put("manifests/registry.ollama.ai/library/baddigest/latest", m4, strlen(m4));
    expect_err("ollama:baddigest", HONE_EFORMAT, "layers[0].digest", NULL);
    put("manifests/registry.ollama.ai/library/badjson/latest", "{\n\"layers\": [,]}", 16);
    expect_err("ollama:badjson", HONE_EFORMAT, "line 2 column", "badjson/latest");
    put("manifests/registry.ollama.ai/library/nolayers/latest", "{}", 2);
    expect_err("ollama:nolayers", HONE_EFORMAT, "layers", NULL);
}

static void test_home_default(void **state) {
    /* without OLLAMA_MODELS the store is ~/.ollama/models */
    char home[300], *old = getenv("OLLAMA_MODELS") ? strdup(getenv("OLLAMA_MODELS")) : NULL;
    char *oldhome = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    snprintf(home, sizeof home, "%s/home", root);
    unsetenv("OLLAMA_MODELS");
    setenv("HOME", home, 1);
    hone_ollama_model m;
    hone_err err = {0};
    assert_int_equal(hone_ollama_resolve(&m, "ollama:tiny", &err), HONE_ENOTFOUND);
    char want[512];
    snprintf(want, sizeof want, "%s/.ollama/models/manifests/registry.ollama.ai/library/tiny/latest", home);
    assert_non_null(strstr(err.msg, want));
    if (old) setenv("OLLAMA_MODELS", old, 1);
    if (oldhome) setenv("HOME", oldhome, 1);
    free(old);
    free(oldhome);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_model_opens),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_home_default),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
