/* lora_attach.c: attaches a LoRA adapter (src/train/adapter.c) to a loaded
 * model, unmerged: each adapted projection's layer slot points at its pair and
 * forward_linear() (src/infer/forward.c) adds scale * B (A x).
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

int model_attach_adapter(hone_model *m, const char *dir, float scale, hone_err *err) {
    hone_adapter *ad = NULL;
    int rc = hone_adapter_load(&ad, dir, NULL, err);
    if (rc) return rc;
    const hone_model_desc *d = &m->desc;
    for (int64_t i = 0; i < hone_adapter_n(ad); i++) {
        hone_lora *l = hone_adapter_get(ad, i);
        if (l->layer >= d->n_layers) {
            rc = hone_err_set(err, HONE_EFORMAT, "%s: layers.%u.%s: the model has %u layers", dir, l->layer,
                              hone_proj_module(l->proj), d->n_layers);
            goto fail;
        }
        model_layer *L = &m->layers[l->layer];
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
        L->lora[l->proj] = l;
        if (l->rank > m->lora_rank) m->lora_rank = l->rank;
    }
    if (scale != 0.0f) hone_adapter_set_scale(ad, scale);
    m->lora_scale = hone_adapter_get_config(ad)->scale;
    m->adapter = ad;
    return HONE_OK;
fail:
    for (uint32_t il = 0; il < d->n_layers; il++) memset(m->layers[il].lora, 0, sizeof m->layers[il].lora);
    m->lora_rank = 0;
    hone_adapter_free(ad);
    return rc;
}
