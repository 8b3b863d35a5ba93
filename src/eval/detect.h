/* detect.h: the per-answer flags of `hone ab run` that need a look at the text:
 * refusal (a multilingual phrase list) and answer language vs the probe's (by script).
 * Internal to src/eval (run.c; the report may reuse them). Rules: detect.c's top. */
#ifndef HONE_EVAL_DETECT_H
#define HONE_EVAL_DETECT_H

#include <stddef.h>

/* 1 when the start of the answer holds one of the refusal phrases, else 0. */
int ab_detect_refusal(const char *text);

/* The dominant script of text's letters: "latin", "cyrillic", "han", "kana", "hangul",
 * "arabic", "devanagari", "greek", "hebrew", "thai", or NULL with fewer than min_letters
 * letters. */
const char *ab_detect_script(const char *text, size_t min_letters);

/* 1 when the answer's dominant script is not the one of language `lang` (an ISO 639-1
 * code such as "en", "ru", "zh"); 0 when it is, when the language is not in the table,
 * or when the answer has fewer than 20 letters (too short to tell). */
int ab_detect_lang_mismatch(const char *text, const char *lang);

#endif
