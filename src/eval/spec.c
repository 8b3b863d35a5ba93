/* spec.c: the A/B experiment file (YAML) -> a validated hone_ab_spec.
 *
 * libyaml loads the whole document into a node graph; we walk it with the key path in
 * hand, so every error is "FILE:LINE: key.path[i]: what was expected" with the line of the
 * offending node (libyaml's start mark). Unknown and duplicate keys are errors. Files the
 * spec names (kernels, rubrics, probe JSONL) are read here, relative to the spec's folder;
 * probe lines are parsed with jansson and their errors carry FILE:LINE:COLUMN. The format
 * is documented in include/hone/ab.h.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "util/err.h"
#include "util/fileio.h"

typedef struct ctx {
    const char *name; /* spec file, for messages */
    const char *dir;
    yaml_document_t *doc;
    hone_err *err;
    hone_ab_spec *s;
} ctx;

static const char *const MODES[] = {"none", "system", "prefix", "postfix", "sandwich"};
#define N_MODES 5

/* ---- helpers ------------------------------------------------------------------------ */

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

static const char *kind_name(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int nomem(ctx *c) { return hone_err_set(c->err, HONE_ENOMEM, "%s: out of memory", c->name); }

/* A non-empty string scalar, copied. */
static int get_str(ctx *c, yaml_node_t *n, const char *path, char **out) {
    if (n->type != YAML_SCALAR_NODE) return fail(c, n, path, "expected a string, got %s", kind_name(n));
    if (is_null(n) || n->data.scalar.length == 0) return fail(c, n, path, "expected a non-empty string");
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail(c, n, path, "string contains a NUL byte");
    free(*out);
    *out = xstrdup((const char *)n->data.scalar.value);
    return *out ? HONE_OK : nomem(c);
}

static int get_i64(ctx *c, yaml_node_t *n, const char *path, int64_t lo, int64_t hi, int64_t *out) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || is_null(n))
        return fail(c, n, path, "expected an integer");
    const char *v = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno) return fail(c, n, path, "'%s' is not an integer", v);
    if (x < lo || x > hi)
        return fail(c, n, path, "%lld is out of range [%lld, %lld]", x, (long long)lo, (long long)hi);
    *out = x;
    return HONE_OK;
}

static int get_u64(ctx *c, yaml_node_t *n, const char *path, uint64_t *out) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || is_null(n))
        return fail(c, n, path, "expected an integer");
    const char *v = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-')
        return fail(c, n, path, "'%s' is not an integer in [0, 2^64)", v);
    *out = x;
    return HONE_OK;
}

static int get_f64(ctx *c, yaml_node_t *n, const char *path, double lo, double hi, int lo_open,
                   double *out) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || is_null(n))
        return fail(c, n, path, "expected a number");
    const char *v = (const char *)n->data.scalar.value;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x)) return fail(c, n, path, "'%s' is not a number", v);
    if (x < lo || x > hi || (lo_open && x == lo))
        return fail(c, n, path, "%g is out of range %c%g, %g]", x, lo_open ? '(' : '[', lo, hi);
    *out = x;
    return HONE_OK;
}

/* Checks n is a mapping whose keys are all in `allowed` (NULL-terminated) and unique. */
static int check_map(ctx *c, yaml_node_t *n, const char *path, const char *const *allowed) {
    if (n->type != YAML_MAPPING_NODE) return fail(c, n, path, "expected a mapping, got %s", kind_name(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get(c, p->key);
        if (k->type != YAML_SCALAR_NODE) return fail(c, k, path, "keys must be strings");
        const char *key = (const char *)k->data.scalar.value;
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= !strcmp(*a, key);
        if (!ok) {
            char list[400] = "";
            for (const char *const *a = allowed; *a; a++) {
                if (a != allowed) strncat(list, ", ", sizeof list - strlen(list) - 1);
                strncat(list, *a, sizeof list - strlen(list) - 1);
            }
            return fail(c, k, path, "unknown key '%s' (expected one of %s)", key, list);
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++)
            if (!strcmp((const char *)get(c, q->key)->data.scalar.value, key))
                return fail(c, k, path, "duplicate key '%s'", key);
    }
    return HONE_OK;
}

/* The value of `key` in a checked mapping, or NULL. */
static yaml_node_t *map_get(ctx *c, yaml_node_t *n, const char *key) {
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
        if (!strcmp((const char *)get(c, p->key)->data.scalar.value, key)) return get(c, p->value);
    return NULL;
}

static int resolve(ctx *c, const char *rel, char **out) {
    if (rel[0] == '/' || !c->dir || !*c->dir) {
        *out = xstrdup(rel);
    } else {
        size_t n = strlen(c->dir) + strlen(rel) + 2;
        *out = malloc(n);
        if (*out) snprintf(*out, n, "%s/%s", c->dir, rel);
    }
    return *out ? HONE_OK : nomem(c);
}

/* Reads a file the spec names; an error names the spec line and key as well. */
static int read_named(ctx *c, yaml_node_t *n, const char *path, const char *file, char **text,
                      size_t *len) { /* e.msg names the file */
    hone_err e = {0};
    size_t l = 0;
    int rc = hone_file_read_all(file, text, &l, &e);
    if (rc) return hone_err_set(c->err, rc, "%s:%d: %s: %s", c->name, node_line(n), path,
                                e.msg);
    if (len) *len = l;
    return HONE_OK;
}

/* ---- sections ----------------------------------------------------------------------- */

static int parse_sampling(ctx *c, yaml_node_t *n, const char *path, hone_ab_sampling *s) {
    static const char *const keys[] = {"temperature", "top_p", "max_tokens", "seed", NULL};
    int rc = check_map(c, n, path, keys);
    if (rc) return rc;
    char p[256];
    yaml_node_t *v;
    if ((v = map_get(c, n, "temperature"))) {
        snprintf(p, sizeof p, "%s.temperature", path);
        if ((rc = get_f64(c, v, p, 0, 100, 0, &s->temperature))) return rc;
    }
    if ((v = map_get(c, n, "top_p"))) {
        snprintf(p, sizeof p, "%s.top_p", path);
        if ((rc = get_f64(c, v, p, 0, 1, 1, &s->top_p))) return rc;
    }
    if ((v = map_get(c, n, "max_tokens"))) {
        snprintf(p, sizeof p, "%s.max_tokens", path);
        if ((rc = get_i64(c, v, p, 1, 1 << 24, &s->max_tokens))) return rc;
    }
    if ((v = map_get(c, n, "seed"))) {
        snprintf(p, sizeof p, "%s.seed", path);
        if ((rc = get_u64(c, v, p, &s->seed))) return rc;
    }
    return HONE_OK;
}

static void model_free(hone_ab_model *m) {
    free(m->id); free(m->path); free(m->adapter); free(m->name); free(m->url); free(m->api_key_env);
}

/* `sampling` must already hold the spec-wide values (overrides apply on top). */
static int parse_model(ctx *c, yaml_node_t *n, const char *path, int need_id, hone_ab_model *m) {
    static const char *const keys[] = {"id", "path", "adapter", "ollama", "openai", "num_ctx",
                                       "sampling", NULL};
    int rc = check_map(c, n, path, keys);
    if (rc) return rc;
    char p[256];
    m->line = node_line(n);
    yaml_node_t *v = map_get(c, n, "id");
    if (v) {
        snprintf(p, sizeof p, "%s.id", path);
        if ((rc = get_str(c, v, p, &m->id))) return rc;
    } else if (need_id) {
        return fail(c, n, path, "missing key 'id'");
    }
    yaml_node_t *vp = map_get(c, n, "path"), *vo = map_get(c, n, "ollama"), *va = map_get(c, n, "openai");
    int nb = !!vp + !!vo + !!va;
    if (nb != 1)
        return fail(c, n, path, "needs exactly one of path, ollama, openai (found %d)", nb);
    if ((v = map_get(c, n, "adapter")) && !vp)
        return fail(c, v, path, "'adapter' is only for an in-process model (path)");
    if (vp) {
        m->backend = HONE_AB_LOCAL;
        char *rel = NULL;
        snprintf(p, sizeof p, "%s.path", path);
        if ((rc = get_str(c, vp, p, &rel))) return rc;
        rc = resolve(c, rel, &m->path);
        free(rel);
        if (rc) return rc;
        if (v) {
            rel = NULL;
            snprintf(p, sizeof p, "%s.adapter", path);
            if ((rc = get_str(c, v, p, &rel))) return rc;
            rc = resolve(c, rel, &m->adapter);
            free(rel);
            if (rc) return rc;
        }
    } else {
        int ol = vo != NULL;
        yaml_node_t *b = ol ? vo : va;
        static const char *const okeys[] = {"name", "url", NULL};
        static const char *const akeys[] = {"name", "url", "api_key_env", NULL};
        char bp[200];
        snprintf(bp, sizeof bp, "%s.%s", path, ol ? "ollama" : "openai");
        if ((rc = check_map(c, b, bp, ol ? okeys : akeys))) return rc;
        m->backend = ol ? HONE_AB_OLLAMA : HONE_AB_OPENAI;
        if (!(v = map_get(c, b, "name"))) return fail(c, b, bp, "missing key 'name'");
        snprintf(p, sizeof p, "%s.name", bp);
        if ((rc = get_str(c, v, p, &m->name))) return rc;
        if ((v = map_get(c, b, "url"))) {
            snprintf(p, sizeof p, "%s.url", bp);
            if ((rc = get_str(c, v, p, &m->url))) return rc;
            if (strncmp(m->url, "http://", 7) && strncmp(m->url, "https://", 8))
                return fail(c, v, p, "'%s' is not an http:// or https:// URL", m->url);
        } else if (ol) {
            m->url = xstrdup("http://127.0.0.1:11434");
            if (!m->url) return nomem(c);
        } else {
            return fail(c, b, bp, "missing key 'url'");
        }
        if (!ol && (v = map_get(c, b, "api_key_env"))) {
            snprintf(p, sizeof p, "%s.api_key_env", bp);
            if ((rc = get_str(c, v, p, &m->api_key_env))) return rc;
        }
    }
    if ((v = map_get(c, n, "num_ctx"))) {
        snprintf(p, sizeof p, "%s.num_ctx", path);
        if ((rc = get_i64(c, v, p, 1, 1 << 24, &m->num_ctx))) return rc;
    }
    if ((v = map_get(c, n, "sampling"))) {
        snprintf(p, sizeof p, "%s.sampling", path);
        if ((rc = parse_sampling(c, v, p, &m->sampling))) return rc;
    }
    return HONE_OK;
}

static int find_kernel(const hone_ab_spec *s, const char *name) {
    for (size_t i = 0; i < s->n_kernels; i++)
        if (!strcmp(s->kernels[i].name, name)) return (int)i;
    return -1;
}

static int parse_kernels(ctx *c, yaml_node_t *n) {
    hone_ab_spec *s = c->s;
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "kernels", "expected a mapping NAME: FILE, got %s", kind_name(n));
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    s->kernels = calloc(cnt ? cnt : 1, sizeof *s->kernels);
    if (!s->kernels) return nomem(c);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = get(c, p->key), *v = get(c, p->value);
        if (k->type != YAML_SCALAR_NODE || is_null(k))
            return fail(c, k, "kernels", "kernel names must be non-empty strings");
        const char *name = (const char *)k->data.scalar.value;
        if (find_kernel(s, name) >= 0) return fail(c, k, "kernels", "duplicate kernel '%s'", name);
        hone_ab_kernel *kn = &s->kernels[s->n_kernels++];
        char path[256], *rel = NULL;
        snprintf(path, sizeof path, "kernels.%s", name);
        if (!(kn->name = xstrdup(name))) return nomem(c);
        int rc = get_str(c, v, path, &rel);
        if (rc) return rc;
        rc = resolve(c, rel, &kn->path);
        free(rel);
        if (rc) return rc;
        if ((rc = read_named(c, v, path, kn->path, &kn->text, &kn->text_len))) return rc;
        if (strlen(kn->text) != kn->text_len)
            return fail(c, v, path, "'%s' contains a NUL byte (not a text file?)", kn->path);
    }
    return HONE_OK;
}

static int parse_kernel_ref(ctx *c, yaml_node_t *v, const char *path, int *out) {
    char *name = NULL;
    int rc = get_str(c, v, path, &name);
    if (rc) return rc;
    int k = find_kernel(c->s, name);
    if (k < 0) rc = fail(c, v, path, "no kernel named '%s' in kernels", name);
    free(name);
    *out = k;
    return rc;
}

static int parse_conditions(ctx *c, yaml_node_t *n) {
    hone_ab_spec *s = c->s;
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "conditions", "expected a list, got %s", kind_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!cnt) return fail(c, n, "conditions", "needs at least one condition");
    s->conditions = calloc(cnt, sizeof *s->conditions);
    if (!s->conditions) return nomem(c);
    static const char *const keys[] = {"id", "mode", "kernel", "kernel_b", "reminder", NULL};
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *cn = get(c, n->data.sequence.items.start[i]);
        hone_ab_condition *cd = &s->conditions[s->n_conditions++];
        cd->kernel = cd->kernel_b = -1;
        char path[64], p[128];
        snprintf(path, sizeof path, "conditions[%zu]", i);
        int rc = check_map(c, cn, path, keys);
        if (rc) return rc;
        yaml_node_t *v;
        if (!(v = map_get(c, cn, "id"))) return fail(c, cn, path, "missing key 'id'");
        snprintf(p, sizeof p, "%s.id", path);
        if ((rc = get_str(c, v, p, &cd->id))) return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->conditions[j].id, cd->id)) return fail(c, v, p, "duplicate condition id '%s'", cd->id);
        if (!(v = map_get(c, cn, "mode"))) return fail(c, cn, path, "missing key 'mode'");
        snprintf(p, sizeof p, "%s.mode", path);
        if ((rc = get_str(c, v, p, &cd->mode))) return rc;
        int mode = -1;
        for (int m = 0; m < N_MODES; m++)
            if (!strcmp(MODES[m], cd->mode)) mode = m;
        if (mode < 0)
            return fail(c, v, p, "'%s' is not one of none, system, prefix, postfix, sandwich", cd->mode);
        yaml_node_t *vk = map_get(c, cn, "kernel"), *vb = map_get(c, cn, "kernel_b"),
                    *vr = map_get(c, cn, "reminder");
        if (mode == 0 && vk) return fail(c, vk, path, "mode none takes no kernel");
        if (mode != 0 && !vk) return fail(c, cn, path, "mode %s needs a 'kernel'", cd->mode);
        if (mode != 4 && vb) return fail(c, vb, path, "'kernel_b' is only for mode sandwich");
        if (mode != 4 && vr) return fail(c, vr, path, "'reminder' is only for mode sandwich");
        if (vk) {
            snprintf(p, sizeof p, "%s.kernel", path);
            if ((rc = parse_kernel_ref(c, vk, p, &cd->kernel))) return rc;
        }
        if (vb) {
            snprintf(p, sizeof p, "%s.kernel_b", path);
            if ((rc = parse_kernel_ref(c, vb, p, &cd->kernel_b))) return rc;
        }
        if (vr) {
            snprintf(p, sizeof p, "%s.reminder", path);
            if ((rc = get_str(c, vr, p, &cd->reminder))) return rc;
        }
    }
    return HONE_OK;
}

/* One probe file. Errors: FILE:LINE:COLUMN. */
static int load_probe_file(ctx *c, yaml_node_t *at, const char *path, const char *file) {
    hone_ab_spec *s = c->s;
    char *text = NULL;
    size_t len = 0;
    int rc = read_named(c, at, path, file, &text, &len);
    if (rc) return rc;
    static const char *const keys[] = {"id", "prompt", "category", "lang", "signal"};
    size_t cap = s->n_probes;
    const char *line = text, *end = text + len;
    int lineno = 0, n_in_file = 0;
    rc = HONE_OK;
    while (line < end && rc == HONE_OK) {
        lineno++;
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *le = nl ? nl : end;
        const char *q = line;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == le) { line = nl ? nl + 1 : end; continue; }
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)(le - line), JSON_REJECT_DUPLICATES, &je);
        if (!o) {
            rc = hone_err_set(c->err, HONE_EFORMAT, "%s:%d:%d: %s", file, lineno, je.column, je.text);
            break;
        }
        if (!json_is_object(o)) {
            rc = hone_err_set(c->err, HONE_EFORMAT, "%s:%d:1: expected a JSON object", file, lineno);
            json_decref(o);
            break;
        }
        if (s->n_probes == cap) {
            cap = cap ? cap * 2 : 16;
            hone_ab_probe *np = realloc(s->probes, cap * sizeof *np);
            if (!np) { json_decref(o); rc = nomem(c); break; }
            s->probes = np;
        }
        hone_ab_probe *pr = &s->probes[s->n_probes++];
        memset(pr, 0, sizeof *pr);
        pr->line = lineno;
        pr->file = xstrdup(file);
        char **fields[5] = {&pr->id, &pr->prompt, &pr->category, &pr->lang, &pr->signal};
        const char *k;
        json_t *val;
        json_object_foreach(o, k, val) {
            int known = 0;
            for (int f = 0; f < 5; f++) known |= !strcmp(k, keys[f]);
            if (!known) {
                rc = hone_err_set(c->err, HONE_EFORMAT,
                                  "%s:%d:1: unknown key '%s' (expected id, prompt, category, lang, signal)",
                                  file, lineno, k);
                break;
            }
        }
        for (int f = 0; f < 5 && rc == HONE_OK; f++) {
            json_t *v = json_object_get(o, keys[f]);
            if (!v || !json_is_string(v) || !json_string_length(v) ||
                strlen(json_string_value(v)) != json_string_length(v)) {
                rc = hone_err_set(c->err, HONE_EFORMAT, "%s:%d:1: %s: expected a non-empty string%s",
                                  file, lineno, keys[f], v ? "" : " (missing)");
                break;
            }
            if (!(*fields[f] = xstrdup(json_string_value(v)))) rc = nomem(c);
        }
        json_decref(o);
        if (rc == HONE_OK)
            for (size_t j = 0; j + 1 < s->n_probes; j++)
                if (!strcmp(s->probes[j].id, pr->id)) {
                    rc = hone_err_set(c->err, HONE_EFORMAT, "%s:%d:1: id: duplicate probe id '%s' (first at %s:%d)",
                                      file, lineno, pr->id, s->probes[j].file, s->probes[j].line);
                    break;
                }
        n_in_file++;
        line = nl ? nl + 1 : end;
    }
    if (rc == HONE_OK && n_in_file == 0)
        rc = hone_err_set(c->err, HONE_EFORMAT, "%s:%d: %s: '%s' holds no probes", c->name,
                          node_line(at), path, file);
    free(text);
    return rc;
}

static int parse_probes(ctx *c, yaml_node_t *n) {
    yaml_node_t *one[1] = {n};
    size_t cnt = 1;
    int seq = n->type == YAML_SEQUENCE_NODE;
    if (seq) cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!cnt) return fail(c, n, "probes", "needs at least one file");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *v = seq ? get(c, n->data.sequence.items.start[i]) : one[0];
        char path[64], *rel = NULL, *file = NULL;
        if (seq) snprintf(path, sizeof path, "probes[%zu]", i);
        else snprintf(path, sizeof path, "probes");
        int rc = get_str(c, v, path, &rel);
        if (rc) return rc;
        rc = resolve(c, rel, &file);
        free(rel);
        if (!rc) rc = load_probe_file(c, v, path, file);
        free(file);
        if (rc) return rc;
    }
    return HONE_OK;
}

static int parse_judges(ctx *c, yaml_node_t *n) {
    hone_ab_spec *s = c->s;
    if (n->type != YAML_SEQUENCE_NODE) return fail(c, n, "judges", "expected a list, got %s", kind_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    s->judges = calloc(cnt ? cnt : 1, sizeof *s->judges);
    if (!s->judges) return nomem(c);
    static const char *const keys[] = {"model", "rubric", "mode", NULL};
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *jn = get(c, n->data.sequence.items.start[i]);
        hone_ab_judge *j = &s->judges[s->n_judges++];
        j->model = -1;
        char path[64], p[128];
        snprintf(path, sizeof path, "judges[%zu]", i);
        int rc = check_map(c, jn, path, keys);
        if (rc) return rc;
        yaml_node_t *v;
        if (!(v = map_get(c, jn, "model"))) return fail(c, jn, path, "missing key 'model'");
        snprintf(p, sizeof p, "%s.model", path);
        if (v->type == YAML_MAPPING_NODE) {
            if (!(j->inline_model = calloc(1, sizeof *j->inline_model))) return nomem(c);
            j->inline_model->sampling = s->sampling;
            if ((rc = parse_model(c, v, p, 0, j->inline_model))) return rc;
        } else {
            char *id = NULL;
            if ((rc = get_str(c, v, p, &id))) return rc;
            j->model = hone_ab_spec_find_model(s, id);
            if (j->model < 0) rc = fail(c, v, p, "no model with id '%s' in models", id);
            free(id);
            if (rc) return rc;
        }
        if (!(v = map_get(c, jn, "rubric"))) return fail(c, jn, path, "missing key 'rubric'");
        snprintf(p, sizeof p, "%s.rubric", path);
        char *rel = NULL;
        if ((rc = get_str(c, v, p, &rel))) return rc;
        rc = resolve(c, rel, &j->rubric_path);
        free(rel);
        if (rc || (rc = read_named(c, v, p, j->rubric_path, &j->rubric, NULL))) return rc;
        j->modes = HONE_AB_JUDGE_SCORE;
        if ((v = map_get(c, jn, "mode"))) {
            snprintf(p, sizeof p, "%s.mode", path);
            yaml_node_t *items[2];
            size_t ni = 0;
            if (v->type == YAML_SEQUENCE_NODE) {
                ni = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
                if (ni < 1 || ni > 2) return fail(c, v, p, "expected score, pairwise or [score, pairwise]");
                for (size_t k = 0; k < ni; k++) items[k] = get(c, v->data.sequence.items.start[k]);
            } else {
                items[0] = v;
                ni = 1;
            }
            j->modes = 0;
            for (size_t k = 0; k < ni; k++) {
                char *m = NULL;
                if ((rc = get_str(c, items[k], p, &m))) return rc;
                unsigned bit = !strcmp(m, "score") ? HONE_AB_JUDGE_SCORE
                             : !strcmp(m, "pairwise") ? HONE_AB_JUDGE_PAIRWISE : 0;
                if (!bit) rc = fail(c, items[k], p, "'%s' is not one of score, pairwise", m);
                else if (j->modes & bit) rc = fail(c, items[k], p, "'%s' given twice", m);
                free(m);
                if (rc) return rc;
                j->modes |= bit;
            }
        }
    }
    return HONE_OK;
}

static int parse_root(ctx *c, yaml_node_t *root) {
    hone_ab_spec *s = c->s;
    static const char *const keys[] = {"name", "description", "models", "kernels", "conditions",
                                       "baseline", "probes", "samples", "sampling", "judges", NULL};
    int rc = check_map(c, root, "(top)", keys);
    if (rc) return rc;
    static const char *const required[] = {"models", "conditions", "baseline", "probes"};
    for (int i = 0; i < 4; i++)
        if (!map_get(c, root, required[i])) return fail(c, root, "(top)", "missing key '%s'", required[i]);
    yaml_node_t *v;
    if ((v = map_get(c, root, "name")) && (rc = get_str(c, v, "name", &s->name))) return rc;
    if ((v = map_get(c, root, "description")) && (rc = get_str(c, v, "description", &s->description)))
        return rc;
    s->samples = 1;
    if ((v = map_get(c, root, "samples"))) {
        int64_t x;
        if ((rc = get_i64(c, v, "samples", 1, 100000, &x))) return rc;
        s->samples = (uint32_t)x;
    }
    s->sampling = (hone_ab_sampling){.temperature = 0.7, .top_p = 0.95, .max_tokens = 1024, .seed = 1};
    if ((v = map_get(c, root, "sampling")) && (rc = parse_sampling(c, v, "sampling", &s->sampling)))
        return rc;
    if ((v = map_get(c, root, "kernels")) && (rc = parse_kernels(c, v))) return rc;

    v = map_get(c, root, "models");
    if (v->type != YAML_SEQUENCE_NODE) return fail(c, v, "models", "expected a list, got %s", kind_name(v));
    size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (!cnt) return fail(c, v, "models", "needs at least one model");
    if (!(s->models = calloc(cnt, sizeof *s->models))) return nomem(c);
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *mn = get(c, v->data.sequence.items.start[i]);
        hone_ab_model *m = &s->models[s->n_models++];
        m->sampling = s->sampling;
        char path[64];
        snprintf(path, sizeof path, "models[%zu]", i);
        if ((rc = parse_model(c, mn, path, 1, m))) return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(s->models[j].id, m->id))
                return fail(c, map_get(c, mn, "id"), path, "duplicate model id '%s'", m->id);
    }
    if ((rc = parse_conditions(c, map_get(c, root, "conditions")))) return rc;
    v = map_get(c, root, "baseline");
    char *b = NULL;
    if ((rc = get_str(c, v, "baseline", &b))) return rc;
    s->baseline = hone_ab_spec_find_condition(s, b);
    if (s->baseline < 0) rc = fail(c, v, "baseline", "no condition with id '%s'", b);
    free(b);
    if (rc) return rc;
    if ((rc = parse_probes(c, map_get(c, root, "probes")))) return rc;
    if ((v = map_get(c, root, "judges")) && (rc = parse_judges(c, v))) return rc;
    return HONE_OK;
}

/* ---- public ------------------------------------------------------------------------- */

int hone_ab_spec_load_mem(hone_ab_spec **out, const char *text, size_t len, const char *name,
                          const char *dir, hone_err *err) {
    *out = NULL;
    hone_ab_spec *s = calloc(1, sizeof *s);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", name);
    s->baseline = -1;
    s->path = xstrdup(name);
    s->dir = xstrdup(dir ? dir : ".");
    ctx c = {.name = name, .dir = dir, .err = err, .s = s};
    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = HONE_OK;
    if (!yaml_parser_initialize(&parser)) {
        hone_ab_spec_free(s);
        return hone_err_set(err, HONE_ENOMEM, "%s: cannot initialise the YAML parser", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t m = parser.problem_mark;
        rc = hone_err_set(err, HONE_EFORMAT, "%s:%zu:%zu: YAML: %s%s%s", name, m.line + 1, m.column + 1,
                          parser.problem ? parser.problem : "syntax error",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        hone_ab_spec_free(s);
        return rc;
    }
    c.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) rc = hone_err_set(err, HONE_EFORMAT, "%s:1: the file is empty", name);
    else rc = parse_root(&c, root);
    yaml_document_delete(&doc);
    /* A second document in the stream is an error (one experiment per file). */
    if (rc == HONE_OK) {
        yaml_document_t d2;
        if (yaml_parser_load(&parser, &d2)) {
            yaml_node_t *r2 = yaml_document_get_root_node(&d2);
            if (r2) rc = hone_err_set(err, HONE_EFORMAT, "%s:%d: a second YAML document ('---') is not allowed",
                                      name, node_line(r2));
            yaml_document_delete(&d2);
        }
    }
    yaml_parser_delete(&parser);
    if (rc) {
        hone_ab_spec_free(s);
        return rc;
    }
    *out = s;
    return HONE_OK;
}

int hone_ab_spec_load(hone_ab_spec **out, const char *path, hone_err *err) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = hone_file_read_all(path, &text, &len, err);
    if (rc) return rc;
    char *dir = xstrdup(path);
    if (!dir) { free(text); return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path); }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else strcpy(dir, ".");
    if (slash == dir) strcpy(dir, "/");
    rc = hone_ab_spec_load_mem(out, text, len, path, dir, err);
    free(dir);
    free(text);
    return rc;
}

void hone_ab_spec_free(hone_ab_spec *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_models; i++) model_free(&s->models[i]);
    for (size_t i = 0; i < s->n_kernels; i++) {
        free(s->kernels[i].name); free(s->kernels[i].path); free(s->kernels[i].text);
    }
    for (size_t i = 0; i < s->n_conditions; i++) {
        free(s->conditions[i].id); free(s->conditions[i].mode); free(s->conditions[i].reminder);
    }
    for (size_t i = 0; i < s->n_probes; i++) {
        hone_ab_probe *p = &s->probes[i];
        free(p->id); free(p->prompt); free(p->category); free(p->lang); free(p->signal); free(p->file);
    }
    for (size_t i = 0; i < s->n_judges; i++) {
        if (s->judges[i].inline_model) model_free(s->judges[i].inline_model);
        free(s->judges[i].inline_model);
        free(s->judges[i].rubric_path);
        free(s->judges[i].rubric);
    }
    free(s->models); free(s->kernels); free(s->conditions); free(s->probes); free(s->judges);
    free(s->path); free(s->dir); free(s->name); free(s->description);
    free(s);
}

int hone_ab_spec_find_model(const hone_ab_spec *s, const char *id) {
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].id && !strcmp(s->models[i].id, id)) return (int)i;
    return -1;
}

int hone_ab_spec_find_condition(const hone_ab_spec *s, const char *id) {
    for (size_t i = 0; i < s->n_conditions; i++)
        if (!strcmp(s->conditions[i].id, id)) return (int)i;
    return -1;
}

int hone_ab_spec_find_probe(const hone_ab_spec *s, const char *id) {
    for (size_t i = 0; i < s->n_probes; i++)
        if (!strcmp(s->probes[i].id, id)) return (int)i;
    return -1;
}

static uint64_t splitmix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t hone_ab_sample_seed(uint64_t base, const char *probe_id, uint32_t sample) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)probe_id; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(splitmix64(splitmix64(base + h) + sample) & 0x7fffffffu);
}

uint64_t hone_ab_spec_n_cells(const hone_ab_spec *s) {
    return (uint64_t)s->n_models * s->n_conditions * s->n_probes * s->samples;
}

int hone_ab_spec_cell(const hone_ab_spec *s, uint64_t i, hone_ab_cell *out, hone_err *err) {
    uint64_t n = hone_ab_spec_n_cells(s);
    if (i >= n)
        return hone_err_set(err, HONE_EARG, "cell %llu: out of range (the spec has %llu cells)",
                            (unsigned long long)i, (unsigned long long)n);
    out->sample = (uint32_t)(i % s->samples);
    i /= s->samples;
    out->probe = (uint32_t)(i % s->n_probes);
    i /= s->n_probes;
    out->condition = (uint32_t)(i % s->n_conditions);
    out->model = (uint32_t)(i / s->n_conditions);
    out->seed = hone_ab_sample_seed(s->models[out->model].sampling.seed, s->probes[out->probe].id,
                                    out->sample);
    return HONE_OK;
}
