/* gen_common.c: model + tokenizer + chat template opening, shared flags and prompt
 * encoding for `hone generate`, `chat`, `perplexity` and `bench` (gen_common.h). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/gen_common.h"

const char CLI_RUN_FLAGS_HELP[] =
    "  --adapter-path DIR  MLX or PEFT LoRA adapter folder, applied unmerged\n"
    "  --adapter-scale X   override the adapter's scale\n"
    "  -c, --ctx N         context size in tokens (default: min(trained context, 4096))\n"
    "  -b, --batch N       tokens per prompt evaluation call (default 512)\n"
    "  -t, --threads N     threads (default: all cores)\n"
    "  --reference         the plain f32 reference ops (slow; the exactness oracle)\n";

const char CLI_SAMPLING_FLAGS_HELP[] =
    "Sampling (llama.cpp's order: penalties, top-k, top-p, min-p, temperature, draw):\n"
    "  --temp X            temperature; 0 = greedy (default 0.8)\n"
    "  --top-k N           keep the N most likely tokens; 0 = off (default 40)\n"
    "  --top-p X           keep the smallest set with probability >= X; 1 = off (default 0.95)\n"
    "  --min-p X           keep tokens with p >= X * p(max); 0 = off (default 0.05)\n"
    "  --repeat-penalty X  divide positive / multiply negative logits of recent tokens (default 1 = off)\n"
    "  --repeat-last-n N   window of the penalties, prompt included (default 64)\n"
    "  --presence-penalty X   subtract X from the logit of each token in the window (default 0)\n"
    "  --frequency-penalty X  subtract X * its count in the window (default 0)\n"
    "  --seed N            PRNG seed (xoshiro256**); same seed, same tokens (default: random,\n"
    "                      shown by --json)\n"
    "  -n, --max-tokens N  tokens to generate at most (0 = until the context is full)\n"
    "  --stop TEXT         stop when the output contains TEXT (not printed); repeatable\n"
    "  --eot TOKEN         another end-of-turn token (its text, e.g. '<|im_end|>', or its id);\n"
    "                      repeatable. The model's EOS/EOT tokens always end the answer\n"
    "  --ignore-eos        do not stop at the model's end-of-generation tokens\n";

void cli_gen_flags_init(cli_gen_flags *f, uint32_t default_max_tokens) {
    memset(f, 0, sizeof *f);
    hone_sampler_params_default(&f->sp);
    f->max_tokens = default_max_tokens;
}

int cli_parse_u32(const char *cmd, const char *flag, const char *v, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x > UINT32_MAX || v[0] == '-')
        return cli_usage_error(cmd, "%s: expected a non-negative integer, got '%s'", flag, v ? v : "");
    *out = (uint32_t)x;
    return 0;
}

int cli_parse_f32(const char *cmd, const char *flag, const char *v, float *out) {
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || errno || !isfinite(x))
        return cli_usage_error(cmd, "%s: expected a number, got '%s'", flag, v ? v : "");
    *out = (float)x;
    return 0;
}

static int is(const char *a, const char *l, const char *s) {
    return !strcmp(a, l) || (s && !strcmp(a, s));
}

int cli_gen_flag(const char *cmd, int argc, char **argv, int *i, cli_gen_flags *f, int sampling) {
    const char *a = argv[*i];
    /* flags with a value */
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
#define NEED()                                                                         \
    do {                                                                               \
        if (!val) return cli_usage_error(cmd, "%s needs a value", a);                  \
        ++*i;                                                                          \
    } while (0)
    uint32_t u;
    float x;
    if (is(a, "--adapter-path", NULL)) {
        NEED();
        f->adapter = val;
        return 1;
    }
    if (is(a, "--adapter-scale", NULL)) {
        NEED();
        return cli_parse_f32(cmd, a, val, &f->adapter_scale) ? 2 : 1;
    }
    if (is(a, "--ctx", "-c") || is(a, "--ctx-size", NULL)) {
        NEED();
        return cli_parse_u32(cmd, a, val, &f->n_ctx) ? 2 : 1;
    }
    if (is(a, "--batch", "-b") || is(a, "--batch-size", NULL)) {
        NEED();
        if (cli_parse_u32(cmd, a, val, &f->n_batch)) return 2;
        if (f->n_batch == 0) return cli_usage_error(cmd, "%s: expected at least 1", a);
        return 1;
    }
    if (is(a, "--threads", "-t")) {
        NEED();
        if (cli_parse_u32(cmd, a, val, &u)) return 2;
        f->threads = (int)u;
        return 1;
    }
    if (is(a, "--reference", NULL)) {
        f->reference = 1;
        return 1;
    }
    if (!sampling) return 0;
    if (is(a, "--temp", NULL) || is(a, "--temperature", NULL)) {
        NEED();
        return cli_parse_f32(cmd, a, val, &f->sp.temperature) ? 2 : 1;
    }
    if (is(a, "--top-k", NULL)) {
        NEED();
        if (cli_parse_u32(cmd, a, val, &u)) return 2;
        if (u > INT32_MAX) return cli_usage_error(cmd, "%s: %u is too large", a, u);
        f->sp.top_k = (int32_t)u;
        return 1;
    }
    if (is(a, "--top-p", NULL)) {
        NEED();
        if (cli_parse_f32(cmd, a, val, &x)) return 2;
        if (!(x > 0 && x <= 1)) return cli_usage_error(cmd, "%s: expected a number in (0, 1], got '%s'", a, val);
        f->sp.top_p = x;
        return 1;
    }
    if (is(a, "--min-p", NULL)) {
        NEED();
        if (cli_parse_f32(cmd, a, val, &x)) return 2;
        if (!(x >= 0 && x <= 1)) return cli_usage_error(cmd, "%s: expected a number in [0, 1], got '%s'", a, val);
        f->sp.min_p = x;
        return 1;
    }
    if (is(a, "--repeat-penalty", NULL)) {
        NEED();
        if (cli_parse_f32(cmd, a, val, &x)) return 2;
        if (!(x > 0)) return cli_usage_error(cmd, "%s: expected a number > 0, got '%s'", a, val);
        f->sp.repeat_penalty = x;
        return 1;
    }
    if (is(a, "--repeat-last-n", NULL)) {
        NEED();
        if (cli_parse_u32(cmd, a, val, &u)) return 2;
        if (u > INT32_MAX) return cli_usage_error(cmd, "%s: %u is too large", a, u);
        f->sp.repeat_last_n = (int32_t)u;
        return 1;
    }
    if (is(a, "--presence-penalty", NULL)) {
        NEED();
        return cli_parse_f32(cmd, a, val, &f->sp.presence_penalty) ? 2 : 1;
    }
    if (is(a, "--frequency-penalty", NULL)) {
        NEED();
        return cli_parse_f32(cmd, a, val, &f->sp.frequency_penalty) ? 2 : 1;
    }
    if (is(a, "--seed", "-s")) {
        NEED();
        char *end;
        errno = 0;
        unsigned long long s = strtoull(val, &end, 0);
        if (!*val || *end || errno || val[0] == '-' || s > INT64_MAX)
            return cli_usage_error(cmd, "%s: expected an integer in [0, 2^63), got '%s'", a, val);
        f->sp.seed = s;
        f->seed_set = 1;
        return 1;
    }
    if (is(a, "--max-tokens", "-n") || is(a, "--n-predict", NULL)) {
        NEED();
        return cli_parse_u32(cmd, a, val, &f->max_tokens) ? 2 : 1;
    }
    if (is(a, "--stop", NULL)) {
        NEED();
        if (!*val) return cli_usage_error(cmd, "%s: empty stop string", a);
        if (f->n_stop == sizeof f->stops / sizeof *f->stops)
            return cli_usage_error(cmd, "%s: at most 32 stop strings", a);
        f->stops[f->n_stop++] = val;
        return 1;
    }
    if (is(a, "--eot", NULL)) {
        NEED();
        if (f->n_eot == sizeof f->eot_texts / sizeof *f->eot_texts)
            return cli_usage_error(cmd, "%s: at most 16 end-of-turn tokens", a);
        f->eot_texts[f->n_eot++] = val;
        return 1;
    }
    if (is(a, "--ignore-eos", NULL)) {
        f->ignore_eos = 1;
        return 1;
    }
#undef NEED
    return 0;
}

uint64_t cli_random_seed(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    uint64_t s = (uint64_t)t.tv_sec * 1000000007ull ^ (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 32);
    hone_rng r;
    hone_rng_seed(&r, s);
    return hone_rng_next(&r) >> 1; /* 63 bits: prints the same in any JSON reader */
}

char *cli_read_file(const char *path, size_t *len, hone_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", path, strerror(errno));
        err->code = HONE_EIO;
        return NULL;
    }
    size_t cap = 1 << 14, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) break;
        if (n + 1 >= cap) {
            char *p = realloc(b, cap *= 2);
            if (!p) {
                free(b);
                b = NULL;
                break;
            }
            b = p;
        }
        size_t k = fread(b + n, 1, cap - n - 1, f);
        if (k == 0) break;
        n += k;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        snprintf(err->msg, sizeof err->msg, "%s: %s", path, bad ? "read error" : "out of memory");
        err->code = bad ? HONE_EIO : HONE_ENOMEM;
        return NULL;
    }
    b[n] = 0;
    if (len) *len = n;
    return b;
}

/* ---- model ---------------------------------------------------------------------------- */

int cli_model_open(cli_model *cm, const char *path, int engine, const cli_gen_flags *f,
                   hone_err *err) {
    memset(cm, 0, sizeof *cm);
    int rc;
    if (hone_ollama_is_ref(path)) {
        hone_ollama_model om;
        if ((rc = hone_ollama_resolve(&om, path, err))) return rc;
        cm->gguf_path = strdup(om.model);
        hone_ollama_model_free(&om);
    } else {
        cm->gguf_path = strdup(path);
    }
    if (!cm->gguf_path) return HONE_ENOMEM;
    struct stat sb;
    if (stat(cm->gguf_path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        /* an HF folder: tokenizer.json (+ tokenizer_config.json), config.json */
        char cfg[4096];
        snprintf(cfg, sizeof cfg, "%s/config.json", cm->gguf_path);
        if ((rc = hone_tok_load_hf(&cm->tok, cm->gguf_path, err))) goto fail;
        cm->own_tok = 1;
        if ((rc = hone_model_desc_from_hf_config(&cm->desc_gguf, cfg, err))) goto fail;
    } else {
        if ((rc = hone_gguf_open(&cm->gguf, cm->gguf_path, err))) goto fail;
        if ((rc = hone_tok_load_gguf(&cm->tok, cm->gguf, err))) goto fail;
        cm->own_tok = 1;
        if ((rc = hone_model_desc_from_gguf(&cm->desc_gguf, cm->gguf, err))) goto fail;
    }
    cm->desc = &cm->desc_gguf;
    if (engine) {
        hone_load_opts lo = {.engine = f->reference ? HONE_ENGINE_REFERENCE : HONE_ENGINE_FAST,
                             .adapter_path = f->adapter, .adapter_scale = f->adapter_scale};
        if ((rc = hone_model_load(&cm->model, cm->gguf_path, &lo, err))) goto fail;
        cm->desc = hone_model_get_desc(cm->model);
        hone_tok *mt = hone_model_get_tokenizer(cm->model);
        if (mt) { /* one copy of the vocabulary: the engine's */
            hone_tok_free(cm->tok);
            cm->tok = mt;
            cm->own_tok = 0;
        }
    }
    return HONE_OK;
fail:
    cli_model_close(cm);
    return rc;
}

void cli_model_close(cli_model *cm) {
    if (cm->own_tok) hone_tok_free(cm->tok);
    if (cm->model) hone_model_free(cm->model);
    hone_gguf_close(cm->gguf);
    free(cm->gguf_path);
    memset(cm, 0, sizeof *cm);
}

int cli_session_open(hone_session **s, const cli_model *cm, const cli_gen_flags *f,
                     uint32_t *n_ctx, hone_err *err) {
    uint32_t ctx = f->n_ctx;
    if (!ctx) ctx = cm->desc->context && cm->desc->context < 4096 ? cm->desc->context : 4096;
    hone_session_opts so = {.n_ctx = ctx, .n_batch = f->n_batch ? f->n_batch : 512,
                            .n_threads = f->threads};
    *n_ctx = ctx;
    return hone_session_init(s, cm->model, &so, err);
}

static int vocab_has(const hone_tok *t, const char *piece) {
    return hone_tok_find(t, piece, strlen(piece)) >= 0;
}

int cli_template_open(hone_chat_template **out, const cli_model *cm, const char *name,
                      hone_err *err) {
    if (name) return hone_chat_template_open(out, name, err);
    hone_str j = {0}, gname = {0};
    const char *hf_tmpl = hone_tok_chat_template(cm->tok);
    if (cm->gguf) hone_gguf_get_str(cm->gguf, "tokenizer.chat_template", &j);
    else if (hf_tmpl) j = (hone_str){hf_tmpl, strlen(hf_tmpl)};
    if (j.len) {
        const char *det = hone_chat_template_detect(j.ptr, (size_t)j.len);
        if (det) return hone_chat_template_open(out, det, err);
    }
    const hone_tok *t = cm->tok;
    const char *pick = NULL;
    if (cm->gguf) hone_gguf_get_str(cm->gguf, "general.name", &gname);
    int smol = gname.len && memmem(gname.ptr, (size_t)gname.len, "SmolLM", 6);
    if (cm->desc->arch == HONE_ARCH_GEMMA3 || vocab_has(t, "<start_of_turn>")) pick = "gemma";
    else if (vocab_has(t, "<|im_start|>"))
        pick = smol ? "smollm2" : cm->desc->arch == HONE_ARCH_QWEN2 ? "chatml" : "chatml-plain";
    else if (vocab_has(t, "<|start_header_id|>")) pick = "llama3";
    else if (vocab_has(t, "[INST]") || cm->desc->arch == HONE_ARCH_MISTRAL) pick = "mistral";
    if (!pick) {
        snprintf(err->msg, sizeof err->msg,
                 "%s: no chat template recognised (none embedded, none known for this "
                 "vocabulary): pass --chat-template NAME or --raw", cm->gguf_path);
        return err->code = HONE_EUNSUPPORTED;
    }
    return hone_chat_template_open(out, pick, err);
}

int cli_encode_messages(const cli_model *cm, const hone_chat_template *t, const hone_chat_msg *msgs,
                        size_t n, int32_t **ids, size_t *n_ids, hone_err *err) {
    char *text = NULL;
    size_t len = 0;
    unsigned flags = 0;
    int rc;
    if (t) {
        if ((rc = hone_chat_render(t, msgs, n, 1, &text, &len, NULL, err))) return rc;
        flags = HONE_TOK_SPECIAL;
    } else {
        size_t tot = 0;
        for (size_t i = 0; i < n; i++) tot += strlen(msgs[i].content);
        if (!(text = malloc(tot + 1))) return HONE_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(msgs[i].content);
            memcpy(text + len, msgs[i].content, l);
            len += l;
        }
        text[len] = 0;
    }
    int32_t bos = hone_tok_bos(cm->tok);
    if (hone_tok_add_bos(cm->tok) && bos >= 0) {
        hone_str b = hone_tok_id_bytes(cm->tok, bos);
        int has = t && b.len && len >= b.len && !memcmp(text, b.ptr, (size_t)b.len);
        if (!has) flags |= HONE_TOK_BOS;
    }
    rc = hone_tok_encode(cm->tok, text, len, flags, ids, n_ids, err);
    free(text);
    return rc;
}

int cli_eot_ids(const cli_model *cm, const hone_chat_template *t, const cli_gen_flags *f,
                int32_t *ids, size_t cap, size_t *n, hone_err *err) {
    *n = 0;
    const char *eot = t ? hone_chat_template_eot(t) : NULL;
    if (eot && *eot && *n < cap) {
        int32_t id = hone_tok_find(cm->tok, eot, strlen(eot));
        if (id >= 0) ids[(*n)++] = id;
    }
    for (size_t i = 0; i < f->n_eot && *n < cap; i++) {
        const char *s = f->eot_texts[i];
        int32_t id = hone_tok_find(cm->tok, s, strlen(s));
        if (id < 0) {
            char *end;
            long v = strtol(s, &end, 10);
            if (*s && !*end && v >= 0 && v < hone_tok_n_vocab(cm->tok)) id = (int32_t)v;
        }
        if (id < 0) {
            snprintf(err->msg, sizeof err->msg, "--eot '%s': no such token in %s's vocabulary", s,
                     cm->gguf_path);
            err->code = HONE_ENOTFOUND;
            return HONE_ENOTFOUND;
        }
        ids[(*n)++] = id;
    }
    return HONE_OK;
}
