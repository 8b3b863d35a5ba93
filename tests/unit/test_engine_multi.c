/* test_engine_multi.c: per-session adapters and batched decode across sessions
 * (hone/engine.h: hone_session_set_adapter, hone_session_eval_multi).
 *
 * - Per-session adapter: a session of the plain base given an adapter with
 *   hone_session_set_adapter computes the same logits, bit for bit, as a session
 *   of the model loaded with that adapter (hone_load_opts.adapter_path), and
 *   set_adapter(NULL) on the latter gives the plain base's logits bit for bit
 *   (reference engine: the same ops in the same order), on the tiny gemma3 and
 *   llama fixtures. An adapter bound to another model is refused.
 * - Batched decode: three sessions with prompts of different lengths, one on the
 *   base and two on different adapters, decode several steps with one
 *   eval_multi call per step; their twins decode the same tokens one
 *   hone_session_eval call each. Reference engine: every logits row equal bit
 *   for bit (the reference computes each row of a matmul on its own, and
 *   attention, RoPE, the KV cache and LoRA run per session with T = 1 exactly as
 *   a single eval does); checked on the tiny gemma3 fixture (sliding-window
 *   rings), the tiny llama, and SmolLM2's GGUF (q/k rows permuted for LoRA),
 *   also with the sessions passed in another order.
 *   Fast kernels (SmolLM2, Gemma 3 270M): a row's sum order depends on the
 *   pass's row count (below 4 rows one row at a time on the streaming matvec
 *   path, from 4 on in panels), so rows agree to rounding only: bound 2e-3
 *   relative L2 per logits row and the same argmax, the size of the
 *   INT16-vs-F32 activation rounding difference test_engine_ref accepts.
 *   Measured on this Zen 4 with today's kernels: 0 for the 3-row decode steps
 *   (all on the one-row path, as a single eval), up to 4.2e-4 for the
 *   eval_batch step of 7 rows (its 1- and 2-token sessions leave that path).
 *   Then one hone_session_eval_batch call with 1, 4 and 2 tokens for the three
 *   sessions (a prompt beside decode steps) against each twin's own eval of its
 *   tokens, same bounds.
 * - Argument errors: a repeated session, more sessions than the first one's
 *   batch, a full context, a token out of range; none changes any session.
 */
#include <math.h>
#include <sys/stat.h>

#include "testutil.h"

#define EDIR "tests/fixtures/engine"
#define ADIR "tests/fixtures/adapter"

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

static size_t argmax(const float *x, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* A random MLX adapter (rank 4 on q, k, v, o, gate, up, down of every layer) for
 * desc written to a fresh folder; returns the malloc'd path. */
static char *write_random_adapter(const hone_model_desc *d, uint64_t seed, float amp) {
    hone_err err = {0};
    hone_adapter_config cfg = {.fine_tune_type = "lora", .num_layers = -1, .rank = 4, .scale = 2.0f};
    hone_adapter *ad;
    ASSERT_OK(hone_adapter_create(&ad, &cfg, &err), &err);
    hone_rng r;
    hone_rng_seed(&r, seed);
    int64_t nq = (int64_t)d->n_heads * d->head_dim, nkv = (int64_t)d->n_kv_heads * d->head_dim;
    int64_t io[HONE_PROJ_COUNT][2] = {{d->hidden, nq},         {d->hidden, nkv},        {d->hidden, nkv},
                                      {nq, d->hidden},         {d->hidden, d->ffn_hidden},
                                      {d->hidden, d->ffn_hidden}, {d->ffn_hidden, d->hidden}};
    for (uint32_t il = 0; il < d->n_layers; il++)
        for (int p = 0; p < HONE_PROJ_COUNT; p++) {
            int64_t ni = io[p][0], no = io[p][1];
            float *a = malloc((size_t)(4 * ni) * sizeof *a), *b = malloc((size_t)(no * 4) * sizeof *b);
            for (int64_t i = 0; i < 4 * ni; i++) a[i] = (float)((hone_rng_uniform(&r) * 2 - 1) / sqrt((double)ni));
            for (int64_t i = 0; i < 4 * no; i++) b[i] = (float)((hone_rng_uniform(&r) * 2 - 1) * amp);
            ASSERT_OK(hone_adapter_add(ad, il, p, ni, no, a, b, &err), &err);
            free(a);
            free(b);
        }
    char *dir = malloc(256);
    snprintf(dir, 256, "/tmp/hone-test-multi-%ld-%llu", (long)getpid(), (unsigned long long)seed);
    mkdir(dir, 0700);
    ASSERT_OK(hone_adapter_save_mlx(ad, dir, &err), &err);
    hone_adapter_free(ad);
    return dir;
}

static void rm_adapter(char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/adapters.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    unlink(p);
    rmdir(dir);
    free(dir);
}

static void make_prompt(int32_t *tok, uint32_t n, uint32_t vocab, uint32_t salt) {
    for (uint32_t t = 0; t < n; t++) tok[t] = (int32_t)((t * 7919u + salt * 104729u + 13) % vocab);
}

/* Last-token logits of prompt tok[0..n) on a fresh session with adapter a
 * (use_default: leave the session's initial adapter). */
static void prompt_logits(hone_model *m, const hone_model_adapter *a, int use_default, const int32_t *tok,
                          uint32_t n, float *logits) {
    hone_err err = {0};
    hone_session *s;
    hone_session_opts so = {.n_ctx = 64, .n_batch = 16, .n_threads = 2};
    ASSERT_OK(hone_session_init(&s, m, &so, &err), &err);
    if (!use_default) ASSERT_OK(hone_session_set_adapter(s, a, &err), &err);
    hone_eval_out out = {.logits = logits};
    ASSERT_OK(hone_session_eval(s, tok, n, &out, &err), &err);
    hone_session_free(s);
}

/* Per-session adapter == load-time adapter, reference engine, bit for bit. */
static void check_set_adapter(const char *model_path, const char *adir) {
    hone_err err = {0};
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE};
    hone_model *base, *withad;
    ASSERT_OK(hone_model_load(&base, model_path, &lo, &err), &err);
    lo.adapter_path = adir;
    ASSERT_OK(hone_model_load(&withad, model_path, &lo, &err), &err);
    assert_null(hone_model_get_adapter(base));
    assert_non_null(hone_model_get_adapter(withad));
    hone_model_adapter *a;
    ASSERT_OK(hone_model_adapter_load(&a, base, adir, 0, &err), &err);
    size_t V = hone_model_get_desc(base)->vocab;
    int32_t tok[11];
    make_prompt(tok, 11, (uint32_t)V, 1);
    float *l_set = malloc(V * 4), *l_load = malloc(V * 4), *l_base = malloc(V * 4), *l_none = malloc(V * 4);
    prompt_logits(base, a, 0, tok, 11, l_set);
    prompt_logits(withad, NULL, 1, tok, 11, l_load);
    prompt_logits(base, NULL, 1, tok, 11, l_base);
    prompt_logits(withad, NULL, 0, tok, 11, l_none);
    assert_memory_equal(l_set, l_load, V * 4);
    assert_memory_equal(l_base, l_none, V * 4);
    double moved = rel_l2(l_set, l_base, V);
    print_message("  %s: set_adapter == load-time adapter (bit for bit); adapter moves logits by %.2e\n",
                  model_path, moved);
    if (moved < 1e-3) fail_msg("%s: the adapter barely changes the logits (%.2e): the test proves nothing", adir, moved);
    /* an adapter bound to another model */
    hone_session *s;
    hone_session_opts so = {.n_ctx = 16, .n_batch = 4, .n_threads = 1};
    ASSERT_OK(hone_session_init(&s, withad, &so, &err), &err);
    assert_ptr_equal(hone_session_get_adapter(s), hone_model_get_adapter(withad));
    assert_int_equal(hone_session_set_adapter(s, a, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "another model"));
    hone_session_free(s);
    free(l_set), free(l_load), free(l_base), free(l_none);
    hone_model_adapter_free(a);
    hone_model_free(withad);
    hone_model_free(base);
}

/* Three sessions (base, adapter 1, adapter 2) decode K steps batched vs one by one.
 * tol < 0: bit for bit; else per-row rel L2 bound and same argmax. */
static void check_multi(const char *model_path, int engine, const char *adir1, const char *adir2, double tol) {
    /* ... then one hone_session_eval_batch step with 1, 4 and 2 tokens per session */
    enum { NS = 3, K = 6 };
    hone_err err = {0};
    hone_load_opts lo = {.engine = engine};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, model_path, &lo, &err), &err);
    size_t V = hone_model_get_desc(m)->vocab;
    hone_model_adapter *a1, *a2;
    ASSERT_OK(hone_model_adapter_load(&a1, m, adir1, 0, &err), &err);
    ASSERT_OK(hone_model_adapter_load(&a2, m, adir2, adir1 == adir2 ? -1.5f : 0, &err), &err);
    const hone_model_adapter *ads[NS] = {NULL, a1, a2};
    uint32_t plen[NS] = {5, 13, 9};
    hone_session *ms[NS], *ss[NS];
    hone_session_opts so = {.n_ctx = 64, .n_batch = 16, .n_threads = 2};
    float *lg = malloc(V * 4), *lm = malloc(NS * V * 4);
    for (int i = 0; i < NS; i++) {
        ASSERT_OK(hone_session_init(&ms[i], m, &so, &err), &err);
        ASSERT_OK(hone_session_init(&ss[i], m, &so, &err), &err);
        ASSERT_OK(hone_session_set_adapter(ms[i], ads[i], &err), &err);
        ASSERT_OK(hone_session_set_adapter(ss[i], ads[i], &err), &err);
        int32_t tok[16];
        make_prompt(tok, plen[i], (uint32_t)V, (uint32_t)i + 2);
        hone_eval_out out = {.logits = lg};
        ASSERT_OK(hone_session_eval(ms[i], tok, plen[i], &out, &err), &err);
        ASSERT_OK(hone_session_eval(ss[i], tok, plen[i], &out, &err), &err);
    }
    double worst = 0;
    for (int step = 0; step < K; step++) {
        int32_t tok[NS];
        for (int i = 0; i < NS; i++) tok[i] = (int32_t)(((uint32_t)step * 131u + (uint32_t)i * 17u + 3) % V);
        /* odd steps pass the sessions in reverse order */
        hone_session *order[NS];
        int32_t otok[NS];
        for (int i = 0; i < NS; i++) {
            int j = step & 1 ? NS - 1 - i : i;
            order[i] = ms[j];
            otok[i] = tok[j];
        }
        ASSERT_OK(hone_session_eval_multi(order, NS, otok, lm, &err), &err);
        for (int i = 0; i < NS; i++) {
            int row = step & 1 ? NS - 1 - i : i;
            hone_eval_out out = {.logits = lg};
            ASSERT_OK(hone_session_eval(ss[i], &tok[i], 1, &out, &err), &err);
            assert_int_equal(hone_session_pos(ms[i]), hone_session_pos(ss[i]));
            const float *r = lm + (size_t)row * V;
            if (tol < 0) {
                if (memcmp(r, lg, V * 4))
                    fail_msg("%s step %d session %d: batched logits differ from a single eval (rel L2 %.3e)",
                             model_path, step, i, rel_l2(r, lg, V));
            } else {
                double e = rel_l2(r, lg, V);
                if (e > worst) worst = e;
                if (e > tol || argmax(r, V) != argmax(lg, V))
                    fail_msg("%s step %d session %d: rel L2 %.3e (bound %.1e), argmax %zu vs %zu", model_path, step,
                             i, e, tol, argmax(r, V), argmax(lg, V));
            }
        }
    }
    /* one eval_batch with several tokens per session (a prompt beside decode steps):
     * 1, 4 and 2 tokens, vs each twin's own eval of the same tokens */
    {
        uint32_t nt[NS] = {1, 4, 2};
        int32_t tok[7];
        for (int k = 0; k < 7; k++) tok[k] = (int32_t)(((uint32_t)k * 977u + 5) % V);
        ASSERT_OK(hone_session_eval_batch(ms, NS, tok, nt, lm, &err), &err);
        for (int i = 0, at = 0; i < NS; at += (int)nt[i], i++) {
            hone_eval_out out = {.logits = lg};
            ASSERT_OK(hone_session_eval(ss[i], tok + at, nt[i], &out, &err), &err);
            assert_int_equal(hone_session_pos(ms[i]), hone_session_pos(ss[i]));
            double e = rel_l2(lm + (size_t)i * V, lg, V);
            if (e > worst) worst = e;
            if (tol < 0 ? memcmp(lm + (size_t)i * V, lg, V * 4) != 0 : (e > tol || argmax(lm + (size_t)i * V, V) != argmax(lg, V)))
                fail_msg("%s eval_batch session %d (%u tokens): rel L2 %.3e vs its own eval", model_path, i, nt[i], e);
        }
    }
    /* the adapters matter: the three sessions' last rows differ */
    print_message("  %s (%s): %d steps x %d sessions batched == single %s%.2e; sessions differ by %.2e, %.2e\n",
                  model_path, engine == HONE_ENGINE_REFERENCE ? "reference" : "fast", K, NS,
                  tol < 0 ? "bit for bit, " : "worst rel L2 ", worst, rel_l2(lm, lm + V, V), rel_l2(lm + V, lm + 2 * V, V));
    for (int i = 0; i < NS; i++) {
        hone_session_free(ms[i]);
        hone_session_free(ss[i]);
    }
    free(lg);
    free(lm);
    hone_model_adapter_free(a1);
    hone_model_adapter_free(a2);
    hone_model_free(m);
}

static int have(const char *p) { return access(p, R_OK) == 0; }

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
/* The sanitizer build (-O1 with checks) runs the same code paths on the tiny
 * fixtures only: the real models' reference runs take minutes there. */
#define SKIP_UNDER_SAN()                                                                   \
    do {                                                                                   \
        if (SAN) {                                                                         \
            print_message("[ SKIPPED  ] real model under the sanitizers (tiny fixtures cover the paths)\n"); \
            skip();                                                                        \
        }                                                                                  \
    } while (0)

static void t_set_adapter_tiny(void **st) {
    if (!have(ADIR "/tiny-gemma3/peft/adapter_config.json")) skip();
    check_set_adapter(EDIR "/tiny-gemma3", ADIR "/tiny-gemma3/peft");
    check_set_adapter(EDIR "/tiny-llama-rope3", ADIR "/tiny-llama-rope3/mlx");
}

static void t_multi_tiny_ref(void **st) {
    if (!have(ADIR "/tiny-gemma3/peft/adapter_config.json")) skip();
    check_multi(EDIR "/tiny-gemma3", HONE_ENGINE_REFERENCE, ADIR "/tiny-gemma3/peft", ADIR "/tiny-gemma3/mlx", -1);
    /* the second adapter: the first with scale -1.5 */
    check_multi(EDIR "/tiny-llama-rope3", HONE_ENGINE_REFERENCE, ADIR "/tiny-llama-rope3/mlx",
                ADIR "/tiny-llama-rope3/mlx", -1);
}

static void t_multi_smollm2(void **st) {
    SKIP_UNDER_SAN();
    REQUIRE_MODEL(path, SMOL_GGUF);
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE};
    ASSERT_OK(hone_model_load(&m, path, &lo, &err), &err);
    char *a1 = write_random_adapter(hone_model_get_desc(m), 1, 0.05f);
    char *a2 = write_random_adapter(hone_model_get_desc(m), 2, 0.05f);
    hone_model_free(m);
    check_multi(path, HONE_ENGINE_REFERENCE, a1, a2, -1);
    check_multi(path, HONE_ENGINE_FAST, a1, a2, 2e-3);
    rm_adapter(a1);
    rm_adapter(a2);
}

static void t_multi_gemma_fast(void **st) {
    SKIP_UNDER_SAN();
    REQUIRE_MODEL(path, GEMMA_GGUF);
    hone_err err = {0};
    hone_model *m;
    ASSERT_OK(hone_model_load(&m, path, NULL, &err), &err);
    char *a1 = write_random_adapter(hone_model_get_desc(m), 3, 0.05f);
    hone_model_free(m);
    check_multi(path, HONE_ENGINE_FAST, a1, a1, 2e-3);
    rm_adapter(a1);
}

static void t_multi_errors(void **st) {
    if (!have(EDIR "/tiny-llama-rope3/config.json")) skip();
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = HONE_ENGINE_REFERENCE};
    ASSERT_OK(hone_model_load(&m, EDIR "/tiny-llama-rope3", &lo, &err), &err);
    uint32_t V = hone_model_get_desc(m)->vocab;
    hone_session *a, *b, *c;
    hone_session_opts so = {.n_ctx = 4, .n_batch = 2, .n_threads = 1};
    ASSERT_OK(hone_session_init(&a, m, &so, &err), &err);
    ASSERT_OK(hone_session_init(&b, m, &so, &err), &err);
    ASSERT_OK(hone_session_init(&c, m, &so, &err), &err);
    int32_t tok[3] = {1, 2, 3};
    hone_session *dup[2] = {a, a}, *three[3] = {a, b, c}, *two[2] = {a, b};
    assert_int_equal(hone_session_eval_multi(dup, 2, tok, NULL, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "also session"));
    assert_int_equal(hone_session_eval_multi(three, 3, tok, NULL, &err), HONE_EARG);
    int32_t bad[2] = {1, (int32_t)V};
    assert_int_equal(hone_session_eval_multi(two, 2, bad, NULL, &err), HONE_EARG);
    assert_int_equal(hone_session_pos(a), 0);
    assert_int_equal(hone_session_pos(b), 0);
    int32_t four[4] = {1, 2, 3, 4};
    hone_eval_out out = {0};
    ASSERT_OK(hone_session_eval(b, four, 2, &out, &err), &err);
    ASSERT_OK(hone_session_eval(b, four, 2, &out, &err), &err); /* b is full */
    assert_int_equal(hone_session_eval_multi(two, 2, tok, NULL, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "full"));
    assert_int_equal(hone_session_pos(a), 0);
    ASSERT_OK(hone_session_eval_multi(two, 1, tok, NULL, &err), &err);
    assert_int_equal(hone_session_pos(a), 1);
    hone_session_free(a);
    hone_session_free(b);
    hone_session_free(c);
    hone_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_set_adapter_tiny), cmocka_unit_test(t_multi_tiny_ref),
        cmocka_unit_test(t_multi_smollm2),    cmocka_unit_test(t_multi_gemma_fast),
        cmocka_unit_test(t_multi_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
