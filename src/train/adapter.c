/* adapter.c: LoRA adapter sets in memory, read from and written to mlx-lm's and
 * PEFT's folders (the layouts are described in include/hone/adapter.h).
 *
 * In memory every pair is A (rank, n_in), B (n_out, rank) f32, PEFT's
 * orientation; MLX files hold the transposes (lora_a = A^T (n_in, rank),
 * lora_b = B^T (rank, n_out)), as mlx-lm's LoRALinear computes
 * (x @ lora_a) @ lora_b. Tensors may be stored F32, F16 or BF16; hone writes F32.
 *
 * Tensor names: after an optional prefix (MLX "model." / "language_model.model.",
 * PEFT "base_model.model." + the same), "layers.N.MODULE.SUFFIX" where MODULE is
 * self_attn.{q,k,v,o}_proj or mlp.{gate,up,down}_proj and SUFFIX lora_a / lora_b
 * (MLX) or lora_A.weight / lora_B.weight (PEFT). Anything else is an error
 * naming the file and the tensor, as are a missing half of a pair, ranks that
 * disagree with the config, and config keys that are missing or of the wrong type
 * (named by JSON path). PEFT features hone does not apply (DoRA, fan_in_fan_out,
 * bias other than "none", per-module rank/alpha patterns) are refused by key.
 *
 * mlx-lm's num_layers counts blocks from the top; an adapter read from PEFT
 * gets num_layers = (highest adapted layer + 1) - lowest, which is right when
 * the top block is adapted (the usual case, and what hone train does).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"
#include "util/fileio.h"

#define MAX_RANK 65536u
#define MAX_LAYERS 4096u

struct hone_adapter {
    hone_adapter_config cfg;
    hone_lora *l; /* (n), ordered by (layer, proj) */
    int64_t n, cap;
};

static const char *const PROJ_NAME[HONE_PROJ_COUNT] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                       "gate_proj", "up_proj", "down_proj"};
static const char *const PROJ_MODULE[HONE_PROJ_COUNT] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

const char *hone_proj_name(int p) { return p >= 0 && p < HONE_PROJ_COUNT ? PROJ_NAME[p] : NULL; }
const char *hone_proj_module(int p) { return p >= 0 && p < HONE_PROJ_COUNT ? PROJ_MODULE[p] : NULL; }

int hone_proj_from_name(const char *name) {
    for (int p = 0; p < HONE_PROJ_COUNT; p++)
        if (!strcmp(name, PROJ_NAME[p]) || !strcmp(name, PROJ_MODULE[p])) return p;
    return -1;
}

int hone_adapter_create(hone_adapter **out, const hone_adapter_config *cfg, hone_err *err) {
    *out = NULL;
    if (!cfg->rank || cfg->rank > MAX_RANK)
        return hone_err_set(err, HONE_EARG, "adapter rank %u is out of range 1..%u", cfg->rank, MAX_RANK);
    hone_adapter *ad = calloc(1, sizeof *ad);
    if (!ad) return hone_err_set(err, HONE_ENOMEM, "out of memory for an adapter");
    ad->cfg = *cfg;
    ad->cfg.fine_tune_type[sizeof ad->cfg.fine_tune_type - 1] = 0;
    ad->cfg.base_model[sizeof ad->cfg.base_model - 1] = 0;
    if (!ad->cfg.fine_tune_type[0]) strcpy(ad->cfg.fine_tune_type, "lora");
    *out = ad;
    return HONE_OK;
}

void hone_adapter_free(hone_adapter *ad) {
    if (!ad) return;
    for (int64_t i = 0; i < ad->n; i++) {
        free(ad->l[i].a);
        free(ad->l[i].b);
    }
    free(ad->l);
    free(ad);
}

const hone_adapter_config *hone_adapter_get_config(const hone_adapter *ad) { return &ad->cfg; }
void hone_adapter_set_scale(hone_adapter *ad, float scale) { ad->cfg.scale = scale; }
int64_t hone_adapter_n(const hone_adapter *ad) { return ad->n; }
hone_lora *hone_adapter_get(hone_adapter *ad, int64_t i) { return i >= 0 && i < ad->n ? &ad->l[i] : NULL; }

static int lora_cmp(uint32_t la, int pa, uint32_t lb, int pb) {
    if (la != lb) return la < lb ? -1 : 1;
    return pa < pb ? -1 : pa > pb;
}

/* Index of (layer, proj), or -(insertion point) - 1. */
static int64_t adapter_search(const hone_adapter *ad, uint32_t layer, int proj) {
    int64_t lo = 0, hi = ad->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = lora_cmp(ad->l[mid].layer, ad->l[mid].proj, layer, proj);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

const hone_lora *hone_adapter_find(const hone_adapter *ad, uint32_t layer, int proj) {
    int64_t i = adapter_search(ad, layer, proj);
    return i >= 0 ? &ad->l[i] : NULL;
}

/* Adds zero-filled (layer, proj) and returns it (NULL and err set on failure). */
static hone_lora *adapter_insert(hone_adapter *ad, uint32_t layer, int proj, int64_t n_in, int64_t n_out,
                                 hone_err *err) {
    if (proj < 0 || proj >= HONE_PROJ_COUNT || layer >= MAX_LAYERS || n_in <= 0 || n_out <= 0 ||
        n_in > (1 << 24) || n_out > (1 << 24)) {
        hone_err_set(err, HONE_EARG, "adapter: layer %u projection %d shape (%lld, %lld) is out of range", layer,
                     proj, (long long)n_out, (long long)n_in);
        return NULL;
    }
    int64_t at = adapter_search(ad, layer, proj);
    if (at >= 0) {
        hone_err_set(err, HONE_EARG, "adapter: layer %u %s is given twice", layer, PROJ_MODULE[proj]);
        return NULL;
    }
    at = -at - 1;
    if (ad->n == ad->cap) {
        int64_t cap = ad->cap ? ad->cap * 2 : 16;
        hone_lora *l = realloc(ad->l, (size_t)cap * sizeof *l);
        if (!l) goto oom;
        ad->l = l;
        ad->cap = cap;
    }
    uint32_t r = ad->cfg.rank;
    float *a = calloc((size_t)r * (size_t)n_in, sizeof *a);
    float *b = calloc((size_t)n_out * r, sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        goto oom;
    }
    memmove(&ad->l[at + 1], &ad->l[at], (size_t)(ad->n - at) * sizeof *ad->l);
    ad->l[at] = (hone_lora){.layer = layer, .proj = proj, .rank = r, .n_in = n_in, .n_out = n_out, .a = a, .b = b};
    ad->n++;
    ad->cfg.keys |= 1u << proj;
    return &ad->l[at];
oom:
    hone_err_set(err, HONE_ENOMEM, "out of memory for an adapter");
    return NULL;
}

int hone_adapter_add(hone_adapter *ad, uint32_t layer, int proj, int64_t n_in, int64_t n_out, const float *a,
                     const float *b, hone_err *err) {
    hone_lora *l = adapter_insert(ad, layer, proj, n_in, n_out, err);
    if (!l) return err ? err->code : HONE_EARG;
    if (a) memcpy(l->a, a, (size_t)l->rank * (size_t)n_in * sizeof *a);
    if (b) memcpy(l->b, b, (size_t)n_out * l->rank * sizeof *b);
    return HONE_OK;
}

/* ---- reading ------------------------------------------------------------ */

static char *path_join(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

typedef struct name_parts {
    uint32_t layer;
    int proj;
    int which; /* 0 = A, 1 = B */
} name_parts;

/* Parses a tensor name of the given format; 0 on success. */
static int parse_name(const char *name, int format, name_parts *np) {
    static const char *const prefixes[] = {"base_model.model.model.", "base_model.model.language_model.model.",
                                           "base_model.model.model.language_model.", "model.language_model.",
                                           "language_model.model.", "model.", ""};
    const char *s = NULL;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(name, prefixes[i], n) && !strncmp(name + n, "layers.", 7)) {
            s = name + n + 7;
            break;
        }
    }
    if (!s || *s < '0' || *s > '9') return -1;
    uint64_t layer = 0;
    while (*s >= '0' && *s <= '9') {
        layer = layer * 10 + (uint64_t)(*s++ - '0');
        if (layer >= MAX_LAYERS) return -1;
    }
    if (*s++ != '.') return -1;
    const char *sa = format == HONE_ADAPTER_MLX ? ".lora_a" : ".lora_A.weight";
    const char *sb = format == HONE_ADAPTER_MLX ? ".lora_b" : ".lora_B.weight";
    size_t len = strlen(s), la = strlen(sa);
    int which;
    if (len > la && !strcmp(s + len - la, sa)) which = 0;
    else if (len > la && !strcmp(s + len - la, sb)) which = 1;
    else return -1;
    char mod[64];
    if (len - la >= sizeof mod) return -1;
    memcpy(mod, s, len - la);
    mod[len - la] = 0;
    int p = -1;
    for (int k = 0; k < HONE_PROJ_COUNT; k++)
        if (!strcmp(mod, PROJ_MODULE[k])) p = k;
    if (p < 0) return -1;
    np->layer = (uint32_t)layer;
    np->proj = p;
    np->which = which;
    return 0;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* obj[key] as a number (required when `required`); JSON path in messages. */
static int cfg_number(json_t *obj, const char *key, const char *path, const char *file, int required, double *out,
                      hone_err *err) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (!required) return 1;
        return hone_err_set(err, HONE_EFORMAT, "%s: %s%s: missing, expected a number", file, path, key);
    }
    if (!json_is_number(v))
        return hone_err_set(err, HONE_EFORMAT, "%s: %s%s: expected a number, found %s", file, path, key,
                            json_kind(v));
    *out = json_number_value(v);
    return HONE_OK;
}

static int cfg_rank(double v, const char *key, const char *path, const char *file, uint32_t *out, hone_err *err) {
    if (!(v >= 1 && v <= MAX_RANK) || v != floor(v))
        return hone_err_set(err, HONE_EFORMAT, "%s: %s%s: expected an integer in 1..%u, found %g", file, path, key,
                            MAX_RANK, v);
    *out = (uint32_t)v;
    return HONE_OK;
}

/* keys / target_modules: a list of module names (or, for PEFT, "all-linear"). */
static int cfg_keys(json_t *v, const char *key, const char *path, const char *file, uint32_t *out, hone_err *err) {
    *out = 0;
    if (json_is_string(v) && !strcmp(json_string_value(v), "all-linear")) {
        *out = (1u << HONE_PROJ_COUNT) - 1;
        return HONE_OK;
    }
    if (!json_is_array(v))
        return hone_err_set(err, HONE_EFORMAT, "%s: %s%s: expected a list of module names, found %s", file, path,
                            key, json_kind(v));
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        int p = json_is_string(e) ? hone_proj_from_name(json_string_value(e)) : -1;
        if (p < 0)
            return hone_err_set(err, HONE_EUNSUPPORTED,
                                "%s: %s%s[%zu]: %s%s%s is not a projection hone adapts (q/k/v/o/gate/up/down_proj)",
                                file, path, key, i, json_is_string(e) ? "\"" : "",
                                json_is_string(e) ? json_string_value(e) : json_kind(e),
                                json_is_string(e) ? "\"" : "");
        *out |= 1u << p;
    }
    return HONE_OK;
}

static int parse_mlx_config(json_t *root, const char *file, hone_adapter_config *c, hone_err *err) {
    json_t *v = json_object_get(root, "fine_tune_type");
    if (v) {
        if (!json_is_string(v))
            return hone_err_set(err, HONE_EFORMAT, "%s: $.fine_tune_type: expected a string, found %s", file,
                                json_kind(v));
        if (strcmp(json_string_value(v), "lora"))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.fine_tune_type: \"%s\" is not supported (only lora)",
                                file, json_string_value(v));
    }
    if (json_is_true(json_object_get(root, "use_dora")))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.use_dora: DoRA adapters are not supported", file);
    strcpy(c->fine_tune_type, "lora");
    double d;
    int rc = cfg_number(root, "num_layers", "$.", file, 1, &d, err);
    if (rc) return rc;
    if (d != floor(d) || d < -1 || d > MAX_LAYERS)
        return hone_err_set(err, HONE_EFORMAT, "%s: $.num_layers: expected an integer >= -1, found %g", file, d);
    c->num_layers = (int32_t)d;
    json_t *lp = json_object_get(root, "lora_parameters");
    if (!lp || !json_is_object(lp))
        return hone_err_set(err, HONE_EFORMAT, "%s: $.lora_parameters: %s, expected an object", file,
                            lp ? json_kind(lp) : "missing");
    if ((rc = cfg_number(lp, "rank", "$.lora_parameters.", file, 1, &d, err)) ||
        (rc = cfg_rank(d, "rank", "$.lora_parameters.", file, &c->rank, err)))
        return rc;
    if ((rc = cfg_number(lp, "scale", "$.lora_parameters.", file, 1, &d, err))) return rc;
    c->scale = (float)d;
    d = 0;
    if ((rc = cfg_number(lp, "dropout", "$.lora_parameters.", file, 0, &d, err)) < 0) return rc;
    c->dropout = (float)d;
    json_t *k = json_object_get(lp, "keys");
    if (k && !json_is_null(k) && (rc = cfg_keys(k, "keys", "$.lora_parameters.", file, &c->keys, err))) return rc;
    return HONE_OK;
}

static int parse_peft_config(json_t *root, const char *file, hone_adapter_config *c, hone_err *err) {
    json_t *v = json_object_get(root, "peft_type");
    if (!v || !json_is_string(v) || strcmp(json_string_value(v), "LORA"))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.peft_type: %s%s%s, expected \"LORA\"", file,
                            v && json_is_string(v) ? "\"" : "",
                            v ? (json_is_string(v) ? json_string_value(v) : json_kind(v)) : "missing",
                            v && json_is_string(v) ? "\"" : "");
    static const char *const refused[] = {"use_dora", "fan_in_fan_out", "lora_bias"};
    for (size_t i = 0; i < 3; i++)
        if (json_is_true(json_object_get(root, refused[i])))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.%s: true is not supported", file, refused[i]);
    v = json_object_get(root, "bias");
    if (v && !(json_is_string(v) && !strcmp(json_string_value(v), "none")))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.bias: only \"none\" is supported", file);
    static const char *const patterns[] = {"rank_pattern", "alpha_pattern"};
    for (size_t i = 0; i < 2; i++) {
        v = json_object_get(root, patterns[i]);
        if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.%s: per-module patterns are not supported", file,
                                patterns[i]);
    }
    v = json_object_get(root, "modules_to_save");
    if (v && !json_is_null(v) && !(json_is_array(v) && json_array_size(v) == 0))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: $.modules_to_save: full modules are not supported", file);
    double r, alpha;
    int rc;
    if ((rc = cfg_number(root, "r", "$.", file, 1, &r, err)) || (rc = cfg_rank(r, "r", "$.", file, &c->rank, err)) ||
        (rc = cfg_number(root, "lora_alpha", "$.", file, 1, &alpha, err)))
        return rc;
    c->use_rslora = json_is_true(json_object_get(root, "use_rslora"));
    c->scale = (float)(c->use_rslora ? alpha / sqrt((double)c->rank) : alpha / (double)c->rank);
    double d = 0;
    if ((rc = cfg_number(root, "lora_dropout", "$.", file, 0, &d, err)) < 0) return rc;
    c->dropout = (float)d;
    v = json_object_get(root, "target_modules");
    if (!v || json_is_null(v))
        return hone_err_set(err, HONE_EFORMAT, "%s: $.target_modules: missing, expected a list of module names",
                            file);
    if ((rc = cfg_keys(v, "target_modules", "$.", file, &c->keys, err))) return rc;
    v = json_object_get(root, "base_model_name_or_path");
    if (v && json_is_string(v)) snprintf(c->base_model, sizeof c->base_model, "%s", json_string_value(v));
    strcpy(c->fine_tune_type, "lora");
    c->num_layers = -1; /* set from the tensors */
    return HONE_OK;
}

/* Copies tensor t (2-D, shape must be rows x cols) into dst, transposing when asked. */
static int read_matrix(hone_st *st, int64_t t, const char *file, uint64_t rows, uint64_t cols, int transpose,
                       float *dst, hone_err *err) {
    const char *name = hone_st_tensor_name(st, t);
    const uint64_t *sh = hone_st_tensor_shape(st, t);
    if (hone_st_tensor_ndim(st, t) != 2 || sh[0] != rows || sh[1] != cols)
        return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: shape is not [%llu, %llu]", file, name,
                            (unsigned long long)rows, (unsigned long long)cols);
    int type = hone_st_dtype_to_ggml(hone_st_tensor_dtype(st, t));
    if (type != HONE_F32 && type != HONE_F16 && type != HONE_BF16)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: tensor %s: dtype %s, expected F32, F16 or BF16", file, name,
                            hone_st_dtype_str(hone_st_tensor_dtype(st, t)));
    float *tmp = transpose ? malloc(rows * cols * sizeof *tmp) : dst;
    if (!tmp) return hone_err_set(err, HONE_ENOMEM, "out of memory reading %s", name);
    int rc = hone_dequantize(type, hone_st_tensor_data(st, t), tmp, rows * cols, err);
    if (!rc && transpose)
        for (uint64_t i = 0; i < rows; i++)
            for (uint64_t j = 0; j < cols; j++) dst[j * rows + i] = tmp[i * cols + j];
    if (transpose) free(tmp);
    return rc;
}

/* Reads the pairs of st into ad. */
static int load_tensors(hone_adapter *ad, hone_st *st, int format, const char *file, hone_err *err) {
    int64_t nt = hone_st_n_tensors(st);
    uint32_t r = ad->cfg.rank;
    /* pass 1: every name parses, every A has its B; create the pairs from A's shape */
    for (int64_t t = 0; t < nt; t++) {
        const char *name = hone_st_tensor_name(st, t);
        name_parts np;
        if (parse_name(name, format, &np))
            return hone_err_set(err, HONE_EFORMAT,
                                "%s: tensor %s: not a LoRA tensor of a known projection (expected "
                                "...layers.N.{self_attn.{q,k,v,o}_proj,mlp.{gate,up,down}_proj}.%s)",
                                file, name, format == HONE_ADAPTER_MLX ? "lora_a|lora_b" : "lora_A|lora_B.weight");
        if (np.which) continue;
        const uint64_t *sh = hone_st_tensor_shape(st, t);
        if (hone_st_tensor_ndim(st, t) != 2)
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: expected 2 dimensions, found %u", file, name,
                                hone_st_tensor_ndim(st, t));
        uint64_t n_in = format == HONE_ADAPTER_MLX ? sh[0] : sh[1], rr = format == HONE_ADAPTER_MLX ? sh[1] : sh[0];
        if (rr != r)
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: rank %llu differs from the config's rank %u", file,
                                name, (unsigned long long)rr, r);
        /* B gives n_out */
        char bname[512];
        size_t len = strlen(name);
        if (len >= sizeof bname) return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: name too long", file, name);
        memcpy(bname, name, len + 1);
        char *mark = strstr(bname, format == HONE_ADAPTER_MLX ? ".lora_a" : ".lora_A.");
        mark[6] = format == HONE_ADAPTER_MLX ? 'b' : 'B';
        int64_t tb = hone_st_find(st, bname);
        if (tb < 0) return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: its pair %s is missing", file, name, bname);
        const uint64_t *shb = hone_st_tensor_shape(st, tb);
        if (hone_st_tensor_ndim(st, tb) != 2)
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: expected 2 dimensions", file, bname);
        uint64_t n_out = format == HONE_ADAPTER_MLX ? shb[1] : shb[0];
        if (n_in < 1 || n_in > (1u << 24) || n_out < 1 || n_out > (1u << 24))
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: size out of range", file, name);
        hone_lora *l = adapter_insert(ad, np.layer, np.proj, (int64_t)n_in, (int64_t)n_out, err);
        if (!l) return err ? err->code : HONE_EFORMAT;
        int rc;
        if (format == HONE_ADAPTER_MLX) {
            if ((rc = read_matrix(st, t, file, n_in, r, 1, l->a, err)) ||
                (rc = read_matrix(st, tb, file, r, n_out, 1, l->b, err)))
                return rc;
        } else {
            if ((rc = read_matrix(st, t, file, r, n_in, 0, l->a, err)) ||
                (rc = read_matrix(st, tb, file, n_out, r, 0, l->b, err)))
                return rc;
        }
    }
    /* every B had an A */
    for (int64_t t = 0; t < nt; t++) {
        name_parts np;
        parse_name(hone_st_tensor_name(st, t), format, &np);
        if (np.which && !hone_adapter_find(ad, np.layer, np.proj))
            return hone_err_set(err, HONE_EFORMAT, "%s: tensor %s: its lora_a/lora_A pair is missing", file,
                                hone_st_tensor_name(st, t));
    }
    if (ad->n == 0) return hone_err_set(err, HONE_EFORMAT, "%s: no LoRA tensors", file);
    return HONE_OK;
}

int hone_adapter_load(hone_adapter **out, const char *dir, int *format, hone_err *err) {
    *out = NULL;
    char *mlx = path_join(dir, "adapters.safetensors"), *peft = path_join(dir, "adapter_model.safetensors");
    char *cfgp = path_join(dir, "adapter_config.json");
    char *text = NULL;
    json_t *root = NULL;
    hone_st *st = NULL;
    hone_adapter *ad = NULL;
    int rc;
    if (!mlx || !peft || !cfgp) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    int fmt = file_exists(mlx) ? HONE_ADAPTER_MLX : file_exists(peft) ? HONE_ADAPTER_PEFT : 0;
    if (!fmt) {
        rc = hone_err_set(err, HONE_ENOTFOUND,
                          "%s: no adapters.safetensors (MLX) or adapter_model.safetensors (PEFT) in this folder", dir);
        goto done;
    }
    const char *wfile = fmt == HONE_ADAPTER_MLX ? mlx : peft;
    size_t len;
    if ((rc = hone_file_read_all(cfgp, &text, &len, err))) goto done;
    json_error_t je;
    root = json_loadb(text, len, 0, &je);
    if (!root || !json_is_object(root)) {
        rc = root ? hone_err_set(err, HONE_EFORMAT, "%s: $: expected an object", cfgp)
                  : hone_err_set(err, HONE_EFORMAT, "%s: byte %d: %s", cfgp, je.position, je.text);
        goto done;
    }
    hone_adapter_config c = {0};
    rc = fmt == HONE_ADAPTER_MLX ? parse_mlx_config(root, cfgp, &c, err) : parse_peft_config(root, cfgp, &c, err);
    if (rc) goto done;
    uint32_t want_keys = c.keys;
    c.keys = 0;
    if ((rc = hone_adapter_create(&ad, &c, err))) goto done;
    if ((rc = hone_st_open(&st, wfile, err)) || (rc = load_tensors(ad, st, fmt, wfile, err))) goto done;
    /* the tensors must be among the configured keys (mlx-lm would not load others) */
    if (want_keys && (ad->cfg.keys & ~want_keys)) {
        for (int p = 0; p < HONE_PROJ_COUNT; p++)
            if ((ad->cfg.keys & ~want_keys) & (1u << p)) {
                rc = hone_err_set(err, HONE_EFORMAT, "%s: tensors for %s, which %s does not list in %s", wfile,
                                  PROJ_MODULE[p], cfgp,
                                  fmt == HONE_ADAPTER_MLX ? "$.lora_parameters.keys" : "$.target_modules");
                goto done;
            }
    }
    if (fmt == HONE_ADAPTER_PEFT) ad->cfg.num_layers = (int32_t)(ad->l[ad->n - 1].layer + 1 - ad->l[0].layer);
    if (format) *format = fmt;
    *out = ad;
    ad = NULL;
    rc = HONE_OK;
done:
    hone_adapter_free(ad);
    if (st) hone_st_close(st);
    json_decref(root);
    free(text);
    free(mlx);
    free(peft);
    free(cfgp);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

static int write_json(json_t *root, const char *path, hone_err *err) {
    char *s = json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (!s) return hone_err_set(err, HONE_ENOMEM, "out of memory writing %s", path);
    hone_wfile w;
    int rc = hone_wfile_open(&w, path, err);
    if (!rc) rc = hone_wfile_write(&w, s, strlen(s), err);
    if (!rc) rc = hone_wfile_write(&w, "\n", 1, err);
    if (!rc) rc = hone_wfile_commit(&w, err);
    else hone_wfile_abort(&w);
    free(s);
    return rc;
}

static json_t *keys_json(uint32_t keys, int module_names) {
    json_t *a = json_array();
    for (int p = 0; p < HONE_PROJ_COUNT; p++)
        if (keys & (1u << p)) json_array_append_new(a, json_string(module_names ? PROJ_MODULE[p] : PROJ_NAME[p]));
    return a;
}

/* Writes the tensors (transposed for MLX) to path. */
static int write_tensors(const hone_adapter *ad, int format, const char *path, hone_err *err) {
    hone_st_writer *w = NULL;
    int rc = hone_st_writer_init(&w, err);
    if (rc) return rc;
    float **bufs = calloc((size_t)ad->n * 2 + 1, sizeof *bufs);
    if (!bufs) {
        hone_st_writer_free(w);
        return hone_err_set(err, HONE_ENOMEM, "out of memory writing %s", path);
    }
    for (int64_t i = 0; i < ad->n && !rc; i++) {
        const hone_lora *l = &ad->l[i];
        uint64_t r = l->rank, ni = (uint64_t)l->n_in, no = (uint64_t)l->n_out;
        char na[256], nb[256];
        const float *a = l->a, *b = l->b;
        uint64_t sa[2], sb[2];
        if (format == HONE_ADAPTER_MLX) {
            snprintf(na, sizeof na, "model.layers.%u.%s.lora_a", l->layer, PROJ_MODULE[l->proj]);
            snprintf(nb, sizeof nb, "model.layers.%u.%s.lora_b", l->layer, PROJ_MODULE[l->proj]);
            float *at = malloc(r * ni * sizeof *at), *bt = malloc(r * no * sizeof *bt);
            bufs[2 * i] = at;
            bufs[2 * i + 1] = bt;
            if (!at || !bt) {
                rc = hone_err_set(err, HONE_ENOMEM, "out of memory writing %s", path);
                break;
            }
            for (uint64_t k = 0; k < r; k++)
                for (uint64_t j = 0; j < ni; j++) at[j * r + k] = a[k * ni + j];
            for (uint64_t o = 0; o < no; o++)
                for (uint64_t k = 0; k < r; k++) bt[k * no + o] = b[o * r + k];
            a = at;
            b = bt;
            sa[0] = ni, sa[1] = r, sb[0] = r, sb[1] = no;
        } else {
            snprintf(na, sizeof na, "base_model.model.model.layers.%u.%s.lora_A.weight", l->layer,
                     PROJ_MODULE[l->proj]);
            snprintf(nb, sizeof nb, "base_model.model.model.layers.%u.%s.lora_B.weight", l->layer,
                     PROJ_MODULE[l->proj]);
            sa[0] = r, sa[1] = ni, sb[0] = no, sb[1] = r;
        }
        if (!rc) rc = hone_st_writer_add_tensor(w, na, HONE_F32, 2, sa, a, err);
        if (!rc) rc = hone_st_writer_add_tensor(w, nb, HONE_F32, 2, sb, b, err);
    }
    if (!rc && format == HONE_ADAPTER_PEFT) rc = hone_st_writer_add_meta(w, "format", "pt", err);
    if (!rc) rc = hone_st_writer_write(w, path, err);
    for (int64_t i = 0; i < 2 * ad->n; i++) free(bufs[i]);
    free(bufs);
    hone_st_writer_free(w);
    return rc;
}

int hone_adapter_save_mlx(const hone_adapter *ad, const char *dir, hone_err *err) {
    char *tp = path_join(dir, "adapters.safetensors"), *cp = path_join(dir, "adapter_config.json");
    int rc = HONE_OK;
    json_t *root = NULL;
    if (!tp || !cp) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    const hone_adapter_config *c = &ad->cfg;
    int32_t nl = c->num_layers;
    if (nl == 0 && ad->n) nl = (int32_t)(ad->l[ad->n - 1].layer + 1 - ad->l[0].layer);
    root = json_object();
    json_t *lp = json_object();
    json_object_set_new(root, "fine_tune_type", json_string("lora"));
    json_object_set_new(root, "num_layers", json_integer(nl));
    json_object_set_new(lp, "rank", json_integer(c->rank));
    json_object_set_new(lp, "scale", json_real(c->scale));
    json_object_set_new(lp, "dropout", json_real(c->dropout));
    json_object_set_new(lp, "keys", keys_json(c->keys, 1));
    json_object_set_new(root, "lora_parameters", lp);
    if ((rc = write_tensors(ad, HONE_ADAPTER_MLX, tp, err))) goto done;
    rc = write_json(root, cp, err);
done:
    json_decref(root);
    free(tp);
    free(cp);
    return rc;
}

int hone_adapter_save_peft(const hone_adapter *ad, const char *dir, hone_err *err) {
    char *tp = path_join(dir, "adapter_model.safetensors"), *cp = path_join(dir, "adapter_config.json");
    int rc = HONE_OK;
    json_t *root = NULL;
    if (!tp || !cp) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    const hone_adapter_config *c = &ad->cfg;
    double alpha = c->use_rslora ? (double)c->scale * sqrt((double)c->rank) : (double)c->scale * c->rank;
    root = json_object();
    json_object_set_new(root, "peft_type", json_string("LORA"));
    json_object_set_new(root, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(root, "base_model_name_or_path", c->base_model[0] ? json_string(c->base_model) : json_null());
    json_object_set_new(root, "r", json_integer(c->rank));
    json_object_set_new(root, "lora_alpha", json_real(alpha));
    json_object_set_new(root, "lora_dropout", json_real(c->dropout));
    json_object_set_new(root, "target_modules", keys_json(c->keys, 0));
    json_t *layers = json_array();
    for (int64_t i = 0; i < ad->n; i++)
        if (!i || ad->l[i].layer != ad->l[i - 1].layer) json_array_append_new(layers, json_integer(ad->l[i].layer));
    json_object_set_new(root, "layers_to_transform", layers);
    json_object_set_new(root, "bias", json_string("none"));
    json_object_set_new(root, "use_rslora", json_boolean(c->use_rslora));
    json_object_set_new(root, "use_dora", json_false());
    json_object_set_new(root, "fan_in_fan_out", json_false());
    json_object_set_new(root, "inference_mode", json_true());
    json_object_set_new(root, "init_lora_weights", json_true());
    json_object_set_new(root, "modules_to_save", json_null());
    if ((rc = write_tensors(ad, HONE_ADAPTER_PEFT, tp, err))) goto done;
    rc = write_json(root, cp, err);
done:
    json_decref(root);
    free(tp);
    free(cp);
    return rc;
}
