/* optim.c: adam / adamw / sgd and the learning-rate schedules, mlx's semantics.
 * The formulas are in optim.h; tests/ref/make_optim_fixture.py writes mlx's own numbers
 * and tests/unit/test_train_optim.c compares. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/optim.h"
#include "util/err.h"

void hone_optim_params_default(hone_optim_params *p, int kind) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->beta1 = 0.9;
    p->beta2 = 0.999;
    p->eps = 1e-8;
    p->weight_decay = kind == HONE_OPT_ADAMW ? 0.01 : 0.0;
}

/* ---- schedules ---- */

int hone_sched_check(const hone_sched *s, hone_err *err) {
    static const int need_min[] = {0, 2, 3, 2, 3}, need_max[] = {0, 3, 3, 2, 3};
    static const char *const names[] = {"constant", "cosine_decay", "linear_schedule",
                                        "exponential_decay", "step_decay"};
    if (s->kind < 0 || s->kind > HONE_SCHED_STEP)
        return hone_err_set(err, HONE_EARG, "lr_schedule: unknown schedule %d", s->kind);
    if (s->kind == HONE_SCHED_CONST) return HONE_OK;
    if (s->n_args < need_min[s->kind] || s->n_args > need_max[s->kind])
        return hone_err_set(err, HONE_EARG, "lr_schedule: %s takes %d%s arguments, got %d",
                            names[s->kind], need_min[s->kind],
                            need_max[s->kind] > need_min[s->kind] ? " or 3" : "", s->n_args);
    if (s->kind == HONE_SCHED_COSINE && s->args[1] < 1)
        return hone_err_set(err, HONE_EARG, "lr_schedule: cosine_decay: decay_steps must be greater than 0, got %g", s->args[1]);
    if (s->kind == HONE_SCHED_LINEAR && s->args[2] < 1)
        return hone_err_set(err, HONE_EARG, "lr_schedule: linear_schedule: steps must be greater than 0, got %g", s->args[2]);
    if (s->kind == HONE_SCHED_STEP && s->args[2] < 1)
        return hone_err_set(err, HONE_EARG, "lr_schedule: step_decay: step_size must be greater than 0, got %g", s->args[2]);
    if (s->warmup < 0) return hone_err_set(err, HONE_EARG, "lr_schedule: warmup must be >= 0");
    return HONE_OK;
}

static double sched_main(const hone_sched *s, int64_t step) {
    const double *a = s->args;
    switch (s->kind) {
    case HONE_SCHED_COSINE: {
        double steps = floor(a[1]), end = s->n_args > 2 ? a[2] : 0.0;
        double t = (double)step < steps ? (double)step : steps;
        double decay = 0.5 * (1.0 + cos((M_PI / steps) * t));
        return end + decay * (a[0] - end);
    }
    case HONE_SCHED_LINEAR: {
        double steps = floor(a[2]);
        double t = (double)step < steps ? (double)step : steps;
        return t * ((a[1] - a[0]) / steps) + a[0];
    }
    case HONE_SCHED_EXP: return a[0] * pow(a[1], (double)step);
    case HONE_SCHED_STEP: return a[0] * pow(a[1], (double)(step / (int64_t)a[2]));
    default: return a[0];
    }
}

double hone_sched_lr(const hone_sched *s, int64_t step) {
    if (s->kind != HONE_SCHED_CONST && s->warmup > 0) {
        if (step < s->warmup + 1) {
            double w = (double)s->warmup, t = (double)step < w ? (double)step : w;
            return t * ((s->args[0] - s->warmup_init) / w) + s->warmup_init;
        }
        return sched_main(s, step - (s->warmup + 1));
    }
    return sched_main(s, step);
}

/* ---- optimizer ---- */

int hone_optim_init(hone_optim *o, const hone_optim_params *p, int64_t n_params,
                    const size_t *sizes, hone_err *err) {
    memset(o, 0, sizeof *o);
    o->p = *p;
    o->n_params = n_params;
    o->offset = malloc(((size_t)n_params + 1) * sizeof *o->offset);
    if (!o->offset) return hone_err_set(err, HONE_ENOMEM, "optimizer: out of memory");
    size_t tot = 0;
    for (int64_t i = 0; i < n_params; i++) {
        o->offset[i] = tot;
        tot += sizes[i];
    }
    o->offset[n_params] = tot;
    o->m = calloc(tot ? tot : 1, sizeof(float));
    o->v = calloc(tot ? tot : 1, sizeof(float));
    if (!o->m || !o->v) {
        hone_optim_free(o);
        return hone_err_set(err, HONE_ENOMEM, "optimizer: out of memory for %zu state floats", 2 * tot);
    }
    return HONE_OK;
}

void hone_optim_free(hone_optim *o) {
    free(o->offset);
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

size_t hone_optim_total(const hone_optim *o) { return o->offset ? o->offset[o->n_params] : 0; }

static void adam_one(const hone_optim *o, float *w, const float *g, float *m, float *v, size_t n,
                     float lr, double t) {
    const hone_optim_params *p = &o->p;
    const float b1 = (float)p->beta1, b2 = (float)p->beta2, eps = (float)p->eps;
    const float omb1 = (float)(1.0 - p->beta1), omb2 = (float)(1.0 - p->beta2);
    const float decay = o->p.kind == HONE_OPT_ADAMW ? 1.0f - lr * (float)p->weight_decay : 1.0f;
    float c1 = 0, c2 = 0;
    if (p->bias_correction) {
        c1 = (float)((double)lr / (1.0 - pow(p->beta1, t)));
        c2 = (float)(1.0 / sqrt(1.0 - pow(p->beta2, t)));
    }
    for (size_t j = 0; j < n; j++) {
        float wj = o->p.kind == HONE_OPT_ADAMW ? w[j] * decay : w[j];
        float mj = b1 * m[j] + omb1 * g[j];
        float vj = b2 * v[j] + omb2 * (g[j] * g[j]);
        m[j] = mj;
        v[j] = vj;
        if (p->bias_correction) w[j] = wj - (c1 * mj) / (sqrtf(vj) * c2 + eps);
        else w[j] = wj - lr * mj / (sqrtf(vj) + eps);
    }
}

static void sgd_one(const hone_optim *o, float *w, const float *g, float *vbuf, size_t n, float lr) {
    const hone_optim_params *p = &o->p;
    const float wd = (float)p->weight_decay, mu = (float)p->momentum;
    const float omd = (float)(1.0 - p->dampening);
    for (size_t j = 0; j < n; j++) {
        float gj = g[j];
        if (p->weight_decay != 0) gj = gj + wd * w[j];
        if (p->momentum <= 0) {
            w[j] = w[j] - lr * gj;
            continue;
        }
        float vj = mu * vbuf[j];
        vj += p->dampening > 0 ? omd * gj : gj;
        float upd = p->nesterov ? gj + mu * vj : vj;
        vbuf[j] = vj;
        w[j] = w[j] - lr * upd;
    }
}

void hone_optim_update(hone_optim *o, float *const *params, const float *const *grads, float lr) {
    o->step++;
    double t = (double)o->step;
    for (int64_t i = 0; i < o->n_params; i++) {
        size_t off = o->offset[i], n = o->offset[i + 1] - off;
        if (o->p.kind == HONE_OPT_SGD) sgd_one(o, params[i], grads[i], o->m + off, n, lr);
        else adam_one(o, params[i], grads[i], o->m + off, o->v + off, n, lr, t);
    }
}

double hone_optim_clip(float *const *grads, const size_t *sizes, int64_t n, double max_norm) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < sizes[i]; j++) ss += (double)grads[i][j] * grads[i][j];
    double norm = sqrt(ss);
    double k = max_norm / (norm + 1e-6);
    if (k < 1.0) {
        float kf = (float)k;
        for (int64_t i = 0; i < n; i++)
            for (size_t j = 0; j < sizes[i]; j++) grads[i][j] *= kf;
    }
    return norm;
}
