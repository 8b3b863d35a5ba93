/* sign.c: kernel signing modes (hone/sign.h): joins kernel, prompt, optional second
 * kernel and reminder into a system message and a user message. Pure string work;
 * the layout is documented in the header and fixed, because A/B results and training
 * sets depend on it byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "hone/sign.h"
#include "util/err.h"

static const char *const MODE_NAMES[] = {"none", "system", "prefix", "postfix", "sandwich"};
#define SEP "\n\n---\n\n"

const char *hone_sign_mode_name(hone_sign_mode m) {
    return (unsigned)m < sizeof MODE_NAMES / sizeof *MODE_NAMES ? MODE_NAMES[m] : NULL;
}

int hone_sign_mode_parse(const char *name, hone_sign_mode *out, hone_err *err) {
    for (unsigned i = 0; i < sizeof MODE_NAMES / sizeof *MODE_NAMES; i++)
        if (name && !strcmp(name, MODE_NAMES[i])) {
            *out = (hone_sign_mode)i;
            return HONE_OK;
        }
    return hone_err_set(err, HONE_EARG,
                        "signing mode '%s': expected none, system, prefix, postfix or sandwich",
                        name ? name : "(null)");
}

/* Length of s without trailing spaces, tabs, CR and LF. */
static size_t rtrim_len(const char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    return n;
}

/* Concatenates up to 5 parts (text, or NULL to skip), each trimmed when trim[i],
 * into a malloc'd string. */
typedef struct part {
    const char *s;
    int trim;
} part;

static char *join(const part *p, int n) {
    size_t len[8], tot = 0;
    for (int i = 0; i < n; i++) {
        len[i] = p[i].s ? (p[i].trim ? rtrim_len(p[i].s) : strlen(p[i].s)) : 0;
        tot += len[i];
    }
    char *out = malloc(tot + 1), *w = out;
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        if (len[i]) memcpy(w, p[i].s, len[i]);
        w += len[i];
    }
    *w = 0;
    return out;
}

int hone_sign_apply(const hone_sign *s, const char *system, const char *prompt, char **system_out,
                    char **user_out, hone_err *err) {
    *system_out = *user_out = NULL;
    const char *name = hone_sign_mode_name(s->mode);
    if (!name) return hone_err_set(err, HONE_EARG, "signing mode %d: not a valid mode", (int)s->mode);
    if (!prompt) return hone_err_set(err, HONE_EARG, "signing: no prompt");
    if (s->mode != HONE_SIGN_NONE && !s->kernel)
        return hone_err_set(err, HONE_EARG, "signing mode %s needs a kernel", name);
    int has_rem = s->reminder && s->reminder[0];
    if (s->mode != HONE_SIGN_SANDWICH && (has_rem || s->kernel_b))
        return hone_err_set(err, HONE_EARG,
                            "signing mode %s: a second kernel and a reminder need mode sandwich", name);
    const char *sys = system && system[0] ? system : NULL;
    const char *kb = s->kernel_b ? s->kernel_b : s->kernel;
    char *so = NULL, *uo = NULL;
    switch (s->mode) {
    case HONE_SIGN_NONE:
        uo = join((part[]){{prompt, 0}}, 1);
        break;
    case HONE_SIGN_SYSTEM:
        uo = join((part[]){{prompt, 0}}, 1);
        if (sys) so = join((part[]){{s->kernel, 1}, {"\n\n", 0}, {sys, 0}}, 3);
        else so = join((part[]){{s->kernel, 1}}, 1);
        sys = NULL;
        if (!so) goto oom;
        break;
    case HONE_SIGN_PREFIX:
        uo = join((part[]){{s->kernel, 1}, {SEP, 0}, {prompt, 0}}, 3);
        break;
    case HONE_SIGN_POSTFIX:
        uo = join((part[]){{prompt, 1}, {SEP, 0}, {s->kernel, 1}}, 3);
        break;
    case HONE_SIGN_SANDWICH:
        uo = join((part[]){{s->kernel, 1}, {SEP, 0}, {prompt, 1}, {SEP, 0}, {kb, 1},
                           {has_rem ? "\n\n" : NULL, 0}, {has_rem ? s->reminder : NULL, 1}},
                  7);
        break;
    }
    if (!uo) goto oom;
    if (sys && !(so = join((part[]){{sys, 0}}, 1))) goto oom;
    *system_out = so;
    *user_out = uo;
    return HONE_OK;
oom:
    free(so);
    free(uo);
    return hone_err_set(err, HONE_ENOMEM, "signing: out of memory");
}
