/* test_train_loop.c: the training loop (src/train/loop.c) on a toy differentiable model,
 * so its data order, optimizer wiring, reports, files, checkpoint and --resume are tested
 * without the engine:
 *   - 20 steps straight == 10 steps + resume 10 steps, bit for bit (every per-step loss and
 *     the bytes of adapters.safetensors), with adam, a schedule, accumulation and clipping;
 *   - a stop request (what SIGINT/SIGTERM set) mid-run leaves a checkpoint that resumes to
 *     the same bits;
 *   - truncation / no-supervised-token examples are counted, the loss falls, the files
 *     exist, a changed configuration or data is refused on resume;
 *   - the toy model's gradient against central finite differences (so the toy is a real
 *     check of the update wiring, not a constant).
 * Toy model: for each supervised position t (input token x = ids[t], target y = ids[t+1]),
 * with fixed embeddings e(.) in R^D: z = B A e(x), loss_t = 0.5 ||z - e(y)||^2. */
#include "testutil.h"

#include <math.h>
#include <sys/stat.h>

#include "hone/trainloop.h"
#include "train/loop.h"

#define D 6
#define VOCAB 17

static float emb(int tok, int i) { return (float)sin(0.7 * tok + 1.3 * i + 0.1 * tok * i); }

typedef struct toy {
    hone_adapter *ad;
    float *dA, *dB; /* (R, D), (D, R) */
} toy;

static int toy_step(void *ctx, const hone_train_batch *b, int backward, float gs, double *loss_sum,
                    int64_t *n_tokens, hone_err *err) {
    toy *t = ctx;
    (void)err;
    hone_lora *l = hone_adapter_get(t->ad, 0);
    uint32_t R = l->rank;
    int64_t nt = 0;
    for (uint32_t s = 0; s < b->n_seq; s++)
        for (uint32_t p = 0; p < b->seq_len; p++)
            if (b->targets[s * b->seq_len + p] >= 0) nt++;
    if (!nt) return HONE_OK;
    if (gs == 0) gs = 1.0f / (float)nt;
    for (uint32_t s = 0; s < b->n_seq; s++)
        for (uint32_t p = 0; p < b->seq_len; p++) {
            int32_t y = b->targets[s * b->seq_len + p];
            if (y < 0) continue;
            assert_true(p + 1 < b->lengths[s]);
            int x = b->tokens[s * b->seq_len + p];
            float ex[D], h[16], z[D], dz[D];
            for (int i = 0; i < D; i++) ex[i] = emb(x, i);
            for (uint32_t r = 0; r < R; r++) {
                h[r] = 0;
                for (int i = 0; i < D; i++) h[r] += l->a[r * D + i] * ex[i];
            }
            double ls = 0;
            for (int o = 0; o < D; o++) {
                z[o] = 0;
                for (uint32_t r = 0; r < R; r++) z[o] += l->b[o * R + r] * h[r];
                dz[o] = z[o] - emb(y, o);
                ls += 0.5 * (double)dz[o] * dz[o];
            }
            *loss_sum += ls;
            if (!backward) continue;
            for (int o = 0; o < D; o++)
                for (uint32_t r = 0; r < R; r++) t->dB[o * R + r] += gs * dz[o] * h[r];
            for (uint32_t r = 0; r < R; r++) {
                float dh = 0;
                for (int o = 0; o < D; o++) dh += l->b[o * R + r] * dz[o];
                for (int i = 0; i < D; i++) t->dA[r * D + i] += gs * dh * ex[i];
            }
        }
    *n_tokens += nt;
    return HONE_OK;
}

static void toy_zero(void *ctx) {
    toy *t = ctx;
    hone_lora *l = hone_adapter_get(t->ad, 0);
    memset(t->dA, 0, l->rank * D * sizeof(float));
    memset(t->dB, 0, l->rank * D * sizeof(float));
}

static void toy_grad(void *ctx, int64_t i, float **dA, float **dB) {
    toy *t = ctx;
    assert_int_equal(i, 0);
    *dA = t->dA;
    *dB = t->dB;
}

/* ---- data: 23 sequences of lengths 3..14 over the toy vocabulary ---- */

static int32_t ids[23][16];
static unsigned char masks[23][16];
static hone_train_example exs[23];

static void make_data(int with_mask) {
    for (int e = 0; e < 23; e++) {
        size_t n = 3 + (size_t)((e * 7) % 12);
        for (size_t t = 0; t < n; t++) {
            ids[e][t] = t == 0 ? (int32_t)((e * 5) % VOCAB) : (ids[e][t - 1] * 3 + 1) % VOCAB; /* learnable */
            masks[e][t] = t >= n / 2;
        }
        exs[e] = (hone_train_example){.ids = ids[e], .mask = with_mask ? masks[e] : NULL, .n = n};
    }
}

typedef struct rec {
    double loss[64];
    int64_t n;
    double val[64];
    int64_t nval;
    int n_warn;
    int64_t stop_at;
} rec;

static void on_ev(void *user, const hone_train_event *ev) {
    rec *r = user;
    if (ev->kind == HONE_TRAIN_EV_REPORT) {
        assert_true(r->n < 64);
        r->loss[r->n++] = ev->train_loss;
        assert_non_null(ev->json);
    } else if (ev->kind == HONE_TRAIN_EV_VAL) r->val[r->nval++] = ev->val_loss;
    else if (ev->kind == HONE_TRAIN_EV_WARNING) r->n_warn++;
    else if (ev->kind == HONE_TRAIN_EV_PROGRESS && r->stop_at && ev->it == r->stop_at) hone_train_stop_flag = 1;
}

static void base_cfg(hone_train_config *c, const char *dir) {
    hone_train_config_default(c);
    snprintf(c->adapter_path, sizeof c->adapter_path, "%s", dir);
    c->batch_size = 3;
    c->iters = 20;
    c->steps_per_report = 1;
    c->steps_per_eval = 5;
    c->save_every = 4;
    c->val_batches = -1;
    c->learning_rate = 0.003;
    c->lora_rank = 3;
    c->lora_scale = 1.0;
    c->seed = 7;
    c->max_seq_length = 12;
    c->train = 1;
    c->grad_accumulation_steps = 2;
    c->max_grad_norm = 0.5;
    strcpy(c->schedule_name, "cosine_decay");
    c->schedule_args[0] = 0.003, c->schedule_args[1] = 15, c->schedule_n_args = 2;
    c->warmup = 2;
}

static int run_once(const hone_train_config *c, rec *r, hone_train_result *res, hone_err *err) {
    int64_t dims[HONE_PROJ_COUNT][2];
    for (int i = 0; i < HONE_PROJ_COUNT; i++) dims[i][0] = dims[i][1] = D;
    hone_train_config c2 = *c;
    c2.num_layers = 1;
    c2.lora_keys = 1u << HONE_PROJ_Q;
    hone_adapter *ad = NULL;
    int rc = hone_train_adapter_init(&ad, &c2, 1, dims, err);
    if (rc) return rc;
    float dA[64], dB[64];
    toy t = {.ad = ad, .dA = dA, .dB = dB};
    hone_train_ops ops = {.ctx = &t, .step = toy_step, .zero_grad = toy_zero, .grad = toy_grad};
    hone_train_set tr = {.ex = exs, .n = 20, .name = "train"}, va = {.ex = exs + 20, .n = 3, .name = "valid"};
    hone_train_stop_flag = 0;
    rc = hone_train_loop(&c2, ad, &ops, &tr, &va, on_ev, r, res, err);
    hone_train_stop_flag = 0;
    hone_adapter_free(ad);
    return rc;
}

static char *slurp(const char *dir, const char *name, size_t *n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *buf = NULL;
    hone_err err;
    extern int hone_file_read_all(const char *, char **, size_t *, hone_err *);
    if (hone_file_read_all(p, &buf, n, &err)) fail_msg("%s", err.msg);
    return buf;
}

static char tmpdir[256];
static void mkdirs(const char *suffix, char *out) {
    snprintf(out, 300, "%s/%s", tmpdir, suffix);
    mkdir(out, 0777);
}

static int setup(void **s) {
    (void)s;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/hone-test-loop-%ld", (long)getpid());
    mkdir(tmpdir, 0777);
    return 0;
}
static int teardown(void **s) {
    (void)s;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) != 0;
}

static void test_resume_bit_identical(void **state) {
    (void)state;
    make_data(1);
    hone_err err;
    char d1[300], d2[300];
    mkdirs("straight", d1);
    mkdirs("split", d2);
    hone_train_config c;
    base_cfg(&c, d1);
    rec a = {0}, b = {0};
    hone_train_result ra, rb;
    ASSERT_OK(run_once(&c, &a, &ra, &err), &err);
    assert_int_equal(a.n, 20);
    assert_int_equal(ra.steps_done, 20);
    base_cfg(&c, d2);
    c.iters = 10;
    ASSERT_OK(run_once(&c, &b, &rb, &err), &err);
    assert_int_equal(b.n, 10);
    c.iters = 20;
    c.resume = 1;
    ASSERT_OK(run_once(&c, &b, &rb, &err), &err);
    assert_int_equal(b.n, 20);
    for (int i = 0; i < 20; i++)
        if (memcmp(&a.loss[i], &b.loss[i], sizeof(double)))
            fail_msg("iteration %d: straight %.17g, resumed %.17g", i + 1, a.loss[i], b.loss[i]);
    size_t n1, n2;
    char *f1 = slurp(d1, "adapters.safetensors", &n1), *f2 = slurp(d2, "adapters.safetensors", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1), free(f2);
    /* the loss fell, the schedule/optimizer did something */
    print_message("20 straight vs 10 + resume 10: 20 losses and %zu adapter bytes identical; val loss %.4f -> %.4f\n",
                  n1, a.val[0], a.val[a.nval - 1]);
    assert_true(a.val[a.nval - 1] < a.val[0]); /* a wrong-signed update makes it rise */
    /* files mlx-lm's user expects, plus ours */
    const char *files[] = {"adapters.safetensors", "adapter_config.json", "0000004_adapters.safetensors",
                           "0000016_adapters.safetensors", "0000020_adapters.safetensors", "adapters.best.safetensors",
                           "checkpoint.safetensors", "metrics.jsonl", "loss.svg"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", d1, files[i]);
        if (access(p, R_OK)) fail_msg("missing %s", p);
    }
    /* evaluations: iteration 1 (start), 5, 10, 15, 20 */
    assert_int_equal(a.nval, 5);
    assert_true(ra.best_val_loss <= ra.first_val_loss);

    /* a resume with another configuration or other data is refused */
    base_cfg(&c, d2);
    c.resume = 1;
    c.iters = 30;
    c.batch_size = 4;
    rec x = {0};
    assert_int_equal(run_once(&c, &x, &rb, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "another configuration"));
    base_cfg(&c, d2);
    c.resume = 1;
    c.iters = 30;
    ids[0][1] ^= 1;
    assert_int_equal(run_once(&c, &x, &rb, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "training data changed"));
    ids[0][1] ^= 1;
}

static void test_stop_and_resume(void **state) {
    (void)state;
    make_data(0);
    hone_err err;
    char d1[300], d2[300];
    mkdirs("s1", d1);
    mkdirs("s2", d2);
    hone_train_config c;
    base_cfg(&c, d1);
    c.grad_accumulation_steps = 1;
    c.optimizer[0] = 0;
    strcpy(c.optimizer, "adamw");
    rec a = {0}, b = {0};
    hone_train_result ra, rb;
    ASSERT_OK(run_once(&c, &a, &ra, &err), &err);
    base_cfg(&c, d2);
    c.grad_accumulation_steps = 1;
    strcpy(c.optimizer, "adamw");
    b.stop_at = 7;
    ASSERT_OK(run_once(&c, &b, &rb, &err), &err);
    assert_int_equal(rb.interrupted, 1);
    assert_int_equal(rb.steps_done, 7);
    assert_int_equal(b.n, 7);
    b.stop_at = 0;
    c.resume = 1;
    ASSERT_OK(run_once(&c, &b, &rb, &err), &err);
    assert_int_equal(rb.interrupted, 0);
    assert_int_equal(b.n, 20);
    assert_memory_equal(a.loss, b.loss, 20 * sizeof(double));
    size_t n1, n2;
    char *f1 = slurp(d1, "adapters.safetensors", &n1), *f2 = slurp(d2, "adapters.safetensors", &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(f1, f2, n1);
    free(f1), free(f2);
}

static void test_truncate_and_skip(void **state) {
    (void)state;
    make_data(1);
    hone_err err;
    char d[300];
    mkdirs("trunc", d);
    hone_train_config c;
    base_cfg(&c, d);
    /* max_seq 4: examples of length > 4 are truncated; with the mask starting at n/2 those
       of length >= 10 keep no supervised target (mask from 5 on) and are skipped */
    c.max_seq_length = 4;
    c.iters = 3;
    rec r = {0};
    hone_train_result res;
    ASSERT_OK(run_once(&c, &r, &res, &err), &err);
    assert_int_equal(r.n_warn, 2);
    /* all skipped: a clear error, not a NaN */
    c.max_seq_length = 2;
    rec r2 = {0};
    assert_int_equal(run_once(&c, &r2, &res, &err), HONE_EARG);
    assert_non_null(strstr(err.msg, "at least batch_size"));
}

static void test_toy_gradient(void **state) {
    (void)state;
    make_data(0);
    hone_err err;
    hone_train_config c;
    base_cfg(&c, "/tmp");
    c.num_layers = 1;
    c.lora_keys = 1u << HONE_PROJ_Q;
    int64_t dims[HONE_PROJ_COUNT][2];
    for (int i = 0; i < HONE_PROJ_COUNT; i++) dims[i][0] = dims[i][1] = D;
    hone_adapter *ad;
    ASSERT_OK(hone_train_adapter_init(&ad, &c, 1, dims, &err), &err);
    hone_lora *l = hone_adapter_get(ad, 0);
    /* A uniform in +-1/sqrt(D), B zero (mlx-lm) */
    for (uint32_t i = 0; i < l->rank * D; i++) assert_true(fabsf(l->a[i]) <= 1.0f / sqrtf(D) && l->b[i] == 0);
    for (uint32_t i = 0; i < l->rank * D; i++) l->b[i] = 0.1f * (float)((int)i % 5 - 2);
    float dA[64] = {0}, dB[64] = {0};
    toy t = {.ad = ad, .dA = dA, .dB = dB};
    int32_t tok[5] = {1, 4, 9, 2, 7}, tg[5] = {4, 9, 2, 7, -1};
    uint32_t len = 5;
    hone_train_batch b = {.n_seq = 1, .seq_len = 5, .tokens = tok, .targets = tg, .lengths = &len};
    double ls = 0;
    int64_t nt = 0;
    ASSERT_OK(toy_step(&t, &b, 1, 1.0f, &ls, &nt, &err), &err);
    double worst = 0;
    for (int which = 0; which < 2; which++)
        for (uint32_t i = 0; i < l->rank * D; i++) {
            float *w = which ? &l->b[i] : &l->a[i], keep = *w;
            double lp = 0, lm = 0;
            int64_t n2 = 0;
            *w = keep + 1e-3f;
            toy_step(&t, &b, 0, 1.0f, &lp, &n2, &err);
            *w = keep - 1e-3f;
            toy_step(&t, &b, 0, 1.0f, &lm, &n2, &err);
            *w = keep;
            double fd = (lp - lm) / 2e-3, g = which ? dB[i] : dA[i];
            double d = fabs(fd - g);
            if (d > worst) worst = d;
            /* f32 forward, step 1e-3: truncation O(h^2) ~1e-6, rounding ~1e-7/1e-3 = 1e-4 */
            if (d > 2e-3 * fmax(1, fabs(g))) fail_msg("%s[%u]: analytic %g, finite difference %g", which ? "B" : "A", i, g, fd);
        }
    hone_adapter_free(ad);
}

/* --early-stop K: a diverging run (sgd at a huge learning rate) stops after K evaluations
 * without a new best, before --iters, with the best adapters kept. */
static void test_early_stop(void **state) {
    (void)state;
    make_data(1);
    hone_err err;
    char d[300];
    mkdirs("early", d);
    hone_train_config c;
    base_cfg(&c, d);
    strcpy(c.optimizer, "sgd");
    c.schedule_name[0] = 0;
    c.learning_rate = 40.0;
    c.max_grad_norm = 0;
    c.grad_accumulation_steps = 1;
    c.steps_per_eval = 1;
    c.early_stop = 2;
    rec r = {0};
    hone_train_result res;
    ASSERT_OK(run_once(&c, &r, &res, &err), &err);
    assert_int_equal(res.early_stopped, 1);
    assert_true(res.steps_done < 20);
    /* the last two evaluations were no better than the best */
    assert_true(r.nval >= 3 && r.val[r.nval - 1] >= res.best_val_loss && r.val[r.nval - 2] >= res.best_val_loss);
    print_message("early stop after %lld iterations (best val %.4f, last %.4f)\n", (long long)res.steps_done,
                  res.best_val_loss, r.val[r.nval - 1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toy_gradient),
        cmocka_unit_test(test_resume_bit_identical),
        cmocka_unit_test(test_stop_and_resume),
        cmocka_unit_test(test_truncate_and_skip),
        cmocka_unit_test(test_early_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
