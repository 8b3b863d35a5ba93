/* hfconfig.c: an HF config.json -> hone_model_desc.
 *
 * The architecture comes from model_type (else architectures[0]); a
 * multimodal Gemma3ForConditionalGeneration keeps the text model's keys in a
 * nested text_config, which is read instead of the top level (top-level keys
 * fill in what it lacks, e.g. tie_word_embeddings). Keys that are absent take
 * transformers' defaults for the model type (arch.c); an explicit null means
 * "none" for sliding_window, softcaps and rope_scaling, the default for
 * num_key_value_heads and head_dim (as transformers does), and is an error for
 * every other size. Every size must be an integer within a sane limit (LIM_*
 * below) and their products (heads x head_dim, hidden x vocab, hidden x ffn)
 * must stay within one; a missing model_type is an error even with
 * architectures set (transformers' AutoConfig refuses it too). Errors name the
 * file and the JSON path: `config.json: $.text_config.head_dim: ...`. Sliding layers come from layer_types if present, else from
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

/* Sane limits for the sizes a config may give (a value past one is refused with
 * its JSON path: no hone model needs it, and products of them must not
 * overflow). */
#define LIM_VOCAB (1u << 24)     /* 16.7M tokens; the largest published is 262,208 */
#define LIM_HIDDEN (1u << 18)    /* 262,144; the largest published is 25,600 */
#define LIM_FFN (1u << 20)
#define LIM_HEADS 16384u
#define LIM_HEAD_DIM 65536u
#define LIM_CONTEXT (1u << 30)
#define LIM_QDIM (1u << 20)      /* n_heads * head_dim */
#define LIM_ELEMS (1ull << 36)   /* hidden * vocab, hidden * ffn: one matrix's elements */

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

/* Reads an integer in [lo, hi]; absent keeps *out; null keeps *out when null_ok,
 * else is an error. */
static int cfg_uint(const cfg *c, const char *key, uint32_t *out, uint32_t lo, uint32_t hi, int null_ok) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v || (null_ok && json_is_null(v))) return HONE_OK;
    if (!json_is_integer(v))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: expected an integer %u..%u, got %s", c->name, w, key,
                            lo, hi, json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)lo || x > (json_int_t)hi)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: %lld is out of range (expected %u..%u)", c->name, w,
                            key, (long long)x, lo, hi);
    *out = (uint32_t)x;
    return HONE_OK;
}

/* Reads a number in (lo, hi]; absent keeps *out; null sets null_val when
 * null_val >= 0, else is an error. */
static int cfg_num(const cfg *c, const char *key, float *out, float null_val, double lo, double hi) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v) return HONE_OK;
    if (json_is_null(v) && null_val >= 0) {
        *out = null_val;
        return HONE_OK;
    }
    if (!json_is_number(v))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: expected a number > %g and <= %g, got %s", c->name, w,
                            key, lo, hi, json_kind(v));
    double x = json_number_value(v);
    if (!(x > lo && x <= hi))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: %g is out of range (expected > %g and <= %g)", c->name,
                            w, key, x, lo, hi);
    *out = (float)x;
    return HONE_OK;
}

static int cfg_bool(const cfg *c, const char *key, int *out) {
    const char *w;
    json_t *v = cfg_get(c, key, &w);
    if (!v || json_is_null(v)) return HONE_OK;
    if (!json_is_boolean(v))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: expected true or false, got %s", c->name, w, key,
                            json_kind(v));
    *out = json_is_true(v);
    return HONE_OK;
}

static int parse_rope_scaling(const cfg *c, hone_model_desc *d) {
    const char *w;
    json_t *rs = cfg_get(c, "rope_scaling", &w);
    if (!rs || json_is_null(rs)) return HONE_OK;
    if (!json_is_object(rs))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%srope_scaling: expected an object or null, got %s", c->name,
                            w, json_kind(rs));
    json_t *t = json_object_get(rs, "rope_type");
    if (!t) t = json_object_get(rs, "type");
    if (!json_is_string(t))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%srope_scaling.rope_type: expected a string, got %s", c->name,
                            w, t ? json_kind(t) : "nothing");
    const char *ty = json_string_value(t);
    if (!strcmp(ty, "default")) return HONE_OK;
    if (!strcmp(ty, "linear")) d->rope_scaling = HONE_ROPE_SCALING_LINEAR;
    else if (!strcmp(ty, "llama3")) d->rope_scaling = HONE_ROPE_SCALING_LLAMA3;
    else if (!strcmp(ty, "yarn")) d->rope_scaling = HONE_ROPE_SCALING_YARN;
    else
        return hone_err_set(c->err, HONE_EUNSUPPORTED, "%s: $.%srope_scaling.rope_type: '%s' is not supported (expected default, linear, llama3 or yarn)",
                            c->name, w, ty);
    char pre[64];
    snprintf(pre, sizeof pre, "%srope_scaling.", w);
    cfg sub = {rs, rs, c->name, pre, c->err};
    d->rope_factor = 0;
    int rc;
    if (!json_object_get(rs, "factor"))
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%sfactor: missing (expected a number > 0)", c->name, pre);
    if ((rc = cfg_num(&sub, "factor", &d->rope_factor, -1, 0, 1e6))) return rc;
    if (d->rope_scaling == HONE_ROPE_SCALING_LLAMA3) {
        /* transformers' _compute_llama3_parameters needs all four */
        static const char *need[] = {"low_freq_factor", "high_freq_factor", "original_max_position_embeddings"};
        for (int i = 0; i < 3; i++)
            if (!json_object_get(rs, need[i]))
                return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%s%s: missing (llama3 rope scaling needs it)", c->name,
                                    pre, need[i]);
    }
    if ((rc = cfg_num(&sub, "low_freq_factor", &d->rope_low_freq_factor, -1, 0, 1e6)) ||
        (rc = cfg_num(&sub, "high_freq_factor", &d->rope_high_freq_factor, -1, 0, 1e6)) ||
        (rc = cfg_uint(&sub, "original_max_position_embeddings", &d->rope_orig_context, 1, LIM_CONTEXT, 0)))
        return rc;
    return HONE_OK;
}

static int parse_layer_types(const cfg *c, hone_model_desc *d, int *have) {
    const char *w;
    json_t *lt = cfg_get(c, "layer_types", &w);
    *have = 0;
    if (!lt || json_is_null(lt)) return HONE_OK;
    if (!json_is_array(lt) || json_array_size(lt) != d->n_layers)
        return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%slayer_types: expected an array of %u strings (one per layer)",
                            c->name, w, d->n_layers);
    for (uint32_t i = 0; i < d->n_layers; i++) {
        const char *s = json_string_value(json_array_get(lt, i));
        if (s && !strcmp(s, "sliding_attention")) d->layer_sliding[i] = 1;
        else if (s && !strcmp(s, "full_attention")) d->layer_sliding[i] = 0;
        else
            return hone_err_set(c->err, HONE_EFORMAT, "%s: $.%slayer_types[%u]: expected \"sliding_attention\" or \"full_attention\"",
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
    if (!json_is_object(root))
        return hone_err_set(err, HONE_EFORMAT, "%s: $: expected a JSON object, got %s", name, json_kind(root));
    /* architecture: model_type is required, as transformers' AutoConfig requires it */
    const arch_info *ai = NULL;
    json_t *mt = json_object_get(root, "model_type");
    json_t *archs = json_object_get(root, "architectures");
    const char *cls = json_string_value(json_array_get(archs, 0));
    if (!mt)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.model_type: missing (expected a string such as \"llama\"%s%s%s)",
                            name, cls ? "; architectures names '" : "", cls ? cls : "", cls ? "'" : "");
    if (!json_is_string(mt))
        return hone_err_set(err, HONE_EFORMAT, "%s: $.model_type: expected a string, got %s", name, json_kind(mt));
    ai = arch_by_hf_type(json_string_value(mt));
    if (!ai)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.model_type: architecture '%s'%s%s%s is not supported (hone knows %s)",
                            name, json_string_value(mt), cls ? " (" : "", cls ? cls : "", cls ? ")" : "",
                            arch_known_list());
    cfg c = {root, root, name, "", err};
    json_t *tc = json_object_get(root, "text_config");
    if (tc && !json_is_null(tc)) {
        if (!json_is_object(tc))
            return hone_err_set(err, HONE_EFORMAT, "%s: $.text_config: expected an object, got %s", name, json_kind(tc));
        c.obj = tc;
        c.prefix = "text_config.";
        json_t *tmt = json_object_get(tc, "model_type");
        if (tmt && !json_is_string(tmt))
            return hone_err_set(err, HONE_EFORMAT, "%s: $.text_config.model_type: expected a string, got %s", name,
                                json_kind(tmt));
        if (tmt && arch_by_hf_type(json_string_value(tmt)) != ai)
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.text_config.model_type: '%s' is not supported with model_type '%s' (hone knows %s)",
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
    if ((rc = cfg_uint(&c, "vocab_size", &d->vocab, 1, LIM_VOCAB, 0)) ||
        (rc = cfg_uint(&c, "hidden_size", &d->hidden, 1, LIM_HIDDEN, 0)) ||
        (rc = cfg_uint(&c, "intermediate_size", &d->ffn_hidden, 1, LIM_FFN, 0)) ||
        (rc = cfg_uint(&c, "num_hidden_layers", &d->n_layers, 1, HONE_MODEL_MAX_LAYERS, 0)) ||
        (rc = cfg_uint(&c, "num_attention_heads", &d->n_heads, 1, LIM_HEADS, 0)) ||
        (rc = cfg_uint(&c, "max_position_embeddings", &d->context, 1, LIM_CONTEXT, 0)) ||
        (rc = cfg_num(&c, "rms_norm_eps", &d->rms_eps, -1, 0, 1)) ||
        (rc = cfg_num(&c, "rope_theta", &d->rope_theta, -1, 0, 1e12)) ||
        (rc = cfg_bool(&c, "tie_word_embeddings", &d->tied_embeddings)))
        return rc;
    /* transformers: a null num_key_value_heads or head_dim takes the default */
    d->n_kv_heads = df->kv_heads ? df->kv_heads : d->n_heads;
    const char *w;
    json_t *hd = cfg_get(&c, "head_dim", &w);
    int have_head_dim = (hd && !json_is_null(hd)) || df->head_dim;
    if (!have_head_dim && d->hidden % d->n_heads)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%snum_attention_heads: %u does not divide $.%shidden_size %u (expected a divisor when head_dim is not given)",
                            name, c.prefix, d->n_heads, c.prefix, d->hidden);
    d->head_dim = df->head_dim ? df->head_dim : d->hidden / d->n_heads;
    if ((rc = cfg_uint(&c, "num_key_value_heads", &d->n_kv_heads, 1, LIM_HEADS, 1)) ||
        (rc = cfg_uint(&c, "head_dim", &d->head_dim, 1, LIM_HEAD_DIM, 1)))
        return rc;
    if (d->n_kv_heads > d->n_heads || d->n_heads % d->n_kv_heads)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%snum_key_value_heads: %u kv heads do not divide $.%snum_attention_heads %u",
                            name, c.prefix, d->n_kv_heads, c.prefix, d->n_heads);
    if ((uint64_t)d->n_heads * d->head_dim > LIM_QDIM)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%shead_dim: %u heads x %u = %llu is out of range (expected at most %u)",
                            name, c.prefix, d->n_heads, d->head_dim, (unsigned long long)d->n_heads * d->head_dim,
                            LIM_QDIM);
    if ((uint64_t)d->hidden * d->vocab > LIM_ELEMS)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%svocab_size: %u x hidden size %u = %llu embedding elements is out of range (expected at most %llu)",
                            name, c.prefix, d->vocab, d->hidden, (unsigned long long)d->hidden * d->vocab, LIM_ELEMS);
    if ((uint64_t)d->hidden * d->ffn_hidden > LIM_ELEMS)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%sintermediate_size: %u x hidden size %u = %llu elements is out of range (expected at most %llu)",
                            name, c.prefix, d->ffn_hidden, d->hidden, (unsigned long long)d->hidden * d->ffn_hidden,
                            LIM_ELEMS);
    d->head_dim_v = d->head_dim;
    d->rope_dim = d->head_dim;
    if (d->head_dim % 2)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.%shead_dim: %u is odd (rotary embeddings need an even head size)",
                            name, c.prefix, d->head_dim);
    if (ai->arch == HONE_ARCH_QWEN2 || ai->arch == HONE_ARCH_MISTRAL || ai->arch == HONE_ARCH_LLAMA) {
        int bias = d->qkv_bias;
        if (ai->arch == HONE_ARCH_LLAMA && (rc = cfg_bool(&c, "attention_bias", &bias))) return rc;
        d->qkv_bias = bias;
    }
    if ((rc = cfg_num(&c, "final_logit_softcapping", &d->final_logit_softcap, 0, 0, 1e6)) ||
        (rc = cfg_num(&c, "attn_logit_softcapping", &d->attn_logit_softcap, 0, 0, 1e6)) ||
        (rc = parse_rope_scaling(&c, d)))
        return rc;

    /* sliding window */
    uint32_t sw = df->sliding_window;
    json_t *swv = cfg_get(&c, "sliding_window", &w);
    if (swv && json_is_null(swv)) sw = 0;
    else if ((rc = cfg_uint(&c, "sliding_window", &sw, 0, LIM_CONTEXT, 0))) return rc;
    int fill = 1;
    if (ai->arch == HONE_ARCH_GEMMA3) {
        d->rope_theta_local = df->rope_theta_local;
        d->query_pre_attn_scalar = df->query_pre_attn_scalar;
        if ((rc = cfg_num(&c, "rope_local_base_freq", &d->rope_theta_local, -1, 0, 1e12)) ||
            (rc = cfg_num(&c, "query_pre_attn_scalar", &d->query_pre_attn_scalar, -1, 0, 1e6)))
            return rc;
        d->sliding_pattern = df->sliding_pattern;
        if ((rc = cfg_uint(&c, "_sliding_window_pattern", &d->sliding_pattern, 1, HONE_MODEL_MAX_LAYERS, 1)) ||
            (rc = cfg_uint(&c, "sliding_window_pattern", &d->sliding_pattern, 1, HONE_MODEL_MAX_LAYERS, 1)))
            return rc;
        d->sliding_window = sw;
        int have;
        if ((rc = parse_layer_types(&c, d, &have))) return rc;
        fill = !have;
    } else if (ai->arch == HONE_ARCH_QWEN2) {
        int use = 0;
        uint32_t mwl = 28;
        if ((rc = cfg_bool(&c, "use_sliding_window", &use)) || (rc = cfg_uint(&c, "max_window_layers", &mwl, 0, UINT32_MAX, 1)))
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
