/* cli.h: what the subcommand files share. Each subcommand lives in its own
 * src/cli/cmd_NAME.c and exposes `int cmd_NAME(int argc, char **argv)`; main.c
 * lists them. Only the CLI prints and exits; the library returns errors. */
#ifndef HONE_CLI_H
#define HONE_CLI_H

#include <stdio.h>

#include "hone.h"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ab(int argc, char **argv);
int cmd_export_adapter(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_data(int argc, char **argv);
/* `hone ab run` (cmd_ab_run.c), dispatched by cmd_ab. */
int cmd_ab_run(int argc, char **argv);
/* `hone ab judge` and `hone ab report` (cmd_ab_judge.c), dispatched by cmd_ab. */
int cmd_ab_judge(int argc, char **argv);
int cmd_ab_report(int argc, char **argv);
/* The judging step after `hone ab run` (cmd_ab_judge.c): 0 on success, else an exit
 * status (the error printed). */
int cli_ab_judge_after_run(const char *spec_path, const char *db_path, hone_ab_spec *spec,
                           hone_ab_store *store);
int cmd_serve(int argc, char **argv);
int cmd_fuse(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_logits(int argc, char **argv);

/* Prints "hone: MSG" to stderr and returns the exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the library error and returns 1. */
int cli_fail_err(const hone_err *err);
/* Error for an unknown or malformed flag, pointing at --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
