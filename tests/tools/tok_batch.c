/* tok_batch.c: encodes many strings with one loaded tokenizer, for interop tests.
 * usage: tok_batch MODEL < in.jsonl > out.jsonl
 * MODEL is a GGUF file or a Hugging Face folder (tokenizer.json). Each input line
 * is {"text": "...", "special": true|false}; each output line is {"ids": [...]}
 * (encoded with HONE_TOK_SPECIAL when "special", never with BOS). Exit 1 on any
 * error, with hone's one-line message on stderr. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hone.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: tok_batch MODEL < in.jsonl > out.jsonl\n");
        return 2;
    }
    hone_err err = {0};
    hone_tok *t = NULL;
    hone_gguf *g = NULL;
    struct stat st;
    int rc;
    if (stat(argv[1], &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = hone_tok_load_hf(&t, argv[1], &err);
    } else {
        rc = hone_gguf_open(&g, argv[1], &err);
        if (rc == HONE_OK) rc = hone_tok_load_gguf(&t, g, &err);
    }
    if (rc != HONE_OK) {
        fprintf(stderr, "tok_batch: %s\n", err.msg);
        hone_gguf_close(g);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)n, 0, &je);
        json_t *jt = json_object_get(o, "text");
        if (!json_is_string(jt)) {
            fprintf(stderr, "tok_batch: stdin: a line without \"text\": %s\n", o ? "" : je.text);
            json_decref(o);
            status = 1;
            break;
        }
        int32_t *ids;
        size_t nid;
        unsigned fl = json_is_true(json_object_get(o, "special")) ? HONE_TOK_SPECIAL : 0;
        if (hone_tok_encode(t, json_string_value(jt), json_string_length(jt), fl, &ids, &nid, &err)) {
            fprintf(stderr, "tok_batch: %s\n", err.msg);
            json_decref(o);
            status = 1;
            break;
        }
        fputs("{\"ids\": [", stdout);
        for (size_t i = 0; i < nid; i++) printf(i ? ", %d" : "%d", ids[i]);
        fputs("]}\n", stdout);
        free(ids);
        json_decref(o);
    }
    free(line);
    hone_tok_free(t);
    hone_gguf_close(g);
    return status;
}
