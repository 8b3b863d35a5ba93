/* dataset.c: fine-tuning records from JSONL (see include/hone/dataset.h for the formats, the
 * diagnostics and the token / mask rules).
 *
 * Each line is parsed on its own with jansson (duplicate keys rejected, "\u0000" refused, as
 * jansson does by default). jansson reports line/column for syntax errors only, so schema
 * errors locate the offending key in the raw line with a small scanner (json_locate): the line
 * already parsed, so the scanner only needs to skip well-formed JSON; it compares raw key bytes,
 * so a key written with escapes is not found and the column falls back to the enclosing value.
 * Columns count Unicode characters from 1, as jansson's do.
 *
 * The records' strings live in a pool of large blocks owned by the hone_ds (one free).
 * At most one error is reported per record (the first found), plus warnings; a record with an
 * error is left out.
 *
 * Tokenizing renders chat records with the template and asks hone_chat_mask for the mask of the
 * FINAL assistant message only (the other assistant spans are passed as not shown).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone/chat.h"
#include "hone/dataset.h"
#include "hone/tokenizer.h"
#include "util/err.h"
#include "util/fileio.h"
#include "data/ds_internal.h"

/* ---- string pool ---- */

typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block;

struct hone_ds_pool {
    pool_block *head;
};

static void *pool_alloc(struct hone_ds_pool *p, size_t n) {
    n = (n + 7) & ~(size_t)7;
    if (!p->head || p->head->cap - p->head->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        pool_block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = p->head;
        b->used = 0;
        b->cap = cap;
        p->head = b;
    }
    void *r = p->head->data + p->head->used;
    p->head->used += n;
    return r;
}

static char *pool_strndup(struct hone_ds_pool *p, const char *s, size_t n) {
    char *r = pool_alloc(p, n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void pool_free(struct hone_ds_pool *p) {
    if (!p) return;
    for (pool_block *b = p->head, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    free(p);
}

/* ---- names ---- */

const char *hone_ds_format_name(hone_ds_format f) {
    switch (f) {
    case HONE_DS_MESSAGES: return "messages";
    case HONE_DS_PROMPT_COMPLETION: return "prompt-completion";
    case HONE_DS_TEXT: return "text";
    default: return "unknown";
    }
}

int hone_ds_format_parse(const char *name, hone_ds_format *out, hone_err *err) {
    if (name && (!strcmp(name, "messages") || !strcmp(name, "chat"))) *out = HONE_DS_MESSAGES;
    else if (name && (!strcmp(name, "prompt-completion") || !strcmp(name, "completions") || !strcmp(name, "pc")))
        *out = HONE_DS_PROMPT_COMPLETION;
    else if (name && !strcmp(name, "text")) *out = HONE_DS_TEXT;
    else
        return hone_err_set(err, HONE_EARG, "format '%s' is not one of messages, prompt-completion, text",
                            name ? name : "(null)");
    return HONE_OK;
}

const char *hone_ds_kind_name(hone_ds_kind k) {
    static const char *const names[] = {"?", "syntax", "schema", "role-order", "tools", "empty", "duplicate",
                                        "near-duplicate", "leak", "near-leak", "too-long", "no-supervised",
                                        "template"};
    return (unsigned)k < HONE_DSK_KIND_COUNT ? names[k] : "?";
}

/* ---- diagnostics ---- */

int hone_ds_diag_add(hone_ds_diags *d, hone_ds_severity sev, hone_ds_kind kind, const char *file, int line,
                     int column, const char *fmt, ...) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        hone_ds_diag *v = realloc(d->v, cap * sizeof *v);
        if (!v) return HONE_ENOMEM;
        d->v = v;
        d->cap = cap;
    }
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t need = strlen(file) + strlen(body) + 48;
    char *msg = malloc(need), *f = strdup(file);
    if (!msg || !f) {
        free(msg);
        free(f);
        return HONE_ENOMEM;
    }
    snprintf(msg, need, "%s:%d:%d: %s", file, line, column, body);
    for (char *p = msg; *p; p++) /* one printable line, as hone_err */
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    d->v[d->n++] = (hone_ds_diag){sev, kind, f, line, column, msg};
    if (sev == HONE_DS_ERROR) d->n_errors++;
    else d->n_warnings++;
    return HONE_OK;
}

/* Rank of a file: the index of its first diagnostic. */
static size_t file_rank(const hone_ds_diag *v, size_t n, const char *file) {
    for (size_t k = 0; k < n; k++)
        if (!strcmp(v[k].file, file)) return k;
    return n;
}

void hone_ds_diags_sort(hone_ds_diags *d) { ds_diags_sort_files(d, NULL, 0); }

void ds_diags_sort_files(hone_ds_diags *d, const char *const *paths, size_t n_paths) {
    if (d->n < 2) return;
    size_t *rank = malloc(d->n * sizeof *rank);
    if (!rank) return;
    for (size_t i = 0; i < d->n; i++) {
        rank[i] = n_paths + file_rank(d->v, d->n, d->v[i].file); /* files not in paths: after them */
        for (size_t f = 0; f < n_paths; f++)
            if (!strcmp(paths[f], d->v[i].file)) {
                rank[i] = f;
                break;
            }
    }
    /* stable insertion sort (diagnostics are few) by (file rank, line, column) */
    for (size_t i = 1; i < d->n; i++) {
        hone_ds_diag x = d->v[i];
        size_t rx = rank[i], j = i;
        while (j > 0) {
            const hone_ds_diag *p = &d->v[j - 1];
            size_t rp = rank[j - 1];
            int after = rp > rx || (rp == rx && (p->line > x.line || (p->line == x.line && p->column > x.column)));
            if (!after) break;
            d->v[j] = *p;
            rank[j] = rp;
            j--;
        }
        d->v[j] = x;
        rank[j] = rx;
    }
    free(rank);
}

void hone_ds_diags_free(hone_ds_diags *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
    }
    free(d->v);
    memset(d, 0, sizeof *d);
}

/* ---- locating a key in a raw JSON line ---- */

typedef ds_path_el path_el;

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i;
}

static size_t skip_string(const char *s, size_t n, size_t i) { /* at '"' */
    for (i++; i < n && s[i] != '"'; i++)
        if (s[i] == '\\') i++;
    return i < n ? i + 1 : n;
}

static size_t skip_value(const char *s, size_t n, size_t i, int depth) {
    i = skip_ws(s, n, i);
    if (i >= n) return n;
    if (s[i] == '"') return skip_string(s, n, i);
    if ((s[i] == '{' || s[i] == '[') && depth < 4096) {
        char close = s[i] == '{' ? '}' : ']';
        i++;
        for (;;) {
            i = skip_ws(s, n, i);
            if (i >= n) return n;
            if (s[i] == close) return i + 1;
            if (s[i] == ',') { i++; continue; }
            if (close == '}') {
                i = skip_string(s, n, i);
                i = skip_ws(s, n, i);
                if (i < n && s[i] == ':') i++;
            }
            size_t j = skip_value(s, n, i, depth + 1);
            if (j <= i) return n;
            i = j;
        }
    }
    while (i < n && !strchr(",}] \t\r\n", s[i])) i++;
    return i;
}

/* Byte offset where path[0..np) starts in the value at i (a key: its opening quote; an index:
 * the element), or the offset of the deepest container found when a step is missing. */
static size_t locate(const char *s, size_t n, size_t i, const path_el *path, size_t np) {
    i = skip_ws(s, n, i);
    if (!np || i >= n) return i;
    if (path->key && s[i] == '{') {
        size_t klen = strlen(path->key), j = i + 1;
        for (;;) {
            j = skip_ws(s, n, j);
            if (j >= n || s[j] == '}') return i;
            if (s[j] == ',') { j++; continue; }
            size_t ks = j, ke = skip_string(s, n, j);
            int match = ke - ks == klen + 2 && !memcmp(s + ks + 1, path->key, klen);
            j = skip_ws(s, n, ke);
            if (j < n && s[j] == ':') j++;
            if (match) return np == 1 ? ks : locate(s, n, j, path + 1, np - 1);
            j = skip_value(s, n, j, 0);
        }
    }
    if (!path->key && s[i] == '[') {
        size_t j = i + 1, k = 0;
        for (;;) {
            j = skip_ws(s, n, j);
            if (j >= n || s[j] == ']') return i;
            if (s[j] == ',') { j++; continue; }
            if (k == path->idx) return np == 1 ? j : locate(s, n, j, path + 1, np - 1);
            j = skip_value(s, n, j, 0);
            k++;
        }
    }
    return i;
}

/* 1-based column in Unicode characters of byte offset off. */
static int char_column(const char *s, size_t off) {
    int col = 1;
    for (size_t i = 0; i < off; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) col++;
    return col;
}

int ds_column(const char *line, size_t len, const ds_path_el *path, size_t np) {
    return np ? char_column(line, locate(line, len, 0, path, np)) : 1;
}

uint64_t ds_fnv1a(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

uint64_t ds_splitmix64(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int ds_is_blank(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p == ' ' || (*p >= 0x09 && *p <= 0x0d)) { p++; continue; }
        /* multi-byte spaces: U+0085 U+00A0 U+1680 U+2000-200B U+2028 U+2029 U+202F U+205F U+3000 U+FEFF */
        if (p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0)) { p += 2; continue; }
        if (p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) { p += 3; continue; }
        if (p[0] == 0xe2 && p[1] == 0x80 && p[2] && ((p[2] >= 0x80 && p[2] <= 0x8b) || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf)) { p += 3; continue; }
        if (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) { p += 3; continue; }
        if (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) { p += 3; continue; }
        if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) { p += 3; continue; }
        return 0;
    }
    return 1;
}

/* ---- parsing ---- */

typedef struct ctx {
    hone_ds *ds;
    hone_ds_diags *diags; /* NULL: stop at the first error */
    hone_err *err;
    int format_line;      /* the line that set ds->format */
    const char *line;     /* the current raw line */
    size_t line_len;
    int lineno;
    int failed;           /* the current record had an error */
    size_t cap;
} ctx;

/* Reports a problem with the current line at the given path (np == 0: column 1). Returns
 * HONE_EFORMAT when it stops the load, HONE_ENOMEM, or HONE_OK (collected / a warning). */
static int report(ctx *c, hone_ds_severity sev, hone_ds_kind kind, const path_el *path, size_t np, int col,
                  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int report(ctx *c, hone_ds_severity sev, hone_ds_kind kind, const path_el *path, size_t np, int col,
                  const char *fmt, ...) {
    char body[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (!col) col = np ? char_column(c->line, locate(c->line, c->line_len, 0, path, np)) : 1;
    if (sev == HONE_DS_ERROR) c->failed = 1;
    if (c->diags)
        return hone_ds_diag_add(c->diags, sev, kind, c->ds->path, c->lineno, col, "%s", body);
    if (sev == HONE_DS_WARNING) return HONE_OK;
    return hone_err_set(c->err, HONE_EFORMAT, "%s:%d:%d: %s", c->ds->path, c->lineno, col, body);
}

static const char *kind_of(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static const char *norm_role(const char *r) {
    if (!strcmp(r, "system")) return "system";
    if (!strcmp(r, "user")) return "user";
    if (!strcmp(r, "assistant") || !strcmp(r, "model")) return "assistant";
    return NULL;
}

/* A string value at obj.key: copied into the pool. Missing / wrong type reported. */
static int get_str(ctx *c, json_t *obj, const char *key, const path_el *at, size_t np, const char *where,
                   const char **out) {
    json_t *v = json_object_get(obj, key);
    path_el p[4];
    if (np) memcpy(p, at, np * sizeof *p);
    p[np] = (path_el){key, 0};
    if (!v) return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, np, 0, "%s: missing \"%s\" (a string)", where, key);
    if (!json_is_string(v))
        return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, np + 1, 0, "%s%s%s: expected a string, found %s", where,
                      *where ? "." : "", key, kind_of(v));
    *out = pool_strndup(c->ds->pool, json_string_value(v), json_string_length(v));
    return *out ? HONE_OK : HONE_ENOMEM;
}

static int parse_messages(ctx *c, json_t *o, hone_ds_record *r) {
    path_el p[3] = {{"messages", 0}, {NULL, 0}, {"role", 0}};
    json_t *m = json_object_get(o, "messages");
    if (!json_is_array(m))
        return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, 1, 0,
                      "messages: expected an array of {\"role\", \"content\"} objects, found %s", kind_of(m));
    size_t n = json_array_size(m);
    if (!n) return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, 1, 0, "messages: empty (expected at least a user and an assistant message)");
    r->msgs = pool_alloc(c->ds->pool, n * sizeof *r->msgs);
    if (!r->msgs) return HONE_ENOMEM;
    r->n_msgs = n;
    char where[64];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(m, i);
        p[1].idx = i;
        snprintf(where, sizeof where, "messages[%zu]", i);
        if (!json_is_object(e))
            return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, 2, 0, "%s: expected a {\"role\", \"content\"} object, found %s",
                          where, kind_of(e));
        const char *role, *content;
        int rc;
        if ((rc = get_str(c, e, "role", p, 2, where, &role)) || c->failed) return rc;
        const char *nr = norm_role(role);
        if (!nr)
            return report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, p, 3, 0, "%s.role: '%.60s' is not one of system, user, assistant",
                          where, role);
        if ((rc = get_str(c, e, "content", p, 2, where, &content)) || c->failed) return rc;
        r->msgs[i] = (hone_chat_msg){nr, content};
    }
    /* role order: [system] user assistant (user assistant)* */
    for (size_t i = 0; i < n; i++) {
        const char *role = r->msgs[i].role;
        p[1].idx = i;
        size_t first = n && !strcmp(r->msgs[0].role, "system") ? 1 : 0;
        if (!strcmp(role, "system") && i > 0)
            return report(c, HONE_DS_ERROR, HONE_DSK_ROLE_ORDER, p, 3, 0,
                          "messages[%zu].role: a system message may only come first", i);
        if (i < first) continue;
        const char *want = (i - first) % 2 == 0 ? "user" : "assistant";
        if (strcmp(role, want))
            return report(c, HONE_DS_ERROR, HONE_DSK_ROLE_ORDER, p, 3, 0,
                          i == first ? "messages[%zu].role: '%s' where the conversation must start with a user message"
                                     : "messages[%zu].role: '%s' after '%s': roles must alternate user/assistant",
                          i, role, r->msgs[i - (i > 0)].role);
    }
    p[1].idx = n - 1;
    if (strcmp(r->msgs[n - 1].role, "assistant"))
        return report(c, HONE_DS_ERROR, HONE_DSK_ROLE_ORDER, p, 2, 0,
                      "messages[%zu]: the conversation ends with a %s message; expected a final assistant message "
                      "(the answer trained on)", n - 1, r->msgs[n - 1].role);
    return HONE_OK;
}

static int parse_pc(ctx *c, json_t *o, hone_ds_record *r) {
    const char *prompt, *completion, *system = NULL;
    int rc;
    if ((rc = get_str(c, o, "prompt", NULL, 0, "", &prompt)) || c->failed) return rc;
    if ((rc = get_str(c, o, "completion", NULL, 0, "", &completion)) || c->failed) return rc;
    if (json_object_get(o, "system") && ((rc = get_str(c, o, "system", NULL, 0, "", &system)) || c->failed))
        return rc;
    size_t n = system ? 3 : 2, k = 0;
    r->msgs = pool_alloc(c->ds->pool, n * sizeof *r->msgs);
    if (!r->msgs) return HONE_ENOMEM;
    if (system) r->msgs[k++] = (hone_chat_msg){"system", system};
    r->msgs[k++] = (hone_chat_msg){"user", prompt};
    r->msgs[k++] = (hone_chat_msg){"assistant", completion};
    r->n_msgs = n;
    return HONE_OK;
}

static hone_ds_format detect(json_t *o) {
    if (json_object_get(o, "messages")) return HONE_DS_MESSAGES;
    if (json_object_get(o, "prompt") && json_object_get(o, "completion")) return HONE_DS_PROMPT_COMPLETION;
    if (json_object_get(o, "text")) return HONE_DS_TEXT;
    return HONE_DS_UNKNOWN;
}

static const char *format_key(hone_ds_format f) {
    return f == HONE_DS_MESSAGES ? "messages" : f == HONE_DS_PROMPT_COMPLETION ? "prompt" : "text";
}

static int parse_line(ctx *c) {
    json_error_t je;
    json_t *o = json_loadb(c->line, c->line_len, JSON_REJECT_DUPLICATES, &je);
    if (!o) return report(c, HONE_DS_ERROR, HONE_DSK_SYNTAX, NULL, 0, je.column > 0 ? je.column : 1, "%s", je.text);
    int rc = HONE_OK;
    hone_ds_record r = {0};
    if (!json_is_object(o)) {
        rc = report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, NULL, 0, 1, "expected a JSON object, found %s", kind_of(o));
        goto out;
    }
    hone_ds_format f = detect(o);
    if (f == HONE_DS_UNKNOWN) {
        path_el kp = {json_object_get(o, "prompt") ? "prompt" : "completion", 0};
        if (json_object_get(o, "prompt") || json_object_get(o, "completion"))
            rc = report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, &kp, 1, 0, "\"%s\" without \"%s\"", kp.key,
                        kp.key[0] == 'p' ? "completion" : "prompt");
        else
            rc = report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, NULL, 0, 1,
                        "expected a \"messages\", \"prompt\"+\"completion\" or \"text\" key");
        goto out;
    }
    if (c->ds->format && f != c->ds->format) {
        path_el kp = {format_key(f), 0};
        rc = report(c, HONE_DS_ERROR, HONE_DSK_SCHEMA, &kp, 1, 0, "a %s record in a %s file (format set by line %d)",
                    hone_ds_format_name(f), hone_ds_format_name(c->ds->format), c->format_line);
        goto out;
    }
    r.format = f;
    r.line = c->lineno;
    if (f == HONE_DS_MESSAGES) rc = parse_messages(c, o, &r);
    else if (f == HONE_DS_PROMPT_COMPLETION) rc = parse_pc(c, o, &r);
    else rc = get_str(c, o, "text", NULL, 0, "", &r.text);
    if (rc || c->failed) goto out;
    if (json_object_get(o, "tools")) {
        path_el kp = {"tools", 0};
        r.has_tools = 1;
        if ((rc = report(c, HONE_DS_WARNING, HONE_DSK_TOOLS, &kp, 1, 0,
                         "tools: ignored (hone trains the messages only, without tool definitions)")))
            goto out;
    }
    if (!(r.raw = pool_strndup(c->ds->pool, c->line, c->line_len))) { rc = HONE_ENOMEM; goto out; }
    r.raw_len = c->line_len;
    if (!c->ds->format) {
        c->ds->format = f;
        c->format_line = c->lineno;
    }
    if (c->ds->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        hone_ds_record *v = realloc(c->ds->recs, cap * sizeof *v);
        if (!v) { rc = HONE_ENOMEM; goto out; }
        c->ds->recs = v;
        c->cap = cap;
    }
    c->ds->recs[c->ds->n++] = r;
out:
    json_decref(o);
    return rc;
}

int hone_ds_load_mem(hone_ds **out, const char *name, const char *data, size_t len, hone_ds_diags *diags,
                     hone_err *err) {
    *out = NULL;
    hone_ds *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->pool = calloc(1, sizeof *ds->pool)) || !(ds->path = strdup(name))) {
        hone_ds_free(ds);
        return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", name);
    }
    ctx c = {.ds = ds, .diags = diags, .err = err};
    const char *p = data, *end = data ? data + len : data;
    int rc = HONE_OK;
    while (p < end && rc == HONE_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        c.lineno++;
        if (le > p && le[-1] == '\r') le--;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < le) {
            c.line = p;
            c.line_len = (size_t)(le - p);
            c.failed = 0;
            rc = parse_line(&c);
        }
        p = nl ? nl + 1 : end;
    }
    ds->n_lines = c.lineno;
    if (rc) {
        if (rc == HONE_ENOMEM) hone_err_set(err, rc, "%s:%d: out of memory", name, c.lineno);
        hone_ds_free(ds);
        return rc;
    }
    *out = ds;
    return HONE_OK;
}

int hone_ds_load(hone_ds **out, const char *path, hone_ds_diags *diags, hone_err *err) {
    hone_map m;
    *out = NULL;
    int rc = hone_map_open(&m, path, err);
    if (rc) return rc;
    rc = hone_ds_load_mem(out, path, (const char *)m.data, m.size, diags, err);
    hone_map_close(&m);
    return rc;
}

void hone_ds_free(hone_ds *ds) {
    if (!ds) return;
    pool_free(ds->pool);
    free(ds->recs);
    free(ds->path);
    free(ds);
}

/* ---- tokenizing ---- */

void hone_ds_example_free(hone_ds_example *ex) {
    if (!ex) return;
    free(ex->ids);
    free(ex->mask);
    memset(ex, 0, sizeof *ex);
}

/* Grows ex to hold one more token at the front (front != 0) or the back. */
static int ex_insert(hone_ds_example *ex, int front, int32_t id, unsigned char m) {
    int32_t *ids = realloc(ex->ids, (ex->n + 1) * sizeof *ids);
    if (!ids) return HONE_ENOMEM;
    ex->ids = ids;
    unsigned char *mk = realloc(ex->mask, ex->n + 1);
    if (!mk) return HONE_ENOMEM;
    ex->mask = mk;
    if (front) {
        memmove(ex->ids + 1, ex->ids, ex->n * sizeof *ids);
        memmove(ex->mask + 1, ex->mask, ex->n);
        ex->ids[0] = id;
        ex->mask[0] = m;
    } else {
        ex->ids[ex->n] = id;
        ex->mask[ex->n] = m;
    }
    ex->n++;
    return HONE_OK;
}

static int want_bos(const hone_ds_tok_opts *o) {
    if (o->add_bos == 1) return 1;
    if (o->add_bos == -2) return 0;
    return hone_tok_add_bos(o->tok);
}

int hone_ds_tokenize(const hone_ds_tok_opts *o, const hone_ds *ds, const hone_ds_record *r, hone_ds_example *ex,
                     hone_err *err) {
    memset(ex, 0, sizeof *ex);
    const char *file = ds && ds->path ? ds->path : "-";
    if (!o || !o->tok) return hone_err_set(err, HONE_EARG, "%s:%d:1: no tokenizer given", file, r->line);
    const hone_tok *tok = o->tok;
    int32_t bos = hone_tok_bos(tok), eos = hone_tok_eos(tok);
    int rc;
    if (r->format == HONE_DS_TEXT) {
        if ((rc = hone_tok_encode(tok, r->text, strlen(r->text), HONE_TOK_SPECIAL, &ex->ids, &ex->n, err)))
            return hone_err_prefix(err, "%s:%d:1", file, r->line);
        if (!(ex->mask = calloc(ex->n + 1, 1))) goto nomem;
        if (want_bos(o) && bos >= 0 && (!ex->n || ex->ids[0] != bos) && ex_insert(ex, 1, bos, 0)) goto nomem;
        if (eos >= 0 && (!ex->n || ex->ids[ex->n - 1] != eos)) {
            if (ex_insert(ex, 0, eos, 1)) goto nomem;
            ex->eos_appended = 1;
        }
        for (size_t t = 1; t < ex->n; t++) ex->mask[t] = 1;
        ex->mask[0] = 0;
        ex->n_supervised = ex->n ? ex->n - 1 : 0;
        ex->answer_tokens = ex->n;
        return HONE_OK;
    }
    if (!o->tmpl)
        return hone_err_set(err, HONE_EARG, "%s:%d:1: a %s record needs a chat template", file, r->line,
                            hone_ds_format_name(r->format));
    if (!r->n_msgs) return hone_err_set(err, HONE_EARG, "%s:%d:1: no messages", file, r->line);
    hone_chat_span *spans = calloc(r->n_msgs, sizeof *spans);
    char *text = NULL;
    size_t len = 0;
    if (!spans) goto nomem;
    if ((rc = hone_chat_render(o->tmpl, r->msgs, r->n_msgs, 0, &text, &len, spans, err))) {
        free(spans);
        return hone_err_prefix(err, "%s:%d:1: chat template %s", file, r->line, hone_chat_template_name(o->tmpl));
    }
    size_t fa = r->n_msgs - 1; /* the final assistant message (the loader guarantees it) */
    while (fa > 0 && strcmp(r->msgs[fa].role, "assistant")) fa--;
    for (size_t i = 0; i < r->n_msgs; i++)
        if (i != fa) spans[i].shown = 0;
    rc = hone_tok_encode(tok, text, len, HONE_TOK_SPECIAL, &ex->ids, &ex->n, err);
    if (!rc && !(ex->mask = calloc(ex->n + 1, 1))) rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (!rc) rc = hone_chat_mask(tok, o->tmpl, text, len, r->msgs, spans, r->n_msgs, ex->ids, ex->n, ex->mask, err);
    free(text);
    free(spans);
    if (rc) {
        hone_ds_example_free(ex);
        return hone_err_prefix(err, "%s:%d:1", file, r->line);
    }
    if (want_bos(o) && bos >= 0 && (!ex->n || ex->ids[0] != bos) && ex_insert(ex, 1, bos, 0)) goto nomem;
    /* EOS when no end-of-generation token lies at or after the last supervised token */
    size_t from = 0, n_fm = 0;
    for (size_t t = 0; t < ex->n; t++)
        if (ex->mask[t]) from = t, n_fm++;
    int has_eog = 0;
    for (size_t t = from; t < ex->n && !has_eog; t++) has_eog = hone_tok_is_eog(tok, ex->ids[t]);
    size_t last_sup = n_fm ? from : 0;
    ex->answer_tokens = n_fm - (n_fm && hone_tok_is_eog(tok, ex->ids[last_sup]));
    if (!has_eog && eos >= 0) {
        if (ex_insert(ex, 0, eos, 1)) goto nomem;
        ex->eos_appended = 1;
    }
    if (!o->mask_prompt)
        for (size_t t = 0; t < ex->n; t++) ex->mask[t] = 1;
    ex->mask[0] = 0;
    ex->n_supervised = 0;
    for (size_t t = 0; t < ex->n; t++) ex->n_supervised += ex->mask[t];
    return HONE_OK;
nomem:
    hone_ds_example_free(ex);
    return hone_err_set(err, HONE_ENOMEM, "%s:%d:1: out of memory", file, r->line);
}

/* ---- writing ---- */

int hone_ds_write_lines(const char *path, const char *const *lines, const size_t *lens, size_t n, hone_err *err) {
    hone_wfile w;
    int rc = hone_wfile_open(&w, path, err);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t l = lens ? lens[i] : strlen(lines[i]);
        if (memchr(lines[i], '\n', l)) {
            hone_wfile_abort(&w);
            return hone_err_set(err, HONE_EARG, "%s: line %zu holds a newline", path, i + 1);
        }
        rc = hone_wfile_write(&w, lines[i], l, err);
        if (!rc) rc = hone_wfile_write(&w, "\n", 1, err);
    }
    if (rc) {
        hone_wfile_abort(&w);
        return rc;
    }
    return hone_wfile_commit(&w, err);
}
