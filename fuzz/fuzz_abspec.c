/* fuzz_abspec.c: the A/B experiment file parser on arbitrary bytes.
 * The input up to the first NUL is a spec (YAML), parsed with relative paths resolving
 * against examples/ab (so kernels, rubrics and probe files the corpus names exist). The
 * bytes after the NUL, if any, are written to a temporary probe file and parsed through a
 * fixed spec that names it. A spec that loads must be consistent: every index in range,
 * every cell enumerable. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hone.h"

static void check(const hone_ab_spec *s) {
    if (!s->n_models || !s->n_conditions || !s->n_probes || !s->samples) abort();
    if (s->baseline < 0 || (size_t)s->baseline >= s->n_conditions) abort();
    for (size_t i = 0; i < s->n_conditions; i++) {
        const hone_ab_condition *c = &s->conditions[i];
        if (c->kernel >= (int)s->n_kernels || c->kernel_b >= (int)s->n_kernels) abort();
        if (strcmp(c->mode, "none") && c->kernel < 0) abort();
    }
    for (size_t i = 0; i < s->n_judges; i++)
        if (s->judges[i].model >= (int)s->n_models ||
            (s->judges[i].model < 0) != (s->judges[i].inline_model != NULL) || !s->judges[i].rubric)
            abort();
    uint64_t n = hone_ab_spec_n_cells(s);
    for (uint64_t i = 0; i < n && i < 64; i++) {
        hone_ab_cell c;
        hone_err err;
        if (hone_ab_spec_cell(s, i, &c, &err)) abort();
        if (c.model >= s->n_models || c.probe >= s->n_probes) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t ylen = nul ? (size_t)(nul - data) : size;
    hone_ab_spec *s = NULL;
    hone_err err = {0};
    if (hone_ab_spec_load_mem(&s, (const char *)data, ylen, "fuzz.yaml", "examples/ab", &err) == HONE_OK) {
        check(s);
        hone_ab_spec_free(s);
    } else if (s || !err.msg[0]) {
        abort(); /* a failure leaves nothing behind and says why */
    }
    if (!nul) return 0;
    char path[64], spec[256];
    snprintf(path, sizeof path, "/tmp/hone-fuzz-abspec-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(nul + 1, 1, size - ylen - 1, f);
    fclose(f);
    int n = snprintf(spec, sizeof spec,
                     "models: [{id: m, path: m.gguf}]\nconditions: [{id: u, mode: none}]\nbaseline: u\nprobes: %s\n", path);
    s = NULL;
    if (hone_ab_spec_load_mem(&s, spec, (size_t)n, "fuzz.yaml", ".", &err) == HONE_OK) {
        check(s);
        hone_ab_spec_free(s);
    } else if (s || !err.msg[0]) {
        abort();
    }
    unlink(path);
    return 0;
}
