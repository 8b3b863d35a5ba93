/* cmd_data_format.c: `hone data format IN --to FORMAT [--template NAME | --model M] [--out FILE]`:
 * converts every record of a JSONL file (hone_ds_convert). Stops at the first record that
 * cannot be converted, naming its line; the output is written atomically (or to stdout). */
#include <stdlib.h>
#include <string.h>

#include "cli/data_cli.h"
#include "cli/gen_common.h"

static void format_usage(FILE *f) {
    fprintf(f,
            "usage: hone data format IN --to messages|prompt-completion|text [--template NAME | --model M]\n"
            "                        [--out FILE]\n\n"
            "Converts the records of the JSONL file IN; other keys (id, category, ...) are kept.\n"
            "  --to F          messages, prompt-completion or text\n"
            "  --template T    the chat template that renders text (and parses it back when IN is text):\n"
            "                  gemma, llama3, llama3.1, llama3.2, mistral, chatml, smollm2, chatml-plain,\n"
            "                  deepseek, seed (the seed workflow's literal layout), file:PATH, or a model\n"
            "                  (GGUF file, HF folder, ollama:NAME) whose own template is used\n"
            "  --model M       use M's chat template (as hone generate picks it)\n"
            "  --out FILE      write FILE atomically (default: standard output)\n"
            "messages <-> prompt-completion and text -> messages -> text are lossless; see hone/dataset.h\n"
            "for which templates give messages back exactly from a text.\n");
}

int data_format(int argc, char **argv) {
    const char *cmd = "data format", *in = NULL, *to_s = NULL, *tname = NULL, *model = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { format_usage(stdout); return 0; }
        if (a[0] == '-' && a[1]) {
            if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--to")) to_s = v;
            else if (!strcmp(a, "--template") || !strcmp(a, "--chat-template")) tname = v;
            else if (!strcmp(a, "--model")) model = v;
            else if (!strcmp(a, "--out") || !strcmp(a, "-o")) outp = v;
            else return cli_usage_error(cmd, "unknown flag '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", a);
        }
    }
    if (!in || !to_s) return cli_usage_error(cmd, "needs IN and --to FORMAT");
    hone_err err = {0};
    hone_ds_format to;
    if (hone_ds_format_parse(to_s, &to, &err)) return cli_usage_error(cmd, "--to: %s", err.msg);
    hone_chat_template *t = NULL;
    cli_model cm;
    int have_model = 0, rc = 1;
    hone_ds *ds = NULL;
    char **lines = NULL;
    if (model) {
        if (cli_model_open(&cm, model, 0, NULL, &err)) return cli_fail_err(&err);
        have_model = 1;
        if (cli_template_open(&t, &cm, tname, &err)) { cli_fail_err(&err); goto out; }
        if (t && hone_chat_template_warning(t)) fprintf(stderr, "hone: warning: %s\n", hone_chat_template_warning(t));
    } else if (tname && data_template_open(tname, &t)) {
        goto out;
    }
    if (hone_ds_load(&ds, in, NULL, &err)) {
        cli_fail("%s (run `hone data check` for every problem)", err.msg);
        goto out;
    }
    lines = calloc(ds->n ? ds->n : 1, sizeof *lines);
    if (!lines) { cli_fail("out of memory"); goto out; }
    for (size_t i = 0; i < ds->n; i++)
        if (hone_ds_convert(ds, &ds->recs[i], to, t, &lines[i], &err)) {
            cli_fail_err(&err);
            goto out;
        }
    if (outp) {
        if (hone_ds_write_lines(outp, (const char *const *)lines, NULL, ds->n, &err)) { cli_fail_err(&err); goto out; }
        fprintf(stderr, "%s: %zu records, %s -> %s\n", outp, ds->n, hone_ds_format_name(ds->format),
                hone_ds_format_name(to));
    } else {
        for (size_t i = 0; i < ds->n; i++) printf("%s\n", lines[i]);
        if (fflush(stdout)) { cli_fail("standard output: write failed"); goto out; }
    }
    rc = 0;
out:
    for (size_t i = 0; ds && lines && i < ds->n; i++) free(lines[i]);
    free(lines);
    hone_ds_free(ds);
    hone_chat_template_close(t);
    if (have_model) cli_model_close(&cm);
    return rc;
}
