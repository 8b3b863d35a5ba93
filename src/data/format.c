/* format.c: converting records between messages, prompt-completion and text (hone_ds_convert,
 * rules in include/hone/dataset.h).
 *
 * Output keeps the record's other top-level keys in order: the raw line is parsed again with
 * jansson and a new object is built key by key, the format's keys replaced at the position of
 * the first one.
 *
 * Parsing a text back (text -> messages) needs the template's fixed pieces. They are learnt by
 * rendering marker conversations whose contents are single control bytes (never trimmed, never
 * in a template): [U A] gives the prefix before the first user content (pu), the piece between
 * user and assistant content (mu) and the tail after the final answer (end); [U A U A] gives the
 * piece between an answer and the next user content (xa); [S U A] the system form's prefix (ps)
 * and the piece between the system and the user content (ys). The text is cut at the first
 * occurrence of each expected piece, and the result is accepted only when it renders back to the
 * same bytes, so a content that happens to contain a piece can only make the parse fail, never
 * make it wrong.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "data/ds_internal.h"
#include "hone/chat.h"
#include "hone/dataset.h"
#include "util/err.h"

typedef struct pieces {
    char *pu, *mu, *end, *xa; /* xa NULL: multi-turn not learnt */
    char *ps, *ys;            /* NULL: the template takes no system message */
} pieces;

static void pieces_free(pieces *p) {
    free(p->pu); free(p->mu); free(p->end); free(p->xa); free(p->ps); free(p->ys);
    memset(p, 0, sizeof *p);
}

static char *sub(const char *s, const char *a, const char *b) { /* copy of [a, b) */
    (void)s;
    size_t n = (size_t)(b - a);
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, a, n);
        r[n] = 0;
    }
    return r;
}

static int learn(const hone_chat_template *t, pieces *p, hone_err *err) {
    memset(p, 0, sizeof *p);
    hone_chat_msg m1[] = {{"user", "\x01"}, {"assistant", "\x02"}};
    hone_chat_msg m2[] = {{"user", "\x01"}, {"assistant", "\x02"}, {"user", "\x03"}, {"assistant", "\x04"}};
    hone_chat_msg m3[] = {{"system", "\x05"}, {"user", "\x01"}, {"assistant", "\x02"}};
    char *r;
    size_t len;
    hone_err e2 = {0};
    int rc = hone_chat_render(t, m1, 2, 0, &r, &len, NULL, err);
    if (rc) return rc;
    char *u = strchr(r, 1), *a = u ? strchr(u, 2) : NULL;
    if (!u || !a || strchr(a + 1, 1) || strchr(a + 1, 2)) {
        free(r);
        return hone_err_set(err, HONE_EUNSUPPORTED, "chat template %s: cannot learn its layout", hone_chat_template_name(t));
    }
    p->pu = sub(r, r, u);
    p->mu = sub(r, u + 1, a);
    p->end = strdup(a + 1);
    free(r);
    if (hone_chat_render(t, m2, 4, 0, &r, &len, NULL, &e2) == HONE_OK) {
        char *a1 = strchr(r, 2), *u2 = a1 ? strchr(a1, 3) : NULL;
        if (a1 && u2) p->xa = sub(r, a1 + 1, u2);
        free(r);
    }
    if (hone_chat_render(t, m3, 3, 0, &r, &len, NULL, &e2) == HONE_OK) {
        char *s = strchr(r, 5), *u1 = s ? strchr(s, 1) : NULL;
        if (s && u1) {
            p->ps = sub(r, r, s);
            p->ys = sub(r, s + 1, u1);
        }
        free(r);
    }
    if (!p->pu || !p->mu || !p->end) {
        pieces_free(p);
        return hone_err_set(err, HONE_ENOMEM, "out of memory");
    }
    if (!*p->mu) {
        pieces_free(p);
        return hone_err_set(err, HONE_EUNSUPPORTED,
                            "chat template %s writes nothing between the user and the assistant content: a text "
                            "cannot be split back into messages", hone_chat_template_name(t));
    }
    return HONE_OK;
}

/* Messages of the conversation parsed from text (after the prefix) into msgs (strings
 * malloc'd into store[]); returns the count, 0 when the text does not fit. */
typedef struct parsed {
    hone_chat_msg m[64];
    char *own[64];
    size_t n;
} parsed;

static void parsed_free(parsed *q) {
    for (size_t i = 0; i < q->n; i++) free(q->own[i]);
    q->n = 0;
}

static int parsed_add(parsed *q, const char *role, const char *a, const char *b) {
    if (q->n == 64) return -1;
    char *s = sub(NULL, a, b);
    if (!s) return -1;
    q->own[q->n] = s;
    q->m[q->n++] = (hone_chat_msg){role, s};
    return 0;
}

static int split_turns(const pieces *p, const char *rest, parsed *q) {
    size_t el = strlen(p->end), rl = strlen(rest);
    for (;;) {
        const char *mu = strstr(rest, p->mu);
        if (!mu || parsed_add(q, "user", rest, mu)) return -1;
        const char *ans = mu + strlen(p->mu);
        rl = strlen(ans);
        const char *xa = p->xa && *p->xa ? strstr(ans, p->xa) : NULL;
        if (xa && xa + strlen(p->xa) <= ans + rl - el && strstr(xa + strlen(p->xa), p->mu)) {
            if (parsed_add(q, "assistant", ans, xa)) return -1;
            rest = xa + strlen(p->xa);
            continue;
        }
        if (rl < el || strcmp(ans + rl - el, p->end)) return -1;
        return parsed_add(q, "assistant", ans, ans + rl - el);
    }
}

static int renders_to(const hone_chat_template *t, const parsed *q, const char *text) {
    char *r;
    size_t len;
    hone_err e = {0};
    if (hone_chat_render(t, q->m, q->n, 0, &r, &len, NULL, &e)) return 0;
    int ok = len == strlen(text) && !memcmp(r, text, len);
    free(r);
    return ok;
}

/* text -> conversation; 0 or HONE_EFORMAT. */
static int parse_text(const hone_chat_template *t, const char *text, parsed *q, hone_err *err) {
    pieces p;
    int rc = learn(t, &p, err);
    if (rc) return rc;
    memset(q, 0, sizeof *q);
    size_t pl = strlen(p.pu);
    if (!strncmp(text, p.pu, pl) && !split_turns(&p, text + pl, q) && renders_to(t, q, text)) {
        pieces_free(&p);
        return HONE_OK;
    }
    parsed_free(q);
    if (p.ps && !strncmp(text, p.ps, strlen(p.ps))) {
        const char *s = text + strlen(p.ps), *ys = strstr(s, p.ys);
        if (ys && !parsed_add(q, "system", s, ys) && !split_turns(&p, ys + strlen(p.ys), q) && renders_to(t, q, text)) {
            pieces_free(&p);
            return HONE_OK;
        }
        parsed_free(q);
    }
    pieces_free(&p);
    return hone_err_set(err, HONE_EFORMAT, "the text is not a rendering of chat template %s", hone_chat_template_name(t));
}

static json_t *msg_obj(const char *role, const char *content) {
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

int hone_ds_convert(const hone_ds *ds, const hone_ds_record *r, hone_ds_format to, const hone_chat_template *tmpl,
                    char **line_out, hone_err *err) {
    const char *file = ds && ds->path ? ds->path : "-";
    *line_out = NULL;
    if (to == r->format) {
        if (!(*line_out = strdup(r->raw))) return hone_err_set(err, HONE_ENOMEM, "out of memory");
        return HONE_OK;
    }
    json_error_t je;
    json_t *o = json_loadb(r->raw, r->raw_len, 0, &je);
    if (!o) return hone_err_set(err, HONE_EFORMAT, "%s:%d:%d: %s", file, r->line, je.column, je.text);
    int rc = HONE_OK;
    /* the conversation to write (msgs/n), from the record or parsed from its text */
    parsed q = {0};
    const hone_chat_msg *msgs = r->msgs;
    size_t n = r->n_msgs;
    if (r->format == HONE_DS_TEXT) {
        if (!tmpl) {
            rc = hone_err_set(err, HONE_EARG, "%s:%d:1: text -> %s needs a chat template (--template)", file, r->line,
                              hone_ds_format_name(to));
            goto out;
        }
        if ((rc = parse_text(tmpl, r->text, &q, err))) {
            hone_err_prefix(err, "%s:%d:1", file, r->line);
            goto out;
        }
        msgs = q.m;
        n = q.n;
    }
    json_t *repl = NULL; /* the new format's key/values, in order */
    repl = json_object();
    if (to == HONE_DS_PROMPT_COMPLETION) {
        size_t f = n && !strcmp(msgs[0].role, "system") ? 1 : 0;
        if (n - f != 2) {
            rc = hone_err_set(err, HONE_EFORMAT,
                              "%s:%d:1: %zu messages: prompt-completion holds one user message and one answer (and an "
                              "optional system message)", file, r->line, n);
            goto out_repl;
        }
        if (r->format == HONE_DS_MESSAGES) {
            json_t *m = json_object_get(o, "messages");
            for (size_t i = 0; i < json_array_size(m); i++) {
                const char *k;
                json_t *v;
                json_object_foreach(json_array_get(m, i), k, v) {
                    if (strcmp(k, "role") && strcmp(k, "content")) {
                        ds_path_el p[3] = {{"messages", 0}, {NULL, i}, {k, 0}};
                        rc = hone_err_set(err, HONE_EFORMAT,
                                          "%s:%d:%d: messages[%zu].%s: prompt-completion cannot hold this key", file,
                                          r->line, ds_column(r->raw, r->raw_len, p, 3), i, k);
                        goto out_repl;
                    }
                }
            }
        }
        if (f) json_object_set_new(repl, "system", json_string(msgs[0].content));
        json_object_set_new(repl, "prompt", json_string(msgs[f].content));
        json_object_set_new(repl, "completion", json_string(msgs[f + 1].content));
    } else if (to == HONE_DS_MESSAGES) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, msg_obj(msgs[i].role, msgs[i].content));
        json_object_set_new(repl, "messages", arr);
    } else if (to == HONE_DS_TEXT) {
        if (!tmpl) {
            rc = hone_err_set(err, HONE_EARG, "%s:%d:1: %s -> text needs a chat template (--template)", file, r->line,
                              hone_ds_format_name(r->format));
            goto out_repl;
        }
        char *text;
        size_t len;
        if ((rc = hone_chat_render(tmpl, msgs, n, 0, &text, &len, NULL, err))) {
            hone_err_prefix(err, "%s:%d:1: chat template %s", file, r->line, hone_chat_template_name(tmpl));
            goto out_repl;
        }
        json_object_set_new(repl, "text", json_stringn(text, len));
        free(text);
    } else {
        rc = hone_err_set(err, HONE_EARG, "convert: unknown format %d", (int)to);
        goto out_repl;
    }
    /* rebuild in order: the old format's keys give way to repl at the first one's place */
    static const char *const fkeys[] = {"messages", "prompt", "completion", "system", "text"};
    json_t *out = json_object();
    int placed = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int is_f = 0;
        for (size_t i = 0; i < sizeof fkeys / sizeof *fkeys; i++) {
            if (strcmp(k, fkeys[i])) continue;
            /* only the keys of the record's own format (a stray "text" in a messages record stays) */
            if (r->format == HONE_DS_MESSAGES) is_f = !strcmp(k, "messages");
            else if (r->format == HONE_DS_PROMPT_COMPLETION)
                is_f = !strcmp(k, "prompt") || !strcmp(k, "completion") || !strcmp(k, "system");
            else is_f = !strcmp(k, "text");
        }
        if (is_f) {
            if (!placed) {
                const char *k2;
                json_t *v2;
                json_object_foreach(repl, k2, v2) json_object_set(out, k2, v2);
                placed = 1;
            }
            continue;
        }
        if (json_object_get(repl, k)) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s:%d:1: the record already has a \"%s\" key", file, r->line, k);
            json_decref(out);
            goto out_repl;
        }
        json_object_set(out, k, v);
    }
    char *s = json_dumps(out, JSON_PRESERVE_ORDER);
    json_decref(out);
    if (!s) rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
    *line_out = s;
out_repl:
    json_decref(repl);
out:
    parsed_free(&q);
    json_decref(o);
    return rc;
}
