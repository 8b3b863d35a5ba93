/* testutil.h: shared helpers for the cmocka unit tests.
 * Tests run from the repository root. Real models are looked up in $HONE_MODELS
 * or ./models; a test that needs one it cannot find is skipped with a message. */
#ifndef HONE_TESTUTIL_H
#define HONE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hone.h"

#define GEMMA_GGUF "gemma-3-270m-q4_k_m.gguf"
#define SMOL_GGUF "SmolLM2-135M-Instruct.Q4_1.gguf"

/* Path of a real model file in the models folder, or NULL if absent. */
static inline const char *test_model_path(const char *file) {
    static char buf[4][4096];
    static int k;
    const char *dir = getenv("HONE_MODELS");
    char *p = buf[k++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", dir ? dir : "models", file);
    return access(p, R_OK) == 0 ? p : NULL;
}

/* Skips the current test when a model is missing. */
#define REQUIRE_MODEL(var, file)                                                   \
    const char *var = test_model_path(file);                                      \
    if (!var) {                                                                   \
        print_message("[ SKIPPED  ] model %s not found (run `make models`)\n", file); \
        skip();                                                                   \
    }

/* Asserts a library call succeeded, printing its error otherwise. */
#define ASSERT_OK(call, errp)                                                      \
    do {                                                                          \
        int rc_ = (call);                                                         \
        if (rc_ != HONE_OK) fail_msg("%s -> %d: %s", #call, rc_, (errp)->msg);    \
    } while (0)

/* Writes bytes to a fresh temporary file; returns its malloc'd path. */
static inline char *test_write_tmp(const void *data, size_t n, const char *suffix) {
    char *path = malloc(256);
    snprintf(path, 256, "/tmp/hone-test-%ld-%d%s", (long)getpid(), rand(), suffix ? suffix : "");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return path;
}

#endif
