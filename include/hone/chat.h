/* hone/chat.h: public API, chat templates. Included by hone.h; see its conventions.
 *
 * A conversation (system / user / assistant messages) is rendered to the exact text a model
 * family's own Jinja chat template produces (byte-identical to transformers'
 * apply_chat_template for the variant each built-in names), and for each message hone reports
 * where its content and its whole turn landed in the output, so training can mask exactly the
 * assistant tokens (content + end-of-turn marker).
 *
 * Built-in templates (hone_chat_template_open NAME):
 *   gemma         Gemma 3 (-it): "<bos>", "<start_of_turn>user\n...<end_of_turn>\n", role "model";
 *                 a first system message is folded into the first user turn as "SYSTEM\n\nUSER";
 *                 contents are trimmed (Python str.strip), roles must alternate user/model.
 *   llama3        Meta-Llama-3-8B-Instruct's template (Llama 3, NOT 3.1's, which adds a
 *                 "Cutting Knowledge Date" system block): "<|begin_of_text|>" then
 *                 "<|start_header_id|>ROLE<|end_header_id|>\n\n" + trimmed content + "<|eot_id|>".
 *   llama3.1      Llama 3.1 / 3.3 Instruct (no tools): a system turn always comes first, holding
 *                 "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" and the
 *                 trimmed system message (if the first message is one); then as llama3.
 *   llama3.2      Llama 3.2 Instruct: as llama3.1, but the date is today's ("%d %b %Y", local
 *                 time, as transformers' strftime_now gives the template): set a fixed one with
 *                 hone_chat_template_set_date() for reproducible data.
 *   mistral       Mistral-7B-Instruct-v0.2's template (mistral "v1" layout with an optional
 *                 system message): "<s> [INST] SYSTEM\n\nUSER [/INST] ASSISTANT</s>"; roles must
 *                 alternate; no generation-prompt text (the prompt already ends in " [/INST]").
 *   chatml        Qwen2.5-Instruct: "<|im_start|>ROLE\n...<|im_end|>\n", with the system message
 *                 "You are Qwen, created by Alibaba Cloud. You are a helpful assistant." when the
 *                 first message is not a system message. Alias: qwen2.5.
 *   smollm2       SmolLM2-Instruct: ChatML with its default system prompt ("You are a helpful AI
 *                 assistant named SmolLM, trained by Hugging Face").
 *   chatml-plain  ChatML without any default system message (OpenHermes-2.5 and others).
 *   deepseek      DeepSeek-R1-Distill (Qwen/Llama): "<｜begin▁of▁sentence｜>" + the last system
 *                 message + "<｜User｜>USER" + "<｜Assistant｜>ANSWER<｜end▁of▁sentence｜>"; an
 *                 assistant message keeps only the text after its last "</think>"; the
 *                 generation prompt is "<｜Assistant｜><think>\n".
 *   raw           no template: the contents concatenated.
 *   seed          the seed workflow's literal layout "<bos>user\n{prompt}<eos>\n<bos>model\n
 *                 {response}<eos>" (turns joined by "\n", a system message folded into the first
 *                 user turn as for gemma). It is NOT Gemma's template:
 *                 hone_chat_template_warning() says so, for the CLI to print.
 *   file:PATH     a user template file, see below.
 *
 * Template files (file:PATH), UTF-8 text, one setting per line "KEY: VALUE" (blank lines and
 * lines starting with '#' ignored). In VALUE, \n \t \\ are escapes; everything else is literal
 * (leading/trailing spaces after the colon's one optional space are kept).
 *   bos: TEXT             written once at the start (default empty)
 *   system: PREFIX{system}SUFFIX        the system turn ({content} is accepted for any role)
 *   user: PREFIX{user}SUFFIX
 *   assistant: PREFIX{assistant}SUFFIX  its SUFFIX is the end-of-turn marker that masks include
 *   generation: TEXT      the open assistant turn (default: the assistant PREFIX)
 *   default_system: TEXT  system content used when the first message is not a system message
 *   system_mode: turn | fold | drop     fold: put the system content and "\n\n" in front of the
 *                         first user content (inside the user turn); default turn
 *   Missing role lines make that role an error. Example (Phi-3):
 *     bos: <s>
 *     user: <|user|>\n{user}<|end|>\n
 *     assistant: <|assistant|>\n{assistant}<|end|>\n
 *     system_mode: fold
 */
#ifndef HONE_CHAT_H
#define HONE_CHAT_H

#include "hone.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hone_chat_msg {
    const char *role;    /* "system", "user" or "assistant" ("model" is read as "assistant") */
    const char *content; /* UTF-8, NUL-terminated */
} hone_chat_msg;

/* Where one message landed in the rendered text; byte offsets, half-open [begin, end). */
typedef struct hone_chat_span {
    size_t begin, end;           /* its content as written (trimmed / cut where the template does) */
    size_t turn_begin, turn_end; /* its whole turn: role header, content, end-of-turn marker (and the
                                    newline some templates write after it). A system message folded
                                    into the user turn has turn == content span. */
    int shown;                   /* 0 when the template drops the message (then all four are equal) */
} hone_chat_span;

typedef struct hone_chat_template hone_chat_template;

/* A built-in by name (see above) or "file:PATH". */
int hone_chat_template_open(hone_chat_template **out, const char *name, hone_err *err);
void hone_chat_template_close(hone_chat_template *t);
const char *hone_chat_template_name(const hone_chat_template *t);
/* NULL, or one line the CLI should print as a warning (the `seed` layout is not Gemma's). */
const char *hone_chat_template_warning(const hone_chat_template *t);
/* The "Today Date" of llama3.1 / llama3.2 ("26 Jul 2024"); HONE_EARG for other templates. */
int hone_chat_template_set_date(hone_chat_template *t, const char *date, hone_err *err);
/* The end-of-turn marker that training masks include after assistant content ("<end_of_turn>"). */
const char *hone_chat_template_eot(const hone_chat_template *t);

/* The built-in whose Jinja template this is (a model's tokenizer.chat_template or
 * tokenizer_config.json chat_template), recognised by distinctive substrings; NULL when none
 * matches (tool-only Llama variants, Qwen 3, other Mistral layouts are NOT matched). */
const char *hone_chat_template_detect(const char *jinja, size_t len);

/* The built-in names, NULL-terminated. */
const char *const *hone_chat_template_names(void);

/* Renders n messages; with add_generation_prompt, an open assistant turn follows. *out is a
 * malloc'd NUL-terminated string of *out_len bytes (the caller frees it); spans, when not NULL,
 * receives n entries. Errors (HONE_EARG, *out untouched): no messages, an unknown role, roles
 * that do not alternate or a system message where the template's Jinja raises (gemma, mistral,
 * seed), the template's own message in err. */
int hone_chat_render(const hone_chat_template *t, const hone_chat_msg *msgs, size_t n,
                     int add_generation_prompt, char **out, size_t *out_len,
                     hone_chat_span *spans, hone_err *err);

/* The supervised-token mask of a rendered conversation: mask[k] = 1 for the tokens of each
 * shown assistant message's content and of the end-of-turn marker right after it
 * (hone_chat_template_eot), 0 elsewhere. ids must be the encoding of text (len bytes, as
 * rendered by hone_chat_render with msgs/spans, n_msgs entries), with HONE_TOK_SPECIAL when
 * the template's markers are control tokens; mask has n_ids entries. Precisely: token k is
 * supervised iff its bytes intersect [begin, end + |eot|) of an assistant span, so a token
 * that straddles the content start (SentencePiece "▁The" after "[/INST]") counts. HONE_EARG
 * when the ids do not spell the text (an SPM space prefix, added at the start and after
 * each split-out token, is allowed for). Declared here, defined in src/tok/chat_mask.c. */
typedef struct hone_tok hone_tok;
int hone_chat_mask(const hone_tok *tok, const hone_chat_template *t, const char *text, size_t len,
                   const hone_chat_msg *msgs, const hone_chat_span *spans, size_t n_msgs,
                   const int32_t *ids, size_t n_ids, unsigned char *mask, hone_err *err);

#ifdef __cplusplus
}
#endif
#endif
