/* llm_local.c: the in-process chat backend (hone/llm.h, HONE_LLM_LOCAL). The model is
 * loaded once (weights mmapped, read-only, shared); each of the `concurrency` slots owns
 * one session (KV cache for num_ctx tokens) and one sampler, so up to that many requests
 * generate at once, each with cores / concurrency threads (a slot is taken under the
 * common in-flight semaphore).
 *
 * A request: the messages are rendered with the model's chat template (the embedded Jinja
 * template when hone recognises it, else by architecture and vocabulary: gemma3 -> gemma,
 * a ChatML vocabulary -> smollm2 for SmolLM, chatml for qwen2, chatml-plain otherwise,
 * <|start_header_id|> -> llama3, [INST] -> mistral; the same rule as `hone generate`),
 * with the generation prompt; res->prompt_text is that exact text. It is encoded with
 * special tokens parsed, BOS prepended when the model adds one and the text lacks it.
 * prompt_tokens = the encoded length. A prompt that does not leave one token of room
 * (prompt_tokens >= num_ctx) is an error with prompt_overflow = 1 (nothing is truncated
 * silently); otherwise prompt_overflow = 0.
 * Sampling: temperature and top_p as asked, top-k and min-p off, no penalties (so the
 * request means what it means for an OpenAI server); the sampler is re-seeded with the
 * request's seed, so a cell's answer is reproducible. max_tokens 0 = until the context
 * is full. Finish: an end-of-turn token -> "stop"; max_tokens or a full context ->
 * "length". answer_tokens counts the sampled tokens without the end-of-turn token.
 * Identity: "sha256:<hex>" of the model file (cached, see llm_sha256.c; the Ollama blob's own name for an
 * ollama: reference; an HF folder hashes its files), "+adapter:sha256:<hex>" with an
 * adapter folder. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/llm_internal.h"

typedef struct local_slot {
    hone_session *sess;
    hone_sampler *smp;
    int busy;
} local_slot;

typedef struct local_impl {
    char *path;           /* the resolved model path (GGUF file or HF folder) */
    hone_model *model;
    hone_tok *tok;        /* the model's */
    hone_chat_template *tmpl;
    uint32_t n_ctx;
    int32_t eot[2];
    size_t n_eot;
    local_slot *slots;
    int n_slots;
} local_impl;

static int vocab_has(const hone_tok *t, const char *piece) {
    return hone_tok_find(t, piece, strlen(piece)) >= 0;
}

/* The chat template: the same rule as the CLI's (see the top of the file). */
static int local_template(local_impl *li, hone_err *err) {
    hone_gguf *g = NULL;
    struct stat sb;
    int is_dir = stat(li->path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!is_dir) {
        int rc = hone_gguf_open(&g, li->path, err);
        if (rc) return rc;
    }
    hone_str j = {0}, gname = {0};
    const char *hf = hone_tok_chat_template(li->tok);
    if (g) hone_gguf_get_str(g, "tokenizer.chat_template", &j);
    else if (hf) j = (hone_str){hf, strlen(hf)};
    const char *pick = j.len ? hone_chat_template_detect(j.ptr, (size_t)j.len) : NULL;
    if (!pick) {
        const hone_model_desc *d = hone_model_get_desc(li->model);
        if (g) hone_gguf_get_str(g, "general.name", &gname);
        int smol = gname.len && memmem(gname.ptr, (size_t)gname.len, "SmolLM", 6);
        if (d->arch == HONE_ARCH_GEMMA3 || vocab_has(li->tok, "<start_of_turn>")) pick = "gemma";
        else if (vocab_has(li->tok, "<|im_start|>"))
            pick = smol ? "smollm2" : d->arch == HONE_ARCH_QWEN2 ? "chatml" : "chatml-plain";
        else if (vocab_has(li->tok, "<|start_header_id|>")) pick = "llama3";
        else if (vocab_has(li->tok, "[INST]") || d->arch == HONE_ARCH_MISTRAL) pick = "mistral";
    }
    hone_gguf_close(g);
    if (!pick)
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: no chat template recognised (none embedded, none known "
                            "for this vocabulary)", li->path);
    return hone_chat_template_open(&li->tmpl, pick, err);
}

static void local_close(hone_llm *l) {
    local_impl *li = l->impl;
    if (!li) return;
    for (int i = 0; i < li->n_slots; i++) {
        if (li->slots[i].sess) hone_session_free(li->slots[i].sess);
        hone_sampler_free(li->slots[i].smp);
    }
    free(li->slots);
    if (li->tmpl) hone_chat_template_close(li->tmpl);
    if (li->model) hone_model_free(li->model);
    free(li->path);
    free(li);
    l->impl = NULL;
}

typedef struct collect {
    llm_buf b;
    int oom;
} collect;

static int on_text(void *u, const char *t, size_t n) {
    collect *c = u;
    if (llm_buf_add(&c->b, t, n)) {
        c->oom = 1;
        return 1;
    }
    return 0;
}

static int local_chat(hone_llm *l, const hone_llm_request *req, hone_llm_result *res, hone_err *err) {
    local_impl *li = l->impl;
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    int rc = hone_chat_render(li->tmpl, req->msgs, req->n_msgs, 1, &text, &len, NULL, err);
    if (rc) return rc;
    unsigned flags = HONE_TOK_SPECIAL;
    int32_t bos = hone_tok_bos(li->tok);
    if (hone_tok_add_bos(li->tok) && bos >= 0) {
        hone_str b = hone_tok_id_bytes(li->tok, bos);
        if (!(b.len && len >= b.len && !memcmp(text, b.ptr, (size_t)b.len))) flags |= HONE_TOK_BOS;
    }
    if ((rc = hone_tok_encode(li->tok, text, len, flags, &ids, &n_ids, err))) {
        free(text);
        return rc;
    }
    res->prompt_text = text;
    res->prompt_tokens = (int64_t)n_ids;
    if (n_ids >= li->n_ctx) {
        res->prompt_overflow = 1;
        free(ids);
        return hone_err_set(err, HONE_EARG, "%s: the prompt (%zu tokens) does not fit the context of %u tokens",
                            li->path, n_ids, li->n_ctx);
    }
    res->prompt_overflow = 0;
    if (req->max_tokens < 0 || req->max_tokens > UINT32_MAX) {
        free(ids);
        return hone_err_set(err, HONE_EARG, "llm: max_tokens %lld out of range", (long long)req->max_tokens);
    }
    llm_slot_acquire(l);
    pthread_mutex_lock(&l->mu);
    local_slot *s = NULL;
    for (int i = 0; i < li->n_slots && !s; i++)
        if (!li->slots[i].busy) s = &li->slots[i];
    s->busy = 1; /* the semaphore guarantees a free slot */
    pthread_mutex_unlock(&l->mu);

    hone_sampler_params sp;
    hone_sampler_params_default(&sp);
    sp.temperature = (float)req->temperature;
    sp.top_p = req->top_p > 0 ? (float)req->top_p : 1.0f;
    sp.top_k = 0;
    sp.min_p = 0;
    sp.seed = req->seed;
    /* a fresh sampler per request: the parameters may differ between requests */
    hone_sampler_free(s->smp);
    s->smp = NULL;
    rc = hone_sampler_init(&s->smp, &sp, hone_model_get_desc(li->model)->vocab, err);
    collect c = {0};
    hone_gen_stats st = {0};
    if (!rc) {
        hone_sampler_reset(s->smp, req->seed);
        hone_gen_opts go = {.n_ctx = li->n_ctx, .max_tokens = (uint32_t)req->max_tokens, .eot = li->eot,
                            .n_eot = li->n_eot, .on_text = on_text, .user = &c};
        rc = hone_generate(s->sess, li->tok, s->smp, ids, n_ids, 0, &go, &st, err);
    }
    pthread_mutex_lock(&l->mu);
    s->busy = 0;
    pthread_mutex_unlock(&l->mu);
    llm_slot_release(l);
    free(ids);
    if (!rc && c.oom) rc = hone_err_set(err, HONE_ENOMEM, "llm: out of memory collecting the answer");
    if (rc) {
        llm_buf_free(&c.b);
        return rc;
    }
    if (!c.b.p && llm_buf_add(&c.b, "", 0)) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    res->text = c.b.p;
    res->answer_tokens = (int64_t)st.n_gen - (st.finish == HONE_FINISH_EOT ? 1 : 0);
    snprintf(res->finish_reason, sizeof res->finish_reason, "%s",
             st.finish == HONE_FINISH_LENGTH ? "length" : st.finish == HONE_FINISH_ABORT ? "error" : "stop");
    res->attempts = 1;
    return HONE_OK;
}

static const llm_ops LOCAL_OPS = {local_chat, local_close};

int llm_local_open(hone_llm *l, const hone_llm_opts *o, hone_err *err) {
    local_impl *li = calloc(1, sizeof *li);
    if (!li) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    l->impl = li;
    l->ops = &LOCAL_OPS;
    int rc;
    char hex[65], ahex[65];
    if (hone_ollama_is_ref(o->path)) {
        hone_ollama_model om;
        if ((rc = hone_ollama_resolve(&om, o->path, err))) return rc;
        li->path = strdup(om.model);
        hone_ollama_model_free(&om);
    } else {
        li->path = strdup(o->path);
    }
    if (!li->path) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    hone_load_opts lo = {.engine = HONE_ENGINE_FAST, .adapter_path = o->adapter};
    if ((rc = hone_model_load(&li->model, o->path, &lo, err))) return rc;
    if (!(li->tok = hone_model_get_tokenizer(li->model)))
        return hone_err_set(err, HONE_EUNSUPPORTED, "%s: the model has no tokenizer hone can use", li->path);
    if ((rc = local_template(li, err))) return rc;
    const char *eot = hone_chat_template_eot(li->tmpl);
    if (eot && *eot) {
        int32_t id = hone_tok_find(li->tok, eot, strlen(eot));
        if (id >= 0) li->eot[li->n_eot++] = id;
    }
    const hone_model_desc *d = hone_model_get_desc(li->model);
    if (o->num_ctx > 0) {
        if (o->num_ctx > UINT32_MAX) return hone_err_set(err, HONE_EARG, "llm: num_ctx %lld too large", (long long)o->num_ctx);
        li->n_ctx = (uint32_t)o->num_ctx;
    } else {
        li->n_ctx = d->context && d->context < 4096 ? d->context : 4096;
    }
    li->n_slots = l->concurrency;
    if (!(li->slots = calloc((size_t)li->n_slots, sizeof *li->slots)))
        return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = li->n_slots == 1 ? 0 : (int)(cores / li->n_slots > 0 ? cores / li->n_slots : 1);
    for (int i = 0; i < li->n_slots; i++) {
        hone_session_opts so = {.n_ctx = li->n_ctx, .n_batch = 512, .n_threads = threads};
        if ((rc = hone_session_init(&li->slots[i].sess, li->model, &so, err))) return rc;
    }
    /* identity: the file's sha256 (an Ollama blob is named by it already) */
    const char *base = strrchr(li->path, '/');
    base = base ? base + 1 : li->path;
    if (!strncmp(base, "sha256-", 7) && strlen(base) == 7 + 64) memcpy(hex, base + 7, 65);
    else if ((rc = llm_sha256_file_cached(li->path, hex, err))) return rc;
    size_t il = 200;
    if (!(l->identity = malloc(il))) return hone_err_set(err, HONE_ENOMEM, "llm: out of memory");
    if (o->adapter) {
        if ((rc = llm_sha256_file(o->adapter, ahex, err))) return rc;
        snprintf(l->identity, il, "sha256:%s+adapter:sha256:%s", hex, ahex);
    } else {
        snprintf(l->identity, il, "sha256:%s", hex);
    }
    return HONE_OK;
}
