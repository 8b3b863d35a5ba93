/* tokjson.c: loads a Hugging Face tokenizer folder (tokenizer.json +
 * tokenizer_config.json) into the same hone_tok the GGUF loader builds.
 *
 * Supported: byte-level BPE (model.type "BPE", no byte_fallback) with a
 * pre_tokenizer made of ByteLevel (use_regex: the GPT-2 split), Split (Regex or
 * String pattern, behavior "Isolated") and Digits, possibly in a Sequence: that is
 * GPT-2, Llama 3, Qwen 2/2.5, SmolLM2, DeepSeek. Each Split pattern goes to
 * PCRE2 as written (Rust-regex and PCRE agree on the constructs these use).
 * The NFC normalizer of Qwen is accepted and not applied (as llama.cpp).
 * added_tokens: special ones become control tokens, the others user-defined
 * (always split out of the text, as HF does); lstrip/rstrip are kept.
 * tokenizer_config.json: bos/eos/unk/pad token texts, add_bos_token, chat_template.
 * Anything else (SentencePiece-style byte_fallback BPE, Unigram, WordPiece,
 * Metaspace...) is HONE_EUNSUPPORTED with the JSON path that was not understood. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hone.h"
#include "tok/tok_internal.h"
#include "util/err.h"

static int load_json(hone_tok **out, json_t *root, json_t *cfg, const char *path, const char *cpath,
                     hone_err *err);

typedef struct rxlist {
    char *rx[7];
    int n, byte_level;
} rxlist;

static int rx_add(rxlist *l, const char *s, size_t n, const char *path, hone_err *err) {
    if (l->n == 7) return hone_err_set(err, HONE_EUNSUPPORTED, "%s: pre_tokenizer: more than 7 splits", path);
    char *p = malloc(n + 1);
    if (!p) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    memcpy(p, s, n);
    p[n] = 0;
    l->rx[l->n++] = p;
    return HONE_OK;
}

/* A literal String pattern as a regex: every non-alphanumeric byte escaped. */
static int rx_add_literal(rxlist *l, const char *s, const char *path, hone_err *err) {
    size_t n = strlen(s);
    char *q = malloc(2 * n + 1);
    if (!q) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            q[o++] = '\\';
        q[o++] = (char)c;
    }
    int rc = rx_add(l, q, o, path, err);
    free(q);
    return rc;
}

static int walk_pre(json_t *node, const char *jpath, rxlist *l, const char *path, hone_err *err) {
    const char *type = json_string_value(json_object_get(node, "type"));
    if (!type) return hone_err_set(err, HONE_EFORMAT, "%s: %s.type: expected a string", path, jpath);
    if (!strcmp(type, "Sequence")) {
        json_t *arr = json_object_get(node, "pretokenizers");
        for (size_t i = 0; i < json_array_size(arr); i++) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", jpath, i);
            int rc = walk_pre(json_array_get(arr, i), sub, l, path, err);
            if (rc) return rc;
        }
        return HONE_OK;
    }
    if (!strcmp(type, "ByteLevel")) {
        if (json_is_true(json_object_get(node, "add_prefix_space")))
            return hone_err_set(err, HONE_EUNSUPPORTED, "%s: %s.add_prefix_space: true not supported", path,
                                jpath);
        l->byte_level = 1;
        json_t *ur = json_object_get(node, "use_regex");
        if (!ur || json_is_true(ur)) {
            const char *g = tok_pretok_gpt2_regex();
            return rx_add(l, g, strlen(g), path, err);
        }
        return HONE_OK;
    }
    if (!strcmp(type, "Digits")) {
        const char *rx = json_is_true(json_object_get(node, "individual_digits")) ? "\\p{N}" : "\\p{N}+";
        return rx_add(l, rx, strlen(rx), path, err);
    }
    if (!strcmp(type, "Split")) {
        const char *beh = json_string_value(json_object_get(node, "behavior"));
        if (!beh || strcmp(beh, "Isolated") || json_is_true(json_object_get(node, "invert")))
            return hone_err_set(err, HONE_EUNSUPPORTED,
                                "%s: %s: Split with behavior '%s'%s not supported (only Isolated)", path,
                                jpath, beh ? beh : "?",
                                json_is_true(json_object_get(node, "invert")) ? " and invert" : "");
        json_t *pat = json_object_get(node, "pattern");
        const char *rx = json_string_value(json_object_get(pat, "Regex"));
        if (rx) return rx_add(l, rx, strlen(rx), path, err);
        const char *lit = json_string_value(json_object_get(pat, "String"));
        if (lit) return rx_add_literal(l, lit, path, err);
        return hone_err_set(err, HONE_EFORMAT, "%s: %s.pattern: expected {\"Regex\"} or {\"String\"}", path,
                            jpath);
    }
    return hone_err_set(err, HONE_EUNSUPPORTED, "%s: %s: pre-tokenizer type '%s' not supported", path, jpath,
                        type);
}

typedef struct merge_ctx {
    json_t *arr;
} merge_ctx;

/* "a b" (split at the first space) or ["a", "b"]. */
static void json_merge_get(void *ctx, size_t r, hone_str *l, hone_str *rt) {
    json_t *e = json_array_get(((merge_ctx *)ctx)->arr, r);
    *l = *rt = (hone_str){"", 0};
    if (json_is_array(e) && json_array_size(e) == 2) {
        json_t *a = json_array_get(e, 0), *b = json_array_get(e, 1);
        if (json_is_string(a) && json_is_string(b)) {
            *l = (hone_str){json_string_value(a), json_string_length(a)};
            *rt = (hone_str){json_string_value(b), json_string_length(b)};
        }
        return;
    }
    const char *s = json_string_value(e);
    if (!s) return;
    size_t n = json_string_length(e);
    const char *sp = n > 1 ? memchr(s + 1, ' ', n - 1) : NULL;
    if (!sp) return;
    *l = (hone_str){s, (uint64_t)(sp - s)};
    *rt = (hone_str){sp + 1, n - l->len - 1};
}

/* A token text in tokenizer_config.json: "text" or {"content": "text"}. */
static const char *cfg_token(json_t *cfg, const char *key) {
    json_t *v = json_object_get(cfg, key);
    if (json_is_string(v)) return json_string_value(v);
    return json_string_value(json_object_get(v, "content"));
}

int hone_tok_load_hf(hone_tok **out, const char *dir, hone_err *err) {
    *out = NULL;
    char path[4096], cpath[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(cpath, sizeof cpath, "%s/tokenizer_config.json", dir);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return hone_err_set(err, je.line < 0 ? HONE_EIO : HONE_EFORMAT, "%s: line %d column %d: %s", path,
                            je.line, je.column, je.text);
    json_t *cfg = json_load_file(cpath, 0, &je); /* optional */
    return load_json(out, root, cfg, path, cpath, err);
}

int hone_tok_load_hf_mem(hone_tok **out, const char *tokenizer_json, size_t len, const char *config_json,
                         size_t clen, hone_err *err) {
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(tokenizer_json, len, 0, &je);
    if (!root)
        return hone_err_set(err, HONE_EFORMAT, "tokenizer.json: line %d column %d: %s", je.line, je.column,
                            je.text);
    json_t *cfg = config_json ? json_loadb(config_json, clen, 0, &je) : NULL;
    return load_json(out, root, cfg, "tokenizer.json", "tokenizer_config.json", err);
}

/* Takes ownership of root and cfg (may be NULL). */
static int load_json(hone_tok **out, json_t *root, json_t *cfg, const char *path, const char *cpath,
                     hone_err *err) {
    *out = NULL;
    hone_tok *t = NULL;
    rxlist rl = {{0}, 0, 0};
    hone_str *pieces = NULL;
    int rc = HONE_OK;
    json_t *model = json_object_get(root, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!mtype || strcmp(mtype, "BPE")) {
        rc = hone_err_set(err, HONE_EUNSUPPORTED, "%s: model.type '%s' not supported (byte-level BPE only)",
                          path, mtype ? mtype : "(missing)");
        goto done;
    }
    if (json_is_true(json_object_get(model, "byte_fallback"))) {
        rc = hone_err_set(err, HONE_EUNSUPPORTED,
                          "%s: model.byte_fallback: SentencePiece-style tokenizer.json not supported yet "
                          "(load the model's GGUF instead)", path);
        goto done;
    }
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        const char *nt = json_string_value(json_object_get(norm, "type"));
        if (!nt || strcmp(nt, "NFC")) {
            rc = hone_err_set(err, HONE_EUNSUPPORTED, "%s: normalizer type '%s' not supported", path,
                              nt ? nt : "?");
            goto done;
        }
    }
    json_t *pre = json_object_get(root, "pre_tokenizer");
    if (!pre || json_is_null(pre)) {
        rc = hone_err_set(err, HONE_EUNSUPPORTED, "%s: pre_tokenizer: null not supported", path);
        goto done;
    }
    if ((rc = walk_pre(pre, "pre_tokenizer", &rl, path, err))) goto done;
    if (!rl.byte_level) {
        rc = hone_err_set(err, HONE_EUNSUPPORTED, "%s: pre_tokenizer: no ByteLevel step (not a byte-level BPE)",
                          path);
        goto done;
    }
    json_t *vocab = json_object_get(model, "vocab"), *added = json_object_get(root, "added_tokens");
    json_t *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab) || !json_is_array(merges)) {
        rc = hone_err_set(err, HONE_EFORMAT, "%s: model.vocab (object) and model.merges (array) expected", path);
        goto done;
    }
    int64_t maxid = -1;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= INT32_MAX) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: model.vocab[\"%.40s\"]: expected an id >= 0", path, key);
            goto done;
        }
        if (id > maxid) maxid = id;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        if (!json_is_string(json_object_get(a, "content")) || id < 0 || id >= INT32_MAX) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: added_tokens[%zu]: expected id and content", path, i);
            goto done;
        }
        if (id > maxid) maxid = id;
    }
    int32_t n = (int32_t)(maxid + 1);
    if (n <= 0) {
        rc = hone_err_set(err, HONE_EFORMAT, "%s: model.vocab is empty", path);
        goto done;
    }
    pieces = calloc((size_t)n, sizeof *pieces);
    uint8_t *types = calloc((size_t)n, 1), *attrs = calloc((size_t)n, 1);
    t = calloc(1, sizeof *t);
    if (!pieces || !types || !attrs || !t) {
        free(types);
        free(attrs);
        rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    json_object_foreach(vocab, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        pieces[id] = (hone_str){key, strlen(key)};
        types[id] = HONE_TOKT_NORMAL;
    }
    for (size_t i = 0; i < json_array_size(added); i++) {
        json_t *a = json_array_get(added, i);
        int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
        json_t *c = json_object_get(a, "content");
        pieces[id] = (hone_str){json_string_value(c), json_string_length(c)};
        types[id] = json_is_true(json_object_get(a, "special")) ? HONE_TOKT_CONTROL : HONE_TOKT_USER_DEFINED;
        attrs[id] = (uint8_t)((json_is_true(json_object_get(a, "lstrip")) ? TOK_ATTR_LSTRIP : 0) |
                              (json_is_true(json_object_get(a, "rstrip")) ? TOK_ATTR_RSTRIP : 0));
    }
    uint64_t total = 0, off = 0;
    for (int32_t i = 0; i < n; i++) total += pieces[i].len;
    t->kind = HONE_TOK_BPE;
    snprintf(t->pre, sizeof t->pre, "tokenizer.json");
    if (tok_alloc(t, n, total) != HONE_OK) {
        free(types);
        free(attrs);
        rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int32_t i = 0; i < n; i++) {
        t->type[i] = types[i] ? types[i] : HONE_TOKT_UNUSED; /* ids no entry names */
        t->attr[i] = attrs[i];
        tok_put_piece(t, i, pieces[i].ptr ? pieces[i].ptr : "", (uint32_t)pieces[i].len, &off);
    }
    free(types);
    free(attrs);
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    merge_ctx mc = {merges};
    if ((rc = tok_merges_new(&t->merges, json_array_size(merges), json_merge_get, &mc))) {
        rc = hone_err_set(err, rc, "%s: model.merges: %s", path, rc == HONE_ENOMEM ? "out of memory" : "too many");
        goto done;
    }
    if ((rc = tok_pretok_new_rx(&t->pretok, (const char *const *)rl.rx, rl.n, "tokenizer.json", err))) {
        hone_err_prefix(err, "%s: pre_tokenizer", path);
        goto done;
    }
    t->bos = t->eos = t->eot = t->eom = t->unk = t->pad = -1;
    if (cfg) {
        const char *s;
        if ((s = cfg_token(cfg, "bos_token"))) t->bos = tok_lookup(t, s, strlen(s));
        if ((s = cfg_token(cfg, "eos_token"))) t->eos = tok_lookup(t, s, strlen(s));
        if ((s = cfg_token(cfg, "unk_token"))) t->unk = tok_lookup(t, s, strlen(s));
        if ((s = cfg_token(cfg, "pad_token"))) t->pad = tok_lookup(t, s, strlen(s));
        t->add_bos = json_is_true(json_object_get(cfg, "add_bos_token"));
        json_t *ct = json_object_get(cfg, "chat_template");
        const char *tmpl = json_string_value(ct);
        for (size_t i = 0; !tmpl && i < json_array_size(ct); i++) /* [{name, template}...] */
            if (json_string_value(json_object_get(json_array_get(ct, i), "name")) &&
                !strcmp(json_string_value(json_object_get(json_array_get(ct, i), "name")), "default"))
                tmpl = json_string_value(json_object_get(json_array_get(ct, i), "template"));
        if (tmpl && !(t->chat_template = strdup(tmpl))) {
            rc = hone_err_set(err, HONE_ENOMEM, "%s: out of memory", cpath);
            goto done;
        }
    }
    rc = tok_finish(t, path, (hone_str){NULL, 0}, err);
done:
    for (int i = 0; i < rl.n; i++) free(rl.rx[i]);
    free(pieces);
    json_decref(root);
    json_decref(cfg);
    if (rc) {
        hone_tok_free(t);
        return rc;
    }
    *out = t;
    return HONE_OK;
}
