/* design.c: the design record of an A/B store (hone/ab.h, "design record").
 *
 * `ab run` and `ab judge` write the spec's design as JSON under meta key 'design', so a
 * report needs only the database: which condition is the baseline, each probe's prompt,
 * category, language and signal, each judge's label and modes. Layout:
 *   {"format": "hone-ab-design-1", "name", "spec_path", "baseline": ID, "samples": N,
 *    "models": [{"id", "backend"}], "conditions": [{"id", "mode"}],
 *    "probes": [{"id", "prompt", "category", "lang", "signal"}],
 *    "judges": [{"label", "model", "rubric", "modes": ["score", "pairwise"]}]}
 * Arrays keep the spec's order, which is the order of the report's tables.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "eval/design.h"
#include "util/err.h"

static const char *const BACKENDS[] = {"local", "ollama", "openai"};

static json_t *design_json(const hone_ab_spec *s) {
    json_t *models = json_array(), *conds = json_array(), *probes = json_array(), *judges = json_array();
    for (size_t i = 0; i < s->n_models; i++)
        json_array_append_new(models, json_pack("{s:s, s:s}", "id", s->models[i].id, "backend",
                                                BACKENDS[s->models[i].backend]));
    for (size_t i = 0; i < s->n_conditions; i++)
        json_array_append_new(conds, json_pack("{s:s, s:s}", "id", s->conditions[i].id, "mode", s->conditions[i].mode));
    for (size_t i = 0; i < s->n_probes; i++) {
        const hone_ab_probe *p = &s->probes[i];
        json_array_append_new(probes, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", p->id, "prompt", p->prompt,
                                                "category", p->category, "lang", p->lang, "signal", p->signal));
    }
    for (size_t j = 0; j < s->n_judges; j++) {
        const hone_ab_judge *jd = &s->judges[j];
        char *label = hone_ab_judge_label(s, j);
        const char *model = jd->model >= 0 ? s->models[jd->model].id : jd->inline_model->id;
        json_t *modes = json_array();
        if (jd->modes & HONE_AB_JUDGE_SCORE) json_array_append_new(modes, json_string("score"));
        if (jd->modes & HONE_AB_JUDGE_PAIRWISE) json_array_append_new(modes, json_string("pairwise"));
        json_array_append_new(judges, json_pack("{s:s?, s:s, s:s, s:o}", "label", label, "model", model,
                                                "rubric", jd->rubric_path, "modes", modes));
        free(label);
    }
    return json_pack("{s:s, s:s?, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "format", "hone-ab-design-1", "name",
                     s->name, "spec_path", s->path, "baseline", s->conditions[s->baseline].id, "samples",
                     (json_int_t)s->samples, "models", models, "conditions", conds, "probes", probes, "judges",
                     judges);
}

char *ab_design_text(const hone_ab_spec *s) {
    json_t *d = design_json(s);
    char *txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return txt;
}

int hone_ab_store_put_design(hone_ab_store *st, const hone_ab_spec *s, hone_err *err) {
    char *txt = ab_design_text(s);
    if (!txt) return hone_err_set(err, HONE_ENOMEM, "%s: design record: out of memory", s->path);
    int rc = hone_ab_store_set_meta(st, "design", txt, err);
    free(txt);
    return rc;
}

/* ---- reading it back ---------------------------------------------------------------- */

static const char *str_at(json_t *o, const char *key, const char *where, size_t i, int *bad, hone_err *err) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v)) {
        if (!*bad) hone_err_set(err, HONE_EFORMAT, "design record: %s[%zu].%s: expected a string", where, i, key);
        *bad = 1;
        return "";
    }
    return json_string_value(v);
}

int ab_design_parse(ab_design *d, const char *text, hone_err *err) {
    memset(d, 0, sizeof *d);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) return hone_err_set(err, HONE_EFORMAT, "design record: line %d column %d: %s", je.line, je.column, je.text);
    d->json = root;
    int bad = 0;
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "hone-ab-design-1")) {
        ab_design_free(d);
        return hone_err_set(err, HONE_EFORMAT, "design record: format: expected \"hone-ab-design-1\"");
    }
    json_t *models = json_object_get(root, "models"), *conds = json_object_get(root, "conditions"),
           *probes = json_object_get(root, "probes"), *judges = json_object_get(root, "judges");
    if (!json_is_array(models) || !json_is_array(conds) || !json_is_array(probes) || !json_is_array(judges)) {
        ab_design_free(d);
        return hone_err_set(err, HONE_EFORMAT, "design record: models, conditions, probes, judges: expected arrays");
    }
    d->name = json_string_value(json_object_get(root, "name"));
    d->spec_path = json_string_value(json_object_get(root, "spec_path"));
    d->samples = (long)json_integer_value(json_object_get(root, "samples"));
    d->n_models = json_array_size(models);
    d->n_conditions = json_array_size(conds);
    d->n_probes = json_array_size(probes);
    d->n_judges = json_array_size(judges);
    d->models = calloc(d->n_models + 1, sizeof *d->models);
    d->conditions = calloc(d->n_conditions + 1, sizeof *d->conditions);
    d->modes = calloc(d->n_conditions + 1, sizeof *d->modes);
    d->probes = calloc(d->n_probes + 1, sizeof *d->probes);
    d->judges = calloc(d->n_judges + 1, sizeof *d->judges);
    if (!d->models || !d->conditions || !d->modes || !d->probes || !d->judges) {
        ab_design_free(d);
        return hone_err_set(err, HONE_ENOMEM, "design record: out of memory");
    }
    size_t i;
    json_t *v;
    json_array_foreach(models, i, v) d->models[i] = str_at(v, "id", "models", i, &bad, err);
    json_array_foreach(conds, i, v) {
        d->conditions[i] = str_at(v, "id", "conditions", i, &bad, err);
        d->modes[i] = str_at(v, "mode", "conditions", i, &bad, err);
    }
    json_array_foreach(probes, i, v) {
        ab_design_probe *p = &d->probes[i];
        p->id = str_at(v, "id", "probes", i, &bad, err);
        p->prompt = str_at(v, "prompt", "probes", i, &bad, err);
        p->category = str_at(v, "category", "probes", i, &bad, err);
        p->lang = str_at(v, "lang", "probes", i, &bad, err);
        p->signal = str_at(v, "signal", "probes", i, &bad, err);
    }
    json_array_foreach(judges, i, v) {
        ab_design_judge *j = &d->judges[i];
        j->label = str_at(v, "label", "judges", i, &bad, err);
        j->model = str_at(v, "model", "judges", i, &bad, err);
        j->rubric = json_string_value(json_object_get(v, "rubric"));
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(v, "modes"), k, m) {
            if (json_is_string(m) && !strcmp(json_string_value(m), "score")) j->score = 1;
            if (json_is_string(m) && !strcmp(json_string_value(m), "pairwise")) j->pairwise = 1;
        }
    }
    if (bad) {
        ab_design_free(d);
        return HONE_EFORMAT;
    }
    json_t *b = json_object_get(root, "baseline");
    int bi = json_is_string(b) ? ab_design_find(d->conditions, d->n_conditions, json_string_value(b)) : -1;
    if (bi < 0) {
        ab_design_free(d);
        return hone_err_set(err, HONE_EFORMAT, "design record: baseline: expected the id of a condition");
    }
    d->baseline = (size_t)bi;
    return HONE_OK;
}

void ab_design_free(ab_design *d) {
    json_decref((json_t *)d->json);
    free(d->models);
    free(d->conditions);
    free(d->modes);
    free(d->probes);
    free(d->judges);
    memset(d, 0, sizeof *d);
}

int ab_design_find(const char *const *ids, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ids[i], id)) return (int)i;
    return -1;
}

int ab_design_find_probe(const ab_design *d, const char *id) {
    for (size_t i = 0; i < d->n_probes; i++)
        if (!strcmp(d->probes[i].id, id)) return (int)i;
    return -1;
}
