/* test_train_grad.c: the LoRA training step (hone/train.h, issue 5) against
 *  - the PyTorch + PEFT twin (tests/ref/make_train_fixture.py, tests/fixtures/train/):
 *    loss and dA/dB on tiny gemma3, llama (rope3) and qwen2, reference and fast engines;
 *    and the 20-step mlx-lm-Adam trajectory's per-step losses;
 *  - central finite differences of hone's own loss (with dropout on);
 *  - itself: prefix cache (second visit identical, and really used), gradient
 *    checkpointing and thread count (bit-identical), a batch without supervised tokens;
 *  - QLoRA: a tiny model quantized to Q4_0 GGUF vs the same weights dequantized to F32
 *    GGUF, and the F32 GGUF (q/k rows permuted, RoPE NORM) vs the HF folder.
 */
#include <jansson.h>
#include <math.h>

#include "hf2gguf.h"
#include "testutil.h"
#include "train/train_internal.h"

#define FDIR "tests/fixtures/train"
#define EDIR "tests/fixtures/engine"

typedef struct fixture {
    hone_st *st;
    json_t *meta;
    int32_t tokens[2 * 13], targets[2 * 13];
    uint32_t lengths[2];
    uint32_t seq_len;
} fixture;

static float *st_f32(hone_st *st, const char *name, uint64_t *n) {
    int64_t i = hone_st_find(st, name);
    if (i < 0) fail_msg("fixture tensor %s missing", name);
    assert_int_equal(hone_st_tensor_dtype(st, i), HONE_ST_F32);
    uint64_t ne = hone_st_tensor_nelem(st, i);
    float *p = malloc(ne * sizeof *p);
    memcpy(p, hone_st_tensor_data(st, i), ne * sizeof *p);
    if (n) *n = ne;
    return p;
}

static void st_i32(hone_st *st, const char *name, void *dst, uint64_t n) {
    int64_t i = hone_st_find(st, name);
    assert_true(i >= 0);
    assert_int_equal(hone_st_tensor_nelem(st, i), n);
    memcpy(dst, hone_st_tensor_data(st, i), n * 4);
}

static void fixture_open(fixture *f, const char *name) {
    char p[512];
    hone_err err = {0};
    snprintf(p, sizeof p, FDIR "/%s.safetensors", name);
    ASSERT_OK(hone_st_open(&f->st, p, &err), &err);
    snprintf(p, sizeof p, FDIR "/%s.json", name);
    json_error_t je;
    f->meta = json_load_file(p, 0, &je);
    assert_non_null(f->meta);
    f->seq_len = (uint32_t)json_integer_value(json_object_get(f->meta, "seq_len"));
    assert_int_equal(f->seq_len, 13);
    st_i32(f->st, "tokens", f->tokens, 26);
    st_i32(f->st, "targets", f->targets, 26);
    st_i32(f->st, "lengths", f->lengths, 2);
}

static void fixture_close(fixture *f) {
    hone_st_close(f->st);
    json_decref(f->meta);
}

/* The fixture's adapter ("L.MODULE" list) with A and B = the tensors SUFFIX_A/SUFFIX_B
 * (B NULL suffix: zeros). */
static hone_adapter *fixture_adapter(fixture *f, const char *sa, const char *sb, float dropout) {
    hone_err err = {0};
    hone_adapter_config cfg = {.rank = 4, .scale = (float)json_real_value(json_object_get(f->meta, "scale")),
                               .dropout = dropout, .num_layers = -1};
    hone_adapter *ad;
    ASSERT_OK(hone_adapter_create(&ad, &cfg, &err), &err);
    json_t *list = json_object_get(f->meta, "adapted");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *P = json_string_value(json_array_get(list, i));
        unsigned layer;
        char mod[32];
        assert_int_equal(sscanf(P, "%u.%31s", &layer, mod), 2);
        char n[96];
        uint64_t na, nb;
        snprintf(n, sizeof n, "%s.%s", P, sa);
        float *a = st_f32(f->st, n, &na);
        snprintf(n, sizeof n, "%s.B", P); /* shape source */
        float *b = st_f32(f->st, n, &nb);
        if (sb) {
            free(b);
            snprintf(n, sizeof n, "%s.%s", P, sb);
            b = st_f32(f->st, n, &nb);
        } else {
            memset(b, 0, nb * sizeof *b);
        }
        ASSERT_OK(hone_adapter_add(ad, layer, hone_proj_from_name(mod), (int64_t)(na / 4), (int64_t)(nb / 4), a, b,
                                   &err),
                  &err);
        free(a);
        free(b);
    }
    return ad;
}

static hone_model *load(const char *path, int engine) {
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = engine};
    ASSERT_OK(hone_model_load(&m, path, &lo, &err), &err);
    return m;
}

static hone_trainer *trainer(hone_model *m, hone_adapter *ad, int engine, int ckpt, int threads, size_t cache) {
    hone_err err = {0};
    hone_trainer *t;
    hone_trainer_opts o = {.engine = engine, .max_batch = 2, .max_seq = 16, .grad_checkpoint = ckpt,
                           .n_threads = threads, .prefix_cache_bytes = cache};
    ASSERT_OK(hone_trainer_create(&t, m, ad, &o, &err), &err);
    return t;
}

static hone_train_batch fixture_batch(fixture *f, const int64_t *ids, uint64_t seed) {
    hone_train_batch b = {.n_seq = 2, .seq_len = f->seq_len, .tokens = f->tokens, .targets = f->targets,
                          .lengths = f->lengths, .example_ids = ids, .dropout_seed = seed};
    return b;
}

static double step(hone_trainer *t, const hone_train_batch *b, int backward, float gs, int64_t *n) {
    hone_err err = {0};
    double loss = 0;
    int64_t nt = 0;
    ASSERT_OK(hone_trainer_step(t, b, backward, gs, &loss, &nt, &err), &err);
    if (n) *n = nt;
    return loss;
}

/* ||x - y|| / ||y||, in double. */
static double rel_l2(const float *x, const float *y, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)x[i] - y[i];
        num += e * e;
        den += (double)y[i] * y[i];
    }
    return sqrt(num / (den > 0 ? den : 1e-300));
}

/* ---- 1. gradients vs the PEFT twin ---------------------------------------------
 *
 * Tolerance, reference engine: 1e-5 relative L2 per tensor (issue 5). The fixture is
 * float64 (the exact answer to ~1e-15); hone runs in f32 with dot products of <= 96
 * terms and softmaxes/RMS in double, so each op's relative error is a few f32 ulps
 * (~1e-7 .. 1e-6 after accumulation); the two backward passes through <= 4 blocks
 * compound that to a few 1e-6 at worst on these well-conditioned tiny models
 * (measured: printed below). The loss sum gets the same bound.
 * Fast engine: its F32 GEMM sums in another order (FMA, blocked), same error class:
 * the same 1e-5 is asserted for f32 weights; a measured value is printed. */
static void check_fixture(const char *name, int engine, double tol) {
    fixture f;
    fixture_open(&f, name);
    char mdir[256];
    snprintf(mdir, sizeof mdir, EDIR "/%s", name);
    hone_model *m = load(mdir, engine);
    hone_adapter *ad = fixture_adapter(&f, "A", "B", 0.0f);
    hone_trainer *t = trainer(m, ad, engine, 0, 0, 0);
    hone_trainer_zero_grad(t);
    hone_train_batch b = fixture_batch(&f, NULL, 1);
    int64_t n;
    double loss = step(t, &b, 1, 1.0f, &n);
    double want = json_real_value(json_object_get(f.meta, "loss_sum"));
    assert_int_equal(n, json_integer_value(json_object_get(f.meta, "n_tokens")));
    double lerr = fabs(loss - want) / fabs(want), worst = 0;
    for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
        const hone_lora *l = hone_adapter_get(ad, i);
        float *dA, *dB;
        hone_trainer_grad(t, i, &dA, &dB);
        char tn[96];
        snprintf(tn, sizeof tn, "%u.%s.dA", l->layer, hone_proj_name(l->proj));
        float *rA = st_f32(f.st, tn, NULL);
        snprintf(tn, sizeof tn, "%u.%s.dB", l->layer, hone_proj_name(l->proj));
        float *rB = st_f32(f.st, tn, NULL);
        double ea = rel_l2(dA, rA, l->rank * l->n_in), eb = rel_l2(dB, rB, l->n_out * l->rank);
        if (ea > tol || eb > tol)
            fail_msg("%s %s layer %u %s: dA rel err %.3g, dB %.3g > %.1g", name, engine ? "ref" : "fast", l->layer,
                     hone_proj_name(l->proj), ea, eb, tol);
        worst = fmax(worst, fmax(ea, eb));
        free(rA);
        free(rB);
    }
    print_message("%s (%s): loss %.8f vs twin %.8f (rel %.2g), worst dA/dB rel L2 %.2g (tol %.0g)\n", name,
                  engine ? "reference" : "fast", loss, want, lerr, worst, tol);
    assert_true(lerr <= tol);
    hone_trainer_free(t);
    hone_adapter_free(ad);
    hone_model_free(m);
    fixture_close(&f);
}

static void test_fixture_gemma3(void **st) {
    (void)st;
    check_fixture("tiny-gemma3", HONE_ENGINE_REFERENCE, 1e-5);
    check_fixture("tiny-gemma3", HONE_ENGINE_FAST, 1e-5);
}
static void test_fixture_llama(void **st) {
    (void)st;
    check_fixture("tiny-llama-rope3", HONE_ENGINE_REFERENCE, 1e-5);
    check_fixture("tiny-llama-rope3", HONE_ENGINE_FAST, 1e-5);
}
static void test_fixture_qwen2(void **st) {
    (void)st;
    check_fixture("tiny-qwen2", HONE_ENGINE_REFERENCE, 1e-5);
    check_fixture("tiny-qwen2", HONE_ENGINE_FAST, 1e-5);
}

/* ---- 2. trajectory: 20 steps of mlx-lm's Adam (no bias correction) ------------------
 * Tolerance 1e-4 relative per step (issue 5): each step's loss carries the step's f32
 * error (~1e-6, above) plus the drift of 20 Adam updates computed from f32 gradients;
 * Adam's update lr m / (sqrt(v) + eps) is scale-free, so a 1e-6 relative gradient error
 * moves parameters by ~1e-6 lr per step, far below 1e-4 of the loss. */
static void trajectory(const char *name) {
    fixture f;
    fixture_open(&f, name);
    char mdir[256];
    snprintf(mdir, sizeof mdir, EDIR "/%s", name);
    hone_model *m = load(mdir, HONE_ENGINE_REFERENCE);
    hone_adapter *ad = fixture_adapter(&f, "A", NULL, 0.0f);
    hone_trainer *t = trainer(m, ad, HONE_ENGINE_REFERENCE, 0, 0, 0);
    json_t *tr = json_object_get(f.meta, "trajectory");
    double lr = json_real_value(json_object_get(tr, "lr")), b1 = json_real_value(json_object_get(tr, "beta1"));
    double b2 = json_real_value(json_object_get(tr, "beta2")), eps = json_real_value(json_object_get(tr, "eps"));
    json_t *losses = json_object_get(tr, "losses");
    int64_t np = hone_adapter_n(ad);
    float **mom = calloc((size_t)np * 4, sizeof *mom); /* m, v of A, then of B */
    for (int64_t i = 0; i < np; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        mom[4 * i] = calloc((size_t)(l->rank * l->n_in), sizeof(float));
        mom[4 * i + 1] = calloc((size_t)(l->rank * l->n_in), sizeof(float));
        mom[4 * i + 2] = calloc((size_t)(l->rank * l->n_out), sizeof(float));
        mom[4 * i + 3] = calloc((size_t)(l->rank * l->n_out), sizeof(float));
    }
    hone_train_batch b = fixture_batch(&f, NULL, 1);
    double worst = 0;
    for (size_t s = 0; s < json_array_size(losses); s++) {
        hone_trainer_zero_grad(t);
        int64_t n;
        double loss = step(t, &b, 1, 0.0f, &n) / (double)n; /* grad of the mean */
        double want = json_real_value(json_array_get(losses, s));
        double e = fabs(loss - want) / fabs(want);
        if (e > 1e-4) fail_msg("%s step %zu: loss %.8f vs twin %.8f (rel %.3g > 1e-4)", name, s, loss, want, e);
        worst = fmax(worst, e);
        for (int64_t i = 0; i < np; i++) {
            hone_lora *l = hone_adapter_get(ad, i);
            float *g[2];
            hone_trainer_grad(t, i, &g[0], &g[1]);
            float *p[2] = {l->a, l->b};
            int64_t cnt[2] = {l->rank * l->n_in, l->rank * l->n_out};
            for (int k = 0; k < 2; k++)
                for (int64_t j = 0; j < cnt[k]; j++) {
                    float *mm = mom[4 * i + 2 * k], *vv = mom[4 * i + 2 * k + 1];
                    mm[j] = (float)(b1 * mm[j] + (1 - b1) * g[k][j]);
                    vv[j] = (float)(b2 * vv[j] + (1 - b2) * (double)g[k][j] * g[k][j]);
                    p[k][j] = (float)(p[k][j] - lr * mm[j] / (sqrt(vv[j]) + eps));
                }
        }
    }
    print_message("%s: %zu-step trajectory worst loss rel err %.2g (tol 1e-4)\n", name, json_array_size(losses), worst);
    for (int64_t i = 0; i < 4 * np; i++) free(mom[i]);
    free(mom);
    hone_trainer_free(t);
    hone_adapter_free(ad);
    hone_model_free(m);
    fixture_close(&f);
}

static void test_trajectory(void **st) {
    (void)st;
    trajectory("tiny-gemma3");
    trajectory("tiny-llama-rope3");
    trajectory("tiny-qwen2");
}

/* ---- 3. finite differences ---------------------------------------------------------
 * For every adapter tensor X (each A and each B), a directional derivative along a unit
 * direction v inside X (half the normalized gradient, half a random direction, so the
 * slope is large and errors across X's entries are still seen), dropout 0.25 on (the
 * mask is a pure function of the seed, so the loss is a smooth function of the
 * parameters), summed loss, reference engine:
 *   FD = (L(X + h v) - L(X - h v)) / (2h)   vs   dL/dX . v.
 * Error budget: truncation h^2/6 |d3L/dh3| (the loss is smooth on the scale h = 1e-2:
 * the measured agreement is ~4e-5 relative) plus rounding 2 delta / (2h) with delta the
 * f32 error of one loss evaluation, <= 1e-7 |L| (measured against the float64 twin
 * above: <= 5e-8 relative). Asserted: |FD - g.v| <= 1e-3 |g.v| + 1e-7 |L| / h. */
static double fd_eval(hone_trainer *t, const hone_train_batch *b, float *x, const double *v, int64_t n, double h) {
    float *save = malloc((size_t)n * sizeof *save);
    memcpy(save, x, (size_t)n * sizeof *save);
    double L[2];
    for (int sgn = 0; sgn < 2; sgn++) {
        for (int64_t j = 0; j < n; j++) x[j] = (float)((double)save[j] + (sgn ? -h : h) * v[j]);
        L[sgn] = step(t, b, 0, 1.0f, NULL);
    }
    memcpy(x, save, (size_t)n * sizeof *save);
    free(save);
    return (L[0] - L[1]) / (2 * h);
}

static void test_finite_differences(void **st) {
    (void)st;
    fixture f;
    fixture_open(&f, "tiny-qwen2");
    hone_model *m = load(EDIR "/tiny-qwen2", HONE_ENGINE_REFERENCE);
    hone_adapter *ad = fixture_adapter(&f, "A", "B", 0.25f);
    hone_trainer *t = trainer(m, ad, HONE_ENGINE_REFERENCE, 0, 1, 0);
    hone_train_batch b = fixture_batch(&f, NULL, 12345);
    hone_trainer_zero_grad(t);
    double L0 = step(t, &b, 1, 1.0f, NULL), worst = 0;
    const double h = 1e-2;
    srand(7);
    for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        float *g[2];
        hone_trainer_grad(t, i, &g[0], &g[1]);
        float *x[2] = {l->a, l->b};
        int64_t n[2] = {l->rank * l->n_in, l->rank * l->n_out};
        for (int k = 0; k < 2; k++) {
            double *v = malloc((size_t)n[k] * sizeof *v), *r = malloc((size_t)n[k] * sizeof *r), ng = 0, nr = 0, nv = 0;
            for (int64_t j = 0; j < n[k]; j++) {
                r[j] = rand() / (double)RAND_MAX - 0.5;
                ng += (double)g[k][j] * g[k][j];
                nr += r[j] * r[j];
            }
            for (int64_t j = 0; j < n[k]; j++) {
                v[j] = g[k][j] / sqrt(ng) + r[j] / sqrt(nr);
                nv += v[j] * v[j];
            }
            double gv = 0;
            for (int64_t j = 0; j < n[k]; j++) {
                v[j] /= sqrt(nv);
                gv += g[k][j] * v[j];
            }
            double fd = fd_eval(t, &b, x[k], v, n[k], h), e = fabs(fd - gv);
            double tol = 1e-3 * fabs(gv) + 1e-7 * fabs(L0) / h;
            if (e > tol)
                fail_msg("layer %u %s d%c: FD %.7g vs g.v %.7g (|diff| %.3g > %.3g)", l->layer, hone_proj_name(l->proj),
                         k ? 'B' : 'A', fd, gv, e, tol);
            worst = fmax(worst, e / fabs(gv));
            free(v);
            free(r);
        }
    }
    print_message("finite differences (dropout 0.25), %lld tensors: worst |FD - g.v| / |g.v| = %.2g\n",
                  (long long)(2 * hone_adapter_n(ad)), worst);
    /* dropout really acts: the same step without it gives another loss */
    hone_adapter *ad0 = fixture_adapter(&f, "A", "B", 0.0f);
    hone_trainer *t0 = trainer(m, ad0, HONE_ENGINE_REFERENCE, 0, 1, 0);
    double L0nd = step(t0, &b, 0, 1.0f, NULL);
    assert_true(fabs(L0nd - L0) > 1e-3 * fabs(L0));
    /* and the mask is a pure function of the seed */
    assert_true(step(t, &b, 0, 1.0f, NULL) == L0);
    hone_train_batch b2 = b;
    b2.dropout_seed++;
    assert_true(step(t, &b2, 0, 1.0f, NULL) != L0);
    hone_trainer_free(t0);
    hone_adapter_free(ad0);
    hone_trainer_free(t);
    hone_adapter_free(ad);
    hone_model_free(m);
    fixture_close(&f);
}

/* ---- 4. prefix cache, gradient checkpointing, threads ------------------------------- */

/* Runs one backward step and returns a malloc'd copy of every gradient, concatenated. */
static float *grads_of(hone_trainer *t, hone_adapter *ad, const hone_train_batch *b, double *loss, int64_t *n) {
    hone_trainer_zero_grad(t);
    *loss = step(t, b, 1, 0.0f, NULL);
    int64_t total = 0;
    for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        total += l->rank * (l->n_in + l->n_out);
    }
    float *g = malloc((size_t)total * sizeof *g);
    int64_t k = 0;
    for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        float *dA, *dB;
        hone_trainer_grad(t, i, &dA, &dB);
        memcpy(g + k, dA, (size_t)(l->rank * l->n_in) * sizeof *g);
        k += l->rank * l->n_in;
        memcpy(g + k, dB, (size_t)(l->rank * l->n_out) * sizeof *g);
        k += l->rank * l->n_out;
    }
    *n = total;
    return g;
}

static void test_cache_checkpoint_threads(void **st) {
    (void)st;
    fixture f;
    fixture_open(&f, "tiny-gemma3"); /* lowest adapted block 2: a 2-block frozen prefix */
    int engines[2] = {HONE_ENGINE_REFERENCE, HONE_ENGINE_FAST};
    for (int e = 0; e < 2; e++) {
        hone_model *m = load(EDIR "/tiny-gemma3", engines[e]);
        hone_adapter *ad = fixture_adapter(&f, "A", "B", 0.1f);
        int64_t ids[2] = {100, 7};
        hone_train_batch b = fixture_batch(&f, ids, 99), bn = fixture_batch(&f, NULL, 99);
        hone_trainer *t = trainer(m, ad, engines[e], 0, 2, 0);
        assert_int_equal(t->lo, 2);
        double l1, l2, l3, l4;
        int64_t n;
        float *g1 = grads_of(t, ad, &b, &l1, &n); /* fills the cache */
        assert_int_equal(t->pc.n, 2);
        float *g2 = grads_of(t, ad, &b, &l2, &n); /* from the cache */
        assert_true(l1 == l2);
        assert_memory_equal(g1, g2, (size_t)n * sizeof *g1);
        /* the cache is really read: a scribbled entry changes the loss ... */
        t->pc.arena[0] += 1.0f;
        assert_true(step(t, &b, 0, 1.0f, NULL) != l1);
        /* ... and clearing it recomputes */
        hone_trainer_clear_cache(t);
        float *g3 = grads_of(t, ad, &b, &l3, &n);
        assert_true(l3 == l1);
        assert_memory_equal(g1, g3, (size_t)n * sizeof *g1);
        /* no ids: no cache, same numbers */
        float *g4 = grads_of(t, ad, &bn, &l4, &n);
        assert_true(l4 == l1);
        assert_memory_equal(g1, g4, (size_t)n * sizeof *g1);
        /* gradient checkpointing: bit-identical */
        hone_trainer *tc = trainer(m, ad, engines[e], 1, 2, SIZE_MAX);
        float *g5 = grads_of(tc, ad, &b, &l4, &n);
        assert_true(l4 == l1);
        assert_memory_equal(g1, g5, (size_t)n * sizeof *g1);
        /* thread count (reference engine: every sum has a fixed order) */
        if (engines[e] == HONE_ENGINE_REFERENCE) {
            hone_trainer *t1 = trainer(m, ad, engines[e], 0, 1, 0);
            float *g6 = grads_of(t1, ad, &b, &l4, &n);
            assert_true(l4 == l1);
            assert_memory_equal(g1, g6, (size_t)n * sizeof *g1);
            free(g6);
            hone_trainer_free(t1);
        }
        /* a batch without supervised tokens adds nothing */
        int32_t none[26];
        for (int i = 0; i < 26; i++) none[i] = -1;
        hone_train_batch bz = bn;
        bz.targets = none;
        double lz = 0;
        int64_t nz = 0;
        hone_err err = {0};
        ASSERT_OK(hone_trainer_step(t, &bz, 1, 0.0f, &lz, &nz, &err), &err);
        assert_true(lz == 0 && nz == 0);
        /* bad input is refused with a message */
        int32_t badtok[26];
        memcpy(badtok, f.tokens, sizeof badtok);
        badtok[3] = 100000;
        bz = bn;
        bz.tokens = badtok;
        assert_int_equal(hone_trainer_step(t, &bz, 1, 0.0f, &lz, &nz, &err), HONE_EARG);
        assert_non_null(strstr(err.msg, "tokens[0][3]"));
        free(g1), free(g2), free(g3), free(g4), free(g5);
        hone_trainer_free(tc);
        hone_trainer_free(t);
        hone_adapter_free(ad);
        hone_model_free(m);
    }
    fixture_close(&f);
}

/* ---- 5. QLoRA and GGUF orientation --------------------------------------------------
 * tiny-mistral (llama GGUF layout: q/k rows permuted, RoPE NORM; untied LM head; sliding
 * window 8 < 13). Adapter: random A, B on q, k, v, down of layer 1.
 *  - Q4_0 GGUF vs the same values dequantized into an F32 GGUF, reference engine: the
 *    reference dequantizes exactly (gguf-py's dequantizers) and sums in the same order,
 *    so loss and gradients must agree to 1e-6 relative (in practice bit-identical).
 *  - F32 GGUF vs the HF folder, reference: same weights, rows permuted and RoPE pairs
 *    taken the other way; f32 rounding differs only through the permuted sum order:
 *    1e-5 (the fixture bound).
 *  - Q4_0 GGUF, fast engine vs reference: the fast forward quantizes activations to
 *    15 bits per 32 (INT16 variant, relative error <= 3e-5 per element), which moves
 *    gradients by ~1e-4; 2e-3 relative L2 is asserted (printed: the measured value). */
static hone_adapter *random_adapter(const hone_model_desc *d, float dropout) {
    hone_err err = {0};
    hone_adapter_config cfg = {.rank = 4, .scale = 2.0f, .dropout = dropout, .num_layers = 1};
    hone_adapter *ad;
    ASSERT_OK(hone_adapter_create(&ad, &cfg, &err), &err);
    int projs[4] = {HONE_PROJ_Q, HONE_PROJ_K, HONE_PROJ_V, HONE_PROJ_DOWN};
    srand(11);
    for (int p = 0; p < 4; p++) {
        int64_t ni = projs[p] == HONE_PROJ_DOWN ? d->ffn_hidden : d->hidden;
        int64_t no = projs[p] == HONE_PROJ_Q ? (int64_t)d->n_heads * d->head_dim
                     : projs[p] == HONE_PROJ_DOWN ? d->hidden
                                                  : (int64_t)d->n_kv_heads * d->head_dim;
        float *a = malloc((size_t)(4 * ni) * sizeof *a), *b = malloc((size_t)(4 * no) * sizeof *b);
        for (int64_t j = 0; j < 4 * ni; j++) a[j] = (float)((rand() / (double)RAND_MAX - 0.5) * 0.25);
        for (int64_t j = 0; j < 4 * no; j++) b[j] = (float)((rand() / (double)RAND_MAX - 0.5) * 0.2);
        ASSERT_OK(hone_adapter_add(ad, 1, projs[p], ni, no, a, b, &err), &err);
        free(a);
        free(b);
    }
    return ad;
}

static void test_qlora(void **st) {
    (void)st;
    char *gq = hf_to_gguf_dir_type(EDIR "/tiny-mistral", "train-q4", "mistral", HONE_Q4_0, 0);
    char *gd = hf_to_gguf_dir_type(EDIR "/tiny-mistral", "train-q4deq", "mistral", HONE_Q4_0, 1);
    char *gf = hf_to_gguf_dir_type(EDIR "/tiny-mistral", "train-f32", "mistral", HONE_F32, 0);
    assert_non_null(gq);
    hone_model *mq = load(gq, HONE_ENGINE_REFERENCE), *md = load(gd, HONE_ENGINE_REFERENCE);
    hone_model *mf = load(gf, HONE_ENGINE_REFERENCE), *mh = load(EDIR "/tiny-mistral", HONE_ENGINE_REFERENCE);
    assert_int_equal(mq->layers[1].wq.type, HONE_Q4_0);
    assert_int_equal(mq->rope_mode, HONE_ROPE_NORM);
    hone_adapter *ad = random_adapter(&mq->desc, 0.0f);
    fixture f; /* reuse the qwen2 fixture's batch (ids < 512) */
    fixture_open(&f, "tiny-qwen2");
    hone_train_batch b = fixture_batch(&f, NULL, 5);
    double lq, ld, lf, lh, lfast;
    int64_t n;
    hone_trainer *tq = trainer(mq, ad, HONE_ENGINE_REFERENCE, 0, 0, 0);
    hone_trainer *td = trainer(md, ad, HONE_ENGINE_REFERENCE, 0, 0, 0);
    hone_trainer *tf = trainer(mf, ad, HONE_ENGINE_REFERENCE, 0, 0, 0);
    hone_trainer *th = trainer(mh, ad, HONE_ENGINE_REFERENCE, 0, 0, 0);
    hone_trainer *tx = trainer(mq, ad, HONE_ENGINE_FAST, 0, 0, 0);
    float *g_q = grads_of(tq, ad, &b, &lq, &n), *g_d = grads_of(td, ad, &b, &ld, &n);
    float *g_f = grads_of(tf, ad, &b, &lf, &n), *g_h = grads_of(th, ad, &b, &lh, &n);
    float *g_x = grads_of(tx, ad, &b, &lfast, &n);
    double e_qd = rel_l2(g_q, g_d, n), e_fh = rel_l2(g_f, g_h, n), e_x = rel_l2(g_x, g_q, n);
    print_message("QLoRA Q4_0 vs dequantized F32: loss %.7f / %.7f, grads rel %.2g (tol 1e-6)\n", lq, ld, e_qd);
    print_message("GGUF F32 (permuted q/k) vs HF: loss %.7f / %.7f, grads rel %.2g (tol 1e-5)\n", lf, lh, e_fh);
    print_message("Q4_0 fast vs reference: loss %.7f / %.7f, grads rel %.2g (tol 2e-3)\n", lfast, lq, e_x);
    assert_true(fabs(lq - ld) <= 1e-6 * fabs(ld) && e_qd <= 1e-6);
    assert_true(fabs(lf - lh) <= 1e-5 * fabs(lh) && e_fh <= 1e-5);
    assert_true(fabs(lfast - lq) <= 2e-3 * fabs(lq) && e_x <= 2e-3);
    /* the quantized model is another model: its loss differs from the f32 one */
    assert_true(fabs(lq - lf) > 1e-4 * fabs(lf));
    free(g_q), free(g_d), free(g_f), free(g_h), free(g_x);
    hone_trainer_free(tq), hone_trainer_free(td), hone_trainer_free(tf), hone_trainer_free(th), hone_trainer_free(tx);
    hone_adapter_free(ad);
    fixture_close(&f);
    hone_model_free(mq), hone_model_free(md), hone_model_free(mf), hone_model_free(mh);
    unlink(gq), unlink(gd), unlink(gf);
    free(gq), free(gd), free(gf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_gemma3),
        cmocka_unit_test(test_fixture_llama),
        cmocka_unit_test(test_fixture_qwen2),
        cmocka_unit_test(test_trajectory),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_cache_checkpoint_threads),
        cmocka_unit_test(test_qlora),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
