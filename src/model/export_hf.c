/* export_hf.c: hone_export_hf: a loaded model as a Hugging Face folder transformers loads.
 *
 *   config.json             architectures / model_type (Gemma3ForCausalLM gemma3_text,
 *                           LlamaForCausalLM llama, MistralForCausalLM mistral,
 *                           Qwen2ForCausalLM qwen2) and the description's shapes, rope,
 *                           windows, tie_word_embeddings, torch_dtype, bos/eos ids;
 *   model.safetensors       or shards of max_shard_bytes (default 5 GB, as save_pretrained's
 *                           "5GB") with model.safetensors.index.json; HF names, q/k rows in
 *                           HF order, gemma3 norms without the +1; matrices in the target
 *                           type (AUTO: the source's float type, else F16), vectors F32 (so
 *                           a GGUF -> HF -> GGUF trip is exact for F32 norms);
 *   tokenizer.json, tokenizer_config.json (export_tok.c), generation_config.json.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/arch.h"
#include "model/export_internal.h"
#include "util/err.h"
#include "util/fileio.h"

static int write_json(json_t *j, const char *dir, const char *name, hone_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (!s) return hone_err_set(err, HONE_ENOMEM, "%s: out of memory", path);
    hone_wfile f;
    int rc = hone_wfile_open(&f, path, err);
    if (!rc) rc = hone_wfile_write(&f, s, strlen(s), err);
    if (!rc) rc = hone_wfile_write(&f, "\n", 1, err);
    if (!rc) rc = hone_wfile_commit(&f, err);
    else hone_wfile_abort(&f);
    free(s);
    return rc;
}

static const char *dtype_str(int t) { return t == HONE_F32 ? "float32" : t == HONE_BF16 ? "bfloat16" : "float16"; }

/* f32 numbers as transformers writes them: the shortest decimal of the f32 value. */
static json_t *jf32(float v) {
    char buf[64];
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return json_real(strtod(buf, NULL));
}

/* A GGUF's rope_freqs.weight holds llama3 scaling's factors, not its parameters: find the
 * parameters (among the values Llama 3.x and common fine-tunes use) that give exactly
 * these factors. 0 when none does. */
static int fit_llama3(const hone_model *m, hone_model_desc *d) {
    int64_t t = hone_gguf_find_tensor(m->gguf, "rope_freqs.weight");
    uint32_t half = d->rope_dim / 2;
    if (t < 0 || hone_gguf_tensor_nelem(m->gguf, t) != half || half > 1024) return 0;
    float want[1024], got[1024];
    if (hone_gguf_tensor_dequantize(m->gguf, t, want, NULL)) return 0;
    float factor = 1;
    for (uint32_t i = 0; i < half; i++)
        if (want[i] > factor) factor = want[i];
    static const float LO[] = {1, 2, 0.5f}, HI[] = {4, 8, 2, 16, 1};
    for (size_t a = 0; a < sizeof LO / sizeof *LO; a++) /* Llama 3's 1, 4 first */
        for (size_t b = 0; b < sizeof HI / sizeof *HI; b++)
            for (uint32_t orig = 16; orig <= (1u << 20); orig *= 2) {
                if (HI[b] <= LO[a]) continue;
                xt_llama3_factors(got, d->rope_dim, d->rope_theta, factor, LO[a], HI[b], orig);
                if (!memcmp(got, want, half * sizeof *got)) {
                    d->rope_scaling = HONE_ROPE_SCALING_LLAMA3;
                    d->rope_factor = factor;
                    d->rope_low_freq_factor = LO[a];
                    d->rope_high_freq_factor = HI[b];
                    d->rope_orig_context = orig;
                    return 1;
                }
            }
    return 0;
}

static int write_config(const hone_model *m, const char *dir, int dtype, hone_err *err) {
    hone_model_desc dd = m->desc;
    const hone_model_desc *d = &dd;
    if (m->gguf && dd.rope_freqs_tensor && dd.rope_scaling == HONE_ROPE_SCALING_NONE && !fit_llama3(m, &dd))
        return hone_err_set(err, HONE_EUNSUPPORTED,
                            "%s: rope_freqs.weight: no llama3 rope scaling parameters give these factors",
                            hone_gguf_path(m->gguf));
    json_t *c = json_object();
    const char *cls, *type;
    switch (d->arch) {
    case HONE_ARCH_GEMMA3: cls = "Gemma3ForCausalLM", type = "gemma3_text"; break;
    case HONE_ARCH_QWEN2: cls = "Qwen2ForCausalLM", type = "qwen2"; break;
    case HONE_ARCH_MISTRAL: cls = "MistralForCausalLM", type = "mistral"; break;
    default: cls = "LlamaForCausalLM", type = "llama"; break;
    }
    json_t *arr = json_array();
    json_array_append_new(arr, json_string(cls));
    json_object_set_new(c, "architectures", arr);
    json_object_set_new(c, "model_type", json_string(type));
    json_object_set_new(c, "vocab_size", json_integer(d->vocab));
    json_object_set_new(c, "hidden_size", json_integer(d->hidden));
    json_object_set_new(c, "intermediate_size", json_integer(d->ffn_hidden));
    json_object_set_new(c, "num_hidden_layers", json_integer(d->n_layers));
    json_object_set_new(c, "num_attention_heads", json_integer(d->n_heads));
    json_object_set_new(c, "num_key_value_heads", json_integer(d->n_kv_heads));
    json_object_set_new(c, "head_dim", json_integer(d->head_dim));
    json_object_set_new(c, "max_position_embeddings", json_integer(d->context));
    json_object_set_new(c, "rms_norm_eps", jf32(d->rms_eps));
    json_object_set_new(c, "rope_theta", jf32(d->rope_theta));
    json_object_set_new(c, "tie_word_embeddings", json_boolean(d->tied_embeddings));
    json_object_set_new(c, d->arch == HONE_ARCH_GEMMA3 ? "hidden_activation" : "hidden_act",
                        json_string(d->act == HONE_ACT_GELU_TANH ? "gelu_pytorch_tanh" : "silu"));
    json_object_set_new(c, "torch_dtype", json_string(dtype_str(dtype)));
    if (d->arch == HONE_ARCH_LLAMA || d->arch == HONE_ARCH_MISTRAL) {
        json_object_set_new(c, "attention_bias", json_boolean(d->qkv_bias));
        json_object_set_new(c, "mlp_bias", json_false());
    }
    if (d->arch == HONE_ARCH_GEMMA3) {
        json_object_set_new(c, "rope_local_base_freq", jf32(d->rope_theta_local));
        json_object_set_new(c, "query_pre_attn_scalar",
                            d->query_pre_attn_scalar == (float)(int64_t)d->query_pre_attn_scalar
                                ? json_integer((json_int_t)d->query_pre_attn_scalar)
                                : jf32(d->query_pre_attn_scalar));
        json_object_set_new(c, "final_logit_softcapping",
                            d->final_logit_softcap > 0 ? jf32(d->final_logit_softcap) : json_null());
        json_object_set_new(c, "attn_logit_softcapping",
                            d->attn_logit_softcap > 0 ? jf32(d->attn_logit_softcap) : json_null());
    }
    if (d->sliding_window && d->arch != HONE_ARCH_QWEN2) {
        json_object_set_new(c, "sliding_window", json_integer(d->sliding_window));
        json_t *lt = json_array();
        for (uint32_t i = 0; i < d->n_layers; i++)
            json_array_append_new(lt, json_string(hone_model_layer_is_sliding(d, i) ? "sliding_attention"
                                                                                     : "full_attention"));
        json_object_set_new(c, "layer_types", lt);
        if (d->sliding_pattern) json_object_set_new(c, "sliding_window_pattern", json_integer(d->sliding_pattern));
    } else if (d->arch == HONE_ARCH_QWEN2) {
        json_object_set_new(c, "use_sliding_window", json_false());
        json_object_set_new(c, "sliding_window", json_null());
    }
    if (d->rope_scaling != HONE_ROPE_SCALING_NONE) {
        json_t *rs = json_object();
        const char *rt = d->rope_scaling == HONE_ROPE_SCALING_LINEAR ? "linear"
                         : d->rope_scaling == HONE_ROPE_SCALING_LLAMA3 ? "llama3" : "yarn";
        json_object_set_new(rs, "rope_type", json_string(rt));
        json_object_set_new(rs, "factor", jf32(d->rope_factor));
        if (d->rope_scaling == HONE_ROPE_SCALING_LLAMA3) {
            json_object_set_new(rs, "low_freq_factor", jf32(d->rope_low_freq_factor));
            json_object_set_new(rs, "high_freq_factor", jf32(d->rope_high_freq_factor));
        }
        if (d->rope_scaling != HONE_ROPE_SCALING_LINEAR)
            json_object_set_new(rs, "original_max_position_embeddings", json_integer(d->rope_orig_context));
        json_object_set_new(c, "rope_scaling", rs);
    } else {
        json_object_set_new(c, "rope_scaling", json_null());
    }
    const hone_tok *t = m->tok;
    json_object_set_new(c, "bos_token_id", t && hone_tok_bos(t) >= 0 ? json_integer(hone_tok_bos(t)) : json_null());
    json_object_set_new(c, "eos_token_id", t && hone_tok_eos(t) >= 0 ? json_integer(hone_tok_eos(t)) : json_null());
    if (t && hone_tok_pad(t) >= 0) json_object_set_new(c, "pad_token_id", json_integer(hone_tok_pad(t)));
    int rc = write_json(c, dir, "config.json", err);
    json_decref(c);
    if (rc) return rc;
    json_t *g = json_object();
    if (t && hone_tok_bos(t) >= 0) json_object_set_new(g, "bos_token_id", json_integer(hone_tok_bos(t)));
    if (t) {
        json_t *eos = json_array();
        if (hone_tok_eos(t) >= 0) json_array_append_new(eos, json_integer(hone_tok_eos(t)));
        if (hone_tok_eot(t) >= 0 && hone_tok_eot(t) != hone_tok_eos(t))
            json_array_append_new(eos, json_integer(hone_tok_eot(t)));
        json_object_set_new(g, "eos_token_id", eos);
        if (hone_tok_pad(t) >= 0) json_object_set_new(g, "pad_token_id", json_integer(hone_tok_pad(t)));
    }
    rc = write_json(g, dir, "generation_config.json", err);
    json_decref(g);
    return rc;
}

int hone_export_hf(const hone_model *m, const char *dir, const hone_export_opts *opts, hone_err *err) {
    hone_export_opts o0 = {0};
    const hone_export_opts *o = opts ? opts : &o0;
    if (o->type != HONE_EXPORT_AUTO && o->type != HONE_EXPORT_F32 && o->type != HONE_EXPORT_F16 &&
        o->type != HONE_EXPORT_BF16)
        return hone_err_set(err, HONE_EARG, "%s: HF folders hold f32, f16 or bf16 tensors, not %s", dir,
                            hone_export_type_name(o->type));
    if (mkdir(dir, 0777) && errno != EEXIST) return hone_err_set(err, HONE_EIO, "%s: cannot create: %s", dir, strerror(errno));
    xt_list l;
    int rc = xt_list_build(&l, m, 0, err);
    if (rc) return rc;
    xt_job *jobs = calloc((size_t)l.n, sizeof *jobs);
    hone_st_writer *w = NULL;
    int main_type = HONE_F16;
    if (!jobs) {
        rc = hone_err_set(err, HONE_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = hone_st_writer_init(&w, err)) || (rc = hone_st_writer_add_meta(w, "format", "pt", err))) goto done;
    for (int i = 0; i < l.n; i++) {
        xt *t = &l.v[i];
        xt_job *j = &jobs[i];
        j->t = t;
        j->l = &l;
        j->o = o;
        j->hf = 1;
        j->info = (hone_export_tensor){.gguf_name = t->gguf, .hf_name = t->hf, .layer = t->layer, .proj = t->proj,
                                       .n_in = t->n_in, .n_out = t->n_out,
                                       .src_type = t->w ? t->w->type : t->vec_src_type};
        int ty = HONE_F32;
        if (t->w) {
            int src = t->w->type;
            switch (o->type) {
            case HONE_EXPORT_F32: ty = HONE_F32; break;
            case HONE_EXPORT_F16: ty = HONE_F16; break;
            case HONE_EXPORT_BF16: ty = HONE_BF16; break;
            default: ty = src == HONE_F32 || src == HONE_BF16 || src == HONE_F16 ? src : HONE_F16; break;
            }
            if (t->role == XT_EMBD) main_type = ty;
        }
        j->dst_type = ty;
        j->info.dst_type = ty;
        uint64_t shape[2] = {(uint64_t)t->n_out, (uint64_t)t->n_in};
        if ((rc = t->w ? hone_st_writer_add_tensor_fn(w, t->hf, ty, 2, shape, xt_fill, j, err)
                       : hone_st_writer_add_tensor_fn(w, t->hf, ty, 1, shape + 1, xt_fill, j, err)))
            goto done;
    }
    if ((rc = write_config(m, dir, main_type, err)) || (rc = xtok_write_hf(m, dir, err))) goto done;
    rc = hone_st_writer_write_sharded(w, dir, "model", o->max_shard_bytes ? o->max_shard_bytes : 5000000000ull, NULL,
                                      err);
done:
    hone_st_writer_free(w);
    free(jobs);
    xt_list_free(&l);
    return rc;
}
