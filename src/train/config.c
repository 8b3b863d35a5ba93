/* config.c: `hone train`'s configuration: mlx-lm's defaults (lora.py CONFIG_DEFAULTS) and
 * its YAML config file (-c/--config), walked with libyaml's node graph so every error is
 * "FILE:LINE: key.path: what was expected" with the line of the offending node. Unknown
 * and duplicate keys are errors; a null value leaves the default (mlx-lm only fills keys
 * that are None). mlx-lm keys hone accepts but has no use for (report_to, project_name,
 * clear_cache_threshold, trust_remote_code) are read and ignored. The *_feature keys are
 * applied when the data files are read (run.c renames the keys line by line).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "hone.h"
#include "hone/trainloop.h"
#include "util/err.h"
#include "util/fileio.h"

void hone_train_config_default(hone_train_config *c) {
    memset(c, 0, sizeof *c);
    strcpy(c->adapter_path, "adapters");
    strcpy(c->fine_tune_type, "lora");
    strcpy(c->optimizer, "adam");
    for (int k = 0; k < 3; k++) {
        c->opt[k].betas[0] = 0.9;
        c->opt[k].betas[1] = 0.999;
        c->opt[k].eps = 1e-8;
    }
    c->opt[HONE_TRAIN_OPT_ADAMW].weight_decay = 0.01;
    c->num_layers = 16;
    c->batch_size = 4;
    c->iters = 1000;
    c->val_batches = 25;
    c->learning_rate = 1e-5;
    c->steps_per_report = 10;
    c->steps_per_eval = 200;
    c->save_every = 100;
    c->test_batches = 500;
    c->max_seq_length = 2048;
    c->grad_accumulation_steps = 1;
    c->lora_rank = 8;
    c->lora_scale = 20.0;
    c->lora_dropout = 0.0;
    strcpy(c->prompt_feature, "prompt");
    strcpy(c->completion_feature, "completion");
    strcpy(c->text_feature, "text");
    strcpy(c->chat_feature, "messages");
}

int hone_train_parse_keys(const char *list, uint32_t *keys, hone_err *err) {
    uint32_t k = 0;
    const char *p = list;
    if (!strcmp(list, "all")) {
        *keys = (1u << HONE_PROJ_COUNT) - 1;
        return HONE_OK;
    }
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        if (n == 0 || n >= sizeof name)
            return hone_err_set(err, HONE_EARG, "lora keys '%s': empty or too long name", list);
        memcpy(name, p, n);
        name[n] = 0;
        int id = hone_proj_from_name(name);
        if (id < 0)
            return hone_err_set(err, HONE_EARG,
                                "lora keys: unknown projection '%s' (expected q_proj, k_proj, v_proj, "
                                "o_proj, gate_proj, up_proj, down_proj, with or without self_attn./mlp., or all)",
                                name);
        k |= 1u << id;
        p += n;
        if (*p == ',') p++;
    }
    if (!k) return hone_err_set(err, HONE_EARG, "lora keys: empty list");
    *keys = k;
    return HONE_OK;
}

int hone_train_config_check(const hone_train_config *c, hone_err *err) {
    if (strcmp(c->fine_tune_type, "lora") != 0) {
        if (!strcmp(c->fine_tune_type, "dora") || !strcmp(c->fine_tune_type, "full"))
            return hone_err_set(err, HONE_EUNSUPPORTED,
                                "fine_tune_type '%s' is not supported yet: hone trains LoRA adapters only "
                                "(use --fine-tune-type lora)", c->fine_tune_type);
        return hone_err_set(err, HONE_EARG, "fine_tune_type '%s': expected lora, dora or full", c->fine_tune_type);
    }
    if (strcmp(c->optimizer, "adam") && strcmp(c->optimizer, "adamw") && strcmp(c->optimizer, "sgd")) {
        if (!strcmp(c->optimizer, "muon") || !strcmp(c->optimizer, "adafactor"))
            return hone_err_set(err, HONE_EUNSUPPORTED, "optimizer '%s' is not supported (adam, adamw or sgd)",
                                c->optimizer);
        return hone_err_set(err, HONE_EARG, "optimizer '%s': expected adam, adamw or sgd", c->optimizer);
    }
#define RANGE(f, lo, name)                                                                 \
    if (c->f < (lo)) return hone_err_set(err, HONE_EARG, "%s must be >= %lld, got %lld", name, \
                                         (long long)(lo), (long long)c->f)
    RANGE(batch_size, 1, "batch_size");
    RANGE(iters, 0, "iters");
    RANGE(steps_per_report, 1, "steps_per_report");
    RANGE(steps_per_eval, 1, "steps_per_eval");
    RANGE(save_every, 1, "save_every");
    RANGE(max_seq_length, 2, "max_seq_length");
    RANGE(grad_accumulation_steps, 1, "grad_accumulation_steps");
    RANGE(lora_rank, 1, "lora rank");
    RANGE(early_stop, 0, "early_stop");
#undef RANGE
    if (c->val_batches < -1 || c->val_batches == 0)
        return hone_err_set(err, HONE_EARG, "val_batches must be >= 1 or -1 (all), got %lld", (long long)c->val_batches);
    if (c->test_batches < -1 || c->test_batches == 0)
        return hone_err_set(err, HONE_EARG, "test_batches must be >= 1 or -1 (all), got %lld", (long long)c->test_batches);
    if (c->num_layers < -1 || c->num_layers == 0)
        return hone_err_set(err, HONE_EARG, "num_layers must be >= 1 or -1 (all), got %d", c->num_layers);
    if (!(c->learning_rate >= 0) || !isfinite(c->learning_rate))
        return hone_err_set(err, HONE_EARG, "learning_rate must be a finite number >= 0");
    if (!(c->lora_dropout >= 0 && c->lora_dropout < 1))
        return hone_err_set(err, HONE_EARG, "lora dropout must be in [0, 1), got %g", c->lora_dropout);
    if (!isfinite(c->lora_scale)) return hone_err_set(err, HONE_EARG, "lora scale must be finite");
    if (!(c->max_grad_norm >= 0)) return hone_err_set(err, HONE_EARG, "max_grad_norm must be >= 0");
    for (int k = 0; k < 3; k++) {
        const hone_train_optcfg *o = &c->opt[k];
        for (int i = 0; i < 2; i++)
            if (!(o->betas[i] >= 0 && o->betas[i] < 1))
                return hone_err_set(err, HONE_EARG, "optimizer_config: beta%d should be in [0, 1), got %g", i + 1,
                                    o->betas[i]);
        if (!(o->eps >= 0)) return hone_err_set(err, HONE_EARG, "optimizer_config: eps should be >= 0");
        if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
            return hone_err_set(err, HONE_EARG, "optimizer_config.sgd: Nesterov momentum requires a momentum and zero dampening");
    }
    if (c->schedule_name[0]) {
        static const char *const names[] = {"cosine_decay", "linear_schedule", "exponential_decay", "step_decay"};
        static const int nmin[] = {2, 3, 2, 3}, nmax[] = {3, 3, 2, 3};
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(c->schedule_name, names[i])) k = i;
        if (k < 0)
            return hone_err_set(err, HONE_EARG, "lr_schedule.name '%s': expected cosine_decay, linear_schedule, "
                                "exponential_decay or step_decay", c->schedule_name);
        if (c->schedule_n_args < nmin[k] || c->schedule_n_args > nmax[k])
            return hone_err_set(err, HONE_EARG, "lr_schedule.arguments: %s takes %d%s arguments, got %d",
                                names[k], nmin[k], nmax[k] > nmin[k] ? " or 3" : "", c->schedule_n_args);
        if (k == 0 && c->schedule_args[1] < 1)
            return hone_err_set(err, HONE_EARG, "lr_schedule: cosine_decay: decay_steps must be greater than 0");
        if ((k == 1 || k == 3) && c->schedule_args[2] < 1)
            return hone_err_set(err, HONE_EARG, "lr_schedule: %s: steps must be greater than 0", names[k]);
        if (c->warmup < 0) return hone_err_set(err, HONE_EARG, "lr_schedule.warmup must be >= 0");
    }
    if (!c->train && !c->test)
        return hone_err_set(err, HONE_EARG, "nothing to do: give --train and/or --test "
                            "(--train is implied by --train-data, --num-iters or --iters)");
    if (!c->model[0]) return hone_err_set(err, HONE_EARG, "no model: give --model PATH (or model: in the config)");
    return HONE_OK;
}

/* ---- YAML ---- */

typedef struct ctx {
    const char *name;
    yaml_document_t *doc;
    hone_err *err;
    hone_train_config *c;
} ctx;

static int node_line(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static int fail(ctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(ctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hone_err_set(c->err, HONE_EFORMAT, "%s:%d: %s: %s", c->name, node_line(n), path, msg);
}

static yaml_node_t *get(ctx *c, int idx) { return yaml_document_get_node(c->doc, idx); }

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = sval(n);
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int plain(const yaml_node_t *n) {
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int get_str(ctx *c, yaml_node_t *n, const char *path, char *out, size_t cap) {
    if (n->type != YAML_SCALAR_NODE) return fail(c, n, path, "expected a string");
    if (strlen(sval(n)) != n->data.scalar.length) return fail(c, n, path, "string contains a NUL byte");
    if (n->data.scalar.length >= cap) return fail(c, n, path, "longer than %zu bytes", cap - 1);
    memcpy(out, sval(n), n->data.scalar.length + 1);
    return HONE_OK;
}

static int get_i64(ctx *c, yaml_node_t *n, const char *path, int64_t *out) {
    if (!plain(n)) return fail(c, n, path, "expected an integer");
    const char *v = sval(n);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) return fail(c, n, path, "'%s' is not an integer", v);
    *out = x;
    return HONE_OK;
}

static int get_f64(ctx *c, yaml_node_t *n, const char *path, double *out) {
    if (!plain(n)) return fail(c, n, path, "expected a number");
    const char *v = sval(n);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x)) return fail(c, n, path, "'%s' is not a number", v);
    *out = x;
    return HONE_OK;
}

static int get_bool(ctx *c, yaml_node_t *n, const char *path, int *out) {
    static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
    static const char *const f[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
    if (plain(n)) {
        for (int i = 0; t[i]; i++)
            if (!strcmp(sval(n), t[i])) return *out = 1, HONE_OK;
        for (int i = 0; f[i]; i++)
            if (!strcmp(sval(n), f[i])) return *out = 0, HONE_OK;
    }
    return fail(c, n, path, "expected true or false");
}

static int check_map(ctx *c, yaml_node_t *n, const char *path, const char *const *allowed) {
    if (n->type != YAML_MAPPING_NODE) return fail(c, n, path, "expected a mapping");
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get(c, p->key);
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, path, "keys must be strings");
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, sval(k));
        if (!ok) {
            char list[1200] = "";
            for (const char *const *a = allowed; *a; a++) {
                if (a != allowed) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, *a, sizeof list - strlen(list) - 1);
            }
            return fail(c, k, path, "unknown key '%s' (expected one of %s)", sval(k), list);
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(sval(get(c, q->key)), sval(k))) return fail(c, k, path, "duplicate key '%s'", sval(k));
    }
    return HONE_OK;
}

static int parse_lora(ctx *c, yaml_node_t *n) {
    static const char *const keys[] = {"rank", "scale", "dropout", "keys", "alpha", NULL};
    int rc = check_map(c, n, "lora_parameters", keys);
    if (rc) return rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = sval(get(c, p->key));
        yaml_node_t *v = get(c, p->value);
        char path[64];
        snprintf(path, sizeof path, "lora_parameters.%s", k);
        if (is_null(v)) continue;
        if (!strcmp(k, "rank")) rc = get_i64(c, v, path, &c->c->lora_rank);
        else if (!strcmp(k, "scale")) rc = get_f64(c, v, path, &c->c->lora_scale);
        else if (!strcmp(k, "dropout")) rc = get_f64(c, v, path, &c->c->lora_dropout);
        else if (!strcmp(k, "alpha"))
            rc = fail(c, v, path, "mlx-lm's LoRA config uses 'scale', not 'alpha' (the multiplier of B A x)");
        else { /* keys: a list of module names */
            if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, path, "expected a list of projection names");
            uint32_t bits = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = get(c, *it);
                if (e->type != YAML_SCALAR_NODE) return fail(c, e, path, "expected a projection name");
                int id = hone_proj_from_name(sval(e));
                if (id < 0)
                    return fail(c, e, path, "unknown projection '%s' (expected self_attn.q_proj, k_proj, v_proj, "
                                "o_proj, mlp.gate_proj, up_proj or down_proj)", sval(e));
                bits |= 1u << id;
            }
            if (!bits) return fail(c, v, path, "empty list");
            c->c->lora_keys = bits;
        }
        if (rc) return rc;
    }
    return HONE_OK;
}

static int parse_schedule(ctx *c, yaml_node_t *n) {
    static const char *const keys[] = {"name", "arguments", "warmup", "warmup_init", NULL};
    int rc = check_map(c, n, "lr_schedule", keys);
    if (rc) return rc;
    yaml_node_t *name = NULL, *args = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *k = sval(get(c, p->key));
        yaml_node_t *v = get(c, p->value);
        if (!strcmp(k, "name")) {
            name = v;
            if ((rc = get_str(c, v, "lr_schedule.name", c->c->schedule_name, sizeof c->c->schedule_name))) return rc;
            if (strcmp(sval(v), "cosine_decay") && strcmp(sval(v), "linear_schedule") &&
                strcmp(sval(v), "exponential_decay") && strcmp(sval(v), "step_decay"))
                return fail(c, v, "lr_schedule.name", "'%s': expected cosine_decay, linear_schedule, "
                            "exponential_decay or step_decay", sval(v));
        } else if (!strcmp(k, "arguments")) {
            args = v;
            if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "lr_schedule.arguments", "expected a list of numbers");
            int na = 0;
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                if (na == 3) return fail(c, v, "lr_schedule.arguments", "at most 3 arguments");
                char path[64];
                snprintf(path, sizeof path, "lr_schedule.arguments[%d]", na);
                if ((rc = get_f64(c, get(c, *it), path, &c->c->schedule_args[na]))) return rc;
                na++;
            }
            c->c->schedule_n_args = na;
        } else if (!strcmp(k, "warmup")) {
            if ((rc = get_i64(c, v, "lr_schedule.warmup", &c->c->warmup))) return rc;
            if (c->c->warmup < 0) return fail(c, v, "lr_schedule.warmup", "must be >= 0");
        } else if ((rc = get_f64(c, v, "lr_schedule.warmup_init", &c->c->warmup_init))) return rc;
    }
    if (!name) return fail(c, n, "lr_schedule", "missing key 'name'");
    if (!args) return fail(c, n, "lr_schedule", "missing key 'arguments'");
    return HONE_OK;
}

static int parse_optcfg(ctx *c, yaml_node_t *n) {
    static const char *const names[] = {"adam", "adamw", "sgd", "muon", "adafactor", NULL};
    static const char *const adam_keys[] = {"betas", "eps", "bias_correction", "learning_rate", NULL};
    static const char *const adamw_keys[] = {"betas", "eps", "bias_correction", "weight_decay", "learning_rate", NULL};
    static const char *const sgd_keys[] = {"momentum", "weight_decay", "dampening", "nesterov", "learning_rate", NULL};
    static const char *const none[] = {NULL};
    int rc = check_map(c, n, "optimizer_config", names);
    if (rc) return rc;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *on = sval(get(c, p->key));
        yaml_node_t *m = get(c, p->value);
        char path[96];
        snprintf(path, sizeof path, "optimizer_config.%s", on);
        if (is_null(m)) continue;
        int k = !strcmp(on, "adam") ? 0 : !strcmp(on, "adamw") ? 1 : !strcmp(on, "sgd") ? 2 : -1;
        if ((rc = check_map(c, m, path, k == 0 ? adam_keys : k == 1 ? adamw_keys : k == 2 ? sgd_keys : none)))
            return rc;
        hone_train_optcfg *o = k >= 0 ? &c->c->opt[k] : NULL;
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
            const char *key = sval(get(c, q->key));
            yaml_node_t *v = get(c, q->value);
            snprintf(path, sizeof path, "optimizer_config.%s.%s", on, key);
            if (!strcmp(key, "betas")) {
                if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top - v->data.sequence.items.start != 2)
                    return fail(c, v, path, "expected a list of two numbers");
                for (int i = 0; i < 2; i++)
                    if ((rc = get_f64(c, get(c, v->data.sequence.items.start[i]), path, &o->betas[i]))) return rc;
            } else if (!strcmp(key, "eps")) rc = get_f64(c, v, path, &o->eps);
            else if (!strcmp(key, "weight_decay")) rc = get_f64(c, v, path, &o->weight_decay);
            else if (!strcmp(key, "momentum")) rc = get_f64(c, v, path, &o->momentum);
            else if (!strcmp(key, "dampening")) rc = get_f64(c, v, path, &o->dampening);
            else if (!strcmp(key, "bias_correction")) rc = get_bool(c, v, path, &o->bias_correction);
            else if (!strcmp(key, "nesterov")) rc = get_bool(c, v, path, &o->nesterov);
            else rc = fail(c, v, path, "set the learning rate with learning_rate or lr_schedule, not here");
            if (rc) return rc;
        }
    }
    return HONE_OK;
}

#define CFG_STR(key, field) {key, 's', offsetof(hone_train_config, field), sizeof(((hone_train_config *)0)->field)}
#define CFG_I64(key, field) {key, 'i', offsetof(hone_train_config, field), 0}
#define CFG_F64(key, field) {key, 'f', offsetof(hone_train_config, field), 0}
#define CFG_BOOL(key, field) {key, 'b', offsetof(hone_train_config, field), 0}
typedef struct cfg_key {
    const char *key;
    char type;
    size_t off, cap;
} cfg_key;

static const cfg_key KEYS[] = {
    CFG_STR("model", model), CFG_STR("data", data), CFG_STR("fine_tune_type", fine_tune_type),
    CFG_STR("optimizer", optimizer), CFG_STR("adapter_path", adapter_path),
    CFG_STR("resume_adapter_file", resume_adapter_file), CFG_BOOL("train", train), CFG_BOOL("test", test),
    CFG_BOOL("mask_prompt", mask_prompt), CFG_BOOL("grad_checkpoint", grad_checkpoint),
    CFG_I64("seed", seed), CFG_I64("num_layers", num_layers), CFG_I64("batch_size", batch_size),
    CFG_I64("iters", iters), CFG_I64("val_batches", val_batches), CFG_F64("learning_rate", learning_rate),
    CFG_I64("steps_per_report", steps_per_report), CFG_I64("steps_per_eval", steps_per_eval),
    CFG_I64("save_every", save_every), CFG_I64("test_batches", test_batches),
    CFG_I64("max_seq_length", max_seq_length), CFG_I64("grad_accumulation_steps", grad_accumulation_steps),
    CFG_STR("prompt_feature", prompt_feature), CFG_STR("completion_feature", completion_feature),
    CFG_STR("text_feature", text_feature), CFG_STR("chat_feature", chat_feature),
    /* hone's own keys (the seed's spellings and hone's flags) */
    CFG_STR("train_data", train_file), CFG_STR("valid_data", valid_file), CFG_STR("test_data", test_file),
    CFG_I64("num_iters", iters), CFG_F64("max_grad_norm", max_grad_norm), CFG_I64("early_stop", early_stop),
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])
/* read and ignored (mlx-lm features hone has no use for) */
static const char *const IGNORED[] = {"report_to", "project_name", "clear_cache_threshold", "trust_remote_code",
                                      "config", NULL};
static const char *const STRUCTURED[] = {"lora_parameters", "lr_schedule", "optimizer_config", "hf_dataset", NULL};

static int parse_root(ctx *c, yaml_node_t *root) {
    const char *allowed[N_KEYS + 16];
    size_t na = 0;
    for (size_t i = 0; i < N_KEYS; i++) allowed[na++] = KEYS[i].key;
    for (int i = 0; IGNORED[i]; i++) allowed[na++] = IGNORED[i];
    for (int i = 0; STRUCTURED[i]; i++) allowed[na++] = STRUCTURED[i];
    allowed[na] = NULL;
    int rc = check_map(c, root, "(top level)", allowed);
    if (rc) return rc;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        const char *k = sval(get(c, p->key));
        yaml_node_t *v = get(c, p->value);
        if (is_null(v)) continue; /* mlx-lm: None leaves the default */
        if (!strcmp(k, "lora_parameters")) rc = parse_lora(c, v);
        else if (!strcmp(k, "lr_schedule")) rc = parse_schedule(c, v);
        else if (!strcmp(k, "optimizer_config")) rc = parse_optcfg(c, v);
        else if (!strcmp(k, "hf_dataset"))
            rc = fail(c, v, k, "Hugging Face datasets are not downloaded by hone: give a local --data DIR");
        else {
            const cfg_key *ck = NULL;
            for (size_t i = 0; i < N_KEYS; i++)
                if (!strcmp(KEYS[i].key, k)) ck = &KEYS[i];
            if (!ck) continue; /* ignored key */
            char *base = (char *)c->c;
            int64_t iv;
            switch (ck->type) {
            case 's': rc = get_str(c, v, k, base + ck->off, ck->cap); break;
            case 'f': rc = get_f64(c, v, k, (double *)(base + ck->off)); break;
            case 'b': rc = get_bool(c, v, k, (int *)(base + ck->off)); break;
            default:
                rc = get_i64(c, v, k, &iv);
                if (rc) break;
                if (!strcmp(k, "num_layers")) {
                    if (iv < -1 || iv == 0 || iv > 1000000) rc = fail(c, v, k, "expected >= 1 or -1 (all)");
                    else c->c->num_layers = (int32_t)iv;
                } else if (!strcmp(k, "seed")) {
                    if (iv < 0) rc = fail(c, v, k, "expected an integer >= 0");
                    else c->c->seed = (uint64_t)iv;
                } else *(int64_t *)(base + ck->off) = iv;
            }
            if (!rc && (!strcmp(k, "train_data") || !strcmp(k, "num_iters"))) c->c->train = 1;
        }
        if (rc) return rc;
    }
    return HONE_OK;
}

int hone_train_config_load_yaml_mem(hone_train_config *cfg, const char *text, size_t len, const char *name,
                                    hone_err *err) {
    ctx c = {.name = name, .err = err, .c = cfg};
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return hone_err_set(err, HONE_ENOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t m = parser.problem_mark;
        int rc = hone_err_set(err, HONE_EFORMAT, "%s:%zu:%zu: YAML: %s%s%s", name, m.line + 1, m.column + 1,
                              parser.problem ? parser.problem : "syntax error", parser.context ? " " : "",
                              parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return rc;
    }
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? parse_root(&c, root) : HONE_OK; /* an empty file changes nothing */
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int hone_train_config_load_yaml(hone_train_config *cfg, const char *path, hone_err *err) {
    char *text = NULL;
    size_t len = 0;
    int rc = hone_file_read_all(path, &text, &len, err);
    if (rc) return rc;
    rc = hone_train_config_load_yaml_mem(cfg, text, len, path, err);
    free(text);
    return rc;
}
