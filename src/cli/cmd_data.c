/* cmd_data.c: `hone data SUBCOMMAND` (training sets: check, split, format, build) and
 * `hone data check`: the library's hone_ds_check printed as lines or JSON. Exit status: 0 when
 * there are no errors (warnings allowed), 1 with errors, 2 for a usage error. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/data_cli.h"
#include "cli/gen_common.h"

int data_parse_i64(const char *cmd, const char *flag, const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < 0) return cli_usage_error(cmd, "%s '%s': expected a non-negative integer", flag, v);
    *out = x;
    return 0;
}

int data_parse_f64(const char *cmd, const char *flag, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !(x >= 0)) return cli_usage_error(cmd, "%s '%s': expected a non-negative number", flag, v);
    *out = x;
    return 0;
}

static int push_path(char ***out, size_t *n, size_t *cap, const char *p) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 8;
        char **v = realloc(*out, c * sizeof *v);
        if (!v) return cli_fail("out of memory");
        *out = v;
        *cap = c;
    }
    if (!((*out)[*n] = strdup(p))) return cli_fail("out of memory");
    (*n)++;
    return 0;
}

int data_expand_paths(const char *arg, char ***out, size_t *n, size_t *cap) {
    struct stat sb;
    if (stat(arg, &sb) != 0) return cli_fail("%s: %s", arg, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return push_path(out, n, cap, arg);
    static const char *const names[] = {"train.jsonl", "valid.jsonl", "test.jsonl"};
    size_t n0 = *n;
    for (int i = 0; i < 3; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s%s%s", arg, arg[strlen(arg) - 1] == '/' ? "" : "/", names[i]);
        if (access(p, F_OK) == 0 && push_path(out, n, cap, p)) return 1;
    }
    if (*n == n0) return cli_fail("%s: a folder without train.jsonl, valid.jsonl or test.jsonl", arg);
    return 0;
}

int data_template_open(const char *value, hone_chat_template **out) {
    hone_err err = {0};
    *out = NULL;
    struct stat sb;
    if (strncmp(value, "file:", 5) && (stat(value, &sb) == 0 || !strncmp(value, "ollama:", 7))) {
        cli_model cm;
        if (cli_model_open(&cm, value, 0, NULL, &err)) return cli_fail_err(&err);
        int rc = cli_template_open(out, &cm, NULL, &err);
        cli_model_close(&cm);
        if (rc) return cli_fail_err(&err);
    } else if (hone_chat_template_open(out, value, &err)) {
        return cli_fail_err(&err);
    }
    const char *w = hone_chat_template_warning(*out);
    if (w) fprintf(stderr, "hone: warning: %s\n", w);
    return 0;
}

static void check_usage(FILE *f) {
    fprintf(f,
            "usage: hone data check FILE_OR_DIR... [--model M] [--chat-template NAME] [--max-seq-length N]\n"
            "                       [--mask-prompt] [--answer-cap N] [--near-threshold X] [--json]\n\n"
            "Checks JSONL training files before training: JSON syntax and schema (FILE:LINE:COLUMN),\n"
            "role order, empty or whitespace-only messages, exact and near duplicates within a file\n"
            "and across files (a FOLDER means its train.jsonl, valid.jsonl, test.jsonl, in that\n"
            "order; a record of a later file that is in an earlier one is a leak), and counts.\n"
            "With --model (GGUF, HF folder or ollama:NAME; its tokenizer and chat template), every\n"
            "record is tokenized as `hone train` will: token lengths (min, median, p95, max), how\n"
            "many exceed --max-seq-length (default 2048), how many have no supervised token under\n"
            "--mask-prompt, and the share of answers at a length cap (--answer-cap N tokens, or\n"
            "inferred: the longest answer length, if >= 32 tokens and >= 2 answers and\n"
            "5 %% of them share it).\n"
            "Near duplicates: equal after normalising case, punctuation and spaces, or Jaccard\n"
            "similarity of 5-character shingles >= --near-threshold (default 0.8).\n"
            "Exit status: 0 without errors (warnings allowed), 1 with errors, 2 usage.\n");
}

static json_t *stats_json(const hone_ds_file_stats *s) {
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "path", s->path,
                          "format", hone_ds_format_name(s->format), "lines", (json_int_t)s->n_lines, "records",
                          (json_int_t)s->n_records, "bad_records", (json_int_t)s->n_bad, "errors",
                          (json_int_t)s->n_errors, "warnings", (json_int_t)s->n_warnings, "empty",
                          (json_int_t)s->n_empty, "duplicates", (json_int_t)s->n_duplicate, "near_duplicates",
                          (json_int_t)s->n_near_duplicate, "leaks", (json_int_t)s->n_leak, "near_leaks",
                          (json_int_t)s->n_near_leak);
    if (s->have_tokens) {
        size_t n = s->n_records - s->n_template;
        json_object_set_new(
            o, "tokens",
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "min", (json_int_t)s->tok_min,
                      "median", (json_int_t)s->tok_median, "p95", (json_int_t)s->tok_p95, "max",
                      (json_int_t)s->tok_max, "total", (json_int_t)s->tok_total, "supervised",
                      (json_int_t)s->supervised_total, "too_long", (json_int_t)s->n_too_long, "no_supervised",
                      (json_int_t)s->n_no_supervised, "template_errors", (json_int_t)s->n_template, "answer_cap",
                      (json_int_t)s->answer_cap, "at_cap", (json_int_t)s->n_at_cap, "at_cap_share",
                      n ? (double)s->n_at_cap / (double)n : 0.0));
    }
    return o;
}

int data_check(int argc, char **argv) {
    const char *cmd = "data check", *model = NULL, *tmpl_name = NULL;
    hone_ds_check_opts o = {.max_seq_length = 2048};
    int json = 0, rc = 1;
    char **paths = NULL;
    size_t n = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            check_usage(stdout);
            rc = 0;
            goto out;
        }
        int has_v = i + 1 < argc;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--mask-prompt")) o.mask_prompt = 1;
        else if (!strcmp(a, "--model") || !strcmp(a, "--chat-template") || !strcmp(a, "--max-seq-length") ||
                 !strcmp(a, "--answer-cap") || !strcmp(a, "--near-threshold")) {
            if (!has_v) { rc = cli_usage_error(cmd, "%s needs a value", a); goto out; }
            const char *v = argv[++i];
            if (!strcmp(a, "--model")) model = v;
            else if (!strcmp(a, "--chat-template")) tmpl_name = v;
            else if (!strcmp(a, "--max-seq-length") && data_parse_i64(cmd, a, v, &o.max_seq_length)) { rc = 2; goto out; }
            else if (!strcmp(a, "--answer-cap") && data_parse_i64(cmd, a, v, &o.answer_cap)) { rc = 2; goto out; }
            else if (!strcmp(a, "--near-threshold") && data_parse_f64(cmd, a, v, &o.near_threshold)) { rc = 2; goto out; }
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error(cmd, "unknown flag '%s'", a);
            goto out;
        } else if (data_expand_paths(a, &paths, &n, &cap)) {
            goto out;
        }
    }
    if (!n) { rc = cli_usage_error(cmd, "needs a FILE or FOLDER"); goto out; }
    if (o.near_threshold > 1) { rc = cli_usage_error(cmd, "--near-threshold must be in (0, 1]"); goto out; }
    hone_err err = {0};
    cli_model cm;
    int have_model = 0;
    hone_chat_template *t = NULL;
    if (model) {
        if (cli_model_open(&cm, model, 0, NULL, &err)) { rc = cli_fail_err(&err); goto out; }
        have_model = 1;
        if (cli_template_open(&t, &cm, tmpl_name, &err)) { rc = cli_fail_err(&err); goto out_model; }
        const char *w = hone_chat_template_warning(t);
        if (w) fprintf(stderr, "hone: warning: %s\n", w);
        o.tok = cm.tok;
        o.tmpl = t;
    }
    hone_ds_check_report rep;
    if (hone_ds_check((const char *const *)paths, n, &o, &rep, &err)) { rc = cli_fail_err(&err); goto out_model; }
    if (json) {
        json_t *root = json_object(), *files = json_array(), *diags = json_array();
        for (size_t f = 0; f < rep.n_files; f++) json_array_append_new(files, stats_json(&rep.files[f]));
        for (size_t i = 0; i < rep.diags.n; i++) {
            const hone_ds_diag *d = &rep.diags.v[i];
            json_array_append_new(diags, json_pack("{s:s, s:i, s:i, s:s, s:s, s:s}", "file", d->file, "line", d->line,
                                                   "column", d->column, "severity",
                                                   d->severity == HONE_DS_ERROR ? "error" : "warning", "kind",
                                                   hone_ds_kind_name(d->kind), "message", d->msg));
        }
        json_object_set_new(root, "files", files);
        json_object_set_new(root, "diagnostics", diags);
        json_object_set_new(root, "errors", json_integer((json_int_t)rep.diags.n_errors));
        json_object_set_new(root, "warnings", json_integer((json_int_t)rep.diags.n_warnings));
        if (t) json_object_set_new(root, "template", json_string(hone_chat_template_name(t)));
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(root);
    } else {
        for (size_t i = 0; i < rep.diags.n; i++) {
            const hone_ds_diag *d = &rep.diags.v[i];
            char head[64];
            int hl = snprintf(head, sizeof head, ":%d:%d: ", d->line, d->column);
            const char *body = d->msg + strlen(d->file) + (size_t)hl;
            printf("%s:%d:%d: %s: %s [%s]\n", d->file, d->line, d->column,
                   d->severity == HONE_DS_ERROR ? "error" : "warning", body, hone_ds_kind_name(d->kind));
        }
        for (size_t f = 0; f < rep.n_files; f++) {
            const hone_ds_file_stats *s = &rep.files[f];
            printf("%s: %s, %zu records (%zu bad), %zu errors, %zu warnings; empty %zu, duplicates %zu, near "
                   "duplicates %zu, leaks %zu, near leaks %zu\n",
                   s->path, hone_ds_format_name(s->format), s->n_records, s->n_bad, s->n_errors, s->n_warnings,
                   s->n_empty, s->n_duplicate, s->n_near_duplicate, s->n_leak, s->n_near_leak);
            if (s->have_tokens) {
                size_t nt = s->n_records - s->n_template;
                printf("  tokens (%s template): min %zu, median %zu, p95 %zu, max %zu; %zu over --max-seq-length "
                       "%lld; %zu without a supervised token under --mask-prompt; ",
                       hone_chat_template_name(t), s->tok_min, s->tok_median, s->tok_p95, s->tok_max, s->n_too_long,
                       (long long)o.max_seq_length, s->n_no_supervised);
                if (s->answer_cap)
                    printf("answers at a length cap of %lld tokens: %zu/%zu (%.1f %%)\n", (long long)s->answer_cap,
                           s->n_at_cap, nt, nt ? 100.0 * (double)s->n_at_cap / (double)nt : 0.0);
                else
                    printf("no length cap seen in the answers\n");
            }
        }
        printf("data check: %zu errors, %zu warnings\n", rep.diags.n_errors, rep.diags.n_warnings);
    }
    rc = rep.diags.n_errors ? 1 : 0;
    hone_ds_check_report_free(&rep);
out_model:
    hone_chat_template_close(t);
    if (have_model) cli_model_close(&cm);
out:
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return rc;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: hone data check|split|format|build ...\n\n"
                   "  check   find defects in JSONL training files (schema, roles, empties, duplicates, leaks, lengths)\n"
                   "  split   split records into train/valid/test deterministically (stratified)\n"
                   "  format  convert between messages, prompt-completion and text\n"
                   "  build   generate a training set from probes and kernels with a model\n"
                   "\n'hone data SUBCOMMAND --help' shows its flags.\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "check")) return data_check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "split")) return data_split(argc - 1, argv + 1);
    if (!strcmp(argv[1], "format")) return data_format(argc - 1, argv + 1);
    if (!strcmp(argv[1], "build")) return data_build(argc - 1, argv + 1);
    return cli_usage_error("data", "unknown subcommand '%s'", argv[1]);
}
