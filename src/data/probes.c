/* probes.c: probe files for `hone data build` (hone_ds_probes_load; format in
 * include/hone/dataset.h). One jansson parse per line; schema errors locate the key with
 * ds_column, as the training-record loader does. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/ds_internal.h"
#include "hone/dataset.h"
#include "util/err.h"
#include "util/fileio.h"

static const char *const KEYS[] = {"id", "prompt", "category", "lang", "signal", "system"};
enum { N_KEYS = 6 };

void hone_ds_probes_free(hone_ds_probe *p, size_t n) {
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].id); free(p[i].prompt); free(p[i].category); free(p[i].lang); free(p[i].signal);
        free(p[i].system); free(p[i].file);
    }
    free(p);
}

static int load_one(const char *path, hone_ds_probe **v, size_t *n, size_t *cap, hone_err *err) {
    hone_map m;
    int rc = hone_map_open(&m, path, err);
    if (rc) return rc;
    const char *p = (const char *)m.data, *end = p ? p + m.size : p;
    int lineno = 0;
    while (p < end && !rc) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        lineno++;
        if (le > p && le[-1] == '\r') le--;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        size_t len = (size_t)(le - p);
        if (q < le) {
            json_error_t je;
            json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
            if (!o) {
                rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: %s", path, lineno, je.column > 0 ? je.column : 1, je.text);
                break;
            }
            if (!json_is_object(o)) {
                json_decref(o);
                rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:1: expected a JSON object {\"id\", \"prompt\", ...}", path, lineno);
                break;
            }
            if (*n == *cap) {
                size_t c = *cap ? 2 * *cap : 64;
                hone_ds_probe *nv = realloc(*v, c * sizeof *nv);
                if (!nv) { json_decref(o); rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); break; }
                *v = nv;
                *cap = c;
            }
            hone_ds_probe *pr = &(*v)[(*n)++];
            memset(pr, 0, sizeof *pr);
            pr->line = lineno;
            pr->file = strdup(path);
            char **dst[N_KEYS] = {&pr->id, &pr->prompt, &pr->category, &pr->lang, &pr->signal, &pr->system};
            const char *k;
            json_t *val;
            json_object_foreach(o, k, val) {
                int ki = -1;
                for (int i = 0; i < N_KEYS; i++)
                    if (!strcmp(k, KEYS[i])) ki = i;
                ds_path_el pe = {k, 0};
                int col = ds_column(p, len, &pe, 1);
                if (ki < 0) {
                    rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: unknown key \"%.40s\" (a probe has id, prompt, category, "
                                      "lang, signal, system)", path, lineno, col, k);
                    break;
                }
                if (!json_is_string(val)) {
                    rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: %s: expected a string", path, lineno, col, k);
                    break;
                }
                if (!(*dst[ki] = strdup(json_string_value(val)))) { rc = hone_err_set(err, HONE_ENOMEM, "out of memory"); break; }
            }
            json_decref(o);
            if (rc) break;
            if (!pr->id || !pr->prompt) {
                rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:1: missing \"%s\" (a string)", path, lineno,
                                  pr->id ? "prompt" : "id");
                break;
            }
            if (!*pr->id) {
                ds_path_el pe = {"id", 0};
                rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: id: empty", path, lineno, ds_column(p, len, &pe, 1));
                break;
            }
            for (size_t j = 0; j + 1 < *n; j++)
                if (!strcmp((*v)[j].id, pr->id)) {
                    ds_path_el pe = {"id", 0};
                    rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: id: duplicate probe id '%.60s' (first at %s:%d)", path,
                                      lineno, ds_column(p, len, &pe, 1), pr->id, (*v)[j].file, (*v)[j].line);
                    break;
                }
        }
        p = nl ? nl + 1 : end;
    }
    hone_map_close(&m);
    return rc;
}

int hone_ds_probes_load(const char *const *paths, size_t n_paths, hone_ds_probe **out, size_t *n_out, hone_err *err) {
    hone_ds_probe *v = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *n_out = 0;
    for (size_t i = 0; i < n_paths; i++) {
        int rc = load_one(paths[i], &v, &n, &cap, err);
        if (rc) {
            hone_ds_probes_free(v, n);
            return rc;
        }
    }
    if (!n) {
        hone_ds_probes_free(v, n);
        return hone_err_set(err, HONE_EFORMAT, "%s: no probes", n_paths ? paths[0] : "(no probe file)");
    }
    *out = v;
    *n_out = n;
    return HONE_OK;
}
