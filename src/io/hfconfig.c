/* hfconfig.c: an HF config.json -> hone_model_desc.
 *
 * The architecture comes from model_type (else architectures[0]); a
 * multimodal Gemma3ForConditionalGeneration keeps the text model's keys in a
 * nested text_config, which is read instead of the top level (top-level keys
 * fill in what it lacks, e.g. tie_word_embeddings). Keys that are absent take
 * transformers' defaults for the model type (arch.c); an explicit null means
 * "none" for sliding_window, softcaps and rope_scaling, and the default for
 * everything else. Wrong types and out-of-range values are errors naming the
 * JSON path. Sliding layers come from layer_types if present, else from
 * sliding_window_pattern / _sliding_window_pattern (gemma3: layer i slides
 * unless (i+1) % pattern == 0), else (mistral, qwen2 with use_sliding_window)
 * from the window alone.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "util/err.h"
#include "util/fileio.h"

typedef struct cfg {
    json_t *obj;    /* text_config or the root */
    json_t *root;
    const char *name;   /* file, for messages */
    const char *prefix; /* "text_config." or "" */
    hone_err *err;
} cfg;

/* The value of key: in obj, else (for nested configs) at the root. NULL if absent. */
static json_t *cfg_get(const cfg *c, const char *key, const char **where) {
    json_t *v = json_object_get(c->obj, key);
    *where = c->prefix;
    if (!v && c->obj != c->root) {
        v = json_object_get(c->root, key);
        *where = "";
    }
    return v;
}

/* Reads an unsigned count; absent or null keeps *out. */
static int cfg_u32(const cfg *c, const char *key, uint32_t *out) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v || json_is_null(v)) return HONE_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (json_int_t)UINT32_MAX)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %s%s: expected a non-negative integer", c->name, w, key);
    *out = (uint32_t)json_integer_value(v);
    return HONE_OK;
}

/* Reads a number; absent keeps *out; null sets null_val when null_val >= 0. */
static int cfg_f32(const cfg *c, const char *key, float *out, float null_val) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v) return HONE_OK;
    if (json_is_null(v)) {
        if (null_val >= 0) *out = null_val;
        return HONE_OK;
    }
    if (!json_is_number(v))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %s%s: expected a number", c->name, w, key);
    *out = (float)json_number_value(v);
    return HONE_OK;
}

static int cfg_bool(const cfg *c, const char *key, int *out) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v || json_is_null(v)) return HONE_OK;
    if (!json_is_boolean(v))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %s%s: expected true or false", c->name, w, key);
    *out = json_is_true(v);
    return HONE_OK;
}

static int parse_rope_scaling(const cfg *c, hone_model_desc *d) {
    const char *w;
    json_t *rs = cfg_get(c, "rope_scaling", &w);
    if (!rs || json_is_null(rs)) return HONE_OK;
    if (!json_is_object(rs))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %srope_scaling: expected an object or null", c->name, w);
    json_t *t = json_object_get(rs, "rope_type");
    if (!t) t = json_object_get(rs, "type");
    if (!json_is_string(t))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %srope_scaling.rope_type: expected a string", c->name, w);
    const char *ty = json_string_value(t);
    if (!strcmp(ty, "default")) return HONE_OK;
    if (!strcmp(ty, "linear")) d->rope_scaling = HONE_ROPE_SCALING_LINEAR;
    else if (!strcmp(ty, "llama3")) d->rope_scaling = HONE_ROPE_SCALING_LLAMA3;
    else if (!strcmp(ty, "yarn")) d->rope_scaling = HONE_ROPE_SCALING_YARN;
    else
        return hone_err_set(c->err, HONE_EUNSUPPORTED, "%s: %srope_scaling.rope_type: '%s' is not supported (expected default, linear, llama3 or yarn)",
                            c->name, w, ty);
    cfg sub = {rs, rs, c->name, "rope_scaling.", c->err};
    d->rope_factor = 0;
    int rc;
    if ((rc = cfg_f32(&sub, "factor", &d->rope_factor, -1))) return rc;
    if (!(d->rope_factor > 0))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %srope_scaling.factor: expected a number > 0", c->name, w);
    if (d->rope_scaling == HONE_ROPE_SCALING_LLAMA3) {
        d->rope_low_freq_factor = 1.0f; /* transformers' _compute_llama3_parameters needs all four */
        d->rope_high_freq_factor = 4.0f;
        json_t *o = json_object_get(rs, "original_max_position_embeddings");
        if (!json_is_integer(o) || !json_is_number(json_object_get(rs, "low_freq_factor")) ||
            !json_is_number(json_object_get(rs, "high_freq_factor")))
            return hone_err_set(c->err, HONE_EFORMAT, "%s: %srope_scaling: llama3 needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings",
                                c->name, w);
    }
    if ((rc = cfg_f32(&sub, "low_freq_factor", &d->rope_low_freq_factor, -1)) ||
        (rc = cfg_f32(&sub, "high_freq_factor", &d->rope_high_freq_factor, -1)) ||
        (rc = cfg_u32(&sub, "original_max_position_embeddings", &d->rope_orig_context)))
        return rc;
    return HONE_OK;
}

static int parse_layer_types(const cfg *c, hone_model_desc *d, int *have) {
    const char *w;
    json_t *lt = cfg_get(c, "layer_types", &w);
    *have = 0;
    if (!lt || json_is_null(lt)) return HONE_OK;
    if (!json_is_array(lt) || json_array_size(lt) != d->n_layers)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: %slayer_types: expected an array of %u strings (one per layer)",
                            c->name, w, d->n_layers);
    for (uint32_t i = 0; i < d->n_layers; i++) {
        const char *s = json_string_value(json_array_get(lt, i));
        if (s && !strcmp(s, "sliding_attention")) d->layer_sliding[i] = 1;
        else if (s && !strcmp(s, "full_attention")) d->layer_sliding[i] = 0;
        else
            return hone_err_set(c->err, HONE_EFORMAT, "%s: %slayer_types[%u]: expected \"sliding_attention\" or \"full_attention\"",
                                c->name, w, i);
    }
    /* describe the layout as a period when it has one: full layers exactly every P-th */
    uint32_t p = 0;
    for (uint32_t i = 0; i < d->n_layers && !p; i++)
        if (!d->layer_sliding[i]) p = i + 1;
    d->sliding_pattern = 0;
    if (p > 1) {
        int ok = 1;
        for (uint32_t i = 0; i < d->n_layers && ok; i++) ok = d->layer_sliding[i] == ((i + 1) % p != 0);
        if (ok) d->sliding_pattern = p;
    }
    *have = 1;
    return HONE_OK;
}

static int from_json(hone_model_desc *d, json_t *root, const char *name, hone_err *err) {
    memset(d, 0, sizeof *d);
    if (!json_is_object(root)) return hone_err_set(err, HONE_EFORMAT, "%s: expected a JSON object", name);
    /* architecture */
    const arch_info *ai = NULL;
    json_t *mt = json_object_get(root, "model_type");
    json_t *archs = json_object_get(root, "architectures");
    const char *cls = json_string_value(json_array_get(archs, 0));
    if (mt && !json_is_string(mt)) return hone_err_set(err, HONE_EFORMAT, "%s: model_type: expected a string", name);
    if (mt) ai = arch_by_hf_type(json_string_value(mt));
    else if (cls) ai = arch_by_hf_class(cls);
    else return hone_err_set(err, HONE_EFORMAT, "%s: neither model_type nor architectures is set", name);
    if (!ai)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: architecture '%s'%s%s%s is not supported (hone knows %s)",
                            name, mt ? json_string_value(mt) : cls, mt && cls ? " (" : "",
                            mt && cls ? cls : "", mt && cls ? ")" : "", arch_known_list());
    cfg c = {root, root, name, "", err};
    json_t *tc = json_object_get(root, "text_config");
    if (tc && !json_is_null(tc)) {
        if (!json_is_object(tc)) return hone_err_set(err, HONE_EFORMAT, "%s: text_config: expected an object", name);
        c.obj = tc;
        c.prefix = "text_config.";
        json_t *tmt = json_object_get(tc, "model_type");
        if (json_is_string(tmt) && arch_by_hf_type(json_string_value(tmt)) != ai)
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: text_config.model_type '%s' is not supported with model_type '%s' (hone knows %s)",
                                name, json_string_value(tmt), json_string_value(mt), arch_known_list());
    }
    const arch_hf_defaults *df = &ai->hf;
    d->arch = ai->arch;
    d->source = HONE_SOURCE_HF;
    d->act = ai->act;
    d->qk_norm = ai->qk_norm;
    d->post_norms = ai->post_norms;
    d->embed_scale = ai->embed_scale;
    d->qkv_bias = ai->qkv_bias;
    d->norm_add = ai->hf_norm_add;
    d->vocab = df->vocab;
    d->hidden = df->hidden;
    d->ffn_hidden = df->ffn;
    d->n_layers = df->layers;
    d->n_heads = df->heads;
    d->context = df->context;
    d->rms_eps = df->rms_eps;
    d->rope_theta = df->rope_theta;
    d->tied_embeddings = df->tie;
    int rc;
    if ((rc = cfg_u32(&c, "vocab_size", &d->vocab)) || (rc = cfg_u32(&c, "hidden_size", &d->hidden)) ||
        (rc = cfg_u32(&c, "intermediate_size", &d->ffn_hidden)) ||
        (rc = cfg_u32(&c, "num_hidden_layers", &d->n_layers)) ||
        (rc = cfg_u32(&c, "num_attention_heads", &d->n_heads)) ||
        (rc = cfg_u32(&c, "max_position_embeddings", &d->context)) ||
        (rc = cfg_f32(&c, "rms_norm_eps", &d->rms_eps, -1)) ||
        (rc = cfg_f32(&c, "rope_theta", &d->rope_theta, -1)) ||
        (rc = cfg_bool(&c, "tie_word_embeddings", &d->tied_embeddings)))
        return rc;
    if (d->n_heads == 0) return hone_err_set(err, HONE_EFORMAT, "%s: %snum_attention_heads: expected > 0", name, c.prefix);
    if (d->n_layers > HONE_MODEL_MAX_LAYERS)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: %snum_hidden_layers: %u layers, at most %d supported",
                            name, c.prefix, d->n_layers, HONE_MODEL_MAX_LAYERS);
    d->n_kv_heads = df->kv_heads ? df->kv_heads : d->n_heads;
    d->head_dim = df->head_dim ? df->head_dim : d->hidden / d->n_heads;
    if ((rc = cfg_u32(&c, "num_key_value_heads", &d->n_kv_heads)) || (rc = cfg_u32(&c, "head_dim", &d->head_dim)))
        return rc;
    d->head_dim_v = d->head_dim;
    d->rope_dim = d->head_dim;
    if (ai->arch == HONE_ARCH_QWEN2 || ai->arch == HONE_ARCH_MISTRAL || ai->arch == HONE_ARCH_LLAMA) {
        int bias = d->qkv_bias;
        if (ai->arch == HONE_ARCH_LLAMA && (rc = cfg_bool(&c, "attention_bias", &bias))) return rc;
        d->qkv_bias = bias;
    }
    if ((rc = cfg_f32(&c, "final_logit_softcapping", &d->final_logit_softcap, 0)) ||
        (rc = cfg_f32(&c, "attn_logit_softcapping", &d->attn_logit_softcap, 0)) ||
        (rc = parse_rope_scaling(&c, d)))
        return rc;

    /* sliding window */
    uint32_t sw = df->sliding_window;
    const char *w;
    json_t *swv = cfg_get(&c, "sliding_window", &w);
    if (swv && json_is_null(swv)) sw = 0;
    else if ((rc = cfg_u32(&c, "sliding_window", &sw))) return rc;
    int fill = 1;
    if (ai->arch == HONE_ARCH_GEMMA3) {
        d->rope_theta_local = df->rope_theta_local;
        d->query_pre_attn_scalar = df->query_pre_attn_scalar;
        if ((rc = cfg_f32(&c, "rope_local_base_freq", &d->rope_theta_local, -1)) ||
            (rc = cfg_f32(&c, "query_pre_attn_scalar", &d->query_pre_attn_scalar, -1)))
            return rc;
        d->sliding_pattern = df->sliding_pattern;
        if ((rc = cfg_u32(&c, "_sliding_window_pattern", &d->sliding_pattern)) ||
            (rc = cfg_u32(&c, "sliding_window_pattern", &d->sliding_pattern)))
            return rc;
        d->sliding_window = sw;
        int have;
        if ((rc = parse_layer_types(&c, d, &have))) return rc;
        fill = !have;
    } else if (ai->arch == HONE_ARCH_QWEN2) {
        int use = 0;
        uint32_t mwl = 28;
        if ((rc = cfg_bool(&c, "use_sliding_window", &use)) || (rc = cfg_u32(&c, "max_window_layers", &mwl)))
            return rc;
        d->sliding_window = use ? sw : 0;
        int have;
        if ((rc = parse_layer_types(&c, d, &have))) return rc;
        if (!have) /* transformers: layers from max_window_layers on use the window */
            for (uint32_t i = 0; i < d->n_layers; i++) d->layer_sliding[i] = d->sliding_window && i >= mwl;
        fill = 0;
    } else if (ai->arch == HONE_ARCH_MISTRAL) {
        d->sliding_window = sw;
    } else {
        d->sliding_window = 0;
    }
    if (!fill && !d->sliding_window) memset(d->layer_sliding, 0, sizeof d->layer_sliding);
    return desc_finish(d, name, fill, err);
}

int hone_model_desc_from_hf_json(hone_model_desc *d, const char *json, size_t len, const char *name,
                                 hone_err *err) {
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!name) name = "config.json";
    if (!root) {
        memset(d, 0, sizeof *d);
        return hone_err_set(err, HONE_EFORMAT, "%s: JSON line %d column %d: %s", name, je.line, je.column, je.text);
    }
    int rc = from_json(d, root, name, err);
    json_decref(root);
    return rc;
}

int hone_model_desc_from_hf_config(hone_model_desc *d, const char *path, hone_err *err) {
    char *text;
    size_t len;
    int rc = hone_file_read_all(path, &text, &len, err);
    if (rc) {
        memset(d, 0, sizeof *d);
        return rc;
    }
    rc = hone_model_desc_from_hf_json(d, text, len, path, err);
    free(text);
    return rc;
}
