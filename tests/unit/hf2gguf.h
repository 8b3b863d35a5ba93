/* hf2gguf.h: test helper: a tiny f32 HF model folder (llama / mistral / qwen2 tensor
 * names) re-written as a GGUF file under llama.cpp's names and metadata, q/k rows
 * permuted for llama/mistral as llama.cpp's converter does (used by test_engine_ref.c
 * and test_adapter.c); the caller unlinks and frees the returned path. No rope scaling keys are written. */
#ifndef HONE_TEST_HF2GGUF_H
#define HONE_TEST_HF2GGUF_H

#include "testutil.h"

/* llama.cpp convert_hf_to_gguf permute(): row (h, s, j) -> (h, j, s), s in {0, 1}, j < hd/2. */
static inline float *hf2gguf_permute_rows(const float *w, int64_t n_head, int64_t hd, int64_t n_in) {
    float *o = malloc((size_t)(n_head * hd * n_in) * sizeof *o);
    for (int64_t h = 0; h < n_head; h++)
        for (int64_t s = 0; s < 2; s++)
            for (int64_t j = 0; j < hd / 2; j++)
                memcpy(o + (h * hd + 2 * j + s) * n_in, w + (h * hd + s * hd / 2 + j) * n_in,
                       (size_t)n_in * sizeof *o);
    return o;
}

/* qtype: HONE_F32, or a block type every 2-D weight (embedding and LM head included) is
 * quantized to with hone_quantize; dequant_back: store those quantized values dequantized
 * back to F32 instead (the same model, exactly, in F32: QLoRA tests compare the two). */
static inline char *hf_to_gguf_dir_type(const char *dir, const char *name, const char *arch, int qtype,
                                        int dequant_back) {
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    hone_err err = {0};
    hone_model_desc d;
    hone_st *st;
    if (access(cfg, R_OK)) return NULL;
    ASSERT_OK(hone_model_desc_from_hf_config(&d, cfg, &err), &err);
    ASSERT_OK(hone_st_open(&st, dir, &err), &err);
    hone_gguf_writer *w;
    ASSERT_OK(hone_gguf_writer_init(&w, &err), &err);
    char k[160];
    ASSERT_OK(hone_gguf_writer_add_str(w, "general.architecture", arch, &err), &err);
#define KU(key, v)                                   \
    snprintf(k, sizeof k, "%s." key, arch);          \
    ASSERT_OK(hone_gguf_writer_add_u32(w, k, v, &err), &err)
#define KF(key, v)                                   \
    snprintf(k, sizeof k, "%s." key, arch);          \
    ASSERT_OK(hone_gguf_writer_add_f32(w, k, v, &err), &err)
    KU("block_count", d.n_layers);
    KU("embedding_length", d.hidden);
    KU("feed_forward_length", d.ffn_hidden);
    KU("attention.head_count", d.n_heads);
    KU("attention.head_count_kv", d.n_kv_heads);
    KU("attention.key_length", d.head_dim);
    KU("attention.value_length", d.head_dim);
    KU("context_length", d.context);
    KU("vocab_size", d.vocab);
    KF("attention.layer_norm_rms_epsilon", d.rms_eps);
    KF("rope.freq_base", d.rope_theta);
    if (d.sliding_window) {
        KU("attention.sliding_window", d.sliding_window);
    }
#undef KU
#undef KF
    int permute = !strcmp(arch, "llama") || !strcmp(arch, "mistral");
    void *owned[256]; /* buffers the writer reads at write time */
    int n_owned = 0;
    for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
        const char *hn = hone_st_tensor_name(st, t);
        char gn[128];
        unsigned il;
        char rest[96];
        if (!strcmp(hn, "model.embed_tokens.weight")) snprintf(gn, sizeof gn, "token_embd.weight");
        else if (!strcmp(hn, "model.norm.weight")) snprintf(gn, sizeof gn, "output_norm.weight");
        else if (!strcmp(hn, "lm_head.weight")) {
            if (d.tied_embeddings) continue;
            snprintf(gn, sizeof gn, "output.weight");
        } else if (sscanf(hn, "model.layers.%u.%95s", &il, rest) == 2) {
            static const char *map[][2] = {
                {"input_layernorm.weight", "attn_norm.weight"},
                {"post_attention_layernorm.weight", "ffn_norm.weight"},
                {"self_attn.q_proj.weight", "attn_q.weight"}, {"self_attn.k_proj.weight", "attn_k.weight"},
                {"self_attn.v_proj.weight", "attn_v.weight"}, {"self_attn.o_proj.weight", "attn_output.weight"},
                {"self_attn.q_proj.bias", "attn_q.bias"},     {"self_attn.k_proj.bias", "attn_k.bias"},
                {"self_attn.v_proj.bias", "attn_v.bias"},     {"mlp.gate_proj.weight", "ffn_gate.weight"},
                {"mlp.up_proj.weight", "ffn_up.weight"},      {"mlp.down_proj.weight", "ffn_down.weight"},
            };
            const char *g = NULL;
            for (size_t i = 0; i < sizeof map / sizeof *map; i++)
                if (!strcmp(rest, map[i][0])) g = map[i][1];
            if (!g) fail_msg("%s: unexpected tensor %s", dir, hn);
            snprintf(gn, sizeof gn, "blk.%u.%s", il, g);
        } else {
            fail_msg("%s: unexpected tensor %s", dir, hn);
        }
        assert_int_equal(hone_st_tensor_dtype(st, t), HONE_ST_F32);
        uint32_t nd = hone_st_tensor_ndim(st, t);
        const uint64_t *sh = hone_st_tensor_shape(st, t);
        uint64_t ne[2] = {sh[nd - 1], nd > 1 ? sh[0] : 1};
        const void *data = hone_st_tensor_data(st, t);
        int isq = strstr(gn, "attn_q.weight") != NULL, isk = strstr(gn, "attn_k.weight") != NULL;
        if (permute && (isq || isk)) {
            float *cp = malloc(hone_st_tensor_nbytes(st, t));
            memcpy(cp, data, hone_st_tensor_nbytes(st, t)); /* aligned copy */
            float *pm = hf2gguf_permute_rows(cp, isq ? d.n_heads : d.n_kv_heads, d.head_dim, (int64_t)ne[0]);
            free(cp);
            owned[n_owned++] = pm;
            data = pm;
        }
        if (qtype != HONE_F32 && nd == 2) {
            uint64_t n = ne[0] * ne[1];
            size_t qb = (size_t)(n / hone_dtype_block(qtype)) * hone_dtype_block_bytes(qtype);
            float *cp = malloc(n * sizeof *cp);
            void *q = malloc(qb);
            memcpy(cp, data, n * sizeof *cp);
            ASSERT_OK(hone_quantize(qtype, cp, q, n, &err), &err);
            if (dequant_back) {
                ASSERT_OK(hone_dequantize(qtype, q, cp, n, &err), &err);
                ASSERT_OK(hone_gguf_writer_add_tensor(w, gn, HONE_F32, nd, ne, cp, &err), &err);
            } else {
                ASSERT_OK(hone_gguf_writer_add_tensor(w, gn, qtype, nd, ne, q, &err), &err);
            }
            owned[n_owned++] = cp;
            owned[n_owned++] = q;
        } else {
            ASSERT_OK(hone_gguf_writer_add_tensor(w, gn, HONE_F32, nd, ne, data, &err), &err);
        }
    }
    char *path = malloc(256);
    snprintf(path, 256, "/tmp/hone-test-%s-%ld.gguf", name, (long)getpid());
    ASSERT_OK(hone_gguf_writer_write(w, path, &err), &err);
    hone_gguf_writer_free(w);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    hone_st_close(st);
    return path;
}

static inline char *hf_to_gguf_dir(const char *dir, const char *name, const char *arch) {
    return hf_to_gguf_dir_type(dir, name, arch, HONE_F32, 0);
}

#endif
