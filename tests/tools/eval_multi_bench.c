/* eval_multi_bench.c: engine-level speed of batched decode (hone_session_eval_multi)
 * for 1..N sessions, without HTTP: the ceiling of `hone serve`'s aggregate tokens/s.
 *
 *   build/tools/eval_multi_bench MODEL.gguf [STEPS] [T ...]
 * For each T (default 1 2 4 8 16): T sessions each evaluate a 4-token prompt, then
 * STEPS (default 16) eval_multi steps of one token each are timed; prints ms per
 * step and aggregate tokens/s, and the ratio to T = 1. Sampling is not included. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hone.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: eval_multi_bench MODEL [STEPS] [T ...]\n");
        return 2;
    }
    hone_err err = {0};
    hone_model *m;
    if (hone_model_load(&m, argv[1], NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int steps = argc > 2 ? atoi(argv[2]) : 16;
    int ts_default[] = {1, 2, 4, 8, 16}, *ts = ts_default, nt = 5;
    int ts_arg[32];
    if (argc > 3) {
        nt = 0;
        for (int i = 3; i < argc && nt < 32; i++) ts_arg[nt++] = atoi(argv[i]);
        ts = ts_arg;
    }
    uint32_t V = hone_model_get_desc(m)->vocab;
    double base = 0;
    for (int k = 0; k < nt; k++) {
        int T = ts[k];
        if (T < 1 || T > 64) continue;
        hone_session *ss[64];
        hone_session_opts so = {.n_ctx = 512, .n_batch = 64};
        float *lg = malloc((size_t)T * V * sizeof *lg);
        int32_t tok[64];
        for (int i = 0; i < T; i++) {
            if (hone_session_init(&ss[i], m, &so, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            int32_t p[4] = {2, 100 + i, 200, 300};
            hone_eval_out o = {.logits = lg};
            if (hone_session_eval(ss[i], p, 4, &o, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            tok[i] = 500 + i;
        }
        double t0 = now_s();
        for (int s = 0; s < steps; s++)
            if (hone_session_eval_multi(ss, (uint32_t)T, tok, lg, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        double dt = now_s() - t0, tps = T * steps / dt;
        if (T == 1) base = tps;
        printf("T=%2d  %7.1f ms/step  %7.1f tokens/s aggregate", T, 1e3 * dt / steps, tps);
        if (base > 0) printf("  %.2fx T=1", tps / base);
        printf("\n");
        for (int i = 0; i < T; i++) hone_session_free(ss[i]);
        free(lg);
    }
    hone_model_free(m);
    return 0;
}
