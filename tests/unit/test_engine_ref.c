/* test_engine_ref.c: the engine against the transformers fixtures of
 * tests/fixtures/engine/ (written by tests/ref/make_engine_fixture.py; format
 * in its README): per prompt, the final normed hidden states (T, hidden) and
 * the last position's logits, f32, from transformers in float32 (eager
 * attention), on tiny random-weight HF models (qwen2, llama with llama3 RoPE
 * scaling, gemma3 with sliding layers and linear scaling, mistral with a
 * sliding window) and on the real GGUF models (dequantized by transformers).
 *
 * Reference path (HONE_ENGINE_REFERENCE): relative L2 error per position of
 * the hidden states <= 1e-4 and of the last logits <= 1e-4. Why 1e-4: both
 * sides compute in f32 with the same weights, so the only difference is the
 * order of f32 accumulation (torch's blocked GEMM vs our 16-lane dot, RMS in
 * double here) and libm's last-bit differences (powf, exp, tanh): each op
 * contributes ~1e-7 relative, a few hundred ops in a row compound to ~1e-6;
 * 1e-4 leaves headroom for amplification through softmax and norms, and is
 * still far below any real error (a wrong mask, rope pair, norm or scale moves
 * the result by >= 1e-2). Fast path (HONE_ENGINE_FAST): the error and top-1
 * agreement per position are reported against issue 4's >= 99 % target;
 * asserted are only floors that catch broken kernels (see run_fixture_as). While the fast kernels are the placeholder (all NULL, so the
 * fast path is the reference) the real models' fast run covers only prompts
 * of <= 64 tokens, to keep the suite short; the sanitizer build runs the real
 * models on prompts of <= 48 tokens only (one each).
 *
 * Decode (run_decode): prefix in one batch, then one token per eval, as the
 * token loop runs; checked per position against the same fixtures.
 *
 * HONE_ENGINE_FIXTURES overrides the fixture folder. */
#include <jansson.h>
#include <math.h>
#include <time.h>

#include "testutil.h"
#include "hf2gguf.h"
#include "ops/backend.h"

static const char *fixture_dir(void) {
    const char *d = getenv("HONE_ENGINE_FIXTURES");
    return d ? d : "tests/fixtures/engine";
}

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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t argmax(const float *x, size_t n) {
    uint32_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = (uint32_t)i;
    return b;
}


/* ---- the tiny HF fixtures re-written as GGUF --------------------------------------
 * The same weights under llama.cpp's names and metadata must give the same
 * states as the HF folder (and so the transformers fixture): this covers the
 * GGUF side of qwen2 (NEOX rope, q/k/v biases) and of mistral (sliding window
 * from mistral.attention.sliding_window; q/k rows permuted as llama.cpp's
 * converter does, so rope rotates adjacent pairs). */

/* The tiny HF fixture NAME re-written as a GGUF file (hf2gguf.h). */
static char *hf_to_gguf(const char *name, const char *arch) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", fixture_dir(), name);
    return hf_to_gguf_dir(dir, name, arch);
}

/* Runs every prompt of fixture NAME with the given engine; checks or reports.
 * gguf_arch: run the HF folder re-written as a GGUF file of that architecture. */
static void run_fixture_as(const char *name, int engine, uint32_t max_T, uint32_t fast_max_T, const char *gguf_arch) {
    char path[4096], mpath[4096];
    snprintf(path, sizeof path, "%s/%s/meta.json", fixture_dir(), name);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    if (!meta) {
        print_message("[ SKIPPED  ] fixture %s not found (%s)\n", path, je.text);
        skip();
    }
    const char *mdir = json_string_value(json_object_get(meta, "model_dir"));
    const char *mfile = json_string_value(json_object_get(meta, "model_file"));
    char *gguf = NULL;
    if (mdir && gguf_arch) {
        gguf = hf_to_gguf(mdir, gguf_arch);
        snprintf(mpath, sizeof mpath, "%s", gguf);
    } else if (mdir) {
        snprintf(mpath, sizeof mpath, "%s/%s", fixture_dir(), mdir);
    } else {
        const char *p = mfile ? test_model_path(mfile) : NULL;
        if (!p) {
            json_decref(meta);
            print_message("[ SKIPPED  ] model %s not found (run `make models`)\n", mfile ? mfile : "?");
            skip();
        }
        snprintf(mpath, sizeof mpath, "%s", p);
    }
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = engine};
    double t0 = now_s();
    ASSERT_OK(hone_model_load(&m, mpath, &lo, &err), &err);
    double t_load = now_s() - t0;
    const hone_model_desc *d = hone_model_get_desc(m);
    size_t D = d->hidden, V = d->vocab;
    json_t *prompts = json_object_get(meta, "prompts");
    size_t ip;
    json_t *pr;
    double worst_h = 0, worst_l = 0;
    size_t top1_ok = 0, top1_n = 0, pos_ok = 0, pos_n = 0, clear_ok = 0, clear_n = 0;
    json_array_foreach(prompts, ip, pr) {
        json_t *ids = json_object_get(pr, "ids");
        uint32_t T = (uint32_t)json_array_size(ids);
        assert_int_equal(T, json_integer_value(json_object_get(pr, "T")));
        if (T > max_T || (engine == HONE_ENGINE_FAST && T > fast_max_T)) {
            print_message("  %s p%zu: T=%u skipped (limit %u here)\n", name, ip, T,
                          engine == HONE_ENGINE_FAST && fast_max_T < max_T ? fast_max_T : max_T);
            continue;
        }
        int32_t *tok = malloc(T * sizeof *tok);
        for (uint32_t t = 0; t < T; t++) tok[t] = (int32_t)json_integer_value(json_array_get(ids, t));
        /* reference: one batch, logits of the last row; fast: batches of CH tokens
         * with logits for every row, for top-1 agreement per position */
        int fast = engine == HONE_ENGINE_FAST;
        uint32_t CH = fast ? 64 : T;
        hone_session *s;
        hone_session_opts so = {.n_ctx = T, .n_batch = CH};
        ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
        float *hid = malloc(T * D * sizeof *hid), *lg = malloc((size_t)CH * V * sizeof *lg);
        uint32_t *rows = malloc(CH * sizeof *rows);
        for (uint32_t r = 0; r < CH; r++) rows[r] = r;
        json_t *top1 = json_object_get(pr, "top1"), *top5l = json_object_get(pr, "top5_logits");
        t0 = now_s();
        for (uint32_t i = 0; i < T; i += CH) {
            uint32_t n = T - i < CH ? T - i : CH;
            hone_eval_out out = {.logits = lg, .hidden = hid + (size_t)i * D, .rows = fast ? rows : NULL,
                                 .n_rows = n};
            ASSERT_OK(hone_session_eval(s, tok + i, n, &out, &err), &err);
            for (uint32_t r = 0; fast && r < n; r++) {
                uint32_t ref1 = (uint32_t)json_integer_value(json_array_get(top1, i + r));
                json_t *l5 = json_array_get(top5l, i + r);
                double margin = json_real_value(json_array_get(l5, 0)) - json_real_value(json_array_get(l5, 1));
                int same = argmax(lg + (size_t)r * V, V) == ref1;
                pos_n++;
                pos_ok += same;
                if (margin >= 0.05) { /* not a near-tie */
                    clear_n++;
                    clear_ok += same;
                }
            }
        }
        double dt = now_s() - t0;
        if (fast) memmove(lg, lg + (size_t)((T - 1) % CH) * V, V * sizeof *lg); /* the last position's row */
        snprintf(path, sizeof path, "%s/%s/p%zu.hidden.f32", fixture_dir(), name, ip);
        float *rh = read_f32(path, T * D);
        snprintf(path, sizeof path, "%s/%s/p%zu.logits.f32", fixture_dir(), name, ip);
        float *rl = read_f32(path, V);
        double mh = 0;
        for (uint32_t t = 0; t < T; t++) {
            double e = rel_l2(hid + t * D, rh + t * D, D);
            if (e > mh) mh = e;
        }
        double el = rel_l2(lg, rl, V);
        /* top-1 per position: the fixture's top1 list vs argmax of our logits at
         * each position would need every row's logits; the hidden check covers
         * the positions, top-1 is compared on the last one. */
        uint32_t our = argmax(lg, V), ref_top = argmax(rl, V);
        top1_n++;
        top1_ok += our == ref_top;
        print_message("  %-16s %s p%zu T=%-4u max rel L2 hidden %.2e, logits %.2e, top1 %s (%.2f s)\n", name,
                      engine == HONE_ENGINE_REFERENCE ? "ref " : "fast", ip, T, mh, el,
                      our == ref_top ? "same" : "DIFF", dt);
        if (mh > worst_h) worst_h = mh;
        if (el > worst_l) worst_l = el;
        free(rh);
        free(rl);
        free(hid);
        free(lg);
        free(tok);
        free(rows);
        hone_session_free(s);
    }
    print_message("  %-16s %s worst: hidden %.2e logits %.2e, last-position top1 %zu/%zu (load %.2f s)\n", name,
                  engine == HONE_ENGINE_REFERENCE ? "ref " : "fast", worst_h, worst_l, top1_ok, top1_n, t_load);
    if (engine == HONE_ENGINE_FAST) {
        print_message("  %-16s fast top-1 agreement per position: %zu/%zu (%.2f %%), %zu/%zu where the "
                      "reference margin >= 0.05\n", name, pos_ok, pos_n, 100.0 * pos_ok / (pos_n ? pos_n : 1), clear_ok,
                      clear_n);
        /* Issue 4 asks the fast path for >= 99 % top-1 agreement; that is reported
         * (NOTE line), not asserted: kernels that quantize activations to int8 as
         * llama.cpp does measured ~2e-2 logits error and 95-97 % on the real models.
         * What is asserted catches broken kernels, not rounding: >= 90 % agreement
         * where the reference margin >= 0.05 and last logits rel L2 <= 0.1 (a wrong
         * index, mask or scale gives ~1 and near-random top-1). */
        if (clear_ok < 0.99 * clear_n)
            print_message("  NOTE: %s fast path below the issue's 99 %% top-1 target\n", name);
        if (clear_ok < 0.90 * clear_n) fail_msg("%s: fast top-1 agreement %zu/%zu < 90 %%", name, clear_ok, clear_n);
        /* The default matmul (INT16 activations, or F32) measured 100 % on every
         * fixture; INT8 (HONE_MATMUL=int8) is the one allowed below 99 %. */
        const char *mm = getenv("HONE_MATMUL");
        if (!(mm && !strcmp(mm, "int8")) && clear_ok < 0.99 * clear_n)
            fail_msg("%s: fast top-1 agreement %zu/%zu < 99 %% with the default matmul", name, clear_ok, clear_n);
        if (worst_l > 0.1) fail_msg("%s: fast logits rel L2 %.3e > 0.1", name, worst_l);
    }
    if (engine == HONE_ENGINE_REFERENCE) {
        /* 1e-4: see the file comment (f32 accumulation order differs from torch's) */
        if (worst_h > 1e-4) fail_msg("%s: hidden rel L2 %.3e > 1e-4", name, worst_h);
        if (worst_l > 1e-4) fail_msg("%s: logits rel L2 %.3e > 1e-4", name, worst_l);
        assert_int_equal(top1_ok, top1_n);
    }
    hone_model_free(m);
    json_decref(meta);
    if (gguf) unlink(gguf);
    free(gguf);
}

/* Decode (the token loop's path): the fast engine evaluates the first n_pre
 * tokens of each prompt of at most max_T tokens in one batch, then every other
 * token alone (T = 1: the streaming matvec kernels, the one-query attention),
 * with logits each time. Per position: hidden rel L2 vs transformers, and top-1
 * vs the fixture where the reference margin >= 0.05. Asserted: 100 % top-1 there
 * and hidden rel L2 <= 5e-3 with the default matmul (INT16 activations measured
 * <= 7.3e-4 in batches, bench/RESULTS.md; INT8 activations give ~1e-1 and a
 * broken kernel ~1, so 5e-3 separates them); with HONE_MATMUL=int8 only the
 * broken-kernel floors of run_fixture_as (90 %, 0.3). */
static void run_decode(const char *name, uint32_t n_pre0, uint32_t max_T, int max_prompts, uint32_t max_steps) {
    char path[4096], mpath[4096];
    snprintf(path, sizeof path, "%s/%s/meta.json", fixture_dir(), name);
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    if (!meta) {
        print_message("[ SKIPPED  ] fixture %s not found (%s)\n", path, je.text);
        skip();
    }
    const char *mdir = json_string_value(json_object_get(meta, "model_dir"));
    const char *mfile = json_string_value(json_object_get(meta, "model_file"));
    if (mdir) {
        snprintf(mpath, sizeof mpath, "%s/%s", fixture_dir(), mdir);
    } else {
        const char *p = mfile ? test_model_path(mfile) : NULL;
        if (!p) {
            json_decref(meta);
            print_message("[ SKIPPED  ] model %s not found (run `make models`)\n", mfile ? mfile : "?");
            skip();
        }
        snprintf(mpath, sizeof mpath, "%s", p);
    }
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = HONE_ENGINE_FAST};
    ASSERT_OK(hone_model_load(&m, mpath, &lo, &err), &err);
    const hone_model_desc *d = hone_model_get_desc(m);
    size_t D = d->hidden, V = d->vocab;
    json_t *prompts = json_object_get(meta, "prompts");
    size_t ip;
    json_t *pr;
    double worst_h = 0;
    size_t clear_ok = 0, clear_n = 0, pos_ok = 0, pos_n = 0;
    int done = 0;
    json_array_foreach(prompts, ip, pr) {
        json_t *ids = json_object_get(pr, "ids");
        uint32_t T = (uint32_t)json_array_size(ids);
        /* max_steps (sanitizer build): only the last max_steps tokens one by one */
        uint32_t n_pre = max_steps && T > max_steps + n_pre0 ? T - max_steps : n_pre0;
        if (T > max_T || T <= n_pre || done >= max_prompts) continue;
        done++;
        int32_t *tok = malloc(T * sizeof *tok);
        for (uint32_t t = 0; t < T; t++) tok[t] = (int32_t)json_integer_value(json_array_get(ids, t));
        hone_session *s;
        hone_session_opts so = {.n_ctx = T, .n_batch = n_pre};
        ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
        float *hid = malloc(T * D * sizeof *hid), *lg = malloc(V * sizeof *lg);
        snprintf(path, sizeof path, "%s/%s/p%zu.hidden.f32", fixture_dir(), name, ip);
        float *rh = read_f32(path, T * D);
        json_t *top1 = json_object_get(pr, "top1"), *top5l = json_object_get(pr, "top5_logits");
        double mh = 0, t0 = now_s();
        for (uint32_t i = 0; i < T;) {
            uint32_t n = i == 0 ? n_pre : 1;
            hone_eval_out out = {.logits = lg, .hidden = hid + (size_t)i * D};
            ASSERT_OK(hone_session_eval(s, tok + i, n, &out, &err), &err);
            i += n;
            for (uint32_t t = i - n; t < i; t++) {
                double e = rel_l2(hid + t * D, rh + t * D, D);
                if (e > mh) mh = e;
            }
            /* the logits are the last token's (position i - 1) */
            uint32_t ref1 = (uint32_t)json_integer_value(json_array_get(top1, i - 1));
            json_t *l5 = json_array_get(top5l, i - 1);
            double margin = json_real_value(json_array_get(l5, 0)) - json_real_value(json_array_get(l5, 1));
            int same = argmax(lg, V) == ref1;
            pos_n++;
            pos_ok += same;
            if (margin >= 0.05) {
                clear_n++;
                clear_ok += same;
            }
        }
        print_message("  %-16s decode p%zu T=%-4u (%u in one batch, then 1 by 1) max rel L2 hidden %.2e (%.2f s)\n",
                      name, ip, T, n_pre, mh, now_s() - t0);
        if (mh > worst_h) worst_h = mh;
        free(rh);
        free(hid);
        free(lg);
        free(tok);
        hone_session_free(s);
    }
    print_message("  %-16s decode top-1 agreement: %zu/%zu, %zu/%zu where the reference margin >= 0.05; "
                  "worst hidden %.2e\n", name, pos_ok, pos_n, clear_ok, clear_n, worst_h);
    assert_true(clear_n > 0);
    const char *mm = getenv("HONE_MATMUL");
    int int8 = mm && !strcmp(mm, "int8");
    if (clear_ok < (int8 ? 0.90 * clear_n : clear_n))
        fail_msg("%s: decode top-1 agreement %zu/%zu where the margin >= 0.05", name, clear_ok, clear_n);
    if (worst_h > (int8 ? 0.3 : 5e-3)) fail_msg("%s: decode hidden rel L2 %.3e", name, worst_h);
    hone_model_free(m);
    json_decref(meta);
}

static void run_fixture(const char *name, int engine, uint32_t max_T, uint32_t fast_max_T) {
    run_fixture_as(name, engine, max_T, fast_max_T, NULL);
}

#if defined(__SANITIZE_ADDRESS__)
#define SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN 1
#endif
#endif
#ifndef SAN
#define SAN 0
#endif
/* The sanitizer build runs at -O1 with checks: it skips the long real prompts. */
#define REAL_MAX_T (SAN ? 48u : 100000u)

/* With the placeholder fast kernels (hone_cpu_kernels() all NULL) the fast
 * path IS the reference: the long real prompts are then not run twice. */
static uint32_t fast_long(void) { return hone_cpu_kernels()->matmul ? 100000u : 64u; }

static void t_tiny_qwen2(void **st) { run_fixture("tiny-qwen2", HONE_ENGINE_REFERENCE, 100000, 0); }
static void t_tiny_llama(void **st) { run_fixture("tiny-llama-rope3", HONE_ENGINE_REFERENCE, 100000, 0); }
static void t_tiny_gemma3(void **st) { run_fixture("tiny-gemma3", HONE_ENGINE_REFERENCE, 100000, 0); }
static void t_tiny_mistral(void **st) { run_fixture("tiny-mistral", HONE_ENGINE_REFERENCE, 100000, 0); }
static void t_tiny_qwen2_gguf(void **st) { run_fixture_as("tiny-qwen2", HONE_ENGINE_REFERENCE, 100000, 0, "qwen2"); }
static void t_tiny_mistral_gguf(void **st) {
    run_fixture_as("tiny-mistral", HONE_ENGINE_REFERENCE, 100000, 0, "mistral");
}
static void t_gemma(void **st) { run_fixture("gemma3-270m", HONE_ENGINE_REFERENCE, REAL_MAX_T, 0); }
static void t_smollm(void **st) { run_fixture("smollm2-135m", HONE_ENGINE_REFERENCE, REAL_MAX_T, 0); }
static void t_fast_tiny(void **st) {
    run_fixture("tiny-qwen2", HONE_ENGINE_FAST, 100000, 100000);
    run_fixture("tiny-llama-rope3", HONE_ENGINE_FAST, 100000, 100000);
    run_fixture("tiny-gemma3", HONE_ENGINE_FAST, 100000, 100000);
    run_fixture("tiny-mistral", HONE_ENGINE_FAST, 100000, 100000);
}
static void t_fast_gemma(void **st) { run_fixture("gemma3-270m", HONE_ENGINE_FAST, REAL_MAX_T, fast_long()); }
static void t_fast_smollm(void **st) { run_fixture("smollm2-135m", HONE_ENGINE_FAST, REAL_MAX_T, fast_long()); }
static void t_decode_tiny(void **st) {
    run_decode("tiny-qwen2", 3, 100000, 2, 0);
    run_decode("tiny-llama-rope3", 3, 100000, 2, 0);
    run_decode("tiny-gemma3", 3, 100000, 2, 0);
    run_decode("tiny-mistral", 3, 100000, 2, 0);
}
/* real models: the shortest prompts (~50 decode steps each) keep this to seconds; the
 * sanitizer build (instrumented 178 MB LM head: ~2 s per step) decodes 3 steps of one */
static void t_decode_gemma(void **st) { run_decode("gemma3-270m", 5, 80, SAN ? 1 : 2, SAN ? 3 : 0); }
static void t_decode_smollm(void **st) { run_decode("smollm2-135m", 5, 80, SAN ? 1 : 2, SAN ? 3 : 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_tiny_qwen2),   cmocka_unit_test(t_tiny_llama), cmocka_unit_test(t_tiny_gemma3),
        cmocka_unit_test(t_tiny_mistral), cmocka_unit_test(t_tiny_qwen2_gguf),
        cmocka_unit_test(t_tiny_mistral_gguf), cmocka_unit_test(t_gemma),      cmocka_unit_test(t_smollm),
        cmocka_unit_test(t_fast_tiny),    cmocka_unit_test(t_fast_gemma), cmocka_unit_test(t_fast_smollm),
        cmocka_unit_test(t_decode_tiny),  cmocka_unit_test(t_decode_gemma), cmocka_unit_test(t_decode_smollm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
