/* test_tokenizer_models.c: hone's tokenizer on the real Gemma 3 and SmolLM2
 * vocabularies against committed reference ids (tests/fixtures/tok_*.jsonl, made
 * by tests/ref/make_tok_fixture.py: Google's sentencepiece for Gemma 3, Hugging
 * Face tokenizers for SmolLM2, both built from the same GGUF metadata).
 * Tolerance: none; every id of every string must match. Long strings (100 KB) are
 * stored as unit x repeat with the id count and an FNV-1a hash of the ids.
 * Also checks decode(encode(s)) == s for every fixture string without special text.
 * Skipped when the model files are absent. */
#include <jansson.h>

#include "testutil.h"

static uint64_t fnv_ids(const int32_t *ids, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) h = (h ^ (((uint32_t)ids[i] >> (8 * k)) & 0xFF)) * 1099511628211ull;
    return h;
}

static void run_fixture(const char *model, const char *fixture, const char *label) {
    hone_err err = {0};
    hone_gguf *g;
    hone_tok *t;
    ASSERT_OK(hone_gguf_open(&g, model, &err), &err);
    ASSERT_OK(hone_tok_load_gguf(&t, g, &err), &err);
    FILE *f = fopen(fixture, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t ln;
    int n = 0, n_ok = 0, n_rt = 0, n_rt_ok = 0, shown = 0;
    while ((ln = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)ln, 0, &je);
        if (!o) fail_msg("%s line %d: %s", fixture, n + 1, je.text);
        int special = json_is_true(json_object_get(o, "special"));
        const char *text;
        size_t len;
        char *owned = NULL;
        json_t *jt = json_object_get(o, "text");
        if (jt) {
            text = json_string_value(jt);
            len = json_string_length(jt);
        } else {
            json_t *u = json_object_get(o, "unit");
            size_t ul = json_string_length(u), rep = (size_t)json_integer_value(json_object_get(o, "repeat"));
            owned = malloc(ul * rep + 1);
            for (size_t i = 0; i < rep; i++) memcpy(owned + i * ul, json_string_value(u), ul);
            text = owned;
            len = ul * rep;
        }
        int32_t *ids;
        size_t nid;
        ASSERT_OK(hone_tok_encode(t, text, len, special ? HONE_TOK_SPECIAL : 0, &ids, &nid, &err), &err);
        int ok;
        json_t *ja = json_object_get(o, "ids");
        if (ja) {
            ok = json_array_size(ja) == nid;
            for (size_t i = 0; ok && i < nid; i++) ok = json_integer_value(json_array_get(ja, i)) == ids[i];
        } else {
            char hx[17];
            snprintf(hx, sizeof hx, "%016llx", (unsigned long long)fnv_ids(ids, nid));
            ok = (size_t)json_integer_value(json_object_get(o, "n_ids")) == nid &&
                 !strcmp(hx, json_string_value(json_object_get(o, "fnv")));
        }
        if (!ok && shown++ < 5) {
            fprintf(stderr, "%s: MISMATCH on line %d '%.*s'\n  expected:", label, n + 1,
                    (int)(len > 120 ? 120 : len), text);
            for (size_t i = 0; ja && i < json_array_size(ja) && i < 40; i++)
                fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(ja, i)));
            fprintf(stderr, "\n  got:     ");
            for (size_t i = 0; i < nid && i < 40; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "\n");
        }
        n_ok += ok;
        n++;
        if (!special) {
            char *d;
            size_t dn;
            ASSERT_OK(hone_tok_decode(t, ids, nid, 0, &d, &dn, &err), &err);
            n_rt++;
            n_rt_ok += dn == len && !memcmp(d, text, len);
            free(d);
        }
        free(ids);
        free(owned);
        json_decref(o);
    }
    free(line);
    fclose(f);
    print_message("%-8s %d/%d strings match the reference ids; %d/%d round trips exact\n", label, n_ok,
                  n, n_rt_ok, n_rt);
    assert_true(n >= 2000);
    assert_int_equal(n_ok, n);
    assert_int_equal(n_rt_ok, n_rt);
    hone_tok_free(t);
    hone_gguf_close(g);
}

static void test_gemma3(void **state) {
    REQUIRE_MODEL(path, GEMMA_GGUF);
    run_fixture(path, "tests/fixtures/tok_gemma3.jsonl", "gemma-3");
}

static void test_smollm2(void **state) {
    REQUIRE_MODEL(path, SMOL_GGUF);
    run_fixture(path, "tests/fixtures/tok_smollm2.jsonl", "smollm2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemma3),
        cmocka_unit_test(test_smollm2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
