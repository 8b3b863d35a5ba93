/* cmd_generate.c: `hone generate`: one answer to one prompt, streamed to stdout or
 * returned as one JSON object. The prompt is signed with a kernel (hone/sign.h),
 * rendered with the model's chat template (or raw), encoded, and run through the
 * generation loop (hone/generate.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone generate --model M [--adapter-path D] (--prompt TEXT | --prompt-file F)\n"
            "                     [--system TEXT] [--kernel FILE --sign MODE [--kernel-b FILE]\n"
            "                     [--reminder TEXT]] [--chat-template NAME | --raw]\n"
            "                     [sampling flags] [--json] [--show-prompt] [--verbose]\n"
            "\n"
            "Generates one answer. The prompt becomes the user message (with --system, a system\n"
            "message before it), rendered with the model's chat template (the one embedded in the\n"
            "GGUF when hone recognises it, else chosen by architecture and vocabulary), and the\n"
            "answer streams to stdout until an end-of-turn token, a stop string or the token limit.\n"
            "\n"
            "  -m, --model M       GGUF file, HF folder or ollama:NAME[:TAG]\n"
            "  -p, --prompt TEXT   the prompt\n"
            "  -f, --prompt-file F the prompt, from a file ('-' = standard input)\n"
            "  --system TEXT       a system message\n"
            "  --kernel FILE       a kernel (a text file of instructions), placed by --sign\n"
            "  --sign MODE         none | system (the kernel is the system message, before any\n"
            "                      --system text) | prefix (kernel, a line ---, the prompt, in the\n"
            "                      user turn) | postfix (prompt, ---, kernel) | sandwich (kernel A,\n"
            "                      ---, prompt, ---, kernel B, then the --reminder line if given)\n"
            "  --kernel-b FILE     sandwich: the closing kernel (default: the same kernel)\n"
            "  --reminder TEXT     sandwich: a last line after kernel B\n"
            "  --chat-template NAME  gemma, llama3, llama3.1, llama3.2, mistral, chatml, smollm2,\n"
            "                      chatml-plain, deepseek, seed, raw, or file:PATH\n"
            "  --raw               no template: the system text and prompt as they are (BOS added\n"
            "                      when the model asks for it); special-token text is parsed\n"
            "  --json              print one JSON object: text, finish_reason (stop | length | eot),\n"
            "                      prompt_tokens, completion_tokens, prompt_ids, completion_ids\n"
            "                      (the end token included), timings, seed, template, sampling\n"
            "  --show-prompt       print the exact prompt text after the template and exit\n"
            "                      (the engine is not loaded)\n"
            "  --special           show control tokens in the output\n"
            "  -v, --verbose       template, token counts and speed on stderr\n"
            "%s\n%s",
            CLI_RUN_FLAGS_HELP, CLI_SAMPLING_FLAGS_HELP);
}

typedef struct outbuf {
    char *p;
    size_t n, cap;
    int stream;
} outbuf;

/* A float flag value as the decimal the user typed (0.8f -> 0.8, not 0.800000011920929). */
static double f2d(float x) {
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)x);
    return strtod(b, NULL);
}

static int on_text(void *u, const char *t, size_t n) {
    outbuf *o = u;
    if (o->stream) {
        fwrite(t, 1, n, stdout);
        fflush(stdout);
    }
    if (o->n + n + 1 > o->cap) {
        size_t cap = (o->n + n + 1) * 2;
        char *p = realloc(o->p, cap);
        if (!p) return 1;
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, t, n);
    o->n += n;
    o->p[o->n] = 0;
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *prompt_file = NULL, *system = NULL;
    const char *kernel_file = NULL, *kernel_b_file = NULL, *reminder = NULL, *sign = NULL;
    const char *tmpl_name = NULL;
    int raw = 0, json = 0, show_prompt = 0, verbose = 0, special = 0;
    cli_gen_flags gf;
    cli_gen_flags_init(&gf, 256);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int r = cli_gen_flag("generate", argc, argv, &i, &gf, 1);
        if (r == 2) return 2;
        if (r == 1) continue;
#define VAL(dst)                                                                    \
    do {                                                                            \
        if (!val) return cli_usage_error("generate", "%s needs a value", a);        \
        dst = val;                                                                  \
        i++;                                                                        \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-m")) VAL(model);
        else if (!strcmp(a, "--prompt") || !strcmp(a, "-p")) VAL(prompt);
        else if (!strcmp(a, "--prompt-file") || !strcmp(a, "-f")) VAL(prompt_file);
        else if (!strcmp(a, "--system")) VAL(system);
        else if (!strcmp(a, "--kernel")) VAL(kernel_file);
        else if (!strcmp(a, "--kernel-b")) VAL(kernel_b_file);
        else if (!strcmp(a, "--reminder")) VAL(reminder);
        else if (!strcmp(a, "--sign")) VAL(sign);
        else if (!strcmp(a, "--chat-template")) VAL(tmpl_name);
        else if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--show-prompt")) show_prompt = 1;
        else if (!strcmp(a, "--special")) special = 1;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) verbose = 1;
        else if (a[0] == '-') return cli_usage_error("generate", "unknown flag '%s'", a);
        else return cli_usage_error("generate", "unexpected argument '%s'", a);
#undef VAL
    }
    if (!model) return cli_usage_error("generate", "--model is required");
    if (!!prompt + !!prompt_file != 1)
        return cli_usage_error("generate", "give exactly one of --prompt and --prompt-file");
    if (raw && tmpl_name) return cli_usage_error("generate", "--raw and --chat-template exclude each other");
    hone_err err = {0};
    hone_sign sg = {HONE_SIGN_NONE, NULL, NULL, NULL};
    if (sign && hone_sign_mode_parse(sign, &sg.mode, &err))
        return cli_usage_error("generate", "--sign: %s", err.msg);
    if (kernel_file && !sign) return cli_usage_error("generate", "--kernel needs --sign MODE");
    if (sg.mode != HONE_SIGN_NONE && !kernel_file)
        return cli_usage_error("generate", "--sign %s needs --kernel FILE", sign);
    if ((kernel_b_file || reminder) && sg.mode != HONE_SIGN_SANDWICH)
        return cli_usage_error("generate", "--kernel-b and --reminder need --sign sandwich");

    int rc = 1;
    char *prompt_buf = NULL, *kernel = NULL, *kernel_b = NULL, *sys_msg = NULL, *user_msg = NULL;
    int32_t *ids = NULL, *out_ids = NULL;
    size_t n_ids = 0;
    cli_model cm = {0};
    hone_chat_template *tmpl = NULL;
    hone_session *sess = NULL;
    hone_sampler *smp = NULL;
    outbuf ob = {0};

    if (prompt_file) {
        if (!strcmp(prompt_file, "-")) prompt_file = "/dev/stdin";
        if (!(prompt_buf = cli_read_file(prompt_file, NULL, &err))) goto fail;
        prompt = prompt_buf;
    }
    if (kernel_file && !(kernel = cli_read_file(kernel_file, NULL, &err))) goto fail;
    if (kernel_b_file && !(kernel_b = cli_read_file(kernel_b_file, NULL, &err))) goto fail;
    sg.kernel = kernel;
    sg.kernel_b = kernel_b;
    sg.reminder = reminder;
    if (hone_sign_apply(&sg, system, prompt, &sys_msg, &user_msg, &err)) goto fail;

    if (cli_model_open(&cm, model, !show_prompt, &gf, &err)) goto fail;
    if (cli_template_open(&tmpl, &cm, raw ? "raw" : tmpl_name, &err)) goto fail;
    const char *warn = hone_chat_template_warning(tmpl);
    if (warn) fprintf(stderr, "hone: warning: %s\n", warn);
    hone_chat_msg msgs[2];
    size_t n_msgs = 0;
    if (sys_msg) msgs[n_msgs++] = (hone_chat_msg){"system", sys_msg};
    msgs[n_msgs++] = (hone_chat_msg){"user", user_msg};
    if (show_prompt) {
        char *text;
        size_t len;
        if (hone_chat_render(tmpl, msgs, n_msgs, 1, &text, &len, NULL, &err)) goto fail;
        fwrite(text, 1, len, stdout);
        free(text);
        rc = 0;
        goto done;
    }
    if (cli_encode_messages(&cm, tmpl, msgs, n_msgs, &ids, &n_ids, &err)) goto fail;

    uint32_t n_ctx;
    if (cli_session_open(&sess, &cm, &gf, &n_ctx, &err)) goto fail;
    if (!gf.seed_set) gf.sp.seed = cli_random_seed();
    if (hone_sampler_init(&smp, &gf.sp, cm.desc->vocab, &err)) goto fail;
    int32_t eot[32];
    size_t n_eot;
    if (cli_eot_ids(&cm, tmpl, &gf, eot, 32, &n_eot, &err)) goto fail;
    if (verbose)
        fprintf(stderr, "hone: template %s, %zu prompt tokens, context %u, seed %llu\n",
                hone_chat_template_name(tmpl), n_ids, n_ctx, (unsigned long long)gf.sp.seed);

    ob.stream = !json;
    hone_gen_opts go = {.n_ctx = n_ctx, .n_batch = gf.n_batch, .max_tokens = gf.max_tokens,
                        .stop = gf.stops, .n_stop = gf.n_stop, .eot = eot, .n_eot = n_eot,
                        .ignore_eog = gf.ignore_eos, .decode_flags = special ? HONE_TOK_SPECIAL : 0,
                        .on_text = on_text, .user = &ob};
    size_t out_cap = gf.max_tokens ? gf.max_tokens : n_ctx;
    if (!(out_ids = malloc(out_cap * sizeof *out_ids))) {
        err.code = HONE_ENOMEM;
        snprintf(err.msg, sizeof err.msg, "generate: out of memory");
        goto fail;
    }
    go.out_ids = out_ids;
    go.out_cap = out_cap;
    hone_gen_stats st;
    if (hone_generate(sess, cm.tok, smp, ids, n_ids, 0, &go, &st, &err)) goto fail;
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "text", json_stringn(ob.p ? ob.p : "", ob.n));
        json_object_set_new(j, "finish_reason", json_string(hone_finish_name(st.finish)));
        json_object_set_new(j, "prompt_tokens", json_integer(st.n_prompt));
        json_object_set_new(j, "completion_tokens", json_integer(st.n_gen));
        json_t *ci = json_array(), *pi = json_array();
        for (uint32_t k = 0; k < st.n_gen && k < out_cap; k++)
            json_array_append_new(ci, json_integer(out_ids[k]));
        for (size_t k = 0; k < n_ids; k++) json_array_append_new(pi, json_integer(ids[k]));
        json_object_set_new(j, "prompt_ids", pi);
        json_object_set_new(j, "completion_ids", ci);
        json_object_set_new(j, "prompt_ms", json_real(st.t_prompt_s * 1e3));
        json_object_set_new(j, "gen_ms", json_real(st.t_gen_s * 1e3));
        json_object_set_new(j, "prompt_tps", json_real(st.prompt_tps));
        json_object_set_new(j, "gen_tps", json_real(st.gen_tps));
        json_object_set_new(j, "seed", json_integer((json_int_t)gf.sp.seed));
        json_object_set_new(j, "template", json_string(hone_chat_template_name(tmpl)));
        json_object_set_new(j, "model", json_string(model));
        json_object_set_new(j, "sign", json_string(hone_sign_mode_name(sg.mode)));
        json_t *s = json_object();
        json_object_set_new(s, "temperature", json_real(f2d(gf.sp.temperature)));
        json_object_set_new(s, "top_k", json_integer(gf.sp.top_k));
        json_object_set_new(s, "top_p", json_real(f2d(gf.sp.top_p)));
        json_object_set_new(s, "min_p", json_real(f2d(gf.sp.min_p)));
        json_object_set_new(s, "repeat_penalty", json_real(f2d(gf.sp.repeat_penalty)));
        json_object_set_new(s, "repeat_last_n", json_integer(gf.sp.repeat_last_n));
        json_object_set_new(s, "presence_penalty", json_real(f2d(gf.sp.presence_penalty)));
        json_object_set_new(s, "frequency_penalty", json_real(f2d(gf.sp.frequency_penalty)));
        json_object_set_new(s, "max_tokens", json_integer(gf.max_tokens));
        json_object_set_new(j, "sampling", s);
        char *out = json_dumps(j, JSON_INDENT(2));
        if (out) puts(out);
        free(out);
        json_decref(j);
    } else {
        if (ob.n && ob.p[ob.n - 1] != '\n') putchar('\n');
    }
    fflush(stdout); /* the answer before the stats line when both go to one pipe */
    if (verbose)
        fprintf(stderr, "hone: %s; prompt %u tokens in %.1f ms (%.1f t/s), generated %u tokens in "
                        "%.1f ms (%.1f t/s)\n",
                hone_finish_name(st.finish), st.n_prompt, st.t_prompt_s * 1e3, st.prompt_tps,
                st.n_gen, st.t_gen_s * 1e3, st.gen_tps);
    rc = 0;
    goto done;
fail:
    rc = cli_fail_err(&err);
done:
    hone_sampler_free(smp);
    if (sess) hone_session_free(sess);
    if (tmpl) hone_chat_template_close(tmpl);
    cli_model_close(&cm);
    free(ids);
    free(out_ids);
    free(prompt_buf);
    free(kernel);
    free(kernel_b);
    free(sys_msg);
    free(user_msg);
    free(ob.p);
    return rc;
}
