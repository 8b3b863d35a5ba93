/* cmd_serve.c: `hone serve`: an OpenAI- and Ollama-compatible HTTP server
 * (hone/serve.h) over one model and its adapters. Opens the model, its
 * tokenizer and chat template as `hone generate` does (gen_common.c), starts
 * the server, prints where it listens, and runs until SIGINT or SIGTERM. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "cli/gen_common.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: hone serve --model M [--adapter NAME=DIR ...] [--host 127.0.0.1] [--port 8080]\n"
            "                  [--parallel N] [--api-key-env VAR] [--ctx N] [--name NAME]\n"
            "\n"
            "Serves M (GGUF file, HF folder or ollama:NAME[:TAG]) over HTTP with OpenAI's API\n"
            "(/v1/models, /v1/chat/completions, /v1/completions) and Ollama's (/api/tags, /api/show,\n"
            "/api/chat, /api/generate), and /health. Requests name the model NAME, or NAME+ADAPTER for\n"
            "an adapter applied unmerged over the one shared base. Concurrent requests decode together\n"
            "in one batch per token.\n"
            "\n"
            "  --model M            the model (required)\n"
            "  --name NAME          its name in requests (default: the file name without .gguf)\n"
            "  --adapter NAME=DIR   an MLX or PEFT adapter folder served as NAME+ADAPTER; repeatable\n"
            "  --host ADDR          IPv4 address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N             port (default 8080; 0 = any free port, printed)\n"
            "  --parallel N         sequences decoded together (default 4); more requests wait\n"
            "  --api-key-env VAR    require 'Authorization: Bearer KEY', KEY read from $VAR\n"
            "  -c, --ctx N          context per sequence (default: min(trained context, 4096))\n"
            "  --chat-template NAME chat template (default: the model's own, as hone generate)\n"
            "  --max-body BYTES     largest request body (default 1048576)\n"
            "  --max-conns N        concurrent connections (default 64)\n"
            "  -t, --threads N      threads (default: all cores)\n"
            "  --reference          the plain f32 reference ops (slow; the exactness oracle)\n");
}

static const char *base_name(const char *path, char *buf, size_t n) {
    if (!strncmp(path, "ollama:", 7)) path += 7;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    const char *s = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/') s = path + i + 1;
    size_t k = (size_t)(path + len - s);
    if (k > 5 && !strncmp(s + k - 5, ".gguf", 5)) k -= 5;
    if (k >= n) k = n - 1;
    memcpy(buf, s, k);
    buf[k] = 0;
    for (char *p = buf; *p; p++) /* '+' separates NAME and ADAPTER in requests */
        if (*p == '+' || *p == ' ') *p = '_';
    return buf;
}

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *name = NULL, *host = "127.0.0.1", *key_env = NULL, *tmpl_name = NULL;
    uint32_t port = 8080, parallel = 4, max_body = 0, max_conns = 0;
    hone_serve_adapter ads[32];
    char *ad_specs[32];
    size_t n_ads = 0;
    cli_gen_flags gf;
    cli_gen_flags_init(&gf, 0);
    int rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int g = cli_gen_flag("serve", argc, argv, &i, &gf, 0);
        if (g == 2) return 2;
        if (g == 1) {
            if (gf.adapter) return cli_usage_error("serve", "use --adapter NAME=DIR (served as MODEL+NAME)");
            continue;
        }
#define VAL()                                                                    \
    do {                                                                         \
        if (!v) return cli_usage_error("serve", "%s needs a value", a);          \
        i++;                                                                     \
    } while (0)
        if (!strcmp(a, "--model") || !strcmp(a, "-m")) {
            VAL();
            model = v;
        } else if (!strcmp(a, "--name")) {
            VAL();
            name = v;
        } else if (!strcmp(a, "--host")) {
            VAL();
            host = v;
        } else if (!strcmp(a, "--api-key-env")) {
            VAL();
            key_env = v;
        } else if (!strcmp(a, "--chat-template")) {
            VAL();
            tmpl_name = v;
        } else if (!strcmp(a, "--port")) {
            VAL();
            if (cli_parse_u32("serve", a, v, &port)) return 2;
            if (port > 65535) return cli_usage_error("serve", "--port: %u is not a port", port);
        } else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) {
            VAL();
            if (cli_parse_u32("serve", a, v, &parallel)) return 2;
            if (parallel < 1 || parallel > 256) return cli_usage_error("serve", "--parallel: expected 1 to 256");
        } else if (!strcmp(a, "--max-body")) {
            VAL();
            if (cli_parse_u32("serve", a, v, &max_body)) return 2;
        } else if (!strcmp(a, "--max-conns")) {
            VAL();
            if (cli_parse_u32("serve", a, v, &max_conns)) return 2;
        } else if (!strcmp(a, "--adapter")) {
            VAL();
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || !eq[1]) return cli_usage_error("serve", "--adapter: expected NAME=DIR, got '%s'", v);
            if (n_ads == 32) return cli_usage_error("serve", "--adapter: at most 32");
            ad_specs[n_ads] = strdup(v);
            if (!ad_specs[n_ads]) return cli_fail("out of memory");
            ad_specs[n_ads][eq - v] = 0;
            ads[n_ads] = (hone_serve_adapter){ad_specs[n_ads], ad_specs[n_ads] + (eq - v) + 1, 0};
            n_ads++;
        } else {
            return cli_usage_error("serve", "unknown argument '%s'", a);
        }
#undef VAL
    }
    if (!model) return cli_usage_error("serve", "--model is required");
    const char *api_key = NULL;
    if (key_env) {
        api_key = getenv(key_env);
        if (!api_key || !*api_key) return cli_usage_error("serve", "--api-key-env %s: the variable is unset or empty", key_env);
    }
    char nbuf[256];
    if (!name) name = base_name(model, nbuf, sizeof nbuf);

    hone_err err = {0};
    cli_model cm = {0};
    hone_chat_template *tmpl = NULL;
    hone_server *srv = NULL;
    if (cli_model_open(&cm, model, 1, &gf, &err)) goto fail;
    if (cli_template_open(&tmpl, &cm, tmpl_name, &err)) goto fail;
    const char *warn = hone_chat_template_warning(tmpl);
    if (warn) fprintf(stderr, "hone: warning: %s\n", warn);
    int32_t eot[32];
    size_t n_eot;
    if (cli_eot_ids(&cm, tmpl, &gf, eot, 32, &n_eot, &err)) goto fail;

    /* the server's threads inherit this mask; the main thread waits for the signal */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    hone_serve_opts so = {.model = cm.model, .tok = cm.tok, .tmpl = tmpl, .name = name, .eot = eot, .n_eot = n_eot,
                          .adapters = ads, .n_adapters = n_ads, .host = host, .port = (uint16_t)port,
                          .parallel = parallel, .n_ctx = gf.n_ctx, .n_threads = gf.threads, .api_key = api_key,
                          .max_body = max_body, .max_conns = max_conns};
    if (hone_server_start(&srv, &so, &err)) goto fail;
    fprintf(stderr, "hone serve: listening on http://%s:%u, model %s", host, (unsigned)hone_server_port(srv), name);
    for (size_t i = 0; i < n_ads; i++) fprintf(stderr, ", %s+%s", name, ads[i].name);
    fprintf(stderr, " (template %s, parallel %u%s)\n", hone_chat_template_name(tmpl), parallel,
            api_key ? ", API key required" : "");
    if (strncmp(host, "127.", 4) && strcmp(host, "localhost") && !api_key)
        fprintf(stderr, "hone serve: warning: listening beyond this machine (%s) without --api-key-env: anyone who "
                        "can reach the port can use the model\n", host);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "hone serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    hone_server_stop(srv);
    rc = 0;
    goto done;
fail:
    rc = cli_fail_err(&err);
done:
    hone_chat_template_close(tmpl);
    cli_model_close(&cm);
    for (size_t i = 0; i < n_ads; i++) free(ad_specs[i]);
    return rc;
}
