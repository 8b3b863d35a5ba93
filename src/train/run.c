/* run.c: hone_train_run: data files -> tokenized examples (hone/dataset.h), adapters
 * (fresh: mlx-lm's initialisation; or --resume-adapter-file), the step (hone/train.h's
 * hone_trainer), SIGINT/SIGTERM -> a checkpoint, then the loop (loop.c) and the test loss.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hone.h"
#include "hone/dataset.h"
#include "train/loop.h"
#include "util/err.h"
#include "util/fileio.h"

/* ---- data ---- */

typedef struct loaded {
    hone_ds *ds;
    hone_ds_example *exs; /* (n) */
    hone_train_example *tex;
    int64_t n;
    char path[HONE_TRAIN_PATH_MAX + 32];
} loaded;

static void loaded_free(loaded *l) {
    for (int64_t i = 0; i < l->n; i++) hone_ds_example_free(&l->exs[i]);
    free(l->exs);
    free(l->tex);
    hone_ds_free(l->ds);
    memset(l, 0, sizeof *l);
}

/* mlx-lm's *_feature keys: a file whose records use other key names (prompt_feature:
 * question, ...) is rewritten line by line with the standard names before hone_ds_load_mem,
 * one output line per input line, so line numbers in diagnostics stay the file's (columns
 * of a rewritten line refer to its compact re-serialisation). Lines that are not JSON
 * objects pass through unchanged (the loader reports them). */
static int renames_active(const hone_train_config *c) {
    return strcmp(c->prompt_feature, "prompt") || strcmp(c->completion_feature, "completion") ||
           strcmp(c->text_feature, "text") || strcmp(c->chat_feature, "messages");
}

static int rename_features(const hone_train_config *cfg, const char *path, char **out, size_t *out_len,
                           hone_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = hone_file_read_all(path, &text, &len, err);
    if (rc) return rc;
    const char *from[4] = {cfg->prompt_feature, cfg->completion_feature, cfg->text_feature, cfg->chat_feature};
    const char *to[4] = {"prompt", "completion", "text", "messages"};
    size_t cap = 2 * len + 64, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        free(text);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        json_error_t je;
        json_t *j = json_loadb(text + i, e - i, 0, &je);
        char *line = NULL;
        if (j && json_is_object(j)) {
            for (int k = 0; k < 4; k++) {
                if (!strcmp(from[k], to[k])) continue;
                json_t *v = json_object_get(j, from[k]);
                if (v) {
                    json_incref(v);
                    json_object_del(j, from[k]);
                    json_object_set_new(j, to[k], v);
                }
            }
            line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        }
        const char *src = line ? line : text + i;
        size_t sl = line ? strlen(line) : e - i;
        if (n + sl + 2 > cap) {
            cap = 2 * (n + sl + 2);
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(line), json_decref(j), free(buf), free(text);
                return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        memcpy(buf + n, src, sl);
        n += sl;
        buf[n++] = '\n';
        free(line);
        json_decref(j);
        i = e + 1;
    }
    free(text);
    *out = buf;
    *out_len = n;
    return HONE_OK;
}

static int load_set(const hone_train_config *cfg, const hone_tok *tok, const hone_chat_template *tmpl,
                    const char *file, const char *dir_name, int required, loaded *l, hone_train_event_fn fn,
                    void *user, hone_err *err) {
    memset(l, 0, sizeof *l);
    if (file[0]) snprintf(l->path, sizeof l->path, "%s", file);
    else if (cfg->data[0]) snprintf(l->path, sizeof l->path, "%s/%s", cfg->data, dir_name);
    else if (required) return hone_err_set(err, HONE_EARG, "no training data: give --data DIR or --train-data FILE");
    else return HONE_OK;
    if (access(l->path, R_OK)) {
        if (!required && !file[0]) {
            l->path[0] = 0;
            return HONE_OK;
        }
        return hone_err_set(err, HONE_ENOTFOUND, "%s: cannot read: %s", l->path, strerror(errno));
    }
    hone_ds_diags dg = {0};
    int rc;
    if (renames_active(cfg)) {
        char *buf = NULL;
        size_t n = 0;
        rc = rename_features(cfg, l->path, &buf, &n, err);
        if (!rc) rc = hone_ds_load_mem(&l->ds, l->path, buf, n, &dg, err);
        free(buf);
    } else rc = hone_ds_load(&l->ds, l->path, &dg, err);
    if (!rc) {
        for (size_t i = 0; i < dg.n; i++) {
            hone_train_event ev = {.kind = HONE_TRAIN_EV_WARNING, .msg = dg.v[i].msg};
            if (fn) fn(user, &ev);
        }
        if (dg.n_errors)
            rc = hone_err_set(err, HONE_EFORMAT, "%s: %zu malformed record%s (listed above); nothing was trained", l->path,
                              dg.n_errors, dg.n_errors == 1 ? "" : "s");
    }
    hone_ds_diags_free(&dg);
    if (rc) return rc;
    l->n = (int64_t)l->ds->n;
    l->exs = calloc((size_t)l->n + 1, sizeof *l->exs);
    l->tex = calloc((size_t)l->n + 1, sizeof *l->tex);
    if (!l->exs || !l->tex) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", l->path);
    hone_ds_tok_opts to = {.tok = tok, .tmpl = tmpl, .mask_prompt = cfg->mask_prompt};
    for (int64_t i = 0; i < l->n; i++) {
        rc = hone_ds_tokenize(&to, l->ds, &l->ds->recs[i], &l->exs[i], err);
        if (rc) return rc;
        l->tex[i] = (hone_train_example){.ids = l->exs[i].ids, .mask = l->exs[i].mask, .n = l->exs[i].n};
    }
    return HONE_OK;
}

/* ---- adapters from a file (--resume-adapter-file: mlx-lm's names and shapes) ---- */

static int load_adapter_file(hone_adapter *ad, const char *path, hone_err *err) {
    hone_st *st;
    int rc = hone_st_open(&st, path, err);
    if (rc) return rc;
    static const char *const prefixes[] = {"model.", "language_model.model.", ""};
    int64_t found = 0;
    for (int64_t i = 0; i < hone_adapter_n(ad) && !rc; i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        for (int half = 0; half < 2 && !rc; half++) {
            int64_t t = -1;
            char name[256];
            for (int p = 0; p < 3 && t < 0; p++) {
                snprintf(name, sizeof name, "%slayers.%u.%s.%s", prefixes[p], l->layer, hone_proj_module(l->proj),
                         half ? "lora_b" : "lora_a");
                t = hone_st_find(st, name);
            }
            if (t < 0) continue;
            /* lora_a (n_in, rank) = A^T, lora_b (rank, n_out) = B^T */
            uint64_t r0 = half ? l->rank : (uint64_t)l->n_in, r1 = half ? (uint64_t)l->n_out : l->rank;
            const uint64_t *sh = hone_st_tensor_shape(st, t);
            if (hone_st_tensor_dtype(st, t) != HONE_ST_F32 || hone_st_tensor_ndim(st, t) != 2 || sh[0] != r0 || sh[1] != r1) {
                rc = hone_err_set(err, HONE_EFORMAT, "%s: tensor '%s': expected F32 (%llu, %llu)", path, name,
                                  (unsigned long long)r0, (unsigned long long)r1);
                break;
            }
            const unsigned char *src = hone_st_tensor_data(st, t);
            float *dst = half ? l->b : l->a; /* A (rank, n_in), B (n_out, rank) */
            for (uint64_t i0 = 0; i0 < r0; i0++)
                for (uint64_t i1 = 0; i1 < r1; i1++) {
                    float v;
                    memcpy(&v, src + (i0 * r1 + i1) * 4, 4);
                    dst[i1 * r0 + i0] = v;
                }
            found++;
        }
    }
    hone_st_close(st);
    if (!rc && found == 0)
        rc = hone_err_set(err, HONE_EFORMAT, "%s: no lora_a/lora_b tensor matches the adapted layers and keys", path);
    return rc;
}

/* ---- the step on hone_trainer ---- */

static int op_step(void *ctx, const hone_train_batch *b, int backward, float gs, double *ls, int64_t *nt, hone_err *err) {
    return hone_trainer_step(ctx, b, backward, gs, ls, nt, err);
}
static void op_zero(void *ctx) { hone_trainer_zero_grad(ctx); }
static void op_grad(void *ctx, int64_t i, float **dA, float **dB) { hone_trainer_grad(ctx, i, dA, dB); }

static void on_signal(int sig) {
    (void)sig;
    hone_train_stop_flag = 1;
}

static void proj_dims(const hone_model_desc *d, int64_t dims[HONE_PROJ_COUNT][2]) {
    int64_t h = d->hidden, q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim,
            vv = (int64_t)d->n_kv_heads * d->head_dim_v, o = (int64_t)d->n_heads * d->head_dim_v, f = d->ffn_hidden;
    int64_t v[HONE_PROJ_COUNT][2] = {{h, q}, {h, kv}, {h, vv}, {o, h}, {h, f}, {h, f}, {f, h}};
    memcpy(dims, v, sizeof v);
}

int hone_train_run(const hone_train_config *cfg, hone_model *m, const hone_chat_template *tmpl,
                   hone_train_event_fn fn, void *user, hone_train_result *res, hone_err *err) {
    memset(res, 0, sizeof *res);
    res->first_val_loss = res->last_val_loss = res->best_val_loss = res->test_loss = NAN;
    int rc = hone_train_config_check(cfg, err);
    if (rc) return rc;
    const hone_model_desc *d = hone_model_get_desc(m);
    const hone_tok *tok = hone_model_get_tokenizer(m);
    if (!tok) return hone_err_set(err, HONE_EUNSUPPORTED, "%s: the model has no tokenizer hone can use", cfg->model);
    loaded tr = {0}, va = {0}, te = {0};
    hone_adapter *ad = NULL;
    hone_trainer *t = NULL;
    struct sigaction old_int, old_term;
    int sig_set = 0;
    char msg[HONE_TRAIN_PATH_MAX + 128];

    if (cfg->train) {
        if ((rc = load_set(cfg, tok, tmpl, cfg->train_file, "train.jsonl", 1, &tr, fn, user, err))) goto done;
        if ((rc = load_set(cfg, tok, tmpl, cfg->valid_file, "valid.jsonl", 0, &va, fn, user, err))) goto done;
    }
    if (cfg->test && (rc = load_set(cfg, tok, tmpl, cfg->test_file, "test.jsonl", 1, &te, fn, user, err))) goto done;
    if (fn) {
        snprintf(msg, sizeof msg, "Loaded %lld training, %lld validation, %lld test examples (%s%s)", (long long)tr.n,
                 (long long)va.n, (long long)te.n, cfg->mask_prompt ? "--mask-prompt" : "loss on every token",
                 tmpl ? "" : ", no chat template");
        hone_train_event ev = {.kind = HONE_TRAIN_EV_INFO, .msg = msg};
        fn(user, &ev);
    }

    /* adapters */
    int64_t dims[HONE_PROJ_COUNT][2];
    proj_dims(d, dims);
    if (cfg->train) {
        if ((rc = hone_train_adapter_init(&ad, cfg, d->n_layers, (const int64_t(*)[2])dims, err))) goto done;
        if (cfg->resume_adapter_file[0] && (rc = load_adapter_file(ad, cfg->resume_adapter_file, err))) goto done;
    } else {
        if ((rc = hone_adapter_load(&ad, cfg->adapter_path, NULL, err))) goto done;
    }
    if (fn) {
        int64_t np = 0;
        for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
            hone_lora *l = hone_adapter_get(ad, i);
            np += (int64_t)l->rank * (l->n_in + l->n_out);
        }
        snprintf(msg, sizeof msg, "Trainable parameters: %.3fM in %lld adapted projections (rank %u, scale %g)",
                 np / 1e6, (long long)hone_adapter_n(ad), hone_adapter_get_config(ad)->rank,
                 hone_adapter_get_config(ad)->scale);
        hone_train_event ev = {.kind = HONE_TRAIN_EV_INFO, .msg = msg};
        fn(user, &ev);
    }

    /* the step: buffers for the longest (truncated) example of any set */
    size_t longest = 2;
    loaded *sets[3] = {&tr, &va, &te};
    for (int s = 0; s < 3; s++)
        for (int64_t i = 0; i < sets[s]->n; i++)
            if (sets[s]->exs[i].n > longest) longest = sets[s]->exs[i].n;
    if (longest > (size_t)cfg->max_seq_length) longest = (size_t)cfg->max_seq_length;
    hone_trainer_opts to = {.engine = cfg->engine, .max_batch = (uint32_t)cfg->batch_size, .max_seq = (uint32_t)longest,
                            .grad_checkpoint = cfg->grad_checkpoint, .n_threads = cfg->n_threads};
    if ((rc = hone_trainer_create(&t, m, ad, &to, err))) goto done;
    hone_train_ops ops = {.ctx = t, .step = op_step, .zero_grad = op_zero, .grad = op_grad};

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    hone_train_stop_flag = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sig_set = 1;

    if (cfg->train) {
        hone_train_set trs = {.ex = tr.tex, .n = tr.n, .name = "train"}, vas = {.ex = va.tex, .n = va.n, .name = "valid"};
        rc = hone_train_loop(cfg, ad, &ops, &trs, va.n ? &vas : NULL, fn, user, res, err);
        if (rc || res->interrupted) goto done;
    }
    if (cfg->test && te.n) {
        hone_train_set tes = {.ex = te.tex, .n = te.n, .name = "test"};
        double loss;
        if ((rc = hone_train_eval(cfg, &ops, &tes, cfg->test_batches, fn, user, &loss, err))) goto done;
        res->test_loss = loss;
        char js[128];
        snprintf(js, sizeof js, "{\"test_loss\":%.9g,\"test_ppl\":%.9g}", loss, exp(loss));
        hone_train_event ev = {.kind = HONE_TRAIN_EV_TEST, .val_loss = loss, .json = js};
        if (fn) fn(user, &ev);
    }

done:
    if (sig_set) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    hone_trainer_free(t);
    hone_adapter_free(ad);
    loaded_free(&tr);
    loaded_free(&va);
    loaded_free(&te);
    return rc;
}
