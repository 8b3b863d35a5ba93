/* export_tok.c: the tokenizer of an exported model.
 *
 * GGUF output. A GGUF source's tokenizer.* keys are copied as they are (llama.cpp's own
 * types and values). An HF source's hone_tok becomes llama.cpp's keys, as its converter
 * writes them: tokenizer.ggml.model "gpt2" (byte-level BPE) or "llama" (SentencePiece),
 * tokenizer.ggml.pre (the name whose regexes equal tokenizer.json's; "default" for SPM),
 * tokens (STRING[]), scores (FLOAT32[], SPM only: -(rank + 1) of the merge that makes the
 * token, 0 for the others, so llama.cpp's score-driven merging follows tokenizer.json's
 * ranks), token_type (INT32[]), merges (STRING[] "left right", BPE only), bos / eos /
 * unknown / padding ids (UINT32), add_bos_token / add_eos_token (BOOL), add_space_prefix
 * (BOOL, SPM), tokenizer.chat_template. Ids beyond the tokenizer up to the embedding's
 * rows (a padded embedding) become "[PADn]" tokens of type UNUSED, as llama.cpp pads.
 *
 * HF output: tokenizer.json (model BPE with vocab and merges; byte-level: Split regexes +
 * ByteLevel, SPM: the Replace(' ' -> '▁') normalizer and byte_fallback, merges rebuilt from
 * the scores: every split of a token into two tokens, ranked by the token's score, best
 * first) and tokenizer_config.json (bos/eos/unk/pad tokens, add_bos_token, chat_template).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/export_internal.h"
#include "tok/tok_internal.h"
#include "util/err.h"
#include "util/fileio.h"

const char *xtok_chat_template(const hone_model *m, size_t *len) {
    hone_str s;
    if (m->gguf && !hone_gguf_get_str(m->gguf, "tokenizer.chat_template", &s)) {
        *len = s.len;
        return s.ptr;
    }
    const char *t = m->tok ? hone_tok_chat_template(m->tok) : NULL;
    *len = t ? strlen(t) : 0;
    return t;
}

static int has_prefix(hone_str s, const char *p) {
    size_t n = strlen(p);
    return s.len >= n && !memcmp(s.ptr, p, n);
}

int xtok_write_gguf(hone_gguf_writer *w, const hone_model *m, hone_err *err) {
    int rc = HONE_OK;
    if (m->gguf) {
        for (int64_t i = 0; i < hone_gguf_n_kv(m->gguf) && !rc; i++)
            if (has_prefix(hone_gguf_kv_key(m->gguf, i), "tokenizer.")) rc = hone_gguf_writer_copy_kv(w, m->gguf, i, err);
        return rc;
    }
    const hone_tok *t = m->tok;
    if (!t) return HONE_OK;
    int spm = t->kind == HONE_TOK_SPM;
    int32_t n = t->n;
    int64_t nv = (int64_t)m->desc.vocab > n ? (int64_t)m->desc.vocab : n;
    hone_str *toks = calloc((size_t)nv, sizeof *toks);
    char *padbuf = malloc((size_t)(nv - n + 1) * 24);
    int32_t *types = malloc((size_t)nv * sizeof *types);
    float *scores = spm ? calloc((size_t)nv, sizeof *scores) : NULL;
    if (!toks || !padbuf || !types || (spm && !scores)) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory for the tokenizer");
        goto done;
    }
    size_t po = 0;
    for (int64_t i = 0; i < nv; i++) {
        if (i < n && t->plen[i]) {
            toks[i] = (hone_str){t->blob + t->poff[i], t->plen[i]};
            types[i] = t->type[i];
        } else {
            int k = snprintf(padbuf + po, 24, "[PAD%lld]", (long long)i);
            toks[i] = (hone_str){padbuf + po, (uint64_t)k};
            po += (size_t)k + 1;
            types[i] = HONE_TOKT_UNUSED;
        }
    }
    if (spm) {
        for (int64_t i = 0; i < n; i++) scores[i] = t->score[i];
        if (t->merges) { /* tokenizer.json: scores from merge ranks */
            for (int64_t i = 0; i < n; i++) scores[i] = 0;
            uint64_t nm = tok_merges_count(t->merges);
            char buf[1024];
            for (uint64_t r = nm; r-- > 0;) { /* lowest rank written last: wins duplicates */
                hone_str a, b;
                tok_merges_at(t->merges, r, &a, &b);
                if (a.len + b.len > sizeof buf) continue;
                memcpy(buf, a.ptr, a.len);
                memcpy(buf + a.len, b.ptr, b.len);
                int32_t id = tok_lookup(t, buf, a.len + b.len);
                if (id >= 0) scores[id] = -(float)(r + 1);
            }
        }
    }
    const char *pre = spm ? "default" : tok_pretok_gguf_name(t->pretok);
    if (!pre) {
        rc = hone_err_set(err, HONE_EUNSUPPORTED,
                          "tokenizer.json: the pre-tokenizer's regexes match no pre-tokenizer llama.cpp knows");
        goto done;
    }
    if ((rc = hone_gguf_writer_add_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2", err)) ||
        (rc = hone_gguf_writer_add_str(w, "tokenizer.ggml.pre", pre, err)) ||
        (rc = hone_gguf_writer_add_arr_hstr(w, "tokenizer.ggml.tokens", toks, (uint64_t)nv, err)))
        goto done;
    if (spm && (rc = hone_gguf_writer_add_arr(w, "tokenizer.ggml.scores", HONE_GGUF_FLOAT32, scores, (uint64_t)nv, err)))
        goto done;
    if ((rc = hone_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", HONE_GGUF_INT32, types, (uint64_t)nv, err)))
        goto done;
    if (!spm && t->merges) {
        uint64_t nm = tok_merges_count(t->merges);
        hone_str *ms = calloc(nm ? nm : 1, sizeof *ms);
        uint64_t total = 0;
        for (uint64_t r = 0; r < nm; r++) {
            hone_str a, b;
            tok_merges_at(t->merges, r, &a, &b);
            total += a.len + b.len + 1;
        }
        char *mb = malloc(total + 1);
        if (!ms || !mb) {
            free(ms);
            free(mb);
            rc = hone_err_set(err, HONE_ENOMEM, "out of memory for the merges");
            goto done;
        }
        uint64_t off = 0;
        for (uint64_t r = 0; r < nm; r++) {
            hone_str a, b;
            tok_merges_at(t->merges, r, &a, &b);
            ms[r].ptr = mb + off;
            memcpy(mb + off, a.ptr, a.len);
            mb[off + a.len] = ' ';
            memcpy(mb + off + a.len + 1, b.ptr, b.len);
            ms[r].len = a.len + b.len + 1;
            off += ms[r].len;
        }
        rc = hone_gguf_writer_add_arr_hstr(w, "tokenizer.ggml.merges", ms, nm, err);
        free(ms);
        free(mb);
        if (rc) goto done;
    }
    struct { const char *k; int32_t v; } ids[] = {{"tokenizer.ggml.bos_token_id", t->bos},
                                                  {"tokenizer.ggml.eos_token_id", t->eos},
                                                  {"tokenizer.ggml.unknown_token_id", t->unk},
                                                  {"tokenizer.ggml.padding_token_id", t->pad}};
    for (size_t i = 0; i < sizeof ids / sizeof *ids && !rc; i++)
        if (ids[i].v >= 0) rc = hone_gguf_writer_add_u32(w, ids[i].k, (uint32_t)ids[i].v, err);
    if (!rc) rc = hone_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos, err);
    if (!rc) rc = hone_gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", 0, err);
    if (!rc && spm) rc = hone_gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix, err);
    if (!rc && t->chat_template) rc = hone_gguf_writer_add_str(w, "tokenizer.chat_template", t->chat_template, err);
done:
    free(toks);
    free(padbuf);
    free(types);
    free(scores);
    return rc;
}

/* ---- HF tokenizer.json ------------------------------------------------------------ */

static json_t *jstrn(const char *s, size_t n) { return json_stringn(s, n); }

static json_t *bytelevel(void) {
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("ByteLevel"));
    json_object_set_new(o, "add_prefix_space", json_false());
    json_object_set_new(o, "trim_offsets", json_false());
    json_object_set_new(o, "use_regex", json_false());
    return o;
}

/* A split of token id at byte cut into two tokens. */
typedef struct cand {
    float score;
    int32_t id;
    uint32_t cut;
} cand;

/* Best score first, then token id, then split point. */
static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->cut < y->cut ? -1 : x->cut > y->cut;
}

static json_t *spm_merges(const hone_tok *t) {
    size_t cap = 1024, n = 0;
    cand *c = malloc(cap * sizeof *c);
    if (!c) return NULL;
    for (int32_t id = 0; id < t->n; id++) {
        if (t->type[id] != HONE_TOKT_NORMAL) continue;
        const char *p = t->blob + t->poff[id];
        uint32_t len = t->plen[id];
        for (uint32_t cut = 1; cut < len; cut++) {
            if (((unsigned char)p[cut] & 0xC0) == 0x80) continue; /* inside a character */
            int32_t l = tok_lookup(t, p, cut), r = tok_lookup(t, p + cut, len - cut);
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                cand *nc = realloc(c, (cap *= 2) * sizeof *c);
                if (!nc) {
                    free(c);
                    return NULL;
                }
                c = nc;
            }
            c[n++] = (cand){t->score[id], id, cut};
        }
    }
    json_t *arr = json_array();
    qsort(c, n, sizeof *c, cand_cmp);
    for (size_t i = 0; i < n; i++) {
        const char *p = t->blob + t->poff[c[i].id];
        json_t *pair = json_array();
        json_array_append_new(pair, jstrn(p, c[i].cut));
        json_array_append_new(pair, jstrn(p + c[i].cut, t->plen[c[i].id] - c[i].cut));
        json_array_append_new(arr, pair);
    }
    free(c);
    return arr;
}

static int write_json(json_t *j, const char *dir, const char *name, hone_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    hone_wfile f;
    int rc = hone_wfile_open(&f, path, err);
    if (!rc) rc = hone_wfile_write(&f, s, strlen(s), err);
    if (!rc) rc = hone_wfile_write(&f, "\n", 1, err);
    if (!rc) rc = hone_wfile_commit(&f, err);
    else hone_wfile_abort(&f);
    free(s);
    return rc;
}

static json_t *tok_text(const hone_tok *t, int32_t id) {
    if (id < 0 || id >= t->n) return json_null();
    return jstrn(t->blob + t->poff[id], t->plen[id]);
}

int xtok_write_hf(const hone_model *m, const char *dir, hone_err *err) {
    const hone_tok *t = m->tok;
    if (!t) return HONE_OK;
    int spm = t->kind == HONE_TOK_SPM;
    json_t *root = json_object(), *added = json_array(), *vocab = json_object(), *merges = NULL;
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    for (int32_t i = 0; i < t->n; i++) {
        hone_str p = {t->blob + t->poff[i], t->plen[i]};
        int ty = t->type[i];
        if (ty == HONE_TOKT_CONTROL || ty == HONE_TOKT_USER_DEFINED || (ty == HONE_TOKT_UNKNOWN && !spm)) {
            json_t *a = json_object();
            json_object_set_new(a, "id", json_integer(i));
            json_object_set_new(a, "content", jstrn(p.ptr, p.len));
            json_object_set_new(a, "single_word", json_false());
            json_object_set_new(a, "lstrip", json_boolean(t->attr[i] & TOK_ATTR_LSTRIP));
            json_object_set_new(a, "rstrip", json_boolean(t->attr[i] & TOK_ATTR_RSTRIP));
            json_object_set_new(a, "normalized", json_false());
            json_object_set_new(a, "special", json_boolean(ty == HONE_TOKT_CONTROL));
            json_array_append_new(added, a);
            if (!spm) continue;
        }
        if (!p.len) continue;
        char *key = strndup(p.ptr, p.len);
        if (key && strlen(key) == p.len && !json_object_get(vocab, key)) json_object_set_new(vocab, key, json_integer(i));
        free(key);
    }
    json_object_set_new(root, "added_tokens", added);
    json_t *model = json_object();
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "dropout", json_null());
    json_object_set_new(model, "unk_token", spm && t->unk >= 0 ? tok_text(t, t->unk) : json_null());
    json_object_set_new(model, "continuing_subword_prefix", json_null());
    json_object_set_new(model, "end_of_word_suffix", json_null());
    json_object_set_new(model, "fuse_unk", json_boolean(spm));
    json_object_set_new(model, "byte_fallback", json_boolean(spm));
    json_object_set_new(model, "ignore_merges", json_boolean(t->ignore_merges));
    json_object_set_new(model, "vocab", vocab);
    if (t->merges) {
        merges = json_array();
        for (uint64_t r = 0; r < tok_merges_count(t->merges); r++) {
            hone_str a, b;
            tok_merges_at(t->merges, r, &a, &b);
            json_t *pair = json_array();
            json_array_append_new(pair, jstrn(a.ptr, a.len));
            json_array_append_new(pair, jstrn(b.ptr, b.len));
            json_array_append_new(merges, pair);
        }
    } else if (spm) {
        merges = spm_merges(t);
    }
    if (!merges) merges = json_array();
    json_object_set_new(model, "merges", merges);
    if (spm) {
        json_t *norm = json_object(), *pat = json_object();
        json_t *seq = json_array();
        if (t->add_space_prefix) {
            json_t *pp = json_object();
            json_object_set_new(pp, "type", json_string("Prepend"));
            json_object_set_new(pp, "prepend", json_string("\xe2\x96\x81"));
            json_array_append_new(seq, pp);
        }
        json_object_set_new(pat, "String", json_string(" "));
        json_t *rep = json_object();
        json_object_set_new(rep, "type", json_string("Replace"));
        json_object_set_new(rep, "pattern", pat);
        json_object_set_new(rep, "content", json_string("\xe2\x96\x81"));
        json_array_append_new(seq, rep);
        json_object_set_new(norm, "type", json_string("Sequence"));
        json_object_set_new(norm, "normalizers", seq);
        json_object_set_new(root, "normalizer", norm);
        json_object_set_new(root, "pre_tokenizer", json_null());
    } else {
        json_object_set_new(root, "normalizer", json_null());
        json_t *pre = json_object(), *seq = json_array();
        for (int i = 0; i < tok_pretok_n(t->pretok); i++) {
            json_t *sp = json_object(), *pat = json_object();
            json_object_set_new(sp, "type", json_string("Split"));
            json_object_set_new(pat, "Regex", json_string(tok_pretok_regex(t->pretok, i)));
            json_object_set_new(sp, "pattern", pat);
            json_object_set_new(sp, "behavior", json_string("Isolated"));
            json_object_set_new(sp, "invert", json_false());
            json_array_append_new(seq, sp);
        }
        json_array_append_new(seq, bytelevel());
        json_object_set_new(pre, "type", json_string("Sequence"));
        json_object_set_new(pre, "pretokenizers", seq);
        json_object_set_new(root, "pre_tokenizer", pre);
    }
    if (t->add_bos && t->bos >= 0) {
        json_t *pp = json_object(), *single = json_array(), *pair = json_array(), *st = json_object();
        json_t *b = json_object(), *bi = json_object();
        json_object_set_new(bi, "id", tok_text(t, t->bos));
        json_object_set_new(bi, "type_id", json_integer(0));
        json_object_set_new(b, "SpecialToken", bi);
        json_t *s = json_object(), *si = json_object();
        json_object_set_new(si, "id", json_string("A"));
        json_object_set_new(si, "type_id", json_integer(0));
        json_object_set_new(s, "Sequence", si);
        json_array_append(single, b);
        json_array_append(single, s);
        json_t *s2 = json_object(), *si2 = json_object();
        json_object_set_new(si2, "id", json_string("B"));
        json_object_set_new(si2, "type_id", json_integer(1));
        json_object_set_new(s2, "Sequence", si2);
        json_array_append(pair, b);
        json_array_append(pair, s);
        json_array_append(pair, b);
        json_array_append_new(pair, s2);
        json_decref(b);
        json_decref(s);
        json_t *bs = json_object(), *ids = json_array(), *tk = json_array();
        json_object_set_new(bs, "id", tok_text(t, t->bos));
        json_array_append_new(ids, json_integer(t->bos));
        json_array_append_new(tk, tok_text(t, t->bos));
        json_object_set_new(bs, "ids", ids);
        json_object_set_new(bs, "tokens", tk);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)t->plen[t->bos], t->blob + t->poff[t->bos]);
        json_object_set_new(st, key, bs);
        json_object_set_new(pp, "type", json_string("TemplateProcessing"));
        json_object_set_new(pp, "single", single);
        json_object_set_new(pp, "pair", pair);
        json_object_set_new(pp, "special_tokens", st);
        json_object_set_new(root, "post_processor", pp);
    } else {
        json_object_set_new(root, "post_processor", spm ? json_null() : bytelevel());
    }
    if (spm) {
        json_t *dec = json_object(), *seq = json_array(), *rep = json_object(), *pat = json_object();
        json_object_set_new(pat, "String", json_string("\xe2\x96\x81"));
        json_object_set_new(rep, "type", json_string("Replace"));
        json_object_set_new(rep, "pattern", pat);
        json_object_set_new(rep, "content", json_string(" "));
        json_array_append_new(seq, rep);
        json_t *bf = json_object(), *fu = json_object();
        json_object_set_new(bf, "type", json_string("ByteFallback"));
        json_object_set_new(fu, "type", json_string("Fuse"));
        json_array_append_new(seq, bf);
        json_array_append_new(seq, fu);
        if (t->add_space_prefix) {
            json_t *st = json_object();
            json_object_set_new(st, "type", json_string("Strip"));
            json_object_set_new(st, "content", json_string(" "));
            json_object_set_new(st, "start", json_integer(1));
            json_object_set_new(st, "stop", json_integer(0));
            json_array_append_new(seq, st);
        }
        json_object_set_new(dec, "type", json_string("Sequence"));
        json_object_set_new(dec, "decoders", seq);
        json_object_set_new(root, "decoder", dec);
    } else {
        json_object_set_new(root, "decoder", bytelevel());
    }
    json_object_set_new(root, "model", model);
    int rc = write_json(root, dir, "tokenizer.json", err);
    json_decref(root);
    if (rc) return rc;
    json_t *cfg = json_object();
    json_object_set_new(cfg, "add_bos_token", json_boolean(t->add_bos));
    json_object_set_new(cfg, "add_eos_token", json_false());
    if (t->bos >= 0) json_object_set_new(cfg, "bos_token", tok_text(t, t->bos));
    if (t->eos >= 0) json_object_set_new(cfg, "eos_token", tok_text(t, t->eos));
    if (t->unk >= 0) json_object_set_new(cfg, "unk_token", tok_text(t, t->unk));
    if (t->pad >= 0) json_object_set_new(cfg, "pad_token", tok_text(t, t->pad));
    size_t ctl;
    const char *ct = xtok_chat_template(m, &ctl);
    if (ct) json_object_set_new(cfg, "chat_template", jstrn(ct, ctl));
    json_object_set_new(cfg, "clean_up_tokenization_spaces", json_false());
    json_object_set_new(cfg, "model_max_length", json_integer(m->desc.context));
    json_object_set_new(cfg, "tokenizer_class", json_string(spm ? "GemmaTokenizer" : "PreTrainedTokenizerFast"));
    if (spm && m->desc.arch != HONE_ARCH_GEMMA3) json_object_set_new(cfg, "tokenizer_class", json_string("LlamaTokenizer"));
    rc = write_json(cfg, dir, "tokenizer_config.json", err);
    json_decref(cfg);
    return rc;
}
