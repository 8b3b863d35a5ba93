/* ollama_store.c: `ollama:NAME[:TAG]` -> files in Ollama's local model store.
 *
 * Store layout (Ollama's server/images.go and manifest.go): the root is
 * $OLLAMA_MODELS or ~/.ollama/models; a model's manifest is
 * manifests/HOST/NAMESPACE/NAME/TAG, a JSON object whose "layers" list
 * entries {mediaType, digest "sha256:<64 hex>", size}; a layer's bytes are
 * blobs/sha256-<hex>. Name parsing: the tag follows the last ':' after the
 * last '/' (a host may carry a port); one path component is NAME in the
 * "library" namespace, two are NAMESPACE/NAME, three HOST/NAMESPACE/NAME; the
 * default host is registry.ollama.ai and the default tag "latest". Components
 * must not be empty, ".", ".." or contain anything outside [A-Za-z0-9._-]
 * (':' allowed in a host), so a name can never escape the store.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hone.h"
#include "util/err.h"
#include "util/fileio.h"

int hone_ollama_is_ref(const char *s) { return !strncmp(s, "ollama:", 7); }

static int part_ok(const char *s, size_t n, int host) {
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '.' || ch == '_' || ch == '-' || (host && ch == ':'))) return 0;
    }
    return 1;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

void hone_ollama_model_free(hone_ollama_model *m) {
    free(m->manifest);
    free(m->model);
    free(m->template_);
    free(m->system);
    free(m->params);
    free(m->adapter);
    memset(m, 0, sizeof *m);
}

int hone_ollama_resolve(hone_ollama_model *m, const char *ref, hone_err *err) {
    memset(m, 0, sizeof *m);
    const char *name = hone_ollama_is_ref(ref) ? ref + 7 : ref;
    size_t n = strlen(name);
    const char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
    const char *tag = "latest";
    size_t tag_len = 6, path_len = n;
    if (colon && (!slash || colon > slash)) {
        tag = colon + 1;
        tag_len = n - (size_t)(tag - name);
        path_len = (size_t)(colon - name);
    }
    /* split the path into up to three components */
    const char *parts[3];
    size_t lens[3];
    int np = 0;
    for (const char *p = name; p < name + path_len;) {
        const char *e = memchr(p, '/', (size_t)(name + path_len - p));
        if (!e) e = name + path_len;
        if (np == 3)
            return hone_err_set(err, HONE_EARG, "ollama:%s: expected NAME, NAMESPACE/NAME or HOST/NAMESPACE/NAME", name);
        parts[np] = p;
        lens[np++] = (size_t)(e - p);
        if (e + 1 == name + path_len) /* trailing slash: an empty last component */
            return hone_err_set(err, HONE_EARG, "ollama:%s: empty name component", name);
        p = e + 1;
    }
    if (np == 0)
        return hone_err_set(err, HONE_EARG, "ollama:%s: expected a model name, e.g. ollama:gemma3:270m", name);
    const char *host = "registry.ollama.ai", *ns = "library";
    size_t host_len = strlen(host), ns_len = strlen(ns);
    const char *mn = parts[np - 1];
    size_t mn_len = lens[np - 1];
    if (np >= 2) ns = parts[np - 2], ns_len = lens[np - 2];
    if (np == 3) host = parts[0], host_len = lens[0];
    if (!part_ok(mn, mn_len, 0) || !part_ok(ns, ns_len, 0) || !part_ok(host, host_len, 1) ||
        !part_ok(tag, tag_len, 0))
        return hone_err_set(err, HONE_EARG, "ollama:%s: name components must be non-empty and use only letters, digits, '.', '_' and '-'", name);

    const char *env = getenv("OLLAMA_MODELS");
    char *root;
    if (env && *env) root = strdup(env);
    else {
        const char *home = getenv("HOME");
        root = xasprintf("%s/.ollama/models", home && *home ? home : ".");
    }
    if (!root) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    m->manifest = xasprintf("%s/manifests/%.*s/%.*s/%.*s/%.*s", root, (int)host_len, host, (int)ns_len, ns,
                            (int)mn_len, mn, (int)tag_len, tag);
    if (!m->manifest) {
        free(root);
        return hone_err_set(err, HONE_ENOMEM, "out of memory");
    }
    char *text;
    size_t len;
    struct stat sb;
    if (stat(m->manifest, &sb) != 0) {
        int rc = hone_err_set(err, HONE_ENOTFOUND, "ollama:%s: no manifest at %s (is the model pulled? set OLLAMA_MODELS if the store is elsewhere)",
                              name, m->manifest);
        free(root);
        hone_ollama_model_free(m);
        return rc;
    }
    int rc = hone_file_read_all(m->manifest, &text, &len, err);
    if (rc) {
        free(root);
        hone_ollama_model_free(m);
        return rc;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (!j) {
        rc = hone_err_set(err, HONE_EFORMAT, "%s: JSON line %d column %d: %s", m->manifest, je.line, je.column, je.text);
        goto out;
    }
    json_t *layers = json_object_get(j, "layers");
    if (!json_is_array(layers)) {
        rc = hone_err_set(err, HONE_EFORMAT, "%s: layers: expected an array", m->manifest);
        goto out;
    }
    static const struct { const char *type; size_t off; } KINDS[] = {
        {"application/vnd.ollama.image.model", offsetof(hone_ollama_model, model)},
        {"application/vnd.ollama.image.template", offsetof(hone_ollama_model, template_)},
        {"application/vnd.ollama.image.system", offsetof(hone_ollama_model, system)},
        {"application/vnd.ollama.image.params", offsetof(hone_ollama_model, params)},
        {"application/vnd.ollama.image.adapter", offsetof(hone_ollama_model, adapter)},
    };
    for (size_t i = 0; i < json_array_size(layers); i++) {
        json_t *l = json_array_get(layers, i);
        const char *mt = json_string_value(json_object_get(l, "mediaType"));
        const char *dg = json_string_value(json_object_get(l, "digest"));
        if (!mt || !dg) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: layers[%zu]: expected mediaType and digest strings", m->manifest, i);
            goto out;
        }
        size_t k;
        for (k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++)
            if (!strcmp(mt, KINDS[k].type)) break;
        if (k == sizeof KINDS / sizeof KINDS[0]) continue; /* license, projector, messages: not needed */
        char **slot = (char **)((char *)m + KINDS[k].off);
        if (*slot) continue; /* first layer of a kind wins */
        int hex_ok = !strncmp(dg, "sha256:", 7) && strlen(dg) == 7 + 64;
        for (int c = 7; hex_ok && c < 7 + 64; c++) hex_ok = isxdigit((unsigned char)dg[c]) != 0;
        if (!hex_ok) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: layers[%zu].digest '%.80s': expected sha256:<64 hex digits>",
                              m->manifest, i, dg);
            goto out;
        }
        *slot = xasprintf("%s/blobs/sha256-%s", root, dg + 7);
        if (!*slot) {
            rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
            goto out;
        }
        if (stat(*slot, &sb) != 0) {
            rc = hone_err_set(err, HONE_ENOTFOUND, "%s: layers[%zu] (%s): blob %s is missing", m->manifest, i, mt, *slot);
            goto out;
        }
    }
    if (!m->model)
        rc = hone_err_set(err, HONE_EFORMAT, "%s: no layer of mediaType application/vnd.ollama.image.model", m->manifest);
out:
    json_decref(j);
    free(root);
    if (rc) hone_ollama_model_free(m);
    return rc;
}
