/* train_bench.c: times the LoRA training step (hone/train.h) on a real model and
 * profiles it per backend op; a measurement helper, not part of the CLI.
 *
 *   train_bench MODEL [N_TOKENS=512] [NUM_LAYERS=8] [STEPS=3] [ref|fast] [RANK=8] [cache|nocache]
 *
 * One sequence of N_TOKENS deterministic pseudo-random ids per step (batch 1), the first
 * half masked as a prompt (mlx-lm --mask-prompt), adapters (rank RANK, scale 20, A
 * uniform in +-1/sqrt(in), B small non-zero) on every linear of the last NUM_LAYERS
 * blocks; STEPS forward+backward steps after one warm-up step (the same example each
 * step, so with "cache" (default) later steps read the frozen prefix from the cache, as
 * epochs after the first do; "nocache" recomputes it, as the first epoch does).
 * Prints per step: seconds (wall and process CPU: on a shared machine CPU / threads is
 * the uncontended estimate), trained tokens/s (all N_TOKENS count, as mlx-lm's
 * "Tokens/sec"), and a table of time per backend op (the trainer's backend is wrapped
 * with timers), then peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <math.h>
#include <time.h>

#include "hone.h"
#include "train/train_internal.h"

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { OP_MM, OP_MMB, OP_NORM, OP_NORMB, OP_ROPE, OP_ROPEB, OP_ATT, OP_ATTB, OP_GLU, OP_GLUB, OP_LMH, OP_N };
static const char *OPN[OP_N] = {"matmul", "matmul_bwd", "rmsnorm", "rmsnorm_bwd", "rope", "rope_bwd",
                                "attention", "attention_bwd", "glu", "glu_bwd", "lm_head_ce"};
static double op_t[OP_N];
static const hone_backend *inner;
static hone_backend prof;

static double cpu_s(void);
/* per op: process CPU seconds (all threads), robust to other load on the machine */
#define TIMED(op, call)              \
    do {                             \
        double t0_ = cpu_s();        \
        call;                        \
        op_t[op] += cpu_s() - t0_;   \
    } while (0)

static void p_mm(float *y, const float *x, const hone_weight *w, const float *b, int64_t T, hone_pool *p) {
    TIMED(OP_MM, inner->matmul(y, x, w, b, T, p));
}
static void p_mmb(float *dx, const float *dy, const hone_weight *w, int64_t T, hone_pool *p) {
    TIMED(OP_MMB, inner->matmul_bwd(dx, dy, w, T, p));
}
static void p_norm(float *y, const float *x, const float *w, int64_t T, int64_t D, float eps) {
    TIMED(OP_NORM, inner->rmsnorm(y, x, w, T, D, eps));
}
static void p_normb(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t T, int64_t D,
                    float eps) {
    TIMED(OP_NORMB, inner->rmsnorm_bwd(dx, dw, dy, x, w, T, D, eps));
}
static void p_rope(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t hd, int64_t rd, const float *f,
                   hone_rope_mode m) {
    TIMED(OP_ROPE, inner->rope(x, pos, T, H, hd, rd, f, m));
}
static void p_ropeb(float *x, const int32_t *pos, int64_t T, int64_t H, int64_t hd, int64_t rd, const float *f,
                    hone_rope_mode m) {
    TIMED(OP_ROPEB, inner->rope_bwd(x, pos, T, H, hd, rd, f, m));
}
static void p_att(float *out, const float *q, const int32_t *qp, int64_t T, const float *k, const float *v,
                  const int32_t *kp, int64_t nk, const hone_attn_params *ap, hone_pool *p) {
    TIMED(OP_ATT, inner->attention(out, q, qp, T, k, v, kp, nk, ap, p));
}
static void p_attb(float *dq, float *dk, float *dv, const float *dout, const float *q, const int32_t *qp, int64_t T,
                   const float *k, const float *v, const int32_t *kp, int64_t nk, const hone_attn_params *ap,
                   hone_pool *p) {
    TIMED(OP_ATTB, inner->attention_bwd(dq, dk, dv, dout, q, qp, T, k, v, kp, nk, ap, p));
}
static void p_glu(float *y, const float *g, const float *u, int64_t T, int64_t D, int gelu) {
    TIMED(OP_GLU, inner->glu(y, g, u, T, D, gelu));
}
static void p_glub(float *dg, float *du, const float *dy, const float *g, const float *u, int64_t T, int64_t D,
                   int gelu) {
    TIMED(OP_GLUB, inner->glu_bwd(dg, du, dy, g, u, T, D, gelu));
}
static void p_lmh(double *loss, int64_t *n, float *dh, const float *h, const hone_weight *w, const int32_t *tg,
                  const uint8_t *mask, int64_t T, float cap, float ds, hone_pool *p) {
    TIMED(OP_LMH, inner->lm_head_ce(loss, n, dh, h, w, tg, mask, T, cap, ds, p));
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: train_bench MODEL [N_TOKENS] [NUM_LAYERS] [STEPS] [ref|fast] [RANK] [cache|nocache]\n");
        return 2;
    }
    uint32_t T = argc > 2 ? (uint32_t)atoi(argv[2]) : 512, nl = argc > 3 ? (uint32_t)atoi(argv[3]) : 8;
    int steps = argc > 4 ? atoi(argv[4]) : 3;
    int engine = argc > 5 && !strcmp(argv[5], "ref") ? HONE_ENGINE_REFERENCE : HONE_ENGINE_FAST;
    uint32_t rank = argc > 6 ? (uint32_t)atoi(argv[6]) : 8;
    int cache = !(argc > 7 && !strcmp(argv[7], "nocache"));
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = engine};
    if (hone_model_load(&m, argv[1], &lo, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const hone_model_desc *d = hone_model_get_desc(m);
    if (nl > d->n_layers) nl = d->n_layers;
    hone_adapter_config cfg = {.rank = rank, .scale = 20.0f, .num_layers = (int32_t)nl};
    hone_adapter *ad;
    if (hone_adapter_create(&ad, &cfg, &err)) return 1;
    srand(1);
    for (uint32_t il = d->n_layers - nl; il < d->n_layers; il++) {
        const model_layer *L = &m->layers[il];
        const hone_weight *w[HONE_PROJ_COUNT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int p = 0; p < HONE_PROJ_COUNT; p++) {
            int64_t ni = w[p]->n_in, no = w[p]->n_out;
            float *a = malloc((size_t)(rank * ni) * sizeof *a), *b = malloc((size_t)(rank * no) * sizeof *b);
            for (int64_t j = 0; j < rank * ni; j++) a[j] = (float)((rand() / (double)RAND_MAX * 2 - 1) / sqrt((double)ni));
            for (int64_t j = 0; j < rank * no; j++) b[j] = (float)((rand() / (double)RAND_MAX * 2 - 1) * 1e-3);
            if (hone_adapter_add(ad, il, p, ni, no, a, b, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            free(a);
            free(b);
        }
    }
    hone_trainer *t;
    hone_trainer_opts o = {.engine = engine, .max_batch = 1, .max_seq = T,
                           .prefix_cache_bytes = cache ? 0 : SIZE_MAX};
    if (hone_trainer_create(&t, m, ad, &o, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    inner = t->be;
    prof = *inner;
    prof.matmul = p_mm, prof.matmul_bwd = p_mmb, prof.rmsnorm = p_norm, prof.rmsnorm_bwd = p_normb;
    prof.rope = p_rope, prof.rope_bwd = p_ropeb, prof.attention = p_att, prof.attention_bwd = p_attb;
    prof.glu = p_glu, prof.glu_bwd = p_glub, prof.lm_head_ce = p_lmh;
    t->be = &prof;
    int32_t *tok = malloc(T * sizeof *tok), *tg = malloc(T * sizeof *tg);
    uint64_t s = 12345;
    for (uint32_t i = 0; i < T; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((s >> 33) % (d->vocab - 10)) + 5;
    }
    for (uint32_t i = 0; i < T; i++) tg[i] = i >= T / 2 && i + 1 < T ? tok[i + 1] : -1;
    int64_t id = 42;
    hone_train_batch b = {.n_seq = 1, .seq_len = T, .tokens = tok, .targets = tg, .lengths = &T,
                          .example_ids = &id, .dropout_seed = 1};
    double best = 1e30, sum = 0, csum = 0;
    for (int i = 0; i <= steps; i++) {
        if (i == 1) memset(op_t, 0, sizeof op_t);
        double loss = 0, t0 = now_s(), c0 = cpu_s();
        int64_t n = 0;
        hone_trainer_zero_grad(t);
        if (hone_trainer_step(t, &b, 1, 0.0f, &loss, &n, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double dt = now_s() - t0, dc = cpu_s() - c0;
        printf("step %d%s: %.3f s (%.3f s CPU), %.1f tokens/s, loss %.4f over %lld tokens\n", i, i ? "" : " (warm-up)",
               dt, dc, T / dt, loss / (double)n, (long long)n);
        if (i) {
            csum += dc;
            sum += dt;
            if (dt < best) best = dt;
        }
    }
    double tot = 0;
    for (int k = 0; k < OP_N; k++) tot += op_t[k];
    printf("per step (mean of %d): %.3f s wall, %.3f s CPU; best %.3f s = %.1f tokens/s; CPU ms per op (%s backend):\n",
           steps, sum / steps, csum / steps, best, T / best, engine ? "reference" : "fast");
    for (int k = 0; k < OP_N; k++)
        if (op_t[k] > 0) printf("  %-14s %8.1f ms  %5.1f %%\n", OPN[k], 1e3 * op_t[k] / steps, 100 * op_t[k] / csum);
    printf("  %-14s %8.1f ms  %5.1f %%\n", "other (lora..)", 1e3 * (csum - tot) / steps, 100 * (csum - tot) / csum);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.1f MiB\n", ru.ru_maxrss / 1024.0);
    hone_trainer_free(t);
    hone_adapter_free(ad);
    hone_model_free(m);
    free(tok);
    free(tg);
    return 0;
}
