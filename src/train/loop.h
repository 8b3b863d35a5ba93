/* loop.h: the training loop behind hone_train_run, over an abstract step (so the loop's
 * data order, optimizer, reports, files and resume are tested on a toy model without the
 * engine, and run on hone_trainer in production).
 */
#ifndef HONE_TRAIN_LOOP_H
#define HONE_TRAIN_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "hone.h"

/* One tokenized example: ids (n) and mask (n), mask[t] = 1 when token t is a supervised
 * target (predicted from position t-1; mask[0] is ignored). mask NULL = every t >= 1. */
typedef struct hone_train_example {
    const int32_t *ids;  /* (n) */
    const unsigned char *mask; /* (n) or NULL */
    size_t n;
} hone_train_example;

typedef struct hone_train_set {
    const hone_train_example *ex;
    int64_t n;
    const char *name;    /* "train", "valid", "test": for messages */
} hone_train_set;

/* The step: hone_trainer_step / _zero_grad / _grad's signatures with a context. */
typedef struct hone_train_ops {
    void *ctx;
    int (*step)(void *ctx, const hone_train_batch *b, int backward, float grad_scale, double *loss_sum,
                int64_t *n_tokens, hone_err *err);
    void (*zero_grad)(void *ctx);
    void (*grad)(void *ctx, int64_t i, float **dA, float **dB);
} hone_train_ops;

/* Set to nonzero (e.g. by a signal handler) to stop at the next update boundary with a
 * checkpoint. hone_train_run installs SIGINT/SIGTERM handlers that set it. */
extern volatile sig_atomic_t hone_train_stop_flag;

/* Trains ad (its A/B are updated in place) with cfg; valid may be NULL or empty. When
 * cfg->resume, ad is overwritten from the checkpoint. Writes the files of hone/trainloop.h. */
int hone_train_loop(const hone_train_config *cfg, hone_adapter *ad, const hone_train_ops *ops,
                    const hone_train_set *train, const hone_train_set *valid, hone_train_event_fn on_event,
                    void *user, hone_train_result *res, hone_err *err);

/* Token-weighted mean loss of the set over at most max_batches batches (-1 = all) of
 * batch_size, in the fixed evaluation order (length-sorted batches, permuted once by a
 * seed-derived generator independent of the training order). NAN when no token. */
int hone_train_eval(const hone_train_config *cfg, const hone_train_ops *ops, const hone_train_set *set,
                    int64_t max_batches, hone_train_event_fn on_event, void *user, double *loss,
                    hone_err *err);

/* A uniform in +-1/sqrt(n_in) from the seed's generator, B zero (mlx-lm's LoRALinear), on the
 * last num_layers (-1 = all) of n_layers blocks for the projections in keys; sizes from
 * dims[proj] = {n_in, n_out}. */
int hone_train_adapter_init(hone_adapter **out, const hone_train_config *cfg, uint32_t n_layers,
                            const int64_t dims[][2], hone_err *err);

/* The SVG loss plot (train points (it, loss) and validation points) into path. */
int hone_train_plot_svg(const char *path, const double *train_it, const double *train_loss, size_t n_train,
                        const double *val_it, const double *val_loss, size_t n_val, hone_err *err);

#endif
