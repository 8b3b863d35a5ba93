/* chat.c: chat templates (see include/hone/chat.h for the list and the file format).
 *
 * No Jinja interpreter: every supported template is one "layout", a table of plain strings
 * (BOS, a prefix and suffix per role, a separator between turns, the generation prompt) plus
 * a few switches that reproduce what the family's Jinja does to the conversation:
 *   - where the system message goes: its own turn, folded in front of the first user content
 *     (Gemma, Mistral), or the last system message hoisted right after BOS (DeepSeek-R1);
 *   - a default system message when the first message is not a system message (Qwen, SmolLM2);
 *   - content transforms: Jinja's `| trim` (Python str.strip: Unicode whitespace at both ends),
 *     DeepSeek's "keep what follows the last </think>" for assistant history;
 *   - the alternation check the Jinja raises with raise_exception: message i of the loop must be
 *     a user message exactly when i is even (the test is parity only, as in the Jinja).
 * Each built-in is checked byte-for-byte against transformers' rendering of the real template
 * (tests/fixtures/chat_templates.json, written by tests/ref/make_chat_fixture.py). The spans are
 * recorded while writing, so they are exact by construction; the test checks them anyway.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hone/chat.h"
#include "tok/chat_internal.h"
#include "util/err.h"
#include "util/fileio.h"

enum { R_SYS = 0, R_USER = 1, R_ASST = 2 };
/* SYS_HEAD: a system turn always comes first, holding a fixed head (Llama 3.1's dated block) and
 * the first message's content when that is a system message. */
enum { SYS_TURN, SYS_FOLD, SYS_HOIST_LAST, SYS_DROP, SYS_HEAD };

typedef struct layout {
    const char *name;
    const char *bos;
    const char *pre[3], *suf[3]; /* by role; pre NULL: the role is refused (role_error) */
    const char *sep;             /* between turns (and before the generation prompt) */
    const char *gen;             /* the open assistant turn */
    const char *eot;             /* the end-of-turn marker masks include */
    const char *default_system;  /* used when messages[0] is not a system message */
    const char *fold_sep;        /* SYS_FOLD: between the system content and the first user content */
    const char *alt_error;       /* non-NULL: loop roles must alternate, this is the Jinja's message */
    const char *role_error;      /* message for a role the template refuses */
    const char *warning;
    int sys_mode;
    int dated;     /* SYS_HEAD head is "Cutting Knowledge Date: December 2023\nToday Date: DATE\n\n";
                      1: DATE defaults to "26 Jul 2024", 2: to today (strftime "%d %b %Y") */
    int trim;      /* Jinja `| trim` on every loop message's content */
    int think_cut; /* assistant content: only what follows the last "</think>" */
} layout;

static const char QWEN_SYSTEM[] = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
static const char SMOL_SYSTEM[] = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
static const char ALT_GEMMA[] = "Conversation roles must alternate user/assistant/user/assistant/...";
static const char ALT_MISTRAL[] =
    "After the optional system message, conversation roles must alternate user/assistant/user/assistant/...";

#define CHATML_ROLES                                                                       \
    .pre = {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},      \
    .suf = {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"}, .gen = "<|im_start|>assistant\n", \
    .eot = "<|im_end|>"

static const layout BUILTINS[] = {
    {.name = "gemma", .bos = "<bos>",
     .pre = {"<start_of_turn>system\n", "<start_of_turn>user\n", "<start_of_turn>model\n"},
     .suf = {"<end_of_turn>\n", "<end_of_turn>\n", "<end_of_turn>\n"},
     .gen = "<start_of_turn>model\n", .eot = "<end_of_turn>", .sys_mode = SYS_FOLD, .fold_sep = "\n\n",
     .alt_error = ALT_GEMMA, .trim = 1},
    {.name = "llama3", .bos = "<|begin_of_text|>",
     .pre = {"<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
             "<|start_header_id|>assistant<|end_header_id|>\n\n"},
     .suf = {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
     .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n", .eot = "<|eot_id|>", .sys_mode = SYS_TURN,
     .trim = 1},
    {.name = "llama3.1", .bos = "<|begin_of_text|>",
     .pre = {"<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
             "<|start_header_id|>assistant<|end_header_id|>\n\n"},
     .suf = {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
     .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n", .eot = "<|eot_id|>", .sys_mode = SYS_HEAD,
     .dated = 1, .trim = 1},
    {.name = "llama3.2", .bos = "<|begin_of_text|>",
     .pre = {"<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
             "<|start_header_id|>assistant<|end_header_id|>\n\n"},
     .suf = {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
     .gen = "<|start_header_id|>assistant<|end_header_id|>\n\n", .eot = "<|eot_id|>", .sys_mode = SYS_HEAD,
     .dated = 2, .trim = 1},
    {.name = "mistral", .bos = "<s>", .pre = {NULL, " [INST] ", " "}, .suf = {NULL, " [/INST]", "</s>"},
     .gen = "", .eot = "</s>", .sys_mode = SYS_FOLD, .fold_sep = "\n\n", .alt_error = ALT_MISTRAL,
     .role_error = "Only user and assistant roles are supported, with the exception of an initial optional "
                   "system message!"},
    {.name = "chatml", CHATML_ROLES, .sys_mode = SYS_TURN, .default_system = QWEN_SYSTEM},
    {.name = "smollm2", CHATML_ROLES, .sys_mode = SYS_TURN, .default_system = SMOL_SYSTEM},
    {.name = "chatml-plain", CHATML_ROLES, .sys_mode = SYS_TURN},
    {.name = "deepseek", .bos = "<｜begin▁of▁sentence｜>", .pre = {"", "<｜User｜>", "<｜Assistant｜>"},
     .suf = {"", "", "<｜end▁of▁sentence｜>"}, .gen = "<｜Assistant｜><think>\n", .eot = "<｜end▁of▁sentence｜>",
     .sys_mode = SYS_HOIST_LAST, .think_cut = 1},
    {.name = "raw", .pre = {"", "", ""}, .suf = {"", "", ""}, .gen = "", .eot = "", .sys_mode = SYS_TURN},
    {.name = "seed", .pre = {NULL, "<bos>user\n", "<bos>model\n"}, .suf = {NULL, "<eos>", "<eos>"}, .sep = "\n",
     .gen = "<bos>model\n", .eot = "<eos>", .sys_mode = SYS_FOLD, .fold_sep = "\n\n", .alt_error = ALT_GEMMA,
     .role_error = "the seed layout has user and model turns only (a first system message is folded)",
     .warning = "chat template 'seed' is the seed workflow's literal layout (<bos>user\\n...<eos>\\n<bos>model\\n"
                "...<eos>), not Gemma's own template (<start_of_turn>user\\n...<end_of_turn>\\n); a model tuned "
                "with it expects that layout at inference"},
};
#define N_BUILTINS (sizeof BUILTINS / sizeof BUILTINS[0])

static const char *const NAMES[] = {"gemma", "llama3", "llama3.1", "llama3.2", "mistral", "chatml", "qwen2.5", "smollm2",
                                    "chatml-plain", "deepseek", "raw", "seed", NULL};

struct hone_chat_template {
    layout l;
    char *name;
    char *strings; /* file templates: owns every string l points to (NUL-separated) */
    char head[96]; /* SYS_HEAD: the dated head */
};

static void set_head(hone_chat_template *t, const char *date) {
    snprintf(t->head, sizeof t->head, "Cutting Knowledge Date: December 2023\nToday Date: %s\n\n", date);
}

int hone_chat_template_set_date(hone_chat_template *t, const char *date, hone_err *err) {
    if (!t->l.dated) return hone_err_set(err, HONE_EARG, "chat template %s has no date", t->name);
    if (!date || strlen(date) > 40) return hone_err_set(err, HONE_EARG, "chat template %s: bad date", t->name);
    set_head(t, date);
    return HONE_OK;
}

const char *const *hone_chat_template_names(void) { return NAMES; }
const char *hone_chat_template_name(const hone_chat_template *t) { return t->name; }
const char *hone_chat_template_warning(const hone_chat_template *t) { return t->l.warning; }
const char *hone_chat_template_eot(const hone_chat_template *t) { return t->l.eot ? t->l.eot : ""; }

/* ---- template files ---------------------------------------------------------------- */

/* Unescapes \n \t \\ in place (the result is never longer); other backslashes stay literal. */
static void unescape(char *s) {
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && (r[1] == 'n' || r[1] == 't' || r[1] == '\\')) {
            *w++ = r[1] == 'n' ? '\n' : r[1] == 't' ? '\t' : '\\';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* Splits "PRE{placeholder}SUF" at the placeholder ({content} or {role}) in place. */
static int split_role(char *v, const char *role, const char **pre, const char **suf) {
    char ph[32];
    snprintf(ph, sizeof ph, "{%s}", role);
    char *at = strstr(v, ph);
    size_t plen = strlen(ph);
    if (!at) {
        at = strstr(v, "{content}");
        plen = 9;
    }
    if (!at) return -1;
    *at = 0;
    *pre = v;
    *suf = at + plen;
    return 0;
}

/* Parses t->strings (len bytes, NUL-terminated); path names it in errors. */
static int file_parse(hone_chat_template *t, const char *path, size_t len, hone_err *err) {
    layout *l = &t->l;
    memset(l, 0, sizeof *l);
    l->name = t->name;
    l->bos = l->sep = l->eot = "";
    l->sys_mode = SYS_TURN;
    l->fold_sep = "\n\n";
    l->role_error = "the template file has no line for this role";
    int has_gen = 0;
    size_t off = 0;
    for (char *line = t->strings; line && off < len;) {
        char *nl = strchr(line, '\n');
        size_t line_off = off;
        if (nl) *nl = 0;
        off += strlen(line) + (nl ? 1 : 0);
        char *next = nl ? nl + 1 : NULL;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') line[--n] = 0;
        if (n && line[0] != '#') {
            char *colon = strchr(line, ':');
            if (!colon)
                return hone_err_set(err, HONE_EFORMAT, "%s: byte %zu: expected 'KEY: VALUE'", path, line_off);
            *colon = 0;
            char *v = colon + 1;
            if (*v == ' ') v++;
            unescape(v);
            const char *k = line;
            int role = !strcmp(k, "system") ? R_SYS : !strcmp(k, "user") ? R_USER : !strcmp(k, "assistant") ? R_ASST : -1;
            if (role >= 0) {
                if (split_role(v, k, &l->pre[role], &l->suf[role]))
                    return hone_err_set(err, HONE_EFORMAT, "%s: byte %zu: '%s' needs a {%s} (or {content}) placeholder",
                                        path, line_off, k, k);
                if (role == R_ASST) l->eot = l->suf[R_ASST];
            } else if (!strcmp(k, "bos")) {
                l->bos = v;
            } else if (!strcmp(k, "generation")) {
                l->gen = v;
                has_gen = 1;
            } else if (!strcmp(k, "default_system")) {
                l->default_system = v;
            } else if (!strcmp(k, "separator")) {
                l->sep = v;
            } else if (!strcmp(k, "system_mode")) {
                if (!strcmp(v, "turn")) l->sys_mode = SYS_TURN;
                else if (!strcmp(v, "fold")) l->sys_mode = SYS_FOLD;
                else if (!strcmp(v, "drop")) l->sys_mode = SYS_DROP;
                else
                    return hone_err_set(err, HONE_EFORMAT, "%s: byte %zu: system_mode '%s': expected turn, fold or drop",
                                        path, line_off, v);
            } else {
                return hone_err_set(err, HONE_EFORMAT,
                                    "%s: byte %zu: unknown key '%s' (expected bos, system, user, assistant, "
                                    "generation, default_system, separator, system_mode)", path, line_off, k);
            }
        }
        if (!next) break;
        line = next;
    }
    if (!l->pre[R_USER] || !l->pre[R_ASST])
        return hone_err_set(err, HONE_EFORMAT, "%s: needs at least 'user:' and 'assistant:' lines", path);
    if (l->sys_mode == SYS_TURN && !l->pre[R_SYS]) {
        if (l->default_system)
            return hone_err_set(err, HONE_EFORMAT, "%s: default_system needs a 'system:' line (or system_mode: fold)",
                                path);
        l->role_error = "the template file has no 'system:' line";
    }
    if (!has_gen) l->gen = l->pre[R_ASST];
    return HONE_OK;
}

int hone_chat_template_open(hone_chat_template **out, const char *name, hone_err *err) {
    *out = NULL;
    if (!name) return hone_err_set(err, HONE_EARG, "chat template: no name given");
    hone_chat_template *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        return hone_err_set(err, HONE_ENOMEM, "chat template: out of memory");
    }
    if (!strncmp(name, "file:", 5)) {
        size_t len;
        int rc = hone_file_read_all(name + 5, &t->strings, &len, err);
        if (!rc) rc = file_parse(t, name + 5, len, err);
        if (rc) {
            hone_chat_template_close(t);
            return rc;
        }
        *out = t;
        return HONE_OK;
    }
    const char *want = !strcmp(name, "qwen2.5") ? "chatml" : name;
    for (size_t i = 0; i < N_BUILTINS; i++) {
        if (!strcmp(BUILTINS[i].name, want)) {
            t->l = BUILTINS[i];
            if (t->l.dated == 1) {
                set_head(t, "26 Jul 2024");
            } else if (t->l.dated == 2) {
                /* transformers gives the template strftime_now: today's local date. */
                char d[40];
                time_t now = time(NULL);
                struct tm tmv;
                strftime(d, sizeof d, "%d %b %Y", localtime_r(&now, &tmv));
                set_head(t, d);
            }
            *out = t;
            return HONE_OK;
        }
    }
    hone_chat_template_close(t);
    return hone_err_set(err, HONE_ENOTFOUND,
                        "chat template '%s': unknown (expected gemma, llama3, llama3.1, llama3.2, mistral, chatml, qwen2.5, smollm2, "
                        "chatml-plain, deepseek, raw, seed or file:PATH)", name);
}

int chat_template_from_text(hone_chat_template **out, const char *name, const char *text, size_t len,
                            hone_err *err) {
    *out = NULL;
    hone_chat_template *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name)) || !(t->strings = malloc(len + 1))) {
        hone_chat_template_close(t);
        return hone_err_set(err, HONE_ENOMEM, "chat template: out of memory");
    }
    memcpy(t->strings, text, len);
    t->strings[len] = 0;
    int rc = file_parse(t, name, len, err);
    if (rc) {
        hone_chat_template_close(t);
        return rc;
    }
    *out = t;
    return HONE_OK;
}

void hone_chat_template_close(hone_chat_template *t) {
    if (!t) return;
    free(t->strings);
    free(t->name);
    free(t);
}

/* ---- detection -------------------------------------------------------------------------- */

static int has(const char *s, size_t n, const char *needle) { return memmem(s, n, needle, strlen(needle)) != NULL; }

const char *hone_chat_template_detect(const char *j, size_t n) {
    if (!j) return NULL;
    if (has(j, n, "<start_of_turn>")) {
        /* Gemma 3 (first_user_prefix); Gemma 1/2 raise on a system message but otherwise
         * render the same turns. Gemma 3n shares the Gemma 3 text. Gemma 4 uses other markers. */
        return "gemma";
    }
    if (has(j, n, "<|start_header_id|>")) {
        /* Llama 3.1 / 3.3 always write a system turn dated "26 Jul 2024"; 3.2 dates it today. */
        if (has(j, n, "Cutting Knowledge Date: December 2023")) {
            if (has(j, n, "strftime_now")) return "llama3.2";
            if (has(j, n, "26 Jul 2024")) return "llama3.1";
            return NULL;
        }
        if (has(j, n, "ipython") || has(j, n, "tools")) return NULL; /* other tool-using variants */
        return "llama3";
    }
    if (has(j, n, "<｜User｜>") && has(j, n, "<｜Assistant｜>")) {
        /* R1 distills: strip reasoning from history; V3 (no </think>) and V3.1+ ("thinking") differ. */
        if (has(j, n, "</think>") && !has(j, n, "thinking")) return "deepseek";
        return NULL;
    }
    if (has(j, n, "<|im_start|>")) {
        if (has(j, n, "<think>") || has(j, n, "enable_thinking")) return NULL; /* Qwen 3, QwQ, SmolLM3 */
        if (has(j, n, "You are Qwen, created by Alibaba Cloud")) return "chatml";
        if (has(j, n, "named SmolLM, trained by Hugging Face")) return "smollm2";
        if (has(j, n, "You are ") || has(j, n, "tools")) return NULL; /* another default system prompt */
        return "chatml-plain";
    }
    if (has(j, n, "[INST]")) {
        /* Mistral v0.2's "v1" layout writes " [INST] " with a leading space (and "</s>" after
         * answers through eos_token); v3/tekken/v7 write "[INST]" flush, Llama 2 uses <<SYS>>. */
        if (has(j, n, "' [INST] '") && !has(j, n, "<<SYS>>") && !has(j, n, "[AVAILABLE_TOOLS]")) return "mistral";
        return NULL;
    }
    return NULL;
}

/* ---- rendering -------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->oom || (n == 0 && b->p)) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
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

static void sb_str(sbuf *b, const char *s) {
    if (s) sb_add(b, s, strlen(s));
}

/* Length of the Python-whitespace character (str.isspace) at s, or 0. */
static size_t space_at(const unsigned char *s, size_t n) {
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0d) || (s[0] >= 0x1c && s[0] <= 0x20))) return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
    if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3;                  /* U+1680 */
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&                                      /* U+2000-200A, */
        ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf)) /* 2028, 2029, 202F */
        return 3;
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3;                  /* U+205F */
    if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3;                  /* U+3000 */
    return 0;
}

/* Python str.strip() on UTF-8: narrows [*b, *e). Trailing side: step back over UTF-8 sequences. */
static void trim_span(const char *s, size_t *b, size_t *e) {
    const unsigned char *u = (const unsigned char *)s;
    size_t k;
    while (*b < *e && (k = space_at(u + *b, *e - *b)) > 0) *b += k;
    while (*e > *b) {
        size_t st = *e - 1;
        while (st > *b && (u[st] & 0xc0) == 0x80 && *e - st < 4) st--;
        if (space_at(u + st, *e - st) != *e - st) break;
        *e = st;
    }
}

static int role_of(const char *r) {
    if (!r) return -1;
    if (!strcmp(r, "system")) return R_SYS;
    if (!strcmp(r, "user")) return R_USER;
    if (!strcmp(r, "assistant") || !strcmp(r, "model")) return R_ASST;
    return -1;
}

/* Writes one message's content (with the template's transforms) and records its span. */
static void put_content(sbuf *b, const layout *l, int role, const char *c, int trim, hone_chat_span *sp) {
    size_t cb = 0, ce = strlen(c);
    if (trim) trim_span(c, &cb, &ce);
    if (l->think_cut && role == R_ASST) {
        const char *last = NULL;
        for (const char *p = c; (p = strstr(p, "</think>")) != NULL; p++) last = p;
        if (last) cb = (size_t)(last - c) + 8;
    }
    if (sp) sp->begin = b->n;
    sb_add(b, c + cb, ce - cb);
    if (sp) sp->end = b->n;
}

int hone_chat_render(const hone_chat_template *t, const hone_chat_msg *msgs, size_t n, int add_gen,
                     char **out, size_t *out_len, hone_chat_span *spans, hone_err *err) {
    const layout *l = &t->l;
    if (n == 0 || !msgs) return hone_err_set(err, HONE_EARG, "chat template %s: no messages", t->name);
    for (size_t i = 0; i < n; i++) {
        if (role_of(msgs[i].role) < 0)
            return hone_err_set(err, HONE_EARG, "messages[%zu].role: '%s' is not system, user or assistant", i,
                                msgs[i].role ? msgs[i].role : "(null)");
        if (!msgs[i].content) return hone_err_set(err, HONE_EARG, "messages[%zu].content: missing", i);
    }
    int first_sys = role_of(msgs[0].role) == R_SYS;
    /* The loop: every message except a folded or hoisted system message. Check it as the Jinja does. */
    size_t li = 0;
    for (size_t i = 0; i < n; i++) {
        int r = role_of(msgs[i].role);
        if (r == R_SYS && (((l->sys_mode == SYS_FOLD || l->sys_mode == SYS_HEAD) && i == 0) ||
                           l->sys_mode == SYS_HOIST_LAST || l->sys_mode == SYS_DROP))
            continue;
        if (l->alt_error && (r == R_USER) != (li % 2 == 0))
            return hone_err_set(err, HONE_EARG, "messages[%zu] (%s): chat template %s: %s", i, msgs[i].role, t->name,
                                l->alt_error);
        if (!l->pre[r])
            return hone_err_set(err, HONE_EARG, "messages[%zu] (%s): chat template %s: %s", i, msgs[i].role, t->name,
                                l->role_error ? l->role_error : "role not supported");
        li++;
    }

    sbuf b = {0};
    sb_add(&b, "", 0);
    sb_str(&b, l->bos);
    if (spans) memset(spans, 0, n * sizeof *spans);
    int turns = 0;
    size_t hoisted = SIZE_MAX;
    if (l->sys_mode == SYS_HOIST_LAST) {
        for (size_t i = 0; i < n; i++)
            if (role_of(msgs[i].role) == R_SYS) hoisted = i;
        size_t at = b.n;
        if (hoisted != SIZE_MAX) put_content(&b, l, R_SYS, msgs[hoisted].content, 0, spans ? &spans[hoisted] : NULL);
        for (size_t i = 0; spans && i < n; i++) {
            if (role_of(msgs[i].role) != R_SYS) continue;
            if (i != hoisted) spans[i].begin = spans[i].end = at;
            spans[i].turn_begin = spans[i].begin;
            spans[i].turn_end = spans[i].end;
            spans[i].shown = i == hoisted;
        }
    }
    if (l->default_system && !first_sys && l->sys_mode == SYS_TURN) {
        sb_str(&b, l->pre[R_SYS]);
        sb_str(&b, l->default_system);
        sb_str(&b, l->suf[R_SYS]);
        turns++;
    }
    if (l->sys_mode == SYS_HEAD) {
        size_t tb = b.n;
        sb_str(&b, l->pre[R_SYS]);
        sb_str(&b, t->head);
        if (first_sys) put_content(&b, l, R_SYS, msgs[0].content, l->trim, spans ? &spans[0] : NULL);
        sb_str(&b, l->suf[R_SYS]);
        if (first_sys && spans) {
            spans[0].turn_begin = tb;
            spans[0].turn_end = b.n;
            spans[0].shown = 1;
        }
        turns++;
    }
    int folded = l->sys_mode == SYS_FOLD && first_sys;
    const char *fold_text = folded ? msgs[0].content
                          : l->sys_mode == SYS_FOLD && l->default_system ? l->default_system : NULL;
    if (folded && spans) spans[0].begin = spans[0].end = spans[0].turn_begin = spans[0].turn_end = b.n;
    int loop_first = 1;
    for (size_t i = 0; i < n; i++) {
        int r = role_of(msgs[i].role);
        if (r == R_SYS && i == 0 && (folded || l->sys_mode == SYS_HEAD)) continue;
        if (r == R_SYS && (l->sys_mode == SYS_HOIST_LAST || l->sys_mode == SYS_DROP)) continue;
        hone_chat_span *sp = spans ? &spans[i] : NULL;
        if (turns++) sb_str(&b, l->sep);
        if (sp) sp->turn_begin = b.n;
        sb_str(&b, l->pre[r]);
        if (loop_first && fold_text) {
            /* The system content, untrimmed, then the separator, inside the first turn. */
            put_content(&b, l, R_SYS, fold_text, 0, folded && spans ? &spans[0] : NULL);
            if (folded && spans) {
                spans[0].turn_begin = spans[0].begin;
                spans[0].turn_end = spans[0].end;
                spans[0].shown = 1;
            }
            sb_str(&b, l->fold_sep);
        }
        loop_first = 0;
        put_content(&b, l, r, msgs[i].content, l->trim, sp);
        sb_str(&b, l->suf[r]);
        if (sp) {
            sp->turn_end = b.n;
            sp->shown = 1;
        }
    }
    if (add_gen && l->gen && *l->gen) {
        if (turns) sb_str(&b, l->sep);
        sb_str(&b, l->gen);
    }
    if (b.oom) {
        free(b.p);
        return hone_err_set(err, HONE_ENOMEM, "chat template %s: out of memory", t->name);
    }
    *out = b.p;
    if (out_len) *out_len = b.n;
    return HONE_OK;
}
