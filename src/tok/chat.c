/* chat.c: built-in chat templates (see include/hone/tokenizer.h for the list and
 * their exact layouts), recognised from the model's Jinja template text or its
 * vocabulary, rendered in C with the byte span of every message so training can
 * supervise exactly the assistant tokens.
 *
 * Each renderer is a transcription of its family's Jinja template into appends;
 * tests/ref/make_chat_fixture.py renders the same conversations with jinja2 the
 * way transformers' apply_chat_template does (trim_blocks, lstrip_blocks) and the
 * C test compares byte for byte. Jinja's `trim` is Python's str.strip(), whose
 * whitespace set (Unicode White_Space plus U+001C..U+001F) is reproduced here. */
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/tok_internal.h"
#include "util/err.h"

typedef enum chat_kind {
    CHAT_RAW, CHAT_GEMMA, CHAT_CHATML, CHAT_LLAMA3, CHAT_MISTRAL, CHAT_SEED, CHAT_DEEPSEEK, CHAT_N
} chat_kind;

static const char *const NAMES[CHAT_N + 1] = {"raw", "gemma", "chatml", "llama3", "mistral", "seed", "deepseek", NULL};

struct hone_chat {
    chat_kind kind;
    char *bos, *eos;        /* token texts used by the template ("" if none) */
    char *default_system;   /* chatml: system prompt the model's template inserts, or NULL */
};

const char *const *hone_chat_names(void) { return NAMES; }
const char *hone_chat_name(const hone_chat *c) { return NAMES[c->kind]; }

const char *hone_chat_warning(const hone_chat *c) {
    if (c->kind == CHAT_SEED)
        return "chat template 'seed' (<bos>user\\n...<eos>\\n<bos>model\\n...) is the seed workflow's "
               "layout, not Gemma's own template (<start_of_turn>user\\n...<end_of_turn>); a model "
               "fine-tuned on it will expect it at inference time";
    return NULL;
}

void hone_chat_free(hone_chat *c) {
    if (!c) return;
    free(c->bos);
    free(c->eos);
    free(c->default_system);
    free(c);
}

/* ---- recognising a template -------------------------------------------------- */

static int has(const char *s, size_t n, const char *pat) {
    size_t m = strlen(pat);
    if (m > n) return 0;
    for (size_t i = 0; i + m <= n; i++)
        if (s[i] == pat[0] && !memcmp(s + i, pat, m)) return 1;
    return 0;
}

/* The literal system prompt a ChatML template inserts when the conversation has
 * none: "<|im_start|>system" + newline (real or the two characters \n) + a
 * literal without Jinja syntax + "<|im_end|>". NULL if there is none. */
static char *chatml_default_system(const char *s, size_t n) {
    const char *key = "<|im_start|>system";
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (memcmp(s + i, key, kl)) continue;
        size_t j = i + kl;
        if (j < n && s[j] == '\n') j++;
        else if (j + 1 < n && s[j] == '\\' && s[j + 1] == 'n') j += 2;
        else continue;
        size_t k = j;
        while (k + 10 <= n && memcmp(s + k, "<|im_end|>", 10)) {
            if (s[k] == '\'' || s[k] == '"' || s[k] == '{' || s[k] == '+') break;
            k++;
        }
        if (k + 10 > n || memcmp(s + k, "<|im_end|>", 10) || k == j) continue;
        char *out = malloc(k - j + 1);
        if (!out) return NULL;
        size_t o = 0;
        for (size_t q = j; q < k; q++) {
            if (s[q] == '\\' && q + 1 < k && s[q + 1] == 'n') {
                out[o++] = '\n';
                q++;
            } else {
                out[o++] = s[q];
            }
        }
        out[o] = 0;
        return out;
    }
    return NULL;
}

static char *dup_piece(const hone_tok *t, int32_t id, const char *fallback) {
    hone_str s = t ? hone_tok_piece(t, id) : (hone_str){NULL, 0};
    if (!s.ptr) {
        s.ptr = fallback;
        s.len = strlen(fallback);
    }
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = 0;
    }
    return p;
}

int hone_chat_open(hone_chat **out, const hone_gguf *g, const hone_tok *t, const char *name,
                   hone_err *err) {
    *out = NULL;
    int kind = -1;
    hone_str tmpl = {NULL, 0};
    if (g) hone_gguf_get_str(g, "tokenizer.chat_template", &tmpl);
    if (!tmpl.ptr && t && hone_tok_chat_template(t))
        tmpl = (hone_str){hone_tok_chat_template(t), strlen(hone_tok_chat_template(t))};
    if (name) {
        for (int k = 0; k < CHAT_N; k++)
            if (!strcmp(name, NAMES[k])) kind = k;
        if (kind < 0)
            return hone_err_set(err, HONE_EUNSUPPORTED,
                                "chat template '%s' unknown (built-in: raw, gemma, chatml, llama3, "
                                "mistral, seed, deepseek)", name);
    } else if (tmpl.ptr) {
        if (has(tmpl.ptr, tmpl.len, "<start_of_turn>")) kind = CHAT_GEMMA;
        else if (has(tmpl.ptr, tmpl.len, "<｜Assistant｜>")) kind = CHAT_DEEPSEEK;
        else if (has(tmpl.ptr, tmpl.len, "<|start_header_id|>")) kind = CHAT_LLAMA3;
        else if (has(tmpl.ptr, tmpl.len, "<|im_start|>")) kind = CHAT_CHATML;
        else if (has(tmpl.ptr, tmpl.len, "[INST]")) kind = CHAT_MISTRAL;
    }
    if (kind < 0 && !name && t) {
        if (hone_tok_find(t, "<start_of_turn>", 15) >= 0) kind = CHAT_GEMMA;
        else if (hone_tok_find(t, "<｜Assistant｜>", strlen("<｜Assistant｜>")) >= 0) kind = CHAT_DEEPSEEK;
        else if (hone_tok_find(t, "<|start_header_id|>", 19) >= 0) kind = CHAT_LLAMA3;
        else if (hone_tok_find(t, "<|im_start|>", 12) >= 0) kind = CHAT_CHATML;
        else if (hone_tok_find(t, "[INST]", 6) >= 0) kind = CHAT_MISTRAL;
    }
    if (kind < 0)
        return hone_err_set(err, HONE_EUNSUPPORTED,
                            "%s: chat template not recognised (%s); choose one with --chat-template "
                            "(raw, gemma, chatml, llama3, mistral, seed, deepseek)",
                            g ? hone_gguf_path(g) : "model",
                            tmpl.ptr ? "tokenizer.chat_template matches no built-in family"
                                     : "no tokenizer.chat_template and no known turn tokens");
    hone_chat *c = calloc(1, sizeof *c);
    if (!c) return hone_err_set(err, HONE_ENOMEM, "chat template: out of memory");
    c->kind = (chat_kind)kind;
    const char *fb_bos = kind == CHAT_LLAMA3 ? "<|begin_of_text|>" : kind == CHAT_MISTRAL ? "<s>"
                       : kind == CHAT_DEEPSEEK ? "<｜begin▁of▁sentence｜>" : "<bos>";
    const char *fb_eos = kind == CHAT_MISTRAL ? "</s>" : "<eos>";
    c->bos = dup_piece(t, t ? hone_tok_bos(t) : -1, fb_bos);
    c->eos = dup_piece(t, t ? hone_tok_eos(t) : -1, fb_eos);
    if (kind == CHAT_CHATML && tmpl.ptr) c->default_system = chatml_default_system(tmpl.ptr, tmpl.len);
    if (!c->bos || !c->eos) {
        hone_chat_free(c);
        return hone_err_set(err, HONE_ENOMEM, "chat template: out of memory");
    }
    *out = c;
    return HONE_OK;
}

/* ---- rendering ------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void add(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void adds(sbuf *b, const char *s) { add(b, s, strlen(s)); }

/* Python str.isspace() for the code point at s (length *n set). */
static int py_space_at(const unsigned char *s, size_t avail, size_t *n) {
    uint32_t cp;
    if (s[0] < 0x80) {
        *n = 1;
        cp = s[0];
    } else if ((s[0] & 0xE0) == 0xC0 && avail >= 2) {
        *n = 2;
        cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
    } else if ((s[0] & 0xF0) == 0xE0 && avail >= 3) {
        *n = 3;
        cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    } else {
        *n = 1;
        return 0;
    }
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Jinja's trim: strips Python whitespace at both ends. */
static void trimmed(const char *s, const char **start, size_t *len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), a = 0, e = n, k;
    while (a < n && py_space_at(p + a, n - a, &k)) a += k;
    while (e > a) { /* step back over one code point */
        size_t b = e - 1;
        while (b > a && (p[b] & 0xC0) == 0x80) b--;
        if (!py_space_at(p + b, e - b, &k) || b + k != e) break;
        e = b;
    }
    *start = s + a;
    *len = e - a;
}

static int role_of(const char *r) {
    return !strcmp(r, "system") ? 0 : !strcmp(r, "user") ? 1 : !strcmp(r, "assistant") ? 2 : -1;
}

int hone_chat_render(const hone_chat *c, const hone_chat_msg *m, size_t n, int gen, char **text,
                     size_t *len, hone_chat_span *spans, hone_err *err) {
    *text = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++)
        if (!m[i].role || !m[i].content || role_of(m[i].role) < 0)
            return hone_err_set(err, HONE_EARG,
                                "chat message %zu: role '%s' (expected system, user or assistant)%s", i,
                                m[i].role ? m[i].role : "(null)", m[i].content ? "" : ", no content");
    sbuf b = {0};
    hone_chat_span dummy;
    size_t first = 0; /* first message rendered in the loop (after a folded system) */
    const char *prefix = NULL;
    int fold = c->kind == CHAT_GEMMA || c->kind == CHAT_MISTRAL || c->kind == CHAT_SEED;
    if (fold && n > 0 && role_of(m[0].role) == 0) {
        prefix = m[0].content;
        first = 1;
    }
#define SPAN(i) (spans ? &spans[i] : &dummy)
    if (first) *SPAN(0) = (hone_chat_span){0, 0, 0};
    switch (c->kind) {
    case CHAT_GEMMA:
    case CHAT_MISTRAL:
        adds(&b, c->bos);
        break;
    case CHAT_DEEPSEEK: /* bos, then the last system message's content */
        adds(&b, c->bos);
        for (size_t i = n; i-- > 0;)
            if (role_of(m[i].role) == 0) {
                adds(&b, m[i].content);
                break;
            }
        break;
    default:
        break;
    }
    for (size_t i = first; i < n; i++) {
        size_t j = i - first;
        int role = role_of(m[i].role);
        const char *cs = m[i].content;
        size_t cl = strlen(cs);
        hone_chat_span *sp = SPAN(i);
        if ((c->kind == CHAT_GEMMA || c->kind == CHAT_MISTRAL) && (role == 1) != (j % 2 == 0)) {
            free(b.p);
            return hone_err_set(err, HONE_EARG,
                                "chat message %zu: roles must alternate user/assistant/user/... "
                                "(after an optional first system message) for template '%s'",
                                i, NAMES[c->kind]);
        }
        if (c->kind == CHAT_MISTRAL && role == 0) {
            free(b.p);
            return hone_err_set(err, HONE_EARG, "chat message %zu: template 'mistral' takes a system "
                                "message only first", i);
        }
        switch (c->kind) {
        case CHAT_GEMMA:
            adds(&b, "<start_of_turn>");
            adds(&b, role == 2 ? "model" : m[i].role);
            adds(&b, "\n");
            if (j == 0 && prefix) {
                adds(&b, prefix);
                adds(&b, "\n\n");
            }
            trimmed(cs, &cs, &cl);
            sp->start = b.n;
            add(&b, cs, cl);
            sp->end = b.n;
            adds(&b, "<end_of_turn>");
            sp->end_turn = b.n;
            adds(&b, "\n");
            break;
        case CHAT_CHATML:
            if (i == 0 && role != 0 && c->default_system) {
                adds(&b, "<|im_start|>system\n");
                adds(&b, c->default_system);
                adds(&b, "<|im_end|>\n");
            }
            adds(&b, "<|im_start|>");
            adds(&b, m[i].role);
            adds(&b, "\n");
            sp->start = b.n;
            add(&b, cs, cl);
            sp->end = b.n;
            adds(&b, "<|im_end|>");
            sp->end_turn = b.n;
            adds(&b, "\n");
            break;
        case CHAT_LLAMA3:
            if (i == 0) adds(&b, c->bos);
            adds(&b, "<|start_header_id|>");
            adds(&b, m[i].role);
            adds(&b, "<|end_header_id|>\n\n");
            trimmed(cs, &cs, &cl);
            sp->start = b.n;
            add(&b, cs, cl);
            sp->end = b.n;
            adds(&b, "<|eot_id|>");
            sp->end_turn = b.n;
            break;
        case CHAT_MISTRAL:
            if (role == 1) {
                adds(&b, "[INST] ");
                if (j == 0 && prefix) {
                    adds(&b, prefix);
                    adds(&b, "\n\n");
                }
                sp->start = b.n;
                add(&b, cs, cl);
                sp->end = sp->end_turn = b.n;
                adds(&b, " [/INST]");
            } else {
                sp->start = b.n;
                add(&b, cs, cl);
                sp->end = b.n;
                adds(&b, c->eos);
                sp->end_turn = b.n;
            }
            break;
        case CHAT_SEED:
            if (j > 0) adds(&b, "\n");
            adds(&b, c->bos);
            adds(&b, role == 2 ? "model" : "user");
            adds(&b, "\n");
            if (j == 0 && prefix) {
                adds(&b, prefix);
                adds(&b, "\n\n");
            }
            sp->start = b.n;
            add(&b, cs, cl);
            sp->end = b.n;
            adds(&b, c->eos);
            sp->end_turn = b.n;
            break;
        case CHAT_DEEPSEEK:
            if (role == 0) { /* rendered up front */
                sp->start = sp->end = sp->end_turn = b.n;
            } else if (role == 1) {
                adds(&b, "<｜User｜>");
                sp->start = b.n;
                add(&b, cs, cl);
                sp->end = sp->end_turn = b.n;
            } else { /* the template keeps only what follows the last </think> */
                for (const char *q = cs; (q = strstr(q, "</think>")); q += 8) cs = q + 8;
                cl = strlen(cs);
                adds(&b, "<｜Assistant｜>");
                sp->start = b.n;
                add(&b, cs, cl);
                sp->end = b.n;
                adds(&b, "<｜end▁of▁sentence｜>");
                sp->end_turn = b.n;
            }
            break;
        default: /* raw */
            sp->start = b.n;
            add(&b, cs, cl);
            sp->end = sp->end_turn = b.n;
            break;
        }
    }
    if (gen) {
        switch (c->kind) {
        case CHAT_GEMMA: adds(&b, "<start_of_turn>model\n"); break;
        case CHAT_CHATML: adds(&b, "<|im_start|>assistant\n"); break;
        case CHAT_LLAMA3: adds(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n"); break;
        case CHAT_DEEPSEEK: adds(&b, "<｜Assistant｜><think>\n"); break;
        case CHAT_SEED:
            if (n > first) adds(&b, "\n");
            adds(&b, c->bos);
            adds(&b, "model\n");
            break;
        default: break; /* mistral and raw add nothing */
        }
    }
#undef SPAN
    if (!b.p && !b.oom) adds(&b, "");
    if (b.oom) {
        free(b.p);
        return hone_err_set(err, HONE_ENOMEM, "chat template: out of memory");
    }
    *text = b.p;
    *len = b.n;
    return HONE_OK;
}
