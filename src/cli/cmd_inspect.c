/* cmd_inspect.c: `hone inspect PATH [--json] [--tensors] [--all]`.
 *
 * PATH is a GGUF file, an HF folder (config.json + safetensors, sharded or
 * not), a .safetensors file or index, or `ollama:NAME[:TAG]` (resolved to its
 * GGUF blob). Prints the model description (architecture, parameter count,
 * shapes, rope, sliding window, vocabulary, tokenizer, chat template), the mix
 * of tensor types with byte counts, and all metadata; long strings and arrays
 * are abbreviated unless --all. --tensors lists every tensor: name, type,
 * shape in ggml order (ne[0] fastest), offset from the start of the data
 * section, bytes. --json prints the same as one JSON document (jansson), so
 * tests can compare it key by key with gguf-py; with --all it is complete.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

#define ABBREV_STR 120 /* characters of a string shown without --all */
#define ABBREV_ARR 8   /* array elements shown without --all */

typedef struct opts {
    int json, tensors, all;
} opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone inspect PATH [--json] [--tensors] [--all]\n"
            "\n"
            "Shows a model: architecture, parameter count, layers, dimensions, heads,\n"
            "context, rope, sliding window, vocabulary and tokenizer, chat template,\n"
            "tensor type mix, and all metadata.\n"
            "\n"
            "PATH      a GGUF file, an HF folder (config.json + *.safetensors), a\n"
            "          .safetensors file or model.safetensors.index.json, or\n"
            "          ollama:NAME[:TAG] (Ollama's store: $OLLAMA_MODELS or ~/.ollama/models)\n"
            "--json    print everything as one JSON document\n"
            "--tensors list every tensor (name, type, shape in ggml order, offset, bytes)\n"
            "--all     do not abbreviate long strings and arrays\n");
}

/* ---- shared: model description ------------------------------------------------- */

static const char *scaling_name(hone_rope_scaling s) {
    switch (s) {
    case HONE_ROPE_SCALING_LINEAR: return "linear";
    case HONE_ROPE_SCALING_LLAMA3: return "llama3";
    case HONE_ROPE_SCALING_YARN: return "yarn";
    default: return "none";
    }
}

static json_t *real_or_str(double v) {
    if (isfinite(v)) return json_real(v);
    return json_string(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

static json_t *desc_json(const hone_model_desc *d) {
    json_t *o = json_object();
    json_object_set_new(o, "architecture", json_string(hone_arch_name(d->arch)));
    json_object_set_new(o, "n_params", json_integer((json_int_t)d->n_params));
    json_object_set_new(o, "n_layers", json_integer(d->n_layers));
    json_object_set_new(o, "hidden", json_integer(d->hidden));
    json_object_set_new(o, "ffn_hidden", json_integer(d->ffn_hidden));
    json_object_set_new(o, "n_heads", json_integer(d->n_heads));
    json_object_set_new(o, "n_kv_heads", json_integer(d->n_kv_heads));
    json_object_set_new(o, "head_dim", json_integer(d->head_dim));
    json_object_set_new(o, "head_dim_v", json_integer(d->head_dim_v));
    json_object_set_new(o, "vocab", json_integer(d->vocab));
    json_object_set_new(o, "context", json_integer(d->context));
    json_object_set_new(o, "rms_eps", real_or_str(d->rms_eps));
    json_t *r = json_object();
    json_object_set_new(r, "theta", real_or_str(d->rope_theta));
    json_object_set_new(r, "theta_local", real_or_str(d->rope_theta_local));
    json_object_set_new(r, "dim", json_integer(d->rope_dim));
    json_object_set_new(r, "scaling", json_string(scaling_name(d->rope_scaling)));
    if (d->rope_scaling != HONE_ROPE_SCALING_NONE) {
        json_object_set_new(r, "factor", real_or_str(d->rope_factor));
        if (d->rope_scaling == HONE_ROPE_SCALING_LLAMA3) {
            json_object_set_new(r, "low_freq_factor", real_or_str(d->rope_low_freq_factor));
            json_object_set_new(r, "high_freq_factor", real_or_str(d->rope_high_freq_factor));
        }
        json_object_set_new(r, "original_context", json_integer(d->rope_orig_context));
    }
    json_object_set_new(r, "freqs_tensor", json_boolean(d->rope_freqs_tensor));
    json_object_set_new(o, "rope", r);
    json_object_set_new(o, "sliding_window", json_integer(d->sliding_window));
    json_object_set_new(o, "sliding_pattern", json_integer(d->sliding_pattern));
    json_t *lt = json_array();
    for (uint32_t i = 0; i < d->n_layers; i++)
        json_array_append_new(lt, json_string(d->layer_sliding[i] ? "sliding" : "full"));
    json_object_set_new(o, "layer_types", lt);
    json_object_set_new(o, "query_pre_attn_scalar", real_or_str(d->query_pre_attn_scalar));
    json_object_set_new(o, "final_logit_softcap", real_or_str(d->final_logit_softcap));
    json_object_set_new(o, "attn_logit_softcap", real_or_str(d->attn_logit_softcap));
    json_object_set_new(o, "tied_embeddings", json_boolean(d->tied_embeddings));
    json_object_set_new(o, "qkv_bias", json_boolean(d->qkv_bias));
    json_object_set_new(o, "qk_norm", json_boolean(d->qk_norm));
    json_object_set_new(o, "post_norms", json_boolean(d->post_norms));
    json_object_set_new(o, "embed_scale", json_boolean(d->embed_scale));
    json_object_set_new(o, "activation", json_string(d->act == HONE_ACT_GELU_TANH ? "gelu_tanh" : "silu"));
    json_object_set_new(o, "norm_add", real_or_str(d->norm_add));
    return o;
}

static void desc_print(const hone_model_desc *d) {
    printf("architecture:   %s\n", hone_arch_name(d->arch));
    printf("parameters:     %.2f M (%llu)\n", (double)d->n_params / 1e6, (unsigned long long)d->n_params);
    printf("layers:         %u\n", d->n_layers);
    printf("hidden:         %u (feed-forward %u)\n", d->hidden, d->ffn_hidden);
    printf("heads:          %u (kv %u), head dim %u\n", d->n_heads, d->n_kv_heads, d->head_dim);
    printf("context:        %u\n", d->context);
    printf("rms eps:        %g\n", d->rms_eps);
    printf("rope:           base %.10g", d->rope_theta);
    if (d->sliding_window && d->rope_theta_local != d->rope_theta) printf(" (sliding layers %.10g)", d->rope_theta_local);
    printf(", dims %u, scaling %s", d->rope_dim, scaling_name(d->rope_scaling));
    if (d->rope_scaling != HONE_ROPE_SCALING_NONE) printf(" x%g", d->rope_factor);
    if (d->rope_scaling == HONE_ROPE_SCALING_LLAMA3)
        printf(" (low %g, high %g, original context %u)", d->rope_low_freq_factor, d->rope_high_freq_factor,
               d->rope_orig_context);
    if (d->rope_freqs_tensor) printf(", factors in rope_freqs.weight");
    printf("\n");
    if (d->sliding_window) {
        printf("sliding window: %u tokens; layers ", d->sliding_window);
        for (uint32_t i = 0; i < d->n_layers; i++) putchar(d->layer_sliding[i] ? 'S' : 'G');
        if (d->sliding_pattern) printf(" (every %u%s layer global)", d->sliding_pattern,
                                       d->sliding_pattern == 2 ? "nd" : d->sliding_pattern == 3 ? "rd" : "th");
        printf("\n");
    } else {
        printf("sliding window: none\n");
    }
    printf("attention:      scale 1/sqrt(%g)%s%s", d->query_pre_attn_scalar, d->qkv_bias ? ", qkv bias" : "",
           d->qk_norm ? ", q/k norm" : "");
    if (d->attn_logit_softcap) printf(", softcap %g", d->attn_logit_softcap);
    printf("\n");
    printf("embeddings:     %s%s", d->tied_embeddings ? "tied" : "separate LM head",
           d->embed_scale ? ", scaled by sqrt(hidden)" : "");
    if (d->final_logit_softcap) printf(", final logit softcap %g", d->final_logit_softcap);
    printf("\n");
}

/* ---- type mix ---------------------------------------------------------------------- */

typedef struct type_mix {
    const char *name[64];
    uint64_t count[64], bytes[64];
    int n;
} type_mix;

static void mix_add(type_mix *m, const char *name, uint64_t bytes) {
    int i;
    for (i = 0; i < m->n; i++)
        if (!strcmp(m->name[i], name)) break;
    if (i == m->n) {
        if (m->n == 64) return;
        m->name[m->n++] = name;
    }
    m->count[i]++;
    m->bytes[i] += bytes;
}

static json_t *mix_json(const type_mix *m) {
    json_t *o = json_object();
    for (int i = 0; i < m->n; i++)
        json_object_set_new(o, m->name[i], json_pack("{s:I,s:I}", "count", (json_int_t)m->count[i], "bytes",
                                                     (json_int_t)m->bytes[i]));
    return o;
}

static void mix_print(const type_mix *m) {
    uint64_t total = 0;
    for (int i = 0; i < m->n; i++) total += m->bytes[i];
    printf("tensor types:  ");
    for (int i = 0; i < m->n; i++)
        printf(" %s %llu (%.2f MB)%s", m->name[i], (unsigned long long)m->count[i], (double)m->bytes[i] / 1e6,
               i + 1 < m->n ? "," : "");
    printf("; total %.2f MB\n", (double)total / 1e6);
}

/* ---- GGUF values --------------------------------------------------------------------- */

static uint32_t vsize(int t) {
    switch (t) {
    case HONE_GGUF_UINT8: case HONE_GGUF_INT8: case HONE_GGUF_BOOL: return 1;
    case HONE_GGUF_UINT16: case HONE_GGUF_INT16: return 2;
    case HONE_GGUF_UINT32: case HONE_GGUF_INT32: case HONE_GGUF_FLOAT32: return 4;
    case HONE_GGUF_UINT64: case HONE_GGUF_INT64: case HONE_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* A numeric value at p (little-endian, unaligned) as JSON. */
static json_t *num_json(const uint8_t *p, int t) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
            uint64_t u64; int64_t i64; double f64; } v;
    memcpy(&v, p, vsize(t));
    switch (t) {
    case HONE_GGUF_UINT8: return json_integer(v.u8);
    case HONE_GGUF_INT8: return json_integer(v.i8);
    case HONE_GGUF_UINT16: return json_integer(v.u16);
    case HONE_GGUF_INT16: return json_integer(v.i16);
    case HONE_GGUF_UINT32: return json_integer(v.u32);
    case HONE_GGUF_INT32: return json_integer(v.i32);
    case HONE_GGUF_BOOL: return json_boolean(v.u8);
    case HONE_GGUF_FLOAT32: return real_or_str(v.f32);
    case HONE_GGUF_FLOAT64: return real_or_str(v.f64);
    case HONE_GGUF_INT64: return json_integer(v.i64);
    case HONE_GGUF_UINT64: {
        if (v.u64 <= (uint64_t)INT64_MAX) return json_integer((json_int_t)v.u64);
        char b[32];
        snprintf(b, sizeof b, "%llu", (unsigned long long)v.u64);
        return json_string(b);
    }
    default: return json_null();
    }
}

static void num_print(const uint8_t *p, int t) {
    json_t *j = num_json(p, t);
    if (json_is_integer(j)) printf("%lld", (long long)json_integer_value(j));
    else if (json_is_real(j)) printf("%.9g", json_real_value(j));
    else if (json_is_boolean(j)) printf("%s", json_is_true(j) ? "true" : "false");
    else if (json_is_string(j)) printf("%s", json_string_value(j));
    json_decref(j);
}

/* Length of the valid UTF-8 sequence at p[0..n) that is not a control character
 * (C1, U+0080..U+009F, included: some terminals act on them), or 0. */
static size_t utf8_printable(const unsigned char *p, size_t n) {
    if (p[0] < 0xC2 || p[0] > 0xF4) return 0;
    size_t len = p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : 4;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0) return 0; /* C1 control */
    if (len == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0;
    if (len == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
    return len;
}

/* Prints a name or key from a file for the terminal: printable ASCII and valid,
 * non-control UTF-8 as they are, a backslash as \\, every other byte as \xNN,
 * so a key with escape sequences cannot drive the terminal. Pads with spaces
 * to `width` characters. */
static void text_print(const char *s, size_t n, int width) {
    const unsigned char *p = (const unsigned char *)s;
    int cols = 0;
    for (size_t i = 0; i < n;) {
        size_t u;
        if (p[i] == '\\') {
            fputs("\\\\", stdout);
            cols += 2, i++;
        } else if (p[i] >= 0x20 && p[i] < 0x7f) {
            putchar(p[i]);
            cols++, i++;
        } else if ((u = utf8_printable(p + i, n - i))) {
            fwrite(p + i, 1, u, stdout);
            cols++, i += u;
        } else {
            printf("\\x%02x", p[i]);
            cols += 4, i++;
        }
    }
    for (; cols < width; cols++) putchar(' ');
}

/* Prints a string quoted with C-style escapes, cut to `max` bytes (0 = all). */
static void str_print(hone_str s, uint64_t max) {
    uint64_t n = max && s.len > max ? max : s.len;
    putchar('"');
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c == '\t') printf("\\t");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else if (c < 0x80) putchar(c);
        else {
            size_t u = utf8_printable((const unsigned char *)s.ptr + i, n - i);
            if (!u) {
                printf("\\x%02x", c);
                continue;
            }
            fwrite(s.ptr + i, 1, u, stdout);
            i += u - 1;
        }
    }
    putchar('"');
    if (n < s.len) printf("... (%llu bytes)", (unsigned long long)s.len);
}

/* Cut point <= max that does not split a UTF-8 sequence. */
static uint64_t utf8_cut(hone_str s, uint64_t max) {
    if (s.len <= max) return s.len;
    uint64_t n = max;
    while (n > 0 && ((unsigned char)s.ptr[n] & 0xC0) == 0x80) n--;
    return n;
}

static json_t *gguf_kv_json(const hone_gguf *g, int64_t i, int all) {
    json_t *o = json_object();
    hone_str k = hone_gguf_kv_key(g, i);
    int t = hone_gguf_kv_type(g, i);
    json_object_set_new(o, "key", json_stringn_nocheck(k.ptr, k.len));
    json_object_set_new(o, "type", json_string(hone_gguf_vtype_name(t)));
    if (t == HONE_GGUF_STRING) {
        hone_str s = hone_gguf_kv_str(g, i);
        uint64_t n = all ? s.len : utf8_cut(s, ABBREV_STR);
        json_object_set_new(o, "value", json_stringn_nocheck(s.ptr, n));
        if (n < s.len) json_object_set_new(o, "truncated", json_integer((json_int_t)s.len));
    } else if (t == HONE_GGUF_ARRAY) {
        int et = hone_gguf_arr_type(g, i);
        uint64_t n = hone_gguf_arr_n(g, i), shown = all || n <= ABBREV_ARR ? n : ABBREV_ARR;
        json_object_set_new(o, "elem_type", json_string(hone_gguf_vtype_name(et)));
        json_object_set_new(o, "n", json_integer((json_int_t)n));
        json_t *a = json_array();
        const uint8_t *raw = hone_gguf_arr_data(g, i);
        uint32_t es = vsize(et);
        for (uint64_t j = 0; j < shown; j++) {
            if (et == HONE_GGUF_STRING) {
                hone_str s = hone_gguf_arr_str(g, i, j);
                json_array_append_new(a, json_stringn_nocheck(s.ptr, all ? s.len : utf8_cut(s, ABBREV_STR)));
            } else {
                json_array_append_new(a, num_json(raw + j * es, et));
            }
        }
        json_object_set_new(o, "value", a);
        if (shown < n) json_object_set_new(o, "truncated", json_integer((json_int_t)n));
    } else {
        json_object_set_new(o, "value", num_json(hone_gguf_arr_data(g, i), t));
    }
    return o;
}

static void gguf_kv_print(const hone_gguf *g, int64_t i, int all) {
    hone_str k = hone_gguf_kv_key(g, i);
    int t = hone_gguf_kv_type(g, i);
    printf("  ");
    text_print(k.ptr, k.len, 0);
    printf(": ");
    if (t == HONE_GGUF_STRING) {
        printf("STRING = ");
        str_print(hone_gguf_kv_str(g, i), all ? 0 : ABBREV_STR);
    } else if (t == HONE_GGUF_ARRAY) {
        int et = hone_gguf_arr_type(g, i);
        uint64_t n = hone_gguf_arr_n(g, i), shown = all || n <= ABBREV_ARR ? n : ABBREV_ARR;
        printf("ARRAY[%s] of %llu = [", hone_gguf_vtype_name(et), (unsigned long long)n);
        const uint8_t *raw = hone_gguf_arr_data(g, i);
        for (uint64_t j = 0; j < shown; j++) {
            if (j) printf(", ");
            if (et == HONE_GGUF_STRING) str_print(hone_gguf_arr_str(g, i, j), all ? 0 : 40);
            else num_print(raw + j * vsize(et), et);
        }
        printf("%s]", shown < n ? ", ..." : "");
    } else {
        printf("%s = ", hone_gguf_vtype_name(t));
        num_print(hone_gguf_arr_data(g, i), t);
    }
    printf("\n");
}

/* ---- GGUF ----------------------------------------------------------------------------- */

static int inspect_gguf(const char *path, const char *display, json_t *extra, const opts *o) {
    hone_err err = {0};
    hone_gguf *g;
    if (hone_gguf_open(&g, path, &err)) return cli_fail_err(&err);
    hone_model_desc d;
    hone_err derr = {0};
    int have_desc = hone_model_desc_from_gguf(&d, g, &derr) == HONE_OK;
    type_mix mix = {0};
    for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++)
        mix_add(&mix, hone_dtype_name(hone_gguf_tensor_type(g, t)), hone_gguf_tensor_nbytes(g, t));
    hone_str tok_model = {0}, tok_pre = {0}, tmpl = {0};
    int has_tok = hone_gguf_get_str(g, "tokenizer.ggml.model", &tok_model) == HONE_OK;
    int has_pre = hone_gguf_get_str(g, "tokenizer.ggml.pre", &tok_pre) == HONE_OK;
    int has_tmpl = hone_gguf_get_str(g, "tokenizer.chat_template", &tmpl) == HONE_OK;
    int64_t tk = hone_gguf_find_key(g, "tokenizer.ggml.tokens");
    uint64_t n_tokens = tk >= 0 ? hone_gguf_arr_n(g, tk) : 0;

    if (o->json) {
        json_t *root = json_object();
        json_object_set_new(root, "path", json_string(display));
        json_object_set_new(root, "format", json_string("gguf"));
        json_object_set_new(root, "gguf", json_pack("{s:i,s:I,s:I,s:I}", "version", (int)hone_gguf_version(g),
                                                    "alignment", (json_int_t)hone_gguf_alignment(g),
                                                    "data_offset", (json_int_t)hone_gguf_data_offset(g),
                                                    "file_size", (json_int_t)hone_gguf_file_size(g)));
        if (extra) json_object_set(root, "ollama", extra);
        if (have_desc) json_object_set_new(root, "model", desc_json(&d));
        else json_object_set_new(root, "model_error", json_string(derr.msg));
        json_t *tok = json_object();
        json_object_set_new(tok, "model", has_tok ? json_stringn(tok_model.ptr, tok_model.len) : json_null());
        json_object_set_new(tok, "pre", has_pre ? json_stringn(tok_pre.ptr, tok_pre.len) : json_null());
        json_object_set_new(tok, "n_tokens", json_integer((json_int_t)n_tokens));
        json_object_set_new(tok, "chat_template", json_boolean(has_tmpl));
        json_object_set_new(root, "tokenizer", tok);
        json_object_set_new(root, "tensor_types", mix_json(&mix));
        json_object_set_new(root, "n_tensors", json_integer(hone_gguf_n_tensors(g)));
        json_t *md = json_array();
        for (int64_t i = 0; i < hone_gguf_n_kv(g); i++) json_array_append_new(md, gguf_kv_json(g, i, o->all));
        json_object_set_new(root, "metadata", md);
        if (o->tensors) {
            json_t *ts = json_array();
            for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++) {
                hone_str n = hone_gguf_tensor_name(g, t);
                uint64_t ne[4];
                hone_gguf_tensor_shape(g, t, ne);
                json_t *sh = json_array();
                for (uint32_t k = 0; k < hone_gguf_tensor_ndim(g, t); k++)
                    json_array_append_new(sh, json_integer((json_int_t)ne[k]));
                json_t *e = json_object();
                json_object_set_new(e, "name", json_stringn_nocheck(n.ptr, n.len));
                json_object_set_new(e, "type", json_string(hone_dtype_name(hone_gguf_tensor_type(g, t))));
                json_object_set_new(e, "shape", sh);
                json_object_set_new(e, "offset", json_integer((json_int_t)hone_gguf_tensor_offset(g, t)));
                json_object_set_new(e, "nbytes", json_integer((json_int_t)hone_gguf_tensor_nbytes(g, t)));
                json_array_append_new(ts, e);
            }
            json_object_set_new(root, "tensors", ts);
        }
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(root);
    } else {
        printf("file:           %s (GGUF v%u, %llu bytes, data at %llu)\n", display, hone_gguf_version(g),
               (unsigned long long)hone_gguf_file_size(g), (unsigned long long)hone_gguf_data_offset(g));
        if (extra)
            printf("ollama:         manifest %s\n", json_string_value(json_object_get(extra, "manifest")));
        if (have_desc) desc_print(&d);
        else printf("model:          (no description: %s)\n", derr.msg);
        printf("vocab:          %llu tokens, tokenizer ", (unsigned long long)n_tokens);
        text_print(has_tok ? tok_model.ptr : "none", has_tok ? tok_model.len : 4, 0);
        if (has_pre) {
            printf(" (pre ");
            text_print(tok_pre.ptr, tok_pre.len, 0);
            printf(")");
        }
        printf("\n");
        printf("chat template:  %s\n", has_tmpl ? "yes" : "no");
        mix_print(&mix);
        printf("metadata:       %lld keys\n", (long long)hone_gguf_n_kv(g));
        for (int64_t i = 0; i < hone_gguf_n_kv(g); i++) gguf_kv_print(g, i, o->all);
        if (o->tensors) {
            printf("tensors:        %lld\n", (long long)hone_gguf_n_tensors(g));
            for (int64_t t = 0; t < hone_gguf_n_tensors(g); t++) {
                hone_str n = hone_gguf_tensor_name(g, t);
                uint64_t ne[4];
                hone_gguf_tensor_shape(g, t, ne);
                printf("  ");
                text_print(n.ptr, n.len, 40);
                printf(" %-6s [", hone_dtype_name(hone_gguf_tensor_type(g, t)));
                for (uint32_t k = 0; k < hone_gguf_tensor_ndim(g, t); k++)
                    printf("%s%llu", k ? ", " : "", (unsigned long long)ne[k]);
                printf("] offset %llu, %llu bytes\n", (unsigned long long)hone_gguf_tensor_offset(g, t),
                       (unsigned long long)hone_gguf_tensor_nbytes(g, t));
            }
        }
    }
    hone_gguf_close(g);
    return 0;
}

/* ---- HF folders and safetensors ---------------------------------------------------------- */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads a small JSON file in dir; NULL if absent or unreadable. */
static json_t *load_json(const char *dir, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!file_exists(p)) return NULL;
    return json_load_file(p, 0, NULL);
}

static int inspect_hf(const char *path, const opts *o) {
    char dir[4096];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
    } else {
        const char *sl = strrchr(path, '/');
        snprintf(dir, sizeof dir, "%.*s", sl ? (int)(sl - path) : 1, sl ? path : ".");
    }
    /* a config.json (not an index) stands for its folder */
    if (!strcmp(path, "config.json") || ends_with(path, "/config.json")) path = dir;
    hone_err err = {0};
    hone_st *st;
    if (hone_st_open(&st, path, &err)) return cli_fail_err(&err);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    hone_model_desc d;
    hone_err derr = {0};
    int have_cfg = file_exists(cfg), have_desc = 0;
    if (have_cfg) {
        have_desc = hone_model_desc_from_hf_config(&d, cfg, &derr) == HONE_OK;
        if (!have_desc && (derr.code == HONE_EFORMAT || derr.code == HONE_EIO)) {
            hone_st_close(st);
            return cli_fail_err(&derr);
        }
        if (have_desc) hone_model_desc_count_st(&d, st);
    }
    type_mix mix = {0};
    for (int64_t t = 0; t < hone_st_n_tensors(st); t++)
        mix_add(&mix, hone_st_dtype_str(hone_st_tensor_dtype(st, t)), hone_st_tensor_nbytes(st, t));
    /* tokenizer: tokenizer.json's model.type; chat template in tokenizer_config.json or its own file */
    json_t *tokj = load_json(dir, "tokenizer.json"), *tcj = load_json(dir, "tokenizer_config.json");
    const char *tok_kind = json_string_value(json_object_get(json_object_get(tokj, "model"), "type"));
    char p[4200];
    snprintf(p, sizeof p, "%s/chat_template.jinja", dir);
    int has_tmpl = json_is_string(json_object_get(tcj, "chat_template")) ||
                   json_is_array(json_object_get(tcj, "chat_template")) || file_exists(p);
    snprintf(p, sizeof p, "%s/chat_template.json", dir);
    has_tmpl |= file_exists(p);
    json_t *cfgj = have_cfg ? json_load_file(cfg, 0, NULL) : NULL;

    if (o->json) {
        json_t *root = json_object();
        json_object_set_new(root, "path", json_string(path));
        json_object_set_new(root, "format", json_string("safetensors"));
        json_t *sh = json_array();
        for (int s = 0; s < hone_st_n_shards(st); s++) json_array_append_new(sh, json_string(hone_st_shard_path(st, s)));
        json_object_set_new(root, "shards", sh);
        if (have_desc) json_object_set_new(root, "model", desc_json(&d));
        else json_object_set_new(root, "model_error", json_string(have_cfg ? derr.msg : "no config.json"));
        json_t *tok = json_object();
        json_object_set_new(tok, "model", tok_kind ? json_string(tok_kind) : json_null());
        json_object_set_new(tok, "chat_template", json_boolean(has_tmpl));
        json_object_set_new(root, "tokenizer", tok);
        json_object_set_new(root, "tensor_types", mix_json(&mix));
        json_object_set_new(root, "n_tensors", json_integer(hone_st_n_tensors(st)));
        json_t *md = json_object();
        for (int64_t i = 0; i < hone_st_n_meta(st); i++)
            json_object_set_new(md, hone_st_meta_key(st, i), json_string(hone_st_meta_value(st, i)));
        json_object_set_new(root, "metadata", md);
        if (cfgj) json_object_set(root, "config", cfgj);
        if (o->tensors) {
            json_t *ts = json_array();
            for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
                uint32_t nd = hone_st_tensor_ndim(st, t);
                const uint64_t *shape = hone_st_tensor_shape(st, t);
                json_t *ne = json_array(), *rm = json_array();
                for (uint32_t k = 0; k < nd; k++) {
                    json_array_append_new(ne, json_integer((json_int_t)shape[nd - 1 - k]));
                    json_array_append_new(rm, json_integer((json_int_t)shape[k]));
                }
                json_t *e = json_object();
                json_object_set_new(e, "name", json_string(hone_st_tensor_name(st, t)));
                json_object_set_new(e, "type", json_string(hone_st_dtype_str(hone_st_tensor_dtype(st, t))));
                json_object_set_new(e, "shape", ne);
                json_object_set_new(e, "st_shape", rm);
                json_object_set_new(e, "shard", json_integer(hone_st_tensor_shard(st, t)));
                json_object_set_new(e, "offset", json_integer((json_int_t)hone_st_tensor_offset(st, t)));
                json_object_set_new(e, "nbytes", json_integer((json_int_t)hone_st_tensor_nbytes(st, t)));
                json_array_append_new(ts, e);
            }
            json_object_set_new(root, "tensors", ts);
        }
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(root);
    } else {
        printf("path:           %s (safetensors, %d shard%s)\n", path, hone_st_n_shards(st),
               hone_st_n_shards(st) == 1 ? "" : "s");
        if (have_desc) desc_print(&d);
        else printf("model:          (no description: %s)\n", have_cfg ? derr.msg : "no config.json");
        if (have_desc) printf("vocab:          %u tokens, tokenizer %s\n", d.vocab, tok_kind ? tok_kind : "none");
        else printf("tokenizer:      %s\n", tok_kind ? tok_kind : "none");
        printf("chat template:  %s\n", has_tmpl ? "yes" : "no");
        mix_print(&mix);
        printf("metadata:       %lld keys\n", (long long)hone_st_n_meta(st));
        for (int64_t i = 0; i < hone_st_n_meta(st); i++) {
            printf("  ");
            text_print(hone_st_meta_key(st, i), strlen(hone_st_meta_key(st, i)), 0);
            printf(": ");
            const char *v = hone_st_meta_value(st, i);
            str_print((hone_str){v, strlen(v)}, o->all ? 0 : ABBREV_STR);
            printf("\n");
        }
        if (cfgj) {
            printf("config.json:\n");
            const char *k;
            json_t *v;
            json_object_foreach(cfgj, k, v) {
                char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                size_t n = s ? strlen(s) : 0;
                printf("  ");
                text_print(k, strlen(k), 0);
                printf(": %.*s%s\n", (int)(o->all || n <= ABBREV_STR ? n : ABBREV_STR), s ? s : "",
                       !o->all && n > ABBREV_STR ? "..." : "");
                free(s);
            }
        }
        if (o->tensors) {
            printf("tensors:        %lld (shape in ggml order)\n", (long long)hone_st_n_tensors(st));
            for (int64_t t = 0; t < hone_st_n_tensors(st); t++) {
                uint32_t nd = hone_st_tensor_ndim(st, t);
                const uint64_t *shape = hone_st_tensor_shape(st, t);
                printf("  ");
                text_print(hone_st_tensor_name(st, t), strlen(hone_st_tensor_name(st, t)), 50);
                printf(" %-5s [", hone_st_dtype_str(hone_st_tensor_dtype(st, t)));
                for (uint32_t k = 0; k < nd; k++) printf("%s%llu", k ? ", " : "", (unsigned long long)shape[nd - 1 - k]);
                printf("] shard %d offset %llu, %llu bytes\n", hone_st_tensor_shard(st, t),
                       (unsigned long long)hone_st_tensor_offset(st, t),
                       (unsigned long long)hone_st_tensor_nbytes(st, t));
            }
        }
    }
    json_decref(tokj);
    json_decref(tcj);
    json_decref(cfgj);
    hone_st_close(st);
    return 0;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int cmd_inspect(int argc, char **argv) {
    opts o = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) o.json = 1;
        else if (!strcmp(argv[i], "--tensors")) o.tensors = 1;
        else if (!strcmp(argv[i], "--all")) o.all = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("inspect", "unknown flag '%s'", argv[i]);
        else if (path) return cli_usage_error("inspect", "one PATH expected, got '%s' and '%s'", path, argv[i]);
        else path = argv[i];
    }
    if (!path) return cli_usage_error("inspect", "missing PATH");

    if (hone_ollama_is_ref(path)) {
        hone_ollama_model m;
        hone_err err = {0};
        if (hone_ollama_resolve(&m, path, &err)) return cli_fail_err(&err);
        json_t *x = json_object();
        json_object_set_new(x, "ref", json_string(path));
        json_object_set_new(x, "manifest", json_string(m.manifest));
        json_object_set_new(x, "model", json_string(m.model));
        json_object_set_new(x, "template", m.template_ ? json_string(m.template_) : json_null());
        json_object_set_new(x, "params", m.params ? json_string(m.params) : json_null());
        json_object_set_new(x, "system", m.system ? json_string(m.system) : json_null());
        int rc = inspect_gguf(m.model, path, x, &o);
        json_decref(x);
        hone_ollama_model_free(&m);
        return rc;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) return cli_fail("%s: no such file or folder", path);
    if (S_ISDIR(sb.st_mode) || ends_with(path, ".safetensors") || ends_with(path, ".json"))
        return inspect_hf(path, &o);
    return inspect_gguf(path, path, NULL, &o);
}
