/* cmd_tokenize.c: `hone tokenize`: text -> token ids, pieces or a count, with the
 * tokenizer stored in a GGUF file's metadata. */
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone tokenize --model PATH [--ids | --pieces | --count] [--special] [--bos]\n"
            "                     [--json] [--decode] [TEXT | -]\n"
            "\n"
            "Turns TEXT (or standard input with '-', the default when no TEXT is given) into\n"
            "the token ids of the model's own tokenizer (GGUF tokenizer.ggml.* metadata).\n"
            "\n"
            "  --model PATH  GGUF file (a vocab-only GGUF is enough), or a Hugging Face\n"
            "                folder with tokenizer.json (byte-level BPE models)\n"
            "  --ids         print the ids, space-separated (default)\n"
            "  --pieces      print one line per token: id, tab, the piece as stored\n"
            "                (escaped: \\n \\t \\\\ \\xHH)\n"
            "  --count       print the number of tokens\n"
            "  --special     parse special-token text such as <start_of_turn> as the token\n"
            "                (off by default: user text cannot inject control tokens)\n"
            "  --bos         prepend the BOS token (the model's add_bos_token is shown by\n"
            "                `hone inspect`; it is not applied implicitly)\n"
            "  --json        one JSON object: {\"count\", \"ids\", \"pieces\"}\n"
            "  --decode      the input is ids (whitespace-separated); print the text\n"
            "  --bench N     encode the input N times (one thread) and print the speed\n"
            "\n"
            "  --chat FILE.json        render a conversation ([{\"role\",\"content\"}...] or\n"
            "                          {\"messages\": [...]}) with the model's chat template,\n"
            "                          tokenize it (special tokens parsed) and mark with '*'\n"
            "                          the tokens training supervises (assistant turns)\n"
            "  --chat-template NAME    a built-in (gemma, llama3, llama3.1, llama3.2, mistral,\n"
            "                          chatml, smollm2, chatml-plain, deepseek, raw, seed) or\n"
            "                          file:PATH, instead of the one recognised from the model\n"
            "  --gen                   append the open assistant turn (generation prompt)\n");
}

static char *read_stdin(size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    if (!b) return NULL;
    for (;;) {
        if (len == cap) {
            char *p = realloc(b, cap *= 2);
            if (!p) {
                free(b);
                return NULL;
            }
            b = p;
        }
        size_t k = fread(b + len, 1, cap - len, stdin);
        if (k == 0) break;
        len += k;
    }
    *n = len;
    return b;
}

static void print_escaped(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c < 0x20 || c == 0x7F) fprintf(f, "\\x%02X", c);
        else fputc(c, f);
    }
}

/* A GGUF file, or a Hugging Face folder (tokenizer.json): g stays NULL for a folder. */
static int load_model(const char *model, hone_gguf **g, hone_tok **t, hone_err *err) {
    struct stat st;
    *g = NULL;
    if (stat(model, &st) == 0 && S_ISDIR(st.st_mode)) return hone_tok_load_hf(t, model, err);
    int rc = hone_gguf_open(g, model, err);
    return rc ? rc : hone_tok_load_gguf(t, *g, err);
}

/* The chat template: --chat-template NAME; else the model's Jinja template
 * (GGUF tokenizer.chat_template or tokenizer_config.json) recognised; else the
 * family told by the vocabulary's turn tokens. */
static int open_template(hone_chat_template **c, const hone_gguf *g, const hone_tok *t, const char *name,
                         hone_err *err) {
    if (name) return hone_chat_template_open(c, name, err);
    hone_str j = {NULL, 0};
    if (g) hone_gguf_get_str(g, "tokenizer.chat_template", &j);
    if (!j.ptr && hone_tok_chat_template(t))
        j = (hone_str){hone_tok_chat_template(t), strlen(hone_tok_chat_template(t))};
    const char *found = j.ptr ? hone_chat_template_detect(j.ptr, j.len) : NULL;
    static const struct { const char *tok, *tmpl; } BY_VOCAB[] = {
        {"<start_of_turn>", "gemma"}, {"<|start_header_id|>", "llama3"}, {"<｜Assistant｜>", "deepseek"},
        {"<|im_start|>", "chatml-plain"}, {"[INST]", "mistral"},
    };
    for (size_t i = 0; !found && i < sizeof BY_VOCAB / sizeof BY_VOCAB[0]; i++)
        if (hone_tok_find(t, BY_VOCAB[i].tok, strlen(BY_VOCAB[i].tok)) >= 0) found = BY_VOCAB[i].tmpl;
    if (!found) {
        err->code = HONE_EUNSUPPORTED;
        snprintf(err->msg, sizeof err->msg,
                 "chat template not recognised (%s); choose one with --chat-template NAME",
                 j.ptr ? "the model's Jinja template matches no built-in" : "the model has none");
        return HONE_EUNSUPPORTED;
    }
    return hone_chat_template_open(c, found, err);
}

/* --chat: render, tokenize with special tokens, mark supervised tokens (hone_chat_mask:
 * the tokens of each assistant message's content and its end-of-turn marker). */
static int run_chat(const char *model, const char *file, const char *name, int gen, int mode, int json) {
    json_error_t je;
    json_t *root = json_load_file(file, 0, &je);
    if (!root) return cli_fail("%s: line %d column %d: %s", file, je.line, je.column, je.text);
    json_t *arr = json_is_array(root) ? root : json_object_get(root, "messages");
    if (!json_is_array(arr)) {
        json_decref(root);
        return cli_fail("%s: expected an array of messages or {\"messages\": [...]}", file);
    }
    size_t nm = json_array_size(arr);
    hone_chat_msg *msgs = calloc(nm ? nm : 1, sizeof *msgs);
    hone_chat_span *sp = calloc(nm ? nm : 1, sizeof *sp);
    int status = 0;
    for (size_t i = 0; i < nm; i++) {
        json_t *m = json_array_get(arr, i);
        msgs[i].role = json_string_value(json_object_get(m, "role"));
        msgs[i].content = json_string_value(json_object_get(m, "content"));
        if (!msgs[i].role || !msgs[i].content) {
            status = cli_fail("%s: messages[%zu]: expected string \"role\" and \"content\"", file, i);
            break;
        }
    }
    hone_err err = {0};
    hone_gguf *g = NULL;
    hone_tok *t = NULL;
    hone_chat_template *c = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    if (status) goto out;
    if (load_model(model, &g, &t, &err) || open_template(&c, g, t, name, &err) ||
        hone_chat_render(c, msgs, nm, gen, &text, &len, sp, &err) ||
        hone_tok_encode(t, text, len, HONE_TOK_SPECIAL, &ids, &n, &err)) {
        status = cli_fail_err(&err);
        goto out;
    }
    if (hone_chat_template_warning(c)) fprintf(stderr, "hone: warning: %s\n", hone_chat_template_warning(c));
    /* supervised: each assistant message's content and end-of-turn marker (hone_chat_mask) */
    size_t n_sup = 0;
    unsigned char *sup = calloc(n ? n : 1, 1);
    if (hone_chat_mask(t, c, text, len, msgs, sp, nm, ids, n, sup, &err)) {
        free(sup);
        status = cli_fail_err(&err);
        goto out;
    }
    for (size_t k = 0; k < n; k++) n_sup += sup[k];
    if (json) {
        json_t *o = json_object(), *ja = json_array(), *js = json_array();
        for (size_t k = 0; k < n; k++) {
            json_array_append_new(ja, json_integer(ids[k]));
            json_array_append_new(js, json_integer(sup[k]));
        }
        json_object_set_new(o, "template", json_string(hone_chat_template_name(c)));
        json_object_set_new(o, "text", json_stringn(text, len));
        json_object_set_new(o, "count", json_integer((json_int_t)n));
        json_object_set_new(o, "supervised_count", json_integer((json_int_t)n_sup));
        json_object_set_new(o, "ids", ja);
        json_object_set_new(o, "supervised", js);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', stdout);
        json_decref(o);
    } else if (mode == 'c') {
        printf("%zu tokens, %zu supervised\n", n, n_sup);
    } else {
        printf("# template %s: %zu tokens, %zu supervised (*)\n", hone_chat_template_name(c), n, n_sup);
        for (size_t k = 0; k < n; k++) {
            hone_str p = hone_tok_piece(t, ids[k]);
            printf("%c %d\t", sup[k] ? '*' : ' ', ids[k]);
            print_escaped(stdout, p.ptr, p.len);
            fputc('\n', stdout);
        }
    }
    free(sup);
out:
    free(ids);
    free(text);
    hone_chat_template_close(c);
    hone_tok_free(t);
    if (g) hone_gguf_close(g);
    free(msgs);
    free(sp);
    json_decref(root);
    return status;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int mode = 'i', json = 0, decode = 0;
    long bench = 0;
    const char *chat_file = NULL, *chat_name = NULL;
    int gen = 0;
    unsigned flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            if (++i >= argc) return cli_usage_error("tokenize", "--model needs a path");
            model = argv[i];
        } else if (!strcmp(a, "--ids")) mode = 'i';
        else if (!strcmp(a, "--pieces")) mode = 'p';
        else if (!strcmp(a, "--count")) mode = 'c';
        else if (!strcmp(a, "--special")) flags |= HONE_TOK_SPECIAL;
        else if (!strcmp(a, "--bos")) flags |= HONE_TOK_BOS;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--decode")) decode = 1;
        else if (!strcmp(a, "--gen")) gen = 1;
        else if (!strcmp(a, "--chat") || !strcmp(a, "--chat-template")) {
            if (i + 1 >= argc) return cli_usage_error("tokenize", "%s needs a value", a);
            if (!strcmp(a, "--chat")) chat_file = argv[++i];
            else chat_name = argv[++i];
        }
        else if (!strcmp(a, "--bench")) {
            if (++i >= argc || (bench = strtol(argv[i], NULL, 10)) <= 0)
                return cli_usage_error("tokenize", "--bench needs a positive count");
        }
        else if (a[0] == '-' && a[1]) return cli_usage_error("tokenize", "unknown flag '%s'", a);
        else if (text) return cli_usage_error("tokenize", "more than one TEXT argument");
        else text = a;
    }
    if (!model) return cli_usage_error("tokenize", "--model PATH is required");
    if (chat_file) return run_chat(model, chat_file, chat_name, gen, mode, json);
    size_t len = 0;
    char *owned = NULL;
    if (!text || !strcmp(text, "-")) {
        owned = read_stdin(&len);
        if (!owned) return cli_fail("reading standard input: out of memory");
        text = owned;
    } else {
        len = strlen(text);
    }
    hone_err err = {0};
    hone_gguf *g = NULL;
    hone_tok *t = NULL;
    int status = 0;
    if (load_model(model, &g, &t, &err) != HONE_OK) {
        status = cli_fail_err(&err);
        goto done;
    }
    if (decode) {
        size_t n = 0, cap = 64;
        int32_t *ids = malloc(cap * sizeof *ids);
        const char *p = text, *end = text + len;
        while (ids && p < end) {
            char *q;
            while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',')) p++;
            if (p >= end) break;
            long v = strtol(p, &q, 10);
            if (q == p) {
                status = cli_fail("--decode: not an id at byte %zu", (size_t)(p - text));
                break;
            }
            if (n == cap) {
                int32_t *r = realloc(ids, (cap *= 2) * sizeof *ids);
                if (!r) break;
                ids = r;
            }
            ids[n++] = (int32_t)v;
            p = q;
        }
        char *out;
        size_t on;
        if (!status) {
            if (hone_tok_decode(t, ids, n, flags, &out, &on, &err) != HONE_OK) {
                status = cli_fail_err(&err);
            } else {
                fwrite(out, 1, on, stdout);
                if (!on || out[on - 1] != '\n') fputc('\n', stdout);
                free(out);
            }
        }
        free(ids);
        goto done;
    }
    int32_t *ids;
    size_t n;
    if (bench) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long r = 0; r < bench; r++) {
            if (hone_tok_encode(t, text, len, flags, &ids, &n, &err) != HONE_OK) {
                status = cli_fail_err(&err);
                goto done;
            }
            free(ids);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        printf("%zu bytes, %zu tokens, %ld runs, %.4f s/run, %.2f MB/s\n", len, n, bench,
               sec / (double)bench, (double)len * (double)bench / sec / 1e6);
        goto done;
    }
    if (hone_tok_encode(t, text, len, flags, &ids, &n, &err) != HONE_OK) {
        status = cli_fail_err(&err);
        goto done;
    }
    if (json) {
        json_t *o = json_object(), *ja = json_array(), *jp = json_array();
        for (size_t i = 0; i < n; i++) {
            hone_str s = hone_tok_piece(t, ids[i]);
            json_array_append_new(ja, json_integer(ids[i]));
            json_array_append_new(jp, json_stringn_nocheck(s.ptr, s.len));
        }
        json_object_set_new(o, "count", json_integer((json_int_t)n));
        if (mode != 'c') {
            json_object_set_new(o, "ids", ja);
            json_object_set_new(o, "pieces", jp);
        } else {
            json_decref(ja);
            json_decref(jp);
        }
        json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', stdout);
        json_decref(o);
    } else if (mode == 'c') {
        printf("%zu\n", n);
    } else if (mode == 'p') {
        for (size_t i = 0; i < n; i++) {
            hone_str s = hone_tok_piece(t, ids[i]);
            printf("%d\t", ids[i]);
            print_escaped(stdout, s.ptr, s.len);
            fputc('\n', stdout);
        }
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        fputc('\n', stdout);
    }
    free(ids);
done:
    hone_tok_free(t);
    if (g) hone_gguf_close(g);
    free(owned);
    return status;
}
