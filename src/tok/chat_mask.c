/* chat_mask.c: which tokens of a rendered conversation a fine-tune supervises.
 *
 * Definition (hone_chat_mask in include/hone/chat.h): for every assistant message the
 * template shows, its supervised byte range is R = [span.begin, span.end + |eot|) when the
 * template's end-of-turn marker (hone_chat_template_eot) follows the content, else
 * [span.begin, span.end). Token k covers bytes [o_k, o_k + l_k) of the text; it is
 * supervised iff that range intersects some R (a zero-length token: iff o_k lies in R).
 * So the mask is the assistant content, its end-of-turn token, and nothing else, except
 * that a token straddling the start of R (SentencePiece "▁The" carrying the space the
 * template wrote before the content, as in Mistral's "[/INST] The") is supervised: the
 * model must produce it. The tests check that R's end is always a token boundary.
 *
 * Token offsets come from the ids' bytes (hone_tok_id_bytes), matched against the text
 * one token at a time. A SentencePiece vocabulary with add_space_prefix puts one extra
 * space in front of the first text after the start and after each split-out token
 * (control, user-defined, unknown), as the encoder does; that space is not in the text
 * and is skipped. Ids that do not spell the text are an error, not a guessed mask.
 */
#include <string.h>

#include "hone/chat.h"
#include "hone/tokenizer.h"
#include "util/err.h"

static int is_assistant(const char *role) {
    return role && (!strcmp(role, "assistant") || !strcmp(role, "model"));
}

int hone_chat_mask(const hone_tok *tok, const hone_chat_template *t, const char *text, size_t len,
                   const hone_chat_msg *msgs, const hone_chat_span *spans, size_t n_msgs,
                   const int32_t *ids, size_t n_ids, unsigned char *mask, hone_err *err) {
    const char *eot = hone_chat_template_eot(t);
    size_t eot_len = eot ? strlen(eot) : 0;
    int prefix = hone_tok_get_kind(tok) == HONE_TOK_SPM && hone_tok_add_space_prefix(tok);
    for (size_t i = 0; i < n_msgs; i++)
        if (spans[i].begin > spans[i].end || spans[i].end > len)
            return hone_err_set(err, HONE_EARG, "chat mask: message %zu: span [%zu, %zu) outside the %zu-byte text",
                                i, spans[i].begin, spans[i].end, len);
    size_t off = 0;
    int after_split = 1; /* at the start, or right after a split-out token */
    for (size_t k = 0; k < n_ids; k++) {
        hone_str b = hone_tok_id_bytes(tok, ids[k]);
        if (ids[k] < 0 || ids[k] >= hone_tok_n_vocab(tok))
            return hone_err_set(err, HONE_EARG, "chat mask: token %zu: id %d out of range", k, (int)ids[k]);
        hone_tok_type ty = hone_tok_token_type(tok, ids[k]);
        int split = ty == HONE_TOKT_CONTROL || ty == HONE_TOKT_USER_DEFINED || ty == HONE_TOKT_UNKNOWN;
        const char *p = b.ptr;
        size_t l = b.len;
        if (prefix && after_split && !split && l && p[0] == ' ') p++, l--;
        if (l > len - off || (l && memcmp(text + off, p, l) != 0))
            return hone_err_set(err, HONE_EARG,
                                "chat mask: token %zu (id %d) does not match the text at byte %zu: ids are not "
                                "its encoding", k, (int)ids[k], off);
        after_split = split;
        unsigned char m = 0;
        for (size_t i = 0; i < n_msgs && !m; i++) {
            if (!is_assistant(msgs[i].role) || !spans[i].shown) continue;
            size_t rb = spans[i].begin, re = spans[i].end;
            if (eot_len && eot_len <= len - re && !memcmp(text + re, eot, eot_len)) re += eot_len;
            m = l ? (off < re && off + l > rb) : (off >= rb && off < re);
        }
        mask[k] = m;
        off += l;
    }
    if (off != len)
        return hone_err_set(err, HONE_EARG, "chat mask: the ids spell %zu bytes of the %zu-byte text", off, len);
    return HONE_OK;
}
