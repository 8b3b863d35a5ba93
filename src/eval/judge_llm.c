/* judge_llm.c: the judge function of `hone ab judge` over the spec's own backends.
 *
 * A judge's model (a model under test, or an inline judge model) is opened through
 * hone/llm.h the first time that judge is asked, and shared by every judge on the same
 * model (opening is serialised; the calls themselves may run from several threads, as
 * hone_llm_chat allows). Each judgement is one user message (the prompt built by judge.c), sent with
 * temperature 0, top_p 1, at most 256 tokens and the model's own seed, so a judge is as
 * repeatable as its backend allows.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct hone_ab_judge_llm {
    const hone_ab_spec *s;
    double timeout_s;
    int concurrency;
    pthread_mutex_t mu; /* opening models */
    hone_llm **llm; /* one per judge; judges on the same spec model share one */
    int *owner;     /* 1 where llm[j] was opened for judge j (closed once) */
};

int hone_ab_judge_llm_open(hone_ab_judge_llm **out, const hone_ab_spec *s, double timeout_s, int concurrency,
                           hone_err *err) {
    *out = NULL;
    hone_ab_judge_llm *jl = calloc(1, sizeof *jl);
    if (!jl || !(jl->llm = calloc(s->n_judges + 1, sizeof *jl->llm)) ||
        !(jl->owner = calloc(s->n_judges + 1, sizeof *jl->owner))) {
        if (jl) free(jl->llm);
        free(jl);
        return hone_err_set(err, HONE_ENOMEM, "judge: out of memory");
    }
    jl->s = s;
    jl->timeout_s = timeout_s;
    jl->concurrency = concurrency > 0 ? concurrency : 1;
    pthread_mutex_init(&jl->mu, NULL);
    *out = jl;
    return HONE_OK;
}

void hone_ab_judge_llm_close(hone_ab_judge_llm *jl) {
    if (!jl) return;
    for (size_t j = 0; j < jl->s->n_judges; j++)
        if (jl->owner[j]) hone_llm_close(jl->llm[j]);
    pthread_mutex_destroy(&jl->mu);
    free(jl->llm);
    free(jl->owner);
    free(jl);
}

static const hone_ab_model *judge_model(const hone_ab_spec *s, size_t j) {
    const hone_ab_judge *jd = &s->judges[j];
    return jd->model >= 0 ? &s->models[jd->model] : jd->inline_model;
}

static int open_judge(hone_ab_judge_llm *jl, size_t j, hone_err *err) {
    const hone_ab_spec *s = jl->s;
    for (size_t k = 0; k < j; k++) /* share an open model */
        if (jl->llm[k] && s->judges[k].model >= 0 && s->judges[k].model == s->judges[j].model) {
            jl->llm[j] = jl->llm[k];
            return HONE_OK;
        }
    const hone_ab_model *m = judge_model(s, j);
    const char *key = m->api_key_env ? getenv(m->api_key_env) : NULL;
    hone_llm_opts lo = {.kind = m->backend == HONE_AB_LOCAL ? HONE_LLM_LOCAL
                                : m->backend == HONE_AB_OLLAMA ? HONE_LLM_OLLAMA : HONE_LLM_OPENAI,
                        .path = m->path, .adapter = m->adapter, .name = m->name, .url = m->url, .api_key = key,
                        .num_ctx = m->num_ctx, .timeout_s = jl->timeout_s, .concurrency = jl->concurrency};
    int rc = hone_llm_open(&jl->llm[j], &lo, err);
    if (rc) return hone_err_prefix(err, "judge %zu (model '%s'): ", j, m->id ? m->id : "inline"), rc;
    jl->owner[j] = 1;
    return HONE_OK;
}

int hone_ab_judge_llm_call(void *ctx, const hone_ab_spec *s, size_t judge, const char *prompt, char **reply,
                           double *latency_s, hone_err *err) {
    hone_ab_judge_llm *jl = ctx;
    *reply = NULL;
    if (judge >= s->n_judges) return hone_err_set(err, HONE_EARG, "judge: index %zu out of range", judge);
    pthread_mutex_lock(&jl->mu);
    int rc = jl->llm[judge] ? HONE_OK : open_judge(jl, judge, err);
    pthread_mutex_unlock(&jl->mu);
    if (rc) return rc;
    hone_chat_msg msg = {.role = "user", .content = prompt};
    hone_llm_request req = {.msgs = &msg, .n_msgs = 1, .temperature = 0, .top_p = 1, .max_tokens = 256,
                            .seed = judge_model(s, judge)->sampling.seed};
    hone_llm_result res;
    rc = hone_llm_chat(jl->llm[judge], &req, &res, err);
    *latency_s = res.latency_s;
    if (rc == HONE_OK) {
        *reply = res.text;
        res.text = NULL;
    }
    hone_llm_result_free(&res);
    return rc;
}
