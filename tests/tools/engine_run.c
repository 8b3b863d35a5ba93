/* engine_run.c: times the engine on one prompt and reports peak memory; a
 * measurement helper, not part of the CLI (hone bench is).
 *
 *   engine_run MODEL N_TOKENS [ref|fast] [N_BATCH] [N_DECODE]
 *       evaluates N_TOKENS deterministic pseudo-random token ids as a prompt
 *       (batches of N_BATCH, default 512; logits of the last token), then
 *       N_DECODE single-token steps (default 0), and prints the prompt and
 *       decode times, tokens/s, the last logits' argmax and the process's
 *       peak RSS (getrusage ru_maxrss).
 * Exit status 0 on success, 1 with the library's error on stderr otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hone.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: engine_run MODEL N_TOKENS [ref|fast] [N_BATCH] [N_DECODE]\n");
        return 2;
    }
    uint32_t T = (uint32_t)atoi(argv[2]);
    int engine = argc > 3 && !strcmp(argv[3], "ref") ? HONE_ENGINE_REFERENCE : HONE_ENGINE_FAST;
    uint32_t nb = argc > 4 ? (uint32_t)atoi(argv[4]) : 512;
    uint32_t nd = argc > 5 ? (uint32_t)atoi(argv[5]) : 0;
    hone_err err = {0};
    hone_model *m;
    hone_load_opts lo = {.engine = engine};
    double t0 = now_s();
    if (hone_model_load(&m, argv[1], &lo, &err)) {
        fprintf(stderr, "engine_run: %s\n", err.msg);
        return 1;
    }
    double t_load = now_s() - t0;
    const hone_model_desc *d = hone_model_get_desc(m);
    hone_session *s;
    hone_session_opts so = {.n_ctx = T + nd, .n_batch = nb};
    if (hone_session_init(&s, m, &so, &err)) {
        fprintf(stderr, "engine_run: %s\n", err.msg);
        return 1;
    }
    int32_t *tok = malloc((T + 1) * sizeof *tok);
    for (uint32_t t = 0; t < T; t++) tok[t] = (int32_t)((t * 2654435761u + 17) % d->vocab);
    float *logits = malloc((size_t)d->vocab * sizeof *logits);
    t0 = now_s();
    for (uint32_t i = 0; i < T; i += nb) {
        uint32_t n = T - i < nb ? T - i : nb;
        hone_eval_out out = {.logits = logits};
        if (hone_session_eval(s, tok + i, n, &out, &err)) {
            fprintf(stderr, "engine_run: %s\n", err.msg);
            return 1;
        }
    }
    double t_prompt = now_s() - t0;
    uint32_t best = 0;
    for (uint32_t i = 1; i < d->vocab; i++)
        if (logits[i] > logits[best]) best = i;
    t0 = now_s();
    for (uint32_t i = 0; i < nd; i++) {
        int32_t next = (int32_t)best;
        hone_eval_out out = {.logits = logits};
        if (hone_session_eval(s, &next, 1, &out, &err)) {
            fprintf(stderr, "engine_run: %s\n", err.msg);
            return 1;
        }
        best = 0;
        for (uint32_t j = 1; j < d->vocab; j++)
            if (logits[j] > logits[best]) best = j;
    }
    double t_dec = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s: %s engine, load %.2f s, prompt %u tokens in %.2f s (%.1f tok/s), decode %u tokens in %.2f s "
           "(%.2f tok/s), argmax %u, peak RSS %.1f MB\n",
           argv[1], engine == HONE_ENGINE_REFERENCE ? "reference" : "fast", t_load, T, t_prompt, T / t_prompt, nd,
           t_dec, nd ? nd / t_dec : 0.0, best, ru.ru_maxrss / 1024.0);
    free(tok);
    free(logits);
    hone_session_free(s);
    hone_model_free(m);
    return 0;
}
