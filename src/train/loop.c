/* loop.c: the training loop of `hone train` (mlx-lm's tuner/trainer.py, made resumable).
 *
 * Data (batch.c): each example is truncated to max_seq_length tokens (a counted warning,
 * as mlx-lm warns); one with no supervised target left is skipped (a counted warning, never
 * a NaN). The usable examples are sorted by token length (stable), cut into batches of
 * batch_size (the remainder is dropped, as mlx-lm does), and each epoch visits the batches
 * in a fresh permutation drawn from the loop's own xoshiro256** generator (seeded by
 * --seed). The generator's state, the current permutation and the position in it are in the
 * checkpoint (checkpoint.c). Batches are right-padded; position t predicts token t+1.
 *
 * Iteration it (1-based) runs one batch: loss = mean cross-entropy over its supervised
 * tokens, gradients accumulate with scale 1 / (tokens * grad_accumulation_steps), and when
 * it % grad_accumulation_steps == 0 the optimizer updates (after --max-grad-norm clipping)
 * at lr = schedule(updates so far), as mlx's optimizers do. Train loss reported every
 * steps_per_report = mean of the per-batch losses since the last report (mlx-lm).
 * Validation: before the first step ("Iter 1", the starting loss), after every
 * steps_per_eval-th step and after the last step; token-weighted over val_batches batches
 * in a fixed order. Dropout masks are a function of (seed, iteration).
 *
 * Checkpoint (ADAPTER_PATH/checkpoint.safetensors, written at every save, at the end and
 * on a stop signal, at update boundaries only): adapters, optimizer m/v and step, the
 * generator, the permutation and position, the report accumulators, the best validation
 * loss, the loss history for the plot, and fingerprints of the configuration and of the
 * training tokens. --resume refuses a checkpoint whose fingerprints differ. Every step is
 * a deterministic function of that state, so 10 + --resume 10 steps equal 20 steps bit
 * for bit.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hone.h"
#include "train/train_loop_internal.h"
#include "util/err.h"
#include "util/fileio.h"

volatile sig_atomic_t hone_train_stop_flag;

/* ---- small helpers ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_mem_gb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (double)ru.ru_maxrss * 1024.0 / 1e9; /* Linux: KiB */
}


static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void emit(hone_train_event_fn fn, void *user, hone_train_event *ev) {
    if (fn) fn(user, ev);
}

static void emitf(hone_train_event_fn fn, void *user, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void emitf(hone_train_event_fn fn, void *user, int kind, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hone_train_event ev = {.kind = kind, .msg = msg};
    emit(fn, user, &ev);
}


/* ---- evaluation ---- */

int hone_train_eval(const hone_train_config *cfg, const hone_train_ops *ops, const hone_train_set *set,
                    int64_t max_batches, hone_train_event_fn on_event, void *user, double *loss, hone_err *err) {
    *loss = NAN;
    tl_prep p;
    int rc = tl_prep_set(cfg, set, &p, err);
    if (rc) return rc;
    int64_t bs = cfg->batch_size < p.n ? cfg->batch_size : p.n;
    if (bs < 1) {
        tl_prep_free(&p);
        return HONE_OK;
    }
    int64_t nb = p.n / bs, use = max_batches < 0 || max_batches > nb ? nb : max_batches;
    int64_t *perm = malloc((size_t)nb * sizeof *perm);
    tl_batchbuf b = {0};
    if (!perm) rc = hone_err_set(err, HONE_ENOMEM, "eval: out of memory");
    if (!rc) rc = tl_batchbuf_init(&b, bs, cfg->max_seq_length, err);
    if (!rc) {
        hone_rng r;
        hone_rng_seed(&r, tl_mix64(cfg->seed ^ 0x76616c6964ull)); /* fixed order, independent of training */
        tl_shuffle(&r, perm, nb);
        double sum = 0;
        int64_t tok = 0;
        /* ids for the prefix cache: the evaluation sets get their own id range */
        int64_t id_base = (int64_t)1 << 40;
        if (set->name && !strcmp(set->name, "test")) id_base <<= 1;
        for (int64_t k = 0; k < use && !rc; k++) {
            hone_train_batch hb;
            tl_fill_batch(set, &p, perm[k], bs, id_base, &b, &hb);
            hb.dropout_seed = 0;
            rc = ops->step(ops->ctx, &hb, 0, 0.0f, &sum, &tok, err);
        }
        (void)on_event, (void)user;
        if (!rc && tok > 0) *loss = sum / (double)tok;
    }
    tl_batchbuf_free(&b);
    free(perm);
    tl_prep_free(&p);
    return rc;
}

/* ---- adapters ---- */

int hone_train_adapter_init(hone_adapter **out, const hone_train_config *cfg, uint32_t n_layers,
                            const int64_t dims[][2], hone_err *err) {
    hone_adapter_config ac = {0};
    strcpy(ac.fine_tune_type, "lora");
    ac.num_layers = cfg->num_layers < 0 || (uint32_t)cfg->num_layers > n_layers ? (int32_t)n_layers : cfg->num_layers;
    if (cfg->num_layers > 0 && (uint32_t)cfg->num_layers > n_layers)
        return hone_err_set(err, HONE_EARG, "Requested to train %d layers but the model only has %u layers",
                            cfg->num_layers, n_layers);
    ac.rank = (uint32_t)cfg->lora_rank;
    ac.scale = (float)cfg->lora_scale;
    ac.dropout = (float)cfg->lora_dropout;
    ac.keys = cfg->lora_keys ? cfg->lora_keys : (1u << HONE_PROJ_COUNT) - 1;
    int rc = hone_adapter_create(out, &ac, err);
    if (rc) return rc;
    hone_rng r;
    hone_rng_seed(&r, tl_mix64(cfg->seed ^ 0x6c6f7261ull));
    size_t cap = 0;
    float *a = NULL;
    for (uint32_t l = n_layers - (uint32_t)ac.num_layers; l < n_layers && !rc; l++)
        for (int pj = 0; pj < HONE_PROJ_COUNT && !rc; pj++) {
            if (!(ac.keys & (1u << pj))) continue;
            int64_t n_in = dims[pj][0], n_out = dims[pj][1];
            size_t n = (size_t)(ac.rank * n_in);
            if (n > cap) {
                free(a);
                cap = n;
                a = malloc(cap * sizeof *a);
                if (!a) rc = hone_err_set(err, HONE_ENOMEM, "adapter init: out of memory");
            }
            if (rc) break;
            double lim = 1.0 / sqrt((double)n_in);
            for (size_t i = 0; i < n; i++) a[i] = (float)((2.0 * hone_rng_uniform(&r) - 1.0) * lim);
            rc = hone_adapter_add(*out, l, pj, n_in, n_out, a, NULL, err);
        }
    free(a);
    if (rc) {
        hone_adapter_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Writes the adapters as DIR/NAME in mlx-lm's safetensors layout: hone_adapter_save_mlx into
 * DIR/.hone-save, then a rename (both files atomic). NAME "adapters.safetensors" also updates
 * DIR/adapter_config.json. */
static int save_adapter_as(const hone_adapter *ad, const char *dir, const char *name, hone_err *err) {
    if (!strcmp(name, "adapters.safetensors")) return hone_adapter_save_mlx(ad, dir, err);
    char *tmp = path_join(dir, ".hone-save");
    if (!tmp) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (mkdir(tmp, 0777) && errno != EEXIST) {
        int rc = hone_err_set(err, HONE_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = hone_adapter_save_mlx(ad, tmp, err);
    char *src = path_join(tmp, "adapters.safetensors"), *cfgp = path_join(tmp, "adapter_config.json");
    char *dst = path_join(dir, name);
    if (!rc && (!src || !dst || !cfgp)) rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (!rc && rename(src, dst)) rc = hone_err_set(err, HONE_EIO, "%s: cannot rename to %s: %s", src, dst, strerror(errno));
    if (cfgp) unlink(cfgp);
    rmdir(tmp);
    free(src), free(dst), free(cfgp), free(tmp);
    return rc;
}


/* ---- metrics ---- */

static void metrics_append(const char *dir, const char *line) {
    char *p = path_join(dir, "metrics.jsonl");
    FILE *f = p ? fopen(p, "a") : NULL;
    if (f) {
        fputs(line, f);
        fputc('\n', f);
        fclose(f);
    }
    free(p);
}

/* ---- the loop ---- */

typedef struct run {
    const hone_train_config *cfg;
    hone_adapter *ad;
    const hone_train_ops *ops;
    hone_train_event_fn fn;
    void *user;
    tl_state st;
    char fp[512];
    uint64_t dh;
    char *ckpt_path;
} run;

static int save_all(run *r, int numbered, int ckpt, hone_err *err) {
    int rc = save_adapter_as(r->ad, r->cfg->adapter_path, "adapters.safetensors", err);
    if (!rc && numbered) {
        char name[64];
        snprintf(name, sizeof name, "%07lld_adapters.safetensors", (long long)r->st.step);
        rc = save_adapter_as(r->ad, r->cfg->adapter_path, name, err);
        if (!rc) {
            char *p = path_join(r->cfg->adapter_path, name);
            hone_train_event ev = {.kind = HONE_TRAIN_EV_SAVE, .it = r->st.step, .msg = p};
            emit(r->fn, r->user, &ev);
            free(p);
        }
    }
    if (!rc && ckpt) rc = tl_ckpt_write(r->ckpt_path, &r->st, r->ad, r->fp, r->dh, err);
    return rc;
}

static int do_eval(run *r, const hone_train_set *valid, int64_t it, hone_err *err) {
    double t0 = now_s(), loss;
    int rc = hone_train_eval(r->cfg, r->ops, valid, r->cfg->val_batches, r->fn, r->user, &loss, err);
    if (rc) return rc;
    double dt = now_s() - t0;
    if (isnan(loss)) return HONE_OK;
    if (tl_hist_push(&r->st.hval, (double)it, loss)) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (isnan(r->st.first_val)) r->st.first_val = loss;
    char js[256];
    snprintf(js, sizeof js, "{\"iter\":%lld,\"val_loss\":%.9g,\"val_time\":%.4f}", (long long)it, loss, dt);
    metrics_append(r->cfg->adapter_path, js);
    hone_train_event ev = {.kind = HONE_TRAIN_EV_VAL, .it = it, .iters = r->cfg->iters, .val_loss = loss,
                           .val_time = dt, .json = js};
    emit(r->fn, r->user, &ev);
    if (isnan(r->st.best_val) || loss < r->st.best_val) {
        r->st.best_val = loss;
        r->st.bad_evals = 0;
        rc = save_adapter_as(r->ad, r->cfg->adapter_path, "adapters.best.safetensors", err);
    } else r->st.bad_evals++;
    char *svg = path_join(r->cfg->adapter_path, "loss.svg");
    if (!rc && svg) {
        double *ti = malloc((r->st.htrain.n + 1) * sizeof *ti), *tl = malloc((r->st.htrain.n + 1) * sizeof *tl);
        double *vi = malloc((r->st.hval.n + 1) * sizeof *vi), *vl = malloc((r->st.hval.n + 1) * sizeof *vl);
        if (ti && tl && vi && vl) {
            for (size_t i = 0; i < r->st.htrain.n; i++) ti[i] = r->st.htrain.v[2 * i], tl[i] = r->st.htrain.v[2 * i + 1];
            for (size_t i = 0; i < r->st.hval.n; i++) vi[i] = r->st.hval.v[2 * i], vl[i] = r->st.hval.v[2 * i + 1];
            rc = hone_train_plot_svg(svg, ti, tl, r->st.htrain.n, vi, vl, r->st.hval.n, err);
        }
        free(ti), free(tl), free(vi), free(vl);
    }
    free(svg);
    return rc;
}

int hone_train_loop(const hone_train_config *cfg, hone_adapter *ad, const hone_train_ops *ops,
                    const hone_train_set *train, const hone_train_set *valid, hone_train_event_fn on_event,
                    void *user, hone_train_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    res->first_val_loss = res->last_val_loss = res->best_val_loss = res->test_loss = NAN;
    run r = {.cfg = cfg, .ad = ad, .ops = ops, .fn = on_event, .user = user};
    r.st.best_val = r.st.first_val = NAN;
    tl_prep p = {0};
    tl_batchbuf b = {0};
    float **params = NULL, **grads = NULL;
    size_t *sizes = NULL;
    int rc = HONE_OK;

    if (mkdir(cfg->adapter_path, 0777) && errno != EEXIST)
        return hone_err_set(err, HONE_EIO, "%s: cannot create the adapter folder: %s", cfg->adapter_path, strerror(errno));
    r.ckpt_path = path_join(cfg->adapter_path, "checkpoint.safetensors");
    if (!r.ckpt_path) return hone_err_set(err, HONE_ENOMEM, "out of memory");

    rc = tl_prep_set(cfg, train, &p, err);
    if (rc) goto done;
    if (p.n_trunc)
        emitf(on_event, user, HONE_TRAIN_EV_WARNING,
              "[WARNING] %lld training examples are longer than %lld tokens (the longest has %zu) and are truncated "
              "to %lld. Consider pre-splitting your data to save memory.",
              (long long)p.n_trunc, (long long)cfg->max_seq_length, p.longest, (long long)cfg->max_seq_length);
    if (p.n_skip)
        emitf(on_event, user, HONE_TRAIN_EV_WARNING,
              "[WARNING] %lld training examples have no supervised token within %lld tokens (the prompt fills "
              "max_seq_length, or the answer is empty) and are skipped.", (long long)p.n_skip,
              (long long)cfg->max_seq_length);
    if (p.n < cfg->batch_size) {
        rc = hone_err_set(err, HONE_EARG, "%s: the dataset must have at least batch_size=%lld usable examples but only has %lld",
                          train->name ? train->name : "train", (long long)cfg->batch_size, (long long)p.n);
        goto done;
    }
    r.st.nb = p.n / cfg->batch_size;
    r.dh = tl_data_hash(train, &p);
    tl_config_fingerprint(cfg, ad, r.fp, sizeof r.fp);

    /* parameters, gradients, optimizer */
    int64_t na = hone_adapter_n(ad), np = 2 * na;
    params = malloc((size_t)(np + 1) * sizeof *params);
    grads = malloc((size_t)(np + 1) * sizeof *grads);
    sizes = malloc((size_t)(np + 1) * sizeof *sizes);
    r.st.perm = malloc((size_t)r.st.nb * sizeof *r.st.perm);
    if (!params || !grads || !sizes || !r.st.perm) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < na; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        params[2 * i] = l->a;
        params[2 * i + 1] = l->b;
        sizes[2 * i] = (size_t)l->rank * (size_t)l->n_in;
        sizes[2 * i + 1] = (size_t)l->n_out * (size_t)l->rank;
    }
    hone_optim_params op;
    int okind = !strcmp(cfg->optimizer, "adamw") ? HONE_OPT_ADAMW : !strcmp(cfg->optimizer, "sgd") ? HONE_OPT_SGD : HONE_OPT_ADAM;
    const hone_train_optcfg *oc = &cfg->opt[okind];
    hone_optim_params_default(&op, okind);
    op.beta1 = oc->betas[0], op.beta2 = oc->betas[1], op.eps = oc->eps, op.weight_decay = oc->weight_decay;
    op.bias_correction = oc->bias_correction, op.momentum = oc->momentum, op.dampening = oc->dampening;
    op.nesterov = oc->nesterov;
    rc = hone_optim_init(&r.st.opt, &op, np, sizes, err);
    if (rc) goto done;
    hone_sched sc = {.kind = HONE_SCHED_CONST, .args = {cfg->learning_rate}, .n_args = 1};
    if (cfg->schedule_name[0]) {
        sc.kind = !strcmp(cfg->schedule_name, "cosine_decay") ? HONE_SCHED_COSINE
                  : !strcmp(cfg->schedule_name, "linear_schedule") ? HONE_SCHED_LINEAR
                  : !strcmp(cfg->schedule_name, "exponential_decay") ? HONE_SCHED_EXP : HONE_SCHED_STEP;
        memcpy(sc.args, cfg->schedule_args, sizeof sc.args);
        sc.n_args = cfg->schedule_n_args;
        sc.warmup = cfg->warmup;
        sc.warmup_init = cfg->warmup_init;
    }
    if ((rc = hone_sched_check(&sc, err))) goto done;

    /* fresh start or resume */
    hone_rng_seed(&r.st.rng, cfg->seed);
    if (cfg->resume) {
        if (access(r.ckpt_path, R_OK)) {
            rc = hone_err_set(err, HONE_ENOTFOUND, "--resume: %s not found (no earlier run in --adapter-path %s)",
                              r.ckpt_path, cfg->adapter_path);
            goto done;
        }
        rc = tl_ckpt_read(r.ckpt_path, &r.st, ad, r.fp, r.dh, err);
        if (rc) goto done;
        emitf(on_event, user, HONE_TRAIN_EV_INFO, "Resuming from %s at iteration %lld", r.ckpt_path, (long long)r.st.step);
    } else {
        tl_shuffle(&r.st.rng, r.st.perm, r.st.nb);
        r.st.pos = 0;
        r.st.epoch = 0;
    }
    rc = tl_batchbuf_init(&b, cfg->batch_size, cfg->max_seq_length, err);
    if (rc) goto done;

    int has_valid = valid && valid->n > 0;
    if (has_valid && r.st.step == 0 && cfg->iters > 0) {
        if ((rc = do_eval(&r, valid, 1, err))) goto done;
    }
    ops->zero_grad(ops->ctx);
    double t_start = now_s(), train_time = 0;
    int64_t it0 = r.st.step, accum = cfg->grad_accumulation_steps;
    int early_pending = 0;
    while (r.st.step < cfg->iters) {
        int64_t it = r.st.step + 1;
        double tic = now_s();
        if (r.st.pos == r.st.nb) {
            tl_shuffle(&r.st.rng, r.st.perm, r.st.nb);
            r.st.pos = 0;
            r.st.epoch++;
        }
        int64_t k = r.st.perm[r.st.pos++];
        hone_train_batch hb;
        int64_t ntok = tl_fill_batch(train, &p, k, cfg->batch_size, 0, &b, &hb);
        hb.dropout_seed = tl_mix64(cfg->seed * 0x2545f4914f6cdd1dull + (uint64_t)it);
        double lsum = 0;
        int64_t lt = 0;
        rc = ops->step(ops->ctx, &hb, 1, (float)(1.0 / ((double)ntok * (double)accum)), &lsum, &lt, err);
        if (rc) goto done;
        double loss = lt > 0 ? lsum / (double)lt : NAN;
        if (!isfinite(loss)) {
            rc = hone_err_set(err, HONE_EFORMAT, "iteration %lld: the training loss is not finite (%g); the last "
                              "checkpoint in %s is intact", (long long)it, loss, cfg->adapter_path);
            goto done;
        }
        r.st.acc_loss += loss;
        r.st.acc_tokens += lt;
        r.st.acc_steps++;
        r.st.trained_tokens += lt;
        double lr_used = hone_sched_lr(&sc, (int64_t)r.st.opt.step);
        if (it % accum == 0) {
            for (int64_t i = 0; i < na; i++) ops->grad(ops->ctx, i, &grads[2 * i], &grads[2 * i + 1]);
            if (cfg->max_grad_norm > 0) hone_optim_clip(grads, sizes, np, cfg->max_grad_norm);
            hone_optim_update(&r.st.opt, params, (const float *const *)grads, (float)lr_used);
            ops->zero_grad(ops->ctx);
        }
        r.st.step = it;
        train_time += now_s() - tic;

        if (it % cfg->steps_per_report == 0 || it == cfg->iters) {
            double tl = r.st.acc_loss / (double)r.st.acc_steps;
            double its = (double)r.st.acc_steps / (train_time > 0 ? train_time : 1e-9);
            double tps = (double)r.st.acc_tokens / (train_time > 0 ? train_time : 1e-9);
            char js[400];
            snprintf(js, sizeof js,
                     "{\"iter\":%lld,\"train_loss\":%.9g,\"learning_rate\":%.9g,\"iterations_per_second\":%.4f,"
                     "\"tokens_per_second\":%.2f,\"trained_tokens\":%lld,\"peak_memory\":%.4f}",
                     (long long)it, tl, (double)(float)lr_used, its, tps, (long long)r.st.trained_tokens, peak_mem_gb());
            metrics_append(cfg->adapter_path, js);
            hone_train_event ev = {.kind = HONE_TRAIN_EV_REPORT, .it = it, .iters = cfg->iters, .train_loss = tl,
                                   .learning_rate = (float)lr_used, .it_sec = its, .tokens_sec = tps,
                                   .trained_tokens = r.st.trained_tokens, .peak_mem_gb = peak_mem_gb(), .json = js};
            emit(on_event, user, &ev);
            if (tl_hist_push(&r.st.htrain, (double)it, tl)) {
                rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
                goto done;
            }
            r.st.acc_loss = 0;
            r.st.acc_tokens = r.st.acc_steps = 0;
            train_time = 0;
        }
        int at_boundary = it % accum == 0;
        if (has_valid && (it % cfg->steps_per_eval == 0 || it == cfg->iters)) {
            if ((rc = do_eval(&r, valid, it, err))) goto done;
            if (cfg->early_stop > 0 && r.st.bad_evals >= cfg->early_stop) early_pending = 1;
        }
        if (early_pending && at_boundary && it < cfg->iters) {
            res->early_stopped = 1;
            emitf(on_event, user, HONE_TRAIN_EV_STOP,
                  "Early stop at iteration %lld: no new best validation loss in %lld evaluations (best %.3f)",
                  (long long)it, (long long)r.st.bad_evals, r.st.best_val);
            break;
        }
        if (it % cfg->save_every == 0 && it < cfg->iters) {
            /* the checkpoint only at update boundaries (no half-accumulated gradients in it) */
            if ((rc = save_all(&r, 1, at_boundary, err))) goto done;
        }
        {
            double el = now_s() - t_start;
            hone_train_event ev = {.kind = HONE_TRAIN_EV_PROGRESS, .it = it, .iters = cfg->iters,
                                   .eta_s = el / (double)(it - it0) * (double)(cfg->iters - it)};
            emit(on_event, user, &ev);
        }
        if (hone_train_stop_flag && at_boundary && it < cfg->iters) {
            res->interrupted = 1;
            break;
        }
    }
    /* the end (or a stop): adapters (+ the numbered copy when due) and the checkpoint */
    if (r.st.step > it0 || cfg->iters == r.st.step) {
        int numbered = r.st.step % cfg->save_every == 0 && r.st.step > 0;
        if ((rc = save_all(&r, numbered, r.st.step % accum == 0, err))) goto done;
    }
    if (res->interrupted)
        emitf(on_event, user, HONE_TRAIN_EV_STOP,
              "Interrupted at iteration %lld: adapters and checkpoint saved in %s; continue with --resume",
              (long long)r.st.step, cfg->adapter_path);
    res->steps_done = r.st.step;
    res->first_val_loss = r.st.first_val;
    res->best_val_loss = r.st.best_val;
    res->last_val_loss = r.st.hval.n ? r.st.hval.v[2 * r.st.hval.n - 1] : NAN;

done:
    hone_optim_free(&r.st.opt);
    free(r.st.perm);
    free(r.st.htrain.v);
    free(r.st.hval.v);
    free(r.ckpt_path);
    free(params), free(grads), free(sizes);
    tl_batchbuf_free(&b);
    tl_prep_free(&p);
    return rc;
}
