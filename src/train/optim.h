/* optim.h: optimizers and learning-rate schedules of `hone train`, with mlx's semantics
 * (mlx/optimizers/optimizers.py and schedulers.py, which mlx-lm's trainer uses), so a
 * user moving from mlx_lm.lora gets the same run:
 *
 *  - adam:  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *           w -= lr m / (sqrt(v) + eps)                       (NO bias correction by default)
 *           with bias_correction: w -= lr/(1-b1^t) m / (sqrt(v) / sqrt(1-b2^t) + eps)
 *  - adamw: w *= (1 - lr wd) first, then the adam step       (wd 0.01 by default)
 *  - sgd:   g += wd w; momentum 0: w -= lr g; else v = mu v + (1-tau) g (tau = dampening),
 *           update = nesterov ? g + mu v : v;  w -= lr update
 *  - the update with index k (0-based) uses lr = schedule(k) (mlx evaluates the schedule
 *    at the step count before incrementing it); bias correction uses t = k + 1.
 *  - clip (hone's --max-grad-norm, mlx.optimizers.clip_grad_norm's formula):
 *           g *= min(max_norm / (||g||_2 + 1e-6), 1) over all gradients together.
 * Arithmetic is float32 per element like mlx's; the schedule is evaluated in double and
 * rounded to float32 once.
 *
 * State: one flat buffer per role (m, v) over every parameter in registration order, so
 * a checkpoint is three arrays and a step counter.
 */
#ifndef HONE_TRAIN_OPTIM_H
#define HONE_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "hone.h"

enum { HONE_OPT_ADAM = 0, HONE_OPT_ADAMW = 1, HONE_OPT_SGD = 2 };

typedef struct hone_optim_params {
    int kind;              /* HONE_OPT_* */
    double beta1, beta2;   /* adam/adamw: 0.9, 0.999 */
    double eps;            /* 1e-8 */
    double weight_decay;   /* adamw 0.01, sgd 0 */
    int bias_correction;   /* adam/adamw: 0 (mlx's default) */
    double momentum;       /* sgd: 0 */
    double dampening;      /* sgd: 0 */
    int nesterov;          /* sgd: 0 */
} hone_optim_params;

/* mlx's defaults for `kind`. */
void hone_optim_params_default(hone_optim_params *p, int kind);

/* ---- learning-rate schedule ---- */

enum {
    HONE_SCHED_CONST = 0,     /* lr = init */
    HONE_SCHED_COSINE = 1,    /* cosine_decay(init, decay_steps, end=0) */
    HONE_SCHED_LINEAR = 2,    /* linear_schedule(init, end, steps) */
    HONE_SCHED_EXP = 3,       /* exponential_decay(init, decay_rate) */
    HONE_SCHED_STEP = 4,      /* step_decay(init, decay_rate, step_size) */
};

typedef struct hone_sched {
    int kind;
    double args[3];           /* the `arguments` list in mlx's order */
    int n_args;
    int64_t warmup;           /* > 0: linear warm-up from warmup_init to args[0] first */
    double warmup_init;
} hone_sched;

/* Checks the arguments as mlx's constructors do ("decay_steps must be greater than 0"). */
int hone_sched_check(const hone_sched *s, hone_err *err);
/* The learning rate at step count `step` (0 for the first update), mlx-lm's build_schedule:
 * with warm-up, join_schedules([linear(warmup_init, init, warmup), main], [warmup + 1]). */
double hone_sched_lr(const hone_sched *s, int64_t step);

/* ---- optimizer over a list of f32 tensors ---- */

typedef struct hone_optim {
    hone_optim_params p;
    int64_t n_params;      /* tensors */
    size_t *offset;        /* (n_params + 1) element offsets into m/v */
    float *m;              /* (total) first moment (adam) or momentum buffer (sgd) */
    float *v;              /* (total) second moment (adam), unused by sgd */
    uint64_t step;         /* updates done so far */
} hone_optim;

/* sizes: (n_params) element counts, in the order updates will pass the tensors. */
int hone_optim_init(hone_optim *o, const hone_optim_params *p, int64_t n_params,
                    const size_t *sizes, hone_err *err);
void hone_optim_free(hone_optim *o);
size_t hone_optim_total(const hone_optim *o);

/* One update of every parameter: params[i] -= ... with grads[i], at learning rate lr
 * (the caller evaluates the schedule at o->step). Increments o->step. */
void hone_optim_update(hone_optim *o, float *const *params, const float *const *grads, float lr);

/* Scales grads in place so their global L2 norm is at most max_norm (mlx's clip_grad_norm
 * formula); returns the norm before clipping. */
double hone_optim_clip(float *const *grads, const size_t *sizes, int64_t n, double max_norm);

#endif
