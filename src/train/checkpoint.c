/* checkpoint.c: the training checkpoint (ADAPTER_PATH/checkpoint.safetensors): adapters
 * ("lora.NNNNNN.a" (rank, n_in), ".b" (n_out, rank), F32), optimizer m/v (F32) and step,
 * the data order ("order", I64), the generator ("rng", xoshiro256** state as I64), the loss
 * history ("hist.train", "hist.val", F64 (n, 2)), and in the metadata the step, position,
 * report accumulators (doubles as C99 hex floats, exact), best validation loss and two
 * fingerprints (configuration, training tokens) that a resume must match. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_loop_internal.h"
#include "util/err.h"

#define CKPT_FORMAT "hone-train-checkpoint-v1"

int tl_hist_push(tl_hist *h, double it, double loss) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        double *v = realloc(h->v, cap * 2 * sizeof *v);
        if (!v) return HONE_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    h->v[2 * h->n] = it;
    h->v[2 * h->n + 1] = loss;
    h->n++;
    return HONE_OK;
}

void tl_config_fingerprint(const hone_train_config *c, const hone_adapter *ad, char *buf, size_t n) {
    const hone_adapter_config *ac = hone_adapter_get_config(ad);
    snprintf(buf, n,
             "rank=%u keys=%u num_layers=%d n_adapted=%lld batch_size=%lld accum=%lld seed=%llu optimizer=%s "
             "max_seq_length=%lld mask_prompt=%d",
             ac->rank, ac->keys, ac->num_layers, (long long)hone_adapter_n(ad), (long long)c->batch_size,
             (long long)c->grad_accumulation_steps, (unsigned long long)c->seed, c->optimizer,
             (long long)c->max_seq_length, c->mask_prompt);
}

int tl_ckpt_write(const char *path, const tl_state *st, const hone_adapter *ad_c, const char *fp, uint64_t dh,
                      hone_err *err) {
    hone_adapter *ad = (hone_adapter *)ad_c;
    hone_st_writer *w = NULL;
    int rc = hone_st_writer_init(&w, err);
    if (rc) return rc;
    char buf[128], name[64];
#define META(k, ...) \
    if (!rc) { snprintf(buf, sizeof buf, __VA_ARGS__); rc = hone_st_writer_add_meta(w, k, buf, err); }
    META("format", "%s", CKPT_FORMAT);
    META("step", "%lld", (long long)st->step);
    META("optim_step", "%llu", (unsigned long long)st->opt.step);
    META("n_batches", "%lld", (long long)st->nb);
    META("pos", "%lld", (long long)st->pos);
    META("epoch", "%lld", (long long)st->epoch);
    META("acc_loss", "%a", st->acc_loss);
    META("acc_tokens", "%lld", (long long)st->acc_tokens);
    META("acc_steps", "%lld", (long long)st->acc_steps);
    META("trained_tokens", "%lld", (long long)st->trained_tokens);
    META("best_val", "%a", st->best_val);
    META("first_val", "%a", st->first_val);
    META("bad_evals", "%lld", (long long)st->bad_evals);
    META("data_hash", "%016llx", (unsigned long long)dh);
#undef META
    if (!rc) rc = hone_st_writer_add_meta(w, "config", fp, err);
    for (int64_t i = 0; i < hone_adapter_n(ad) && !rc; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        uint64_t sa[2] = {l->rank, (uint64_t)l->n_in}, sb[2] = {(uint64_t)l->n_out, l->rank};
        snprintf(name, sizeof name, "lora.%06lld.a", (long long)i);
        rc = hone_st_writer_add_tensor(w, name, HONE_F32, 2, sa, l->a, err);
        snprintf(name, sizeof name, "lora.%06lld.b", (long long)i);
        if (!rc) rc = hone_st_writer_add_tensor(w, name, HONE_F32, 2, sb, l->b, err);
    }
    uint64_t tot = hone_optim_total(&st->opt), nb = (uint64_t)st->nb, four = 4;
    if (!rc) rc = hone_st_writer_add_tensor(w, "optim.m", HONE_F32, 1, &tot, st->opt.m, err);
    if (!rc) rc = hone_st_writer_add_tensor(w, "optim.v", HONE_F32, 1, &tot, st->opt.v, err);
    if (!rc) rc = hone_st_writer_add_tensor(w, "order", HONE_I64, 1, &nb, st->perm, err);
    if (!rc) rc = hone_st_writer_add_tensor(w, "rng", HONE_I64, 1, &four, st->rng.s, err);
    if (!rc && st->htrain.n) {
        uint64_t sh[2] = {st->htrain.n, 2};
        rc = hone_st_writer_add_tensor(w, "hist.train", HONE_F64, 2, sh, st->htrain.v, err);
    }
    if (!rc && st->hval.n) {
        uint64_t sh[2] = {st->hval.n, 2};
        rc = hone_st_writer_add_tensor(w, "hist.val", HONE_F64, 2, sh, st->hval.v, err);
    }
    if (!rc) rc = hone_st_writer_write(w, path, err);
    hone_st_writer_free(w);
    return rc;
}

static int meta_i64(hone_st *st, const char *path, const char *key, int64_t *out, hone_err *err) {
    const char *v = hone_st_meta_get(st, key);
    char *end;
    if (!v) return hone_err_set(err, HONE_EFORMAT, "%s: checkpoint metadata lacks '%s'", path, key);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) return hone_err_set(err, HONE_EFORMAT, "%s: metadata '%s' = '%s' is not an integer", path, key, v);
    *out = x;
    return HONE_OK;
}

static int meta_f64(hone_st *st, const char *path, const char *key, double *out, hone_err *err) {
    const char *v = hone_st_meta_get(st, key);
    char *end;
    if (!v) return hone_err_set(err, HONE_EFORMAT, "%s: checkpoint metadata lacks '%s'", path, key);
    *out = strtod(v, &end);
    if (end == v || *end) return hone_err_set(err, HONE_EFORMAT, "%s: metadata '%s' = '%s' is not a number", path, key, v);
    return HONE_OK;
}

/* Copies tensor `name` (dtype, element count) into dst. */
static int ckpt_tensor(hone_st *st, const char *path, const char *name, int st_dtype, uint64_t nelem, void *dst,
                       hone_err *err) {
    int64_t t = hone_st_find(st, name);
    if (t < 0) return hone_err_set(err, HONE_EFORMAT, "%s: checkpoint lacks tensor '%s'", path, name);
    if ((int)hone_st_tensor_dtype(st, t) != st_dtype || hone_st_tensor_nelem(st, t) != nelem)
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor '%s': expected %s with %llu elements", path, name,
                            hone_st_dtype_str(st_dtype), (unsigned long long)nelem);
    memcpy(dst, hone_st_tensor_data(st, t), nelem * hone_st_dtype_size(st_dtype));
    return HONE_OK;
}

static int ckpt_read_hist(hone_st *st, const char *name, tl_hist *h) {
    int64_t t = hone_st_find(st, name);
    if (t < 0) return HONE_OK;
    if (hone_st_tensor_dtype(st, t) != HONE_ST_F64 || hone_st_tensor_nelem(st, t) % 2) return HONE_EFORMAT;
    const double *v = hone_st_tensor_data(st, t);
    size_t n = hone_st_tensor_nelem(st, t) / 2;
    for (size_t i = 0; i < n; i++) {
        double a, b;
        memcpy(&a, v + 2 * i, sizeof a);
        memcpy(&b, v + 2 * i + 1, sizeof b);
        if (tl_hist_push(h, a, b)) return HONE_ENOMEM;
    }
    return HONE_OK;
}

int tl_ckpt_read(const char *path, tl_state *s, hone_adapter *ad, const char *fp, uint64_t dh, hone_err *err) {
    hone_st *st = NULL;
    int rc = hone_st_open(&st, path, err);
    if (rc) return hone_err_prefix(err, "--resume: "), rc;
    const char *f = hone_st_meta_get(st, "format"), *cf = hone_st_meta_get(st, "config"),
               *dhs = hone_st_meta_get(st, "data_hash");
    char dhb[32];
    snprintf(dhb, sizeof dhb, "%016llx", (unsigned long long)dh);
    if (!f || strcmp(f, CKPT_FORMAT))
        rc = hone_err_set(err, HONE_EFORMAT, "%s: not a hone training checkpoint (format '%s', expected '%s')", path,
                          f ? f : "(none)", CKPT_FORMAT);
    else if (!cf || strcmp(cf, fp))
        rc = hone_err_set(err, HONE_EARG, "%s: the checkpoint was written with another configuration (%s); this run has %s",
                          path, cf ? cf : "(none)", fp);
    else if (!dhs || strcmp(dhs, dhb))
        rc = hone_err_set(err, HONE_EARG, "%s: the training data changed since the checkpoint (token hash %s, now %s)",
                          path, dhs ? dhs : "(none)", dhb);
    int64_t nb = 0, ostep = 0;
    if (!rc) rc = meta_i64(st, path, "n_batches", &nb, err);
    if (!rc && nb != s->nb)
        rc = hone_err_set(err, HONE_EARG, "%s: %lld batches per epoch in the checkpoint, %lld now", path, (long long)nb,
                          (long long)s->nb);
    if (!rc) rc = meta_i64(st, path, "step", &s->step, err);
    if (!rc) rc = meta_i64(st, path, "optim_step", &ostep, err);
    if (!rc) rc = meta_i64(st, path, "pos", &s->pos, err);
    if (!rc) rc = meta_i64(st, path, "epoch", &s->epoch, err);
    if (!rc) rc = meta_f64(st, path, "acc_loss", &s->acc_loss, err);
    if (!rc) rc = meta_i64(st, path, "acc_tokens", &s->acc_tokens, err);
    if (!rc) rc = meta_i64(st, path, "acc_steps", &s->acc_steps, err);
    if (!rc) rc = meta_i64(st, path, "trained_tokens", &s->trained_tokens, err);
    if (!rc) rc = meta_f64(st, path, "best_val", &s->best_val, err);
    if (!rc) rc = meta_f64(st, path, "first_val", &s->first_val, err);
    if (!rc) rc = meta_i64(st, path, "bad_evals", &s->bad_evals, err);
    if (!rc && (s->pos < 0 || s->pos > s->nb || s->step < 0 || ostep < 0))
        rc = hone_err_set(err, HONE_EFORMAT, "%s: step/pos out of range", path);
    s->opt.step = (uint64_t)ostep;
    char name[64];
    for (int64_t i = 0; i < hone_adapter_n(ad) && !rc; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        snprintf(name, sizeof name, "lora.%06lld.a", (long long)i);
        rc = ckpt_tensor(st, path, name, HONE_ST_F32, (uint64_t)l->rank * (uint64_t)l->n_in, l->a, err);
        snprintf(name, sizeof name, "lora.%06lld.b", (long long)i);
        if (!rc) rc = ckpt_tensor(st, path, name, HONE_ST_F32, (uint64_t)l->rank * (uint64_t)l->n_out, l->b, err);
    }
    uint64_t tot = hone_optim_total(&s->opt);
    if (!rc) rc = ckpt_tensor(st, path, "optim.m", HONE_ST_F32, tot, s->opt.m, err);
    if (!rc) rc = ckpt_tensor(st, path, "optim.v", HONE_ST_F32, tot, s->opt.v, err);
    if (!rc) rc = ckpt_tensor(st, path, "order", HONE_ST_I64, (uint64_t)s->nb, s->perm, err);
    if (!rc) rc = ckpt_tensor(st, path, "rng", HONE_ST_I64, 4, s->rng.s, err);
    for (int64_t i = 0; i < s->nb && !rc; i++)
        if (s->perm[i] < 0 || s->perm[i] >= s->nb) rc = hone_err_set(err, HONE_EFORMAT, "%s: order[%lld] out of range", path, (long long)i);
    if (!rc && (ckpt_read_hist(st, "hist.train", &s->htrain) || ckpt_read_hist(st, "hist.val", &s->hval)))
        rc = hone_err_set(err, HONE_EFORMAT, "%s: bad loss history", path);
    hone_st_close(st);
    return rc;
}
