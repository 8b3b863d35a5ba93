/* export_adapter.c: a LoRA adapter as a llama.cpp GGUF LoRA, and Ollama Modelfiles.
 *
 * GGUF LoRA (what llama.cpp's convert_lora_to_gguf.py writes and llama-adapter.cpp checks):
 *   general.architecture = the base's, general.type = "adapter", adapter.type = "lora",
 *   adapter.lora.alpha (F32) = scale * rank, since llama.cpp scales by alpha / rank where
 *   rank = lora_a's ne[1];
 *   per adapted weight W (GGUF name N, ggml ne {n_in, n_out}): N.lora_a with ne {n_in, r}
 *   (the bytes of A (r, n_in)) and N.lora_b with ne {r, n_out} (the bytes of B (n_out, r));
 *   llama.cpp requires W.ne[0] == a.ne[0], W.ne[1] == b.ne[1] and a.ne[1] == b.ne[0].
 *   For llama-architecture bases B's rows of q/k are permuted as the base's weights are
 *   (the converter applies the base's permutation to the LoRA product, i.e. to B).
 *
 * Modelfile: FROM, TEMPLATE (Ollama's Go template for the chat format), PARAMETER stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/export_internal.h"
#include "util/err.h"
#include "util/fileio.h"

static const char *GG[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

int hone_export_adapter_gguf(const hone_adapter *ad, const hone_model *m, float scale, const char *path,
                             hone_err *err) {
    const hone_adapter_config *c = hone_adapter_get_config(ad);
    float s = scale != 0 ? scale : c->scale;
    int64_t n = hone_adapter_n(ad);
    const hone_model_desc *d = &m->desc;
    float **owned = calloc((size_t)(n ? n : 1), sizeof *owned);
    hone_gguf_writer *w = NULL;
    int rc = owned ? hone_gguf_writer_init(&w, err) : hone_err_set(err, HONE_ENOMEM, "out of memory");
    if (rc) goto done;
    if ((rc = hone_gguf_writer_add_str(w, "general.architecture", xt_gguf_arch(m), err)) ||
        (rc = hone_gguf_writer_add_str(w, "general.type", "adapter", err)) ||
        (rc = hone_gguf_writer_add_str(w, "adapter.type", "lora", err)) ||
        (rc = hone_gguf_writer_add_f32(w, "adapter.lora.alpha", s * (float)c->rank, err)))
        goto done;
    for (int64_t i = 0; i < n; i++) {
        const hone_lora *l = hone_adapter_get((hone_adapter *)ad, i);
        if (l->layer >= d->n_layers) {
            rc = hone_err_set(err, HONE_EFORMAT, "adapter: layers.%u.%s: the model has %u layers", l->layer,
                              hone_proj_module(l->proj), d->n_layers);
            goto done;
        }
        const model_layer *L = &m->layers[l->layer];
        const hone_weight *W[HONE_PROJ_COUNT] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        if (W[l->proj]->n_in != l->n_in || W[l->proj]->n_out != l->n_out) {
            rc = hone_err_set(err, HONE_EFORMAT, "adapter: layers.%u.%s maps %lld -> %lld, the model's weight %lld -> %lld",
                              l->layer, hone_proj_module(l->proj), (long long)l->n_in, (long long)l->n_out,
                              (long long)W[l->proj]->n_in, (long long)W[l->proj]->n_out);
            goto done;
        }
        const float *b = l->b;
        if (xt_gguf_permutes(m) && (l->proj == HONE_PROJ_Q || l->proj == HONE_PROJ_K)) {
            int64_t heads = l->proj == HONE_PROJ_Q ? d->n_heads : d->n_kv_heads, hd = l->n_out / heads, half = hd / 2;
            float *pb = malloc((size_t)l->n_out * l->rank * sizeof *pb);
            if (!(owned[i] = pb)) {
                rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
                goto done;
            }
            for (int64_t h = 0; h < heads; h++)
                for (int64_t q = 0; q < hd; q++)
                    memcpy(pb + (h * hd + q) * l->rank, l->b + (h * hd + (q % 2) * half + q / 2) * l->rank,
                           l->rank * sizeof *pb);
            b = pb;
        }
        char name[96];
        uint64_t nea[2] = {(uint64_t)l->n_in, l->rank}, neb[2] = {l->rank, (uint64_t)l->n_out};
        snprintf(name, sizeof name, "blk.%u.%s.weight.lora_a", l->layer, GG[l->proj]);
        if ((rc = hone_gguf_writer_add_tensor(w, name, HONE_F32, 2, nea, l->a, err))) goto done;
        snprintf(name, sizeof name, "blk.%u.%s.weight.lora_b", l->layer, GG[l->proj]);
        if ((rc = hone_gguf_writer_add_tensor(w, name, HONE_F32, 2, neb, b, err))) goto done;
    }
    rc = hone_gguf_writer_write(w, path, err);
done:
    hone_gguf_writer_free(w);
    for (int64_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    return rc;
}

/* ---- Ollama Modelfile ------------------------------------------------------------ */

/* Ollama's templates (Go text/template over .Messages), one per chat format. The BOS token
 * is not written: llama.cpp adds it when the GGUF says add_bos_token. */
static const char T_GEMMA[] =
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    "{{- if or (eq .Role \"user\") (eq .Role \"system\") }}<start_of_turn>user\n"
    "{{ .Content }}<end_of_turn>\n"
    "{{ if $last }}<start_of_turn>model\n"
    "{{ end }}\n"
    "{{- else if eq .Role \"assistant\" }}<start_of_turn>model\n"
    "{{ .Content }}{{ if not $last }}<end_of_turn>\n"
    "{{ end }}\n"
    "{{- end }}\n"
    "{{- end }}";
static const char T_CHATML[] =
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n"
    "<|im_start|>{{ .Role }}\n"
    "{{ .Content }}{{ if or (not $last) (ne .Role \"assistant\") }}<|im_end|>\n"
    "{{ end }}\n"
    "{{- if and $last (ne .Role \"assistant\") }}<|im_start|>assistant\n"
    "{{ end }}\n"
    "{{- end }}";
static const char T_LLAMA3[] =
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 -}}\n"
    "<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}{{ if or (not $last) (ne .Role \"assistant\") }}<|eot_id|>{{ end }}\n"
    "{{- if and $last (ne .Role \"assistant\") }}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{{ end }}\n"
    "{{- end }}";
static const char T_MISTRAL[] =
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    "{{- if eq .Role \"user\" }}[INST] {{ if and $.System (eq $i 0) }}{{ $.System }}\n\n{{ end }}{{ .Content }} [/INST]\n"
    "{{- else if eq .Role \"assistant\" }} {{ .Content }}{{ if not $last }}</s>{{ end }}\n"
    "{{- end }}\n"
    "{{- end }}";

int hone_export_modelfile(const hone_model *m, const char *gguf_path, const char *path, hone_err *err) {
    size_t len;
    const char *jinja = xtok_chat_template(m, &len);
    const char *fmt = jinja ? hone_chat_template_detect(jinja, len) : NULL;
    if (!fmt && m->desc.arch == HONE_ARCH_GEMMA3) fmt = "gemma";
    if (!fmt && m->tok && hone_tok_find(m->tok, "<|im_end|>", 10) >= 0) fmt = "chatml";
    if (!fmt && m->tok && hone_tok_find(m->tok, "<|eot_id|>", 10) >= 0) fmt = "llama3";
    const char *tmpl = NULL, *stops[3] = {NULL, NULL, NULL};
    if (fmt && !strcmp(fmt, "gemma")) tmpl = T_GEMMA, stops[0] = "<end_of_turn>";
    else if (fmt && (!strncmp(fmt, "chatml", 6) || !strcmp(fmt, "qwen2.5") || !strcmp(fmt, "smollm2")))
        tmpl = T_CHATML, stops[0] = "<|im_end|>", stops[1] = "<|im_start|>";
    else if (fmt && !strncmp(fmt, "llama3", 6)) tmpl = T_LLAMA3, stops[0] = "<|eot_id|>", stops[1] = "<|end_of_text|>";
    else if (fmt && !strcmp(fmt, "mistral")) tmpl = T_MISTRAL, stops[0] = "</s>", stops[1] = "[INST]";
    if (!tmpl)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: chat format %s has no Ollama template in hone", m->path,
                            fmt ? fmt : "(not recognised)");
    size_t cap = strlen(gguf_path) + strlen(tmpl) + 512;
    char *s = malloc(cap);
    if (!s) return hone_err_set(err, HONE_ENOMEM, "out of memory");
    int k = snprintf(s, cap, "# written by hone (chat format: %s)\nFROM %s\nTEMPLATE \"\"\"%s\"\"\"\n", fmt,
                     gguf_path, tmpl);
    for (int i = 0; i < 3 && stops[i]; i++) k += snprintf(s + k, cap - (size_t)k, "PARAMETER stop \"%s\"\n", stops[i]);
    hone_wfile f;
    int rc = hone_wfile_open(&f, path, err);
    if (!rc) rc = hone_wfile_write(&f, s, (size_t)k, err);
    if (!rc) rc = hone_wfile_commit(&f, err);
    else hone_wfile_abort(&f);
    free(s);
    return rc;
}
