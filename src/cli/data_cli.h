/* data_cli.h: what the `hone data` subcommand files share (cmd_data*.c). */
#ifndef HONE_CLI_DATA_CLI_H
#define HONE_CLI_DATA_CLI_H

#include "cli/cli.h"

int data_check(int argc, char **argv);
int data_split(int argc, char **argv);
int data_format(int argc, char **argv);
int data_build(int argc, char **argv);

/* The JSONL files a FILE_OR_DIR argument names: the file itself, or DIR/train.jsonl,
 * DIR/valid.jsonl, DIR/test.jsonl (those present; at least one). Appends malloc'd paths to
 * *out (n, cap as a growable array). Returns 0 or prints the error and returns 1. */
int data_expand_paths(const char *arg, char ***out, size_t *n, size_t *cap);

/* A chat template from --template VALUE: a built-in name or file:PATH, or a model (GGUF file,
 * HF folder, ollama:NAME) whose template hone picks as `hone generate` does. Prints the error
 * and returns 1 on failure. */
int data_template_open(const char *value, hone_chat_template **out);

/* Parses a non-negative integer / a number; 0 on success, else prints and returns 2. */
int data_parse_i64(const char *cmd, const char *flag, const char *v, int64_t *out);
int data_parse_f64(const char *cmd, const char *flag, const char *v, double *out);

#endif
