/* hone/sign.h: public API, kernel signing modes (where a kernel goes in a prompt).
 * Included by hone.h; see its conventions.
 *
 * A "kernel" is the user's text file of instructions (not a compute kernel). A signing
 * mode places it relative to the prompt; the result is the system message (or none)
 * and the user message, ready for a chat template. Used by `hone generate/chat`, the
 * A/B harness and `hone data build`, so every tool signs the same way.
 *
 *   none      system = SYSTEM (if any); user = PROMPT. The kernel is not used.
 *   system    system = KERNEL, or KERNEL "\n\n" SYSTEM when a system text is given too;
 *             user = PROMPT.
 *   prefix    system = SYSTEM; user = KERNEL SEP PROMPT
 *   postfix   system = SYSTEM; user = PROMPT SEP KERNEL
 *   sandwich  system = SYSTEM; user = KERNEL SEP PROMPT SEP KERNEL_B, then, with a
 *             reminder, "\n\n" REMINDER. KERNEL_B defaults to KERNEL.
 * SEP is "\n\n---\n\n": a line "---" with a blank line on each side (a "---" right
 * under a text line would make Markdown read that line as a heading). Trailing
 * whitespace (spaces, tabs, CR, LF) is dropped from the kernels and the reminder (a
 * file's final newline), and from the prompt where a SEP follows it (postfix,
 * sandwich); elsewhere the prompt is kept byte for byte (none, system, prefix), so an
 * unsigned prompt reaches the template exactly as given.
 */
#ifndef HONE_SIGN_H
#define HONE_SIGN_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hone_sign_mode {
    HONE_SIGN_NONE = 0,
    HONE_SIGN_SYSTEM,
    HONE_SIGN_PREFIX,
    HONE_SIGN_POSTFIX,
    HONE_SIGN_SANDWICH,
} hone_sign_mode;

/* "none", "system", ... ; NULL for an invalid value. */
const char *hone_sign_mode_name(hone_sign_mode m);
/* HONE_EARG (listing the valid names) for an unknown name. */
int hone_sign_mode_parse(const char *name, hone_sign_mode *out, hone_err *err);

typedef struct hone_sign {
    hone_sign_mode mode;
    const char *kernel;   /* kernel A (NUL-terminated); required unless mode is none */
    const char *kernel_b; /* sandwich's closing kernel; NULL = kernel */
    const char *reminder; /* sandwich: a last line; NULL or "" = none */
} hone_sign;

/* system may be NULL. *system_out (NULL when there is no system message) and *user_out
 * are malloc'd, NUL-terminated; free() them. HONE_EARG when the mode needs a kernel
 * and has none, or a reminder / kernel_b is given to a mode other than sandwich. */
int hone_sign_apply(const hone_sign *s, const char *system, const char *prompt, char **system_out,
                    char **user_out, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
