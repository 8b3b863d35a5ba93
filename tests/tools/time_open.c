/* time_open.c: times opening a model and building its description.
 * usage: time_open PATH [RUNS]   (GGUF file; default 20 runs)
 * Each run: hone_gguf_open (mmap, header, all metadata incl. the token list,
 * tensor infos, checks) + hone_model_desc_from_gguf + hone_gguf_close.
 * Prints min, median and max wall time in ms (CLOCK_MONOTONIC). The page
 * cache is warm after the first run, as it is for any repeated use. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hone.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: time_open PATH [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1 || runs > 10000) runs = 20;
    double *ms = malloc(sizeof *ms * (size_t)runs);
    for (int r = 0; r < runs; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        hone_err err = {0};
        hone_gguf *g;
        hone_model_desc d;
        if (hone_gguf_open(&g, argv[1], &err) || hone_model_desc_from_gguf(&d, g, &err)) {
            fprintf(stderr, "time_open: %s\n", err.msg);
            return 1;
        }
        hone_gguf_close(g);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp);
    printf("%s: %d runs, open + metadata + desc: min %.2f ms, median %.2f ms, max %.2f ms\n", argv[1], runs, ms[0],
           ms[runs / 2], ms[runs - 1]);
    free(ms);
    return 0;
}
