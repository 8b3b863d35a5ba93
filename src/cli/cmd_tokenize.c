/* cmd_tokenize.c: `hone tokenize`: text -> token ids, pieces or a count, with the
 * tokenizer stored in a GGUF file's metadata. */
#include <jansson.h>
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
            "  --model PATH  GGUF file (a vocab-only GGUF is enough)\n"
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
            "  --bench N     encode the input N times (one thread) and print the speed\n");
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

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    int mode = 'i', json = 0, decode = 0;
    long bench = 0;
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
        else if (!strcmp(a, "--bench")) {
            if (++i >= argc || (bench = strtol(argv[i], NULL, 10)) <= 0)
                return cli_usage_error("tokenize", "--bench needs a positive count");
        }
        else if (a[0] == '-' && a[1]) return cli_usage_error("tokenize", "unknown flag '%s'", a);
        else if (text) return cli_usage_error("tokenize", "more than one TEXT argument");
        else text = a;
    }
    if (!model) return cli_usage_error("tokenize", "--model PATH is required");
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
    if (hone_gguf_open(&g, model, &err) != HONE_OK || hone_tok_load_gguf(&t, g, &err) != HONE_OK) {
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
