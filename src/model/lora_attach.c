/* lora_attach.c: binds a LoRA adapter (src/train/adapter.c) to a loaded model,
 * unmerged: a hone_model_adapter holds, per (layer, projection), a pointer to
 * its pair, and forward_linear() (src/infer/forward.c) adds scale * B (A x)
 * for the adapter of the session (hone_session_set_adapter), so one shared
 * base serves several adapters at once. The adapter given at load time
 * (hone_load_opts.adapter_path) is the model's own: new sessions start with
 * it, and its pairs are also linked from m->layers[].lora.
 *
 * Every pair is checked against the base weight it adapts: layer in range,
 * A's n_in = the weight's n_in, B's n_out = its n_out; a mismatch names the
 * adapter folder, the tensor and both shapes.
 *
 * Adapters always use HF orientation. llama.cpp's converter permutes the rows
 * of q_proj and k_proj for llama/mistral GGUF files (per head, the two rotary
 * halves are interleaved: HF row h*hd + p*hd/2 + j becomes GGUF row
 * h*hd + 2j + p), so on such a base B's rows of q and k are permuted the same
 * way here; the engine's RoPE mode (HONE_ROPE_NORM) marks exactly these models.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "util/err.h"

/* B (n_out, r): rows permuted as llama.cpp's converter permutes q/k weights. */
static int permute_rows(float *b, int64_t n_out, uint32_t r, uint32_t n_heads, hone_err *err) {
    if (!n_heads || n_out % n_heads) return hone_err_set(err, HONE_EFORMAT, "adapter: cannot permute q/k rows");
    int64_t hd = n_out / n_heads, half = hd / 2;
    float *tmp = malloc((size_t)n_out * r * sizeof *tmp);
    if (!tmp) return hone_err_set(err, HONE_ENOMEM, "out of memory attaching an adapter");
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t p = 0; p < 2; p++)
            for (int64_t j = 0; j < half; j++)
                memcpy(tmp + (size_t)(h * hd + 2 * j + p) * r, b + (size_t)(h * hd + p * half + j) * r,
                       r * sizeof *tmp);
    memcpy(b, tmp, (size_t)n_out * r * sizeof *tmp);
    free(tmp);
    return HONE_OK;
}

int hone_model_adapter_load(hone_model_adapter **out, const hone_model *m, const char *dir, float scale,
                            hone_err *err) {
    *out = NULL;
    const hone_model_desc *d = &m->desc;
    hone_model_adapter *ma = calloc(1, sizeof *ma);
    if (ma) ma->lora = calloc((size_t)d->n_layers * HONE_PROJ_COUNT, sizeof *ma->lora);
    if (!ma || !ma->lora) {
        hone_model_adapter_free(ma);
        return hone_err_set(err, HONE_ENOMEM, "out of memory attaching an adapter");
    }
    ma->m = m;
    int rc = hone_adapter_load(&ma->ad, dir, NULL, err);
    if (rc) goto fail;
    for (int64_t i = 0; i < hone_adapter_n(ma->ad); i++) {
        hone_lora *l = hone_adapter_get(ma->ad, i);
        if (l->layer >= d->n_layers) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: layers.%u.%s: the model has %u layers", dir, l->layer,
                              hone_proj_module(l->proj), d->n_layers);
            goto fail;
        }
        const model_layer *L = &m->layers[l->layer];
        const hone_weight *w[HONE_PROJ_COUNT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        const hone_weight *W = w[l->proj];
        if (W->n_in != l->n_in || W->n_out != l->n_out) {
            rc = hone_err_set(err, HONE_EFORMAT,
                              "%s: layers.%u.%s: adapter maps %lld -> %lld features, the model's weight %lld -> %lld",
                              dir, l->layer, hone_proj_module(l->proj), (long long)l->n_in, (long long)l->n_out,
                              (long long)W->n_in, (long long)W->n_out);
            goto fail;
        }
        if (m->rope_mode == HONE_ROPE_NORM && (l->proj == HONE_PROJ_Q || l->proj == HONE_PROJ_K) &&
            (rc = permute_rows(l->b, l->n_out, l->rank, l->proj == HONE_PROJ_Q ? d->n_heads : d->n_kv_heads, err)))
            goto fail;
        ma->lora[(size_t)l->layer * HONE_PROJ_COUNT + (size_t)l->proj] = l;
        if (l->rank > ma->rank) ma->rank = l->rank;
    }
    if (scale != 0.0f) hone_adapter_set_scale(ma->ad, scale);
    ma->scale = hone_adapter_get_config(ma->ad)->scale;
    *out = ma;
    return HONE_OK;
fail:
    hone_model_adapter_free(ma);
    return rc;
}

void hone_model_adapter_free(hone_model_adapter *ma) {
    if (!ma) return;
    hone_adapter_free(ma->ad);
    free(ma->lora);
    free(ma);
}

int model_attach_adapter(hone_model *m, const char *dir, float scale, hone_err *err) {
    hone_model_adapter *ma;
    int rc = hone_model_adapter_load(&ma, m, dir, scale, err);
    if (rc) return rc;
    for (uint32_t il = 0; il < m->desc.n_layers; il++)
        for (int p = 0; p < HONE_PROJ_COUNT; p++) m->layers[il].lora[p] = ma->lora[(size_t)il * HONE_PROJ_COUNT + p];
    m->adapter = ma;
    m->lora_scale = ma->scale;
    m->lora_rank = ma->rank;
    return HONE_OK;
}

const hone_model_adapter *hone_model_get_adapter(const hone_model *m) { return m->adapter; }
